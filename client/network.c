/*
 * vmctl network: managed networks (network.create, .list, .info, .remove). create takes the
 * mode as a flag: --nat (the default), --isolated, or --interface IF (a bridge with the host
 * interface IF as its port).
 */
#include "network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "util.h"


json_t *params_network_name(const struct args *a)
{
	json_t *v = json_string(a->pos[0]);

	if (!v) {
		cmd_usage_error(a, "%s: not valid UTF-8", a->pos[0]);
		return NULL;
	}
	return json_pack("{s:o}", "name", v);
}

json_t *params_network_create(const struct args *a)
{
	int modes = cmd_flag(a, "nat") + cmd_flag(a, "isolated") + !!cmd_value(a, "interface");
	json_t *p;

	if (modes > 1) {
		cmd_usage_error(a, "one of --nat, --isolated and --interface");
		return NULL;
	}
	p = params_network_name(a);
	if (!p)
		return NULL;
	if (cmd_value(a, "interface")) {
		json_object_set_new(p, "mode", json_string("bridge"));
		json_object_set_new(p, "interface", json_string(cmd_value(a, "interface")));
	} else {
		json_object_set_new(p, "mode", json_string(cmd_flag(a, "isolated") ? "isolated"
									: "nat"));
	}
	if (cmd_value(a, "subnet"))
		json_object_set_new(p, "subnet", json_string(cmd_value(a, "subnet")));
	if (cmd_flag(a, "no-dhcp"))
		json_object_set_new(p, "dhcp", json_false());
	return p;
}

int print_network(const struct args *a, json_t *n)
{
	static const char *const order[] = { "name", "mode", "bridge", "up", "subnet", "gateway",
					     "interface", "dhcp", "dnsmasq", "guests", NULL };

	(void)a;
	if (!json_is_object(n) || !json_is_string(json_object_get(n, "name")))
		return util_malformed("no network name");
	output_info(n, order);
	return VMCTL_EXIT_OK;
}

int print_network_list(const struct args *a, json_t *result)
{
	enum { NCOLS = 6 };
	static const char *const headers[NCOLS] = { "NAME", "MODE", "SUBNET", "UP", "DHCP",
						    "GUESTS" };
	static const bool right[NCOLS] = { false, false, false, false, false, true };
	json_t *nets = json_object_get(result, "networks"), *n;
	size_t count = json_array_size(nets), i;
	char **cells;

	(void)a;
	if (!json_is_array(nets))
		return util_malformed("no \"networks\" array");
	cells = calloc(count * NCOLS + 1, sizeof(*cells));
	if (!cells) {
		util_warn("out of memory");
		return VMCTL_EXIT_FAIL;
	}
	json_array_foreach(nets, i, n) {
		char **row = cells + i * NCOLS;
		const char *subnet = json_string_value(json_object_get(n, "subnet"));
		const char *iface = json_string_value(json_object_get(n, "interface"));
		row[0] = strdup(output_str_or(n, "name", "?"));
		row[1] = strdup(output_str_or(n, "mode", "?"));
		if (subnet)
			row[2] = strdup(subnet);
		else if (!iface || asprintf(&row[2], "port %s", iface) < 0)
			row[2] = strdup("-");
		row[3] = strdup(output_yes_no(json_object_get(n, "up")));
		row[4] = strdup(output_yes_no(json_object_get(n, "dhcp")));
		if (asprintf(&row[5], "%zu", json_array_size(json_object_get(n, "guests"))) < 0)
			row[5] = NULL;
	}
	output_table(NCOLS, headers, right, cells, count);
	for (i = 0; i < count * NCOLS; i++)
		free(cells[i]);
	free(cells);
	return VMCTL_EXIT_OK;
}

/* vm.addresses: one row per address (a vif without any: one row with "-"). */
int print_addresses(const struct args *a, json_t *result)
{
	enum { NCOLS = 5 };
	static const char *const headers[NCOLS] = { "VIF", "MAC", "NETWORK", "ADDRESS", "SOURCE" };
	static const bool right[NCOLS] = { false };
	json_t *vifs = json_object_get(result, "vifs"), *v, *ad;
	size_t n = 0, i, k, rows = 0;
	char **cells;

	(void)a;
	if (!json_is_array(vifs))
		return util_malformed("no \"vifs\" array");
	json_array_foreach(vifs, i, v) {
		size_t na = json_array_size(json_object_get(v, "addresses"));
		n += na ? na : 1;
	}
	cells = calloc(n * NCOLS + 1, sizeof(*cells));
	if (!cells) {
		util_warn("out of memory");
		return VMCTL_EXIT_FAIL;
	}
	json_array_foreach(vifs, i, v) {
		json_t *addrs = json_object_get(v, "addresses");
		json_t *devid = json_object_get(v, "devid");
		for (k = 0; k < (json_array_size(addrs) ? json_array_size(addrs) : 1); k++) {
			char **row = cells + rows++ * NCOLS;
			ad = json_array_get(addrs, k);
			if (!json_is_integer(devid) || asprintf(&row[0], "%" JSON_INTEGER_FORMAT,
								   json_integer_value(devid)) < 0)
				row[0] = strdup("-");
			row[1] = strdup(output_str_or(v, "mac", "?"));
			row[2] = strdup(output_str_or(v, "network",
						      output_str_or(v, "bridge", "-")));
			row[3] = strdup(output_str_or(ad, "address", "-"));
			row[4] = strdup(output_str_or(ad, "source", "-"));
		}
	}
	output_table(NCOLS, headers, right, cells, rows);
	for (i = 0; i < rows * NCOLS; i++)
		free(cells[i]);
	free(cells);
	return VMCTL_EXIT_OK;
}

int print_network_remove(const struct args *a, json_t *result)
{
	(void)a;
	printf("removed network %s\n", output_str_or(result, "name", "?"));
	return VMCTL_EXIT_OK;
}
