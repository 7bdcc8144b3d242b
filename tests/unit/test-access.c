/*
 * test-access.c: who may write (credentials -> rights), the peer credentials the kernel
 * reports over a real socket pair, and the storage-root checks on paths (symlinks, "..",
 * files that do not exist yet) and on whole guest configs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "conf.h"
#include "config.h"
#include "test.h"
#include "util.h"
#include "vmd-proto.h"

static char base[] = "/tmp/vmd-test-access.XXXXXX";

static char *at(const char *rel)
{
	return xasprintf("%s/%s", base, rel);
}

static void touch(const char *rel)
{
	char *p = at(rel);
	CHECK(write_file_atomic(p, "x", 1, 0644) == 0);
	free(p);
}

static void link_to(const char *target, const char *rel)
{
	char *p = at(rel);
	CHECK(symlink(target, p) == 0);
	free(p);
}

static void rights(void)
{
	gid_t groups[] = {100, 27, 4242};
	struct peer p = {.uid = 1000, .gid = 1000, .groups = groups, .n_groups = 3,
			 .groups_known = true};
	/* A member through a supplementary group, through the primary group, and not at all. */
	CHECK(access_can_write(&p, 0, true, 4242));
	CHECK(access_can_write(&p, 0, true, 1000));
	CHECK(!access_can_write(&p, 0, true, 4243));
	/* Without the group on this host only root and the daemon's uid may write. */
	CHECK(!access_can_write(&p, 0, false, 4242));
	CHECK(access_can_write(&p, 1000, false, 4242));
	struct peer root = {.uid = 0, .gid = 0};
	CHECK(access_can_write(&root, 500, false, 0));
	struct peer nobody = {.uid = 65534, .gid = 65534};
	CHECK(!access_can_write(&nobody, 0, true, 4242));
	CHECK(!access_can_write(&nobody, 0, true, 0)); /* gid 0 as the group: still not nobody */

	CHECK(access_unrestricted(0, 1000));
	CHECK(access_unrestricted(1000, 1000));
	CHECK(!access_unrestricted(1001, 1000));
}

static void peer_credentials(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct peer p;
	CHECK(access_peer_read(sv[0], &p) == 0);
	CHECK(p.uid == geteuid());
	CHECK(p.gid == getegid());
	CHECK(p.pid == getpid());
	/* SO_PEERGROUPS: the supplementary groups of the process that made the socket. */
	int n = getgroups(0, NULL);
	gid_t *mine = xcalloc((size_t)n + 1, sizeof(gid_t));
	CHECK(getgroups(n, mine) == n);
	CHECK(p.groups_known);
	CHECK(p.n_groups == (size_t)n);
	for (int i = 0; i < n && p.n_groups == (size_t)n; i++) {
		bool found = false;
		for (size_t j = 0; j < p.n_groups; j++)
			found |= p.groups[j] == mine[i];
		CHECK(found);
	}
	free(mine);
	access_peer_finish(&p);
	CHECK(p.groups == NULL);
	close(sv[0]);
	close(sv[1]);
	/* Not a socket: an error, never made-up credentials. */
	CHECK(access_peer_read(1000, &p) < 0);
}

