/*
 * vm.start: boots a defined guest; answers once it runs (or failed to start).
 */
#include "ops.h"

static void exec(struct rpc_req *req)
{
	ops_vm_when_done(req, vm_start);
}

const struct op_entry op_vm_start = {
	.method = "vm.start",
	.params = ops_name_only,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec,
};
