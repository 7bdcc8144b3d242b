/*
 * remote.h: vmd on another host, reached with OpenSSH (`vmctl -H ssh://[user@]host[:port][/path]`,
 * or $VMD_HOST).
 *
 * The transport: ssh runs `vmctl [-s PATH] proxy` on the remote host, which joins its stdin and
 * stdout to the daemon's socket there (proxy.c); the JSON-RPC bytes are the same as over a
 * local socket, and the daemon sees the SSH user's peer credentials, so the remote host's access
 * rules apply to that user. A console cannot travel as JSON-RPC (the relay talks to the pty
 * directly), so `console` runs the remote vmctl's own console under `ssh -t` instead.
 *
 * Environment: VMD_SSH_COMMAND replaces "ssh" (run by /bin/sh with the arguments appended, as
 * GIT_SSH_COMMAND is), VMD_REMOTE_VMCTL names vmctl on the remote host (default "vmctl", found
 * in the remote PATH), VMD_SSH_TIMEOUT is ssh's ConnectTimeout in seconds (default 10).
 */
#ifndef VMCTL_REMOTE_H
#define VMCTL_REMOTE_H

#include <stdbool.h>
#include <sys/types.h>

#include "ssh.h"

#define VMD_HOST_ENV "VMD_HOST"

struct remote {
	struct ssh_target t; /* common/ssh.h */
};

/* Splits uri into r; -1 after saying what is wrong with it. */
int remote_parse(const char *uri, struct remote *r);

/*
 * Starts ssh running the remote proxy, with one end of a socket pair as its stdin and stdout.
 * Returns the other end, with *pid set; -1 after reporting the failure.
 */
int remote_spawn(const struct remote *r, pid_t *pid);

/*
 * After the stream from ssh ended without a reply: waits for ssh (a few seconds at most) and
 * reports what its exit status says went wrong (host unreachable, no vmctl there, ...).
 * Always returns -1 after the report.
 */
int remote_explain(const struct remote *r, pid_t pid);

/* Hangs up: ends ssh (it has a few seconds to go by itself) and reaps it. */
void remote_reap(pid_t pid);

/*
 * Runs ssh with `vmctl [-s PATH] WORDS...` on the remote host, with a terminal when ours is one
 * (the console), and waits for it. The remote vmctl's exit status (0, 1, 2, 128+signal), or 1
 * after saying why ssh failed.
 */
int remote_run(const struct remote *r, int nwords, char **words);

#endif
