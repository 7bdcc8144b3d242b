/*
 * ops.h: one verb, one file, one table row. Each daemon/ops/<verb>.c exports a
 * const struct op_entry (rpc.h); ops.c lists them in ops_table, which main.c gives the
 * dispatcher. The dispatcher checks the params against the entry's table (types, ranges,
 * required, no unknown keys), the caller's permission, and finds the target guest before
 * exec runs, so exec only acts. exec must finish the request (rpc.h) exactly once, now or
 * later.
 */
#ifndef VMD_OPS_H
#define VMD_OPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "rpc.h"
#include "vm.h"

struct vm;
struct vm_config;

/* Every method vmd serves. */
extern const struct rpc_table ops_table;

/* Replies with the guest's vm object (the result of most verbs). */
void ops_reply_vm(struct rpc_req *req, struct vm *vm);
/* For a writer who is not root: checks every path and program cfg names against the storage
 * roots (access.h). 0 when allowed; -1 with err PERMISSION (data method, key, path). */
int ops_check_config_access(const struct rpc_req *req, const struct vm_config *cfg,
			    struct err *err);
/* For what only root (or the daemon's uid) may ask: 0, or -1 with err PERMISSION (data
 * method) saying why. */
int ops_check_unrestricted(const struct rpc_req *req, const char *why, struct err *err);
/* The same for one file the request will create (data key). */
int ops_check_caller_path(const struct rpc_req *req, const char *key, const char *path,
			  struct err *err);
/* The verbs that act on their target guest at once (pause, reboot, ...): fn(req->vm, err),
 * then the reply: the vm object, or the error. */
void ops_vm_now(struct rpc_req *req, int (*fn)(struct vm *, struct err *));
/* The verbs that answer once the operation is done (start, destroy). */
void ops_vm_when_done(struct rpc_req *req,
		      int (*fn)(struct vm *, vm_done_fn *, void *, struct err *));
/* The changes of a guest (vm.set_*, vm.attach_disk...): the running domain (param live:
 * default, when the guest has one), the definition (config: default true), or both; checks
 * that the guest is not busy and has a domain for live. 0, or -1 (req is answered). */
int ops_live_config(struct rpc_req *req, bool *live, bool *config);
/* A live change went through: the running domain's config (vm_live_text) follows: a key set
 * (value as xl.cfg writes it) or unset, a number set, or an item of a disk or vif list (by
 * its id: vdev, MAC) replaced, removed (spec NULL) or added. */
void ops_live_key(struct vm *vm, const char *key, const char *value); /* NULL: unset */
void ops_live_number(struct vm *vm, const char *key, long long value);
void ops_live_item(struct vm *vm, const char *key, const char *id, const char *spec);
/* A memory target is only a number in xenstore until the guest's balloon driver follows it
 * (vm-set.c). done(arg, vm, moved, now_kib) once the domain's memory moved 1 MiB toward
 * target_kib, or after 5 s without (then the old target is set again); vm NULL: the guest
 * or its domain went meanwhile. ops_balloon_needed: whether the change is big enough to
 * wait for (before 0: unknown, no). */
typedef void ops_balloon_fn(void *arg, struct vm *vm, bool moved, uint64_t now_kib);
void ops_balloon_wait(struct vm *vm, uint64_t before_kib, uint64_t target_kib,
		      ops_balloon_fn *done, void *arg);
bool ops_balloon_needed(uint64_t before_kib, uint64_t target_kib);
/* vm.addresses' vifs of vm (vm-addresses.c); NULL with err when the backend cannot tell. */
json_t *ops_vm_addresses(struct vm *vm, struct err *err);
/* The file of the named image (image.c: <first storage root>/templates/NAME.raw|qcow2),
 * malloc'ed, or NULL with err (NOT_FOUND; NOT_SUPPORTED: no storage root). */
