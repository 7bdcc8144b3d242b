/*
 * main.c: vmd, the daemon. Arguments, the event loop, signals, and the order in which the
 * pieces come up and go down. Guests are never touched on the way down: stopping vmd leaves
 * them running, and the next vmd adopts them.
 *
 * Settings come from the command line, then /etc/vmd/vmd.conf (conf.c), then the defaults.
 * Under systemd the listening sockets may be handed over (socket activation) and readiness
 * is reported once requests are served (Type=notify); without systemd vmd binds them itself.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "backend.h"
#include "conf.h"
#include "daemon.h"
#include "job.h"
#include "log.h"
#include "migrate.h"
#include "network.h"
#include "save.h"
#include "snapshot.h"
#include "ops.h"
#include "rpc.h"
#include "sdnotify.h"
#include "server.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"
#include "xlcfg.h"
#include "xlkeys.h"

#define DEFAULT_STATE_DIR "/var/lib/vmd"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmd [options]\n"
		"  -c, --config PATH       settings file (default %s; see vmd.conf(5))\n"
		"      --check-config      check the settings file, print OK or its errors, exit\n"
		"  -s, --socket PATH       listen on PATH (default %s)\n"
		"      --ro-socket PATH    read-only socket, or none (default: PATH-ro.sock)\n"
		"  -d, --state-dir DIR     guest definitions (default %s)\n"
		"      --run-dir DIR       runtime files (default: the socket's directory)\n"
		"  -b, --backend NAME      libxl (default when Xen is present) or sim\n"
		"  -l, --log-level LEVEL   error, warn, info (default) or debug\n"
		"      --syslog            log to syslog instead of stderr\n"
		"      --sim-memory MIB    sim: host memory (default 8192)\n"
		"      --sim-delay-ms MS   sim: guest reaction time (default 300)\n"
		"      --copy-rate MIB     clone copies: at most MIB MiB/s of data (default: no limit)\n"
		"      --no-autostart      leave autostart to systemd (vmd-guests.service)\n"
		"  -h, --help              this text\n"
		"  -V, --version           print the version\n",
		VMD_CONF_PATH, VMD_DEFAULT_SOCKET, DEFAULT_STATE_DIR);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	log_info("signal %d: stopping (guests keep running)", (int)sig);
	sdnotify_stopping();
	event_base_loopbreak(arg);
}

/* The core's events go to the clients that subscribed (daemon.h's on_event). */
static void broadcast_event(struct daemon *d, json_t *params)
{
	if (d->server)
		server_broadcast(d->server, "vm.event", params);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static const struct backend_ops *pick_backend(const char *name)
{
	struct err err = {0};
	if (name) {
		const struct backend_ops *ops = backend_find(name);
		if (!ops) {
			fprintf(stderr, "vmd: unknown backend '%s' (this build has:%s sim)\n", name,
#ifdef VMD_HAVE_LIBXL
				" libxl"
#else
				""
#endif
			);
			return NULL;
		}
		if (ops->available && !ops->available(&err)) {
			fprintf(stderr, "vmd: backend %s is not usable here: %s\n", name, err.msg);
			return NULL;
		}
		return ops;
	}
	/* Never fall back silently: a daemon that manages imaginary guests on a real host is
	 * worse than one that refuses to start. */
#ifdef VMD_HAVE_LIBXL
	const struct backend_ops *xl = backend_find("libxl");
	if (xl->available(&err))
		return xl;
	fprintf(stderr, "vmd: no usable Xen here (%s); use --backend=sim for the simulated "
			"hypervisor\n", err.msg);
#else
	fprintf(stderr, "vmd: built without libxl; use --backend=sim for the simulated "
			"hypervisor\n");
#endif
	return NULL;
}

/* What every translation of a guest config assumes, as xl takes it from its host: the
 * backend's cpus and nodes, xl.conf (vmd.conf xl_conf), then vmd.conf's claim_mode and
 * default_bridge over xl.conf's. Lives as long as the process. */
static struct host_info host_facts;
static struct xlkeys_host host;
static struct xlcfg_xl_conf xl_conf;

/* Descriptors: clients, consoles, libxl's children and images. The soft limit goes up to the
 * hard one (1024 by default is a few hundred clients). */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_debug("open files: %llu (was %llu)", (unsigned long long)rl.rlim_cur,
				  (unsigned long long)was);
	}
}

