/*
 * config.c: see config.h. The definition is text; everything here either reads the
 * translation (dc) or changes the text and translates it again.
 */
#include "config.h"

#include <libxl_json.h>
#include <libxl_utils.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "util.h"
#include "vmd-proto.h"
#include "xlcfg.h"
#include "xlkeys.h"

/* ---- the host the translation assumes ---------------------------------------------------- */

static struct xlkeys_host default_host;
static bool default_ready;
static const struct xlkeys_host *active_host;

const struct xlkeys_host *config_default_host(void)
{
	if (!default_ready) {
		long n = sysconf(_SC_NPROCESSORS_CONF);
		xlkeys_host_default(&default_host, n > 0 ? (int)n : 1);
		default_ready = true;
	}
	return &default_host;
}

void config_set_host(const struct xlkeys_host *h)
{
	active_host = h;
}

const struct xlkeys_host *config_host(void)
{
	return active_host ? active_host : config_default_host();
}

/* ---- one definition ------------------------------------------------------------------------ */

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->type = VM_TYPE_PV;
	libxl_domain_config_init(&cfg->dc);
}

static void warnings_free(char **w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

void vm_config_finish(struct vm_config *cfg)
{
	free(cfg->name);
	free(cfg->text);
	warnings_free(cfg->warnings, cfg->n_warnings);
	libxl_domain_config_dispose(&cfg->dc);
	vm_config_init(cfg);
}

static enum vm_type type_of(libxl_domain_type t)
{
	return t == LIBXL_DOMAIN_TYPE_HVM ? VM_TYPE_HVM :
	       t == LIBXL_DOMAIN_TYPE_PVH ? VM_TYPE_PVH : VM_TYPE_PV;
}

int config_parse(const char *text, size_t len, const char *filename,
		 const struct xlkeys_host *host, struct vm_config *out, struct err *err)
{
	vm_config_init(out);
	err_clear(err);
	char fname[72];
	snprintf(fname, sizeof fname, "%.*s", utf8_prefix(filename && *filename ? filename
								       : "xl.cfg", 64),
		 filename && *filename ? filename : "xl.cfg");
	for (char *p = fname; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	char *norm;
	struct xlcfg_stmt *s;
	size_t n;
	if (xlcfg_lex(text, len, fname, &norm, &s, &n, err) < 0)
		return -1;
	int r = xlcfg_translate(fname, norm, s, n, host ? host : config_host(), &out->dc,
				&out->warnings, &out->n_warnings, err);
	bool has_uuid = false;
	for (size_t i = 0; i < n; i++)
		has_uuid |= strcmp(s[i].key, "uuid") == 0;
	xlcfg_stmts_free(s, n);
	if (r < 0) {
		free(norm);
		vm_config_finish(out);
		return -1;
	}
	out->text = norm;
	out->name = xstrdup(out->dc.c_info.name);
	out->type = type_of(out->dc.c_info.type);
	memcpy(out->uuid, libxl_uuid_bytearray(&out->dc.c_info.uuid), 16);
	out->has_uuid = has_uuid;
	return 0;
}

int config_reparse(struct vm_config *cfg, struct err *err)
{
	struct vm_config next;
	if (config_parse(cfg->text, strlen(cfg->text), cfg->name, NULL, &next, err) < 0)
		return -1;
	vm_config_finish(cfg);
	*cfg = next;
	return 0;
}

/* Replaces cfg's text by text (taken) and translates it; on failure cfg is as it was. */
static int retext(struct vm_config *cfg, char *text, struct err *err)
{
	struct vm_config next;
	int r = config_parse(text, strlen(text), cfg->name, NULL, &next, err);
	free(text);
	if (r < 0)
		return -1;
	vm_config_finish(cfg);
	*cfg = next;
	return 0;
}

int vm_config_set_number(struct vm_config *cfg, const char *key, long long value,
			 struct err *err)
{
	char num[32];
	snprintf(num, sizeof num, "%lld", value);
	return retext(cfg, xlcfg_set(cfg->text, key, num), err);
}

int vm_config_copy(struct vm_config *dst, const struct vm_config *src, struct err *err)
{
	return config_parse(src->text, strlen(src->text), src->name, NULL, dst, err);
}

char *config_libxl_json(const libxl_domain_config *dc)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g)
		return NULL;
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_indent_string, "    ");
	char *out = NULL;
	if (libxl_domain_config_gen_json(g, (libxl_domain_config *)dc) == yajl_gen_status_ok) {
		const unsigned char *buf;
		size_t len;
		yajl_gen_get_buf(g, &buf, &len);
		out = xasprintf("%.*s%s", (int)len, (const char *)buf,
				len && buf[len - 1] == '\n' ? "" : "\n");
	}
	yajl_gen_free(g);
	return out;
}

