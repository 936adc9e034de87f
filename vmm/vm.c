/* SPDX-License-Identifier: Apache-2.0 */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "acpi.h"
#include "cpu.h"
#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/thread.h"
#include "kvirt/net.h"
#include "kvirt/util.h"
#include "kvirt/virtio.h"

/* Where KVM may put its real-mode TSS and identity page (Intel only); inside the hole. */
#define KVM_TSS_ADDR	      0xfffbd000ull
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull

void vm_request_exit(struct vm *vm, int code, const char *fmt, ...)
{
	pthread_mutex_lock(&vm->exit_lock);
	if (!vm->exit_set) {
		vm->exit_set = true;
		vm->exit_code = code;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(vm->exit_msg, sizeof(vm->exit_msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&vm->exit_lock);
	uint64_t one = 1;
	if (vm->stop_efd >= 0 && write(vm->stop_efd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow with one write per event; nothing to do. */
	}
}

static void host_set_irq(void *ctx, unsigned gsi, int level)
{
	struct vm *vm = ctx;
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		kv_warn("KVM_IRQ_LINE gsi %u: %m", gsi);
}

static void host_signal_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct vm *vm = ctx;
	struct kvm_msi msi = { .address_lo = (uint32_t)addr,
			       .address_hi = (uint32_t)(addr >> 32),
			       .data = data };
	if (ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		kv_warn("KVM_SIGNAL_MSI: %m");
}

/* With irq_lock held: hand the whole table to KVM. */
static int irq_routing_commit(struct vm *vm)
{
	if (vm->irq_teardown)
		return 0;
	_cleanup_free_ struct kvm_irq_routing *t = irq_routing_build(vm->irq_routing);
	if (!t)
		return -ENOMEM;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, t) < 0) {
		int e = errno;
		kv_warn("KVM_SET_GSI_ROUTING (%u routes): %m", t->nr);
		return -e;
	}
	return 0;
}

static int host_irqfd_open(void *ctx, unsigned *gsi_out)
{
	struct vm *vm = ctx;
	pthread_mutex_lock(&vm->irq_lock);
	int gsi = irq_routing_alloc_gsi(vm->irq_routing);
	pthread_mutex_unlock(&vm->irq_lock);
	if (gsi < 0)
		return gsi;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int e = errno;
	if (fd >= 0) {
		struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = (uint32_t)gsi };
		if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) == 0) {
			*gsi_out = (unsigned)gsi;
			return fd;
		}
		e = errno;
		close(fd);
	}
	pthread_mutex_lock(&vm->irq_lock);
	irq_routing_free_gsi(vm->irq_routing, (unsigned)gsi);
	pthread_mutex_unlock(&vm->irq_lock);
	return -e;
}

static void host_irqfd_close(void *ctx, unsigned gsi, int fd)
{
	struct vm *vm = ctx;
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd,
				   .gsi = gsi,
				   .flags = KVM_IRQFD_FLAG_DEASSIGN };
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		kv_warn("KVM_IRQFD deassign gsi %u: %m", gsi);
	close(fd);
	pthread_mutex_lock(&vm->irq_lock);
	bool routed = irq_routing_remove(vm->irq_routing, gsi) > 0;
	irq_routing_free_gsi(vm->irq_routing, gsi);
	if (routed)
		irq_routing_commit(vm);
	pthread_mutex_unlock(&vm->irq_lock);
}

static int host_msi_route(void *ctx, unsigned gsi, bool enable, uint64_t addr, uint32_t data)
{
	struct vm *vm = ctx;
	pthread_mutex_lock(&vm->irq_lock);
	int r = enable ? irq_routing_set_msi(vm->irq_routing, gsi, addr, data)
		       : irq_routing_remove(vm->irq_routing, gsi);
	if (r > 0) {
		r = irq_routing_commit(vm);
		/* KVM kept its old table; keep ours free of the route it refused. */
		if (r < 0 && enable)
			irq_routing_remove(vm->irq_routing, gsi);
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return r;
}

static int host_ioeventfd(void *ctx, uint64_t addr, unsigned len, int fd, bool assign)
{
	struct vm *vm = ctx;
	struct kvm_ioeventfd io = { .addr = addr,
				    .len = len,
				    .fd = fd,
				    .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN };
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		int e = errno;
		kv_warn("KVM_IOEVENTFD %s 0x%llx: %m", assign ? "assign" : "deassign",
			(unsigned long long)addr);
		return -e;
	}
	return 0;
}

