/*
 * vm.c: the registry of guests (see vm.h): lookups, name reservations, definitions added
 * and removed, and their persistence in the store. What happens to a defined guest over
 * time (start, stop, the on_* rules, adoption) is vm-life.c's.
 *
 * A definition is stored as {"vmd_store": 2, "xlcfg": <its xl.cfg text>, "autostart": b,
 * "owned_disks": [...], "install": {...}} (store.c writes it atomically); version 1, with
 * the JSON config object in "config", is still read.
 */
#include "vm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "job.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "vmd-proto.h"
#include "xlcfg.h"

/* 2: the definition is its xl.cfg text; 1 (read, never written): the JSON config object */
#define STORE_VERSION 2

/* A name that a long operation will define: see vm_reserve. */
struct vm_reservation {
	LIST_ENTRY(vm_reservation) link;
	char *name;
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
	return vm->in_flight || vm->readers > 0;
}

void vm_refuse(const struct vm *vm, struct err *err, int code, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	err_setv(err, code, fmt, ap);
	va_end(ap);
	err_add_str(err, "name", vm->cfg.name);
	err_add_str(err, "state", vm_state_name(vm->state));
}

/* ---- events ---------------------------------------------------------------------------- */

json_t *vm_event_json(const struct vm *vm, const char *event)
{
	char uuid[UUID_STR_LEN];
	uuid_format(vm->cfg.uuid, uuid);
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:f}", "name", vm->cfg.name, "uuid", uuid,
			 "state", vm_state_name(vm->state), "domid",
			 vm->domid >= 0 ? json_integer(vm->domid) : json_null(), "event", event,
			 "time", now_wall());
}

void vm_emit(struct vm *vm, const char *event)
{
	if (!vm->d->on_event)
		return;
	json_t *p = vm_event_json(vm, event);
	vm->d->on_event(vm->d, p);
	json_decref(p);
}

/* ---- lookups ----------------------------------------------------------------------------- */

struct vm *vm_find(struct daemon *d, const char *name)
{
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link)
		if (strcmp(vm->cfg.name, name) == 0)
			return vm;
	return NULL;
}

struct vm *vm_get(struct daemon *d, const char *name, struct err *err)
{
	struct vm *vm = vm_find(d, name);
	if (!vm) {
		err_set(err, VMD_ERR_NOT_FOUND, "no guest named '%s'", name);
		err_add_str(err, "name", name);
	}
	return vm;
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

static bool mac_set(const uint8_t mac[6])
{
	static const uint8_t zero[6];
	return memcmp(mac, zero, 6) != 0;
}

/* The guest that already uses mac, if any. */
static struct vm *find_mac(struct daemon *d, const uint8_t mac[6])
{
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link) {
		for (int i = 0; i < vm->cfg.dc.num_nics; i++)
			if (memcmp(vm->cfg.dc.nics[i].mac, mac, 6) == 0)
				return vm;
	}
	return NULL;
}

/* ---- reservations ------------------------------------------------------------------------ */

