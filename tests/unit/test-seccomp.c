/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp allow-lists (vmm/seccomp.c): every case runs in a forked child that
 * installs a thread kind's filter, then makes allowed and forbidden calls.
 * A forbidden call must end the child with status 159 and a stderr line
 * naming the syscall; allowed calls must not.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvirt/err.h"
#include "kvirt/log.h"
#include "tap.h"
#include "vmm_seccomp.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

struct child_result {
	int status;
	char out[1024];
};

static void *thread_nop(void *arg)
{
	return NULL;
}

/*
 * Run fn() in a child with the filter of `kind`; collect status + stderr.
 * As in kvirt-vmm (whose main thread creates the vCPU threads before any
 * filter), a first thread is created before the filter: glibc's one-time
 * setup for threads (rt_sigaction) happens then.
 */
static void run_child(enum kv_thread_kind kind, void (*fn)(void), struct child_result *res)
{
	int p[2];
	memset(res, 0, sizeof(*res));
	if (pipe2(p, O_CLOEXEC) < 0) {
		res->status = -1;
		return;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		pthread_t t;
		if (pthread_create(&t, NULL, thread_nop, NULL) == 0)
			pthread_join(t, NULL);
		struct kv_err *err = NULL;
		if (vmm_seccomp_init(true, &err) < 0 || vmm_seccomp_apply(kind, &err) < 0) {
			dprintf(STDERR_FILENO, "setup: %s\n", kv_err_msg(err));
			_exit(2);
		}
		fn();
		/* Straight to the kernel: a sanitizer's exit path needs sigaltstack. */
		syscall(SYS_exit_group, 0);
	}
	close(p[1]);
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(res->out) - 1 &&
	       (r = read(p[0], res->out + n, sizeof(res->out) - 1 - n)) > 0)
		n += (size_t)r;
	close(p[0]);
	res->out[strcspn(res->out, "\n")] = 0;
	waitpid(pid, &res->status, 0);
}

static bool exited_with(const struct child_result *r, int code)
{
	return WIFEXITED(r->status) && WEXITSTATUS(r->status) == code;
}

static void do_openat(void)
{
	int fd = openat(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
}

static void do_allowed_io(void)
{
	char buf[8];
	struct iovec iov = { buf, sizeof(buf) };
	if (preadv(-1, &iov, 1, 0) >= 0 || errno != EBADF)
		_exit(3);
	if (fdatasync(-1) == 0 || errno != EBADF)
		_exit(4);
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		_exit(5);
	munmap(m, 4096);
	free(malloc(1 << 20));
}

static void do_exec_mapping(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void do_kvm_run(void)
{
	ioctl(-1, KVM_RUN, 0);
}

static void do_irq_line(void)
{
	struct kvm_irq_level irq = { 0 };
	if (ioctl(-1, KVM_IRQ_LINE, &irq) == 0 || errno != EBADF)
		_exit(3);
	/* Teardown deassigns the queues' ioeventfds from the main thread. */
	struct kvm_ioeventfd io = { .flags = KVM_IOEVENTFD_FLAG_DEASSIGN };
	if (ioctl(-1, KVM_IOEVENTFD, &io) == 0 || errno != EBADF)
		_exit(4);
}

static void do_fork(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
}

static void do_execve(void)
{
	static char arg0[] = "true";
	char *const argv[] = { arg0, NULL };
	execve("/bin/true", argv, argv + 1);
}

#ifndef UNDER_SANITIZER
static void *thread_io(void *arg)
{
	kv_thread_enter(KV_THREAD_IO);
	/* The I/O list has no KVM_RUN even though the vCPU's has. */
	do_kvm_run();
	return NULL;
}

#define MALLOC_THREADS 16
static pthread_barrier_t malloc_barrier;

static void *thread_malloc(void *arg)
{
	kv_thread_enter(KV_THREAD_IO);
	/*
	 * Each thread's first malloc takes an arena; beyond 8 arenas glibc
	 * computes its limit from the CPU count (opening a /sys file) unless
	 * told the limit beforehand.  All stay alive so no arena is reused.
	 */
	void *volatile p = malloc(100);
	pthread_barrier_wait(&malloc_barrier);
	free(p);
	return NULL;
}

static void do_vcpu_thread_mallocs(void)
{
	pthread_t t[MALLOC_THREADS];
	pthread_barrier_init(&malloc_barrier, NULL, MALLOC_THREADS);
	for (int i = 0; i < MALLOC_THREADS; i++)
		if (pthread_create(&t[i], NULL, thread_malloc, NULL) != 0)
			_exit(3);
	for (int i = 0; i < MALLOC_THREADS; i++)
		pthread_join(t[i], NULL);
}

static void *thread_frees(void *arg)
{
	(void)arg;
	kv_thread_enter(KV_THREAD_IO);
	/*
	 * Grow this thread's arena heap by a few MiB of heap-sized blocks
	 * (below the mmap threshold), then free them: glibc would shrink the
	 * heap and, the first time, open /proc/sys/vm/overcommit_memory
	 * (bench/blk's QD32 job died of exactly this).
	 */
	enum { N = 256 };
	static void *p[N];
	for (int i = 0; i < N; i++)
		if (!(p[i] = malloc(16 * 1024)))
			_exit(3);
	for (int i = N - 1; i >= 0; i--)
		free(p[i]);
	return NULL;
}

static void do_io_thread_frees(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, thread_frees, NULL) != 0)
		_exit(3);
	pthread_join(t, NULL);
}

