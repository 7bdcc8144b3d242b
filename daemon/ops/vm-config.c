/*
 * vm.config: the stored definition: the xl.cfg text as the admin wrote it (order and comments
 * kept, plus only what vmd added: a uuid, generated MACs), and its JSON form.
 */
#include "ops.h"
#include "rpc.h"
#include "vm.h"

static void exec(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	const char *text = vm_text(vm, &err);
	if (!text) {
		rpc_reply_err(req, &err);
		err_clear(&err);
		return;
	}
	rpc_reply_result(req, json_pack("{s:s, s:o, s:s}", "name", vm->name, "config",
					config_text_to_json(text), "xlcfg", text));
}

const struct op_entry op_vm_config = {
	.method = "vm.config",
	.params = ops_name_only,
	.perm = OP_READ,
	.target = "name",
	.exec = exec,
};
