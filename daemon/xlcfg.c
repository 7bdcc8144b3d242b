/*
 * xlcfg.c: see xlcfg.h.
 *
 * The syntax is libxlutil's, so a file means what it means to xl. libxlutil cannot list the
 * keys a file sets, and xl ignores the keys it does not know; vmd refuses them instead (a
 * typo in "memmory" must not silently give a guest libxl's 32 MiB). That takes a lexer of
 * our own, which also keeps lexically bad text away from libxlutil (see xlcfg_lex for why)
 * and records where each statement is, for messages and for edits.
 */
#include "xlcfg.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxl_utils.h>
#include <libxlutil.h>

#include "util.h"
#include "vmd-proto.h"
#include "xlkeys.h"

#define IFNAME_MAX 15 /* IFNAMSIZ - 1 */
/* Far more than any key needs; bounds libxlutil's recursion on hostile input. */
#define LIST_DEPTH_MAX 16

/* ---- errors ----------------------------------------------------------------------------- */

/* A user value for a message: control bytes become '?', long values are cut (a hostile
 * value can neither forge lines nor crowd out the message), valid UTF-8. */
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
	utf8_mend(buf);
	return buf;
}

static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* "fname:line: text" (or "fname: text"), data line (and key, when given). */
static int fail_at(struct err *err, const char *fname, int line, const char *key,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail_at(struct err *err, const char *fname, int line, const char *key,
		   const char *fmt, ...)
{
	char text[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	err_clear(err);
	if (line > 0)
		err_set(err, VMD_ERR_INVALID_CONFIG, "%s:%d: %s", fname, line, text);
	else
		err_set(err, VMD_ERR_INVALID_CONFIG, "%s: %s", fname, text);
	if (err) {
		clean(err->msg);
		if (key) {
			char k[CONFIG_KEY_MAX + 1];
			snprintf(k, sizeof k, "%.*s", utf8_prefix(key, CONFIG_KEY_MAX), key);
			clean(k);
			err_add_str(err, "key", k);
		}
		if (line > 0)
			err_add(err, "line", json_integer(line));
	}
	return -1;
}

/* ---- the lexer -------------------------------------------------------------------------- */

/*
 * libxlutil's own lexer reports a lexical error and carries on, and its parser then leaks
 * values it can no longer store (Xen 4.17: xlu__cfg_list_append returns early once an error
 * is set). A daemon that parses client text cannot leak per request, so this lexer, which
 * follows libxlutil's token rules (libxlu_cfg_l.l), refuses lexically bad text before
 * libxlutil sees it; what reaches libxlutil can then only fail with a syntax error, which it
 * cleans up after. The same pass records each top-level statement.
 */

static bool ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

static bool hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int lex_error(struct err *err, const char *fname, int line, const char *at,
		     const char *why)
{
	char raw[48], near[SHOW_LEN];
	size_t n = strcspn(at, " \t\n");
	if (n > 40)
		n = 40;
	snprintf(raw, sizeof raw, "%.*s", (int)n, at);
	return fail_at(err, fname, line, NULL, "config parsing error near '%s': %s",
		       show(near, raw), why);
}

struct stmts {
	struct xlcfg_stmt *v;
	size_t n, cap;
};

static void stmt_begin(struct stmts *s, const char *t, size_t b, size_t e, int line, bool append)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	struct xlcfg_stmt *st = &s->v[s->n++];
	st->key = xasprintf("%.*s", (int)(e - b), t + b);
	st->line = line;
	st->start = b;
	st->end = e;
	st->append = append;
}

/* t[0..n) ends with '\n' and holds no NUL. */
static int lex(const char *t, size_t n, const char *fname, struct stmts *s, struct err *err)
{
	int line = 1, depth = 0;
	bool start = true;  /* the next identifier at depth 0 begins a statement */
	bool open = false;  /* a statement is open: its end moves with each token */
	size_t i = 0;
	while (i < n) {
		char c = t[i];
		size_t tok = i;
		if (c == ' ' || c == '\t') {
			i++;
			continue;
		}
		if (c == '\n' || c == '#') {
			while (t[i] != '\n')
				i++;
			i++;
			line++;
			if (depth == 0) {
				start = true;
				open = false;
			}
			continue;
		}
		if (c == '\'' || c == '"') {
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
			while (ident_char(t[i]))
				i++;
			if (start && depth == 0) {
				size_t j = i;
				while (t[j] == ' ' || t[j] == '\t')
					j++;
				stmt_begin(s, t, tok, i, line, t[j] == '+' && t[j + 1] == '=');
				open = true;
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
			if (depth == 0) {
				start = true;
				open = false;
			}
			i++;
			continue;
		} else {
			return lex_error(err, fname, line, t + i, "lexical error");
		}
		if (open)
			s->v[s->n - 1].end = i;
	}
	return 0;
}

void xlcfg_stmts_free(struct xlcfg_stmt *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i].key);
	free(s);
}

