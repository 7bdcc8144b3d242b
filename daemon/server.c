/*
 * server.c: see server.h.
 *
 * Framing: one request per '\n'-terminated line. The size limit is enforced on the buffered
 * bytes before any parsing, so a hostile client can make us hold at most VMD_MAX_LINE plus
 * one read's worth of input. A line over the limit cannot be skipped safely (its end may be
 * far away), so the client gets an error and is disconnected.
 *
 * Connection lifetime: a client that half-closes (sends its requests, then shuts down its
 * write side, as `nc -N` does) still gets the replies of its open requests; the connection is
 * closed when they are done. A client that really vanishes is noticed on the next write
 * (EPIPE; SIGPIPE is ignored in main) or by the EOF with nothing open. Freeing is deferred
 * to a fresh loop iteration so that no callback frees a connection under its own feet.
 *
 * Access: a server has up to two listening sockets, the main one (mode 0660, group vmd) and
 * a read-only one (0666). Rights are fixed at accept from the peer's kernel credentials
 * (access.c); on the read-only socket nobody may write, whoever they are.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "access.h"
#include "conf.h"
#include "daemon.h"
#include "hmap.h"
#include "log.h"
#include "util.h"
#include "vmd-proto.h"

struct listener {
	struct server *srv;
	struct evconnlistener *evl;
	/* accept failing for lack of descriptors or memory: the listener pauses, a timer
	 * resumes it (100 ms, doubling to 2 s), one log line per episode */
	struct event *resume;
	int pause_ms;
	double paused_at;
	unsigned refused;
	char *path;      /* unlinked at exit when we created it */
	bool own_path;
	bool read_only;  /* every connection may only read */
};

#define MAX_LISTENERS 2

/* What one uid holds: its open connections and the replies queued on them, kept as they
 * change (the output buffers' callbacks), so that no limit check walks the connections. */
struct uid_acct {
	uid_t uid;
	unsigned conns;
	size_t queued;
};

struct server {
	struct daemon *d;
	const struct server_hooks *hooks;
	struct listener ls[MAX_LISTENERS];
	size_t n_ls;
	unsigned next_id;
	TAILQ_HEAD(, conn) conns;
	unsigned n_conns;
	struct hmap uids;  /* uid -> struct uid_acct */
	size_t queued_all; /* output queued on all connections */
};

static void conn_free(struct conn *c);

struct daemon *server_daemon(struct server *srv)
{
	return srv->d;
}

static void deferred_free_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_free(arg);
}

static void out_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	size_t add = info->n_added, del = info->n_deleted;
	c->acct->queued += add - del;
	c->srv->queued_all += add - del;
}

static struct uid_acct *acct_get(struct server *srv, uid_t uid)
{
	struct uid_acct *a = hmap_get(&srv->uids, &uid, sizeof uid);
	if (!a) {
		a = xcalloc(1, sizeof *a);
		a->uid = uid;
		hmap_put(&srv->uids, &a->uid, sizeof a->uid, a);
	}
	return a;
}

/* What freeing a connection's queued output leaves the heap holding is given back to the
 * system when it was this much (a subscriber that did not read, say). */
#define TRIM_AFTER (1024 * 1024)

/* The connection's bufferevent goes (the caller frees it, then calls trim_after): what it
 * held leaves its uid's account. Returns the bytes that were still queued. */
static size_t conn_release(struct conn *c)
{
	struct uid_acct *a = c->acct;
	if (!a)
		return 0;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_remove_cb_entry(out, c->out_cb);
	size_t left = evbuffer_get_length(out);
	a->queued -= left;
	c->srv->queued_all -= left;
	a->conns--;
	c->acct = NULL;
	if (a->conns == 0) {
		hmap_del(&c->srv->uids, &a->uid, sizeof a->uid);
		free(a);
	}
	return left;
}

static void trim_after(size_t freed)
{
	if (freed >= TRIM_AFTER)
		malloc_trim(0);
}

/* Marks the connection dead and frees it from a fresh loop iteration. Idempotent. */
static void conn_drop(struct conn *c, const char *why)
{
	if (!c->bev)
		return;
	log_debug("client %u: closing (%s)", c->id, why);
	size_t left = conn_release(c);
	bufferevent_free(c->bev);
	trim_after(left);
	c->bev = NULL;
	c->closing = true;
	event_base_once(c->srv->d->base, -1, EV_TIMEOUT, deferred_free_cb, c, NULL);
}

