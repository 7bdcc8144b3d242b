/*
 * job.c: see job.h.
 *
 * One thread per stage rather than a pool: stages are few and long (a copy of gigabytes),
 * a thread costs microseconds to make, and a joined thread leaves nothing behind for
 * valgrind to ask about. Workers block every signal, so SIGTERM, SIGINT and SIGCHLD keep
 * going to the loop thread as libevent (and libxl's SIGCHLD handling) expect. Workers do not
 * log: stderr lines from two threads could interleave; done functions log on the loop.
 */
#include "job.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "disk.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define JOURNAL_VERSION 1
#define JOURNAL_MAX (1024 * 1024)
#define TICK_USEC 200000     /* progress at most this often... */
#define HEARTBEAT_SEC 1.0    /* ...and at least this often while a stage runs */

struct jobs {
	char *dir; /* <state-dir>/jobs */
	int pipe[2];
	struct event *ev;
	LIST_HEAD(, job) list;
	bool stopping;
};

/* ---- progress ------------------------------------------------------------------------------ */

static void send_progress(struct job *j, bool force)
{
	if (!j->progress)
		return;
	char phase[sizeof j->phase];
	pthread_mutex_lock(&j->lock);
	memcpy(phase, j->phase, sizeof phase);
	pthread_mutex_unlock(&j->lock);
	uint64_t done = atomic_load(&j->done_bytes), total = atomic_load(&j->total_bytes);
	if (total && done > total)
		done = total; /* a source that grew: the copy fails; never show more than 100% */
	double now = now_monotonic();
	bool changed = !j->sent || done != j->sent_done || total != j->sent_total ||
		       strcmp(phase, j->sent_phase) != 0;
	if (!changed && !force && now - j->sent_at < HEARTBEAT_SEC)
		return;
	j->sent = true;
	j->sent_done = done;
	j->sent_total = total;
	memcpy(j->sent_phase, phase, sizeof phase);
	j->sent_at = now;
	json_t *p = json_pack("{s:s, s:s, s:I, s:I}", "job", j->id, "phase", phase, "done",
			      (json_int_t)done, "total", (json_int_t)total);
	j->progress(j->progress_arg, p);
	json_decref(p);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	send_progress(arg, false);
}

/* ---- stages --------------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct job *j = arg;
	j->rc = j->work(j, j->arg);
	/* 8 bytes into a pipe: atomic (below PIPE_BUF), and the loop reads them promptly. */
	ssize_t w;
	do
		w = write(j->notify_fd, &j, sizeof j);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)sizeof j)
		abort(); /* the loop would wait for this job forever */
	return NULL;
}

/* The stage is over (its thread joined): last progress, then its done function. */
static void stage_end(struct job *j)
{
	j->running = false;
	if (j->tick)
		event_del(j->tick);
	send_progress(j, false);
	job_done_fn *done = j->done;
	void *arg = j->arg;
	j->work = NULL;
	j->done = NULL;
	j->arg = NULL;
	done(j, arg, j->rc);
}

static void pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	for (;;) {
		struct job *j;
		ssize_t r = read(fd, &j, sizeof j);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof j)
			return; /* EAGAIN: all read */
		pthread_join(j->thread, NULL);
		stage_end(j);
	}
}

int job_start(struct job *j, job_work_fn *work, job_done_fn *done, void *arg)
{
	struct jobs *js = j->d->jobs;
	j->work = work;
	j->done = done;
	j->arg = arg;
	j->running = true;
	if (js->stopping) {
		/* No loop any more to hand results to: run it here (the cancel flag is set). */
		j->rc = work(j, arg);
		stage_end(j);
		return 0;
	}
	if (!j->sent) {
		/* At once, before any work: the client learns the job's id (for job.cancel). */
		pthread_mutex_lock(&j->lock);
		if (!j->phase[0])
			snprintf(j->phase, sizeof j->phase, "starting");
		pthread_mutex_unlock(&j->lock);
		send_progress(j, true);
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&j->thread, NULL, worker_main, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		j->running = false;
		j->work = NULL;
		j->done = NULL;
		j->arg = NULL;
		errno = e;
		return -1;
	}
	struct timeval tv = {0, TICK_USEC};
	event_add(j->tick, &tv);
	return 0;
}

/* ---- jobs ----------------------------------------------------------------------------------- */

