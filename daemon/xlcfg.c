/*
 * xlcfg.c: xl.cfg text <-> struct vm_config, the xl disk and vif spec strings, and
 * vm_config_validate (the checks both input forms go through).
 *
 * The syntax is libxlutil's, so a file means what it means to xl. libxlutil cannot list the
 * keys a file sets and xl ignores unknown ones; we refuse them instead (a typo in "memmory"
 * must not silently give a 128 MiB guest). That takes a lexer of our own, which also keeps
 * lexically bad text away from libxlutil (see lex() for why) and records the line of each
 * key for messages. Errors read "file:line: key: what" (struct err).
 *
 * This is the only file of the core that includes libxlutil.h (and, through it, libxl.h);
 * it calls a few plain libxenlight functions (disk init/dispose, enum names), so the core
 * links libxenlight even when the libxl backend is not built.
 */
#include "xlcfg.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxlutil.h>

#include "util.h"
#include "vmd-proto.h"

/* Bounds beyond config.h's VM_*_MAX. */
#define IFNAME_MAX 15                  /* IFNAMSIZ - 1 */
#define XLCFG_TEXT_MAX (1024 * 1024)   /* as a protocol line: no real xl.cfg comes close */

/* ---- errors ------------------------------------------------------------------------- */

/* Copies a user value into buf for a message: control bytes become '?' and long values are
 * cut, so a hostile value can neither forge extra lines nor crowd out the message. */
#define SHOW_LEN 72
static const char *show(char buf[SHOW_LEN], const char *s)
{
	size_t n = 0;
	if (!s)
		s = "";
	for (; *s && n < SHOW_LEN - 1; s++) {
		if (n == SHOW_LEN - 4 && strlen(s) > 3) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		buf[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	}
	buf[n] = '\0';
	return buf;
}

/* An invalid-config message, on one printable line (it quotes the client's text). */
__attribute__((format(printf, 2, 3))) static void set_msg(struct err *err, const char *fmt,
							   ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_setv(err, VMD_ERR_INVALID_CONFIG, fmt, ap);
	va_end(ap);
	if (err)
		for (char *p = err->msg; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
}

/* data.key: the key the error is about, cut and cleaned as in the message. */
static void set_key(struct err *err, const char *key)
{
	char k[CONFIG_KEY_MAX + 1];
	snprintf(k, sizeof k, "%.*s", utf8_prefix(key, CONFIG_KEY_MAX), key);
	for (char *p = k; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	err_add_str(err, "key", k);
}

static void set_line(struct err *err, int line)
{
	if (line > 0)
		err_add(err, "line", json_integer(line));
}

/* Records "key: <text>" with no location; xlcfg_parse adds "file:line: " afterwards. */
__attribute__((format(printf, 3, 4))) static int fail(struct err *err, const char *key,
						       const char *fmt, ...)
{
	char text[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	err_clear(err);
	if (key && *key) {
		set_key(err, key);
		set_msg(err, "%s: %s", err_data_str(err, "key"), text);
	} else {
		set_msg(err, "%s", text);
	}
	return -1;
}

/* ---- small string checks ------------------------------------------------------------ */

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p, n;
		uint32_t cp;
		if (c < 0x80) {
			p++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Spec strings may use tabs as blanks (both spec syntaxes skip them); nothing else. */
static bool spec_has_ctl(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return true;
	return false;
}

/* Every string we keep must survive the xl.cfg we emit (a quoted string cannot hold a
 * newline) and the JSON we emit (UTF-8 only). */
static int check_text(struct err *err, const char *key, const char *s, bool empty_ok)
{
	if (!s)
		return 0;
	if (!empty_ok && !*s)
		return fail(err, key, "empty value");
	if (has_ctl(s))
		return fail(err, key, "value contains a control character");
	if (!utf8_valid(s))
		return fail(err, key, "value is not valid UTF-8");
	return 0;
}

static bool only_chars(const char *s, const char *extra)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c)))
			return false;
	}
	return true;
}

static int check_abs_path(struct err *err, const char *key, const char *path)
{
	char b[SHOW_LEN];
	if (!path)
		return 0;
	if (check_text(err, key, path, false) < 0)
		return -1;
	if (path[0] != '/')
		return fail(err, key, "relative path '%s'; use an absolute path", show(b, path));
	return 0;
}

/* Hotplug scripts: a name looked up in /etc/xen/scripts, or an absolute path. */
static int check_script(struct err *err, const char *key, const char *s)
{
	char b[SHOW_LEN];
	if (!s)
		return 0;
	if (check_text(err, key, s, false) < 0)
		return -1;
	if (strchr(s, '/') && check_abs_path(err, key, s) < 0)
		return -1;
	if (!only_chars(s, "._-+/"))
		return fail(err, key, "invalid script '%s'", show(b, s));
	return 0;
}

static bool ifname_valid(const char *s)
{
	return strlen(s) <= IFNAME_MAX && only_chars(s, "._-");
}

/* xvda, xvdab1, hdc, sda, d0p1: the forms libxl numbers. */
static bool vdev_valid(const char *s)
{
	const char *p = NULL;
	if (strncmp(s, "xvd", 3) == 0)
		p = s + 3;
	else if (strncmp(s, "hd", 2) == 0 || strncmp(s, "sd", 2) == 0)
		p = s + 2;
	if (p) {
		if (!(*p >= 'a' && *p <= 'z'))
			return false;
		while (*p >= 'a' && *p <= 'z')
			p++;
		while (*p >= '0' && *p <= '9')
			p++;
		return *p == '\0' && strlen(s) <= 16;
	}
	if (s[0] != 'd' || !(s[1] >= '0' && s[1] <= '9'))
		return false;
	p = s + 1;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == 'p') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0' && strlen(s) <= 16;
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static const char *const disk_formats[] = {"raw", "qcow", "qcow2", "vhd", "qed", NULL};
static const char *const disk_backends[] = {"phy", "tap", "qdisk", NULL};

/* ---- validation --------------------------------------------------------------------- */