static void host_event(void *ctx, enum dev_event ev, uint32_t value)
{
	struct vm *vm = ctx;
	switch (ev) {
	case DEV_EVENT_POWEROFF: vm_request_exit(vm, VMM_EXIT_POWEROFF, "guest powered off"); break;
	case DEV_EVENT_RESET:
		/* panic=-1 reboots straight from panic(); the banner tells it from `reboot`. */
		if (__atomic_load_n(&vm->panic_seen, __ATOMIC_ACQUIRE))
			vm_request_exit(vm, VMM_EXIT_CRASH,
					"guest kernel panicked (console: \"Kernel panic - not "
					"syncing\") and reset");
		else
			vm_request_exit(vm, VMM_EXIT_REBOOT, "guest requested a reboot");
		break;
	case DEV_EVENT_PANIC:
		vm_request_exit(vm, VMM_EXIT_CRASH, "guest kernel panicked (pvpanic 0x%x)", value);
		break;
	case DEV_EVENT_PANIC_MESSAGE:
		__atomic_store_n(&vm->panic_seen, true, __ATOMIC_RELEASE);
		break;
	case DEV_EVENT_BOOT_CHECKPOINT:
		kv_info("boot timer: guest wrote 0x%x to port 0x%x %llu us after start", value,
			DEBUG_PORT, (unsigned long long)((kv_now_ns() - vm->start_ns) / 1000));
		break;
	case DEV_EVENT_DEBUG_CODE:
		kv_debug("debug port: 0x%x at %llu us", value,
			 (unsigned long long)((kv_now_ns() - vm->start_ns) / 1000));
		break;
	case DEV_EVENT_TEST_TRIGGER:
#ifdef KVIRT_TEST_HOOKS
		/*
		 * Test builds only: behave like a compromised device model that
		 * tries to open a new path.  With seccomp on, this kills the VMM
		 * with a line naming openat (tests/vm/vmm-seccomp.sh).
		 */
		kv_warn("test hook: the guest asked for openat, which no allow-list has");
		int fd = openat(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			kv_warn("test hook: openat succeeded (seccomp is off)");
			close(fd);
		}
#endif
		break;
	}
}

int vm_plan(struct vm *vm, const struct vmm_config *cfg, struct kv_err **err)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = vm->stop_efd = -1;
	vm->kernel_fd = vm->initrd_fd = -1;
	vm->mem.base = MAP_FAILED;
	pthread_mutex_init(&vm->exit_lock, NULL);
	pthread_mutex_init(&vm->irq_lock, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	pci_host_init(&vm->pci);

	int r = bzimage_probe(cfg->kernel, &vm->kernel, err);
	if (r < 0)
		return r;
	uint64_t initrd_size = 0;
	if (cfg->initrd) {
		struct stat st;
		if (stat(cfg->initrd, &st) < 0)
			return kv_err_errno(err, "initrd: cannot stat %s", cfg->initrd);
		initrd_size = (uint64_t)st.st_size;
	}
	struct guest_mem layout;
	guest_mem_layout(cfg->memory, &layout);
	return boot_plan_make(&vm->kernel, &layout, initrd_size, strlen(cfg->cmdline), &vm->plan,
			      err);
}

