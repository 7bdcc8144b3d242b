/*
 * cmd.c: what every row of the command table has in common (see cmd.h): finding the row that
 * a command line names, splitting the words after the verb by the row's flags, typed flag
 * values, and the usage lines made from the row, so that usage and parsing cannot disagree.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

/* Commands with more flags show [OPTIONS] in the command list; `vmctl VERB --help`-style
 * usage errors list them all. */
#define SHOWN_FLAGS 4

/* How many words of argv name the verb ("disk create" takes two); 0 if they do not. */
static int verb_words(const char *verb, int argc, char **argv)
{
	const char *space = strchr(verb, ' ');
	size_t n = space ? (size_t)(space - verb) : strlen(verb);

	if (argc < 1 || strlen(argv[0]) != n || strncmp(verb, argv[0], n) != 0)
		return 0;
	if (!space)
		return 1;
	return argc >= 2 && strcmp(space + 1, argv[1]) == 0 ? 2 : 0;
}

const struct cmd *cmd_find(const struct cmd *table, int argc, char **argv, int *words)
{
	for (const struct cmd *c = table; c->verb; c++) {
		*words = verb_words(c->verb, argc, argv);
		if (*words)
			return c;
	}
	return NULL;
}

void cmd_synopsis(const struct cmd *c, bool full, char *buf, size_t sz)
{
	const char *pos = c->usage ? c->usage : "";
	size_t n = (size_t)snprintf(buf, sz, "%s%s%s", c->verb, *pos ? " " : "", pos);
	int nflags = 0;

	while (nflags < CMD_MAX_FLAGS && c->flags[nflags].name)
		nflags++;
	if (!full && nflags > SHOWN_FLAGS) {
		snprintf(buf + n, sz - n, " [OPTIONS]");
		return;
	}
	for (int i = 0; i < nflags && n < sz; i++) {
		n += (size_t)snprintf(buf + n, sz - n, " [--%s%s%s]", c->flags[i].name,
				      c->flags[i].metavar ? " " : "",
				      c->flags[i].metavar ? c->flags[i].metavar : "");
	}
}

void cmd_usage_error(const struct args *a, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	util_vwarn(fmt, ap);
	va_end(ap);
	cmd_synopsis(a->cmd, true, buf, sizeof(buf));
	fprintf(stderr, "usage: vmctl [-j] [-s PATH] %s\n", buf);
}

/* The index of flag name in c->flags (given as nlen bytes), or -1. */
static int find_flag(const struct cmd *c, const char *name, size_t nlen)
{
	for (int f = 0; f < CMD_MAX_FLAGS && c->flags[f].name; f++) {
		if (strlen(c->flags[f].name) == nlen && strncmp(c->flags[f].name, name, nlen) == 0)
			return f;
	}
	return -1;
}

int cmd_parse(const struct cmd *c, int argc, char **argv, struct args *a)
{
	bool only_pos = false;

	memset(a, 0, sizeof(*a));
	a->cmd = c;
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];

		if (!only_pos && strcmp(s, "--") == 0) {
			only_pos = true;
		} else if (!only_pos && (strcmp(s, "-j") == 0 || strcmp(s, "--json") == 0)) {
			a->json = true;
		} else if (!only_pos && s[0] == '-' && s[1] == '-') {
			const char *name = s + 2;
			const char *eq = strchr(name, '=');
			size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
			int f = find_flag(c, name, nlen);

			if (f < 0) {
				cmd_usage_error(a, "unknown option --%.*s", (int)nlen, name);
				return -1;
			}
			if (c->flags[f].metavar) {
				if (eq) {
					a->val[f] = eq + 1;
				} else if (i + 1 < argc) {
					a->val[f] = argv[++i];
				} else {
					cmd_usage_error(a, "option --%s needs a value",
							c->flags[f].name);
					return -1;
				}
			} else if (eq) {
				cmd_usage_error(a, "option --%s takes no value", c->flags[f].name);
				return -1;
			}
			if (c->flags[f].metavar) {
				if (a->nvals[f] == CMD_MAX_REPEAT) {
					cmd_usage_error(a, "option --%s given more than %d times",
							c->flags[f].name, CMD_MAX_REPEAT);
					return -1;
				}
				a->vals[f][a->nvals[f]++] = a->val[f];
			}
			a->set[f] = true;
		} else if (!only_pos && s[0] == '-' && s[1] != '\0') {
			cmd_usage_error(a, "unknown option %s", s);
			return -1;
		} else {
			if (a->npos == c->max_args) {
				cmd_usage_error(a, "too many arguments");
				return -1;
			}
			a->pos[a->npos++] = s;
		}
	}
	if (a->npos < c->min_args) {
		cmd_usage_error(a, "missing argument");
		return -1;
	}
	return 0;
}

bool cmd_flag(const struct args *a, const char *name)
{
	int f = find_flag(a->cmd, name, strlen(name));

	return f >= 0 && a->set[f];
}

const char *cmd_value(const struct args *a, const char *name)
{
	int f = find_flag(a->cmd, name, strlen(name));

	return f >= 0 ? a->val[f] : NULL;
}

const char *const *cmd_values(const struct args *a, const char *name, int *n)
{
	int f = find_flag(a->cmd, name, strlen(name));

	*n = f >= 0 ? a->nvals[f] : 0;
	return f >= 0 ? a->vals[f] : NULL;
}

int cmd_uint(const struct args *a, const char *name, long min, long max, long *out)
{
	const char *s = cmd_value(a, name);
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		cmd_usage_error(a, "--%s: need a whole number of seconds from %ld to %ld", name,
				min, max);
		return -1;
	}
	*out = v;
	return 0;
}
