/*
 * save.h: a guest's memory to a file and back (vm.save, vm.restore, and vm.start of a guest
 * with a managed save), as `xl save` / `xl restore` do it, in the daemon's loop.
 *
 * A save file is one line of JSON, the header, then the backend's stream (libxl: the one
 * `xl migrate` sends; sim: its own):
 *
 *   {"vmd-save":1,"name":..,"uuid":..,"backend":..,"hypervisor":..,"xlcfg":..,
 *    "memory_mib":..,"paused":..,"saved_at":..}\n<stream>
 *
 * The header keeps the definition the domain was built from (xl keeps it likewise), so that
 * a restore builds the same devices, and so that a file restores on a host that does not
 * know the guest (it is defined there). The file is written unnamed (O_TMPFILE) and linked
 * under its name only once complete and synced: a failure, a cancel or a kill -9 leaves no
 * file, and an existing file is never replaced. A managed save (no file given) lives in
 * <state-dir>/saves/NAME.save; the next vm.start restores it and then deletes it.
 *
 * Both ways the stream passes through a socket pair between the backend and the file (libxl
 * watches its fds through libevent, which cannot watch a regular file); the relay counts the
 * bytes for the job's progress and lets a cancel break the stream off (a save then resumes the
 * guest, a restore fails and the domain being built goes). A failed restore leaves the file.
 */
#ifndef VMD_SAVE_H
#define VMD_SAVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct daemon;
struct rpc_req;
struct saving;
struct vm;

/* save_checkpoint's news, on the loop: s, the file complete, synced and named at its path,
 * the domain suspended until save_checkpoint_end(s); or s NULL and why it failed (err: the
 * callee's to take; the guest runs on, no file). */
typedef void (*save_suspended_fn)(void *arg, struct saving *s, struct err *err);

/* vm.save: req->vm's memory to file (NULL: a managed save); keep_running: a checkpoint (the
 * guest runs on, as xl save -c). Answers req when done. */
void save_start(struct rpc_req *req, struct vm *vm, const char *file, bool keep_running);
/* A checkpoint of vm's memory to path (a new file), with no request of its own: a
 * snapshot's memory (kind: its job's). The save under way (then is called later), or NULL
 * with err (nothing started). */
struct saving *save_checkpoint(struct daemon *d, struct vm *vm, const char *path,
			       const char *kind, save_suspended_fn then, void *arg,
			       struct err *err);
/* Cancels a checkpoint before then() (a no-op after): then() is told of the failure. */
void save_cancel(struct saving *s);
/* Ends a checkpoint that then() was told of: the file stays (keep) or goes, the domain
 * resumes, s is freed. 0, or -1 with err (the guest does not resume: shutdown). */
int save_checkpoint_end(struct saving *s, bool keep, struct err *err);
/* The stream's bytes in the file. */
uint64_t save_bytes(const struct saving *s);
/* vm.restore of file (vm NULL), or vm.start of vm with a managed save (file NULL): the guest
 * from its save; paused: left paused. Answers req when done (the vm object). */
void save_restore(struct rpc_req *req, struct vm *vm, const char *file, bool paused);
/* The same, answering extra (stolen; NULL: as save_restore) with the restore's answer as its
 * "restored" member. */
void save_restore_with(struct rpc_req *req, struct vm *vm, const char *file, bool paused,
		       json_t *extra);
/* The managed save's path of guest name (malloc'd). */
char *save_managed_path(const struct daemon *d, const char *name);
/* At start: marks the guests that have a managed save. */
void save_scan(struct daemon *d);
/* At exit: ends every save and restore (a guest being saved runs on). */
void save_shutdown(struct daemon *d);

#endif
