/* SPDX-License-Identifier: Apache-2.0 */
#include "acpi.h"

#include <errno.h>
#include <string.h>

#include "kvirt/cleanup.h"
#include "kvirt/devices.h"
#include "kvirt/pci.h"
#include "cpu.h"

#define OEM_ID	     "KVIRT "
#define OEM_TABLE_ID "KVIRTVMM"
#define CREATOR_ID   "KVRT"
#define SDT_HDR_LEN  36

uint8_t acpi_checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum = (uint8_t)(sum + b[i]);
	return sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Generic Address Structure for a system-I/O register. */
static void put_gas_io(uint8_t *p, uint8_t bits, uint8_t access, uint16_t port)
{
	p[0] = 1; /* system I/O */
	p[1] = bits;
	p[2] = 0;
	p[3] = access; /* 1 byte, 2 word, 3 dword */
	put64(p + 4, port);
}

static void sdt_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	t[9] = 0;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put32(t + 24, 1);
	memcpy(t + 28, CREATOR_ID, 4);
	put32(t + 32, 1);
}

static void sdt_finish(uint8_t *t, uint32_t len)
{
	t[9] = 0;
	t[9] = (uint8_t)(0x100 - acpi_checksum(t, len));
}

struct table_alloc {
	uint8_t *buf;
	size_t len, pos;
	uint64_t base;
};

/* Carve `n` bytes aligned to `align`; NULL when the area is full. */
static uint8_t *table_alloc(struct table_alloc *ta, size_t n, size_t align, uint64_t *gpa)
{
	size_t pos = (ta->pos + align - 1) & ~(align - 1);
	if (pos > ta->len || ta->len - pos < n)
		return NULL;
	ta->pos = pos + n;
	*gpa = ta->base + pos;
	memset(ta->buf + pos, 0, n);
	return ta->buf + pos;
}

/*
 * PCI0: the host bridge (PNP0A08 PCIe, compatible with PNP0A03), bus 0..0xff,
 * the config ports it consumes, the I/O ranges around them and the 32-bit
 * MMIO window it forwards.  No _PRT: devices use MSI-X, not INTx.
 */
static void build_dsdt_pci(struct aml *a)
{
	size_t dev = aml_device_begin(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_ADR");
	aml_integer(a, 0);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	struct aml_res r = { 0 };
	aml_res_word_bus(&r, 0, 0xff);
	aml_res_io(&r, PCI_CONFIG_ADDR_PORT, 8);
	aml_res_word_io(&r, 0x0000, PCI_CONFIG_ADDR_PORT - 1);
	aml_res_word_io(&r, PCI_CONFIG_DATA_PORT + 4, 0xffff);
	aml_res_dword_mem(&r, (uint32_t)PCI_MMIO_WINDOW_START, (uint32_t)PCI_MMIO_WINDOW_END - 1);
	aml_res_end(&r);
	if (r.overflow) {
		a->error = true;
		return;
	}
	aml_name(a, "_CRS");
	aml_buffer(a, r.b, r.len);
	aml_end(a, dev);
}

static void build_dsdt_body(const struct acpi_config *cfg, struct aml *a)
{
	size_t sb = aml_scope_begin(a, "\\_SB_");

	size_t dev = aml_device_begin(a, "COM1");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_name(a, "_UID");
	aml_integer(a, 1);
	aml_name(a, "_STA");
	aml_integer(a, 0x0f);
	struct aml_res r = { 0 };
	aml_res_io(&r, COM1_PORT, 8);
	aml_res_irq(&r, COM1_IRQ);
	aml_res_end(&r);
	aml_name(a, "_CRS");
	aml_buffer(a, r.b, r.len);
	aml_end(a, dev);

	/* pvpanic: Linux's pvpanic driver binds to QEMU0001 and writes 1 on panic. */
	dev = aml_device_begin(a, "PEVT");
	aml_name(a, "_HID");
	aml_string(a, "QEMU0001");
	aml_name(a, "_STA");
	aml_integer(a, 0x0f);
	struct aml_res pr = { 0 };
	aml_res_io(&pr, PVPANIC_PORT, 1);
	aml_res_end(&pr);
	aml_name(a, "_CRS");
	aml_buffer(a, pr.b, pr.len);
	aml_end(a, dev);

	if (cfg->pci)
		build_dsdt_pci(a);
	if (cfg->dsdt_sb_extra)
		cfg->dsdt_sb_extra(a, cfg->ctx);
	aml_end(a, sb);

	/* \_S5: SLP_TYPa/b = 5, matched by the PM1 control register model. */
	aml_name(a, "\\_S5_");
	size_t pkg = aml_package_begin(a, 4);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, pkg);
}

