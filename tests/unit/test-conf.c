/*
 * test-conf.c: the vmd.conf parser: defaults, every key, the syntax (comments, quotes,
 * lists, CRLF), and that each kind of mistake is an error naming the file and line.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "config.h"
#include "test.h"
#include "util.h"
#include "xlkeys.h"

/* Parses text over fresh defaults; returns the number of errors; diag and c are the caller's
 * to finish. */
static int parse(struct vmd_conf *c, struct conf_diag *diag, const char *text)
{
	conf_init(c);
	memset(diag, 0, sizeof *diag);
	return conf_parse(c, text, strlen(text), "t.conf", diag);
}

/* The one error of text, or NULL when it has none or several. */
static char *only_error(const char *text)
{
	struct vmd_conf c;
	struct conf_diag diag;
	char *e = NULL;
	if (parse(&c, &diag, text) == 1 && diag.n_errors == 1)
		e = xstrdup(diag.errors[0]);
	conf_diag_finish(&diag);
	conf_finish(&c);
	return e;
}

#define CHECK_ERROR(text, expected)                                                          \
	do {                                                                                 \
		char *e_ = only_error(text);                                                 \
		CHECK_STR(e_, expected);                                                     \
		free(e_);                                                                    \
	} while (0)

static void defaults(void)
{
	struct vmd_conf c;
	conf_init(&c);
	CHECK(c.socket == NULL);
	CHECK(c.ro_socket == NULL);
	CHECK_STR(c.state_dir, "/var/lib/vmd");
	CHECK(c.run_dir == NULL);
	CHECK(c.backend == NULL);
	CHECK(c.log_level == LOG_LVL_INFO);
	CHECK_STR(c.group, "vmd");
	CHECK(c.n_storage_roots == 1);
	CHECK_STR(c.storage_roots[0], "/var/lib/vmd/images");
	CHECK(c.default_bridge == NULL); /* xl.conf's vif.default.bridge, else libxl's */
	CHECK(c.autostart);
	CHECK(c.claim_mode == -1);
	CHECK_STR(c.xl_conf, "/etc/xen/xl.conf");
	CHECK_STR(c.dump_dir, "/var/lib/xen/dump");
	CHECK(c.sim_memory_mib == 0 && !c.sim_delay_set);
	conf_finish(&c);
	/* An empty file and a file of comments change nothing. */
	struct conf_diag diag;
	CHECK(parse(&c, &diag, "") == 0);
	conf_diag_finish(&diag);
	conf_finish(&c);
	CHECK(parse(&c, &diag, "# nothing\n\n   \t\n# more\n") == 0);
	CHECK_STR(c.state_dir, "/var/lib/vmd");
	CHECK(diag.n_errors == 0);
	conf_diag_finish(&diag);
	conf_finish(&c);
}

static void every_key(void)
{
	struct vmd_conf c;
	struct conf_diag diag;
	const char *text = "# vmd.conf\n"
			   "socket = /run/v/v.sock\n"
			   "ro_socket=/run/v/ro.sock   # trailing comment\n"
			   "\tstate_dir =\t\"/srv/vmd state\"\n"
			   "run_dir = /run/v\r\n"
			   "backend = sim\n"
			   "log_level = debug\n"
			   "group = xen-admins\n"
			   "storage_roots = /srv/images, \"/srv/iso # files\" ,/home/vm\n"
			   "default_bridge = br-lan.10\n"
			   "autostart = no\n"
			   "claim_mode = off\n"
			   "xl_conf = /srv/xen/xl.conf\n"
			   "dump_dir = \"/srv/xen dumps\"\n"
			   "sim_memory = 4096\n"
			   "sim_delay_ms = 0"; /* no final newline */
	CHECK(parse(&c, &diag, text) == 0);
	CHECK(diag.n_errors == 0);
	CHECK_STR(c.socket, "/run/v/v.sock");
	CHECK_STR(c.ro_socket, "/run/v/ro.sock");
	CHECK_STR(c.state_dir, "/srv/vmd state");
	CHECK_STR(c.run_dir, "/run/v");
	CHECK_STR(c.backend, "sim");
	CHECK(c.log_level == LOG_LVL_DEBUG);
	CHECK_STR(c.group, "xen-admins");
	CHECK(c.n_storage_roots == 3);
	if (c.n_storage_roots == 3) {
		CHECK_STR(c.storage_roots[0], "/srv/images");
		CHECK_STR(c.storage_roots[1], "/srv/iso # files");
		CHECK_STR(c.storage_roots[2], "/home/vm");
	}
	CHECK_STR(c.default_bridge, "br-lan.10");
	CHECK(!c.autostart);
	CHECK(c.claim_mode == 0);
	CHECK_STR(c.xl_conf, "/srv/xen/xl.conf");
	CHECK_STR(c.dump_dir, "/srv/xen dumps");
	CHECK(c.sim_memory_mib == 4096);
	CHECK(c.sim_delay_ms == 0 && c.sim_delay_set);
	conf_diag_finish(&diag);
	conf_finish(&c);

	CHECK(parse(&c, &diag, "autostart = yes\nro_socket = none\nclaim_mode = 1\n"
			       "state_dir = \"/a \\\"b\\\" \\\\c\"\n") == 0);
	CHECK(c.autostart);
	CHECK(c.claim_mode == 1);
	CHECK_STR(c.ro_socket, "");
	CHECK_STR(c.state_dir, "/a \"b\" \\c");
	conf_diag_finish(&diag);
	conf_finish(&c);
}

