/*
 * sim.inject: fault injection into the simulated hypervisor, for tests. Exists only with
 * the sim backend; with any other backend the method is unknown (-32601).
 */
#include <string.h>

#include "daemon.h"
#include "ops.h"
#include "rpc.h"
#include "vm.h"
#include "vmd-proto.h"

static void exec(struct rpc_req *req)
{
	struct daemon *d = req->d;
	if (!d->be->ops->inject) {
		rpc_reply_error(req, VMD_ERR_METHOD_NOT_FOUND,
				json_pack("{s:s}", "method", "sim.inject"),
				"unknown method 'sim.inject' (only with --backend=sim)");
		return;
	}
	uint32_t domid = 0;
	const char *name = rpc_param_str(req, "name");
	if (name) {
		struct err err = {0};
		struct vm *vm = vm_get(d, name, &err);
		if (!vm) {
			rpc_reply_err(req, &err);
			return;
		}
		if (!vm_has_domain(vm)) {
			rpc_reply_error(req, VMD_ERR_BAD_STATE,
					json_pack("{s:s, s:s}", "name", name, "state",
						  vm_state_name(vm->state)),
					"guest '%s' is not running", name);
			return;
		}
		domid = (uint32_t)vm->domid;
	}
	struct err err = {0};
	if (be_inject(d->be, rpc_param_str(req, "fault"), domid, &err) < 0) {
		rpc_reply_err(req, &err);
		return;
	}
	rpc_reply_result(req, json_object());
}

static const struct param_spec params[] = {
	{"fault", P_STRING, true, 0, 0},
	{"name", P_NAME, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_sim_inject = {
	.method = "sim.inject",
	.params = params,
	.perm = OP_WRITE,
	.exec = exec,
};
