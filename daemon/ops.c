/*
 * ops.c: the table of methods, and helpers that several ops share.
 */
#include "ops.h"

#include <stdio.h>
#include <unistd.h>

#include "access.h"
#include "cfgdiff.h"
#include "conf.h"
#include "server.h"
#include "vm.h"
#include "vmd-proto.h"
#include "xlcfg.h"

static const struct op_entry *const entries[] = {
	&op_daemon_version, &op_vm_define,  &op_vm_create, &op_vm_start,  &op_vm_shutdown,
	&op_vm_reboot,	    &op_vm_destroy, &op_vm_pause,  &op_vm_unpause, &op_vm_list,
	&op_vm_info,	    &op_vm_remove,  &op_vm_config, &op_vm_console, &op_vm_autostart,
	&op_events_subscribe, &op_sim_inject,
	&op_vm_clone, &op_disk_create, &op_job_cancel, &op_vm_install,
	&op_vm_migrate, &op_vm_migrate_incoming, &op_vm_save, &op_vm_restore,
	&op_vm_set_vcpus, &op_vm_set_memory, &op_vm_set_sched, &op_vm_attach_disk,
	&op_vm_detach_disk, &op_vm_attach_nic, &op_vm_detach_nic, &op_vm_cd_insert,
	&op_vm_cd_eject, &op_vm_update, &op_vm_set_nic_rate, &op_vm_snapshot_create,
	&op_vm_snapshot_list, &op_vm_snapshot_revert, &op_vm_snapshot_delete, &op_vm_stats,
	&op_vm_stats_all, &op_network_create, &op_network_list, &op_network_info,
	&op_image_add, &op_image_list, &op_image_remove,
	&op_network_remove, &op_vm_addresses,
};

const struct rpc_table ops_table = {
	.entries = entries,
	.n = sizeof entries / sizeof entries[0],
};

/* A reply with the guest's vm object, for ops whose result is just that. */
void ops_reply_vm(struct rpc_req *req, struct vm *vm)
{
	rpc_reply_result(req, vm_to_json(vm, false));
}

const struct param_spec ops_name_only[] = {
	{"name", P_NAME, true, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct param_spec ops_no_params[] = {
	{NULL, 0, false, 0, 0},
};

static bool restricted(const struct rpc_req *req)
{
	return !req->conn || !access_unrestricted(req->conn->uid, geteuid());
}

/* "permission denied: <why>", data.method too. */
static int denied(const struct rpc_req *req, struct err *err)
{
	char why[ERR_MSG_MAX];
	snprintf(why, sizeof why, "%s", err->msg);
	err_set(err, VMD_ERR_PERMISSION, "permission denied: %s", why);
	err_add_str(err, "method", req->op->method);
	return -1;
}

int ops_check_unrestricted(const struct rpc_req *req, const char *why, struct err *err)
{
	if (!restricted(req))
		return 0;
	err_set(err, VMD_ERR_PERMISSION, "%s", why);
	return denied(req, err);
}

int ops_check_config_access(const struct rpc_req *req, const struct vm_config *cfg,
			    struct err *err)
{
	if (!restricted(req))
		return 0;
	const struct vmd_conf *conf = conf_active();
	if (access_check_config(cfg, conf->storage_roots, conf->n_storage_roots, err) == 0)
		return 0;
	return denied(req, err);
}

int ops_check_caller_path(const struct rpc_req *req, const char *key, const char *path,
			  struct err *err)
{
	if (!restricted(req))
		return 0;
	if (access_check_caller_path(req->conn ? req->conn->uid : (uid_t)-1, path, err) == 0)
		return 0;
	err_add_str(err, "key", key);
	err_add_str(err, "path", path);
	return denied(req, err);
}

void ops_vm_now(struct rpc_req *req, int (*fn)(struct vm *, struct err *))
{
	struct err err = {0};
	if (fn(req->vm, &err) < 0)
		rpc_reply_err(req, &err);
	else
		ops_reply_vm(req, req->vm);
}

static void when_done(struct vm *vm, void *arg, const struct err *err)
{
	if (err) {
		struct err e = {0};
		err_copy(&e, err);
		rpc_reply_err(arg, &e);
	} else {
		ops_reply_vm(arg, vm);
	}
}

void ops_vm_when_done(struct rpc_req *req,
		      int (*fn)(struct vm *, vm_done_fn *, void *, struct err *))
{
	struct err err = {0};
	if (fn(req->vm, when_done, req, &err) < 0)
		rpc_reply_err(req, &err);
}

/* The checks of ops_live_config. 0, or -1 with err. */
static int live_config(struct rpc_req *req, bool *live, bool *config, struct err *err)
{
	struct vm *vm = req->vm;
	bool running = vm->state == VM_RUNNING || vm->state == VM_PAUSED;
	json_t *l = json_object_get(req->params, "live");
	json_t *c = json_object_get(req->params, "config");
	*live = l ? json_is_true(l) : running;
	*config = c ? json_is_true(c) : true;
	if (!*live && !*config) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "nothing to change: live and config are both "
			"false");
		err_add_str(err, "param", "live");
		return -1;
	}
	if (vm_busy(vm)) {
		vm_refuse(vm, err, VMD_ERR_BUSY, "guest '%s' is %s", vm->name,
			  vm_state_name(vm->state));
		return -1;
	}
	if (*live && !running) {
		vm_refuse(vm, err, VMD_ERR_BAD_STATE, "guest '%s' is %s: only its definition can "
			  "change (config)", vm->name, vm_state_name(vm->state));
		return -1;
	}
	return 0;
}

