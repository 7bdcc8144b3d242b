/*
 * conf.c: see conf.h. The syntax, in short (man/vmd.conf.5.scd is the reference):
 *
 *   # comment                        a '#' outside quotes ends the line
 *   key = value                      one setting per line; blanks around '=' are optional
 *   key = "quoted value"             "..." with \" and \\ for values with blanks or '#'
 *   storage_roots = /a, "/b c"       lists: items separated by commas
 *
 * Every problem is collected, not only the first, so `vmd --check-config` shows them all.
 */
#include "conf.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "util.h"

#define DEFAULT_STATE_DIR "/var/lib/vmd"
#define DEFAULT_GROUP "vmd"
#define DEFAULT_XL_CONF "/etc/xen/xl.conf"
#define DEFAULT_DUMP_DIR "/var/lib/xen/dump" /* xl's XEN_DUMP_DIR */
#define DEFAULT_STORAGE_ROOT "/var/lib/vmd/images"
#define IFNAME_MAX 15 /* IFNAMSIZ - 1 */

enum kind {
	K_PATH,      /* an absolute path */
	K_SOCKET,    /* an absolute path that fits sun_path */
	K_RO_SOCKET, /* the same, or "none" */
	K_PATHS,     /* a list of absolute paths */
	K_BACKEND,
	K_LOG_LEVEL,
	K_GROUP,
	K_BRIDGE,
	K_BOOL,
	K_TRIBOOL,   /* an int: -1 while the file does not set it */
	K_UINT,
	K_COMMAND,   /* a command line for /bin/sh (one line, not empty) */
};

struct key {
	const char *name;
	enum kind kind;
	size_t offset;              /* of the member in struct vmd_conf */
	uint64_t min, max;          /* K_UINT */
};

#define M(member) offsetof(struct vmd_conf, member)
static const struct key keys[] = {
	{"socket", K_SOCKET, M(socket), 0, 0},
	{"ro_socket", K_RO_SOCKET, M(ro_socket), 0, 0},
	{"state_dir", K_PATH, M(state_dir), 0, 0},
	{"run_dir", K_PATH, M(run_dir), 0, 0},
	{"backend", K_BACKEND, M(backend), 0, 0},
	{"log_level", K_LOG_LEVEL, M(log_level), 0, 0},
	{"group", K_GROUP, M(group), 0, 0},
	{"storage_roots", K_PATHS, M(storage_roots), 0, 0},
	{"default_bridge", K_BRIDGE, M(default_bridge), 0, 0},
	{"autostart", K_BOOL, M(autostart), 0, 0},
	{"claim_mode", K_TRIBOOL, M(claim_mode), 0, 0},
	{"xl_conf", K_PATH, M(xl_conf), 0, 0},
	{"dump_dir", K_PATH, M(dump_dir), 0, 0},
	{"ssh_command", K_COMMAND, M(ssh_command), 0, 0},
	{"remote_vmctl", K_COMMAND, M(remote_vmctl), 0, 0},
	{"sim_memory", K_UINT, M(sim_memory_mib), 1, 1u << 30},
	{"sim_delay_ms", K_UINT, M(sim_delay_ms), 0, 600000},
};
#undef M
#define N_KEYS (sizeof keys / sizeof keys[0])

static void add(char ***list, size_t *n, char *s)
{
	*list = xrealloc(*list, (*n + 1) * sizeof **list);
	(*list)[(*n)++] = s;
}

