/*
 * print.h: the printers of the command table's .print: each verb's result in human form (with
 * --json the result is printed as it came, unless the row says own_json). Each returns an
 * exit status: a result without what the printer needs is a malformed reply.
 */
#ifndef VMCTL_PRINT_H
#define VMCTL_PRINT_H

#include <jansson.h>

#include "cmd.h"

int print_created(const struct args *a, json_t *vm);
int print_define(const struct args *a, json_t *vm);
/* "started NAME (domid 3)", "paused NAME", ...: the verb's past tense from the row's .done. */
int print_vm_action(const struct args *a, json_t *vm);
int print_shutdown(const struct args *a, json_t *vm);
int print_list(const struct args *a, json_t *result);
int print_info(const struct args *a, json_t *vm);
int print_remove(const struct args *a, json_t *result);
int print_config(const struct args *a, json_t *result);
int print_autostart(const struct args *a, json_t *result);
int print_clone(const struct args *a, json_t *result);
int print_migrate(const struct args *a, json_t *result);
int print_save(const struct args *a, json_t *result);
int print_set(const struct args *a, json_t *result);
int print_update(const struct args *a, json_t *result); /* update, edit */
/* The changes of vm.update, or vm.info's pending, one line each. */
void print_changes(json_t *changes);
int print_sched_set(const struct args *a, json_t *result);
int print_block(const struct args *a, json_t *result);
int print_restored(const struct args *a, json_t *vm);
int print_install(const struct args *a, json_t *result);
int print_disk_create(const struct args *a, json_t *result);
int print_snapshot(const struct args *a, json_t *result);
int print_snapshot_list(const struct args *a, json_t *result);
int print_stats(const struct args *a, json_t *result);
int print_version(const struct args *a, json_t *result); /* own_json: adds "client" */

/* One vm.event notification, as a line or (--json) as it came: the transport's event
 * handler for `vmctl events`. */
void print_event(json_t *ev);

#endif
