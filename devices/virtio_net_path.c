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
 * Take receive chains until they can hold the largest frame (one chain
 * without MRG_RXBUF).  Returns the number taken, or -1 for a broken ring.
 * *ring_empty tells whether the ring ran out first.
 */
static int rx_gather(struct net_path *p, unsigned *niov_out, uint64_t *room_out, bool *ring_empty,
		     unsigned *done)
{
	unsigned nchains = 0, niov = 0, max_chains = p->mrg_rxbuf ? VIRTIO_NET_RX_MAX_CHAINS : 1;
	uint64_t room = 0;
	*ring_empty = false;
	while (room < p->rx_max && nchains < max_chains) {
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
		bool bad = req->nread != 0 || req->write_len < VIRTIO_NET_HDR_LEN;
		bool too_many = niov + req->nseg > VIRTIO_NET_RX_MAX_IOV;
		if ((bad || too_many) && nchains > 0) {
			/* Serve what we have; this chain comes first next time. */
			virtq_unpop(p->rx, 1);
			break;
		}
		if (bad) {
			/* Receive buffers must be device-writable and fit a header. */
			STAT_ADD(p->stats->rx_malformed, 1);
			virtq_push(p->rx, req->head, 0);
			(*done)++;
			continue;
		}
		p->rx_head[nchains] = req->head;
		p->rx_first_iov[nchains] = niov;
		p->rx_len[nchains] = (uint32_t)req->write_len;
		for (unsigned s = 0; s < req->nseg; s++)
			p->rx_iov[niov++] = (struct iovec){ req->seg[s].ptr, req->seg[s].len };
		room += req->write_len;
		nchains++;
	}
	*niov_out = niov;
	*room_out = room;
	return (int)nchains;
}

enum net_io net_path_rx(struct net_path *p, unsigned budget, unsigned *done)
{
	*done = 0;
	for (unsigned i = 0; i < budget; i++) {
		unsigned niov = 0;
		uint64_t room = 0;
		bool ring_empty;
		int nchains = rx_gather(p, &niov, &room, &ring_empty, done);
		if (nchains < 0)
			return NET_IO_BROKEN;
		/*
		 * With MRG_RXBUF, wait until the driver posted room for the
		 * largest frame rather than truncating one.  A single chain
		 * (no MRG_RXBUF) is used as it is: a frame that does not fit
		 * is the driver's choice of buffer size, and is dropped.
		 */
		if (nchains == 0 || (ring_empty && room < p->rx_max && p->mrg_rxbuf)) {
			p->rx_avail_seen = p->rx->last_avail;
			virtq_unpop(p->rx, (uint16_t)nchains);
			STAT_ADD(p->stats->rx_no_buffers, 1);
			return NET_IO_BLOCKED;
		}
		ssize_t n;
		do
			n = readv(p->fd, p->rx_iov, (int)niov);
		while (n < 0 && errno == EINTR);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			virtq_unpop(p->rx, (uint16_t)nchains);
			return NET_IO_IDLE;
		}
		if (n < VIRTIO_NET_HDR_LEN) {
			/* The tap consumed a frame it could not store (too big): lost. */
			virtq_unpop(p->rx, (uint16_t)nchains);
			STAT_ADD(p->stats->rx_dropped, 1);
			if (n < 0 && errno != EFAULT && errno != EINVAL && errno != EMSGSIZE)
				return NET_IO_IDLE; /* tap gone or detached: wait for epoll */
			continue;
		}
		/* Fill chains in order; the unused tail goes back to the ring. */
		uint64_t left = (uint64_t)n;
		unsigned used = 0;
		while (used < (unsigned)nchains && left) {
			uint32_t len = left < p->rx_len[used] ? (uint32_t)left : p->rx_len[used];
			left -= len;
			used++;
		}
		iov_put_le16(p->rx_iov, niov, 10, (uint16_t)used);
		virtq_unpop(p->rx, (uint16_t)(nchains - (int)used));
		left = (uint64_t)n;
		for (unsigned c = 0; c < used; c++) {
			uint32_t len = left < p->rx_len[c] ? (uint32_t)left : p->rx_len[c];
			virtq_push(p->rx, p->rx_head[c], len);
			left -= len;
		}
		*done += used;
		STAT_ADD(p->stats->rx_packets, 1);
		STAT_ADD(p->stats->rx_bytes, (uint64_t)n - VIRTIO_NET_HDR_LEN);
	}
	return NET_IO_AGAIN;
}
