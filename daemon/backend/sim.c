/*
 * sim.c: the "sim" backend, a simulated hypervisor inside the daemon (`vmd --backend=sim`).
 *
 * What it is for: demos without Xen, and fast tests of everything above backend.h (core,
 * protocol, vmctl), like libvirt's test:///default. Seen through backend.h it behaves like the
 * libxl backend: same calls, same asynchrony, same events, same error codes.
 *
 * What it simulates: domains with Xen-like domids (from 1, increasing, never reused within a
 * run), states (running, paused, shut down, crashed, dying), memory accounting against a host of
 * sim_memory_mib (default 8192; a create that does not fit is refused), cpu time growing with
 * wall time while running, consoles as ptys that print a short boot log and echo what is typed,
 * and guests that obey shutdown/reboot requests after sim_delay_ms (default 300).
 * Faults for tests, through inject() (domid ignored where none is named):
 *   fail-create    the next create fails (through its done)
 *   fail-destroy   the next destroy fails (through its done)
 *   fail-migrate   the next migration send breaks off half-way (through its done)
 *   stall-migrate  the next migration send or receive stops half-way and waits until the
 *                  other end closes the stream (then fails): a transfer to cancel
 *   no-balloon     domid has no balloon driver: its memory does not follow set_memory
 *   crash          domid crashes now (running or paused): DOM_CRASHED + DOM_EV_CRASH
 *   watchdog       domid's watchdog fires now (running or paused): DOM_CRASHED +
 *                  DOM_EV_WATCHDOG (read back as a crash after a daemon restart)
 *   hang-shutdown  domid ignores shutdown/reboot requests from now on
 *   poweroff       domid (running) powers itself off now: DOM_SHUTDOWN + DOM_EV_POWEROFF
 *   reboot         domid (running) asks for a reboot now: DOM_SHUTDOWN + DOM_EV_REBOOT
 *   vanish         domid disappears now, as if `xl destroy`ed: DOM_EV_GONE
 *   foreign:NAME   a domain started by someone else (`xl create`): running, no record,
 *                  unwatched, 256 MiB, 1 vCPU, pv
 * Unknown fault: VMD_ERR_INVALID_PARAMS; unknown domid: VMD_ERR_NOT_FOUND; a guest in the
 * wrong state for the fault: VMD_ERR_BAD_STATE.
 * What it does not: no guest code runs; disks, kernel and ramdisk are only checked to exist
 * (as libxl would fail without them); vifs, vnc, bootloaders are ignored; no ballooning
 * (maxmem is only reported); no suspend, save, migration; no dom0 in lists; 4 host CPUs; no
 * locking of the state file (one daemon per state_dir is the daemon's business).
 *
 * Decisions the core relies on:
 * - Every callback comes from a later event-loop callback through one FIFO queue, never from
 *   inside a backend call; callbacks may call any backend function, close() included.
 * - create() refuses synchronously (-1, done never called): EXISTS for a name in use (also by a
 *   domain being built or dying, as in Xen), NO_RESOURCES, INVALID_CONFIG for a missing name or
 *   zero memory, BACKEND for a missing kernel, ramdisk (pv/pvh) or disk target. Otherwise the
 *   domain is built for min(50 ms, delay): it holds its name, memory and domid but is not
 *   visible (list, info and all calls on its domid say NOT_FOUND) until done reports its domid;
 *   then it is running, watched and has a console. An injected fail-create fails through done
 *   (VMD_ERR_BACKEND "injected failure", domid 0) after the build time and leaves nothing.
 * - destroy() marks the domain DOM_DYING at once (it is still listed, still holds memory) and
 *   calls done once it is gone, min(10 ms, delay) later; a second destroy meanwhile also
 *   succeeds. An injected fail-destroy fails through done and leaves the domain as it was.
 * - Events go only to watched domains: those created by this backend instance, and those the
 *   core watch()es (adoption after a restart, foreign domains). POWEROFF/REBOOT/CRASH still
 *   queued when the core destroys the domain are dropped. DOM_EV_GONE is delivered only for a
 *   watched domain that disappears without the core asking (fault "vanish"); a destroy the
 *   core asked for is reported by its done alone.
 * - shutdown()/reboot() of a running or paused guest: accepted; the guest reacts sim_delay_ms
 *   after the first request (a repeated request does not restart the countdown; the last
 *   one decides poweroff or reboot). Xen guests cannot act while paused: pausing stops the
 *   countdown and unpause starts it again from zero. A shut down, crashed or dying domain:
 *   VMD_ERR_BAD_STATE. With hang-shutdown the request is accepted and ignored.
 * - pause()/unpause() are idempotent (Xen counts pauses; the sim does not); BAD_STATE unless
 *   running or paused.
 *
 * Persistence: with a state_dir, the hypervisor's domains live in <state_dir>/sim/domains.json,
 * rewritten atomically after every change and at close(): {"version":1,"next_domid":N,
 * "domains":[{"domid","name","uuid","type","state","memory_kib","maxmem_kib","vcpus",
 * "cpu_time_ns","start_time","hang_shutdown","request","record","vifs"},...]} ("vifs": each
 * vif's "mac", "rate_bytes" and "rate_usecs"); domains being built or
 * dying are left out. open() reloads it: the guests are still there, in their saved state (cpu
 * time going on from the saved value, a pending shutdown request still acted on), with fresh
 * console ptys, unwatched until the core watch()es them, as if they had outlived the daemon
 * like Xen guests do. close() cancels pending done callbacks without calling them and leaves
 * the file in place. A file that cannot be read or parsed makes open() fail (VMD_ERR_IO).
 */
#include "backend.h"
#include "config.h"
#include "defer.h"
#include "log.h"
#include "util.h"
#include "vmd-proto.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#define DEFAULT_MEMORY_MIB 8192
#define DEFAULT_DELAY_MS 300
#define BUILD_MS 50
#define DESTROY_MS 10
#define NR_CPUS 4
#define FOREIGN_MEMORY_MIB 256
#define STATE_FILE_MAX (16 * 1024 * 1024)
#define STATE_VERSION 1
#define NAME_SIZE 128 /* as struct dom_info */

enum request { REQ_NONE, REQ_POWEROFF, REQ_REBOOT };

#define SIM_DISKS 32

struct dom {
	struct dom *next;
	struct sim *be;
	uint32_t domid;
	char name[NAME_SIZE];
	uint8_t uuid[16];
	enum vm_type type;
	enum dom_state state;
	uint64_t memory_kib;
	uint64_t maxmem_kib;
	int vcpus;
	int max_vcpus;             /* maxvcpus at the build */
	int weight, cap;           /* its scheduling (credit2's defaults: 256, 0) */
	char vdevs[SIM_DISKS][16]; /* its disks (not kept across a daemon restart) and vifs */
	int n_vdevs;
	uint8_t macs[SIM_DISKS][6];
	uint64_t rate_bytes[SIM_DISKS]; /* each vif's rate= (usecs 0: none) */
	uint32_t rate_usecs[SIM_DISKS];
	int n_macs;
	bool no_balloon;           /* fault no-balloon: memory targets are refused */
	uint64_t cpu_ns;      /* cpu time accumulated up to run_since */
	double run_since;     /* monotonic time of the last state change */
	uint64_t start_time;
	char *record;
	bool building;        /* being built: invisible until the create's done */
	bool watched;
	bool hang;            /* ignores shutdown/reboot requests */
	enum request request; /* pending shutdown/reboot request */
	bool watchdog;        /* crashed by its watchdog (not saved) */
	struct event *react;  /* the guest acting on request */
	int master;           /* console pty, -1 if none */
	int slave;            /* kept open so that the master never sees a hangup */
	struct event *con_ev;
	char pty[256];
	bool suspended;            /* by a migration's send: migrate_resume lets it run */
	enum dom_state before;     /* its state before that */
};

enum op_kind { OP_BUILD, OP_DESTROY };

/* A timed hypervisor operation that ends with a done callback. */
struct op {
	struct op *next;
	struct sim *be;
	struct event *timer;
	enum op_kind kind;
	uint32_t domid;
	bool fail;
	backend_done_fn *done;
	void *arg;
};

/* A callback waiting to be delivered: a done or a domain event. */
struct note {
	struct defer_note link; /* first: the queue's */
	bool is_event;
	uint32_t domid;
	enum dom_event ev;
	backend_done_fn *done;
	void *arg;
	bool failed;
	struct err err;
};

