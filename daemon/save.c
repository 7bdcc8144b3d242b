/*
 * save.c: vm.save and vm.restore (save.h has the file format and the rules).
 *
 * Everything runs on the loop, as migration does (migrate.c): the backend writes or reads its
 * stream asynchronously on its end of a socket pair; the relay here moves it between the
 * other end and the file. Writes to and reads of the file are plain blocking calls of at most
 * 1 MiB: a regular file never makes the loop wait for long, and libevent cannot watch it
 * anyway. The sync and the link of a save's file happen once, at the end, in a worker.
 */
#include "save.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "backend.h"
#include "config.h"
#include "daemon.h"
#include "job.h"
#include "log.h"
#include "ops.h"
#include "rpc.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

#define SAVE_MAGIC "{\"vmd-save\":1,"
#define SAVE_VERSION 1
#define HEADER_MAX (1u << 20)
#define RELAY_CHUNK (256u << 10)
#define RELAY_HIGH (4u << 20) /* restore: the socket's queue is kept about this full */
#define SOCK_BUF (4 << 20)    /* both ends of the pair: few wake-ups per MiB of stream */
#define TICK_MS 200
#define XL_MAGIC "Xen saved domain, xl format\n \0 \r"

struct saving {
	struct saving *next;
	struct daemon *d;
	bool restore;
	struct rpc_req *req;
	struct vm *vm;             /* NULL: a restore that defines the guest at its end */
	char *name;
	char *path;                /* the save file */
	bool managed;
	bool keep_running;         /* save: a checkpoint */
	bool paused;               /* restore: leave it paused */
	int fd;                    /* the file */
	bool tmpfile;              /* save: fd is unnamed (O_TMPFILE) ... */
	char *tmp;                 /* ... or this name, removed unless it becomes path */
	int lx[2];                 /* [0] the relay's end, [1] the backend's */
	struct bufferevent *relay;
	bool busy;                 /* the backend's send or receive is outstanding */
	bool sent, send_broke;     /* save: the send came back (ok / failed) */
	bool eof;                  /* save: the relay saw the end; restore: the file's end read */
	bool syncing;              /* save: the worker syncs and links the file */
	struct event *rev;         /* save: the relay's end (lx[0]) readable */
	bool linked;               /* save: the file is under its name */
	bool failing;
	uint64_t bytes, total;
	const char *phase;
	struct job *job;
	struct event *tick;
	bool sent_any;             /* job.progress: what went last, and when */
	uint64_t sent_done;
	const char *sent_phase;
	double sent_at;
	struct err err;
	int64_t domid;             /* save: the guest's; restore: the one built (-1: none) */
	enum vm_state before;      /* save: running or paused */
	double t0;
	/* restore */
	struct vm_config cfg;
	bool cfg_set;
	bool reserved;
	/* a snapshot's checkpoint (save_checkpoint) */
	save_suspended_fn then;
	void *then_arg;
	bool held;                 /* suspended, the file complete: save_checkpoint_end's turn */
	bool begun;                /* vm_save_begin held the guest */
	json_t *extra;             /* restore: the answer around the restore's, or NULL */
};

static bool stopping; /* save_shutdown: the loop runs no more */

char *save_managed_path(const struct daemon *d, const char *name)
{
	return xasprintf("%s/saves/%s.save", d->state_dir, name);
}

void save_scan(struct daemon *d)
{
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link) {
		char *p = save_managed_path(d, vm->name);
		struct stat st;
		vm->managed_save = stat(p, &st) == 0 && S_ISREG(st.st_mode);
		free(p);
	}
}

/* ---- the end ------------------------------------------------------------------------------ */

static void free_cb(evutil_socket_t fd, short what, void *arg)
{
	free(arg);
}

static void list_remove(struct saving *s)
{
	for (struct saving **pp = &s->d->saves; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			return;
		}
}

static void stop_relay(struct saving *s)
{
	if (s->rev) {
		event_free(s->rev);
		s->rev = NULL;
		close(s->lx[0]); /* the backend's writes fail now */
		s->lx[0] = -1;
	}
	if (s->relay) {
		bufferevent_free(s->relay); /* closes its end: the backend's I/O fails now */
		s->relay = NULL;
	}
}

/* Frees s; the struct itself from a fresh loop iteration (the callback that ended it may
 * still look at it). */
