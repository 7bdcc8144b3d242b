/*
 * access.c: see access.h.
 *
 * Why SO_PEERGROUPS: the peer's supplementary groups must be those it had when it connected,
 * read from the kernel; looking the uid up in /etc/group (getgrouplist) would be slow, could
 * block on NSS, and would grant a user who was removed from the group but still holds it in a
 * running session, or refuse one just added. Linux has it since 4.13; older kernels leave us
 * with uid and primary gid.
 *
 * Path checks resolve with realpath(3), so a symlink under a storage root that points out of
 * it is refused, and so is "..". They hold at the time of the check: whoever may write in a
 * storage root can swap a checked file for a symlink later (see vmd.conf(5)).
 */
#include "access.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "config.h"
#include "util.h"
#include "vmd-proto.h"

int access_peer_read(int fd, struct peer *out)
{
	memset(out, 0, sizeof *out);
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -1;
	out->pid = cred.pid;
	out->uid = cred.uid;
	out->gid = cred.gid;
#ifdef SO_PEERGROUPS
	/* The kernel says how much room it needs with ERANGE; the groups are the socket's, fixed
	 * at connect, so the second call gets the size the first one reported. */
	len = 16 * sizeof(gid_t);
	for (int tries = 0; tries < 2; tries++) {
		gid_t *g = xmalloc(len ? len : sizeof(gid_t));
		socklen_t got = len;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &got) == 0) {
			out->groups = g;
			out->n_groups = got / sizeof(gid_t);
			out->groups_known = true;
			break;
		}
		free(g);
		if (errno != ERANGE)
			break;
		len = got;
	}
#endif
	return 0;
}

void access_peer_finish(struct peer *p)
{
	free(p->groups);
	p->groups = NULL;
	p->n_groups = 0;
}

bool access_unrestricted(uid_t uid, uid_t daemon_uid)
{
	return uid == 0 || uid == daemon_uid;
}

bool access_can_write(const struct peer *p, uid_t daemon_uid, bool have_group, gid_t group)
{
	if (access_unrestricted(p->uid, daemon_uid))
		return true;
	if (!have_group)
		return false;
	if (p->gid == group)
		return true;
	for (size_t i = 0; i < p->n_groups; i++)
		if (p->groups[i] == group)
			return true;
	return false;
}

/* realpath of path, or, when only its last component is missing, of its directory plus that
 * component. NULL with errno. */
static char *resolve(const char *path)
{
	char *r = realpath(path, NULL);
	if (r || errno != ENOENT)
		return r;
	/* Only the last component may be missing, and not as a dangling symlink: whatever
	 * later creates the file would follow it wherever it points. */
	struct stat st;
	if (lstat(path, &st) == 0) {
		errno = ENOENT;
		return NULL;
	}
	char *d = xstrdup(path), *b = xstrdup(path);
	char *base = basename(b);
	char *dir = realpath(dirname(d), NULL);
	char *out = NULL;
	if (dir && strcmp(base, ".") && strcmp(base, "..") && strcmp(base, "/")) {
		out = xasprintf("%s%s%s", dir, strcmp(dir, "/") ? "/" : "", base);
	} else if (dir) {
		errno = EINVAL;
	}
	free(dir);
	free(d);
	free(b);
	return out;
}

static bool inside(const char *path, const char *root)
{
	size_t n = strlen(root);
	if (strcmp(root, "/") == 0)
		return true;
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int access_path_allowed(const char *path, char *const *roots, size_t n_roots, struct err *err)
{
	if (!path || path[0] != '/') {
		err_set(err, VMD_ERR_PERMISSION, "'%s' is not an absolute path", path ? path : "");
		return -1;
	}
	char *real = resolve(path);
	if (!real) {
		err_set(err, VMD_ERR_PERMISSION, "cannot resolve %s: %s", path, strerror(errno));
		return -1;
	}
	int r = -1;
	for (size_t i = 0; i < n_roots && r < 0; i++) {
		char *root = realpath(roots[i], NULL);
		if (root && inside(real, root))
			r = 0;
		free(root);
	}
	if (r < 0) {
		if (strcmp(real, path))
			err_set(err, VMD_ERR_PERMISSION,
				"%s (resolved to %s) is outside the storage roots", path, real);
		else
			err_set(err, VMD_ERR_PERMISSION, "%s is outside the storage roots", path);
	}
	free(real);
	return r;
}

/* pygrub options that only choose what to boot from the guest's own disk; the others (e.g.
 * --output-directory) would have the daemon's child write where the writer says. */
static bool bootloader_arg_allowed(const char *a)
{
	static const char *const prefixes[] = {"--entry=", "--kernel=", "--ramdisk=", "--args=",
						NULL};
	for (const char *const *p = prefixes; *p; p++)
		if (strncmp(a, *p, strlen(*p)) == 0)
			return true;
	return false;
}

/* A refusal about config key k (and the path p at fault, if any): "permission denied: ...". */
#define FAIL(k, p, ...)                                                                      \
	do {                                                                                 \
		err_set(err, VMD_ERR_PERMISSION, __VA_ARGS__);                               \
		err_add_str(err, "key", k);                                                  \
		err_add_str(err, "path", p);                                                 \
		return -1;                                                                   \
	} while (0)

static int check_file(const char *k, const char *file, char *const *roots, size_t n_roots,
		      struct err *err)
{
	struct err w = {0};
	if (file && access_path_allowed(file, roots, n_roots, &w) < 0) {
		char why[ERR_MSG_MAX];
		snprintf(why, sizeof why, "%s", w.msg);
		err_clear(&w);
		FAIL(k, file, "%s: %s", k, why);
	}
	return 0;
}

int access_check_config(const struct vm_config *cfg, char *const *roots, size_t n_roots,
			struct err *err)
{
	if (check_file("kernel", cfg->kernel, roots, n_roots, err) < 0 ||
	    check_file("ramdisk", cfg->ramdisk, roots, n_roots, err) < 0)
		return -1;
	if (cfg->bootloader && strcmp(cfg->bootloader, "pygrub") != 0)
		FAIL("bootloader", cfg->bootloader,
		     "bootloader: only root may name a bootloader program; use pygrub");
	for (size_t i = 0; i < cfg->n_bootloader_args; i++)
		if (!bootloader_arg_allowed(cfg->bootloader_args[i]))
			FAIL("bootloader_args", NULL,
			     "bootloader_args: '%.100s' is not allowed (only --entry=, --kernel=, "
			     "--ramdisk=, --args=)", cfg->bootloader_args[i]);
	for (size_t i = 0; i < cfg->n_disks; i++) {
		const struct vm_disk *d = &cfg->disks[i];
		if (d->script)
			FAIL("disk", d->script,
			     "disk %s: only root may set a block script", d->vdev);
		if (check_file("disk", d->target, roots, n_roots, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < cfg->n_vifs; i++)
		if (cfg->vifs[i].script && strchr(cfg->vifs[i].script, '/'))
			FAIL("vif", cfg->vifs[i].script,
			     "vif: only root may name a script by path; use a script of "
			     "/etc/xen/scripts by name");
	if (cfg->serial && strcmp(cfg->serial, "pty") && strcmp(cfg->serial, "none"))
		FAIL("serial", NULL, "serial: only root may set '%.100s' (pty or none)",
		     cfg->serial);
	return 0;
}

int access_check_caller_path(uid_t uid, const char *path, struct err *err)
{
	if (access_unrestricted(uid, geteuid()))
		return 0;
	const struct vmd_conf *c = conf_active();
	return access_path_allowed(path, c->storage_roots, c->n_storage_roots, err);
}
