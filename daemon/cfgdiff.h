/*
 * cfgdiff.h: what differs between two xl.cfg texts, key by key, and the item edits that keep
 * a text in step with a running domain (vm.update, the pending changes of vm.info).
 */
#ifndef VMD_CFGDIFF_H
#define VMD_CFGDIFF_H

#include <jansson.h>
#include <stdbool.h>

/* The differences between two valid, normalised texts, in the order of to's keys (then
 * from's): an array of {"key", "id" (disk, vif), "live": from's value or null, "config":
 * to's value or null}. A value is what libxlutil reads (a string, or a list); the disk and
 * vif lists are compared item by item, by vdev and by MAC, each item by its meaning (a disk
 * spec as xlu_disk_parse reads it, a vif spec's options in any order). New reference. */
json_t *cfgdiff(const char *from, const char *to);

/* The id of a disk spec (its vdev) or a vif spec (its MAC, lower case), malloc'ed; NULL
 * when it has none or does not parse. key: "disk" or "vif". */
char *cfgdiff_item_id(const char *key, const char *spec);

/* Do two items of list key (disk, vif) mean the same but for option (a vif's rate)? */
bool cfgdiff_same_but(const char *key, const char *a, const char *b, const char *option);

/* text with the item of list key whose id is id replaced by spec, or removed (spec NULL);
 * spec appended when no item has that id. malloc'ed; NULL when the key's value is not a
 * list of strings. */
char *cfgdiff_edit_item(const char *text, const char *key, const char *id, const char *spec);

#endif
