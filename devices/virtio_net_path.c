/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One virtio-net queue pair's data path between the virtqueues and a tap
 * fd (see kvirt/virtio_net.h).  No threads, no PCI: the unit tests and the
 * fuzz target drive it with crafted rings and a datagram socketpair in
 * place of the tap.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kvirt/virtio_net.h"

/* Counters have one writer (the pair's thread); readers load them relaxed. */
#define STAT_ADD(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)

enum net_io net_path_tx(struct net_path *p, unsigned budget, unsigned *done)
{
	*done = 0;
	for (unsigned i = 0; i < budget; i++) {
		if (!p->tx_pending) {
			struct virtq_req *req = &p->req;
			int r = virtq_pop(p->tx, req);
			if (r == 0)
				return NET_IO_IDLE;
			if (r < 0) {
				STAT_ADD(p->stats->ring_errors, 1);
				return NET_IO_BROKEN;
			}
			/*
			 * A transmit chain is device-readable only: the header, then
			 * at most one GSO frame.  Anything else is dropped unread.
			 */
			if (req->nread != req->nseg || req->read_len < VIRTIO_NET_HDR_LEN ||
			    req->read_len > VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_GSO_FRAME) {
				STAT_ADD(p->stats->tx_malformed, 1);
				virtq_push(p->tx, req->head, 0);
				(*done)++;
				continue;
			}
			for (unsigned s = 0; s < req->nseg; s++)
				p->tx_iov[s] = (struct iovec){ req->seg[s].ptr, req->seg[s].len };
			p->tx_pending_niov = req->nseg;
			p->tx_pending_head = req->head;
			p->tx_pending = true;
		}
		ssize_t w;
		do
			w = writev(p->fd, p->tx_iov, (int)p->tx_pending_niov);
		while (w < 0 && errno == EINTR);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			STAT_ADD(p->stats->tx_blocked, 1);
			return NET_IO_BLOCKED;
		}
		if (w < VIRTIO_NET_HDR_LEN) {
			STAT_ADD(p->stats->tx_dropped, 1);
		} else {
			STAT_ADD(p->stats->tx_packets, 1);
			STAT_ADD(p->stats->tx_bytes, (uint64_t)w - VIRTIO_NET_HDR_LEN);
		}
		p->tx_pending = false;
		virtq_push(p->tx, p->tx_pending_head, 0);
		(*done)++;
	}
	return NET_IO_AGAIN;
}

/* Store a little-endian u16 at byte `off` of an iovec array (it may straddle two). */
static void iov_put_le16(const struct iovec *iov, unsigned niov, size_t off, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	unsigned k = 0;
	for (unsigned i = 0; i < niov && k < 2; i++) {
		size_t len = iov[i].iov_len;
		if (off >= len) {
			off -= len;
			continue;
		}
		while (k < 2 && off < len)
			((uint8_t *)iov[i].iov_base)[off++] = b[k++];
		off = 0;
	}
}

/*
 * Top the kept receive chains up until they can hold the largest frame (one
 * chain without MRG_RXBUF).  -1: broken ring.  *ring_empty: the ring ran out.
 */
static int rx_fill(struct net_path *p, bool *ring_empty, unsigned *done)
{
	unsigned max_chains = p->mrg_rxbuf ? VIRTIO_NET_RX_MAX_CHAINS : 1;
	*ring_empty = false;
	while (p->rx_room < p->rx_max && p->rx_nchains < max_chains) {
		struct virtq_req *req = &p->req;
		int r = virtq_pop(p->rx, req);
		if (r < 0) {
			STAT_ADD(p->stats->ring_errors, 1);
			return -1;
		}
		if (r == 0) {
			*ring_empty = true;
			break;
		}
		if (req->nread != 0 || req->write_len < VIRTIO_NET_HDR_LEN) {
			/* Receive buffers must be device-writable and fit a header. */
			STAT_ADD(p->stats->rx_malformed, 1);
			virtq_push(p->rx, req->head, 0);
			(*done)++;
			continue;
		}
		if (p->rx_niov + req->nseg > VIRTIO_NET_RX_MAX_IOV) {
			virtq_unpop(p->rx, 1); /* taken again once frames used some */
			break;
		}
		unsigned c = p->rx_nchains++;
		p->rx_head[c] = req->head;
		p->rx_len[c] = (uint32_t)req->write_len;
		p->rx_first_iov[c] = p->rx_niov;
		for (unsigned s = 0; s < req->nseg; s++)
			p->rx_iov[p->rx_niov++] =
			    (struct iovec){ req->seg[s].ptr, req->seg[s].len };
		p->rx_first_iov[c + 1] = p->rx_niov;
		p->rx_room += req->write_len;
	}
	return 0;
}