int xlcfg_lex(const char *text, size_t len, const char *fname, char **norm,
	      struct xlcfg_stmt **stmts, size_t *n, struct err *err)
{
	*norm = NULL;
	*stmts = NULL;
	*n = 0;
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		int line = 1;
		for (const char *q = text; q < nul; q++)
			line += *q == '\n';
		return fail_at(err, fname, line, NULL, "NUL byte in the text");
	}
	if (len > XLCFG_TEXT_MAX)
		return fail_at(err, fname, 0, NULL, "longer than %d bytes", XLCFG_TEXT_MAX);
	/* CRLF line ends are a lexical error to libxlutil; a file written on Windows means the
	 * same with plain LF. A missing final newline makes a last "# comment" an error and
	 * lets trailing junk through (libxlutil's lexer at end of input), so add one. */
	char *d = xmalloc(len + 2);
	size_t m = 0;
	for (size_t i = 0; i < len; i++)
		if (!(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n'))
			d[m++] = text[i];
	if (m == 0 || d[m - 1] != '\n')
		d[m++] = '\n';
	d[m] = '\0';
	/* One check for every string of the file: JSON (the protocol, the store) carries
	 * only UTF-8, and an xl.cfg string cannot hold a control character but a tab. */
	char *copy = xstrdup(d);
	bool utf8 = strcmp(utf8_mend(copy), d) == 0;
	free(copy);
	if (!utf8)
		return free(d), fail_at(err, fname, 0, NULL, "the text is not valid UTF-8");
	int line = 1;
	for (size_t i = 0; i < m; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '\n')
			line++;
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			return free(d), fail_at(err, fname, line, NULL,
						"control character 0x%02x in the text", c);
	}
	struct stmts s = {0};
	if (lex(d, m, fname, &s, err) < 0) {
		xlcfg_stmts_free(s.v, s.n);
		free(d);
		return -1;
	}
	*norm = d;
	*stmts = s.v;
	*n = s.n;
	return 0;
}

/* The statement that counts for key: the last. */
static const struct xlcfg_stmt *last_stmt(const struct xlcfg_stmt *s, size_t n, const char *key)
{
	for (size_t i = n; i-- > 0;)
		if (strcmp(s[i].key, key) == 0)
			return &s[i];
	return NULL;
}

/* ---- translation ------------------------------------------------------------------------ */

/* libxlutil's first report line ("<file>:<line>: config parsing error near ...") as our
 * error: only the first line (it goes on about Python for any '-', '.' or ':'). */
static int syntax_error(struct err *err, const char *fname, char *report, int code)
{
	if (!report || !*report)
		return fail_at(err, fname, 0, NULL, "cannot parse: %s", strerror(code));
	char *nl = strchr(report, '\n');
	if (nl)
		*nl = '\0';
	for (char *q = report; *q; q++)
		if (*q == '`')
			*q = '\'';
	size_t fl = strlen(fname);
	int line = 0;
	const char *text = report;
	if (strncmp(report, fname, fl) == 0 && report[fl] == ':') {
		line = atoi(report + fl + 1);
		text = report + fl + 1;
		text += strspn(text, "0123456789");
		if (*text == ':')
			text++;
		text += strspn(text, " ");
	}
	return fail_at(err, fname, line, NULL, "%s", text);
}

struct ctx {
	const char *fname;
	const char *text;
	FILE *report;        /* libxlutil's messages */
	char *const *report_buf;
	char last[512];
	const struct xlcfg_stmt *stmts;
	size_t n;
};

static const char *xlu_said(void *arg)
{
	struct ctx *c = arg;
	fflush(c->report);
	const char *r = *c->report_buf;
	if (!r || !*r)
		return NULL;
	size_t n = strlen(r);
	while (n && r[n - 1] == '\n')
		n--;
	size_t start = n;
	while (start && r[start - 1] != '\n')
		start--;
	snprintf(c->last, sizeof c->last, "%.*s", (int)(n - start), r + start);
	return c->last;
}

static int line_of(void *arg, const char *key)
{
	const struct ctx *c = arg;
	const struct xlcfg_stmt *s = last_stmt(c->stmts, c->n, key);
	return s ? s->line : 0;
}

/* Puts "file:line: " in front of a "key: ..." error from a row. */
static int locate(struct err *err, const struct ctx *c)
{
	const char *key = err_data_str(err, "key");
	char text[ERR_MSG_MAX];
	snprintf(text, sizeof text, "%s", err->msg);
	char *k = key ? xstrdup(key) : NULL;
	int r = fail_at(err, c->fname, k ? line_of((void *)c, k) : 0, k, "%s", text);
	free(k);
	return r;
}

static const char *type_word(libxl_domain_type t)
{
	return t == LIBXL_DOMAIN_TYPE_HVM ? "hvm" : t == LIBXL_DOMAIN_TYPE_PVH ? "pvh" : "pv";
}

static unsigned type_bit(libxl_domain_type t)
{
	return t == LIBXL_DOMAIN_TYPE_HVM ? XT_HVM : t == LIBXL_DOMAIN_TYPE_PVH ? XT_PVH : XT_PV;
}

/* Keys xl would not read for this guest's type: warnings (xl reads them silently). */
static void type_warnings(struct xk *x, const struct xlcfg_stmt *s, size_t n)
{
	unsigned t = type_bit(x->dc->c_info.type);
	for (size_t i = 0; i < n; i++) {
		const struct xl_key *k = xlkeys_find(s[i].key);
		if (!k || (k->types & t) || last_stmt(s, n, s[i].key) != &s[i])
			continue;
		xlkeys_warn(x, k->name, "has no effect for a %s guest (xl ignores it)",
			    type_word(x->dc->c_info.type));
	}
}

