/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the split virtqueue descriptor walk.  The input is guest RAM
 * (descriptor table at 0, available ring at 0x2000, used ring at 0x3000)
 * preceded by two bytes: the queue size exponent and the negotiated
 * features.  Every chain taken is "served" by touching each segment, so
 * ASan catches a segment that reaches outside guest RAM, and returned to
 * the used ring; a structural error ends the run as it would mark the
 * device NEEDS_RESET.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvirt/guest_mem.h"
#include "kvirt/virtqueue.h"

#define RAM_SIZE 0x10000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint16_t qsize = (uint16_t)(1u << (data[0] % 8)); /* 1 .. 128 */
	bool event_idx = data[1] & 1, indirect = data[1] & 2;
	uint8_t *ram = calloc(1, RAM_SIZE);
	static struct virtq_req req;
	if (!ram)
		return 0;
	memcpy(ram, data + 2, size - 2 < RAM_SIZE ? size - 2 : RAM_SIZE);
	struct guest_mem mem = { .base = ram, .map_len = RAM_SIZE, .nregions = 1 };
	mem.regions[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .host = ram };
	struct virtq q;
	if (virtq_enable(&q, &mem, qsize, 0, 0x2000, 0x3000, event_idx, indirect) == 0) {
		for (unsigned i = 0; i < 2u * qsize; i++) {
			int r = virtq_pop(&q, &req);
			if (r <= 0)
				break;
			uint32_t written = 0;
			for (unsigned s = 0; s < req.nseg; s++) {
				if (req.seg[s].ptr < ram ||
				    req.seg[s].ptr + req.seg[s].len > ram + RAM_SIZE)
					__builtin_trap();
				if (req.seg[s].write) {
					memset(req.seg[s].ptr, 0xa5, req.seg[s].len);
					written += req.seg[s].len;
				} else {
					volatile uint8_t sink = req.seg[s].ptr[req.seg[s].len - 1];
					(void)sink;
				}
			}
			virtq_push(&q, req.head, written);
			virtq_should_notify(&q);
		}
		virtq_enable_notify(&q);
	}
	free(ram);
	return 0;
}
