/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MSI-X delivery through irqfds (devices/msix.c) with a fake host whose
 * "irqfds" are plain eventfds: a vector's GSI is routed only while the
 * vector is enabled and unmasked, firing is one eventfd write, masked
 * vectors latch their pending bit and fire on unmask, routes follow new
 * messages, reset drops them, and without irqfds (or when routing fails)
 * vectors fall back to signal_msi.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kvirt/guest_mem.h"
#include "kvirt/virtio.h"
#include "tap.h"

#define RAM_SIZE (1u << 20)
#define NVEC	 3 /* 2 queues + config */

static unsigned msi_count, route_calls, opened, closed, next_gsi = 100;
static int route_fail; /* msi_route fails with this when nonzero */
struct route {
	bool on;
	uint64_t addr;
	uint32_t data;
};
static struct route routes[200];

static void fake_msi(void *ctx, uint64_t addr, uint32_t data)
{
	msi_count++;
}

static int fake_irqfd_open(void *ctx, unsigned *gsi)
{
	if (ctx && opened >= 1) /* ctx != NULL: only the first vector gets an irqfd */
		return -ENOSPC;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	*gsi = next_gsi++;
	opened++;
	return fd;
}

static void fake_irqfd_close(void *ctx, unsigned gsi, int fd)
{
	closed++;
	close(fd);
}

static int fake_msi_route(void *ctx, unsigned gsi, bool enable, uint64_t addr, uint32_t data)
{
	route_calls++;
	if (route_fail && enable)
		return -route_fail;
	routes[gsi] = (struct route){ enable, enable ? addr : 0, enable ? data : 0 };
	return 0;
}

static int dev_start(void *dev, struct kv_err **err)
{
	return 0;
}

static void dev_stop(void *dev)
{
}

static void cfg_read(void *dev, uint64_t off, void *data, unsigned len)
{
	memset(data, 0, len);
}

static const struct virtio_device_ops test_ops = {
	.name = "test",
	.device_id = 2,
	.pci_class = 0x0100,
	.config_read = cfg_read,
	.start = dev_start,
	.stop = dev_stop,
};

static struct virtio_pci t;

static uint32_t rd(uint64_t off, unsigned len)
{
	uint32_t v = 0;
	t.pci.ops->bar_read(&t.pci, 0, off, &v, len);
	return v;
}

static void wr(uint64_t off, uint32_t v, unsigned len)
{
	t.pci.ops->bar_write(&t.pci, 0, off, &v, len);
}

