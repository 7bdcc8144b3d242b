/*
 * job.h: long work off the event loop (disk copies, image creation, virt-sysprep): worker
 * threads, progress notifications, cancellation, and a journal that lets the next daemon
 * clean up after a kill -9.
 *
 * A job runs as a sequence of stages. A stage is a work function, run in a worker thread of
 * its own, followed by a done function, run on the loop thread, which may start the next
 * stage or finish the job. The worker gets plain data only: it never touches the loop's
 * libevent or jansson objects, requests or guests. What it shares with the loop is in the
 * job: the cancel flag, the progress counters and the phase text (atomics and a mutex).
 * When a worker finishes it writes the job's pointer into a pipe that the loop watches; the
 * loop joins the thread and calls done.
 *
 * Progress: while a stage runs, the loop reports job.progress (the params of that
 * notification) to the job's progress function, if it has one: when the numbers or the
 * phase changed, at most every 200 ms, and at least once a second. The long-operation engine
 * (longop.c) sends them to its request's client; those writes are also how a client that
 * vanished is noticed: the write fails, the server drops the connection, and the request's
 * on_cancel hook cancels the job.
 *
 * Journal: a job that creates files lists them in <state-dir>/jobs/<id>.json *before* it
 * creates them (job_journal_write, from the worker). A daemon killed mid-job leaves the
 * journal behind; job_recover at the next start removes the temporary files it names, and
 * final files that the job had already renamed into place but that no definition owns
 * (recognised by device and inode, so nothing else is ever removed). A finished job removes
 * its journal.
 */
#ifndef VMD_JOB_H
#define VMD_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

struct daemon;
struct event;
struct job;

/* A stage's work: runs in a worker thread; returns its result for done. */
typedef int job_work_fn(struct job *j, void *arg);
/* A stage's end: runs on the loop thread with the work's result. */
typedef void job_done_fn(struct job *j, void *arg, int rc);
/* Where progress goes (loop thread): the params of a job.progress notification, borrowed. */
typedef void job_progress_fn(void *arg, json_t *params);

#define JOB_ID_LEN 9 /* 8 hex digits + NUL */

/* One file a job may leave behind. */
struct job_file {
	char *tmp;     /* the temporary name it is written under (disk_temp_name) */
	char *final;   /* the name it gets when complete */
	bool have_id;  /* dev/ino are known: tmp exists, or existed and became final */
	uint64_t dev, ino;
};

struct job {
	LIST_ENTRY(job) link;
	struct daemon *d;
	char id[JOB_ID_LEN];
	char *kind;             /* the method that started it: "vm.clone", "disk.create" */
	/* Where progress goes; NULL: nowhere (job_set_progress). */
	job_progress_fn *progress;
	void *progress_arg;

	/* The running stage; loop thread only (the worker sees work, arg before it starts). */
	job_work_fn *work;
	job_done_fn *done;
	void *arg;
	bool running;
	pthread_t thread;
	int rc;                 /* written by the worker, read after the join */
	int notify_fd;          /* the pipe's write end */
	char *journal;          /* <state-dir>/jobs/<id>.json */

	/* Progress already sent. */
	struct event *tick;
	bool sent;
	uint64_t sent_done, sent_total;
	char sent_phase[96];
	double sent_at;

	/* Shared with the worker. */
	atomic_bool cancel;
	_Atomic uint64_t done_bytes;
	_Atomic uint64_t total_bytes;
	pthread_mutex_t lock;   /* for phase */
	char phase[96];
};

/* Creates <state-dir>/jobs and the loop's end of the workers' pipe. 0 / -1 with errno. */
int job_system_init(struct daemon *d);
/* Does a definition own path, an image or file a job of guest made? (The registry decides:
 * vm_owns_file.) */
typedef bool job_owned_fn(struct daemon *d, const char *guest, const char *path);
/* Removes what jobs of an earlier daemon left behind (see above). Call after the registry
 * is loaded (owned decides which final files are kept) and before serving. */
void job_recover(struct daemon *d, job_owned_fn *owned);
/* At exit: cancels every job, waits for the workers and runs the rest of each job in the
 * calling thread (their done functions see the cancel flag and clean up), then frees all. */
void job_system_shutdown(struct daemon *d);

/* True once job_system_shutdown has begun: done functions should start nothing new. */
bool job_system_stopping(struct daemon *d);

/* A new job (not yet running any stage). kind is copied; progress may be NULL. */
struct job *job_new(struct daemon *d, const char *kind, job_progress_fn *progress, void *arg);
/* Frees a job that runs no stage. */
void job_free(struct job *j);
struct job *job_find(struct daemon *d, const char *id);
void job_set_progress(struct job *j, job_progress_fn *progress, void *arg);

/* Starts a stage. 0, or -1 with errno when no thread could be made (nothing ran). While the
 * daemon shuts down, the stage runs at once in the calling thread. */
int job_start(struct job *j, job_work_fn *work, job_done_fn *done, void *arg);

/* Asks the job to stop; its work sees it at the next check. Any thread. */
void job_cancel(struct job *j);
bool job_cancelled(struct job *j);

/* For workers: the phase text shown with the progress, and the byte counters. */
void job_set_phase(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void job_set_total(struct job *j, uint64_t total);

/* For workers: writes the journal (guest: the guest whose definition will own the final
 * files, NULL when the final files are the job's result by themselves, as for disk.create;
 * those are never removed by recovery). Durable when it returns. 0 / -1 with errno. */
int job_journal_write(struct job *j, const char *guest, const struct job_file *files, size_t n);
/* For workers: removes the journal. 0 / -1 with errno (ENOENT is not an error). */
int job_journal_remove(struct job *j);

#endif
