/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM's GSI routing table, as KVM_SET_GSI_ROUTING takes it: the legacy
 * irqchip pins (exactly KVM's default table for an in-kernel PIC+IOAPIC, so
 * installing ours changes nothing for them) plus one MSI route per MSI-X
 * vector the guest has enabled and unmasked.  MSI GSIs are handed out from
 * IRQ_ROUTING_FIRST_MSI_GSI up.  Pure data: no KVM calls here, the VM
 * installs the table (vm.c), so unit tests check it directly.
 */
#ifndef KVIRT_VMM_IRQ_ROUTING_H
#define KVIRT_VMM_IRQ_ROUTING_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#define IRQ_ROUTING_IOAPIC_PINS	  24
#define IRQ_ROUTING_PIC_PINS	  16
#define IRQ_ROUTING_FIRST_MSI_GSI IRQ_ROUTING_IOAPIC_PINS
#define IRQ_ROUTING_MAX_GSI	  1024 /* GSIs this table hands out: [0, 1024) */
#define IRQ_ROUTING_LEGACY	  (IRQ_ROUTING_IOAPIC_PINS + IRQ_ROUTING_PIC_PINS)

struct irq_routing {
	unsigned max_gsi;  /* min(IRQ_ROUTING_MAX_GSI, what KVM allows) */
	unsigned nentries; /* legacy entries first, then MSI routes */
	struct kvm_irq_routing_entry entries[IRQ_ROUTING_LEGACY + IRQ_ROUTING_MAX_GSI];
	uint64_t gsi_used[IRQ_ROUTING_MAX_GSI / 64];
};

/* Legacy pins only.  `kvm_max_routes`: KVM_CHECK_EXTENSION(KVM_CAP_IRQ_ROUTING). */
void irq_routing_init(struct irq_routing *r, unsigned kvm_max_routes);
/* A free MSI GSI, or -ENOSPC. */
int irq_routing_alloc_gsi(struct irq_routing *r);
/* Give `gsi` back; its route goes too. */
void irq_routing_free_gsi(struct irq_routing *r, unsigned gsi);
/* Route allocated `gsi` to MSI (addr, data): 1 when the table changed, 0 if not, -errno. */
int irq_routing_set_msi(struct irq_routing *r, unsigned gsi, uint64_t addr, uint32_t data);
/* Drop the MSI route of `gsi`: 1 when the table changed, 0 when there was none. */
int irq_routing_remove(struct irq_routing *r, unsigned gsi);
/* The table as KVM_SET_GSI_ROUTING's argument (malloc'd), or NULL when out of memory. */
struct kvm_irq_routing *irq_routing_build(const struct irq_routing *r);

#endif
