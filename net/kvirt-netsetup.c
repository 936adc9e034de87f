/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvirt-netsetup: set a pod-network binding up in the current network
 * namespace, serve DHCP to the guest, and on SIGTERM/SIGINT restore the
 * namespace.  It is what the launcher does around the VMM, without the VMM,
 * so the network can be tested (and debugged) on its own:
 *
 *	ip netns exec pod kvirt-netsetup --binding bridge --guest-link vg0
 *
 * prints "READY guest_mac=... bridge=... " once the guest may start DHCP,
 * and "STATS ..." with the DHCP counters before it exits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/dhcp.h"
#include "kvirt/log.h"
#include "kvirt/net.h"
#include "kvirt/util.h"

#define MAX_PORTS 64

static void usage(FILE *f)
{
	fprintf(f, "usage: kvirt-netsetup --binding bridge|masquerade [options]\n"
		   "  --iface NAME        pod interface (eth0)\n"
		   "  --bridge NAME       bridge name (k6t-<iface>)\n"
		   "  --tap NAME          tap name (tap0)\n"
		   "  --queues N          tap queues (1)\n"
		   "  --guest-link NAME   attach this existing link instead of a tap\n"
		   "  --mac MAC           guest MAC (bridge: the pod's; masquerade: random)\n"
		   "  --resolv PATH       resolv.conf for DNS options (/etc/resolv.conf)\n"
		   "  --hostname NAME     DHCP option 12\n"
		   "  --port [tcp:|udp:]N forward a port (masquerade; repeatable; none = all)\n"
		   "  --nft-table NAME    nftables table (kvirt_<iface>)\n"
		   "  --fail-at N         test hook: fail the N-th setup step\n"
		   "  --once              set up, print READY, tear down, exit\n");
}

static int parse_port(const char *s, struct net_port *p)
{
	p->protocol = IPPROTO_TCP;
	if (!strncmp(s, "tcp:", 4)) {
		s += 4;
	} else if (!strncmp(s, "udp:", 4)) {
		p->protocol = IPPROTO_UDP;
		s += 4;
	}
	uint64_t v;
	if (kv_parse_u64(s, &v) < 0 || v == 0 || v > 65535)
		return -EINVAL;
	p->port = (uint16_t)v;
	return 0;
}

