/* SPDX-License-Identifier: Apache-2.0 */
#include "cpu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot.h"
#include "kvirt/cleanup.h"

#define CPUID_1_ECX_HYPERVISOR	 (1u << 31)
#define CPUID_1_ECX_OSXSAVE	 (1u << 27)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_EDX_HTT		 (1u << 28)
#define KVM_CPUID_SIGNATURE	 0x40000000u

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t function,
				    uint32_t index)
{
	for (unsigned i = 0; i < n; i++)
		if (e[i].function == function &&
		    (!(e[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e[i].index == index))
			return &e[i];
	return NULL;
}

/* Bits needed to number `n` things (ceil(log2(n))). */
static unsigned order_bits(unsigned n)
{
	unsigned b = 0;
	while ((1u << b) < n)
		b++;
	return b;
}

unsigned cpu_topo_count(const struct cpu_topo *t)
{
	return t->sockets * t->cores * t->threads;
}

unsigned cpu_apic_id(const struct cpu_topo *t, unsigned index)
{
	const unsigned thread_bits = order_bits(t->threads), core_bits = order_bits(t->cores);
	unsigned thread = index % t->threads, core = (index / t->threads) % t->cores;
	unsigned socket = index / (t->threads * t->cores);
	return (socket << (core_bits + thread_bits)) | (core << thread_bits) | thread;
}

void cpuid_normalize(struct kvm_cpuid_entry2 *e, unsigned n, unsigned index,
		     const struct cpu_topo *t)
{
	const unsigned apic_id = cpu_apic_id(t, index); /* the MADT uses the same */
	const unsigned thread_bits = order_bits(t->threads);
	const unsigned pkg_bits =
	    thread_bits + order_bits(t->cores);		/* APIC ID bits below the socket */
	const unsigned per_pkg = t->cores * t->threads; /* logical CPUs per socket */
	for (unsigned i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *c = &e[i];
		switch (c->function) {
		case 1:
			c->ebx = (c->ebx & 0x0000ffffu) | (apic_id << 24) |
				 ((1u << pkg_bits > 255 ? 255 : 1u << pkg_bits) << 16);
			if (per_pkg > 1)
				c->edx |= CPUID_1_EDX_HTT;
			else
				c->edx &= ~CPUID_1_EDX_HTT;
			c->ecx |= CPUID_1_ECX_HYPERVISOR;
			/*
			 * KVM emulates the TSC-deadline timer in its in-kernel LAPIC
			 * (we always create one; KVM_CAP_TSC_DEADLINE_TIMER since
			 * Linux 3.2) but leaves it out of the supported CPUID;
			 * without it Linux programs one-shot LAPIC timers.
			 */
			c->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			/* OSXSAVE mirrors the guest's CR4; KVM computes it at run time. */
			c->ecx &= ~CPUID_1_ECX_OSXSAVE;
			break;
		case 4:
			/*
			 * Deterministic cache parameters: EAX[31:26] core IDs per
			 * package - 1; EAX[25:14] logical IDs sharing the cache - 1:
			 * one core's threads for L1/L2, the whole socket for L3.
			 */
			if (c->eax & 0x1f) {
				unsigned level = (c->eax >> 5) & 7;
				unsigned share = level >= 3 ? pkg_bits : thread_bits;
				c->eax = (c->eax & 0x3fff) | (((1u << share) - 1) << 14) |
					 (((1u << (pkg_bits - thread_bits)) - 1) << 26);
			}
			break;
		case 0xb:
		case 0x1f:
			/* Level 0 = SMT (threads), level 1 = core (the socket), then invalid. */
			c->edx = apic_id;
			if (c->index == 0) {
				c->eax = thread_bits;
				c->ebx = t->threads;
				c->ecx = (1u << 8) | 0;
			} else if (c->index == 1) {
				c->eax = pkg_bits;
				c->ebx = per_pkg;
				c->ecx = (2u << 8) | 1;
			} else {
				c->eax = 0;
				c->ebx = 0;
				c->ecx = c->index & 0xff;
			}
			break;
		case 0x80000008:
			/* AMD: NC (logical CPUs per package - 1) and ApicIdCoreIdSize. */
			c->ecx = (c->ecx & ~0xf0ffu) | (pkg_bits << 12) | ((per_pkg - 1) & 0xff);
			break;
		case 0x8000001e:
			/* AMD extended APIC ID; compute unit = core, node = socket. */
			c->eax = apic_id;
			c->ebx = (c->ebx & ~0xffffu) | ((t->threads - 1) << 8) |
				 ((index / t->threads) % t->cores & 0xff);
			c->ecx = (index / per_pkg) & 0xff;
			break;
		case KVM_CPUID_SIGNATURE:
			/* "KVMKVMKVM\0\0\0": the guest's kvm_para detection keys on it. */
			c->ebx = 0x4b4d564b;
			c->ecx = 0x564b4d56;
			c->edx = 0x0000004d;
			if (c->eax < 0x40000001)
				c->eax = 0x40000001;
			break;
		default: break;
		}
	}
}

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out, struct kv_err **err)
{
	_cleanup_free_ struct kvm_cpuid2 *c =
	    calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return kv_err_set(err, ENOMEM, "cpuid: out of memory");
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0)
		return kv_err_errno(err, "KVM_GET_SUPPORTED_CPUID");
	*out = TAKE_PTR(c);
	return 0;
}

