/*
 * vm.attach_disk, vm.detach_disk, vm.attach_nic, vm.detach_nic: a disk or a vif hot-plugged
 * into or out of the running domain (as xl block-attach / block-detach / network-attach /
 * network-detach) and added to or removed from the stored definition's disk or vif list
 * (live, config: both by default, as the other changes, ops_live_config). The running domain
 * goes first: a device it cannot take or give back changes nothing. The device is an xl.cfg
 * disk or vif spec, translated as at boot (the new definition's last one), and held to the
 * storage roots for restricted writers like every definition. A vif without a mac= gets one
 * (Xen's prefix 00:16:3e, unique among the guests), so that it can be named to detach it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfgdiff.h"
#include "daemon.h"
#include "log.h"
#include "ops.h"
#include "util.h"
#include "vmd-proto.h"
#include "xlcfg.h"

/* One change on its way through the backend: the guest is looked up again at the end (it may
 * have gone meanwhile). */
struct disk_change {
	struct rpc_req *req;
	struct vm_ref guest;
	const char *name;      /* guest.name */
	char *id;              /* disk: the vdev; vif: the MAC */
	bool nic, attach, live, config;
	bool medium;           /* a cdrom's medium changes (attach: inserted, else ejected) */
	char *spec;            /* the device's spec, as the running domain gets it (attach) */
	struct vm_config next; /* the definition with the change */
};

static void change_free(struct disk_change *c)
{
	vm_config_finish(&c->next);
	vm_ref_clear(&c->guest);
	free(c->id);
	free(c->spec);
	free(c);
}

/* The definition's part, then the reply. */
static void finish(struct disk_change *c)
{
	struct rpc_req *req = c->req;
	struct vm *vm = vm_ref_get(&c->guest, req->d, false);
	struct err err = {0};
	if (!vm) {
		err_set(&err, VMD_ERR_NOT_FOUND, "guest '%s' went away", c->name);
		err_add_str(&err, "name", c->name);
		rpc_reply_err(req, &err);
		change_free(c);
		return;
	}
	if (c->live) {
		uint8_t mac[6];
		char id[MAC_STR_LEN] = "";
		if (c->nic && mac_parse(c->id, mac) == 0)
			mac_format(mac, id);
		ops_live_item(vm, c->nic ? "vif" : "disk", c->nic ? id : c->id,
			      c->attach || c->medium ? c->spec : NULL);
	}
	if (c->config && vm_replace_config(vm, &c->next, &err) < 0) {
		if (c->live) {
			struct err why = {0};
			err_set(&why, err.code ? err.code : VMD_ERR_IO,
				"%s %s %s the running guest, but its definition could "
				"not change: %s", c->nic ? "vif" : "disk", c->id,
				c->attach ? "attached to" : "detached from", err.msg);
			err_move(&err, &why);
		}
		if (err.code == VMD_ERR_IO)
			err_add_str(&err, "name", c->name);
		rpc_reply_err(req, &err);
		change_free(c);
		return;
	}
	log_info("%s: %s %s %s%s%s", c->name, c->nic ? "vif" : c->medium ? "cdrom" : "disk",
		 c->id, c->medium ? (c->attach ? "inserted" : "ejected")
				  : (c->attach ? "attached" : "detached"),
		 c->live ? " (running)" : "", c->config ? " (definition)" : "");
	rpc_reply_result(req, json_pack("{s:s, s:s, s:b, s:b}", "name", c->name,
					c->nic ? "mac" : "vdev", c->id, "live", c->live, "config",
					c->config));
	change_free(c);
}

static void plugged(void *arg, const struct err *err, uint32_t domid)
{
	struct disk_change *c = arg;
	if (err) {
		struct err e = {0};
		err_copy(&e, err);
		if (e.code != VMD_ERR_NOT_SUPPORTED)
			err_add_str(&e, "name", c->name);
		rpc_reply_err(c->req, &e);
		change_free(c);
		return;
	}
	finish(c);
}

/* The definition's list key (disk, vif) with spec added (index -1), its item index
 * replaced by spec, or removed (spec NULL). */
