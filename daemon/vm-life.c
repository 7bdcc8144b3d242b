/*
 * vm-life.c: what happens to a defined guest over time (see vm.h): the operations asked for
 * through vmd, the backend's domain events and the on_* rules applied to them, the install
 * phase, waiting for a guest to stop, and the adoption of running domains at start.
 *
 * The lifecycle rules live here, not in a backend: the backend reports that a domain powered
 * off, asked for a reboot or crashed, and leaves it in place; we then destroy it, restart it
 * (destroy + create: a new domid under the same definition) or preserve it, following the
 * guest's on_poweroff / on_reboot / on_crash. A shutdown or reboot asked for through vmd is
 * honoured as asked (shutdown stops the guest, reboot restarts it) whatever on_* says, as an
 * admin typing `vmctl shutdown` expects.
 *
 * Each domain we create carries a record (backend "userdata"): {"vmd":1,"name":..,"uuid":..}.
 * At start the registry lists the hypervisor's domains and adopts those whose record matches
 * a definition, without touching them; all others are foreign and only listed.
 */
#include "vm.h"

#include <errno.h>
#include <inttypes.h>
#include <event2/event.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "util.h"
#include "vmd-proto.h"

/* More restarts than this within RESTART_WINDOW seconds and we stop restarting a guest: a
 * guest that crashes at boot with on_crash=restart would otherwise spin forever. */
#define RESTART_LIMIT 10
#define RESTART_WINDOW 60.0

struct vm_waiter {
	LIST_ENTRY(vm_waiter) link;
	struct vm *vm;
	struct event *timer;
	double timeout;
	vm_done_fn *done;
	void *arg;
};

static void finish_waiter(struct vm_waiter *w, const struct err *err)
{
	LIST_REMOVE(w, link);
	if (w->timer)
		event_free(w->timer);
	vm_done_fn *done = w->done;
	void *arg = w->arg;
	struct vm *vm = w->vm;
	free(w);
	done(vm, arg, err);
}

static void set_state(struct vm *vm, enum vm_state st, const char *event)
{
	enum vm_state old = vm->state;
	vm->state = st;
	if (old != st || event)
		log_info("%s: %s -> %s (%s)", vm->name, vm_state_name(old), vm_state_name(st),
			 event);
	vm_emit(vm, event);
	if (st == VM_STOPPED) {
		while (!LIST_EMPTY(&vm->waiters))
			finish_waiter(LIST_FIRST(&vm->waiters), NULL);
	}
}

/* What a reply about the guest carries (proto/ error.json): the guest's name, and its state
 * when that is why (BAD_STATE, BUSY); a backend failure without a code is BACKEND. */
static void decorate(const struct vm *vm, struct err *err)
{
	if (!err)
		return;
	if (!err->code)
		err->code = VMD_ERR_BACKEND;
	if (!err_data_str(err, "name"))
		err_add_str(err, "name", vm->name);
	if ((err->code == VMD_ERR_BAD_STATE || err->code == VMD_ERR_BUSY) &&
	    !err_data_str(err, "state"))
		err_add_str(err, "state", vm_state_name(vm->state));
}

/* An operation refused at once: err as the reply wants it. */
static int refused(const struct vm *vm, struct err *err)
{
	decorate(vm, err);
	return -1;
}

static void finish_op(struct vm *vm, const struct err *err)
{
	vm_done_fn *done = vm->op_done;
	void *arg = vm->op_arg;
	vm->op_done = NULL;
	vm->op_arg = NULL;
	if (!done)
		return;
	if (!err) {
		done(vm, arg, NULL);
		return;
	}
	struct err e = {0};
	err_copy(&e, err);
	decorate(vm, &e);
	done(vm, arg, &e);
	err_clear(&e);
}

static enum vm_state adopted_state(enum dom_state s)
{
	switch (s) {
	case DOM_PAUSED:
		return VM_PAUSED;
	case DOM_SHUTDOWN:
		return VM_SHUTDOWN;
	case DOM_CRASHED:
		return VM_CRASHED;
	case DOM_DYING:
		return VM_STOPPING;
	default:
		return VM_RUNNING;
	}
}

