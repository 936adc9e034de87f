/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The error type (house rule 1).
 *
 * A fallible function returns int: >= 0 on success, -errno on failure.
 * Where a caller needs to know *what* went wrong beyond an errno, the function
 * also takes `struct kv_err **err` as its last argument.  On failure it sets
 * *err (only if *err is still NULL: the first, most specific error wins and
 * is never overwritten) and returns the same negative code it stored.
 * Callers may add context on the way up with kv_err_prefix().  Only main()
 * or a top-level loop prints the message and decides to exit.
 *
 *	static int load(const char *path, struct kv_err **err)
 *	{
 *		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
 *		if (fd < 0)
 *			return kv_err_errno(err, "cannot open %s", path);
 *		...
 *	}
 */
#ifndef KVIRT_ERR_H
#define KVIRT_ERR_H

#include <stdarg.h>
#include <stddef.h>

struct kv_err {
	int code;  /* positive errno value */
	char *msg; /* human readable, says what to fix; never NULL */
};

/*
 * Record an error with an explicit errno value `code` (positive or negative;
 * the sign is normalized).  Returns -code so it can be returned directly.
 * `err` may be NULL (the caller does not want details).  If *err is already
 * set it is left untouched.
 */
int kv_err_set(struct kv_err **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int kv_err_setv(struct kv_err **err, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Like kv_err_set() with the current errno; appends ": strerror(errno)". */
int kv_err_errno(struct kv_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepend "context: " to an existing error's message.  No-op if none is set. */
void kv_err_prefix(struct kv_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Message of an error or a fallback for a bare code (err may be NULL). */
const char *kv_err_msg(const struct kv_err *err);

void kv_err_free(struct kv_err *err);
static inline void kv_err_freep(struct kv_err **err)
{
	kv_err_free(*err);
	*err = NULL;
}
#define _cleanup_err_ __attribute__((cleanup(kv_err_freep)))

#endif
