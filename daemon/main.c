/*
 * main.c: vmd, the daemon. Arguments, the event loop, signals, and the order in which the
 * pieces come up and go down. Guests are never touched on the way down: stopping vmd leaves
 * them running, and the next vmd adopts them.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "daemon.h"
#include "log.h"
#include "server.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

#define DEFAULT_STATE_DIR "/var/lib/vmd"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmd [options]\n"
		"  -s, --socket PATH       listen on PATH (default %s)\n"
		"  -d, --state-dir DIR     guest definitions (default %s)\n"
		"      --run-dir DIR       runtime files (default: the socket's directory)\n"
		"  -b, --backend NAME      libxl (default when Xen is present) or sim\n"
		"  -l, --log-level LEVEL   error, warn, info (default) or debug\n"
		"      --syslog            log to syslog instead of stderr\n"
		"      --sim-memory MIB    sim: host memory (default 8192)\n"
		"      --sim-delay-ms MS   sim: guest reaction time (default 300)\n"
		"  -h, --help              this text\n"
		"  -V, --version           print the version\n",
		VMD_DEFAULT_SOCKET, DEFAULT_STATE_DIR);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	log_info("signal %d: stopping (guests keep running)", (int)sig);
	event_base_loopbreak(arg);
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
	struct be_error err = {0};
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
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *socket_path = NULL, *state_dir = DEFAULT_STATE_DIR, *run_dir = NULL;
	const char *backend_name = NULL;
	enum log_level level = LOG_LVL_INFO;
	int use_syslog = 0;
	uint64_t sim_mem = 0, sim_delay = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "s:d:b:l:hV", longopts, NULL)) != -1) {
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
		case 'D':
			if (parse_u64(optarg, &sim_delay) < 0 || sim_delay > 600000) {
				fprintf(stderr, "vmd: --sim-delay-ms wants 0..600000\n");
				return 1;
			}
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
	if (!socket_path)
		socket_path = getenv(VMD_SOCKET_ENV) ? getenv(VMD_SOCKET_ENV) : VMD_DEFAULT_SOCKET;
	if (state_dir[0] != '/' || socket_path[0] != '/' || (run_dir && run_dir[0] != '/')) {
		fprintf(stderr, "vmd: --socket, --state-dir and --run-dir want absolute paths\n");
		return 1;
	}
	log_init(level, use_syslog);
	const struct backend_ops *be_ops = pick_backend(backend_name);
	if (!be_ops)
		return 1;

	/* A client that vanishes mid-reply must cost us an EPIPE, not our life. */
	signal(SIGPIPE, SIG_IGN);

	struct daemon d = {0};
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
	vm_registry_init(&d);
	d.base = event_base_new();
	if (!d.base) {
		log_error("cannot create the event loop");
		goto out;
	}
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
	};
	struct be_error err = {0};
	d.be_ops = be_ops;
	d.be = be_ops->open(d.base, &bo, &err);
	if (!d.be) {
		log_error("backend %s: %s", be_ops->name, err.msg);
		goto out;
	}
	if (vm_registry_load(&d) < 0)
		goto out;
	d.server = server_new(&d, d.socket_path, -1);
	if (!d.server)
		goto out;
	struct event *sigterm = evsignal_new(d.base, SIGTERM, on_signal, d.base);
	struct event *sigint = evsignal_new(d.base, SIGINT, on_signal, d.base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	vm_registry_autostart(&d);
	log_info("vmd %s ready on %s (backend %s, state %s)", VMD_VERSION, d.socket_path,
		 be_ops->name, d.state_dir);
	event_base_dispatch(d.base);
	event_free(sigterm);
	event_free(sigint);
	rc = 0;
out:
	server_free(d.server);
	vm_registry_finish(&d);
	if (d.be)
		be_ops->close(d.be);
	store_close(&d.store);
	if (d.base)
		event_base_free(d.base);
	free(d.state_dir);
	free(d.socket_path);
	free(d.run_dir);
	return rc;
}
