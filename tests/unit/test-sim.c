/*
 * test-sim.c: the sim backend driven through a real libevent loop, as the daemon drives it.
 *
 * Delays are small and waits generous; only orderings and eventual outcomes are asserted,
 * never how long something took. "Did not happen" is shown by ordering: a guest that would
 * have reacted first had it reacted at all.
 */
#include "backend.h"
#include "config.h"
#include "log.h"
#include "test.h"
#include "util.h"
#include "vmd-proto.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#define TIMEOUT_MS 10000
#define DELAY_MS 20

static const struct backend_ops *ops = &backend_sim;
static struct event_base *base;
static struct backend *be;

/* Set around every backend call: a callback that sees it set came from inside a call. */
static bool in_call;
static bool callback_inside;
static int be_ret;
#define BE(fn, ...) \
	(in_call = true, be_ret = ops->fn(be, __VA_ARGS__), in_call = false, be_ret)

/* ---- recording callbacks ---- */

#define MAX_EVENTS 64
static struct {
	uint32_t domid;
	enum dom_event ev;
} events[MAX_EVENTS];
static int n_events;
static void (*event_hook)(uint32_t domid, enum dom_event ev);

static void on_event(void *arg, uint32_t domid, enum dom_event ev)
{
	if (in_call)
		callback_inside = true;
	if (n_events < MAX_EVENTS) {
		events[n_events].domid = domid;
		events[n_events].ev = ev;
		n_events++;
	}
	if (event_hook)
		event_hook(domid, ev);
}

static int count_events(uint32_t domid, int ev) /* ev -1: any */
{
	int n = 0;
	for (int i = 0; i < n_events; i++)
		if (events[i].domid == domid && (ev < 0 || events[i].ev == (enum dom_event)ev))
			n++;
	return n;
}

static int count_all(enum dom_event ev)
{
	int n = 0;
	for (int i = 0; i < n_events; i++)
		if (events[i].ev == ev)
			n++;
	return n;
}

struct done_rec {
	int calls;
	bool failed;
	int code;
	char msg[512];
	uint32_t domid;
	void (*then)(struct done_rec *r); /* run from inside the done callback */
};

static void done_cb(void *arg, const struct err *err, uint32_t domid)
{
	struct done_rec *r = arg;
	if (in_call)
		callback_inside = true;
	r->calls++;
	r->failed = err != NULL;
	r->code = err ? err->code : 0;
	snprintf(r->msg, sizeof r->msg, "%s", err ? err->msg : "");
	r->domid = domid;
	if (r->then)
		r->then(r);
}

/* ---- loop helpers ---- */

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

typedef bool pred_fn(const void *arg);

