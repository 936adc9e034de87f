/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod-network bindings, as recipes of small steps.  Each step records
 * its inverse in the undo journal before it runs (and forgets it when the
 * step fails), so a setup that fails anywhere, or a launcher that exits,
 * leaves the pod namespace exactly as it found it.
 *
 * bridge:     eth0's IPv4 addresses and routes leave the pod side and become
 *             the DHCP lease; eth0 gets a fresh MAC and joins bridge k6t-eth0
 *             with the guest's tap; the guest takes eth0's original MAC, so
 *             to the pod network the VM *is* the pod.
 * masquerade: eth0 is untouched; bridge k6t-eth0 has 10.0.2.1/24, the guest
 *             gets 10.0.2.2, and an nftables table NATs between the two.
 */
#include "kvirt/net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "net-private.h"

/* KubeVirt hands out leases of 999 days: effectively forever, yet finite for old clients. */
#define LEASE_SECS (999u * 24 * 3600)
/*
 * The server identifier of the bridge binding.  The bridge has no address
 * (the pod IP belongs to the guest), so we name a link-local one as KubeVirt
 * does; nothing needs to answer on it because every reply goes out by MAC.
 */
#define BRIDGE_SERVER_ID "169.254.75.10"

static void free_addrs(struct net_addr **p)
{
	free(*p);
}

static void free_routes(struct net_route **p)
{
	free(*p);
}

int net_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;
	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			 &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	/* Multicast MACs and the all-zero MAC cannot be a NIC's address. */
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}

static int random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		return -errno;
	/* Locally administered, unicast, and never KubeVirt's reserved 02:00:00:00:00:00. */
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
	if (!(mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		mac[5] = 1;
	return 0;
}

static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= IFNAMSIZ)
		return false;
	/* The names go into the nft ruleset too: no quotes, spaces or slashes. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

static bool valid_table(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64 || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* Everything a recipe needs while it runs. */
struct setup {
	const struct net_binding_config *cfg;
	struct net_nl *nl;
	struct net_binding *b;
	const char *pod_ifname, *bridge_name, *tap_name;
	char bridge_buf[IFNAMSIZ], table_buf[80];
	const char *table;
	struct net_link pod;
};

/* Record the inverse first; if the step then fails, forget it again. */
#define STEP(s, record, action)                                   \
	({                                                        \
		int _r = (record);                                \
		if (_r >= 0) {                                    \
			_r = (action);                            \
			if (_r < 0)                               \
				net_undo_drop_last((s)->b->undo); \
		}                                                 \
		_r;                                               \
	})

/*
 * A step failed.  Its action already described the failure in *err; if the
 * journal refused to record it, say so here (kv_err_set never overwrites).
 */
static int step_fail(int r, struct kv_err **err)
{
	if (r == -ECANCELED)
		return kv_err_set(err, ECANCELED, "setup stopped by the fail-at test hook");
	return kv_err_set(err, -r, "cannot record an undo step");
}

static int load_dns(struct setup *s, struct dhcp_lease *lease, struct kv_err **err)
{
	const char *path = s->cfg->resolv_conf ? s->cfg->resolv_conf : "/etc/resolv.conf";
	int r = dhcp_resolv_load(path, &lease->dns, err);
	if (r == -ENOENT) {
		/* A pod without resolv.conf (dnsPolicy: None without dnsConfig) has no DNS. */
		if (err && *err) {
			kv_err_free(*err);
			*err = NULL;
		}
		memset(&lease->dns, 0, sizeof(lease->dns));
		return 0;
	}
	return r;
}

