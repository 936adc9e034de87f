/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMI's pod network for kvirt-launcher: spec.domain.devices.interfaces[]
 * + spec.networks[] become one net/ binding (bridge or masquerade) in the
 * launcher's (the pod's) network namespace, its tap fds go to kvirt-vmm as
 * a "nets" entry, and the DHCP server runs in the launcher's poll loop.
 * docs/launcher.md ("Network") and docs/network.md describe the behaviour.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/dhcp.h"
#include "kvirt/log.h"
#include "kvirt/net.h"
#include "kvirt/util.h"
#include "launcher.h"

static const char *const other_bindings[] = { "sriov", "passtBinding", "binding",
					      "slirp", "macvtap",      "passt" };

int kvl_net_plan(const json_t *vmi, unsigned vcpus, struct kvl_net *n, struct kv_err **err)
{
	memset(n, 0, sizeof(*n));
	const json_t *spec = kv_jget(vmi, "spec");
	json_t *ifaces = kv_jget(spec, "domain.devices.interfaces");
	json_t *nets = kv_jget(spec, "networks");
	size_t nif = json_array_size(ifaces);
	if (nif == 0)
		return 0;
	if (nif > 1)
		return kv_err_set(err, ENOTSUP,
				  "spec.domain.devices.interfaces: %zu interfaces; kvirt supports "
				  "one (the pod network)",
				  nif);
	json_t *ifc = json_array_get(ifaces, 0);
	const char *name = kv_jstr(ifc, "name");
	if (!name)
		return kv_err_set(err, EINVAL, "spec.domain.devices.interfaces[0]: needs a name");
	json_t *net = NULL;
	size_t i;
	json_t *x;
	json_array_foreach (nets, i, x)
		if (kv_jstr(x, "name") && !strcmp(kv_jstr(x, "name"), name))
			net = x;
	if (!net || !json_object_get(net, "pod"))
		return kv_err_set(err, ENOTSUP,
				  "spec.networks \"%s\": only the pod network is supported "
				  "(multus and others are not)",
				  name);
	for (size_t k = 0; k < KV_ARRAY_SIZE(other_bindings); k++)
		if (json_object_get(ifc, other_bindings[k]))
			return kv_err_set(err, ENOTSUP,
					  "spec.domain.devices.interfaces[0] \"%s\": binding "
					  "\"%s\" is not supported; use bridge or masquerade",
					  name, other_bindings[k]);
	if (json_object_get(ifc, "masquerade"))
		n->kind = NET_BINDING_MASQUERADE;
	else
		n->kind = NET_BINDING_BRIDGE; /* KubeVirt's default (common/vmi.c) */
	const char *model = kv_jstr_or(ifc, "model", "virtio");
	if (strcmp(model, "virtio"))
		return kv_err_set(err, ENOTSUP,
				  "spec.domain.devices.interfaces[0].model: \"%s\" is not "
				  "supported; kvirt-vmm has virtio only",
				  model);
	const char *mac = kv_jstr(ifc, "macAddress");
	if (mac) {
		if (net_parse_mac(mac, n->mac) < 0)
			return kv_err_set(err, EINVAL,
					  "spec.domain.devices.interfaces[0].macAddress: \"%s\" is "
					  "not a unicast MAC like 02:11:22:33:44:55",
					  mac);
		n->has_mac = true;
	}
	json_t *ports = json_object_get(ifc, "ports");
	if (json_array_size(ports) && n->kind != NET_BINDING_MASQUERADE)
		return kv_err_set(err, EINVAL,
				  "spec.domain.devices.interfaces[0].ports: only the masquerade "
				  "binding forwards ports");
	if (json_array_size(ports) > KVL_MAX_PORTS)
		return kv_err_set(err, EINVAL,
				  "spec.domain.devices.interfaces[0].ports: at most %d ports",
				  KVL_MAX_PORTS);
	json_array_foreach (ports, i, x) {
		long long p = kv_jint(x, "port", -1);
		const char *proto = kv_jstr_or(x, "protocol", "TCP");
		if (p < 1 || p > 65535)
			return kv_err_set(err, EINVAL,
					  "spec.domain.devices.interfaces[0].ports[%zu].port: must "
					  "be 1-65535",
					  i);
		if (!strcmp(proto, "TCP"))
			n->ports[i].protocol = IPPROTO_TCP;
		else if (!strcmp(proto, "UDP"))
			n->ports[i].protocol = IPPROTO_UDP;
		else
			return kv_err_set(err, EINVAL,
					  "spec.domain.devices.interfaces[0].ports[%zu].protocol: "
					  "\"%s\" is not TCP or UDP",
					  i, proto);
		n->ports[i].port = (uint16_t)p;
		n->n_ports++;
	}
	n->queues = 1;
	if (kv_jbool(spec, "domain.devices.networkInterfaceMultiqueue", false))
		n->queues = vcpus < NET_MAX_QUEUES ? vcpus : NET_MAX_QUEUES;
	if (!n->queues)
		n->queues = 1;
	n->name = strdup(name);
	const char *host = kv_jstr(spec, "hostname");
	n->hostname = strdup(host ? host : kv_jstr_or(vmi, "metadata.name", ""));
	if (!n->name || !n->hostname)
		return kv_err_set(err, ENOMEM, "out of memory");
	n->wanted = true;
	return 0;
}

