/*
 * test-disk.c: the copy engine and image helpers of daemon/disk.c, and the job journal's
 * recovery (job.c): holes stay holes and content is equal with every method; out of space,
 * a source that shrinks under the copy, an unreadable source and a cancel fail cleanly;
 * images are never replaced; virt-sysprep is run as documented (a stand-in script records
 * its arguments) and stopped on cancel; leftovers of a killed job are removed at start and
 * nothing else is.
 *
 * Tests that need root (tmpfs and loop mounts for ENOSPC and reflink) say "# skip" and pass
 * when they cannot mount.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "disk.h"
#include "job.h"
#include "log.h"
#include "test.h"
#include "util.h"
#include "vm.h"

static char dir[64];

#define MIB (1024u * 1024u)

static char *path_of(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void skip(const char *why)
{
	printf("# skip: %s\n", why);
}


/* Writes len bytes of a pattern that depends on the offset (never all zero) at off. */
static void put(int fd, uint64_t off, size_t len)
{
	char *buf = xmalloc(len);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(((off + i) * 2654435761u >> 13) | 1);
	CHECK(pwrite(fd, buf, len, (off_t)off) == (ssize_t)len);
	free(buf);
}

/* A sparse source: size bytes, data at the given offsets (len each). */
static char *make_source(const char *name, uint64_t size, const uint64_t *offs, size_t n,
			 size_t len)
{
	char *p = path_of(name);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	for (size_t i = 0; i < n; i++)
		put(fd, offs[i], len);
	CHECK(fsync(fd) == 0);
	close(fd);
	return p;
}

static bool same_content(const char *a, const char *b)
{
	return sh("cmp -s '%s' '%s'", a, b) == 0;
}

/* The data extents as SEEK_DATA/SEEK_HOLE see them, as text. */
static char *data_map(const char *p)
{
	int fd = open(p, O_RDONLY);
	struct stat st;
	fstat(fd, &st);
	char *out = xstrdup("");
	off_t pos = 0;
	for (;;) {
		off_t d = lseek(fd, pos, SEEK_DATA);
		if (d < 0)
			break;
		off_t h = lseek(fd, d, SEEK_HOLE);
		char *n = xasprintf("%s[%lld,%lld)", out, (long long)d, (long long)h);
		free(out);
		out = n;
		pos = h;
		if (h >= st.st_size)
			break;
	}
	close(fd);
	return out;
}

static long long blocks(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (long long)st.st_blocks : -1;
}

struct hooked {
	atomic_bool cancel;
	int calls;
	int at;            /* act at this call */
	const char *truncate_path;
};

static void hook(void *arg, uint64_t pos)
{
	struct hooked *h = arg;
	if (++h->calls != h->at)
		return;
	if (h->truncate_path)
		CHECK(truncate(h->truncate_path, (off_t)pos) == 0);
	else
		atomic_store(&h->cancel, true);
}

/* Copies src to a new file dst with the allowed methods; returns the method or -1. */
static int copy(const char *src, const char *dst, unsigned methods, struct hooked *h,
		_Atomic uint64_t *progress, size_t chunk, struct err *err)
{
	int in = open(src, O_RDONLY);
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(in >= 0 && out >= 0);
	struct stat st;
	fstat(in, &st);
	struct disk_copy_ctl ctl = {
		.methods = methods,
		.cancel = h ? &h->cancel : NULL,
		.progress = progress,
		.hook = h ? hook : NULL,
		.hook_arg = h,
		.chunk = chunk,
	};
	int m = disk_copy_fd(in, out, (uint64_t)st.st_size, &ctl, err);
	int e = errno;
	close(in);
	close(out);
	errno = e;
	return m;
}

/* ---- sizes and names ------------------------------------------------------------------------ */

