/*
 * test-seed.c: daemon/seed.c's NoCloud seeds against the reference, side by side: the seed
 * the cloud-init docs make by hand (`genisoimage -volid cidata -joliet -rock`, here xorriso's
 * genisoimage emulation) from the same files. blkid, which cloud-init asks for the volume
 * labelled cidata, must see both alike (TYPE, LABEL), xorriso must list the same names in the
 * Rock Ridge and Joliet trees, and the files read back must be byte for byte what was given.
 * Then the user-data kinds cloud-init knows, and what it would ignore, an oversized seed and
 * an unwritable path: refused with nothing written.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seed.h"
#include "test.h"
#include "util.h"
#include "vmd-proto.h"

static char dir[64];

/* The output of a shell command (malloc'ed, NUL-terminated), or NULL when it failed. */
__attribute__((format(printf, 1, 2))) static char *out_of(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	char *file = xasprintf("%s/out", dir);
	int r = sh("%s > '%s' 2>/dev/null", cmd, file);
	size_t len = 0;
	char *text = r == 0 ? read_file(file, 1 << 20, &len) : NULL;
	if (r != 0)
		fprintf(stderr, "failed (%d): %s\n", r, cmd);
	free(cmd);
	free(file);
	return text;
}

static void put(const char *name, const char *text)
{
	char *p = xasprintf("%s/ref/%s", dir, name);
	CHECK(write_file_atomic(p, text, strlen(text), 0644) == 0);
	free(p);
}

/* The file /name of the image iso, as xorriso reads it back (the Rock Ridge tree). */
static char *read_back(const char *iso, const char *name)
{
	char *file = xasprintf("%s/extracted", dir);
	unlink(file);
	char *text = NULL;
	size_t len = 0;
	if (sh("xorriso -osirrox on -indev '%s' -extract '/%s' '%s' >/dev/null 2>&1", iso, name,
	       file) == 0)
		text = read_file(file, 1 << 20, &len);
	free(file);
	return text;
}

static const char USER_DATA[] = "#cloud-config\nhostname: web1\nruncmd:\n  - [touch, /m]\n";
static const char NETWORK[] = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n";

static void against_genisoimage(void)
{
	char *ref_dir = xasprintf("%s/ref", dir);
	CHECK(mkdir_p(ref_dir, 0755) == 0);
	char *meta = seed_meta_data("5b1c0a9e-7e9e-4f0a-9d55-0d1f3e6c2a11", "web1", NULL, 0);
	CHECK_STR(meta, "instance-id: 5b1c0a9e-7e9e-4f0a-9d55-0d1f3e6c2a11\n"
			"local-hostname: web1\n");
	put("user-data", USER_DATA);
	put("meta-data", meta);
	put("network-config", NETWORK);
	char *ref = xasprintf("%s/ref.iso", dir), *ours = xasprintf("%s/ours.iso", dir);
	CHECK(sh("cd '%s' && xorriso -as genisoimage -output '%s' -volid cidata -joliet -rock "
		 "user-data meta-data network-config >/dev/null 2>&1", ref_dir, ref) == 0);
	struct seed s = {.user_data = USER_DATA, .user_data_len = strlen(USER_DATA),
			 .network_config = NETWORK, .network_config_len = strlen(NETWORK),
			 .instance_id = "5b1c0a9e-7e9e-4f0a-9d55-0d1f3e6c2a11", .hostname = "web1"};
	struct err err = {0};
	CHECK(seed_write(ours, &s, &err) == 0);
	if (err.code)
		fprintf(stderr, "seed_write: %s\n", err.msg);

	/* what cloud-init's NoCloud asks blkid for */
	char *b_ref = out_of("blkid -p -o export -s TYPE -s LABEL '%s' | grep -v ^DEVNAME", ref);
	char *b_ours = out_of("blkid -p -o export -s TYPE -s LABEL '%s' | grep -v ^DEVNAME", ours);
	CHECK_STR(b_ours, b_ref);
	CHECK(b_ours && strstr(b_ours, "TYPE=iso9660\n"));
	CHECK(b_ours && strstr(b_ours, "LABEL=cidata\n"));
	/* both trees hold the three names, as in the reference */
	for (int joliet = 0; joliet < 2; joliet++) {
		const char *load = joliet ? "-rockridge off -joliet on" : "-rockridge on";
		char *l_ref = out_of("xorriso %s -indev '%s' -lsl / 2>/dev/null | awk '{print $NF}'"
				     " | sort", load, ref);
		char *l_ours = out_of("xorriso %s -indev '%s' -lsl / 2>/dev/null | awk '{print $NF}'"
				      " | sort", load, ours);
		CHECK_STR(l_ours, l_ref);
		CHECK(l_ours && strstr(l_ours, "'user-data'") && strstr(l_ours, "'meta-data'") &&
		      strstr(l_ours, "'network-config'"));
		free(l_ref);
		free(l_ours);
	}
	char *u = read_back(ours, "user-data"), *m = read_back(ours, "meta-data"),
	     *n = read_back(ours, "network-config");
	CHECK_STR(u, USER_DATA);
	CHECK_STR(m, meta);
	CHECK_STR(n, NETWORK);
	struct stat st;
	CHECK(stat(ours, &st) == 0 && (st.st_mode & 0777) == 0640);
	CHECK(st.st_size % 2048 == 0);
	free(u);
	free(m);
	free(n);
	free(b_ref);
	free(b_ours);
	free(ref);
	free(ours);
	free(meta);
	free(ref_dir);
}

