/*
 * vm.start: boots a defined guest; answers once it runs (or failed to start). A guest with a
 * managed save (vm.save without a file) is restored from it instead, and the save deleted;
 * discard_save deletes the save and boots afresh.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "ops.h"
#include "save.h"
#include "vmd-proto.h"

static void exec(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	if (rpc_param_bool(req, "paused", false) && rpc_param_bool(req, "discard_save", false)) {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "paused"),
				"'paused' applies to the restore of a managed save, which "
				"'discard_save' drops");
		return;
	}
	if (vm->managed_save && vm->state == VM_STOPPED && !vm_busy(vm)) {
		if (!rpc_param_bool(req, "discard_save", false)) {
			save_restore(req, vm, NULL, rpc_param_bool(req, "paused", false));
			return;
		}
		char *p = save_managed_path(req->d, vm->name);
		if (unlink(p) < 0 && errno != ENOENT)
			log_warn("%s: cannot remove %s: %s", vm->name, p, strerror(errno));
		else
			log_info("%s: managed save discarded", vm->name);
		free(p);
		vm->managed_save = false;
	}
	if (rpc_param_bool(req, "paused", false)) {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "paused"),
				"'paused' applies to the restore of a managed save; '%s' has none",
				vm->name);
		return;
	}
	ops_vm_when_done(req, vm_start);
}

static const struct param_spec params[] = {
	{"name", P_NAME, true, 0, 0},
	{"discard_save", P_BOOL, false, 0, 0},
	{"paused", P_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_start = {
	.method = "vm.start",
	.params = params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec,
};
