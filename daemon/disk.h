/*
 * disk.h: disk images: sizes as people write them, sparse creation, and the copy engine that
 * vm.clone uses.
 *
 * Everything here does blocking I/O and is meant for worker threads (job.h), never for the
 * event loop. Nothing here touches libevent or jansson: callers pass plain data in and get
 * plain data (and errno) back.
 *
 * Images appear under their final name only when complete: they are written to a temporary
 * file in the target's directory (".<name>.XXXXXX.vmdtmp"), synced, and renamed without ever
 * replacing an existing file (renameat2 RENAME_NOREPLACE, or link+unlink where the file
 * system lacks it). The caller records the temporary name in a job journal before the file
 * is created, so a daemon killed mid-copy can remove it at its next start.
 *
 * The copy engine tries, in order: FICLONE (a reflink: the file systems share the extents
 * copy-on-write; XFS with reflink=1, btrfs), then a sparse copy that walks the source's data
 * with SEEK_DATA/SEEK_HOLE and moves each extent with copy_file_range (holes stay holes and
 * the kernel moves the bytes), then plain pread/pwrite that still skips blocks of zeros.
 * Each step falls back to the next only when the kernel or file system says it cannot do it
 * (EOPNOTSUPP, EXDEV, ...), never after a real I/O error.
 */
#ifndef VMD_DISK_H
#define VMD_DISK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Copy methods, as flags: which ones a copy may use, and which one it used. */
enum disk_copy_method {
	DISK_COPY_REFLINK = 1 << 0, /* FICLONE */
	DISK_COPY_SPARSE = 1 << 1,  /* SEEK_DATA/SEEK_HOLE + copy_file_range */
	DISK_COPY_RW = 1 << 2,      /* pread/pwrite, zero blocks left as holes */
};
#define DISK_COPY_ALL (DISK_COPY_REFLINK | DISK_COPY_SPARSE | DISK_COPY_RW)

/* Bytes moved per step: between steps the copy checks for cancellation and reports progress.
 * At disk speeds (0.1-2 GB/s) this is a few ms to 100 ms per step. */
#define DISK_COPY_CHUNK (8u << 20)

#define DISK_TMP_SUFFIX ".vmdtmp"

struct disk_copy_ctl {
	unsigned methods;          /* allowed methods; 0 means all (tests force fallbacks) */
	const atomic_bool *cancel; /* may be NULL; once true the copy stops (ECANCELED) */
	_Atomic uint64_t *progress; /* may be NULL; bytes of the source handled are added to it
				     * (holes count: the total is the image size) */
	/* May be NULL: called in the copying thread after each step with the source offset
	 * reached (tests use it to change the source under the copy). */
	void (*hook)(void *arg, uint64_t pos);
	void *hook_arg;
	size_t chunk;              /* bytes per step; 0 means DISK_COPY_CHUNK */
	/* Data bytes per second at most (holes and reflinks are free); 0 means no limit. A
	 * clone at full speed can starve the running guests' disk I/O (vmd --copy-rate). */
	uint64_t rate;
};

/* Parses a size: a decimal number of bytes, optionally followed by K, M, G or T (powers of
 * 1024; lower case too, and "KiB"/"KB"-style spellings). 0 / -1 with errno EINVAL (not a
 * size, or 0) or ERANGE (beyond what a file can be: 2^63 - 1 bytes). */
int disk_parse_size(const char *s, uint64_t *out);

/* "reflink", "sparse", "readwrite" (one flag), or "none". */
const char *disk_copy_method_name(int method);

/* Copies size bytes of the regular file open at in (size as the caller fstat'ed it) into
 * out, an empty regular file opened for writing. Returns the method used (one flag), or -1
 * with errno: ECANCELED when cancelled, ESTALE when the source changed size during the copy,
 * or the error of the failing call (ENOSPC, EIO, ...). err (may be NULL) gets a message
 * naming the failing step. Does not fsync. */
int disk_copy_fd(int in, int out, uint64_t size, const struct disk_copy_ctl *ctl,
		 struct err *err);

/* Does errno e of a copy step mean the kernel or file system cannot do it (rather than an
 * I/O error): EOPNOTSUPP, ENOTTY, EXDEV, EINVAL, ENOSYS? */
bool disk_copy_unsupported(int e);
/* A temporary name for final in final's directory: "<dir>/.<base>.XXXXXX.vmdtmp" with six
 * random characters. malloc'ed. */
char *disk_temp_name(const char *final);
/* True if path's last component looks like a disk_temp_name (what recovery may delete). */
bool disk_is_temp_name(const char *path);