int ops_live_config(struct rpc_req *req, bool *live, bool *config)
{
	struct err err = {0};
	if (live_config(req, live, config, &err) == 0)
		return 0;
	rpc_reply_err(req, &err);
	return -1;
}

void ops_live_key(struct vm *vm, const char *key, const char *value)
{
	struct err err = {0};
	const char *text = vm_live_text(vm, &err);
	err_clear(&err);
	if (text)
		vm_live_set(vm, value ? xlcfg_set(text, key, value) : xlcfg_unset(text, key));
}

void ops_live_number(struct vm *vm, const char *key, long long value)
{
	char num[24];
	snprintf(num, sizeof num, "%lld", value);
	ops_live_key(vm, key, num);
}

void ops_live_item(struct vm *vm, const char *key, const char *id, const char *spec)
{
	struct err err = {0};
	const char *text = vm_live_text(vm, &err);
	err_clear(&err);
	if (text)
		vm_live_set(vm, cfgdiff_edit_item(text, key, id, spec));
}

int ops_parse_config(struct rpc_req *req, struct vm_config *cfg)
{
	struct err err = {0};
	int r;
	const char *text = rpc_param_str(req, "xlcfg");
	if (text) {
		const char *fname = rpc_param_str(req, "filename");
		json_t *jt = json_object_get(req->params, "xlcfg");
		r = config_parse(text, json_string_length(jt), fname ? fname : "config", NULL, cfg,
				 &err);
	} else {
		r = config_parse_json(json_object_get(req->params, "config"), NULL, cfg, &err);
	}
	if (r == 0)
		r = ops_check_config_access(req, cfg, &err);
	if (r < 0)
		rpc_reply_err(req, &err);
	return r;
}

const char *ops_config_check(json_t *params)
{
	bool has_cfg = json_object_get(params, "config") != NULL;
	bool has_xl = json_object_get(params, "xlcfg") != NULL;
	if (has_cfg == has_xl)
		return "exactly one of 'config' (object) and 'xlcfg' (text) is required";
	if (json_object_get(params, "filename") && !has_xl)
		return "'filename' goes with 'xlcfg'";
	return NULL;
}
