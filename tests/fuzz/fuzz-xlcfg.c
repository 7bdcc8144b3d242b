/*
 * fuzz-xlcfg.c: libFuzzer on the config parsers. The input is tried as xl.cfg text and as a
 * JSON config object; whatever parses must mean the same again through its own text and
 * through its JSON form, which turns silent misparses into crashes the fuzzer reports.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "xlcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const struct vm_config *cfg)
{
	struct err err = {0};
	struct vm_config again;
	if (config_parse(cfg->text, strlen(cfg->text), "fuzz", NULL, &again, &err) < 0 ||
	    !vm_config_equal(cfg, &again) || strcmp(cfg->text, again.text) != 0)
		abort();
	vm_config_finish(&again);
	json_t *j = config_to_json(cfg);
	if (config_parse_json(j, NULL, &again, &err) < 0 || !vm_config_equal(cfg, &again))
		abort();
	vm_config_finish(&again);
	json_decref(j);
	err_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err err = {0};
	struct vm_config cfg;
	if (config_parse((const char *)data, size, "fuzz", NULL, &cfg, &err) == 0) {
		roundtrip(&cfg);
		vm_config_finish(&cfg);
	}
	err_clear(&err);
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	if (j) {
		if (config_parse_json(j, NULL, &cfg, &err) == 0) {
			roundtrip(&cfg);
			vm_config_finish(&cfg);
		}
		json_decref(j);
	}
	err_clear(&err);
	return 0;
}
