/*
 * config.h: one guest's definition, the meaning of an xl.cfg file in our own types.
 *
 * Both input forms (xl.cfg text and the JSON object of proto/) land here, and everything
 * above the backend works on this struct only. Strings are heap-owned (NULL when unset);
 * vm_config_finish() frees them. Sizes are in MiB as in xl.cfg.
 */
#ifndef VMD_CONFIG_H
#define VMD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Bounds of a definition, the same for both input forms (xlcfg.c, config-json.c). */
#define VM_VCPUS_MAX 512
#define VM_MEMORY_MIN 16                   /* MiB: below this no guest kernel boots */
#define VM_MEMORY_MAX (16LL * 1024 * 1024) /* MiB = 16 TiB */
#define VM_VNCDISPLAY_MAX (65535 - 5900)   /* VNC port 5900 + display */

enum vm_type { VM_TYPE_PV, VM_TYPE_PVH, VM_TYPE_HVM };

/* What the daemon does when a guest powers off, reboots or crashes (xl.cfg on_*). */
enum vm_action { VM_ACTION_DESTROY, VM_ACTION_RESTART, VM_ACTION_PRESERVE };

struct vm_disk {
	char *target;      /* image path or block device; NULL for an empty cdrom drive */
	char *vdev;        /* xvda, hdc, ... (required) */
	char *format;      /* "raw", "qcow2", "qcow", "vhd"; NULL = raw */
	char *backendtype; /* "phy", "qdisk", "tap"; NULL = let libxl choose */
	char *script;      /* block hotplug script; NULL = default */
	bool readwrite;    /* access=rw (cdroms are read-only) */
	bool cdrom;        /* devtype=cdrom or the ":cdrom" suffix */
};

struct vm_vif {
	char *mac;     /* "00:16:3e:xx:xx:xx", lowercase; NULL = generated at define time */
	char *bridge;  /* NULL = default bridge (xenbr0) unless script says otherwise */
	char *script;  /* vif-bridge (default), vif-nat, vif-route, or an absolute path */
	char *ip;      /* for vif-nat / vif-route */
	char *vifname; /* fixed backend interface name */
	char *model;   /* HVM emulated NIC model (e1000, rtl8139, ...) */
	char *type;    /* "ioemu" or "vif" */
};

struct vm_config {
	char *name;
	enum vm_type type;
	uint8_t uuid[16];
	bool has_uuid;
	int vcpus;             /* default 1 */
	int maxvcpus;          /* 0 = same as vcpus */
	uint64_t memory;       /* MiB, default 128 */
	uint64_t maxmem;       /* MiB, 0 = same as memory */
	char *kernel;
	char *ramdisk;
	char *cmdline;         /* xl "cmdline": replaces root+extra when set */
	char *root;            /* xl "root": becomes "root=<root>" */
	char *extra;           /* xl "extra": appended */
	char *bootloader;      /* "pygrub" or an absolute path */
	char **bootloader_args;
	size_t n_bootloader_args;
	struct vm_disk *disks;
	size_t n_disks;
	struct vm_vif *vifs;
	size_t n_vifs;
	char *boot;            /* HVM boot order, e.g. "dc" */
	bool vnc;
	char *vnclisten;
	int vncdisplay;        /* -1 = unset (next free) */
	char *serial;          /* HVM serial, e.g. "pty" */
	bool sdl;
	/* Memory claims at build (xl.conf's claim_mode, here also a guest key): the whole
	 * allocation is claimed from Xen before the domain is populated. -1 = the host's
	 * default (vmd.conf, else xl.conf, else on, as xl), 0 off, 1 on. */
	int claim_mode;
	enum vm_action on_poweroff; /* default destroy */
	enum vm_action on_reboot;   /* default restart */
	enum vm_action on_crash;    /* default destroy */
};

/* A parse or validation failure is a struct err (err.h) with code VMD_ERR_INVALID_CONFIG and
 * data {"key": the offending key, cut to CONFIG_KEY_MAX bytes; "line": its 1-based line in
 * the xl.cfg text}, each when known. */
#define CONFIG_KEY_MAX 63

void vm_config_init(struct vm_config *cfg);   /* all defaults, nothing allocated */
void vm_config_finish(struct vm_config *cfg); /* frees every member; cfg is left init'ed */
void vm_disk_finish(struct vm_disk *d);        /* frees its strings, zeroes it */
void vm_vif_finish(struct vm_vif *v);
int vm_config_copy(struct vm_config *dst, const struct vm_config *src); /* deep copy, 0/-1 */
bool vm_config_equal(const struct vm_config *a, const struct vm_config *b);

const char *vm_type_name(enum vm_type t);             /* "pv", "pvh", "hvm" */
const char *vm_action_name(enum vm_action a);         /* "destroy", "restart", "preserve" */
int vm_type_parse(const char *s, enum vm_type *out);  /* 0 / -1 */
int vm_action_parse(const char *s, enum vm_action *out);

bool vm_name_valid(const char *name);
/* What an installed guest boots (vm.install): the installer's definition turned into the
 * installed system's, in place. Every cdrom drive goes (the medium is ejected); PV: the
 * kernel, ramdisk and command line go and bootloader = "pygrub" boots the kernel that the
 * installer put on the disk; HVM: boot from the disk ("c"). Other types are left alone. */
void vm_config_make_installed(struct vm_config *cfg);

/* The command line the guest kernel gets: cmdline, else "root=<root> <extra>"; malloc'ed or NULL. */
char *vm_config_kernel_cmdline(const struct vm_config *cfg);

#endif
