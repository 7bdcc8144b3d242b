/*
 * vm.destroy: hard power-off; the definition stays. Answers once the domain is gone.
 */
#include "ops.h"

static void exec(struct rpc_req *req)
{
	ops_vm_when_done(req, vm_destroy);
}

const struct op_entry op_vm_destroy = {
	.method = "vm.destroy",
	.params = ops_name_only,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec,
};