static struct vm_reservation *find_reservation(struct daemon *d, const char *name)
{
	struct vm_reservation *r;
	LIST_FOREACH(r, &d->reserved, link)
		if (strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

bool vm_reserved(struct daemon *d, const char *name)
{
	return find_reservation(d, name) != NULL;
}

/* Is name free for a new definition (held: the caller holds its reservation)? Fills err
 * when not. */
static int name_free(struct daemon *d, const char *name, bool held, struct err *err)
{
	if (vm_find(d, name)) {
		err_set(err, VMD_ERR_EXISTS, "guest '%s' is already defined", name);
		err_add_str(err, "name", name);
		return -1;
	}
	if (!held && find_reservation(d, name)) {
		err_set(err, VMD_ERR_EXISTS,
			"guest '%s' is being made (a clone or an install of that name is under way)",
			name);
		err_add_str(err, "name", name);
		return -1;
	}
	return 0;
}

int vm_reserve(struct daemon *d, const char *name, struct err *err)
{
	if (name_free(d, name, false, err) < 0)
		return -1;
	struct vm_reservation *r = xcalloc(1, sizeof *r);
	r->name = xstrdup(name);
	LIST_INSERT_HEAD(&d->reserved, r, link);
	return 0;
}

void vm_unreserve(struct daemon *d, const char *name)
{
	struct vm_reservation *r = find_reservation(d, name);
	if (!r)
		return;
	LIST_REMOVE(r, link);
	free(r->name);
	free(r);
}

/* ---- one guest --------------------------------------------------------------------------- */

static struct vm *vm_new(struct daemon *d)
{
	struct vm *vm = xcalloc(1, sizeof *vm);
	vm->d = d;
	vm_config_init(&vm->cfg);
	vm->domid = -1;
	vm->state = VM_STOPPED; /* no waiters: the list head is zeroed */
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

void vm_install_files_delete(struct vm *vm)
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

/* ---- persistence ------------------------------------------------------------------------- */

static json_t *vm_doc(const struct vm *vm)
{
	json_t *owned = json_array();
	for (size_t i = 0; i < vm->n_owned_disks; i++)
		json_array_append_new(owned, json_string(vm->owned_disks[i]));
	json_t *doc = json_pack("{s:i, s:s, s:b, s:o}", "vmd_store", STORE_VERSION, "xlcfg",
				vm->cfg.text, "autostart", vm->autostart,
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

static int load_one(void *arg, const char *name, json_t *doc, struct err *err)
{
	struct daemon *d = arg;
	json_t *ver = json_object_get(doc, "vmd_store");
	json_t *cfgj = json_object_get(doc, "config");
	const char *text = json_string_value(json_object_get(doc, "xlcfg"));
	json_t *autostart = json_object_get(doc, "autostart");
	json_t *owned = json_object_get(doc, "owned_disks");
	json_int_t v = json_integer_value(ver);
	if (!json_is_integer(ver) || !((v == 2 && text) || (v == 1 && json_is_object(cfgj)))) {
		err_set(err, VMD_ERR_IO, "not a vmd definition (version %d)", STORE_VERSION);
		return -1;
	}
	struct vm *vm = vm_new(d);
	struct err cerr = {0};
	char *fname = xasprintf("%s.json", name);
	int r = text ? config_parse(text, strlen(text), fname, NULL, &vm->cfg, &cerr)
		     : config_parse_json(cfgj, NULL, &vm->cfg, &cerr);
	free(fname);
	if (r < 0) {
		err_set(err, VMD_ERR_IO, "invalid config: %s", cerr.msg);
		err_clear(&cerr);
		goto fail;
	}
	if (strcmp(vm->cfg.name, name) != 0) {
		err_set(err, VMD_ERR_IO, "holds guest '%s', not '%s'", vm->cfg.name, name);
		goto fail;
	}
	if (!vm->cfg.has_uuid) {
		err_set(err, VMD_ERR_IO, "has no uuid");
		goto fail;
	}
	struct vm *other = find_uuid(d, vm->cfg.uuid);
	if (other) {
		err_set(err, VMD_ERR_IO, "uuid already used by '%s'", other->cfg.name);
		goto fail;
	}
	for (int i = 0; i < vm->cfg.dc.num_nics; i++) {
		const uint8_t *mac = vm->cfg.dc.nics[i].mac;
		if (mac_set(mac) && (other = find_mac(d, mac))) {
			char m[MAC_STR_LEN];
			mac_format(mac, m);
			err_set(err, VMD_ERR_IO, "mac %s already used by '%s'", m, other->cfg.name);
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

/* ---- the registry ------------------------------------------------------------------------ */

void vm_registry_init(struct daemon *d)
{
	TAILQ_INIT(&d->vms);
	LIST_INIT(&d->reserved);
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
	return 0;
}

void vm_registry_finish(struct daemon *d)
{
	struct vm *vm;
	while ((vm = TAILQ_FIRST(&d->vms))) {
		TAILQ_REMOVE(&d->vms, vm, link);
		vm_free(vm);
	}
	struct vm_reservation *r;
	while ((r = LIST_FIRST(&d->reserved)))
		vm_unreserve(d, r->name);
}

/* ---- define / remove --------------------------------------------------------------------- */

/* What vm_define adds: a uuid no definition uses (when the text has none), and for every
 * vif without one a MAC that no definition (this one included) uses; MACs the text gives
 * must be free too. */
static int complete(struct daemon *d, struct vm_config *cfg, struct err *err)
{
	uint8_t uuid[16];
	memcpy(uuid, cfg->uuid, 16);
	if (!cfg->has_uuid) {
		do
			uuid_generate_v4(uuid);
		while (find_uuid(d, uuid));
	}
	int n = cfg->dc.num_nics;
	char **macs = xcalloc((size_t)n + 1, sizeof *macs);
	int r = 0;
	for (int i = 0; i < n && r == 0; i++) {
		const uint8_t *mac = cfg->dc.nics[i].mac;
		if (mac_set(mac)) {
			struct vm *other = find_mac(d, mac);
			if (other) {
				char m[MAC_STR_LEN];
				mac_format(mac, m);
				err_set(err, VMD_ERR_EXISTS, "mac %s is already used by guest '%s'", m,
					other->cfg.name);
				err_add_str(err, "mac", m);
				err_add_str(err, "name", other->cfg.name);
				r = -1;
			}
			continue;
		}
		for (;;) {
			uint8_t m[6];
			mac_generate_xen(m);
			bool clash = find_mac(d, m) != NULL;
			for (int j = 0; j < n && !clash; j++)
				clash = memcmp(cfg->dc.nics[j].mac, m, 6) == 0;
			char text[MAC_STR_LEN];
			mac_format(m, text);
			for (int j = 0; j < i && !clash; j++)
				clash = macs[j] && strcmp(macs[j], text) == 0;
			if (!clash) {
				macs[i] = xstrdup(text);
				break;
			}
		}
	}
	if (r == 0)
		r = vm_config_complete(cfg, uuid, macs, err);
	for (int i = 0; i < n; i++)
		free(macs[i]);
	free(macs);
	return r;
}

struct vm *vm_define(struct daemon *d, struct vm_config *cfg, const struct vm_define_opts *opts,
		     struct err *err)
{
	static const struct vm_define_opts none = {0};
	if (!opts)
		opts = &none;
	bool held = opts->reserved && find_reservation(d, cfg->name);
	if (name_free(d, cfg->name, held, err) < 0)
		return NULL;
	if (cfg->has_uuid) {
		struct vm *other = find_uuid(d, cfg->uuid);
		if (other) {
			char u[UUID_STR_LEN];
			uuid_format(cfg->uuid, u);
			err_set(err, VMD_ERR_EXISTS, "uuid %s is already used by guest '%s'", u,
				other->cfg.name);
			err_add_str(err, "uuid", u);
			err_add_str(err, "name", other->cfg.name);
			return NULL;
		}
	}
	if (complete(d, cfg, err) < 0)
		return NULL;

	struct vm *vm = vm_new(d);
	vm->cfg = *cfg;
	vm_config_init(cfg);
	if (opts->n_owned) {
		vm->owned_disks = xcalloc(opts->n_owned, sizeof(char *));
		for (size_t i = 0; i < opts->n_owned; i++)
			vm->owned_disks[i] = xstrdup(opts->owned[i]);
		vm->n_owned_disks = opts->n_owned;
	}
	if (opts->install) {
		vm->install.phase = opts->install->phase;
		vm->install.start = opts->install->start;
		for (size_t i = 0; i < opts->install->n_files; i++)
			install_files_add(vm, opts->install->files[i]);
	}
	json_t *doc = vm_doc(vm);
	int r = store_save(&d->store, vm->cfg.name, doc, true);
	int e = errno;
	json_decref(doc);
	if (r < 0) {
		if (e == EEXIST)
			err_set(err, VMD_ERR_EXISTS,
				"a file for '%s' already exists in %s but is not a readable "
				"definition; move it away first",
				vm->cfg.name, d->store.dir);
		else
			err_set(err, VMD_ERR_IO, "cannot store the definition of '%s': %s",
				vm->cfg.name, strerror(e));
		err_add_str(err, "name", vm->cfg.name);
		vm_free(vm);
		return NULL;
	}
	if (held)
		vm_unreserve(d, vm->cfg.name);
	TAILQ_INSERT_TAIL(&d->vms, vm, link);
	log_info("%s: defined", vm->cfg.name);
	vm_emit(vm, "defined");
	return vm;
}

static bool owns(const struct vm *vm, const char *path)
{
	for (size_t j = 0; j < vm->n_owned_disks; j++)
		if (strcmp(vm->owned_disks[j], path) == 0)
			return true;
	return false;
}

/* The journal of vm_remove: the owned images it will delete. NULL when there are none, or
 * when no journal can be written (then a crash could leave them: said in the log). */
static struct job *removal_journal(struct vm *vm)
{
	struct job_file *files = xcalloc((size_t)vm->cfg.dc.num_disks + 1, sizeof *files);
	size_t n = 0;
	for (int i = 0; i < vm->cfg.dc.num_disks; i++) {
		const char *t = vm->cfg.dc.disks[i].pdev_path;
		struct stat st;
		if (!t || !owns(vm, t) || lstat(t, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		files[n].tmp = "";
		files[n].final = (char *)t;
		files[n].have_id = true;
		files[n].dev = (uint64_t)st.st_dev;
		files[n].ino = (uint64_t)st.st_ino;
		n++;
	}
	struct job *j = NULL;
	if (n && vm->d->jobs) {
		j = job_new(vm->d, "vm.remove", NULL, NULL);
		if (job_journal_write(j, vm->cfg.name, files, n) < 0) {
			log_warn("%s: cannot journal the images to delete (%s); a crash now could "
				 "leave them behind", vm->cfg.name, strerror(errno));
			job_free(j);
			j = NULL;
		}
	}
	free(files);
	return j;
}

int vm_remove(struct vm *vm, bool delete_disks, json_t *deleted, json_t *kept, struct err *err)
{
	if (vm->readers) {
		vm_refuse(vm, err, VMD_ERR_BAD_STATE,
			  "guest '%s' is being cloned; remove it once the copy is done",
			  vm->cfg.name);
		return -1;
	}
	if (vm->state != VM_STOPPED || vm_busy(vm)) {
		vm_refuse(vm, err, VMD_ERR_BAD_STATE,
			  "guest '%s' is %s; destroy or shut it down first", vm->cfg.name,
			  vm_state_name(vm->state));
		return -1;
	}
	/* The images to delete are journalled first (as a job's files: recovery removes those
	 * no stored definition owns, the very files by device and inode), then the definition
	 * goes, then the images: a crash at any point leaves either the guest as it was or
	 * nothing, never a definition pointing at deleted disks nor images no one owns. */
	struct job *journal = delete_disks ? removal_journal(vm) : NULL;
	if (store_remove(&vm->d->store, vm->cfg.name) < 0 && errno != ENOENT) {
		vm_refuse(vm, err, VMD_ERR_IO, "cannot remove the definition of '%s': %s",
			  vm->cfg.name, strerror(errno));
		if (journal && job_journal_remove(journal) < 0)
			log_warn("%s: cannot remove its removal journal: %s", vm->cfg.name,
				 strerror(errno));
		job_free(journal);
		return -1;
	}
	for (int i = 0; i < vm->cfg.dc.num_disks; i++) {
		const char *t = vm->cfg.dc.disks[i].pdev_path;
		if (!t)
			continue;
		if (delete_disks && owns(vm, t)) {
			if (unlink(t) == 0 || errno == ENOENT) {
				if (deleted)
					json_array_append_new(deleted, json_string(t));
				continue;
			}
			log_warn("%s: cannot delete %s: %s", vm->cfg.name, t, strerror(errno));
		}
		if (kept)
			json_array_append_new(kept, json_string(t));
	}
	if (journal) {
		if (job_journal_remove(journal) < 0)
			log_warn("%s: cannot remove its removal journal: %s", vm->cfg.name,
				 strerror(errno));
		job_free(journal);
	}
	/* Extracted installer files are vmd's own, never the admin's: they always go. */
	vm_install_files_delete(vm);
	log_info("%s: removed", vm->cfg.name);
	vm_emit(vm, "removed");
	TAILQ_REMOVE(&vm->d->vms, vm, link);
	vm_free(vm);
	return 0;
}
