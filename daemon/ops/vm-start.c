/*
 * vm.start: boots a defined guest; answers once it runs (or failed to start).
 */
#include "ops.h"
#include "rpc.h"
#include "vm.h"

static void started(struct vm *vm, void *arg, const struct be_error *err)
{
	if (err)
		ops_reply_be_error(arg, vm, err);
	else
		ops_reply_vm(arg, vm);
}

static void exec(struct rpc_req *req)
{
	struct vm *vm = ops_vm_or_reply(req);
	if (!vm)
		return;
	struct be_error err = {0};
	if (vm_start(vm, started, req, &err) < 0)
		ops_reply_be_error(req, vm, &err);
}

const struct op_entry op_vm_start = {
	.method = "vm.start",
	.params = ops_name_only,
	.perm = OP_WRITE,
	.exec = exec,
};
