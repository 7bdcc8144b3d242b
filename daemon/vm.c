/*
 * vm.c: see vm.h.
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
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "util.h"
#include "vmd-proto.h"
#include "xlcfg.h"

#define STORE_VERSION 1
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

static const char *const state_names[] = {
	[VM_STOPPED] = "stopped",	    [VM_STARTING] = "starting", [VM_RUNNING] = "running",
	[VM_PAUSED] = "paused",		    [VM_SHUTTING_DOWN] = "shutting-down",
	[VM_REBOOTING] = "rebooting",	    [VM_STOPPING] = "stopping",
	[VM_SHUTDOWN] = "shutdown",	    [VM_CRASHED] = "crashed",
};

const char *vm_state_name(enum vm_state s)
{
	return state_names[s];
}

bool vm_has_domain(const struct vm *vm)
{
	return vm->domid >= 0;
}

bool vm_busy(const struct vm *vm)
{
	return vm->in_flight || vm->clones > 0;
}

/* ---- registry ---------------------------------------------------------------------------- */

struct vm *vm_find(struct daemon *d, const char *name)
{
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link)
		if (strcmp(vm->cfg.name, name) == 0)
			return vm;
	return NULL;
}

struct vm *vm_find_domid(struct daemon *d, uint32_t domid)
{
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link)
		if (vm->domid == (int64_t)domid)
			return vm;
	return NULL;
}

static struct vm *find_uuid(struct daemon *d, const uint8_t uuid[16])
{
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link)
		if (memcmp(vm->cfg.uuid, uuid, 16) == 0)
			return vm;
	return NULL;
}

/* The guest (other than skip) that already uses mac, if any. */
static struct vm *find_mac(struct daemon *d, const char *mac, const struct vm *skip)
{
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link) {
		if (vm == skip)
			continue;
		for (size_t i = 0; i < vm->cfg.n_vifs; i++)
			if (vm->cfg.vifs[i].mac && strcasecmp(vm->cfg.vifs[i].mac, mac) == 0)
				return vm;
	}
	return NULL;
}

static struct vm *vm_new(struct daemon *d)
{
	struct vm *vm = xcalloc(1, sizeof *vm);
	vm->d = d;
	vm_config_init(&vm->cfg);
	vm->domid = -1;
	vm->state = VM_STOPPED;
	LIST_INIT(&vm->waiters);
	return vm;
}

static void install_files_free(struct vm *vm)
{
	for (size_t i = 0; i < vm->install.n_files; i++)
		free(vm->install.files[i]);
	free(vm->install.files);
	vm->install.files = NULL;
	vm->install.n_files = 0;
}

static void install_files_add(struct vm *vm, const char *path)
{
	vm->install.files = xrealloc(vm->install.files,
				     (vm->install.n_files + 1) * sizeof(char *));
	vm->install.files[vm->install.n_files++] = xstrdup(path);
}

/* Deletes the installer files vmd extracted, and their directory once it is empty. */
static void install_files_delete(struct vm *vm)
{
	for (size_t i = 0; i < vm->install.n_files; i++) {
		const char *f = vm->install.files[i];
		if (unlink(f) < 0 && errno != ENOENT)
			log_warn("%s: cannot delete %s: %s", vm->cfg.name, f, strerror(errno));
		char *dir = xstrdup(f);
		char *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			(void)rmdir(dir); /* fails while other files remain: fine */
		}
		free(dir);
	}
	install_files_free(vm);
}

const char *vm_install_phase_name(enum vm_install_phase p)
{
	switch (p) {
	case VM_INSTALL_RUNNING:
		return "installing";
	case VM_INSTALL_DONE:
		return "installed";
	case VM_INSTALL_NONE:
		break;
	}
	return NULL;
}

static void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	vm_config_finish(&vm->cfg);
	for (size_t i = 0; i < vm->n_owned_disks; i++)
		free(vm->owned_disks[i]);
	free(vm->owned_disks);
	install_files_free(vm);
	free(vm);
}

static void emit(struct vm *vm, const char *event)
{
	char uuid[UUID_STR_LEN];
	uuid_format(vm->cfg.uuid, uuid);
	json_t *p = json_pack("{s:s, s:s, s:s, s:o, s:s, s:f}", "name", vm->cfg.name, "uuid", uuid,
			      "state", vm_state_name(vm->state), "domid",
			      vm->domid >= 0 ? json_integer(vm->domid) : json_null(), "event",
			      event, "time", now_wall());
	if (vm->d->server)
		server_broadcast(vm->d->server, "vm.event", p);
	json_decref(p);
}

