/*
 * vm-json.c: the guests as proto/ shows them: the vm object of vm.list and vm.info (schemas
 * vm.json, vm.info.result.json). Serialisers only: nothing here changes a guest.
 */
#include "vm.h"

#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "util.h"

static void add_runtime(json_t *o, const struct dom_info *di)
{
	json_object_set_new(o, "memory_actual_kib", json_integer((json_int_t)di->memory_kib));
	json_object_set_new(o, "vcpus_online", json_integer(di->vcpus));
	json_object_set_new(o, "cpu_time", json_real((double)di->cpu_time_ns / 1e9));
	double up = di->start_time ? now_wall() - (double)di->start_time : 0;
	json_object_set_new(o, "uptime", json_real(up > 0 ? up : 0));
}

json_t *vm_to_json(struct vm *vm, bool detail)
{
	char u[UUID_STR_LEN];
	uuid_format(vm->uuid, u);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:I, s:b, s:b}", "name", vm->name,
			      "uuid", u, "type", vm_type_name(vm->type), "state",
			      vm_state_name(vm->state), "domid",
			      vm->domid >= 0 ? json_integer(vm->domid) : json_null(), "vcpus",
			      vm->vcpus, "memory", (json_int_t)vm->memory_mib, "managed", 1,
			      "autostart", vm->autostart);
	const char *phase = vm_install_phase_name(vm->install.phase);
	if (phase)
		json_object_set_new(o, "install_phase", json_string(phase));
	if (vm->managed_save)
		json_object_set_new(o, "saved", json_true());
	if (!detail)
		return o;
	struct err cerr = {0};
	const struct vm_config *c = vm_cfg(vm, &cerr); /* the caller made sure it translates */
	err_clear(&cerr);
	if (!c)
		return o;
	json_object_set_new(o, "maxvcpus", json_integer(vm_config_maxvcpus(c)));
	json_object_set_new(o, "maxmem", json_integer((json_int_t)vm_config_maxmem_mib(c)));
	json_object_set_new(o, "on_poweroff",
			    json_string(vm_action_name(vm_config_action(c, "on_poweroff"))));
	json_object_set_new(o, "on_reboot",
			    json_string(vm_action_name(vm_config_action(c, "on_reboot"))));
	json_object_set_new(o, "on_crash",
			    json_string(vm_action_name(vm_config_action(c, "on_crash"))));
	json_object_set_new(o, "on_watchdog",
			    json_string(vm_action_name(vm_config_action(c, "on_watchdog"))));
	json_object_set_new(o, "console",
			    json_string(c->type == VM_TYPE_HVM ? "serial" : "pv"));
	json_t *vifs = json_array();
	for (int i = 0; i < c->dc.num_nics; i++) {
		const libxl_device_nic *v = &c->dc.nics[i];
		char mac[18];
		snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", v->mac[0], v->mac[1],
			 v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
		bool has_mac = v->mac[0] | v->mac[1] | v->mac[2] | v->mac[3] | v->mac[4] | v->mac[5];
		json_t *jv = json_pack("{s:i, s:s*, s:s*, s:s*, s:s*}", "index", i, "mac",
				       has_mac ? mac : NULL, "bridge", v->bridge, "script",
				       v->script, "ip", v->ip);
		if (vm->domid >= 0) {
			char *be = v->ifname ? xstrdup(v->ifname)
					     : xasprintf("vif%lld.%d", (long long)vm->domid,
							 v->devid >= 0 ? v->devid : i);
			json_object_set_new(jv, "backend", json_string(be));
			free(be);
		} else {
			json_object_set_new(jv, "backend", json_null());
		}
		json_array_append_new(vifs, jv);
	}
	json_object_set_new(o, "vifs", vifs);
	json_t *disks = json_array();
	for (int i = 0; i < c->dc.num_disks; i++) {
		const libxl_device_disk *dk = &c->dc.disks[i];
		json_array_append_new(disks,
				      json_pack("{s:s, s:s*, s:b, s:s}", "vdev", dk->vdev, "target",
						dk->pdev_path, "cdrom", dk->is_cdrom, "access",
						dk->readwrite ? "rw" : "ro"));
	}
	json_object_set_new(o, "disks", disks);
	if (vm->domid >= 0) {
		struct dom_info di = {0};
		struct sched_info si = {{0}, 0, 0};
		struct err err = {0};
		if (be_info(vm->d->be, (uint32_t)vm->domid, &di, &err) == 0)
			add_runtime(o, &di);
		dom_info_finish(&di);
		err_clear(&err);
		json_object_set_new(o, "pending", vm_pending(vm));
		if (be_sched(vm->d->be, (uint32_t)vm->domid, -1, -1, &si, &err) == 0)
			json_object_set_new(o, "sched",
					    json_pack("{s:s, s:i, s:i}", "scheduler", si.scheduler,
						      "weight", si.weight, "cap", si.cap));
		err_clear(&err);
	}
	if (vm_config_vnc(c)) {
		char addr[128];
		struct err err = {0};
		bool have = vm->domid >= 0 &&
			    be_vnc(vm->d->be, (uint32_t)vm->domid, addr, sizeof addr, &err) == 0;
		json_object_set_new(o, "vnc", have ? json_string(addr) : json_null());
		err_clear(&err);
	}
	return o;
}

const char *vm_info_text(struct vm *vm, size_t *len)
{
	struct vm_info_key *k = &vm->info_key;
	if (!vm->info_text || k->state != vm->state || k->autostart != vm->autostart ||
	    k->phase != vm->install.phase || k->managed_save != vm->managed_save || strcmp(k->text_sum, vm->text_sum) != 0) {
		free(vm->info_text);
		json_t *o = vm_to_json(vm, true);
		vm->info_text = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		vm->info_len = vm->info_text ? strlen(vm->info_text) : 0;
		k->state = vm->state;
		k->autostart = vm->autostart;
		k->phase = vm->install.phase;
		k->managed_save = vm->managed_save;
		memcpy(k->text_sum, vm->text_sum, sizeof k->text_sum);
	}
	*len = vm->info_len;
	return vm->info_text;
}

json_t *vm_foreign_to_json(const struct dom_info *di, bool detail)
{
	char u[UUID_STR_LEN];
	uuid_format(di->uuid, u);
	json_t *o = json_pack("{s:s, s:s, s:n, s:s, s:I, s:i, s:I, s:b, s:b}", "name", di->name,
			      "uuid", u, "type", "state", dom_state_name(di->state), "domid",
			      (json_int_t)di->domid, "vcpus", di->vcpus, "memory",
			      (json_int_t)(di->memory_kib / 1024), "managed", 0, "autostart", 0);
	if (detail)
		add_runtime(o, di);
	return o;
}
