/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net's queue-pair data path (net_path_tx/net_path_rx) against
 * crafted rings in a fake guest RAM, with a non-blocking SOCK_DGRAM
 * socketpair standing in for the tap (one datagram = one frame): frames go
 * out and come in whole, MRG_RXBUF spreads a frame over chains and sets
 * num_buffers, unused chains go back to the ring, and every malformed chain
 * is dropped, counted and returned without touching memory outside RAM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kvirt/guest_mem.h"
#include "kvirt/virtio_net.h"
#include "kvirt/virtqueue.h"
#include "guest-ram.h"
#include "tap.h"

#define RAM_SIZE (1u << 20)
#define TX_DESC	 0x1000
#define TX_AVAIL 0x2000
#define TX_USED	 0x3000
#define RX_DESC	 0x4000
#define RX_AVAIL 0x5000
#define RX_USED	 0x6000
#define DATA	 0x10000
#define QSIZE	 16
#define F_NEXT	 VIRTQ_DESC_F_NEXT
#define F_WRITE	 VIRTQ_DESC_F_WRITE

static struct guest_mem mem;
static struct virtq rxq, txq;
static struct net_path *p;
static struct virtio_net_stats st;
static int peer; /* the "network" side of the fake tap */

static uint16_t avail_n[2];

/* Publish one more head on a ring (avail at `avail`). */
static void publish(int which, uint64_t avail, uint16_t head)
{
	put16(avail + 4 + 2 * (avail_n[which] % QSIZE), head);
	avail_n[which]++;
	put16(avail + 2, avail_n[which]);
}

/* Fresh RAM, rings, socketpair and path. */
static void setup(bool mrg, uint32_t rx_max)
{
	memset(ram, 0, RAM_SIZE);
	avail_n[0] = avail_n[1] = 0;
	memset(&st, 0, sizeof(st));
	virtq_enable(&rxq, &mem, QSIZE, RX_DESC, RX_AVAIL, RX_USED, false, true);
	virtq_enable(&txq, &mem, QSIZE, TX_DESC, TX_AVAIL, TX_USED, false, true);
	if (p) {
		close(p->fd);
		close(peer);
	}
	free(p);
	p = calloc(1, sizeof(*p));
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		exit(1);
	p->fd = sv[0];
	peer = sv[1];
	p->rx = &rxq;
	p->tx = &txq;
	p->mrg_rxbuf = mrg;
	p->rx_max = rx_max;
	p->stats = &st;
}

