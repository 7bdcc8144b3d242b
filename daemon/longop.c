/*
 * longop.c: see longop.h.
 */
#include "longop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "disk.h"
#include "log.h"
#include "rpc.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

/* ---- life of the operation (loop) ---------------------------------------------------------- */

static void progress(void *arg, json_t *params)
{
	struct longop *op = arg;
	if (op->req)
		rpc_notify(op->req, "job.progress", json_incref(params));
}

static void client_gone(struct rpc_req *req, void *arg)
{
	struct longop *op = arg;
	log_info("%s: the client went away; cancelling the %s (job %s)",
		 op->name ? op->name : op->kind, op->kind, op->job_id);
	job_cancel(op->job);
}

struct longop *longop_new(struct rpc_req *req, const char *kind, const struct longop_ops *ops,
			  void *arg, const char *what_fmt, ...)
{
	struct longop *op = xcalloc(1, sizeof *op);
	op->d = req->d;
	op->req = req;
	op->ops = ops;
	op->arg = arg;
	op->kind = xstrdup(kind);
	va_list ap;
	va_start(ap, what_fmt);
	if (vasprintf(&op->what, what_fmt, ap) < 0)
		abort();
	va_end(ap);
	op->started_at = now_monotonic();
	return op;
}

int longop_reserve(struct longop *op, const char *name)
{
	if (vm_reserve(op->d, name, &op->err) < 0)
		return -1;
	op->name = xstrdup(name);
	op->reserved = true;
	return 0;
}

size_t longop_add_file(struct longop *op, const char *final)
{
	op->files = xrealloc(op->files, (op->n_files + 1) * sizeof *op->files);
	struct longop_file *f = &op->files[op->n_files];
	memset(f, 0, sizeof *f);
	f->jf.final = xstrdup(final);
	f->jf.tmp = disk_temp_name(final);
	return op->n_files++;
}

char **longop_finals(struct longop *op)
{
	char **v = xcalloc(op->n_files ? op->n_files : 1, sizeof *v);
	for (size_t i = 0; i < op->n_files; i++)
		v[i] = op->files[i].jf.final;
	return v;
}

static void op_free(struct longop *op)
{
	if (op->reserved)
		vm_unreserve(op->d, op->name);
	if (op->job)
		job_free(op->job);
	for (size_t i = 0; i < op->n_files; i++) {
		free(op->files[i].jf.tmp);
		free(op->files[i].jf.final);
	}
	free(op->files);
	err_clear(&op->err);
	if (op->ops->free)
		op->ops->free(op->arg);
	else
		free(op->arg);
	free(op->kind);
	free(op->what);
	free(op->name);
	free(op);
}

/* No more progress or cancel through the request: it is about to be answered. */
static void release(struct longop *op)
{
	if (op->req)
		op->req->on_cancel = NULL;
	if (op->job)
		job_set_progress(op->job, NULL, NULL);
}

/* Which codes' data may name a guest (proto/schemas/error.json). */
static bool names_guest(int code)
{
	return code == VMD_ERR_NOT_FOUND || code == VMD_ERR_EXISTS || code == VMD_ERR_BAD_STATE ||
	       code == VMD_ERR_BACKEND || code == VMD_ERR_BUSY || code == VMD_ERR_IO ||
	       code == VMD_ERR_NO_RESOURCES || code == VMD_ERR_CANCELLED ||
	       code == VMD_ERR_NOT_SUPPORTED;
}

static void reply_error(struct longop *op)
{
	release(op);
	struct err *e = &op->err;
	if (!e->code)
		err_set(e, VMD_ERR_INTERNAL, "%s failed", op->what);
	if (op->name && names_guest(e->code) && !err_data_str(e, "name"))
		err_add_str(e, "name", op->name);
	if (e->code == VMD_ERR_CANCELLED && op->job_id[0] && !err_data_str(e, "job"))
		err_add_str(e, "job", op->job_id);
	if (op->ops->error_data)
		op->ops->error_data(op, e);
	log_warn("%s: %s failed: %s", op->name ? op->name : op->kind, op->what, e->msg);
	rpc_reply_err(op->req, e);
	op->req = NULL;
}

