/*
 * test-config.c: the format-free parts of struct vm_config (config.c): defaults, finish,
 * deep copy, equality (every member counts), enum names, guest names, the kernel command
 * line and the installed system's config (vm.install).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "test.h"
#include "util.h"

/* A config with every member set to something other than its default. */
static void fill(struct vm_config *c)
{
	vm_config_init(c);
	c->name = xstrdup("full");
	c->type = VM_TYPE_HVM;
	c->has_uuid = true;
	for (int i = 0; i < 16; i++)
		c->uuid[i] = (uint8_t)(0xa0 + i);
	c->vcpus = 2;
	c->maxvcpus = 4;
	c->memory = 1024;
	c->maxmem = 2048;
	c->kernel = xstrdup("/boot/vmlinuz");
	c->ramdisk = xstrdup("/boot/initrd");
	c->cmdline = xstrdup("console=ttyS0");
	c->root = xstrdup("/dev/xvda1");
	c->extra = xstrdup("quiet");
	c->bootloader = xstrdup("pygrub");
	c->n_bootloader_args = 2;
	c->bootloader_args = xcalloc(2, sizeof(char *));
	c->bootloader_args[0] = xstrdup("-q");
	c->bootloader_args[1] = xstrdup("--entry=1");
	c->n_disks = 2;
	c->disks = xcalloc(2, sizeof(*c->disks));
	c->disks[0] = (struct vm_disk){xstrdup("/srv/a.img"), xstrdup("xvda"), xstrdup("qcow2"),
				       xstrdup("qdisk"), xstrdup("block-x"), true, false};
	c->disks[1] = (struct vm_disk){NULL, xstrdup("hdc"), NULL, NULL, NULL, false, true};
	c->n_vifs = 1;
	c->vifs = xcalloc(1, sizeof(*c->vifs));
	c->vifs[0] = (struct vm_vif){xstrdup("00:16:3e:00:00:01"), xstrdup("xenbr0"),
				     xstrdup("vif-nat"), xstrdup("10.0.0.2"), xstrdup("v0"),
				     xstrdup("e1000"), xstrdup("ioemu")};
	c->boot = xstrdup("dc");
	c->vnc = true;
	c->vnclisten = xstrdup("0.0.0.0");
	c->vncdisplay = 1;
	c->serial = xstrdup("pty");
	c->sdl = true;
	c->on_poweroff = VM_ACTION_PRESERVE;
	c->on_reboot = VM_ACTION_DESTROY;
	c->on_crash = VM_ACTION_RESTART;
}

static void test_init_defaults(void)
{
	struct vm_config c;
	memset(&c, 0x5a, sizeof(c));
	vm_config_init(&c);
	CHECK(c.name == NULL && c.kernel == NULL && c.bootloader == NULL && c.serial == NULL);
	CHECK(c.type == VM_TYPE_PV);
	CHECK(!c.has_uuid);
	CHECK(c.vcpus == 1 && c.maxvcpus == 0);
	CHECK(c.memory == 128 && c.maxmem == 0);
	CHECK(c.n_disks == 0 && c.disks == NULL && c.n_vifs == 0 && c.vifs == NULL);
	CHECK(c.n_bootloader_args == 0 && c.bootloader_args == NULL);
	CHECK(!c.vnc && !c.sdl && c.vncdisplay == -1);
	CHECK(c.on_poweroff == VM_ACTION_DESTROY);
	CHECK(c.on_reboot == VM_ACTION_RESTART);
	CHECK(c.on_crash == VM_ACTION_DESTROY);

	struct vm_config d;
	vm_config_init(&d);
	CHECK(vm_config_equal(&c, &d));
	vm_config_finish(&c); /* finishing an empty config is fine */
}

static void test_finish_reinits(void)
{
	struct vm_config c, d;
	fill(&c);
	vm_config_finish(&c);
	vm_config_init(&d);
	CHECK(vm_config_equal(&c, &d));
	CHECK(c.disks == NULL && c.name == NULL);
	vm_config_finish(&c); /* twice is fine: nothing left to free */
}

