/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp allow-lists of kvirt-vmm, one per thread kind, and the SIGSYS
 * reporter.  The only file that uses libseccomp (house rule 3); every
 * libseccomp failure fails closed (the caller gets an error, a thread that
 * cannot install its list exits the VMM).
 *
 * Model: each thread installs its own filter (no SECCOMP_FILTER_FLAG_TSYNC)
 * as its first action, through kv_thread_enter():
 *   - vCPU threads at thread start, before their first KVM_RUN;
 *   - the main thread after creating the vCPU threads and before telling them
 *     to run (vm_start);
 *   - device I/O threads (virtio-blk queue workers and the thread-pool
 *     backend) when they start.  They are created by a vCPU thread when the
 *     guest sets DRIVER_OK, so they inherit the vCPU filter and add their
 *     own: the kernel runs both, the stricter action wins.  Therefore the
 *     vCPU filter must also allow what an I/O thread needs (plus thread
 *     creation); build_filter() adds the I/O rows to the vCPU filter.
 * Default action: SECCOMP_RET_TRAP.  The SIGSYS handler writes one line
 * naming the syscall and the thread kind, then exit_group(159).  The handler
 * cannot be replaced afterwards: rt_sigaction is in no list.
 *
 * Not listed anywhere: open/openat (no new paths after start), execve,
 * fork/vfork, clone without CLONE_THREAD, socket/connect/bind, ptrace,
 * mount, kill (tgkill only to this process), prctl, setuid & co.
 */
#include "vmm_seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/seccomp.h>
#include <limits.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/util.h"

#define M (1u << KV_THREAD_MAIN)
#define V (1u << KV_THREAD_VCPU)
#define I (1u << KV_THREAD_IO)
/* main, only with on_reboot=restart: resetting the guest in place (reset.c) */
#define R (1u << KV_THREAD_KINDS)

static bool reset_allowed;

void vmm_seccomp_allow_reset(bool on)
{
	reset_allowed = on;
}

enum arg_rule {
	ARG_ANY,
	ARG_IOCTL,	  /* request must be in ioctl_rules[] for this kind */
	ARG_CLONE_THREAD, /* threads only (CLONE_THREAD|CLONE_VM), never processes */
	ARG_NO_EXEC,	  /* mmap/mprotect: PROT_EXEC refused (no new code) */
	ARG_SELF_PID,	  /* tgkill: only threads of this process */
	ARG_ENOSYS,	  /* not allowed, but fails with ENOSYS instead of killing */
	ARG_EPERM,	  /* not allowed, fails with EPERM (harmless cleanup attempts) */
	ARG_NNP,	  /* prctl: only PR_SET_NO_NEW_PRIVS */
	ARG_SET_NAME,	  /* prctl: only PR_SET_NAME (thread names for top/perf) */
	ARG_ADD_FILTER,	  /* seccomp: only SECCOMP_SET_MODE_FILTER (can only narrow) */
};

