/*
 * rpc.h: JSON-RPC 2.0 requests: decoding, validation, dispatch through the op table, and
 * replies.
 *
 * Ownership: the dispatcher creates a struct rpc_req for each valid request and hands it to
 * the op's exec. The op (or whatever it passes the request to) finishes it exactly once with
 * rpc_reply_result or rpc_reply_error, which send the reply if the client is still connected
 * and free the request. A request whose client disconnected stays valid (req->conn is NULL)
 * until it is finished; its on_cancel hook is called once at the disconnect.
 */
#ifndef VMD_RPC_H
#define VMD_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

struct conn;
struct daemon;
struct op_entry;

struct rpc_req {
	struct daemon *d;
	struct conn *conn;         /* NULL once the client has gone */
	json_t *id;                /* NULL for a notification (no reply is sent) */
	const struct op_entry *op;
	json_t *params;            /* always an object */
	LIST_ENTRY(rpc_req) link;  /* in the connection's list of open requests */
	/* Called once if the client disconnects before the request is finished. */
	void (*on_cancel)(struct rpc_req *req, void *arg);
	void *cancel_arg;
};

/* Decodes and dispatches one request line (without its newline). */
void rpc_handle_line(struct conn *c, const char *line, size_t len);

/* Finish a request. result and data are stolen (data may be NULL). */
void rpc_reply_result(struct rpc_req *req, json_t *result);
void rpc_reply_error(struct rpc_req *req, int code, json_t *data, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A notification to the request's client (e.g. job.progress); params stolen. */
void rpc_notify(struct rpc_req *req, const char *method, json_t *params);

/* Error object builders shared with the server (for faults that have no request). */
json_t *rpc_error_msg(json_t *id, int code, const char *message, json_t *data);

/* Param access after validation (types are guaranteed by the op's param table). */
const char *rpc_param_str(const struct rpc_req *req, const char *key);  /* NULL if absent */
bool rpc_param_bool(const struct rpc_req *req, const char *key, bool dflt);
long long rpc_param_int(const struct rpc_req *req, const char *key, long long dflt);

#endif
