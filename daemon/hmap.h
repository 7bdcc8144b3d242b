/*
 * hmap.h: a hash table from byte strings to pointers, for the registry's lookups by name,
 * UUID, MAC and domid (one lookup per request instead of a scan of every guest).
 *
 * Open addressing with linear probing; deletion shifts the run back, so there are no
 * tombstones and a lookup costs the same after any number of removals. Keys are not copied:
 * a key's bytes must stay valid while it is in the table (the registry keys each guest by
 * its own fields). The hash is SipHash-2-4 with a key drawn at start-up, so that names a
 * client chooses cannot be made to collide on purpose.
 */
#ifndef VMD_HMAP_H
#define VMD_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
	uint64_t hash;
	const void *key; /* NULL: free slot */
	size_t len;
	void *val;
};

struct hmap {
	struct hmap_slot *slots;
	size_t cap; /* 0 or a power of two */
	size_t n;
};

void hmap_init(struct hmap *m);
void hmap_finish(struct hmap *m); /* frees the slots, not the keys or values */

void *hmap_get(const struct hmap *m, const void *key, size_t len);
/* Adds key -> val. Returns NULL, or the value already stored under key (then nothing is
 * changed). */
void *hmap_put(struct hmap *m, const void *key, size_t len, void *val);
/* Removes key; returns its value, NULL when absent. */
void *hmap_del(struct hmap *m, const void *key, size_t len);

/* SipHash-2-4 of data under the process's key (also for other tables that want it). */
uint64_t hmap_hash(const void *data, size_t len);
/* SipHash-2-4 under a given key. */
uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
