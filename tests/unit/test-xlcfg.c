/*
 * test-xlcfg.c: xl.cfg text to a guest definition (config_parse: lexing, the table's
 * translation, vmd's own checks), the JSON form both ways, the edits that clone, install and
 * define make to a text, and the device-spec helpers.
 *
 * What a valid config *means* is not decided here: tests/xl-oracle compares it with xl's own
 * dry run. Here: the refusals (golden files xlcfg/bad-NAME.cfg or .json -> bad-NAME.err,
 * the exact message), that the text is kept as written, that every form (text, JSON, text
 * again) means the same, and the cases a file cannot express (NUL bytes, CRLF, generated
 * and mutated input).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxl_utils.h>

#include "config.h"
#include "test.h"
#include "util.h"
#include "vmd-proto.h"
#include "xlcfg.h"
#include "xlkeys.h"

/* An invalid-config error's data: its key ("" when none) and line (0 when none). */
#define ERR_KEY(e) (err_data_str((e), "key") ? err_data_str((e), "key") : "")
#define ERR_LINE(e) ((int)json_integer_value(json_object_get((e)->data, "line")))

#define DIR_GOLDEN "xlcfg"

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char *path = xasprintf("%s/%s", dir, name);
	char *text = read_file(path, 1 << 20, len);
	free(path);
	return text;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static char *with_suffix(const char *name, const char *old, const char *suffix)
{
	return xasprintf("%.*s%s", (int)(strlen(name) - strlen(old)), name, suffix);
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == '\n')
		s[--n] = '\0';
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int parse(const char *text, struct vm_config *c, struct err *err)
{
	return config_parse(text, strlen(text), "t.cfg", NULL, c, err);
}

static int parse_json_text(const char *text, size_t len, struct vm_config *c, struct err *err)
{
	json_error_t je;
	/* JSON_ALLOW_NUL: the config parser itself must refuse "\u0000". */
	json_t *j = json_loadb(text, len, JSON_ALLOW_NUL, &je);
	if (!j) {
		fprintf(stderr, "bad JSON test input: %s\n", je.text);
		err_set(err, VMD_ERR_INVALID_CONFIG, "(invalid JSON)");
		vm_config_init(c);
		return -2;
	}
	int r = config_parse_json(j, NULL, c, err);
	json_decref(j);
	return r;
}

/* What every valid config must satisfy: its text parses again to the same meaning, and its
 * JSON form (through text) does too. */
static void check_roundtrip(const struct vm_config *c, const char *what)
{
	struct err err = {0};
	struct vm_config back;
	int r = parse(c->text, &back, &err);
	if (r != 0)
		fprintf(stderr, "%s: its own text does not parse: %s\n", what, err.msg);
	CHECK(r == 0);
	if (r == 0) {
		CHECK(vm_config_equal(c, &back));
		CHECK_STR(back.text, c->text);
		vm_config_finish(&back);
	}
	json_t *j = config_to_json(c);
	CHECK(j != NULL);
	char *dump = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	r = dump ? parse_json_text(dump, strlen(dump), &back, &err) : -1;
	if (r != 0)
		fprintf(stderr, "%s: its JSON does not parse: %s\n%s\n", what, err.msg, dump);
	CHECK(r == 0);
	if (r == 0) {
		if (!vm_config_equal(c, &back))
			fprintf(stderr, "%s: JSON round trip differs:\n%s\n", what, dump);
		CHECK(vm_config_equal(c, &back));
		vm_config_finish(&back);
	}
	free(dump);
	err_clear(&err);
}

/* "NAME.cfg:7: key: ..." -> the 7 must be ERR_LINE(&err), and "key: " must follow. */
static void check_error_fields(const struct err *err, const char *fname)
{
	const char *rest = err->msg;
	size_t fl = strlen(fname);
	if (fname[0]) {
		CHECK(strncmp(rest, fname, fl) == 0 && rest[fl] == ':');
		rest += fl + 1;
		if (*rest >= '0' && *rest <= '9') {
			CHECK(atoi(rest) == ERR_LINE(err));
			CHECK(ERR_LINE(err) > 0);
			rest += strspn(rest, "0123456789") + 1;
		} else {
			CHECK(ERR_LINE(err) == 0);
		}
		rest += strspn(rest, " ");
	}
	if (ERR_KEY(err)[0]) {
		size_t kl = strlen(ERR_KEY(err));
		CHECK(strncmp(rest, ERR_KEY(err), kl) == 0 && rest[kl] == ':');
	}
	CHECK(printable(err->msg));
}

static void golden_valid(const char *name, int *count)
{
	struct err err = {0};
	size_t len;
	char *text = slurp(DIR_GOLDEN, name, &len);
	CHECK(text != NULL);
	if (!text)
		return;
	struct vm_config c;
	int r = config_parse(text, len, name, NULL, &c, &err);
	if (r != 0)
		fprintf(stderr, "%s: %s\n", name, err.msg);
	CHECK(r == 0);
	if (r == 0) {
		(*count)++;
		/* kept as written: these files have LF line ends and a final newline */
		CHECK_STR(c.text, text);
		check_roundtrip(&c, name);
		/* NAME.json, when present, is the same guest written as JSON. */
		char *jname = with_suffix(name, ".cfg", ".json");
		size_t jlen;
		char *jtext = slurp(DIR_GOLDEN, jname, &jlen);
		if (jtext) {
			struct vm_config jc;
			r = parse_json_text(jtext, jlen, &jc, &err);
			if (r != 0)
				fprintf(stderr, "%s: %s\n", jname, err.msg);
			CHECK(r == 0);
			if (r == 0) {
				if (!vm_config_equal(&c, &jc))
					fprintf(stderr, "%s and %s differ\n", name, jname);
				CHECK(vm_config_equal(&c, &jc));
				vm_config_finish(&jc);
			}
			free(jtext);
		}
		free(jname);
		vm_config_finish(&c);
	}
	free(text);
	err_clear(&err);
}

