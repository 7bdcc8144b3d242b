/*
 * fuzz-request.c: libFuzzer on the request path. Each input is one request line handed to
 * rpc_handle_line, exactly as the server does after framing: JSON decoding, envelope and
 * param validation, and the ops themselves, against a real daemon core with the sim backend
 * and a state directory in /tmp. The loop is pumped after each input so that asynchronous
 * work (creates, destroys) runs too. Replies go nowhere (the connection has no socket).
 */
#include <event2/event.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "rpc.h"
#include "server.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct daemon d;
static struct conn conn;

static void setup(void)
{
	char dir[] = "/tmp/vmd-fuzz.XXXXXX";
	if (!mkdtemp(dir))
		abort();
	log_init(LOG_LVL_ERROR, 0);
	signal(SIGPIPE, SIG_IGN);
	d.base = event_base_new();
	d.state_dir = xstrdup(dir);
	d.run_dir = xstrdup(dir);
	d.socket_path = xasprintf("%s/vmd.sock", dir);
	vm_registry_init(&d);
	if (store_open(&d.store, dir) < 0)
		abort();
	struct backend_options bo = {.sim_delay_ms = 1, .on_event = vm_dom_event, .event_arg = &d};
	struct be_error err = {0};
	d.be_ops = &backend_sim;
	d.be = backend_sim.open(d.base, &bo, &err);
	d.server = server_new(&d, d.socket_path, -1);
	if (!d.be || !d.server)
		abort();
	/* A connection without a socket: what it is sent is dropped. */
	conn.srv = d.server;
	conn.can_write = true;
	conn.subscribed = true;
	LIST_INIT(&conn.reqs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!d.base)
		setup();
	if (size > VMD_MAX_LINE)
		return 0; /* the server refuses these before parsing */
	rpc_handle_line(&conn, (const char *)data, size);
	for (int i = 0; i < 4; i++)
		event_base_loop(d.base, EVLOOP_NONBLOCK);
	return 0;
}
