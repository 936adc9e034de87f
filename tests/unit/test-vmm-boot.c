/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the VMM's pure parts: guest memory layout and the checked
 * accessor, bzImage header parsing and placement, boot_params/e820, ACPI
 * tables (checksums, and iasl's disassembler when installed), the AML
 * encoder, and CPUID normalization.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acpi.h"
#include "aml.h"
#include "boot.h"
#include "cpu.h"
#include "kvirt/cleanup.h"
#include "kvirt/devices.h"
#include "kvirt/guest_mem.h"
#include "tap.h"

static void test_guest_mem(void)
{
	struct guest_mem m;
	guest_mem_layout(128ull << 20, &m);
	is_int(m.nregions, 1, "128M: one region");
	is_int(m.regions[0].size, 128ull << 20, "128M: region size");

	guest_mem_layout(5ull << 30, &m);
	is_int(m.nregions, 2, "5G: split around the hole");
	is_int(m.regions[0].size, 3ull << 30, "5G: 3 GiB below the hole");
	is_int(m.regions[1].gpa, 4ull << 30, "5G: rest starts at 4 GiB");
	is_int(m.regions[1].size, 2ull << 30, "5G: 2 GiB above");

	guest_mem_layout(3ull << 30, &m);
	is_int(m.nregions, 1, "exactly 3G: no high region");

	struct guest_mem g;
	ok(guest_mem_create(&g, 5ull << 30, false, NULL) == 0, "map 5 GiB (NORESERVE)");
	ok(guest_mem_ptr(&g, 0, 4096) == g.base, "gpa 0 maps to the start");
	ok(guest_mem_ptr(&g, (3ull << 30) - 4096, 4096) != NULL, "last page below the hole");
	ok(guest_mem_ptr(&g, (3ull << 30) - 4096, 4097) == NULL, "range running into the hole");
	ok(guest_mem_ptr(&g, 3ull << 30, 1) == NULL, "hole is not RAM");
	ok(guest_mem_ptr(&g, 4ull << 30, 8) == g.base + (3ull << 30), "4 GiB maps after low RAM");
	ok(guest_mem_ptr(&g, (6ull << 30) - 8, 8) != NULL, "last bytes of RAM");
	ok(guest_mem_ptr(&g, (6ull << 30) - 8, 9) == NULL, "one past the end");
	ok(guest_mem_ptr(&g, UINT64_MAX - 2, 8) == NULL, "wrapping range");
	ok(guest_mem_ptr(&g, 0, 0) == NULL, "zero length");
	ok(guest_mem_ptr(&g, 0, UINT64_MAX) == NULL, "huge length");
	uint32_t v = 0x12345678, back = 0;
	ok(guest_mem_write(&g, 0x1000, &v, 4) == 0 && guest_mem_read(&g, 0x1000, &back, 4) == 0 &&
	       back == v,
	   "write/read round trip");
	is_int(guest_mem_write(&g, 3ull << 30, &v, 4), -EFAULT, "write into the hole fails");
	guest_mem_destroy(&g);
}

/* A synthetic bzImage header: enough for the parser. */
static size_t fake_bzimage(uint8_t *b, size_t len, uint16_t version, uint16_t xloadflags)
{
	memset(b, 0, len);
	b[0x1f1] = 4; /* setup_sects */
	b[0x1fe] = 0x55;
	b[0x1ff] = 0xaa;
	b[0x200] = 0xeb;
	b[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(b + 0x202, "HdrS", 4);
	b[0x206] = (uint8_t)version;
	b[0x207] = (uint8_t)(version >> 8);
	b[0x211] = 0x01; /* LOADED_HIGH */
	uint32_t initrd_max = 0x7fffffff, align = 0x200000, cmdline_size = 2047,
		 init_size = 0x2000000;
	memcpy(b + 0x22c, &initrd_max, 4);
	memcpy(b + 0x230, &align, 4);
	b[0x234] = 1;
	memcpy(b + 0x236, &xloadflags, 2);
	memcpy(b + 0x238, &cmdline_size, 4);
	uint64_t pref = 0x1000000;
	memcpy(b + 0x258, &pref, 8);
	memcpy(b + 0x260, &init_size, 4);
	return len;
}

static void test_bzimage(void)
{
	uint8_t b[4096];
	struct bzimage_info bi;
	_cleanup_err_ struct kv_err *err = NULL;
	fake_bzimage(b, sizeof(b), 0x020f, 0x1);
	ok(bzimage_parse(b, sizeof(b), 8 << 20, &bi, &err) == 0, "parse a 2.15 64-bit header");
	is_int(bi.payload_offset, 5 * 512, "payload after 4 setup sectors");
	is_int(bi.hdr_len, 0x26c - 0x1f1, "header length from the jump");
	is_int(bi.init_size, 0x2000000, "init_size");

	kv_err_freep(&err);
	fake_bzimage(b, sizeof(b), 0x020a, 0x1);
	ok(bzimage_parse(b, sizeof(b), 8 << 20, &bi, &err) == -ENOTSUP &&
	       strstr(kv_err_msg(err), "2.10 is too old"),
	   "old protocol rejected: %s", kv_err_msg(err));
	kv_err_freep(&err);
	fake_bzimage(b, sizeof(b), 0x020f, 0);
	ok(bzimage_parse(b, sizeof(b), 8 << 20, &bi, &err) == -ENOTSUP &&
	       strstr(kv_err_msg(err), "64-bit"),
	   "no 64-bit entry rejected: %s", kv_err_msg(err));
	kv_err_freep(&err);
	fake_bzimage(b, sizeof(b), 0x020f, 1);
	memcpy(b + 0x202, "HdrX", 4);
	ok(bzimage_parse(b, sizeof(b), 8 << 20, &bi, &err) == -EINVAL &&
	       strstr(kv_err_msg(err), "not a bzImage"),
	   "bad magic rejected: %s", kv_err_msg(err));
}

static void test_boot_plan_and_params(void)
{
	uint8_t b[4096];
	struct bzimage_info bi;
	fake_bzimage(b, sizeof(b), 0x020f, 0x1);
	bzimage_parse(b, sizeof(b), 8 << 20, &bi, NULL);

	struct guest_mem layout;
	struct boot_plan plan;
	_cleanup_err_ struct kv_err *err = NULL;
	guest_mem_layout(128ull << 20, &layout);
	ok(boot_plan_make(&bi, &layout, 10 << 20, 100, &plan, &err) == 0, "plan for 128M");
	is_int(plan.entry, 0x100200, "64-bit entry at load address + 0x200");
	is_int(plan.initrd_addr + plan.initrd_size <= (128ull << 20), 1, "initrd inside RAM");
	is_int(plan.initrd_addr & 0xfff, 0, "initrd page aligned");
	ok(plan.initrd_addr >= plan.kernel_end, "initrd above the kernel's decompression area");
	is_int(plan.initrd_addr, (128ull << 20) - (10 << 20), "initrd at the top of RAM");

	/* initrd_addr_max caps the placement even with lots of RAM. */
	guest_mem_layout(5ull << 30, &layout);
	ok(boot_plan_make(&bi, &layout, 10 << 20, 100, &plan, NULL) == 0, "plan for 5G");
	ok(plan.initrd_addr + plan.initrd_size <= 0x80000000ull, "initrd below initrd_addr_max");

	kv_err_freep(&err);
	guest_mem_layout(32ull << 20, &layout);
	ok(boot_plan_make(&bi, &layout, 20 << 20, 100, &plan, &err) < 0 &&
	       strstr(kv_err_msg(err), "memory"),
	   "too little memory names the field: %s", kv_err_msg(err));
	kv_err_freep(&err);
	guest_mem_layout(128ull << 20, &layout);
	ok(boot_plan_make(&bi, &layout, 0, 4000, &plan, &err) == -E2BIG &&
	       strstr(kv_err_msg(err), "cmdline"),
	   "command line longer than cmdline_size: %s", kv_err_msg(err));

	/* e820 with the hole. */
	struct e820_entry e[8];
	guest_mem_layout(5ull << 30, &layout);
	unsigned n = boot_e820(&layout, e, 8);
	is_int(n, 4, "5G: four e820 entries");
	ok(e[0].addr == 0 && e[0].size == 0x9fc00 && e[0].type == E820_RAM, "low RAM below EBDA");
	ok(e[1].addr == 0x9fc00 && e[1].addr + e[1].size == 0x100000 && e[1].type == E820_RESERVED,
	   "EBDA..1M reserved (ACPI tables live there)");
	ok(e[2].addr == 0x100000 && e[2].addr + e[2].size == (3ull << 30) && e[2].type == E820_RAM,
	   "1M..3G RAM");
	ok(e[3].addr == (4ull << 30) && e[3].size == (2ull << 30) && e[3].type == E820_RAM,
	   "4G..6G RAM above the hole");
	guest_mem_layout(128ull << 20, &layout);
	is_int(boot_e820(&layout, e, 8), 3, "128M: three entries");

	/* boot_params contents. */
	struct guest_mem g;
	guest_mem_create(&g, 128ull << 20, false, NULL);
	boot_plan_make(&bi, &g, 10 << 20, 20, &plan, NULL);
	ok(boot_setup(&g, &bi, &plan, "console=ttyS0 quiet", 0xe0000, NULL) == 0, "boot_setup");
	uint8_t *bp = guest_mem_ptr(&g, BOOT_PARAMS_ADDR, 4096);
	uint32_t u32;
	uint64_t u64;
	memcpy(&u32, bp + 0x202, 4);
	ok(!memcmp(bp + 0x202, "HdrS", 4), "setup header copied into the zero page");
	is_int(bp[0x210], 0xff, "type_of_loader");
	memcpy(&u32, bp + 0x228, 4);
	is_int(u32, BOOT_CMDLINE_ADDR, "cmd_line_ptr");
	is_str((char *)guest_mem_ptr(&g, BOOT_CMDLINE_ADDR, 20), "console=ttyS0 quiet",
	       "command line in guest memory");
	memcpy(&u32, bp + 0x218, 4);
	is_int(u32, plan.initrd_addr, "ramdisk_image");
	memcpy(&u32, bp + 0x21c, 4);
	is_int(u32, 10 << 20, "ramdisk_size");
	memcpy(&u64, bp + 0x070, 8);
	is_int(u64, 0xe0000, "acpi_rsdp_addr");
	is_int(bp[0x1e8], 3, "e820_entries");
	struct e820_entry e0;
	memcpy(&e0, bp + 0x2d0 + 2 * 20, 20);
	ok(e0.addr == 0x100000 && e0.type == E820_RAM, "e820 table in the zero page");
	uint64_t *pml4 = guest_mem_ptr(&g, BOOT_PML4_ADDR, 8);
	uint64_t *pd = guest_mem_ptr(&g, BOOT_PD_ADDR, 4 * 4096);
	ok((pml4[0] & ~0xfffull) == BOOT_PDPT_ADDR, "PML4 -> PDPT");
	ok(pd[1] == (0x200000 | 0x83), "2 MiB identity pages");
	ok(pd[4 * 512 - 1] == (((4ull << 30) - 0x200000) | 0x83), "identity map reaches 4 GiB");
	uint64_t *gdt = guest_mem_ptr(&g, BOOT_GDT_ADDR, 40);
	ok(gdt[BOOT_CODE_SEL / 8] == 0x00af9b000000ffffull, "GDT: 64-bit code at __BOOT_CS");
	guest_mem_destroy(&g);
}

static void test_aml(void)
{
	uint8_t enc[4];
	is_int(aml_pkglength_encode(10, enc), 1, "pkglength: 1 byte");
	is_int(enc[0], 11, "pkglength counts itself");
	is_int(aml_pkglength_encode(62, enc), 1, "pkglength: 63 fits one byte");
	is_int(aml_pkglength_encode(63, enc), 2, "pkglength: 64 needs two");
	ok(enc[0] == (0x40 | (65 & 0xf)) && enc[1] == (65 >> 4), "two-byte encoding");
	is_int(aml_pkglength_encode(5000, enc), 3, "pkglength: three bytes");

	struct aml a;
	aml_init(&a);
	aml_eisaid(&a, "PNP0501");
	static const uint8_t want[] = { 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	ok(a.len == 5 && !memcmp(a.buf, want, 5), "EisaId(PNP0501) encodes like iasl");
	aml_free(&a);

	aml_init(&a);
	size_t s = aml_scope_begin(&a, "\\_SB_");
	for (int i = 0; i < 40; i++)
		aml_integer(&a, 0x1234);
	aml_end(&a, s);
	/* 0x10, pkglength (2 bytes for 1+4+120+2), '\', "_SB_", 40 * 3 bytes */
	is_int(a.len, 1 + 2 + 5 + 120, "scope with two-byte pkglength packed");
	is_int(a.buf[1] >> 6, 1, "pkglength byte count");
	aml_free(&a);
}

static int run_iasl(const char *dir, const char *file, const char *must_contain)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s >/dev/null 2>&1", dir, file);
	if (system(cmd) != 0)
		return -1;
	char dsl[512];
	snprintf(dsl, sizeof(dsl), "%s/%.*s.dsl", dir, (int)(strlen(file) - 4), file);
	_cleanup_free_ char *text = NULL;
	FILE *f = fopen(dsl, "re");
	if (!f)
		return -1;
	text = calloc(1, 1 << 20);
	size_t n = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	(void)n;
	return text && strstr(text, must_contain) ? 0 : -2;
}

static void write_table(const char *dir, const char *name, const uint8_t *p)
{
	uint32_t len;
	memcpy(&len, p + 4, 4);
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "we");
	if (f) {
		fwrite(p, 1, len, f);
		fclose(f);
	}
}

static void test_acpi(void)
{
	uint8_t area[0x20000];
	struct acpi_layout l;
	struct acpi_config cfg = { .cpus = 4 };
	_cleanup_err_ struct kv_err *err = NULL;
	ok(acpi_build(&cfg, area, sizeof(area), ACPI_TABLES_START, &l, &err) == 0,
	   "build tables for 4 vCPUs");
	ok(l.rsdp == ACPI_TABLES_START, "RSDP at 0xe0000 (inside the legacy scan area)");
	const uint8_t *rsdp = area + (l.rsdp - ACPI_TABLES_START);
	ok(!memcmp(rsdp, "RSD PTR ", 8), "RSDP signature");
	is_int(acpi_checksum(rsdp, 20), 0, "RSDP v1 checksum");
	is_int(acpi_checksum(rsdp, 36), 0, "RSDP extended checksum");
	uint64_t xsdt_addr;
	memcpy(&xsdt_addr, rsdp + 24, 8);
	is_int(xsdt_addr, l.xsdt, "RSDP points at the XSDT");

	const struct {
		uint64_t gpa;
		const char *sig;
	} tables[] = {
		{ l.xsdt, "XSDT" }, { l.fadt, "FACP" }, { l.dsdt, "DSDT" }, { l.madt, "APIC" }
	};
	for (size_t i = 0; i < KV_ARRAY_SIZE(tables); i++) {
		const uint8_t *t = area + (tables[i].gpa - ACPI_TABLES_START);
		uint32_t len;
		memcpy(&len, t + 4, 4);
		ok(!memcmp(t, tables[i].sig, 4), "%s signature", tables[i].sig);
		is_int(acpi_checksum(t, len), 0, tables[i].sig);
	}
	const uint8_t *fadt = area + (l.fadt - ACPI_TABLES_START);
	uint64_t x_dsdt;
	memcpy(&x_dsdt, fadt + 140, 8);
	is_int(x_dsdt, l.dsdt, "FADT X_DSDT");
	uint16_t sci;
	memcpy(&sci, fadt + 46, 2);
	is_int(sci, ACPI_SCI_IRQ, "FADT SCI_INT");
	uint32_t flags;
	memcpy(&flags, fadt + 112, 4);
	ok(flags & (1u << 10), "FADT RESET_REG_SUP");
	ok(!(flags & (1u << 20)), "FADT is not hardware-reduced (PM1 registers are used)");

	const uint8_t *madt = area + (l.madt - ACPI_TABLES_START);
	uint32_t mlen;
	memcpy(&mlen, madt + 4, 4);
	unsigned lapics = 0, ioapics = 0, isos = 0;
	for (uint32_t off = 44; off + 2 <= mlen; off += madt[off + 1]) {
		if (madt[off] == 0) {
			ok(madt[off + 3] == lapics, "LAPIC %u has APIC ID %u", lapics, lapics);
			lapics++;
		}
		ioapics += madt[off] == 1;
		isos += madt[off] == 2;
		if (!madt[off + 1])
			break;
	}
	is_int(lapics, 4, "MADT: one LAPIC per vCPU");
	is_int(ioapics, 1, "MADT: one IOAPIC");
	is_int(isos, 2, "MADT: overrides for IRQ0->GSI2 and the SCI");

	/* 2 sockets × 3 cores: the socket field starts at bit 2 -> IDs 0 1 2 4 5 6. */
	struct acpi_config topo = { .cpus = 6, .sockets = 2, .cores = 3, .threads = 1 };
	ok(acpi_build(&topo, area, sizeof(area), ACPI_TABLES_START, &l, &err) == 0,
	   "build tables for 2 sockets × 3 cores");
	madt = area + (l.madt - ACPI_TABLES_START);
	memcpy(&mlen, madt + 4, 4);
	char ids[64] = "";
	for (uint32_t off = 44; off + 2 <= mlen && madt[off + 1]; off += madt[off + 1])
		if (madt[off] == 0)
			snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%u",
				 *ids ? " " : "", madt[off + 3]);
	is_str(ids, "0 1 2 4 5 6", "MADT APIC IDs follow the topology's bit fields");

	struct acpi_config big = { .cpus = 300 };
	ok(acpi_build(&big, area, sizeof(area), ACPI_TABLES_START, &l, NULL) < 0,
	   "more vCPUs than xAPIC IDs rejected");
	ok(acpi_build(&cfg, area, 200, ACPI_TABLES_START, &l, NULL) == -ENOSPC,
	   "too small an area rejected");

	if (system("command -v iasl >/dev/null 2>&1") != 0) {
		ok(1, "# SKIP iasl (acpica-tools) not installed");
		return;
	}
	acpi_build(&cfg, area, sizeof(area), ACPI_TABLES_START, &l, NULL);
	char dir[] = "/tmp/kvirt-acpi-XXXXXX";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	write_table(dir, "dsdt.dat", area + (l.dsdt - ACPI_TABLES_START));
	write_table(dir, "facp.dat", area + (l.fadt - ACPI_TABLES_START));
	write_table(dir, "apic.dat", area + (l.madt - ACPI_TABLES_START));
	is_int(run_iasl(dir, "dsdt.dat", "PNP0501"), 0, "iasl -d DSDT: COM1 is a PNP0501");
	is_int(run_iasl(dir, "dsdt.dat", "_S5"), 0, "iasl -d DSDT: \\_S5 present");
	is_int(run_iasl(dir, "dsdt.dat", "QEMU0001"), 0, "iasl -d DSDT: pvpanic device");
	is_int(run_iasl(dir, "facp.dat", "PM1A Event Block Address : 00000600"), 0,
	       "iasl -d FADT: PM1a event block at 0x600");
	is_int(run_iasl(dir, "apic.dat", "Local Apic ID : 03"), 0, "iasl -d MADT: LAPIC ID 3");
	char rm[600];
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	if (system(rm) != 0)
		tap_diag("could not remove %s", dir);
}

