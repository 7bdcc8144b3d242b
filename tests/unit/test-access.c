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

/* A pv guest whose files are all in the storage root img. */
static void good_config(struct vm_config *cfg)
{
	vm_config_init(cfg);
	cfg->name = xstrdup("g");
	cfg->kernel = at("img/disk.raw");
	cfg->ramdisk = at("img/alias");
	cfg->n_disks = 2;
	cfg->disks = xcalloc(2, sizeof *cfg->disks);
	cfg->disks[0].vdev = xstrdup("xvda");
	cfg->disks[0].target = at("img/disk.raw");
	cfg->disks[1].vdev = xstrdup("xvdc");
	cfg->disks[1].cdrom = true; /* empty drive: no target */
	cfg->n_vifs = 1;
	cfg->vifs = xcalloc(1, sizeof *cfg->vifs);
	cfg->vifs[0].script = xstrdup("vif-route");
}

static void configs(void)
{
	char *img = at("img");
	char *roots[] = {img};
	struct err why = {0};
	struct vm_config cfg;

	good_config(&cfg);
	CHECK(access_check_config(&cfg, roots, 1, &why) == 0);
	vm_config_finish(&cfg);

	good_config(&cfg);
	free(cfg.kernel);
	cfg.kernel = xstrdup("/etc/passwd");
	CHECK(access_check_config(&cfg, roots, 1, &why) < 0);
	CHECK_STR(err_data_str(&why, "key"), "kernel");
	CHECK_STR(err_data_str(&why, "path"), "/etc/passwd");
	vm_config_finish(&cfg);

	good_config(&cfg);
	free(cfg.disks[0].target);
	cfg.disks[0].target = at("img/escape");
	CHECK(access_check_config(&cfg, roots, 1, &why) < 0);
	CHECK_STR(err_data_str(&why, "key"), "disk");
	vm_config_finish(&cfg);

	good_config(&cfg);
	cfg.disks[0].script = xstrdup("block-iscsi");
	CHECK(access_check_config(&cfg, roots, 1, &why) < 0);
	CHECK_STR(err_data_str(&why, "key"), "disk");
	vm_config_finish(&cfg);

	good_config(&cfg);
	free(cfg.vifs[0].script);
	cfg.vifs[0].script = xstrdup("/tmp/evil-script");
	CHECK(access_check_config(&cfg, roots, 1, &why) < 0);
	CHECK_STR(err_data_str(&why, "key"), "vif");
	vm_config_finish(&cfg);

	good_config(&cfg);
	free(cfg.kernel);
	free(cfg.ramdisk);
	cfg.kernel = cfg.ramdisk = NULL;
	cfg.bootloader = xstrdup("pygrub");
	cfg.n_bootloader_args = 2;
	cfg.bootloader_args = xcalloc(2, sizeof(char *));
	cfg.bootloader_args[0] = xstrdup("--entry=1");
	cfg.bootloader_args[1] = xstrdup("--args=console=hvc0");
	CHECK(access_check_config(&cfg, roots, 1, &why) == 0);
	free(cfg.bootloader_args[1]);
	cfg.bootloader_args[1] = xstrdup("--output-directory=/etc");
	CHECK(access_check_config(&cfg, roots, 1, &why) < 0);
	CHECK_STR(err_data_str(&why, "key"), "bootloader_args");
	free(cfg.bootloader);
	cfg.bootloader = at("img/disk.raw"); /* a program by path, even inside a root */
	CHECK(access_check_config(&cfg, roots, 1, &why) < 0);
	CHECK_STR(err_data_str(&why, "key"), "bootloader");
	vm_config_finish(&cfg);

	good_config(&cfg);
	cfg.type = VM_TYPE_HVM;
	cfg.serial = xstrdup("pty");
	CHECK(access_check_config(&cfg, roots, 1, &why) == 0);
	free(cfg.serial);
	cfg.serial = xstrdup("file:/etc/shadow");
	CHECK(access_check_config(&cfg, roots, 1, &why) < 0);
	CHECK_STR(err_data_str(&why, "key"), "serial");
	vm_config_finish(&cfg);
	free(img);
	err_clear(&why);
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
	RUN(caller_paths);
	cleanup();
	TEST_DONE();
}
