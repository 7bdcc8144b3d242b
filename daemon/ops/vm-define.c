/*
 * vm.define and vm.create: a new guest from xl.cfg text or the JSON config object; create
 * also starts it and answers once it runs. A create whose start fails leaves nothing
 * behind: the definition it made is removed again, so a script can simply retry.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "ops.h"
#include "rpc.h"
#include "server.h"
#include "vm.h"
#include "vmd-proto.h"
#include "xlcfg.h"

static const char *check(json_t *params)
{
	bool has_cfg = json_object_get(params, "config") != NULL;
	bool has_xl = json_object_get(params, "xlcfg") != NULL;
	if (has_cfg == has_xl)
		return "exactly one of 'config' (object) and 'xlcfg' (text) is required";
	if (json_object_get(params, "filename") && !has_xl)
		return "'filename' goes with 'xlcfg'";
	return NULL;
}

/* Parses and defines; replies with an error and returns NULL on failure. */
static struct vm *define(struct rpc_req *req)
{
	struct vm_config cfg;
	struct err err = {0};
	vm_config_init(&cfg);
	int r;
	const char *text = rpc_param_str(req, "xlcfg");
	if (text) {
		const char *fname = rpc_param_str(req, "filename");
		json_t *jt = json_object_get(req->params, "xlcfg");
		r = xlcfg_parse(text, json_string_length(jt), fname ? fname : "config", &cfg, &err);
	} else {
		r = config_from_json(json_object_get(req->params, "config"), &cfg, &err);
	}
	struct vm *vm = NULL;
	/* What the host decides (default bridge), then what a writer who is not root may name
	 * (access.h): both before the definition exists. */
	if (r == 0)
		conf_apply_defaults(conf_active(), &cfg);
	if (r == 0 && ops_check_config_access(req, &cfg, &err) == 0)
		vm = vm_define(req->d, &cfg, NULL, &err);
	vm_config_finish(&cfg);
	if (!vm)
		rpc_reply_err(req, &err);
	return vm;
}

static void exec_define(struct rpc_req *req)
{
	struct vm *vm = define(req);
	if (vm)
		ops_reply_vm(req, vm);
}

static void started(struct vm *vm, void *arg, const struct err *err)
{
	struct rpc_req *req = arg;
	if (!err) {
		ops_reply_vm(req, vm);
		return;
	}
	struct err e = {0};
	err_copy(&e, err);
	rpc_reply_err(req, &e);
	/* Undo the define: create is all or nothing. */
	if (vm_remove(vm, false, NULL, NULL, &e) < 0)
		log_error("create failed and its definition could not be removed: %s", e.msg);
	err_clear(&e);
}

static void exec_create(struct rpc_req *req)
{
	struct vm *vm = define(req);
	if (!vm)
		return;
	struct err err = {0};
	if (vm_start(vm, started, req, &err) < 0)
		started(vm, req, &err);
	err_clear(&err);
}

static const struct param_spec params[] = {
	{"config", P_OBJECT, false, 0, 0},
	{"xlcfg", P_STRING, false, 0, 0},
	{"filename", P_STRING, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_define = {
	.method = "vm.define",
	.params = params,
	.perm = OP_WRITE,
	.exec = exec_define,
	.check = check,
};

const struct op_entry op_vm_create = {
	.method = "vm.create",
	.params = params,
	.perm = OP_WRITE,
	.exec = exec_create,
	.check = check,
};