static void finish_waiter(struct vm_waiter *w, const struct be_error *err)
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
		log_info("%s: %s -> %s (%s)", vm->cfg.name, vm_state_name(old), vm_state_name(st),
			 event);
	emit(vm, event);
	if (st == VM_STOPPED) {
		while (!LIST_EMPTY(&vm->waiters))
			finish_waiter(LIST_FIRST(&vm->waiters), NULL);
	}
}

static void finish_op(struct vm *vm, const struct be_error *err)
{
	vm_done_fn *done = vm->op_done;
	void *arg = vm->op_arg;
	vm->op_done = NULL;
	vm->op_arg = NULL;
	if (done)
		done(vm, arg, err);
}

/* ---- persistence ------------------------------------------------------------------------- */

static json_t *vm_doc(const struct vm *vm)
{
	json_t *owned = json_array();
	for (size_t i = 0; i < vm->n_owned_disks; i++)
		json_array_append_new(owned, json_string(vm->owned_disks[i]));
	json_t *doc = json_pack("{s:i, s:o, s:b, s:o}", "vmd_store", STORE_VERSION, "config",
				config_to_json(&vm->cfg), "autostart", vm->autostart,
				"owned_disks", owned);
	if (vm->install.phase != VM_INSTALL_NONE) {
		json_t *files = json_array();
		for (size_t i = 0; i < vm->install.n_files; i++)
			json_array_append_new(files, json_string(vm->install.files[i]));
		json_object_set_new(doc, "install",
				    json_pack("{s:s, s:b, s:o}", "phase",
					      vm_install_phase_name(vm->install.phase), "start",
					      vm->install.start, "files", files));
	}
	return doc;
}

int vm_save(struct vm *vm)
{
	json_t *doc = vm_doc(vm);
	int r = store_save(&vm->d->store, vm->cfg.name, doc, false);
	int e = errno;
	json_decref(doc);
	if (r < 0)
		log_error("%s: cannot save definition: %s", vm->cfg.name, strerror(e));
	errno = e;
	return r;
}

static int load_one(void *arg, const char *name, json_t *doc, char *why, size_t whylen)
{
	struct daemon *d = arg;
	json_t *ver = json_object_get(doc, "vmd_store");
	json_t *cfgj = json_object_get(doc, "config");
	json_t *autostart = json_object_get(doc, "autostart");
	json_t *owned = json_object_get(doc, "owned_disks");
	if (!json_is_integer(ver) || json_integer_value(ver) != STORE_VERSION ||
	    !json_is_object(cfgj)) {
		snprintf(why, whylen, "not a vmd definition (version %d)", STORE_VERSION);
		return -1;
	}
	struct vm *vm = vm_new(d);
	struct config_error cerr = {0};
	if (config_from_json(cfgj, &vm->cfg, &cerr) < 0) {
		snprintf(why, whylen, "invalid config: %s", cerr.message);
		goto fail;
	}
	if (strcmp(vm->cfg.name, name) != 0) {
		snprintf(why, whylen, "holds guest '%s', not '%s'", vm->cfg.name, name);
		goto fail;
	}
	if (!vm->cfg.has_uuid) {
		snprintf(why, whylen, "has no uuid");
		goto fail;
	}
	struct vm *other = find_uuid(d, vm->cfg.uuid);
	if (other) {
		snprintf(why, whylen, "uuid already used by '%s'", other->cfg.name);
		goto fail;
	}
	for (size_t i = 0; i < vm->cfg.n_vifs; i++) {
		if (vm->cfg.vifs[i].mac && (other = find_mac(d, vm->cfg.vifs[i].mac, NULL))) {
			snprintf(why, whylen, "mac %s already used by '%s'", vm->cfg.vifs[i].mac,
				 other->cfg.name);
			goto fail;
		}
	}
	vm->autostart = json_is_true(autostart);
	if (json_is_array(owned)) {
		size_t i;
		json_t *p;
		json_array_foreach(owned, i, p) {
			if (!json_is_string(p))
				continue;
			vm->owned_disks = xrealloc(vm->owned_disks,
						   (vm->n_owned_disks + 1) * sizeof(char *));
			vm->owned_disks[vm->n_owned_disks++] = xstrdup(json_string_value(p));
		}
	}
	json_t *inst = json_object_get(doc, "install");
	if (json_is_object(inst)) {
		const char *phase = json_string_value(json_object_get(inst, "phase"));
		if (phase && strcmp(phase, "installing") == 0)
			vm->install.phase = VM_INSTALL_RUNNING;
		else if (phase && strcmp(phase, "installed") == 0)
			vm->install.phase = VM_INSTALL_DONE;
		vm->install.start = json_is_true(json_object_get(inst, "start"));
		size_t i;
		json_t *p;
		json_array_foreach(json_object_get(inst, "files"), i, p)
			if (json_is_string(p))
				install_files_add(vm, json_string_value(p));
	}
	TAILQ_INSERT_TAIL(&d->vms, vm, link);
	return 0;
fail:
	vm_free(vm);
	return -1;
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
		if (vm && memcmp(vm->cfg.uuid, u, 16) != 0)
			vm = NULL;
	}
	json_decref(r);
	return vm;
}