static bool ifname_valid(const char *s)
{
	if (!*s || strlen(s) > IFNAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("._-", *s)))
			return false;
	return true;
}

/* A bridge: an interface name, for Open vSwitch followed by VLANs ("ovsbr0:42:43", the
 * vif-openvswitch script's form). */
static bool bridge_valid(const char *s)
{
	const char *colon = strchr(s, ':');
	if (!colon)
		return ifname_valid(s);
	char name[IFNAME_MAX + 2];
	if ((size_t)(colon - s) > IFNAME_MAX)
		return false;
	snprintf(name, sizeof name, "%.*s", (int)(colon - s), s);
	if (!ifname_valid(name))
		return false;
	for (const char *p = colon; *p; p++)
		if (!(*p == ':' ? p[1] >= '0' && p[1] <= '9' : *p >= '0' && *p <= '9'))
			return false;
	return true;
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

/*
 * What vmd checks beyond xl, on what the rows built (README, "Deliberate differences"):
 * a daemon has no working directory of yours, so paths are absolute; a guest name is a file
 * name in the store; device names libxl would refuse seconds into the build are refused now.
 */
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

/* A value's first string (a list's items included) that holds a control character. */
static bool has_control(const json_t *v)
{
	if (json_is_string(v)) {
		for (const char *p = json_string_value(v); *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return true;
		return false;
	}
	size_t i;
	json_t *item;
	json_array_foreach(v, i, item)
		if (has_control(item))
			return true;
	return false;
}

static int vmd_checks(XLU_Config *cfg, libxl_domain_config *dc, const struct ctx *c,
		      struct err *err)
{
	/* A newline or an escape sequence in a value ends up in xenstore, in a kernel command
	 * line or in a log line: refused (xl passes them on). */
	json_t *values = xlcfg_values(c->text);
	const char *key;
	json_t *val;
	json_object_foreach(values, key, val) {
		if (has_control(val)) {
			int r = fail_at(err, c->fname, line_of((void *)c, key), key,
					"%s: value contains a control character", key);
			json_decref(values);
			return r;
		}
	}
	json_decref(values);
	char b[SHOW_LEN];
	const char *f = c->fname;
	libxl_domain_build_info *bi = &dc->b_info;
	if (!vm_name_valid(dc->c_info.name))
		return fail_at(err, f, line_of((void *)c, "name"), "name",
			       "name: invalid guest name '%s' (1 to 64 letters, digits, '.', '_' "
			       "or '-', not starting with '.')",
			       show(b, dc->c_info.name));
	if (libxl_uuid_is_nil(&dc->c_info.uuid))
		return fail_at(err, f, line_of((void *)c, "uuid"), "uuid",
			       "uuid: the nil UUID is not allowed");
	int vcpus = libxl_bitmap_count_set(&bi->avail_vcpus);
	if (vcpus > VM_VCPUS_MAX)
		return fail_at(err, f, line_of((void *)c, "vcpus"), "vcpus",
			       "vcpus: %d is out of range (at most %d)", vcpus, VM_VCPUS_MAX);
	if (bi->max_vcpus > VM_VCPUS_MAX)
		return fail_at(err, f, line_of((void *)c, "maxvcpus"), "maxvcpus",
			       "maxvcpus: %d is out of range (at most %d)", bi->max_vcpus,
			       VM_VCPUS_MAX);
	uint64_t max_kb = (uint64_t)VM_MEMORY_MAX * 1024;
	const char *mkey = NULL;
	uint64_t mkb = 0;
	if (bi->target_memkb != LIBXL_MEMKB_DEFAULT && bi->target_memkb > max_kb)
		mkey = "memory", mkb = bi->target_memkb;
	else if (bi->max_memkb != LIBXL_MEMKB_DEFAULT && bi->max_memkb > max_kb)
		mkey = line_of((void *)c, "maxmem") ? "maxmem" : "memory", mkb = bi->max_memkb;
	if (mkey) {
		char *raw = xlcfg_value(c->text, mkey);
		char *shown = raw ? xasprintf("'%s'", show(b, raw))
				  : xasprintf("%llu", (unsigned long long)(mkb / 1024));
		int r = fail_at(err, f, line_of((void *)c, mkey), mkey,
				"%s: %s is out of range (at most %lld MiB)", mkey, shown,
				VM_MEMORY_MAX);
		free(raw);
		free(shown);
		return r;
	}
	for (size_t i = 0; i < xl_n_keys; i++) {
		const struct xl_key *k = &xl_keys[i];
		const char *v;
		if (!(k->flags & XF_PATH) || xlu_cfg_get_string(cfg, k->name, &v, 1))
			continue;
		if (v[0] != '/')
			return fail_at(err, f, line_of((void *)c, k->name), k->name,
				       "%s: relative path '%s'; use an absolute path", k->name,
				       show(b, v));
	}
	if (bi->bootloader && strchr(bi->bootloader, '/') && bi->bootloader[0] != '/')
		return fail_at(err, f, line_of((void *)c, "bootloader"), "bootloader",
			       "bootloader: '%s' is neither a name nor an absolute path",
			       show(b, bi->bootloader));
	if (dc->num_disks > VM_DEVICES_MAX || dc->num_nics > VM_DEVICES_MAX) {
		const char *k = dc->num_disks > VM_DEVICES_MAX ? "disk" : "vif";
		return fail_at(err, f, line_of((void *)c, k), k, "%s: more than %d devices", k,
			       VM_DEVICES_MAX);
	}
	int dl = line_of((void *)c, "disk");
	for (int i = 0; i < dc->num_disks; i++) {
		const libxl_device_disk *d = &dc->disks[i];
		if (!d->vdev)
			return fail_at(err, f, dl, "disk", "disk: disk %d has no vdev", i + 1);
		if (!vdev_valid(d->vdev))
			return fail_at(err, f, dl, "disk", "disk: invalid vdev '%s' (e.g. xvda, hdc, "
				       "sdb)", show(b, d->vdev));
		for (int j = 0; j < i; j++)
			if (dc->disks[j].vdev && strcmp(dc->disks[j].vdev, d->vdev) == 0)
				return fail_at(err, f, dl, "disk", "disk: vdev %s is used twice",
					       d->vdev);
		if (!d->pdev_path && !d->is_cdrom)
			return fail_at(err, f, dl, "disk", "disk: %s has no target", d->vdev);
		if (d->pdev_path && *d->pdev_path && !d->script &&
		    d->backend != LIBXL_DISK_BACKEND_QDISK &&
		    d->pdev_path[0] != '/')
			return fail_at(err, f, dl, "disk", "disk: relative path '%s'; use an "
				       "absolute path", show(b, d->pdev_path));
	}
	int vl = line_of((void *)c, "vif");
	static const uint8_t zero[6];
	for (int i = 0; i < dc->num_nics; i++) {
		const libxl_device_nic *n = &dc->nics[i];
		if (memcmp(n->mac, zero, 6) != 0) {
			if (n->mac[0] & 1)
				return fail_at(err, f, vl, "vif", "vif: MAC address "
					       LIBXL_MAC_FMT " is a multicast address",
					       LIBXL_MAC_BYTES(n->mac));
			for (int j = 0; j < i; j++)
				if (memcmp(dc->nics[j].mac, n->mac, 6) == 0)
					return fail_at(err, f, vl, "vif", "vif: MAC address "
						       LIBXL_MAC_FMT " is used twice",
						       LIBXL_MAC_BYTES(n->mac));
		}
		if (n->bridge && !bridge_valid(n->bridge))
			return fail_at(err, f, vl, "vif", "vif: invalid bridge name '%s'",
				       show(b, n->bridge));
		if (n->ifname && !ifname_valid(n->ifname))
			return fail_at(err, f, vl, "vif", "vif: invalid vifname '%s' (at most %d "
				       "letters, digits, '.', '_', '-')",
				       show(b, n->ifname), IFNAME_MAX);
		if (n->script && strchr(n->script, '/') && n->script[0] != '/')
			return fail_at(err, f, vl, "vif", "vif: script '%s' is neither a name in "
				       "/etc/xen/scripts nor an absolute path", show(b, n->script));
	}
	/* The core acts on a guest's shutdown itself; two of xl's actions it does not have. */
	const struct {
		const char *key;
		libxl_action_on_shutdown a;
	} acts[] = {{"on_poweroff", dc->on_poweroff}, {"on_reboot", dc->on_reboot},
		    {"on_crash", dc->on_crash},       {"on_watchdog", dc->on_watchdog},
		    {"on_soft_reset", dc->on_soft_reset}};
	for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
		bool soft = acts[i].a == LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET;
		if (acts[i].a == LIBXL_ACTION_ON_SHUTDOWN_RESTART_RENAME ||
		    (soft && strcmp(acts[i].key, "on_soft_reset") != 0))
			return fail_at(err, f, line_of((void *)c, acts[i].key), acts[i].key,
				       "%s: vmd does not support '%s' (destroy, restart, preserve, "
				       "coredump-destroy or coredump-restart)",
				       acts[i].key, soft ? "soft-reset" : "rename-restart");
	}
	if (dc->c_info.type == LIBXL_DOMAIN_TYPE_HVM &&
	    bi->u.hvm.vnc.display > VM_VNCDISPLAY_MAX)
		return fail_at(err, f, line_of((void *)c, "vncdisplay"), "vncdisplay",
			       "vncdisplay: %u is out of range (0..%d)", bi->u.hvm.vnc.display,
			       VM_VNCDISPLAY_MAX);
	return 0;
}

int xlcfg_translate(const char *fname, const char *text, const struct xlcfg_stmt *stmts,
		    size_t n, const struct xlkeys_host *host, libxl_domain_config *dc,
		    char ***warnings, size_t *n_warnings, struct err *err)
{
	struct ctx c = {.fname = fname, .text = text, .stmts = stmts, .n = n};
	libxl_domain_config_init(dc);
	for (size_t i = 0; i < n; i++)
		if (!xlkeys_find(stmts[i].key))
			return fail_at(err, fname, stmts[i].line, stmts[i].key,
				       "%.*s: unknown key", utf8_prefix(stmts[i].key, CONFIG_KEY_MAX),
				       stmts[i].key);
	char *report = NULL;
	size_t report_len = 0;
	FILE *rf = open_memstream(&report, &report_len);
	if (!rf)
		return fail_at(err, fname, 0, NULL, "%s", strerror(errno));
	XLU_Config *cfg = xlu_cfg_init(rf, fname);
	int r = -1;
	if (!cfg) {
		fail_at(err, fname, 0, NULL, "out of memory");
		goto out;
	}
	int e = xlu_cfg_readdata(cfg, text, (int)strlen(text));
	fflush(rf);
	if (e) {
		syntax_error(err, fname, report, e);
		goto out;
	}
	struct xk x = {
		.cfg = cfg,
		.dc = dc,
		.host = host,
		.err = err,
		.warnings = *warnings,
		.n_warnings = *n_warnings,
		.line_of = line_of,
		.xlu_said = xlu_said,
		.line_arg = &c,
	};
	c.report = rf;
	c.report_buf = &report;
	int t = xlkeys_translate(&x);
	if (t == 0)
		type_warnings(&x, stmts, n);
	*warnings = x.warnings;
	*n_warnings = x.n_warnings;
	if (t < 0) {
		locate(err, &c);
		goto out;
	}
	if (vmd_checks(cfg, dc, &c, err) < 0)
		goto out;
	r = 0;
out:
	if (cfg)
		xlu_cfg_destroy(cfg);
	fclose(rf);
	free(report);
	return r;
}

/* ---- edits ------------------------------------------------------------------------------ */

struct sb {
	char *s;
	size_t len, cap;
};

static void sb_addn(struct sb *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_add(struct sb *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static char *sb_take(struct sb *b)
{
	return b->s ? b->s : xstrdup("");
}

char *xlcfg_quote(const char *s)
{
	struct sb b = {0};
	sb_add(&b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_addn(&b, "\\", 1);
		if (*s == '\t') {
			sb_add(&b, "\\t");
			continue;
		}
		sb_addn(&b, s, 1);
	}
	sb_add(&b, "\"");
	return sb_take(&b);
}

char *xlcfg_list(char *const *items, size_t n)
{
	struct sb b = {0};
	sb_add(&b, "[");
	for (size_t i = 0; i < n; i++) {
		char *q = xlcfg_quote(items[i]);
		sb_add(&b, n == 1 ? " " : "\n    ");
		sb_add(&b, q);
		if (n > 1)
			sb_add(&b, ",");
		free(q);
	}
	sb_add(&b, n == 1 ? " ]" : n ? "\n]" : " ]");
	return sb_take(&b);
}

/* The statements of a text that is known to be valid (it was parsed before). */
static struct xlcfg_stmt *stmts_of(const char *text, size_t *n)
{
	char *norm;
	struct xlcfg_stmt *s;
	struct err err = {0};
	if (xlcfg_lex(text, strlen(text), "config", &norm, &s, n, &err) < 0) {
		err_clear(&err);
		*n = 0;
		return NULL;
	}
	free(norm);
	return s;
}

char *xlcfg_set(const char *text, const char *key, const char *value)
{
	size_t n;
	struct xlcfg_stmt *s = stmts_of(text, &n);
	const struct xlcfg_stmt *last = last_stmt(s, n, key);
	struct sb b = {0};
	if (last) {
		sb_addn(&b, text, last->start);
		sb_add(&b, key);
		sb_add(&b, " = ");
		sb_add(&b, value);
		sb_add(&b, text + last->end);
	} else {
		sb_add(&b, text);
		if (b.len && b.s[b.len - 1] != '\n')
			sb_add(&b, "\n");
		sb_add(&b, key);
		sb_add(&b, " = ");
		sb_add(&b, value);
		sb_add(&b, "\n");
	}
	xlcfg_stmts_free(s, n);
	return sb_take(&b);
}

/* The byte ranges of the string literals of a list value (one level deep), in
 * text[from, to): 0 and the count, or -1 when the value is not such a list. */
static int list_literals(const char *text, size_t from, size_t to, size_t (*at)[2],
			 size_t max, size_t *n)
{
	size_t i = from;
	while (i < to && text[i] != '=')
		i++;
	i++;
	while (i < to && (text[i] == ' ' || text[i] == '\t'))
		i++;
	if (i >= to || text[i] != '[')
		return -1;
	int depth = 0;
	*n = 0;
	for (; i < to; i++) {
		char c = text[i];
		if (c == '#') {
			while (i < to && text[i] != '\n')
				i++;
		} else if (c == '[') {
			depth++;
		} else if (c == ']') {
			depth--;
		} else if (c == '"' || c == '\'') {
			size_t start = i++;
			while (i < to && text[i] != c) {
				if (text[i] == '\\')
					i++;
				i++;
			}
			if (depth != 1)
				return -1;
			if (*n == max)
				return -1;
			at[*n][0] = start;
			at[*n][1] = i + 1;
			(*n)++;
		}
	}
	return 0;
}

char *xlcfg_set_items(const char *text, const char *key, char *const *items, size_t n)
{
	size_t ns;
	struct xlcfg_stmt *s = stmts_of(text, &ns);
	const struct xlcfg_stmt *last = last_stmt(s, ns, key);
	size_t (*at)[2] = xcalloc(n + 1, sizeof *at);
	size_t found = 0;
	char *out;
	if (last && list_literals(text, last->start, last->end, at, n + 1, &found) == 0 &&
	    found == n && n > 0) {
		struct sb b = {0};
		size_t pos = 0;
		for (size_t i = 0; i < n; i++) {
			sb_addn(&b, text + pos, at[i][0] - pos);
			/* in the quotes the admin used, where they can hold the item */
			if (text[at[i][0]] == '\'' && !strpbrk(items[i], "'\\\n")) {
				sb_add(&b, "'");
				sb_add(&b, items[i]);
				sb_add(&b, "'");
			} else {
				char *q = xlcfg_quote(items[i]);
				sb_add(&b, q);
				free(q);
			}
			pos = at[i][1];
		}
		sb_add(&b, text + pos);
		out = sb_take(&b);
	} else {
		char *list = xlcfg_list(items, n);
		out = xlcfg_set(text, key, list);
		free(list);
	}
	free(at);
	xlcfg_stmts_free(s, ns);
	return out;
}

char *xlcfg_unset(const char *text, const char *key)
{
	size_t n;
	struct xlcfg_stmt *s = stmts_of(text, &n);
	struct sb b = {0};
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s[i].key, key) != 0)
			continue;
		/* the statement, and its line when nothing else is on it */
		size_t from = s[i].start, to = s[i].end;
		size_t ls = from;
		while (ls > 0 && (text[ls - 1] == ' ' || text[ls - 1] == '\t'))
			ls--;
		size_t le = to;
		while (text[le] == ' ' || text[le] == '\t' || text[le] == ';')
			le++;
		if ((ls == 0 || text[ls - 1] == '\n') && text[le] == '\n') {
			from = ls;
			to = le + 1;
		}
		sb_addn(&b, text + at, from - at);
		at = to;
	}
	sb_add(&b, text + at);
	xlcfg_stmts_free(s, n);
	return sb_take(&b);
}