/* Runs the loop until pred holds or TIMEOUT_MS passed; returns pred. */
static bool run_until(pred_fn *pred, const void *arg)
{
	bool timed_out = false;
	struct event *t = evtimer_new(base, timeout_cb, &timed_out);
	struct timeval tv = {TIMEOUT_MS / 1000, (TIMEOUT_MS % 1000) * 1000};
	evtimer_add(t, &tv);
	while (!pred(arg) && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return pred(arg);
}

static bool done_pred(const void *arg)
{
	return ((const struct done_rec *)arg)->calls > 0;
}

struct ev_want {
	uint32_t domid;
	enum dom_event ev;
};

static bool event_pred(const void *arg)
{
	const struct ev_want *w = arg;
	return count_events(w->domid, (int)w->ev) > 0;
}

static bool wait_event(uint32_t domid, enum dom_event ev)
{
	struct ev_want w = {domid, ev};
	return run_until(event_pred, &w);
}

/* ---- backend helpers ---- */

static void setup_opts(const char *state_dir, uint64_t mib)
{
	base = event_base_new();
	struct backend_options o = {
		.state_dir = state_dir,
		.sim_memory_mib = mib,
		.sim_delay_ms = DELAY_MS,
		.on_event = on_event,
	};
	struct err err = {0};
	be = be_open(ops, base, &o, &err);
	CHECK(be != NULL);
	if (!be) {
		fprintf(stderr, "open: %s\n", err.msg);
		exit(EXIT_FAILURE);
	}
	n_events = 0;
	event_hook = NULL;
	callback_inside = false;
}

static void setup(uint64_t mib)
{
	setup_opts(NULL, mib);
}

static void teardown(void)
{
	ops->close(be);
	be = NULL;
	CHECK(!callback_inside);
	event_base_free(base);
	base = NULL;
}

/* A PV guest of mib MiB that boots from its disk (the sim ignores bootloaders), plus the
 * xl.cfg lines of extra. */
__attribute__((format(printf, 4, 5))) static void cfg_more(struct vm_config *c,
							  const char *name, uint64_t mib,
							  const char *extra, ...)
{
	char *more = NULL;
	va_list ap;
	va_start(ap, extra);
	if (vasprintf(&more, extra, ap) < 0)
		abort();
	va_end(ap);
	/* a text without kernel and bootloader does not parse */
	bool boots = strstr(more, "kernel =") || strstr(more, "type = \"hvm\"");
	cfg_text(c, "name = \"%s\"\nmemory = %" PRIu64 "\n%s%s", name, mib,
		 boots ? "" : "bootloader = \"pygrub\"\n", more);
	free(more);
}

static void cfg_make(struct vm_config *c, const char *name, uint64_t mib)
{
	cfg_more(c, name, mib, "%s", "");
}

/* Creates and waits; the config is freed before the build completes. */
static uint32_t create_cfg(struct vm_config *c, const char *record)
{
	struct done_rec r = {0};
	struct err err = {0};
	int ret = BE(create, c, record, done_cb, &r, &err);
	vm_config_finish(c);
	CHECK(ret == 0);
	if (ret < 0) {
		fprintf(stderr, "create: %s\n", err.msg);
		return 0;
	}
	CHECK(r.calls == 0);
	CHECK(run_until(done_pred, &r));
	CHECK(r.calls == 1 && !r.failed);
	CHECK(r.domid > 0);
	return r.domid;
}

static uint32_t create_ok(const char *name, uint64_t mib, const char *record)
{
	struct vm_config c;
	cfg_make(&c, name, mib);
	return create_cfg(&c, record);
}

/* Starts a create that must be refused at once; returns the error code. */
static int create_refused(struct vm_config *c, struct err *err)
{
	struct done_rec r = {0};
	int ret = BE(create, c, NULL, done_cb, &r, err);
	vm_config_finish(c);
	CHECK(ret == -1);
	CHECK(r.calls == 0);
	return ret == -1 ? err->code : 0;
}

static void destroy_ok(uint32_t domid)
{
	struct done_rec r = {0};
	struct err err = {0};
	CHECK(BE(destroy, domid, done_cb, &r, &err) == 0);
	CHECK(r.calls == 0);
	CHECK(run_until(done_pred, &r));
	CHECK(r.calls == 1 && !r.failed && r.domid == domid);
}

static int state_of(uint32_t domid) /* -1: not found */
{
	struct dom_info di;
	struct err err = {0};
	if (BE(info, domid, &di, &err) < 0) {
		CHECK(err.code == VMD_ERR_NOT_FOUND);
		return -1;
	}
	int s = (int)di.state;
	dom_info_finish(&di);
	return s;
}

static uint64_t free_mib(void)
{
	struct host_info hi;
	struct err err = {0};
	CHECK(BE(host_info, &hi, &err) == 0);
	return hi.free_kib / 1024;
}

static int inject(const char *fault, uint32_t domid)
{
	struct err err = {0};
	return BE(inject, fault, domid, &err) == 0 ? 0 : err.code;
}

/* ---- tests ---- */

static void test_create(void)
{
	setup(0);
	struct host_info hi;
	struct err err = {0};
	CHECK(BE(host_info, &hi, &err) == 0);
	CHECK(hi.total_kib == 8192ull * 1024);
	CHECK(hi.free_kib == hi.total_kib);
	CHECK(hi.nr_cpus > 0);
	CHECK_STR(hi.hypervisor, "sim");

	struct vm_config c;
	cfg_more(&c, "alpha", 256, "vcpus = 2\nmaxmem = 512\n"
		 "uuid = \"01020304-0506-4708-890a-0b0c0d0e0f10\"\n");
	uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 0x47, 8, 0x89, 10, 11, 12, 13, 14, 15, 16};
	CHECK(c.has_uuid && memcmp(c.uuid, uuid, 16) == 0);
	uint32_t a = create_cfg(&c, "{\"vmd\":1}");
	CHECK(a == 1);

	struct dom_info di;
	CHECK(BE(info, a, &di, &err) == 0);
	CHECK(di.domid == a);
	CHECK_STR(di.name, "alpha");
	CHECK(memcmp(di.uuid, uuid, 16) == 0);
	CHECK(di.state == DOM_RUNNING);
	CHECK(di.memory_kib == 256 * 1024);
	CHECK(di.maxmem_kib == 512 * 1024);
	CHECK(di.vcpus == 2);
	CHECK(di.start_time > 0);
	CHECK_STR(di.record, "{\"vmd\":1}");
	dom_info_finish(&di);
	CHECK(free_mib() == 8192 - 256);

	/* a domain being built is not listed yet, and done never comes from inside create */
	struct done_rec r = {0};
	cfg_make(&c, "beta", 128);
	CHECK(BE(create, &c, NULL, done_cb, &r, &err) == 0);
	vm_config_finish(&c);
	CHECK(r.calls == 0);
	struct dom_info *list;
	size_t n;
	CHECK(BE(list, &list, &n, &err) == 0);
	CHECK(n == 1);
	dom_info_list_free(list, n);
	CHECK(run_until(done_pred, &r));
	CHECK(r.calls == 1 && !r.failed && r.domid == 2);
	CHECK(BE(list, &list, &n, &err) == 0);
	CHECK(n == 2);
	if (n == 2) {
		CHECK(list[0].domid == 1 && list[1].domid == 2);
		CHECK_STR(list[1].name, "beta");
		CHECK(list[1].record == NULL);
		CHECK(list[1].vcpus == 1);
		CHECK(list[1].maxmem_kib == 128 * 1024);
	}
	dom_info_list_free(list, n);

	/* pause stops the cpu clock; pause and unpause are idempotent */
	CHECK(BE(pause, a, &err) == 0);
	CHECK(BE(pause, a, &err) == 0);
	CHECK(state_of(a) == DOM_PAUSED);
	CHECK(BE(info, a, &di, &err) == 0);
	uint64_t t1 = di.cpu_time_ns;
	dom_info_finish(&di);
	usleep(2000);
	CHECK(BE(info, a, &di, &err) == 0);
	CHECK(di.cpu_time_ns == t1);
	dom_info_finish(&di);
	CHECK(BE(unpause, a, &err) == 0);
	CHECK(BE(unpause, a, &err) == 0);
	CHECK(state_of(a) == DOM_RUNNING);
	usleep(2000);
	CHECK(BE(info, a, &di, &err) == 0);
	CHECK(di.cpu_time_ns > t1);
	dom_info_finish(&di);

	/* unknown domids */
	CHECK(BE(info, 99, &di, &err) == -1 && err.code == VMD_ERR_NOT_FOUND);
	CHECK(BE(shutdown, 99, &err) == -1 && err.code == VMD_ERR_NOT_FOUND);
	CHECK(BE(reboot, 99, &err) == -1 && err.code == VMD_ERR_NOT_FOUND);
	CHECK(BE(pause, 99, &err) == -1 && err.code == VMD_ERR_NOT_FOUND);
	CHECK(BE(unpause, 99, &err) == -1 && err.code == VMD_ERR_NOT_FOUND);
	CHECK(BE(watch, 99, &err) == -1 && err.code == VMD_ERR_NOT_FOUND);
	struct console_info ci;
	CHECK(BE(console, 99, &ci, &err) == -1 && err.code == VMD_ERR_NOT_FOUND);
	r = (struct done_rec){0};
	CHECK(BE(destroy, 99, done_cb, &r, &err) == -1 && err.code == VMD_ERR_NOT_FOUND);
	CHECK(BE(watch, a, &err) == 0);

	/* domids are never reused */
	destroy_ok(2);
	CHECK(create_ok("beta", 128, NULL) == 3);
	CHECK(count_all(DOM_EV_GONE) == 0);
	teardown();

	/* no options at all: defaults */
	base = event_base_new();
	be = be_open(ops, base, NULL, &err);
	CHECK(be != NULL);
	CHECK(ops->available(&err));
	CHECK(BE(host_info, &hi, &err) == 0 && hi.total_kib == 8192ull * 1024);
	ops->close(be);
	ops->close(NULL);
	event_base_free(base);
}

