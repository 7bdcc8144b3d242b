/*
 * vmctl metrics: vm.stats_all in Prometheus' text exposition format (version 0.0.4), one
 * family of samples per figure, guests within it, names and labels as Prometheus'
 * conventions want them (base units, counters ending in _total, node_exporter's words for
 * disks and networks). Three ways out:
 *   stdout      for a person or a pipe;
 *   -o FILE     written beside FILE and renamed over it, so that node_exporter's textfile
 *               collector never reads half of it (from a timer: vmd-metrics-textfile.timer);
 *   --http      one HTTP/1.0 exchange on stdin/stdout, for a socket-activated scrape
 *               endpoint (vmd-metrics.socket, Accept=yes): systemd starts vmctl per scrape as
 *               an unprivileged dynamic user who reaches only the read-only socket.
 * A counter the backend does not have (qemu's qdisk keeps none) has no sample.
 */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* One family: its name and type, its help, and where its value is in a guest's object (or
 * in each of its disks or vifs, when list is set); scale multiplies it (KiB to bytes). */
struct family {
	const char *name, *type, *help;
	const char *list;	 /* NULL, "disks", "vifs" */
	const char *object, *key; /* value: guest[object][key] (object NULL: guest[key]) */
	double scale;
};

static const struct family families[] = {
	{ "vmd_guest_cpu_seconds_total", "counter", "CPU time of all the guest's vCPUs.",
	  NULL, "cpu", "time_s", 1 },
	{ "vmd_guest_vcpus", "gauge", "Online vCPUs of the guest.", NULL, "cpu", "vcpus", 1 },
	{ "vmd_guest_memory_bytes", "gauge", "Memory of the guest's domain now.",
	  NULL, "memory", "current_kib", 1024 },
	{ "vmd_guest_memory_max_bytes", "gauge", "Memory the guest's domain may grow to.",
	  NULL, "memory", "max_kib", 1024 },
	{ "vmd_guest_disk_read_bytes_total", "counter", "Bytes the guest read from the disk.",
	  "disks", NULL, "rd_bytes", 1 },
	{ "vmd_guest_disk_reads_completed_total", "counter",
	  "Read requests of the guest to the disk.", "disks", NULL, "rd_req", 1 },
	{ "vmd_guest_disk_written_bytes_total", "counter",
	  "Bytes the guest wrote to the disk.", "disks", NULL, "wr_bytes", 1 },
	{ "vmd_guest_disk_writes_completed_total", "counter",
	  "Write requests of the guest to the disk.", "disks", NULL, "wr_req", 1 },
	{ "vmd_guest_network_receive_bytes_total", "counter",
	  "Bytes the guest received on the vif.", "vifs", NULL, "rx_bytes", 1 },
	{ "vmd_guest_network_receive_packets_total", "counter",
	  "Packets the guest received on the vif.", "vifs", NULL, "rx_packets", 1 },
	{ "vmd_guest_network_transmit_bytes_total", "counter",
	  "Bytes the guest sent on the vif.", "vifs", NULL, "tx_bytes", 1 },
	{ "vmd_guest_network_transmit_packets_total", "counter",
	  "Packets the guest sent on the vif.", "vifs", NULL, "tx_packets", 1 },
};

