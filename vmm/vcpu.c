/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vCPU threads.  Each thread is a small state machine driven by messages
 * (RUN, PAUSE, STOP) from other threads.  A message is delivered by setting
 * it under the vCPU lock, setting kvm_run.immediate_exit and sending the
 * kick signal: whether the thread is inside KVM_RUN or just about to enter
 * it, KVM_RUN returns EINTR promptly and the thread looks at its mailbox.
 *
 * Every exit reason is handled: I/O and MMIO go to the buses; guest-fatal
 * conditions end the VM with a message and a register dump; anything KVM
 * should never report with an in-kernel irqchip ends it as a VMM error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/kvm.h>

#include "cpu.h"
#include "kvirt/log.h"
#include "kvirt/thread.h"
#include "kvirt/util.h"
#include "vm.h"

#define VCPU_KICK_SIGNAL SIGUSR1
#define VCPU_STACK_SIZE	 (256u << 10)

static void vcpu_kick_handler(int sig)
{
	/* Nothing to do: the signal exists to interrupt KVM_RUN. */
}

int vcpu_install_kick_handler(struct kv_err **err)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must come back with EINTR. */
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return kv_err_errno(err, "sigaction");
	return 0;
}

void vcpu_send(struct vcpu *v, enum vcpu_msg msg)
{
	pthread_mutex_lock(&v->lock);
	/* STOP is final; nothing may replace it. */
	if (v->pending != VCPU_MSG_STOP)
		v->pending = msg;
	if (v->run && v->run != MAP_FAILED)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&v->cond);
	bool started = v->thread_started && v->state != VCPU_STOPPED;
	pthread_mutex_unlock(&v->lock);
	if (started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *v)
{
	if (!v->thread_started)
		return;
	pthread_join(v->thread, NULL);
	v->thread_started = false;
}

static void vcpu_fatal(struct vcpu *v, int code, const char *what)
{
	char regs[1024];
	cpu_dump_regs(v->fd, regs, sizeof(regs));
	vm_request_exit(v->vm, code, "vcpu %u: %s; %s", v->index, what, regs);
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		bool claimed;
		if (run->io.direction == KVM_EXIT_IO_OUT)
			claimed = bus_write(&v->vm->pio, run->io.port, data, size);
		else
			claimed = bus_read(&v->vm->pio, run->io.port, data, size);
		if (!claimed)
			kv_debug("vcpu %u: unclaimed port %s 0x%x/%u", v->index,
				 run->io.direction == KVM_EXIT_IO_OUT ? "write" : "read",
				 run->io.port, size);
	}
}

