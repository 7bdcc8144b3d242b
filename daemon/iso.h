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
 * A pair counts only when both files exist as regular files.
 */
#ifndef VMD_ISO_H
#define VMD_ISO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define ISO_PATH_MAX 256
#define ISO_MAX_TRIED 48
/* Nothing bigger is extracted: no installer kernel or initrd comes near (Debian's are 7 and
 * 30 MiB); a hostile image that claims more gets EFBIG. */
#define ISO_EXTRACT_MAX (1ull << 30)

struct iso_installer {
	/* What was found: absolute paths inside the image, as the image names them with
	 * Rock Ridge/Joliet names when present ("/install.amd/xen/vmlinuz"). */
	char kernel[ISO_PATH_MAX];
	char initrd[ISO_PATH_MAX];
	char source[64];   /* which rule found them: "debian-xen", "isolinux.cfg", ... */
	uint64_t kernel_size, initrd_size;
	/* Every kernel path looked for, in order (for the error when none fits); a pair whose
	 * kernel exists but initrd does not is listed as "KERNEL (no initrd at INITRD)". */
	size_t n_tried;
	char tried[ISO_MAX_TRIED][ISO_PATH_MAX + 64];
};

/* Looks for an installer kernel and initrd in the ISO image at path. 0 with *out filled;
 * -1 with errno and err (a message for humans, naming the image) set:
 *   ENOENT   the image holds no pair (out->tried lists what was looked for);
 *   EINVAL   path is not an ISO 9660 image (or is damaged beyond reading);
 *   or the errno of opening/reading path (EACCES, EISDIR, ...). */
int iso_find_installer(const char *path, struct iso_installer *out, char *err, size_t errlen);

/* Copies the file at iso_path (a path inside the image, as iso_find_installer returns it)
 * out of the image at path into out_fd (a regular file open for writing, at offset 0).
 * At most max bytes (EFBIG beyond, nothing written); cancel may be NULL, once true the copy
 * stops with ECANCELED. Does not fsync. Returns the bytes written, or -1 with errno and err. */
int64_t iso_extract(const char *path, const char *iso_path, int out_fd, uint64_t max,
		    const atomic_bool *cancel, char *err, size_t errlen);

#endif