static void saving_free(struct saving *s)
{
	list_remove(s);
	if (s->tick)
		event_free(s->tick);
	stop_relay(s);
	if (s->lx[0] >= 0)
		close(s->lx[0]);
	if (s->lx[1] >= 0)
		close(s->lx[1]);
	if (s->fd >= 0)
		close(s->fd); /* an unnamed file goes with it */
	if (s->tmp)
		unlink(s->tmp);
	if (s->job)
		job_free(s->job);
	if (s->reserved)
		vm_unreserve(s->d, s->name);
	if (s->cfg_set)
		vm_config_finish(&s->cfg);
	json_decref(s->extra);
	err_clear(&s->err);
	free(s->tmp);
	free(s->name);
	free(s->path);
	s->relay = NULL;
	if (stopping) {
		free(s);
		return;
	}
	event_base_once(s->d->base, -1, EV_TIMEOUT, free_cb, s, NULL);
}

/* The data every error of a save or restore carries: the guest, the job, the file. */
static void err_data(struct saving *s)
{
	if (!err_data_str(&s->err, "name") && s->name)
		err_add_str(&s->err, "name", s->name);
	if (s->err.code == VMD_ERR_CANCELLED && s->job)
		err_add_str(&s->err, "job", s->job->id);
	if ((s->err.code == VMD_ERR_NOT_FOUND || s->err.code == VMD_ERR_IO) &&
	    !err_data_str(&s->err, "path"))
		err_add_str(&s->err, "path", s->path); /* which file */
}

static void reply_err(struct saving *s)
{
	if (!s->req)
		return;
	s->req->on_cancel = NULL;
	err_data(s);
	rpc_reply_err(s->req, &s->err);
	s->req = NULL;
}

static void progress(struct saving *s)
{
	if (!s->req || !s->job)
		return;
	uint64_t done = s->bytes < s->total ? s->bytes : s->total;
	double now = now_monotonic();
	if (s->sent_any && done == s->sent_done && s->phase == s->sent_phase &&
	    now - s->sent_at < 1.0)
		return;
	s->sent_any = true;
	s->sent_done = done;
	s->sent_phase = s->phase;
	s->sent_at = now;
	rpc_notify(s->req, "job.progress",
		   json_pack("{s:s, s:s, s:I, s:I}", "job", s->job->id, "phase", s->phase, "done",
			     (json_int_t)done, "total", (json_int_t)s->total));
}

/* ---- save ------------------------------------------------------------------------------- */

static void save_fail(struct saving *s);

static void save_finish_failure(struct saving *s)
{
	enum vm_state st = s->before;
	if (s->sent || s->send_broke)
		st = vm_resume_sent(s->vm, s->domid, st);
	log_warn("%s: save failed: %s", s->name, s->err.msg);
	vm_migrate_end(s->vm, s->domid, st, "save-failed");
	if (s->then) {
		err_data(s);
		s->then(s->then_arg, NULL, &s->err);
	}
	reply_err(s);
	saving_free(s);
}

static void save_fail(struct saving *s)
{
	s->failing = true;
	stop_relay(s);
	if (s->busy)
		return; /* the send comes back (it fails soon: the relay is gone) and finishes */
	save_finish_failure(s);
}

static void save_reply(struct saving *s)
{
	double total = now_monotonic() - s->t0;
	log_info("%s: saved to %s in %.3f s (%" PRIu64 " bytes)%s", s->name, s->path, total,
		 s->bytes, s->keep_running ? ", running on" : "");
	if (s->req) {
		s->req->on_cancel = NULL;
		rpc_reply_result(s->req,
				 json_pack("{s:s, s:s, s:b, s:b, s:I, s:I, s:s}", "name", s->name,
					   "file", s->path, "managed", s->managed, "keep_running",
					   s->keep_running, "bytes", (json_int_t)s->bytes,
					   "total_ms", (json_int_t)(total * 1000 + 0.5), "state",
					   vm_state_name(s->vm->state)));
		s->req = NULL;
	}
	saving_free(s);
}

static void save_destroyed(void *arg, const struct err *err, uint32_t domid)
{
	struct saving *s = arg;
	if (err)
		log_error("%s: destroying the saved domain %u failed: %s", s->name, domid,
			  err->msg);
	if (s->managed)
		s->vm->managed_save = true;
	vm_migrate_end(s->vm, -1, VM_STOPPED, "saved");
	save_reply(s);
}

/* Puts the complete, synced file under its name, never over another file (a managed save
 * replaces its own stale predecessor). 0, or -1 with s->err. */
