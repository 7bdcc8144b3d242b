/*
 * config-json.c: the JSON object form of a guest config (proto/: "config") <-> struct
 * vm_config. Input is checked key by key (unknown keys and wrong types are errors naming the
 * key) and then goes through vm_config_validate like xl.cfg input; disk and vif entries may be
 * xl spec strings, parsed by the same code as in xl.cfg. Output is canonical: every key that
 * has a value, disks and vifs as objects, so that config_from_json(config_to_json(c)) == c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vmd-proto.h"
#include "xlcfg.h"

/* The bounds are config.h's VM_*_MAX, checked here while converting JSON's 64-bit integers. */

/* "key: text", data.key: keys and values come from the client, so both stay on one printable
 * line, and a hostile key is cut (at a character boundary) in both alike. */
__attribute__((format(printf, 3, 4))) static int fail(struct err *err, const char *key,
						       const char *fmt, ...)
{
	char text[ERR_MSG_MAX], k[CONFIG_KEY_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(k, sizeof k, "%.*s", utf8_prefix(key, CONFIG_KEY_MAX), key);
	for (char *p = k; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	err_clear(err);
	err_set(err, VMD_ERR_INVALID_CONFIG, "%s: %s", k, text);
	if (err)
		for (char *p = err->msg; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	err_add_str(err, "key", k);
	return -1;
}

/* Strings: NULL-safe on JSON null (= unset); a NUL inside a JSON string is refused because
 * every consumer downstream sees C strings. */
static int take_string(const json_t *v, const char *key, char **out, struct err *err)
{
	if (json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(err, key, "expected a string");
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return fail(err, key, "contains a NUL character");
	free(*out);
	*out = xstrdup(s);
	return 0;
}

static int take_int(const json_t *v, const char *key, long long min, long long max,
		    long long *out, struct err *err)
{
	if (!json_is_integer(v))
		return fail(err, key, "expected an integer");
	json_int_t i = json_integer_value(v);
	if (i < min || i > max)
		return fail(err, key, "%lld is out of range (%lld..%lld)", (long long)i, min, max);
	*out = i;
	return 0;
}

static int take_bool(const json_t *v, const char *key, bool *out, struct err *err)
{
	if (!json_is_boolean(v))
		return fail(err, key, "expected true or false");
	*out = json_is_true(v);
	return 0;
}

static int take_action(const json_t *v, const char *key, enum vm_action *out,
		       struct err *err)
{
	if (!json_is_string(v))
		return fail(err, key, "expected \"destroy\", \"restart\" or \"preserve\"");
	if (vm_action_parse(json_string_value(v), out) < 0)
		return fail(err, key, "invalid action '%.40s' (use destroy, restart or preserve)",
			    json_string_value(v));
	return 0;
}

/* A string member of a disk or vif object: "disk: 'vdev' must be a string". */
static int member_string(const json_t *v, const char *what, const char *k, char **out,
			 struct err *err)
{
	if (json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(err, what, "'%s' must be a string", k);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, what, "'%s' contains a NUL character", k);
	free(*out);
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int disk_from_object(const json_t *o, struct vm_disk *d, struct err *err)
{
	const char *k;
	json_t *v;
	const char *access = NULL;
	json_object_foreach((json_t *)o, k, v) {
		char **slot = !strcmp(k, "target") ? &d->target :
			      !strcmp(k, "vdev") ? &d->vdev :
			      !strcmp(k, "format") ? &d->format :
			      !strcmp(k, "backendtype") ? &d->backendtype :
			      !strcmp(k, "script") ? &d->script : NULL;
		if (slot) {
			if (member_string(v, "disk", k, slot, err) < 0)
				return -1;
		} else if (!strcmp(k, "cdrom")) {
			if (!json_is_boolean(v))
				return fail(err, "disk", "'cdrom' must be true or false");
			d->cdrom = json_is_true(v);
		} else if (!strcmp(k, "access")) {
			access = json_is_string(v) ? json_string_value(v) : "";
			if (strcmp(access, "rw") != 0 && strcmp(access, "ro") != 0)
				return fail(err, "disk", "'access' must be \"rw\" or \"ro\"");
		} else {
			return fail(err, "disk", "unknown key '%.40s' (use target, vdev, format, "
				    "backendtype, script, access, cdrom)", k);
		}
	}
	/* As in the xl spec: read-write unless it is a cdrom. */
	d->readwrite = access ? strcmp(access, "rw") == 0 : !d->cdrom;
	if (d->target && *d->target == '\0') {
		free(d->target);
		d->target = NULL;
	}
	if (!d->format && d->target)
		d->format = xstrdup("raw");
	return 0;
}

static int vif_from_object(const json_t *o, struct vm_vif *vif, struct err *err)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		char **slot = !strcmp(k, "mac") ? &vif->mac :
			      !strcmp(k, "bridge") ? &vif->bridge :
			      !strcmp(k, "script") ? &vif->script :
			      !strcmp(k, "ip") ? &vif->ip :
			      !strcmp(k, "vifname") ? &vif->vifname :
			      !strcmp(k, "model") ? &vif->model :
			      !strcmp(k, "type") ? &vif->type : NULL;
		if (!slot)
			return fail(err, "vif", "unknown key '%.40s' (use mac, bridge, script, ip, "
				    "vifname, model, type)", k);
		if (member_string(v, "vif", k, slot, err) < 0)
			return -1;
	}
	if (vif->mac) {
		uint8_t m[6];
		if (mac_parse(vif->mac, m) < 0)
			return fail(err, "vif", "invalid MAC address '%.40s'", vif->mac);
		mac_format(m, vif->mac); /* same length: lowercase in place */
	}
	return 0;
}

static int take_disks(const json_t *v, struct vm_config *c, struct err *err)
{
	if (!json_is_array(v))
		return fail(err, "disk", "expected an array");
	size_t n = json_array_size(v);
	if (n)
		c->disks = xcalloc(n, sizeof(*c->disks));
	for (size_t i = 0; i < n; i++) {
		const json_t *item = json_array_get(v, i);
		if (json_is_string(item)) {
			if (strlen(json_string_value(item)) != json_string_length(item))
				return fail(err, "disk", "contains a NUL character");
			if (xlcfg_parse_disk(json_string_value(item), &c->disks[i], err) < 0)
				return -1;
			c->n_disks++;
		} else if (json_is_object(item)) {
			c->n_disks++; /* counted first so that vm_config_finish frees a partial one */
			if (disk_from_object(item, &c->disks[i], err) < 0)
				return -1;
		} else {
			return fail(err, "disk", "item %zu is neither a spec string nor an object",
				    i + 1);
		}
	}
	return 0;
}

static int take_vifs(const json_t *v, struct vm_config *c, struct err *err)
{
	if (!json_is_array(v))
		return fail(err, "vif", "expected an array");
	size_t n = json_array_size(v);
	if (n)
		c->vifs = xcalloc(n, sizeof(*c->vifs));
	for (size_t i = 0; i < n; i++) {
		const json_t *item = json_array_get(v, i);
		if (json_is_string(item)) {
			if (strlen(json_string_value(item)) != json_string_length(item))
				return fail(err, "vif", "contains a NUL character");
			if (xlcfg_parse_vif(json_string_value(item), &c->vifs[i], err) < 0)
				return -1;
			c->n_vifs++;
		} else if (json_is_object(item)) {
			c->n_vifs++;
			if (vif_from_object(item, &c->vifs[i], err) < 0)
				return -1;
		} else {
			return fail(err, "vif", "item %zu is neither a spec string nor an object",
				    i + 1);
		}
	}
	return 0;
}

static int take_args(const json_t *v, struct vm_config *c, struct err *err)
{
	if (!json_is_array(v))
		return fail(err, "bootloader_args", "expected an array of strings");
	size_t n = json_array_size(v);
	if (n)
		c->bootloader_args = xcalloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const json_t *item = json_array_get(v, i);
		if (!json_is_string(item))
			return fail(err, "bootloader_args", "item %zu is not a string", i + 1);
		if (take_string(item, "bootloader_args", &c->bootloader_args[i], err) < 0)
			return -1;
		c->n_bootloader_args++;
	}
	return 0;
}

static int take_key(const char *k, const json_t *v, struct vm_config *c,
		    struct err *err)
{
	long long i;
	char *s = NULL;
	int r;

	/* JSON null means "not set" for every key: the default stays. */
	if (json_is_null(v))
		return 0;
	if (!strcmp(k, "name"))
		return take_string(v, k, &c->name, err);
	if (!strcmp(k, "type")) {
		if ((r = take_string(v, k, &s, err)) == 0 && vm_type_parse(s, &c->type) < 0)
			r = fail(err, k, "invalid type '%.40s' (use pv, pvh or hvm)", s);
		free(s);
		return r;
	}
	if (!strcmp(k, "uuid")) {
		if ((r = take_string(v, k, &s, err)) == 0) {
			if (uuid_parse(s, c->uuid) < 0)
				r = fail(err, k, "invalid UUID '%.40s'", s);
			else if (uuid_is_null(c->uuid))
				r = fail(err, k, "the nil UUID is not allowed");
			else
				c->has_uuid = true;
		}
		free(s);
		return r;
	}
	if (!strcmp(k, "vcpus") || !strcmp(k, "maxvcpus")) {
		bool max = !strcmp(k, "maxvcpus");
		if (take_int(v, k, max ? 0 : 1, VM_VCPUS_MAX, &i, err) < 0)
			return -1;
		*(max ? &c->maxvcpus : &c->vcpus) = (int)i;
		return 0;
	}
	if (!strcmp(k, "memory") || !strcmp(k, "maxmem")) {
		bool max = !strcmp(k, "maxmem");
		if (take_int(v, k, max ? 0 : VM_MEMORY_MIN, VM_MEMORY_MAX, &i, err) < 0)
			return -1;
		*(max ? &c->maxmem : &c->memory) = (uint64_t)i;
		return 0;
	}
	if (!strcmp(k, "vncdisplay")) {
		if (take_int(v, k, 0, VM_VNCDISPLAY_MAX, &i, err) < 0)
			return -1;
		c->vncdisplay = (int)i;
		return 0;
	}
	char **str = !strcmp(k, "kernel") ? &c->kernel :
		     !strcmp(k, "ramdisk") ? &c->ramdisk :
		     !strcmp(k, "cmdline") ? &c->cmdline :
		     !strcmp(k, "root") ? &c->root :
		     !strcmp(k, "extra") ? &c->extra :
		     !strcmp(k, "bootloader") ? &c->bootloader :
		     !strcmp(k, "boot") ? &c->boot :
		     !strcmp(k, "vnclisten") ? &c->vnclisten :
		     !strcmp(k, "serial") ? &c->serial : NULL;
	if (str)
		return take_string(v, k, str, err);
	if (!strcmp(k, "vnc"))
		return take_bool(v, k, &c->vnc, err);
	if (!strcmp(k, "sdl"))
		return take_bool(v, k, &c->sdl, err);
	if (!strcmp(k, "claim_mode")) {
		bool claim = false;
		if (take_bool(v, k, &claim, err) < 0)
			return -1;
		c->claim_mode = claim;
		return 0;
	}
	if (!strcmp(k, "on_poweroff"))
		return take_action(v, k, &c->on_poweroff, err);
	if (!strcmp(k, "on_reboot"))
		return take_action(v, k, &c->on_reboot, err);
	if (!strcmp(k, "on_crash"))
		return take_action(v, k, &c->on_crash, err);
	if (!strcmp(k, "bootloader_args"))
		return take_args(v, c, err);
	if (!strcmp(k, "disk"))
		return take_disks(v, c, err);
	if (!strcmp(k, "vif"))
		return take_vifs(v, c, err);
	return fail(err, k, "unknown key");
}

int config_from_json(const json_t *obj, struct vm_config *out, struct err *err)
{
	const char *k;
	json_t *v;

	vm_config_init(out);
	err_clear(err);
	if (!json_is_object(obj))
		return fail(err, "config", "expected a JSON object");
	json_object_foreach((json_t *)obj, k, v) {
		if (take_key(k, v, out, err) < 0)
			goto fail;
	}
	if (vm_config_validate(out, err) < 0)
		goto fail;
	return 0;
fail:
	vm_config_finish(out);
	return -1;
}

/* ---- output ------------------------------------------------------------------------- */

/* json_string refuses invalid UTF-8; validated configs never have it, and for anything else
 * a missing key is better than a NULL member. */
static void set_str(json_t *o, const char *key, const char *val)
{
	json_t *s = val ? json_string(val) : NULL;
	if (s)
		json_object_set_new(o, key, s);
}

static json_t *disk_to_json(const struct vm_disk *d)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	set_str(o, "target", d->target);
	set_str(o, "vdev", d->vdev);
	if (d->target)
		set_str(o, "format", d->format ? d->format : "raw");
	set_str(o, "backendtype", d->backendtype);
	set_str(o, "script", d->script);
	set_str(o, "access", d->readwrite ? "rw" : "ro");
	json_object_set_new(o, "cdrom", json_boolean(d->cdrom));
	return o;
}

static json_t *vif_to_json(const struct vm_vif *v)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	set_str(o, "mac", v->mac);
	set_str(o, "bridge", v->bridge);
	set_str(o, "script", v->script);
	set_str(o, "ip", v->ip);
	set_str(o, "vifname", v->vifname);
	set_str(o, "model", v->model);
	set_str(o, "type", v->type);
	return o;
}

