/*
 * print.c: the human form of each verb's result, the .print of the command table (see
 * print.h). The shape of a result is the daemon's (proto/vmd-protocol.md); what is missing
 * that we need is a malformed reply, what is missing that we only show becomes "?" or "-".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "output.h"
#include "print.h"
#include "util.h"
#include "vmd-proto.h"

#ifndef VMD_VERSION
#define VMD_VERSION "unknown"
#endif

static const char *get_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}


/* What xl would warn about, as xl does: on stderr, the result goes on. */
static void print_warnings(json_t *result)
{
	size_t i;
	json_t *w;

	json_array_foreach(json_object_get(result, "warnings"), i, w)
		if (json_is_string(w))
			util_warn("warning: %s", json_string_value(w));
}

/* --dry-run: libxl's JSON of the config, as `xl -N create` prints it. */
static int print_dry_run(json_t *result)
{
	const char *text = get_str(result, "libxl_json");

	if (!text)
		return util_malformed("no libxl_json in a dry run's result");
	print_warnings(result);
	/* byte for byte what xl prints, which ends without a newline; a terminal gets one */
	fputs(text, stdout);
	if (isatty(STDOUT_FILENO))
		putchar('\n');
	return VMCTL_EXIT_OK;
}

/* What vm.define and vm.create answer: a dry run's document, or the guest's warnings. -1
 * when the caller prints the guest, else the exit code. */
static int defined(json_t *vm)
{
	if (json_is_true(json_object_get(vm, "dry_run")))
		return print_dry_run(vm);
	if (!get_str(vm, "name"))
		return util_malformed("no guest name");
	print_warnings(vm);
	return -1;
}

int print_created(const struct args *a, json_t *vm)
{
	char buf[24];
	json_t *disk = json_object_get(vm, "disk"), *seed = json_object_get(vm, "seed");
	if (json_is_object(disk) && json_is_object(seed)) { /* --image */
		vm = json_object_get(vm, "vm");
		printf("disk %s (%s of %s)\nseed %s (instance-id %s)\n", get_str(disk, "path"),
		       output_str_or(disk, "method", "?"), output_str_or(disk, "image", "?"),
		       output_str_or(seed, "path", "?"), output_str_or(seed, "instance_id", "?"));
	}
	const char *name = get_str(vm, "name");
	int r = defined(vm);

	if (r >= 0)
		return r;
	printf("created %s (domid %s)\n", name,
	       output_domid(json_object_get(vm, "domid"), buf, sizeof(buf)));
	return VMCTL_EXIT_OK;
}

int print_vm_action(const struct args *a, json_t *vm)
{
	const char *name = get_str(vm, "name");
	json_t *domid = json_object_get(vm, "domid");

	if (!name)
		return util_malformed("no guest name");
	if (json_is_integer(domid))
		printf("%s %s (domid %" JSON_INTEGER_FORMAT ")\n", a->cmd->done, name,
		       json_integer_value(domid));
	else
		printf("%s %s\n", a->cmd->done, name);
	return VMCTL_EXIT_OK;
}

int print_shutdown(const struct args *a, json_t *vm)
{
	const char *name = get_str(vm, "name");
	const char *state = get_str(vm, "state");

	if (!name || !state)
		return util_malformed("no guest name or state");
	if (strcmp(state, "stopped") == 0)
		printf("stopped %s\n", name);
	else
		printf("shutting down %s\n", name);
	return VMCTL_EXIT_OK;
}

