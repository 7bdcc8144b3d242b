/*
 * vm.install: the classic Xen install in one request. It makes a new disk image, stores a
 * definition that boots an installer, starts it and answers with what to attach to (console,
 * VNC). The installer is one of:
 *   HVM  the ISO on an emulated cdrom (hdc), boot order cdrom then disk, VNC and a serial
 *        console;
 *   PV   an installer kernel and initrd, given or found inside the ISO (iso.c) and extracted
 *        into <state-dir>/install/<name>/; the ISO, when there is one, rides along as a
 *        read-only cdrom (xvdc) for the installer to read its packages from.
 * From then on the core (vm.c) tracks the install phase: when the guest powers off or reboots
 * by itself, the installer is done; the definition becomes the installed system's (PV:
 * bootloader = "pygrub"; HVM: cdrom ejected, boot from disk) and the guest starts again
 * unless the request said start = false. vmd sets no time limit on an installer: real ones
 * wait for a human as long as it takes (vm.destroy ends one; vm.start boots it again).
 *
 * Order, so that a failure, a vanished client or a kill -9 leaves nothing behind:
 *   loop    checks the params, builds and validates the installer's config (and, for a
 *           writer who is not root, that every path lies under the storage roots)
 *   worker  checks that the ISO/kernel/initrd are readable files and the disk can be made,
 *           finds the installer in the ISO, journals the files it will make, creates the
 *           sparse image and extracts the kernel and initrd (temporary names, fsync, rename)
 *   loop    stores the definition (the image becomes an owned disk, the extracted files
 *           install files), removes the journal, starts the guest; a start that fails
 *           removes the definition and those files again (all or nothing, like vm.create)
 * A failure or cancel before the definition is stored removes what the worker made.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "conf.h"
#include "daemon.h"
#include "disk.h"
#include "iso.h"
#include "job.h"
#include "log.h"
#include "ops.h"
#include "rpc.h"
#include "server.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"
#include "xlcfg.h"

#define IMAGE_MODE 0600

enum { F_DISK, F_KERNEL, F_INITRD, F_MAX };

struct install {
	LIST_ENTRY(install) link;
	struct rpc_req *req;
	struct job *job;
	char *name;
	enum vm_type type;
	char *iso, *kernel, *initrd, *extra, *bridge;
	char *disk;
	bool create_disk;
	uint64_t disk_size;
	long long memory, vcpus;
	bool network, vnc, start;

	/* The worker's results. */
	bool extract;                /* PV from the ISO: kernel and initrd come out of it */
	struct iso_installer found;
	struct job_file files[F_MAX]; /* what the job makes; final == NULL when unused */
	bool made[F_MAX];            /* the final file exists and is ours (same dev/ino) */
	bool made_dir;
	char *dir;                   /* <state-dir>/install/<name> when extracting */
	int code;                    /* the error, when rc < 0 */
	char msg[1024];
	json_t *data;                /* built on the loop from param/path below */
	const char *param;
	char path[4096];
	bool tried;                  /* add found.tried to the error */
	struct vm *vm;
};

/* Installs between their request and their definition, so one name cannot be used twice. */
static LIST_HEAD(, install) running = LIST_HEAD_INITIALIZER(running);

static void install_free(struct install *in)
{
	if (!in)
		return;
	LIST_REMOVE(in, link);
	free(in->name);
	free(in->iso);
	free(in->kernel);
	free(in->initrd);
	free(in->extra);
	free(in->bridge);
	free(in->disk);
	free(in->dir);
	for (int i = 0; i < F_MAX; i++) {
		free(in->files[i].tmp);
		free(in->files[i].final);
	}
	json_decref(in->data);
	free(in);
}

