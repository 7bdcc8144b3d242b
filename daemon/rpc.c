/*
 * rpc.c: see rpc.h. Validation order: framing (server.c), JSON, request shape, method,
 * params, permission, target guest; only then does an op run.
 */
#include "rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "config.h"
#include "daemon.h"
#include "json-fast.h"
#include "log.h"
#include "server.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

/* A JSON-RPC 2.0 batch (an array of requests on one line): the replies are collected and
 * sent as one array once every request of it is finished (an empty array: nothing). */
struct batch {
	struct conn *c;    /* NULL once the client has gone */
	json_t *replies;
	unsigned pending;  /* requests of it still running */
	bool dispatching;  /* its requests are still being started */
};

static void batch_maybe_send(struct batch *b)
{
	if (b->pending || b->dispatching)
		return;
	if (b->c && json_array_size(b->replies))
		conn_send(b->c, json_incref(b->replies));
	json_decref(b->replies);
	if (b->c)
		conn_request_done(b->c);
	free(b);
}

/* A reply (stolen) to where it goes: the batch it is part of, or the connection. */
static void emit(struct conn *c, struct batch *b, json_t *msg)
{
	if (b)
		json_array_append_new(b->replies, msg);
	else if (c)
		conn_send(c, msg);
	else
		json_decref(msg);
}

/* The error object of a reply; message valid UTF-8 (err.c), data stolen. */
static json_t *error_msg(json_t *id, int code, const char *message, json_t *data)
{
	return json_pack("{s:s, s:O, s:{s:i, s:s, s:o}}", "jsonrpc", "2.0", "id",
			 id ? id : json_null(), "error", "code", code, "message", message, "data",
			 data ? data : json_object());
}

/* Where the replies of one request go while it is being checked. */
struct sink {
	struct conn *c;   /* NULL for a notification: JSON-RPC forbids any reply, errors too */
	struct batch *b;
};

static void send_error(struct sink to, json_t *id, int code, json_t *data, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void send_error(struct sink to, json_t *id, int code, json_t *data, const char *fmt, ...)
{
	if (!to.c) {
		json_decref(data);
		return;
	}
	struct err e = {0};
	va_list ap;
	va_start(ap, fmt);
	err_setv(&e, code, fmt, ap);
	va_end(ap);
	emit(to.c, to.b, error_msg(id, code, e.msg, data));
}

static const struct op_entry *find_op(const struct rpc_table *t, const char *method)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->entries[i]->method, method) == 0)
			return t->entries[i];
	return NULL;
}

static const char *type_name(enum param_type t)
{
	switch (t) {
	case P_STRING:
	case P_NAME:
		return "a string";
	case P_INT:
		return "an integer";
	case P_BOOL:
		return "a boolean";
	case P_OBJECT:
		return "an object";
	case P_ARRAY:
		return "an array";
	}
	return "?";
}

static bool type_ok(enum param_type t, json_t *v)
{
	switch (t) {
	case P_STRING:
	case P_NAME:
		return json_is_string(v);
	case P_INT:
		return json_is_integer(v);
	case P_BOOL:
		return json_is_boolean(v);
	case P_OBJECT:
		return json_is_object(v);
	case P_ARRAY:
		return json_is_array(v);
	}
	return false;
}

/* Checks params against the op's table; on failure sends the error and returns -1. */
static int check_params(struct sink c, json_t *id, const struct op_entry *op, json_t *params)
{
	const char *key;
	json_t *v;
	json_object_foreach(params, key, v) {
		const struct param_spec *p = op->params;
		while (p->name && strcmp(p->name, key) != 0)
			p++;
		if (!p->name) {
			send_error(c, id, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", key),
				   "unknown parameter '%.64s' for %s", key, op->method);
			return -1;
		}
		if (!type_ok(p->type, v)) {
			send_error(c, id, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", key),
				   "parameter '%s' must be %s", key, type_name(p->type));
			return -1;
		}
		if (p->type == P_INT && (p->min || p->max)) {
			long long n = json_integer_value(v);
			if (n < p->min || n > p->max) {
				send_error(c, id, VMD_ERR_INVALID_PARAMS,
					   json_pack("{s:s}", "param", key),
					   "parameter '%s' must be between %lld and %lld", key,
					   p->min, p->max);
				return -1;
			}
		}
		if (p->type == P_NAME && !vm_name_valid(json_string_value(v))) {
			send_error(c, id, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", key),
				   "'%.80s' is not a valid guest name (letters, digits, '.', '_', "
				   "'-'; no leading dot; at most %d)",
				   json_string_value(v), VMD_NAME_MAX);
			return -1;
		}
	}
	for (const struct param_spec *p = op->params; p->name; p++) {
		if (p->required && !json_object_get(params, p->name)) {
			send_error(c, id, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", p->name),
				   "missing parameter '%s' for %s", p->name, op->method);
			return -1;
		}
	}
	if (op->check) {
		const char *why = op->check(params);
		if (why) {
			send_error(c, id, VMD_ERR_INVALID_PARAMS, NULL, "%s", why);
			return -1;
		}
	}
	return 0;
}

