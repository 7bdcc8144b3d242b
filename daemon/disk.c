/*
 * disk.c: see disk.h.
 *
 * Progress counts bytes of the source image, holes included, so that done reaches total (the
 * image size) whichever method ran: a reflink jumps there at once, a sparse copy jumps over
 * each hole and walks through each data extent.
 */
#include "disk.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "vmd-proto.h"

/* Zero detection granularity of the read/write copy: the file system block size of ext4 and
 * XFS, so a skipped block really becomes a hole. */
#define ZERO_BLOCK 4096

int disk_parse_size(const char *s, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)s[0])) {
		errno = EINVAL;
		return -1;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	if (shift) {
		end++;
		/* "10G", "10GiB", "10GB": all powers of 1024, as qemu-img and truncate(1)'s G. */
		if (strcmp(end, "iB") == 0 || strcasecmp(end, "b") == 0)
			end += strlen(end);
	}
	if (*end || v == 0) {
		errno = EINVAL;
		return -1;
	}
	if (v > ((unsigned long long)INT64_MAX >> shift)) {
		errno = ERANGE;
		return -1;
	}
	*out = (uint64_t)v << shift;
	return 0;
}

const char *disk_copy_method_name(int method)
{
	switch (method) {
	case DISK_COPY_REFLINK:
		return "reflink";
	case DISK_COPY_SPARSE:
		return "sparse";
	case DISK_COPY_RW:
		return "readwrite";
	}
	return "none";
}


/* ---- the copy engine ---------------------------------------------------------------------- */

struct copy {
	int in, out;
	uint64_t size;
	const struct disk_copy_ctl *ctl;
	size_t chunk;
	char *buf; /* for read/write, allocated on first use */
	struct err *err;
	uint64_t waited; /* the copy up to here is on disk and out of the page cache */
	uint64_t moved;  /* data bytes written so far (for ctl->rate) */
	double t0;       /* monotonic start of the copy (for ctl->rate) */
};

static bool cancelled(const struct copy *c)
{
	return c->ctl->cancel && atomic_load(c->ctl->cancel);
}

static int check_cancel(struct copy *c)
{
	if (!cancelled(c))
		return 0;
	errno = ECANCELED;
	err_set(c->err, VMD_ERR_CANCELLED, "cancelled");
	return -1;
}

/* n more bytes of the source are done; pos is where the copy stands now. */
static void advance(struct copy *c, uint64_t n, uint64_t pos)
{
	if (c->ctl->progress)
		atomic_fetch_add(c->ctl->progress, n);
	if (c->ctl->hook)
		c->ctl->hook(c->ctl->hook_arg, pos);
}

static int shrank(struct copy *c, uint64_t pos)
{
	errno = ESTALE;
	err_set(c->err, VMD_ERR_IO,
	       "the source image changed during the copy (it ends at %llu of %llu bytes)",
	       (unsigned long long)pos, (unsigned long long)c->size);
	return -1;
}

/*
 * Write-behind: [from, to) of the copy has just been written. Start its writeback now; wait
 * for what lies more than WRITE_BEHIND bytes behind and drop those pages from the cache. The
 * copy has to reach the disk before the rename anyway (fsync): streaming it there while the
 * copy goes on overlaps reading and writing instead of doing one after the other, keeps the
 * dirty pages of a 100 GiB copy from crowding out the page cache of the running guests, and
 * leaves little for the final fsync. The window keeps several chunks in flight, so the disk
 * sees a queue rather than one request at a time. Errors are left to that fsync.
 */
#define WRITE_BEHIND (64u << 20)

/* Holds the copy to ctl->rate data bytes per second: sleeps in short slices so that a
 * cancel is still seen promptly. */
static void throttle(struct copy *c, uint64_t n)
{
	if (!c->ctl->rate)
		return;
	c->moved += n;
	double due = c->t0 + (double)c->moved / (double)c->ctl->rate;
	for (double now = now_monotonic(); now < due && !cancelled(c); now = now_monotonic()) {
		double slice = due - now < 0.1 ? due - now : 0.1;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(slice * 1e9)};
		nanosleep(&ts, NULL);
	}
}

