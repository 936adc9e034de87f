/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DHCP message parsing and building (RFC 2131, 2132, 3442, 3397).  Pure
 * functions: no I/O, no allocation, no global state, so the unit tests and
 * the fuzzer drive them directly.  Every length comes from the packet and is
 * checked against the buffer before it is used.
 */
#include "kvirt/dhcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#define BOOTREQUEST 1
#define BOOTREPLY   2
#define HTYPE_ETHER 1

#define OPT_PAD		    0
#define OPT_SUBNET_MASK	    1
#define OPT_ROUTER	    3
#define OPT_DNS		    6
#define OPT_HOSTNAME	    12
#define OPT_DOMAIN_NAME	    15
#define OPT_MTU		    26
#define OPT_BROADCAST	    28
#define OPT_REQUESTED_IP    50
#define OPT_LEASE_TIME	    51
#define OPT_OVERLOAD	    52
#define OPT_MSG_TYPE	    53
#define OPT_SERVER_ID	    54
#define OPT_PARAM_LIST	    55
#define OPT_MAX_MSG_SIZE    57
#define OPT_RENEWAL_T1	    58
#define OPT_REBINDING_T2    59
#define OPT_CLIENT_ID	    61
#define OPT_DOMAIN_SEARCH   119
#define OPT_CLASSLESS	    121
#define OPT_MS_CLASSLESS    249
#define OPT_END		    255
#define DHCP_FLAG_BROADCAST 0x8000

static const uint8_t magic_cookie[4] = { 99, 130, 83, 99 };

const char *dhcp_parse_error_str(enum dhcp_parse_error e)
{
	switch (e) {
	case DHCP_OK: return "ok";
	case DHCP_ERR_TRUNCATED: return "truncated";
	case DHCP_ERR_OVERSIZED: return "oversized";
	case DHCP_ERR_BAD_HEADER: return "bad header";
	case DHCP_ERR_BAD_MAGIC: return "bad magic cookie";
	case DHCP_ERR_OPTION_OVERRUN: return "option overrun";
	case DHCP_ERR_BAD_OPTION: return "bad option";
	case DHCP_ERR_NO_MSG_TYPE: return "no message type";
	case DHCP_ERR__MAX: break;
	}
	return "unknown";
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static struct in_addr get_addr(const uint8_t *p)
{
	struct in_addr a;
	memcpy(&a.s_addr, p, 4); /* already network order */
	return a;
}

/* One option's effect on the message; a wrong length for a fixed-size option is hostile. */
static enum dhcp_parse_error parse_option(uint8_t code, const uint8_t *v, uint8_t len,
					  struct dhcp_msg *m)
{
	switch (code) {
	case OPT_MSG_TYPE:
		if (len != 1 || v[0] < DHCPDISCOVER || v[0] > DHCPINFORM)
			return DHCP_ERR_BAD_OPTION;
		/* First occurrence wins: a second type option cannot change the verdict. */
		if (!m->msg_type)
			m->msg_type = v[0];
		break;
	case OPT_REQUESTED_IP:
		if (len != 4)
			return DHCP_ERR_BAD_OPTION;
		m->has_requested_ip = true;
		m->requested_ip = get_addr(v);
		break;
	case OPT_SERVER_ID:
		if (len != 4)
			return DHCP_ERR_BAD_OPTION;
		m->has_server_id = true;
		m->server_id = get_addr(v);
		break;
	case OPT_MAX_MSG_SIZE:
		if (len != 2)
			return DHCP_ERR_BAD_OPTION;
		m->max_msg_size = get_be16(v);
		break;
	case OPT_PARAM_LIST:
		memcpy(m->params, v, len);
		m->n_params = len;
		break;
	case OPT_CLIENT_ID:
		memcpy(m->client_id, v, len);
		m->client_id_len = len;
		break;
	default:
		/*
		 * Everything else (including option overload, 52) is skipped:
		 * we never read sname/file as options, so a client that puts
		 * required options there is simply not understood.
		 */
		break;
	}
	return DHCP_OK;
}

enum dhcp_parse_error dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *out)
{
	memset(out, 0, sizeof(*out));
	if (!buf || len < DHCP_MIN_LEN)
		return DHCP_ERR_TRUNCATED;
	if (len > DHCP_MAX_LEN)
		return DHCP_ERR_OVERSIZED;