static void paths(void)
{
	char *img = at("img"), *iso = at("iso"), *out = at("out"), *img2 = at("img2");
	CHECK(mkdir(img, 0755) == 0 && mkdir(iso, 0755) == 0 && mkdir(out, 0755) == 0 &&
	      mkdir(img2, 0755) == 0);
	touch("img/disk.raw");
	touch("out/secret");
	touch("img2/disk.raw");
	link_to("../out/secret", "img/escape");    /* relative symlink out of the root */
	link_to("disk.raw", "img/alias");           /* symlink inside it */
	link_to(img, "imglink");                    /* a root given through a symlink */
	char *roots[] = {img, iso};
	struct err why = {0};

	char *p = at("img/disk.raw");
	CHECK(access_path_allowed(p, roots, 2, &why) == 0);
	free(p);
	p = at("img/alias");
	CHECK(access_path_allowed(p, roots, 2, &why) == 0);
	free(p);
	p = at("img/escape");
	CHECK(access_path_allowed(p, roots, 2, &why) < 0);
	CHECK(strstr(why.msg, "resolved to") && strstr(why.msg, "/out/secret") &&
	      strstr(why.msg, "outside the storage roots"));
	free(p);
	p = at("img/../out/secret");
	CHECK(access_path_allowed(p, roots, 2, &why) < 0);
	free(p);
	/* A sibling whose name starts like the root is not inside it. */
	p = at("img2/disk.raw");
	CHECK(access_path_allowed(p, roots, 2, &why) < 0);
	free(p);
	/* The root itself, reached through a symlink to it, and a root named by a symlink. */
	p = at("imglink/disk.raw");
	CHECK(access_path_allowed(p, roots, 2, &why) == 0);
	free(p);
	char *lroot = at("imglink");
	char *lroots[] = {lroot};
	p = at("img/disk.raw");
	CHECK(access_path_allowed(p, lroots, 1, &why) == 0);
	free(p);
	free(lroot);
	/* Not there yet (a clone target): judged by its directory. */
	p = at("iso/new.img");
	CHECK(access_path_allowed(p, roots, 2, &why) == 0);
	free(p);
	p = at("out/new.img");
	CHECK(access_path_allowed(p, roots, 2, &why) < 0);
	free(p);
	p = at("img/nodir/new.img");
	CHECK(access_path_allowed(p, roots, 2, &why) < 0);
	CHECK(strstr(why.msg, "cannot resolve") != NULL);
	free(p);
	/* A dangling symlink inside the root pointing out: its target's directory decides. */
	char *dangling = xasprintf("%s/newfile", out);
	link_to(dangling, "img/dangling");
	free(dangling);
	p = at("img/dangling");
	CHECK(access_path_allowed(p, roots, 2, &why) < 0);
	free(p);
	CHECK(access_path_allowed("relative/disk.raw", roots, 2, &why) < 0);
	CHECK(access_path_allowed(NULL, roots, 2, &why) < 0);
	/* No roots: nothing is allowed; "/" as a root: everything. */
	p = at("img/disk.raw");
	CHECK(access_path_allowed(p, roots, 0, &why) < 0);
	char *slash[] = {"/"};
	CHECK(access_path_allowed(p, slash, 1, &why) == 0);
	CHECK(access_path_allowed("/etc/passwd", slash, 1, &why) == 0);
	free(p);
	free(img);
	free(iso);
	free(out);
	free(img2);
	err_clear(&why);
}

/* A guest whose files are all in the storage root img: kernel and ramdisk (the ramdisk
 * through a symlink inside the root), a disk, two empty cdrom drives (no target; target "")
 * and a vif with a script of /etc/xen/scripts by name. What is given replaces that part
 * (NULL: the good one); extra lines are added at the end. */
struct parts {
	const char *type;   /* "pv" */
	const char *kernel; /* a line for kernel and ramdisk, "" for none */
	const char *disks;  /* the disk list's items */
	const char *vifs;   /* the vif list's items */
	const char *extra;
};

static int make(struct vm_config *cfg, struct parts p)
{
	char *kernel = at("img/disk.raw"), *ramdisk = at("img/alias"), *disk = at("img/disk.raw");
	char *kline = xasprintf("kernel = \"%s\"\nramdisk = \"%s\"\n", kernel, ramdisk);
	char *dlist = xasprintf("\"format=raw, vdev=xvda, access=rw, target=%s\", "
				"\"vdev=xvdc, devtype=cdrom\", \",xvdd:cdrom,r\"", disk);
	int r = cfg_text(cfg, "name = \"g\"\ntype = \"%s\"\n%sdisk = [ %s ]\nvif = [ %s ]\n%s",
			 p.type ? p.type : "pv", p.kernel ? p.kernel : kline,
			 p.disks ? p.disks : dlist, p.vifs ? p.vifs : "\"script=vif-route\"",
			 p.extra ? p.extra : "");
	free(kernel);
	free(ramdisk);
	free(disk);
	free(kline);
	free(dlist);
	return r;
}

