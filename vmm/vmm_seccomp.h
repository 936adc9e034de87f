/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp allow-lists per thread kind of kvirt-vmm (the only file that uses
 * libseccomp).  The table and the reasons for each entry: vmm/seccomp.c and
 * docs/security.md.
 */
#ifndef KVIRT_VMM_SECCOMP_H
#define KVIRT_VMM_SECCOMP_H

#include <stdbool.h>

#include "kvirt/err.h"
#include "kvirt/thread.h"

/* Exit status when a thread made a syscall outside its list (128 + SIGSYS). */
#define VMM_EXIT_SECCOMP 159

/*
 * Prepare: resolve syscall names for the SIGSYS reporter, install it, and
 * register the thread-entry hook so every thread kind installs its filter
 * (kv_thread_enter()).  enabled=false only logs a loud warning.
 */
int vmm_seccomp_init(bool enabled, struct kv_err **err);

/* on_reboot=restart: the main thread may also reset the guest (reset.c). */
void vmm_seccomp_allow_reset(bool on);

/* Install the allow-list of `kind` on the calling thread (no TSYNC). */
int vmm_seccomp_apply(enum kv_thread_kind kind, struct kv_err **err);

/* Name of a thread kind ("main", "vcpu", "io"). */
const char *vmm_seccomp_kind_name(enum kv_thread_kind kind);

#endif
