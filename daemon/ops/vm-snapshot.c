/*
 * vm.snapshot_create, vm.snapshot_list, vm.snapshot_revert, vm.snapshot_delete: a guest's
 * writable file disks kept as they were at one point in time, beside each image
 * ("IMAGE@SNAP", snap_copy_path), recorded in STATE/snapshots (snapshot.h).
 *
 * Create: a stopped guest's images are copied the engine's way (a reflink where the file
 * system can, else a sparse copy: a job with progress and cancel). A running guest is paused
 * for the copies, which must be reflinks (XFS with reflink, btrfs): a copy that takes
 * minutes under a paused guest, or under a running one (not a point in time), is refused
 * with code 12 instead; the answer says how long the guest was paused. Revert (a stopped
 * guest) puts each snapshot's copy back in place of its image, through a new copy renamed
 * over the image; delete removes exactly the copies and the record. All of it goes through
 * the long-operation engine (longop.h): files are journalled before they exist, so a
 * kill -9 leaves no copy that no record names.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "disk.h"
#include "log.h"
#include "longop.h"
#include "ops.h"
#include "save.h"
#include "snapshot.h"
#include "util.h"
#include "vmd-proto.h"

struct snap_disk {
	char *vdev, *image;
	char *source;    /* what is copied (create: the image; revert: the snapshot's copy) */
	int fd;          /* it, open */
	uint64_t bytes;
	int method;
	int file;        /* its file of the operation (op->files), -1: a qcow2 image's own */
	bool made;       /* create: its internal snapshot exists (undo deletes it); delete: gone */
	bool has_copy;   /* delete: a copy to unlink (else a qcow2 image's own snapshot) */
};

struct snap_op {
	struct vm_ref guest;
	char *snap;
	bool revert;
	bool running;      /* create: the guest had a domain (paused for the copies) */
	bool paused_by_us; /* we paused it, and have not unpaused it yet */
	int64_t domid;
	double paused_at, paused_ms;
	uint64_t rate;     /* a stopped guest's copies: vmd --copy-rate, as clones */
	char *xlcfg;       /* create: the running domain's config, or the definition */
	char *memory;      /* its memory's file (snap_memory_path), or NULL */
	struct saving *save; /* create --memory: the checkpoint, the domain suspended */
	bool keep_memory;  /* create: the snapshot is made, its memory stays */
	bool memory_gone;  /* delete: its memory's file was deleted */
	struct snap_disk *disks;
	size_t n;
	struct vm *vm;     /* held: in_flight set by us (loop only) */
};

static void resume(struct snap_op *s, struct daemon *d)
{
	if (s->save) { /* the checkpoint's end: the file stays or goes, the domain runs on */
		struct err err = {0};
		if (save_checkpoint_end(s->save, s->keep_memory, &err) < 0) {
			log_error("%s: %s", s->guest.name, err.msg);
			err_clear(&err);
		}
		s->save = NULL;
		s->paused_ms = (now_monotonic() - s->paused_at) * 1000.0;
		return;
	}
	if (!s->paused_by_us)
		return;
	struct err err = {0};
	if (be_unpause(d->be, (uint32_t)s->domid, &err) < 0) {
		log_error("%s: cannot unpause domain %" PRId64 " after the snapshot: %s",
			  s->guest.name, s->domid, err.msg);
		err_clear(&err);
	}
	s->paused_by_us = false;
	s->paused_ms = (now_monotonic() - s->paused_at) * 1000.0;
}

static void snap_free(void *arg)
{
	struct snap_op *s = arg;
	if (s->save) /* a failure or a cancel: the memory goes, the guest runs on */
		resume(s, NULL);
	if (s->vm) { /* still ours: a failure or a cancel */
		resume(s, s->vm->d);
		s->vm->in_flight = false;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->disks[i].fd >= 0)
			close(s->disks[i].fd);
		free(s->disks[i].vdev);
		free(s->disks[i].image);
		free(s->disks[i].source);
	}
	free(s->disks);
	free(s->snap);
	free(s->xlcfg);
	if (s->memory) { /* its directory, when nothing is left in it */
		char *dir = xstrdup(s->memory);
		*strrchr(dir, '/') = '\0';
		rmdir(dir);
		free(dir);
	}
	free(s->memory);
	vm_ref_clear(&s->guest);
	free(s);
}

/* A disk of the operation: with a file of the operation to make (copy: its final name), or
 * a qcow2 image snapshotted inside (copy NULL). */