static void golden_invalid(const char *name, int *count)
{
	struct err err = {0};
	size_t len, elen;
	bool json = has_suffix(name, ".json");
	char *text = slurp(DIR_GOLDEN, name, &len);
	char *errname = with_suffix(name, json ? ".json" : ".cfg", ".err");
	char *expect = slurp(DIR_GOLDEN, errname, &elen);
	struct vm_config c;
	CHECK(text != NULL);
	CHECK(expect != NULL);
	if (!text || !expect)
		goto out;
	chomp(expect);
	memset(&c, 0x5a, sizeof(c)); /* the parser must not rely on an initialised output */
	int r = json ? parse_json_text(text, len, &c, &err)
		     : config_parse(text, len, name, NULL, &c, &err);
	if (r == 0) {
		fprintf(stderr, "%s: accepted\n", name);
		vm_config_finish(&c);
	}
	CHECK(r == -1);
	if (r != -1)
		goto out;
	(*count)++;
	if (strcmp(err.msg, expect) != 0)
		fprintf(stderr, "%s: message differs from %s\n", name, errname);
	CHECK_STR(err.msg, expect);
	CHECK(err.code == VMD_ERR_INVALID_CONFIG);
	check_error_fields(&err, json ? "" : name);
	/* On failure the output is left initialised and owns nothing. */
	CHECK(c.name == NULL && c.text == NULL && c.dc.num_disks == 0 && c.n_warnings == 0);
	vm_config_finish(&c);
out:
	free(text);
	free(expect);
	free(errname);
	err_clear(&err);
}

static void test_golden_files(void)
{
	DIR *d = opendir(DIR_GOLDEN);
	CHECK(d != NULL);
	if (!d)
		return;
	int valid = 0, invalid = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		bool bad = strncmp(n, "bad-", 4) == 0;
		if (has_suffix(n, ".cfg") && !bad)
			golden_valid(n, &valid);
		else if (bad && (has_suffix(n, ".cfg") || has_suffix(n, ".json")))
			golden_invalid(n, &invalid);
	}
	closedir(d);
	/* Guards against an empty or misplaced directory passing vacuously. */
	CHECK(valid >= 10);
	CHECK(invalid >= 80);
}

/* The example of the first issue, spaces after commas included. */
static const char example[] = "name = \"centos65_3.pv\"\n"
			      "vcpus = 1\n"
			      "memory = 4096\n"
			      "vif = [ 'mac=00:16:3e:54:02:03, bridge=xenbr0' ]\n"
			      "disk = [ 'file:/srv/xen/centos65_pv_3.img,xvda,w' ]\n"
			      "bootloader = \"pygrub\"\n";

static void test_example(void)
{
	struct err err = {0};
	struct vm_config c;
	int r = parse(example, &c, &err);
	CHECK(r == 0);
	if (r != 0)
		return;
	CHECK_STR(c.name, "centos65_3.pv");
	CHECK(c.type == VM_TYPE_PV && !c.has_uuid);
	CHECK(vm_config_vcpus(&c) == 1 && vm_config_memory_mib(&c) == 4096);
	CHECK(vm_config_maxmem_mib(&c) == 4096);
	CHECK_STR(c.dc.b_info.bootloader, "pygrub");
	CHECK(c.dc.b_info.kernel == NULL);
	CHECK(c.dc.num_nics == 1 && c.dc.num_disks == 1);
	CHECK_STR(c.dc.nics[0].bridge, "xenbr0");
	CHECK(c.dc.nics[0].mac[0] == 0x00 && c.dc.nics[0].mac[2] == 0x3e &&
	      c.dc.nics[0].mac[5] == 0x03);
	CHECK_STR(c.dc.disks[0].pdev_path, "/srv/xen/centos65_pv_3.img");
	CHECK_STR(c.dc.disks[0].vdev, "xvda");
	CHECK(c.dc.disks[0].readwrite && !c.dc.disks[0].is_cdrom);
	CHECK_STR(vm_config_disk_file(&c.dc.disks[0]), "/srv/xen/centos65_pv_3.img");
	/* xl's defaults for what the text leaves out (issue 12: on_watchdog is destroy) */
	CHECK(vm_config_action(&c, "on_poweroff") == VM_ACTION_DESTROY);
	CHECK(vm_config_action(&c, "on_reboot") == VM_ACTION_RESTART);
	CHECK(vm_config_action(&c, "on_crash") == VM_ACTION_DESTROY);
	CHECK(vm_config_action(&c, "on_watchdog") == VM_ACTION_DESTROY);
	CHECK(vm_config_action(&c, "on_soft_reset") == VM_ACTION_SOFT_RESET);
	CHECK(c.n_warnings == 0);
	check_roundtrip(&c, "example");
	vm_config_finish(&c);
	err_clear(&err);
}

