/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rtnetlink through libmnl: the one file that includes libmnl (house rule 3).
 * It turns libmnl's "-1 and errno" into -errno plus a kv_err that names the
 * object, and keeps every request synchronous: send, then read until the
 * kernel's ACK or DONE, so a caller sees each change's result before the next.
 */
#include "kvirt/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "kvirt/cleanup.h"

struct net_nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	/* libmnl's MNL_SOCKET_BUFFER_SIZE is a runtime value; 32 KiB holds any dump chunk. */
	char buf[32768];
};

int net_nl_open(struct net_nl **out, struct kv_err **err)
{
	_cleanup_free_ struct net_nl *nl = calloc(1, sizeof(*nl));
	if (!nl)
		return kv_err_set(err, ENOMEM, "netlink: out of memory");
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock)
		return kv_err_errno(err, "netlink: cannot open a route socket");
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int r = kv_err_errno(err, "netlink: cannot bind");
		mnl_socket_close(nl->sock);
		return r;
	}
	/*
	 * The kernel answers every request at once; a reply that never comes
	 * is a bug, and must become an error rather than a launcher that hangs
	 * with SIGTERM blocked.
	 */
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	*out = TAKE_PTR(nl);
	return 0;
}

void net_nl_close(struct net_nl *nl)
{
	if (!nl)
		return;
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl);
}

static struct nlmsghdr *nl_msg(struct net_nl *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = type;
	/*
	 * Dumps end with NLMSG_DONE; asking for an ACK as well could leave a
	 * stray message behind that the next request would trip over.  (The
	 * flag bits are shared: NLM_F_DUMP on a GET is REPLACE|EXCL on a NEW,
	 * hence the check on the message type.)
	 */
	bool dump = type % 4 == 2 && (flags & NLM_F_DUMP) == NLM_F_DUMP;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	if (!dump)
		nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	return nlh;
}

/* Send the request in nl->buf and read replies until ACK/DONE; -errno on failure. */
static int nl_talk(struct net_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	uint32_t seq = nlh->nlmsg_seq;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		int r = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, cb, data);
		if (r < 0)
			return errno ? -errno : -EIO;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static const char *ip_str(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* ---- links ---- */

struct link_query {
	struct net_link *out;
	bool found;
};

static int link_attr_cb(const struct nlattr *attr, void *data)
{
	struct net_link *l = data;
	switch (mnl_attr_get_type(attr)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
			snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(attr));
		break;
	case IFLA_ADDRESS:
		if (mnl_attr_get_payload_len(attr) == 6)
			memcpy(l->mac, mnl_attr_get_payload(attr), 6);
		break;
	case IFLA_MTU:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			l->mtu = mnl_attr_get_u32(attr);
		break;
	case IFLA_MASTER:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			l->master = (int)mnl_attr_get_u32(attr);
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_query *q = data;
	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	memset(q->out, 0, sizeof(*q->out));
	q->out->ifindex = ifi->ifi_index;
	q->out->flags = ifi->ifi_flags;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, q->out);
	q->found = true;
	return MNL_CB_OK;
}

static int link_get(struct net_nl *nl, const char *name, int ifindex, struct net_link *out)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	struct link_query q = { .out = out };
	int r = nl_talk(nl, nlh, link_cb, &q);
	if (r < 0)
		return r;
	return q.found ? 0 : -ENODEV;
}

int net_link_get(struct net_nl *nl, const char *name, struct net_link *out, struct kv_err **err)
{
	if (strlen(name) >= IFNAMSIZ)
		return kv_err_set(err, EINVAL, "interface name \"%s\" is too long", name);
	int r = link_get(nl, name, 0, out);
	if (r < 0) {
		errno = -r;
		return kv_err_errno(err, "cannot find interface %s", name);
	}
	return 0;
}

int net_link_get_by_index(struct net_nl *nl, int ifindex, struct net_link *out, struct kv_err **err)
{
	int r = link_get(nl, NULL, ifindex, out);
	if (r < 0) {
		errno = -r;
		return kv_err_errno(err, "cannot find interface #%d", ifindex);
	}
	return 0;
}