static int link_into_place(struct saving *s)
{
	int r;
	if (s->tmpfile) {
		char proc[64];
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", s->fd);
		r = linkat(AT_FDCWD, proc, AT_FDCWD, s->path, AT_SYMLINK_FOLLOW);
		if (r < 0 && errno == EEXIST && s->managed && unlink(s->path) == 0)
			r = linkat(AT_FDCWD, proc, AT_FDCWD, s->path, AT_SYMLINK_FOLLOW);
	} else {
		r = s->managed ? rename(s->tmp, s->path) : link(s->tmp, s->path);
		if (r == 0 && !s->managed)
			unlink(s->tmp);
		if (r == 0) {
			free(s->tmp);
			s->tmp = NULL;
		}
	}
	if (r < 0) {
		int e = errno;
		err_first(&s->err, e == EEXIST ? VMD_ERR_EXISTS : VMD_ERR_IO,
			  "cannot create %s: %s", s->path, strerror(e));
		err_add_str(&s->err, "path", s->path);
		return -1;
	}
	fsync_parent_dir(s->path);
	return 0;
}

/* Worker: the file synced and named (a sync of gigabytes must not stop the loop). */
static int sync_work(struct job *j, void *arg)
{
	struct saving *s = arg;
	if (fdatasync(s->fd) < 0) {
		err_first(&s->err, VMD_ERR_IO, "writing %s: %s", s->path, strerror(errno));
		return -1;
	}
	if (link_into_place(s) < 0)
		return -1;
	s->linked = true;
	return 0;
}

static void sync_done(struct job *j, void *arg, int rc)
{
	struct saving *s = arg;
	struct err e = {0};
	s->syncing = false;
	if (rc == 0 && stopping) { /* vmd stops: the guest runs on, without a file */
		unlink(s->path);
		s->linked = false;
		rc = -1;
		err_first(&s->err, VMD_ERR_CANCELLED, "vmd is stopping");
	}
	if (rc < 0) {
		save_fail(s);
		return;
	}
	if (s->then) { /* the domain waits, suspended, for save_checkpoint_end */
		s->held = true;
		s->then(s->then_arg, s, NULL);
		return;
	}
	if (s->keep_running) {
		if (be_migrate_resume(s->d->be, (uint32_t)s->domid, &e) < 0) {
			/* The file is good; the guest stays suspended: say so, keep the state. */
			log_error("%s: checkpoint written, but the domain does not resume: %s",
				  s->name, e.msg);
			vm_migrate_end(s->vm, s->domid, VM_SHUTDOWN, "save-failed");
			err_first(&s->err, VMD_ERR_BACKEND,
				  "checkpoint written to %s, but the guest does not resume: %s",
				  s->path, e.msg);
			err_clear(&e);
			reply_err(s);
			saving_free(s);
			return;
		}
		vm_migrate_end(s->vm, s->domid, s->before, "saved");
		save_reply(s);
		return;
	}
	s->phase = "stopping the domain";
	progress(s);
	if (be_destroy(s->d->be, (uint32_t)s->domid, save_destroyed, s, &e) < 0) {
		log_error("%s: cannot destroy the saved domain %" PRId64 ": %s", s->name,
			  s->domid, e.msg);
		err_clear(&e);
		save_destroyed(s, NULL, (uint32_t)s->domid);
	}
}

/* The stream is all in the file: sync it, name it, then the domain goes (or runs on). */
static void save_complete(struct saving *s)
{
	s->phase = "syncing";
	s->total = s->bytes; /* the stream is all here: its size, not the memory's */
	progress(s);
	s->syncing = true;
	if (job_start(s->job, sync_work, sync_done, s) < 0)
		sync_done(s->job, s, sync_work(s->job, s));
}

/* A cancel (job.cancel, a disconnect) stops the stream at once, until the file is complete.
 * True when it did. */
