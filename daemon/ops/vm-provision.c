/*
 * vm.create with an image: a guest from a distribution's cloud image and a cloud-init seed,
 * in one request (vm.create with `image` instead of `config`). It makes the guest's disk from
 * the image, the NoCloud seed (seed.h) with the caller's user-data, stores a definition that
 * boots the disk (PV and PVH through pygrub from the image's own grub config, HVM from the
 * disk) with the seed as a read-only cdrom, and starts it.
 *
 * The disk, by the image's format (its first bytes; nothing is taken from a file name):
 *   raw    a copy (reflink where the file system shares extents, else sparse: disk.h), grown
 *          to disk_size;
 *   qcow2  with overlay: a new qcow2 whose backing file is the image (qemu-img create -b), of
 *          disk_size; else a copy of the image, grown with qemu-img resize. qemu-img check
 *          must find the image whole first (a truncated or damaged one is refused).
 * Anything else is refused: a raw image must start with a partition table (the MBR's or
 * GPT's protective 0x55AA) or an ext2/3/4 file system, as every cloud image does.
 *
 * The seed belongs to the guest: <disk's directory>/<name>-cidata.iso, attached at every boot
 * (cloud-init runs its per-instance steps once, keyed on the instance-id), an owned file of
 * the definition like the disk (vm.remove with delete_disks deletes both). meta-data, unless
 * given: instance-id (a new UUID), local-hostname (the guest's name) and the ssh_keys as
 * public-keys.
 *
 * A long operation (longop.h): the worker checks the image and makes the disk (a job with
 * progress for the copy) and the seed under journaled temporary names; the loop stores the
 * definition and starts the guest. Any failure, a cancel, or a start that fails removes all
 * it made.
 */
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
#include "network.h"
#include "ops.h"
#include "seed.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

#define NO_FILE ((size_t)-1)
#define DISK_MODE 0600

struct provision {
	enum vm_type type;
	char *image, *disk, *seed_path, *bridge;
	bool qcow2;         /* the image's format (the worker reads it) */
	bool overlay;       /* qcow2 only: a new qcow2 backed by the image */
	bool start;
	bool disk_given;    /* the caller named the disk (else it is named after the guest) */
	uint64_t disk_size; /* 0: the image's size */
	long long memory, vcpus;
	char *user_data, *meta_data, *network_config;
	size_t user_data_len, meta_data_len, network_config_len;
	char **keys;
	size_t n_keys;
	char instance_id[UUID_STR_LEN + 4];

	/* The worker's results. */
	size_t f_disk, f_seed;
	uint64_t image_size;  /* its virtual size (qcow2), its file size (raw) */
	const char *method;   /* how the disk was made: "reflink", "sparse", "overlay", ... */
	struct vm *vm;
};

static void provision_free(void *arg)
{
	struct provision *p = arg;
	free(p->image);
	free(p->disk);
	free(p->seed_path);
	free(p->bridge);
	free(p->user_data);
	free(p->meta_data);
	free(p->network_config);
	for (size_t i = 0; i < p->n_keys; i++)
		free(p->keys[i]);
	free(p->keys);
	free(p);
}

/* ---- the definition ------------------------------------------------------------------------ */

/* The guest's config as the JSON object of proto/, through the one parser of every
 * definition. */
static int build_config(const struct provision *p, const char *name, struct vm_config *cfg,
			struct err *err)
{
	bool hvm = p->type == VM_TYPE_HVM;
	json_t *disk = json_pack("{s:s, s:s, s:s}", "target", p->disk, "vdev", "xvda", "access",
				 "rw");
	if (p->qcow2)
		json_object_set_new(disk, "format", json_string("qcow2"));
	json_t *seed = json_pack("{s:s, s:s, s:s, s:b}", "target", p->seed_path, "vdev",
				 hvm ? "hdc" : "xvdc", "access", "ro", "cdrom", 1);
	json_t *vif = json_object();
	if (p->bridge)
		json_object_set_new(vif, "bridge", json_string(p->bridge));
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:[o, o], s:[o]}", "name", name, "type",
			      vm_type_name(p->type), "memory", (json_int_t)p->memory, "vcpus",
			      (json_int_t)p->vcpus, "disk", disk, seed, "vif", vif);
	if (hvm) {
		json_object_set_new(o, "boot", json_string("c"));
		json_object_set_new(o, "serial", json_string("pty"));
	} else {
		json_object_set_new(o, "bootloader", json_string("pygrub"));
	}
	int r = config_parse_json(o, NULL, cfg, err);
	json_decref(o);
	return r;
}

