/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk (virtio 1.2, 5.2) over the virtio PCI transport: raw images and
 * block devices, one I/O thread per queue, requests served by io_uring
 * (batched submission, completions on an eventfd) or, when io_uring cannot
 * be set up, by a pool of threads doing preadv/pwritev.
 */
#ifndef KVIRT_VIRTIO_BLK_H
#define KVIRT_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "kvirt/devices.h"
#include "kvirt/err.h"
#include "kvirt/guest_mem.h"

enum blk_backend_kind { BLK_BACKEND_AUTO = 0, BLK_BACKEND_IO_URING, BLK_BACKEND_THREADS };

struct virtio_blk_config {
	const char *path;
	const char *serial; /* NULL: empty id */
	bool readonly;
	bool direct; /* cache=none: O_DIRECT */
	enum blk_backend_kind backend;
	unsigned queues;
	unsigned queue_size;
	bool no_coalesce; /* interrupt at every completion (kvirt/coalesce.h otherwise) */
};

struct virtio_blk;
struct pci_device;

int virtio_blk_create(const struct virtio_blk_config *cfg, const struct dev_host *host,
		      const struct guest_mem *mem, struct virtio_blk **out, struct kv_err **err);
void virtio_blk_destroy(struct virtio_blk *b);
struct pci_device *virtio_blk_pci(struct virtio_blk *b);
/* "io_uring" or "threads": what the queues use. */
const char *virtio_blk_backend_name(const struct virtio_blk *b);

#endif
