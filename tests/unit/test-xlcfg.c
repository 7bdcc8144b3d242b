/*
 * test-xlcfg.c: xl.cfg parsing and formatting, disk and vif specs, vm_config_validate and the
 * JSON form. Most cases are golden files in xlcfg/ (NAME.cfg -> NAME.ok with the canonical
 * xlcfg_format output, NAME.json -> the same config as NAME.cfg, bad-NAME.cfg/.json ->
 * bad-NAME.err with the exact message); the rest are cases a text file cannot express (NUL
 * bytes, CRLF) or that are generated (every JSON key with a wrong type, mutated input).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "util.h"
#include "vmd-proto.h"
#include "xlcfg.h"

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

/* The properties every valid config must have: the xl.cfg we emit parses back to an equal
 * config and is a fixed point; the JSON we emit (also through text) parses back equal. */
static void check_roundtrip(const struct vm_config *c, const char *what)
{
	struct err err = {0};
	struct vm_config back;

	char *text = xlcfg_format(c);
	int r = xlcfg_parse(text, strlen(text), "roundtrip.cfg", &back, &err);
	if (r != 0)
		fprintf(stderr, "%s: formatted config does not parse: %s\n%s", what, err.msg,
			text);
	CHECK(r == 0);
	if (r == 0) {
		if (!vm_config_equal(c, &back))
			fprintf(stderr, "%s: xl.cfg round trip differs:\n%s", what, text);
		CHECK(vm_config_equal(c, &back));
		char *again = xlcfg_format(&back);
		CHECK_STR(again, text);
		free(again);
		vm_config_finish(&back);
	}
	free(text);

	json_t *j = config_to_json(c);
	CHECK(j != NULL);
	char *dump = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	CHECK(dump != NULL);
	json_t *j2 = dump ? json_loads(dump, 0, NULL) : NULL;
	CHECK(j2 != NULL);
	r = config_from_json(j2, &back, &err);
	if (r != 0)
		fprintf(stderr, "%s: emitted JSON does not parse: %s\n%s\n", what, err.msg,
			dump);
	CHECK(r == 0);
	if (r == 0) {
		if (!vm_config_equal(c, &back))
			fprintf(stderr, "%s: JSON round trip differs:\n%s\n", what, dump);
		CHECK(vm_config_equal(c, &back));
		vm_config_finish(&back);
	}
	json_decref(j2);
	free(dump);
	err_clear(&err);
}

/* "NAME.cfg:7: key: ..." -> the 7 must be ERR_LINE(&err), and "key: " must follow the location. */
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
	} else {
		/* Only syntax-level errors carry no key. */
		CHECK(strstr(rest, "config parsing error") || strstr(rest, "NUL byte"));
	}
	CHECK(printable(err->msg));
}

static int parse_json_text(const char *text, size_t len, struct vm_config *c,
			   struct err *err)
{
	json_error_t je;
	/* JSON_ALLOW_NUL: the config parser itself must refuse "\u0000". */
	json_t *j = json_loadb(text, len, JSON_ALLOW_NUL, &je);
	if (!j) {
		fprintf(stderr, "bad JSON test input: %s\n", je.text);
		err_set(err, VMD_ERR_INVALID_CONFIG, "(invalid JSON)");
		return -2;
	}
	int r = config_from_json(j, c, err);
	json_decref(j);
	return r;
}

static void golden_valid(const char *name, int *count)
{
	struct err err = {0};
	size_t len, oklen;
	char *text = slurp(DIR_GOLDEN, name, &len);
	char *okname = with_suffix(name, ".cfg", ".ok");
	char *expect = slurp(DIR_GOLDEN, okname, &oklen);
	struct vm_config c;

	CHECK(text != NULL);
	CHECK(expect != NULL);
	if (!text || !expect)
		goto out;
	int r = xlcfg_parse(text, len, name, &c, &err);
	if (r != 0)
		fprintf(stderr, "%s: %s\n", name, err.msg);
	CHECK(r == 0);
	if (r != 0)
		goto out;
	(*count)++;
	char *formatted = xlcfg_format(&c);
	if (strcmp(formatted, expect) != 0)
		fprintf(stderr, "%s: formatted output differs from %s\n", name, okname);
	CHECK_STR(formatted, expect);
	free(formatted);
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
out:
	free(text);
	free(expect);
	free(okname);
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
	int r = json ? parse_json_text(text, len, &c, &err) : xlcfg_parse(text, len, name, &c, &err);
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
	check_error_fields(&err, json ? "" : name);
	/* On failure the output is left initialised and owns nothing. */
	CHECK(c.name == NULL && c.disks == NULL && c.vifs == NULL && c.memory == 128);
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
	CHECK(invalid >= 120);
}