/* Keys that changed meaning before the table (issue 12), each as xl reads it. */
static void test_xl_defaults(void)
{
	struct err err = {0};
	struct vm_config c;
	/* no memory line: libxl's 32 MiB, as xl */
	CHECK(parse("name = 'a'\nkernel = '/k'\n", &c, &err) == 0);
	CHECK(vm_config_memory_mib(&c) == 32);
	CHECK(c.dc.b_info.target_memkb == LIBXL_MEMKB_DEFAULT);
	CHECK(libxl_defbool_val(c.dc.b_info.claim_mode)); /* claims on, as xl without xl.conf */
	vm_config_finish(&c);
	/* vnc = 0 is kept: no VNC server */
	CHECK(parse("name = 'h'\ntype = 'hvm'\nvnc = 0\n", &c, &err) == 0);
	CHECK(!vm_config_vnc(&c));
	CHECK(!libxl_defbool_is_default(c.dc.b_info.u.hvm.vnc.enable) &&
	      !libxl_defbool_val(c.dc.b_info.u.hvm.vnc.enable));
	vm_config_finish(&c);
	CHECK(parse("name = 'h'\ntype = 'hvm'\n", &c, &err) == 0);
	CHECK(vm_config_vnc(&c)); /* libxl's default for HVM */
	vm_config_finish(&c);
	/* on_watchdog does not follow on_crash */
	CHECK(parse("name = 'a'\nkernel = '/k'\non_crash = 'restart'\n", &c, &err) == 0);
	CHECK(vm_config_action(&c, "on_crash") == VM_ACTION_RESTART);
	CHECK(vm_config_action(&c, "on_watchdog") == VM_ACTION_DESTROY);
	vm_config_finish(&c);
	/* a guest's own claim_mode (vmd's key) over the host's */
	CHECK(parse("name = 'a'\nkernel = '/k'\nclaim_mode = 0\n", &c, &err) == 0);
	CHECK(!libxl_defbool_val(c.dc.b_info.claim_mode));
	vm_config_finish(&c);
	/* the host's xl.conf claim_mode = 0 */
	struct xlkeys_host h;
	xlkeys_host_default(&h, 4);
	h.claim_mode = false;
	const char *t = "name = 'a'\nkernel = '/k'\n";
	CHECK(config_parse(t, strlen(t), "t.cfg", &h, &c, &err) == 0);
	CHECK(!libxl_defbool_val(c.dc.b_info.claim_mode));
	vm_config_finish(&c);
	err_clear(&err);
}

/* Keys xl reads and ignores, and keys of another guest type: accepted with a warning. */
static void test_warnings(void)
{
	struct err err = {0};
	struct vm_config c;
	CHECK(parse("name = 'a'\nkernel = '/k'\nvncviewer = 1\nboot = 'c'\n", &c, &err) == 0);
	CHECK(c.n_warnings == 2);
	bool viewer = false, boot = false;
	for (size_t i = 0; i < c.n_warnings; i++) {
		viewer |= strncmp(c.warnings[i], "vncviewer: ", 11) == 0;
		boot |= strncmp(c.warnings[i], "boot: ", 6) == 0;
		CHECK(printable(c.warnings[i]));
	}
	CHECK(viewer && boot);
	/* the copy keeps them */
	struct vm_config d;
	CHECK(vm_config_copy(&d, &c, &err) == 0);
	CHECK(d.n_warnings == 2);
	vm_config_finish(&d);
	vm_config_finish(&c);
	err_clear(&err);
}

static void test_nul_in_text(void)
{
	struct err err = {0};
	static const char text[] = "name = \"a\"\nbootloader = \"pygrub\"\nextra = \"x\0y\"\n";
	struct vm_config c;
	CHECK(config_parse(text, sizeof(text) - 1, "nul.cfg", NULL, &c, &err) == -1);
	CHECK_STR(err.msg, "nul.cfg:3: NUL byte in the text");
	CHECK(ERR_LINE(&err) == 3);
	check_error_fields(&err, "nul.cfg");
	/* A NUL at the very end too: the length, not the terminator, bounds the text. */
	static const char text2[] = "name = \"a\"\nbootloader = \"pygrub\"\n\0";
	CHECK(config_parse(text2, sizeof(text2) - 1, "nul.cfg", NULL, &c, &err) == -1);
	CHECK(ERR_LINE(&err) == 3);
	/* Without it the same bytes parse. */
	CHECK(config_parse(text2, sizeof(text2) - 2, "nul.cfg", NULL, &c, &err) == 0);
	vm_config_finish(&c);
	err_clear(&err);
}

static void test_text_not_terminated(void)
{
	struct err err = {0};
	/* len bounds the text: what follows it must not be read. */
	char buf[sizeof(example) + 16];
	memcpy(buf, example, sizeof(example) - 1);
	memcpy(buf + sizeof(example) - 1, "cpux = 4\n#######", 16);
	struct vm_config c;
	CHECK(config_parse(buf, sizeof(example) - 1, "x.cfg", NULL, &c, &err) == 0);
	vm_config_finish(&c);
	CHECK(config_parse(buf, sizeof(buf) - 1, "x.cfg", NULL, &c, &err) == -1);
	CHECK_STR(err.msg, "x.cfg:7: cpux: unknown key");
	/* No final newline: a last comment is still a comment, and the text gets a newline. */
	static const char t1[] = "name = 'x'\nbootloader = 'pygrub' # no newline";
	CHECK(config_parse(t1, strlen(t1), "x.cfg", NULL, &c, &err) == 0);
	CHECK_STR(c.text, "name = 'x'\nbootloader = 'pygrub' # no newline\n");
	vm_config_finish(&c);
	static const char t2[] = "name = 'x'\nbootloader = 'pygrub'\nmemory = 0x1F";
	CHECK(config_parse(t2, strlen(t2), "x.cfg", NULL, &c, &err) == -1);
	CHECK(ERR_LINE(&err) == 3);
	/* A lone carriage return is not a line end. */
	static const char t3[] = "name = 'x'\rbootloader = 'pygrub'\n";
	CHECK(config_parse(t3, strlen(t3), "x.cfg", NULL, &c, &err) == -1);
	CHECK(ERR_LINE(&err) == 1);
	err_clear(&err);
}

