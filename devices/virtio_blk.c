/* SPDX-License-Identifier: Apache-2.0 */
#include "kvirt/virtio_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/coalesce.h"
#include "kvirt/log.h"
#include "kvirt/thread.h"
#include "kvirt/uring.h"
#include "kvirt/util.h"
#include "kvirt/virtio.h"

#define VIRTIO_ID_BLOCK		  2
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_MQ		  12
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14
#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK		  0
#define VIRTIO_BLK_S_IOERR	  1
#define VIRTIO_BLK_S_UNSUPP	  2
#define VIRTIO_BLK_ID_BYTES	  20
#define SECTOR			  512
/* Host O_DIRECT memory alignment we insist on; other buffers are bounced. */
#define DIO_ALIGN	4096
#define POOL_THREADS	4
#define BLK_CONFIG_SIZE 60

struct blk_queue;

struct blk_io {
	struct blk_queue *bq;
	struct blk_io *next;
	uint32_t type;
	uint64_t off, len;
	uint64_t t_ns; /* when the request was taken from the ring */
	uint8_t *status;
	uint32_t written;
	void *bounce;
	int res;
	unsigned niov;
	struct iovec iov[VIRTQ_MAX_SEGS];
	struct virtq_req req;
};

struct blk_queue {
	struct virtio_blk *b;
	struct virtio_queue *q;
	pthread_t thread;
	bool running;
	int stop_fd, done_fd;
	unsigned inflight;
	uint64_t now_ns;    /* the queue thread's clock, read once per wake-up */
	uint16_t signalled; /* used index at the last interrupt decision */
	struct kv_coalesce coalesce;
	struct kv_uring *ring;
	/* thread-pool backend */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct blk_io *todo, *done;
	bool pool_exit;
	pthread_t pool[POOL_THREADS];
	unsigned npool;
};

struct virtio_blk {
	struct virtio_pci t;
	int fd;
	bool readonly, is_file, direct, no_coalesce;
	uint64_t capacity; /* sectors */
	char serial[VIRTIO_BLK_ID_BYTES];
	bool use_uring;
	unsigned nqueues, queue_size;
	uint8_t config[BLK_CONFIG_SIZE];
	struct blk_queue queues[VIRTIO_MAX_QUEUES];
};

/* ---------------------------------------------------------------- backends */

static void io_finish(struct blk_io *io, int res);

static void *pool_worker(void *arg)
{
	kv_thread_enter(KV_THREAD_IO);
	struct blk_queue *bq = arg;
	char name[16];
	snprintf(name, sizeof(name), "blk-io%u", bq->q->index);
	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(&bq->lock);
	for (;;) {
		while (!bq->todo && !bq->pool_exit)
			pthread_cond_wait(&bq->cond, &bq->lock);
		if (!bq->todo)
			break;
		struct blk_io *io = bq->todo;
		bq->todo = io->next;
		pthread_mutex_unlock(&bq->lock);
		ssize_t r;
		int fd = bq->b->fd;
		switch (io->type) {
		case VIRTIO_BLK_T_IN: r = preadv(fd, io->iov, (int)io->niov, (off_t)io->off); break;
		case VIRTIO_BLK_T_OUT:
			r = pwritev(fd, io->iov, (int)io->niov, (off_t)io->off);
			break;
		default: r = fdatasync(fd); break;
		}
		io->res = r < 0 ? -errno : (int)r;
		pthread_mutex_lock(&bq->lock);
		io->next = bq->done;
		bq->done = io;
		uint64_t one = 1;
		if (write(bq->done_fd, &one, sizeof(one)) < 0) {
			/* Saturated counter: the queue thread is woken anyway. */
		}
	}
	pthread_mutex_unlock(&bq->lock);
	return NULL;
}

static int pool_start(struct blk_queue *bq)
{
	for (unsigned i = 0; i < POOL_THREADS; i++) {
		if (pthread_create(&bq->pool[i], NULL, pool_worker, bq) != 0)
			return -EAGAIN;
		bq->npool++;
	}
	return 0;
}