static void add_disk(struct longop *op, struct snap_op *s, const char *vdev, const char *image,
		     const char *source, int fd, uint64_t bytes, const char *copy)
{
	s->disks = xrealloc(s->disks, (s->n + 1) * sizeof *s->disks);
	s->disks[s->n++] = (struct snap_disk){xstrdup(vdev), xstrdup(image), xstrdup(source), fd,
					      bytes, 0,
					      copy ? (int)longop_add_file(op, copy) : -1, false, false};
}

/* A qcow2 image's internal snapshot of that tag? (qemu-img snapshot -l: "ID TAG ...".) 1, 0,
 * or -1 with err. */
static int qcow2_has(const char *image, const char *tag, struct err *err)
{
	char *list = NULL;
	if (disk_qcow2_snapshot("-l", NULL, image, &list, err) < 0)
		return -1;
	int found = 0;
	char *save = NULL;
	for (char *l = strtok_r(list, "\n", &save); l && !found; l = strtok_r(NULL, "\n", &save)) {
		char id[32], name[256];
		found = sscanf(l, "%31s %255s", id, name) == 2 && strspn(id, "0123456789") ==
			strlen(id) && strcmp(name, tag) == 0;
	}
	free(list);
	return found;
}

/* Worker: a qcow2 disk's part (create: -c, after checking the tag is free; revert: -a). */
static int qcow2_step(struct longop *op, struct snap_op *s, struct snap_disk *k)
{
	struct err e = {0};
	int r = s->revert ? disk_qcow2_snapshot("-a", s->snap, k->image, NULL, &e) : 0;
	if (!s->revert) {
		int has = qcow2_has(k->image, s->snap, &e);
		if (has > 0)
			err_set(&e, VMD_ERR_EXISTS, "%s has an internal snapshot '%s' already "
				"(one vmd did not record: qemu-img snapshot -l shows it)", k->image,
				s->snap);
		r = has != 0 ? -1 : disk_qcow2_snapshot("-c", s->snap, k->image, NULL, &e);
		k->made = r == 0;
	}
	if (r < 0) {
		if (e.code == VMD_ERR_EXISTS)
			err_add_str(&e, "path", k->image);
		longop_fail_err(op, &e);
		return -1;
	}
	k->method = -1;
	return 0;
}

/* Worker, after a failure: the internal snapshots this create made go again. */
static void undo(struct longop *op)
{
	struct snap_op *s = op->arg;
	for (size_t i = 0; i < s->n; i++) {
		struct err e = {0};
		if (s->disks[i].made &&
		    disk_qcow2_snapshot("-d", s->snap, s->disks[i].image, NULL, &e) < 0)
			log_warn("%s: cannot delete snapshot '%s' of %s again: %s", s->guest.name,
				 s->snap, s->disks[i].image, e.msg);
		err_clear(&e);
	}
}

static const char *method_name(const struct snap_disk *k)
{
	return k->file < 0 ? "qcow2-internal" : disk_copy_method_name(k->method);
}

/* ---- the worker ------------------------------------------------------------------------ */

static int work(struct longop *op)
{
	struct snap_op *s = op->arg;
	uint64_t total = 0;
	for (size_t i = 0; i < s->n; i++)
		total += s->disks[i].bytes;
	job_set_total(op->job, total);
	if (op->n_files && longop_journal(op) < 0)
		return -1;
	for (size_t i = 0; i < s->n; i++) {
		struct snap_disk *k = &s->disks[i];
		longop_set_phase(op, "%s %s", s->revert ? "reverting" : "copying", k->vdev);
		if (k->file < 0) {
			if (qcow2_step(op, s, k) < 0)
				return -1;
			continue;
		}
		k->method = longop_copy(op, (size_t)k->file, k->fd, k->source, k->bytes,
					s->running ? DISK_COPY_REFLINK : 0, s->rate);
		if (k->method < 0 && s->running && disk_copy_unsupported(errno)) {
			struct err e = {0};
			err_set(&e, VMD_ERR_NOT_SUPPORTED, "%s of running guest '%s' cannot be "
				"reflinked where it is (%s): vmd does not copy the disk of a "
				"running guest; shut it down first, or keep its images on XFS "
				"(reflink=1) or btrfs", k->image, s->guest.name, strerror(errno));
			err_move(&op->err, &e); /* this is why, not the copy's message */
		}
		if (k->method < 0)
			return -1;
		close(k->fd);
		k->fd = -1;
	}
	longop_set_phase(op, "committing");
	for (size_t i = 0; i < op->n_files; i++)
		if (longop_commit_file(op, i) < 0)
			return -1;
	for (size_t i = 0; i < op->n_files; i++)
		if (disk_fsync_dir(op->files[i].jf.final) < 0) {
			longop_fail_path(op, VMD_ERR_IO, NULL, op->files[i].jf.final,
					 "cannot sync the directory of %s: %s",
					 op->files[i].jf.final, strerror(errno));
			return -1;
		}
	return 0;
}

