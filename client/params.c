/*
 * params.c: the request builders (see params.h): what is left for vmctl to do before the
 * daemon can judge a request. Configuration files travel as their text, read here; every
 * other path is made absolute, as the daemon does not share our working directory.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "params.h"
#include "util.h"

/* Guest configuration files; the request line limit (VMD_MAX_LINE) is checked separately. */
#define MAX_CFG_FILE (1024 * 1024)

/* Adds key: string to obj; false if the string is not valid UTF-8. */
static bool set_str(const struct args *a, json_t *obj, const char *key, const char *s)
{
	json_t *v = json_string(s);

	if (!v) {
		cmd_usage_error(a, "%s: not valid UTF-8", s);
		return false;
	}
	json_object_set_new(obj, key, v);
	return true;
}

json_t *params_name(const struct args *a)
{
	json_t *p = json_object();

	if (!set_str(a, p, "name", a->pos[0])) {
		json_decref(p);
		return NULL;
	}
	return p;
}

json_t *params_none(const struct args *a)
{
	return json_object();
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Reads at most MAX_CFG_FILE bytes of path ("-": stdin). NULL after reporting. */
static char *read_cfg(const char *path, size_t *len_out)
{
	bool is_stdin = strcmp(path, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(path, "re");
	const char *shown = is_stdin ? "standard input" : path;
	char *buf;
	size_t len = 0;

	if (!f) {
		util_warn("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	/* One byte more than allowed, so that an oversized file can be told apart. */
	buf = malloc(MAX_CFG_FILE + 2);
	if (!buf) {
		util_warn("out of memory");
		goto fail;
	}
	while (len <= MAX_CFG_FILE) {
		size_t n = fread(buf + len, 1, MAX_CFG_FILE + 1 - len, f);

		if (n == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		util_warn("cannot read %s: %s", shown, strerror(errno));
		goto fail;
	}
	if (len > MAX_CFG_FILE) {
		util_warn("%s: file too large (more than %d bytes)", shown, MAX_CFG_FILE);
		goto fail;
	}
	buf[len] = '\0';
	if (!is_stdin)
		fclose(f);
	*len_out = len;
	return buf;
fail:
	free(buf);
	if (!is_stdin)
		fclose(f);
	return NULL;
}

/* create/define FILE: FILE.json is a config object; anything else (and -) is xl.cfg text. */
static json_t *file_params(const struct args *a, const char *path)
{
	size_t len;
	char *text = read_cfg(path, &len);
	json_t *p = NULL;

	if (!text)
		return NULL;
	if (ends_with(path, ".json")) {
		json_error_t jerr;
		json_t *cfg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

		if (!cfg) {
			util_warn("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		} else if (!json_is_object(cfg)) {
			util_warn("%s: not a JSON object", path);
			json_decref(cfg);
		} else {
			p = json_pack("{s:o}", "config", cfg);
		}
	} else {
		json_t *s = json_stringn(text, len);

		if (!s) {
			util_warn("%s: not valid UTF-8", path);
		} else {
			p = json_pack("{s:o}", "xlcfg", s);
			/* The daemon names the file in its errors ("x.cfg:3: ..."). */
			if (p && strcmp(path, "-") != 0 &&
			    !set_str(a, p, "filename", base_name(path))) {
				json_decref(p);
				p = NULL;
			}
		}
	}
	free(text);
	if (p && cmd_flag(a, "dry-run") && json_object_set_new(p, "dry_run", json_true()) < 0) {
		json_decref(p);
		p = NULL;
	}
	return p;
}

json_t *params_file(const struct args *a)
{
	return file_params(a, a->pos[0]);
}

static bool set_path(const struct args *a, json_t *obj, const char *key, const char *path);

/* Adds key: the text of the file at path (cloud-init's files, sent as they are); false after
 * reporting. */
static bool set_file_text(const struct args *a, json_t *obj, const char *key, const char *path)
{
	size_t len;
	char *text = read_cfg(path, &len);
	json_t *s = text ? json_stringn(text, len) : NULL;

	if (text && !s)
		util_warn("%s: not valid UTF-8", path);
	free(text);
	return s && json_object_set_new(obj, key, s) == 0;
}

/* The keys of a .pub or authorized_keys file: each line that is not empty or a comment. */
static bool add_keys(json_t *keys, const char *path)
{
	size_t len;
	char *text = read_cfg(path, &len);
	size_t before = json_array_size(keys);

	if (!text)
		return false;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		if (*line && *line != '#')
			json_array_append_new(keys, json_string(line));
	}
	free(text);
	if (json_array_size(keys) == before) {
		util_warn("%s: no public key in it", path);
		return false;
	}
	return true;
}

/* The string flags strs ({flag, key} pairs) and --memory, --vcpus of a guest being made
 * (install, create --image); false after reporting. */
static bool set_guest_flags(const struct args *a, json_t *p, const char *const (*strs)[2],
			    size_t n_strs)
{
	long n;

	for (size_t i = 0; i < n_strs; i++) {
		const char *v = cmd_value(a, strs[i][0]);

		if (v && !set_str(a, p, strs[i][1], v))
			return false;
	}
	if (cmd_flag(a, "memory")) {
		if (cmd_uint(a, "memory", 1, 1L << 30, &n) < 0)
			return false;
		json_object_set_new(p, "memory", json_integer(n));
	}
	if (cmd_flag(a, "vcpus")) {
		if (cmd_uint(a, "vcpus", 1, 1L << 20, &n) < 0)
			return false;
		json_object_set_new(p, "vcpus", json_integer(n));
	}
	return true;
}

/* image add NAME FILE: the file's absolute path. */
json_t *params_image_add(const struct args *a)
{
	json_t *p = params_name(a);

	if (p && !set_path(a, p, "path", a->pos[1])) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* create FILE, or create NAME --image FILE ...: a guest from a cloud image (vm-provision). */
json_t *params_create(const struct args *a)
{
	static const char *const image_only[] = { "disk", "disk-size", "overlay", "type",
						  "memory", "vcpus", "network", "bridge",
						  "cloud-init", "meta-data", "network-config",
						  "ssh-key", "no-start" };
	static const char *const strs[][2] = {
		{ "disk-size", "disk_size" }, { "type", "type" }, { "network", "network" },
		{ "bridge", "bridge" },
	};
	static const char *const texts[][2] = {
		{ "cloud-init", "user_data" }, { "meta-data", "meta_data" },
		{ "network-config", "network_config" },
	};
	const char *image = cmd_value(a, "image");
	json_t *p;

	if (!image) {
		for (size_t i = 0; i < sizeof(image_only) / sizeof(image_only[0]); i++) {
			if (cmd_flag(a, image_only[i])) {
				cmd_usage_error(a, "--%s goes with --image", image_only[i]);
				return NULL;
			}
		}
		return params_file(a);
	}
	if (cmd_flag(a, "dry-run")) {
		cmd_usage_error(a, "--dry-run is for a config FILE, not --image");
		return NULL;
	}
	if (!cmd_flag(a, "cloud-init")) {
		cmd_usage_error(a, "--image needs --cloud-init FILE (the user-data)");
		return NULL;
	}
	p = params_name(a);
	/* a word without '/' names an image (vmctl image list); a file here is ./FILE */
	if (!p || !(strchr(image, '/') ? set_path(a, p, "image", image)
				       : set_str(a, p, "image", image)))
		goto fail;
	if (cmd_flag(a, "disk") && !set_path(a, p, "disk", cmd_value(a, "disk")))
		goto fail;
	if (!set_guest_flags(a, p, strs, sizeof(strs) / sizeof(strs[0])))
		goto fail;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const char *v = cmd_value(a, texts[i][0]);

		if (v && !set_file_text(a, p, texts[i][1], v))
			goto fail;
	}
	int nkeys;
	const char *const *files = cmd_values(a, "ssh-key", &nkeys);
	if (nkeys > 0) {
		json_t *keys = json_array();

		json_object_set_new(p, "ssh_keys", keys);
		for (int i = 0; i < nkeys; i++)
			if (!add_keys(keys, files[i]))
				goto fail;
	}
	if (cmd_flag(a, "overlay"))
		json_object_set_new(p, "overlay", json_true());
	if (cmd_flag(a, "no-start"))
		json_object_set_new(p, "start", json_false());
	return p;
fail:
	json_decref(p);
	return NULL;
}

/* update NAME FILE: the whole new config; --config: the definition alone. */
json_t *params_update(const struct args *a)
{
	json_t *p = file_params(a, a->pos[1]);

	if (p && !set_str(a, p, "name", a->pos[0])) {
		json_decref(p);
		return NULL;
	}
	if (p && cmd_flag(a, "config"))
		json_object_set_new(p, "live", json_false());
	return p;
}

json_t *params_shutdown(const struct args *a)
{
	json_t *p = params_name(a);
	long timeout;

	if (!p)
		return NULL;
	json_object_set_new(p, "wait", json_boolean(cmd_flag(a, "wait")));
	if (cmd_flag(a, "timeout")) {
		if (cmd_uint(a, "timeout", 1, 86400, &timeout) < 0) {
			json_decref(p);
			return NULL;
		}
		json_object_set_new(p, "timeout", json_integer(timeout));
	}
	return p;
}

json_t *params_list(const struct args *a)
{
	json_t *p = json_pack("{s:b}", "all", cmd_flag(a, "all"));
	if (p && cmd_flag(a, "addresses"))
		json_object_set_new(p, "addresses", json_true());
	return p;
}

json_t *params_remove(const struct args *a)
{
	json_t *p = params_name(a);

	if (p)
		json_object_set_new(p, "delete_disks", json_boolean(cmd_flag(a, "delete-disks")));
	return p;
}

json_t *params_autostart(const struct args *a)
{
	const char *v = a->pos[1];
	json_t *p;
	bool on;

	if (strcmp(v, "on") == 0) {
		on = true;
	} else if (strcmp(v, "off") == 0) {
		on = false;
	} else {
		cmd_usage_error(a, "autostart: say on or off, not %s", v);
		return NULL;
	}
	p = params_name(a);
	if (p)
		json_object_set_new(p, "enabled", json_boolean(on));
	return p;
}

/* Seconds as a positive decimal; -1 after a usage message. */
double params_console_timeout(const struct args *a)
{
	const char *s = cmd_value(a, "timeout");
	char *end;
	double v;

	if (!s)
		return 0;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e9) {
		cmd_usage_error(a, "--timeout: need a positive number of seconds");
		return -1;
	}
	return v;
}

json_t *params_console(const struct args *a)
{
	if (params_console_timeout(a) < 0)
		return NULL;
	return params_name(a);
}

/* An absolute path: the daemon does not share our working directory. NULL after reporting. */
static char *abs_path(const struct args *a, const char *path)
{
	char *cwd, *out;

	if (path[0] == '/')
		return strdup(path);
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	cwd = getcwd(NULL, 0);
	if (!cwd) {
		cmd_usage_error(a, "%s: cannot make it absolute: %s", path, strerror(errno));
		return NULL;
	}
	if (!*path || strcmp(path, ".") == 0)
		return cwd; /* "." and "./" are the directory itself */
	if (asprintf(&out, "%s/%s", strcmp(cwd, "/") ? cwd : "", path) < 0)
		out = NULL;
	free(cwd);
	return out;
}

/* Adds key: path made absolute; false after reporting. */
static bool set_path(const struct args *a, json_t *obj, const char *key, const char *path)
{
	char *abs = abs_path(a, path);
	bool ok = abs && set_str(a, obj, key, abs);

	free(abs);
	return ok;
}

json_t *params_clone(const struct args *a)
{
	json_t *p = json_object();
	const char *dir = cmd_value(a, "disk-dir");

	if (!set_str(a, p, "source", a->pos[0]) || !set_str(a, p, "name", a->pos[1]))
		goto fail;
	if (dir && !set_path(a, p, "disk_dir", dir))
		goto fail;
	json_object_set_new(p, "start", json_boolean(cmd_flag(a, "start")));
	json_object_set_new(p, "sysprep", json_boolean(cmd_flag(a, "sysprep")));
	return p;
fail:
	json_decref(p);
	return NULL;
}

/* migrate NAME URI: the URI goes as given; the daemon checks it (and vmctl's own -H does not
 * apply: it is where the daemon sends the guest). */
json_t *params_migrate(const struct args *a)
{
	json_t *p = json_object();

	if (!set_str(a, p, "name", a->pos[0]) || !set_str(a, p, "host", a->pos[1])) {
		json_decref(p);
		return NULL;
	}
	json_object_set_new(p, "live", json_boolean(cmd_flag(a, "live")));
	return p;
}

/* --live, --config: only one of them, or both; neither: the daemon's default (both). */
static void set_live_config(const struct args *a, json_t *p)
{
	if (cmd_flag(a, "live") || cmd_flag(a, "config")) {
		json_object_set_new(p, "live", json_boolean(cmd_flag(a, "live")));
		json_object_set_new(p, "config", json_boolean(cmd_flag(a, "config")));
	}
}

/* vcpu-set NAME N, mem-set NAME SIZE (MiB, or with M or G): the number, and where it goes
 * (--live, --config: the daemon's default, both, when neither is given). */
static json_t *params_set(const struct args *a, const char *key, bool size)
{
	const char *v = a->pos[1];
	char *end;
	unsigned long long n;
	json_t *p;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (size && (*end == 'M' || *end == 'm') && end[1] == '\0')
		end++;
	else if (size && (*end == 'G' || *end == 'g') && end[1] == '\0' && n <= (1ULL << 40)) {
		n *= 1024;
		end++;
	}
	if (errno || end == v || *end || v[0] == '-' || n == 0 || n > (1ULL << 40)) {
		cmd_usage_error(a, "%s: not a %s: %s", a->cmd->verb,
				size ? "size (MiB, or 512M, 2G)" : "number", v);
		return NULL;
	}
	p = params_name(a);
	if (!p)
		return NULL;
	json_object_set_new(p, key, json_integer((json_int_t)n));
	set_live_config(a, p);
	return p;
}

json_t *params_vcpu_set(const struct args *a)
{
	return params_set(a, "vcpus", false);
}

json_t *params_mem_set(const struct args *a)
{
	return params_set(a, "memory", true);
}

json_t *params_sched_set(const struct args *a)
{
	static const char *const keys[] = { "weight", "cap" };
	json_t *p = params_name(a);

	if (!p)
		return NULL;
	for (size_t i = 0; i < 2; i++) {
		const char *v = cmd_value(a, keys[i]);
		char *end;
		long n;

		if (!v)
			continue;
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno || end == v || *end || n < 0 || n > 65535) {
			cmd_usage_error(a, "--%s: not a number: %s", keys[i], v);
			json_decref(p);
			return NULL;
		}
		json_object_set_new(p, keys[i], json_integer(n));
	}
	set_live_config(a, p);
	return p;
}

/* block-attach NAME SPEC, block-detach NAME VDEV, network-attach NAME SPEC, network-detach
 * NAME MAC: the second word as given. */
static json_t *params_block(const struct args *a, const char *key)
{
	json_t *p = params_name(a);

	if (!p || !set_str(a, p, key, a->pos[1])) {
		json_decref(p);
		return NULL;
	}
	set_live_config(a, p);
	return p;
}

json_t *params_block_attach(const struct args *a)
{
	return params_block(a, "disk");
}

json_t *params_block_detach(const struct args *a)
{
	return params_block(a, "vdev");
}

/* cd-insert NAME VDEV FILE (FILE made absolute), cd-eject NAME VDEV. */
json_t *params_cd_insert(const struct args *a)
{
	json_t *p = params_block(a, "vdev");

	if (p && !set_path(a, p, "file", a->pos[2])) {
		json_decref(p);
		return NULL;
	}
	return p;
}

json_t *params_cd_eject(const struct args *a)
{
	return params_block(a, "vdev");
}

/* network-rate NAME MAC RATE */
json_t *params_network_rate(const struct args *a)
{
	json_t *p = params_block(a, "mac");

	if (p && !set_str(a, p, "rate", a->pos[2])) {
		json_decref(p);
		return NULL;
	}
	return p;
}

json_t *params_network_attach(const struct args *a)
{
	return params_block(a, "vif");
}

json_t *params_network_detach(const struct args *a)
{
	return params_block(a, "mac");
}

json_t *params_start(const struct args *a)
{
	json_t *p = params_name(a);

	if (!p)
		return NULL;
	if (cmd_flag(a, "discard-save"))
		json_object_set_new(p, "discard_save", json_true());
	if (cmd_flag(a, "paused"))
		json_object_set_new(p, "paused", json_true());
	return p;
}

json_t *params_save(const struct args *a)
{
	json_t *p = params_name(a);

	if (!p)
		return NULL;
	if (a->npos > 1 && !set_path(a, p, "file", a->pos[1])) {
		json_decref(p);
		return NULL;
	}
	json_object_set_new(p, "keep_running", json_boolean(cmd_flag(a, "keep-running")));
	return p;
}

json_t *params_restore(const struct args *a)
{
	json_t *p = json_object();

	if (!set_path(a, p, "file", a->pos[0])) {
		json_decref(p);
		return NULL;
	}
	json_object_set_new(p, "paused", json_boolean(cmd_flag(a, "paused")));
	return p;
}

/* install NAME: the flags map one to one onto vm.install's params; paths are made absolute
 * and the daemon checks the rest (which combinations make an installer, sizes, limits), so
 * vmctl and scripts get the same answers. */
json_t *params_install(const struct args *a)
{
	static const char *const paths[][2] = {
		{ "iso", "iso" },
		{ "kernel", "kernel" },
		{ "initrd", "initrd" },
		{ "disk", "disk" },
	};
	static const char *const strs[][2] = {
		{ "disk-size", "disk_size" }, { "type", "type" }, { "extra", "extra" },
		{ "bridge", "bridge" },
	};
	json_t *p = params_name(a);

	if (!p)
		return NULL;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *v = cmd_value(a, paths[i][0]);

		if (v && !set_path(a, p, paths[i][1], v))
			goto fail;
	}
	if (!set_guest_flags(a, p, strs, sizeof(strs) / sizeof(strs[0])))
		goto fail;
	if (cmd_flag(a, "no-network"))
		json_object_set_new(p, "network", json_false());
	if (cmd_flag(a, "no-vnc"))
		json_object_set_new(p, "vnc", json_false());
	if (cmd_flag(a, "no-start"))
		json_object_set_new(p, "start", json_false());
	return p;
fail:
	json_decref(p);
	return NULL;
}

/* disk create PATH SIZE: the daemon parses SIZE ("10G"), so vmctl and scripts agree. */
json_t *params_disk_create(const struct args *a)
{
	json_t *p = json_object();

	if (!set_path(a, p, "path", a->pos[0]) || !set_str(a, p, "size", a->pos[1])) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* snapshot create NAME [SNAP] [--memory], snapshot revert|delete NAME SNAP */
json_t *params_snapshot(const struct args *a)
{
	json_t *p = params_name(a);

	if (p && a->npos > 1 && !set_str(a, p, "snapshot", a->pos[1])) {
		json_decref(p);
		return NULL;
	}
	if (p && cmd_flag(a, "memory"))
		json_object_set_new(p, "memory", json_true());
	return p;
}
