/*
 * xl-stub.so: an LD_PRELOAD library that lets Xen's own `xl -N create` (dry run) work on a
 * machine without a hypervisor, so that its libxl_domain_config JSON can serve as a test
 * oracle. tests/xl-oracle/xl-dry-run builds and uses it; README.md there says why each call
 * is answered the way it is.
 *
 * The stub sits as low as it can while still letting xl, libxl and libxenctrl run
 * unmodified:
 *   - libxencall (the whole API, it is small): hypercalls are answered here from a made-up
 *     host, so libxenctrl's bounce buffers, xc_physinfo, xc_cputopoinfo, xc_numainfo,
 *     xc_version, xc_memory_op (a one-entry multicall on Linux) and everything libxl
 *     derives from them are Xen's own code;
 *   - xenforeignmemory_open/close and xendevicemodel_open/close: xc_interface_open opens
 *     them (each needs /dev/xen/privcmd); a dry run never maps memory or talks to a device
 *     model;
 *   - xs_open/xs_close: libxl_ctx_alloc connects to xenstored; a dry run reads nothing;
 *   - fopen("/etc/xen/xl.conf"): redirected to $XL_CONF, or made to fail with ENOENT, so
 *     that the host's own xl.conf (if any) never leaks in.
 * Any other hypercall fails with ENOSYS and is reported on stderr: a dry run that makes one
 * is one the stub does not cover yet.
 *
 * The host (read once, at load): XL_STUB_CPUS online CPUs (4), XL_STUB_MAX_CPU_ID (CPUS-1),
 * XL_STUB_NODES NUMA nodes (1) over which CPUs and memory are spread evenly, one socket per
 * node, one thread per core, XL_STUB_MEMORY_MIB of RAM (8192), all free,
 * XL_STUB_XEN_CMDLINE (Xen's command line, "placeholder"), XL_STUB_XEN_VERSION ("4.17.7";
 * xl-dry-run passes the package's). XL_STUB_TRACE=1 logs each answered call on stderr. A
 * bad value makes the process exit with status 125.
 *
 * Build (xl-dry-run does it):
 *   gcc -std=gnu11 -O2 -fPIC -shared -Wall -Wextra -Werror -o xl-stub.so xl-stub.c -ldl
 * It needs the headers of libxen-dev (of the same Xen version as the xl it serves: the
 * sysctl interface version is checked as Xen checks it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* xenctrl.h defines __XEN_TOOLS__ and pulls in xen/sysctl.h, version.h, memory.h. */
#include <xenctrl.h>
#include <xencall.h>
#include <xendevicemodel.h>
#include <xenforeignmemory.h>
#include <xenstore.h>

#define XL_CONF_PATH "/etc/xen/xl.conf"
#define STUB_PAGE_SIZE 4096UL
#define STUB_PAGE_SHIFT 12
#define MAX_NODES 64 /* MAX_NUMNODES on x86: NODES_SHIFT is 6 */
#define MAX_CPUS 4096 /* Xen's NR_CPUS limit on x86 */
#define LOCAL_DISTANCE 10
#define REMOTE_DISTANCE 20

#define EXPORT __attribute__((visibility("default")))

static struct {
	unsigned int cpus;
	unsigned int max_cpu_id;
	unsigned int nodes;
	uint64_t pages;
	unsigned int xen_major, xen_minor;
	char xen_extra[16]; /* xen_extraversion_t */
	const char *cmdline;
	int trace;
} host;

/*
 * The handles we hand out. Only our own functions (below) receive the xencall one; the
 * others are only ever closed. Distinct objects, so a mix-up shows in a debugger.
 */
static char xcall_handle, fmem_handle, dmod_handle, xs_handle;

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
	va_list ap;

	if (!host.trace)
		return;
	va_start(ap, fmt);
	fputs("xl-stub: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

/* Not covered: a real dom0 would answer, so say so loudly. */
static long unhandled(const char *what, unsigned long n)
{
	fprintf(stderr, "xl-stub: unhandled %s %lu: answering ENOSYS\n", what, n);
	return -ENOSYS;
}

static unsigned long env_ulong(const char *name, unsigned long def, unsigned long min,
			       unsigned long max)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max || s[0] == '-') {
		fprintf(stderr, "xl-stub: %s=%s: want an integer in [%lu, %lu]\n", name, s, min,
			max);
		exit(125);
	}
	return v;
}

