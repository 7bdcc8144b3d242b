/*
 * migrate.c: live migration over SSH, both halves (the protocol is in migrate.h).
 *
 * Everything runs on the loop. The backend does the heavy part asynchronously (libxl: its save
 * helper writes the stream, the builder thread's restore reads it); here are the ssh process,
 * the lines of the protocol, and a relay on the source between the backend's end of a socket
 * pair and ssh, which counts the bytes for the job's progress and lets a cancel break the
 * stream off at once (the backend's send then fails, and the guest runs on).
 */
#include "migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "backend.h"
#include "conf.h"
#include "daemon.h"
#include "job.h"
#include "log.h"
#include "ops.h"
#include "rpc.h"
#include "server.h"
#include "ssh.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

#define LINE_MAX_BYTES 65536
#define RELAY_HIGH (512u << 10) /* ssh's queue over this: stop reading the backend */
#define RELAY_LOW (128u << 10)  /* ... and read again below this */
#define TICK_MS 200
#define GO_WAIT_S 120.0         /* the target waits this long for "go" after "restored" */
#define SSH_STDERR_MAX 2048
#define INCOMING_SUFFIX "--incoming"
#define AWAY_SUFFIX "--migratedaway"

enum phase {
	/* source */
	OUT_ASK,          /* vm.migrate_incoming sent, waiting for its reply */
	OUT_SEND,         /* the backend writes the stream */
	OUT_RESTORE,      /* sent (the domain is suspended); waiting for "restored" */
	OUT_GO,           /* "go" sent; waiting for "running" */
	OUT_DESTROY,      /* the target runs the guest; our domain is being destroyed */
	/* target */
	IN_RECEIVE,       /* the backend builds the domain from the stream */
	IN_WAIT_GO,       /* "restored" sent */
	IN_CLOSE,         /* "running" (or an error) being written; then the end */
};

struct migration {
	struct migration *next;
	struct daemon *d;
	bool out;
	enum phase phase;
	char *name;
	int fd;                    /* the stream socket: ours */
	struct bufferevent *bev;   /* lines on fd (source: also the relay's output) */
	struct err err;            /* the first failure */
	bool failing;

	/* source */
	struct rpc_req *req;
	struct vm *vm;
	int64_t domid;
	enum vm_state before;      /* running or paused */
	char target[300];          /* ssh://user@host:port, for messages */
	bool live, self;
	pid_t ssh_pid;
	int err_fd;                /* ssh's stderr */
	struct event *err_ev;
	char ssh_err[SSH_STDERR_MAX + 1];
	size_t ssh_err_len;
	int lx[2];                 /* [0] the relay reads, [1] the backend writes */
	struct event *relay;       /* lx[0] readable (relay_readable) */
	bool relay_paused;         /* ssh's queue is full: not reading */
	bool sending;              /* the backend's send is outstanding */
	bool sending_broke;        /* it came back failed: the domain may be suspended */
	bool target_answered;      /* an error line came: the target's domain is gone */
	bool sent;                 /* ... and it succeeded: the domain is suspended */
	bool renamed;
	bool go_sent;
	uint64_t bytes, total;
	struct job *job;
	struct event *tick;
	bool sent_any;             /* job.progress: what went last, and when */
	uint64_t sent_done;
	enum phase sent_phase;
	double sent_at;
	double t0, t_sent, t_running;
	int64_t new_domid;

	/* target */
	struct vm_config cfg;
	bool reserved;
	bool receiving;
	int64_t in_domid;
	struct event *timer;
};

static void out_fail(struct migration *m);

/* ---- shared ------------------------------------------------------------------------------ */

static void list_remove(struct migration *m)
{
	for (struct migration **pp = &m->d->migrations; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			return;
		}
}

static void send_line(struct migration *m, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text || !m->bev) {
		free(text);
		return;
	}
	evbuffer_add(bufferevent_get_output(m->bev), text, strlen(text));
	evbuffer_add(bufferevent_get_output(m->bev), "\n", 1);
	free(text);
}

/* The next complete line of m->bev as JSON (NULL: none yet, or *bad set: not JSON). */
static json_t *next_line(struct migration *m, bool *bad)
{
	struct evbuffer *in = bufferevent_get_input(m->bev);
	size_t len;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	*bad = false;
	if (!line) {
		if (evbuffer_get_length(in) > LINE_MAX_BYTES)
			*bad = true;
		return NULL;
	}
	json_t *j = json_loadb(line, len, 0, NULL);
	free(line);
	if (!json_is_object(j)) {
		json_decref(j);
		*bad = true;
		return NULL;
	}
	return j;
}

static void fail(struct migration *m, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct migration *m, int code, const char *fmt, ...)
{
	if (m->err.code)
		return; /* the first failure wins */
	va_list ap;
	va_start(ap, fmt);
	err_setv(&m->err, code, fmt, ap);
	va_end(ap);
}

