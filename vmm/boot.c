/* SPDX-License-Identifier: Apache-2.0 */
#include "boot.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvirt/cleanup.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Offsets in the zero page / setup header (boot.rst, zero-page.rst). */
#define BP_ACPI_RSDP	    0x070
#define BP_E820_ENTRIES	    0x1e8
#define HDR_START	    0x1f1
#define HDR_SETUP_SECTS	    0x1f1
#define HDR_VID_MODE	    0x1fa
#define HDR_BOOT_FLAG	    0x1fe
#define HDR_JUMP	    0x200
#define HDR_MAGIC	    0x202
#define HDR_VERSION	    0x206
#define HDR_TYPE_OF_LOADER  0x210
#define HDR_LOADFLAGS	    0x211
#define HDR_RAMDISK_IMAGE   0x218
#define HDR_RAMDISK_SIZE    0x21c
#define HDR_HEAP_END_PTR    0x224
#define HDR_CMD_LINE_PTR    0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGN    0x230
#define HDR_RELOCATABLE	    0x234
#define HDR_XLOADFLAGS	    0x236
#define HDR_CMDLINE_SIZE    0x238
#define HDR_PREF_ADDRESS    0x258
#define HDR_INIT_SIZE	    0x260
#define HDR_MAX_END	    0x290
#define BP_E820_TABLE	    0x2d0

#define LOADFLAG_LOADED_HIGH  0x01
#define LOADFLAG_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64	      0x01

const uint64_t boot_gdt[5] = {
	0,
	0,
	0x00af9b000000ffffull, /* 64-bit code, DPL 0 */
	0x00cf93000000ffffull, /* flat data */
	0x008f8b000000ffffull, /* busy TSS; only so TR is valid for VM entry */
};

static uint16_t get16(const uint8_t *b, size_t off)
{
	return (uint16_t)(b[off] | b[off + 1] << 8);
}

static uint32_t get32(const uint8_t *b, size_t off)
{
	return (uint32_t)get16(b, off) | (uint32_t)get16(b, off + 2) << 16;
}

static uint64_t get64(const uint8_t *b, size_t off)
{
	return (uint64_t)get32(b, off) | (uint64_t)get32(b, off + 4) << 32;
}

int bzimage_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct bzimage_info *bi,
		  struct kv_err **err)
{
	memset(bi, 0, sizeof(*bi));
	if (len < 1024 || file_size < 1024)
		return kv_err_set(err, EINVAL, "kernel: too small to be a bzImage");
	if (get16(buf, HDR_BOOT_FLAG) != 0xaa55 || memcmp(buf + HDR_MAGIC, "HdrS", 4))
		return kv_err_set(err, EINVAL,
				  "kernel: not a bzImage (no \"HdrS\" setup header); kvirt-vmm "
				  "boots x86-64 bzImage kernels (vmlinuz)");
	bi->version = get16(buf, HDR_VERSION);
	if (bi->version < BOOT_MIN_PROTOCOL)
		return kv_err_set(err, ENOTSUP,
				  "kernel: boot protocol %u.%02u is too old; need 2.12 or newer",
				  bi->version >> 8, bi->version & 0xff);
	bi->setup_sects = buf[HDR_SETUP_SECTS] ? buf[HDR_SETUP_SECTS] : 4;
	bi->loadflags = buf[HDR_LOADFLAGS];
	bi->xloadflags = get16(buf, HDR_XLOADFLAGS);
	if (!(bi->loadflags & LOADFLAG_LOADED_HIGH))
		return kv_err_set(err, ENOTSUP, "kernel: a zImage (loaded low) is not supported");
	if (!(bi->xloadflags & XLF_KERNEL_64))
		return kv_err_set(err, ENOTSUP, "kernel: has no 64-bit entry point (not x86-64?)");
	bi->initrd_addr_max = get32(buf, HDR_INITRD_ADDR_MAX);
	bi->kernel_alignment = get32(buf, HDR_KERNEL_ALIGN);
	bi->cmdline_size = get32(buf, HDR_CMDLINE_SIZE);
	bi->pref_address = get64(buf, HDR_PREF_ADDRESS);
	bi->init_size = get32(buf, HDR_INIT_SIZE);
	bi->file_size = file_size;
	bi->payload_offset = (uint64_t)(bi->setup_sects + 1) * 512;
	if (bi->payload_offset >= file_size)
		return kv_err_set(err, EINVAL,
				  "kernel: setup sectors extend past the end of the file");
	bi->payload_size = file_size - bi->payload_offset;

	/* The header ends where the jump at 0x200 lands. */
	size_t end = HDR_JUMP + 2 + buf[HDR_JUMP + 1];
	if (end > HDR_MAX_END)
		end = HDR_MAX_END;
	bi->hdr_len = end - HDR_START;
	memcpy(bi->hdr, buf + HDR_START, bi->hdr_len);
	return 0;
}