static void test_tx(void)
{
	unsigned done;
	setup(true, 1530);
	/* header (12) in one descriptor, 100 bytes of frame in another */
	memset(ram + DATA, 0, 12);
	for (unsigned i = 0; i < 100; i++)
		ram[DATA + 0x100 + i] = (uint8_t)i;
	set_desc(TX_DESC, 0, DATA, 12, F_NEXT, 1);
	set_desc(TX_DESC, 1, DATA + 0x100, 100, 0, 0);
	publish(0, TX_AVAIL, 0);
	is_int(net_path_tx(p, 64, &done), NET_IO_IDLE, "tx: one frame, then the ring is empty");
	is_int(done, 1, "tx: one chain returned");
	uint8_t buf[256];
	ssize_t n = recv(peer, buf, sizeof(buf), 0);
	is_int(n, 112, "tx: the tap got header + frame in one write");
	ok(n == 112 && buf[12] == 0 && buf[111] == 99, "tx: frame bytes intact");
	ok(st.tx_packets == 1 && st.tx_bytes == 100, "tx: counted 1 packet, 100 bytes");
	is_int(get16(TX_USED + 2), 1, "tx: used index 1");

	/* Malformed: short header, writable buffer, oversize frame. */
	set_desc(TX_DESC, 2, DATA, 8, 0, 0);
	publish(0, TX_AVAIL, 2);
	set_desc(TX_DESC, 3, DATA, 12, F_NEXT, 4);
	set_desc(TX_DESC, 4, DATA + 0x100, 64, F_WRITE, 0);
	publish(0, TX_AVAIL, 3);
	set_desc(TX_DESC, 5, DATA, VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_GSO_FRAME + 1, 0, 0);
	publish(0, TX_AVAIL, 5);
	is_int(net_path_tx(p, 64, &done), NET_IO_IDLE,
	       "tx: malformed chains do not stop the queue");
	is_int(done, 3, "tx: every malformed chain is returned");
	is_int(st.tx_malformed, 3, "tx: short header, writable buffer, oversize counted");
	is_int(recv(peer, buf, sizeof(buf), 0), -1, "tx: nothing of them reached the tap");
	is_int(get16(TX_USED + 2), 4, "tx: used index 4");

	/* A full tap: EAGAIN keeps the chain, EPOLLOUT (here: the next call) sends it. */
	int sent = 0;
	while (send(p->fd, buf, 16, 0) == 16)
		sent++;
	set_desc(TX_DESC, 6, DATA, 40, 0, 0);
	publish(0, TX_AVAIL, 6);
	is_int(net_path_tx(p, 64, &done), NET_IO_BLOCKED, "tx: a tap that would block: BLOCKED");
	ok(done == 0 && p->tx_pending && st.tx_blocked == 1, "tx: the chain is kept, not returned");
	while (sent-- > 0)
		recv(peer, buf, sizeof(buf), 0);
	is_int(net_path_tx(p, 64, &done), NET_IO_IDLE, "tx: retried once the tap drains");
	ok(done == 1 && recv(peer, buf, sizeof(buf), 0) == 40, "tx: the kept frame went out");

	/* Budget: more chains than the budget leaves work (AGAIN). */
	for (unsigned i = 0; i < 3; i++) {
		set_desc(TX_DESC, 7 + i, DATA, 20, 0, 0);
		publish(0, TX_AVAIL, (uint16_t)(7 + i));
	}
	is_int(net_path_tx(p, 2, &done), NET_IO_AGAIN, "tx: budget exhausted: AGAIN");
	is_int(net_path_tx(p, 2, &done), NET_IO_IDLE, "tx: the rest next time");

	/* Broken ring: head out of range. */
	put16(TX_AVAIL + 4 + 2 * (avail_n[0] % QSIZE), QSIZE + 3);
	put16(TX_AVAIL + 2, ++avail_n[0]);
	is_int(net_path_tx(p, 64, &done), NET_IO_BROKEN, "tx: head out of range: BROKEN");
	is_int(st.ring_errors, 1, "tx: ring error counted");
}

static void test_rx_single(void)
{
	unsigned done;
	uint8_t frame[112];
	for (unsigned i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i + 1);
	setup(false, 1530);
	is_int(net_path_rx(p, 64, &done), NET_IO_BLOCKED, "rx: no buffers: BLOCKED");
	set_desc(RX_DESC, 0, DATA, 2048, F_WRITE, 0);
	publish(1, RX_AVAIL, 0);
	is_int(net_path_rx(p, 64, &done), NET_IO_IDLE, "rx: empty tap: IDLE");
	ok(rxq.last_avail == 1 && p->rx_nchains == 1, "rx: the chain is kept for the next frame");
	send(peer, frame, sizeof(frame), 0);
	is_int(net_path_rx(p, 64, &done), NET_IO_BLOCKED, "rx: frame in, then out of buffers");
	is_int(done, 1, "rx: one chain used");
	ok(get32(RX_USED + 4) == 0 && get32(RX_USED + 8) == 112, "rx: used length = frame length");
	ok(!memcmp(ram + DATA, frame, 10) && get16(DATA + 10) == 1 &&
	       !memcmp(ram + DATA + 12, frame + 12, 100),
	   "rx: frame in guest memory, num_buffers = 1");
	ok(st.rx_packets == 1 && st.rx_bytes == 100, "rx: counted 1 packet, 100 bytes");

	/* Header split across two segments: num_buffers straddles them. */
	set_desc(RX_DESC, 1, DATA + 0x1000, 11, F_WRITE | F_NEXT, 2);
	set_desc(RX_DESC, 2, DATA + 0x2000, 2048, F_WRITE, 0);
	publish(1, RX_AVAIL, 1);
	send(peer, frame, sizeof(frame), 0);
	net_path_rx(p, 64, &done);
	ok(ram[DATA + 0x1000 + 10] == 1 && ram[DATA + 0x2000] == 0,
	   "rx: num_buffers written across a segment boundary");

	/* Malformed receive chains: readable buffer, too short for a header. */
	set_desc(RX_DESC, 3, DATA, 2048, 0, 0);
	publish(1, RX_AVAIL, 3);
	set_desc(RX_DESC, 4, DATA, 6, F_WRITE, 0);
	publish(1, RX_AVAIL, 4);
	net_path_rx(p, 64, &done);
	is_int(st.rx_malformed, 2, "rx: readable and too-short chains counted");
	is_int(done, 2, "rx: and returned");

	/* A frame larger than the single chain: dropped (datagram truncation here). */
	set_desc(RX_DESC, 5, DATA, 64, F_WRITE, 0);
	publish(1, RX_AVAIL, 5);
	send(peer, frame, sizeof(frame), 0);
	net_path_rx(p, 64, &done);
	ok(done == 1 && get32(RX_USED + 4 + 8 * ((get16(RX_USED + 2) - 1) % QSIZE) + 4) == 64,
	   "rx: a chain shorter than the frame is filled to its length");
}

