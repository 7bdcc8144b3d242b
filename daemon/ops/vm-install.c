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
 * A long operation (longop.h), so that a failure, a vanished client or a kill -9 leaves
 * nothing behind:
 *   loop    checks the params, reserves the name, builds and validates the installer's
 *           config (and, for a writer who is not root, that every path lies under the
 *           storage roots)
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "disk.h"
#include "iso.h"
#include "log.h"
#include "longop.h"
#include "ops.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"
#include "xlcfg.h"

#define IMAGE_MODE 0600
#define NO_FILE ((size_t)-1)

struct install {
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
	size_t f_disk, f_kernel, f_initrd; /* the files of the op, NO_FILE when unused */
	bool made_dir;
	char *dir;                   /* <state-dir>/install/<name> when extracting */
	bool tried;                  /* add found.tried to the error */
	struct vm *vm;
};

static void install_free(void *arg)
{
	struct install *in = arg;
	free(in->iso);
	free(in->kernel);
	free(in->initrd);
	free(in->extra);
	free(in->bridge);
	free(in->disk);
	free(in->dir);
	free(in);
}

/* ---- the installer's definition --------------------------------------------------------- */

/* The installer's config as the JSON object of proto/, validated by the one parser every
 * definition goes through. kernel/ramdisk: the files the installer boots (PV). */
static int build_config(const struct install *in, const char *name, const char *kernel,
			const char *ramdisk,
			struct vm_config *cfg, struct err *err)
{
	json_t *disks = json_array();
	json_array_append_new(disks, json_pack("{s:s, s:s, s:s}", "target", in->disk, "vdev",
					       "xvda", "access", "rw"));
	if (in->iso)
		json_array_append_new(disks, json_pack("{s:s, s:s, s:s, s:b}", "target", in->iso,
						       "vdev", in->type == VM_TYPE_HVM ? "hdc"
										 : "xvdc",
						       "access", "ro", "cdrom", 1));
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:o}", "name", name, "type",
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
	int r = config_parse_json(o, NULL, cfg, err);
	json_decref(o);
	return r;
}

/* ---- the worker ------------------------------------------------------------------------- */

/* An input file the installer boots or reads: it must be a readable regular file (the ISO
 * may also be a block device, a real drive). */
static int check_input(struct longop *op, const char *param, const char *path, bool dev_ok)
{
	const char *what = strcmp(param, "iso") == 0 ? "ISO image" : param;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		longop_fail_path(op, VMD_ERR_IO, param, path, "cannot read the %s %s: %s", what,
				 path, strerror(errno));
		return -1;
	}
	struct stat st;
	int r = fstat(fd, &st);
	close(fd);
	if (r < 0 || !(S_ISREG(st.st_mode) || (dev_ok && S_ISBLK(st.st_mode)))) {
		longop_fail_path(op, VMD_ERR_IO, param, path, "the %s %s is not a regular file",
				 what, path);
		return -1;
	}
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		longop_fail_path(op, VMD_ERR_IO, param, path, "the %s %s is empty", what, path);
		return -1;
	}
	return 0;
}

/* An existing disk the caller named without disk_size: installed onto as it is. */
static int check_existing_disk(struct longop *op, const char *disk)
{
	int fd = open(disk, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			longop_fail_path(op, VMD_ERR_IO, "disk", disk,
					 "the disk %s does not exist; give disk_size to create it",
					 disk);
		else
			longop_fail_path(op, VMD_ERR_IO, "disk", disk, "cannot open the disk %s: %s",
					 disk, strerror(errno));
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
		longop_fail_path(op, VMD_ERR_IO, "disk", disk,
				 "the disk %s is neither a regular file nor a block device", disk);
		return -1;
	}
	if (size < VMD_INSTALL_MIN_DISK) {
		longop_fail_path(op, VMD_ERR_INVALID_PARAMS, "disk", NULL,
				 "the disk %s is too small to install onto (%llu bytes; at least "
				 "%u MiB)",
				 disk, (unsigned long long)size, VMD_INSTALL_MIN_DISK >> 20);
		return -1;
	}
	return 0;
}

/* Extracts one file of the ISO under its temporary name, then renames it into place. */
static int extract(struct longop *op, size_t i, const char *iso_path)
{
	struct install *in = op->arg;
	longop_set_phase(op, "extracting %s", iso_path);
	int fd = longop_create_tmp(op, i, 0600);
	if (fd < 0)
		return -1;
	struct err err = {0};
	int64_t n = iso_extract(in->iso, iso_path, fd, ISO_EXTRACT_MAX, &op->job->cancel, &err);
	if (n < 0) {
		int e = errno;
		close(fd);
		longop_fail_path(op, e == EFBIG || e == EINVAL ? VMD_ERR_NOT_SUPPORTED : VMD_ERR_IO,
				 "iso", in->iso, "%s", err.msg);
		err_clear(&err);
		return -1;
	}
	atomic_fetch_add(&op->job->done_bytes, (uint64_t)n);
	const char *tmp = op->files[i].jf.tmp;
	if (fsync(fd) < 0 || close(fd) < 0) {
		longop_fail_path(op, VMD_ERR_IO, NULL, tmp, "cannot write %s: %s", tmp,
				 strerror(errno));
		return -1;
	}
	return longop_commit_file(op, i);
}