static bool cancel_now(struct saving *s)
{
	if (s->failing || !s->job || !job_cancelled(s->job) || (!s->restore && s->eof))
		return false;
	err_first(&s->err, VMD_ERR_CANCELLED, "%s of '%s' cancelled",
		  s->restore ? "restore" : "save", s->name);
	if (s->restore) {
		s->failing = true;
		stop_relay(s); /* the receive fails and comes back */
	} else {
		save_fail(s);
	}
	return true;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct saving *s = arg;
	if (s->failing || cancel_now(s))
		return;
	progress(s);
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* The relay: what the backend writes goes into the file, counted. Read with read(2) in
 * MiBs: a bufferevent reads 4 KiB per turn of the loop (libevent's EVBUFFER_MAX_READ), which
 * made a save 5 times as long as xl's under emulation (tests/xen scenario 65). */
static void save_readable(evutil_socket_t fd, short what, void *arg)
{
	static char buf[RELAY_CHUNK * 4]; /* the loop's thread only, used within the call */
	struct saving *s = arg;
	uint64_t this_turn = 0;
	if (cancel_now(s))
		return;
	while (this_turn < 16 * sizeof buf) { /* then the loop's other clients get a turn */
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			err_first(&s->err, VMD_ERR_IO, "save stream: %s", strerror(errno));
			save_fail(s);
			return;
		}
		if (n == 0) { /* the backend is done and its end closed: all of it is here */
			stop_relay(s);
			s->eof = true;
			if (s->sent) /* the end comes after the send's callback closed its end */
				save_complete(s);
			return;
		}
		if (!write_all(s->fd, buf, (size_t)n)) {
			err_first(&s->err, VMD_ERR_IO, "writing %s: %s", s->path, strerror(errno));
			err_add_str(&s->err, "path", s->path);
			save_fail(s);
			return;
		}
		s->bytes += (uint64_t)n;
		this_turn += (uint64_t)n;
	}
}

static void save_sent(void *arg, const struct err *err, uint32_t domid)
{
	struct saving *s = arg;
	s->busy = false;
	close(s->lx[1]); /* the relay sees the end of the stream */
	s->lx[1] = -1;
	if (err) {
		s->send_broke = true;
		err_first(&s->err, err->code ? err->code : VMD_ERR_BACKEND, "saving '%s': %s",
			  s->name, err->msg);
	} else {
		s->sent = true;
	}
	if (s->failing || err) {
		save_fail(s);
		return;
	}
	if (s->eof)
		save_complete(s);
}

static void client_gone(struct rpc_req *req, void *arg)
{
	struct saving *s = arg;
	if (s->job)
		job_cancel(s->job); /* the next read or tick stops it */
}

/* The header line: what a restore needs besides the stream. */
static char *header_line(struct saving *s, const char *text, const char *hypervisor)
{
	char u[UUID_STR_LEN];
	uuid_format(s->vm->uuid, u);
	json_t *h = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:f}", "vmd-save",
			      SAVE_VERSION, "name", s->name, "uuid", u, "backend",
			      be_name(s->d->be), "hypervisor", hypervisor, "xlcfg", text,
			      "memory_mib", (json_int_t)s->vm->memory_mib, "paused",
			      s->before == VM_PAUSED, "saved_at", now_wall());
	/* The key order is fixed (json_pack keeps it; SAVE_MAGIC is its start). */
	char *line = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(h);
	return line;
}

