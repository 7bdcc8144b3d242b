/*
 * vm.stats: what a running guest consumes, as xentop shows it: its CPU time and the share of
 * one CPU it used since the previous vm.stats of the same domain (or, the first time, since
 * it started), its memory, and each disk's and vif's counters as the guest sees them
 * (be_stats). Counters only grow while the domain lives; a new domain starts from zero.
 * vm.stats_all: the same for every guest with a domain, in one answer, for monitoring
 * (vmctl metrics, vmctl top): without the CPU share, which the reader works out from two
 * samples, so that two readers do not shorten each other's window.
 */
#include <inttypes.h>
#include <stdio.h>

#include "daemon.h"
#include "log.h"
#include "ops.h"
#include "rpc.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

static json_t *counter(uint64_t v)
{
	return v == STATS_NONE ? json_null() : json_integer((json_int_t)v);
}

/* The share of one CPU (percent) since the last sample of this domain, which it becomes. */
static json_t *cpu_json(struct vm *vm, const struct dom_stats *st)
{
	double now = now_monotonic(), window = 0, pct = 0;
	uint64_t before = 0;
	if (vm->stats_at > 0 && vm->stats_domid == vm->domid &&
	    st->cpu_time_ns >= vm->stats_cpu_ns) {
		window = now - vm->stats_at;
		before = vm->stats_cpu_ns;
	} else if (vm->started_at > 0) {
		window = now_wall() - vm->started_at; /* the first sample: since the start */
	}
	if (window > 0.001)
		pct = (double)(st->cpu_time_ns - before) / 1e9 / window * 100.0;
	vm->stats_domid = vm->domid;
	vm->stats_cpu_ns = st->cpu_time_ns;
	vm->stats_at = now;
	json_t *o = json_pack("{s:f, s:i}", "time_s", (double)st->cpu_time_ns / 1e9, "vcpus",
			      st->vcpus);
	if (window > 0.001) {
		json_object_set_new(o, "percent", json_real(pct));
		json_object_set_new(o, "window_s", json_real(window));
	}
	return o;
}

/* The figures of vm's domain (with the CPU share since the last sample when share), or NULL
 * with err. */
static json_t *stats_json(struct vm *vm, bool share, struct err *err)
{
	struct dom_stats st = {0};
	uint32_t domid = (uint32_t)vm->domid;
	if (be_stats(vm->d->be, domid, &st, err) < 0) {
		if (!err_data_str(err, "name"))
			err_add_str(err, "name", vm->name);
		dom_stats_finish(&st);
		return NULL;
	}
	json_t *disks = json_array(), *vifs = json_array();
	for (size_t i = 0; i < st.n_disks; i++) {
		const struct disk_stats *k = &st.disks[i];
		json_array_append_new(disks, json_pack("{s:s, s:o, s:o, s:o, s:o}", "vdev", k->vdev,
						       "rd_req", counter(k->rd_req), "rd_bytes",
						       counter(k->rd_bytes), "wr_req",
						       counter(k->wr_req), "wr_bytes",
						       counter(k->wr_bytes)));
	}
	for (size_t i = 0; i < st.n_vifs; i++) {
		const struct vif_stats *v = &st.vifs[i];
		char mac[MAC_STR_LEN];
		mac_format(v->mac, mac);
		json_array_append_new(vifs, json_pack("{s:s, s:i, s:o, s:o, s:o, s:o}", "mac", mac,
						      "devid", v->devid, "rx_bytes",
						      counter(v->rx_bytes), "rx_packets",
						      counter(v->rx_packets), "tx_bytes",
						      counter(v->tx_bytes), "tx_packets",
						      counter(v->tx_packets)));
	}
	json_t *cpu = share ? cpu_json(vm, &st)
			    : json_pack("{s:f, s:i}", "time_s", (double)st.cpu_time_ns / 1e9,
					"vcpus", st.vcpus);
	json_t *r = json_pack("{s:s, s:I, s:s, s:f, s:o, s:{s:I, s:I}, s:o, s:o}", "name",
			      vm->name, "domid", (json_int_t)domid, "state",
			      vm_state_name(vm->state), "at", now_wall(), "cpu", cpu, "memory",
			      "current_kib", (json_int_t)st.memory_kib, "max_kib",
			      (json_int_t)st.maxmem_kib, "disks", disks, "vifs", vifs);
	dom_stats_finish(&st);
	return r;
}

static void exec(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	if (!vm_has_domain(vm)) {
		vm_refuse(vm, &err, VMD_ERR_BAD_STATE, "guest '%s' is %s: only a guest with a "
			  "domain has figures", vm->name, vm_state_name(vm->state));
		rpc_reply_err(req, &err);
		return;
	}
	json_t *r = stats_json(vm, true, &err);
	if (!r) {
		rpc_reply_err(req, &err);
		return;
	}
	rpc_reply_result(req, r);
}

/* Every guest with a domain; one whose domain went between the list and the read (destroyed
 * meanwhile) is left out, as a domain xentop no longer finds. */
static void exec_all(struct rpc_req *req)
{
	json_t *guests = json_array();
	struct vm *vm;
	TAILQ_FOREACH(vm, &req->d->vms, link) {
		struct err err = {0};
		if (!vm_has_domain(vm))
			continue;
		json_t *g = stats_json(vm, false, &err);
		if (g) {
			json_array_append_new(guests, g);
		} else {
			log_warn("%s: no figures: %s", vm->name, err.msg);
			err_clear(&err);
		}
	}
	rpc_reply_result(req, json_pack("{s:f, s:o}", "at", now_wall(), "guests", guests));
}

const struct op_entry op_vm_stats_all = {
	.method = "vm.stats_all",
	.params = ops_no_params,
	.perm = OP_READ,
	.exec = exec_all,
};

const struct op_entry op_vm_stats = {
	.method = "vm.stats",
	.params = ops_name_only,
	.perm = OP_READ,
	.target = "name",
	.exec = exec,
};
