/*
 * libxl.c: the real backend, `vmd --backend=libxl` (the default in a Xen dom0).
 *
 * The daemon's libxl_ctx is driven by the daemon's libevent loop (libxl-event.c). Destroys are
 * libxl asynchronous operations (libxl_asyncop_how); the quick calls (shutdown, reboot, pause,
 * unpause, info, console) are synchronous libxl calls that spawn no child process; creates go
 * to the builder thread. So a guest that takes seconds to build or to tear down never stops
 * the daemon from answering.
 *
 * Hand-off: libxl reports completions and domain events through callbacks that may run inside
 * any libxl call (even inside the call that started the operation). Those callbacks only queue
 * a note; the notes are delivered one per loop callback, in order, so the core is never called
 * under libxl's locks nor from inside the call it made, and may call back into the backend
 * (destroy after a shutdown event, create after that destroy) from its callbacks.
 *
 * The daemon's context (here) does everything but the builds: lists, info, consoles, requests,
 * pause, destroys (asynchronous) and the death events; all of it on the daemon's loop.
 *
 * Creates run on a second libxl context in a thread of their own (libxl-build.c says why and
 * how: xl's creation lock, ballooning dom0, the build, our record as userdata "vmd"); the
 * domain comes back here paused, and here it is watched and unpaused. Should that fail, the
 * domain is destroyed before the error is reported.
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
#include <unistd.h>

#include <event2/event.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "defer.h"
#include "log.h"
#include "util.h"
#include "vmd-proto.h"

#define USERDATA_ID BE_LIBXL_USERDATA
#define NO_DOMID BE_LIBXL_NO_DOMID

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
	bool addr_watched; /* its attr/vif is watched (addr_watch) */
	bool addr_primed;  /* xenstored's first firing of that watch, at once, came */
};

enum op_kind { OP_CREATE, OP_DESTROY, OP_SEND, OP_DEVICE };

enum stage {
	ST_BUILDING, /* create: with the builder thread */
	ST_CLEANUP,  /* create: destroying a domain we could not finish */
	ST_DESTROY,  /* destroy: libxl_domain_destroy in flight */
	ST_SEND,     /* migrate_send: libxl_domain_suspend in flight */
	ST_DEVICE,   /* disk_attach/detach: libxl_device_disk_add/remove in flight */
	ST_DONE,     /* finished; the done note is queued */
};

struct op {
	struct op *next; /* be->ops, in start order */
	struct xl *be;
	enum op_kind kind;
	enum stage stage;
	uint32_t domid;
	backend_done_fn *done;
	void *arg;
	bool in_libxl;       /* a libxl asynchronous operation of ours is running */
	bool failed;
	struct err err; /* what done reports when failed */
	char *name;          /* create: the domain's */
	double since;        /* create: when it was asked for (monotonic) */
	bool keep_paused;    /* create: from a migration stream, the caller unpauses */
	libxl_device_disk *disk; /* device: what libxl works on until it is done */
	libxl_device_nic *nic;
};

enum note_kind { NOTE_AO, NOTE_EVENT, NOTE_DONE };

struct note {
	struct defer_note link; /* first: the queue's */
	enum note_kind kind;
	struct op *op;   /* NOTE_AO, NOTE_DONE */
	int rc;          /* NOTE_AO */
	libxl_event *ev; /* NOTE_EVENT, ours to free */
};

struct xl {
	struct backend handle; /* first: what the core holds */
	struct event_base *base;
	struct vmd_logger logger;
	libxl_ctx *ctx;
	struct be_libxl_loop *loop;
	struct be_libxl_builder *builder;
	backend_event_fn *on_event;
	void *event_arg;
	const char *(*bridge_of)(void *arg, const char *name);
	struct watch *watches;
	uint64_t next_watch_id;
	struct op *ops;
	struct defer *notes; /* callbacks on their way to the core */
	struct xs_handle *xs; /* vm.stats' reads, kept open (xs_of) */
	struct xs_handle *xsw; /* the watches of guest agents' addresses (addr_watch) */
	struct event *xsw_ev;
};

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

/* Both libxl contexts log through this, from both threads: log_msg writes a line at once. */
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
static void set_libxl_error(struct err *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_libxl_error(struct err *err, int rc, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	int code = rc == ERROR_DOMAIN_NOTFOUND ? VMD_ERR_NOT_FOUND
		   : rc == ERROR_NOMEM		? VMD_ERR_NO_RESOURCES
						: VMD_ERR_BACKEND;
	err_set(err, code, "%s: libxl error %d (%s; see the daemon log)", what, rc,
		     libxl_error_to_string(rc));
}

/* ---- notes: the hand-off from libxl's callbacks to the loop -------------------------------- */

static struct note *note_push(struct xl *be, enum note_kind kind)
{
	struct note *n = xcalloc(1, sizeof *n);
	n->kind = kind;
	defer_push(be->notes, &n->link);
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
	struct xl *be = user;
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
	note_push(op->be, NOTE_DONE)->op = op;
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
	if (op->disk) {
		libxl_device_disk_dispose(op->disk);
		free(op->disk);
	}
	if (op->nic) {
		libxl_device_nic_dispose(op->nic);
		free(op->nic);
	}
	free(op->name);
	free(op);
}

static struct op *op_new(struct xl *be, enum op_kind kind, backend_done_fn *done, void *arg)
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

static struct watch *watch_find(struct xl *be, uint32_t domid)
{
	for (struct watch *w = be->watches; w; w = w->next)
		if (w->domid == domid)
			return w;
	return NULL;
}

static struct watch *watch_by_id(struct xl *be, uint64_t id)
{
	for (struct watch *w = be->watches; w; w = w->next)
		if (w->id == id)
			return w;
	return NULL;
}

/* ---- guest agents' addresses: attr/vif of each watched domain, watched in xenstore -------- */

static void addr_path(uint32_t domid, char *path, size_t len, char *token, size_t tlen)
{
	snprintf(path, len, "/local/domain/%" PRIu32 "/attr/vif", domid);
	snprintf(token, tlen, "vmd-addr-%" PRIu32, domid);
}

/* The watch connection fired: each domain whose attr/vif changed gets DOM_EV_ADDRESSES, once
 * for all the writes this batch brought (an agent writes one node per address). */
static void addr_fired(evutil_socket_t fd, short what, void *arg)
{
	struct xl *be = arg;
	uint32_t changed[64];
	size_t n = 0;
	char **v;
	errno = 0;
	while ((v = xs_check_watch(be->xsw))) {
		unsigned long domid = 0;
		struct watch *w = sscanf(v[XS_WATCH_TOKEN], "vmd-addr-%lu", &domid) == 1
					  ? watch_find(be, (uint32_t)domid)
					  : NULL;
		free(v);
		if (!w || !w->addr_watched)
			continue;
		if (!w->addr_primed) { /* the firing at registration is no change */
			w->addr_primed = true;
			continue;
		}
		bool seen = false;
		for (size_t i = 0; i < n; i++)
			seen |= changed[i] == w->domid;
		if (!seen && n < sizeof changed / sizeof changed[0])
			changed[n++] = w->domid;
	}
	if (errno != EAGAIN) {
		/* the connection broke (xenstored went away): stop, rather than spin on its fd;
		 * addresses are still read when asked */
		log_warn("xenstore: the watch of guest agents' addresses failed: %s; no more "
			 "address events", strerror(errno));
		event_free(be->xsw_ev);
		be->xsw_ev = NULL;
		xs_close(be->xsw);
		be->xsw = NULL;
		for (struct watch *w = be->watches; w; w = w->next)
			w->addr_watched = false;
	}
	for (size_t i = 0; i < n; i++)
		if (be->on_event)
			be->on_event(be->event_arg, changed[i], DOM_EV_ADDRESSES);
}

/* Watches domid's attr/vif (best effort: without it, addresses are still read when asked). */
static void addr_watch(struct xl *be, struct watch *w)
{
	if (!be->xsw) {
		be->xsw = xs_open(0);
		int fd = be->xsw ? xs_fileno(be->xsw) : -1;
		if (fd < 0) {
			log_warn("xenstore: cannot watch guest agents' addresses: %s",
				 strerror(errno));
			if (be->xsw)
				xs_close(be->xsw);
			be->xsw = NULL;
			return;
		}
		be->xsw_ev = event_new(be->base, fd, EV_READ | EV_PERSIST, addr_fired, be);
		event_add(be->xsw_ev, NULL);
	}
	char path[64], token[32];
	addr_path(w->domid, path, sizeof path, token, sizeof token);
	if (xs_watch(be->xsw, path, token))
		w->addr_watched = true;
	else
		log_warn("xenstore: cannot watch %s: %s", path, strerror(errno));
}

static void addr_unwatch(struct xl *be, struct watch *w)
{
	char path[64], token[32];
	addr_path(w->domid, path, sizeof path, token, sizeof token);
	if (w->addr_watched && be->xsw)
		xs_unwatch(be->xsw, path, token);
	w->addr_watched = false;
}

static int watch_add(struct xl *be, uint32_t domid, struct err *err)
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
	addr_watch(be, w);
	return 0;
}

