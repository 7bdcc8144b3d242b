/*
 * transport.h: a connection to vmd that carries JSON-RPC 2.0, one compact JSON object per
 * line (proto/vmd-protocol.md): open it, make one call, read what follows, close it.
 *
 * The rest of vmctl sees only this object, not how the bytes travel: a Unix socket, or an SSH
 * channel to the socket of another host (`vmctl -H ssh://...`, remote.h), behind the same four
 * functions. Notifications never reach the caller as messages; they go to the handlers.
 */
#ifndef VMCTL_TRANSPORT_H
#define VMCTL_TRANSPORT_H

#include <jansson.h>

struct transport;

/* Where notifications go; a NULL handler ignores them. params belong to the transport: a
 * handler must not keep them past its return. */
struct transport_handlers {
	/* job.progress, as each arrives while a call waits. */
	void (*progress)(json_t *params);
	/* The wait is over (the response came, or the connection failed): wipe any progress. */
	void (*progress_end)(void);
	/* vm.event, with params an object. */
	void (*event)(json_t *params);
};

/* Connects to the daemon at host (an ssh:// URI, remote.h) if not NULL, else at socket_path.
 * NULL after reporting the failure. */
struct transport *transport_open(const char *socket_path, const char *host,
				 const struct transport_handlers *h);

/*
 * Sends one request (params is stolen) and waits for its response, handing notifications
 * that arrive before it to the handlers. Returns VMCTL_EXIT_OK with *reply set to the result,
 * VMCTL_EXIT_DAEMON with *reply set to the daemon's error object (its code and message
 * checked, not yet reported), or VMCTL_EXIT_FAIL after reporting a transport failure, with
 * *reply NULL. The caller decrefs *reply.
 */
int transport_call(struct transport *t, const char *method, json_t *params, json_t **reply);

/*
 * Reads the next message after the call (the stream of events.subscribe) and hands a
 * notification to the handlers; anything else is dropped. 0, 1 when the daemon closed the
 * connection cleanly, -1 after reporting an error.
 */
int transport_read(struct transport *t);

/* Hangs up and frees t; NULL is fine. */
void transport_close(struct transport *t);

#endif