/* ---- back on the loop ---------------------------------------------------------------------- */

/* The disks as the answer (copies: with the record's "copy") has them. */
static json_t *disks_json(struct longop *op, struct snap_op *s, bool copies)
{
	json_t *a = json_array();
	for (size_t i = 0; i < s->n; i++) {
		const struct snap_disk *k = &s->disks[i];
		json_t *d = json_pack("{s:s, s:s, s:s}", "vdev", k->vdev, "image", k->image,
				      "method", method_name(k));
		if (copies && k->file >= 0)
			json_object_set_new(d, "copy",
					    json_string(op->files[k->file].jf.final));
		json_array_append_new(a, d);
	}
	return a;
}

static int commit_create(struct longop *op)
{
	struct snap_op *s = op->arg;
	s->keep_memory = true;
	resume(s, op->d);
	char u[UUID_STR_LEN];
	uuid_format(s->guest.uuid, u);
	json_t *rec = json_pack("{s:s, s:s, s:s, s:f, s:b, s:s, s:o}", "snapshot", s->snap,
				"guest", s->guest.name, "uuid", u, "created", now_wall(),
				"running", s->running, "xlcfg", s->xlcfg, "disks",
				disks_json(op, s, true));
	if (s->running)
		json_object_set_new(rec, "paused_ms", json_real(s->paused_ms));
	if (s->memory)
		json_object_set_new(rec, "memory", json_string(s->memory));
	int r = snap_store(op->d, s->guest.name, s->snap, rec);
	json_decref(rec);
	if (r < 0) {
		longop_fail(op, VMD_ERR_IO, "cannot store the record of snapshot '%s': %s",
			    s->snap, strerror(errno));
		if (s->memory)
			unlink(s->memory);
		return -1;
	}
	if (s->running)
		log_info("%s: snapshot '%s' of %zu disk(s)%s; the guest was paused %.1f ms",
			 s->guest.name, s->snap, s->n, s->memory ? " and its memory" : "",
			 s->paused_ms);
	else
		log_info("%s: snapshot '%s' of %zu disk(s)", s->guest.name, s->snap, s->n);
	return 0;
}

/* Revert: each new copy of a snapshot's image goes over the image. */
static int commit_revert(struct longop *op)
{
	struct snap_op *s = op->arg;
	for (size_t i = 0; i < s->n; i++) {
		if (s->disks[i].file < 0)
			continue; /* reverted inside the image */
		const char *from = op->files[s->disks[i].file].jf.final, *to = s->disks[i].image;
		if (rename(from, to) < 0) {
			longop_fail_path(op, VMD_ERR_IO, NULL, to,
					 "cannot put %s in place of %s: %s", from, to,
					 strerror(errno));
			return -1;
		}
		fsync_parent_dir(to);
	}
	log_info("%s: reverted to snapshot '%s' (%zu disk(s))", s->guest.name, s->snap, s->n);
	return 0;
}

static void finish(struct longop *op)
{
	struct snap_op *s = op->arg;
	struct vm *vm = s->vm;
	if (s->vm) {
		s->vm->in_flight = false;
		s->vm = NULL;
	}
	json_t *r = json_pack("{s:s, s:s, s:s, s:o}", "name", s->guest.name, "snapshot", s->snap,
			      "job", op->job_id, "disks", disks_json(op, s, false));
	if (s->running)
		json_object_set_new(r, "paused_ms", json_real(s->paused_ms));
	if (s->memory)
		json_object_set_new(r, "memory", json_string(s->memory));
	if (!s->revert || !s->memory || !vm || !op->req) {
		longop_done(op, r);
		return;
	}
	/* A revert of a snapshot with memory: its disks are back, now the guest from its
	 * memory, as it ran at the snapshot; the answer is the revert's, with the restore's as
	 * "restored" (a failed restore is the answer: the disks are back, the guest stopped). */
	struct rpc_req *req = op->req;
	char *memory = xstrdup(s->memory);
	op->req = NULL;
	longop_done(op, NULL);
	log_info("%s: restoring the memory of the snapshot from %s", vm->name, memory);
	save_restore_with(req, vm, memory, false, r);
	free(memory);
}

