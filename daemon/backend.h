/*
 * backend.h: all that the daemon core may see of a hypervisor.
 *
 * Two implementations: backend/libxl*.c (the real one, the only code that includes <libxl.h>)
 * and backend/sim.c (an in-process simulated hypervisor for demos and tests above the backend).
 *
 * Threading and re-entrancy: every call is made from the event loop thread, and every
 * callback (done functions, domain events) is delivered from the event loop, never from
 * inside the call that started the work. Long operations (create, destroy) are asynchronous:
 * they return 0 once started and report through their done function exactly once.
 *
 * The handle carries its own ops (struct backend is the first member of each backend's own
 * state), and the core calls the thin be_* wrappers below: be_list(be, ...) is
 * be->ops->list(be, ...).
 *
 * Policy lives in the core: the backend reports that a guest powered off, rebooted or crashed
 * and leaves the dying domain in place; the core decides (on_poweroff/on_reboot/on_crash) and
 * calls destroy and/or create. libxl restarts nothing by itself, and neither does sim.
 */
#ifndef VMD_BACKEND_H
#define VMD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxl.h> /* libxl_device_disk: the meaning of a disk, for hot-plugs */

#include "err.h"

struct event_base;
struct vm_config;
struct backend_ops;

/* The first member of every backend's state. */
struct backend {
	const struct backend_ops *ops;
};

enum dom_state {
	DOM_RUNNING,
	DOM_BLOCKED,  /* running but idle; reported as running above */
	DOM_PAUSED,
	DOM_SHUTDOWN, /* shut down (poweroff/reboot/suspend), not yet destroyed */
	DOM_CRASHED,
	DOM_DYING,
};

enum dom_event {
	DOM_EV_POWEROFF, /* the guest shut itself down (or obeyed a shutdown request) */
	DOM_EV_REBOOT,   /* the guest asked to be rebooted */
	DOM_EV_CRASH,    /* the guest crashed */
	DOM_EV_WATCHDOG, /* the guest's watchdog fired */
	DOM_EV_SOFT_RESET, /* the guest asked for a soft reset (an HVM guest's kexec) */
	DOM_EV_GONE,     /* the domain disappeared (destroyed by someone, or by us) */
	/* Not a change of state: the addresses a guest agent publishes (xenstore attr/vif)
	 * changed. */
	DOM_EV_ADDRESSES,
};

/* One domain as the hypervisor sees it. */
struct dom_info {
	uint32_t domid;
	uint8_t uuid[16];
	char name[128];
	enum dom_state state;
	uint64_t memory_kib;    /* current allocation */
	uint64_t maxmem_kib;
	int vcpus;              /* online vCPUs */
	uint64_t cpu_time_ns;
	uint64_t start_time;    /* seconds since the epoch, 0 if unknown */
	char *record;           /* our per-domain record (opaque JSON text) or NULL if not ours */
	/* Why a domain in DOM_SHUTDOWN or DOM_CRASHED stopped, when known: lets the core apply
	 * on_* to a guest that stopped while the daemon was not running. */
	bool has_reason;
	enum dom_event reason;  /* any but DOM_EV_GONE */
};

void dom_info_finish(struct dom_info *d); /* frees record */
/* "running" (blocked included), "paused", "shutdown", "crashed", "dying". */
const char *dom_state_name(enum dom_state s);
void dom_info_list_free(struct dom_info *list, size_t n);


/* A running domain's figures (vm.stats): its CPU time and memory, and its I/O counters as
 * the guest sees them: a disk's reads and writes, a vif's rx (what the guest received) and
 * tx (what it sent). STATS_NONE: a counter this backend cannot read (a qemu qdisk's, an
 * emulated NIC's). */
#define STATS_NONE UINT64_MAX
struct disk_stats {
	char vdev[16];
	uint64_t rd_req, rd_bytes, wr_req, wr_bytes;
};
struct vif_stats {
	uint8_t mac[6];
	int devid;
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
};
struct dom_stats {
	uint64_t cpu_time_ns;
	uint64_t memory_kib, maxmem_kib;
	int vcpus; /* online */
	struct disk_stats *disks;
	size_t n_disks;
	struct vif_stats *vifs;
	size_t n_vifs;
};
void dom_stats_finish(struct dom_stats *s);

