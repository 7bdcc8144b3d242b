/*
 * network.h: managed networks, bridges that vmd makes and keeps (vmctl network).
 *
 * A network NAME is a Linux bridge named NAME, so that a vif reaches it with `bridge=NAME`
 * exactly as xl would (the same xl.cfg works with xl on the same host); only "default",
 * which the kernel keeps for itself, has a bridge of another name, vmdbr0, to which the
 * backend takes a vif that says bridge=default (network_bridge_of). Three modes:
 *   nat       the bridge has the subnet's first address, dnsmasq serves DHCP and DNS on it,
 *             nftables masquerades what the guests send beyond it and drops what comes to
 *             them from outside that they did not ask for (as libvirt's default network);
 *   isolated  the same without the way out: nothing is forwarded to or from the bridge;
 *   bridge    the bridge with a host interface as its port (the guests on the host's LAN).
 * The definition is STATE/networks/NAME.json, written before anything is made (marked
 * "creating") and rewritten once all is made: after a kill -9 mid-create, the next start
 * takes down what the half-made network had. At every start vmd makes what is missing
 * again (the bridge after a host reboot, the rules, dnsmasq); it leaves all of it up when it
 * stops, as the guests on it keep running. The rules are STATE/networks/NAME.nft (table ip
 * vmd-NAME), dnsmasq's leases STATE/networks/NAME.leases, its pid RUN/networks/NAME.pid.
 */
#ifndef VMD_NETWORK_H
#define VMD_NETWORK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct daemon;

enum net_mode { NET_NAT, NET_ISOLATED, NET_BRIDGE };

struct network {
	char *name;
	char *bridge;	  /* name; for "default": vmdbr0 */
	enum net_mode mode;
	uint32_t net;	  /* the subnet (host order), nat and isolated */
	int prefix;	  /* its length; 0: none (a bridge network) */
	char *interface;  /* the host interface of a bridge network */
	bool dhcp;	  /* dnsmasq on it (nat, isolated: default true) */
	char *leases_seen; /* the lease file as the last look found it (network_poll) */
	struct network *next;
};

/* What vm.network_create asks. */
struct net_spec {
	const char *name;
	enum net_mode mode;
	const char *subnet;	/* "10.0.5.0/24"; NULL: the default of the mode */
	const char *interface;	/* bridge mode */
	bool dhcp;
};

/* Loads STATE/networks (none yet: nothing to do) and makes what each network lacks (logged,
 * not fatal); takes down what a half-made one left. 0, or -1 when it cannot be read. */
int network_start_all(struct daemon *d);
void network_free_all(struct daemon *d);

struct network *network_find(struct daemon *d, const char *name);
/* The bridge of the managed network name, or NULL when name is none: what the backend puts
 * a vif with bridge=name on. */
const char *network_bridge_of(struct daemon *d, const char *name);
/* Makes the network and stores it; on any failure all it made is undone. 0, or -1 with err:
 * INVALID_PARAMS (a name that cannot be a bridge, a subnet that is not one), EXISTS (the
 * network, an interface of that name that is not vmd's, a subnet that overlaps a host
 * interface's or another network's), NOT_FOUND (no such interface), BACKEND (ip, nft or
 * dnsmasq failed: their message), NOT_SUPPORTED (a tool missing). */
int network_create(struct daemon *d, const struct net_spec *spec, struct err *err);
/* Takes it down and forgets it; refused (BAD_STATE, data guests) while a guest's definition
 * names it. */
int network_remove(struct daemon *d, const char *name, struct err *err);
/* The network as vm.network_list / _info show it; with leases: dnsmasq's leases too. */
json_t *network_to_json(struct daemon *d, const struct network *n, bool leases);
/* Looks at every network's leases (vmd calls it every 2 s): each MAC whose lease came, went
 * or changed since the last look is a vm.event "addresses" of the guest whose vif has it. */
void network_poll(struct daemon *d);
/* A timer on the daemon's loop that calls it. */
void network_poll_start(struct daemon *d);

/* dnsmasq's lease of mac on the network (MAC_STR_LEN form); the address (malloc'ed) or
 * NULL. */
char *network_lease_of(struct daemon *d, const struct network *n, const char *mac);

#endif
