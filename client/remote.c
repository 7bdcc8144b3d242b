/*
 * remote.c: the ssh:// URI, and ssh as the carrier of vmctl's bytes (see remote.h).
 *
 * The URI is checked before anything runs: every part of it ends up on ssh's command line or
 * in the remote shell's, so a host or user that could be read as an option ("-oProxyCommand=")
 * or a path that would need the shell is refused, not passed on. The remote command is built
 * from single-quoted words, so the remote shell sees exactly the words given.
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
#include "util.h"

#define MAX_ARGV 40
#define CMDLINE_MAX 8192

static int bad_uri(const char *uri, const char *why)
{
	util_warn("bad host URI \"%s\": %s (expected ssh://[user@]host[:port][/path/to/socket])",
		  uri, why);
	return -1;
}

/* Copies [s, s+n) to dst (size sz) if every byte passes ok and it fits; else -1. */
static int take(char *dst, size_t sz, const char *s, size_t n, int (*ok)(int c))
{
	if (n == 0 || n >= sz)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!ok((unsigned char)s[i]))
			return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

static int name_char(int c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

static int ipv6_char(int c)
{
	return isxdigit(c) || c == ':' || c == '.';
}

static int path_char(int c)
{
	/* Printable, no shell quoting needed beyond our single quotes, which it cannot hold. */
	return c > 0x20 && c < 0x7f && c != '\'' && c != '?' && c != '#';
}

int remote_parse(const char *uri, struct remote *r)
{
	const char *p, *at, *host, *end, *slash;
	size_t hlen;

	memset(r, 0, sizeof(*r));
	if (strncmp(uri, "ssh://", 6) != 0)
		return bad_uri(uri, "only ssh:// is supported");
	p = uri + 6;
	slash = strchr(p, '/');
	end = slash ? slash : p + strlen(p);
	at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		if (take(r->user, sizeof(r->user), p, (size_t)(at - p), name_char) < 0 ||
		    r->user[0] == '-')
			return bad_uri(uri, "bad user name");
		p = at + 1;
	}
	if (*p == '[') { /* [IPv6]:port */
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (!close || take(r->host, sizeof(r->host), p + 1, (size_t)(close - p - 1),
				   ipv6_char) < 0)
			return bad_uri(uri, "bad IPv6 address");
		host = close + 1;
		if (host != end && *host != ':')
			return bad_uri(uri, "bad IPv6 address");
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));

		hlen = (size_t)((colon ? colon : end) - p);
		if (hlen == 0)
			return bad_uri(uri, "no host");
		if (take(r->host, sizeof(r->host), p, hlen, name_char) < 0 || r->host[0] == '-')
			return bad_uri(uri, "bad host name");
		host = p + hlen;
	}
	if (host != end) { /* ":port" */
		char *e;
		long port;

		if (take(r->port, sizeof(r->port), host + 1, (size_t)(end - host - 1),
			 (int (*)(int))isdigit) < 0)
			return bad_uri(uri, "bad port");
		errno = 0;
		port = strtol(r->port, &e, 10);
		if (errno || *e || port < 1 || port > 65535)
			return bad_uri(uri, "bad port");
	}
	if (slash && slash[1] != '\0' &&
	    take(r->path, sizeof(r->path), slash, strlen(slash), path_char) < 0)
		return bad_uri(uri, "bad socket path (printable, no quote, ? or #, under 108 bytes)");
	return 0;
}

/* Appends ' word ' single-quoted to buf (the word holds no quote: checked by the caller). */
static int add_word(char *buf, size_t sz, const char *word)
{
	size_t len = strlen(buf);
	int n;

	if (strchr(word, '\'')) {
		util_warn("cannot pass an argument with a single quote to the remote vmctl: %s",
			  word);
		return -1;
	}
	n = snprintf(buf + len, sz - len, "%s'%s'", len ? " " : "", word);
	if (n < 0 || (size_t)n >= sz - len) {
		util_warn("remote command too long");
		return -1;
	}
	return 0;
}

/*
 * argv for execvp: ssh's options, the host, and the remote command, one string of quoted words
 * (vmctl [-s PATH] WORDS...). buf holds the strings argv points into.
 */