#define MSR_IA32_TSC		0x00000010
#define MSR_IA32_SYSENTER_CS	0x00000174
#define MSR_IA32_SYSENTER_ESP	0x00000175
#define MSR_IA32_SYSENTER_EIP	0x00000176
#define MSR_IA32_MISC_ENABLE	0x000001a0
#define MSR_MTRR_DEF_TYPE	0x000002ff
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MISC_ENABLE_FAST_STRING 1
#define MTRR_ENABLE		(1u << 11)
#define MTRR_TYPE_WB		6

static int cpu_set_msrs(int fd, struct kv_err **err)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} boot_msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },
		{ MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 },
		{ MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 },
		{ MSR_SYSCALL_MASK, 0 },
		{ MSR_LSTAR, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		/* No firmware programs MTRRs: default write-back for all memory. */
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB },
	};
	const unsigned n = KV_ARRAY_SIZE(boot_msrs);
	/* Header plus entries in one buffer (a struct with a flexible array member cannot be embedded). */
	_Alignas(struct kvm_msrs) uint8_t
	    buf[sizeof(struct kvm_msrs) + KV_ARRAY_SIZE(boot_msrs) * sizeof(struct kvm_msr_entry)];
	memset(buf, 0, sizeof(buf));
	struct kvm_msrs *msrs = (struct kvm_msrs *)buf;
	msrs->nmsrs = n;
	for (unsigned i = 0; i < n; i++) {
		msrs->entries[i].index = boot_msrs[i].index;
		msrs->entries[i].data = boot_msrs[i].data;
	}
	int r = ioctl(fd, KVM_SET_MSRS, msrs);
	if (r < 0)
		return kv_err_errno(err, "KVM_SET_MSRS");
	/* KVM stops at the first MSR it refuses and returns how many it set. */
	if ((unsigned)r != n)
		return kv_err_set(err, EINVAL, "KVM_SET_MSRS: MSR 0x%x refused",
				  msrs->entries[r].index);
	return 0;
}

int cpu_reset_msrs(int fd, struct kv_err **err)
{
	/*
	 * Beyond the boot MSRs: what the guest switches on and KVM keeps
	 * acting on across a reset unless told otherwise.  kvmclock's system
	 * time page (KVM would keep writing into the new kernel's memory),
	 * async page faults, steal time, PV EOI, halt polling control, the
	 * armed TSC deadline, PAT, speculation controls.  Each alone, since
	 * KVM stops a batch at the first MSR this host does not support.
	 * (The one-shot wall-clock MSRs are left alone: writing them makes
	 * KVM store a wall-clock record at the written address.)
	 */
	static const struct {
		uint32_t index;
		uint64_t data;
	} pv[] = {
		{ 0x00000012, 0 },		    /* MSR_KVM_SYSTEM_TIME */
		{ 0x4b564d01, 0 },		    /* MSR_KVM_SYSTEM_TIME_NEW */
		{ 0x4b564d02, 0 },		    /* MSR_KVM_ASYNC_PF_EN */
		{ 0x4b564d03, 0 },		    /* MSR_KVM_STEAL_TIME */
		{ 0x4b564d04, 0 },		    /* MSR_KVM_PV_EOI_EN */
		{ 0x4b564d05, 1 },		    /* MSR_KVM_POLL_CONTROL: host polling on */
		{ 0x000006e0, 0 },		    /* IA32_TSC_DEADLINE: disarmed */
		{ 0x00000277, 0x0007040600070406 }, /* IA32_PAT: power-on value */
		{ 0x00000048, 0 },		    /* IA32_SPEC_CTRL */
		{ 0xc0000103, 0 },		    /* TSC_AUX */
	};
	for (unsigned i = 0; i < KV_ARRAY_SIZE(pv); i++) {
		_Alignas(struct kvm_msrs)
		    uint8_t buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
		memset(buf, 0, sizeof(buf));
		struct kvm_msrs *m = (struct kvm_msrs *)buf;
		m->nmsrs = 1;
		m->entries[0].index = pv[i].index;
		m->entries[0].data = pv[i].data;
		(void)ioctl(fd, KVM_SET_MSRS, m); /* 0 set: not supported here, nothing to undo */
	}
	return cpu_set_msrs(fd, err);
}

