/*
 * vmctl top: a table of every guest's figures (vm.stats_all) refreshed every --delay seconds,
 * as xentop's: CPU time and the share of one CPU since the previous refresh, vCPUs, memory,
 * and the disk and vif bytes per second since then. On a terminal it takes the alternate
 * screen and reads keys: q quits, s and S move the sort to the next or previous column, r
 * reverses it; --batch prints one table after the other (xentop -b), --iterations N stops
 * after N. Rates need two samples: the first table shows "-" for them.
 */
#include "top.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "util.h"

#define NCOLS 12

static const char *const headers[NCOLS] = { "NAME",   "DOMID", "STATE",	 "CPU(s)",
					    "CPU%",   "VCPUS", "MEM",	 "MAXMEM",
					    "READ/s", "WRITE/s", "RX/s", "TX/s" };
static const bool right[NCOLS] = { false, true, false, true, true, true,
				   true,  true, true,  true, true, true };

/* The columns one may sort by, in the order s walks them, and what they sort on. */
enum sort_key { BY_NAME, BY_CPU, BY_MEM, BY_READ, BY_WRITE, BY_RX, BY_TX, BY_N };
static const char *const sort_names[BY_N] = { "name", "cpu", "mem", "read", "write", "rx",
					      "tx" };

/* One guest's totals in one sample, and the rates since the previous one (NAN: none). */
struct row {
	const char *name, *state;
	json_int_t domid, vcpus;
	double at, cpu_s, mem_kib, max_kib;
	double rd, wr, rx, tx;		  /* totals in bytes (NAN: the backend has none) */
	double pct, rd_s, wr_s, rx_s, tx_s; /* since the previous sample */
};

static struct termios saved;
static volatile sig_atomic_t term_changed, screen_taken;

void top_restore_on_signal(void)
{
	static const char leave[] = "\033[?1049l";
	if (term_changed)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (screen_taken && write(STDOUT_FILENO, leave, sizeof leave - 1) < 0)
		return;
}

static void restore(void)
{
	if (term_changed) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
		term_changed = 0;
	}
	if (screen_taken) {
		fputs("\033[?1049l", stdout);
		fflush(stdout);
		screen_taken = 0;
	}
}

/* Keys one at a time, without echo; the screen of its own. */
static void take_terminal(void)
{
	struct termios t;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		t = saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
			term_changed = 1;
	}
	if (isatty(STDOUT_FILENO)) {
		fputs("\033[?1049h", stdout);
		screen_taken = 1;
	}
}

/* The sum of key over a guest's disks or vifs; NAN when one has none (null). */
static double sum(json_t *list, const char *key)
{
	double total = 0;
	size_t i;
	json_t *item;

	json_array_foreach(list, i, item) {
		json_t *v = json_object_get(item, key);
		if (!json_is_number(v))
			return NAN;
		total += json_number_value(v);
	}
	return total;
}

static void fill(struct row *r, json_t *g)
{
	json_t *cpu = json_object_get(g, "cpu"), *mem = json_object_get(g, "memory");
	json_t *disks = json_object_get(g, "disks"), *vifs = json_object_get(g, "vifs");

	r->name = json_string_value(json_object_get(g, "name"));
	r->state = json_string_value(json_object_get(g, "state"));
	r->domid = json_integer_value(json_object_get(g, "domid"));
	r->vcpus = json_integer_value(json_object_get(cpu, "vcpus"));
	r->at = json_number_value(json_object_get(g, "at"));
	r->cpu_s = json_number_value(json_object_get(cpu, "time_s"));
	r->mem_kib = json_number_value(json_object_get(mem, "current_kib"));
	r->max_kib = json_number_value(json_object_get(mem, "max_kib"));
	r->rd = sum(disks, "rd_bytes");
	r->wr = sum(disks, "wr_bytes");
	r->rx = sum(vifs, "rx_bytes");
	r->tx = sum(vifs, "tx_bytes");
	r->pct = r->rd_s = r->wr_s = r->rx_s = r->tx_s = NAN;
}

static double rate(double now, double before, double window)
{
	return isnan(now) || isnan(before) || now < before ? NAN : (now - before) / window;
}