/* "4.17.7" is major 4, minor 17, extraversion ".7", as Xen reports its version. */
static void xen_version_init(void)
{
	const char *v = getenv("XL_STUB_XEN_VERSION");
	int n = 0;

	if (!v || !*v)
		v = "4.17.7";
	if (sscanf(v, "%u.%u%n", &host.xen_major, &host.xen_minor, &n) != 2 ||
	    host.xen_major > 0xffff || host.xen_minor > 0xff ||
	    strlen(v + n) >= sizeof(host.xen_extra)) {
		fprintf(stderr, "xl-stub: XL_STUB_XEN_VERSION=%s: want MAJOR.MINOR[EXTRA]\n", v);
		exit(125);
	}
	copy_str(host.xen_extra, sizeof(host.xen_extra), v + n);
}

__attribute__((constructor)) static void stub_init(void)
{
	const char *t = getenv("XL_STUB_TRACE");

	host.trace = t && *t && strcmp(t, "0") != 0;
	host.cpus = (unsigned int)env_ulong("XL_STUB_CPUS", 4, 1, MAX_CPUS);
	host.max_cpu_id = (unsigned int)env_ulong("XL_STUB_MAX_CPU_ID", host.cpus - 1,
						  host.cpus - 1, MAX_CPUS - 1);
	host.nodes = (unsigned int)env_ulong("XL_STUB_NODES", 1, 1,
					     host.cpus < MAX_NODES ? host.cpus : MAX_NODES);
	host.pages = (uint64_t)env_ulong("XL_STUB_MEMORY_MIB", 8192, 16, 1UL << 32)
		     << (20 - STUB_PAGE_SHIFT);
	xen_version_init();
	host.cmdline = getenv("XL_STUB_XEN_CMDLINE");
	if (!host.cmdline)
		host.cmdline = "placeholder";
}

/* CPUs are spread evenly over the nodes, in blocks: cpu i is on node i*nodes/cpus. */
static unsigned int cpu_node(unsigned int cpu)
{
	return (unsigned int)((uint64_t)cpu * host.nodes / host.cpus);
}

static unsigned int node_first_cpu(unsigned int node)
{
	unsigned int cpu = 0;

	while (cpu < host.cpus && cpu_node(cpu) < node)
		cpu++;
	return cpu;
}

static unsigned int node_cpus(unsigned int node)
{
	return node_first_cpu(node + 1) - node_first_cpu(node);
}

static uint64_t node_pages(unsigned int node)
{
	uint64_t per = host.pages / host.nodes;

	return node == host.nodes - 1 ? host.pages - per * (host.nodes - 1) : per;
}

/* ------------------------------------------------------------------ hypercalls */

/* As xen/common/sysctl.c XEN_SYSCTL_physinfo and xen/arch/x86/sysctl.c arch_do_physinfo. */
static long sysctl_physinfo(struct xen_sysctl_physinfo *pi)
{
	memset(pi, 0, sizeof(*pi));
	pi->threads_per_core = 1;
	pi->cores_per_socket = node_cpus(0); /* a socket per node */
	pi->nr_cpus = host.cpus;
	pi->nr_nodes = host.nodes;
	pi->max_node_id = MAX_NODES - 1;
	pi->max_cpu_id = host.max_cpu_id;
	pi->total_pages = host.pages;
	pi->free_pages = host.pages;
	pi->outstanding_pages = 0;
	pi->scrub_pages = 0;
	pi->cpu_khz = 2400000;
	pi->max_mfn = host.pages - 1;
	/* hw_cap (the boot CPU's feature words) stays zero: only `xl info` shows it. */
	pi->capabilities = XEN_SYSCTL_PHYSCAP_hvm | XEN_SYSCTL_PHYSCAP_pv |
			   XEN_SYSCTL_PHYSCAP_hap | XEN_SYSCTL_PHYSCAP_shadow |
			   XEN_SYSCTL_PHYSCAP_directio | XEN_SYSCTL_PHYSCAP_iommu_hap_pt_share |
			   XEN_SYSCTL_PHYSCAP_gnttab_v1 | XEN_SYSCTL_PHYSCAP_gnttab_v2;
	trace("sysctl physinfo: %u cpus (max id %u), %u nodes, %llu pages", host.cpus,
	      host.max_cpu_id, host.nodes, (unsigned long long)host.pages);
	return 0;
}