static int validate_disk(const struct vm_disk *d, struct err *err)
{
	char b[SHOW_LEN];
	if (!d->vdev)
		return fail(err, "disk", "a disk has no vdev");
	if (check_text(err, "disk", d->vdev, false) < 0)
		return -1;
	if (!vdev_valid(d->vdev))
		return fail(err, "disk", "invalid vdev '%s' (e.g. xvda, hdc, sdb)", show(b, d->vdev));
	if (!d->target) {
		if (!d->cdrom)
			return fail(err, "disk", "%s has no target", d->vdev);
	} else {
		if (check_text(err, "disk", d->target, false) < 0)
			return -1;
		/* A block script (iscsi, drbd, ...) takes a target that is not a path. */
		if (!d->script && check_abs_path(err, "disk", d->target) < 0)
			return -1;
		size_t n = strlen(d->target);
		/* The spec syntax strips one trailing comma and leading blanks. */
		if (d->target[n - 1] == ',' || d->target[0] == ' ' || d->target[n - 1] == ' ')
			return fail(err, "disk", "target '%s' cannot end with ',' or start or end "
				    "with a space", show(b, d->target));
	}
	if (d->format) {
		if (check_text(err, "disk", d->format, false) < 0)
			return -1;
		if (!in_list(d->format, disk_formats))
			return fail(err, "disk", "unsupported format '%s' (use raw, qcow, qcow2, "
				    "vhd or qed)", show(b, d->format));
		if (!d->target && strcmp(d->format, "raw") != 0)
			return fail(err, "disk", "%s: an empty cdrom drive has no format",
				    d->vdev);
	}
	if (d->backendtype) {
		if (check_text(err, "disk", d->backendtype, false) < 0)
			return -1;
		if (!in_list(d->backendtype, disk_backends))
			return fail(err, "disk", "unsupported backendtype '%s' (use phy, tap or "
				    "qdisk)", show(b, d->backendtype));
	}
	if (check_script(err, "disk", d->script) < 0)
		return -1;
	if (d->cdrom && d->readwrite)
		return fail(err, "disk", "%s: a cdrom is read-only (access=ro)", d->vdev);
	return 0;
}

static int validate_vif(const struct vm_vif *v, struct err *err)
{
	char b[SHOW_LEN];
	const char *fields[] = {v->mac, v->bridge, v->script, v->ip, v->vifname, v->model, v->type};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *s = fields[i];
		if (check_text(err, "vif", s, false) < 0)
			return -1;
		/* The spec syntax splits on ',' and trims blanks. */
		if (s && (strchr(s, ',') || s[0] == ' ' || s[strlen(s) - 1] == ' '))
			return fail(err, "vif", "value '%s' cannot contain ',' or start or end "
				    "with a space", show(b, s));
	}
	if (v->mac) {
		uint8_t m[6];
		char canon[MAC_STR_LEN];
		if (mac_parse(v->mac, m) < 0)
			return fail(err, "vif", "invalid MAC address '%s'", show(b, v->mac));
		mac_format(m, canon);
		if (strcmp(canon, v->mac) != 0)
			return fail(err, "vif", "MAC address '%s' must be lowercase", v->mac);
		if (m[0] & 1)
			return fail(err, "vif", "MAC address %s is a multicast address", v->mac);
		static const uint8_t zero[6];
		if (memcmp(m, zero, 6) == 0)
			return fail(err, "vif", "MAC address %s is not a usable address", v->mac);
	}
	if (v->bridge && !ifname_valid(v->bridge))
		return fail(err, "vif", "invalid bridge name '%s'", show(b, v->bridge));
	if (v->vifname && !ifname_valid(v->vifname))
		return fail(err, "vif", "invalid vifname '%s' (at most %d letters, digits, '.', "
			    "'_', '-')", show(b, v->vifname), IFNAME_MAX);
	if (check_script(err, "vif", v->script) < 0)
		return -1;
	if (v->ip) {
		for (const char *p = v->ip; *p; p++) {
			char c = *p;
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			      (c >= 'A' && c <= 'F') || strchr(".:/ ", c)))
				return fail(err, "vif", "invalid ip '%s'", show(b, v->ip));
		}
	}
	if (v->model && !only_chars(v->model, "_-"))
		return fail(err, "vif", "invalid model '%s'", show(b, v->model));
	if (v->type && strcmp(v->type, "ioemu") != 0 && strcmp(v->type, "vif") != 0)
		return fail(err, "vif", "invalid type '%s' (use ioemu or vif)", show(b, v->type));
	return 0;
}

