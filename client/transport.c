/*
 * transport.c: the connection to vmd (see transport.h), in two layers. A kind of connection
 * (struct kind) only moves bytes: it connects, reads, writes and hangs up. Above it, the same
 * for every kind: the line framing with its size limit, requests with their ids and the
 * matching of responses, and the handing out of notifications. A second kind (ssh) is
 * another struct kind with its open function, chosen in transport_open; nothing above the
 * bytes changes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "remote.h"
#include "transport.h"
#include "util.h"
#include "vmd-proto.h"

/* Replies may be much larger than requests (vm.list of many guests, vm.config). */
#define MAX_REPLY_LINE (16 * 1024 * 1024)
#define READ_CHUNK 65536

struct kind {
	/* Like read(2): how many bytes, 0 at the end of the stream, -1 with errno. */
	ssize_t (*read)(struct transport *t, void *buf, size_t n);
	/* All n bytes: 0, or -1 with errno. */
	int (*write)(struct transport *t, const void *buf, size_t n);
	/* The stream ended (or broke) before the reply: say why, if the kind knows more than the
	 * transport's own message. NULL: it does not. */
	void (*lost)(struct transport *t);
	void (*hang_up)(struct transport *t);
};

struct transport {
	const struct kind *kind;
	const char *where; /* what we connected to, for messages */
	int fd;            /* the kind's connection: a Unix socket, or a socket pair to ssh */
	struct remote remote; /* ssh: the host */
	pid_t pid;            /* ssh: the ssh process, -1 once reaped */
	char *buf;         /* bytes received but not yet consumed as lines */
	size_t len;
	size_t cap;
	json_int_t next_id;
	struct transport_handlers on;
};

/* ------------------------------------------------------------------------------------------ */
/* The Unix socket */

static ssize_t unix_read(struct transport *t, void *buf, size_t n)
{
	return read(t->fd, buf, n);
}

static int unix_write(struct transport *t, const void *buf, size_t n)
{
	/* MSG_NOSIGNAL: a vanished daemon is an error to report, not a reason to die. */
	return util_write_all(t->fd, buf, n, MSG_NOSIGNAL);
}

