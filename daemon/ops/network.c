/*
 * network.create, network.list, network.info, network.remove: managed networks (network.h).
 * Making and removing one changes the host's networking (a bridge, nftables rules, a
 * dnsmasq): root only, as vm.migrate; anybody may look.
 */
#include <string.h>

#include "daemon.h"
#include "network.h"
#include "ops.h"
#include "rpc.h"
#include "vmd-proto.h"

static bool root_only(struct rpc_req *req)
{
	struct err err = {0};
	char why[96];
	snprintf(why, sizeof why, "%s changes the host's networking: only root may ask for it",
		 req->op->method);
	if (ops_check_unrestricted(req, why, &err) < 0) {
		rpc_reply_err(req, &err);
		return false;
	}
	return true;
}

static void exec_create(struct rpc_req *req)
{
	struct err err = {0};
	const char *mode = rpc_param_str(req, "mode");
	struct net_spec spec = {
		.name = rpc_param_str(req, "name"),
		.mode = NET_NAT,
		.subnet = rpc_param_str(req, "subnet"),
		.interface = rpc_param_str(req, "interface"),
		.dhcp = rpc_param_bool(req, "dhcp", true),
	};
	if (!root_only(req))
		return;
	if (mode && strcmp(mode, "isolated") == 0) {
		spec.mode = NET_ISOLATED;
	} else if (mode && strcmp(mode, "bridge") == 0) {
		spec.mode = NET_BRIDGE;
	} else if (mode && strcmp(mode, "nat") != 0) {
		err_set(&err, VMD_ERR_INVALID_PARAMS, "mode '%s': nat, isolated or bridge", mode);
		err_add_str(&err, "param", "mode");
		rpc_reply_err(req, &err);
		return;
	}
	if (network_create(req->d, &spec, &err) < 0) {
		rpc_reply_err(req, &err);
		return;
	}
	rpc_reply_result(req, network_to_json(req->d, network_find(req->d, spec.name), false));
}

static void exec_list(struct rpc_req *req)
{
	json_t *all = json_array();
	for (struct network *n = req->d->networks; n; n = n->next)
		json_array_append_new(all, network_to_json(req->d, n, false));
	rpc_reply_result(req, json_pack("{s:o}", "networks", all));
}

static struct network *named(struct rpc_req *req)
{
	const char *name = rpc_param_str(req, "name");
	struct network *n = network_find(req->d, name);
	if (!n) {
		struct err err = {0};
		err_set(&err, VMD_ERR_NOT_FOUND, "no network '%s'", name);
		err_add_str(&err, "network", name);
		rpc_reply_err(req, &err);
	}
	return n;
}

static void exec_info(struct rpc_req *req)
{
	struct network *n = named(req);
	if (n)
		rpc_reply_result(req, network_to_json(req->d, n, true));
}

static void exec_remove(struct rpc_req *req)
{
	struct err err = {0};
	const char *name = rpc_param_str(req, "name");
	if (!root_only(req))
		return;
	if (network_remove(req->d, name, &err) < 0) {
		rpc_reply_err(req, &err);
		return;
	}
	rpc_reply_result(req, json_pack("{s:s, s:b}", "name", name, "removed", 1));
}

static const struct param_spec create_params[] = {
	{"name", P_STRING, true, 0, 0},
	{"mode", P_STRING, false, 0, 0},
	{"subnet", P_STRING, false, 0, 0},
	{"interface", P_STRING, false, 0, 0},
	{"dhcp", P_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

static const struct param_spec name_param[] = {
	{"name", P_STRING, true, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_network_create = {
	.method = "network.create",
	.params = create_params,
	.perm = OP_WRITE,
	.exec = exec_create,
};

const struct op_entry op_network_list = {
	.method = "network.list",
	.params = ops_no_params,
	.perm = OP_READ,
	.exec = exec_list,
};

const struct op_entry op_network_info = {
	.method = "network.info",
	.params = name_param,
	.perm = OP_READ,
	.exec = exec_info,
};

const struct op_entry op_network_remove = {
	.method = "network.remove",
	.params = name_param,
	.perm = OP_WRITE,
	.exec = exec_remove,
};
