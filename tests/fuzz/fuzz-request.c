/*
 * fuzz-request.c: libFuzzer on the request path. Each input is one request line handed to
 * the dispatcher's line hook (rpc_server_hooks), exactly as the server does after framing: JSON decoding, envelope and
 * param validation, and the ops themselves, against a real daemon core with the sim backend
 * and a state directory in /tmp; the fast request decoder is checked against jansson on
 * every input. The loop is pumped after each input so that asynchronous
 * work (creates, destroys, jobs) runs too. Replies go nowhere (the connection has no socket).
 *
 * The fuzzer finds its way into every method, file-making ones included (disk.create,
 * vm.install, vm.clone), and it runs as root. So the connection is a restricted writer (not
 * root, group vmd) whose paths must lie under one storage root, FUZZ_ROOT: whatever it asks
 * for, files are made there or nowhere. Seeds name files there.
 */
#include <event2/event.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "conf.h"
#include "daemon.h"
#include "job.h"
#include "json-fast.h"
#include "log.h"
#include "ops.h"
#include "rpc.h"
#include "server.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"
#include "xlkeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ROOT "/tmp/vmd-fuzz-root"

static struct daemon d;
static struct server_hooks hooks;
static struct conn conn;
static struct vmd_conf conf;

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
	conf_init(&conf);
	free(conf.storage_roots[0]);
	conf.storage_roots[0] = xstrdup(FUZZ_ROOT);
	if (mkdir(FUZZ_ROOT, 0755) < 0 && errno != EEXIST)
		abort();
	conf_set_active(&conf);
	vm_registry_init(&d);
	static struct xlkeys_host host;
	xlkeys_host_default(&host, 4);
	config_set_host(&host);
	if (store_open(&d.store, dir) < 0)
		abort();
	struct backend_options bo = {.sim_delay_ms = 1, .on_event = vm_dom_event, .event_arg = &d};
	struct err err = {0};
	hooks = rpc_server_hooks(&ops_table);
	d.be = be_open(&backend_sim, d.base, &bo, &err);
	d.server = server_new(&d, d.socket_path, -1, &hooks);
	if (!d.be || !d.server || job_system_init(&d) < 0)
		abort();
	/* A connection without a socket: what it is sent is dropped. */
	conn.srv = d.server;
	conn.can_write = true;
	conn.uid = 65534; /* restricted: see above */
	conn.subscribed = true;
	LIST_INIT(&conn.reqs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!d.base)
		setup();
	if (size > VMD_MAX_LINE)
		return 0; /* the server refuses these before parsing */
	/* The fast decoder (json-fast.h) gives what jansson gives, or declines. */
	json_t *fast = json_fast_parse((const char *)data, size);
	if (fast) {
		json_t *slow = json_loadb((const char *)data, size,
					  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
		if (!slow || !json_equal(fast, slow))
			abort();
		json_decref(slow);
		json_decref(fast);
	}
	/* The envelope decoder takes only what jansson reads as the same request. */
	struct json_fast_request fr;
	if (json_fast_request((const char *)data, size, &fr)) {
		json_t *m = json_loadb((const char *)data, size,
				       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
		json_t *meth = json_object_get(m, "method");
		json_t *id = json_object_get(m, "id"), *params = json_object_get(m, "params");
		if (!json_is_object(m) || !json_is_string(meth) ||
		    strcmp(json_string_value(meth), fr.method) != 0 ||
		    json_object_size(m) != 2u + (fr.id != NULL) + (fr.params != NULL) ||
		    (fr.id ? !id || !json_equal(id, fr.id) : id != NULL) ||
		    (fr.params ? !params || !json_equal(params, fr.params) : params != NULL))
			abort();
		json_decref(m);
		json_decref(fr.id);
		json_decref(fr.params);
	}
	hooks.line(hooks.arg, &conn, (const char *)data, size);
	for (int i = 0; i < 4; i++)
		event_base_loop(d.base, EVLOOP_NONBLOCK);
	return 0;
}