/* ---- source: ssh ---------------------------------------------------------------------------- */

static void ssh_err_cb(evutil_socket_t fd, short what, void *arg)
{
	struct migration *m = arg;
	char buf[512];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n <= 0) {
		event_del(m->err_ev);
		return;
	}
	size_t room = SSH_STDERR_MAX - m->ssh_err_len;
	if ((size_t)n > room)
		n = (ssize_t)room;
	memcpy(m->ssh_err + m->ssh_err_len, buf, (size_t)n);
	m->ssh_err_len += (size_t)n;
	m->ssh_err[m->ssh_err_len] = '\0';
}

/* ssh's last words (its stderr's last line), or "". */
static const char *ssh_said(struct migration *m)
{
	char *s = m->ssh_err;
	while (m->ssh_err_len > 0 && (s[m->ssh_err_len - 1] == '\n' || s[m->ssh_err_len - 1] == '\r'))
		s[--m->ssh_err_len] = '\0';
	char *nl = strrchr(s, '\n');
	return nl ? nl + 1 : s;
}

static int ssh_spawn(struct migration *m, const struct ssh_target *t, struct err *err)
{
	const struct vmd_conf *conf = conf_active();
	struct ssh_opts o = {
		.command = conf ? conf->ssh_command : NULL,
		.remote_vmctl = conf ? conf->remote_vmctl : NULL,
		.batch = true, /* no one to answer a prompt */
	};
	static char *proxy[] = {"proxy"};
	const char *why;
	char **argv = ssh_argv(t, &o, proxy, 1, &why);
	if (!argv) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "cannot reach %s: %s", m->target, why);
		return -1;
	}
	int sv[2], ep[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		err_set(err, VMD_ERR_IO, "socketpair: %s", strerror(errno));
		ssh_argv_free(argv);
		return -1;
	}
	if (pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0) {
		err_set(err, VMD_ERR_IO, "pipe: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		ssh_argv_free(argv);
		return -1;
	}
	int fds[3] = {sv[1], sv[1], ep[1]};
	int e = spawn_child(argv[0], argv, true, fds, &m->ssh_pid);
	ssh_argv_free(argv);
	close(sv[1]);
	close(ep[1]);
	if (e) {
		close(sv[0]);
		close(ep[0]);
		m->ssh_pid = 0;
		err_set(err, VMD_ERR_IO, "cannot run ssh: %s", strerror(e));
		return -1;
	}
	m->fd = sv[0];
	m->err_fd = ep[0];
	m->err_ev = event_new(m->d->base, ep[0], EV_READ | EV_PERSIST, ssh_err_cb, m);
	event_add(m->err_ev, NULL);
	return 0;
}

/* Ends ssh: it has a moment to go by itself once its stdin is closed. */
static void ssh_reap(struct migration *m)
{
	if (m->ssh_pid <= 0)
		return;
	for (int i = 0; i < 50; i++) {
		pid_t w = waitpid(m->ssh_pid, NULL, WNOHANG);
		if (w == m->ssh_pid || (w < 0 && errno != EINTR)) {
			m->ssh_pid = 0;
			return;
		}
		usleep(20000);
	}
	kill(-m->ssh_pid, SIGKILL);
	waitpid(m->ssh_pid, NULL, 0);
	m->ssh_pid = 0;
}

/* ---- source: the end ------------------------------------------------------------------------ */

static void free_cb(evutil_socket_t fd, short what, void *arg)
{
	free(arg);
}

/* The struct itself goes from a fresh loop iteration: the callback that ended it may still
 * look at it (its bev is NULL by then). */
static bool stopping; /* migrate_shutdown: the loop runs no more */

static void relay_close(struct migration *m)
{
	if (m->relay) {
		event_free(m->relay);
		m->relay = NULL;
	}
	if (m->lx[0] >= 0) {
		close(m->lx[0]);
		m->lx[0] = -1;
	}
}

static void free_later(struct migration *m)
{
	m->bev = NULL;
	m->relay = NULL;
	if (stopping) {
		free(m);
		return;
	}
	event_base_once(m->d->base, -1, EV_TIMEOUT, free_cb, m, NULL);
}

static void out_free(struct migration *m)
{
	list_remove(m);
	if (m->tick)
		event_free(m->tick);
	relay_close(m);
	if (m->lx[1] >= 0)
		close(m->lx[1]);
	if (m->bev)
		bufferevent_free(m->bev);
	if (m->fd >= 0)
		close(m->fd);
	ssh_reap(m);
	if (m->err_ev)
		event_free(m->err_ev);
	if (m->err_fd >= 0)
		close(m->err_fd);
	if (m->job)
		job_free(m->job);
	err_clear(&m->err);
	free(m->name);
	free_later(m);
}

