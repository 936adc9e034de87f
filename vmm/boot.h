/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Linux x86 boot protocol for bzImage (Documentation/arch/x86/boot.rst):
 * header checks, where everything goes in guest memory, the zero page
 * (boot_params) with its e820 map, and the identity-mapped long-mode
 * environment the 64-bit entry point expects.
 *
 * Guest physical layout (low memory):
 *   0x000500  GDT            0x007000  boot_params (zero page)
 *   0x000520  IDT (empty)    0x009000  PML4, 0xa000 PDPT, 0xb000-0xefff PDs
 *   0x020000  command line   0x09fc00  EBDA .. 1 MiB reserved (ACPI at 0xe0000)
 *   0x100000  protected-mode kernel (entry at +0x200)
 *   initrd: page aligned, as high as possible below min(initrd_addr_max, 3 GiB, RAM end)
 */
#ifndef KVIRT_VMM_BOOT_H
#define KVIRT_VMM_BOOT_H

#include <stdint.h>

#include "kvirt/err.h"
#include "kvirt/guest_mem.h"

#define BOOT_GDT_ADDR	    0x500
#define BOOT_IDT_ADDR	    0x520
#define BOOT_PARAMS_ADDR    0x7000
#define BOOT_STACK_ADDR	    0x8ff0
#define BOOT_PML4_ADDR	    0x9000
#define BOOT_PDPT_ADDR	    0xa000
#define BOOT_PD_ADDR	    0xb000 /* 4 pages: identity map of the first 4 GiB */
#define BOOT_CMDLINE_ADDR   0x20000
#define BOOT_EBDA_START	    0x9fc00
#define BOOT_HIGH_MEM_START 0x100000
#define BOOT_KERNEL_ADDR    0x100000
#define BOOT_MIN_PROTOCOL   0x020c /* 2.12: xloadflags tells us the 64-bit entry exists */
#define BOOT_CODE_SEL	    0x10
#define BOOT_DATA_SEL	    0x18
#define BOOT_TSS_SEL	    0x20
#define E820_MAX_ENTRIES    128

#define E820_RAM      1
#define E820_RESERVED 2

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* What the setup header says, validated. */
struct bzimage_info {
	uint16_t version;
	uint8_t setup_sects;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint32_t cmdline_size;
	uint32_t init_size;
	uint64_t pref_address;
	uint64_t file_size;
	uint64_t payload_offset; /* file offset of the protected-mode kernel */
	uint64_t payload_size;
	uint8_t hdr[0x290 - 0x1f1]; /* raw setup header, copied into the zero page */
	size_t hdr_len;
};

/* Parse the first bytes of a bzImage (at least 1024) of a file `file_size` long. */
int bzimage_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct bzimage_info *bi,
		  struct kv_err **err);
/* Open + parse; no guest memory needed, so it runs before /dev/kvm is opened. */
int bzimage_probe(const char *path, struct bzimage_info *bi, struct kv_err **err);

struct boot_plan {
	uint64_t kernel_addr;
	uint64_t kernel_end; /* highest byte the kernel may use while decompressing */
	uint64_t initrd_addr;
	uint64_t initrd_size;
	uint64_t entry; /* 64-bit entry point */
};

/* Decide placement; fails (naming memory/initrd/cmdline) when things do not fit. */
int boot_plan_make(const struct bzimage_info *bi, const struct guest_mem *layout,
		   uint64_t initrd_size, size_t cmdline_len, struct boot_plan *plan,
		   struct kv_err **err);

/* The e820 map for a memory layout; returns the number of entries. */
unsigned boot_e820(const struct guest_mem *m, struct e820_entry *out, unsigned max);

/* Write the zero page, command line, GDT, IDT and page tables into guest memory. */
int boot_setup(const struct guest_mem *m, const struct bzimage_info *bi,
	       const struct boot_plan *plan, const char *cmdline, uint64_t rsdp,
	       struct kv_err **err);

/* Copy kernel payload and initrd from open files (initrd_fd -1: none) into guest memory. */
int boot_load_fds(const struct guest_mem *m, const struct bzimage_info *bi,
		  const struct boot_plan *plan, int kernel_fd, int initrd_fd, struct kv_err **err);
/* Copy kernel payload and initrd from files into guest memory. */
int boot_load_files(const struct guest_mem *m, const struct bzimage_info *bi,
		    const struct boot_plan *plan, const char *kernel, const char *initrd,
		    struct kv_err **err);

/* GDT entries: null, null, code64 (0x10), data (0x18), TSS (0x20). */
extern const uint64_t boot_gdt[5];

#endif