static int vm_open_kvm(struct vm *vm, struct kv_err **err)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return kv_err_errno(err, "cannot open /dev/kvm");
	int v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION)
		return kv_err_set(err, ENOTSUP, "KVM API version %d, need %d", v, KVM_API_VERSION);
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{ KVM_CAP_IRQCHIP, "IRQCHIP" },
		{ KVM_CAP_USER_MEMORY, "USER_MEMORY" },
		{ KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR" },
		{ KVM_CAP_PIT2, "PIT2" },
		{ KVM_CAP_EXT_CPUID, "EXT_CPUID" },
		{ KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT" },
		{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "SET_IDENTITY_MAP_ADDR" },
	};
	for (size_t i = 0; i < KV_ARRAY_SIZE(caps); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return kv_err_set(err, ENOTSUP, "KVM lacks KVM_CAP_%s", caps[i].name);
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && vm->cfg->cpus > (unsigned)max)
		return kv_err_set(err, ERANGE, "cpus: this host's KVM allows at most %d vCPUs",
				  max);
	/*
	 * MSI-X through irqfds needs both; without them every interrupt is a
	 * KVM_SIGNAL_MSI ioctl.  KVIRT_NO_IRQFD=1 forces that path (testing).
	 */
	int routes = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING);
	const char *no_irqfd = getenv("KVIRT_NO_IRQFD");
	if (no_irqfd && *no_irqfd && strcmp(no_irqfd, "0") != 0)
		kv_info("interrupts: MSI-X by KVM_SIGNAL_MSI (KVIRT_NO_IRQFD is set)");
	else if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) <= 0 || routes <= 0)
		kv_info("interrupts: MSI-X by KVM_SIGNAL_MSI (KVM lacks KVM_CAP_IRQFD or "
			"KVM_CAP_IRQ_ROUTING)");
	else {
		vm->irq_routing = malloc(sizeof(*vm->irq_routing));
		if (!vm->irq_routing)
			return kv_err_set(err, ENOMEM, "irq routing: out of memory");
		irq_routing_init(vm->irq_routing, (unsigned)routes);
	}
	return 0;
}

static int vm_create_kvm_vm(struct vm *vm, struct kv_err **err)
{
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return kv_err_errno(err, "KVM_CREATE_VM");
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		return kv_err_errno(err, "KVM_SET_TSS_ADDR");
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return kv_err_errno(err, "KVM_SET_IDENTITY_MAP_ADDR");
	/* PIC + IOAPIC + LAPICs in the kernel; must precede vCPU creation. */
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return kv_err_errno(err, "KVM_CREATE_IRQCHIP");
	int r = vm_snapshot_irqchip(vm, err);
	if (r < 0)
		return r;
	/*
	 * No PIT by default: Linux on KVM keeps time with kvmclock and the
	 * TSC-deadline LAPIC timer (both always offered with the in-kernel
	 * irqchip), so the PIT only costs exits and a kvm-pit kthread per VM.
	 * Nested under TCG, VMs with a PIT also wedged the L1 host now and then.
	 */
	if (!vm->cfg->pit)
		return 0;
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return kv_err_errno(err, "KVM_CREATE_PIT2");
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &vm->pit_reset) < 0)
		return kv_err_errno(err, "KVM_GET_PIT2");
	return 0;
}

static int vm_setup_memory(struct vm *vm, struct kv_err **err)
{
	int r = guest_mem_create(&vm->mem, vm->cfg->memory, vm->cfg->hugepages == VMM_HUGEPAGES_THP,
				 err);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct guest_region *g = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = g->gpa,
			.memory_size = g->size,
			.userspace_addr = (uint64_t)(uintptr_t)g->host,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return kv_err_errno(err, "KVM_SET_USER_MEMORY_REGION slot %u", i);
	}
	return 0;
}

