/*
 * image.add, image.list, image.remove: named images (templates) that vm.create finds by name
 * (`image: "debian-12"`): files <first storage root>/templates/NAME.raw or NAME.qcow2.
 *
 * image.add copies a file there (a long operation: a job with progress, reflink where it can,
 * journaled, nothing left on failure), after the same checks vm.create makes of an image;
 * image.list tells each one's format, sizes and the guests that use it (a disk that is the
 * file, or a qcow2 disk whose backing file it is); image.remove deletes one that no guest
 * uses (a qcow2 overlay of it would lose its data) and refuses one that is used.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "disk.h"
#include "log.h"
#include "longop.h"
#include "ops.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

/* <first storage root>/templates, or NULL with err when vmd.conf names no storage root. */
static char *templates_dir(struct err *err)
{
	const struct vmd_conf *conf = conf_active();
	if (conf->n_storage_roots == 0) {
		err_set(err, VMD_ERR_NOT_SUPPORTED,
			"named images live under the first storage root, and vmd.conf names none "
			"(storage_roots)");
		return NULL;
	}
	return xasprintf("%s/templates", conf->storage_roots[0]);
}

char *ops_image_path(const char *name, struct err *err)
{
	char *dir = templates_dir(err);
	if (!dir)
		return NULL;
	static const char *const ext[] = {"raw", "qcow2"};
	for (int i = 0; i < 2; i++) {
		char *p = xasprintf("%s/%s.%s", dir, name, ext[i]);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			free(dir);
			return p;
		}
		free(p);
	}
	err_set(err, VMD_ERR_NOT_FOUND, "no image named '%.64s' (vmctl image list)", name);
	free(dir);
	return NULL;
}

/* Does disk file (of format qcow2 when qcow2) use the image at path? */
static bool uses(const char *file, bool qcow2, const char *path)
{
	if (strcmp(file, path) == 0)
		return true;
	char *b = qcow2 ? disk_qcow2_backing(file) : NULL;
	bool yes = false;
	if (b && b[0] == '/') {
		yes = strcmp(b, path) == 0;
	} else if (b) { /* relative to the overlay's directory */
		const char *slash = strrchr(file, '/');
		char *abs = xasprintf("%.*s/%s", slash ? (int)(slash - file) : 1, slash ? file : ".",
				      b);
		yes = strcmp(abs, path) == 0;
		free(abs);
	}
	free(b);
	return yes;
}

/* The names of the guests whose disks use the image at path. */
static json_t *users(struct daemon *d, const char *path)
{
	json_t *names = json_array();
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link) {
		struct err err = {0};
		const struct vm_config *cfg = vm_cfg(vm, &err);
		err_clear(&err);
		for (int i = 0; cfg && i < cfg->dc.num_disks; i++) {
			const libxl_device_disk *dk = &cfg->dc.disks[i];
			const char *file = vm_config_disk_file(dk);
			if (file && uses(file, dk->format == LIBXL_DISK_FORMAT_QCOW2, path)) {
				json_array_append_new(names, json_string(vm->name));
				break;
			}
		}
	}
	return names;
}

/* The image object of proto/ for the file at path (NAME.EXT), or NULL when it is not one. */
static json_t *image_json(struct daemon *d, const char *path)
{
	const char *base = strrchr(path, '/') + 1;
	const char *dot = strrchr(base, '.');
	if (!dot || (strcmp(dot, ".raw") != 0 && strcmp(dot, ".qcow2") != 0))
		return NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct disk_image di;
	struct err err = {0};
	int r = fd >= 0 ? disk_image_probe(fd, path, &di, &err) : -1;
	if (fd >= 0)
		close(fd);
	err_clear(&err);
	if (r < 0)
		return NULL;
	return json_pack("{s:s#, s:s, s:s, s:I, s:I, s:o}", "name", base, (int)(dot - base),
			 "path", path, "format", di.qcow2 ? "qcow2" : "raw", "size",
			 (json_int_t)di.file_size, "virtual_size", (json_int_t)di.virtual_size,
			 "used_by", users(d, path));
}