static void test_copy_is_deep(void)
{
	struct vm_config a, b;
	fill(&a);
	memset(&b, 0x5a, sizeof(b)); /* copy does not need an initialised destination */
	CHECK(vm_config_copy(&b, &a) == 0);
	CHECK(vm_config_equal(&a, &b));
	CHECK(a.name != b.name && a.disks != b.disks && a.vifs != b.vifs);
	CHECK(a.disks[0].target != b.disks[0].target);
	CHECK(a.bootloader_args != b.bootloader_args);
	CHECK(a.bootloader_args[0] != b.bootloader_args[0]);
	/* Changing the copy leaves the original alone. */
	b.disks[0].target[1] = 'X';
	b.vifs[0].mac[0] = '2';
	b.bootloader_args[1][0] = '+';
	CHECK_STR(a.disks[0].target, "/srv/a.img");
	CHECK_STR(a.vifs[0].mac, "00:16:3e:00:00:01");
	CHECK_STR(a.bootloader_args[1], "--entry=1");
	CHECK(!vm_config_equal(&a, &b));
	vm_config_finish(&a);
	/* The copy owns its memory: it outlives the original. */
	CHECK_STR(b.name, "full");
	vm_config_finish(&b);

	/* An empty config copies to an empty config. */
	vm_config_init(&a);
	CHECK(vm_config_copy(&b, &a) == 0);
	CHECK(vm_config_equal(&a, &b));
	CHECK(b.disks == NULL && b.vifs == NULL && b.bootloader_args == NULL);
	vm_config_finish(&b);
}

/* Each mutator changes one member; equality must notice every one of them. */
static void m_name(struct vm_config *c) { c->name[0] = 'F'; }
static void m_type(struct vm_config *c) { c->type = VM_TYPE_PVH; }
static void m_uuid(struct vm_config *c) { c->uuid[15] ^= 1; }
static void m_has_uuid(struct vm_config *c) { c->has_uuid = false; }
static void m_vcpus(struct vm_config *c) { c->vcpus++; }
static void m_maxvcpus(struct vm_config *c) { c->maxvcpus = 0; }
static void m_memory(struct vm_config *c) { c->memory++; }
static void m_maxmem(struct vm_config *c) { c->maxmem = 0; }
static void m_kernel(struct vm_config *c)
{
	free(c->kernel);
	c->kernel = NULL;
}
static void m_ramdisk(struct vm_config *c) { c->ramdisk[1] = 'x'; }
static void m_cmdline(struct vm_config *c) { c->cmdline[0] = 'C'; }
static void m_root(struct vm_config *c) { c->root[1] = 'x'; }
static void m_extra(struct vm_config *c) { c->extra[0] = 'Q'; }
static void m_bootloader(struct vm_config *c) { c->bootloader[0] = 'P'; }
static void m_args_n(struct vm_config *c)
{
	free(c->bootloader_args[1]);
	c->n_bootloader_args = 1;
}
static void m_args(struct vm_config *c) { c->bootloader_args[1][2] = 'E'; }
static void m_n_disks(struct vm_config *c)
{
	free(c->disks[1].vdev);
	c->n_disks = 1;
}
static void m_d_target(struct vm_config *c) { c->disks[0].target[1] = 'x'; }
static void m_d_target_null(struct vm_config *c)
{
	free(c->disks[0].target);
	c->disks[0].target = NULL;
}
static void m_d_vdev(struct vm_config *c) { c->disks[0].vdev[3] = 'b'; }
static void m_d_format(struct vm_config *c) { c->disks[0].format[4] = '\0'; }
static void m_d_backend(struct vm_config *c)
{
	free(c->disks[0].backendtype);
	c->disks[0].backendtype = NULL;
}
static void m_d_script(struct vm_config *c) { c->disks[0].script[0] = 'B'; }
static void m_d_rw(struct vm_config *c) { c->disks[0].readwrite = false; }
static void m_d_cdrom(struct vm_config *c) { c->disks[1].cdrom = false; }
static void m_n_vifs(struct vm_config *c)
{
	struct vm_vif *v = &c->vifs[0];
	free(v->mac), free(v->bridge), free(v->script), free(v->ip), free(v->vifname);
	free(v->model), free(v->type);
	c->n_vifs = 0;
}
static void m_v_mac(struct vm_config *c) { c->vifs[0].mac[16] = '2'; }
static void m_v_bridge(struct vm_config *c) { c->vifs[0].bridge[0] = 'X'; }
static void m_v_script(struct vm_config *c) { c->vifs[0].script[4] = 'r'; }
static void m_v_ip(struct vm_config *c) { c->vifs[0].ip[0] = '2'; }
static void m_v_vifname(struct vm_config *c) { c->vifs[0].vifname[1] = '1'; }
static void m_v_model(struct vm_config *c) { c->vifs[0].model[0] = 'E'; }
static void m_v_type(struct vm_config *c)
{
	free(c->vifs[0].type);
	c->vifs[0].type = NULL;
}
static void m_boot(struct vm_config *c) { c->boot[0] = 'c'; }
static void m_vnc(struct vm_config *c) { c->vnc = false; }
static void m_vnclisten(struct vm_config *c) { c->vnclisten[0] = '1'; }
static void m_vncdisplay(struct vm_config *c) { c->vncdisplay = -1; }
static void m_serial(struct vm_config *c) { c->serial[0] = 'P'; }
static void m_sdl(struct vm_config *c) { c->sdl = false; }
static void m_on_poweroff(struct vm_config *c) { c->on_poweroff = VM_ACTION_DESTROY; }
static void m_on_reboot(struct vm_config *c) { c->on_reboot = VM_ACTION_RESTART; }
static void m_on_crash(struct vm_config *c) { c->on_crash = VM_ACTION_PRESERVE; }

