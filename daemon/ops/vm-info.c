/*
 * vm.info: one guest in detail; also answers for a domain vmd does not manage.
 */
#include <string.h>

#include "daemon.h"
#include "ops.h"
#include "rpc.h"
#include "vm.h"
#include "vmd-proto.h"

/* A running guest's addresses (vm.addresses, one list): what vmctl info shows. */
static json_t *with_addresses(struct vm *vm, json_t *o)
{
	struct err err = {0};
	json_t *vifs = ops_vm_addresses(vm, &err), *v, *a, *all = json_array();
	size_t i, k;
	json_array_foreach(vifs, i, v) {
		json_array_foreach(json_object_get(v, "addresses"), k, a) {
			json_t *e = json_deep_copy(a);
			json_object_set(e, "mac", json_object_get(v, "mac"));
			json_array_append_new(all, e);
		}
	}
	json_decref(vifs);
	err_clear(&err);
	json_object_set_new(o, "addresses", all);
	return o;
}

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
			rpc_reply_result(req, with_addresses(vm, vm_to_json(vm, true)));
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
