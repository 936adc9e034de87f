/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net (virtio 1.2, 5.1) over the virtio PCI transport, backed by a
 * tap (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, IFF_MULTI_QUEUE for several queue
 * pairs; one tap queue fd per virtqueue pair).
 *
 * Data path: the 12-byte virtio_net_hdr of virtio 1.x is exactly the tap's
 * vnet header (TUNSETVNETHDRSZ 12), so a transmitted chain is written to the
 * tap with one writev() straight from guest memory, and a received frame is
 * read with one readv() straight into the guest's receive buffers (several
 * of them with MRG_RXBUF): no copy in the VMM.  Checksum and TSO offloads
 * pass through; TUNSETOFFLOAD follows the features the driver accepted.
 *
 * Each queue pair is served by its own I/O thread running an epoll loop
 * (the pattern of virtio-blk's queue threads): RX and TX kicks (ioeventfd),
 * the tap fd, a stop eventfd.  Nothing there blocks or spins: when the RX
 * ring has no room for a frame the tap fd leaves the epoll set until the
 * driver adds buffers (its RX kick); when the tap refuses a write with
 * EAGAIN the chain is kept and retried on EPOLLOUT.  Queue pair 0's thread
 * also serves the control queue (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET attaches
 * and detaches tap queues with TUNSETQUEUE).
 *
 * Guest input is hostile: a structurally broken ring sets
 * DEVICE_NEEDS_RESET; a malformed packet (short header, wrong descriptor
 * direction, oversize frame) is dropped, counted and its chain returned.
 */
#ifndef KVIRT_VIRTIO_NET_H
#define KVIRT_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kvirt/devices.h"
#include "kvirt/err.h"
#include "kvirt/guest_mem.h"
#include "kvirt/virtqueue.h"

#define VIRTIO_NET_MAX_PAIRS 8 /* 2 * 8 + control queue = VIRTIO_MAX_QUEUES */
#define VIRTIO_NET_HDR_LEN   12
/* Largest frame a tap hands over with GSO: 64 KiB of IP + Ethernet + VLAN tag. */
#define VIRTIO_NET_MAX_GSO_FRAME (65536 + 18)
/* Receive chains one frame may span with MRG_RXBUF, and their segments. */
#define VIRTIO_NET_RX_MAX_CHAINS 64
#define VIRTIO_NET_RX_MAX_IOV	 1024

struct virtio_net_config {
	const char *name;	       /* for logs: the tap name or "fd=N" */
	int fds[VIRTIO_NET_MAX_PAIRS]; /* tap queue fds; the device takes them */
	unsigned pairs;		       /* number of fds, 1..VIRTIO_NET_MAX_PAIRS */
	uint8_t mac[6];
	unsigned mtu;	     /* 0: 1500 */
	unsigned queue_size; /* 0: 256 */
};

/* Counters (the log shows them when the device is destroyed). */
struct virtio_net_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t rx_dropped;	/* tap read errors: truncated or failed frames */
	uint64_t rx_malformed;	/* receive chains with readable buffers or no room for a header */
	uint64_t rx_no_buffers; /* times the tap was parked for lack of receive buffers */
	uint64_t tx_dropped;	/* the tap refused a frame (bad GSO header, link gone, ...) */
	uint64_t tx_malformed;	/* short header, writable buffers, oversize frame */
	uint64_t tx_blocked;	/* writes that met EAGAIN and waited for EPOLLOUT */
	uint64_t ring_errors;	/* structurally broken rings (DEVICE_NEEDS_RESET) */
	uint64_t ctrl_commands, ctrl_errors;
};

struct virtio_net;
struct pci_device;

int virtio_net_create(const struct virtio_net_config *cfg, const struct dev_host *host,
		      const struct guest_mem *mem, struct virtio_net **out, struct kv_err **err);
/* Also logs the counters. */
void virtio_net_destroy(struct virtio_net *n);
struct pci_device *virtio_net_pci(struct virtio_net *n);
void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *out);

/* ---- one queue pair's data path; exposed for unit tests and fuzzing ---- */

enum net_io {
	NET_IO_IDLE,	/* nothing more to do: ring empty (TX) or tap empty (RX) */
	NET_IO_AGAIN,	/* the budget ran out with work left */
	NET_IO_BLOCKED, /* TX: tap would block; RX: not enough receive buffers */
	NET_IO_BROKEN,	/* malformed ring: the device needs a reset */
};

struct net_path {
	struct virtq *rx, *tx;
	int fd;
	bool mrg_rxbuf;
	uint32_t rx_max; /* largest frame the tap may deliver, header included */
	struct virtio_net_stats *stats;
	/* TX: a chain the tap refused with EAGAIN, written again first. */
	bool tx_pending;
	uint16_t tx_pending_head;
	unsigned tx_pending_niov;
	/*
	 * RX: receive chains taken from the ring and kept until a frame fills
	 * them (each chain is popped once; a frame uses the first ones).  Zero
	 * rx_nchains, rx_niov and rx_room to forget them (device reset).
	 */
	unsigned rx_nchains, rx_niov;
	uint64_t rx_room;
	/* RX BLOCKED: the available index seen; only buffers past it are news. */
	uint16_t rx_avail_seen;
	/* scratch */
	struct virtq_req req;
	struct iovec tx_iov[VIRTQ_MAX_SEGS];
	struct iovec rx_iov[VIRTIO_NET_RX_MAX_IOV];
	uint16_t rx_head[VIRTIO_NET_RX_MAX_CHAINS];
	uint32_t rx_len[VIRTIO_NET_RX_MAX_CHAINS];
	unsigned rx_first_iov[VIRTIO_NET_RX_MAX_CHAINS + 1];
};

/*
 * Move up to `budget` frames.  *done counts chains returned to the used
 * ring (the caller interrupts the driver when it is non-zero).
 */
enum net_io net_path_tx(struct net_path *p, unsigned budget, unsigned *done);
enum net_io net_path_rx(struct net_path *p, unsigned budget, unsigned *done);

#endif