char **xlcfg_items(const char *text, const char *key)
{
	FILE *rf = fopen("/dev/null", "w");
	if (!rf)
		return NULL;
	XLU_Config *cfg = xlu_cfg_init(rf, "config");
	char **out = NULL;
	if (cfg && xlu_cfg_readdata(cfg, text, (int)strlen(text)) == 0) {
		libxl_string_list sl = NULL;
		if (xlu_cfg_get_list_as_string_list(cfg, key, &sl, 1) == 0)
			out = sl;
	}
	if (cfg)
		xlu_cfg_destroy(cfg);
	fclose(rf);
	return out;
}

static json_t *value_json(const XLU_Config *cfg, XLU_ConfigValue *v)
{
	char *s;
	if (xlu_cfg_value_type(v) == XLU_STRING) {
		xlu_cfg_value_get_string(cfg, v, &s, 1);
		return json_string(s ? s : "");
	}
	XLU_ConfigList *list;
	json_t *a = json_array();
	if (xlu_cfg_value_get_list(cfg, v, &list, 1) == 0)
		for (int i = 0; xlu_cfg_get_listitem2(list, i); i++)
			json_array_append_new(a, value_json(cfg, xlu_cfg_get_listitem2(list, i)));
	return a;
}

json_t *xlcfg_values(const char *text)
{
	size_t n;
	struct xlcfg_stmt *s = stmts_of(text, &n);
	json_t *out = json_object();
	FILE *rf = fopen("/dev/null", "w");
	XLU_Config *cfg = rf ? xlu_cfg_init(rf, "config") : NULL;
	if (cfg && xlu_cfg_readdata(cfg, text, (int)strlen(text)) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (json_object_get(out, s[i].key))
				continue;
			const char *str;
			XLU_ConfigList *list;
			json_t *v = NULL;
			if (xlu_cfg_get_string(cfg, s[i].key, &str, 1) == 0) {
				v = json_string(str);
			} else if (xlu_cfg_get_list(cfg, s[i].key, &list, NULL, 1) == 0) {
				v = json_array();
				for (int j = 0; xlu_cfg_get_listitem2(list, j); j++)
					json_array_append_new(
						v, value_json(cfg, xlu_cfg_get_listitem2(list, j)));
			}
			if (v)
				json_object_set_new(out, s[i].key, v);
		}
	}
	if (cfg)
		xlu_cfg_destroy(cfg);
	if (rf)
		fclose(rf);
	xlcfg_stmts_free(s, n);
	return out;
}