/* The rates of r since prev, the same domain's previous sample. */
static void rates(struct row *r, const struct row *prev)
{
	double window = r->at - prev->at;

	if (window <= 0.001 || r->cpu_s < prev->cpu_s)
		return;
	r->pct = (r->cpu_s - prev->cpu_s) / window * 100.0;
	r->rd_s = rate(r->rd, prev->rd, window);
	r->wr_s = rate(r->wr, prev->wr, window);
	r->rx_s = rate(r->rx, prev->rx, window);
	r->tx_s = rate(r->tx, prev->tx, window);
}

/* Rows of result's guests, with rates against prev (n_prev rows; same name and domid). */
static struct row *rows_of(json_t *result, const struct row *prev, size_t n_prev, size_t *n)
{
	json_t *guests = json_object_get(result, "guests"), *g;
	size_t i;
	struct row *rows = calloc(json_array_size(guests) + 1, sizeof(*rows));

	*n = 0;
	if (!rows)
		return NULL;
	json_array_foreach(guests, i, g) {
		struct row *r = &rows[(*n)++];
		fill(r, g);
		for (size_t k = 0; k < n_prev; k++)
			if (prev[k].domid == r->domid && prev[k].name && r->name &&
			    strcmp(prev[k].name, r->name) == 0)
				rates(r, &prev[k]);
	}
	return rows;
}

static enum sort_key sort_by = BY_CPU;
static bool reverse;

static double sort_value(const struct row *r)
{
	switch (sort_by) {
	case BY_CPU: return r->pct;
	case BY_MEM: return r->mem_kib;
	case BY_READ: return r->rd_s;
	case BY_WRITE: return r->wr_s;
	case BY_RX: return r->rx_s;
	case BY_TX: return r->tx_s;
	default: return 0;
	}
}

/* Names A to Z; figures largest first (no figure last); r reverses; ties by name. */
static int compare(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	int c = 0;

	if (sort_by != BY_NAME) {
		double x = sort_value(a), y = sort_value(b);
		if (isnan(x) != isnan(y))
			c = isnan(x) ? 1 : -1;
		else if (!isnan(x) && x != y)
			c = x > y ? -1 : 1;
	}
	if (c == 0)
		c = strcmp(a->name ? a->name : "", b->name ? b->name : "");
	return reverse ? -c : c;
}

/* A rate or size for a person: B, KiB, MiB or GiB; "-" for none. */
static char *bytes_text(double n)
{
	char *s = NULL;
	int r;

	if (isnan(n))
		return strdup("-");
	if (n >= 1024.0 * 1024 * 1024)
		r = asprintf(&s, "%.1f GiB", n / (1024.0 * 1024 * 1024));
	else if (n >= 1024.0 * 1024)
		r = asprintf(&s, "%.1f MiB", n / (1024.0 * 1024));
	else if (n >= 1024.0)
		r = asprintf(&s, "%.1f KiB", n / 1024.0);
	else
		r = asprintf(&s, "%.0f B", n);
	return r < 0 ? NULL : s;
}

/* One decimal, or "-" for none. */
static char *number_text(double v)
{
	char *s = NULL;
	if (isnan(v))
		return strdup("-");
	return asprintf(&s, "%.1f", v) < 0 ? NULL : s;
}

static void draw(struct row *rows, size_t n, bool batch)
{
	char **cells = calloc(n * NCOLS + 1, sizeof(*cells));
	char when[16] = "";
	time_t now = time(NULL);
	struct tm tm;

	if (!cells)
		return;
	qsort(rows, n, sizeof(*rows), compare);
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		char **c = cells + i * NCOLS;
		c[0] = strdup(r->name ? r->name : "?");
		if (asprintf(&c[1], "%" JSON_INTEGER_FORMAT, r->domid) < 0)
			c[1] = NULL;
		c[2] = strdup(r->state ? r->state : "?");
		c[3] = number_text(r->cpu_s);
		c[4] = number_text(r->pct);
		if (asprintf(&c[5], "%" JSON_INTEGER_FORMAT, r->vcpus) < 0)
			c[5] = NULL;
		c[6] = bytes_text(r->mem_kib * 1024);
		c[7] = bytes_text(r->max_kib * 1024);
		c[8] = bytes_text(r->rd_s);
		c[9] = bytes_text(r->wr_s);
		c[10] = bytes_text(r->rx_s);
		c[11] = bytes_text(r->tx_s);
	}
	if (localtime_r(&now, &tm))
		strftime(when, sizeof when, "%H:%M:%S", &tm);
	if (!batch)
		fputs("\033[H\033[2J", stdout);
	printf("vmctl top - %s, %zu guest%s, sorted by %s%s", when, n, n == 1 ? "" : "s",
	       sort_names[sort_by], reverse ? " (reversed)" : "");
	printf(batch ? "\n" : "  [q quit, s/S sort, r reverse]\n");
	output_table(NCOLS, headers, right, cells, n);
	if (batch)
		putchar('\n');
	fflush(stdout);
	for (size_t i = 0; i < n * NCOLS; i++)
		free(cells[i]);
	free(cells);
}