int vm_config_validate(const struct vm_config *cfg, struct err *err)
{
	char b[SHOW_LEN];

	if (!cfg->name)
		return fail(err, "name", "missing (every guest needs a name)");
	if (!vm_name_valid(cfg->name))
		return fail(err, "name", "invalid guest name '%s' (1 to 64 letters, digits, '.', "
			    "'_' or '-', not starting with '.')", show(b, cfg->name));
	if (cfg->type != VM_TYPE_PV && cfg->type != VM_TYPE_PVH && cfg->type != VM_TYPE_HVM)
		return fail(err, "type", "invalid type");
	if (cfg->vcpus < 1 || cfg->vcpus > VM_VCPUS_MAX)
		return fail(err, "vcpus", "%d is out of range (1..%d)", cfg->vcpus, VM_VCPUS_MAX);
	if (cfg->maxvcpus != 0 && (cfg->maxvcpus < cfg->vcpus || cfg->maxvcpus > VM_VCPUS_MAX))
		return fail(err, "maxvcpus", "%d is out of range (vcpus..%d, or 0)", cfg->maxvcpus,
			    VM_VCPUS_MAX);
	if (cfg->memory < VM_MEMORY_MIN || cfg->memory > VM_MEMORY_MAX)
		return fail(err, "memory", "%llu is out of range (%d..%llu)",
			    (unsigned long long)cfg->memory, VM_MEMORY_MIN, VM_MEMORY_MAX);
	if (cfg->maxmem != 0 && (cfg->maxmem < cfg->memory || cfg->maxmem > VM_MEMORY_MAX))
		return fail(err, "maxmem", "%llu is out of range (memory..%llu, or 0)",
			    (unsigned long long)cfg->maxmem, VM_MEMORY_MAX);

	if (check_abs_path(err, "kernel", cfg->kernel) < 0 ||
	    check_abs_path(err, "ramdisk", cfg->ramdisk) < 0 ||
	    check_text(err, "cmdline", cfg->cmdline, true) < 0 ||
	    check_text(err, "root", cfg->root, false) < 0 ||
	    check_text(err, "extra", cfg->extra, true) < 0 ||
	    check_text(err, "boot", cfg->boot, false) < 0 ||
	    check_text(err, "vnclisten", cfg->vnclisten, false) < 0 ||
	    check_text(err, "serial", cfg->serial, false) < 0)
		return -1;
	if (cfg->ramdisk && !cfg->kernel)
		return fail(err, "ramdisk", "set without kernel");
	if (cfg->bootloader) {
		if (check_text(err, "bootloader", cfg->bootloader, false) < 0)
			return -1;
		if (strchr(cfg->bootloader, '/')) {
			if (check_abs_path(err, "bootloader", cfg->bootloader) < 0)
				return -1;
		} else if (strcmp(cfg->bootloader, "pygrub") != 0) {
			return fail(err, "bootloader", "'%s' is neither pygrub nor an absolute path",
				    show(b, cfg->bootloader));
		}
	}
	for (size_t i = 0; i < cfg->n_bootloader_args; i++)
		if (check_text(err, "bootloader_args", cfg->bootloader_args[i], true) < 0)
			return -1;
	if (cfg->n_bootloader_args && !cfg->bootloader)
		return fail(err, "bootloader_args", "set without bootloader");

	switch (cfg->type) {
	case VM_TYPE_PV:
		if (!cfg->kernel && !cfg->bootloader)
			return fail(err, "kernel", "a pv guest needs kernel or bootloader");
		if (cfg->kernel && cfg->bootloader)
			return fail(err, "bootloader", "a pv guest takes kernel or bootloader, "
				    "not both");
		break;
	case VM_TYPE_PVH:
		if (cfg->bootloader)
			return fail(err, "bootloader", "not supported for pvh guests (set kernel)");
		if (!cfg->kernel)
			return fail(err, "kernel", "a pvh guest needs a kernel");
		break;
	case VM_TYPE_HVM:
		/* xl could boot an hvm guest from a dom0 kernel through qemu; we do not carry
		 * that (the backend builds hvm guests from disk, cdrom or network only). */
		if (cfg->bootloader)
			return fail(err, "bootloader", "not supported for hvm guests");
		if (cfg->kernel)
			return fail(err, "kernel", "not supported for hvm guests (they boot from "
				    "disk, cdrom or network: see boot)");
		break;
	}
	if (!cfg->kernel && !cfg->bootloader) {
		/* xl would silently drop them: no kernel gets this command line. */
		if (cfg->cmdline)
			return fail(err, "cmdline", "set without kernel or bootloader");
		if (cfg->root)
			return fail(err, "root", "set without kernel or bootloader");
		if (cfg->extra)
			return fail(err, "extra", "set without kernel or bootloader");
	}

	/* The emulated-hardware keys mean nothing to xl for pv/pvh guests; refuse rather than
	 * let a user believe a pv guest has a VNC console. */
	if (cfg->type != VM_TYPE_HVM) {
		const char *hvm_only = cfg->boot ? "boot" : cfg->vnc ? "vnc" :
				       cfg->vnclisten ? "vnclisten" :
				       cfg->vncdisplay >= 0 ? "vncdisplay" :
				       cfg->serial ? "serial" : cfg->sdl ? "sdl" : NULL;
		if (hvm_only)
			return fail(err, hvm_only, "only for hvm guests (this is a %s guest)",
				    vm_type_name(cfg->type));
	}
	if (cfg->boot && strspn(cfg->boot, "acdn") != strlen(cfg->boot))
		return fail(err, "boot", "invalid boot order '%s' (letters a, c, d, n)",
			    show(b, cfg->boot));
	if (cfg->vncdisplay < -1 || cfg->vncdisplay > VM_VNCDISPLAY_MAX)
		return fail(err, "vncdisplay", "%d is out of range (0..%d)", cfg->vncdisplay,
			    VM_VNCDISPLAY_MAX);

	if ((unsigned)cfg->on_poweroff > VM_ACTION_PRESERVE)
		return fail(err, "on_poweroff", "invalid action");
	if ((unsigned)cfg->on_reboot > VM_ACTION_PRESERVE)
		return fail(err, "on_reboot", "invalid action");
	if ((unsigned)cfg->on_crash > VM_ACTION_PRESERVE)
		return fail(err, "on_crash", "invalid action");

	for (size_t i = 0; i < cfg->n_disks; i++) {
		if (validate_disk(&cfg->disks[i], err) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->disks[i].vdev, cfg->disks[j].vdev) == 0)
				return fail(err, "disk", "vdev %s is used twice",
					    cfg->disks[i].vdev);
	}
	for (size_t i = 0; i < cfg->n_vifs; i++) {
		if (validate_vif(&cfg->vifs[i], err) < 0)
			return -1;
		if (!cfg->vifs[i].mac)
			continue;
		for (size_t j = 0; j < i; j++)
			if (cfg->vifs[j].mac && strcmp(cfg->vifs[i].mac, cfg->vifs[j].mac) == 0)
				return fail(err, "vif", "MAC address %s is used twice",
					    cfg->vifs[i].mac);
	}
	return 0;
}

/* ---- disk specs --------------------------------------------------------------------- */

/* Disk options xl knows and we do not carry: refuse them rather than drop them. */
static const char *disk_unsupported(const libxl_device_disk *d)
{
	if (d->backend_domname)
		return "backend= (driver domains)";
	if (d->backend == LIBXL_DISK_BACKEND_STANDALONE)
		return "backendtype=standalone";
	if (d->direct_io_safe)
		return "direct-io-safe";
	if (!libxl_defbool_is_default(d->discard_enable))
		return "discard / no-discard";
	if (d->specification == LIBXL_DISK_SPECIFICATION_VIRTIO)
		return "specification=virtio";
	if (!libxl_defbool_is_default(d->colo_enable) || d->colo_host || d->colo_port ||
	    d->colo_export || d->active_disk || d->hidden_disk)
		return "colo";
	if (!libxl_defbool_is_default(d->trusted))
		return "trusted / untrusted";
	return NULL;
}

/* libxlutil reports "<source>: config parsing error in disk specification: <what>"; keep
 * <what>, which quotes the spec. */
