/*
 * ssh.c: ssh:// URIs and ssh command lines (see ssh.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssh.h"

#define MAX_ARGV 32
#define CMDLINE_MAX 8192

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

static int digit_char(int c)
{
	return isdigit(c);
}

static int path_char(int c)
{
	/* Printable, nothing our single quotes cannot hold, no URI query or fragment. */
	return c > 0x20 && c < 0x7f && c != '\'' && c != '?' && c != '#';
}

static int fail(const char **why, const char *msg)
{
	*why = msg;
	return -1;
}

int ssh_parse_uri(const char *uri, struct ssh_target *t, const char **why)
{
	const char *p, *at, *end, *slash, *after;

	memset(t, 0, sizeof(*t));
	if (strncmp(uri, "ssh://", 6) != 0)
		return fail(why, "only ssh:// is supported");
	p = uri + 6;
	slash = strchr(p, '/');
	end = slash ? slash : p + strlen(p);
	at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		if (take(t->user, sizeof(t->user), p, (size_t)(at - p), name_char) < 0 ||
		    t->user[0] == '-')
			return fail(why, "bad user name");
		p = at + 1;
	}
	if (*p == '[') { /* [IPv6]:port */
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (!close || take(t->host, sizeof(t->host), p + 1, (size_t)(close - p - 1),
				   ipv6_char) < 0)
			return fail(why, "bad IPv6 address");
		after = close + 1;
		if (after != end && *after != ':')
			return fail(why, "bad IPv6 address");
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		size_t hlen = (size_t)((colon ? colon : end) - p);

		if (hlen == 0)
			return fail(why, "no host");
		if (take(t->host, sizeof(t->host), p, hlen, name_char) < 0 || t->host[0] == '-')
			return fail(why, "bad host name");
		after = p + hlen;
	}
	if (after != end) { /* ":port" */
		char *e;
		long port;

		if (take(t->port, sizeof(t->port), after + 1, (size_t)(end - after - 1),
			 digit_char) < 0)
			return fail(why, "bad port");
		errno = 0;
		port = strtol(t->port, &e, 10);
		if (errno || *e || port < 1 || port > 65535)
			return fail(why, "bad port");
	}
	if (slash && slash[1] != '\0' &&
	    take(t->path, sizeof(t->path), slash, strlen(slash), path_char) < 0)
		return fail(why, "bad socket path (printable, no quote, ? or #, under 108 bytes)");
	return 0;
}

void ssh_format_uri(const struct ssh_target *t, bool path, char *buf, unsigned long sz)
{
	bool v6 = strchr(t->host, ':') != NULL;

	snprintf(buf, sz, "ssh://%s%s%s%s%s%s%s%s", t->user, t->user[0] ? "@" : "",
		 v6 ? "[" : "", t->host, v6 ? "]" : "", t->port[0] ? ":" : "", t->port,
		 path ? t->path : "");
}

/* Appends ' word ' single-quoted to buf. */
static int add_word(char *buf, size_t sz, const char *word, const char **why)
{
	size_t len = strlen(buf);
	int n;

	if (strchr(word, '\''))
		return fail(why, "an argument holds a single quote");
	n = snprintf(buf + len, sz - len, "%s'%s'", len ? " " : "", word);
	if (n < 0 || (size_t)n >= sz - len)
		return fail(why, "remote command too long");
	return 0;
}

void ssh_argv_free(char **argv)
{
	if (!argv)
		return;
	for (int i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static int push(char **argv, int *n, const char *s)
{
	if (*n >= MAX_ARGV - 1 || !(argv[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

char **ssh_argv(const struct ssh_target *t, const struct ssh_opts *o, char *const *words,
		int nwords, const char **why)
{
	char *cmdline = malloc(CMDLINE_MAX);
	char **argv = calloc(MAX_ARGV, sizeof(*argv));
	const char *vmctl = o->remote_vmctl && *o->remote_vmctl ? o->remote_vmctl : "vmctl";
	char opt[64];
	int n = 0, bad = 0;

	if (!cmdline || !argv) {
		free(cmdline);
		free(argv);
		*why = "out of memory";
		return NULL;
	}
	cmdline[0] = '\0';
	if (add_word(cmdline, CMDLINE_MAX, vmctl, why) < 0 ||
	    (t->path[0] && (add_word(cmdline, CMDLINE_MAX, "-s", why) < 0 ||
			    add_word(cmdline, CMDLINE_MAX, t->path, why) < 0)))
		goto fail;
	for (int i = 0; i < nwords; i++)
		if (add_word(cmdline, CMDLINE_MAX, words[i], why) < 0)
			goto fail;

	if (o->command && *o->command) {
		char *shell = malloc(strlen(o->command) + 8);

		if (!shell)
			goto oom;
		sprintf(shell, "%s \"$@\"", o->command);
		bad |= push(argv, &n, "/bin/sh") | push(argv, &n, "-c") | push(argv, &n, shell);
		free(shell);
		bad |= push(argv, &n, "ssh"); /* $0 */
	} else {
		bad |= push(argv, &n, "ssh");
	}
	bad |= push(argv, &n, o->tty ? "-t" : "-T");
	snprintf(opt, sizeof(opt), "ConnectTimeout=%u", o->timeout_s ? o->timeout_s : 10);
	bad |= push(argv, &n, "-o") | push(argv, &n, opt);
	/* A host that stops answering ends the session in 30 s instead of never. */
	bad |= push(argv, &n, "-o") | push(argv, &n, "ServerAliveInterval=10");
	bad |= push(argv, &n, "-o") | push(argv, &n, "ServerAliveCountMax=3");
	if (o->batch)
		bad |= push(argv, &n, "-o") | push(argv, &n, "BatchMode=yes");
	if (t->port[0])
		bad |= push(argv, &n, "-p") | push(argv, &n, t->port);
	if (t->user[0])
		bad |= push(argv, &n, "-l") | push(argv, &n, t->user);
	bad |= push(argv, &n, "--") | push(argv, &n, t->host) | push(argv, &n, cmdline);
	if (bad)
		goto oom;
	free(cmdline);
	return argv;
oom:
	*why = "out of memory";
fail:
	free(cmdline);
	ssh_argv_free(argv);
	return NULL;
}
