/*
 * fuzz-iso.c: libFuzzer on the ISO reader (daemon/iso.c). Each input is an image: it is
 * written to a memfd, searched with iso_find_installer through /proc/self/fd/N, and what is
 * found is extracted to /dev/null with a small limit. Besides memory errors (ASan) it checks
 * the documented contract, so a silent misread becomes a crash the fuzzer reports: the errnos
 * are the documented ones, the strings are terminated, and an extraction gives exactly the
 * size the search reported, or EFBIG when that is over the limit.
 *
 * Inputs need 17 blocks (34 KiB) before anything past the volume descriptors is read; the
 * seed corpus is made by scripts/fuzz.sh with xorriso (-no-pad keeps the images small).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iso.h"

#define MAX (256u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int devnull = -1;

static void extract(const char *path, const char *iso_path, uint64_t size)
{
	struct err err = {0};
	errno = 0;
	int64_t n = iso_extract(path, iso_path, devnull, MAX, NULL, &err);
	if (n >= 0 && (uint64_t)n != size)
		abort();
	if (n < 0 && size > MAX && errno != EFBIG)
		abort();
	if (n < 0 && size <= MAX && errno != EIO)
		abort(); /* only data beyond the end of the image may fail it */
	if (n < 0 && (!err.code || !err.msg[0] || memchr(err.msg, '\0', sizeof err.msg) == NULL))
		abort();
	err_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (devnull < 0 && (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		abort();
	int fd = memfd_create("fuzz-iso", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	for (size_t done = 0; done < size;) {
		ssize_t w = write(fd, data + done, size - done);
		if (w <= 0)
			abort();
		done += (size_t)w;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

	struct iso_installer out;
	struct err err = {0};
	errno = 0;
	int r = iso_find_installer(path, &out, &err);
	if (out.n_tried > ISO_MAX_TRIED)
		abort();
	for (size_t i = 0; i < out.n_tried; i++)
		if (memchr(out.tried[i], '\0', sizeof out.tried[i]) == NULL)
			abort();
	if (r < 0) {
		if (errno != ENOENT && errno != EINVAL && errno != EIO)
			abort();
		if (errno == ENOENT && out.n_tried == 0)
			abort(); /* the image exists: the fixed paths were looked for */
		if (!err.code || !err.msg[0] || memchr(err.msg, '\0', sizeof err.msg) == NULL)
			abort();
	} else {
		if (!memchr(out.kernel, '\0', sizeof out.kernel) ||
		    !memchr(out.initrd, '\0', sizeof out.initrd) || out.kernel[0] != '/' ||
		    out.initrd[0] != '/' || out.n_tried == 0)
			abort();
		extract(path, out.kernel, out.kernel_size);
		extract(path, out.initrd, out.initrd_size);
	}
	err_clear(&err);
	close(fd);
	return 0;
}