static const char *disk_report_text(char *report)
{
	if (!report)
		return "invalid disk spec";
	char *nl = strchr(report, '\n');
	if (nl)
		*nl = '\0';
	for (char *q = report; *q; q++)
		if (*q == '`')
			*q = '\''; /* `x' -> 'x', as in our own messages */
	const char *mark = "disk specification: ";
	char *p = strstr(report, mark);
	if (p)
		return p + strlen(mark);
	return *report ? report : "invalid disk spec";
}

int xlcfg_parse_disk(const char *spec, struct vm_disk *out, struct err *err)
{
	char b[SHOW_LEN];
	char *report = NULL;
	size_t report_len = 0;
	FILE *rf = NULL;
	XLU_Config *xlu = NULL;
	libxl_device_disk d;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (!spec)
		return fail(err, "disk", "missing spec");
	libxl_device_disk_init(&d);
	if (spec_has_ctl(spec)) {
		fail(err, "disk", "control character in spec '%s'", show(b, spec));
		goto out;
	}
	rf = open_memstream(&report, &report_len);
	if (!rf) {
		fail(err, "disk", "cannot parse '%s': %s", show(b, spec), strerror(errno));
		goto out;
	}
	xlu = xlu_cfg_init(rf, "disk");
	if (!xlu) {
		fail(err, "disk", "cannot parse '%s': out of memory", show(b, spec));
		goto out;
	}
	int r = xlu_disk_parse(xlu, 1, &spec, &d);
	fflush(rf);
	if (r) {
		fail(err, "disk", "%s", disk_report_text(report));
		goto out;
	}
	const char *unsup = disk_unsupported(&d);
	if (unsup) {
		fail(err, "disk", "%s is not supported (in '%s')", unsup, show(b, spec));
		goto out;
	}
	if (d.format == LIBXL_DISK_FORMAT_EMPTY && d.pdev_path && *d.pdev_path) {
		fail(err, "disk", "format=empty with a target (in '%s')", show(b, spec));
		goto out;
	}
	out->target = d.pdev_path && *d.pdev_path ? xstrdup(d.pdev_path) : NULL;
	out->vdev = xstrdup(d.vdev);
	if (d.format != LIBXL_DISK_FORMAT_EMPTY && d.format != LIBXL_DISK_FORMAT_UNKNOWN)
		out->format = xstrdup(libxl_disk_format_to_string(d.format));
	if (d.backend != LIBXL_DISK_BACKEND_UNKNOWN)
		out->backendtype = xstrdup(libxl_disk_backend_to_string(d.backend));
	out->script = xstrdup(d.script);
	out->readwrite = d.readwrite != 0;
	out->cdrom = d.is_cdrom != 0;
	ret = 0;
out:
	libxl_device_disk_dispose(&d);
	xlu_cfg_destroy(xlu);
	if (rf)
		fclose(rf);
	free(report);
	if (ret < 0)
		vm_disk_finish(out);
	return ret;
}

/* ---- spec formatting (a tiny string builder) ---------------------------------------- */

struct sb {
	char *s;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* An xl.cfg double-quoted string; libxlutil reads \\ and \" back. Control characters never
 * get here (validation refuses them). */
static void sb_quoted(struct sb *b, const char *s)
{
	sb_add(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_add(b, "\\%c", *s);
		else
			sb_add(b, "%c", *s);
	}
	sb_add(b, "\"");
}

static char *sb_take(struct sb *b)
{
	if (!b->s)
		return xstrdup("");
	return b->s;
}

/* Canonical: format, vdev, access, devtype, backendtype, script, target (target last: it
 * eats the rest of the spec). An empty cdrom drive has neither format nor target. */
char *xlcfg_format_disk(const struct vm_disk *d)
{
	struct sb b = {0};
	if (d->target)
		sb_add(&b, "format=%s, ", d->format ? d->format : "raw");
	sb_add(&b, "vdev=%s, access=%s", d->vdev ? d->vdev : "", d->readwrite ? "rw" : "ro");
	if (d->cdrom)
		sb_add(&b, ", devtype=cdrom");
	if (d->backendtype)
		sb_add(&b, ", backendtype=%s", d->backendtype);
	if (d->script)
		sb_add(&b, ", script=%s", d->script);
	if (d->target)
		sb_add(&b, ", target=%s", d->target);
	return sb_take(&b);
}

/* ---- vif specs ---------------------------------------------------------------------- */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* vif keys xl accepts that vmd does not carry (so the message can say "not supported"
 * instead of "unknown"). */
static const char *const vif_xl_only[] = {
	"backend", "rate", "accel", "devid", "mtu", "netdev", "forwarddev", "gatewaydev",
	"trusted", "untrusted", "colo_forwarddev", NULL,
};

#define VIF_KEYS "mac, bridge, script, ip, vifname, model, type"

int xlcfg_parse_vif(const char *spec, struct vm_vif *out, struct err *err)
{
	char b[SHOW_LEN], b2[SHOW_LEN];
	memset(out, 0, sizeof(*out));
	if (!spec)
		return fail(err, "vif", "missing spec");
	if (spec_has_ctl(spec))
		return fail(err, "vif", "control character in spec '%s'", show(b, spec));

	char *copy = xstrdup(spec), *save = NULL;
	int ret = 0;
	/* strtok_r would merge ",," but an empty item is harmless either way (xl skips it). */
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		if (!*tok)
			continue;
		char *eq = strchr(tok, '=');
		if (!eq && in_list(tok, vif_xl_only)) {
			ret = fail(err, "vif", "'%s' is not supported (vmd supports " VIF_KEYS ")",
				   show(b, tok));
			break;
		}
		if (!eq) {
			ret = fail(err, "vif", "'%s' is not key=value (in '%s')", show(b, tok),
				   show(b2, spec));
			break;
		}
		*eq = '\0';
		char *key = trim(tok), *val = trim(eq + 1);
		char **slot = !strcmp(key, "mac") ? &out->mac :
			      !strcmp(key, "bridge") ? &out->bridge :
			      !strcmp(key, "script") ? &out->script :
			      !strcmp(key, "ip") ? &out->ip :
			      !strcmp(key, "vifname") ? &out->vifname :
			      !strcmp(key, "model") ? &out->model :
			      !strcmp(key, "type") ? &out->type : NULL;
		if (!slot) {
			if (in_list(key, vif_xl_only) || !strncmp(key, "colo_", 5))
				ret = fail(err, "vif", "'%s' is not supported (vmd supports "
					   VIF_KEYS ")", show(b, key));
			else
				ret = fail(err, "vif", "unknown key '%s' (use " VIF_KEYS ")",
					   show(b, key));
			break;
		}
		if (!*val) {
			ret = fail(err, "vif", "empty value for '%s' (in '%s')", key,
				   show(b, spec));
			break;
		}
		free(*slot); /* a repeated key wins, as in xl */
		if (slot == &out->mac) {
			uint8_t m[6];
			if (mac_parse(val, m) < 0) {
				*slot = NULL;
				ret = fail(err, "vif", "invalid MAC address '%s'", show(b, val));
				break;
			}
			*slot = xmalloc(MAC_STR_LEN);
			mac_format(m, *slot);
		} else {
			*slot = xstrdup(val);
		}
	}
	free(copy);
	if (ret < 0)
		vm_vif_finish(out);
	return ret;
}