static void test_refusals(void)
{
	setup(1024);
	struct err err = {0};
	struct vm_config c;
	uint32_t a = create_ok("a", 512, NULL);

	cfg_make(&c, "b", 600);
	CHECK(create_refused(&c, &err) == VMD_ERR_NO_RESOURCES);
	CHECK(strstr(err.msg, "600 MiB") && strstr(err.msg, "512 MiB free"));
	uint32_t b = create_ok("b", 512, NULL);
	CHECK(free_mib() == 0);
	cfg_make(&c, "c", 1);
	CHECK(create_refused(&c, &err) == VMD_ERR_NO_RESOURCES);

	cfg_make(&c, "b", 1);
	CHECK(create_refused(&c, &err) == VMD_ERR_EXISTS);

	/* a dying domain holds its memory and name until its destroy is done */
	struct done_rec r = {0};
	CHECK(BE(destroy, a, done_cb, &r, &err) == 0);
	CHECK(state_of(a) == DOM_DYING);
	cfg_make(&c, "c", 256);
	CHECK(create_refused(&c, &err) == VMD_ERR_NO_RESOURCES);
	cfg_make(&c, "a", 1);
	CHECK(create_refused(&c, &err) == VMD_ERR_EXISTS);
	CHECK(run_until(done_pred, &r));
	CHECK(r.calls == 1 && !r.failed && r.domid == a);
	CHECK(state_of(a) == -1);
	CHECK(free_mib() == 512);

	/* files libxl would need */
	cfg_more(&c, "k", 64, "kernel = \"/nonexistent/vmlinuz\"\n");
	CHECK(create_refused(&c, &err) == VMD_ERR_BACKEND);
	CHECK_STR(err.msg, "kernel /nonexistent/vmlinuz: No such file or directory");
	cfg_more(&c, "k", 64, "type = \"pvh\"\nkernel = \"/proc/version\"\n"
		 "ramdisk = \"/nonexistent/initrd\"\n");
	CHECK(create_refused(&c, &err) == VMD_ERR_BACKEND);
	CHECK(strstr(err.msg, "/nonexistent/initrd") != NULL);
	/* (an empty drive needs no file; its target is "" in this form) */
	cfg_more(&c, "k", 64, "disk = [ \",hdc:cdrom,r\", "
		 "\"format=raw, vdev=xvda, access=rw, target=/nonexistent/disk.img\" ]\n");
	CHECK(c.dc.num_disks == 2 && c.dc.disks[0].is_cdrom && c.dc.disks[0].pdev_path &&
	      !*c.dc.disks[0].pdev_path);
	CHECK(create_refused(&c, &err) == VMD_ERR_BACKEND);
	CHECK(strstr(err.msg, "xvda") && strstr(err.msg, "/nonexistent/disk.img"));
	cfg_make(&c, "k", 0);
	CHECK(vm_config_memory_mib(&c) == 0);
	CHECK(create_refused(&c, &err) == VMD_ERR_INVALID_CONFIG);

	/* ... and the same with files that exist */
	cfg_more(&c, "k", 64, "kernel = \"/proc/version\"\n"
		 "disk = [ \"vdev=hdc, devtype=cdrom\", " /* no target at all in this form */
		 "\"format=raw, vdev=xvda, access=rw, target=/dev/null\" ]\n");
	uint32_t k = create_cfg(&c, NULL);
	CHECK(k > b);
	CHECK(free_mib() == 512 - 64);
	CHECK(create_ok("c", 256, NULL) > k);
	CHECK(free_mib() == 512 - 64 - 256);
	teardown();
}

