/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the DHCP server's pure functions (net/dhcp.c, net/resolv.c):
 * the hostile-input parser, the decision table, the reply's exact option
 * bytes, the Ethernet/IP/UDP framing, and resolv.conf parsing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "kvirt/dhcp.h"
#include "../tap.h"

static const uint8_t client_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* A client message under construction. */
struct pkt {
	uint8_t b[2048];
	size_t len;
};

static void pkt_init(struct pkt *p, uint8_t type)
{
	memset(p, 0, sizeof(*p));
	p->b[0] = 1; /* BOOTREQUEST */
	p->b[1] = 1;
	p->b[2] = 6;
	p->b[4] = 0xde;
	p->b[5] = 0xad;
	p->b[6] = 0xbe;
	p->b[7] = 0xef;
	memcpy(p->b + 28, client_mac, 6);
	p->b[236] = 99;
	p->b[237] = 130;
	p->b[238] = 83;
	p->b[239] = 99;
	p->len = 240;
	if (type) {
		p->b[p->len++] = 53;
		p->b[p->len++] = 1;
		p->b[p->len++] = type;
	}
}

static void pkt_opt(struct pkt *p, uint8_t code, uint8_t len, const void *data)
{
	p->b[p->len++] = code;
	p->b[p->len++] = len;
	memcpy(p->b + p->len, data, len);
	p->len += len;
}

static void pkt_end(struct pkt *p)
{
	p->b[p->len++] = 255;
}

static struct in_addr ip(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return a;
}

/* Find option `code` in a reply; returns its data or NULL. */
static const uint8_t *find_opt(const uint8_t *b, size_t len, uint8_t code, size_t *olen)
{
	size_t i = 240;
	while (i < len) {
		uint8_t c = b[i++];
		if (c == 0)
			continue;
		if (c == 255 || i >= len)
			return NULL;
		uint8_t l = b[i++];
		if (i + l > len)
			return NULL;
		if (c == code) {
			*olen = l;
			return b + i;
		}
		i += l;
	}
	return NULL;
}

static bool opt_is(const uint8_t *b, size_t len, uint8_t code, const uint8_t *want, size_t wlen)
{
	size_t ol = 0;
	const uint8_t *o = find_opt(b, len, code, &ol);
	if (!o || ol != wlen || memcmp(o, want, wlen)) {
		printf("#   option %u: ", code);
		if (!o)
			printf("missing");
		for (size_t i = 0; o && i < ol; i++)
			printf("%02x ", o[i]);
		printf("\n");
		return false;
	}
	return true;
}

static void test_parse_valid(void)
{
	struct pkt p;
	struct dhcp_msg m;
	pkt_init(&p, DHCPDISCOVER);
	uint8_t params[] = { 1, 3, 6, 12, 15, 26, 28, 51, 54, 119, 121 };
	pkt_opt(&p, 55, sizeof(params), params);
	uint8_t mms[] = { 0x05, 0xdc };
	pkt_opt(&p, 57, 2, mms);
	pkt_end(&p);
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_OK, "valid DISCOVER parses");
	is_int(m.msg_type, DHCPDISCOVER, "DISCOVER type");
	ok(!memcmp(m.chaddr, client_mac, 6), "chaddr");
	is_int(ntohl(m.xid), 0xdeadbeef, "xid");
	is_int(m.n_params, sizeof(params), "parameter request list length");
	is_int(m.max_msg_size, 1500, "max message size");

	pkt_init(&p, DHCPREQUEST);
	struct in_addr req = ip("10.244.1.5"), sid = ip("169.254.75.10");
	pkt_opt(&p, 50, 4, &req);
	pkt_opt(&p, 54, 4, &sid);
	pkt_end(&p);
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_OK, "valid REQUEST parses");
	ok(m.has_requested_ip && m.requested_ip.s_addr == req.s_addr, "requested IP");
	ok(m.has_server_id && m.server_id.s_addr == sid.s_addr, "server id");
}