static void dispatch(const struct rpc_table *table, struct conn *conn, struct batch *b,
		     json_t *id, const char *method, json_t *params);

/* One request (msg borrowed), alone or as part of batch b. */
static void handle_request(const struct rpc_table *table, struct conn *conn, json_t *msg,
			   struct batch *b)
{
	struct sink c = {conn, b};
	json_t *id = NULL;
	if (!json_is_object(msg)) {
		send_error(c, NULL, VMD_ERR_INVALID_REQUEST, NULL, "a request must be a JSON object");
		return;
	}
	/* Pick up the id first so that later errors can carry it. */
	id = json_object_get(msg, "id");
	if (id && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id)) {
		send_error(c, NULL, VMD_ERR_INVALID_REQUEST, NULL,
			   "'id' must be a string, an integer or null");
		return;
	}
	const char *key;
	json_t *v;
	json_object_foreach(msg, key, v) {
		if (strcmp(key, "jsonrpc") && strcmp(key, "id") && strcmp(key, "method") &&
		    strcmp(key, "params")) {
			send_error(c, id, VMD_ERR_INVALID_REQUEST, json_pack("{s:s}", "member", key),
				   "unknown member '%.64s' in request", key);
			return;
		}
	}
	json_t *ver = json_object_get(msg, "jsonrpc");
	if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0) {
		send_error(c, id, VMD_ERR_INVALID_REQUEST, NULL, "'jsonrpc' must be \"2.0\"");
		return;
	}
	json_t *method = json_object_get(msg, "method");
	if (!json_is_string(method)) {
		send_error(c, id, VMD_ERR_INVALID_REQUEST, NULL, "'method' must be a string");
		return;
	}
	dispatch(table, conn, b, id, json_string_value(method), json_object_get(msg, "params"));
}

/* A request whose envelope was found valid, from its method on (id: NULL when absent;
 * params: NULL when absent; both borrowed). */
static void dispatch(const struct rpc_table *table, struct conn *conn, struct batch *b,
		     json_t *id, const char *method, json_t *params)
{
	struct sink c = {conn, b};
	struct sink ec = c; /* where errors go: nowhere for a well-formed notification */
	if (!id)
		ec.c = NULL;
	const struct op_entry *op = find_op(table, method);
	if (!op) {
		send_error(ec, id, VMD_ERR_METHOD_NOT_FOUND, json_pack("{s:s}", "method", method),
			   "unknown method '%.64s'", method);
		return;
	}
	if (params && !json_is_object(params)) {
		send_error(ec, id, VMD_ERR_INVALID_PARAMS, NULL,
			   "'params' must be an object (named parameters)");
		return;
	}
	params = params ? json_incref(params) : json_object();
	if (check_params(ec, id, op, params) < 0) {
		json_decref(params);
		return;
	}
	if (op->perm == OP_WRITE && !conn->can_write) {
		json_decref(params);
		send_error(ec, id, VMD_ERR_PERMISSION, json_pack("{s:s}", "method", op->method),
			   "permission denied: %s changes guests; this connection (uid %d) may only "
			   "read", op->method, (int)conn->uid);
		return;
	}

	struct daemon *d = server_daemon(conn->srv);
	/* It sees every define before it as done (or gone): the waiting group is committed
	 * before its guest is looked up. */
	if (!op->grouped)
		vm_commit_defines(d);
	struct vm *target = NULL;
	if (op->target) {
		const char *name = json_string_value(json_object_get(params, op->target));
		target = name ? vm_find(d, name) : NULL;
		if (!target) {
			json_decref(params);
			send_error(ec, id, VMD_ERR_NOT_FOUND, json_pack("{s:s}", "name", name ? name : ""),
				   "no guest named '%s'", name ? name : "");
			return;
		}
	}

	struct rpc_req *req = xcalloc(1, sizeof *req);
	req->d = d;
	req->vm = target;
	req->conn = conn;
	req->batch = b;
	if (b)
		b->pending++;
	req->id = id ? json_incref(id) : NULL;
	req->op = op;
	req->params = params;
	LIST_INSERT_HEAD(&conn->reqs, req, link);
	log_debug("client %u: %s", conn->id, op->method);
	op->exec(req);
}

static void handle_line(void *table, struct conn *c, const char *line, size_t len)
{
	struct json_fast_request fr;
	if (json_fast_request(line, len, &fr)) { /* the usual request: no envelope object */
		dispatch(table, c, NULL, fr.id, fr.method, fr.params);
		json_decref(fr.id);
		json_decref(fr.params);
		return;
	}
	json_error_t jerr;
	json_t *msg = json_fast_parse(line, len);
	if (!msg)
		msg = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	struct sink to = {c, NULL};
	if (!msg) {
		send_error(to, NULL, VMD_ERR_PARSE, json_pack("{s:i}", "column", jerr.column),
			   "parse error: %s", jerr.text);
		return;
	}
	if (!json_is_array(msg)) {
		handle_request(table, c, msg, NULL);
	} else if (json_array_size(msg) == 0) {
		send_error(to, NULL, VMD_ERR_INVALID_REQUEST, NULL, "an empty batch");
	} else {
		struct batch *b = xcalloc(1, sizeof *b);
		b->c = c;
		b->replies = json_array();
		b->dispatching = true;
		size_t i;
		json_t *one;
		json_array_foreach(msg, i, one)
			handle_request(table, c, one, b);
		b->dispatching = false;
		batch_maybe_send(b);
	}
	json_decref(msg);
}