static void test_shutdown_reboot(void)
{
	setup(1024);
	struct err err = {0};
	uint32_t a = create_ok("a", 64, NULL);
	uint32_t b = create_ok("b", 64, NULL);

	CHECK(BE(shutdown, a, &err) == 0);
	CHECK(state_of(a) == DOM_RUNNING); /* the guest takes its time */
	CHECK(wait_event(a, DOM_EV_POWEROFF));
	CHECK(state_of(a) == DOM_SHUTDOWN); /* left in place for the core */
	CHECK(count_events(a, -1) == 1);
	CHECK(BE(shutdown, a, &err) == -1 && err.code == VMD_ERR_BAD_STATE);
	CHECK(BE(pause, a, &err) == -1 && err.code == VMD_ERR_BAD_STATE);

	CHECK(BE(reboot, b, &err) == 0);
	CHECK(wait_event(b, DOM_EV_REBOOT));
	CHECK(state_of(b) == DOM_SHUTDOWN);
	CHECK(count_events(b, -1) == 1);

	destroy_ok(a);
	destroy_ok(b);
	CHECK(state_of(a) == -1 && state_of(b) == -1);
	CHECK(free_mib() == 1024);
	CHECK(n_events == 2); /* no GONE for destroys we asked for */
	teardown();
}

static void test_paused_shutdown(void)
{
	setup(1024);
	struct err err = {0};
	uint32_t a = create_ok("a", 64, NULL);
	uint32_t b = create_ok("b", 64, NULL);
	CHECK(BE(pause, a, &err) == 0);
	CHECK(BE(shutdown, a, &err) == 0);
	CHECK(BE(shutdown, b, &err) == 0);
	CHECK(wait_event(b, DOM_EV_POWEROFF));
	CHECK(count_events(a, -1) == 0);
	CHECK(state_of(a) == DOM_PAUSED);
	CHECK(BE(unpause, a, &err) == 0);
	CHECK(wait_event(a, DOM_EV_POWEROFF));
	CHECK(state_of(a) == DOM_SHUTDOWN);

	/* pausing while a request is pending holds it back too; the last request wins */
	uint32_t c = create_ok("c", 64, NULL);
	uint32_t d = create_ok("d", 64, NULL);
	CHECK(BE(shutdown, c, &err) == 0);
	CHECK(BE(reboot, c, &err) == 0);
	CHECK(BE(pause, c, &err) == 0);
	CHECK(BE(shutdown, d, &err) == 0);
	CHECK(wait_event(d, DOM_EV_POWEROFF));
	CHECK(count_events(c, -1) == 0);
	CHECK(BE(unpause, c, &err) == 0);
	CHECK(wait_event(c, DOM_EV_REBOOT));
	CHECK(count_events(c, DOM_EV_POWEROFF) == 0);
	teardown();
}

