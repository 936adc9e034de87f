/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Thread kinds and the thread-entry hook.  Every long-lived thread of
 * kvirt-vmm calls kv_thread_enter() with its kind as its first action; the
 * VMM registers a hook that installs that kind's seccomp allow-list
 * (vmm/seccomp.c).  Libraries (devices/) only call kv_thread_enter(), so
 * they do not depend on the VMM; without a hook it does nothing (unit tests).
 */
#ifndef KVIRT_THREAD_H
#define KVIRT_THREAD_H

enum kv_thread_kind {
	KV_THREAD_MAIN, /* main thread: event loop, console, control socket */
	KV_THREAD_VCPU, /* vCPU thread: KVM_RUN and the device emulation it drives */
	KV_THREAD_IO,	/* device I/O thread: virtqueue worker, disk backend pool */
	KV_THREAD_KINDS
};

/* The hook must not return on failure (it fails closed, e.g. by exiting). */
typedef void (*kv_thread_hook_fn)(enum kv_thread_kind kind);

void kv_thread_set_enter_hook(kv_thread_hook_fn fn);
void kv_thread_enter(enum kv_thread_kind kind);

/*
 * Names the calling I/O thread (for top/perf) and moves it to SCHED_BATCH:
 * a kick or a completion then wakes it without preempting a running vCPU
 * thread on the same CPU, so work piles up while the vCPU runs and goes
 * out as one batch (one interrupt) instead of one per request.  On an idle
 * CPU nothing changes.  Best effort: on failure the thread keeps its name
 * and SCHED_OTHER.
 */
void kv_thread_io_setup(const char *name);

#endif
