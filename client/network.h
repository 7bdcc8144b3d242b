/*
 * network.h: vmctl network create|list|info|remove (network.c).
 */
#ifndef VMCTL_NETWORK_H
#define VMCTL_NETWORK_H

#include <jansson.h>

#include "cmd.h"

json_t *params_network_create(const struct args *a);
json_t *params_network_name(const struct args *a);
int print_network(const struct args *a, json_t *result);      /* create, info */
int print_network_list(const struct args *a, json_t *result);
int print_network_remove(const struct args *a, json_t *result);
int print_addresses(const struct args *a, json_t *result); /* vm.addresses */

#endif