static int translation_host(struct daemon *d, const struct vmd_conf *conf)
{
	struct err err = {0};
	if (be_host_info(d->be, &host_facts, &err) < 0) {
		log_warn("cannot read the host's cpus (%s); assuming one", err.msg);
		err_clear(&err);
		host_facts.max_cpus = host_facts.nr_cpus = host_facts.nr_nodes = 1;
	}
	xlkeys_host_default(&host, host_facts.max_cpus);
	host.online_cpus = host_facts.nr_cpus > 0 ? host_facts.nr_cpus : host.max_cpus;
	host.nr_nodes = host_facts.nr_nodes > 0 ? host_facts.nr_nodes : 1;
	host.cpu_node = host_facts.cpu_node;
	if (xlcfg_xl_conf_read(conf->xl_conf, &host, &xl_conf, &err) < 0) {
		log_error("%s (xl would refuse it too; vmd.conf's xl_conf names another)", err.msg);
		err_clear(&err);
		return -1;
	}
	const char *claim_from = xl_conf.claim_mode >= 0 ? conf->xl_conf : "xl's default";
	if (conf->claim_mode >= 0) {
		host.claim_mode = conf->claim_mode == 1;
		claim_from = "vmd.conf";
	}
	if (conf->default_bridge)
		host.vif_bridge = conf->default_bridge;
	config_set_host(&host);
	log_info("guests are built for %d cpus (%d online), %d node(s); claim_mode %s (%s)%s%s",
		 host.max_cpus, host.online_cpus, host.nr_nodes, host.claim_mode ? "on" : "off",
		 claim_from, host.vif_bridge ? "; default bridge " : "",
		 host.vif_bridge ? host.vif_bridge : "");
	return 0;
}