int print_list(const struct args *a, json_t *result)
{
	enum { MAXCOLS = 9 };
	static const char *const headers[MAXCOLS] = { "NAME",      "DOMID",   "STATE",
						      "TYPE",      "VCPUS",   "MEMORY",
						      "AUTOSTART", "MANAGED", "ADDRESS" };
	static const bool right[MAXCOLS] = { false, true,  false, false, true,
					     true,  false, false, false };
	/* --addresses: the first address vm.list found, as vmctl addresses lists it first */
	const int NCOLS = cmd_flag(a, "addresses") ? 9 : 8;
	json_t *vms = json_object_get(result, "vms");
	size_t n, i;
	char **cells;
	json_t *vm;

	if (!json_is_array(vms))
		return util_malformed("no \"vms\" array");
	n = json_array_size(vms);
	cells = calloc(n * NCOLS + 1, sizeof(*cells));
	if (!cells) {
		util_warn("out of memory");
		return VMCTL_EXIT_FAIL;
	}
	json_array_foreach(vms, i, vm) {
		char **row = cells + i * NCOLS;
		char dom[24], mem[32] = "-";
		json_t *memory = json_object_get(vm, "memory");
		json_t *vcpus = json_object_get(vm, "vcpus");
		const char *name = get_str(vm, "name");
		const char *state = get_str(vm, "state");
		const char *type = get_str(vm, "type");

		if (json_is_number(memory))
			output_mib(json_number_value(memory), mem, sizeof(mem));
		row[0] = strdup(name ? name : "?");
		row[1] = strdup(output_domid(json_object_get(vm, "domid"), dom, sizeof(dom)));
		row[2] = strdup(state ? state : "?");
		row[3] = strdup(type ? type : "-");
		if (!json_is_integer(vcpus))
			row[4] = strdup("-");
		else if (asprintf(&row[4], "%" JSON_INTEGER_FORMAT, json_integer_value(vcpus)) < 0)
			row[4] = NULL;
		row[5] = strdup(mem);
		row[6] = strdup(output_yes_no(json_object_get(vm, "autostart")));
		row[7] = strdup(output_yes_no(json_object_get(vm, "managed")));
		if (NCOLS > 8) {
			json_t *first = json_array_get(json_object_get(vm, "addresses"), 0);
			row[8] = strdup(output_str_or(first, "address", "-"));
		}
		for (int c = 0; c < NCOLS; c++) {
			if (!row[c]) {
				util_warn("out of memory");
				for (size_t k = 0; k < n * NCOLS; k++)
					free(cells[k]);
				free(cells);
				return VMCTL_EXIT_FAIL;
			}
		}
	}
	output_table(NCOLS, headers, right, cells, n);
	for (i = 0; i < n * NCOLS; i++)
		free(cells[i]);
	free(cells);
	return VMCTL_EXIT_OK;
}

int print_info(const struct args *a, json_t *vm)
{
	/* The identity and state first, in this order; anything else as the daemon sent it. */
	static const char *const order[] = {
		"name", "uuid", "type", "state", "domid", "managed", "autostart", "vcpus",
		"maxvcpus", "memory", "maxmem", "memory_actual_kib", "cpu_time", "uptime",
		"console", "vnc", "install_phase", "on_poweroff", "on_reboot", "on_crash", NULL,
	};

	json_t *pending = json_object_get(vm, "pending");

	if (!json_is_object(vm) || !get_str(vm, "name"))
		return util_malformed("no guest name");
	json_incref(pending);
	json_object_del(vm, "pending");
	output_info(vm, order);
	if (json_array_size(pending)) {
		printf("pending (the definition's, from the next boot):\n");
		print_changes(pending);
	}
	json_decref(pending);
	return VMCTL_EXIT_OK;
}