static void conn_free(struct conn *c)
{
	c->srv->hooks->closed(c->srv->hooks->arg, c);
	if (c->bev) {
		size_t left = conn_release(c);
		bufferevent_free(c->bev);
		trim_after(left);
	}
	TAILQ_REMOVE(&c->srv->conns, c, link);
	c->srv->n_conns--;
	free(c->line);
	free(c);
}

static void maybe_finish_closing(struct conn *c)
{
	if (!c->bev || !c->closing)
		return;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 && LIST_EMPTY(&c->reqs))
		conn_drop(c, "done");
}

void conn_request_done(struct conn *c)
{
	maybe_finish_closing(c);
}

static bool bounded(uid_t uid)
{
	return uid != 0 && uid != geteuid();
}

void conn_send_text(struct conn *c, const struct iovec *parts, int n)
{
	if (!c->bev)
		return;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t add = 1;
	for (int i = 0; i < n; i++)
		add += parts[i].iov_len;
	const char *full = NULL;
	if (evbuffer_get_length(out) + add > VMD_MAX_OUTQ)
		full = "its";
	else if (bounded(c->uid) && c->acct->queued + add > VMD_MAX_OUTQ_PER_UID)
		full = "its uid's";
	else if (c->srv->queued_all + add > VMD_MAX_OUTQ_ALL)
		full = "all clients'";
	if (full) {
		log_warn("client %u (uid %d): not reading its replies (%s output queue is full); "
			 "dropping it", c->id, (int)c->uid, full);
		conn_drop(c, "output queue full");
		return;
	}
	char small[4096]; /* a usual reply goes in with one evbuffer_add */
	if (add <= sizeof small) {
		size_t off = 0;
		for (int i = 0; i < n; i++) {
			memcpy(small + off, parts[i].iov_base, parts[i].iov_len);
			off += parts[i].iov_len;
		}
		small[off++] = '\n';
		evbuffer_add(out, small, off);
		return;
	}
	for (int i = 0; i < n; i++)
		evbuffer_add(out, parts[i].iov_base, parts[i].iov_len);
	evbuffer_add(out, "\n", 1);
}

void conn_send(struct conn *c, json_t *msg)
{
	if (!c->bev) {
		json_decref(msg);
		return;
	}
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text) {
		log_error("client %u: cannot encode a reply", c->id);
		return;
	}
	struct iovec part = {text, strlen(text)};
	conn_send_text(c, &part, 1);
	free(text);
}

void conn_send_and_close(struct conn *c, json_t *msg)
{
	conn_send(c, msg);
	if (!c->bev)
		return;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	maybe_finish_closing(c);
}

int conn_take_socket(struct conn *c)
{
	if (!c->bev || c->closing) {
		log_debug("client %u: cannot take its socket: %s", c->id,
			  c->bev ? "closing" : "gone");
		errno = ENOTCONN;
		return -1;
	}
	struct bufferevent *bev = c->bev;
	struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
	int fd = bufferevent_getfd(bev);
	if (evbuffer_get_length(in) > 0) {
		/* The client did not wait for the reply: what follows is not ours to read. */
		errno = EPROTO;
		return -1;
	}
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	/* What is queued (the reply) goes first, at once: a few hundred bytes at most. The
	 * bufferevent keeps its output's front frozen for itself; it does no more writing. */
	evbuffer_unfreeze(out, 1);
	while (evbuffer_get_length(out) > 0) {
		errno = 0;
		if (evbuffer_write(out, fd) >= 0)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			if (!errno)
				errno = EIO;
			return -1;
		}
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, 5000) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	/* The fd leaves the bufferevent still open, so that the loop's pending changes for it
	 * (a closed fd that another one shares would keep its epoll registration) stay right. */
	bufferevent_setfd(bev, -1);
	/* A blocking socket, as libxl's stream helpers want it. */
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	conn_drop(c, "its socket now carries a stream");
	return fd;
}

void server_broadcast(struct server *srv, const char *method, json_t *params)
{
	/* conn_send may drop a client (deferred), so the list stays intact while we walk it. */
	struct conn *c;
	TAILQ_FOREACH(c, &srv->conns, link) {
		if (!c->subscribed || !c->bev)
			continue;
		conn_send(c, json_pack("{s:s, s:s, s:O}", "jsonrpc", "2.0", "method", method,
				       "params", params));
	}
}

static void handle_line(struct conn *c, char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len == 0)
		return;
	c->srv->hooks->line(c->srv->hooks->arg, c, line, len);
}

