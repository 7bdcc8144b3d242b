/*
 * vm.set_vcpus, vm.set_memory and vm.set_sched: a guest's online vCPUs, its memory target and
 * its scheduler weight and cap, changed in the running domain (as xl vcpu-set, xl mem-set,
 * xl sched-credit2) and in the stored definition (the next boot's), or in one of the two
 * (live, config: both by default, as virsh does; a stopped guest's change is its
 * definition's). The live change goes first: a change that cannot be made there is refused
 * and changes nothing.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon.h"
#include "log.h"
#include "util.h"
#include "ops.h"
#include "vmd-proto.h"
#include "xlcfg.h"

#define MIN_MEMORY_MIB 16

enum what { VCPUS, MEMORY };

/* The definition's part, once the running domain has the change (or needs none); then the
 * reply. */
static void finish(struct rpc_req *req, enum what what, json_int_t value, bool live, bool config)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	const char *key = what == VCPUS ? "vcpus" : "memory";
	if (live)
		ops_live_number(vm, key, value);
	const struct vm_config *cfg = config ? vm_cfg(vm, &err) : NULL;
	if (config && !cfg) {
		rpc_reply_err(req, &err);
		return;
	}
	if (config) {
		struct vm_config next;
		vm_config_init(&next);
		if (vm_config_copy(&next, cfg, &err) < 0 ||
		    vm_config_set_number(&next, key, value, &err) < 0 ||
		    vm_replace_config(vm, &next, &err) < 0) {
			vm_config_finish(&next);
			if (live) { /* the domain has it already: say so */
				struct err why = {0};
				err_set(&why, err.code ? err.code : VMD_ERR_IO,
					"%s changed in the running guest, but not in its "
					"definition: %s", key, err.msg);
				err_move(&err, &why);
			}
			if (err.code == VMD_ERR_IO)
				err_add_str(&err, "name", vm->name);
			rpc_reply_err(req, &err);
			return;
		}
	}
	log_info("%s: %s = %lld%s%s", vm->name, key, (long long)value, live ? " (running)" : "",
		 config ? " (definition)" : "");
	rpc_reply_result(req, json_pack("{s:s, s:I, s:b, s:b}", "name", vm->name, key,
					(json_int_t)value, "live", live, "config", config));
}

/* mem-set: a target is only a number in xenstore until the guest's balloon driver follows
 * it. The reply waits until the domain's memory moves toward the target; when nothing moves
 * within BALLOON_WAIT_S, no driver answers: the old target comes back and the request fails,
 * having changed nothing. */
#define BALLOON_WAIT_S 5.0
#define BALLOON_POLL_MS 100
#define BALLOON_MOVE_KIB 1024

struct balloon {
	struct daemon *d;
	struct vm_ref guest;   /* looked up again each time (it may go meanwhile) */
	uint64_t before, target; /* KiB */
	double deadline;
	struct event *timer;
	ops_balloon_fn *done;
	void *arg;
};

static void balloon_end(struct balloon *b, struct vm *vm, bool moved, uint64_t now)
{
	b->done(b->arg, vm, moved, now);
	event_free(b->timer);
	vm_ref_clear(&b->guest);
	free(b);
}

static void balloon_cb(evutil_socket_t fd, short what, void *arg)
{
	struct balloon *b = arg;
	struct vm *vm = vm_ref_get(&b->guest, b->d, true);
	struct err err = {0};
	struct dom_info di = {0};
	if (!vm || be_info(vm->d->be, (uint32_t)vm->domid, &di, &err) < 0) {
		err_clear(&err);
		dom_info_finish(&di);
		balloon_end(b, NULL, false, 0);
		return;
	}
	uint64_t now = di.memory_kib;
	dom_info_finish(&di);
	bool moved = b->target < b->before
			     ? now + BALLOON_MOVE_KIB <= b->before || now <= b->target
			     : now >= b->before + BALLOON_MOVE_KIB || now >= b->target;
	if (!moved && now_monotonic() < b->deadline) {
		struct timeval tv = {0, BALLOON_POLL_MS * 1000};
		evtimer_add(b->timer, &tv);
		return;
	}
	if (!moved && be_set_memory(vm->d->be, (uint32_t)vm->domid, b->before, &err) < 0) {
		log_warn("%s: cannot set the memory target back to %" PRIu64 " MiB: %s", vm->name,
			 b->before / 1024, err.msg);
		err_clear(&err);
	}
	balloon_end(b, vm, moved, now);
}

