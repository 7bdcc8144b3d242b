/*
 * test-config.c: the guest definition as a value (config.h): init, finish, copy and
 * equality, the accessors the core reads through (libxl's defaults where the text is
 * silent), names, and the installed system's definition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "test.h"
#include "util.h"
#include "xlcfg.h"

static const char base[] = "# a comment that stays\n"
			   "name = 'web'\ntype = 'hvm'\nuuid = '4f1b3b9c-6a2e-4d3f-9b1a-2c3d4e5f6a7b'\n"
			   "memory = 1024\nmaxmem = 2048\nvcpus = 2\nmaxvcpus = 4\n"
			   "disk = [ '/srv/w.img,,xvda,w', '/srv/i.iso,,hdc:cdrom,r' ]\n"
			   "vif = [ 'mac=00:16:3e:00:00:01, bridge=br0' ]\n"
			   "boot = 'dc'\non_crash = 'preserve'\n";

static void test_init_finish(void)
{
	struct vm_config c;
	vm_config_init(&c);
	CHECK(c.name == NULL && c.text == NULL && c.dc.num_disks == 0 && c.n_warnings == 0);
	vm_config_finish(&c); /* an empty one */
	CHECK(cfg_text(&c, "%s", base) == 0);
	CHECK_STR(c.name, "web");
	CHECK(c.type == VM_TYPE_HVM && c.has_uuid && c.uuid[0] == 0x4f && c.uuid[15] == 0x7b);
	CHECK_STR(c.text, base);
	vm_config_finish(&c);
	CHECK(c.name == NULL && c.text == NULL && c.dc.num_disks == 0);
	vm_config_finish(&c); /* twice is fine */
}

static void test_copy_is_deep(void)
{
	struct vm_config a, b;
	struct err err = {0};
	CHECK(cfg_text(&a, "%s", base) == 0);
	CHECK(vm_config_copy(&b, &a, &err) == 0);
	CHECK(vm_config_equal(&a, &b));
	vm_config_finish(&a);
	/* b lives on its own */
	CHECK_STR(b.name, "web");
	CHECK_STR(b.dc.disks[0].pdev_path, "/srv/w.img");
	CHECK_STR(b.text, base);
	vm_config_finish(&b);
}

/* Every change of meaning is a difference; a change of form (comments, spacing, quotes) is
 * none. */
static void test_equal(void)
{
	static const char *const changes[][2] = {
		{"memory = 1024", "memory = 1025"},   {"maxmem = 2048", "maxmem = 4096"},
		{"vcpus = 2", "vcpus = 3"},	      {"maxvcpus = 4", "maxvcpus = 8"},
		{"'/srv/w.img", "'/srv/x.img"},	      {",,xvda,w", ",,xvdb,w"},
		{",,xvda,w", ",,xvda,r"},	      {"hdc:cdrom", "hdd:cdrom"},
		{"00:00:01", "00:00:02"},	      {"bridge=br0", "bridge=br1"},
		{"boot = 'dc'", "boot = 'c'"},	      {"'preserve'", "'restart'"},
		{"name = 'web'", "name = 'web2'"},    {"6a7b'", "6a7c'"},
	};
	struct vm_config a, b;
	CHECK(cfg_text(&a, "%s", base) == 0);
	for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
		const char *at = strstr(base, changes[i][0]);
		CHECK(at != NULL);
		if (!at)
			continue;
		char *t = xasprintf("%.*s%s%s", (int)(at - base), base, changes[i][1],
				    at + strlen(changes[i][0]));
		CHECK(cfg_text(&b, "%s", t) == 0);
		if (vm_config_equal(&a, &b))
			fprintf(stderr, "equal after %s -> %s\n", changes[i][0], changes[i][1]);
		CHECK(!vm_config_equal(&a, &b));
		vm_config_finish(&b);
		free(t);
	}
	CHECK(cfg_text(&b, "%s\n# another comment\nmemory=1024 # the same\n", base) == 0);
	CHECK(vm_config_equal(&a, &b));
	vm_config_finish(&b);
	vm_config_finish(&a);
	/* without a uuid, each parse draws one: equal anyway */
	CHECK(cfg_text(&a, "name = 'n'\nkernel = '/k'\n") == 0);
	CHECK(cfg_text(&b, "name = 'n'\nkernel = '/k'\n") == 0);
	CHECK(!a.has_uuid && memcmp(a.uuid, b.uuid, 16) != 0);
	CHECK(vm_config_equal(&a, &b));
	vm_config_finish(&a);
	vm_config_finish(&b);
}

static void test_accessors(void)
{
	struct vm_config c;
	CHECK(cfg_text(&c, "%s", base) == 0);
	CHECK(vm_config_memory_mib(&c) == 1024 && vm_config_maxmem_mib(&c) == 2048);
	CHECK(vm_config_vcpus(&c) == 2 && vm_config_maxvcpus(&c) == 4);
	CHECK(vm_config_action(&c, "on_crash") == VM_ACTION_PRESERVE);
	CHECK(vm_config_vnc(&c));
	CHECK_STR(vm_config_disk_file(&c.dc.disks[0]), "/srv/w.img");
	vm_config_finish(&c);
	/* libxl's defaults */
	CHECK(cfg_text(&c, "name = 'n'\nkernel = '/k'\n") == 0);
	CHECK(vm_config_memory_mib(&c) == 32 && vm_config_maxmem_mib(&c) == 32);
	CHECK(vm_config_vcpus(&c) == 1 && vm_config_maxvcpus(&c) == 1);
	CHECK(!vm_config_vnc(&c));
	vm_config_finish(&c);
	CHECK(cfg_text(&c, "name = 'n'\nkernel = '/k'\nmaxmem = 512\n") == 0);
	CHECK(vm_config_memory_mib(&c) == 512 && vm_config_maxmem_mib(&c) == 512);
	vm_config_finish(&c);
	/* targets that are no file of dom0 */
	CHECK(cfg_text(&c, "name = 'n'\nkernel = '/k'\ndisk = [ ',xvdc:cdrom,r', "
			   "'vdev=xvdb, backendtype=qdisk, target=rbd:pool/x', "
			   "'vdev=xvdd, script=block-iscsi, target=iqn.2001-04.com.example:d' ]\n") == 0);
	for (int i = 0; i < c.dc.num_disks; i++)
		CHECK(vm_config_disk_file(&c.dc.disks[i]) == NULL);
	vm_config_finish(&c);
}

