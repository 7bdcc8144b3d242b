/*
 * output.c: the forms of vmctl's output (see output.h), in one place so that every verb's
 * text looks alike. Nothing here asks whether stdout is a terminal: only the progress bar
 * looks at stderr.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
#include "util.h"

static bool json_mode;
static bool stderr_tty;
/* Read by the signal handler: a half-drawn progress bar is wiped before dying. */
static volatile sig_atomic_t progress_shown;

void output_init(bool json)
{
	json_mode = json;
	stderr_tty = isatty(STDERR_FILENO);
}

bool output_is_json(void)
{
	return json_mode;
}

void output_json(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (s) {
		puts(s);
		free(s);
	}
	/* Scripts read these as they come (events, progress); and a signal exits via _exit. */
	fflush(stdout);
}

int output_error(json_t *error)
{
	if (json_mode)
		output_json(error);
	util_warn("%s", json_string_value(json_object_get(error, "message")));
	return VMCTL_EXIT_DAEMON;
}

/* ------------------------------------------------------------------------------------------ */
/* Progress of long jobs */

static void fmt_amount(double done, double total, char *buf, size_t sz)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double scale = total > done ? total : done;
	double div = 1;
	int u = 0;

	while (scale >= 1024 && u < 5) {
		scale /= 1024;
		div *= 1024;
		u++;
	}
	if (total > 0)
		snprintf(buf, sz, "%.1f/%.1f %s", done / div, total / div, units[u]);
	else
		snprintf(buf, sz, "%.1f %s", done / div, units[u]);
}

void output_progress(json_t *params)
{
	enum { WIDTH = 30 };
	char bar[WIDTH + 1];
	char amount[64];
	double done, total;
	const char *phase;
	int pct = 0, fill;

	if (json_mode) {
		output_json(params);
		return;
	}
	if (!stderr_tty || !json_is_object(params))
		return;
	done = json_number_value(json_object_get(params, "done"));
	total = json_number_value(json_object_get(params, "total"));
	phase = json_string_value(json_object_get(params, "phase"));
	if (total > 0 && done >= 0)
		pct = done >= total ? 100 : (int)(done * 100 / total);
	fill = pct * WIDTH / 100;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, ' ', (size_t)(WIDTH - fill));
	bar[WIDTH] = '\0';
	fmt_amount(done, total, amount, sizeof(amount));
	fprintf(stderr, "\r[%s] %3d%% %s%s%s\033[K", bar, pct, amount, phase ? " " : "",
		phase ? phase : "");
	progress_shown = 1;
}

void output_progress_end(void)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		progress_shown = 0;
	}
}