/* An address a guest agent published for one of its vifs (xenstore attr/vif/DEVID/ipv4/N or
 * ipv6/N, as xen-guest-agent writes them). */
struct vif_addr {
	int devid;
	bool ipv6;
	char addr[64];
};

struct host_info {
	uint64_t total_kib;
	uint64_t free_kib;
	int nr_cpus;         /* online */
	int max_cpus;        /* the highest cpu number + 1 (libxl_get_max_cpus) */
	int nr_nodes;        /* NUMA nodes (libxl_get_max_nodes) */
	int *cpu_node;       /* node of each of max_cpus cpus (-1 offline), or NULL; malloc'ed */
	char hypervisor[64]; /* "xen-4.17", "sim" */
};
void host_info_finish(struct host_info *h);

struct console_info {
	char path[256]; /* pty slave device the client opens */
	char kind[16];  /* "pv" or "serial" */
};

typedef void backend_done_fn(void *arg, const struct err *err, uint32_t domid);
typedef void backend_event_fn(void *arg, uint32_t domid, enum dom_event ev);

/* A domain's scheduling (credit and credit2: a weight, and a cap in % of one CPU, 0: none). */
struct sched_info {
	char scheduler[16]; /* "credit2", "credit", ...; sim: "sim" */
	int weight;
	int cap;
};

struct backend_options {
	const char *state_dir;       /* for backends that keep files (sim keeps its domains) */
	uint64_t sim_memory_mib;     /* sim: host memory size */
	unsigned sim_delay_ms;       /* sim: how long a guest takes to react to shutdown/reboot */
	/* libxl: memory claims for guests whose config does not say (vm_config.claim_mode):
	 * 1 on, 0 off, -1 as xl.conf's claim_mode, else on (xl's default). */
	int claim_mode;
	backend_event_fn *on_event;  /* domain events, for every watched domain */
	void *event_arg;
	/* The bridge a vif with bridge=name goes on (a managed network's, network.h), or NULL:
	 * name as it is; arg is event_arg. libxl asks it at every build and vif attach. */
	const char *(*bridge_of)(void *arg, const char *name);
};

struct backend_ops {
	const char *name;
	/* Is this backend usable on this host? Fills err when not. */
	bool (*available)(struct err *err);
	struct backend *(*open)(struct event_base *base, const struct backend_options *opts,
				struct err *err);
	/* Stops watching and frees; running guests are left running. NULL-safe. */
	void (*close)(struct backend *be);

	int (*host_info)(struct backend *be, struct host_info *out, struct err *err);
	/* All domains but dom0, with records where they are ours. Caller frees with dom_info_list_free. */
	int (*list)(struct backend *be, struct dom_info **out, size_t *n, struct err *err);
	/* One domain; VMD_ERR_NOT_FOUND when it does not exist. Caller frees with dom_info_finish. */
	int (*info)(struct backend *be, uint32_t domid, struct dom_info *out, struct err *err);

