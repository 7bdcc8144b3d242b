/*
 * test-store.c: the store's atomicity, its handling of files it did not write, and its
 * index (which vouches only for the files it saw).
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
	bool full[8];  /* given as the document (not the index's summary) */
	bool texts[8]; /* the document's "t" came along */
	bool held[8];  /* the index named an identity for it */
	struct store_load_stats st;
};

static int collect(void *arg, const char *name, json_t *doc, bool full,
		   const struct store_id *id, const struct store_id *held, struct err *err)
{
	struct seen *s = arg;
	if (!json_is_integer(json_object_get(doc, "v"))) {
		err_set(err, VMD_ERR_IO, "test: no v");
		return -1;
	}
	if (s->n < 8) {
		s->full[s->n] = full;
		s->texts[s->n] = json_object_get(doc, "t") != NULL;
		s->held[s->n] = held != NULL;
		snprintf(s->names[s->n++], sizeof s->names[0], "%s", name);
	}
	return 0;
}

/* Loads into seen (cleared first); returns the number of files skipped. */
static int load(struct store *st, struct seen *seen)
{
	memset(seen, 0, sizeof *seen);
	CHECK(store_load_all(st, collect, seen, &seen->st) == 0);
	return seen->st.skipped;
}

static void save_load_remove(void)
{
	struct store s = {0};
	CHECK(store_open(&s, dir) == 0);
	json_t *doc = json_pack("{s:i}", "v", 1);
	CHECK(store_save(&s, "alpha", doc, true, NULL, NULL) == 0);
	CHECK(store_save(&s, "alpha", doc, true, NULL, NULL) < 0 && errno == EEXIST);
	CHECK(store_save(&s, "alpha", doc, false, NULL, NULL) == 0);
	CHECK(store_save(&s, "beta", doc, true, NULL, NULL) == 0);
	json_decref(doc);
	struct seen seen;
	CHECK(load(&s, &seen) == 0);
	CHECK(seen.n == 2);
	CHECK_STR(seen.names[0], "alpha");
	CHECK_STR(seen.names[1], "beta");
	CHECK(store_remove(&s, "alpha") == 0);
	CHECK(store_remove(&s, "alpha") < 0 && errno == ENOENT);
	CHECK(load(&s, &seen) == 0);
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
	struct seen seen;
	CHECK(load(&s, &seen) == 5);
	CHECK(seen.n == 1);
	CHECK_STR(seen.names[0], "good");
	/* never overwritten by a new definition of the same name */
	json_t *doc = json_pack("{s:i}", "v", 2);
	CHECK(store_save(&s, "corrupt", doc, true, NULL, NULL) < 0 && errno == EEXIST);
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
	struct seen seen;
	CHECK(load(&s, &seen) == 0);
	CHECK(seen.n == 1);
	store_close(&s);
	SH("rm -f %s/guests/x.json", dir);
}

static void index_add_doc(struct store_index *w, const char *name, const struct store_id *id)
{
	json_t *sum = json_pack("{s:i}", "v", 1);
	store_index_add(w, name, id, sum);
	json_decref(sum);
}

static void index_vouches_for_what_it_saw(void)
{
	struct store s = {0};
	CHECK(store_open(&s, dir) == 0);
	json_t *doc = json_pack("{s:i, s:s}", "v", 1, "t", "the text");
	struct store_id a, b, c;
	CHECK(store_save(&s, "alpha", doc, true, NULL, &a) == 0);
	CHECK(store_save(&s, "beta", doc, true, NULL, &b) == 0);
	struct seen seen;
	/* no index yet: every document read, the index to be written */
	CHECK(load(&s, &seen) == 0 && seen.n == 2 && seen.full[0] && seen.full[1]);
	CHECK(seen.st.read == 2 && seen.st.from_index == 0 && seen.st.index_stale);

	struct store_index *w = store_index_begin(&s);
	index_add_doc(w, "alpha", &a);
	index_add_doc(w, "beta", &b);
	CHECK(store_index_commit(w) == 0);
	CHECK(load(&s, &seen) == 0 && seen.n == 2);
	CHECK(!seen.full[0] && !seen.full[1] && !seen.texts[0]); /* the summaries */
	CHECK(seen.st.from_index == 2 && seen.st.read == 0 && !seen.st.index_stale);

	/* a document written after the index: read, the other still from the index */
	CHECK(store_save(&s, "alpha", doc, false, &a, &c) == 0);
	CHECK(c.ino != a.ino || c.size != a.size || c.mtime_ns != a.mtime_ns);
	CHECK(load(&s, &seen) == 0 && seen.n == 2);
	CHECK(seen.full[0] && seen.texts[0] && !seen.full[1]);
	CHECK(seen.held[0] && seen.held[1]); /* the index's (older) identity comes along */
	CHECK(seen.st.read == 1 && seen.st.from_index == 1 && seen.st.index_stale);

	/* replaced by hand with other content: the index does not vouch for it */
	SH("printf '{\"v\":1,\"t\":\"x\"}' > %s/guests/beta.json.new && "
	   "mv %s/guests/beta.json.new %s/guests/beta.json", dir, dir, dir);
	CHECK(load(&s, &seen) == 0 && seen.full[1] && seen.texts[1]);

	/* a file the index names is gone: stale */
	w = store_index_begin(&s);
	index_add_doc(w, "alpha", &c);
	index_add_doc(w, "gone", &b);
	CHECK(store_index_commit(w) == 0);
	CHECK(load(&s, &seen) == 0 && seen.n == 2 && !seen.full[0] && seen.st.index_stale);

	/* damaged (torn, garbage): whatever it cannot vouch for is read, nothing lost */
	SH("printf '{\"vmd_index\":1}\n{\"n\":\"alpha\",\"i\":' > %s/guests/.index", dir);
	CHECK(load(&s, &seen) == 0 && seen.n == 2 && seen.full[0] && seen.full[1]);
	CHECK(seen.st.index_stale);
	SH("printf 'garbage' > %s/guests/.index", dir);
	CHECK(load(&s, &seen) == 0 && seen.n == 2 && seen.st.read == 2 && seen.st.index_stale);

	/* a rewrite never gets the identity an older index holds for the name, even when the
	 * file system hands out the freed inode again within one clock tick */
	struct store_id first, now;
	CHECK(store_save(&s, "alpha", doc, false, NULL, &first) == 0);
	for (int i = 0; i < 50; i++) {
		CHECK(store_save(&s, "alpha", doc, false, &first, &now) == 0);
		CHECK(now.ino != first.ino || now.size != first.size ||
		      now.mtime_ns != first.mtime_ns);
	}
	json_decref(doc);
	store_close(&s);
	SH("rm -f %s/guests/* %s/guests/.index", dir, dir);
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
	RUN(index_vouches_for_what_it_saw);
	SH("rm -rf %s", dir);
	TEST_DONE();
}
