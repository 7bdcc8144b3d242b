/*
 * libxl-build.c: the builder, a thread with its own libxl context and its own event loop that
 * does the domain creates of the libxl backend.
 *
 * Why a thread: libxl_domain_create_new is asynchronous only where it waits (bootloader,
 * hotplug scripts, backends, device model); building the domain itself (xc_dom: loading the
 * kernel and initrd, populating and copying guest memory) runs synchronously inside whatever
 * libxl callback gets there. Measured in the tests/xen dom0 (TCG): the daemon stopped
 * answering for ~5 s per PV create. So the builder runs creates on a second libxl_ctx driven
 * by its own libevent base, and the daemon's loop only ever makes quick libxl calls. Each ctx
 * and each base is used by one thread only; the two threads share nothing but a mutex-guarded
 * inbox/outbox and a wake-up pipe each way.
 *
 * SIGCHLD: both contexts are libxl_sigchld_owner_mainloop. The daemon's base owns the signal
 * (libevent allows one base to); its SIGCHLD callback tells the main ctx and then us
 * (be_libxl_builder_sigchld), and we call libxl_childproc_sigchld_occurred on the builder's
 * ctx from the builder thread, so that a child's exit (pygrub, hotplug scripts) continues its
 * create here and not on the daemon's loop. No signal is blocked in this thread: children
 * forked from it inherit its signal mask, and libxl does not reset it before exec.
 *
 * A create, one at a time as with `xl create` (in order of submission):
 *   lock:   xl's creation lock (fcntl F_WRLCK on /var/lock/xl, or xl.conf's "lockfile"),
 *           tried without blocking and retried on a timer, so that a stuck `xl create` is
 *           noticed (LOCK_WAIT_S) and close() is never held up. POSIX record locks belong
 *           to the process, so the lock also orders our own creates: a second F_SETLK from
 *           this process would "succeed", and closing its fd would drop the first's lock.
 *   memory: libxl_domain_need_memory vs libxl_get_free_memory; when short and autoballoon
 *           allows (xl.conf, else xl's rule: off when Xen was given dom0_mem=), lower dom0's
 *           target as xl's freemem() does and poll the free memory on a timer.
 *   build:  libxl_domain_create_new (asynchronous on this loop); libxl destroys a half-built
 *           domain itself. Then our record goes in as userdata "vmd", before anything runs.
 * and the create goes back to the daemon's thread (built callback), which watches the domain,
 * unpauses it and reports.
 */
#include "libxl-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <libxlutil.h>

#include "log.h"
#include "util.h"
#include "vmd-proto.h"

#define XL_CONF "/etc/xen/xl.conf"
#define XL_LOCK_FILE "/var/lock/xl" /* xl's XEN_LOCK_DIR "/xl" on Linux */
#define LOCK_RETRY_MS 100
#define LOCK_WAIT_S 300.0        /* an `xl create` holding the lock longer is stuck */
#define MEMORY_POLL_MS 200
#define BALLOON_STALL_S 10.0     /* as xl: dom0 not progressing towards its target */
#define BALLOON_CREDIT_S 30.0    /* as xl: total time to find the memory */

struct be_libxl_builder {
	/* set before the thread starts, read-only afterwards */
	struct event_base *main_base;
	be_libxl_built_fn *built;
	void *built_arg;
	char *lock_path;
	bool autoballoon;
	int wake_builder[2];
	int wake_main[2];
	struct event *main_ev; /* on main_base: wake_main readable */
	pthread_t thread;
	bool started;

	/* shared, under mu */
	pthread_mutex_t mu;
	struct be_libxl_create *inbox, **inbox_tail;
	struct be_libxl_create *outbox, **outbox_tail;
	bool sigchld, quit;

	/* the builder thread's own (and main's again once the thread is joined) */
	struct event_base *base;
	libxl_ctx *ctx;
	struct be_libxl_loop *loop;
	struct event *wake_ev; /* wake_builder readable */
	struct event *timer;   /* lock retries, memory polling */
	struct event *kick;    /* the build's completion, out of libxl's callback */
	struct be_libxl_create *queue, **queue_tail;
	struct be_libxl_create *current;
	int build_rc;
	bool in_libxl;         /* libxl_domain_create_new in flight */
	int lock_fd;
};

