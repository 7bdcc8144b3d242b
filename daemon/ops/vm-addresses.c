/*
 * vm.addresses: each vif's addresses, with where each was found: "dhcp", the lease that a
 * managed network's dnsmasq gave the vif's MAC (network.h), and "xenstore", what a guest
 * agent published under the domain's attr/vif/DEVID/ipv4|ipv6 (be_vif_addrs). Only a guest
 * with a domain has current addresses; a stopped one's vifs are listed without.
 */
#include <string.h>

#include "daemon.h"
#include "network.h"
#include "ops.h"
#include "rpc.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

/* The managed network a vif's bridge= names (by its name or its bridge's), or NULL. */
static struct network *network_of(struct daemon *d, const char *bridge)
{
	if (!bridge)
		return NULL;
	for (struct network *n = d->networks; n; n = n->next)
		if (strcmp(n->name, bridge) == 0 || strcmp(n->bridge, bridge) == 0)
			return n;
	return NULL;
}

static json_t *addr(const char *a, bool v6, const char *source)
{
	return json_pack("{s:s, s:s, s:s}", "address", a, "family", v6 ? "ipv6" : "ipv4",
			 "source", source);
}

/* One vif: its MAC, devid (-1: not known, no domain), the bridge its definition names. */
static json_t *vif_json(struct daemon *d, const uint8_t mac[6], int devid, const char *bridge,
			bool live, const struct vif_addr *va, size_t n_va)
{
	char m[MAC_STR_LEN];
	struct network *net = network_of(d, bridge);
	json_t *addrs = json_array();
	mac_format(mac, m);
	if (live && net && net->dhcp) {
		char *ip = network_lease_of(d, net, m);
		if (ip)
			json_array_append_new(addrs, addr(ip, false, "dhcp"));
		free(ip);
	}
	for (size_t i = 0; live && i < n_va; i++)
		if (va[i].devid == devid)
			json_array_append_new(addrs, addr(va[i].addr, va[i].ipv6, "xenstore"));
	json_t *o = json_pack("{s:s, s:o}", "mac", m, "addresses", addrs);
	json_object_set_new(o, "devid", devid >= 0 ? json_integer(devid) : json_null());
	json_object_set_new(o, "bridge", bridge ? json_string(bridge) : json_null());
	if (net)
		json_object_set_new(o, "network", json_string(net->name));
	return o;
}

static const char *bridge_of_mac(const struct vm_config *cfg, const uint8_t mac[6])
{
	int i = cfg ? ops_nic_index(cfg, mac) : -1;
	return i >= 0 ? cfg->dc.nics[i].bridge : NULL;
}

json_t *ops_vm_addresses(struct vm *vm, struct err *err)
{
	struct daemon *d = vm->d;
	struct vm_config *cfg = vm_cfg(vm, err);
	json_t *vifs = json_array();
	err_clear(err);
	if (vm_has_domain(vm)) {
		struct dom_stats st = {0};
		struct vif_addr *va = NULL;
		size_t n_va = 0;
		uint32_t domid = (uint32_t)vm->domid;
		if (be_stats(d->be, domid, &st, err) < 0 ||
		    be_vif_addrs(d->be, domid, &va, &n_va, err) < 0) {
			if (!err_data_str(err, "name"))
				err_add_str(err, "name", vm->name);
			dom_stats_finish(&st);
			json_decref(vifs);
			return NULL;
		}
		for (size_t i = 0; i < st.n_vifs; i++) {
			const struct vif_stats *v = &st.vifs[i];
			json_array_append_new(vifs, vif_json(d, v->mac, v->devid,
							     bridge_of_mac(cfg, v->mac), true, va,
							     n_va));
		}
		free(va);
		dom_stats_finish(&st);
	} else {
		for (int i = 0; cfg && i < cfg->dc.num_nics; i++) {
			const libxl_device_nic *nic = &cfg->dc.nics[i];
			json_array_append_new(vifs, vif_json(d, nic->mac, -1, nic->bridge,
							     false, NULL, 0));
		}
	}
	return vifs;
}

static void exec(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	json_t *vifs = ops_vm_addresses(vm, &err);
	if (!vifs) {
		rpc_reply_err(req, &err);
		return;
	}
	rpc_reply_result(req, json_pack("{s:s, s:s, s:o}", "name", vm->name, "state",
					vm_state_name(vm->state), "vifs", vifs));
}

const struct op_entry op_vm_addresses = {
	.method = "vm.addresses",
	.params = ops_name_only,
	.perm = OP_READ,
	.target = "name",
	.exec = exec,
};

json_t *ops_vm_with_addresses(struct vm *vm, json_t *o)
{
	struct err err = {0};
	json_t *vifs = ops_vm_addresses(vm, &err), *v, *a, *all = json_array();
	size_t i, k;
	json_array_foreach(vifs, i, v) {
		json_array_foreach(json_object_get(v, "addresses"), k, a) {
			json_t *e = json_deep_copy(a);
			json_object_set(e, "mac", json_object_get(v, "mac"));
			json_array_append_new(all, e);
		}
	}
	json_decref(vifs);
	err_clear(&err);
	json_object_set_new(o, "addresses", all);
	return o;
}