/* Create the bridge, attach the guest side, bring both up. */
static int make_bridge(struct setup *s, const uint8_t bridge_mac[6], struct kv_err **err)
{
	struct net_binding *b = s->b;
	const struct net_binding_config *cfg = s->cfg;
	int r = STEP(s, net_undo_link_del(b->undo, s->bridge_name),
		     net_bridge_add(s->nl, s->bridge_name, s->pod.mtu, bridge_mac, err));
	if (r < 0)
		return step_fail(r, err);
	struct net_link br;
	r = net_link_get(s->nl, s->bridge_name, &br, err);
	if (r < 0)
		return r;
	b->bridge_ifindex = br.ifindex;
	memcpy(b->bridge_mac, br.mac, 6);

	struct net_link guest;
	if (cfg->guest_link) {
		r = net_link_get(s->nl, cfg->guest_link, &guest, err);
		if (r < 0)
			return r;
		if (guest.mtu != s->pod.mtu) {
			r = STEP(s, net_undo_link_mtu(b->undo, guest.ifindex, guest.mtu),
				 net_link_set_mtu(s->nl, guest.ifindex, s->pod.mtu, err));
			if (r < 0)
				return step_fail(r, err);
		}
	} else {
		unsigned q = cfg->queues ? cfg->queues : 1;
		r = net_undo_link_del(b->undo, s->tap_name);
		if (r < 0)
			return step_fail(r, err);
		r = net_tap_create(s->tap_name, q, b->tap_fds, err);
		if (r < 0) {
			net_undo_drop_last(b->undo);
			return r;
		}
		b->n_tap_fds = q;
		r = net_link_get(s->nl, s->tap_name, &guest, err);
		if (r < 0)
			return r;
		/* The tap is deleted on undo, so its MTU needs no inverse. */
		r = net_link_set_mtu(s->nl, guest.ifindex, s->pod.mtu, err);
		if (r < 0)
			return r;
	}
	r = STEP(s, net_undo_link_master(b->undo, guest.ifindex, 0),
		 net_link_set_master(s->nl, guest.ifindex, br.ifindex, err));
	if (r < 0)
		return step_fail(r, err);
	if (!(guest.flags & IFF_UP)) {
		r = STEP(s, net_undo_link_up(b->undo, guest.ifindex, false),
			 net_link_set_up(s->nl, guest.ifindex, true, err));
		if (r < 0)
			return step_fail(r, err);
	}
	/* The bridge itself is deleted on undo; bringing it up needs no inverse. */
	return net_link_set_up(s->nl, br.ifindex, true, err);
}

/* Is this the prefix route the kernel derives from one of eth0's addresses? */
static bool is_connected_route(const struct net_route *rt, const struct net_addr *a, size_t n)
{
	if (rt->has_gw || rt->protocol != RTPROT_KERNEL)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint32_t m = a[i].prefix ? ~0u << (32 - a[i].prefix) : 0;
		if (rt->dst_len == a[i].prefix &&
		    (ntohl(rt->dst.s_addr) & m) == (ntohl(a[i].addr.s_addr) & m))
			return true;
	}
	return false;
}

static int bridge_lease(struct setup *s, const struct net_addr *addrs, size_t n_addrs,
			const struct net_route *routes, size_t n_routes, struct kv_err **err)
{
	struct dhcp_lease *l = &s->b->lease;
	memset(l, 0, sizeof(*l));
	if (!n_addrs)
		return 0;
	/* The first address the kernel lists is the primary one: the pod IP. */
	l->client_ip = addrs[0].addr;
	l->prefix = addrs[0].prefix;
	inet_pton(AF_INET, BRIDGE_SERVER_ID, &l->server_id);
	l->lease_secs = LEASE_SECS;
	l->mtu = (uint16_t)(s->pod.mtu > 65535 ? 65535 : s->pod.mtu);
	memcpy(l->client_mac, s->b->guest_mac, 6);
	if (s->cfg->hostname)
		snprintf(l->hostname, sizeof(l->hostname), "%s", s->cfg->hostname);

	/*
	 * Option 121 replaces option 3 for clients that understand it (RFC
	 * 3442), so it must carry the default route too.  On-link routes
	 * (gateway 0.0.0.0) go first: a gateway outside the subnet, as
	 * Calico's 169.254.1.1, is reachable only after them.
	 */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n_routes; i++) {
			const struct net_route *rt = &routes[i];
			if (is_connected_route(rt, addrs, n_addrs) || rt->has_gw != (pass == 1))
				continue;
			if (rt->dst_len == 0 && rt->has_gw && !l->has_router) {
				l->has_router = true;
				l->router = rt->gw;
			}
			if (l->n_routes == DHCP_MAX_ROUTES) {
				kv_warn("bridge binding: more than %d routes; the rest are not "
					"offered to the guest",
					DHCP_MAX_ROUTES);
				break;
			}
			struct dhcp_route *d = &l->routes[l->n_routes++];
			d->dst = rt->dst;
			d->prefix = rt->dst_len;
			d->gw = rt->has_gw ? rt->gw : (struct in_addr){ 0 };
		}
	}
	s->b->dhcp_enabled = true;
	return load_dns(s, l, err);
}

