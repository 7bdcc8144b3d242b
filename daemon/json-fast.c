/*
 * json-fast.c: see json-fast.h. A recursive descent over the subset; every branch that
 * leaves the subset returns NULL ("decline"), never an error of its own.
 */
#include "json-fast.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 3
#define MAX_DIGITS 18 /* below 2^63: jansson's json_int_t takes every such number */
#define MAX_KEY 256

struct in {
	const char *p, *end;
};

static void ws(struct in *in)
{
	while (in->p < in->end &&
	       (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r'))
		in->p++;
}

/* A string's body after its opening quote: start and length, the quote consumed. */
static bool string(struct in *in, const char **s, size_t *n)
{
	const char *start = in->p;
	while (in->p < in->end) {
		unsigned char c = (unsigned char)*in->p;
		if (c == '"') {
			*s = start;
			*n = (size_t)(in->p - start);
			in->p++;
			return true;
		}
		if (c < 0x20 || c >= 0x80 || c == '\\')
			return false; /* control characters (jansson's error), non-ASCII, escapes */
		in->p++;
	}
	return false;
}

static bool word(struct in *in, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(in->end - in->p) < n || memcmp(in->p, w, n) != 0)
		return false;
	in->p += n;
	return true;
}

static json_t *value(struct in *in, int depth);

static json_t *object(struct in *in, int depth)
{
	if (depth > MAX_DEPTH)
		return NULL;
	json_t *o = json_object();
	ws(in);
	if (in->p < in->end && *in->p == '}') {
		in->p++;
		return o;
	}
	for (;;) {
		const char *k;
		size_t kn;
		if (in->p >= in->end || *in->p != '"')
			goto decline;
		in->p++;
		if (!string(in, &k, &kn))
			goto decline;
		ws(in);
		if (in->p >= in->end || *in->p != ':')
			goto decline;
		in->p++;
		ws(in);
		json_t *v = value(in, depth);
		if (!v)
			goto decline;
		/* keys are NUL-free ASCII here; a duplicate is jansson's error to word */
		char key[MAX_KEY];
		if (kn >= sizeof key) {
			json_decref(v);
			goto decline;
		}
		memcpy(key, k, kn);
		key[kn] = '\0';
		if (json_object_get(o, key) || json_object_set_new_nocheck(o, key, v) < 0) {
			json_decref(v);
			goto decline;
		}
		ws(in);
		if (in->p >= in->end)
			goto decline;
		if (*in->p == '}') {
			in->p++;
			return o;
		}
		if (*in->p != ',')
			goto decline;
		in->p++;
		ws(in);
	}
decline:
	json_decref(o);
	return NULL;
}

static json_t *number(struct in *in)
{
	bool neg = in->p < in->end && *in->p == '-';
	if (neg)
		in->p++;
	const char *digits = in->p;
	while (in->p < in->end && *in->p >= '0' && *in->p <= '9')
		in->p++;
	size_t n = (size_t)(in->p - digits);
	if (n == 0 || n > MAX_DIGITS || (n > 1 && digits[0] == '0'))
		return NULL;
	if (in->p < in->end && (*in->p == '.' || *in->p == 'e' || *in->p == 'E'))
		return NULL; /* a real */
	int64_t v = 0;
	for (const char *p = digits; p < in->p; p++)
		v = v * 10 + (*p - '0');
	return json_integer(neg ? -v : v);
}

static json_t *value(struct in *in, int depth)
{
	if (in->p >= in->end)
		return NULL;
	switch (*in->p) {
	case '{':
		in->p++;
		return object(in, depth + 1);
	case '"': {
		const char *s;
		size_t n;
		in->p++;
		return string(in, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
	}
	case 't':
		return word(in, "true") ? json_true() : NULL;
	case 'f':
		return word(in, "false") ? json_false() : NULL;
	case 'n':
		return word(in, "null") ? json_null() : NULL;
	default:
		if (*in->p == '-' || (*in->p >= '0' && *in->p <= '9'))
			return number(in);
		return NULL; /* arrays and everything else */
	}
}

json_t *json_fast_parse(const char *text, size_t len)
{
	struct in in = {text, text + len};
	ws(&in);
	if (in.p >= in.end || *in.p != '{')
		return NULL;
	json_t *v = value(&in, 0);
	if (!v)
		return NULL;
	ws(&in);
	if (in.p != in.end) { /* something after the object */
		json_decref(v);
		return NULL;
	}
	return v;
}

int json_fast_request(const char *text, size_t len, struct json_fast_request *out)
{
	struct in in = {text, text + len};
	bool have_ver = false, have_method = false, have_id = false;
	out->id = out->params = NULL;
	out->method[0] = '\0';
	ws(&in);
	if (in.p >= in.end || *in.p != '{')
		return 0;
	in.p++;
	ws(&in);
	if (in.p < in.end && *in.p == '}')
		return 0; /* no jsonrpc, no method */
	for (;;) {
		const char *k, *sv;
		size_t kn, sn;
		if (in.p >= in.end || *in.p != '"')
			goto decline;
		in.p++;
		if (!string(&in, &k, &kn))
			goto decline;
		ws(&in);
		if (in.p >= in.end || *in.p != ':')
			goto decline;
		in.p++;
		ws(&in);
		if (kn == 7 && memcmp(k, "jsonrpc", 7) == 0) {
			if (have_ver || in.p >= in.end || *in.p != '"')
				goto decline;
			in.p++;
			if (!string(&in, &sv, &sn) || sn != 3 || memcmp(sv, "2.0", 3) != 0)
				goto decline;
			have_ver = true;
		} else if (kn == 6 && memcmp(k, "method", 6) == 0) {
			if (have_method || in.p >= in.end || *in.p != '"')
				goto decline;
			in.p++;
			if (!string(&in, &sv, &sn) || sn >= sizeof out->method)
				goto decline;
			memcpy(out->method, sv, sn);
			out->method[sn] = '\0';
			have_method = true;
		} else if (kn == 2 && memcmp(k, "id", 2) == 0) {
			if (have_id)
				goto decline;
			out->id = value(&in, 1);
			if (!out->id || !(json_is_integer(out->id) || json_is_string(out->id) ||
					  json_is_null(out->id)))
				goto decline;
			have_id = true;
		} else if (kn == 6 && memcmp(k, "params", 6) == 0) {
			if (out->params || in.p >= in.end || *in.p != '{')
				goto decline;
			out->params = value(&in, 1);
			if (!out->params)
				goto decline;
		} else {
			goto decline; /* an unknown member: jansson's path words it */
		}
		ws(&in);
		if (in.p >= in.end)
			goto decline;
		if (*in.p == '}') {
			in.p++;
			break;
		}
		if (*in.p != ',')
			goto decline;
		in.p++;
		ws(&in);
	}
	ws(&in);
	if (in.p != in.end || !have_ver || !have_method)
		goto decline;
	return 1;
decline:
	json_decref(out->id);
	json_decref(out->params);
	out->id = out->params = NULL;
	return 0;
}