/* A meta-data of the caller's goes in as it is, and no network-config is none. */
static void given_meta_data(void)
{
	static const char META[] = "instance-id: i-abc\nlocal-hostname: db\npublic-keys: []\n";
	char *iso = xasprintf("%s/given.iso", dir);
	struct seed s = {.user_data = "#!/bin/sh\necho hi\n", .user_data_len = 18,
			 .meta_data = META, .meta_data_len = strlen(META)};
	struct err err = {0};
	CHECK(seed_write(iso, &s, &err) == 0);
	char *m = read_back(iso, "meta-data");
	CHECK_STR(m, META);
	char *l = out_of("xorriso -indev '%s' -ls / 2>/dev/null", iso);
	CHECK(l && !strstr(l, "network-config") && strstr(l, "'user-data'"));
	free(l);
	free(m);
	free(iso);
}

/* The keys as cloud-init's YAML parser (PyYAML, here an oracle) reads the meta-data back. */
static void ssh_keys(void)
{
	char *keys[] = {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1 admin@host",
			"ecdsa-sha2-nistp256 AAAAE2VjZHNh x: \"y\" #z \\ w",
			"ssh-rsa AAAAB3NzaC1yc2E"};
	struct err err = {0};
	for (size_t i = 0; i < 3; i++)
		CHECK(seed_check_ssh_key(keys[i], &err) == 0);
	char *iso = xasprintf("%s/keys.iso", dir);
	struct seed s = {.user_data = USER_DATA, .user_data_len = strlen(USER_DATA),
			 .instance_id = "i-1", .hostname = "k", .ssh_keys = keys, .n_ssh_keys = 3};
	CHECK(seed_write(iso, &s, &err) == 0);
	char *m = read_back(iso, "meta-data");
	char *file = xasprintf("%s/meta", dir);
	CHECK(m && write_file_atomic(file, m, strlen(m), 0644) == 0);
	char *parsed = out_of("python3 -c 'import json, sys, yaml; "
			      "print(json.dumps(yaml.safe_load(open(sys.argv[1])), sort_keys=True))'"
			      " '%s'", file);
	CHECK_STR(parsed, "{\"instance-id\": \"i-1\", \"local-hostname\": \"k\", "
			  "\"public-keys\": [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1 admin@host\", "
			  "\"ecdsa-sha2-nistp256 AAAAE2VjZHNh x: \\\"y\\\" #z \\\\ w\", "
			  "\"ssh-rsa AAAAB3NzaC1yc2E\"]}\n");
	static const char *const bad[] = {
		"AAAAC3NzaC1lZDI1NTE5 admin", /* no type */
		"ssh-ed25519",                /* no key */
		"ssh-ed25519 AAAA\nssh-rsa BBBB", "ssh-ed25519  AAAA",
		"-----BEGIN OPENSSH PRIVATE KEY-----",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_clear(&err);
		CHECK(seed_check_ssh_key(bad[i], &err) < 0 && err.code == VMD_ERR_INVALID_PARAMS);
		CHECK(strstr(err.msg, "not an OpenSSH public key") != NULL);
		CHECK(strchr(err.msg, '\n') == NULL);
	}
	err_clear(&err);
	free(parsed);
	free(file);
	free(m);
	free(iso);
}

