/*
 * ssh.h: ssh:// host URIs and the ssh command lines that reach a remote vmd, shared by vmctl
 * (-H, client/remote.c) and vmd (vm.migrate, daemon/migrate.c). Plain C, no dependencies:
 * messages are returned, not printed.
 *
 * Every part of a URI ends up on ssh's command line or in the remote shell's, so a host or
 * user that could be read as an option ("-oProxyCommand=...") or a socket path that would
 * need the shell is refused, not passed on. The remote command is built from single-quoted
 * words, so the remote shell sees exactly the words given.
 */
#ifndef VMD_COMMON_SSH_H
#define VMD_COMMON_SSH_H

#include <stdbool.h>

struct ssh_target {
	char user[64];  /* empty: ssh's default */
	char host[256];
	char port[8];   /* empty: ssh's default */
	char path[108]; /* the socket on the remote host; empty: the remote vmctl's default */
};

/* ssh://[user@]host[:port][/path]: 0, or -1 with *why saying what is wrong (static text). */
int ssh_parse_uri(const char *uri, struct ssh_target *t, const char **why);

/* The URI of t again (without the path when path is false), for messages and records. */
void ssh_format_uri(const struct ssh_target *t, bool path, char *buf, unsigned long sz);

struct ssh_opts {
	const char *command;      /* NULL or "": "ssh"; else run by /bin/sh -c with the
				   * arguments appended, as GIT_SSH_COMMAND is */
	const char *remote_vmctl; /* NULL or "": "vmctl" */
	unsigned timeout_s;       /* ConnectTimeout; 0: 10 */
	bool tty;                 /* -t (a terminal for the remote command) instead of -T */
	bool batch;               /* BatchMode=yes: never ask for a password or a host key */
};

/*
 * argv for execvp: ssh with its options, -p/-l from t, "--", the host, and the remote
 * command `vmctl [-s PATH] WORDS...` as one string of quoted words. NULL with *why when a
 * word cannot be quoted or the line is too long. Free with ssh_argv_free.
 */
char **ssh_argv(const struct ssh_target *t, const struct ssh_opts *o, char *const *words,
		int nwords, const char **why);
void ssh_argv_free(char **argv);

#endif
