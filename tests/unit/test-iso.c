/*
 * test-iso.c: daemon/iso.c on images built here with xorriso (a required test dependency:
 * without it the test fails). Rock Ridge + Joliet, Joliet only and plain ISO 9660 images;
 * the fixed candidates and their order; isolinux and grub menus; files that are not images;
 * byte-identical extraction, EFBIG, cancel; truncated and hand-damaged images, and a few
 * hundred randomly damaged ones, which must give errors and never crash (run it under ASan).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iso.h"
#include "test.h"
#include "util.h"

#define MIB (1024u * 1024u)
#define KERNEL_SIZE 5000u               /* not a multiple of 2048 */
#define INITRD_SIZE (3 * MIB + 123)     /* more than one 1 MiB chunk */

static char dir[64];


/* A file of size bytes under the tree t, with a pattern that depends on seed and offset. */
static void put(const char *t, const char *rel, size_t size, unsigned seed)
{
	char *p = xasprintf("%s/%s/%s", dir, t, rel);
	char *slash = strrchr(p, '/');
	*slash = '\0';
	CHECK(mkdir_p(p, 0755) == 0);
	*slash = '/';
	char *buf = xmalloc(size ? size : 1);
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)((i * 2654435761u >> 11) ^ seed);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, buf, size) == (ssize_t)size);
	close(fd);
	free(buf);
	free(p);
}

static void put_text(const char *t, const char *rel, const char *text)
{
	char *p = xasprintf("%s/%s/%s", dir, t, rel);
	char *slash = strrchr(p, '/');
	*slash = '\0';
	CHECK(mkdir_p(p, 0755) == 0);
	*slash = '/';
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	free(p);
}

/* Builds dir/t.iso from the tree dir/t; opts: "-R -J", "--norock", "--norock -J". Returns
 * the image path (malloc'ed). */
static char *mkiso(const char *t, const char *opts)
{
	char *src = xasprintf("%s/%s", dir, t);
	CHECK(mkdir_p(src, 0755) == 0);
	char *iso = xasprintf("%s/%s.iso", dir, t);
	int r = sh("xorriso -as mkisofs %s -o '%s' '%s' >'%s/xorriso.log' 2>&1", opts, iso, src,
		   dir);
	CHECK(r == 0);
	if (r != 0)
		sh("cat '%s/xorriso.log' >&2", dir);
	free(src);
	return iso;
}

/* Extracts iso_path to a new file and compares it with the source file t/rel. */
static void check_extract(const char *iso, const char *iso_path, const char *t, const char *rel,
			  uint64_t size)
{
	char *out = xasprintf("%s/extracted", dir);
	unlink(out);
	int fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	struct err err = {0};
	int64_t n = iso_extract(iso, iso_path, fd, ISO_EXTRACT_MAX, NULL, &err);
	if (n < 0)
		fprintf(stderr, "  extract %s: %s\n", iso_path, err.msg);
	CHECK(n == (int64_t)size);
	close(fd);
	CHECK(sh("cmp -s '%s' '%s/%s/%s'", out, dir, t, rel) == 0);
	unlink(out);
	free(out);
}

static int find(const char *iso, struct iso_installer *out, struct err *err)
{
	int r = iso_find_installer(iso, out, err);
	if (r < 0 && errno != ENOENT)
		fprintf(stderr, "  find: %s\n", err->msg);
	return r;
}

/* ---- finding ------------------------------------------------------------------------------ */