static void write_behind(struct copy *c, uint64_t from, uint64_t to)
{
	throttle(c, to - from);
	sync_file_range(c->out, (off_t)from, (off_t)(to - from), SYNC_FILE_RANGE_WRITE);
	if (to < WRITE_BEHIND || to - WRITE_BEHIND <= c->waited)
		return;
	uint64_t upto = to - WRITE_BEHIND;
	sync_file_range(c->out, (off_t)c->waited, (off_t)(upto - c->waited),
			SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
				SYNC_FILE_RANGE_WAIT_AFTER);
	posix_fadvise(c->out, (off_t)c->waited, (off_t)(upto - c->waited), POSIX_FADV_DONTNEED);
	c->waited = upto;
}

static bool all_zero(const char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static int pwrite_all(int fd, const char *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Copies [from, to) with pread/pwrite. Runs of zero blocks are not written: the target is a
 * new file, so they read back as zeros and take no space (what cp --sparse=always does). */
static int copy_rw(struct copy *c, uint64_t from, uint64_t to)
{
	if (!c->buf)
		c->buf = xmalloc(c->chunk);
	uint64_t pos = from;
	while (pos < to) {
		if (check_cancel(c) < 0)
			return -1;
		size_t want = to - pos < c->chunk ? (size_t)(to - pos) : c->chunk;
		ssize_t r = pread(c->in, c->buf, want, (off_t)pos);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err_set(c->err, VMD_ERR_IO, "cannot read the source image at %llu: %s",
			       (unsigned long long)pos, strerror(errno));
			return -1;
		}
		if (r == 0)
			return shrank(c, pos);
		/* Write each run of non-zero blocks with one call. */
		size_t run = 0, off = 0;
		while (off < (size_t)r) {
			size_t n = (size_t)r - off < ZERO_BLOCK ? (size_t)r - off : ZERO_BLOCK;
			bool zero = all_zero(c->buf + off, n);
			if (!zero) {
				off += n;
				if (off < (size_t)r)
					continue;
			}
			if (off > run &&
			    pwrite_all(c->out, c->buf + run, off - run, pos + run) < 0) {
				err_set(c->err, VMD_ERR_IO, "cannot write the copy at %llu: %s",
				       (unsigned long long)(pos + run), strerror(errno));
				return -1;
			}
			if (zero)
				off += n;
			run = off;
		}
		write_behind(c, pos, pos + (uint64_t)r);
		pos += (uint64_t)r;
		advance(c, (uint64_t)r, pos);
	}
	return 0;
}

/* The kernel says it cannot do this here (not "it failed"): try the next method. */
bool disk_copy_unsupported(int e)
{
	return e == EOPNOTSUPP || e == ENOTTY || e == EXDEV || e == EINVAL || e == ENOSYS;
}

/* Walks the source's data extents; copy_file_range moves each (falling back to read/write
 * when it cannot). Returns the method that did the work, or -1. */
static int copy_sparse(struct copy *c, unsigned allowed)
{
	bool cfr = allowed & DISK_COPY_SPARSE;
	bool seek = true;
	uint64_t pos = 0;
	while (pos < c->size) {
		if (check_cancel(c) < 0)
			return -1;
		uint64_t data = pos, end = c->size;
		if (seek) {
			off_t d = lseek(c->in, (off_t)pos, SEEK_DATA);
			if (d < 0 && errno == ENXIO) {
				data = c->size; /* nothing but hole up to the end */
			} else if (d < 0 && errno == EINVAL) {
				seek = false; /* no SEEK_DATA here: everything is data */
			} else if (d < 0) {
				err_set(c->err, VMD_ERR_IO, "cannot find data in the source: %s",
				       strerror(errno));
				return -1;
			} else {
				data = (uint64_t)d;
			}
		}
		if (data >= c->size) {
			advance(c, c->size - pos, c->size);
			pos = c->size;
			break;
		}
		if (seek) {
			off_t h = lseek(c->in, (off_t)data, SEEK_HOLE);
			if (h < 0 && errno == ENXIO)
				return shrank(c, data);
			if (h < 0) {
				err_set(c->err, VMD_ERR_IO, "cannot find holes in the source: %s",
				       strerror(errno));
				return -1;
			}
			end = (uint64_t)h < c->size ? (uint64_t)h : c->size;
		}
		if (data > pos)
			advance(c, data - pos, data);
		uint64_t p = data;
		while (p < end) {
			if (check_cancel(c) < 0)
				return -1;
			size_t want = end - p < c->chunk ? (size_t)(end - p) : c->chunk;
			if (!cfr) {
				if (copy_rw(c, p, p + want) < 0)
					return -1;
				p += want;
				continue;
			}
			loff_t ip = (loff_t)p, op = (loff_t)p;
			ssize_t n = copy_file_range(c->in, &ip, c->out, &op, want, 0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (disk_copy_unsupported(errno) && (allowed & DISK_COPY_RW)) {
					cfr = false;
					continue;
				}
				err_set(c->err, VMD_ERR_IO, "cannot copy at %llu: %s",
				       (unsigned long long)p, strerror(errno));
				return -1;
			}
			if (n == 0)
				return shrank(c, p);
			write_behind(c, p, p + (uint64_t)n);
			p += (uint64_t)n;
			advance(c, (uint64_t)n, p);
		}
		pos = end;
	}
	return cfr ? DISK_COPY_SPARSE : DISK_COPY_RW;
}

int disk_copy_fd(int in, int out, uint64_t size, const struct disk_copy_ctl *ctl,
		 struct err *err)
{
	static const struct disk_copy_ctl none = {0};
	struct copy c = {
		.in = in,
		.out = out,
		.size = size,
		.ctl = ctl ? ctl : &none,
		.err = err,
		.t0 = now_monotonic(),
	};
	c.chunk = c.ctl->chunk ? c.ctl->chunk : DISK_COPY_CHUNK;
	unsigned allowed = c.ctl->methods ? c.ctl->methods : DISK_COPY_ALL;
	int method = -1;

	if (check_cancel(&c) < 0)
		return -1;
	if (allowed & DISK_COPY_REFLINK) {
		if (ioctl(out, FICLONE, in) == 0) {
			advance(&c, size, size);
			method = DISK_COPY_REFLINK;
			goto check;
		}
		if (!disk_copy_unsupported(errno) ||
		    !(allowed & (DISK_COPY_SPARSE | DISK_COPY_RW))) {
			err_set(err, VMD_ERR_IO, "cannot reflink the image: %s", strerror(errno));
			return -1;
		}
	}
	if (allowed & DISK_COPY_SPARSE) {
		method = copy_sparse(&c, allowed);
	} else if (allowed & DISK_COPY_RW) {
		/* Forced read/write: still skip the holes we know of, as copy_sparse does. */
		method = copy_sparse(&c, allowed);
	} else {
		errno = EINVAL;
		err_set(err, VMD_ERR_IO, "no copy method allowed");
		return -1;
	}
	free(c.buf);
	if (method < 0)
		return -1;
	/* The holes at the end: the size, not data, makes them. */
	if (ftruncate(out, (off_t)size) < 0) {
		err_set(err, VMD_ERR_IO, "cannot set the size of the copy: %s", strerror(errno));
		return -1;
	}
check:;
	/* A source that grew or shrank while we copied gives a copy of no consistent moment. */
	struct stat st;
	if (fstat(in, &st) < 0) {
		err_set(err, VMD_ERR_IO, "cannot stat the source image: %s", strerror(errno));
		return -1;
	}
	if ((uint64_t)st.st_size != size) {
		errno = ESTALE;
		err_set(err, VMD_ERR_IO,
		       "the source image changed size during the copy (%llu bytes, now %llu)",
		       (unsigned long long)size, (unsigned long long)st.st_size);
		return -1;
	}
	return method;
}

/* ---- names and commits -------------------------------------------------------------------- */

char *disk_temp_name(const char *final)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	const char *slash = strrchr(final, '/');
	size_t dirlen = slash ? (size_t)(slash - final) + 1 : 0;
	uint8_t r[6];
	char x[sizeof r + 1];
	if (random_bytes(r, sizeof r) < 0)
		abort(); /* getrandom does not fail once the pool is seeded */
	for (size_t i = 0; i < sizeof r; i++)
		x[i] = set[r[i] % (sizeof set - 1)];
	x[sizeof r] = '\0';
	return xasprintf("%.*s.%s.%s%s", (int)dirlen, final, final + dirlen, x, DISK_TMP_SUFFIX);
}