static const struct longop_ops create_ops = {
	.work = work,
	.commit = commit_create,
	.finish = finish,
	.undo = undo,
	.free = snap_free,
};

static const struct longop_ops revert_ops = {
	.work = work,
	.commit = commit_revert,
	.finish = finish,
	.free = snap_free,
};

/* ---- the requests -------------------------------------------------------------------------- */

static struct snap_op *snap_op_new(struct vm *vm, const char *snap)
{
	struct snap_op *s = xcalloc(1, sizeof *s);
	vm_ref_set(&s->guest, vm);
	s->snap = xstrdup(snap);
	s->domid = vm->domid;
	s->rate = vm->d->copy_rate;
	return s;
}

/* The guest's writable disks (of cfg) as images to copy: regular files only. 0, or -1 with
 * op->err. */
static int plan_create(struct longop *op, struct snap_op *s, const struct vm_config *cfg)
{
	for (int i = 0; i < cfg->dc.num_disks; i++) {
		const libxl_device_disk *dk = &cfg->dc.disks[i];
		const char *img = vm_config_disk_file(dk);
		if (dk->is_cdrom || !dk->readwrite)
			continue;
		if (!img) {
			err_set(&op->err, VMD_ERR_NOT_SUPPORTED, "disk %s of '%s' is not an image "
				"file: vmd snapshots file disks (a block device: use LVM or the "
				"storage's own snapshots)", dk->vdev, s->guest.name);
			return -1;
		}
		if (dk->format == LIBXL_DISK_FORMAT_QCOW2 && s->running) {
			err_set(&op->err, VMD_ERR_NOT_SUPPORTED, "disk %s of running guest '%s' is "
				"qcow2, open in qemu's qdisk: its internal snapshot is taken with "
				"the guest stopped", dk->vdev, s->guest.name);
			return -1;
		}
		if (dk->format == LIBXL_DISK_FORMAT_QCOW2) {
			add_disk(op, s, dk->vdev, img, img, -1, 0, NULL);
			continue;
		}
		if (dk->format != LIBXL_DISK_FORMAT_RAW) {
			err_set(&op->err, VMD_ERR_NOT_SUPPORTED, "disk %s of '%s' is %s: vmd "
				"snapshots raw and qcow2 images", dk->vdev, s->guest.name,
				libxl_disk_format_to_string(dk->format));
			return -1;
		}
		int fd = open(img, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			err_set(&op->err, fd < 0 && errno == ENOENT ? VMD_ERR_NOT_FOUND
								: VMD_ERR_NOT_SUPPORTED,
				"disk %s of '%s' (%s): %s", dk->vdev, s->guest.name, img,
				fd < 0 ? strerror(errno) : "not a regular file");
			err_add_str(&op->err, "path", img);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		char *copy = snap_copy_path(img, s->snap);
		add_disk(op, s, dk->vdev, img, img, fd, (uint64_t)st.st_size, copy);
		free(copy);
	}
	if (!s->n) {
		err_set(&op->err, VMD_ERR_BAD_STATE, "'%s' has no writable disk to snapshot",
			s->guest.name);
		err_add_str(&op->err, "name", s->guest.name);
		return -1;
	}
	return 0;
}

static int check_paths(struct rpc_req *req, struct longop *op)
{
	for (size_t i = 0; i < op->n_files; i++)
		if (ops_check_caller_path(req, "disk", op->files[i].jf.final, &op->err) < 0)
			return -1;
	return 0;
}

static const char *snap_param(struct rpc_req *req, char *buf, size_t len)
{
	const char *snap = rpc_param_str(req, "snapshot");
	if (snap)
		return snap;
	time_t t = time(NULL);
	struct tm tm;
	strftime(buf, len, "%Y%m%d-%H%M%S", gmtime_r(&t, &tm));
	return buf;
}

static int snap_name_check(struct rpc_req *req, const char *snap)
{
	if (snap_name_valid(snap))
		return 0;
	rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "snapshot"),
			"snapshot: '%.64s' is not a name (1 to 64 letters, digits, '.', '_' or "
			"'-', not starting with '.')", snap);
	return -1;
}