static void build_fadt(uint8_t *t, uint64_t dsdt, uint64_t facs)
{
	const uint32_t len = 276; /* FADT revision 6 */
	sdt_header(t, "FACP", len, 6);
	put32(t + 36, (uint32_t)facs);
	put32(t + 40, (uint32_t)dsdt);
	put16(t + 46, ACPI_SCI_IRQ);
	/* SMI_CMD (48) = 0: no SMM handshake, the platform is always in ACPI mode. */
	put32(t + 56, ACPI_PM1_EVT);
	put32(t + 64, ACPI_PM1_CNT);
	put32(t + 76, ACPI_PM_TMR);
	t[88] = 4;	     /* PM1_EVT_LEN */
	t[89] = 2;	     /* PM1_CNT_LEN */
	t[91] = 4;	     /* PM_TMR_LEN */
	put16(t + 96, 101);  /* C2 latency > 100: C2 unsupported */
	put16(t + 98, 1001); /* C3 latency > 1000: C3 unsupported */
	/*
	 * IAPC_BOOT_ARCH: no VGA (bit 2), no CMOS RTC (bit 5), and 8042 (bit 1)
	 * deliberately clear so Linux skips the i8042 probe (hundreds of ms);
	 * the i8042 model still decodes the reset command.
	 */
	put16(t + 109, (1u << 2) | (1u << 5));
	/* Flags: WBINVD, PROC_C1, SLP_BUTTON (none), TMR_VAL_EXT, RESET_REG_SUP.
	 * PWR_BUTTON (bit 4) clear = fixed-hardware power button present. */
	put32(t + 112, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 8) | (1u << 10));
	put_gas_io(t + 116, 8, 1, ACPI_RESET_PORT);
	t[128] = ACPI_RESET_VALUE;
	t[131] = 0; /* FADT minor version */
	put64(t + 132, facs);
	put64(t + 140, dsdt);
	put_gas_io(t + 148, 32, 2, ACPI_PM1_EVT);
	put_gas_io(t + 172, 16, 2, ACPI_PM1_CNT);
	put_gas_io(t + 208, 32, 3, ACPI_PM_TMR);
	memcpy(t + 268, "KVIRTVMM", 8); /* hypervisor vendor identity */
	sdt_finish(t, len);
}

static size_t madt_len(unsigned cpus)
{
	return SDT_HDR_LEN + 8 + cpus * 8 + 12 + 2 * 10 + 6;
}

static void build_madt(uint8_t *t, unsigned cpus, const struct cpu_topo *topo)
{
	uint32_t len = (uint32_t)madt_len(cpus);
	sdt_header(t, "APIC", len, 5);
	put32(t + 36, LAPIC_ADDR);
	put32(t + 40, 1); /* PCAT_COMPAT: the 8259s exist (KVM's in-kernel PIC) */
	uint8_t *p = t + 44;
	for (unsigned i = 0; i < cpus; i++, p += 8) {
		p[0] = 0; /* Processor Local APIC */
		p[1] = 8;
		p[2] = (uint8_t)i;		      /* ACPI processor UID */
		p[3] = (uint8_t)cpu_apic_id(topo, i); /* as in CPUID leaf 1/0xb (cpu.c) */
		put32(p + 4, 1);		      /* enabled */
	}
	p[0] = 1; /* I/O APIC */
	p[1] = 12;
	p[2] = 0; /* id: KVM's in-kernel IOAPIC resets to 0 */
	p[3] = 0;
	put32(p + 4, IOAPIC_ADDR);
	put32(p + 8, 0); /* GSI base */
	p += 12;
	/* The PIT (ISA IRQ 0) is wired to IOAPIC pin 2 on PCs and in KVM. */
	p[0] = 2;
	p[1] = 10;
	p[2] = 0;
	p[3] = 0;
	put32(p + 4, 2);
	put16(p + 8, 0); /* conforms to the bus: edge, active high */
	p += 10;
	/* The SCI is level-triggered, active high. */
	p[0] = 2;
	p[1] = 10;
	p[2] = 0;
	p[3] = ACPI_SCI_IRQ;
	put32(p + 4, ACPI_SCI_IRQ);
	put16(p + 8, 0x000d); /* polarity active high (01), trigger level (11) */
	p += 10;
	/* LINT1 of every processor is the NMI input. */
	p[0] = 4;
	p[1] = 6;
	p[2] = 0xff; /* all processors */
	put16(p + 3, 0);
	p[5] = 1; /* LINT1 */
	sdt_finish(t, len);
}