static void user_data_kinds(void)
{
	static const struct {
		const char *data, *kind;
	} ok[] = {
		{"#cloud-config\n", "cloud-config"},     {"#cloud-config", "cloud-config"},
		{"#cloud-config\r\nusers: []\n", "cloud-config"},
		{"#!/bin/bash\necho\n", "script"},       {"#include\nhttp://x/y\n", "include"},
		{"#include-once\nhttp://x\n", "include-once"},
		{"#cloud-boothook\n#!/bin/sh\n", "cloud-boothook"},
		{"#cloud-config-archive\n- type: text/x-shellscript\n", "cloud-config-archive"},
		{"#part-handler\n", "part-handler"},
		{"## template: jinja\n#cloud-config\n", "jinja"},
		{"Content-Type: multipart/mixed; boundary=\"b\"\nMIME-Version: 1.0\n\n--b--\n",
		 "mime"},
		{"", "empty"},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct err err = {0};
		const char *k = seed_user_data_kind(ok[i].data, strlen(ok[i].data), &err);
		CHECK_STR(k, ok[i].kind);
	}
	struct err err = {0};
	const char gz[] = {0x1f, (char)0x8b, 8, 0};
	CHECK_STR(seed_user_data_kind(gz, 4, &err), "gzip");
	static const char *const bad[] = {
		"hostname: web1\n",        /* YAML without the header: cloud-init ignores it */
		"#cloud-configure\n",      /* not the word */
		" #cloud-config\n",        /* the header must start the data */
		"#cloud-confi",
		"\x01\x02\x03 binary",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_clear(&err);
		CHECK(seed_user_data_kind(bad[i], strlen(bad[i]), &err) == NULL);
		CHECK(err.code == VMD_ERR_INVALID_PARAMS);
		CHECK(strstr(err.msg, "cloud-init would ignore it") != NULL);
	}
	/* the message shows no control character of the input */
	CHECK(strchr(err.msg, '\x01') == NULL);
	err_clear(&err);
}

/* Refusals write nothing: neither the seed nor a temporary file. */
static void refused(void)
{
	char *iso = xasprintf("%s/refused/seed.iso", dir), *sub = xasprintf("%s/refused", dir);
	CHECK(mkdir_p(sub, 0755) == 0);
	struct err err = {0};
	struct seed s = {.user_data = "users: []\n", .user_data_len = 10, .instance_id = "i",
			 .hostname = "h"};
	CHECK(seed_write(iso, &s, &err) < 0 && err.code == VMD_ERR_INVALID_PARAMS);
	err_clear(&err);
	size_t big = SEED_MAX_BYTES;
	char *data = xmalloc(big);
	memset(data, 'a', big);
	memcpy(data, "#cloud-config\n#", 15);
	s.user_data = data;
	s.user_data_len = big; /* with the meta-data it is over */
	CHECK(seed_write(iso, &s, &err) < 0 && err.code == VMD_ERR_INVALID_PARAMS);
	CHECK(strstr(err.msg, "more than") != NULL);
	err_clear(&err);
	s.user_data_len = big - 100; /* and under it is fine */
	CHECK(seed_write(iso, &s, &err) == 0);
	CHECK(unlink(iso) == 0);
	char *ls = out_of("ls -A '%s'", sub);
	CHECK_STR(ls, "");
	free(ls);
	/* a directory that is not there: VMD_ERR_IO */
	char *nowhere = xasprintf("%s/none/seed.iso", dir);
	s.user_data = USER_DATA;
	s.user_data_len = strlen(USER_DATA);
	CHECK(seed_write(nowhere, &s, &err) < 0 && err.code == VMD_ERR_IO);
	CHECK(strstr(err.msg, nowhere) != NULL);
	err_clear(&err);
	free(nowhere);
	free(data);
	free(sub);
	free(iso);
}

int main(void)
{
	if (sh("command -v xorriso >/dev/null && command -v blkid >/dev/null") != 0) {
		printf("not ok 1 - xorriso and blkid are required test dependencies\n1..1\n");
		return EXIT_FAILURE;
	}
	snprintf(dir, sizeof dir, "/tmp/vmd-test-seed.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	RUN(against_genisoimage);
	RUN(given_meta_data);
	RUN(ssh_keys);
	RUN(user_data_kinds);
	RUN(refused);
	if (test_failures == 0)
		sh("rm -rf '%s'", dir);
	TEST_DONE();
}