static struct nlmsghdr *link_msg(struct net_nl *nl, uint16_t type, uint16_t flags, int ifindex)
{
	struct nlmsghdr *nlh = nl_msg(nl, type, flags);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

static int link_fail(struct kv_err **err, int r, const char *what, int ifindex)
{
	errno = -r;
	return kv_err_errno(err, "cannot %s of interface #%d", what, ifindex);
}

int net_link_set_up(struct net_nl *nl, int ifindex, bool up, struct kv_err **err)
{
	struct nlmsghdr *nlh = link_msg(nl, RTM_NEWLINK, 0, ifindex);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	int r = nl_talk(nl, nlh, NULL, NULL);
	return r < 0 ? link_fail(err, r, up ? "set up the link" : "set down the link", ifindex) : 0;
}

int net_link_set_mtu(struct net_nl *nl, int ifindex, uint32_t mtu, struct kv_err **err)
{
	struct nlmsghdr *nlh = link_msg(nl, RTM_NEWLINK, 0, ifindex);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	int r = nl_talk(nl, nlh, NULL, NULL);
	return r < 0 ? link_fail(err, r, "set the MTU", ifindex) : 0;
}

int net_link_set_mac(struct net_nl *nl, int ifindex, const uint8_t mac[6], struct kv_err **err)
{
	struct nlmsghdr *nlh = link_msg(nl, RTM_NEWLINK, 0, ifindex);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	int r = nl_talk(nl, nlh, NULL, NULL);
	return r < 0 ? link_fail(err, r, "set the MAC address", ifindex) : 0;
}

int net_link_set_master(struct net_nl *nl, int ifindex, int master, struct kv_err **err)
{
	struct nlmsghdr *nlh = link_msg(nl, RTM_NEWLINK, 0, ifindex);
	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	int r = nl_talk(nl, nlh, NULL, NULL);
	return r < 0 ? link_fail(err, r, master ? "enslave to a bridge" : "release the master",
				 ifindex)
		     : 0;
}

int net_bridge_add(struct net_nl *nl, const char *name, uint32_t mtu, const uint8_t *mac,
		   struct kv_err **err)
{
	if (strlen(name) >= IFNAMSIZ)
		return kv_err_set(err, EINVAL, "bridge name \"%s\" is too long", name);
	struct nlmsghdr *nlh = link_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, info);
	int r = nl_talk(nl, nlh, NULL, NULL);
	if (r < 0) {
		errno = -r;
		return kv_err_errno(err, "cannot create bridge %s", name);
	}
	return 0;
}

int net_link_del(struct net_nl *nl, int ifindex, struct kv_err **err)
{
	struct nlmsghdr *nlh = link_msg(nl, RTM_DELLINK, 0, ifindex);
	int r = nl_talk(nl, nlh, NULL, NULL);
	return r < 0 ? link_fail(err, r, "delete", ifindex) : 0;
}

/* ---- addresses ---- */

struct addr_query {
	int ifindex;
	struct net_addr *v;
	size_t n, cap;
	int error;
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);
	if (mnl_attr_type_valid(attr, IFA_MAX) > 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static bool attr_in4(const struct nlattr *a, struct in_addr *out)
{
	if (!a || mnl_attr_get_payload_len(a) != 4)
		return false;
	memcpy(&out->s_addr, mnl_attr_get_payload(a), 4);
	return true;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_query *q = data;
	if (nlh->nlmsg_type != RTM_NEWADDR)
		return MNL_CB_OK;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family != AF_INET || (q->ifindex && (int)ifa->ifa_index != q->ifindex))
		return MNL_CB_OK;
	const struct nlattr *tb[IFA_MAX + 1] = { 0 };
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb);
	struct net_addr a = { .ifindex = (int)ifa->ifa_index,
			      .prefix = ifa->ifa_prefixlen,
			      .scope = ifa->ifa_scope,
			      .flags = ifa->ifa_flags };
	if (!attr_in4(tb[IFA_LOCAL], &a.addr) && !attr_in4(tb[IFA_ADDRESS], &a.addr))
		return MNL_CB_OK;
	a.has_broadcast = attr_in4(tb[IFA_BROADCAST], &a.broadcast);
	if (tb[IFA_FLAGS] && mnl_attr_validate(tb[IFA_FLAGS], MNL_TYPE_U32) >= 0)
		a.flags = mnl_attr_get_u32(tb[IFA_FLAGS]);
	if (tb[IFA_LABEL] && mnl_attr_validate(tb[IFA_LABEL], MNL_TYPE_NUL_STRING) >= 0)
		snprintf(a.label, sizeof(a.label), "%s", mnl_attr_get_str(tb[IFA_LABEL]));
	if (q->n == q->cap) {
		size_t nc = q->cap ? q->cap * 2 : 4;
		struct net_addr *nv = realloc(q->v, nc * sizeof(*nv));
		if (!nv) {
			q->error = -ENOMEM;
			return MNL_CB_OK;
		}
		q->v = nv;
		q->cap = nc;
	}
	q->v[q->n++] = a;
	return MNL_CB_OK;
}

