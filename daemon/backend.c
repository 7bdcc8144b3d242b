/*
 * backend.c: the table of backends and helpers common to all of them.
 */
#include "backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmd-proto.h"

static const struct backend_ops *const impls[] = {
#ifdef VMD_HAVE_LIBXL
	&backend_libxl,
#endif
	&backend_sim,
};

const struct backend_ops *backend_find(const char *name)
{
	for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++)
		if (strcmp(impls[i]->name, name) == 0)
			return impls[i];
	return NULL;
}

struct backend *be_open(const struct backend_ops *ops, struct event_base *base,
			const struct backend_options *opts, struct err *err)
{
	struct backend *be = ops->open(base, opts, err);
	if (be)
		be->ops = ops;
	return be;
}

void be_close(struct backend *be)
{
	if (be)
		be->ops->close(be);
}

const char *be_name(const struct backend *be)
{
	return be->ops->name;
}

int be_host_info(struct backend *be, struct host_info *out, struct err *err)
{
	return be->ops->host_info(be, out, err);
}

int be_list(struct backend *be, struct dom_info **out, size_t *n, struct err *err)
{
	return be->ops->list(be, out, n, err);
}

int be_info(struct backend *be, uint32_t domid, struct dom_info *out, struct err *err)
{
	return be->ops->info(be, domid, out, err);
}

int be_create(struct backend *be, const struct vm_config *cfg, const char *record,
	      backend_done_fn *done, void *arg, struct err *err)
{
	return be->ops->create(be, cfg, record, done, arg, err);
}

int be_shutdown(struct backend *be, uint32_t domid, struct err *err)
{
	return be->ops->shutdown(be, domid, err);
}

int be_reboot(struct backend *be, uint32_t domid, struct err *err)
{
	return be->ops->reboot(be, domid, err);
}

int be_destroy(struct backend *be, uint32_t domid, backend_done_fn *done, void *arg,
	       struct err *err)
{
	return be->ops->destroy(be, domid, done, arg, err);
}

int be_pause(struct backend *be, uint32_t domid, struct err *err)
{
	return be->ops->pause(be, domid, err);
}

int be_unpause(struct backend *be, uint32_t domid, struct err *err)
{
	return be->ops->unpause(be, domid, err);
}

int be_console(struct backend *be, uint32_t domid, struct console_info *out, struct err *err)
{
	return be->ops->console(be, domid, out, err);
}

int be_vnc(struct backend *be, uint32_t domid, char *out, size_t outlen, struct err *err)
{
	if (!be->ops->vnc) {
		err_set(err, VMD_ERR_NOT_SUPPORTED, "backend %s cannot tell VNC addresses",
			be->ops->name);
		return -1;
	}
	return be->ops->vnc(be, domid, out, outlen, err);
}

int be_watch(struct backend *be, uint32_t domid, struct err *err)
{
	return be->ops->watch(be, domid, err);
}

int be_core_dump(struct backend *be, uint32_t domid, const char *path, struct err *err)
{
	if (!be->ops->core_dump) {
		err_set(err, VMD_ERR_NOT_SUPPORTED, "the %s backend cannot dump a guest's core",
			be->ops->name);
		return -1;
	}
	return be->ops->core_dump(be, domid, path, err);
}

static int cannot_migrate(struct backend *be, struct err *err)
{
	err_set(err, VMD_ERR_NOT_SUPPORTED, "backend %s cannot migrate guests", be->ops->name);
	return -1;
}

int be_migrate_send(struct backend *be, uint32_t domid, int fd, bool live, backend_done_fn *done,
		    void *arg, struct err *err)
{
	if (!be->ops->migrate_send)
		return cannot_migrate(be, err);
	return be->ops->migrate_send(be, domid, fd, live, done, arg, err);
}

int be_migrate_resume(struct backend *be, uint32_t domid, struct err *err)
{
	if (!be->ops->migrate_resume)
		return cannot_migrate(be, err);
	return be->ops->migrate_resume(be, domid, err);
}

int be_migrate_receive(struct backend *be, const struct vm_config *cfg, const char *name,
		       const char *record, int fd, backend_done_fn *done, void *arg,
		       struct err *err)
{
	if (!be->ops->migrate_receive)
		return cannot_migrate(be, err);
	return be->ops->migrate_receive(be, cfg, name, record, fd, done, arg, err);
}

int be_rename(struct backend *be, uint32_t domid, const char *name, struct err *err)
{
	if (!be->ops->rename)
		return cannot_migrate(be, err);
	return be->ops->rename(be, domid, name, err);
}