int bzimage_probe(const char *path, struct bzimage_info *bi, struct kv_err **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kv_err_errno(err, "kernel: cannot open %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return kv_err_errno(err, "kernel: cannot stat %s", path);
	uint8_t buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return kv_err_errno(err, "kernel: cannot read %s", path);
	return bzimage_parse(buf, (size_t)n, (uint64_t)st.st_size, bi, err);
}

int boot_plan_make(const struct bzimage_info *bi, const struct guest_mem *layout,
		   uint64_t initrd_size, size_t cmdline_len, struct boot_plan *plan,
		   struct kv_err **err)
{
	memset(plan, 0, sizeof(*plan));
	uint64_t low_end = guest_mem_low_end(layout);
	if (bi->cmdline_size && cmdline_len > bi->cmdline_size)
		return kv_err_set(err, E2BIG, "cmdline: %zu bytes, this kernel accepts %u",
				  cmdline_len, bi->cmdline_size);

	plan->kernel_addr = BOOT_KERNEL_ADDR;
	plan->entry = plan->kernel_addr + 0x200;
	/*
	 * A relocatable kernel loaded low decompresses at max(load, pref_address);
	 * reserve up to pref_address + init_size so the initrd stays clear of it.
	 */
	uint64_t end = plan->kernel_addr + bi->payload_size;
	uint64_t base = bi->pref_address > plan->kernel_addr ? bi->pref_address : plan->kernel_addr;
	if (base + bi->init_size > end)
		end = base + bi->init_size;
	plan->kernel_end = end;
	if (end > low_end)
		return kv_err_set(err, ENOSPC,
				  "memory: %llu MiB is too small for this kernel (needs %llu MiB)",
				  (unsigned long long)(low_end >> 20),
				  (unsigned long long)((end + (1 << 20) - 1) >> 20));
	if (!initrd_size)
		return 0;

	uint64_t top = low_end;
	uint64_t max = (uint64_t)bi->initrd_addr_max + 1;
	if (bi->initrd_addr_max && max < top)
		top = max;
	if (initrd_size > top)
		return kv_err_set(err, ENOSPC, "initrd: %llu MiB does not fit below %llu MiB",
				  (unsigned long long)(initrd_size >> 20),
				  (unsigned long long)(top >> 20));
	uint64_t addr = (top - initrd_size) & ~0xfffull;
	if (addr < end)
		return kv_err_set(err, ENOSPC,
				  "memory: too small for kernel + initrd (initrd of %llu KiB would "
				  "overlap the kernel); give the VM more memory",
				  (unsigned long long)(initrd_size >> 10));
	plan->initrd_addr = addr;
	plan->initrd_size = initrd_size;
	return 0;
}

static unsigned e820_add(struct e820_entry *out, unsigned n, unsigned max, uint64_t addr,
			 uint64_t size, uint32_t type)
{
	if (n < max && size)
		out[n++] = (struct e820_entry){ addr, size, type };
	return n;
}

unsigned boot_e820(const struct guest_mem *m, struct e820_entry *out, unsigned max)
{
	unsigned n = 0;
	uint64_t low_end = guest_mem_low_end(m);
	n = e820_add(out, n, max, 0, BOOT_EBDA_START, E820_RAM);
	/* EBDA, VGA hole, BIOS area: the ACPI tables live at 0xe0000 in here. */
	n = e820_add(out, n, max, BOOT_EBDA_START, BOOT_HIGH_MEM_START - BOOT_EBDA_START,
		     E820_RESERVED);
	if (low_end > BOOT_HIGH_MEM_START)
		n = e820_add(out, n, max, BOOT_HIGH_MEM_START, low_end - BOOT_HIGH_MEM_START,
			     E820_RAM);
	for (unsigned i = 1; i < m->nregions; i++)
		n = e820_add(out, n, max, m->regions[i].gpa, m->regions[i].size, E820_RAM);
	return n;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* x86 only: little-endian host */
}

int boot_setup(const struct guest_mem *m, const struct bzimage_info *bi,
	       const struct boot_plan *plan, const char *cmdline, uint64_t rsdp,
	       struct kv_err **err)
{
	uint8_t *bp = guest_mem_ptr(m, BOOT_PARAMS_ADDR, 4096);
	size_t cl = strlen(cmdline) + 1;
	uint8_t *cmd = guest_mem_ptr(m, BOOT_CMDLINE_ADDR, cl);
	uint64_t *gdt = guest_mem_ptr(m, BOOT_GDT_ADDR, sizeof(boot_gdt));
	uint64_t *idt = guest_mem_ptr(m, BOOT_IDT_ADDR, 8);
	uint64_t *pml4 = guest_mem_ptr(m, BOOT_PML4_ADDR, 4096);
	uint64_t *pdpt = guest_mem_ptr(m, BOOT_PDPT_ADDR, 4096);
	uint64_t *pd = guest_mem_ptr(m, BOOT_PD_ADDR, 4 * 4096);
	if (!bp || !cmd || !gdt || !idt || !pml4 || !pdpt || !pd)
		return kv_err_set(err, EFAULT, "boot: low memory is not RAM");

	memset(bp, 0, 4096);
	memcpy(bp + HDR_START, bi->hdr, bi->hdr_len);
	bp[HDR_TYPE_OF_LOADER] = 0xff; /* undefined loader id */
	bp[HDR_LOADFLAGS] = (uint8_t)(bi->loadflags | LOADFLAG_CAN_USE_HEAP);
	bp[HDR_VID_MODE] = 0xff; /* "normal" text mode: no video setup */
	bp[HDR_VID_MODE + 1] = 0xff;
	bp[HDR_HEAP_END_PTR] = 0x00;
	bp[HDR_HEAP_END_PTR + 1] = 0xfe;
	put32(bp + HDR_CMD_LINE_PTR, BOOT_CMDLINE_ADDR);
	put32(bp + HDR_RAMDISK_IMAGE, (uint32_t)plan->initrd_addr);
	put32(bp + HDR_RAMDISK_SIZE, (uint32_t)plan->initrd_size);
	memcpy(bp + BP_ACPI_RSDP, &rsdp, 8);

	struct e820_entry e820[E820_MAX_ENTRIES];
	unsigned n = boot_e820(m, e820, E820_MAX_ENTRIES);
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	memcpy(bp + BP_E820_TABLE, e820, n * sizeof(e820[0]));

	memcpy(cmd, cmdline, cl);
	memcpy(gdt, boot_gdt, sizeof(boot_gdt));
	*idt = 0;

	/* Identity map 0..4 GiB with 2 MiB pages: covers kernel, zero page, initrd. */
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT_ADDR | 0x3; /* present, writable */
	for (uint64_t i = 0; i < 4; i++) {
		pdpt[i] = (BOOT_PD_ADDR + i * 4096) | 0x3;
		for (uint64_t j = 0; j < 512; j++)
			pd[i * 512 + j] = ((i << 30) | (j << 21)) | 0x83; /* present, rw, 2M */
	}
	return 0;
}

static int load_fd(const struct guest_mem *m, const char *field, int fd, uint64_t off,
		   uint64_t size, uint64_t gpa, struct kv_err **err)
{
	uint8_t *dst = guest_mem_ptr(m, gpa, size);
	if (!dst)
		return kv_err_set(err, EFAULT, "%s: does not fit in guest memory", field);
	/*
	 * Allocate the destination pages in one call instead of one fault per
	 * 4 KiB page during the copy (a 14 MiB kernel is ~3500 faults).  Best
	 * effort: older kernels lack MADV_POPULATE_WRITE and the copy faults in.
	 */
	uintptr_t first = (uintptr_t)dst & ~(uintptr_t)4095;
	uintptr_t last = ((uintptr_t)dst + size + 4095) & ~(uintptr_t)4095;
	(void)madvise((void *)first, last - first, MADV_POPULATE_WRITE);
	uint64_t done = 0;
	while (done < size) {
		ssize_t r = pread(fd, dst + done, size - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return kv_err_errno(err, "%s: cannot read it", field);
		if (r == 0)
			return kv_err_set(err, EIO, "%s: the file shrank while loading", field);
		done += (uint64_t)r;
	}
	return 0;
}

int boot_load_fds(const struct guest_mem *m, const struct bzimage_info *bi,
		  const struct boot_plan *plan, int kernel_fd, int initrd_fd, struct kv_err **err)
{
	int r = load_fd(m, "kernel", kernel_fd, bi->payload_offset, bi->payload_size,
			plan->kernel_addr, err);
	if (r < 0 || initrd_fd < 0 || !plan->initrd_size)
		return r;
	return load_fd(m, "initrd", initrd_fd, 0, plan->initrd_size, plan->initrd_addr, err);
}

int boot_load_files(const struct guest_mem *m, const struct bzimage_info *bi,
		    const struct boot_plan *plan, const char *kernel, const char *initrd,
		    struct kv_err **err)
{
	_cleanup_close_ int kfd = open(kernel, O_RDONLY | O_CLOEXEC);
	if (kfd < 0)
		return kv_err_errno(err, "kernel: cannot open %s", kernel);
	_cleanup_close_ int ifd = -1;
	if (initrd && plan->initrd_size) {
		ifd = open(initrd, O_RDONLY | O_CLOEXEC);
		if (ifd < 0)
			return kv_err_errno(err, "initrd: cannot open %s", initrd);
	}
	return boot_load_fds(m, bi, plan, kfd, ifd, err);
}
