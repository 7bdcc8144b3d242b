/*
 * ops.c: the table of methods, and helpers that several ops share.
 */
#include "ops.h"

#include <string.h>
#include <unistd.h>

#include "access.h"
#include "backend.h"
#include "conf.h"
#include "rpc.h"
#include "server.h"
#include "vm.h"
#include "vmd-proto.h"
#include "xlcfg.h"

static const struct op_entry *const table[] = {
	&op_daemon_version, &op_vm_define,  &op_vm_create, &op_vm_start,  &op_vm_shutdown,
	&op_vm_reboot,	    &op_vm_destroy, &op_vm_pause,  &op_vm_unpause, &op_vm_list,
	&op_vm_info,	    &op_vm_remove,  &op_vm_config, &op_vm_console, &op_vm_autostart,
	&op_events_subscribe, &op_sim_inject,
	&op_vm_clone, &op_disk_create, &op_job_cancel, &op_vm_install,
};

const struct op_entry *ops_find(const char *method)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcmp(table[i]->method, method) == 0)
			return table[i];
	return NULL;
}

struct vm *ops_vm_or_reply(struct rpc_req *req)
{
	const char *name = rpc_param_str(req, "name");
	struct vm *vm = vm_find(req->d, name);
	if (!vm)
		rpc_reply_error(req, VMD_ERR_NOT_FOUND, json_pack("{s:s}", "name", name),
				"no guest named '%s'", name);
	return vm;
}

void ops_reply_be_error(struct rpc_req *req, const struct vm *vm, const struct be_error *err)
{
	json_t *data = json_pack("{s:s}", "name", vm->cfg.name);
	if (err->code == VMD_ERR_BAD_STATE || err->code == VMD_ERR_BUSY)
		json_object_set_new(data, "state", json_string(vm_state_name(vm->state)));
	rpc_reply_error(req, err->code ? err->code : VMD_ERR_BACKEND, data, "%s", err->msg);
}

/* A reply with the guest's vm object, for ops whose result is just that. */
void ops_reply_vm(struct rpc_req *req, struct vm *vm)
{
	rpc_reply_result(req, vm_to_json(vm, false));
}

const struct param_spec ops_name_only[] = {
	{"name", P_NAME, true, 0, 0},
	{NULL, 0, false, 0, 0},
};

void ops_reply_config_error(struct rpc_req *req, const struct config_error *cerr)
{
	json_t *data = json_object();
	if (cerr->key[0])
		json_object_set_new(data, "key", json_string(cerr->key));
	if (cerr->line)
		json_object_set_new(data, "line", json_integer(cerr->line));
	rpc_reply_error(req, VMD_ERR_INVALID_CONFIG, data, "%s", cerr->message);
}

int ops_check_config_access(struct rpc_req *req, const struct vm_config *cfg)
{
	if (req->conn && access_unrestricted(req->conn->uid, geteuid()))
		return 0;
	const struct vmd_conf *conf = conf_active();
	char key[64], path[4096], why[4096 + 256];
	if (access_check_config(cfg, conf->storage_roots, conf->n_storage_roots, key, path, why,
				sizeof why) == 0)
		return 0;
	json_t *data = json_pack("{s:s, s:s}", "method", req->op->method, "key", key);
	if (path[0])
		json_object_set_new(data, "path", json_string(path));
	rpc_reply_error(req, VMD_ERR_PERMISSION, data, "permission denied: %s", why);
	return -1;
}
