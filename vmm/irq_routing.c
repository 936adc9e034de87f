/* SPDX-License-Identifier: Apache-2.0 */
#include "irq_routing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void irq_routing_init(struct irq_routing *r, unsigned kvm_max_routes)
{
	memset(r, 0, sizeof(*r));
	/* The routes count against KVM's limit too, not only the GSI numbers. */
	unsigned max =
	    kvm_max_routes > IRQ_ROUTING_LEGACY ? kvm_max_routes - IRQ_ROUTING_LEGACY : 0;
	max += IRQ_ROUTING_FIRST_MSI_GSI;
	r->max_gsi = max < IRQ_ROUTING_MAX_GSI ? max : IRQ_ROUTING_MAX_GSI;
	/*
	 * KVM's default x86 table (arch/x86/kvm/irq_comm.c): GSI n goes to
	 * IOAPIC pin n for n < 24 and, for n < 16, also to PIC pin n % 8 of
	 * the master (n < 8) or slave.
	 */
	for (unsigned gsi = 0; gsi < IRQ_ROUTING_IOAPIC_PINS; gsi++) {
		r->entries[r->nentries++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi },
		};
		if (gsi < IRQ_ROUTING_PIC_PINS)
			r->entries[r->nentries++] = (struct kvm_irq_routing_entry){
				.gsi = gsi,
				.type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
								  : KVM_IRQCHIP_PIC_SLAVE,
					       .pin = gsi % 8 },
			};
		r->gsi_used[gsi / 64] |= 1ull << (gsi % 64);
	}
}

static bool gsi_allocated(const struct irq_routing *r, unsigned gsi)
{
	return gsi >= IRQ_ROUTING_FIRST_MSI_GSI && gsi < r->max_gsi &&
	       (r->gsi_used[gsi / 64] & (1ull << (gsi % 64)));
}

int irq_routing_alloc_gsi(struct irq_routing *r)
{
	for (unsigned gsi = IRQ_ROUTING_FIRST_MSI_GSI; gsi < r->max_gsi; gsi++)
		if (!(r->gsi_used[gsi / 64] & (1ull << (gsi % 64)))) {
			r->gsi_used[gsi / 64] |= 1ull << (gsi % 64);
			return (int)gsi;
		}
	return -ENOSPC;
}

void irq_routing_free_gsi(struct irq_routing *r, unsigned gsi)
{
	if (!gsi_allocated(r, gsi))
		return;
	irq_routing_remove(r, gsi);
	r->gsi_used[gsi / 64] &= ~(1ull << (gsi % 64));
}

static struct kvm_irq_routing_entry *find_msi(struct irq_routing *r, unsigned gsi)
{
	for (unsigned i = IRQ_ROUTING_LEGACY; i < r->nentries; i++)
		if (r->entries[i].gsi == gsi)
			return &r->entries[i];
	return NULL;
}

int irq_routing_set_msi(struct irq_routing *r, unsigned gsi, uint64_t addr, uint32_t data)
{
	if (!gsi_allocated(r, gsi))
		return -EINVAL;
	struct kvm_irq_routing_entry want = {
		.gsi = gsi,
		.type = KVM_IRQ_ROUTING_MSI,
		.u.msi = { .address_lo = (uint32_t)addr,
			   .address_hi = (uint32_t)(addr >> 32),
			   .data = data },
	};
	struct kvm_irq_routing_entry *e = find_msi(r, gsi);
	if (e) {
		if (!memcmp(e, &want, sizeof(want)))
			return 0;
		*e = want;
		return 1;
	}
	/* One route per allocated GSI, so this cannot overflow the array. */
	r->entries[r->nentries++] = want;
	return 1;
}

int irq_routing_remove(struct irq_routing *r, unsigned gsi)
{
	struct kvm_irq_routing_entry *e = find_msi(r, gsi);
	if (!e)
		return 0;
	*e = r->entries[--r->nentries];
	return 1;
}

struct kvm_irq_routing *irq_routing_build(const struct irq_routing *r)
{
	struct kvm_irq_routing *t =
	    calloc(1, sizeof(*t) + r->nentries * sizeof(struct kvm_irq_routing_entry));
	if (!t)
		return NULL;
	t->nr = r->nentries;
	memcpy(t->entries, r->entries, r->nentries * sizeof(struct kvm_irq_routing_entry));
	return t;
}