/* The example from the issue, spaces after commas included. */
static const char example[] = "name = \"centos65_3.pv\"\n"
			      "vcpus = 1\n"
			      "memory = 4096\n"
			      "vif = [ 'mac=00:16:3e:54:02:03, bridge=xenbr0' ]\n"
			      "disk = [ 'file:/srv/xen/centos65_pv_3.img,xvda,w' ]\n"
			      "bootloader = \"pygrub\"\n";

static void test_issue_example(void)
{
	struct err err = {0};
	struct vm_config c;
	int r = xlcfg_parse(example, strlen(example), "centos.cfg", &c, &err);
	CHECK(r == 0);
	if (r != 0)
		return;
	CHECK_STR(c.name, "centos65_3.pv");
	CHECK(c.type == VM_TYPE_PV);
	CHECK(c.vcpus == 1 && c.memory == 4096 && c.maxmem == 0 && !c.has_uuid);
	CHECK_STR(c.bootloader, "pygrub");
	CHECK(c.kernel == NULL);
	CHECK(c.n_vifs == 1 && c.n_disks == 1);
	CHECK_STR(c.vifs[0].mac, "00:16:3e:54:02:03");
	CHECK_STR(c.vifs[0].bridge, "xenbr0");
	CHECK(c.vifs[0].script == NULL && c.vifs[0].ip == NULL);
	CHECK_STR(c.disks[0].target, "/srv/xen/centos65_pv_3.img");
	CHECK_STR(c.disks[0].vdev, "xvda");
	CHECK(c.disks[0].readwrite && !c.disks[0].cdrom);
	CHECK(c.disks[0].format == NULL || strcmp(c.disks[0].format, "raw") == 0);
	CHECK(c.on_poweroff == VM_ACTION_DESTROY && c.on_reboot == VM_ACTION_RESTART &&
	      c.on_crash == VM_ACTION_DESTROY);
	check_roundtrip(&c, "issue example");
	vm_config_finish(&c);
	err_clear(&err);
}

static void test_nul_in_text(void)
{
	struct err err = {0};
	static const char text[] = "name = \"a\"\nbootloader = \"pygrub\"\nextra = \"x\0y\"\n";
	struct vm_config c;
	CHECK(xlcfg_parse(text, sizeof(text) - 1, "nul.cfg", &c, &err) == -1);
	CHECK_STR(err.msg, "nul.cfg:3: NUL byte in the text");
	CHECK(ERR_LINE(&err) == 3);
	check_error_fields(&err, "nul.cfg");

	/* A NUL at the very end too: the length, not the terminator, bounds the text. */
	static const char text2[] = "name = \"a\"\nbootloader = \"pygrub\"\n\0";
	CHECK(xlcfg_parse(text2, sizeof(text2) - 1, "nul.cfg", &c, &err) == -1);
	CHECK(ERR_LINE(&err) == 3);
	/* Without it the same bytes parse. */
	CHECK(xlcfg_parse(text2, sizeof(text2) - 2, "nul.cfg", &c, &err) == 0);
	vm_config_finish(&c);
	err_clear(&err);
}

static void test_text_not_terminated(void)
{
	struct err err = {0};
	/* len bounds the text: trailing garbage past len must not be read. */
	char buf[sizeof(example) + 16];
	memcpy(buf, example, sizeof(example) - 1);
	memcpy(buf + sizeof(example) - 1, "cpus = 4\n#######", 16);
	struct vm_config c;
	CHECK(xlcfg_parse(buf, sizeof(example) - 1, "x.cfg", &c, &err) == 0);
	vm_config_finish(&c);
	CHECK(xlcfg_parse(buf, sizeof(buf) - 1, "x.cfg", &c, &err) == -1);
	CHECK_STR(err.msg, "x.cfg:7: cpus: unsupported key");

	/* No final newline: a last comment is still a comment, trailing junk still an error
	 * (libxlutil alone gets both wrong at the end of its input). */
	static const char t1[] = "name = 'x'\nbootloader = 'pygrub' # no newline";
	CHECK(xlcfg_parse(t1, strlen(t1), "x.cfg", &c, &err) == 0);
	vm_config_finish(&c);
	static const char t2[] = "name = 'x'\nbootloader = 'pygrub'\nmemory = 0x1F";
	CHECK(xlcfg_parse(t2, strlen(t2), "x.cfg", &c, &err) == -1);
	CHECK_STR(err.msg, "x.cfg:3: config parsing error near 'F': lexical error");
	/* A lone carriage return is not a line end. */
	static const char t3[] = "name = 'x'\rbootloader = 'pygrub'\n";
	CHECK(xlcfg_parse(t3, strlen(t3), "x.cfg", &c, &err) == -1);
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
	CHECK(xlcfg_parse(example, strlen(example), "lf.cfg", &a, &err) == 0);
	int r = xlcfg_parse(crlf, n, "crlf.cfg", &b, &err);
	if (r)
		fprintf(stderr, "%s\n", err.msg);
	CHECK(r == 0);
	if (r == 0) {
		CHECK(vm_config_equal(&a, &b));
		vm_config_finish(&b);
	}
	vm_config_finish(&a);
	free(crlf);
	err_clear(&err);
}

