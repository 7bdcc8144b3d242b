/*
 * events.subscribe: from now on this connection receives a vm.event notification for every
 * state change of every guest.
 */
#include "ops.h"
#include "rpc.h"
#include "server.h"

static void exec(struct rpc_req *req)
{
	if (req->conn)
		req->conn->subscribed = true;
	rpc_reply_result(req, json_pack("{s:b}", "subscribed", 1));
}

const struct op_entry op_events_subscribe = {
	.method = "events.subscribe",
	.params = ops_no_params,
	.perm = OP_READ,
	.exec = exec,
};
