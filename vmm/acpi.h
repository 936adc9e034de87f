/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI tables, written by kvirt-vmm itself: RSDP, XSDT, FADT (fixed hardware:
 * PM1a event/control, PM timer, reset register), FACS, DSDT (COM1, pvpanic,
 * \_S5) and MADT (one LAPIC per vCPU, IOAPIC, ISA overrides, LINT1 NMI).
 * The builder is pure (writes into a caller buffer that stands for guest
 * memory at `base`), so unit tests check it without KVM.
 */
#ifndef KVIRT_VMM_ACPI_H
#define KVIRT_VMM_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aml.h"
#include "kvirt/err.h"

/* Tables live in the legacy BIOS area, where the RSDP scan also looks. */
#define ACPI_TABLES_START 0xe0000
#define ACPI_TABLES_END	  0x100000

#define IOAPIC_ADDR 0xfec00000u
#define LAPIC_ADDR  0xfee00000u

struct acpi_config {
	unsigned cpus;
	/* Topology for the MADT's APIC IDs (cpu_apic_id()); all 0: cpus sockets. */
	unsigned sockets, cores, threads;
	bool pci; /* describe the PCI host bridge (PCI0) */
	/* Optional: extra devices inside \_SB (the PCI host bridge hooks in here). */
	void (*dsdt_sb_extra)(struct aml *a, void *ctx);
	void *ctx;
};

struct acpi_layout {
	uint64_t rsdp, xsdt, fadt, facs, dsdt, madt;
	size_t used; /* bytes of the buffer used */
};

int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t len, uint64_t base,
	       struct acpi_layout *out, struct kv_err **err);

/* Sum of bytes mod 256 (a valid table sums to 0). */
uint8_t acpi_checksum(const void *p, size_t n);

#endif