/* libxl's JSON of a config as jansson, without the uuid when the text names none (then
 * each parse draws another, as xl's does). */
static json_t *meaning(const struct vm_config *c, bool drop_uuid)
{
	char *text = config_libxl_json(&c->dc);
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (j && drop_uuid)
		json_object_del(json_object_get(j, "c_info"), "uuid");
	return j;
}

bool vm_config_equal(const struct vm_config *a, const struct vm_config *b)
{
	bool drop = !a->has_uuid || !b->has_uuid;
	json_t *ja = meaning(a, drop), *jb = meaning(b, drop);
	bool eq = ja && jb && json_equal(ja, jb);
	json_decref(ja);
	json_decref(jb);
	return eq;
}

/* ---- reading the meaning ------------------------------------------------------------------- */

/* libxl's defaults where the text leaves a value unset (libxl_domain_build_info_setdefault:
 * 32 MiB, the target following the maximum; one vcpu). */
#define LIBXL_DEFAULT_MEMKB (32 * 1024)

uint64_t vm_config_maxmem_mib(const struct vm_config *cfg)
{
	uint64_t kb = cfg->dc.b_info.max_memkb;
	return (kb == LIBXL_MEMKB_DEFAULT ? LIBXL_DEFAULT_MEMKB : kb) / 1024;
}

uint64_t vm_config_memory_mib(const struct vm_config *cfg)
{
	uint64_t kb = cfg->dc.b_info.target_memkb;
	return kb == LIBXL_MEMKB_DEFAULT ? vm_config_maxmem_mib(cfg) : kb / 1024;
}

int vm_config_vcpus(const struct vm_config *cfg)
{
	const libxl_bitmap *b = &cfg->dc.b_info.avail_vcpus;
	return b->size ? libxl_bitmap_count_set(b) : 1;
}

int vm_config_maxvcpus(const struct vm_config *cfg)
{
	return cfg->dc.b_info.max_vcpus ? cfg->dc.b_info.max_vcpus : 1;
}

static enum vm_action action_of(libxl_action_on_shutdown a)
{
	switch (a) {
	case LIBXL_ACTION_ON_SHUTDOWN_DESTROY:
		return VM_ACTION_DESTROY;
	case LIBXL_ACTION_ON_SHUTDOWN_RESTART:
		return VM_ACTION_RESTART;
	case LIBXL_ACTION_ON_SHUTDOWN_RESTART_RENAME:
		return VM_ACTION_RENAME_RESTART;
	case LIBXL_ACTION_ON_SHUTDOWN_PRESERVE:
		return VM_ACTION_PRESERVE;
	case LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_DESTROY:
		return VM_ACTION_COREDUMP_DESTROY;
	case LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_RESTART:
		return VM_ACTION_COREDUMP_RESTART;
	case LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET:
		return VM_ACTION_SOFT_RESET;
	}
	return VM_ACTION_DESTROY;
}

