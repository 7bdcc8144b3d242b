/*
 * vm.define and vm.create: a new guest from xl.cfg text or the JSON config object; create
 * also starts it and answers once it runs. A create whose start fails leaves nothing
 * behind: the definition it made is removed again, so a script can simply retry. With
 * dry_run, either answers with the libxl_domain_config it would build (as `xl -N create`
 * prints it) and makes nothing.
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

static json_t *warnings_json(const struct vm_config *cfg)
{
	json_t *w = json_array();
	for (size_t i = 0; i < cfg->n_warnings; i++)
		json_array_append_new(w, json_string(cfg->warnings[i]));
	return w;
}

/* dry_run: what would be built, in libxl's JSON (the document `xl -N create` prints), and
 * nothing made or stored. */
static void reply_dry_run(struct rpc_req *req, const struct vm_config *cfg)
{
	char *text = config_libxl_json(&cfg->dc);
	json_error_t je;
	json_t *obj = text ? json_loads(text, JSON_DECODE_ANY, &je) : NULL;
	if (!obj) {
		struct err err = {0};
		err_set(&err, VMD_ERR_INTERNAL, "libxl cannot print this config");
		rpc_reply_err(req, &err);
		free(text);
		return;
	}
	rpc_reply_result(req, json_pack("{s:b, s:s, s:o, s:s, s:o}", "dry_run", 1, "name",
					cfg->name, "libxl_domain_config", obj, "libxl_json", text,
					"warnings", warnings_json(cfg)));
	free(text);
}

static void reply_defined(struct rpc_req *req, struct vm *vm)
{
	json_t *o = vm_to_json(vm, false);
	struct err err = {0};
	const struct vm_config *cfg = vm_cfg(vm, &err); /* just defined: at hand */
	err_clear(&err);
	json_object_set_new(o, "warnings", cfg ? warnings_json(cfg) : json_array());
	rpc_reply_result(req, o);
}

/* Parses and defines; replies with an error and returns NULL on failure, or after the reply
 * of a dry run. */
static struct vm *define(struct rpc_req *req)
{
	struct vm_config cfg;
	struct err err = {0};
	vm_config_init(&cfg);
	struct vm *vm = NULL;
	if (ops_parse_config(req, &cfg) == 0) {
		if (rpc_param_bool(req, "dry_run", false))
			reply_dry_run(req, &cfg);
		else if (!(vm = vm_define(req->d, &cfg, NULL, &err)))
			rpc_reply_err(req, &err);
	}
	vm_config_finish(&cfg);
	return vm;
}

static void defined(struct vm *vm, void *arg, const struct err *err)
{
	struct rpc_req *req = arg;
	if (!err) {
		reply_defined(req, vm);
		return;
	}
	struct err e = {0};
	err_copy(&e, err);
	rpc_reply_err(req, &e);
	err_clear(&e);
}

/* The store write joins the group of this loop iteration's defines (vm_define_grouped): the
 * reply goes once it is durable. */
static void exec_define(struct rpc_req *req)
{
	struct vm_config cfg;
	struct err err = {0};
	vm_config_init(&cfg);
	if (ops_parse_config(req, &cfg) == 0) {
		if (rpc_param_bool(req, "dry_run", false))
			reply_dry_run(req, &cfg);
		else if (vm_define_grouped(req->d, &cfg, defined, req, &err) < 0)
			rpc_reply_err(req, &err);
	}
	err_clear(&err);
	vm_config_finish(&cfg);
}

static void started(struct vm *vm, void *arg, const struct err *err)
{
	struct rpc_req *req = arg;
	if (!err) {
		reply_defined(req, vm);
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
	if (json_object_get(req->params, "image")) {
		ops_provision_exec(req);
		return;
	}
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
	{"dry_run", P_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_define = {
	.method = "vm.define",
	.params = params,
	.perm = OP_WRITE,
	.exec = exec_define,
	.check = ops_config_check,
	.grouped = true,
};

/* vm.create: a config, or an image and what the guest made from it needs (vm-provision.c). */
static const struct param_spec create_params[] = {
	{"config", P_OBJECT, false, 0, 0},
	{"xlcfg", P_STRING, false, 0, 0},
	{"filename", P_STRING, false, 0, 0},
	{"dry_run", P_BOOL, false, 0, 0},
	{"name", P_NAME, false, 0, 0},
	{"image", P_STRING, false, 0, 0},
	{"disk", P_STRING, false, 0, 0},
	{"disk_size", P_STRING, false, 0, 0},
	{"overlay", P_BOOL, false, 0, 0},
	{"type", P_STRING, false, 0, 0},
	{"memory", P_INT, false, 1, 1LL << 40},
	{"vcpus", P_INT, false, 1, 1 << 20},
	{"network", P_STRING, false, 0, 0},
	{"bridge", P_STRING, false, 0, 0},
	{"user_data", P_STRING, false, 0, 0},
	{"meta_data", P_STRING, false, 0, 0},
	{"network_config", P_STRING, false, 0, 0},
	{"ssh_keys", P_ARRAY, false, 0, 0},
	{"start", P_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

static const char *create_check(json_t *p)
{
	if (json_object_get(p, "image"))
		return ops_provision_check(p);
	static const char *const image_only[] = {"name", "disk", "disk_size", "overlay", "type",
						 "memory", "vcpus", "network", "bridge",
						 "user_data", "meta_data", "network_config",
						 "ssh_keys", "start"};
	for (size_t i = 0; i < sizeof image_only / sizeof image_only[0]; i++)
		if (json_object_get(p, image_only[i]))
			return "only vm.create with 'image' takes 'name', 'disk', 'user_data' and "
			       "the like; with a config, the config says it all";
	return ops_config_check(p);
}

const struct op_entry op_vm_create = {
	.method = "vm.create",
	.params = create_params,
	.perm = OP_WRITE,
	.exec = exec_create,
	.check = create_check,
};
