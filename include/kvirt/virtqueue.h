/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueues (virtio 1.2, 2.7): the device side of the descriptor
 * table, the available ring and the used ring, with VIRTIO_F_RING_EVENT_IDX
 * and VIRTIO_F_INDIRECT_DESC.
 *
 * Everything here reads guest-controlled memory, so (house rule 5):
 *   - ring addresses are validated once, whole, through guest_mem_ptr() when
 *     the queue is enabled; descriptor buffers and indirect tables each go
 *     through guest_mem_ptr() for their whole length;
 *   - each descriptor is copied once before it is checked, so the guest
 *     cannot change it between check and use;
 *   - a chain walk is bounded by the queue size (and by the indirect table
 *     size), so loops end;
 *   - any structural error (head or next index out of range, loop, nested or
 *     malformed indirect table, zero-length or unmapped buffer, a readable
 *     buffer after a writable one, too many segments, more than 4 GiB, an
 *     available index more than a ring ahead) is reported as -EBADMSG and
 *     the transport marks the device DEVICE_NEEDS_RESET: the queue is broken
 *     and the driver must reset it.  Nothing outside guest RAM is touched.
 */
#ifndef KVIRT_VIRTQUEUE_H
#define KVIRT_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "kvirt/guest_mem.h"

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_MAX_SIZE	      1024
/* Segments one request may have; virtio-blk advertises SEG_MAX below this. */
#define VIRTQ_MAX_SEGS 256

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_seg {
	uint8_t *ptr; /* host pointer to the whole buffer (validated) */
	uint32_t len;
	bool write; /* device-writable */
};

struct virtq_req {
	uint16_t head;
	unsigned nseg;
	unsigned nread; /* readable segments come first */
	uint64_t read_len, write_len;
	struct virtq_seg seg[VIRTQ_MAX_SEGS];
};

struct virtq {
	const struct guest_mem *mem;
	uint16_t size; /* power of two, <= VIRTQ_MAX_SIZE */
	bool event_idx, indirect;
	/* host views of the rings (NULL until enabled) */
	struct virtq_desc *desc;
	uint16_t *avail; /* flags, idx, ring[size], used_event */
	uint8_t *used;	 /* flags, idx, ring[size] of {id, len}, avail_event */
	uint16_t last_avail;
	uint16_t used_idx;
	uint16_t signalled_used;
	bool signalled_used_valid;
};

/*
 * Validate and map the rings.  Returns -EFAULT when a ring is not wholly in
 * RAM, -EINVAL for a bad size or misaligned ring.
 */
int virtq_enable(struct virtq *q, const struct guest_mem *mem, uint16_t size, uint64_t desc_gpa,
		 uint64_t avail_gpa, uint64_t used_gpa, bool event_idx, bool indirect);
void virtq_reset(struct virtq *q);

/*
 * Take the next available chain into `req`: 1 when one was taken, 0 when
 * the ring is empty, -EBADMSG when the ring or the chain is malformed.
 */
int virtq_pop(struct virtq *q, struct virtq_req *req);

/*
 * Give back the last `n` chains taken by virtq_pop() without using them:
 * they are taken again, unchanged, by the next pops (virtio-net pops
 * receive buffers for the largest frame, then returns what a smaller one
 * did not need).  `n` must not exceed the chains popped and not pushed.
 */
void virtq_unpop(struct virtq *q, uint16_t n);

/* Return chain `head` with `len` bytes written into its writable buffers. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/*
 * After one or more pushes: whether the driver wants an interrupt now
 * (VIRTQ_AVAIL_F_NO_INTERRUPT or the used_event index).
 */
bool virtq_should_notify(struct virtq *q);

/*
 * Before sleeping on the queue: ask the driver for a kick (avail_event or
 * clearing VIRTQ_USED_F_NO_NOTIFY).  Returns true when more buffers
 * arrived meanwhile, so the caller polls again instead of sleeping.
 */
bool virtq_enable_notify(struct virtq *q);
/*
 * Like virtq_enable_notify(), but ask for a kick only when the driver
 * publishes past available index `idx` (the index already seen): for a
 * device that left buffers in the ring because they were not enough.
 * Returns true when the index moved past `idx` meanwhile.
 */
bool virtq_enable_notify_after(struct virtq *q, uint16_t idx);
/* While processing: tell the driver kicks are not needed. */
void virtq_disable_notify(struct virtq *q);

#endif
