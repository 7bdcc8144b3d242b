/*
 * rpc-load: the load generator of tests/bench/rpc: CONNS connections to a line-per-request
 * server on a Unix socket, each keeping DEPTH requests in flight (1: request-response, one
 * at a time; more: pipelined), for SECONDS; every line received is one answer. Single
 * thread, epoll; the request is sent as given (one line, the same for every request).
 *
 *   rpc-load SOCKET CONNS DEPTH SECONDS REQUEST-LINE
 *
 * Prints one JSON object: {"answers": N, "seconds": S, "rate": N/S, "p50_ms": .., "p99_ms": ..}
 * (latencies from the sending of a request to its answer; with DEPTH > 1 a request's time
 * includes its wait behind the ones before it).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	double *sent; /* ring of send times, DEPTH long */
	unsigned head, inflight;
	char *out; /* pending output */
	size_t out_len, out_off;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static const char *req;
static size_t req_len;
static unsigned depth;

/* Queues n requests on c. */
static void queue(struct conn *c, unsigned n, double t)
{
	size_t need = c->out_len - c->out_off + n * req_len;
	char *buf = malloc(need);
	memcpy(buf, c->out + c->out_off, c->out_len - c->out_off);
	size_t len = c->out_len - c->out_off;
	for (unsigned i = 0; i < n; i++) {
		memcpy(buf + len, req, req_len);
		len += req_len;
		c->sent[(c->head + c->inflight) % depth] = t;
		c->inflight++;
	}
	free(c->out);
	c->out = buf;
	c->out_len = len;
	c->out_off = 0;
}

static int flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (w < 0) {
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		c->out_off += (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: rpc-load SOCKET CONNS DEPTH SECONDS REQUEST-LINE\n");
		return 2;
	}
	int nconn = atoi(argv[2]);
	depth = (unsigned)atoi(argv[3]);
	double secs = atof(argv[4]);
	size_t rl = strlen(argv[5]);
	char *r = malloc(rl + 2);
	memcpy(r, argv[5], rl);
	r[rl] = '\n';
	req = r;
	req_len = rl + 1;
	if (nconn < 1 || depth < 1 || secs <= 0)
		return 2;
	int ep = epoll_create1(0);
	struct conn *conns = calloc((size_t)nconn, sizeof *conns);
	for (int i = 0; i < nconn; i++) {
		struct conn *c = &conns[i];
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s", argv[1]);
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (connect(c->fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
			fprintf(stderr, "rpc-load: connect %s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		c->sent = calloc(depth, sizeof(double));
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	}
	size_t lat_cap = 1 << 20, lat_n = 0;
	double *lat = malloc(lat_cap * sizeof *lat);
	uint64_t answers = 0, seen = 0;
	double t0 = now(), end = t0 + secs;
	for (int i = 0; i < nconn; i++) {
		queue(&conns[i], depth, t0);
		flush(&conns[i]);
	}
	char buf[1 << 16];
	struct epoll_event evs[64];
	double t = t0;
	while (t < end) {
		int n = epoll_wait(ep, evs, 64, 100);
		t = now();
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			if (evs[k].events & (EPOLLERR | EPOLLHUP)) {
				fprintf(stderr, "rpc-load: the server closed a connection\n");
				return 1;
			}
			unsigned got = 0;
			for (;;) {
				ssize_t rd = read(c->fd, buf, sizeof buf);
				if (rd < 0 && errno == EAGAIN)
					break;
				if (rd <= 0) {
					fprintf(stderr, "rpc-load: the server closed a connection\n");
					return 1;
				}
				for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + rd - p))); p++) {
					if (lat_n == lat_cap) {
						lat_cap *= 2;
						lat = realloc(lat, lat_cap * sizeof *lat);
					}
					lat[lat_n++] = t - c->sent[c->head];
					c->head = (c->head + 1) % depth;
					c->inflight--;
					got++;
				}
			}
			seen += got;
			if (t < end) {
				answers += got;
				if (got)
					queue(c, got, t);
			}
			if (flush(c) < 0) {
				fprintf(stderr, "rpc-load: write: %s\n", strerror(errno));
				return 1;
			}
		}
	}
	double took = t - t0;
	qsort(lat, lat_n, sizeof *lat, cmp_double);
	double p50 = lat_n ? lat[lat_n / 2] : 0, p99 = lat_n ? lat[lat_n * 99 / 100] : 0;
	printf("{\"answers\": %llu, \"seconds\": %.3f, \"rate\": %.0f, \"p50_ms\": %.3f, "
	       "\"p99_ms\": %.3f}\n",
	       (unsigned long long)answers, took, (double)answers / took, p50 * 1e3, p99 * 1e3);
	(void)seen;
	return 0;
}