static void debian_xen(void)
{
	put("deb", "install.amd/xen/vmlinuz", KERNEL_SIZE, 1);
	put("deb", "install.amd/xen/initrd.gz", INITRD_SIZE, 2);
	/* Other candidates in the same image lose to Debian's Xen installer. */
	put("deb", "install.amd/vmlinuz", 100, 3);
	put("deb", "install.amd/initrd.gz", 100, 4);
	put("deb", "casper/vmlinuz", 100, 5);
	put("deb", "casper/initrd", 100, 6);
	put("deb", "isolinux/vmlinuz", 100, 7);
	put("deb", "isolinux/initrd.img", 100, 8);
	put_text("deb", "isolinux/txt.cfg",
		 "label install\n"
		 "\tkernel /install.amd/vmlinuz\n"
		 "\tappend initrd=/install.amd/initrd.gz\n");
	char *iso = mkiso("deb", "-R -J");
	struct iso_installer o;
	struct err err = {0};
	CHECK(find(iso, &o, &err) == 0);
	CHECK_STR(o.source, "debian-xen");
	CHECK_STR(o.kernel, "/install.amd/xen/vmlinuz");
	CHECK_STR(o.initrd, "/install.amd/xen/initrd.gz");
	CHECK(o.kernel_size == KERNEL_SIZE);
	CHECK(o.initrd_size == INITRD_SIZE);
	CHECK(o.n_tried == 1);
	CHECK_STR(o.tried[0], "/install.amd/xen/vmlinuz");
	check_extract(iso, o.kernel, "deb", "install.amd/xen/vmlinuz", KERNEL_SIZE);
	check_extract(iso, o.initrd, "deb", "install.amd/xen/initrd.gz", INITRD_SIZE);
	/* Names match whatever their case, and the path may be written loosely. */
	check_extract(iso, "INSTALL.AMD/Xen//VMLINUZ", "deb", "install.amd/xen/vmlinuz",
		      KERNEL_SIZE);
	check_extract(iso, "/casper/../install.amd/./xen/vmlinuz", "deb",
		      "install.amd/xen/vmlinuz", KERNEL_SIZE);
	free(iso);
}

static void candidate_order(void)
{
	put("order", "isolinux/vmlinuz", 10, 1);
	put("order", "isolinux/initrd.img", 10, 2);
	put("order", "images/pxeboot/vmlinuz", 10, 3);
	put("order", "images/pxeboot/initrd.img", 10, 4);
	put("order", "casper/vmlinuz", 20, 5);
	put("order", "casper/initrd.lz", 30, 6); /* the third of Ubuntu's initrd names */
	char *iso = mkiso("order", "-R -J");
	struct iso_installer o;
	struct err err = {0};
	CHECK(find(iso, &o, &err) == 0);
	CHECK_STR(o.source, "ubuntu");
	CHECK_STR(o.kernel, "/casper/vmlinuz");
	CHECK_STR(o.initrd, "/casper/initrd.lz");
	CHECK(o.kernel_size == 20 && o.initrd_size == 30);
	CHECK(o.n_tried == 4);
	CHECK_STR(o.tried[0], "/install.amd/xen/vmlinuz");
	CHECK_STR(o.tried[1], "/install.386/xen/vmlinuz");
	CHECK_STR(o.tried[2], "/install.amd/vmlinuz");
	CHECK_STR(o.tried[3], "/casper/vmlinuz");
	free(iso);
}

/* Without Rock Ridge and Joliet the names are "VMLINUZ.;1"; they are found all the same and
 * reported in lower case without the version. */
static void plain_iso9660(void)
{
	put("plain", "install.amd/xen/vmlinuz", KERNEL_SIZE, 11);
	put("plain", "install.amd/xen/initrd.gz", INITRD_SIZE, 12);
	char *iso = mkiso("plain", "--norock");
	CHECK(sh("xorriso -indev '%s' -find / 2>/dev/null | grep -q \"'/INSTALL.AMD/XEN/VMLINUZ'\"",
		 iso) == 0);
	struct iso_installer o;
	struct err err = {0};
	CHECK(find(iso, &o, &err) == 0);
	CHECK_STR(o.source, "debian-xen");
	CHECK_STR(o.kernel, "/install.amd/xen/vmlinuz");
	CHECK_STR(o.initrd, "/install.amd/xen/initrd.gz");
	CHECK(o.kernel_size == KERNEL_SIZE && o.initrd_size == INITRD_SIZE);
	check_extract(iso, o.kernel, "plain", "install.amd/xen/vmlinuz", KERNEL_SIZE);
	check_extract(iso, o.initrd, "plain", "install.amd/xen/initrd.gz", INITRD_SIZE);
	free(iso);

	/* Level 1 names are 8.3: "vmlinuz-virt" becomes "VMLINUZ_." and is not found. */
	put("plain83", "boot/vmlinuz-virt", 10, 13);
	put("plain83", "boot/initramfs-virt", 10, 14);
	iso = mkiso("plain83", "--norock");
	CHECK(find(iso, &o, &err) < 0 && errno == ENOENT);
	free(iso);
}