/* A label value as the format escapes it: backslash, double quote and newline. */
static void put_label(FILE *f, const char *key, const char *value, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", key);
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* A sample's value: integers as they are, other numbers with the digits a double needs. */
static void put_value(FILE *f, json_t *v, double scale)
{
	if (json_is_integer(v) && scale == 1)
		fprintf(f, " %" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
	else
		fprintf(f, " %.17g\n", json_number_value(v) * scale);
}

/* The labels of one disk (vdev) or vif (devid, mac), after the guest's name. */
static void put_item_labels(FILE *f, const char *list, json_t *item)
{
	char devid[24];

	if (strcmp(list, "disks") == 0) {
		put_label(f, "vdev", json_string_value(json_object_get(item, "vdev")), false);
		return;
	}
	snprintf(devid, sizeof devid, "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(item, "devid")));
	put_label(f, "devid", devid, false);
	put_label(f, "mac", json_string_value(json_object_get(item, "mac")), false);
}

static void put_family(FILE *f, const struct family *fam, json_t *guests)
{
	size_t i, j;
	json_t *g, *item;

	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name, fam->type);
	json_array_foreach(guests, i, g) {
		const char *name = json_string_value(json_object_get(g, "name"));
		if (!fam->list) {
			json_t *v = json_object_get(json_object_get(g, fam->object), fam->key);
			if (!json_is_number(v))
				continue;
			fprintf(f, "%s{", fam->name);
			put_label(f, "name", name, true);
			fputc('}', f);
			put_value(f, v, fam->scale);
			continue;
		}
		json_array_foreach(json_object_get(g, fam->list), j, item) {
			json_t *v = json_object_get(item, fam->key);
			if (!json_is_number(v))
				continue; /* null: the backend keeps no such counter */
			fprintf(f, "%s{", fam->name);
			put_label(f, "name", name, true);
			put_item_labels(f, fam->list, item);
			fputc('}', f);
			put_value(f, v, fam->scale);
		}
	}
}

/* The whole exposition of result (vm.stats_all) into f. */
static void put_exposition(FILE *f, json_t *guests)
{
	size_t i;
	json_t *g;

	fputs("# HELP vmd_guest_info The guests with a domain: its id and state as labels.\n"
	      "# TYPE vmd_guest_info gauge\n", f);
	json_array_foreach(guests, i, g) {
		char domid[24];
		snprintf(domid, sizeof domid, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(g, "domid")));
		fputs("vmd_guest_info{", f);
		put_label(f, "name", json_string_value(json_object_get(g, "name")), true);
		put_label(f, "domid", domid, false);
		put_label(f, "state", json_string_value(json_object_get(g, "state")), false);
		fputs("} 1\n", f);
	}
	for (size_t k = 0; k < sizeof families / sizeof families[0]; k++)
		put_family(f, &families[k], guests);
}

/* FILE written as FILE.tmp-PID in its directory, then renamed over FILE (mode 0644). */
static int write_file(const char *path, const char *text, size_t n)
{
	char *tmp = NULL;
	int fd;

	if (asprintf(&tmp, "%s.tmp-%ld", path, (long)getpid()) < 0) {
		util_warn("out of memory");
		return VMCTL_EXIT_FAIL;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		util_warn("cannot write %s: %s", tmp, strerror(errno));
		free(tmp);
		return VMCTL_EXIT_FAIL;
	}
	if (util_write_all(fd, text, n, 0) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		util_warn("cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		free(tmp);
		return VMCTL_EXIT_FAIL;
	}
	if (rename(tmp, path) < 0) {
		util_warn("cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return VMCTL_EXIT_FAIL;
	}
	free(tmp);
	return VMCTL_EXIT_OK;
}

static void http_reply(const char *status, const char *type, const char *body, size_t n)
{
	char head[256];
	int h = snprintf(head, sizeof head, "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, type, n);
	if (util_write_all(STDOUT_FILENO, head, (size_t)h, 0) < 0 ||
	    util_write_all(STDOUT_FILENO, body, n, 0) < 0)
		util_warn("cannot answer the scrape: %s", strerror(errno));
}

/* The request's head read from stdin, at most 8 KiB within 10 s; whether it is a GET (a
 * HEAD or anything else is answered 405 here). */
static bool http_request(void)
{
	char buf[8192];
	size_t n = 0;

	while (n < sizeof buf - 1) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int r = poll(&p, 1, 10000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		ssize_t got = read(STDIN_FILENO, buf + n, sizeof buf - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			break;
	}
	buf[n] = '\0';
	if (strncmp(buf, "GET ", 4) == 0)
		return true;
	static const char msg[] = "vmd metrics: only GET\n";
	http_reply("405 Method Not Allowed", "text/plain", msg, sizeof msg - 1);
	return false;
}

json_t *params_metrics(const struct args *a)
{
	if (cmd_flag(a, "http") && cmd_value(a, "output")) {
		cmd_usage_error(a, "--http answers on stdout: not with --output");
		return NULL;
	}
	if (cmd_flag(a, "http") && !http_request())
		return NULL;
	return json_object();
}

int print_metrics(const struct args *a, json_t *result)
{
	json_t *guests = json_object_get(result, "guests");
	char *text = NULL;
	size_t n = 0;
	FILE *f;
	int rc = VMCTL_EXIT_OK;

	if (!json_is_array(guests))
		return util_malformed("no \"guests\" array");
	f = open_memstream(&text, &n);
	if (!f) {
		util_warn("out of memory");
		return VMCTL_EXIT_FAIL;
	}
	put_exposition(f, guests);
	if (fclose(f) != 0) {
		util_warn("out of memory");
		free(text);
		return VMCTL_EXIT_FAIL;
	}
	if (cmd_value(a, "output"))
		rc = write_file(cmd_value(a, "output"), text, n);
	else if (cmd_flag(a, "http"))
		http_reply("200 OK", "text/plain; version=0.0.4; charset=utf-8", text, n);
	else if (fwrite(text, 1, n, stdout) != n)
		rc = VMCTL_EXIT_FAIL;
	free(text);
	return rc;
}
