/*
 * xlcfg.h: xl.cfg text: its statements and where they are, its translation into a
 * libxl_domain_config (libxlutil parses, the rows of xlkeys.c translate), edits that keep
 * everything else of the text as it was, and the formatting of values and device specs.
 *
 * This file and xlkeys.c are the only ones of the core that include libxlutil.h; nothing
 * here needs a libxl context or a hypervisor.
 */
#ifndef VMD_XLCFG_H
#define VMD_XLCFG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libxl.h>

#include "err.h"

#define XLCFG_TEXT_MAX (1024 * 1024) /* as a protocol line: no real xl.cfg comes close */

/* Bounds vmd puts on a definition beyond xl's (hostile values; xl would pass them on). */
#define VM_VCPUS_MAX 512
#define VM_MEMORY_MAX (16LL * 1024 * 1024) /* MiB = 16 TiB */
#define VM_VNCDISPLAY_MAX (65535 - 5900)   /* VNC port 5900 + display */
#define CONFIG_KEY_MAX 63                  /* data.key of an error is cut to this */
#define VM_DEVICES_MAX 1024                /* disks, and vifs, of one guest */

/* A guest name: 1 to VMD_NAME_MAX letters, digits, '.', '_', '-', not starting with '.'
 * (it names the guest's file in the store). */
bool vm_name_valid(const char *name);

struct xlkeys_host;

/* One top-level setting: "key = value" or "key += value". */
struct xlcfg_stmt {
	char *key;
	int line;          /* 1-based */
	size_t start, end; /* its bytes, from the key to the end of the value */
	bool append;
};

/* Checks text lexically (as libxlutil's lexer would, refusing what it would only complain
 * about and leak on) and lists its statements. *norm: the text with LF line ends and a
 * final newline (malloc'ed); the statements' positions are in it. 0 / -1 + err. */
int xlcfg_lex(const char *text, size_t len, const char *fname, char **norm,
	      struct xlcfg_stmt **stmts, size_t *n, struct err *err);
void xlcfg_stmts_free(struct xlcfg_stmt *s, size_t n);

/* Translates a normalised text (xlcfg_lex's) into dc (init'ed here; the caller disposes
 * it on success and failure alike). Unknown keys are errors, keys xl ignores or reads only
 * for other guest types are warnings ("key: what", malloc'ed, appended to *warnings).
 * 0 / -1 + err "file:line: key: what" (data key, line). */
int xlcfg_translate(const char *fname, const char *text, const struct xlcfg_stmt *stmts,
		    size_t n, const struct xlkeys_host *host, libxl_domain_config *dc,
		    char ***warnings, size_t *n_warnings, struct err *err);

/* ---- xl.conf ------------------------------------------------------------------------------ */

/* The keys of xl's global config that change what a domain is, as xl reads them: claim_mode,
 * run_hotplug_scripts, blkdev_start, max_grant_frames, max_maptrack_frames,
 * max_grant_version, vif.default.{script,bridge,gatewaydev,backend} (and the deprecated
 * vifscript, defaultbridge), vm.cpumask, vm.pv.cpumask, vm.hvm.cpumask. The rest of xl.conf
 * (autoballoon, lockfile) is the libxl backend's. */
struct xlcfg_xl_conf {
	struct xlkeys_host *host; /* set here; its strings point into strings[] */
	char *strings[10];
	int claim_mode;           /* -1: not set */
};

/* Reads path into c->host (the caller's, xlkeys_host_default'ed first). A missing file is
 * no error (xl uses its defaults then); one xl would refuse is: -1 + err. */
int xlcfg_xl_conf_read(const char *path, struct xlkeys_host *host, struct xlcfg_xl_conf *c,
		       struct err *err);
void xlcfg_xl_conf_finish(struct xlcfg_xl_conf *c);

/* ---- edits of a valid, normalised text (malloc'ed results) ------------------------------ */

/* key = value (value already an xl.cfg value: xlcfg_quote, xlcfg_list): replaces the
 * statement that counts (the last), or appends one. */
char *xlcfg_set(const char *text, const char *key, const char *value);
/* The items of a list-valued key replaced, each where it was written (quotes, comments and
 * layout around them kept) when the list has as many string items; else the whole
 * statement is written anew. */
char *xlcfg_set_items(const char *text, const char *key, char *const *items, size_t n);
/* Removes every statement of key. */
char *xlcfg_unset(const char *text, const char *key);
/* The items of a list-valued key as strings (NULL-terminated, free with
 * libxl_string_list_dispose), or NULL when absent or not a list of strings. */
char **xlcfg_items(const char *text, const char *key);
/* The value of a single-valued key (malloc'ed), or NULL. */
char *xlcfg_value(const char *text, const char *key);

/* Every key of a valid text with its value as libxlutil reads it: a string, or an array of
 * strings and arrays; in the order the keys first appear (the last statement's value). */
json_t *xlcfg_values(const char *text);

/* "text" with xl.cfg's escapes. */
char *xlcfg_quote(const char *s);
/* [ "a", "b" ] from strings (quoted here); one per line when more than one. */
char *xlcfg_list(char *const *items, size_t n);

/* ---- device specs ------------------------------------------------------------------------- */

/* A disk spec that xlu_disk_parse reads back to d (every field it can set), target last. */
char *xlcfg_disk_spec(const libxl_device_disk *d);
/* Parses one disk spec (xlu_disk_parse). 0 / -1 + err. */
int xlcfg_parse_disk(const char *spec, libxl_device_disk *d, struct err *err);
/* A vif spec edited option by option, everything else kept as written: the mac= and
 * vifname= options dropped when asked, mac (when not NULL) put first, bridge (when not NULL)
 * added. */
char *xlcfg_vif_edit(const char *spec, bool drop_mac, bool drop_vifname, const char *mac,
		     const char *bridge);
/* The value of option name in a vif-style spec ("k=v, k=v"), malloc'ed, or NULL. */
char *xlcfg_spec_option(const char *spec, const char *name);
/* The spec with option name set to value where it is (appended when absent), or removed
 * (value NULL); the other options as written. malloc'ed. */
char *xlcfg_spec_set(const char *spec, const char *name, const char *value);

#endif