struct sim {
	struct backend handle; /* first: what the core holds */
	struct event_base *base;
	uint64_t total_kib;
	unsigned delay_ms;
	backend_event_fn *on_event;
	void *event_arg;
	char *path; /* <state_dir>/sim/domains.json or NULL */
	uint32_t next_domid;
	struct dom *doms; /* by increasing domid */
	struct op *ops;
	struct defer *notes; /* callbacks on their way to the core */
	unsigned fail_create;
	unsigned fail_destroy;
	unsigned fail_migrate;   /* sends that break off half-way */
	unsigned stall_migrate;  /* sends or receives that stop half-way */
	struct xfer *xfers;      /* migration streams being sent or received */
};

/* A migration stream being sent or received (see "migration" below). */
#define PAYLOAD_PER_MIB 1024
#define HEADER_MAX 1024

struct xfer {
	struct xfer *next;
	struct sim *be;
	bool receive;
	uint32_t domid;       /* send: the domain */
	int fd, fl;           /* not ours; its flags, restored at the end */
	struct event *ev;
	backend_done_fn *done;
	void *arg;
	/* send */
	char *buf;
	size_t len, off, fail_at;
	/* stall-migrate: stop after stall_at bytes (0: never) and wait for the other end */
	uint64_t stall_at, seen;
	bool stall_pending;   /* receive: stall at half the payload, once the header tells it */
	struct event *hup;
	/* receive */
	char hdr[HEADER_MAX];
	size_t hlen;
	bool have_hdr;
	uint64_t left;
	uint64_t cpu_ns, start_time;
	char name[NAME_SIZE];
	char *record;
	uint8_t uuid[16];
	enum vm_type type;
	uint64_t memory_kib, maxmem_kib;
	int vcpus, max_vcpus;
};

static const char *request_str(enum request r)
{
	return r == REQ_POWEROFF ? "poweroff" : r == REQ_REBOOT ? "reboot" : "none";
}

static unsigned short_delay(const struct sim *be, unsigned ms)
{
	return be->delay_ms < ms ? be->delay_ms : ms;
}

/* ---- domains ---- */