static void fail(struct install *in, int code, const char *param, const char *path,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fail(struct install *in, int code, const char *param, const char *path,
		 const char *fmt, ...)
{
	in->code = code;
	in->param = param;
	snprintf(in->path, sizeof in->path, "%s", path ? path : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(in->msg, sizeof in->msg, fmt, ap);
	va_end(ap);
}

/* ---- the installer's definition --------------------------------------------------------- */

/* The installer's config as the JSON object of proto/, validated by the one parser every
 * definition goes through. kernel/ramdisk: the files the installer boots (PV). */
static int build_config(const struct install *in, const char *kernel, const char *ramdisk,
			struct vm_config *cfg, struct config_error *cerr)
{
	json_t *disks = json_array();
	json_array_append_new(disks, json_pack("{s:s, s:s, s:s}", "target", in->disk, "vdev",
					       "xvda", "access", "rw"));
	if (in->iso)
		json_array_append_new(disks, json_pack("{s:s, s:s, s:s, s:b}", "target", in->iso,
						       "vdev", in->type == VM_TYPE_HVM ? "hdc"
										 : "xvdc",
						       "access", "ro", "cdrom", 1));
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:o}", "name", in->name, "type",
			      vm_type_name(in->type), "memory", (json_int_t)in->memory, "vcpus",
			      (json_int_t)in->vcpus, "disk", disks);
	if (in->network) {
		json_t *vif = json_object();
		if (in->bridge)
			json_object_set_new(vif, "bridge", json_string(in->bridge));
		json_object_set_new(o, "vif", json_pack("[o]", vif));
	}
	if (in->type == VM_TYPE_HVM) {
		json_object_set_new(o, "boot", json_string("dc"));
		json_object_set_new(o, "serial", json_string("pty"));
		json_object_set_new(o, "vnc", json_boolean(in->vnc));
		if (in->vnc)
			json_object_set_new(o, "vnclisten", json_string("127.0.0.1"));
	} else {
		json_object_set_new(o, "kernel", json_string(kernel));
		json_object_set_new(o, "ramdisk", json_string(ramdisk));
		if (in->extra)
			json_object_set_new(o, "extra", json_string(in->extra));
	}
	int r = config_from_json(o, cfg, cerr);
	json_decref(o);
	if (r == 0)
		conf_apply_defaults(conf_active(), cfg);
	return r;
}

/* ---- the worker ------------------------------------------------------------------------- */

/* Removes what this install made: final files (only if still ours), temporary files, the
 * directory of extracted files, the journal. */
static void undo(struct install *in)
{
	for (int i = F_MAX; i-- > 0;) {
		struct job_file *f = &in->files[i];
		if (!f->final)
			continue;
		struct stat st;
		if (in->made[i] && lstat(f->final, &st) == 0 && (uint64_t)st.st_dev == f->dev &&
		    (uint64_t)st.st_ino == f->ino)
			unlink(f->final);
		in->made[i] = false;
		if (f->tmp)
			unlink(f->tmp);
	}
	if (in->made_dir)
		rmdir(in->dir);
	job_journal_remove(in->job);
}

static int cancelled_or(struct install *in)
{
	if (job_cancelled(in->job))
		fail(in, VMD_ERR_CANCELLED, NULL, NULL, "install of '%s' cancelled", in->name);
	undo(in);
	return -1;
}

/* An input file the installer boots or reads: it must be a readable regular file (the ISO
 * may also be a block device, a real drive). */
static int check_input(struct install *in, const char *param, const char *path, bool dev_ok)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		fail(in, VMD_ERR_IO, param, path, "cannot read the %s %s: %s",
		     strcmp(param, "iso") == 0 ? "ISO image" : param, path, strerror(errno));
		return -1;
	}
	struct stat st;
	int r = fstat(fd, &st);
	close(fd);
	if (r < 0 || !(S_ISREG(st.st_mode) || (dev_ok && S_ISBLK(st.st_mode)))) {
		fail(in, VMD_ERR_IO, param, path, "the %s %s is not a regular file",
		     strcmp(param, "iso") == 0 ? "ISO image" : param, path);
		return -1;
	}
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		fail(in, VMD_ERR_IO, param, path, "the %s %s is empty",
		     strcmp(param, "iso") == 0 ? "ISO image" : param, path);
		return -1;
	}
	return 0;
}

/* An existing disk the caller named without disk_size: installed onto as it is. */
static int check_existing_disk(struct install *in)
{
	int fd = open(in->disk, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			fail(in, VMD_ERR_IO, "disk", in->disk,
			     "the disk %s does not exist; give disk_size to create it", in->disk);
		else
			fail(in, VMD_ERR_IO, "disk", in->disk, "cannot open the disk %s: %s",
			     in->disk, strerror(errno));
		return -1;
	}
	struct stat st;
	uint64_t size = 0;
	int r = fstat(fd, &st);
	if (r == 0 && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	else if (r == 0 && S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size) < 0)
		size = 0;
	close(fd);
	if (r < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		fail(in, VMD_ERR_IO, "disk", in->disk,
		     "the disk %s is neither a regular file nor a block device", in->disk);
		return -1;
	}
	if (size < VMD_INSTALL_MIN_DISK) {
		fail(in, VMD_ERR_INVALID_PARAMS, "disk", in->disk,
		     "the disk %s is too small to install onto (%llu bytes; at least %u MiB)",
		     in->disk, (unsigned long long)size, VMD_INSTALL_MIN_DISK >> 20);
		return -1;
	}
	return 0;
}