char *xlcfg_value(const char *text, const char *key)
{
	FILE *rf = fopen("/dev/null", "w");
	if (!rf)
		return NULL;
	XLU_Config *cfg = xlu_cfg_init(rf, "config");
	char *out = NULL;
	const char *s;
	if (cfg && xlu_cfg_readdata(cfg, text, (int)strlen(text)) == 0 &&
	    xlu_cfg_get_string(cfg, key, &s, 1) == 0)
		out = xstrdup(s);
	if (cfg)
		xlu_cfg_destroy(cfg);
	fclose(rf);
	return out;
}

/* ---- device specs ----------------------------------------------------------------------- */

int xlcfg_parse_disk(const char *spec, libxl_device_disk *d, struct err *err)
{
	char b[SHOW_LEN];
	char *report = NULL;
	size_t report_len = 0;
	FILE *rf = open_memstream(&report, &report_len);
	XLU_Config *cfg = rf ? xlu_cfg_init(rf, "disk") : NULL;
	libxl_device_disk_init(d);
	int r = cfg ? xlu_disk_parse(cfg, 1, &spec, d) : ENOMEM;
	if (cfg)
		xlu_cfg_destroy(cfg);
	if (rf)
		fclose(rf);
	const char *what = report ? strstr(report, "disk specification: ") : NULL;
	if (r && what) {
		what += strlen("disk specification: ");
		char *t = xasprintf("%.*s", (int)strcspn(what, "\n"), what);
		for (char *p = t; *p; p++)
			if (*p == '`')
				*p = '\'';
		err_set(err, VMD_ERR_INVALID_CONFIG, "disk: %.200s", t);
		free(t);
	} else if (r) {
		err_set(err, VMD_ERR_INVALID_CONFIG, "disk: invalid disk spec '%s'", show(b, spec));
	}
	free(report);
	if (r) {
		libxl_device_disk_dispose(d);
		libxl_device_disk_init(d);
		err_add_str(err, "key", "disk");
		return -1;
	}
	return 0;
}