void output_restore_on_signal(void)
{
	if (progress_shown) {
		ssize_t r = write(STDERR_FILENO, "\r\033[K", 4);

		(void)r;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Tables and key: value blocks */

void output_table(int ncols, const char *const *headers, const bool *right, char **cells,
		  size_t nrows)
{
	size_t width[16] = { 0 };

	for (int c = 0; c < ncols; c++)
		width[c] = strlen(headers[c]);
	for (size_t r = 0; r < nrows; r++)
		for (int c = 0; c < ncols; c++)
			if (strlen(cells[r * ncols + c]) > width[c])
				width[c] = strlen(cells[r * ncols + c]);
	for (size_t r = 0; r <= nrows; r++) {
		for (int c = 0; c < ncols; c++) {
			const char *s = r == 0 ? headers[c] : cells[(r - 1) * ncols + c];
			int w = (int)width[c];

			if (c == ncols - 1 && !right[c])
				printf("%s", s); /* no trailing blanks */
			else
				printf(right[c] ? "%*s" : "%-*s", w, s);
			fputs(c == ncols - 1 ? "\n" : "  ", stdout);
		}
	}
}

static void fmt_duration(double secs, char *buf, size_t sz)
{
	long long s = secs > 0 ? (long long)secs : 0;
	long long d = s / 86400;

	s %= 86400;
	if (d)
		snprintf(buf, sz, "%lldd %02lld:%02lld:%02lld", d, s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, sz, "%02lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
}

void output_info_value(FILE *f, const char *key, json_t *v)
{
	char buf[64];

	if (json_is_null(v)) {
		fputs("-", f);
	} else if (json_is_boolean(v)) {
		fputs(output_yes_no(v), f);
	} else if (json_is_number(v) && (strcmp(key, "memory") == 0 ||
					  strcmp(key, "maxmem") == 0)) {
		output_mib(json_number_value(v), buf, sizeof(buf));
		fputs(buf, f);
	} else if (json_is_number(v) && strcmp(key, "memory_actual_kib") == 0) {
		output_mib(json_number_value(v) / 1024, buf, sizeof(buf));
		fprintf(f, "%" JSON_INTEGER_FORMAT " KiB (%s)",
			(json_int_t)json_number_value(v), buf);
	} else if (json_is_number(v) && strcmp(key, "uptime") == 0) {
		fmt_duration(json_number_value(v), buf, sizeof(buf));
		fputs(buf, f);
	} else if (json_is_number(v) && strcmp(key, "cpu_time") == 0) {
		fprintf(f, "%.1f s", json_number_value(v));
	} else if (json_is_integer(v)) {
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_real(v)) {
		fprintf(f, "%g", json_real_value(v));
	} else if (json_is_string(v)) {
		fputs(json_string_value(v), f);
	} else if (json_is_array(v) && json_array_size(v) == 0) {
		fputs("-", f);
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		fputs(s ? s : "?", f);
		free(s);
	}
}

/* A list of objects (vifs, disks) gets one indented line per element. */
static bool is_object_list(json_t *v)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return false;
	json_array_foreach(v, i, e) {
		if (!json_is_object(e))
			return false;
	}
	return true;
}

static void info_sublist(const char *key, json_t *list)
{
	size_t i;
	json_t *e;

	printf("%s:\n", key);
	json_array_foreach(list, i, e) {
		/* Label each element by what identifies it, then the rest as key=value. */
		const char *label_key = json_object_get(e, "index") ? "index" :
					json_object_get(e, "vdev") ? "vdev" : NULL;
		const char *k;
		json_t *v;
		bool first = true;

		fputs("  ", stdout);
		if (label_key) {
			output_info_value(stdout, label_key, json_object_get(e, label_key));
			fputs(":", stdout);
			first = false;
		}
		json_object_foreach(e, k, v) {
			if (label_key && strcmp(k, label_key) == 0)
				continue;
			printf("%s%s=", first ? "" : " ", k);
			output_info_value(stdout, k, v);
			first = false;
		}
		fputs("\n", stdout);
	}
}

/* "key:" padded to width, then the value: the values line up. */
static void info_line(const char *key, json_t *v, int width)
{
	printf("%s:%*s ", key, width - (int)strlen(key) - 1, "");
	output_info_value(stdout, key, v);
	fputs("\n", stdout);
}

void output_info(json_t *obj, const char *const *order)
{
	const char *key;
	json_t *v;
	int width = 0;

	json_object_foreach(obj, key, v) {
		if (!is_object_list(v) && (int)strlen(key) + 1 > width)
			width = (int)strlen(key) + 1;
	}
	for (int i = 0; order[i]; i++) {
		v = json_object_get(obj, order[i]);
		if (v && !is_object_list(v))
			info_line(order[i], v, width);
	}
	json_object_foreach(obj, key, v) {
		bool known = false;

		for (int i = 0; order[i] && !known; i++)
			known = strcmp(order[i], key) == 0;
		if (!known && !is_object_list(v))
			info_line(key, v, width);
	}
	json_object_foreach(obj, key, v) {
		if (is_object_list(v))
			info_sublist(key, v);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Numbers */

void output_mib(double mib, char *buf, size_t sz)
{
	static const char *const units[] = { "MiB", "GiB", "TiB", "PiB" };
	int u = 0;

	while (mib >= 1024 && u < 3) {
		mib /= 1024;
		u++;
	}
	if (mib == (double)(long long)mib)
		snprintf(buf, sz, "%lld %s", (long long)mib, units[u]);
	else
		snprintf(buf, sz, "%.1f %s", mib, units[u]);
}

const char *output_domid(json_t *v, char *buf, size_t sz)
{
	if (!json_is_integer(v))
		return "-";
	snprintf(buf, sz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}

const char *output_yes_no(json_t *v)
{
	return json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : "-";
}

const char *output_str_or(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}