#define APIC_LVT0	 0x350
#define APIC_LVT1	 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

static uint32_t lvt_mode(uint32_t reg, uint32_t mode)
{
	return (reg & ~0x700u) | (mode << 8);
}

static int cpu_set_lint(int fd, struct kv_err **err)
{
	struct kvm_lapic_state lapic;
	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return kv_err_errno(err, "KVM_GET_LAPIC");
	uint32_t v;
	/* LINT0 takes the 8259's output (ExtINT), LINT1 is the NMI pin: PC wiring. */
	memcpy(&v, lapic.regs + APIC_LVT0, 4);
	v = lvt_mode(v, APIC_MODE_EXTINT);
	memcpy(lapic.regs + APIC_LVT0, &v, 4);
	memcpy(&v, lapic.regs + APIC_LVT1, 4);
	v = lvt_mode(v, APIC_MODE_NMI);
	memcpy(lapic.regs + APIC_LVT1, &v, 4);
	if (ioctl(fd, KVM_SET_LAPIC, &lapic) < 0)
		return kv_err_errno(err, "KVM_SET_LAPIC");
	return 0;
}

int cpu_setup(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned index,
	      const struct cpu_topo *t, struct kv_err **err)
{
	size_t sz = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	_cleanup_free_ struct kvm_cpuid2 *c = malloc(sz);
	if (!c)
		return kv_err_set(err, ENOMEM, "cpuid: out of memory");
	memcpy(c, supported, sz);
	cpuid_normalize(c->entries, c->nent, index, t);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		return kv_err_errno(err, "vcpu %u: KVM_SET_CPUID2", index);
	int r = cpu_set_msrs(vcpu_fd, err);
	if (r < 0) {
		kv_err_prefix(err, "vcpu %u", index);
		return r;
	}
	r = cpu_set_lint(vcpu_fd, err);
	if (r < 0)
		kv_err_prefix(err, "vcpu %u", index);
	return r;
}

static void seg_flat(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code ? 0 : 1,
		.s = 1,
		.l = code ? 1 : 0,
		.g = 1,
	};
}

int cpu_setup_boot_regs(int fd, uint64_t entry, uint64_t boot_params, struct kv_err **err)
{
	struct kvm_sregs sregs;
	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return kv_err_errno(err, "KVM_GET_SREGS");
	seg_flat(&sregs.cs, BOOT_CODE_SEL, 0xb, true);
	seg_flat(&sregs.ds, BOOT_DATA_SEL, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){
		.base = 0,
		.limit = 0xfffff,
		.selector = BOOT_TSS_SEL,
		.type = 0xb,
		.present = 1,
	};
	sregs.ldt = (struct kvm_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
	sregs.gdt.base = BOOT_GDT_ADDR;
	sregs.gdt.limit = sizeof(boot_gdt) - 1;
	sregs.idt.base = BOOT_IDT_ADDR;
	sregs.idt.limit = 7;
	/* Long mode with paging on the identity map boot.c built. */
	sregs.cr0 = 0x80000031; /* PG | NE | ET | PE */
	sregs.cr3 = BOOT_PML4_ADDR;
	sregs.cr4 = 0x20;   /* PAE */
	sregs.efer = 0x500; /* LMA | LME */
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
		return kv_err_errno(err, "KVM_SET_SREGS");

	struct kvm_regs regs = {
		.rflags = 0x2,
		.rip = entry,
		.rsi = boot_params, /* the 64-bit protocol passes the zero page in %rsi */
		.rsp = BOOT_STACK_ADDR,
		.rbp = BOOT_STACK_ADDR,
	};
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0)
		return kv_err_errno(err, "KVM_SET_REGS");

	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	if (ioctl(fd, KVM_SET_FPU, &fpu) < 0)
		return kv_err_errno(err, "KVM_SET_FPU");
	return 0;
}

void cpu_dump_regs(int fd, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(fd, KVM_GET_REGS, &r) < 0 || ioctl(fd, KVM_GET_SREGS, &s) < 0) {
		snprintf(buf, len, "(registers unavailable: %m)");
		return;
	}
	snprintf(buf, len,
		 "rip=%016llx rsp=%016llx rflags=%08llx "
		 "rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx "
		 "rsi=%016llx rdi=%016llx rbp=%016llx "
		 "r8=%016llx r9=%016llx r10=%016llx r11=%016llx "
		 "r12=%016llx r13=%016llx r14=%016llx r15=%016llx "
		 "cs=%04x ss=%04x cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%llx",
		 r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8,
		 r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cs.selector, s.ss.selector,
		 s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
}
