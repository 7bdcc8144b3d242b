/*
 * ops.h: one verb, one file, one table row. Each daemon/ops/<verb>.c exports a
 * const struct op_entry; ops.c lists them. The dispatcher checks the params against the
 * entry's table (types, ranges, required, no unknown keys) and the caller's permission
 * before exec runs, so exec only acts. exec must finish the request (rpc.h) exactly once,
 * now or later.
 */
#ifndef VMD_OPS_H
#define VMD_OPS_H

#include <jansson.h>
#include <stdbool.h>

struct rpc_req;

enum param_type {
	P_STRING,
	P_NAME, /* a string that must be a valid guest name */
	P_INT,
	P_BOOL,
	P_OBJECT,
	P_ARRAY,
};

struct param_spec {
	const char *name;
	enum param_type type;
	bool required;
	long long min, max; /* P_INT only; ignored when both are 0 */
};

enum op_perm {
	OP_READ,  /* anyone allowed to connect */
	OP_WRITE, /* changes guests: root or group vmd */
};

struct op_entry {
	const char *method;
	const struct param_spec *params; /* terminated by {NULL} */
	enum op_perm perm;
	void (*exec)(struct rpc_req *req);
	/* Extra check across params (e.g. exactly one of two keys); NULL if none. Returns NULL
	 * when fine, or the message of an invalid-params error. */
	const char *(*check)(json_t *params);
};

const struct op_entry *ops_find(const char *method);

/* Helpers shared by ops: look up the guest named in params, or reply not-found and return
 * NULL (the request is then finished). */
struct vm *ops_vm_or_reply(struct rpc_req *req);
/* Replies with the be_error as an application error naming the guest. */
struct be_error;
struct vm;
void ops_reply_be_error(struct rpc_req *req, const struct vm *vm, const struct be_error *err);
/* Replies with the guest's vm object (the result of most verbs). */
void ops_reply_vm(struct rpc_req *req, struct vm *vm);
/* Replies with an invalid-config error (code 4, data key/line when known). */
struct config_error;
void ops_reply_config_error(struct rpc_req *req, const struct config_error *cerr);
/* For a writer who is not root: checks every path and program cfg names against the storage
 * roots (access.h). 0 when allowed; -1 after replying with the permission error. */
struct vm_config;
int ops_check_config_access(struct rpc_req *req, const struct vm_config *cfg);
/* Param tables shared by verbs that take only a guest name. */
extern const struct param_spec ops_name_only[];

extern const struct op_entry op_daemon_version;
extern const struct op_entry op_vm_define;
extern const struct op_entry op_vm_create;
extern const struct op_entry op_vm_start;
extern const struct op_entry op_vm_shutdown;
extern const struct op_entry op_vm_reboot;
extern const struct op_entry op_vm_destroy;
extern const struct op_entry op_vm_pause;
extern const struct op_entry op_vm_unpause;
extern const struct op_entry op_vm_list;
extern const struct op_entry op_vm_info;
extern const struct op_entry op_vm_remove;
extern const struct op_entry op_vm_config;
extern const struct op_entry op_vm_console;
extern const struct op_entry op_vm_autostart;
extern const struct op_entry op_events_subscribe;
extern const struct op_entry op_sim_inject;
extern const struct op_entry op_vm_clone;
extern const struct op_entry op_disk_create;
extern const struct op_entry op_job_cancel;
extern const struct op_entry op_vm_install;

#endif
