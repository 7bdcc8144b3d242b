/*
 * err.c: see err.h.
 */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

void err_setv(struct err *e, int code, const char *fmt, va_list ap)
{
	if (!e)
		return;
	int saved = errno;
	e->code = code;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	utf8_mend(e->msg);
	errno = saved;
}

void err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_setv(e, code, fmt, ap);
	va_end(ap);
}

void err_first(struct err *e, int code, const char *fmt, ...)
{
	if (!e || e->code)
		return;
	va_list ap;
	va_start(ap, fmt);
	err_setv(e, code, fmt, ap);
	va_end(ap);
}

void err_add(struct err *e, const char *key, json_t *v)
{
	if (!e || !v) {
		json_decref(v);
		return;
	}
	if (!e->data)
		e->data = json_object();
	json_object_set_new(e->data, key, v);
}

void err_add_str(struct err *e, const char *key, const char *s)
{
	if (s)
		err_add(e, key, json_string(s));
}

const char *err_data_str(const struct err *e, const char *key)
{
	return e ? json_string_value(json_object_get(e->data, key)) : NULL;
}

bool err_is_set(const struct err *e)
{
	return e && e->code != 0;
}

void err_clear(struct err *e)
{
	if (!e)
		return;
	json_decref(e->data);
	e->data = NULL;
	e->code = 0;
	e->msg[0] = '\0';
}

void err_move(struct err *dst, struct err *src)
{
	if (!dst) {
		err_clear(src);
		return;
	}
	err_clear(dst);
	if (!src)
		return;
	*dst = *src;
	src->data = NULL;
	err_clear(src);
}

void err_copy(struct err *dst, const struct err *src)
{
	err_clear(dst);
	if (!dst || !src)
		return;
	dst->code = src->code;
	memcpy(dst->msg, src->msg, sizeof dst->msg);
	dst->data = src->data ? json_deep_copy(src->data) : NULL;
}

json_t *err_take_data(struct err *e)
{
	json_t *d = e ? e->data : NULL;
	if (e)
		e->data = NULL;
	return d ? d : json_object();
}
