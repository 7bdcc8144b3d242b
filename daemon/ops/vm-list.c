/*
 * vm.list: our guests (with `all`, the stopped ones too) and every domain that vmd does not
 * manage (started by xl, or ours from a definition since removed), marked managed=false.
 * With `addresses`, each of ours with a domain also gets vm.info's addresses (vm.addresses in
 * one list): a few xenstore reads and a lease lookup a guest, so only when asked.
 */
#include "daemon.h"
#include "log.h"
#include "ops.h"
#include "rpc.h"
#include "vm.h"

static void exec(struct rpc_req *req)
{
	struct daemon *d = req->d;
	bool all = rpc_param_bool(req, "all", false);
	bool addresses = rpc_param_bool(req, "addresses", false);
	json_t *vms = json_array();
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link) {
		if (!all && vm->state == VM_STOPPED)
			continue;
		json_t *o = vm_to_json(vm, false);
		if (addresses && vm_has_domain(vm))
			o = ops_vm_with_addresses(vm, o);
		json_array_append_new(vms, o);
	}
	struct dom_info *doms = NULL;
	size_t n = 0;
	struct err err = {0};
	if (be_list(d->be, &doms, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!vm_find_domid(d, doms[i].domid))
				json_array_append_new(vms, vm_foreign_to_json(&doms[i], false));
		dom_info_list_free(doms, n);
	} else {
		log_warn("list: cannot list domains: %s", err.msg);
		err_clear(&err);
	}
	rpc_reply_result(req, json_pack("{s:o}", "vms", vms));
}

static const struct param_spec params[] = {
	{"all", P_BOOL, false, 0, 0},
	{"addresses", P_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_list = {
	.method = "vm.list",
	.params = params,
	.perm = OP_READ,
	.exec = exec,
};
