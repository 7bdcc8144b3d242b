/*
 * vmctl image: named images under the storage root (image.add, .list, .remove), which
 * `vmctl create NAME --image IMAGE` finds by name.
 */
#include "image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "util.h"

int print_image(const struct args *a, json_t *img)
{
	static const char *const order[] = { "name", "format", "path", "size", "virtual_size",
					     "method", "used_by", NULL };

	(void)a;
	if (!json_is_object(img) || !json_is_string(json_object_get(img, "name")))
		return util_malformed("no image name");
	output_info(img, order);
	return VMCTL_EXIT_OK;
}

/* "a, b" of the names in arr, or "-" (malloc'ed; NULL when out of memory). */
static char *names(json_t *arr)
{
	size_t i, len = 2;
	json_t *v;
	json_array_foreach(arr, i, v)
		len += strlen(json_string_value(v) ? json_string_value(v) : "?") + 2;
	char *s = malloc(len);
	if (!s)
		return NULL;
	strcpy(s, json_array_size(arr) ? "" : "-");
	json_array_foreach(arr, i, v) {
		if (i)
			strcat(s, ", ");
		strcat(s, json_string_value(v) ? json_string_value(v) : "?");
	}
	return s;
}

int print_image_list(const struct args *a, json_t *result)
{
	enum { NCOLS = 5 };
	static const char *const headers[NCOLS] = { "NAME", "FORMAT", "SIZE", "VIRTUAL",
						    "USED BY" };
	static const bool right[NCOLS] = { false, false, true, true, false };
	json_t *imgs = json_object_get(result, "images"), *m;
	size_t count = json_array_size(imgs), i;
	char **cells;

	(void)a;
	if (!json_is_array(imgs))
		return util_malformed("no \"images\" array");
	cells = calloc(count * NCOLS + 1, sizeof(*cells));
	if (!cells) {
		util_warn("out of memory");
		return VMCTL_EXIT_FAIL;
	}
	json_array_foreach(imgs, i, m) {
		char **row = cells + i * NCOLS, size[32], virt[32];
		output_mib(json_number_value(json_object_get(m, "size")) / 1048576.0, size,
			   sizeof(size));
		output_mib(json_number_value(json_object_get(m, "virtual_size")) / 1048576.0, virt,
			   sizeof(virt));
		row[0] = strdup(output_str_or(m, "name", "?"));
		row[1] = strdup(output_str_or(m, "format", "?"));
		row[2] = strdup(size);
		row[3] = strdup(virt);
		row[4] = names(json_object_get(m, "used_by"));
	}
	output_table(NCOLS, headers, right, cells, count);
	for (i = 0; i < count * NCOLS; i++)
		free(cells[i]);
	free(cells);
	return VMCTL_EXIT_OK;
}

int print_image_remove(const struct args *a, json_t *result)
{
	(void)a;
	printf("removed image %s (%s)\n", output_str_or(result, "name", "?"),
	       output_str_or(result, "path", "?"));
	return VMCTL_EXIT_OK;
}