static void pool_stop(struct blk_queue *bq)
{
	pthread_mutex_lock(&bq->lock);
	bq->pool_exit = true;
	pthread_cond_broadcast(&bq->cond);
	pthread_mutex_unlock(&bq->lock);
	for (unsigned i = 0; i < bq->npool; i++)
		pthread_join(bq->pool[i], NULL);
	bq->npool = 0;
	bq->pool_exit = false;
}

static void uring_done(void *user, int res, void *ctx)
{
	io_finish(user, res);
}

/* Hand one request to the backend (not yet submitted for io_uring). */
static void backend_queue(struct blk_queue *bq, struct blk_io *io)
{
	bq->inflight++;
	if (!bq->b->use_uring) {
		pthread_mutex_lock(&bq->lock);
		io->next = bq->todo;
		bq->todo = io;
		pthread_cond_signal(&bq->cond);
		pthread_mutex_unlock(&bq->lock);
		return;
	}
	enum kv_uring_op op = io->type == VIRTIO_BLK_T_IN    ? KV_URING_READV
			      : io->type == VIRTIO_BLK_T_OUT ? KV_URING_WRITEV
							     : KV_URING_FDATASYNC;
	int r;
	while ((r = kv_uring_queue(bq->ring, op, bq->b->fd, io->iov, io->niov, io->off, 0, 0,
				   io)) == -EBUSY) {
		if (kv_uring_submit(bq->ring) < 0)
			break;
	}
	if (r < 0)
		io_finish(io, r); /* drops the inflight count taken above */
}

static void backend_reap(struct blk_queue *bq)
{
	if (bq->b->use_uring) {
		kv_uring_reap(bq->ring, uring_done, bq);
		return;
	}
	pthread_mutex_lock(&bq->lock);
	struct blk_io *list = bq->done;
	bq->done = NULL;
	pthread_mutex_unlock(&bq->lock);
	while (list) {
		struct blk_io *next = list->next;
		io_finish(list, list->res);
		list = next;
	}
}

/* ---------------------------------------------------------------- requests */

static void complete(struct blk_io *io, uint8_t status)
{
	struct blk_queue *bq = io->bq;
	if (io->status)
		*io->status = status;
	virtq_push(&bq->q->vq, io->req.head, io->written);
	free(io->bounce);
	free(io);
}

