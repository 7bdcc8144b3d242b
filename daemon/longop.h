/*
 * longop.h: the one engine of the long operations that make files (vm.clone, vm.install,
 * disk.create; snapshots, migration, save/restore and image provisioning are to use it too).
 *
 * A verb plans on the loop, hands the engine the files it will make and a work function,
 * and the engine runs the rest the same way for every verb:
 *
 *   loop    longop_new (the request), longop_reserve (the name of the guest being made:
 *           nobody else can define, clone or install it meanwhile), longop_add_file for each
 *           file, longop_start: a job (job.c) whose first progress notification gives the
 *           client the job's id; a disconnect of the client, or job.cancel, cancels it
 *   worker  ops->work makes the files, through longop_journal / longop_create_tmp /
 *           longop_commit_file / longop_adopt_final, so that the journal always lists them
 *           before they exist (a kill -9 leaves nothing that the next start's job_recover
 *           cannot find); on failure, or when cancelled, what it made is removed right there
 *   loop    ops->commit (e.g. stores the definition that owns the files); cancelled before
 *           it, or failed in it: what the work made is removed in a worker, then the error
 *           is the reply. After a commit the operation can no longer be cancelled.
 *   worker  the journal goes
 *   loop    ops->finish: the verb answers (maybe after starting the guest) with
 *           longop_done / longop_done_err.
 *
 * Errors: the first failure wins (err_first), from any stage; a failure while cancelled is
 * the cancel ("<what> cancelled"). The reply carries the error as it was set, plus the name
 * of the guest being made (where the code's data has a name) and, for a cancel, the job's
 * id; then ops->error_data may reshape it.
 *
 * Threads: the worker sees the longop and the verb's state as plain data (no libevent, no
 * request, no registry); the loop touches them only between stages.
 */
#ifndef VMD_LONGOP_H
#define VMD_LONGOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "job.h"

struct daemon;
struct longop;
struct rpc_req;
struct vm;

/* One file the operation makes. */
struct longop_file {
	struct job_file jf; /* tmp, final and their identity: the journal's view */
	bool tmp_made;      /* the temporary file exists (ours) */
	bool final_made;    /* the final file is ours: renamed into place, same dev/ino */
};

struct longop_ops {
	/* Worker: make the files. 0, or -1 with longop_fail. */
	int (*work)(struct longop *op);
	/* Loop, after a work that succeeded and was not cancelled: 0, or -1 with longop_fail
	 * (the files are then removed). NULL: nothing to commit. */
	int (*commit)(struct longop *op);
	/* Loop, after the commit and the journal's removal: reply with longop_done*. */
	void (*finish)(struct longop *op);
	/* Worker, after the files were removed on a failure or cancel: the verb's own leftovers
	 * (a directory it made). NULL: none. */
	void (*undo)(struct longop *op);
	/* Loop, before an error reply, after the default data (above) was added. NULL: none. */
	void (*error_data)(struct longop *op, struct err *err);
	/* Frees the verb's state (arg). NULL: free(). */
	void (*free)(void *arg);
};

struct longop {
	struct daemon *d;
	struct rpc_req *req;   /* until the reply */
	const struct longop_ops *ops;
	void *arg;             /* the verb's state */
	char *kind;            /* the method: "vm.clone" */
	char *what;            /* for messages: "clone of 'web' as 'web2'" */
	char *name;            /* the guest being made (reserved), or NULL */
	bool reserved;         /* the name is still reserved by us (vm_define takes it) */
	struct job *job;
	char job_id[JOB_ID_LEN];
	bool committed;        /* past the point of no return */
	double started_at;     /* monotonic */
	struct longop_file *files;
	size_t n_files;
	struct err err;        /* why it failed: the first failure */
	/* longop_start_guest's */
	struct vm **start_vm;
	json_t *(*start_result)(struct longop *op);
};

/* A new operation for req (its kind, e.g. "vm.clone"; what it does, for messages: "clone
 * of 'a' as 'b'"); nothing runs yet. */
struct longop *longop_new(struct rpc_req *req, const char *kind, const struct longop_ops *ops,
			  void *arg, const char *what_fmt, ...) __attribute__((format(printf, 5, 6)));
/* Reserves the name of the guest the operation makes (vm_reserve). 0, or -1 with op->err. */
int longop_reserve(struct longop *op, const char *name);
/* Adds a file (its temporary name is made next to final). Returns its index. Loop only,
 * before longop_start, or in the worker before the file is journaled. */
size_t longop_add_file(struct longop *op, const char *final);
/* Starts the job and its work. On failure (no worker thread) replies and frees op. */
void longop_start(struct longop *op);
/* Before longop_start: replies with op->err (or the given error) and frees op. */
void longop_abort(struct longop *op);

/* ---- for the worker ---------------------------------------------------------------------- */

void longop_fail(struct longop *op, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same, with data.param and data.path (either may be NULL) when it is the first. */
void longop_fail_path(struct longop *op, int code, const char *param, const char *path,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Takes e's error as the operation's (when it is the first). */
void longop_fail_err(struct longop *op, struct err *e);
/* The cancel flag (set by a disconnect, job.cancel, or the daemon stopping). */
bool longop_cancelled(struct longop *op);
/* When cancelled: records the CANCELLED error and returns -1; else 0. */
int longop_check_cancel(struct longop *op);
/* Writes the journal: every file, with the identities known so far. 0, or -1 (failed). */
int longop_journal(struct longop *op);
/* Creates file i's temporary file (O_EXCL, mode), records its identity and journals it.
 * The open fd, or -1 (failed). */
int longop_create_tmp(struct longop *op, size_t i, unsigned mode);
/* Renames file i's temporary file into place without replacing anything (EXISTS when the
 * final name is taken). 0, or -1 (failed). The caller syncs the directory. */
int longop_commit_file(struct longop *op, size_t i);
/* File i's final file was made by someone else on our behalf (disk_create): records its
 * identity and journals it. 0, or -1 (failed; the file is removed). */
int longop_adopt_final(struct longop *op, size_t i);
void longop_set_phase(struct longop *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* File i made as a copy of the image open at src (its path, for messages; bytes: its size),
 * with the methods allowed (disk.h; 0: all) at most rate bytes/s (0: no limit): the
 * temporary file created with src's mode and owner, copied, synced; and src checked to be
 * still the file at that path. The method used, or -1 (failed; errno of the copy). */
int longop_copy(struct longop *op, size_t i, int src, const char *path, uint64_t bytes,
		unsigned methods, uint64_t rate);

/* ---- for commit and finish (loop) -------------------------------------------------------- */

/* Starts the guest the operation defined (its commit stored it in *vm) and answers: with
 * result(op) once it runs; when it cannot start, all or nothing: the definition goes with the
 * files it owns (vm_remove with delete_disks), *vm becomes NULL and the start's error is the
 * reply. */
void longop_start_guest(struct longop *op, struct vm **vm, json_t *(*result)(struct longop *op));
/* The finals of the files, for the definition that owns them (an array of n_files). */
char **longop_finals(struct longop *op);
/* The reply: result (stolen), or an error; then everything is freed. */
void longop_done(struct longop *op, json_t *result);
void longop_done_err(struct longop *op, struct err *err);

#endif
