/*
 * vm.autostart: whether the daemon starts the guest once per host boot (see README).
 */
#include <errno.h>
#include <string.h>

#include "ops.h"
#include "rpc.h"
#include "vm.h"
#include "vmd-proto.h"

static void exec(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	bool old = vm->autostart;
	vm->autostart = rpc_param_bool(req, "enabled", false);
	if (vm->autostart != old && vm_save(vm) < 0) {
		int e = errno;
		vm->autostart = old;
		rpc_reply_error(req, VMD_ERR_IO, json_pack("{s:s}", "name", vm->name),
				"cannot save the definition of '%s': %s", vm->name, strerror(e));
		return;
	}
	rpc_reply_result(req, json_pack("{s:s, s:b}", "name", vm->name, "autostart",
					vm->autostart));
}

static const struct param_spec params[] = {
	{"name", P_NAME, true, 0, 0},
	{"enabled", P_BOOL, true, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_autostart = {
	.method = "vm.autostart",
	.params = params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec,
};
