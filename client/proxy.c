/*
 * proxy.c: `vmctl proxy`, the remote end of `vmctl -H ssh://...` (remote.h): joins stdin and
 * stdout to the daemon's socket, byte for byte, until both directions are done.
 *
 * The two directions end apart, as the protocol wants (proto/ 3.6): the end of stdin is a
 * half-close of the socket (replies still come), the daemon's hang-up ends stdout. When the
 * reader of stdout goes away (the SSH session died, the local vmctl was interrupted), the
 * socket is closed at once: to the daemon that is a vanished client, whose jobs it cancels,
 * exactly as when a local vmctl is interrupted.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy.h"
#include "util.h"

#define CHUNK 65536

/* Moves what one read gives from in to out: bytes moved, 0 at the end of in, -1 on error. */
static ssize_t pass(int in, int out, int out_flags)
{
	char buf[CHUNK];
	ssize_t n;

	do
		n = read(in, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n;
	return util_write_all(out, buf, (size_t)n, out_flags) < 0 ? -1 : n;
}

int proxy_run(const char *socket_path)
{
	bool in_open = true;
	int sock = util_connect_unix(socket_path);

	if (sock < 0)
		return VMCTL_EXIT_FAIL;
	for (;;) {
		/* stdout with no events: poll still reports POLLERR/POLLHUP when its reader is gone. */
		struct pollfd p[3] = {
			{ .fd = sock, .events = POLLIN },
			{ .fd = STDOUT_FILENO, .events = 0 },
			{ .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
		};

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			util_warn("poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL))
			break; /* nobody reads us: hang up on the daemon, which cancels our jobs */
		if (p[2].revents) {
			ssize_t n = pass(STDIN_FILENO, sock, MSG_NOSIGNAL);

			if (n < 0)
				break;
			if (n == 0) {
				in_open = false;
				shutdown(sock, SHUT_WR);
			}
		}
		if (p[0].revents) {
			ssize_t n = pass(sock, STDOUT_FILENO, 0);

			if (n <= 0) {
				close(sock);
				return n == 0 ? VMCTL_EXIT_OK : VMCTL_EXIT_FAIL;
			}
		}
	}
	close(sock);
	return VMCTL_EXIT_FAIL;
}
