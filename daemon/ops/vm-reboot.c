/*
 * vm.reboot: asks the guest to reboot; it comes back as a new domain of the same guest.
 * The answer comes once the request is delivered (state "rebooting").
 */
#include "ops.h"
#include "rpc.h"
#include "vm.h"

static void exec(struct rpc_req *req)
{
	struct vm *vm = ops_vm_or_reply(req);
	if (!vm)
		return;
	struct be_error err = {0};
	if (vm_reboot(vm, &err) < 0)
		ops_reply_be_error(req, vm, &err);
	else
		ops_reply_vm(req, vm);
}

const struct op_entry op_vm_reboot = {
	.method = "vm.reboot",
	.params = ops_name_only,
	.perm = OP_WRITE,
	.exec = exec,
};
