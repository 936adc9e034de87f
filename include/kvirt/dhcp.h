/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-pod DHCP server (net/dhcp.c, net/dhcp_server.c, net/resolv.c).
 *
 * It serves exactly one client: the VM behind the pod's bridge, identified by
 * its MAC.  Everything a client sends is hostile input, so the work is split
 * into pure functions that tests and the fuzzer call directly:
 *
 *	dhcp_parse()        bytes of a BOOTP message -> struct dhcp_msg, or a reason to drop
 *	dhcp_decide()       request + lease -> which reply (OFFER/ACK/NAK/none)
 *	dhcp_build_reply()  lease + request + reply type -> bytes of a BOOTP message
 *	dhcp_frame_parse()  Ethernet/IPv4/UDP frame -> the BOOTP payload inside it
 *	dhcp_frame_build()  BOOTP payload -> Ethernet/IPv4/UDP frame addressed per RFC 2131 4.1
 *	dhcp_resolv_parse() text of resolv.conf -> DNS servers and search domains
 *
 * and a thin server (struct dhcp_server) that owns one AF_PACKET socket on the
 * bridge and plugs into the caller's event loop through its fd and
 * dhcp_server_handle_readable().
 */
#ifndef KVIRT_DHCP_H
#define KVIRT_DHCP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvirt/err.h"

/* BOOTP fixed header (236 bytes) + magic cookie (4). */
#define DHCP_HEADER_LEN 236
#define DHCP_MIN_LEN	240
/*
 * Largest message we accept: a full 1500-byte Ethernet payload minus IPv4 and
 * UDP headers.  Clients send ~300 bytes; anything bigger is not a DHCP client.
 */
#define DHCP_MAX_LEN 1472
/* RFC 2131: every client must accept 576-byte IP datagrams = 548 bytes of DHCP. */
#define DHCP_MIN_REPLY	 548
#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_MAX_DNS	 8
#define DHCP_MAX_SEARCH	 16
#define DHCP_MAX_ROUTES	 32
#define DHCP_MAX_NAME	 253
#define DHCP_INFINITE	 0xffffffffu

enum dhcp_msg_type {
	DHCP_NONE = 0,
	DHCPDISCOVER = 1,
	DHCPOFFER = 2,
	DHCPREQUEST = 3,
	DHCPDECLINE = 4,
	DHCPACK = 5,
	DHCPNAK = 6,
	DHCPRELEASE = 7,
	DHCPINFORM = 8,
};

/* Why a packet was dropped; each has a counter in struct dhcp_stats. */
enum dhcp_parse_error {
	DHCP_OK = 0,
	DHCP_ERR_TRUNCATED,	 /* shorter than header + cookie */
	DHCP_ERR_OVERSIZED,	 /* longer than DHCP_MAX_LEN */
	DHCP_ERR_BAD_HEADER,	 /* op is not BOOTREQUEST, htype not Ethernet, hlen not 6 */
	DHCP_ERR_BAD_MAGIC,	 /* no 99.130.83.99 cookie */
	DHCP_ERR_OPTION_OVERRUN, /* an option's length runs past the end */
	DHCP_ERR_BAD_OPTION,	 /* a known option with an impossible length or value */
	DHCP_ERR_NO_MSG_TYPE,	 /* plain BOOTP or option 53 missing */
	DHCP_ERR__MAX,
};

const char *dhcp_parse_error_str(enum dhcp_parse_error e);

/* A parsed client message: only what the server acts on. */
struct dhcp_msg {
	uint8_t op, htype, hlen, hops;
	uint32_t xid; /* kept in network byte order: echoed verbatim */
	uint16_t secs, flags;
	struct in_addr ciaddr, yiaddr, siaddr, giaddr;
	uint8_t chaddr[16];
	uint8_t msg_type;
	bool has_requested_ip, has_server_id;
	struct in_addr requested_ip, server_id;
	uint16_t max_msg_size; /* option 57, 0 when absent */
	uint8_t n_params;      /* option 55 */
	uint8_t params[255];
	uint8_t client_id_len; /* option 61 */
	uint8_t client_id[255];
};

enum dhcp_parse_error dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *out);

struct dhcp_route {
	struct in_addr dst;
	uint8_t prefix;
	struct in_addr gw; /* 0.0.0.0: on-link */
};

/* DNS from the pod's resolv.conf. */
struct dhcp_dns {
	size_t n_servers;
	struct in_addr servers[DHCP_MAX_DNS];
	size_t n_search;
	char search[DHCP_MAX_SEARCH][DHCP_MAX_NAME + 1];
	/* Lines we understood but could not use (IPv6 servers, overflow, junk). */
	size_t n_ignored;
};

/*
 * Parse resolv.conf text (need not be NUL-terminated).  Follows the resolver:
 * "nameserver" lines accumulate, the last "search" or "domain" line wins,
 * '#' and ';' start comments, unknown lines are ignored.  Never fails.
 */
void dhcp_resolv_parse(const char *text, size_t len, struct dhcp_dns *out);
/* Read and parse a resolv.conf file (max 64 KiB). */
int dhcp_resolv_load(const char *path, struct dhcp_dns *out, struct kv_err **err);

