/*
 * migrate.h: live migration between vmds over SSH (vm.migrate, vm.migrate_incoming), both
 * halves, as `xl migrate` does it with its own protocol in place of xl's:
 *
 *   source                                  target (its vmd, reached through `vmctl proxy`)
 *   ssh HOST vmctl [-s PATH] proxy  ------>
 *   vm.migrate_incoming {xlcfg, hypervisor, backend, disks, live}   (JSON-RPC)
 *                                  <------  result {ready}: the connection becomes a stream
 *   the backend's migration stream ------>  built from it: a paused domain NAME--incoming
 *                                  <------  {"restored": true}
 *   renames its domain NAME--migratedaway
 *   {"go": true}                   ------>  renames it NAME, stores the definition, unpauses
 *                                  <------  {"running": true, "domid": N}
 *   destroys its domain, removes the definition; the reply to the client
 *
 * Until "go" the guest runs on (or is resumed) on the source whatever fails; an error line
 * from the target after "go" means it destroyed its domain, and the source resumes too. Only
 * a target that vanishes after "go" without an answer leaves the guest suspended on the
 * source (it may run on the target): the error says so. To the same host (ssh://localhost),
 * both halves run in one daemon and the guest keeps its definition; only its domain changes.
 */
#ifndef VMD_MIGRATE_H
#define VMD_MIGRATE_H

#include <stdbool.h>

struct daemon;
struct rpc_req;
struct vm;

/* vm.migrate: req->vm to uri; answers req when done. */
void migrate_out(struct rpc_req *req, struct vm *vm, const char *uri, bool live);
/* vm.migrate_incoming: checks, answers {ready} and takes the connection for the stream (or
 * answers an error). */
void migrate_in(struct rpc_req *req);
/* At exit: ends every migration (a source guest runs on; a domain being received is left). */
void migrate_shutdown(struct daemon *d);

#endif
