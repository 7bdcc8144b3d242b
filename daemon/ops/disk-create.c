/*
 * disk.create: a new sparse raw image of a given size ("10G"). It never replaces anything:
 * the file is made under a temporary name next to it, sized, synced and renamed with
 * RENAME_NOREPLACE (disk.c). The work runs in a worker (file system calls can block for long
 * on a busy or remote file system), journaled like a clone so that a kill -9 leaves no
 * temporary file. The image belongs to nobody: attach it to a guest with vm.define.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "daemon.h"
#include "disk.h"
#include "job.h"
#include "log.h"
#include "ops.h"
#include "rpc.h"
#include "server.h"
#include "util.h"
#include "vmd-proto.h"

#define IMAGE_MODE 0600 /* a guest's disk is its memory on file: root's only */

struct create {
	struct rpc_req *req;
	struct job_file file;
	uint64_t size;
	int err;          /* errno of the failure, 0 on success */
	char msg[512];
};

static int work(struct job *j, void *arg)
{
	struct create *cr = arg;
	job_set_phase(j, "creating");
	if (job_journal_write(j, NULL, &cr->file, 1) < 0) {
		cr->err = errno;
		snprintf(cr->msg, sizeof cr->msg, "cannot write the job journal: %s",
			 strerror(errno));
		return -1;
	}
	int r = disk_create(cr->file.final, cr->file.tmp, cr->size, IMAGE_MODE, cr->msg,
			    sizeof cr->msg);
	cr->err = r < 0 ? errno : 0;
	job_journal_remove(j);
	return r;
}

static void done(struct job *j, void *arg, int rc)
{
	struct create *cr = arg;
	struct rpc_req *req = cr->req;
	job_set_req(j, NULL);
	if (rc < 0) {
		log_warn("disk.create %s: %s", cr->file.final, cr->msg);
		rpc_reply_error(req, cr->err == EEXIST ? VMD_ERR_EXISTS : VMD_ERR_IO,
				json_pack("{s:s}", "path", cr->file.final), "%s", cr->msg);
	} else {
		log_info("disk.create: %s, %llu bytes (sparse)", cr->file.final,
			 (unsigned long long)cr->size);
		rpc_reply_result(req, json_pack("{s:s, s:I}", "path", cr->file.final, "size",
						(json_int_t)cr->size));
	}
	job_free(j);
	free(cr->file.final);
	free(cr->file.tmp);
	free(cr);
}

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
	uint64_t bytes;
	if (disk_parse_size(size, &bytes) < 0) {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "size"),
				"'%.40s' is not a size: a whole number of bytes above 0, "
				"optionally followed by K, M, G or T (powers of 1024), at most "
				"8 EiB",
				size);
		return;
	}
	/* A writer who is not root creates files only under the storage roots (access.h): the
	 * daemon writes as root. */
	if (!req->conn || !access_unrestricted(req->conn->uid, geteuid())) {
		char why[4096 + 256];
		if (access_check_caller_path(req->conn ? req->conn->uid : (uid_t)-1, path, why,
					     sizeof why) < 0) {
			rpc_reply_error(req, VMD_ERR_PERMISSION,
					json_pack("{s:s, s:s, s:s}", "method", req->op->method,
						  "key", "path", "path", path),
					"permission denied: %s", why);
			return;
		}
	}
	struct create *cr = xcalloc(1, sizeof *cr);
	cr->req = req;
	cr->size = bytes;
	cr->file.final = xstrdup(path);
	cr->file.tmp = disk_temp_name(path);
	/* Like every job it announces itself with a job.progress ("starting", with its id)
	 * and ends with the response; there is nothing in between to show. */
	struct job *j = job_new(req->d, "disk.create", req);
	if (job_start(j, work, done, cr) < 0) {
		rpc_reply_error(req, VMD_ERR_NO_RESOURCES, NULL,
				"cannot start a worker thread: %s", strerror(errno));
		job_free(j);
		free(cr->file.final);
		free(cr->file.tmp);
		free(cr);
	}
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