static struct dom *find_any(struct sim *be, uint32_t domid)
{
	for (struct dom *d = be->doms; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

static struct dom *find(struct sim *be, uint32_t domid)
{
	struct dom *d = find_any(be, domid);
	return d && !d->building ? d : NULL;
}

static struct dom *find_name(struct sim *be, const char *name)
{
	for (struct dom *d = be->doms; d; d = d->next)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

static int bad_state(const struct dom *d, struct err *err)
{
	err_set(err, VMD_ERR_BAD_STATE, "domain %" PRIu32 " (%s) is %s", d->domid, d->name,
		     dom_state_name(d->state));
	return -1;
}

static struct dom *find_or_err(struct sim *be, uint32_t domid, struct err *err)
{
	struct dom *d = find(be, domid);
	if (!d)
		err_set(err, VMD_ERR_NOT_FOUND, "no domain with domid %" PRIu32, domid);
	return d;
}

static uint64_t used_kib(const struct sim *be)
{
	uint64_t used = 0;
	for (const struct dom *d = be->doms; d; d = d->next)
		used += d->memory_kib;
	return used;
}

static uint64_t free_kib(const struct sim *be)
{
	uint64_t used = used_kib(be);
	return used < be->total_kib ? be->total_kib - used : 0;
}

static uint64_t cpu_time(const struct dom *d)
{
	uint64_t t = d->cpu_ns;
	if (d->state == DOM_RUNNING) {
		double dt = now_monotonic() - d->run_since;
		if (dt > 0)
			t += (uint64_t)(dt * 1e9);
	}
	return t;
}

static void set_state(struct dom *d, enum dom_state s)
{
	d->cpu_ns = cpu_time(d);
	d->run_since = now_monotonic();
	d->state = s;
}

static void react_cb(evutil_socket_t fd, short what, void *arg);

static struct dom *dom_new(struct sim *be, uint32_t domid, const char *name)
{
	struct dom *d = xcalloc(1, sizeof *d);
	d->be = be;
	d->domid = domid;
	snprintf(d->name, sizeof d->name, "%s", name);
	d->master = -1;
	d->slave = -1;
	d->run_since = now_monotonic();
	d->react = evtimer_new(be->base, react_cb, d);
	if (!d->react) {
		fputs("vmd: sim: cannot allocate a timer\n", stderr);
		abort();
	}
	/* keep the list sorted by domid */
	struct dom **pp = &be->doms;
	while (*pp && (*pp)->domid < domid)
		pp = &(*pp)->next;
	d->next = *pp;
	*pp = d;
	return d;
}

static void console_close(struct dom *d)
{
	if (d->con_ev)
		event_free(d->con_ev);
	d->con_ev = NULL;
	if (d->master >= 0)
		close(d->master);
	if (d->slave >= 0)
		close(d->slave);
	d->master = d->slave = -1;
}

/* Unlinks and frees d. */
static void dom_free(struct dom *d)
{
	struct sim *be = d->be;
	for (struct dom **pp = &be->doms; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	console_close(d);
	event_free(d->react);
	free(d->record);
	free(d);
}

static void fill_info(const struct dom *d, struct dom_info *out)
{
	memset(out, 0, sizeof *out);
	out->domid = d->domid;
	memcpy(out->uuid, d->uuid, sizeof out->uuid);
	snprintf(out->name, sizeof out->name, "%s", d->name);
	out->state = d->state;
	out->memory_kib = d->memory_kib;
	out->maxmem_kib = d->maxmem_kib;
	out->vcpus = d->vcpus;
	out->cpu_time_ns = cpu_time(d);
	out->start_time = d->start_time;
	out->record = xstrdup(d->record);
	if (d->state == DOM_CRASHED) {
		out->has_reason = true;
		out->reason = d->watchdog ? DOM_EV_WATCHDOG : DOM_EV_CRASH;
	} else if (d->state == DOM_SHUTDOWN && d->request != REQ_NONE) {
		out->has_reason = true;
		out->reason = d->request == REQ_REBOOT ? DOM_EV_REBOOT : DOM_EV_POWEROFF;
	}
}

/* ---- consoles ---- */

static void console_write(struct dom *d, const char *s, size_t len)
{
	if (d->master < 0 || len == 0)
		return;
	/* Non-blocking: what does not fit in the pty buffer is dropped, as a serial line would. */
	ssize_t w = write(d->master, s, len);
	(void)w;
}

static void console_printf(struct dom *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void console_printf(struct dom *d, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	console_write(d, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void console_prompt(struct dom *d)
{
	console_printf(d, "%s login: ", d->name);
}

/* What the client types: echoed, and every line ends in a new login prompt. */
static void console_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dom *d = arg;
	char in[256], out[1024];
	ssize_t r = read(fd, in, sizeof in);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		/* cannot happen while we hold the slave; do not spin if it does */
		log_warn("sim: console of domain %" PRIu32 ": %s", d->domid,
			 r < 0 ? strerror(errno) : "end of file");
		event_del(d->con_ev);
		return;
	}
	size_t n = 0;
	bool prompt = false;
	for (ssize_t i = 0; i < r; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '\r' || c == '\n') {
			out[n++] = '\r';
			out[n++] = '\n';
			prompt = true;
		} else if (c >= 0x20 && c < 0x7f) {
			out[n++] = (char)c;
		}
	}
	console_write(d, out, n);
	if (prompt && (d->state == DOM_RUNNING || d->state == DOM_PAUSED))
		console_prompt(d);
}

static int console_open(struct dom *d, struct err *err)
{
	const char *what = "posix_openpt";
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		goto fail;
	d->master = m;
	what = "grantpt";
	if (grantpt(m) < 0)
		goto fail;
	what = "unlockpt";
	if (unlockpt(m) < 0)
		goto fail;
	what = "ptsname";
	int e = ptsname_r(m, d->pty, sizeof d->pty);
	if (e) {
		errno = e;
		goto fail;
	}
	/* Like xenconsoled: hold the slave open (no hangup on the master when the last client
	 * leaves; output waits in the pty for the next client) and make the line raw. */
	what = d->pty;
	d->slave = open(d->pty, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (d->slave < 0)
		goto fail;
	struct termios t;
	what = "tcsetattr";
	if (tcgetattr(d->slave, &t) < 0)
		goto fail;
	cfmakeraw(&t);
	if (tcsetattr(d->slave, TCSANOW, &t) < 0)
		goto fail;
	what = "fcntl";
	int fl = fcntl(m, F_GETFL);
	if (fl < 0 || fcntl(m, F_SETFL, fl | O_NONBLOCK) < 0)
		goto fail;
	d->con_ev = event_new(d->be->base, m, EV_READ | EV_PERSIST, console_read_cb, d);
	if (!d->con_ev || event_add(d->con_ev, NULL) < 0) {
		errno = ENOMEM;
		what = "event_add";
		goto fail;
	}
	return 0;
fail:
	err_set(err, VMD_ERR_BACKEND, "console for %s: %s: %s", d->name, what,
		     strerror(errno));
	console_close(d);
	return -1;
}

static void boot_log(struct dom *d)
{
	console_printf(d, "sim: booting %s (domid %" PRIu32 ", %s, %d vCPU%s, %" PRIu64 " MiB)\r\n",
		       d->name, d->domid, vm_type_name(d->type), d->vcpus, d->vcpus == 1 ? "" : "s",
		       d->memory_kib / 1024);
	console_printf(d, "Linux version 6.1.0-sim (simulated) #1 SMP PREEMPT_DYNAMIC\r\n");
	console_printf(d, "Run /sbin/init as init process\r\n");
	console_printf(d, "Welcome to Sim Linux!\r\n\r\n");
	console_prompt(d);
}

/* ---- persistence ---- */

static void save(struct sim *be)
{
	if (!be->path)
		return;
	json_t *arr = json_array();
	for (struct dom *d = be->doms; d; d = d->next) {
		if (d->building || d->state == DOM_DYING)
			continue;
		char uuid[UUID_STR_LEN];
		uuid_format(d->uuid, uuid);
		json_t *o = json_pack(
			"{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:I, s:I, s:b, s:s, s:s?}",
			"domid", (json_int_t)d->domid, "name", d->name, "uuid", uuid,
			"type", vm_type_name(d->type), "state", dom_state_name(d->state),
			"memory_kib", (json_int_t)d->memory_kib,
			"maxmem_kib", (json_int_t)d->maxmem_kib, "vcpus", d->vcpus,
			"max_vcpus", d->max_vcpus,
			"cpu_time_ns", (json_int_t)cpu_time(d),
			"start_time", (json_int_t)d->start_time,
			"hang_shutdown", d->hang, "request", request_str(d->request),
			"record", d->record);
		json_t *vifs = json_array();
		for (int i = 0; o && i < d->n_macs; i++) {
			char m[MAC_STR_LEN];
			mac_format(d->macs[i], m);
			json_t *v = json_pack("{s:s, s:I, s:I}", "mac", m, "rate_bytes",
					      (json_int_t)d->rate_bytes[i], "rate_usecs",
					      (json_int_t)d->rate_usecs[i]);
			json_array_append_new(vifs, v);
		}
		if (o)
			json_object_set_new(o, "vifs", vifs);
		else
			json_decref(vifs);
		if (!o || json_array_append_new(arr, o) < 0) {
			log_error("sim: cannot build the state of domain %" PRIu32, d->domid);
			json_decref(arr);
			return;
		}
	}
	json_t *root = json_pack("{s:i, s:I, s:o}", "version", STATE_VERSION, "next_domid",
				 (json_int_t)be->next_domid, "domains", arr);
	char *text = root ? json_dumps(root, JSON_INDENT(1)) : NULL;
	json_decref(root);
	if (!text) {
		log_error("sim: cannot serialize %s", be->path);
		return;
	}
	char *data = xasprintf("%s\n", text);
	free(text);
	if (write_file_atomic(be->path, data, strlen(data), 0600) < 0)
		log_error("sim: cannot write %s: %s", be->path, strerror(errno));
	free(data);
}

static int parse_enum(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static int load_dom(struct sim *be, json_t *o, struct err *err)
{
	static const char *const types[] = {"pv", "pvh", "hvm"};
	static const char *const states[] = {"running", "paused", "shutdown", "crashed"};
	static const enum dom_state state_vals[] = {DOM_RUNNING, DOM_PAUSED, DOM_SHUTDOWN,
						    DOM_CRASHED};
	static const char *const requests[] = {"none", "poweroff", "reboot"};
	json_int_t domid, mem, maxmem, cpu, start;
	int vcpus, max_vcpus = 0, hang;
	const char *name, *uuid, *type, *state, *request;
	json_t *record, *vifs = NULL;
	json_error_t je;
	if (json_unpack_ex(o, &je, JSON_STRICT,
			   "{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:i, s?i, s:I, s:I, s:b, s:s, s:o, "
			   "s?o}",
			   "domid", &domid, "name", &name, "uuid", &uuid, "type", &type,
			   "state", &state, "memory_kib", &mem, "maxmem_kib", &maxmem,
			   "vcpus", &vcpus, "max_vcpus", &max_vcpus, "cpu_time_ns", &cpu,
			   "start_time", &start,
			   "hang_shutdown", &hang, "request", &request, "record", &record,
			   "vifs", &vifs) < 0) {
		err_set(err, VMD_ERR_IO, "%s", je.text);
		return -1;
	}
	uint8_t u[16];
	int t = parse_enum(type, types, 3), s = parse_enum(state, states, 4);
	int r = parse_enum(request, requests, 3);
	const json_int_t mem_max = (json_int_t)1 << 50; /* KiB: 1 EiB, sums cannot overflow */
	if (domid <= 0 || domid > INT32_MAX || !*name || strlen(name) >= NAME_SIZE ||
	    uuid_parse(uuid, u) < 0 || t < 0 || s < 0 || r < 0 || mem < 0 || mem > mem_max ||
	    maxmem < 0 || maxmem > mem_max ||
	    vcpus < 1 || cpu < 0 || start < 0 ||
	    !(json_is_string(record) || json_is_null(record))) {
		err_set(err, VMD_ERR_IO, "bad value in domain %" JSON_INTEGER_FORMAT, domid);
		return -1;
	}
	if (find_any(be, (uint32_t)domid) || find_name(be, name)) {
		err_set(err, VMD_ERR_IO, "duplicate domain %" JSON_INTEGER_FORMAT " (%s)",
			     domid, name);
		return -1;
	}
	struct dom *d = dom_new(be, (uint32_t)domid, name);
	memcpy(d->uuid, u, sizeof u);
	d->type = (enum vm_type)t;
	d->state = state_vals[s];
	d->memory_kib = (uint64_t)mem;
	d->maxmem_kib = (uint64_t)maxmem;
	d->vcpus = vcpus;
	d->max_vcpus = max_vcpus > vcpus ? max_vcpus : vcpus; /* older files: no max_vcpus */
	d->cpu_ns = (uint64_t)cpu;
	d->start_time = (uint64_t)start;
	d->hang = hang;
	d->request = d->hang ? REQ_NONE : (enum request)r;
	d->record = json_is_string(record) ? xstrdup(json_string_value(record)) : NULL;
	size_t vi;
	json_t *v;
	json_array_foreach(vifs, vi, v) {
		const char *m = json_string_value(json_object_get(v, "mac"));
		if (d->n_macs >= SIM_DISKS || !m || mac_parse(m, d->macs[d->n_macs]) < 0)
			continue;
		d->rate_bytes[d->n_macs] =
			(uint64_t)json_integer_value(json_object_get(v, "rate_bytes"));
		d->rate_usecs[d->n_macs++] =
			(uint32_t)json_integer_value(json_object_get(v, "rate_usecs"));
	}
	if (be->next_domid <= d->domid)
		be->next_domid = d->domid + 1;
	struct err cerr = {0};
	if (console_open(d, &cerr) < 0)
		log_warn("sim: domain %" PRIu32 " (%s) has no console: %s", d->domid, d->name,
			 cerr.msg);
	console_printf(d, "\r\n");
	console_prompt(d);
	if (d->request != REQ_NONE && d->state == DOM_RUNNING) {
		struct timeval tv = {be->delay_ms / 1000, (be->delay_ms % 1000) * 1000};
		evtimer_add(d->react, &tv);
	}
	return 0;
}

static int load(struct sim *be, struct err *err)
{
	size_t len;
	char *text = read_file(be->path, STATE_FILE_MAX, &len);
	if (!text) {
		if (errno == ENOENT)
			return 0;
		err_set(err, VMD_ERR_IO, "%s: %s", be->path, strerror(errno));
		return -1;
	}
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	free(text);
	if (!root) {
		err_set(err, VMD_ERR_IO, "%s:%d: %s", be->path, je.line, je.text);
		return -1;
	}
	int version;
	json_int_t next;
	json_t *doms;
	if (json_unpack_ex(root, &je, JSON_STRICT, "{s:i, s:I, s:o}", "version", &version,
			   "next_domid", &next, "domains", &doms) < 0 ||
	    version != STATE_VERSION || !json_is_array(doms) || next < 1 || next > INT32_MAX) {
		err_set(err, VMD_ERR_IO, "%s: not a sim state file of version %d", be->path,
			     STATE_VERSION);
		json_decref(root);
		return -1;
	}
	be->next_domid = (uint32_t)next;
	size_t i;
	json_t *o;
	json_array_foreach(doms, i, o) {
		struct err derr = {0};
		if (load_dom(be, o, &derr) < 0) {
			err_set(err, VMD_ERR_IO, "%s: domain #%zu: %s", be->path, i, derr.msg);
			json_decref(root);
			return -1;
		}
	}
	json_decref(root);
	if (used_kib(be) > be->total_kib)
		log_warn("sim: reloaded domains use %" PRIu64 " MiB, more than the host's %" PRIu64
			 " MiB", used_kib(be) / 1024, be->total_kib / 1024);
	return 0;
}

/* ---- callbacks: one FIFO, one callback per loop callback ---- */

static bool deliver(void *owner, struct defer_note *dn)
{
	struct sim *be = owner;
	struct note c = *(struct note *)dn;
	free(dn);
	if (c.is_event) {
		struct dom *d = find(be, c.domid);
		bool live = d && d->watched && d->state != DOM_DYING;
		if (!be->on_event || (c.ev != DOM_EV_GONE && !live))
			return false;
		be->on_event(be->event_arg, c.domid, c.ev);
	} else {
		c.done(c.arg, c.failed ? &c.err : NULL, c.domid);
	}
	return true;
}

static struct note *note_push(struct sim *be)
{
	struct note *n = xcalloc(1, sizeof *n);
	defer_push(be->notes, &n->link);
	return n;
}

static void queue_event(struct dom *d, enum dom_event ev)
{
	if (!d->watched)
		return;
	struct note *n = note_push(d->be);
	n->is_event = true;
	n->domid = d->domid;
	n->ev = ev;
}

static struct note *queue_done(struct sim *be, backend_done_fn *done, void *arg,
			       uint32_t domid)
{
	struct note *n = note_push(be);
	n->done = done;
	n->arg = arg;
	n->domid = domid;
	return n;
}

/* ---- guest behaviour ---- */

static void arm_react(struct dom *d)
{
	unsigned ms = d->be->delay_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(d->react, &tv);
}

static void cancel_request(struct dom *d)
{
	evtimer_del(d->react);
	d->request = REQ_NONE;
}

/* The guest has shut itself down (on request or by itself). */
static void guest_down(struct dom *d, enum request why)
{
	cancel_request(d);
	d->request = why; /* kept (and saved) as the reason it is down, for list/info */
	set_state(d, DOM_SHUTDOWN);
	console_printf(d, "\r\n%s\r\n", why == REQ_REBOOT ? "reboot: Restarting system"
							   : "reboot: Power down");
	save(d->be);
	queue_event(d, why == REQ_REBOOT ? DOM_EV_REBOOT : DOM_EV_POWEROFF);
}

static void react_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dom *d = arg;
	if (d->state == DOM_RUNNING && d->request != REQ_NONE && !d->hang)
		guest_down(d, d->request);
}

/* ---- timed operations ---- */

static void op_cb(evutil_socket_t fd, short what, void *arg)
{
	struct op *op = arg;
	struct sim *be = op->be;
	for (struct op **pp = &be->ops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	event_free(op->timer);
	struct dom *d = find_any(be, op->domid);
	if (op->kind == OP_BUILD) {
		if (!d || op->fail) {
			if (d)
				dom_free(d);
			save(be);
			struct note *n = queue_done(be, op->done, op->arg, 0);
			n->failed = true;
			err_set(&n->err, VMD_ERR_BACKEND, "injected failure");
		} else {
			d->building = false;
			d->watched = true;
			set_state(d, DOM_RUNNING);
			boot_log(d);
			save(be);
			queue_done(be, op->done, op->arg, d->domid);
		}
	} else if (op->fail) {
		struct note *n = queue_done(be, op->done, op->arg, op->domid);
		n->failed = true;
		err_set(&n->err, VMD_ERR_BACKEND,
			     "destroying domain %" PRIu32 ": injected failure", op->domid);
	} else {
		if (d)
			dom_free(d);
		save(be);
		queue_done(be, op->done, op->arg, op->domid);
	}
	free(op);
}

static int op_start(struct sim *be, enum op_kind kind, uint32_t domid, bool fail,
		    backend_done_fn *done, void *arg, unsigned ms, struct err *err)
{
	struct op *op = xcalloc(1, sizeof *op);
	op->be = be;
	op->kind = kind;
	op->domid = domid;
	op->fail = fail;
	op->done = done;
	op->arg = arg;
	op->timer = evtimer_new(be->base, op_cb, op);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	if (!op->timer || evtimer_add(op->timer, &tv) < 0) {
		if (op->timer)
			event_free(op->timer);
		free(op);
		err_set(err, VMD_ERR_INTERNAL, "sim: cannot start a timer");
		return -1;
	}
	op->next = be->ops;
	be->ops = op;
	return 0;
}

/* ---- backend_ops ---- */

static bool sim_available(struct err *err)
{
	return true;
}

static void free_all(struct sim *be)
{
	while (be->ops) {
		struct op *op = be->ops;
		be->ops = op->next;
		event_free(op->timer);
		free(op);
	}
	while (be->xfers) { /* as the pending done callbacks: dropped, not called */
		struct xfer *x = be->xfers;
		be->xfers = x->next;
		event_free(x->ev);
		fcntl(x->fd, F_SETFL, x->fl);
		free(x->buf);
		free(x->record);
		free(x);
	}
	defer_free(be->notes, NULL);
	while (be->doms)
		dom_free(be->doms);
	free(be->path);
	free(be);
}

static struct backend *sim_open(struct event_base *base, const struct backend_options *opts,
				struct err *err)
{
	if (!base) {
		err_set(err, VMD_ERR_INTERNAL, "sim: no event base");
		return NULL;
	}
	struct sim *be = xcalloc(1, sizeof *be);
	be->base = base;
	uint64_t mib = opts && opts->sim_memory_mib ? opts->sim_memory_mib : DEFAULT_MEMORY_MIB;
	be->total_kib = mib > UINT64_MAX / 1024 ? UINT64_MAX : mib * 1024;
	be->delay_ms = opts && opts->sim_delay_ms ? opts->sim_delay_ms : DEFAULT_DELAY_MS;
	be->on_event = opts ? opts->on_event : NULL;
	be->event_arg = opts ? opts->event_arg : NULL;
	be->next_domid = 1;
	be->notes = defer_new(base, deliver, be);
	if (!be->notes) {
		err_set(err, VMD_ERR_INTERNAL, "sim: cannot allocate an event");
		free_all(be);
		return NULL;
	}
	if (opts && opts->state_dir) {
		char *dir = xasprintf("%s/sim", opts->state_dir);
		if (mkdir_p(dir, 0700) < 0) {
			err_set(err, VMD_ERR_IO, "%s: %s", dir, strerror(errno));
			free(dir);
			free_all(be);
			return NULL;
		}
		be->path = xasprintf("%s/domains.json", dir);
		free(dir);
		if (load(be, err) < 0) {
			free_all(be); /* without saving: leave the bad file for a human */
			return NULL;
		}
		save(be);
	}
	log_info("sim: host of %" PRIu64 " MiB, guests react in %u ms, %s", be->total_kib / 1024,
		 be->delay_ms, be->path ? be->path : "no persistence");
	return &be->handle;
}

static void sim_close(struct backend *b)
{
	struct sim *be = (struct sim *)b;
	if (!be)
		return;
	save(be); /* current cpu times; the guests "keep running" */
	free_all(be);
}

static int sim_host_info(struct backend *b, struct host_info *out, struct err *err)
{
	struct sim *be = (struct sim *)b;
	memset(out, 0, sizeof *out);
	out->total_kib = be->total_kib;
	out->free_kib = free_kib(be);
	out->nr_cpus = NR_CPUS;
	out->max_cpus = NR_CPUS;
	out->nr_nodes = 1;
	snprintf(out->hypervisor, sizeof out->hypervisor, "sim");
	return 0;
}

static int sim_list(struct backend *b, struct dom_info **out, size_t *n, struct err *err)
{
	struct sim *be = (struct sim *)b;
	size_t count = 0;
	for (struct dom *d = be->doms; d; d = d->next)
		if (!d->building)
			count++;
	struct dom_info *list = xcalloc(count, sizeof *list);
	size_t i = 0;
	for (struct dom *d = be->doms; d; d = d->next)
		if (!d->building)
			fill_info(d, &list[i++]);
	*out = list;
	*n = count;
	return 0;
}

static int sim_info(struct backend *b, uint32_t domid, struct dom_info *out,
		    struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = find_or_err(be, domid, err);
	if (!d)
		return -1;
	fill_info(d, out);
	return 0;
}

static int check_file(const char *what, const char *path, struct err *err)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		err_set(err, VMD_ERR_BACKEND, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Name and memory free? Sets err and returns -1 when not. */
static int check_room(struct sim *be, const char *name, uint64_t memory_mib,
		      struct err *err)
{
	struct dom *other = find_name(be, name);
	if (other) {
		err_set(err, VMD_ERR_EXISTS,
			     "a domain named %s already exists (domid %" PRIu32 ")", name,
			     other->domid);
		return -1;
	}
	uint64_t avail = free_kib(be);
	if (memory_mib > UINT64_MAX / 1024 || memory_mib * 1024 > avail) {
		err_set(err, VMD_ERR_NO_RESOURCES,
			     "not enough memory for %s: %" PRIu64 " MiB needed, %" PRIu64
			     " MiB free", name, memory_mib, avail / 1024);
		return -1;
	}
	return 0;
}

static int sim_create(struct backend *b, const struct vm_config *cfg, const char *record,
		      backend_done_fn *done, void *arg, struct err *err)
{
	struct sim *be = (struct sim *)b;
	if (!cfg || !done) {
		err_set(err, VMD_ERR_INTERNAL, "sim: create without config or done");
		return -1;
	}
	if (!cfg->name || !*cfg->name || strlen(cfg->name) >= NAME_SIZE) {
		err_set(err, VMD_ERR_INVALID_CONFIG, "bad or missing domain name");
		return -1;
	}
	uint64_t memory = vm_config_memory_mib(cfg), maxmem = vm_config_maxmem_mib(cfg);
	if (memory == 0) {
		err_set(err, VMD_ERR_INVALID_CONFIG, "%s: memory must not be 0", cfg->name);
		return -1;
	}
	if (check_room(be, cfg->name, memory, err) < 0)
		return -1;
	const libxl_domain_build_info *bi = &cfg->dc.b_info;
	if (bi->kernel && check_file("kernel", bi->kernel, err) < 0)
		return -1;
	if (bi->ramdisk && check_file("ramdisk", bi->ramdisk, err) < 0)
		return -1;
	for (int i = 0; i < cfg->dc.num_disks; i++) {
		const libxl_device_disk *disk = &cfg->dc.disks[i];
		if (!disk->pdev_path || !*disk->pdev_path) {
			if (disk->is_cdrom)
				continue;
			err_set(err, VMD_ERR_BACKEND, "disk %s: no target",
				disk->vdev ? disk->vdev : "?");
			return -1;
		}
		const char *file = vm_config_disk_file(disk);
		struct stat st;
		if (file && stat(file, &st) < 0) {
			err_set(err, VMD_ERR_BACKEND, "disk %s: %s: %s",
				disk->vdev ? disk->vdev : "?", file, strerror(errno));
			return -1;
		}
	}

	struct dom *d = dom_new(be, be->next_domid, cfg->name);
	d->building = true;
	d->state = DOM_PAUSED; /* as Xen builds domains */
	if (cfg->has_uuid)
		memcpy(d->uuid, cfg->uuid, sizeof d->uuid);
	else
		uuid_generate_v4(d->uuid);
	d->type = cfg->type;
	d->memory_kib = memory * 1024;
	d->maxmem_kib = (maxmem > memory ? maxmem : memory) * 1024;
	d->vcpus = vm_config_vcpus(cfg);
	d->max_vcpus = vm_config_maxvcpus(cfg);
	for (int i = 0; i < cfg->dc.num_disks && d->n_vdevs < SIM_DISKS; i++)
		snprintf(d->vdevs[d->n_vdevs++], sizeof d->vdevs[0], "%s", cfg->dc.disks[i].vdev);
	for (int i = 0; i < cfg->dc.num_nics && d->n_macs < SIM_DISKS; i++) {
		d->rate_bytes[d->n_macs] = cfg->dc.nics[i].rate_bytes_per_interval;
		d->rate_usecs[d->n_macs] = cfg->dc.nics[i].rate_interval_usecs;
		memcpy(d->macs[d->n_macs++], cfg->dc.nics[i].mac, 6);
	}
	d->weight = cfg->dc.b_info.sched_params.weight > 0 ? cfg->dc.b_info.sched_params.weight
							   : 256;
	d->cap = cfg->dc.b_info.sched_params.cap > 0 ? cfg->dc.b_info.sched_params.cap : 0;
	d->start_time = (uint64_t)now_wall();
	d->record = xstrdup(record);
	if (console_open(d, err) < 0 ||
	    op_start(be, OP_BUILD, d->domid, be->fail_create > 0, done, arg,
		     short_delay(be, BUILD_MS), err) < 0) {
		dom_free(d);
		return -1;
	}
	be->next_domid++;
	if (be->fail_create > 0)
		be->fail_create--;
	save(be);
	log_debug("sim: building %s as domain %" PRIu32, d->name, d->domid);
	return 0;
}

static int guest_request(struct sim *be, uint32_t domid, enum request req,
			 struct err *err)
{
	struct dom *d = find_or_err(be, domid, err);
	if (!d)
		return -1;
	if (d->state != DOM_RUNNING && d->state != DOM_PAUSED)
		return bad_state(d, err);
	if (d->hang)
		return 0; /* accepted, never acted on */
	d->request = req;
	if (d->state == DOM_RUNNING && !evtimer_pending(d->react, NULL))
		arm_react(d);
	save(be);
	return 0;
}

static int sim_shutdown(struct backend *b, uint32_t domid, struct err *err)
{
	struct sim *be = (struct sim *)b;
	return guest_request(be, domid, REQ_POWEROFF, err);
}

static int sim_reboot(struct backend *b, uint32_t domid, struct err *err)
{
	struct sim *be = (struct sim *)b;
	return guest_request(be, domid, REQ_REBOOT, err);
}

static int sim_destroy(struct backend *b, uint32_t domid, backend_done_fn *done, void *arg,
		       struct err *err)
{
	struct sim *be = (struct sim *)b;
	if (!done) {
		err_set(err, VMD_ERR_INTERNAL, "sim: destroy without done");
		return -1;
	}
	struct dom *d = find_or_err(be, domid, err);
	if (!d)
		return -1;
	bool fail = be->fail_destroy > 0;
	if (op_start(be, OP_DESTROY, domid, fail, done, arg, short_delay(be, DESTROY_MS), err) < 0)
		return -1;
	if (fail) {
		be->fail_destroy--;
		return 0;
	}
	if (d->state != DOM_DYING) {
		cancel_request(d);
		set_state(d, DOM_DYING);
		save(be);
	}
	return 0;
}

static int sim_pause(struct backend *b, uint32_t domid, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = find_or_err(be, domid, err);
	if (!d)
		return -1;
	if (d->state == DOM_PAUSED)
		return 0;
	if (d->state != DOM_RUNNING)
		return bad_state(d, err);
	evtimer_del(d->react); /* a pending request waits for unpause */
	set_state(d, DOM_PAUSED);
	save(be);
	return 0;
}

static int sim_unpause(struct backend *b, uint32_t domid, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = find_or_err(be, domid, err);
	if (!d)
		return -1;
	if (d->state == DOM_RUNNING)
		return 0;
	if (d->state != DOM_PAUSED)
		return bad_state(d, err);
	set_state(d, DOM_RUNNING);
	if (d->request != REQ_NONE && !d->hang)
		arm_react(d);
	save(be);
	return 0;
}

static int sim_console(struct backend *b, uint32_t domid, struct console_info *out,
		       struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = find_or_err(be, domid, err);
	if (!d)
		return -1;
	if (d->master < 0) {
		err_set(err, VMD_ERR_BACKEND, "domain %" PRIu32 " (%s) has no console", domid,
			     d->name);
		return -1;
	}
	memset(out, 0, sizeof *out);
	snprintf(out->path, sizeof out->path, "%s", d->pty);
	snprintf(out->kind, sizeof out->kind, "%s", d->type == VM_TYPE_HVM ? "serial" : "pv");
	return 0;
}

/* No device model runs here: an HVM guest's VNC display is said to be its domid. */
static int sim_vnc(struct backend *b, uint32_t domid, char *out, size_t outlen,
		   struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = find_or_err(be, domid, err);
	if (!d)
		return -1;
	if (d->type != VM_TYPE_HVM) {
		err_set(err, VMD_ERR_BACKEND, "domain %" PRIu32 " has no VNC server", domid);
		return -1;
	}
	snprintf(out, outlen, "127.0.0.1:%" PRIu32, 5900 + domid);
	return 0;
}

/* A core file that says what it is: no guest memory exists to dump. */
static int sim_core_dump(struct backend *b, uint32_t domid, const char *path, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = find_or_err(be, domid, err);
	if (!d)
		return -1;
	char *text = xasprintf("sim core of domain %" PRIu32 " (%s), %" PRIu64 " KiB\n", domid,
			       d->name, d->memory_kib);
	int r = write_file_atomic(path, text, strlen(text), 0600);
	free(text);
	if (r < 0) {
		err_set(err, VMD_ERR_BACKEND, "core dump to %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int sim_watch(struct backend *b, uint32_t domid, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = find_or_err(be, domid, err);
	if (!d)
		return -1;
	d->watched = true;
	return 0;
}

static int inject_foreign(struct sim *be, const char *name, struct err *err)
{
	if (!*name || strlen(name) >= NAME_SIZE) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "foreign: bad domain name");
		return -1;
	}
	if (check_room(be, name, FOREIGN_MEMORY_MIB, err) < 0)
		return -1;
	struct dom *d = dom_new(be, be->next_domid, name);
	uuid_generate_v4(d->uuid);
	d->type = VM_TYPE_PV;
	d->memory_kib = d->maxmem_kib = FOREIGN_MEMORY_MIB * 1024;
	d->vcpus = 1;
	d->start_time = (uint64_t)now_wall();
	if (console_open(d, err) < 0) {
		dom_free(d);
		return -1;
	}
	be->next_domid++;
	set_state(d, DOM_RUNNING);
	boot_log(d);
	save(be);
	log_info("sim: foreign domain %" PRIu32 " (%s) started", d->domid, d->name);
	return 0;
}

static int sim_inject(struct backend *b, const char *fault, uint32_t domid,
		      struct err *err)
{
	struct sim *be = (struct sim *)b;
	if (!fault) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "no fault given");
		return -1;
	}
	log_info("sim: injecting %s (domid %" PRIu32 ")", fault, domid);
	if (strcmp(fault, "fail-create") == 0) {
		be->fail_create++;
		return 0;
	}
	if (strcmp(fault, "fail-destroy") == 0) {
		be->fail_destroy++;
		return 0;
	}
	if (strcmp(fault, "fail-migrate") == 0) {
		be->fail_migrate++;
		return 0;
	}
	if (strcmp(fault, "stall-migrate") == 0) {
		be->stall_migrate++;
		return 0;
	}
	if (strcmp(fault, "no-balloon") == 0) {
		struct dom *nb = find_or_err(be, domid, err);
		if (!nb)
			return -1;
		nb->no_balloon = true;
		return 0;
	}
	if (strncmp(fault, "foreign:", 8) == 0)
		return inject_foreign(be, fault + 8, err);

	enum { F_CRASH, F_WATCHDOG, F_HANG, F_POWEROFF, F_REBOOT, F_VANISH } f;
	if (strcmp(fault, "crash") == 0)
		f = F_CRASH;
	else if (strcmp(fault, "watchdog") == 0)
		f = F_WATCHDOG;
	else if (strcmp(fault, "hang-shutdown") == 0)
		f = F_HANG;
	else if (strcmp(fault, "poweroff") == 0)
		f = F_POWEROFF;
	else if (strcmp(fault, "reboot") == 0)
		f = F_REBOOT;
	else if (strcmp(fault, "vanish") == 0)
		f = F_VANISH;
	else {
		err_set(err, VMD_ERR_INVALID_PARAMS,
			"unknown fault %s (fail-create, fail-destroy, fail-migrate, "
			"stall-migrate, no-balloon, crash, watchdog, hang-shutdown, poweroff, "
			"reboot, vanish, foreign:NAME)", fault);
		return -1;
	}
	struct dom *d = find_or_err(be, domid, err);
	if (!d)
		return -1;
	switch (f) {
	case F_HANG:
		d->hang = true;
		cancel_request(d);
		save(be);
		return 0;
	case F_VANISH:
		/* Someone else destroyed it. If the core is destroying it too, its done says so. */
		if (d->state != DOM_DYING)
			queue_event(d, DOM_EV_GONE);
		dom_free(d);
		save(be);
		return 0;
	case F_CRASH:
	case F_WATCHDOG:
		if (d->state != DOM_RUNNING && d->state != DOM_PAUSED)
			break;
		cancel_request(d);
		set_state(d, DOM_CRASHED);
		d->watchdog = f == F_WATCHDOG;
		console_printf(d, f == F_CRASH ? "\r\nKernel panic - not syncing: sim: injected "
						 "crash\r\n"
					       : "\r\nsim: watchdog timeout\r\n");
		save(be);
		queue_event(d, f == F_CRASH ? DOM_EV_CRASH : DOM_EV_WATCHDOG);
		return 0;
	case F_POWEROFF:
	case F_REBOOT:
		if (d->state != DOM_RUNNING)
			break;
		guest_down(d, f == F_REBOOT ? REQ_REBOOT : REQ_POWEROFF);
		return 0;
	}
	return bad_state(d, err);
}

/* ---- migration ---- */

/*
 * The sim's migration stream: a header line {"vmd-sim-migration":1, "cpu_ns", "start_time",
 * "payload": N}, then N bytes that stand for the guest's memory (1 KiB per MiB of it), so that
 * a transfer takes a while and shows progress. The receiver builds the domain from the
 * config it was given and the header's clocks (its cpu time goes on where it stopped).
 */
static void xfer_end(struct xfer *x, bool failed, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void xfer_end(struct xfer *x, bool failed, const char *fmt, ...)
{
	struct sim *be = x->be;
	uint32_t domid = x->domid;

	for (struct xfer **pp = &be->xfers; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	event_free(x->ev);
	if (x->hup)
		event_free(x->hup);
	fcntl(x->fd, F_SETFL, x->fl);
	if (!failed && x->receive) {
		struct dom *d = dom_new(be, be->next_domid++, x->name);
		struct err cerr = {0};

		memcpy(d->uuid, x->uuid, sizeof d->uuid);
		d->type = x->type;
		d->memory_kib = x->memory_kib;
		d->maxmem_kib = x->maxmem_kib;
		d->vcpus = x->vcpus;
		d->max_vcpus = x->max_vcpus > x->vcpus ? x->max_vcpus : x->vcpus;
		d->cpu_ns = x->cpu_ns;
		d->start_time = x->start_time;
		d->record = x->record;
		x->record = NULL;
		d->state = DOM_PAUSED;
		d->run_since = now_monotonic();
		d->watched = true;
		if (console_open(d, &cerr) < 0) {
			log_warn("sim: %s: no console: %s", d->name, cerr.msg);
			err_clear(&cerr);
		} else {
			console_printf(d, "sim: %s resumed from a migration stream\r\n", d->name);
		}
		domid = d->domid;
		save(be);
	} else if (!failed) {
		struct dom *d = find(be, x->domid);

		if (d) { /* as Xen: the sent domain is suspended, still there */
			d->before = d->state == DOM_PAUSED && !d->suspended ? DOM_PAUSED : DOM_RUNNING;
			evtimer_del(d->react);
			set_state(d, DOM_SHUTDOWN);
			d->suspended = true;
			save(be);
		}
	}
	struct note *n = queue_done(be, x->done, x->arg, domid);
	if (failed) {
		va_list ap;

		n->failed = true;
		va_start(ap, fmt);
		err_setv(&n->err, VMD_ERR_BACKEND, fmt, ap);
		va_end(ap);
	}
	free(x->buf);
	free(x->record);
	free(x);
}

/* A stalled transfer: has the other end closed the stream? */
static void hup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xfer *x = arg;
	struct pollfd p = {.fd = x->fd, .events = 0};

	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)))
		xfer_end(x, true, "migration stream: closed by the other end while stalled");
}

/* stall-migrate: stops the transfer here; true when it did. */
static bool stall(struct xfer *x)
{
	if (!x->stall_at || x->seen < x->stall_at)
		return false;
	if (!x->hup) {
		event_del(x->ev);
		x->hup = event_new(x->be->base, -1, EV_PERSIST, hup_cb, x);
		struct timeval tv = {0, 20000};
		event_add(x->hup, &tv);
		log_debug("sim: a migration stream stalls after %" PRIu64 " bytes", x->seen);
	}
	return true;
}

static void send_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xfer *x = arg;
	size_t stop = x->fail_at ? x->fail_at : x->len;

	if (x->stall_at && stop > x->stall_at)
		stop = x->stall_at;
	while (x->off < stop) {
		ssize_t n = write(fd, x->buf + x->off, stop - x->off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* the event fires again when there is room */
		if (n < 0) {
			xfer_end(x, true, "migration stream: %s", strerror(errno));
			return;
		}
		x->off += (size_t)n;
	}
	x->seen = x->off;
	if (stall(x))
		return;
	if (x->fail_at)
		xfer_end(x, true, "migration stream: injected failure after %zu bytes", x->off);
	else
		xfer_end(x, false, NULL);
}

static int xfer_start(struct sim *be, struct xfer *x, int fd, short what,
		      event_callback_fn cb, struct err *err)
{
	x->be = be;
	x->fd = fd;
	x->fl = fcntl(fd, F_GETFL);
	if (x->fl < 0 || fcntl(fd, F_SETFL, x->fl | O_NONBLOCK) < 0) {
		err_set(err, VMD_ERR_BACKEND, "migration stream: %s", strerror(errno));
		return -1;
	}
	x->ev = event_new(be->base, fd, what | EV_PERSIST, cb, x);
	if (!x->ev || event_add(x->ev, NULL) < 0) {
		if (x->ev)
			event_free(x->ev);
		fcntl(fd, F_SETFL, x->fl);
		err_set(err, VMD_ERR_INTERNAL, "sim: cannot watch the migration stream");
		return -1;
	}
	x->next = be->xfers;
	be->xfers = x;
	return 0;
}

/* A domain that runs (or is paused), or NULL with err (NOT_FOUND, BAD_STATE). */
static struct dom *live_dom(struct sim *be, uint32_t domid, struct err *err)
{
	struct dom *d = find_or_err(be, domid, err);

	if (d && d->state != DOM_RUNNING && d->state != DOM_PAUSED) {
		bad_state(d, err);
		return NULL;
	}
	return d;
}

static int sim_migrate_send(struct backend *b, uint32_t domid, int fd, bool live,
			    backend_done_fn *done, void *arg, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = live_dom(be, domid, err);

	if (!d)
		return -1;
	uint64_t payload = d->memory_kib / 1024 * PAYLOAD_PER_MIB;
	json_t *h = json_pack("{s:i, s:I, s:I, s:I}", "vmd-sim-migration", 1, "cpu_ns",
			      (json_int_t)cpu_time(d), "start_time", (json_int_t)d->start_time,
			      "payload", (json_int_t)payload);
	char *line = json_dumps(h, JSON_COMPACT);
	json_decref(h);
	struct xfer *x = xcalloc(1, sizeof *x);
	size_t hl = strlen(line);

	x->domid = domid;
	x->done = done;
	x->arg = arg;
	x->len = hl + 1 + payload;
	x->buf = xmalloc(x->len);
	memcpy(x->buf, line, hl);
	x->buf[hl] = '\n';
	memset(x->buf + hl + 1, 'm', payload);
	free(line);
	if (be->fail_migrate > 0) {
		be->fail_migrate--;
		x->fail_at = x->len / 2;
	}
	if (be->stall_migrate > 0) {
		be->stall_migrate--;
		x->stall_at = x->len / 2;
	}
	if (xfer_start(be, x, fd, EV_WRITE, send_cb, err) < 0) {
		free(x->buf);
		free(x);
		return -1;
	}
	if (!live && d->state == DOM_RUNNING) { /* suspended first: paused while it copies */
		evtimer_del(d->react);
		set_state(d, DOM_PAUSED);
		d->before = DOM_RUNNING;
		d->suspended = true;
	}
	log_debug("sim: sending domain %" PRIu32 " (%s), %zu bytes%s", domid, d->name, x->len,
		  live ? ", live" : "");
	return 0;
}

static int sim_migrate_resume(struct backend *b, uint32_t domid, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = find_or_err(be, domid, err);

	if (!d)
		return -1;
	if (!d->suspended)
		return 0; /* a live send that broke off: it never stopped */
	d->suspended = false;
	set_state(d, d->before);
	if (d->state == DOM_RUNNING && d->request != REQ_NONE && !d->hang)
		arm_react(d);
	save(be);
	return 0;
}

static void receive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xfer *x = arg;
	char buf[65536];

	for (;;) {
		if (stall(x))
			return;
		ssize_t n = read(fd, buf, sizeof buf);
		size_t used = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			xfer_end(x, true, "migration stream: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			xfer_end(x, true, "migration stream ended early");
			return;
		}
		if (!x->have_hdr) {
			char *nl = memchr(buf, '\n', (size_t)n);
			size_t take = nl ? (size_t)(nl - buf) : (size_t)n;

			if (x->hlen + take >= sizeof x->hdr) {
				xfer_end(x, true, "not a migration stream of the sim backend");
				return;
			}
			memcpy(x->hdr + x->hlen, buf, take);
			x->hlen += take;
			if (!nl)
				continue;
			x->hdr[x->hlen] = '\0';
			used = take + 1;
			json_t *h = json_loads(x->hdr, 0, NULL);
			json_int_t cpu = 0, start = 0, payload = -1;
			int version = 0;

			if (!h || json_unpack(h, "{s:i, s:I, s:I, s:I}", "vmd-sim-migration", &version,
					      "cpu_ns", &cpu, "start_time", &start, "payload",
					      &payload) < 0 || version != 1 || payload < 0) {
				json_decref(h);
				xfer_end(x, true, "not a migration stream of the sim backend");
				return;
			}
			json_decref(h);
			x->have_hdr = true;
			x->cpu_ns = (uint64_t)cpu;
			x->start_time = (uint64_t)start;
			x->left = (uint64_t)payload;
			if (x->stall_pending)
				x->stall_at = x->left / 2 + 1;
		}
		if ((uint64_t)n - used > x->left) {
			xfer_end(x, true, "migration stream: bytes after its end");
			return;
		}
		x->left -= (uint64_t)n - used;
		x->seen += (uint64_t)n - used;
		if (x->left == 0) {
			xfer_end(x, false, NULL);
			return;
		}
	}
}

static int sim_migrate_receive(struct backend *b, const struct vm_config *cfg, const char *name,
			       const char *record, int fd, backend_done_fn *done, void *arg,
			       struct err *err)
{
	struct sim *be = (struct sim *)b;
	uint64_t memory = vm_config_memory_mib(cfg), maxmem = vm_config_maxmem_mib(cfg);

	if (!name || !*name || strlen(name) >= NAME_SIZE) {
		err_set(err, VMD_ERR_INVALID_CONFIG, "bad or missing domain name");
		return -1;
	}
	if (be->fail_create > 0) {
		be->fail_create--;
		err_set(err, VMD_ERR_BACKEND, "injected failure");
		return -1;
	}
	if (check_room(be, name, memory, err) < 0)
		return -1;
	struct xfer *x = xcalloc(1, sizeof *x);

	x->receive = true;
	x->done = done;
	x->arg = arg;
	snprintf(x->name, sizeof x->name, "%s", name);
	x->record = xstrdup(record);
	if (cfg->has_uuid)
		memcpy(x->uuid, cfg->uuid, sizeof x->uuid);
	else
		uuid_generate_v4(x->uuid);
	x->type = cfg->type;
	x->memory_kib = memory * 1024;
	x->maxmem_kib = (maxmem > memory ? maxmem : memory) * 1024;
	x->vcpus = vm_config_vcpus(cfg);
	x->max_vcpus = vm_config_maxvcpus(cfg);
	if (be->stall_migrate > 0) {
		be->stall_migrate--;
		x->stall_pending = true;
	}
	if (xfer_start(be, x, fd, EV_READ, receive_cb, err) < 0) {
		free(x->record);
		free(x);
		return -1;
	}
	return 0;
}

static int sim_set_vcpus(struct backend *b, uint32_t domid, int n, int *max, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = live_dom(be, domid, err);

	if (!d)
		return -1;
	*max = d->max_vcpus;
	if (n < 1 || n > d->max_vcpus) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "domain %" PRIu32 " has at most %d vCPU%s "
			"(maxvcpus when it was built)", domid, d->max_vcpus,
			d->max_vcpus == 1 ? "" : "s");
		return -1;
	}
	d->vcpus = n;
	save(be);
	return 0;
}

