/*
 * libxl-config.c: struct vm_config -> libxl_domain_config, the way `xl create` fills it from
 * the same xl.cfg (tools/xl/xl_parse.c and libxlutil's disk parser), so that a guest means
 * the same under vmd and under xl.
 *
 * No libxl context is needed: every allocation is ours (strdup/calloc; libxl's dispose
 * functions free() them), so tests/unit/test-libxl-config.c renders the result with
 * libxl_domain_config_gen_json and compares it with hand-reviewed golden files.
 *
 * What libxl decides is left unset, as xl leaves it: bridge (libxl says xenbr0 for
 * vif-bridge), disk backend (phy for raw files and devices, qdisk otherwise), device model
 * (qemu-xen). on_poweroff/on_reboot/on_crash are filled for the record only: libxl acts on
 * none of them, the core does (vm.c).
 */
#include "libxl-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vmd-proto.h"

/* strdup that keeps NULL; out of memory aborts like the rest of the daemon (util.h). */
static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static libxl_domain_type domain_type(enum vm_type t)
{
	switch (t) {
	case VM_TYPE_PV:
		return LIBXL_DOMAIN_TYPE_PV;
	case VM_TYPE_PVH:
		return LIBXL_DOMAIN_TYPE_PVH;
	case VM_TYPE_HVM:
		return LIBXL_DOMAIN_TYPE_HVM;
	}
	return LIBXL_DOMAIN_TYPE_INVALID;
}

static libxl_action_on_shutdown action(enum vm_action a)
{
	switch (a) {
	case VM_ACTION_DESTROY:
		return LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
	case VM_ACTION_RESTART:
		return LIBXL_ACTION_ON_SHUTDOWN_RESTART;
	case VM_ACTION_PRESERVE:
		return LIBXL_ACTION_ON_SHUTDOWN_PRESERVE;
	}
	return LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
}

/* "pygrub" -> VMD_XEN_BINDIR/pygrub; an absolute path stays (xlcfg allows nothing else). */
static char *bootloader_path(const char *b)
{
	if (b[0] == '/')
		return xstrdup(b);
	return xasprintf("%s/%s", VMD_XEN_BINDIR, b);
}

/* vcpus online out of max_vcpus, as xl's "vcpus": a bitmap with the first `online` bits set.
 * Allocated by hand (libxl_bitmap_alloc wants a ctx); libxl_bitmap_dispose frees map. */
static void set_avail_vcpus(libxl_bitmap *bm, int max, int online)
{
	bm->size = (uint32_t)(max + 7) / 8;
	bm->map = xcalloc(bm->size, 1);
	for (int i = 0; i < online && i < max; i++)
		libxl_bitmap_set(bm, i);
}

static int disk(const struct vm_disk *in, libxl_device_disk *d, struct err *err)
{
	libxl_device_disk_init(d);
	d->vdev = xstrdup(in->vdev);
	d->pdev_path = in->target && *in->target ? xstrdup(in->target) : NULL;
	d->script = dup_or_null(in->script);
	if (in->backendtype &&
	    libxl_disk_backend_from_string(in->backendtype, &d->backend) != 0) {
		err_set(err, VMD_ERR_INVALID_CONFIG, "disk %s: unknown backendtype '%s'",
			     in->vdev, in->backendtype);
		return -1;
	}
	/* libxlutil's defaults: raw; a cdrom is removable and read-only, and one without a
	 * medium has the "empty" format. */
	d->format = LIBXL_DISK_FORMAT_RAW;
	if (in->format && libxl_disk_format_from_string(in->format, &d->format) != 0) {
		err_set(err, VMD_ERR_INVALID_CONFIG, "disk %s: unknown format '%s'", in->vdev,
			     in->format);
		return -1;
	}
	d->readwrite = in->readwrite && !in->cdrom;
	if (in->cdrom) {
		d->is_cdrom = 1;
		d->removable = 1;
		if (!d->pdev_path)
			d->format = LIBXL_DISK_FORMAT_EMPTY;
	}
	return 0;
}

static int nic(const struct vm_vif *in, int devid, libxl_device_nic *n, struct err *err)
{
	libxl_device_nic_init(n);
	n->devid = devid;
	if (in->mac) {
		uint8_t m[6];
		if (mac_parse(in->mac, m) < 0) {
			err_set(err, VMD_ERR_INVALID_CONFIG, "vif %d: bad mac '%s'", devid,
				     in->mac);
			return -1;
		}
		memcpy(n->mac, m, sizeof m);
	}
	n->bridge = dup_or_null(in->bridge);
	n->script = dup_or_null(in->script);
	n->ip = dup_or_null(in->ip);
	n->ifname = dup_or_null(in->vifname);
	n->model = dup_or_null(in->model);
	if (in->type) {
		if (strcmp(in->type, "vif") == 0) {
			n->nictype = LIBXL_NIC_TYPE_VIF;
		} else if (strcmp(in->type, "ioemu") == 0) {
			n->nictype = LIBXL_NIC_TYPE_VIF_IOEMU;
		} else {
			err_set(err, VMD_ERR_INVALID_CONFIG, "vif %d: unknown type '%s'",
				     devid, in->type);
			return -1;
		}
	}
	return 0;
}

