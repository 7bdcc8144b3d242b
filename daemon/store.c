/*
 * store.c: see store.h. Documents are at most STORE_MAX_DOC; larger files are treated as
 * foreign.
 *
 * The index is a text file: a first line {"vmd_index":1}, then one line per document,
 * {"n":NAME,"i":INODE,"s":SIZE,"m":MTIME_NS,"d":SUMMARY}, NAME first so that a load finds
 * the line of a file without parsing the others.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "hmap.h"
#include "log.h"
#include "util.h"
#include "vmd-proto.h"

/* What a document may hold: the xl.cfg text (XLCFG_TEXT_MAX) escaped as JSON (at most twice
 * its size) and the lists beside it. A document is refused at write when a read would refuse
 * it, so a stored definition is never lost at the next start. */
#define STORE_MAX_DOC (4 * 1024 * 1024)
/* An index larger than this is not read (the documents are): 100,000 guests fit. */
#define STORE_MAX_INDEX (256 * 1024 * 1024)
#define INDEX_HEADER "{\"vmd_index\":1}\n"

static char *doc_path(const struct store *s, const char *name)
{
	return xasprintf("%s/%s.json", s->dir, name);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int store_open(struct store *s, const char *state_dir)
{
	s->dir = xasprintf("%s/guests", state_dir);
	s->index = xasprintf("%s/.index", s->dir);
	if (mkdir_p(s->dir, 0700) < 0) {
		int e = errno;
		free(s->dir);
		free(s->index);
		s->dir = s->index = NULL;
		errno = e;
		return -1;
	}
	/* A crash between creating a temp file and renaming it leaves ".<name>.XXXXXX.tmp":
	 * never a final name, so removing it loses nothing that was committed. */
	DIR *dir = opendir(s->dir);
	if (!dir)
		return -1;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' && has_suffix(de->d_name, ".tmp")) {
			if (unlinkat(dirfd(dir), de->d_name, 0) == 0)
				log_info("store: removed leftover temp file %s/%s", s->dir, de->d_name);
		}
	}
	closedir(dir);
	return 0;
}