int net_addr_list(struct net_nl *nl, int ifindex, struct net_addr **out, size_t *n,
		  struct kv_err **err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	struct addr_query q = { .ifindex = ifindex };
	int r = nl_talk(nl, nlh, addr_cb, &q);
	if (r >= 0 && q.error)
		r = q.error;
	if (r < 0) {
		free(q.v);
		errno = -r;
		return kv_err_errno(err, "cannot list the addresses of interface #%d", ifindex);
	}
	*out = q.v;
	*n = q.n;
	return 0;
}

/* Flags the kernel keeps from userspace; the rest (secondary, permanent, ...) it derives. */
#define ADDR_USER_FLAGS (IFA_F_NOPREFIXROUTE | IFA_F_NODAD | IFA_F_HOMEADDRESS)

static int addr_change(struct net_nl *nl, uint16_t type, const struct net_addr *a,
		       struct kv_err **err)
{
	struct nlmsghdr *nlh =
	    nl_msg(nl, type, type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = a->prefix;
	ifa->ifa_scope = a->scope;
	ifa->ifa_index = (uint32_t)a->ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, 4, &a->addr.s_addr);
	mnl_attr_put(nlh, IFA_ADDRESS, 4, &a->addr.s_addr);
	if (type == RTM_NEWADDR) {
		if (a->has_broadcast)
			mnl_attr_put(nlh, IFA_BROADCAST, 4, &a->broadcast.s_addr);
		if (a->label[0])
			mnl_attr_put_strz(nlh, IFA_LABEL, a->label);
		uint32_t fl = a->flags & ADDR_USER_FLAGS;
		ifa->ifa_flags = (uint8_t)fl;
		if (fl)
			mnl_attr_put_u32(nlh, IFA_FLAGS, fl);
	}
	int r = nl_talk(nl, nlh, NULL, NULL);
	if (r < 0) {
		char b[INET_ADDRSTRLEN];
		errno = -r;
		return kv_err_errno(err, "cannot %s address %s/%u %s interface #%d",
				    type == RTM_NEWADDR ? "add" : "delete", ip_str(a->addr, b),
				    a->prefix, type == RTM_NEWADDR ? "to" : "from", a->ifindex);
	}
	return 0;
}

int net_addr_add(struct net_nl *nl, const struct net_addr *a, struct kv_err **err)
{
	return addr_change(nl, RTM_NEWADDR, a, err);
}

int net_addr_del(struct net_nl *nl, const struct net_addr *a, struct kv_err **err)
{
	return addr_change(nl, RTM_DELADDR, a, err);
}

/* ---- routes ---- */

