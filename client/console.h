/*
 * console.h: `vmctl console`'s relay between the terminal and a guest's console pty (see
 * console.c). It needs nothing of the connection to vmd: the caller asks vm.console for the
 * pty and hangs up first.
 */
#ifndef VMCTL_CONSOLE_H
#define VMCTL_CONSOLE_H

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