static void watch_remove(struct xl *be, struct watch *w)
{
	for (struct watch **pp = &be->watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	/* Events it generated before this may still be queued: their id finds no watch. */
	libxl_evdisable_domain_death(be->ctx, w->evgen);
	addr_unwatch(be, w);
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
static char *record_of(struct xl *be, uint32_t domid)
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

static void fill_info(struct xl *be, const libxl_dominfo *i, struct dom_info *out)
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
	/* why it is down, so that on_* can be applied to a guest that stopped while the daemon
	 * was not running */
	if (i->shutdown && !i->dying) {
		out->has_reason = true;
		switch ((int)i->shutdown_reason) {
		case LIBXL_SHUTDOWN_REASON_POWEROFF:
			out->reason = DOM_EV_POWEROFF;
			break;
		case LIBXL_SHUTDOWN_REASON_REBOOT:
			out->reason = DOM_EV_REBOOT;
			break;
		case LIBXL_SHUTDOWN_REASON_WATCHDOG:
			out->reason = DOM_EV_WATCHDOG;
			break;
		case LIBXL_SHUTDOWN_REASON_SOFT_RESET:
			out->reason = DOM_EV_SOFT_RESET;
			break;
		case LIBXL_SHUTDOWN_REASON_SUSPEND:
			out->has_reason = false; /* a save in progress, or left behind */
			break;
		default:
			out->reason = DOM_EV_CRASH;
		}
	}
}

/* libxl_domain_info with our error codes. */
static int dominfo(struct xl *be, uint32_t domid, libxl_dominfo *out, struct err *err)
{
	libxl_dominfo_init(out);
	int rc = libxl_domain_info(be->ctx, out, domid);
	if (rc == 0)
		return 0;
	libxl_dominfo_dispose(out);
	if (rc == ERROR_DOMAIN_NOTFOUND)
		err_set(err, VMD_ERR_NOT_FOUND, "no domain with domid %" PRIu32, domid);
	else
		set_libxl_error(err, rc, "domain %" PRIu32, domid);
	return -1;
}

/* dominfo of a guest: domain 0 is none (NOT_FOUND, as for a domid nobody has). */
static int guest_dominfo(struct xl *be, uint32_t domid, libxl_dominfo *out, struct err *err)
{
	if (domid == 0) {
		err_set(err, VMD_ERR_NOT_FOUND, "domain 0 is not a guest");
		return -1;
	}
	return dominfo(be, domid, out, err);
}

/* Is a create of ours building a domain of this name? (It has no record yet: not listed.) */
static bool being_created(struct xl *be, const char *name)
{
	for (struct op *op = be->ops; op; op = op->next)
		if (op->kind == OP_CREATE && op->stage == ST_BUILDING &&
		    strcmp(op->name, name) == 0)
			return true;
	return false;
}

/* ---- create (the daemon's half) ----------------------------------------------------------- */

/* Leaves nothing behind: destroys the domain, then reports op->err. */
static void create_cleanup(struct op *op)
{
	struct xl *be = op->be;
	log_error("%s: %s; destroying domain %" PRIu32, op->name, op->err.msg, op->domid);
	op->failed = true;
	struct watch *w = watch_find(be, op->domid);
	if (w)
		watch_remove(be, w);
	op->stage = ST_CLEANUP;
	libxl_asyncop_how how = {.callback = ao_callback, .u.for_callback = op};
	int rc = libxl_domain_destroy(be->ctx, op->domid, &how);
	if (rc) {
		log_error("%s: cannot destroy domain %" PRIu32 " either (libxl error %d)", op->name,
			  op->domid, rc);
		op_finish(op);
		return;
	}
	op->in_libxl = true;
}

/* The builder is done with c (on our loop): a paused domain with our record, or a failure. */
static void built(void *arg, struct be_libxl_create *c)
{
	struct op *op = c->owner;
	op->domid = c->domid;
	if (c->failed) {
		op->err = c->err;
		op->failed = true;
		if (c->domid != NO_DOMID)
			create_cleanup(op);
		else
			op_finish(op);
		be_libxl_create_free(c);
		return;
	}
	double build_s = c->build_s;
	be_libxl_create_free(c);
	/* Watch before it runs, so that not even a very quick shutdown goes unseen. */
	struct xl *be = op->be;
	struct err e = {0};
	int rc = watch_add(be, op->domid, &e) < 0 ? -1 : 0;
	if (rc == 0 && !op->keep_paused &&
	    (rc = libxl_domain_unpause(be->ctx, op->domid, NULL)) != 0)
		set_libxl_error(&e, rc, "unpausing domain %" PRIu32, op->domid);
	if (rc) {
		op->err = e;
		create_cleanup(op);
		return;
	}
	log_info("%s: created domain %" PRIu32 " in %.1f s (%.1f s in libxl's build)", op->name,
		 op->domid, now_monotonic() - op->since, build_s);
	op_finish(op);
}

/* A libxl asynchronous operation of op's finished with rc. */
static void ao_done(struct op *op, int rc)
{
	struct xl *be = op->be;
	op->in_libxl = false;
	switch (op->stage) {
	case ST_CLEANUP:
		if (rc && rc != ERROR_DOMAIN_NOTFOUND)
			log_error("%s: destroying domain %" PRIu32 " after a failed create: libxl "
				  "error %d",
				  op->name, op->domid, rc);
		op_finish(op);
		return;
	case ST_SEND:
		if (rc) {
			set_libxl_error(&op->err, rc, "sending domain %" PRIu32, op->domid);
			op->failed = true;
			log_error("%s", op->err.msg);
		} else {
			log_info("domain %" PRIu32 ": sent (%.1f s)", op->domid,
				 now_monotonic() - op->since);
		}
		op_finish(op);
		return;
	case ST_DEVICE:
		if (rc) {
			set_libxl_error(&op->err, rc, "%s", op->name);
			op->failed = true;
			log_error("%s", op->err.msg);
		} else {
			log_info("domain %" PRIu32 ": done %s", op->domid, op->name);
		}
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
static bool translate_event(struct xl *be, const libxl_event *ev, enum dom_event *out)
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
			*out = DOM_EV_CRASH;
			return true;
		case LIBXL_SHUTDOWN_REASON_WATCHDOG:
			*out = DOM_EV_WATCHDOG;
			return true;
		case LIBXL_SHUTDOWN_REASON_SOFT_RESET:
			*out = DOM_EV_SOFT_RESET;
			return true;
		case LIBXL_SHUTDOWN_REASON_SUSPEND:
			/* Not ours to handle (save/migrate). libxl will not report another
			 * shutdown of this domain on this watch; its death still arrives. */
			log_info("domain %" PRIu32 " shut down for suspend; ignored", ev->domid);
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

/* A note from the queue (defer.h): an asynchronous operation's end is backend work; events
 * and done functions call into the core. */
static bool deliver(void *owner, struct defer_note *dn)
{
	struct xl *be = owner;
	struct note c = *(struct note *)dn;
	free(dn);
	if (c.kind == NOTE_AO) {
		ao_done(c.op, c.rc);
		return false;
	}
	if (c.kind == NOTE_EVENT) {
		enum dom_event dev;
		uint32_t domid = c.ev->domid;
		bool deliver = translate_event(be, c.ev, &dev) && be->on_event;
		libxl_event_free(be->ctx, c.ev);
		if (!deliver)
			return false;
		be->on_event(be->event_arg, domid, dev);
		return true;
	}
	/* NOTE_DONE */
	struct op *op = c.op;
	op_unlink(op);
	backend_done_fn *done = op->done;
	void *darg = op->arg;
	uint32_t domid = op->domid;
	struct err err = op->err;
	bool failed = op->failed;
	op_free(op);
	done(darg, failed ? &err : NULL, failed && domid == NO_DOMID ? 0 : domid);
	return true;
}

static void drop_note(void *owner, struct defer_note *dn)
{
	struct xl *be = owner;
	struct note *n = (struct note *)dn;
	if (n->kind == NOTE_EVENT)
		libxl_event_free(be->ctx, n->ev);
	free(n);
}

/* ---- backend_ops -------------------------------------------------------------------------- */

static bool xl_available(struct err *err)
{
	/* Only a dom0 (control domain) can run a toolstack. */
	size_t len;
	char *caps = read_file("/proc/xen/capabilities", 4096, &len);
	bool ok = caps && strstr(caps, "control_d");
	if (!ok)
		err_set(err, VMD_ERR_BACKEND, "%s",
			     caps ? "this is a Xen guest, not the control domain (dom0)"
				  : "not running in a Xen dom0 (no /proc/xen/capabilities; "
				    "is xenfs mounted?)");
	free(caps);
	return ok;
}

static void xl_close(struct backend *b)
{
	struct xl *be = (struct xl *)b;
	if (!be)
		return;
	/* First the thread: creates it still has are dropped with it. */
	be_libxl_builder_free(be->builder);
	defer_free(be->notes, drop_note);
	be->notes = NULL;
	size_t busy = 0;
	while (be->ops) {
		struct op *op = be->ops;
		be->ops = op->next;
		busy += op->in_libxl;
		op_free(op); /* done is not called: the daemon is going away */
	}
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
	if (be->xs)
		xs_close(be->xs);
	if (be->xsw_ev)
		event_free(be->xsw_ev);
	if (be->xsw)
		xs_close(be->xsw);
	free(be);
}

static struct backend *xl_open(struct event_base *base, const struct backend_options *opts,
			       struct err *err)
{
	if (!base) {
		err_set(err, VMD_ERR_INTERNAL, "libxl: no event base");
		return NULL;
	}
	struct xl *be = xcalloc(1, sizeof *be);
	be->base = base;
	be->on_event = opts ? opts->on_event : NULL;
	be->bridge_of = opts ? opts->bridge_of : NULL;
	be->event_arg = opts ? opts->event_arg : NULL;
	be->logger.vtable.vmessage = logger_vmessage;
	be->logger.vtable.progress = logger_progress;
	be->logger.vtable.destroy = logger_destroy;
	be->notes = defer_new(base, deliver, be);
	if (!be->notes) {
		err_set(err, VMD_ERR_INTERNAL, "libxl: cannot allocate an event");
		xl_close(&be->handle);
		return NULL;
	}
	if (libxl_ctx_alloc(&be->ctx, LIBXL_VERSION, 0, &be->logger.vtable) != 0) {
		be->ctx = NULL;
		err_set(err, VMD_ERR_BACKEND,
			     "cannot open libxl (is xenstored running? see the log)");
		xl_close(&be->handle);
		return NULL;
	}
	be->loop = be_libxl_loop_new(base, be->ctx, true, err);
	if (!be->loop) {
		xl_close(&be->handle);
		return NULL;
	}
	libxl_event_register_callbacks(be->ctx, &event_hooks, be);
	be->builder = be_libxl_builder_new(base, &be->logger.vtable, built, be, err);
	if (!be->builder) {
		xl_close(&be->handle);
		return NULL;
	}
	be_libxl_loop_on_sigchld(be->loop, be_libxl_builder_sigchld, be->builder);
	const libxl_version_info *v = libxl_get_version_info(be->ctx);
	log_info("libxl: Xen %d.%d%s, autoballoon %s, creation lock %s",
		 v ? v->xen_version_major : 0, v ? v->xen_version_minor : 0,
		 v && v->xen_version_extra ? v->xen_version_extra : "",
		 be_libxl_builder_autoballoon(be->builder) ? "on" : "off",
		 be_libxl_builder_lock_path(be->builder));
	return &be->handle;
}

static int xl_host_info(struct backend *b, struct host_info *out, struct err *err)
{
	struct xl *be = (struct xl *)b;
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
	out->max_cpus = libxl_get_max_cpus(be->ctx);
	out->nr_nodes = (int)pi.nr_nodes; /* what xl checks a vnode's pnode against */
	if (out->max_cpus <= 0)
		out->max_cpus = out->nr_cpus;
	if (out->nr_nodes <= 0)
		out->nr_nodes = 1;
	int n_topo = 0;
	libxl_cputopology *topo = libxl_get_cpu_topology(be->ctx, &n_topo);
	if (topo && n_topo > 0) {
		out->cpu_node = xcalloc((size_t)out->max_cpus, sizeof *out->cpu_node);
		for (int i = 0; i < out->max_cpus; i++)
			out->cpu_node[i] = i < n_topo && topo[i].node != LIBXL_CPUTOPOLOGY_INVALID_ENTRY
						   ? (int)topo[i].node
						   : -1;
	}
	if (topo)
		libxl_cputopology_list_free(topo, n_topo);
	snprintf(out->hypervisor, sizeof out->hypervisor, "xen-%d.%d",
		 v ? v->xen_version_major : 0, v ? v->xen_version_minor : 0);
	libxl_physinfo_dispose(&pi);
	return 0;
}

static int xl_list(struct backend *b, struct dom_info **out, size_t *n, struct err *err)
{
	struct xl *be = (struct xl *)b;
	int nb = 0;
	libxl_dominfo *l = libxl_list_domain(be->ctx, &nb);
	if (!l) {
		err_set(err, VMD_ERR_BACKEND, "cannot list domains (see the daemon log)");
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

static int xl_info(struct backend *b, uint32_t domid, struct dom_info *out,
		   struct err *err)
{
	struct xl *be = (struct xl *)b;
	libxl_dominfo i;
	if (guest_dominfo(be, domid, &i, err) < 0)
		return -1;
	fill_info(be, &i, out);
	libxl_dominfo_dispose(&i);
	return 0;
}

static int check_path(const char *what, const char *path, int mode, struct err *err)
{
	if (access(path, mode) < 0) {
		err_set(err, VMD_ERR_BACKEND, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* What libxl would only find out seconds into the build, with a message nobody reads. */
static int precheck(const libxl_domain_config *dc, struct err *err)
{
	if (dc->b_info.kernel && check_path("kernel", dc->b_info.kernel, R_OK, err) < 0)
		return -1;
	if (dc->b_info.ramdisk && check_path("ramdisk", dc->b_info.ramdisk, R_OK, err) < 0)
		return -1;
	/* a name ("pygrub") is libxl's to find in its own directory */
	if (dc->b_info.bootloader && dc->b_info.bootloader[0] == '/' &&
	    check_path("bootloader", dc->b_info.bootloader, X_OK, err) < 0)
		return -1;
	for (int i = 0; i < dc->num_disks; i++) {
		const libxl_device_disk *d = &dc->disks[i];
		/* a target a script or a protocol resolves (iscsi, drbd, rbd:...) is not a path */
		const char *file = vm_config_disk_file(d);
		if (!file)
			continue;
		char what[64];
		snprintf(what, sizeof what, "disk %s:", d->vdev);
		if (check_path(what, file, d->readwrite ? R_OK | W_OK : R_OK, err) < 0)
			return -1;
	}
	return 0;
}

/* A vif with bridge=NETWORK goes on that managed network's bridge. */
static void map_bridge(struct xl *be, libxl_device_nic *n)
{
	const char *br = be->bridge_of ? be->bridge_of(be->event_arg, n->bridge) : NULL;
	if (br && strcmp(br, n->bridge) != 0) {
		free(n->bridge);
		n->bridge = xstrdup(br);
	}
}

/* A create, from scratch or (restore_fd >= 0) from a migration stream, under name. */
static int submit_create(struct xl *be, const struct vm_config *cfg, const char *name,
			 const char *record, int restore_fd, backend_done_fn *done, void *arg,
			 struct err *err)
{
	if (!cfg || !done || !record || !*record) {
		err_set(err, VMD_ERR_INTERNAL, "libxl: create without config, record or done");
		return -1;
	}
	struct be_libxl_create *c = xcalloc(1, sizeof *c);
	libxl_domain_config_init(&c->dc);
	libxl_domain_config_copy(be->ctx, &c->dc, &cfg->dc);
	free(c->dc.c_info.name);
	c->dc.c_info.name = xstrdup(name);
	for (int i = 0; i < c->dc.num_nics; i++)
		map_bridge(be, &c->dc.nics[i]);
	c->restore_fd = restore_fd;
	uint32_t other;
	if (precheck(&c->dc, err) < 0) {
		be_libxl_create_free(c);
		return -1;
	}
	if (being_created(be, name) || libxl_name_to_domid(be->ctx, name, &other) == 0) {
		err_set(err, VMD_ERR_EXISTS, "a domain named %s already exists", name);
		be_libxl_create_free(c);
		return -1;
	}
	struct op *op = op_new(be, OP_CREATE, done, arg);
	op->name = xstrdup(name);
	op->domid = NO_DOMID;
	op->stage = ST_BUILDING;
	op->since = now_monotonic();
	op->keep_paused = restore_fd >= 0;
	c->name = xstrdup(name);
	c->record = xstrdup(record);
	c->owner = op;
	if (be_libxl_builder_submit(be->builder, c, err) < 0) {
		be_libxl_create_free(c);
		op_unlink(op);
		op_free(op);
		return -1;
	}
	return 0;
}

static int xl_create(struct backend *b, const struct vm_config *cfg, const char *record,
		     backend_done_fn *done, void *arg, struct err *err)
{
	return submit_create((struct xl *)b, cfg, cfg ? cfg->name : NULL, record, -1, done, arg,
			     err);
}

static int xl_destroy(struct backend *b, uint32_t domid, backend_done_fn *done, void *arg,
		      struct err *err)
{
	struct xl *be = (struct xl *)b;
	if (!done) {
		err_set(err, VMD_ERR_INTERNAL, "libxl: destroy without done");
		return -1;
	}
	libxl_dominfo i;
	if (guest_dominfo(be, domid, &i, err) < 0)
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
static int live_domain(struct xl *be, uint32_t domid, libxl_dominfo *i,
		       struct err *err)
{
	if (guest_dominfo(be, domid, i, err) < 0)
		return -1;
	if (i->dying || i->shutdown) {
		err_set(err, VMD_ERR_BAD_STATE, "domain %" PRIu32 " is %s", domid,
			     i->dying ? "dying" : "shut down");
		libxl_dominfo_dispose(i);
		return -1;
	}
	return 0;
}

/* Shutdown or reboot request; an HVM guest without PV drivers gets the ACPI button (power)
 * or a reset instead, as `xl shutdown -F` / `xl reboot -F` do. */
static int request(struct xl *be, uint32_t domid, bool reboot, struct err *err)
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
		libxl_trigger t = reboot ? LIBXL_TRIGGER_RESET : LIBXL_TRIGGER_POWER;
		rc = libxl_send_trigger(be->ctx, domid, t, 0, NULL);
	}
	if (rc) {
		set_libxl_error(err, rc, "%s domain %" PRIu32,
				reboot ? "rebooting" : "shutting down", domid);
		return -1;
	}
	return 0;
}

static int xl_shutdown(struct backend *b, uint32_t domid, struct err *err)
{
	struct xl *be = (struct xl *)b;
	return request(be, domid, false, err);
}

static int xl_reboot(struct backend *b, uint32_t domid, struct err *err)
{
	struct xl *be = (struct xl *)b;
	return request(be, domid, true, err);
}

/* Xen counts pauses; like sim, pause and unpause are idempotent here. */
static int xl_pause(struct backend *b, uint32_t domid, struct err *err)
{
	struct xl *be = (struct xl *)b;
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

static int xl_unpause(struct backend *b, uint32_t domid, struct err *err)
{
	struct xl *be = (struct xl *)b;
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

static int xl_console(struct backend *b, uint32_t domid, struct console_info *out,
		      struct err *err)
{
	struct xl *be = (struct xl *)b;
	libxl_dominfo i;
	if (guest_dominfo(be, domid, &i, err) < 0)
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
			err_set(err, VMD_ERR_BACKEND, "domain %" PRIu32 " has no console",
				     domid);
		return -1;
	}
	memset(out, 0, sizeof *out);
	snprintf(out->path, sizeof out->path, "%s", path);
	snprintf(out->kind, sizeof out->kind, "%s", hvm ? "serial" : "pv");
	free(path);
	return 0;
}

/* libxl keeps no record of the VNC port: the device model (qemu, started with vncunused so
 * it takes the first free display) writes it to xenstore, where xl vncviewer reads it too. */
static int xl_vnc(struct backend *b, uint32_t domid, char *out, size_t outlen,
		  struct err *err)
{
	struct xs_handle *xs = xs_open(0);
	if (!xs) {
		err_set(err, VMD_ERR_BACKEND, "cannot open xenstore: %s", strerror(errno));
		return -1;
	}
	char path[64];
	unsigned int len = 0;
	snprintf(path, sizeof path, "/local/domain/%" PRIu32 "/console/vnc-port", domid);
	char *port = xs_read(xs, XBT_NULL, path, &len);
	snprintf(path, sizeof path, "/local/domain/%" PRIu32 "/console/vnc-listen", domid);
	char *listen = port ? xs_read(xs, XBT_NULL, path, &len) : NULL;
	xs_close(xs);
	int r = -1;
	if (port && strspn(port, "0123456789") == strlen(port) && *port) {
		const char *host = listen && *listen ? listen : "127.0.0.1";
		snprintf(out, outlen, "%s:%s", host, port);
		r = 0;
	} else {
		err_set(err, VMD_ERR_BACKEND, "domain %" PRIu32 " has no VNC server", domid);
	}
	free(port);
	free(listen);
	return r;
}

/* attr/vif/DEVID/ipv4/N and ipv6/N under the domain's xenstore home: where a guest agent
 * (xen-guest-agent; xe-daemon writes the same for XAPI) publishes its vifs' addresses. */
static int xl_vif_addrs(struct backend *b, uint32_t domid, struct vif_addr **out, size_t *n,
			struct err *err)
{
	struct xs_handle *xs = xs_open(0);
	if (!xs) {
		err_set(err, VMD_ERR_BACKEND, "cannot open xenstore: %s", strerror(errno));
		return -1;
	}
	char path[128];
	unsigned int nd = 0;
	snprintf(path, sizeof path, "/local/domain/%" PRIu32 "/attr/vif", domid);
	char **devs = xs_directory(xs, XBT_NULL, path, &nd);
	size_t cap = 0;
	for (unsigned int i = 0; devs && i < nd; i++) {
		for (int v6 = 0; v6 < 2; v6++) {
			unsigned int na = 0;
			snprintf(path, sizeof path, "/local/domain/%" PRIu32 "/attr/vif/%s/%s",
				 domid, devs[i], v6 ? "ipv6" : "ipv4");
			char **idx = xs_directory(xs, XBT_NULL, path, &na);
			for (unsigned int k = 0; idx && k < na; k++) {
				char leaf[192];
				unsigned int len = 0;
				snprintf(leaf, sizeof leaf, "%s/%s", path, idx[k]);
				char *a = xs_read(xs, XBT_NULL, leaf, &len);
				if (a && *a && len < sizeof(*out)->addr) {
					if (*n == cap) {
						cap = cap ? 2 * cap : 8;
						*out = xrealloc(*out, cap * sizeof **out);
					}
					struct vif_addr *va = &(*out)[(*n)++];
					va->devid = atoi(devs[i]);
					va->ipv6 = v6;
					snprintf(va->addr, sizeof va->addr, "%s", a);
				}
				free(a);
			}
			free(idx);
		}
	}
	free(devs);
	xs_close(xs);
	return 0;
}

static int xl_core_dump(struct backend *b, uint32_t domid, const char *path, struct err *err)
{
	struct xl *be = (struct xl *)b;
	libxl_dominfo i;
	if (guest_dominfo(be, domid, &i, err) < 0)
		return -1;
	libxl_dominfo_dispose(&i);
	int rc = libxl_domain_core_dump(be->ctx, domid, path, NULL);
	if (rc) {
		set_libxl_error(err, rc, "core dump of domain %" PRIu32 " to %s", domid, path);
		return -1;
	}
	return 0;
}

/* ---- migration ---------------------------------------------------------------------------- */

static int xl_migrate_send(struct backend *b, uint32_t domid, int fd, bool live,
			   backend_done_fn *done, void *arg, struct err *err)
{
	struct xl *be = (struct xl *)b;
	libxl_dominfo i;
	if (!done) {
		err_set(err, VMD_ERR_INTERNAL, "libxl: migrate_send without done");
		return -1;
	}
	if (live_domain(be, domid, &i, err) < 0)
		return -1;
	libxl_dominfo_dispose(&i);
	struct op *op = op_new(be, OP_SEND, done, arg);
	op->domid = domid;
	op->stage = ST_SEND;
	op->since = now_monotonic();
	op->in_libxl = true;
	/* libxl's save helper writes the stream (xc_domain_save, then the device model's
	 * state for HVM); the guest is suspended at the end of it, as for xl migrate. */
	libxl_asyncop_how how = {.callback = ao_callback, .u.for_callback = op};
	int rc = libxl_domain_suspend(be->ctx, domid, fd, live ? LIBXL_SUSPEND_LIVE : 0, &how);
	if (rc) {
		op_unlink(op);
		op_free(op);
		set_libxl_error(err, rc, "sending domain %" PRIu32, domid);
		return -1;
	}
	log_info("domain %" PRIu32 ": sending its migration stream%s", domid, live ? " (live)" : "");
	return 0;
}

static int xl_migrate_resume(struct backend *b, uint32_t domid, struct err *err)
{
	struct xl *be = (struct xl *)b;
	/* suspend_cancel: the guest returns from its suspend hypercall as if it had failed,
	 * which every PV and PVHVM kernel handles (xl does the same after a failed migrate). */
	int rc = libxl_domain_resume(be->ctx, domid, 1, NULL);
	if (rc) {
		set_libxl_error(err, rc, "resuming domain %" PRIu32, domid);
		return -1;
	}
	log_info("domain %" PRIu32 ": resumed", domid);
	return 0;
}

static int xl_migrate_receive(struct backend *b, const struct vm_config *cfg, const char *name,
			      const char *record, int fd, backend_done_fn *done, void *arg,
			      struct err *err)
{
	return submit_create((struct xl *)b, cfg, name, record, fd, done, arg, err);
}

static int xl_rename(struct backend *b, uint32_t domid, const char *name, struct err *err)
{
	struct xl *be = (struct xl *)b;
	char *old = libxl_domid_to_name(be->ctx, domid);
	if (!old) {
		err_set(err, VMD_ERR_NOT_FOUND, "no domain with domid %" PRIu32, domid);
		return -1;
	}
	int rc = libxl_domain_rename(be->ctx, domid, old, name);
	if (rc) {
		set_libxl_error(err, rc, "renaming domain %" PRIu32 " (%s) to %s", domid, old,
				name);
		free(old);
		return -1;
	}
	log_info("domain %" PRIu32 ": renamed %s -> %s", domid, old, name);
	free(old);
	return 0;
}

/* ---- live changes ------------------------------------------------------------------------- */

/* 0 when domid is a live guest's domain, else -1 with err (as live_domain). */
static int require_live(struct xl *be, uint32_t domid, struct err *err)
{
	libxl_dominfo i;
	if (live_domain(be, domid, &i, err) < 0)
		return -1;
	libxl_dominfo_dispose(&i);
	return 0;
}

static int xl_set_vcpus(struct backend *b, uint32_t domid, int n, int *max, struct err *err)
{
	struct xl *be = (struct xl *)b;
	libxl_dominfo i;
	if (live_domain(be, domid, &i, err) < 0)
		return -1;
	int most = (int)i.vcpu_max_id + 1; /* maxvcpus at the build: Xen's limit for it */
	libxl_dominfo_dispose(&i);
	*max = most;
	if (n < 1 || n > most) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "domain %" PRIu32 " has at most %d vCPU%s "
			"(maxvcpus when it was built)", domid, most, most == 1 ? "" : "s");
		return -1;
	}
	libxl_bitmap map;
	libxl_bitmap_init(&map);
	if (libxl_cpu_bitmap_alloc(be->ctx, &map, most)) {
		err_set(err, VMD_ERR_BACKEND, "libxl: cannot allocate a vCPU map");
		return -1;
	}
	for (int c = 0; c < n; c++)
		libxl_bitmap_set(&map, c);
	int rc = libxl_set_vcpuonline(be->ctx, domid, &map, NULL); /* as xl vcpu-set */
	libxl_bitmap_dispose(&map);
	if (rc) {
		set_libxl_error(err, rc, "setting domain %" PRIu32 "'s vCPUs to %d", domid, n);
		return -1;
	}
	log_info("domain %" PRIu32 ": %d vCPU%s online", domid, n, n == 1 ? "" : "s");
	return 0;
}

static int xl_set_memory(struct backend *b, uint32_t domid, uint64_t kib, struct err *err)
{
	struct xl *be = (struct xl *)b;
	if (require_live(be, domid, err) < 0)
		return -1;
	/* As xl mem-set: an absolute target, enforced (Xen's limit for the domain follows). */
	int rc = libxl_set_memory_target(be->ctx, domid, kib, 0, 1);
	if (rc) {
		set_libxl_error(err, rc, "setting domain %" PRIu32 "'s memory to %" PRIu64 " KiB",
				domid, kib);
		return -1;
	}
	log_info("domain %" PRIu32 ": memory target %" PRIu64 " MiB", domid, kib / 1024);
	return 0;
}

static int xl_sched(struct backend *b, uint32_t domid, int weight, int cap,
		    struct sched_info *out, struct err *err)
{
	struct xl *be = (struct xl *)b;
	if (require_live(be, domid, err) < 0)
		return -1;
	libxl_domain_sched_params p;
	libxl_domain_sched_params_init(&p);
	int rc = libxl_domain_sched_params_get(be->ctx, domid, &p);
	if (rc) {
		set_libxl_error(err, rc, "reading domain %" PRIu32 "'s scheduling", domid);
		libxl_domain_sched_params_dispose(&p);
		return -1;
	}
	const char *name = libxl_scheduler_to_string(p.sched);
	if (weight >= 0 || cap >= 0) {
		if (p.sched != LIBXL_SCHEDULER_CREDIT && p.sched != LIBXL_SCHEDULER_CREDIT2) {
			err_set(err, VMD_ERR_NOT_SUPPORTED,
				"the %s scheduler has no weight and cap", name ? name : "host's");
			libxl_domain_sched_params_dispose(&p);
			return -1;
		}
		if (weight >= 0)
			p.weight = weight;
		if (cap >= 0)
			p.cap = cap;
		rc = libxl_domain_sched_params_set(be->ctx, domid, &p); /* as xl sched-credit2 */
		if (rc == 0)
			rc = libxl_domain_sched_params_get(be->ctx, domid, &p);
		if (rc) {
			set_libxl_error(err, rc, "setting domain %" PRIu32 "'s scheduling", domid);
			libxl_domain_sched_params_dispose(&p);
			return -1;
		}
		log_info("domain %" PRIu32 ": %s weight %d, cap %d", domid, name, p.weight, p.cap);
	}
	snprintf(out->scheduler, sizeof out->scheduler, "%s", name ? name : "unknown");
	out->weight = p.weight;
	out->cap = p.cap;
	libxl_domain_sched_params_dispose(&p);
	return 0;
}

/* A disk's or a vif's hot-plug or unplug, as xl block-attach / network-attach and their
 * detaches: disk or nic (the other NULL), held by the op until libxl is done. */
enum dev_how { DEV_ADD, DEV_REMOVE, DEV_MEDIUM };

static int device_op(struct xl *be, uint32_t domid, libxl_device_disk *disk,
		     libxl_device_nic *nic, enum dev_how what, backend_done_fn *done, void *arg,
		     struct err *err)
{
	bool add = what != DEV_REMOVE;
	struct op *op = op_new(be, OP_DEVICE, done, arg);
	op->domid = domid;
	op->stage = ST_DEVICE;
	op->disk = disk;
	op->nic = nic;
	if (disk && what == DEV_MEDIUM) {
		op->name = xasprintf("%s cdrom %s of domain %" PRIu32,
				     disk->pdev_path ? "changing the medium of" : "ejecting",
				     disk->vdev, domid);
	} else if (disk) {
		op->name = xasprintf("%s disk %s of domain %" PRIu32,
				     add ? "attaching" : "detaching", disk->vdev, domid);
	} else {
		char mac[MAC_STR_LEN];
		mac_format(nic->mac, mac);
		op->name = xasprintf("%s vif %s of domain %" PRIu32,
				     add ? "attaching" : "detaching", mac, domid);
	}
	op->in_libxl = true;
	libxl_asyncop_how how = {.callback = ao_callback, .u.for_callback = op};
	int rc;
	if (what == DEV_MEDIUM)
		rc = libxl_cdrom_insert(be->ctx, domid, disk, &how);
	else if (disk)
		rc = add ? libxl_device_disk_add(be->ctx, domid, disk, &how)
			 : libxl_device_disk_remove(be->ctx, domid, disk, &how);
	else
		rc = add ? libxl_device_nic_add(be->ctx, domid, nic, &how)
			 : libxl_device_nic_remove(be->ctx, domid, nic, &how);
	if (rc) {
		set_libxl_error(err, rc, "%s", op->name);
		op_unlink(op);
		op_free(op);
		return -1;
	}
	return 0;
}

static int xl_disk_attach(struct backend *b, uint32_t domid, const libxl_device_disk *disk,
			  backend_done_fn *done, void *arg, struct err *err)
{
	struct xl *be = (struct xl *)b;
	if (require_live(be, domid, err) < 0)
		return -1;
	libxl_device_disk old;
	libxl_device_disk_init(&old);
	if (libxl_vdev_to_device_disk(be->ctx, domid, disk->vdev, &old) == 0) {
		libxl_device_disk_dispose(&old);
		err_set(err, VMD_ERR_EXISTS, "domain %" PRIu32 " has a disk %s already", domid,
			disk->vdev);
		return -1;
	}
	libxl_device_disk_dispose(&old);
	libxl_device_disk *d = xmalloc(sizeof *d);
	libxl_device_disk_init(d);
	libxl_device_disk_copy(be->ctx, d, disk);
	return device_op(be, domid, d, NULL, DEV_ADD, done, arg, err);
}

static int xl_disk_detach(struct backend *b, uint32_t domid, const char *vdev,
			  backend_done_fn *done, void *arg, struct err *err)
{
	struct xl *be = (struct xl *)b;
	if (require_live(be, domid, err) < 0)
		return -1;
	libxl_device_disk *d = xmalloc(sizeof *d);
	libxl_device_disk_init(d);
	if (libxl_vdev_to_device_disk(be->ctx, domid, vdev, d) != 0) {
		libxl_device_disk_dispose(d);
		free(d);
		err_set(err, VMD_ERR_NOT_FOUND, "domain %" PRIu32 " has no disk %s", domid, vdev);
		return -1;
	}
	return device_op(be, domid, d, NULL, DEV_REMOVE, done, arg, err);
}

static int xl_cdrom(struct backend *b, uint32_t domid, const libxl_device_disk *disk,
		    backend_done_fn *done, void *arg, struct err *err)
{
	struct xl *be = (struct xl *)b;
	if (require_live(be, domid, err) < 0)
		return -1;
	libxl_device_disk *d = xmalloc(sizeof *d);
	libxl_device_disk_init(d);
	libxl_device_disk_copy(be->ctx, d, disk);
	return device_op(be, domid, d, NULL, DEV_MEDIUM, done, arg, err);
}

static int xl_nic_attach(struct backend *b, uint32_t domid, const libxl_device_nic *nic,
			 backend_done_fn *done, void *arg, struct err *err)
{
	struct xl *be = (struct xl *)b;
	if (require_live(be, domid, err) < 0)
		return -1;
	char mac[MAC_STR_LEN];
	mac_format(nic->mac, mac);
	libxl_device_nic old;
	libxl_device_nic_init(&old);
	if (libxl_mac_to_device_nic(be->ctx, domid, mac, &old) == 0) {
		libxl_device_nic_dispose(&old);
		err_set(err, VMD_ERR_EXISTS, "domain %" PRIu32 " has a vif %s already", domid, mac);
		return -1;
	}
	libxl_device_nic_dispose(&old);
	libxl_device_nic *n = xmalloc(sizeof *n);
	libxl_device_nic_init(n);
	libxl_device_nic_copy(be->ctx, n, nic);
	map_bridge(be, n);
	n->devid = -1; /* libxl takes the next free one */
	return device_op(be, domid, NULL, n, DEV_ADD, done, arg, err);
}

static int xl_nic_detach(struct backend *b, uint32_t domid, const uint8_t mac[6],
			 backend_done_fn *done, void *arg, struct err *err)
{
	struct xl *be = (struct xl *)b;
	if (require_live(be, domid, err) < 0)
		return -1;
	char text[MAC_STR_LEN];
	mac_format(mac, text);
	libxl_device_nic *n = xmalloc(sizeof *n);
	libxl_device_nic_init(n);
	if (libxl_mac_to_device_nic(be->ctx, domid, text, n) != 0) {
		libxl_device_nic_dispose(n);
		free(n);
		err_set(err, VMD_ERR_NOT_FOUND, "domain %" PRIu32 " has no vif %s", domid, text);
		return -1;
	}
	return device_op(be, domid, NULL, n, DEV_REMOVE, done, arg, err);
}

/* libxl writes a vif's rate= only when it connects the backend (libxl__set_xenstore_nic:
 * "BYTES,USECS" in the backend's "rate" node); netback watches that node and takes a new
 * value at once (xen-netback's credit watch), so a live change is that node written again,
 * or removed for no limit. */
static int xl_nic_rate(struct backend *b, uint32_t domid, const uint8_t mac[6], uint64_t bytes,
		       uint32_t usecs, struct err *err)
{
	struct xl *be = (struct xl *)b;
	if (require_live(be, domid, err) < 0)
		return -1;
	char text[MAC_STR_LEN];
	mac_format(mac, text);
	libxl_device_nic n;
	libxl_device_nic_init(&n);
	if (libxl_mac_to_device_nic(be->ctx, domid, text, &n) != 0) {
		libxl_device_nic_dispose(&n);
		err_set(err, VMD_ERR_NOT_FOUND, "domain %" PRIu32 " has no vif %s", domid, text);
		return -1;
	}
	char dir[128], node[160], value[48];
	snprintf(dir, sizeof dir, "/local/domain/%" PRIu32 "/backend/vif/%" PRIu32 "/%d",
		 n.backend_domid, domid, n.devid);
	libxl_device_nic_dispose(&n);
	snprintf(node, sizeof node, "%s/rate", dir);
	snprintf(value, sizeof value, "%" PRIu64 ",%" PRIu32, bytes, usecs);
	struct xs_handle *xs = xs_open(0);
	if (!xs) {
		err_set(err, VMD_ERR_BACKEND, "cannot open xenstore: %s", strerror(errno));
		return -1;
	}
	unsigned int len = 0;
	char *state = xs_read(xs, XBT_NULL, dir, &len);
	bool ok = state != NULL;
	free(state);
	if (ok)
		ok = usecs ? xs_write(xs, XBT_NULL, node, value, (unsigned)strlen(value))
			   : xs_rm(xs, XBT_NULL, node) || errno == ENOENT;
	int e = errno;
	xs_close(xs);
	if (!ok) {
		err_set(err, VMD_ERR_BACKEND, "cannot set the rate of vif %s in %s: %s", text, dir,
			strerror(e));
		return -1;
	}
	log_info("domain %" PRIu32 ": vif %s rate %s", domid, text, usecs ? value : "unlimited");
	return 0;
}

/* The xenstore connection vm.stats reads through, opened at the first use and kept: a guest's
 * figures take a handful of reads, and monitoring asks for every guest's every few seconds. */
static struct xs_handle *xs_of(struct xl *be, struct err *err)
{
	if (!be->xs)
		be->xs = xs_open(0);
	if (!be->xs)
		err_set(err, VMD_ERR_BACKEND, "cannot open xenstore: %s", strerror(errno));
	return be->xs;
}

/* A read failed: a connection that broke (xenstored restarted) is opened again next time. */
static void xs_failed(struct xl *be)
{
	if (errno != ENOENT && errno != EACCES && be->xs) {
		xs_close(be->xs);
		be->xs = NULL;
	}
}

static int cmp_devid(const void *a, const void *b)
{
	long x = strtol(*(char *const *)a, NULL, 10), y = strtol(*(char *const *)b, NULL, 10);
	return (x > y) - (x < y);
}

/* The device ids under dom0's backend directory KIND for domid, in order (n 0 when none). */
static char **backend_devids(struct xl *be, struct xs_handle *xs, const char *kind,
			     uint32_t domid, unsigned int *n)
{
	char path[96];
	snprintf(path, sizeof path, "/local/domain/0/backend/%s/%" PRIu32, kind, domid);
	*n = 0;
	char **ids = xs_directory(xs, XBT_NULL, path, n);
	if (!ids) {
		xs_failed(be);
		*n = 0;
		return NULL;
	}
	qsort(ids, *n, sizeof *ids, cmp_devid);
	return ids;
}

/* A node of one backend device, NUL-terminated, or NULL. */
static char *backend_read(struct xl *be, struct xs_handle *xs, const char *kind,
			  uint32_t domid, const char *devid, const char *node)
{
	char path[160];
	unsigned int len = 0;
	snprintf(path, sizeof path, "/local/domain/0/backend/%s/%" PRIu32 "/%s/%s", kind,
		 domid, devid, node);
	char *v = xs_read(xs, XBT_NULL, path, &len);
	if (!v)
		xs_failed(be);
	return v;
}

/* A counter in dom0's sysfs, or STATS_NONE. */
static uint64_t sysfs_counter(const char *dir, const char *name)
{
	char path[256], buf[32];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return STATS_NONE;
	ssize_t got = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (got <= 0)
		return STATS_NONE;
	buf[got] = '\0';
	char *end;
	errno = 0;
	unsigned long long n = strtoull(buf, &end, 10);
	return errno == 0 && end != buf ? (uint64_t)n : STATS_NONE;
}

static uint64_t sectors(uint64_t n)
{
	return n == STATS_NONE ? n : n * 512;
}

/* The disks of domid served by dom0 (blkback's vbd, qemu's qdisk), cdroms left out, into out. */
static void disk_stats_of(struct xl *be, struct xs_handle *xs, uint32_t domid,
			  struct dom_stats *out)
{
	static const char *const kinds[] = {"vbd", "qdisk"};
	unsigned int n[2];
	char **ids[2];
	for (int k = 0; k < 2; k++)
		ids[k] = backend_devids(be, xs, kinds[k], domid, &n[k]);
	out->disks = xcalloc((size_t)n[0] + n[1] + 1, sizeof *out->disks);
	for (int k = 0; k < 2; k++) {
		for (unsigned int i = 0; i < n[k]; i++) {
			char *type = backend_read(be, xs, kinds[k], domid, ids[k][i],
						  "device-type");
			char *dev = type && strcmp(type, "cdrom") != 0
					    ? backend_read(be, xs, kinds[k], domid, ids[k][i], "dev")
					    : NULL;
			free(type);
			if (!dev)
				continue;
			struct disk_stats *s = &out->disks[out->n_disks++];
			snprintf(s->vdev, sizeof s->vdev, "%s", dev);
			free(dev);
			if (k == 1) { /* qemu keeps its counters to itself */
				s->rd_req = s->wr_req = s->rd_bytes = s->wr_bytes = STATS_NONE;
				continue;
			}
			char dir[128];
			snprintf(dir, sizeof dir,
				 "/sys/bus/xen-backend/devices/vbd-%" PRIu32 "-%s/statistics",
				 domid, ids[k][i]);
			s->rd_req = sysfs_counter(dir, "rd_req");
			s->wr_req = sysfs_counter(dir, "wr_req");
			s->rd_bytes = sectors(sysfs_counter(dir, "rd_sect"));
			s->wr_bytes = sectors(sysfs_counter(dir, "wr_sect"));
		}
		free(ids[k]);
	}
}

/* Each vif of domid and its netback device vifDOMID.DEVID's counters, whose rx is what the
 * guest sent, into out. */
static void vif_stats_of(struct xl *be, struct xs_handle *xs, uint32_t domid,
			 struct dom_stats *out)
{
	unsigned int n;
	char **ids = backend_devids(be, xs, "vif", domid, &n);
	out->vifs = xcalloc((size_t)n + 1, sizeof *out->vifs);
	for (unsigned int i = 0; i < n; i++) {
		char *mac = backend_read(be, xs, "vif", domid, ids[i], "mac");
		struct vif_stats *v = &out->vifs[out->n_vifs];
		if (!mac || mac_parse(mac, v->mac) < 0) {
			free(mac);
			continue;
		}
		free(mac);
		out->n_vifs++;
		v->devid = atoi(ids[i]);
		char dir[128];
		snprintf(dir, sizeof dir, "/sys/class/net/vif%" PRIu32 ".%d/statistics", domid,
			 v->devid);
		v->rx_bytes = sysfs_counter(dir, "tx_bytes");
		v->rx_packets = sysfs_counter(dir, "tx_packets");
		v->tx_bytes = sysfs_counter(dir, "rx_bytes");
		v->tx_packets = sysfs_counter(dir, "rx_packets");
	}
	free(ids);
}

/* What xentop shows, where xenstat reads it: the domain's CPU time and memory from one
 * domain-info hypercall, the devices from dom0's xenstore backend directories (a few reads
 * a device; libxl's device lists take dozens), and the counters from sysfs: blkback's
 * statistics of each vbd (sectors of 512 bytes; a qdisk backend, in qemu, has none). */
static int xl_stats(struct backend *b, uint32_t domid, struct dom_stats *out, struct err *err)
{
	struct xl *be = (struct xl *)b;
	libxl_dominfo i;
	if (live_domain(be, domid, &i, err) < 0)
		return -1;
	out->cpu_time_ns = i.cpu_time;
	out->memory_kib = i.current_memkb;
	out->maxmem_kib = i.max_memkb;
	out->vcpus = (int)i.vcpu_online;
	libxl_dominfo_dispose(&i);
	struct xs_handle *xs = xs_of(be, err);
	if (!xs)
		return -1;
	disk_stats_of(be, xs, domid, out);
	vif_stats_of(be, xs, domid, out);
	return 0;
}

static int xl_watch(struct backend *b, uint32_t domid, struct err *err)
{
	struct xl *be = (struct xl *)b;
	libxl_dominfo i;
	if (guest_dominfo(be, domid, &i, err) < 0)
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
	.migrate_send = xl_migrate_send,
	.migrate_resume = xl_migrate_resume,
	.migrate_receive = xl_migrate_receive,
	.rename = xl_rename,
	.set_vcpus = xl_set_vcpus,
	.set_memory = xl_set_memory,
	.sched = xl_sched,
	.disk_attach = xl_disk_attach,
	.disk_detach = xl_disk_detach,
	.cdrom = xl_cdrom,
	.nic_attach = xl_nic_attach,
	.nic_detach = xl_nic_detach,
	.nic_rate = xl_nic_rate,
	.stats = xl_stats,
	.vif_addrs = xl_vif_addrs,
	.shutdown = xl_shutdown,
	.reboot = xl_reboot,
	.destroy = xl_destroy,
	.pause = xl_pause,
	.unpause = xl_unpause,
	.console = xl_console,
	.vnc = xl_vnc,
	.core_dump = xl_core_dump,
	.watch = xl_watch,
	.inject = NULL,
};
