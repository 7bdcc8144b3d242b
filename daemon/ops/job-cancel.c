/*
 * job.cancel: stops a running job (a vm.clone) from any connection that may write. The
 * job's own request then fails with code 11 and leaves nothing behind. A job past its last
 * cancellable step (a clone whose definition is stored) completes normally. Closing the
 * connection that started a clone cancels it too; this is for the other cases (a script
 * that started the clone elsewhere, an admin).
 */
#include "job.h"
#include "ops.h"
#include "rpc.h"
#include "vmd-proto.h"

static void exec(struct rpc_req *req)
{
	const char *id = rpc_param_str(req, "job");
	struct job *j = job_find(req->d, id);
	if (!j) {
		rpc_reply_error(req, VMD_ERR_NOT_FOUND, json_pack("{s:s}", "job", id),
				"no running job '%.40s'", id);
		return;
	}
	job_cancel(j);
	rpc_reply_result(req, json_pack("{s:s, s:s}", "job", j->id, "kind", j->kind));
}

static const struct param_spec params[] = {
	{"job", P_STRING, true, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_job_cancel = {
	.method = "job.cancel",
	.params = params,
	.perm = OP_WRITE,
	.exec = exec,
};