static void test_faults(void)
{
	setup(1024);
	struct err err = {0};
	struct done_rec r = {0};
	struct vm_config c;

	CHECK(inject("no-such-fault", 0) == VMD_ERR_INVALID_PARAMS);
	CHECK(inject("crash", 99) == VMD_ERR_NOT_FOUND);
	CHECK(inject("foreign:", 0) == VMD_ERR_INVALID_PARAMS);

	/* fail-create: fails through done, leaves nothing, and only once */
	CHECK(inject("fail-create", 0) == 0);
	cfg_make(&c, "x", 64);
	CHECK(BE(create, &c, NULL, done_cb, &r, &err) == 0);
	vm_config_finish(&c);
	CHECK(r.calls == 0);
	CHECK(run_until(done_pred, &r));
	CHECK(r.calls == 1 && r.failed && r.code == VMD_ERR_BACKEND && r.domid == 0);
	CHECK_STR(r.msg, "injected failure");
	CHECK(free_mib() == 1024);
	uint32_t x = create_ok("x", 64, NULL);

	/* crash */
	uint32_t y = create_ok("y", 64, NULL);
	CHECK(inject("crash", y) == 0);
	CHECK(state_of(y) == DOM_CRASHED);
	CHECK(wait_event(y, DOM_EV_CRASH));
	CHECK(inject("crash", y) == VMD_ERR_BAD_STATE);
	destroy_ok(y);

	/* watchdog: crashed as well, but told apart from a crash (event and reason) */
	uint32_t g = create_ok("g", 64, NULL);
	CHECK(BE(pause, g, &err) == 0); /* fires on a paused guest too */
	CHECK(inject("watchdog", g) == 0);
	CHECK(state_of(g) == DOM_CRASHED);
	CHECK(wait_event(g, DOM_EV_WATCHDOG));
	CHECK(count_events(g, DOM_EV_CRASH) == 0);
	struct dom_info di;
	CHECK(BE(info, g, &di, &err) == 0);
	CHECK(di.has_reason && di.reason == DOM_EV_WATCHDOG);
	dom_info_finish(&di);
	CHECK(inject("watchdog", g) == VMD_ERR_BAD_STATE);
	CHECK(inject("crash", g) == VMD_ERR_BAD_STATE);
	destroy_ok(g);
	CHECK(BE(info, x, &di, &err) == 0);
	CHECK(!di.has_reason);
	dom_info_finish(&di);

	/* hang-shutdown: requests accepted, ignored; x asked first, so it would react first */
	uint32_t z = create_ok("z", 64, NULL);
	CHECK(inject("hang-shutdown", x) == 0);
	CHECK(BE(shutdown, x, &err) == 0);
	CHECK(BE(reboot, x, &err) == 0);
	CHECK(BE(shutdown, z, &err) == 0);
	CHECK(wait_event(z, DOM_EV_POWEROFF));
	CHECK(count_events(x, -1) == 0);
	CHECK(state_of(x) == DOM_RUNNING);
	destroy_ok(z);

	/* guest-initiated poweroff and reboot */
	CHECK(inject("poweroff", x) == 0); /* a hung shutdown handler does not stop the guest */
	CHECK(state_of(x) == DOM_SHUTDOWN);
	CHECK(wait_event(x, DOM_EV_POWEROFF));
	CHECK(inject("poweroff", x) == VMD_ERR_BAD_STATE);
	destroy_ok(x);
	uint32_t p = create_ok("p", 64, NULL);
	CHECK(inject("reboot", p) == 0);
	CHECK(wait_event(p, DOM_EV_REBOOT));
	destroy_ok(p);

	/* vanish: gone at once, memory back, GONE delivered later */
	uint32_t v = create_ok("v", 64, NULL);
	CHECK(inject("vanish", v) == 0);
	CHECK(state_of(v) == -1);
	CHECK(free_mib() == 1024);
	CHECK(count_events(v, -1) == 0);
	CHECK(wait_event(v, DOM_EV_GONE));

	/* foreign: running, no record, no events until watched */
	CHECK(inject("foreign:stranger", 0) == 0);
	CHECK(inject("foreign:stranger", 0) == VMD_ERR_EXISTS);
	struct dom_info *list;
	size_t n;
	uint32_t f = 0;
	CHECK(BE(list, &list, &n, &err) == 0);
	CHECK(n == 1);
	if (n == 1) {
		f = list[0].domid;
		CHECK_STR(list[0].name, "stranger");
		CHECK(list[0].record == NULL);
		CHECK(list[0].state == DOM_RUNNING);
		CHECK(f > v);
	}
	dom_info_list_free(list, n);
	uint32_t w = create_ok("w", 64, NULL);
	CHECK(inject("crash", f) == 0);
	CHECK(inject("poweroff", w) == 0);
	CHECK(wait_event(w, DOM_EV_POWEROFF));
	CHECK(count_events(f, -1) == 0);
	CHECK(state_of(f) == DOM_CRASHED);
	destroy_ok(f);
	struct console_info ci;
	CHECK(inject("foreign:stranger2", 0) == 0);
	CHECK(BE(watch, w + 1, &err) == 0);
	CHECK(BE(console, w + 1, &ci, &err) == 0);
	CHECK(inject("reboot", w + 1) == 0);
	CHECK(wait_event(w + 1, DOM_EV_REBOOT));

	/* fail-destroy: fails through done, the domain stays as it was; once */
	CHECK(inject("fail-destroy", 0) == 0);
	uint32_t q = create_ok("q", 64, NULL);
	r = (struct done_rec){0};
	CHECK(BE(destroy, q, done_cb, &r, &err) == 0);
	CHECK(r.calls == 0);
	CHECK(run_until(done_pred, &r));
	CHECK(r.calls == 1 && r.failed && r.code == VMD_ERR_BACKEND && r.domid == q);
	CHECK(state_of(q) == DOM_RUNNING);
	destroy_ok(q);
	CHECK(count_all(DOM_EV_GONE) == 1);
	teardown();
}

