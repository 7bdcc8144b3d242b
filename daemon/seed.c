/*
 * seed.c: see seed.h.
 *
 * The volume: ISO 9660 level 3 with Rock Ridge and Joliet (libisofs' "distribution"
 * profile, as `genisoimage -joliet -rock` writes), volume id "cidata". Plain ISO 9660 has
 * only upper-case d-characters, so its volume id becomes "CIDATA"; the Joliet one keeps
 * "cidata", and blkid (which cloud-init asks for LABEL=cidata or CIDATA) reports it. Files
 * are 0444 and every time stamp is the seed's making: nothing of the daemon's host leaks.
 */
#include "seed.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* the writer's struct burn_source as libisofs declares it, without libburn */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>

#include "util.h"
#include "vmd-proto.h"

/* The starts cloud-init (22.4, Debian 12) knows a user-data part by (its INCLUSION_TYPES_MAP),
 * longest first where one is the start of another. */
static const struct {
	const char *start, *kind;
} KINDS[] = {
	{"#cloud-config-archive", "cloud-config-archive"},
	{"#cloud-config-jsonp", "cloud-config-jsonp"},
	{"#cloud-config", "cloud-config"},
	{"#cloud-boothook", "cloud-boothook"},
	{"#include-once", "include-once"},
	{"#include", "include"},
	{"#part-handler", "part-handler"},
	{"#upstart-job", "upstart-job"},
	{"## template: jinja", "jinja"},
	{"#!", "script"},
};

static bool starts(const char *data, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(data, prefix, n) == 0;
}

/* cloud-init takes the whole of user-data as a MIME message when "mime-version:" is in its
 * first 4096 bytes (any case). */
static bool mime(const char *data, size_t len)
{
	static const char key[] = "mime-version:";
	size_t n = len < 4096 ? len : 4096, k = sizeof key - 1;
	for (size_t i = 0; i + k <= n; i++)
		if (strncasecmp(data + i, key, k) == 0)
			return true;
	return false;
}

/* The start of the first line of data (len bytes), for a message: at most 32 characters
 * ("..." when cut), anything unprintable as '?'. */
static void shown(const char *data, size_t len, char out[40])
{
	size_t n = 0;
	while (n < len && data[n] != '\n' && data[n] != '\r')
		n++;
	snprintf(out, 40, "%.*s%s", (int)(n < 32 ? n : 32), data, n > 32 ? "..." : "");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

const char *seed_user_data_kind(const char *data, size_t len, struct err *err)
{
	if (len == 0)
		return "empty";
	if (len >= 2 && (unsigned char)data[0] == 0x1f && (unsigned char)data[1] == 0x8b)
		return "gzip"; /* cloud-init inflates it, then looks again */
	if (mime(data, len))
		return "mime";
	for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++) {
		if (!starts(data, len, KINDS[i].start))
			continue;
		size_t n = strlen(KINDS[i].start);
		/* "#cloud-configx" is none of them: the start is a whole word */
		if (strcmp(KINDS[i].kind, "script") == 0 || strcmp(KINDS[i].kind, "jinja") == 0 ||
		    len == n || data[n] == '\n' || data[n] == '\r' || data[n] == ' ' ||
		    data[n] == '\t')
			return KINDS[i].kind;
	}
	char first[40];
	shown(data, len, first);
	err_set(err, VMD_ERR_INVALID_PARAMS,
		"user-data starts with '%s': cloud-init would ignore it (it takes '#cloud-config' "
		"YAML, a script starting '#!', '#include', '#cloud-boothook', a MIME multi-part "
		"message or gzip)", first);
	return NULL;
}

int seed_check_ssh_key(const char *key, struct err *err)
{
	static const char *const types[] = {"ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-sha2-"};
	size_t n = strlen(key);
	bool typed = false;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		typed |= strncmp(key, types[i], strlen(types[i])) == 0;
	const char *sp = strchr(key, ' ');
	for (size_t i = 0; typed && i < n; i++)
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
			typed = false; /* one line, as authorized_keys has it */
	if (!typed || !sp || sp[1] == '\0' || sp[1] == ' ' || n > 16384) {
		char first[40];
		shown(key, n, first);
		err_set(err, VMD_ERR_INVALID_PARAMS, "'%s' is not an OpenSSH public key (one line: "
			"TYPE BASE64 [COMMENT], as in a .pub file)", first);
		return -1;
	}
	return 0;
}

/* Appends s to out at *len as a YAML double-quoted scalar ('"' and '\\' escaped: a key that
 * passed seed_check_ssh_key needs no other escape); out has room for 2 * strlen(s) + 3. */
static void yaml_quoted(char *out, size_t *len, const char *s)
{
	out[(*len)++] = '"';
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			out[(*len)++] = '\\';
		out[(*len)++] = *s;
	}
	out[(*len)++] = '"';
	out[*len] = '\0';
}

char *seed_meta_data(const char *instance_id, const char *hostname, char *const *keys,
		     size_t n_keys)
{
	/* instance-id and hostname are vmd's UUIDs and guest names: nothing YAML would take for
	 * syntax; the keys are quoted */
	char *head = xasprintf("instance-id: %s\nlocal-hostname: %s\n%s", instance_id, hostname,
			       n_keys ? "public-keys:\n" : "");
	size_t len = strlen(head), cap = len + 1;
	for (size_t i = 0; i < n_keys; i++)
		cap += 2 * strlen(keys[i]) + 8; /* "  - " '"' ... '"' '\n' */
	char *m = xrealloc(head, cap);
	for (size_t i = 0; i < n_keys; i++) {
		memcpy(m + len, "  - ", 4);
		len += 4;
		yaml_quoted(m, &len, keys[i]);
		m[len++] = '\n';
		m[len] = '\0';
	}
	return m;
}