static int setup_bridge(struct setup *s, struct kv_err **err)
{
	struct net_binding *b = s->b;
	_cleanup_(free_addrs) struct net_addr *addrs = NULL;
	_cleanup_(free_routes) struct net_route *routes = NULL;
	size_t n_addrs = 0, n_routes = 0;
	int r = net_addr_list(s->nl, s->pod.ifindex, &addrs, &n_addrs, err);
	if (r < 0)
		return r;
	r = net_route_list(s->nl, s->pod.ifindex, &routes, &n_routes, err);
	if (r < 0)
		return r;

	if (s->cfg->has_guest_mac)
		memcpy(b->guest_mac, s->cfg->guest_mac, 6);
	else
		memcpy(b->guest_mac, s->pod.mac, 6);
	r = bridge_lease(s, addrs, n_addrs, routes, n_routes, err);
	if (r < 0)
		return r;

	/*
	 * Routes that go through a gateway first, then on-link ones: a
	 * gateway route may depend on an on-link route, never the reverse.
	 * Routes the kernel derived from an address leave with the address
	 * and come back with it.
	 */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n_routes; i++) {
			const struct net_route *rt = &routes[i];
			if (is_connected_route(rt, addrs, n_addrs) || rt->has_gw != (pass == 0))
				continue;
			r = STEP(s, net_undo_route_add(b->undo, rt), net_route_del(s->nl, rt, err));
			if (r < 0)
				return step_fail(r, err);
		}
	}
	/* Secondary addresses first: deleting a primary takes its secondaries along. */
	for (size_t i = n_addrs; i-- > 0;) {
		r = STEP(s, net_undo_addr_add(b->undo, &addrs[i]),
			 net_addr_del(s->nl, &addrs[i], err));
		if (r < 0)
			return step_fail(r, err);
	}
	if (s->pod.flags & IFF_UP) {
		r = STEP(s, net_undo_link_up(b->undo, s->pod.ifindex, true),
			 net_link_set_up(s->nl, s->pod.ifindex, false, err));
		if (r < 0)
			return step_fail(r, err);
	}
	/* The guest takes eth0's MAC; two ports of one bridge must not share it. */
	uint8_t mac[6];
	r = random_mac(mac);
	if (r < 0) {
		errno = -r;
		return kv_err_errno(err, "cannot generate a MAC address");
	}
	r = STEP(s, net_undo_link_mac(b->undo, s->pod.ifindex, s->pod.mac),
		 net_link_set_mac(s->nl, s->pod.ifindex, mac, err));
	if (r < 0)
		return step_fail(r, err);

	static const uint8_t bridge_mac[6] = NET_BRIDGE_MAC;
	r = make_bridge(s, bridge_mac, err);
	if (r < 0)
		return r;
	r = STEP(s, net_undo_link_master(b->undo, s->pod.ifindex, 0),
		 net_link_set_master(s->nl, s->pod.ifindex, b->bridge_ifindex, err));
	if (r < 0)
		return step_fail(r, err);
	r = STEP(s, net_undo_link_up(b->undo, s->pod.ifindex, false),
		 net_link_set_up(s->nl, s->pod.ifindex, true, err));
	if (r < 0)
		return step_fail(r, err);
	return 0;
}