static void test_equal_sees_every_member(void)
{
	static void (*const mutators[])(struct vm_config *) = {
		m_name,	      m_type,	      m_uuid,	     m_has_uuid,      m_vcpus,
		m_maxvcpus,   m_memory,	      m_maxmem,	     m_kernel,	      m_ramdisk,
		m_cmdline,    m_root,	      m_extra,	     m_bootloader,    m_args_n,
		m_args,	      m_n_disks,      m_d_target,    m_d_target_null, m_d_vdev,
		m_d_format,   m_d_backend,    m_d_script,    m_d_rw,	      m_d_cdrom,
		m_n_vifs,     m_v_mac,	      m_v_bridge,    m_v_script,      m_v_ip,
		m_v_vifname,  m_v_model,      m_v_type,	     m_boot,	      m_vnc,
		m_vnclisten,  m_vncdisplay,   m_serial,	     m_sdl,	      m_on_poweroff,
		m_on_reboot,  m_on_crash,
	};
	struct vm_config ref;
	fill(&ref);
	for (size_t i = 0; i < sizeof(mutators) / sizeof(mutators[0]); i++) {
		struct vm_config c;
		vm_config_copy(&c, &ref);
		CHECK(vm_config_equal(&c, &ref));
		mutators[i](&c);
		if (vm_config_equal(&c, &ref) || vm_config_equal(&ref, &c))
			fprintf(stderr, "mutator %zu not detected\n", i);
		CHECK(!vm_config_equal(&c, &ref));
		CHECK(!vm_config_equal(&ref, &c));
		/* The count mutators freed what they dropped, so finish frees the rest. */
		vm_config_finish(&c);
	}
	/* The uuid bytes do not matter when there is no uuid. */
	struct vm_config a, b;
	vm_config_init(&a);
	vm_config_init(&b);
	b.uuid[0] = 1;
	CHECK(vm_config_equal(&a, &b));
	vm_config_finish(&ref);
}

