/*
 * vm.h: the guests: the registry of definitions (vm.c), their lifecycle (vm-life.c) and
 * their JSON views (vm-json.c).
 *
 * A struct vm is one definition (persistent, in the store) plus its runtime state: the domid
 * of its domain when it has one, and a state. Transitions are driven by requests (start,
 * shutdown, destroy, ...) and by the backend's domain events, on which the core applies
 * on_poweroff / on_reboot / on_crash. Every state change is reported through the daemon's
 * on_event hook (daemon.h), which main.c hands to the server: the core never calls up.
 *
 * Errors: every refusal fills a struct err with a VMD_ERR_* code, a message and the data
 * proto/ gives that code (name, and state for BAD_STATE/BUSY), ready to be the reply.
 */
#ifndef VMD_VM_H
#define VMD_VM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "backend.h"
#include "config.h"
#include "err.h"
#include "store.h"

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
	VM_MIGRATING, /* the source of a live migration under way (busy) */
	VM_SAVING,    /* its memory being written to a file (vm.save; busy) */
	VM_RESTORING, /* its domain being built from a save file (vm.restore; busy) */
};

/* Called when an asynchronous vm operation finishes; err is NULL on success. */
typedef void vm_done_fn(struct vm *vm, void *arg, const struct err *err);

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

/* A guest's definition is held in two forms. Its brief (name, uuid, type, vcpus, memory,
 * MACs and the xl.cfg text) is always in memory: the registry's indexes and vm.list need no
 * more, and the store keeps it beside the text, so that a start-up with thousands of guests
 * reads documents instead of translating every text. Its meaning (struct vm_config, libxl's
 * whole domain config: a few KiB) is built from the text when needed, by vm_cfg, and kept
 * while the guest has a domain or an operation under way; of the others, the most recently
 * used VM_CFG_CACHE stay parsed, the rest are dropped again. */
#define VM_CFG_CACHE 64

struct vm {
	TAILQ_ENTRY(vm) link;
	struct daemon *d;
	char *name;            /* the text's name */
	uint8_t uuid[16];
	enum vm_type type;
	int vcpus;             /* at boot, as vm_config_vcpus */
	uint64_t memory_mib;   /* at boot, as vm_config_memory_mib */
	uint8_t (*macs)[6];    /* the MACs its vifs name (the MAC index's keys) */
	size_t n_macs;
	char *text;            /* the xl.cfg text, as stored, or NULL: see vm_text */
	char text_sum[17];     /* its checksum (proto/ 12.1) */
	struct store_id sid;   /* its stored file's identity (has_sid) */
	struct store_id sid_indexed; /* the identity the store's index holds (indexed) */
	bool has_sid, indexed;
	/* vm.info's result while the guest has no domain, encoded once: it is a function of
	 * what info_key holds (see vm_info_text). Dropped with cfg. */
	char *info_text;
	size_t info_len;
	struct vm_info_key {
		enum vm_state state;
		bool autostart;
		enum vm_install_phase phase;
		bool managed_save;
		char text_sum[17];
	} info_key;
	struct vm_config *cfg; /* its meaning, or NULL: see vm_cfg */
	TAILQ_ENTRY(vm) parsed_link; /* in the daemon's parsed list while cfg is set */
	bool autostart;
	bool managed_save;  /* vmd holds a save of it (save.c): the next start restores it */
	char **owned_disks; /* images vmd created for this guest (clone, install) */
	size_t n_owned_disks;
	struct vm_install install;
	bool install_finishing; /* the installer's domain is being destroyed for the switch */
	/* What the running domain was built from, with the live changes made since (NULL: no
	 * domain, or the definition's text): the pending changes are what the definition has
	 * otherwise (vm_pending). Kept in STATE/live/NAME.cfg while it differs, for adoption. */
	char *live_text;

	enum vm_state state;
	int64_t domid; /* -1 when there is no domain */
	bool shutdown_requested; /* the next poweroff was asked for through vmd */
	bool reboot_requested;
	double started_at; /* wall clock of the last start, 0 if unknown */
	/* vm.stats' last sample of the domain's CPU time: the next one's % is over the time
	 * between them. */
	int64_t stats_domid;
	uint64_t stats_cpu_ns;
	double stats_at; /* monotonic; 0: none yet */
	LIST_HEAD(, vm_waiter) waiters;
	/* A backend create or destroy is outstanding: no other operation may start. */
	bool in_flight;
	/* Defined by vm_define_grouped, its store write not yet committed. */
	bool committing;
	/* Jobs reading this guest's disks (clones): it may not start or be removed meanwhile. */
	unsigned readers;
	/* Who to tell when the requested start/destroy is done (NULL for internal ones). */
	vm_done_fn *op_done;
	void *op_arg;
	/* The last restarts' times (monotonic), a ring: see RESTART_LIMIT in vm-life.c. */
	double restart_times[10];
	unsigned restart_next;
};

/* A guest named across an asynchronous step (a backend callback, a timer): it may be gone
 * or be another guest of the same name by then, so it is found again by name and uuid, and
 * by its domain where that matters. */
