/*
 * iso.c: see iso.h.
 *
 * libiso9660 (libcdio 2.1.0, Debian 12) opens the image, checks its volume descriptors and
 * detects Joliet, and every byte of the image is read through iso9660_iso_seek_read. The
 * directory walk is ours, not iso9660_ifs_stat_translate / iso9660_ifs_readdir, because in
 * 2.1.0 those are not fit for an untrusted image:
 *   - a directory record claiming 0xffffffff bytes makes them calloc(secsize * 2048), which
 *     wraps to 0 in 32 bits, and then read the rest of the image into that buffer (a heap
 *     overflow; fixed upstream in 2024, after 2.1.0);
 *   - a record's name is copied before its length is checked against the record, so a
 *     record at the end of a block reads past the buffer;
 *   - with Joliet present they walk the Joliet tree only, so Rock Ridge names are unused,
 *     and every lookup is case-sensitive while plain ISO 9660 names are upper case
 *     ("VMLINUZ.;1" is found as "vmlinuz", never as "VMLINUZ").
 * Our walk reads each directory in one bounded piece, checks every record against its
 * block and the directory, and matches names case-insensitively: the Rock Ridge name when
 * the image has Rock Ridge, else the Joliet name, else the ISO 9660 name without its
 * ";1" version and trailing dot.
 *
 * Nothing is cached between calls and there is no state outside the call but one: libcdio's
 * log threshold (see quiet_libcdio).
 */
#include "iso.h"

#include <cdio/iso9660.h>
#include <cdio/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "vmd-proto.h"

#define BLOCK 2048u
#define CHUNK (1024u * 1024u)        /* one read/write of iso_extract */
/* A directory is read whole; no installer image comes near this (~10000 entries), and only
 * its first DIR_MAX bytes are looked at. */
#define DIR_MAX (1024u * 1024u)
/* What one iso_find_installer may read in directories: about 40 lookups of a few levels each
 * stay far below, a hostile image with 1 MiB directories stops here instead of reading for
 * minutes. */
#define DIR_BUDGET (64ull * 1024 * 1024)
#define CFG_MAX (256u * 1024u)       /* boot menus: only their first 256 KiB are parsed */
#define MENU_MAX_ENTRIES 64          /* menu entries tried, over all menus */
#define VD_MAX 64                    /* volume descriptors read before giving up */
#define NAME_MAX_LEN 255             /* longest name matched (Rock Ridge allows 255) */
#define EXTENTS_MAX 8                /* multi-extent files: parts followed */
#define CE_MAX 4                     /* Rock Ridge continuation areas followed per record */

/* Directory record flags (ECMA-119 9.1.6). */
#define FLAG_DIR 0x02
#define FLAG_ASSOCIATED 0x04
#define FLAG_MULTI_EXTENT 0x80

struct candidate {
	const char *kernel;
	const char *initrd[4]; /* alternatives, in order; NULL-terminated */
	const char *source;
};

/* Distributions whose kernel boots as a Xen PV guest, the PV-specific build first. */
static const struct candidate ISO_CANDIDATES[] = {
	{"/install.amd/xen/vmlinuz", {"/install.amd/xen/initrd.gz"}, "debian-xen"},
	{"/install.386/xen/vmlinuz", {"/install.386/xen/initrd.gz"}, "debian-xen-386"},
	{"/install.amd/vmlinuz", {"/install.amd/initrd.gz"}, "debian"},
	{"/casper/vmlinuz", {"/casper/initrd", "/casper/initrd.gz", "/casper/initrd.lz"}, "ubuntu"},
	{"/install/vmlinuz", {"/install/initrd.gz"}, "debian-install"},
	{"/images/pxeboot/vmlinuz", {"/images/pxeboot/initrd.img"}, "fedora"},
	{"/isolinux/vmlinuz", {"/isolinux/initrd.img"}, "rhel-isolinux"},
	{"/boot/x86_64/loader/linux", {"/boot/x86_64/loader/initrd"}, "opensuse"},
	{"/boot/vmlinuz-virt", {"/boot/initramfs-virt"}, "alpine-virt"},
	{"/boot/vmlinuz-lts", {"/boot/initramfs-lts"}, "alpine-lts"},
	{"/arch/boot/x86_64/vmlinuz-linux", {"/arch/boot/x86_64/initramfs-linux.img"}, "arch"},
};
#define N_CANDIDATES (sizeof ISO_CANDIDATES / sizeof ISO_CANDIDATES[0])

enum menu_kind { MENU_ISOLINUX, MENU_GRUB };

static const struct {
	const char *path;
	enum menu_kind kind;
	const char *source;
} MENUS[] = {
	{"/isolinux/isolinux.cfg", MENU_ISOLINUX, "isolinux.cfg"},
	{"/isolinux/txt.cfg", MENU_ISOLINUX, "txt.cfg"},
	{"/syslinux/syslinux.cfg", MENU_ISOLINUX, "syslinux.cfg"},
	{"/boot/grub/grub.cfg", MENU_GRUB, "grub.cfg"},
};
#define N_MENUS (sizeof MENUS / sizeof MENUS[0])

enum names { NAMES_ISO, NAMES_ROCK_RIDGE, NAMES_JOLIET };

struct image {
	const char *path; /* for messages */
	int fd;
	iso9660_t *iso;
	uint64_t blocks; /* image size in blocks, a partial last block counted */
	uint64_t bytes;
	uint32_t root_lsn, root_size;
	enum names names;
	unsigned susp_skip; /* Rock Ridge: bytes to skip in each system use area (SP LEN_SKP) */
	uint64_t dir_budget;
	struct err *err;
};

