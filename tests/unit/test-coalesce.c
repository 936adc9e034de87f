/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interrupt coalescing policy (kvirt/coalesce.h): nothing is held at low
 * queue depth or once half the window has completed; a hold never lasts
 * longer than a quarter of the mean service time, nor 10 ms.
 */
#include "kvirt/coalesce.h"
#include "tap.h"

#define MS 1000000ull

int main(void)
{
	struct kv_coalesce c = { 0 };
	for (int i = 0; i < 50; i++)
		kv_coalesce_latency(&c, 8 * MS);
	is_int((long)c.lat_ns, (long)(8 * MS), "steady latency is the average");

	/* QD1..3: always interrupt at once. */
	ok(kv_coalesce_hold(&c, 1, 0, 0) == 0, "QD1: no hold");
	ok(kv_coalesce_hold(&c, 1, KV_COALESCE_MIN_INFLIGHT - 1, 0) == 0,
	   "below the minimum depth: no hold");
	ok(kv_coalesce_hold(&c, 0, 31, 0) == 0, "nothing done: nothing to hold");

	/* QD32: 3 done, 29 outstanding -> hold up to lat/4 = 2 ms. */
	uint64_t h = kv_coalesce_hold(&c, 3, 29, 100 * MS);
	is_int((long)h, (long)(2 * MS), "first hold is a quarter of the latency");
	h = kv_coalesce_hold(&c, 8, 24, 101 * MS);
	is_int((long)h, (long)(1 * MS), "the hold counts from the first held completion");
	ok(kv_coalesce_hold(&c, 10, 22, 102 * MS) == 0, "deadline reached: interrupt");
	ok(!c.holding, "hold forgotten after the interrupt");

	ok(kv_coalesce_hold(&c, 5, 27, 200 * MS) > 0, "new batch held again");
	ok(kv_coalesce_hold(&c, 16, 16, 200 * MS + 1000) == 0,
	   "half the window completed: interrupt at once");

	/* Latency jumps: the average follows within a few dozen requests. */
	for (int i = 0; i < 40; i++)
		kv_coalesce_latency(&c, 800 * MS);
	h = kv_coalesce_hold(&c, 1, 31, 300 * MS);
	is_int((long)h, (long)KV_COALESCE_MAX_HOLD_NS, "hold capped at 10 ms");
	c.holding = false;

	/* Fast device: 40 us service time -> 10 us hold. */
	struct kv_coalesce f = { 0 };
	kv_coalesce_latency(&f, 40000);
	is_int((long)kv_coalesce_hold(&f, 2, 30, 0), 10000L, "fast device: 10 us");
	return tap_done();
}