static void mistakes(void)
{
	CHECK_ERROR("socket = /a\nsokcet = /b\n", "t.conf:2: unknown key 'sokcet'");
	CHECK_ERROR("\n\nbackend = sim\nbackend = libxl\n",
		    "t.conf:4: 'backend' is already set on line 3");
	CHECK_ERROR("state_dir = var/lib/vmd\n",
		    "t.conf:1: state_dir: 'state_dir' wants an absolute path, not 'var/lib/vmd'");
	CHECK_ERROR("state_dir = /a, /b\n",
		    "t.conf:1: state_dir: 'state_dir' takes one value, not a list");
	CHECK_ERROR("state_dir = /a /b\n",
		    "t.conf:1: state_dir: unexpected text after the value (quote values with "
		    "blanks)");
	CHECK_ERROR("state_dir = \"/a\n", "t.conf:1: state_dir: unterminated quoted value");
	CHECK_ERROR("state_dir = \"/a\\n\"\n",
		    "t.conf:1: state_dir: only \\\" and \\\\ may be escaped in a quoted value");
	CHECK_ERROR("state_dir = /a\"b\"\n",
		    "t.conf:1: state_dir: a quote inside a value (quote the whole value)");
	CHECK_ERROR("state_dir =\n", "t.conf:1: state_dir: the value is missing");
	CHECK_ERROR("state_dir = # none\n", "t.conf:1: state_dir: the value is missing");
	CHECK_ERROR("state_dir = \"\"\n", "t.conf:1: state_dir: an empty value");
	CHECK_ERROR("storage_roots = /a,\n",
		    "t.conf:1: storage_roots: a value is missing after ','");
	CHECK_ERROR("storage_roots = /a, images\n",
		    "t.conf:1: storage_roots: 'storage_roots' wants absolute paths, not 'images'");
	CHECK_ERROR("backend = xen\n",
		    "t.conf:1: backend: unknown backend 'xen' (libxl or sim)");
	CHECK_ERROR("log_level = verbose\n",
		    "t.conf:1: log_level: unknown log level 'verbose' (error, warn, info, debug)");
	CHECK_ERROR("group = 0day\n", "t.conf:1: group: invalid group name '0day'");
	CHECK_ERROR("default_bridge = a-very-long-bridge\n",
		    "t.conf:1: default_bridge: invalid bridge name 'a-very-long-bridge' (at most "
		    "15 letters, digits, '.', '_', '-')");
	CHECK_ERROR("xl_conf = xl.conf\n",
		    "t.conf:1: xl_conf: 'xl_conf' wants an absolute path, not 'xl.conf'");
	CHECK_ERROR("dump_dir = /a, /b\n",
		    "t.conf:1: dump_dir: 'dump_dir' takes one value, not a list");
	CHECK_ERROR("dump_dir = /a\ndump_dir = /b\n",
		    "t.conf:2: 'dump_dir' is already set on line 1");
	CHECK_ERROR("autostart = maybe\n",
		    "t.conf:1: autostart: 'autostart' wants yes or no, not 'maybe'");
	CHECK_ERROR("claim_mode = 2\n",
		    "t.conf:1: claim_mode: 'claim_mode' wants yes or no, not '2'");
	CHECK_ERROR("sim_memory = 0\n",
		    "t.conf:1: sim_memory: 'sim_memory' wants a number from 1 to 1073741824, not "
		    "'0'");
	CHECK_ERROR("sim_delay_ms = -5\n",
		    "t.conf:1: sim_delay_ms: 'sim_delay_ms' wants a number from 0 to 600000, not "
		    "'-5'");
	CHECK_ERROR("sim_delay_ms = 12abc\n",
		    "t.conf:1: sim_delay_ms: 'sim_delay_ms' wants a number from 0 to 600000, not "
		    "'12abc'");
	CHECK_ERROR("socket /run/vmd.sock\n",
		    "t.conf:1: expected 'key = value', got 'socket /run/vmd.sock'");
	CHECK_ERROR("= /x\n", "t.conf:1: expected 'key = value', got '= /x'");
	CHECK_ERROR("Socket = /x\n", "t.conf:1: expected 'key = value', got 'Socket = /x'");
	char *longsock = xasprintf("socket = /%0200d\n", 0);
	CHECK_ERROR(longsock, "t.conf:1: socket: socket path longer than 107 bytes");
	free(longsock);

	/* All mistakes are reported, each with its line, and a NUL byte is one of them. */
	struct vmd_conf c;
	struct conf_diag diag;
	conf_init(&c);
	memset(&diag, 0, sizeof diag);
	static const char text[] = "a = 1\nlog_level = debug\nb = 2\nsocket = /x\0y\n";
	CHECK(conf_parse(&c, text, sizeof text - 1, "t.conf", &diag) == 3);
	CHECK(diag.n_errors == 3);
	if (diag.n_errors == 3) {
		CHECK_STR(diag.errors[0], "t.conf:1: unknown key 'a'");
		CHECK_STR(diag.errors[1], "t.conf:3: unknown key 'b'");
		CHECK_STR(diag.errors[2], "t.conf:4: a NUL byte");
	}
	CHECK(c.log_level == LOG_LVL_DEBUG); /* the good lines still applied */
	conf_diag_finish(&diag);
	conf_finish(&c);
}

