/*
 * server.h: the listening socket and client connections: newline framing with a size limit
 * checked before parsing, output queues with a cap, peer credentials, event subscriptions.
 * What a line means is not the server's business: each complete line goes to the hooks
 * main.c gives (the JSON-RPC dispatcher, rpc.c).
 */
#ifndef VMD_SERVER_H
#define VMD_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>
#include <sys/types.h>

struct daemon;
struct rpc_req;

struct uid_acct;
struct evbuffer_cb_entry;

struct conn {
	TAILQ_ENTRY(conn) link;
	struct server *srv;
	struct bufferevent *bev;
	unsigned id;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool can_write;  /* may call mutating methods */
	bool subscribed; /* receives vm.event notifications */
	bool closing;    /* flush what is queued, then close */
	bool paused;     /* input not read while its output is over VMD_OUTQ_PAUSE */
	LIST_HEAD(, rpc_req) reqs; /* the dispatcher's; the server only asks if it is empty */
	struct uid_acct *acct;     /* what its uid holds (server.c) */
	struct evbuffer_cb_entry *out_cb;
	char *line; /* the line being handled (read_cb's buffer) */
	size_t line_cap;
};

struct server_hooks {
	/* A complete request line (without its newline, never empty). */
	void (*line)(void *arg, struct conn *c, const char *line, size_t len);
	/* The client sent a line over VMD_MAX_LINE: say so (conn_send_and_close). */
	void (*overlong)(void *arg, struct conn *c);
	/* The connection is going away: detach its open requests. */
	void (*closed)(void *arg, struct conn *c);
	void *arg;
};

/* Listens on path (fd >= 0: an inherited listening socket, e.g. from systemd). hooks is
 * borrowed for the server's lifetime. */
struct server *server_new(struct daemon *d, const char *path, int fd,
			  const struct server_hooks *hooks);
/* One more listening socket (at most two in all), e.g. the read-only one: on it every
 * connection may only read. A socket vmd binds itself gets mode 0660 and the group of
 * vmd.conf, or 0666 when read-only. 0 / -1 with errno. */
int server_listen(struct server *srv, const char *path, int fd, bool read_only);
void server_free(struct server *srv);
struct daemon *server_daemon(struct server *srv);

/* Queues one message (stolen) as a compact JSON line. A client whose queue exceeds
 * VMD_MAX_OUTQ is dropped. */
void conn_send(struct conn *c, json_t *msg);
/* The same for a message already encoded, in n pieces (no newline: it is added), under the
 * same output limits. */
struct iovec;
void conn_send_text(struct conn *c, const struct iovec *parts, int n);
/* Sends the message, then closes the connection once it has been written. */
void conn_send_and_close(struct conn *c, json_t *msg);
/* A request of c finished: a half-closed connection may now be closed. */
void conn_request_done(struct conn *c);
/*
 * After the reply that says so (vm.migrate_incoming): the connection's socket leaves the
 * protocol for a byte stream. What is queued is written first; the client must have sent
 * nothing after its request. The server forgets the connection (its other requests are
 * cancelled as at a disconnect) and the caller owns the returned socket, in blocking mode.
 * -1 with errno (EPROTO: bytes after the request).
 */
int conn_take_socket(struct conn *c);
/* A notification (method, params borrowed) to every subscribed client. */
void server_broadcast(struct server *srv, const char *method, json_t *params);

#endif