char *xlcfg_format_vif(const struct vm_vif *v)
{
	struct sb b = {0};
	const char *sep = "";
	const struct {
		const char *key, *val;
	} kv[] = {
		{"mac", v->mac},	 {"bridge", v->bridge},	  {"script", v->script}, {"ip", v->ip},
		{"vifname", v->vifname}, {"model", v->model}, {"type", v->type},
	};
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		if (!kv[i].val)
			continue;
		sb_add(&b, "%s%s=%s", sep, kv[i].key, kv[i].val);
		sep = ", ";
	}
	return sb_take(&b);
}

/* ---- our lexer: lexical errors and the key scan ------------------------------------- */

/*
 * libxlutil's own lexer reports a lexical error and carries on, and its parser then leaks
 * values it can no longer store (Xen 4.17: xlu__cfg_list_append returns early once an error
 * is set). A daemon that parses client text cannot leak per request, so this lexer, which
 * follows libxlutil's token rules (libxlu_cfg_l.l), refuses lexically bad text before
 * libxlutil sees it; what reaches libxlutil can then only fail with a syntax error, which it
 * cleans up after. The same pass records each top-level key and its line.
 */

struct keypos {
	char *name;
	int line;
	bool append; /* "key += value" */
};

struct keys {
	struct keypos *v;
	size_t n, cap;
};

/* Far more than any key we support needs; bounds libxlutil's recursion on hostile input. */
#define LIST_DEPTH_MAX 16

static bool ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

static bool hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void key_add(struct keys *k, const char *name, size_t len, int line, bool append)
{
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 16;
		k->v = xrealloc(k->v, k->cap * sizeof(*k->v));
	}
	k->v[k->n].name = xasprintf("%.*s", (int)len, name);
	k->v[k->n].line = line;
	k->v[k->n].append = append;
	k->n++;
}

/* "file:line: config parsing error near 'text': why", near text cut at a blank. */
static int lex_error(struct err *err, const char *fname, int line, const char *at,
		     const char *why)
{
	char raw[48], near[SHOW_LEN];
	size_t n = strcspn(at, " \t\n");
	if (n > 40)
		n = 40;
	err_clear(err);
	snprintf(raw, sizeof(raw), "%.*s", (int)n, at);
	set_line(err, line);
	set_msg(err, "%s:%d: config parsing error near '%s': %s", fname, line, show(near, raw),
		why);
	return -1;
}

/* t[0..n) ends with '\n' and holds no NUL (xlcfg_parse sees to both). */
static int lex(const char *t, size_t n, const char *fname, struct keys *k,
	       struct err *err)
{
	int line = 1, depth = 0;
	bool start = true; /* the next identifier at depth 0 is a key */
	size_t i = 0;
	while (i < n) {
		char c = t[i];
		if (c == ' ' || c == '\t') {
			i++;
		} else if (c == '\n' || c == '#') {
			while (t[i] != '\n')
				i++;
			i++;
			line++;
			if (depth == 0)
				start = true;
		} else if (c == '\'' || c == '"') {
			size_t j = i + 1;
			while (t[j] != c && t[j] != '\n') {
				if (t[j] == '\\' && t[j + 1] != '\n') {
					/* libxlutil's \x and octal escapes are broken (always an error,
					 * or the character is dropped); refuse them outright. */
					if (!strchr("\"'\\abfnrtv", t[j + 1]))
						return lex_error(err, fname, line, t + j,
								 "invalid escape in quoted string");
					j += 2;
				} else if (t[j] == '\\') {
					break;
				} else {
					j++;
				}
			}
			if (t[j] != c)
				return lex_error(err, fname, line, t + i, "unterminated string");
			i = j + 1;
			start = false;
		} else if (c >= 'a' && c <= 'z') {
			size_t b = i;
			while (ident_char(t[i]))
				i++;
			if (start && depth == 0) {
				size_t j = i;
				while (t[j] == ' ' || t[j] == '\t')
					j++;
				key_add(k, t + b, i - b, line, t[j] == '+' && t[j + 1] == '=');
			}
			start = false;
		} else if (c >= '0' && c <= '9') {
			if (c == '0' && t[i + 1] == 'x' && hex_lower(t[i + 2])) {
				i += 2;
				while (hex_lower(t[i]))
					i++;
			} else {
				while (t[i] >= '0' && t[i] <= '9')
					i++;
			}
			start = false;
		} else if (c == '+' && t[i + 1] == '=') {
			i += 2;
			start = false;
		} else if (c == ',' || c == '=') {
			i++;
			start = false;
		} else if (c == '[') {
			if (++depth > LIST_DEPTH_MAX)
				return lex_error(err, fname, line, t + i, "lists nested too deeply");
			i++;
			start = false;
		} else if (c == ']') {
			if (depth > 0)
				depth--;
			i++;
			start = false;
		} else if (c == ';') {
			if (depth == 0)
				start = true;
			i++;
		} else {
			return lex_error(err, fname, line, t + i, "lexical error");
		}
	}
	return 0;
}

static void keys_free(struct keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].name);
	free(k->v);
}