void longop_abort(struct longop *op)
{
	reply_error(op);
	op_free(op);
}

void longop_done(struct longop *op, json_t *result)
{
	release(op);
	if (op->req)
		rpc_reply_result(op->req, result);
	else
		json_decref(result);
	op->req = NULL;
	op_free(op);
}

void longop_done_err(struct longop *op, struct err *err)
{
	release(op);
	rpc_reply_err(op->req, err);
	op->req = NULL;
	op_free(op);
}

static void guest_started(struct vm *vm, void *arg, const struct err *err)
{
	struct longop *op = arg;
	if (!err) {
		log_info("%s: running (%s)", vm->name, op->what);
		longop_done(op, op->start_result(op));
		return;
	}
	struct err e = {0};
	err_copy(&e, err);
	struct err rerr = {0};
	if (vm_remove(vm, true, NULL, NULL, &rerr) < 0)
		log_error("%s: did not start and its definition could not be removed: %s",
			  op->name, rerr.msg);
	err_clear(&rerr);
	*op->start_vm = NULL;
	longop_done_err(op, &e);
}

void longop_start_guest(struct longop *op, struct vm **vm, json_t *(*result)(struct longop *op))
{
	op->start_vm = vm;
	op->start_result = result;
	struct err err = {0};
	if (vm_start(*vm, guest_started, op, &err) < 0)
		guest_started(*vm, op, &err);
	err_clear(&err);
}

/* ---- undo (worker, or the loop when no thread can be had) --------------------------------- */

/* Removes what the operation made, newest first: finals that are still our very files,
 * temporary files, the verb's own leftovers, the journal. */
static void undo_files(struct longop *op)
{
	for (size_t i = op->n_files; i-- > 0;) {
		struct longop_file *f = &op->files[i];
		if (f->final_made) {
			struct stat st;
			if (lstat(f->jf.final, &st) == 0 && (uint64_t)st.st_dev == f->jf.dev &&
			    (uint64_t)st.st_ino == f->jf.ino)
				unlink(f->jf.final);
			disk_fsync_dir(f->jf.final);
			f->final_made = false;
		}
		if (f->tmp_made) {
			unlink(f->jf.tmp);
			f->tmp_made = false;
		}
	}
	if (op->ops->undo)
		op->ops->undo(op);
	job_journal_remove(op->job);
}

static int stage_undo(struct job *j, void *arg)
{
	undo_files(arg);
	return 0;
}

static void undone(struct job *j, void *arg, int rc)
{
	struct longop *op = arg;
	reply_error(op);
	op_free(op);
}

/* A later stage takes back what the work made (file system calls may block), then the
 * error is the reply. */
static void undo_later(struct longop *op)
{
	release(op);
	if (job_start(op->job, stage_undo, undone, op) == 0)
		return;
	/* No thread to be had: better a moment of blocking than files left behind. */
	undo_files(op);
	undone(op->job, op, 0);
}

/* ---- the stages ----------------------------------------------------------------------------- */

static int stage_work(struct job *j, void *arg)
{
	struct longop *op = arg;
	int rc = op->ops->work(op);
	if (rc == 0 && longop_check_cancel(op) < 0)
		rc = -1;
	if (rc < 0) {
		if (!op->err.code)
			longop_fail(op, VMD_ERR_INTERNAL, "%s failed", op->what);
		undo_files(op);
	}
	return rc;
}

static int stage_forget(struct job *j, void *arg)
{
	return job_journal_remove(j);
}

static void forgotten(struct job *j, void *arg, int rc)
{
	struct longop *op = arg;
	if (rc < 0)
		log_warn("job %s: cannot remove its journal %s: %s", j->id, j->journal,
			 strerror(errno));
	job_free(j);
	op->job = NULL;
	op->ops->finish(op);
}

