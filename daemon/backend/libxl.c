/*
 * libxl.c: the real backend, `vmd --backend=libxl` (the default in a Xen dom0).
 *
 * One libxl_ctx per daemon, driven by the daemon's libevent loop (libxl-event.c). Creates and
 * destroys are libxl asynchronous operations (libxl_asyncop_how), so a guest that takes
 * seconds to build never stops the daemon from answering; the quick calls (shutdown, reboot,
 * pause, unpause, info, console) are synchronous libxl calls that spawn no child process.
 *
 * Hand-off: libxl reports completions and domain events through callbacks that may run inside
 * any libxl call (even inside the call that started the operation). Those callbacks only queue
 * a note; the notes are delivered one per loop callback, in order, so the core is never called
 * under libxl's locks nor from inside the call it made, and may call back into the backend
 * (destroy after a shutdown event, create after that destroy) from its callbacks.
 *
 * A create goes through these stages, one create at a time as with `xl create`:
 *   queued -> lock: xl's creation lock (fcntl F_WRLCK on /var/lock/xl, or xl.conf's
 *             "lockfile"), tried without blocking and retried on a timer. POSIX record locks
 *             belong to the process, so the lock also serialises our own creates: a second
 *             F_SETLK from this process would "succeed" and closing its fd would drop the
 *             first create's lock.
 *          -> memory: libxl_domain_need_memory vs libxl_get_free_memory; when short and
 *             autoballoon allows (xl.conf, else xl's rule: off when Xen was given dom0_mem=),
 *             lower dom0's target and poll free memory on a timer instead of blocking in
 *             libxl_wait_for_memory_target.
 *          -> build: libxl_domain_create_new (async); libxl destroys a half-built domain itself.
 *          -> the lock is released; our record is stored as userdata "vmd", death events are
 *             enabled, and the domain (left paused by libxl) is unpaused. Should any of this
 *             fail, the domain is destroyed before the error is reported.
 *
 * Events: each watched domain has a libxl death-event generator (libxl_evenable_domain_death)
 * whose user value is a watch id, never a pointer, so that events still queued for a watch
 * that is gone are recognised and dropped. DOMAIN_SHUTDOWN becomes POWEROFF, REBOOT or CRASH
 * (a watchdog counts as a crash; suspend and soft reset are logged and ignored). libxl reports
 * a shutdown once per generator and keeps it armed, so the DOMAIN_DEATH that follows (ours or
 * someone else's destroy) still arrives; the generator is disabled when the domain is gone.
 * While a destroy asked through destroy() is in flight, the domain's events are dropped: that
 * destroy reports through its done callback, and DOM_EV_GONE is only for domains that vanish
 * without the core asking (`xl destroy`).
 *
 * Daemon restarts: guests are left alone by close() (and by kill -9); the device models are
 * not our children (libxl's spawner detaches them). The next vmd finds its guests through
 * list() (userdata "vmd") and watch()es them.
 */
#include "libxl-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <libxlutil.h>
#include <xentoollog.h>

#include "log.h"
#include "util.h"
#include "vmd-proto.h"

#define USERDATA_ID "vmd"
#define XL_CONF "/etc/xen/xl.conf"
#define XL_LOCK_FILE "/var/lock/xl" /* xl's XEN_LOCK_DIR "/xl" on Linux */
#define LOCK_RETRY_MS 100
#define LOCK_WAIT_S 300.0        /* an `xl create` holding the lock longer is stuck */
#define MEMORY_POLL_MS 200
#define BALLOON_STALL_S 10.0     /* as xl: dom0 not progressing towards its target */
#define BALLOON_CREDIT_S 30.0    /* as xl: total time to find the memory */
#define NAME_SIZE 128            /* struct dom_info */
/* libxl.h has INVALID_DOMID as the int ~0 */
#define NO_DOMID ((uint32_t)INVALID_DOMID)

/* ---- types -------------------------------------------------------------------------------- */

struct vmd_logger {
	xentoollog_logger vtable; /* first: libxl calls through it */
};

/* Death events of one domain. */
struct watch {
	struct watch *next;
	uint32_t domid;
	uint64_t id; /* the evgen's libxl_ev_user */
	libxl_evgen_domain_death *evgen;
	int destroying; /* destroys asked through destroy() still in flight */
};

enum op_kind { OP_CREATE, OP_DESTROY };

enum stage {
	ST_QUEUED,  /* create: waiting for the creates before it */
	ST_LOCK,    /* create: waiting for xl's lock */
	ST_MEMORY,  /* create: making room */
	ST_BUILD,   /* create: libxl_domain_create_new in flight */
	ST_CLEANUP, /* create: destroying a domain we could not finish */
	ST_DESTROY, /* destroy: libxl_domain_destroy in flight */
	ST_DONE,    /* finished; the done note is queued */
};

struct op {
	struct op *next; /* be->ops, in start order */
	struct backend *be;
	enum op_kind kind;
	enum stage stage;
	uint32_t domid;
	backend_done_fn *done;
	void *arg;
	bool in_libxl;          /* a libxl asynchronous operation of ours is running */
	bool failed;
	struct be_error err;    /* what done reports when failed */
	/* create */
	libxl_domain_config dc; /* must outlive the libxl operation */
	char *name;
	char *record;
	struct event *timer;    /* lock retries, memory polling */
	double since;           /* when the current stage began (monotonic) */
	uint64_t need_kib;
	double balloon_at;      /* when dom0's target was last lowered; 0 = not yet */
	bool lock_waited;       /* someone else held xl's lock when we first tried */
};

enum note_kind { NOTE_AO, NOTE_EVENT, NOTE_DONE };

struct note {
	struct note *next;
	enum note_kind kind;
	struct op *op;   /* NOTE_AO, NOTE_DONE */
	int rc;          /* NOTE_AO */
	libxl_event *ev; /* NOTE_EVENT, ours to free */
};

