/*
 * rpc.h: JSON-RPC 2.0 requests: decoding, validation, dispatch through a table of methods,
 * and replies.
 *
 * The table is the ops' (ops.c); main.c hands it over with the server's hooks, so the
 * dispatcher knows methods only as rows: what their params are, who may call them, which
 * guest they act on, and the function that acts. The dispatcher checks all of that before
 * exec runs (tmux's cmd_entry, with its .target, is the model): exec only acts.
 *
 * Ownership: the dispatcher creates a struct rpc_req for each valid request and hands it to
 * the op's exec. The op (or whatever it passes the request to) finishes it exactly once with
 * rpc_reply_result, rpc_reply_err or rpc_reply_error, which send the reply if the client is
 * still connected and free the request. A request whose client disconnected stays valid
 * (req->conn is NULL) until it is finished; its on_cancel hook is called once at the
 * disconnect.
 */
#ifndef VMD_RPC_H
#define VMD_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include "err.h"
#include "server.h"

struct conn;
struct daemon;
struct rpc_req;
struct vm;

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

/* One method: one row of the table, exported by its daemon/ops/<verb>.c. */
struct op_entry {
	const char *method;
	const struct param_spec *params; /* terminated by {NULL} */
	enum op_perm perm;
	/* The (required, P_NAME) param that names the defined guest the method acts on, or
	 * NULL: the dispatcher finds it (req->vm) or replies "not found" before exec. */
	const char *target;
	/* Extra check across params (e.g. exactly one of two keys); NULL if none. Returns NULL
	 * when fine, or the message of an invalid-params error. */
	const char *(*check)(json_t *params);
	void (*exec)(struct rpc_req *req);
	/* Its store writes join the group being committed (vm_define_grouped): the dispatcher
	 * commits that group before any request of a method without this. */
	bool grouped;
};

struct rpc_table {
	const struct op_entry *const *entries;
	size_t n;
};

struct rpc_req {
	struct daemon *d;
	struct conn *conn;         /* NULL once the client has gone */
	json_t *id;                /* NULL for a notification (no reply is sent) */
	const struct op_entry *op;
	json_t *params;            /* always an object */
	struct vm *vm;             /* the op's target guest, found at dispatch (see .target) */
	struct batch *batch;       /* the batch it is part of, or NULL (rpc.c) */
	LIST_ENTRY(rpc_req) link;  /* in the connection's list of open requests */
	/* Called once if the client disconnects before the request is finished. */
	void (*on_cancel)(struct rpc_req *req, void *arg);
	void *cancel_arg;
};

/* The server's hooks (server.h) that make it speak JSON-RPC with the methods of table
 * (borrowed for the server's lifetime). */
struct server_hooks rpc_server_hooks(const struct rpc_table *table);

/* Finish a request. result and data are stolen (data may be NULL). */
void rpc_reply_result(struct rpc_req *req, json_t *result);
/* The same with the result already encoded (compact JSON, as json_dumps would give it):
 * the reply is the same bytes. */
void rpc_reply_result_text(struct rpc_req *req, const char *result, size_t len);
/* The error as it is (code, message, data; its data is taken, err is left cleared). */
void rpc_reply_err(struct rpc_req *req, struct err *err);
void rpc_reply_error(struct rpc_req *req, int code, json_t *data, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A notification to the request's client (e.g. job.progress); params stolen. */
void rpc_notify(struct rpc_req *req, const char *method, json_t *params);

/* Param access after validation (types are guaranteed by the op's param table). */
const char *rpc_param_str(const struct rpc_req *req, const char *key);  /* NULL if absent */
bool rpc_param_bool(const struct rpc_req *req, const char *key, bool dflt);
long long rpc_param_int(const struct rpc_req *req, const char *key, long long dflt);

#endif
