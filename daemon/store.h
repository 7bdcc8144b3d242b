/*
 * store.h: persistent guest definitions, one JSON document per guest under
 * <state-dir>/guests/<name>.json, written atomically (temp file, fsync, rename, fsync dir).
 *
 * The store knows files and JSON documents, not guests: vm.c builds and reads the documents.
 * A file that cannot be read or parsed, or whose name does not match its content, is reported
 * and skipped at load and never overwritten: saving a new guest over it is refused.
 */
#ifndef VMD_STORE_H
#define VMD_STORE_H

#include <jansson.h>
#include <stdbool.h>

struct store {
	char *dir; /* <state-dir>/guests */
};

/* Creates the directory if needed and removes leftover temp files of an interrupted write. */
int store_open(struct store *s, const char *state_dir);
void store_close(struct store *s);

/* Called for each readable document; name is the file's guest name. The callback returns 0 to
 * accept, -1 to report the file as unusable (err says why). doc is borrowed. */
struct err;
typedef int store_load_fn(void *arg, const char *name, json_t *doc, struct err *err);
/* Loads every document. Returns the number of files skipped (reported with log_warn). */
int store_load_all(struct store *s, store_load_fn *fn, void *arg);

/* Writes the document for name. With create, refuses (EEXIST) when any file of that name
 * exists, readable or not. 0 / -1 with errno. */
int store_save(struct store *s, const char *name, json_t *doc, bool create);
/* Removes name's document. 0 / -1 with errno (ENOENT if absent). */
int store_remove(struct store *s, const char *name);
/* Is there a file for name (readable or not)? */
bool store_exists(const struct store *s, const char *name);

#endif
