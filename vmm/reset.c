/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest reset in place (on_reboot=restart): what a PC does when the reset
 * line is pulled, done to the same KVM VM so nothing outside the process
 * changes (disks, taps, the jail, the control socket and the console stay).
 * The power-on state of every vCPU and of the in-kernel interrupt
 * controllers is recorded when the VM is built and put back here; devices
 * reset as if their driver wrote 0 to the status register; RAM is cleared
 * and the kernel, initrd, ACPI tables and boot parameters are written
 * again from the files opened at start.  docs/vmm.md, "Reboot".
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "api.h"
#include "cpu.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "kvirt/virtio.h"
#include "vm.h"

int vm_snapshot_irqchip(struct vm *vm, struct kv_err **err)
{
	static const unsigned ids[] = { KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
					KVM_IRQCHIP_IOAPIC };
	for (unsigned i = 0; i < 3; i++) {
		vm->irqchip_reset[i] = (struct kvm_irqchip){ .chip_id = ids[i] };
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &vm->irqchip_reset[i]) < 0)
			return kv_err_errno(err, "KVM_GET_IRQCHIP %u", ids[i]);
	}
	return 0;
}

int vm_snapshot_vcpu(struct vcpu *v, struct kv_err **err)
{
	struct vcpu_reset_state *s = calloc(1, sizeof(*s));
	if (!s)
		return kv_err_set(err, ENOMEM, "vcpu %u: out of memory", v->index);
	v->reset = s;
	if (ioctl(v->fd, KVM_GET_REGS, &s->regs) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &s->sregs) < 0 || ioctl(v->fd, KVM_GET_FPU, &s->fpu) < 0 ||
	    ioctl(v->fd, KVM_GET_LAPIC, &s->lapic) < 0 ||
	    ioctl(v->fd, KVM_GET_MP_STATE, &s->mp) < 0 ||
	    ioctl(v->fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
		return kv_err_errno(err, "vcpu %u: reading its power-on state", v->index);
	return 0;
}

bool vm_wants_reset(struct vm *vm)
{
	pthread_mutex_lock(&vm->exit_lock);
	bool r = vm->cfg->reboot_restart && vm->exit_set && vm->exit_code == VMM_EXIT_REBOOT;
	pthread_mutex_unlock(&vm->exit_lock);
	return r;
}

static int vcpu_restore(struct vcpu *v, struct kv_err **err)
{
	const struct vcpu_reset_state *s = v->reset;
	if (!s)
		return kv_err_set(err, EINVAL, "vcpu %u: no power-on state recorded", v->index);
	/* SREGS first: it carries APIC_BASE, which decides how the LAPIC state reads. */
	if (ioctl(v->fd, KVM_SET_SREGS, &s->sregs) < 0)
		return kv_err_errno(err, "vcpu %u: KVM_SET_SREGS", v->index);
	if (ioctl(v->fd, KVM_SET_LAPIC, &s->lapic) < 0)
		return kv_err_errno(err, "vcpu %u: KVM_SET_LAPIC", v->index);
	if (ioctl(v->fd, KVM_SET_REGS, &s->regs) < 0)
		return kv_err_errno(err, "vcpu %u: KVM_SET_REGS", v->index);
	if (ioctl(v->fd, KVM_SET_FPU, &s->fpu) < 0)
		return kv_err_errno(err, "vcpu %u: KVM_SET_FPU", v->index);
	struct kvm_vcpu_events ev = s->events;
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return kv_err_errno(err, "vcpu %u: KVM_SET_VCPU_EVENTS", v->index);
	int r = cpu_reset_msrs(v->fd, err);
	if (r < 0)
		return r;
	/* Last: the BSP runnable, the APs back to waiting for INIT/SIPI. */
	struct kvm_mp_state mp = s->mp;
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
		return kv_err_errno(err, "vcpu %u: KVM_SET_MP_STATE", v->index);
	return 0;
}

int vm_reset(struct vm *vm, struct kv_err **err)
{
	uint64_t t0 = kv_now_ns();
	if (vmm_pause(vm) < 0)
		return kv_err_set(err, ETIMEDOUT, "reset: the vCPUs did not stop");
	/* Config space first (MSI-X off), then the device models and their threads. */
	pci_host_reset(&vm->pci);
	for (unsigned i = 0; i < vm->ndisks; i++)
		virtio_pci_reset(virtio_pci_of(virtio_blk_pci(vm->disks[i])));
	for (unsigned i = 0; i < vm->nnets; i++)
		virtio_pci_reset(virtio_pci_of(virtio_net_pci(vm->nets[i])));
	uart_reset(&vm->uart);
	acpi_pm_reset(&vm->pm);
	for (unsigned i = 0; i < 3; i++) {
		struct kvm_irqchip chip = vm->irqchip_reset[i];
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
			return kv_err_errno(err, "reset: KVM_SET_IRQCHIP %u", chip.chip_id);
	}
	if (vm->cfg->pit) {
		struct kvm_pit_state2 pit = vm->pit_reset;
		if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
			return kv_err_errno(err, "reset: KVM_SET_PIT2");
	}
	/* RAM reads as zeros again (private anonymous memory); KVM drops its mappings. */
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct guest_region *g = &vm->mem.regions[i];
		if (madvise(g->host, g->size, MADV_DONTNEED) < 0)
			return kv_err_errno(err, "reset: clearing guest RAM");
	}
	int r = vm_write_guest(vm, err);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if ((r = vcpu_restore(&vm->vcpus[i], err)) < 0)
			return r;
	__atomic_store_n(&vm->panic_seen, false, __ATOMIC_RELEASE);
	pthread_mutex_lock(&vm->exit_lock);
	vm->exit_set = false;
	vm->exit_code = 0;
	vm->exit_msg[0] = 0;
	pthread_mutex_unlock(&vm->exit_lock);
	uint64_t drain;
	if (read(vm->stop_efd, &drain, sizeof(drain)) < 0) {
		/* EAGAIN: already drained. */
	}
	vm->reboots++;
	kv_info("guest rebooted: machine reset in place in %llu us (reboot %u)",
		(unsigned long long)((kv_now_ns() - t0) / 1000), vm->reboots);
	vmm_resume(vm);
	return 0;
}
