/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: virtio-net's queue-pair data path (net_path_tx/net_path_rx).
 * Input: byte 0 = queue size exponent, byte 1 = flags (1 EVENT_IDX,
 * 2 INDIRECT, 4 MRG_RXBUF, 8 GSO-sized receive frames), bytes 2..3 = a
 * frame length for the receive side, then guest RAM: TX descriptor table at
 * 0, avail 0x2000, used 0x3000; RX table at 0x4000, avail 0x6000, used
 * 0x7000.  A non-blocking datagram socketpair stands in for the tap; two
 * frames wait on it.  ASan catches any access outside guest RAM; every run
 * must end (bounded walks, no spin on a broken ring).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kvirt/guest_mem.h"
#include "kvirt/virtio_net.h"
#include "kvirt/virtqueue.h"

#define RAM_SIZE 0x10000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct net_path path;
	static uint8_t frame[VIRTIO_NET_HDR_LEN + 9000];
	if (size < 4)
		return 0;
	uint16_t qsize = (uint16_t)(1u << (data[0] % 8));
	bool event_idx = data[1] & 1, indirect = data[1] & 2;
	size_t flen = ((size_t)data[2] | (size_t)data[3] << 8) % sizeof(frame);
	uint8_t *ram = calloc(1, RAM_SIZE);
	if (!ram)
		return 0;
	memcpy(ram, data + 4, size - 4 < RAM_SIZE ? size - 4 : RAM_SIZE);
	struct guest_mem mem = { .base = ram, .map_len = RAM_SIZE, .nregions = 1 };
	mem.regions[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .host = ram };
	struct virtq tx, rx;
	struct virtio_net_stats st = { 0 };
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		free(ram);
		return 0;
	}
	bool tx_ok = virtq_enable(&tx, &mem, qsize, 0, 0x2000, 0x3000, event_idx, indirect) == 0;
	bool rx_ok =
	    virtq_enable(&rx, &mem, qsize, 0x4000, 0x6000, 0x7000, event_idx, indirect) == 0;
	memset(&path, 0, offsetof(struct net_path, req));
	path.rx = &rx;
	path.tx = &tx;
	path.fd = sv[0];
	path.mrg_rxbuf = data[1] & 4;
	path.rx_max = VIRTIO_NET_HDR_LEN + ((data[1] & 8) ? VIRTIO_NET_MAX_GSO_FRAME : 1518);
	path.stats = &st;
	unsigned done;
	if (tx_ok) {
		for (unsigned i = 0; i < 4; i++)
			if (net_path_tx(&path, 64, &done) != NET_IO_AGAIN)
				break;
	}
	if (rx_ok) {
		memset(frame, 0x5a, sizeof(frame));
		if (flen < VIRTIO_NET_HDR_LEN)
			flen = VIRTIO_NET_HDR_LEN;
		send(sv[1], frame, flen, 0);
		send(sv[1], frame, VIRTIO_NET_HDR_LEN + 60, 0);
		for (unsigned i = 0; i < 4; i++)
			if (net_path_rx(&path, 64, &done) != NET_IO_AGAIN)
				break;
		virtq_enable_notify(&rx);
		virtq_disable_notify(&rx);
	}
	close(sv[0]);
	close(sv[1]);
	free(ram);
	return 0;
}