/* Opens the file to write: unnamed in its directory where the file system can. */
static int open_output(struct saving *s, struct err *err)
{
	char *dir = xstrdup(s->path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	s->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (s->fd >= 0) {
		s->tmpfile = true;
		free(dir);
		return 0;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		err_set(err, errno == ENOENT ? VMD_ERR_NOT_FOUND : VMD_ERR_IO,
			"cannot write in %s: %s", dir, strerror(errno));
		err_add_str(err, "path", s->path);
		free(dir);
		return -1;
	}
	free(dir);
	/* No O_TMPFILE here: a name of our own, removed on any failure. */
	s->tmp = xasprintf("%s.vmd-partial", s->path);
	s->fd = open(s->tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		err_set(err, VMD_ERR_IO, "cannot create %s: %s", s->tmp, strerror(errno));
		err_add_str(err, "path", s->path);
		free(s->tmp);
		s->tmp = NULL;
		return -1;
	}
	return 0;
}

/* The socket pair between the backend and the relay, with room for MiBs in flight, so that
 * the backend's writer (libxl's save helper, a process of its own) and the relay take turns a
 * few times per MiB, not once per page: woken for every 4 KiB, the relay made a save 5 times
 * as long as xl's, under emulation (tests/xen scenario 65). The relay's end becomes an
 * event read in MiBs (save), or a bufferevent writing up to 1 MiB at a time (restore). */
static int relay_pair(struct saving *s)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->lx) < 0) {
		err_first(&s->err, VMD_ERR_IO, "socketpair: %s", strerror(errno));
		return -1;
	}
	int size = SOCK_BUF;
	for (int i = 0; i < 2; i++) /* over net.core.wmem_max where we may (root) */
		if (setsockopt(s->lx[i], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
			setsockopt(s->lx[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	evutil_make_socket_nonblocking(s->lx[0]);
	if (!s->restore) {
		s->rev = event_new(s->d->base, s->lx[0], EV_READ | EV_PERSIST, save_readable, s);
		event_add(s->rev, NULL);
		return 0;
	}
	s->relay = bufferevent_socket_new(s->d->base, s->lx[0], BEV_OPT_CLOSE_ON_FREE);
	s->lx[0] = -1; /* the relay's */
	bufferevent_set_max_single_write(s->relay, RELAY_CHUNK * 4);
	return 0;
}

static struct saving *saving_new(struct daemon *d, struct rpc_req *req, const char *kind)
{
	struct saving *s = xcalloc(1, sizeof *s);
	s->d = d;
	s->req = req;
	s->fd = s->lx[0] = s->lx[1] = -1;
	s->domid = -1;
	s->t0 = now_monotonic();
	s->job = job_new(d, kind, NULL, NULL);
	return s;
}

/* The job runs: progress, cancel, the client's disconnect. */
static void saving_run(struct saving *s)
{
	s->next = s->d->saves;
	s->d->saves = s;
	s->tick = event_new(s->d->base, -1, EV_PERSIST, tick_cb, s);
	struct timeval tv = {0, TICK_MS * 1000};
	event_add(s->tick, &tv);
	if (s->req) {
		s->req->on_cancel = client_gone;
		s->req->cancel_arg = s;
	}
	progress(s);
}

/* Before the stream runs: s goes, and its error (with its data) is the caller's. */
static void abort_early(struct saving *s, struct err *err)
{
	if (s->begun)
		vm_migrate_end(s->vm, s->domid, s->before, "save-failed");
	if (s->req)
		s->req->on_cancel = NULL;
	s->req = NULL;
	err_data(s);
	err_move(err, &s->err);
	saving_free(s);
}

/* A save of vm to path under way, or NULL with err (nothing started, nothing written). */
static struct saving *begin_save(struct daemon *d, struct rpc_req *req, struct vm *vm,
				 const char *path, bool managed, bool keep_running,
				 const char *kind, struct err *err)
{
	struct host_info hi = {0};
	const char *text = vm_live_text(vm, err); /* the domain's, live changes and all */
	if (!text || be_host_info(d->be, &hi, err) < 0)
		return NULL;
	struct saving *s = saving_new(d, req, kind);
	s->vm = vm;
	s->name = xstrdup(vm->name);
	s->managed = managed;
	s->keep_running = keep_running;
	s->domid = vm->domid;
	s->before = vm->state == VM_PAUSED ? VM_PAUSED : VM_RUNNING;
	s->total = vm->memory_mib * 1024 * 1024;
	s->phase = "writing memory";
	s->path = xstrdup(path);
	char *line = header_line(s, text, hi.hypervisor);
	host_info_finish(&hi);
	if (open_output(s, &s->err) < 0 || vm_save_begin(vm, &s->err) < 0) {
		free(line);
		abort_early(s, err);
		return NULL;
	}
	s->begun = true;
	bool ok = write_all(s->fd, line, strlen(line)) && write_all(s->fd, "\n", 1);
	free(line);
	if (!ok)
		err_first(&s->err, VMD_ERR_IO, "writing %s: %s", s->path, strerror(errno));
	if (!ok || relay_pair(s) < 0) {
		abort_early(s, err);
		return NULL;
	}
	/* Not live: the guest stops first, as xl save does, and the file holds one moment. */
	struct err e = {0};
	if (be_migrate_send(d->be, (uint32_t)s->domid, s->lx[1], false, save_sent, s, &e) < 0) {
		err_first(&s->err, e.code ? e.code : VMD_ERR_BACKEND, "saving '%s': %s",
			  s->name, e.msg);
		err_clear(&e);
		abort_early(s, err);
		return NULL;
	}
	s->busy = true;
	saving_run(s);
	log_info("%s: saving to %s%s", s->name, s->path, keep_running ? " (checkpoint)" : "");
	return s;
}

void save_start(struct rpc_req *req, struct vm *vm, const char *file, bool keep_running)
{
	struct daemon *d = req->d;
	struct err err = {0};
	if (file && file[0] != '/') {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "file"),
				"file must be an absolute path, not '%.200s'", file);
		return;
	}
	struct stat st;
	if (file && lstat(file, &st) == 0) {
		rpc_reply_error(req, VMD_ERR_EXISTS, json_pack("{s:s, s:s}", "name", vm->name,
							       "path", file),
				"%s exists: vmd does not write a save over a file", file);
		return;
	}
	char *path = file ? xstrdup(file) : save_managed_path(d, vm->name);
	if (!file) {
		char *dir = xasprintf("%s/saves", d->state_dir);
		if (mkdir_p(dir, 0700) < 0)
			log_warn("cannot create %s: %s", dir, strerror(errno));
		free(dir);
	}
	if (!begin_save(d, req, vm, path, !file, keep_running, "vm.save", &err))
		rpc_reply_err(req, &err);
	free(path);
}

struct saving *save_checkpoint(struct daemon *d, struct vm *vm, const char *path,
			       const char *kind, save_suspended_fn then, void *arg, struct err *err)
{
	struct saving *s = begin_save(d, NULL, vm, path, false, true, kind, err);
	if (!s)
		return NULL;
	s->then = then;
	s->then_arg = arg;
	return s;
}

void save_cancel(struct saving *s)
{
	if (s->job && !s->held)
		job_cancel(s->job); /* the next read or tick stops it */
}

int save_checkpoint_end(struct saving *s, bool keep, struct err *err)
{
	struct err e = {0};
	int r = 0;
	s->held = false;
	if (!keep && s->linked) {
		unlink(s->path);
		fsync_parent_dir(s->path);
		s->linked = false;
	}
	if (be_migrate_resume(s->d->be, (uint32_t)s->domid, &e) < 0) {
		log_error("%s: the domain does not resume after the checkpoint: %s", s->name,
			  e.msg);
		vm_migrate_end(s->vm, s->domid, VM_SHUTDOWN, "save-failed");
		err_set(err, VMD_ERR_BACKEND, "the guest does not resume after its checkpoint: %s",
			e.msg);
		err_clear(&e);
		r = -1;
	} else {
		vm_migrate_end(s->vm, s->domid, s->before, keep ? "saved" : "save-failed");
		log_info("%s: checkpoint %s in %.3f s (%" PRIu64 " bytes), running on", s->name,
			 keep ? s->path : "discarded", now_monotonic() - s->t0, s->bytes);
	}
	saving_free(s);
	return r;
}

uint64_t save_bytes(const struct saving *s)
{
	return s->bytes;
}

/* ---- restore ------------------------------------------------------------------------------ */

static void restore_destroyed(void *arg, const struct err *err, uint32_t domid)
{
	if (err)
		log_error("destroying the restored domain %u failed: %s", domid, err->msg);
}

static void restore_finish_failure(struct saving *s)
{
	log_warn("%s: restore from %s failed: %s", s->name, s->path, s->err.msg);
	if (s->domid >= 0) {
		struct err e = {0};
		if (be_destroy(s->d->be, (uint32_t)s->domid, restore_destroyed, NULL, &e) < 0) {
			log_error("%s: cannot destroy the restored domain %" PRId64 ": %s", s->name,
				  s->domid, e.msg);
			err_clear(&e);
		}
		s->domid = -1;
	}
	if (s->vm)
		vm_migrate_end(s->vm, -1, VM_STOPPED, "restore-failed");
	reply_err(s);
	saving_free(s);
}

/* Keeps the socket's queue filled from the file; at the file's end, half-closes. */
static void restore_fill(struct saving *s)
{
	if (cancel_now(s))
		return;
	struct evbuffer *out = bufferevent_get_output(s->relay);
	char *buf = NULL;
	while (!s->eof && evbuffer_get_length(out) < RELAY_HIGH) {
		if (!buf)
			buf = xmalloc(RELAY_CHUNK);
		ssize_t n = read(s->fd, buf, RELAY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_first(&s->err, VMD_ERR_IO, "reading %s: %s", s->path, strerror(errno));
			s->failing = true;
			stop_relay(s);
			free(buf);
			return;
		}
		if (n == 0) {
			s->eof = true;
			break;
		}
		s->bytes += (uint64_t)n;
		evbuffer_add(out, buf, (size_t)n);
	}
	free(buf);
	if (s->eof && evbuffer_get_length(out) == 0)
		shutdown(bufferevent_getfd(s->relay), SHUT_WR);
}

static void restore_write_cb(struct bufferevent *bev, void *arg)
{
	restore_fill(arg);
}

static void restore_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct saving *s = arg;
	/* The backend stopped reading (it failed, or it has all it wants): its callback says
	 * which. Nothing more to feed. */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		stop_relay(s);
}

