/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only view of a fake guest's RAM for the virtqueue and virtio device
 * unit tests: write descriptors and ring fields, read back what the device
 * model wrote.  Offsets are guest-physical addresses into `ram`.
 */
#ifndef KVIRT_TESTS_GUEST_RAM_H
#define KVIRT_TESTS_GUEST_RAM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvirt/guest_mem.h"
#include "kvirt/virtqueue.h"

static uint8_t *ram;

/* Allocate `size` bytes of zeroed RAM and describe it as one region at GPA 0. */
static inline int guest_ram_init(struct guest_mem *m, size_t size)
{
	ram = calloc(1, size);
	if (!ram)
		return -1;
	*m = (struct guest_mem){ .base = ram, .map_len = size, .nregions = 1 };
	m->regions[0] = (struct guest_region){ .gpa = 0, .size = size, .host = ram };
	return 0;
}

static inline void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
			    uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	memcpy(ram + table + 16 * i, &d, sizeof(d));
}

static inline void put16(uint64_t gpa, uint16_t v)
{
	memcpy(ram + gpa, &v, 2);
}

static inline uint16_t get16(uint64_t gpa)
{
	uint16_t v;
	memcpy(&v, ram + gpa, 2);
	return v;
}

static inline uint32_t get32(uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, ram + gpa, 4);
	return v;
}

#endif
