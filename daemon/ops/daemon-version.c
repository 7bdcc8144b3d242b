/*
 * daemon.version: who answers, which protocol and which backend.
 */
#include "daemon.h"
#include "ops.h"
#include "rpc.h"
#include "vmd-proto.h"

static void exec(struct rpc_req *req)
{
	struct host_info hi = {0};
	struct err err = {0};
	const char *hv = "unknown";
	if (be_host_info(req->d->be, &hi, &err) == 0)
		hv = hi.hypervisor;
	err_clear(&err);
	rpc_reply_result(req, json_pack("{s:s, s:i, s:s, s:s}", "version", VMD_VERSION,
					"protocol", VMD_PROTO_VERSION, "backend",
					be_name(req->d->be), "hypervisor", hv));
	host_info_finish(&hi);
}

const struct op_entry op_daemon_version = {
	.method = "daemon.version",
	.params = ops_no_params,
	.perm = OP_READ,
	.exec = exec,
};