static void restore_received(void *arg, const struct err *err, uint32_t domid)
{
	struct saving *s = arg;
	struct err e = {0};
	s->busy = false;
	stop_relay(s);
	close(s->lx[1]);
	s->lx[1] = -1;
	if (err) {
		err_first(&s->err, err->code ? err->code : VMD_ERR_BACKEND,
			  "restoring '%s' from %s: %s", s->name, s->path, err->msg);
	} else {
		s->domid = domid;
	}
	if (s->failing || err) {
		restore_finish_failure(s);
		return;
	}
	s->bytes = s->total;
	s->phase = "starting";
	progress(s);
	if (!s->paused && be_unpause(s->d->be, (uint32_t)domid, &e) < 0) {
		err_first(&s->err, e.code ? e.code : VMD_ERR_BACKEND,
			  "unpausing the restored domain: %s", e.msg);
		err_clear(&e);
		restore_finish_failure(s);
		return;
	}
	struct vm *vm = s->vm;
	if (!vm) {
		struct vm_define_opts opts = {.reserved = true};
		vm = vm_define(s->d, &s->cfg, &opts, &e);
		s->reserved = false; /* vm_define ended it, whatever the outcome */
		if (!vm) {
			err_first(&s->err, e.code, "%s", e.msg);
			err_clear(&e);
			restore_finish_failure(s);
			return;
		}
	}
	/* Whatever its managed save held is older than this: it must never be restored now. */
	char *managed = save_managed_path(s->d, s->name);
	if (unlink(managed) < 0 && errno != ENOENT)
		log_warn("%s: cannot remove %s: %s", s->name, managed, strerror(errno));
	free(managed);
	vm->managed_save = false;
	vm_migrate_end(vm, domid, s->paused ? VM_PAUSED : VM_RUNNING, "restored");
	vm_live_begin(vm, s->cfg.text); /* the domain is the saved one: its config */
	double total = now_monotonic() - s->t0;
	log_info("%s: restored from %s in %.3f s as domain %u", s->name, s->path, total, domid);
	if (s->req) {
		s->req->on_cancel = NULL;
		json_t *o = vm_to_json(vm, false);
		json_object_set_new(o, "restored_from", json_string(s->path));
		json_object_set_new(o, "total_ms", json_integer((json_int_t)(total * 1000 + 0.5)));
		if (s->extra) { /* the caller's answer, with the restore's in it */
			json_object_set_new(s->extra, "restored", o);
			o = s->extra;
			s->extra = NULL;
		}
		rpc_reply_result(s->req, o);
		s->req = NULL;
	}
	s->domid = -1; /* the guest's now */
	saving_free(s);
}

