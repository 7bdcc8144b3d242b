/*
 * sdnotify.c: see sdnotify.h. Through libsystemd when the build has it (sd_notify,
 * sd_listen_fds_with_names): it is on every Debian system that runs systemd, and its
 * handling of $NOTIFY_SOCKET (abstract sockets, credentials) and $LISTEN_PID is the
 * reference, not something to re-implement.
 */
#include "sdnotify.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef VMD_HAVE_LIBSYSTEMD
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#define RO_NAME "vmd-ro"

int sdnotify_listen_fds(int *rw_fd, int *ro_fd, char *why, size_t whylen)
{
	char **names = NULL;
	*rw_fd = *ro_fd = -1;
	int n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		snprintf(why, whylen, "cannot read the sockets passed by systemd: %s",
			 strerror(-n));
		return -1;
	}
	int r = n;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "";
		bool ro = strcmp(name, RO_NAME) == 0;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			snprintf(why, whylen, "socket %d (%s) from systemd is not a listening Unix "
				 "stream socket", i, name);
			r = -1;
		} else if (*(ro ? ro_fd : rw_fd) >= 0) {
			snprintf(why, whylen, "systemd passed two %s sockets (FileDescriptorName=%s "
				 "names the read-only one)", ro ? "read-only" : "main", RO_NAME);
			r = -1;
		} else {
			*(ro ? ro_fd : rw_fd) = fd;
		}
	}
	if (r > 0 && *rw_fd < 0) {
		snprintf(why, whylen, "systemd passed no main socket (only %s)", RO_NAME);
		r = -1;
	}
	if (names)
		for (int i = 0; i < n; i++)
			free(names[i]);
	free(names);
	return r;
}

void sdnotify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void sdnotify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping (guests keep running)");
}

#else

int sdnotify_listen_fds(int *rw_fd, int *ro_fd, char *why, size_t whylen)
{
	*rw_fd = *ro_fd = -1;
	if (getenv("LISTEN_FDS")) {
		snprintf(why, whylen, "started with LISTEN_FDS, but this vmd was built without "
			 "libsystemd (no socket activation)");
		return -1;
	}
	return 0;
}

void sdnotify_ready(const char *status)
{
}

void sdnotify_stopping(void)
{
}

#endif
