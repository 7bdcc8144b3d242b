/*
 * libxl-event.c: drives one libxl_ctx from the daemon's libevent loop.
 *
 * libxl tells us through its osevent hooks which fds and timeouts it cares about; each becomes
 * a libevent event whose callback hands the occurrence back with libxl_osevent_occurred_*.
 * The libxl rules that shape this file (libxl_event.h):
 * - The hooks are called with libxl's ctx lock held, from inside any libxl call, so they only
 *   touch libevent; calling libxl_osevent_occurred_* from a hook is forbidden (we never do:
 *   occurrences are only reported from libevent callbacks, i.e. from the loop itself).
 * - fd registrations may ask for no events at all and may share an fd with another
 *   registration (libevent allows several events per fd).
 * - timeout_modify is only ever called with {0,0}, meaning "fire now"; timeout_deregister is
 *   never called; a timeout that fired is deregistered implicitly, so we free our side before
 *   telling libxl. libxl frees its bookkeeping for a cancelled timeout only when that timeout
 *   fires, which is why quiesce() fires what is left before libxl_ctx_free.
 * - libxl may deregister an fd from inside the occurrence we report for it; libevent 2.1 lets
 *   a callback free its own event, and we touch nothing of the registration afterwards.
 * - SIGCHLD: libxl's children are pygrub, hotplug scripts and the device model spawner. With
 *   libxl_sigchld_owner_mainloop libxl installs no handler and expects us to call
 *   libxl_childproc_sigchld_occurred() outside of signal context; a libevent signal event is
 *   exactly that. (A SIGCHLD handler that libxl does not know of makes it assert.) libxl only
 *   reaps its own children, so the daemon may have others.
 * One glue per (ctx, event base) pair, used by one thread: libxl calls hooks only from within
 * calls made on that ctx, and the backend makes those from the thread that runs the base.
 * The backend has two such pairs (libxl.c says why); only one owns SIGCHLD, and it passes
 * the news on to the other (be_libxl_loop_on_sigchld).
 */
#include "libxl-internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"
#include "vmd-proto.h"

/* One fd or timeout that libxl registered. */
struct reg {
	struct reg *prev, *next;
	struct be_libxl_loop *loop;
	struct event *ev;
	void *for_libxl;
	int fd;       /* -1 for a timeout */
	short events; /* poll(2) events libxl asked for */
};

struct be_libxl_loop {
	struct event_base *base;
	libxl_ctx *ctx;
	struct event *sigchld; /* NULL when another loop owns SIGCHLD */
	void (*sigchld_also)(void *arg);
	void *sigchld_arg;
	struct reg *regs; /* every live registration, fds and timeouts */
};

static void reg_link(struct be_libxl_loop *loop, struct reg *r)
{
	r->loop = loop;
	r->prev = NULL;
	r->next = loop->regs;
	if (loop->regs)
		loop->regs->prev = r;
	loop->regs = r;
}

static void reg_free(struct reg *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->loop->regs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	if (r->ev)
		event_free(r->ev);
	free(r);
}

/* ---- fds ---------------------------------------------------------------------------------- */

static short ev_flags(short events)
{
	short f = 0;
	if (events & (POLLIN | POLLPRI))
		f |= EV_READ;
	if (events & POLLOUT)
		f |= EV_WRITE;
	return f;
}

static void fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reg *r = arg;
	short revents = 0;
	if (what & EV_READ)
		revents |= r->events & (POLLIN | POLLPRI);
	if (what & EV_WRITE)
		revents |= POLLOUT;
	/* libxl polls the fd again itself before acting, so a HUP reported as readable is
	 * fine. r may be freed by the call (libxl deregistering the fd): do not touch it. */
	libxl_osevent_occurred_fd(r->loop->ctx, r->for_libxl, fd, r->events, revents);
}

/* (Re)arms r's event for events; the event is pending only when libxl wants something. */
static int fd_arm(struct reg *r, short events)
{
	short f = ev_flags(events);
	if (!r->ev) {
		r->ev = event_new(r->loop->base, r->fd, f | EV_PERSIST, fd_cb, r);
		if (!r->ev)
			return -1;
	} else {
		event_del(r->ev);
		if (event_assign(r->ev, r->loop->base, r->fd, f | EV_PERSIST, fd_cb, r) < 0)
			return -1;
	}
	r->events = events;
	if (f && event_add(r->ev, NULL) < 0)
		return -1;
	return 0;
}

static int fd_register(void *user, int fd, void **for_app_registration_out, short events,
		       void *for_libxl)
{
	struct be_libxl_loop *loop = user;
	struct reg *r = calloc(1, sizeof *r);
	if (!r)
		return ERROR_OSEVENT_REG_FAIL;
	r->fd = fd;
	r->for_libxl = for_libxl;
	reg_link(loop, r);
	if (fd_arm(r, events) < 0) {
		reg_free(r);
		return ERROR_OSEVENT_REG_FAIL;
	}
	*for_app_registration_out = r;
	return 0;
}

static int fd_modify(void *user, int fd, void **for_app_registration_update, short events)
{
	struct reg *r = *for_app_registration_update;
	short old = r->events;
	if (fd_arm(r, events) < 0) {
		/* libxl wants the old registration left as it was */
		fd_arm(r, old);
		return ERROR_OSEVENT_REG_FAIL;
	}
	return 0;
}

static void fd_deregister(void *user, int fd, void *for_app_registration)
{
	reg_free(for_app_registration);
}