static void test_rx_mrg(void)
{
	unsigned done;
	uint8_t frame[1200];
	for (unsigned i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7);
	setup(true, 1530);
	/* Two 512-byte buffers cannot hold a 1530-byte frame: wait, take nothing. */
	for (unsigned i = 0; i < 2; i++) {
		set_desc(RX_DESC, i, DATA + 0x1000 * i, 512, F_WRITE, 0);
		publish(1, RX_AVAIL, (uint16_t)i);
	}
	send(peer, frame, sizeof(frame), 0);
	is_int(net_path_rx(p, 64, &done), NET_IO_BLOCKED, "mrg: too little room: BLOCKED");
	ok(done == 0 && p->rx_nchains == 2 && p->rx_room == 1024 && st.rx_no_buffers == 1,
	   "mrg: nothing used while waiting for buffers; the two are kept");
	for (unsigned i = 2; i < 8; i++) {
		set_desc(RX_DESC, i, DATA + 0x1000 * i, 512, F_WRITE, 0);
		publish(1, RX_AVAIL, (uint16_t)i);
	}
	is_int(net_path_rx(p, 64, &done), NET_IO_IDLE, "mrg: frame received");
	is_int(done, 3, "mrg: 1200 bytes span 3 chains of 512");
	is_int(get16(DATA + 10), 3, "mrg: num_buffers = 3 in the first chain's header");
	ok(get32(RX_USED + 8) == 512 && get32(RX_USED + 16) == 512 && get32(RX_USED + 24) == 176,
	   "mrg: used lengths 512, 512, 176");
	ok(!memcmp(ram + DATA + 12, frame + 12, 500) &&
	       !memcmp(ram + DATA + 0x1000, frame + 512, 512) &&
	       !memcmp(ram + DATA + 0x2000, frame + 1024, 176),
	   "mrg: frame contents in order across the chains");
	ok(p->rx_nchains == 3 && p->rx_room == 3 * 512 && p->rx_head[0] == 3 && rxq.last_avail == 6,
	   "mrg: the next 3 chains (room for the largest frame) are kept, in ring order");
	send(peer, frame, 100, 0);
	net_path_rx(p, 64, &done);
	ok(done == 1 && get32(RX_USED + 4 + 8 * 3) == 3 && get32(RX_USED + 8 + 8 * 3) == 100,
	   "mrg: the next frame goes to the first kept chain");

	/* A readable chain between good ones: returned and counted, the rest used. */
	setup(true, 1530);
	for (unsigned i = 0; i < 6; i++) {
		set_desc(RX_DESC, i, DATA + 0x1000 * i, 512, i == 1 ? 0 : F_WRITE, 0);
		publish(1, RX_AVAIL, (uint16_t)i);
	}
	send(peer, frame, 600, 0);
	net_path_rx(p, 64, &done);
	ok(st.rx_malformed == 1 && st.rx_packets == 1 && get16(DATA + 10) == 2 &&
	       get32(RX_USED + 4) == 1 && get32(RX_USED + 12) == 0 && get32(RX_USED + 20) == 2 &&
	       get32(RX_USED + 24) == 88,
	   "mrg: a readable chain in the middle is counted, the frame skips it");

	/* Broken ring while gathering. */
	setup(true, 1530);
	set_desc(RX_DESC, 0, DATA, 512, F_WRITE | F_NEXT, 0);
	publish(1, RX_AVAIL, 0);
	is_int(net_path_rx(p, 64, &done), NET_IO_BROKEN, "mrg: a looping chain: BROKEN");
}

int main(void)
{
	if (guest_ram_init(&mem, RAM_SIZE) < 0)
		return 1;
	test_tx();
	test_rx_single();
	test_rx_mrg();
	if (p) {
		close(p->fd);
		close(peer);
	}
	free(p);
	free(ram);
	return tap_done();
}