static int sim_set_memory(struct backend *b, uint32_t domid, uint64_t kib, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = live_dom(be, domid, err);

	if (!d)
		return -1;
	if (kib > d->maxmem_kib) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "domain %" PRIu32 " has at most %" PRIu64
			" MiB (maxmem)", domid, d->maxmem_kib / 1024);
		return -1;
	}
	if (kib > d->memory_kib && kib - d->memory_kib > free_kib(be)) {
		err_set(err, VMD_ERR_NO_RESOURCES, "not enough free host memory for %" PRIu64
			" MiB more", (kib - d->memory_kib) / 1024);
		return -1;
	}
	if (!d->no_balloon) /* a guest without a balloon driver stays as it is */
		d->memory_kib = kib;
	save(be);
	return 0;
}

static int sim_sched(struct backend *b, uint32_t domid, int weight, int cap,
		     struct sched_info *out, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = live_dom(be, domid, err);

	if (!d)
		return -1;
	if (weight >= 0)
		d->weight = weight;
	if (cap >= 0)
		d->cap = cap;
	snprintf(out->scheduler, sizeof out->scheduler, "sim");
	out->weight = d->weight ? d->weight : 256;
	out->cap = d->cap;
	return 0;
}

static int vdev_index(const struct dom *d, const char *vdev)
{
	for (int i = 0; i < d->n_vdevs; i++)
		if (strcmp(d->vdevs[i], vdev) == 0)
			return i;
	return -1;
}

