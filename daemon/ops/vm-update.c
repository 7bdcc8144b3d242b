/*
 * vm.update: a guest's definition replaced by a whole new config (as vmctl edit sends it),
 * and what can change in the running domain changed there too: vmd works out what differs
 * between the running domain's config (vm_live_text) and the new one (cfgdiff), makes each
 * change that can be made live (vCPUs online, the memory target, scheduler weight and cap,
 * disks and vifs plugged in and out, an HVM cdrom's medium, a vif's rate), one after the
 * other, and leaves the rest pending for the next boot (vm.info's "pending"). The definition
 * is stored first: a config that does not translate, renames the guest or takes another
 * guest's uuid or MAC changes nothing; a live change that fails stays pending, with its error
 * in the answer.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cfgdiff.h"
#include "daemon.h"
#include "log.h"
#include "ops.h"
#include "util.h"
#include "vmd-proto.h"
#include "xlcfg.h"

#define MIN_MEMORY_MIB 16

enum step_kind { S_VCPUS, S_MEMORY, S_SCHED, S_DISK_ADD, S_DISK_DEL, S_CDROM, S_NIC_ADD,
		 S_NIC_DEL, S_NIC_RATE };

struct step {
	enum step_kind kind;
	json_t *change;  /* its entry of the answer's changes (borrowed from update.changes) */
	char *id;        /* vdev or MAC */
	char *spec;      /* the item's new spec (adds, cdrom) */
	long long value; /* vcpus, memory (MiB), weight */
	long long value2; /* cap */
};

struct update {
	struct rpc_req *req;
	struct vm_ref guest;
	const char *name;      /* guest.name */
	struct vm_config next; /* the new definition's meaning (its devices) */
	json_t *changes;
	struct step *steps;
	size_t n_steps, at;
	bool stored;           /* the definition's text changed */
};

static void update_free(struct update *u)
{
	for (size_t i = 0; i < u->n_steps; i++) {
		free(u->steps[i].id);
		free(u->steps[i].spec);
	}
	free(u->steps);
	json_decref(u->changes);
	vm_config_finish(&u->next);
	vm_ref_clear(&u->guest);
	free(u);
}

static const char *kind_key(enum step_kind k)
{
	switch (k) {
	case S_VCPUS: return "vcpus";
	case S_MEMORY: return "memory";
	case S_DISK_ADD: case S_DISK_DEL: case S_CDROM: return "disk";
	case S_NIC_ADD: case S_NIC_DEL: case S_NIC_RATE: return "vif";
	default: return "sched";
	}
}

/* ---- the plan ------------------------------------------------------------------------------ */

static void next_boot(json_t *change, const char *why)
{
	json_object_set_new(change, "apply", json_string("next-boot"));
	if (why)
		json_object_set_new(change, "reason", json_string(why));
}

static struct step *add_step(struct update *u, enum step_kind kind, json_t *change)
{
	u->steps = xrealloc(u->steps, (u->n_steps + 1) * sizeof *u->steps);
	struct step *s = &u->steps[u->n_steps++];
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->change = change;
	json_object_set_new(change, "apply", json_string("live"));
	return s;
}

/* The index of the nic of mac (text) in cfg, or -1. */
static int nic_index(const struct vm_config *cfg, const char *mac)
{
	uint8_t m[6];
	return mac_parse(mac, m) < 0 ? -1 : ops_nic_index(cfg, m);
}

/* A number of the new text (xlcfg_value), or dflt when it has none. */
static long long text_number(const char *text, const char *key, long long dflt)
{
	char *v = xlcfg_value(text, key);
	long long n = v ? strtoll(v, NULL, 0) : dflt;
	free(v);
	return n;
}

/* Sorts each change of u->changes: a step when the running domain (cfg live) can take it,
 * else next-boot with the reason. */