static pthread_once_t iso_once = PTHREAD_ONCE_INIT;
static int iso_ready;

static void iso_start(void)
{
	/* bit0: no locale from LC_*: names are ASCII, and the daemon's locale is not ours */
	iso_ready = iso_init_with_flag(1);
	if (iso_ready >= 0)
		iso_set_msgs_severities("NEVER", "NEVER", "vmd");
}

static int iso_fail(struct err *err, int rc, const char *what)
{
	err_set(err, VMD_ERR_INTERNAL, "cannot build the cloud-init seed: %s: %s", what,
		iso_error_to_msg(rc));
	return -1;
}

/* Adds a copy of len bytes of data as /name. */
static int add_file(IsoImage *image, const char *name, const char *data, size_t len,
		    struct err *err)
{
	unsigned char *buf = xmalloc(len ? len : 1);
	memcpy(buf, data, len);
	IsoStream *stream = NULL;
	int rc = iso_memory_stream_new(buf, len, &stream); /* owns buf from here */
	if (rc < 0) {
		free(buf);
		return iso_fail(err, rc, name);
	}
	IsoFile *file = NULL;
	rc = iso_tree_add_new_file(iso_image_get_root(image), name, stream, &file);
	if (rc < 0) {
		iso_stream_unref(stream);
		return iso_fail(err, rc, name);
	}
	/* the file took our reference to the stream */
	iso_node_set_permissions((IsoNode *)file, 0444);
	return 0;
}

/* The image's bytes, through libisofs' writer, into *out (malloc'ed) and *len. */
static int build_image(IsoImage *image, unsigned char **out, size_t *len, struct err *err)
{
	IsoWriteOpts *opts = NULL;
	int rc = iso_write_opts_new(&opts, 2); /* distribution: RR + Joliet, sane modes */
	if (rc < 0)
		return iso_fail(err, rc, "options");
	iso_write_opts_set_rockridge(opts, 1);
	iso_write_opts_set_joliet(opts, 1);
	iso_write_opts_set_iso_level(opts, 3);
	struct burn_source *src = NULL;
	rc = iso_image_create_burn_source(image, opts, &src);
	iso_write_opts_free(opts);
	if (rc < 0)
		return iso_fail(err, rc, "writer");
	off_t size = src->get_size(src);
	size_t cap = size > 0 ? (size_t)size : 2048 * 64, n = 0;
	unsigned char *buf = xmalloc(cap);
	int got;
	for (;;) {
		if (n + 2048 > cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		got = src->read_xt(src, buf + n, 2048);
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	/* a writer stopped early is cancelled by free_data, which waits for its thread */
	src->free_data(src);
	free(src);
	if (got < 0) {
		free(buf);
		err_set(err, VMD_ERR_INTERNAL, "cannot build the cloud-init seed: libisofs' "
			"writer failed");
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

int seed_build(const struct seed *s, unsigned char **out, size_t *out_len, struct err *err)
{
	if (!seed_user_data_kind(s->user_data, s->user_data_len, err))
		return -1;
	char *made = NULL;
	const char *meta = s->meta_data;
	size_t meta_len = s->meta_data_len;
	if (!meta) {
		made = seed_meta_data(s->instance_id, s->hostname, s->ssh_keys, s->n_ssh_keys);
		meta = made;
		meta_len = strlen(made);
	}
	size_t total = s->user_data_len + meta_len + (s->network_config ? s->network_config_len : 0);
	if (total > SEED_MAX_BYTES) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "the cloud-init seed would hold %zu bytes: "
			"more than %u (user-data, meta-data and network-config together)", total,
			SEED_MAX_BYTES);
		free(made);
		return -1;
	}
	pthread_once(&iso_once, iso_start);
	if (iso_ready < 0) {
		free(made);
		return iso_fail(err, iso_ready, "libisofs");
	}
	IsoImage *image = NULL;
	int rc = iso_image_new("cidata", &image);
	if (rc < 0) {
		free(made);
		return iso_fail(err, rc, "image");
	}
	iso_image_set_volume_id(image, "cidata");
	iso_image_set_application_id(image, "vmd");
	int r = add_file(image, "user-data", s->user_data, s->user_data_len, err);
	if (r == 0)
		r = add_file(image, "meta-data", meta, meta_len, err);
	if (r == 0 && s->network_config)
		r = add_file(image, "network-config", s->network_config, s->network_config_len,
			     err);
	free(made);
	if (r == 0)
		r = build_image(image, out, out_len, err);
	iso_image_unref(image);
	return r;
}

int seed_write(const char *path, const struct seed *s, struct err *err)
{
	unsigned char *iso = NULL;
	size_t len = 0;
	if (seed_build(s, &iso, &len, err) < 0)
		return -1;
	int r = 0;
	if (write_file_atomic(path, iso, len, 0640) < 0) {
		err_set(err, VMD_ERR_IO, "cannot write %s: %s", path, strerror(errno));
		r = -1;
	}
	free(iso);
	return r;
}