/* The journal lists the files this install makes (an HVM install extracts none). */
static int journal(struct install *in)
{
	struct job_file used[F_MAX];
	size_t n = 0;
	for (int i = 0; i < F_MAX; i++)
		if (in->files[i].final)
			used[n++] = in->files[i];
	return job_journal_write(in->job, in->name, used, n);
}

static int set_id(struct install *in, int i, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	in->files[i].dev = (uint64_t)st.st_dev;
	in->files[i].ino = (uint64_t)st.st_ino;
	in->files[i].have_id = true;
	return journal(in);
}

/* Extracts one file of the ISO under its temporary name, then renames it into place. The
 * directory is vmd's own and the name is not defined: a stale file there is replaced. */
static int extract(struct install *in, int i, const char *iso_path)
{
	struct job_file *f = &in->files[i];
	job_set_phase(in->job, "extracting %s", iso_path);
	int fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail(in, VMD_ERR_IO, NULL, f->tmp, "cannot create %s: %s", f->tmp, strerror(errno));
		return -1;
	}
	char err[512];
	if (set_id(in, i, fd) < 0) {
		fail(in, VMD_ERR_IO, NULL, NULL, "cannot write the job journal: %s",
		     strerror(errno));
		close(fd);
		return -1;
	}
	int64_t n = iso_extract(in->iso, iso_path, fd, ISO_EXTRACT_MAX, &in->job->cancel, err,
				sizeof err);
	if (n < 0) {
		int e = errno;
		close(fd);
		if (e == ECANCELED)
			return -1;
		fail(in, e == EFBIG || e == EINVAL ? VMD_ERR_NOT_SUPPORTED : VMD_ERR_IO, "iso",
		     in->iso, "%s", err);
		return -1;
	}
	atomic_fetch_add(&in->job->done_bytes, (uint64_t)n);
	if (fsync(fd) < 0 || close(fd) < 0) {
		fail(in, VMD_ERR_IO, NULL, f->tmp, "cannot write %s: %s", f->tmp, strerror(errno));
		return -1;
	}
	if (rename(f->tmp, f->final) < 0) {
		fail(in, VMD_ERR_IO, NULL, f->final, "cannot rename %s to %s: %s", f->tmp, f->final,
		     strerror(errno));
		return -1;
	}
	in->made[i] = true;
	return 0;
}