static void test_crlf(void)
{
	struct err err = {0};
	struct vm_config a, b;
	char *crlf = xmalloc(2 * sizeof(example));
	size_t n = 0;
	for (const char *p = example; *p; p++) {
		if (*p == '\n')
			crlf[n++] = '\r';
		crlf[n++] = *p;
	}
	CHECK(parse(example, &a, &err) == 0);
	int r = config_parse(crlf, n, "crlf.cfg", NULL, &b, &err);
	if (r)
		fprintf(stderr, "%s\n", err.msg);
	CHECK(r == 0);
	if (r == 0) {
		CHECK(vm_config_equal(&a, &b));
		CHECK_STR(b.text, example); /* LF line ends are what is kept */
		vm_config_finish(&b);
	}
	vm_config_finish(&a);
	free(crlf);
	err_clear(&err);
}

static void test_messages(void)
{
	struct err err = {0};
	struct vm_config c;
	static const char text[] = "name = \"x\"\nmemory = \"lots\"\n";
	CHECK(config_parse(text, strlen(text), "xl.cfg", NULL, &c, &err) == -1);
	CHECK(strncmp(err.msg, "xl.cfg:2: memory: ", 18) == 0);
	CHECK_STR(ERR_KEY(&err), "memory");
	CHECK(ERR_LINE(&err) == 2);
	/* A hostile filename cannot put a newline into the message. */
	CHECK(config_parse(text, strlen(text), "a\nb.cfg", NULL, &c, &err) == -1);
	CHECK(printable(err.msg));
	/* A repeated key: the last statement counts, as in xl, and its line is reported. */
	static const char t1[] = "name = 'a'\nmemory = 'x'\nkernel = '/k'\nmemory = 'y'\n";
	CHECK(parse(t1, &c, &err) == -1);
	CHECK(ERR_LINE(&err) == 4);
	/* The first unknown key is reported, a typo of a real one too. */
	static const char t2[] = "name = 'a'\n\n# cpus = 1\nkernel = '/k'\n"
				 "memroy = 512\nvfbb = [ 'vnc=1' ]\n";
	CHECK(parse(t2, &c, &err) == -1);
	CHECK_STR(err.msg, "t.cfg:5: memroy: unknown key");
	CHECK_STR(ERR_KEY(&err), "memroy");
	/* A huge key is cut in data.key, the message stays whole and printable. */
	char *big = xmalloc(2100);
	memset(big, 'k', 2000);
	strcpy(big + 2000, " = 1\n");
	CHECK(parse(big, &c, &err) == -1);
	CHECK(strlen(ERR_KEY(&err)) <= CONFIG_KEY_MAX);
	CHECK(has_suffix(err.msg, ": unknown key"));
	check_error_fields(&err, "t.cfg");
	free(big);
	/* A semantic error after a multi-line list still gets the list's line. */
	static const char t4[] = "name = 'lines'\nbootloader = 'pygrub'\ndisk = [\n"
				 "  'file:/a.img,xvda,w',\n\n  'file:/b.img,xvdb,w' ]\n"
				 "vif = [ 'mac=zz' ]\n";
	CHECK(parse(t4, &c, &err) == -1);
	CHECK(ERR_LINE(&err) == 7);
	CHECK_STR(ERR_KEY(&err), "vif");
	err_clear(&err);
}

/* Values that xl takes and the old hand-written parser could not (issue 12). */
static void test_forms(void)
{
	struct err err = {0};
	struct vm_config c;
	static const char t[] =
		"name = 'forms'\ntype = 'hvm'\nacpi = 1\napic = 1\npae = 1\nviridian = 1\n"
		"localtime = 1\nrtc_timeoffset = 3600\nvncunused = 1\nstdvga = 1\n"
		"serial = [ 'pty', 'pty' ]\nvnc = 0\nkernel = '/k'\nramdisk = '/r'\n"
		"vif = [ 'bridge=ovsbr0:42:43, rate=10Mb/s, mtu=9000, model=e1000',"
		" 'backend=0, gatewaydev=eth0, script=vif-route, ip=192.0.2.1' ]\n"
		"disk = [ 'vdev=xvda, backendtype=qdisk, target=rbd:pool/img' ]\n"
		"seclabel = 'system_u:system_r:domU_t'\ncpuid = 'host,tm=0'\n";
	int r = parse(t, &c, &err);
	if (r)
		fprintf(stderr, "%s\n", err.msg);
	CHECK(r == 0);
	if (r == 0) {
		const libxl_domain_build_info *b = &c.dc.b_info;
		CHECK_STR(b->kernel, "/k"); /* HVM direct kernel boot */
		CHECK(b->u.hvm.serial_list && b->u.hvm.serial_list[1] &&
		      !b->u.hvm.serial_list[2]);
		CHECK(!libxl_defbool_val(b->u.hvm.vnc.enable));
		CHECK_STR(c.dc.nics[0].bridge, "ovsbr0:42:43");
		CHECK(c.dc.nics[0].rate_bytes_per_interval > 0);
		CHECK(c.dc.nics[0].mtu == 9000);
		CHECK_STR(c.dc.nics[1].gatewaydev, "eth0");
		CHECK_STR(c.dc.disks[0].pdev_path, "rbd:pool/img");
		CHECK(vm_config_disk_file(&c.dc.disks[0]) == NULL); /* not a file of dom0 */
		CHECK_STR(c.dc.c_info.ssid_label, "system_u:system_r:domU_t");
		check_roundtrip(&c, "forms");
		vm_config_finish(&c);
	}
	err_clear(&err);
}

