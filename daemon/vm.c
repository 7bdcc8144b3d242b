/*
 * vm.c: the registry of guests (see vm.h): lookups, name reservations, definitions added
 * and removed, and their persistence in the store. What happens to a defined guest over
 * time (start, stop, the on_* rules, adoption) is vm-life.c's.
 *
 * A definition is stored as {"vmd_store": 2, "xlcfg": <its xl.cfg text>, "brief": {...},
 * "autostart": b, "owned_disks": [...], "install": {...}} (store.c writes it atomically);
 * version 1, with the JSON config object in "config", is still read. The brief (see vm.h) is
 * what the text means to the registry, with a checksum of the text: at start-up a document
 * whose brief matches its text is taken without translating the text. One without a brief
 * (written by an older vmd) or whose text was edited is translated, as before.
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

#include <event2/event.h>

#include "cfgdiff.h"
#include "conf.h"
#include "daemon.h"
#include "job.h"
#include "log.h"
#include "save.h"
#include "snapshot.h"
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
	[VM_MIGRATING] = "migrating",	    [VM_SAVING] = "saving",
	[VM_RESTORING] = "restoring",
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
	return vm->in_flight || vm->readers > 0 || vm->committing;
}

void vm_refuse(const struct vm *vm, struct err *err, int code, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	err_setv(err, code, fmt, ap);
	va_end(ap);
	err_add_str(err, "name", vm->name);
	err_add_str(err, "state", vm_state_name(vm->state));
}

/* ---- events ---------------------------------------------------------------------------- */

json_t *vm_event_json(const struct vm *vm, const char *event)
{
	char uuid[UUID_STR_LEN];
	uuid_format(vm->uuid, uuid);
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:f}", "name", vm->name, "uuid", uuid,
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

/* ---- lookups and indexes ---------------------------------------------------------------- */

struct vm *vm_find(struct daemon *d, const char *name)
{
	return hmap_get(&d->by_name, name, strlen(name));
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
	int64_t key = domid;
	return hmap_get(&d->by_domid, &key, sizeof key);
}

static struct vm *find_uuid(struct daemon *d, const uint8_t uuid[16])
{
	return hmap_get(&d->by_uuid, uuid, 16);
}

static bool mac_set(const uint8_t mac[6])
{
	static const uint8_t zero[6];
	return memcmp(mac, zero, 6) != 0;
}

/* The guest that already uses mac, if any. */
static struct vm *find_mac(struct daemon *d, const uint8_t mac[6])
{
	return hmap_get(&d->by_mac, mac, 6);
}

struct vm *vm_find_mac(struct daemon *d, const uint8_t mac[6])
{
	return find_mac(d, mac);
}

/* Enters a guest in the indexes: its name and uuid (known to be free) and its MACs. When a
 * MAC is taken (by another guest, or twice by this one), nothing is entered: returns the
 * guest that has it, *clash its index in vm->macs. NULL when entered. */
static struct vm *index_try_add(struct vm *vm, size_t *clash)
{
	struct daemon *d = vm->d;
	for (size_t i = 0; i < vm->n_macs; i++) {
		struct vm *other = hmap_put(&d->by_mac, vm->macs[i], 6, vm);
		if (other) {
			for (size_t j = 0; j < i; j++)
				hmap_del(&d->by_mac, vm->macs[j], 6);
			*clash = i;
			return other;
		}
	}
	hmap_put(&d->by_name, vm->name, strlen(vm->name), vm);
	hmap_put(&d->by_uuid, vm->uuid, 16, vm);
	if (vm->domid >= 0)
		hmap_put(&d->by_domid, &vm->domid, sizeof vm->domid, vm);
	return NULL;
}

static void index_del(struct vm *vm)
{
	struct daemon *d = vm->d;
	if (hmap_get(&d->by_name, vm->name, strlen(vm->name)) == vm)
		hmap_del(&d->by_name, vm->name, strlen(vm->name));
	if (hmap_get(&d->by_uuid, vm->uuid, 16) == vm)
		hmap_del(&d->by_uuid, vm->uuid, 16);
	for (size_t i = 0; i < vm->n_macs; i++)
		if (hmap_get(&d->by_mac, vm->macs[i], 6) == vm)
			hmap_del(&d->by_mac, vm->macs[i], 6);
	if (vm->domid >= 0 && hmap_get(&d->by_domid, &vm->domid, sizeof vm->domid) == vm)
		hmap_del(&d->by_domid, &vm->domid, sizeof vm->domid);
}

/* A parsed guest that may drop its meaning: no domain, nothing under way. */
static bool cfg_droppable(const struct vm *vm)
{
	return !vm_has_domain(vm) && !vm_busy(vm) && vm->state == VM_STOPPED &&
	       !vm->install_finishing && !vm->op_done;
}

static void parsed_unlink(struct vm *vm)
{
	if (!vm->cfg || vm_has_domain(vm))
		return; /* guests with a domain are not in the list */
	TAILQ_REMOVE(&vm->d->parsed, vm, parsed_link);
	vm->d->n_parsed--;
}

static void parsed_link_tail(struct vm *vm)
{
	TAILQ_INSERT_TAIL(&vm->d->parsed, vm, parsed_link);
	vm->d->n_parsed++;
}

static void cfg_drop(struct vm *vm)
{
	parsed_unlink(vm);
	vm_config_finish(vm->cfg);
	free(vm->cfg);
	vm->cfg = NULL;
	free(vm->text); /* in the store: vm_text reads it again */
	vm->text = NULL;
	free(vm->info_text);
	vm->info_text = NULL;
}