struct backend {
	struct event_base *base;
	struct vmd_logger logger;
	libxl_ctx *ctx;
	struct be_libxl_loop *loop;
	backend_event_fn *on_event;
	void *event_arg;
	struct watch *watches;
	uint64_t next_watch_id;
	struct op *ops;
	struct op *creating; /* the create past ST_QUEUED, if any: creates go one at a time */
	char *lock_path;
	int lock_fd;         /* holds xl's lock when >= 0 */
	bool autoballoon;
	struct note *notes;
	struct note **notes_tail;
	struct event *kick;  /* delivers notes */
};

static void create_next(struct backend *be);
static void op_timer_cb(evutil_socket_t fd, short what, void *arg);

/* ---- logging ------------------------------------------------------------------------------ */

static enum log_level map_level(xentoollog_level l)
{
	if (l >= XTL_ERROR)
		return LOG_LVL_ERROR;
	if (l == XTL_WARN)
		return LOG_LVL_WARN;
	if (l >= XTL_INFO)
		return LOG_LVL_INFO;
	/* libxl is chatty at progress, detail and debug levels */
	return LOG_LVL_DEBUG;
}

__attribute__((format(printf, 5, 0))) static void
logger_vmessage(xentoollog_logger *l, xentoollog_level level, int errnoval, const char *context,
		const char *format, va_list al)
{
	enum log_level lv = map_level(level);
	if (lv > log_get_level())
		return;
	char msg[1024];
	vsnprintf(msg, sizeof msg, format, al);
	if (errnoval >= 0)
		log_msg(lv, "%s: %s: %s", context ? context : "libxl", msg, strerror(errnoval));
	else
		log_msg(lv, "%s: %s", context ? context : "libxl", msg);
}

static void logger_progress(xentoollog_logger *l, const char *context, const char *doing_what,
			    int percent, unsigned long done, unsigned long total)
{
	log_debug("%s: %s: %d%%", context ? context : "libxl", doing_what, percent);
}

static void logger_destroy(xentoollog_logger *l)
{
}