static void next(struct be_libxl_builder *b);

/* ---- wake-ups between the threads -------------------------------------------------------- */

static void wake(int fd)
{
	/* Non-blocking: a full pipe already means "wake up". */
	ssize_t r = write(fd, "w", 1);
	(void)r;
}

static void drain(int fd)
{
	char buf[64];
	while (read(fd, buf, sizeof buf) > 0)
		;
}

static int pipe_nb(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		fds[0] = fds[1] = -1;
		return -1;
	}
	return 0;
}

static void close_pipe(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void append(struct be_libxl_create ***tail, struct be_libxl_create *c)
{
	c->next = NULL;
	**tail = c;
	*tail = &c->next;
}

/* ---- xl's creation lock ------------------------------------------------------------------- */

/* 1 when held, 0 when someone else holds it, -1 when it cannot be used at all. */
static int lock_try(struct be_libxl_builder *b)
{
	if (b->lock_fd < 0) {
		/* as xl: open(lockfile, O_WRONLY|O_CREAT, S_IWUSR) */
		b->lock_fd = open(b->lock_path, O_WRONLY | O_CREAT | O_CLOEXEC, S_IWUSR);
		if (b->lock_fd < 0)
			return -1;
	}
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	if (fcntl(b->lock_fd, F_SETLK, &fl) == 0)
		return 1;
	if (errno == EACCES || errno == EAGAIN || errno == EINTR)
		return 0;
	int e = errno;
	close(b->lock_fd);
	b->lock_fd = -1;
	errno = e;
	return -1;
}

static void lock_release(struct be_libxl_builder *b)
{
	if (b->lock_fd < 0)
		return;
	/* Closing drops the lock (and would drop any other lock of ours on the file). */
	close(b->lock_fd);
	b->lock_fd = -1;
}

/* ---- the create pipeline (builder thread) ------------------------------------------------- */

static void arm(struct be_libxl_builder *b, unsigned ms)
{
	struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
	/* from now, not from the start of a loop iteration spent in a long libxl call */
	event_base_update_cache_time(b->base);
	evtimer_add(b->timer, &tv);
}

/* c is done here: back to the daemon's thread. */
static void finish(struct be_libxl_builder *b, struct be_libxl_create *c)
{
	lock_release(b);
	evtimer_del(b->timer);
	b->current = NULL;
	pthread_mutex_lock(&b->mu);
	append(&b->outbox_tail, c);
	pthread_mutex_unlock(&b->mu);
	wake(b->wake_main[1]);
	next(b);
}

__attribute__((format(printf, 4, 5))) static void fail(struct be_libxl_builder *b,
							 struct be_libxl_create *c, int code,
							 const char *fmt, ...)
{
	c->failed = true;
	c->err.code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err.msg, sizeof c->err.msg, fmt, ap);
	va_end(ap);
	log_error("%s: create failed: %s", c->name, c->err.msg);
	finish(b, c);
}

/* libxl: the create finished (maybe inside libxl_domain_create_new itself). Leave libxl's
 * callback first: the kick runs from our loop. */
static void build_callback(libxl_ctx *ctx, int rc, void *for_callback)
{
	struct be_libxl_builder *b = for_callback;
	b->build_rc = rc;
	event_active(b->kick, EV_TIMEOUT, 1);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct be_libxl_builder *b = arg;
	struct be_libxl_create *c = b->current;
	if (!c || !b->in_libxl)
		return;
	b->in_libxl = false;
	c->build_s = now_monotonic() - c->since;
	if (b->build_rc) {
		c->domid = BE_LIBXL_NO_DOMID; /* libxl removed what it had built */
		fail(b, c, b->build_rc == ERROR_NOMEM ? VMD_ERR_NO_RESOURCES : VMD_ERR_BACKEND,
		     "libxl could not create domain %s: error %d (%s; see the daemon log)", c->name,
		     b->build_rc, libxl_error_to_string(b->build_rc));
		return;
	}
	/* Ours before the guest runs a single instruction (it is still paused). */
	int rc = libxl_userdata_store(b->ctx, c->domid, BE_LIBXL_USERDATA,
				      (const uint8_t *)c->record, (int)strlen(c->record));
	if (rc) {
		/* the daemon's thread destroys the domain (c->domid is set) */
		fail(b, c, VMD_ERR_BACKEND,
		     "storing vmd's record with domain %" PRIu32 ": libxl error %d", c->domid, rc);
		return;
	}
	finish(b, c);
}