static void test_filename_default(void)
{
	struct err err = {0};
	static const char text[] = "name = \"x\"\nmemory = \"lots\"\n";
	struct vm_config c;
	CHECK(xlcfg_parse(text, strlen(text), NULL, &c, &err) == -1);
	CHECK_STR(err.msg, "xl.cfg:2: memory: 'lots' is not a valid number");
	CHECK_STR(ERR_KEY(&err), "memory");
	CHECK(ERR_LINE(&err) == 2);
	/* A hostile filename cannot put a newline into the message. */
	CHECK(xlcfg_parse(text, strlen(text), "a\nb.cfg", &c, &err) == -1);
	CHECK(printable(err.msg));
	err_clear(&err);
}

static void test_key_lines(void)
{
	struct err err = {0};
	struct vm_config c;
	/* A repeated key wins, as in xl, and its last line is the one reported. */
	static const char t1[] = "name = 'a'\nmemory = 'x'\nbootloader = 'pygrub'\n"
				 "memory = 'y'\n";
	CHECK(xlcfg_parse(t1, strlen(t1), "t.cfg", &c, &err) == -1);
	CHECK_STR(err.msg, "t.cfg:4: memory: 'y' is not a valid number");

	/* The first unsupported key is reported, whatever its order in the file. */
	static const char t2[] = "name = 'a'\n\n# cpus = 1\nbootloader = 'pygrub'\n"
				 "pci = [ '01:00.0' ]\nvfb = [ 'vnc=1' ]\n";
	CHECK(xlcfg_parse(t2, strlen(t2), "t.cfg", &c, &err) == -1);
	CHECK_STR(err.msg, "t.cfg:5: pci: unsupported key");
	CHECK_STR(ERR_KEY(&err), "pci");
	char *big = xmalloc(2100);
	memset(big, 'k', 2000);
	strcpy(big + 2000, " = 1\n");
	CHECK(xlcfg_parse(big, strlen(big), "t.cfg", &c, &err) == -1);
	CHECK(strlen(ERR_KEY(&err)) == CONFIG_KEY_MAX);
	CHECK(has_suffix(err.msg, ": unsupported key"));
	check_error_fields(&err, "t.cfg");
	free(big);

	/* Strings and lists that look like statements are not keys; a list spans lines. */
	static const char t3[] = "name = 'tricky'; extra = \"a # b; cpus = [\"\n"
				 "bootloader_args = [ '--x=]', \"#\",\n"
				 "  # maxcpus = 4\n"
				 "  'pci = 3' ]\n"
				 "bootloader = 'pygrub'  # cpus = 2\n"
				 "memory = 256\n";
	int r = xlcfg_parse(t3, strlen(t3), "t.cfg", &c, &err);
	if (r)
		fprintf(stderr, "%s\n", err.msg);
	CHECK(r == 0);
	if (r == 0) {
		CHECK_STR(c.extra, "a # b; cpus = [");
		CHECK(c.n_bootloader_args == 3);
		if (c.n_bootloader_args == 3)
			CHECK_STR(c.bootloader_args[2], "pci = 3");
		CHECK(c.memory == 256);
		check_roundtrip(&c, "tricky");
		vm_config_finish(&c);
	}

	/* A semantic error after a multi-line list still gets the right line. */
	static const char t4[] = "name = 'lines'\nbootloader = 'pygrub'\ndisk = [\n"
				 "  'file:/a.img,xvda,w',\n\n  'file:/b.img,xvdb,w' ]\n"
				 "vif = [ 'mac=zz' ]\n";
	CHECK(xlcfg_parse(t4, strlen(t4), "t.cfg", &c, &err) == -1);
	CHECK_STR(err.msg, "t.cfg:7: vif: invalid MAC address 'zz'");
	err_clear(&err);
}