static void parse_size(void)
{
	uint64_t v;
	CHECK(disk_parse_size("4096", &v) == 0 && v == 4096);
	CHECK(disk_parse_size("10G", &v) == 0 && v == 10ull << 30);
	CHECK(disk_parse_size("10g", &v) == 0 && v == 10ull << 30);
	CHECK(disk_parse_size("512M", &v) == 0 && v == 512ull << 20);
	CHECK(disk_parse_size("1K", &v) == 0 && v == 1024);
	CHECK(disk_parse_size("2T", &v) == 0 && v == 2ull << 40);
	CHECK(disk_parse_size("20GiB", &v) == 0 && v == 20ull << 30);
	CHECK(disk_parse_size("20GB", &v) == 0 && v == 20ull << 30);
	CHECK(disk_parse_size("8388607T", &v) == 0);
	CHECK(disk_parse_size("8388608T", &v) < 0 && errno == ERANGE);
	CHECK(disk_parse_size("99999999999999999999", &v) < 0 && errno == ERANGE);
	const char *bad[] = {"", "0", "0G", "G", "-1G", " 1G", "1G ", "1.5G", "1X", "1GiBs",
			     "1iB", "0x10", "1 G", "+1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		int r = disk_parse_size(bad[i], &v);
		CHECK(r < 0 && errno == EINVAL);
		if (r == 0)
			fprintf(stderr, "  accepted: '%s'\n", bad[i]);
	}
}

static void temp_names(void)
{
	char *t = disk_temp_name("/srv/vm/web.img");
	CHECK(strncmp(t, "/srv/vm/.web.img.", 17) == 0);
	CHECK(strlen(t) == strlen("/srv/vm/.web.img.XXXXXX.vmdtmp"));
	CHECK(disk_is_temp_name(t));
	char *u = disk_temp_name("/srv/vm/web.img");
	CHECK(strcmp(t, u) != 0);
	free(t);
	free(u);
	CHECK(!disk_is_temp_name("/srv/vm/web.img"));
	CHECK(!disk_is_temp_name("/srv/vm/.vmdtmp"));
	CHECK(!disk_is_temp_name("/srv/vm/x.vmdtmp"));
	CHECK(!disk_is_temp_name("/etc/passwd"));
}

/* ---- the copy engine ----------------------------------------------------------------------- */

static const uint64_t OFFS[] = {0, 10 * MIB, 10 * MIB + 256 * 1024, 37 * MIB + 4096, 63 * MIB};

static void check_copy_method(unsigned methods, const char *tag)
{
	char *src = make_source("sparse.src", 64 * MIB, OFFS, 5, 64 * 1024);
	char *dst = path_of(tag);
	_Atomic uint64_t progress = 0;
	struct err err = {0};
	int m = copy(src, dst, methods, NULL, &progress, 0, &err);
	CHECK(m > 0);
	if (m < 0)
		fprintf(stderr, "  %s: %s\n", tag, err.msg);
	CHECK(same_content(src, dst));
	CHECK(atomic_load(&progress) == 64 * MIB);
	/* Holes stay holes: the same data map, no more blocks than the source. */
	char *ms = data_map(src), *md = data_map(dst);
	CHECK_STR(md, ms);
	CHECK(blocks(dst) <= blocks(src));
	CHECK(blocks(dst) < 64 * MIB / 512 / 4);
	struct stat st;
	CHECK(stat(dst, &st) == 0 && st.st_size == 64 * MIB);
	free(ms);
	free(md);
	unlink(dst);
	unlink(src);
	free(dst);
	free(src);
}

static void sparse_copy_keeps_holes(void)
{
	check_copy_method(DISK_COPY_ALL, "all.dst");
	check_copy_method(DISK_COPY_SPARSE, "sparse.dst");
	check_copy_method(DISK_COPY_RW, "rw.dst");
}

/* Blocks of zeros written as data in the source become holes with read/write. */
static void rw_copy_skips_zero_blocks(void)
{
	char *src = path_of("zeros.src"), *dst = path_of("zeros.dst");
	int fd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0644);
	char *zero = xcalloc(1, 8 * MIB);
	CHECK(write(fd, zero, 8 * MIB) == 8 * MIB); /* allocated zeros */
	put(fd, 4 * MIB, 4096);
	put(fd, 8 * MIB - 100, 100); /* a partial last block */
	fsync(fd);
	close(fd);
	free(zero);
	struct err err = {0};
	CHECK(copy(src, dst, DISK_COPY_RW, NULL, NULL, 64 * 1024, &err) ==
	      DISK_COPY_RW);
	CHECK(same_content(src, dst));
	CHECK(blocks(src) >= 8 * MIB / 512);
	CHECK(blocks(dst) <= 3 * 4096 / 512);
	unlink(src);
	unlink(dst);
	free(src);
	free(dst);
}

