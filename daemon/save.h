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

#include <stdbool.h>

struct daemon;
struct rpc_req;
struct vm;

/* vm.save: req->vm's memory to file (NULL: a managed save); keep_running: a checkpoint (the
 * guest runs on, as xl save -c). Answers req when done. */
void save_start(struct rpc_req *req, struct vm *vm, const char *file, bool keep_running);
/* vm.restore of file (vm NULL), or vm.start of vm with a managed save (file NULL): the guest
 * from its save; paused: left paused. Answers req when done (the vm object). */
void save_restore(struct rpc_req *req, struct vm *vm, const char *file, bool paused);
/* The managed save's path of guest name (malloc'd). */
char *save_managed_path(const struct daemon *d, const char *name);
/* At start: marks the guests that have a managed save. */
void save_scan(struct daemon *d);
/* At exit: ends every save and restore (a guest being saved runs on). */
void save_shutdown(struct daemon *d);

#endif