	out->op = buf[0];
	out->htype = buf[1];
	out->hlen = buf[2];
	out->hops = buf[3];
	memcpy(&out->xid, buf + 4, 4);
	out->secs = get_be16(buf + 8);
	out->flags = get_be16(buf + 10);
	out->ciaddr = get_addr(buf + 12);
	out->yiaddr = get_addr(buf + 16);
	out->siaddr = get_addr(buf + 20);
	out->giaddr = get_addr(buf + 24);
	memcpy(out->chaddr, buf + 28, 16);
	if (out->op != BOOTREQUEST || out->htype != HTYPE_ETHER || out->hlen != 6)
		return DHCP_ERR_BAD_HEADER;
	if (memcmp(buf + DHCP_HEADER_LEN, magic_cookie, 4))
		return DHCP_ERR_BAD_MAGIC;

	size_t i = DHCP_MIN_LEN;
	while (i < len) {
		uint8_t code = buf[i++];
		if (code == OPT_PAD)
			continue;
		if (code == OPT_END)
			break; /* trailing bytes after END are padding by definition */
		if (i >= len)
			return DHCP_ERR_OPTION_OVERRUN;
		uint8_t olen = buf[i++];
		if (olen > len - i)
			return DHCP_ERR_OPTION_OVERRUN;
		enum dhcp_parse_error e = parse_option(code, buf + i, olen, out);
		if (e != DHCP_OK)
			return e;
		i += olen;
	}
	/*
	 * A missing END is tolerated (the buffer end terminates the list):
	 * several embedded clients omit it, and nothing after the last
	 * complete option is ever read.
	 */
	if (!out->msg_type)
		return DHCP_ERR_NO_MSG_TYPE;
	return DHCP_OK;
}

enum dhcp_action dhcp_decide(const struct dhcp_lease *lease, const struct dhcp_msg *req)
{
	if (memcmp(req->chaddr, lease->client_mac, 6))
		return DHCP_ACTION_IGNORE;
	/* Relayed requests cannot come from the VM on our bridge. */
	if (req->giaddr.s_addr)
		return DHCP_ACTION_IGNORE;

	switch (req->msg_type) {
	case DHCPDISCOVER: return DHCP_ACTION_OFFER;
	case DHCPREQUEST: {
		/* SELECTING for another server's offer: stay silent (RFC 2131 4.3.2). */
		if (req->has_server_id && req->server_id.s_addr != lease->server_id.s_addr)
			return DHCP_ACTION_IGNORE;
		struct in_addr want = req->has_requested_ip ? req->requested_ip : req->ciaddr;
		if (want.s_addr == lease->client_ip.s_addr)
			return DHCP_ACTION_ACK;
		return DHCP_ACTION_NAK;
	}
	case DHCPINFORM: return DHCP_ACTION_INFORM_ACK;
	case DHCPRELEASE: return DHCP_ACTION_RELEASED;
	case DHCPDECLINE: return DHCP_ACTION_DECLINED;
	default: return DHCP_ACTION_IGNORE;
	}
}

static uint32_t prefix_to_mask(uint8_t prefix)
{
	return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}