static void empty_and_all_hole(void)
{
	char *src = make_source("hole.src", 32 * MIB, NULL, 0, 0);
	char *dst = path_of("hole.dst");
	_Atomic uint64_t progress = 0;
	CHECK(copy(src, dst, 0, NULL, &progress, 0, NULL) > 0);
	CHECK(same_content(src, dst));
	CHECK(blocks(dst) == 0);
	CHECK(atomic_load(&progress) == 32 * MIB);
	unlink(src);
	unlink(dst);
	free(src);
	src = make_source("empty.src", 0, NULL, 0, 0);
	CHECK(copy(src, dst, 0, NULL, NULL, 0, NULL) > 0);
	struct stat st;
	CHECK(stat(dst, &st) == 0 && st.st_size == 0);
	unlink(src);
	unlink(dst);
	free(src);
	free(dst);
}

static void source_truncated_mid_copy(void)
{
	const unsigned methods[] = {DISK_COPY_SPARSE, DISK_COPY_RW};
	for (size_t i = 0; i < 2; i++) {
		char *src = make_source("trunc.src", 16 * MIB, (const uint64_t[]){0}, 1, 8 * MIB);
		char *dst = path_of("trunc.dst");
		struct hooked h = {.at = 2, .truncate_path = src};
		struct err err = {0};
		errno = 0;
		CHECK(copy(src, dst, methods[i], &h, NULL, MIB, &err) < 0);
		CHECK(errno == ESTALE);
		CHECK(strstr(err.msg, "changed") != NULL);
		unlink(src);
		unlink(dst);
		free(src);
		free(dst);
	}
	/* Growing is a change too (found at the end, whichever method). */
	char *src = make_source("grow.src", 4 * MIB, (const uint64_t[]){0}, 1, MIB);
	char *dst = path_of("grow.dst");
	int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0600);
	struct err err = {0};
	CHECK(truncate(src, 5 * MIB) == 0);
	errno = 0;
	CHECK(disk_copy_fd(in, out, 4 * MIB, NULL, &err) < 0 && errno == ESTALE);
	close(in);
	close(out);
	unlink(src);
	unlink(dst);
	free(src);
	free(dst);
}

static void cancel_between_chunks(void)
{
	const unsigned methods[] = {DISK_COPY_SPARSE, DISK_COPY_RW};
	for (size_t i = 0; i < 2; i++) {
		char *src = make_source("cancel.src", 16 * MIB, (const uint64_t[]){0}, 1, 16 * MIB);
		char *dst = path_of("cancel.dst");
		struct hooked h = {.at = 3};
		atomic_init(&h.cancel, false);
		_Atomic uint64_t progress = 0;
		struct err err = {0};
		errno = 0;
		CHECK(copy(src, dst, methods[i], &h, &progress, MIB, &err) < 0);
		CHECK(errno == ECANCELED);
		CHECK(h.calls == 3); /* stopped at the next check, not at the end */
		CHECK(atomic_load(&progress) == 3 * MIB);
		unlink(src);
		unlink(dst);
		free(src);
		free(dst);
	}
}

/* A read error is an error, not a reason to fall back (and never a silent short copy). */
static void unreadable_source(void)
{
	char *src = make_source("wo.src", MIB, (const uint64_t[]){0}, 1, MIB);
	char *dst = path_of("wo.dst");
	int in = open(src, O_WRONLY); /* not readable */
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0600);
	struct err err = {0};
	errno = 0;
	CHECK(disk_copy_fd(in, out, MIB, NULL, &err) < 0);
	CHECK(errno == EBADF);
	CHECK(err.msg[0] != '\0');
	close(in);
	close(out);
	unlink(src);
	unlink(dst);
	free(src);
	free(dst);
}