/* Backend completion: `res` bytes transferred or -errno. */
static void io_finish(struct blk_io *io, int res)
{
	struct blk_queue *bq = io->bq;
	bq->inflight--;
	kv_coalesce_latency(&bq->coalesce, bq->now_ns - io->t_ns);
	bool ok = io->type == VIRTIO_BLK_T_FLUSH ? res == 0 : res >= 0 && (uint64_t)res == io->len;
	if (ok && io->bounce && io->type == VIRTIO_BLK_T_IN) {
		/* Scatter the bounce buffer into the guest's writable segments. */
		uint64_t pos = 0;
		for (unsigned s = io->req.nread; s < io->req.nseg && pos < io->len; s++) {
			uint64_t n = io->req.seg[s].len;
			if (n > io->len - pos)
				n = io->len - pos;
			memcpy(io->req.seg[s].ptr, (uint8_t *)io->bounce + pos, n);
			pos += n;
		}
	}
	if (io->type == VIRTIO_BLK_T_IN && ok)
		io->written = (uint32_t)io->len + 1;
	complete(io, ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
}

/* Copy `n` bytes starting `skip` bytes into the readable part of the chain. */
static bool gather(const struct virtq_req *req, uint64_t skip, void *dst, size_t n)
{
	uint8_t *out = dst;
	for (unsigned s = 0; s < req->nread && n; s++) {
		uint64_t len = req->seg[s].len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		uint64_t c = len - skip < n ? len - skip : n;
		memcpy(out, req->seg[s].ptr + skip, c);
		out += c;
		n -= c;
		skip = 0;
	}
	return n == 0;
}

/*
 * The data iovecs: readable bytes after the 16-byte header (OUT) or
 * writable bytes before the status byte (IN).
 */
static bool build_iov(struct blk_io *io, bool in)
{
	const struct virtq_req *req = &io->req;
	uint64_t skip = in ? 0 : 16;
	uint64_t want = in ? req->write_len - 1 : req->read_len - 16;
	unsigned first = in ? req->nread : 0, last = in ? req->nseg : req->nread;
	io->niov = 0;
	io->len = want;
	for (unsigned s = first; s < last && want; s++) {
		uint64_t len = req->seg[s].len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		uint64_t n = len - skip < want ? len - skip : want;
		io->iov[io->niov++] = (struct iovec){ req->seg[s].ptr + skip, n };
		want -= n;
		skip = 0;
	}
	return want == 0;
}

static bool iov_aligned(const struct blk_io *io)
{
	for (unsigned i = 0; i < io->niov; i++)
		if (((uintptr_t)io->iov[i].iov_base | io->iov[i].iov_len) & (DIO_ALIGN - 1))
			return false;
	return true;
}

/* Misaligned buffers under O_DIRECT go through one aligned bounce buffer. */
static int bounce(struct blk_io *io, bool in)
{
	if (posix_memalign(&io->bounce, DIO_ALIGN,
			   (io->len + DIO_ALIGN - 1) & ~(uint64_t)(DIO_ALIGN - 1)))
		return -ENOMEM;
	if (!in) {
		uint64_t pos = 0;
		for (unsigned i = 0; i < io->niov; i++) {
			memcpy((uint8_t *)io->bounce + pos, io->iov[i].iov_base,
			       io->iov[i].iov_len);
			pos += io->iov[i].iov_len;
		}
	}
	io->iov[0] = (struct iovec){ io->bounce, io->len };
	io->niov = 1;
	return 0;
}

/* DISCARD / WRITE_ZEROES: one segment {sector, num_sectors, flags}, done inline. */
static uint8_t discard(struct virtio_blk *b, struct blk_io *io)
{
	if (b->readonly || !b->is_file)
		return VIRTIO_BLK_S_IOERR;
	struct {
		uint64_t sector;
		uint32_t num, flags;
	} seg;
	if (io->req.read_len != 16 + sizeof(seg) || !gather(&io->req, 16, &seg, sizeof(seg)))
		return VIRTIO_BLK_S_UNSUPP;
	if (seg.sector > b->capacity || seg.num > b->capacity - seg.sector)
		return VIRTIO_BLK_S_IOERR;
	int mode = io->type == VIRTIO_BLK_T_DISCARD || (seg.flags & 1)
		       ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
		       : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	if (fallocate(b->fd, mode, (off_t)seg.sector * SECTOR, (off_t)seg.num * SECTOR) < 0)
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

static void handle_request(struct blk_queue *bq, struct blk_io *io)
{
	struct virtio_blk *b = bq->b;
	struct virtq_req *req = &io->req;
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr;
	io->bq = bq;
	io->t_ns = bq->now_ns;
	io->written = 0;
	if (req->write_len < 1) {
		complete(io, 0); /* no status byte to write: the driver broke the protocol */
		return;
	}
	const struct virtq_seg *ls = &req->seg[req->nseg - 1];
	io->status = ls->ptr + ls->len - 1;
	io->written = 1;
	if (!gather(req, 0, &hdr, sizeof(hdr))) {
		complete(io, VIRTIO_BLK_S_IOERR);
		return;
	}
	io->type = hdr.type;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool in = hdr.type == VIRTIO_BLK_T_IN;
		if ((!in && b->readonly) || !build_iov(io, in) || io->len % SECTOR ||
		    hdr.sector > b->capacity || io->len / SECTOR > b->capacity - hdr.sector) {
			complete(io, VIRTIO_BLK_S_IOERR);
			return;
		}
		io->off = hdr.sector * SECTOR;
		if (io->len == 0) {
			complete(io, VIRTIO_BLK_S_OK);
			return;
		}
		if (b->direct && !iov_aligned(io) && bounce(io, in) < 0) {
			complete(io, VIRTIO_BLK_S_IOERR);
			return;
		}
		backend_queue(bq, io);
		return;
	}
	case VIRTIO_BLK_T_FLUSH:
		io->niov = 0;
		backend_queue(bq, io);
		return;
	case VIRTIO_BLK_T_GET_ID: {
		uint64_t room = req->write_len - 1, pos = 0;
		uint64_t n = room < VIRTIO_BLK_ID_BYTES ? room : VIRTIO_BLK_ID_BYTES;
		for (unsigned s = req->nread; s < req->nseg && pos < n; s++) {
			uint64_t c = req->seg[s].len < n - pos ? req->seg[s].len : n - pos;
			memcpy(req->seg[s].ptr, b->serial + pos, c);
			pos += c;
		}
		io->written = (uint32_t)n + 1;
		complete(io, VIRTIO_BLK_S_OK);
		return;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: complete(io, discard(b, io)); return;
	default: complete(io, VIRTIO_BLK_S_UNSUPP); return;
	}
}

/* Take every available request; false when the ring is broken. */
static bool process_queue(struct blk_queue *bq)
{
	struct virtq *vq = &bq->q->vq;
	for (;;) {
		virtq_disable_notify(vq);
		for (;;) {
			struct blk_io *io = malloc(sizeof(*io));
			if (!io)
				return true; /* retried on the next kick or completion */
			io->bounce = NULL;
			int r = virtq_pop(vq, &io->req);
			if (r <= 0) {
				free(io);
				if (r < 0) {
					kv_warn("virtio-blk: queue %u: malformed descriptor chain; "
						"device needs reset",
						bq->q->index);
					return false;
				}
				break;
			}
			handle_request(bq, io);
		}
		if (!virtq_enable_notify(vq))
			break;
	}
	if (bq->b->use_uring)
		kv_uring_submit(bq->ring);
	return true;
}

static void drain_fd(int fd)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to drain. */
	}
}