static void test_disk_specs(void)
{
	struct err err = {0};
	static const struct {
		const char *spec, *canon;
	} good[] = {
		{"file:/srv/a.img,xvda,w", "format=raw, vdev=xvda, access=rw, target=/srv/a.img"},
		{"/srv/a.img,,xvda", "format=raw, vdev=xvda, access=rw, target=/srv/a.img"},
		{"phy:/dev/sdb,xvdb,r", "format=raw, vdev=xvdb, access=ro, target=/dev/sdb"},
		{"tap:qcow2:/srv/b.qcow2,xvdc,w",
		 "format=qcow2, vdev=xvdc, access=rw, target=/srv/b.qcow2"},
		{"vdev=hdc, devtype=cdrom, target=/srv/x.iso",
		 "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/srv/x.iso"},
		{"/srv/x.iso,raw,hdc:cdrom,r",
		 "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/srv/x.iso"},
		{",hdc:cdrom,r", "vdev=hdc, access=ro, devtype=cdrom"},
		{"vdev=hdd, devtype=cdrom", "vdev=hdd, access=ro, devtype=cdrom"},
		{"  format=qed,\tvdev=sda,backendtype=phy,script=block-drbd,target=r0",
		 "format=qed, vdev=sda, access=rw, backendtype=phy, script=block-drbd, target=r0"},
		{"target=/srv/a b,c.img", NULL /* no vdev */},
		{"vdev=xvda, target=/srv/\"q\".img",
		 "format=raw, vdev=xvda, access=rw, target=/srv/\"q\".img"},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct vm_disk d;
		int r = xlcfg_parse_disk(good[i].spec, &d, &err);
		if (!good[i].canon) {
			CHECK(r == -1);
			CHECK_STR(ERR_KEY(&err), "disk");
			continue;
		}
		if (r)
			fprintf(stderr, "%s: %s\n", good[i].spec, err.msg);
		CHECK(r == 0);
		if (r)
			continue;
		char *s = xlcfg_format_disk(&d);
		CHECK_STR(s, good[i].canon);
		struct vm_disk back;
		CHECK(xlcfg_parse_disk(s, &back, &err) == 0);
		char *s2 = xlcfg_format_disk(&back);
		CHECK_STR(s2, s);
		free(s);
		free(s2);
		free(back.target), free(back.vdev), free(back.format), free(back.backendtype),
			free(back.script);
		free(d.target), free(d.vdev), free(d.format), free(d.backendtype), free(d.script);
	}

	static const char *const bad[] = {
		"", "/srv/a.img", "/srv/a.img,qcow9,xvda,w", "vdev=xvda, bogus=1, target=/a",
		"vdev=xvda, direct-io-safe, target=/a", "vdev=xvda, no-discard, target=/a",
		"vdev=xvda, backend=driverdom, target=/a", "vdev=xvda, trusted, target=/a",
		"vdev=xvda, specification=virtio, target=/a", "vdev=xvda, colo-port=9, target=/a",
		"vdev=xvda, backendtype=standalone, target=/a", "vdev=xvda, format=empty, target=/a",
		"/srv/a.img,raw,xvda,w,extra", "vdev=xvda, devtype=floppy, target=/a",
		"vdev=xvda,\ntarget=/a", "vdev=xvda, access=rwx, target=/a",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vm_disk d;
		int r = xlcfg_parse_disk(bad[i], &d, &err);
		if (r == 0)
			fprintf(stderr, "accepted bad disk spec '%s'\n", bad[i]);
		CHECK(r == -1);
		CHECK_STR(ERR_KEY(&err), "disk");
		CHECK(strncmp(err.msg, "disk: ", 6) == 0 && strlen(err.msg) > 10);
		CHECK(printable(err.msg));
		CHECK(d.target == NULL && d.vdev == NULL && d.format == NULL);
	}
	struct vm_disk d;
	CHECK(xlcfg_parse_disk(NULL, &d, &err) == -1);
	err_clear(&err);
}