/* One virtio-net per --net: open (or take) the tap queue fds, then the device owns them. */
static int vm_setup_nets(struct vm *vm, struct kv_err **err)
{
	for (unsigned i = 0; i < vm->cfg->nnets; i++) {
		const struct vmm_net *d = &vm->cfg->nets[i];
		struct virtio_net_config nc = { .pairs = d->queues,
						.mtu = d->mtu,
						.queue_size = d->queue_size };
		char name[32];
		memcpy(nc.mac, d->mac, 6);
		if (d->tap) {
			int r = net_tap_create(d->tap, d->queues, nc.fds, err);
			if (r < 0)
				return r;
			nc.name = d->tap;
		} else {
			/* The fds stay the config's; the device gets duplicates. */
			for (unsigned q = 0; q < d->nfds; q++) {
				nc.fds[q] = fcntl(d->fds[q], F_DUPFD_CLOEXEC, 3);
				if (nc.fds[q] < 0) {
					int r = kv_err_errno(err, "net %u: fd %d", i, d->fds[q]);
					while (q > 0)
						kv_close_safe(nc.fds[--q]);
					return r;
				}
			}
			snprintf(name, sizeof(name), "fd=%d", d->fds[0]);
			nc.name = name;
		}
		int r = virtio_net_create(&nc, &vm->host, &vm->mem, &vm->nets[i], err);
		if (r < 0)
			return r;
		vm->nnets++;
		r = pci_host_add(&vm->pci, virtio_net_pci(vm->nets[i]), err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int vm_setup_devices(struct vm *vm, int console_fd, struct kv_err **err)
{
	vm->host = (struct dev_host){ .set_irq = host_set_irq,
				      .event = host_event,
				      .signal_msi = host_signal_msi,
				      .ioeventfd = host_ioeventfd,
				      .ctx = vm };
	if (vm->irq_routing) {
		vm->host.irqfd_open = host_irqfd_open;
		vm->host.irqfd_close = host_irqfd_close;
		vm->host.msi_route = host_msi_route;
	}
	uart_init(&vm->uart, &vm->host, COM1_IRQ, console_fd);
	i8042_init(&vm->i8042, &vm->host);
	acpi_pm_init(&vm->pm, &vm->host);
	misc_ports_init(&vm->misc, &vm->host);
	int r;
	if ((r = uart_attach(&vm->uart, &vm->pio, COM1_PORT, err)) < 0 ||
	    (r = i8042_attach(&vm->i8042, &vm->pio, err)) < 0 ||
	    (r = acpi_pm_attach(&vm->pm, &vm->pio, err)) < 0 ||
	    (r = misc_ports_attach(&vm->misc, &vm->pio, err)) < 0 ||
	    (r = pci_host_attach(&vm->pci, &vm->pio, &vm->mmio, err)) < 0)
		return r;
	for (unsigned i = 0; i < vm->cfg->ndisks; i++) {
		const struct vmm_disk *d = &vm->cfg->disks[i];
		struct virtio_blk_config bc = {
			.path = d->path,
			.serial = d->serial,
			.readonly = d->readonly,
			.direct = d->cache == VMM_CACHE_NONE,
			.backend = d->backend == VMM_BACKEND_IO_URING  ? BLK_BACKEND_IO_URING
				   : d->backend == VMM_BACKEND_THREADS ? BLK_BACKEND_THREADS
								       : BLK_BACKEND_AUTO,
			/* Default: one queue per vCPU, so each vCPU submits on its own ring. */
			.queues = d->queues ? d->queues : vm->cfg->cpus,
			.queue_size = d->queue_size,
			.no_coalesce = d->no_coalesce,
		};
		r = virtio_blk_create(&bc, &vm->host, &vm->mem, &vm->disks[i], err);
		if (r < 0)
			return r;
		vm->ndisks++;
		r = pci_host_add(&vm->pci, virtio_blk_pci(vm->disks[i]), err);
		if (r < 0)
			return r;
	}
	r = vm_setup_nets(vm, err);
	if (r < 0)
		return r;
	if (vm->irq_routing) {
		unsigned total = 0, irqfd = 0;
		for (unsigned i = 0; i < vm->ndisks; i++) {
			const struct msix *m = &virtio_pci_of(virtio_blk_pci(vm->disks[i]))->msix;
			total += m->nvec;
			irqfd += msix_irqfd_vectors(m);
		}
		for (unsigned i = 0; i < vm->nnets; i++) {
			const struct msix *m = &virtio_pci_of(virtio_net_pci(vm->nets[i]))->msix;
			total += m->nvec;
			irqfd += msix_irqfd_vectors(m);
		}
		kv_info("interrupts: MSI-X by KVM_IRQFD + KVM_SET_GSI_ROUTING (%u of %u vectors)",
			irqfd, total);
	}
	return 0;
}

static int vm_load_guest(struct vm *vm, struct kv_err **err)
{
	vm->kernel_fd = open(vm->cfg->kernel, O_RDONLY | O_CLOEXEC);
	if (vm->kernel_fd < 0)
		return kv_err_errno(err, "kernel: cannot open %s", vm->cfg->kernel);
	if (vm->cfg->initrd && vm->plan.initrd_size) {
		vm->initrd_fd = open(vm->cfg->initrd, O_RDONLY | O_CLOEXEC);
		if (vm->initrd_fd < 0)
			return kv_err_errno(err, "initrd: cannot open %s", vm->cfg->initrd);
	}
	return vm_write_guest(vm, err);
}

int vm_write_guest(struct vm *vm, struct kv_err **err)
{
	int r = boot_load_fds(&vm->mem, &vm->kernel, &vm->plan, vm->kernel_fd, vm->initrd_fd, err);
	if (r < 0)
		return r;
	uint8_t *area =
	    guest_mem_ptr(&vm->mem, ACPI_TABLES_START, ACPI_TABLES_END - ACPI_TABLES_START);
	if (!area)
		return kv_err_set(err, EFAULT, "acpi: table area is not RAM");
	struct acpi_config acfg = { .cpus = vm->cfg->cpus,
				    .sockets = vm->cfg->sockets,
				    .cores = vm->cfg->cores,
				    .threads = vm->cfg->threads,
				    .pci = true };
	struct acpi_layout layout;
	r = acpi_build(&acfg, area, ACPI_TABLES_END - ACPI_TABLES_START, ACPI_TABLES_START, &layout,
		       err);
	if (r < 0)
		return r;
	return boot_setup(&vm->mem, &vm->kernel, &vm->plan, vm->cfg->cmdline, layout.rsdp, err);
}

static int vm_create_vcpus(struct vm *vm, struct kv_err **err)
{
	int mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run))
		return kv_err_errno(err, "KVM_GET_VCPU_MMAP_SIZE");
	_cleanup_free_ struct kvm_cpuid2 *cpuid = NULL;
	int r = cpuid_get_supported(vm->kvm_fd, &cpuid, err);
	if (r < 0)
		return r;
	const struct cpu_topo topo = { vm->cfg->sockets, vm->cfg->cores, vm->cfg->threads };
	vm->vcpus = calloc(vm->cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return kv_err_set(err, ENOMEM, "vcpus: out of memory");
	for (unsigned i = 0; i < vm->cfg->cpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		*v = (struct vcpu){ .vm = vm, .index = i, .fd = -1, .run = MAP_FAILED };
		pthread_mutex_init(&v->lock, NULL);
		pthread_cond_init(&v->cond, NULL);
		vm->nvcpus++;
		/* The vCPU id is the initial (x2)APIC ID KVM gives it. */
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)cpu_apic_id(&topo, i));
		if (v->fd < 0)
			return kv_err_errno(err, "KVM_CREATE_VCPU %u", i);
		v->run_size = (size_t)mmap_size;
		v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED)
			return kv_err_errno(err, "vcpu %u: mmap kvm_run", i);
		r = cpu_setup(v->fd, cpuid, i, &topo, err);
		if (r < 0)
			return r;
	}
	/* Only the BSP starts running; APs wait for INIT/SIPI in the in-kernel LAPIC. */
	r = cpu_setup_boot_regs(vm->vcpus[0].fd, vm->plan.entry, BOOT_PARAMS_ADDR, err);
	for (unsigned i = 0; r >= 0 && vm->cfg->reboot_restart && i < vm->nvcpus; i++)
		r = vm_snapshot_vcpu(&vm->vcpus[i], err);
	return r;
}