char *xlcfg_disk_spec(const libxl_device_disk *d)
{
	struct sb b = {0};
	char buf[256];
	if (d->format != LIBXL_DISK_FORMAT_EMPTY && d->format != LIBXL_DISK_FORMAT_UNKNOWN) {
		snprintf(buf, sizeof buf, "format=%s, ", libxl_disk_format_to_string(d->format));
		sb_add(&b, buf);
	}
	snprintf(buf, sizeof buf, "vdev=%s, access=%s", d->vdev ? d->vdev : "",
		 d->readwrite ? "rw" : "ro");
	sb_add(&b, buf);
	if (d->is_cdrom)
		sb_add(&b, ", devtype=cdrom");
	if (d->backend != LIBXL_DISK_BACKEND_UNKNOWN) {
		snprintf(buf, sizeof buf, ", backendtype=%s", libxl_disk_backend_to_string(d->backend));
		sb_add(&b, buf);
	}
	const struct {
		const char *name;
		const char *v;
	} strs[] = {
		{"backend", d->backend_domname}, {"script", d->script},
		{"colo-host", d->colo_host},	 {"colo-export", d->colo_export},
		{"active-disk", d->active_disk},	 {"hidden-disk", d->hidden_disk},
	};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		if (!strs[i].v)
			continue;
		sb_add(&b, ", ");
		sb_add(&b, strs[i].name);
		sb_add(&b, "=");
		sb_add(&b, strs[i].v);
	}
	if (d->colo_port) {
		snprintf(buf, sizeof buf, ", colo-port=%d", d->colo_port);
		sb_add(&b, buf);
	}
	if (d->specification != LIBXL_DISK_SPECIFICATION_UNKNOWN) {
		snprintf(buf, sizeof buf, ", specification=%s",
			 libxl_disk_specification_to_string(d->specification));
		sb_add(&b, buf);
	}
	if (d->direct_io_safe)
		sb_add(&b, ", direct-io-safe");
	if (!libxl_defbool_is_default(d->discard_enable))
		sb_add(&b, libxl_defbool_val(d->discard_enable) ? ", discard" : ", no-discard");
	if (!libxl_defbool_is_default(d->colo_enable))
		sb_add(&b, libxl_defbool_val(d->colo_enable) ? ", colo" : ", no-colo");
	if (!libxl_defbool_is_default(d->trusted))
		sb_add(&b, libxl_defbool_val(d->trusted) ? ", trusted" : ", untrusted");
	if (d->pdev_path) {
		sb_add(&b, ", target=");
		sb_add(&b, d->pdev_path);
	}
	return sb_take(&b);
}