static int find_installer(struct longop *op)
{
	struct install *in = op->arg;
	longop_set_phase(op, "reading %s", in->iso);
	struct err err = {0};
	if (iso_find_installer(in->iso, &in->found, &err) < 0) {
		int e = errno;
		bool none = e == ENOENT && in->found.n_tried > 0;
		in->tried = none;
		longop_fail_path(op, none || e == EINVAL ? VMD_ERR_NOT_SUPPORTED : VMD_ERR_IO, "iso",
				 in->iso, "%s%s", err.msg,
				 none ? "; install it as HVM (type hvm) or name the installer's "
					"kernel and initrd"
				      : "");
		err_clear(&err);
		return -1;
	}
	job_set_total(op->job, in->found.kernel_size + in->found.initrd_size);
	char *k = xasprintf("%s/vmlinuz", in->dir), *r = xasprintf("%s/initrd", in->dir);
	in->f_kernel = longop_add_file(op, k);
	in->f_initrd = longop_add_file(op, r);
	free(k);
	free(r);
	return 0;
}

static int work(struct longop *op)
{
	struct install *in = op->arg;
	longop_set_phase(op, "checking");
	if (in->iso && check_input(op, "iso", in->iso, true) < 0)
		return -1;
	if (in->kernel && check_input(op, "kernel", in->kernel, false) < 0)
		return -1;
	if (in->initrd && check_input(op, "initrd", in->initrd, false) < 0)
		return -1;
	if (!in->create_disk && check_existing_disk(op, in->disk) < 0)
		return -1;
	struct stat st;
	if (in->create_disk && lstat(in->disk, &st) == 0) {
		longop_fail_path(op, VMD_ERR_EXISTS, NULL, in->disk,
				 "%s already exists; vmd never overwrites an image (to install "
				 "onto it, leave out disk_size)",
				 in->disk);
		return -1;
	}
	if (in->extract && find_installer(op) < 0)
		return -1;
	/* Names first, so that a kill -9 from here on leaves nothing the next start cannot
	 * find; then the files, each journaled again with its inode once it exists. */
	if (longop_journal(op) < 0)
		return -1;
	if (in->create_disk) {
		longop_set_phase(op, "creating %s", in->disk);
		struct err err = {0};
		if (disk_create(in->disk, op->files[in->f_disk].jf.tmp, in->disk_size, IMAGE_MODE,
				&err) < 0) {
			longop_fail_path(op, errno == EEXIST ? VMD_ERR_EXISTS : VMD_ERR_IO,
					 errno == EEXIST ? NULL : "disk", in->disk, "%s", err.msg);
			err_clear(&err);
			return -1;
		}
		if (longop_adopt_final(op, in->f_disk) < 0)
			return -1;
	}
	if (in->extract) {
		if (mkdir(in->dir, 0700) == 0) {
			in->made_dir = true;
		} else if (errno != EEXIST) {
			longop_fail_path(op, VMD_ERR_IO, NULL, in->dir, "cannot create %s: %s", in->dir,
					 strerror(errno));
			return -1;
		}
		if (extract(op, in->f_kernel, in->found.kernel) < 0 ||
		    extract(op, in->f_initrd, in->found.initrd) < 0)
			return -1;
		if (disk_fsync_dir(op->files[in->f_initrd].jf.final) < 0) {
			longop_fail_path(op, VMD_ERR_IO, NULL, in->dir, "cannot sync %s: %s", in->dir,
					 strerror(errno));
			return -1;
		}
	}
	if (in->create_disk)
		disk_fsync_dir(in->disk);
	return 0;
}

static void undo(struct longop *op)
{
	struct install *in = op->arg;
	if (in->made_dir)
		rmdir(in->dir);
	in->made_dir = false;
}

/* ---- back on the loop ------------------------------------------------------------------- */

static int commit(struct longop *op)
{
	struct install *in = op->arg;
	struct vm_config cfg;
	struct err err = {0};
	vm_config_init(&cfg);
	const char *kernel = in->extract ? op->files[in->f_kernel].jf.final : in->kernel;
	const char *ramdisk = in->extract ? op->files[in->f_initrd].jf.final : in->initrd;
	if (build_config(in, op->name, kernel, ramdisk, &cfg, &err) < 0) {
		/* Checked before the worker ran with the same inputs: cannot happen. */
		longop_fail(op, VMD_ERR_INTERNAL, "installer config: %s", err.msg);
		err_clear(&err);
		vm_config_finish(&cfg);
		return -1;
	}
	char *files[2] = {(char *)kernel, (char *)ramdisk};
	struct vm_install inst = {
		.phase = VM_INSTALL_RUNNING,
		.start = in->start,
		.files = in->extract ? files : NULL,
		.n_files = in->extract ? 2 : 0,
	};
	char *owned[1] = {in->disk};
	struct vm_define_opts opts = {
		.owned = owned,
		.n_owned = in->create_disk ? 1 : 0,
		.install = &inst,
		.reserved = true,
	};
	in->vm = vm_define(op->d, &cfg, &opts, &err);
	vm_config_finish(&cfg);
	if (!in->vm) {
		longop_fail_err(op, &err);
		return -1;
	}
	op->reserved = false;
	return 0;
}

