/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM's GSI routing table (vmm/irq_routing.c): KVM's default legacy
 * pins, MSI GSI allocation, routes set/changed/removed, and the table as
 * KVM_SET_GSI_ROUTING takes it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "irq_routing.h"
#include "tap.h"

static unsigned count_gsi(const struct kvm_irq_routing *t, unsigned gsi, unsigned type)
{
	unsigned n = 0;
	for (unsigned i = 0; i < t->nr; i++)
		n += t->entries[i].gsi == gsi && t->entries[i].type == type;
	return n;
}

static const struct kvm_irq_routing_entry *find(const struct kvm_irq_routing *t, unsigned gsi,
						unsigned type, unsigned chip)
{
	for (unsigned i = 0; i < t->nr; i++)
		if (t->entries[i].gsi == gsi && t->entries[i].type == type &&
		    (type != KVM_IRQ_ROUTING_IRQCHIP || t->entries[i].u.irqchip.irqchip == chip))
			return &t->entries[i];
	return NULL;
}

int main(void)
{
	static struct irq_routing r;
	irq_routing_init(&r, 4096);
	struct kvm_irq_routing *t = irq_routing_build(&r);
	ok(t && t->nr == 40, "legacy table: 24 IOAPIC + 16 PIC entries (got %u)", t ? t->nr : 0);
	const struct kvm_irq_routing_entry *e =
	    find(t, 4, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_IOAPIC);
	ok(e && e->u.irqchip.pin == 4, "GSI 4 -> IOAPIC pin 4 (COM1)");
	e = find(t, 9, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_PIC_SLAVE);
	ok(e && e->u.irqchip.pin == 1, "GSI 9 -> slave PIC pin 1 (SCI)");
	e = find(t, 3, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_PIC_MASTER);
	ok(e && e->u.irqchip.pin == 3, "GSI 3 -> master PIC pin 3");
	ok(!find(t, 16, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_PIC_MASTER) &&
	       !find(t, 16, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_PIC_SLAVE) &&
	       find(t, 23, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_IOAPIC),
	   "GSIs 16..23: IOAPIC only");
	free(t);

	int a = irq_routing_alloc_gsi(&r), b = irq_routing_alloc_gsi(&r);
	ok(a == 24 && b == 25, "MSI GSIs start after the IOAPIC pins (%d, %d)", a, b);
	is_int(irq_routing_set_msi(&r, 7, 0xfee00000, 0x41), -EINVAL,
	       "no MSI route on a legacy GSI");
	is_int(irq_routing_set_msi(&r, 30, 0xfee00000, 0x41), -EINVAL,
	       "no MSI route on an unallocated GSI");
	is_int(irq_routing_set_msi(&r, (unsigned)a, 0xfee00000, 0x41), 1, "new route: changed");
	is_int(irq_routing_set_msi(&r, (unsigned)a, 0xfee00000, 0x41), 0,
	       "same message again: unchanged");
	is_int(irq_routing_set_msi(&r, (unsigned)a, 0x1fee01000ull, 0x42), 1,
	       "new message: changed");
	is_int(irq_routing_set_msi(&r, (unsigned)b, 0xfee00000, 0x51), 1, "second route");
	t = irq_routing_build(&r);
	e = t ? find(t, (unsigned)a, KVM_IRQ_ROUTING_MSI, 0) : NULL;
	ok(t && t->nr == 42 && e && e->u.msi.address_lo == 0xfee01000 && e->u.msi.address_hi == 1 &&
	       e->u.msi.data == 0x42 && count_gsi(t, (unsigned)a, KVM_IRQ_ROUTING_MSI) == 1,
	   "table: legacy + one MSI entry per routed GSI, latest message");
	free(t);
	is_int(irq_routing_remove(&r, (unsigned)a), 1, "remove: changed");
	is_int(irq_routing_remove(&r, (unsigned)a), 0, "remove again: unchanged");
	is_int(irq_routing_remove(&r, 4), 0, "legacy pins cannot be removed");
	t = irq_routing_build(&r);
	ok(t && t->nr == 41 && !count_gsi(t, (unsigned)a, KVM_IRQ_ROUTING_MSI) &&
	       count_gsi(t, (unsigned)b, KVM_IRQ_ROUTING_MSI) == 1,
	   "removing one route keeps the other");
	free(t);
	irq_routing_free_gsi(&r, (unsigned)b);
	t = irq_routing_build(&r);
	ok(t && t->nr == 40, "freeing a GSI drops its route");
	free(t);
	is_int(irq_routing_alloc_gsi(&r), b, "freed GSIs are reused");
	irq_routing_free_gsi(&r, 4);
	t = irq_routing_build(&r);
	ok(t && t->nr == 40 && find(t, 4, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_IOAPIC),
	   "freeing a legacy GSI is ignored");
	free(t);

	/* KVM's route limit bounds the MSI GSIs: 40 legacy entries + 3. */
	irq_routing_init(&r, 43);
	int n = 0;
	while (irq_routing_alloc_gsi(&r) >= 0)
		n++;
	is_int(n, 3, "GSIs limited by KVM_CAP_IRQ_ROUTING");
	is_int(irq_routing_alloc_gsi(&r), -ENOSPC, "then ENOSPC");
	irq_routing_init(&r, 1u << 20);
	n = 0;
	while (irq_routing_alloc_gsi(&r) >= 0)
		n++;
	is_int(n, IRQ_ROUTING_MAX_GSI - IRQ_ROUTING_FIRST_MSI_GSI, "and by the table's own size");
	for (int g = IRQ_ROUTING_FIRST_MSI_GSI; g < IRQ_ROUTING_MAX_GSI; g++)
		if (irq_routing_set_msi(&r, (unsigned)g, 0xfee00000, (uint32_t)g) != 1)
			break;
	t = irq_routing_build(&r);
	ok(t && t->nr == IRQ_ROUTING_LEGACY + IRQ_ROUTING_MAX_GSI - IRQ_ROUTING_FIRST_MSI_GSI,
	   "a route on every GSI fits");
	free(t);
	return tap_done();
}
