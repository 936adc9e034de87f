/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Taps for virtio-net.  The launcher creates them (it has CAP_NET_ADMIN in
 * the pod) and hands the fds to kvirt-vmm, which then needs no network
 * privileges at all.  IFF_VNET_HDR lets the VMM pass virtio-net headers
 * (checksum/GSO offload) straight through; IFF_MULTI_QUEUE gives one fd per
 * virtqueue pair.
 */
#include "kvirt/net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvirt/cleanup.h"

int net_tap_create(const char *name, unsigned queues, int *fds, struct kv_err **err)
{
	if (!name || !*name || strlen(name) >= IFNAMSIZ)
		return kv_err_set(err, EINVAL, "tap name \"%s\" is not a valid interface name",
				  name ? name : "");
	if (queues < 1 || queues > NET_MAX_QUEUES)
		return kv_err_set(err, EINVAL, "tap %s: %u queues; use 1 to %d", name, queues,
				  NET_MAX_QUEUES);
	unsigned opened = 0;
	int r = 0;
	for (; opened < queues; opened++) {
		_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			r = kv_err_errno(err, "cannot open /dev/net/tun");
			break;
		}
		struct ifreq ifr = { 0 };
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		if (queues > 1)
			ifr.ifr_flags |= IFF_MULTI_QUEUE;
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			r = kv_err_errno(err, "cannot create tap %s (queue %u)", name, opened);
			break;
		}
		fds[opened] = TAKE_FD(fd);
	}
	if (r < 0) {
		/* Closing every queue's fd removes the (non-persistent) tap again. */
		while (opened > 0) {
			opened--;
			fds[opened] = kv_close_safe(fds[opened]);
		}
		return r;
	}
	return 0;
}
