/*
 * xen-libxl-check: a small libxl client the Xen test tier runs inside dom0, to check
 * that the libxl calls vmd's backend relies on work against the real toolstack.
 *
 *   xen-libxl-check list
 *       list the domains; succeeds when Domain-0 is among them
 *   xen-libxl-check create NAME KERNEL RAMDISK CMDLINE [MEMORY_MB]
 *       create a PV domain asynchronously (completion arrives as a libxl event), unpause it
 *   xen-libxl-check destroy NAME
 *       destroy the domain
 *   xen-libxl-check shutdown NAME
 *       ask the guest to power off, wait for the DOMAIN_SHUTDOWN event, then destroy it
 *
 * Output lines start with "libxl-check:". Exit status: 0 success, 1 failure, 2 usage.
 * Waits are bounded by alarm(): SIGALRM ends the process if libxl never answers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define LIBXL_API_VERSION 0x041300

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xentoollog.h>

enum { WAIT_SECONDS = 120 };

static const libxl_ev_user CREATE_COOKIE = 0x766d6463; /* identifies our create's event */

static int fail(const char *what, int rc)
{
    printf("libxl-check: FAIL %s (rc=%d)\n", what, rc);
    return 1;
}

static int cmd_list(libxl_ctx *ctx)
{
    const libxl_version_info *vi = libxl_get_version_info(ctx);
    libxl_dominfo *doms;
    int n = 0, have_dom0 = 0;

    if (vi)
        printf("libxl-check: xen %d.%d%s\n", vi->xen_version_major, vi->xen_version_minor,
               vi->xen_version_extra);
    doms = libxl_list_domain(ctx, &n);
    if (!doms)
        return fail("libxl_list_domain", -1);
    for (int i = 0; i < n; i++) {
        char *name = libxl_domid_to_name(ctx, doms[i].domid);

        printf("libxl-check: domid=%u name=%s memory=%luKiB vcpus=%u\n", doms[i].domid,
               name ? name : "?", (unsigned long)doms[i].current_memkb, doms[i].vcpu_online);
        if (doms[i].domid == 0 && name && strcmp(name, "Domain-0") == 0)
            have_dom0 = 1;
        free(name);
    }
    libxl_dominfo_list_free(doms, n);
    if (!have_dom0)
        return fail("Domain-0 not listed", 0);
    printf("libxl-check: PASS %d domains, Domain-0 present\n", n);
    return 0;
}

static int is_create_done(const libxl_event *ev, void *user)
{
    (void)user;
    return ev->type == LIBXL_EVENT_TYPE_OPERATION_COMPLETE && ev->for_user == CREATE_COOKIE;
}

static int cmd_create(libxl_ctx *ctx, const char *name, const char *kernel,
                      const char *ramdisk, const char *cmdline, int memory_mb)
{
    libxl_domain_config dc;
    libxl_asyncop_how how = { .callback = NULL, .u.for_event = CREATE_COOKIE };
    libxl_event *ev = NULL;
    uint32_t domid = INVALID_DOMID;
    int rc;

    libxl_domain_config_init(&dc);
    dc.c_info.type = LIBXL_DOMAIN_TYPE_PV;
    dc.c_info.name = strdup(name);
    libxl_domain_build_info_init_type(&dc.b_info, LIBXL_DOMAIN_TYPE_PV);
    dc.b_info.max_vcpus = 1;
    dc.b_info.max_memkb = dc.b_info.target_memkb = (uint64_t)memory_mb * 1024;
    dc.b_info.kernel = strdup(kernel);
    dc.b_info.ramdisk = strdup(ramdisk);
    dc.b_info.cmdline = strdup(cmdline);
    dc.on_crash = LIBXL_ACTION_ON_SHUTDOWN_PRESERVE;

    /* With ao_how->callback NULL, completion is reported as an OPERATION_COMPLETE event. */
    rc = libxl_domain_create_new(ctx, &dc, &domid, &how, NULL);
    if (rc)
        goto out_fail_start;
    rc = libxl_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, is_create_done, NULL);
    if (rc)
        goto out_fail_wait;
    rc = ev->u.operation_complete.rc;
    libxl_event_free(ctx, ev);
    if (rc) {
        libxl_domain_config_dispose(&dc);
        return fail("domain creation completed with an error", rc);
    }
    rc = libxl_domain_unpause(ctx, domid, NULL);
    libxl_domain_config_dispose(&dc);
    if (rc)
        return fail("libxl_domain_unpause", rc);
    printf("libxl-check: PASS created and unpaused %s as domid %u\n", name, domid);
    return 0;