bool disk_is_temp_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base), m = strlen(DISK_TMP_SUFFIX);
	/* "." + at least one character + "." + six random characters + suffix */
	return base[0] == '.' && n >= 1 + 1 + 1 + 6 + m &&
	       strcmp(base + n - m, DISK_TMP_SUFFIX) == 0;
}

int disk_fsync_dir(const char *path)
{
	return fsync_parent_dir(path);
}

int disk_commit(const char *tmp, const char *final)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE (some NFS and FUSE): link() refuses an
	 * existing name just as well. */
	if (link(tmp, final) < 0)
		return -1;
	unlink(tmp);
	return 0;
}

int disk_create(const char *path, const char *tmp, uint64_t size, unsigned mode,
		struct err *err)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		errno = EEXIST;
		err_set(err, VMD_ERR_EXISTS, "%s already exists", path);
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		err_set(err, VMD_ERR_IO, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	/* fchmod: the daemon's umask must not decide who may read a guest's disk. */
	if (fchmod(fd, mode) < 0) {
		err_set(err, VMD_ERR_IO, "cannot set the mode of %s: %s", path, strerror(errno));
		goto fail;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		err_set(err, VMD_ERR_IO, "cannot make %s %llu bytes large: %s", path,
		       (unsigned long long)size, strerror(errno));
		goto fail;
	}
	struct stat made;
	if (fsync(fd) < 0 || fstat(fd, &made) < 0) {
		err_set(err, VMD_ERR_IO, "cannot sync %s: %s", path, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		err_set(err, VMD_ERR_IO, "cannot write %s: %s", path, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (disk_commit(tmp, path) < 0) {
		if (errno == EEXIST)
			err_set(err, VMD_ERR_EXISTS, "%s already exists", path);
		else
			err_set(err, VMD_ERR_IO, "cannot create %s: %s", path, strerror(errno));
		goto fail;
	}
	if (disk_fsync_dir(path) < 0) {
		/* Not durable: take back what we renamed (and only that), and say so. */
		int e = errno;
		err_set(err, VMD_ERR_IO, "cannot sync the directory of %s: %s", path, strerror(e));
		if (lstat(path, &st) == 0 && st.st_dev == made.st_dev && st.st_ino == made.st_ino)
			unlink(path);
		errno = e;
		return -1;
	}
	return 0;
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}

/* ---- virt-sysprep --------------------------------------------------------------------------- */

char *disk_find_program(const char *prog)
{
	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0 ? xstrdup(prog) : NULL;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *p = path; *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n > 0) {
			char *cand = xasprintf("%.*s/%s", (int)n, p, prog);
			struct stat st;
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return NULL;
}

#define SYSPREP_TAIL 8192
#define SYSPREP_KILL_GRACE 5.0 /* seconds between SIGTERM and SIGKILL after a cancel */

/* The line that says why: the first "error:" line of the tail, else its last line. */
static void sysprep_reason(char *tail, struct err *err, const char *prefix)
{
	char *pick = NULL, *last = NULL, *save = NULL;
	for (char *line = strtok_r(tail, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line)
			continue;
		if (!pick && strstr(line, "error:"))
			pick = line;
		last = line;
	}
	if (!pick)
		pick = last;
	if (pick)
		for (char *c = pick; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = ' ';
	err_set(err, VMD_ERR_BACKEND, "%s%s%s", prefix, pick ? ": " : "", pick ? pick : "");
}

/* Runs argv[0] (a path) with its output (stdout and stderr) kept, its last TOOL_TAIL bytes in
 * *tail (malloc'ed, NUL-terminated); when cancel becomes true its process group is killed.
 * The wait status in *status (-1: unknown). 0 when it ran to the end, or -1 with err and
 * errno (ECANCELED: cancelled). */
#define TOOL_TAIL SYSPREP_TAIL
static int run_tool(const char *const *argv, const atomic_bool *cancel, char **tail_out,
		    int *status_out, struct err *err)
{
	const char *prog = argv[0];
	*tail_out = NULL;
	*status_out = -1;
	int out[2];
	if (pipe2(out, O_CLOEXEC) < 0) {
		err_set(err, VMD_ERR_IO, "cannot run %s: %s", prog, strerror(errno));
		return -1;
	}
	/* Its own process group lets a cancel stop it together with what it runs (qemu). */
	pid_t pid;
	int fds[3] = {-1, out[1], out[1]};
	int e = spawn_child(prog, (char *const *)argv, false, fds, &pid);
	close(out[1]);
	if (e) {
		close(out[0]);
		errno = e;
		err_set(err, VMD_ERR_IO, "cannot run %s: %s", prog, strerror(e));
		return -1;
	}

	char *tail = xcalloc(1, TOOL_TAIL + 1);
	size_t tlen = 0;
	bool eof = false, killed = false;
	double kill_at = 0;
	int status = 0;
	for (;;) {
		if (cancel && atomic_load(cancel) && !killed) {
			kill(-pid, SIGTERM);
			killed = true;
			kill_at = now_monotonic() + SYSPREP_KILL_GRACE;
		}
		if (killed && kill_at && now_monotonic() > kill_at) {
			kill(-pid, SIGKILL);
			kill_at = 0;
		}
		if (eof) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid)
				break;
			if (w < 0 && errno != EINTR) {
				status = -1;
				break;
			}
			usleep(100000);
			continue;
		}
		struct pollfd pfd = {.fd = out[0], .events = POLLIN};
		int r = poll(&pfd, 1, 100);
		if (r <= 0)
			continue;
		char buf[4096];
		ssize_t got = read(out[0], buf, sizeof buf);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			eof = true;
			continue;
		}
		/* Keep the last TOOL_TAIL bytes (buf is smaller than that). */
		_Static_assert(sizeof buf < TOOL_TAIL, "one read fits the tail");
		size_t g = (size_t)got;
		if (tlen + g > TOOL_TAIL) {
			size_t drop = tlen + g - TOOL_TAIL;
			memmove(tail, tail + drop, tlen - drop);
			tlen -= drop;
		}
		memcpy(tail + tlen, buf, g);
		tlen += g;
		tail[tlen] = '\0';
	}
	close(out[0]);
	*tail_out = tail;
	*status_out = status;
	if (killed) {
		errno = ECANCELED;
		err_set(err, VMD_ERR_CANCELLED, "cancelled");
		return -1;
	}
	return 0;
}

/* "NAME failed (exit status N)" and the tool's reason, for a status that is not 0. */
static void tool_failed(const char *name, int status, char *tail, struct err *err)
{
	char prefix[128];
	if (status > 0 && WIFEXITED(status))
		snprintf(prefix, sizeof prefix, "%s failed (exit status %d)", name,
			 WEXITSTATUS(status));
	else if (status > 0 && WIFSIGNALED(status))
		snprintf(prefix, sizeof prefix, "%s was killed by signal %d", name,
			 WTERMSIG(status));
	else
		snprintf(prefix, sizeof prefix, "%s failed", name);
	errno = EIO;
	sysprep_reason(tail, err, prefix);
}

int disk_run_tool(const char *name, const char *const *argv, struct err *err)
{
	char *tail = NULL;
	int status;
	int rc = run_tool(argv, NULL, &tail, &status, err);
	if (rc == 0 && status != 0) {
		tool_failed(name, status, tail, err);
		rc = -1;
	}
	free(tail);
	return rc;
}

int disk_qcow2_check(const char *image, struct err *err)
{
	char *prog = disk_find_program("qemu-img");
	if (!prog) {
		err_set(err, VMD_ERR_NOT_SUPPORTED, "qcow2 images need qemu-img (Debian's "
			"qemu-utils), which is not installed");
		return -1;
	}
	const char *argv[] = {prog, "check", "-q", "-f", "qcow2", image, NULL};
	char *tail = NULL;
	int status;
	int rc = run_tool(argv, NULL, &tail, &status, err);
	/* qemu-img check: 0 whole; 3 only leaked clusters (space lost, no data); 1 the check
	 * could not finish (a truncated image), 2 corrupted, 63 not checkable */
	if (rc == 0 && status != 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 3)) {
		tool_failed("qemu-img check", status, tail, err);
		err->code = VMD_ERR_INVALID_PARAMS;
		rc = -1;
	}
	free(tail);
	free(prog);
	return rc;
}

