/*
 * store.h: persistent guest definitions, one JSON document per guest under
 * <state-dir>/guests/<name>.json, written atomically (temp file, fsync, rename, fsync dir).
 *
 * The store knows files and JSON documents, not guests: vm.c builds and reads the documents.
 * A file that cannot be read or parsed, or whose name does not match its content, is reported
 * and skipped at load and never overwritten: saving a new guest over it is refused.
 *
 * Beside the documents, <state-dir>/guests/.index caches a summary of each (what the caller
 * gives: everything but the xl.cfg text), with the identity (inode, size, mtime) of the file
 * it summarises. At load a document whose file still has that identity is given as its
 * summary, without opening the file; any other document is read. The index is only a cache:
 * a missing, stale or damaged index costs reading the files, nothing else.
 */
#ifndef VMD_STORE_H
#define VMD_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct store {
	char *dir;   /* <state-dir>/guests */
	char *index; /* <state-dir>/guests/.index */
};

/* What a document file is: another write makes another file (a new inode), and the index
 * vouches only for the file it saw. */
struct store_id {
	uint64_t ino;
	uint64_t size;
	int64_t mtime_ns;
};

/* Creates the directory if needed and removes leftover temp files of an interrupted write. */
int store_open(struct store *s, const char *state_dir);
void store_close(struct store *s);

/* Called for each readable document; name is the file's guest name, id its file's identity.
 * With full, doc is the document; without, the index vouched for the file and doc is the
 * summary the index holds for it. held: the identity the index holds for name (NULL: none),
 * which a later write of name must not produce (store_save's avoid) until the index is
 * written again. doc is borrowed. The callback returns 0 to accept, -1 to report the file as
 * unusable (err says why). */
struct err;
typedef int store_load_fn(void *arg, const char *name, json_t *doc, bool full,
			  const struct store_id *id, const struct store_id *held,
			  struct err *err);

struct store_load_stats {
	int skipped;       /* files reported (log_warn) and left alone */
	size_t from_index; /* documents given from the index */
	size_t read;       /* documents read from their files */
	bool index_stale;  /* the index is missing, damaged, or names files that are gone */
};

/* Loads every document, in the order of their file names. 0, -1 when the directory cannot
 * be read. */
int store_load_all(struct store *s, store_load_fn *fn, void *arg, struct store_load_stats *st);

/* Reads one document (when only its summary was loaded). 0, or -1 with errno (ENOENT, EINVAL
 * when it is not a JSON object, ...). *doc is a new reference; id may be NULL. */
int store_read(struct store *s, const char *name, json_t **doc, struct store_id *id);

/* Writes the document for name. With create, refuses (EEXIST) when any file of that name
 * exists, readable or not. id, if not NULL, receives the new file's identity, which is
 * never *avoid (the one an older index may hold for name; NULL: any). 0 / -1 with errno. */
int store_save(struct store *s, const char *name, json_t *doc, bool create,
	       const struct store_id *avoid, struct store_id *id);
/* The same in two steps, so that a group of documents shares its syncs: store_stage writes
 * the document to its temporary file (nothing durable, nothing in place yet); store_commit
 * makes a group of staged documents durable and puts each in place with one round of syncs
 * (every file's writeback started before the first fsync, so that a journaling file system
 * commits them together, then one fsync of the directory). Each staged document ends with err
 * 0 and id set, or err an errno and nothing of it left; either way it is finished. */
struct store_staged {
	char *tmp, *final;
	int fd;
	bool create;
	bool has_avoid;
	struct store_id avoid;
	struct store_id id; /* the result: the new file's identity */
	int err;            /* the result: 0, or why it was not stored */
};
int store_stage(struct store *s, const char *name, json_t *doc, bool create,
		const struct store_id *avoid, struct store_staged *out); /* 0 / -1 errno */
void store_commit(struct store *s, struct store_staged *const *group, size_t n);

/* Removes name's document. 0 / -1 with errno (ENOENT if absent). */
int store_remove(struct store *s, const char *name);
/* Is there a file for name (readable or not)? */
bool store_exists(const struct store *s, const char *name);

/* Writes the index anew: store_index_add for each document (summary borrowed), then
 * store_index_commit (atomic, like a document; frees w). */
struct store_index;
struct store_index *store_index_begin(struct store *s);
void store_index_add(struct store_index *w, const char *name, const struct store_id *id,
		     json_t *summary);
int store_index_commit(struct store_index *w); /* 0 / -1 errno */

#endif
