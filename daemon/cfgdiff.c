/*
 * cfgdiff.c: see cfgdiff.h. Texts are compared as libxlutil reads them (xlcfg_values), so
 * comments, layout, quoting and the order of keys or of list items make no difference.
 */
#include "cfgdiff.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libxl.h>

#include "err.h"
#include "util.h"
#include "xlcfg.h"

static bool keyed(const char *key)
{
	return strcmp(key, "disk") == 0 || strcmp(key, "vif") == 0;
}

char *cfgdiff_item_id(const char *key, const char *spec)
{
	if (strcmp(key, "vif") == 0) {
		char *mac = xlcfg_spec_option(spec, "mac");
		uint8_t m[6];
		if (!mac || mac_parse(mac, m) < 0) {
			free(mac);
			return NULL;
		}
		free(mac);
		char out[MAC_STR_LEN];
		mac_format(m, out);
		return xstrdup(out);
	}
	libxl_device_disk d;
	struct err err = {0};
	char *id = NULL;
	if (xlcfg_parse_disk(spec, &d, &err) == 0 && d.vdev)
		id = xstrdup(d.vdev);
	err_clear(&err);
	libxl_device_disk_dispose(&d);
	return id;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What an item means, as one string: a disk spec as xlu_disk_parse reads it; a vif spec's
 * options trimmed and sorted (the MAC in lower case). */
static char *canonical(const char *key, const char *spec)
{
	if (strcmp(key, "disk") == 0) {
		libxl_device_disk d;
		struct err err = {0};
		char *s = xlcfg_parse_disk(spec, &d, &err) == 0 ? xlcfg_disk_spec(&d) : NULL;
		err_clear(&err);
		libxl_device_disk_dispose(&d);
		return s ? s : xstrdup(spec);
	}
	char *copy = xstrdup(spec);
	char **opts = NULL;
	size_t n = 0;
	for (char *save = NULL, *o = strtok_r(copy, ",", &save); o;
	     o = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*o))
			o++;
		size_t len = strlen(o);
		while (len && isspace((unsigned char)o[len - 1]))
			o[--len] = '\0';
		if (!len)
			continue;
		if (strncmp(o, "mac=", 4) == 0)
			for (char *p = o + 4; *p; p++)
				*p = (char)tolower((unsigned char)*p);
		opts = xrealloc(opts, (n + 1) * sizeof *opts);
		opts[n++] = o;
	}
	qsort(opts, n, sizeof *opts, cmp_str);
	size_t total = 1;
	for (size_t i = 0; i < n; i++)
		total += strlen(opts[i]) + 1;
	char *out = xcalloc(1, total);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, opts[i]);
	}
	free(opts);
	free(copy);
	return out;
}

bool cfgdiff_same_but(const char *key, const char *a, const char *b, const char *option)
{
	char *a1 = xlcfg_spec_set(a, option, NULL), *b1 = xlcfg_spec_set(b, option, NULL);
	char *a2 = canonical(key, a1), *b2 = canonical(key, b1);
	bool same = strcmp(a2, b2) == 0;
	free(a1);
	free(b1);
	free(a2);
	free(b2);
	return same;
}

static json_t *change(const char *key, const char *id, json_t *live, json_t *config)
{
	json_t *c = json_pack("{s:s}", "key", key);
	if (id)
		json_object_set_new(c, "id", json_string(id));
	json_object_set(c, "live", live ? live : json_null());
	json_object_set(c, "config", config ? config : json_null());
	return c;
}

/* The spec of list (an array of strings) whose id is id, or NULL. */
static json_t *find_item(const char *key, json_t *list, const char *id)
{
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item) {
		const char *s = json_string_value(item);
		char *iid = s ? cfgdiff_item_id(key, s) : NULL;
		bool match = iid && strcmp(iid, id) == 0;
		free(iid);
		if (match)
			return item;
	}
	return NULL;
}

static bool all_strings_with_ids(const char *key, json_t *list)
{
	if (!list)
		return true;
	if (!json_is_array(list))
		return false;
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item) {
		const char *s = json_string_value(item);
		char *id = s ? cfgdiff_item_id(key, s) : NULL;
		if (!id)
			return false;
		free(id);
	}
	return true;
}

/* The item changes of a disk or vif list: those of to (changed or added), then those only
 * from has (removed). */
static void diff_items(json_t *out, const char *key, json_t *from, json_t *to)
{
	json_t *empty = json_array();
	from = from ? from : empty;
	to = to ? to : empty;
	size_t i;
	json_t *item;
	json_array_foreach(to, i, item) {
		char *id = cfgdiff_item_id(key, json_string_value(item));
		json_t *old = find_item(key, from, id);
		char *a = old ? canonical(key, json_string_value(old)) : NULL;
		char *b = canonical(key, json_string_value(item));
		if (!a || strcmp(a, b) != 0)
			json_array_append_new(out, change(key, id, old, item));
		free(a);
		free(b);
		free(id);
	}
	json_array_foreach(from, i, item) {
		char *id = cfgdiff_item_id(key, json_string_value(item));
		if (!find_item(key, to, id))
			json_array_append_new(out, change(key, id, item, NULL));
		free(id);
	}
	json_decref(empty);
}

json_t *cfgdiff(const char *from, const char *to)
{
	json_t *a = xlcfg_values(from);
	json_t *b = xlcfg_values(to);
	json_t *out = json_array();
	const char *key;
	json_t *v;
	json_object_foreach(b, key, v) {
		json_t *old = json_object_get(a, key);
		if (keyed(key) && all_strings_with_ids(key, v) && all_strings_with_ids(key, old))
			diff_items(out, key, old, v);
		else if (!old || !json_equal(old, v))
			json_array_append_new(out, change(key, NULL, old, v));
	}
	json_object_foreach(a, key, v) {
		if (json_object_get(b, key))
			continue;
		if (keyed(key) && all_strings_with_ids(key, v))
			diff_items(out, key, v, NULL);
		else
			json_array_append_new(out, change(key, NULL, v, NULL));
	}
	json_decref(a);
	json_decref(b);
	return out;
}

char *cfgdiff_edit_item(const char *text, const char *key, const char *id, const char *spec)
{
	json_t *values = xlcfg_values(text);
	json_t *list = json_object_get(values, key);
	if (list && !all_strings_with_ids(key, list)) {
		json_decref(values);
		return NULL;
	}
	size_t n = list ? json_array_size(list) : 0, k = 0;
	char **items = xcalloc(n + 2, sizeof *items);
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(list, i));
		char *iid = cfgdiff_item_id(key, s);
		bool match = strcmp(iid, id) == 0;
		free(iid);
		if (!match)
			items[k++] = xstrdup(s);
		else if (spec)
			items[k++] = xstrdup(spec);
		found |= match;
	}
	if (!found && spec)
		items[k++] = xstrdup(spec);
	json_decref(values);
	char *out = k ? xlcfg_set_items(text, key, items, k) : xlcfg_unset(text, key);
	for (size_t i = 0; i < k; i++)
		free(items[i]);
	free(items);
	return out;
}