static json_t *result(struct longop *op)
{
	struct install *in = op->arg;
	struct vm *vm = in->vm;
	struct err err = {0};
	const struct vm_config *cfg = vm_cfg(vm, &err);
	err_clear(&err);
	json_t *vmj = vm_to_json(vm, true);
	json_t *vnc = json_object_get(vmj, "vnc");
	json_t *installer = json_null();
	if (in->type != VM_TYPE_HVM)
		installer = json_pack("{s:s?, s:s?, s:s}", "kernel",
				      cfg ? cfg->dc.b_info.kernel : NULL, "ramdisk",
				      cfg ? cfg->dc.b_info.ramdisk : NULL, "source",
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

static void finish(struct longop *op)
{
	struct install *in = op->arg;
	longop_start_guest(op, &in->vm, result);
}

/* The paths an ISO was searched for, when none was there. */
static void error_data(struct longop *op, struct err *err)
{
	struct install *in = op->arg;
	if (!in->tried || err->code != VMD_ERR_NOT_SUPPORTED)
		return;
	json_t *t = json_array();
	for (size_t i = 0; i < in->found.n_tried; i++)
		json_array_append_new(t, json_string(in->found.tried[i]));
	err_add(err, "tried", t);
}

static const struct longop_ops install_ops = {
	.work = work,
	.commit = commit,
	.finish = finish,
	.undo = undo,
	.error_data = error_data,
	.free = install_free,
};

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
	struct install *in = xcalloc(1, sizeof *in);
	in->f_disk = in->f_kernel = in->f_initrd = NO_FILE;
	struct longop *op = longop_new(req, "vm.install", &install_ops, in, "install of '%s'",
				       name);
	if (longop_reserve(op, name) < 0) {
		longop_abort(op);
		return;
	}
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
			longop_fail_path(op, VMD_ERR_INVALID_PARAMS, "disk_size", NULL,
					 "'%.40s' is not a size: a whole number of bytes above 0, "
					 "optionally followed by K, M, G or T (powers of 1024)",
					 size);
			longop_abort(op);
			return;
		}
		if (in->disk_size < VMD_INSTALL_MIN_DISK) {
			longop_fail_path(op, VMD_ERR_INVALID_PARAMS, "disk_size", NULL,
					 "disk size %.40s is too small to install a system onto: "
					 "at least %u MiB",
					 size, VMD_INSTALL_MIN_DISK >> 20);
			longop_abort(op);
			return;
		}
	}
	const struct vmd_conf *conf = conf_active();
	if ((s = rpc_param_str(req, "disk"))) {
		in->disk = xstrdup(s);
	} else if (conf->n_storage_roots > 0) {
		in->disk = xasprintf("%s/%s.img", conf->storage_roots[0], name);
	} else {
		longop_fail_path(op, VMD_ERR_INVALID_PARAMS, "disk", NULL,
				 "no 'disk' given and vmd.conf names no storage_roots to put the "
				 "image in");
		longop_abort(op);
		return;
	}

	/* Validate the installer's config now, before any file is made. A PV install from an
	 * ISO does not know its kernel yet: the ISO stands in (it must be readable and, for a
	 * restricted writer, allowed anyway). */
	struct vm_config cfg;
	vm_config_init(&cfg);
	const char *k = in->kernel ? in->kernel : in->iso;
	const char *r = in->initrd ? in->initrd : in->iso;
	int bad = build_config(in, name, k, r, &cfg, &op->err) < 0 ||
		  ops_check_config_access(req, &cfg, &op->err) < 0;
	vm_config_finish(&cfg);
	if (bad) {
		longop_abort(op);
		return;
	}
	if (in->extract) {
		char *top = xasprintf("%s/install", d->state_dir);
		if (mkdir(top, 0700) < 0 && errno != EEXIST) {
			longop_fail_path(op, VMD_ERR_IO, NULL, top, "cannot create %s: %s", top,
					 strerror(errno));
			free(top);
			longop_abort(op);
			return;
		}
		in->dir = xasprintf("%s/%s", top, name);
		free(top);
	}
	if (in->create_disk)
		in->f_disk = longop_add_file(op, in->disk);
	log_info("%s: installing (%s, %s%s%s; disk %s%s)", name, vm_type_name(in->type),
		 in->iso ? "ISO " : "kernel ", in->iso ? in->iso : in->kernel,
		 in->extract ? ", installer from the ISO" : "", in->disk,
		 in->create_disk ? ", new" : "");
	longop_start(op);
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