/* The guest that a domain's record names, if the record is ours and matches a definition. */
static struct vm *vm_of_record(struct daemon *d, const char *record)
{
	if (!record)
		return NULL;
	json_t *r = json_loads(record, 0, NULL);
	struct vm *vm = NULL;
	const char *name = json_string_value(json_object_get(r, "name"));
	const char *uuid = json_string_value(json_object_get(r, "uuid"));
	uint8_t u[16];
	if (json_integer_value(json_object_get(r, "vmd")) == 1 && name && uuid &&
	    uuid_parse(uuid, u) == 0) {
		vm = vm_find(d, name);
		if (vm && memcmp(vm->uuid, u, 16) != 0)
			vm = NULL;
	}
	json_decref(r);
	return vm;
}

void vm_adopt_all(struct daemon *d)
{
	struct dom_info *doms = NULL;
	size_t n = 0;
	struct err err = {0};
	if (be_list(d->be, &doms, &n, &err) < 0) {
		log_error("cannot list domains: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct vm *vm = vm_of_record(d, doms[i].record);
		if (!vm) {
			log_info("domain %u (%s) is not managed by vmd; listing it as foreign",
				 doms[i].domid, doms[i].name);
			continue;
		}
		if (be_watch(d->be, doms[i].domid, &err) < 0) {
			log_error("%s: cannot watch domain %u: %s", vm->name, doms[i].domid,
				  err.msg);
		}
		vm_set_domid(vm, doms[i].domid);
		vm->started_at = (double)doms[i].start_time;
		vm_live_begin(vm, NULL);
		log_info("%s: adopted domain %u", vm->name, doms[i].domid);
		set_state(vm, adopted_state(doms[i].state), "adopted");
		/* It stopped while we were away: its on_* rule is still to be applied. */
		if ((doms[i].state == DOM_SHUTDOWN || doms[i].state == DOM_CRASHED) &&
		    doms[i].has_reason)
			vm_dom_event(d, doms[i].domid, doms[i].reason);
	}
	dom_info_list_free(doms, n);
}
/* ---- operations -------------------------------------------------------------------------- */

char *vm_record(const char *name, const uint8_t uuid[16])
{
	char u[UUID_STR_LEN];
	uuid_format(uuid, u);
	json_t *r = json_pack("{s:i, s:s, s:s}", "vmd", 1, "name", name, "uuid", u);
	char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(r);
	return s;
}

static char *make_record(const struct vm *vm)
{
	return vm_record(vm->name, vm->uuid);
}

/* The domain was built from the definition: nothing is pending. */
static void live_from_definition(struct vm *vm)
{
	struct err err = {0};
	const char *text = vm_text(vm, &err);
	if (text)
		vm_live_begin(vm, text);
	err_clear(&err);
}

static void created(void *arg, const struct err *err, uint32_t domid)
{
	struct vm *vm = arg;
	vm->in_flight = false;
	if (err) {
		log_error("%s: start failed: %s", vm->name, err->msg);
		set_state(vm, VM_STOPPED, "start-failed");
		finish_op(vm, err);
		return;
	}
	vm_set_domid(vm, domid);
	vm->started_at = now_wall();
	live_from_definition(vm);
	bool restart = vm->state == VM_REBOOTING;
	log_info("%s: running as domain %u", vm->name, domid);
	set_state(vm, VM_RUNNING, restart ? "restarted" : "started");
	finish_op(vm, NULL);
}

static int begin_create(struct vm *vm, struct err *err)
{
	const struct vm_config *cfg = vm_cfg(vm, err);
	if (!cfg)
		return -1;
	char *record = make_record(vm);
	int r = be_create(vm->d->be, cfg, record, created, vm, err);
	free(record);
	if (r == 0)
		vm->in_flight = true;
	return r;
}

int vm_start(struct vm *vm, vm_done_fn *done, void *arg, struct err *err)
{
	if (vm->readers) {
		/* Its disks are being copied: a running guest would change them under the copy. */
		err_set(err, VMD_ERR_BUSY, "guest '%s' is being cloned; start it once the "
			"copy is done", vm->name);
		return refused(vm, err);
	}
	if (vm_busy(vm)) {
		err_set(err, VMD_ERR_BUSY, "guest '%s' is %s", vm->name,
			vm_state_name(vm->state));
		return refused(vm, err);
	}
	if (vm->state != VM_STOPPED) {
		err_set(err, VMD_ERR_BAD_STATE, "guest '%s' is already %s", vm->name,
			vm_state_name(vm->state));
		return refused(vm, err);
	}
	vm->shutdown_requested = vm->reboot_requested = false;
	if (begin_create(vm, err) < 0)
		return refused(vm, err);
	vm->op_done = done;
	vm->op_arg = arg;
	set_state(vm, VM_STARTING, "starting");
	return 0;
}

static bool restart_allowed(struct vm *vm)
{
	_Static_assert(sizeof vm->restart_times / sizeof vm->restart_times[0] == RESTART_LIMIT,
		       "restart ring size");
	double now = now_monotonic();
	double oldest = vm->restart_times[vm->restart_next];
	vm->restart_times[vm->restart_next] = now;
	vm->restart_next = (vm->restart_next + 1) % RESTART_LIMIT;
	return oldest == 0 || now - oldest > RESTART_WINDOW;
}

/* The installer is done and its domain gone: the definition becomes the installed system's
 * in one store write. The installer files vmd extracted go once that write is durable. A
 * failed write leaves the guest as it was (still installing), stopped. */
static int install_switch(struct vm *vm)
{
	struct vm_config next;
	struct err err = {0};
	vm_config_init(&next);
	const struct vm_config *cur = vm_cfg(vm, &err);
	if (!cur || vm_config_copy(&next, cur, &err) < 0 ||
	    vm_config_make_installed(&next, &err) < 0) {
		log_error("%s: cannot switch to the installed system: %s", vm->name, err.msg);
		vm_config_finish(&next);
		err_clear(&err);
		return -1;
	}
	char **files = vm->install.files;
	size_t n_files = vm->install.n_files;
	vm->install.files = NULL;
	vm->install.n_files = 0;
	vm->install.phase = VM_INSTALL_DONE;
	if (vm_replace_config(vm, &next, &err) < 0) {
		log_error("%s: the installer is done, but the installed system's definition could "
			  "not be stored (%s); the guest stays as it was",
			  vm->name, err.msg);
		err_clear(&err);
		vm_config_finish(&next);
		vm->install.phase = VM_INSTALL_RUNNING;
		vm->install.files = files;
		vm->install.n_files = n_files;
		return -1;
	}
	vm->install.files = files;
	vm->install.n_files = n_files;
	vm_install_files_delete(vm);
	log_info("%s: installed; it now boots from its disk (%s)", vm->name,
		 vm->type == VM_TYPE_HVM ? "boot = \"c\", cdrom ejected"
					 : "bootloader = \"pygrub\"");
	return 0;
}

static void destroyed(void *arg, const struct err *err, uint32_t domid)
{
	struct vm *vm = arg;
	vm->in_flight = false;
	bool switching = vm->install_finishing;
	vm->install_finishing = false;
	if (err) {
		/* The domain is still there: show it as preserved so the admin can act. */
		log_error("%s: destroying domain %u failed: %s", vm->name, domid, err->msg);
		set_state(vm, VM_SHUTDOWN, "destroy-failed");
		finish_op(vm, err);
		return;
	}
	vm_set_domid(vm, -1);
	if (switching) {
		if (install_switch(vm) < 0) {
			set_state(vm, VM_STOPPED, "install-failed");
			finish_op(vm, NULL);
			return;
		}
		if (vm->state != VM_REBOOTING) { /* the install asked not to start it */
			set_state(vm, VM_STOPPED, "destroyed");
			set_state(vm, VM_STOPPED, "installed");
			finish_op(vm, NULL);
			return;
		}
		set_state(vm, VM_REBOOTING, "installed");
	}
	if (vm->state == VM_REBOOTING) {
		if (!restart_allowed(vm)) {
			log_error("%s: restarted %d times within %.0f s; not restarting again",
				  vm->name, RESTART_LIMIT, RESTART_WINDOW);
			set_state(vm, VM_STOPPED, "restart-limit");
			finish_op(vm, NULL);
			return;
		}
		struct err cerr = {0};
		if (begin_create(vm, &cerr) < 0) {
			log_error("%s: restart failed: %s", vm->name, cerr.msg);
			set_state(vm, VM_STOPPED, "start-failed");
			finish_op(vm, &cerr);
		}
		return;
	}
	set_state(vm, VM_STOPPED, "destroyed");
	finish_op(vm, NULL);
}

/* Destroys the domain; the guest shows `during` (stopping, or rebooting for a restart) until
 * the backend is done. event names why: "stopping" when asked, else the guest's doing. */
static int begin_destroy(struct vm *vm, enum vm_state during, const char *event,
			 struct err *err)
{
	if (be_destroy(vm->d->be, (uint32_t)vm->domid, destroyed, vm, err) < 0)
		return -1;
	vm->in_flight = true;
	set_state(vm, during, event);
	return 0;
}

int vm_destroy(struct vm *vm, vm_done_fn *done, void *arg, struct err *err)
{
	if (vm_busy(vm)) {
		err_set(err, VMD_ERR_BUSY, "guest '%s' is %s", vm->name,
			vm_state_name(vm->state));
		return refused(vm, err);
	}
	if (!vm_has_domain(vm)) {
		err_set(err, VMD_ERR_BAD_STATE, "guest '%s' is not running", vm->name);
		return refused(vm, err);
	}
	vm->op_done = done;
	vm->op_arg = arg;
	if (begin_destroy(vm, VM_STOPPING, "stopping", err) < 0) {
		vm->op_done = NULL;
		vm->op_arg = NULL;
		return refused(vm, err);
	}
	return 0;
}

static int require_running(struct vm *vm, const char *what, struct err *err)
{
	if (vm_busy(vm)) {
		err_set(err, VMD_ERR_BUSY, "guest '%s' is %s", vm->name,
			vm_state_name(vm->state));
		return -1;
	}
	if (vm->state != VM_RUNNING) {
		err_set(err, VMD_ERR_BAD_STATE, "cannot %s guest '%s': it is %s", what,
			vm->name, vm_state_name(vm->state));
		return -1;
	}
	return 0;
}

/* A request to a running guest's domain (shutdown, reboot, pause), then its new state. */
static int act(struct vm *vm, const char *what, int (*fn)(struct backend *, uint32_t, struct err *),
	       enum vm_state st, const char *event, struct err *err)
{
	if (require_running(vm, what, err) < 0 || fn(vm->d->be, (uint32_t)vm->domid, err) < 0)
		return refused(vm, err);
	if (st == VM_REBOOTING)
		vm->reboot_requested = true;
	else if (st == VM_SHUTTING_DOWN)
		vm->shutdown_requested = true;
	set_state(vm, st, event);
	return 0;
}

int vm_shutdown(struct vm *vm, struct err *err)
{
	/* Asking again is fine (the first request may have been missed by a booting guest). */
	if (vm->state == VM_SHUTTING_DOWN && !vm_busy(vm)) {
		if (be_shutdown(vm->d->be, (uint32_t)vm->domid, err) < 0)
			return refused(vm, err);
		return 0;
	}
	return act(vm, "shut down", be_shutdown, VM_SHUTTING_DOWN, "shutdown-requested", err);
}

int vm_reboot(struct vm *vm, struct err *err)
{
	return act(vm, "reboot", be_reboot, VM_REBOOTING, "reboot-requested", err);
}

int vm_pause(struct vm *vm, struct err *err)
{
	return act(vm, "pause", be_pause, VM_PAUSED, "paused", err);
}

int vm_unpause(struct vm *vm, struct err *err)
{
	if (vm_busy(vm)) {
		err_set(err, VMD_ERR_BUSY, "guest '%s' is %s", vm->name,
			vm_state_name(vm->state));
		return refused(vm, err);
	}
	if (vm->state != VM_PAUSED) {
		err_set(err, VMD_ERR_BAD_STATE, "cannot unpause guest '%s': it is %s",
			vm->name, vm_state_name(vm->state));
		return refused(vm, err);
	}
	if (be_unpause(vm->d->be, (uint32_t)vm->domid, err) < 0)
		return refused(vm, err);
	set_state(vm, VM_RUNNING, "unpaused");
	return 0;
}

/* ---- domain events: the on_* rules ------------------------------------------------------- */

/* on_*=coredump-*: the core goes to dump_dir/NAME, as xl writes it; a failed dump is
 * logged and the action goes on (as xl does). */
static void core_dump(struct vm *vm)
{
	const struct vmd_conf *conf = conf_active();
	char *path = xasprintf("%s/%s", conf->dump_dir, vm->name);
	struct err err = {0};
	log_info("%s: dumping core to %s", vm->name, path);
	if (mkdir_p(conf->dump_dir, 0700) < 0)
		log_error("%s: core dump: %s: %s", vm->name, conf->dump_dir, strerror(errno));
	else if (be_core_dump(vm->d->be, (uint32_t)vm->domid, path, &err) < 0)
		log_error("%s: core dump failed: %s", vm->name, err.msg);
	err_clear(&err);
	free(path);
}

static void apply(struct vm *vm, enum vm_action action, const char *reason, bool crash)
{
	struct err err = {0};
	switch (action) {
	case VM_ACTION_COREDUMP_DESTROY:
		core_dump(vm);
		if (begin_destroy(vm, VM_STOPPING, reason, &err) == 0)
			return;
		break;
	case VM_ACTION_COREDUMP_RESTART:
		core_dump(vm);
		if (begin_destroy(vm, VM_REBOOTING, reason, &err) == 0)
			return;
		break;
	/* A definition cannot hold these two (xlcfg.c refuses them); on_soft_reset's default
	 * soft-reset boots the guest afresh (README, "Deliberate differences"). */
	case VM_ACTION_RENAME_RESTART:
	case VM_ACTION_SOFT_RESET:
	case VM_ACTION_PRESERVE:
		set_state(vm, crash ? VM_CRASHED : VM_SHUTDOWN, reason);
		return;
	case VM_ACTION_RESTART:
		if (begin_destroy(vm, VM_REBOOTING, reason, &err) == 0)
			return;
		break;
	case VM_ACTION_DESTROY:
		if (begin_destroy(vm, VM_STOPPING, reason, &err) == 0)
			return;
		break;
	}
	log_error("%s: cannot act on %s: %s", vm->name, reason, err.msg);
	set_state(vm, crash ? VM_CRASHED : VM_SHUTDOWN, reason);
}

/* The guest powered off or rebooted by itself while installing: the installer is done. Its
 * domain is destroyed, and destroyed() switches the definition (install_switch) and starts
 * the installed system when asked to. True when this took the event. */
static bool install_finish(struct vm *vm, const char *how)
{
	if (vm->install.phase != VM_INSTALL_RUNNING)
		return false;
	log_info("%s: the installer ended (%s); switching to the installed system", vm->name,
		 how);
	struct err err = {0};
	vm->install_finishing = true;
	if (begin_destroy(vm, vm->install.start ? VM_REBOOTING : VM_STOPPING, "install-finished",
			  &err) == 0)
		return true;
	vm->install_finishing = false;
	log_error("%s: cannot destroy the installer's domain: %s", vm->name, err.msg);
	set_state(vm, VM_SHUTDOWN, how);
	return true;
}

/* The guest's on_* rule (which: "on_poweroff", ...). Should its text no longer translate
 * (said in the log), xl's defaults: restart on reboot, else destroy. */
static enum vm_action action_of(struct vm *vm, const char *which)
{
	struct err err = {0};
	const struct vm_config *cfg = vm_cfg(vm, &err);
	err_clear(&err);
	if (cfg)
		return vm_config_action(cfg, which);
	return strcmp(which, "on_reboot") == 0 ? VM_ACTION_RESTART : VM_ACTION_DESTROY;
}

void vm_dom_event(void *arg, uint32_t domid, enum dom_event ev)
{
	struct daemon *d = arg;
	struct vm *vm = vm_find_domid(d, domid);
	if (!vm) {
		log_debug("event %d for domain %u, which is not ours", (int)ev, domid);
		return;
	}
	if (ev == DOM_EV_ADDRESSES) { /* vm.addresses has news, whatever the guest is doing */
		vm_emit(vm, "addresses");
		return;
	}
	if (vm_busy(vm)) {
		/* We are destroying or restarting it already; that outcome wins. */
		log_debug("%s: event %d ignored during %s", vm->name, (int)ev,
			  vm_state_name(vm->state));
		return;
	}
	switch (ev) {
	case DOM_EV_GONE:
		log_warn("%s: domain %u disappeared (destroyed outside vmd?)", vm->name, domid);
		vm_set_domid(vm, -1);
		set_state(vm, VM_STOPPED, "destroyed");
		break;
	case DOM_EV_POWEROFF: {
		bool asked = vm->shutdown_requested;
		vm->shutdown_requested = false;
		if (!asked && install_finish(vm, "poweroff"))
			break;
		enum vm_action a = asked ? VM_ACTION_DESTROY
					 : action_of(vm, "on_poweroff");
		log_info("%s: powered off; on_poweroff %s", vm->name, vm_action_name(a));
		apply(vm, a, "poweroff", false);
		break;
	}
	case DOM_EV_REBOOT: {
		bool asked = vm->reboot_requested;
		vm->reboot_requested = false;
		if (!asked && install_finish(vm, "reboot"))
			break;
		enum vm_action a = asked ? VM_ACTION_RESTART
					 : action_of(vm, "on_reboot");
		log_info("%s: rebooting; on_reboot %s", vm->name, vm_action_name(a));
		apply(vm, a, "reboot", false);
		break;
	}
	case DOM_EV_CRASH:
	case DOM_EV_WATCHDOG:
	case DOM_EV_SOFT_RESET: {
		const char *key = ev == DOM_EV_CRASH      ? "on_crash"
				  : ev == DOM_EV_WATCHDOG ? "on_watchdog"
							  : "on_soft_reset";
		const char *what = ev == DOM_EV_CRASH      ? "crash"
				   : ev == DOM_EV_WATCHDOG ? "watchdog"
							   : "soft-reset";
		enum vm_action a = action_of(vm, key);
		if (ev == DOM_EV_SOFT_RESET)
			log_info("%s: soft reset; %s %s", vm->name, key, vm_action_name(a));
		else
			log_warn("%s: %s; %s %s", vm->name,
				 ev == DOM_EV_CRASH ? "crashed" : "its watchdog fired", key,
				 vm_action_name(a));
		apply(vm, a, what, ev != DOM_EV_SOFT_RESET);
		break;
	}
	case DOM_EV_ADDRESSES:
		break; /* above */
	}
}

/* ---- migration (migrate.c drives it) ------------------------------------------------------ */

/* A guest held for a long operation of its domain: busy, nothing else acts on it, its
 * domain's events wait. verb says what for, in refusals. */
static int hold(struct vm *vm, bool stopped, enum vm_state st, const char *event,
		const char *verb, struct err *err)
{
	if (vm->readers) {
		err_set(err, VMD_ERR_BUSY, "guest '%s' is being cloned", vm->name);
		return refused(vm, err);
	}
	if (vm_busy(vm)) {
		err_set(err, VMD_ERR_BUSY, "guest '%s' is %s", vm->name,
			vm_state_name(vm->state));
		return refused(vm, err);
	}
	if (stopped && vm->state != VM_STOPPED) {
		err_set(err, VMD_ERR_BAD_STATE, "guest '%s' is %s; only a stopped guest can be %s",
			vm->name, vm_state_name(vm->state), verb);
		return refused(vm, err);
	}
	if (!stopped && vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
		err_set(err, VMD_ERR_BAD_STATE, "guest '%s' is %s; only a running or paused "
			"guest can be %s", vm->name, vm_state_name(vm->state), verb);
		return refused(vm, err);
	}
	if (vm->install.phase == VM_INSTALL_RUNNING) {
		err_set(err, VMD_ERR_BAD_STATE, "guest '%s' is installing", vm->name);
		return refused(vm, err);
	}
	vm->in_flight = true;
	set_state(vm, st, event);
	return 0;
}

int vm_migrate_begin(struct vm *vm, struct err *err)
{
	return hold(vm, false, VM_MIGRATING, "migrating", "migrated", err);
}

int vm_save_begin(struct vm *vm, struct err *err)
{
	return hold(vm, false, VM_SAVING, "saving", "saved", err);
}

int vm_restore_begin(struct vm *vm, struct err *err)
{
	return hold(vm, true, VM_RESTORING, "restoring", "restored", err);
}

enum vm_state vm_resume_sent(struct vm *vm, int64_t domid, enum vm_state before)
{
	struct err e = {0};
	if (be_migrate_resume(vm->d->be, (uint32_t)domid, &e) == 0)
		return before;
	log_error("%s: cannot resume domain %" PRId64 ": %s", vm->name, domid, e.msg);
	err_clear(&e);
	/* A send that failed before the suspend left it running: say what it is. */
	enum vm_state st = VM_SHUTDOWN;
	struct dom_info di = {0};
	if (be_info(vm->d->be, (uint32_t)domid, &di, &e) == 0) {
		if (di.state == DOM_RUNNING || di.state == DOM_BLOCKED)
			st = VM_RUNNING;
		else if (di.state == DOM_PAUSED)
			st = VM_PAUSED;
	}
	err_clear(&e);
	dom_info_finish(&di);
	return st;
}

void vm_migrate_end(struct vm *vm, int64_t domid, enum vm_state st, const char *event)
{
	vm->in_flight = false;
	if (domid != vm->domid) {
		vm_set_domid(vm, domid);
		if (domid >= 0)
			vm->started_at = now_wall();
	}
	set_state(vm, st, event);
}

void vm_migrated_in(struct vm *vm, uint32_t domid)
{
	vm_set_domid(vm, domid);
	vm->started_at = now_wall();
	live_from_definition(vm);
	set_state(vm, VM_RUNNING, "migrated-in");
}

/* ---- waiting ----------------------------------------------------------------------------- */

static void waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct vm_waiter *w = arg;
	struct err err = {0};
	err_set(&err, VMD_ERR_TIMEOUT, "guest '%s' did not stop within %.0f s (still %s)",
		w->vm->name, w->timeout, vm_state_name(w->vm->state));
	finish_waiter(w, &err);
	err_clear(&err);
}