static void refuse_long_line(struct conn *c)
{
	c->srv->hooks->overlong(c->srv->hooks->arg, c);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (c->bev && !c->closing) {
		/* Replies pile up faster than the client reads them: wait for it (write_cb). */
		if (evbuffer_get_length(bufferevent_get_output(bev)) > VMD_OUTQ_PAUSE) {
			if (!c->paused)
				log_debug("client %u: reading paused until it reads its replies", c->id);
			c->paused = true;
			bufferevent_disable(bev, EV_READ);
			return;
		}
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > VMD_MAX_LINE)
				refuse_long_line(c);
			return;
		}
		size_t len = (size_t)eol.pos;
		if (len > VMD_MAX_LINE) {
			refuse_long_line(c);
			return;
		}
		if (len + 1 > c->line_cap) { /* one buffer per connection, reused */
			c->line_cap = len + 1 > 256 ? len + 1 : 256;
			free(c->line);
			c->line = xmalloc(c->line_cap);
		}
		char *line = c->line;
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, 1);
		line[len] = '\0';
		handle_line(c, line, len);
		if (c->line_cap > 64 * 1024) { /* a long line's buffer is not kept */
			free(c->line);
			c->line = NULL;
			c->line_cap = 0;
		}
	}
}

/* The output fell to its low watermark (a quarter of VMD_OUTQ_PAUSE), or is empty. */
static void write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->paused && !c->closing) {
		c->paused = false;
		bufferevent_enable(bev, EV_READ);
		read_cb(bev, c); /* the lines already buffered */
		if (!c->bev)
			return;
	}
	maybe_finish_closing(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & BEV_EVENT_ERROR) {
		conn_drop(c, strerror(EVUTIL_SOCKET_ERROR()));
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* A last request without its newline still counts. */
		struct evbuffer *in = bufferevent_get_input(bev);
		size_t len = evbuffer_get_length(in);
		if (len > 0 && len <= VMD_MAX_LINE && !c->closing) {
			char *line = xmalloc(len + 1);
			evbuffer_remove(in, line, len);
			line[len] = '\0';
			handle_line(c, line, len);
			free(line);
		}
		if (!c->bev)
			return;
		c->closing = true;
		bufferevent_disable(c->bev, EV_READ);
		maybe_finish_closing(c);
	}
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct listener *lst = arg;
	struct server *srv = lst->srv;
	struct peer peer;
	if (lst->pause_ms) {
		log_info("accepting on %s again after %.1f s", lst->path,
			 now_monotonic() - lst->paused_at);
		lst->pause_ms = 0;
		lst->refused = 0;
	}
	if (access_peer_read(fd, &peer) < 0) {
		log_warn("accept: cannot read peer credentials: %s", strerror(errno));
		close(fd);
		return;
	}
	const struct vmd_conf *conf = conf_active();
	struct conn *c = xcalloc(1, sizeof *c);
	c->srv = srv;
	c->id = ++srv->next_id;
	c->pid = peer.pid;
	c->uid = peer.uid;
	c->gid = peer.gid;
	c->can_write = !lst->read_only &&
		       access_can_write(&peer, geteuid(), conf->group_found, conf->group_gid);
	access_peer_finish(&peer);
	LIST_INIT(&c->reqs);
	c->bev = bufferevent_socket_new(srv->d->base, fd,
					BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	srv->n_conns++;
	c->acct = acct_get(srv, c->uid);
	c->acct->conns++;
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev), out_changed, c);
	if (bounded(c->uid)) {
		if (c->acct->conns > VMD_MAX_CONNS_PER_UID) {
			log_warn("client %u: uid %d has %d connections already; refused", c->id,
				 (int)c->uid, VMD_MAX_CONNS_PER_UID);
			bufferevent_setcb(c->bev, NULL, write_cb, event_cb, c);
			bufferevent_enable(c->bev, EV_WRITE);
			conn_send_and_close(c, json_pack("{s:s, s:n, s:{s:i, s:s, s:{s:i}}}",
							 "jsonrpc", "2.0", "id", "error", "code",
							 VMD_ERR_NO_RESOURCES, "message",
							 "too many connections from this user",
							 "data", "limit", VMD_MAX_CONNS_PER_UID));
			return;
		}
	}
	/* Stop reading once a line's worth is buffered; read_cb then refuses or consumes it. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, VMD_MAX_LINE + 2);
	bufferevent_setwatermark(c->bev, EV_WRITE, VMD_OUTQ_PAUSE / 4, 0);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_debug("client %u: connected (pid %d uid %d, %s)", c->id, (int)c->pid, (int)c->uid,
		  c->can_write ? "read-write" : "read-only");
}

static unsigned server_connections(const struct server *srv)
{
	return srv->n_conns;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *lst = arg;
	evconnlistener_enable(lst->evl);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct listener *lst = arg;
	int e = EVUTIL_SOCKET_ERROR();
	if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM) {
		log_warn("accept on %s: %s", lst->path, strerror(e));
		return;
	}
	/* The pending connection stays in the backlog; retrying at once would only spin. */
	if (lst->pause_ms == 0) {
		log_warn("accept on %s: %s: new connections wait until some close (%u open)",
			 lst->path, strerror(e), server_connections(lst->srv));
		lst->paused_at = now_monotonic();
		lst->pause_ms = 100;
	} else if (lst->pause_ms < 2000) {
		lst->pause_ms *= 2;
	}
	lst->refused++;
	evconnlistener_disable(l);
	struct timeval tv = {lst->pause_ms / 1000, (lst->pause_ms % 1000) * 1000};
	evtimer_add(lst->resume, &tv);
}