/*
 * Interrupt the guest for what completed, unless kvirt/coalesce.h says to
 * hold it a little longer for more completions.  Returns the hold in ns
 * (0: signalled, or nothing to signal).
 */
static uint64_t signal_completions(struct blk_queue *bq, bool now)
{
	uint16_t done = (uint16_t)(bq->q->vq.used_idx - bq->signalled);
	uint64_t hold = now || bq->b->no_coalesce
			    ? 0
			    : kv_coalesce_hold(&bq->coalesce, done, bq->inflight, bq->now_ns);
	if (hold)
		return hold;
	bq->coalesce.holding = false;
	if (done) {
		bq->signalled = bq->q->vq.used_idx;
		virtio_queue_interrupt(bq->q);
	}
	return 0;
}

static void *queue_thread(void *arg)
{
	kv_thread_enter(KV_THREAD_IO);
	struct blk_queue *bq = arg;
	char name[16];
	snprintf(name, sizeof(name), "blk-q%u", bq->q->index);
	/* SCHED_BATCH (bench/blk: ~20 I/Os per interrupt instead of ~1.4). */
	kv_thread_io_setup(name);
	bool broken = false, stopping = false;
	struct pollfd p[3] = {
		{ .fd = bq->q->kick_fd, .events = POLLIN },
		{ .fd = bq->done_fd, .events = POLLIN },
		{ .fd = bq->stop_fd, .events = POLLIN },
	};
	bq->signalled = bq->q->vq.used_idx;
	bq->coalesce = (struct kv_coalesce){ 0 };
	/* Requests queued before DRIVER_OK (or before the thread ran) are picked up now. */
	bq->now_ns = kv_now_ns();
	broken = !process_queue(bq);
	if (broken)
		virtio_pci_needs_reset(&bq->b->t);
	uint64_t hold = signal_completions(bq, broken);
	while (!stopping || bq->inflight) {
		struct timespec ts = { .tv_sec = (time_t)(hold / 1000000000u),
				       .tv_nsec = (long)(hold % 1000000000u) };
		int n = ppoll(p, stopping ? 2 : 3, hold ? &ts : NULL, NULL);
		bq->now_ns = kv_now_ns();
		if (n < 0)
			continue;
		if (p[2].revents & POLLIN)
			stopping = true;
		if (p[1].revents & POLLIN) {
			drain_fd(bq->done_fd);
			backend_reap(bq);
		}
		if (p[0].revents & POLLIN) {
			drain_fd(bq->q->kick_fd);
			if (!broken && !stopping) {
				broken = !process_queue(bq);
				if (broken)
					virtio_pci_needs_reset(&bq->b->t);
			}
		}
		hold = signal_completions(bq, stopping || broken);
		if (stopping)
			p[0].events = 0;
	}
	return NULL;
}