static int sim_disk_attach(struct backend *b, uint32_t domid, const libxl_device_disk *disk,
			   backend_done_fn *done, void *arg, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = live_dom(be, domid, err);

	if (!d)
		return -1;
	if (vdev_index(d, disk->vdev) >= 0) {
		err_set(err, VMD_ERR_EXISTS, "domain %" PRIu32 " has a disk %s already", domid,
			disk->vdev);
		return -1;
	}
	if (d->n_vdevs >= SIM_DISKS || strlen(disk->vdev) >= sizeof d->vdevs[0]) {
		err_set(err, VMD_ERR_BACKEND, "sim: no room for another disk");
		return -1;
	}
	snprintf(d->vdevs[d->n_vdevs++], sizeof d->vdevs[0], "%s", disk->vdev);
	queue_done(be, done, arg, domid);
	return 0;
}

static int sim_disk_detach(struct backend *b, uint32_t domid, const char *vdev,
			   backend_done_fn *done, void *arg, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = live_dom(be, domid, err);
	int i = d ? vdev_index(d, vdev) : -1;

	if (!d)
		return -1;
	if (i < 0) {
		err_set(err, VMD_ERR_NOT_FOUND, "domain %" PRIu32 " has no disk %s", domid, vdev);
		return -1;
	}
	memmove(d->vdevs[i], d->vdevs[i + 1], (size_t)(d->n_vdevs - i - 1) * sizeof d->vdevs[0]);
	d->n_vdevs--;
	queue_done(be, done, arg, domid);
	return 0;
}