enum vm_action vm_config_action(const struct vm_config *cfg, const char *which)
{
	const libxl_domain_config *d = &cfg->dc;
	if (strcmp(which, "on_poweroff") == 0)
		return action_of(d->on_poweroff);
	if (strcmp(which, "on_reboot") == 0)
		return action_of(d->on_reboot);
	if (strcmp(which, "on_crash") == 0)
		return action_of(d->on_crash);
	if (strcmp(which, "on_watchdog") == 0)
		return action_of(d->on_watchdog);
	return action_of(d->on_soft_reset);
}

bool vm_config_vnc(const struct vm_config *cfg)
{
	const libxl_domain_build_info *b = &cfg->dc.b_info;
	if (cfg->type == VM_TYPE_HVM)
		return libxl_defbool_is_default(b->u.hvm.vnc.enable) ||
		       libxl_defbool_val(b->u.hvm.vnc.enable);
	for (int i = 0; i < cfg->dc.num_vfbs; i++)
		if (!libxl_defbool_is_default(cfg->dc.vfbs[i].vnc.enable) &&
		    libxl_defbool_val(cfg->dc.vfbs[i].vnc.enable))
			return true;
	return false;
}

const char *vm_config_disk_file(const libxl_device_disk *d)
{
	if (!d->pdev_path || !*d->pdev_path || d->script || d->pdev_path[0] != '/')
		return NULL;
	return d->pdev_path;
}

/* ---- names ------------------------------------------------------------------------------------ */

static const char *const type_names[] = {
	[VM_TYPE_PV] = "pv",
	[VM_TYPE_PVH] = "pvh",
	[VM_TYPE_HVM] = "hvm",
};

static const char *const action_names[] = {
	[VM_ACTION_DESTROY] = "destroy",
	[VM_ACTION_RESTART] = "restart",
	[VM_ACTION_RENAME_RESTART] = "rename-restart",
	[VM_ACTION_PRESERVE] = "preserve",
	[VM_ACTION_COREDUMP_DESTROY] = "coredump-destroy",
	[VM_ACTION_COREDUMP_RESTART] = "coredump-restart",
	[VM_ACTION_SOFT_RESET] = "soft-reset",
};

const char *vm_type_name(enum vm_type t)
{
	if ((unsigned)t < sizeof(type_names) / sizeof(type_names[0]))
		return type_names[t];
	return "unknown";
}

const char *vm_action_name(enum vm_action a)
{
	if ((unsigned)a < sizeof(action_names) / sizeof(action_names[0]))
		return action_names[a];
	return "unknown";
}

int vm_type_parse(const char *s, enum vm_type *out)
{
	for (size_t i = 0; s && i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strcmp(s, type_names[i]) == 0) {
			*out = (enum vm_type)i;
			return 0;
		}
	}
	return -1;
}

/* Names become file names in the store and xl domain names, hence the small alphabet and no
 * leading dot (no ".", "..", or hidden files). */
/* ---- changes ---------------------------------------------------------------------------------- */

/* text with key's list replaced by items (n of them; none: the key goes). Takes text. */
static char *set_list(char *text, const char *key, char *const *items, size_t n)
{
	char *next;
	if (n == 0) {
		next = xlcfg_unset(text, key);
	} else {
		char *v = xlcfg_list(items, n);
		next = xlcfg_set(text, key, v);
		free(v);
	}
	free(text);
	return next;
}

/* The same list with each item edited in place (comments and layout kept). Takes text. */
static char *edit_items(char *text, const char *key, char *const *items, size_t n)
{
	char *next = xlcfg_set_items(text, key, items, n);
	free(text);
	return next;
}

static char *set_str(char *text, const char *key, const char *value)
{
	char *q = xlcfg_quote(value);
	char *next = xlcfg_set(text, key, q);
	free(q);
	free(text);
	return next;
}

static char *unset(char *text, const char *key)
{
	char *next = xlcfg_unset(text, key);
	free(text);
	return next;
}