static int step_open_kvm(struct vm *vm, int console_fd, struct kv_err **err)
{
	return vm_open_kvm(vm, err);
}

static int step_create_kvm_vm(struct vm *vm, int console_fd, struct kv_err **err)
{
	return vm_create_kvm_vm(vm, err);
}

static int step_setup_memory(struct vm *vm, int console_fd, struct kv_err **err)
{
	return vm_setup_memory(vm, err);
}

static int step_setup_devices(struct vm *vm, int console_fd, struct kv_err **err)
{
	return vm_setup_devices(vm, console_fd, err);
}

static int step_load_guest(struct vm *vm, int console_fd, struct kv_err **err)
{
	return vm_load_guest(vm, err);
}

static int step_create_vcpus(struct vm *vm, int console_fd, struct kv_err **err)
{
	return vm_create_vcpus(vm, err);
}

int vm_create(struct vm *vm, int console_fd, struct kv_err **err)
{
	int r;
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return kv_err_errno(err, "eventfd");
	/* The build recipe: each step is small and leaves vm_destroy() a consistent state. */
	static const struct {
		const char *name;
		int (*fn)(struct vm *vm, int console_fd, struct kv_err **err);
	} steps[] = {
		{ "open /dev/kvm", step_open_kvm },    { "create VM", step_create_kvm_vm },
		{ "guest memory", step_setup_memory }, { "devices", step_setup_devices },
		{ "load guest", step_load_guest },     { "vCPUs", step_create_vcpus },
	};
	for (size_t i = 0; i < KV_ARRAY_SIZE(steps); i++) {
		uint64_t t0 = kv_now_ns();
		if ((r = steps[i].fn(vm, console_fd, err)) < 0)
			return r;
		kv_debug("vm_create: %s took %llu us", steps[i].name,
			 (unsigned long long)((kv_now_ns() - t0) / 1000));
	}
	return 0;
}