static void plan(struct update *u, const struct vm_config *live)
{
	const struct vm_config *next = &u->next;
	bool hvm = live->type == VM_TYPE_HVM;
	struct step *sched = NULL;
	size_t i;
	json_t *c;
	json_array_foreach(u->changes, i, c) {
		const char *key = json_string_value(json_object_get(c, "key"));
		const char *id = json_string_value(json_object_get(c, "id"));
		bool was = !json_is_null(json_object_get(c, "live"));
		bool now = !json_is_null(json_object_get(c, "config"));
		if (strcmp(key, "vcpus") == 0) {
			int n = vm_config_vcpus(next);
			if (n > vm_config_maxvcpus(live)) {
				next_boot(c, "more than the running domain's maxvcpus");
				continue;
			}
			add_step(u, S_VCPUS, c)->value = n;
		} else if (strcmp(key, "memory") == 0) {
			uint64_t m = vm_config_memory_mib(next);
			if (m > vm_config_maxmem_mib(live) || m < MIN_MEMORY_MIB) {
				next_boot(c, m < MIN_MEMORY_MIB ? "too little for a live change"
								 : "more than the running "
								   "domain's maxmem");
				continue;
			}
			add_step(u, S_MEMORY, c)->value = (long long)m;
		} else if (strcmp(key, "cpu_weight") == 0 || strcmp(key, "cap") == 0) {
			if (!sched) {
				sched = add_step(u, S_SCHED, c);
				sched->value = text_number(next->text, "cpu_weight", 256);
				sched->value2 = text_number(next->text, "cap", 0);
			} else {
				json_object_set_new(c, "apply", json_string("live"));
			}
		} else if (strcmp(key, "disk") == 0 && id) {
			int li = ops_disk_index(live, id), ni = ops_disk_index(next, id);
			bool cd_was = li >= 0 && live->dc.disks[li].is_cdrom;
			bool cd_now = ni >= 0 && next->dc.disks[ni].is_cdrom;
			if (was && now && cd_was && cd_now && hvm) {
				add_step(u, S_CDROM, c)->id = xstrdup(id);
			} else if (was && now) {
				next_boot(c, "a changed disk (detach it and attach the new one to "
					     "change it now)");
			} else if (now && cd_now && hvm) {
				next_boot(c, "an emulated cdrom drive cannot be hot-plugged");
			} else if (now) {
				add_step(u, S_DISK_ADD, c)->id = xstrdup(id);
			} else if (li >= 0 && li == ops_boot_disk(live)) {
				next_boot(c, "the boot disk stays while the guest runs");
			} else if (cd_was && hvm) {
				next_boot(c, "an emulated cdrom drive cannot be unplugged");
			} else {
				add_step(u, S_DISK_DEL, c)->id = xstrdup(id);
			}
		} else if (strcmp(key, "vif") == 0 && id) {
			const char *a = json_string_value(json_object_get(c, "live"));
			const char *b = json_string_value(json_object_get(c, "config"));
			if (was && now && cfgdiff_same_but("vif", a, b, "rate"))
				add_step(u, S_NIC_RATE, c)->id = xstrdup(id);
			else if (was && now)
				next_boot(c, "a changed vif (detach it and attach the new one to "
					     "change it now)");
			else
				add_step(u, now ? S_NIC_ADD : S_NIC_DEL, c)->id = xstrdup(id);
		} else {
			next_boot(c, NULL);
		}
	}
	for (size_t k = 0; k < u->n_steps; k++) {
		struct step *s = &u->steps[k];
		json_t *spec = json_object_get(s->change, "config");
		if (json_is_string(spec))
			s->spec = xstrdup(json_string_value(spec));
	}
}

/* ---- the live steps, one after the other --------------------------------------------------- */

static void run(struct update *u);

static void reply(struct update *u)
{
	struct rpc_req *req = u->req;
	struct vm *vm = vm_ref_get(&u->guest, req->d, false);
	json_t *r = json_pack("{s:s, s:O, s:b}", "name", u->name, "changes", u->changes,
			      "stored", u->stored);
	json_object_set_new(r, "pending", vm ? vm_pending(vm) : json_array());
	rpc_reply_result(req, r);
	update_free(u);
}