static int next_config(const struct vm_config *cfg, const char *key, const char *spec,
		       int index, struct vm_config *next, struct err *err)
{
	char **items = xlcfg_items(cfg->text, key);
	size_t n = 0;
	while (items && items[n])
		n++;
	if (index >= 0 && (size_t)index >= n) {
		libxl_string_list_dispose(&items);
		err_set(err, VMD_ERR_INVALID_CONFIG, "%s: the definition's list is not one of "
			"strings: change it with vm.define", key);
		return -1;
	}
	items = xrealloc(items, (n + 2) * sizeof *items);
	if (index < 0) {
		items[n++] = xstrdup(spec);
	} else if (spec) {
		free(items[index]);
		items[index] = xstrdup(spec);
	} else {
		free(items[index]);
		memmove(items + index, items + index + 1, (n - (size_t)index) * sizeof *items);
		n--;
	}
	items[n] = NULL;
	char *text = n ? xlcfg_set_items(cfg->text, key, items, n) : xlcfg_unset(cfg->text, key);
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
	int r = config_parse(text, strlen(text), cfg->name, NULL, next, err);
	free(text);
	return r;
}

int ops_disk_index(const struct vm_config *cfg, const char *vdev)
{
	for (int i = 0; i < cfg->dc.num_disks; i++)
		if (cfg->dc.disks[i].vdev && strcmp(cfg->dc.disks[i].vdev, vdev) == 0)
			return i;
	return -1;
}

int ops_boot_disk(const struct vm_config *cfg)
{
	const libxl_domain_build_info *b = &cfg->dc.b_info;
	if (cfg->type == VM_TYPE_HVM || b->bootloader) {
		for (int k = 0; k < cfg->dc.num_disks; k++)
			if (!cfg->dc.disks[k].is_cdrom)
				return k;
		return -1;
	}
	const char *root = b->cmdline ? strstr(b->cmdline, "root=/dev/") : NULL;
	if (!root || (root != b->cmdline && root[-1] != ' '))
		return -1;
	root += strlen("root=/dev/");
	size_t n = strcspn(root, " 0123456789");
	for (int k = 0; k < cfg->dc.num_disks; k++) {
		const char *v = cfg->dc.disks[k].vdev;
		if (v && strlen(v) == n && strncmp(v, root, n) == 0)
			return k;
	}
	return -1;
}

int ops_nic_index(const struct vm_config *cfg, const uint8_t mac[6])
{
	for (int i = 0; i < cfg->dc.num_nics; i++)
		if (memcmp(cfg->dc.nics[i].mac, mac, 6) == 0)
			return i;
	return -1;
}

/* A vif spec with a MAC: its own, or one no guest has. */
static char *vif_with_mac(struct daemon *d, const char *spec)
{
	char *given = xlcfg_spec_option(spec, "mac");
	if (given) {
		free(given);
		return xstrdup(spec);
	}
	uint8_t mac[6];
	char text[MAC_STR_LEN];
	do
		mac_generate_xen(mac);
	while (vm_find_mac(d, mac));
	mac_format(mac, text);
	return xlcfg_vif_edit(spec, false, false, text, NULL);
}

/* vm.attach_nic / vm.detach_nic: the definition's side, as for disks below. 0, or -1. */
static int nic_plan(struct rpc_req *req, struct disk_change *c, const struct vm_config *cfg,
		    struct err *err)
{
	struct vm *vm = req->vm;
	if (c->attach) {
		char *spec = vif_with_mac(req->d, rpc_param_str(req, "vif"));
		int r = next_config(cfg, "vif", spec, -1, &c->next, err);
		c->spec = spec;
		if (r < 0)
			return -1;
		const uint8_t *mac = c->next.dc.nics[c->next.dc.num_nics - 1].mac;
		char text[MAC_STR_LEN];
		mac_format(mac, text);
		c->id = xstrdup(text);
		struct vm *other = vm_find_mac(req->d, mac);
		if (ops_nic_index(cfg, mac) >= 0 || (other && other != vm)) {
			err_set(err, VMD_ERR_EXISTS, "mac %s is already used by guest '%s'", text,
				other ? other->name : vm->name);
			err_add_str(err, "mac", text);
			return -1;
		}
		return ops_check_config_access(req, &c->next, err);
	}
	uint8_t mac[6];
	c->id = xstrdup(rpc_param_str(req, "mac"));
	if (mac_parse(c->id, mac) < 0) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "mac: not a MAC address: %.40s", c->id);
		err_add_str(err, "param", "mac");
		return -1;
	}
	int i = ops_nic_index(cfg, mac);
	if (i < 0 && c->config && !c->live) {
		err_set(err, VMD_ERR_NOT_FOUND, "'%s' has no vif %s", vm->name, c->id);
		err_add_str(err, "name", vm->name);
		return -1;
	}
	if (i >= 0)
		return next_config(cfg, "vif", NULL, i, &c->next, err);
	c->config = false; /* only the running domain has it (attached --live) */
	return 0;
}