static int by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

static void exec_list(struct rpc_req *req)
{
	struct err err = {0};
	json_t *all = json_array();
	char *dir = templates_dir(&err);
	DIR *dh = dir ? opendir(dir) : NULL;
	err_clear(&err); /* no storage root, no directory yet: no images */
	struct dirent *e;
	size_t n = 0, cap = 0;
	json_t **items = NULL;
	while (dh && (e = readdir(dh))) {
		if (e->d_name[0] == '.')
			continue; /* ".", "..", and image.add's temporary files */
		char *p = xasprintf("%s/%s", dir, e->d_name);
		json_t *o = image_json(req->d, p);
		free(p);
		if (!o)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			items = xrealloc(items, cap * sizeof *items);
		}
		items[n++] = o;
	}
	if (dh)
		closedir(dh);
	if (n)
		qsort(items, n, sizeof *items, by_name);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(all, items[i]);
	free(items);
	free(dir);
	rpc_reply_result(req, json_pack("{s:o}", "images", all));
}

static void exec_remove(struct rpc_req *req)
{
	struct err err = {0};
	const char *name = rpc_param_str(req, "name");
	char *path = ops_image_path(name, &err);
	if (!path) {
		err_add_str(&err, "name", name);
		rpc_reply_err(req, &err);
		return;
	}
	json_t *who = users(req->d, path);
	if (json_array_size(who) > 0) {
		err_set(&err, VMD_ERR_BAD_STATE, "image '%s' is in use by %zu guest%s (a qcow2 "
			"overlay of it, or a disk that is the file): remove them first", name,
			json_array_size(who), json_array_size(who) == 1 ? "" : "s");
		err_add_str(&err, "name", name);
		err_add(&err, "guests", who);
		rpc_reply_err(req, &err);
		free(path);
		return;
	}
	json_decref(who);
	if (unlink(path) < 0 || disk_fsync_dir(path) < 0) {
		err_set(&err, VMD_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
		err_add_str(&err, "path", path);
		rpc_reply_err(req, &err);
		free(path);
		return;
	}
	log_info("image %s removed (%s)", name, path);
	rpc_reply_result(req, json_pack("{s:s, s:s, s:b}", "name", name, "path", path,
					"removed", 1));
	free(path);
}

/* ---- image.add: a long operation ------------------------------------------------------------ */

struct add {
	char *name, *source, *dir;
	const char *method;
	bool made_dir;
};

static void add_free(void *arg)
{
	struct add *a = arg;
	free(a->name);
	free(a->source);
	free(a->dir);
	free(a);
}

static int add_work(struct longop *op)
{
	struct add *a = op->arg;
	longop_set_phase(op, "checking %s", a->source);
	int fd = open(a->source, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct disk_image di;
	struct err err = {0};
	if (fd < 0) {
		longop_fail_path(op, VMD_ERR_IO, "path", a->source, "cannot open %s: %s", a->source,
				 strerror(errno));
		return -1;
	}
	if (disk_image_probe(fd, a->source, &di, &err) < 0) {
		longop_fail_path(op, err.code, "path", err.code == VMD_ERR_IO ? a->source : NULL,
				 "%s", err.msg);
		err_clear(&err);
		close(fd);
		return -1;
	}
	if (di.qcow2 && disk_qcow2_check(a->source, &err) < 0) {
		longop_fail_path(op, err.code, "path", NULL, "%s is not a whole qcow2 image: %s",
				 a->source, err.msg);
		err_clear(&err);
		close(fd);
		return -1;
	}
	if (di.has_backing) {
		longop_fail_path(op, VMD_ERR_NOT_SUPPORTED, "path", a->source,
				 "%s has a backing file of its own: an image must stand alone "
				 "(qemu-img convert it first)", a->source);
		close(fd);
		return -1;
	}
	char *final = xasprintf("%s/%s.%s", a->dir, a->name, di.qcow2 ? "qcow2" : "raw");
	char *other = xasprintf("%s/%s.%s", a->dir, a->name, di.qcow2 ? "raw" : "qcow2");
	struct stat st;
	bool taken = lstat(final, &st) == 0 || lstat(other, &st) == 0;
	free(other);
	if (taken) {
		longop_fail_path(op, VMD_ERR_EXISTS, NULL, final, "an image named '%s' exists",
				 a->name);
		free(final);
		close(fd);
		return -1;
	}
	if (mkdir(a->dir, 0755) == 0)
		a->made_dir = true;
	else if (errno != EEXIST) {
		longop_fail_path(op, VMD_ERR_IO, NULL, a->dir, "cannot create %s: %s", a->dir,
				 strerror(errno));
		free(final);
		close(fd);
		return -1;
	}
	size_t i = longop_add_file(op, final);
	free(final);
	job_set_total(op->job, di.file_size);
	longop_set_phase(op, "copying %s", a->source);
	int m = longop_journal(op) < 0 ? -1 : longop_copy(op, i, fd, a->source, di.file_size, 0,
							    op->d->copy_rate);
	close(fd);
	if (m < 0 || longop_commit_file(op, i) < 0)
		return -1;
	a->method = disk_copy_method_name(m);
	if (disk_fsync_dir(op->files[i].jf.final) < 0) {
		longop_fail_path(op, VMD_ERR_IO, NULL, a->dir, "cannot sync %s: %s", a->dir,
				 strerror(errno));
		return -1;
	}
	return 0;
}

static void add_undo(struct longop *op)
{
	struct add *a = op->arg;
	if (a->made_dir)
		rmdir(a->dir);
	a->made_dir = false;
}

static void add_finish(struct longop *op)
{
	struct add *a = op->arg;
	json_t *o = image_json(op->d, op->files[0].jf.final);
	if (!o) {
		struct err err = {0};
		err_set(&err, VMD_ERR_IO, "image %s vanished", op->files[0].jf.final);
		longop_done_err(op, &err);
		return;
	}
	json_object_set_new(o, "method", json_string(a->method));
	json_object_set_new(o, "job", json_string(op->job_id));
	log_info("image %s added from %s (%s)", a->name, a->source, a->method);
	longop_done(op, o);
}

static const struct longop_ops add_ops = {
	.work = add_work,
	.finish = add_finish,
	.undo = add_undo,
	.free = add_free,
};

static void exec_add(struct rpc_req *req)
{
	const char *name = rpc_param_str(req, "name");
	const char *path = rpc_param_str(req, "path");
	struct add *a = xcalloc(1, sizeof *a);
	struct longop *op = longop_new(req, "image.add", &add_ops, a, "image '%s' from %s", name,
				       path);
	a->name = xstrdup(name);
	a->source = xstrdup(path);
	a->dir = templates_dir(&op->err);
	if (!a->dir || path[0] != '/' ||
	    ops_check_caller_path(req, "path", path, &op->err) < 0) {
		if (path[0] != '/')
			longop_fail_path(op, VMD_ERR_INVALID_PARAMS, "path", NULL,
					 "'path' must be an absolute path of a file");
		longop_abort(op);
		return;
	}
	longop_start(op);
}

static const struct param_spec add_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"path", P_STRING, true, 0, 0},
	{NULL, 0, false, 0, 0},
};

static const struct param_spec name_params[] = {
	{"name", P_NAME, true, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_image_add = {
	.method = "image.add",
	.params = add_params,
	.perm = OP_WRITE,
	.exec = exec_add,
};

const struct op_entry op_image_list = {
	.method = "image.list",
	.params = ops_no_params,
	.perm = OP_READ,
	.exec = exec_list,
};

const struct op_entry op_image_remove = {
	.method = "image.remove",
	.params = name_params,
	.perm = OP_WRITE,
	.exec = exec_remove,
};