/* Joliet keeps long names (and their case) where plain ISO 9660 cannot. */
static void joliet_only(void)
{
	put("joliet", "BOOT/vmlinuz-virt", 1234, 21);
	put("joliet", "BOOT/initramfs-virt", 4321, 22);
	char *iso = mkiso("joliet", "--norock -J");
	struct iso_installer o;
	struct err err = {0};
	CHECK(find(iso, &o, &err) == 0);
	CHECK_STR(o.source, "alpine-virt");
	CHECK_STR(o.kernel, "/BOOT/vmlinuz-virt");
	CHECK_STR(o.initrd, "/BOOT/initramfs-virt");
	CHECK(o.kernel_size == 1234 && o.initrd_size == 4321);
	check_extract(iso, o.initrd, "joliet", "BOOT/initramfs-virt", 4321);
	free(iso);
}

static void isolinux_menu(void)
{
	put("isomenu", "odd/memtest", 10, 31);
	put("isomenu", "odd/place/kern", 777, 32);
	put("isomenu", "odd/place/ramdisk.img", 888, 33);
	put("isomenu", "isolinux/vesamenu.c32", 10, 34);
	put_text("isomenu", "isolinux/isolinux.cfg", "ui vesamenu.c32\ninclude txt.cfg\n");
	put_text("isomenu", "isolinux/txt.cfg",
		 "default install\n"
		 "label memtest\n"
		 "\tkernel /odd/memtest\n"
		 "label vesa\n"
		 "\tkernel vesamenu.c32\n"
		 "LABEL gone\n"
		 "\tKERNEL /odd/none\n"
		 "\tAPPEND initrd=/odd/none.img\n"
		 "label install\n"
		 "\tmenu label ^Install\n"
		 "\tkernel /odd/place/kern\n"
		 "\tappend vga=788 initrd=/odd/place/ramdisk.img,/odd/place/extra.img --- quiet\n");
	char *iso = mkiso("isomenu", "-R -J");
	struct iso_installer o;
	struct err err = {0};
	CHECK(find(iso, &o, &err) == 0);
	CHECK_STR(o.source, "txt.cfg");
	CHECK_STR(o.kernel, "/odd/place/kern");
	CHECK_STR(o.initrd, "/odd/place/ramdisk.img");
	CHECK(o.kernel_size == 777 && o.initrd_size == 888);
	CHECK(o.n_tried == 11 + 3);
	CHECK_STR(o.tried[11], "/odd/memtest (no initrd in txt.cfg)");
	CHECK_STR(o.tried[12], "/odd/none");
	CHECK_STR(o.tried[13], "/odd/place/kern");
	free(iso);

	/* Relative names are relative to the menu's directory. */
	put("isorel", "rel/k", 5, 35);
	put("isorel", "isolinux/ri.gz", 6, 36);
	put_text("isorel", "isolinux/isolinux.cfg",
		 "label x\n  KERNEL ../rel/k\n  APPEND quiet initrd=ri.gz\n");
	iso = mkiso("isorel", "-R -J");
	CHECK(find(iso, &o, &err) == 0);
	CHECK_STR(o.source, "isolinux.cfg");
	CHECK_STR(o.kernel, "/rel/k");
	CHECK_STR(o.initrd, "/isolinux/ri.gz");
	free(iso);
}

static void grub_menu(void)
{
	put("grub", "live/vmlinuz", 999, 41);
	put("grub", "live/initrd.img", 1999, 42);
	put("grub", "live/intel-ucode.img", 10, 43);
	put("grub", "live/nokernel-initrd", 10, 44);
	put_text("grub", "boot/grub/grub.cfg",
		 "set timeout=5\n"
		 "# linux /commented/out\n"
		 "menuentry 'Broken' {\n"
		 "\tlinux /live/missing-kernel boot=live\n"
		 "\tinitrd /live/nokernel-initrd\n"
		 "}\n"
		 "menuentry 'Live' --class os {\n"
		 "\tlinux\t($root)/live/vmlinuz boot=live quiet\n"
		 "\tinitrd\t/live/intel-ucode.img /live/initrd.img\n"
		 "}\n");
	char *iso = mkiso("grub", "-R -J");
	struct iso_installer o;
	struct err err = {0};
	CHECK(find(iso, &o, &err) == 0);
	CHECK_STR(o.source, "grub.cfg");
	CHECK_STR(o.kernel, "/live/vmlinuz");
	CHECK_STR(o.initrd, "/live/initrd.img");
	CHECK(o.kernel_size == 999 && o.initrd_size == 1999);
	CHECK(o.n_tried == 11 + 2);
	CHECK_STR(o.tried[11], "/live/missing-kernel");
	CHECK_STR(o.tried[12], "/live/vmlinuz");
	check_extract(iso, o.kernel, "grub", "live/vmlinuz", 999);
	free(iso);
}

