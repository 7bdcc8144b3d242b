/*
 * hmap.c: see hmap.h. SipHash-2-4 as specified by Aumasson and Bernstein ("SipHash: a fast
 * short-input PRF", 2012), written from the paper; its test vector is in test-util.c.
 */
#include "hmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util.h"

static uint8_t sip_key[16];
static bool sip_keyed;

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define SIPROUND                                                                         \
	do {                                                                             \
		v0 += v1;                                                                \
		v1 = rotl(v1, 13);                                                       \
		v1 ^= v0;                                                                \
		v0 = rotl(v0, 32);                                                       \
		v2 += v3;                                                                \
		v3 = rotl(v3, 16);                                                       \
		v3 ^= v2;                                                                \
		v0 += v3;                                                                \
		v3 = rotl(v3, 21);                                                       \
		v3 ^= v0;                                                                \
		v2 += v1;                                                                \
		v1 = rotl(v1, 17);                                                       \
		v1 ^= v2;                                                                \
		v2 = rotl(v2, 32);                                                       \
	} while (0)

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	size_t full = len - len % 8;
	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t i = 0; i < len % 8; i++)
		b |= (uint64_t)in[full + i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t hmap_hash(const void *data, size_t len)
{
	if (!sip_keyed) {
		/* Not secret for long if this fails, but still different per process. */
		if (getrandom(sip_key, sizeof sip_key, GRND_NONBLOCK) != (ssize_t)sizeof sip_key) {
			uint64_t t = (uint64_t)(now_monotonic() * 1e9) ^ (uint64_t)getpid();
			memcpy(sip_key, &t, sizeof t);
		}
		sip_keyed = true;
	}
	return siphash24(sip_key, data, len);
}

void hmap_init(struct hmap *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->n = 0;
}

void hmap_finish(struct hmap *m)
{
	free(m->slots);
	hmap_init(m);
}

static bool same(const struct hmap_slot *s, uint64_t h, const void *key, size_t len)
{
	return s->key && s->hash == h && s->len == len && memcmp(s->key, key, len) == 0;
}

void *hmap_get(const struct hmap *m, const void *key, size_t len)
{
	if (!m->n)
		return NULL;
	uint64_t h = hmap_hash(key, len);
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct hmap_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (same(s, h, key, len))
			return s->val;
	}
}

static void place(struct hmap_slot *slots, size_t cap, const struct hmap_slot *e)
{
	size_t mask = cap - 1;
	size_t i = e->hash & mask;
	while (slots[i].key)
		i = (i + 1) & mask;
	slots[i] = *e;
}

static void grow(struct hmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct hmap_slot *slots = xcalloc(cap, sizeof *slots);
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			place(slots, cap, &m->slots[i]);
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
}

void *hmap_put(struct hmap *m, const void *key, size_t len, void *val)
{
	uint64_t h = hmap_hash(key, len);
	if (m->cap) {
		size_t mask = m->cap - 1;
		for (size_t i = h & mask; m->slots[i].key; i = (i + 1) & mask)
			if (same(&m->slots[i], h, key, len))
				return m->slots[i].val;
	}
	if ((m->n + 1) * 4 > m->cap * 3) /* load at most 3/4 */
		grow(m);
	struct hmap_slot e = {.hash = h, .key = key, .len = len, .val = val};
	place(m->slots, m->cap, &e);
	m->n++;
	return NULL;
}

void *hmap_del(struct hmap *m, const void *key, size_t len)
{
	if (!m->n)
		return NULL;
	uint64_t h = hmap_hash(key, len);
	size_t mask = m->cap - 1;
	size_t i = h & mask;
	while (!same(&m->slots[i], h, key, len)) {
		if (!m->slots[i].key)
			return NULL;
		i = (i + 1) & mask;
	}
	void *val = m->slots[i].val;
	/* Backward shift: move later members of the run into the hole when their home slot
	 * does not lie (cyclically) between the hole and them. */
	size_t hole = i;
	for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;
		bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
		if (stays)
			continue;
		m->slots[hole] = m->slots[j];
		hole = j;
	}
	m->slots[hole].key = NULL;
	m->n--;
	return val;
}