static void test_vif_specs(void)
{
	struct err err = {0};
	static const struct {
		const char *spec, *canon;
	} good[] = {
		{"mac=00:16:3E:54:02:03, bridge=xenbr0", "mac=00:16:3e:54:02:03, bridge=xenbr0"},
		{"", ""},
		{" , ", ""},
		{"bridge=xenbr0,bridge=xenbr1", "bridge=xenbr1"},
		{"type=ioemu,model=rtl8139,vifname=web0,script=vif-bridge,ip=10.0.0.1",
		 "script=vif-bridge, ip=10.0.0.1, vifname=web0, model=rtl8139, type=ioemu"},
		{"  ip = 192.0.2.1 192.0.2.2 ,\tscript = vif-route  ",
		 "script=vif-route, ip=192.0.2.1 192.0.2.2"},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct vm_vif v;
		int r = xlcfg_parse_vif(good[i].spec, &v, &err);
		if (r)
			fprintf(stderr, "%s: %s\n", good[i].spec, err.msg);
		CHECK(r == 0);
		if (r)
			continue;
		char *s = xlcfg_format_vif(&v);
		CHECK_STR(s, good[i].canon);
		free(s);
		free(v.mac), free(v.bridge), free(v.script), free(v.ip), free(v.vifname),
			free(v.model), free(v.type);
	}
	static const struct {
		const char *spec, *message;
	} bad[] = {
		{"rate=10Mb/s", "vif: 'rate' is not supported (vmd supports mac, bridge, script, ip, "
				"vifname, model, type)"},
		{"mac=00:16:3e:00:00:01, backend=dd", "vif: 'backend' is not supported (vmd supports "
						      "mac, bridge, script, ip, vifname, model, "
						      "type)"},
		{"colo_sock_mirror_id=1", "vif: 'colo_sock_mirror_id' is not supported (vmd "
					  "supports mac, bridge, script, ip, vifname, model, type)"},
		{"bridg=xenbr0", "vif: unknown key 'bridg' (use mac, bridge, script, ip, vifname, "
				 "model, type)"},
		{"xenbr0", "vif: 'xenbr0' is not key=value (in 'xenbr0')"},
		{"mac=", "vif: empty value for 'mac' (in 'mac=')"},
		{"mac=00:16:3e:00:00:0g", "vif: invalid MAC address '00:16:3e:00:00:0g'"},
		{"mac=00:16:3e:00:00:01:02", "vif: invalid MAC address '00:16:3e:00:00:01:02'"},
		{"bridge=a\tb\n", "vif: control character in spec 'bridge=a?b?'"},
		{NULL, "vif: missing spec"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vm_vif v;
		CHECK(xlcfg_parse_vif(bad[i].spec, &v, &err) == -1);
		CHECK_STR(err.msg, bad[i].message);
		CHECK_STR(ERR_KEY(&err), "vif");
		CHECK(v.mac == NULL && v.bridge == NULL);
	}
	err_clear(&err);
}

/* Every top-level JSON key refuses a value of the wrong type, naming that key. */
static void test_json_types(void)
{
	struct err err = {0};
	static const struct {
		const char *key, *value;
	} cases[] = {
		{"name", "1"},		{"type", "true"},	{"uuid", "[]"},
		{"vcpus", "\"2\""},	{"vcpus", "2.0"},	{"maxvcpus", "false"},
		{"memory", "\"512\""},	{"memory", "-512"},	{"memory", "1e3"},
		{"maxmem", "{}"},	{"maxmem", "-1"},	{"kernel", "1"},
		{"ramdisk", "[]"},	{"cmdline", "{}"},	{"root", "false"},
		{"extra", "0"},		{"bootloader", "[\"pygrub\"]"},
		{"bootloader_args", "\"-q\""},			{"bootloader_args", "[1]"},
		{"disk", "\"file:/a,xvda,w\""},			{"disk", "[true]"},
		{"vif", "{}"},		{"vif", "[1]"},		{"boot", "1"},
		{"vnc", "1"},		{"vnc", "\"true\""},	{"vnclisten", "0"},
		{"vncdisplay", "\"1\""},			{"vncdisplay", "-2"},
		{"serial", "[\"pty\"]"},			{"sdl", "0"},
		{"on_poweroff", "0"},	{"on_reboot", "[]"},	{"on_crash", "{}"},
		{"vcpus", "2147483648"},			{"vcpus", "513"},
		{"memory", "9223372036854775807"},		{"maxvcpus", "-1"},
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
		CHECK(strncmp(err.msg, cases[i].key, strlen(cases[i].key)) == 0);
		free(text);
	}
	err_clear(&err);
}

static void test_json_equivalence(void)
{
	struct err err = {0};
	/* The issue example, written three ways: xl.cfg, JSON with spec strings, JSON objects. */
	static const char j1[] = "{\"name\": \"centos65_3.pv\", \"vcpus\": 1, \"memory\": 4096,"
				 " \"vif\": [\"mac=00:16:3e:54:02:03, bridge=xenbr0\"],"
				 " \"disk\": [\"file:/srv/xen/centos65_pv_3.img,xvda,w\"],"
				 " \"bootloader\": \"pygrub\"}";
	static const char j2[] = "{\"bootloader\": \"pygrub\", \"name\": \"centos65_3.pv\","
				 " \"memory\": 4096, \"type\": \"pv\", \"maxmem\": null,"
				 " \"vif\": [{\"bridge\": \"xenbr0\", \"mac\": \"00:16:3e:54:02:03\"}],"
				 " \"disk\": [{\"vdev\": \"xvda\", \"access\": \"rw\","
				 " \"target\": \"/srv/xen/centos65_pv_3.img\", \"format\": \"raw\","
				 " \"cdrom\": false}], \"on_reboot\": \"restart\"}";
	struct vm_config x, a, b;
	CHECK(xlcfg_parse(example, strlen(example), "x.cfg", &x, &err) == 0);
	CHECK(parse_json_text(j1, strlen(j1), &a, &err) == 0);
	CHECK(parse_json_text(j2, strlen(j2), &b, &err) == 0);
	CHECK(vm_config_equal(&x, &a));
	CHECK(vm_config_equal(&x, &b));

	/* config_to_json output is canonical: the same for all three. */
	json_t *jx = config_to_json(&x), *ja = config_to_json(&a);
	CHECK(json_equal(jx, ja));
	CHECK(json_is_array(json_object_get(jx, "disk")));
	CHECK(json_is_object(json_array_get(json_object_get(jx, "disk"), 0)));
	CHECK(json_is_object(json_array_get(json_object_get(jx, "vif"), 0)));
	CHECK(json_object_get(jx, "uuid") == NULL); /* no uuid given */
	CHECK_STR(json_string_value(json_object_get(jx, "on_reboot")), "restart");
	json_decref(jx);
	json_decref(ja);
	vm_config_finish(&x);
	vm_config_finish(&a);
	vm_config_finish(&b);

	/* A NUL inside a spec string is refused, not truncated. */
	static const char j3[] = "{\"name\": \"n\", \"bootloader\": \"pygrub\","
				 " \"disk\": [\"file:/a.img\\u0000,xvdb,w\"]}";
	CHECK(parse_json_text(j3, strlen(j3), &a, &err) == -1);
	CHECK_STR(err.msg, "disk: contains a NUL character");
	static const char j4[] = "{\"name\": \"n\", \"bootloader\": \"pygrub\","
				 " \"vif\": [{\"bridge\": \"br\\u00000\"}]}";
	CHECK(parse_json_text(j4, strlen(j4), &a, &err) == -1);
	CHECK_STR(err.msg, "vif: 'bridge' contains a NUL character");
	/* A hostile key cannot put control characters into the message. */
	static const char j5[] = "{\"name\": \"n\", \"a\\nb\": 1}";
	CHECK(parse_json_text(j5, strlen(j5), &a, &err) == -1);
	CHECK_STR(err.msg, "a?b: unknown key");
	/* A huge key is cut, consistently in key and message, and the message stays whole. */
	char *big = xmalloc(2100);
	int n = snprintf(big, 2100, "{\"name\": \"n\", \"");
	memset(big + n, 'k', 2000);
	strcpy(big + n + 2000, "\": 1}");
	CHECK(parse_json_text(big, strlen(big), &a, &err) == -1);
	CHECK(strlen(ERR_KEY(&err)) == CONFIG_KEY_MAX);
	CHECK(strncmp(err.msg, ERR_KEY(&err), strlen(ERR_KEY(&err))) == 0);
	CHECK(has_suffix(err.msg, ": unknown key"));
	free(big);
	err_clear(&err);
}

/* Values a real config may hold that stress the quoting of the xl.cfg we emit. */
static void test_roundtrip_tricky(void)
{
	struct err err = {0};
	struct vm_config c;
	vm_config_init(&c);
	c.name = xstrdup("tricky_1.example-com");
	c.type = VM_TYPE_PV;
	c.has_uuid = true;
	for (int i = 0; i < 16; i++)
		c.uuid[i] = (uint8_t)(i * 17 + 3);
	c.vcpus = 3;
	c.maxvcpus = 8;
	c.memory = 16;
	c.maxmem = 16ULL * 1024 * 1024;
	c.kernel = xstrdup("/boot/vm \"linuz\" \\ 'x' # [y] ; z = 1");
	c.ramdisk = xstrdup("/boot/initrd-ü-😀.img");
	c.cmdline = xstrdup("");
	c.root = xstrdup("/dev/xvda1");
	c.extra = xstrdup("a=\"b c\" d='e' f=\\g");
	c.n_disks = 3;
	c.disks = xcalloc(3, sizeof(*c.disks));
	c.disks[0] = (struct vm_disk){xstrdup("/srv/a, b \"c\" \\d.img"), xstrdup("xvda"), NULL,
				      NULL, NULL, true, false};
	c.disks[1] = (struct vm_disk){xstrdup("/dev/vg/x"), xstrdup("xvdb"), xstrdup("raw"),
				      xstrdup("phy"), xstrdup("/etc/xen/scripts/block-x"), false,
				      false};
	c.disks[2] = (struct vm_disk){NULL, xstrdup("xvdc"), NULL, NULL, NULL, false, true};
	c.n_vifs = 2;
	c.vifs = xcalloc(2, sizeof(*c.vifs));
	c.vifs[0] = (struct vm_vif){xstrdup("00:16:3e:7f:ff:01"), xstrdup("br.lan-1"),
				    xstrdup("vif-bridge"), NULL, xstrdup("t_0"), NULL, xstrdup("vif")};
	c.vifs[1] = (struct vm_vif){NULL, NULL, xstrdup("vif-nat"),
				    xstrdup("10.0.0.1/24 fe80::1"), NULL, NULL, NULL};
	c.bootloader = NULL;
	int r = vm_config_validate(&c, &err);
	if (r)
		fprintf(stderr, "%s\n", err.msg);
	CHECK(r == 0);
	check_roundtrip(&c, "tricky pv");

	/* The same with format "raw" spelled out: equal, and the same output. */
	struct vm_config d;
	vm_config_copy(&d, &c);
	d.disks[0].format = xstrdup("raw");
	CHECK(vm_config_equal(&c, &d));
	char *fc = xlcfg_format(&c), *fd = xlcfg_format(&d);
	CHECK_STR(fc, fd);
	free(fc);
	free(fd);
	vm_config_finish(&d);

	/* HVM with every emulated-hardware key set (and no kernel: hvm guests boot from disk). */
	free(c.cmdline);
	free(c.kernel);
	free(c.ramdisk);
	free(c.root);
	free(c.extra);
	c.cmdline = c.kernel = c.ramdisk = c.root = c.extra = NULL;
	c.type = VM_TYPE_HVM;
	c.boot = xstrdup("ncd");
	c.vnc = true;
	c.vnclisten = xstrdup("0.0.0.0:5");
	c.vncdisplay = 0;
	c.serial = xstrdup("tcp:127.0.0.1:4555,server,nowait");
	c.sdl = true;
	c.on_poweroff = VM_ACTION_PRESERVE;
	c.on_reboot = VM_ACTION_DESTROY;
	c.on_crash = VM_ACTION_RESTART;
	c.vifs[1].model = xstrdup("e1000");
	r = vm_config_validate(&c, &err);
	if (r)
		fprintf(stderr, "%s\n", err.msg);
	CHECK(r == 0);
	check_roundtrip(&c, "tricky hvm");
	vm_config_finish(&c);
	err_clear(&err);
}

/* Configs built by hand that no parser would produce; validation is their only guard. */
static void test_validate(void)
{
	struct err err = {0};
	static const struct {
		const char *what, *key;
	} cases[] = {
		{"utf8", "kernel"},	   {"del", "extra"},	     {"cdrom-format", "disk"},
		{"no-vdev", "disk"},	   {"mac-upper", "vif"},     {"vif-space", "vif"},
		{"ifname", "vif"},	   {"model", "vif"},	     {"script", "disk"},
		{"ip", "vif"},		   {"cdrom-rw", "disk"},     {"vcpus", "vcpus"},
		{"memory", "memory"},	   {"type", "type"},	     {"action", "on_crash"},
		{"root-empty", "root"},	   {"vncdisplay", "vncdisplay"},
		{"leading-space", "disk"}, {"pvh-bootloader", "bootloader"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vm_config c;
		const char *w = cases[i].what;
		vm_config_init(&c);
		c.name = xstrdup("v");
		c.kernel = xstrdup("/boot/vmlinuz");
		c.n_disks = 1;
		c.disks = xcalloc(1, sizeof(*c.disks));
		c.disks[0] = (struct vm_disk){xstrdup("/a.img"), xstrdup("xvda"), NULL, NULL, NULL,
					      true, false};
		c.n_vifs = 1;
		c.vifs = xcalloc(1, sizeof(*c.vifs));
		CHECK(vm_config_validate(&c, &err) == 0);

		if (!strcmp(w, "utf8")) {
			free(c.kernel);
			c.kernel = xstrdup("/boot/\xc3\x28");
		} else if (!strcmp(w, "del")) {
			c.extra = xstrdup("a\x7f");
		} else if (!strcmp(w, "cdrom-format")) {
			free(c.disks[0].target);
			c.disks[0].target = NULL;
			c.disks[0].cdrom = true;
			c.disks[0].readwrite = false;
			c.disks[0].format = xstrdup("qcow2");
		} else if (!strcmp(w, "no-vdev")) {
			free(c.disks[0].vdev);
			c.disks[0].vdev = NULL;
		} else if (!strcmp(w, "mac-upper")) {
			c.vifs[0].mac = xstrdup("00:16:3E:00:00:01");
		} else if (!strcmp(w, "vif-space")) {
			c.vifs[0].bridge = xstrdup(" br0");
		} else if (!strcmp(w, "ifname")) {
			c.vifs[0].vifname = xstrdup("a/b");
		} else if (!strcmp(w, "model")) {
			c.vifs[0].model = xstrdup("e1000=x");
		} else if (!strcmp(w, "script")) {
			c.disks[0].script = xstrdup("block x");
		} else if (!strcmp(w, "ip")) {
			c.vifs[0].ip = xstrdup("10.0.0.1;rm");
		} else if (!strcmp(w, "cdrom-rw")) {
			c.disks[0].cdrom = true;
		} else if (!strcmp(w, "vcpus")) {
			c.vcpus = -1;
		} else if (!strcmp(w, "memory")) {
			c.memory = UINT64_MAX;
		} else if (!strcmp(w, "type")) {
			c.type = (enum vm_type)7;
		} else if (!strcmp(w, "action")) {
			c.on_crash = (enum vm_action)-1;
		} else if (!strcmp(w, "root-empty")) {
			c.root = xstrdup("");
		} else if (!strcmp(w, "vncdisplay")) {
			c.type = VM_TYPE_HVM;
			free(c.kernel);
			c.kernel = NULL;
			c.vncdisplay = 70000;
		} else if (!strcmp(w, "leading-space")) {
			c.disks[0].script = xstrdup("block-iscsi");
			free(c.disks[0].target);
			c.disks[0].target = xstrdup(" iqn.x");
		} else if (!strcmp(w, "pvh-bootloader")) {
			c.type = VM_TYPE_PVH;
			c.bootloader = xstrdup("pygrub");
		}
		int r = vm_config_validate(&c, &err);
		if (r == 0)
			fprintf(stderr, "validate accepted case %s\n", w);
		CHECK(r == -1);
		CHECK_STR(ERR_KEY(&err), cases[i].key);
		CHECK(printable(err.msg));
		vm_config_finish(&c);
	}
	err_clear(&err);
}

/* Deterministic mutations of valid files: whatever the parser accepts must be valid and
 * round-trip; whatever it refuses must come with a clean message. Run under valgrind/ASan
 * this is what catches leaks on the rarer failure paths. */
static void test_mutations(void)
{
	struct err err = {0};
	static const char base[] =
		"builder = \"hvm\"\nname = \"win-install\"\nvcpus = 2\nmemory = 4096\n"
		"disk = [ 'file:/srv/xen/win.img,hda,w', ',hdc:cdrom,r' ]\n"
		"vif = [ 'mac=00:16:3e:0a:0b:0c, bridge=xenbr0, model=e1000' ]\n"
		"boot = \"dc\"\nvnc = 1\nserial = 'pty'\non_crash = 'preserve'\n";
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
			case 0: /* replace */
				buf[pos] = ch;
				break;
			case 1: /* insert */
				memmove(buf + pos + 1, buf + pos, n - pos);
				buf[pos] = ch;
				n++;
				break;
			default: /* delete */
				memmove(buf + pos, buf + pos + 1, n - pos - 1);
				n--;
				break;
			}
		}
		struct vm_config c;
		if (xlcfg_parse(buf, n, "m.cfg", &c, &err) == 0) {
			accepted++;
			CHECK(vm_config_validate(&c, &err) == 0);
			check_roundtrip(&c, "mutation");
			vm_config_finish(&c);
		} else {
			CHECK(err.msg[0] != '\0');
			CHECK(printable(err.msg));
			CHECK(strncmp(err.msg, "m.cfg:", 6) == 0);
		}
	}
	/* Some mutations keep the file valid (e.g. within a string); not all are refused. */
	CHECK(accepted > 0 && accepted < 3000);
	free(buf);
	err_clear(&err);
}

int main(void)
{
	RUN(test_golden_files);
	RUN(test_issue_example);
	RUN(test_nul_in_text);
	RUN(test_text_not_terminated);
	RUN(test_crlf);
	RUN(test_filename_default);
	RUN(test_key_lines);
	RUN(test_disk_specs);
	RUN(test_vif_specs);
	RUN(test_json_types);
	RUN(test_json_equivalence);
	RUN(test_roundtrip_tricky);
	RUN(test_validate);
	RUN(test_mutations);
	TEST_DONE();
}
