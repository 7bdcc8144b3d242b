/*
 * output.h: how vmctl shows things, apart from what it shows: --json lines, the progress bar,
 * daemon errors, aligned tables and key: value blocks, and sizes and ids as people read them.
 * The printers of each verb's result (print.c) are made of these.
 */
#ifndef VMCTL_OUTPUT_H
#define VMCTL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* json: --json was given. Also notes whether stderr is a terminal (the progress bar). */
void output_init(bool json);
bool output_is_json(void);

/* v as one compact JSON line on stdout, flushed at once. */
void output_json(json_t *v);

/* A daemon error object (code and message checked by the transport): its message on stderr
 * and, with --json, the object on stdout for scripts. Returns VMCTL_EXIT_DAEMON. */
int output_error(json_t *error);

/* job.progress params: a bar on a terminal's stderr, a JSON line with --json, else nothing. */
void output_progress(json_t *params);
/* Wipes the bar, if one is shown. */
void output_progress_end(void);
/* The same for fatal signal handlers: async-signal-safe. */
void output_restore_on_signal(void);

/* Prints rows of cells (row-major, ncols per row, at most 16) under headers, columns aligned;
 * right[c] aligns column c to the right. */
void output_table(int ncols, const char *const *headers, const bool *right, char **cells,
		  size_t nrows);

/* An object as "key: value" lines, values aligned: the keys of order (NULL-terminated) first,
 * the others as they come, then lists of objects as indented sub-lists. */
void output_info(json_t *obj, const char *const *order);
/* Writes one value the way a person reads it (key picks the unit: memory, uptime, ...). */
void output_info_value(FILE *f, const char *key, json_t *v);

/* Formats MiB as people read them: 512 MiB, 4 GiB, 1.5 GiB. */
void output_mib(double mib, char *buf, size_t sz);
/* A domain id, or "-" for null/missing (then buf is unused); buf must hold 24 bytes. */
const char *output_domid(json_t *v, char *buf, size_t sz);
/* o's string member key, or dflt when it has none (or o is not an object). */
const char *output_str_or(json_t *o, const char *key, const char *dflt);
/* "yes", "no", or "-" for what is not a boolean. */
const char *output_yes_no(json_t *v);

#endif