struct vm_ref {
	char *name;
	uint8_t uuid[16];
	int64_t domid;
};
void vm_ref_set(struct vm_ref *r, const struct vm *vm);
void vm_ref_clear(struct vm_ref *r);
/* The guest, or NULL; same_domain: only while it has the domain it had at vm_ref_set. */
struct vm *vm_ref_get(const struct vm_ref *r, struct daemon *d, bool same_domain);

const char *vm_state_name(enum vm_state s);
/* True while a domain exists for the guest. */
bool vm_has_domain(const struct vm *vm);
/* True while a backend create or destroy is outstanding, or a job reads its disks. */
bool vm_busy(const struct vm *vm);

/* ---- the registry (vm.c) --------------------------------------------------------------- */

void vm_registry_init(struct daemon *d);
void vm_registry_finish(struct daemon *d);
/* Loads the definitions from the store (then vm_adopt_all takes over their domains). */
int vm_registry_load(struct daemon *d);

/* The guest's meaning (its text translated), built when not at hand. NULL with err IO when
 * the stored text no longer translates (xl.conf changed, say). The pointer stays valid while
 * the guest has a domain or is busy, and otherwise until the next vm_cfg call of another
 * guest: do not keep it across a return to the event loop. */
struct vm_config *vm_cfg(struct vm *vm, struct err *err);
/* The xl.cfg text, read from the store when not at hand (a start-up from the store's index
 * reads no text). NULL with err IO when the document cannot be read. */
const char *vm_text(struct vm *vm, struct err *err);

struct vm *vm_find(struct daemon *d, const char *name);
struct vm *vm_find_domid(struct daemon *d, uint32_t domid);
struct vm *vm_find_mac(struct daemon *d, const uint8_t mac[6]); /* a vif's, in a definition */
/* Fills err (NOT_FOUND, data.name) when there is no such guest. */
struct vm *vm_get(struct daemon *d, const char *name, struct err *err);

/* A name that a long operation (clone, install) will define once its work is done: no one
 * else may define or reserve it meanwhile. 0, or -1 with err EXISTS (defined, or reserved:
 * data.name) when the name is taken. */
int vm_reserve(struct daemon *d, const char *name, struct err *err);
void vm_unreserve(struct daemon *d, const char *name); /* no-op when not reserved */
bool vm_reserved(struct daemon *d, const char *name);

struct vm_define_opts {
	char *const *owned; /* images vmd made for the guest (clone, install): vm.remove
			     * --delete-disks deletes them; stored in the same write */
	size_t n_owned;
	const struct vm_install *install; /* vm.install: the guest starts out INSTALLING */
	bool reserved;      /* the caller holds the name's reservation; it ends here */
};

/* Adds a definition: takes ownership of *cfg (left init'ed); assigns a UUID and MACs where
 * missing; checks that name, UUID and MACs are free; stores it. opts may be NULL. Returns
 * the vm, or NULL with err (EXISTS, IO). */
struct vm *vm_define(struct daemon *d, struct vm_config *cfg, const struct vm_define_opts *opts,
		     struct err *err);
/* vm_define for vm.define requests, its store write grouped with the other defines of the
 * same loop iteration (store_commit: one round of syncs for all). The guest is in the registry
 * at once (name, uuid and MACs taken; busy). done is called once its definition is durable
 * (err NULL; then it is "defined") or could not be stored (then it is gone again: vm is freed
 * when done returns). 0, or -1 with err when refused at once, as vm_define. */
int vm_define_grouped(struct daemon *d, struct vm_config *cfg, vm_done_fn *done, void *arg,
		      struct err *err);
/* Commits the waiting group now. The dispatcher does before every request that is not a
 * define, vm_define before its own write: whatever runs next sees the defines answered. */
void vm_commit_defines(struct daemon *d);
const char *vm_install_phase_name(enum vm_install_phase p); /* NULL for NONE */
/* Forgets a stopped guest and its stored definition; deleted/kept (arrays, may be NULL) list
 * the owned/other disks. 0, or -1 with err (BAD_STATE, IO). */
int vm_remove(struct vm *vm, bool delete_disks, json_t *deleted, json_t *kept, struct err *err);
/* Does the definition of guest own path (an image vmd made for it, an installer file)? A
 * stored file that could not be loaded counts as owning everything. (job_recover asks.) */
bool vm_owns_file(struct daemon *d, const char *guest, const char *path);
/* Persists the definition (after autostart and similar changes). 0 / -1 errno. */
int vm_save(struct vm *vm);
/* What vm_define adds, for a new meaning of vm (vm.update): its uuid, and a MAC for every
 * vif without one (no guest's); MACs of other guests refused (EXISTS). 0, or -1 with err. */
int vm_complete_update(struct vm *vm, struct vm_config *cfg, struct err *err);
/* Gives the guest another meaning (cfg taken over, left init'ed), as vm.install's switch to
 * the installed system does: brief, indexes and store follow. 0, or -1 with err (EXISTS when
 * a MAC is another guest's, IO) and the guest as it was. */