static void reply_err(struct migration *m)
{
	if (!m->req)
		return;
	m->req->on_cancel = NULL;
	if (!err_data_str(&m->err, "name"))
		err_add_str(&m->err, "name", m->name);
	rpc_reply_err(m->req, &m->err);
	m->req = NULL;
}

static void destroyed(void *arg, const struct err *err, uint32_t domid)
{
	struct migration *m = arg;
	struct vm *vm = m->vm;
	double now = now_monotonic();
	if (err)
		log_error("%s: destroying the migrated-away domain %u failed: %s", m->name, domid,
			  err->msg);
	if (m->self) {
		vm_migrate_end(vm, m->new_domid, VM_RUNNING, "migrated");
	} else {
		struct err rerr = {0};
		vm_migrate_end(vm, -1, VM_STOPPED, "migrated");
		if (vm_remove(vm, false, NULL, NULL, &rerr) < 0) {
			log_error("%s: migrated, but its definition stays here: %s", m->name,
				  rerr.msg);
			err_clear(&rerr);
		}
	}
	double total = now - m->t0;
	/* From the end of the stream (the guest was suspended just before) to its start there;
	 * without --live it was paused from the start. */
	double down = m->live ? m->t_running - m->t_sent : m->t_running - m->t0;
	log_info("%s: migrated to %s in %.3f s (%" PRIu64 " bytes, down %.3f s)", m->name,
		 m->target, total, m->bytes, down);
	if (m->req) {
		m->req->on_cancel = NULL;
		rpc_reply_result(m->req,
				 json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I}", "name", m->name,
					   "host", m->target, "live", m->live, "domid",
					   (json_int_t)m->new_domid, "bytes", (json_int_t)m->bytes,
					   "total_ms", (json_int_t)(total * 1000 + 0.5),
					   "downtime_ms", (json_int_t)(down * 1000 + 0.5)));
		m->req = NULL;
	}
	out_free(m);
}

/* Runs once the first failure is recorded and nothing of the backend's is outstanding. */
static void out_finish_failure(struct migration *m)
{
	struct vm *vm = m->vm;
	struct err e = {0};
	enum vm_state st = m->before;
	if (m->go_sent && m->phase == OUT_GO && !m->target_answered) {
		/* "go" went out and no answer came: the target may run the guest. Ours stays
		 * suspended; the admin decides. */
		log_error("%s: %s did not confirm the switch; the guest stays suspended here (domain "
			  "%" PRId64 ") and may run there", m->name, m->target, m->domid);
		vm_migrate_end(vm, m->domid, VM_SHUTDOWN, "migrate-failed");
		struct err why = {0};
		err_set(&why, m->err.code, "%s; the guest may run on %s: check there, then destroy "
			"it here (it is suspended) or there", m->err.msg, m->target);
		err_move(&m->err, &why);
		reply_err(m);
		out_free(m);
		return;
	}
	if (m->renamed && be_rename(m->d->be, (uint32_t)m->domid, m->name, &e) < 0) {
		log_error("%s: cannot rename domain %" PRId64 " back: %s", m->name, m->domid, e.msg);
		err_clear(&e);
	}
	if (m->sent || m->sending_broke)
		st = vm_resume_sent(vm, m->domid, st);
	log_warn("%s: migration to %s failed: %s", m->name, m->target, m->err.msg);
	vm_migrate_end(vm, m->domid, st, "migrate-failed");
	reply_err(m);
	out_free(m);
}

/* Records nothing new: ends a migration whose failure is in m->err (waits for the backend's
 * send to come back first: it fails soon once the relay is gone). */
static void out_fail(struct migration *m)
{
	m->failing = true;
	relay_close(m); /* closes its end: the backend's writes fail now */
	if (m->bev && m->phase < OUT_GO) {
		/* closes the socket: ssh ends, and the target sees the end of the stream */
		bufferevent_free(m->bev);
		m->bev = NULL;
	}
	if (m->sending)
		return; /* sent() comes back and finishes */
	out_finish_failure(m);
}

/* ---- source: the steps ---------------------------------------------------------------------- */

static void progress(struct migration *m)
{
	static const char *const phases[] = {
		[OUT_ASK] = "connecting", [OUT_SEND] = "sending memory",
		[OUT_RESTORE] = "target restoring", [OUT_GO] = "switching over",
		[OUT_DESTROY] = "removing the source",
	};
	if (!m->req || !m->job)
		return;
	uint64_t done = m->bytes < m->total ? m->bytes : m->total;
	if (m->phase >= OUT_RESTORE)
		done = m->total;
	/* As job.c does: when something changed, and at least once a second. */
	double now = now_monotonic();
	if (m->sent_any && done == m->sent_done && m->phase == m->sent_phase &&
	    now - m->sent_at < 1.0)
		return;
	m->sent_any = true;
	m->sent_done = done;
	m->sent_phase = m->phase;
	m->sent_at = now;
	rpc_notify(m->req, "job.progress",
		   json_pack("{s:s, s:s, s:I, s:I}", "job", m->job->id, "phase",
			     phases[m->phase], "done", (json_int_t)done, "total",
			     (json_int_t)m->total));
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct migration *m = arg;
	if (m->job && job_cancelled(m->job) && !m->failing && !m->go_sent) {
		fail(m, VMD_ERR_CANCELLED, "migration of '%s' to %s cancelled", m->name, m->target);
		out_fail(m);
		return;
	}
	if (!m->failing)
		progress(m);
}