void store_close(struct store *s)
{
	free(s->dir);
	free(s->index);
	s->dir = s->index = NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void id_of(const struct stat *st, struct store_id *id)
{
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static bool id_equal(const struct store_id *a, const struct store_id *b)
{
	return a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* Reads and parses the document file (in the directory dfd). 0, or -1 with why and errno
 * (EINVAL: not a regular file, or not a JSON object). */
static int read_doc(int dfd, const char *file, json_t **doc, struct store_id *id,
		    struct err *why)
{
	*doc = NULL;
	size_t len;
	struct stat st;
	char *text = read_file_at(dfd, file, STORE_MAX_DOC, &len, &st);
	if (!text) {
		int e = errno;
		err_set(why, VMD_ERR_IO, "%s", strerror(e));
		errno = e;
		return -1;
	}
	id_of(&st, id);
	json_error_t jerr;
	*doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!*doc || !json_is_object(*doc)) {
		err_set(why, VMD_ERR_IO, "not a JSON object%s%s", *doc ? "" : ": ",
			*doc ? "" : jerr.text);
		json_decref(*doc);
		*doc = NULL;
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The index as read at load: each line by the name it starts with (keys and values point
 * into buf). */
struct index_read {
	char *buf;
	struct hmap lines; /* name -> struct index_line */
	struct index_line {
		const char *text;
		size_t len;
		bool used;
	} *entries;
	size_t n;
	bool damaged;
};

static void index_read(struct store *s, struct index_read *ix)
{
	memset(ix, 0, sizeof *ix);
	hmap_init(&ix->lines);
	size_t len;
	ix->buf = read_file(s->index, STORE_MAX_INDEX, &len);
	if (!ix->buf) {
		if (errno != ENOENT)
			log_warn("store: cannot read %s (%s): reading every document", s->index,
				 strerror(errno));
		ix->damaged = true; /* to be written once the documents are loaded */
		return;
	}
	size_t hl = strlen(INDEX_HEADER);
	if (len < hl || memcmp(ix->buf, INDEX_HEADER, hl) != 0) {
		log_warn("store: %s is not an index of this version: reading every document",
			 s->index);
		ix->damaged = true;
		return;
	}
	size_t cap = 0;
	for (char *p = ix->buf + hl, *end = ix->buf + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			ix->damaged = true; /* a torn last line: ignored */
			break;
		}
		static const char pre[] = "{\"n\":\"";
		char *name = NULL, *q = NULL;
		if ((size_t)(nl - p) > sizeof pre && memcmp(p, pre, sizeof pre - 1) == 0) {
			name = q = p + sizeof pre - 1;
			while (q < nl && *q != '"')
				q++;
		}
		if (!name || q == name || q >= nl) {
			ix->damaged = true;
		} else {
			if (ix->n == cap) {
				cap = cap ? cap * 2 : 256;
				ix->entries = xrealloc(ix->entries, cap * sizeof *ix->entries);
			}
			ix->entries[ix->n] = (struct index_line){p, (size_t)(nl - p), false};
			/* A name given twice: the first line wins, the second counts as unused. */
			hmap_put(&ix->lines, name, (size_t)(q - name), (void *)(uintptr_t)(ix->n + 1));
			ix->n++;
		}
		p = nl + 1;
	}
}

static void index_read_free(struct index_read *ix)
{
	hmap_finish(&ix->lines);
	free(ix->entries);
	free(ix->buf);
}

/* The summary the index holds for file name when it still describes the file with this
 * identity. New reference, or NULL. *held: the identity the index holds for name, if any. */
static json_t *index_summary(struct index_read *ix, const char *name, const struct store_id *id,
			     struct store_id *held, bool *has_held)
{
	*has_held = false;
	uintptr_t k = (uintptr_t)hmap_get(&ix->lines, name, strlen(name));
	if (!k)
		return NULL;
	struct index_line *e = &ix->entries[k - 1];
	e->used = true;
	json_t *line = json_loadb(e->text, e->len, 0, NULL);
	json_int_t ino = 0, size = 0, mtime = 0;
	json_t *d = NULL;
	if (!line || json_unpack(line, "{s:I, s:I, s:I, s:o}", "i", &ino, "s", &size, "m",
				 &mtime, "d", &d) < 0 || !json_is_object(d)) {
		ix->damaged = true;
		json_decref(line);
		return NULL;
	}
	struct store_id have = {(uint64_t)ino, (uint64_t)size, (int64_t)mtime};
	*held = have;
	*has_held = true;
	if (!id_equal(&have, id)) {
		json_decref(line);
		return NULL;
	}
	json_incref(d);
	json_decref(line);
	return d;
}

int store_load_all(struct store *s, store_load_fn *fn, void *arg, struct store_load_stats *stats)
{
	struct store_load_stats dummy;
	struct store_load_stats *st = stats ? stats : &dummy;
	memset(st, 0, sizeof *st);
	DIR *dir = opendir(s->dir);
	if (!dir) {
		log_error("store: cannot open %s: %s", s->dir, strerror(errno));
		return -1;
	}
	/* Sorted, so that load order (and with it list order) is stable across restarts. */
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			names = xrealloc(names, cap * sizeof *names);
		}
		names[n++] = xstrdup(de->d_name);
	}
	if (n > 1)
		qsort(names, n, sizeof *names, cmp_str);
	int dfd = dirfd(dir);
	struct index_read ix;
	index_read(s, &ix);

	for (size_t i = 0; i < n; i++) {
		const char *file = names[i];
		struct err why = {0};
		char *name = NULL;
		json_t *doc = NULL;
		struct store_id id, held;
		bool has_held = false;
		struct stat sb;
		if (!has_suffix(file, ".json")) {
			err_set(&why, VMD_ERR_IO, "not a guest definition (no .json suffix)");
			goto skip;
		}
		name = xstrdup(file);
		name[strlen(name) - 5] = '\0';
		if (!vm_name_valid(name)) {
			err_set(&why, VMD_ERR_IO, "file name is not a valid guest name");
			goto skip;
		}
		if (fstatat(dfd, file, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode)) {
			id_of(&sb, &id);
			json_t *sum = index_summary(&ix, name, &id, &held, &has_held);
			if (sum) {
				int r = fn(arg, name, sum, false, &id, &held, &why);
				json_decref(sum);
				if (r == 0) {
					st->from_index++;
					goto next;
				}
				/* A summary it cannot take: the document decides. */
				err_clear(&why);
				ix.damaged = true;
			}
		}
		if (read_doc(dfd, file, &doc, &id, &why) < 0)
			goto skip;
		st->read++;
		if (fn(arg, name, doc, true, &id, has_held ? &held : NULL, &why) < 0)
			goto skip;
		goto next;
skip:
		log_warn("store: skipping %s/%s: %s (left in place, not overwritten)", s->dir, file,
			 why.msg);
		err_clear(&why);
		st->skipped++;
next:
		json_decref(doc);
		free(name);
		free(names[i]);
	}
	closedir(dir);
	free(names);
	for (size_t i = 0; i < ix.n; i++)
		ix.damaged |= !ix.entries[i].used;
	st->index_stale = ix.damaged || st->read > 0;
	index_read_free(&ix);
	return 0;
}

int store_read(struct store *s, const char *name, json_t **doc, struct store_id *id)
{
	int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	char *file = xasprintf("%s.json", name);
	struct err why = {0};
	struct store_id dummy;
	int r = read_doc(dfd, file, doc, id ? id : &dummy, &why);
	int e = errno;
	err_clear(&why);
	free(file);
	close(dfd);
	errno = e;
	return r;
}

/* A group of one (see store_stage, store_commit). */
int store_save(struct store *s, const char *name, json_t *doc, bool create,
	       const struct store_id *avoid, struct store_id *id)
{
	struct store_staged st;
	if (store_stage(s, name, doc, create, avoid, &st) < 0)
		return -1;
	struct store_staged *one = &st;
	store_commit(s, &one, 1);
	if (st.err) {
		errno = st.err;
		return -1;
	}
	if (id)
		*id = st.id;
	return 0;
}

/* ---- staged writes, committed in groups ---------------------------------------------------- */

static char *encode(json_t *doc, size_t *len)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text) {
		errno = ENOMEM;
		return NULL;
	}
	*len = strlen(text);
	if (*len + 1 > STORE_MAX_DOC) {
		free(text);
		errno = EFBIG;
		return NULL;
	}
	text = xrealloc(text, *len + 2);
	text[(*len)++] = '\n';
	text[*len] = '\0';
	return text;
}