static void start(struct rpc_req *req, bool nic, bool attach)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	bool live, config;
	if (ops_live_config(req, &live, &config) < 0)
		return;
	const struct vm_config *cfg = vm_cfg(vm, &err);
	if (!cfg) {
		rpc_reply_err(req, &err);
		return;
	}
	struct disk_change *c = xcalloc(1, sizeof *c);
	c->req = req;
	vm_ref_set(&c->guest, vm);
	c->name = c->guest.name;
	c->nic = nic;
	c->attach = attach;
	c->live = live;
	c->config = config;
	vm_config_init(&c->next);
	int r;
	if (nic) {
		r = nic_plan(req, c, cfg, &err);
	} else if (attach) {
		const char *spec = rpc_param_str(req, "disk");
		c->spec = xstrdup(spec);
		r = next_config(cfg, "disk", spec, -1, &c->next, &err);
		if (r == 0) {
			c->id = xstrdup(c->next.dc.disks[c->next.dc.num_disks - 1].vdev);
			if (ops_disk_index(cfg, c->id) >= 0 && config) {
				err_set(&err, VMD_ERR_EXISTS, "'%s' has a disk %s already",
					vm->name, c->id);
				err_add_str(&err, "name", vm->name);
				r = -1;
			} else {
				r = ops_check_config_access(req, &c->next, &err);
			}
		}
	} else {
		c->id = xstrdup(rpc_param_str(req, "vdev"));
		int i = ops_disk_index(cfg, c->id);
		r = 0;
		if (i >= 0 && i == ops_boot_disk(cfg)) {
			vm_refuse(vm, &err, VMD_ERR_BAD_STATE,
				  "%s is the boot disk of '%s': it stays", c->id, vm->name);
			r = -1;
		} else if (i < 0 && config && !live) {
			err_set(&err, VMD_ERR_NOT_FOUND, "'%s' has no disk %s", vm->name, c->id);
			err_add_str(&err, "name", vm->name);
			r = -1;
		} else if (i >= 0) {
			r = next_config(cfg, "disk", NULL, i, &c->next, &err);
		} else {
			c->config = false; /* only the running domain has it (attached --live) */
		}
	}
	if (r < 0) {
		rpc_reply_err(req, &err);
		change_free(c);
		return;
	}
	if (!live) {
		finish(c);
		return;
	}
	struct backend *be = req->d->be;
	uint32_t domid = (uint32_t)vm->domid;
	if (nic && attach) {
		r = be_nic_attach(be, domid, &c->next.dc.nics[c->next.dc.num_nics - 1], plugged, c,
				  &err);
	} else if (nic) {
		uint8_t mac[6];
		mac_parse(c->id, mac);
		r = be_nic_detach(be, domid, mac, plugged, c, &err);
	} else if (attach) {
		r = be_disk_attach(be, domid, &c->next.dc.disks[c->next.dc.num_disks - 1], plugged,
				   c, &err);
	} else {
		r = be_disk_detach(be, domid, c->id, plugged, c, &err);
	}
	if (r < 0) {
		if (err.code == VMD_ERR_EXISTS || err.code == VMD_ERR_NOT_FOUND ||
		    err.code == VMD_ERR_BACKEND)
			err_add_str(&err, "name", vm->name);
		rpc_reply_err(req, &err);
		change_free(c);
	}
}

/* vm.cd_insert / vm.cd_eject: the medium of an HVM guest's cdrom, as xl cd-insert /
 * cd-eject (libxl_cdrom_insert), in the running domain and the definition's disk spec. */