static void test_names(void)
{
	enum vm_type t = VM_TYPE_HVM;
	CHECK(vm_type_parse("pv", &t) == 0 && t == VM_TYPE_PV);
	CHECK(vm_type_parse("pvh", &t) == 0 && t == VM_TYPE_PVH);
	CHECK(vm_type_parse("HVM", &t) == -1 && t == VM_TYPE_PVH);
	CHECK(vm_type_parse(NULL, &t) == -1);
	CHECK_STR(vm_type_name(VM_TYPE_HVM), "hvm");
	CHECK_STR(vm_action_name(VM_ACTION_COREDUMP_RESTART), "coredump-restart");
	CHECK_STR(vm_action_name(VM_ACTION_RENAME_RESTART), "rename-restart");
	static const char *const good[] = {
		"a", "web-01", "centos65_3.pv", "A.B_C-d", "0", "x..y", "trailing.",
		"1234567890123456789012345678901234567890123456789012345678901234", /* 64 */
		NULL,
	};
	static const char *const bad[] = {
		"", ".", "..", "../x", "a/b", "/abs", ".hidden", "my guest", "tab\tx", "nl\n",
		"semi;colon", "quote'", "dq\"", "back\\slash", "ümlaut", "a:b", "a*", "$(x)",
		"12345678901234567890123456789012345678901234567890123456789012345", /* 65 */
		NULL,
	};
	for (size_t i = 0; good[i]; i++)
		CHECK(vm_name_valid(good[i]));
	for (size_t i = 0; bad[i]; i++) {
		if (vm_name_valid(bad[i]))
			fprintf(stderr, "accepted '%s'\n", bad[i]);
		CHECK(!vm_name_valid(bad[i]));
	}
	CHECK(!vm_name_valid(NULL));
}

/* HVM: the cdrom goes (an empty drive too), boot from the disk; all else stays. */
static void test_make_installed_hvm(void)
{
	struct vm_config c, want;
	struct err err = {0};
	CHECK(cfg_text(&c, "%s", base) == 0);
	CHECK(vm_config_make_installed(&c, &err) == 0);
	CHECK(c.dc.num_disks == 1 && !c.dc.disks[0].is_cdrom);
	CHECK_STR(c.dc.b_info.u.hvm.boot, "c");
	CHECK(strstr(c.text, "# a comment that stays\n") == c.text);
	/* the rest is as it was: the same text with those two edits */
	char *t = xlcfg_set(base, "disk", "[ '/srv/w.img,,xvda,w' ]");
	char *t2 = xlcfg_set(t, "boot", "\"c\"");
	CHECK(cfg_text(&want, "%s", t2) == 0);
	CHECK(vm_config_equal(&c, &want));
	free(t);
	free(t2);
	vm_config_finish(&want);
	vm_config_finish(&c);
}

/* PV: kernel, ramdisk and every command line key go, pygrub boots what the installer put on
 * the disk; cdroms anywhere in the list go, the order of the other disks stays. */
static void test_make_installed_pv(void)
{
	struct vm_config c;
	struct err err = {0};
	CHECK(cfg_text(&c, "name = 'p'\nkernel = '/k'\nramdisk = '/r'\nextra = 'x'\nroot = '/dev/x'\n"
			   "bootloader_args = [ '--entry=1' ]\n"
			   "disk = [ '/srv/a.img,,xvda,w', '/srv/i.iso,,xvdc:cdrom,r', "
			   "'/srv/b.img,,xvdd,w' ]\n") == 0);
	CHECK(vm_config_make_installed(&c, &err) == 0);
	const libxl_domain_build_info *b = &c.dc.b_info;
	CHECK(!b->kernel && !b->ramdisk && !b->cmdline);
	CHECK_STR(b->bootloader, "pygrub");
	CHECK(b->bootloader_args && b->bootloader_args[0] && !b->bootloader_args[1]);
	CHECK(c.dc.num_disks == 2);
	CHECK_STR(c.dc.disks[0].vdev, "xvda");
	CHECK_STR(c.dc.disks[1].vdev, "xvdd");
	vm_config_finish(&c);
	/* a bootloader already named stays as it is */
	CHECK(cfg_text(&c, "name = 'p'\nbootloader = '/usr/local/bin/mybl'\n") == 0);
	CHECK(vm_config_make_installed(&c, &err) == 0);
	CHECK_STR(c.dc.b_info.bootloader, "/usr/local/bin/mybl");
	vm_config_finish(&c);
}

int main(void)
{
	RUN(test_init_finish);
	RUN(test_copy_is_deep);
	RUN(test_equal);
	RUN(test_accessors);
	RUN(test_names);
	RUN(test_make_installed_hvm);
	RUN(test_make_installed_pv);
	TEST_DONE();
}
