/*
 * line-echo: the bound a line-per-request daemon can reach on this machine, for
 * tests/bench/rpc: a libevent server on a Unix socket that answers every line it reads with a
 * fixed reply (as long as vmd's answer to the same request), doing no other work. One loop,
 * one thread, bufferevents, as vmd's server.
 *
 *   line-echo SOCKET REPLY-BYTES
 *
 * Prints "ready" on stdout once it listens; runs until killed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static char *reply;
static size_t reply_len;

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	size_t len;
	char *line;
	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
		free(line);
		evbuffer_add(out, reply, reply_len);
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct bufferevent *bev =
		bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, read_cb, NULL, event_cb, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: line-echo SOCKET REPLY-BYTES\n");
		return 2;
	}
	reply_len = strtoul(argv[2], NULL, 10);
	if (reply_len < 1)
		reply_len = 1;
	reply = malloc(reply_len);
	memset(reply, 'x', reply_len);
	reply[reply_len - 1] = '\n';
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", argv[1]);
	unlink(argv[1]);
	struct event_base *base = event_base_new();
	struct evconnlistener *l = evconnlistener_new_bind(
		base, accept_cb, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128,
		(struct sockaddr *)&sun, sizeof sun);
	if (!l) {
		fprintf(stderr, "line-echo: cannot listen on %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	event_base_dispatch(base);
	return 0;
}