static void print_stats(const struct dhcp_stats *st)
{
	printf("STATS rx=%llu not_dhcp=%llu dropped=%llu other_client=%llu discovers=%llu "
	       "requests=%llu offers=%llu acks=%llu naks=%llu informs=%llu releases=%llu "
	       "declines=%llu tx_errors=%llu\n",
	       (unsigned long long)st->rx_frames, (unsigned long long)st->not_dhcp,
	       (unsigned long long)st->dropped_total, (unsigned long long)st->other_client,
	       (unsigned long long)st->discovers, (unsigned long long)st->requests,
	       (unsigned long long)st->offers, (unsigned long long)st->acks,
	       (unsigned long long)st->naks, (unsigned long long)st->informs,
	       (unsigned long long)st->releases, (unsigned long long)st->declines,
	       (unsigned long long)st->tx_errors);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	kv_log_init("kvirt-netsetup");
	static const struct option opts[] = {
		{ "binding", required_argument, NULL, 'b' },
		{ "iface", required_argument, NULL, 'i' },
		{ "bridge", required_argument, NULL, 'B' },
		{ "tap", required_argument, NULL, 't' },
		{ "queues", required_argument, NULL, 'q' },
		{ "guest-link", required_argument, NULL, 'g' },
		{ "mac", required_argument, NULL, 'm' },
		{ "resolv", required_argument, NULL, 'r' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "nft-table", required_argument, NULL, 'T' },
		{ "fail-at", required_argument, NULL, 'F' },
		{ "once", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct net_binding_config cfg = { .kind = NET_BINDING_BRIDGE };
	struct net_port ports[MAX_PORTS];
	bool once = false, have_binding = false;
	uint64_t v;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			have_binding = true;
			if (!strcmp(optarg, "bridge")) {
				cfg.kind = NET_BINDING_BRIDGE;
			} else if (!strcmp(optarg, "masquerade")) {
				cfg.kind = NET_BINDING_MASQUERADE;
			} else {
				kv_error("--binding: \"%s\" is neither bridge nor masquerade",
					 optarg);
				return 2;
			}
			break;
		case 'i': cfg.pod_ifname = optarg; break;
		case 'B': cfg.bridge_name = optarg; break;
		case 't': cfg.tap_name = optarg; break;
		case 'q':
			if (kv_parse_u64(optarg, &v) < 0 || v < 1 || v > NET_MAX_QUEUES) {
				kv_error("--queues: \"%s\" is not 1-%d", optarg, NET_MAX_QUEUES);
				return 2;
			}
			cfg.queues = (unsigned)v;
			break;
		case 'g': cfg.guest_link = optarg; break;
		case 'm':
			if (net_parse_mac(optarg, cfg.guest_mac) < 0) {
				kv_error(
				    "--mac: \"%s\" is not a unicast MAC like 02:11:22:33:44:55",
				    optarg);
				return 2;
			}
			cfg.has_guest_mac = true;
			break;
		case 'r': cfg.resolv_conf = optarg; break;
		case 'H': cfg.hostname = optarg; break;
		case 'p':
			if (cfg.n_ports == MAX_PORTS ||
			    parse_port(optarg, &ports[cfg.n_ports]) < 0) {
				kv_error("--port: \"%s\" is not [tcp:|udp:]1-65535 (max %d ports)",
					 optarg, MAX_PORTS);
				return 2;
			}
			cfg.n_ports++;
			break;
		case 'T': cfg.nft_table = optarg; break;
		case 'F':
			if (kv_parse_u64(optarg, &v) < 0) {
				kv_error("--fail-at: \"%s\" is not a number", optarg);
				return 2;
			}
			cfg.fail_at_step = v;
			break;
		case 'o': once = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!have_binding || optind != argc) {
		usage(stderr);
		return 2;
	}
	cfg.ports = ports;

	/* Signals arrive through the poll loop, never in the middle of a netlink step. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	_cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		kv_error("signalfd: %s", strerror(errno));
		return 1;
	}

	_cleanup_err_ struct kv_err *err = NULL;
	struct net_binding *b = NULL;
	if (net_binding_setup(&cfg, &b, &err) < 0) {
		kv_error("%s", kv_err_msg(err));
		return 1;
	}
	_cleanup_dhcp_server_ struct dhcp_server *srv = NULL;
	int rc = 0;
	if (b->dhcp_enabled &&
	    dhcp_server_new(b->bridge_ifindex, b->bridge_mac, &b->lease, &srv, &err) < 0) {
		kv_error("%s", kv_err_msg(err));
		rc = 1;
		goto teardown;
	}
	char mac[18];
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", b->guest_mac[0],
		 b->guest_mac[1], b->guest_mac[2], b->guest_mac[3], b->guest_mac[4],
		 b->guest_mac[5]);
	printf("READY guest_mac=%s bridge_ifindex=%d tap_fds=%zu dhcp=%s ip=%s/%u\n", mac,
	       b->bridge_ifindex, b->n_tap_fds, srv ? "on" : "off", inet_ntoa(b->lease.client_ip),
	       b->lease.prefix);
	fflush(stdout);

	while (!once) {
		struct pollfd p[2] = { { .fd = sfd, .events = POLLIN },
				       { .fd = srv ? dhcp_server_fd(srv) : -1, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			kv_error("poll: %s", strerror(errno));
			rc = 1;
			break;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				kv_info("signal %u: tearing down", si.ssi_signo);
			break;
		}
		int r = p[1].revents ? dhcp_server_handle_readable(srv) : 0;
		if (r < 0) {
			kv_error("dhcp socket: %s", strerror(-r));
			rc = 1;
			break;
		}
	}
	if (srv)
		print_stats(dhcp_server_stats(srv));

teardown:
	dhcp_server_free(TAKE_PTR(srv));
	if (net_binding_teardown(b, &err) < 0) {
		kv_error("teardown: %s", kv_err_msg(err));
		rc = 1;
	}
	net_binding_free(b);
	return rc;
}
