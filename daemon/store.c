/*
 * store.c: see store.h. Documents are at most 1 MiB; larger files are treated as foreign.
 */
#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "vmd-proto.h"

/* What a document may hold: the xl.cfg text (XLCFG_TEXT_MAX) escaped as JSON (at most twice
 * its size) and the lists beside it. A document is refused at write when a read would refuse
 * it, so a stored definition is never lost at the next start. */
#define STORE_MAX_DOC (4 * 1024 * 1024)

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
	if (mkdir_p(s->dir, 0700) < 0) {
		int e = errno;
		free(s->dir);
		s->dir = NULL;
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
	s->dir = NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_load_all(struct store *s, store_load_fn *fn, void *arg)
{
	DIR *dir = opendir(s->dir);
	if (!dir) {
		log_error("store: cannot open %s: %s", s->dir, strerror(errno));
		return -1;
	}
	/* Sorted, so that load order (and with it list order) is stable across restarts. */
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		names = xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(dir);
	if (n > 1)
		qsort(names, n, sizeof *names, cmp_str);

	int skipped = 0;
	for (size_t i = 0; i < n; i++) {
		const char *file = names[i];
		char *path = xasprintf("%s/%s", s->dir, file);
		struct err why = {0};
		char *name = NULL;
		json_t *doc = NULL;
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
		size_t len;
		char *text = read_file(path, STORE_MAX_DOC, &len);
		if (!text) {
			err_set(&why, VMD_ERR_IO, "%s", strerror(errno));
			goto skip;
		}
		json_error_t jerr;
		doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
		free(text);
		if (!doc || !json_is_object(doc)) {
			err_set(&why, VMD_ERR_IO, "not a JSON object%s%s", doc ? "" : ": ",
				 doc ? "" : jerr.text);
			goto skip;
		}
		if (fn(arg, name, doc, &why) < 0)
			goto skip;
		json_decref(doc);
		free(name);
		free(path);
		free(names[i]);
		continue;
skip:
		log_warn("store: skipping %s: %s (left in place, not overwritten)", path, why.msg);
		err_clear(&why);
		skipped++;
		json_decref(doc);
		free(name);
		free(path);
		free(names[i]);
	}
	free(names);
	return skipped;
}

int store_save(struct store *s, const char *name, json_t *doc, bool create)
{
	char *path = doc_path(s, name);
	if (create) {
		struct stat st;
		if (lstat(path, &st) == 0) {
			free(path);
			errno = EEXIST;
			return -1;
		}
	}
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text) {
		free(path);
		errno = ENOMEM;
		return -1;
	}
	size_t len = strlen(text);
	if (len + 1 > STORE_MAX_DOC) {
		free(text);
		free(path);
		errno = EFBIG;
		return -1;
	}
	text = xrealloc(text, len + 2);
	text[len] = '\n';
	text[len + 1] = '\0';
	int r = write_file_atomic(path, text, len + 1, 0600);
	int e = errno;
	free(text);
	free(path);
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
