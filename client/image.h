/*
 * image.h: vmctl image add|list|remove (image.c): named images for vmctl create --image NAME.
 */
#ifndef VMCTL_IMAGE_H
#define VMCTL_IMAGE_H

#include <jansson.h>

#include "cmd.h"

int print_image(const struct args *a, json_t *result);      /* add */
int print_image_list(const struct args *a, json_t *result);
int print_image_remove(const struct args *a, json_t *result);

#endif