int disk_sysprep(const char *prog, const struct disk_sysprep_image *images, size_t n,
		 const char *hostname, const atomic_bool *cancel, struct err *err)
{
	const char **argv = xcalloc(4 * n + 12, sizeof *argv);
	size_t a = 0;
	argv[a++] = prog;
	argv[a++] = "--quiet";
	for (size_t i = 0; i < n; i++) {
		argv[a++] = "--format";
		argv[a++] = images[i].format ? images[i].format : "raw";
		argv[a++] = "-a";
		argv[a++] = images[i].path;
	}
	argv[a++] = "--operations";
	argv[a++] = DISK_SYSPREP_OPS;
	argv[a++] = "--hostname";
	argv[a++] = hostname;
	argv[a++] = "--firstboot-command";
	argv[a++] = DISK_SYSPREP_FIRSTBOOT;
	argv[a] = NULL;
	char *tail = NULL;
	int status;
	int rc = run_tool(argv, cancel, &tail, &status, err);
	free(argv);
	if (rc == 0 && status != 0) {
		tool_failed("virt-sysprep", status, tail, err);
		rc = -1;
	}
	free(tail);
	return rc;
}

int disk_qcow2_snapshot(const char *flag, const char *tag, const char *image, char **out,
			struct err *err)
{
	char *prog = disk_find_program("qemu-img");
	if (out)
		*out = NULL;
	if (!prog) {
		err_set(err, VMD_ERR_NOT_SUPPORTED, "snapshots of qcow2 images need qemu-img, "
			"which is not installed here (Debian: apt install qemu-utils)");
		return -1;
	}
	const char *argv[] = {prog, "snapshot", flag, tag, image, NULL};
	if (!tag) { /* -l IMAGE */
		argv[3] = image;
		argv[4] = NULL;
	}
	char *tail = NULL;
	int status;
	int rc = run_tool(argv, NULL, &tail, &status, err);
	if (rc == 0 && status != 0) {
		tool_failed("qemu-img snapshot", status, tail, err);
		rc = -1;
	}
	if (rc == 0 && out) {
		*out = tail;
		tail = NULL;
	}
	free(tail);
	free(prog);
	return rc;
}

