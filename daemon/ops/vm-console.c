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
	struct vm *vm = ops_vm_or_reply(req);
	if (!vm)
		return;
	if (!vm_has_domain(vm)) {
		rpc_reply_error(req, VMD_ERR_BAD_STATE,
				json_pack("{s:s, s:s}", "name", vm->cfg.name, "state",
					  vm_state_name(vm->state)),
				"guest '%s' is not running", vm->cfg.name);
		return;
	}
	struct console_info ci;
	memset(&ci, 0, sizeof ci);
	struct be_error err = {0};
	if (req->d->be_ops->console(req->d->be, (uint32_t)vm->domid, &ci, &err) < 0) {
		ops_reply_be_error(req, vm, &err);
		return;
	}
	rpc_reply_result(req, json_pack("{s:s, s:I, s:s, s:s, s:s}", "name", vm->cfg.name,
					"domid", (json_int_t)vm->domid, "kind", ci.kind, "path",
					ci.path, "escape", "^]"));
}

const struct op_entry op_vm_console = {
	.method = "vm.console",
	.params = ops_name_only,
	.perm = OP_WRITE, /* a console is a keyboard: typing into a guest changes it */
	.exec = exec,
};
