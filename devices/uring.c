/* SPDX-License-Identifier: Apache-2.0 */
#include "kvirt/uring.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

struct kv_uring {
	struct io_uring ring;
};

int kv_uring_create(unsigned entries, int efd, struct kv_uring **out)
{
	struct kv_uring *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	/*
	 * The ring starts disabled so that it can be restricted to the four
	 * operations the disk backend submits before anything runs on it:
	 * seccomp cannot see inside io_uring_enter, so without this a
	 * compromised VMM could open files (IORING_OP_OPENAT) through the ring.
	 */
	int r = io_uring_queue_init(entries, &u->ring, IORING_SETUP_R_DISABLED);
	if (r < 0) {
		free(u);
		return r;
	}
	struct io_uring_restriction res[] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FALLOCATE },
	};
	r = io_uring_register_eventfd(&u->ring, efd);
	/* Debian's liburing 2.3 does not export io_uring_register_restrictions(). */
	if (r >= 0 && syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_RESTRICTIONS,
			      res, 4) < 0)
		r = -errno;
	if (r >= 0 && syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
			      NULL, 0) < 0)
		r = -errno;
	if (r < 0) {
		io_uring_queue_exit(&u->ring);
		free(u);
		return r;
	}
	*out = u;
	return 0;
}

void kv_uring_destroy(struct kv_uring *u)
{
	if (!u)
		return;
	io_uring_queue_exit(&u->ring);
	free(u);
}

int kv_uring_queue(struct kv_uring *u, enum kv_uring_op op, int fd, const struct iovec *iov,
		   unsigned niov, uint64_t off, uint64_t len, int mode, void *user)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	if (!sqe)
		return -EBUSY;
	switch (op) {
	case KV_URING_READV: io_uring_prep_readv(sqe, fd, iov, niov, off); break;
	case KV_URING_WRITEV: io_uring_prep_writev(sqe, fd, iov, niov, off); break;
	case KV_URING_FDATASYNC: io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC); break;
	case KV_URING_FALLOCATE: io_uring_prep_fallocate(sqe, fd, mode, off, len); break;
	}
	io_uring_sqe_set_data(sqe, user);
	return 0;
}

int kv_uring_submit(struct kv_uring *u)
{
	int r;
	do
		r = io_uring_submit(&u->ring);
	while (r == -EINTR);
	return r < 0 ? r : 0;
}

int kv_uring_reap(struct kv_uring *u, void (*done)(void *user, int res, void *ctx), void *ctx)
{
	struct io_uring_cqe *cqe;
	int n = 0;
	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		void *user = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&u->ring, cqe);
		done(user, res, ctx);
		n++;
	}
	return n;
}
