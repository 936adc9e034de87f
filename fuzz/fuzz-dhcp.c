/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the DHCP server's input side: whatever a guest can put on
 * the bridge goes through dhcp_frame_parse() and dhcp_parse(); a message that
 * parses is answered with every kind of reply, built and framed, as the
 * server would.  resolv.conf parsing rides along on the same bytes.
 * Seed corpus: fuzz/corpus/dhcp/ (valid-* parse, bad-* must be dropped).
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kvirt/dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void answer(const struct dhcp_msg *m)
{
	struct dhcp_lease lease;
	memset(&lease, 0, sizeof(lease));
	/* Our client, so every reply path runs. */
	memcpy(lease.client_mac, m->chaddr, 6);
	lease.client_ip.s_addr = htonl(0x0af40105);
	lease.prefix = 24;
	lease.server_id.s_addr = htonl(0xa9fe4b0a);
	lease.has_router = true;
	lease.router.s_addr = htonl(0x0af40101);
	lease.lease_secs = 86313600;
	lease.mtu = 1400;
	memcpy(lease.hostname, "vm", 3);
	lease.dns.n_servers = 1;
	lease.dns.servers[0].s_addr = htonl(0x0a60000a);
	lease.dns.n_search = 1;
	memcpy(lease.dns.search[0], "cluster.local", 14);
	lease.n_routes = 1;
	lease.routes[0].gw = lease.router;

	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 0 };
	uint8_t reply[DHCP_MAX_LEN], frame[DHCP_FRAME_HDR_LEN + DHCP_MAX_LEN];
	enum dhcp_action decided = dhcp_decide(&lease, m);
	(void)decided;
	for (int a = DHCP_ACTION_OFFER; a <= DHCP_ACTION_INFORM_ACK; a++) {
		int n = dhcp_build_reply(&lease, m, (enum dhcp_action)a, reply, sizeof(reply));
		if (n > 0)
			(void)dhcp_frame_build(mac, lease.server_id, m, (enum dhcp_action)a, reply,
					       (size_t)n, frame, sizeof(frame));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dhcp_msg m;
	if (dhcp_parse(data, size, &m) == DHCP_OK)
		answer(&m);

	const uint8_t *payload;
	size_t plen;
	uint8_t src[6];
	if (dhcp_frame_parse(data, size, &payload, &plen, src) == 0 &&
	    dhcp_parse(payload, plen, &m) == DHCP_OK)
		answer(&m);

	struct dhcp_dns dns;
	dhcp_resolv_parse((const char *)data, size, &dns);
	return 0;
}