static int build_argv(const struct remote *r, bool tty, int nwords, char **words, char **argv,
		      char *buf, size_t sz, char *timeout_opt, size_t tsz)
{
	const char *ssh = getenv("VMD_SSH_COMMAND");
	const char *vmctl = getenv("VMD_REMOTE_VMCTL");
	const char *timeout = getenv("VMD_SSH_TIMEOUT");
	int n = 0;

	if (!vmctl || !*vmctl)
		vmctl = "vmctl";
	if (!timeout || !*timeout)
		timeout = "10";
	for (const char *c = timeout; *c; c++)
		if (!isdigit((unsigned char)*c)) {
			util_warn("VMD_SSH_TIMEOUT must be a number of seconds: %s", timeout);
			return -1;
		}
	buf[0] = '\0';
	if (add_word(buf, sz, vmctl) < 0)
		return -1;
	if (r->path[0] && (add_word(buf, sz, "-s") < 0 || add_word(buf, sz, r->path) < 0))
		return -1;
	for (int i = 0; i < nwords; i++)
		if (add_word(buf, sz, words[i]) < 0)
			return -1;
	snprintf(timeout_opt, tsz, "ConnectTimeout=%s", timeout);

	if (ssh && *ssh) {
		static char shell_cmd[CMDLINE_MAX];

		snprintf(shell_cmd, sizeof(shell_cmd), "%s \"$@\"", ssh);
		argv[n++] = "/bin/sh";
		argv[n++] = "-c";
		argv[n++] = shell_cmd;
		argv[n++] = "ssh"; /* $0 */
	} else {
		argv[n++] = "ssh";
	}
	argv[n++] = tty ? "-t" : "-T";
	argv[n++] = "-o";
	argv[n++] = timeout_opt;
	/* A host that stops answering ends the session in 30 s instead of never. */
	argv[n++] = "-o";
	argv[n++] = "ServerAliveInterval=10";
	argv[n++] = "-o";
	argv[n++] = "ServerAliveCountMax=3";
	if (r->port[0]) {
		argv[n++] = "-p";
		argv[n++] = (char *)r->port;
	}
	if (r->user[0]) {
		argv[n++] = "-l";
		argv[n++] = (char *)r->user;
	}
	argv[n++] = "--";
	argv[n++] = (char *)r->host;
	argv[n++] = buf;
	argv[n] = NULL;
	return 0;
}

int remote_spawn(const struct remote *r, pid_t *pid)
{
	static char *proxy[] = { "proxy" };
	char cmdline[CMDLINE_MAX], timeout_opt[64];
	char *argv[MAX_ARGV];
	int sv[2];

	if (build_argv(r, false, 1, proxy, argv, cmdline, sizeof(cmdline), timeout_opt,
		       sizeof(timeout_opt)) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		util_warn("socketpair: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	*pid = fork();
	if (*pid < 0) {
		util_warn("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
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
		util_warn("the connection to vmd on %s ended", r->host);
	} else if (WIFSIGNALED(status)) {
		util_warn("ssh to %s was killed by signal %d", r->host, WTERMSIG(status));
	} else if (WEXITSTATUS(status) == 255) {
		util_warn("cannot reach %s over ssh (ssh's message above)", r->host);
	} else if (WEXITSTATUS(status) == 127) {
		util_warn("no vmctl on %s (is vmd installed there? VMD_REMOTE_VMCTL names it)",
			  r->host);
	} else if (WEXITSTATUS(status) == 0) {
		util_warn("vmd on %s closed the connection", r->host);
	} else {
		util_warn("cannot reach vmd on %s (the remote vmctl's message above)", r->host);
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
	char cmdline[CMDLINE_MAX], timeout_opt[64];
	char *argv[MAX_ARGV];
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	pid_t pid;
	int status;

	if (build_argv(r, isatty(STDIN_FILENO), nwords, words, argv, cmdline, sizeof(cmdline),
		       timeout_opt, sizeof(timeout_opt)) < 0)
		return VMCTL_EXIT_FAIL;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		util_warn("fork: %s", strerror(errno));
		return VMCTL_EXIT_FAIL;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "vmctl: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
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
