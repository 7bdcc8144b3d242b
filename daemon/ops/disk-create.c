/*
 * disk.create: a new sparse raw image of a given size ("10G"). It never replaces anything:
 * the file is made under a temporary name next to it, sized, synced and renamed with
 * RENAME_NOREPLACE (disk.c). The work runs as a long operation (longop.h: a worker, since
 * file system calls can block for long on a busy or remote file system; journaled, so that a
 * kill -9 leaves no temporary file). The image belongs to nobody: attach it to a guest with
 * vm.define.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "log.h"
#include "longop.h"
#include "ops.h"
#include "util.h"
#include "vmd-proto.h"

#define IMAGE_MODE 0600 /* a guest's disk is its memory on file: root's only */

struct create {
	uint64_t size;
};

static int work(struct longop *op)
{
	struct create *cr = op->arg;
	struct longop_file *f = &op->files[0];
	longop_set_phase(op, "creating");
	if (longop_journal(op) < 0)
		return -1;
	struct err err = {0};
	if (disk_create(f->jf.final, f->jf.tmp, cr->size, IMAGE_MODE, &err) < 0) {
		err_add_str(&err, "path", f->jf.final);
		longop_fail_err(op, &err);
		return -1;
	}
	return longop_adopt_final(op, 0);
}

static void finish(struct longop *op)
{
	struct create *cr = op->arg;
	const char *path = op->files[0].jf.final;
	log_info("disk.create: %s, %llu bytes (sparse)", path, (unsigned long long)cr->size);
	longop_done(op, json_pack("{s:s, s:I}", "path", path, "size", (json_int_t)cr->size));
}

static const struct longop_ops create_ops = {
	.work = work,
	.finish = finish,
};

static const char *check(json_t *params)
{
	const char *path = json_string_value(json_object_get(params, "path"));
	size_t n = strlen(path);
	if (path[0] != '/' || n < 2 || path[n - 1] == '/')
		return "'path' must be an absolute path of a file";
	return NULL;
}

static void exec(struct rpc_req *req)
{
	const char *path = rpc_param_str(req, "path");
	const char *size = rpc_param_str(req, "size");
	struct create *cr = xcalloc(1, sizeof *cr);
	struct longop *op = longop_new(req, "disk.create", &create_ops, cr, "disk.create of %s",
				       path);
	if (disk_parse_size(size, &cr->size) < 0) {
		longop_fail_path(op, VMD_ERR_INVALID_PARAMS, "size", NULL,
				 "'%.40s' is not a size: a whole number of bytes above 0, "
				 "optionally followed by K, M, G or T (powers of 1024), at most "
				 "8 EiB",
				 size);
		longop_abort(op);
		return;
	}
	/* A writer who is not root creates files only under the storage roots (access.h): the
	 * daemon writes as root. */
	if (ops_check_caller_path(req, "path", path, &op->err) < 0) {
		longop_abort(op);
		return;
	}
	longop_add_file(op, path);
	/* Like every job it announces itself with a job.progress ("starting", with its id)
	 * and ends with the response; there is nothing in between to show. */
	longop_start(op);
}

static const struct param_spec params[] = {
	{"path", P_STRING, true, 0, 0},
	{"size", P_STRING, true, 0, 0},
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_disk_create = {
	.method = "disk.create",
	.params = params,
	.perm = OP_WRITE,
	.exec = exec,
	.check = check,
};
