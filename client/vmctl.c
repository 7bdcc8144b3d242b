/*
 * vmctl: the command-line client of vmd.
 *
 * One request per invocation over the daemon's socket (transport.c): JSON-RPC 2.0, one compact
 * JSON object per line (proto/vmd-protocol.md). Every verb is one row of the command table
 * below, which also generates the usage text, so the two cannot drift apart: cmd.c reads the
 * words by the row, the row's .parse (params.c) builds the request, its .print (print.c)
 * shows the result, and its flags say what else the verb does (a console, a stream of events).
 * Output is the same human form whether or not stdout is a terminal (scripts use --json, we
 * do not guess); only the progress bar depends on stderr being a terminal.
 *
 * Exit status:
 *   0    success
 *   1    usage error, or transport failure (cannot connect, connection closed, malformed reply)
 *   2    the daemon answered with an error ("vmctl: MESSAGE" on stderr; with --json the error
 *        object is also printed on stdout so scripts can read its code)
 *   130  interrupted by SIGINT (other fatal signals: 128 + signal number); closing the
 *        connection is what tells the daemon to cancel the jobs we started
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd.h"
#include "console.h"
#include "edit.h"
#include "metrics.h"
#include "image.h"
#include "network.h"
#include "output.h"
#include "params.h"
#include "print.h"
#include "proxy.h"
#include "remote.h"
#include "top.h"
#include "transport.h"
#include "util.h"
#include "vmd-proto.h"

#ifndef VMD_VERSION
#define VMD_VERSION "unknown"
#endif

/* The verbs, in the order of the command list; the fields are explained in cmd.h. */
static const struct cmd cmds[] = {
	{ .verb = "create", .method = "vm.create", .usage = "FILE | NAME --image FILE",
	  .min_args = 1, .max_args = 1,
	  .flags = { { "dry-run", NULL }, { "image", "FILE" }, { "cloud-init", "FILE" },
		     { "disk-size", "SIZE" }, { "type", "pv|pvh|hvm" }, { "memory", "MIB" },
		     { "vcpus", "N" }, { "network", "NAME" }, { "bridge", "BR" },
		     { "meta-data", "FILE" }, { "network-config", "FILE" }, { "ssh-key", "FILE" },
		     { "disk", "PATH" }, { "overlay", NULL }, { "no-start", NULL } },
	  .help = "define and start a guest (FILE.cfg|FILE.json|- stdin; --dry-run: print the "
		  "libxl config, as xl -N create); or a guest NAME from a cloud image and a "
		  "cloud-init user-data (--image, --cloud-init)",
	  .parse = params_create, .print = print_created },
	{ .verb = "define", .method = "vm.define", .usage = "FILE", .min_args = 1, .max_args = 1,
	  .flags = { { "dry-run", NULL } },
	  .help = "define a guest without starting it",
	  .parse = params_file, .print = print_define },
	{ .verb = "start", .method = "vm.start", .usage = "NAME", .min_args = 1, .max_args = 1,
	  .flags = { { "discard-save", NULL }, { "paused", NULL } },
	  .help = "start a defined guest (from its managed save, if it has one; --discard-save: "
		  "boot afresh)",
	  .parse = params_start, .print = print_restored, .done = "started" },
	{ .verb = "shutdown", .method = "vm.shutdown", .usage = "NAME",
	  .min_args = 1, .max_args = 1,
	  .flags = { { "wait", NULL }, { "timeout", "S" } },
	  .help = "ask a guest to shut down (--wait: until stopped)",
	  .parse = params_shutdown, .print = print_shutdown },
	{ .verb = "reboot", .method = "vm.reboot", .usage = "NAME", .min_args = 1, .max_args = 1,
	  .help = "ask a guest to reboot",
	  .parse = params_name, .print = print_vm_action, .done = "rebooting" },
	{ .verb = "destroy", .method = "vm.destroy", .usage = "NAME", .min_args = 1, .max_args = 1,
	  .help = "power a guest off at once (the definition stays)",
	  .parse = params_name, .print = print_vm_action, .done = "destroyed" },
	{ .verb = "pause", .method = "vm.pause", .usage = "NAME", .min_args = 1, .max_args = 1,
	  .help = "pause a running guest",
	  .parse = params_name, .print = print_vm_action, .done = "paused" },
	{ .verb = "unpause", .method = "vm.unpause", .usage = "NAME", .min_args = 1, .max_args = 1,
	  .help = "resume a paused guest",
	  .parse = params_name, .print = print_vm_action, .done = "unpaused" },
	{ .verb = "list", .method = "vm.list",
	  .flags = { { "all", NULL }, { "addresses", NULL } },
	  .help = "list running guests (--all: stopped definitions too; --addresses: each one's "
		  "first address)",
	  .parse = params_list, .print = print_list },
	{ .verb = "info", .method = "vm.info", .usage = "NAME", .min_args = 1, .max_args = 1,
	  .help = "show a guest's details",
	  .parse = params_name, .print = print_info },
	{ .verb = "stats", .method = "vm.stats", .usage = "NAME", .min_args = 1, .max_args = 1,
	  .help = "show what a running guest consumes: CPU, memory, disk and vif counters",
	  .parse = params_name, .print = print_stats },
	{ .verb = "addresses", .method = "vm.addresses", .usage = "NAME", .min_args = 1,
	  .max_args = 1,
	  .help = "show a guest's addresses: its managed network's DHCP lease and what its guest "
		  "agent published in xenstore",
	  .parse = params_name, .print = print_addresses },
	{ .verb = "metrics", .method = "vm.stats_all",
	  .flags = { { "output", "FILE" }, { "http", NULL } },
	  .help = "every running guest's figures in Prometheus' text format (--output: into "
		  "FILE, atomically, for node_exporter; --http: answer one scrape on stdin/out)",
	  .parse = params_metrics, .print = print_metrics },
	{ .verb = "top", .method = "vm.stats_all",
	  .flags = { { "delay", "S" }, { "iterations", "N" }, { "sort", "COLUMN" },
		     { "batch", NULL } },
	  .help = "every running guest's CPU, memory, disk and vif rates, refreshed as xentop "
		  "(q quits, s/S sort, r reverses; --batch: one table after the other)",
	  .parse = params_none, .top = true },
	{ .verb = "remove", .method = "vm.remove", .usage = "NAME", .min_args = 1, .max_args = 1,
	  .flags = { { "delete-disks", NULL } },
	  .help = "remove a stopped guest's definition",
	  .parse = params_remove, .print = print_remove },
	{ .verb = "config", .method = "vm.config", .usage = "NAME", .min_args = 1, .max_args = 1,
	  .flags = { { "json", NULL } },
	  .help = "print a guest's configuration as xl.cfg",
	  .parse = params_name, .print = print_config },
	{ .verb = "console", .method = "vm.console", .usage = "NAME", .min_args = 1, .max_args = 1,
	  .flags = { { "timeout", "S" } },
	  .help = "attach to a guest's console (--timeout: leave after S)",
	  .parse = params_console, .attach_console = true },
	{ .verb = "autostart", .method = "vm.autostart", .usage = "NAME on|off",
	  .min_args = 2, .max_args = 2,
	  .help = "start a guest at host boot, or not",
	  .parse = params_autostart, .print = print_autostart },
	{ .verb = "clone", .method = "vm.clone", .usage = "SOURCE NAME",
	  .min_args = 2, .max_args = 2,
	  .flags = { { "disk-dir", "DIR" }, { "start", NULL }, { "sysprep", NULL } },
	  .help = "copy a stopped guest, with its own disk images",
	  .parse = params_clone, .print = print_clone },
	{ .verb = "migrate", .method = "vm.migrate", .usage = "NAME ssh://[user@]host[:port][/socket]",
	  .min_args = 2, .max_args = 2,
	  .flags = { { "live", NULL } },
	  .help = "move a running guest to the vmd of another host, over ssh (--live: it runs "
		  "while its memory is copied)",
	  .parse = params_migrate, .print = print_migrate },
	{ .verb = "save", .method = "vm.save", .usage = "NAME [FILE]", .min_args = 1,
	  .max_args = 2,
	  .flags = { { "keep-running", NULL } },
	  .help = "write a guest's memory to FILE and stop it (no FILE: a managed save, restored "
		  "by the next start; --keep-running: a checkpoint)",
	  .parse = params_save, .print = print_save },
	{ .verb = "restore", .method = "vm.restore", .usage = "FILE", .min_args = 1,
	  .max_args = 1,
	  .flags = { { "paused", NULL } },
	  .help = "run a guest again from a save file (defining it if this host lacks it)",
	  .parse = params_restore, .print = print_restored, .done = "restored" },
	{ .verb = "edit", .method = "vm.config", .usage = "NAME", .min_args = 1, .max_args = 1,
	  .help = "edit a guest's definition in $EDITOR, then update it (vm.update: what can "
		  "change in the running guest changes now, the rest at the next boot)",
	  .parse = params_name, .edit = true },
	{ .verb = "update", .method = "vm.update", .usage = "NAME FILE", .min_args = 2,
	  .max_args = 2,
	  .flags = { { "dry-run", NULL }, { "config", NULL } },
	  .help = "replace a guest's definition with FILE (xl.cfg or .json), changing the running "
		  "guest where it can (--config: the definition alone; --dry-run: show the plan)",
	  .parse = params_update, .print = print_update },
	{ .verb = "vcpu-set", .method = "vm.set_vcpus", .usage = "NAME N", .min_args = 2,
	  .max_args = 2,
	  .flags = { { "live", NULL }, { "config", NULL } },
	  .help = "set the online vCPUs (up to maxvcpus) of the running guest and its definition "
		  "(--live / --config: one of them)",
	  .parse = params_vcpu_set, .print = print_set },
	{ .verb = "mem-set", .method = "vm.set_memory", .usage = "NAME SIZE", .min_args = 2,
	  .max_args = 2,
	  .flags = { { "live", NULL }, { "config", NULL } },
	  .help = "set the memory target (MiB, or 512M, 2G; up to maxmem) of the running guest "
		  "and its definition (--live / --config: one of them)",
	  .parse = params_mem_set, .print = print_set },
	{ .verb = "sched-set", .method = "vm.set_sched", .usage = "NAME", .min_args = 1,
	  .max_args = 1,
	  .flags = { { "weight", "W" }, { "cap", "PCT" }, { "live", NULL }, { "config", NULL } },
	  .help = "set the scheduler weight (1-65535) and cap (% of a CPU, 0: none) of the running "
		  "guest and its definition (--live / --config: one of them)",
	  .parse = params_sched_set, .print = print_sched_set },
	{ .verb = "block-attach", .method = "vm.attach_disk", .usage = "NAME SPEC",
	  .min_args = 2, .max_args = 2,
	  .flags = { { "live", NULL }, { "config", NULL } },
	  .help = "hot-plug a disk (an xl.cfg disk spec: 'format=raw, vdev=xvdb, target=IMG') into "
		  "the running guest and its definition (--live / --config: one of them)",
	  .parse = params_block_attach, .print = print_block, .done = "attached" },
	{ .verb = "block-detach", .method = "vm.detach_disk", .usage = "NAME VDEV",
	  .min_args = 2, .max_args = 2,
	  .flags = { { "live", NULL }, { "config", NULL } },
	  .help = "unplug a disk (not the boot disk) from the running guest and its definition",
	  .parse = params_block_detach, .print = print_block, .done = "detached" },
	{ .verb = "cd-insert", .method = "vm.cd_insert", .usage = "NAME VDEV FILE",
	  .min_args = 3, .max_args = 3,
	  .flags = { { "live", NULL }, { "config", NULL } },
	  .help = "put FILE (an ISO) in an HVM guest's cdrom VDEV (hdc), running and defined",
	  .parse = params_cd_insert, .print = print_block, .done = "inserted into" },
	{ .verb = "cd-eject", .method = "vm.cd_eject", .usage = "NAME VDEV", .min_args = 2,
	  .max_args = 2,
	  .flags = { { "live", NULL }, { "config", NULL } },
	  .help = "empty an HVM guest's cdrom VDEV, running and defined",
	  .parse = params_cd_eject, .print = print_block, .done = "ejected" },
	{ .verb = "network-attach", .method = "vm.attach_nic", .usage = "NAME SPEC",
	  .min_args = 2, .max_args = 2,
	  .flags = { { "live", NULL }, { "config", NULL } },
	  .help = "hot-plug a vif (an xl.cfg vif spec: 'bridge=xenbr0'; a MAC is made if it has "
		  "none) into the running guest and its definition",
	  .parse = params_network_attach, .print = print_block, .done = "attached" },
	{ .verb = "network-detach", .method = "vm.detach_nic", .usage = "NAME MAC",
	  .min_args = 2, .max_args = 2,
	  .flags = { { "live", NULL }, { "config", NULL } },
	  .help = "unplug the vif of that MAC from the running guest and its definition",
	  .parse = params_network_detach, .print = print_block, .done = "detached" },
	{ .verb = "network-rate", .method = "vm.set_nic_rate", .usage = "NAME MAC RATE",
	  .min_args = 3, .max_args = 3,
	  .flags = { { "live", NULL }, { "config", NULL } },
	  .help = "set the rate limit of the vif of that MAC (xl.cfg's rate: 10Mb/s, 1MB/s@20ms, "
		  "none) in the running guest and its definition",
	  .parse = params_network_rate, .print = print_block },
	{ .verb = "install", .method = "vm.install",
	  .usage = "NAME (--iso FILE | --kernel FILE --initrd FILE)", .min_args = 1, .max_args = 1,
	  .flags = { { "iso", "FILE" }, { "type", "pv|hvm" }, { "kernel", "FILE" },
		     { "initrd", "FILE" }, { "extra", "ARGS" }, { "disk-size", "SIZE" },
		     { "disk", "PATH" }, { "memory", "MIB" }, { "vcpus", "N" }, { "bridge", "BR" },
		     { "no-network", NULL }, { "no-vnc", NULL }, { "no-start", NULL } },
	  .help = "make a disk, boot an installer, then the installed system",
	  .parse = params_install, .print = print_install },
	{ .verb = "disk create", .method = "disk.create", .usage = "PATH SIZE",
	  .min_args = 2, .max_args = 2,
	  .help = "create a sparse raw image (SIZE: 20G, 512M)",
	  .parse = params_disk_create, .print = print_disk_create },
	{ .verb = "snapshot create", .method = "vm.snapshot_create", .usage = "NAME [SNAP]",
	  .min_args = 1, .max_args = 2,
	  .flags = { { "memory", NULL } },
	  .help = "keep the guest's disks as they are now (running: paused for reflinks, XFS or "
		  "btrfs; --memory: its memory too, as a checkpoint); SNAP defaults to the time",
	  .parse = params_snapshot, .print = print_snapshot },
	{ .verb = "snapshot list", .method = "vm.snapshot_list", .usage = "NAME", .min_args = 1,
	  .max_args = 1,
	  .help = "list a guest's snapshots",
	  .parse = params_name, .print = print_snapshot_list },
	{ .verb = "snapshot revert", .method = "vm.snapshot_revert", .usage = "NAME SNAP",
	  .min_args = 2, .max_args = 2,
	  .help = "put a stopped guest's disks back as the snapshot has them (and run it from "
		  "its memory, if the snapshot has it)",
	  .parse = params_snapshot, .print = print_snapshot },
	{ .verb = "snapshot delete", .method = "vm.snapshot_delete", .usage = "NAME SNAP",
	  .min_args = 2, .max_args = 2,
	  .help = "delete a snapshot: exactly the copies it made",
	  .parse = params_snapshot, .print = print_snapshot },
	{ .verb = "network create", .method = "network.create", .usage = "NAME", .min_args = 1,
	  .max_args = 1,
	  .flags = { { "nat", NULL }, { "isolated", NULL }, { "interface", "IF" },
		     { "subnet", "CIDR" }, { "no-dhcp", NULL } },
	  .help = "make a bridge NAME that vmd keeps (vifs: bridge=NAME): --nat (default: a "
		  "subnet, DHCP and DNS by dnsmasq, NAT by nftables), --isolated, --interface IF",
	  .parse = params_network_create, .print = print_network },
	{ .verb = "network list", .method = "network.list",
	  .help = "list the managed networks",
	  .parse = params_none, .print = print_network_list },
	{ .verb = "network info", .method = "network.info", .usage = "NAME", .min_args = 1,
	  .max_args = 1,
	  .help = "show a managed network, its guests and its DHCP leases",
	  .parse = params_network_name, .print = print_network },
	{ .verb = "network remove", .method = "network.remove", .usage = "NAME", .min_args = 1,
	  .max_args = 1,
	  .help = "take a managed network down (refused while a guest's vif names it)",
	  .parse = params_network_name, .print = print_network_remove },
	{ .verb = "image add", .method = "image.add", .usage = "NAME FILE", .min_args = 2,
	  .max_args = 2,
	  .help = "copy a cloud image (raw or qcow2) in as NAME, for create --image NAME",
	  .parse = params_image_add, .print = print_image },
	{ .verb = "image list", .method = "image.list",
	  .help = "list the named images and the guests that use them",
	  .parse = params_none, .print = print_image_list },
	{ .verb = "image remove", .method = "image.remove", .usage = "NAME", .min_args = 1,
	  .max_args = 1,
	  .help = "delete a named image (refused while a guest's disk is an overlay of it)",
	  .parse = params_name, .print = print_image_remove },
	{ .verb = "events", .method = "events.subscribe",
	  .help = "print guest events as they happen",
	  .parse = params_none, .stream_events = true },
	{ .verb = "version", .method = "daemon.version",
	  .help = "print the versions of vmctl and vmd",
	  .parse = params_none, .print = print_version, .own_json = true },
	{ .verb = "proxy", .help = "join stdin and stdout to the daemon's socket (what -H runs "
				   "on the remote host)",
	  .local = proxy_run },
	{ .verb = "help", .help = "show this help" },
	{ 0 },
};