int dhcp_encode_routes(const struct dhcp_route *routes, size_t n, uint8_t *buf, size_t cap)
{
	size_t off = 0;
	for (size_t r = 0; r < n; r++) {
		uint8_t prefix = routes[r].prefix;
		if (prefix > 32)
			return -EINVAL;
		/* RFC 3442: only the significant octets of the destination are sent. */
		size_t sig = (prefix + 7u) / 8u;
		if (cap - off < 1 + sig + 4)
			return -ENOSPC;
		uint32_t dst = ntohl(routes[r].dst.s_addr) & prefix_to_mask(prefix);
		buf[off++] = prefix;
		for (size_t b = 0; b < sig; b++)
			buf[off++] = (uint8_t)(dst >> (24 - 8 * b));
		memcpy(buf + off, &routes[r].gw.s_addr, 4);
		off += 4;
	}
	return (int)off;
}

int dhcp_encode_search(const char (*names)[DHCP_MAX_NAME + 1], size_t n, uint8_t *buf, size_t cap)
{
	size_t off = 0;
	for (size_t d = 0; d < n; d++) {
		const char *p = names[d];
		size_t name_start = off;
		while (*p) {
			const char *dot = strchr(p, '.');
			size_t l = dot ? (size_t)(dot - p) : strlen(p);
			if (l == 0 || l > 63)
				return -EINVAL;
			if (cap - off < l + 1)
				return -ENOSPC;
			buf[off++] = (uint8_t)l;
			memcpy(buf + off, p, l);
			off += l;
			p += l;
			if (*p == '.')
				p++;
		}
		if (off == name_start)
			return -EINVAL; /* the root domain is not a search domain */
		if (cap - off < 1)
			return -ENOSPC;
		buf[off++] = 0;
		if (off - name_start > 255)
			return -EINVAL;
	}
	return (int)off;
}

/* A growing options area; `reserve` keeps room for the END byte. */
struct opt_writer {
	uint8_t *buf;
	size_t off, cap;
};

static int opt_put(struct opt_writer *w, uint8_t code, const void *data, size_t len)
{
	/* RFC 3396: options longer than 255 bytes are split into consecutive instances. */
	size_t pieces = len ? (len + 254) / 255 : 1;
	if (w->cap - w->off < len + 2 * pieces + 1)
		return -ENOSPC;
	const uint8_t *d = data;
	do {
		size_t chunk = len > 255 ? 255 : len;
		w->buf[w->off++] = code;
		w->buf[w->off++] = (uint8_t)chunk;
		if (chunk)
			memcpy(w->buf + w->off, d, chunk);
		w->off += chunk;
		d += chunk;
		len -= chunk;
	} while (len);
	return 0;
}

static int opt_put_u32(struct opt_writer *w, uint8_t code, uint32_t host_order)
{
	uint8_t v[4];
	put_be32(v, host_order);
	return opt_put(w, code, v, 4);
}

static int opt_put_addr(struct opt_writer *w, uint8_t code, struct in_addr a)
{
	return opt_put(w, code, &a.s_addr, 4);
}

int dhcp_build_reply(const struct dhcp_lease *lease, const struct dhcp_msg *req,
		     enum dhcp_action action, uint8_t *buf, size_t cap)
{
	uint8_t type;
	switch (action) {
	case DHCP_ACTION_OFFER: type = DHCPOFFER; break;
	case DHCP_ACTION_ACK:
	case DHCP_ACTION_INFORM_ACK: type = DHCPACK; break;
	case DHCP_ACTION_NAK: type = DHCPNAK; break;
	default: return -EINVAL;
	}
	if (cap < DHCP_MIN_REPLY || lease->prefix > 32)
		return -EINVAL;

	/* Never send more than the client said it can take (RFC 2132 9.10). */
	size_t limit = DHCP_MIN_REPLY;
	if (req->max_msg_size > 576 && (size_t)req->max_msg_size - 28 > limit)
		limit = (size_t)req->max_msg_size - 28;
	if (limit > DHCP_MAX_LEN)
		limit = DHCP_MAX_LEN;
	if (limit > cap)
		limit = cap;