static int cannot_change(struct backend *be, struct err *err)
{
	err_set(err, VMD_ERR_NOT_SUPPORTED, "backend %s cannot change running guests",
		be->ops->name);
	return -1;
}

int be_set_vcpus(struct backend *be, uint32_t domid, int n, int *max, struct err *err)
{
	if (!be->ops->set_vcpus)
		return cannot_change(be, err);
	return be->ops->set_vcpus(be, domid, n, max, err);
}

int be_set_memory(struct backend *be, uint32_t domid, uint64_t kib, struct err *err)
{
	if (!be->ops->set_memory)
		return cannot_change(be, err);
	return be->ops->set_memory(be, domid, kib, err);
}

int be_sched(struct backend *be, uint32_t domid, int weight, int cap, struct sched_info *out,
	     struct err *err)
{
	if (!be->ops->sched)
		return cannot_change(be, err);
	return be->ops->sched(be, domid, weight, cap, out, err);
}

int be_disk_attach(struct backend *be, uint32_t domid, const libxl_device_disk *disk,
		   backend_done_fn *done, void *arg, struct err *err)
{
	if (!be->ops->disk_attach)
		return cannot_change(be, err);
	return be->ops->disk_attach(be, domid, disk, done, arg, err);
}

int be_disk_detach(struct backend *be, uint32_t domid, const char *vdev, backend_done_fn *done,
		   void *arg, struct err *err)
{
	if (!be->ops->disk_detach)
		return cannot_change(be, err);
	return be->ops->disk_detach(be, domid, vdev, done, arg, err);
}

int be_cdrom(struct backend *be, uint32_t domid, const libxl_device_disk *disk,
	     backend_done_fn *done, void *arg, struct err *err)
{
	if (!be->ops->cdrom)
		return cannot_change(be, err);
	return be->ops->cdrom(be, domid, disk, done, arg, err);
}

int be_nic_attach(struct backend *be, uint32_t domid, const libxl_device_nic *nic,
		  backend_done_fn *done, void *arg, struct err *err)
{
	if (!be->ops->nic_attach)
		return cannot_change(be, err);
	return be->ops->nic_attach(be, domid, nic, done, arg, err);
}

int be_nic_rate(struct backend *be, uint32_t domid, const uint8_t mac[6], uint64_t bytes,
		uint32_t usecs, struct err *err)
{
	if (!be->ops->nic_rate)
		return cannot_change(be, err);
	return be->ops->nic_rate(be, domid, mac, bytes, usecs, err);
}

int be_vif_addrs(struct backend *be, uint32_t domid, struct vif_addr **out, size_t *n,
		 struct err *err)
{
	*out = NULL;
	*n = 0;
	return be->ops->vif_addrs ? be->ops->vif_addrs(be, domid, out, n, err) : 0;
}

int be_stats(struct backend *be, uint32_t domid, struct dom_stats *out, struct err *err)
{
	*out = (struct dom_stats){0};
	if (!be->ops->stats) {
		err_set(err, VMD_ERR_NOT_SUPPORTED, "the %s backend has no counters", be_name(be));
		return -1;
	}
	return be->ops->stats(be, domid, out, err);
}

void dom_stats_finish(struct dom_stats *s)
{
	free(s->disks);
	free(s->vifs);
	*s = (struct dom_stats){0};
}

int be_nic_detach(struct backend *be, uint32_t domid, const uint8_t mac[6], backend_done_fn *done,
		  void *arg, struct err *err)
{
	if (!be->ops->nic_detach)
		return cannot_change(be, err);
	return be->ops->nic_detach(be, domid, mac, done, arg, err);
}

int be_inject(struct backend *be, const char *fault, uint32_t domid, struct err *err)
{
	if (!be->ops->inject) {
		err_set(err, VMD_ERR_NOT_SUPPORTED, "backend %s has no fault injection",
			be->ops->name);
		return -1;
	}
	return be->ops->inject(be, fault, domid, err);
}

void host_info_finish(struct host_info *h)
{
	free(h->cpu_node);
	h->cpu_node = NULL;
}

const char *dom_state_name(enum dom_state s)
{
	switch (s) {
	case DOM_RUNNING:
	case DOM_BLOCKED:
		return "running";
	case DOM_PAUSED:
		return "paused";
	case DOM_SHUTDOWN:
		return "shutdown";
	case DOM_CRASHED:
		return "crashed";
	case DOM_DYING:
		return "dying";
	}
	return "unknown";
}

void dom_info_finish(struct dom_info *d)
{
	if (!d)
		return;
	free(d->record);
	d->record = NULL;
}

void dom_info_list_free(struct dom_info *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dom_info_finish(&list[i]);
	free(list);
}
