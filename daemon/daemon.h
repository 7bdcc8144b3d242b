/*
 * daemon.h: the one daemon object that ties loop, backend, store, registry and server.
 * There is exactly one per process; ops reach it through their request.
 */
#ifndef VMD_DAEMON_H
#define VMD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "backend.h"
#include "store.h"

struct event_base;
struct jobs;
struct server;
struct vm;

struct daemon {
	struct event_base *base;
	const struct backend_ops *be_ops;
	struct backend *be;
	struct store store;
	struct server *server;
	struct jobs *jobs; /* long work in worker threads (job.c) */
	TAILQ_HEAD(vm_list, vm) vms;
	char *state_dir;
	char *run_dir;
	char *socket_path;
	bool autostart_done; /* this host boot's autostart already ran (marker in run_dir) */
	uint64_t copy_rate;  /* clone copies: data bytes per second at most, 0 = no limit */
};

#endif
