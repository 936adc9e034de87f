/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scope-bound ownership (house rule 2).  Every fd, allocation, mapping and
 * child pid lives in a variable carrying one of these attributes; ownership
 * is handed on with TAKE_PTR()/TAKE_FD(), which leave the old holder empty so
 * its destructor becomes a no-op.  Destructors accept "empty" values (NULL,
 * -1, MAP_FAILED) so half-built objects are always safe to drop.
 */
#ifndef KVIRT_CLEANUP_H
#define KVIRT_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

/* Move a pointer out of a cleanup variable: returns it, leaves NULL behind. */
#define TAKE_PTR(p)                       \
	({                                \
		__typeof__(p) _tp_ = (p); \
		(p) = NULL;               \
		_tp_;                     \
	})

/* Move an fd out of a cleanup variable: returns it, leaves -1 behind. */
#define TAKE_FD(fd)              \
	({                       \
		int _tf_ = (fd); \
		(fd) = -1;       \
		_tf_;            \
	})

static inline void kv_freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(kv_freep)

/* close() that keeps errno: cleanup runs on error paths that still need it. */
static inline int kv_close_safe(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

static inline void kv_closep(int *fd)
{
	*fd = kv_close_safe(*fd);
}
#define _cleanup_close_ _cleanup_(kv_closep)

static inline void kv_fclosep(FILE **f)
{
	if (*f) {
		int saved = errno;
		fclose(*f);
		errno = saved;
		*f = NULL;
	}
}
#define _cleanup_fclose_ _cleanup_(kv_fclosep)

/* A mapping is a (pointer, length) pair; both travel together. */
struct kv_mapping {
	void *addr; /* MAP_FAILED or NULL when empty */
	size_t len;
};
#define KV_MAPPING_EMPTY ((struct kv_mapping){ .addr = MAP_FAILED, .len = 0 })

static inline void kv_munmapp(struct kv_mapping *m)
{
	if (m->addr != MAP_FAILED && m->addr != NULL && m->len) {
		int saved = errno;
		munmap(m->addr, m->len);
		errno = saved;
	}
	*m = KV_MAPPING_EMPTY;
}
#define _cleanup_munmap_ _cleanup_(kv_munmapp)

/* A child pid that must not outlive its owner: SIGKILL and reap on scope exit. */
void kv_pid_killp(pid_t *pid);
#define _cleanup_kill_pid_ _cleanup_(kv_pid_killp)
#define TAKE_PID(p)                 \
	({                          \
		pid_t _tpid_ = (p); \
		(p) = 0;            \
		_tpid_;             \
	})

/* Free a NULL-terminated array of strings and the array itself. */
void kv_strv_free(char **v);
static inline void kv_strv_freep(char ***v)
{
	kv_strv_free(*v);
	*v = NULL;
}
#define _cleanup_strv_free_ _cleanup_(kv_strv_freep)

#define KV_ARRAY_SIZE(a)                                                                           \
	(sizeof(a) / sizeof((a)[0]) +                                                              \
	 0 * sizeof(struct {                                                                       \
		 _Static_assert(!__builtin_types_compatible_p(__typeof__(a), __typeof__(&(a)[0])), \
				"not an array");                                                   \
		 int x;                                                                            \
	 }))

#endif