/* Renames tmp to final unless final exists (then -1 with EEXIST and tmp is left alone).
 * The caller syncs the directory (disk_fsync_dir) once all its renames are done.
 * 0 / -1 with errno. */
int disk_commit(const char *tmp, const char *final);
/* fsync of the directory that holds path. 0 / -1 with errno. */
int disk_fsync_dir(const char *path);

/* Creates path as a sparse file of size bytes with mode, through tmp (a disk_temp_name the
 * caller has journaled): create tmp exclusively, set its size, fsync, disk_commit. Never
 * replaces an existing path (EEXIST). On failure nothing is left behind. 0 / -1 with errno;
 * err (may be NULL) gets a message naming the failing step. */
int disk_create(const char *path, const char *tmp, uint64_t size, unsigned mode,
		struct err *err);

/* The program's path: prog itself when it contains a '/', else the first executable of that
 * name in $PATH. malloc'ed, or NULL when there is none. */
char *disk_find_program(const char *prog);
/* Runs argv[0] (a path) to its end, blocking (a worker's tools; ip and nft, quick, in the
 * loop): 0 when it exited 0, else -1 with err BACKEND "NAME failed (exit status N): " and its
 * reason (its first "error:" line, else its last). */
int disk_run_tool(const char *name, const char *const *argv, struct err *err);

/* What virt-sysprep is asked to do to a clone's images: a new machine-id (systemd makes one
 * at boot; DHCP client ids derive from it), no SSH host keys (regenerated at first boot by the
 * firstboot command below: Debian does not do it by itself), no DHCP leases or persistent
 * MAC-bound interface names of the source, and the new hostname ("customize"). Nothing that
 * users made (home directories, authorized_keys, logs) is touched, unlike virt-sysprep's
 * defaults. */
#define DISK_SYSPREP_OPS \
	"machine-id,ssh-hostkeys,net-hwaddr,dhcp-client-state,udev-persistent-net,customize"
#define DISK_SYSPREP_FIRSTBOOT \
	"ssh-keygen -A && { systemctl restart ssh || systemctl restart sshd || true; }"

struct disk_sysprep_image {
	const char *path;
	const char *format; /* "raw", "qcow2", ...; NULL = raw */
};

/* Runs prog (virt-sysprep) on the images of one guest, all at once (a guest's file systems
 * may span its disks), with DISK_SYSPREP_OPS and --hostname. Its output is kept for the
 * error message. When cancel becomes true its process group is killed. 0, or -1 with errno
 * (ECANCELED when cancelled) and err holding the reason (the tool's "error:" line). */
int disk_sysprep(const char *prog, const struct disk_sysprep_image *images, size_t n,
		 const char *hostname, const atomic_bool *cancel, struct err *err);

/* What the first bytes of a disk image say (vm.create with an image, image.add). */
struct disk_image {
	bool qcow2;
	uint64_t file_size;    /* the file's bytes */
	uint64_t virtual_size; /* the disk's: a qcow2 header's, else the file's size */
	bool has_backing;      /* a qcow2 with a backing file of its own */
};
/* Probes the image open at fd (path: for messages). A raw image must start as every cloud
 * image does: with a partition table (the boot signature 0x55AA of an MBR, GPT's protective
 * one included) or an ext2/3/4 file system. 0 with out filled, or -1 with err
 * (INVALID_PARAMS: not a regular file, not a disk image; IO: a read failed). */
int disk_image_probe(int fd, const char *path, struct disk_image *out, struct err *err);
/* The backing file a qcow2 image names (its header's, as written: maybe relative), or NULL
 * (not qcow2, none, unreadable). malloc'ed. */
char *disk_qcow2_backing(const char *path);

/* qemu-img check of a qcow2 image: 0 when whole (leaked clusters, lost space but no data, are
 * fine), else -1 with err (INVALID_PARAMS: damaged or truncated; NOT_SUPPORTED: no qemu-img). */
int disk_qcow2_check(const char *image, struct err *err);

/* qemu-img snapshot FLAG TAG IMAGE: an internal snapshot of a qcow2 image made (-c),
 * applied (-a) or deleted (-d); with tag NULL, the list (-l IMAGE) in *out (malloc'ed).
 * Blocks until it is done. 0, or -1 with err (NOT_SUPPORTED: no qemu-img here). */
int disk_qcow2_snapshot(const char *flag, const char *tag, const char *image, char **out,
			struct err *err);

#endif