static void out_of_space(void)
{
	char *mnt = path_of("tiny");
	mkdir(mnt, 0700);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0) {
		skip("cannot mount a tmpfs (not root?)");
		rmdir(mnt);
		free(mnt);
		return;
	}
	char *src = make_source("big.src", 8 * MIB, (const uint64_t[]){0, 4 * MIB}, 2, 2 * MIB);
	char *dst = xasprintf("%s/copy", mnt);
	const unsigned methods[] = {DISK_COPY_ALL, DISK_COPY_RW};
	for (size_t i = 0; i < 2; i++) {
		struct err err = {0};
		errno = 0;
		CHECK(copy(src, dst, methods[i], NULL, NULL, 0, &err) < 0);
		CHECK(errno == ENOSPC);
		CHECK(strstr(err.msg, "No space") != NULL);
		unlink(dst);
	}
	/* disk_create is sparse: a 1 TiB image fits a 1 MiB file system. */
	char *img = xasprintf("%s/img", mnt);
	char *tmp = disk_temp_name(img);
	struct err err = {0};
	CHECK(disk_create(img, tmp, 1ull << 40, 0600, &err) == 0);
	CHECK(blocks(img) == 0);
	free(img);
	free(tmp);
	CHECK(umount(mnt) == 0);
	rmdir(mnt);
	unlink(src);
	free(src);
	free(dst);
	free(mnt);
}

/* FICLONE on XFS with reflink (a loop-mounted image): the copy shares the extents. */
static void reflink_on_xfs(void)
{
	char *img = path_of("xfs.img"), *mnt = path_of("xfs");
	mkdir(mnt, 0700);
	if (sh("truncate -s 512M '%s' && mkfs.xfs -q -m reflink=1 '%s' >/dev/null 2>&1 && "
	       "mount -o loop '%s' '%s' 2>/dev/null",
	       img, img, img, mnt) != 0) {
		skip("cannot make and mount an XFS loop file system (mkfs.xfs, root, loop)");
		unlink(img);
		rmdir(mnt);
		free(img);
		free(mnt);
		return;
	}
	char *src = xasprintf("%s/src", mnt), *dst = xasprintf("%s/dst", mnt);
	int fd = open(src, O_RDWR | O_CREAT, 0644);
	CHECK(ftruncate(fd, 256 * MIB) == 0);
	put(fd, 0, MIB);
	put(fd, 100 * MIB, MIB);
	fsync(fd);
	close(fd);
	_Atomic uint64_t progress = 0;
	struct err err = {0};
	CHECK(copy(src, dst, 0, NULL, &progress, 0, &err) == DISK_COPY_REFLINK);
	CHECK(same_content(src, dst));
	CHECK(atomic_load(&progress) == 256 * MIB);
	/* Shared extents: filefrag marks them "shared". */
	CHECK(sh("filefrag -v '%s' | grep -q shared", dst) == 0);
	unlink(dst);
	/* Without reflink the sparse copy takes over on the same file system. */
	CHECK(copy(src, dst, DISK_COPY_SPARSE | DISK_COPY_RW, NULL, NULL, 0, &err) > 0);
	CHECK(same_content(src, dst));
	char *ms = data_map(src), *md = data_map(dst);
	CHECK_STR(md, ms);
	free(ms);
	free(md);
	CHECK(sh("umount '%s'", mnt) == 0);
	rmdir(mnt);
	unlink(img);
	free(src);
	free(dst);
	free(img);
	free(mnt);
}

/* ---- creation and commits ------------------------------------------------------------------- */