static void client_gone(struct rpc_req *req, void *arg)
{
	struct migration *m = arg;
	if (m->failing || m->go_sent)
		return; /* past the point of no return: it finishes without a reply */
	fail(m, VMD_ERR_CANCELLED, "migration of '%s' to %s cancelled: the client went away",
	     m->name, m->target);
	out_fail(m);
}

/* The relay: what the backend writes goes to ssh, counted. Read with read(2) in MiBs: a
 * bufferevent reads 4 KiB per turn of the loop (libevent's EVBUFFER_MAX_READ), which slowed
 * a save through the same kind of relay fivefold (save.c). */
static void relay_readable(evutil_socket_t fd, short what, void *arg)
{
	static char buf[1u << 20]; /* the loop's thread only, used within the call */
	struct migration *m = arg;
	struct evbuffer *out = bufferevent_get_output(m->bev);
	while (evbuffer_get_length(out) < RELAY_HIGH) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			fail(m, VMD_ERR_IO, "migration stream: %s", strerror(errno));
			out_fail(m);
			return;
		}
		if (n == 0) { /* the backend is done and its end closed: all relayed */
			relay_close(m);
			return;
		}
		m->bytes += (uint64_t)n;
		evbuffer_add(out, buf, (size_t)n);
	}
	event_del(m->relay); /* ssh's queue is full: ssh_write_cb reads again */
	m->relay_paused = true;
}

static void ssh_write_cb(struct bufferevent *bev, void *arg)
{
	struct migration *m = arg;
	if (m->relay && m->relay_paused &&
	    evbuffer_get_length(bufferevent_get_output(bev)) < RELAY_LOW) {
		m->relay_paused = false;
		event_add(m->relay, NULL);
	}
}

static void sent(void *arg, const struct err *err, uint32_t domid)
{
	struct migration *m = arg;
	m->sending = false;
	close(m->lx[1]); /* the backend's end: the relay sees the end of the stream */
	m->lx[1] = -1;
	if (err) {
		m->sending_broke = true;
		fail(m, err->code ? err->code : VMD_ERR_BACKEND, "sending '%s' to %s: %s",
		     m->name, m->target, err->msg);
	} else {
		m->sent = true;
	}
	if (m->failing || err) {
		out_fail(m);
		return;
	}
	m->t_sent = now_monotonic();
	m->phase = OUT_RESTORE;
	progress(m);
}

static int start_send(struct migration *m)
{
	struct err e = {0};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, m->lx) < 0) {
		fail(m, VMD_ERR_IO, "socketpair: %s", strerror(errno));
		return -1;
	}
	evutil_make_socket_nonblocking(m->lx[0]);
	m->relay = event_new(m->d->base, m->lx[0], EV_READ | EV_PERSIST, relay_readable, m);
	event_add(m->relay, NULL);
	if (be_migrate_send(m->d->be, (uint32_t)m->domid, m->lx[1], m->live, sent, m, &e) < 0) {
		fail(m, e.code ? e.code : VMD_ERR_BACKEND, "sending '%s' to %s: %s", m->name,
		     m->target, e.msg);
		err_clear(&e);
		return -1;
	}
	m->sending = true;
	m->phase = OUT_SEND;
	return 0;
}