static void test_parse_hostile(void)
{
	struct pkt p;
	struct dhcp_msg m;

	pkt_init(&p, DHCPDISCOVER);
	pkt_end(&p);
	is_int(dhcp_parse(p.b, 239, &m), DHCP_ERR_TRUNCATED, "239 bytes: truncated");
	is_int(dhcp_parse(p.b, 0, &m), DHCP_ERR_TRUNCATED, "empty: truncated");
	is_int(dhcp_parse(NULL, 300, &m), DHCP_ERR_TRUNCATED, "NULL: truncated");
	is_int(dhcp_parse(p.b, DHCP_MAX_LEN + 1, &m), DHCP_ERR_OVERSIZED, "1473 bytes: oversized");
	is_int(dhcp_parse(p.b, DHCP_MAX_LEN, &m), DHCP_OK, "1472 bytes (zero padding): accepted");

	pkt_init(&p, DHCPDISCOVER);
	p.b[238] = 0x42;
	pkt_end(&p);
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_ERR_BAD_MAGIC, "wrong magic cookie");

	pkt_init(&p, DHCPDISCOVER);
	pkt_end(&p);
	p.b[0] = 2;
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_ERR_BAD_HEADER, "op BOOTREPLY rejected");
	p.b[0] = 1;
	p.b[1] = 6;
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_ERR_BAD_HEADER, "htype IEEE802 rejected");
	p.b[1] = 1;
	p.b[2] = 16;
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_ERR_BAD_HEADER, "hlen 16 rejected");

	/* An option claiming 10 bytes when 3 are left. */
	pkt_init(&p, DHCPDISCOVER);
	p.b[p.len++] = 12;
	p.b[p.len++] = 10;
	p.b[p.len++] = 'a';
	p.b[p.len++] = 'b';
	p.b[p.len++] = 'c';
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_ERR_OPTION_OVERRUN, "option length overrun");
	/* A code as the very last byte has no length byte. */
	pkt_init(&p, DHCPDISCOVER);
	p.b[p.len++] = 12;
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_ERR_OPTION_OVERRUN, "code without length");

	pkt_init(&p, 0);
	uint8_t host[] = "vm";
	pkt_opt(&p, 12, 2, host);
	pkt_end(&p);
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_ERR_NO_MSG_TYPE, "missing message type");

	pkt_init(&p, 0);
	uint8_t two[] = { 1, 1 };
	pkt_opt(&p, 53, 2, two);
	pkt_end(&p);
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_ERR_BAD_OPTION, "message type of length 2");
	pkt_init(&p, 0);
	uint8_t nine = 9;
	pkt_opt(&p, 53, 1, &nine);
	pkt_end(&p);
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_ERR_BAD_OPTION, "message type 9");
	pkt_init(&p, DHCPREQUEST);
	uint8_t three[] = { 10, 244, 1 };
	pkt_opt(&p, 50, 3, three);
	pkt_end(&p);
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_ERR_BAD_OPTION, "requested IP of 3 bytes");
}

static void test_parse_pad_end(void)
{
	struct pkt p;
	struct dhcp_msg m;
	pkt_init(&p, 0);
	for (int i = 0; i < 20; i++)
		p.b[p.len++] = 0;
	uint8_t t = DHCPDISCOVER;
	pkt_opt(&p, 53, 1, &t);
	p.b[p.len++] = 0;
	pkt_end(&p);
	/* After END: an option that would change the type, and an overrun. */
	uint8_t req = DHCPREQUEST;
	pkt_opt(&p, 53, 1, &req);
	p.b[p.len++] = 12;
	p.b[p.len++] = 200;
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_OK, "pads skipped, bytes after END ignored");
	is_int(m.msg_type, DHCPDISCOVER, "type from before END");

	pkt_init(&p, DHCPINFORM);
	is_int(dhcp_parse(p.b, p.len, &m), DHCP_OK, "missing END tolerated");
	is_int(m.msg_type, DHCPINFORM, "INFORM type");
}

