/*
 * config.c: the parts of struct vm_config that know nothing about input formats: defaults,
 * freeing, deep copy, comparison, the names of enums, guest-name rules and the kernel command
 * line that xl would build. Parsing lives in xlcfg.c (xl.cfg) and config-json.c (JSON).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vmd-proto.h"

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->type = VM_TYPE_PV;
	cfg->vcpus = 1;
	cfg->maxvcpus = 0;
	cfg->memory = 128;
	cfg->maxmem = 0;
	cfg->vncdisplay = -1;
	cfg->claim_mode = -1;
	cfg->on_poweroff = VM_ACTION_DESTROY;
	cfg->on_reboot = VM_ACTION_RESTART;
	cfg->on_crash = VM_ACTION_DESTROY;
}

void vm_disk_finish(struct vm_disk *d)
{
	free(d->target);
	free(d->vdev);
	free(d->format);
	free(d->backendtype);
	free(d->script);
	memset(d, 0, sizeof(*d));
}

void vm_vif_finish(struct vm_vif *v)
{
	free(v->mac);
	free(v->bridge);
	free(v->script);
	free(v->ip);
	free(v->vifname);
	free(v->model);
	free(v->type);
	memset(v, 0, sizeof(*v));
}

void vm_config_finish(struct vm_config *cfg)
{
	free(cfg->name);
	free(cfg->kernel);
	free(cfg->ramdisk);
	free(cfg->cmdline);
	free(cfg->root);
	free(cfg->extra);
	free(cfg->bootloader);
	for (size_t i = 0; i < cfg->n_bootloader_args; i++)
		free(cfg->bootloader_args[i]);
	free(cfg->bootloader_args);
	for (size_t i = 0; i < cfg->n_disks; i++)
		vm_disk_finish(&cfg->disks[i]);
	free(cfg->disks);
	for (size_t i = 0; i < cfg->n_vifs; i++)
		vm_vif_finish(&cfg->vifs[i]);
	free(cfg->vifs);
	free(cfg->boot);
	free(cfg->vnclisten);
	free(cfg->serial);
	vm_config_init(cfg);
}

/* dst need not be initialised: every member is overwritten. Allocation cannot fail (xmalloc
 * aborts), so this always returns 0; the int result leaves room for a fallible allocator. */