static void hvm(const struct vm_config *cfg, libxl_domain_build_info *b)
{
	b->u.hvm.boot = dup_or_null(cfg->boot);
	b->u.hvm.serial = dup_or_null(cfg->serial);
	/* As xl's top-level vnc options: vncdisplay only sets the display (libxl still looks
	 * for a free one from there unless told otherwise). */
	if (cfg->vnc)
		libxl_defbool_set(&b->u.hvm.vnc.enable, true);
	b->u.hvm.vnc.listen = dup_or_null(cfg->vnclisten);
	if (cfg->vncdisplay >= 0)
		b->u.hvm.vnc.display = cfg->vncdisplay;
	if (cfg->sdl)
		libxl_defbool_set(&b->u.hvm.sdl.enable, true);
}

int be_libxl_config_build(const struct vm_config *cfg, bool claim_default,
			  libxl_domain_config *out, struct err *err)
{
	libxl_domain_config_init(out);
	libxl_domain_create_info *c = &out->c_info;
	libxl_domain_build_info *b = &out->b_info;

	if (!cfg->name || !*cfg->name) {
		err_set(err, VMD_ERR_INVALID_CONFIG, "no domain name");
		goto fail;
	}
	c->type = domain_type(cfg->type);
	c->name = xstrdup(cfg->name);
	if (cfg->has_uuid)
		memcpy(libxl_uuid_bytearray(&c->uuid), cfg->uuid, 16);

	/* Re-initialise b_info for the type: it selects the union member in use. */
	libxl_domain_build_info_init_type(b, c->type);

	int vcpus = cfg->vcpus > 0 ? cfg->vcpus : 1;
	b->max_vcpus = cfg->maxvcpus > vcpus ? cfg->maxvcpus : vcpus;
	set_avail_vcpus(&b->avail_vcpus, b->max_vcpus, vcpus);
	/* xl sets it for every guest (xl.conf's claim_mode, default on). Without claims, HVM
	 * disk boots froze the emulated machine of tests/xen (its README, "Choices"). */
	libxl_defbool_set(&b->claim_mode, cfg->claim_mode >= 0 ? cfg->claim_mode == 1
							       : claim_default);
	b->target_memkb = cfg->memory * 1024;
	b->max_memkb = (cfg->maxmem > cfg->memory ? cfg->maxmem : cfg->memory) * 1024;

	if (cfg->type != VM_TYPE_HVM) {
		b->kernel = dup_or_null(cfg->kernel);
		b->ramdisk = dup_or_null(cfg->ramdisk);
		b->cmdline = vm_config_kernel_cmdline(cfg);
		if (cfg->bootloader) {
			b->bootloader = bootloader_path(cfg->bootloader);
			if (cfg->n_bootloader_args) {
				b->bootloader_args = xcalloc(cfg->n_bootloader_args + 1,
							     sizeof(char *));
				for (size_t i = 0; i < cfg->n_bootloader_args; i++)
					b->bootloader_args[i] = xstrdup(cfg->bootloader_args[i]);
			}
		}
	} else {
		hvm(cfg, b);
	}

	if (cfg->n_disks) {
		out->disks = xcalloc(cfg->n_disks, sizeof *out->disks);
		for (size_t i = 0; i < cfg->n_disks; i++) {
			out->num_disks++;
			if (disk(&cfg->disks[i], &out->disks[i], err) < 0)
				goto fail;
		}
	}
	if (cfg->n_vifs) {
		out->nics = xcalloc(cfg->n_vifs, sizeof *out->nics);
		for (size_t i = 0; i < cfg->n_vifs; i++) {
			out->num_nics++;
			if (nic(&cfg->vifs[i], (int)i, &out->nics[i], err) < 0)
				goto fail;
		}
	}

	out->on_poweroff = action(cfg->on_poweroff);
	out->on_reboot = action(cfg->on_reboot);
	out->on_crash = action(cfg->on_crash);
	/* The core treats a watchdog firing as a crash (on_crash), and ignores soft resets. */
	out->on_watchdog = out->on_crash;
	out->on_soft_reset = LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET;
	return 0;
fail:
	libxl_domain_config_dispose(out);
	return -1;
}