/* ---------------------------------------------------------------- device ops */

static void blk_config_read(void *dev, uint64_t off, void *data, unsigned len)
{
	struct virtio_blk *b = dev;
	memset(data, 0, len);
	if (off < BLK_CONFIG_SIZE && len <= BLK_CONFIG_SIZE - off)
		memcpy(data, b->config + off, len);
}

static void blk_stop(void *dev)
{
	struct virtio_blk *b = dev;
	for (unsigned i = 0; i < b->nqueues; i++) {
		struct blk_queue *bq = &b->queues[i];
		if (!bq->running)
			continue;
		uint64_t one = 1;
		if (write(bq->stop_fd, &one, sizeof(one)) < 0) {
			/* Cannot fail for a fresh counter. */
		}
		pthread_join(bq->thread, NULL);
		drain_fd(bq->stop_fd);
		if (!b->use_uring)
			pool_stop(bq);
		bq->running = false;
	}
}

static int blk_start(void *dev, struct kv_err **err)
{
	struct virtio_blk *b = dev;
	for (unsigned i = 0; i < b->nqueues; i++) {
		struct blk_queue *bq = &b->queues[i];
		if (!bq->q->enabled)
			continue;
		if (!b->use_uring && pool_start(bq) < 0) {
			pool_stop(bq);
			return kv_err_set(err, EAGAIN, "virtio-blk: cannot start I/O threads");
		}
		if (pthread_create(&bq->thread, NULL, queue_thread, bq) != 0) {
			if (!b->use_uring)
				pool_stop(bq);
			return kv_err_set(err, EAGAIN, "virtio-blk: cannot start queue thread");
		}
		bq->running = true;
	}
	return 0;
}

static const struct virtio_device_ops blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.pci_class = 0x0100,
	.config_read = blk_config_read,
	.start = blk_start,
	.stop = blk_stop,
};

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int open_backend(struct virtio_blk *b, const struct virtio_blk_config *cfg,
			struct kv_err **err)
{
	bool want_uring = cfg->backend != BLK_BACKEND_THREADS;
	for (unsigned i = 0; i < b->nqueues; i++) {
		struct blk_queue *bq = &b->queues[i];
		bq->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		bq->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (bq->done_fd < 0 || bq->stop_fd < 0)
			return kv_err_errno(err, "virtio-blk: eventfd");
		if (!want_uring)
			continue;
		int r = kv_uring_create(b->queue_size, bq->done_fd, &bq->ring);
		if (r < 0) {
			if (cfg->backend == BLK_BACKEND_IO_URING) {
				errno = -r;
				return kv_err_errno(
				    err, "disk %s: backend=io_uring: cannot set up a ring",
				    cfg->path);
			}
			kv_info("disk %s: io_uring unavailable (%s); using the thread pool",
				cfg->path, strerror(-r));
			want_uring = false;
			for (unsigned j = 0; j < i; j++) {
				kv_uring_destroy(b->queues[j].ring);
				b->queues[j].ring = NULL;
			}
		}
	}
	b->use_uring = want_uring;
	kv_info("disk %s: %u queue(s) of %u, backend %s%s%s%s", cfg->path, b->nqueues,
		b->queue_size, b->use_uring ? "io_uring" : "threads",
		cfg->direct ? ", cache=none" : "", b->readonly ? ", read-only" : "",
		b->no_coalesce ? ", coalesce=off" : "");
	return 0;
}