/* A line from the target. */
static void out_line(struct migration *m, json_t *j)
{
	json_t *error = json_object_get(j, "error");
	if (error) {
		const char *msg = json_string_value(json_object_get(error, "message"));
		json_int_t code = json_integer_value(json_object_get(error, "code"));
		if (code == 0 || code == VMD_ERR_INTERNAL)
			code = VMD_ERR_BACKEND;
		fail(m, (int)code, "%s refused: %s", m->target, msg ? msg : "(no message)");
		json_t *data = json_object_get(error, "data");
		const char *path = json_string_value(json_object_get(data, "path"));
		if (path && m->err.code == code && code == VMD_ERR_NOT_FOUND)
			err_add_str(&m->err, "path", path); /* the disk the target lacks */
		m->target_answered = true; /* it answered: its domain is gone */
		out_fail(m);
		return;
	}
	switch (m->phase) {
	case OUT_ASK:
		if (!json_is_object(json_object_get(j, "result"))) {
			fail(m, VMD_ERR_BACKEND, "%s: not a vmd answer", m->target);
			out_fail(m);
			return;
		}
		m->self = json_is_true(json_object_get(json_object_get(j, "result"), "self"));
		if (start_send(m) < 0)
			out_fail(m);
		return;
	case OUT_RESTORE:
		if (!json_is_true(json_object_get(j, "restored")))
			break;
		char away[VMD_NAME_MAX + 32];
		struct err e = {0};
		snprintf(away, sizeof away, "%s" AWAY_SUFFIX, m->name);
		if (be_rename(m->d->be, (uint32_t)m->domid, away, &e) < 0) {
			fail(m, VMD_ERR_BACKEND, "renaming domain %" PRId64 ": %s", m->domid, e.msg);
			err_clear(&e);
			out_fail(m);
			return;
		}
		m->renamed = true;
		m->go_sent = true;
		m->phase = OUT_GO;
		send_line(m, json_pack("{s:b}", "go", 1));
		progress(m);
		return;
	case OUT_GO: {
		json_t *domid = json_object_get(j, "domid");
		if (!json_is_true(json_object_get(j, "running")) || !json_is_integer(domid))
			break;
		m->new_domid = json_integer_value(domid);
		m->t_running = now_monotonic();
		m->phase = OUT_DESTROY;
		progress(m);
		bufferevent_free(m->bev); /* and ssh's socket */
		m->bev = NULL;
		struct err de = {0};
		if (be_destroy(m->d->be, (uint32_t)m->domid, destroyed, m, &de) < 0) {
			log_error("%s: cannot destroy the migrated-away domain %" PRId64 ": %s",
				  m->name, m->domid, de.msg);
			err_clear(&de);
			destroyed(m, NULL, (uint32_t)m->domid);
		}
		return;
	}
	default:
		break;
	}
	fail(m, VMD_ERR_BACKEND, "%s: unexpected message in the migration protocol", m->target);
	out_fail(m);
}

static void out_read_cb(struct bufferevent *bev, void *arg)
{
	struct migration *m = arg;
	while (m->bev && !m->failing) {
		bool bad;
		json_t *j = next_line(m, &bad);
		if (bad) {
			fail(m, VMD_ERR_BACKEND, "%s: garbled migration protocol", m->target);
			out_fail(m);
			return;
		}
		if (!j)
			return;
		out_line(m, j);
		json_decref(j);
	}
}

static void out_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct migration *m = arg;
	if (m->failing)
		return;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		const char *said = ssh_said(m);
		if (*said)
			fail(m, VMD_ERR_BACKEND, "cannot migrate to %s: %s", m->target, said);
		else
			fail(m, VMD_ERR_BACKEND, "%s closed the connection", m->target);
		out_fail(m);
	}
}

/* The checks the target makes need what only the source knows: the disks' sizes. */
static json_t *disks_json(const struct vm_config *cfg)
{
	json_t *a = json_array();
	for (int i = 0; i < cfg->dc.num_disks; i++) {
		const libxl_device_disk *disk = &cfg->dc.disks[i];
		const char *file = vm_config_disk_file(disk);
		struct stat st;
		if (disk->is_cdrom || !disk->pdev_path || !*disk->pdev_path)
			continue;
		json_t *o = json_pack("{s:s}", "path", file ? file : disk->pdev_path);
		if (file && stat(file, &st) == 0 && S_ISREG(st.st_mode))
			json_object_set_new(o, "size", json_integer((json_int_t)st.st_size));
		json_array_append_new(a, o);
	}
	return a;
}

