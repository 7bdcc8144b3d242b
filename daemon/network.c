/*
 * network.c: managed networks (network.h): their definitions, and the bridge, the address,
 * the nftables table and dnsmasq that make each, through ip(8), nft(8) and dnsmasq(8). The
 * tools are quick and run in the loop (tens of milliseconds in all); dnsmasq puts itself in
 * the background once it listens, or exits with its reason.
 */
#include "network.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <event2/event.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "disk.h"
#include "log.h"
#include "util.h"
#include "vm.h"
#include "vmd-proto.h"

#define NET_DEFAULT_NAT "192.168.150.0/24"
#define NET_DEFAULT_ISOLATED "192.168.151.0/24"

static const char *const mode_names[] = { "nat", "isolated", "bridge" };

static char *net_dir(struct daemon *d)
{
	return xasprintf("%s/networks", d->state_dir);
}

static char *net_file(struct daemon *d, const char *name, const char *ext)
{
	return xasprintf("%s/networks/%s.%s", d->state_dir, name, ext);
}

static char *pid_file(struct daemon *d, const char *name)
{
	return xasprintf("%s/networks/%s.pid", d->run_dir, name);
}

/* ---- addresses ---------------------------------------------------------------------- */

static uint32_t mask_of(int prefix)
{
	return prefix <= 0 ? 0 : 0xffffffffu << (32 - prefix);
}

static void addr_text(uint32_t a, char buf[INET_ADDRSTRLEN])
{
	struct in_addr in = { .s_addr = htonl(a) };
	inet_ntop(AF_INET, &in, buf, INET_ADDRSTRLEN);
}

/* "a.b.c.d/p", p from 8 to 30, no host bits set. 0, or -1 with err saying why. */
static int parse_subnet(const char *s, uint32_t *net, int *prefix, struct err *err)
{
	char buf[64], *slash, *end;
	struct in_addr in;

	if (strlen(s) >= sizeof buf || !(slash = strchr(strcpy(buf, s), '/')))
		goto bad;
	*slash = '\0';
	errno = 0;
	long p = strtol(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || inet_pton(AF_INET, buf, &in) != 1)
		goto bad;
	if (p < 8 || p > 30) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "subnet %s: a prefix from /8 to /30, please",
			s);
		return -1;
	}
	*net = ntohl(in.s_addr);
	*prefix = (int)p;
	if (*net & ~mask_of(*prefix)) {
		char a[INET_ADDRSTRLEN];
		addr_text(*net & mask_of(*prefix), a);
		err_set(err, VMD_ERR_INVALID_PARAMS, "%s is an address in a subnet, not a subnet: "
			"%s/%d", s, a, *prefix);
		return -1;
	}
	return 0;
bad:
	err_set(err, VMD_ERR_INVALID_PARAMS, "'%s' is not a subnet (IPv4, as 10.0.5.0/24)", s);
	return -1;
}

static bool overlap(uint32_t a, int pa, uint32_t b, int pb)
{
	uint32_t m = mask_of(pa < pb ? pa : pb);
	return (a & m) == (b & m);
}

/* The host interface with an IPv4 address in net/prefix (not the bridge name itself), into
 * buf; false when none. */
static bool host_overlap(uint32_t net, int prefix, const char *self, char *buf, size_t sz)
{
	struct ifaddrs *all, *i;
	bool found = false;

	if (getifaddrs(&all) < 0)
		return false;
	for (i = all; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask)
			continue;
		if (self && strcmp(i->ifa_name, self) == 0)
			continue;
		uint32_t a = ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr);
		uint32_t m = ntohl(((struct sockaddr_in *)(void *)i->ifa_netmask)
					   ->sin_addr.s_addr);
		int p = __builtin_popcount(m);
		if (overlap(a & m, p, net, prefix)) {
			char t[INET_ADDRSTRLEN];
			addr_text(a, t);
			snprintf(buf, sz, "%s (%s/%d)", i->ifa_name, t, p);
			found = true;
		}
	}
	freeifaddrs(all);
	return found;
}

/* ---- the tools -------------------------------------------------------------------------- */