static void fmt_mac(const uint8_t m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

int kvl_net_setup(struct kvl_net *n, struct kv_err **err)
{
	if (!n->wanted)
		return 0;
	/* The pod IP as the pod network sees it (masquerade keeps it on eth0). */
	{
		_cleanup_net_nl_ struct net_nl *nl = NULL;
		struct net_link pod;
		_cleanup_free_ struct net_addr *addrs = NULL;
		size_t na = 0;
		int r = net_nl_open(&nl, err);
		if (r >= 0)
			r = net_link_get(nl, KVL_POD_IFACE, &pod, err);
		if (r >= 0)
			r = net_addr_list(nl, pod.ifindex, &addrs, &na, err);
		if (r < 0)
			return r;
		if (na)
			inet_ntop(AF_INET, &addrs[0].addr, n->pod_ip, sizeof(n->pod_ip));
	}
	struct net_binding_config cfg = {
		.kind = n->kind,
		.pod_ifname = KVL_POD_IFACE,
		.queues = n->queues,
		.has_guest_mac = n->has_mac,
		.hostname = n->hostname,
		.ports = n->ports,
		.n_ports = n->n_ports,
	};
	memcpy(cfg.guest_mac, n->mac, 6);
	int r = net_binding_setup(&cfg, &n->b, err);
	if (r < 0)
		return r;
	if (n->b->dhcp_enabled) {
		r = dhcp_server_new(n->b->bridge_ifindex, n->b->bridge_mac, &n->b->lease, &n->srv,
				    err);
		if (r < 0) {
			_cleanup_err_ struct kv_err *e2 = NULL;
			if (net_binding_teardown(n->b, &e2) < 0)
				kv_error("network teardown: %s", kv_err_msg(e2));
			net_binding_free(n->b);
			n->b = NULL;
			return r;
		}
	}
	char mac[18];
	fmt_mac(n->b->guest_mac, mac);
	kv_info("network %s: %s binding, guest MAC %s, %zu tap queue(s), pod IP %s, DHCP %s",
		n->name, n->kind == NET_BINDING_BRIDGE ? "bridge" : "masquerade", mac,
		n->b->n_tap_fds, n->pod_ip[0] ? n->pod_ip : "none", n->srv ? "on" : "off");
	return 0;
}

int kvl_net_teardown(struct kvl_net *n)
{
	int rc = 0;
	if (n->srv) {
		const struct dhcp_stats *st = dhcp_server_stats(n->srv);
		kv_info("dhcp: %llu frames, %llu offers, %llu acks, %llu naks, %llu dropped",
			(unsigned long long)st->rx_frames, (unsigned long long)st->offers,
			(unsigned long long)st->acks, (unsigned long long)st->naks,
			(unsigned long long)st->dropped_total);
		dhcp_server_free(n->srv);
		n->srv = NULL;
	}
	if (n->b) {
		_cleanup_err_ struct kv_err *err = NULL;
		if (net_binding_teardown(n->b, &err) < 0) {
			kv_error("network teardown: %s", kv_err_msg(err));
			rc = -1;
		} else {
			kv_info("network %s: pod namespace restored", n->name);
		}
		net_binding_free(n->b);
		n->b = NULL;
	}
	free(n->name);
	free(n->hostname);
	n->name = n->hostname = NULL;
	return rc;
}

json_t *kvl_net_vmm_config(const struct kvl_net *n)
{
	json_t *arr = json_array();
	if (!arr || !n->b)
		return arr;
	char fds[NET_MAX_QUEUES * 12] = "", mac[18];
	size_t off = 0;
	for (size_t i = 0; i < n->b->n_tap_fds; i++)
		off += (size_t)snprintf(fds + off, sizeof(fds) - off, "%s%d", i ? ":" : "",
					n->b->tap_fds[i]);
	fmt_mac(n->b->guest_mac, mac);
	unsigned mtu = n->b->lease.mtu ? n->b->lease.mtu : 1500;
	json_array_append_new(arr,
			      json_pack("{s:s, s:s, s:I, s:I}", "fd", fds, "mac", mac, "queues",
					(json_int_t)n->b->n_tap_fds, "mtu", (json_int_t)mtu));
	return arr;
}

void kvl_net_child_fds(const struct kvl_net *n)
{
	/* In the VMM child before exec: the tap fds survive it. */
	for (size_t i = 0; n->b && i < n->b->n_tap_fds; i++)
		fcntl(n->b->tap_fds[i], F_SETFD, 0);
}

json_t *kvl_net_status(const struct kvl_net *n)
{
	json_t *arr = json_array();
	if (!arr || !n->b)
		return arr;
	char mac[18];
	fmt_mac(n->b->guest_mac, mac);
	bool masq = n->kind == NET_BINDING_MASQUERADE;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "name", n->name, "mac", mac, "binding",
			      masq ? "masquerade" : "bridge", "ipAddress", n->pod_ip, "queues",
			      (json_int_t)n->b->n_tap_fds);
	if (o && masq)
		json_object_set_new(o, "guestAddress", json_string(NET_MASQ_GUEST));
	json_array_append_new(arr, o);
	return arr;
}
