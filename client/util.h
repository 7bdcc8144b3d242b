/*
 * util.h: the bottom of vmctl, what every other file may use: the exit statuses, the one way
 * to complain on stderr, and a write that does not stop short. It depends on nothing else of
 * vmctl, so that console.c and the request path can share it without knowing each other.
 */
#ifndef VMCTL_UTIL_H
#define VMCTL_UTIL_H

#include <stdarg.h>
#include <stddef.h>

/* Exit statuses, documented in the usage footer and at the top of vmctl.c. */
#define VMCTL_EXIT_OK 0
#define VMCTL_EXIT_FAIL 1   /* usage error or transport failure */
#define VMCTL_EXIT_DAEMON 2 /* the daemon answered with an error */

/* Prints "vmctl: MESSAGE\n" to stderr, after flushing stdout so the two keep their order. */
void util_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void util_vwarn(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Reports a reply that breaks the protocol; returns VMCTL_EXIT_FAIL so that callers can
 * return it directly. */
int util_malformed(const char *what);

/*
 * Writes all n bytes of buf to fd, through short writes and EINTR. flags 0 writes with
 * write(2), for any fd; other flags go to send(2), for a socket (MSG_NOSIGNAL: a peer that
 * went away is EPIPE to report, not a SIGPIPE that kills us). 0, or -1 with errno.
 */
int util_write_all(int fd, const void *buf, size_t n, int flags);

/* A connected stream socket to the Unix socket at path; -1 after reporting why not. */
int util_connect_unix(const char *path);

#endif