static void kernel_without_initrd(void)
{
	put("noinitrd", "install.amd/xen/vmlinuz", 10, 51);
	put("noinitrd", "install/vmlinuz", 10, 52);
	put("noinitrd", "install/initrd.gz", 10, 53);
	char *d = xasprintf("%s/noinitrd/casper/vmlinuz", dir); /* a directory */
	CHECK(mkdir_p(d, 0755) == 0);
	free(d);
	char *iso = mkiso("noinitrd", "-R -J");
	struct iso_installer o;
	struct err err = {0};
	CHECK(find(iso, &o, &err) == 0);
	CHECK_STR(o.source, "debian-install");
	CHECK_STR(o.kernel, "/install/vmlinuz");
	CHECK(o.n_tried == 5);
	CHECK_STR(o.tried[0], "/install.amd/xen/vmlinuz (no initrd at /install.amd/xen/initrd.gz)");
	CHECK_STR(o.tried[3], "/casper/vmlinuz (not a regular file)");
	CHECK_STR(o.tried[4], "/install/vmlinuz");
	free(iso);
}

/* A menu that is a directory is no menu (found by fuzz-iso: it once counted as a find). */
static void menu_not_a_file(void)
{
	char *d = xasprintf("%s/menudir/isolinux/txt.cfg", dir);
	CHECK(mkdir_p(d, 0755) == 0);
	free(d);
	put("menudir", "boot/grub/grub.cfg/x", 1, 0);
	char *iso = mkiso("menudir", "-R -J");
	struct iso_installer o;
	struct err err = {0};
	errno = 0;
	CHECK(iso_find_installer(iso, &o, &err) == -1 && errno == ENOENT);
	CHECK(o.n_tried == 11);
	free(iso);
}

static void empty_image(void)
{
	/* xorriso writes nothing for an empty tree: one unrelated file. */
	put_text("empty", "README.txt", "no installer here\n");
	char *iso = mkiso("empty", "-R -J");
	struct iso_installer o;
	struct err err = {0};
	errno = 0;
	CHECK(iso_find_installer(iso, &o, &err) == -1 && errno == ENOENT);
	CHECK(o.n_tried == 11);
	CHECK_STR(o.tried[0], "/install.amd/xen/vmlinuz");
	CHECK_STR(o.tried[3], "/casper/vmlinuz");
	CHECK_STR(o.tried[10], "/arch/boot/x86_64/vmlinuz-linux");
	CHECK(strstr(err.msg, iso) != NULL);
	CHECK(strstr(err.msg, "(looked for /install.amd/xen/vmlinuz, /install.386/xen/vmlinuz") !=
	      NULL);
	CHECK(strstr(err.msg, "/arch/boot/x86_64/vmlinuz-linux)") != NULL);
	/* The list is cut to fit one message, and the message still ends as a list does. */
	CHECK(strlen(err.msg) < ERR_MSG_MAX - 1 || strstr(err.msg, "...)") != NULL);
	CHECK(err.msg[strlen(err.msg) - 1] == ')');
	free(iso);
}

/* ---- what is not an image ----------------------------------------------------------------- */