/* core_dump writes a file that says what it is (there is no guest memory to dump) */
static void test_core_dump(void)
{
	char dir[] = "/tmp/vmd-test-sim-core.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	setup(1024);
	struct err err = {0};
	uint32_t a = create_ok("dumped", 64, NULL);
	CHECK(inject("crash", a) == 0);
	char *path = xasprintf("%s/dumped", dir);
	CHECK(BE(core_dump, a, path, &err) == 0);
	size_t len = 0;
	char *text = read_file(path, 4096, &len);
	char *want = xasprintf("sim core of domain %" PRIu32 " (dumped), 65536 KiB\n", a);
	CHECK_STR(text, want);
	free(want);
	free(text);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(state_of(a) == DOM_CRASHED); /* the dump leaves the domain as it was */
	unlink(path);
	free(path);
	/* unknown domain; a directory that is not there */
	CHECK(BE(core_dump, 99, dir, &err) == -1 && err.code == VMD_ERR_NOT_FOUND);
	path = xasprintf("%s/no/such/dir", dir);
	CHECK(BE(core_dump, a, path, &err) == -1 && err.code == VMD_ERR_BACKEND);
	CHECK(strstr(err.msg, path) != NULL);
	free(path);
	destroy_ok(a);
	teardown();
	rmdir(dir);
}

/* ---- console ---- */

static char con_buf[8192];
static size_t con_len;
static bool con_eof;
static struct event *con_ev;

/* Reads what the console prints; keeps the newest output when the buffer fills. */
static void con_read_cb(evutil_socket_t fd, short what, void *arg)
{
	if (con_len > sizeof con_buf / 2) {
		memmove(con_buf, con_buf + con_len - 1024, 1024);
		con_len = 1024;
	}
	ssize_t r = read(fd, con_buf + con_len, sizeof con_buf - 1 - con_len);
	if (r > 0) {
		con_len += (size_t)r;
		con_buf[con_len] = '\0';
	} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
		con_eof = true;
		event_del(con_ev);
	}
}

static bool con_pred(const void *arg)
{
	return strstr(con_buf, arg) != NULL;
}

static bool con_eof_pred(const void *arg)
{
	return con_eof;
}