static int sim_cdrom(struct backend *b, uint32_t domid, const libxl_device_disk *disk,
		     backend_done_fn *done, void *arg, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = live_dom(be, domid, err);

	if (!d)
		return -1;
	if (vdev_index(d, disk->vdev) < 0) {
		err_set(err, VMD_ERR_NOT_FOUND, "domain %" PRIu32 " has no cdrom %s", domid,
			disk->vdev);
		return -1;
	}
	queue_done(be, done, arg, domid);
	return 0;
}

static int mac_index(const struct dom *d, const uint8_t mac[6])
{
	for (int i = 0; i < d->n_macs; i++)
		if (memcmp(d->macs[i], mac, 6) == 0)
			return i;
	return -1;
}

/* The running domain and the index of its vif of that MAC; NULL with err. */
static struct dom *vif_dom(struct sim *be, uint32_t domid, const uint8_t mac[6], int *i,
			   struct err *err)
{
	struct dom *d = live_dom(be, domid, err);
	char text[MAC_STR_LEN];

	if (!d)
		return NULL;
	*i = mac_index(d, mac);
	if (*i < 0) {
		mac_format(mac, text);
		err_set(err, VMD_ERR_NOT_FOUND, "domain %" PRIu32 " has no vif %s", domid, text);
		return NULL;
	}
	return d;
}