int store_stage(struct store *s, const char *name, json_t *doc, bool create,
		const struct store_id *avoid, struct store_staged *out)
{
	memset(out, 0, sizeof *out);
	out->fd = -1;
	out->final = doc_path(s, name);
	struct stat st;
	if (create && lstat(out->final, &st) == 0) {
		free(out->final);
		errno = EEXIST;
		return -1;
	}
	size_t len;
	char *text = encode(doc, &len);
	if (!text) {
		int e = errno;
		free(out->final);
		errno = e;
		return -1;
	}
	/* the temp name of write_file_atomic's: a leftover is removed at the next start */
	out->tmp = xasprintf("%s/.%s.json.XXXXXX.tmp", s->dir, name);
	out->fd = mkostemps(out->tmp, 4, O_CLOEXEC);
	int e = 0;
	if (out->fd < 0) {
		e = errno;
	} else {
		for (size_t off = 0; off < len && !e;) {
			ssize_t w = write(out->fd, text + off, len - off);
			if (w < 0 && errno != EINTR)
				e = errno;
			else if (w > 0)
				off += (size_t)w;
		}
		if (!e && fchmod(out->fd, 0600) < 0)
			e = errno;
	}
	free(text);
	if (e) {
		if (out->fd >= 0) {
			close(out->fd);
			unlink(out->tmp);
		}
		free(out->tmp);
		free(out->final);
		memset(out, 0, sizeof *out);
		out->fd = -1;
		errno = e;
		return -1;
	}
	out->create = create;
	if (avoid) {
		out->has_avoid = true;
		out->avoid = *avoid;
	}
	return 0;
}

static void staged_end(struct store_staged *st)
{
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	if (st->err && st->tmp)
		unlink(st->tmp);
	free(st->tmp);
	free(st->final);
	st->tmp = st->final = NULL;
}

