/*
 * vmctl.h: what vmctl.c (commands, transport, output) and console.c (the interactive console
 * relay) share. Nothing here is part of the protocol; that is include/vmd-proto.h.
 */
#ifndef VMCTL_H
#define VMCTL_H

/* Exit statuses, documented in the usage footer and at the top of vmctl.c. */
#define VMCTL_EXIT_OK 0
#define VMCTL_EXIT_FAIL 1   /* usage error or transport failure */
#define VMCTL_EXIT_DAEMON 2 /* the daemon answered with an error */

/* Prints "vmctl: MESSAGE\n" to stderr. */
void vmctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Relays between the terminal (stdin/stdout) and the guest console at pty path until the
 * escape character is typed (interactive stdin only), timeout seconds pass (timeout > 0) or
 * the console closes. escape is the daemon's spelling ("^]"), NULL for the default.
 * Returns an exit status.
 */
int console_attach(const char *name, const char *path, const char *escape, double timeout);

/* Undoes console_attach's terminal changes; async-signal-safe, for fatal signal handlers. */
void console_restore_on_signal(void);

#endif