int vm_config_copy(struct vm_config *dst, const struct vm_config *src)
{
	*dst = *src; /* scalars; every pointer is replaced below */
	dst->name = xstrdup(src->name);
	dst->kernel = xstrdup(src->kernel);
	dst->ramdisk = xstrdup(src->ramdisk);
	dst->cmdline = xstrdup(src->cmdline);
	dst->root = xstrdup(src->root);
	dst->extra = xstrdup(src->extra);
	dst->bootloader = xstrdup(src->bootloader);
	dst->boot = xstrdup(src->boot);
	dst->vnclisten = xstrdup(src->vnclisten);
	dst->serial = xstrdup(src->serial);

	dst->bootloader_args = NULL;
	if (src->n_bootloader_args) {
		dst->bootloader_args = xcalloc(src->n_bootloader_args, sizeof(char *));
		for (size_t i = 0; i < src->n_bootloader_args; i++)
			dst->bootloader_args[i] = xstrdup(src->bootloader_args[i]);
	}

	dst->disks = NULL;
	if (src->n_disks) {
		dst->disks = xcalloc(src->n_disks, sizeof(struct vm_disk));
		for (size_t i = 0; i < src->n_disks; i++) {
			const struct vm_disk *s = &src->disks[i];
			struct vm_disk *d = &dst->disks[i];
			d->target = xstrdup(s->target);
			d->vdev = xstrdup(s->vdev);
			d->format = xstrdup(s->format);
			d->backendtype = xstrdup(s->backendtype);
			d->script = xstrdup(s->script);
			d->readwrite = s->readwrite;
			d->cdrom = s->cdrom;
		}
	}

	dst->vifs = NULL;
	if (src->n_vifs) {
		dst->vifs = xcalloc(src->n_vifs, sizeof(struct vm_vif));
		for (size_t i = 0; i < src->n_vifs; i++) {
			const struct vm_vif *s = &src->vifs[i];
			struct vm_vif *v = &dst->vifs[i];
			v->mac = xstrdup(s->mac);
			v->bridge = xstrdup(s->bridge);
			v->script = xstrdup(s->script);
			v->ip = xstrdup(s->ip);
			v->vifname = xstrdup(s->vifname);
			v->model = xstrdup(s->model);
			v->type = xstrdup(s->type);
		}
	}
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* A disk format of NULL means raw (struct vm_disk), so the two spellings compare equal. */
static bool format_eq(const char *a, const char *b)
{
	return str_eq(a ? a : "raw", b ? b : "raw");
}

static bool disk_eq(const struct vm_disk *a, const struct vm_disk *b)
{
	return str_eq(a->target, b->target) && str_eq(a->vdev, b->vdev) &&
	       format_eq(a->format, b->format) && str_eq(a->backendtype, b->backendtype) &&
	       str_eq(a->script, b->script) && a->readwrite == b->readwrite && a->cdrom == b->cdrom;
}

static bool vif_eq(const struct vm_vif *a, const struct vm_vif *b)
{
	return str_eq(a->mac, b->mac) && str_eq(a->bridge, b->bridge) &&
	       str_eq(a->script, b->script) && str_eq(a->ip, b->ip) &&
	       str_eq(a->vifname, b->vifname) && str_eq(a->model, b->model) &&
	       str_eq(a->type, b->type);
}

void vm_config_make_installed(struct vm_config *cfg)
{
	size_t kept = 0;
	for (size_t i = 0; i < cfg->n_disks; i++) {
		if (cfg->disks[i].cdrom)
			vm_disk_finish(&cfg->disks[i]);
		else
			cfg->disks[kept++] = cfg->disks[i];
	}
	cfg->n_disks = kept;
	switch (cfg->type) {
	case VM_TYPE_PV:
		free(cfg->kernel);
		free(cfg->ramdisk);
		free(cfg->cmdline);
		free(cfg->root);
		free(cfg->extra);
		cfg->kernel = cfg->ramdisk = cfg->cmdline = cfg->root = cfg->extra = NULL;
		if (!cfg->bootloader)
			cfg->bootloader = xstrdup("pygrub");
		break;
	case VM_TYPE_HVM:
		free(cfg->boot);
		cfg->boot = xstrdup("c");
		break;
	case VM_TYPE_PVH:
		break;
	}
}

bool vm_config_equal(const struct vm_config *a, const struct vm_config *b)
{
	if (!str_eq(a->name, b->name) || a->type != b->type || a->has_uuid != b->has_uuid)
		return false;
	if (a->has_uuid && memcmp(a->uuid, b->uuid, sizeof(a->uuid)) != 0)
		return false;
	if (a->vcpus != b->vcpus || a->maxvcpus != b->maxvcpus || a->memory != b->memory ||
	    a->maxmem != b->maxmem)
		return false;
	if (!str_eq(a->kernel, b->kernel) || !str_eq(a->ramdisk, b->ramdisk) ||
	    !str_eq(a->cmdline, b->cmdline) || !str_eq(a->root, b->root) ||
	    !str_eq(a->extra, b->extra) || !str_eq(a->bootloader, b->bootloader))
		return false;
	if (a->n_bootloader_args != b->n_bootloader_args)
		return false;
	for (size_t i = 0; i < a->n_bootloader_args; i++)
		if (!str_eq(a->bootloader_args[i], b->bootloader_args[i]))
			return false;
	if (a->n_disks != b->n_disks)
		return false;
	for (size_t i = 0; i < a->n_disks; i++)
		if (!disk_eq(&a->disks[i], &b->disks[i]))
			return false;
	if (a->n_vifs != b->n_vifs)
		return false;
	for (size_t i = 0; i < a->n_vifs; i++)
		if (!vif_eq(&a->vifs[i], &b->vifs[i]))
			return false;
	return str_eq(a->boot, b->boot) && a->vnc == b->vnc && str_eq(a->vnclisten, b->vnclisten) &&
	       a->vncdisplay == b->vncdisplay && str_eq(a->serial, b->serial) && a->sdl == b->sdl &&
	       a->claim_mode == b->claim_mode &&
	       a->on_poweroff == b->on_poweroff && a->on_reboot == b->on_reboot &&
	       a->on_crash == b->on_crash;
}

static const char *const type_names[] = {
	[VM_TYPE_PV] = "pv",
	[VM_TYPE_PVH] = "pvh",
	[VM_TYPE_HVM] = "hvm",
};

static const char *const action_names[] = {
	[VM_ACTION_DESTROY] = "destroy",
	[VM_ACTION_RESTART] = "restart",
	[VM_ACTION_PRESERVE] = "preserve",
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

int vm_action_parse(const char *s, enum vm_action *out)
{
	for (size_t i = 0; s && i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (strcmp(s, action_names[i]) == 0) {
			*out = (enum vm_action)i;
			return 0;
		}
	}
	return -1;
}

/* Names become file names in the store and xl domain names, hence the small alphabet and no
 * leading dot (no ".", "..", or hidden files). */
bool vm_name_valid(const char *name)
{
	if (!name || name[0] == '\0' || name[0] == '.')
		return false;
	size_t n = 0;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		if (n >= VMD_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* As xl does it: cmdline wins outright; otherwise "root=<root>" and extra, space-separated. */
char *vm_config_kernel_cmdline(const struct vm_config *cfg)
{
	if (cfg->cmdline)
		return xstrdup(cfg->cmdline);
	if (!cfg->root && !cfg->extra)
		return NULL;
	return xasprintf("%s%s%s%s", cfg->root ? "root=" : "", cfg->root ? cfg->root : "",
			 cfg->root && cfg->extra ? " " : "", cfg->extra ? cfg->extra : "");
}