/* Runs tool (looked up in PATH) with args, NULL-ended. 0, or -1 with err. */
static int run(struct err *err, const char *tool, ...)
{
	const char *argv[24];
	size_t n = 1;
	va_list ap;
	char *path = disk_find_program(tool);

	if (!path) {
		err_set(err, VMD_ERR_NOT_SUPPORTED, "managed networks need %s, which is not "
			"installed here (Debian: %s)", tool, strcmp(tool, "ip") == 0 ? "iproute2"
			: strcmp(tool, "nft") == 0 ? "nftables" : "dnsmasq-base");
		return -1;
	}
	argv[0] = path;
	va_start(ap, tool);
	while (n < sizeof argv / sizeof argv[0] - 1 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	int rc = disk_run_tool(tool, argv, err);
	free(path);
	return rc;
}

static bool link_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

static bool is_bridge(const char *name)
{
	char *p = xasprintf("/sys/class/net/%s/bridge", name);
	struct stat st;
	bool yes = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	return yes;
}

/* tmpl with each "@N" replaced by the network's name, "@B" by its bridge's, "@S" by its
 * subnet. */
static char *expand(const char *tmpl, const char *name, const char *bridge, const char *subnet)
{
	size_t len = 1;
	for (const char *p = tmpl; *p; p++)
		len += p[0] == '@' ? strlen(subnet) + strlen(name) + strlen(bridge) : 1;
	char *out = xcalloc(1, len), *o = out;
	for (const char *p = tmpl; *p; p++) {
		if (p[0] == '@' && (p[1] == 'N' || p[1] == 'B' || p[1] == 'S')) {
			const char *v = p[1] == 'N' ? name : p[1] == 'B' ? bridge : subnet;
			o = stpcpy(o, v);
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* The nftables table of n: nat masquerades its subnet beyond the bridge and lets in only
 * what answers the guests; isolated forwards nothing either way. Loaded in one transaction
 * that replaces an older table of the same name. */
static char *ruleset(const struct network *n)
{
	static const char isolated[] =
		"table ip vmd-@N\ndelete table ip vmd-@N\n"
		"table ip vmd-@N {\n"
		"\tchain forward {\n"
		"\t\ttype filter hook forward priority filter; policy accept;\n"
		"\t\tiifname \"@B\" drop\n"
		"\t\toifname \"@B\" drop\n"
		"\t}\n}\n";
	static const char nat[] =
		"table ip vmd-@N\ndelete table ip vmd-@N\n"
		"table ip vmd-@N {\n"
		"\tchain postrouting {\n"
		"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		"\t\tip saddr @S ip daddr != @S oifname != \"@B\" masquerade\n"
		"\t}\n"
		"\tchain forward {\n"
		"\t\ttype filter hook forward priority filter; policy accept;\n"
		"\t\tiifname \"@B\" ip saddr @S accept\n"
		"\t\toifname \"@B\" ct state established,related accept\n"
		"\t\tiifname \"@B\" drop\n"
		"\t\toifname \"@B\" drop\n"
		"\t}\n}\n";
	char a[INET_ADDRSTRLEN], subnet[INET_ADDRSTRLEN + 4];
	addr_text(n->net, a);
	snprintf(subnet, sizeof subnet, "%s/%d", a, n->prefix);
	return expand(n->mode == NET_ISOLATED ? isolated : nat, n->name, n->bridge, subnet);
}

static int rules_up(struct daemon *d, const struct network *n, struct err *err)
{
	char *path = net_file(d, n->name, "nft"), *text = ruleset(n);
	int rc = write_file_atomic(path, text, strlen(text), 0600);
	if (rc < 0)
		err_set(err, VMD_ERR_IO, "cannot write %s: %s", path, strerror(errno));
	else
		rc = run(err, "nft", "-f", path, (char *)NULL);
	if (rc == 0 && n->mode == NET_NAT) {
		/* NAT needs forwarding, host-wide, as libvirt's NAT networks set it */
		int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "1\n", 2) != 2) {
			err_set(err, VMD_ERR_BACKEND, "cannot turn on IPv4 forwarding: %s",
				strerror(errno));
			rc = -1;
		}
		if (fd >= 0)
			close(fd);
	}
	free(text);
	free(path);
	return rc;
}

static void rules_down(struct daemon *d, const struct network *n)
{
	struct err err = {0};
	char *table = xasprintf("vmd-%s", n->name), *path = net_file(d, n->name, "nft");
	/* only when it is there: a missing table is not an error worth a line */
	if (run(&err, "nft", "list", "table", "ip", table, (char *)NULL) == 0 &&
	    run(&err, "nft", "delete", "table", "ip", table, (char *)NULL) < 0)
		log_warn("network %s: %s", n->name, err.msg);
	err_clear(&err);
	unlink(path);
	free(path);
	free(table);
}

/* Whether pid runs (a zombie that its parent, init, has yet to reap does not). */
static bool running(pid_t pid)
{
	char *path = xasprintf("/proc/%ld/stat", (long)pid), *stat = read_file(path, 1024, NULL);
	const char *end = stat ? strrchr(stat, ')') : NULL;
	bool yes = end && end[1] == ' ' && end[2] && end[2] != 'Z' && end[2] != 'X';
	free(stat);
	free(path);
	return yes;
}

/* dnsmasq's pid from its pid file, if that process is still a dnsmasq; else 0. */
static pid_t dnsmasq_pid(struct daemon *d, const struct network *n)
{
	char *path = pid_file(d, n->name), *text = read_file(path, 64, NULL);
	pid_t pid = text ? (pid_t)atol(text) : 0;
	free(text);
	free(path);
	if (pid <= 0)
		return 0;
	char *comm = xasprintf("/proc/%ld/comm", (long)pid), *name = read_file(comm, 64, NULL);
	bool ours = name && strncmp(name, "dnsmasq", 7) == 0 && running(pid);
	free(name);
	free(comm);
	return ours ? pid : 0;
}

static int dnsmasq_up(struct daemon *d, const struct network *n, struct err *err)
{
	if (!n->dhcp || dnsmasq_pid(d, n))
		return 0;
	char gw[INET_ADDRSTRLEN], first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN];
	uint32_t bcast = n->net | ~mask_of(n->prefix);
	addr_text(n->net + 1, gw);
	addr_text(n->net + 2, first);
	addr_text(bcast - 1, last);
	char *pid = pid_file(d, n->name), *leases = net_file(d, n->name, "leases");
	char *dir = xasprintf("%s/networks", d->run_dir);
	char *a_pid = xasprintf("--pid-file=%s", pid);
	char *a_iface = xasprintf("--interface=%s", n->bridge);
	char *a_listen = xasprintf("--listen-address=%s", gw);
	char *a_range = xasprintf("--dhcp-range=%s,%s,1h", first, last);
	char *a_leases = xasprintf("--dhcp-leasefile=%s", leases);
	mkdir_p(dir, 0755);
	int rc = run(err, "dnsmasq", "--conf-file=/dev/null", a_pid, a_iface, a_listen,
		     "--bind-interfaces", "--except-interface=lo", a_range, a_leases,
		     "--dhcp-authoritative", "--strict-order", "--domain-needed", "--bogus-priv",
		     (char *)NULL);
	free(a_leases);
	free(a_range);
	free(a_listen);
	free(a_iface);
	free(a_pid);
	free(dir);
	free(leases);
	free(pid);
	return rc;
}

static void dnsmasq_down(struct daemon *d, const struct network *n)
{
	pid_t pid = dnsmasq_pid(d, n);
	char *path = pid_file(d, n->name);
	if (pid > 0) {
		kill(pid, SIGTERM);
		for (int i = 0; i < 50 && running(pid); i++)
			usleep(20000);
	}
	unlink(path);
	free(path);
}

/* The bridge with its address (nat, isolated) or its port (bridge), up. made: whether this
 * call made the bridge (and may take it down again). */
static int bridge_up(const struct network *n, bool *made, struct err *err)
{
	*made = false;
	if (!link_exists(n->bridge)) {
		if (run(err, "ip", "link", "add", "name", n->bridge, "type", "bridge",
			(char *)NULL))
			return -1;
		*made = true;
	}
	if (n->prefix) {
		char gw[INET_ADDRSTRLEN];
		addr_text(n->net + 1, gw);
		char *cidr = xasprintf("%s/%d", gw, n->prefix);
		struct err e2 = {0};
		/* "File exists" when it has it already (a restart): that is fine */
		if (run(&e2, "ip", "addr", "add", cidr, "dev", n->bridge, (char *)NULL) < 0 &&
		    !strstr(e2.msg, "File exists")) {
			err_move(err, &e2);
			free(cidr);
			return -1;
		}
		err_clear(&e2);
		free(cidr);
	}
	if (n->interface &&
	    run(err, "ip", "link", "set", "dev", n->interface, "master", n->bridge, "up",
		(char *)NULL) < 0)
		return -1;
	return run(err, "ip", "link", "set", "dev", n->bridge, "up", (char *)NULL);
}

static void bridge_down(const struct network *n)
{
	struct err err = {0};
	if (link_exists(n->bridge) && is_bridge(n->bridge) &&
	    run(&err, "ip", "link", "del", "dev", n->bridge, (char *)NULL) < 0)
		log_warn("network %s: %s", n->name, err.msg);
	err_clear(&err);
}

/* What n has: dnsmasq, its rules, and with bridge its bridge (a failed create: only when
 * it made the bridge). */
static void take_down(struct daemon *d, const struct network *n, bool bridge)
{
	dnsmasq_down(d, n);
	if (n->mode != NET_BRIDGE)
		rules_down(d, n);
	if (bridge)
		bridge_down(n);
}

/* ---- definitions ------------------------------------------------------------------------ */

static json_t *def_json(const struct network *n, bool creating)
{
	json_t *o = json_pack("{s:s, s:s, s:b}", "name", n->name, "mode", mode_names[n->mode],
			      "dhcp", n->dhcp);
	if (n->prefix) {
		char a[INET_ADDRSTRLEN];
		addr_text(n->net, a);
		json_object_set_new(o, "subnet", json_sprintf("%s/%d", a, n->prefix));
	}
	if (n->interface)
		json_object_set_new(o, "interface", json_string(n->interface));
	if (creating)
		json_object_set_new(o, "creating", json_true());
	return o;
}

static int def_save(struct daemon *d, const struct network *n, bool creating,
		    struct err *err)
{
	char *dir = net_dir(d), *path = net_file(d, n->name, "json");
	json_t *doc = def_json(n, creating);
	mkdir_p(dir, 0755);
	free(dir);
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	int rc = 0;
	json_decref(doc);
	if (!text || write_file_atomic(path, text, strlen(text), 0644) < 0) {
		err_set(err, VMD_ERR_IO, "cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	free(text);
	free(path);
	return rc;
}

static void net_free(struct network *n)
{
	if (!n)
		return;
	free(n->name);
	free(n->bridge);
	free(n->interface);
	free(n->leases_seen);
	free(n);
}

/* The bridge of network name: name itself, but for "default", a name the kernel keeps for
 * itself (/proc/sys/net/ipv4/conf/default), whose bridge is vmdbr0 (as libvirt's default
 * network's is virbr0). */
static char *bridge_name(const char *name)
{
	return xstrdup(strcmp(name, "default") == 0 ? "vmdbr0" : name);
}

const char *network_bridge_of(struct daemon *d, const char *name)
{
	struct network *n = name ? network_find(d, name) : NULL;
	return n ? n->bridge : NULL;
}

static bool valid_name(const char *s)
{
	size_t len = strlen(s);
	if (len < 1 || len >= IFNAMSIZ || !((s[0] >= 'a' && s[0] <= 'z') ||
					    (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return strcmp(s, "all") != 0; /* the kernel's too, as "default" */
}

/* n from a definition document; NULL when it is not one. creating: its mark. */
static struct network *def_parse(json_t *doc, const char *file, bool *creating)
{
	const char *name = json_string_value(json_object_get(doc, "name"));
	const char *mode = json_string_value(json_object_get(doc, "mode"));
	const char *subnet = json_string_value(json_object_get(doc, "subnet"));
	struct err err = {0};
	struct network *n = xcalloc(1, sizeof *n);
	int m = 0;

	while (mode && m < 3 && strcmp(mode_names[m], mode) != 0)
		m++;
	if (!name || !valid_name(name) || !mode || m == 3 ||
	    (subnet && parse_subnet(subnet, &n->net, &n->prefix, &err) < 0) ||
	    (m != NET_BRIDGE && !subnet)) {
		log_warn("%s: not a network definition (skipped)%s%s", file, err.msg[0] ? ": " : "",
			 err.msg);
		free(n);
		return NULL;
	}
	n->name = xstrdup(name);
	n->bridge = bridge_name(name);
	n->mode = (enum net_mode)m;
	n->interface = xstrdup(json_string_value(json_object_get(doc, "interface")));
	n->dhcp = json_is_true(json_object_get(doc, "dhcp"));
	*creating = json_is_true(json_object_get(doc, "creating"));
	return n;
}

struct network *network_find(struct daemon *d, const char *name)
{
	for (struct network *n = d->networks; n; n = n->next)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static void forget(struct daemon *d, struct network *gone)
{
	for (struct network **p = &d->networks; *p; p = &(*p)->next) {
		if (*p == gone) {
			*p = gone->next;
			net_free(gone);
			return;
		}
	}
}

static void remove_files(struct daemon *d, const char *name)
{
	static const char *const exts[] = { "json", "nft", "leases" };
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
		char *p = net_file(d, name, exts[i]);
		unlink(p);
		free(p);
	}
	char *dir = net_dir(d);
	fsync_parent_dir(dir);
	free(dir);
}

static int make(struct daemon *d, const struct network *n, bool *made, struct err *err)
{
	if (bridge_up(n, made, err) < 0)
		return -1;
	if (n->mode != NET_BRIDGE && rules_up(d, n, err) < 0)
		return -1;
	return dnsmasq_up(d, n, err);
}

int network_start_all(struct daemon *d)
{
	char *dir = net_dir(d);
	DIR *dh;
	struct dirent *e;

	if (!(dh = opendir(dir))) { /* made by the first network.create */
		int why = errno;
		if (why != ENOENT)
			log_error("cannot open %s: %s", dir, strerror(why));
		free(dir);
		return why == ENOENT ? 0 : -1;
	}
	while ((e = readdir(dh))) {
		size_t len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		json_t *doc = json_load_file(path, 0, NULL);
		bool creating = false;
		struct network *n = doc ? def_parse(doc, path, &creating) : NULL;
		json_decref(doc);
		if (n && (strlen(n->name) != len - 5 ||
			  strncmp(e->d_name, n->name, len - 5) != 0)) {
			log_warn("%s: names network '%s' (skipped)", path, n->name);
			net_free(n);
			n = NULL;
		}
		free(path);
		if (!n)
			continue;
		if (creating) { /* a create that did not finish (kill -9): undo it */
			log_info("network %s: its creation did not finish; taking it down",
				 n->name);
			take_down(d, n, is_bridge(n->bridge));
			remove_files(d, n->name);
			net_free(n);
			continue;
		}
		struct err err = {0};
		bool made;
		if (make(d, n, &made, &err) < 0)
			log_error("network %s: %s", n->name, err.msg);
		else if (made)
			log_info("network %s: bridge made again", n->name);
		err_clear(&err);
		n->next = d->networks;
		d->networks = n;
	}
	closedir(dh);
	free(dir);
	return 0;
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	network_poll(arg);
}

void network_poll_start(struct daemon *d)
{
	struct timeval every = { .tv_sec = 2 };
	d->net_poll = event_new(d->base, -1, EV_PERSIST, poll_cb, d);
	if (d->net_poll)
		event_add(d->net_poll, &every);
}

void network_free_all(struct daemon *d)
{
	if (d->net_poll)
		event_free(d->net_poll);
	d->net_poll = NULL;
	while (d->networks) {
		struct network *n = d->networks;
		d->networks = n->next;
		net_free(n);
	}
}

int network_create(struct daemon *d, const struct net_spec *spec, struct err *err)
{
	struct network *n = xcalloc(1, sizeof *n);
	char why[128];
	bool made = false;

	if (!valid_name(spec->name)) {
		err_set(err, VMD_ERR_INVALID_PARAMS, "'%s' cannot name a network: it is its "
			"bridge's name, 1 to %d letters, digits, '-' and '_', from a letter",
			spec->name, IFNAMSIZ - 1);
		err_add_str(err, "param", "name");
		goto fail;
	}
	if (network_find(d, spec->name)) {
		err_set(err, VMD_ERR_EXISTS, "network '%s' exists", spec->name);
		goto fail;
	}
	n->name = xstrdup(spec->name);
	n->bridge = bridge_name(spec->name);
	if (link_exists(n->bridge)) {
		err_set(err, VMD_ERR_EXISTS, "an interface '%s' exists on this host and is not a "
			"network of vmd", n->bridge);
		goto fail;
	}
	n->mode = spec->mode;
	if (spec->mode == NET_BRIDGE) {
		if (spec->subnet) {
			err_set(err, VMD_ERR_INVALID_PARAMS, "a bridge network has no subnet "
				"of its own: the guests are on the interface's LAN");
			err_add_str(err, "param", "subnet");
			goto fail;
		}
		if (!spec->interface || !link_exists(spec->interface)) {
			err_set(err, VMD_ERR_NOT_FOUND, "no interface '%s' on this host",
				spec->interface ? spec->interface : "");
			goto fail;
		}
		if (is_bridge(spec->interface)) {
			err_set(err, VMD_ERR_INVALID_PARAMS, "'%s' is a bridge: guests can use it "
				"as it is (bridge=%s)", spec->interface, spec->interface);
			err_add_str(err, "param", "interface");
			goto fail;
		}
		n->interface = xstrdup(spec->interface);
	} else {
		const char *s = spec->subnet ? spec->subnet
				: spec->mode == NET_NAT ? NET_DEFAULT_NAT : NET_DEFAULT_ISOLATED;
		if (spec->interface) {
			err_set(err, VMD_ERR_INVALID_PARAMS, "only a bridge network takes an "
				"interface");
			err_add_str(err, "param", "interface");
			goto fail;
		}
		if (parse_subnet(s, &n->net, &n->prefix, err) < 0) {
			err_add_str(err, "param", "subnet");
			goto fail;
		}
		for (struct network *o = d->networks; o; o = o->next) {
			if (o->prefix && overlap(o->net, o->prefix, n->net, n->prefix)) {
				char a[INET_ADDRSTRLEN];
				addr_text(o->net, a);
				err_set(err, VMD_ERR_EXISTS, "subnet %s overlaps network '%s' "
					"(%s/%d)", s, o->name, a, o->prefix);
				goto fail;
			}
		}
		if (host_overlap(n->net, n->prefix, NULL, why, sizeof why)) {
			err_set(err, VMD_ERR_EXISTS, "subnet %s overlaps the address of host "
				"interface %s", s, why);
			goto fail;
		}
		n->dhcp = spec->dhcp;
	}
	/* the definition first, marked: a kill -9 from here on is undone at the next start */
	if (def_save(d, n, true, err) < 0)
		goto fail;
	if (make(d, n, &made, err) < 0 || def_save(d, n, false, err) < 0) {
		take_down(d, n, made);
		remove_files(d, n->name);
		goto fail;
	}
	n->leases_seen = xstrdup(""); /* its first lease is news */
	n->next = d->networks;
	d->networks = n;
	log_info("network %s: made (%s)", n->name, mode_names[n->mode]);
	return 0;
fail:
	if (err->code != VMD_ERR_INVALID_PARAMS && !err_data_str(err, "network"))
		err_add_str(err, "network", spec->name);
	net_free(n);
	return -1;
}

/* The guests whose definition has a vif on n (bridge= its name or its bridge's). */
static json_t *users_of(struct daemon *d, const struct network *n)
{
	json_t *users = json_array();
	struct vm *vm;
	TAILQ_FOREACH(vm, &d->vms, link) {
		struct err err = {0};
		struct vm_config *cfg = vm_cfg(vm, &err);
		err_clear(&err);
		for (int i = 0; cfg && i < cfg->dc.num_nics; i++) {
			const char *br = cfg->dc.nics[i].bridge;
			if (br && (strcmp(br, n->name) == 0 || strcmp(br, n->bridge) == 0)) {
				json_array_append_new(users, json_string(vm->name));
				break;
			}
		}
	}
	return users;
}

int network_remove(struct daemon *d, const char *name, struct err *err)
{
	struct network *n = network_find(d, name);
	if (!n) {
		err_set(err, VMD_ERR_NOT_FOUND, "no network '%s'", name);
		err_add_str(err, "network", name);
		return -1;
	}
	json_t *users = users_of(d, n);
	if (json_array_size(users)) {
		err_set(err, VMD_ERR_BAD_STATE, "network '%s' is in use: %zu guest(s) have a vif "
			"on it (vmctl network info %s)", name, json_array_size(users), name);
		err_add_str(err, "network", name);
		err_add(err, "guests", users);
		return -1;
	}
	json_decref(users);
	take_down(d, n, true);
	remove_files(d, name);
	log_info("network %s: removed", name);
	forget(d, n);
	return 0;
}

/* dnsmasq's lease file: "EXPIRY MAC IP HOSTNAME CLIENTID" per line. */
static json_t *leases_of(struct daemon *d, const struct network *n)
{
	json_t *out = json_array();
	char *path = net_file(d, n->name, "leases");
	FILE *f = fopen(path, "re");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		char mac[64], ip[64], host[256];
		long long expiry;
		if (sscanf(line, "%lld %63s %63s %255s", &expiry, mac, ip, host) != 4)
			continue;
		json_t *l = json_pack("{s:s, s:s, s:I}", "mac", mac, "address", ip, "expires",
				      (json_int_t)expiry);
		if (strcmp(host, "*") != 0)
			json_object_set_new(l, "hostname", json_string(host));
		json_array_append_new(out, l);
	}
	if (f)
		fclose(f);
	free(path);
	return out;
}

char *network_lease_of(struct daemon *d, const struct network *n, const char *mac)
{
	json_t *leases = leases_of(d, n), *l;
	size_t i;
	char *ip = NULL;
	json_array_foreach(leases, i, l) {
		if (strcasecmp(json_string_value(json_object_get(l, "mac")), mac) == 0) {
			free(ip);
			ip = xstrdup(json_string_value(json_object_get(l, "address")));
		}
	}
	json_decref(leases);
	return ip;
}

json_t *network_to_json(struct daemon *d, const struct network *n, bool leases)
{
	json_t *o = def_json(n, false);
	json_object_set_new(o, "bridge", json_string(n->bridge));
	json_object_set_new(o, "up", json_boolean(link_exists(n->bridge) && is_bridge(n->bridge)));
	if (n->prefix) {
		char gw[INET_ADDRSTRLEN];
		addr_text(n->net + 1, gw);
		json_object_set_new(o, "gateway", json_string(gw));
	}
	if (n->dhcp) {
		pid_t pid = dnsmasq_pid(d, n);
		json_object_set_new(o, "dnsmasq", pid ? json_integer(pid) : json_null());
	}
	json_object_set_new(o, "guests", users_of(d, n));
	if (leases && n->dhcp)
		json_object_set_new(o, "leases", leases_of(d, n));
	return o;
}

/* The MACs whose "MAC IP" pair is in text a and not in b (dnsmasq's lines: EXPIRY MAC IP
 * HOSTNAME CLIENTID; the expiry moves on every renewal and is not a change). */
static void changed_macs(struct daemon *d, const char *a, const char *b)
{
	const char *line = a;
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		char mac[64], ip[64], pair[160];
		long long expiry;
		if (sscanf(line, "%lld %63s %63s", &expiry, mac, ip) == 3) {
			snprintf(pair, sizeof pair, " %s %s ", mac, ip);
			uint8_t m[6];
			if (!(b && strstr(b, pair)) && mac_parse(mac, m) == 0) {
				struct vm *vm = vm_find_mac(d, m);
				if (vm)
					vm_emit(vm, "addresses");
			}
		}
		line = eol ? eol + 1 : NULL;
	}
}

void network_poll(struct daemon *d)
{
	for (struct network *n = d->networks; n; n = n->next) {
		if (!n->dhcp)
			continue;
		char *path = net_file(d, n->name, "leases");
		char *now = read_file(path, 1 << 20, NULL);
		free(path);
		if (!now)
			now = xstrdup("");
		const char *was = n->leases_seen;
		if (was && strcmp(was, now) != 0) { /* the first look at a start: nothing to say */
			changed_macs(d, now, was); /* new or changed */
			changed_macs(d, was, now); /* gone */
		}
		free(n->leases_seen);
		n->leases_seen = now;
	}
}