/* Every key of the table's JSON form refuses a value of the wrong kind, naming the key.
 * (A string where a number goes, or a number where a string goes, is what xl takes too:
 * libxlutil keeps every value as text.) */
static void test_json_types(void)
{
	struct err err = {0};
	static const struct {
		const char *key, *value;
	} cases[] = {
		{"type", "true"},	   {"uuid", "[]"},	     {"vcpus", "2.5"},
		{"maxvcpus", "[]"},	   {"memory", "1e3"},	     {"maxmem", "{}"},
		{"ramdisk", "[]"},	   {"cmdline", "{}"},	     {"bootloader", "[1]"},
		{"disk", "\"file:/a,xvda,w\""},
		{"disk", "[true]"},	   {"vif", "{}"},	     {"vif", "[1.5]"},
		{"vnc", "\"true\""},	   {"vnc", "[]"},	     {"serial", "{}"},
		{"on_poweroff", "0"},	   {"on_reboot", "[]"},	     {"on_crash", "{}"},
		{"vcpus", "2147483648"},   {"memory", "-512"},	     {"pci", "\"01:00.0\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = xasprintf("{\"name\": \"t\", \"type\": \"hvm\", \"%s\": %s}",
				       cases[i].key, cases[i].value);
		struct vm_config c;
		int r = parse_json_text(text, strlen(text), &c, &err);
		if (r == 0) {
			fprintf(stderr, "accepted %s\n", text);
			vm_config_finish(&c);
		} else if (strcmp(ERR_KEY(&err), cases[i].key) != 0) {
			fprintf(stderr, "%s: wrong key in error: %s\n", text, err.msg);
		}
		CHECK(r == -1);
		CHECK_STR(ERR_KEY(&err), cases[i].key);
		CHECK(printable(err.msg));
		free(text);
	}
	err_clear(&err);
}

static void test_json_equivalence(void)
{
	struct err err = {0};
	/* The example, written three ways: xl.cfg, JSON with spec strings, JSON objects. */
	static const char j1[] = "{\"name\": \"centos65_3.pv\", \"vcpus\": 1, \"memory\": 4096,"
				 " \"vif\": [\"mac=00:16:3e:54:02:03, bridge=xenbr0\"],"
				 " \"disk\": [\"file:/srv/xen/centos65_pv_3.img,xvda,w\"],"
				 " \"bootloader\": \"pygrub\"}";
	static const char j2[] = "{\"bootloader\": \"pygrub\", \"name\": \"centos65_3.pv\","
				 " \"memory\": 4096, \"type\": \"pv\", \"maxmem\": null,"
				 " \"vcpus\": 1,"
				 " \"vif\": [{\"bridge\": \"xenbr0\", \"mac\": \"00:16:3e:54:02:03\"}],"
				 " \"disk\": [{\"vdev\": \"xvda\", \"access\": \"rw\","
				 " \"target\": \"/srv/xen/centos65_pv_3.img\", \"format\": \"raw\","
				 " \"cdrom\": false}], \"on_reboot\": \"restart\"}";
	struct vm_config x, a, b;
	CHECK(parse(example, &x, &err) == 0);
	CHECK(parse_json_text(j1, strlen(j1), &a, &err) == 0);
	CHECK(parse_json_text(j2, strlen(j2), &b, &err) == 0);
	CHECK(vm_config_equal(&x, &a));
	CHECK(vm_config_equal(&x, &b));
	/* config_to_json: the text's keys in its order, numbers as numbers */
	json_t *jx = config_to_json(&x);
	CHECK(json_integer_value(json_object_get(jx, "memory")) == 4096);
	CHECK(json_is_array(json_object_get(jx, "disk")));
	CHECK_STR(json_string_value(json_array_get(json_object_get(jx, "disk"), 0)),
		  "file:/srv/xen/centos65_pv_3.img,xvda,w");
	CHECK(json_object_get(jx, "uuid") == NULL); /* no uuid given */
	CHECK(json_object_size(jx) == 6);
	json_decref(jx);
	vm_config_finish(&x);
	vm_config_finish(&a);
	vm_config_finish(&b);

	/* A NUL inside a string is refused, not truncated. */
	static const char j3[] = "{\"name\": \"n\", \"bootloader\": \"pygrub\","
				 " \"disk\": [\"file:/a.img\\u0000,xvdb,w\"]}";
	CHECK(parse_json_text(j3, strlen(j3), &a, &err) == -1);
	CHECK_STR(ERR_KEY(&err), "disk");
	/* A hostile key cannot put control characters into the message. */
	static const char j5[] = "{\"name\": \"n\", \"a\\nb\": 1}";
	CHECK(parse_json_text(j5, strlen(j5), &a, &err) == -1);
	CHECK_STR(err.msg, "a?b: unknown key");
	err_clear(&err);
}

/* The edits: what clone, install and define do to a text keep everything else of it. */
static void test_edits(void)
{
	struct err err = {0};
	struct vm_config src, cl;
	static const char t[] = "# the web server\nname = 'web'\nmemory = 512\nkernel = '/k'\n"
				"seclabel = 'system_u:system_r:domU_t'\nuuid = "
				"'4f1b3b9c-6a2e-4d3f-9b1a-2c3d4e5f6a7b'\n"
				"vif = [ 'mac=00:16:3e:00:00:01, rate=10Mb/s, vifname=web0' ]\n"
				"disk = [ 'format=qcow2, vdev=xvda, access=rw, target=/srv/web.qcow2',\n"
				"         'file:/srv/iso.iso,hdc:cdrom,r' ]  # two\n";
	CHECK(parse(t, &src, &err) == 0);
	CHECK(src.has_uuid);
	char *targets[] = {"/srv/copy.qcow2", NULL};
	int r = vm_config_clone(&src, "copy", targets, &cl, &err);
	if (r)
		fprintf(stderr, "%s\n", err.msg);
	CHECK(r == 0);
	if (r == 0) {
		CHECK_STR(cl.name, "copy");
		CHECK(!cl.has_uuid);
		CHECK(strstr(cl.text, "# the web server\n") != NULL); /* comments kept */
		CHECK(strstr(cl.text, "rate=10Mb/s") != NULL);       /* and rate, seclabel */
		CHECK(strstr(cl.text, "seclabel = 'system_u:system_r:domU_t'") != NULL);
		CHECK(strstr(cl.text, "mac=") == NULL && strstr(cl.text, "vifname") == NULL);
		CHECK_STR(cl.dc.disks[0].pdev_path, "/srv/copy.qcow2");
		CHECK(cl.dc.disks[0].format == LIBXL_DISK_FORMAT_QCOW2);
		CHECK_STR(cl.dc.disks[1].pdev_path, "/srv/iso.iso");
		CHECK(cl.dc.nics[0].rate_bytes_per_interval ==
		      src.dc.nics[0].rate_bytes_per_interval);
		CHECK_STR(cl.dc.c_info.ssid_label, "system_u:system_r:domU_t");
		check_roundtrip(&cl, "clone");
		/* complete: a uuid and MACs are added, nothing else */
		uint8_t u[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
		char *macs[] = {"00:16:3e:12:34:56"};
		char *before = xstrdup(cl.text);
		CHECK(vm_config_complete(&cl, u, macs, &err) == 0);
		CHECK(cl.has_uuid && cl.uuid[0] == 1 && cl.uuid[15] == 16);
		CHECK(cl.dc.nics[0].mac[5] == 0x56);
		CHECK(strlen(cl.text) > strlen(before));
		CHECK(strstr(cl.text, "# the web server\n") != NULL);
		free(before);
		vm_config_finish(&cl);
	}
	vm_config_finish(&src);

	/* MACs go into the items where they are: the list's comments and layout stay */
	static const char lt[] = "name = 'l'\nkernel = '/k'\n"
				 "vif = [ 'bridge=xenbr0',   # public\n"
				 "        # the private one\n"
				 "        \"bridge=xenbr1\" ]  # private\n";
	CHECK(parse(lt, &src, &err) == 0);
	uint8_t u2[16] = {7};
	char *macs2[] = {"00:16:3e:00:00:0a", "00:16:3e:00:00:0b"};
	CHECK(vm_config_complete(&src, u2, macs2, &err) == 0);
	CHECK(strstr(src.text, "vif = [ 'mac=00:16:3e:00:00:0a, bridge=xenbr0',   # public\n"
			       "        # the private one\n"
			       "        \"mac=00:16:3e:00:00:0b, bridge=xenbr1\" ]  # private\n") != NULL);
	vm_config_finish(&src);

	/* install: HVM loses its cdrom and boots the disk; PV loses kernel, ramdisk, extra */
	static const char h[] = "name = 'i'\ntype = 'hvm'\nboot = 'dc'\n"
				"disk = [ '/srv/i.img,,xvda,w', '/srv/d.iso,,hdc:cdrom,r' ]\n";
	CHECK(parse(h, &src, &err) == 0);
	CHECK(vm_config_make_installed(&src, &err) == 0);
	CHECK(src.dc.num_disks == 1 && !src.dc.disks[0].is_cdrom);
	CHECK_STR(src.dc.b_info.u.hvm.boot, "c");
	vm_config_finish(&src);
	static const char p[] = "name = 'i'\nkernel = '/k'\nramdisk = '/r'\nextra = 'x'\n"
				"disk = [ '/srv/i.img,,xvda,w' ]\n";
	CHECK(parse(p, &src, &err) == 0);
	CHECK(vm_config_make_installed(&src, &err) == 0);
	CHECK(src.dc.b_info.kernel == NULL && src.dc.b_info.ramdisk == NULL);
	CHECK_STR(src.dc.b_info.bootloader, "pygrub");
	CHECK(strstr(src.text, "extra") == NULL);
	vm_config_finish(&src);

	/* set / unset / items / value */
	char *s = xlcfg_set("a = 1\n# c\nb = 'x'\n", "b", "'y'");
	CHECK_STR(s, "a = 1\n# c\nb = 'y'\n");
	char *s2 = xlcfg_set(s, "z", "[ 'p', 'q' ]");
	CHECK_STR(s2, "a = 1\n# c\nb = 'y'\nz = [ 'p', 'q' ]\n");
	char **items = xlcfg_items(s2, "z");
	CHECK(items && items[0] && items[1] && !items[2]);
	if (items)
		CHECK_STR(items[1], "q");
	libxl_string_list_dispose(&items);
	char *v = xlcfg_value(s2, "b");
	CHECK_STR(v, "y");
	free(v);
	char *s3 = xlcfg_unset(s2, "a");
	CHECK_STR(s3, "# c\nb = 'y'\nz = [ 'p', 'q' ]\n");
	free(s);
	free(s2);
	free(s3);
	char *q = xlcfg_quote("a'b\"c\\d");
	char *qt = xasprintf("name = 'n'\nkernel = '/k'\nextra = %s\n", q);
	CHECK(parse(qt, &src, &err) == 0);
	CHECK_STR(src.dc.b_info.u.pv.cmdline ? src.dc.b_info.u.pv.cmdline : src.dc.b_info.cmdline,
		  "a'b\"c\\d");
	vm_config_finish(&src);
	free(q);
	free(qt);
	err_clear(&err);
}

/* Every field xlu_disk_parse can set survives xlcfg_disk_spec. */
static void test_disk_specs(void)
{
	struct err err = {0};
	static const char *const specs[] = {
		"file:/srv/a.img,xvda,w",
		"phy:/dev/sdb,xvdb,r",
		"tap:qcow2:/srv/b.qcow2,xvdc,w",
		"/srv/x.iso,raw,hdc:cdrom,r",
		",hdc:cdrom,r",
		"format=qed, vdev=sda, backendtype=phy, script=block-drbd, target=r0",
		"vdev=xvdd, backend=dd, direct-io-safe, discard, target=/srv/a b,c.img",
		("vdev=xvde, colo, colo-host=h, colo-port=9, colo-export=e, active-disk=/a, "
		 "hidden-disk=/b, target=/srv/c.img"),
	};
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		libxl_device_disk d, back;
		int r = xlcfg_parse_disk(specs[i], &d, &err);
		if (r)
			fprintf(stderr, "%s: %s\n", specs[i], err.msg);
		CHECK(r == 0);
		if (r)
			continue;
		char *s = xlcfg_disk_spec(&d);
		CHECK(xlcfg_parse_disk(s, &back, &err) == 0);
		char *s2 = xlcfg_disk_spec(&back);
		CHECK_STR(s2, s);
		CHECK(d.readwrite == back.readwrite && d.is_cdrom == back.is_cdrom &&
		      d.format == back.format && d.backend == back.backend &&
		      libxl_defbool_is_default(d.discard_enable) ==
			      libxl_defbool_is_default(back.discard_enable));
		CHECK((!d.pdev_path && !back.pdev_path) ||
		      (d.pdev_path && back.pdev_path && !strcmp(d.pdev_path, back.pdev_path)));
		free(s);
		free(s2);
		libxl_device_disk_dispose(&d);
		libxl_device_disk_dispose(&back);
	}
	static const char *const bad[] = {"", "/srv/a.img", "/srv/a.img,qcow9,xvda,w",
					  "vdev=xvda, bogus=1, target=/a",
					  "vdev=xvda, access=rwx, target=/a"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		libxl_device_disk d;
		int r = xlcfg_parse_disk(bad[i], &d, &err);
		if (r == 0) {
			fprintf(stderr, "accepted bad disk spec '%s'\n", bad[i]);
			libxl_device_disk_dispose(&d);
		}
		CHECK(r == -1);
		CHECK(printable(err.msg));
	}
	err_clear(&err);
}

static void test_vif_edit(void)
{
	char *e = xlcfg_vif_edit("bridge=br0, mac=00:16:3e:00:00:01, rate=1Mb/s, vifname=w",
				 true, true, NULL, NULL);
	CHECK_STR(e, "bridge=br0, rate=1Mb/s");
	free(e);
	e = xlcfg_vif_edit("bridge=br0", false, false, "00:16:3e:00:00:02", NULL);
	CHECK_STR(e, "mac=00:16:3e:00:00:02, bridge=br0");
	free(e);
	e = xlcfg_vif_edit("", false, false, "00:16:3e:00:00:02", NULL);
	CHECK_STR(e, "mac=00:16:3e:00:00:02");
	free(e);
	char *o = xlcfg_spec_option("bridge = br0 , script=vif-nat", "script");
	CHECK_STR(o, "vif-nat");
	free(o);
	CHECK(xlcfg_spec_option("bridge=br0", "mac") == NULL);
}

/* xl.conf as xl reads it: the keys that change a domain reach the translation's host. */
static void test_xl_conf(void)
{
	struct err err = {0};
	char dir[] = "/tmp/test-xlconf-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *path = xasprintf("%s/xl.conf", dir);
	struct xlkeys_host h;
	struct xlcfg_xl_conf xc;
	xlkeys_host_default(&h, 4);
	CHECK(xlcfg_xl_conf_read(path, &h, &xc, &err) == 0); /* missing: xl's defaults */
	CHECK(h.claim_mode && xc.claim_mode == -1);
	xlcfg_xl_conf_finish(&xc);
	FILE *f = fopen(path, "w");
	fputs("autoballoon = 'off'\nclaim_mode = 0\nvif.default.bridge = 'br9'\n"
	      "vif.default.script = 'vif-openvswitch'\nmax_grant_frames = 64\n"
	      "vm.cpumask = '0-1'\n", f);
	fclose(f);
	xlkeys_host_default(&h, 4);
	CHECK(xlcfg_xl_conf_read(path, &h, &xc, &err) == 0);
	CHECK(!h.claim_mode && xc.claim_mode == 0);
	CHECK_STR(h.vif_bridge, "br9");
	CHECK(h.max_grant_frames == 64);
	struct vm_config c;
	const char *t = "name = 'a'\nkernel = '/k'\nvcpus = 2\nvif = [ '' ]\n";
	CHECK(config_parse(t, strlen(t), "t.cfg", &h, &c, &err) == 0);
	CHECK(!libxl_defbool_val(c.dc.b_info.claim_mode));
	CHECK_STR(c.dc.nics[0].bridge, "br9");
	CHECK_STR(c.dc.nics[0].script, "vif-openvswitch");
	CHECK(c.dc.b_info.max_grant_frames == 64);
	/* vm.cpumask: every vcpu's hard affinity is cpus 0-1 */
	CHECK(c.dc.b_info.num_vcpu_hard_affinity == 2);
	if (c.dc.b_info.num_vcpu_hard_affinity == 2)
		CHECK(libxl_bitmap_count_set(&c.dc.b_info.vcpu_hard_affinity[1]) == 2);
	/* the text does not carry what the host adds */
	CHECK(strstr(c.text, "br9") == NULL);
	vm_config_finish(&c);
	xlcfg_xl_conf_finish(&xc);
	f = fopen(path, "w");
	fputs("max_grant_frames = 'lots'\n", f);
	fclose(f);
	xlkeys_host_default(&h, 4);
	CHECK(xlcfg_xl_conf_read(path, &h, &xc, &err) == -1);
	CHECK(strstr(err.msg, "max_grant_frames") != NULL);
	xlcfg_xl_conf_finish(&xc);
	f = fopen(path, "w");
	fputs("claim_mode = = 1\n", f);
	fclose(f);
	CHECK(xlcfg_xl_conf_read(path, &h, &xc, &err) == -1);
	xlcfg_xl_conf_finish(&xc);
	unlink(path);
	rmdir(dir);
	free(path);
	err_clear(&err);
}

/* The table: one row per key, every row reachable by name, documented keys flagged. */
static void test_table(void)
{
	CHECK(xl_n_keys >= 150);
	for (size_t i = 0; i < xl_n_keys; i++) {
		const struct xl_key *k = &xl_keys[i];
		CHECK(xlkeys_find(k->name) == k);
		CHECK(k->apply || (k->with && xlkeys_find(k->with) && xlkeys_find(k->with)->apply));
		CHECK(k->forms != 0 && k->types != 0 && k->dflt && k->lands);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(xl_keys[j].name, k->name) != 0);
	}
	CHECK(xlkeys_find("memroy") == NULL);
	/* read by xl, ignored with a warning */
	CHECK(xlkeys_find("vif2") && (xlkeys_find("vif2")->flags & XF_IGNORED));
	CHECK(xlkeys_find("device_model") && (xlkeys_find("device_model")->flags & XF_IGNORED));
}

