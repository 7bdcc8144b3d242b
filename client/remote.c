/*
 * remote.c: ssh as the carrier of vmctl's bytes (see remote.h); the URI and the command line
 * are common/ssh.c's, checked before anything runs.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "remote.h"
#include "ssh.h"
#include "util.h"

static int bad_uri(const char *uri, const char *why)
{
	util_warn("bad host URI \"%s\": %s (expected ssh://[user@]host[:port][/path/to/socket])",
		  uri, why);
	return -1;
}

int remote_parse(const char *uri, struct remote *r)
{
	const char *why;

	if (ssh_parse_uri(uri, &r->t, &why) < 0)
		return bad_uri(uri, why);
	return 0;
}

/* ssh's argv for the remote `vmctl [-s PATH] WORDS...`, from the environment (remote.h). */
static char **build_argv(const struct remote *r, bool tty, int nwords, char **words)
{
	const char *timeout = getenv("VMD_SSH_TIMEOUT");
	struct ssh_opts o = {
		.command = getenv("VMD_SSH_COMMAND"),
		.remote_vmctl = getenv("VMD_REMOTE_VMCTL"),
		.tty = tty,
	};
	const char *why;
	char **argv;

	if (timeout && *timeout) {
		char *e;
		unsigned long v = strtoul(timeout, &e, 10);

		if (*e || !isdigit((unsigned char)*timeout) || v == 0 || v > 3600) {
			util_warn("VMD_SSH_TIMEOUT must be a number of seconds (1-3600): %s",
				  timeout);
			return NULL;
		}
		o.timeout_s = (unsigned)v;
	}
	argv = ssh_argv(&r->t, &o, words, nwords, &why);
	if (!argv)
		util_warn("cannot run the remote vmctl: %s", why);
	return argv;
}

int remote_spawn(const struct remote *r, pid_t *pid)
{
	static char *proxy[] = { "proxy" };
	char **argv = build_argv(r, false, 1, proxy);
	int sv[2];

	if (!argv)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		util_warn("socketpair: %s", strerror(errno));
		ssh_argv_free(argv);
		return -1;
	}
	fflush(NULL);
	*pid = fork();
	if (*pid < 0) {
		util_warn("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		ssh_argv_free(argv);
		return -1;
	}
	if (*pid == 0) {
		/* ssh's stderr stays ours: its messages (and the remote vmctl's) reach the user. */
		if (dup2(sv[1], STDIN_FILENO) < 0 || dup2(sv[1], STDOUT_FILENO) < 0)
			_exit(127);
		/* Our fatal-signal handlers are not ssh's business. */
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "vmctl: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	ssh_argv_free(argv);
	close(sv[1]);
	return sv[0];
}

/* waitpid for at most ms milliseconds; the child's status, or -1 if it still runs. */
static int wait_for(pid_t pid, int ms)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	int status;

	for (int waited = 0;; waited += 10) {
		pid_t got = waitpid(pid, &status, WNOHANG);

		if (got == pid)
			return status;
		if (got < 0 && errno != EINTR)
			return 0;
		if (waited >= ms)
			return -1;
		nanosleep(&tick, NULL);
	}
}

void remote_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	if (wait_for(pid, 3000) < 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

static int remote_explain_status(const struct remote *r, int status)
{
	if (status < 0) {
		util_warn("the connection to vmd on %s ended", r->t.host);
	} else if (WIFSIGNALED(status)) {
		util_warn("ssh to %s was killed by signal %d", r->t.host, WTERMSIG(status));
	} else if (WEXITSTATUS(status) == 255) {
		util_warn("cannot reach %s over ssh (ssh's message above)", r->t.host);
	} else if (WEXITSTATUS(status) == 127) {
		util_warn("no vmctl on %s (is vmd installed there? VMD_REMOTE_VMCTL names it)",
			  r->t.host);
	} else if (WEXITSTATUS(status) == 0) {
		util_warn("vmd on %s closed the connection", r->t.host);
	} else {
		util_warn("cannot reach vmd on %s (the remote vmctl's message above)", r->t.host);
	}
	return VMCTL_EXIT_FAIL;
}

int remote_explain(const struct remote *r, pid_t pid)
{
	int status = wait_for(pid, 5000);

	if (status < 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	remote_explain_status(r, status);
	return -1;
}

int remote_run(const struct remote *r, int nwords, char **words)
{
	char **argv = build_argv(r, isatty(STDIN_FILENO), nwords, words);
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	pid_t pid;
	int status;

	if (!argv)
		return VMCTL_EXIT_FAIL;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		util_warn("fork: %s", strerror(errno));
		ssh_argv_free(argv);
		return VMCTL_EXIT_FAIL;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "vmctl: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	ssh_argv_free(argv);
	/* As system(3) does: ^C is the remote side's (ssh passes it on, or ends). */
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	if (WIFEXITED(status) && WEXITSTATUS(status) <= VMCTL_EXIT_DAEMON)
		return WEXITSTATUS(status); /* the remote vmctl's own status */
	if (WIFEXITED(status) && WEXITSTATUS(status) >= 128 && WEXITSTATUS(status) < 255)
		return WEXITSTATUS(status); /* the remote vmctl ended by a signal (130: ^C) */
	return remote_explain_status(r, status);
}
