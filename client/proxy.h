/*
 * proxy.h: `vmctl proxy`, stdin and stdout joined to the daemon's socket: what ssh runs on the
 * remote host for `vmctl -H ssh://...` (remote.h).
 */
#ifndef VMCTL_PROXY_H
#define VMCTL_PROXY_H

/* Relays until the daemon hangs up; the exit status (0 after a clean end). */
int proxy_run(const char *socket_path);

#endif