struct job *job_new(struct daemon *d, const char *kind, job_progress_fn *progress, void *arg)
{
	struct jobs *js = d->jobs;
	struct job *j = xcalloc(1, sizeof *j);
	j->d = d;
	j->kind = xstrdup(kind);
	j->progress = progress;
	j->progress_arg = arg;
	j->notify_fd = js->pipe[1];
	do {
		uint8_t r[4];
		if (random_bytes(r, sizeof r) < 0)
			abort();
		snprintf(j->id, sizeof j->id, "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
	} while (job_find(d, j->id));
	j->journal = xasprintf("%s/%s.json", js->dir, j->id);
	j->tick = event_new(d->base, -1, EV_PERSIST, tick_cb, j);
	if (!j->tick)
		abort();
	atomic_init(&j->cancel, false);
	atomic_init(&j->done_bytes, 0);
	atomic_init(&j->total_bytes, 0);
	pthread_mutex_init(&j->lock, NULL);
	LIST_INSERT_HEAD(&js->list, j, link);
	return j;
}

void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->running)
		abort(); /* a worker still uses it */
	LIST_REMOVE(j, link);
	event_free(j->tick);
	pthread_mutex_destroy(&j->lock);
	free(j->journal);
	free(j->kind);
	free(j);
}

struct job *job_find(struct daemon *d, const char *id)
{
	struct job *j;
	LIST_FOREACH(j, &d->jobs->list, link)
		if (strcmp(j->id, id) == 0)
			return j;
	return NULL;
}

void job_set_progress(struct job *j, job_progress_fn *progress, void *arg)
{
	j->progress = progress;
	j->progress_arg = arg;
}

void job_cancel(struct job *j)
{
	atomic_store(&j->cancel, true);
}

bool job_cancelled(struct job *j)
{
	return atomic_load(&j->cancel);
}

void job_set_phase(struct job *j, const char *fmt, ...)
{
	char buf[sizeof j->phase];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&j->lock);
	memcpy(j->phase, buf, sizeof buf);
	pthread_mutex_unlock(&j->lock);
}

void job_set_total(struct job *j, uint64_t total)
{
	atomic_store(&j->total_bytes, total);
}

/* ---- the journal ---------------------------------------------------------------------------- */

int job_journal_write(struct job *j, const char *guest, const struct job_file *files, size_t n)
{
	/* Built and freed here, in the worker: no jansson object crosses threads. */
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *f = json_pack("{s:s, s:s}", "tmp", files[i].tmp, "final", files[i].final);
		if (files[i].have_id) {
			json_object_set_new(f, "dev", json_integer((json_int_t)files[i].dev));
			json_object_set_new(f, "ino", json_integer((json_int_t)files[i].ino));
		}
		json_array_append_new(list, f);
	}
	json_t *doc = json_pack("{s:i, s:s, s:s, s:o, s:o}", "vmd_job", JOURNAL_VERSION, "id",
				j->id, "kind", j->kind, "guest",
				guest ? json_string(guest) : json_null(), "files", list);
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text) {
		errno = ENOMEM;
		return -1;
	}
	int r = write_file_atomic(j->journal, text, strlen(text), 0600);
	int e = errno;
	free(text);
	errno = e;
	return r;
}

int job_journal_remove(struct job *j)
{
	if (unlink(j->journal) < 0)
		return errno == ENOENT ? 0 : -1;
	return disk_fsync_dir(j->journal);
}

/* ---- recovery ------------------------------------------------------------------------------- */