/* The checkpoint is written and the domain suspended: now the copies (reflinks), then the
 * domain resumes (commit, or snap_free on a failure). */
static void suspended(void *arg, struct saving *sv, struct err *err)
{
	struct longop *op = arg;
	struct snap_op *s = op->arg;
	if (op->req)
		op->req->on_cancel = NULL;
	if (!sv) {
		err_move(&op->err, err);
		longop_abort(op);
		return;
	}
	s->save = sv;
	longop_start(op);
}

/* The client went during the checkpoint: it stops (then suspended() is told). */
static void checkpoint_gone(struct rpc_req *req, void *arg)
{
	save_cancel(arg);
}

/* create --memory: a checkpoint to the snapshot's memory file first (the guest suspended
 * from its start to the copies' end); the guest is held by the save meanwhile. */
static void start_with_memory(struct longop *op, struct snap_op *s, struct vm *vm)
{
	struct daemon *d = vm->d;
	s->memory = snap_memory_path(d, vm->name, s->snap);
	if (snap_memory_dir(d, vm->name) < 0) {
		err_set(&op->err, VMD_ERR_IO, "cannot create the directory of %s: %s", s->memory,
			strerror(errno));
		longop_abort(op);
		return;
	}
	s->paused_at = now_monotonic();
	struct saving *sv = save_checkpoint(d, vm, s->memory, "vm.snapshot_create", suspended, op,
					    &op->err);
	if (!sv) {
		longop_abort(op);
		return;
	}
	op->req->on_cancel = checkpoint_gone;
	op->req->cancel_arg = sv;
}

/* The record of req->vm's snapshot snap, or NULL (answered: not a name, no such one). */
static json_t *record_of(struct rpc_req *req, const char *snap)
{
	struct vm *vm = req->vm;
	if (snap_name_check(req, snap) < 0)
		return NULL;
	json_t *rec = snap_load(req->d, vm->name, snap);
	if (!rec)
		rpc_reply_error(req, VMD_ERR_NOT_FOUND, json_pack("{s:s}", "name", vm->name),
				"'%s' has no snapshot '%s'", vm->name, snap);
	return rec;
}

static void exec_create(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	char buf[32];
	const char *snap = snap_param(req, buf, sizeof buf);
	if (snap_name_check(req, snap) < 0)
		return;
	bool memory = rpc_param_bool(req, "memory", false);
	json_t *old = snap_load(req->d, vm->name, snap);
	if (old) {
		json_decref(old);
		rpc_reply_error(req, VMD_ERR_EXISTS, json_pack("{s:s}", "name", vm->name),
				"'%s' has a snapshot '%s' already", vm->name, snap);
		return;
	}
	bool running = vm->state == VM_RUNNING || vm->state == VM_PAUSED;
	if (vm_busy(vm) || (!running && vm->state != VM_STOPPED) || (memory && !running)) {
		vm_refuse(vm, &err, vm_busy(vm) ? VMD_ERR_BUSY : VMD_ERR_BAD_STATE,
			  "guest '%s' is %s%s", vm->name, vm_state_name(vm->state),
			  memory && !vm_busy(vm) ? ": a snapshot with memory is of a running guest"
						 : "");
		rpc_reply_err(req, &err);
		return;
	}
	const char *text = running ? vm_live_text(vm, &err) : vm_text(vm, &err);
	struct vm_config cfg;
	vm_config_init(&cfg);
	if (!text || config_parse(text, strlen(text), vm->name, NULL, &cfg, &err) < 0) {
		rpc_reply_err(req, &err);
		vm_config_finish(&cfg);
		return;
	}
	struct snap_op *s = snap_op_new(vm, snap);
	s->running = running;
	s->xlcfg = xstrdup(text);
	struct longop *op = longop_new(req, "vm.snapshot_create", &create_ops, s,
				       "snapshot '%s' of '%s'", snap, vm->name);
	op->name = xstrdup(vm->name); /* the journal's guest: its records own the copies */
	int r = plan_create(op, s, &cfg);
	vm_config_finish(&cfg);
	if (r < 0 || check_paths(req, op) < 0) {
		longop_abort(op);
		return;
	}
	if (memory) {
		start_with_memory(op, s, vm);
		return;
	}
	if (running && vm->state == VM_RUNNING) {
		if (be_pause(req->d->be, (uint32_t)vm->domid, &op->err) < 0) {
			longop_abort(op);
			return;
		}
		s->paused_by_us = true;
		s->paused_at = now_monotonic();
	}
	s->vm = vm;
	vm->in_flight = true;
	longop_start(op);
}

