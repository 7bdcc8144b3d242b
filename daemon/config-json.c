/*
 * config-json.c: the JSON object form of a guest config (proto/: "config"), from and to its
 * xl.cfg text, driven by the table of keys (xlkeys.c): one member per xl.cfg key.
 *
 * Input: a string is an xl.cfg string, an integer a number, true/false 1/0 (for keys that
 * take a number), an array a list (its items strings, numbers or arrays), null "not set".
 * The items of "disk" and "vif" may also be objects, turned into spec strings (disk:
 * target, vdev, format, access, backendtype, script, cdrom; vif: any of its options). The
 * text made from the object is parsed like any xl.cfg, so both forms mean the same.
 *
 * Output (config_to_json): every key of the text, in its order, a number for keys that take
 * numbers, true/false for boolean keys, arrays for lists, spec strings as written: lossless,
 * and it defines the same guest again.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vmd-proto.h"
#include "xlcfg.h"
#include "xlkeys.h"

/* "key: text" for the JSON form, data.key: keys and values come from the client, so both stay
 * on one printable line, and a hostile key is cut (at a character boundary) in both alike. */
__attribute__((format(printf, 3, 4))) static int fail(struct err *err, const char *key,
						       const char *fmt, ...)
{
	char text[ERR_MSG_MAX], k[CONFIG_KEY_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(k, sizeof k, "%.*s", utf8_prefix(key, CONFIG_KEY_MAX), key);
	for (char *p = k; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	err_clear(err);
	err_set(err, VMD_ERR_INVALID_CONFIG, "%s: %s", k, text);
	if (err)
		for (char *p = err->msg; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	err_add_str(err, "key", k);
	return -1;
}

/* A string for xl.cfg text: JSON allows NUL, xl.cfg (C strings) does not. */
static int str_of(const json_t *v, const char *key, const char **out, struct err *err)
{
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, key, "contains a NUL character");
	for (const char *p = json_string_value(v); *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail(err, key, "value contains a control character");
	*out = json_string_value(v);
	return 0;
}

struct sb {
	char *s;
	size_t len;
};

static void sb_add(struct sb *b, const char *s)
{
	size_t n = strlen(s);
	b->s = xrealloc(b->s, b->len + n + 1);
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

static void sb_take(struct sb *b, char *s)
{
	sb_add(b, s);
	free(s);
}

/* A disk object as a spec string (target last: it eats the rest of the spec). */
static int disk_spec(const json_t *o, struct err *err, char **out)
{
	static const char *const known[] = {"target", "vdev", "format", "access", "backendtype",
					    "script", "cdrom", NULL};
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		size_t i;
		for (i = 0; known[i] && strcmp(known[i], k) != 0; i++)
			;
		if (!known[i])
			return fail(err, "disk", "unknown disk member '%.40s' (target, vdev, format, "
				    "access, backendtype, script, cdrom)", k);
		if (json_is_null(v))
			continue;
		if (strcmp(k, "cdrom") == 0 ? !json_is_boolean(v) : !json_is_string(v))
			return fail(err, "disk", "'%s' must be %s", k,
				    strcmp(k, "cdrom") == 0 ? "a boolean" : "a string");
		const char *s = NULL;
		if (json_is_string(v) && (str_of(v, "disk", &s, err) < 0 || strchr(s, ',') ||
					  !*s) && strcmp(k, "target") != 0)
			return err->code ? -1
					 : fail(err, "disk", "'%s' cannot be empty or contain ','", k);
	}
	struct sb b = {0};
	const char *sep = "";
	static const char *const order[] = {"format", "vdev", "access", "backendtype", "script"};
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		const char *s = json_string_value(json_object_get(o, order[i]));
		if (!s)
			continue;
		sb_take(&b, xasprintf("%s%s=%s", sep, order[i], s));
		sep = ", ";
	}
	if (json_is_true(json_object_get(o, "cdrom"))) {
		sb_take(&b, xasprintf("%sdevtype=cdrom", sep));
		sep = ", ";
	}
	const char *t = json_string_value(json_object_get(o, "target"));
	if (t && strlen(t) != json_string_length(json_object_get(o, "target"))) {
		free(b.s);
		return fail(err, "disk", "'target' contains a NUL character");
	}
	if (t)
		sb_take(&b, xasprintf("%starget=%s", sep, t));
	*out = b.s ? b.s : xstrdup("");
	return 0;
}

/* A vif object as "k=v, k=v" (any option of a vif spec; values without ','). */
static int vif_spec(const json_t *o, struct err *err, char **out)
{
	struct sb b = {0};
	const char *sep = "";
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		if (json_is_null(v))
			continue;
		bool ok = *k != '\0';
		for (const char *p = k; *p; p++)
			ok &= (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
		if (!ok) {
			free(b.s);
			return fail(err, "vif", "invalid vif member '%.40s'", k);
		}
		char num[32];
		const char *s = NULL;
		if (json_is_integer(v)) {
			snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
			s = num;
		} else if (!json_is_string(v) || str_of(v, "vif", &s, err) < 0) {
			free(b.s);
			return err->code ? -1 : fail(err, "vif", "'%s' must be a string", k);
		}
		if (!*s || strchr(s, ',') || s[0] == ' ' || s[strlen(s) - 1] == ' ') {
			free(b.s);
			return fail(err, "vif", "value '%.40s' cannot be empty, contain ',' or start or "
				    "end with a space", s);
		}
		sb_take(&b, xasprintf("%s%s=%s", sep, k, s));
		sep = ", ";
	}
	*out = b.s ? b.s : xstrdup("");
	return 0;
}

/* One value as xl.cfg text (depth: of nested lists). */
static int value_text(const char *key, const json_t *v, bool allow_obj, int depth, struct err *err,
		      char **out)
{
	const char *s = NULL;
	if (json_is_string(v)) {
		if (str_of(v, key, &s, err) < 0)
			return -1;
		*out = xlcfg_quote(s);
		return 0;
	}
	if (json_is_integer(v)) {
		/* xl.cfg has no negative number: "-1", which libxlutil reads as -1 too */
		long long n = (long long)json_integer_value(v);
		*out = n < 0 ? xasprintf("\"%lld\"", n) : xasprintf("%lld", n);
		return 0;
	}
	if (json_is_boolean(v)) {
		*out = xstrdup(json_is_true(v) ? "1" : "0");
		return 0;
	}
	if (json_is_object(v) && allow_obj) {
		char *spec = NULL;
		int r = strcmp(key, "disk") == 0 ? disk_spec(v, err, &spec) : vif_spec(v, err, &spec);
		if (r < 0)
			return -1;
		*out = xlcfg_quote(spec);
		free(spec);
		return 0;
	}
	if (json_is_array(v) && depth < 4) {
		struct sb b = {0};
		sb_add(&b, "[");
		size_t i;
		json_t *it;
		json_array_foreach(v, i, it) {
			char *t;
			if (allow_obj && depth == 0 && !json_is_string(it) && !json_is_object(it)) {
				free(b.s);
				return fail(err, key, "item %zu is neither a spec string nor an object",
					    i + 1);
			}
			if (json_is_null(it) || value_text(key, it, allow_obj && depth == 0,
							   depth + 1, err, &t) < 0) {
				free(b.s);
				return err->code ? -1 : fail(err, key, "a list item cannot be null");
			}
			sb_add(&b, i ? ", " : " ");
			sb_take(&b, t);
		}
		sb_add(&b, json_array_size(v) ? " ]" : "]");
		*out = b.s;
		return 0;
	}
	return fail(err, key, "expected %s",
		    json_is_real(v) ? "an integer, not a fraction" : "a string, number or list");
}

int config_parse_json(const json_t *obj, const struct xlkeys_host *host, struct vm_config *out,
		      struct err *err)
{
	vm_config_init(out);
	err_clear(err);
	if (!json_is_object(obj))
		return fail(err, "config", "expected a JSON object");
	struct sb b = {0};
	const char *k;
	json_t *v;
	/* the first line of each key's statement, to name the key of an error in the text */
	size_t n_keys = json_object_size(obj), i = 0;
	const char **keys = xcalloc(n_keys + 1, sizeof *keys);
	int *lines = xcalloc(n_keys + 1, sizeof *lines);
	int line = 1;
	json_object_foreach((json_t *)obj, k, v) {
		const struct xl_key *row = xlkeys_find(k);
		if (!row) {
			free(b.s);
			free(keys);
			free(lines);
			return fail(err, k, "unknown key");
		}
		if (json_is_null(v))
			continue;
		bool specs = strcmp(k, "disk") == 0 || strcmp(k, "vif") == 0;
		char *t;
		if (value_text(k, v, specs, 0, err, &t) < 0) {
			free(b.s);
			free(keys);
			free(lines);
			return -1;
		}
		keys[i] = k;
		lines[i++] = line;
		for (const char *p = t; *p; p++)
			line += *p == '\n';
		line++;
		sb_take(&b, xasprintf("%s = %s\n", k, t));
		free(t);
	}
	if (!b.s)
		b.s = xstrdup("");
	int r = config_parse(b.s, b.len, "config", host, out, err);
	free(b.s);
	if (r < 0) {
		/* "config:3: memory: ..." is about a text the client never saw: "memory: ..." */
		int at = (int)json_integer_value(json_object_get(err->data, "line"));
		const char *key = NULL;
		for (size_t j = 0; j < i && at > 0; j++)
			if (lines[j] <= at)
				key = keys[j];
		char *said = err_data_str(err, "key") ? xstrdup(err_data_str(err, "key")) : NULL;
		if (!key)
			key = said;
		const char *msg = err->msg;
		if (strncmp(msg, "config: ", 8) == 0) {
			msg += 8;
		} else if (strncmp(msg, "config:", 7) == 0) {
			msg += 7;
			msg += strspn(msg, "0123456789");
			if (*msg == ':')
				msg++;
			msg += strspn(msg, " ");
		}
		char *text = xstrdup(msg);
		size_t kl = key ? strlen(key) : 0;
		if (key && !(strncmp(text, key, kl) == 0 && text[kl] == ':'))
			fail(err, key, "%s", text);
		else if (key)
			fail(err, key, "%s", text + kl + 1 + strspn(text + kl + 1, " "));
		free(text);
		free(said);
	}
	free(keys);
	free(lines);
	return r;
}

/* A number as libxlutil reads it (strtol, base 0), or false. */
static bool number(const char *s, long long *out)
{
	char *end;
	long long l = strtoll(s, &end, 0);
	if (end == s || *end)
		return false;
	*out = l;
	return true;
}

json_t *config_to_json(const struct vm_config *cfg)
{
	return config_text_to_json(cfg->text);
}

json_t *config_text_to_json(const char *text)
{
	json_t *raw = xlcfg_values(text ? text : "");
	const char *k;
	json_t *v;
	json_object_foreach(raw, k, v) {
		const struct xl_key *row = xlkeys_find(k);
		long long n;
		if (!row || !json_is_string(v) || !number(json_string_value(v), &n))
			continue;
		if (row->forms & XV_BOOL)
			json_object_set_new(raw, k, json_boolean(n != 0 && n != LLONG_MIN));
		else if (row->forms & XV_NUMBER)
			json_object_set_new(raw, k, json_integer((json_int_t)n));
	}
	return raw;
}
