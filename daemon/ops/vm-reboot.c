/*
 * vm.reboot: asks the guest to reboot; it comes back as a new domain of the same guest.
 * The answer comes once the request is delivered (state "rebooting").
 */
#include "ops.h"

static void exec(struct rpc_req *req)
{
	ops_vm_now(req, vm_reboot);
}

const struct op_entry op_vm_reboot = {
	.method = "vm.reboot",
	.params = ops_name_only,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec,
};
