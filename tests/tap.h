/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny TAP producer for meson's `protocol: 'tap'`.  Each check prints
 * "ok N - what" or "not ok N - what" plus the location; tap_done() prints the
 * plan and returns the exit status.  tap_skip_all() exits 77 with a reason,
 * which meson reports as SKIP.
 */
#ifndef KVIRT_TESTS_TAP_H
#define KVIRT_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline __attribute__((format(printf, 4, 0))) void
tap_okv(int cond, const char *file, int line, const char *fmt, va_list ap)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	printf("\n");
	if (!cond)
		printf("# failed at %s:%d\n", file, line);
	fflush(stdout);
}

static inline __attribute__((format(printf, 4, 5))) int tap_ok_at(int cond, const char *file,
								  int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_okv(cond, file, line, fmt, ap);
	va_end(ap);
	return cond;
}

#define ok(cond, ...) tap_ok_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, what)                                          \
	do {                                                             \
		long long _g = (long long)(got), _w = (long long)(want); \
		if (!ok(_g == _w, "%s", what))                           \
			printf("#   got %lld, want %lld\n", _g, _w);     \
	} while (0)
#define is_str(got, want, what)                                                     \
	do {                                                                        \
		const char *_g = (got), *_w = (want);                               \
		if (!ok(_g && _w && !strcmp(_g, _w), "%s", what))                   \
			printf("#   got \"%s\", want \"%s\"\n", _g ? _g : "(null)", \
			       _w ? _w : "(null)");                                 \
	} while (0)

static inline __attribute__((format(printf, 1, 2))) void tap_diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

static inline __attribute__((noreturn)) void tap_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(77);
}

#endif