static void test_format_null_is_raw(void)
{
	struct vm_config a, b;
	fill(&a);
	vm_config_copy(&b, &a);
	free(a.disks[0].format);
	free(b.disks[0].format);
	a.disks[0].format = NULL;
	b.disks[0].format = xstrdup("raw");
	CHECK(vm_config_equal(&a, &b));
	CHECK(vm_config_equal(&b, &a));
	b.disks[0].format[0] = 'R';
	CHECK(!vm_config_equal(&a, &b));
	vm_config_finish(&a);
	vm_config_finish(&b);
}

static void test_names(void)
{
	enum vm_type t;
	enum vm_action a;
	static const enum vm_type types[] = {VM_TYPE_PV, VM_TYPE_PVH, VM_TYPE_HVM};
	for (size_t i = 0; i < 3; i++) {
		CHECK(vm_type_parse(vm_type_name(types[i]), &t) == 0);
		CHECK(t == types[i]);
	}
	CHECK_STR(vm_type_name(VM_TYPE_PV), "pv");
	CHECK_STR(vm_type_name(VM_TYPE_PVH), "pvh");
	CHECK_STR(vm_type_name(VM_TYPE_HVM), "hvm");
	static const enum vm_action actions[] = {VM_ACTION_DESTROY, VM_ACTION_RESTART,
						 VM_ACTION_PRESERVE};
	for (size_t i = 0; i < 3; i++) {
		CHECK(vm_action_parse(vm_action_name(actions[i]), &a) == 0);
		CHECK(a == actions[i]);
	}
	CHECK_STR(vm_action_name(VM_ACTION_DESTROY), "destroy");
	CHECK_STR(vm_action_name(VM_ACTION_RESTART), "restart");
	CHECK_STR(vm_action_name(VM_ACTION_PRESERVE), "preserve");

	t = VM_TYPE_HVM;
	static const char *const bad_types[] = {"", "PV", "hvm ", "kvm", "pvhvm", NULL};
	for (size_t i = 0; bad_types[i]; i++)
		CHECK(vm_type_parse(bad_types[i], &t) == -1);
	CHECK(vm_type_parse(NULL, &t) == -1);
	CHECK(t == VM_TYPE_HVM); /* untouched on failure */
	a = VM_ACTION_PRESERVE;
	static const char *const bad_actions[] = {"", "Destroy", "rename-restart",
						  "coredump-destroy", "soft-reset", NULL};
	for (size_t i = 0; bad_actions[i]; i++)
		CHECK(vm_action_parse(bad_actions[i], &a) == -1);
	CHECK(vm_action_parse(NULL, &a) == -1);
	CHECK(a == VM_ACTION_PRESERVE);
	CHECK_STR(vm_type_name((enum vm_type)42), "unknown");
	CHECK_STR(vm_action_name((enum vm_action)42), "unknown");
}

static void test_name_valid(void)
{
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
	for (size_t i = 0; good[i]; i++) {
		if (!vm_name_valid(good[i]))
			fprintf(stderr, "rejected '%s'\n", good[i]);
		CHECK(vm_name_valid(good[i]));
	}
	for (size_t i = 0; bad[i]; i++) {
		if (vm_name_valid(bad[i]))
			fprintf(stderr, "accepted '%s'\n", bad[i]);
		CHECK(!vm_name_valid(bad[i]));
	}
	CHECK(!vm_name_valid(NULL));
	char *huge = xmalloc(1001);
	memset(huge, 'x', 1000);
	huge[1000] = '\0';
	CHECK(!vm_name_valid(huge));
	free(huge);
}