static void do_vcpu_spawns_io_thread(void)
{
	/* As a vCPU thread: everything but the kick signal blocked (vcpu.c). */
	sigset_t all;
	sigfillset(&all);
	sigdelset(&all, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_t t;
	if (pthread_create(&t, NULL, thread_io, NULL) != 0)
		_exit(3);
	pthread_join(t, NULL);
}
#endif

static void do_log_lines(void)
{
	/* Log lines in both formats after start (strftime may want the time zone). */
	kv_log_set_format(KV_LOG_JSON);
	kv_info("json line %d", 1);
	kv_log_set_format(KV_LOG_TEXT);
	kv_warn("text line: %s", strerror(EIO));
}

static void do_unlink(void)
{
	if (unlink("/nonexistent-kvirt-seccomp-test") == 0 || errno != EPERM)
		_exit(3);
}

static void do_tgkill_other(void)
{
	syscall(SYS_tgkill, 1, 1, 0);
}

int main(void)
{
	struct child_result r;

	run_child(KV_THREAD_VCPU, do_openat, &r);
	ok(exited_with(&r, VMM_EXIT_SECCOMP), "vcpu: openat kills (status 0x%x)", r.status);
	ok(strstr(r.out, "forbidden syscall openat (nr 257)") != NULL,
	   "vcpu: the line names openat: %.200s", r.out);
	ok(strstr(r.out, "(vcpu allow-list)") != NULL, "vcpu: the line names the thread kind");

	run_child(KV_THREAD_IO, do_allowed_io, &r);
	ok(exited_with(&r, 0), "io: preadv, fdatasync, mmap, malloc allowed (status 0x%x) %s",
	   r.status, r.out);
	run_child(KV_THREAD_IO, do_exec_mapping, &r);
	ok(exited_with(&r, VMM_EXIT_SECCOMP) && strstr(r.out, "syscall mmap"),
	   "io: mmap with PROT_EXEC kills: %.200s", r.out);
	run_child(KV_THREAD_IO, do_kvm_run, &r);
	ok(exited_with(&r, VMM_EXIT_SECCOMP) && strstr(r.out, "syscall ioctl"),
	   "io: ioctl KVM_RUN kills: %.200s", r.out);
	run_child(KV_THREAD_MAIN, do_kvm_run, &r);
	ok(exited_with(&r, VMM_EXIT_SECCOMP), "main: ioctl KVM_RUN kills");
	run_child(KV_THREAD_MAIN, do_irq_line, &r);
	ok(exited_with(&r, 0), "main: ioctl KVM_IRQ_LINE, KVM_IOEVENTFD allowed (status 0x%x) %s",
	   r.status, r.out);
	run_child(KV_THREAD_VCPU, do_fork, &r);
	ok(exited_with(&r, VMM_EXIT_SECCOMP) && strstr(r.out, "syscall clone"),
	   "vcpu: fork (clone without CLONE_THREAD) kills: %.200s", r.out);
	run_child(KV_THREAD_MAIN, do_execve, &r);
	ok(exited_with(&r, VMM_EXIT_SECCOMP) && strstr(r.out, "syscall execve"),
	   "main: execve kills: %.200s", r.out);
	run_child(KV_THREAD_VCPU, do_log_lines, &r);
	ok(exited_with(&r, 0) && strstr(r.out, "json line 1"),
	   "vcpu: JSON and text log lines (status 0x%x) %s", r.status, r.out);
	run_child(KV_THREAD_MAIN, do_unlink, &r);
	ok(exited_with(&r, 0), "main: unlink fails with EPERM, not fatal (status 0x%x) %s",
	   r.status, r.out);
	run_child(KV_THREAD_MAIN, do_tgkill_other, &r);
	ok(exited_with(&r, VMM_EXIT_SECCOMP) && strstr(r.out, "syscall tgkill"),
	   "main: tgkill of another process kills: %.200s", r.out);
#ifdef UNDER_SANITIZER
	/* ASan's thread start needs sigaltstack, which no list allows (on purpose). */
	ok(1, "# SKIP vcpu thread creation under a sanitizer build");
	ok(1, "# SKIP vcpu thread creation under a sanitizer build");
	ok(1, "# SKIP vcpu thread creation under a sanitizer build");
#else
	run_child(KV_THREAD_VCPU, do_vcpu_thread_mallocs, &r);
	ok(exited_with(&r, 0),
	   "16 threads created under the vcpu list malloc in new arenas (status 0x%x) %s", r.status,
	   r.out);
	run_child(KV_THREAD_VCPU, do_io_thread_frees, &r);
	ok(exited_with(&r, 0),
	   "an io thread frees MiBs of its arena: no heap trim, no openat "
	   "(status 0x%x) %s",
	   r.status, r.out);
	run_child(KV_THREAD_VCPU, do_vcpu_spawns_io_thread, &r);
	ok(exited_with(&r, VMM_EXIT_SECCOMP) && strstr(r.out, "syscall ioctl") &&
	       strstr(r.out, "(io allow-list)"),
	   "vcpu creates a thread (clone3 -> ENOSYS -> clone); it narrows to the io list: "
	   "%.200s",
	   r.out);
#endif
	return tap_done();
}