/* ---- image formats ------------------------------------------------------------------------ */

static uint64_t be64(const unsigned char *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

int disk_image_probe(int fd, const char *path, struct disk_image *out, struct err *err)
{
	memset(out, 0, sizeof *out);
	struct stat st;
	unsigned char h[2048];
	if (fstat(fd, &st) < 0) {
		err_set(err, VMD_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "the image %s is not a regular file", path);
		return -1;
	}
	ssize_t got = pread(fd, h, sizeof h, 0);
	if (got < 0) {
		err_set(err, VMD_ERR_IO, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	out->file_size = out->virtual_size = (uint64_t)st.st_size;
	if (got >= 32 && memcmp(h, "QFI\xfb", 4) == 0) {
		out->qcow2 = true;
		out->virtual_size = be64(h + 24);
		out->has_backing = be64(h + 8) != 0;
		return 0;
	}
	bool boot_sig = got >= 512 && h[510] == 0x55 && h[511] == 0xaa;
	bool ext = got >= 1082 && h[1080] == 0x53 && h[1081] == 0xef;
	if (!boot_sig && !ext) {
		err_set(err, VMD_ERR_INVALID_PARAMS,
			"%s is not a disk image: neither qcow2 nor a raw disk with a partition table "
			"or an ext file system%s",
			path, st.st_size == 0 ? " (it is empty)" : "");
		return -1;
	}
	return 0;
}

char *disk_qcow2_backing(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	unsigned char h[20];
	char *name = NULL;
	if (pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h && memcmp(h, "QFI\xfb", 4) == 0) {
		uint64_t off = be64(h + 8);
		uint32_t len = (uint32_t)h[16] << 24 | (uint32_t)h[17] << 16 | (uint32_t)h[18] << 8 |
			       h[19];
		if (off && len && len <= 1023) { /* qemu's limit: 1023 */
			name = xmalloc(len + 1);
			if (pread(fd, name, len, (off_t)off) == (ssize_t)len) {
				name[len] = '\0';
			} else {
				free(name);
				name = NULL;
			}
		}
	}
	close(fd);
	return name;
}
