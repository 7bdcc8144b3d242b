/*
 * xlcfg.h: xl.cfg text <-> struct vm_config, and the JSON form of the same config.
 *
 * Parsing uses libxlutil (xlu_cfg_readdata, xlu_cfg_get_*, xlu_disk_parse), so a file that xl
 * accepts means the same here; on top of it we reject keys we do not support (xl ignores
 * them), relative paths and malformed values, with the key and line in the error.
 * xlcfg.c and backend/libxl*.c are the only files that see libxl types (libxlutil.h pulls in
 * libxl.h for its disk structure); nothing here needs a running hypervisor.
 */
#ifndef VMD_XLCFG_H
#define VMD_XLCFG_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"

/* Parses xl.cfg text (len bytes, need not be NUL-terminated; NUL bytes inside are an error).
 * filename only appears in messages ("guest.cfg:3: ..."). On success *out holds the config
 * (caller finishes it) and the result has been through vm_config_validate. 0 / -1 + err. */
int xlcfg_parse(const char *text, size_t len, const char *filename, struct vm_config *out,
		struct err *err);

/* Renders cfg as xl.cfg text, malloc'ed. xlcfg_parse of the result gives an equal config. */
char *xlcfg_format(const struct vm_config *cfg);

/* One xl disk spec ("file:/x.img,xvda,w" or "format=raw, vdev=xvda, access=rw, target=/x"). */
int xlcfg_parse_disk(const char *spec, struct vm_disk *out, struct err *err);
/* One xl vif spec ("mac=00:16:3e:54:02:03, bridge=xenbr0"). */
int xlcfg_parse_vif(const char *spec, struct vm_vif *out, struct err *err);
/* Canonical spec strings, malloc'ed. */
char *xlcfg_format_disk(const struct vm_disk *d);
char *xlcfg_format_vif(const struct vm_vif *v);

/* The JSON object form (proto/: "config"). Disks and vifs may be spec strings or objects on
 * input; unknown keys and wrong types are errors naming the key. Validated like xlcfg_parse. */
int config_from_json(const json_t *obj, struct vm_config *out, struct err *err);
/* Canonical JSON: every key with a value, disks and vifs as objects. New reference. */
json_t *config_to_json(const struct vm_config *cfg);

/* Checks that hold for either input form: name, absolute paths, ranges, a PV guest has a
 * kernel or a bootloader, vdevs unique, MACs well-formed and unique within the guest. */
int vm_config_validate(const struct vm_config *cfg, struct err *err);

#endif
