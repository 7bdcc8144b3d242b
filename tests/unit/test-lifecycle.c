/*
 * test-lifecycle.c: the lifecycle rules of the core (vm-life.c, vm.c) on the sim backend,
 * without a server: definitions, start/stop, the guest's own poweroff, reboot and crash
 * against on_poweroff/on_reboot/on_crash, what an admin asked for winning over on_*, the
 * restart limit, a domain destroyed behind vmd's back, refusals with their data, name
 * reservations, the install phase and waiting for a stop. The events the core reports (the
 * daemon's on_event hook) are recorded and checked in order.
 *
 * Only orderings and outcomes are asserted, never durations.
 */
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "config.h"
#include "daemon.h"
#include "test.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

#define TIMEOUT_S 10

static struct daemon d;
static char dir[64];
static char *kernel;

/* ---- recorded events ---- */

#define MAX_EVENTS 256
static char events[MAX_EVENTS][64]; /* "name:event:state" */
static int n_events;

static void on_event(struct daemon *dd, json_t *p)
{
	if (n_events < MAX_EVENTS)
		snprintf(events[n_events++], sizeof events[0], "%s:%s:%s",
			 json_string_value(json_object_get(p, "name")),
			 json_string_value(json_object_get(p, "event")),
			 json_string_value(json_object_get(p, "state")));
}

/* Index of the first event "name:event:state" at or after from, -1 if none. */
static int event_at(const char *ev, int from)
{
	for (int i = from; i < n_events; i++)
		if (strcmp(events[i], ev) == 0)
			return i;
	return -1;
}

static int count_events(const char *ev)
{
	int n = 0;
	for (int i = 0; i < n_events; i++)
		n += strcmp(events[i], ev) == 0;
	return n;
}

/* ---- the loop ---- */

