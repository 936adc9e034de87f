/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interrupt coalescing for a virtqueue whose requests complete out of line
 * (virtio-blk).  At queue depth > 1 the guest is woken for a batch of
 * completions instead of for the first one: the interrupt is held while
 * fewer requests have completed (and not yet been signalled) than are still
 * outstanding, for at most a quarter of the requests' mean service time,
 * so the added latency stays proportional to the device's own.  Below
 * KV_COALESCE_MIN_INFLIGHT outstanding requests nothing is held (QD1 keeps
 * its latency).  Pure logic, no clock or threads: the caller passes times.
 */
#ifndef KVIRT_COALESCE_H
#define KVIRT_COALESCE_H

#include <stdbool.h>
#include <stdint.h>

#define KV_COALESCE_MIN_INFLIGHT 4
#define KV_COALESCE_MAX_HOLD_NS	 (10ull * 1000 * 1000) /* never more than 10 ms */

struct kv_coalesce {
	uint64_t lat_ns;	/* moving average of request service time */
	uint64_t hold_since_ns; /* when the oldest unsignalled completion was held */
	bool holding;
};

/* One request took `ns` from submission to completion. */
void kv_coalesce_latency(struct kv_coalesce *c, uint64_t ns);

/*
 * `done` completions are published but not signalled, `inflight` requests
 * are still outstanding.  Returns 0 when the interrupt should be sent now
 * (and forgets the hold), else how many ns to wait before asking again.
 */
uint64_t kv_coalesce_hold(struct kv_coalesce *c, unsigned done, unsigned inflight, uint64_t now_ns);

#endif