/* Drops the meaning of the least recently used droppable guests beyond VM_CFG_CACHE; keep
 * is never dropped. */
static void cfg_trim(struct daemon *d, const struct vm *keep)
{
	struct vm *vm = TAILQ_FIRST(&d->parsed);
	while (d->n_parsed > VM_CFG_CACHE && vm) {
		struct vm *next = TAILQ_NEXT(vm, parsed_link);
		if (vm != keep && cfg_droppable(vm))
			cfg_drop(vm);
		vm = next;
	}
}

void vm_ref_set(struct vm_ref *r, const struct vm *vm)
{
	r->name = xstrdup(vm->name);
	memcpy(r->uuid, vm->uuid, 16);
	r->domid = vm->domid;
}

void vm_ref_clear(struct vm_ref *r)
{
	free(r->name);
	r->name = NULL;
}

struct vm *vm_ref_get(const struct vm_ref *r, struct daemon *d, bool same_domain)
{
	struct vm *vm = vm_find(d, r->name);
	if (!vm || memcmp(vm->uuid, r->uuid, 16) != 0 || (same_domain && vm->domid != r->domid))
		return NULL;
	return vm;
}

/* ---- the running domain's config ---------------------------------------------------------- */

static char *live_path(const struct vm *vm)
{
	return xasprintf("%s/live/%s.cfg", vm->d->state_dir, vm->name);
}

/* STATE/live/NAME.cfg holds the live text while it differs from the definition's. */
static void live_sync(struct vm *vm)
{
	char *path = live_path(vm);
	struct err err = {0};
	const char *text = vm->live_text ? vm_text(vm, &err) : NULL;
	err_clear(&err);
	if (vm->live_text && text && strcmp(text, vm->live_text) != 0) {
		char *dir = xasprintf("%s/live", vm->d->state_dir);
		if (mkdir_p(dir, 0700) < 0 ||
		    write_file_atomic(path, vm->live_text, strlen(vm->live_text), 0600) < 0)
			log_warn("%s: cannot keep the running domain's config in %s: %s",
				 vm->name, path, strerror(errno));
		free(dir);
	} else if (unlink(path) < 0 && errno != ENOENT) {
		log_warn("%s: cannot remove %s: %s", vm->name, path, strerror(errno));
	}
	free(path);
}

const char *vm_live_text(struct vm *vm, struct err *err)
{
	return vm->live_text ? vm->live_text : vm_text(vm, err);
}

void vm_live_begin(struct vm *vm, const char *text)
{
	free(vm->live_text);
	vm->live_text = NULL;
	if (text) {
		vm->live_text = xstrdup(text);
	} else { /* after a restart of vmd: what the running domain had, if it was kept */
		char *path = live_path(vm);
		vm->live_text = read_file(path, 1 << 20, NULL);
		free(path);
		if (vm->live_text)
			return;
	}
	live_sync(vm);
}

void vm_live_set(struct vm *vm, char *text)
{
	if (!text)
		return;
	free(vm->live_text);
	vm->live_text = text;
	live_sync(vm);
}

json_t *vm_pending(struct vm *vm)
{
	struct err err = {0};
	const char *text = vm->live_text && vm->domid >= 0 ? vm_text(vm, &err) : NULL;
	err_clear(&err);
	if (!text || strcmp(text, vm->live_text) == 0)
		return json_array();
	return cfgdiff(vm->live_text, text);
}

void vm_set_domid(struct vm *vm, int64_t domid)
{
	if (vm->domid == domid)
		return;
	struct daemon *d = vm->d;
	/* A guest with a domain keeps its meaning (the on_* rules need it): out of the list. */
	parsed_unlink(vm);
	if (vm->domid >= 0 && hmap_get(&d->by_domid, &vm->domid, sizeof vm->domid) == vm)
		hmap_del(&d->by_domid, &vm->domid, sizeof vm->domid);
	vm->domid = domid;
	if (domid >= 0) {
		hmap_put(&d->by_domid, &vm->domid, sizeof vm->domid, vm);
	} else {
		if (vm->cfg)
			parsed_link_tail(vm);
		free(vm->live_text);
		vm->live_text = NULL;
		live_sync(vm);
	}
}

/* The checksum of a text that the brief carries (SipHash-2-4 under a fixed key: stable
 * across processes, unlike the indexes' keyed hash). */
static void text_sum(const char *text, char out[17])
{
	static const uint8_t key[16] = "vmd brief v1 sum";
	snprintf(out, 17, "%016llx", (unsigned long long)siphash24(key, text, strlen(text)));
}

/* A guest's brief, held apart while a new one is tried (vm_replace_config). */
struct brief {
	char *name, *text;
	uint8_t (*macs)[6];
	size_t n_macs;
	enum vm_type type;
	int vcpus;
	uint64_t memory_mib;
	char text_sum[17];
};

/* Takes the brief out of vm (its pointers left NULL). */
static struct brief brief_take(struct vm *vm)
{
	struct brief b = {vm->name, vm->text, vm->macs, vm->n_macs, vm->type, vm->vcpus,
			  vm->memory_mib, ""};
	memcpy(b.text_sum, vm->text_sum, sizeof b.text_sum);
	vm->name = vm->text = NULL;
	vm->macs = NULL;
	vm->n_macs = 0;
	return b;
}