/* libxl's error codes are negative ERROR_* values; libxl logs the details itself. */
static void set_libxl_error(struct be_error *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_libxl_error(struct be_error *err, int rc, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	int code = rc == ERROR_DOMAIN_NOTFOUND ? VMD_ERR_NOT_FOUND
		   : rc == ERROR_NOMEM		? VMD_ERR_NO_RESOURCES
						: VMD_ERR_BACKEND;
	be_error_set(err, code, "%s: libxl error %d (%s; see the daemon log)", what, rc,
		     libxl_error_to_string(rc));
}

/* ---- notes: the hand-off from libxl's callbacks to the loop -------------------------------- */

static struct note *note_push(struct backend *be, enum note_kind kind)
{
	struct note *n = xcalloc(1, sizeof *n);
	n->kind = kind;
	*be->notes_tail = n;
	be->notes_tail = &n->next;
	event_active(be->kick, EV_TIMEOUT, 1);
	return n;
}

/* libxl: an asynchronous operation of ours finished (maybe inside the call that started it). */
static void ao_callback(libxl_ctx *ctx, int rc, void *for_callback)
{
	struct op *op = for_callback;
	struct note *n = note_push(op->be, NOTE_AO);
	n->op = op;
	n->rc = rc;
}

/* libxl: a domain event; the event is ours now. */
static void event_occurs(void *user, libxl_event *ev)
{
	struct backend *be = user;
	note_push(be, NOTE_EVENT)->ev = ev;
}

/* libxl: its event machinery broke (out of memory, xenstore gone). No libxl calls allowed
 * here; events of that type may be lost from now on. */
static void event_disaster(void *user, libxl_event_type type, const char *msg, int errnoval)
{
	log_error("libxl: event disaster (type %d): %s%s%s; guest events may be lost, restart "
		  "vmd (guests keep running)",
		  (int)type, msg, errnoval > 0 ? ": " : "", errnoval > 0 ? strerror(errnoval) : "");
}

static const libxl_event_hooks event_hooks = {
	.event_occurs_mask = LIBXL_EVENTMASK_ALL,
	.event_occurs = event_occurs,
	.disaster = event_disaster,
};

/* Finishes op: its done is called from the loop, later. */
static void op_finish(struct op *op)
{
	op->stage = ST_DONE;
	if (op->timer)
		evtimer_del(op->timer);
	note_push(op->be, NOTE_DONE)->op = op;
}

__attribute__((format(printf, 3, 4))) static void op_fail(struct op *op, int code,
							    const char *fmt, ...)
{
	op->failed = true;
	op->err.code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(op->err.msg, sizeof op->err.msg, fmt, ap);
	va_end(ap);
	op_finish(op);
}

static void op_unlink(struct op *op)
{
	for (struct op **pp = &op->be->ops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
}

static void op_free(struct op *op)
{
	if (op->timer)
		event_free(op->timer);
	if (op->kind == OP_CREATE)
		libxl_domain_config_dispose(&op->dc);
	free(op->name);
	free(op->record);
	free(op);
}

static struct op *op_new(struct backend *be, enum op_kind kind, backend_done_fn *done, void *arg)
{
	struct op *op = xcalloc(1, sizeof *op);
	op->be = be;
	op->kind = kind;
	op->done = done;
	op->arg = arg;
	struct op **pp = &be->ops;
	while (*pp)
		pp = &(*pp)->next;
	*pp = op;
	return op;
}

/* ---- watches ------------------------------------------------------------------------------ */

static struct watch *watch_find(struct backend *be, uint32_t domid)
{
	for (struct watch *w = be->watches; w; w = w->next)
		if (w->domid == domid)
			return w;
	return NULL;
}

static struct watch *watch_by_id(struct backend *be, uint64_t id)
{
	for (struct watch *w = be->watches; w; w = w->next)
		if (w->id == id)
			return w;
	return NULL;
}

static int watch_add(struct backend *be, uint32_t domid, struct be_error *err)
{
	if (watch_find(be, domid))
		return 0;
	struct watch *w = xcalloc(1, sizeof *w);
	w->domid = domid;
	w->id = ++be->next_watch_id;
	int rc = libxl_evenable_domain_death(be->ctx, domid, w->id, &w->evgen);
	if (rc) {
		set_libxl_error(err, rc, "watching domain %" PRIu32, domid);
		free(w);
		return -1;
	}
	w->next = be->watches;
	be->watches = w;
	return 0;
}

static void watch_remove(struct backend *be, struct watch *w)
{
	for (struct watch **pp = &be->watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	/* Events it generated before this may still be queued: their id finds no watch. */
	libxl_evdisable_domain_death(be->ctx, w->evgen);
	free(w);
}

/* ---- domain information ------------------------------------------------------------------- */

static enum dom_state dom_state_of(const libxl_dominfo *i)
{
	if (i->dying)
		return DOM_DYING;
	if (i->shutdown)
		return i->shutdown_reason == LIBXL_SHUTDOWN_REASON_CRASH ||
				       i->shutdown_reason == LIBXL_SHUTDOWN_REASON_WATCHDOG
			       ? DOM_CRASHED
			       : DOM_SHUTDOWN;
	if (i->paused)
		return DOM_PAUSED;
	if (i->blocked)
		return DOM_BLOCKED;
	return DOM_RUNNING;
}

/* Our record, NUL-terminated, or NULL when the domain has none (not ours). */
static char *record_of(struct backend *be, uint32_t domid)
{
	uint8_t *data = NULL;
	int len = 0;
	if (libxl_userdata_retrieve(be->ctx, domid, USERDATA_ID, &data, &len) != 0 || len <= 0) {
		free(data);
		return NULL;
	}
	char *s = xmalloc((size_t)len + 1);
	memcpy(s, data, (size_t)len);
	s[len] = '\0';
	free(data);
	return s;
}

static void fill_info(struct backend *be, const libxl_dominfo *i, struct dom_info *out)
{
	memset(out, 0, sizeof *out);
	out->domid = i->domid;
	memcpy(out->uuid, libxl_uuid_bytearray_const(&i->uuid), sizeof out->uuid);
	char *name = libxl_domid_to_name(be->ctx, i->domid);
	snprintf(out->name, sizeof out->name, "%s", name ? name : "");
	free(name);
	out->state = dom_state_of(i);
	out->memory_kib = i->current_memkb;
	out->maxmem_kib = i->max_memkb;
	out->vcpus = (int)i->vcpu_online;
	out->cpu_time_ns = i->cpu_time;
	out->start_time = libxl_vm_get_start_time(be->ctx, i->domid);
	out->record = record_of(be, i->domid);
}

/* libxl_domain_info with our error codes. */
static int dominfo(struct backend *be, uint32_t domid, libxl_dominfo *out, struct be_error *err)
{
	libxl_dominfo_init(out);
	int rc = libxl_domain_info(be->ctx, out, domid);
	if (rc == 0)
		return 0;
	libxl_dominfo_dispose(out);
	if (rc == ERROR_DOMAIN_NOTFOUND)
		be_error_set(err, VMD_ERR_NOT_FOUND, "no domain with domid %" PRIu32, domid);
	else
		set_libxl_error(err, rc, "domain %" PRIu32, domid);
	return -1;
}

/* Is a create of ours building a domain of this name? (It has no record yet: not listed.) */
static bool being_created(struct backend *be, const char *name)
{
	for (struct op *op = be->ops; op; op = op->next)
		if (op->kind == OP_CREATE && op->stage != ST_DONE && strcmp(op->name, name) == 0)
			return true;
	return false;
}

/* ---- xl's creation lock ------------------------------------------------------------------- */

/* 1 when held, 0 when someone else holds it, -1 when it cannot be used at all. */
static int lock_try(struct backend *be)
{
	if (be->lock_fd < 0) {
		/* xl: open(lockfile, O_WRONLY|O_CREAT, S_IWUSR) */
		be->lock_fd = open(be->lock_path, O_WRONLY | O_CREAT | O_CLOEXEC, S_IWUSR);
		if (be->lock_fd < 0)
			return -1;
	}
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	if (fcntl(be->lock_fd, F_SETLK, &fl) == 0)
		return 1;
	if (errno == EACCES || errno == EAGAIN || errno == EINTR)
		return 0;
	int e = errno;
	close(be->lock_fd);
	be->lock_fd = -1;
	errno = e;
	return -1;
}

static void lock_release(struct backend *be)
{
	if (be->lock_fd < 0)
		return;
	/* Closing drops the lock (and would drop any other lock of ours on the file). */
	close(be->lock_fd);
	be->lock_fd = -1;
}

/* ---- create ------------------------------------------------------------------------------- */

static void arm_timer(struct op *op, unsigned ms)
{
	struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(op->timer, &tv);
}

/* The create's stages after the build are done: the next create may go. */
static void create_release(struct op *op)
{
	struct backend *be = op->be;
	if (be->creating != op)
		return;
	lock_release(be);
	be->creating = NULL;
	create_next(be);
}

static void create_failed(struct op *op, int code, const char *what)
{
	log_error("%s: create failed: %s", op->name, what);
	create_release(op);
	op_fail(op, code, "%s", what);
}

static void step_build(struct op *op)
{
	struct backend *be = op->be;
	op->stage = ST_BUILD;
	op->since = now_monotonic();
	op->domid = NO_DOMID;
	libxl_asyncop_how how = {.callback = ao_callback, .u.for_callback = op};
	/* The callback may run before this returns: it only queues a note. */
	int rc = libxl_domain_create_new(be->ctx, &op->dc, &op->domid, &how, NULL);
	if (rc) {
		struct be_error e;
		set_libxl_error(&e, rc, "creating domain %s", op->name);
		create_failed(op, e.code, e.msg);
		return;
	}
	op->in_libxl = true;
	log_debug("%s: building", op->name);
}

static void step_memory(struct op *op)
{
	struct backend *be = op->be;
	char msg[256];
	int rc;
	if (op->stage != ST_MEMORY) {
		op->stage = ST_MEMORY;
		op->since = now_monotonic();
		/* fills in libxl's defaults in dc, as `xl create` has it do before building */
		rc = libxl_domain_need_memory(be->ctx, &op->dc, INVALID_DOMID, &op->need_kib);
		if (rc) {
			snprintf(msg, sizeof msg, "cannot compute the memory it needs (libxl error %d)",
				 rc);
			create_failed(op, VMD_ERR_BACKEND, msg);
			return;
		}
	}
	uint64_t free_kib = 0;
	rc = libxl_get_free_memory(be->ctx, &free_kib);
	if (rc) {
		snprintf(msg, sizeof msg, "cannot read the host's free memory (libxl error %d)", rc);
		create_failed(op, VMD_ERR_BACKEND, msg);
		return;
	}
	if (free_kib >= op->need_kib) {
		if (op->balloon_at)
			log_info("%s: dom0 made room in %.1f s", op->name, now_monotonic() - op->since);
		step_build(op);
		return;
	}
	uint64_t short_kib = op->need_kib - free_kib;
	double now = now_monotonic();
	if (!be->autoballoon) {
		snprintf(msg, sizeof msg,
			 "not enough free memory: %" PRIu64 " MiB needed, %" PRIu64
			 " MiB free (autoballoon is off)",
			 op->need_kib / 1024, free_kib / 1024);
		create_failed(op, VMD_ERR_NO_RESOURCES, msg);
		return;
	}
	if (now - op->since > BALLOON_CREDIT_S) {
		snprintf(msg, sizeof msg,
			 "dom0 did not free enough memory within %.0f s: %" PRIu64
			 " MiB needed, %" PRIu64 " MiB free",
			 BALLOON_CREDIT_S, op->need_kib / 1024, free_kib / 1024);
		create_failed(op, VMD_ERR_NO_RESOURCES, msg);
		return;
	}
	/* As xl's freemem(): lower dom0's target by what is missing, then wait while dom0
	 * balloons; lower again when it has reached its target (or stopped moving) and the
	 * room is still not there. */
	bool again = !op->balloon_at;
	if (op->balloon_at) {
		uint64_t target = 0;
		libxl_dominfo d0;
		if (libxl_get_memory_target(be->ctx, 0, &target) == 0 &&
		    dominfo(be, 0, &d0, NULL) == 0) {
			again = d0.current_memkb <= target;
			libxl_dominfo_dispose(&d0);
		}
		again = again || now - op->balloon_at > BALLOON_STALL_S;
	}
	if (again) {
		log_info("%s: ballooning dom0 down by %" PRIu64 " MiB (%" PRIu64 " MiB needed, %" PRIu64
			 " MiB free)",
			 op->name, (short_kib + 1023) / 1024, op->need_kib / 1024, free_kib / 1024);
		rc = libxl_set_memory_target(be->ctx, 0, -(int64_t)short_kib, 1, 0);
		if (rc) {
			snprintf(msg, sizeof msg, "cannot lower dom0's memory target (libxl error %d)",
				 rc);
			create_failed(op, VMD_ERR_NO_RESOURCES, msg);
			return;
		}
		op->balloon_at = now;
	}
	arm_timer(op, MEMORY_POLL_MS);
}

static void step_lock(struct op *op)
{
	struct backend *be = op->be;
	if (op->stage != ST_LOCK) {
		op->stage = ST_LOCK;
		op->since = now_monotonic();
	}
	int r = lock_try(be);
	if (r < 0) {
		/* A host without /var/lock (or a read-only one) has no xl to share it with
		 * either; creating without the lock beats refusing to create at all. */
		log_warn("%s: cannot take xl's lock %s (%s); creating without it", op->name,
			 be->lock_path, strerror(errno));
	} else if (r == 0) {
		if (!op->lock_waited) {
			log_info("%s: waiting for %s (another toolstack is creating a domain)",
				 op->name, be->lock_path);
			op->lock_waited = true;
		}
		if (now_monotonic() - op->since > LOCK_WAIT_S) {
			char msg[256];
			snprintf(msg, sizeof msg, "%s is held by another toolstack for over %.0f s",
				 be->lock_path, LOCK_WAIT_S);
			create_failed(op, VMD_ERR_BUSY, msg);
			return;
		}
		arm_timer(op, LOCK_RETRY_MS);
		return;
	}
	if (op->lock_waited && r > 0)
		log_info("%s: got %s after %.1f s", op->name, be->lock_path,
			 now_monotonic() - op->since);
	step_memory(op);
}

/* Starts the oldest queued create when none is going. */
static void create_next(struct backend *be)
{
	if (be->creating)
		return;
	for (struct op *op = be->ops; op; op = op->next) {
		if (op->kind == OP_CREATE && op->stage == ST_QUEUED) {
			be->creating = op;
			/* from a timer, so that create() never does the work itself */
			op->stage = ST_LOCK;
			op->since = now_monotonic();
			arm_timer(op, 0);
			return;
		}
	}
}

static void op_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct op *op = arg;
	switch (op->stage) {
	case ST_LOCK:
		step_lock(op);
		break;
	case ST_MEMORY:
		step_memory(op);
		break;
	default:
		break;
	}
}

/* The domain is built (paused): store our record, watch it, let it run. */
static void create_built(struct op *op)
{
	struct backend *be = op->be;
	struct be_error e = {0};
	int rc = libxl_userdata_store(be->ctx, op->domid, USERDATA_ID,
				      (const uint8_t *)op->record, (int)strlen(op->record));
	if (rc)
		set_libxl_error(&e, rc, "storing vmd's record with domain %" PRIu32, op->domid);
	else if (watch_add(be, op->domid, &e) < 0)
		rc = -1;
	else if ((rc = libxl_domain_unpause(be->ctx, op->domid, NULL)) != 0)
		set_libxl_error(&e, rc, "unpausing domain %" PRIu32, op->domid);
	if (rc == 0) {
		log_info("%s: created domain %" PRIu32 " in %.1f s", op->name, op->domid,
			 now_monotonic() - op->since);
		op_finish(op);
		return;
	}
	/* Leave nothing behind: destroy the domain, then report the first error. */
	log_error("%s: %s; destroying domain %" PRIu32, op->name, e.msg, op->domid);
	op->failed = true;
	op->err = e;
	struct watch *w = watch_find(be, op->domid);
	if (w)
		watch_remove(be, w);
	op->stage = ST_CLEANUP;
	libxl_asyncop_how how = {.callback = ao_callback, .u.for_callback = op};
	rc = libxl_domain_destroy(be->ctx, op->domid, &how);
	if (rc) {
		log_error("%s: cannot destroy domain %" PRIu32 " either (libxl error %d)", op->name,
			  op->domid, rc);
		op_finish(op);
		return;
	}
	op->in_libxl = true;
}

/* A libxl asynchronous operation of op's finished with rc. */
static void ao_done(struct op *op, int rc)
{
	struct backend *be = op->be;
	op->in_libxl = false;
	switch (op->stage) {
	case ST_BUILD:
		create_release(op);
		if (rc) {
			struct be_error e;
			set_libxl_error(&e, rc, "creating domain %s", op->name);
			log_error("%s: create failed after %.1f s: %s", op->name,
				  now_monotonic() - op->since, e.msg);
			op->failed = true;
			op->err = e;
			op_finish(op);
			return;
		}
		create_built(op);
		return;
	case ST_CLEANUP:
		if (rc && rc != ERROR_DOMAIN_NOTFOUND)
			log_error("%s: destroying domain %" PRIu32 " after a failed create: libxl "
				  "error %d",
				  op->name, op->domid, rc);
		op_finish(op);
		return;
	case ST_DESTROY: {
		struct watch *w = watch_find(be, op->domid);
		if (w && w->destroying > 0)
			w->destroying--;
		if (rc && rc != ERROR_DOMAIN_NOTFOUND) {
			set_libxl_error(&op->err, rc, "destroying domain %" PRIu32, op->domid);
			op->failed = true;
			log_error("%s", op->err.msg);
		} else {
			log_info("domain %" PRIu32 " destroyed", op->domid);
			if (w)
				watch_remove(be, w);
		}
		op_finish(op);
		return;
	}
	default:
		log_error("libxl: completion (rc %d) for an operation in stage %d", rc,
			  (int)op->stage);
		return;
	}
}

/* ---- events ------------------------------------------------------------------------------- */

/* Turns a libxl event into the core's, or returns false to drop it. Frees nothing. */
static bool translate_event(struct backend *be, const libxl_event *ev, enum dom_event *out)
{
	struct watch *w = watch_by_id(be, ev->for_user);
	if (!w || w->domid != ev->domid)
		return false; /* from a watch that is gone */
	switch (ev->type) {
	case LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN:
		if (w->destroying)
			return false;
		switch ((int)ev->u.domain_shutdown.shutdown_reason) {
		case LIBXL_SHUTDOWN_REASON_POWEROFF:
			*out = DOM_EV_POWEROFF;
			return true;
		case LIBXL_SHUTDOWN_REASON_REBOOT:
			*out = DOM_EV_REBOOT;
			return true;
		case LIBXL_SHUTDOWN_REASON_CRASH:
		case LIBXL_SHUTDOWN_REASON_WATCHDOG:
			*out = DOM_EV_CRASH;
			return true;
		case LIBXL_SHUTDOWN_REASON_SUSPEND:
		case LIBXL_SHUTDOWN_REASON_SOFT_RESET:
			/* Not ours to handle (save/migrate, kexec). libxl will not report another
			 * shutdown of this domain on this watch; its death still arrives. */
			log_info("domain %" PRIu32 " shut down for %s; ignored", ev->domid,
				 ev->u.domain_shutdown.shutdown_reason ==
						 LIBXL_SHUTDOWN_REASON_SUSPEND
					 ? "suspend"
					 : "soft reset");
			return false;
		default:
			log_warn("domain %" PRIu32 " shut down for unknown reason %d; treating it "
				 "as a crash",
				 ev->domid, (int)ev->u.domain_shutdown.shutdown_reason);
			*out = DOM_EV_CRASH;
			return true;
		}
	case LIBXL_EVENT_TYPE_DOMAIN_DEATH:
		if (w->destroying)
			return false; /* our destroy; its done says so */
		watch_remove(be, w);
		*out = DOM_EV_GONE;
		return true;
	default:
		log_debug("libxl: event type %d for domain %" PRIu32 " ignored", (int)ev->type,
			  ev->domid);
		return false;
	}
}

/* One note per call, in order: whatever the callback does (backend calls, close() included),
 * nothing is touched after it. */
static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend *be = arg;
	struct note *n;
	while ((n = be->notes)) {
		be->notes = n->next;
		if (!be->notes)
			be->notes_tail = &be->notes;
		struct note c = *n;
		free(n);
		if (c.kind == NOTE_AO) {
			ao_done(c.op, c.rc);
			continue;
		}
		if (c.kind == NOTE_EVENT) {
			enum dom_event dev;
			uint32_t domid = c.ev->domid;
			bool deliver = translate_event(be, c.ev, &dev) && be->on_event;
			libxl_event_free(be->ctx, c.ev);
			if (!deliver)
				continue;
			if (be->notes)
				event_active(be->kick, EV_TIMEOUT, 1);
			be->on_event(be->event_arg, domid, dev);
			return;
		}
		/* NOTE_DONE */
		struct op *op = c.op;
		op_unlink(op);
		backend_done_fn *done = op->done;
		void *darg = op->arg;
		uint32_t domid = op->domid;
		struct be_error err = op->err;
		bool failed = op->failed;
		op_free(op);
		if (be->notes)
			event_active(be->kick, EV_TIMEOUT, 1);
		done(darg, failed ? &err : NULL, failed && domid == NO_DOMID ? 0 : domid);
		return;
	}
}

/* ---- backend_ops -------------------------------------------------------------------------- */

static bool xl_available(struct be_error *err)
{
	/* Only a dom0 (control domain) can run a toolstack. */
	size_t len;
	char *caps = read_file("/proc/xen/capabilities", 4096, &len);
	bool ok = caps && strstr(caps, "control_d");
	if (!ok)
		be_error_set(err, VMD_ERR_BACKEND, "%s",
			     caps ? "this is a Xen guest, not the control domain (dom0)"
				  : "not running in a Xen dom0 (no /proc/xen/capabilities; is xenfs "
				    "mounted?)");
	free(caps);
	return ok;
}

/* xl's "auto": balloon unless the admin gave dom0 a fixed size on Xen's command line. */
static bool dom0_mem_fixed(libxl_ctx *ctx)
{
	const libxl_version_info *v = libxl_get_version_info(ctx);
	if (!v || !v->commandline)
		return false;
	const char *p = v->commandline;
	while ((p = strstr(p, "dom0_mem="))) {
		if (p == v->commandline || p[-1] == ' ')
			return true;
		p++;
	}
	return false;
}

/* autoballoon and lockfile from xl.conf, as xl reads them. */
static void read_xl_conf(struct backend *be)
{
	int autoballoon = -1; /* auto */
	const char *lock = NULL;
	XLU_Config *c = NULL;
	char *report = NULL;
	size_t report_len = 0;
	FILE *rf = open_memstream(&report, &report_len);
	if (rf)
		c = xlu_cfg_init(rf, XL_CONF);
	if (c && xlu_cfg_readfile(c, XL_CONF) == 0) {
		const char *s;
		if (!xlu_cfg_get_string(c, "autoballoon", &s, 1)) {
			if (!strcmp(s, "on") || !strcmp(s, "1"))
				autoballoon = 1;
			else if (!strcmp(s, "off") || !strcmp(s, "0"))
				autoballoon = 0;
		}
		if (!xlu_cfg_get_string(c, "lockfile", &s, 1) && s[0] == '/')
			lock = s;
	}
	be->lock_path = xstrdup(lock ? lock : XL_LOCK_FILE);
	be->autoballoon = autoballoon >= 0 ? autoballoon == 1 : !dom0_mem_fixed(be->ctx);
	if (c)
		xlu_cfg_destroy(c);
	if (rf)
		fclose(rf);
	if (report && *report)
		log_warn("%s: %s", XL_CONF, report);
	free(report);
}

static void free_notes(struct backend *be)
{
	while (be->notes) {
		struct note *n = be->notes;
		be->notes = n->next;
		if (n->kind == NOTE_EVENT)
			libxl_event_free(be->ctx, n->ev);
		free(n);
	}
	be->notes_tail = &be->notes;
}

static void xl_close(struct backend *be)
{
	if (!be)
		return;
	free_notes(be);
	size_t busy = 0;
	while (be->ops) {
		struct op *op = be->ops;
		be->ops = op->next;
		busy += op->in_libxl;
		op_free(op); /* done is not called: the daemon is going away */
	}
	be->creating = NULL;
	lock_release(be);
	while (be->watches)
		watch_remove(be, be->watches);
	if (busy) {
		/* libxl_ctx_free asserts that no operation is in flight, and aborting one takes
		 * loop iterations we no longer have. The process is about to exit: leave the
		 * context to it. Guests are unaffected either way. */
		log_warn("libxl: %zu operation%s still in flight at close; not freeing libxl's "
			 "context",
			 busy, busy == 1 ? "" : "s");
	} else if (be->ctx) {
		be_libxl_loop_quiesce(be->loop);
		libxl_ctx_free(be->ctx);
	}
	be_libxl_loop_free(be->loop);
	if (be->kick)
		event_free(be->kick);
	free(be->lock_path);
	free(be);
}

static struct backend *xl_open(struct event_base *base, const struct backend_options *opts,
			       struct be_error *err)
{
	if (!base) {
		be_error_set(err, VMD_ERR_INTERNAL, "libxl: no event base");
		return NULL;
	}
	struct backend *be = xcalloc(1, sizeof *be);
	be->base = base;
	be->lock_fd = -1;
	be->notes_tail = &be->notes;
	be->on_event = opts ? opts->on_event : NULL;
	be->event_arg = opts ? opts->event_arg : NULL;
	be->logger.vtable.vmessage = logger_vmessage;
	be->logger.vtable.progress = logger_progress;
	be->logger.vtable.destroy = logger_destroy;
	be->kick = event_new(base, -1, 0, kick_cb, be);
	if (!be->kick) {
		be_error_set(err, VMD_ERR_INTERNAL, "libxl: cannot allocate an event");
		xl_close(be);
		return NULL;
	}
	if (libxl_ctx_alloc(&be->ctx, LIBXL_VERSION, 0, &be->logger.vtable) != 0) {
		be->ctx = NULL;
		be_error_set(err, VMD_ERR_BACKEND,
			     "cannot open libxl (is xenstored running? see the log)");
		xl_close(be);
		return NULL;
	}
	be->loop = be_libxl_loop_new(base, be->ctx, err);
	if (!be->loop) {
		xl_close(be);
		return NULL;
	}
	libxl_event_register_callbacks(be->ctx, &event_hooks, be);
	read_xl_conf(be);
	const libxl_version_info *v = libxl_get_version_info(be->ctx);
	log_info("libxl: Xen %d.%d%s, autoballoon %s, creation lock %s",
		 v ? v->xen_version_major : 0, v ? v->xen_version_minor : 0,
		 v && v->xen_version_extra ? v->xen_version_extra : "",
		 be->autoballoon ? "on" : "off", be->lock_path);
	return be;
}

static int xl_host_info(struct backend *be, struct host_info *out, struct be_error *err)
{
	memset(out, 0, sizeof *out);
	libxl_physinfo pi;
	libxl_physinfo_init(&pi);
	int rc = libxl_get_physinfo(be->ctx, &pi);
	if (rc) {
		libxl_physinfo_dispose(&pi);
		set_libxl_error(err, rc, "reading host information");
		return -1;
	}
	const libxl_version_info *v = libxl_get_version_info(be->ctx);
	uint64_t page_kib = v && v->pagesize ? (uint64_t)v->pagesize / 1024 : 4;
	out->total_kib = pi.total_pages * page_kib;
	out->free_kib = pi.free_pages * page_kib;
	out->nr_cpus = (int)pi.nr_cpus;
	snprintf(out->hypervisor, sizeof out->hypervisor, "xen-%d.%d",
		 v ? v->xen_version_major : 0, v ? v->xen_version_minor : 0);
	libxl_physinfo_dispose(&pi);
	return 0;
}

static int xl_list(struct backend *be, struct dom_info **out, size_t *n, struct be_error *err)
{
	int nb = 0;
	libxl_dominfo *l = libxl_list_domain(be->ctx, &nb);
	if (!l) {
		be_error_set(err, VMD_ERR_BACKEND, "cannot list domains (see the daemon log)");
		return -1;
	}
	struct dom_info *list = xcalloc(nb > 0 ? (size_t)nb : 1, sizeof *list);
	size_t count = 0;
	for (int i = 0; i < nb; i++) {
		if (l[i].domid == 0)
			continue;
		fill_info(be, &l[i], &list[count]);
		/* A domain still being built by us has no record yet; like sim, it is not
		 * there until its create is done. */
		if (!list[count].record && being_created(be, list[count].name)) {
			dom_info_finish(&list[count]);
			continue;
		}
		count++;
	}
	libxl_dominfo_list_free(l, nb);
	*out = list;
	*n = count;
	return 0;
}

static int xl_info(struct backend *be, uint32_t domid, struct dom_info *out,
		   struct be_error *err)
{
	libxl_dominfo i;
	if (domid == 0) {
		be_error_set(err, VMD_ERR_NOT_FOUND, "domain 0 is not a guest");
		return -1;
	}
	if (dominfo(be, domid, &i, err) < 0)
		return -1;
	fill_info(be, &i, out);
	libxl_dominfo_dispose(&i);
	return 0;
}

static int check_path(const char *what, const char *path, int mode, struct be_error *err)
{
	if (access(path, mode) < 0) {
		be_error_set(err, VMD_ERR_BACKEND, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* What libxl would only find out seconds into the build, with a message nobody reads. */
static int precheck(const struct vm_config *cfg, const libxl_domain_config *dc,
		    struct be_error *err)
{
	if (dc->b_info.kernel && check_path("kernel", dc->b_info.kernel, R_OK, err) < 0)
		return -1;
	if (dc->b_info.ramdisk && check_path("ramdisk", dc->b_info.ramdisk, R_OK, err) < 0)
		return -1;
	if (dc->b_info.bootloader &&
	    check_path("bootloader", dc->b_info.bootloader, X_OK, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_disks; i++) {
		const struct vm_disk *d = &cfg->disks[i];
		/* a block script takes a target that is not a path (iscsi, drbd...) */
		if (!d->target || !*d->target || d->script)
			continue;
		char what[64];
		snprintf(what, sizeof what, "disk %s:", d->vdev);
		if (check_path(what, d->target, d->readwrite ? R_OK | W_OK : R_OK, err) < 0)
			return -1;
	}
	return 0;
}

static int xl_create(struct backend *be, const struct vm_config *cfg, const char *record,
		     backend_done_fn *done, void *arg, struct be_error *err)
{
	if (!cfg || !done || !record || !*record) {
		be_error_set(err, VMD_ERR_INTERNAL, "libxl: create without config, record or done");
		return -1;
	}
	libxl_domain_config dc;
	if (be_libxl_config_build(cfg, &dc, err) < 0)
		return -1;
	if (precheck(cfg, &dc, err) < 0) {
		libxl_domain_config_dispose(&dc);
		return -1;
	}
	uint32_t other;
	if (being_created(be, cfg->name) || libxl_name_to_domid(be->ctx, cfg->name, &other) == 0) {
		be_error_set(err, VMD_ERR_EXISTS, "a domain named %s already exists", cfg->name);
		libxl_domain_config_dispose(&dc);
		return -1;
	}
	struct op *op = op_new(be, OP_CREATE, done, arg);
	op->dc = dc;
	op->name = xstrdup(cfg->name);
	op->record = xstrdup(record);
	op->domid = NO_DOMID;
	op->stage = ST_QUEUED;
	op->since = now_monotonic();
	op->timer = evtimer_new(be->base, op_timer_cb, op);
	if (!op->timer) {
		op_unlink(op);
		op_free(op);
		be_error_set(err, VMD_ERR_INTERNAL, "libxl: cannot allocate a timer");
		return -1;
	}
	if (be->creating)
		log_info("%s: create queued behind %s", cfg->name, be->creating->name);
	create_next(be);
	return 0;
}

static int xl_destroy(struct backend *be, uint32_t domid, backend_done_fn *done, void *arg,
		      struct be_error *err)
{
	if (!done) {
		be_error_set(err, VMD_ERR_INTERNAL, "libxl: destroy without done");
		return -1;
	}
	libxl_dominfo i;
	if (domid == 0) {
		be_error_set(err, VMD_ERR_BAD_STATE, "refusing to destroy domain 0");
		return -1;
	}
	if (dominfo(be, domid, &i, err) < 0)
		return -1;
	libxl_dominfo_dispose(&i);
	struct op *op = op_new(be, OP_DESTROY, done, arg);
	op->domid = domid;
	op->stage = ST_DESTROY;
	op->in_libxl = true;
	struct watch *w = watch_find(be, domid);
	if (w)
		w->destroying++;
	libxl_asyncop_how how = {.callback = ao_callback, .u.for_callback = op};
	int rc = libxl_domain_destroy(be->ctx, domid, &how);
	if (rc) {
		if (w)
			w->destroying--;
		op_unlink(op);
		op_free(op);
		set_libxl_error(err, rc, "destroying domain %" PRIu32, domid);
		return -1;
	}
	log_info("domain %" PRIu32 ": destroying", domid);
	return 0;
}

/* A domain that can still act on a request: not shut down, crashed or dying. */
static int live_domain(struct backend *be, uint32_t domid, libxl_dominfo *i,
		       struct be_error *err)
{
	if (domid == 0) {
		be_error_set(err, VMD_ERR_BAD_STATE, "domain 0 is not a guest");
		return -1;
	}
	if (dominfo(be, domid, i, err) < 0)
		return -1;
	if (i->dying || i->shutdown) {
		be_error_set(err, VMD_ERR_BAD_STATE, "domain %" PRIu32 " is %s", domid,
			     i->dying ? "dying" : "shut down");
		libxl_dominfo_dispose(i);
		return -1;
	}
	return 0;
}

/* Shutdown or reboot request; an HVM guest without PV drivers gets the ACPI button (power)
 * or a reset instead, as `xl shutdown -F` / `xl reboot -F` do. */
static int request(struct backend *be, uint32_t domid, bool reboot, struct be_error *err)
{
	libxl_dominfo i;
	if (live_domain(be, domid, &i, err) < 0)
		return -1;
	bool hvm = i.domain_type == LIBXL_DOMAIN_TYPE_HVM;
	libxl_dominfo_dispose(&i);
	int rc = reboot ? libxl_domain_reboot(be->ctx, domid, NULL)
			: libxl_domain_shutdown(be->ctx, domid, NULL);
	if (rc == ERROR_NOPARAVIRT && hvm) {
		log_info("domain %" PRIu32 " has no PV control; sending the ACPI %s", domid,
			 reboot ? "reset" : "power button");
		rc = libxl_send_trigger(be->ctx, domid,
					reboot ? LIBXL_TRIGGER_RESET : LIBXL_TRIGGER_POWER, 0, NULL);
	}
	if (rc) {
		set_libxl_error(err, rc, "%s domain %" PRIu32,
				reboot ? "rebooting" : "shutting down", domid);
		return -1;
	}
	return 0;
}

static int xl_shutdown(struct backend *be, uint32_t domid, struct be_error *err)
{
	return request(be, domid, false, err);
}

static int xl_reboot(struct backend *be, uint32_t domid, struct be_error *err)
{
	return request(be, domid, true, err);
}

/* Xen counts pauses; like sim, pause and unpause are idempotent here. */
static int xl_pause(struct backend *be, uint32_t domid, struct be_error *err)
{
	libxl_dominfo i;
	if (live_domain(be, domid, &i, err) < 0)
		return -1;
	bool paused = i.paused;
	libxl_dominfo_dispose(&i);
	int rc = paused ? 0 : libxl_domain_pause(be->ctx, domid, NULL);
	if (rc) {
		set_libxl_error(err, rc, "pausing domain %" PRIu32, domid);
		return -1;
	}
	return 0;
}

static int xl_unpause(struct backend *be, uint32_t domid, struct be_error *err)
{
	libxl_dominfo i;
	if (live_domain(be, domid, &i, err) < 0)
		return -1;
	bool paused = i.paused;
	libxl_dominfo_dispose(&i);
	int rc = paused ? libxl_domain_unpause(be->ctx, domid, NULL) : 0;
	if (rc) {
		set_libxl_error(err, rc, "unpausing domain %" PRIu32, domid);
		return -1;
	}
	return 0;
}

static int xl_console(struct backend *be, uint32_t domid, struct console_info *out,
		      struct be_error *err)
{
	libxl_dominfo i;
	if (domid == 0) {
		be_error_set(err, VMD_ERR_BAD_STATE, "domain 0 is not a guest");
		return -1;
	}
	if (dominfo(be, domid, &i, err) < 0)
		return -1;
	bool hvm = i.domain_type == LIBXL_DOMAIN_TYPE_HVM;
	libxl_dominfo_dispose(&i);
	/* PV and PVH guests: the PV console (hvc0). HVM: the emulated serial port, which
	 * exists when the config asks for serial = "pty". */
	char *path = NULL;
	int rc = libxl_console_get_tty(be->ctx, domid, 0,
				       hvm ? LIBXL_CONSOLE_TYPE_SERIAL : LIBXL_CONSOLE_TYPE_PV,
				       &path);
	if (rc || !path || !*path) {
		free(path);
		if (rc)
			set_libxl_error(err, rc, "console of domain %" PRIu32, domid);
		else
			be_error_set(err, VMD_ERR_BACKEND, "domain %" PRIu32 " has no console",
				     domid);
		return -1;
	}
	memset(out, 0, sizeof *out);
	snprintf(out->path, sizeof out->path, "%s", path);
	snprintf(out->kind, sizeof out->kind, "%s", hvm ? "serial" : "pv");
	free(path);
	return 0;
}

static int xl_watch(struct backend *be, uint32_t domid, struct be_error *err)
{
	libxl_dominfo i;
	if (domid == 0) {
		be_error_set(err, VMD_ERR_BAD_STATE, "domain 0 is not a guest");
		return -1;
	}
	if (dominfo(be, domid, &i, err) < 0)
		return -1;
	libxl_dominfo_dispose(&i);
	/* A domain that shut down while no vmd watched it is reported at once. */
	return watch_add(be, domid, err);
}

const struct backend_ops backend_libxl = {
	.name = "libxl",
	.available = xl_available,
	.open = xl_open,
	.close = xl_close,
	.host_info = xl_host_info,
	.list = xl_list,
	.info = xl_info,
	.create = xl_create,
	.shutdown = xl_shutdown,
	.reboot = xl_reboot,
	.destroy = xl_destroy,
	.pause = xl_pause,
	.unpause = xl_unpause,
	.console = xl_console,
	.watch = xl_watch,
	.inject = NULL,
};