	/* Build and unpause a domain; store record with it; watch it. done gets the new domid. */
	int (*create)(struct backend *be, const struct vm_config *cfg, const char *record,
		      backend_done_fn *done, void *arg, struct err *err);
	/* Ask the guest to shut down / reboot; completion arrives as a DOM_EV_* event. */
	int (*shutdown)(struct backend *be, uint32_t domid, struct err *err);
	int (*reboot)(struct backend *be, uint32_t domid, struct err *err);
	/* Hard power-off and release of all resources. done once the domain is gone. */
	int (*destroy)(struct backend *be, uint32_t domid, backend_done_fn *done, void *arg,
		       struct err *err);
	int (*pause)(struct backend *be, uint32_t domid, struct err *err);
	int (*unpause)(struct backend *be, uint32_t domid, struct err *err);
	int (*console)(struct backend *be, uint32_t domid, struct console_info *out,
		       struct err *err);
	/* Where the guest's VNC server (HVM: the device model's) listens, "HOST:PORT". -1 when
	 * it has none (yet); NULL when the backend cannot tell. */
	int (*vnc)(struct backend *be, uint32_t domid, char *out, size_t outlen,
		   struct err *err);
	/* Writes the guest's memory to path (a core file for crash analysis), synchronously.
	 * NULL when the backend cannot. */
	int (*core_dump)(struct backend *be, uint32_t domid, const char *path, struct err *err);
	/* Start delivering events for a domain found running at daemon start (adoption). */
	int (*watch)(struct backend *be, uint32_t domid, struct err *err);
	/*
	 * Live migration (daemon/migrate.c drives both halves). NULL when the backend cannot.
	 * migrate_send: writes the domain's migration stream to fd (a connected stream socket,
	 * left open: the caller's), live (memory copied while the guest runs, then suspended)
	 * or suspended first. done once the stream is written and the domain is suspended (it
	 * still exists, until destroy), or with err: then migrate_resume lets it run on.
	 * migrate_resume: a suspended (or half-sent) domain runs again, as before the send.
	 * migrate_receive: builds cfg's domain from the stream on fd (left open), under name,
	 * with record, watched, left paused; done gets its domid.
	 * rename: the domain's name (the two halves of a migration on one host cannot share it).
	 */
	int (*migrate_send)(struct backend *be, uint32_t domid, int fd, bool live,
			    backend_done_fn *done, void *arg, struct err *err);
	int (*migrate_resume)(struct backend *be, uint32_t domid, struct err *err);
	int (*migrate_receive)(struct backend *be, const struct vm_config *cfg, const char *name,
			       const char *record, int fd, backend_done_fn *done, void *arg,
			       struct err *err);
	int (*rename)(struct backend *be, uint32_t domid, const char *name, struct err *err);
	/*
	 * Live changes (vm.set_vcpus, vm.set_memory). NULL when the backend cannot.
	 * set_vcpus: vCPUs 0..n-1 online, the others offline; INVALID_PARAMS when n is over the
	 * domain's maximum (maxvcpus at its build), which *max then holds.
	 * set_memory: the balloon target, KiB (at most maxmem). Whether the guest's balloon
	 * driver follows it shows in the domain's memory (dom_info.memory_kib) afterwards.
	 */
	int (*set_vcpus)(struct backend *be, uint32_t domid, int n, int *max, struct err *err);
	int (*set_memory)(struct backend *be, uint32_t domid, uint64_t kib, struct err *err);
	/* Sets weight and cap where they are >= 0 (NOT_SUPPORTED under a scheduler without
	 * them), then reads them back into out. NULL when the backend cannot. */
	int (*sched)(struct backend *be, uint32_t domid, int weight, int cap,
		     struct sched_info *out, struct err *err);
	/* Hot-plugs disk into a running domain (its backend and frontend connected when done),
	 * or unplugs the disk at vdev (EXISTS / NOT_FOUND at once when vdev is taken / free).
	 * NULL when the backend cannot. */
	int (*disk_attach)(struct backend *be, uint32_t domid, const libxl_device_disk *disk,
			   backend_done_fn *done, void *arg, struct err *err);
	int (*disk_detach)(struct backend *be, uint32_t domid, const char *vdev,
			   backend_done_fn *done, void *arg, struct err *err);
	/* Changes the medium of the HVM domain's cdrom disk->vdev to disk's (format EMPTY, no
	 * target: ejects it), as xl cd-insert / cd-eject. */
	int (*cdrom)(struct backend *be, uint32_t domid, const libxl_device_disk *disk,
		     backend_done_fn *done, void *arg, struct err *err);
	/* The same for a vif, named by its MAC. */
	int (*nic_attach)(struct backend *be, uint32_t domid, const libxl_device_nic *nic,
			  backend_done_fn *done, void *arg, struct err *err);
	int (*nic_detach)(struct backend *be, uint32_t domid, const uint8_t mac[6],
			  backend_done_fn *done, void *arg, struct err *err);
	/* Sets the rate limit of the running domain's vif of that MAC (xl.cfg's rate=: bytes per
	 * interval of usecs microseconds; usecs 0: none) where its backend reads it: netback
	 * watches its xenstore "rate" node and takes a new value at once. */
	int (*nic_rate)(struct backend *be, uint32_t domid, const uint8_t mac[6], uint64_t bytes,
			uint32_t usecs, struct err *err);
	/* The running domain's disk and vif counters (cdroms left out). */
	int (*stats)(struct backend *be, uint32_t domid, struct dom_stats *out, struct err *err);
	/* The addresses the guest published for its vifs (malloc'ed array in *out); NULL when
	 * the backend has no such place. */
	int (*vif_addrs)(struct backend *be, uint32_t domid, struct vif_addr **out, size_t *n,
			 struct err *err);
	/* Backend-specific test hook (sim: fault injection); NULL when unsupported. */
	int (*inject)(struct backend *be, const char *fault, uint32_t domid, struct err *err);
};

