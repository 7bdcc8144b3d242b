/*
 * snapshot.c: see snapshot.h.
 */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "util.h"
#include "xlcfg.h"

#define SNAP_RECORD_MAX (1 << 20)

bool snap_name_valid(const char *snap)
{
	return snap && vm_name_valid(snap);
}

char *snap_copy_path(const char *image, const char *snap)
{
	return xasprintf("%s@%s", image, snap);
}

static char *dir_of(struct daemon *d, const char *guest)
{
	return xasprintf("%s/snapshots/%s", d->state_dir, guest);
}

static char *path_of(struct daemon *d, const char *guest, const char *snap)
{
	return xasprintf("%s/snapshots/%s/%s.json", d->state_dir, guest, snap);
}

json_t *snap_load(struct daemon *d, const char *guest, const char *snap)
{
	char *path = path_of(d, guest, snap);
	size_t len = 0;
	char *text = read_file(path, SNAP_RECORD_MAX, &len);
	free(path);
	if (!text)
		return NULL;
	json_error_t je;
	json_t *rec = json_loadb(text, len, 0, &je);
	free(text);
	if (!json_is_object(rec)) {
		json_decref(rec);
		errno = EINVAL;
		return NULL;
	}
	return rec;
}

int snap_store(struct daemon *d, const char *guest, const char *snap, json_t *rec)
{
	char *dir = dir_of(d, guest), *path = path_of(d, guest, snap);
	char *text = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS);
	int r = -1;
	if (text && mkdir_p(dir, 0700) == 0 &&
	    write_file_atomic(path, text, strlen(text), 0600) == 0)
		r = 0;
	int e = errno;
	free(text);
	free(dir);
	free(path);
	errno = e;
	return r;
}

int snap_forget(struct daemon *d, const char *guest, const char *snap)
{
	char *dir = dir_of(d, guest), *path = path_of(d, guest, snap);
	int r = unlink(path) < 0 && errno != ENOENT ? -1 : 0;
	int e = errno;
	if (r == 0) {
		fsync_parent_dir(path);
		rmdir(dir); /* only when empty */
	}
	free(dir);
	free(path);
	errno = e;
	return r;
}

static int by_created(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	double cx = json_number_value(json_object_get(x, "created"));
	double cy = json_number_value(json_object_get(y, "created"));
	if (cx != cy)
		return cx < cy ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "snapshot")),
		      json_string_value(json_object_get(y, "snapshot")));
}

json_t *snap_list(struct daemon *d, const char *guest)
{
	char *dir = dir_of(d, guest);
	DIR *dh = opendir(dir);
	free(dir);
	json_t **recs = NULL;
	size_t n = 0;
	struct dirent *e;
	while (dh && (e = readdir(dh))) {
		size_t len = strlen(e->d_name);
		if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		char *snap = xstrdup(e->d_name);
		snap[len - 5] = '\0';
		json_t *rec = snap_name_valid(snap) ? snap_load(d, guest, snap) : NULL;
		free(snap);
		if (!rec || !json_is_string(json_object_get(rec, "snapshot"))) {
			json_decref(rec);
			continue;
		}
		recs = xrealloc(recs, (n + 1) * sizeof *recs);
		recs[n++] = rec;
	}
	if (dh)
		closedir(dh);
	if (n)
		qsort(recs, n, sizeof *recs, by_created);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, recs[i]);
	free(recs);
	return out;
}

bool snap_owns(struct daemon *d, const char *guest, const char *path)
{
	json_t *recs = snap_list(d, guest);
	bool found = false;
	size_t i, k;
	json_t *rec, *disk;
	json_array_foreach(recs, i, rec) {
		json_array_foreach(json_object_get(rec, "disks"), k, disk) {
			const char *copy = json_string_value(json_object_get(disk, "copy"));
			found |= copy && strcmp(copy, path) == 0;
		}
	}
	json_decref(recs);
	return found;
}

char *snap_memory_path(struct daemon *d, const char *guest, const char *snap)
{
	return xasprintf("%s/snapshots/%s/%s.save", d->state_dir, guest, snap);
}

int snap_memory_dir(struct daemon *d, const char *guest)
{
	char *dir = dir_of(d, guest);
	int r = mkdir_p(dir, 0700);
	int e = errno;
	free(dir);
	errno = e;
	return r;
}

/* A guest's directory: each memory file whose record is missing goes. */
static void scan_guest(struct daemon *d, const char *guest)
{
	char *dir = dir_of(d, guest);
	DIR *dh = opendir(dir);
	struct dirent *e;
	while (dh && (e = readdir(dh))) {
		size_t len = strlen(e->d_name);
		if (len <= 5 || strcmp(e->d_name + len - 5, ".save") != 0)
			continue;
		char *snap = xstrdup(e->d_name);
		snap[len - 5] = '\0';
		char *rec = path_of(d, guest, snap), *mem = snap_memory_path(d, guest, snap);
		if (snap_name_valid(snap) && access(rec, F_OK) < 0 && errno == ENOENT) {
			if (unlink(mem) == 0)
				log_info("%s: removed %s: a snapshot's memory that no record names "
					 "(vmd stopped while taking it)", guest, mem);
		}
		free(rec);
		free(mem);
		free(snap);
	}
	if (dh)
		closedir(dh);
	rmdir(dir); /* only when empty */
	free(dir);
}

void snap_scan(struct daemon *d)
{
	char *top = xasprintf("%s/snapshots", d->state_dir);
	DIR *dh = opendir(top);
	free(top);
	struct dirent *e;
	while (dh && (e = readdir(dh)))
		if (vm_name_valid(e->d_name))
			scan_guest(d, e->d_name);
	if (dh)
		closedir(dh);
}