/* The occurrence that counts is the last one: a repeated key wins, as in xl. */
static const struct keypos *key_find(const struct keys *k, const char *name)
{
	for (size_t i = k->n; i-- > 0;)
		if (strcmp(k->v[i].name, name) == 0)
			return &k->v[i];
	return NULL;
}

static const char *const supported_keys[] = {
	"name", "type", "builder", "uuid", "vcpus", "maxvcpus", "memory", "maxmem", "kernel",
	"ramdisk", "extra", "cmdline", "root", "bootloader", "bootloader_args", "disk", "vif",
	"boot", "vnc", "vnclisten", "vncdisplay", "serial", "sdl", "on_poweroff", "on_reboot",
	"on_crash", "claim_mode", NULL,
};

/* ---- reading values ----------------------------------------------------------------- */

struct parse {
	XLU_Config *xlu;
	struct keys keys;
	struct err *err;
};

/* 1 = set (*out replaced), 0 = absent, -1 = error. */
static int get_string(struct parse *p, const char *key, char **out)
{
	const char *s;
	int r = xlu_cfg_get_string(p->xlu, key, &s, 1);
	if (r == ESRCH)
		return 0;
	if (r)
		return fail(p->err, key, "expected a string, not a list");
	free(*out);
	*out = xstrdup(s);
	return 1;
}

static int get_long(struct parse *p, const char *key, long min, long max, long *out)
{
	char b[SHOW_LEN];
	const char *raw = NULL;
	long l;
	int r = xlu_cfg_get_long(p->xlu, key, &l, 1);
	if (r == ESRCH)
		return 0;
	if (r) {
		const struct keypos *kp = key_find(&p->keys, key);
		if (xlu_cfg_get_list(p->xlu, key, NULL, NULL, 1) == 0)
			return fail(p->err, key, "expected a number, not a list");
		if (kp && kp->append)
			return fail(p->err, key, "'+=' does not work with numbers");
		xlu_cfg_get_string(p->xlu, key, &raw, 1);
		if (r == ERANGE)
			return fail(p->err, key, "%s is out of range (%ld..%ld)", show(b, raw), min,
				    max);
		return fail(p->err, key, "'%s' is not a valid number", show(b, raw));
	}
	if (l < min || l > max)
		return fail(p->err, key, "%ld is out of range (%ld..%ld)", l, min, max);
	*out = l;
	return 1;
}

static int get_bool(struct parse *p, const char *key, bool *out)
{
	long l;
	int r = get_long(p, key, LONG_MIN, LONG_MAX, &l);
	if (r <= 0)
		return r;
	if (l != 0 && l != 1)
		return fail(p->err, key, "expected 0 or 1, not %ld", l);
	*out = l == 1;
	return 1;
}

static int get_action(struct parse *p, const char *key, enum vm_action *out)
{
	static const char *const xl_only[] = {
		"rename-restart", "coredump-destroy", "coredump-restart", "soft-reset", NULL,
	};
	char b[SHOW_LEN];
	char *s = NULL;
	int r = get_string(p, key, &s);
	if (r <= 0)
		return r;
	if (vm_action_parse(s, out) == 0)
		r = 1;
	else if (in_list(s, xl_only))
		r = fail(p->err, key, "'%s' is not supported (use destroy, restart or preserve)",
			 s);
	else
		r = fail(p->err, key, "invalid action '%s' (use destroy, restart or preserve)",
			 show(b, s));
	free(s);
	return r;
}

static void append_arg(struct vm_config *c, const char *s, size_t len)
{
	c->bootloader_args = xrealloc(c->bootloader_args,
				      (c->n_bootloader_args + 1) * sizeof(char *));
	c->bootloader_args[c->n_bootloader_args++] = xasprintf("%.*s", (int)len, s);
}

static int get_bootloader_args(struct parse *p, struct vm_config *c)
{
	XLU_ConfigList *list;
	int n;
	if (xlu_cfg_get_list(p->xlu, "bootloader_args", &list, &n, 1) == 0) {
		for (int i = 0; i < n; i++) {
			const char *s = xlu_cfg_get_listitem(list, i);
			if (!s)
				return fail(p->err, "bootloader_args", "item %d is not a string",
					    i + 1);
			append_arg(c, s, strlen(s));
		}
		return 0;
	}
	const char *s;
	if (xlu_cfg_get_string(p->xlu, "bootloader_args", &s, 1) != 0)
		return 0;
	/* The old single-string form, split on blanks as xl does. */
	while (*s) {
		size_t skip = strspn(s, " \t\n"), n2;
		s += skip;
		n2 = strcspn(s, " \t\n");
		if (n2)
			append_arg(c, s, n2);
		s += n2;
	}
	return 0;
}

static int get_disks(struct parse *p, struct vm_config *c)
{
	XLU_ConfigList *list;
	int n, r = xlu_cfg_get_list(p->xlu, "disk", &list, &n, 1);
	if (r == ESRCH)
		return 0;
	if (r)
		return fail(p->err, "disk", "expected a list of disk specs, e.g. "
			    "[ 'format=raw, vdev=xvda, access=rw, target=/srv/x.img' ]");
	if (n > 0)
		c->disks = xcalloc((size_t)n, sizeof(*c->disks));
	for (int i = 0; i < n; i++) {
		const char *s = xlu_cfg_get_listitem(list, i);
		if (!s)
			return fail(p->err, "disk", "item %d is not a string", i + 1);
		if (xlcfg_parse_disk(s, &c->disks[i], p->err) < 0)
			return -1;
		c->n_disks++;
	}
	return 0;
}

static int get_vifs(struct parse *p, struct vm_config *c)
{
	XLU_ConfigList *list;
	int n, r = xlu_cfg_get_list(p->xlu, "vif", &list, &n, 1);
	if (r == ESRCH)
		return 0;
	if (r)
		return fail(p->err, "vif", "expected a list of vif specs, e.g. "
			    "[ 'mac=00:16:3e:00:00:01, bridge=xenbr0' ]");
	if (n > 0)
		c->vifs = xcalloc((size_t)n, sizeof(*c->vifs));
	for (int i = 0; i < n; i++) {
		const char *s = xlu_cfg_get_listitem(list, i);
		if (!s)
			return fail(p->err, "vif", "item %d is not a string", i + 1);
		if (xlcfg_parse_vif(s, &c->vifs[i], p->err) < 0)
			return -1;
		c->n_vifs++;
	}
	return 0;
}