/*
 * As Xen's XEN_SYSCTL_cputopoinfo: with a NULL buffer it only reports how many entries
 * there are; otherwise it fills min(asked, present) of them and reports how many it filled.
 */
static long sysctl_cputopoinfo(struct xen_sysctl_cputopoinfo *ti)
{
	xen_sysctl_cputopo_t *out = ti->cputopo.p;
	unsigned int n = host.cpus; /* cpumask_last(&cpu_present_map) + 1 */

	if (out) {
		if (n > ti->num_cpus)
			n = ti->num_cpus;
		for (unsigned int i = 0; i < n; i++) {
			unsigned int node = cpu_node(i);

			out[i].core = i - node_first_cpu(node);
			out[i].socket = node;
			out[i].node = node;
		}
	}
	trace("sysctl cputopoinfo: %u of %u cpus%s", n, ti->num_cpus, out ? "" : " (count)");
	ti->num_cpus = n;
	return 0;
}

/* As Xen's XEN_SYSCTL_numainfo: the same protocol, per node meminfo and distances. */
static long sysctl_numainfo(struct xen_sysctl_numainfo *ni)
{
	xen_sysctl_meminfo_t *mem = ni->meminfo.p;
	uint32_t *dist = ni->distance.p;
	unsigned int n = host.nodes; /* last_node(node_online_map) + 1 */

	if (mem || dist) {
		if (n > ni->num_nodes)
			n = ni->num_nodes;
		for (unsigned int i = 0; i < n; i++) {
			if (mem) {
				mem[i].memsize = node_pages(i) << STUB_PAGE_SHIFT;
				mem[i].memfree = node_pages(i) << STUB_PAGE_SHIFT;
			}
			for (unsigned int j = 0; dist && j < n; j++)
				dist[i * n + j] = i == j ? LOCAL_DISTANCE : REMOTE_DISTANCE;
		}
	}
	trace("sysctl numainfo: %u of %u nodes%s", n, ni->num_nodes,
	      mem || dist ? "" : " (count)");
	ni->num_nodes = n;
	return 0;
}

static long do_sysctl(struct xen_sysctl *op)
{
	/* Xen refuses a toolstack of another interface version with EACCES. */
	if (op->interface_version != XEN_SYSCTL_INTERFACE_VERSION) {
		fprintf(stderr, "xl-stub: sysctl interface version %#x, built for %#x\n",
			op->interface_version, XEN_SYSCTL_INTERFACE_VERSION);
		return -EACCES;
	}
	switch (op->cmd) {
	case XEN_SYSCTL_physinfo:
		return sysctl_physinfo(&op->u.physinfo);
	case XEN_SYSCTL_cputopoinfo:
		return sysctl_cputopoinfo(&op->u.cputopoinfo);
	case XEN_SYSCTL_numainfo:
		return sysctl_numainfo(&op->u.numainfo);
	default:
		return unhandled("sysctl", op->cmd);
	}
}