static void cd_medium(struct rpc_req *req, bool insert)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	bool live, config;
	if (ops_live_config(req, &live, &config) < 0)
		return;
	const struct vm_config *cfg = vm_cfg(vm, &err);
	if (!cfg) {
		rpc_reply_err(req, &err);
		return;
	}
	const char *vdev = rpc_param_str(req, "vdev");
	const char *file = insert ? rpc_param_str(req, "file") : NULL;
	int i = ops_disk_index(cfg, vdev);
	if (cfg->type != VM_TYPE_HVM) {
		vm_refuse(vm, &err, VMD_ERR_BAD_STATE, "'%s' is a %s guest: only HVM guests have "
			  "an emulated cdrom (block-attach gives a PV guest a disk)", vm->name,
			  vm_type_name(cfg->type));
		rpc_reply_err(req, &err);
		return;
	}
	if (i < 0 || !cfg->dc.disks[i].is_cdrom) {
		err_set(&err, VMD_ERR_NOT_FOUND, "'%s' has no cdrom %.40s", vm->name, vdev);
		err_add_str(&err, "name", vm->name);
		rpc_reply_err(req, &err);
		return;
	}
	struct stat st;
	if (file && (file[0] != '/' || stat(file, &st) < 0)) {
		if (file[0] != '/')
			rpc_reply_error(req, VMD_ERR_INVALID_PARAMS,
					json_pack("{s:s}", "param", "file"),
					"file must be an absolute path, not '%.200s'", file);
		else
			rpc_reply_error(req, VMD_ERR_NOT_FOUND,
					json_pack("{s:s, s:s}", "name", vm->name, "path", file),
					"%s: %s", file, strerror(errno));
		return;
	}
	struct disk_change *c = xcalloc(1, sizeof *c);
	c->req = req;
	vm_ref_set(&c->guest, vm);
	c->name = c->guest.name;
	c->attach = insert;
	c->medium = true;
	c->live = live;
	c->config = config;
	c->id = xstrdup(vdev);
	vm_config_init(&c->next);
	/* target= last: it takes the rest of the spec, commas and all (xl-disk-configuration) */
	char *spec = file ? xasprintf("format=raw, vdev=%s, access=ro, devtype=cdrom, target=%s",
				      vdev, file)
			  : xasprintf("vdev=%s, access=ro, devtype=cdrom", vdev);
	int r = next_config(cfg, "disk", spec, i, &c->next, &err);
	c->spec = spec;
	if (r == 0)
		r = ops_check_config_access(req, &c->next, &err);
	if (r < 0) {
		rpc_reply_err(req, &err);
		change_free(c);
		return;
	}
	if (!live) {
		finish(c);
		return;
	}
	if (be_cdrom(req->d->be, (uint32_t)vm->domid, &c->next.dc.disks[i], plugged, c,
		     &err) < 0) {
		if (err.code == VMD_ERR_NOT_FOUND || err.code == VMD_ERR_BACKEND)
			err_add_str(&err, "name", vm->name);
		rpc_reply_err(req, &err);
		change_free(c);
	}
}

/* A vif's spec in text (the item whose MAC is mac, lower case), malloc'ed, or NULL. */
static char *vif_spec(const char *text, const char *mac)
{
	char **items = xlcfg_items(text, "vif");
	char *found = NULL;
	for (size_t i = 0; items && items[i] && !found; i++) {
		char *id = cfgdiff_item_id("vif", items[i]);
		if (id && strcmp(id, mac) == 0)
			found = xstrdup(items[i]);
		free(id);
	}
	libxl_string_list_dispose(&items);
	return found;
}

/* text with the vif of mac given spec, translated into next; the nic's index there, or -1
 * with err. */
static int with_vif(const char *text, const char *name, const char *mac, const char *spec,
		    struct vm_config *next, struct err *err)
{
	char *t = cfgdiff_edit_item(text, "vif", mac, spec);
	int r = t ? config_parse(t, strlen(t), name, NULL, next, err) : -1;
	if (!t)
		err_set(err, VMD_ERR_INVALID_CONFIG, "vif: the list is not one of strings");
	free(t);
	if (r < 0)
		return -1;
	uint8_t m[6];
	mac_parse(mac, m);
	return ops_nic_index(next, m);
}

/* vm.set_nic_rate: a vif's rate= (xl.cfg's "10Mb/s@50ms", or "none"), in the running
 * backend (netback takes it at once) and the definition's vif spec. */