void ops_balloon_wait(struct vm *vm, uint64_t before_kib, uint64_t target_kib,
		      ops_balloon_fn *done, void *arg)
{
	struct balloon *b = xcalloc(1, sizeof *b);
	b->d = vm->d;
	vm_ref_set(&b->guest, vm);
	b->before = before_kib;
	b->target = target_kib;
	b->done = done;
	b->arg = arg;
	b->deadline = now_monotonic() + BALLOON_WAIT_S;
	b->timer = evtimer_new(vm->d->base, balloon_cb, b);
	struct timeval tv = {0, BALLOON_POLL_MS * 1000};
	evtimer_add(b->timer, &tv);
}

bool ops_balloon_needed(uint64_t before_kib, uint64_t target_kib)
{
	return before_kib && (target_kib > before_kib ? target_kib - before_kib
						      : before_kib - target_kib) >= BALLOON_MOVE_KIB;
}

/* mem-set's wait: the reply once the balloon answered. */
struct mem_set {
	struct rpc_req *req;
	char *name;
	json_int_t value;
	bool config;
};

static void mem_set_done(void *arg, struct vm *vm, bool moved, uint64_t now)
{
	struct mem_set *m = arg;
	struct rpc_req *req = m->req;
	struct err err = {0};
	if (!vm) {
		err_set(&err, VMD_ERR_BAD_STATE, "guest '%s' stopped while its memory changed",
			m->name);
		err_add_str(&err, "name", m->name);
		rpc_reply_err(req, &err);
	} else if (moved) {
		req->vm = vm;
		finish(req, MEMORY, m->value, true, m->config);
	} else {
		vm_refuse(vm, &err, VMD_ERR_BAD_STATE, "guest '%s' has no balloon driver that "
			  "answers: its memory stayed at %" PRIu64 " MiB for %.0f s; nothing "
			  "changed", vm->name, now / 1024, BALLOON_WAIT_S);
		rpc_reply_err(req, &err);
	}
	free(m->name);
	free(m);
}

static void balloon_wait(struct rpc_req *req, uint64_t before, json_int_t value, bool config)
{
	struct mem_set *m = xcalloc(1, sizeof *m);
	m->req = req;
	m->name = xstrdup(req->vm->name);
	m->value = value;
	m->config = config;
	ops_balloon_wait(req->vm, before, (uint64_t)value * 1024, mem_set_done, m);
}

static void exec_change(struct rpc_req *req, enum what what)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	bool live, config;
	if (ops_live_config(req, &live, &config) < 0)
		return;
	const struct vm_config *cfg = vm_cfg(vm, &err);
	if (!cfg) {
		rpc_reply_err(req, &err);
		return;
	}
	json_int_t value = json_integer_value(json_object_get(req->params,
							     what == VCPUS ? "vcpus" : "memory"));
	const char *key = what == VCPUS ? "vcpus" : "memory";
	/* The definition's own limit, where its text sets one (maxvcpus, maxmem). */
	char *limit_text = xlcfg_value(cfg->text, what == VCPUS ? "maxvcpus" : "maxmem");
	long long limit = what == VCPUS ? vm_config_maxvcpus(cfg)
					: (long long)vm_config_maxmem_mib(cfg);
	bool has_limit = limit_text != NULL;
	free(limit_text);
	if (what == MEMORY && value < MIN_MEMORY_MIB) {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "memory"),
				"memory: %lld MiB is too little (at least %d)", (long long)value,
				MIN_MEMORY_MIB);
		return;
	}
	if (what == MEMORY && live && (uint64_t)value > vm_config_maxmem_mib(cfg)) {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "memory"),
				"'%s' has at most %" PRIu64 " MiB (maxmem); raise maxmem in its "
				"definition, then restart it", vm->name, vm_config_maxmem_mib(cfg));
		return;
	}
	if (config && has_limit && value > limit) {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", key),
				"%s: %lld is more than its definition's %s (%lld)", key,
				(long long)value, what == VCPUS ? "maxvcpus" : "maxmem", limit);
		return;
	}
	uint64_t before = 0;
	if (live) {
		int max = 0;
		struct backend *be = vm->d->be;
		uint32_t domid = (uint32_t)vm->domid;
		struct dom_info di = {0};
		if (what == MEMORY && be_info(be, domid, &di, &err) == 0)
			before = di.memory_kib;
		dom_info_finish(&di);
		err_clear(&err);
		int r = what == VCPUS ? be_set_vcpus(be, domid, (int)value, &max, &err)
				      : be_set_memory(be, domid, (uint64_t)value * 1024, &err);
		if (r < 0) {
			if (err.code == VMD_ERR_INVALID_PARAMS)
				err_add_str(&err, "param", key);
			else if (err.code != VMD_ERR_NOT_SUPPORTED)
				err_add_str(&err, "name", vm->name);
			rpc_reply_err(req, &err);
			return;
		}
	}
	if (what == MEMORY && live && ops_balloon_needed(before, (uint64_t)value * 1024)) {
		balloon_wait(req, before, value, config);
		return;
	}
	finish(req, what, value, live, config);
}

