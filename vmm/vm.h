/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One virtual machine: KVM handles, guest memory, the device buses and
 * devices, and the vCPU threads.  vm_create() is the whole build recipe as
 * a list of small steps; vm_destroy() is the one teardown and accepts a VM
 * stopped at any step.
 */
#ifndef KVIRT_VMM_VM_H
#define KVIRT_VMM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "boot.h"
#include "config.h"
#include "irq_routing.h"
#include "kvirt/bus.h"
#include "kvirt/devices.h"
#include "kvirt/guest_mem.h"
#include "kvirt/pci.h"
#include "kvirt/virtio_blk.h"
#include "kvirt/virtio_net.h"

/* Process exit status (docs/vmm.md). */
enum vmm_exit_code {
	VMM_EXIT_POWEROFF = 0, /* guest powered off (ACPI S5) */
	VMM_EXIT_ERROR = 1,    /* VMM error: bad config, KVM failure, failed VM entry */
	VMM_EXIT_REBOOT = 2,   /* guest asked for a reboot; the caller decides to restart */
	VMM_EXIT_CRASH = 3,    /* guest panic, triple fault, KVM internal error */
	/* killed by SIGINT/SIGTERM/SIGHUP: 128 + signal number, like a shell */
};

enum vcpu_msg { VCPU_MSG_NONE = 0, VCPU_MSG_RUN, VCPU_MSG_PAUSE, VCPU_MSG_STOP };
enum vcpu_state { VCPU_CREATED = 0, VCPU_RUNNING, VCPU_PAUSED, VCPU_STOPPED };

struct vm;

/* A vCPU's power-on state, taken when it is built and put back by a guest reset. */
struct vcpu_reset_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events events;
};

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vcpu_msg pending;
	enum vcpu_state state;
	struct vcpu_reset_state *reset; /* NULL until vm_create() finished the vCPU */
};

struct vm {
	const struct vmm_config *cfg;
	uint64_t start_ns; /* process start, for the boot timer */
	int kvm_fd, vm_fd;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct dev_host host;
	struct uart uart;
	struct i8042 i8042;
	struct acpi_pm pm;
	struct misc_ports misc;
	struct pci_host pci;
	struct virtio_blk *disks[VMM_MAX_DISKS];
	unsigned ndisks;
	struct virtio_net *nets[VMM_MAX_NETS];
	unsigned nnets;
	struct bzimage_info kernel;
	struct boot_plan plan;
	int kernel_fd, initrd_fd; /* kept open: a guest reset loads them again */
	struct vcpu *vcpus;
	unsigned nvcpus;
	int stop_efd; /* signalled when a vCPU or device decides the VM is over */

	/* MSI-X through KVM_IRQFD + KVM_SET_GSI_ROUTING; NULL: KVM_SIGNAL_MSI per interrupt. */
	struct irq_routing *irq_routing;
	pthread_mutex_t irq_lock; /* guards irq_routing and the table installed in KVM */
	bool irq_teardown;	  /* vm_destroy: routes go away with the VM, skip the ioctls */

	pthread_mutex_t exit_lock;
	bool exit_set;
	int exit_code;
	char exit_msg[2048];
	bool panic_seen; /* the console showed the kernel panic banner */
	bool first_run_logged;

	/* Guest reset in place (on_reboot=restart, reset.c). */
	struct kvm_irqchip irqchip_reset[3]; /* PIC master, PIC slave, IOAPIC at creation */
	struct kvm_pit_state2 pit_reset;     /* with cfg->pit */
	unsigned reboots;
};

/* Everything that can fail before /dev/kvm is opened: the kernel header and the layout. */
int vm_plan(struct vm *vm, const struct vmm_config *cfg, struct kv_err **err);
/* Build the VM (opens /dev/kvm); console output goes to `console_fd` (-1: none). */
int vm_create(struct vm *vm, int console_fd, struct kv_err **err);
int vm_start(struct vm *vm, struct kv_err **err);
/* Ask every vCPU to stop and join them; safe to call twice. */
void vm_stop(struct vm *vm);
void vm_destroy(struct vm *vm);

/* Kernel, initrd, ACPI tables and boot parameters into guest RAM (creation and reset). */
int vm_write_guest(struct vm *vm, struct kv_err **err);

/* Guest reset (reset.c): power-on state snapshots, and the reset itself. */
int vm_snapshot_irqchip(struct vm *vm, struct kv_err **err);
int vm_snapshot_vcpu(struct vcpu *v, struct kv_err **err);
/* True when the VM is ending because the guest rebooted and on_reboot=restart. */
bool vm_wants_reset(struct vm *vm);
/*
 * Reset the machine in place as a platform reset would: vCPUs paused and
 * put back to their power-on state, devices and interrupt controllers
 * reset, RAM cleared and the kernel loaded again; then the vCPUs run.
 */
int vm_reset(struct vm *vm, struct kv_err **err);

/* Record why the VM ends (first caller wins) and wake the main loop. */
void vm_request_exit(struct vm *vm, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* vCPU threads (vcpu.c). */
int vcpu_start(struct vcpu *v, struct kv_err **err);
void vcpu_send(struct vcpu *v, enum vcpu_msg msg);
void vcpu_join(struct vcpu *v);
int vcpu_install_kick_handler(struct kv_err **err);

#endif