void store_commit(struct store *s, struct store_staged *const *group, size_t n)
{
	for (size_t i = 0; i < n; i++) /* writeback of them all under way first */
		sync_file_range(group[i]->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	for (size_t i = 0; i < n; i++) {
		struct store_staged *st = group[i];
		struct stat sb;
		if (fsync(st->fd) < 0 || fstat(st->fd, &sb) < 0)
			st->err = errno;
		else
			id_of(&sb, &st->id);
	}
	size_t renamed = 0;
	for (size_t i = 0; i < n; i++) {
		struct store_staged *st = group[i];
		struct stat sb;
		if (st->err)
			continue;
		if (st->create && lstat(st->final, &sb) == 0)
			st->err = EEXIST;
		else if (rename(st->tmp, st->final) < 0)
			st->err = errno;
		else
			renamed++;
		/* The inode of a replaced file is free again and can come back with the same size
		 * within one clock tick: then an older index would vouch for this file. */
		if (!st->err && st->has_avoid && id_equal(&st->id, &st->avoid)) {
			struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {0, 0}};
			ts[1].tv_sec = (time_t)(st->id.mtime_ns / 1000000000);
			ts[1].tv_nsec = (long)(st->id.mtime_ns % 1000000000) + 1;
			if (ts[1].tv_nsec >= 1000000000) {
				ts[1].tv_sec++;
				ts[1].tv_nsec = 0;
			}
			if (futimens(st->fd, ts) == 0 && fstat(st->fd, &sb) == 0)
				id_of(&sb, &st->id);
		}
	}
	if (renamed) {
		int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int e = dfd < 0 || fsync(dfd) < 0 ? errno : 0;
		if (dfd >= 0)
			close(dfd);
		if (e) /* not durable: none of them counts as stored, none stays */
			for (size_t i = 0; i < n; i++)
				if (!group[i]->err) {
					group[i]->err = e;
					unlink(group[i]->final);
				}
	}
	for (size_t i = 0; i < n; i++)
		staged_end(group[i]);
}

/* ---- the index ---------------------------------------------------------------------------- */

struct store_index {
	struct store *s;
	char **lines;
	size_t n, cap;
};

struct store_index *store_index_begin(struct store *s)
{
	struct store_index *w = xcalloc(1, sizeof *w);
	w->s = s;
	return w;
}

void store_index_add(struct store_index *w, const char *name, const struct store_id *id,
		     json_t *summary)
{
	if (!vm_name_valid(name))
		return;
	char *d = json_dumps(summary, JSON_COMPACT);
	if (!d)
		return;
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 256;
		w->lines = xrealloc(w->lines, w->cap * sizeof *w->lines);
	}
	w->lines[w->n++] = xasprintf("{\"n\":\"%s\",\"i\":%" PRIu64 ",\"s\":%" PRIu64
				     ",\"m\":%" PRId64 ",\"d\":%s}\n",
				     name, id->ino, id->size, id->mtime_ns, d);
	free(d);
}

int store_index_commit(struct store_index *w)
{
	size_t len = strlen(INDEX_HEADER);
	for (size_t i = 0; i < w->n; i++)
		len += strlen(w->lines[i]);
	char *buf = xmalloc(len + 1), *p = buf;
	p = stpcpy(p, INDEX_HEADER);
	for (size_t i = 0; i < w->n; i++) {
		p = stpcpy(p, w->lines[i]);
		free(w->lines[i]);
	}
	free(w->lines);
	int r = write_file_atomic(w->s->index, buf, len, 0600);
	int e = errno;
	free(buf);
	free(w);
	errno = e;
	return r;
}

bool store_exists(const struct store *s, const char *name)
{
	char *path = doc_path(s, name);
	struct stat st;
	bool r = lstat(path, &st) == 0;
	free(path);
	return r;
}

int store_remove(struct store *s, const char *name)
{
	char *path = doc_path(s, name);
	int r = unlink(path);
	int e = errno;
	free(path);
	if (r < 0) {
		errno = e;
		return -1;
	}
	/* Make the removal durable like the writes are. */
	int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}