char *ops_image_path(const char *name, struct err *err);
/* vm.create with an image (vm-provision.c): its params' check, and the request. */
const char *ops_provision_check(json_t *params);
void ops_provision_exec(struct rpc_req *req);
/* o with "addresses": every address of ops_vm_addresses in one list, each with its vif's mac
 * (none when the backend cannot tell); vm.info's and vm.list's. Returns o. */
json_t *ops_vm_with_addresses(struct vm *vm, json_t *o);
/* The index of the disk the guest boots from, which stays (vm-device.c): HVM's and a
 * bootloader's (pygrub) first disk that is not a cdrom; with a kernel given, the disk its
 * root= names (root=/dev/xvda1: xvda). -1: none. */
int ops_boot_disk(const struct vm_config *cfg);
/* The index in cfg of the disk of that vdev, of the nic of that MAC; -1: none. */
int ops_disk_index(const struct vm_config *cfg, const char *vdev);
int ops_nic_index(const struct vm_config *cfg, const uint8_t mac[6]);
/* The request's config (param xlcfg with filename, or config) parsed into cfg (init'ed
 * here), with what a writer who is not root may name checked (access.h). 0, or -1 after an
 * error reply. */
int ops_parse_config(struct rpc_req *req, struct vm_config *cfg);
/* The check (op_entry.check) of the methods that take a config: one of config and xlcfg. */
const char *ops_config_check(json_t *params);
/* Their two params, as rows of a param table. */
#define OPS_LIVE_CONFIG_PARAMS {"live", P_BOOL, false, 0, 0}, {"config", P_BOOL, false, 0, 0}
/* Param tables shared by verbs that take only a guest name. */
extern const struct param_spec ops_name_only[];
/* ... and by those that take none. */
extern const struct param_spec ops_no_params[];

extern const struct op_entry op_daemon_version;
extern const struct op_entry op_vm_define;
extern const struct op_entry op_vm_create;
extern const struct op_entry op_vm_start;
extern const struct op_entry op_vm_shutdown;
extern const struct op_entry op_vm_reboot;
extern const struct op_entry op_vm_destroy;
extern const struct op_entry op_vm_pause;
extern const struct op_entry op_vm_unpause;
extern const struct op_entry op_vm_list;
extern const struct op_entry op_vm_info;
extern const struct op_entry op_vm_remove;
extern const struct op_entry op_vm_config;
extern const struct op_entry op_vm_console;
extern const struct op_entry op_vm_autostart;
extern const struct op_entry op_events_subscribe;
extern const struct op_entry op_sim_inject;
extern const struct op_entry op_vm_clone;
extern const struct op_entry op_disk_create;
extern const struct op_entry op_job_cancel;
extern const struct op_entry op_vm_install;
extern const struct op_entry op_vm_migrate;
extern const struct op_entry op_vm_migrate_incoming;
extern const struct op_entry op_vm_save;
extern const struct op_entry op_vm_restore;
extern const struct op_entry op_vm_set_vcpus;
extern const struct op_entry op_vm_set_memory;
extern const struct op_entry op_vm_set_sched;
extern const struct op_entry op_vm_attach_disk;
extern const struct op_entry op_vm_detach_disk;
extern const struct op_entry op_vm_update;
extern const struct op_entry op_vm_set_nic_rate;
extern const struct op_entry op_vm_snapshot_create;
extern const struct op_entry op_vm_snapshot_list;
extern const struct op_entry op_vm_stats;
extern const struct op_entry op_vm_stats_all;
extern const struct op_entry op_network_create;
extern const struct op_entry op_image_add;
extern const struct op_entry op_image_list;
extern const struct op_entry op_image_remove;
extern const struct op_entry op_network_list;
extern const struct op_entry op_network_info;
extern const struct op_entry op_network_remove;
extern const struct op_entry op_vm_addresses;
extern const struct op_entry op_vm_snapshot_revert;
extern const struct op_entry op_vm_snapshot_delete;
extern const struct op_entry op_vm_attach_nic;
extern const struct op_entry op_vm_detach_nic;
extern const struct op_entry op_vm_cd_insert;
extern const struct op_entry op_vm_cd_eject;

#endif