/* A file or directory found by a lookup. */
struct node {
	bool dir;
	bool regular; /* a file we may read: not a symlink, device, or damaged multi-extent */
	uint64_t size;
	unsigned n_ext;
	struct {
		uint32_t lsn, size;
	} ext[EXTENTS_MAX];
};


/* Sets errno to e and the message; returns -1. */
static int fail(struct image *im, int e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct image *im, int e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_setv(im->err, VMD_ERR_IO, fmt, ap);
	va_end(ap);
	errno = e;
	return -1;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive equality, independent of the locale. */
static bool same_name(const char *a, const char *b, size_t blen)
{
	size_t i;
	for (i = 0; i < blen; i++)
		if (a[i] == '\0' || lower(a[i]) != lower(b[i]))
			return false;
	return a[i] == '\0';
}

/* ---- libcdio ------------------------------------------------------------------------------ */

/*
 * libcdio logs through one process-wide handler. The default one writes warnings to stdout,
 * calls exit() on CDIO_LOG_ERROR (which its stdio stream raises for a failed fseeko or
 * fread), calls abort() on its internal assertions (some of which a damaged image trips), and
 * guards itself with a static flag that fails assert(0) when two threads log at the same
 * time. A threshold above every level makes cdio_log return before any of that. This is the
 * one process-wide setting iso.c makes; vmd has no other libcdio user.
 */
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

static void quiet_libcdio(void)
{
	cdio_loglevel_default = (cdio_log_level_t)(CDIO_LOG_ASSERT + 1);
}

/*
 * Reads n blocks at lsn into buf (n * BLOCK bytes); need is how many of them must be there
 * (the last block of a file need not be whole at the very end of an image). The range is
 * checked against the image first: libiso9660 takes lsn as a signed 32-bit number, and a
 * read past the end would only come back short. 0, or -1 with EIO.
 */
static int read_blocks(struct image *im, void *buf, uint32_t lsn, uint32_t n, size_t need,
		       const char *what)
{
	if ((uint64_t)lsn + n > im->blocks || (uint64_t)lsn + n > INT32_MAX)
		return fail(im, EIO,
			    "ISO image %s is truncated or damaged: %s lies beyond its end "
			    "(block %u, image has %llu)",
			    im->path, what, lsn, (unsigned long long)im->blocks);
	long got = iso9660_iso_seek_read(im->iso, buf, (lsn_t)lsn, (long)n);
	if (got < 0 || (uint64_t)got < need)
		return fail(im, EIO,
			    "ISO image %s: short read of %s at block %u (truncated or unreadable)",
			    im->path, what, lsn);
	return 0;
}

/* ---- opening ------------------------------------------------------------------------------ */

static bool joliet_escape(const uint8_t *vd)
{
	/* UCS-2 levels 1-3: "%/@", "%/C", "%/E" at offset 88 of a supplementary descriptor. */
	return vd[88] == 0x25 && vd[89] == 0x2f &&
	       (vd[90] == 0x40 || vd[90] == 0x43 || vd[90] == 0x45);
}

/* Whether the root directory's first record ("." ) starts with the SUSP "SP" entry, which is
 * how an image announces Rock Ridge (SUSP 5.3); sets the skip length it carries. */
static int detect_rock_ridge(struct image *im, bool *rr)
{
	uint8_t buf[BLOCK];
	*rr = false;
	if (im->root_size == 0)
		return 0;
	if (read_blocks(im, buf, im->root_lsn, 1, BLOCK, "the root directory") < 0)
		return -1;
	unsigned len = buf[0], nlen = buf[32];
	unsigned su = 33 + nlen + (nlen % 2 == 0);
	if (len < 34 || su + 7 > len)
		return 0;
	const uint8_t *sp = buf + su;
	if (sp[0] == 'S' && sp[1] == 'P' && sp[2] >= 7 && sp[4] == 0xbe && sp[5] == 0xef) {
		*rr = true;
		im->susp_skip = sp[6];
	}
	return 0;
}

static void image_close(struct image *im)
{
	if (im->iso)
		iso9660_close(im->iso);
	if (im->fd >= 0)
		close(im->fd);
	im->iso = NULL;
	im->fd = -1;
}

/*
 * Opens path and checks it is an ISO 9660 image before libiso9660 sees it: the open(2) errno
 * is kept (ENOENT says the image is missing), and a file that is not an image gives EINVAL
 * here rather than a NULL from iso9660_open_ext that could mean anything. O_NONBLOCK so that
 * a FIFO cannot block the open; it is refused right after.
 *
 * libiso9660 then opens /proc/self/fd/N, the very file we checked even if path is replaced
 * meanwhile. It opens it with fopen(), without O_CLOEXEC, so a child spawned by another
 * thread meanwhile inherits a read-only descriptor of the image until it execs something that
 * closes it; there is no way to pass libiso9660 a descriptor or flags.
 */
static int image_open(struct image *im, const char *path, struct err *err)
{
	*im = (struct image){.path = path, .fd = -1, .dir_budget = DIR_BUDGET, .err = err};
	pthread_once(&quiet_once, quiet_libcdio);

	im->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (im->fd < 0) {
		if (errno == ENOENT)
			err_set(err, VMD_ERR_IO, "ISO image %s does not exist", path);
		else
			err_set(err, VMD_ERR_IO, "cannot open ISO image %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(im->fd, &st) < 0) {
		err_set(err, VMD_ERR_IO, "cannot stat ISO image %s: %s", path, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		err_set(err, VMD_ERR_IO, "ISO image %s is a directory", path);
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		im->bytes = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		/* A CD drive or a loop device: its size is not in st_size. */
		if (ioctl(im->fd, BLKGETSIZE64, &im->bytes) < 0) {
			err_set(err, VMD_ERR_IO, "cannot get the size of %s: %s", path, strerror(errno));
			goto fail;
		}
	} else {
		errno = EINVAL;
		err_set(err, VMD_ERR_IO, "ISO image %s is neither a regular file nor a block device",
		       path);
		goto fail;
	}
	im->blocks = (im->bytes + BLOCK - 1) / BLOCK;

	/* The volume descriptor set from sector 16: the primary, then any supplementary (Joliet)
	 * ones, up to the terminator. libiso9660 reads the same set until it finds the terminator
	 * or a read fails, so an image without one within VD_MAX is refused here. */
	uint8_t pvd[BLOCK] = {0}, vd[BLOCK] = {0}, joliet_root[34] = {0};
	bool have_joliet = false, terminated = false;
	for (unsigned i = 0; i < VD_MAX; i++) {
		uint8_t *p = i == 0 ? pvd : vd;
		ssize_t n = pread(im->fd, p, BLOCK, (off_t)(16 + i) * BLOCK);
		if (n < 0) {
			err_set(err, VMD_ERR_IO, "cannot read ISO image %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n != BLOCK || memcmp(p + 1, "CD001", 5) != 0 || p[6] != 1)
			break;
		if (i == 0 && p[0] != 1)
			break; /* the first descriptor must be the primary one */
		if (p[0] == 255) {
			terminated = true;
			break;
		}
		if (p[0] == 2 && !have_joliet && joliet_escape(p)) {
			memcpy(joliet_root, p + 156, sizeof joliet_root);
			have_joliet = true;
		}
	}
	if (!terminated) {
		errno = EINVAL;
		err_set(err, VMD_ERR_IO, "%s is not an ISO 9660 image", path);
		goto fail;
	}
	/* Logical block size (both-endian 16 bits at 128): everything in use is 2048. */
	unsigned block = (unsigned)(pvd[128] | pvd[129] << 8);
	if (block != BLOCK) {
		errno = EINVAL;
		err_set(err, VMD_ERR_IO,
		       "ISO image %s has logical blocks of %u bytes (only 2048 supported)", path,
		       block);
		goto fail;
	}

	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", im->fd);
	im->iso = iso9660_open_ext(self, ISO_EXTENSION_ALL);
	if (!im->iso) {
		errno = EIO;
		err_set(err, VMD_ERR_IO, "libiso9660 cannot open ISO image %s", path);
		goto fail;
	}

	/* Which tree to walk: Rock Ridge names are the real ones (any length, any case); Joliet
	 * names come next (64 UCS-2 characters); plain ISO 9660 names last (upper case, 8.3 at
	 * level 1, so "vmlinuz-virt" may be "VMLINUZ_.;1" and not findable at all). */
	im->root_lsn = le32(pvd + 156 + 2);
	im->root_size = le32(pvd + 156 + 10);
	bool rr;
	if (detect_rock_ridge(im, &rr) < 0)
		goto fail;
	if (rr) {
		im->names = NAMES_ROCK_RIDGE;
	} else if (have_joliet && iso9660_ifs_get_joliet_level(im->iso) > 0) {
		im->names = NAMES_JOLIET;
		im->root_lsn = le32(joliet_root + 2);
		im->root_size = le32(joliet_root + 10);
	} else {
		im->names = NAMES_ISO;
	}
	return 0;

fail:;
	int e = errno;
	image_close(im);
	errno = e;
	return -1;
}

/* ---- names -------------------------------------------------------------------------------- */

struct rr {
	char name[NAME_MAX_LEN + 1];
	size_t name_len;
	bool has_name, name_bad;
	bool has_mode;
	uint32_t mode;
	bool symlink, relocated, child_link;
};

/* Walks one system use area (SUSP 4, 5) and the continuation areas it chains to. */
static void parse_susp(struct image *im, const uint8_t *su, size_t len, struct rr *rr)
{
	uint8_t ce_buf[BLOCK];
	for (unsigned hops = 0;; hops++) {
		uint32_t ce_lsn = 0, ce_off = 0, ce_len = 0;
		bool ce = false;
		while (len >= 4) {
			unsigned elen = su[2];
			if (elen < 4 || elen > len)
				break;
			const uint8_t *e = su;
			if (e[0] == 'S' && e[1] == 'T') {
				break;
			} else if (e[0] == 'N' && e[1] == 'M' && elen >= 5) {
				/* Flags 2 and 4: "." and ".."; 1: more NM entries follow. */
				if (e[4] & 0x06)
					goto next;
				size_t n = elen - 5;
				if (rr->name_len + n > NAME_MAX_LEN) {
					rr->name_bad = true;
					goto next;
				}
				memcpy(rr->name + rr->name_len, e + 5, n);
				rr->name_len += n;
				rr->name[rr->name_len] = '\0';
				rr->has_name = true;
			} else if (e[0] == 'P' && e[1] == 'X' && elen >= 36) {
				rr->has_mode = true;
				rr->mode = le32(e + 4);
			} else if (e[0] == 'S' && e[1] == 'L') {
				rr->symlink = true;
			} else if (e[0] == 'R' && e[1] == 'E') {
				rr->relocated = true;
			} else if (e[0] == 'C' && e[1] == 'L') {
				rr->child_link = true;
			} else if (e[0] == 'C' && e[1] == 'E' && elen >= 28) {
				ce = true;
				ce_lsn = le32(e + 4);
				ce_off = le32(e + 12);
				ce_len = le32(e + 20);
			}
		next:
			su += elen;
			len -= elen;
		}
		/* A continuation area lies within one block; a broken one ends the walk quietly
		 * (the record keeps what was found so far). */
		if (!ce || hops >= CE_MAX || ce_off >= BLOCK || ce_len > BLOCK - ce_off)
			return;
		struct err *saved = im->err;
		im->err = NULL; /* a failed read of it is not the caller's error */
		int r = read_blocks(im, ce_buf, ce_lsn, 1, ce_off + ce_len, "a continuation area");
		im->err = saved;
		if (r < 0)
			return;
		su = ce_buf + ce_off;
		len = ce_len;
	}
}

/* Drops a ";version" suffix and then one trailing dot ("VMLINUZ.;1" -> "VMLINUZ"). */
static void strip_version(char *name, size_t *len)
{
	char *semi = memchr(name, ';', *len);
	if (semi) {
		*len = (size_t)(semi - name);
		name[*len] = '\0';
	}
	if (*len > 1 && name[*len - 1] == '.')
		name[--*len] = '\0';
}

/*
 * The name of record r (of length len) as we match it, into name[NAME_MAX_LEN * 3 + 1].
 * Returns false when the record cannot be matched at all (a name with NUL or '/', a Rock
 * Ridge name too long, a relocated directory's stand-in).
 */
static bool record_name(struct image *im, const uint8_t *r, unsigned len, char *name,
			struct rr *rr)
{
	unsigned nlen = r[32];
	const uint8_t *id = r + 33;
	*rr = (struct rr){0};
	size_t n = 0;

	if (im->names == NAMES_ROCK_RIDGE) {
		unsigned su = 33 + nlen + (nlen % 2 == 0) + im->susp_skip;
		if (su < len)
			parse_susp(im, r + su, len - su, rr);
		if (rr->name_bad || rr->relocated)
			return false;
		if (rr->has_name) {
			if (memchr(rr->name, '\0', rr->name_len) ||
			    memchr(rr->name, '/', rr->name_len))
				return false;
			memcpy(name, rr->name, rr->name_len + 1);
			return rr->name_len > 0;
		}
	}
	if (im->names == NAMES_JOLIET) {
		/* UCS-2 big endian to UTF-8; characters outside the BMP do not occur in the paths
		 * we look for, so surrogates are copied as they are. */
		for (unsigned i = 0; i + 1 < nlen; i += 2) {
			unsigned c = (unsigned)id[i] << 8 | id[i + 1];
			if (c == 0 || c == '/')
				return false;
			if (c < 0x80) {
				name[n++] = (char)c;
			} else if (c < 0x800) {
				name[n++] = (char)(0xc0 | c >> 6);
				name[n++] = (char)(0x80 | (c & 0x3f));
			} else {
				name[n++] = (char)(0xe0 | c >> 12);
				name[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
				name[n++] = (char)(0x80 | (c & 0x3f));
			}
		}
		name[n] = '\0';
	} else {
		/* Plain ISO 9660: shown in lower case, as libiso9660 and Linux do. */
		for (unsigned i = 0; i < nlen; i++) {
			if (id[i] == 0 || id[i] == '/')
				return false;
			name[n++] = lower((char)id[i]);
		}
		name[n] = '\0';
	}
	strip_version(name, &n);
	return n > 0;
}

/* ---- lookups ------------------------------------------------------------------------------ */

/*
 * Looks for the entry named comp (clen bytes) in directory dir. 1 with *out and its name in
 * found (NAME_MAX_LEN * 3 + 1 bytes), 0 if there is none, -1 with errno (EIO, EINVAL) and
 * im->err.
 */
static int scan_dir(struct image *im, const struct node *dir, const char *comp, size_t clen,
		    struct node *out, char *found)
{
	uint64_t bytes = dir->size < DIR_MAX ? dir->size : DIR_MAX;
	if (bytes == 0)
		return 0;
	uint32_t nblocks = (uint32_t)((bytes + BLOCK - 1) / BLOCK);
	if ((uint64_t)nblocks * BLOCK > im->dir_budget)
		return fail(im, EINVAL,
			    "ISO image %s: its directories are too large to search "
			    "(damaged image?)",
			    im->path);
	im->dir_budget -= (uint64_t)nblocks * BLOCK;
	uint8_t *buf = xmalloc((size_t)nblocks * BLOCK);
	if (read_blocks(im, buf, dir->ext[0].lsn, nblocks, (size_t)bytes, "a directory") < 0) {
		free(buf);
		return -1;
	}

	char name[NAME_MAX_LEN * 3 + 1];
	struct rr rr;
	int result = 0;
	bool collecting = false; /* inside the records of a multi-extent match */
	const uint8_t *first = NULL;
	size_t off = 0;
	while (off < bytes) {
		size_t left_in_block = BLOCK - off % BLOCK;
		const uint8_t *r = buf + off;
		unsigned len = r[0];
		/* Records never cross a block; zero fills the rest of one. A record too short for
		 * its name, or one that would cross, makes us skip to the next block, as Linux and
		 * libiso9660 do with padding. */
		if (len < 34 || len > left_in_block || off + len > bytes || 33u + r[32] > len) {
			off += left_in_block;
			continue;
		}
		off += len;
		unsigned flags = r[25];
		if (collecting) {
			/* The next part of the file: same identifier, one more extent. */
			if (r[32] != first[32] || memcmp(r + 33, first + 33, r[32]) != 0 ||
			    out->n_ext == EXTENTS_MAX) {
				out->regular = false;
				break;
			}
			out->ext[out->n_ext].lsn = le32(r + 2);
			out->ext[out->n_ext].size = le32(r + 10);
			out->size += le32(r + 10);
			out->n_ext++;
			if (!(flags & FLAG_MULTI_EXTENT)) {
				collecting = false;
				break;
			}
			continue;
		}
		if (r[32] == 1 && (r[33] == 0 || r[33] == 1))
			continue; /* "." and ".." */
		if (flags & FLAG_ASSOCIATED)
			continue;
		if (!record_name(im, r, len, name, &rr) || !same_name(name, comp, clen))
			continue;

		*out = (struct node){0};
		out->ext[0].lsn = le32(r + 2);
		out->ext[0].size = le32(r + 10);
		out->size = out->ext[0].size;
		out->n_ext = 1;
		/* Rock Ridge may say more than the ISO 9660 flags: symbolic links, devices and the
		 * stand-ins of relocated directories are neither followed nor read. */
		unsigned type = rr.has_mode ? rr.mode & S_IFMT : 0;
		if (!rr.child_link && !rr.symlink) {
			if (flags & FLAG_DIR)
				out->dir = !type || type == S_IFDIR;
			else
				out->regular = !type || type == S_IFREG;
		}
		memcpy(found, name, strlen(name) + 1);
		result = 1;
		if (flags & FLAG_MULTI_EXTENT && !out->dir) {
			collecting = true;
			first = r;
			continue;
		}
		break;
	}
	if (collecting)
		out->regular = false; /* the directory ended before the last part */
	free(buf);
	return result;
}

/*
 * Finds the absolute path p (components separated by '/'; "." and ".." already resolved)
 * in the image. 1 with *out and, if real is not NULL, the path as the image spells it in real
 * (ISO_PATH_MAX); 0 if it is not there; -1 with errno and im->err.
 */
static int lookup(struct image *im, const char *p, struct node *out, char *real)
{
	struct node cur = {.dir = true, .size = im->root_size, .n_ext = 1};
	cur.ext[0].lsn = im->root_lsn;
	cur.ext[0].size = im->root_size;
	size_t rlen = 0;
	char found[NAME_MAX_LEN * 3 + 1];
	if (real)
		real[0] = '\0';
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t clen = strcspn(p, "/");
		if (!cur.dir || clen > NAME_MAX_LEN)
			return 0;
		struct node next;
		int r = scan_dir(im, &cur, p, clen, &next, found);
		if (r <= 0)
			return r;
		size_t flen = strlen(found);
		if (real) {
			if (rlen + 1 + flen >= ISO_PATH_MAX)
				return 0;
			real[rlen++] = '/';
			memcpy(real + rlen, found, flen + 1);
			rlen += flen;
		}
		cur = next;
		p += clen;
	}
	*out = cur;
	if (real && rlen == 0)
		memcpy(real, "/", 2);
	return 1;
}

/*
 * Joins p (plen bytes) to base (an absolute directory, or NULL for "/") unless p is absolute,
 * resolving "." and ".." and repeated slashes, into out[ISO_PATH_MAX]. -1 when the result does
 * not fit or names no file.
 */
static int norm_path(const char *base, const char *p, size_t plen, char *out)
{
	char in[2 * ISO_PATH_MAX];
	size_t blen = base && (plen == 0 || p[0] != '/') ? strlen(base) : 0;
	if (blen + 1 + plen >= sizeof in)
		return -1;
	if (blen)
		memcpy(in, base, blen);
	in[blen] = '/';
	memcpy(in + blen + 1, p, plen);
	in[blen + 1 + plen] = '\0';

	size_t n = 0;
	for (const char *s = in; *s;) {
		while (*s == '/')
			s++;
		size_t clen = strcspn(s, "/");
		if (clen == 0)
			break;
		if (clen == 1 && s[0] == '.') {
			/* nothing */
		} else if (clen == 2 && s[0] == '.' && s[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
		} else {
			if (n + 1 + clen >= ISO_PATH_MAX)
				return -1;
			out[n++] = '/';
			memcpy(out + n, s, clen);
			n += clen;
		}
		s += clen;
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* ---- reading files ------------------------------------------------------------------------ */

typedef int (*sink_fn)(void *arg, const void *data, size_t n);

/*
 * Passes the first limit bytes of file n to sink, at most CHUNK at a time, checking cancel
 * before each chunk. All extents are checked against the image first, so a truncated image
 * fails before anything reaches the sink. Bytes passed, or -1 with errno and im->err.
 */
static int64_t read_node(struct image *im, const struct node *n, uint64_t limit,
			 const atomic_bool *cancel, sink_fn sink, void *arg)
{
	for (unsigned i = 0; i < n->n_ext; i++) {
		uint64_t end = n->ext[i].lsn + ((uint64_t)n->ext[i].size + BLOCK - 1) / BLOCK;
		if (n->ext[i].size && end > im->blocks)
			return fail(im, EIO,
				    "ISO image %s is truncated or damaged: file data at block %u "
				    "lies beyond its end (%llu blocks)",
				    im->path, n->ext[i].lsn, (unsigned long long)im->blocks);
	}
	uint64_t want = n->size < limit ? n->size : limit;
	size_t bufsize = want < CHUNK ? (size_t)((want + BLOCK - 1) / BLOCK * BLOCK) : CHUNK;
	char *buf = xmalloc(bufsize ? bufsize : BLOCK);
	uint64_t done = 0;
	for (unsigned i = 0; i < n->n_ext && done < want; i++) {
		uint32_t lsn = n->ext[i].lsn;
		uint64_t left = n->ext[i].size;
		if (left > want - done)
			left = want - done;
		while (left > 0) {
			if (cancel && atomic_load(cancel)) {
				free(buf);
				return fail(im, ECANCELED, "cancelled");
			}
			size_t len = left < bufsize ? (size_t)left : bufsize;
			uint32_t nb = (uint32_t)((len + BLOCK - 1) / BLOCK);
			if (read_blocks(im, buf, lsn, nb, len, "file data") < 0 ||
			    sink(arg, buf, len) < 0) {
				int e = errno;
				free(buf);
				errno = e;
				return -1;
			}
			lsn += nb;
			left -= len;
			done += len;
		}
	}
	free(buf);
	if (cancel && atomic_load(cancel))
		return fail(im, ECANCELED, "cancelled");
	return (int64_t)done;
}

struct fd_sink {
	struct image *im;
	int fd;
};

static int write_fd(void *arg, const void *data, size_t n)
{
	struct fd_sink *s = arg;
	const char *p = data;
	while (n > 0) {
		ssize_t w = write(s->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return fail(s->im, errno, "cannot write what is extracted from %s: %s",
				    s->im->path, strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct mem_sink {
	char *buf;
	size_t len, cap;
};

static int write_mem(void *arg, const void *data, size_t n)
{
	struct mem_sink *s = arg;
	if (n > s->cap - s->len)
		n = s->cap - s->len;
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	return 0;
}

/* ---- the search --------------------------------------------------------------------------- */

struct search {
	struct image *im;
	struct iso_installer *out;
	size_t dropped;       /* tried entries that did not fit out->tried */
	size_t menu_entries;  /* menu entries tried so far (MENU_MAX_ENTRIES) */
	char (*seen)[2][ISO_PATH_MAX]; /* pairs already tried, so menus do not repeat them */
	size_t n_seen;
};

static void tried(struct search *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tried(struct search *s, const char *fmt, ...)
{
	if (s->out->n_tried == ISO_MAX_TRIED) {
		s->dropped++;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->out->tried[s->out->n_tried++], sizeof s->out->tried[0], fmt, ap);
	va_end(ap);
}

static bool seen(struct search *s, const char *kernel, const char *initrd)
{
	for (size_t i = 0; i < s->n_seen; i++)
		if (strcmp(s->seen[i][0], kernel) == 0 && strcmp(s->seen[i][1], initrd) == 0)
			return true;
	if (s->n_seen < N_CANDIDATES + MENU_MAX_ENTRIES) {
		snprintf(s->seen[s->n_seen][0], ISO_PATH_MAX, "%s", kernel);
		snprintf(s->seen[s->n_seen][1], ISO_PATH_MAX, "%s", initrd);
		s->n_seen++;
	}
	return false;
}

/*
 * Tries kernel with the initrd alternatives (normalized absolute paths). 1 when both are
 * regular files (*s->out filled), 0 when not (the attempt is in s->out->tried), -1 on a read
 * error.
 */
static int try_pair(struct search *s, const char *kernel, const char *const *initrd,
		    const char *source)
{
	if (seen(s, kernel, initrd[0]))
		return 0;
	struct node k, i;
	char kreal[ISO_PATH_MAX], ireal[ISO_PATH_MAX];
	int r = lookup(s->im, kernel, &k, kreal);
	if (r < 0)
		return -1;
	if (r == 0) {
		tried(s, "%s", kernel);
		return 0;
	}
	if (!k.regular) {
		tried(s, "%s (not a regular file)", kernel);
		return 0;
	}
	for (size_t n = 0; initrd[n]; n++) {
		r = lookup(s->im, initrd[n], &i, ireal);
		if (r < 0)
			return -1;
		if (r == 1 && i.regular) {
			tried(s, "%s", kernel);
			struct iso_installer *o = s->out;
			snprintf(o->kernel, sizeof o->kernel, "%s", kreal);
			snprintf(o->initrd, sizeof o->initrd, "%s", ireal);
			snprintf(o->source, sizeof o->source, "%s", source);
			o->kernel_size = k.size;
			o->initrd_size = i.size;
			return 1;
		}
	}
	if (!initrd[1])
		tried(s, "%s (no initrd at %s)", kernel, initrd[0]);
	else if (!initrd[2])
		tried(s, "%s (no initrd at %s or %s)", kernel, initrd[0], initrd[1]);
	else
		tried(s, "%s (no initrd at %s, %s or %s)", kernel, initrd[0], initrd[1],
		      initrd[2]);
	return 0;
}

/* A menu entry as parsed: pointers into the menu's text. */
struct entry {
	const char *kernel, *initrd;
	size_t kernel_len, initrd_len;
};

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && same_name(suffix, s + len - n, n);
}

/* Tries one menu entry, its paths relative to base (isolinux) or to the root (grub). */
static int try_entry(struct search *s, struct entry *e, const char *base, const char *source)
{
	if (!e->kernel || e->kernel_len == 0)
		return 0;
	/* COM32 modules (vesamenu.c32, hdt.c32) are syslinux's own programs, not kernels. */
	if (ends_with(e->kernel, e->kernel_len, ".c32"))
		return 0;
	if (s->menu_entries == MENU_MAX_ENTRIES)
		return 0;
	s->menu_entries++;
	char kernel[ISO_PATH_MAX], initrd[ISO_PATH_MAX];
	if (norm_path(base, e->kernel, e->kernel_len, kernel) < 0)
		return 0;
	if (!e->initrd || e->initrd_len == 0) {
		if (!seen(s, kernel, ""))
			tried(s, "%s (no initrd in %s)", kernel, source);
		return 0;
	}
	if (norm_path(base, e->initrd, e->initrd_len, initrd) < 0)
		return 0;
	const char *alts[] = {initrd, NULL};
	return try_pair(s, kernel, alts, source);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The next whitespace-separated word of [*p, end): start and length; false at the end. */
static bool word(const char **p, const char *end, const char **w, size_t *len)
{
	const char *s = *p;
	while (s < end && is_space(*s))
		s++;
	if (s == end)
		return false;
	const char *t = s;
	while (t < end && !is_space(*t))
		t++;
	*w = s;
	*len = (size_t)(t - s);
	*p = t;
	return true;
}

static bool is_word(const char *w, size_t len, const char *kw)
{
	return len == strlen(kw) && same_name(kw, w, len);
}

/*
 * From a list of initrds (comma-separated for isolinux, separate words for grub): the first
 * that is not a CPU microcode image (Arch lists intel-ucode.img and amd-ucode.img before its
 * initramfs; a PV guest takes one ramdisk and needs no microcode), else the first.
 */
static void pick_initrd(struct entry *e, const char *list, size_t len, char sep)
{
	const char *first = NULL;
	size_t first_len = 0;
	const char *end = list + len;
	while (list < end) {
		const char *w = list;
		size_t wl;
		if (sep == ',') {
			const char *c = memchr(list, ',', (size_t)(end - list));
			wl = (size_t)((c ? c : end) - list);
			list = c ? c + 1 : end;
		} else if (!word(&list, end, &w, &wl)) {
			break;
		}
		if (wl == 0)
			continue;
		if (!first) {
			first = w;
			first_len = wl;
		}
		bool ucode = false;
		for (size_t i = 0; i + 5 <= wl; i++)
			if (same_name("ucode", w + i, 5))
				ucode = true;
		if (!ucode) {
			e->initrd = w;
			e->initrd_len = wl;
			return;
		}
	}
	e->initrd = first;
	e->initrd_len = first_len;
}

/* grub paths may start with a device, "(cd0)/casper/vmlinuz" or "($root)/...": drop it. */
static void grub_path(const char **w, size_t *len)
{
	if (*len > 0 && (*w)[0] == '(') {
		const char *close = memchr(*w, ')', *len);
		if (close) {
			*len -= (size_t)(close + 1 - *w);
			*w = close + 1;
		}
	}
	if (*len >= 2 && ((*w)[0] == '"' || (*w)[0] == '\'') && (*w)[*len - 1] == (*w)[0]) {
		(*w)++;
		*len -= 2;
	}
}

/*
 * isolinux/syslinux: an entry runs from one "label" to the next; "kernel X" or "linux X" names
 * the kernel, "initrd=Y" in "append" (or an "initrd Y" line) the initrd. grub: "menuentry" or
 * a closing brace ends an entry; "linux X ..." and "initrd Y ..." (or their 16/efi variants).
 * Keywords are case-insensitive in syslinux; grub's are lower case but matching them
 * case-insensitively costs nothing.
 */
static int parse_menu(struct search *s, const char *text, size_t len, enum menu_kind kind,
		      const char *base, const char *source)
{
	struct entry e = {0};
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *q = p;
		p = nl ? nl + 1 : end;
		const char *kw, *w;
		size_t kwl, wl;
		if (!word(&q, eol, &kw, &kwl) || kw[0] == '#')
			continue;
		int r = 0;
		if (kind == MENU_ISOLINUX) {
			if (is_word(kw, kwl, "label")) {
				r = try_entry(s, &e, base, source);
				e = (struct entry){0};
			} else if ((is_word(kw, kwl, "kernel") || is_word(kw, kwl, "linux")) &&
				   word(&q, eol, &w, &wl)) {
				e.kernel = w;
				e.kernel_len = wl;
			} else if (is_word(kw, kwl, "initrd") && word(&q, eol, &w, &wl)) {
				pick_initrd(&e, w, wl, ',');
			} else if (is_word(kw, kwl, "append") && !e.initrd) {
				while (word(&q, eol, &w, &wl))
					if (wl > 7 && same_name("initrd=", w, 7)) {
						pick_initrd(&e, w + 7, wl - 7, ',');
						break;
					}
			}
		} else {
			if (is_word(kw, kwl, "menuentry") || is_word(kw, kwl, "submenu") ||
			    is_word(kw, kwl, "}")) {
				r = try_entry(s, &e, base, source);
				e = (struct entry){0};
			} else if ((is_word(kw, kwl, "linux") || is_word(kw, kwl, "linux16") ||
				    is_word(kw, kwl, "linuxefi")) &&
				   word(&q, eol, &w, &wl)) {
				if (e.kernel)
					r = try_entry(s, &e, base, source);
				e = (struct entry){0};
				grub_path(&w, &wl);
				e.kernel = w;
				e.kernel_len = wl;
			} else if (is_word(kw, kwl, "initrd") || is_word(kw, kwl, "initrd16") ||
				   is_word(kw, kwl, "initrdefi")) {
				pick_initrd(&e, q, (size_t)(eol - q), ' ');
				if (e.initrd)
					grub_path(&e.initrd, &e.initrd_len);
			}
		}
		if (r != 0)
			return r;
	}
	return try_entry(s, &e, base, source);
}

/* Reads a boot menu and tries its entries; 1 found, 0 not, -1 on a read error. */
static int try_menu(struct search *s, const char *path, enum menu_kind kind, const char *source)
{
	struct node n;
	int r = lookup(s->im, path, &n, NULL);
	if (r <= 0)
		return r;
	if (!n.regular)
		return 0;
	struct mem_sink m = {.cap = n.size < CFG_MAX ? (size_t)n.size : CFG_MAX};
	m.buf = xmalloc(m.cap + 1);
	if (read_node(s->im, &n, m.cap, NULL, write_mem, &m) < 0) {
		free(m.buf);
		return -1;
	}
	/* isolinux resolves relative names against its own directory, grub against the root. */
	char base[ISO_PATH_MAX] = "/";
	if (kind == MENU_ISOLINUX) {
		snprintf(base, sizeof base, "%s", path);
		*strrchr(base, '/') = '\0';
	}
	r = parse_menu(s, m.buf, m.len, kind, base, source);
	free(m.buf);
	return r;
}

/* "no installer in X (looked for A, B, ...)", as much as fits in a message. */
static void none_found(struct search *s)
{
	struct image *im = s->im;
	char buf[ERR_MSG_MAX];
	size_t cap = sizeof buf;
	int n = snprintf(buf, cap, "no installer kernel and initrd found in ISO image %s",
			 im->path);
	if (n < 0 || (size_t)n >= cap) {
		err_set(im->err, VMD_ERR_IO, "%s", buf);
		return;
	}
	size_t used = (size_t)n;
	const char *sep = " (looked for ";
	for (size_t i = 0; i < s->out->n_tried; i++) {
		const char *t = s->out->tried[i];
		size_t tl = strcspn(t, " ");
		/* Room for this path, its separator and a closing ", ...)". */
		if (used + strlen(sep) + tl + 6 >= cap) {
			snprintf(buf + used, cap - used, "%s...)", i ? ", " : " (");
			err_set(im->err, VMD_ERR_IO, "%s", buf);
			return;
		}
		used += (size_t)snprintf(buf + used, cap - used, "%s%.*s", sep, (int)tl, t);
		sep = ", ";
	}
	if (s->dropped && used + 6 < cap)
		used += (size_t)snprintf(buf + used, cap - used, ", ...");
	if (s->out->n_tried && used + 1 < cap)
		snprintf(buf + used, cap - used, ")");
	err_set(im->err, VMD_ERR_IO, "%s", buf);
}

int iso_find_installer(const char *path, struct iso_installer *out, struct err *err)
{
	memset(out, 0, sizeof *out);
	struct image im;
	if (image_open(&im, path, err) < 0)
		return -1;
	struct search s = {.im = &im, .out = out};
	s.seen = xcalloc(N_CANDIDATES + MENU_MAX_ENTRIES, sizeof *s.seen);

	int r = 0;
	for (size_t i = 0; r == 0 && i < N_CANDIDATES; i++)
		r = try_pair(&s, ISO_CANDIDATES[i].kernel, ISO_CANDIDATES[i].initrd,
			     ISO_CANDIDATES[i].source);
	for (size_t i = 0; r == 0 && i < N_MENUS; i++)
		r = try_menu(&s, MENUS[i].path, MENUS[i].kind, MENUS[i].source);
	if (r == 0) {
		none_found(&s);
		errno = ENOENT;
	}
	int e = errno;
	free(s.seen);
	image_close(&im);
	errno = e;
	return r == 1 ? 0 : -1;
}

int64_t iso_extract(const char *path, const char *iso_path, int out_fd, uint64_t max,
		    const atomic_bool *cancel, struct err *err)
{
	struct image im;
	if (image_open(&im, path, err) < 0)
		return -1;
	int64_t r = -1;
	int found;
	struct node n;
	struct fd_sink sink = {.im = &im, .fd = out_fd};
	char p[ISO_PATH_MAX];
	if (!iso_path || norm_path(NULL, iso_path, strlen(iso_path), p) < 0) {
		fail(&im, EINVAL, "invalid path in ISO image: '%s'", iso_path ? iso_path : "");
		goto out;
	}
	found = lookup(&im, p, &n, NULL);
	if (found < 0)
		goto out;
	if (found == 0) {
		fail(&im, ENOENT, "ISO image %s has no %s", path, p);
		goto out;
	}
	if (!n.regular) {
		fail(&im, n.dir ? EISDIR : EINVAL, "%s in ISO image %s is not a regular file", p,
		     path);
		goto out;
	}
	if (n.size > max) {
		fail(&im, EFBIG, "%s in ISO image %s has %llu bytes, more than the %llu allowed", p,
		     path, (unsigned long long)n.size, (unsigned long long)max);
		goto out;
	}
	r = read_node(&im, &n, n.size, cancel, write_fd, &sink);
out:;
	int e = errno;
	image_close(&im);
	errno = e;
	return r;
}
