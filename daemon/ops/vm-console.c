/*
 * vm.console: what a client needs to attach to the guest's console: the pty of its PV
 * console (HVM: its emulated serial port). The client opens the pty itself, as xenconsole
 * does; only one reader should be attached at a time.
 */
#include <string.h>

#include "daemon.h"
#include "ops.h"
#include "rpc.h"
#include "vm.h"
#include "vmd-proto.h"

static void exec(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	if (!vm_has_domain(vm)) {
		vm_refuse(vm, &err, VMD_ERR_BAD_STATE, "guest '%s' is not running", vm->name);
		rpc_reply_err(req, &err);
		return;
	}
	struct console_info ci;
	memset(&ci, 0, sizeof ci);
	if (be_console(req->d->be, (uint32_t)vm->domid, &ci, &err) < 0) {
		err_add_str(&err, "name", vm->name);
		rpc_reply_err(req, &err);
		return;
	}
	rpc_reply_result(req, json_pack("{s:s, s:I, s:s, s:s, s:s}", "name", vm->name,
					"domid", (json_int_t)vm->domid, "kind", ci.kind, "path",
					ci.path, "escape", "^]"));
}

const struct op_entry op_vm_console = {
	.method = "vm.console",
	.params = ops_name_only,
	.perm = OP_WRITE, /* a console is a keyboard: typing into a guest changes it */
	.target = "name",
	.exec = exec,
};