/* The first `used` kept chains went to the guest: slide the rest down. */
static void rx_consume(struct net_path *p, unsigned used)
{
	unsigned skip_iov = p->rx_first_iov[used];
	for (unsigned c = 0; c < used; c++)
		p->rx_room -= p->rx_len[c];
	unsigned left = p->rx_nchains - used;
	memmove(p->rx_head, p->rx_head + used, left * sizeof(p->rx_head[0]));
	memmove(p->rx_len, p->rx_len + used, left * sizeof(p->rx_len[0]));
	for (unsigned c = 0; c <= left; c++)
		p->rx_first_iov[c] = p->rx_first_iov[c + used] - skip_iov;
	memmove(p->rx_iov, p->rx_iov + skip_iov, (p->rx_niov - skip_iov) * sizeof(p->rx_iov[0]));
	p->rx_niov -= skip_iov;
	p->rx_nchains = left;
}

enum net_io net_path_rx(struct net_path *p, unsigned budget, unsigned *done)
{
	*done = 0;
	for (unsigned i = 0; i < budget; i++) {
		bool ring_empty;
		if (rx_fill(p, &ring_empty, done) < 0)
			return NET_IO_BROKEN;
		/*
		 * With MRG_RXBUF, wait until the driver posted room for the
		 * largest frame rather than truncating one.  A single chain
		 * (no MRG_RXBUF) is used as it is: a frame that does not fit
		 * is the driver's choice of buffer size, and is dropped.
		 */
		if (p->rx_nchains == 0 || (ring_empty && p->rx_room < p->rx_max && p->mrg_rxbuf)) {
			p->rx_avail_seen = p->rx->last_avail;
			STAT_ADD(p->stats->rx_no_buffers, 1);
			return NET_IO_BLOCKED;
		}
		ssize_t n;
		do
			n = readv(p->fd, p->rx_iov, (int)p->rx_niov);
		while (n < 0 && errno == EINTR);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return NET_IO_IDLE;
		if (n < VIRTIO_NET_HDR_LEN) {
			/* The tap consumed a frame it could not store (too big): lost. */
			STAT_ADD(p->stats->rx_dropped, 1);
			if (n < 0 && errno != EFAULT && errno != EINVAL && errno != EMSGSIZE)
				return NET_IO_IDLE; /* tap gone or detached: wait for epoll */
			continue;
		}
		/* Fill chains in order; the rest stay kept for the next frame. */
		uint64_t left = (uint64_t)n;
		unsigned used = 0;
		while (used < p->rx_nchains && left) {
			uint32_t len = left < p->rx_len[used] ? (uint32_t)left : p->rx_len[used];
			left -= len;
			used++;
		}
		iov_put_le16(p->rx_iov, p->rx_first_iov[1], 10, (uint16_t)used);
		left = (uint64_t)n;
		for (unsigned c = 0; c < used; c++) {
			uint32_t len = left < p->rx_len[c] ? (uint32_t)left : p->rx_len[c];
			virtq_push(p->rx, p->rx_head[c], len);
			left -= len;
		}
		rx_consume(p, used);
		*done += used;
		STAT_ADD(p->stats->rx_packets, 1);
		STAT_ADD(p->stats->rx_bytes, (uint64_t)n - VIRTIO_NET_HDR_LEN);
	}
	return NET_IO_AGAIN;
}
