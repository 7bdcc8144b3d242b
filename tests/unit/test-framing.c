/*
 * test-framing.c: the server's line framing and the JSON-RPC envelope checks, over a real
 * Unix socket to the real server code, with the sim backend behind it. The test is the
 * client: it writes bytes and pumps the daemon's event loop until replies arrive.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "ops.h"
#include "rpc.h"
#include "server.h"
#include "test.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

static struct daemon d;
static struct server_hooks hooks;
static char dir[64];
static char sock[128];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/vmd-test-framing.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(sock, sizeof sock, "%s/vmd.sock", dir);
	d.base = event_base_new();
	d.state_dir = dir;
	d.run_dir = dir;
	d.socket_path = sock;
	vm_registry_init(&d);
	if (store_open(&d.store, dir) < 0)
		abort();
	struct backend_options bo = {.state_dir = NULL, .on_event = vm_dom_event, .event_arg = &d};
	struct err err = {0};
	hooks = rpc_server_hooks(&ops_table);
	d.be = be_open(&backend_sim, d.base, &bo, &err);
	d.server = server_new(&d, sock, -1, &hooks);
	if (!d.be || !d.server)
		abort();
}

static void teardown(void)
{
	server_free(d.server);
	vm_life_end(&d);
	vm_registry_finish(&d);
	be_close(d.be);
	store_close(&d.store);
	event_base_free(d.base);
	char *cmd = xasprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
	free(cmd);
}

static int client(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	strcpy(sun.sun_path, sock);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
		abort();
	return fd;
}

static void pump(void)
{
	event_base_loop(d.base, EVLOOP_NONBLOCK);
}

/* Writes all of buf while letting the server read. */
static void send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EAGAIN) {
			pump();
			continue;
		}
		if (w < 0)
			return; /* the server closed on us; the caller checks for that */
		buf += w;
		len -= (size_t)w;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* Collects up to max reply lines, for about two seconds at most. Returns the count; sets
 * *eof when the server closed the connection. */
static int recv_lines(int fd, json_t **out, int max, bool *eof)
{
	static char buf[1 << 16];
	size_t have = 0;
	int n = 0;
	*eof = false;
	for (int round = 0; round < 2000 && n < max && !*eof; round++) {
		pump();
		ssize_t r = read(fd, buf + have, sizeof buf - have - 1);
		if (r == 0) {
			*eof = true;
		} else if (r > 0) {
			have += (size_t)r;
		} else if (errno != EAGAIN) {
			*eof = true;
		} else {
			poll(NULL, 0, 1);
		}
		char *nl;
		while (n < max && (nl = memchr(buf, '\n', have))) {
			*nl = '\0';
			out[n++] = json_loads(buf, 0, NULL);
			size_t used = (size_t)(nl - buf) + 1;
			memmove(buf, nl + 1, have - used);
			have -= used;
		}
	}
	return n;
}

static long long reply_id(json_t *r)
{
	return json_integer_value(json_object_get(r, "id"));
}

static int error_code(json_t *r)
{
	return (int)json_integer_value(json_object_get(json_object_get(r, "error"), "code"));
}

static void free_all(json_t **v, int n)
{
	for (int i = 0; i < n; i++)
		json_decref(v[i]);
}

static void pipelined_requests(void)
{
	int fd = client();
	send_str(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.version\"}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"vm.list\",\"params\":{}}\r\n"
		     "\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"vm.list\",\"params\":{\"all\":true}}\n");
	json_t *r[4];
	bool eof;
	int n = recv_lines(fd, r, 3, &eof);
	CHECK(n == 3);
	for (int i = 0; i < n; i++) {
		CHECK(reply_id(r[i]) == i + 1);
		CHECK(json_object_get(r[i], "result") != NULL);
	}
	CHECK_STR(json_string_value(json_object_get(json_object_get(r[0], "result"), "backend")),
		  "sim");
	free_all(r, n);
	close(fd);
}

static void split_writes(void)
{
	int fd = client();
	const char *req = "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"daemon.version\"}\n";
	for (const char *p = req; *p; p++) {
		send_all(fd, p, 1);
		pump();
	}
	json_t *r[2];
	bool eof;
	int n = recv_lines(fd, r, 1, &eof);
	CHECK(n == 1);
	if (n == 1)
		CHECK_STR(json_string_value(json_object_get(r[0], "id")), "abc");
	free_all(r, n);
	close(fd);
}

