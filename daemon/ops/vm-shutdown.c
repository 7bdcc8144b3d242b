/*
 * vm.shutdown: asks the guest to shut down cleanly. Without wait the answer comes once the
 * request is delivered; with wait, once the guest has stopped, or with a timeout error after
 * `timeout` seconds (the guest is left running, with its shutdown request pending).
 * A waiting client that disconnects stops waiting; the shutdown goes on.
 */
#include "ops.h"
#include "rpc.h"
#include "vm.h"
#include "vmd-proto.h"

#define DEFAULT_TIMEOUT 300 /* as Debian's xendomains waits for a guest */

static void stopped(struct vm *vm, void *arg, const struct err *err)
{
	struct rpc_req *req = arg;
	req->on_cancel = NULL;
	if (err) {
		struct err e = {0};
		err_copy(&e, err);
		err_add_str(&e, "name", vm->name);
		err_add_str(&e, "state", vm_state_name(vm->state));
		if (e.code == VMD_ERR_TIMEOUT)
			err_add(&e, "timeout",
				json_integer(rpc_param_int(req, "timeout", DEFAULT_TIMEOUT)));
		rpc_reply_err(req, &e);
		return;
	}
	ops_reply_vm(req, vm);
}

static void cancel(struct rpc_req *req, void *arg)
{
	vm_wait_cancel(arg);
	rpc_reply_error(req, VMD_ERR_CANCELLED, NULL, "client went away");
}

static void exec(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	if (vm_shutdown(vm, &err) < 0) {
		rpc_reply_err(req, &err);
		return;
	}
	if (!rpc_param_bool(req, "wait", false)) {
		ops_reply_vm(req, vm);
		return;
	}
	double timeout = (double)rpc_param_int(req, "timeout", DEFAULT_TIMEOUT);
	struct vm_waiter *w = vm_wait_stopped(vm, timeout, stopped, req);
	if (w) {
		req->on_cancel = cancel;
		req->cancel_arg = w;
	}
}

static const struct param_spec params[] = {
	{"name", P_NAME, true, 0, 0},
	{"wait", P_BOOL, false, 0, 0},
	{"timeout", P_INT, false, 1, 86400},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_shutdown = {
	.method = "vm.shutdown",
	.params = params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec,
};
