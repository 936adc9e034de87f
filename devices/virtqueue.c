/* SPDX-License-Identifier: Apache-2.0 */
#include "kvirt/virtqueue.h"

#include <errno.h>
#include <string.h>

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

/* ---- ring field accessors (little-endian host: x86 only) ---- */
static uint16_t *avail_flags(struct virtq *q)
{
	return &q->avail[0];
}
static uint16_t *avail_idx(struct virtq *q)
{
	return &q->avail[1];
}
static uint16_t *avail_ring(struct virtq *q, uint16_t i)
{
	return &q->avail[2 + i];
}
static uint16_t *used_event(struct virtq *q)
{
	return &q->avail[2 + q->size];
}
static uint16_t *used_flags(struct virtq *q)
{
	return (uint16_t *)(void *)q->used;
}
static uint16_t *used_idx(struct virtq *q)
{
	return (uint16_t *)(void *)(q->used + 2);
}
static uint32_t *used_elem(struct virtq *q, uint16_t i)
{
	return (uint32_t *)(void *)(q->used + 4 + 8 * (size_t)i);
}
static uint16_t *avail_event(struct virtq *q)
{
	return (uint16_t *)(void *)(q->used + 4 + 8 * (size_t)q->size);
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

int virtq_enable(struct virtq *q, const struct guest_mem *mem, uint16_t size, uint64_t desc_gpa,
		 uint64_t avail_gpa, uint64_t used_gpa, bool event_idx, bool indirect)
{
	virtq_reset(q);
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	/* Alignment per 2.7: descriptor table 16, available ring 2, used ring 4. */
	if ((desc_gpa & 15) || (avail_gpa & 1) || (used_gpa & 3))
		return -EINVAL;
	void *d = guest_mem_ptr(mem, desc_gpa, 16ull * size);
	void *a = guest_mem_ptr(mem, avail_gpa, 6 + 2ull * size);
	void *u = guest_mem_ptr(mem, used_gpa, 6 + 8ull * size);
	if (!d || !a || !u)
		return -EFAULT;
	q->mem = mem;
	q->size = size;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->desc = d;
	q->avail = a;
	q->used = u;
	/* The driver starts from zero; pick up whatever it published (normally 0). */
	q->used_idx = __atomic_load_n(used_idx(q), __ATOMIC_ACQUIRE);
	q->last_avail = q->used_idx;
	return 0;
}

/* Copy one descriptor out of guest memory before looking at it. */
static void read_desc(const struct virtq_desc *table, uint32_t i, struct virtq_desc *out)
{
	memcpy(out, &table[i], sizeof(*out));
}

static int add_seg(struct virtq *q, struct virtq_req *req, const struct virtq_desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	if (d->len == 0)
		return -EBADMSG;
	if (req->nseg == VIRTQ_MAX_SEGS)
		return -EBADMSG;
	/* 2.7.4.2: all device-readable descriptors precede device-writable ones. */
	if (!write && req->nseg > req->nread)
		return -EBADMSG;
	uint8_t *p = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!p)
		return -EBADMSG;
	if (write)
		req->write_len += d->len;
	else
		req->read_len += d->len;
	if (req->read_len + req->write_len > UINT32_MAX)
		return -EBADMSG;
	req->seg[req->nseg++] = (struct virtq_seg){ .ptr = p, .len = d->len, .write = write };
	if (!write)
		req->nread++;
	return 0;
}

