/*
 * iso.h: reading installer ISO images (ISO 9660, with Rock Ridge and Joliet names) through
 * libcdio's libiso9660, for vm.install: find a PV-bootable installer kernel and initrd inside
 * the image and copy them out.
 *
 * Everything here does blocking I/O and is meant for worker threads (job.h), never for the
 * event loop; it touches neither libevent nor jansson. The image is untrusted input: every
 * size and path that comes from it is bounded, and a damaged or hostile image gives an error,
 * never a crash or an unbounded read.
 *
 * Where the installer is looked for, in order:
 *   1. fixed paths of the distributions that ship a Xen PV installer or a kernel that boots
 *      as PV (Debian's install.amd/xen/, install.amd/, Ubuntu, Fedora/RHEL images/pxeboot/,
 *      isolinux/, openSUSE, Alpine, Arch; the list is ISO_CANDIDATES in iso.c);
 *   2. the kernel and initrd named by the image's own boot menus (isolinux/isolinux.cfg,
 *      isolinux/txt.cfg, syslinux/syslinux.cfg, boot/grub/grub.cfg): the first entry whose
 *      kernel and initrd both exist in the image.
 * A pair counts only when both files exist as regular files. Names match case-insensitively
 * (ASCII): the Rock Ridge name when the image has Rock Ridge, else the Joliet name, else the
 * ISO 9660 name without its ";1" version and trailing dot. Symbolic links are not followed.
 */
#ifndef VMD_ISO_H
#define VMD_ISO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ISO_PATH_MAX 256
#define ISO_MAX_TRIED 48
/* Nothing bigger is extracted: no installer kernel or initrd comes near (Debian's are 7 and
 * 30 MiB); a hostile image that claims more gets EFBIG. */
#define ISO_EXTRACT_MAX (1ull << 30)

struct iso_installer {
	/* What was found: absolute paths inside the image, as the image names them with
	 * Rock Ridge/Joliet names when present ("/install.amd/xen/vmlinuz"); plain ISO 9660
	 * names in lower case without their version ("VMLINUZ.;1" -> "vmlinuz"). */
	char kernel[ISO_PATH_MAX];
	char initrd[ISO_PATH_MAX];
	char source[64];   /* which rule found them: "debian-xen", "isolinux.cfg", ... */
	uint64_t kernel_size, initrd_size;
	/* Every kernel path looked for, in order, the one found included (for the error when
	 * none fits); the first ISO_MAX_TRIED only. A kernel that is there but unusable is listed
	 * as "KERNEL (no initrd at INITRD)", "KERNEL (not a regular file)" or, from a menu entry
	 * without an initrd, "KERNEL (no initrd in txt.cfg)". */
	size_t n_tried;
	char tried[ISO_MAX_TRIED][ISO_PATH_MAX + 64];
};

/* Looks for an installer kernel and initrd in the ISO image at path (a regular file or a
 * block device). 0 with *out filled; -1 with errno and err (a message for humans, naming the
 * image) set:
 *   ENOENT   with out->n_tried > 0: the image holds no pair (out->tried lists what was looked
 *            for, and so does err as far as it fits);
 *            with out->n_tried == 0: the image file itself does not exist;
 *   EINVAL   path is not an ISO 9660 image (no volume descriptors at sector 16, blocks other
 *            than 2048 bytes, an empty or short file), is neither a regular file nor a block
 *            device, or its directories are too large to search;
 *   EIO      the image is truncated or damaged where it had to be read (a directory beyond
 *            its end, a short read), or libiso9660 could not open it;
 *   EISDIR   path is a directory;
 *   or the errno of open(2) or reading path (EACCES, ELOOP, ...).
 * The two ENOENT are told apart by out->n_tried, never 0 once the image was opened (the fixed
 * paths are always looked for). Other errors may leave out->tried partly filled. */
int iso_find_installer(const char *path, struct iso_installer *out, struct err *err);

/* Copies the file at iso_path (a path inside the image, as iso_find_installer returns it;
 * matched as described above) out of the image at path into out_fd (a regular file open for
 * writing, at offset 0), in chunks of 1 MiB. Does not fsync. Returns the bytes written, or -1
 * with errno and err:
 *   EFBIG      the file has more than max bytes (nothing written);
 *   ECANCELED  cancel (may be NULL) became true; it is checked before every chunk;
 *   ENOENT     the image does not exist, or has no file at iso_path (err says which);
 *   EISDIR     iso_path is a directory (or path is);
 *   EINVAL     path is not an ISO 9660 image, iso_path names no file ("/", too long), or the
 *              file is not a regular file (symbolic link, device, damaged multi-extent file);
 *   EIO        the file's data lies beyond the end of the image (nothing written), or a read
 *              came back short (a partial copy is left in out_fd);
 *   or the errno of write(2) (ENOSPC, ...). The caller removes what a failure left behind. */
int64_t iso_extract(const char *path, const char *iso_path, int out_fd, uint64_t max,
		    const atomic_bool *cancel, struct err *err);

#endif