	memset(buf, 0, limit);
	buf[0] = BOOTREPLY;
	buf[1] = HTYPE_ETHER;
	buf[2] = 6;
	memcpy(buf + 4, &req->xid, 4);
	put_be16(buf + 10, req->flags);
	if (action != DHCP_ACTION_NAK) {
		memcpy(buf + 12, &req->ciaddr.s_addr, 4);
		if (action != DHCP_ACTION_INFORM_ACK)
			memcpy(buf + 16, &lease->client_ip.s_addr, 4);
	}
	memcpy(buf + 28, req->chaddr, 16);
	memcpy(buf + DHCP_HEADER_LEN, magic_cookie, 4);

	struct opt_writer w = { .buf = buf, .off = DHCP_MIN_LEN, .cap = limit };
	if (opt_put(&w, OPT_MSG_TYPE, &type, 1) < 0 ||
	    opt_put_addr(&w, OPT_SERVER_ID, lease->server_id) < 0)
		return -ENOSPC;
	if (action == DHCP_ACTION_NAK)
		goto end;

	if (action != DHCP_ACTION_INFORM_ACK) {
		uint32_t t = lease->lease_secs;
		if (opt_put_u32(&w, OPT_LEASE_TIME, t) < 0)
			return -ENOSPC;
		if (t != DHCP_INFINITE) {
			/* RFC 2131 defaults, sent explicitly so clients agree with us. */
			if (opt_put_u32(&w, OPT_RENEWAL_T1, t / 2) < 0 ||
			    opt_put_u32(&w, OPT_REBINDING_T2, (uint32_t)((uint64_t)t * 7 / 8)) < 0)
				return -ENOSPC;
		}
	}
	uint32_t mask = prefix_to_mask(lease->prefix);
	if (opt_put_u32(&w, OPT_SUBNET_MASK, mask) < 0)
		return -ENOSPC;
	if (lease->prefix < 31) {
		uint32_t bcast = ntohl(lease->client_ip.s_addr) | ~mask;
		if (opt_put_u32(&w, OPT_BROADCAST, bcast) < 0)
			return -ENOSPC;
	}
	if (lease->has_router && opt_put_addr(&w, OPT_ROUTER, lease->router) < 0)
		return -ENOSPC;
	if (lease->dns.n_servers &&
	    opt_put(&w, OPT_DNS, lease->dns.servers, 4 * lease->dns.n_servers) < 0)
		return -ENOSPC;
	if (lease->mtu) {
		uint8_t v[2];
		put_be16(v, lease->mtu);
		if (opt_put(&w, OPT_MTU, v, 2) < 0)
			return -ENOSPC;
	}