/* Explicit help goes to stdout (exit 0); usage after a mistake to stderr (exit 1). */
static void usage(FILE *f)
{
	char buf[256];
	int width = 0;

	for (const struct cmd *c = cmds; c->verb; c++) {
		cmd_synopsis(c, false, buf, sizeof(buf));
		if ((int)strlen(buf) > width)
			width = (int)strlen(buf);
	}
	fprintf(f,
		"usage: vmctl [-j] [-s PATH | -H URI] COMMAND [ARGS...]\n"
		"       vmctl -h | -V\n"
		"\n"
		"options:\n"
		"  -s, --socket PATH  daemon socket (default: $%s, else %s)\n"
		"  -H, --host URI     vmd on another host: ssh://[user@]host[:port][/socket]\n"
		"                     (default: $%s; over OpenSSH, see vmctl(1))\n"
		"  -j, --json         print results as compact JSON, one object per line\n"
		"  -h, --help         show this help\n"
		"  -V, --version      print the version of vmctl\n"
		"\n"
		"commands:\n",
		VMD_SOCKET_ENV, VMD_DEFAULT_SOCKET, VMD_HOST_ENV);
	for (const struct cmd *c = cmds; c->verb; c++) {
		cmd_synopsis(c, false, buf, sizeof(buf));
		fprintf(f, "  %-*s  %s\n", width, buf, c->help);
	}
	fputs("\n"
	      "In a console, type the escape character (^]) to detach.\n"
	      "Exit status: 0 success; 1 usage error or transport failure (no daemon, connection\n"
	      "closed, malformed reply); 2 error reported by the daemon; 130 interrupted.\n",
	      f);
}