/* A key: 1 to quit, 0 to redraw, -1 when it means nothing. */
static int key(int c)
{
	switch (c) {
	case 'q': case 'Q': case 0x1b: case 3: return 1;
	case 's': sort_by = (enum sort_key)((sort_by + 1) % BY_N); return 0;
	case 'S': sort_by = (enum sort_key)((sort_by + BY_N - 1) % BY_N); return 0;
	case 'r': case 'R': reverse = !reverse; return 0;
	default: return -1;
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits delay seconds for keys, redrawing rows on each that changes the order. 1: quit. */
static int wait_keys(double delay, struct row *rows, size_t n)
{
	double end = now_s() + delay;

	for (;;) {
		double left = end - now_s();
		if (left <= 0)
			return 0;
		if (!term_changed) {
			struct timespec ts = { (time_t)left,
					       (long)((left - (double)(time_t)left) * 1e9) };
			nanosleep(&ts, NULL);
			continue;
		}
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno != EINTR)
			return 0;
		if (r <= 0)
			continue;
		unsigned char c;
		ssize_t got = read(STDIN_FILENO, &c, 1);
		if (got <= 0)
			return got == 0 ? 1 : 0; /* end of input: quit */
		int k = key(c);
		if (k == 1)
			return 1;
		if (k == 0)
			draw(rows, n, false);
	}
}

int top_run(struct transport *t, const struct args *a, json_t *first)
{
	double delay = 2;
	long iterations = 0;
	bool batch = cmd_flag(a, "batch");
	const char *v;
	json_t *cur = json_incref(first), *prev_json = NULL;
	struct row *prev = NULL;
	size_t n_prev = 0;
	int rc = VMCTL_EXIT_OK;

	if ((v = cmd_value(a, "delay"))) {
		char *end;
		errno = 0;
		delay = strtod(v, &end);
		if (errno || *end || !(delay >= 0.1 && delay <= 3600)) {
			cmd_usage_error(a, "--delay takes seconds from 0.1 to 3600, not '%s'", v);
			json_decref(cur);
			return VMCTL_EXIT_FAIL;
		}
	}
	if (cmd_value(a, "iterations") && cmd_uint(a, "iterations", 1, 1000000, &iterations) < 0) {
		json_decref(cur);
		return VMCTL_EXIT_FAIL;
	}
	if ((v = cmd_value(a, "sort"))) {
		int k = 0;
		while (k < BY_N && strcmp(sort_names[k], v) != 0)
			k++;
		if (k == BY_N) {
			cmd_usage_error(a, "--sort takes name, cpu, mem, read, write, rx or tx");
			json_decref(cur);
			return VMCTL_EXIT_FAIL;
		}
		sort_by = (enum sort_key)k;
	}
	if (!json_is_array(json_object_get(first, "guests"))) {
		json_decref(cur);
		return util_malformed("no \"guests\" array");
	}
	if (!batch)
		take_terminal();
	for (long i = 1;; i++) {
		size_t n;
		struct row *rows = rows_of(cur, prev, n_prev, &n);
		if (!rows) {
			util_warn("out of memory");
			rc = VMCTL_EXIT_FAIL;
			break;
		}
		draw(rows, n, batch);
		/* the previous rows' names pointed into the previous sample: both go now */
		free(prev);
		json_decref(prev_json);
		prev = rows;
		n_prev = n;
		prev_json = cur;
		cur = NULL;
		if ((iterations && i >= iterations) || wait_keys(delay, rows, n) == 1)
			break;
		rc = transport_call(t, "vm.stats_all", json_object(), &cur);
		if (rc == VMCTL_EXIT_OK && !json_is_array(json_object_get(cur, "guests")))
			rc = util_malformed("no \"guests\" array");
		if (rc != VMCTL_EXIT_OK) {
			restore();
			if (rc == VMCTL_EXIT_DAEMON)
				rc = output_error(cur);
			break;
		}
	}
	restore();
	free(prev);
	json_decref(prev_json);
	json_decref(cur);
	return rc;
}