/* ---- timeouts ----------------------------------------------------------------------------- */

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reg *r = arg;
	libxl_ctx *ctx = r->loop->ctx;
	void *for_libxl = r->for_libxl;
	/* A timeout that fires is deregistered: our side goes first, libxl may register a new
	 * one from inside the call. */
	reg_free(r);
	libxl_osevent_occurred_timeout(ctx, for_libxl);
}

/*
 * libxl gives an absolute (wall clock) time; libevent takes a delay, which it adds to the time
 * it cached when the current loop iteration began. Inside a long callback that cache is stale:
 * libxl builds a domain synchronously inside the callback that ends its bootloader (seconds;
 * under TCG, with pygrub's compressed kernel, 20 s), then registers the 10 s timeout for the
 * disk backends, which libevent would count from before the build and fire at once ("unable
 * to add device"). So refresh the cache first.
 */
static int timeout_arm(struct reg *r, struct timeval abs)
{
	struct timeval now, rel = {0, 0};
	event_base_update_cache_time(r->loop->base);
	gettimeofday(&now, NULL);
	if (timercmp(&abs, &now, >))
		timersub(&abs, &now, &rel);
	return evtimer_add(r->ev, &rel);
}

static int timeout_register(void *user, void **for_app_registration_out, struct timeval abs,
			    void *for_libxl)
{
	struct be_libxl_loop *loop = user;
	struct reg *r = calloc(1, sizeof *r);
	if (!r)
		return ERROR_OSEVENT_REG_FAIL;
	r->fd = -1;
	r->for_libxl = for_libxl;
	reg_link(loop, r);
	r->ev = evtimer_new(loop->base, timeout_cb, r);
	if (!r->ev || timeout_arm(r, abs) < 0) {
		reg_free(r);
		return ERROR_OSEVENT_REG_FAIL;
	}
	*for_app_registration_out = r;
	return 0;
}

/* Only ever "fire now" ({0,0}); if the timer is already being delivered, arming it again is
 * harmless: it is gone before libxl hears of it (timeout_cb frees it first). */
static int timeout_modify(void *user, void **for_app_registration_update, struct timeval abs)
{
	struct reg *r = *for_app_registration_update;
	struct timeval zero = {0, 0};
	evtimer_del(r->ev);
	return evtimer_add(r->ev, &zero) < 0 ? ERROR_OSEVENT_REG_FAIL : 0;
}

/* libxl_event.h: "will never be called". Free it anyway should a future libxl do so. */
static void timeout_deregister(void *user, void *for_app_registration)
{
	reg_free(for_app_registration);
}

/* libxl keeps a pointer to this for the life of the ctx. */
static const libxl_osevent_hooks hooks = {
	.fd_register = fd_register,
	.fd_modify = fd_modify,
	.fd_deregister = fd_deregister,
	.timeout_register = timeout_register,
	.timeout_modify = timeout_modify,
	.timeout_deregister = timeout_deregister,
};

static const libxl_childproc_hooks child_hooks = {
	.chldowner = libxl_sigchld_owner_mainloop,
};

/* ---- SIGCHLD ------------------------------------------------------------------------------ */

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct be_libxl_loop *loop = arg;
	/* libxl waits for each of its own children (WNOHANG) and leaves others alone. */
	libxl_childproc_sigchld_occurred(loop->ctx);
	if (loop->sigchld_also)
		loop->sigchld_also(loop->sigchld_arg);
}

void be_libxl_loop_on_sigchld(struct be_libxl_loop *loop, void (*fn)(void *arg), void *arg)
{
	loop->sigchld_also = fn;
	loop->sigchld_arg = arg;
}

/* ---- lifetime ----------------------------------------------------------------------------- */

struct be_libxl_loop *be_libxl_loop_new(struct event_base *base, libxl_ctx *ctx,
					bool own_sigchld, struct err *err)
{
	struct be_libxl_loop *loop = xcalloc(1, sizeof *loop);
	loop->base = base;
	loop->ctx = ctx;
	/* One event base per process can take signals (libevent keeps signal state global). */
	if (own_sigchld) {
		loop->sigchld = evsignal_new(base, SIGCHLD, sigchld_cb, loop);
		if (!loop->sigchld || evsignal_add(loop->sigchld, NULL) < 0) {
			err_set(err, VMD_ERR_INTERNAL, "libxl: cannot watch SIGCHLD");
			if (loop->sigchld)
				event_free(loop->sigchld);
			free(loop);
			return NULL;
		}
	}
	/* Both before libxl has any fd, timeout or child: register_hooks asserts that. */
	libxl_osevent_register_hooks(ctx, &hooks, loop);
	libxl_childproc_setmode(ctx, &child_hooks, loop);
	return loop;
}

void be_libxl_loop_quiesce(struct be_libxl_loop *loop)
{
	if (!loop)
		return;
	/* With no operation in flight the timeouts left are ones libxl cancelled (set to fire
	 * now). Deliver them; libxl may register more while doing so, hence the bound. */
	for (int round = 0; round < 1000; round++) {
		struct reg *r = loop->regs;
		while (r && r->fd >= 0)
			r = r->next;
		if (!r)
			break;
		timeout_cb(-1, EV_TIMEOUT, r);
	}
}

void be_libxl_loop_free(struct be_libxl_loop *loop)
{
	if (!loop)
		return;
	size_t left = 0;
	while (loop->regs) {
		reg_free(loop->regs);
		left++;
	}
	if (left)
		log_debug("libxl: %zu event registration%s left at close", left,
			  left == 1 ? "" : "s");
	/* Restores the SIGCHLD disposition libevent found. */
	if (loop->sigchld)
		event_free(loop->sigchld);
	free(loop);
}
