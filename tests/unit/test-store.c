/*
 * test-store.c: the store's atomicity and its handling of files it did not write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "err.h"
#include "store.h"
#include "vmd-proto.h"
#include "test.h"
#include "util.h"

static char dir[64];

#define SH(...)                                                                              \
	do {                                                                                 \
		char *cmd_ = xasprintf(__VA_ARGS__);                                         \
		CHECK(system(cmd_) == 0);                                                    \
		free(cmd_);                                                                  \
	} while (0)

struct seen {
	int n;
	char names[8][72];
};

static int collect(void *arg, const char *name, json_t *doc, struct err *err)
{
	struct seen *s = arg;
	if (!json_is_integer(json_object_get(doc, "v"))) {
		err_set(err, VMD_ERR_IO, "test: no v");
		return -1;
	}
	if (s->n < 8)
		snprintf(s->names[s->n++], sizeof s->names[0], "%s", name);
	return 0;
}

static void save_load_remove(void)
{
	struct store s = {0};
	CHECK(store_open(&s, dir) == 0);
	json_t *doc = json_pack("{s:i}", "v", 1);
	CHECK(store_save(&s, "alpha", doc, true) == 0);
	CHECK(store_save(&s, "alpha", doc, true) < 0 && errno == EEXIST);
	CHECK(store_save(&s, "alpha", doc, false) == 0);
	CHECK(store_save(&s, "beta", doc, true) == 0);
	json_decref(doc);
	struct seen seen = {0};
	CHECK(store_load_all(&s, collect, &seen) == 0);
	CHECK(seen.n == 2);
	CHECK_STR(seen.names[0], "alpha");
	CHECK_STR(seen.names[1], "beta");
	CHECK(store_remove(&s, "alpha") == 0);
	CHECK(store_remove(&s, "alpha") < 0 && errno == ENOENT);
	memset(&seen, 0, sizeof seen);
	CHECK(store_load_all(&s, collect, &seen) == 0);
	CHECK(seen.n == 1);
	CHECK(store_remove(&s, "beta") == 0);
	store_close(&s);
}

static void foreign_files_skipped_and_kept(void)
{
	struct store s = {0};
	CHECK(store_open(&s, dir) == 0);
	SH("printf 'not json{' > %s/guests/corrupt.json", dir);
	SH("printf '[1,2]' > %s/guests/array.json", dir);
	SH("printf '{\"w\":1}' > %s/guests/other.json", dir);
	SH("printf 'x' > %s/guests/README", dir);
	SH("printf '{\"v\":1}' > '%s/guests/bad name.json'", dir);
	SH("printf '{\"v\":1}' > %s/guests/good.json", dir);
	struct seen seen = {0};
	CHECK(store_load_all(&s, collect, &seen) == 5);
	CHECK(seen.n == 1);
	CHECK_STR(seen.names[0], "good");
	/* never overwritten by a new definition of the same name */
	json_t *doc = json_pack("{s:i}", "v", 2);
	CHECK(store_save(&s, "corrupt", doc, true) < 0 && errno == EEXIST);
	json_decref(doc);
	size_t len;
	char *text = read_file(s.dir, 100, &len); /* a directory: refused */
	CHECK(text == NULL);
	char *p = xasprintf("%s/corrupt.json", s.dir);
	text = read_file(p, 100, &len);
	CHECK(text && strcmp(text, "not json{") == 0);
	free(text);
	free(p);
	store_close(&s);
	SH("rm -f %s/guests/*", dir);
	SH("rm -f '%s/guests/bad name.json'", dir);
}

static void leftover_temp_files_removed(void)
{
	SH("mkdir -p %s/guests && printf '{\"v\":1' > %s/guests/.x.json.AbC123.tmp", dir, dir);
	SH("printf '{\"v\":1}' > %s/guests/x.json", dir);
	struct store s = {0};
	CHECK(store_open(&s, dir) == 0);
	SH("test ! -e %s/guests/.x.json.AbC123.tmp", dir);
	SH("test -e %s/guests/x.json", dir);
	struct seen seen = {0};
	CHECK(store_load_all(&s, collect, &seen) == 0);
	CHECK(seen.n == 1);
	store_close(&s);
	SH("rm -f %s/guests/x.json", dir);
}

int main(void)
{
	log_init(LOG_LVL_ERROR, 0);
	snprintf(dir, sizeof dir, "/tmp/vmd-test-store.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	RUN(save_load_remove);
	RUN(foreign_files_skipped_and_kept);
	RUN(leftover_temp_files_removed);
	SH("rm -rf %s", dir);
	TEST_DONE();
}
