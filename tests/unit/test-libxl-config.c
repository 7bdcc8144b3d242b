/*
 * test-libxl-config.c: golden tests of the config -> libxl translation (backend/libxl-config.c),
 * without Xen. Each libxl/NAME.cfg is parsed with xlcfg_parse, translated, and rendered with
 * libxl's own generator (libxl_domain_config_gen_json, which needs no libxl context); the
 * text must equal libxl/NAME.json byte for byte.
 *
 * The expected files were generated once and then reviewed by hand, field by field, against
 * what the .cfg says. VMD_REGEN=1 rewrites them from the current output (review the diff!).
 * A few properties that a golden file cannot show well are checked directly below.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libxl.h first (pinned API version), then its JSON generators */
#include "backend/libxl-internal.h"

#include <libxl_json.h>
#include <yajl/yajl_gen.h>

#include "test.h"
#include "util.h"
#include "vmd-proto.h"
#include "xlcfg.h"

#define DIR_GOLDEN "libxl"

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The libxl JSON of a translated config, malloc'ed, ending in a newline; NULL on failure. */
static char *render(libxl_domain_config *dc)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g)
		return NULL;
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_indent_string, "    ");
	char *out = NULL;
	if (libxl_domain_config_gen_json(g, dc) == yajl_gen_status_ok) {
		const unsigned char *buf;
		size_t len;
		yajl_gen_get_buf(g, &buf, &len);
		out = xasprintf("%.*s%s", (int)len, (const char *)buf,
				len && buf[len - 1] == '\n' ? "" : "\n");
	}
	yajl_gen_free(g);
	return out;
}

/* Parses dir/name (an xl.cfg) into cfg; 0 / -1 with a message. */
static int load_cfg(const char *name, struct vm_config *cfg)
{
	struct err err = {0};
	char *path = xasprintf("%s/%s", DIR_GOLDEN, name);
	size_t len;
	char *text = read_file(path, 1 << 20, &len);
	int r = -1;
	if (!text) {
		fprintf(stderr, "%s: cannot read\n", path);
	} else {
		r = xlcfg_parse(text, len, name, cfg, &err);
		if (r < 0)
			fprintf(stderr, "%s: %s\n", path, err.msg);
	}
	free(text);
	free(path);
	err_clear(&err);
	return r;
}

static void golden_one(const char *name, bool regen)
{
	struct err err = {0};
	struct vm_config cfg;
	if (load_cfg(name, &cfg) < 0) {
		CHECK(!"config parses");
		return;
	}
	libxl_domain_config dc;
	int r = be_libxl_config_build(&cfg, true, &dc, &err);
	if (r < 0)
		fprintf(stderr, "%s: translation failed: %s\n", name, err.msg);
	CHECK(r == 0);
	if (r == 0) {
		char *got = render(&dc);
		CHECK(got != NULL);
		char *jpath = xasprintf("%s/%.*s.json", DIR_GOLDEN, (int)(strlen(name) - 4), name);
		if (got && regen) {
			CHECK(write_file_atomic(jpath, got, strlen(got), 0644) == 0);
			fprintf(stderr, "regenerated %s\n", jpath);
		} else if (got) {
			size_t len;
			char *want = read_file(jpath, 1 << 20, &len);
			if (!want)
				fprintf(stderr, "%s: missing (VMD_REGEN=1 writes it)\n", jpath);
			else if (strcmp(got, want) != 0)
				fprintf(stderr, "%s differs; got:\n%s", jpath, got);
			CHECK(want && strcmp(got, want) == 0);
			free(want);
		}
		free(got);
		free(jpath);
		libxl_domain_config_dispose(&dc);
	}
	vm_config_finish(&cfg);
	err_clear(&err);
}

static void test_golden(void)
{
	bool regen = getenv("VMD_REGEN") && strcmp(getenv("VMD_REGEN"), "1") == 0;
	DIR *d = opendir(DIR_GOLDEN);
	CHECK(d != NULL);
	if (!d)
		return;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!has_suffix(e->d_name, ".cfg"))
			continue;
		golden_one(e->d_name, regen);
		n++;
	}
	closedir(d);
	CHECK(n >= 7);
}

