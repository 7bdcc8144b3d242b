/*
 * vm.h: the registry of defined guests and the lifecycle rules.
 *
 * A struct vm is one definition (persistent, in the store) plus its runtime state: the domid
 * of its domain when it has one, and a state. Transitions are driven by requests (start,
 * shutdown, destroy, ...) and by the backend's domain events, on which the core applies
 * on_poweroff / on_reboot / on_crash. Every state change is broadcast as a vm.event.
 */
#ifndef VMD_VM_H
#define VMD_VM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "backend.h"
#include "config.h"

struct daemon;
struct vm;

enum vm_state {
	VM_STOPPED,
	VM_STARTING,
	VM_RUNNING,
	VM_PAUSED,
	VM_SHUTTING_DOWN,
	VM_REBOOTING,
	VM_STOPPING,
	VM_SHUTDOWN, /* preserved after poweroff (on_poweroff=preserve) */
	VM_CRASHED,  /* preserved after a crash (on_crash=preserve) */
};

/* Called when an asynchronous vm operation finishes; err is NULL on success. */
typedef void vm_done_fn(struct vm *vm, void *arg, const struct be_error *err);

struct vm_waiter;

/* vm.install: while a guest is INSTALLING, its own poweroff or reboot (not one asked for
 * through vmd, not a crash) means the installer is done: the core destroys the installer's
 * domain, turns the definition into the installed system's (vm_config_make_installed),
 * stores it, deletes the installer files it extracted, and starts the guest again unless
 * the install said not to. INSTALLED stays for the record (vm.info shows it). */
enum vm_install_phase { VM_INSTALL_NONE, VM_INSTALL_RUNNING, VM_INSTALL_DONE };

struct vm_install {
	enum vm_install_phase phase;
	bool start;      /* start the installed system when the installer is done */
	char **files;    /* installer kernel/initrd vmd extracted from an ISO (state dir) */
	size_t n_files;
};

struct vm {
	TAILQ_ENTRY(vm) link;
	struct daemon *d;
	struct vm_config cfg;
	bool autostart;
	char **owned_disks; /* images vmd created for this guest (clone, install) */
	size_t n_owned_disks;
	struct vm_install install;
	bool install_finishing; /* the installer's domain is being destroyed for the switch */

	enum vm_state state;
	int64_t domid; /* -1 when there is no domain */
	bool shutdown_requested; /* the next poweroff was asked for through vmd */
	bool reboot_requested;
	double started_at; /* wall clock of the last start, 0 if unknown */
	LIST_HEAD(, vm_waiter) waiters;
	/* A backend create or destroy is outstanding: no other operation may start. */
	bool in_flight;
	/* Clone jobs copying this guest's disks: it may not start or be removed meanwhile. */
	unsigned clones;
	/* Who to tell when the requested start/destroy is done (NULL for internal ones). */
	vm_done_fn *op_done;
	void *op_arg;
	/* The last restarts' times (monotonic), a ring: see RESTART_LIMIT in vm.c. */
	double restart_times[10];
	unsigned restart_next;
};

const char *vm_state_name(enum vm_state s);
/* True while a domain exists for the guest. */
bool vm_has_domain(const struct vm *vm);
/* True while a backend create or destroy is outstanding, or a clone copies its disks. */
bool vm_busy(const struct vm *vm);

void vm_registry_init(struct daemon *d);
void vm_registry_finish(struct daemon *d);
/* Loads definitions from the store, then adopts running domains that carry our record. */
int vm_registry_load(struct daemon *d);
/* Autostart guests once per host boot (marker file in run_dir). */
void vm_registry_autostart(struct daemon *d);
/* Backend event entry point (struct backend_options.on_event). */
void vm_dom_event(void *arg, uint32_t domid, enum dom_event ev);

struct vm *vm_find(struct daemon *d, const char *name);
struct vm *vm_find_domid(struct daemon *d, uint32_t domid);

/* Adds a definition: takes ownership of *cfg (left init'ed); assigns UUID and MACs when
 * missing; checks uniqueness; stores it. Returns the vm, or NULL with *code/msg set. */
struct vm *vm_define(struct daemon *d, struct vm_config *cfg, int *code, char *msg, size_t msglen,
		     json_t **data);
/* The same, for a guest whose disk images vmd made (clone): owned (copied) lists them and is
 * stored with the definition in the same write; vm.remove --delete-disks deletes them. */
struct vm *vm_define_owned(struct daemon *d, struct vm_config *cfg, char *const *owned,
			   size_t n_owned, int *code, char *msg, size_t msglen, json_t **data);
/* The same, for vm.install: the guest starts out INSTALLING with install's settings (files
 * are copied). */
struct vm *vm_define_install(struct daemon *d, struct vm_config *cfg, char *const *owned,
			     size_t n_owned, const struct vm_install *install, int *code, char *msg,
			     size_t msglen, json_t **data);
const char *vm_install_phase_name(enum vm_install_phase p); /* NULL for NONE */
/* Forgets a stopped guest and its stored definition; deleted/kept list owned/other disks. */
int vm_remove(struct vm *vm, bool delete_disks, json_t *deleted, json_t *kept, int *code,
	      char *msg, size_t msglen);
/* Persists the definition (after autostart and similar changes). 0 / -1 errno. */
int vm_save(struct vm *vm);

/* Operations. Each returns 0 when started (done is called later, exactly once) or -1 with err
 * filled when refused at once (bad state, busy, backend refusal). */
int vm_start(struct vm *vm, vm_done_fn *done, void *arg, struct be_error *err);
int vm_destroy(struct vm *vm, vm_done_fn *done, void *arg, struct be_error *err);
/* Sends the shutdown request; the guest goes on by itself. Synchronous. */
int vm_shutdown(struct vm *vm, struct be_error *err);
int vm_reboot(struct vm *vm, struct be_error *err);
int vm_pause(struct vm *vm, struct be_error *err);
int vm_unpause(struct vm *vm, struct be_error *err);

/* Waits until the guest has no domain (stopped), or timeout seconds (then err TIMEOUT).
 * cancel with vm_wait_cancel (e.g. when the client goes away). */
struct vm_waiter *vm_wait_stopped(struct vm *vm, double timeout, vm_done_fn *done, void *arg);
void vm_wait_cancel(struct vm_waiter *w);

/* The vm object of proto/ (name, uuid, type, state, domid, vcpus, memory, managed,
 * autostart); with detail, the extra vm.info fields. New reference. */
json_t *vm_to_json(struct vm *vm, bool detail);
/* The same object for a domain vmd does not manage. */
json_t *vm_foreign_to_json(const struct dom_info *di, bool detail);

#endif