/* Everything the server hands out to its single client. */
struct dhcp_lease {
	uint8_t client_mac[6];
	struct in_addr client_ip;
	uint8_t prefix; /* subnet mask length, 0..32 */
	struct in_addr server_id;
	bool has_router;
	struct in_addr router;
	uint32_t lease_secs; /* DHCP_INFINITE allowed */
	uint16_t mtu;	     /* 0: do not send option 26 */
	char hostname[64];   /* empty: do not send option 12 */
	struct dhcp_dns dns;
	size_t n_routes; /* classless static routes (options 121 and 249) */
	struct dhcp_route routes[DHCP_MAX_ROUTES];
};

/* What the server does with a parsed request for this lease. */
enum dhcp_action {
	DHCP_ACTION_IGNORE = 0, /* not our client, or no reply needed */
	DHCP_ACTION_OFFER,
	DHCP_ACTION_ACK,
	DHCP_ACTION_NAK,
	DHCP_ACTION_INFORM_ACK, /* ACK to INFORM: no address, no lease time */
	DHCP_ACTION_RELEASED,
	DHCP_ACTION_DECLINED,
};

enum dhcp_action dhcp_decide(const struct dhcp_lease *lease, const struct dhcp_msg *req);

/*
 * Build the BOOTP reply for `action` into buf (cap bytes, at least
 * DHCP_MIN_REPLY).  The reply fits in what the client accepts: 548 bytes
 * unless it announced more with option 57.  Optional options that do not fit
 * are left out in a fixed order of importance (249, 119, 15, 12, 121 last
 * to go).  Returns the length or -EINVAL/-ENOSPC.
 */
int dhcp_build_reply(const struct dhcp_lease *lease, const struct dhcp_msg *req,
		     enum dhcp_action action, uint8_t *buf, size_t cap);

/* Encode routes as RFC 3442 option data (without code/len); returns length or -ENOSPC. */
int dhcp_encode_routes(const struct dhcp_route *routes, size_t n, uint8_t *buf, size_t cap);
/* Encode domains as RFC 1035 names back to back (option 119 data); returns length or -errno. */
int dhcp_encode_search(const char (*names)[DHCP_MAX_NAME + 1], size_t n, uint8_t *buf, size_t cap);

/* Ethernet + IPv4 + UDP framing (what the AF_PACKET socket sees). */
#define DHCP_FRAME_HDR_LEN (14 + 20 + 8)

/*
 * Find the BOOTP payload of a client frame: Ethernet type IPv4, a sane IPv4
 * header that is not fragmented, UDP to port 67, lengths consistent.
 * Returns 0 and points *payload into frame, or -EINVAL when it is not a
 * well-formed DHCP-server datagram.
 */
int dhcp_frame_parse(const uint8_t *frame, size_t len, const uint8_t **payload, size_t *payload_len,
		     uint8_t src_mac[6]);

/*
 * Wrap a reply in Ethernet/IPv4/UDP, addressed as RFC 2131 4.1 requires:
 * NAKs and requests with the broadcast flag go to 255.255.255.255 and
 * ff:ff:ff:ff:ff:ff; a client that has an address (ciaddr) gets unicast there;
 * otherwise unicast to yiaddr at the client's hardware address (we have the
 * MAC, so no ARP is needed).  Returns the frame length or -ENOSPC.
 */
int dhcp_frame_build(const uint8_t server_mac[6], struct in_addr server_ip,
		     const struct dhcp_msg *req, enum dhcp_action action, const uint8_t *reply,
		     size_t reply_len, uint8_t *frame, size_t cap);

struct dhcp_stats {
	uint64_t rx_frames;		 /* frames read from the socket */
	uint64_t not_dhcp;		 /* not IPv4/UDP to port 67 (or our own output) */
	uint64_t dropped[DHCP_ERR__MAX]; /* by enum dhcp_parse_error */
	uint64_t dropped_total;
	uint64_t other_client; /* valid, but not our VM's MAC */
	uint64_t discovers, requests, informs, releases, declines, unexpected;
	uint64_t offers, acks, naks;
	uint64_t tx_errors;
};

struct dhcp_server;

/*
 * Open an AF_PACKET socket on the interface with this index (the bridge) and
 * serve `lease` (copied).  Replies leave with source MAC `server_mac`.
 */
int dhcp_server_new(int ifindex, const uint8_t server_mac[6], const struct dhcp_lease *lease,
		    struct dhcp_server **out, struct kv_err **err);
void dhcp_server_free(struct dhcp_server *srv);
static inline void dhcp_server_freep(struct dhcp_server **srv)
{
	dhcp_server_free(*srv);
	*srv = NULL;
}
#define _cleanup_dhcp_server_ __attribute__((cleanup(dhcp_server_freep)))

/* Non-blocking fd to poll for readability. */
int dhcp_server_fd(const struct dhcp_server *srv);
/*
 * Drain the socket (bounded per call so one noisy guest cannot starve the
 * loop) and answer.  Malformed input is counted, never fatal.  Returns 0, or
 * -errno when the socket itself failed.
 */
int dhcp_server_handle_readable(struct dhcp_server *srv);
const struct dhcp_stats *dhcp_server_stats(const struct dhcp_server *srv);
/* Feed one frame as if read from the socket (tests, fuzzing); sends replies. */
int dhcp_server_handle_frame(struct dhcp_server *srv, const uint8_t *frame, size_t len);

#endif
