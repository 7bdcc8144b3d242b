/*
 * xlkeys.c: the table of xl.cfg keys and, for each, its translation into
 * libxl_domain_config as xl 4.17 makes it (tools/xl/xl_parse.c, parse_config_data, read
 * line by line and written again here: same order, same defaults, same libxl calls where
 * they need no libxl context, their context-free equivalent where they do).
 *
 * Where vmd is stricter than xl, on purpose (README, "Deliberate differences"): a value xl
 * warns about and then ignores (a number that is not one, a list where one value belongs, an
 * unknown word in a device spec) is an error here, naming the key; xl would build a guest
 * that is not what the file says.
 */
#include "xlkeys.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <libxl_utils.h>

#include "util.h"
#include "vmd-proto.h"

#ifndef VMD_XEN_FIRMWAREDIR
#define VMD_XEN_FIRMWAREDIR "/usr/lib/xen-4.17/boot"
#endif

/* xen/hvm/e820.h and xen/hvm/params.h values xl checks mmio_hole and mca_caps with */
#define HVM_BELOW_4G_MMIO_START 0xF0000000ULL
#define HVM_BELOW_4G_MMIO_LENGTH ((1ULL << 32) - HVM_BELOW_4G_MMIO_START)
#define XEN_HVM_MCA_CAP_LMCE (1ULL << 0)

/* ---- messages ---------------------------------------------------------------------------- */