static int work(struct job *j, void *arg)
{
	struct install *in = arg;
	job_set_phase(j, "checking");
	if (in->iso && check_input(in, "iso", in->iso, true) < 0)
		return -1;
	if (in->kernel && check_input(in, "kernel", in->kernel, false) < 0)
		return -1;
	if (in->initrd && check_input(in, "initrd", in->initrd, false) < 0)
		return -1;
	if (!in->create_disk && check_existing_disk(in) < 0)
		return -1;
	struct stat st;
	if (in->create_disk && lstat(in->disk, &st) == 0) {
		fail(in, VMD_ERR_EXISTS, "disk", in->disk,
		     "%s already exists; vmd never overwrites an image (to install onto it, "
		     "leave out disk_size)",
		     in->disk);
		return -1;
	}

	if (in->extract) {
		job_set_phase(j, "reading %s", in->iso);
		char err[1024];
		if (iso_find_installer(in->iso, &in->found, err, sizeof err) < 0) {
			int e = errno;
			bool none = e == ENOENT && in->found.n_tried > 0;
			in->tried = none;
			fail(in, none || e == EINVAL ? VMD_ERR_NOT_SUPPORTED : VMD_ERR_IO, "iso",
			     in->iso, "%s%s", err,
			     none ? "; install it as HVM (type hvm) or name the installer's kernel "
				    "and initrd"
				  : "");
			return -1;
		}
		job_set_total(j, in->found.kernel_size + in->found.initrd_size);
		in->files[F_KERNEL].final = xasprintf("%s/vmlinuz", in->dir);
		in->files[F_KERNEL].tmp = disk_temp_name(in->files[F_KERNEL].final);
		in->files[F_INITRD].final = xasprintf("%s/initrd", in->dir);
		in->files[F_INITRD].tmp = disk_temp_name(in->files[F_INITRD].final);
	}
	if (in->create_disk) {
		in->files[F_DISK].final = xstrdup(in->disk);
		in->files[F_DISK].tmp = disk_temp_name(in->disk);
	}
	/* Names first, so that a kill -9 from here on leaves nothing the next start cannot
	 * find; then the files, each journaled again with its inode once it exists. */
	if (journal(in) < 0) {
		fail(in, VMD_ERR_IO, NULL, NULL, "cannot write the job journal: %s",
		     strerror(errno));
		return -1;
	}
	if (in->create_disk) {
		job_set_phase(j, "creating %s", in->disk);
		char err[512];
		if (disk_create(in->disk, in->files[F_DISK].tmp, in->disk_size, IMAGE_MODE, err,
				sizeof err) < 0) {
			fail(in, errno == EEXIST ? VMD_ERR_EXISTS : VMD_ERR_IO, "disk", in->disk,
			     "%s", err);
			return cancelled_or(in);
		}
		int fd = open(in->disk, O_RDONLY | O_CLOEXEC);
		int r = fd < 0 ? -1 : set_id(in, F_DISK, fd);
		if (fd >= 0)
			close(fd);
		if (r < 0) {
			/* Unknown inode: take it back now, while it surely is ours. */
			fail(in, VMD_ERR_IO, "disk", in->disk, "cannot record %s: %s", in->disk,
			     strerror(errno));
			unlink(in->disk);
			return cancelled_or(in);
		}
		in->made[F_DISK] = true;
	}
	if (in->extract) {
		if (mkdir(in->dir, 0700) == 0)
			in->made_dir = true;
		else if (errno != EEXIST) {
			fail(in, VMD_ERR_IO, NULL, in->dir, "cannot create %s: %s", in->dir,
			     strerror(errno));
			return cancelled_or(in);
		}
		if (extract(in, F_KERNEL, in->found.kernel) < 0 ||
		    extract(in, F_INITRD, in->found.initrd) < 0 || disk_fsync_dir(in->dir) < 0)
			return cancelled_or(in);
	}
	if (in->create_disk)
		disk_fsync_dir(in->disk);
	if (job_cancelled(j))
		return cancelled_or(in);
	return 0;
}

static int undo_all(struct job *j, void *arg)
{
	undo(arg);
	return 0;
}

/* ---- back on the loop ------------------------------------------------------------------- */

static void release(struct install *in)
{
	if (in->req)
		in->req->on_cancel = NULL;
	if (in->job)
		job_set_req(in->job, NULL);
}

/* The error's data, in the shape proto/ gives each code (error.json). */
static void reply_error(struct install *in)
{
	json_t *data = json_object();
	bool name = in->code != VMD_ERR_INVALID_PARAMS && in->code != VMD_ERR_INTERNAL;
	bool param = in->code == VMD_ERR_INVALID_PARAMS || in->code == VMD_ERR_IO ||
		     in->code == VMD_ERR_NOT_SUPPORTED;
	bool path = in->code == VMD_ERR_EXISTS || in->code == VMD_ERR_IO ||
		    in->code == VMD_ERR_NOT_SUPPORTED;
	if (name)
		json_object_set_new(data, "name", json_string(in->name));
	if (param && in->param)
		json_object_set_new(data, "param", json_string(in->param));
	if (path && in->path[0])
		json_object_set_new(data, "path", json_string(in->path));
	if (in->code == VMD_ERR_CANCELLED && in->job)
		json_object_set_new(data, "job", json_string(in->job->id));
	if (in->tried) {
		json_t *t = json_array();
		for (size_t i = 0; i < in->found.n_tried; i++)
			json_array_append_new(t, json_string(in->found.tried[i]));
		json_object_set_new(data, "tried", t);
	}
	if (in->data)
		json_object_update(data, in->data);
	rpc_reply_error(in->req, in->code, data, "%s", in->msg);
}

