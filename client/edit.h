/*
 * edit.h: vmctl edit (edit.c).
 */
#ifndef VMCTL_EDIT_H
#define VMCTL_EDIT_H

#include <jansson.h>

#include "cmd.h"
#include "transport.h"

/* After vm.config answered with config: the editor, then vm.update on t. The exit status. */
int edit_run(struct transport *t, const struct args *a, json_t *config);

#endif
