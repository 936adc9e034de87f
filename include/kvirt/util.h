/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by every component. */
#ifndef KVIRT_UTIL_H
#define KVIRT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Format into freshly allocated memory; NULL on ENOMEM (errno set). */
char *kv_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t kv_now_ns(void);

/* Parse a decimal/hex unsigned integer, rejecting junk, signs and overflow. */
int kv_parse_u64(const char *s, uint64_t *out);

/*
 * Parse a size with an optional binary suffix: "128M", "1G", "4096", "2Gi",
 * "512MiB".  Kubernetes quantities with decimal suffixes ("64M" in
 * Kubernetes means 64*10^6) are parsed by the model code, not here: this is
 * for command-line flags, where K/M/G are powers of 1024 as in QEMU.
 */
int kv_parse_size(const char *s, uint64_t *out);

/* Write all of buf, retrying on EINTR and short writes. */
int kv_write_all(int fd, const void *buf, size_t len);
/* Read a whole (small) file into a NUL-terminated buffer (max `limit` bytes). */
int kv_read_file(const char *path, size_t limit, char **out, size_t *out_len);
struct kv_err;
/* kv_read_file() whose failures are reported in `err`, naming the file. */
int kv_read_file_err(const char *path, size_t limit, char **out, size_t *out_len,
		     struct kv_err **err);

static inline bool kv_add_overflows_u64(uint64_t a, uint64_t b, uint64_t *sum)
{
	return __builtin_add_overflow(a, b, sum);
}

/*
 * A listening AF_UNIX stream socket at `path` (non-blocking, close-on-exec).
 * With replace_stale, a socket file already there (left by an earlier run)
 * is removed first; any other kind of file is never touched.  Errors start
 * with `what` and name the path.  Returns the fd.
 */
int kv_unix_listen(const char *path, int backlog, bool replace_stale, const char *what,
		   struct kv_err **err);
/* Connect to the AF_UNIX stream socket at `path` (blocking, close-on-exec); fd or -errno. */
int kv_unix_connect(const char *path);

#endif
