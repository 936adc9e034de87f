/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-vCPU architectural setup: CPUID (KVM's supported set normalized for
 * this vCPU), boot MSRs, LAPIC LINT0/LINT1 wiring, and the long-mode register
 * state for the boot processor.
 */
#ifndef KVIRT_VMM_CPU_H
#define KVIRT_VMM_CPU_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "kvirt/err.h"

#define CPUID_MAX_ENTRIES 256

/*
 * The guest's CPU topology: sockets × cores per socket × threads per core
 * vCPUs.  vCPU `index` is thread index % threads of core (index / threads)
 * % cores of socket index / (threads * cores); its APIC ID packs those
 * three numbers into bit fields as wide as each level needs (so IDs are
 * sparse when a count is not a power of two), the layout CPUID leaf 0xb
 * describes and the MADT lists.
 */
struct cpu_topo {
	unsigned sockets, cores, threads;
};

unsigned cpu_topo_count(const struct cpu_topo *t);
unsigned cpu_apic_id(const struct cpu_topo *t, unsigned index);

/*
 * Rewrite the entries (as returned by KVM_GET_SUPPORTED_CPUID) for vCPU
 * `index`: APIC ID in leaf 1/0xb/0x1f/0x8000001e, the topology in leaves
 * 1, 4, 0xb/0x1f and 0x80000008/0x8000001e, the hypervisor bit, and the
 * KVM signature leaf so the guest finds kvmclock and PV features.
 */
void cpuid_normalize(struct kvm_cpuid_entry2 *e, unsigned n, unsigned index,
		     const struct cpu_topo *t);

/* Lookup helper (tests and normalization). */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t function,
				    uint32_t index);

/* KVM_GET_SUPPORTED_CPUID on the /dev/kvm fd into a malloc'ed kvm_cpuid2. */
int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out, struct kv_err **err);

/* CPUID, MSRs, LAPIC for any vCPU; registers only for the BSP. */
int cpu_setup(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned index,
	      const struct cpu_topo *t, struct kv_err **err);
int cpu_setup_boot_regs(int vcpu_fd, uint64_t entry, uint64_t boot_params, struct kv_err **err);
/* Guest reset: the boot MSRs again, and the paravirtual/timer MSRs a guest turns on, off. */
int cpu_reset_msrs(int vcpu_fd, struct kv_err **err);

/* Human-readable register dump for crash reports (writes into buf). */
void cpu_dump_regs(int vcpu_fd, char *buf, size_t len);

#endif