/* libxl_get_version_info asks these; xl uses the command line to decide on autoballoon. */
static long do_xen_version(unsigned long cmd, void *arg)
{
	trace("xen_version %lu", cmd);
	switch (cmd) {
	case XENVER_version:
		return (long)(host.xen_major << 16 | host.xen_minor);
	case XENVER_extraversion:
		copy_str(arg, sizeof(xen_extraversion_t), host.xen_extra);
		return 0;
	case XENVER_compile_info: {
		xen_compile_info_t *ci = arg;

		copy_str(ci->compiler, sizeof(ci->compiler), "xl-stub");
		copy_str(ci->compile_by, sizeof(ci->compile_by), "xl-stub");
		copy_str(ci->compile_domain, sizeof(ci->compile_domain), "invalid");
		copy_str(ci->compile_date, sizeof(ci->compile_date), "none");
		return 0;
	}
	case XENVER_capabilities:
		copy_str(arg, sizeof(xen_capabilities_info_t),
			 "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64");
		return 0;
	case XENVER_changeset:
		copy_str(arg, sizeof(xen_changeset_info_t), "unavailable");
		return 0;
	case XENVER_platform_parameters:
		((xen_platform_parameters_t *)arg)->virt_start = 0xffff800000000000UL;
		return 0;
	case XENVER_pagesize:
		return (long)STUB_PAGE_SIZE;
	case XENVER_commandline:
		copy_str(arg, sizeof(xen_commandline_t), host.cmdline);
		return 0;
	case XENVER_build_id:
		return -ENODATA; /* as a Xen built without a build id */
	default:
		return unhandled("xen_version", cmd);
	}
}

static long do_memory_op(unsigned long cmd, void *arg)
{
	(void)arg;
	switch (cmd) {
	/* libxl_get_physinfo asks both; Xen without CONFIG_MEM_SHARING answers 0. */
	case XENMEM_get_sharing_freed_pages:
	case XENMEM_get_sharing_shared_pages:
		trace("memory_op %lu: 0", cmd);
		return 0;
	default:
		return unhandled("memory_op", cmd);
	}
}

static long hypercall(unsigned int op, const uint64_t a[5]);

/* On Linux libxenctrl issues memory_op as a one-entry multicall, for its long result. */
static long do_multicall(multicall_entry_t *calls, uint64_t nr)
{
	for (uint64_t i = 0; i < nr; i++) {
		uint64_t args[5];

		for (int k = 0; k < 5; k++)
			args[k] = calls[i].args[k];
		calls[i].result = (xen_ulong_t)hypercall((unsigned int)calls[i].op, args);
	}
	return 0;
}

/* Returns the hypercall's value: >= 0, or -errno as Xen would. */
static long hypercall(unsigned int op, const uint64_t a[5])
{
	switch (op) {
	case __HYPERVISOR_sysctl:
		return do_sysctl((struct xen_sysctl *)(uintptr_t)a[0]);
	case __HYPERVISOR_xen_version:
		return do_xen_version(a[0], (void *)(uintptr_t)a[1]);
	case __HYPERVISOR_memory_op:
		return do_memory_op(a[0], (void *)(uintptr_t)a[1]);
	case __HYPERVISOR_multicall:
		return do_multicall((multicall_entry_t *)(uintptr_t)a[0], a[1]);
	default:
		return unhandled("hypercall", op);
	}
}

