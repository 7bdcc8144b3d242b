/*
 * cmd.h: the shape of one row of vmctl's command table, and of the words a row is given.
 * vmctl.c holds the rows; cmd.c finds the row a command line names, splits the words after
 * the verb by the row's flags, and writes the row's usage. params.c builds a request from
 * the words, print.c prints the result.
 */
#ifndef VMCTL_CMD_H
#define VMCTL_CMD_H

#include <stdbool.h>

#include <jansson.h>

#define CMD_MAX_FLAGS 16
#define CMD_MAX_REPEAT 16 /* values of one flag given more than once (--ssh-key A --ssh-key B) */
#define CMD_MAX_POS 3

struct cmd_flag {
	const char *name;    /* long option without the dashes */
	const char *metavar; /* NULL for a boolean flag */
};

struct args;

struct cmd {
	const char *verb;   /* one or two words: "start", "disk create" */
	const char *method; /* the JSON-RPC method; NULL: nothing to ask (help, proxy) */
	const char *usage;  /* positional arguments, if any; the flags are appended from flags[] */
	const char *help;   /* the line in the command list */
	int min_args, max_args;
	struct cmd_flag flags[CMD_MAX_FLAGS];
	/* Builds the params object; NULL after reporting a usage error. */
	json_t *(*parse)(const struct args *a);
	/* Prints the result in human form (with --json too when own_json). */
	int (*print)(const struct args *a, json_t *result);
	const char *done;    /* past tense, for print_vm_action */
	bool own_json;       /* print writes the --json form itself */
	bool attach_console; /* the result names a pty: hang up and relay the terminal to it */
	bool stream_events;  /* print vm.event notifications until the daemon hangs up */
	bool edit;           /* the result is a vm.config: edit it, then vm.update (edit.c) */
	bool top;            /* the result is a vm.stats_all: show it, ask again (top.c) */
	/* A verb that asks nothing and works on the socket itself (proxy): its exit status. */
	int (*local)(const char *socket_path);
};

/* The words after the verb, split by cmd_parse. */
struct args {
	const struct cmd *cmd;
	bool json; /* -j/--json among them */
	int npos;
	const char *pos[CMD_MAX_POS];
	bool set[CMD_MAX_FLAGS];
	const char *val[CMD_MAX_FLAGS]; /* the last value given */
	const char *vals[CMD_MAX_FLAGS][CMD_MAX_REPEAT]; /* all of them, in order */
	int nvals[CMD_MAX_FLAGS];
};

/* The row of table (ended by a row without verb) that argv starts with, and in *words how
 * many words name it ("disk create" takes two); NULL if none. */
const struct cmd *cmd_find(const struct cmd *table, int argc, char **argv, int *words);

/*
 * Splits the words after the verb into positionals and the verb's --flags. -j/--json is
 * accepted anywhere; "--" ends the flags; a lone "-" is a positional (stdin). 0, or -1
 * after a usage error.
 */
int cmd_parse(const struct cmd *c, int argc, char **argv, struct args *a);

/* Whether flag name was given; its value (NULL if not given or boolean). */
bool cmd_flag(const struct args *a, const char *name);
const char *cmd_value(const struct args *a, const char *name);
/* Every value of a flag that may be repeated, in the order given (*n of them). */
const char *const *cmd_values(const struct args *a, const char *name, int *n);
/* A whole number in [min, max] from flag name (which must be set); -1 after a usage
 * error. */
int cmd_uint(const struct args *a, const char *name, long min, long max, long *out);

/* "vmctl: MESSAGE", then the command's usage line, on stderr. */
void cmd_usage_error(const struct args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The verb with its arguments: full, every flag (a command's own usage); else at most a few
 * (the command list), more show as [OPTIONS]. */
void cmd_synopsis(const struct cmd *c, bool full, char *buf, size_t sz);

#endif
