/*
 * vm.remove: forgets a stopped guest. With delete_disks, the images vmd created for it
 * (clone, install) are deleted too; images it was given are never deleted, only listed.
 */
#include <stdlib.h>

#include "ops.h"
#include "rpc.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

static void exec(struct rpc_req *req)
{
	json_t *deleted = json_array(), *kept = json_array();
	char *name = xstrdup(req->vm->name);
	struct err err = {0};
	if (vm_remove(req->vm, rpc_param_bool(req, "delete_disks", false), deleted, kept, &err) <
	    0) {
		json_decref(deleted);
		json_decref(kept);
		rpc_reply_err(req, &err);
	} else {
		rpc_reply_result(req, json_pack("{s:s, s:o, s:o}", "name", name, "deleted",
						deleted, "kept", kept));
	}
	free(name);
}

static const struct param_spec params[] = {
	{"name", P_NAME, true, 0, 0},
	{"delete_disks", P_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_remove = {
	.method = "vm.remove",
	.params = params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec,
};
