/*
 * sdnotify.h: the two things vmd asks of systemd, both optional: the listening sockets of
 * socket activation (vmd.socket, vmd-ro.socket) and readiness notification (Type=notify).
 * Without systemd (or in a build without libsystemd) they do nothing and vmd binds its
 * sockets itself.
 */
#ifndef VMD_SDNOTIFY_H
#define VMD_SDNOTIFY_H

#include <stddef.h>

/* Takes the sockets systemd passed (LISTEN_FDS), and clears that environment so that
 * children (hotplug scripts, device models) do not see it. The socket named "vmd-ro"
 * (FileDescriptorName=) is the read-only one; the other is the main socket.
 * Returns the number of sockets taken (0: not socket-activated) with *rw_fd and *ro_fd set
 * (-1 when absent), or -1 with why filled when what was passed is unusable. */
int sdnotify_listen_fds(int *rw_fd, int *ro_fd, char *why, size_t whylen);
/* READY=1 with a status line, once the daemon serves requests. */
void sdnotify_ready(const char *status);
/* STOPPING=1, as the daemon begins to stop. */
void sdnotify_stopping(void);

#endif