static void errors_keep_the_connection(void)
{
	int fd = client();
	send_str(fd, "{not json\n"
		     "[]\n" /* an empty batch (batches: tests/integration) */
		     "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"vm.list\",\"extra\":1}\n"
		     "{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"vm.list\"}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"no.such\"}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"vm.list\",\"params\":[1]}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"vm.list\",\"params\":{\"al\":1}}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"vm.list\",\"params\":{\"all\":1}}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"vm.info\",\"params\":{\"name\":\"../x\"}}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":9.5,\"method\":\"vm.list\"}\n"
		     "{\"jsonrpc\":\"2.0\",\"method\":\"no.such\"}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":10,\"id\":11,\"method\":\"vm.list\"}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"daemon.version\"}\n");
	json_t *r[16];
	bool eof;
	int n = recv_lines(fd, r, 12, &eof);
	/* The notification with an unknown method gets no reply: 12 replies for 13 lines. */
	CHECK(n == 12);
	static const int want[] = {VMD_ERR_PARSE,	   VMD_ERR_INVALID_REQUEST,
				   VMD_ERR_INVALID_REQUEST, VMD_ERR_INVALID_REQUEST,
				   VMD_ERR_METHOD_NOT_FOUND, VMD_ERR_INVALID_PARAMS,
				   VMD_ERR_INVALID_PARAMS,  VMD_ERR_INVALID_PARAMS,
				   VMD_ERR_INVALID_PARAMS,  VMD_ERR_INVALID_REQUEST,
				   VMD_ERR_PARSE,	   0};
	for (int i = 0; i < n && i < 12; i++) {
		if (want[i])
			CHECK(error_code(r[i]) == want[i]);
		else
			CHECK(json_object_get(r[i], "result") != NULL);
	}
	if (n >= 5)
		CHECK(reply_id(r[4]) == 4);
	CHECK(!eof);
	free_all(r, n);
	close(fd);
}

static void invalid_utf8(void)
{
	int fd = client();
	send_str(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.info\",\"params\":{\"name\":\"\xff\xfe\"}}\n"
		     "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"vm.info\",\"params\":{\"name\":\"a\\u0000b\"}}\n");
	json_t *r[2];
	bool eof;
	int n = recv_lines(fd, r, 2, &eof);
	CHECK(n == 2);
	if (n == 2) {
		CHECK(error_code(r[0]) == VMD_ERR_PARSE);
		CHECK(error_code(r[1]) == VMD_ERR_PARSE);
	}
	free_all(r, n);
	close(fd);
}

/* A request padded with spaces to exactly len bytes (newline not counted). */
static char *padded_request(size_t len)
{
	const char *head = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"daemon.version\"";
	char *s = xmalloc(len + 2);
	size_t h = strlen(head);
	memcpy(s, head, h);
	memset(s + h, ' ', len - h - 1);
	s[len - 1] = '}';
	s[len] = '\n';
	s[len + 1] = '\0';
	return s;
}

static void line_limit(void)
{
	int fd = client();
	char *ok = padded_request(VMD_MAX_LINE);
	send_str(fd, ok);
	free(ok);
	json_t *r[2];
	bool eof;
	int n = recv_lines(fd, r, 1, &eof);
	CHECK(n == 1 && reply_id(r[0]) == 7 && json_object_get(r[0], "result"));
	free_all(r, n);

	char *big = padded_request(VMD_MAX_LINE + 1);
	send_str(fd, big);
	free(big);
	n = recv_lines(fd, r, 2, &eof);
	CHECK(n == 1);
	if (n >= 1)
		CHECK(error_code(r[0]) == VMD_ERR_INVALID_REQUEST);
	CHECK(eof); /* disconnected after the error */
	free_all(r, n);
	close(fd);

	/* The server goes on serving others. */
	fd = client();
	send_str(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.version\"}\n");
	n = recv_lines(fd, r, 1, &eof);
	CHECK(n == 1);
	free_all(r, n);
	close(fd);
}

static void last_line_without_newline(void)
{
	int fd = client();
	send_str(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.version\"}");
	shutdown(fd, SHUT_WR);
	json_t *r[2];
	bool eof;
	int n = recv_lines(fd, r, 2, &eof);
	CHECK(n == 1);
	CHECK(eof);
	free_all(r, n);
	close(fd);
}

static void vanishing_client(void)
{
	/* Many requests, then gone without reading a byte: the server must shrug. */
	int fd = client();
	for (int i = 0; i < 2000; i++)
		send_str(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.list\"}\n");
	close(fd);
	for (int i = 0; i < 50; i++)
		pump();
	fd = client();
	send_str(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.version\"}\n");
	json_t *r[1];
	bool eof;
	int n = recv_lines(fd, r, 1, &eof);
	CHECK(n == 1);
	free_all(r, n);
	close(fd);
}

int main(void)
{
	log_init(LOG_LVL_ERROR, 0);
	signal(SIGPIPE, SIG_IGN); /* as vmd's main does */
	setup();
	RUN(pipelined_requests);
	RUN(split_writes);
	RUN(errors_keep_the_connection);
	RUN(invalid_utf8);
	RUN(line_limit);
	RUN(last_line_without_newline);
	RUN(vanishing_client);
	teardown();
	TEST_DONE();
}