static void step_build(struct be_libxl_builder *b, struct be_libxl_create *c)
{
	c->stage = BE_LIBXL_BUILD;
	c->since = now_monotonic();
	c->domid = BE_LIBXL_NO_DOMID;
	libxl_asyncop_how how = {.callback = build_callback, .u.for_callback = b};
	b->in_libxl = true;
	int rc;
	if (c->restore_fd >= 0) {
		/* A migration stream of libxl's own format, version 2, as xl migrate sends it
		 * (without xl's header: vmd's protocol carries the config). */
		libxl_domain_restore_params params;
		libxl_domain_restore_params_init(&params);
		params.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
		params.stream_version = 2;
		rc = libxl_domain_create_restore(b->ctx, &c->dc, &c->domid, c->restore_fd, -1,
						 &params, &how, NULL);
		libxl_domain_restore_params_dispose(&params);
	} else {
		rc = libxl_domain_create_new(b->ctx, &c->dc, &c->domid, &how, NULL);
	}
	if (rc) {
		b->in_libxl = false;
		c->domid = BE_LIBXL_NO_DOMID;
		fail(b, c, VMD_ERR_BACKEND, "libxl could not start creating domain %s: error %d",
		     c->name, rc);
		return;
	}
	log_debug("%s: building", c->name);
}

static void step_memory(struct be_libxl_builder *b, struct be_libxl_create *c)
{
	int rc;
	if (c->stage != BE_LIBXL_MEMORY) {
		c->stage = BE_LIBXL_MEMORY;
		c->since = now_monotonic();
		/* fills in libxl's defaults in dc, as `xl create` has it do before building */
		rc = libxl_domain_need_memory(b->ctx, &c->dc, INVALID_DOMID, &c->need_kib);
		if (rc) {
			fail(b, c, VMD_ERR_BACKEND,
			     "cannot compute the memory %s needs (libxl error %d)", c->name, rc);
			return;
		}
	}
	uint64_t free_kib = 0;
	rc = libxl_get_free_memory(b->ctx, &free_kib);
	if (rc) {
		fail(b, c, VMD_ERR_BACKEND, "cannot read the host's free memory (libxl error %d)",
		     rc);
		return;
	}
	if (free_kib >= c->need_kib) {
		if (c->balloon_at)
			log_info("%s: dom0 made room in %.1f s", c->name,
				 now_monotonic() - c->since);
		step_build(b, c);
		return;
	}
	uint64_t short_kib = c->need_kib - free_kib;
	double now = now_monotonic();
	if (!b->autoballoon) {
		fail(b, c, VMD_ERR_NO_RESOURCES,
		     "not enough free memory for %s: %" PRIu64 " MiB needed, %" PRIu64
		     " MiB free (autoballoon is off)",
		     c->name, c->need_kib / 1024, free_kib / 1024);
		return;
	}
	if (now - c->since > BALLOON_CREDIT_S) {
		fail(b, c, VMD_ERR_NO_RESOURCES,
		     "dom0 did not free enough memory for %s within %.0f s: %" PRIu64
		     " MiB needed, %" PRIu64 " MiB free",
		     c->name, BALLOON_CREDIT_S, c->need_kib / 1024, free_kib / 1024);
		return;
	}
	/* As xl's freemem(): lower dom0's target by what is missing, then wait while dom0
	 * balloons; lower it again once dom0 has reached its target (or stopped moving) and
	 * the room is still not there. */
	bool again = !c->balloon_at;
	if (c->balloon_at) {
		uint64_t target = 0;
		libxl_dominfo d0;
		libxl_dominfo_init(&d0);
		if (libxl_get_memory_target(b->ctx, 0, &target) == 0 &&
		    libxl_domain_info(b->ctx, &d0, 0) == 0)
			again = d0.current_memkb <= target;
		libxl_dominfo_dispose(&d0);
		again = again || now - c->balloon_at > BALLOON_STALL_S;
	}
	if (again) {
		log_info("%s: ballooning dom0 down by %" PRIu64 " MiB (%" PRIu64
			 " MiB needed, %" PRIu64 " MiB free)",
			 c->name, (short_kib + 1023) / 1024, c->need_kib / 1024, free_kib / 1024);
		rc = libxl_set_memory_target(b->ctx, 0, -(int64_t)short_kib, 1, 0);
		if (rc) {
			fail(b, c, VMD_ERR_NO_RESOURCES,
			     "cannot lower dom0's memory target (libxl error %d)", rc);
			return;
		}
		c->balloon_at = now;
	}
	arm(b, MEMORY_POLL_MS);
}