static void not_an_image(void)
{
	char *p = xasprintf("%s/random.bin", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char *buf = xmalloc(MIB);
	for (size_t i = 0; i < MIB; i++)
		buf[i] = (char)(i * 2654435761u >> 17);
	CHECK(write(fd, buf, MIB) == (ssize_t)MIB);
	close(fd);
	free(buf);
	char *text = xasprintf("%s/text.txt", dir);
	put_text("", "text.txt", "this is not an ISO image\n");
	char *empty = xasprintf("%s/empty.bin", dir);
	put("", "empty.bin", 0, 0);
	const char *files[] = {p, text, empty};
	for (size_t i = 0; i < 3; i++) {
		struct iso_installer o;
		struct err err = {0};
		errno = 0;
		CHECK(iso_find_installer(files[i], &o, &err) == -1 && errno == EINVAL);
		CHECK(o.n_tried == 0);
		CHECK(strstr(err.msg, "not an ISO 9660 image") != NULL);
		errno = 0;
		CHECK(iso_extract(files[i], "/x", 1, 100, NULL, &err) == -1 &&
		      errno == EINVAL);
	}
	free(p);
	free(text);
	free(empty);
}

static void missing_and_directory(void)
{
	struct iso_installer o;
	struct err err = {0};
	char *p = xasprintf("%s/no-such.iso", dir);
	memset(&o, 0xff, sizeof o);
	errno = 0;
	CHECK(iso_find_installer(p, &o, &err) == -1 && errno == ENOENT);
	CHECK(o.n_tried == 0);
	CHECK(strstr(err.msg, "does not exist") != NULL);
	errno = 0;
	CHECK(iso_extract(p, "/x", 1, 100, NULL, &err) == -1 && errno == ENOENT);
	errno = 0;
	CHECK(iso_find_installer(dir, &o, &err) == -1 && errno == EISDIR);
	CHECK(o.n_tried == 0);
	/* A FIFO without a writer: refused at once, not waited on. */
	char *fifo = xasprintf("%s/fifo", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	errno = 0;
	CHECK(iso_find_installer(fifo, &o, &err) == -1 && errno == EINVAL);
	unlink(fifo);
	free(fifo);
	free(p);
}

/* ---- extraction --------------------------------------------------------------------------- */

static int64_t extract_to(const char *iso, const char *path, uint64_t max, atomic_bool *cancel,
			  off_t *written, struct err *err)
{
	char *out = xasprintf("%s/out", dir);
	unlink(out);
	int fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600);
	int64_t n = iso_extract(iso, path, fd, max, cancel, err);
	int e = errno;
	struct stat st;
	fstat(fd, &st);
	*written = st.st_size;
	close(fd);
	unlink(out);
	free(out);
	errno = e;
	return n;
}

static void extract_limits(void)
{
	char *iso = xasprintf("%s/deb.iso", dir); /* from debian_xen */
	struct err err = {0};
	off_t w;
	errno = 0;
	CHECK(extract_to(iso, "/install.amd/xen/initrd.gz", INITRD_SIZE - 1, NULL, &w, &err) == -1 && errno == EFBIG);
	CHECK(w == 0);
	CHECK(extract_to(iso, "/install.amd/xen/initrd.gz", INITRD_SIZE, NULL, &w, &err) == INITRD_SIZE);
	CHECK(w == INITRD_SIZE);
	atomic_bool cancel = true;
	errno = 0;
	CHECK(extract_to(iso, "/install.amd/xen/initrd.gz", ISO_EXTRACT_MAX, &cancel, &w, &err) == -1 && errno == ECANCELED);
	CHECK(w == 0);
	errno = 0;
	CHECK(extract_to(iso, "/install.amd/xen/nothing", ISO_EXTRACT_MAX, NULL, &w, &err) == -1 && errno == ENOENT);
	errno = 0;
	CHECK(extract_to(iso, "/install.amd/xen", ISO_EXTRACT_MAX, NULL, &w, &err) ==
	      -1 && errno == EISDIR);
	errno = 0;
	CHECK(extract_to(iso, "/", ISO_EXTRACT_MAX, NULL, &w, &err) == -1 &&
	      errno == EINVAL);
	/* Writing fails: the errno of write(2). */
	int ro = open(iso, O_RDONLY);
	errno = 0;
	CHECK(iso_extract(iso, "/install.amd/xen/vmlinuz", ro, ISO_EXTRACT_MAX, NULL, &err) == -1 && errno == EBADF);
	close(ro);
	free(iso);
}

/* The first block of file data, as xorriso reports it. */
static long first_data_block(const char *iso)
{
	char *cmd = xasprintf("xorriso -indev '%s' -find / -type f -exec report_lba -- 2>/dev/null",
			      iso);
	FILE *f = popen(cmd, "r");
	free(cmd);
	long min = -1;
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		long lba;
		if (sscanf(line, "File data lba: %*d , %ld ,", &lba) == 1 && (min < 0 || lba < min))
			min = lba;
	}
	if (f)
		pclose(f);
	return min;
}

static char *copy_image(const char *from, const char *name)
{
	char *to = xasprintf("%s/%s", dir, name);
	CHECK(sh("cp '%s' '%s'", from, to) == 0);
	return to;
}