void migrate_out(struct rpc_req *req, struct vm *vm, const char *uri, bool live)
{
	struct daemon *d = req->d;
	struct ssh_target t;
	struct err err = {0};
	struct host_info hi = {0};
	const char *why;
	if (ssh_parse_uri(uri, &t, &why) < 0) {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "host"),
				"bad host URI '%.200s': %s (ssh://[user@]host[:port][/socket])",
				uri, why);
		return;
	}
	const char *text = vm_text(vm, &err);
	const struct vm_config *cfg = text ? vm_cfg(vm, &err) : NULL;
	if (!cfg || be_host_info(d->be, &hi, &err) < 0) {
		rpc_reply_err(req, &err);
		return;
	}
	struct migration *m = xcalloc(1, sizeof *m);
	m->d = d;
	m->out = true;
	m->name = xstrdup(vm->name);
	m->vm = vm;
	m->req = req;
	m->live = live;
	m->domid = vm->domid;
	m->new_domid = -1;
	m->before = vm->state == VM_PAUSED ? VM_PAUSED : VM_RUNNING;
	m->fd = m->err_fd = m->lx[0] = m->lx[1] = -1;
	m->total = vm->memory_mib * 1024 * 1024;
	m->t0 = now_monotonic();
	ssh_format_uri(&t, false, m->target, sizeof m->target);
	json_t *params = json_pack("{s:s, s:s, s:s, s:b, s:o}", "xlcfg", text, "hypervisor",
				   hi.hypervisor, "backend", be_name(d->be), "live", live,
				   "disks", disks_json(cfg));
	host_info_finish(&hi);
	if (vm_migrate_begin(vm, &err) < 0) {
		json_decref(params);
		rpc_reply_err(req, &err);
		m->req = NULL;
		free(m->name);
		free(m);
		return;
	}
	m->next = d->migrations;
	d->migrations = m;
	if (ssh_spawn(m, &t, &err) < 0) {
		json_decref(params);
		err_copy(&m->err, &err);
		err_clear(&err);
		out_fail(m);
		return;
	}
	evutil_make_socket_nonblocking(m->fd);
	m->bev = bufferevent_socket_new(d->base, m->fd, BEV_OPT_CLOSE_ON_FREE);
	m->fd = -1; /* the bufferevent's */
	bufferevent_setcb(m->bev, out_read_cb, ssh_write_cb, out_event_cb, m);
	bufferevent_setwatermark(m->bev, EV_WRITE, RELAY_LOW, 0);
	bufferevent_set_max_single_write(m->bev, 1 << 20);
	bufferevent_enable(m->bev, EV_READ | EV_WRITE);
	send_line(m, json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id", 1, "method",
			       "vm.migrate_incoming", "params", params));
	m->job = job_new(d, "vm.migrate", NULL, NULL);
	m->tick = event_new(d->base, -1, EV_PERSIST, tick_cb, m);
	struct timeval tv = {0, TICK_MS * 1000};
	event_add(m->tick, &tv);
	req->on_cancel = client_gone;
	req->cancel_arg = m;
	log_info("%s: migrating to %s%s", m->name, m->target, live ? " (live)" : "");
	progress(m);
}

/* ---- target ------------------------------------------------------------------------------- */

static void in_free(struct migration *m)
{
	list_remove(m);
	if (m->timer)
		event_free(m->timer);
	if (m->bev)
		bufferevent_free(m->bev);
	if (m->fd >= 0)
		close(m->fd);
	if (m->reserved)
		vm_unreserve(m->d, m->name);
	vm_config_finish(&m->cfg);
	err_clear(&m->err);
	free(m->name);
	free_later(m);
}

static void in_destroyed(void *arg, const struct err *err, uint32_t domid)
{
	if (err)
		log_error("destroying the incoming domain %u failed: %s", domid, err->msg);
}

/* A failure on the target: the domain it built goes; the source hears why if it can. */
static void in_fail(struct migration *m)
{
	if (m->receiving) {
		m->failing = true; /* received() comes back and finishes */
		return;
	}
	log_warn("%s: incoming migration failed: %s", m->name, m->err.msg);
	if (m->in_domid >= 0) {
		struct err e = {0};
		if (be_destroy(m->d->be, (uint32_t)m->in_domid, in_destroyed, NULL, &e) < 0) {
			log_error("%s: cannot destroy the incoming domain %" PRId64 ": %s", m->name,
				  m->in_domid, e.msg);
			err_clear(&e);
		}
		m->in_domid = -1;
	}
	if (m->bev) {
		send_line(m, json_pack("{s:{s:i, s:s}}", "error", "code", m->err.code, "message",
				       m->err.msg));
		m->phase = IN_CLOSE;
		return; /* in_write_cb ends it once written */
	}
	in_free(m);
}

static void in_go(struct migration *m)
{
	struct err e = {0};
	struct vm *vm = NULL;
	if (be_rename(m->d->be, (uint32_t)m->in_domid, m->name, &e) < 0) {
		fail(m, e.code ? e.code : VMD_ERR_BACKEND, "renaming the incoming domain: %s",
		     e.msg);
		err_clear(&e);
		in_fail(m);
		return;
	}
	if (!m->self) {
		struct vm_define_opts opts = {.reserved = true};
		vm = vm_define(m->d, &m->cfg, &opts, &e);
		m->reserved = false; /* vm_define ended it, whatever the outcome */
		if (!vm) {
			fail(m, e.code, "%s", e.msg);
			err_clear(&e);
			in_fail(m);
			return;
		}
	}
	if (be_unpause(m->d->be, (uint32_t)m->in_domid, &e) < 0) {
		fail(m, e.code ? e.code : VMD_ERR_BACKEND, "unpausing the incoming domain: %s",
		     e.msg);
		err_clear(&e);
		if (vm) {
			struct err r = {0};
			vm_remove(vm, false, NULL, NULL, &r);
			err_clear(&r);
		}
		in_fail(m);
		return;
	}
	if (vm)
		vm_migrated_in(vm, (uint32_t)m->in_domid);
	log_info("%s: migrated in, running as domain %" PRId64, m->name, m->in_domid);
	send_line(m, json_pack("{s:b, s:I}", "running", 1, "domid", (json_int_t)m->in_domid));
	m->in_domid = -1; /* the guest's now */
	m->phase = IN_CLOSE;
}