static void worked(struct job *j, void *arg, int rc)
{
	struct longop *op = arg;
	if (rc < 0) {
		reply_error(op);
		op_free(op);
		return;
	}
	if (longop_check_cancel(op) < 0 || job_system_stopping(op->d)) {
		/* Cancelled after the worker's last check: what it made goes again. */
		longop_fail(op, VMD_ERR_CANCELLED, "%s cancelled", op->what);
		undo_later(op);
		return;
	}
	if (op->ops->commit && op->ops->commit(op) < 0) {
		undo_later(op);
		return;
	}
	/* Past the point of no return: a disconnect no longer cancels. */
	op->committed = true;
	release(op);
	if (job_start(j, stage_forget, forgotten, op) < 0)
		forgotten(j, op, -1); /* the journal stays; recovery keeps what is owned */
}

void longop_start(struct longop *op)
{
	op->job = job_new(op->d, op->kind, progress, op);
	memcpy(op->job_id, op->job->id, sizeof op->job_id);
	if (job_start(op->job, stage_work, worked, op) < 0) {
		longop_fail(op, VMD_ERR_NO_RESOURCES, "cannot start a worker thread: %s",
			    strerror(errno));
		longop_abort(op);
		return;
	}
	op->req->on_cancel = client_gone;
	op->req->cancel_arg = op;
}

/* ---- for the worker ------------------------------------------------------------------------ */

bool longop_cancelled(struct longop *op)
{
	return op->job && job_cancelled(op->job);
}

int longop_check_cancel(struct longop *op)
{
	if (!longop_cancelled(op))
		return 0;
	err_first(&op->err, VMD_ERR_CANCELLED, "%s cancelled", op->what);
	return -1;
}

__attribute__((format(printf, 5, 0))) static void failv(struct longop *op, int code,
							const char *param, const char *path,
							const char *fmt, va_list ap)
{
	if (op->err.code)
		return; /* the first failure wins */
	if (longop_cancelled(op)) {
		/* What failed did so because of the cancel (a copy stopped, a child killed). */
		err_set(&op->err, VMD_ERR_CANCELLED, "%s cancelled", op->what);
		return;
	}
	err_setv(&op->err, code, fmt, ap);
	err_add_str(&op->err, "param", param);
	err_add_str(&op->err, "path", path);
}

void longop_fail(struct longop *op, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	failv(op, code, NULL, NULL, fmt, ap);
	va_end(ap);
}

void longop_fail_path(struct longop *op, int code, const char *param, const char *path,
		      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	failv(op, code, param, path, fmt, ap);
	va_end(ap);
}

void longop_fail_err(struct longop *op, struct err *e)
{
	if (!op->err.code && !longop_cancelled(op))
		err_move(&op->err, e);
	else if (!op->err.code)
		longop_check_cancel(op);
	err_clear(e);
}

void longop_set_phase(struct longop *op, const char *fmt, ...)
{
	char buf[sizeof op->job->phase];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	job_set_phase(op->job, "%s", buf);
}

int longop_journal(struct longop *op)
{
	struct job_file *v = xcalloc(op->n_files ? op->n_files : 1, sizeof *v);
	for (size_t i = 0; i < op->n_files; i++)
		v[i] = op->files[i].jf;
	int r = job_journal_write(op->job, op->name, v, op->n_files);
	free(v);
	if (r < 0)
		longop_fail(op, VMD_ERR_IO, "cannot write the job journal: %s", strerror(errno));
	return r;
}

static void set_id(struct longop_file *f, const struct stat *st)
{
	f->jf.dev = (uint64_t)st->st_dev;
	f->jf.ino = (uint64_t)st->st_ino;
	f->jf.have_id = true;
}

