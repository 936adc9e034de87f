/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DHCP server's socket side: one AF_PACKET socket on the bridge.
 *
 * Why a packet socket and not UDP: the client has no address yet, so an
 * answer must reach it by MAC.  A UDP socket would need the kernel to ARP
 * for an address the client does not have yet (or a broadcast for every
 * reply), and it needs an IPv4 address on the bridge, which the bridge
 * binding does not have.  With AF_PACKET we read the client's frames as they
 * reach the bridge and write complete Ethernet frames addressed as RFC 2131
 * 4.1 asks.  A classic BPF filter keeps everything but IPv4/UDP to port 67
 * out of our queue.
 */
#include "kvirt/dhcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/log.h"

/* Frames handled per dhcp_server_handle_readable() call before yielding to the loop. */
#define DHCP_BATCH 64

struct dhcp_server {
	int fd;
	int ifindex;
	uint8_t mac[6];
	struct dhcp_lease lease;
	struct dhcp_stats stats;
};

void dhcp_server_free(struct dhcp_server *srv)
{
	if (!srv)
		return;
	kv_close_safe(srv->fd);
	free(srv);
}

int dhcp_server_fd(const struct dhcp_server *srv)
{
	return srv->fd;
}

const struct dhcp_stats *dhcp_server_stats(const struct dhcp_server *srv)
{
	return &srv->stats;
}

/* IPv4, UDP, not a fragment, destination port 67; everything else never wakes us. */
static int attach_filter(int fd)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 8),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 16),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DHCP_SERVER_PORT, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0x40000),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = KV_ARRAY_SIZE(code), .filter = code };
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

int dhcp_server_new(int ifindex, const uint8_t server_mac[6], const struct dhcp_lease *lease,
		    struct dhcp_server **out, struct kv_err **err)
{
	_cleanup_free_ struct dhcp_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return kv_err_set(err, ENOMEM, "dhcp: out of memory");
	srv->fd = -1;
	srv->ifindex = ifindex;
	memcpy(srv->mac, server_mac, 6);
	srv->lease = *lease;

	_cleanup_close_ int fd =
	    socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_IP));
	if (fd < 0)
		return kv_err_errno(err, "dhcp: cannot open a packet socket");
	int r = attach_filter(fd);
	if (r < 0) {
		errno = -r;
		return kv_err_errno(err, "dhcp: cannot attach the socket filter");
	}
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_ifindex = ifindex,
	};
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return kv_err_errno(err, "dhcp: cannot bind to interface %d", ifindex);
	/*
	 * Frames queued between socket() and bind()/filter may come from any
	 * interface and are unfiltered: drain them before serving.
	 */
	uint8_t junk[64];
	while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) >= 0)
		;
	srv->fd = TAKE_FD(fd);
	*out = TAKE_PTR(srv);
	return 0;
}

static int send_reply(struct dhcp_server *srv, const struct dhcp_msg *req, enum dhcp_action action)
{
	uint8_t reply[DHCP_MAX_LEN];
	uint8_t frame[DHCP_FRAME_HDR_LEN + DHCP_MAX_LEN];
	int n = dhcp_build_reply(&srv->lease, req, action, reply, sizeof(reply));
	if (n < 0)
		return n;
	int fl = dhcp_frame_build(srv->mac, srv->lease.server_id, req, action, reply, (size_t)n,
				  frame, sizeof(frame));
	if (fl < 0)
		return fl;
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_ifindex = srv->ifindex,
		.sll_halen = 6,
	};
	memcpy(sll.sll_addr, frame, 6);
	ssize_t w =
	    sendto(srv->fd, frame, (size_t)fl, MSG_DONTWAIT, (struct sockaddr *)&sll, sizeof(sll));
	if (w < 0)
		return -errno;
	return 0;
}

static const char *mac_str(const uint8_t *m, char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

int dhcp_server_handle_frame(struct dhcp_server *srv, const uint8_t *frame, size_t len)
{
	struct dhcp_stats *st = &srv->stats;
	const uint8_t *payload;
	size_t plen;
	uint8_t src_mac[6];
	if (dhcp_frame_parse(frame, len, &payload, &plen, src_mac) < 0) {
		st->not_dhcp++;
		return 0;
	}
	struct dhcp_msg req;
	enum dhcp_parse_error pe = dhcp_parse(payload, plen, &req);
	if (pe != DHCP_OK) {
		st->dropped[pe]++;
		st->dropped_total++;
		kv_debug("dhcp: dropped a %zu-byte message: %s", plen, dhcp_parse_error_str(pe));
		return 0;
	}
	switch (req.msg_type) {
	case DHCPDISCOVER: st->discovers++; break;
	case DHCPREQUEST: st->requests++; break;
	case DHCPINFORM: st->informs++; break;
	case DHCPRELEASE: st->releases++; break;
	case DHCPDECLINE: st->declines++; break;
	default: st->unexpected++; break;
	}
	enum dhcp_action action = dhcp_decide(&srv->lease, &req);
	/* The frame's sender must be the client it claims to be. */
	if (memcmp(src_mac, req.chaddr, 6))
		action = DHCP_ACTION_IGNORE;
	char mbuf[18];
	switch (action) {
	case DHCP_ACTION_IGNORE:
		if (memcmp(req.chaddr, srv->lease.client_mac, 6) || memcmp(src_mac, req.chaddr, 6))
			st->other_client++;
		return 0;
	case DHCP_ACTION_RELEASED:
		/* The lease is the VM's for its lifetime; nothing to free. */
		return 0;
	case DHCP_ACTION_DECLINED:
		/* Someone else on the pod network answers ARP for the pod IP. */
		kv_warn("dhcp: client %s declined %s (address conflict?)",
			mac_str(req.chaddr, mbuf), inet_ntoa(srv->lease.client_ip));
		return 0;
	default: break;
	}
	int r = send_reply(srv, &req, action);
	if (r < 0) {
		st->tx_errors++;
		kv_debug("dhcp: cannot send reply: %s", strerror(-r));
		return 0;
	}
	if (action == DHCP_ACTION_OFFER)
		st->offers++;
	else if (action == DHCP_ACTION_NAK)
		st->naks++;
	else
		st->acks++;
	kv_debug("dhcp: %s to %s",
		 action == DHCP_ACTION_OFFER ? "OFFER"
		 : action == DHCP_ACTION_NAK ? "NAK"
					     : "ACK",
		 mac_str(req.chaddr, mbuf));
	return 0;
}

int dhcp_server_handle_readable(struct dhcp_server *srv)
{
	/* Room for one byte more than the largest valid frame, to see oversize. */
	uint8_t frame[DHCP_FRAME_HDR_LEN + DHCP_MAX_LEN + 1];
	for (int i = 0; i < DHCP_BATCH; i++) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(srv->fd, frame, sizeof(frame), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR || errno == ENETDOWN)
				continue;
			return -errno;
		}
		srv->stats.rx_frames++;
		if (from.sll_pkttype == PACKET_OUTGOING) {
			srv->stats.not_dhcp++;
			continue;
		}
		if ((size_t)n > sizeof(frame) - 1) {
			srv->stats.dropped[DHCP_ERR_OVERSIZED]++;
			srv->stats.dropped_total++;
			continue;
		}
		dhcp_server_handle_frame(srv, frame, (size_t)n);
	}
	return 0;
}