/* Walk the chain that starts at `head`. */
static int walk_chain(struct virtq *q, uint16_t head, struct virtq_req *req)
{
	const struct virtq_desc *table = q->desc;
	uint32_t tsize = q->size, idx = head, budget = q->size;
	bool in_indirect = false;
	req->head = head;
	req->nseg = req->nread = 0;
	req->read_len = req->write_len = 0;
	for (;;) {
		/* Bounded: at most `tsize` descriptors per table, so loops end here. */
		if (budget-- == 0)
			return -EBADMSG;
		struct virtq_desc d;
		read_desc(table, idx, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* 2.7.5.3.1: only with the feature, never nested, never with NEXT. */
			if (!q->indirect || in_indirect || (d.flags & VIRTQ_DESC_F_NEXT))
				return -EBADMSG;
			if (d.len == 0 || d.len % sizeof(struct virtq_desc) ||
			    d.len / sizeof(struct virtq_desc) > VIRTQ_MAX_SIZE)
				return -EBADMSG;
			const struct virtq_desc *it = guest_mem_ptr(q->mem, d.addr, d.len);
			if (!it)
				return -EBADMSG;
			table = it;
			tsize = d.len / sizeof(struct virtq_desc);
			budget = tsize;
			idx = 0;
			in_indirect = true;
			continue;
		}
		int r = add_seg(q, req, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		idx = d.next;
		if (idx >= tsize)
			return -EBADMSG;
	}
}

int virtq_pop(struct virtq *q, struct virtq_req *req)
{
	if (!q->desc)
		return 0;
	uint16_t avail = __atomic_load_n(avail_idx(q), __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(avail - q->last_avail);
	if (pending == 0)
		return 0;
	if (pending > q->size)
		return -EBADMSG; /* the driver claims more buffers than the ring holds */
	uint16_t head =
	    __atomic_load_n(avail_ring(q, q->last_avail & (q->size - 1)), __ATOMIC_RELAXED);
	if (head >= q->size)
		return -EBADMSG;
	int r = walk_chain(q, head, req);
	if (r < 0)
		return r;
	q->last_avail++;
	if (q->event_idx)
		__atomic_store_n(avail_event(q), q->last_avail, __ATOMIC_RELAXED);
	return 1;
}

void virtq_unpop(struct virtq *q, uint16_t n)
{
	if (!q->avail)
		return;
	q->last_avail = (uint16_t)(q->last_avail - n);
	if (q->event_idx)
		__atomic_store_n(avail_event(q), q->last_avail, __ATOMIC_RELAXED);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	if (!q->used)
		return;
	uint32_t *e = used_elem(q, q->used_idx & (q->size - 1));
	__atomic_store_n(&e[0], (uint32_t)head, __ATOMIC_RELAXED);
	__atomic_store_n(&e[1], len, __ATOMIC_RELAXED);
	q->used_idx++;
	/* The element must be visible before the index that publishes it. */
	__atomic_store_n(used_idx(q), q->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_notify(struct virtq *q)
{
	if (!q->used)
		return false;
	/* Order the used index store before reading the driver's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(__atomic_load_n(avail_flags(q), __ATOMIC_RELAXED) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	uint16_t new_idx = q->used_idx, old = q->signalled_used;
	bool valid = q->signalled_used_valid;
	q->signalled_used = new_idx;
	q->signalled_used_valid = true;
	if (!valid)
		return true;
	uint16_t ev = __atomic_load_n(used_event(q), __ATOMIC_RELAXED);
	/* vring_need_event(): did new_idx pass ev since old? (2.7.10) */
	return (uint16_t)(new_idx - ev - 1) < (uint16_t)(new_idx - old);
}

bool virtq_enable_notify(struct virtq *q)
{
	if (!q->avail)
		return false;
	if (q->event_idx)
		__atomic_store_n(avail_event(q), q->last_avail, __ATOMIC_RELAXED);
	else
		__atomic_store_n(used_flags(q), 0, __ATOMIC_RELAXED);
	/* Publish the request for a kick before looking for buffers that raced it. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(avail_idx(q), __ATOMIC_ACQUIRE) != q->last_avail;
}

bool virtq_enable_notify_after(struct virtq *q, uint16_t idx)
{
	if (!q->avail)
		return false;
	if (q->event_idx)
		__atomic_store_n(avail_event(q), idx, __ATOMIC_RELAXED);
	else
		__atomic_store_n(used_flags(q), 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(avail_idx(q), __ATOMIC_ACQUIRE) != idx;
}

void virtq_disable_notify(struct virtq *q)
{
	if (!q->used)
		return;
	if (!q->event_idx) {
		__atomic_store_n(used_flags(q), VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
		return;
	}
	/*
	 * An avail_event just behind what we took: the driver's "old" index is
	 * never behind last_avail, so no publication crosses it (2.7.10).
	 * virtq_pop() moves it forward again.
	 */
	__atomic_store_n(avail_event(q), (uint16_t)(q->last_avail - 1), __ATOMIC_RELAXED);
}