static int append(char **buf, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int append(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *piece = NULL;
	int n = vasprintf(&piece, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	char *nb = realloc(*buf, *len + (size_t)n + 1);
	if (!nb) {
		free(piece);
		return -ENOMEM;
	}
	memcpy(nb + *len, piece, (size_t)n + 1);
	free(piece);
	*buf = nb;
	*len += (size_t)n;
	return 0;
}

/* "tcp dport { 22, 80 }" for one protocol, or "" when no port uses it. */
static int port_set(char **buf, size_t *len, const struct net_port *ports, size_t n, uint8_t proto)
{
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		if (ports[i].protocol != proto)
			continue;
		if (append(buf, len, "%s%u", any ? ", " : "{ ", ports[i].port) < 0)
			return -ENOMEM;
		any = true;
	}
	if (any && append(buf, len, " }") < 0)
		return -ENOMEM;
	return any ? 1 : 0;
}

/*
 * One "<match><proto> dport { ports } dnat to <guest>" rule per protocol
 * that has listed ports.  Returns 0 or -ENOMEM.
 */
static int append_port_dnat(char **buf, size_t *len, const char *match,
			    const struct net_port *ports, size_t n, const char *guest)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	for (size_t p = 0; p < KV_ARRAY_SIZE(protos); p++) {
		const char *pn = protos[p] == IPPROTO_TCP ? "tcp" : "udp";
		size_t mark = *len;
		if (append(buf, len, "\t\t%s%s dport ", match, pn) < 0)
			return -ENOMEM;
		int any = port_set(buf, len, ports, n, protos[p]);
		if (any < 0)
			return -ENOMEM;
		if (!any) {
			/* No port of this protocol: take back the rule's prefix. */
			*len = mark;
			(*buf)[mark] = '\0';
			continue;
		}
		if (append(buf, len, " dnat to %s\n", guest) < 0)
			return -ENOMEM;
	}
	return 0;
}

char *net_masquerade_ruleset(const char *table, const char *pod_ifname, const char *bridge,
			     struct in_addr guest, struct in_addr gateway,
			     const struct net_port *ports, size_t n_ports)
{
	char g[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &guest, g, sizeof(g));
	inet_ntop(AF_INET, &gateway, gw, sizeof(gw));
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	/*
	 * Declaring, deleting and re-declaring the table makes the transaction
	 * replace a table left behind by a launcher that was SIGKILLed.
	 */
	int r = append(&buf, &len,
		       "table ip %s {}\n"
		       "delete table ip %s\n"
		       "table ip %s {\n"
		       "\tchain prerouting {\n"
		       "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
		       "\t\tiifname \"%s\" jump inbound\n"
		       "\t}\n"
		       "\tchain inbound {\n",
		       table, table, table, pod_ifname);
	if (r < 0)
		return NULL;
	if (n_ports == 0) {
		if (append(&buf, &len, "\t\tdnat to %s\n", g) < 0)
			return NULL;
	} else {
		if (append_port_dnat(&buf, &len, "", ports, n_ports, g) < 0)
			return NULL;
	}
	if (append(&buf, &len,
		   "\t}\n"
		   "\tchain output {\n"
		   "\t\ttype nat hook output priority -100; policy accept;\n") < 0)
		return NULL;
	/*
	 * Connections from inside the pod to 127.0.0.1 on a listed port reach
	 * the guest, as in KubeVirt.  Only for listed ports: with "all ports"
	 * the pod's own loopback would vanish.
	 */
	if (n_ports && append_port_dnat(&buf, &len, "ip daddr 127.0.0.1 ", ports, n_ports, g) < 0)
		return NULL;
	if (append(&buf, &len,
		   "\t}\n"
		   "\tchain postrouting {\n"
		   "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		   "\t\tip saddr %s oifname != \"%s\" masquerade\n"
		   "\t\toifname \"%s\" ip saddr 127.0.0.1 snat to %s\n"
		   "\t}\n"
		   "}\n",
		   g, bridge, bridge, gw) < 0)
		return NULL;
	return TAKE_PTR(buf);
}

