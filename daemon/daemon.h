/*
 * daemon.h: the one daemon object that ties loop, backend, store, registry and server.
 * There is exactly one per process; ops reach it through their request.
 */
#ifndef VMD_DAEMON_H
#define VMD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <sys/queue.h>

#include "backend.h"
#include "hmap.h"
#include "store.h"

struct event_base;
struct jobs;
struct server;
struct vm;

struct vm_reservation;
struct pending_define;
struct saving;
struct network;

struct daemon {
	struct event_base *base;
	struct backend *be; /* carries its ops (backend.h) */
	struct store store;
	struct server *server;
	struct jobs *jobs; /* long work in worker threads (job.c) */
	TAILQ_HEAD(vm_list, vm) vms;
	/* The registry's indexes (vm.c): guests by name, uuid, MAC and domid. */
	struct hmap by_name, by_uuid, by_mac, by_domid;
	/* Guests whose meaning is parsed and could be dropped, least recently used first. */
	TAILQ_HEAD(, vm) parsed;
	size_t n_parsed;
	/* The store's index (store.h) is rewritten INDEX_DELAY after the first change that it
	 * does not show yet, and at exit. ghosts: the identities it still holds for guests
	 * removed since it was written (name -> struct store_id), which a new file of that name
	 * must not have. */
	/* vm_define_grouped's defines waiting for their commit (vm.c), at most a group's worth */
	struct pending_define *pending;
	size_t n_pending;
	bool index_dirty;
	struct event *index_timer;
	struct hmap ghosts;
	LIST_HEAD(, vm_reservation) reserved; /* names of guests being made (vm_reserve) */
	/* How the core reports to the world (main.c hands these to the server): a vm.event's
	 * params (borrowed), for every subscribed client. */
	void (*on_event)(struct daemon *d, json_t *params);
	char *state_dir;
	char *run_dir;
	char *socket_path;
	bool autostart_done; /* this host boot's autostart already ran (marker in run_dir) */
	uint64_t copy_rate;  /* clone copies: data bytes per second at most, 0 = no limit */
	struct migration *migrations; /* under way, both halves (migrate.c) */
	struct saving *saves;         /* saves and restores under way (save.c) */
	struct network *networks;     /* managed networks (network.c) */
	struct event *net_poll;       /* their leases, looked at every 2 s */
};

#endif