int vm_replace_config(struct vm *vm, struct vm_config *cfg, struct err *err);
/* The running domain's config: its xl.cfg text (the definition's, unless a live change or
 * vm.update made them differ), or NULL with err when the definition cannot be read. */
const char *vm_live_text(struct vm *vm, struct err *err);
/* The guest's domain was just built from text (NULL: from its definition). */
void vm_live_begin(struct vm *vm, const char *text);
/* A live change went through: text (taken over; NULL: ignored) is now the running domain's
 * config. */
void vm_live_set(struct vm *vm, char *text);
/* What the next boot changes: cfgdiff(the running domain's, the definition's), [] without a
 * domain. New reference. */
json_t *vm_pending(struct vm *vm);
/* Sets the guest's domain (-1: none), keeping the domid index. */
void vm_set_domid(struct vm *vm, int64_t domid);
/* Deletes the installer files vmd extracted for the guest (and their directory). */
void vm_install_files_delete(struct vm *vm);
/* Reports an event of the guest (a vm.event) through the daemon's on_event hook. */
void vm_emit(struct vm *vm, const char *event);
/* The params of a vm.event notification. New reference. */
json_t *vm_event_json(const struct vm *vm, const char *event);
/* Fills err with code and a message about the guest, data {name, state}. */
void vm_refuse(const struct vm *vm, struct err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- the lifecycle (vm-life.c) --------------------------------------------------------- */

/* Operations. Each returns 0 when started (done is called later, exactly once) or -1 with err
 * filled when refused at once (bad state, busy, backend refusal). */
int vm_start(struct vm *vm, vm_done_fn *done, void *arg, struct err *err);
int vm_destroy(struct vm *vm, vm_done_fn *done, void *arg, struct err *err);
/* Sends the shutdown request; the guest goes on by itself. Synchronous. */
int vm_shutdown(struct vm *vm, struct err *err);
int vm_reboot(struct vm *vm, struct err *err);
int vm_pause(struct vm *vm, struct err *err);
int vm_unpause(struct vm *vm, struct err *err);

/* Migration (migrate.c). begin: a running or paused guest becomes MIGRATING (busy: no other
 * operation, its domain's events wait); 0, or -1 with err as the reply wants it. end: the
 * migration is over: the guest's domain is domid (-1: none, it runs elsewhere), its state st,
 * and event tells why ("migrated", "migrate-failed"). migrated_in: a guest just defined for
 * an incoming domain now runs it ("migrated-in"). */
int vm_migrate_begin(struct vm *vm, struct err *err);
void vm_migrate_end(struct vm *vm, int64_t domid, enum vm_state st, const char *event);
void vm_migrated_in(struct vm *vm, uint32_t domid);
/* Save and restore (save.c), the same way: save_begin makes a running or paused guest SAVING
 * ("saving"), restore_begin a stopped one RESTORING ("restoring"); both end with
 * vm_migrate_end (the domain, the state, the event: "saved", "save-failed", "restored",
 * "restore-failed"). */
/* A domain whose send (a migration's, a save's) came back or broke off runs again; the
 * guest's state then: before, or what the domain is when it cannot be resumed. */
enum vm_state vm_resume_sent(struct vm *vm, int64_t domid, enum vm_state before);
int vm_save_begin(struct vm *vm, struct err *err);
int vm_restore_begin(struct vm *vm, struct err *err);
/* The per-domain record of a guest (what adoption recognises). malloc'ed. */
char *vm_record(const char *name, const uint8_t uuid[16]);

/* Waits until the guest has no domain (stopped), or timeout seconds (then err TIMEOUT).
 * cancel with vm_wait_cancel (e.g. when the client goes away). */
struct vm_waiter *vm_wait_stopped(struct vm *vm, double timeout, vm_done_fn *done, void *arg);
void vm_wait_cancel(struct vm_waiter *w);

/* Backend event entry point (struct backend_options.on_event). */
void vm_dom_event(void *arg, uint32_t domid, enum dom_event ev);
/* After the load: takes over the running domains whose record names one of our
 * definitions. */
void vm_adopt_all(struct daemon *d);
/* Autostart guests once per host boot (marker file in run_dir). */
void vm_autostart(struct daemon *d);
/* At exit, before vm_registry_finish: ends every guest's waiters and pending operation
 * with a CANCELLED error. */
void vm_life_end(struct daemon *d);

/* ---- JSON views (vm-json.c) ------------------------------------------------------------ */

/* The vm object of proto/ (name, uuid, type, state, domid, vcpus, memory, managed,
 * autostart), from the brief; with detail, the extra vm.info fields, from vm_cfg (call it
 * first: should the text no longer translate, they are left out). New reference. */
json_t *vm_to_json(struct vm *vm, bool detail);
/* vm.info's result of a guest without a domain as compact JSON (vm_to_json(vm, true),
 * encoded), kept until what it shows changes. Call vm_cfg first. */
const char *vm_info_text(struct vm *vm, size_t *len);
/* The same object for a domain vmd does not manage. */
json_t *vm_foreign_to_json(const struct dom_info *di, bool detail);

#endif