static void in_read_cb(struct bufferevent *bev, void *arg)
{
	struct migration *m = arg;
	if (m->phase != IN_WAIT_GO)
		return;
	bool bad;
	json_t *j = next_line(m, &bad);
	if (!j && !bad)
		return;
	if (j && json_is_true(json_object_get(j, "go"))) {
		json_decref(j);
		in_go(m);
		return;
	}
	json_decref(j);
	fail(m, VMD_ERR_BACKEND, "unexpected message in the migration protocol");
	in_fail(m);
}

static void in_write_cb(struct bufferevent *bev, void *arg)
{
	struct migration *m = arg;
	if (m->phase == IN_CLOSE)
		in_free(m);
}

static void in_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct migration *m = arg;
	if (m->phase == IN_CLOSE) {
		in_free(m);
		return;
	}
	fail(m, VMD_ERR_BACKEND, "the source went away before the switch");
	bufferevent_free(m->bev);
	m->bev = NULL;
	in_fail(m);
}

static void go_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct migration *m = arg;
	if (m->phase != IN_WAIT_GO)
		return;
	fail(m, VMD_ERR_TIMEOUT, "no word from the source for %.0f s after the restore",
	     GO_WAIT_S);
	in_fail(m);
}

static void received(void *arg, const struct err *err, uint32_t domid)
{
	struct migration *m = arg;
	m->receiving = false;
	if (!err)
		m->in_domid = domid;
	else
		fail(m, err->code ? err->code : VMD_ERR_BACKEND, "restoring '%s': %s", m->name,
		     err->msg);
	evutil_make_socket_nonblocking(m->fd);
	m->bev = bufferevent_socket_new(m->d->base, m->fd, BEV_OPT_CLOSE_ON_FREE);
	m->fd = -1; /* the bufferevent's */
	bufferevent_setcb(m->bev, in_read_cb, in_write_cb, in_event_cb, m);
	bufferevent_enable(m->bev, EV_READ | EV_WRITE);
	if (m->err.code) {
		in_fail(m);
		return;
	}
	m->phase = IN_WAIT_GO;
	send_line(m, json_pack("{s:b}", "restored", 1));
	m->timer = evtimer_new(m->d->base, go_timeout, m);
	struct timeval tv = {(time_t)GO_WAIT_S, 0};
	evtimer_add(m->timer, &tv);
}

/* Is there a bridge of that name on this host? */
static bool bridge_exists(const char *br)
{
	char p[128];
	struct stat st;
	snprintf(p, sizeof p, "/sys/class/net/%s/bridge", br);
	return stat(p, &st) == 0;
}

/* What the target checks before it takes the stream. 0, or -1 with err. */
static int in_check(struct rpc_req *req, struct migration *m, struct err *err)
{
	struct daemon *d = req->d;
	const char *backend = rpc_param_str(req, "backend");
	const char *hv = rpc_param_str(req, "hypervisor");
	struct host_info hi = {0};
	if (strcmp(backend, be_name(d->be)) != 0) {
		err_set(err, VMD_ERR_BAD_STATE, "this host runs the %s backend, the source %s",
			be_name(d->be), backend);
		return -1;
	}
	if (be_host_info(d->be, &hi, err) < 0)
		return -1;
	bool same = strcmp(hv, hi.hypervisor) == 0;
	if (!same)
		err_set(err, VMD_ERR_BAD_STATE, "this host runs %s, the source %s: vmd migrates "
			"between equal versions only", hi.hypervisor, hv);
	host_info_finish(&hi);
	if (!same)
		return -1;
	/* The disks: shared storage or copies at the same paths, as xl expects them. */
	json_t *disks = json_object_get(req->params, "disks"), *disk;
	size_t i;
	json_array_foreach(disks, i, disk) {
		const char *path = json_string_value(json_object_get(disk, "path"));
		json_t *size = json_object_get(disk, "size");
		struct stat st;
		if (!path) {
			err_set(err, VMD_ERR_INVALID_PARAMS, "disks[%zu]: no path", i);
			return -1;
		}
		if (stat(path, &st) < 0) {
			err_set(err, VMD_ERR_NOT_FOUND, "disk %s: %s on this host", path,
				strerror(errno));
			err_add_str(err, "path", path);
			return -1;
		}
		if (json_is_integer(size) && (!S_ISREG(st.st_mode) ||
					      (json_int_t)st.st_size != json_integer_value(size))) {
			err_set(err, VMD_ERR_BAD_STATE, "disk %s: %lld bytes here, %lld on the "
				"source: not the same image", path, (long long)st.st_size,
				(long long)json_integer_value(size));
			return -1;
		}
	}
	if (strcmp(be_name(d->be), "sim") != 0) {
		for (int n = 0; n < m->cfg.dc.num_nics; n++) {
			const char *br = m->cfg.dc.nics[n].bridge;
			if (br && *br && !bridge_exists(br)) {
				err_set(err, VMD_ERR_NOT_FOUND, "vif %d: no bridge %s on this host", n,
					br);
				return -1;
			}
		}
	}
	/* The name: free, or this very guest migrating from here (ssh://localhost). */
	struct vm *vm = vm_find(d, m->name);
	if (vm) {
		if (memcmp(vm->uuid, m->cfg.uuid, 16) != 0 || vm->state != VM_MIGRATING) {
			err_set(err, VMD_ERR_EXISTS, "this host has a guest named '%s' already",
				m->name);
			return -1;
		}
		m->self = true;
		return 0;
	}
	if (vm_reserve(d, m->name, err) < 0)
		return -1;
	m->reserved = true;
	return 0;
}

