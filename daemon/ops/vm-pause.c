/*
 * vm.pause and vm.unpause: stop and resume a guest's vCPUs; memory stays allocated.
 */
#include "ops.h"

static void exec_pause(struct rpc_req *req)
{
	ops_vm_now(req, vm_pause);
}

static void exec_unpause(struct rpc_req *req)
{
	ops_vm_now(req, vm_unpause);
}

const struct op_entry op_vm_pause = {
	.method = "vm.pause",
	.params = ops_name_only,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_pause,
};

const struct op_entry op_vm_unpause = {
	.method = "vm.unpause",
	.params = ops_name_only,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_unpause,
};
