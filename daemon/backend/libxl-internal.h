/*
 * libxl-internal.h: what the three files of the libxl backend share, and the one place that
 * pins the libxl API (backend/libxl.c, libxl-event.c, libxl-config.c; nothing else includes
 * <libxl.h> but xlcfg.c, through libxlutil).
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

/* Where a relative bootloader ("pygrub") lives: Debian's private binary directory of Xen,
 * libxl's own libexec path. meson passes the one matching the libxl it builds against. */
#ifndef VMD_XEN_BINDIR
#define VMD_XEN_BINDIR "/usr/lib/xen-4.17/bin"
#endif

/* ---- libxl-config.c ---------------------------------------------------------------------- */

/*
 * Translates our config into a libxl domain config, as `xl create` would build it from the
 * same xl.cfg. Needs no libxl context (the golden tests run without Xen). out is initialised
 * here; on success the caller disposes it with libxl_domain_config_dispose(), on failure
 * (-1, err filled with VMD_ERR_INVALID_CONFIG) nothing is left to dispose.
 */
int be_libxl_config_build(const struct vm_config *cfg, libxl_domain_config *out,
			  struct be_error *err);

/* ---- libxl-event.c ----------------------------------------------------------------------- */

/*
 * The glue between one libxl_ctx and the daemon's libevent loop: libxl's fds and timeouts
 * (osevent hooks) become libevent events, and SIGCHLD is owned by the loop and passed on to
 * libxl (libxl_sigchld_owner_mainloop). Everything runs on the loop thread.
 */
struct be_libxl_loop;

/* Hooks ctx up to base; call right after libxl_ctx_alloc, before any other libxl call. */
struct be_libxl_loop *be_libxl_loop_new(struct event_base *base, libxl_ctx *ctx,
					struct be_error *err);
/* Before libxl_ctx_free: lets libxl collect the timeouts it cancelled (they are due "now" and
 * libxl frees their bookkeeping only when they fire) and stops passing SIGCHLD on. */
void be_libxl_loop_quiesce(struct be_libxl_loop *loop);
/* After libxl_ctx_free (which deregisters its fds through the hooks): frees what is left. */
void be_libxl_loop_free(struct be_libxl_loop *loop);

#endif