static void adopt(struct daemon *d)
{
	struct dom_info *doms = NULL;
	size_t n = 0;
	struct be_error err = {0};
	if (d->be_ops->list(d->be, &doms, &n, &err) < 0) {
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
		if (d->be_ops->watch(d->be, doms[i].domid, &err) < 0) {
			log_error("%s: cannot watch domain %u: %s", vm->cfg.name, doms[i].domid,
				  err.msg);
		}
		vm->domid = doms[i].domid;
		vm->started_at = (double)doms[i].start_time;
		log_info("%s: adopted domain %u", vm->cfg.name, doms[i].domid);
		set_state(vm, adopted_state(doms[i].state), "adopted");
		/* It stopped while we were away: its on_* rule is still to be applied. */
		if ((doms[i].state == DOM_SHUTDOWN || doms[i].state == DOM_CRASHED) &&
		    doms[i].has_reason)
			vm_dom_event(d, doms[i].domid, doms[i].reason);
	}
	dom_info_list_free(doms, n);
}

void vm_registry_init(struct daemon *d)
{
	TAILQ_INIT(&d->vms);
}

int vm_registry_load(struct daemon *d)
{
	int skipped = store_load_all(&d->store, load_one, d);
	if (skipped < 0)
		return -1;
	size_t n = 0;
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link)
		n++;
	log_info("loaded %zu guest definition%s from %s%s", n, n == 1 ? "" : "s", d->store.dir,
		 skipped ? " (some files skipped, see above)" : "");
	adopt(d);
	return 0;
}

static void autostart_done(struct vm *vm, void *arg, const struct be_error *err)
{
	if (err)
		log_error("%s: autostart failed: %s", vm->cfg.name, err->msg);
}

void vm_registry_autostart(struct daemon *d)
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
		struct be_error err = {0};
		log_info("%s: autostart", vm->cfg.name);
		if (vm_start(vm, autostart_done, NULL, &err) < 0)
			log_error("%s: autostart failed: %s", vm->cfg.name, err.msg);
	}
}

void vm_registry_finish(struct daemon *d)
{
	struct be_error gone = {.code = VMD_ERR_CANCELLED};
	snprintf(gone.msg, sizeof gone.msg, "the daemon is shutting down");
	struct vm *vm;
	while ((vm = TAILQ_FIRST(&d->vms))) {
		while (!LIST_EMPTY(&vm->waiters))
			finish_waiter(LIST_FIRST(&vm->waiters), &gone);
		finish_op(vm, &gone);
		TAILQ_REMOVE(&d->vms, vm, link);
		vm_free(vm);
	}
}

/* ---- define / remove --------------------------------------------------------------------- */

struct vm *vm_define(struct daemon *d, struct vm_config *cfg, int *code, char *msg, size_t msglen,
		     json_t **data)
{
	return vm_define_owned(d, cfg, NULL, 0, code, msg, msglen, data);
}

struct vm *vm_define_owned(struct daemon *d, struct vm_config *cfg, char *const *owned,
			   size_t n_owned, int *code, char *msg, size_t msglen, json_t **data)
{
	return vm_define_install(d, cfg, owned, n_owned, NULL, code, msg, msglen, data);
}

