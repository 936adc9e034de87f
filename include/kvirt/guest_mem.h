/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest physical memory and the one checked accessor every guest address
 * goes through (house rule 5).  RAM is anonymous, private and
 * MAP_NORESERVE, so untouched guest pages cost nothing; when it crosses
 * 3 GiB it is split around the 32-bit MMIO hole (3 GiB .. 4 GiB) and the rest
 * continues at 4 GiB.
 */
#ifndef KVIRT_GUEST_MEM_H
#define KVIRT_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvirt/err.h"

#define GUEST_MMIO_HOLE_START (3ull << 30)
#define GUEST_MMIO_HOLE_END   (4ull << 30)
#define GUEST_MEM_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host; /* inside the single host mapping */
};

struct guest_mem {
	uint8_t *base; /* one host mapping for all regions (MAP_FAILED when empty) */
	size_t map_len;
	unsigned nregions;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
};

/* Compute the region layout for `size` bytes of RAM (no mapping; used by tests). */
void guest_mem_layout(uint64_t size, struct guest_mem *m);

/* Layout + map.  `thp` asks for transparent huge pages. */
int guest_mem_create(struct guest_mem *m, uint64_t size, bool thp, struct kv_err **err);
void guest_mem_destroy(struct guest_mem *m);

/*
 * The checked accessor: a host pointer to [gpa, gpa+len) when that whole range
 * lies inside one RAM region, else NULL.  Overflow-safe; len 0 is rejected.
 */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Copy helpers on top of guest_mem_ptr(); -EFAULT when the range is not RAM. */
int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len);
int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len);

/* End of RAM below the hole (the "low memory" top). */
uint64_t guest_mem_low_end(const struct guest_mem *m);

#endif
