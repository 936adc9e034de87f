/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueue walker against crafted rings in a fake guest RAM: good
 * chains come out whole; every malformed ring or chain is rejected with
 * -EBADMSG and nothing outside guest RAM is touched (run it under ASan).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvirt/guest_mem.h"
#include "kvirt/virtqueue.h"
#include "guest-ram.h"
#include "tap.h"

#define RAM_SIZE  (1u << 20)
#define DESC_GPA  0x1000
#define AVAIL_GPA 0x5000
#define USED_GPA  0x6000
#define DATA_GPA  0x10000
#define IND_GPA	  0x40000

static struct guest_mem mem;

static void ram_reset(void)
{
	memset(ram, 0, RAM_SIZE);
}

/* Publish `heads` in the available ring of a queue of `size`. */
static void make_avail(uint16_t size, const uint16_t *heads, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		put16(AVAIL_GPA + 4 + 2 * (i % size), heads[i]);
	put16(AVAIL_GPA + 2, (uint16_t)n);
}

static int enable(struct virtq *q, uint16_t size, bool event_idx, bool indirect)
{
	return virtq_enable(q, &mem, size, DESC_GPA, AVAIL_GPA, USED_GPA, event_idx, indirect);
}

/* One chain at head 0 on a fresh queue of 8: pop's result. */
static int pop_one(bool indirect, struct virtq_req *req)
{
	struct virtq q;
	uint16_t head = 0;
	make_avail(8, &head, 1);
	if (enable(&q, 8, false, indirect) < 0)
		return -100;
	return virtq_pop(&q, req);
}

static struct virtq_req req;

static void test_enable(void)
{
	struct virtq q;
	is_int(virtq_enable(&q, &mem, 6, DESC_GPA, AVAIL_GPA, USED_GPA, false, false), -EINVAL,
	       "queue size not a power of two");
	is_int(virtq_enable(&q, &mem, 2048, DESC_GPA, AVAIL_GPA, USED_GPA, false, false), -EINVAL,
	       "queue size above the maximum");
	is_int(virtq_enable(&q, &mem, 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA, false, false), -EINVAL,
	       "misaligned descriptor table");
	is_int(virtq_enable(&q, &mem, 8, DESC_GPA, AVAIL_GPA + 1, USED_GPA, false, false), -EINVAL,
	       "misaligned available ring");
	is_int(virtq_enable(&q, &mem, 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2, false, false), -EINVAL,
	       "misaligned used ring");
	is_int(virtq_enable(&q, &mem, 8, RAM_SIZE - 64, AVAIL_GPA, USED_GPA, false, false), -EFAULT,
	       "descriptor table running off the end of RAM");
	is_int(virtq_enable(&q, &mem, 8, DESC_GPA, 0xfffffffffffffff0ull, USED_GPA, false, false),
	       -EFAULT, "available ring address that wraps");
	is_int(virtq_enable(&q, &mem, 8, DESC_GPA, AVAIL_GPA, RAM_SIZE + 4096, false, false),
	       -EFAULT, "used ring outside RAM");
	struct virtq_req r;
	virtq_reset(&q);
	is_int(virtq_pop(&q, &r), 0, "a queue never enabled is empty");
}