static int get_serial(struct parse *p, struct vm_config *c)
{
	XLU_ConfigList *list;
	int n;
	if (xlu_cfg_get_list(p->xlu, "serial", &list, &n, 1) == 0) {
		/* xl allows a list of serial ports; we carry one. */
		const char *s = n == 1 ? xlu_cfg_get_listitem(list, 0) : NULL;
		if (!s)
			return fail(p->err, "serial", "only one serial port (a string) is "
				    "supported");
		c->serial = xstrdup(s);
		return 0;
	}
	return get_string(p, "serial", &c->serial) < 0 ? -1 : 0;
}

static int get_type(struct parse *p, struct vm_config *c)
{
	char b[SHOW_LEN];
	char *type = NULL, *builder = NULL;
	enum vm_type bt = VM_TYPE_PV;
	int ret = -1;
	if (get_string(p, "type", &type) < 0 || get_string(p, "builder", &builder) < 0)
		goto out;
	if (type && vm_type_parse(type, &c->type) < 0) {
		fail(p->err, "type", "invalid type '%s' (use pv, pvh or hvm)", show(b, type));
		goto out;
	}
	if (builder) {
		if (strcmp(builder, "hvm") == 0) {
			bt = VM_TYPE_HVM;
		} else if (strcmp(builder, "generic") == 0 || strcmp(builder, "linux") == 0) {
			bt = VM_TYPE_PV;
		} else {
			fail(p->err, "builder", "invalid builder '%s' (use hvm or generic; "
			     "better: type)", show(b, builder));
			goto out;
		}
		if (type && bt != c->type) {
			fail(p->err, "builder", "builder \"%s\" conflicts with type \"%s\"", builder,
			     type);
			goto out;
		}
		c->type = bt;
	}
	ret = 0;
out:
	free(type);
	free(builder);
	return ret;
}

static int get_all(struct parse *p, struct vm_config *c)
{
	char b[SHOW_LEN];
	char *uuid = NULL;
	long l;
	int r;

	if (get_string(p, "name", &c->name) < 0 || get_type(p, c) < 0)
		return -1;
	if ((r = get_string(p, "uuid", &uuid)) < 0)
		return -1;
	if (r > 0) {
		r = uuid_parse(uuid, c->uuid) < 0 ?
			    fail(p->err, "uuid", "invalid UUID '%s'", show(b, uuid)) :
		    uuid_is_null(c->uuid) ? fail(p->err, "uuid", "the nil UUID is not allowed") :
					    0;
		free(uuid);
		if (r < 0)
			return -1;
		c->has_uuid = true;
	}
	if ((r = get_long(p, "vcpus", 1, VM_VCPUS_MAX, &l)) < 0)
		return -1;
	if (r)
		c->vcpus = (int)l;
	if ((r = get_long(p, "maxvcpus", 0, VM_VCPUS_MAX, &l)) < 0)
		return -1;
	if (r)
		c->maxvcpus = (int)l;
	if ((r = get_long(p, "memory", VM_MEMORY_MIN, (long)VM_MEMORY_MAX, &l)) < 0)
		return -1;
	if (r)
		c->memory = (uint64_t)l;
	if ((r = get_long(p, "maxmem", 0, (long)VM_MEMORY_MAX, &l)) < 0)
		return -1;
	if (r)
		c->maxmem = (uint64_t)l;
	if (get_string(p, "kernel", &c->kernel) < 0 || get_string(p, "ramdisk", &c->ramdisk) < 0 ||
	    get_string(p, "cmdline", &c->cmdline) < 0 || get_string(p, "root", &c->root) < 0 ||
	    get_string(p, "extra", &c->extra) < 0 ||
	    get_string(p, "bootloader", &c->bootloader) < 0 || get_bootloader_args(p, c) < 0 ||
	    get_disks(p, c) < 0 || get_vifs(p, c) < 0 || get_string(p, "boot", &c->boot) < 0 ||
	    get_bool(p, "vnc", &c->vnc) < 0 || get_string(p, "vnclisten", &c->vnclisten) < 0)
		return -1;
	if ((r = get_long(p, "vncdisplay", 0, VM_VNCDISPLAY_MAX, &l)) < 0)
		return -1;
	if (r)
		c->vncdisplay = (int)l;
	if (get_serial(p, c) < 0 || get_bool(p, "sdl", &c->sdl) < 0 ||
	    get_action(p, "on_poweroff", &c->on_poweroff) < 0 ||
	    get_action(p, "on_reboot", &c->on_reboot) < 0 ||
	    get_action(p, "on_crash", &c->on_crash) < 0)
		return -1;
	bool claim = false;
	if ((r = get_bool(p, "claim_mode", &claim)) < 0)
		return -1;
	if (r)
		c->claim_mode = claim;
	return 0;
}

/* Turns libxlutil's first report line ("<file>:<line>: config parsing error near ...") into
 * our error; the text is already located, so only the line number is picked out. */
static void syntax_error(struct err *err, const char *fname, char *report, int code)
{
	err_clear(err);
	if (!report || !*report) {
		set_msg(err, "%s: cannot parse: %s", fname, strerror(code));
		return;
	}
	/* Only the first line: libxlutil goes on about Python for any '-', '.' or ':'. */
	char *nl = strchr(report, '\n');
	if (nl)
		*nl = '\0';
	for (char *q = report; *q; q++)
		if (*q == '`')
			*q = '\'';
	size_t fl = strlen(fname);
	if (strncmp(report, fname, fl) == 0 && report[fl] == ':')
		set_line(err, atoi(report + fl + 1));
	set_msg(err, "%s", report);
}

/* Puts "file:line: " (or "file: ") in front of a "key: ..." message from fail(). */
static void locate(struct err *err, const char *fname, const struct keys *k)
{
	char text[ERR_MSG_MAX];
	const char *key = err_data_str(err, "key");
	const struct keypos *kp = key ? key_find(k, key) : NULL;
	snprintf(text, sizeof(text), "%s", err->msg);
	if (kp) {
		set_line(err, kp->line);
		set_msg(err, "%s:%d: %s", fname, kp->line, text);
	} else {
		set_msg(err, "%s: %s", fname, text);
	}
}