static void exec_vcpus(struct rpc_req *req)
{
	exec_change(req, VCPUS);
}

static void exec_memory(struct rpc_req *req)
{
	exec_change(req, MEMORY);
}

/* vm.set_sched: weight and cap (xl.cfg's cpu_weight and cap), as xl sched-credit2 -w -c. */
static void exec_sched(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	bool live, config;
	json_t *w = json_object_get(req->params, "weight");
	json_t *c = json_object_get(req->params, "cap");
	int weight = w ? (int)json_integer_value(w) : -1;
	int cap = c ? (int)json_integer_value(c) : -1;
	if (!w && !c) {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "weight"),
				"nothing to change: give weight, cap or both");
		return;
	}
	if (ops_live_config(req, &live, &config) < 0)
		return;
	struct sched_info si = {{0}, weight, cap};
	if (live && be_sched(vm->d->be, (uint32_t)vm->domid, weight, cap, &si, &err) < 0) {
		if (err.code != VMD_ERR_NOT_SUPPORTED && err.code != VMD_ERR_INVALID_PARAMS)
			err_add_str(&err, "name", vm->name);
		rpc_reply_err(req, &err);
		return;
	}
	if (live && weight >= 0)
		ops_live_number(vm, "cpu_weight", weight);
	if (live && cap >= 0)
		ops_live_number(vm, "cap", cap);
	if (config) {
		const struct vm_config *cfg = vm_cfg(vm, &err);
		struct vm_config next;
		vm_config_init(&next);
		if (!cfg || vm_config_copy(&next, cfg, &err) < 0 ||
		    (weight >= 0 && vm_config_set_number(&next, "cpu_weight", weight, &err) < 0) ||
		    (cap >= 0 && vm_config_set_number(&next, "cap", cap, &err) < 0) ||
		    vm_replace_config(vm, &next, &err) < 0) {
			vm_config_finish(&next);
			if (err.code == VMD_ERR_IO)
				err_add_str(&err, "name", vm->name);
			rpc_reply_err(req, &err);
			return;
		}
	}
	log_info("%s: weight %d, cap %d%s%s", vm->name, si.weight, si.cap,
		 live ? " (running)" : "", config ? " (definition)" : "");
	json_t *r = json_pack("{s:s, s:b, s:b}", "name", vm->name, "live", live, "config", config);
	if (live) {
		json_object_set_new(r, "scheduler", json_string(si.scheduler));
		json_object_set_new(r, "weight", json_integer(si.weight));
		json_object_set_new(r, "cap", json_integer(si.cap));
	} else {
		if (weight >= 0)
			json_object_set_new(r, "weight", json_integer(weight));
		if (cap >= 0)
			json_object_set_new(r, "cap", json_integer(cap));
	}
	rpc_reply_result(req, r);
}

static const struct param_spec sched_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"weight", P_INT, false, 1, 65535},
	{"cap", P_INT, false, 0, 51200},
	OPS_LIVE_CONFIG_PARAMS,
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_set_sched = {
	.method = "vm.set_sched",
	.params = sched_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_sched,
};

static const struct param_spec vcpus_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"vcpus", P_INT, true, 1, 512},
	OPS_LIVE_CONFIG_PARAMS,
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_set_vcpus = {
	.method = "vm.set_vcpus",
	.params = vcpus_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_vcpus,
};

static const struct param_spec memory_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"memory", P_INT, true, 1, 1LL << 30},
	OPS_LIVE_CONFIG_PARAMS,
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_set_memory = {
	.method = "vm.set_memory",
	.params = memory_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_memory,
};