static int sim_nic_attach(struct backend *b, uint32_t domid, const libxl_device_nic *nic,
			  backend_done_fn *done, void *arg, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = live_dom(be, domid, err);
	char mac[MAC_STR_LEN];

	if (!d)
		return -1;
	mac_format(nic->mac, mac);
	if (mac_index(d, nic->mac) >= 0) {
		err_set(err, VMD_ERR_EXISTS, "domain %" PRIu32 " has a vif %s already", domid, mac);
		return -1;
	}
	if (d->n_macs >= SIM_DISKS) {
		err_set(err, VMD_ERR_BACKEND, "sim: no room for another vif");
		return -1;
	}
	d->rate_bytes[d->n_macs] = nic->rate_bytes_per_interval;
	d->rate_usecs[d->n_macs] = nic->rate_interval_usecs;
	memcpy(d->macs[d->n_macs++], nic->mac, 6);
	queue_done(be, done, arg, domid);
	return 0;
}

static int sim_nic_detach(struct backend *b, uint32_t domid, const uint8_t mac[6],
			  backend_done_fn *done, void *arg, struct err *err)
{
	struct sim *be = (struct sim *)b;
	int i;
	struct dom *d = vif_dom(be, domid, mac, &i, err);

	if (!d)
		return -1;
	size_t after = (size_t)(d->n_macs - i - 1);
	memmove(d->macs[i], d->macs[i + 1], after * sizeof d->macs[0]);
	memmove(&d->rate_bytes[i], &d->rate_bytes[i + 1], after * sizeof d->rate_bytes[0]);
	memmove(&d->rate_usecs[i], &d->rate_usecs[i + 1], after * sizeof d->rate_usecs[0]);
	d->n_macs--;
	queue_done(be, done, arg, domid);
	return 0;
}