	/* Optional, in order of importance: each is skipped when it does not fit. */
	uint8_t tmp[1024];
	if (lease->n_routes) {
		int n = dhcp_encode_routes(lease->routes, lease->n_routes, tmp, sizeof(tmp));
		if (n > 0) {
			(void)opt_put(&w, OPT_CLASSLESS, tmp, (size_t)n);
			(void)opt_put(&w, OPT_MS_CLASSLESS, tmp, (size_t)n);
		}
	}
	size_t hl = strnlen(lease->hostname, sizeof(lease->hostname));
	if (hl)
		(void)opt_put(&w, OPT_HOSTNAME, lease->hostname, hl);
	if (lease->dns.n_search) {
		/* Option 15 is the first search domain, for clients without 119. */
		const char *first = lease->dns.search[0];
		(void)opt_put(&w, OPT_DOMAIN_NAME, first, strlen(first));
		int n =
		    dhcp_encode_search(lease->dns.search, lease->dns.n_search, tmp, sizeof(tmp));
		if (n > 0)
			(void)opt_put(&w, OPT_DOMAIN_SEARCH, tmp, (size_t)n);
	}
end:
	if (w.off >= w.cap)
		return -ENOSPC;
	buf[w.off++] = OPT_END;
	/* Pad to the BOOTP minimum of 300 bytes: some old clients reject shorter replies. */
	if (w.off < 300 && limit >= 300)
		w.off = 300;
	return (int)w.off;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int dhcp_frame_parse(const uint8_t *frame, size_t len, const uint8_t **payload, size_t *payload_len,
		     uint8_t src_mac[6])
{
	if (len < DHCP_FRAME_HDR_LEN)
		return -EINVAL;
	if (get_be16(frame + 12) != 0x0800)
		return -EINVAL;
	const uint8_t *ip = frame + 14;
	size_t ip_room = len - 14;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || ihl < 20 || ihl + 8 > ip_room)
		return -EINVAL;
	size_t tot = get_be16(ip + 2);
	/* Ethernet may pad short frames, so the IP length may be less than what we read. */
	if (tot < ihl + 8 || tot > ip_room)
		return -EINVAL;
	if (get_be16(ip + 6) & 0x3fff) /* MF set or a fragment offset: not reassembled here */
		return -EINVAL;
	if (ip[9] != IPPROTO_UDP)
		return -EINVAL;
	const uint8_t *udp = ip + ihl;
	if (get_be16(udp + 2) != DHCP_SERVER_PORT)
		return -EINVAL;
	size_t ulen = get_be16(udp + 4);
	if (ulen < 8 || ulen > tot - ihl)
		return -EINVAL;
	*payload = udp + 8;
	*payload_len = ulen - 8;
	if (src_mac)
		memcpy(src_mac, frame + 6, 6);
	return 0;
}

int dhcp_frame_build(const uint8_t server_mac[6], struct in_addr server_ip,
		     const struct dhcp_msg *req, enum dhcp_action action, const uint8_t *reply,
		     size_t reply_len, uint8_t *frame, size_t cap)
{
	static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	if (reply_len > DHCP_MAX_LEN || cap < DHCP_FRAME_HDR_LEN + reply_len)
		return -ENOSPC;

	const uint8_t *dst_mac = req->chaddr;
	uint32_t dst_ip;
	if (action == DHCP_ACTION_NAK || (req->flags & DHCP_FLAG_BROADCAST)) {
		dst_mac = bcast_mac;
		dst_ip = INADDR_BROADCAST;
	} else if (req->ciaddr.s_addr) {
		dst_ip = ntohl(req->ciaddr.s_addr);
	} else {
		/* yiaddr of the reply */
		dst_ip = get_be32(reply + 16);
	}
	if (action == DHCP_ACTION_INFORM_ACK && !req->ciaddr.s_addr) {
		dst_mac = bcast_mac;
		dst_ip = INADDR_BROADCAST;
	}

	memcpy(frame, dst_mac, 6);
	memcpy(frame + 6, server_mac, 6);
	put_be16(frame + 12, 0x0800);

	uint8_t *ip = frame + 14;
	size_t udp_len = 8 + reply_len;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[1] = 0x10; /* low delay, as other DHCP servers do */
	put_be16(ip + 2, (uint16_t)(20 + udp_len));
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &server_ip.s_addr, 4);
	put_be32(ip + 16, dst_ip);
	put_be16(ip + 10, csum_fold(csum_add(0, ip, 20)));

	uint8_t *udp = ip + 20;
	put_be16(udp, DHCP_SERVER_PORT);
	put_be16(udp + 2, DHCP_CLIENT_PORT);
	put_be16(udp + 4, (uint16_t)udp_len);
	put_be16(udp + 6, 0);
	memcpy(udp + 8, reply, reply_len);

	/* UDP checksum over the pseudo header; clients verify it when non-zero. */
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP;
	put_be16(pseudo + 10, (uint16_t)udp_len);
	uint16_t c = csum_fold(csum_add(csum_add(0, pseudo, 12), udp, udp_len));
	put_be16(udp + 6, c ? c : 0xffff);
	return (int)(DHCP_FRAME_HDR_LEN + reply_len);
}
