/*
 * xlkeys.h: every key of xl.cfg(5) for Xen 4.17 (and those xl reads without documenting
 * them), one row each: the value forms xl takes, the guest types xl reads it for, xl's
 * default, where it lands in libxl_domain_config, and the function that puts it there the
 * way tools/xl/xl_parse.c does. The table drives everything that is about keys: which keys
 * exist (an unknown one is an error; one xl ignores is a warning), the translation to libxl
 * (xlcfg.c runs the rows in xl's order), the JSON form (config-json.c), and the key lists of
 * the README and vmd-protocol(7) (tools/xlkeys-doc prints them from the table).
 *
 * A row may be read by another row's function (root and extra by cmdline's, the vnc group by
 * vnc's): then its apply is NULL and `with` names that row.
 */
#ifndef VMD_XLKEYS_H
#define VMD_XLKEYS_H

#include <stdbool.h>
#include <stddef.h>

#include <libxlutil.h>

#include "err.h"

/* Value forms (a bit set: some keys take either). */
#define XV_STRING 0x1  /* "text" (or 'text') */
#define XV_NUMBER 0x2  /* 512, 0x1f, -1: strtol base 0, as libxlutil */
#define XV_BOOL 0x4    /* a number, nonzero true (xl: 0 or 1); JSON true/false */
#define XV_LIST 0x8    /* [ "a", "b" ] */
#define XV_NESTED 0x10 /* a list of lists: [ [ "a=1", "b=2" ], [ ... ] ] */

/* Guest types xl reads a key for. */
#define XT_PV 0x1
#define XT_PVH 0x2
#define XT_HVM 0x4
#define XT_ALL (XT_PV | XT_PVH | XT_HVM)

/* Flags. */
#define XF_IGNORED 0x1      /* xl reads it, warns and does nothing with it */
#define XF_UNDOCUMENTED 0x2 /* not in xl.cfg(5) for 4.17 */
#define XF_DEPRECATED 0x4   /* xl.cfg(5) says deprecated (xl may warn) */
#define XF_ARM 0x8          /* Arm guests (xl on x86 reads it too) */
#define XF_SPECS 0x10       /* a list of device spec strings ("k=v, k=v"): disk, vif, pci... */
#define XF_PATH 0x20        /* a path in dom0 (vmd wants it absolute) */
#define XF_VMD 0x40         /* vmd's own key: xl ignores it (a deliberate difference) */
/* Only root may set it (access.c): it reaches into dom0 or the hardware (devices, device
 * model programs and arguments, security labels, other domains' backends). XF_PATH keys a
 * restricted writer may set name files inside the storage roots. */
#define XF_ROOT 0x80
#define XF_XM 0x100         /* a key of xm (xend) that xl does not read: a warning */

struct xlkeys_host;
struct xk;

/* The translation of one row: reads its key(s) from x->cfg into x->dc as xl does. 0, or -1
 * with x->err (xlkeys_fail). */
typedef int xk_apply_fn(struct xk *x);

struct xl_key {
	const char *name;
	unsigned forms;      /* XV_* */
	unsigned types;      /* XT_*: where xl reads it; elsewhere it is ignored (a warning) */
	unsigned flags;      /* XF_* */
	xk_apply_fn *apply;  /* NULL: read by the row named in with */
	const char *with;
	const char *dflt;    /* xl's default, for people ("128 (MiB)", "destroy", "libxl's") */
	const char *lands;   /* where it lands in libxl_domain_config, for people */
};

extern const struct xl_key xl_keys[];
extern const size_t xl_n_keys;

const struct xl_key *xlkeys_find(const char *name);

/* What xl takes from the host and from xl.conf, which the translation needs: vmd passes its
 * own (vmd.conf, xl.conf, the backend's host facts); a dry run on the sim backend gets the
 * sim's host. */
struct xlkeys_host {
	int max_cpus;            /* libxl_get_max_cpus: bitmaps of "cpus" and "all" */
	int online_cpus;         /* vnuma without maxvcpus: at most this many vCPUs */
	int nr_nodes;            /* vnuma pnode= bound; "nodes:" in cpus */
	const int *cpu_node;     /* node of each cpu (max_cpus entries), NULL: all node 0 */
	/* xl.conf */
	bool claim_mode;         /* default on */
	bool run_hotplug_scripts;/* default on */
	const char *blkdev_start;
	int max_grant_frames;    /* -1: libxl's default */
	int max_maptrack_frames; /* -1 */
	int max_grant_version;   /* LIBXL_MAX_GRANT_DEFAULT */
	const char *vif_script, *vif_bridge, *vif_gatewaydev, *vif_backend; /* vif.default.* */
	/* vm.cpumask, vm.pv.cpumask, vm.hvm.cpumask (NULL: all cpus): what xl ands into every
	 * vcpu's hard affinity after the parse */
	const char *vm_cpumask, *vm_pv_cpumask, *vm_hvm_cpumask;
};

/* xl's defaults (no xl.conf) on a host of n cpus, one node. */
void xlkeys_host_default(struct xlkeys_host *h, int n_cpus);

/* The translation's state: the parsed file, the config being built, and what is noted. */
struct xk {
	XLU_Config *cfg;
	libxl_domain_config *dc;
	const struct xlkeys_host *host;
	const struct xl_key *key;     /* the row being applied */
	struct err *err;
	char **warnings;              /* "key: text" */
	size_t n_warnings;
	/* shared between rows, as local variables are in xl's parse_config_data */
	long vcpus;
	int pci_msitranslate, pci_power_mgmt, pci_permissive, pci_seize;
	/* vmd's own checks on what the rows read */
	int (*check_path)(struct xk *x, const char *key, const char *path);
	int (*line_of)(void *arg, const char *key); /* for messages; 0 when unknown */
	/* the last line libxlutil reported (its own messages, e.g. what is wrong with a disk
	 * spec), or NULL */
	const char *(*xlu_said)(void *arg);
	void *line_arg;
};

/* Runs every row in order. On failure x->err says which key and why (the caller adds the
 * file and line). */
int xlkeys_translate(struct xk *x);

/* For the rows: "key: what" as an INVALID_CONFIG error, and "key: what" as a warning. */
int xlkeys_fail(struct xk *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xlkeys_warn(struct xk *x, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The forms a value has in the file (XV_STRING, XV_LIST, XV_NESTED), 0 when absent. */
unsigned xlkeys_form(const XLU_Config *cfg, const char *key);

#endif
