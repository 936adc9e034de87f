/* SPDX-License-Identifier: Apache-2.0 */
#include "kvirt/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Allocation failure while recording an error must not lose the error
 * itself: fall back to a static record holding only the code.
 */
static char oom_msg[] = "out of memory while reporting an error";
static struct kv_err oom_err = { .code = ENOMEM, .msg = oom_msg };

static int norm(int code)
{
	if (code < 0)
		code = -code;
	return code ? code : EIO;
}

int kv_err_setv(struct kv_err **err, int code, const char *fmt, va_list ap)
{
	code = norm(code);
	if (!err || *err)
		return -code;
	struct kv_err *e = calloc(1, sizeof(*e));
	if (!e) {
		*err = &oom_err;
		return -code;
	}
	e->code = code;
	if (vasprintf(&e->msg, fmt, ap) < 0) {
		free(e);
		*err = &oom_err;
		return -code;
	}
	*err = e;
	return -code;
}

int kv_err_set(struct kv_err **err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = kv_err_setv(err, code, fmt, ap);
	va_end(ap);
	return r;
}

int kv_err_errno(struct kv_err **err, const char *fmt, ...)
{
	int code = norm(errno);
	if (!err || *err)
		return -code;
	char *what = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (n < 0)
		return kv_err_set(err, code, "%s", strerror(code));
	int r = kv_err_set(err, code, "%s: %s", what, strerror(code));
	free(what);
	return r;
}

void kv_err_prefix(struct kv_err **err, const char *fmt, ...)
{
	if (!err || !*err || *err == &oom_err)
		return;
	char *pre = NULL, *joined = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&pre, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (asprintf(&joined, "%s: %s", pre, (*err)->msg) >= 0) {
		free((*err)->msg);
		(*err)->msg = joined;
	}
	free(pre);
}

const char *kv_err_msg(const struct kv_err *err)
{
	return err ? err->msg : "unknown error";
}

void kv_err_free(struct kv_err *err)
{
	if (!err || err == &oom_err)
		return;
	free(err->msg);
	free(err);
}