static void truncated(void)
{
	char *deb = xasprintf("%s/deb.iso", dir);
	long first = first_data_block(deb);
	CHECK(first > 16);
	/* Cut after the directories, before any file data: the installer is still found (the
	 * directories say where it was), its extraction fails with EIO and writes nothing. */
	char *cut = copy_image(deb, "cut.iso");
	CHECK(truncate(cut, (off_t)first * 2048) == 0);
	struct iso_installer o;
	struct err err = {0};
	CHECK(find(cut, &o, &err) == 0);
	CHECK_STR(o.source, "debian-xen");
	off_t w;
	errno = 0;
	CHECK(extract_to(cut, o.initrd, ISO_EXTRACT_MAX, NULL, &w, &err) == -1 &&
	      errno == EIO);
	CHECK(w == 0);
	CHECK(strstr(err.msg, "truncated") != NULL);
	errno = 0;
	CHECK(extract_to(cut, o.kernel, ISO_EXTRACT_MAX, NULL, &w, &err) == -1 &&
	      errno == EIO);

	/* Cut inside the initrd. */
	CHECK(truncate(cut, 0) == 0);
	CHECK(sh("head -c %u '%s' > '%s'", (unsigned)(first * 2048 + 2 * MIB), deb, cut) == 0);
	errno = 0;
	CHECK(extract_to(cut, "/install.amd/xen/initrd.gz", ISO_EXTRACT_MAX, NULL, &w, &err) == -1 && errno == EIO);

	/* Cut anywhere in the volume descriptors and directories. */
	for (long at = 1; at < first; at++) {
		CHECK(sh("head -c %ld '%s' > '%s'", at * 2048, deb, cut) == 0);
		errno = 0;
		int r = iso_find_installer(cut, &o, &err);
		CHECK(r == 0 || errno == EINVAL || errno == EIO);
		if (at <= 17)
			CHECK(r == -1 && errno == EINVAL);
	}
	free(cut);
	free(deb);
}

/* ---- damaged images ----------------------------------------------------------------------- */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put733(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
		p[7 - i] = (uint8_t)(v >> (8 * i));
	}
}

static uint8_t *load(const char *path, size_t *len)
{
	char *data = read_file(path, 64 * MIB, len);
	CHECK(data != NULL);
	return (uint8_t *)data;
}

