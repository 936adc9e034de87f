/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one wrapper around liburing (house rule 3): errors come back as
 * -errno, completions are reported through an eventfd registered with the
 * ring, so the ring plugs into any poll loop.
 */
#ifndef KVIRT_URING_H
#define KVIRT_URING_H

#include <stdint.h>
#include <sys/uio.h>

struct kv_uring;

enum kv_uring_op { KV_URING_READV, KV_URING_WRITEV, KV_URING_FDATASYNC, KV_URING_FALLOCATE };

/* A ring of `entries`; completions signal `efd`. -EPERM/-ENOSYS: io_uring unavailable. */
int kv_uring_create(unsigned entries, int efd, struct kv_uring **out);
void kv_uring_destroy(struct kv_uring *u);
/*
 * Queue one operation (not yet submitted).  For FALLOCATE, `len` is the
 * length and `mode` the fallocate mode.  -EBUSY when the submission queue
 * is full: submit and retry.
 */
int kv_uring_queue(struct kv_uring *u, enum kv_uring_op op, int fd, const struct iovec *iov,
		   unsigned niov, uint64_t off, uint64_t len, int mode, void *user);
/* Submit everything queued in one system call. */
int kv_uring_submit(struct kv_uring *u);
/* Call `done(user, res, ctx)` for every completion available; returns how many. */
int kv_uring_reap(struct kv_uring *u, void (*done)(void *user, int res, void *ctx), void *ctx);

#endif