int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t len, uint64_t base,
	       struct acpi_layout *out, struct kv_err **err)
{
	if (cfg->cpus == 0 || cfg->cpus > 255)
		return kv_err_set(err, EINVAL, "acpi: %u vCPUs do not fit the MADT", cfg->cpus);
	struct table_alloc ta = { .buf = buf, .len = len, .base = base };
	struct acpi_layout l = { 0 };

	uint8_t *rsdp = table_alloc(&ta, 36, 16, &l.rsdp);
	uint8_t *facs = table_alloc(&ta, 64, 64, &l.facs);

	struct aml a;
	aml_init(&a);
	build_dsdt_body(cfg, &a);
	if (a.oom || a.error) {
		aml_free(&a);
		return kv_err_set(err, a.oom ? ENOMEM : EINVAL, "acpi: cannot encode the DSDT");
	}
	size_t dsdt_len = SDT_HDR_LEN + a.len;
	uint8_t *dsdt = table_alloc(&ta, dsdt_len, 16, &l.dsdt);
	if (dsdt) {
		sdt_header(dsdt, "DSDT", (uint32_t)dsdt_len, 2);
		memcpy(dsdt + SDT_HDR_LEN, a.buf, a.len);
		sdt_finish(dsdt, (uint32_t)dsdt_len);
	}
	aml_free(&a);

	uint8_t *fadt = table_alloc(&ta, 276, 16, &l.fadt);
	uint8_t *madt = table_alloc(&ta, madt_len(cfg->cpus), 16, &l.madt);
	const unsigned nentries = 2;
	uint8_t *xsdt = table_alloc(&ta, SDT_HDR_LEN + 8 * nentries, 16, &l.xsdt);
	if (!rsdp || !facs || !dsdt || !fadt || !madt || !xsdt)
		return kv_err_set(err, ENOSPC, "acpi: tables do not fit in %zu bytes", len);

	memcpy(facs, "FACS", 4);
	put32(facs + 4, 64);
	facs[32] = 2; /* version */

	build_fadt(fadt, l.dsdt, l.facs);
	const struct cpu_topo topo = { cfg->sockets ? cfg->sockets : cfg->cpus,
				       cfg->cores ? cfg->cores : 1,
				       cfg->threads ? cfg->threads : 1 };
	build_madt(madt, cfg->cpus, &topo);

	sdt_header(xsdt, "XSDT", SDT_HDR_LEN + 8 * nentries, 1);
	put64(xsdt + SDT_HDR_LEN, l.fadt);
	put64(xsdt + SDT_HDR_LEN + 8, l.madt);
	sdt_finish(xsdt, SDT_HDR_LEN + 8 * nentries);

	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, OEM_ID, 6);
	rsdp[15] = 2; /* ACPI 2.0+: use the XSDT */
	put32(rsdp + 20, 36);
	put64(rsdp + 24, l.xsdt);
	rsdp[8] = (uint8_t)(0x100 - acpi_checksum(rsdp, 20));
	rsdp[32] = (uint8_t)(0x100 - acpi_checksum(rsdp, 36));

	l.used = ta.pos;
	*out = l;
	return 0;
}