/* Reads and checks the header; leaves the file at the stream. 0, or -1 with err. */
static int read_header(struct saving *s, json_t **out, struct err *err)
{
	char *buf = xmalloc(HEADER_MAX + 1);
	size_t have = 0;
	char *nl = NULL;
	while (have < HEADER_MAX && !nl) {
		ssize_t n = read(s->fd, buf + have, HEADER_MAX - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		nl = memchr(buf + have, '\n', (size_t)n);
		have += (size_t)n;
	}
	if (have >= sizeof XL_MAGIC - 1 && memcmp(buf, XL_MAGIC, sizeof XL_MAGIC - 1) == 0) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "%s is a save file of xl: restore it with "
			"'xl restore'", s->path);
		free(buf);
		return -1;
	}
	if (have < strlen(SAVE_MAGIC) || memcmp(buf, SAVE_MAGIC, strlen(SAVE_MAGIC)) != 0 || !nl) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "%s is not a save file of vmd", s->path);
		free(buf);
		return -1;
	}
	size_t hlen = (size_t)(nl - buf);
	json_error_t je;
	json_t *h = json_loadb(buf, hlen, 0, &je);
	free(buf);
	int version = 0;
	const char *name = NULL, *uuid = NULL, *backend = NULL, *hv = NULL, *text = NULL;
	if (!h || json_unpack(h, "{s:i, s:s, s:s, s:s, s:s, s:s}", "vmd-save", &version, "name",
			      &name, "uuid", &uuid, "backend", &backend, "hypervisor", &hv,
			      "xlcfg", &text) < 0) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "%s: a damaged save header", s->path);
		json_decref(h);
		return -1;
	}
	if (version != SAVE_VERSION) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "%s: save format %d; this vmd reads %d",
			s->path, version, SAVE_VERSION);
		json_decref(h);
		return -1;
	}
	if (lseek(s->fd, (off_t)hlen + 1, SEEK_SET) < 0) {
		err_set(err, VMD_ERR_IO, "%s: %s", s->path, strerror(errno));
		json_decref(h);
		return -1;
	}
	*out = h;
	return 0;
}

/* The header's promises against this host and the guest. 0, or -1 with err. */
static int restore_check(struct saving *s, json_t *h, struct err *err)
{
	struct daemon *d = s->d;
	const char *backend = json_string_value(json_object_get(h, "backend"));
	const char *hv = json_string_value(json_object_get(h, "hypervisor"));
	const char *text = json_string_value(json_object_get(h, "xlcfg"));
	const char *name = json_string_value(json_object_get(h, "name"));
	struct host_info hi = {0};
	if (strcmp(backend, be_name(d->be)) != 0) {
		err_set(err, VMD_ERR_BAD_STATE, "%s was saved by the %s backend; this vmd runs %s",
			s->path, backend, be_name(d->be));
		return -1;
	}
	if (be_host_info(d->be, &hi, err) < 0)
		return -1;
	bool same = strcmp(hv, hi.hypervisor) == 0;
	if (!same)
		err_set(err, VMD_ERR_BAD_STATE, "%s was saved under %s; this host runs %s", s->path,
			hv, hi.hypervisor);
	host_info_finish(&hi);
	if (!same)
		return -1;
	vm_config_init(&s->cfg);
	s->cfg_set = true;
	if (config_parse(text, strlen(text), s->path, NULL, &s->cfg, err) < 0)
		return -1;
	if (!s->cfg.has_uuid || strcmp(s->cfg.name, name) != 0) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "%s: the header's config is not the guest's",
			s->path);
		return -1;
	}
	free(s->name);
	s->name = xstrdup(name);
	struct vm *vm = s->vm ? s->vm : vm_find(d, name);
	if (vm && memcmp(vm->uuid, s->cfg.uuid, 16) != 0) {
		err_set(err, VMD_ERR_EXISTS, "a different guest named '%s' is defined here (its "
			"uuid is not the saved one)", name);
		return -1;
	}
	s->vm = vm;
	return 0;
}

