/*
 * top.h: vmctl top, a refreshing table of every guest's figures (top.c).
 */
#ifndef VMCTL_TOP_H
#define VMCTL_TOP_H

#include <jansson.h>

#include "cmd.h"
#include "transport.h"

/* Shows first (a vm.stats_all result), then asks again every --delay seconds on t until q,
 * --iterations or a failure; an exit status. */
int top_run(struct transport *t, const struct args *a, json_t *first);
/* Gives the terminal back from a fatal signal's handler: async-signal-safe. */
void top_restore_on_signal(void);

#endif