static void exec_revert(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	const char *snap = rpc_param_str(req, "snapshot");
	json_t *rec = record_of(req, snap);
	if (!rec)
		return;
	if (vm->state != VM_STOPPED || vm_busy(vm)) {
		vm_refuse(vm, &err, vm_busy(vm) ? VMD_ERR_BUSY : VMD_ERR_BAD_STATE,
			  "guest '%s' is %s: a revert changes its disks, shut it down or destroy "
			  "it first", vm->name, vm_state_name(vm->state));
		rpc_reply_err(req, &err);
		json_decref(rec);
		return;
	}
	struct snap_op *s = snap_op_new(vm, snap);
	s->revert = true;
	struct longop *op = longop_new(req, "vm.snapshot_revert", &revert_ops, s,
				       "revert of '%s' to snapshot '%s'", vm->name, snap);
	op->name = xstrdup(vm->name);
	size_t i;
	json_t *dk;
	json_array_foreach(json_object_get(rec, "disks"), i, dk) {
		const char *vdev = json_string_value(json_object_get(dk, "vdev"));
		const char *image = json_string_value(json_object_get(dk, "image"));
		const char *copy = json_string_value(json_object_get(dk, "copy"));
		const char *method = json_string_value(json_object_get(dk, "method"));
		if (vdev && image && !copy && method && strcmp(method, "qcow2-internal") == 0) {
			add_disk(op, s, vdev, image, image, -1, 0, NULL);
			continue;
		}
		int fd = copy ? open(copy, O_RDONLY | O_CLOEXEC) : -1;
		struct stat st;
		if (!vdev || !image || fd < 0 || fstat(fd, &st) < 0) {
			err_set(&op->err, VMD_ERR_IO, "snapshot '%s' of '%s': its copy %s is gone "
				"(%s)", snap, vm->name, copy ? copy : "?", strerror(errno));
			if (fd >= 0)
				close(fd);
			json_decref(rec);
			longop_abort(op);
			return;
		}
		/* the new copy is made beside the image, then renamed over it */
		char *tmpname = xasprintf("%s.revert", copy);
		add_disk(op, s, vdev, image, copy, fd, (uint64_t)st.st_size, tmpname);
		free(tmpname);
	}
	const char *memory = json_string_value(json_object_get(rec, "memory"));
	if (memory && access(memory, R_OK) < 0) {
		err_set(&op->err, VMD_ERR_IO, "snapshot '%s' of '%s': its memory %s is gone (%s)",
			snap, vm->name, memory, strerror(errno));
		json_decref(rec);
		longop_abort(op);
		return;
	}
	s->memory = memory ? xstrdup(memory) : NULL;
	json_decref(rec);
	if (check_paths(req, op) < 0) {
		longop_abort(op);
		return;
	}
	s->vm = vm;
	vm->in_flight = true;
	longop_start(op);
}

/* Delete, in a worker: each copy unlinked, each qcow2 image's internal snapshot deleted. */
static int delete_work(struct longop *op)
{
	struct snap_op *s = op->arg;
	for (size_t i = 0; i < s->n; i++) {
		struct snap_disk *k = &s->disks[i];
		struct err e = {0};
		longop_set_phase(op, "deleting %s", k->vdev);
		if (!k->has_copy && disk_qcow2_snapshot("-d", s->snap, k->image, NULL, &e) < 0) {
			struct err why = {0};
			err_set(&why, e.code == VMD_ERR_NOT_SUPPORTED ? e.code : VMD_ERR_BACKEND,
				"snapshot '%s' is forgotten, but %s keeps it inside (remove it with "
				"qemu-img snapshot -d): %s", s->snap, k->image, e.msg);
			err_clear(&e);
			longop_fail_err(op, &why);
			return -1;
		}
		if (!k->has_copy) {
			k->made = true; /* "deleted" */
		} else if (unlink(k->source) == 0 || errno == ENOENT) {
			k->made = true;
		} else {
			log_warn("%s: cannot delete %s of snapshot '%s': %s", s->guest.name,
				 k->source, s->snap, strerror(errno));
		}
	}
	if (s->memory && unlink(s->memory) < 0 && errno != ENOENT)
		log_warn("%s: cannot delete %s of snapshot '%s': %s", s->guest.name, s->memory,
			 s->snap, strerror(errno));
	else if (s->memory)
		s->memory_gone = true;
	return 0;
}