void migrate_in(struct rpc_req *req)
{
	struct daemon *d = req->d;
	struct err err = {0};
	if (req->batch || !req->id) {
		/* Its reply turns the connection into a stream: it must be the only answer. */
		rpc_reply_error(req, VMD_ERR_INVALID_REQUEST, NULL,
				"vm.migrate_incoming is a request of its own, not in a batch");
		return;
	}
	const char *text = rpc_param_str(req, "xlcfg");
	struct migration *m = xcalloc(1, sizeof *m);
	m->d = d;
	m->fd = -1;
	m->in_domid = -1;
	vm_config_init(&m->cfg);
	if (config_parse(text, json_string_length(json_object_get(req->params, "xlcfg")),
			 "migrating config", NULL, &m->cfg, &err) < 0 ||
	    ops_check_config_access(req, &m->cfg, &err) < 0) {
		rpc_reply_err(req, &err);
		in_free(m);
		return;
	}
	m->name = xstrdup(m->cfg.name);
	if (!m->cfg.has_uuid) {
		err_set(&err, VMD_ERR_INVALID_PARAMS, "the config has no uuid");
		rpc_reply_err(req, &err);
		in_free(m);
		return;
	}
	if (in_check(req, m, &err) < 0) {
		if (!err_data_str(&err, "name"))
			err_add_str(&err, "name", m->name);
		rpc_reply_err(req, &err);
		in_free(m);
		return;
	}
	m->next = d->migrations;
	d->migrations = m;
	struct conn *c = req->conn;
	rpc_reply_result(req, json_pack("{s:b, s:b}", "ready", 1, "self", m->self));
	m->fd = c ? conn_take_socket(c) : -1;
	if (m->fd < 0) {
		log_warn("%s: incoming migration: cannot take the connection: %s", m->name,
			 strerror(errno));
		in_free(m);
		return;
	}
	char incoming[VMD_NAME_MAX + 32];
	snprintf(incoming, sizeof incoming, "%s" INCOMING_SUFFIX, m->name);
	char *record = vm_record(m->name, m->cfg.uuid);
	m->phase = IN_RECEIVE;
	int r = be_migrate_receive(d->be, &m->cfg, incoming, record, m->fd, received, m, &err);
	free(record);
	if (r < 0) {
		log_warn("%s: incoming migration refused by the backend: %s", m->name, err.msg);
		err_copy(&m->err, &err);
		err_clear(&err);
		/* Tell the source on the stream: it reads our lines. */
		evutil_make_socket_nonblocking(m->fd);
		m->bev = bufferevent_socket_new(d->base, m->fd, BEV_OPT_CLOSE_ON_FREE);
		m->fd = -1; /* the bufferevent's */
		bufferevent_setcb(m->bev, NULL, in_write_cb, in_event_cb, m);
		bufferevent_enable(m->bev, EV_WRITE);
		in_fail(m);
		return;
	}
	m->receiving = true;
	log_info("%s: receiving a migration%s", m->name, m->self ? " from this host" : "");
}

void migrate_shutdown(struct daemon *d)
{
	stopping = true;
	while (d->migrations) {
		struct migration *m = d->migrations;
		if (m->out) {
			if (!m->err.code)
				err_set(&m->err, VMD_ERR_CANCELLED, "vmd is stopping");
			if (m->sent || m->sending) {
				struct err e = {0};
				if (m->renamed)
					be_rename(d->be, (uint32_t)m->domid, m->name, &e);
				err_clear(&e);
				be_migrate_resume(d->be, (uint32_t)m->domid, &e);
				err_clear(&e);
			}
			reply_err(m);
			vm_migrate_end(m->vm, m->domid, m->before, "migrate-failed");
			out_free(m);
		} else {
			in_free(m);
		}
	}
}