/* The properties the scenarios depend on, checked field by field. */
static void test_pygrub_resolved(void)
{
	struct err err = {0};
	struct vm_config cfg;
	if (load_cfg("pv-pygrub.cfg", &cfg) < 0) {
		CHECK(!"config parses");
		return;
	}
	libxl_domain_config dc;
	CHECK(be_libxl_config_build(&cfg, true, &dc, &err) == 0);
	CHECK_STR(dc.b_info.bootloader, VMD_XEN_BINDIR "/pygrub");
	CHECK(dc.c_info.type == LIBXL_DOMAIN_TYPE_PV);
	CHECK(dc.b_info.kernel == NULL);
	CHECK(dc.b_info.target_memkb == 4096 * 1024);
	CHECK(dc.num_disks == 1 && dc.disks[0].readwrite == 1 &&
	      dc.disks[0].format == LIBXL_DISK_FORMAT_RAW);
	CHECK(dc.num_nics == 1 && dc.nics[0].mac[5] == 0x03 && dc.nics[0].devid == 0);
	CHECK_STR(dc.nics[0].bridge, "xenbr0");
	libxl_domain_config_dispose(&dc);
	vm_config_finish(&cfg);
	err_clear(&err);
}

static void test_hvm_cdrom(void)
{
	struct err err = {0};
	struct vm_config cfg;
	if (load_cfg("hvm-empty-cdrom.cfg", &cfg) < 0) {
		CHECK(!"config parses");
		return;
	}
	libxl_domain_config dc;
	CHECK(be_libxl_config_build(&cfg, true, &dc, &err) == 0);
	CHECK(dc.b_info.type == LIBXL_DOMAIN_TYPE_HVM);
	CHECK(dc.num_disks == 2);
	if (dc.num_disks == 2) {
		CHECK(dc.disks[1].is_cdrom && dc.disks[1].removable && !dc.disks[1].readwrite);
		CHECK(dc.disks[1].format == LIBXL_DISK_FORMAT_EMPTY && !dc.disks[1].pdev_path);
	}
	CHECK_STR(dc.b_info.u.hvm.serial, "pty");
	libxl_domain_config_dispose(&dc);
	vm_config_finish(&cfg);
	err_clear(&err);
}

/* claim_mode as xl sets it: the host's default (xl.conf, on unless it says otherwise) for
 * every guest, and a guest's own claim_mode = 0|1 over it. */
static void test_claim_mode(void)
{
	struct err cerr = {0};
	struct err err = {0};
	static const struct {
		const char *line;
		bool host, want;
	} cases[] = {
		{"", true, true},
		{"", false, false},
		{"claim_mode = 0\n", true, false},
		{"claim_mode = 1\n", false, true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *text = xasprintf("name = \"c\"\nkernel = \"/k\"\n%s", cases[i].line);
		struct vm_config cfg;
		CHECK(xlcfg_parse(text, strlen(text), "c.cfg", &cfg, &cerr) == 0);
		libxl_domain_config dc;
		CHECK(be_libxl_config_build(&cfg, cases[i].host, &dc, &err) == 0);
		CHECK(!libxl_defbool_is_default(dc.b_info.claim_mode));
		CHECK(libxl_defbool_val(dc.b_info.claim_mode) == cases[i].want);
		libxl_domain_config_dispose(&dc);
		vm_config_finish(&cfg);
		free(text);
	}
	err_clear(&cerr);
	err_clear(&err);
}

/* Translation of a config that did not come through xlcfg (the JSON form is validated the
 * same way, but the translation must not trust it blindly). */
static void test_rejects(void)
{
	struct err err = {0};
	struct vm_config cfg;
	vm_config_init(&cfg);
	cfg.name = xstrdup("bad");
	cfg.kernel = xstrdup("/boot/vmlinuz");
	cfg.disks = xcalloc(1, sizeof *cfg.disks);
	cfg.n_disks = 1;
	cfg.disks[0].vdev = xstrdup("xvda");
	cfg.disks[0].target = xstrdup("/x.img");
	cfg.disks[0].format = xstrdup("floppy");
	libxl_domain_config dc;
	CHECK(be_libxl_config_build(&cfg, true, &dc, &err) == -1);
	CHECK(err.code == VMD_ERR_INVALID_CONFIG);
	CHECK(strstr(err.msg, "floppy") != NULL);

	free(cfg.disks[0].format);
	cfg.disks[0].format = NULL;
	cfg.vifs = xcalloc(1, sizeof *cfg.vifs);
	cfg.n_vifs = 1;
	cfg.vifs[0].mac = xstrdup("00:16:3e:zz:00:00");
	CHECK(be_libxl_config_build(&cfg, true, &dc, &err) == -1);
	CHECK(strstr(err.msg, "mac") != NULL);

	free(cfg.name);
	cfg.name = NULL;
	CHECK(be_libxl_config_build(&cfg, true, &dc, &err) == -1);
	vm_config_finish(&cfg);
	err_clear(&err);
}

int main(void)
{
	RUN(test_golden);
	RUN(test_pygrub_resolved);
	RUN(test_hvm_cdrom);
	RUN(test_claim_mode);
	RUN(test_rejects);
	TEST_DONE();
}