static void save(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

/* The record named id in the primary root directory of the image in memory, or NULL. */
static uint8_t *root_record(uint8_t *img, size_t len, const char *id)
{
	uint8_t *pvd = img + 16 * 2048;
	uint32_t lsn = get32(pvd + 156 + 2), size = get32(pvd + 156 + 10);
	if ((uint64_t)lsn * 2048 + size > len)
		return NULL;
	for (uint32_t off = 0; off < size;) {
		uint8_t *r = img + (size_t)lsn * 2048 + off;
		if (r[0] == 0) {
			off = (off / 2048 + 1) * 2048;
			continue;
		}
		if (r[32] == strlen(id) && memcmp(r + 33, id, r[32]) == 0)
			return r;
		off += r[0];
	}
	return NULL;
}

/* Finding and extracting either works or fails with one of the documented errors. */
static void survive(const char *iso)
{
	struct iso_installer o;
	struct err err = {0};
	errno = 0;
	int r = iso_find_installer(iso, &o, &err);
	CHECK(r == 0 || errno == ENOENT || errno == EINVAL || errno == EIO);
	CHECK(o.n_tried <= ISO_MAX_TRIED);
	if (r == 0) {
		off_t w;
		errno = 0;
		int64_t n = extract_to(iso, o.initrd, 8 * MIB, NULL, &w, &err);
		CHECK(n == (int64_t)w);
		CHECK(n >= 0 || errno == EIO || errno == EFBIG || errno == EINVAL);
	}
}

static void damaged_directories(void)
{
	put("dmg", "install.amd/xen/vmlinuz", 3000, 61);
	put("dmg", "install.amd/xen/initrd.gz", 5000, 62);
	put("dmg", "isolinux/vmlinuz", 10, 63);
	put("dmg", "isolinux/initrd.img", 10, 64);
	char *iso = mkiso("dmg", "--norock");
	size_t len;
	uint8_t *img = load(iso, &len);
	char *bad = xasprintf("%s/bad.iso", dir);
	struct iso_installer o;
	struct err err = {0};

	/* A directory of 0xffffffff bytes (libiso9660 2.1.0 overflows its buffer on this). */
	uint8_t *copy = xmalloc(len);
	memcpy(copy, img, len);
	uint8_t *r = root_record(copy, len, "INSTALL.AMD");
	CHECK(r != NULL);
	if (r) {
		put733(r + 10, 0xffffffff);
		save(bad, copy, len);
		errno = 0;
		CHECK(iso_find_installer(bad, &o, &err) == -1 && errno == EIO);
	}
	/* A directory far beyond the end of the image. */
	memcpy(copy, img, len);
	r = root_record(copy, len, "INSTALL.AMD");
	if (r) {
		put733(r + 2, 0x7ffffff0);
		save(bad, copy, len);
		errno = 0;
		CHECK(iso_find_installer(bad, &o, &err) == -1 && errno == EIO);
		put733(r + 2, 0xfffffff0);
		save(bad, copy, len);
		errno = 0;
		CHECK(iso_find_installer(bad, &o, &err) == -1 && errno == EIO);
	}
	/* A directory that is its own parent's parent: a loop that lookups walk only as deep as
	 * their path. The next candidates are still found. */
	memcpy(copy, img, len);
	r = root_record(copy, len, "INSTALL.AMD");
	if (r) {
		memcpy(r + 2, copy + 16 * 2048 + 156 + 2, 8);
		memcpy(r + 10, copy + 16 * 2048 + 156 + 10, 8);
		save(bad, copy, len);
		CHECK(find(bad, &o, &err) == 0);
		CHECK_STR(o.source, "rhel-isolinux");
	}
	/* The root directory's block filled with records up to its end, the last one with a name
	 * of 255 bytes in a record of 40 (libiso9660 2.1.0 copies that name from past the end of
	 * its buffer). */
	memcpy(copy, img, len);
	uint8_t *pvd = copy + 16 * 2048;
	uint8_t *root = copy + (size_t)get32(pvd + 156 + 2) * 2048;
	size_t off = 0;
	while (off < 2048 && root[off])
		off += root[off];
	while (off < 2048) {
		size_t left = 2048 - off, n = left > 200 + 40 ? 200 : left;
		memset(root + off, 'F', n);
		root[off] = (uint8_t)n;
		root[off + 25] = 0;
		root[off + 32] = n == left ? 255 : 1;
		put733(root + off + 2, 20);
		put733(root + off + 10, 1);
		off += n;
	}
	save(bad, copy, len);
	survive(bad);
	CHECK(find(bad, &o, &err) == 0);

	/* A record whose name runs past its end, and one that crosses its block. */
	memcpy(copy, img, len);
	r = root_record(copy, len, "INSTALL.AMD");
	if (r) {
		r[32] = 250;
		save(bad, copy, len);
		survive(bad);
		r[32] = 11;
		r[0] = 255;
		save(bad, copy, len);
		survive(bad);
	}
	free(copy);
	free(img);
	free(bad);
	free(iso);
}

/* A file in two extents (ISO 9660's way for files over 4 GiB), made by hand: the record of
 * XA gets the multi-extent flag and XB's record is renamed XA. */
static void multi_extent(void)
{
	put("multi", "xa", 4096, 71);
	put("multi", "xb", 3000, 72);
	char *iso = mkiso("multi", "--norock");
	size_t len;
	uint8_t *img = load(iso, &len);
	uint8_t *a = root_record(img, len, "XA.;1"), *b = root_record(img, len, "XB.;1");
	CHECK(a && b && b == a + a[0]);
	if (a && b) {
		a[25] |= 0x80;
		b[34] = 'A';
		save(iso, img, len);
		CHECK(sh("cat '%s/multi/xa' '%s/multi/xb' > '%s/multi.expected'", dir, dir,
			 dir) == 0);
		char *out = xasprintf("%s/multi.out", dir);
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		struct err err = {0};
		CHECK(iso_extract(iso, "/xa", fd, ISO_EXTRACT_MAX, NULL, &err) == 7096);
		close(fd);
		CHECK(sh("cmp -s '%s' '%s/multi.expected'", out, dir) == 0);
		/* The last part missing: the file is not read at all. */
		a[25] = 0x80;
		b[25] = 0x80;
		save(iso, img, len);
		errno = 0;
		CHECK(iso_extract(iso, "/xa", fd, ISO_EXTRACT_MAX, NULL, &err) == -1 &&
		      errno == EINVAL);
		free(out);
	}
	free(img);
	free(iso);
}

/* Long and deep names in a Rock Ridge image do not get in the way. */
static void long_and_deep(void)
{
	char name[300];
	memset(name, 'n', 250);
	strcpy(name + 250, ".bin");
	put("long", name, 10, 81);
	char deep[600] = "";
	for (int i = 0; i < 40; i++)
		strcat(deep, "d/");
	strcat(deep, "f");
	put("long", deep, 10, 82);
	put("long", "casper/vmlinuz", 10, 83);
	put("long", "casper/initrd.gz", 10, 84);
	put_text("long", "isolinux/isolinux.cfg", "label x\nkernel /d/d/d/d/d/d/d/d/d/d/d/d/f\n");
	char *iso = mkiso("long", "-R -J");
	struct iso_installer o;
	struct err err = {0};
	CHECK(find(iso, &o, &err) == 0);
	CHECK_STR(o.source, "ubuntu");
	char *p = xasprintf("/%s", name);
	char *out = xasprintf("%s/long.out", dir);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(iso_extract(iso, p, fd, 100, NULL, &err) == 10);
	CHECK(iso_extract(iso, "/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d"
			  "/d/d/d/d/d/d/d/f", fd, 100, NULL, &err) == 10);
	close(fd);
	free(out);
	free(p);
	free(iso);
}

/* Images with random bytes changed in their volume descriptors and directories. */
static void random_damage(void)
{
	char *src = xasprintf("%s/dmg.iso", dir);
	size_t len;
	uint8_t *img = load(src, &len);
	char *rr = xasprintf("%s/deb.iso", dir);
	size_t rlen;
	uint8_t *rimg = load(rr, &rlen);
	long first = first_data_block(src), rfirst = first_data_block(rr);
	CHECK(first > 16 && rfirst > 16);
	char *bad = xasprintf("%s/random.iso", dir);
	uint8_t *copy = xmalloc(rlen > len ? rlen : len);
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 400 && first > 16 && rfirst > 16; i++) {
		bool use_rr = i % 2;
		const uint8_t *base = use_rr ? rimg : img;
		size_t n = use_rr ? rlen : len;
		long meta = use_rr ? rfirst : first;
		memcpy(copy, base, n);
		int flips = 1 + i % 16;
		for (int f = 0; f < flips; f++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t at = 16 * 2048 + (size_t)(x % ((uint64_t)(meta - 16) * 2048));
			copy[at] = (uint8_t)(x >> 32);
		}
		save(bad, copy, n);
		survive(bad);
	}
	free(copy);
	free(bad);
	free(rimg);
	free(rr);
	free(img);
	free(src);
}