static void vcpu_handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned len = run->mmio.len;
	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	bool claimed;
	if (run->mmio.is_write)
		claimed = bus_write(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		claimed = bus_read(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	if (!claimed)
		kv_debug("vcpu %u: unclaimed mmio %s 0x%llx/%u", v->index,
			 run->mmio.is_write ? "write" : "read",
			 (unsigned long long)run->mmio.phys_addr, len);
}

/* Returns false when the VM is over from this vCPU's point of view. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char what[256];
	switch (run->exit_reason) {
	case KVM_EXIT_IO: vcpu_handle_io(v); return true;
	case KVM_EXIT_MMIO: vcpu_handle_mmio(v); return true;
	case KVM_EXIT_INTR: return true;
	case KVM_EXIT_HLT:
		/* The in-kernel LAPIC handles HLT; seeing it means nothing can wake us. */
		vcpu_fatal(v, VMM_EXIT_CRASH, "halted with interrupts unavailable");
		return false;
	case KVM_EXIT_SHUTDOWN:
		vcpu_fatal(v, VMM_EXIT_CRASH,
			   __atomic_load_n(&v->vm->panic_seen, __ATOMIC_ACQUIRE)
			       ? "guest kernel panicked, then triple fault"
			       : "triple fault (guest shutdown)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_exit(v->vm, VMM_EXIT_POWEROFF,
					"guest powered off (system event)");
			break;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_exit(v->vm, VMM_EXIT_REBOOT,
					"guest requested a reboot (system event)");
			break;
		case KVM_SYSTEM_EVENT_CRASH:
			vcpu_fatal(v, VMM_EXIT_CRASH, "guest crashed (system event)");
			break;
		default:
			snprintf(what, sizeof(what), "unknown system event %u",
				 run->system_event.type);
			vcpu_fatal(v, VMM_EXIT_ERROR, what);
			break;
		}
		return false;
	case KVM_EXIT_INTERNAL_ERROR: {
		int n = snprintf(what, sizeof(what), "KVM internal error, suberror %u",
				 run->internal.suberror);
		for (uint32_t i = 0;
		     i < run->internal.ndata && i < 16 && n > 0 && (size_t)n < sizeof(what); i++)
			n += snprintf(what + n, sizeof(what) - (size_t)n, " data[%u]=0x%llx", i,
				      (unsigned long long)run->internal.data[i]);
		vcpu_fatal(v, VMM_EXIT_CRASH, what);
		return false;
	}
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed, hardware reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_fatal(v, VMM_EXIT_ERROR, what);
		return false;
	case KVM_EXIT_EXCEPTION:
		snprintf(what, sizeof(what), "unhandled exception %u (error code 0x%x)",
			 run->ex.exception, run->ex.error_code);
		vcpu_fatal(v, VMM_EXIT_CRASH, what);
		return false;
	case KVM_EXIT_UNKNOWN:
		snprintf(what, sizeof(what), "unknown exit, hardware reason 0x%llx",
			 (unsigned long long)run->hw.hardware_exit_reason);
		vcpu_fatal(v, VMM_EXIT_ERROR, what);
		return false;
	default:
		/* DEBUG, IRQ_WINDOW_OPEN, TPR_ACCESS, NMI, ...: not enabled by this VMM. */
		snprintf(what, sizeof(what), "unexpected KVM exit reason %u", run->exit_reason);
		vcpu_fatal(v, VMM_EXIT_ERROR, what);
		return false;
	}
}

/* Wait for a message that lets this vCPU run; false when it must stop. */
static bool vcpu_wait_runnable(struct vcpu *v, bool halted)
{
	pthread_mutex_lock(&v->lock);
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELEASE);
	for (;;) {
		enum vcpu_msg msg = v->pending;
		v->pending = VCPU_MSG_NONE;
		if (msg == VCPU_MSG_STOP) {
			v->state = VCPU_STOPPED;
			pthread_cond_broadcast(&v->cond);
			pthread_mutex_unlock(&v->lock);
			return false;
		}
		if (msg == VCPU_MSG_PAUSE)
			v->state = VCPU_PAUSED;
		else if (msg == VCPU_MSG_RUN)
			v->state = VCPU_RUNNING;
		if (msg != VCPU_MSG_NONE)
			pthread_cond_broadcast(&v->cond);
		if (v->state == VCPU_RUNNING && !halted)
			break;
		pthread_cond_wait(&v->cond, &v->lock);
	}
	pthread_mutex_unlock(&v->lock);
	return true;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];
	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* The vCPU allow-list is in force before this thread's first KVM_RUN. */
	kv_thread_enter(KV_THREAD_VCPU);

	bool halted = false; /* this vCPU ended the VM; only STOP matters now */
	while (vcpu_wait_runnable(v, halted)) {
		if (v->index == 0 && !v->vm->first_run_logged) {
			v->vm->first_run_logged = true;
			kv_info("first KVM_RUN %llu us after start",
				(unsigned long long)((kv_now_ns() - v->vm->start_ns) / 1000));
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vm_request_exit(v->vm, VMM_EXIT_ERROR, "vcpu %u: KVM_RUN: %s", v->index,
					strerror(errno));
			halted = true;
			continue;
		}
		if (!vcpu_handle_exit(v))
			halted = true;
	}
	return NULL;
}

int vcpu_start(struct vcpu *v, struct kv_err **err)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
	/* The thread unblocks the kick signal itself; start it with everything blocked. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&v->thread, &attr, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		errno = r;
		return kv_err_errno(err, "vcpu %u: cannot start thread", v->index);
	}
	pthread_mutex_lock(&v->lock);
	v->thread_started = true;
	pthread_mutex_unlock(&v->lock);
	return 0;
}