int xlkeys_fail(struct xk *x, const char *fmt, ...)
{
	char text[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	err_clear(x->err);
	const char *key = x->key ? x->key->name : NULL;
	if (key) {
		err_set(x->err, VMD_ERR_INVALID_CONFIG, "%s: %s", key, text);
		err_add_str(x->err, "key", key);
	} else {
		err_set(x->err, VMD_ERR_INVALID_CONFIG, "%s", text);
	}
	return -1;
}

/* A key other than the row's own (a group's member). */
static int fail_key(struct xk *x, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_key(struct xk *x, const char *key, const char *fmt, ...)
{
	char text[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	err_clear(x->err);
	err_set(x->err, VMD_ERR_INVALID_CONFIG, "%s: %s", key, text);
	err_add_str(x->err, "key", key);
	return -1;
}

void xlkeys_warn(struct xk *x, const char *key, const char *fmt, ...)
{
	char text[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	x->warnings = xrealloc(x->warnings, (x->n_warnings + 1) * sizeof *x->warnings);
	x->warnings[x->n_warnings++] = xasprintf("%s: %s", key, text);
}

/* A value for a message: control bytes become '?', long ones are cut. */
static const char *show(char buf[72], const char *s)
{
	size_t n = 0;
	for (; s && *s && n < 68; s++)
		buf[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	if (s && *s)
		memcpy(buf + n, "...", 3), n += 3;
	buf[n] = '\0';
	utf8_mend(buf);
	return buf;
}

/* ---- reading values, as libxlutil does, but refusing what xl would only warn about ---------- */

unsigned xlkeys_form(const XLU_Config *cfg, const char *key)
{
	const char *s;
	XLU_ConfigList *list;
	if (xlu_cfg_get_string(cfg, key, &s, 1) == 0)
		return XV_STRING;
	if (xlu_cfg_get_list(cfg, key, &list, NULL, 1) != 0)
		return 0;
	for (int i = 0;; i++) {
		XLU_ConfigValue *v = xlu_cfg_get_listitem2(list, i);
		if (!v)
			break;
		if (xlu_cfg_value_type(v) == XLU_LIST)
			return XV_NESTED;
	}
	return XV_LIST;
}

/* 1 = read, 0 = absent, -1 = an error (the key is there but not a string). */
static int get_str(struct xk *x, const char *key, const char **out)
{
	int r = xlu_cfg_get_string(x->cfg, key, out, 1);
	if (r == ESRCH)
		return 0;
	if (r)
		return fail_key(x, key, "expected one value, not a list");
	return 1;
}

/* Replaces *field with the key's string (xlu_cfg_replace_string). */
static int take_str(struct xk *x, const char *key, char **field)
{
	const char *s;
	int r = get_str(x, key, &s);
	if (r <= 0)
		return r;
	free(*field);
	*field = xstrdup(s);
	return 1;
}

/* A number as libxlutil reads it (strtol, base 0), within [min, max]. */
static int get_long_in(struct xk *x, const char *key, long min, long max, long *out)
{
	const char *s;
	char b[72];
	int r = get_str(x, key, &s);
	if (r <= 0)
		return r;
	errno = 0;
	char *end;
	long l = strtol(s, &end, 0);
	if (errno == ERANGE)
		return fail_key(x, key, "%s is out of range", show(b, s));
	if (end == s || *end)
		return fail_key(x, key, "'%s' is not a valid number", show(b, s));
	if (l < min || l > max)
		return fail_key(x, key, "%ld is out of range (%ld..%ld)", l, min, max);
	*out = l;
	return 1;
}

static int get_long(struct xk *x, const char *key, long *out)
{
	return get_long_in(x, key, LONG_MIN, LONG_MAX, out);
}

/* xlu_cfg_get_defbool: any number, nonzero is true. */
static int get_defbool(struct xk *x, const char *key, libxl_defbool *b)
{
	long l = 0;
	int r = get_long(x, key, &l);
	if (r == 1)
		libxl_defbool_set(b, l != 0);
	return r;
}

/* 1 = a list (*list, *n), 0 = absent, -1 = error (a single value). */
static int get_list(struct xk *x, const char *key, XLU_ConfigList **list, int *n)
{
	int r = xlu_cfg_get_list(x->cfg, key, list, n, 1);
	if (r == ESRCH)
		return 0;
	if (r)
		return fail_key(x, key, "expected a list [ ... ], not a single value");
	return 1;
}

/* The string items of a list; a nested list where strings belong is an error. */
static const char *item(struct xk *x, XLU_ConfigList *list, int i, bool *bad)
{
	XLU_ConfigValue *v = xlu_cfg_get_listitem2(list, i);
	if (!v)
		return NULL;
	if (xlu_cfg_value_type(v) != XLU_STRING) {
		*bad = true;
		return NULL;
	}
	return xlu_cfg_get_listitem(list, i);
}

/* xlu_cfg_get_list_as_string_list. */
static int take_string_list(struct xk *x, const char *key, libxl_string_list *out)
{
	XLU_ConfigList *list;
	int n = 0;
	int r = get_list(x, key, &list, &n);
	if (r <= 0)
		return r;
	libxl_string_list sl = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		bool bad = false;
		const char *s = item(x, list, i, &bad);
		if (bad) {
			libxl_string_list_dispose(&sl);
			return fail_key(x, key, "item %d is a list, not a string", i + 1);
		}
		sl[i] = xstrdup(s);
	}
	libxl_string_list_dispose(out);
	*out = sl;
	return 1;
}

/* A list or one string, as xl takes serial, usbdevice, cpus, cpuid, bootloader_args. */
static int list_or_string(struct xk *x, const char *key, XLU_ConfigList **list, int *n,
			  const char **s)
{
	*list = NULL;
	*s = NULL;
	if (xlu_cfg_get_list(x->cfg, key, list, n, 1) == 0)
		return 1;
	return get_str(x, key, s);
}

/* ---- bitmaps without a context (libxl_bitmap_dispose frees map) ---------------------------- */

static void bitmap_alloc(libxl_bitmap *bm, int n_bits)
{
	libxl_bitmap_init(bm);
	bm->size = (uint32_t)(n_bits + 7) / 8;
	bm->map = xcalloc(bm->size ? bm->size : 1, 1);
}

/* libxl_cpu_bitmap_alloc: max_cpus 0 means the host's. */
static void cpu_bitmap_alloc(struct xk *x, libxl_bitmap *bm, int max_cpus)
{
	bitmap_alloc(bm, max_cpus > 0 ? max_cpus : x->host->max_cpus);
}

static void bitmap_copy(libxl_bitmap *dst, const libxl_bitmap *src)
{
	bitmap_alloc(dst, (int)src->size * 8);
	memcpy(dst->map, src->map, src->size);
}

/* ---- shared parsing helpers ----------------------------------------------------------------- */

/* "3" or "2-5" (decimal), nothing after: xl's parse_range. 0, or 1 when invalid. */
static int parse_range(const char *s, unsigned long *a, unsigned long *b)
{
	char *end;
	errno = 0;
	*a = *b = strtoul(s, &end, 10);
	if (end == s || *a == ULONG_MAX)
		return 1;
	if (*end == '-') {
		const char *n = end + 1;
		*b = strtoul(n, &end, 10);
		if (end == n || *b == ULONG_MAX || *b < *a)
			return 1;
	}
	return *end != '\0';
}

/* One element of a cpu list: "all", "3", "2-5", "^4", "nodes:0-1", "^node:1". */
static int cpumap_range(struct xk *x, const char *key, const char *s, libxl_bitmap *map)
{
	char b[72];
	bool not = false, nodes = false;
	if (*s == '^') {
		not = true;
		s++;
	}
	if (strncmp(s, "node:", 5) == 0) {
		nodes = true;
		s += 5;
	} else if (strncmp(s, "nodes:", 6) == 0) {
		nodes = true;
		s += 6;
	}
	if (strcmp(s, "all") == 0) {
		if (not)
			return fail_key(x, key, "cannot combine \"^\" and \"all\"");
		libxl_bitmap_set_any(map);
		return 0;
	}
	unsigned long a, e;
	if (parse_range(s, &a, &e))
		return fail_key(x, key, "invalid pcpu range '%s'", show(b, s));
	for (; a <= e; a++) {
		if (!nodes) {
			if (not)
				libxl_bitmap_reset(map, (int)a);
			else
				libxl_bitmap_set(map, (int)a);
			continue;
		}
		for (int c = 0; c < x->host->max_cpus; c++) {
			int node = x->host->cpu_node ? x->host->cpu_node[c] : 0;
			if ((unsigned long)node != a)
				continue;
			if (not)
				libxl_bitmap_reset(map, c);
			else
				libxl_bitmap_set(map, c);
		}
		if (a == ULONG_MAX - 1)
			break;
	}
	return 0;
}

/* A comma list of ranges into map (xl's parse_cpurange). */
static int cpumap_parse(struct xk *x, const char *key, const char *spec, libxl_bitmap *map)
{
	char *buf = xstrdup(spec), *save = NULL;
	int r = 0;
	for (char *p = strtok_r(buf, ",", &save); p && r == 0; p = strtok_r(NULL, ",", &save))
		r = cpumap_range(x, key, p, map);
	free(buf);
	return r;
}

/* strtoul that must consume something (xl's parse_ulong, an error instead of exit). */
static int parse_ulong(struct xk *x, const char *key, const char *s, unsigned long *out)
{
	char b[72];
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || v == ULONG_MAX)
		return fail_key(x, key, "cannot convert '%s' to a number", show(b, s));
	*out = v;
	return 0;
}

/* Splits s at any of delim, as strtok does (empty fields vanish). */
static libxl_string_list split(const char *s, const char *delim)
{
	size_t n = 0;
	libxl_string_list out = xcalloc(1, sizeof(char *));
	char *buf = xstrdup(s), *save = NULL;
	for (char *p = strtok_r(buf, delim, &save); p; p = strtok_r(NULL, delim, &save)) {
		out = xrealloc(out, (n + 2) * sizeof(char *));
		out[n++] = xstrdup(p);
		out[n] = NULL;
	}
	free(buf);
	return out;
}

static char *trim(const char *s)
{
	const char *e = s + strlen(s);
	while (*s && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	return xasprintf("%.*s", (int)(e - s), s);
}

/* The first two '='-separated tokens of s, trimmed (xl's split_string_into_pair, then
 * trim). 0, or -1 when there are not two. */
static int split_pair(const char *s, char **a, char **b)
{
	char *buf = xstrdup(s), *save = NULL;
	char *p = strtok_r(buf, "=", &save);
	char *q = p ? strtok_r(NULL, "=", &save) : NULL;
	int r = -1;
	if (p && q) {
		*a = trim(p);
		*b = trim(q);
		r = 0;
	}
	free(buf);
	return r;
}

/* "key=value" options of a spec, split on ',' with leading blanks skipped (strtok). */
struct opts {
	libxl_string_list items;
	int i;
};

static void opts_init(struct opts *o, const char *spec)
{
	o->items = split(spec, ",");
	o->i = 0;
}

/* The next option, blanks skipped at its start; NULL at the end. */
static const char *opts_next(struct opts *o)
{
	const char *p = o->items[o->i];
	if (!p)
		return NULL;
	o->i++;
	while (*p == ' ')
		p++;
	return p;
}

static void opts_finish(struct opts *o)
{
	libxl_string_list_dispose(&o->items);
}

/* "key=" prefix of an option: the value, or NULL. */
static const char *opt(const char *tok, const char *key)
{
	size_t n = strlen(key);
	if (strncmp(tok, key, n) == 0 && tok[n] == '=')
		return tok + n + 1;
	return NULL;
}

/* Appends an initialised element to arr (count elements) and yields its address. */
#define ARRAY_ADD(arr, count, initfn)                                                        \
	((arr) = xrealloc((arr), sizeof(*(arr)) * ((size_t)(count) + 1)),                   \
	 initfn(&(arr)[(count)]), &(arr)[(count)++])

/* The xm keys: xl reads none of them, vmd says so. */
static int k_xm(struct xk *x)
{
	for (size_t i = 0; i < xl_n_keys; i++)
		if ((xl_keys[i].flags & XF_XM) && xlkeys_form(x->cfg, xl_keys[i].name))
			xlkeys_warn(x, xl_keys[i].name, "an xm (xend) key that xl does not read; "
				    "ignored");
	return 0;
}

/* ---- the rows' translations, in xl's order ---------------------------------------------------- */

#define C (&x->dc->c_info)
#define B (&x->dc->b_info)
#define HVM (B->type == LIBXL_DOMAIN_TYPE_HVM)
#define PV (B->type == LIBXL_DOMAIN_TYPE_PV)
#define PVH (B->type == LIBXL_DOMAIN_TYPE_PVH)

static int k_seclabel(struct xk *x)
{
	/* init_seclabel first: then seclabel is the label the domain runs with after boot */
	if (take_str(x, "init_seclabel", &C->ssid_label) < 0)
		return -1;
	const char *s;
	int r = get_str(x, "seclabel", &s);
	if (r <= 0)
		return r;
	char **to = C->ssid_label ? &B->exec_ssid_label : &C->ssid_label;
	free(*to);
	*to = xstrdup(s);
	return 0;
}

/* "h", "hv", "hvm" all mean hvm: xl compares the first strlen(value) letters. */
static bool prefix_of(const char *s, const char *word)
{
	return strncmp(s, word, strlen(s)) == 0;
}

static int k_type(struct xk *x)
{
	char b[72];
	libxl_defbool_set(&C->run_hotplug_scripts, x->host->run_hotplug_scripts);
	const char *s;
	int r = get_str(x, "type", &s);
	if (r < 0)
		return -1;
	if (r) {
		if (prefix_of(s, "hvm"))
			C->type = LIBXL_DOMAIN_TYPE_HVM;
		else if (prefix_of(s, "pv"))
			C->type = LIBXL_DOMAIN_TYPE_PV;
		else if (prefix_of(s, "pvh"))
			C->type = LIBXL_DOMAIN_TYPE_PVH;
		else
			return xlkeys_fail(x, "invalid domain type '%s' (pv, pvh or hvm)", show(b, s));
	}
	r = get_str(x, "builder", &s);
	if (r < 0)
		return -1;
	if (r) {
		libxl_domain_type bt;
		if (prefix_of(s, "hvm"))
			bt = LIBXL_DOMAIN_TYPE_HVM;
		else if (prefix_of(s, "generic"))
			bt = LIBXL_DOMAIN_TYPE_PV;
		else
			return fail_key(x, "builder", "invalid builder '%s' (hvm or generic; "
					"better: type)", show(b, s));
		if (C->type != LIBXL_DOMAIN_TYPE_INVALID && C->type != bt)
			return fail_key(x, "builder", "contradicts type");
		C->type = bt;
		xlkeys_warn(x, "builder", "deprecated since Xen 4.10; use type = \"%s\"",
			    bt == LIBXL_DOMAIN_TYPE_HVM ? "hvm" : "pv");
	}
	if (C->type == LIBXL_DOMAIN_TYPE_INVALID)
		C->type = LIBXL_DOMAIN_TYPE_PV;
	libxl_domain_build_info_init_type(B, C->type);
	return 0;
}

static int k_hap(struct xk *x)
{
	return get_defbool(x, "hap", &C->hap) < 0 ? -1 : 0;
}

static int k_name(struct xk *x)
{
	int r = take_str(x, "name", &C->name);
	if (r == 0)
		return xlkeys_fail(x, "a domain name must be given");
	return r < 0 ? -1 : 0;
}

static int k_uuid(struct xk *x)
{
	char b[72];
	const char *s;
	int r = get_str(x, "uuid", &s);
	if (r < 0)
		return -1;
	if (r == 0) {
		libxl_uuid_generate(&C->uuid);
		return 0;
	}
	if (libxl_uuid_from_string(&C->uuid, s))
		return xlkeys_fail(x, "invalid UUID '%s'", show(b, s));
	return 0;
}

static int k_oos(struct xk *x)
{
	return get_defbool(x, "oos", &C->oos) < 0 ? -1 : 0;
}

static int k_pool(struct xk *x)
{
	return take_str(x, "pool", &C->pool_name) < 0 ? -1 : 0;
}

static int k_pvshim(struct xk *x)
{
	if (!PVH)
		return 0;
	if (get_defbool(x, "pvshim", &B->u.pvh.pvshim) < 0 ||
	    take_str(x, "pvshim_path", &B->u.pvh.pvshim_path) < 0 ||
	    take_str(x, "pvshim_cmdline", &B->u.pvh.pvshim_cmdline) < 0 ||
	    take_str(x, "pvshim_extra", &B->u.pvh.pvshim_extra) < 0)
		return -1;
	return 0;
}

/* The scheduler's parameters: each a plain number. */
static int k_sched(struct xk *x)
{
	if (x->host->blkdev_start)
		B->blkdev_start = xstrdup(x->host->blkdev_start);
	static const struct {
		const char *key;
		size_t off;
	} p[] = {
		{"cpu_weight", offsetof(libxl_domain_sched_params, weight)},
		{"cap", offsetof(libxl_domain_sched_params, cap)},
		{"period", offsetof(libxl_domain_sched_params, period)},
		{"slice", offsetof(libxl_domain_sched_params, slice)},
		{"latency", offsetof(libxl_domain_sched_params, latency)},
		{"extratime", offsetof(libxl_domain_sched_params, extratime)},
	};
	for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
		long l = 0;
		int r = get_long(x, p[i].key, &l);
		if (r < 0)
			return -1;
		if (r)
			*(int *)((char *)&B->sched_params + p[i].off) = (int)l;
	}
	return 0;
}

static int k_memory(struct xk *x)
{
	long l = 0;
	int r = get_long(x, "memory", &l);
	if (r > 0)
		B->target_memkb = (uint64_t)l * 1024;
	if (r >= 0 && (r = get_long(x, "maxmem", &l)) > 0)
		B->max_memkb = (uint64_t)l * 1024;
	return r < 0 ? -1 : 0;
}

static int k_vcpus(struct xk *x)
{
	long l = 0;
	int r = get_long(x, "vcpus", &l);
	if (r < 0)
		return -1;
	if (r) {
		if (l < 0 || l > INT_MAX)
			return xlkeys_fail(x, "%ld is out of range", l);
		x->vcpus = l;
		cpu_bitmap_alloc(x, &B->avail_vcpus, (int)l);
		for (long i = 0; i < l; i++)
			libxl_bitmap_set(&B->avail_vcpus, (int)i);
	}
	r = get_long(x, "maxvcpus", &l);
	if (r < 0)
		return -1;
	if (r) {
		if (l < 0 || l > INT_MAX)
			return fail_key(x, "maxvcpus", "%ld is out of range", l);
		B->max_vcpus = (int)l;
	}
	return 0;
}

static int k_vuart(struct xk *x)
{
	char b[72];
	const char *s;
	int r = get_str(x, "vuart", &s);
	if (r <= 0)
		return r;
	if (libxl_vuart_type_from_string(s, &B->arch_arm.vuart))
		return xlkeys_fail(x, "invalid value '%s'", show(b, s));
	return 0;
}

/* One vnode's "pnode=N", "size=MiB", "vcpus=0-1,3", "vdistances=10,20". */
static int vnode_option(struct xk *x, const char *opt_text, libxl_vnode_info *p,
			libxl_bitmap *vcpus, unsigned long *max_vcpus, uint64_t *max_memkb)
{
	char *name, *value;
	char b[72];
	if (split_pair(opt_text, &name, &value) < 0)
		return xlkeys_fail(x, "cannot split '%s' into a key and a value",
				   show(b, opt_text));
	int r = 0;
	unsigned long v = 0;
	if (strcmp(name, "pnode") == 0) {
		if ((r = parse_ulong(x, "vnuma", value, &v)) == 0) {
			if (v >= (unsigned long)x->host->nr_nodes)
				r = xlkeys_fail(x, "invalid pnode number %lu (the host has %d)", v,
						x->host->nr_nodes);
			else
				p->pnode = (uint32_t)v;
			libxl_defbool_set(&B->numa_placement, false);
		}
	} else if (strcmp(name, "size") == 0) {
		if ((r = parse_ulong(x, "vnuma", value, &v)) == 0) {
			p->memkb = (uint64_t)v << 10;
			*max_memkb += p->memkb;
		}
	} else if (strcmp(name, "vcpus") == 0) {
		libxl_string_list list = split(value, ",");
		for (int j = 0; list[j]; j++) {
			unsigned long s, e;
			parse_range(list[j], &s, &e); /* xl does not check it either */
			for (; s <= e; s++) {
				libxl_bitmap_set(vcpus, (int)s);
				(*max_vcpus)++;
				if (s == ULONG_MAX)
					break;
			}
		}
		libxl_string_list_dispose(&list);
	} else if (strcmp(name, "vdistances") == 0) {
		libxl_string_list list = split(value, ",");
		for (int j = 0; list[j] && r == 0; j++) {
			if ((r = parse_ulong(x, "vnuma", list[j], &v)) == 0 &&
			    j < p->num_distances)
				p->distances[j] = (uint32_t)v;
		}
		libxl_string_list_dispose(&list);
	} else {
		/* xl ignores what it does not know here; a typo would silently change the guest */
		r = xlkeys_fail(x, "unknown vnode option '%s' (pnode, size, vcpus, vdistances)",
				show(b, name));
	}
	free(name);
	free(value);
	return r;
}

static int k_vnuma(struct xk *x)
{
	XLU_ConfigList *vnuma;
	int n = 0;
	int r = get_list(x, "vnuma", &vnuma, &n);
	if (r <= 0 || n == 0)
		return r;
	B->num_vnuma_nodes = (uint32_t)n;
	B->vnuma_nodes = xcalloc((size_t)n, sizeof *B->vnuma_nodes);
	libxl_bitmap *parsed = xcalloc((size_t)n, sizeof *parsed);
	unsigned long max_vcpus = 0;
	uint64_t max_memkb = 0;
	for (int i = 0; i < n; i++) {
		libxl_vnode_info *p = &B->vnuma_nodes[i];
		libxl_vnode_info_init(p);
		p->distances = xcalloc((size_t)n, sizeof *p->distances);
		p->num_distances = (uint32_t)n;
		cpu_bitmap_alloc(x, &parsed[i], B->max_vcpus);
	}
	for (int i = 0; i < n && r >= 0; i++) {
		XLU_ConfigValue *spec = xlu_cfg_get_listitem2(vnuma, i);
		XLU_ConfigList *opts;
		if (xlu_cfg_value_get_list(x->cfg, spec, &opts, 1)) {
			r = xlkeys_fail(x, "vnode %d is not a list of options", i + 1);
			break;
		}
		for (int j = 0; r >= 0; j++) {
			XLU_ConfigValue *o = xlu_cfg_get_listitem2(opts, j);
			if (!o)
				break;
			char *s;
			if (xlu_cfg_value_get_string(x->cfg, o, &s, 1) || !s)
				continue; /* xl skips what is not a string */
			r = vnode_option(x, s, &B->vnuma_nodes[i], &parsed[i], &max_vcpus,
					 &max_memkb);
		}
	}
	if (r >= 0) {
		if (B->max_vcpus != 0) {
			if ((unsigned long)B->max_vcpus != max_vcpus)
				r = xlkeys_fail(x, "the vnodes' vcpus and maxvcpus do not match");
		} else if ((unsigned long)x->host->online_cpus < max_vcpus) {
			r = xlkeys_fail(x, "more vcpus than the host has cpus; set maxvcpus to "
					"override this check");
		} else {
			B->max_vcpus = (int)max_vcpus;
		}
	}
	if (r >= 0) {
		if (B->max_memkb != LIBXL_MEMKB_DEFAULT && B->max_memkb != max_memkb)
			r = xlkeys_fail(x, "maxmem and the vnodes' sizes do not match");
		else
			B->max_memkb = max_memkb;
	}
	for (int i = 0; i < n; i++) {
		if (r >= 0)
			bitmap_copy(&B->vnuma_nodes[i].vcpus, &parsed[i]);
		libxl_bitmap_dispose(&parsed[i]);
	}
	free(parsed);
	return r < 0 ? -1 : 0;
}

/* After vcpus, maxvcpus, memory, maxmem and vnuma: what is unset follows what is set. */
static int finish_sizes(struct xk *x)
{
	if (B->max_memkb == LIBXL_MEMKB_DEFAULT)
		B->max_memkb = B->target_memkb;
	if (B->max_vcpus == 0)
		B->max_vcpus = (int)x->vcpus;
	if (B->max_vcpus < x->vcpus)
		return fail_key(x, "maxvcpus", "maxvcpus (%d) is below vcpus (%ld)", B->max_vcpus,
				x->vcpus);
	return 0;
}

/* cpus / cpus_soft: one range list for every vcpu, or a list of one per vcpu. */
static int affinity(struct xk *x, const char *key, bool hard)
{
	XLU_ConfigList *list;
	int n = 0;
	const char *s;
	int r = list_or_string(x, key, &list, &n, &s);
	if (r <= 0)
		return r;
	if (s || n > B->max_vcpus)
		n = B->max_vcpus;
	libxl_bitmap *maps = xcalloc(n ? (size_t)n : 1, sizeof *maps);
	if (hard) {
		B->num_vcpu_hard_affinity = (uint32_t)n;
		B->vcpu_hard_affinity = maps;
	} else {
		B->num_vcpu_soft_affinity = (uint32_t)n;
		B->vcpu_soft_affinity = maps;
	}
	if (!s) {
		for (int j = 0; j < n; j++) {
			bool bad = false;
			const char *spec = item(x, list, j, &bad);
			if (bad)
				return fail_key(x, key, "item %d is a list, not a string", j + 1);
			if (!spec)
				break;
			cpu_bitmap_alloc(x, &maps[j], 0);
			if (cpumap_parse(x, key, spec, &maps[j]) < 0)
				return -1;
		}
		libxl_defbool_set(&B->numa_placement, false);
		return 0;
	}
	if (n == 0)
		return 0;
	cpu_bitmap_alloc(x, &maps[0], 0);
	if (cpumap_parse(x, key, s, &maps[0]) < 0)
		return -1;
	for (int i = 1; i < n; i++)
		bitmap_copy(&maps[i], &maps[0]);
	if (!hard)
		libxl_defbool_set(&B->numa_placement, false);
	return 0;
}

static int k_cpus(struct xk *x)
{
	if (finish_sizes(x) < 0)
		return -1;
	return affinity(x, "cpus", true) < 0 || affinity(x, "cpus_soft", false) < 0 ? -1 : 0;
}

static int k_grants(struct xk *x)
{
	static const struct {
		const char *key;
		size_t off;
	} g[] = {
		{"max_grant_frames", offsetof(libxl_domain_build_info, max_grant_frames)},
		{"max_maptrack_frames", offsetof(libxl_domain_build_info, max_maptrack_frames)},
		{"max_grant_version", offsetof(libxl_domain_build_info, max_grant_version)},
	};
	const int dflt[] = {x->host->max_grant_frames, x->host->max_maptrack_frames,
			    x->host->max_grant_version};
	for (size_t i = 0; i < 3; i++) {
		long l = 0;
		int r = get_long_in(x, g[i].key, 0, INT_MAX, &l);
		if (r < 0)
			return -1;
		*(int *)((char *)B + g[i].off) = r ? (int)l : dflt[i];
	}
	/* xl.conf's, for every guest (vmd also takes a guest's own claim_mode: config.c) */
	libxl_defbool_set(&B->claim_mode, x->host->claim_mode);
	return 0;
}

/* xl's names, exactly (not libxl's own spellings). */
static const char *const action_names[] = {
	[LIBXL_ACTION_ON_SHUTDOWN_DESTROY] = "destroy",
	[LIBXL_ACTION_ON_SHUTDOWN_RESTART] = "restart",
	[LIBXL_ACTION_ON_SHUTDOWN_RESTART_RENAME] = "rename-restart",
	[LIBXL_ACTION_ON_SHUTDOWN_PRESERVE] = "preserve",
	[LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_DESTROY] = "coredump-destroy",
	[LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_RESTART] = "coredump-restart",
	[LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET] = "soft-reset",
};

static int action(struct xk *x, const char *key, const char *dflt,
		  libxl_action_on_shutdown *out)
{
	char b[72];
	const char *s = dflt;
	if (get_str(x, key, &s) < 0)
		return -1;
	for (size_t i = 0; i < sizeof action_names / sizeof action_names[0]; i++) {
		if (action_names[i] && strcmp(s, action_names[i]) == 0) {
			*out = (libxl_action_on_shutdown)i;
			return 0;
		}
	}
	return fail_key(x, key, "unknown action '%s' (destroy, restart, rename-restart, "
			"preserve, coredump-destroy, coredump-restart, soft-reset)",
			show(b, s));
}

static int k_actions(struct xk *x)
{
	libxl_domain_config *d = x->dc;
	if (action(x, "on_poweroff", "destroy", &d->on_poweroff) < 0 ||
	    action(x, "on_reboot", "restart", &d->on_reboot) < 0 ||
	    action(x, "on_watchdog", "destroy", &d->on_watchdog) < 0 ||
	    action(x, "on_crash", "destroy", &d->on_crash) < 0 ||
	    action(x, "on_soft_reset", "soft-reset", &d->on_soft_reset) < 0)
		return -1;
	return 0;
}

static int k_e820_host(struct xk *x)
{
	if (!PV)
		return 0;
	return get_defbool(x, "e820_host", &B->u.pv.e820_host) < 0 ? -1 : 0;
}

static int k_pci_flags(struct xk *x)
{
	struct {
		const char *key;
		int *v;
	} f[] = {
		{"pci_msitranslate", &x->pci_msitranslate},
		{"pci_power_mgmt", &x->pci_power_mgmt},
		{"pci_permissive", &x->pci_permissive},
		{"pci_seize", &x->pci_seize},
	};
	for (size_t i = 0; i < 4; i++) {
		long l = 0;
		int r = get_long(x, f[i].key, &l);
		if (r < 0)
			return -1;
		if (r)
			*f[i].v = (int)l;
	}
	return 0;
}

static int k_rdm(struct xk *x)
{
	char b[72];
	const char *s;
	int r = get_str(x, "rdm", &s);
	if (r <= 0)
		return r;
	libxl_rdm_reserve rdm;
	libxl_rdm_reserve_init(&rdm);
	if (xlu_rdm_parse(x->cfg, &rdm, s))
		return xlkeys_fail(x, "invalid rdm '%s' (strategy=host|ignore, "
				   "policy=strict|relaxed)", show(b, s));
	/* xl writes these for every type (the union's hvm member); it only means anything for
	 * hvm guests, the only ones whose build info shows it */
	B->u.hvm.rdm.strategy = rdm.strategy;
	B->u.hvm.rdm.policy = rdm.policy;
	return 0;
}

static int k_pci(struct xk *x)
{
	XLU_ConfigList *list;
	int n = 0;
	char b[72];
	int r = get_list(x, "pci", &list, &n);
	if (r <= 0)
		return r;
	libxl_domain_config *d = x->dc;
	for (int i = 0; i < n; i++) {
		bool bad = false;
		const char *spec = item(x, list, i, &bad);
		if (bad)
			return xlkeys_fail(x, "item %d is a list, not a string", i + 1);
		libxl_device_pci *pci = ARRAY_ADD(d->pcidevs, d->num_pcidevs, libxl_device_pci_init);
		pci->msitranslate = x->pci_msitranslate;
		pci->power_mgmt = x->pci_power_mgmt;
		pci->permissive = x->pci_permissive;
		pci->seize = x->pci_seize;
		pci->rdm_policy = B->u.hvm.rdm.policy; /* the global policy, as xl reads it */
		if (xlu_pci_parse_spec_string(x->cfg, pci, spec))
			return xlkeys_fail(x, "cannot parse PCI_SPEC_STRING '%s'", show(b, spec));
	}
	if (d->num_pcidevs && PV)
		libxl_defbool_set(&B->u.pv.e820_host, true);
	return 0;
}

static int k_dtdev(struct xk *x)
{
	XLU_ConfigList *list;
	int n = 0;
	int r = get_list(x, "dtdev", &list, &n);
	if (r <= 0)
		return r;
	libxl_domain_config *d = x->dc;
	for (int i = 0; i < n; i++) {
		bool bad = false;
		const char *path = item(x, list, i, &bad);
		if (bad)
			return xlkeys_fail(x, "item %d is a list, not a string", i + 1);
		libxl_device_dtdev *dt = ARRAY_ADD(d->dtdevs, d->num_dtdevs, libxl_device_dtdev_init);
		dt->path = xstrdup(path);
	}
	return 0;
}

static int k_passthrough(struct xk *x)
{
	char b[72];
	const char *s;
	int r = get_str(x, "passthrough", &s);
	if (r <= 0)
		return r;
	if (libxl_passthrough_from_string(s, &C->passthrough))
		return xlkeys_fail(x, "unknown option '%s' (default, disabled, enabled, sync_pt, "
				   "share_pt)", show(b, s));
	return 0;
}

static int k_shadow_memory(struct xk *x)
{
	long l = 0;
	int r = get_long(x, "shadow_memory", &l);
	if (r > 0)
		B->shadow_memkb = (uint64_t)l * 1024;
	if (r >= 0)
		r = get_defbool(x, "nomigrate", &B->disable_migrate);
	return r < 0 ? -1 : 0;
}

/* tsc_mode, timer_mode, altp2m: a name, or the deprecated number within [lo, hi]. */
static int mode(struct xk *x, const char *key, long lo, long hi, int *out,
		int (*from_string)(const char *, void *), const char *(*name)(int))
{
	char b[72];
	long l = 0;
	if (xlu_cfg_get_long(x->cfg, key, &l, 1) == 0) {
		const char *n = name((int)l);
		if (l < lo || l > hi)
			return fail_key(x, key, "invalid value %ld", l);
		if (key[0] != 'a') /* xl warns for tsc_mode and timer_mode, not altp2m */
			xlkeys_warn(x, key, "a number is deprecated; use the name%s%s%s",
				    n ? " (" : "", n ? n : "", n ? ")" : "");
		*out = (int)l;
		return 0;
	}
	const char *s;
	int r = get_str(x, key, &s);
	if (r <= 0)
		return r;
	if (from_string(s, out))
		return fail_key(x, key, "invalid value '%s'", show(b, s));
	return 0;
}

static int tsc_from(const char *s, void *out)
{
	return libxl_tsc_mode_from_string(s, out);
}
static const char *tsc_name(int v)
{
	return libxl_tsc_mode_to_string((libxl_tsc_mode)v);
}
static int timer_from(const char *s, void *out)
{
	return libxl_timer_mode_from_string(s, out);
}
static const char *timer_name(int v)
{
	return libxl_timer_mode_to_string((libxl_timer_mode)v);
}
static int altp2m_from(const char *s, void *out)
{
	return libxl_altp2m_mode_from_string(s, out);
}
static const char *altp2m_name(int v)
{
	return libxl_altp2m_mode_to_string((libxl_altp2m_mode)v);
}

static int k_tsc_mode(struct xk *x)
{
	int v = B->tsc_mode;
	if (mode(x, "tsc_mode", LIBXL_TSC_MODE_DEFAULT, LIBXL_TSC_MODE_NATIVE_PARAVIRT, &v,
		 tsc_from, tsc_name) < 0)
		return -1;
	B->tsc_mode = (libxl_tsc_mode)v;
	return 0;
}

static int k_misc_times(struct xk *x)
{
	long l = 0;
	int r = get_long(x, "rtc_timeoffset", &l);
	if (r < 0)
		return -1;
	if (r)
		B->rtc_timeoffset = (uint32_t)l;
	if ((r = get_long(x, "vncviewer", &l)) < 0)
		return -1;
	if (r)
		xlkeys_warn(x, "vncviewer", "ignored (as by xl): start a VNC viewer yourself "
			    "(vmctl info shows the address)");
	if (get_defbool(x, "localtime", &B->localtime) < 0)
		return -1;
	if ((r = get_long(x, "videoram", &l)) < 0)
		return -1;
	if (r)
		B->video_memkb = (uint64_t)l * 1024;
	if ((r = get_long(x, "max_event_channels", &l)) < 0)
		return -1;
	if (r)
		B->event_channels = (uint32_t)l;
	return 0;
}

static int k_kernel(struct xk *x)
{
	if (take_str(x, "kernel", &B->kernel) < 0 || take_str(x, "ramdisk", &B->ramdisk) < 0 ||
	    take_str(x, "device_tree", &B->device_tree) < 0)
		return -1;
	const char *cmdline = NULL, *root = NULL, *extra = NULL;
	if (get_str(x, "cmdline", &cmdline) < 0 || get_str(x, "root", &root) < 0 ||
	    get_str(x, "extra", &extra) < 0)
		return -1;
	if (cmdline) {
		B->cmdline = xstrdup(cmdline);
		if (root || extra)
			xlkeys_warn(x, root ? "root" : "extra",
				    "ignored in favour of cmdline (as by xl)");
	} else if (root && extra) {
		B->cmdline = xasprintf("root=%s %s", root, extra);
	} else if (root) {
		B->cmdline = xasprintf("root=%s", root);
	} else if (extra) {
		B->cmdline = xstrdup(extra);
	}
	return 0;
}

static int k_driver_domain(struct xk *x)
{
	if (get_defbool(x, "driver_domain", &C->driver_domain) < 0 ||
	    get_defbool(x, "acpi", &B->acpi) < 0)
		return -1;
	return 0;
}

static int k_bootloader(struct xk *x)
{
	if (take_str(x, "bootloader", &B->bootloader) < 0)
		return -1;
	if (xlkeys_form(x->cfg, "bootloader_args") == XV_STRING) {
		const char *s;
		get_str(x, "bootloader_args", &s);
		xlkeys_warn(x, "bootloader_args", "a string is deprecated; use a list of "
			    "arguments (as xl says)");
		libxl_string_list_dispose(&B->bootloader_args);
		B->bootloader_args = split(s, " \t\n");
		return 0;
	}
	return take_string_list(x, "bootloader_args", &B->bootloader_args) < 0 ? -1 : 0;
}

static int k_timer_mode(struct xk *x)
{
	if (!xlkeys_form(x->cfg, "timer_mode"))
		return 0;
	if (PV)
		return xlkeys_fail(x, "not supported for PV guests");
	int v = B->timer_mode;
	if (mode(x, "timer_mode", LIBXL_TIMER_MODE_DELAY_FOR_MISSED_TICKS,
		 LIBXL_TIMER_MODE_ONE_MISSED_TICK_PENDING, &v, timer_from, timer_name) < 0)
		return -1;
	B->timer_mode = (libxl_timer_mode)v;
	return 0;
}

static int k_nestedhvm(struct xk *x)
{
	return get_defbool(x, "nestedhvm", &B->nested_hvm) < 0 ? -1 : 0;
}

/* viridian = 1|0, or a list of enlightenment names ("all", "defaults", "!name"). */
static int viridian(struct xk *x)
{
	char b[72];
	XLU_ConfigList *list;
	int n = 0;
	if (xlu_cfg_get_list(x->cfg, "viridian", &list, &n, 1) != 0) {
		if (!xlkeys_form(x->cfg, "viridian"))
			return 0;
		return get_defbool(x, "viridian", &B->u.hvm.viridian) < 0 ? -1 : 0;
	}
	if (n) {
		bitmap_alloc(&B->u.hvm.viridian_enable, LIBXL_BUILDINFO_HVM_VIRIDIAN_ENABLE_DISABLE_WIDTH);
		bitmap_alloc(&B->u.hvm.viridian_disable, LIBXL_BUILDINFO_HVM_VIRIDIAN_ENABLE_DISABLE_WIDTH);
	}
	for (int i = 0; i < n; i++) {
		bool bad = false;
		const char *s = item(x, list, i, &bad);
		if (bad || !s)
			return xlkeys_fail(x, "item %d is a list, not a string", i + 1);
		if (strcmp(s, "all") == 0) {
			libxl_bitmap_set_any(&B->u.hvm.viridian_enable);
			continue;
		}
		if (strcmp(s, "defaults") == 0) {
			libxl_defbool_set(&B->u.hvm.viridian, true);
			continue;
		}
		libxl_bitmap *set = &B->u.hvm.viridian_enable, *reset = &B->u.hvm.viridian_disable;
		if (*s == '!') {
			set = &B->u.hvm.viridian_disable;
			reset = &B->u.hvm.viridian_enable;
			s++;
		}
		libxl_viridian_enlightenment v;
		if (libxl_viridian_enlightenment_from_string(s, &v))
			return xlkeys_fail(x, "unknown viridian enlightenment '%s'", show(b, s));
		libxl_bitmap_set(set, v);
		libxl_bitmap_reset(reset, v);
	}
	return 0;
}

static int ms_vm_genid(struct xk *x)
{
	char b[72];
	const char *s;
	int r = get_str(x, "ms_vm_genid", &s);
	if (r <= 0)
		return r;
	if (strcmp(s, "none") == 0)
		return 0;
	if (strcmp(s, "generate") != 0)
		return fail_key(x, "ms_vm_genid", "'%s': must be \"generate\" or \"none\"",
				show(b, s));
	/* libxl_ms_vm_genid_generate without a context: random bytes, not all zero */
	static const uint8_t zero[LIBXL_MS_VM_GENID_LEN];
	do {
		if (random_bytes(B->u.hvm.ms_vm_genid.bytes, LIBXL_MS_VM_GENID_LEN) < 0)
			return fail_key(x, "ms_vm_genid", "cannot get random bytes");
	} while (memcmp(B->u.hvm.ms_vm_genid.bytes, zero, LIBXL_MS_VM_GENID_LEN) == 0);
	return 0;
}

static int hvm_firmware(struct xk *x)
{
	char b[72];
	if (B->kernel) {
		const char *base = strrchr(B->kernel, '/');
		if (strcmp(base ? base + 1 : B->kernel, "hvmloader") == 0) {
			xlkeys_warn(x, "kernel", "\"hvmloader\" as kernel is ignored (as by xl); use "
				    "firmware_override for a non-default firmware");
			free(B->kernel);
			B->kernel = NULL;
		}
	}
	if (take_str(x, "firmware_override", &B->u.hvm.firmware) < 0 ||
	    take_str(x, "bios_path_override", &B->u.hvm.system_firmware) < 0)
		return -1;
	const char *s;
	int r = get_str(x, "bios", &s);
	if (r < 0)
		return -1;
	if (r && libxl_bios_type_from_string(s, &B->u.hvm.bios))
		return fail_key(x, "bios", "invalid value '%s' (rombios, seabios, ovmf)",
				show(b, s));
	if (!r && B->u.hvm.system_firmware)
		xlkeys_warn(x, "bios_path_override", "given without a bios name (as xl warns)");
	if (get_defbool(x, "pae", &B->u.hvm.pae) < 0 ||
	    get_defbool(x, "acpi_s3", &B->u.hvm.acpi_s3) < 0 ||
	    get_defbool(x, "acpi_s4", &B->u.hvm.acpi_s4) < 0 ||
	    get_defbool(x, "acpi_laptop_slate", &B->u.hvm.acpi_laptop_slate) < 0 ||
	    get_defbool(x, "nx", &B->u.hvm.nx) < 0 || get_defbool(x, "hpet", &B->u.hvm.hpet) < 0 ||
	    get_defbool(x, "vpt_align", &B->u.hvm.vpt_align) < 0 ||
	    get_defbool(x, "apic", &B->apic) < 0 || viridian(x) < 0)
		return -1;
	long l = 0;
	if ((r = get_long(x, "mmio_hole", &l)) < 0)
		return -1;
	if (r) {
		B->u.hvm.mmio_hole_memkb = (uint64_t)l * 1024;
		uint64_t size = B->u.hvm.mmio_hole_memkb * 1024;
		if (l < 0 || size < HVM_BELOW_4G_MMIO_LENGTH || size > HVM_BELOW_4G_MMIO_START)
			return fail_key(x, "mmio_hole", "invalid value %ld (MiB, %llu..%llu)", l,
					HVM_BELOW_4G_MMIO_LENGTH >> 20, HVM_BELOW_4G_MMIO_START >> 20);
	}
	if ((r = get_defbool(x, "altp2mhvm", &B->u.hvm.altp2m)) < 0)
		return -1;
	if (r)
		xlkeys_warn(x, "altp2mhvm", "deprecated; use altp2m (as xl says)");
	if (take_str(x, "smbios_firmware", &B->u.hvm.smbios_firmware) < 0 ||
	    take_str(x, "acpi_firmware", &B->u.hvm.acpi_firmware) < 0 || ms_vm_genid(x) < 0)
		return -1;
	if ((r = get_long(x, "rdm_mem_boundary", &l)) < 0)
		return -1;
	if (r)
		B->u.hvm.rdm_mem_boundary_memkb = (uint64_t)l * 1024;
	XLU_ConfigList *caps;
	int n = 0;
	if ((r = get_list(x, "mca_caps", &caps, &n)) < 0)
		return -1;
	for (int i = 0; r && i < n; i++) {
		bool bad = false;
		const char *c = item(x, caps, i, &bad);
		if (!c || strcmp(c, "lmce") != 0)
			return fail_key(x, "mca_caps", "unknown MCA capability '%s' (lmce)",
					c ? show(b, c) : "(a list)");
		B->u.hvm.mca_caps |= XEN_HVM_MCA_CAP_LMCE;
	}
	/* firmware: a bios name, "uefi" (ovmf), "bios" (libxl's choice) or a path */
	if ((r = get_str(x, "firmware", &s)) < 0)
		return -1;
	if (r && libxl_bios_type_from_string(s, &B->u.hvm.bios)) {
		if (prefix_of(s, "uefi"))
			B->u.hvm.bios = LIBXL_BIOS_TYPE_OVMF;
		else if (!prefix_of(s, "bios")) {
			free(B->u.hvm.firmware);
			B->u.hvm.firmware = xstrdup(s);
		}
	}
	return 0;
}

static int pv_firmware(struct xk *x)
{
	char b[72];
	const char *s;
	int r = get_str(x, "firmware", &s);
	if (r < 0)
		return -1;
	if (r) {
		if (B->kernel)
			return fail_key(x, "firmware", "both kernel and firmware are given");
		if (!prefix_of(s, "pvgrub32") && !prefix_of(s, "pvgrub64"))
			return fail_key(x, "firmware", "'%s': only pvgrub32 and pvgrub64 are "
					"firmware of PV and PVH guests", show(b, s));
		B->kernel = xasprintf(VMD_XEN_FIRMWAREDIR "/%s.bin", s);
	}
	if (!B->bootloader && !B->kernel)
		return fail_key(x, "kernel", "a %s guest needs a kernel (or a bootloader, or "
				"firmware = \"pvgrub64\")", PV ? "pv" : "pvh");
	return 0;
}

static int k_firmware(struct xk *x)
{
	return HVM ? hvm_firmware(x) : pv_firmware(x);
}

static int k_altp2m(struct xk *x)
{
	int v = B->altp2m;
	if (mode(x, "altp2m", LIBXL_ALTP2M_MODE_DISABLED, LIBXL_ALTP2M_MODE_LIMITED, &v,
		 altp2m_from, altp2m_name) < 0)
		return -1;
	B->altp2m = (libxl_altp2m_mode)v;
	long l = 0;
	if (xlu_cfg_get_long(x->cfg, "vmtrace_buf_kb", &l, 1) == 0) {
		if (l)
			B->vmtrace_buf_kb = (int)l;
	} else if (xlkeys_form(x->cfg, "vmtrace_buf_kb") && get_long(x, "vmtrace_buf_kb", &l) < 0) {
		return -1;
	}
	return 0;
}

/* ioports: hexadecimal "3f8" or "3f8-3ff". */
static int k_ioports(struct xk *x)
{
	char b[72];
	XLU_ConfigList *list;
	int n = 0;
	int r = get_list(x, "ioports", &list, &n);
	if (r <= 0)
		return r;
	B->num_ioports = n;
	B->ioports = xcalloc((size_t)n ? (size_t)n : 1, sizeof *B->ioports);
	for (int i = 0; i < n; i++) {
		bool bad = false;
		const char *s = item(x, list, i, &bad);
		if (!s)
			return xlkeys_fail(x, "item %d is not a string", i + 1);
		char *end;
		unsigned long v = strtoul(s, &end, 16);
		if (end == s || v >= UINT32_MAX)
			return xlkeys_fail(x, "invalid ioport '%s'", show(b, s));
		uint32_t start = (uint32_t)v, last = (uint32_t)v;
		if (*end == '-') {
			const char *s2 = end + 1;
			v = strtoul(s2, &end, 16);
			if (end == s2 || *end || v >= UINT32_MAX || start > v)
				return xlkeys_fail(x, "invalid ioport range '%s'", show(b, s));
			last = (uint32_t)v;
		} else if (*end) {
			return xlkeys_fail(x, "invalid ioport '%s'", show(b, s));
		}
		B->ioports[i].first = start;
		B->ioports[i].number = last - start + 1;
	}
	return 0;
}

static int k_irqs(struct xk *x)
{
	char b[72];
	XLU_ConfigList *list;
	int n = 0;
	int r = get_list(x, "irqs", &list, &n);
	if (r <= 0)
		return r;
	B->num_irqs = n;
	B->irqs = xcalloc((size_t)n ? (size_t)n : 1, sizeof *B->irqs);
	for (int i = 0; i < n; i++) {
		bool bad = false;
		const char *s = item(x, list, i, &bad);
		if (!s)
			return xlkeys_fail(x, "item %d is not a string", i + 1);
		char *end;
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || *end || v >= UINT32_MAX)
			return xlkeys_fail(x, "invalid irq '%s'", show(b, s));
		B->irqs[i] = (uint32_t)v;
	}
	return 0;
}

/* iomem: "start,count[@gfn]", hexadecimal page numbers. */
static int k_iomem(struct xk *x)
{
	char b[72];
	XLU_ConfigList *list;
	int n = 0;
	int r = get_list(x, "iomem", &list, &n);
	if (r <= 0)
		return r;
	B->num_iomem = n;
	B->iomem = xcalloc((size_t)n ? (size_t)n : 1, sizeof *B->iomem);
	for (int i = 0; i < n; i++) {
		bool bad = false;
		const char *s = item(x, list, i, &bad);
		if (!s)
			return xlkeys_fail(x, "item %d is not a string", i + 1);
		libxl_iomem_range_init(&B->iomem[i]);
		int used = 0;
		int got = sscanf(s, "%" SCNx64 ",%" SCNx64 "%n@%" SCNx64 "%n", &B->iomem[i].start,
				 &B->iomem[i].number, &used, &B->iomem[i].gfn, &used);
		if (got < 2 || s[used] != '\0')
			return xlkeys_fail(x, "invalid iomem '%s' (start,count[@gfn] in hex)",
					   show(b, s));
	}
	return 0;
}

/* ---- devices ---------------------------------------------------------------------------------- */

/* The string items of a spec list; fn parses item i into a new device. */
static int each_spec(struct xk *x, const char *key, int (*fn)(struct xk *x, const char *spec))
{
	XLU_ConfigList *list;
	int n = 0;
	int r = get_list(x, key, &list, &n);
	if (r <= 0)
		return r;
	for (int i = 0; i < n; i++) {
		bool bad = false;
		const char *spec = item(x, list, i, &bad);
		if (bad || !spec)
			return fail_key(x, key, "item %d is a list, not a spec string", i + 1);
		if (fn(x, spec) < 0)
			return -1;
	}
	return 0;
}

static int disk_one(struct xk *x, const char *spec)
{
	char b[72];
	libxl_domain_config *d = x->dc;
	libxl_device_disk *disk = ARRAY_ADD(d->disks, d->num_disks, libxl_device_disk_init);
	const char *specs[1] = {spec};
	if (xlu_disk_parse(x->cfg, 1, specs, disk)) {
		/* libxlutil says what is wrong: "... disk specification: no vdev specified in
		 * `SPEC'" */
		const char *said = x->xlu_said ? x->xlu_said(x->line_arg) : NULL;
		const char *what = said ? strstr(said, "disk specification: ") : NULL;
		if (what) {
			char *t = xstrdup(what + strlen("disk specification: "));
			for (char *p = t; *p; p++)
				if (*p == '`')
					*p = '\'';
			int r = xlkeys_fail(x, "%.200s", t);
			free(t);
			return r;
		}
		return xlkeys_fail(x, "invalid disk spec '%s'", show(b, spec));
	}
	return 0;
}

static int k_disk(struct xk *x)
{
	return each_spec(x, "disk", disk_one);
}

/* "k=v" options of the simple device specs (p9, vtpm, pvcalls): xl stops at the first
 * option without '='. fn returns 0, or -1 with the error set. */
static int kv_opts(struct xk *x, const char *key, const char *spec,
		   int (*fn)(struct xk *x, void *dev, const char *k, const char *v), void *dev)
{
	struct opts o;
	opts_init(&o, spec);
	int r = 0;
	const char *p;
	while (r == 0 && (p = opts_next(&o))) {
		const char *eq = strchr(p, '=');
		if (!eq)
			break;
		char *k = xasprintf("%.*s", (int)(eq - p), p);
		r = fn(x, dev, k, eq + 1);
		free(k);
	}
	opts_finish(&o);
	return r;
}

struct p9 {
	char *security_model, *path, *tag, *backend;
};

static int p9_opt(struct xk *x, void *arg, const char *k, const char *v)
{
	char b[72];
	struct p9 *p = arg;
	char **f = strcmp(k, "security_model") == 0 ? &p->security_model :
		   strcmp(k, "path") == 0	    ? &p->path :
		   strcmp(k, "tag") == 0		    ? &p->tag :
		   strcmp(k, "backend") == 0	    ? &p->backend :
							      NULL;
	if (!f)
		return xlkeys_fail(x, "unknown option '%s' (tag, path, security_model, backend)",
				   show(b, k));
	free(*f);
	*f = xstrdup(v);
	return 0;
}

static int p9_one(struct xk *x, const char *spec)
{
	libxl_domain_config *d = x->dc;
	/* xl numbers it and then initialises it again: the devid is libxl's default */
	libxl_device_p9 *dev = ARRAY_ADD(d->p9s, d->num_p9s, libxl_device_p9_init);
	struct p9 p = {0};
	int r = kv_opts(x, "p9", spec, p9_opt, &p);
	if (r == 0 && (!p.path || !p.security_model || !p.tag))
		r = xlkeys_fail(x, "tag, path and security_model are required");
	if (r == 0) {
		dev->tag = p.tag;
		dev->security_model = p.security_model;
		dev->path = p.path;
		dev->backend_domname = p.backend;
		return 0;
	}
	free(p.security_model);
	free(p.path);
	free(p.tag);
	free(p.backend);
	return -1;
}

static int k_p9(struct xk *x)
{
	return each_spec(x, "p9", p9_one);
}

static int vtpm_opt(struct xk *x, void *arg, const char *k, const char *v)
{
	char b[72];
	libxl_device_vtpm *t = arg;
	if (strcmp(k, "backend") == 0) {
		free(t->backend_domname);
		t->backend_domname = xstrdup(v);
	} else if (strcmp(k, "uuid") == 0) {
		if (libxl_uuid_from_string(&t->uuid, v))
			return xlkeys_fail(x, "invalid vtpm UUID '%s'", show(b, v));
	} else {
		return xlkeys_fail(x, "unknown option '%s' (backend, uuid)", show(b, k));
	}
	return 0;
}

static int vtpm_one(struct xk *x, const char *spec)
{
	libxl_domain_config *d = x->dc;
	libxl_device_vtpm *t = ARRAY_ADD(d->vtpms, d->num_vtpms, libxl_device_vtpm_init);
	t->devid = d->num_vtpms - 1;
	if (kv_opts(x, "vtpm", spec, vtpm_opt, t) < 0)
		return -1;
	if (!t->backend_domname)
		return xlkeys_fail(x, "a vtpm needs backend=");
	return 0;
}

static int k_vtpm(struct xk *x)
{
	return each_spec(x, "vtpm", vtpm_one);
}

static int vdispl_one(struct xk *x, const char *spec)
{
	char b[72];
	libxl_domain_config *d = x->dc;
	libxl_device_vdispl *v = ARRAY_ADD(d->vdispls, d->num_vdispls, libxl_device_vdispl_init);
	v->devid = d->num_vdispls - 1;
	struct opts o;
	opts_init(&o, spec);
	int r = 0;
	const char *p, *val;
	while (r == 0 && (p = opts_next(&o))) {
		if ((val = opt(p, "backend"))) {
			free(v->backend_domname);
			v->backend_domname = xstrdup(val);
		} else if ((val = opt(p, "be-alloc"))) {
			v->be_alloc = strtoul(val, NULL, 0) != 0;
		} else if ((val = opt(p, "connectors"))) {
			libxl_string_list cs = split(val, ";");
			int n = libxl_string_list_length(&cs);
			for (int i = 0; i < v->num_connectors; i++)
				libxl_connector_param_dispose(&v->connectors[i]);
			free(v->connectors);
			v->num_connectors = n;
			v->connectors = xcalloc((size_t)n ? (size_t)n : 1, sizeof *v->connectors);
			for (int i = 0; i < n && r == 0; i++) {
				libxl_connector_param_init(&v->connectors[i]);
				char *id = NULL, *res = NULL;
				char *buf = xstrdup(cs[i]), *save = NULL;
				char *a = strtok_r(buf, ":", &save), *c = a ? strtok_r(NULL, ":", &save) : NULL;
				if (a && c) {
					id = xstrdup(a);
					res = xstrdup(c);
				}
				free(buf);
				if (!res || sscanf(res, "%ux%u", &v->connectors[i].width,
						   &v->connectors[i].height) != 2)
					r = xlkeys_fail(x, "cannot parse connector '%s' (id:WxH)",
							show(b, cs[i]));
				v->connectors[i].unique_id = id;
				free(res);
			}
			libxl_string_list_dispose(&cs);
		} else {
			r = xlkeys_fail(x, "unknown option '%s' (backend, be-alloc, connectors)",
					show(b, p));
		}
	}
	opts_finish(&o);
	if (r == 0 && v->num_connectors == 0)
		r = xlkeys_fail(x, "at least one connector must be given");
	return r;
}

static int k_vdispl(struct xk *x)
{
	return each_spec(x, "vdispl", vdispl_one);
}

static int pvcalls_opt(struct xk *x, void *arg, const char *k, const char *v)
{
	char b[72];
	libxl_device_pvcallsif *p = arg;
	if (strcmp(k, "backend") != 0)
		return xlkeys_fail(x, "unknown option '%s' (backend)", show(b, k));
	free(p->backend_domname);
	p->backend_domname = xstrdup(v);
	return 0;
}

static int pvcalls_one(struct xk *x, const char *spec)
{
	libxl_domain_config *d = x->dc;
	libxl_device_pvcallsif *p =
		ARRAY_ADD(d->pvcallsifs, d->num_pvcallsifs, libxl_device_pvcallsif_init);
	p->devid = d->num_pvcallsifs - 1;
	return kv_opts(x, "pvcalls", spec, pvcalls_opt, p);
}

static int k_pvcalls(struct xk *x)
{
	return each_spec(x, "pvcalls", pvcalls_one);
}

/* vsnd: sample-rates, sample-formats, channels-min/max, buffer-size (1 = not one of them). */
static int vsnd_params(struct xk *x, libxl_vsnd_params *p, const char *tok, int *err)
{
	char b[72];
	const char *v;
	*err = 0;
	if ((v = opt(tok, "sample-rates"))) {
		libxl_string_list l = split(v, ";");
		free(p->sample_rates);
		p->num_sample_rates = libxl_string_list_length(&l);
		p->sample_rates = xcalloc((size_t)p->num_sample_rates + 1, sizeof *p->sample_rates);
		for (int i = 0; l[i]; i++)
			p->sample_rates[i] = (uint32_t)strtoul(l[i], NULL, 0);
		libxl_string_list_dispose(&l);
	} else if ((v = opt(tok, "sample-formats"))) {
		libxl_string_list l = split(v, ";");
		free(p->sample_formats);
		p->num_sample_formats = libxl_string_list_length(&l);
		p->sample_formats = xcalloc((size_t)p->num_sample_formats + 1,
					    sizeof *p->sample_formats);
		for (int i = 0; l[i] && !*err; i++)
			if (libxl_vsnd_pcm_format_from_string(l[i], &p->sample_formats[i]))
				*err = xlkeys_fail(x, "invalid pcm format '%s'", show(b, l[i]));
		libxl_string_list_dispose(&l);
	} else if ((v = opt(tok, "channels-min"))) {
		p->channels_min = (uint32_t)strtoul(v, NULL, 0);
	} else if ((v = opt(tok, "channels-max"))) {
		p->channels_max = (uint32_t)strtoul(v, NULL, 0);
	} else if ((v = opt(tok, "buffer-size"))) {
		p->buffer_size = (uint32_t)strtoul(v, NULL, 0);
	} else {
		return 1;
	}
	return 0;
}

/* One item of a card's list: "card, ...", "pcm, ..." or "stream, ...". */
static int vsnd_item(struct xk *x, libxl_device_vsnd *snd, const char *spec)
{
	char b[72];
	struct opts o;
	opts_init(&o, spec);
	const char *kind = opts_next(&o), *tok;
	int r = 0;
	if (!kind)
		goto out;
	bool card = strcasecmp(kind, "card") == 0, pcm = strcasecmp(kind, "pcm") == 0,
	     stream = strcasecmp(kind, "stream") == 0;
	if (pcm || (stream && snd->num_vsnd_pcms == 0))
		ARRAY_ADD(snd->pcms, snd->num_vsnd_pcms, libxl_vsnd_pcm_init);
	if (stream) {
		libxl_vsnd_pcm *p = &snd->pcms[snd->num_vsnd_pcms - 1];
		ARRAY_ADD(p->streams, p->num_vsnd_streams, libxl_vsnd_stream_init);
	}
	if (!card && !pcm && !stream) {
		r = xlkeys_fail(x, "invalid item '%s' (card, pcm or stream)", show(b, kind));
		goto out;
	}
	while (r == 0 && (tok = opts_next(&o))) {
		int e;
		const char *v;
		if (card) {
			if (vsnd_params(x, &snd->params, tok, &e) == 0) {
				r = e;
			} else if ((v = opt(tok, "backend"))) {
				free(snd->backend_domname);
				snd->backend_domname = xstrdup(v);
			} else if ((v = opt(tok, "short-name"))) {
				free(snd->short_name);
				snd->short_name = xstrdup(v);
			} else if ((v = opt(tok, "long-name"))) {
				free(snd->long_name);
				snd->long_name = xstrdup(v);
			} else {
				r = xlkeys_fail(x, "invalid card parameter '%s'", show(b, tok));
			}
		} else if (pcm) {
			libxl_vsnd_pcm *p = &snd->pcms[snd->num_vsnd_pcms - 1];
			if (vsnd_params(x, &p->params, tok, &e) == 0) {
				r = e;
			} else if ((v = opt(tok, "name"))) {
				free(p->name);
				p->name = xstrdup(v);
			} else {
				r = xlkeys_fail(x, "invalid pcm parameter '%s'", show(b, tok));
			}
		} else {
			libxl_vsnd_pcm *p = &snd->pcms[snd->num_vsnd_pcms - 1];
			libxl_vsnd_stream *s = &p->streams[p->num_vsnd_streams - 1];
			if (vsnd_params(x, &s->params, tok, &e) == 0) {
				r = e;
			} else if ((v = opt(tok, "unique-id"))) {
				free(s->unique_id);
				s->unique_id = xstrdup(v);
			} else if ((v = opt(tok, "type"))) {
				if (libxl_vsnd_stream_type_from_string(v, &s->type))
					r = xlkeys_fail(x, "invalid stream type '%s'", show(b, v));
			} else {
				r = xlkeys_fail(x, "invalid stream parameter '%s'", show(b, tok));
			}
		}
	}
out:
	opts_finish(&o);
	return r;
}

static int k_vsnd(struct xk *x)
{
	XLU_ConfigList *cards;
	if (xlu_cfg_get_list(x->cfg, "vsnd", &cards, NULL, 1) != 0) {
		if (xlkeys_form(x->cfg, "vsnd"))
			return xlkeys_fail(x, "expected a list of cards, each a list of items");
		return 0;
	}
	libxl_domain_config *d = x->dc;
	for (int c = 0;; c++) {
		XLU_ConfigValue *card = xlu_cfg_get_listitem2(cards, c);
		if (!card)
			break;
		XLU_ConfigList *items;
		if (xlu_cfg_value_get_list(x->cfg, card, &items, 1))
			return xlkeys_fail(x, "card %d is not a list of items", c + 1);
		libxl_device_vsnd *snd = ARRAY_ADD(d->vsnds, d->num_vsnds, libxl_device_vsnd_init);
		snd->devid = d->num_vsnds - 1;
		for (int i = 0;; i++) {
			bool bad = false;
			const char *it = item(x, items, i, &bad);
			if (bad)
				return xlkeys_fail(x, "card %d, item %d is a list", c + 1, i + 1);
			if (!it)
				break;
			if (vsnd_item(x, snd, it) < 0)
				return -1;
		}
	}
	return 0;
}

static int channel_one(struct xk *x, const char *spec)
{
	char b[72];
	libxl_domain_config *d = x->dc;
	libxl_device_channel *ch =
		ARRAY_ADD(d->channels, d->num_channels, libxl_device_channel_init);
	ch->devid = d->num_channels - 1;
	libxl_string_list pairs = split(spec, ",");
	char *path = NULL;
	int r = 0;
	for (int i = 0; pairs[i] && r == 0; i++) {
		char *k, *v;
		if (split_pair(pairs[i], &k, &v) < 0) {
			r = xlkeys_fail(x, "cannot parse '%s' (key=value)", show(b, pairs[i]));
			break;
		}
		if (strcmp(k, "backend") == 0) {
			free(ch->backend_domname);
			ch->backend_domname = xstrdup(v);
		} else if (strcmp(k, "name") == 0) {
			free(ch->name);
			ch->name = xstrdup(v);
		} else if (strcmp(k, "path") == 0) {
			free(path);
			path = xstrdup(v);
		} else if (strcmp(k, "connection") == 0) {
			if (strcmp(v, "pty") == 0)
				ch->connection = LIBXL_CHANNEL_CONNECTION_PTY;
			else if (strcmp(v, "socket") == 0)
				ch->connection = LIBXL_CHANNEL_CONNECTION_SOCKET;
			else
				r = xlkeys_fail(x, "unknown connection '%s' (pty or socket)",
						show(b, v));
		} else {
			/* xl: "ignoring"; a typo here would leave the channel without it */
			r = xlkeys_fail(x, "unknown parameter '%s' (backend, name, path, connection)",
					show(b, k));
		}
		free(k);
		free(v);
	}
	libxl_string_list_dispose(&pairs);
	if (r == 0) {
		if (ch->connection == LIBXL_CHANNEL_CONNECTION_UNKNOWN)
			r = xlkeys_fail(x, "a channel needs connection=pty or connection=socket");
		else if (ch->connection == LIBXL_CHANNEL_CONNECTION_SOCKET && !path)
			r = xlkeys_fail(x, "connection=socket needs path=");
		else if (ch->connection == LIBXL_CHANNEL_CONNECTION_SOCKET)
			ch->u.socket.path = xstrdup(path);
	}
	free(path);
	return r;
}

static int k_channel(struct xk *x)
{
	return each_spec(x, "channel", channel_one);
}

/* One vif option (xl's parse_nic_config). 0, or -1 with the error. */
static int nic_opt(struct xk *x, libxl_device_nic *nic, const char *tok)
{
	char b[72];
	static const struct {
		const char *name;
		size_t off;
	} strs[] = {
#define S(n, f) {n, offsetof(libxl_device_nic, f)}
		S("bridge", bridge),
		S("gatewaydev", gatewaydev),
		S("ip", ip),
		S("script", script),
		S("backend", backend_domname),
		S("vifname", ifname),
		S("model", model),
		S("forwarddev", coloft_forwarddev),
		S("colo_sock_mirror_id", colo_sock_mirror_id),
		S("colo_sock_mirror_ip", colo_sock_mirror_ip),
		S("colo_sock_mirror_port", colo_sock_mirror_port),
		S("colo_sock_compare_sec_in_id", colo_sock_compare_sec_in_id),
		S("colo_sock_compare_sec_in_ip", colo_sock_compare_sec_in_ip),
		S("colo_sock_compare_sec_in_port", colo_sock_compare_sec_in_port),
		S("colo_sock_redirector0_id", colo_sock_redirector0_id),
		S("colo_sock_redirector0_ip", colo_sock_redirector0_ip),
		S("colo_sock_redirector0_port", colo_sock_redirector0_port),
		S("colo_sock_redirector1_id", colo_sock_redirector1_id),
		S("colo_sock_redirector1_ip", colo_sock_redirector1_ip),
		S("colo_sock_redirector1_port", colo_sock_redirector1_port),
		S("colo_sock_redirector2_id", colo_sock_redirector2_id),
		S("colo_sock_redirector2_ip", colo_sock_redirector2_ip),
		S("colo_sock_redirector2_port", colo_sock_redirector2_port),
		S("colo_sock_compare_pri_in_id", colo_sock_compare_pri_in_id),
		S("colo_sock_compare_pri_in_ip", colo_sock_compare_pri_in_ip),
		S("colo_sock_compare_pri_in_port", colo_sock_compare_pri_in_port),
		S("colo_sock_compare_notify_id", colo_sock_compare_notify_id),
		S("colo_sock_compare_notify_ip", colo_sock_compare_notify_ip),
		S("colo_sock_compare_notify_port", colo_sock_compare_notify_port),
		S("colo_filter_mirror_queue", colo_filter_mirror_queue),
		S("colo_filter_mirror_outdev", colo_filter_mirror_outdev),
		S("colo_filter_redirector0_queue", colo_filter_redirector0_queue),
		S("colo_filter_redirector0_indev", colo_filter_redirector0_indev),
		S("colo_filter_redirector0_outdev", colo_filter_redirector0_outdev),
		S("colo_filter_redirector1_queue", colo_filter_redirector1_queue),
		S("colo_filter_redirector1_indev", colo_filter_redirector1_indev),
		S("colo_filter_redirector1_outdev", colo_filter_redirector1_outdev),
		S("colo_compare_pri_in", colo_compare_pri_in),
		S("colo_compare_sec_in", colo_compare_sec_in),
		S("colo_compare_out", colo_compare_out),
		S("colo_compare_notify_dev", colo_compare_notify_dev),
		S("colo_sock_sec_redirector0_id", colo_sock_sec_redirector0_id),
		S("colo_sock_sec_redirector0_ip", colo_sock_sec_redirector0_ip),
		S("colo_sock_sec_redirector0_port", colo_sock_sec_redirector0_port),
		S("colo_sock_sec_redirector1_id", colo_sock_sec_redirector1_id),
		S("colo_sock_sec_redirector1_ip", colo_sock_sec_redirector1_ip),
		S("colo_sock_sec_redirector1_port", colo_sock_sec_redirector1_port),
		S("colo_filter_sec_redirector0_queue", colo_filter_sec_redirector0_queue),
		S("colo_filter_sec_redirector0_indev", colo_filter_sec_redirector0_indev),
		S("colo_filter_sec_redirector0_outdev", colo_filter_sec_redirector0_outdev),
		S("colo_filter_sec_redirector1_queue", colo_filter_sec_redirector1_queue),
		S("colo_filter_sec_redirector1_indev", colo_filter_sec_redirector1_indev),
		S("colo_filter_sec_redirector1_outdev", colo_filter_sec_redirector1_outdev),
		S("colo_filter_sec_rewriter0_queue", colo_filter_sec_rewriter0_queue),
		S("colo_checkpoint_host", colo_checkpoint_host),
		S("colo_checkpoint_port", colo_checkpoint_port),
#undef S
	};
	const char *v;
	if ((v = opt(tok, "type"))) {
		if (strcmp(v, "vif") == 0)
			nic->nictype = LIBXL_NIC_TYPE_VIF;
		else if (strcmp(v, "ioemu") == 0)
			nic->nictype = LIBXL_NIC_TYPE_VIF_IOEMU;
		else
			return xlkeys_fail(x, "invalid type '%s' (vif or ioemu)", show(b, v));
		return 0;
	}
	if ((v = opt(tok, "mac"))) {
		/* as xl: six hex numbers, each ended by any one character */
		const char *p = v;
		for (int i = 0; i < 6; i++) {
			char *end;
			unsigned long o = strtoul(p, &end, 16);
			if (end == p || o > 255)
				return xlkeys_fail(x, "invalid mac '%s'", show(b, v));
			nic->mac[i] = (uint8_t)o;
			if (i < 5 && !*end)
				return xlkeys_fail(x, "invalid mac '%s'", show(b, v));
			p = end + 1;
		}
		return 0;
	}
	if ((v = opt(tok, "netdev"))) {
		xlkeys_warn(x, "vif", "netdev is deprecated; use gatewaydev (as xl says)");
		free(nic->gatewaydev);
		nic->gatewaydev = xstrdup(v);
		return 0;
	}
	if ((v = opt(tok, "rate"))) {
		if (xlu_vif_parse_rate(x->cfg, v, nic))
			return xlkeys_fail(x, "invalid rate '%s' (e.g. 10Mb/s, 1MB/s@20ms)",
					   show(b, v));
		return 0;
	}
	if (opt(tok, "accel")) {
		xlkeys_warn(x, "vif", "accel is not supported (xl ignores it)");
		return 0;
	}
	if ((v = opt(tok, "devid")) || (v = opt(tok, "mtu"))) {
		unsigned long n = 0;
		if (parse_ulong(x, "vif", v, &n) < 0)
			return -1;
		if (opt(tok, "devid"))
			nic->devid = (libxl_devid)n;
		else
			nic->mtu = (unsigned)n;
		return 0;
	}
	if (strcmp(tok, "trusted") == 0 || strcmp(tok, "untrusted") == 0) {
		libxl_defbool_set(&nic->trusted, tok[0] == 't');
		return 0;
	}
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		if ((v = opt(tok, strs[i].name))) {
			char **f = (char **)((char *)nic + strs[i].off);
			free(*f);
			*f = xstrdup(v);
			return 0;
		}
	}
	/* xl: "unrecognized argument" and on; a typo would leave the vif without it */
	return xlkeys_fail(x, "unknown option '%s'", show(b, tok));
}

static int vif_one(struct xk *x, const char *spec)
{
	libxl_domain_config *d = x->dc;
	libxl_device_nic *nic = ARRAY_ADD(d->nics, d->num_nics, libxl_device_nic_init);
	nic->devid = d->num_nics - 1;
	/* xl.conf's vif.default.* */
	const struct xlkeys_host *h = x->host;
	if (h->vif_script)
		nic->script = xstrdup(h->vif_script);
	if (h->vif_bridge)
		nic->bridge = xstrdup(h->vif_bridge);
	if (h->vif_gatewaydev)
		nic->gatewaydev = xstrdup(h->vif_gatewaydev);
	if (h->vif_backend)
		nic->backend_domname = xstrdup(h->vif_backend);
	struct opts o;
	opts_init(&o, spec);
	const char *tok;
	int r = 0;
	while (r == 0 && (tok = opts_next(&o)))
		r = nic_opt(x, nic, tok);
	opts_finish(&o);
	return r;
}

static int k_vif(struct xk *x)
{
	if (each_spec(x, "vif", vif_one) < 0)
		return -1;
	if (xlkeys_form(x->cfg, "vif2") == XV_LIST)
		xlkeys_warn(x, "vif2", "netchannel2 is deprecated and not supported (xl ignores it)");
	return 0;
}

static int vfb_one(struct xk *x, const char *spec)
{
	libxl_domain_config *d = x->dc;
	libxl_device_vfb *vfb = ARRAY_ADD(d->vfbs, d->num_vfbs, libxl_device_vfb_init);
	vfb->devid = d->num_vfbs - 1;
	libxl_device_vkb *vkb = ARRAY_ADD(d->vkbs, d->num_vkbs, libxl_device_vkb_init);
	vkb->devid = d->num_vkbs - 1;
	struct opts o;
	opts_init(&o, spec);
	const char *tok;
	char b[72];
	int r = 0;
	while (r == 0 && (tok = opts_next(&o))) {
		const char *eq = strchr(tok, '=');
		if (!eq)
			break; /* xl stops here */
		size_t kl = (size_t)(eq - tok);
		const char *v = eq + 1;
#define IS(k) (kl == strlen(k) && strncmp(tok, k, kl) == 0)
		if (IS("vnc"))
			libxl_defbool_set(&vfb->vnc.enable, atoi(v));
		else if (IS("vnclisten"))
			free(vfb->vnc.listen), vfb->vnc.listen = xstrdup(v);
		else if (IS("vncpasswd"))
			free(vfb->vnc.passwd), vfb->vnc.passwd = xstrdup(v);
		else if (IS("vncdisplay"))
			vfb->vnc.display = (uint32_t)atoi(v);
		else if (IS("vncunused"))
			libxl_defbool_set(&vfb->vnc.findunused, atoi(v));
		else if (IS("keymap"))
			free(vfb->keymap), vfb->keymap = xstrdup(v);
		else if (IS("sdl"))
			libxl_defbool_set(&vfb->sdl.enable, atoi(v));
		else if (IS("opengl"))
			libxl_defbool_set(&vfb->sdl.opengl, atoi(v));
		else if (IS("display"))
			free(vfb->sdl.display), vfb->sdl.display = xstrdup(v);
		else if (IS("xauthority"))
			free(vfb->sdl.xauthority), vfb->sdl.xauthority = xstrdup(v);
		else if (IS("type")) /* xm's "type=vnc" (libvirt writes it) */
			xlkeys_warn(x, "vfb", "option type=%s is xm's; xl ignores it", show(b, v));
		else
			r = xlkeys_fail(x, "unknown option '%.*s' (vnc, vnclisten, vncpasswd, "
					"vncdisplay, vncunused, keymap, sdl, opengl, display, "
					"xauthority)",
					(int)kl, show(b, tok));
#undef IS
	}
	opts_finish(&o);
	return r;
}

static int k_vfb(struct xk *x)
{
	return each_spec(x, "vfb", vfb_one);
}

static int usbctrl_one(struct xk *x, const char *spec)
{
	char b[72];
	libxl_domain_config *d = x->dc;
	libxl_device_usbctrl *u =
		ARRAY_ADD(d->usbctrls, d->num_usbctrls, libxl_device_usbctrl_init);
	u->devid = d->num_usbctrls - 1;
	struct opts o;
	opts_init(&o, spec);
	const char *tok, *v;
	int r = 0;
	while (r == 0 && (tok = opts_next(&o))) {
		if ((v = opt(tok, "type"))) {
			if (libxl_usbctrl_type_from_string(v, &u->type))
				r = xlkeys_fail(x, "invalid controller type '%s' (pv, devicemodel, "
						"qusb, auto)", show(b, v));
		} else if ((v = opt(tok, "version"))) {
			u->version = atoi(v);
		} else if ((v = opt(tok, "ports"))) {
			u->ports = atoi(v);
		} else {
			r = xlkeys_fail(x, "unknown option '%s' (type, version, ports)", show(b, tok));
		}
	}
	opts_finish(&o);
	return r;
}

static int k_usbctrl(struct xk *x)
{
	return each_spec(x, "usbctrl", usbctrl_one);
}

static int usbdev_one(struct xk *x, const char *spec)
{
	char b[72];
	libxl_domain_config *d = x->dc;
	libxl_device_usbdev *u = ARRAY_ADD(d->usbdevs, d->num_usbdevs, libxl_device_usbdev_init);
	struct opts o;
	opts_init(&o, spec);
	const char *tok, *v;
	int r = 0;
	while (r == 0 && (tok = opts_next(&o))) {
		if ((v = opt(tok, "type"))) {
			if (libxl_usbdev_type_from_string(v, &u->type))
				r = xlkeys_fail(x, "invalid device type '%s' (hostdev)", show(b, v));
		} else if ((v = opt(tok, "hostbus"))) {
			u->u.hostdev.hostbus = (uint8_t)strtoul(v, NULL, 0);
		} else if ((v = opt(tok, "hostaddr"))) {
			u->u.hostdev.hostaddr = (uint8_t)strtoul(v, NULL, 0);
		} else if ((v = opt(tok, "controller"))) {
			u->ctrl = atoi(v);
		} else if ((v = opt(tok, "port"))) {
			u->port = atoi(v);
		} else {
			r = xlkeys_fail(x, "unknown option '%s' (type, hostbus, hostaddr, controller, "
					"port)", show(b, tok));
		}
	}
	opts_finish(&o);
	return r;
}

static int k_usbdev(struct xk *x)
{
	return each_spec(x, "usbdev", usbdev_one);
}

static int k_cpuid(struct xk *x)
{
	char b[72];
	static const char *const xend_err[] = {
		"", "illegal leaf number", "illegal subleaf number", "missing colon",
		"invalid register name (must be e[abcd]x)",
		"policy string must be exactly 32 characters long",
	};
	static const char *const flag_err[] = {
		"", "missing \"=\" in key=value", "unknown CPUID flag name",
		"illegal CPUID value (must be: [0|1|x|k|s])",
	};
	XLU_ConfigList *list;
	int n = 0;
	const char *s;
	int r = list_or_string(x, "cpuid", &list, &n, &s);
	if (r <= 0)
		return r;
	if (!s) {
		for (int i = 0; i < n; i++) {
			bool bad = false;
			const char *l = item(x, list, i, &bad);
			if (!l)
				return xlkeys_fail(x, "item %d is not a string", i + 1);
			int e = libxl_cpuid_parse_config_xend(&B->cpuid, l);
			if (e)
				return xlkeys_fail(x, "'%s': %s", show(b, l),
						   e > 0 && e < 6 ? xend_err[e] : "unknown error");
		}
		return 0;
	}
	char *buf = xstrdup(s), *save = NULL;
	char *p = strtok_r(buf, ",", &save);
	if (p && strcmp(p, "host") != 0) {
		free(buf);
		return xlkeys_fail(x, "'%s': the first word must be \"host\"", show(b, s));
	}
	for (p = p ? strtok_r(NULL, ",", &save) : NULL; p; p = strtok_r(NULL, ",", &save)) {
		int e = libxl_cpuid_parse_config(&B->cpuid, p);
		if (e) {
			r = xlkeys_fail(x, "'%s': %s", show(b, p),
					e > 0 && e < 4 ? flag_err[e] : "invalid flag");
			free(buf);
			return r;
		}
	}
	free(buf);
	return 0;
}

/* ---- device model, display, the rest ------------------------------------------------------------ */

static int k_device_model(struct xk *x)
{
	char b[72];
	const char *s;
	int r = get_str(x, "device_model", &s);
	if (r < 0)
		return -1;
	if (r)
		xlkeys_warn(x, "device_model", "ignored (as by xl); use device_model_override for a "
			    "non-default device model%s",
			    strstr(s, "stubdom-dm") ? ", device_model_stubdomain_override for a "
						      "stub domain" : "");
	if (take_str(x, "device_model_override", &B->device_model) < 0)
		return -1;
	if ((r = get_str(x, "device_model_version", &s)) < 0)
		return -1;
	if (r) {
		if (strcmp(s, "qemu-xen-traditional") == 0)
			B->device_model_version = LIBXL_DEVICE_MODEL_VERSION_QEMU_XEN_TRADITIONAL;
		else if (strcmp(s, "qemu-xen") == 0)
			B->device_model_version = LIBXL_DEVICE_MODEL_VERSION_QEMU_XEN;
		else
			return fail_key(x, "device_model_version", "unknown version '%s' (qemu-xen, "
					"qemu-xen-traditional)", show(b, s));
	} else if (B->device_model) {
		xlkeys_warn(x, "device_model_override", "given without device_model_version (as "
			    "xl warns)");
	}
	if (get_defbool(x, "device_model_stubdomain_override", &B->device_model_stubdomain) < 0 ||
	    take_str(x, "device_model_stubdomain_seclabel", &B->device_model_ssid_label) < 0 ||
	    take_str(x, "device_model_user", &B->device_model_user) < 0 ||
	    take_str(x, "stubdomain_kernel", &B->stubdomain_kernel) < 0 ||
	    take_str(x, "stubdomain_cmdline", &B->stubdomain_cmdline) < 0 ||
	    take_str(x, "stubdomain_ramdisk", &B->stubdomain_ramdisk) < 0)
		return -1;
	long l = 0;
	if ((r = get_long(x, "stubdomain_memory", &l)) < 0)
		return -1;
	if (r)
		B->stubdomain_memkb = (uint64_t)l * 1024;
	if (take_string_list(x, "device_model_args", &B->extra) < 0 ||
	    take_string_list(x, "device_model_args_pv", &B->extra_pv) < 0 ||
	    take_string_list(x, "device_model_args_hvm", &B->extra_hvm) < 0)
		return -1;
	return 0;
}

static int top_vnc(struct xk *x, libxl_vnc_info *vnc)
{
	long l = 0;
	int r;
	if (get_defbool(x, "vnc", &vnc->enable) < 0 ||
	    take_str(x, "vnclisten", &vnc->listen) < 0 ||
	    take_str(x, "vncpasswd", &vnc->passwd) < 0)
		return -1;
	if ((r = get_long(x, "vncdisplay", &l)) < 0)
		return -1;
	if (r)
		vnc->display = (uint32_t)l;
	return get_defbool(x, "vncunused", &vnc->findunused) < 0 ? -1 : 0;
}

static int top_sdl(struct xk *x, libxl_sdl_info *sdl)
{
	if (get_defbool(x, "sdl", &sdl->enable) < 0 || get_defbool(x, "opengl", &sdl->opengl) < 0 ||
	    take_str(x, "display", &sdl->display) < 0 ||
	    take_str(x, "xauthority", &sdl->xauthority) < 0)
		return -1;
	return 0;
}

/* The top-level vnc and sdl keys: an HVM guest's emulated display; for a PV guest without
 * vfb = [...], vnc = 1 makes one vfb (and its vkb) with them. */
static int k_vnc(struct xk *x)
{
	libxl_domain_config *d = x->dc;
	if (PV && !d->num_vfbs) {
		long on = 0;
		if (get_long(x, "vnc", &on) < 0)
			return -1;
		if (!on)
			return 0;
		libxl_device_vfb *vfb = ARRAY_ADD(d->vfbs, d->num_vfbs, libxl_device_vfb_init);
		vfb->devid = d->num_vfbs - 1;
		libxl_device_vkb *vkb = ARRAY_ADD(d->vkbs, d->num_vkbs, libxl_device_vkb_init);
		vkb->devid = d->num_vkbs - 1;
		if (top_vnc(x, &vfb->vnc) < 0 || top_sdl(x, &vfb->sdl) < 0 ||
		    take_str(x, "keymap", &vfb->keymap) < 0)
			return -1;
		return 0;
	}
	/* xl parses them into the hvm member for every other guest too; only an hvm guest's
	 * build info has them, so nothing else would see them */
	if (!HVM)
		return 0;
	return top_vnc(x, &B->u.hvm.vnc) < 0 || top_sdl(x, &B->u.hvm.sdl) < 0 ? -1 : 0;
}

static int k_dm_restrict(struct xk *x)
{
	return get_defbool(x, "dm_restrict", &B->dm_restrict) < 0 ? -1 : 0;
}

/* A list, or one string into the single-value field (serial, usbdevice). */
static int list_or_one(struct xk *x, const char *key, libxl_string_list *list, char **one)
{
	if (xlkeys_form(x->cfg, key) == XV_STRING)
		return take_str(x, key, one) < 0 ? -1 : 0;
	return take_string_list(x, key, list) < 0 ? -1 : 0;
}

static int k_hvm_display(struct xk *x)
{
	char b[72];
	if (!HVM)
		return 0;
	const char *s;
	long l = 0;
	int r = get_str(x, "vga", &s);
	if (r < 0)
		return -1;
	if (r) {
		if (strcmp(s, "stdvga") == 0)
			B->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_STD;
		else if (strcmp(s, "cirrus") == 0)
			B->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_CIRRUS;
		else if (strcmp(s, "none") == 0)
			B->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_NONE;
		else if (strcmp(s, "qxl") == 0)
			B->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_QXL;
		else
			return fail_key(x, "vga", "unknown vga '%s' (stdvga, cirrus, none, qxl)",
					show(b, s));
	} else if ((r = get_long(x, "stdvga", &l)) < 0) {
		return -1;
	} else if (r) {
		B->u.hvm.vga.kind = l ? LIBXL_VGA_INTERFACE_TYPE_STD : LIBXL_VGA_INTERFACE_TYPE_CIRRUS;
	}
	if ((r = get_str(x, "hdtype", &s)) < 0)
		return -1;
	if (r && libxl_hdtype_from_string(s, &B->u.hvm.hdtype))
		return fail_key(x, "hdtype", "invalid value '%s' (ide or ahci)", show(b, s));
	if (take_str(x, "keymap", &B->u.hvm.keymap) < 0 ||
	    get_defbool(x, "spice", &B->u.hvm.spice.enable) < 0)
		return -1;
	if ((r = get_long(x, "spiceport", &l)) < 0)
		return -1;
	if (r)
		B->u.hvm.spice.port = (int)l;
	if ((r = get_long(x, "spicetls_port", &l)) < 0)
		return -1;
	if (r)
		B->u.hvm.spice.tls_port = (int)l;
	if (take_str(x, "spicehost", &B->u.hvm.spice.host) < 0 ||
	    get_defbool(x, "spicedisable_ticketing", &B->u.hvm.spice.disable_ticketing) < 0 ||
	    take_str(x, "spicepasswd", &B->u.hvm.spice.passwd) < 0 ||
	    get_defbool(x, "spiceagent_mouse", &B->u.hvm.spice.agent_mouse) < 0 ||
	    get_defbool(x, "spicevdagent", &B->u.hvm.spice.vdagent) < 0 ||
	    get_defbool(x, "spice_clipboard_sharing", &B->u.hvm.spice.clipboard_sharing) < 0)
		return -1;
	if ((r = get_long(x, "spiceusbredirection", &l)) < 0)
		return -1;
	if (r)
		B->u.hvm.spice.usbredirection = (int)l;
	if (take_str(x, "spice_image_compression", &B->u.hvm.spice.image_compression) < 0 ||
	    take_str(x, "spice_streaming_video", &B->u.hvm.spice.streaming_video) < 0 ||
	    get_defbool(x, "nographic", &B->u.hvm.nographic) < 0)
		return -1;
	if (xlu_cfg_get_long(x->cfg, "gfx_passthru", &l, 1) == 0) {
		libxl_defbool_set(&B->u.hvm.gfx_passthru, l != 0);
	} else if ((r = get_str(x, "gfx_passthru", &s)) < 0) {
		return -1;
	} else if (r) {
		if (libxl_gfx_passthru_kind_from_string(s, &B->u.hvm.gfx_passthru_kind))
			return fail_key(x, "gfx_passthru", "invalid value '%s' (0, 1, default, igd)",
					show(b, s));
		libxl_defbool_set(&B->u.hvm.gfx_passthru, true);
	}
	if (list_or_one(x, "serial", &B->u.hvm.serial_list, &B->u.hvm.serial) < 0 ||
	    take_str(x, "boot", &B->u.hvm.boot) < 0 || get_defbool(x, "usb", &B->u.hvm.usb) < 0)
		return -1;
	if ((r = get_long(x, "usbversion", &l)) < 0)
		return -1;
	if (r)
		B->u.hvm.usbversion = (int)l;
	if (list_or_one(x, "usbdevice", &B->u.hvm.usbdevice_list, &B->u.hvm.usbdevice) < 0 ||
	    get_defbool(x, "vkb_device", &B->u.hvm.vkb_device) < 0 ||
	    take_str(x, "soundhw", &B->u.hvm.soundhw) < 0 ||
	    get_defbool(x, "xen_platform_pci", &B->u.hvm.xen_platform_pci) < 0)
		return -1;
	if (B->u.hvm.vnc.listen && B->u.hvm.vnc.display && strchr(B->u.hvm.vnc.listen, ':'))
		return fail_key(x, "vncdisplay", "the display is given both in vnclisten and in "
				"vncdisplay");
	if ((r = get_str(x, "vendor_device", &s)) < 0)
		return -1;
	if (r && libxl_vendor_device_from_string(s, &B->u.hvm.vendor_device))
		return fail_key(x, "vendor_device", "unknown vendor_device '%s' (none, xenserver)",
				show(b, s));
	return 0;
}

static int k_arm(struct xk *x)
{
	char b[72];
	const char *s;
	int r = get_str(x, "gic_version", &s);
	if (r < 0)
		return -1;
	if (r && libxl_gic_version_from_string(s, &B->arch_arm.gic_version))
		return fail_key(x, "gic_version", "unknown gic_version '%s' (v2, v3)", show(b, s));
	if ((r = get_str(x, "tee", &s)) < 0)
		return -1;
	if (r && libxl_tee_type_from_string(s, &B->tee))
		return fail_key(x, "tee", "unknown tee '%s' (none, optee)", show(b, s));
	return 0;
}

static int vkb_one(struct xk *x, const char *spec)
{
	char b[72];
	libxl_domain_config *d = x->dc;
	libxl_device_vkb *k = ARRAY_ADD(d->vkbs, d->num_vkbs, libxl_device_vkb_init);
	k->devid = d->num_vkbs - 1;
	static const struct {
		const char *name;
		size_t off;
		bool is_bool;
	} nums[] = {
		{"feature-disable-keyboard", offsetof(libxl_device_vkb, feature_disable_keyboard), 1},
		{"feature-disable-pointer", offsetof(libxl_device_vkb, feature_disable_pointer), 1},
		{"feature-abs-pointer", offsetof(libxl_device_vkb, feature_abs_pointer), 1},
		{"feature-raw-pointer", offsetof(libxl_device_vkb, feature_raw_pointer), 1},
		{"feature-multi-touch", offsetof(libxl_device_vkb, feature_multi_touch), 1},
		{"multi-touch-width", offsetof(libxl_device_vkb, multi_touch_width), 0},
		{"multi-touch-height", offsetof(libxl_device_vkb, multi_touch_height), 0},
		{"multi-touch-num-contacts", offsetof(libxl_device_vkb, multi_touch_num_contacts), 0},
		{"width", offsetof(libxl_device_vkb, width), 0},
		{"height", offsetof(libxl_device_vkb, height), 0},
	};
	struct opts o;
	opts_init(&o, spec);
	const char *tok, *v;
	int r = 0;
	while (r == 0 && (tok = opts_next(&o))) {
		if ((v = opt(tok, "backend"))) {
			free(k->backend_domname);
			k->backend_domname = xstrdup(v);
			continue;
		}
		if ((v = opt(tok, "backend-type"))) {
			if (libxl_vkb_backend_from_string(v, &k->backend_type))
				r = xlkeys_fail(x, "unknown backend-type '%s' (qemu, linux)",
						show(b, v));
			continue;
		}
		if ((v = opt(tok, "unique-id"))) {
			free(k->unique_id);
			k->unique_id = xstrdup(v);
			continue;
		}
		size_t i;
		for (i = 0; i < sizeof nums / sizeof nums[0]; i++)
			if ((v = opt(tok, nums[i].name)))
				break;
		if (i == sizeof nums / sizeof nums[0]) {
			r = xlkeys_fail(x, "unknown option '%s'", show(b, tok));
			continue;
		}
		unsigned long n = strtoul(v, NULL, 0);
		if (nums[i].is_bool)
			*(bool *)((char *)k + nums[i].off) = n != 0;
		else
			*(uint32_t *)((char *)k + nums[i].off) = (uint32_t)n;
	}
	opts_finish(&o);
	if (r)
		return r;
	if (k->backend_type == LIBXL_VKB_BACKEND_UNKNOWN)
		return xlkeys_fail(x, "backend-type must be given");
	if (k->multi_touch_height || k->multi_touch_width || k->multi_touch_num_contacts)
		k->feature_multi_touch = true;
	else if (k->feature_multi_touch)
		return xlkeys_fail(x, "multi-touch-width, multi-touch-height and "
				   "multi-touch-num-contacts must be given for multi touch");
	return 0;
}

static int k_vkb(struct xk *x)
{
	return each_spec(x, "vkb", vkb_one);
}

static int k_last(struct xk *x)
{
	int r;
	if (get_defbool(x, "xend_suspend_evtchn_compat", &C->xend_suspend_evtchn_compat) < 0 ||
	    (r = get_defbool(x, "msr_relaxed", &B->arch_x86.msr_relaxed)) < 0)
		return -1;
	if (r)
		xlkeys_warn(x, "msr_relaxed", "will be removed in future versions (as xl says)");
	return get_defbool(x, "vpmu", &B->vpmu) < 0 ? -1 : 0;
}

/* vmd's own: a guest's claim_mode over the host's (xl takes it from xl.conf only). */
static int k_claim_mode(struct xk *x)
{
	return get_defbool(x, "claim_mode", &B->claim_mode) < 0 ? -1 : 0;
}

/* ---- the table ---------------------------------------------------------------------------------- */

#define S XV_STRING
#define N XV_NUMBER
#define BO (XV_BOOL | XV_NUMBER)
#define L XV_LIST
#define SP (XV_LIST)
#define ALL XT_ALL
#define HV XT_HVM
#define PVO XT_PV
#define PVHO XT_PVH

const struct xl_key xl_keys[] = {
	{"init_seclabel", S, ALL, XF_ROOT, k_seclabel, NULL, "none", "c_info.ssid_label"},
	{"seclabel", S, ALL, XF_ROOT, NULL, "init_seclabel", "none",
	 "c_info.ssid_label (b_info.exec_ssid_label with init_seclabel)"},
	{"type", S, ALL, 0, k_type, NULL, "pv", "c_info.type"},
	{"builder", S, ALL, XF_DEPRECATED, NULL, "type", "", "c_info.type (hvm, generic)"},
	{"hap", BO, ALL, 0, k_hap, NULL, "libxl's (on)", "c_info.hap"},
	{"name", S, ALL, 0, k_name, NULL, "(required)", "c_info.name"},
	{"uuid", S, ALL, 0, k_uuid, NULL, "random", "c_info.uuid"},
	{"oos", BO, ALL, 0, k_oos, NULL, "libxl's", "c_info.oos"},
	{"pool", S, ALL, XF_ROOT, k_pool, NULL, "Pool-0", "c_info.pool_name"},
	{"pvshim", BO, PVHO, 0, k_pvshim, NULL, "0", "b_info.type.pvh.pvshim"},
	{"pvshim_path", S, PVHO, XF_PATH | XF_ROOT, NULL, "pvshim", "libxl's", "b_info.type.pvh.pvshim_path"},
	{"pvshim_cmdline", S, PVHO, 0, NULL, "pvshim", "libxl's", "b_info.type.pvh.pvshim_cmdline"},
	{"pvshim_extra", S, PVHO, 0, NULL, "pvshim", "none", "b_info.type.pvh.pvshim_extra"},
	{"cpu_weight", N, ALL, 0, k_sched, NULL, "scheduler's", "b_info.sched_params.weight"},
	{"cap", N, ALL, 0, NULL, "cpu_weight", "scheduler's", "b_info.sched_params.cap"},
	{"period", N, ALL, XF_UNDOCUMENTED, NULL, "cpu_weight", "scheduler's", "b_info.sched_params.period"},
	{"slice", N, ALL, XF_UNDOCUMENTED, NULL, "cpu_weight", "scheduler's", "b_info.sched_params.slice"},
	{"latency", N, ALL, XF_UNDOCUMENTED, NULL, "cpu_weight", "scheduler's", "b_info.sched_params.latency"},
	{"extratime", N, ALL, XF_UNDOCUMENTED, NULL, "cpu_weight", "scheduler's", "b_info.sched_params.extratime"},
	{"memory", N, ALL, 0, k_memory, NULL, "libxl's (32 MiB)", "b_info.target_memkb (MiB)"},
	{"maxmem", N, ALL, 0, NULL, "memory", "= memory", "b_info.max_memkb (MiB)"},
	{"vcpus", N, ALL, 0, k_vcpus, NULL, "libxl's (1)", "b_info.avail_vcpus"},
	{"maxvcpus", N, ALL, 0, NULL, "vcpus", "= vcpus", "b_info.max_vcpus"},
	{"vuart", S, ALL, XF_ARM, k_vuart, NULL, "none", "b_info.arch_arm.vuart"},
	{"vnuma", XV_NESTED | L, ALL, 0, k_vnuma, NULL, "none", "b_info.vnuma_nodes"},
	{"cpus", S | L, ALL, 0, k_cpus, NULL, "all", "b_info.vcpu_hard_affinity"},
	{"cpus_soft", S | L, ALL, 0, NULL, "cpus", "all", "b_info.vcpu_soft_affinity"},
	{"max_grant_frames", N, ALL, 0, k_grants, NULL, "xl.conf's", "b_info.max_grant_frames"},
	{"max_maptrack_frames", N, ALL, 0, NULL, "max_grant_frames", "xl.conf's",
	 "b_info.max_maptrack_frames"},
	{"max_grant_version", N, ALL, 0, NULL, "max_grant_frames", "xl.conf's",
	 "b_info.max_grant_version"},
	{"claim_mode", BO, ALL, XF_VMD | XF_UNDOCUMENTED, k_claim_mode, NULL,
	 "vmd.conf's, else xl.conf's, else 1", "b_info.claim_mode"},
	{"on_poweroff", S, ALL, 0, k_actions, NULL, "destroy", "on_poweroff"},
	{"on_reboot", S, ALL, 0, NULL, "on_poweroff", "restart", "on_reboot"},
	{"on_watchdog", S, ALL, 0, NULL, "on_poweroff", "destroy", "on_watchdog"},
	{"on_crash", S, ALL, 0, NULL, "on_poweroff", "destroy", "on_crash"},
	{"on_soft_reset", S, ALL, 0, NULL, "on_poweroff", "soft-reset", "on_soft_reset"},
	{"e820_host", BO, PVO, XF_ROOT, k_e820_host, NULL, "0 (1 with pci)", "b_info.type.pv.e820_host"},
	{"pci_msitranslate", N, ALL, XF_ROOT, k_pci_flags, NULL, "0", "pcidevs[].msitranslate"},
	{"pci_power_mgmt", N, ALL, XF_ROOT, NULL, "pci_msitranslate", "0", "pcidevs[].power_mgmt"},
	{"pci_permissive", N, ALL, XF_ROOT, NULL, "pci_msitranslate", "0", "pcidevs[].permissive"},
	{"pci_seize", N, ALL, XF_ROOT, NULL, "pci_msitranslate", "0", "pcidevs[].seize"},
	{"rdm", S, HV, XF_ROOT, k_rdm, NULL, "none", "b_info.type.hvm.rdm"},
	{"pci", SP, ALL, XF_SPECS | XF_ROOT, k_pci, NULL, "none", "pcidevs"},
	{"dtdev", SP, ALL, XF_ARM | XF_ROOT, k_dtdev, NULL, "none", "dtdevs"},
	{"passthrough", S, ALL, XF_ROOT, k_passthrough, NULL, "libxl's", "c_info.passthrough"},
	{"shadow_memory", N, ALL, 0, k_shadow_memory, NULL, "libxl's", "b_info.shadow_memkb (MiB)"},
	{"nomigrate", BO, ALL, 0, NULL, "shadow_memory", "0", "b_info.disable_migrate"},
	{"tsc_mode", S | N, ALL, 0, k_tsc_mode, NULL, "default", "b_info.tsc_mode"},
	{"rtc_timeoffset", N, ALL, 0, k_misc_times, NULL, "0", "b_info.rtc_timeoffset (seconds)"},
	{"vncviewer", BO, ALL, XF_IGNORED | XF_UNDOCUMENTED, NULL, "rtc_timeoffset", "", "nothing"},
	{"localtime", BO, ALL, 0, NULL, "rtc_timeoffset", "0", "b_info.localtime"},
	{"videoram", N, ALL, 0, NULL, "rtc_timeoffset", "libxl's", "b_info.video_memkb (MiB)"},
	{"max_event_channels", N, ALL, 0, NULL, "rtc_timeoffset", "libxl's (1023)",
	 "b_info.event_channels"},
	{"kernel", S, ALL, XF_PATH, k_kernel, NULL, "none", "b_info.kernel"},
	{"ramdisk", S, ALL, XF_PATH, NULL, "kernel", "none", "b_info.ramdisk"},
	{"device_tree", S, ALL, XF_PATH | XF_ARM, NULL, "kernel", "none", "b_info.device_tree"},
	{"cmdline", S, ALL, 0, NULL, "kernel", "none", "b_info.cmdline"},
	{"root", S, ALL, 0, NULL, "kernel", "none", "b_info.cmdline (\"root=...\")"},
	{"extra", S, ALL, 0, NULL, "kernel", "none", "b_info.cmdline (appended)"},
	{"driver_domain", BO, ALL, XF_ROOT, k_driver_domain, NULL, "0", "c_info.driver_domain"},
	{"acpi", BO, ALL, 0, NULL, "driver_domain", "libxl's (1)", "b_info.acpi"},
	{"bootloader", S, ALL, 0, k_bootloader, NULL, "none", "b_info.bootloader"},
	{"bootloader_args", S | L, ALL, 0, NULL, "bootloader", "none", "b_info.bootloader_args"},
	{"timer_mode", S | N, HV | PVHO, 0, k_timer_mode, NULL, "libxl's",
	 "b_info.timer_mode"},
	{"nestedhvm", BO, ALL, 0, k_nestedhvm, NULL, "0", "b_info.nested_hvm"},
	{"firmware", S, ALL, 0, k_firmware, NULL, "bios",
	 "b_info.type.hvm.bios / .firmware; pv, pvh: kernel = pvgrub32|64"},
	{"firmware_override", S, HV, XF_PATH | XF_ROOT | XF_UNDOCUMENTED, NULL, "firmware", "none",
	 "b_info.type.hvm.firmware"},
	{"bios_path_override", S, HV, XF_PATH | XF_ROOT, NULL, "firmware", "none",
	 "b_info.type.hvm.system_firmware"},
	{"bios", S, HV, 0, NULL, "firmware", "libxl's (seabios)", "b_info.type.hvm.bios"},
	{"pae", BO, HV, 0, NULL, "firmware", "libxl's (1)", "b_info.type.hvm.pae"},
	{"acpi_s3", BO, HV, 0, NULL, "firmware", "libxl's (1)", "b_info.type.hvm.acpi_s3"},
	{"acpi_s4", BO, HV, 0, NULL, "firmware", "libxl's (1)", "b_info.type.hvm.acpi_s4"},
	{"acpi_laptop_slate", BO, HV, 0, NULL, "firmware", "0", "b_info.type.hvm.acpi_laptop_slate"},
	{"nx", BO, HV, 0, NULL, "firmware", "libxl's (1)", "b_info.type.hvm.nx"},
	{"hpet", BO, HV, 0, NULL, "firmware", "libxl's (1)", "b_info.type.hvm.hpet"},
	{"vpt_align", BO, HV, 0, NULL, "firmware", "libxl's (1)", "b_info.type.hvm.vpt_align"},
	{"apic", BO, HV, 0, NULL, "firmware", "libxl's (1)", "b_info.apic"},
	{"viridian", BO | L, HV, 0, NULL, "firmware", "0",
	 "b_info.type.hvm.viridian, viridian_enable, viridian_disable"},
	{"mmio_hole", N, HV, 0, NULL, "firmware", "libxl's", "b_info.type.hvm.mmio_hole_memkb (MiB)"},
	{"altp2mhvm", BO, HV, XF_DEPRECATED, NULL, "firmware", "0", "b_info.type.hvm.altp2m"},
	{"smbios_firmware", S, HV, XF_PATH, NULL, "firmware", "none",
	 "b_info.type.hvm.smbios_firmware"},
	{"acpi_firmware", S, HV, XF_PATH, NULL, "firmware", "none", "b_info.type.hvm.acpi_firmware"},
	{"ms_vm_genid", S, HV, 0, NULL, "firmware", "none", "b_info.type.hvm.ms_vm_genid"},
	{"rdm_mem_boundary", N, HV, 0, NULL, "firmware", "libxl's (2048 MiB)",
	 "b_info.type.hvm.rdm_mem_boundary_memkb (MiB)"},
	{"mca_caps", L, HV, 0, NULL, "firmware", "none", "b_info.type.hvm.mca_caps"},
	{"altp2m", S | N, ALL, 0, k_altp2m, NULL, "disabled", "b_info.altp2m"},
	{"vmtrace_buf_kb", N, ALL, XF_ROOT, NULL, "altp2m", "0", "b_info.vmtrace_buf_kb"},
	{"ioports", L, ALL, XF_ROOT, k_ioports, NULL, "none", "b_info.ioports"},
	{"irqs", L, ALL, XF_ROOT, k_irqs, NULL, "none", "b_info.irqs"},
	{"iomem", L, ALL, XF_ROOT, k_iomem, NULL, "none", "b_info.iomem"},
	{"disk", SP, ALL, XF_SPECS, k_disk, NULL, "none", "disks"},
	{"p9", SP, ALL, XF_SPECS | XF_ROOT, k_p9, NULL, "none", "p9s"},
	{"vtpm", SP, ALL, XF_SPECS | XF_ROOT, k_vtpm, NULL, "none", "vtpms"},
	{"vdispl", SP, ALL, XF_SPECS | XF_ROOT, k_vdispl, NULL, "none", "vdispls"},
	{"pvcalls", SP, ALL, XF_SPECS | XF_ROOT, k_pvcalls, NULL, "none", "pvcallsifs"},
	{"vsnd", XV_NESTED | L, ALL, XF_ROOT, k_vsnd, NULL, "none", "vsnds"},
	{"channel", SP, ALL, XF_SPECS | XF_ROOT, k_channel, NULL, "none", "channels"},
	{"vif", SP, ALL, XF_SPECS, k_vif, NULL, "none", "nics"},
	{"vif2", SP, ALL, XF_IGNORED | XF_UNDOCUMENTED, NULL, "vif", "", "nothing"},
	{"vfb", SP, ALL, XF_SPECS | XF_ROOT, k_vfb, NULL, "none", "vfbs, vkbs"},
	{"usbctrl", SP, ALL, XF_SPECS | XF_ROOT, k_usbctrl, NULL, "none", "usbctrls"},
	{"usbdev", SP, ALL, XF_SPECS | XF_ROOT, k_usbdev, NULL, "none", "usbdevs"},
	{"cpuid", S | L, ALL, 0, k_cpuid, NULL, "none", "b_info.cpuid"},
	{"device_model", S, ALL, XF_IGNORED | XF_UNDOCUMENTED, k_device_model, NULL, "", "nothing"},
	{"device_model_override", S, ALL, XF_PATH | XF_ROOT, NULL, "device_model", "none",
	 "b_info.device_model"},
	{"device_model_version", S, ALL, 0, NULL, "device_model", "qemu-xen",
	 "b_info.device_model_version"},
	{"device_model_stubdomain_override", BO, ALL, XF_ROOT, NULL, "device_model", "0",
	 "b_info.device_model_stubdomain"},
	{"device_model_stubdomain_seclabel", S, ALL, XF_ROOT, NULL, "device_model", "none",
	 "b_info.device_model_ssid_label"},
	{"device_model_user", S, ALL, XF_ROOT, NULL, "device_model", "libxl's",
	 "b_info.device_model_user"},
	{"stubdomain_kernel", S, ALL, XF_PATH | XF_ROOT, NULL, "device_model", "libxl's",
	 "b_info.stubdomain_kernel"},
	{"stubdomain_cmdline", S, ALL, XF_ROOT, NULL, "device_model", "none",
	 "b_info.stubdomain_cmdline"},
	{"stubdomain_ramdisk", S, ALL, XF_PATH | XF_ROOT, NULL, "device_model", "libxl's",
	 "b_info.stubdomain_ramdisk"},
	{"stubdomain_memory", N, ALL, XF_ROOT, NULL, "device_model", "libxl's",
	 "b_info.stubdomain_memkb (MiB)"},
	{"device_model_args", L, ALL, XF_ROOT, NULL, "device_model", "none", "b_info.extra"},
	{"device_model_args_pv", L, ALL, XF_ROOT, NULL, "device_model", "none", "b_info.extra_pv"},
	{"device_model_args_hvm", L, ALL, XF_ROOT, NULL, "device_model", "none", "b_info.extra_hvm"},
	{"vnc", BO, PVO | HV, 0, k_vnc, NULL, "libxl's (1 for hvm)",
	 "b_info.type.hvm.vnc.enable; pv: a vfb"},
	{"vnclisten", S, PVO | HV, 0, NULL, "vnc", "libxl's (127.0.0.1)", ".vnc.listen"},
	{"vncpasswd", S, PVO | HV, 0, NULL, "vnc", "none", ".vnc.passwd"},
	{"vncdisplay", N, PVO | HV, 0, NULL, "vnc", "libxl's", ".vnc.display"},
	{"vncunused", BO, PVO | HV, 0, NULL, "vnc", "libxl's (1)", ".vnc.findunused"},
	{"sdl", BO, PVO | HV, XF_ROOT, NULL, "vnc", "0", ".sdl.enable"},
	{"opengl", BO, PVO | HV, XF_ROOT, NULL, "vnc", "0", ".sdl.opengl"},
	{"display", S, PVO | HV, XF_ROOT, NULL, "vnc", "none", ".sdl.display"},
	{"xauthority", S, PVO | HV, XF_ROOT, NULL, "vnc", "none", ".sdl.xauthority"},
	{"keymap", S, PVO | HV, 0, NULL, "vnc", "none", "b_info.type.hvm.keymap; pv: vfbs[].keymap"},
	{"dm_restrict", BO, ALL, XF_ROOT, k_dm_restrict, NULL, "0", "b_info.dm_restrict"},
	{"vga", S, HV, 0, k_hvm_display, NULL, "libxl's (cirrus, stdvga with ovmf)",
	 "b_info.type.hvm.vga.kind"},
	{"stdvga", BO, HV, 0, NULL, "vga", "0", "b_info.type.hvm.vga.kind"},
	{"hdtype", S, HV, 0, NULL, "vga", "ide", "b_info.type.hvm.hdtype"},
	{"spice", BO, HV, 0, NULL, "vga", "0", "b_info.type.hvm.spice.enable"},
	{"spiceport", N, HV, 0, NULL, "vga", "none", "b_info.type.hvm.spice.port"},
	{"spicetls_port", N, HV, 0, NULL, "vga", "none", "b_info.type.hvm.spice.tls_port"},
	{"spicehost", S, HV, 0, NULL, "vga", "none", "b_info.type.hvm.spice.host"},
	{"spicedisable_ticketing", BO, HV, 0, NULL, "vga", "0",
	 "b_info.type.hvm.spice.disable_ticketing"},
	{"spicepasswd", S, HV, 0, NULL, "vga", "none", "b_info.type.hvm.spice.passwd"},
	{"spiceagent_mouse", BO, HV, 0, NULL, "vga", "1", "b_info.type.hvm.spice.agent_mouse"},
	{"spicevdagent", BO, HV, 0, NULL, "vga", "0", "b_info.type.hvm.spice.vdagent"},
	{"spice_clipboard_sharing", BO, HV, 0, NULL, "vga", "0",
	 "b_info.type.hvm.spice.clipboard_sharing"},
	{"spiceusbredirection", N, HV, 0, NULL, "vga", "0", "b_info.type.hvm.spice.usbredirection"},
	{"spice_image_compression", S, HV, 0, NULL, "vga", "none",
	 "b_info.type.hvm.spice.image_compression"},
	{"spice_streaming_video", S, HV, 0, NULL, "vga", "none",
	 "b_info.type.hvm.spice.streaming_video"},
	{"nographic", BO, HV, 0, NULL, "vga", "0", "b_info.type.hvm.nographic"},
	{"gfx_passthru", S | N, HV, XF_ROOT, NULL, "vga", "0",
	 "b_info.type.hvm.gfx_passthru, gfx_passthru_kind"},
	{"serial", S | L, HV, 0, NULL, "vga", "none",
	 "b_info.type.hvm.serial (one) or .serial_list"},
	{"boot", S, HV, 0, NULL, "vga", "libxl's (cda)", "b_info.type.hvm.boot"},
	{"usb", BO, HV, 0, NULL, "vga", "0", "b_info.type.hvm.usb"},
	{"usbversion", N, HV, 0, NULL, "vga", "none", "b_info.type.hvm.usbversion"},
	{"usbdevice", S | L, HV, 0, NULL, "vga", "none",
	 "b_info.type.hvm.usbdevice (one) or .usbdevice_list"},
	{"vkb_device", BO, HV, 0, NULL, "vga", "libxl's (1)", "b_info.type.hvm.vkb_device"},
	{"soundhw", S, HV, 0, NULL, "vga", "none", "b_info.type.hvm.soundhw"},
	{"xen_platform_pci", BO, HV, 0, NULL, "vga", "libxl's (1)",
	 "b_info.type.hvm.xen_platform_pci"},
	{"vendor_device", S, HV, 0, NULL, "vga", "none", "b_info.type.hvm.vendor_device"},
	{"gic_version", S, ALL, XF_ARM, k_arm, NULL, "libxl's (the host's)",
	 "b_info.arch_arm.gic_version"},
	{"tee", S, ALL, XF_ARM, NULL, "gic_version", "none", "b_info.tee"},
	{"vkb", SP, ALL, XF_SPECS, k_vkb, NULL, "none", "vkbs"},
	{"xend_suspend_evtchn_compat", BO, ALL, 0, k_last, NULL, "0",
	 "c_info.xend_suspend_evtchn_compat"},
	{"msr_relaxed", BO, ALL, XF_DEPRECATED, NULL, "xend_suspend_evtchn_compat", "0",
	 "b_info.arch_x86.msr_relaxed"},
	{"vpmu", BO, ALL, 0, NULL, "xend_suspend_evtchn_compat", "libxl's",
	 "b_info.vpmu"},
	/* xm's keys (xend's create.py) that xl does not read: old configs and libvirt's
	 * exports (parallel = "none") still carry them. Accepted with a warning. */
	{"parallel", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, k_xm, NULL, "", "nothing"},
	{"cdrom", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"vcpu_avail", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"bootargs", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"dhcp", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"netmask", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"gateway", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"hostname", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"interface", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"nfs_server", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"nfs_root", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"ip", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"vscsi", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"fda", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"fdb", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"isa", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"monitor", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"vncconsole", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"loader", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"guest_os_type", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"machine_address_size", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"suppress_spurious_page_faults", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"superpages", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"on_xend_start", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"on_xend_stop", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"security", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"cpu_cap", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"vhpt", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"features", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"irq", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"extid", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"cpuid_check", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"expose_host_uuid", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"memory_sharing", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"descr", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
	{"s3_integrity", S | N | L, ALL, XF_XM | XF_IGNORED | XF_UNDOCUMENTED, NULL, "parallel", "", "nothing"},
};

const size_t xl_n_keys = sizeof xl_keys / sizeof xl_keys[0];

#undef S
#undef N
#undef BO
#undef L
#undef SP

const struct xl_key *xlkeys_find(const char *name)
{
	for (size_t i = 0; i < xl_n_keys; i++)
		if (strcmp(xl_keys[i].name, name) == 0)
			return &xl_keys[i];
	return NULL;
}

void xlkeys_host_default(struct xlkeys_host *h, int n_cpus)
{
	memset(h, 0, sizeof *h);
	h->max_cpus = n_cpus > 0 ? n_cpus : 1;
	h->online_cpus = h->max_cpus;
	h->nr_nodes = 1;
	h->claim_mode = true;
	h->run_hotplug_scripts = true;
	h->max_grant_frames = -1;
	h->max_maptrack_frames = -1;
	h->max_grant_version = (int)LIBXL_MAX_GRANT_DEFAULT;
}

/* xl.conf's vm.cpumask and vm.{pv,hvm}.cpumask, as xl applies them after the parse
 * (create_domain, apply_global_affinity_masks): a guest without hard affinity gets one map
 * per vcpu of all cpus, and every map is anded with both masks; an empty result is an
 * error. */
static int global_masks(struct xk *x)
{
	const struct xlkeys_host *h = x->host;
	const char *type_spec = B->type == LIBXL_DOMAIN_TYPE_PV ? h->vm_pv_cpumask
								: h->vm_hvm_cpumask;
	const char *type_key = B->type == LIBXL_DOMAIN_TYPE_PV ? "vm.pv.cpumask"
							       : "vm.hvm.cpumask";
	if (!h->vm_cpumask && !type_spec)
		return 0;
	libxl_bitmap vm, type;
	cpu_bitmap_alloc(x, &vm, 0);
	cpu_bitmap_alloc(x, &type, 0);
	int r = -1;
	if (h->vm_cpumask) {
		if (cpumap_parse(x, "vm.cpumask", h->vm_cpumask, &vm) < 0)
			goto out;
	} else {
		memset(vm.map, 0xff, vm.size);
	}
	if (type_spec) {
		if (cpumap_parse(x, type_key, type_spec, &type) < 0)
			goto out;
	} else {
		memset(type.map, 0xff, type.size);
	}
	if (B->num_vcpu_hard_affinity == 0 &&
	    (!libxl_bitmap_is_full(&vm) || !libxl_bitmap_is_full(&type))) {
		B->num_vcpu_hard_affinity = (int)B->max_vcpus;
		B->vcpu_hard_affinity = xcalloc(B->max_vcpus ? (size_t)B->max_vcpus : 1,
						sizeof *B->vcpu_hard_affinity);
		for (int i = 0; i < (int)B->num_vcpu_hard_affinity; i++) {
			cpu_bitmap_alloc(x, &B->vcpu_hard_affinity[i], 0);
			memset(B->vcpu_hard_affinity[i].map, 0xff, B->vcpu_hard_affinity[i].size);
		}
	}
	for (int i = 0; i < (int)B->num_vcpu_hard_affinity; i++) {
		libxl_bitmap *t = &B->vcpu_hard_affinity[i];
		uint32_t n = t->size;
		n = n < vm.size ? n : vm.size;
		n = n < type.size ? n : type.size;
		libxl_bitmap and;
		bitmap_alloc(&and, (int)n * 8);
		for (uint32_t j = 0; j < n; j++)
			and.map[j] = t->map[j] & vm.map[j] & type.map[j];
		if (libxl_bitmap_is_empty(&and)) {
			libxl_bitmap_dispose(&and);
			r = fail_key(x, "cpus", "vcpu %d: its hard affinity and xl.conf's vm cpumasks "
				     "have no cpu in common", i);
			goto out;
		}
		libxl_bitmap_dispose(t);
		*t = and;
	}
	r = 0;
out:
	libxl_bitmap_dispose(&vm);
	libxl_bitmap_dispose(&type);
	return r;
}

int xlkeys_translate(struct xk *x)
{
	for (size_t i = 0; i < xl_n_keys; i++) {
		if (!xl_keys[i].apply)
			continue;
		x->key = &xl_keys[i];
		if (xl_keys[i].apply(x) < 0)
			return -1;
	}
	x->key = NULL;
	return global_masks(x);
}