static void create_never_replaces(void)
{
	char *img = path_of("new.img");
	char *tmp = disk_temp_name(img);
	struct err err = {0};
	CHECK(disk_create(img, tmp, 10ull << 30, 0600, &err) == 0);
	struct stat st;
	CHECK(stat(img, &st) == 0 && st.st_size == 10ll << 30 && (st.st_mode & 0777) == 0600);
	CHECK(st.st_blocks == 0);
	CHECK(access(tmp, F_OK) < 0);
	free(tmp);
	/* An existing file, a symlink (even dangling) and a directory stay as they are. */
	tmp = disk_temp_name(img);
	errno = 0;
	CHECK(disk_create(img, tmp, 4096, 0600, &err) < 0 && errno == EEXIST);
	CHECK(stat(img, &st) == 0 && st.st_size == 10ll << 30);
	CHECK(access(tmp, F_OK) < 0);
	char *link = path_of("dangling.img");
	CHECK(symlink("/nonexistent/x", link) == 0);
	errno = 0;
	CHECK(disk_create(link, tmp, 4096, 0600, &err) < 0 && errno == EEXIST);
	CHECK(access(tmp, F_OK) < 0);
	/* Too large for the file system: nothing left. */
	char *huge = path_of("huge.img");
	free(tmp);
	tmp = disk_temp_name(huge);
	CHECK(disk_create(huge, tmp, (uint64_t)INT64_MAX, 0600, &err) < 0);
	CHECK(access(huge, F_OK) < 0 && access(tmp, F_OK) < 0);
	/* A directory that does not exist. */
	char *nodir = path_of("nodir/x.img");
	free(tmp);
	tmp = disk_temp_name(nodir);
	CHECK(disk_create(nodir, tmp, 4096, 0600, &err) < 0 && errno == ENOENT);
	unlink(img);
	unlink(link);
	free(nodir);
	free(huge);
	free(link);
	free(tmp);
	free(img);
}

static void commit_never_replaces(void)
{
	char *fin = path_of("final.img"), *tmp = disk_temp_name(fin);
	int fd = open(fin, O_WRONLY | O_CREAT, 0600);
	CHECK(write(fd, "keep", 4) == 4);
	close(fd);
	fd = open(tmp, O_WRONLY | O_CREAT, 0600);
	close(fd);
	errno = 0;
	CHECK(disk_commit(tmp, fin) < 0 && errno == EEXIST);
	CHECK(access(tmp, F_OK) == 0);
	struct stat st;
	CHECK(stat(fin, &st) == 0 && st.st_size == 4);
	unlink(fin);
	CHECK(disk_commit(tmp, fin) == 0);
	CHECK(access(tmp, F_OK) < 0 && access(fin, F_OK) == 0);
	unlink(fin);
	free(fin);
	free(tmp);
}

/* ---- virt-sysprep (a stand-in) --------------------------------------------------------------- */

static char *fake_tool(const char *name, const char *body)
{
	char *p = path_of(name);
	FILE *f = fopen(p, "w");
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(p, 0755);
	return p;
}

/* Waits (up to 10 s) for pid to be dead. A killed process whose parent died too is a zombie
 * until PID 1 reaps it, and a container's PID 1 may take its time: a zombie counts as dead. */
static bool process_gone(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 200; i++) {
		char *st = read_file(path, 4096, NULL);
		if (!st)
			return true;
		const char *rp = strrchr(st, ')');
		bool dead = rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
		free(st);
		if (dead)
			return true;
		usleep(50000);
	}
	return false;
}

