/*
 * access.h: who may do what. A client's rights come from the kernel's record of the peer
 * (SO_PEERCRED, SO_PEERGROUPS), read once at accept, never from anything the client says.
 *
 * - Writers (may call every method): root, the daemon's own uid, and members of the
 *   configured group (vmd by default), primary or supplementary group alike.
 * - Everyone else may only read (list, info, config, events, version). The rule is applied
 *   to each method's `perm` by the dispatcher (rpc.c). A connection on the read-only socket
 *   is a reader whoever the peer is.
 * - A writer that is neither root nor the daemon's uid is restricted in what a guest config
 *   may name: files must resolve, symlinks included, under the storage roots of vmd.conf, and
 *   nothing may make the daemon run a program of the writer's choosing (bootloader paths,
 *   hotplug script paths) or write a file of their choosing (serial to a file).
 */
#ifndef VMD_ACCESS_H
#define VMD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

struct vm_config;

struct peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;          /* primary group */
	gid_t *groups;      /* supplementary groups at connect time */
	size_t n_groups;
	bool groups_known;  /* false if the kernel could not tell (then only uid/gid count) */
};

/* Reads the credentials of the peer of a connected Unix socket. 0, or -1 with errno
 * (SO_PEERCRED failed: refuse the connection). */
int access_peer_read(int fd, struct peer *out);
void access_peer_finish(struct peer *p);

/* Whether the peer may call mutating methods; group is the writers' group (have_group false
 * when it does not exist on this host: then only root and daemon_uid). */
bool access_can_write(const struct peer *p, uid_t daemon_uid, bool have_group, gid_t group);
/* Writers whose paths are not checked: root, and the daemon's own uid (which can do all the
 * daemon can anyway). */
bool access_unrestricted(uid_t uid, uid_t daemon_uid);

/* Resolves path (symlinks included; a path that does not exist yet, such as a clone target,
 * through its directory) and checks that it lies in one of the roots (themselves resolved).
 * 0, or -1 with why filled. */
int access_path_allowed(const char *path, char *const *roots, size_t n_roots, struct err *err);
/* Checks all that a restricted writer's guest config names (see the top of this file).
 * 0, or -1 with err PERMISSION: why, data.key (the xl.cfg key), data.path (when a path is at
 * fault). */
int access_check_config(const struct vm_config *cfg, char *const *roots, size_t n_roots,
			struct err *err);
/* For ops that take a path from the client (disk.create's path, a clone's disk_dir and
 * targets): 0 when the peer uid is unrestricted, or when path resolves under the storage
 * roots of the configuration in force (conf_active); -1 with why filled. */
int access_check_caller_path(uid_t uid, const char *path, struct err *err);

#endif