int virtio_blk_create(const struct virtio_blk_config *cfg, const struct dev_host *host,
		      const struct guest_mem *mem, struct virtio_blk **out, struct kv_err **err)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	if (!b)
		return kv_err_set(err, ENOMEM, "virtio-blk: out of memory");
	b->fd = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		b->queues[i].done_fd = b->queues[i].stop_fd = -1;
		pthread_mutex_init(&b->queues[i].lock, NULL);
		pthread_cond_init(&b->queues[i].cond, NULL);
	}
	b->nqueues = cfg->queues ? cfg->queues : 1;
	if (b->nqueues > VIRTIO_MAX_QUEUES - 1)
		b->nqueues = VIRTIO_MAX_QUEUES - 1;
	b->queue_size = cfg->queue_size ? cfg->queue_size : 256;
	b->readonly = cfg->readonly;
	b->direct = cfg->direct;
	b->no_coalesce = cfg->no_coalesce;
	int flags = (cfg->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (cfg->direct ? O_DIRECT : 0);
	int r;
	b->fd = open(cfg->path, flags);
	if (b->fd < 0) {
		r = kv_err_errno(err, "disk %s: cannot open", cfg->path);
		goto fail;
	}
	struct stat st;
	if (fstat(b->fd, &st) < 0) {
		r = kv_err_errno(err, "disk %s: cannot stat", cfg->path);
		goto fail;
	}
	uint64_t bytes = (uint64_t)st.st_size;
	b->is_file = S_ISREG(st.st_mode);
	if (S_ISBLK(st.st_mode) && ioctl(b->fd, BLKGETSIZE64, &bytes) < 0) {
		r = kv_err_errno(err, "disk %s: BLKGETSIZE64", cfg->path);
		goto fail;
	}
	b->capacity = bytes / SECTOR;
	/* The id is 20 bytes, NUL-padded, not NUL-terminated when full. */
	if (cfg->serial)
		memcpy(b->serial, cfg->serial, strnlen(cfg->serial, sizeof(b->serial)));

	uint64_t features = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
			    1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_MQ;
	if (b->readonly)
		features |= 1ull << VIRTIO_BLK_F_RO;
	if (b->is_file && !b->readonly)
		features |= 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	put_le(b->config + 0, b->capacity, 8);
	put_le(b->config + 12, VIRTQ_MAX_SEGS - 2, 4); /* seg_max: header and status excluded */
	put_le(b->config + 20, SECTOR, 4);	       /* blk_size */
	put_le(b->config + 34, b->nqueues, 2);
	put_le(b->config + 36, 1u << 22, 4); /* max_discard_sectors: 2 GiB */
	put_le(b->config + 40, 1, 4);	     /* max_discard_seg */
	put_le(b->config + 44, 8, 4);	     /* discard_sector_alignment: 4 KiB */
	put_le(b->config + 48, 1u << 22, 4); /* max_write_zeroes_sectors */
	put_le(b->config + 52, 1, 4);	     /* max_write_zeroes_seg */

	r = virtio_pci_init(&b->t, &blk_ops, b, features, b->nqueues, (uint16_t)b->queue_size, host,
			    mem, err);
	if (r < 0)
		goto fail;
	for (unsigned i = 0; i < b->nqueues; i++) {
		b->queues[i].b = b;
		b->queues[i].q = &b->t.queues[i];
	}
	r = open_backend(b, cfg, err);
	if (r < 0)
		goto fail;
	*out = b;
	return 0;
fail:
	virtio_blk_destroy(b);
	return r;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	virtio_pci_destroy(&b->t); /* stops the queue threads */
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct blk_queue *bq = &b->queues[i];
		kv_uring_destroy(bq->ring);
		kv_close_safe(bq->done_fd);
		kv_close_safe(bq->stop_fd);
		pthread_mutex_destroy(&bq->lock);
		pthread_cond_destroy(&bq->cond);
	}
	kv_close_safe(b->fd);
	free(b);
}

struct pci_device *virtio_blk_pci(struct virtio_blk *b)
{
	return &b->t.pci;
}

const char *virtio_blk_backend_name(const struct virtio_blk *b)
{
	return b->use_uring ? "io_uring" : "threads";
}