/* ---- the worker ------------------------------------------------------------------------- */

/* Opens the image and tells its format and size. The fd, or -1 (failed). */
static int open_image(struct longop *op)
{
	struct provision *p = op->arg;
	int fd = open(p->image, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		longop_fail_path(op, VMD_ERR_IO, "image", p->image, "cannot open the image %s: %s",
				 p->image, strerror(errno));
		return -1;
	}
	struct disk_image di;
	struct err err = {0};
	if (disk_image_probe(fd, p->image, &di, &err) < 0) {
		bool io = err.code == VMD_ERR_IO;
		longop_fail_path(op, err.code, "image", io ? p->image : NULL, "%s", err.msg);
		err_clear(&err);
		close(fd);
		return -1;
	}
	p->qcow2 = di.qcow2;
	p->image_size = di.virtual_size;
	if (di.has_backing && !p->overlay) {
		longop_fail_path(op, VMD_ERR_NOT_SUPPORTED, "image", p->image,
				 "the image %s has a backing file of its own: a copy would not find "
				 "it; ask for an overlay", p->image);
		close(fd);
		return -1;
	}
	return fd;
}

/* qemu-img, the tool of qcow2 images, with args; its exit status is the verdict. */
static int qemu_img(struct longop *op, const char *const *args, const char *what)
{
	char *prog = disk_find_program("qemu-img");
	if (!prog) {
		longop_fail(op, VMD_ERR_NOT_SUPPORTED, "qcow2 images need qemu-img (Debian's "
			    "qemu-utils), which is not installed");
		return -1;
	}
	const char *argv[16] = {prog};
	size_t n = 1;
	for (; args[n - 1] && n < 15; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	struct err err = {0};
	int r = disk_run_tool("qemu-img", argv, &err);
	free(prog);
	if (r < 0) {
		longop_fail_path(op, VMD_ERR_INVALID_PARAMS, "image", NULL, "%s: %s", what,
				 err.msg);
		err_clear(&err);
	}
	return r;
}

static int make_disk(struct longop *op, int src)
{
	struct provision *p = op->arg;
	const char *tmp = op->files[p->f_disk].jf.tmp;
	char size[32];
	snprintf(size, sizeof size, "%llu", (unsigned long long)p->disk_size);
	struct err err = {0};
	if (p->qcow2 && disk_qcow2_check(p->image, &err) < 0) {
		longop_fail_path(op, err.code, "image", NULL, "the image %s is not a whole qcow2 "
				 "image: %s", p->image, err.msg);
		err_clear(&err);
		return -1;
	}
	if (p->overlay) {
		longop_set_phase(op, "creating an overlay of %s", p->image);
		int fd = longop_create_tmp(op, p->f_disk, DISK_MODE);
		if (fd < 0)
			return -1;
		close(fd);
		const char *create[] = {"create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
					p->image, tmp, size, NULL};
		if (qemu_img(op, create, "cannot create the overlay") < 0)
			return -1;
		p->method = "overlay";
	} else {
		longop_set_phase(op, "copying %s", p->image);
		struct stat st;
		fstat(src, &st);
		job_set_total(op->job, (uint64_t)st.st_size);
		int m = longop_copy(op, p->f_disk, src, p->image, (uint64_t)st.st_size, 0,
				    op->d->copy_rate);
		if (m < 0)
			return -1;
		p->method = disk_copy_method_name(m);
		if (chmod(tmp, DISK_MODE) < 0) {
			longop_fail_path(op, VMD_ERR_IO, NULL, tmp, "cannot chmod %s: %s", tmp,
					 strerror(errno));
			return -1;
		}
		if (p->disk_size > p->image_size) {
			longop_set_phase(op, "growing %s", p->disk);
			const char *resize[] = {"resize", "-q", "-f", "qcow2", tmp, size, NULL};
			if (p->qcow2 ? qemu_img(op, resize, "cannot grow the disk") < 0
				     : truncate(tmp, (off_t)p->disk_size) < 0) {
				if (!p->qcow2)
					longop_fail_path(op, VMD_ERR_IO, NULL, tmp,
							 "cannot grow %s: %s", tmp,
							 strerror(errno));
				return -1;
			}
		}
	}
	return longop_commit_file(op, p->f_disk);
}

static int make_seed(struct longop *op)
{
	struct provision *p = op->arg;
	longop_set_phase(op, "writing the cloud-init seed");
	struct seed s = {
		.user_data = p->user_data, .user_data_len = p->user_data_len,
		.meta_data = p->meta_data, .meta_data_len = p->meta_data_len,
		.network_config = p->network_config, .network_config_len = p->network_config_len,
		.instance_id = p->instance_id, .hostname = op->name,
		.ssh_keys = p->keys, .n_ssh_keys = p->n_keys,
	};
	unsigned char *iso = NULL;
	size_t len = 0;
	struct err err = {0};
	if (seed_build(&s, &iso, &len, &err) < 0) {
		longop_fail_err(op, &err);
		err_clear(&err);
		return -1;
	}
	int fd = longop_create_tmp(op, p->f_seed, 0640);
	const char *tmp = op->files[p->f_seed].jf.tmp;
	if (fd < 0) {
		free(iso);
		return -1;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, iso + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(iso);
	if (off < len || fsync(fd) < 0) {
		longop_fail_path(op, VMD_ERR_IO, NULL, tmp, "cannot write %s: %s", tmp,
				 strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return longop_commit_file(op, p->f_seed);
}

static int work(struct longop *op)
{
	struct provision *p = op->arg;
	longop_set_phase(op, "checking %s", p->image);
	int src = open_image(op);
	if (src < 0)
		return -1;
	if (p->overlay && !p->qcow2) {
		longop_fail_path(op, VMD_ERR_INVALID_PARAMS, "overlay", NULL,
				 "an overlay needs a qcow2 image; %s is raw (its copy is a reflink "
				 "where the file system can)", p->image);
		close(src);
		return -1;
	}
	if (p->disk_size == 0)
		p->disk_size = p->image_size;
	if (p->disk_size < p->image_size) {
		longop_fail_path(op, VMD_ERR_INVALID_PARAMS, "disk_size", NULL,
				 "disk_size (%llu bytes) is smaller than the image (%llu bytes)",
				 (unsigned long long)p->disk_size,
				 (unsigned long long)p->image_size);
		close(src);
		return -1;
	}
	if (p->qcow2 && !p->disk_given) {
		/* <name>.qcow2, not .img: the name tells an admin what the file is */
		char *d = xasprintf("%.*s.qcow2", (int)(strlen(p->disk) - 4), p->disk);
		free(p->disk);
		p->disk = d;
	}
	struct stat st;
	if (lstat(p->disk, &st) == 0 || lstat(p->seed_path, &st) == 0) {
		const char *which = lstat(p->disk, &st) == 0 ? p->disk : p->seed_path;
		longop_fail_path(op, VMD_ERR_EXISTS, NULL, which,
				 "%s already exists; vmd never overwrites an image", which);
		close(src);
		return -1;
	}
	p->f_disk = longop_add_file(op, p->disk);
	p->f_seed = longop_add_file(op, p->seed_path);
	/* names first: a kill -9 from here on leaves nothing the next start cannot find */
	int r = longop_journal(op) < 0 || make_disk(op, src) < 0 || make_seed(op) < 0 ? -1 : 0;
	close(src);
	if (r == 0 && (disk_fsync_dir(p->disk) < 0 || disk_fsync_dir(p->seed_path) < 0)) {
		longop_fail_path(op, VMD_ERR_IO, NULL, p->disk, "cannot sync the directory of %s: "
				 "%s", p->disk, strerror(errno));
		r = -1;
	}
	return r;
}

/* ---- back on the loop ------------------------------------------------------------------- */

static int commit(struct longop *op)
{
	struct provision *p = op->arg;
	struct vm_config cfg;
	struct err err = {0};
	vm_config_init(&cfg);
	if (build_config(p, op->name, &cfg, &err) < 0) {
		longop_fail(op, VMD_ERR_INTERNAL, "config: %s", err.msg);
		err_clear(&err);
		vm_config_finish(&cfg);
		return -1;
	}
	char *owned[2] = {p->disk, p->seed_path};
	struct vm_define_opts opts = {.owned = owned, .n_owned = 2, .reserved = true};
	p->vm = vm_define(op->d, &cfg, &opts, &err);
	vm_config_finish(&cfg);
	if (!p->vm) {
		longop_fail_err(op, &err);
		return -1;
	}
	op->reserved = false;
	return 0;
}

static json_t *result(struct longop *op)
{
	struct provision *p = op->arg;
	return json_pack("{s:o, s:{s:s, s:s, s:s, s:I}, s:{s:s, s:s}}", "vm",
			 vm_to_json(p->vm, true), "disk", "path", p->disk, "image", p->image,
			 "method", p->method ? p->method : "none", "size",
			 (json_int_t)p->disk_size, "seed", "path", p->seed_path, "instance_id",
			 p->instance_id);
}

static void finish(struct longop *op)
{
	struct provision *p = op->arg;
	if (p->start)
		longop_start_guest(op, &p->vm, result);
	else
		longop_done(op, result(op));
}

static const struct longop_ops provision_ops = {
	.work = work,
	.commit = commit,
	.finish = finish,
	.free = provision_free,
};

/* ---- the request ------------------------------------------------------------------------ */

const char *ops_provision_check(json_t *params)
{
	static const char *const only[] = {"config", "xlcfg", "filename", "dry_run"};
	for (size_t i = 0; i < sizeof only / sizeof only[0]; i++)
		if (json_object_get(params, only[i]))
			return "'image' makes the config: 'config', 'xlcfg', 'filename' and "
			       "'dry_run' do not go with it";
	if (!json_object_get(params, "name"))
		return "'name' is required with 'image'";
	if (!json_object_get(params, "user_data"))
		return "'user_data' (the cloud-init user-data) is required with 'image'";
	const char *image = json_string_value(json_object_get(params, "image"));
	const char *disk = json_string_value(json_object_get(params, "disk"));
	if (image && strchr(image, '/') && (image[0] != '/' || image[strlen(image) - 1] == '/'))
		return "'image' must be an absolute path of a file or the name of an image "
		       "(image.list)";
	if (disk && (disk[0] != '/' || disk[strlen(disk) - 1] == '/'))
		return "'disk' must be an absolute path of a file";
	const char *type = json_string_value(json_object_get(params, "type"));
	if (type && strcmp(type, "pv") != 0 && strcmp(type, "pvh") != 0 &&
	    strcmp(type, "hvm") != 0)
		return "'type' must be 'pv', 'pvh' or 'hvm'";
	if (json_object_get(params, "network") && json_object_get(params, "bridge"))
		return "'network' (a managed network) or 'bridge', not both";
	if (json_object_get(params, "ssh_keys") && json_object_get(params, "meta_data"))
		return "'ssh_keys' go into the meta-data vmd makes; with your own 'meta_data', "
		       "put them in its public-keys";
	json_t *keys = json_object_get(params, "ssh_keys"), *k;
	size_t i;
	json_array_foreach(keys, i, k)
		if (!json_is_string(k))
			return "'ssh_keys' must be an array of strings (OpenSSH public keys)";
	const char *texts[] = {"user_data", "meta_data", "network_config"};
	for (i = 0; i < 3; i++) {
		json_t *t = json_object_get(params, texts[i]);
		if (t && !json_is_string(t))
			return "'user_data', 'meta_data' and 'network_config' are strings (the "
			       "files' text)";
	}
	return NULL;
}

static char *text_param(struct rpc_req *req, const char *key, size_t *len)
{
	json_t *t = json_object_get(req->params, key);
	*len = t ? json_string_length(t) : 0;
	if (!t)
		return NULL;
	char *s = xmalloc(*len + 1);
	memcpy(s, json_string_value(t), *len);
	s[*len] = '\0';
	return s;
}

void ops_provision_exec(struct rpc_req *req)
{
	struct daemon *d = req->d;
	const char *name = rpc_param_str(req, "name");
	struct provision *p = xcalloc(1, sizeof *p);
	p->f_disk = p->f_seed = NO_FILE;
	const char *s;
	struct longop *op = longop_new(req, "vm.create", &provision_ops, p,
				       "creation of '%s' from an image", name);
	if (longop_reserve(op, name) < 0) {
		longop_abort(op);
		return;
	}
	s = rpc_param_str(req, "image");
	if (s[0] == '/') {
		p->image = xstrdup(s);
	} else if (!(p->image = ops_image_path(s, &op->err))) { /* a named image */
		if (op->err.code == VMD_ERR_NOT_FOUND)
			err_add_str(&op->err, "name", s);
		longop_abort(op);
		return;
	}
	s = rpc_param_str(req, "type");
	p->type = !s || strcmp(s, "pv") == 0 ? VM_TYPE_PV
		  : strcmp(s, "pvh") == 0    ? VM_TYPE_PVH
					     : VM_TYPE_HVM;
	p->memory = rpc_param_int(req, "memory", VMD_INSTALL_DEFAULT_MEMORY);
	p->vcpus = rpc_param_int(req, "vcpus", 1);
	p->overlay = rpc_param_bool(req, "overlay", false);
	p->start = rpc_param_bool(req, "start", true);
	p->user_data = text_param(req, "user_data", &p->user_data_len);
	p->meta_data = text_param(req, "meta_data", &p->meta_data_len);
	p->network_config = text_param(req, "network_config", &p->network_config_len);
	if ((s = rpc_param_str(req, "bridge"))) {
		p->bridge = xstrdup(s);
	} else if ((s = rpc_param_str(req, "network"))) {
		if (!network_find(d, s)) {
			longop_fail(op, VMD_ERR_NOT_FOUND, "no managed network '%.64s' (vmctl "
				    "network list)", s);
			err_add_str(&op->err, "network", s);
			longop_abort(op);
			return;
		}
		p->bridge = xstrdup(s);
	} else if (network_find(d, "default")) {
		p->bridge = xstrdup("default"); /* the managed default network, when there is one */
	}
	json_t *keys = json_object_get(req->params, "ssh_keys"), *k;
	size_t i;
	p->keys = xcalloc(json_array_size(keys) + 1, sizeof *p->keys);
	json_array_foreach(keys, i, k) {
		if (seed_check_ssh_key(json_string_value(k), &op->err) < 0) {
			err_add_str(&op->err, "param", "ssh_keys");
			longop_abort(op);
			return;
		}
		p->keys[p->n_keys++] = xstrdup(json_string_value(k));
	}
	if (!seed_user_data_kind(p->user_data, p->user_data_len, &op->err)) {
		err_add_str(&op->err, "param", "user_data");
		longop_abort(op);
		return;
	}
	if (p->user_data_len + p->meta_data_len + p->network_config_len > SEED_MAX_BYTES) {
		longop_fail_path(op, VMD_ERR_INVALID_PARAMS, "user_data", NULL,
				 "user_data, meta_data and network_config hold more than %u bytes "
				 "together: not a sane cloud-init seed", SEED_MAX_BYTES);
		longop_abort(op);
		return;
	}
	if ((s = rpc_param_str(req, "disk_size")) && disk_parse_size(s, &p->disk_size) < 0) {
		longop_fail_path(op, VMD_ERR_INVALID_PARAMS, "disk_size", NULL,
				 "'%.40s' is not a size: a whole number of bytes above 0, "
				 "optionally followed by K, M, G or T (powers of 1024)", s);
		longop_abort(op);
		return;
	}
	const struct vmd_conf *conf = conf_active();
	if ((s = rpc_param_str(req, "disk"))) {
		p->disk = xstrdup(s);
		p->disk_given = true;
	} else if (conf->n_storage_roots > 0) {
		p->disk = xasprintf("%s/%s.img", conf->storage_roots[0], name);
	} else {
		longop_fail_path(op, VMD_ERR_INVALID_PARAMS, "disk", NULL,
				 "no 'disk' given and vmd.conf names no storage_roots to put the "
				 "image in");
		longop_abort(op);
		return;
	}
	char *dir = xstrdup(p->disk);
	*strrchr(dir, '/') = '\0';
	p->seed_path = xasprintf("%s/%s-cidata.iso", *dir ? dir : "", name);
	free(dir);
	uint8_t uuid[16];
	uuid_generate_v4(uuid);
	char u[UUID_STR_LEN];
	uuid_format(uuid, u);
	snprintf(p->instance_id, sizeof p->instance_id, "%s", u);

	/* The config now, before any file is made; and a restricted writer's paths (the image
	 * is read by the daemon: it must lie under the storage roots too). */
	struct vm_config cfg;
	vm_config_init(&cfg);
	int bad = build_config(p, name, &cfg, &op->err) < 0 ||
		  ops_check_config_access(req, &cfg, &op->err) < 0 ||
		  ops_check_caller_path(req, "image", p->image, &op->err) < 0;
	vm_config_finish(&cfg);
	if (bad) {
		longop_abort(op);
		return;
	}
	log_info("%s: creating from %s (%s, disk %s)", name, p->image, vm_type_name(p->type),
		 p->disk);
	longop_start(op);
}