static void test_good_chains(void)
{
	ram_reset();
	struct virtq q;
	set_desc(DESC_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 3);
	set_desc(DESC_GPA, 3, DATA_GPA + 0x1000, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 5);
	set_desc(DESC_GPA, 5, DATA_GPA + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	set_desc(DESC_GPA, 1, DATA_GPA + 0x4000, 512, 0, 0);
	uint16_t heads[] = { 0, 1 };
	make_avail(8, heads, 2);
	ok(enable(&q, 8, false, false) == 0, "enable a queue of 8");
	is_int(virtq_pop(&q, &req), 1, "pop a 3-descriptor chain");
	ok(req.head == 0 && req.nseg == 3 && req.nread == 1 && req.read_len == 16 &&
	       req.write_len == 4097,
	   "chain: head 0, 1 readable + 2 writable segments, lengths add up");
	ok(req.seg[0].ptr == ram + DATA_GPA && !req.seg[0].write && req.seg[2].write &&
	       req.seg[2].ptr == ram + DATA_GPA + 0x3000,
	   "segment host pointers map the guest addresses");
	is_int(virtq_pop(&q, &req), 1, "pop a single-descriptor chain");
	ok(req.head == 1 && req.nseg == 1, "second chain is head 1");
	is_int(virtq_pop(&q, &req), 0, "ring empty afterwards");

	virtq_push(&q, 1, 0);
	virtq_push(&q, 0, 4097);
	is_int(get16(USED_GPA + 2), 2, "used index published");
	ok(get32(USED_GPA + 4) == 1 && get32(USED_GPA + 8) == 0 && get32(USED_GPA + 12) == 0 &&
	       get32(USED_GPA + 16) == 4097,
	   "used elements carry head and written length in completion order");
	ok(virtq_should_notify(&q), "interrupt wanted without suppression");
	put16(AVAIL_GPA, 1); /* VIRTQ_AVAIL_F_NO_INTERRUPT */
	virtq_push(&q, 0, 1);
	ok(!virtq_should_notify(&q), "NO_INTERRUPT flag suppresses the interrupt");

	/* A good indirect chain. */
	ram_reset();
	set_desc(DESC_GPA, 0, IND_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(IND_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(IND_GPA, 2, DATA_GPA + 512, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(IND_GPA, 1, DATA_GPA + 1024, 1, VIRTQ_DESC_F_WRITE, 0);
	is_int(pop_one(true, &req), 1, "indirect chain accepted with INDIRECT_DESC");
	ok(req.nseg == 3 && req.write_len == 513, "indirect chain segments");
}

static void test_event_idx(void)
{
	ram_reset();
	struct virtq q;
	for (unsigned i = 0; i < 8; i++)
		set_desc(DESC_GPA, i, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	uint16_t heads[] = { 0, 1, 2, 3, 4, 5 };
	make_avail(8, heads, 6);
	ok(enable(&q, 8, true, false) == 0, "enable with EVENT_IDX");
	for (int i = 0; i < 6; i++)
		virtq_pop(&q, &req);
	is_int(get16(USED_GPA + 4 + 8 * 8), 6, "avail_event follows the consumed index");
	ok(!virtq_enable_notify(&q), "no new buffers after re-enabling notifications");
	put16(AVAIL_GPA + 4 + 2 * 8, 2); /* used_event: interrupt when entry 2 is used */
	virtq_push(&q, 0, 8);
	ok(virtq_should_notify(&q), "first completion always signals");
	virtq_push(&q, 1, 8);
	ok(!virtq_should_notify(&q), "used index 2 has not passed used_event 2");
	virtq_push(&q, 2, 8);
	ok(virtq_should_notify(&q), "used index 3 passes used_event 2");
	virtq_push(&q, 3, 8);
	virtq_push(&q, 4, 8);
	ok(!virtq_should_notify(&q), "no interrupt again until used_event moves");
	put16(AVAIL_GPA + 2, 7);
	ok(virtq_enable_notify(&q), "a buffer that raced the re-enable is reported");
}

static void test_bad_chains(void)
{
	struct virtq q;
	/* Out-of-range buffer addresses. */
	ram_reset();
	set_desc(DESC_GPA, 0, RAM_SIZE - 8, 16, 0, 0);
	is_int(pop_one(false, &req), -EBADMSG, "buffer running off the end of RAM");
	set_desc(DESC_GPA, 0, 0xfffffffffffffff0ull, 0x20, 0, 0);
	is_int(pop_one(false, &req), -EBADMSG, "buffer address + length wraps");
	set_desc(DESC_GPA, 0, 3ull << 30, 16, 0, 0);
	is_int(pop_one(false, &req), -EBADMSG, "buffer in the MMIO hole");
	/* Zero-length descriptors. */
	set_desc(DESC_GPA, 0, DATA_GPA, 0, 0, 0);
	is_int(pop_one(false, &req), -EBADMSG, "zero-length descriptor");
	set_desc(DESC_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, DATA_GPA, 0, VIRTQ_DESC_F_WRITE, 0);
	is_int(pop_one(false, &req), -EBADMSG, "zero-length descriptor at the end of a chain");
	/* Loops. */
	ram_reset();
	set_desc(DESC_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
	is_int(pop_one(false, &req), -EBADMSG, "descriptor pointing at itself");
	set_desc(DESC_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc(DESC_GPA, 2, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
	is_int(pop_one(false, &req), -EBADMSG, "three-descriptor loop");
	/* Indices past the ring. */
	set_desc(DESC_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 8);
	is_int(pop_one(false, &req), -EBADMSG, "next index equal to the queue size");
	set_desc(DESC_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0xffff);
	is_int(pop_one(false, &req), -EBADMSG, "next index 0xffff");
	ram_reset();
	uint16_t head = 8;
	make_avail(8, &head, 1);
	ok(enable(&q, 8, false, false) == 0, "enable");
	is_int(virtq_pop(&q, &req), -EBADMSG, "head index past the ring");
	set_desc(DESC_GPA, 0, DATA_GPA, 16, 0, 0);
	head = 0;
	make_avail(8, &head, 1);
	put16(AVAIL_GPA + 2, 9);
	ok(enable(&q, 8, false, false) == 0, "enable");
	is_int(virtq_pop(&q, &req), -EBADMSG, "available index more than a ring ahead");
	/* Readable after writable. */
	ram_reset();
	set_desc(DESC_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(DESC_GPA, 1, DATA_GPA, 16, 0, 0);
	is_int(pop_one(false, &req), -EBADMSG, "readable descriptor after a writable one");
	/* Oversized: more segments than a request holds (queue of 1024, all chained). */
	ram_reset();
	for (unsigned i = 0; i < VIRTQ_MAX_SEGS + 1; i++)
		set_desc(DESC_GPA, i, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
	set_desc(DESC_GPA, VIRTQ_MAX_SEGS + 1, DATA_GPA, 16, 0, 0);
	head = 0;
	put16(0x9000 + 4, 0);
	put16(0x9000 + 2, 1);
	ok(virtq_enable(&q, &mem, 1024, DESC_GPA, 0x9000, 0xb000, false, false) == 0,
	   "enable a queue of 1024");
	is_int(virtq_pop(&q, &req), -EBADMSG, "chain with more segments than a request holds");
	/* Oversized: more than 4 GiB in one chain (buffers may overlap). */
	ram_reset();
	for (unsigned i = 0; i < 8; i++)
		set_desc(DESC_GPA, i, 0, RAM_SIZE, i < 7 ? VIRTQ_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	is_int(pop_one(false, &req), 1, "8 MiB of overlapping buffers is fine");
}

static void test_bad_indirect(void)
{
	ram_reset();
	set_desc(IND_GPA, 0, DATA_GPA, 16, 0, 0);
	set_desc(DESC_GPA, 0, IND_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	is_int(pop_one(false, &req), -EBADMSG, "indirect descriptor without INDIRECT_DESC");
	is_int(pop_one(true, &req), 1, "same chain with INDIRECT_DESC");
	set_desc(DESC_GPA, 0, IND_GPA, 24, VIRTQ_DESC_F_INDIRECT, 0);
	is_int(pop_one(true, &req), -EBADMSG, "indirect table length not a multiple of 16");
	set_desc(DESC_GPA, 0, IND_GPA, 0, VIRTQ_DESC_F_INDIRECT, 0);
	is_int(pop_one(true, &req), -EBADMSG, "empty indirect table");
	set_desc(DESC_GPA, 0, IND_GPA, 16 * (VIRTQ_MAX_SIZE + 1), VIRTQ_DESC_F_INDIRECT, 0);
	is_int(pop_one(true, &req), -EBADMSG, "indirect table larger than the maximum queue");
	set_desc(DESC_GPA, 0, RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	is_int(pop_one(true, &req), -EBADMSG, "indirect table running off RAM");
	set_desc(DESC_GPA, 0, IND_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	is_int(pop_one(true, &req), -EBADMSG, "indirect descriptor with NEXT");
	set_desc(DESC_GPA, 0, IND_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(IND_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(IND_GPA, 1, IND_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	is_int(pop_one(true, &req), -EBADMSG, "nested indirect table");
	set_desc(IND_GPA, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
	is_int(pop_one(true, &req), -EBADMSG, "loop inside an indirect table");
	set_desc(IND_GPA, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	is_int(pop_one(true, &req), -EBADMSG, "next index past the indirect table");
	set_desc(DESC_GPA, 0, IND_GPA + 8, 32, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(IND_GPA + 8, 0, DATA_GPA, 16, 0, 0);
	is_int(pop_one(true, &req), 1, "an unaligned indirect table is read safely (copied)");
}

int main(void)
{
	if (guest_ram_init(&mem, RAM_SIZE) < 0)
		return 1;
	test_enable();
	test_good_chains();
	test_event_idx();
	test_bad_chains();
	test_bad_indirect();
	free(ram);
	return tap_done();
}
