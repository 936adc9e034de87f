/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Virtio 1.x over PCI ("modern" transport, virtio 1.2 section 4.1): the
 * common, notify, ISR and device-config capabilities in BAR 0, MSI-X for
 * interrupts, feature negotiation and device reset.  The device model
 * (virtio-blk, ...) sees only `struct virtio_device_ops` and its queues;
 * it never touches PCI (house rule 4).
 *
 * Queue notifications: each queue has an eventfd.  When the host supports
 * it, KVM signals that eventfd directly on the guest's notify write
 * (KVM_IOEVENTFD), so a kick costs no exit to userspace; otherwise the MMIO
 * write lands here and is forwarded to the same eventfd.
 */
#ifndef KVIRT_VIRTIO_H
#define KVIRT_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvirt/devices.h"
#include "kvirt/guest_mem.h"
#include "kvirt/msix.h"
#include "kvirt/pci.h"
#include "kvirt/virtqueue.h"

#define VIRTIO_F_INDIRECT_DESC	  28
#define VIRTIO_F_RING_EVENT_IDX	  29
#define VIRTIO_F_VERSION_1	  32
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80
#define VIRTIO_MAX_QUEUES	  17

/* BAR 0 layout. */
#define VIRTIO_BAR_COMMON	 0x0000
#define VIRTIO_BAR_ISR		 0x1000
#define VIRTIO_BAR_DEVICE	 0x2000
#define VIRTIO_BAR_NOTIFY	 0x3000
#define VIRTIO_BAR_MSIX		 0x4000
#define VIRTIO_BAR_PBA		 0x5000
#define VIRTIO_BAR_SIZE		 0x8000
#define VIRTIO_NOTIFY_MULTIPLIER 4

struct virtio_pci;

struct virtio_queue {
	struct virtio_pci *t;
	unsigned index;
	struct virtq vq;
	uint16_t size, max_size;
	uint16_t msix_vector;
	bool enabled;
	uint64_t desc, driver, device;
	int kick_fd; /* eventfd: the guest kicked this queue */
	bool ioeventfd;
	uint64_t ioeventfd_addr;
};

struct virtio_device_ops {
	const char *name;
	uint16_t device_id; /* virtio device type (2 = block) */
	uint16_t pci_class;
	void (*config_read)(void *dev, uint64_t off, void *data, unsigned len);
	void (*config_write)(void *dev, uint64_t off, const void *data, unsigned len);
	/* DRIVER_OK: queues are set up; start serving them. */
	int (*start)(void *dev, struct kv_err **err);
	/* Reset: stop serving queues and wait for requests in flight. */
	void (*stop)(void *dev);
};

struct virtio_pci {
	pthread_mutex_t lock;
	struct pci_device pci;
	struct msix msix;
	const struct dev_host *host;
	const struct guest_mem *mem;
	const struct virtio_device_ops *ops;
	void *dev;
	uint64_t device_features, driver_features;
	uint32_t dfselect, gfselect;
	uint16_t config_vector, queue_select;
	uint8_t status, config_generation;
	uint8_t isr;
	bool started;
	unsigned nqueues;
	struct virtio_queue queues[VIRTIO_MAX_QUEUES];
};

/* `features`: the device type's bits; VERSION_1, EVENT_IDX, INDIRECT_DESC are added. */
int virtio_pci_init(struct virtio_pci *t, const struct virtio_device_ops *ops, void *dev,
		    uint64_t features, unsigned nqueues, uint16_t queue_size,
		    const struct dev_host *host, const struct guest_mem *mem, struct kv_err **err);
void virtio_pci_destroy(struct virtio_pci *t);
static inline bool virtio_has_feature(const struct virtio_pci *t, unsigned bit)
{
	return t->driver_features & (1ull << bit);
}

/* The transport owning `d`, which must have come from a virtio device model. */
static inline struct virtio_pci *virtio_pci_of(struct pci_device *d)
{
	return (struct virtio_pci *)(void *)((char *)d - offsetof(struct virtio_pci, pci));
}

/* After pushing completions: interrupt the driver if it asked for one. */
void virtio_queue_interrupt(struct virtio_queue *q);
/* The queue is broken (malformed ring): DEVICE_NEEDS_RESET and a config interrupt. */
void virtio_pci_needs_reset(struct virtio_pci *t);
/* Platform reset: as if the driver wrote 0 to device_status (threads stopped). */
void virtio_pci_reset(struct virtio_pci *t);

#endif
