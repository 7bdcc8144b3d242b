/*
 * vmctl: the command-line client of vmd.
 *
 * One request per invocation over the daemon's Unix socket: JSON-RPC 2.0, one compact JSON
 * object per line (proto/vmd-protocol.md). Every verb is one row of the command table below,
 * which also generates the usage text, so the two cannot drift apart. Output is the same
 * human form whether or not stdout is a terminal (scripts use --json, we do not guess); only
 * the progress bar depends on stderr being a terminal.
 *
 * Exit status:
 *   0    success
 *   1    usage error, or transport failure (cannot connect, connection closed, malformed reply)
 *   2    the daemon answered with an error ("vmctl: MESSAGE" on stderr; with --json the error
 *        object is also printed on stdout so scripts can read its code)
 *   130  interrupted by SIGINT (other fatal signals: 128 + signal number); closing the
 *        connection is what tells the daemon to cancel the jobs we started
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "vmd-proto.h"
#include "vmctl.h"

#ifndef VMD_VERSION
#define VMD_VERSION "unknown"
#endif

/* Replies may be much larger than requests (vm.list of many guests, vm.config). */
#define MAX_REPLY_LINE (16 * 1024 * 1024)
/* Guest configuration files; the request line limit (VMD_MAX_LINE) is checked separately. */
#define MAX_CFG_FILE (1024 * 1024)
#define READ_CHUNK 65536
#define MAX_FLAGS 14
/* Commands with more flags show [OPTIONS] in the command list; `vmctl VERB --help`-style
 * usage errors list them all. */
#define SHOWN_FLAGS 4
#define MAX_POS 2

static bool opt_json;
static const char *socket_path;
static bool stderr_tty;
/* Read by the signal handler: a half-drawn progress bar is wiped before dying. */
static volatile sig_atomic_t progress_shown;

void vmctl_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("vmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Returns the exit status of a transport failure, so that callers can return it directly. */
static int malformed(const char *what)
{
	vmctl_warn("malformed reply from daemon: %s", what);
	return VMCTL_EXIT_FAIL;
}

/* ------------------------------------------------------------------------------------------ */
/* Transport */

struct conn {
	int fd;
	char *buf; /* bytes received but not yet consumed as lines */
	size_t len;
	size_t cap;
	json_int_t next_id;
	/* Called for vm.event notifications; NULL ignores them. */
	void (*on_event)(json_t *params);
};

static int conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->next_id = 1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		vmctl_warn("cannot connect to %s: %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		vmctl_warn("socket: %s", strerror(errno));
		return -1;
	}
	/* No EINTR to handle: our only signal handlers exit. */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		vmctl_warn("cannot connect to %s: %s", path, strerror(errno));
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		/* MSG_NOSIGNAL: a vanished daemon is an error to report, not a reason to die. */
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Reads the next message. Returns 0 with *msg set, 1 on a clean end of stream (no partial
 * line pending), -1 after reporting an error. Empty lines are skipped.
 */
static int conn_read_msg(struct conn *c, json_t **msg)
{
	size_t scanned = 0;

	for (;;) {
		/* buf is NULL before the first read: memchr(NULL, ..., 0) is still UB. */
		char *nl = c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned)
					    : NULL;

		if (nl) {
			size_t linelen = (size_t)(nl - c->buf);
			size_t rest = c->len - linelen - 1;
			json_error_t jerr;
			json_t *m = NULL;

			if (linelen > 0)
				m = json_loadb(c->buf, linelen, 0, &jerr);
			memmove(c->buf, nl + 1, rest);
			c->len = rest;
			scanned = 0;
			if (linelen == 0)
				continue;
			if (!m) {
				malformed(jerr.text);
				return -1;
			}
			if (!json_is_object(m)) {
				json_decref(m);
				malformed("not a JSON object");
				return -1;
			}
			*msg = m;
			return 0;
		}
		scanned = c->len;
		if (c->len > MAX_REPLY_LINE) {
			vmctl_warn("reply from daemon longer than %d bytes", MAX_REPLY_LINE);
			return -1;
		}
		if (c->cap - c->len < READ_CHUNK) {
			size_t ncap = c->cap ? c->cap * 2 : READ_CHUNK * 2;
			char *nbuf = realloc(c->buf, ncap);

			if (!nbuf) {
				vmctl_warn("out of memory");
				return -1;
			}
			c->buf = nbuf;
			c->cap = ncap;
		}
		ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			vmctl_warn("cannot read from daemon: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			if (c->len > 0) {
				vmctl_warn("daemon closed the connection in the middle of a reply");
				return -1;
			}
			return 1;
		}
		c->len += (size_t)n;
	}
}

static void print_json_line(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (s) {
		puts(s);
		free(s);
	}
	/* Scripts read these as they come (events, progress); and a signal exits via _exit. */
	fflush(stdout);
}

/* ------------------------------------------------------------------------------------------ */
/* Progress of long jobs */

static void fmt_amount(double done, double total, char *buf, size_t sz)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double scale = total > done ? total : done;
	double div = 1;
	int u = 0;

	while (scale >= 1024 && u < 5) {
		scale /= 1024;
		div *= 1024;
		u++;
	}
	if (total > 0)
		snprintf(buf, sz, "%.1f/%.1f %s", done / div, total / div, units[u]);
	else
		snprintf(buf, sz, "%.1f %s", done / div, units[u]);
}

static void progress_show(json_t *params)
{
	enum { WIDTH = 30 };
	char bar[WIDTH + 1];
	char amount[64];
	double done, total;
	const char *phase;
	int pct = 0, fill;

	if (opt_json) {
		print_json_line(params);
		return;
	}
	if (!stderr_tty || !json_is_object(params))
		return;
	done = json_number_value(json_object_get(params, "done"));
	total = json_number_value(json_object_get(params, "total"));
	phase = json_string_value(json_object_get(params, "phase"));
	if (total > 0 && done >= 0)
		pct = done >= total ? 100 : (int)(done * 100 / total);
	fill = pct * WIDTH / 100;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, ' ', (size_t)(WIDTH - fill));
	bar[WIDTH] = '\0';
	fmt_amount(done, total, amount, sizeof(amount));
	fprintf(stderr, "\r[%s] %3d%% %s%s%s\033[K", bar, pct, amount, phase ? " " : "",
		phase ? phase : "");
	progress_shown = 1;
}

static void progress_clear(void)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		progress_shown = 0;
	}
}