/* The allow-lists.  docs/security.md renders this table; keep them in sync. */
static const struct syscall_rule {
	const char *name;
	unsigned kinds;
	enum arg_rule arg;
} syscall_rules[] = {
	/* every thread */
	{ "read", M | V | I, ARG_ANY },		  /* eventfds, console, signalfd, tap */
	{ "write", M | V | I, ARG_ANY },	  /* eventfds, console, log lines */
	{ "readv", M | V | I, ARG_ANY },	  /* tap (virtio-net) */
	{ "writev", M | V | I, ARG_ANY },	  /* tap (virtio-net), log lines */
	{ "close", M | V | I, ARG_ANY },	  /* fds of closed clients, teardown */
	{ "futex", M | V | I, ARG_ANY },	  /* mutexes, condition variables, join */
	{ "poll", M | V | I, ARG_ANY },		  /* event loops */
	{ "ppoll", M | V | I, ARG_ANY },	  /* poll() on newer libcs */
	{ "mmap", M | V | I, ARG_NO_EXEC },	  /* malloc arenas, thread stacks */
	{ "mprotect", M | V | I, ARG_NO_EXEC },	  /* malloc arenas, stack guards */
	{ "munmap", M | V | I, ARG_ANY },	  /* free(), teardown */
	{ "mremap", M | V | I, ARG_ANY },	  /* realloc() of large blocks */
	{ "madvise", M | V | I, ARG_ANY },	  /* free(), thread exit */
	{ "brk", M | V | I, ARG_ANY },		  /* malloc */
	{ "rt_sigprocmask", M | V | I, ARG_ANY }, /* pthread_create, vCPU kick mask */
	{ "rt_sigreturn", M | V | I, ARG_ANY },	  /* return from the vCPU kick handler */
	{ "restart_syscall", M | V | I, ARG_ANY },
	{ "clock_gettime", M | V | I, ARG_ANY }, /* when the vDSO is not used */
	{ "clock_nanosleep", M | V | I, ARG_ANY },
	{ "nanosleep", M | V | I, ARG_ANY },
	{ "sched_yield", M | V | I, ARG_ANY },
	{ "getpid", M | V | I, ARG_ANY },
	{ "gettid", M | V | I, ARG_ANY },
	{ "getrandom", M | V | I, ARG_ANY }, /* malloc's per-thread setup */
	{ "exit", M | V | I, ARG_ANY },
	{ "exit_group", M | V | I, ARG_ANY },
	{ "ioctl", M | V | I, ARG_IOCTL },
	{ "tgkill", M | V, ARG_SELF_PID }, /* vCPU kick (pause/stop), own threads only */
	/* main: event loop, console, control socket (--api) */
	{ "accept4", M, ARG_ANY },
	{ "recvmsg", M, ARG_ANY },
	{ "sendmsg", M, ARG_ANY },
	{ "recvfrom", M, ARG_ANY },
	{ "sendto", M, ARG_ANY },
	{ "shutdown", M, ARG_ANY },
	{ "getsockopt", M, ARG_ANY },	 /* SO_PEERCRED of control-socket clients */
	{ "fcntl", M | V | I, ARG_ANY }, /* O_NONBLOCK on accepted sockets and taps */
	{ "epoll_create1", I, ARG_ANY }, /* each virtio-net queue pair thread's own loop */
	{ "epoll_wait", M | I, ARG_ANY },
	{ "epoll_pwait", M | I, ARG_ANY },
	{ "epoll_ctl", M | V | I, ARG_ANY }, /* add/remove tap and client fds */
	{ "eventfd2", M | V, ARG_ANY },	     /* irqfds created when vectors are unmasked */
	/* console_close() removes the console socket: refused, the next start replaces it */
	{ "unlink", M, ARG_EPERM },
	{ "unlinkat", M, ARG_EPERM },
	/* vCPU: device emulation; starts the device I/O threads on DRIVER_OK */
	{ "clone", V, ARG_CLONE_THREAD },
	{ "clone3", V, ARG_ENOSYS }, /* flags are behind a pointer: glibc falls back to clone */
	{ "set_robust_list", V, ARG_ANY }, /* new threads, before they install their list */
	{ "rseq", V, ARG_ANY },
	/* a new I/O thread installs its own (narrower) list; libseccomp sets NNP first */
	{ "prctl", V, ARG_NNP },
	{ "seccomp", V, ARG_ADD_FILTER },
	/* I/O threads: disk backends */
	{ "preadv", I, ARG_ANY },
	{ "pwritev", I, ARG_ANY },
	{ "preadv2", I, ARG_ANY },
	{ "pwritev2", I, ARG_ANY },
	{ "pread64", I, ARG_ANY },
	{ "pwrite64", I, ARG_ANY },
	{ "fdatasync", I, ARG_ANY },
	{ "fsync", I, ARG_ANY },
	{ "prctl", I, ARG_SET_NAME },	      /* pthread_setname_np on itself */
	{ "sched_setscheduler", I, ARG_ANY }, /* I/O threads go SCHED_BATCH (kv_thread_io_setup) */
	{ "fallocate", I, ARG_ANY },	      /* discard / write zeroes */
	{ "io_uring_enter", I, ARG_ANY },     /* rings are set up before any filter */
	{ "pread64", R, ARG_ANY },	      /* reset: the kernel and initrd again */
};