int xlcfg_parse(const char *text, size_t len, const char *filename, struct vm_config *out,
		struct err *err)
{
	char fname[SHOW_LEN];
	struct parse p = {.err = err};
	char *data = NULL, *report = NULL;
	size_t report_len = 0;
	FILE *rf = NULL;
	int ret = -1;

	vm_config_init(out);
	err_clear(err);
	show(fname, filename && *filename ? filename : "xl.cfg");

	const char *nul = memchr(text, '\0', len);
	if (nul) {
		int line = 1;
		for (const char *q = text; q < nul; q++)
			line += *q == '\n';
		set_line(err, line);
		set_msg(err, "%s:%d: NUL byte in the text", fname, line);
		return -1;
	}
	if (len > XLCFG_TEXT_MAX) {
		set_msg(err, "%s: longer than %d bytes", fname, XLCFG_TEXT_MAX);
		return -1;
	}
	/* CRLF line ends are a lexical error to libxlutil; a file written on Windows means the
	 * same with plain LF. A missing final newline makes a last "# comment" an error and
	 * lets trailing junk through (libxlutil's lexer at end of input), so add one. */
	data = xmalloc(len + 2);
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (!(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n'))
			data[n++] = text[i];
	if (n == 0 || data[n - 1] != '\n')
		data[n++] = '\n';
	data[n] = '\0';
	if (lex(data, n, fname, &p.keys, err) < 0)
		goto out;

	rf = open_memstream(&report, &report_len);
	if (!rf) {
		set_msg(err, "%s: %s", fname, strerror(errno));
		goto out;
	}
	p.xlu = xlu_cfg_init(rf, fname);
	if (!p.xlu) {
		set_msg(err, "%s: out of memory", fname);
		goto out;
	}
	int r = xlu_cfg_readdata(p.xlu, data, (int)n);
	fflush(rf);
	if (r) {
		syntax_error(err, fname, report, r);
		goto out;
	}

	for (size_t i = 0; i < p.keys.n; i++) {
		const struct keypos *kp = &p.keys.v[i];
		if (!in_list(kp->name, supported_keys)) {
			set_key(err, kp->name);
			set_line(err, kp->line);
			set_msg(err, "%s:%d: %s: unsupported key", fname, kp->line,
				err_data_str(err, "key"));
			goto out;
		}
	}

	if (get_all(&p, out) < 0 || vm_config_validate(out, err) < 0) {
		locate(err, fname, &p.keys);
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		vm_config_finish(out);
	keys_free(&p.keys);
	xlu_cfg_destroy(p.xlu);
	if (rf)
		fclose(rf);
	free(report);
	free(data);
	return ret;
}

/* ---- formatting --------------------------------------------------------------------- */

static void put_str(struct sb *b, const char *key, const char *val)
{
	if (!val)
		return;
	sb_add(b, "%s = ", key);
	sb_quoted(b, val);
	sb_add(b, "\n");
}

/* One item on the line, several one per line: vm.config output is read by people. */
static void put_list(struct sb *b, const char *key, char **items, size_t n)
{
	if (n == 0)
		return;
	sb_add(b, "%s = [", key);
	for (size_t i = 0; i < n; i++) {
		sb_add(b, n == 1 ? " " : "\n    ");
		sb_quoted(b, items[i]);
		if (n > 1)
			sb_add(b, ",");
	}
	sb_add(b, n == 1 ? " ]\n" : "\n]\n");
}

char *xlcfg_format(const struct vm_config *cfg)
{
	struct sb b = {0};
	char uuid[UUID_STR_LEN];

	put_str(&b, "name", cfg->name);
	put_str(&b, "type", vm_type_name(cfg->type));
	if (cfg->has_uuid) {
		uuid_format(cfg->uuid, uuid);
		put_str(&b, "uuid", uuid);
	}
	sb_add(&b, "vcpus = %d\n", cfg->vcpus);
	if (cfg->maxvcpus)
		sb_add(&b, "maxvcpus = %d\n", cfg->maxvcpus);
	sb_add(&b, "memory = %llu\n", (unsigned long long)cfg->memory);
	if (cfg->maxmem)
		sb_add(&b, "maxmem = %llu\n", (unsigned long long)cfg->maxmem);
	put_str(&b, "kernel", cfg->kernel);
	put_str(&b, "ramdisk", cfg->ramdisk);
	put_str(&b, "cmdline", cfg->cmdline);
	put_str(&b, "root", cfg->root);
	put_str(&b, "extra", cfg->extra);
	put_str(&b, "bootloader", cfg->bootloader);
	put_list(&b, "bootloader_args", cfg->bootloader_args, cfg->n_bootloader_args);

	char **specs = xcalloc(cfg->n_disks + cfg->n_vifs + 1, sizeof(char *));
	for (size_t i = 0; i < cfg->n_disks; i++)
		specs[i] = xlcfg_format_disk(&cfg->disks[i]);
	put_list(&b, "disk", specs, cfg->n_disks);
	for (size_t i = 0; i < cfg->n_vifs; i++)
		specs[cfg->n_disks + i] = xlcfg_format_vif(&cfg->vifs[i]);
	put_list(&b, "vif", specs + cfg->n_disks, cfg->n_vifs);
	for (size_t i = 0; i < cfg->n_disks + cfg->n_vifs; i++)
		free(specs[i]);
	free(specs);

	put_str(&b, "boot", cfg->boot);
	if (cfg->vnc)
		sb_add(&b, "vnc = 1\n");
	put_str(&b, "vnclisten", cfg->vnclisten);
	if (cfg->vncdisplay >= 0)
		sb_add(&b, "vncdisplay = %d\n", cfg->vncdisplay);
	put_str(&b, "serial", cfg->serial);
	if (cfg->sdl)
		sb_add(&b, "sdl = 1\n");
	put_str(&b, "on_poweroff", vm_action_name(cfg->on_poweroff));
	put_str(&b, "on_reboot", vm_action_name(cfg->on_reboot));
	put_str(&b, "on_crash", vm_action_name(cfg->on_crash));
	if (cfg->claim_mode >= 0)
		sb_add(&b, "claim_mode = %d\n", cfg->claim_mode);
	return sb_take(&b);
}
