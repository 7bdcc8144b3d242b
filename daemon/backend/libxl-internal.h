/*
 * libxl-internal.h: what the files of the libxl backend share, and the one place that pins
 * the libxl API (backend/libxl.c, libxl-build.c, libxl-event.c, libxl-config.c; nothing else
 * includes <libxl.h> but xlcfg.c, through libxlutil).
 *
 * LIBXL_API_VERSION is pinned so that a newer libxl keeps compiling against the API we were
 * written for (libxl.h keeps compatibility shims per API version). 0x041400 is the newest
 * API Xen 4.17 knows: shutdown/reboot/pause/unpause take a libxl_asyncop_how and
 * libxl_domain_need_memory takes the whole domain config.
 */
#ifndef VMD_BACKEND_LIBXL_INTERNAL_H
#define VMD_BACKEND_LIBXL_INTERNAL_H

#define LIBXL_API_VERSION 0x041400

#include <libxl.h>
#include <libxl_event.h>
#include <libxl_utils.h>

#include "backend.h"
#include "config.h"

/* ---- shared by libxl.c and libxl-build.c ------------------------------------------------- */

#define BE_LIBXL_USERDATA "vmd"                       /* our libxl_userdata_store id */
#define BE_LIBXL_NO_DOMID ((uint32_t)INVALID_DOMID) /* libxl.h has it as the int ~0 */

/* ---- libxl-build.c ----------------------------------------------------------------------- */

enum be_libxl_stage { BE_LIBXL_QUEUED, BE_LIBXL_LOCK, BE_LIBXL_MEMORY, BE_LIBXL_BUILD };

/*
 * One create. The daemon's thread fills "in" and submits it; from then on the builder thread
 * owns it until it comes back through the built function (on the daemon's thread), with
 * "out" filled. The daemon's thread frees it (be_libxl_create_free).
 */
struct be_libxl_create {
	struct be_libxl_create *next; /* whoever owns it queues it */
	/* in */
	libxl_domain_config dc;
	char *name;
	char *record; /* stored as userdata "vmd" with the domain */
	void *owner;  /* the daemon's thread's */
	int restore_fd; /* >= 0: built from this migration stream (libxl_domain_create_restore),
			 * not from scratch */
	/* out */
	uint32_t domid; /* BE_LIBXL_NO_DOMID, or a paused domain that the daemon now owns */
	bool failed;    /* with a domid: the domain exists but must be destroyed */
	struct err err;
	double build_s; /* seconds in libxl_domain_create_new */
	/* the builder's */
	enum be_libxl_stage stage;
	double since;
	uint64_t need_kib;
	double balloon_at;
	bool lock_waited;
};

typedef void be_libxl_built_fn(void *arg, struct be_libxl_create *c);
struct be_libxl_builder;

/* Starts the builder thread with its own ctx and event loop; built(arg, c) is called from
 * main_base's loop for each create that is done with (success or not). Reads xl.conf. */
struct be_libxl_builder *be_libxl_builder_new(struct event_base *main_base,
					      xentoollog_logger *logger, be_libxl_built_fn *built,
					      void *arg, struct err *err);
/* Queues c behind the creates before it; built() will report it. */
int be_libxl_builder_submit(struct be_libxl_builder *b, struct be_libxl_create *c,
			    struct err *err);
/* From the SIGCHLD owner's thread (be_libxl_loop_on_sigchld): the builder's ctx is told. */
void be_libxl_builder_sigchld(void *b);
bool be_libxl_builder_autoballoon(const struct be_libxl_builder *b);
const char *be_libxl_builder_lock_path(const struct be_libxl_builder *b);
/* Stops and joins the thread; creates not handed back are freed without a report. */
void be_libxl_builder_free(struct be_libxl_builder *b);
void be_libxl_create_free(struct be_libxl_create *c);

/* ---- libxl-event.c ----------------------------------------------------------------------- */

/*
 * The glue between one libxl_ctx and one libevent loop: libxl's fds and timeouts (osevent
 * hooks) become libevent events, and SIGCHLD is owned by the loop and passed on to libxl
 * (libxl_sigchld_owner_mainloop). A ctx and its loop are used from one thread only.
 */
struct be_libxl_loop;

/* Hooks ctx up to base; call right after libxl_ctx_alloc, before any other libxl call. With
 * own_sigchld, a libevent SIGCHLD event on base tells libxl (only one base may own it); the
 * other loops of the process learn of SIGCHLD through be_libxl_loop_on_sigchld's fn. */
struct be_libxl_loop *be_libxl_loop_new(struct event_base *base, libxl_ctx *ctx,
					bool own_sigchld, struct err *err);
/* fn(arg) runs on the owning loop's thread after each SIGCHLD it passed to its own ctx. */
void be_libxl_loop_on_sigchld(struct be_libxl_loop *loop, void (*fn)(void *arg), void *arg);
/* Before libxl_ctx_free: lets libxl collect the timeouts it cancelled (they are due "now" and
 * libxl frees their bookkeeping only when they fire) and stops passing SIGCHLD on. */
void be_libxl_loop_quiesce(struct be_libxl_loop *loop);
/* After libxl_ctx_free (which deregisters its fds through the hooks): frees what is left. */
void be_libxl_loop_free(struct be_libxl_loop *loop);

#endif