extern const struct backend_ops backend_sim;
#ifdef VMD_HAVE_LIBXL
extern const struct backend_ops backend_libxl;
#endif

/* Finds a backend by name ("sim", "libxl"); NULL if unknown or not built. */
const struct backend_ops *backend_find(const char *name);

/* The calls, through the handle's ops (see struct backend_ops for each). */
struct backend *be_open(const struct backend_ops *ops, struct event_base *base,
			const struct backend_options *opts, struct err *err);
void be_close(struct backend *be); /* NULL-safe */
const char *be_name(const struct backend *be);
int be_host_info(struct backend *be, struct host_info *out, struct err *err);
int be_list(struct backend *be, struct dom_info **out, size_t *n, struct err *err);
int be_info(struct backend *be, uint32_t domid, struct dom_info *out, struct err *err);
int be_create(struct backend *be, const struct vm_config *cfg, const char *record,
	      backend_done_fn *done, void *arg, struct err *err);
int be_shutdown(struct backend *be, uint32_t domid, struct err *err);
int be_reboot(struct backend *be, uint32_t domid, struct err *err);
int be_destroy(struct backend *be, uint32_t domid, backend_done_fn *done, void *arg,
	       struct err *err);
int be_pause(struct backend *be, uint32_t domid, struct err *err);
int be_unpause(struct backend *be, uint32_t domid, struct err *err);
int be_console(struct backend *be, uint32_t domid, struct console_info *out, struct err *err);
/* -1 with err NOT_SUPPORTED when the backend cannot tell. */
int be_vnc(struct backend *be, uint32_t domid, char *out, size_t outlen, struct err *err);
int be_watch(struct backend *be, uint32_t domid, struct err *err);
/* -1 with err NOT_SUPPORTED when the backend cannot dump cores. */
int be_core_dump(struct backend *be, uint32_t domid, const char *path, struct err *err);
/* Migration (struct backend_ops); -1 with err NOT_SUPPORTED when the backend cannot. */
int be_migrate_send(struct backend *be, uint32_t domid, int fd, bool live, backend_done_fn *done,
		    void *arg, struct err *err);
int be_migrate_resume(struct backend *be, uint32_t domid, struct err *err);
int be_migrate_receive(struct backend *be, const struct vm_config *cfg, const char *name,
		       const char *record, int fd, backend_done_fn *done, void *arg,
		       struct err *err);
int be_set_vcpus(struct backend *be, uint32_t domid, int n, int *max, struct err *err);
int be_set_memory(struct backend *be, uint32_t domid, uint64_t kib, struct err *err);
int be_sched(struct backend *be, uint32_t domid, int weight, int cap, struct sched_info *out,
	     struct err *err);
int be_disk_attach(struct backend *be, uint32_t domid, const libxl_device_disk *disk,
		   backend_done_fn *done, void *arg, struct err *err);
int be_disk_detach(struct backend *be, uint32_t domid, const char *vdev, backend_done_fn *done,
		   void *arg, struct err *err);
int be_cdrom(struct backend *be, uint32_t domid, const libxl_device_disk *disk,
	     backend_done_fn *done, void *arg, struct err *err);
int be_nic_attach(struct backend *be, uint32_t domid, const libxl_device_nic *nic,
		  backend_done_fn *done, void *arg, struct err *err);
int be_nic_detach(struct backend *be, uint32_t domid, const uint8_t mac[6], backend_done_fn *done,
		  void *arg, struct err *err);
int be_nic_rate(struct backend *be, uint32_t domid, const uint8_t mac[6], uint64_t bytes,
		uint32_t usecs, struct err *err);
int be_rename(struct backend *be, uint32_t domid, const char *name, struct err *err);
int be_stats(struct backend *be, uint32_t domid, struct dom_stats *out, struct err *err);
/* What vif_addrs finds; none (0, *n 0) from a backend without it. */
int be_vif_addrs(struct backend *be, uint32_t domid, struct vif_addr **out, size_t *n,
		 struct err *err);
/* -1 with err NOT_SUPPORTED when the backend has no test hook. */
int be_inject(struct backend *be, const char *fault, uint32_t domid, struct err *err);

#endif