static void files(void)
{
	char dir[] = "/tmp/vmd-test-conf.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *path = xasprintf("%s/vmd.conf", dir);
	struct vmd_conf c;
	struct conf_diag diag = {0};
	conf_init(&c);
	/* Missing: fine as the default file, an error when named. */
	CHECK(conf_load(&c, path, false, &diag) == 0);
	CHECK(diag.n_errors == 0);
	CHECK(conf_load(&c, path, true, &diag) == 1);
	CHECK(diag.n_errors == 1);
	if (diag.n_errors == 1) {
		char *want = xasprintf("%s: cannot read: No such file or directory", path);
		CHECK_STR(diag.errors[0], want);
		free(want);
	}
	conf_diag_finish(&diag);
	CHECK(write_file_atomic(path, "backend = sim\nbogus = 1\n", 24, 0644) == 0);
	CHECK(conf_load(&c, path, true, &diag) == 1);
	if (diag.n_errors == 1) {
		char *want = xasprintf("%s:2: unknown key 'bogus'", path);
		CHECK_STR(diag.errors[0], want);
		free(want);
	}
	CHECK_STR(c.backend, "sim");
	conf_diag_finish(&diag);

	/* conf_check_host: missing storage roots and group are warnings, not errors. */
	conf_finish(&c);
	conf_init(&c);
	free(c.group);
	c.group = xstrdup("no-such-group-vmdtest");
	free(c.storage_roots[0]);
	c.storage_roots[0] = xasprintf("%s/missing", dir);
	conf_check_host(&c, &diag);
	CHECK(diag.n_errors == 0);
	CHECK(diag.n_warnings == 2);
	CHECK(!c.group_found);
	conf_diag_finish(&diag);
	free(c.storage_roots[0]);
	c.storage_roots[0] = xstrdup(dir);
	free(c.group);
	c.group = xstrdup("root");
	conf_check_host(&c, &diag);
	CHECK(diag.n_warnings == 0);
	CHECK(c.group_found && c.group_gid == 0);
	conf_diag_finish(&diag);
	conf_finish(&c);
	unlink(path);
	rmdir(dir);
	free(path);
}