static int sim_nic_rate(struct backend *b, uint32_t domid, const uint8_t mac[6], uint64_t bytes,
			uint32_t usecs, struct err *err)
{
	struct sim *be = (struct sim *)b;
	int i;
	struct dom *d = vif_dom(be, domid, mac, &i, err);

	if (!d)
		return -1;
	d->rate_bytes[i] = bytes;
	d->rate_usecs[i] = usecs;
	save(be);
	return 0;
}

/* The sim's guests do I/O as they use CPU: every counter grows with the domain's CPU time
 * (one request of 4 KiB per millisecond per device, reads and receives twice as many), and
 * stands still while it is paused. */
static int sim_stats(struct backend *b, uint32_t domid, struct dom_stats *out, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = live_dom(be, domid, err);

	if (!d)
		return -1;
	out->cpu_time_ns = cpu_time(d);
	out->memory_kib = d->memory_kib;
	out->maxmem_kib = d->maxmem_kib;
	out->vcpus = d->vcpus;
	uint64_t ms = out->cpu_time_ns / 1000000;
	out->disks = xcalloc((size_t)d->n_vdevs + 1, sizeof *out->disks);
	for (int i = 0; i < d->n_vdevs; i++) {
		struct disk_stats *k = &out->disks[out->n_disks++];
		snprintf(k->vdev, sizeof k->vdev, "%s", d->vdevs[i]);
		k->rd_req = 2 * ms;
		k->rd_bytes = 2 * ms * 4096;
		k->wr_req = ms;
		k->wr_bytes = ms * 4096;
	}
	out->vifs = xcalloc((size_t)d->n_macs + 1, sizeof *out->vifs);
	for (int i = 0; i < d->n_macs; i++) {
		struct vif_stats *v = &out->vifs[out->n_vifs++];
		memcpy(v->mac, d->macs[i], 6);
		v->devid = i;
		v->rx_packets = 2 * ms;
		v->rx_bytes = 2 * ms * 1500;
		v->tx_packets = ms;
		v->tx_bytes = ms * 1500;
	}
	return 0;
}

static int sim_rename(struct backend *b, uint32_t domid, const char *name, struct err *err)
{
	struct sim *be = (struct sim *)b;
	struct dom *d = find_or_err(be, domid, err);
	struct dom *other = find_name(be, name);

	if (!d)
		return -1;
	if (other && other != d) {
		err_set(err, VMD_ERR_EXISTS, "a domain named %s already exists (domid %" PRIu32 ")",
			name, other->domid);
		return -1;
	}
	if (strlen(name) >= NAME_SIZE) {
		err_set(err, VMD_ERR_INVALID_CONFIG, "domain name too long");
		return -1;
	}
	snprintf(d->name, sizeof d->name, "%s", name);
	save(be);
	return 0;
}

const struct backend_ops backend_sim = {
	.name = "sim",
	.available = sim_available,
	.open = sim_open,
	.close = sim_close,
	.host_info = sim_host_info,
	.list = sim_list,
	.info = sim_info,
	.create = sim_create,
	.shutdown = sim_shutdown,
	.reboot = sim_reboot,
	.destroy = sim_destroy,
	.pause = sim_pause,
	.unpause = sim_unpause,
	.console = sim_console,
	.vnc = sim_vnc,
	.core_dump = sim_core_dump,
	.watch = sim_watch,
	.migrate_send = sim_migrate_send,
	.migrate_resume = sim_migrate_resume,
	.migrate_receive = sim_migrate_receive,
	.rename = sim_rename,
	.set_vcpus = sim_set_vcpus,
	.set_memory = sim_set_memory,
	.sched = sim_sched,
	.disk_attach = sim_disk_attach,
	.disk_detach = sim_disk_detach,
	.cdrom = sim_cdrom,
	.nic_attach = sim_nic_attach,
	.nic_detach = sim_nic_detach,
	.nic_rate = sim_nic_rate,
	.stats = sim_stats,
	.inject = sim_inject,
};
