/*
 * params.h: the request builders of the command table's .parse: from a verb's words (struct
 * args) to the params of its JSON-RPC request, or NULL after reporting a usage error. vmctl
 * checks only what it must to send something sensible; the daemon judges the rest, so that
 * vmctl and scripts get the same answers.
 */
#ifndef VMCTL_PARAMS_H
#define VMCTL_PARAMS_H

#include <jansson.h>

#include "cmd.h"

json_t *params_none(const struct args *a);
json_t *params_name(const struct args *a); /* {"name": NAME}: most verbs */
json_t *params_file(const struct args *a); /* define */
json_t *params_create(const struct args *a); /* create FILE, create NAME --image FILE */
json_t *params_image_add(const struct args *a);
json_t *params_update(const struct args *a);
json_t *params_shutdown(const struct args *a);
json_t *params_list(const struct args *a);
json_t *params_remove(const struct args *a);
json_t *params_autostart(const struct args *a);
json_t *params_console(const struct args *a);
json_t *params_clone(const struct args *a);
json_t *params_migrate(const struct args *a);
json_t *params_start(const struct args *a);
json_t *params_vcpu_set(const struct args *a);
json_t *params_mem_set(const struct args *a);
json_t *params_sched_set(const struct args *a);
json_t *params_block_attach(const struct args *a);
json_t *params_block_detach(const struct args *a);
json_t *params_network_attach(const struct args *a);
json_t *params_cd_insert(const struct args *a);
json_t *params_cd_eject(const struct args *a);
json_t *params_network_detach(const struct args *a);
json_t *params_network_rate(const struct args *a);
json_t *params_save(const struct args *a);
json_t *params_restore(const struct args *a);
json_t *params_install(const struct args *a);
json_t *params_disk_create(const struct args *a);
json_t *params_snapshot(const struct args *a); /* snapshot create|revert|delete */

/* console's --timeout in seconds: 0 if not given, -1 after a usage error. */
double params_console_timeout(const struct args *a);

#endif
