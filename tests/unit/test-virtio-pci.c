/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio PCI transport and MSI-X through a fake host: capabilities,
 * feature negotiation (FEATURES_OK refused for unoffered bits or without
 * VERSION_1), queue setup, bad rings -> NEEDS_RESET, MSI-X masking and
 * pending bits, reset.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvirt/guest_mem.h"
#include "kvirt/virtio.h"
#include "tap.h"

#define RAM_SIZE (1u << 20)

static unsigned msi_count, start_count, stop_count;
static uint32_t msi_last_data;

static void fake_msi(void *ctx, uint64_t addr, uint32_t data)
{
	msi_count++;
	msi_last_data = data;
}

static void cfg_read(void *dev, uint64_t off, void *data, unsigned len)
{
	memset(data, 0xab, len);
}

static int dev_start(void *dev, struct kv_err **err)
{
	start_count++;
	return 0;
}

static void dev_stop(void *dev)
{
	stop_count++;
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

int main(void)
{
	uint8_t *ram = calloc(1, RAM_SIZE);
	struct guest_mem mem = { .base = ram, .map_len = RAM_SIZE, .nregions = 1 };
	mem.regions[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .host = ram };
	struct dev_host host = { .signal_msi = fake_msi };
	_cleanup_err_ struct kv_err *err = NULL;
	ok(virtio_pci_init(&t, &test_ops, NULL, 1ull << 9, 2, 64, &host, &mem, &err) == 0,
	   "transport with 2 queues of 64");
	ok(t.pci.cfg[0] == 0xf4 && t.pci.cfg[1] == 0x1a && t.pci.cfg[2] == 0x42 &&
	       t.pci.cfg[3] == 0x10,
	   "ids 1af4:1042");
	/* Walk the capability list: 4 virtio caps + MSI-X. */
	unsigned types = 0, msix = 0;
	for (uint8_t c = t.pci.cfg[PCI_CAPABILITY_LIST]; c; c = t.pci.cfg[c + 1]) {
		if (t.pci.cfg[c] == PCI_CAP_ID_VNDR)
			types |= 1u << t.pci.cfg[c + 3];
		else if (t.pci.cfg[c] == PCI_CAP_ID_MSIX)
			msix = c;
	}
	is_int(types, 0x1e, "common, notify, ISR and device capabilities present");
	ok(msix && (t.pci.cfg[msix + 2] | t.pci.cfg[msix + 3] << 8) == 2, "MSI-X with 3 vectors");

	is_int(rd(18, 2), 2, "num_queues");
	wr(0, 1, 4);
	is_int(rd(4, 4), 1, "device features high word: VERSION_1");
	wr(0, 0, 4);
	ok(rd(4, 4) & (1u << 9), "device features low word: the device's bit");
	ok(rd(4, 4) & (1u << 29) && rd(4, 4) & (1u << 28), "EVENT_IDX and INDIRECT_DESC offered");

	/* Driver forgets VERSION_1: FEATURES_OK is not accepted. */
	wr(20, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	wr(8, 0, 4);
	wr(12, 1u << 9, 4);
	wr(20, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
	ok(!(rd(20, 1) & VIRTIO_STATUS_FEATURES_OK), "FEATURES_OK refused without VERSION_1");
	wr(20, 0, 1);
	is_int(rd(20, 1), 0, "reset clears the status");
	/* Driver asks for a bit that was not offered. */
	wr(20, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	wr(8, 0, 4);
	wr(12, 1u << 3, 4);
	wr(8, 1, 4);
	wr(12, 1, 4);
	wr(20, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
	ok(!(rd(20, 1) & VIRTIO_STATUS_FEATURES_OK), "FEATURES_OK refused for an unoffered bit");
	wr(20, 0, 1);

	/* Proper negotiation. */
	wr(20, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	wr(8, 0, 4);
	wr(12, (1u << 9) | (1u << 29), 4);
	wr(8, 1, 4);
	wr(12, 1, 4);
	wr(20, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
	ok(rd(20, 1) & VIRTIO_STATUS_FEATURES_OK, "FEATURES_OK accepted");
	ok(virtio_has_feature(&t, 29) && virtio_has_feature(&t, VIRTIO_F_VERSION_1),
	   "negotiated features recorded");

	wr(22, 0, 2);
	is_int(rd(24, 2), 64, "queue 0 size = maximum");
	wr(24, 100, 2);
	is_int(rd(24, 2), 64, "non-power-of-two queue size ignored");
	wr(24, 32, 2);
	is_int(rd(24, 2), 32, "smaller queue size accepted");
	wr(32, 0x1000, 4);
	wr(36, 0, 4);
	wr(40, 0x2000, 4);
	wr(48, 0x3000, 4);
	wr(26, 1, 2);
	wr(28, 1, 2);
	ok(rd(28, 2) == 1 && t.queues[0].vq.size == 32, "queue 0 enabled with size 32");
	wr(32, 0x5000, 4);
	is_int(rd(32, 4), 0x1000, "queue address frozen once enabled");

	wr(22, 1, 2);
	wr(32, 0x1000, 4);
	wr(36, 1, 4); /* 4 GiB + 4K: not RAM */
	wr(40, 0x2000, 4);
	wr(48, 0x3000, 4);
	wr(28, 1, 2);
	ok(rd(28, 2) == 0 && (rd(20, 1) & VIRTIO_STATUS_NEEDS_RESET),
	   "queue outside RAM: not enabled, DEVICE_NEEDS_RESET");
	wr(22, 7, 2);
	is_int(rd(24, 2), 0, "queue_select past the last queue reads size 0");

	/* MSI-X: vector 1 for queue 0; function disabled -> nothing. */
	msi_count = 0;
	uint32_t entry1[4] = { 0xfee00000, 0, 0x41, 1 }; /* masked */
	for (int i = 0; i < 4; i++)
		wr(VIRTIO_BAR_MSIX + 16 + 4 * i, entry1[i], 4);
	msix_notify(&t.msix, 1);
	is_int(msi_count, 0, "no MSI while MSI-X is disabled");
	t.pci.cfg[msix + 3] = 0x80; /* enable (as a config write would) */
	msix_notify(&t.msix, 1);
	ok(msi_count == 0 && (rd(VIRTIO_BAR_PBA, 4) & 2), "masked vector: pending bit set");
	wr(VIRTIO_BAR_MSIX + 16 + 12, 0, 4); /* unmask */
	ok(msi_count == 1 && msi_last_data == 0x41 && !(rd(VIRTIO_BAR_PBA, 4) & 2),
	   "unmasking delivers the pending message");
	t.pci.cfg[msix + 3] = 0xc0; /* function mask */
	msix_notify(&t.msix, 1);
	is_int(msi_count, 1, "function mask holds the message");
	t.pci.cfg[msix + 3] = 0x80;
	msix_config_written(&t.msix);
	is_int(msi_count, 2, "lifting the function mask delivers it");
	msix_notify(&t.msix, 7);
	is_int(msi_count, 2, "out-of-range vector ignored");
	is_int(rd(VIRTIO_BAR_MSIX + 16 * 3, 4), 0, "table read past the last entry is 0");

	start_count = stop_count = 0;
	wr(20, 0x0f, 1);
	is_int(start_count, 1, "DRIVER_OK starts the device");
	wr(20, 0, 1);
	ok(stop_count == 1 && rd(20, 1) == 0 && !t.queues[0].enabled && rd(26, 2) == 0xffff,
	   "reset stops the device and forgets queues and vectors");
	uint32_t v = 0;
	t.pci.ops->bar_read(&t.pci, 0, 0x7ffc, &v, 4);
	is_int(v, 0, "unused BAR space reads 0");
	virtio_pci_destroy(&t);
	free(ram);
	return tap_done();
}