static void lease_init(struct dhcp_lease *l)
{
	memset(l, 0, sizeof(*l));
	memcpy(l->client_mac, client_mac, 6);
	l->client_ip = ip("10.244.1.5");
	l->prefix = 24;
	l->server_id = ip("169.254.75.10");
	l->has_router = true;
	l->router = ip("10.244.1.1");
	l->lease_secs = 86313600;
	l->mtu = 1400;
	strcpy(l->hostname, "vm1");
	l->dns.n_servers = 2;
	l->dns.servers[0] = ip("10.96.0.10");
	l->dns.servers[1] = ip("8.8.8.8");
	l->dns.n_search = 2;
	strcpy(l->dns.search[0], "svc.cluster.local");
	strcpy(l->dns.search[1], "cluster.local");
	l->n_routes = 2;
	l->routes[0] = (struct dhcp_route){ ip("0.0.0.0"), 0, ip("10.244.1.1") };
	l->routes[1] = (struct dhcp_route){ ip("10.96.0.0"), 12, ip("10.244.1.1") };
}

static void test_decide(void)
{
	struct dhcp_lease l;
	lease_init(&l);
	struct pkt p;
	struct dhcp_msg m;

	pkt_init(&p, DHCPDISCOVER);
	dhcp_parse(p.b, p.len, &m);
	is_int(dhcp_decide(&l, &m), DHCP_ACTION_OFFER, "DISCOVER -> OFFER");
	m.chaddr[5] ^= 1;
	is_int(dhcp_decide(&l, &m), DHCP_ACTION_IGNORE, "another MAC is ignored");

	pkt_init(&p, DHCPREQUEST);
	struct in_addr good = ip("10.244.1.5"), bad = ip("10.244.1.6"), other = ip("10.0.0.1");
	pkt_opt(&p, 50, 4, &good);
	dhcp_parse(p.b, p.len, &m);
	is_int(dhcp_decide(&l, &m), DHCP_ACTION_ACK, "REQUEST for the lease -> ACK");
	m.requested_ip = bad;
	is_int(dhcp_decide(&l, &m), DHCP_ACTION_NAK, "REQUEST for another IP -> NAK");
	m.requested_ip = good;
	m.has_server_id = true;
	m.server_id = other;
	is_int(dhcp_decide(&l, &m), DHCP_ACTION_IGNORE, "REQUEST to another server is ignored");

	pkt_init(&p, DHCPREQUEST);
	memcpy(p.b + 12, &good, 4); /* RENEWING: ciaddr, no option 50 */
	dhcp_parse(p.b, p.len, &m);
	is_int(dhcp_decide(&l, &m), DHCP_ACTION_ACK, "renewal by ciaddr -> ACK");
	pkt_init(&p, DHCPREQUEST);
	dhcp_parse(p.b, p.len, &m);
	is_int(dhcp_decide(&l, &m), DHCP_ACTION_NAK, "REQUEST without any address -> NAK");

	pkt_init(&p, DHCPINFORM);
	dhcp_parse(p.b, p.len, &m);
	is_int(dhcp_decide(&l, &m), DHCP_ACTION_INFORM_ACK, "INFORM -> ACK without lease");
	pkt_init(&p, DHCPRELEASE);
	dhcp_parse(p.b, p.len, &m);
	is_int(dhcp_decide(&l, &m), DHCP_ACTION_RELEASED, "RELEASE -> no reply");
	pkt_init(&p, DHCPDECLINE);
	dhcp_parse(p.b, p.len, &m);
	is_int(dhcp_decide(&l, &m), DHCP_ACTION_DECLINED, "DECLINE -> no reply");
}