/* The privcmd ioctl's convention: a negative result becomes -1 with errno. */
static long issue(unsigned int op, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		  uint64_t a5)
{
	const uint64_t a[5] = { a1, a2, a3, a4, a5 };
	long r = hypercall(op, a);

	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* ------------------------------------------------------------------ libxencall */

EXPORT xencall_handle *xencall_open(struct xentoollog_logger *logger, unsigned int open_flags)
{
	(void)logger;
	(void)open_flags;
	trace("xencall_open");
	return (xencall_handle *)&xcall_handle;
}

EXPORT int xencall_close(xencall_handle *xcall)
{
	(void)xcall;
	return 0;
}

EXPORT int xencall_fd(xencall_handle *xcall)
{
	(void)xcall;
	errno = ENOSYS;
	return -1;
}

EXPORT int xencall0(xencall_handle *xcall, unsigned int op)
{
	(void)xcall;
	return (int)issue(op, 0, 0, 0, 0, 0);
}

EXPORT int xencall1(xencall_handle *xcall, unsigned int op, uint64_t arg1)
{
	(void)xcall;
	return (int)issue(op, arg1, 0, 0, 0, 0);
}

EXPORT int xencall2(xencall_handle *xcall, unsigned int op, uint64_t arg1, uint64_t arg2)
{
	(void)xcall;
	return (int)issue(op, arg1, arg2, 0, 0, 0);
}

EXPORT long xencall2L(xencall_handle *xcall, unsigned int op, uint64_t arg1, uint64_t arg2)
{
	(void)xcall;
	return issue(op, arg1, arg2, 0, 0, 0);
}

EXPORT int xencall3(xencall_handle *xcall, unsigned int op, uint64_t arg1, uint64_t arg2,
		    uint64_t arg3)
{
	(void)xcall;
	return (int)issue(op, arg1, arg2, arg3, 0, 0);
}

EXPORT int xencall4(xencall_handle *xcall, unsigned int op, uint64_t arg1, uint64_t arg2,
		    uint64_t arg3, uint64_t arg4)
{
	(void)xcall;
	return (int)issue(op, arg1, arg2, arg3, arg4, 0);
}

EXPORT int xencall5(xencall_handle *xcall, unsigned int op, uint64_t arg1, uint64_t arg2,
		    uint64_t arg3, uint64_t arg4, uint64_t arg5)
{
	(void)xcall;
	return (int)issue(op, arg1, arg2, arg3, arg4, arg5);
}

/* Hypercall buffers are plain zeroed memory here: our "hypervisor" shares the process. */
EXPORT void *xencall_alloc_buffer_pages(xencall_handle *xcall, size_t nr_pages)
{
	void *p = NULL;

	(void)xcall;
	if (nr_pages > SIZE_MAX / STUB_PAGE_SIZE ||
	    posix_memalign(&p, STUB_PAGE_SIZE, nr_pages * STUB_PAGE_SIZE)) {
		errno = ENOMEM;
		return NULL;
	}
	memset(p, 0, nr_pages * STUB_PAGE_SIZE);
	return p;
}

EXPORT void xencall_free_buffer_pages(xencall_handle *xcall, void *p, size_t nr_pages)
{
	(void)xcall;
	(void)nr_pages;
	free(p);
}

EXPORT void *xencall_alloc_buffer(xencall_handle *xcall, size_t size)
{
	(void)xcall;
	return calloc(1, size ? size : 1);
}

EXPORT void xencall_free_buffer(xencall_handle *xcall, void *p)
{
	(void)xcall;
	free(p);
}

EXPORT int xencall_buffers_never_fault(xencall_handle *xcall)
{
	(void)xcall;
	return 1;
}

/* ------------------------------------------- the other handles xc_interface_open takes */

EXPORT xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
						      unsigned int open_flags)
{
	(void)logger;
	(void)open_flags;
	trace("xenforeignmemory_open");
	return (xenforeignmemory_handle *)&fmem_handle;
}

EXPORT int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
	(void)fmem;
	return 0;
}

EXPORT xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger,
						  unsigned int open_flags)
{
	(void)logger;
	(void)open_flags;
	trace("xendevicemodel_open");
	return (xendevicemodel_handle *)&dmod_handle;
}

EXPORT int xendevicemodel_close(xendevicemodel_handle *dmod)
{
	(void)dmod;
	return 0;
}

/* ------------------------------------------------------------------ libxenstore */

EXPORT struct xs_handle *xs_open(unsigned long flags)
{
	(void)flags;
	trace("xs_open");
	return (struct xs_handle *)&xs_handle;
}

EXPORT void xs_close(struct xs_handle *xsh)
{
	(void)xsh;
}

/* ------------------------------------------------------------------ /etc/xen/xl.conf */

/*
 * xl reads its global config from a fixed path with libxl_read_file_contents (fopen).
 * Without $XL_CONF the open fails with ENOENT whatever this machine has there, which is
 * what a dom0 without xl.conf sees: xl says "Failed to read config file" and goes on with
 * its defaults.
 */
static FILE *open_maybe_xl_conf(const char *sym, const char *path, const char *mode)
{
	FILE *(*real)(const char *, const char *);

	if (path && strcmp(path, XL_CONF_PATH) == 0) {
		const char *conf = getenv("XL_CONF");

		trace("%s(%s) -> %s", sym, path, conf && *conf ? conf : "ENOENT");
		if (!conf || !*conf) {
			errno = ENOENT;
			return NULL;
		}
		path = conf;
	}
	real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, sym);
	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	return real(path, mode);
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
	return open_maybe_xl_conf("fopen", path, mode);
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return open_maybe_xl_conf("fopen64", path, mode);
}