static void step_lock(struct be_libxl_builder *b, struct be_libxl_create *c)
{
	int r = lock_try(b);
	if (r < 0) {
		/* A host without /var/lock (or a read-only one) has no xl to share it with
		 * either; creating without the lock beats refusing to create at all. */
		log_warn("%s: cannot take xl's lock %s (%s); creating without it", c->name,
			 b->lock_path, strerror(errno));
	} else if (r == 0) {
		if (!c->lock_waited) {
			log_info("%s: waiting for %s (another toolstack is creating a domain)",
				 c->name, b->lock_path);
			c->lock_waited = true;
		}
		if (now_monotonic() - c->since > LOCK_WAIT_S) {
			fail(b, c, VMD_ERR_BUSY, "%s is held by another toolstack for over %.0f s",
			     b->lock_path, LOCK_WAIT_S);
			return;
		}
		arm(b, LOCK_RETRY_MS);
		return;
	} else if (c->lock_waited) {
		log_info("%s: got %s after %.1f s", c->name, b->lock_path,
			 now_monotonic() - c->since);
	}
	step_memory(b, c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct be_libxl_builder *b = arg;
	struct be_libxl_create *c = b->current;
	if (!c)
		return;
	if (c->stage == BE_LIBXL_LOCK)
		step_lock(b, c);
	else if (c->stage == BE_LIBXL_MEMORY)
		step_memory(b, c);
}

/* Starts the oldest queued create when none is going. */
static void next(struct be_libxl_builder *b)
{
	if (b->current || !b->queue)
		return;
	struct be_libxl_create *c = b->queue;
	b->queue = c->next;
	if (!b->queue)
		b->queue_tail = &b->queue;
	c->next = NULL;
	b->current = c;
	c->stage = BE_LIBXL_LOCK;
	c->since = now_monotonic();
	step_lock(b, c);
}

/* ---- the thread --------------------------------------------------------------------------- */

/* libxl: its event machinery broke. Without this hook libxl would exit the whole process. */
static void disaster(void *user, libxl_event_type type, const char *msg, int errnoval)
{
	log_error("libxl builder: event disaster: %s%s%s; creates may hang, restart vmd (guests "
		  "keep running)",
		  msg, errnoval > 0 ? ": " : "", errnoval > 0 ? strerror(errnoval) : "");
}

/* The builder enables no events; only the disaster hook matters. */
static const libxl_event_hooks hooks = {
	.event_occurs_mask = 0,
	.disaster = disaster,
};

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct be_libxl_builder *b = arg;
	drain(fd);
	pthread_mutex_lock(&b->mu);
	struct be_libxl_create *in = b->inbox;
	b->inbox = NULL;
	b->inbox_tail = &b->inbox;
	bool sigchld = b->sigchld, quit = b->quit;
	b->sigchld = false;
	pthread_mutex_unlock(&b->mu);
	if (sigchld)
		libxl_childproc_sigchld_occurred(b->ctx);
	if (quit) {
		/* the creates stay where they are; be_libxl_builder_free() collects them */
		while (in) {
			struct be_libxl_create *c = in;
			in = c->next;
			append(&b->queue_tail, c);
		}
		event_base_loopbreak(b->base);
		return;
	}
	while (in) {
		struct be_libxl_create *c = in;
		in = c->next;
		c->stage = BE_LIBXL_QUEUED;
		append(&b->queue_tail, c);
	}
	next(b);
}

