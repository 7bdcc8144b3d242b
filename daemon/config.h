/*
 * config.h: one guest's definition: its xl.cfg text, the source of truth, kept as the admin
 * wrote it (order, comments) with only what vmd adds (a uuid, generated MACs), and its
 * meaning, the libxl_domain_config that xl builds from the same text (xlcfg.c, xlkeys.c).
 * libxl's types are data here (no context is ever needed), so what the backend builds, what
 * `vmctl create --dry-run` prints and what `xl -N create` prints are one document.
 *
 * The few things the core asks of every guest all the time (name, type, uuid) are kept
 * beside it; everything else is read from dc where it is needed. A change to a definition
 * is a change of its text (xlcfg_set, ...) followed by config_parse.
 */
#ifndef VMD_CONFIG_H
#define VMD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libxl.h>

#include "err.h"
#include "xlcfg.h" /* the bounds of a definition, vm_name_valid */


enum vm_type { VM_TYPE_PV, VM_TYPE_PVH, VM_TYPE_HVM };

/* What the daemon does when a guest powers off, reboots or crashes (xl.cfg on_*), in
 * libxl's terms (libxl acts on none of them: the core does). */
enum vm_action {
	VM_ACTION_DESTROY,
	VM_ACTION_RESTART,
	VM_ACTION_RENAME_RESTART,
	VM_ACTION_PRESERVE,
	VM_ACTION_COREDUMP_DESTROY,
	VM_ACTION_COREDUMP_RESTART,
	VM_ACTION_SOFT_RESET,
};

struct xlkeys_host;

struct vm_config {
	char *name;              /* c_info.name (a copy) */
	enum vm_type type;
	uint8_t uuid[16];        /* c_info.uuid */
	bool has_uuid;           /* the text names one (vm_define adds one when not) */
	char *text;              /* the xl.cfg text, newline-terminated */
	libxl_domain_config dc;  /* its meaning */
	char **warnings;         /* "key: what" for what xl would warn about */
	size_t n_warnings;
};

void vm_config_init(struct vm_config *cfg);   /* nothing allocated: dc is init'ed, no text */
void vm_config_finish(struct vm_config *cfg); /* frees every member; cfg is left init'ed */

/* Parses and translates xl.cfg text (len bytes; NUL bytes inside are an error) for this
 * host (NULL: config_default_host()). filename only appears in messages. On success *out
 * (init'ed here) holds the text, normalised (LF line ends, a final newline), and its
 * meaning. 0, or -1 with err INVALID_CONFIG "file:line: key: what" (data key, line). */
int config_parse(const char *text, size_t len, const char *filename,
		 const struct xlkeys_host *host, struct vm_config *out, struct err *err);
/* The JSON object form of the config (proto/: "config"): each key of the text with its value
 * (config-json.c). New reference. */
json_t *config_to_json(const struct vm_config *cfg);
json_t *config_text_to_json(const char *text); /* the same, of a text alone */
/* The same for the JSON object form (proto/: "config"): converted to xl.cfg text first. */
int config_parse_json(const json_t *obj, const struct xlkeys_host *host, struct vm_config *out,
		      struct err *err);
/* Translates cfg's text again (after an edit of cfg->text). 0 / -1 + err; on failure cfg
 * still holds its old meaning (and the caller's new text). */
int config_reparse(struct vm_config *cfg, struct err *err);
/* A deep copy (by parsing the text again). 0 / -1 + err. */
int vm_config_copy(struct vm_config *dst, const struct vm_config *src, struct err *err);
/* key = value (a number) in cfg's text, which is translated again: 0, or -1 with err and cfg
 * as it was. */
int vm_config_set_number(struct vm_config *cfg, const char *key, long long value,
			 struct err *err);
/* Same meaning (libxl's JSON of both; the uuid too when both texts name one)? */
bool vm_config_equal(const struct vm_config *a, const struct vm_config *b);

/* The host the translation assumes when none is given: xl's defaults (no xl.conf), the
 * number of CPUs of this machine. vmd sets its own at start (config_set_host). */
const struct xlkeys_host *config_default_host(void);
void config_set_host(const struct xlkeys_host *h); /* borrowed; NULL: back to the default */
const struct xlkeys_host *config_host(void);

/* libxl's JSON of dc (yajl, 4-space indentation, as `xl -N create` prints it); malloc'ed. */
char *config_libxl_json(const libxl_domain_config *dc);

/* ---- what the core reads, from dc ------------------------------------------------------- */

/* The values the guest gets, libxl's defaults (32 MiB, one vcpu) where the text has none. */
uint64_t vm_config_memory_mib(const struct vm_config *cfg); /* target at boot */
uint64_t vm_config_maxmem_mib(const struct vm_config *cfg);
int vm_config_vcpus(const struct vm_config *cfg);           /* online at boot */
int vm_config_maxvcpus(const struct vm_config *cfg);
/* on_poweroff, on_reboot, on_crash, on_watchdog */
enum vm_action vm_config_action(const struct vm_config *cfg, const char *which);
/* Will the guest have a VNC server (libxl's default for HVM is yes)? */
bool vm_config_vnc(const struct vm_config *cfg);
/* A disk's target path as the file vmd may need to touch, or NULL (empty cdrom, a target
 * that a script or a protocol resolves). */
const char *vm_config_disk_file(const libxl_device_disk *d);

const char *vm_type_name(enum vm_type t);             /* "pv", "pvh", "hvm" */
const char *vm_action_name(enum vm_action a);         /* xl.cfg's: "rename-restart" */
int vm_type_parse(const char *s, enum vm_type *out);  /* 0 / -1 */


/* ---- changes of a definition (each edits the text and translates it again) -------------- */

/* The definition under another name, without uuid, MACs, vifnames and VNC display (what
 * two guests cannot share); disks[i] retargeted to targets[i] where targets[i] != NULL. */
int vm_config_clone(const struct vm_config *src, const char *name, char *const *targets,
		    struct vm_config *out, struct err *err);
/* What an installed guest boots (vm.install): the installer's definition turned into the
 * installed system's. Every cdrom drive goes (the medium is ejected); PV: the kernel,
 * ramdisk and command line go and bootloader = "pygrub" boots the kernel that the
 * installer put on the disk; HVM: boot from the disk ("c"). */
int vm_config_make_installed(struct vm_config *cfg, struct err *err);
/* Adds what vm_define gives every guest, and nothing else: this uuid when the text has none,
 * and a MAC for every vif without one (macs[i] for the i-th vif, NULL where it has one).
 * (vmd.conf's default_bridge is the host's, applied by the translation as xl applies
 * xl.conf's vif.default.bridge: it is not written into the text.) */
int vm_config_complete(struct vm_config *cfg, const uint8_t uuid[16], char *const *macs,
		       struct err *err);

#endif