struct vm_waiter *vm_wait_stopped(struct vm *vm, double timeout, vm_done_fn *done, void *arg)
{
	if (vm->state == VM_STOPPED) {
		done(vm, arg, NULL);
		return NULL;
	}
	struct vm_waiter *w = xcalloc(1, sizeof *w);
	w->vm = vm;
	w->done = done;
	w->arg = arg;
	w->timeout = timeout;
	w->timer = evtimer_new(vm->d->base, waiter_timeout, w);
	struct timeval tv = {.tv_sec = (time_t)timeout,
			     .tv_usec = (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6)};
	evtimer_add(w->timer, &tv);
	LIST_INSERT_HEAD(&vm->waiters, w, link);
	return w;
}

void vm_wait_cancel(struct vm_waiter *w)
{
	if (!w)
		return;
	LIST_REMOVE(w, link);
	event_free(w->timer);
	free(w);
}

void vm_life_end(struct daemon *d)
{
	struct err gone = {0};
	err_set(&gone, VMD_ERR_CANCELLED, "the daemon is shutting down");
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link) {
		while (!LIST_EMPTY(&vm->waiters))
			finish_waiter(LIST_FIRST(&vm->waiters), &gone);
		finish_op(vm, &gone);
	}
}

static void autostart_done(struct vm *vm, void *arg, const struct err *err)
{
	if (err)
		log_error("%s: autostart failed: %s", vm->name, err->msg);
}

void vm_autostart(struct daemon *d)
{
	/* Once per host boot: run_dir is a tmpfs (/run), so the marker vanishes at reboot and
	 * a restart of the daemon alone starts nothing that an admin stopped on purpose. */
	char *marker = xasprintf("%s/autostart.done", d->run_dir);
	int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	free(marker);
	if (fd < 0) {
		if (errno != EEXIST)
			log_warn("autostart marker in %s: %s", d->run_dir, strerror(errno));
		return;
	}
	close(fd);
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link) {
		if (!vm->autostart || vm->state != VM_STOPPED)
			continue;
		struct err err = {0};
		log_info("%s: autostart", vm->name);
		if (vm_start(vm, autostart_done, NULL, &err) < 0)
			log_error("%s: autostart failed: %s", vm->name, err.msg);
		err_clear(&err);
	}
}