static int setup_masquerade(struct setup *s, struct kv_err **err)
{
	struct net_binding *b = s->b;
	const struct net_binding_config *cfg = s->cfg;
	struct in_addr guest, gateway;
	inet_pton(AF_INET, NET_MASQ_GUEST, &guest);
	inet_pton(AF_INET, NET_MASQ_GATEWAY, &gateway);
	for (size_t i = 0; i < cfg->n_ports; i++) {
		if (!cfg->ports[i].port || (cfg->ports[i].protocol != IPPROTO_TCP &&
					    cfg->ports[i].protocol != IPPROTO_UDP))
			return kv_err_set(err, EINVAL,
					  "ports[%zu]: need a port 1-65535 and TCP or UDP", i);
	}

	if (cfg->has_guest_mac) {
		memcpy(b->guest_mac, cfg->guest_mac, 6);
	} else {
		int r = random_mac(b->guest_mac);
		if (r < 0) {
			errno = -r;
			return kv_err_errno(err, "cannot generate a MAC address");
		}
	}
	struct dhcp_lease *l = &b->lease;
	memset(l, 0, sizeof(*l));
	memcpy(l->client_mac, b->guest_mac, 6);
	l->client_ip = guest;
	l->prefix = NET_MASQ_PREFIX;
	l->server_id = gateway;
	l->has_router = true;
	l->router = gateway;
	l->lease_secs = LEASE_SECS;
	l->mtu = (uint16_t)(s->pod.mtu > 65535 ? 65535 : s->pod.mtu);
	if (cfg->hostname)
		snprintf(l->hostname, sizeof(l->hostname), "%s", cfg->hostname);
	int r = load_dns(s, l, err);
	if (r < 0)
		return r;
	b->dhcp_enabled = true;

	/* Forwarding is per namespace: only the pod's changes, and only until teardown. */
	char old[32];
	const char *fwd = "/proc/sys/net/ipv4/ip_forward";
	r = net_sysctl_set(fwd, "1", old, sizeof(old), err);
	if (r < 0)
		return r;
	r = net_undo_sysctl(b->undo, fwd, old);
	if (r < 0) {
		net_sysctl_set(fwd, old, NULL, 0, NULL);
		return step_fail(r, err);
	}

	static const uint8_t bridge_mac[6] = NET_BRIDGE_MAC;
	r = make_bridge(s, bridge_mac, err);
	if (r < 0)
		return r;
	/* Both live on the bridge, which the undo deletes: no inverses of their own. */
	struct net_addr ga = { .ifindex = b->bridge_ifindex,
			       .addr = gateway,
			       .prefix = NET_MASQ_PREFIX,
			       .has_broadcast = true };
	ga.broadcast.s_addr = gateway.s_addr | htonl(0xff);
	r = net_addr_add(s->nl, &ga, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *rl =
	    kv_strdup_printf("/proc/sys/net/ipv4/conf/%s/route_localnet", s->bridge_name);
	if (!rl)
		return kv_err_set(err, ENOMEM, "out of memory");
	r = net_sysctl_set(rl, "1", NULL, 0, err);
	if (r < 0)
		return r;

	_cleanup_free_ char *rules = net_masquerade_ruleset(
	    s->table, s->pod_ifname, s->bridge_name, guest, gateway, cfg->ports, cfg->n_ports);
	if (!rules)
		return kv_err_set(err, ENOMEM, "out of memory");
	r = STEP(s, net_undo_nft_table(b->undo, cfg->nft ? cfg->nft : "nft", s->table),
		 net_nft_apply(cfg->nft, rules, err));
	if (r < 0)
		return step_fail(r, err);
	return 0;
}

void net_binding_free(struct net_binding *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_tap_fds; i++)
		kv_close_safe(b->tap_fds[i]);
	net_undo_free(b->undo);
	free(b);
}