static void diag_error(struct conf_diag *diag, const char *fname, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void diag_error(struct conf_diag *diag, const char *fname, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	add(&diag->errors, &diag->n_errors,
	    line ? xasprintf("%s:%d: %s", fname, line, msg) : xasprintf("%s: %s", fname, msg));
}

static void diag_warning(struct conf_diag *diag, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void diag_warning(struct conf_diag *diag, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	add(&diag->warnings, &diag->n_warnings, xstrdup(msg));
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void conf_init(struct vmd_conf *c)
{
	memset(c, 0, sizeof *c);
	c->state_dir = xstrdup(DEFAULT_STATE_DIR);
	c->log_level = LOG_LVL_INFO;
	c->group = xstrdup(DEFAULT_GROUP);
	c->xl_conf = xstrdup(DEFAULT_XL_CONF);
	c->dump_dir = xstrdup(DEFAULT_DUMP_DIR);
	c->autostart = true;
	c->claim_mode = -1;
	c->storage_roots = xmalloc(sizeof(char *));
	c->storage_roots[0] = xstrdup(DEFAULT_STORAGE_ROOT);
	c->n_storage_roots = 1;
}

void conf_finish(struct vmd_conf *c)
{
	free(c->socket);
	free(c->ro_socket);
	free(c->state_dir);
	free(c->run_dir);
	free(c->backend);
	free(c->group);
	free(c->default_bridge);
	free(c->xl_conf);
	free(c->dump_dir);
	free(c->ssh_command);
	free(c->remote_vmctl);
	free_list(c->storage_roots, c->n_storage_roots);
	memset(c, 0, sizeof *c); /* nothing owned: conf_init again before reuse */
}

void conf_diag_finish(struct conf_diag *diag)
{
	free_list(diag->errors, diag->n_errors);
	free_list(diag->warnings, diag->n_warnings);
	memset(diag, 0, sizeof *diag);
}

/* ---- lexing ------------------------------------------------------------------------------ */

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Splits the value part of a line into items. Returns NULL on success, or what is wrong. */
static const char *split_value(const char *p, const char *end, char ***items, size_t *n)
{
	for (;;) {
		p = skip_blanks(p, end);
		if (p == end || *p == '#')
			return *n ? "a value is missing after ','" : "the value is missing";
		char *item;
		if (*p == '"') {
			char *buf = xmalloc((size_t)(end - p) + 1), *o = buf;
			for (p++;; p++) {
				if (p == end) {
					free(buf);
					return "unterminated quoted value";
				}
				if (*p == '"')
					break;
				if (*p == '\\') {
					if (p + 1 == end || (p[1] != '"' && p[1] != '\\')) {
						free(buf);
						return "only \\\" and \\\\ may be escaped in a quoted value";
					}
					p++;
				}
				*o++ = *p;
			}
			p++;
			*o = '\0';
			item = buf;
		} else {
			const char *s = p;
			while (p < end && *p != ' ' && *p != '\t' && *p != ',' && *p != '#' &&
			       *p != '"')
				p++;
			if (p < end && *p == '"')
				return "a quote inside a value (quote the whole value)";
			item = xmalloc((size_t)(p - s) + 1);
			memcpy(item, s, (size_t)(p - s));
			item[p - s] = '\0';
		}
		if (!item[0]) {
			free(item);
			return "an empty value";
		}
		add(items, n, item);
		p = skip_blanks(p, end);
		if (p == end || *p == '#')
			return NULL;
		if (*p != ',')
			return "unexpected text after the value (quote values with blanks)";
		p++;
	}
}

/* ---- values ------------------------------------------------------------------------------ */

static bool group_name_valid(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

static bool bridge_valid(const char *s)
{
	if (strlen(s) > IFNAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1"))
		*out = true;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_uint(const char *s, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* Stores items (taken) into the member of c that k names. Returns NULL, or what is wrong. */
static const char *apply(struct vmd_conf *c, const struct key *k, char **items, size_t n,
			 char *why, size_t whylen)
{
	void *member = (char *)c + k->offset;
	if (k->kind != K_PATHS && n != 1) {
		snprintf(why, whylen, "'%s' takes one value, not a list", k->name);
		return why;
	}
	const char *v = items[0];
	switch (k->kind) {
	case K_RO_SOCKET:
		if (!strcmp(v, "none")) {
			free(*(char **)member);
			*(char **)member = xstrdup("");
			return NULL;
		}
		__attribute__((fallthrough)); /* gcc and clang both check this one */
	case K_SOCKET:
		if (strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(why, whylen, "socket path longer than %zu bytes",
				 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return why;
		}
		__attribute__((fallthrough)); /* gcc and clang both check this one */
	case K_PATH:
		if (v[0] != '/') {
			snprintf(why, whylen, "'%s' wants an absolute path, not '%.200s'", k->name,
				 v);
			return why;
		}
		free(*(char **)member);
		*(char **)member = xstrdup(v);
		return NULL;
	case K_COMMAND:
		if (!*v || strchr(v, '\n') || strlen(v) > 1024) {
			snprintf(why, whylen, "'%s' wants a command on one line", k->name);
			return why;
		}
		free(*(char **)member);
		*(char **)member = xstrdup(v);
		return NULL;
	case K_PATHS:
		for (size_t i = 0; i < n; i++) {
			if (items[i][0] != '/') {
				snprintf(why, whylen, "'%s' wants absolute paths, not '%.200s'",
					 k->name, items[i]);
				return why;
			}
		}
		free_list(c->storage_roots, c->n_storage_roots);
		c->storage_roots = xmalloc(n * sizeof(char *));
		for (size_t i = 0; i < n; i++)
			c->storage_roots[i] = xstrdup(items[i]);
		c->n_storage_roots = n;
		return NULL;
	case K_BACKEND:
		if (strcmp(v, "libxl") && strcmp(v, "sim")) {
			snprintf(why, whylen, "unknown backend '%.64s' (libxl or sim)", v);
			return why;
		}
		free(c->backend);
		c->backend = xstrdup(v);
		return NULL;
	case K_LOG_LEVEL:
		if (log_level_parse(v, &c->log_level) < 0) {
			snprintf(why, whylen, "unknown log level '%.64s' (error, warn, info, debug)",
				 v);
			return why;
		}
		return NULL;
	case K_GROUP:
		if (!group_name_valid(v) || strlen(v) > 32) {
			snprintf(why, whylen, "invalid group name '%.64s'", v);
			return why;
		}
		free(c->group);
		c->group = xstrdup(v);
		return NULL;
	case K_BRIDGE:
		if (!bridge_valid(v)) {
			snprintf(why, whylen, "invalid bridge name '%.64s' (at most %d letters, "
				 "digits, '.', '_', '-')", v, IFNAME_MAX);
			return why;
		}
		free(c->default_bridge);
		c->default_bridge = xstrdup(v);
		return NULL;
	case K_BOOL:
		if (parse_bool(v, member) < 0) {
			snprintf(why, whylen, "'%s' wants yes or no, not '%.64s'", k->name, v);
			return why;
		}
		return NULL;
	case K_TRIBOOL: {
		bool b;
		if (parse_bool(v, &b) < 0) {
			snprintf(why, whylen, "'%s' wants yes or no, not '%.64s'", k->name, v);
			return why;
		}
		*(int *)member = b;
		return NULL;
	}
	case K_UINT: {
		uint64_t u;
		if (parse_uint(v, &u) < 0 || u < k->min || u > k->max) {
			snprintf(why, whylen, "'%s' wants a number from %llu to %llu, not '%.64s'",
				 k->name, (unsigned long long)k->min, (unsigned long long)k->max,
				 v);
			return why;
		}
		*(uint64_t *)member = u;
		if (member == &c->sim_delay_ms)
			c->sim_delay_set = true;
		return NULL;
	}
	}
	return "internal error";
}

/* ---- files ------------------------------------------------------------------------------- */

int conf_parse(struct vmd_conf *c, const char *text, size_t len, const char *fname,
	       struct conf_diag *diag)
{
	size_t errors_before = diag->n_errors;
	int seen[N_KEYS] = {0}; /* line where each key was set */
	const char *p = text, *end = text + len;
	for (int line = 1; p < end; line++) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		/* Lengths as size_t throughout: gcc -O2 cannot prove le >= p after le--. */
		size_t linelen = (size_t)((eol ? eol : end) - p);
		if (linelen > 0 && p[linelen - 1] == '\r')
			linelen--;
		const char *le = p + linelen;
		if (memchr(p, '\0', linelen)) {
			diag_error(diag, fname, line, "a NUL byte");
			p = next;
			continue;
		}
		const char *s = skip_blanks(p, le);
		if (s == le || *s == '#') {
			p = next;
			continue;
		}
		const char *ks = s;
		while (s < le && ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
				  *s == '_'))
			s++;
		int klen = (int)(s - ks);
		s = skip_blanks(s, le);
		if (klen == 0 || s == le || *s != '=') {
			diag_error(diag, fname, line, "expected 'key = value', got '%.*s'",
				   (int)(le - ks > 80 ? 80 : le - ks), ks);
			p = next;
			continue;
		}
		size_t ki = 0;
		while (ki < N_KEYS && (strlen(keys[ki].name) != (size_t)klen ||
				       strncmp(keys[ki].name, ks, (size_t)klen) != 0))
			ki++;
		if (ki == N_KEYS) {
			diag_error(diag, fname, line, "unknown key '%.*s'", klen > 64 ? 64 : klen,
				   ks);
			p = next;
			continue;
		}
		if (seen[ki]) {
			diag_error(diag, fname, line, "'%s' is already set on line %d",
				   keys[ki].name, seen[ki]);
			p = next;
			continue;
		}
		seen[ki] = line;
		char **items = NULL;
		size_t n = 0;
		char why[512];
		const char *bad = split_value(s + 1, le, &items, &n);
		if (!bad)
			bad = apply(c, &keys[ki], items, n, why, sizeof why);
		if (bad)
			diag_error(diag, fname, line, "%s: %s", keys[ki].name, bad);
		free_list(items, n);
		p = next;
	}
	return (int)(diag->n_errors - errors_before);
}

int conf_load(struct vmd_conf *c, const char *path, bool must_exist, struct conf_diag *diag)
{
	size_t len = 0;
	char *text = read_file(path, VMD_CONF_MAX_SIZE, &len);
	if (!text) {
		if (errno == ENOENT && !must_exist)
			return 0;
		if (errno == EFBIG)
			diag_error(diag, path, 0, "larger than %d bytes", VMD_CONF_MAX_SIZE);
		else
			diag_error(diag, path, 0, "cannot read: %s", strerror(errno));
		return 1;
	}
	int r = conf_parse(c, text, len, path, diag);
	free(text);
	return r;
}

void conf_check_host(struct vmd_conf *c, struct conf_diag *diag)
{
	for (size_t i = 0; i < c->n_storage_roots; i++) {
		struct stat st;
		if (stat(c->storage_roots[i], &st) < 0)
			diag_warning(diag, "storage root %s: %s", c->storage_roots[i],
				     strerror(errno));
		else if (!S_ISDIR(st.st_mode))
			diag_warning(diag, "storage root %s is not a directory",
				     c->storage_roots[i]);
	}
	struct group *g = getgrnam(c->group);
	c->group_found = g != NULL;
	c->group_gid = g ? g->gr_gid : 0;
	if (!g)
		diag_warning(diag, "group '%s' does not exist: only root may change guests",
			     c->group);
}

char *conf_ro_socket(const struct vmd_conf *c, const char *socket_path)
{
	if (c->ro_socket)
		return c->ro_socket[0] ? xstrdup(c->ro_socket) : NULL;
	size_t n = strlen(socket_path);
	if (n > 6 && strcmp(socket_path + n - 5, ".sock") == 0 && socket_path[n - 6] != '/')
		return xasprintf("%.*s-ro.sock", (int)(n - 5), socket_path);
	return xasprintf("%s-ro", socket_path);
}

static const struct vmd_conf *active;

void conf_set_active(const struct vmd_conf *c)
{
	active = c;
}

const struct vmd_conf *conf_active(void)
{
	static struct vmd_conf defaults;
	static bool defaults_ready;
	if (active)
		return active;
	if (!defaults_ready) {
		conf_init(&defaults);
		defaults_ready = true;
	}
	return &defaults;
}