static void sysprep_args_and_errors(void)
{
	char *args = path_of("sysprep.args");
	char *body = xasprintf("for a in \"$@\"; do echo \"$a\"; done > '%s'", args);
	char *ok = fake_tool("sysprep-ok", body);
	free(body);
	struct disk_sysprep_image img[] = {{"/srv/a.img", NULL}, {"/srv/b.qcow2", "qcow2"}};
	struct err err = {0};
	CHECK(disk_sysprep(ok, img, 2, "web2", NULL, &err) == 0);
	size_t len;
	char *got = read_file(args, 4096, &len);
	CHECK(got != NULL);
	char *want = xasprintf("--quiet\n--format\nraw\n-a\n/srv/a.img\n--format\nqcow2\n-a\n"
			       "/srv/b.qcow2\n--operations\n%s\n--hostname\nweb2\n"
			       "--firstboot-command\n%s\n",
			       DISK_SYSPREP_OPS, DISK_SYSPREP_FIRSTBOOT);
	CHECK_STR(got, want);
	free(got);
	free(want);

	char *bad = fake_tool("sysprep-bad",
			      "echo 'virt-sysprep: warning: something'\n"
			      "echo 'virt-sysprep: error: no operating systems were found' >&2\n"
			      "echo\necho 'If reporting bugs, run virt-sysprep with debugging'\n"
			      "exit 1");
	errno = 0;
	CHECK(disk_sysprep(bad, img, 1, "web2", NULL, &err) < 0);
	CHECK(errno == EIO);
	CHECK(strstr(err.msg, "exit status 1") != NULL);
	CHECK(strstr(err.msg, "no operating systems were found") != NULL);

	char *missing = path_of("no-such-tool");
	CHECK(disk_sysprep(missing, img, 1, "web2", NULL, &err) < 0);
	CHECK(disk_find_program(missing) == NULL);
	char *found = disk_find_program("sh");
	CHECK(found && found[0] == '/');
	free(found);
	CHECK(disk_find_program("vmd-no-such-program-here") == NULL);

	/* A cancel stops it (and its children: the whole process group). */
	char *pidfile = path_of("sysprep.child");
	body = xasprintf("sleep 300 & echo $! > '%s'; wait", pidfile);
	char *slow = fake_tool("sysprep-slow", body);
	free(body);
	atomic_bool cancel = true;
	errno = 0;
	CHECK(disk_sysprep(slow, img, 1, "web2", &cancel, &err) < 0);
	CHECK(errno == ECANCELED);
	char *pid = read_file(pidfile, 64, NULL);
	if (pid) /* the grandchild is gone too (killed with its process group) */
		CHECK(process_gone(atoi(pid)));
	free(pid);
	unlink(args);
	unlink(ok);
	unlink(bad);
	unlink(slow);
	unlink(pidfile);
	free(pidfile);
	free(slow);
	free(missing);
	free(bad);
	free(ok);
	free(args);
}

/* ---- job journal recovery ------------------------------------------------------------------- */

static void write_text(const char *p, const char *text)
{
	CHECK(write_file_atomic(p, text, strlen(text), 0600) == 0);
}

