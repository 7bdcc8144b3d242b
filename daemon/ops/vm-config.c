/*
 * vm.config: the stored definition, as JSON and as xl.cfg text that parses back to it.
 */
#include <stdlib.h>

#include "ops.h"
#include "rpc.h"
#include "vm.h"
#include "xlcfg.h"

static void exec(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	char *text = xlcfg_format(&vm->cfg);
	rpc_reply_result(req, json_pack("{s:s, s:o, s:s}", "name", vm->cfg.name, "config",
					config_to_json(&vm->cfg), "xlcfg", text));
	free(text);
}

const struct op_entry op_vm_config = {
	.method = "vm.config",
	.params = ops_name_only,
	.perm = OP_READ,
	.target = "name",
	.exec = exec,
};