/* The step's outcome: err NULL when the running domain has it. */
static void step_done(struct update *u, struct vm *vm, const struct err *err)
{
	struct step *s = &u->steps[u->at];
	if (err) {
		json_object_set_new(s->change, "apply", json_string("next-boot"));
		json_object_set_new(s->change, "error", json_string(err->msg));
		log_warn("%s: update: %s not changed in the running guest: %s", u->name,
			 kind_key(s->kind), err->msg);
	} else {
		switch (s->kind) {
		case S_VCPUS: ops_live_number(vm, "vcpus", s->value); break;
		case S_MEMORY: ops_live_number(vm, "memory", s->value); break;
		case S_SCHED: /* the keys as the new text has them (or not) */
			for (int k = 0; k < 2; k++) {
				const char *key = k ? "cap" : "cpu_weight";
				char *v = xlcfg_value(u->next.text, key);
				ops_live_key(vm, key, v);
				free(v);
			}
			break;
		case S_DISK_ADD: case S_CDROM: ops_live_item(vm, "disk", s->id, s->spec); break;
		case S_DISK_DEL: ops_live_item(vm, "disk", s->id, NULL); break;
		case S_NIC_ADD: case S_NIC_RATE: ops_live_item(vm, "vif", s->id, s->spec); break;
		case S_NIC_DEL: ops_live_item(vm, "vif", s->id, NULL); break;
		}
	}
	u->at++;
	run(u);
}

/* The guest, if it still runs the domain the update began with. */
static struct vm *guest(struct update *u)
{
	return vm_ref_get(&u->guest, u->req->d, true);
}

static void plugged(void *arg, const struct err *err, uint32_t domid)
{
	struct update *u = arg;
	struct vm *vm = guest(u);
	struct err gone = {0};
	if (!vm && !err)
		err_set(&gone, VMD_ERR_BAD_STATE, "the guest stopped");
	step_done(u, vm, err ? err : vm ? NULL : &gone);
	err_clear(&gone);
}

static void ballooned(void *arg, struct vm *vm, bool moved, uint64_t now)
{
	struct update *u = arg;
	struct err err = {0};
	if (!vm)
		err_set(&err, VMD_ERR_BAD_STATE, "the guest stopped");
	else if (!moved)
		err_set(&err, VMD_ERR_BAD_STATE, "no balloon driver answers: its memory stayed at "
			"%" PRIu64 " MiB", now / 1024);
	step_done(u, vm, vm && moved ? NULL : &err);
	err_clear(&err);
}

/* Starts step u->at; 0 when it is under way or done (step_done called or to be called),
 * -1 with err when the backend refused it at once. */
static int start_step(struct update *u, struct vm *vm, struct err *err)
{
	struct step *s = &u->steps[u->at];
	struct backend *be = vm->d->be;
	uint32_t domid = (uint32_t)vm->domid;
	const struct vm_config *n = &u->next;
	int max = 0, i;
	uint8_t mac[6];
	switch (s->kind) {
	case S_VCPUS:
		if (be_set_vcpus(be, domid, (int)s->value, &max, err) < 0)
			return -1;
		break;
	case S_MEMORY: {
		struct dom_info di = {0};
		uint64_t before = be_info(be, domid, &di, err) == 0 ? di.memory_kib : 0;
		dom_info_finish(&di);
		err_clear(err);
		uint64_t target = (uint64_t)s->value * 1024;
		if (be_set_memory(be, domid, target, err) < 0)
			return -1;
		if (ops_balloon_needed(before, target)) {
			ops_balloon_wait(vm, before, target, ballooned, u);
			return 0;
		}
		break;
	}
	case S_SCHED: {
		struct sched_info si;
		if (be_sched(be, domid, (int)s->value, (int)s->value2, &si, err) < 0)
			return -1;
		break;
	}
	case S_DISK_ADD:
	case S_CDROM:
		i = ops_disk_index(n, s->id);
		return s->kind == S_CDROM ? be_cdrom(be, domid, &n->dc.disks[i], plugged, u, err)
					  : be_disk_attach(be, domid, &n->dc.disks[i], plugged, u,
							   err);
	case S_DISK_DEL:
		return be_disk_detach(be, domid, s->id, plugged, u, err);
	case S_NIC_ADD:
		i = nic_index(n, s->id);
		return be_nic_attach(be, domid, &n->dc.nics[i], plugged, u, err);
	case S_NIC_DEL:
		mac_parse(s->id, mac);
		return be_nic_detach(be, domid, mac, plugged, u, err);
	case S_NIC_RATE:
		i = nic_index(n, s->id);
		mac_parse(s->id, mac);
		if (be_nic_rate(be, domid, mac, n->dc.nics[i].rate_bytes_per_interval,
				n->dc.nics[i].rate_interval_usecs, err) < 0)
			return -1;
		break;
	}
	step_done(u, vm, NULL);
	return 0;
}

