/*
 * vm.pause and vm.unpause: stop and resume a guest's vCPUs; memory stays allocated.
 */
#include "ops.h"
#include "rpc.h"
#include "vm.h"

static void run(struct rpc_req *req, int (*fn)(struct vm *, struct be_error *))
{
	struct vm *vm = ops_vm_or_reply(req);
	if (!vm)
		return;
	struct be_error err = {0};
	if (fn(vm, &err) < 0)
		ops_reply_be_error(req, vm, &err);
	else
		ops_reply_vm(req, vm);
}

static void exec_pause(struct rpc_req *req)
{
	run(req, vm_pause);
}

static void exec_unpause(struct rpc_req *req)
{
	run(req, vm_unpause);
}

const struct op_entry op_vm_pause = {
	.method = "vm.pause",
	.params = ops_name_only,
	.perm = OP_WRITE,
	.exec = exec_pause,
};

const struct op_entry op_vm_unpause = {
	.method = "vm.unpause",
	.params = ops_name_only,
	.perm = OP_WRITE,
	.exec = exec_unpause,
};