/* A managed network's bridge, for the backend (backend_options.bridge_of). */
static const char *bridge_of(void *arg, const char *name)
{
	return network_bridge_of(arg, name);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"state-dir", required_argument, NULL, 'd'},
		{"run-dir", required_argument, NULL, 'r'},
		{"backend", required_argument, NULL, 'b'},
		{"log-level", required_argument, NULL, 'l'},
		{"syslog", no_argument, NULL, 'S'},
		{"sim-memory", required_argument, NULL, 'M'},
		{"sim-delay-ms", required_argument, NULL, 'D'},
		{"copy-rate", required_argument, NULL, 0x100},
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'C'},
		{"ro-socket", required_argument, NULL, 'R'},
		{"no-autostart", no_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *socket_path = NULL, *state_dir = NULL, *run_dir = NULL;
	const char *backend_name = NULL, *config_path = NULL, *ro_socket_opt = NULL;
	enum log_level level = LOG_LVL_INFO;
	bool level_set = false, sim_delay_set = false, check_config = false, no_autostart = false;
	int use_syslog = 0;
	uint64_t sim_mem = 0, sim_delay = 0, copy_rate = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "c:s:d:b:l:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			socket_path = optarg;
			break;
		case 'd':
			state_dir = optarg;
			break;
		case 'r':
			run_dir = optarg;
			break;
		case 'b':
			backend_name = optarg;
			break;
		case 'l':
			if (log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, "vmd: unknown log level '%s'\n", optarg);
				return 1;
			}
			level_set = true;
			break;
		case 'S':
			use_syslog = 1;
			break;
		case 'M':
			if (parse_u64(optarg, &sim_mem) < 0 || sim_mem == 0) {
				fprintf(stderr, "vmd: --sim-memory wants a positive number of MiB\n");
				return 1;
			}
			break;
		case 0x100:
			if (parse_u64(optarg, &copy_rate) < 0 || copy_rate == 0 ||
			    copy_rate > (1ull << 30)) {
				fprintf(stderr, "vmd: --copy-rate wants a positive number of MiB/s\n");
				return 1;
			}
			break;
		case 'D':
			if (parse_u64(optarg, &sim_delay) < 0 || sim_delay > 600000) {
				fprintf(stderr, "vmd: --sim-delay-ms wants 0..600000\n");
				return 1;
			}
			sim_delay_set = true;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check_config = true;
			break;
		case 'R':
			ro_socket_opt = optarg;
			break;
		case 'A':
			no_autostart = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vmd %s (protocol %d)\n", VMD_VERSION, VMD_PROTO_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 1;
	}

	/* The settings file: a missing default file means defaults; a missing --config file is
	 * an error, as is anything wrong in either. */
	struct vmd_conf conf;
	struct conf_diag diag = {0};
	conf_init(&conf);
	const char *conf_file = config_path ? config_path : VMD_CONF_PATH;
	int conf_errors = conf_load(&conf, conf_file, config_path != NULL, &diag);
	if (conf.backend && !backend_find(conf.backend)) {
		char *e = xasprintf("%s: backend %s is not in this build of vmd", conf_file,
				    conf.backend);
		diag.errors = xrealloc(diag.errors, (diag.n_errors + 1) * sizeof(char *));
		diag.errors[diag.n_errors++] = e;
		conf_errors++;
	}
	conf_check_host(&conf, &diag);
	if (check_config || conf_errors) {
		FILE *out = check_config ? stdout : stderr;
		for (size_t i = 0; i < diag.n_errors; i++)
			fprintf(out, "%s\n", diag.errors[i]);
		for (size_t i = 0; i < diag.n_warnings; i++)
			fprintf(out, "%s: warning: %s\n", conf_file, diag.warnings[i]);
		if (!conf_errors)
			fprintf(out, "%s: %s\n", conf_file,
				access(conf_file, F_OK) == 0 ? "OK" : "absent, the defaults are OK");
		conf_diag_finish(&diag);
		conf_finish(&conf);
		return conf_errors ? 1 : 0;
	}
	if (!socket_path)
		socket_path = getenv(VMD_SOCKET_ENV) ? getenv(VMD_SOCKET_ENV)
			    : conf.socket		  ? conf.socket
							  : VMD_DEFAULT_SOCKET;
	if (!state_dir)
		state_dir = conf.state_dir;
	if (!run_dir)
		run_dir = conf.run_dir;
	if (!backend_name)
		backend_name = conf.backend;
	if (!level_set)
		level = conf.log_level;
	if (!sim_mem)
		sim_mem = conf.sim_memory_mib;
	if (!sim_delay_set && conf.sim_delay_set)
		sim_delay = conf.sim_delay_ms;
	if (ro_socket_opt) {
		free(conf.ro_socket);
		conf.ro_socket = xstrdup(strcmp(ro_socket_opt, "none") ? ro_socket_opt : "");
	}
	char *ro_socket = conf_ro_socket(&conf, socket_path);
	if (state_dir[0] != '/' || socket_path[0] != '/' || (run_dir && run_dir[0] != '/') ||
	    (ro_socket && ro_socket[0] != '/')) {
		fprintf(stderr, "vmd: --socket, --ro-socket, --state-dir and --run-dir want "
				"absolute paths\n");
		free(ro_socket);
		conf_diag_finish(&diag);
		conf_finish(&conf);
		return 1;
	}
	conf_set_active(&conf);
	log_init(level, use_syslog);
	for (size_t i = 0; i < diag.n_warnings; i++)
		log_warn("%s: %s", conf_file, diag.warnings[i]);
	conf_diag_finish(&diag);
	const struct backend_ops *be_ops = pick_backend(backend_name);
	if (!be_ops) {
		free(ro_socket);
		conf_finish(&conf);
		return 1;
	}

	/* A client that vanishes mid-reply must cost us an EPIPE, not our life. */
	signal(SIGPIPE, SIG_IGN);

	struct daemon d = {.copy_rate = copy_rate * 1024 * 1024};
	struct event *sigterm = NULL, *sigint = NULL;
	int rc = 1;
	d.state_dir = xstrdup(state_dir);
	d.socket_path = xstrdup(socket_path);
	if (run_dir) {
		d.run_dir = xstrdup(run_dir);
	} else {
		d.run_dir = xstrdup(socket_path);
		*strrchr(d.run_dir, '/') = '\0';
		if (!d.run_dir[0])
			strcpy(d.run_dir, "/");
	}
	raise_nofile();
	d.on_event = broadcast_event;
	vm_registry_init(&d);
	d.base = event_base_new();
	if (!d.base) {
		log_error("cannot create the event loop");
		goto out;
	}
	/* Before anything is listening: a SIGTERM from then on must stop us cleanly (it is
	 * noted now and acted on when the loop starts). */
	sigterm = evsignal_new(d.base, SIGTERM, on_signal, d.base);
	sigint = evsignal_new(d.base, SIGINT, on_signal, d.base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	if (mkdir_p(d.state_dir, 0700) < 0 || mkdir_p(d.run_dir, 0755) < 0) {
		log_error("cannot create %s or %s: %s", d.state_dir, d.run_dir, strerror(errno));
		goto out;
	}
	if (store_open(&d.store, d.state_dir) < 0) {
		log_error("cannot open the state directory %s: %s", d.state_dir, strerror(errno));
		goto out;
	}
	struct backend_options bo = {
		.state_dir = d.state_dir,
		.sim_memory_mib = sim_mem,
		.sim_delay_ms = (unsigned)sim_delay,
		.on_event = vm_dom_event,
		.event_arg = &d,
		.bridge_of = bridge_of,
	};
	struct err err = {0};
	d.be = be_open(be_ops, d.base, &bo, &err);
	if (!d.be) {
		log_error("backend %s: %s", be_ops->name, err.msg);
		goto out;
	}
	if (translation_host(&d, &conf) < 0)
		goto out;
	if (vm_registry_load(&d) < 0)
		goto out;
	save_scan(&d);
	snap_scan(&d);
	if (network_start_all(&d) < 0)
		goto out;
	network_poll_start(&d);
	vm_adopt_all(&d);
	/* Jobs (clone, disk.create) run in worker threads. What a killed daemon's jobs left
	 * behind goes now: after the registry load, which tells the images a stored definition
	 * owns (kept) from those of a clone that never got its definition (removed). */
	if (job_system_init(&d) < 0) {
		log_error("cannot set up jobs in %s/jobs: %s", d.state_dir, strerror(errno));
		goto out;
	}
	job_recover(&d, vm_owns_file);
	/* Socket activation: systemd holds the sockets (and their modes) and hands them over;
	 * then we bind nothing ourselves, not even a socket it did not pass. */
	int rw_fd, ro_fd;
	char why[256];
	int n_fds = sdnotify_listen_fds(&rw_fd, &ro_fd, why, sizeof why);
	if (n_fds < 0) {
		log_error("%s", why);
		goto out;
	}
	/* What the server does with a connection's lines: the JSON-RPC dispatcher, serving
	 * ops.c's table of methods. */
	static struct server_hooks hooks;
	hooks = rpc_server_hooks(&ops_table);
	d.server = server_new(&d, d.socket_path, n_fds > 0 ? rw_fd : -1, &hooks);
	if (!d.server) {
		if (n_fds > 0)
			log_error("cannot serve the socket passed by systemd");
		goto out;
	}
	if ((n_fds > 0 && ro_fd >= 0) || (n_fds == 0 && ro_socket)) {
		const char *ro_path = ro_socket ? ro_socket : "(read-only socket from systemd)";
		if (server_listen(d.server, ro_path, n_fds > 0 ? ro_fd : -1, true) < 0) {
			log_error("cannot listen on the read-only socket %s: %s", ro_path,
				  strerror(errno));
			goto out;
		}
	}
	if (!no_autostart && conf.autostart)
		vm_autostart(&d);
	log_info("vmd %s ready on %s%s (backend %s, state %s)", VMD_VERSION, d.socket_path,
		 n_fds > 0 ? " (socket-activated)" : "", be_ops->name, d.state_dir);
	char *status = xasprintf("serving on %s (backend %s)", d.socket_path, be_ops->name);
	sdnotify_ready(status);
	free(status);
	event_base_dispatch(d.base);
	rc = 0;
out:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	/* Migrations end first (a guest being sent runs on here); they hold jobs of their own. */
	migrate_shutdown(&d);
	save_shutdown(&d);
	/* Cancels running jobs and waits for their workers, which remove what they made. */
	job_system_shutdown(&d);
	server_free(d.server);
	vm_life_end(&d);
	vm_registry_finish(&d);
	network_free_all(&d);
	be_close(d.be);
	store_close(&d.store);
	if (d.base)
		event_base_free(d.base);
	free(d.state_dir);
	free(d.socket_path);
	free(d.run_dir);
	free(ro_socket);
	conf_set_active(NULL);
	conf_finish(&conf);
	return rc;
}