int net_binding_teardown(struct net_binding *b, struct kv_err **err)
{
	if (!b)
		return 0;
	/* Close our tap fds first so the tap can go; the VMM may still hold its copies. */
	for (size_t i = 0; i < b->n_tap_fds; i++)
		b->tap_fds[i] = kv_close_safe(b->tap_fds[i]);
	b->n_tap_fds = 0;
	_cleanup_net_nl_ struct net_nl *nl = NULL;
	int r = net_nl_open(&nl, err);
	if (r < 0)
		return r;
	return net_undo_run(b->undo, nl, err);
}

int net_binding_setup(const struct net_binding_config *cfg, struct net_binding **out,
		      struct kv_err **err)
{
	struct setup s = { .cfg = cfg };
	s.pod_ifname = cfg->pod_ifname ? cfg->pod_ifname : "eth0";
	s.tap_name = cfg->tap_name ? cfg->tap_name : "tap0";
	if (cfg->bridge_name) {
		s.bridge_name = cfg->bridge_name;
	} else {
		snprintf(s.bridge_buf, sizeof(s.bridge_buf), "k6t-%s", s.pod_ifname);
		s.bridge_name = s.bridge_buf;
	}
	if (cfg->nft_table) {
		s.table = cfg->nft_table;
	} else {
		snprintf(s.table_buf, sizeof(s.table_buf), "kvirt_%s", s.pod_ifname);
		for (char *p = s.table_buf; *p; p++)
			if (!isalnum((unsigned char)*p))
				*p = '_';
		s.table = s.table_buf;
	}
	if (!valid_ifname(s.pod_ifname) || !valid_ifname(s.bridge_name) ||
	    !valid_ifname(s.tap_name) || (cfg->guest_link && !valid_ifname(cfg->guest_link)))
		return kv_err_set(err, EINVAL,
				  "interface names must be 1-15 characters of [A-Za-z0-9._-]");
	if (!valid_table(s.table))
		return kv_err_set(err, EINVAL, "nft table \"%s\": use [A-Za-z][A-Za-z0-9_]*",
				  s.table);
	if (cfg->queues > NET_MAX_QUEUES)
		return kv_err_set(err, EINVAL, "%u queues; use 1 to %d", cfg->queues,
				  NET_MAX_QUEUES);

	_cleanup_net_nl_ struct net_nl *nl = NULL;
	int r = net_nl_open(&nl, err);
	if (r < 0)
		return r;
	s.nl = nl;
	struct net_binding *b = calloc(1, sizeof(*b));
	if (!b)
		return kv_err_set(err, ENOMEM, "out of memory");
	s.b = b;
	r = net_undo_new(&b->undo);
	if (r < 0) {
		net_binding_free(b);
		return kv_err_set(err, -r, "out of memory");
	}
	if (cfg->fail_at_step)
		net_undo_fail_at(b->undo, cfg->fail_at_step);

	r = net_link_get(nl, s.pod_ifname, &s.pod, err);
	if (r >= 0)
		r = cfg->kind == NET_BINDING_BRIDGE ? setup_bridge(&s, err)
						    : setup_masquerade(&s, err);
	if (r < 0) {
		kv_err_prefix(err, "%s binding on %s",
			      cfg->kind == NET_BINDING_BRIDGE ? "bridge" : "masquerade",
			      s.pod_ifname);
		/* The setup's own error is the one that matters; undo failures are logged. */
		struct kv_err *undo_err = NULL;
		for (size_t i = 0; i < b->n_tap_fds; i++)
			b->tap_fds[i] = kv_close_safe(b->tap_fds[i]);
		b->n_tap_fds = 0;
		if (net_undo_run(b->undo, nl, &undo_err) < 0)
			kv_warn("undoing a failed setup: %s", kv_err_msg(undo_err));
		kv_err_free(undo_err);
		net_binding_free(b);
		return r;
	}
	*out = b;
	return 0;
}