static void *run(void *arg)
{
	struct be_libxl_builder *b = arg;
	event_base_dispatch(b->base);
	return NULL;
}

/* ---- the daemon's side -------------------------------------------------------------------- */

static void main_cb(evutil_socket_t fd, short what, void *arg)
{
	struct be_libxl_builder *b = arg;
	drain(fd);
	pthread_mutex_lock(&b->mu);
	struct be_libxl_create *out = b->outbox;
	b->outbox = NULL;
	b->outbox_tail = &b->outbox;
	pthread_mutex_unlock(&b->mu);
	while (out) {
		struct be_libxl_create *c = out;
		out = c->next;
		c->next = NULL;
		b->built(b->built_arg, c);
	}
}

void be_libxl_builder_sigchld(void *arg)
{
	struct be_libxl_builder *b = arg;
	pthread_mutex_lock(&b->mu);
	b->sigchld = true;
	pthread_mutex_unlock(&b->mu);
	wake(b->wake_builder[1]);
}

int be_libxl_builder_submit(struct be_libxl_builder *b, struct be_libxl_create *c,
			    struct err *err)
{
	if (!b->started) {
		err_set(err, VMD_ERR_INTERNAL, "libxl: the builder is not running");
		return -1;
	}
	c->stage = BE_LIBXL_QUEUED;
	c->domid = BE_LIBXL_NO_DOMID;
	pthread_mutex_lock(&b->mu);
	append(&b->inbox_tail, c);
	pthread_mutex_unlock(&b->mu);
	wake(b->wake_builder[1]);
	return 0;
}