/* A fatal signal: leave the terminal as we found it; the kernel closes the socket. */
static void on_fatal_signal(int sig)
{
	console_restore_on_signal();
	output_restore_on_signal();
	top_restore_on_signal();
	_exit(128 + sig);
}

static void setup_signals(void)
{
	/* SIGPIPE too: `vmctl events | head -1` should end quietly, as other tools do. */
	static const int fatal[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };
	struct sigaction sa = { .sa_handler = on_fatal_signal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		struct sigaction old;

		/* An ignored signal stays ignored: `nohup vmctl events &` must survive SIGHUP. */
		if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaction(fatal[i], &sa, NULL);
	}
}

/* .attach_console: vm.console named the pty; hang up (*t becomes NULL) and relay to it. */
static int attach_console(struct transport **t, const struct args *a, json_t *result)
{
	const char *path = json_string_value(json_object_get(result, "path"));
	const char *name = json_string_value(json_object_get(result, "name"));

	if (!path || !*path)
		return util_malformed("no console path");
	/* The daemon's part is done; the relay talks to the pty directly. */
	transport_close(*t);
	*t = NULL;
	return console_attach(name ? name : a->pos[0], path,
			      json_string_value(json_object_get(result, "escape")),
			      params_console_timeout(a));
}

/* .stream_events: after events.subscribe, each vm.event goes to print_event (the handler
 * given to the transport) until the daemon closes the connection. */