static int count_str(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_console(void)
{
	setup(1024);
	struct err err = {0};
	struct console_info ci;
	uint32_t a = create_ok("con", 64, NULL);
	CHECK(BE(console, a, &ci, &err) == 0);
	CHECK(strncmp(ci.path, "/dev/pts/", 9) == 0);
	CHECK_STR(ci.kind, "pv");

	/* the boot log waits in the pty for the first client */
	int fd = open(ci.path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd >= 0);
	con_len = 0;
	con_buf[0] = '\0';
	con_eof = false;
	con_ev = event_new(base, fd, EV_READ | EV_PERSIST, con_read_cb, NULL);
	event_add(con_ev, NULL);
	CHECK(run_until(con_pred, "con login: "));
	CHECK(strstr(con_buf, "sim: booting con (domid 1, pv, 1 vCPU, 64 MiB)\r\n") != NULL);
	CHECK(strstr(con_buf, "(simulated)") != NULL);

	/* what the client types is echoed, a line gets a new prompt */
	CHECK(write(fd, "root\r", 5) == 5);
	CHECK(run_until(con_pred, "root\r\ncon login: "));
	CHECK(count_str(con_buf, "con login: ") == 2);

	/* a client that types a lot never blocks the loop */
	char junk[4096];
	memset(junk, 'x', sizeof junk);
	for (int i = 0; i < 64; i++) {
		ssize_t w = write(fd, junk, sizeof junk);
		(void)w;
		event_base_loop(base, EVLOOP_NONBLOCK);
	}

	CHECK(BE(shutdown, a, &err) == 0);
	CHECK(wait_event(a, DOM_EV_POWEROFF));
	CHECK(run_until(con_pred, "reboot: Power down"));

	/* destroy closes the console: the client sees the end */
	destroy_ok(a);
	CHECK(run_until(con_eof_pred, NULL));
	event_free(con_ev);
	close(fd);

	/* xl ignores hvmloader as an HVM guest's kernel (libxl's own firmware boots it) */
	struct vm_config c;
	cfg_more(&c, "hvm", 64, "type = \"hvm\"\nkernel = \"/nonexistent/hvmloader\"\n");
	CHECK(c.dc.b_info.kernel == NULL);
	uint32_t h = create_cfg(&c, NULL);
	CHECK(BE(console, h, &ci, &err) == 0);
	CHECK_STR(ci.kind, "serial");
	teardown();
}

/* ---- persistence ---- */

static void test_persistence(void)
{
	char dir[] = "/tmp/vmd-test-sim.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *path = xasprintf("%s/sim/domains.json", dir);
	char *simdir = xasprintf("%s/sim", dir);
	struct err err = {0};
	const char *rec = "{\"vmd\":1,\"name\":\"a\",\"uuid\":\"x\"}";

	setup_opts(dir, 1024);
	uint32_t a = create_ok("a", 128, rec);
	uint32_t b = create_ok("b", 128, NULL);
	CHECK(BE(pause, b, &err) == 0);
	struct dom_info di;
	CHECK(BE(info, a, &di, &err) == 0);
	uint64_t cpu_a = di.cpu_time_ns;
	uint8_t uuid_a[16];
	memcpy(uuid_a, di.uuid, 16);
	dom_info_finish(&di);
	/* close cancels a pending create without calling it */
	struct done_rec pending = {0};
	struct vm_config c;
	cfg_make(&c, "c", 64);
	CHECK(BE(create, &c, NULL, done_cb, &pending, &err) == 0);
	vm_config_finish(&c);
	ops->close(be);
	be = NULL;
	struct event *t = evtimer_new(base, timeout_cb, &(bool){false});
	struct timeval tv = {0, 10 * DELAY_MS * 1000};
	evtimer_add(t, &tv);
	event_base_dispatch(base); /* nothing of the backend may fire any more */
	event_free(t);
	CHECK(pending.calls == 0);
	event_base_free(base);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

	/* the guests outlived the daemon */
	setup_opts(dir, 1024);
	struct dom_info *list;
	size_t n;
	CHECK(BE(list, &list, &n, &err) == 0);
	CHECK(n == 2);
	if (n == 2) {
		CHECK(list[0].domid == a && list[1].domid == b);
		CHECK_STR(list[0].name, "a");
		CHECK_STR(list[0].record, rec);
		CHECK(memcmp(list[0].uuid, uuid_a, 16) == 0);
		CHECK(list[0].state == DOM_RUNNING);
		CHECK(list[0].memory_kib == 128 * 1024);
		CHECK(list[0].cpu_time_ns >= cpu_a);
		CHECK(list[1].record == NULL);
		CHECK(list[1].state == DOM_PAUSED);
	}
	dom_info_list_free(list, n);
	CHECK(free_mib() == 1024 - 256);
	struct console_info ci;
	CHECK(BE(console, a, &ci, &err) == 0);

	/* unwatched until the core adopts them: b's crash (first) gives no event, a's does */
	CHECK(BE(watch, a, &err) == 0);
	CHECK(inject("crash", b) == 0);
	CHECK(inject("poweroff", a) == 0);
	CHECK(wait_event(a, DOM_EV_POWEROFF));
	CHECK(count_events(b, -1) == 0);
	uint32_t d = create_ok("d", 64, NULL);
	CHECK(d > b + 1); /* the cancelled create used a domid too */
	destroy_ok(a);
	ops->close(be);
	be = NULL;
	event_base_free(base);

	/* state carried over once more, then a corrupt file: refused and left alone */
	setup_opts(dir, 1024);
	CHECK(state_of(a) == -1);
	CHECK(state_of(b) == DOM_CRASHED);
	CHECK(state_of(d) == DOM_RUNNING);
	teardown();
	CHECK(write_file_atomic(path, "{\"version\":1,", 13, 0600) == 0);
	base = event_base_new();
	struct backend_options o = {.state_dir = dir};
	CHECK(be_open(ops, base, &o, &err) == NULL);
	CHECK(err.code == VMD_ERR_IO);
	CHECK(strstr(err.msg, "domains.json") != NULL);
	size_t len = 0;
	char *text = read_file(path, 1000, &len);
	CHECK(text && len == 13);
	free(text);
	event_base_free(base);

	unlink(path);
	rmdir(simdir);
	rmdir(dir);
	free(simdir);
	free(path);
}

/* ---- re-entrancy ---- */

static struct done_rec restart_destroy, restart_create;
static uint32_t restart_domid;

static void restart_create_now(struct done_rec *r)
{
	struct vm_config c;
	cfg_make(&c, "phoenix", 256);
	struct err err = {0};
	CHECK(BE(create, &c, "rec", done_cb, &restart_create, &err) == 0);
	vm_config_finish(&c);
}

/* What the core does for on_reboot=restart: destroy from the event, create from the done. */
static void restart_hook(uint32_t domid, enum dom_event ev)
{
	if (ev != DOM_EV_REBOOT || domid != restart_domid)
		return;
	struct err err = {0};
	restart_destroy.then = restart_create_now;
	CHECK(BE(destroy, domid, done_cb, &restart_destroy, &err) == 0);
	/* the event that is being delivered must not be disturbed by that */
	CHECK(BE(inject, "vanish", domid, &err) == 0);
}

static void close_now(struct done_rec *r)
{
	ops->close(be);
	be = NULL;
}

static bool closed_pred(const void *arg)
{
	return be == NULL;
}

static void test_reentrancy(void)
{
	setup(512);
	struct err err = {0};
	restart_domid = create_ok("phoenix", 256, "rec");
	event_hook = restart_hook;
	CHECK(BE(reboot, restart_domid, &err) == 0);
	CHECK(run_until(done_pred, &restart_create));
	CHECK(restart_destroy.calls == 1 && !restart_destroy.failed);
	CHECK(restart_create.calls == 1 && !restart_create.failed);
	CHECK(restart_create.domid > restart_domid);
	CHECK(state_of(restart_create.domid) == DOM_RUNNING);
	CHECK(free_mib() == 256);
	CHECK(count_all(DOM_EV_GONE) == 0); /* vanished while we destroyed it: no GONE */
	event_hook = NULL;

	/* events for a domain the core is destroying are dropped */
	uint32_t x = create_ok("x", 64, NULL);
	CHECK(inject("crash", x) == 0);
	struct done_rec r = {0};
	CHECK(BE(destroy, x, done_cb, &r, &err) == 0);
	CHECK(run_until(done_pred, &r));
	CHECK(count_events(x, -1) == 0);

	/* close from inside a done: the other pending done is cancelled (whichever comes first) */
	struct done_rec r1 = {.then = close_now}, r2 = {.then = close_now};
	struct vm_config c;
	cfg_make(&c, "one", 64);
	CHECK(BE(create, &c, NULL, done_cb, &r1, &err) == 0);
	vm_config_finish(&c);
	cfg_make(&c, "two", 64);
	CHECK(BE(create, &c, NULL, done_cb, &r2, &err) == 0);
	vm_config_finish(&c);
	CHECK(run_until(closed_pred, NULL));
	struct event *t = evtimer_new(base, timeout_cb, &(bool){false});
	struct timeval tv = {0, 10 * DELAY_MS * 1000};
	evtimer_add(t, &tv);
	event_base_dispatch(base);
	event_free(t);
	CHECK(r1.calls + r2.calls == 1);
	teardown();
}

int main(void)
{
	log_init(LOG_LVL_WARN, 0);
	RUN(test_create);
	RUN(test_refusals);
	RUN(test_shutdown_reboot);
	RUN(test_paused_shutdown);
	RUN(test_faults);
	RUN(test_core_dump);
	RUN(test_console);
	RUN(test_persistence);
	RUN(test_reentrancy);
	TEST_DONE();
}