static void tick(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

/* Runs the loop until *flag or the guest is in state (NULL: flag only). */
static bool run_until(struct vm *vm, enum vm_state state, bool *flag)
{
	bool timeout = false;
	struct event *t = evtimer_new(d.base, tick, &timeout);
	struct timeval tv = {TIMEOUT_S, 0};
	evtimer_add(t, &tv);
	while (!timeout && !(flag && *flag) && !(vm && vm->state == state && !vm_busy(vm)))
		event_base_loop(d.base, EVLOOP_ONCE);
	event_free(t);
	return !timeout;
}

/* ---- operations' results ---- */

struct done {
	bool called;
	int code;
	char msg[ERR_MSG_MAX];
};

static void done_cb(struct vm *vm, void *arg, const struct err *err)
{
	struct done *r = arg;
	r->called = true;
	r->code = err ? err->code : 0;
	snprintf(r->msg, sizeof r->msg, "%s", err ? err->msg : "");
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/vmd-test-life.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	kernel = xasprintf("%s/vmlinuz", dir);
	int fd = open(kernel, O_WRONLY | O_CREAT, 0600);
	if (fd < 0)
		abort();
	close(fd);
	d.base = event_base_new();
	d.state_dir = dir;
	d.run_dir = dir;
	d.on_event = on_event;
	vm_registry_init(&d);
	if (store_open(&d.store, dir) < 0)
		abort();
	struct backend_options bo = {.sim_delay_ms = 20, .on_event = vm_dom_event, .event_arg = &d};
	struct err err = {0};
	d.be = be_open(&backend_sim, d.base, &bo, &err);
	if (!d.be)
		abort();
}

static void teardown(void)
{
	vm_life_end(&d);
	vm_registry_finish(&d);
	be_close(d.be);
	store_close(&d.store);
	event_base_free(d.base);
	char *cmd = xasprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
	free(cmd);
	free(kernel);
}

/* Defines the guest of cfg (NULL when it does not parse or is refused). */
static struct vm *define_cfg(struct vm_config *cfg, const struct vm_define_opts *opts)
{
	if (!cfg->text)
		return NULL; /* cfg_text failed (and said why) */
	struct err err = {0};
	struct vm *vm = vm_define(&d, cfg, opts, &err);
	if (!vm)
		fprintf(stderr, "define: %s\n", err.msg);
	err_clear(&err);
	vm_config_finish(cfg);
	return vm;
}

/* A PV guest booting the test's kernel, with these on_* actions and the xl.cfg lines of
 * extra. */
static struct vm *define_more(const char *name, enum vm_action poweroff, enum vm_action reboot,
			      enum vm_action crash, const char *extra)
{
	struct vm_config cfg;
	cfg_text(&cfg,
		 "name = \"%s\"\nkernel = \"%s\"\non_poweroff = \"%s\"\non_reboot = \"%s\"\n"
		 "on_crash = \"%s\"\n%s",
		 name, kernel, vm_action_name(poweroff), vm_action_name(reboot),
		 vm_action_name(crash), extra);
	if (cfg.text) {
		CHECK(vm_config_action(&cfg, "on_poweroff") == poweroff);
		CHECK(vm_config_action(&cfg, "on_reboot") == reboot);
		CHECK(vm_config_action(&cfg, "on_crash") == crash);
	}
	return define_cfg(&cfg, NULL);
}

static struct vm *define(const char *name, enum vm_action poweroff, enum vm_action reboot,
			 enum vm_action crash)
{
	return define_more(name, poweroff, reboot, crash, "");
}

static bool start(struct vm *vm)
{
	struct done r = {0};
	struct err err = {0};
	if (vm_start(vm, done_cb, &r, &err) < 0) {
		fprintf(stderr, "start %s: %s\n", vm->name, err.msg);
		err_clear(&err);
		return false;
	}
	return run_until(NULL, 0, &r.called) && r.code == 0 && vm->state == VM_RUNNING;
}

/* The guest does something by itself (sim fault: poweroff, reboot, crash, vanish). */
static void guest_does(struct vm *vm, const char *what)
{
	struct err err = {0};
	CHECK(be_inject(d.be, what, (uint32_t)vm->domid, &err) == 0);
	err_clear(&err);
}

static void remove_guest(struct vm *vm)
{
	struct err err = {0};
	CHECK(vm_remove(vm, false, NULL, NULL, &err) == 0);
	err_clear(&err);
}

/* ---- the tests ---- */

static void test_start_destroy(void)
{
	n_events = 0;
	struct vm *vm = define("a", VM_ACTION_DESTROY, VM_ACTION_RESTART, VM_ACTION_DESTROY);
	CHECK(vm && vm->state == VM_STOPPED && vm->domid == -1);
	CHECK(start(vm));
	CHECK(vm_has_domain(vm));
	struct done r = {0};
	struct err err = {0};
	CHECK(vm_destroy(vm, done_cb, &r, &err) == 0);
	CHECK(vm->state == VM_STOPPING && vm_busy(vm));
	CHECK(run_until(NULL, 0, &r.called) && r.code == 0);
	CHECK(vm->state == VM_STOPPED && vm->domid == -1);
	int i = event_at("a:defined:stopped", 0);
	i = i < 0 ? -1 : event_at("a:starting:starting", i);
	i = i < 0 ? -1 : event_at("a:started:running", i);
	i = i < 0 ? -1 : event_at("a:stopping:stopping", i);
	i = i < 0 ? -1 : event_at("a:destroyed:stopped", i);
	CHECK(i > 0);
	remove_guest(vm);
	CHECK(count_events("a:removed:stopped") == 1);
	CHECK(vm_find(&d, "a") == NULL);
}

/* Refused at once, with what a reply carries: name, and state where that is why. */
static void test_refusals(void)
{
	struct vm *vm = define("r", VM_ACTION_DESTROY, VM_ACTION_RESTART, VM_ACTION_DESTROY);
	struct err err = {0};
	CHECK(vm_pause(vm, &err) == -1 && err.code == VMD_ERR_BAD_STATE);
	CHECK_STR(err_data_str(&err, "name"), "r");
	CHECK_STR(err_data_str(&err, "state"), "stopped");
	err_clear(&err);
	CHECK(vm_destroy(vm, done_cb, NULL, &err) == -1 && err.code == VMD_ERR_BAD_STATE);
	err_clear(&err);
	struct done r = {0};
	CHECK(vm_start(vm, done_cb, &r, &err) == 0);
	/* while its create is outstanding, nothing else may start */
	CHECK(vm_start(vm, done_cb, NULL, &err) == -1 && err.code == VMD_ERR_BUSY);
	CHECK_STR(err_data_str(&err, "state"), "starting");
	err_clear(&err);
	CHECK(vm_remove(vm, false, NULL, NULL, &err) == -1 && err.code == VMD_ERR_BAD_STATE);
	err_clear(&err);
	CHECK(run_until(NULL, 0, &r.called) && r.code == 0);
	CHECK(vm_start(vm, done_cb, NULL, &err) == -1 && err.code == VMD_ERR_BAD_STATE);
	CHECK_STR(err_data_str(&err, "state"), "running");
	err_clear(&err);
	/* a guest whose disks a job reads can neither start nor go */
	struct done dr = {0};
	CHECK(vm_destroy(vm, done_cb, &dr, &err) == 0);
	CHECK(run_until(NULL, 0, &dr.called));
	vm->readers++;
	CHECK(vm_start(vm, done_cb, NULL, &err) == -1 && err.code == VMD_ERR_BUSY);
	err_clear(&err);
	CHECK(vm_remove(vm, false, NULL, NULL, &err) == -1 && err.code == VMD_ERR_BAD_STATE);
	err_clear(&err);
	vm->readers--;
	remove_guest(vm);
}

/* The guest's own poweroff, reboot and crash follow on_*. */
static void test_on_actions(void)
{
	struct vm *p = define("p", VM_ACTION_PRESERVE, VM_ACTION_DESTROY, VM_ACTION_RESTART);
	CHECK(start(p));
	int64_t first = p->domid;
	guest_does(p, "poweroff");
	CHECK(run_until(p, VM_SHUTDOWN, NULL)); /* preserved: the domain stays */
	CHECK(p->domid == first);
	struct done r = {0};
	struct err err = {0};
	CHECK(vm_destroy(p, done_cb, &r, &err) == 0);
	CHECK(run_until(p, VM_STOPPED, NULL));

	CHECK(start(p));
	guest_does(p, "reboot"); /* on_reboot destroy */
	CHECK(run_until(p, VM_STOPPED, NULL));
	CHECK(p->domid == -1);

	CHECK(start(p));
	int64_t before = p->domid;
	n_events = 0;
	guest_does(p, "crash"); /* on_crash restart: a new domain of the same guest */
	bool restarted = false;
	for (int i = 0; i < 200 && !restarted; i++) {
		event_base_loop(d.base, EVLOOP_ONCE);
		restarted = event_at("p:restarted:running", 0) >= 0;
	}
	CHECK(restarted && p->state == VM_RUNNING && p->domid != before);
	CHECK(vm_destroy(p, done_cb, &r, &err) == 0);
	CHECK(run_until(p, VM_STOPPED, NULL));
	remove_guest(p);

	struct vm *c = define("c", VM_ACTION_DESTROY, VM_ACTION_RESTART, VM_ACTION_PRESERVE);
	CHECK(start(c));
	guest_does(c, "crash");
	CHECK(run_until(c, VM_CRASHED, NULL));
	CHECK(vm_has_domain(c));
	CHECK(vm_destroy(c, done_cb, &r, &err) == 0);
	CHECK(run_until(c, VM_STOPPED, NULL));
	remove_guest(c);
}

/* Runs the loop until the guest came back in a new domain ("NAME:restarted:running"). */
static bool until_restarted(struct vm *vm)
{
	char *ev = xasprintf("%s:restarted:running", vm->name);
	bool back = false;
	for (int i = 0; i < 500 && !back; i++) {
		event_base_loop(d.base, EVLOOP_ONCE);
		back = event_at(ev, 0) >= 0 && vm->state == VM_RUNNING && !vm_busy(vm);
	}
	free(ev);
	return back;
}

/* A watchdog's firing follows on_watchdog, a crash on_crash: each its own. */
static void test_on_watchdog(void)
{
	struct vm *vm = define_more("dog", VM_ACTION_DESTROY, VM_ACTION_RESTART,
				    VM_ACTION_DESTROY, "on_watchdog = \"restart\"\n");
	CHECK(vm != NULL);
	if (!vm)
		return;
	CHECK(vm_config_action(vm_cfg(vm, NULL), "on_watchdog") == VM_ACTION_RESTART);
	CHECK(start(vm));
	int64_t before = vm->domid;
	n_events = 0;
	guest_does(vm, "watchdog");
	CHECK(until_restarted(vm) && vm->domid != before);
	guest_does(vm, "crash"); /* on_crash destroy */
	CHECK(run_until(vm, VM_STOPPED, NULL));
	CHECK(vm->domid == -1);
	CHECK(count_events("dog:restarted:running") == 1);
	remove_guest(vm);

	/* the other way round, on_watchdog's default (destroy) under on_crash restart */
	vm = define("pup", VM_ACTION_DESTROY, VM_ACTION_RESTART, VM_ACTION_RESTART);
	CHECK(vm && vm_config_action(vm_cfg(vm, NULL), "on_watchdog") == VM_ACTION_DESTROY);
	if (!vm)
		return;
	CHECK(start(vm));
	n_events = 0;
	guest_does(vm, "watchdog");
	CHECK(run_until(vm, VM_STOPPED, NULL));
	CHECK(count_events("pup:restarted:running") == 0);
	remove_guest(vm);
}

/* Reads dump_dir/name: the sim's core of the domain domid. */
static bool core_of(const char *dumps, const char *name, int64_t domid)
{
	char *path = xasprintf("%s/%s", dumps, name);
	size_t len = 0;
	char *text = read_file(path, 4096, &len);
	char *want = xasprintf("sim core of domain %lld (%s), ", (long long)domid, name);
	bool ok = text && strncmp(text, want, strlen(want)) == 0;
	if (!ok)
		fprintf(stderr, "%s: %s\n", path, text ? text : "(cannot read)");
	free(want);
	free(text);
	free(path);
	return ok;
}

/* on_*=coredump-destroy and coredump-restart dump the domain to vmd.conf's dump_dir/NAME
 * (made when missing) before they go on as destroy and restart. */
static void test_coredump(void)
{
	struct vmd_conf c;
	conf_init(&c);
	free(c.dump_dir);
	c.dump_dir = xasprintf("%s/dumps/new", dir);
	conf_set_active(&c);

	struct vm *vm = define("core", VM_ACTION_DESTROY, VM_ACTION_RESTART,
			       VM_ACTION_COREDUMP_DESTROY);
	CHECK(vm != NULL);
	if (vm) {
		CHECK(start(vm));
		int64_t domid = vm->domid;
		n_events = 0;
		guest_does(vm, "crash");
		CHECK(run_until(vm, VM_STOPPED, NULL));
		CHECK(vm->domid == -1);
		CHECK(count_events("core:restarted:running") == 0);
		CHECK(core_of(c.dump_dir, "core", domid));
		remove_guest(vm);
	}

	vm = define("core2", VM_ACTION_COREDUMP_RESTART, VM_ACTION_RESTART, VM_ACTION_DESTROY);
	CHECK(vm != NULL);
	if (vm) {
		CHECK(start(vm));
		int64_t domid = vm->domid;
		n_events = 0;
		guest_does(vm, "poweroff"); /* on_poweroff coredump-restart */
		CHECK(until_restarted(vm) && vm->domid != domid);
		CHECK(core_of(c.dump_dir, "core2", domid));
		struct done r = {0};
		struct err err = {0};
		CHECK(vm_destroy(vm, done_cb, &r, &err) == 0);
		CHECK(run_until(vm, VM_STOPPED, NULL));
		remove_guest(vm);
	}
	conf_set_active(NULL);
	conf_finish(&c);
}

/* What the admin asked for wins over on_*: a shutdown stops a guest that would restart on
 * poweroff, a reboot restarts one that would be destroyed. */
static void test_asked_wins(void)
{
	struct vm *vm = define("w", VM_ACTION_RESTART, VM_ACTION_DESTROY, VM_ACTION_DESTROY);
	CHECK(start(vm));
	struct err err = {0};
	CHECK(vm_shutdown(vm, &err) == 0 && vm->state == VM_SHUTTING_DOWN);
	CHECK(run_until(vm, VM_STOPPED, NULL));
	CHECK(vm->domid == -1);

	CHECK(start(vm));
	int64_t before = vm->domid;
	n_events = 0;
	CHECK(vm_reboot(vm, &err) == 0 && vm->state == VM_REBOOTING);
	bool back = false;
	for (int i = 0; i < 500 && !back; i++) {
		event_base_loop(d.base, EVLOOP_ONCE);
		back = event_at("w:restarted:running", 0) >= 0;
	}
	CHECK(back && vm->domid != before);
	struct done r = {0};
	CHECK(vm_destroy(vm, done_cb, &r, &err) == 0);
	CHECK(run_until(vm, VM_STOPPED, NULL));
	remove_guest(vm);
}

/* A guest that crashes at boot with on_crash=restart does not spin: after RESTART_LIMIT
 * restarts within the window it is left stopped. */
static void test_restart_limit(void)
{
	struct vm *vm = define("spin", VM_ACTION_DESTROY, VM_ACTION_RESTART, VM_ACTION_RESTART);
	CHECK(start(vm));
	n_events = 0;
	for (int round = 0; round < 20 && vm->state != VM_STOPPED; round++) {
		if (vm->state == VM_RUNNING && !vm_busy(vm))
			guest_does(vm, "crash");
		event_base_loop(d.base, EVLOOP_ONCE);
		for (int i = 0; i < 100 && (vm_busy(vm) || vm->state == VM_CRASHED); i++)
			event_base_loop(d.base, EVLOOP_ONCE);
	}
	CHECK(vm->state == VM_STOPPED);
	CHECK(count_events("spin:restart-limit:stopped") == 1);
	CHECK(count_events("spin:restarted:running") == 10);
	remove_guest(vm);
}

/* A domain destroyed behind vmd's back (xl destroy): the guest is stopped, not restarted. */
static void test_vanished(void)
{
	struct vm *vm = define("v", VM_ACTION_RESTART, VM_ACTION_RESTART, VM_ACTION_RESTART);
	CHECK(start(vm));
	n_events = 0;
	guest_does(vm, "vanish");
	CHECK(run_until(vm, VM_STOPPED, NULL));
	CHECK(count_events("v:destroyed:stopped") == 1);
	CHECK(count_events("v:restarted:running") == 0);
	remove_guest(vm);
}

/* One reservation per name: defined and reserved names are taken alike. */
static void test_reservations(void)
{
	struct err err = {0};
	struct vm *a = define("taken", VM_ACTION_DESTROY, VM_ACTION_RESTART, VM_ACTION_DESTROY);
	CHECK(vm_reserve(&d, "taken", &err) == -1 && err.code == VMD_ERR_EXISTS);
	CHECK_STR(err_data_str(&err, "name"), "taken");
	err_clear(&err);
	CHECK(vm_reserve(&d, "new", &err) == 0 && vm_reserved(&d, "new"));
	CHECK(vm_reserve(&d, "new", &err) == -1 && err.code == VMD_ERR_EXISTS);
	err_clear(&err);
	CHECK(define("new", VM_ACTION_DESTROY, VM_ACTION_RESTART, VM_ACTION_DESTROY) == NULL);
	/* the holder defines it: the reservation ends there */
	struct vm_config cfg;
	cfg_text(&cfg, "name = \"new\"\nkernel = \"%s\"\n", kernel);
	struct vm_define_opts opts = {.reserved = true};
	struct vm *n = define_cfg(&cfg, &opts);
	CHECK(n != NULL && !vm_reserved(&d, "new"));
	/* given up: the name is free again */
	CHECK(vm_reserve(&d, "other", &err) == 0);
	vm_unreserve(&d, "other");
	CHECK(!vm_reserved(&d, "other") && vm_reserve(&d, "other", &err) == 0);
	vm_unreserve(&d, "other");
	err_clear(&err);
	remove_guest(a);
	if (n)
		remove_guest(n);
}

/* The installer powers the guest off by itself: the definition becomes the installed
 * system's and the guest starts again (or stays stopped when the install said so). */
static void test_install_phase(void)
{
	for (int start_after = 1; start_after >= 0; start_after--) {
		struct vm_config cfg;
		cfg_text(&cfg, "name = \"inst\"\nkernel = \"%s\"\nramdisk = \"%s\"\n"
			 "extra = \"console=hvc0\"\n", kernel, kernel);
		struct vm_install inst = {.phase = VM_INSTALL_RUNNING, .start = start_after};
		struct vm_define_opts opts = {.install = &inst};
		struct err err = {0};
		struct vm *vm = define_cfg(&cfg, &opts);
		CHECK(vm != NULL);
		if (!vm)
			return;
		CHECK(start(vm));
		n_events = 0;
		guest_does(vm, "poweroff");
		if (start_after) {
			bool back = false;
			for (int i = 0; i < 500 && !back; i++) {
				event_base_loop(d.base, EVLOOP_ONCE);
				back = vm->state == VM_RUNNING && !vm_busy(vm) &&
				       event_at("inst:installed:rebooting", 0) >= 0;
			}
			CHECK(back);
		} else {
			CHECK(run_until(vm, VM_STOPPED, NULL));
			CHECK(event_at("inst:installed:stopped", 0) >= 0);
		}
		CHECK(event_at(start_after ? "inst:install-finished:rebooting"
					   : "inst:install-finished:stopping",
			       0) >= 0);
		CHECK(vm->install.phase == VM_INSTALL_DONE);
		const libxl_domain_build_info *bi = &vm_cfg(vm, NULL)->dc.b_info;
		CHECK_STR(bi->bootloader, "pygrub");
		CHECK(bi->kernel == NULL && bi->ramdisk == NULL && bi->cmdline == NULL);
		CHECK(strstr(vm_text(vm, NULL), "bootloader") && !strstr(vm_text(vm, NULL), "kernel") &&
		      !strstr(vm_text(vm, NULL), "ramdisk") && !strstr(vm_text(vm, NULL), "console=hvc0"));
		if (vm_has_domain(vm)) {
			struct done r = {0};
			CHECK(vm_destroy(vm, done_cb, &r, &err) == 0);
			CHECK(run_until(vm, VM_STOPPED, NULL));
		}
		remove_guest(vm);
	}
}

/* Waiting for a guest that ignores its shutdown request runs out, and leaves it running. */
static void test_wait_timeout(void)
{
	struct vm *vm = define("h", VM_ACTION_DESTROY, VM_ACTION_RESTART, VM_ACTION_DESTROY);
	CHECK(start(vm));
	guest_does(vm, "hang-shutdown");
	struct err err = {0};
	CHECK(vm_shutdown(vm, &err) == 0);
	struct done r = {0};
	struct vm_waiter *w = vm_wait_stopped(vm, 0.2, done_cb, &r);
	CHECK(w != NULL);
	CHECK(run_until(NULL, 0, &r.called) && r.code == VMD_ERR_TIMEOUT);
	CHECK(strstr(r.msg, "did not stop") != NULL);
	CHECK(vm->state == VM_SHUTTING_DOWN && vm_has_domain(vm));
	/* a stopped guest's wait ends at once */
	struct done r2 = {0};
	CHECK(vm_destroy(vm, done_cb, &r2, &err) == 0);
	CHECK(run_until(vm, VM_STOPPED, NULL));
	struct done r3 = {0};
	CHECK(vm_wait_stopped(vm, 5, done_cb, &r3) == NULL && r3.called && r3.code == 0);
	remove_guest(vm);
}

/* At most VM_CFG_CACHE stopped guests keep their translated config; a running guest always
 * keeps its own (the on_* rules need it); lookups by name and domid follow every change. */
static void test_translated_configs_bounded(void)
{
	enum { N = VM_CFG_CACHE + 36 };
	struct vm *vms[N];
	char name[32];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "many%03d", i);
		vms[i] = define(name, VM_ACTION_DESTROY, VM_ACTION_RESTART, VM_ACTION_DESTROY);
		CHECK(vms[i] && vm_find(&d, name) == vms[i]);
	}
	CHECK(d.n_parsed <= VM_CFG_CACHE);
	CHECK(vms[0]->cfg == NULL && vms[0]->text == NULL); /* the oldest dropped theirs */
	CHECK(vms[N - 1]->cfg != NULL);
	CHECK(start(vms[0]));
	CHECK(vm_find_domid(&d, (uint32_t)vms[0]->domid) == vms[0]);
	for (int i = 1; i < N; i++) {
		struct err err = {0};
		const struct vm_config *cfg = vm_cfg(vms[i], &err);
		CHECK(cfg && strcmp(cfg->name, vms[i]->name) == 0);
		CHECK(vm_config_action(cfg, "on_reboot") == VM_ACTION_RESTART);
		err_clear(&err);
		CHECK(d.n_parsed <= VM_CFG_CACHE);
	}
	CHECK(vms[0]->cfg != NULL); /* running: kept however many others were used */
	uint32_t domid = (uint32_t)vms[0]->domid;
	guest_does(vms[0], "poweroff");
	CHECK(run_until(vms[0], VM_STOPPED, NULL));
	CHECK(vm_find_domid(&d, domid) == NULL);
	for (int i = 0; i < N; i++)
		remove_guest(vms[i]);
	CHECK(d.n_parsed == 0 && d.by_name.n == 0 && d.by_mac.n == 0);
}

int main(void)
{
	setup();
	RUN(test_start_destroy);
	RUN(test_refusals);
	RUN(test_on_actions);
	RUN(test_asked_wins);
	RUN(test_on_watchdog);
	RUN(test_coredump);
	RUN(test_restart_limit);
	RUN(test_vanished);
	RUN(test_reservations);
	RUN(test_install_phase);
	RUN(test_wait_timeout);
	RUN(test_translated_configs_bounded);
	teardown();
	TEST_DONE();
}