static int stream_events(struct transport *t)
{
	for (;;) {
		int rc = transport_read(t);

		if (rc > 0)
			return VMCTL_EXIT_OK;
		if (rc < 0)
			return VMCTL_EXIT_FAIL;
		/* With SIGPIPE ignored by our parent, a closed stdout shows only here. */
		if (ferror(stdout)) {
			util_warn("cannot write output: %s", strerror(errno));
			return VMCTL_EXIT_FAIL;
		}
	}
}

/* The daemon answered: the verb's way with its result. */
static int use_result(const struct cmd *cmd, const struct args *a, struct transport **t,
		      json_t *result)
{
	if (cmd->attach_console)
		return attach_console(t, a, result);
	if (cmd->stream_events)
		return stream_events(*t);
	if (cmd->edit)
		return edit_run(*t, a, result);
	if (cmd->top && !output_is_json())
		return top_run(*t, a, result);
	if (output_is_json() && !cmd->own_json) {
		output_json(result);
		return VMCTL_EXIT_OK;
	}
	return cmd->print(a, result);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "host", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path, *host, *socket_opt = NULL, *host_opt = NULL;
	const struct cmd *cmd;
	struct args args;
	struct transport_handlers on = {
		.progress = output_progress,
		.progress_end = output_progress_end,
	};
	struct transport *t;
	json_t *params, *reply;
	bool json = false;
	int opt, rc, words;

	setup_signals();
	opterr = 0;
	/* "+": stop at the verb; its own options are parsed from the table. */
	while ((opt = getopt_long(argc, argv, "+s:H:jhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_opt = optarg;
			break;
		case 'H':
			host_opt = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'V':
			printf("vmctl %s (protocol %d)\n", VMD_VERSION, VMD_PROTO_VERSION);
			return VMCTL_EXIT_OK;
		case 'h':
			usage(stdout);
			return VMCTL_EXIT_OK;
		default:
			if (optopt == 's')
				util_warn("option -s needs a socket path");
			else if (optopt == 'H')
				util_warn("option -H needs a host URI (ssh://[user@]host[:port][/path])");
			else if (optopt)
				util_warn("unknown option -%c", optopt);
			else
				util_warn("unknown option %s", argv[optind - 1]);
			usage(stderr);
			return VMCTL_EXIT_FAIL;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return VMCTL_EXIT_FAIL;
	}
	cmd = cmd_find(cmds, argc - optind, argv + optind, &words);
	if (!cmd) {
		util_warn("unknown command %s", argv[optind]);
		usage(stderr);
		return VMCTL_EXIT_FAIL;
	}
	/* Where: an explicit -H or -s, else $VMD_HOST, else $VMD_SOCKET, else the default. */
	if (socket_opt && host_opt) {
		util_warn("-s and -H exclude each other (a remote socket is the path of the URI: "
			  "ssh://host/run/vmd/vmd.sock)");
		return VMCTL_EXIT_FAIL;
	}
	host = host_opt ? host_opt : socket_opt ? NULL : getenv(VMD_HOST_ENV);
	if (host && !*host)
		host = NULL;
	socket_path = socket_opt ? socket_opt : getenv(VMD_SOCKET_ENV);
	if (!socket_path || !*socket_path)
		socket_path = VMD_DEFAULT_SOCKET;
	if (cmd->local) { /* "proxy": nothing to ask, bytes to move */
		if (host) {
			util_warn("%s joins a local socket; it is what -H runs on the remote host",
				  cmd->verb);
			return VMCTL_EXIT_FAIL;
		}
		if (argc - optind - words > 0) {
			util_warn("%s takes no arguments", cmd->verb);
			return VMCTL_EXIT_FAIL;
		}
		return cmd->local(socket_path);
	}
	if (!cmd->method) { /* "help" */
		usage(stdout);
		return VMCTL_EXIT_OK;
	}
	if (cmd_parse(cmd, argc - optind - words, argv + optind + words, &args) < 0)
		return VMCTL_EXIT_FAIL;
	output_init(json || args.json);
	params = cmd->parse(&args);
	if (!params)
		return VMCTL_EXIT_FAIL;
	if (host && cmd->attach_console) {
		/* The relay needs the pty, which is on the remote host: its vmctl relays, under
		 * ssh -t, the words checked above. */
		struct remote r;

		json_decref(params);
		if (remote_parse(host, &r) < 0)
			return VMCTL_EXIT_FAIL;
		return remote_run(&r, argc - optind, argv + optind);
	}
	on.event = cmd->stream_events ? print_event : NULL;
	t = transport_open(socket_path, host, &on);
	if (!t) {
		json_decref(params);
		return VMCTL_EXIT_FAIL;
	}
	rc = transport_call(t, cmd->method, params, &reply);
	if (rc == VMCTL_EXIT_OK)
		rc = use_result(cmd, &args, &t, reply);
	else if (rc == VMCTL_EXIT_DAEMON)
		rc = output_error(reply);
	json_decref(reply);
	transport_close(t);
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == VMCTL_EXIT_OK) {
		util_warn("cannot write output: %s", strerror(errno));
		rc = VMCTL_EXIT_FAIL;
	}
	return rc;
}