static void ro_socket(void)
{
	struct vmd_conf c;
	conf_init(&c);
	char *s = conf_ro_socket(&c, "/run/vmd/vmd.sock");
	CHECK_STR(s, "/run/vmd/vmd-ro.sock");
	free(s);
	s = conf_ro_socket(&c, "/tmp/t/control");
	CHECK_STR(s, "/tmp/t/control-ro");
	free(s);
	s = conf_ro_socket(&c, "/.sock");
	CHECK_STR(s, "/.sock-ro");
	free(s);
	c.ro_socket = xstrdup("/x/ro");
	s = conf_ro_socket(&c, "/run/vmd/vmd.sock");
	CHECK_STR(s, "/x/ro");
	free(s);
	c.ro_socket[0] = '\0'; /* "none" */
	CHECK(conf_ro_socket(&c, "/run/vmd/vmd.sock") == NULL);
	conf_finish(&c);
}

/* default_bridge is the host's, as xl.conf's vif.default.bridge: unset, libxl's (xenbr0)
 * applies; set, the translation gives it to every vif that names no bridge, as xl does, and
 * nothing of it is written into a definition. */
static void default_bridge(void)
{
	struct vmd_conf c;
	struct conf_diag diag;
	CHECK(parse(&c, &diag, "backend = sim\n") == 0);
	CHECK(c.default_bridge == NULL);
	conf_diag_finish(&diag);
	conf_finish(&c);
	CHECK(parse(&c, &diag, "default_bridge = br0\n") == 0);
	CHECK_STR(c.default_bridge, "br0");
	conf_diag_finish(&diag);

	/* What main does with it: the host's vif.default.bridge. */
	struct xlkeys_host h;
	xlkeys_host_default(&h, 1);
	h.vif_bridge = c.default_bridge;
	const char *text = "name = \"g\"\nbootloader = \"pygrub\"\n"
			   "vif = [ \"\", \"bridge=br1\", \"script=vif-route\" ]\n";
	struct vm_config cfg;
	struct err err = {0};
	CHECK(config_parse(text, strlen(text), "g.cfg", &h, &cfg, &err) == 0);
	CHECK(cfg.dc.num_nics == 3);
	if (cfg.dc.num_nics == 3) {
		CHECK_STR(cfg.dc.nics[0].bridge, "br0");
		CHECK_STR(cfg.dc.nics[1].bridge, "br1");
		CHECK_STR(cfg.dc.nics[2].bridge, "br0"); /* xl gives it to every vif */
		CHECK_STR(cfg.dc.nics[2].script, "vif-route");
	}
	CHECK(strstr(cfg.text, "br0") == NULL); /* not written into the text */
	vm_config_finish(&cfg);
	/* Without it, the text's vifs name no bridge: libxl's default applies later. */
	CHECK(config_parse(text, strlen(text), "g.cfg", NULL, &cfg, &err) == 0);
	if (cfg.dc.num_nics == 3) {
		CHECK(cfg.dc.nics[0].bridge == NULL);
		CHECK_STR(cfg.dc.nics[1].bridge, "br1");
	}
	vm_config_finish(&cfg);
	err_clear(&err);
	conf_finish(&c);
}

static void active(void)
{
	/* Before main sets it, the defaults are in force. */
	CHECK(conf_active()->default_bridge == NULL);
	CHECK_STR(conf_active()->dump_dir, "/var/lib/xen/dump");
	struct vmd_conf c;
	conf_init(&c);
	free(c.default_bridge);
	c.default_bridge = xstrdup("br9");
	conf_set_active(&c);
	CHECK_STR(conf_active()->default_bridge, "br9");
	conf_set_active(NULL);
	CHECK(conf_active()->default_bridge == NULL);
	conf_finish(&c);
}

int main(void)
{
	RUN(defaults);
	RUN(every_key);
	RUN(mistakes);
	RUN(files);
	RUN(ro_socket);
	RUN(default_bridge);
	RUN(active);
	TEST_DONE();
}