static void unix_hang_up(struct transport *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

static const struct kind unix_kind = {
	.read = unix_read,
	.write = unix_write,
	.hang_up = unix_hang_up,
};

static int unix_open(struct transport *t, const char *path)
{
	t->fd = util_connect_unix(path);
	if (t->fd < 0)
		return -1;
	t->kind = &unix_kind;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* ssh: a socket pair to ssh running `vmctl proxy` on the remote host (remote.h); the bytes are
 * read and written as on the Unix socket, only the end of the stream has more to say. */

static void ssh_lost(struct transport *t)
{
	remote_explain(&t->remote, t->pid);
	t->pid = -1; /* reaped */
}

static void ssh_hang_up(struct transport *t)
{
	unix_hang_up(t); /* ssh sees the end of its stdin and ends the session */
	remote_reap(t->pid);
	t->pid = -1;
}

static const struct kind ssh_kind = {
	.read = unix_read,
	.write = unix_write,
	.lost = ssh_lost,
	.hang_up = ssh_hang_up,
};

static int ssh_open(struct transport *t, const char *uri)
{
	if (remote_parse(uri, &t->remote) < 0)
		return -1;
	t->fd = remote_spawn(&t->remote, &t->pid);
	if (t->fd < 0)
		return -1;
	t->kind = &ssh_kind;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Lines, requests and notifications, over any kind */

struct transport *transport_open(const char *socket_path, const char *host,
				 const struct transport_handlers *h)
{
	struct transport *t = calloc(1, sizeof(*t));

	if (!t) {
		util_warn("out of memory");
		return NULL;
	}
	t->where = host ? host : socket_path;
	t->fd = -1;
	t->next_id = 1;
	if (h)
		t->on = *h;
	t->pid = -1;
	if ((host ? ssh_open(t, host) : unix_open(t, socket_path)) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

void transport_close(struct transport *t)
{
	if (!t)
		return;
	t->kind->hang_up(t);
	free(t->buf);
	free(t);
}

/* The connection ended or broke before the reply: the kind's explanation if it has one (ssh:
 * why ssh ended), else the message fmt. */
__attribute__((format(printf, 2, 3))) static void lost(struct transport *t, const char *fmt,
							 ...)
{
	va_list ap;

	if (t->kind->lost) {
		t->kind->lost(t);
		return;
	}
	va_start(ap, fmt);
	util_vwarn(fmt, ap);
	va_end(ap);
}

/*
 * Reads the next message. Returns 0 with *msg set, 1 on a clean end of stream (no partial
 * line pending), -1 after reporting an error. Empty lines are skipped.
 */
static int read_msg(struct transport *t, json_t **msg)
{
	size_t scanned = 0;

	for (;;) {
		/* buf is NULL before the first read: memchr(NULL, ..., 0) is still UB. */
		char *nl = t->len > scanned ? memchr(t->buf + scanned, '\n', t->len - scanned)
					    : NULL;

		if (nl) {
			size_t linelen = (size_t)(nl - t->buf);
			size_t rest = t->len - linelen - 1;
			json_error_t jerr;
			json_t *m = NULL;

			if (linelen > 0)
				m = json_loadb(t->buf, linelen, 0, &jerr);
			memmove(t->buf, nl + 1, rest);
			t->len = rest;
			scanned = 0;
			if (linelen == 0)
				continue;
			if (!m) {
				util_malformed(jerr.text);
				return -1;
			}
			if (!json_is_object(m)) {
				json_decref(m);
				util_malformed("not a JSON object");
				return -1;
			}
			*msg = m;
			return 0;
		}
		scanned = t->len;
		if (t->len > MAX_REPLY_LINE) {
			util_warn("reply from daemon longer than %d bytes", MAX_REPLY_LINE);
			return -1;
		}
		if (t->cap - t->len < READ_CHUNK) {
			size_t ncap = t->cap ? t->cap * 2 : READ_CHUNK * 2;
			char *nbuf = realloc(t->buf, ncap);

			if (!nbuf) {
				util_warn("out of memory");
				return -1;
			}
			t->buf = nbuf;
			t->cap = ncap;
		}
		ssize_t n = t->kind->read(t, t->buf + t->len, t->cap - t->len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			lost(t, "cannot read from daemon: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			if (t->len > 0) {
				lost(t, "daemon closed the connection in the middle of a reply");
				return -1;
			}
			return 1;
		}
		t->len += (size_t)n;
	}
}

/* A message with a method and no id is a notification: true after handing it out. */
static bool notification(struct transport *t, json_t *msg)
{
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *params = json_object_get(msg, "params");

	if (!method || json_object_get(msg, "id"))
		return false;
	if (strcmp(method, "job.progress") == 0) {
		if (t->on.progress)
			t->on.progress(params);
	} else if (strcmp(method, "vm.event") == 0 && t->on.event && json_is_object(params)) {
		t->on.event(params);
	}
	/* Anything else is from a newer daemon and of no interest to this client. */
	return true;
}

static void progress_end(struct transport *t)
{
	if (t->on.progress_end)
		t->on.progress_end();
}

static int send_request(struct transport *t, json_int_t id, const char *method, json_t *params)
{
	json_t *req;
	char *line;
	size_t len;
	int rc;

	req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", id, "method", method,
			"params", params);
	if (!req) {
		util_warn("cannot build request (arguments must be valid UTF-8)");
		return -1;
	}
	line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!line) {
		util_warn("out of memory");
		return -1;
	}
	len = strlen(line);
	if (len > VMD_MAX_LINE) {
		util_warn("request too large (%zu bytes; the daemon accepts at most %d)", len,
			  VMD_MAX_LINE);
		free(line);
		return -1;
	}
	line[len] = '\n'; /* replaces the NUL; the length is known */
	rc = t->kind->write(t, line, len + 1);
	free(line);
	if (rc < 0) {
		lost(t, "cannot send to %s: %s", t->where, strerror(errno));
		return -1;
	}
	return 0;
}

/* Checks the response to request id; the exit status, with *reply set unless it is FAIL. */
static int response(json_t *msg, json_int_t id, json_t **reply)
{
	json_t *rid = json_object_get(msg, "id");
	json_t *res = json_object_get(msg, "result");
	json_t *err = json_object_get(msg, "error");
	const char *version = json_string_value(json_object_get(msg, "jsonrpc"));

	if (!version || strcmp(version, "2.0") != 0)
		return util_malformed("missing \"jsonrpc\": \"2.0\"");
	if (!(json_is_integer(rid) && json_integer_value(rid) == id) &&
	    !(json_is_null(rid) && err)) {
		/* Only one request is outstanding; an error with id null is ours too. */
		return util_malformed("response to a request we did not send");
	}
	if (res && !err) {
		*reply = json_incref(res);
		return VMCTL_EXIT_OK;
	}
	if (err && !res) {
		if (!json_is_object(err) || !json_is_integer(json_object_get(err, "code")) ||
		    !json_is_string(json_object_get(err, "message")))
			return util_malformed("bad error object");
		*reply = json_incref(err);
		return VMCTL_EXIT_DAEMON;
	}
	return util_malformed("need exactly one of result and error");
}

int transport_call(struct transport *t, const char *method, json_t *params, json_t **reply)
{
	json_int_t id = t->next_id++;

	*reply = NULL;
	if (send_request(t, id, method, params) < 0)
		return VMCTL_EXIT_FAIL;
	for (;;) {
		json_t *msg;
		int rc = read_msg(t, &msg);

		if (rc > 0)
			lost(t, "daemon closed the connection");
		if (rc != 0) {
			progress_end(t);
			return VMCTL_EXIT_FAIL;
		}
		if (notification(t, msg)) {
			json_decref(msg);
			continue;
		}
		progress_end(t);
		rc = response(msg, id, reply);
		json_decref(msg);
		return rc;
	}
}

int transport_read(struct transport *t)
{
	json_t *msg;
	int rc = read_msg(t, &msg);

	if (rc != 0)
		return rc;
	notification(t, msg);
	json_decref(msg);
	return 0;
}
