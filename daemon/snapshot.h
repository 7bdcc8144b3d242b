/*
 * snapshot.h: the records of a guest's snapshots (vm.snapshot_*): one JSON document per
 * snapshot in STATE/snapshots/GUEST/SNAP.json, written atomically once the snapshot's images
 * are complete: {"snapshot", "guest", "uuid", "created", "running", "paused_ms"?, "xlcfg",
 * "disks": [{"vdev", "image", "copy", "method"}], "memory"?}. An image named by a record
 * belongs to the guest (job recovery keeps it); a record is the only way vmd knows a
 * snapshot. A snapshot with memory has it in STATE/snapshots/GUEST/SNAP.save (a save file,
 * save.h), named by its record's "memory"; one that no record names is removed at start.
 */
#ifndef VMD_SNAPSHOT_H
#define VMD_SNAPSHOT_H

#include <jansson.h>
#include <stdbool.h>

struct daemon;

/* A snapshot's name: as a guest's (vm_name_valid). */
bool snap_name_valid(const char *snap);
/* Where a snapshot keeps its copy of image: "IMAGE@SNAP", beside it (a reflink needs the
 * same file system). malloc'ed. */
char *snap_copy_path(const char *image, const char *snap);
/* The record, or NULL (errno ENOENT: none). New reference. */
json_t *snap_load(struct daemon *d, const char *guest, const char *snap);
/* Writes the record durably. 0, or -1 with errno. */
int snap_store(struct daemon *d, const char *guest, const char *snap, json_t *rec);
/* Removes the record (and the guest's directory once empty). 0, or -1 with errno. */
int snap_forget(struct daemon *d, const char *guest, const char *snap);
/* Every record of the guest, oldest first. New reference (an array). */
json_t *snap_list(struct daemon *d, const char *guest);
/* Where a snapshot keeps the guest's memory (malloc'ed); the directory, made. */
char *snap_memory_path(struct daemon *d, const char *guest, const char *snap);
int snap_memory_dir(struct daemon *d, const char *guest);
/* At start: memory files that no record names (a crash while taking them) go. */
void snap_scan(struct daemon *d);
/* Does a snapshot of guest name path as its copy? */
bool snap_owns(struct daemon *d, const char *guest, const char *path);

#endif