/* Binds path with the given mode, refusing to take the socket of a live daemon. */
static int bind_path(const char *path, mode_t mode)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sun.sun_path) {
		log_error("socket path too long: %s", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir_p(dir, 0755) < 0) {
			log_error("cannot create %s: %s", dir, strerror(errno));
			free(dir);
			return -1;
		}
	}
	free(dir);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		log_error("another vmd is already listening on %s", path);
		close(fd);
		errno = EADDRINUSE;
		return -1;
	}
	unlink(path); /* stale socket of a daemon that died */
	mode_t old = umask(~mode & 0777);
	int r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (r < 0 || listen(fd, SOMAXCONN) < 0) {
		int e = errno;
		log_error("cannot listen on %s: %s", path, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int server_listen(struct server *srv, const char *path, int fd, bool read_only)
{
	if (srv->n_ls == MAX_LISTENERS) {
		errno = ENOSPC;
		return -1;
	}
	bool own = fd < 0;
	if (own) {
		fd = bind_path(path, read_only ? 0666 : 0660);
		if (fd < 0)
			return -1;
		/* As vmd.socket's SocketGroup=: members of the group may connect. */
		const struct vmd_conf *conf = conf_active();
		if (!read_only && conf->group_found && chown(path, (uid_t)-1, conf->group_gid) < 0)
			log_warn("cannot give %s to group %s: %s", path, conf->group,
				 strerror(errno));
	}
	evutil_make_socket_nonblocking(fd);
	struct listener *lst = &srv->ls[srv->n_ls];
	lst->evl = evconnlistener_new(srv->d->base, accept_cb, lst,
				      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!lst->evl) {
		int e = errno;
		close(fd);
		if (own)
			unlink(path);
		errno = e;
		return -1;
	}
	lst->srv = srv;
	lst->resume = evtimer_new(srv->d->base, resume_cb, lst);
	lst->pause_ms = 0;
	lst->path = xstrdup(path);
	lst->own_path = own;
	lst->read_only = read_only;
	srv->n_ls++;
	evconnlistener_set_error_cb(lst->evl, accept_error_cb);
	return 0;
}

struct server *server_new(struct daemon *d, const char *path, int fd,
			  const struct server_hooks *hooks)
{
	struct server *srv = xcalloc(1, sizeof *srv);
	srv->d = d;
	srv->hooks = hooks;
	TAILQ_INIT(&srv->conns);
	hmap_init(&srv->uids);
	if (server_listen(srv, path, fd, false) < 0) {
		free(srv);
		return NULL;
	}
	return srv;
}

void server_free(struct server *srv)
{
	if (!srv)
		return;
	for (size_t i = 0; i < srv->n_ls; i++) {
		evconnlistener_free(srv->ls[i].evl);
		if (srv->ls[i].resume)
			event_free(srv->ls[i].resume);
	}
	struct conn *c;
	while ((c = TAILQ_FIRST(&srv->conns)))
		conn_free(c);
	for (size_t i = 0; i < srv->n_ls; i++) {
		if (srv->ls[i].own_path)
			unlink(srv->ls[i].path);
		free(srv->ls[i].path);
	}
	hmap_finish(&srv->uids); /* empty: every connection released its account */
	free(srv);
}