static void test_cpuid(void)
{
	struct kvm_cpuid_entry2 e[] = {
		{ .function = 0, .eax = 0x1f },
		{ .function = 1, .ebx = 0x00010800, .ecx = 1u << 27, .edx = 0 },
		{ .function = 4,
		  .index = 0,
		  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
		  .eax = 0xfc004121 },
		{ .function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX },
		{ .function = 0xb, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX },
		{ .function = 0xb, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX },
		{ .function = 0x40000000, .eax = 0 },
		{ .function = 0x80000008, .ecx = 0x7007 },
		{ .function = 0x8000001e },
	};
	const unsigned n = KV_ARRAY_SIZE(e);
	/* One socket of 4 cores, vCPU 2. */
	const struct cpu_topo cores4 = { 1, 4, 1 };
	cpuid_normalize(e, n, 2, &cores4);
	struct kvm_cpuid_entry2 *c = cpuid_find(e, n, 1, 0);
	is_int(c->ebx >> 24, 2, "leaf 1: initial APIC ID = vCPU index");
	is_int((c->ebx >> 16) & 0xff, 4, "leaf 1: logical processor count");
	is_int(c->ebx & 0xffff, 0x0800, "leaf 1: CLFLUSH size kept");
	ok(c->ecx & (1u << 31), "leaf 1: hypervisor bit");
	ok(!(c->ecx & (1u << 27)), "leaf 1: OSXSAVE left to KVM");
	ok(c->edx & (1u << 28), "leaf 1: HTT with >1 vCPU");
	c = cpuid_find(e, n, 4, 0);
	is_int(c->eax >> 26, 3, "leaf 4: cores per package - 1");
	is_int((c->eax >> 14) & 0xfff, 0, "leaf 4: one thread per cache");
	c = cpuid_find(e, n, 0xb, 0);
	ok(c->ebx == 1 && ((c->ecx >> 8) & 0xff) == 1 && c->edx == 2, "leaf 0xb.0: SMT level");
	c = cpuid_find(e, n, 0xb, 1);
	ok(c->eax == 2 && c->ebx == 4 && ((c->ecx >> 8) & 0xff) == 2 && c->edx == 2,
	   "leaf 0xb.1: 4 cores, shift 2");
	c = cpuid_find(e, n, 0xb, 2);
	ok(c->ebx == 0 && ((c->ecx >> 8) & 0xff) == 0, "leaf 0xb.2: invalid level");
	c = cpuid_find(e, n, 0x40000000, 0);
	ok(c->ebx == 0x4b4d564b && c->ecx == 0x564b4d56 && c->edx == 0x4d, "KVM signature");
	ok(c->eax >= 0x40000001, "KVM leaves reach the feature leaf");
	c = cpuid_find(e, n, 0x80000008, 0);
	ok((c->ecx & 0xff) == 3 && ((c->ecx >> 12) & 0xf) == 2, "AMD NC and core id size");
	c = cpuid_find(e, n, 0x8000001e, 0);
	is_int(c->eax, 2, "AMD extended APIC ID");

	struct kvm_cpuid_entry2 one[] = { { .function = 1, .edx = 1u << 28 } };
	const struct cpu_topo single = { 1, 1, 1 };
	cpuid_normalize(one, 1, 0, &single);
	ok(!(one[0].edx & (1u << 28)), "leaf 1: no HTT with one vCPU");

	/* KubeVirt's default: 4 sockets of one core; vCPU 3 is socket 3. */
	const struct cpu_topo sockets4 = { 4, 1, 1 };
	is_int(cpu_topo_count(&sockets4), 4, "4 sockets = 4 vCPUs");
	struct kvm_cpuid_entry2 s4[KV_ARRAY_SIZE(e)];
	memcpy(s4, e, sizeof(e));
	cpuid_normalize(s4, n, 3, &sockets4);
	c = cpuid_find(s4, n, 1, 0);
	ok(c->ebx >> 24 == 3 && ((c->ebx >> 16) & 0xff) == 1 && !(c->edx & (1u << 28)),
	   "sockets: APIC ID 3, one logical CPU per package, no HTT");
	c = cpuid_find(s4, n, 0xb, 1);
	ok(c->eax == 0 && c->ebx == 1 && c->edx == 3, "sockets: leaf 0xb.1 says 1 per package");
	c = cpuid_find(s4, n, 4, 0);
	is_int(c->eax >> 26, 0, "sockets: leaf 4: one core per package");

	/* 2 sockets × 3 cores × 2 threads, vCPU 7 = socket 1, core 0, thread 1. */
	const struct cpu_topo odd = { 2, 3, 2 };
	is_int(cpu_apic_id(&odd, 7), 9, "APIC ID = socket<<3 | core<<1 | thread");
	is_int(cpu_apic_id(&odd, 11), 13, "last vCPU: socket 1, core 2, thread 1");
	struct kvm_cpuid_entry2 o[KV_ARRAY_SIZE(e)];
	memcpy(o, e, sizeof(e));
	cpuid_normalize(o, n, 7, &odd);
	c = cpuid_find(o, n, 0xb, 0);
	ok(c->eax == 1 && c->ebx == 2 && c->edx == 9, "leaf 0xb.0: 2 threads, shift 1");
	c = cpuid_find(o, n, 0xb, 1);
	ok(c->eax == 3 && c->ebx == 6 && c->edx == 9, "leaf 0xb.1: 6 per package, shift 3");
	c = cpuid_find(o, n, 4, 0);
	ok((c->eax >> 26) == 3 && ((c->eax >> 14) & 0xfff) == 1,
	   "leaf 4 (L1): 4 core IDs, 2 threads share it");
	c = cpuid_find(o, n, 1, 0);
	ok(((c->ebx >> 16) & 0xff) == 8 && (c->edx & (1u << 28)), "leaf 1: 8 IDs per package, HTT");
}

int main(void)
{
	test_guest_mem();
	test_bzimage();
	test_boot_plan_and_params();
	test_aml();
	test_acpi();
	test_cpuid();
	return tap_done();
}