int vm_start(struct vm *vm, struct kv_err **err)
{
	int r = vcpu_install_kick_handler(err);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		r = vcpu_start(&vm->vcpus[i], err);
		if (r < 0)
			return r;
	}
	/* The main thread's allow-list is in force before any vCPU runs the guest. */
	kv_thread_enter(KV_THREAD_MAIN);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_send(&vm->vcpus[i], VCPU_MSG_RUN);
	return 0;
}

void vm_stop(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_send(&vm->vcpus[i], VCPU_MSG_STOP);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_join(&vm->vcpus[i]);
}

void vm_destroy(struct vm *vm)
{
	vm_stop(vm);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v->run != MAP_FAILED)
			munmap(v->run, v->run_size);
		kv_close_safe(v->fd);
		free(v->reset);
		pthread_mutex_destroy(&v->lock);
		pthread_cond_destroy(&v->cond);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nvcpus = 0;
	/* After the vCPUs: no guest access can reach a device being torn down. */
	vm->irq_teardown = true;
	for (unsigned i = 0; i < vm->ndisks; i++)
		virtio_blk_destroy(vm->disks[i]);
	vm->ndisks = 0;
	for (unsigned i = 0; i < vm->nnets; i++)
		virtio_net_destroy(vm->nets[i]);
	vm->nnets = 0;
	bus_clear(&vm->pio);
	bus_clear(&vm->mmio);
	pci_host_destroy(&vm->pci);
	guest_mem_destroy(&vm->mem);
	vm->vm_fd = kv_close_safe(vm->vm_fd);
	vm->kvm_fd = kv_close_safe(vm->kvm_fd);
	vm->kernel_fd = kv_close_safe(vm->kernel_fd);
	vm->initrd_fd = kv_close_safe(vm->initrd_fd);
	vm->stop_efd = kv_close_safe(vm->stop_efd);
	free(vm->irq_routing);
	vm->irq_routing = NULL;
}