/* ioctl requests per kind (argument 1 compared exactly). */
static const struct ioctl_rule {
	const char *name;
	unsigned long request;
	unsigned kinds;
} ioctl_rules[] = {
	{ "KVM_RUN", KVM_RUN, V },
	{ "KVM_GET_REGS", KVM_GET_REGS, V },   /* register dump when the guest dies */
	{ "KVM_GET_SREGS", KVM_GET_SREGS, V }, /* register dump when the guest dies */
	{ "KVM_IRQ_LINE", KVM_IRQ_LINE, M | V | I },
	{ "KVM_SIGNAL_MSI", KVM_SIGNAL_MSI, M | V | I },
	{ "KVM_IOEVENTFD", KVM_IOEVENTFD, M | V },	       /* queue enable/disable; teardown */
	{ "KVM_IRQFD", KVM_IRQFD, M | V },		       /* MSI-X vector (un)mask */
	{ "KVM_SET_GSI_ROUTING", KVM_SET_GSI_ROUTING, M | V }, /* MSI-X vector (un)mask */
	{ "TUNSETOFFLOAD", TUNSETOFFLOAD, V },		       /* virtio-net feature negotiation */
	{ "TUNSETVNETHDRSZ", TUNSETVNETHDRSZ, V },	       /* virtio-net feature negotiation */
	{ "TUNSETQUEUE", TUNSETQUEUE, V | I }, /* virtio-net: DRIVER_OK, ctrl MQ_VQ_PAIRS_SET */
	{ "TCGETS", TCGETS, M },	       /* console: restore the terminal */
	{ "TCSETS", TCSETS, M },
	/* reset in place: vCPUs and interrupt controllers back to power-on state */
	{ "KVM_SET_REGS", KVM_SET_REGS, R },
	{ "KVM_SET_SREGS", KVM_SET_SREGS, R },
	{ "KVM_SET_FPU", KVM_SET_FPU, R },
	{ "KVM_SET_LAPIC", KVM_SET_LAPIC, R },
	{ "KVM_SET_MSRS", KVM_SET_MSRS, R },
	{ "KVM_SET_MP_STATE", KVM_SET_MP_STATE, R },
	{ "KVM_SET_VCPU_EVENTS", KVM_SET_VCPU_EVENTS, R },
	{ "KVM_SET_IRQCHIP", KVM_SET_IRQCHIP, R },
	{ "KVM_SET_PIT2", KVM_SET_PIT2, R },
};

static const char *const kind_names[KV_THREAD_KINDS] = { "main", "vcpu", "io" };

const char *vmm_seccomp_kind_name(enum kv_thread_kind kind)
{
	return (unsigned)kind < KV_THREAD_KINDS ? kind_names[kind] : "?";
}

/* A kind's filter holds its own rows; the vCPU's also the I/O rows (see top). */
static unsigned kind_mask(enum kv_thread_kind kind)
{
	switch (kind) {
	case KV_THREAD_MAIN: return M | (reset_allowed ? R : 0);
	case KV_THREAD_VCPU: return V | I;
	case KV_THREAD_IO: return I;
	default: return 0;
	}
}

/* -------------------------------------------------------- SIGSYS reporter */

#define NAME_SLOTS 512
static char *syscall_names[NAME_SLOTS]; /* resolved once; the handler only reads */
static __thread int current_kind = -1;

static size_t put_str(char *buf, size_t pos, size_t cap, const char *s)
{
	while (*s && pos + 1 < cap)
		buf[pos++] = *s++;
	return pos;
}

static size_t put_uint(char *buf, size_t pos, size_t cap, unsigned long v)
{
	char tmp[24];
	size_t n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(tmp));
	while (n && pos + 1 < cap)
		buf[pos++] = tmp[--n];
	return pos;
}

/* Async-signal-safe: no stdio, no malloc; write + exit_group are in every list. */
static void sigsys_handler(int sig, siginfo_t *si, void *uctx)
{
	char line[256];
	size_t p = 0, cap = sizeof(line);
	int nr = si->si_syscall;
	p = put_str(line, p, cap, "kvirt-vmm: error: seccomp: forbidden syscall ");
	p = put_str(line, p, cap,
		    nr >= 0 && nr < NAME_SLOTS && syscall_names[nr] ? syscall_names[nr] : "?");
	p = put_str(line, p, cap, " (nr ");
	p = put_uint(line, p, cap, (unsigned long)nr);
	p = put_str(line, p, cap, ") by thread ");
	p = put_uint(line, p, cap, (unsigned long)syscall(SYS_gettid));
	/* A thread that has not installed its own list runs under its creator's. */
	p = put_str(line, p, cap, " (");
	p = put_str(line, p, cap,
		    current_kind >= 0 ? vmm_seccomp_kind_name((enum kv_thread_kind)current_kind)
				      : "creator's");
	p = put_str(line, p, cap, " allow-list); stopping the VMM (exit 159)\n");
	ssize_t w = write(STDERR_FILENO, line, p);
	(void)w;
	syscall(SYS_exit_group, VMM_EXIT_SECCOMP);
}

/* --------------------------------------------------------- filter building */