struct vm *vm_define_install(struct daemon *d, struct vm_config *cfg, char *const *owned,
			     size_t n_owned, const struct vm_install *install, int *code, char *msg,
			     size_t msglen, json_t **data)
{
	*data = NULL;
	if (vm_find(d, cfg->name)) {
		*code = VMD_ERR_EXISTS;
		snprintf(msg, msglen, "guest '%s' is already defined", cfg->name);
		*data = json_pack("{s:s}", "name", cfg->name);
		return NULL;
	}
	if (cfg->has_uuid) {
		struct vm *other = find_uuid(d, cfg->uuid);
		if (other) {
			char u[UUID_STR_LEN];
			uuid_format(cfg->uuid, u);
			*code = VMD_ERR_EXISTS;
			snprintf(msg, msglen, "uuid %s is already used by guest '%s'", u,
				 other->cfg.name);
			*data = json_pack("{s:s, s:s}", "uuid", u, "name", other->cfg.name);
			return NULL;
		}
	} else {
		do
			uuid_generate_v4(cfg->uuid);
		while (find_uuid(d, cfg->uuid));
		cfg->has_uuid = true;
	}
	for (size_t i = 0; i < cfg->n_vifs; i++) {
		struct vm_vif *v = &cfg->vifs[i];
		if (v->mac) {
			struct vm *other = find_mac(d, v->mac, NULL);
			if (other) {
				*code = VMD_ERR_EXISTS;
				snprintf(msg, msglen, "mac %s is already used by guest '%s'", v->mac,
					 other->cfg.name);
				*data = json_pack("{s:s, s:s}", "mac", v->mac, "name",
						  other->cfg.name);
				return NULL;
			}
			continue;
		}
		/* Generate one that no definition (this one included) uses. */
		char mac[MAC_STR_LEN];
		for (;;) {
			uint8_t m[6];
			mac_generate_xen(m);
			mac_format(m, mac);
			bool clash = find_mac(d, mac, NULL) != NULL;
			for (size_t j = 0; j < cfg->n_vifs && !clash; j++)
				clash = cfg->vifs[j].mac && strcmp(cfg->vifs[j].mac, mac) == 0;
			if (!clash)
				break;
		}
		v->mac = xstrdup(mac);
	}

	struct vm *vm = vm_new(d);
	vm->cfg = *cfg;
	vm_config_init(cfg);
	if (n_owned) {
		vm->owned_disks = xcalloc(n_owned, sizeof(char *));
		for (size_t i = 0; i < n_owned; i++)
			vm->owned_disks[i] = xstrdup(owned[i]);
		vm->n_owned_disks = n_owned;
	}
	if (install) {
		vm->install.phase = install->phase;
		vm->install.start = install->start;
		for (size_t i = 0; i < install->n_files; i++)
			install_files_add(vm, install->files[i]);
	}
	json_t *doc = vm_doc(vm);
	int r = store_save(&d->store, vm->cfg.name, doc, true);
	int e = errno;
	json_decref(doc);
	if (r < 0) {
		if (e == EEXIST) {
			*code = VMD_ERR_EXISTS;
			snprintf(msg, msglen,
				 "a file for '%s' already exists in %s but is not a readable "
				 "definition; move it away first",
				 vm->cfg.name, d->store.dir);
		} else {
			*code = VMD_ERR_IO;
			snprintf(msg, msglen, "cannot store the definition of '%s': %s",
				 vm->cfg.name, strerror(e));
		}
		*data = json_pack("{s:s}", "name", vm->cfg.name);
		vm_free(vm);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&d->vms, vm, link);
	log_info("%s: defined", vm->cfg.name);
	emit(vm, "defined");
	return vm;
}