static void delete_finish(struct longop *op)
{
	struct snap_op *s = op->arg;
	if (s->vm) {
		s->vm->in_flight = false;
		s->vm = NULL;
	}
	json_t *deleted = json_array();
	for (size_t i = 0; i < s->n; i++)
		if (s->disks[i].made)
			json_array_append_new(deleted, json_string(!s->disks[i].has_copy
								   ? s->disks[i].image
								   : s->disks[i].source));
	if (s->memory_gone)
		json_array_append_new(deleted, json_string(s->memory));
	log_info("%s: snapshot '%s' deleted", s->guest.name, s->snap);
	longop_done(op, json_pack("{s:s, s:s, s:s, s:o}", "name", s->guest.name, "snapshot",
				  s->snap, "job", op->job_id, "deleted", deleted));
}

static const struct longop_ops delete_ops = {
	.work = delete_work,
	.finish = delete_finish,
	.free = snap_free,
};

static void exec_delete(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	const char *snap = rpc_param_str(req, "snapshot");
	json_t *rec = record_of(req, snap);
	if (!rec)
		return;
	if (vm_busy(vm)) {
		struct err err = {0};
		vm_refuse(vm, &err, VMD_ERR_BUSY, "guest '%s' is %s", vm->name,
			  vm_state_name(vm->state));
		rpc_reply_err(req, &err);
		json_decref(rec);
		return;
	}
	struct snap_op *s = snap_op_new(vm, snap);
	struct longop *op = longop_new(req, "vm.snapshot_delete", &delete_ops, s,
				       "deletion of snapshot '%s' of '%s'", snap, vm->name);
	size_t i;
	json_t *dk;
	json_array_foreach(json_object_get(rec, "disks"), i, dk) {
		const char *vdev = json_string_value(json_object_get(dk, "vdev"));
		const char *image = json_string_value(json_object_get(dk, "image"));
		const char *copy = json_string_value(json_object_get(dk, "copy"));
		if (vdev && image)
			add_disk(op, s, vdev, image, copy ? copy : image, -1, 0, NULL);
		if (vdev && image)
			s->disks[s->n - 1].has_copy = copy != NULL; /* a copy to unlink */
	}
	const char *memory = json_string_value(json_object_get(rec, "memory"));
	s->memory = memory ? xstrdup(memory) : NULL;
	json_decref(rec);
	/* The record first: a crash after it leaves copies no record names, which are the
	 * admin's to see beside the images, never a record naming deleted copies. */
	if (snap_forget(req->d, vm->name, snap) < 0) {
		err_set(&op->err, VMD_ERR_IO, "cannot remove the record of snapshot '%s': %s",
			snap, strerror(errno));
		longop_abort(op);
		return;
	}
	s->vm = vm;
	vm->in_flight = true;
	longop_start(op);
}

static void exec_list(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	json_t *recs = snap_list(req->d, vm->name);
	json_t *out = json_array();
	size_t i;
	json_t *rec;
	json_array_foreach(recs, i, rec) {
		json_object_del(rec, "xlcfg");
		json_object_del(rec, "guest");
		json_object_del(rec, "uuid");
		json_array_append(out, rec);
	}
	json_decref(recs);
	rpc_reply_result(req, json_pack("{s:s, s:o}", "name", vm->name, "snapshots", out));
}

static const struct param_spec create_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"snapshot", P_STRING, false, 0, 0},
	{"memory", P_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0},
};

static const struct param_spec snap_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"snapshot", P_STRING, true, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_snapshot_create = {
	.method = "vm.snapshot_create",
	.params = create_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_create,
};

const struct op_entry op_vm_snapshot_revert = {
	.method = "vm.snapshot_revert",
	.params = snap_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_revert,
};

const struct op_entry op_vm_snapshot_delete = {
	.method = "vm.snapshot_delete",
	.params = snap_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_delete,
};

const struct op_entry op_vm_snapshot_list = {
	.method = "vm.snapshot_list",
	.params = ops_name_only,
	.perm = OP_READ,
	.target = "name",
	.exec = exec_list,
};