static int add_rule(scmp_filter_ctx ctx, const struct syscall_rule *r, enum kv_thread_kind kind,
		    struct kv_err **err)
{
	int nr = seccomp_syscall_resolve_name(r->name);
	if (nr == __NR_SCMP_ERROR)
		return kv_err_set(err, EINVAL, "seccomp: unknown syscall %s", r->name);
	int rc = 0;
	switch (r->arg) {
	case ARG_ANY: rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0); break;
	case ARG_ENOSYS: rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0); break;
	case ARG_EPERM: rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0); break;
	case ARG_NO_EXEC:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
		break;
	case ARG_CLONE_THREAD:
		rc = seccomp_rule_add(
		    ctx, SCMP_ACT_ALLOW, nr, 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_VM, CLONE_THREAD | CLONE_VM));
		break;
	case ARG_NNP:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS));
		break;
	case ARG_SET_NAME:
		rc =
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
		break;
	case ARG_ADD_FILTER:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER));
		break;
	case ARG_SELF_PID:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
		break;
	case ARG_IOCTL:
		for (size_t i = 0; rc == 0 && i < KV_ARRAY_SIZE(ioctl_rules); i++) {
			if (!(ioctl_rules[i].kinds & kind_mask(kind)))
				continue;
			/* The kernel's cmd is 32 bits; compare only those. */
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu,
						      ioctl_rules[i].request & 0xffffffffu));
		}
		break;
	}
	if (rc < 0) {
		errno = -rc;
		return kv_err_errno(err, "seccomp: rule for %s", r->name);
	}
	return 0;
}

int vmm_seccomp_apply(enum kv_thread_kind kind, struct kv_err **err)
{
	if ((unsigned)kind >= KV_THREAD_KINDS)
		return kv_err_set(err, EINVAL, "seccomp: unknown thread kind %d", kind);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return kv_err_set(err, ENOMEM, "seccomp: cannot create a filter");
	int r = 0;
	for (size_t i = 0; r >= 0 && i < KV_ARRAY_SIZE(syscall_rules); i++)
		if (syscall_rules[i].kinds & kind_mask(kind))
			r = add_rule(ctx, &syscall_rules[i], kind, err);
	if (r >= 0) {
		/* libseccomp sets no_new_privs itself (SCMP_FLTATR_CTL_NNP); no TSYNC. */
		int rc = seccomp_load(ctx);
		if (rc < 0) {
			errno = -rc;
			r = kv_err_errno(err, "seccomp: cannot load the %s filter",
					 kind_names[kind]);
		}
	}
	seccomp_release(ctx);
	if (r < 0)
		return r;
	current_kind = (int)kind;
	/*
	 * vCPU threads start with every signal blocked (and pass that mask on
	 * to the I/O threads they create).  The kernel turns a blocked SIGSYS
	 * from a seccomp trap into the default action, which kills without
	 * the report: unblock it.
	 */
	sigset_t sys;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	return 0;
}

static void enter_hook(enum kv_thread_kind kind)
{
	struct kv_err *err = NULL;
	if (vmm_seccomp_apply(kind, &err) < 0) {
		/* Fail closed: a thread without its allow-list must not run. */
		kv_error("%s; stopping the VMM", kv_err_msg(err));
		kv_err_free(err);
		_exit(1);
	}
}

int vmm_seccomp_init(bool enabled, struct kv_err **err)
{
	if (!enabled) {
		kv_warn("SECCOMP IS OFF (--seccomp=off): the guest-facing threads may make any "
			"syscall; use this for debugging only");
		return 0;
	}
	for (int nr = 0; nr < NAME_SLOTS; nr++)
		if (!syscall_names[nr])
			syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	/*
	 * The first time a thread needs its own malloc arena, glibc computes
	 * the arena limit from the CPU count by opening
	 * /sys/devices/system/cpu/online: openat, which no list allows (found
	 * by vmm-seccomp: the first I/O thread to malloc died).  With the
	 * limit set here (glibc's default, 8 per CPU) it never asks.
	 */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	/* Sanitizer allocators ignore mallopt(); they manage their own arenas. */
	if (mallopt(M_ARENA_MAX, (int)(8 * (ncpu > 0 ? ncpu : 1))) != 1)
		kv_debug("seccomp: mallopt(M_ARENA_MAX) not supported by this allocator");
	/*
	 * Shrinking a thread arena's heap makes glibc read
	 * /proc/sys/vm/overcommit_memory once (openat again): bench/blk's QD32
	 * job freed enough bounce buffers in an I/O thread to get there and
	 * the VMM died.  With no trimming, heaps are never shrunk (freed
	 * memory stays for reuse; whole heaps are still unmapped).
	 */
	if (mallopt(M_TRIM_THRESHOLD, INT_MAX) != 1)
		kv_debug("seccomp: mallopt(M_TRIM_THRESHOLD) not supported by this allocator");
	/*
	 * JSON log lines use strftime, which loads the time zone (openat of
	 * /etc/localtime) the first time; later calls reuse it while TZ is
	 * unchanged.  Load it now (unit test "JSON and text log lines").
	 */
	tzset();
	struct sigaction sa = { .sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return kv_err_errno(err, "seccomp: sigaction(SIGSYS)");
	kv_thread_set_enter_hook(enter_hook);
	return 0;
}
