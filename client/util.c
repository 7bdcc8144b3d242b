/*
 * util.c: the pieces of vmctl that sit below everything else (see util.h), kept apart so that
 * no file has to include the one that calls it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

void util_vwarn(const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("vmctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void util_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	util_vwarn(fmt, ap);
	va_end(ap);
}

int util_malformed(const char *what)
{
	util_warn("malformed reply from daemon: %s", what);
	return VMCTL_EXIT_FAIL;
}

int util_write_all(int fd, const void *buf, size_t n, int flags)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = flags ? send(fd, p, n, flags) : write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int util_connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		util_warn("cannot connect to %s: %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		util_warn("socket: %s", strerror(errno));
		return -1;
	}
	/* No EINTR to handle: our only signal handlers exit. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		util_warn("cannot connect to %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