void be_libxl_create_free(struct be_libxl_create *c)
{
	if (!c)
		return;
	libxl_domain_config_dispose(&c->dc);
	free(c->name);
	free(c->record);
	free(c);
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

/* autoballoon and lockfile from xl.conf, as xl reads them (the keys that change what a
 * domain is, claim_mode among them, are the core's: xlcfg_read_xl_conf). */
static void read_xl_conf(struct be_libxl_builder *b)
{
	int autoballoon = -1; /* auto */
	const char *lock = NULL;
	XLU_Config *cfg = NULL;
	char *report = NULL;
	size_t report_len = 0;
	FILE *rf = open_memstream(&report, &report_len);
	if (rf)
		cfg = xlu_cfg_init(rf, XL_CONF);
	if (cfg && xlu_cfg_readfile(cfg, XL_CONF) == 0) {
		const char *s;
		if (!xlu_cfg_get_string(cfg, "autoballoon", &s, 1)) {
			if (!strcmp(s, "on") || !strcmp(s, "1"))
				autoballoon = 1;
			else if (!strcmp(s, "off") || !strcmp(s, "0"))
				autoballoon = 0;
		}
		if (!xlu_cfg_get_string(cfg, "lockfile", &s, 1) && s[0] == '/')
			lock = s;
	}
	b->lock_path = xstrdup(lock ? lock : XL_LOCK_FILE);
	b->autoballoon = autoballoon >= 0 ? autoballoon == 1 : !dom0_mem_fixed(b->ctx);
	if (cfg)
		xlu_cfg_destroy(cfg);
	if (rf)
		fclose(rf);
	if (report && *report)
		log_warn("%s: %s", XL_CONF, report);
	free(report);
}

struct be_libxl_builder *be_libxl_builder_new(struct event_base *main_base,
					      xentoollog_logger *logger, be_libxl_built_fn *built,
					      void *arg, struct err *err)
{
	struct be_libxl_builder *b = xcalloc(1, sizeof *b);
	b->main_base = main_base;
	b->built = built;
	b->built_arg = arg;
	b->wake_builder[0] = b->wake_builder[1] = b->wake_main[0] = b->wake_main[1] = -1;
	b->lock_fd = -1;
	b->inbox_tail = &b->inbox;
	b->outbox_tail = &b->outbox;
	b->queue_tail = &b->queue;
	pthread_mutex_init(&b->mu, NULL);
	/* Everything is set up here, before the thread exists; from then on the thread alone
	 * touches its base and ctx. */
	if (pipe_nb(b->wake_builder) < 0 || pipe_nb(b->wake_main) < 0) {
		err_set(err, VMD_ERR_INTERNAL, "libxl builder: pipe: %s", strerror(errno));
		goto fail;
	}
	b->base = event_base_new();
	if (!b->base) {
		err_set(err, VMD_ERR_INTERNAL, "libxl builder: cannot create an event loop");
		goto fail;
	}
	if (libxl_ctx_alloc(&b->ctx, LIBXL_VERSION, 0, logger) != 0) {
		b->ctx = NULL;
		err_set(err, VMD_ERR_BACKEND,
			     "cannot open libxl (is xenstored running? see the log)");
		goto fail;
	}
	b->loop = be_libxl_loop_new(b->base, b->ctx, false, err);
	if (!b->loop)
		goto fail;
	libxl_event_register_callbacks(b->ctx, &hooks, b);
	b->wake_ev = event_new(b->base, b->wake_builder[0], EV_READ | EV_PERSIST, wake_cb, b);
	b->timer = evtimer_new(b->base, timer_cb, b);
	b->kick = event_new(b->base, -1, 0, kick_cb, b);
	b->main_ev = event_new(main_base, b->wake_main[0], EV_READ | EV_PERSIST, main_cb, b);
	if (!b->wake_ev || !b->timer || !b->kick || !b->main_ev ||
	    event_add(b->wake_ev, NULL) < 0 || event_add(b->main_ev, NULL) < 0) {
		err_set(err, VMD_ERR_INTERNAL, "libxl builder: cannot allocate events");
		goto fail;
	}
	read_xl_conf(b);
	int e = pthread_create(&b->thread, NULL, run, b);
	if (e) {
		err_set(err, VMD_ERR_INTERNAL, "libxl builder: cannot start a thread: %s",
			     strerror(e));
		goto fail;
	}
	b->started = true;
	return b;
fail:
	be_libxl_builder_free(b);
	return NULL;
}

bool be_libxl_builder_autoballoon(const struct be_libxl_builder *b)
{
	return b->autoballoon;
}


const char *be_libxl_builder_lock_path(const struct be_libxl_builder *b)
{
	return b->lock_path;
}

void be_libxl_builder_free(struct be_libxl_builder *b)
{
	if (!b)
		return;
	if (b->started) {
		pthread_mutex_lock(&b->mu);
		b->quit = true;
		pthread_mutex_unlock(&b->mu);
		wake(b->wake_builder[1]);
		/* At most the end of a libxl callback away: the thread never blocks. */
		pthread_join(b->thread, NULL);
		b->started = false;
	}
	/* The thread is gone: all of it is ours now. Creates never handed back are dropped
	 * (their done is not called: the daemon is going away). */
	struct be_libxl_create *lists[] = {b->current, b->queue, b->inbox, b->outbox};
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		for (struct be_libxl_create *c = lists[i], *n; c; c = n) {
			n = c == b->current ? NULL : c->next;
			be_libxl_create_free(c);
		}
	}
	lock_release(b);
	if (b->in_libxl) {
		/* libxl_ctx_free asserts that no operation is in flight; the process is about to
		 * exit, so leave the context to it. */
		log_warn("libxl builder: a create was still in flight; not freeing its context");
	} else if (b->ctx) {
		be_libxl_loop_quiesce(b->loop);
		libxl_ctx_free(b->ctx);
	}
	be_libxl_loop_free(b->loop);
	if (b->wake_ev)
		event_free(b->wake_ev);
	if (b->timer)
		event_free(b->timer);
	if (b->kick)
		event_free(b->kick);
	if (b->main_ev)
		event_free(b->main_ev);
	if (b->base)
		event_base_free(b->base);
	close_pipe(b->wake_builder);
	close_pipe(b->wake_main);
	pthread_mutex_destroy(&b->mu);
	free(b->lock_path);
	free(b);
}