static void test_encode_routes(void)
{
	struct {
		const char *dst;
		uint8_t prefix;
		uint8_t want[9];
		size_t wlen;
	} cases[] = {
		{ "0.0.0.0", 0, { 0, 10, 0, 0, 1 }, 5 },
		{ "10.0.0.0", 8, { 8, 10, 10, 0, 0, 1 }, 6 },
		{ "10.96.0.0", 12, { 12, 10, 96, 10, 0, 0, 1 }, 7 },
		{ "192.168.1.0", 24, { 24, 192, 168, 1, 10, 0, 0, 1 }, 8 },
		{ "192.168.1.128", 25, { 25, 192, 168, 1, 128, 10, 0, 0, 1 }, 9 },
		{ "10.1.2.3", 32, { 32, 10, 1, 2, 3, 10, 0, 0, 1 }, 9 },
		/* Host bits beyond the prefix are not sent. */
		{ "10.97.3.4", 12, { 12, 10, 96, 10, 0, 0, 1 }, 7 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dhcp_route r = { ip(cases[i].dst), cases[i].prefix, ip("10.0.0.1") };
		uint8_t buf[16];
		int n = dhcp_encode_routes(&r, 1, buf, sizeof(buf));
		ok(n == (int)cases[i].wlen && !memcmp(buf, cases[i].want, cases[i].wlen),
		   "RFC 3442 encoding of %s/%u", cases[i].dst, cases[i].prefix);
	}
	struct dhcp_route r = { ip("10.1.2.3"), 32, ip("10.0.0.1") };
	uint8_t small[8];
	is_int(dhcp_encode_routes(&r, 1, small, sizeof(small)), -ENOSPC, "no room -> ENOSPC");
	r.prefix = 33;
	is_int(dhcp_encode_routes(&r, 1, small, sizeof(small)), -EINVAL, "prefix 33 rejected");
}

static void test_build_reply(void)
{
	struct dhcp_lease l;
	lease_init(&l);
	struct pkt p;
	struct dhcp_msg m;
	pkt_init(&p, DHCPDISCOVER);
	pkt_end(&p);
	dhcp_parse(p.b, p.len, &m);
	uint8_t r[DHCP_MAX_LEN];
	int n = dhcp_build_reply(&l, &m, DHCP_ACTION_OFFER, r, sizeof(r));
	ok(n >= 300 && n <= DHCP_MIN_REPLY, "OFFER fits in 548 bytes (%d)", n);
	size_t len = n > 0 ? (size_t)n : 0;
	is_int(r[0], 2, "op BOOTREPLY");
	ok(!memcmp(r + 4, p.b + 4, 4), "xid echoed");
	ok(!memcmp(r + 16, (uint8_t[]){ 10, 244, 1, 5 }, 4), "yiaddr is the pod IP");
	ok(!memcmp(r + 28, client_mac, 6), "chaddr echoed");
	ok(opt_is(r, len, 53, (uint8_t[]){ 2 }, 1), "53: OFFER");
	ok(opt_is(r, len, 54, (uint8_t[]){ 169, 254, 75, 10 }, 4), "54: server id");
	ok(opt_is(r, len, 51, (uint8_t[]){ 0x05, 0x25, 0x0a, 0x80 }, 4), "51: 999 days");
	ok(opt_is(r, len, 1, (uint8_t[]){ 255, 255, 255, 0 }, 4), "1: /24 mask");
	ok(opt_is(r, len, 28, (uint8_t[]){ 10, 244, 1, 255 }, 4), "28: broadcast");
	ok(opt_is(r, len, 3, (uint8_t[]){ 10, 244, 1, 1 }, 4), "3: router");
	ok(opt_is(r, len, 6, (uint8_t[]){ 10, 96, 0, 10, 8, 8, 8, 8 }, 8), "6: two DNS servers");
	ok(opt_is(r, len, 26, (uint8_t[]){ 0x05, 0x78 }, 2), "26: MTU 1400");
	ok(opt_is(r, len, 12, (const uint8_t *)"vm1", 3), "12: hostname");
	ok(opt_is(r, len, 15, (const uint8_t *)"svc.cluster.local", 17), "15: first domain");
	static const uint8_t search[] = { 3,   's', 'v', 'c', 7,   'c', 'l', 'u', 's',
					  't', 'e', 'r', 5,   'l', 'o', 'c', 'a', 'l',
					  0,   7,   'c', 'l', 'u', 's', 't', 'e', 'r',
					  5,   'l', 'o', 'c', 'a', 'l', 0 };
	ok(opt_is(r, len, 119, search, sizeof(search)), "119: RFC 1035 names");
	static const uint8_t routes[] = { 0, 10, 244, 1, 1, 12, 10, 96, 10, 244, 1, 1 };
	ok(opt_is(r, len, 121, routes, sizeof(routes)), "121: default + 10.96.0.0/12");
	ok(opt_is(r, len, 249, routes, sizeof(routes)), "249: same as 121");

	n = dhcp_build_reply(&l, &m, DHCP_ACTION_NAK, r, sizeof(r));
	len = n > 0 ? (size_t)n : 0;
	ok(opt_is(r, len, 53, (uint8_t[]){ 6 }, 1), "NAK: 53 is NAK");
	ok(!memcmp(r + 16, (uint8_t[]){ 0, 0, 0, 0 }, 4), "NAK: no yiaddr");
	size_t ol;
	ok(!find_opt(r, len, 51, &ol) && !find_opt(r, len, 3, &ol), "NAK: no lease, no router");

	n = dhcp_build_reply(&l, &m, DHCP_ACTION_INFORM_ACK, r, sizeof(r));
	len = n > 0 ? (size_t)n : 0;
	ok(opt_is(r, len, 53, (uint8_t[]){ 5 }, 1), "INFORM: answered with ACK");
	ok(!find_opt(r, len, 51, &ol), "INFORM: no lease time (RFC 2131 3.4)");
	ok(!memcmp(r + 16, (uint8_t[]){ 0, 0, 0, 0 }, 4), "INFORM: no yiaddr");

	/* Too many search domains for 548 bytes: 119 is dropped, the rest stays. */
	l.dns.n_search = DHCP_MAX_SEARCH;
	for (int i = 0; i < DHCP_MAX_SEARCH; i++)
		snprintf(l.dns.search[i], sizeof(l.dns.search[i]),
			 "a-rather-long-namespace-%02d.svc.cluster.local", i);
	n = dhcp_build_reply(&l, &m, DHCP_ACTION_OFFER, r, sizeof(r));
	len = n > 0 ? (size_t)n : 0;
	ok(n > 0 && n <= DHCP_MIN_REPLY, "huge search list still fits in 548 (%d)", n);
	ok(!find_opt(r, len, 119, &ol) && find_opt(r, len, 26, &ol) && find_opt(r, len, 121, &ol),
	   "119 left out, MTU and routes kept");
	m.max_msg_size = 1500;
	n = dhcp_build_reply(&l, &m, DHCP_ACTION_OFFER, r, sizeof(r));
	len = n > 0 ? (size_t)n : 0;
	ok(n > DHCP_MIN_REPLY && find_opt(r, len, 119, &ol) && ol == 255,
	   "client announcing 1500 bytes gets 119 (split per RFC 3396)");
}

static uint16_t csum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void test_frames(void)
{
	struct dhcp_lease l;
	lease_init(&l);
	struct pkt p;
	struct dhcp_msg m;
	pkt_init(&p, DHCPDISCOVER);
	pkt_end(&p);
	dhcp_parse(p.b, p.len, &m);
	uint8_t r[DHCP_MAX_LEN], f[2048];
	static const uint8_t srv_mac[6] = { 2, 0, 0, 0, 0, 0 };
	int n = dhcp_build_reply(&l, &m, DHCP_ACTION_OFFER, r, sizeof(r));
	int fl = dhcp_frame_build(srv_mac, l.server_id, &m, DHCP_ACTION_OFFER, r, (size_t)n, f,
				  sizeof(f));
	is_int(fl, DHCP_FRAME_HDR_LEN + n, "frame length");
	ok(!memcmp(f, client_mac, 6), "no broadcast flag: unicast to the client MAC");
	ok(!memcmp(f + 14 + 16, (uint8_t[]){ 10, 244, 1, 5 }, 4), "... and to yiaddr");
	is_int(csum(f + 14, 20, 0), 0xffff, "IPv4 header checksum verifies");
	uint32_t pseudo = 0;
	pseudo = csum(f + 14 + 12, 8, 0) + 17 + (uint32_t)(8 + n);
	is_int(csum(f + 34, (size_t)(8 + n), pseudo), 0xffff, "UDP checksum verifies");

	m.flags = 0x8000;
	fl = dhcp_frame_build(srv_mac, l.server_id, &m, DHCP_ACTION_OFFER, r, (size_t)n, f,
			      sizeof(f));
	ok(f[0] == 0xff && f[5] == 0xff && !memcmp(f + 30, (uint8_t[]){ 255, 255, 255, 255 }, 4),
	   "broadcast flag: broadcast MAC and IP");
	m.flags = 0;
	fl =
	    dhcp_frame_build(srv_mac, l.server_id, &m, DHCP_ACTION_NAK, r, (size_t)n, f, sizeof(f));
	ok(f[0] == 0xff && !memcmp(f + 30, (uint8_t[]){ 255, 255, 255, 255 }, 4),
	   "NAK is always broadcast");

	/* Turn our frame into a client frame: swap ports to 68 -> 67. */
	fl = dhcp_frame_build(srv_mac, l.server_id, &m, DHCP_ACTION_OFFER, r, (size_t)n, f,
			      sizeof(f));
	const uint8_t *pl;
	size_t plen;
	uint8_t src[6];
	is_int(dhcp_frame_parse(f, (size_t)fl, &pl, &plen, src), -EINVAL,
	       "frame to port 68 is not for the server");
	f[34] = 0;
	f[35] = 68;
	f[36] = 0;
	f[37] = 67;
	is_int(dhcp_frame_parse(f, (size_t)fl, &pl, &plen, src), 0, "frame to port 67 parses");
	ok(pl == f + 42 && plen == (size_t)n && !memcmp(src, srv_mac, 6), "payload and source");
	is_int(dhcp_frame_parse(f, 41, &pl, &plen, src), -EINVAL, "truncated frame");
	f[14 + 6] = 0x20; /* MF */
	is_int(dhcp_frame_parse(f, (size_t)fl, &pl, &plen, src), -EINVAL, "fragment rejected");
	f[14 + 6] = 0;
	f[14 + 2] = 0xff; /* IP total length beyond the frame */
	is_int(dhcp_frame_parse(f, (size_t)fl, &pl, &plen, src), -EINVAL, "IP length overrun");
}

static void test_resolv(void)
{
	static const char text[] =
	    "# generated by kubelet\n"
	    "nameserver 10.96.0.10\n"
	    "nameserver\t8.8.8.8   # trailing comment\n"
	    "nameserver fd00::10\n"
	    "nameserver not-an-ip\n"
	    "search old.example\n"
	    "search default.svc.cluster.local svc.cluster.local. cluster.local\n"
	    "options ndots:5\n"
	    "; a semicolon comment\n"
	    "\n"
	    "garbage line here\n"
	    "   nameserver 1.1.1.1";
	struct dhcp_dns d;
	dhcp_resolv_parse(text, strlen(text), &d);
	is_int(d.n_servers, 3, "three IPv4 nameservers");
	ok(d.n_servers == 3 && d.servers[0].s_addr == ip("10.96.0.10").s_addr &&
	       d.servers[1].s_addr == ip("8.8.8.8").s_addr &&
	       d.servers[2].s_addr == ip("1.1.1.1").s_addr,
	   "servers in order, last line without newline");
	is_int(d.n_search, 3, "last search line wins");
	is_str(d.search[0], "default.svc.cluster.local", "search[0]");
	is_str(d.search[1], "svc.cluster.local", "trailing dot removed");
	is_str(d.search[2], "cluster.local", "search[2]");
	is_int(d.n_ignored, 3, "IPv6 server, bad server, junk line ignored");

	static const char dom[] = "domain example.org\nsearch bad..name ok.example\n";
	dhcp_resolv_parse(dom, strlen(dom), &d);
	is_int(d.n_search, 1, "invalid domain skipped");
	is_str(d.search[0], "ok.example", "valid one kept");

	char many[1024] = "";
	for (int i = 0; i < 12; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "nameserver 10.0.0.%d\n",
			 i);
	dhcp_resolv_parse(many, strlen(many), &d);
	is_int(d.n_servers, DHCP_MAX_DNS, "nameservers capped");

	static const char nul[] = "nameserver 10.0.0.1\0nameserver 10.0.0.2\n";
	dhcp_resolv_parse(nul, sizeof(nul) - 1, &d);
	is_int(d.n_servers, 0, "NUL inside a line makes it junk, never a crash");
}

int main(void)
{
	test_parse_valid();
	test_parse_hostile();
	test_parse_pad_end();
	test_decide();
	test_encode_routes();
	test_build_reply();
	test_frames();
	test_resolv();
	return tap_done();
}