/* ---- threads ------------------------------------------------------------------------------ */

static void *finder(void *arg)
{
	const char *const *isos = arg;
	for (int i = 0; i < 20; i++)
		for (int k = 0; isos[k]; k++) {
			struct iso_installer o;
			struct err err = {0};
			int r = iso_find_installer(isos[k], &o, &err);
			if (k == 0 && (r != 0 || strcmp(o.source, "debian-xen") != 0))
				return (void *)1;
		}
	return NULL;
}

static void threads(void)
{
	char *deb = xasprintf("%s/deb.iso", dir), *rnd = xasprintf("%s/random.bin", dir),
	     *bad = xasprintf("%s/bad.iso", dir), *cut = xasprintf("%s/cut.iso", dir);
	const char *isos[] = {deb, rnd, bad, cut, NULL};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, finder, isos) == 0);
	for (int i = 0; i < 4; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		CHECK(ret == NULL);
	}
	free(deb);
	free(rnd);
	free(bad);
	free(cut);
}

int main(void)
{
	if (sh("command -v xorriso >/dev/null 2>&1") != 0) {
		printf("not ok 1 - xorriso is not installed (a required test dependency)\n1..1\n");
		return EXIT_FAILURE;
	}
	snprintf(dir, sizeof dir, "/tmp/vmd-test-iso.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	RUN(debian_xen);
	RUN(candidate_order);
	RUN(plain_iso9660);
	RUN(joliet_only);
	RUN(isolinux_menu);
	RUN(grub_menu);
	RUN(kernel_without_initrd);
	RUN(menu_not_a_file);
	RUN(empty_image);
	RUN(not_an_image);
	RUN(missing_and_directory);
	RUN(extract_limits);
	RUN(truncated);
	RUN(damaged_directories);
	RUN(multi_extent);
	RUN(long_and_deep);
	RUN(random_damage);
	RUN(threads);
	if (!test_failures)
		sh("rm -rf '%s'", dir);
	else
		fprintf(stderr, "images kept in %s\n", dir);
	TEST_DONE();
}