void save_restore(struct rpc_req *req, struct vm *vm, const char *file, bool paused)
{
	save_restore_with(req, vm, file, paused, NULL);
}

void save_restore_with(struct rpc_req *req, struct vm *vm, const char *file, bool paused,
		       json_t *extra)
{
	struct daemon *d = req->d;
	struct err err = {0};
	struct stat st;
	struct saving *s = saving_new(d, req, vm && !file ? "vm.start" : "vm.restore");
	s->restore = true;
	s->extra = extra;
	s->paused = paused;
	s->managed = !file;
	s->vm = vm;
	s->name = xstrdup(vm ? vm->name : file);
	s->path = file ? xstrdup(file) : save_managed_path(d, vm->name);
	s->phase = "reading the save";
	json_t *h = NULL;
	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		err_set(&err, errno == ENOENT ? VMD_ERR_NOT_FOUND : VMD_ERR_IO,
			"cannot open %s: %s", s->path, strerror(errno));
		err_add_str(&err, "path", s->path);
		goto refuse;
	}
	if (fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_set(&err, VMD_ERR_INVALID_PARAMS, "%s is not a regular file", s->path);
		goto refuse;
	}
	if (read_header(s, &h, &err) < 0 || restore_check(s, h, &err) < 0)
		goto refuse;
	off_t at = lseek(s->fd, 0, SEEK_CUR);
	s->total = (uint64_t)(st.st_size - at);
	if (s->vm) {
		if (vm_restore_begin(s->vm, &err) < 0)
			goto refuse;
	} else {
		if (ops_check_config_access(req, &s->cfg, &err) < 0 ||
		    vm_reserve(d, s->name, &err) < 0)
			goto refuse;
		s->reserved = true;
	}
	json_decref(h);
	h = NULL;
	saving_run(s);
	if (relay_pair(s) < 0) {
		restore_finish_failure(s);
		return;
	}
	bufferevent_setcb(s->relay, NULL, restore_write_cb, restore_event_cb, s);
	bufferevent_setwatermark(s->relay, EV_WRITE, RELAY_HIGH / 2, 0);
	bufferevent_enable(s->relay, EV_READ | EV_WRITE);
	char *record = vm_record(s->name, s->cfg.uuid);
	int r = be_migrate_receive(d->be, &s->cfg, s->name, record, s->lx[1], restore_received,
				   s, &err);
	free(record);
	if (r < 0) {
		err_first(&s->err, err.code ? err.code : VMD_ERR_BACKEND, "restoring '%s': %s",
			  s->name, err.msg);
		err_clear(&err);
		restore_finish_failure(s);
		return;
	}
	s->busy = true;
	restore_fill(s);
	log_info("%s: restoring from %s%s", s->name, s->path, paused ? " (paused)" : "");
	return;
refuse:
	json_decref(h);
	if (err.code == VMD_ERR_INVALID_PARAMS)
		err_add_str(&err, "param", "file");
	else if (!err_data_str(&err, "name") && (s->vm || vm))
		err_add_str(&err, "name", s->name);
	s->req = NULL;
	rpc_reply_err(req, &err);
	saving_free(s);
}

void save_shutdown(struct daemon *d)
{
	stopping = true;
	struct saving *next;
	for (struct saving *s = d->saves; s; s = next) {
		next = s->next;
		if (s->syncing)
			continue; /* its worker ends it: job_system_shutdown runs sync_done */
		if (s->held)
			continue; /* its snapshot ends it (save_checkpoint_end) */
		if (!s->err.code)
			err_set(&s->err, VMD_ERR_CANCELLED, "vmd is stopping");
		if (!s->restore) {
			if (s->sent || s->busy) {
				struct err e = {0};
				be_migrate_resume(d->be, (uint32_t)s->domid, &e);
				err_clear(&e);
			}
			vm_migrate_end(s->vm, s->domid, s->before, "save-failed");
		} else if (s->vm) {
			vm_migrate_end(s->vm, -1, VM_STOPPED, "restore-failed");
		}
		reply_err(s);
		saving_free(s);
	}
}