/* Eventfd counter of vector v's irqfd (read clears it). */
static uint64_t fired(unsigned v)
{
	uint64_t n = 0;
	if (read(t.msix.irqfd[v], &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static void set_entry(unsigned v, uint32_t addr, uint32_t data, uint32_t ctrl)
{
	wr(VIRTIO_BAR_MSIX + 16 * v, addr, 4);
	wr(VIRTIO_BAR_MSIX + 16 * v + 4, 0, 4);
	wr(VIRTIO_BAR_MSIX + 16 * v + 8, data, 4);
	wr(VIRTIO_BAR_MSIX + 16 * v + 12, ctrl, 4);
}

static unsigned msix_cap(void)
{
	for (unsigned c = t.pci.cfg[0x34]; c; c = t.pci.cfg[c + 1])
		if (t.pci.cfg[c] == PCI_CAP_ID_MSIX)
			return c;
	return 0;
}

int main(void)
{
	uint8_t *ram = calloc(1, RAM_SIZE);
	struct guest_mem mem = { .base = ram, .map_len = RAM_SIZE, .nregions = 1 };
	mem.regions[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .host = ram };
	struct dev_host host = { .signal_msi = fake_msi,
				 .irqfd_open = fake_irqfd_open,
				 .irqfd_close = fake_irqfd_close,
				 .msi_route = fake_msi_route };
	_cleanup_err_ struct kv_err *err = NULL;
	ok(virtio_pci_init(&t, &test_ops, NULL, 0, 2, 64, &host, &mem, &err) == 0, "transport");
	ok(opened == NVEC && msix_irqfd_vectors(&t.msix) == NVEC, "one irqfd per vector (%u)",
	   opened);
	is_int(route_calls, 0, "no routes before the guest enables anything");
	unsigned cap = msix_cap(), g1 = t.msix.gsi[1];
	ok(cap != 0, "MSI-X capability present");

	/* Vector 1 programmed masked; function enabled. */
	set_entry(1, 0xfee00000, 0x41, 1);
	t.pci.cfg[cap + 3] = 0x80;
	msix_config_written(&t.msix);
	ok(!routes[g1].on && route_calls == 0, "masked vector: no route");
	msix_notify(&t.msix, 1);
	ok(fired(1) == 0 && msi_count == 0 && (rd(VIRTIO_BAR_PBA, 4) & 2),
	   "masked vector fires nothing, sets its pending bit");

	wr(VIRTIO_BAR_MSIX + 16 + 12, 0, 4); /* unmask */
	ok(routes[g1].on && routes[g1].addr == 0xfee00000 && routes[g1].data == 0x41,
	   "unmask routes the vector's GSI to its message");
	ok(fired(1) == 1 && msi_count == 0 && !(rd(VIRTIO_BAR_PBA, 4) & 2),
	   "the pending message goes out through the irqfd on unmask");
	msix_notify(&t.msix, 1);
	msix_notify(&t.msix, 1);
	ok(fired(1) == 2 && msi_count == 0, "live vector: each notify is an irqfd write");

	unsigned calls = route_calls;
	set_entry(1, 0xfee00000, 0x41, 0); /* same message rewritten */
	is_int(route_calls, calls, "rewriting the same message changes no route");

	/* Linux's way of changing a live vector: mask, write, unmask. */
	wr(VIRTIO_BAR_MSIX + 16 + 12, 1, 4);
	ok(!routes[g1].on, "masking removes the route");
	msix_notify(&t.msix, 1);
	ok(fired(1) == 0 && (rd(VIRTIO_BAR_PBA, 4) & 2), "masked again: pending, not fired");
	wr(VIRTIO_BAR_MSIX + 16, 0xfee01000, 4);
	wr(VIRTIO_BAR_MSIX + 16 + 8, 0x52, 4);
	wr(VIRTIO_BAR_MSIX + 16 + 12, 0, 4);
	ok(routes[g1].on && routes[g1].addr == 0xfee01000 && routes[g1].data == 0x52 &&
	       fired(1) == 1,
	   "unmask installs the new message and delivers the pending one");
	is_int(route_calls, calls + 2, "mask/write/unmask cost two routing updates");

	t.pci.cfg[cap + 3] = 0xc0; /* function mask */
	msix_config_written(&t.msix);
	msix_notify(&t.msix, 1);
	ok(!routes[g1].on && fired(1) == 0 && (rd(VIRTIO_BAR_PBA, 4) & 2),
	   "function mask: route removed, message pending");
	t.pci.cfg[cap + 3] = 0x80;
	msix_config_written(&t.msix);
	ok(routes[g1].on && fired(1) == 1, "function unmask: routed again, pending delivered");

	/* A route KVM refuses: that vector falls back to signal_msi. */
	set_entry(2, 0xfee00000, 0x61, 0);
	route_fail = EINVAL;
	set_entry(2, 0xfee02000, 0x62, 0);
	route_fail = 0;
	msix_notify(&t.msix, 2);
	ok(msi_count == 1 && fired(2) == 0, "refused route: the vector fires by signal_msi");
	set_entry(2, 0xfee03000, 0x63, 0);
	msix_notify(&t.msix, 2);
	ok(msi_count == 1 && fired(2) == 1, "next change routes it again");

	t.pci.cfg[cap + 3] = 0x00; /* MSI-X off */
	msix_config_written(&t.msix);
	msix_notify(&t.msix, 1);
	ok(!routes[g1].on && fired(1) == 0 && msi_count == 1, "MSI-X disabled: no route, nothing");
	t.pci.cfg[cap + 3] = 0x80;
	msix_config_written(&t.msix);
	wr(20, 0, 1); /* device reset */
	ok(!routes[g1].on && !routes[t.msix.gsi[2]].on, "device reset drops every route");

	virtio_pci_destroy(&t);
	is_int(closed, NVEC, "destroy closes every irqfd");

	/* Only the first vector gets an irqfd: the rest fall back. */
	opened = closed = 0;
	host.ctx = &t;
	ok(virtio_pci_init(&t, &test_ops, NULL, 0, 2, 64, &host, &mem, &err) == 0 &&
	       msix_irqfd_vectors(&t.msix) == 1,
	   "irqfd_open failing: device still comes up, 1 of %u vectors on irqfd", NVEC);
	unsigned cap2 = msix_cap();
	set_entry(2, 0xfee00000, 0x71, 0);
	t.pci.cfg[cap2 + 3] = 0x80;
	msix_config_written(&t.msix);
	msi_count = 0;
	msix_notify(&t.msix, 2);
	is_int(msi_count, 1, "vector without irqfd fires by signal_msi");
	virtio_pci_destroy(&t);
	is_int(closed, 1, "destroy closes just the irqfd it had");
	free(ram);
	return tap_done();
}