int vm_remove(struct vm *vm, bool delete_disks, json_t *deleted, json_t *kept, int *code,
	      char *msg, size_t msglen)
{
	if (vm->clones) {
		*code = VMD_ERR_BAD_STATE;
		snprintf(msg, msglen, "guest '%s' is being cloned; remove it once the copy is done",
			 vm->cfg.name);
		return -1;
	}
	if (vm->state != VM_STOPPED || vm_busy(vm)) {
		*code = VMD_ERR_BAD_STATE;
		snprintf(msg, msglen, "guest '%s' is %s; destroy or shut it down first",
			 vm->cfg.name, vm_state_name(vm->state));
		return -1;
	}
	/* The definition goes first: a crash after this leaves orphan images (harmless, and
	 * named in the log), never a definition pointing at deleted disks. */
	if (store_remove(&vm->d->store, vm->cfg.name) < 0 && errno != ENOENT) {
		*code = VMD_ERR_IO;
		snprintf(msg, msglen, "cannot remove the definition of '%s': %s", vm->cfg.name,
			 strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < vm->cfg.n_disks; i++) {
		const char *t = vm->cfg.disks[i].target;
		if (!t)
			continue;
		bool owned = false;
		for (size_t j = 0; j < vm->n_owned_disks; j++)
			owned |= strcmp(vm->owned_disks[j], t) == 0;
		if (delete_disks && owned) {
			if (unlink(t) == 0 || errno == ENOENT) {
				json_array_append_new(deleted, json_string(t));
				continue;
			}
			log_warn("%s: cannot delete %s: %s", vm->cfg.name, t, strerror(errno));
		}
		json_array_append_new(kept, json_string(t));
	}
	/* Extracted installer files are vmd's own, never the admin's: they always go. */
	install_files_delete(vm);
	log_info("%s: removed", vm->cfg.name);
	emit(vm, "removed");
	TAILQ_REMOVE(&vm->d->vms, vm, link);
	vm_free(vm);
	return 0;
}

/* ---- operations -------------------------------------------------------------------------- */

static char *make_record(const struct vm *vm)
{
	char u[UUID_STR_LEN];
	uuid_format(vm->cfg.uuid, u);
	json_t *r = json_pack("{s:i, s:s, s:s}", "vmd", 1, "name", vm->cfg.name, "uuid", u);
	char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(r);
	return s;
}

static void created(void *arg, const struct be_error *err, uint32_t domid)
{
	struct vm *vm = arg;
	vm->in_flight = false;
	if (err) {
		log_error("%s: start failed: %s", vm->cfg.name, err->msg);
		set_state(vm, VM_STOPPED, "start-failed");
		finish_op(vm, err);
		return;
	}
	vm->domid = domid;
	vm->started_at = now_wall();
	bool restart = vm->state == VM_REBOOTING;
	log_info("%s: running as domain %u", vm->cfg.name, domid);
	set_state(vm, VM_RUNNING, restart ? "restarted" : "started");
	finish_op(vm, NULL);
}

static int begin_create(struct vm *vm, struct be_error *err)
{
	char *record = make_record(vm);
	int r = vm->d->be_ops->create(vm->d->be, &vm->cfg, record, created, vm, err);
	free(record);
	if (r == 0)
		vm->in_flight = true;
	return r;
}

int vm_start(struct vm *vm, vm_done_fn *done, void *arg, struct be_error *err)
{
	if (vm->clones) {
		/* Its disks are being copied: a running guest would change them under the copy. */
		be_error_set(err, VMD_ERR_BUSY, "guest '%s' is being cloned; start it once the "
			     "copy is done", vm->cfg.name);
		return -1;
	}
	if (vm_busy(vm)) {
		be_error_set(err, VMD_ERR_BUSY, "guest '%s' is %s", vm->cfg.name,
			     vm_state_name(vm->state));
		return -1;
	}
	if (vm->state != VM_STOPPED) {
		be_error_set(err, VMD_ERR_BAD_STATE, "guest '%s' is already %s", vm->cfg.name,
			     vm_state_name(vm->state));
		return -1;
	}
	vm->shutdown_requested = vm->reboot_requested = false;
	if (begin_create(vm, err) < 0)
		return -1;
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
	struct vm_config old = vm->cfg, next;
	vm_config_init(&next);
	if (vm_config_copy(&next, &vm->cfg) < 0) {
		log_error("%s: out of memory switching to the installed system", vm->cfg.name);
		return -1;
	}
	vm_config_make_installed(&next);
	char **files = vm->install.files;
	size_t n_files = vm->install.n_files;
	vm->install.files = NULL;
	vm->install.n_files = 0;
	vm->cfg = next;
	vm->install.phase = VM_INSTALL_DONE;
	if (vm_save(vm) < 0) {
		log_error("%s: the installer is done, but the installed system's definition could "
			  "not be stored; the guest stays as it was",
			  vm->cfg.name);
		vm_config_finish(&vm->cfg);
		vm->cfg = old;
		vm->install.phase = VM_INSTALL_RUNNING;
		vm->install.files = files;
		vm->install.n_files = n_files;
		return -1;
	}
	vm_config_finish(&old);
	vm->install.files = files;
	vm->install.n_files = n_files;
	install_files_delete(vm);
	log_info("%s: installed; it now boots from its disk (%s)", vm->cfg.name,
		 vm->cfg.type == VM_TYPE_HVM ? "boot = \"c\", cdrom ejected"
					     : "bootloader = \"pygrub\"");
	return 0;
}

static void destroyed(void *arg, const struct be_error *err, uint32_t domid)
{
	struct vm *vm = arg;
	vm->in_flight = false;
	bool switching = vm->install_finishing;
	vm->install_finishing = false;
	if (err) {
		/* The domain is still there: show it as preserved so the admin can act. */
		log_error("%s: destroying domain %u failed: %s", vm->cfg.name, domid, err->msg);
		set_state(vm, VM_SHUTDOWN, "destroy-failed");
		finish_op(vm, err);
		return;
	}
	vm->domid = -1;
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
				  vm->cfg.name, RESTART_LIMIT, RESTART_WINDOW);
			set_state(vm, VM_STOPPED, "restart-limit");
			finish_op(vm, NULL);
			return;
		}
		struct be_error cerr = {0};
		if (begin_create(vm, &cerr) < 0) {
			log_error("%s: restart failed: %s", vm->cfg.name, cerr.msg);
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
			 struct be_error *err)
{
	if (vm->d->be_ops->destroy(vm->d->be, (uint32_t)vm->domid, destroyed, vm, err) < 0)
		return -1;
	vm->in_flight = true;
	set_state(vm, during, event);
	return 0;
}