/* Puts a taken brief back (vm's own already freed). */
static void brief_give(struct vm *vm, struct brief *b)
{
	vm->name = b->name;
	vm->text = b->text;
	vm->macs = b->macs;
	vm->n_macs = b->n_macs;
	vm->type = b->type;
	vm->vcpus = b->vcpus;
	vm->memory_mib = b->memory_mib;
	memcpy(vm->text_sum, b->text_sum, sizeof vm->text_sum);
}

static void brief_release(struct brief *b)
{
	free(b->name);
	free(b->text);
	free(b->macs);
}

static void brief_free(struct vm *vm)
{
	free(vm->name);
	free(vm->text);
	free(vm->macs);
	vm->name = vm->text = NULL;
	vm->macs = NULL;
	vm->n_macs = 0;
}

/* The brief of a parsed config (the vm's own is replaced). */
static void brief_from_cfg(struct vm *vm, const struct vm_config *cfg)
{
	brief_free(vm);
	vm->name = xstrdup(cfg->name);
	memcpy(vm->uuid, cfg->uuid, 16);
	vm->type = cfg->type;
	vm->vcpus = vm_config_vcpus(cfg);
	vm->memory_mib = vm_config_memory_mib(cfg);
	vm->text = xstrdup(cfg->text);
	text_sum(vm->text, vm->text_sum);
	vm->macs = xcalloc((size_t)cfg->dc.num_nics + 1, sizeof *vm->macs);
	for (int i = 0; i < cfg->dc.num_nics; i++)
		if (mac_set(cfg->dc.nics[i].mac))
			memcpy(vm->macs[vm->n_macs++], cfg->dc.nics[i].mac, 6);
}

static json_t *brief_json(const struct vm *vm)
{
	char u[UUID_STR_LEN];
	uuid_format(vm->uuid, u);
	json_t *macs = json_array();
	for (size_t i = 0; i < vm->n_macs; i++) {
		char m[MAC_STR_LEN];
		mac_format(vm->macs[i], m);
		json_array_append_new(macs, json_string(m));
	}
	return json_pack("{s:s, s:s, s:s, s:i, s:I, s:o, s:s}", "name", vm->name, "uuid", u,
			 "type", vm_type_name(vm->type), "vcpus", vm->vcpus, "memory",
			 (json_int_t)vm->memory_mib, "macs", macs, "text_sum", vm->text_sum);
}

/* Takes a stored brief when it describes text (NULL: the text stays in the file; the index
 * vouched for it). 0, or -1 when it does not (then the text is translated instead). The text
 * is not kept: vm_text reads it when needed. */
static int brief_from_json(struct vm *vm, const json_t *b, const char *text)
{
	const char *name = NULL, *uuid = NULL, *type = NULL, *sum = NULL;
	json_int_t vcpus = 0, memory = 0;
	json_t *macs = NULL;
	char want[17];
	enum vm_type t;
	uint8_t u[16];
	if (!b || json_unpack((json_t *)b, "{s:s, s:s, s:s, s:I, s:I, s:o, s:s}", "name", &name,
			      "uuid", &uuid, "type", &type, "vcpus", &vcpus, "memory", &memory,
			      "macs", &macs, "text_sum", &sum) < 0)
		return -1;
	if (text)
		text_sum(text, want);
	if ((text && strcmp(sum, want) != 0) || strlen(sum) != 16 ||
	    strspn(sum, "0123456789abcdef") != 16 || uuid_parse(uuid, u) < 0 ||
	    vm_type_parse(type, &t) < 0 || !json_is_array(macs) || vcpus < 0 ||
	    vcpus > INT32_MAX || memory < 0)
		return -1;
	size_t n = json_array_size(macs);
	uint8_t(*m)[6] = xcalloc(n + 1, sizeof *m);
	for (size_t i = 0; i < n; i++)
		if (mac_parse(json_string_value(json_array_get(macs, i)), m[i]) < 0) {
			free(m);
			return -1;
		}
	brief_free(vm);
	vm->name = xstrdup(name);
	memcpy(vm->uuid, u, 16);
	vm->type = t;
	vm->vcpus = (int)vcpus;
	vm->memory_mib = (uint64_t)memory;
	memcpy(vm->text_sum, sum, 17);
	vm->macs = m;
	vm->n_macs = n;
	return 0;
}

const char *vm_text(struct vm *vm, struct err *err)
{
	if (vm->text)
		return vm->text;
	json_t *doc = NULL;
	struct store_id id;
	if (store_read(&vm->d->store, vm->name, &doc, &id) < 0) {
		err_set(err, VMD_ERR_IO, "cannot read the stored definition of '%s': %s", vm->name,
			strerror(errno));
		err_add_str(err, "name", vm->name);
		return NULL;
	}
	const char *text = json_string_value(json_object_get(doc, "xlcfg"));
	char sum[17] = "";
	if (text)
		text_sum(text, sum);
	if (!text || strcmp(sum, vm->text_sum) != 0) {
		err_set(err, VMD_ERR_IO,
			"the stored definition of '%s' changed under vmd (its file was replaced)",
			vm->name);
		err_add_str(err, "name", vm->name);
		json_decref(doc);
		return NULL;
	}
	vm->text = xstrdup(text);
	json_decref(doc);
	return vm->text;
}

