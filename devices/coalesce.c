/* SPDX-License-Identifier: Apache-2.0 */
#include "kvirt/coalesce.h"

void kv_coalesce_latency(struct kv_coalesce *c, uint64_t ns)
{
	/* Exponential moving average, weight 1/8: follows a change in load
	 * within a few dozen requests and ignores a single outlier. */
	if (!c->lat_ns)
		c->lat_ns = ns;
	else
		c->lat_ns = c->lat_ns - c->lat_ns / 8 + ns / 8;
}

uint64_t kv_coalesce_hold(struct kv_coalesce *c, unsigned done, unsigned inflight, uint64_t now_ns)
{
	if (done && inflight >= KV_COALESCE_MIN_INFLIGHT && done < inflight) {
		uint64_t limit = c->lat_ns / 4;
		if (limit > KV_COALESCE_MAX_HOLD_NS)
			limit = KV_COALESCE_MAX_HOLD_NS;
		if (!c->holding) {
			c->holding = true;
			c->hold_since_ns = now_ns;
		}
		uint64_t held = now_ns - c->hold_since_ns;
		if (held < limit)
			return limit - held;
	}
	c->holding = false;
	return 0;
}