int vm_destroy(struct vm *vm, vm_done_fn *done, void *arg, struct be_error *err)
{
	if (vm_busy(vm)) {
		be_error_set(err, VMD_ERR_BUSY, "guest '%s' is %s", vm->cfg.name,
			     vm_state_name(vm->state));
		return -1;
	}
	if (!vm_has_domain(vm)) {
		be_error_set(err, VMD_ERR_BAD_STATE, "guest '%s' is not running", vm->cfg.name);
		return -1;
	}
	vm->op_done = done;
	vm->op_arg = arg;
	if (begin_destroy(vm, VM_STOPPING, "stopping", err) < 0) {
		vm->op_done = NULL;
		vm->op_arg = NULL;
		return -1;
	}
	return 0;
}

static int require_running(struct vm *vm, const char *what, struct be_error *err)
{
	if (vm_busy(vm)) {
		be_error_set(err, VMD_ERR_BUSY, "guest '%s' is %s", vm->cfg.name,
			     vm_state_name(vm->state));
		return -1;
	}
	if (vm->state != VM_RUNNING) {
		be_error_set(err, VMD_ERR_BAD_STATE, "cannot %s guest '%s': it is %s", what,
			     vm->cfg.name, vm_state_name(vm->state));
		return -1;
	}
	return 0;
}

int vm_shutdown(struct vm *vm, struct be_error *err)
{
	/* Asking again is fine (the first request may have been missed by a booting guest). */
	if (vm->state == VM_SHUTTING_DOWN && !vm_busy(vm)) {
		return vm->d->be_ops->shutdown(vm->d->be, (uint32_t)vm->domid, err);
	}
	if (require_running(vm, "shut down", err) < 0)
		return -1;
	if (vm->d->be_ops->shutdown(vm->d->be, (uint32_t)vm->domid, err) < 0)
		return -1;
	vm->shutdown_requested = true;
	set_state(vm, VM_SHUTTING_DOWN, "shutdown-requested");
	return 0;
}

int vm_reboot(struct vm *vm, struct be_error *err)
{
	if (require_running(vm, "reboot", err) < 0)
		return -1;
	if (vm->d->be_ops->reboot(vm->d->be, (uint32_t)vm->domid, err) < 0)
		return -1;
	vm->reboot_requested = true;
	set_state(vm, VM_REBOOTING, "reboot-requested");
	return 0;
}

int vm_pause(struct vm *vm, struct be_error *err)
{
	if (require_running(vm, "pause", err) < 0)
		return -1;
	if (vm->d->be_ops->pause(vm->d->be, (uint32_t)vm->domid, err) < 0)
		return -1;
	set_state(vm, VM_PAUSED, "paused");
	return 0;
}

int vm_unpause(struct vm *vm, struct be_error *err)
{
	if (vm_busy(vm)) {
		be_error_set(err, VMD_ERR_BUSY, "guest '%s' is %s", vm->cfg.name,
			     vm_state_name(vm->state));
		return -1;
	}
	if (vm->state != VM_PAUSED) {
		be_error_set(err, VMD_ERR_BAD_STATE, "cannot unpause guest '%s': it is %s",
			     vm->cfg.name, vm_state_name(vm->state));
		return -1;
	}
	if (vm->d->be_ops->unpause(vm->d->be, (uint32_t)vm->domid, err) < 0)
		return -1;
	set_state(vm, VM_RUNNING, "unpaused");
	return 0;
}

