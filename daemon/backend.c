/*
 * backend.c: the table of backends and helpers common to all of them.
 */
#include "backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct backend_ops *const impls[] = {
#ifdef VMD_HAVE_LIBXL
	&backend_libxl,
#endif
	&backend_sim,
};

const struct backend_ops *backend_find(const char *name)
{
	for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++)
		if (strcmp(impls[i]->name, name) == 0)
			return impls[i];
	return NULL;
}

void be_error_set(struct be_error *err, int code, const char *fmt, ...)
{
	if (!err)
		return;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
}

void dom_info_finish(struct dom_info *d)
{
	if (!d)
		return;
	free(d->record);
	d->record = NULL;
}

void dom_info_list_free(struct dom_info *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dom_info_finish(&list[i]);
	free(list);
}