static void test_kernel_cmdline(void)
{
	struct vm_config c;
	vm_config_init(&c);
	CHECK(vm_config_kernel_cmdline(&c) == NULL);

	c.extra = xstrdup("console=hvc0");
	char *s = vm_config_kernel_cmdline(&c);
	CHECK_STR(s, "console=hvc0");
	free(s);

	c.root = xstrdup("/dev/xvda1 ro");
	s = vm_config_kernel_cmdline(&c);
	CHECK_STR(s, "root=/dev/xvda1 ro console=hvc0");
	free(s);

	free(c.extra);
	c.extra = NULL;
	s = vm_config_kernel_cmdline(&c);
	CHECK_STR(s, "root=/dev/xvda1 ro");
	free(s);

	/* cmdline replaces root and extra, as in xl; an empty cmdline is a real (empty) one. */
	c.extra = xstrdup("quiet");
	c.cmdline = xstrdup("init=/bin/sh");
	s = vm_config_kernel_cmdline(&c);
	CHECK_STR(s, "init=/bin/sh");
	free(s);
	c.cmdline[0] = '\0';
	s = vm_config_kernel_cmdline(&c);
	CHECK_STR(s, "");
	free(s);
	vm_config_finish(&c);
}

/* HVM: the cdrom goes (also an empty drive), boot from the disk; all else stays. */
static void test_make_installed_hvm(void)
{
	struct vm_config c, want;
	fill(&c);
	CHECK(vm_config_copy(&want, &c) == 0);
	vm_config_make_installed(&c);
	CHECK(c.n_disks == 1);
	CHECK_STR(c.disks[0].vdev, "xvda");
	CHECK(c.disks[0].readwrite && !c.disks[0].cdrom);
	CHECK_STR(c.boot, "c");
	/* The rest is untouched: put back what changed and compare. */
	free(c.boot);
	c.boot = xstrdup(want.boot);
	vm_disk_finish(&want.disks[1]);
	want.n_disks = 1;
	CHECK(vm_config_equal(&c, &want));
	vm_config_finish(&c);
	vm_config_finish(&want);
}

/* PV: kernel, ramdisk and every command line key go; pygrub boots what the installer put on
 * the disk; cdroms anywhere in the list go, the order of the other disks stays. */
static void test_make_installed_pv(void)
{
	struct vm_config c;
	fill(&c);
	c.type = VM_TYPE_PV;
	free(c.bootloader);
	c.bootloader = NULL;
	c.disks = xrealloc(c.disks, 4 * sizeof(*c.disks));
	c.disks[2] = (struct vm_disk){xstrdup("/srv/inst.iso"), xstrdup("xvdc"), NULL, NULL, NULL,
				      false, true};
	c.disks[3] = (struct vm_disk){xstrdup("/srv/b.img"), xstrdup("xvdd"), NULL, NULL, NULL,
				      true, false};
	c.n_disks = 4;
	vm_config_make_installed(&c);
	CHECK(!c.kernel && !c.ramdisk && !c.cmdline && !c.root && !c.extra);
	CHECK_STR(c.bootloader, "pygrub");
	CHECK(c.n_bootloader_args == 2); /* an installer config has none; kept if there */
	CHECK(c.n_disks == 2);
	CHECK_STR(c.disks[0].vdev, "xvda");
	CHECK_STR(c.disks[1].vdev, "xvdd");
	CHECK_STR(c.boot, "dc"); /* HVM-only keys are not PV's business */
	vm_config_finish(&c);

	/* A bootloader already named stays as it is. */
	fill(&c);
	c.type = VM_TYPE_PV;
	free(c.bootloader);
	c.bootloader = xstrdup("/usr/local/bin/mybootloader");
	vm_config_make_installed(&c);
	CHECK_STR(c.bootloader, "/usr/local/bin/mybootloader");
	vm_config_finish(&c);
}

int main(void)
{
	RUN(test_init_defaults);
	RUN(test_finish_reinits);
	RUN(test_copy_is_deep);
	RUN(test_equal_sees_every_member);
	RUN(test_format_null_is_raw);
	RUN(test_names);
	RUN(test_name_valid);
	RUN(test_kernel_cmdline);
	RUN(test_make_installed_hvm);
	RUN(test_make_installed_pv);
	TEST_DONE();
}
