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
 *
 * What a restricted writer's config may hold is read from the key table (xlkeys.c): a key
 * flagged XF_ROOT (devices, device model programs and arguments, security labels, another
 * domain's backends...) is refused outright, an XF_PATH key must name a file under the
 * storage roots; the device specs are checked field by field below.
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
#include "xlcfg.h"
#include "xlkeys.h"

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

/* Every top-level key of the text, as xlcfg_values lists them. */
static int check_keys(const struct vm_config *cfg, char *const *roots, size_t n_roots,
		      struct err *err)
{
	json_t *values = xlcfg_values(cfg->text);
	const char *key;
	json_t *v;
	int r = 0;
	json_object_foreach(values, key, v) {
		const struct xl_key *k = xlkeys_find(key);
		if (!k)
			continue; /* not reached: the parse refused it */
		if (k->flags & XF_ROOT) {
			err_set(err, VMD_ERR_PERMISSION, "%s: only root may set this key", key);
			err_add_str(err, "key", key);
			r = -1;
			break;
		}
		if ((k->flags & XF_PATH) && json_is_string(v) &&
		    check_file(key, json_string_value(v), roots, n_roots, err) < 0) {
			r = -1;
			break;
		}
	}
	json_decref(values);
	return r;
}

static bool backend_elsewhere(const char *domname, uint32_t domid)
{
	return (domname && *domname && strcmp(domname, "Domain-0") != 0) || domid != 0;
}

int access_check_config(const struct vm_config *cfg, char *const *roots, size_t n_roots,
			struct err *err)
{
	const libxl_domain_config *dc = &cfg->dc;
	const libxl_domain_build_info *b = &dc->b_info;
	if (check_keys(cfg, roots, n_roots, err) < 0)
		return -1;
	if (b->bootloader && strcmp(b->bootloader, "pygrub") != 0)
		FAIL("bootloader", b->bootloader,
		     "bootloader: only root may name a bootloader program; use pygrub");
	for (char **a = b->bootloader_args; a && *a; a++)
		if (!bootloader_arg_allowed(*a))
			FAIL("bootloader_args", NULL,
			     "bootloader_args: '%.100s' is not allowed (only --entry=, --kernel=, "
			     "--ramdisk=, --args=)", *a);
	for (int i = 0; i < dc->num_disks; i++) {
		const libxl_device_disk *d = &dc->disks[i];
		if (d->script)
			FAIL("disk", d->script, "disk %s: only root may set a block script", d->vdev);
		if (backend_elsewhere(d->backend_domname, d->backend_domid))
			FAIL("disk", NULL, "disk %s: only root may name a backend domain", d->vdev);
		if (d->pdev_path && *d->pdev_path && !vm_config_disk_file(d))
			FAIL("disk", d->pdev_path, "disk %s: only root may name a target that is not "
			     "a file (%.100s)", d->vdev, d->pdev_path);
		if (check_file("disk", vm_config_disk_file(d), roots, n_roots, err) < 0)
			return -1;
	}
	for (int i = 0; i < dc->num_nics; i++) {
		const libxl_device_nic *n = &dc->nics[i];
		if (n->script && strchr(n->script, '/'))
			FAIL("vif", n->script,
			     "vif: only root may name a script by path; use a script of "
			     "/etc/xen/scripts by name");
		if (backend_elsewhere(n->backend_domname, n->backend_domid))
			FAIL("vif", NULL, "vif: only root may name a backend domain");
	}
	if (b->type == LIBXL_DOMAIN_TYPE_HVM) {
		const char *serial = b->u.hvm.serial;
		for (char **l = b->u.hvm.serial_list; l && *l; l++)
			if (strcmp(*l, "pty") && strcmp(*l, "none"))
				serial = *l;
		if (serial && strcmp(serial, "pty") && strcmp(serial, "none"))
			FAIL("serial", NULL, "serial: only root may set '%.100s' (pty or none)",
			     serial);
		const char *usb = b->u.hvm.usbdevice;
		for (char **l = b->u.hvm.usbdevice_list; l && *l; l++)
			if (strncmp(*l, "host:", 5) == 0)
				usb = *l;
		if (usb && strncmp(usb, "host:", 5) == 0)
			FAIL("usbdevice", NULL, "usbdevice: only root may pass a host device through "
			     "('%.100s')", usb);
	}
	return 0;
}

int access_check_caller_path(uid_t uid, const char *path, struct err *err)
{
	if (access_unrestricted(uid, geteuid()))
		return 0;
	const struct vmd_conf *c = conf_active();
	return access_path_allowed(path, c->storage_roots, c->n_storage_roots, err);
}