static void recover_one(struct daemon *d, job_owned_fn *owned, const char *path,
			const char *fname)
{
	size_t len;
	char *text = read_file(path, JOURNAL_MAX, &len);
	json_t *doc = text ? json_loadb(text, len, 0, NULL) : NULL;
	free(text);
	json_t *files = json_object_get(doc, "files");
	const char *id = json_string_value(json_object_get(doc, "id"));
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	json_t *guestj = json_object_get(doc, "guest");
	if (json_integer_value(json_object_get(doc, "vmd_job")) != JOURNAL_VERSION || !id ||
	    !kind || !json_is_array(files) || !(json_is_string(guestj) || json_is_null(guestj))) {
		log_warn("jobs: %s is not a job journal of this vmd; left in place", path);
		json_decref(doc);
		return;
	}
	const char *guest = json_string_value(guestj);
	size_t i;
	json_t *f;
	json_array_foreach(files, i, f) {
		const char *tmp = json_string_value(json_object_get(f, "tmp"));
		const char *final = json_string_value(json_object_get(f, "final"));
		json_t *dev = json_object_get(f, "dev"), *ino = json_object_get(f, "ino");
		/* Only names of our own making: a damaged journal must not delete anything else. */
		if (tmp && tmp[0] == '/' && disk_is_temp_name(tmp)) {
			if (unlink(tmp) == 0)
				log_info("job %s (%s): removed leftover temporary file %s", id,
					 kind, tmp);
			else if (errno != ENOENT)
				log_warn("job %s (%s): cannot remove %s: %s", id, kind, tmp,
					 strerror(errno));
		}
		if (!guest || !final || final[0] != '/' || !json_is_integer(dev) ||
		    !json_is_integer(ino))
			continue;
		/* A final image whose definition was never stored: the job did not finish, and
		 * its images go too, but only the very file the job made (same dev and inode). */
		struct stat st;
		if (lstat(final, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (uint64_t)st.st_dev != (uint64_t)json_integer_value(dev) ||
		    (uint64_t)st.st_ino != (uint64_t)json_integer_value(ino))
			continue;
		if (owned(d, guest, final))
			continue;
		if (unlink(final) == 0)
			log_info("job %s (%s): removed %s: the definition of '%s' was never stored",
				 id, kind, final, guest);
		else
			log_warn("job %s (%s): cannot remove %s: %s", id, kind, final,
				 strerror(errno));
	}
	if (unlink(path) < 0)
		log_warn("jobs: cannot remove %s: %s", path, strerror(errno));
	else
		log_info("job %s (%s): cleaned up after an interrupted run (%s)", id, kind, fname);
	json_decref(doc); /* id and kind point into it */
}

void job_recover(struct daemon *d, job_owned_fn *owned)
{
	struct jobs *js = d->jobs;
	DIR *dir = opendir(js->dir);
	if (!dir) {
		log_error("jobs: cannot open %s: %s", js->dir, strerror(errno));
		return;
	}
	/* Names first: recover_one unlinks entries while we would be iterating. */
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		names = xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(dir);
	for (size_t i = 0; i < n; i++) {
		const char *name = names[i];
		size_t len = strlen(name);
		char *path = xasprintf("%s/%s", js->dir, name);
		if (name[0] == '.' && len > 4 && strcmp(name + len - 4, ".tmp") == 0) {
			/* an interrupted journal write (write_file_atomic's temp file) */
			unlink(path);
		} else if (name[0] != '.' && len > 5 && strcmp(name + len - 5, ".json") == 0) {
			recover_one(d, owned, path, name);
		} else {
			log_warn("jobs: unexpected file %s; left in place", path);
		}
		free(path);
		free(names[i]);
	}
	free(names);
	disk_fsync_dir(js->dir);
}

/* ---- the system ----------------------------------------------------------------------------- */

int job_system_init(struct daemon *d)
{
	struct jobs *js = xcalloc(1, sizeof *js);
	js->dir = xasprintf("%s/jobs", d->state_dir);
	LIST_INIT(&js->list);
	js->pipe[0] = js->pipe[1] = -1;
	if (mkdir_p(js->dir, 0700) < 0 || pipe2(js->pipe, O_CLOEXEC) < 0)
		goto fail;
	/* Only the read end is non-blocking: a worker's 8-byte write must not be lost. */
	if (fcntl(js->pipe[0], F_SETFL, O_NONBLOCK) < 0)
		goto fail;
	js->ev = event_new(d->base, js->pipe[0], EV_READ | EV_PERSIST, pipe_cb, js);
	if (!js->ev || event_add(js->ev, NULL) < 0) {
		errno = ENOMEM;
		goto fail;
	}
	d->jobs = js;
	return 0;
fail:;
	int e = errno;
	if (js->ev)
		event_free(js->ev);
	if (js->pipe[0] >= 0)
		close(js->pipe[0]);
	if (js->pipe[1] >= 0)
		close(js->pipe[1]);
	free(js->dir);
	free(js);
	errno = e;
	return -1;
}

bool job_system_stopping(struct daemon *d)
{
	return !d->jobs || d->jobs->stopping;
}

void job_system_shutdown(struct daemon *d)
{
	struct jobs *js = d->jobs;
	if (!js)
		return;
	js->stopping = true;
	struct job *j;
	LIST_FOREACH(j, &js->list, link)
		job_cancel(j);
	/* Finish the running stages here; their done functions run the rest of each job at
	 * once (job_start runs inline now) and free it. */
	for (;;) {
		LIST_FOREACH(j, &js->list, link)
			if (j->running)
				break;
		if (!j)
			break;
		log_info("job %s (%s): cancelled (the daemon is stopping)", j->id, j->kind);
		pthread_join(j->thread, NULL);
		stage_end(j);
	}
	while ((j = LIST_FIRST(&js->list))) {
		log_warn("job %s (%s): left without a stage at exit", j->id, j->kind);
		job_free(j);
	}
	event_free(js->ev);
	close(js->pipe[0]);
	close(js->pipe[1]);
	free(js->dir);
	free(js);
	d->jobs = NULL;
}