static void run(struct update *u)
{
	if (u->at >= u->n_steps) {
		reply(u);
		return;
	}
	struct vm *vm = guest(u);
	struct err err = {0};
	if (!vm) {
		err_set(&err, VMD_ERR_BAD_STATE, "the guest stopped");
		step_done(u, NULL, &err);
	} else if (start_step(u, vm, &err) < 0) {
		step_done(u, vm, &err);
	}
	err_clear(&err);
}

/* ---- the request --------------------------------------------------------------------------- */

/* The new config is the guest's: same name, same uuid (or none), MACs completed. */
static int check_same_guest(struct rpc_req *req, struct vm_config *cfg, struct err *err)
{
	struct vm *vm = req->vm;
	if (strcmp(cfg->name, vm->name) != 0) {
		err_set(err, VMD_ERR_INVALID_CONFIG, "the config names '%s', not '%s': an update "
			"keeps the guest's name", cfg->name, vm->name);
		err_add_str(err, "key", "name");
		return -1;
	}
	if (cfg->has_uuid && memcmp(cfg->uuid, vm->uuid, 16) != 0) {
		char u[UUID_STR_LEN];
		uuid_format(vm->uuid, u);
		err_set(err, VMD_ERR_INVALID_CONFIG, "the config's uuid is not the guest's (%s): "
			"an update keeps it", u);
		err_add_str(err, "key", "uuid");
		return -1;
	}
	return vm_complete_update(vm, cfg, err);
}

static void exec(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	bool live, config;
	if (ops_live_config(req, &live, &config) < 0)
		return;
	struct update *u = xcalloc(1, sizeof *u);
	u->req = req;
	vm_ref_set(&u->guest, vm);
	u->name = u->guest.name;
	vm_config_init(&u->next);
	if (ops_parse_config(req, &u->next) < 0) {
		update_free(u);
		return;
	}
	struct vm_config stored, live_cfg;
	vm_config_init(&stored);
	vm_config_init(&live_cfg);
	const char *def = vm_text(vm, &err);
	const char *from = live ? vm_live_text(vm, &err) : def;
	if (!def || !from || check_same_guest(req, &u->next, &err) < 0 ||
	    (live && config_parse(from, strlen(from), vm->name, NULL, &live_cfg, &err) < 0) ||
	    vm_config_copy(&stored, &u->next, &err) < 0) {
		if (err.code == VMD_ERR_IO)
			err_add_str(&err, "name", vm->name);
		rpc_reply_err(req, &err);
		update_free(u);
		goto out;
	}
	u->changes = cfgdiff(from, u->next.text);
	if (live) {
		plan(u, &live_cfg);
	} else {
		size_t i;
		json_t *c;
		json_array_foreach(u->changes, i, c)
			next_boot(c, NULL);
	}
	if (rpc_param_bool(req, "dry_run", false)) {
		rpc_reply_result(req, json_pack("{s:s, s:b, s:O, s:s}", "name", vm->name,
						"dry_run", 1, "changes", u->changes, "xlcfg",
						u->next.text));
		update_free(u);
		goto out;
	}
	u->stored = strcmp(def, stored.text) != 0;
	if (u->stored && vm_replace_config(vm, &stored, &err) < 0) {
		if (err.code == VMD_ERR_IO)
			err_add_str(&err, "name", vm->name);
		rpc_reply_err(req, &err);
		update_free(u);
		goto out;
	}
	log_info("%s: definition updated; %zu change(s) for the running guest", vm->name,
		 u->n_steps);
	run(u);
out:
	vm_config_finish(&stored);
	vm_config_finish(&live_cfg);
	err_clear(&err);
}

static const struct param_spec params[] = {
	{"name", P_NAME, true, 0, 0},
	{"config", P_OBJECT, false, 0, 0},
	{"xlcfg", P_STRING, false, 0, 0},
	{"filename", P_STRING, false, 0, 0},
	{"dry_run", P_BOOL, false, 0, 0},
	{"live", P_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_update = {
	.method = "vm.update",
	.params = params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec,
	.check = ops_config_check,
};