out_fail_start:
    libxl_domain_config_dispose(&dc);
    return fail("libxl_domain_create_new", rc);
out_fail_wait:
    libxl_domain_config_dispose(&dc);
    return fail("libxl_event_wait", rc);
}

static int lookup(libxl_ctx *ctx, const char *name, uint32_t *domid)
{
    if (libxl_name_to_domid(ctx, name, domid) == 0)
        return 0;
    printf("libxl-check: FAIL no domain named %s\n", name);
    return -1;
}

static int cmd_destroy(libxl_ctx *ctx, const char *name)
{
    uint32_t domid;
    int rc;

    if (lookup(ctx, name, &domid))
        return 1;
    rc = libxl_domain_destroy(ctx, domid, NULL);
    if (rc)
        return fail("libxl_domain_destroy", rc);
    printf("libxl-check: PASS destroyed %s (domid %u)\n", name, domid);
    return 0;
}

static int is_shutdown_of(const libxl_event *ev, void *user)
{
    return ev->type == LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN && ev->domid == *(uint32_t *)user;
}

static int cmd_shutdown(libxl_ctx *ctx, const char *name)
{
    libxl_evgen_domain_death *evg = NULL;
    libxl_event *ev = NULL;
    libxl_shutdown_reason reason;
    uint32_t domid;
    int rc;

    if (lookup(ctx, name, &domid))
        return 1;
    /* Enable the event first, so a fast guest cannot shut down before we listen. */
    rc = libxl_evenable_domain_death(ctx, domid, 0, &evg);
    if (rc)
        return fail("libxl_evenable_domain_death", rc);
    rc = libxl_domain_shutdown(ctx, domid, NULL);
    if (rc) {
        libxl_evdisable_domain_death(ctx, evg);
        return fail("libxl_domain_shutdown", rc);
    }
    rc = libxl_event_wait(ctx, &ev, LIBXL_EVENTMASK_ALL, is_shutdown_of, &domid);
    libxl_evdisable_domain_death(ctx, evg);
    if (rc)
        return fail("libxl_event_wait", rc);
    reason = ev->u.domain_shutdown.shutdown_reason;
    libxl_event_free(ctx, ev);
    printf("libxl-check: %s shut down, reason %s\n", name, libxl_shutdown_reason_to_string(reason));
    if (reason != LIBXL_SHUTDOWN_REASON_POWEROFF)
        return fail("unexpected shutdown reason", (int)reason);
    /* Like any toolstack, we reap the shut-down domain ourselves. */
    rc = libxl_domain_destroy(ctx, domid, NULL);
    if (rc)
        return fail("libxl_domain_destroy", rc);
    printf("libxl-check: PASS %s powered off and was destroyed\n", name);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: xen-libxl-check list\n"
                    "       xen-libxl-check create NAME KERNEL RAMDISK CMDLINE [MEMORY_MB]\n"
                    "       xen-libxl-check destroy NAME\n"
                    "       xen-libxl-check shutdown NAME\n");
    return 2;
}

int main(int argc, char **argv)
{
    xentoollog_logger_stdiostream *logger;
    libxl_ctx *ctx = NULL;
    const char *cmd = argc > 1 ? argv[1] : "list";
    int ret, rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(WAIT_SECONDS);
    logger = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (!logger)
        return fail("xtl_createlogger_stdiostream", -1);
    rc = libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, (xentoollog_logger *)logger);
    if (rc) {
        xtl_logger_destroy((xentoollog_logger *)logger);
        return fail("libxl_ctx_alloc", rc);
    }

    if (strcmp(cmd, "list") == 0 && argc <= 2)
        ret = cmd_list(ctx);
    else if (strcmp(cmd, "create") == 0 && (argc == 6 || argc == 7))
        ret = cmd_create(ctx, argv[2], argv[3], argv[4], argv[5], argc == 7 ? atoi(argv[6]) : 128);
    else if (strcmp(cmd, "destroy") == 0 && argc == 3)
        ret = cmd_destroy(ctx, argv[2]);
    else if (strcmp(cmd, "shutdown") == 0 && argc == 3)
        ret = cmd_shutdown(ctx, argv[2]);
    else
        ret = usage();

    libxl_ctx_free(ctx);
    xtl_logger_destroy((xentoollog_logger *)logger);
    return ret;
}
