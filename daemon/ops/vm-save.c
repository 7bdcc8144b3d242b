/*
 * vm.save and vm.restore: a guest's memory to a file and back (save.h). vm.start restores a
 * guest's managed save (vm-start.c).
 */
#include "ops.h"
#include "rpc.h"
#include "save.h"
#include "vmd-proto.h"

static void exec_save(struct rpc_req *req)
{
	struct err err = {0};
	const char *file = rpc_param_str(req, "file");
	/* vmd writes it as root: a writer's file must be under its storage roots. */
	if (file && ops_check_caller_path(req, "file", file, &err) < 0) {
		rpc_reply_err(req, &err);
		return;
	}
	save_start(req, req->vm, file, rpc_param_bool(req, "keep_running", false));
}

static const struct param_spec save_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"file", P_STRING, false, 0, 0},
	{"keep_running", P_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_save = {
	.method = "vm.save",
	.params = save_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_save,
};

static void exec_restore(struct rpc_req *req)
{
	struct err err = {0};
	/* The stream goes to Xen's restore code, which trusts it: only root may hand vmd one
	 * (a managed save, vmd's own, restores through vm.start for every writer). */
	if (ops_check_unrestricted(req, "vm.restore builds a domain from any file's stream: "
				   "only root may ask for it", &err) < 0) {
		rpc_reply_err(req, &err);
		return;
	}
	const char *file = rpc_param_str(req, "file");
	if (file[0] != '/') {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "file"),
				"file must be an absolute path, not '%.200s'", file);
		return;
	}
	save_restore(req, NULL, file, rpc_param_bool(req, "paused", false));
}

static const struct param_spec restore_params[] = {
	{"file", P_STRING, true, 0, 0},
	{"paused", P_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_restore = {
	.method = "vm.restore",
	.params = restore_params,
	.perm = OP_WRITE,
	.exec = exec_restore,
};