json_t *config_to_json(const struct vm_config *cfg)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	set_str(o, "name", cfg->name);
	set_str(o, "type", vm_type_name(cfg->type));
	if (cfg->has_uuid) {
		char u[UUID_STR_LEN];
		uuid_format(cfg->uuid, u);
		set_str(o, "uuid", u);
	}
	json_object_set_new(o, "vcpus", json_integer(cfg->vcpus));
	if (cfg->maxvcpus)
		json_object_set_new(o, "maxvcpus", json_integer(cfg->maxvcpus));
	json_object_set_new(o, "memory", json_integer((json_int_t)cfg->memory));
	if (cfg->maxmem)
		json_object_set_new(o, "maxmem", json_integer((json_int_t)cfg->maxmem));
	set_str(o, "kernel", cfg->kernel);
	set_str(o, "ramdisk", cfg->ramdisk);
	set_str(o, "cmdline", cfg->cmdline);
	set_str(o, "root", cfg->root);
	set_str(o, "extra", cfg->extra);
	set_str(o, "bootloader", cfg->bootloader);
	if (cfg->n_bootloader_args) {
		json_t *a = json_array();
		for (size_t i = 0; a && i < cfg->n_bootloader_args; i++)
			json_array_append_new(a, json_string(cfg->bootloader_args[i]));
		json_object_set_new(o, "bootloader_args", a);
	}
	json_t *disks = json_array();
	for (size_t i = 0; disks && i < cfg->n_disks; i++)
		json_array_append_new(disks, disk_to_json(&cfg->disks[i]));
	json_object_set_new(o, "disk", disks);
	json_t *vifs = json_array();
	for (size_t i = 0; vifs && i < cfg->n_vifs; i++)
		json_array_append_new(vifs, vif_to_json(&cfg->vifs[i]));
	json_object_set_new(o, "vif", vifs);
	set_str(o, "boot", cfg->boot);
	json_object_set_new(o, "vnc", json_boolean(cfg->vnc));
	set_str(o, "vnclisten", cfg->vnclisten);
	if (cfg->vncdisplay >= 0)
		json_object_set_new(o, "vncdisplay", json_integer(cfg->vncdisplay));
	set_str(o, "serial", cfg->serial);
	json_object_set_new(o, "sdl", json_boolean(cfg->sdl));
	set_str(o, "on_poweroff", vm_action_name(cfg->on_poweroff));
	set_str(o, "on_reboot", vm_action_name(cfg->on_reboot));
	set_str(o, "on_crash", vm_action_name(cfg->on_crash));
	if (cfg->claim_mode >= 0)
		json_object_set_new(o, "claim_mode", json_boolean(cfg->claim_mode));
	return o;
}
