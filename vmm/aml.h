/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small AML byte emitter, enough for the DSDT's device declarations
 * (ACPI 6.x, section 20 "ACPI Machine Language Specification").  No iasl at
 * build time: the tables are generated at VM start from the config.
 *
 * Nested objects (Scope, Device, Package, Buffer) carry a PkgLength whose
 * own size depends on the content, so *_begin() reserves the maximum
 * (4 bytes) and *_end() packs it down once the content is known.
 * Allocation failure is sticky (`oom`) and checked once at the end.
 */
#ifndef KVIRT_VMM_AML_H
#define KVIRT_VMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool oom;   /* an allocation failed; content is incomplete */
	bool error; /* an encoding limit was exceeded (name too long, object > 256 MiB) */
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);

void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* "\\_SB_", "COM1", "_SB_.PCI0": segments padded to 4 chars with '_'. */
void aml_namestring(struct aml *a, const char *path);
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EisaId("PNP0501") as iasl compiles it (a DWordConst). */
void aml_eisaid(struct aml *a, const char *id);
/* Name(NAME, ...): emit the value right after. */
void aml_name(struct aml *a, const char *name);

size_t aml_scope_begin(struct aml *a, const char *name);
size_t aml_device_begin(struct aml *a, const char *name);
size_t aml_package_begin(struct aml *a, uint8_t nelems);
/* Buffer(){bytes} in one go. */
void aml_buffer(struct aml *a, const void *bytes, size_t n);
void aml_end(struct aml *a, size_t start); /* closes any *_begin() */

/* Resource template pieces; collect into a byte array, then aml_buffer(). */
struct aml_res {
	uint8_t b[128];
	size_t len;
	bool overflow;
};
void aml_res_io(struct aml_res *r, uint16_t port, uint8_t len);
void aml_res_irq(struct aml_res *r, unsigned irq);
/* Word address space descriptors (ACPI 6.4, 6.4.3.5.3): bus numbers and I/O ranges
 * a bridge produces; DWord memory (6.4.3.5.2) for its 32-bit MMIO window. */
void aml_res_word_bus(struct aml_res *r, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml_res *r, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml_res *r, uint32_t min, uint32_t max);
void aml_res_end(struct aml_res *r);

/* Encode a PkgLength for `content` bytes; returns bytes written (1-4) or 0 if too big. */
size_t aml_pkglength_encode(size_t content, uint8_t out[4]);

#endif