int vm_config_clone(const struct vm_config *src, const char *name, char *const *targets,
		    struct vm_config *out, struct err *err)
{
	char *text = set_str(xstrdup(src->text), "name", name);
	text = unset(text, "uuid");
	text = unset(text, "vncdisplay");
	libxl_string_list vifs = xlcfg_items(text, "vif");
	size_t n = vifs ? (size_t)libxl_string_list_length(&vifs) : 0;
	for (size_t i = 0; i < n; i++) {
		char *e = xlcfg_vif_edit(vifs[i], true, true, NULL, NULL);
		free(vifs[i]);
		vifs[i] = e;
	}
	if (vifs)
		text = edit_items(text, "vif", vifs, n);
	libxl_string_list_dispose(&vifs);
	libxl_string_list disks = xlcfg_items(text, "disk");
	n = disks ? (size_t)libxl_string_list_length(&disks) : 0;
	bool changed = false;
	for (size_t i = 0; targets && i < n && i < (size_t)src->dc.num_disks; i++) {
		if (!targets[i])
			continue;
		libxl_device_disk d;
		if (xlcfg_parse_disk(disks[i], &d, err) < 0) {
			libxl_string_list_dispose(&disks);
			free(text);
			return -1;
		}
		free(d.pdev_path);
		d.pdev_path = xstrdup(targets[i]);
		free(disks[i]);
		disks[i] = xlcfg_disk_spec(&d);
		libxl_device_disk_dispose(&d);
		changed = true;
	}
	if (changed)
		text = edit_items(text, "disk", disks, n);
	libxl_string_list_dispose(&disks);
	int r = config_parse(text, strlen(text), name, NULL, out, err);
	free(text);
	return r;
}

int vm_config_make_installed(struct vm_config *cfg, struct err *err)
{
	char *text = xstrdup(cfg->text);
	libxl_string_list disks = xlcfg_items(text, "disk");
	size_t n = disks ? (size_t)libxl_string_list_length(&disks) : 0, kept = 0;
	for (size_t i = 0; i < n; i++) {
		bool cdrom = i < (size_t)cfg->dc.num_disks && cfg->dc.disks[i].is_cdrom;
		if (cdrom) {
			free(disks[i]);
			continue;
		}
		disks[kept++] = disks[i];
	}
	if (disks) {
		disks[kept] = NULL;
		text = set_list(text, "disk", disks, kept);
	}
	libxl_string_list_dispose(&disks);
	if (cfg->type == VM_TYPE_PV) {
		static const char *const gone[] = {"kernel", "ramdisk", "cmdline", "root", "extra"};
		for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
			text = unset(text, gone[i]);
		if (!cfg->dc.b_info.bootloader) /* one already named stays */
			text = set_str(text, "bootloader", "pygrub");
	} else if (cfg->type == VM_TYPE_HVM) {
		text = set_str(text, "boot", "c");
	}
	return retext(cfg, text, err);
}

int vm_config_complete(struct vm_config *cfg, const uint8_t uuid[16], char *const *macs,
		       struct err *err)
{
	char *text = xstrdup(cfg->text);
	if (!cfg->has_uuid) {
		char u[UUID_STR_LEN];
		uuid_format(uuid, u);
		text = set_str(text, "uuid", u);
	}
	libxl_string_list vifs = xlcfg_items(text, "vif");
	size_t n = vifs ? (size_t)libxl_string_list_length(&vifs) : 0;
	bool changed = false;
	for (size_t i = 0; i < n; i++) {
		const char *mac = macs ? macs[i] : NULL;
		if (!mac)
			continue;
		char *e = xlcfg_vif_edit(vifs[i], false, false, mac, NULL);
		free(vifs[i]);
		vifs[i] = e;
		changed = true;
	}
	if (changed)
		text = edit_items(text, "vif", vifs, n);
	libxl_string_list_dispose(&vifs);
	return retext(cfg, text, err);
}