/* ---- domain events: the on_* rules ------------------------------------------------------- */

static void apply(struct vm *vm, enum vm_action action, const char *reason, bool crash)
{
	struct be_error err = {0};
	switch (action) {
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
	log_error("%s: cannot act on %s: %s", vm->cfg.name, reason, err.msg);
	set_state(vm, crash ? VM_CRASHED : VM_SHUTDOWN, reason);
}

/* The guest powered off or rebooted by itself while installing: the installer is done. Its
 * domain is destroyed, and destroyed() switches the definition (install_switch) and starts
 * the installed system when asked to. True when this took the event. */
static bool install_finish(struct vm *vm, const char *how)
{
	if (vm->install.phase != VM_INSTALL_RUNNING)
		return false;
	log_info("%s: the installer ended (%s); switching to the installed system", vm->cfg.name,
		 how);
	struct be_error err = {0};
	vm->install_finishing = true;
	if (begin_destroy(vm, vm->install.start ? VM_REBOOTING : VM_STOPPING, "install-finished",
			  &err) == 0)
		return true;
	vm->install_finishing = false;
	log_error("%s: cannot destroy the installer's domain: %s", vm->cfg.name, err.msg);
	set_state(vm, VM_SHUTDOWN, how);
	return true;
}

void vm_dom_event(void *arg, uint32_t domid, enum dom_event ev)
{
	struct daemon *d = arg;
	struct vm *vm = vm_find_domid(d, domid);
	if (!vm) {
		log_debug("event %d for domain %u, which is not ours", (int)ev, domid);
		return;
	}
	if (vm_busy(vm)) {
		/* We are destroying or restarting it already; that outcome wins. */
		log_debug("%s: event %d ignored during %s", vm->cfg.name, (int)ev,
			  vm_state_name(vm->state));
		return;
	}
	switch (ev) {
	case DOM_EV_GONE:
		log_warn("%s: domain %u disappeared (destroyed outside vmd?)", vm->cfg.name, domid);
		vm->domid = -1;
		set_state(vm, VM_STOPPED, "destroyed");
		break;
	case DOM_EV_POWEROFF: {
		bool asked = vm->shutdown_requested;
		vm->shutdown_requested = false;
		if (!asked && install_finish(vm, "poweroff"))
			break;
		enum vm_action a = asked ? VM_ACTION_DESTROY : vm->cfg.on_poweroff;
		log_info("%s: powered off; on_poweroff %s", vm->cfg.name, vm_action_name(a));
		apply(vm, a, "poweroff", false);
		break;
	}
	case DOM_EV_REBOOT: {
		bool asked = vm->reboot_requested;
		vm->reboot_requested = false;
		if (!asked && install_finish(vm, "reboot"))
			break;
		enum vm_action a = asked ? VM_ACTION_RESTART : vm->cfg.on_reboot;
		log_info("%s: rebooting; on_reboot %s", vm->cfg.name, vm_action_name(a));
		apply(vm, a, "reboot", false);
		break;
	}
	case DOM_EV_CRASH:
		log_warn("%s: crashed; on_crash %s", vm->cfg.name, vm_action_name(vm->cfg.on_crash));
		apply(vm, vm->cfg.on_crash, "crash", true);
		break;
	}
}

/* ---- waiting ----------------------------------------------------------------------------- */

static void waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct vm_waiter *w = arg;
	struct be_error err;
	be_error_set(&err, VMD_ERR_TIMEOUT, "guest '%s' did not stop within %.0f s (still %s)",
		     w->vm->cfg.name, w->timeout, vm_state_name(w->vm->state));
	finish_waiter(w, &err);
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

/* ---- JSON views -------------------------------------------------------------------------- */

static const char *dom_state_name(enum dom_state s)
{
	switch (s) {
	case DOM_RUNNING:
	case DOM_BLOCKED:
		return "running";
	case DOM_PAUSED:
		return "paused";
	case DOM_SHUTDOWN:
		return "shutdown";
	case DOM_CRASHED:
		return "crashed";
	case DOM_DYING:
		return "dying";
	}
	return "unknown";
}

static void add_runtime(json_t *o, const struct dom_info *di)
{
	json_object_set_new(o, "memory_actual_kib", json_integer((json_int_t)di->memory_kib));
	json_object_set_new(o, "cpu_time", json_real((double)di->cpu_time_ns / 1e9));
	double up = di->start_time ? now_wall() - (double)di->start_time : 0;
	json_object_set_new(o, "uptime", json_real(up > 0 ? up : 0));
}

json_t *vm_to_json(struct vm *vm, bool detail)
{
	const struct vm_config *c = &vm->cfg;
	char u[UUID_STR_LEN];
	uuid_format(c->uuid, u);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:I, s:b, s:b}", "name", c->name,
			      "uuid", u, "type", vm_type_name(c->type), "state",
			      vm_state_name(vm->state), "domid",
			      vm->domid >= 0 ? json_integer(vm->domid) : json_null(), "vcpus",
			      c->vcpus, "memory", (json_int_t)c->memory, "managed", 1, "autostart",
			      vm->autostart);
	const char *phase = vm_install_phase_name(vm->install.phase);
	if (phase)
		json_object_set_new(o, "install_phase", json_string(phase));
	if (!detail)
		return o;
	json_object_set_new(o, "maxvcpus", json_integer(c->maxvcpus ? c->maxvcpus : c->vcpus));
	json_object_set_new(o, "maxmem", json_integer((json_int_t)(c->maxmem ? c->maxmem
									      : c->memory)));
	json_object_set_new(o, "on_poweroff", json_string(vm_action_name(c->on_poweroff)));
	json_object_set_new(o, "on_reboot", json_string(vm_action_name(c->on_reboot)));
	json_object_set_new(o, "on_crash", json_string(vm_action_name(c->on_crash)));
	json_object_set_new(o, "console",
			    json_string(c->type == VM_TYPE_HVM ? "serial" : "pv"));
	json_t *vifs = json_array();
	for (size_t i = 0; i < c->n_vifs; i++) {
		const struct vm_vif *v = &c->vifs[i];
		json_t *jv = json_pack("{s:i, s:s*, s:s*, s:s*, s:s*}", "index", (int)i, "mac",
				       v->mac, "bridge", v->bridge, "script", v->script, "ip",
				       v->ip);
		if (vm->domid >= 0) {
			char *be = v->vifname ? xstrdup(v->vifname)
					      : xasprintf("vif%lld.%zu", (long long)vm->domid, i);
			json_object_set_new(jv, "backend", json_string(be));
			free(be);
		} else {
			json_object_set_new(jv, "backend", json_null());
		}
		json_array_append_new(vifs, jv);
	}
	json_object_set_new(o, "vifs", vifs);
	json_t *disks = json_array();
	for (size_t i = 0; i < c->n_disks; i++) {
		const struct vm_disk *dk = &c->disks[i];
		json_array_append_new(disks,
				      json_pack("{s:s, s:s*, s:b, s:s}", "vdev", dk->vdev, "target",
						dk->target, "cdrom", dk->cdrom, "access",
						dk->readwrite ? "rw" : "ro"));
	}
	json_object_set_new(o, "disks", disks);
	if (vm->domid >= 0) {
		struct dom_info di = {0};
		struct be_error err = {0};
		if (vm->d->be_ops->info(vm->d->be, (uint32_t)vm->domid, &di, &err) == 0)
			add_runtime(o, &di);
		dom_info_finish(&di);
	}
	if (c->type == VM_TYPE_HVM && c->vnc) {
		char addr[128];
		struct be_error err = {0};
		bool have = vm->domid >= 0 && vm->d->be_ops->vnc &&
			    vm->d->be_ops->vnc(vm->d->be, (uint32_t)vm->domid, addr, sizeof addr,
					       &err) == 0;
		json_object_set_new(o, "vnc", have ? json_string(addr) : json_null());
	}
	return o;
}

json_t *vm_foreign_to_json(const struct dom_info *di, bool detail)
{
	char u[UUID_STR_LEN];
	uuid_format(di->uuid, u);
	json_t *o = json_pack("{s:s, s:s, s:n, s:s, s:I, s:i, s:I, s:b, s:b}", "name", di->name,
			      "uuid", u, "type", "state", dom_state_name(di->state), "domid",
			      (json_int_t)di->domid, "vcpus", di->vcpus, "memory",
			      (json_int_t)(di->memory_kib / 1024), "managed", 0, "autostart", 0);
	if (detail)
		add_runtime(o, di);
	return o;
}