/* The config of p is refused with PERMISSION naming key (and path, when not NULL). */
static void refused(struct parts p, char *const *roots, const char *key, const char *path)
{
	struct vm_config cfg;
	struct err why = {0};
	if (make(&cfg, p) < 0)
		return;
	CHECK(access_check_config(&cfg, roots, 1, &why) < 0);
	CHECK(why.code == VMD_ERR_PERMISSION);
	CHECK_STR(err_data_str(&why, "key"), key);
	if (path)
		CHECK_STR(err_data_str(&why, "path"), path);
	if (why.code != VMD_ERR_PERMISSION || !err_data_str(&why, "key") ||
	    strcmp(err_data_str(&why, "key"), key) != 0)
		fprintf(stderr, "  (expected a refusal of %s, got: %s)\n", key, why.msg);
	vm_config_finish(&cfg);
	err_clear(&why);
}

static void allowed(struct parts p, char *const *roots)
{
	struct vm_config cfg;
	struct err why = {0};
	if (make(&cfg, p) < 0)
		return;
	CHECK(access_check_config(&cfg, roots, 1, &why) == 0);
	if (why.code)
		fprintf(stderr, "  (refused: %s)\n", why.msg);
	vm_config_finish(&cfg);
	err_clear(&why);
}

static void configs(void)
{
	char *img = at("img");
	char *roots[] = {img};

	allowed((struct parts){0}, roots);
	refused((struct parts){.kernel = "kernel = \"/etc/passwd\"\n"}, roots, "kernel",
		"/etc/passwd");

	char *escape = at("img/escape");
	char *d = xasprintf("\"format=raw, vdev=xvda, access=rw, target=%s\"", escape);
	refused((struct parts){.disks = d}, roots, "disk", escape);
	free(d);
	free(escape);

	refused((struct parts){.disks = "\"vdev=xvda, script=block-iscsi, "
					"target=iqn.2001-05.com.example:disk\""},
		roots, "disk", "block-iscsi");
	refused((struct parts){.vifs = "\"script=/tmp/evil-script\""}, roots, "vif",
		"/tmp/evil-script");

	/* pygrub, with the options that only choose what to boot */
	allowed((struct parts){.kernel = "bootloader = \"pygrub\"\n"
					 "bootloader_args = [ \"--entry=1\", "
					 "\"--args=console=hvc0\" ]\n"},
		roots);
	refused((struct parts){.kernel = "bootloader = \"pygrub\"\n"
					 "bootloader_args = [ \"--entry=1\", "
					 "\"--output-directory=/etc\" ]\n"},
		roots, "bootloader_args", NULL);
	/* a program by path, even inside a root */
	char *prog = at("img/disk.raw");
	char *bl = xasprintf("bootloader = \"%s\"\n"
			     "bootloader_args = [ \"--output-directory=/etc\" ]\n", prog);
	refused((struct parts){.kernel = bl}, roots, "bootloader", prog);
	free(bl);
	free(prog);

	allowed((struct parts){.type = "hvm", .extra = "serial = \"pty\"\n"}, roots);
	allowed((struct parts){.type = "hvm", .extra = "serial = [ \"pty\", \"none\" ]\n"}, roots);
	refused((struct parts){.type = "hvm", .extra = "serial = \"file:/etc/shadow\"\n"}, roots,
		"serial", NULL);
	free(img);
}

/* What only root may set: keys flagged so in the key table, files outside the roots under
 * any path key, other domains' backends, targets that are not files, host devices. */