/* Is cfg what the brief says (the text translated again)? */
static bool brief_matches(const struct vm *vm, const struct vm_config *cfg)
{
	if (strcmp(cfg->name, vm->name) != 0 || memcmp(cfg->uuid, vm->uuid, 16) != 0 ||
	    cfg->type != vm->type)
		return false;
	size_t n = 0;
	for (int i = 0; i < cfg->dc.num_nics; i++) {
		if (!mac_set(cfg->dc.nics[i].mac))
			continue;
		if (n >= vm->n_macs || memcmp(cfg->dc.nics[i].mac, vm->macs[n], 6) != 0)
			return false;
		n++;
	}
	return n == vm->n_macs;
}

struct vm_config *vm_cfg(struct vm *vm, struct err *err)
{
	struct daemon *d = vm->d;
	if (vm->cfg) {
		if (!vm_has_domain(vm)) { /* most recently used */
			TAILQ_REMOVE(&d->parsed, vm, parsed_link);
			TAILQ_INSERT_TAIL(&d->parsed, vm, parsed_link);
		}
		return vm->cfg;
	}
	const char *text = vm_text(vm, err);
	if (!text)
		return NULL;
	struct vm_config *cfg = xcalloc(1, sizeof *cfg);
	vm_config_init(cfg);
	struct err cerr = {0};
	char *fname = xasprintf("%s.json", vm->name);
	int r = config_parse(text, strlen(text), fname, NULL, cfg, &cerr);
	free(fname);
	if (r == 0 && !brief_matches(vm, cfg)) {
		err_set(&cerr, VMD_ERR_IO, "it now means another name, uuid, type or MACs");
		r = -1;
	}
	if (r < 0) {
		log_error("%s: the stored definition no longer translates: %s", vm->name, cerr.msg);
		err_set(err, VMD_ERR_IO, "the stored definition of '%s' no longer translates: %s",
			vm->name, cerr.msg);
		err_add_str(err, "name", vm->name);
		err_clear(&cerr);
		vm_config_finish(cfg);
		free(cfg);
		return NULL;
	}
	vm->cfg = cfg;
	vm->vcpus = vm_config_vcpus(cfg); /* the text's word over a brief's */
	vm->memory_mib = vm_config_memory_mib(cfg);
	if (!vm_has_domain(vm)) {
		parsed_link_tail(vm);
		cfg_trim(d, vm);
	}
	return cfg;
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
			log_warn("%s: cannot delete %s: %s", vm->name, f, strerror(errno));
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
	if (vm->cfg)
		cfg_drop(vm);
	free(vm->info_text);
	free(vm->live_text);
	brief_free(vm);
	for (size_t i = 0; i < vm->n_owned_disks; i++)
		free(vm->owned_disks[i]);
	free(vm->owned_disks);
	install_files_free(vm);
	free(vm);
}

/* ---- persistence ------------------------------------------------------------------------- */

/* The stored document without its text: what the store's index keeps of it. */
static json_t *vm_summary(const struct vm *vm)
{
	json_t *owned = json_array();
	for (size_t i = 0; i < vm->n_owned_disks; i++)
		json_array_append_new(owned, json_string(vm->owned_disks[i]));
	json_t *doc = json_pack("{s:i, s:o, s:b, s:o}", "vmd_store", STORE_VERSION, "brief",
				brief_json(vm), "autostart", vm->autostart, "owned_disks", owned);
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

/* The stored document: the summary and the text. */
static json_t *vm_document(const struct vm *vm, const char *text)
{
	json_t *doc = vm_summary(vm);
	json_object_set_new(doc, "xlcfg", json_string(text));
	return doc;
}

/* ---- the store's index ---------------------------------------------------------------------- */

/* How long a change may stay out of the index (a crash meanwhile costs reading those
 * documents at the next start, nothing else). */
#define INDEX_DELAY 2.0

static void index_write(struct daemon *d)
{
	if (!d->index_dirty)
		return;
	struct store_index *w = store_index_begin(&d->store);
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link) {
		if (!vm->has_sid)
			continue;
		json_t *sum = vm_summary(vm);
		store_index_add(w, vm->name, &vm->sid, sum);
		json_decref(sum);
	}
	if (store_index_commit(w) < 0) {
		log_warn("store: cannot write its index (%s); trying again in %.0f s (meanwhile a "
			 "start reads the documents it does not show)", strerror(errno), INDEX_DELAY);
		if (d->index_timer) {
			struct timeval tv = {(time_t)INDEX_DELAY, 0};
			evtimer_add(d->index_timer, &tv);
		}
		return;
	}
	d->index_dirty = false;
	TAILQ_FOREACH(vm, &d->vms, link) {
		vm->indexed = vm->has_sid;
		vm->sid_indexed = vm->sid;
	}
	for (size_t i = 0; i < d->ghosts.cap; i++)
		if (d->ghosts.slots[i].key)
			free(d->ghosts.slots[i].val); /* key: inside the value */
	hmap_finish(&d->ghosts);
}

static void index_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	index_write(arg);
}

/* The index no longer shows every document as stored. */
static void index_changed(struct daemon *d)
{
	if (d->index_dirty)
		return;
	d->index_dirty = true;
	if (!d->base)
		return; /* written at exit */
	if (!d->index_timer)
		d->index_timer = evtimer_new(d->base, index_timer_cb, d);
	struct timeval tv = {(time_t)INDEX_DELAY, 0};
	evtimer_add(d->index_timer, &tv);
}

/* A guest removed: the index may hold its file's identity until it is written again. */
struct ghost {
	struct store_id id;
	char name[];
};

