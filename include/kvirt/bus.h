/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-VM device bus (house rule 4): one for port I/O, one for MMIO.
 * Devices plug in through one const ops table and an opaque pointer; the bus
 * owns nothing but the ranges.  Ranges may not overlap: a second device
 * claiming a byte another already decodes is a configuration bug and is
 * rejected at registration, not discovered when the guest touches it.
 *
 * Registration happens while the VM is built (single-threaded); dispatch is
 * lock-free reads of a sorted array from any vCPU thread.  Devices serialize
 * their own state.
 */
#ifndef KVIRT_BUS_H
#define KVIRT_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvirt/err.h"

struct bus_ops {
	const char *name;
	/* `offset` is relative to the registered base; len is 1, 2, 4 or 8. */
	void (*read)(void *opaque, uint64_t offset, void *data, unsigned len);
	void (*write)(void *opaque, uint64_t offset, const void *data, unsigned len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
};

struct bus {
	const char *name;	  /* "pio" or "mmio", for messages */
	struct bus_range *ranges; /* sorted by base, non-overlapping */
	size_t n, cap;
};

void bus_init(struct bus *b, const char *name);
void bus_clear(struct bus *b);

int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, struct kv_err **err);

/* The range containing [addr, addr+len), or NULL. */
const struct bus_range *bus_find(const struct bus *b, uint64_t addr, unsigned len);

/*
 * Dispatch an access.  Returns false when no device decodes it; reads of
 * unclaimed addresses then return all-ones like an open ISA/PCI bus.
 */
bool bus_read(const struct bus *b, uint64_t addr, void *data, unsigned len);
bool bus_write(const struct bus *b, uint64_t addr, const void *data, unsigned len);

#endif