static void req_free(struct rpc_req *req)
{
	if (req->conn) {
		LIST_REMOVE(req, link);
		req->conn = NULL;
	}
	json_decref(req->id);
	json_decref(req->params);
	free(req);
}

/* Sends msg if the request expects a reply and its client is there; then frees the request
 * and lets a half-closed connection finish. */
static void finish(struct rpc_req *req, json_t *msg)
{
	struct conn *c = req->conn;
	struct batch *b = req->batch;
	if (b) {
		if (req->id)
			json_array_append_new(b->replies, msg);
		else
			json_decref(msg);
		b->pending--;
		req_free(req);
		batch_maybe_send(b);
		return;
	}
	if (c && req->id)
		conn_send(c, msg);
	else
		json_decref(msg);
	req_free(req);
	if (c)
		conn_request_done(c);
}

void rpc_reply_result_text(struct rpc_req *req, const char *result, size_t len)
{
	struct conn *c = req->conn;
	if (req->batch || !c || !req->id) { /* a batch collects objects */
		json_t *r = json_loadb(result, len, 0, NULL);
		if (!r) {
			rpc_reply_error(req, VMD_ERR_INTERNAL, NULL, "cannot encode the reply");
			return;
		}
		rpc_reply_result(req, r);
		return;
	}
	char num[24], *id;
	if (json_is_integer(req->id)) { /* the usual id: no allocation */
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(req->id));
		id = num;
	} else if (!(id = json_dumps(req->id, JSON_COMPACT | JSON_ENCODE_ANY))) {
		rpc_reply_error(req, VMD_ERR_INTERNAL, NULL, "cannot encode the reply");
		return;
	}
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":", mid[] = ",\"result\":";
	struct iovec parts[] = {{(void *)head, sizeof head - 1}, {id, strlen(id)},
				{(void *)mid, sizeof mid - 1}, {(void *)result, len},
				{(void *)"}", 1}};
	conn_send_text(c, parts, 5);
	if (id != num)
		free(id);
	req_free(req);
	conn_request_done(c);
}

void rpc_reply_result(struct rpc_req *req, json_t *result)
{
	finish(req, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
			      req->id ? req->id : json_null(), "result", result));
}

void rpc_reply_error(struct rpc_req *req, int code, json_t *data, const char *fmt, ...)
{
	struct err e = {0};
	va_list ap;
	va_start(ap, fmt);
	err_setv(&e, code, fmt, ap);
	va_end(ap);
	finish(req, error_msg(req->id, code, e.msg, data));
}

void rpc_reply_err(struct rpc_req *req, struct err *err)
{
	int code = err->code ? err->code : VMD_ERR_INTERNAL;
	finish(req, error_msg(req->id, code, err->msg, err_take_data(err)));
	err_clear(err);
}

static void refuse_overlong(void *table, struct conn *c)
{
	log_warn("client %u: request line over %d bytes; disconnecting", c->id, VMD_MAX_LINE);
	char msg[96];
	snprintf(msg, sizeof msg, "request line longer than %d bytes", VMD_MAX_LINE);
	conn_send_and_close(c, error_msg(NULL, VMD_ERR_INVALID_REQUEST, msg,
					 json_pack("{s:i}", "limit", VMD_MAX_LINE)));
}

static void conn_closed(void *table, struct conn *c)
{
	/* Open requests outlive the connection: they are told and keep running detached. */
	struct rpc_req *req;
	while ((req = LIST_FIRST(&c->reqs))) {
		LIST_REMOVE(req, link);
		req->conn = NULL;
		if (req->batch)
			req->batch->c = NULL;
		if (req->on_cancel)
			req->on_cancel(req, req->cancel_arg);
	}
}

void rpc_notify(struct rpc_req *req, const char *method, json_t *params)
{
	if (!req->conn) {
		json_decref(params);
		return;
	}
	conn_send(req->conn,
		  json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method, "params", params));
}

const char *rpc_param_str(const struct rpc_req *req, const char *key)
{
	return json_string_value(json_object_get(req->params, key));
}

bool rpc_param_bool(const struct rpc_req *req, const char *key, bool dflt)
{
	json_t *v = json_object_get(req->params, key);
	return v ? json_is_true(v) : dflt;
}

long long rpc_param_int(const struct rpc_req *req, const char *key, long long dflt)
{
	json_t *v = json_object_get(req->params, key);
	return v ? json_integer_value(v) : dflt;
}

struct server_hooks rpc_server_hooks(const struct rpc_table *table)
{
	return (struct server_hooks){
		.line = handle_line,
		.overlong = refuse_overlong,
		.closed = conn_closed,
		.arg = (void *)table,
	};
}