static void ghost_add(struct vm *vm)
{
	if (!vm->indexed)
		return;
	size_t len = strlen(vm->name);
	struct ghost *g = xmalloc(sizeof *g + len + 1);
	g->id = vm->sid_indexed;
	memcpy(g->name, vm->name, len + 1);
	struct ghost *old = hmap_put(&vm->d->ghosts, g->name, len, g);
	if (old)
		free(g); /* the older identity is the one the index holds */
}

/* What the index may still say of a file of this name (vm: the guest's own). */
static const struct store_id *index_holds(struct daemon *d, const struct vm *vm, const char *name)
{
	if (vm && vm->indexed)
		return &vm->sid_indexed;
	struct ghost *g = hmap_get(&d->ghosts, name, strlen(name));
	return g ? &g->id : NULL;
}

/* Stores the document of vm (create: a new guest). 0 / -1 errno. */
static int vm_store(struct vm *vm, bool create)
{
	struct err err = {0};
	const char *text = vm_text(vm, &err);
	if (!text) {
		log_error("%s: %s", vm->name, err.msg);
		err_clear(&err);
		errno = EIO;
		return -1;
	}
	json_t *doc = vm_document(vm, text);
	struct store_id id;
	int r = store_save(&vm->d->store, vm->name, doc, create,
			   index_holds(vm->d, create ? NULL : vm, vm->name), &id);
	int e = errno;
	json_decref(doc);
	if (r == 0) {
		vm->sid = id;
		vm->has_sid = true;
		index_changed(vm->d);
	}
	errno = e;
	return r;
}

int vm_save(struct vm *vm)
{
	int r = vm_store(vm, false);
	int e = errno;
	if (r < 0)
		log_error("%s: cannot save definition: %s", vm->name, strerror(e));
	errno = e;
	return r;
}

/* Gives vm the meaning cfg (taken over: moved to the heap), as the most recently used. */
static void cfg_attach(struct vm *vm, struct vm_config *cfg)
{
	vm->cfg = xmalloc(sizeof *vm->cfg);
	*vm->cfg = *cfg;
	vm_config_init(cfg);
	if (!vm_has_domain(vm))
		parsed_link_tail(vm);
}

int vm_replace_config(struct vm *vm, struct vm_config *cfg, struct err *err)
{
	struct daemon *d = vm->d;
	if (strcmp(cfg->name, vm->name) != 0 || memcmp(cfg->uuid, vm->uuid, 16) != 0) {
		err_set(err, VMD_ERR_INTERNAL, "a new meaning must keep name and uuid");
		return -1;
	}
	for (int i = 0; i < cfg->dc.num_nics; i++) {
		const uint8_t *mac = cfg->dc.nics[i].mac;
		struct vm *other = mac_set(mac) ? find_mac(d, mac) : NULL;
		if (other && other != vm) {
			char m[MAC_STR_LEN];
			mac_format(mac, m);
			err_set(err, VMD_ERR_EXISTS, "mac %s is already used by guest '%s'", m,
				other->name);
			return -1;
		}
	}
	/* The old brief and meaning, kept until the new one is stored. */
	index_del(vm); /* by the old brief's keys */
	parsed_unlink(vm);
	struct brief old = brief_take(vm);
	struct vm_config *old_cfg = vm->cfg;
	vm->cfg = NULL;
	brief_from_cfg(vm, cfg);
	size_t clash;
	index_try_add(vm, &clash); /* checked above */
	cfg_attach(vm, cfg);
	if (vm_save(vm) == 0) {
		if (vm->live_text)
			live_sync(vm);
		brief_release(&old);
		if (old_cfg) {
			vm_config_finish(old_cfg);
			free(old_cfg);
		}
		return 0;
	}
	err_set(err, VMD_ERR_IO, "cannot store the definition of '%s': %s", vm->name,
		strerror(errno));
	index_del(vm);
	parsed_unlink(vm);
	*cfg = *vm->cfg; /* back to the caller */
	free(vm->cfg);
	vm->cfg = old_cfg;
	brief_free(vm);
	brief_give(vm, &old);
	index_try_add(vm, &clash);
	if (old_cfg && !vm_has_domain(vm))
		parsed_link_tail(vm);
	return -1;
}