static void handle_notification(struct conn *c, const char *method, json_t *params)
{
	if (strcmp(method, "job.progress") == 0)
		progress_show(params);
	else if (strcmp(method, "vm.event") == 0 && c->on_event && json_is_object(params))
		c->on_event(params);
	/* Anything else is from a newer daemon and of no interest to this client. */
}

/* Reports a daemon error object; with --json it also goes to stdout for scripts. */
static int report_error(json_t *error)
{
	json_t *code = json_object_get(error, "code");
	const char *message = json_string_value(json_object_get(error, "message"));

	if (!json_is_object(error) || !json_is_integer(code) || !message) {
		malformed("bad error object");
		return VMCTL_EXIT_FAIL;
	}
	if (opt_json)
		print_json_line(error);
	vmctl_warn("%s", message);
	return VMCTL_EXIT_DAEMON;
}

/*
 * Sends one request (params is stolen) and waits for its response, handling notifications
 * that arrive before it. Returns VMCTL_EXIT_OK with *result set (caller decrefs), or an exit
 * status after reporting the failure.
 */
static int rpc_call(struct conn *c, const char *method, json_t *params, json_t **result)
{
	json_int_t id = c->next_id++;
	json_t *req;
	char *line;
	size_t len;
	int rc;

	*result = NULL;
	req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", id, "method", method,
			"params", params);
	if (!req) {
		vmctl_warn("cannot build request (arguments must be valid UTF-8)");
		return VMCTL_EXIT_FAIL;
	}
	line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!line) {
		vmctl_warn("out of memory");
		return VMCTL_EXIT_FAIL;
	}
	len = strlen(line);
	if (len > VMD_MAX_LINE) {
		vmctl_warn("request too large (%zu bytes; the daemon accepts at most %d)", len,
			   VMD_MAX_LINE);
		free(line);
		return VMCTL_EXIT_FAIL;
	}
	line[len] = '\n'; /* replaces the NUL; the length is known */
	rc = write_all(c->fd, line, len + 1);
	free(line);
	if (rc < 0) {
		vmctl_warn("cannot send to %s: %s", socket_path, strerror(errno));
		return VMCTL_EXIT_FAIL;
	}

	for (;;) {
		json_t *msg, *rid, *res, *err;
		const char *m;

		rc = conn_read_msg(c, &msg);
		if (rc > 0)
			vmctl_warn("daemon closed the connection");
		if (rc != 0) {
			progress_clear();
			return VMCTL_EXIT_FAIL;
		}
		rid = json_object_get(msg, "id");
		m = json_string_value(json_object_get(msg, "method"));
		if (m && !rid) {
			handle_notification(c, m, json_object_get(msg, "params"));
			json_decref(msg);
			continue;
		}
		progress_clear();
		res = json_object_get(msg, "result");
		err = json_object_get(msg, "error");
		if (!json_is_string(json_object_get(msg, "jsonrpc")) ||
		    strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") != 0) {
			rc = malformed("missing \"jsonrpc\": \"2.0\"");
		} else if (!(json_is_integer(rid) && json_integer_value(rid) == id) &&
			   !(json_is_null(rid) && err)) {
			/* Only one request is outstanding; an error with id null is ours too. */
			rc = malformed("response to a request we did not send");
		} else if (res && !err) {
			*result = json_incref(res);
			rc = VMCTL_EXIT_OK;
		} else if (err && !res) {
			rc = report_error(err);
		} else {
			rc = malformed("need exactly one of result and error");
		}
		json_decref(msg);
		return rc;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Command table */

struct flag {
	const char *name;    /* long option without the dashes */
	const char *metavar; /* NULL for a boolean flag */
};

struct cmd;

struct args {
	const struct cmd *cmd;
	int npos;
	const char *pos[MAX_POS];
	bool set[MAX_FLAGS];
	const char *val[MAX_FLAGS];
};

struct ctx {
	const struct cmd *cmd;
	const struct args *args;
	struct conn *conn;
};

struct cmd {
	const char *verb;
	const char *method;
	const char *synopsis; /* positional arguments; the flags are appended from flags[] */
	const char *help;
	int min_args, max_args;
	struct flag flags[MAX_FLAGS];
	/* Builds the params object; NULL after reporting a usage error. */
	json_t *(*parse)(const struct args *a);
	/* Prints the result in human form (and in --json form when own_json). */
	int (*print)(const struct ctx *x, json_t *result);
	bool own_json;
	const char *done; /* past tense, for print_vm_action */
};

static void usage_cmd(const struct cmd *c);

static const char *arg_flag_val(const struct args *a, const char *name, bool *set)
{
	for (int i = 0; i < MAX_FLAGS && a->cmd->flags[i].name; i++) {
		if (strcmp(a->cmd->flags[i].name, name) == 0) {
			if (set)
				*set = a->set[i];
			return a->val[i];
		}
	}
	if (set)
		*set = false;
	return NULL;
}

static bool arg_flag(const struct args *a, const char *name)
{
	bool set;

	arg_flag_val(a, name, &set);
	return set;
}

static void usage_error(const struct cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void usage_error(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	fputs("vmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage_cmd(c);
}

/*
 * Splits the words after the verb into positionals and the verb's --flags. -j/--json is
 * accepted anywhere; "--" ends the flags; a lone "-" is a positional (stdin).
 */
static int parse_args(const struct cmd *c, int argc, char **argv, struct args *a)
{
	bool only_pos = false;

	memset(a, 0, sizeof(*a));
	a->cmd = c;
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];

		if (!only_pos && strcmp(s, "--") == 0) {
			only_pos = true;
		} else if (!only_pos && (strcmp(s, "-j") == 0 || strcmp(s, "--json") == 0)) {
			opt_json = true;
		} else if (!only_pos && s[0] == '-' && s[1] == '-') {
			const char *name = s + 2;
			const char *eq = strchr(name, '=');
			size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
			int f;

			for (f = 0; f < MAX_FLAGS && c->flags[f].name; f++) {
				if (strlen(c->flags[f].name) == nlen &&
				    strncmp(c->flags[f].name, name, nlen) == 0)
					break;
			}
			if (f == MAX_FLAGS || !c->flags[f].name) {
				usage_error(c, "unknown option --%.*s", (int)nlen, name);
				return -1;
			}
			if (c->flags[f].metavar) {
				if (eq) {
					a->val[f] = eq + 1;
				} else if (i + 1 < argc) {
					a->val[f] = argv[++i];
				} else {
					usage_error(c, "option --%s needs a value",
						    c->flags[f].name);
					return -1;
				}
			} else if (eq) {
				usage_error(c, "option --%s takes no value", c->flags[f].name);
				return -1;
			}
			a->set[f] = true;
		} else if (!only_pos && s[0] == '-' && s[1] != '\0') {
			usage_error(c, "unknown option %s", s);
			return -1;
		} else {
			if (a->npos == c->max_args) {
				usage_error(c, "too many arguments");
				return -1;
			}
			a->pos[a->npos++] = s;
		}
	}
	if (a->npos < c->min_args) {
		usage_error(c, "missing argument");
		return -1;
	}
	return 0;
}

/* A whole number in [min, max]; -1 (after a usage message) otherwise. */
static int parse_uint_flag(const struct args *a, const char *name, long min, long max, long *out)
{
	const char *s = arg_flag_val(a, name, NULL);
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		usage_error(a->cmd, "--%s: need a whole number of seconds from %ld to %ld", name,
			    min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* Adds key: string to obj; false if the string is not valid UTF-8. */
static bool set_str(const struct args *a, json_t *obj, const char *key, const char *s)
{
	json_t *v = json_string(s);

	if (!v) {
		usage_error(a->cmd, "%s: not valid UTF-8", s);
		return false;
	}
	json_object_set_new(obj, key, v);
	return true;
}

static json_t *params_name(const struct args *a)
{
	json_t *p = json_object();

	if (!set_str(a, p, "name", a->pos[0])) {
		json_decref(p);
		return NULL;
	}
	return p;
}

static json_t *parse_none(const struct args *a)
{
	return json_object();
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Reads at most MAX_CFG_FILE bytes of path ("-": stdin). NULL after reporting. */
static char *read_cfg(const char *path, size_t *len_out)
{
	bool is_stdin = strcmp(path, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(path, "re");
	const char *shown = is_stdin ? "standard input" : path;
	char *buf;
	size_t len = 0;

	if (!f) {
		vmctl_warn("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	/* One byte more than allowed, so that an oversized file can be told apart. */
	buf = malloc(MAX_CFG_FILE + 2);
	if (!buf) {
		vmctl_warn("out of memory");
		goto fail;
	}
	while (len <= MAX_CFG_FILE) {
		size_t n = fread(buf + len, 1, MAX_CFG_FILE + 1 - len, f);

		if (n == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		vmctl_warn("cannot read %s: %s", shown, strerror(errno));
		goto fail;
	}
	if (len > MAX_CFG_FILE) {
		vmctl_warn("%s: file too large (more than %d bytes)", shown, MAX_CFG_FILE);
		goto fail;
	}
	buf[len] = '\0';
	if (!is_stdin)
		fclose(f);
	*len_out = len;
	return buf;
fail:
	free(buf);
	if (!is_stdin)
		fclose(f);
	return NULL;
}

/* create/define FILE: FILE.json is a config object; anything else (and -) is xl.cfg text. */
static json_t *parse_file(const struct args *a)
{
	const char *path = a->pos[0];
	size_t len;
	char *text = read_cfg(path, &len);
	json_t *p = NULL;

	if (!text)
		return NULL;
	if (ends_with(path, ".json")) {
		json_error_t jerr;
		json_t *cfg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

		if (!cfg) {
			vmctl_warn("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		} else if (!json_is_object(cfg)) {
			vmctl_warn("%s: not a JSON object", path);
			json_decref(cfg);
		} else {
			p = json_pack("{s:o}", "config", cfg);
		}
	} else {
		json_t *s = json_stringn(text, len);

		if (!s) {
			vmctl_warn("%s: not valid UTF-8", path);
		} else {
			p = json_pack("{s:o}", "xlcfg", s);
			/* The daemon names the file in its errors ("x.cfg:3: ..."). */
			if (p && strcmp(path, "-") != 0 &&
			    !set_str(a, p, "filename", base_name(path))) {
				json_decref(p);
				p = NULL;
			}
		}
	}
	free(text);
	return p;
}

static json_t *parse_shutdown(const struct args *a)
{
	json_t *p = params_name(a);
	long timeout;

	if (!p)
		return NULL;
	json_object_set_new(p, "wait", json_boolean(arg_flag(a, "wait")));
	if (arg_flag(a, "timeout")) {
		if (parse_uint_flag(a, "timeout", 1, 86400, &timeout) < 0) {
			json_decref(p);
			return NULL;
		}
		json_object_set_new(p, "timeout", json_integer(timeout));
	}
	return p;
}

static json_t *parse_list(const struct args *a)
{
	return json_pack("{s:b}", "all", arg_flag(a, "all"));
}

static json_t *parse_remove(const struct args *a)
{
	json_t *p = params_name(a);

	if (p)
		json_object_set_new(p, "delete_disks", json_boolean(arg_flag(a, "delete-disks")));
	return p;
}

static json_t *parse_autostart(const struct args *a)
{
	const char *v = a->pos[1];
	json_t *p;
	bool on;

	if (strcmp(v, "on") == 0) {
		on = true;
	} else if (strcmp(v, "off") == 0) {
		on = false;
	} else {
		usage_error(a->cmd, "autostart: say on or off, not %s", v);
		return NULL;
	}
	p = params_name(a);
	if (p)
		json_object_set_new(p, "enabled", json_boolean(on));
	return p;
}

/* Seconds as a positive decimal; -1 after a usage message. */
static double console_timeout(const struct args *a)
{
	const char *s = arg_flag_val(a, "timeout", NULL);
	char *end;
	double v;

	if (!s)
		return 0;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e9) {
		usage_error(a->cmd, "--timeout: need a positive number of seconds");
		return -1;
	}
	return v;
}

static json_t *parse_console(const struct args *a)
{
	if (console_timeout(a) < 0)
		return NULL;
	return params_name(a);
}

/* An absolute path: the daemon does not share our working directory. NULL after reporting. */
static char *abs_path(const struct args *a, const char *path)
{
	char *cwd, *out;

	if (path[0] == '/')
		return strdup(path);
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	cwd = getcwd(NULL, 0);
	if (!cwd) {
		usage_error(a->cmd, "%s: cannot make it absolute: %s", path, strerror(errno));
		return NULL;
	}
	if (!*path || strcmp(path, ".") == 0)
		return cwd; /* "." and "./" are the directory itself */
	if (asprintf(&out, "%s/%s", strcmp(cwd, "/") ? cwd : "", path) < 0)
		out = NULL;
	free(cwd);
	return out;
}

static json_t *parse_clone(const struct args *a)
{
	json_t *p = json_object();
	const char *dir = arg_flag_val(a, "disk-dir", NULL);

	if (!set_str(a, p, "source", a->pos[0]) || !set_str(a, p, "name", a->pos[1]))
		goto fail;
	if (dir) {
		char *abs = abs_path(a, dir);
		bool ok = abs && set_str(a, p, "disk_dir", abs);

		free(abs);
		if (!ok)
			goto fail;
	}
	json_object_set_new(p, "start", json_boolean(arg_flag(a, "start")));
	json_object_set_new(p, "sysprep", json_boolean(arg_flag(a, "sysprep")));
	return p;
fail:
	json_decref(p);
	return NULL;
}

/* install NAME: the flags map one to one onto vm.install's params; paths are made absolute
 * and the daemon checks the rest (which combinations make an installer, sizes, limits), so
 * vmctl and scripts get the same answers. */
static json_t *parse_install(const struct args *a)
{
	static const char *const paths[][2] = {
		{ "iso", "iso" }, { "kernel", "kernel" }, { "initrd", "initrd" }, { "disk", "disk" },
	};
	static const char *const strs[][2] = {
		{ "disk-size", "disk_size" }, { "type", "type" }, { "extra", "extra" },
		{ "bridge", "bridge" },
	};
	json_t *p = params_name(a);
	long n;

	if (!p)
		return NULL;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *v = arg_flag_val(a, paths[i][0], NULL);
		char *abs;
		bool ok;

		if (!v)
			continue;
		abs = abs_path(a, v);
		ok = abs && set_str(a, p, paths[i][1], abs);
		free(abs);
		if (!ok)
			goto fail;
	}
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		const char *v = arg_flag_val(a, strs[i][0], NULL);

		if (v && !set_str(a, p, strs[i][1], v))
			goto fail;
	}
	if (arg_flag(a, "memory")) {
		if (parse_uint_flag(a, "memory", 1, 1L << 30, &n) < 0)
			goto fail;
		json_object_set_new(p, "memory", json_integer(n));
	}
	if (arg_flag(a, "vcpus")) {
		if (parse_uint_flag(a, "vcpus", 1, 1L << 20, &n) < 0)
			goto fail;
		json_object_set_new(p, "vcpus", json_integer(n));
	}
	if (arg_flag(a, "no-network"))
		json_object_set_new(p, "network", json_false());
	if (arg_flag(a, "no-vnc"))
		json_object_set_new(p, "vnc", json_false());
	if (arg_flag(a, "no-start"))
		json_object_set_new(p, "start", json_false());
	return p;
fail:
	json_decref(p);
	return NULL;
}

/* disk create PATH SIZE: the daemon parses SIZE ("10G"), so vmctl and scripts agree. */
static json_t *parse_disk_create(const struct args *a)
{
	json_t *p = json_object();
	char *abs = abs_path(a, a->pos[0]);
	bool ok = abs && set_str(a, p, "path", abs) && set_str(a, p, "size", a->pos[1]);

	free(abs);
	if (!ok) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* ------------------------------------------------------------------------------------------ */
/* Output */

static const char *get_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static const char *get_str_or(json_t *o, const char *key, const char *dflt)
{
	const char *s = get_str(o, key);

	return s ? s : dflt;
}

/* "-" for null/missing, the number otherwise; buf must hold 24 bytes. */
static const char *fmt_domid(json_t *v, char *buf, size_t sz)
{
	if (!json_is_integer(v))
		return "-";
	snprintf(buf, sz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}

/* Sizes as people read them: 512 MiB, 4 GiB, 1.5 GiB. */
static void fmt_mib(double mib, char *buf, size_t sz)
{
	static const char *const units[] = { "MiB", "GiB", "TiB", "PiB" };
	int u = 0;

	while (mib >= 1024 && u < 3) {
		mib /= 1024;
		u++;
	}
	if (mib == (double)(long long)mib)
		snprintf(buf, sz, "%lld %s", (long long)mib, units[u]);
	else
		snprintf(buf, sz, "%.1f %s", mib, units[u]);
}

static void fmt_duration(double secs, char *buf, size_t sz)
{
	long long s = secs > 0 ? (long long)secs : 0;
	long long d = s / 86400;

	s %= 86400;
	if (d)
		snprintf(buf, sz, "%lldd %02lld:%02lld:%02lld", d, s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, sz, "%02lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
}

static int print_json(json_t *result)
{
	print_json_line(result);
	return VMCTL_EXIT_OK;
}

static int print_created(const struct ctx *x, json_t *vm)
{
	char buf[24];
	const char *name = get_str(vm, "name");

	if (!name)
		return malformed("no guest name");
	printf("created %s (domid %s)\n", name, fmt_domid(json_object_get(vm, "domid"), buf,
							   sizeof(buf)));
	return VMCTL_EXIT_OK;
}

/* "started NAME (domid 3)", "paused NAME", ...: the verb's past tense from the table. */
static int print_vm_action(const struct ctx *x, json_t *vm)
{
	const char *name = get_str(vm, "name");
	json_t *domid = json_object_get(vm, "domid");

	if (!name)
		return malformed("no guest name");
	if (json_is_integer(domid))
		printf("%s %s (domid %" JSON_INTEGER_FORMAT ")\n", x->cmd->done, name,
		       json_integer_value(domid));
	else
		printf("%s %s\n", x->cmd->done, name);
	return VMCTL_EXIT_OK;
}

static int print_shutdown(const struct ctx *x, json_t *vm)
{
	const char *name = get_str(vm, "name");
	const char *state = get_str(vm, "state");

	if (!name || !state)
		return malformed("no guest name or state");
	if (strcmp(state, "stopped") == 0)
		printf("stopped %s\n", name);
	else
		printf("shutting down %s\n", name);
	return VMCTL_EXIT_OK;
}

static const char *yes_no(json_t *v)
{
	return json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : "-";
}

/* Prints rows of cells (row-major, ncols per row) under headers, columns aligned. */
static void table_print(int ncols, const char *const *headers, const bool *right, char **cells,
			size_t nrows)
{
	size_t width[16] = { 0 };

	for (int c = 0; c < ncols; c++)
		width[c] = strlen(headers[c]);
	for (size_t r = 0; r < nrows; r++)
		for (int c = 0; c < ncols; c++)
			if (strlen(cells[r * ncols + c]) > width[c])
				width[c] = strlen(cells[r * ncols + c]);
	for (size_t r = 0; r <= nrows; r++) {
		for (int c = 0; c < ncols; c++) {
			const char *s = r == 0 ? headers[c] : cells[(r - 1) * ncols + c];
			int w = (int)width[c];

			if (c == ncols - 1 && !right[c])
				printf("%s", s); /* no trailing blanks */
			else
				printf(right[c] ? "%*s" : "%-*s", w, s);
			fputs(c == ncols - 1 ? "\n" : "  ", stdout);
		}
	}
}

static int print_list(const struct ctx *x, json_t *result)
{
	enum { NCOLS = 8 };
	static const char *const headers[NCOLS] = { "NAME",   "DOMID",  "STATE",     "TYPE",
						    "VCPUS",  "MEMORY", "AUTOSTART", "MANAGED" };
	static const bool right[NCOLS] = { false, true, false, false, true, true, false, false };
	json_t *vms = json_object_get(result, "vms");
	size_t n, i;
	char **cells;
	json_t *vm;

	if (!json_is_array(vms))
		return malformed("no \"vms\" array");
	n = json_array_size(vms);
	cells = calloc(n * NCOLS + 1, sizeof(*cells));
	if (!cells) {
		vmctl_warn("out of memory");
		return VMCTL_EXIT_FAIL;
	}
	json_array_foreach(vms, i, vm) {
		char **row = cells + i * NCOLS;
		char dom[24], mem[32] = "-";
		json_t *memory = json_object_get(vm, "memory");
		json_t *vcpus = json_object_get(vm, "vcpus");
		const char *name = get_str(vm, "name");
		const char *state = get_str(vm, "state");
		const char *type = get_str(vm, "type");

		if (json_is_number(memory))
			fmt_mib(json_number_value(memory), mem, sizeof(mem));
		row[0] = strdup(name ? name : "?");
		row[1] = strdup(fmt_domid(json_object_get(vm, "domid"), dom, sizeof(dom)));
		row[2] = strdup(state ? state : "?");
		row[3] = strdup(type ? type : "-");
		if (!json_is_integer(vcpus))
			row[4] = strdup("-");
		else if (asprintf(&row[4], "%" JSON_INTEGER_FORMAT, json_integer_value(vcpus)) < 0)
			row[4] = NULL;
		row[5] = strdup(mem);
		row[6] = strdup(yes_no(json_object_get(vm, "autostart")));
		row[7] = strdup(yes_no(json_object_get(vm, "managed")));
		for (int c = 0; c < NCOLS; c++) {
			if (!row[c]) {
				vmctl_warn("out of memory");
				for (size_t k = 0; k < n * NCOLS; k++)
					free(cells[k]);
				free(cells);
				return VMCTL_EXIT_FAIL;
			}
		}
	}
	table_print(NCOLS, headers, right, cells, n);
	for (i = 0; i < n * NCOLS; i++)
		free(cells[i]);
	free(cells);
	return VMCTL_EXIT_OK;
}

/* Writes one value of vm.info the way a person reads it. */
static void info_value(FILE *f, const char *key, json_t *v)
{
	char buf[64];

	if (json_is_null(v)) {
		fputs("-", f);
	} else if (json_is_boolean(v)) {
		fputs(yes_no(v), f);
	} else if (json_is_number(v) && (strcmp(key, "memory") == 0 ||
					  strcmp(key, "maxmem") == 0)) {
		fmt_mib(json_number_value(v), buf, sizeof(buf));
		fputs(buf, f);
	} else if (json_is_number(v) && strcmp(key, "memory_actual_kib") == 0) {
		fmt_mib(json_number_value(v) / 1024, buf, sizeof(buf));
		fprintf(f, "%" JSON_INTEGER_FORMAT " KiB (%s)",
			(json_int_t)json_number_value(v), buf);
	} else if (json_is_number(v) && strcmp(key, "uptime") == 0) {
		fmt_duration(json_number_value(v), buf, sizeof(buf));
		fputs(buf, f);
	} else if (json_is_number(v) && strcmp(key, "cpu_time") == 0) {
		fprintf(f, "%.1f s", json_number_value(v));
	} else if (json_is_integer(v)) {
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_real(v)) {
		fprintf(f, "%g", json_real_value(v));
	} else if (json_is_string(v)) {
		fputs(json_string_value(v), f);
	} else if (json_is_array(v) && json_array_size(v) == 0) {
		fputs("-", f);
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		fputs(s ? s : "?", f);
		free(s);
	}
}

/* A list of objects (vifs, disks) gets one indented line per element. */
static bool is_object_list(json_t *v)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return false;
	json_array_foreach(v, i, e) {
		if (!json_is_object(e))
			return false;
	}
	return true;
}

static void info_sublist(const char *key, json_t *list)
{
	size_t i;
	json_t *e;

	printf("%s:\n", key);
	json_array_foreach(list, i, e) {
		/* Label each element by what identifies it, then the rest as key=value. */
		const char *label_key = json_object_get(e, "index") ? "index" :
					json_object_get(e, "vdev") ? "vdev" : NULL;
		const char *k;
		json_t *v;
		bool first = true;

		fputs("  ", stdout);
		if (label_key) {
			info_value(stdout, label_key, json_object_get(e, label_key));
			fputs(":", stdout);
			first = false;
		}
		json_object_foreach(e, k, v) {
			if (label_key && strcmp(k, label_key) == 0)
				continue;
			printf("%s%s=", first ? "" : " ", k);
			info_value(stdout, k, v);
			first = false;
		}
		fputs("\n", stdout);
	}
}

/* "key:" padded to width, then the value: the values line up. */
static void info_line(const char *key, json_t *v, int width)
{
	printf("%s:%*s ", key, width - (int)strlen(key) - 1, "");
	info_value(stdout, key, v);
	fputs("\n", stdout);
}

static int print_info(const struct ctx *x, json_t *vm)
{
	/* The identity and state first, in this order; anything else as the daemon sent it. */
	static const char *const order[] = {
		"name", "uuid", "type", "state", "domid", "managed", "autostart", "vcpus",
		"maxvcpus", "memory", "maxmem", "memory_actual_kib", "cpu_time", "uptime",
		"console", "vnc", "install_phase", "on_poweroff", "on_reboot", "on_crash", NULL,
	};
	const char *key;
	json_t *v;
	int width = 0;

	if (!json_is_object(vm) || !get_str(vm, "name"))
		return malformed("no guest name");
	json_object_foreach(vm, key, v) {
		if (!is_object_list(v) && (int)strlen(key) + 1 > width)
			width = (int)strlen(key) + 1;
	}
	for (int i = 0; order[i]; i++) {
		v = json_object_get(vm, order[i]);
		if (v && !is_object_list(v))
			info_line(order[i], v, width);
	}
	json_object_foreach(vm, key, v) {
		bool known = false;

		for (int i = 0; order[i] && !known; i++)
			known = strcmp(order[i], key) == 0;
		if (!known && !is_object_list(v))
			info_line(key, v, width);
	}
	json_object_foreach(vm, key, v) {
		if (is_object_list(v))
			info_sublist(key, v);
	}
	return VMCTL_EXIT_OK;
}

static int print_define(const struct ctx *x, json_t *vm)
{
	const char *name = get_str(vm, "name");

	if (!name)
		return malformed("no guest name");
	printf("defined %s\n", name);
	return VMCTL_EXIT_OK;
}

static int print_remove(const struct ctx *x, json_t *result)
{
	static const char *const lists[] = { "deleted", "kept" };
	const char *name = get_str(result, "name");

	if (!name)
		return malformed("no guest name");
	printf("removed %s\n", name);
	for (int l = 0; l < 2; l++) {
		json_t *paths = json_object_get(result, lists[l]);
		json_t *p;
		size_t i;

		json_array_foreach(paths, i, p) {
			if (json_is_string(p))
				printf("%s %s\n", lists[l], json_string_value(p));
		}
	}
	return VMCTL_EXIT_OK;
}

static int print_install(const struct ctx *x, json_t *result)
{
	json_t *vm = json_object_get(result, "vm");
	json_t *inst = json_object_get(result, "installer");
	const char *name = get_str(vm, "name");
	const char *console = get_str(result, "console");
	const char *vnc = get_str(result, "vnc");
	char dom[32];

	if (!name || !console)
		return malformed("no guest name or console");
	printf("installing %s (%s, domid %s)\n", name, get_str_or(vm, "type", "?"),
	       fmt_domid(json_object_get(vm, "domid"), dom, sizeof(dom)));
	printf("  disk:      %s%s\n", get_str_or(result, "disk", "?"),
	       json_is_true(json_object_get(result, "disk_created")) ? " (new)" : "");
	if (json_is_object(inst)) {
		if (get_str(inst, "iso_kernel"))
			printf("  installer: %s and %s from the ISO (%s)\n", get_str(inst, "iso_kernel"),
			       get_str_or(inst, "iso_ramdisk", "?"), get_str_or(inst, "source", "?"));
		else
			printf("  installer: %s, %s\n", get_str_or(inst, "kernel", "?"),
			       get_str_or(inst, "ramdisk", "?"));
	}
	printf("  console:   vmctl console %s  (%s)\n", name,
	       strcmp(console, "serial") == 0 ? "serial port" : "PV console");
	if (vnc)
		printf("  vnc:       %s\n", vnc);
	printf("When the installer powers the guest off or reboots it, %s boots from its disk%s.\n",
	       name, arg_flag(x->args, "no-start") ? " (it is not started again: --no-start)" : "");
	return VMCTL_EXIT_OK;
}

static int print_clone(const struct ctx *x, json_t *result)
{
	json_t *vm = json_object_get(result, "vm");
	const char *name = get_str(vm, "name");
	json_t *domid = json_object_get(vm, "domid");
	json_t *copied = json_object_get(result, "copied");
	json_t *shared = json_object_get(result, "shared");
	json_t *d;
	size_t i;

	if (!name || !json_is_array(copied) || !json_is_array(shared))
		return malformed("no guest name or disk lists");
	printf("cloned %s as %s", x->args->pos[0], name);
	if (json_is_integer(domid))
		printf(" (started, domid %" JSON_INTEGER_FORMAT ")", json_integer_value(domid));
	fputs(json_is_true(json_object_get(result, "sysprep")) ? " (sysprepped)\n" : "\n",
	      stdout);
	json_array_foreach(copied, i, d) {
		char size[32];

		fmt_mib(json_number_value(json_object_get(d, "bytes")) / (1024.0 * 1024.0), size,
			sizeof(size));
		printf("  %s: %s -> %s (%s, %s)\n", get_str_or(d, "vdev", "?"),
		       get_str_or(d, "source", "?"), get_str_or(d, "target", "?"), size,
		       get_str_or(d, "method", "?"));
	}
	json_array_foreach(shared, i, d)
		printf("  %s: %s (shared)\n", get_str_or(d, "vdev", "?"),
		       get_str_or(d, "target", "?"));
	return VMCTL_EXIT_OK;
}

static int print_disk_create(const struct ctx *x, json_t *result)
{
	const char *path = get_str(result, "path");
	json_t *size = json_object_get(result, "size");
	char buf[32];

	if (!path || !json_is_integer(size))
		return malformed("no path or size");
	fmt_mib((double)json_integer_value(size) / (1024.0 * 1024.0), buf, sizeof(buf));
	printf("created %s (%s, sparse)\n", path, buf);
	return VMCTL_EXIT_OK;
}

static int print_config(const struct ctx *x, json_t *result)
{
	json_t *text = json_object_get(result, "xlcfg");
	size_t len;

	if (!json_is_string(text))
		return malformed("no \"xlcfg\" text");
	len = json_string_length(text);
	fwrite(json_string_value(text), 1, len, stdout);
	if (len > 0 && json_string_value(text)[len - 1] != '\n')
		fputc('\n', stdout);
	return VMCTL_EXIT_OK;
}

static int print_autostart(const struct ctx *x, json_t *result)
{
	const char *name = get_str(result, "name");
	json_t *on = json_object_get(result, "autostart");

	if (!name || !json_is_boolean(on))
		return malformed("no guest name or autostart flag");
	printf("autostart %s %s\n", name, json_is_true(on) ? "on" : "off");
	return VMCTL_EXIT_OK;
}

static int print_version(const struct ctx *x, json_t *result)
{
	json_t *proto = json_object_get(result, "protocol");

	if (!json_is_object(result))
		return malformed("result is not an object");
	if (json_is_integer(proto) && json_integer_value(proto) != VMD_PROTO_VERSION)
		vmctl_warn("warning: daemon speaks protocol %" JSON_INTEGER_FORMAT
			   ", this client %d", json_integer_value(proto), VMD_PROTO_VERSION);
	if (opt_json) {
		json_object_set_new(result, "client", json_string(VMD_VERSION));
		return print_json(result);
	}
	printf("vmctl %s (protocol %d)\n", VMD_VERSION, VMD_PROTO_VERSION);
	printf("vmd %s (protocol ", get_str_or(result, "version", "?"));
	info_value(stdout, "protocol", proto ? proto : json_null());
	printf(", backend %s, hypervisor %s)\n", get_str_or(result, "backend", "?"),
	       get_str_or(result, "hypervisor", "?"));
	return VMCTL_EXIT_OK;
}

static int run_console(const struct ctx *x, json_t *result)
{
	const char *path = get_str(result, "path");
	const char *name = get_str(result, "name");

	if (!path || !*path)
		return malformed("no console path");
	/* The daemon's part is done; the relay talks to the pty directly. */
	conn_close(x->conn);
	return console_attach(name ? name : x->args->pos[0], path, get_str(result, "escape"),
			      console_timeout(x->args));
}

static void print_event(json_t *ev)
{
	json_t *t = json_object_get(ev, "time");
	const char *name = get_str(ev, "name");
	const char *event = get_str(ev, "event");
	const char *state = get_str(ev, "state");
	char when[64] = "-", dom[24];

	if (opt_json) {
		print_json_line(ev);
		return;
	}
	if (json_is_number(t)) {
		time_t secs = (time_t)json_number_value(t);
		struct tm tm;

		if (localtime_r(&secs, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	}
	printf("%s %s %s state=%s domid=%s\n", when, name ? name : "?", event ? event : "?",
	       state ? state : "?", fmt_domid(json_object_get(ev, "domid"), dom, sizeof(dom)));
	fflush(stdout);
}

/* After events.subscribe: one line per vm.event until the daemon closes the connection. */
static int run_events(const struct ctx *x, json_t *result)
{
	for (;;) {
		json_t *msg;
		const char *m;
		int rc = conn_read_msg(x->conn, &msg);

		if (rc > 0)
			return VMCTL_EXIT_OK;
		if (rc < 0)
			return VMCTL_EXIT_FAIL;
		m = get_str(msg, "method");
		if (m && !json_object_get(msg, "id"))
			handle_notification(x->conn, m, json_object_get(msg, "params"));
		json_decref(msg);
		/* With SIGPIPE ignored by our parent, a closed stdout shows only here. */
		if (ferror(stdout)) {
			vmctl_warn("cannot write output: %s", strerror(errno));
			return VMCTL_EXIT_FAIL;
		}
	}
}

static const struct cmd cmds[] = {
	{ "create", "vm.create", "FILE", "define and start a guest (FILE.cfg|FILE.json|- stdin)",
	  1, 1, { { 0 } }, parse_file, print_created, false, NULL },
	{ "define", "vm.define", "FILE", "define a guest without starting it",
	  1, 1, { { 0 } }, parse_file, print_define, false, NULL },
	{ "start", "vm.start", "NAME", "start a defined guest",
	  1, 1, { { 0 } }, params_name, print_vm_action, false, "started" },
	{ "shutdown", "vm.shutdown", "NAME", "ask a guest to shut down (--wait: until stopped)",
	  1, 1, { { "wait", NULL }, { "timeout", "S" } }, parse_shutdown, print_shutdown, false,
	  NULL },
	{ "reboot", "vm.reboot", "NAME", "ask a guest to reboot",
	  1, 1, { { 0 } }, params_name, print_vm_action, false, "rebooting" },
	{ "destroy", "vm.destroy", "NAME", "power a guest off at once (the definition stays)",
	  1, 1, { { 0 } }, params_name, print_vm_action, false, "destroyed" },
	{ "pause", "vm.pause", "NAME", "pause a running guest",
	  1, 1, { { 0 } }, params_name, print_vm_action, false, "paused" },
	{ "unpause", "vm.unpause", "NAME", "resume a paused guest",
	  1, 1, { { 0 } }, params_name, print_vm_action, false, "unpaused" },
	{ "list", "vm.list", "", "list running guests (--all: stopped definitions too)",
	  0, 0, { { "all", NULL } }, parse_list, print_list, false, NULL },
	{ "info", "vm.info", "NAME", "show a guest's details",
	  1, 1, { { 0 } }, params_name, print_info, false, NULL },
	{ "remove", "vm.remove", "NAME", "remove a stopped guest's definition",
	  1, 1, { { "delete-disks", NULL } }, parse_remove, print_remove, false, NULL },
	{ "config", "vm.config", "NAME", "print a guest's configuration as xl.cfg",
	  1, 1, { { "json", NULL } }, params_name, print_config, false, NULL },
	{ "console", "vm.console", "NAME", "attach to a guest's console (--timeout: leave after S)",
	  1, 1, { { "timeout", "S" } }, parse_console, run_console, true, NULL },
	{ "autostart", "vm.autostart", "NAME on|off", "start a guest at host boot, or not",
	  2, 2, { { 0 } }, parse_autostart, print_autostart, false, NULL },
	{ "clone", "vm.clone", "SOURCE NAME",
	  "copy a stopped guest, with its own disk images",
	  2, 2, { { "disk-dir", "DIR" }, { "start", NULL }, { "sysprep", NULL } }, parse_clone,
	  print_clone, false, NULL },
	{ "install", "vm.install", "NAME (--iso FILE | --kernel FILE --initrd FILE)",
	  "make a disk, boot an installer, then the installed system",
	  1, 1, { { "iso", "FILE" }, { "type", "pv|hvm" }, { "kernel", "FILE" },
		  { "initrd", "FILE" }, { "extra", "ARGS" }, { "disk-size", "SIZE" },
		  { "disk", "PATH" }, { "memory", "MIB" }, { "vcpus", "N" }, { "bridge", "BR" },
		  { "no-network", NULL }, { "no-vnc", NULL }, { "no-start", NULL } },
	  parse_install, print_install, false, NULL },
	{ "disk create", "disk.create", "PATH SIZE", "create a sparse raw image (SIZE: 20G, 512M)",
	  2, 2, { { 0 } }, parse_disk_create, print_disk_create, false, NULL },
	{ "events", "events.subscribe", "", "print guest events as they happen",
	  0, 0, { { 0 } }, parse_none, run_events, true, NULL },
	{ "version", "daemon.version", "", "print the versions of vmctl and vmd",
	  0, 0, { { 0 } }, parse_none, print_version, true, NULL },
	{ "help", NULL, "", "show this help", 0, 0, { { 0 } }, NULL, NULL, false, NULL },
	{ 0 },
};

/* full: every flag (a command's own usage); else at most SHOWN_FLAGS (the command list). */
static void synopsis(const struct cmd *c, bool full, char *buf, size_t sz)
{
	size_t n = (size_t)snprintf(buf, sz, "%s%s%s", c->verb, *c->synopsis ? " " : "",
				    c->synopsis);
	int nflags = 0;

	while (nflags < MAX_FLAGS && c->flags[nflags].name)
		nflags++;
	if (!full && nflags > SHOWN_FLAGS) {
		snprintf(buf + n, sz - n, " [OPTIONS]");
		return;
	}
	for (int i = 0; i < nflags && n < sz; i++) {
		n += (size_t)snprintf(buf + n, sz - n, " [--%s%s%s]", c->flags[i].name,
				      c->flags[i].metavar ? " " : "",
				      c->flags[i].metavar ? c->flags[i].metavar : "");
	}
}

static void usage_cmd(const struct cmd *c)
{
	char buf[1024];

	synopsis(c, true, buf, sizeof(buf));
	fprintf(stderr, "usage: vmctl [-j] [-s PATH] %s\n", buf);
}

/* How many words of argv name the verb ("disk create" takes two); 0 if they do not. */
static int verb_words(const char *verb, int argc, char **argv)
{
	const char *space = strchr(verb, ' ');
	size_t n = space ? (size_t)(space - verb) : strlen(verb);

	if (argc < 1 || strlen(argv[0]) != n || strncmp(verb, argv[0], n) != 0)
		return 0;
	if (!space)
		return 1;
	return argc >= 2 && strcmp(space + 1, argv[1]) == 0 ? 2 : 0;
}

/* Explicit help goes to stdout (exit 0); usage after a mistake to stderr (exit 1). */
static void usage(FILE *f)
{
	char buf[256];
	int width = 0;

	for (const struct cmd *c = cmds; c->verb; c++) {
		synopsis(c, false, buf, sizeof(buf));
		if ((int)strlen(buf) > width)
			width = (int)strlen(buf);
	}
	fprintf(f,
		"usage: vmctl [-j] [-s PATH] COMMAND [ARGS...]\n"
		"       vmctl -h | -V\n"
		"\n"
		"options:\n"
		"  -s, --socket PATH  daemon socket (default: $%s, else %s)\n"
		"  -j, --json         print results as compact JSON, one object per line\n"
		"  -h, --help         show this help\n"
		"  -V, --version      print the version of vmctl\n"
		"\n"
		"commands:\n",
		VMD_SOCKET_ENV, VMD_DEFAULT_SOCKET);
	for (const struct cmd *c = cmds; c->verb; c++) {
		synopsis(c, false, buf, sizeof(buf));
		fprintf(f, "  %-*s  %s\n", width, buf, c->help);
	}
	fputs("\n"
	      "In a console, type the escape character (^]) to detach.\n"
	      "Exit status: 0 success; 1 usage error or transport failure (no daemon, connection\n"
	      "closed, malformed reply); 2 error reported by the daemon; 130 interrupted.\n",
	      f);
}

/* A fatal signal: leave the terminal as we found it; the kernel closes the socket. */
static void on_fatal_signal(int sig)
{
	console_restore_on_signal();
	if (progress_shown) {
		ssize_t r = write(STDERR_FILENO, "\r\033[K", 4);

		(void)r;
	}
	_exit(128 + sig);
}

static void setup_signals(void)
{
	/* SIGPIPE too: `vmctl events | head -1` should end quietly, as other tools do. */
	static const int fatal[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };
	struct sigaction sa = { .sa_handler = on_fatal_signal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		struct sigaction old;

		/* An ignored signal stays ignored: `nohup vmctl events &` must survive SIGHUP. */
		if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaction(fatal[i], &sa, NULL);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *cmd;
	struct args args;
	struct conn conn;
	struct ctx ctx;
	json_t *params, *result;
	int opt, rc, words = 0;

	setup_signals();
	stderr_tty = isatty(STDERR_FILENO);
	socket_path = getenv(VMD_SOCKET_ENV);
	if (!socket_path || !*socket_path)
		socket_path = VMD_DEFAULT_SOCKET;
	opterr = 0;
	/* "+": stop at the verb; its own options are parsed from the table. */
	while ((opt = getopt_long(argc, argv, "+s:jhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'j':
			opt_json = true;
			break;
		case 'V':
			printf("vmctl %s (protocol %d)\n", VMD_VERSION, VMD_PROTO_VERSION);
			return VMCTL_EXIT_OK;
		case 'h':
			usage(stdout);
			return VMCTL_EXIT_OK;
		default:
			if (optopt == 's')
				vmctl_warn("option -s needs a socket path");
			else if (optopt)
				vmctl_warn("unknown option -%c", optopt);
			else
				vmctl_warn("unknown option %s", argv[optind - 1]);
			usage(stderr);
			return VMCTL_EXIT_FAIL;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return VMCTL_EXIT_FAIL;
	}
	for (cmd = cmds; cmd->verb; cmd++) {
		words = verb_words(cmd->verb, argc - optind, argv + optind);
		if (words)
			break;
	}
	if (!cmd->verb) {
		vmctl_warn("unknown command %s", argv[optind]);
		usage(stderr);
		return VMCTL_EXIT_FAIL;
	}
	if (!cmd->method) { /* "help" */
		usage(stdout);
		return VMCTL_EXIT_OK;
	}
	if (parse_args(cmd, argc - optind - words, argv + optind + words, &args) < 0)
		return VMCTL_EXIT_FAIL;
	params = cmd->parse(&args);
	if (!params)
		return VMCTL_EXIT_FAIL;
	if (conn_open(&conn, socket_path) < 0) {
		json_decref(params);
		return VMCTL_EXIT_FAIL;
	}
	ctx = (struct ctx){ .cmd = cmd, .args = &args, .conn = &conn };
	if (cmd->print == run_events)
		conn.on_event = print_event;
	rc = rpc_call(&conn, cmd->method, params, &result);
	if (rc == VMCTL_EXIT_OK) {
		if (opt_json && !cmd->own_json)
			rc = print_json(result);
		else
			rc = cmd->print(&ctx, result);
		json_decref(result);
	}
	conn_close(&conn);
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == VMCTL_EXIT_OK) {
		vmctl_warn("cannot write output: %s", strerror(errno));
		rc = VMCTL_EXIT_FAIL;
	}
	return rc;
}