static void exec_nic_rate(struct rpc_req *req)
{
	struct vm *vm = req->vm;
	struct err err = {0};
	bool live, config;
	uint8_t m[6];
	char mac[MAC_STR_LEN];
	const char *rate = rpc_param_str(req, "rate");
	const char *value = strcmp(rate, "none") == 0 ? NULL : rate;
	if (mac_parse(rpc_param_str(req, "mac"), m) < 0) {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "mac"),
				"mac: not a MAC address: %.40s", rpc_param_str(req, "mac"));
		return;
	}
	mac_format(m, mac);
	if (!*rate || strpbrk(rate, ",= \t\n")) {
		rpc_reply_error(req, VMD_ERR_INVALID_PARAMS, json_pack("{s:s}", "param", "rate"),
				"rate: '%.40s' is not a rate (10Mb/s, 1MB/s@20ms, none)", rate);
		return;
	}
	if (ops_live_config(req, &live, &config) < 0)
		return;
	const char *def = vm_text(vm, &err);
	const char *now = live ? vm_live_text(vm, &err) : NULL;
	char *def_spec = def && config ? vif_spec(def, mac) : NULL;
	char *live_spec = now ? vif_spec(now, mac) : NULL;
	char *def_new = NULL, *live_new = NULL;
	struct vm_config next, live_next;
	vm_config_init(&next);
	vm_config_init(&live_next);
	int li = -1;
	if (!def || (live && !now)) {
		if (err.code == VMD_ERR_IO)
			err_add_str(&err, "name", vm->name);
		goto fail;
	}
	if ((config && !def_spec) || (live && !live_spec)) {
		err_set(&err, VMD_ERR_NOT_FOUND, "'%s' has no vif %s%s", vm->name, mac,
			config && !def_spec ? "" : " in its running domain");
		err_add_str(&err, "name", vm->name);
		goto fail;
	}
	def_new = def_spec ? xlcfg_spec_set(def_spec, "rate", value) : NULL;
	live_new = live_spec ? xlcfg_spec_set(live_spec, "rate", value) : NULL;
	if ((config && with_vif(def, vm->name, mac, def_new, &next, &err) < 0) ||
	    (live && (li = with_vif(now, vm->name, mac, live_new, &live_next, &err)) < 0) ||
	    (config && ops_check_config_access(req, &next, &err) < 0))
		goto fail;
	if (live) {
		const libxl_device_nic *n = &live_next.dc.nics[li];
		if (be_nic_rate(vm->d->be, (uint32_t)vm->domid, m, n->rate_bytes_per_interval,
				n->rate_interval_usecs, &err) < 0) {
			if (err.code != VMD_ERR_NOT_SUPPORTED)
				err_add_str(&err, "name", vm->name);
			goto fail;
		}
		ops_live_item(vm, "vif", mac, live_new);
	}
	if (config && vm_replace_config(vm, &next, &err) < 0) {
		if (err.code == VMD_ERR_IO)
			err_add_str(&err, "name", vm->name);
		goto fail;
	}
	log_info("%s: vif %s rate %s%s%s", vm->name, mac, value ? value : "none",
		 live ? " (running)" : "", config ? " (definition)" : "");
	rpc_reply_result(req, json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", vm->name, "mac", mac,
					"rate", rate, "live", live, "config", config));
	goto out;
fail:
	rpc_reply_err(req, &err);
out:
	free(def_spec);
	free(live_spec);
	free(def_new);
	free(live_new);
	vm_config_finish(&next);
	vm_config_finish(&live_next);
}

static void exec_cd_insert(struct rpc_req *req)
{
	cd_medium(req, true);
}

static void exec_cd_eject(struct rpc_req *req)
{
	cd_medium(req, false);
}

static void exec_attach(struct rpc_req *req)
{
	start(req, false, true);
}

static void exec_detach(struct rpc_req *req)
{
	start(req, false, false);
}

static void exec_attach_nic(struct rpc_req *req)
{
	start(req, true, true);
}

static void exec_detach_nic(struct rpc_req *req)
{
	start(req, true, false);
}

static const struct param_spec attach_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"disk", P_STRING, true, 0, 0},
	OPS_LIVE_CONFIG_PARAMS,
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_attach_disk = {
	.method = "vm.attach_disk",
	.params = attach_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_attach,
};

static const struct param_spec detach_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"vdev", P_STRING, true, 0, 0},
	OPS_LIVE_CONFIG_PARAMS,
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_detach_disk = {
	.method = "vm.detach_disk",
	.params = detach_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_detach,
};

static const struct param_spec attach_nic_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"vif", P_STRING, true, 0, 0},
	OPS_LIVE_CONFIG_PARAMS,
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_attach_nic = {
	.method = "vm.attach_nic",
	.params = attach_nic_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_attach_nic,
};

static const struct param_spec detach_nic_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"mac", P_STRING, true, 0, 0},
	OPS_LIVE_CONFIG_PARAMS,
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_detach_nic = {
	.method = "vm.detach_nic",
	.params = detach_nic_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_detach_nic,
};

static const struct param_spec cd_insert_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"vdev", P_STRING, true, 0, 0},
	{"file", P_STRING, true, 0, 0},
	OPS_LIVE_CONFIG_PARAMS,
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_cd_insert = {
	.method = "vm.cd_insert",
	.params = cd_insert_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_cd_insert,
};

const struct op_entry op_vm_cd_eject = {
	.method = "vm.cd_eject",
	.params = detach_params, /* name, vdev */
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_cd_eject,
};

static const struct param_spec nic_rate_params[] = {
	{"name", P_NAME, true, 0, 0},
	{"mac", P_STRING, true, 0, 0},
	{"rate", P_STRING, true, 0, 0},
	OPS_LIVE_CONFIG_PARAMS,
	{NULL, 0, false, 0, 0},
};

const struct op_entry op_vm_set_nic_rate = {
	.method = "vm.set_nic_rate",
	.params = nic_rate_params,
	.perm = OP_WRITE,
	.target = "name",
	.exec = exec_nic_rate,
};