static int load_one(void *arg, const char *name, json_t *doc, bool full,
		    const struct store_id *id, const struct store_id *held, struct err *err)
{
	struct daemon *d = arg;
	json_t *ver = json_object_get(doc, "vmd_store");
	json_t *cfgj = json_object_get(doc, "config");
	const char *text = json_string_value(json_object_get(doc, "xlcfg"));
	json_t *autostart = json_object_get(doc, "autostart");
	json_t *owned = json_object_get(doc, "owned_disks");
	json_int_t v = json_integer_value(ver);
	if (!json_is_integer(ver) ||
	    !((v == 2 && (text || !full)) || (v == 1 && json_is_object(cfgj)))) {
		err_set(err, VMD_ERR_IO, "not a vmd definition (version %d)", STORE_VERSION);
		return -1;
	}
	struct vm *vm = vm_new(d);
	vm->sid = *id;
	vm->has_sid = true;
	if (held) { /* what the index on disk says of this name, until it is written again */
		vm->indexed = true;
		vm->sid_indexed = *held;
	}
	if (!full) {
		/* The index's summary: the brief alone; the text stays in the file. */
		if (brief_from_json(vm, json_object_get(doc, "brief"), NULL) < 0) {
			err_set(err, VMD_ERR_IO, "the index's summary is not usable");
			goto fail;
		}
	} else if (!text || brief_from_json(vm, json_object_get(doc, "brief"), text) < 0) {
		/* No brief, or not the text's: the text (or v1's object) is translated. */
		struct vm_config cfg;
		vm_config_init(&cfg);
		struct err cerr = {0};
		char *fname = xasprintf("%s.json", name);
		int r = text ? config_parse(text, strlen(text), fname, NULL, &cfg, &cerr)
			     : config_parse_json(cfgj, NULL, &cfg, &cerr);
		free(fname);
		if (r < 0) {
			err_set(err, VMD_ERR_IO, "invalid config: %s", cerr.msg);
			err_clear(&cerr);
			vm_config_finish(&cfg);
			goto fail;
		}
		if (!cfg.has_uuid) {
			err_set(err, VMD_ERR_IO, "has no uuid");
			vm_config_finish(&cfg);
			goto fail;
		}
		brief_from_cfg(vm, &cfg);
		vm_config_finish(&cfg); /* translated again when needed */
		if (text) { /* a v1 document's text is made from its object: kept */
			free(vm->text);
			vm->text = NULL;
		}
	}
	if (strcmp(vm->name, name) != 0) {
		err_set(err, VMD_ERR_IO, "holds guest '%s', not '%s'", vm->name, name);
		goto fail;
	}
	struct vm *other = find_uuid(d, vm->uuid);
	if (other) {
		err_set(err, VMD_ERR_IO, "uuid already used by '%s'", other->name);
		goto fail;
	}
	size_t clash;
	if ((other = index_try_add(vm, &clash))) {
		char m[MAC_STR_LEN];
		mac_format(vm->macs[clash], m);
		err_set(err, VMD_ERR_IO, "mac %s already used by '%s'", m, other->name);
		goto fail;
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
	TAILQ_INIT(&d->parsed);
	d->n_parsed = 0;
	hmap_init(&d->by_name);
	hmap_init(&d->by_uuid);
	hmap_init(&d->by_mac);
	hmap_init(&d->by_domid);
	hmap_init(&d->ghosts);
	d->index_dirty = false;
	d->index_timer = NULL;
}

int vm_registry_load(struct daemon *d)
{
	struct store_load_stats st;
	if (store_load_all(&d->store, load_one, d, &st) < 0)
		return -1;
	size_t n = d->by_name.n;
	log_info("loaded %zu guest definition%s from %s (%zu from its index, %zu read)%s", n,
		 n == 1 ? "" : "s", d->store.dir, st.from_index, st.read,
		 st.skipped ? " (some files skipped, see above)" : "");
	if (st.index_stale)
		index_changed(d);
	return 0;
}

void vm_registry_finish(struct daemon *d)
{
	vm_commit_defines(d);
	free(d->pending);
	d->pending = NULL;
	index_write(d);
	if (d->index_timer)
		event_free(d->index_timer);
	d->index_timer = NULL;
	struct vm *vm;
	while ((vm = TAILQ_FIRST(&d->vms))) {
		TAILQ_REMOVE(&d->vms, vm, link);
		index_del(vm);
		vm_free(vm);
	}
	hmap_finish(&d->by_name);
	hmap_finish(&d->by_uuid);
	hmap_finish(&d->by_mac);
	hmap_finish(&d->by_domid);
	for (size_t i = 0; i < d->ghosts.cap; i++)
		if (d->ghosts.slots[i].key)
			free(d->ghosts.slots[i].val);
	hmap_finish(&d->ghosts);
	struct vm_reservation *r;
	while ((r = LIST_FIRST(&d->reserved)))
		vm_unreserve(d, r->name);
}

/* ---- define / remove --------------------------------------------------------------------- */

/* What vm_define adds: a uuid no definition uses (when the text has none), and for every
 * vif without one a MAC that no definition (this one included) uses; MACs the text gives
 * must be free too. */
static int complete(struct daemon *d, struct vm_config *cfg, const struct vm *self,
		    struct err *err)
{
	uint8_t uuid[16];
	memcpy(uuid, cfg->uuid, 16);
	if (self) { /* an update: the guest's own uuid and MACs */
		memcpy(uuid, self->uuid, 16);
	} else if (!cfg->has_uuid) {
		do
			uuid_generate_v4(uuid);
		while (find_uuid(d, uuid));
	}
	int n = cfg->dc.num_nics;
	char **macs = xcalloc((size_t)n + 1, sizeof *macs);
	uint8_t(*made)[6] = xcalloc((size_t)n + 1, sizeof *made);
	struct hmap mine; /* this definition's MACs, given and made */
	hmap_init(&mine);
	int r = 0;
	for (int i = 0; i < n && r == 0; i++) {
		const uint8_t *mac = cfg->dc.nics[i].mac;
		if (!mac_set(mac))
			continue;
		hmap_put(&mine, mac, 6, cfg);
		struct vm *other = find_mac(d, mac);
		if (other && other != self) {
			char m[MAC_STR_LEN];
			mac_format(mac, m);
			err_set(err, VMD_ERR_EXISTS, "mac %s is already used by guest '%s'", m,
				other->name);
			err_add_str(err, "mac", m);
			err_add_str(err, "name", other->name);
			r = -1;
		}
	}
	for (int i = 0; i < n && r == 0; i++) {
		if (mac_set(cfg->dc.nics[i].mac))
			continue;
		do
			mac_generate_xen(made[i]);
		while (find_mac(d, made[i]) || hmap_put(&mine, made[i], 6, cfg));
		macs[i] = xmalloc(MAC_STR_LEN);
		mac_format(made[i], macs[i]);
	}
	hmap_finish(&mine);
	free(made);
	if (r == 0)
		r = vm_config_complete(cfg, uuid, macs, err);
	for (int i = 0; i < n; i++)
		free(macs[i]);
	free(macs);
	return r;
}

int vm_complete_update(struct vm *vm, struct vm_config *cfg, struct err *err)
{
	return complete(vm->d, cfg, vm, err);
}

/* What vm_define checks and makes before the store write: the new guest, not yet in the
 * registry (NULL with err when refused). */
static struct vm *define_prepare(struct daemon *d, struct vm_config *cfg,
				 const struct vm_define_opts *opts, bool *held, struct err *err)
{
	*held = opts->reserved && find_reservation(d, cfg->name);
	if (name_free(d, cfg->name, *held, err) < 0)
		return NULL;
	if (cfg->has_uuid) {
		struct vm *other = find_uuid(d, cfg->uuid);
		if (other) {
			char u[UUID_STR_LEN];
			uuid_format(cfg->uuid, u);
			err_set(err, VMD_ERR_EXISTS, "uuid %s is already used by guest '%s'", u,
				other->name);
			err_add_str(err, "uuid", u);
			err_add_str(err, "name", other->name);
			return NULL;
		}
	}
	if (complete(d, cfg, NULL, err) < 0)
		return NULL;
	struct vm *vm = vm_new(d);
	brief_from_cfg(vm, cfg);
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
	return vm;
}

/* The store refused the new guest's document (errno e). */
static void define_store_failed(struct daemon *d, const char *name, int e, struct err *err)
{
	if (e == EEXIST)
		err_set(err, VMD_ERR_EXISTS,
			"a file for '%s' already exists in %s but is not a readable definition; "
			"move it away first",
			name, d->store.dir);
	else
		err_set(err, VMD_ERR_IO, "cannot store the definition of '%s': %s", name,
			strerror(e));
	err_add_str(err, "name", name);
}

/* Enters the prepared guest in the registry with its meaning (cfg taken over). */
static void define_register(struct vm *vm, struct vm_config *cfg, bool held)
{
	struct daemon *d = vm->d;
	if (held)
		vm_unreserve(d, vm->name);
	size_t clash;
	struct vm *other = index_try_add(vm, &clash);
	if (other) /* complete() checked them all */
		log_error("%s: mac index clash with '%s'", vm->name, other->name);
	cfg_attach(vm, cfg);
	TAILQ_INSERT_TAIL(&d->vms, vm, link);
	cfg_trim(d, vm);
}

struct vm *vm_define(struct daemon *d, struct vm_config *cfg, const struct vm_define_opts *opts,
		     struct err *err)
{
	static const struct vm_define_opts none = {0};
	vm_commit_defines(d); /* in the order they were asked for */
	bool held;
	struct vm *vm = define_prepare(d, cfg, opts ? opts : &none, &held, err);
	if (!vm)
		return NULL;
	if (vm_store(vm, true) < 0) {
		define_store_failed(d, vm->name, errno, err);
		vm_free(vm);
		return NULL;
	}
	define_register(vm, cfg, held);
	log_info("%s: defined", vm->name);
	vm_emit(vm, "defined");
	return vm;
}

/* ---- defines committed in groups ----------------------------------------------------------- */

/* The most defines one commit takes (each holds its temp file open until then). */
#define GROUP_MAX 64

struct pending_define {
	struct vm *vm;
	struct store_staged st;
	vm_done_fn *done;
	void *arg;
};

static void commit_cb(evutil_socket_t fd, short what, void *arg)
{
	vm_commit_defines(arg);
}

int vm_define_grouped(struct daemon *d, struct vm_config *cfg, vm_done_fn *done, void *arg,
		      struct err *err)
{
	static const struct vm_define_opts none = {0};
	if (d->n_pending >= GROUP_MAX)
		vm_commit_defines(d);
	bool held;
	struct vm *vm = define_prepare(d, cfg, &none, &held, err);
	if (!vm)
		return -1;
	if (!d->pending)
		d->pending = xcalloc(GROUP_MAX, sizeof *d->pending);
	struct pending_define *p = &d->pending[d->n_pending];
	json_t *doc = vm_document(vm, vm->text);
	int r = store_stage(&d->store, vm->name, doc, true, index_holds(d, NULL, vm->name),
			    &p->st);
	int e = errno;
	json_decref(doc);
	if (r < 0) {
		define_store_failed(d, vm->name, e, err);
		vm_free(vm);
		return -1;
	}
	p->vm = vm;
	p->done = done;
	p->arg = arg;
	vm->committing = true;
	define_register(vm, cfg, held);
	if (d->n_pending++ == 0) {
		static const struct timeval now = {0, 0};
		if (!d->base || event_base_once(d->base, -1, EV_TIMEOUT, commit_cb, d, &now) < 0)
			vm_commit_defines(d);
	}
	return 0;
}

void vm_commit_defines(struct daemon *d)
{
	size_t n = d->n_pending;
	if (!n)
		return;
	struct pending_define *group = d->pending;
	d->pending = NULL; /* a done callback may define again */
	d->n_pending = 0;
	struct store_staged *sts[GROUP_MAX];
	for (size_t i = 0; i < n; i++)
		sts[i] = &group[i].st;
	store_commit(&d->store, sts, n);
	log_debug("store: %zu definition%s committed together", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		struct pending_define *p = &group[i];
		struct vm *vm = p->vm;
		vm->committing = false;
		if (!p->st.err) {
			vm->sid = p->st.id;
			vm->has_sid = true;
			index_changed(d);
			log_info("%s: defined", vm->name);
			vm_emit(vm, "defined");
			p->done(vm, p->arg, NULL);
			continue;
		}
		struct err err = {0};
		define_store_failed(d, vm->name, p->st.err, &err);
		log_warn("%s: %s", vm->name, err.msg);
		TAILQ_REMOVE(&d->vms, vm, link);
		index_del(vm);
		p->done(vm, p->arg, &err);
		err_clear(&err);
		vm_free(vm);
	}
	free(group);
}

bool vm_owns_file(struct daemon *d, const char *guest, const char *path)
{
	struct vm *vm = vm_find(d, guest);
	if (!vm) /* a stored file we could not load owns everything: when in doubt, keep it */
		return store_exists(&d->store, guest);
	for (size_t i = 0; i < vm->n_owned_disks; i++)
		if (strcmp(vm->owned_disks[i], path) == 0)
			return true;
	for (size_t i = 0; i < vm->install.n_files; i++)
		if (strcmp(vm->install.files[i], path) == 0)
			return true;
	return snap_owns(d, guest, path);
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
static struct job *removal_journal(struct vm *vm, const struct vm_config *cfg)
{
	struct job_file *files = xcalloc((size_t)cfg->dc.num_disks + 1, sizeof *files);
	size_t n = 0;
	for (int i = 0; i < cfg->dc.num_disks; i++) {
		const char *t = cfg->dc.disks[i].pdev_path;
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
		if (job_journal_write(j, vm->name, files, n) < 0) {
			log_warn("%s: cannot journal the images to delete (%s); a crash now could "
				 "leave them behind", vm->name, strerror(errno));
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
			  vm->name);
		return -1;
	}
	if (vm->state != VM_STOPPED || vm_busy(vm)) {
		vm_refuse(vm, err, VMD_ERR_BAD_STATE,
			  "guest '%s' is %s; destroy or shut it down first", vm->name,
			  vm_state_name(vm->state));
		return -1;
	}
	json_t *snaps = snap_list(vm->d, vm->name);
	size_t n_snaps = json_array_size(snaps);
	json_decref(snaps);
	if (n_snaps) {
		vm_refuse(vm, err, VMD_ERR_BAD_STATE,
			  "guest '%s' has %zu snapshot%s; delete %s first (vmctl snapshot delete)",
			  vm->name, n_snaps, n_snaps == 1 ? "" : "s", n_snaps == 1 ? "it" : "them");
		return -1;
	}
	/* The images to delete are journalled first (as a job's files: recovery removes those
	 * no stored definition owns, the very files by device and inode), then the definition
	 * goes, then the images: a crash at any point leaves either the guest as it was or
	 * nothing, never a definition pointing at deleted disks nor images no one owns. */
	/* The disks are the text's: a definition that no longer translates can still be removed,
	 * keeping its disks, whose names only the text knows. */
	struct err cerr = {0};
	const struct vm_config *cfg = vm_cfg(vm, &cerr);
	if (!cfg && delete_disks) {
		err_move(err, &cerr);
		return -1;
	}
	err_clear(&cerr);
	struct job *journal = delete_disks ? removal_journal(vm, cfg) : NULL;
	if (store_remove(&vm->d->store, vm->name) < 0 && errno != ENOENT) {
		vm_refuse(vm, err, VMD_ERR_IO, "cannot remove the definition of '%s': %s",
			  vm->name, strerror(errno));
		if (journal && job_journal_remove(journal) < 0)
			log_warn("%s: cannot remove its removal journal: %s", vm->name,
				 strerror(errno));
		job_free(journal);
		return -1;
	}
	if (vm->managed_save) { /* its memory is of no use without the guest */
		char *p = save_managed_path(vm->d, vm->name);
		if (unlink(p) < 0 && errno != ENOENT)
			log_warn("%s: cannot remove its managed save %s: %s", vm->name, p,
				 strerror(errno));
		free(p);
		vm->managed_save = false;
	}
	for (int i = 0; cfg && i < cfg->dc.num_disks; i++) {
		const char *t = cfg->dc.disks[i].pdev_path;
		if (!t)
			continue;
		if (delete_disks && owns(vm, t)) {
			if (unlink(t) == 0 || errno == ENOENT) {
				if (deleted)
					json_array_append_new(deleted, json_string(t));
				continue;
			}
			log_warn("%s: cannot delete %s: %s", vm->name, t, strerror(errno));
		}
		if (kept)
			json_array_append_new(kept, json_string(t));
	}
	if (journal) {
		if (job_journal_remove(journal) < 0)
			log_warn("%s: cannot remove its removal journal: %s", vm->name,
				 strerror(errno));
		job_free(journal);
	}
	/* Extracted installer files are vmd's own, never the admin's: they always go. */
	vm_install_files_delete(vm);
	log_info("%s: removed", vm->name);
	vm_emit(vm, "removed");
	TAILQ_REMOVE(&vm->d->vms, vm, link);
	index_del(vm);
	ghost_add(vm);
	index_changed(vm->d);
	vm_free(vm);
	return 0;
}
