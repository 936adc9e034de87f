/* SPDX-License-Identifier: Apache-2.0 */
#include "kvirt/thread.h"

#include <pthread.h>
#include <sched.h>
#include <stddef.h>

static kv_thread_hook_fn enter_hook;

void kv_thread_set_enter_hook(kv_thread_hook_fn fn)
{
	__atomic_store_n(&enter_hook, fn, __ATOMIC_RELEASE);
}

void kv_thread_enter(enum kv_thread_kind kind)
{
	kv_thread_hook_fn fn = __atomic_load_n(&enter_hook, __ATOMIC_ACQUIRE);
	if (fn)
		fn(kind);
}

void kv_thread_io_setup(const char *name)
{
	struct sched_param sp = { .sched_priority = 0 };
	(void)pthread_setname_np(pthread_self(), name);
	(void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
}