/* Deterministic mutations of a valid file: what the parser accepts must round-trip, what it
 * refuses must come with a clean message. Under ASan this is what catches leaks on the rarer
 * failure paths. */
static void test_mutations(void)
{
	struct err err = {0};
	static const char base[] =
		"builder = \"hvm\"\nname = \"win-install\"\nvcpus = 2\nmemory = 4096\n"
		"disk = [ 'file:/srv/xen/win.img,hda,w', ',hdc:cdrom,r' ]\n"
		"vif = [ 'mac=00:16:3e:0a:0b:0c, bridge=xenbr0, model=e1000, rate=5Mb/s' ]\n"
		"boot = \"dc\"\nvnc = 1\nserial = [ 'pty' ]\non_crash = 'preserve'\n"
		"viridian = [ 'defaults', 'time_ref_count' ]\ncpus = '0-1'\n";
	static const char alphabet[] = " \n\t=,;:#[]'\"\\/-+.0123456789abcxyz";
	uint32_t seed = 12345;
	size_t len = sizeof(base) - 1;
	char *buf = xmalloc(len + 8);
	int accepted = 0;
	for (int iter = 0; iter < 3000; iter++) {
		memcpy(buf, base, len);
		size_t n = len;
		int edits = 1 + iter % 3;
		for (int e = 0; e < edits; e++) {
			seed = seed * 1103515245u + 12345u;
			size_t pos = (seed >> 8) % n;
			seed = seed * 1103515245u + 12345u;
			char ch = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
			seed = seed * 1103515245u + 12345u;
			switch ((seed >> 8) % 3) {
			case 0:
				buf[pos] = ch;
				break;
			case 1:
				memmove(buf + pos + 1, buf + pos, n - pos);
				buf[pos] = ch;
				n++;
				break;
			default:
				memmove(buf + pos, buf + pos + 1, n - pos - 1);
				n--;
				break;
			}
		}
		struct vm_config c;
		if (config_parse(buf, n, "m.cfg", NULL, &c, &err) == 0) {
			accepted++;
			check_roundtrip(&c, "mutation");
			vm_config_finish(&c);
		} else {
			CHECK(err.msg[0] != '\0');
			CHECK(printable(err.msg));
			CHECK(strncmp(err.msg, "m.cfg:", 6) == 0);
			CHECK(c.text == NULL);
		}
	}
	CHECK(accepted > 0 && accepted < 3000);
	free(buf);
	err_clear(&err);
}

int main(void)
{
	RUN(test_golden_files);
	RUN(test_example);
	RUN(test_xl_defaults);
	RUN(test_warnings);
	RUN(test_nul_in_text);
	RUN(test_text_not_terminated);
	RUN(test_crlf);
	RUN(test_messages);
	RUN(test_forms);
	RUN(test_json_types);
	RUN(test_json_equivalence);
	RUN(test_edits);
	RUN(test_disk_specs);
	RUN(test_vif_edit);
	RUN(test_xl_conf);
	RUN(test_table);
	RUN(test_mutations);
	TEST_DONE();
}