static void finished(struct install *in)
{
	if (in->job)
		job_free(in->job);
	in->job = NULL;
	install_free(in);
}

static void undone(struct job *j, void *arg, int rc)
{
	struct install *in = arg;
	reply_error(in);
	finished(in);
}

/* Takes back what the worker made (a later stage: file system calls may block), then
 * replies with the error in in->code/msg. */
static void undo_later(struct install *in)
{
	release(in);
	if (job_start(in->job, undo_all, undone, in) < 0) {
		undo(in);
		undone(in->job, in, 0);
	}
}

static json_t *result(struct install *in)
{
	struct vm *vm = in->vm;
	json_t *vmj = vm_to_json(vm, true);
	json_t *vnc = json_object_get(vmj, "vnc");
	json_t *installer = json_null();
	if (in->type != VM_TYPE_HVM)
		installer = json_pack("{s:s, s:s, s:s}", "kernel", vm->cfg.kernel, "ramdisk",
				      vm->cfg.ramdisk, "source",
				      in->extract ? in->found.source : "given");
	if (in->extract) {
		json_object_set_new(installer, "iso_kernel", json_string(in->found.kernel));
		json_object_set_new(installer, "iso_ramdisk", json_string(in->found.initrd));
	}
	return json_pack("{s:o, s:s, s:O, s:s, s:b, s:o}", "vm", vmj, "console",
			 in->type == VM_TYPE_HVM ? "serial" : "pv", "vnc",
			 vnc ? vnc : json_null(), "disk", in->disk, "disk_created",
			 in->create_disk, "installer", installer);
}

static void started(struct vm *vm, void *arg, const struct be_error *err)
{
	struct install *in = arg;
	if (!err) {
		log_info("%s: installer running (%s%s%s)", vm->cfg.name, vm_type_name(in->type),
			 in->extract ? ", from " : "", in->extract ? in->found.kernel : "");
		rpc_reply_result(in->req, result(in));
		finished(in);
		return;
	}
	ops_reply_be_error(in->req, vm, err);
	/* All or nothing: the definition goes, and with it the image we made and the files we
	 * extracted (vm_remove deletes owned disks and install files). */
	int code;
	char msg[512];
	json_t *deleted = json_array(), *kept = json_array();
	if (vm_remove(vm, true, deleted, kept, &code, msg, sizeof msg) < 0)
		log_error("%s: the installer did not start and its definition could not be "
			  "removed: %s",
			  in->name, msg);
	json_decref(deleted);
	json_decref(kept);
	finished(in);
}

static void done(struct job *j, void *arg, int rc)
{
	struct install *in = arg;
	if (rc < 0) {
		release(in);
		reply_error(in);
		finished(in);
		return;
	}
	if (job_cancelled(j) || job_system_stopping(j->d)) {
		fail(in, VMD_ERR_CANCELLED, NULL, NULL, "install of '%s' cancelled", in->name);
		undo_later(in);
		return;
	}
	struct vm_config cfg;
	struct config_error cerr = {0};
	vm_config_init(&cfg);
	const char *kernel = in->extract ? in->files[F_KERNEL].final : in->kernel;
	const char *ramdisk = in->extract ? in->files[F_INITRD].final : in->initrd;
	if (build_config(in, kernel, ramdisk, &cfg, &cerr) < 0) {
		/* Checked before the worker ran with the same inputs: cannot happen. */
		fail(in, VMD_ERR_INTERNAL, NULL, NULL, "installer config: %s", cerr.message);
		vm_config_finish(&cfg);
		undo_later(in);
		return;
	}
	char *files[2] = {in->files[F_KERNEL].final, in->files[F_INITRD].final};
	struct vm_install inst = {
		.phase = VM_INSTALL_RUNNING,
		.start = in->start,
		.files = in->extract ? files : NULL,
		.n_files = in->extract ? 2 : 0,
	};
	char *owned[1] = {in->disk};
	int code;
	char msg[512];
	json_t *data;
	in->vm = vm_define_install(j->d, &cfg, owned, in->create_disk ? 1 : 0, &inst, &code, msg,
				   sizeof msg, &data);
	vm_config_finish(&cfg);
	if (!in->vm) {
		fail(in, code, NULL, NULL, "%s", msg);
		in->data = data;
		undo_later(in);
		return;
	}
	/* Past the point of no return: the guest exists and owns the files. */
	release(in);
	job_journal_remove(j);
	job_free(j);
	in->job = NULL;
	struct be_error err = {0};
	if (vm_start(in->vm, started, in, &err) < 0)
		started(in->vm, in, &err);
}