static void journal_recovery(void)
{
	struct daemon d = {0};
	d.state_dir = path_of("state");
	d.base = event_base_new();
	vm_registry_init(&d);
	CHECK(store_open(&d.store, d.state_dir) == 0);
	CHECK(job_system_init(&d) == 0);

	char *tmp1 = path_of(".lost.img.AAAAAA.vmdtmp");  /* a temp file: goes */
	char *fin1 = path_of("lost.img");                  /* renamed, never defined: goes */
	char *fin2 = path_of("other.img");                 /* same name, another inode: stays */
	char *fin3 = path_of("kept.img");                  /* its guest is stored: stays */
	char *fin4 = path_of("created.img");               /* disk.create (no guest): stays */
	char *notmp = path_of("precious");                 /* not a temp name: stays */
	const char *all[] = {tmp1, fin1, fin2, fin3, fin4, notmp};
	for (size_t i = 0; i < 6; i++)
		write_text(all[i], "x");
	struct stat s1, s3, s4;
	stat(fin1, &s1);
	stat(fin3, &s3);
	stat(fin4, &s4);
	char *j1 = xasprintf(
		"{\"vmd_job\":1,\"id\":\"00000001\",\"kind\":\"vm.clone\",\"guest\":\"lost\","
		"\"files\":[{\"tmp\":\"%s\",\"final\":\"%s/x.img\"},"
		"{\"tmp\":\"%s/.lost.img.BBBBBB.vmdtmp\",\"final\":\"%s\",\"dev\":%llu,"
		"\"ino\":%llu},"
		"{\"tmp\":\"%s\",\"final\":\"%s\",\"dev\":%llu,\"ino\":%llu}]}",
		tmp1, dir, dir, fin1, (unsigned long long)s1.st_dev, (unsigned long long)s1.st_ino,
		notmp, fin2, (unsigned long long)s1.st_dev, (unsigned long long)s1.st_ino + 1000);
	char *j2 = xasprintf("{\"vmd_job\":1,\"id\":\"00000002\",\"kind\":\"vm.clone\","
			     "\"guest\":\"stored\",\"files\":[{\"tmp\":"
			     "\"%s/.kept.img.CCCCCC.vmdtmp\","
			     "\"final\":\"%s\",\"dev\":%llu,\"ino\":%llu}]}",
			     dir, fin3, (unsigned long long)s3.st_dev,
			     (unsigned long long)s3.st_ino);
	char *j3 = xasprintf("{\"vmd_job\":1,\"id\":\"00000003\",\"kind\":\"disk.create\","
			     "\"guest\":null,\"files\":[{\"tmp\":\"%s/.created.img.DDDDDD.vmdtmp\","
			     "\"final\":\"%s\",\"dev\":%llu,\"ino\":%llu}]}",
			     dir, fin4, (unsigned long long)s4.st_dev,
			     (unsigned long long)s4.st_ino);
	char *p1 = xasprintf("%s/jobs/00000001.json", d.state_dir);
	char *p2 = xasprintf("%s/jobs/00000002.json", d.state_dir);
	char *p3 = xasprintf("%s/jobs/00000003.json", d.state_dir);
	char *p4 = xasprintf("%s/jobs/junk.json", d.state_dir);
	char *p5 = xasprintf("%s/jobs/.00000004.json.XYZXYZ.tmp", d.state_dir);
	char *g = xasprintf("%s/stored.json", d.store.dir);
	write_text(p1, j1);
	write_text(p2, j2);
	write_text(p3, j3);
	write_text(p4, "{\"not\": \"a journal\"}");
	write_text(p5, "{");
	write_text(g, "{}");

	job_recover(&d, vm_owns_file);
	CHECK(access(tmp1, F_OK) < 0);
	CHECK(access(fin1, F_OK) < 0);
	CHECK(access(fin2, F_OK) == 0);
	CHECK(access(fin3, F_OK) == 0);
	CHECK(access(fin4, F_OK) == 0);
	CHECK(access(notmp, F_OK) == 0);
	CHECK(access(p1, F_OK) < 0 && access(p2, F_OK) < 0 && access(p3, F_OK) < 0);
	CHECK(access(p4, F_OK) == 0); /* not ours to judge: left, and logged */
	CHECK(access(p5, F_OK) < 0);

	for (size_t i = 0; i < 6; i++)
		unlink(all[i]);
	unlink(p4);
	unlink(g);
	job_system_shutdown(&d);
	vm_life_end(&d);
	vm_registry_finish(&d);
	store_close(&d.store);
	event_base_free(d.base);
	sh("rm -rf '%s'", d.state_dir);
	free(d.state_dir);
	free(tmp1);
	free(fin1);
	free(fin2);
	free(fin3);
	free(fin4);
	free(notmp);
	free(j1);
	free(j2);
	free(j3);
	free(p1);
	free(p2);
	free(p3);
	free(p4);
	free(p5);
	free(g);
}

int main(void)
{
	log_init(LOG_LVL_ERROR, 0);
	/* /var/tmp, not /tmp: /tmp is a tmpfs on many hosts, whose SEEK_DATA and
	 * copy_file_range are not those of the disks where images live. */
	snprintf(dir, sizeof dir, "/var/tmp/test-disk.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(parse_size);
	RUN(temp_names);
	RUN(sparse_copy_keeps_holes);
	RUN(rw_copy_skips_zero_blocks);
	RUN(empty_and_all_hole);
	RUN(source_truncated_mid_copy);
	RUN(cancel_between_chunks);
	RUN(unreadable_source);
	RUN(out_of_space);
	RUN(reflink_on_xfs);
	RUN(create_never_replaces);
	RUN(commit_never_replaces);
	RUN(sysprep_args_and_errors);
	RUN(journal_recovery);
	sh("rm -rf '%s'", dir);
	TEST_DONE();
}
