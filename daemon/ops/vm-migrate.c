/*
 * vm.migrate and vm.migrate_incoming: a running guest to another vmd over SSH, and that vmd's
 * end of it (migrate.h has the protocol). vm.migrate_incoming is for vmds, not for people:
 * after its result the connection carries the migration stream.
 */
#include <string.h>

#include "err.h"

#include "migrate.h"
#include "ops.h"
#include "rpc.h"

static void exec_migrate(struct rpc_req *req)
{
	struct err err = {0};
	/* The daemon logs in to the target with its own SSH identity (root's keys): a member of
	 * the writers' group may not point that at a host of its choosing. */
	if (ops_check_unrestricted(req, "vm.migrate uses vmd's own SSH identity: only root may "
				   "ask for it", &err) < 0) {
		rpc_reply_err(req, &err);
		return;
	}
	migrate_out(req, req->vm, rpc_param_str(req, "host"), rpc_param_bool(req, "live", false));
}

static const struct param_spec migrate_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"host", P_STRING, true, 0, 0},
	{"live", P_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_migrate = {
	.method = "vm.migrate",
	.params = migrate_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_migrate,
};

static const char *check_incoming(json_t *params)
{
	json_t *disks = json_object_get(params, "disks"), *d;
	size_t i;
	json_array_foreach(disks, i, d) {
		json_t *size = json_object_get(d, "size");
		if (!json_is_object(d) || !json_is_string(json_object_get(d, "path")) ||
		    (size && (!json_is_integer(size) || json_integer_value(size) < 0)))
			return "each of 'disks' is {\"path\": text, \"size\": bytes (optional)}";
	}
	return NULL;
}

static const struct param_spec incoming_params[] = {
	{"xlcfg", P_STRING, true, 0, 0},
	{"hypervisor", P_STRING, true, 0, 0},
	{"backend", P_STRING, true, 0, 0},
	{"live", P_BOOL, false, 0, 0},
	{"disks", P_ARRAY, true, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_migrate_incoming = {
	.method = "vm.migrate_incoming",
	.params = incoming_params,
	.perm = OP_WRITE,
	.check = check_incoming,
	.exec = migrate_in,
};
