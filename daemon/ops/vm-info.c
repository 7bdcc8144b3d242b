/*
 * vm.info: one guest in detail; also answers for a domain vmd does not manage.
 */
#include <string.h>

#include "daemon.h"
#include "ops.h"
#include "rpc.h"
#include "vm.h"
#include "vmd-proto.h"

static void exec(struct rpc_req *req)
{
	struct daemon *d = req->d;
	const char *name = rpc_param_str(req, "name");
	struct vm *vm = vm_find(d, name);
	struct err err = {0};
	if (vm) {
		size_t len;
		const char *text;
		if (!vm_cfg(vm, &err))
			rpc_reply_err(req, &err);
		else if (vm_has_domain(vm)) /* its runtime figures change by the second */
			rpc_reply_result(req, ops_vm_with_addresses(vm, vm_to_json(vm, true)));
		else if ((text = vm_info_text(vm, &len)))
			rpc_reply_result_text(req, text, len);
		else
			rpc_reply_error(req, VMD_ERR_INTERNAL, NULL, "cannot encode the reply");
		err_clear(&err);
		return;
	}
	struct dom_info *doms = NULL;
	size_t n = 0;
	json_t *found = NULL;
	if (be_list(d->be, &doms, &n, &err) == 0) {
		for (size_t i = 0; i < n && !found; i++)
			if (strcmp(doms[i].name, name) == 0 && !vm_find_domid(d, doms[i].domid))
				found = vm_foreign_to_json(&doms[i], true);
		dom_info_list_free(doms, n);
	}
	err_clear(&err);
	if (found)
		rpc_reply_result(req, found);
	else
		rpc_reply_error(req, VMD_ERR_NOT_FOUND, json_pack("{s:s}", "name", name),
				"no guest named '%s'", name);
}

const struct op_entry op_vm_info = {
	.method = "vm.info",
	.params = ops_name_only,
	.perm = OP_READ,
	.exec = exec,
};