int longop_create_tmp(struct longop *op, size_t i, unsigned mode)
{
	struct longop_file *f = &op->files[i];
	int fd = open(f->jf.tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	if (fd < 0) {
		longop_fail_path(op, VMD_ERR_IO, NULL, f->jf.final,
				 "cannot create a file next to %s: %s", f->jf.final,
				 strerror(errno));
		return -1;
	}
	f->tmp_made = true;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		longop_fail_path(op, VMD_ERR_IO, NULL, f->jf.final, "cannot stat %s: %s",
				 f->jf.tmp, strerror(errno));
		close(fd);
		return -1;
	}
	set_id(f, &st);
	if (longop_journal(op) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int longop_commit_file(struct longop *op, size_t i)
{
	struct longop_file *f = &op->files[i];
	if (disk_commit(f->jf.tmp, f->jf.final) < 0) {
		if (errno == EEXIST)
			longop_fail_path(op, VMD_ERR_EXISTS, NULL, f->jf.final,
					 "%s appeared meanwhile; vmd never replaces a file",
					 f->jf.final);
		else
			longop_fail_path(op, VMD_ERR_IO, NULL, f->jf.final,
					 "cannot rename %s to %s: %s", f->jf.tmp, f->jf.final,
					 strerror(errno));
		return -1;
	}
	f->tmp_made = false;
	f->final_made = true;
	return 0;
}

int longop_adopt_final(struct longop *op, size_t i)
{
	struct longop_file *f = &op->files[i];
	struct stat st;
	if (lstat(f->jf.final, &st) < 0) {
		longop_fail_path(op, VMD_ERR_IO, NULL, f->jf.final, "cannot record %s: %s",
				 f->jf.final, strerror(errno));
		return -1;
	}
	set_id(f, &st);
	f->final_made = true;
	if (longop_journal(op) < 0) {
		/* Not in the journal: take it back now, while it surely is ours. */
		unlink(f->jf.final);
		f->final_made = false;
		return -1;
	}
	return 0;
}

int longop_copy(struct longop *op, size_t i, int src, const char *path, uint64_t bytes,
		unsigned methods, uint64_t rate)
{
	const char *final = op->files[i].jf.final;
	struct stat sst;
	if (fstat(src, &sst) < 0) {
		longop_fail_path(op, VMD_ERR_IO, NULL, path, "cannot stat %s: %s", path,
				 strerror(errno));
		return -1;
	}
	int out = longop_create_tmp(op, i, sst.st_mode & 0777);
	if (out < 0)
		return -1;
	/* The copy is the disk as the source was: same mode and owner. */
	fchmod(out, sst.st_mode & 0777);
	if (geteuid() == 0 && fchown(out, sst.st_uid, sst.st_gid) < 0) {
		/* not fatal: root may be refused on some network file systems */
	}
	struct disk_copy_ctl ctl = {
		.methods = methods,
		.cancel = &op->job->cancel,
		.progress = &op->job->done_bytes,
		.rate = rate,
	};
	struct err err = {0};
	int m = disk_copy_fd(src, out, bytes, &ctl, &err);
	if (m < 0) {
		int e = errno;
		close(out);
		longop_fail_path(op, VMD_ERR_IO, NULL, e == ESTALE ? path : final,
				 "cannot copy %s to %s: %s", path, final, err.msg);
		err_clear(&err);
		errno = e;
		return -1;
	}
	if (fsync(out) < 0 || close(out) < 0) {
		longop_fail_path(op, VMD_ERR_IO, NULL, final, "cannot write %s: %s", final,
				 strerror(errno));
		return -1;
	}
	/* The open descriptor would happily copy a file someone deleted or replaced: a copy of
	 * an image that is no longer the one at its path is not what was asked for. */
	struct stat now;
	if (stat(path, &now) < 0 || now.st_dev != sst.st_dev || now.st_ino != sst.st_ino) {
		longop_fail_path(op, VMD_ERR_IO, NULL, path,
				 "disk image %s vanished or was replaced during the copy", path);
		return -1;
	}
	return m;
}
