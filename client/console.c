/*
 * console.c: `vmctl console`, a relay between the local terminal and a guest's console pty.
 *
 * The daemon only tells us which pty it is (vm.console); the bytes flow directly between this
 * process and the pty slave, as with `xl console`. Both terminals go raw while we relay: ours
 * so that every key (^C included) reaches the guest, the pty's so that its line discipline
 * neither echoes the guest's output back at it nor holds input until a newline. Both are
 * restored on every way out, fatal signals included.
 *
 * When stdin is not a terminal (scripts, tests) there is no escape character: stdin is relayed
 * verbatim until its EOF, console output keeps flowing until the console closes or --timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
#include "util.h"

#define DEFAULT_ESCAPE 0x1d /* ^] */
#define BUF_SIZE 4096

/* Read by the signal handler, hence sig_atomic_t flags set after the saved state. */
static struct termios saved_stdin, saved_pty;
static volatile sig_atomic_t stdin_raw, pty_raw;
static volatile sig_atomic_t pty_fd = -1;

void console_restore_on_signal(void)
{
	if (stdin_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_stdin);
	if (pty_raw)
		tcsetattr(pty_fd, TCSANOW, &saved_pty);
}

static void restore(void)
{
	if (stdin_raw) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_stdin);
		stdin_raw = 0;
	}
	if (pty_raw) {
		/* Fails harmlessly if the guest is already gone. */
		tcsetattr(pty_fd, TCSANOW, &saved_pty);
		pty_raw = 0;
	}
}

static int make_raw(int fd, struct termios *saved, volatile sig_atomic_t *flag)
{
	struct termios t;

	if (tcgetattr(fd, saved) < 0)
		return -1;
	t = *saved;
	cfmakeraw(&t);
	/* Not TCSAFLUSH: that would discard console output already waiting for us. */
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		return -1;
	*flag = 1;
	return 0;
}

/* "^]" -> 0x1d, "^?" -> 0x7f, a single character as itself; the default if unparseable. */
static int parse_escape(const char *s)
{
	if (!s)
		return DEFAULT_ESCAPE;
	if (s[0] == '^' && s[1] && !s[2])
		return s[1] == '?' ? 0x7f : (s[1] & 0x1f);
	if (s[0] && !s[1])
		return (unsigned char)s[0];
	return DEFAULT_ESCAPE;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum end { END_NONE, END_DETACH, END_CLOSED, END_ERROR };

int console_attach(const char *name, const char *path, const char *escape, double timeout)
{
	bool interactive = isatty(STDIN_FILENO);
	int esc = parse_escape(escape);
	double deadline = timeout > 0 ? now() + timeout : 0;
	char in[BUF_SIZE], out[BUF_SIZE];
	size_t inlen = 0, inoff = 0;
	bool stdin_open = true;
	enum end end = END_NONE;
	int fd;

	/* Non-blocking: a guest that does not read its input must not stall output or timeout. */
	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		util_warn("cannot open console %s: %s", path, strerror(errno));
		return VMCTL_EXIT_FAIL;
	}
	pty_fd = fd;
	fprintf(stderr, "Connected to %s (pty %s). Escape character is %s\n", name, path,
		escape ? escape : "^]");
	/* Not a tty (a plain file or fifo standing in for one): nothing to set. */
	make_raw(fd, &saved_pty, &pty_raw);
	if (interactive && make_raw(STDIN_FILENO, &saved_stdin, &stdin_raw) < 0) {
		util_warn("cannot set the terminal to raw mode: %s", strerror(errno));
		restore();
		close(fd);
		return VMCTL_EXIT_FAIL;
	}

	while (end == END_NONE) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = inoff < inlen ? POLLOUT : POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		/* Read no more input while the last piece still waits for the guest. */
		nfds_t n = stdin_open && inoff == inlen ? 2 : 1;
		int ms = -1, r;

		if (inoff < inlen)
			p[0].events |= POLLIN;
		if (deadline > 0) {
			double left = deadline - now();

			if (left <= 0) {
				end = END_DETACH;
				break;
			}
			ms = (int)(left * 1000) + 1;
		}
		r = poll(p, n, ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			util_warn("poll: %s", strerror(errno));
			end = END_ERROR;
			break;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t got = read(fd, out, sizeof(out));

			if (got > 0) {
				if (util_write_all(STDOUT_FILENO, out, (size_t)got, 0) < 0) {
					int e = errno;

					restore();
					util_warn("cannot write output: %s", strerror(e));
					end = END_ERROR;
					break;
				}
			} else if (got == 0 || errno == EIO ||
				   (p[0].revents & (POLLHUP | POLLERR))) {
				/* The other side of the pty went away: the guest is gone. */
				end = END_CLOSED;
				break;
			} else if (errno != EAGAIN && errno != EINTR) {
				int e = errno;

				restore();
				util_warn("cannot read console: %s", strerror(e));
				end = END_ERROR;
				break;
			}
		}
		if ((p[0].revents & POLLOUT) && inoff < inlen) {
			ssize_t w = write(fd, in + inoff, inlen - inoff);

			if (w > 0)
				inoff += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				end = END_CLOSED;
			if (inoff == inlen)
				inoff = inlen = 0;
		}
		if (n > 1 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t got = read(STDIN_FILENO, in, sizeof(in));

			if (got > 0) {
				char *e = interactive ? memchr(in, esc, (size_t)got) : NULL;

				inoff = 0;
				inlen = e ? (size_t)(e - in) : (size_t)got;
				if (e) {
					/* Pass on what was typed before the escape, then leave. */
					if (inlen > 0) {
						/* Best effort: we are leaving anyway. */
						ssize_t w = write(fd, in, inlen);

						(void)w;
					}
					end = END_DETACH;
				}
			} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				/* Input ended: a hung-up terminal detaches, a pipe just stops. */
				stdin_open = false;
				if (interactive)
					end = END_DETACH;
			}
		}
	}

	restore();
	close(fd);
	pty_fd = -1;
	switch (end) {
	case END_CLOSED:
		util_warn("console closed");
		return VMCTL_EXIT_OK;
	case END_ERROR:
		return VMCTL_EXIT_FAIL;
	default:
		/* The guest's cursor may be mid-line; give the shell prompt its own line. */
		if (interactive)
			fputc('\n', stderr);
		return VMCTL_EXIT_OK;
	}
}