/* The options of a vif-style spec, trimmed, empty ones dropped. */
static libxl_string_list spec_options(const char *spec)
{
	size_t n = 0;
	libxl_string_list out = xcalloc(1, sizeof(char *));
	char *buf = xstrdup(spec), *save = NULL;
	for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t l = strlen(p);
		while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		if (!l)
			continue;
		out = xrealloc(out, (n + 2) * sizeof(char *));
		out[n++] = xasprintf("%.*s", (int)l, p);
		out[n] = NULL;
	}
	free(buf);
	return out;
}

static bool is_option(const char *o, const char *name)
{
	size_t n = strlen(name);
	return strncmp(o, name, n) == 0 && o[n] == '=';
}

char *xlcfg_spec_option(const char *spec, const char *name)
{
	libxl_string_list o = spec_options(spec);
	char *v = NULL;
	for (int i = 0; o[i]; i++)
		if (is_option(o[i], name)) {
			free(v);
			v = xstrdup(o[i] + strlen(name) + 1);
		}
	libxl_string_list_dispose(&o);
	return v;
}

char *xlcfg_vif_edit(const char *spec, bool drop_mac, bool drop_vifname, const char *mac,
		     const char *bridge)
{
	libxl_string_list o = spec_options(spec);
	struct sb b = {0};
	const char *sep = "";
	if (mac) {
		sb_add(&b, "mac=");
		sb_add(&b, mac);
		sep = ", ";
	}
	for (int i = 0; o[i]; i++) {
		if ((drop_mac || mac) && is_option(o[i], "mac"))
			continue;
		if (drop_vifname && is_option(o[i], "vifname"))
			continue;
		sb_add(&b, sep);
		sb_add(&b, o[i]);
		sep = ", ";
	}
	if (bridge) {
		sb_add(&b, sep);
		sb_add(&b, "bridge=");
		sb_add(&b, bridge);
	}
	libxl_string_list_dispose(&o);
	return sb_take(&b);
}