static void root_only(void)
{
	char *img = at("img");
	char *roots[] = {img};

	/* keys that reach into dom0 or the hardware, refused whatever their value */
	refused((struct parts){.extra = "pci = [ \"0000:00:1b.0\" ]\n"}, roots, "pci", NULL);
	refused((struct parts){.type = "hvm", .extra = "device_model_args = [ \"-s\" ]\n"}, roots,
		"device_model_args", NULL);
	refused((struct parts){.extra = "seclabel = \"system_u:system_r:domU_t\"\n"}, roots,
		"seclabel", NULL);
	refused((struct parts){.extra = "iomem = [ \"fe000,1\" ]\n"}, roots, "iomem", NULL);

	/* every path key is held to the storage roots, not only kernel */
	refused((struct parts){.kernel = "kernel = \"/etc/passwd\"\n"
					 "ramdisk = \"/etc/shadow\"\n"},
		roots, "kernel", "/etc/passwd");
	char *k = at("img/disk.raw");
	char *line = xasprintf("kernel = \"%s\"\nramdisk = \"/etc/shadow\"\n", k);
	refused((struct parts){.kernel = line}, roots, "ramdisk", "/etc/shadow");
	free(line);
	free(k);
	refused((struct parts){.type = "hvm", .extra = "acpi_firmware = \"/etc/passwd\"\n"}, roots,
		"acpi_firmware", "/etc/passwd");
	char *inroot = at("img/disk.raw");
	char *fw = xasprintf("acpi_firmware = \"%s\"\n", inroot);
	allowed((struct parts){.type = "hvm", .extra = fw}, roots);
	free(fw);

	/* disks: another domain's backend, a target that is not a file */
	char *disk = xasprintf("\"format=raw, vdev=xvda, access=rw, backend=stor, target=%s\"",
			       inroot);
	refused((struct parts){.disks = disk}, roots, "disk", NULL);
	free(disk);
	refused((struct parts){.disks = "\"format=raw, vdev=xvda, backendtype=qdisk, "
					"target=nbd:storage.example:10809\""},
		roots, "disk", "nbd:storage.example:10809");
	free(inroot);

	/* vifs: another domain's backend (a script by name is fine, see configs) */
	refused((struct parts){.vifs = "\"bridge=br0, backend=netdom\""}, roots, "vif", NULL);

	/* HVM serial: only pty or none, also as one item of a list */
	refused((struct parts){.type = "hvm", .extra = "serial = \"tcp::4555,server,nowait\"\n"},
		roots, "serial", NULL);
	refused((struct parts){.type = "hvm", .extra = "serial = [ \"pty\", \"/dev/ttyS0\" ]\n"},
		roots, "serial", NULL);

	/* usbdevice: emulated devices are fine, a host device is not */
	allowed((struct parts){.type = "hvm", .extra = "usb = 1\nusbdevice = \"tablet\"\n"}, roots);
	refused((struct parts){.type = "hvm", .extra = "usb = 1\nusbdevice = \"host:1234:5678\"\n"},
		roots, "usbdevice", NULL);
	refused((struct parts){.type = "hvm",
			       .extra = "usb = 1\nusbdevice = [ \"tablet\", \"host:1.2\" ]\n"},
		roots, "usbdevice", NULL);
	free(img);
}

/* The form ops use: the caller's uid and the storage roots of the configuration in force. */
static void caller_paths(void)
{
	struct vmd_conf c;
	struct err why = {0};
	conf_init(&c);
	free(c.storage_roots[0]);
	c.storage_roots[0] = at("img");
	conf_set_active(&c);
	char *in = at("img/new.img"), *out = at("out/new.img");
	CHECK(access_check_caller_path(0, out, &why) == 0);
	CHECK(access_check_caller_path(geteuid(), out, &why) == 0);
	uid_t other = geteuid() == 0 ? 65534 : 0;
	if (other) {
		CHECK(access_check_caller_path(other, in, &why) == 0);
		CHECK(access_check_caller_path(other, out, &why) < 0);
	}
	conf_set_active(NULL);
	conf_finish(&c);
	free(in);
	free(out);
	err_clear(&why);
}

static void cleanup(void)
{
	char *cmd = xasprintf("rm -rf '%s'", base);
	CHECK(system(cmd) == 0);
	free(cmd);
}

int main(void)
{
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(rights);
	RUN(peer_credentials);
	RUN(paths);
	RUN(configs);
	RUN(root_only);
	RUN(caller_paths);
	cleanup();
	TEST_DONE();
}