struct route_query {
	int oif;
	struct net_route *v;
	size_t n, cap;
	int error;
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);
	if (mnl_attr_type_valid(attr, RTA_MAX) > 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_query *q = data;
	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = { 0 };
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
	struct net_route rt = { .table = rtm->rtm_table,
				.protocol = rtm->rtm_protocol,
				.scope = rtm->rtm_scope,
				.type = rtm->rtm_type,
				.flags = rtm->rtm_flags,
				.dst_len = rtm->rtm_dst_len };
	if (tb[RTA_TABLE] && mnl_attr_validate(tb[RTA_TABLE], MNL_TYPE_U32) >= 0)
		rt.table = mnl_attr_get_u32(tb[RTA_TABLE]);
	/*
	 * Only what the bindings move: unicast routes of the main table that
	 * leave through one interface (multipath routes have no RTA_OIF).
	 */
	if (rtm->rtm_family != AF_INET || rt.table != RT_TABLE_MAIN || rt.type != RTN_UNICAST)
		return MNL_CB_OK;
	if (!tb[RTA_OIF] || mnl_attr_validate(tb[RTA_OIF], MNL_TYPE_U32) < 0)
		return MNL_CB_OK;
	rt.oif = (int)mnl_attr_get_u32(tb[RTA_OIF]);
	if (q->oif && rt.oif != q->oif)
		return MNL_CB_OK;
	attr_in4(tb[RTA_DST], &rt.dst);
	rt.has_gw = attr_in4(tb[RTA_GATEWAY], &rt.gw);
	rt.has_prefsrc = attr_in4(tb[RTA_PREFSRC], &rt.prefsrc);
	if (tb[RTA_PRIORITY] && mnl_attr_validate(tb[RTA_PRIORITY], MNL_TYPE_U32) >= 0) {
		rt.has_priority = true;
		rt.priority = mnl_attr_get_u32(tb[RTA_PRIORITY]);
	}
	if (q->n == q->cap) {
		size_t nc = q->cap ? q->cap * 2 : 8;
		struct net_route *nv = realloc(q->v, nc * sizeof(*nv));
		if (!nv) {
			q->error = -ENOMEM;
			return MNL_CB_OK;
		}
		q->v = nv;
		q->cap = nc;
	}
	q->v[q->n++] = rt;
	return MNL_CB_OK;
}

int net_route_list(struct net_nl *nl, int oif, struct net_route **out, size_t *n,
		   struct kv_err **err)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_GETROUTE, NLM_F_DUMP);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	struct route_query q = { .oif = oif };
	int r = nl_talk(nl, nlh, route_cb, &q);
	if (r >= 0 && q.error)
		r = q.error;
	if (r < 0) {
		free(q.v);
		errno = -r;
		return kv_err_errno(err, "cannot list the routes of interface #%d", oif);
	}
	*out = q.v;
	*n = q.n;
	return 0;
}

static int route_change(struct net_nl *nl, uint16_t type, const struct net_route *rt,
			struct kv_err **err)
{
	struct nlmsghdr *nlh =
	    nl_msg(nl, type, type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = rt->dst_len;
	rtm->rtm_table = rt->table < 256 ? (uint8_t)rt->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = rt->protocol;
	rtm->rtm_scope = rt->scope;
	rtm->rtm_type = rt->type ? rt->type : RTN_UNICAST;
	rtm->rtm_flags = rt->flags & RTNH_F_ONLINK;
	mnl_attr_put_u32(nlh, RTA_TABLE, rt->table);
	if (rt->dst_len)
		mnl_attr_put(nlh, RTA_DST, 4, &rt->dst.s_addr);
	if (rt->has_gw)
		mnl_attr_put(nlh, RTA_GATEWAY, 4, &rt->gw.s_addr);
	if (rt->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)rt->oif);
	if (rt->has_prefsrc)
		mnl_attr_put(nlh, RTA_PREFSRC, 4, &rt->prefsrc.s_addr);
	if (rt->has_priority)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, rt->priority);
	int r = nl_talk(nl, nlh, NULL, NULL);
	if (r < 0) {
		char d[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
		errno = -r;
		return kv_err_errno(err, "cannot %s route %s/%u%s%s",
				    type == RTM_NEWROUTE ? "add" : "delete", ip_str(rt->dst, d),
				    rt->dst_len, rt->has_gw ? " via " : "",
				    rt->has_gw ? ip_str(rt->gw, g) : "");
	}
	return 0;
}

int net_route_add(struct net_nl *nl, const struct net_route *r, struct kv_err **err)
{
	return route_change(nl, RTM_NEWROUTE, r, err);
}

int net_route_del(struct net_nl *nl, const struct net_route *r, struct kv_err **err)
{
	return route_change(nl, RTM_DELROUTE, r, err);
}