char *xlcfg_spec_set(const char *spec, const char *name, const char *value)
{
	libxl_string_list o = spec_options(spec);
	struct sb b = {0};
	const char *sep = "";
	bool done = false;
	for (int i = 0; o[i]; i++) {
		bool mine = is_option(o[i], name);
		if (mine && (done || !value))
			continue;
		sb_add(&b, sep);
		if (mine) {
			sb_add(&b, name);
			sb_add(&b, "=");
			sb_add(&b, value);
			done = true;
		} else {
			sb_add(&b, o[i]);
		}
		sep = ", ";
	}
	if (!done && value) {
		sb_add(&b, sep);
		sb_add(&b, name);
		sb_add(&b, "=");
		sb_add(&b, value);
	}
	libxl_string_list_dispose(&o);
	return sb_take(&b);
}

/* ---- xl.conf ------------------------------------------------------------------------------ */

static const char *keep(struct xlcfg_xl_conf *c, const char *v)
{
	for (size_t i = 0; i < sizeof c->strings / sizeof c->strings[0]; i++)
		if (!c->strings[i])
			return c->strings[i] = xstrdup(v);
	return NULL; /* not reached: one slot per key */
}

int xlcfg_xl_conf_read(const char *path, struct xlkeys_host *h, struct xlcfg_xl_conf *c,
		       struct err *err)
{
	memset(c, 0, sizeof *c);
	c->host = h;
	c->claim_mode = -1;
	size_t len = 0;
	char *text = read_file(path, XLCFG_TEXT_MAX, &len);
	if (!text && errno == ENOENT)
		return 0;
	if (!text) {
		err_set(err, VMD_ERR_INVALID_CONFIG, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *report = NULL;
	size_t report_len = 0;
	FILE *rf = open_memstream(&report, &report_len);
	XLU_Config *cfg = rf ? xlu_cfg_init(rf, path) : NULL;
	int r = -1;
	if (!cfg) {
		err_set(err, VMD_ERR_INTERNAL, "%s: out of memory", path);
		goto out;
	}
	if (memchr(text, '\0', len) || xlu_cfg_readdata(cfg, text, (int)len)) {
		fflush(rf);
		char *nl = report ? strchr(report, '\n') : NULL;
		if (nl)
			*nl = '\0';
		err_set(err, VMD_ERR_INVALID_CONFIG, "%s: xl cannot parse it%s%s", path,
			report && *report ? ": " : "", report ? report : "");
		goto out;
	}
	const char *v;
	long l;
	if (!xlu_cfg_get_long(cfg, "run_hotplug_scripts", &l, 1))
		h->run_hotplug_scripts = l != 0;
	if (!xlu_cfg_get_string(cfg, "vifscript", &v, 1))
		h->vif_script = keep(c, v);
	if (!xlu_cfg_get_string(cfg, "vif.default.script", &v, 1))
		h->vif_script = keep(c, v);
	if (!xlu_cfg_get_string(cfg, "defaultbridge", &v, 1))
		h->vif_bridge = keep(c, v);
	if (!xlu_cfg_get_string(cfg, "vif.default.bridge", &v, 1))
		h->vif_bridge = keep(c, v);
	if (!xlu_cfg_get_string(cfg, "vif.default.gatewaydev", &v, 1))
		h->vif_gatewaydev = keep(c, v);
	if (!xlu_cfg_get_string(cfg, "vif.default.backend", &v, 1))
		h->vif_backend = keep(c, v);
	if (!xlu_cfg_get_string(cfg, "blkdev_start", &v, 1))
		h->blkdev_start = keep(c, v);
	if (!xlu_cfg_get_long(cfg, "claim_mode", &l, 1)) {
		c->claim_mode = l != 0;
		h->claim_mode = l != 0;
	}
	static const char *const grants[] = {"max_grant_frames", "max_maptrack_frames",
					     "max_grant_version"};
	int *gv[] = {&h->max_grant_frames, &h->max_maptrack_frames, &h->max_grant_version};
	for (size_t i = 0; i < 3; i++) {
		int e = xlu_cfg_get_bounded_long(cfg, grants[i], 0, INT_MAX, &l, 1);
		if (e == 0) {
			*gv[i] = (int)l;
		} else if (e != ESRCH) {
			err_set(err, VMD_ERR_INVALID_CONFIG, "%s: %s: not a number from 0 to %d",
				path, grants[i], INT_MAX);
			goto out;
		}
	}
	if (!xlu_cfg_get_string(cfg, "vm.cpumask", &v, 1))
		h->vm_cpumask = keep(c, v);
	if (!xlu_cfg_get_string(cfg, "vm.pv.cpumask", &v, 1))
		h->vm_pv_cpumask = keep(c, v);
	if (!xlu_cfg_get_string(cfg, "vm.hvm.cpumask", &v, 1))
		h->vm_hvm_cpumask = keep(c, v);
	r = 0;
out:
	if (cfg)
		xlu_cfg_destroy(cfg);
	if (rf)
		fclose(rf);
	free(report);
	free(text);
	return r;
}

void xlcfg_xl_conf_finish(struct xlcfg_xl_conf *c)
{
	for (size_t i = 0; i < sizeof c->strings / sizeof c->strings[0]; i++)
		free(c->strings[i]);
	memset(c, 0, sizeof *c);
}