static void client_gone(struct rpc_req *req, void *arg)
{
	struct install *in = arg;
	log_info("%s: the client went away; cancelling the install (job %s)", in->name,
		 in->job->id);
	job_cancel(in->job);
}

/* ---- the request ------------------------------------------------------------------------ */

static const char *check(json_t *params)
{
	static const char *const paths[] = {"iso", "kernel", "initrd", "disk"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		const char *p = json_string_value(json_object_get(params, paths[i]));
		if (p && (p[0] != '/' || p[strlen(p) - 1] == '/'))
			return "'iso', 'kernel', 'initrd' and 'disk' must be absolute paths of files";
	}
	bool iso = json_object_get(params, "iso") != NULL;
	bool kernel = json_object_get(params, "kernel") != NULL;
	bool initrd = json_object_get(params, "initrd") != NULL;
	const char *type = json_string_value(json_object_get(params, "type"));
	if (!iso && !kernel)
		return "an installer is required: 'iso' (HVM, or PV with the installer found in "
		       "the ISO) or 'kernel' and 'initrd' (PV)";
	if (kernel != initrd)
		return "'kernel' and 'initrd' go together";
	if (type && strcmp(type, "pv") != 0 && strcmp(type, "hvm") != 0)
		return strcmp(type, "pvh") == 0
			       ? "'type' pvh cannot be installed: the installed system of a PV "
				 "install boots through pygrub, which PVH guests cannot use; "
				 "install as 'pv' or 'hvm'"
			       : "'type' must be 'pv' or 'hvm'";
	bool hvm = type ? strcmp(type, "hvm") == 0 : !kernel;
	if (hvm && kernel)
		return "an HVM install boots its ISO; 'kernel' and 'initrd' are for PV installers";
	if (hvm && json_object_get(params, "extra"))
		return "'extra' (the installer's kernel command line) is for PV installs";
	if (!hvm && json_object_get(params, "vnc"))
		return "'vnc' is for HVM installs (a PV installer has the PV console)";
	if (!json_object_get(params, "disk_size") && !json_object_get(params, "disk"))
		return "'disk_size' (a new image) or 'disk' (an existing image or device) is "
		       "required";
	json_t *net = json_object_get(params, "network");
	if (json_object_get(params, "bridge") && json_is_false(net))
		return "'bridge' goes with a network ('network' is false)";
	return NULL;
}