/* A value of a change: a string as it is, a list as JSON, null as "(none)". */
static void change_value(json_t *v)
{
	char *s;

	if (json_is_string(v)) {
		fputs(json_string_value(v), stdout);
		return;
	}
	if (!v || json_is_null(v)) {
		fputs("(none)", stdout);
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	fputs(s ? s : "?", stdout);
	free(s);
}

void print_changes(json_t *changes)
{
	size_t i;
	json_t *c;

	json_array_foreach(changes, i, c) {
		const char *apply = get_str(c, "apply");
		const char *why = get_str(c, "error") ? get_str(c, "error") : get_str(c, "reason");

		printf("  %s%s%s: ", output_str_or(c, "key", "?"), get_str(c, "id") ? " " : "",
		       output_str_or(c, "id", ""));
		change_value(json_object_get(c, "live"));
		fputs(" -> ", stdout);
		change_value(json_object_get(c, "config"));
		if (apply)
			printf(" (%s%s%s%s)", strcmp(apply, "live") == 0 ? "live" : "next boot",
			       why ? ": " : "",
			       get_str(c, "error") ? "the live change failed: " : "", why ? why : "");
		fputs("\n", stdout);
	}
}

/* update, edit: what changed where. */
int print_update(const struct args *a, json_t *result)
{
	const char *name = get_str(result, "name");
	json_t *changes = json_object_get(result, "changes");
	bool dry = json_is_true(json_object_get(result, "dry_run"));
	size_t i, live = 0, n = json_array_size(changes);
	json_t *c;

	if (!name || !json_is_array(changes))
		return util_malformed("no name or changes");
	json_array_foreach(changes, i, c) {
		const char *apply = get_str(c, "apply");

		live += apply && strcmp(apply, "live") == 0;
	}
	if (!n) {
		printf("%s: %s\n", name,
		       dry ? "no change to the running guest (dry run)"
		       : json_is_true(json_object_get(result, "stored"))
			       ? "definition updated; the running guest has it already"
			       : "no change");
		return VMCTL_EXIT_OK;
	}
	printf("%s: %s %zu change%s: %zu live, %zu for the next boot\n", name,
	       dry ? "would make" : "updated,", n, n == 1 ? "" : "s", live, n - live);
	print_changes(changes);
	return VMCTL_EXIT_OK;
}

int print_define(const struct args *a, json_t *vm)
{
	const char *name = get_str(vm, "name");
	int r = defined(vm);

	if (r >= 0)
		return r;
	printf("defined %s\n", name);
	return VMCTL_EXIT_OK;
}

int print_remove(const struct args *a, json_t *result)
{
	static const char *const lists[] = { "deleted", "kept" };
	const char *name = get_str(result, "name");

	if (!name)
		return util_malformed("no guest name");
	printf("removed %s\n", name);
	for (int l = 0; l < 2; l++) {
		json_t *paths = json_object_get(result, lists[l]);
		json_t *p;
		size_t i;

		json_array_foreach(paths, i, p) {
			if (json_is_string(p))
				printf("%s %s\n", lists[l], json_string_value(p));
		}
	}
	return VMCTL_EXIT_OK;
}

int print_install(const struct args *a, json_t *result)
{
	json_t *vm = json_object_get(result, "vm");
	json_t *inst = json_object_get(result, "installer");
	const char *name = get_str(vm, "name");
	const char *console = get_str(result, "console");
	const char *vnc = get_str(result, "vnc");
	char dom[32];

	if (!name || !console)
		return util_malformed("no guest name or console");
	printf("installing %s (%s, domid %s)\n", name, output_str_or(vm, "type", "?"),
	       output_domid(json_object_get(vm, "domid"), dom, sizeof(dom)));
	printf("  disk:      %s%s\n", output_str_or(result, "disk", "?"),
	       json_is_true(json_object_get(result, "disk_created")) ? " (new)" : "");
	if (json_is_object(inst)) {
		if (get_str(inst, "iso_kernel"))
			printf("  installer: %s and %s from the ISO (%s)\n",
			       get_str(inst, "iso_kernel"), output_str_or(inst, "iso_ramdisk", "?"),
			       output_str_or(inst, "source", "?"));
		else
			printf("  installer: %s, %s\n", output_str_or(inst, "kernel", "?"),
			       output_str_or(inst, "ramdisk", "?"));
	}
	printf("  console:   vmctl console %s  (%s)\n", name,
	       strcmp(console, "serial") == 0 ? "serial port" : "PV console");
	if (vnc)
		printf("  vnc:       %s\n", vnc);
	printf("When the installer powers the guest off or reboots it, %s boots from its disk%s.\n",
	       name, cmd_flag(a, "no-start") ? " (it is not started again: --no-start)" : "");
	return VMCTL_EXIT_OK;
}

int print_migrate(const struct args *a, json_t *result)
{
	const char *name = get_str(result, "name"), *host = get_str(result, "host");
	json_t *total = json_object_get(result, "total_ms");
	json_t *down = json_object_get(result, "downtime_ms");
	json_t *domid = json_object_get(result, "domid");

	if (!name || !host || !json_is_integer(total) || !json_is_integer(down))
		return util_malformed("no name, host or times");
	printf("migrated %s to %s (domid %" JSON_INTEGER_FORMAT " there) in %.1f s, %s for %"
	       JSON_INTEGER_FORMAT " ms\n", name, host,
	       json_is_integer(domid) ? json_integer_value(domid) : -1,
	       (double)json_integer_value(total) / 1000.0,
	       json_is_true(json_object_get(result, "live")) ? "down" : "paused",
	       json_integer_value(down));
	return VMCTL_EXIT_OK;
}

int print_save(const struct args *a, json_t *result)
{
	const char *name = get_str(result, "name"), *file = get_str(result, "file");
	json_t *total = json_object_get(result, "total_ms");
	json_t *bytes = json_object_get(result, "bytes");

	if (!name || !file || !json_is_integer(total) || !json_is_integer(bytes))
		return util_malformed("no name, file, size or time");
	printf("saved %s to %s (%.1f MiB in %.1f s)%s\n", name,
	       json_is_true(json_object_get(result, "managed")) ? "its managed save" : file,
	       (double)json_integer_value(bytes) / (1024.0 * 1024.0),
	       (double)json_integer_value(total) / 1000.0,
	       json_is_true(json_object_get(result, "keep_running")) ? "; it runs on"
	       : json_is_true(json_object_get(result, "managed")) ? "; 'vmctl start' restores it"
								   : "");
	return VMCTL_EXIT_OK;
}

/* Where a change (vcpu-set, block-attach, ...) went, from its result's live and config;
 * live_only: what to say when only the running guest has it. */
static const char *where(json_t *result, const char *live_only)
{
	bool live = json_is_true(json_object_get(result, "live"));
	bool config = json_is_true(json_object_get(result, "config"));

	return live && config ? "running and definition"
	       : live	      ? live_only
			      : "definition: from the next boot";
}

/* vcpu-set, mem-set: what changed, and where. */
int print_set(const struct args *a, json_t *result)
{
	const char *name = get_str(result, "name");
	bool vcpus = json_is_integer(json_object_get(result, "vcpus"));
	json_t *v = json_object_get(result, vcpus ? "vcpus" : "memory");

	if (!name || !json_is_integer(v))
		return util_malformed("no name or value");
	printf("%s: %s %" JSON_INTEGER_FORMAT "%s (%s)\n", name, vcpus ? "vCPUs" : "memory",
	       json_integer_value(v), vcpus ? "" : " MiB",
	       where(result, "running only; the next boot has the definition's"));
	return VMCTL_EXIT_OK;
}

int print_sched_set(const struct args *a, json_t *result)
{
	const char *name = get_str(result, "name");
	json_t *w = json_object_get(result, "weight"), *c = json_object_get(result, "cap");

	if (!name)
		return util_malformed("no name");
	printf("%s:", name);
	if (json_is_integer(w))
		printf(" weight %" JSON_INTEGER_FORMAT, json_integer_value(w));
	if (json_is_integer(c))
		printf("%s cap %" JSON_INTEGER_FORMAT "%%", json_is_integer(w) ? "," : "",
		       json_integer_value(c));
	printf(" (%s)\n", where(result, "running only"));
	return VMCTL_EXIT_OK;
}

int print_block(const struct args *a, json_t *result)
{
	const char *name = get_str(result, "name"), *vdev = get_str(result, "vdev");
	const char *mac = get_str(result, "mac");

	if (!name || !(vdev || mac))
		return util_malformed("no name, vdev or mac");
	if (get_str(result, "rate"))
		printf("%s: vif %s rate %s (%s)\n", name, mac, get_str(result, "rate"),
		       where(result, "running only; the next boot has the definition's"));
	else
		printf("%s: %s %s%s (%s)\n", name, a->cmd->done, vdev ? "" : "vif ",
		       vdev ? vdev : mac, where(result, "running only"));
	return VMCTL_EXIT_OK;
}

/* start and restore: a restore says where from. */
int print_restored(const struct args *a, json_t *vm)
{
	const char *from = get_str(vm, "restored_from");
	json_t *total = json_object_get(vm, "total_ms");

	if (!from || !json_is_integer(total))
		return print_vm_action(a, vm);
	if (!get_str(vm, "name"))
		return util_malformed("no guest name");
	printf("restored %s (domid %" JSON_INTEGER_FORMAT ") from %s in %.1f s\n",
	       get_str(vm, "name"), json_integer_value(json_object_get(vm, "domid")),
	       strcmp(a->cmd->verb, "start") == 0 ? "its managed save" : from,
	       (double)json_integer_value(total) / 1000.0);
	return VMCTL_EXIT_OK;
}

int print_clone(const struct args *a, json_t *result)
{
	json_t *vm = json_object_get(result, "vm");
	const char *name = get_str(vm, "name");
	json_t *domid = json_object_get(vm, "domid");
	json_t *copied = json_object_get(result, "copied");
	json_t *shared = json_object_get(result, "shared");
	json_t *d;
	size_t i;

	if (!name || !json_is_array(copied) || !json_is_array(shared))
		return util_malformed("no guest name or disk lists");
	printf("cloned %s as %s", a->pos[0], name);
	if (json_is_integer(domid))
		printf(" (started, domid %" JSON_INTEGER_FORMAT ")", json_integer_value(domid));
	fputs(json_is_true(json_object_get(result, "sysprep")) ? " (sysprepped)\n" : "\n",
	      stdout);
	json_array_foreach(copied, i, d) {
		char size[32];

		output_mib(json_number_value(json_object_get(d, "bytes")) / (1024.0 * 1024.0),
			   size, sizeof(size));
		printf("  %s: %s -> %s (%s, %s)\n", output_str_or(d, "vdev", "?"),
		       output_str_or(d, "source", "?"), output_str_or(d, "target", "?"), size,
		       output_str_or(d, "method", "?"));
	}
	json_array_foreach(shared, i, d)
		printf("  %s: %s (shared)\n", output_str_or(d, "vdev", "?"),
		       output_str_or(d, "target", "?"));
	return VMCTL_EXIT_OK;
}

int print_disk_create(const struct args *a, json_t *result)
{
	const char *path = get_str(result, "path");
	json_t *size = json_object_get(result, "size");
	char buf[32];

	if (!path || !json_is_integer(size))
		return util_malformed("no path or size");
	output_mib((double)json_integer_value(size) / (1024.0 * 1024.0), buf, sizeof(buf));
	printf("created %s (%s, sparse)\n", path, buf);
	return VMCTL_EXIT_OK;
}

int print_config(const struct args *a, json_t *result)
{
	json_t *text = json_object_get(result, "xlcfg");
	size_t len;

	if (!json_is_string(text))
		return util_malformed("no \"xlcfg\" text");
	len = json_string_length(text);
	fwrite(json_string_value(text), 1, len, stdout);
	if (len > 0 && json_string_value(text)[len - 1] != '\n')
		fputc('\n', stdout);
	return VMCTL_EXIT_OK;
}

int print_autostart(const struct args *a, json_t *result)
{
	const char *name = get_str(result, "name");
	json_t *on = json_object_get(result, "autostart");

	if (!name || !json_is_boolean(on))
		return util_malformed("no guest name or autostart flag");
	printf("autostart %s %s\n", name, json_is_true(on) ? "on" : "off");
	return VMCTL_EXIT_OK;
}

int print_version(const struct args *a, json_t *result)
{
	json_t *proto = json_object_get(result, "protocol");

	if (!json_is_object(result))
		return util_malformed("result is not an object");
	if (json_is_integer(proto) && json_integer_value(proto) != VMD_PROTO_VERSION)
		util_warn("warning: daemon speaks protocol %" JSON_INTEGER_FORMAT
			  ", this client %d", json_integer_value(proto), VMD_PROTO_VERSION);
	if (output_is_json()) {
		json_object_set_new(result, "client", json_string(VMD_VERSION));
		output_json(result);
		return VMCTL_EXIT_OK;
	}
	printf("vmctl %s (protocol %d)\n", VMD_VERSION, VMD_PROTO_VERSION);
	printf("vmd %s (protocol ", output_str_or(result, "version", "?"));
	output_info_value(stdout, "protocol", proto ? proto : json_null());
	printf(", backend %s, hypervisor %s)\n", output_str_or(result, "backend", "?"),
	       output_str_or(result, "hypervisor", "?"));
	return VMCTL_EXIT_OK;
}

void print_event(json_t *ev)
{
	json_t *t = json_object_get(ev, "time");
	const char *name = get_str(ev, "name");
	const char *event = get_str(ev, "event");
	const char *state = get_str(ev, "state");
	char when[64] = "-", dom[24];

	if (output_is_json()) {
		output_json(ev);
		return;
	}
	if (json_is_number(t)) {
		time_t secs = (time_t)json_number_value(t);
		struct tm tm;

		if (localtime_r(&secs, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	}
	printf("%s %s %s state=%s domid=%s\n", when, name ? name : "?", event ? event : "?",
	       state ? state : "?", output_domid(json_object_get(ev, "domid"), dom, sizeof(dom)));
	fflush(stdout);
}

/* snapshot create / revert / delete: what was done to which disks. */
int print_snapshot(const struct args *a, json_t *result)
{
	const char *name = get_str(result, "name"), *snap = get_str(result, "snapshot");
	json_t *disks = json_object_get(result, "disks");
	json_t *paused = json_object_get(result, "paused_ms");
	json_t *restored = json_object_get(result, "restored");
	json_t *d;
	size_t i;

	if (!name || !snap)
		return util_malformed("no name or snapshot");
	if (strcmp(a->cmd->verb, "snapshot delete") == 0) {
		printf("%s: snapshot %s deleted\n", name, snap);
		return VMCTL_EXIT_OK;
	}
	printf("%s: %s %s\n", name,
	       strcmp(a->cmd->verb, "snapshot revert") == 0 ? "reverted to snapshot" : "snapshot",
	       snap);
	json_array_foreach(disks, i, d)
		printf("  %s  %s (%s)\n", output_str_or(d, "vdev", "?"),
		       output_str_or(d, "image", "?"), output_str_or(d, "method", "?"));
	if (get_str(result, "memory"))
		printf("  memory  %s\n", get_str(result, "memory"));
	if (json_is_number(paused))
		printf("the guest was paused for %.1f ms\n", json_number_value(paused));
	if (json_is_object(restored))
		printf("the guest runs again from the snapshot's memory (domain %"
		       JSON_INTEGER_FORMAT ", %s)\n",
		       json_integer_value(json_object_get(restored, "domid")),
		       output_str_or(restored, "state", "?"));
	return VMCTL_EXIT_OK;
}

int print_snapshot_list(const struct args *a, json_t *result)
{
	enum { NCOLS = 6 };
	static const char *const headers[NCOLS] = { "SNAPSHOT", "CREATED", "RUNNING", "MEMORY",
						    "PAUSED", "DISKS" };
	static const bool right[NCOLS] = { false, false, false, false, true, true };
	json_t *snaps = json_object_get(result, "snapshots");
	size_t n = json_array_size(snaps), i;
	char **cells;
	json_t *s;

	if (!json_is_array(snaps))
		return util_malformed("no \"snapshots\" array");
	cells = calloc(n * NCOLS + 1, sizeof(*cells));
	if (!cells) {
		util_warn("out of memory");
		return VMCTL_EXIT_FAIL;
	}
	json_array_foreach(snaps, i, s) {
		char **row = cells + i * NCOLS;
		char when[32] = "?";
		time_t t = (time_t)json_number_value(json_object_get(s, "created"));
		struct tm tm;
		json_t *paused = json_object_get(s, "paused_ms");

		if (localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		row[0] = strdup(output_str_or(s, "snapshot", "?"));
		row[1] = strdup(when);
		row[2] = strdup(output_yes_no(json_object_get(s, "running")));
		row[3] = strdup(get_str(s, "memory") ? "yes" : "no");
		if (!json_is_number(paused) || asprintf(&row[4], "%.1f ms",
							json_number_value(paused)) < 0)
			row[4] = strdup("-");
		if (asprintf(&row[5], "%zu", json_array_size(json_object_get(s, "disks"))) < 0)
			row[5] = NULL;
	}
	output_table(NCOLS, headers, right, cells, n);
	for (i = 0; i < n * NCOLS; i++)
		free(cells[i]);
	free(cells);
	return VMCTL_EXIT_OK;
}

/* A counter for a person: bytes in KiB, MiB or GiB; "-" when the backend has none. */
static char *counter_text(json_t *v, bool bytes)
{
	char *s = NULL;
	double n = (double)json_integer_value(v);
	int r;

	if (!json_is_integer(v))
		return strdup("-");
	if (!bytes)
		r = asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (n >= 1024.0 * 1024 * 1024)
		r = asprintf(&s, "%.1f GiB", n / (1024.0 * 1024 * 1024));
	else if (n >= 1024.0 * 1024)
		r = asprintf(&s, "%.1f MiB", n / (1024.0 * 1024));
	else
		r = asprintf(&s, "%.1f KiB", n / 1024.0);
	return r < 0 ? NULL : s;
}

/* Rows of counters (disks or vifs): the first column a string, then four counters. */
static void counter_table(json_t *rows, const char *const headers[5], const char *first,
			  const char *const keys[4])
{
	static const bool right[5] = { false, true, true, true, true };
	size_t n = json_array_size(rows), i;
	char **cells = calloc(n * 5 + 1, sizeof(*cells));
	json_t *row;

	if (!cells || !n) {
		free(cells);
		return;
	}
	json_array_foreach(rows, i, row) {
		cells[i * 5] = strdup(output_str_or(row, first, "?"));
		for (int k = 0; k < 4; k++)
			cells[i * 5 + 1 + k] = counter_text(json_object_get(row, keys[k]),
							    strstr(keys[k], "bytes") != NULL);
	}
	output_table(5, headers, right, cells, n);
	for (i = 0; i < n * 5; i++)
		free(cells[i]);
	free(cells);
}

int print_stats(const struct args *a, json_t *result)
{
	static const char *const dh[5] = { "DISK", "READ", "READS", "WRITTEN", "WRITES" };
	static const char *const dk[4] = { "rd_bytes", "rd_req", "wr_bytes", "wr_req" };
	static const char *const vh[5] = { "VIF", "RECEIVED", "PACKETS", "SENT", "PACKETS" };
	static const char *const vk[4] = { "rx_bytes", "rx_packets", "tx_bytes", "tx_packets" };
	const char *name = get_str(result, "name");
	json_t *cpu = json_object_get(result, "cpu"), *mem = json_object_get(result, "memory");
	json_t *pct = json_object_get(cpu, "percent");

	(void)a;
	if (!name || !json_is_object(cpu) || !json_is_object(mem))
		return util_malformed("no name, cpu or memory");
	printf("%s: domain %" JSON_INTEGER_FORMAT ", %s\n", name,
	       json_integer_value(json_object_get(result, "domid")),
	       output_str_or(result, "state", "?"));
	printf("  cpu     %.1f s", json_number_value(json_object_get(cpu, "time_s")));
	if (json_is_number(pct))
		printf(", %.1f %% over %.1f s", json_number_value(pct),
		       json_number_value(json_object_get(cpu, "window_s")));
	printf(" (%" JSON_INTEGER_FORMAT " vCPUs)\n",
	       json_integer_value(json_object_get(cpu, "vcpus")));
	printf("  memory  %" JSON_INTEGER_FORMAT " MiB (max %" JSON_INTEGER_FORMAT " MiB)\n",
	       json_integer_value(json_object_get(mem, "current_kib")) / 1024,
	       json_integer_value(json_object_get(mem, "max_kib")) / 1024);
	counter_table(json_object_get(result, "disks"), dh, "vdev", dk);
	counter_table(json_object_get(result, "vifs"), vh, "mac", vk);
	return VMCTL_EXIT_OK;
}
