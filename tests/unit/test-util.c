/*
 * test-util.c: UUIDs, MACs, durable writes, and the hash table of the registry's lookups.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hmap.h"
#include "test.h"
#include "util.h"

static void uuid_roundtrip(void)
{
	uint8_t u[16], v[16];
	char s[UUID_STR_LEN];
	uuid_generate_v4(u);
	uuid_format(u, s);
	CHECK(strlen(s) == 36);
	CHECK(s[14] == '4'); /* version nibble */
	CHECK(uuid_parse(s, v) == 0);
	CHECK(memcmp(u, v, 16) == 0);
	CHECK(uuid_parse("6b1c1c4e-0b0a-4a6e-9c1b-1f2e3d4c5b6A", v) == 0);
	uuid_format(v, s);
	CHECK_STR(s, "6b1c1c4e-0b0a-4a6e-9c1b-1f2e3d4c5b6a");
	CHECK(uuid_parse("6b1c1c4e0b0a4a6e9c1b1f2e3d4c5b6a", v) < 0);
	CHECK(uuid_parse("6b1c1c4e-0b0a-4a6e-9c1b-1f2e3d4c5b6", v) < 0);
	CHECK(uuid_parse("6b1c1c4e-0b0a-4a6e-9c1b-1f2e3d4c5bzz", v) < 0);
	CHECK(uuid_parse(NULL, v) < 0);
	uint8_t zero[16] = {0};
	CHECK(uuid_is_null(zero));
	CHECK(!uuid_is_null(u));
}

static void mac_roundtrip(void)
{
	uint8_t m[6];
	char s[MAC_STR_LEN];
	CHECK(mac_parse("00:16:3E:54:02:03", m) == 0);
	mac_format(m, s);
	CHECK_STR(s, "00:16:3e:54:02:03");
	CHECK(mac_parse("00:16:3e:54:02", m) < 0);
	CHECK(mac_parse("00-16-3e-54-02-03", m) < 0);
	CHECK(mac_parse("00:16:3e:54:02:0g", m) < 0);
	for (int i = 0; i < 100; i++) {
		mac_generate_xen(m);
		CHECK(m[0] == 0x00 && m[1] == 0x16 && m[2] == 0x3e);
		CHECK((m[3] & 0x80) == 0);
	}
}

static void atomic_write(void)
{
	char dir[] = "/tmp/vmd-test-util.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *path = xasprintf("%s/a.json", dir);
	CHECK(write_file_atomic(path, "one\n", 4, 0600) == 0);
	CHECK(write_file_atomic(path, "two!\n", 5, 0600) == 0);
	size_t len = 0;
	char *got = read_file(path, 1024, &len);
	CHECK(got && len == 5 && strcmp(got, "two!\n") == 0);
	free(got);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	/* too large for the limit */
	CHECK(read_file(path, 3, NULL) == NULL && errno == EFBIG);
	/* a write into a missing directory fails and leaves nothing */
	char *bad = xasprintf("%s/missing/b.json", dir);
	CHECK(write_file_atomic(bad, "x", 1, 0600) < 0);
	free(bad);
	/* only a.json is in the directory: no temp files left */
	char *cmd = xasprintf("test \"$(ls -A %s)\" = a.json", dir);
	CHECK(system(cmd) == 0);
	free(cmd);
	unlink(path);
	free(path);
	char *sub = xasprintf("%s/x/y/z", dir);
	CHECK(mkdir_p(sub, 0700) == 0);
	CHECK(mkdir_p(sub, 0700) == 0);
	CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode));
	free(sub);
	cmd = xasprintf("rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	free(cmd);
}

/* The test vectors of SipHash-2-4 (the paper's appendix A and its reference code): key
 * 00 01 .. 0f, messages 00 01 .. of length 0 and 15. */
static void siphash_vectors(void)
{
	uint8_t key[16], msg[64];
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	CHECK(siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	CHECK(siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
	CHECK(siphash24(key, msg, 8) == 0x93f5f5799a932462ULL);
}

/* The table against a plain array: random puts and deletes of keys that share few hash
 * bits (a small table, so runs wrap around the end), every lookup compared. */
static void hmap_against_array(void)
{
	enum { N = 3000 };
	static char keys[N][12];
	static bool in[N];
	struct hmap m;
	hmap_init(&m);
	CHECK(hmap_get(&m, "x", 1) == NULL);
	CHECK(hmap_del(&m, "x", 1) == NULL);
	for (int i = 0; i < N; i++)
		snprintf(keys[i], sizeof keys[i], "g%d", i);
	unsigned seed = 7;
	size_t n = 0;
	for (int round = 0; round < 60000; round++) {
		seed = seed * 1103515245u + 12345u;
		int k = (int)((seed >> 8) % (round < 30000 ? 64 : N));
		size_t len = strlen(keys[k]);
		if ((seed >> 4) & 1) {
			void *old = hmap_put(&m, keys[k], len, &in[k]);
			CHECK(old == (in[k] ? &in[k] : NULL));
			if (!in[k])
				n++;
			in[k] = true;
		} else {
			void *v = hmap_del(&m, keys[k], len);
			CHECK(v == (in[k] ? &in[k] : NULL));
			if (in[k])
				n--;
			in[k] = false;
		}
		CHECK(m.n == n);
		if (round % 997 == 0)
			for (int i = 0; i < N; i++)
				CHECK(hmap_get(&m, keys[i], strlen(keys[i])) == (in[i] ? &in[i] : NULL));
	}
	for (int i = 0; i < N; i++)
		CHECK(hmap_get(&m, keys[i], strlen(keys[i])) == (in[i] ? &in[i] : NULL));
	/* A key that is a prefix of another is another key. */
	CHECK(hmap_get(&m, "g1", 1) == NULL);
	hmap_finish(&m);
	CHECK(m.n == 0 && hmap_get(&m, "g1", 2) == NULL);
}

int main(void)
{
	RUN(uuid_roundtrip);
	RUN(mac_roundtrip);
	RUN(atomic_write);
	RUN(siphash_vectors);
	RUN(hmap_against_array);
	TEST_DONE();
}