static void exec(struct rpc_req *req)
{
	struct daemon *d = req->d;
	const char *name = rpc_param_str(req, "name");
	struct install *other;
	LIST_FOREACH(other, &running, link)
		if (strcmp(other->name, name) == 0)
			break;
	if (vm_find(d, name) || other) {
		rpc_reply_error(req, VMD_ERR_EXISTS, json_pack("{s:s}", "name", name),
				other ? "guest '%s' is already being installed"
				      : "guest '%s' is already defined",
				name);
		return;
	}
	struct install *in = xcalloc(1, sizeof *in);
	LIST_INSERT_HEAD(&running, in, link);
	in->req = req;
	in->name = xstrdup(name);
	const char *s;
	if ((s = rpc_param_str(req, "iso")))
		in->iso = xstrdup(s);
	if ((s = rpc_param_str(req, "kernel")))
		in->kernel = xstrdup(s);
	if ((s = rpc_param_str(req, "initrd")))
		in->initrd = xstrdup(s);
	if ((s = rpc_param_str(req, "extra")))
		in->extra = xstrdup(s);
	if ((s = rpc_param_str(req, "bridge")))
		in->bridge = xstrdup(s);
	s = rpc_param_str(req, "type");
	in->type = (s ? strcmp(s, "hvm") == 0 : !in->kernel) ? VM_TYPE_HVM : VM_TYPE_PV;
	in->extract = in->type == VM_TYPE_PV && !in->kernel;
	in->memory = rpc_param_int(req, "memory", VMD_INSTALL_DEFAULT_MEMORY);
	in->vcpus = rpc_param_int(req, "vcpus", 1);
	in->network = rpc_param_bool(req, "network", true);
	in->vnc = rpc_param_bool(req, "vnc", true);
	in->start = rpc_param_bool(req, "start", true);

	const char *size = rpc_param_str(req, "disk_size");
	if (size) {
		in->create_disk = true;
		if (disk_parse_size(size, &in->disk_size) < 0) {
			rpc_reply_error(req, VMD_ERR_INVALID_PARAMS,
					json_pack("{s:s}", "param", "disk_size"),
					"'%.40s' is not a size: a whole number of bytes above 0, "
					"optionally followed by K, M, G or T (powers of 1024)",
					size);
			install_free(in);
			return;
		}
		if (in->disk_size < VMD_INSTALL_MIN_DISK) {
			rpc_reply_error(req, VMD_ERR_INVALID_PARAMS,
					json_pack("{s:s}", "param", "disk_size"),
					"disk size %.40s is too small to install a system onto: at "
					"least %u MiB",
					size, VMD_INSTALL_MIN_DISK >> 20);
			install_free(in);
			return;
		}
	}
	const struct vmd_conf *conf = conf_active();
	if ((s = rpc_param_str(req, "disk"))) {
		in->disk = xstrdup(s);
	} else if (conf->n_storage_roots > 0) {
		in->disk = xasprintf("%s/%s.img", conf->storage_roots[0], name);
	} else {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "disk"),
				"no 'disk' given and vmd.conf names no storage_roots to put the "
				"image in");
		install_free(in);
		return;
	}

	/* Validate the installer's config now, before any file is made. A PV install from an
	 * ISO does not know its kernel yet: the ISO stands in (it must be readable and, for a
	 * restricted writer, allowed anyway). */
	struct vm_config cfg;
	struct config_error cerr = {0};
	vm_config_init(&cfg);
	const char *k = in->kernel ? in->kernel : in->iso;
	const char *r = in->initrd ? in->initrd : in->iso;
	if (build_config(in, k, r, &cfg, &cerr) < 0) {
		ops_reply_config_error(req, &cerr);
		vm_config_finish(&cfg);
		install_free(in);
		return;
	}
	if (ops_check_config_access(req, &cfg) < 0) {
		vm_config_finish(&cfg);
		install_free(in);
		return;
	}
	vm_config_finish(&cfg);

	if (in->extract) {
		char *top = xasprintf("%s/install", d->state_dir);
		if (mkdir(top, 0700) < 0 && errno != EEXIST) {
			rpc_reply_error(req, VMD_ERR_IO, json_pack("{s:s}", "path", top),
					"cannot create %s: %s", top, strerror(errno));
			free(top);
			install_free(in);
			return;
		}
		in->dir = xasprintf("%s/%s", top, name);
		free(top);
	}
	in->job = job_new(d, "vm.install", req);
	if (job_start(in->job, work, done, in) < 0) {
		rpc_reply_error(req, VMD_ERR_NO_RESOURCES, json_pack("{s:s}", "name", name),
				"cannot start a worker thread: %s", strerror(errno));
		job_free(in->job);
		in->job = NULL;
		install_free(in);
		return;
	}
	req->on_cancel = client_gone;
	req->cancel_arg = in;
	log_info("%s: installing (%s, %s%s%s; disk %s%s)", name, vm_type_name(in->type),
		 in->iso ? "ISO " : "kernel ", in->iso ? in->iso : in->kernel,
		 in->extract ? ", installer from the ISO" : "", in->disk,
		 in->create_disk ? ", new" : "");
}

static const struct param_spec params[] = {
	{"name", P_NAME, true, 0, 0},
	{"type", P_STRING, false, 0, 0},
	{"iso", P_STRING, false, 0, 0},
	{"kernel", P_STRING, false, 0, 0},
	{"initrd", P_STRING, false, 0, 0},
	{"extra", P_STRING, false, 0, 0},
	{"disk", P_STRING, false, 0, 0},
	{"disk_size", P_STRING, false, 0, 0},
	{"memory", P_INT, false, 1, 1LL << 40},
	{"vcpus", P_INT, false, 1, 1 << 20},
	{"bridge", P_STRING, false, 0, 0},
	{"network", P_BOOL, false, 0, 0},
	{"vnc", P_BOOL, false, 0, 0},
	{"start", P_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_install = {
	.method = "vm.install",
	.params = params,
	.perm = OP_WRITE,
	.exec = exec,
	.check = check,
};
