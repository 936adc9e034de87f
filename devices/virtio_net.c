/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-net device model, queue-pair threads and control queue (kvirt/virtio_net.h). */
#include "kvirt/virtio_net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/thread.h"
#include "kvirt/virtio.h"

#define VIRTIO_ID_NET			1
#define VIRTIO_NET_F_CSUM		0
#define VIRTIO_NET_F_GUEST_CSUM		1
#define VIRTIO_NET_F_MTU		3
#define VIRTIO_NET_F_MAC		5
#define VIRTIO_NET_F_GUEST_TSO4		7
#define VIRTIO_NET_F_GUEST_TSO6		8
#define VIRTIO_NET_F_GUEST_ECN		9
#define VIRTIO_NET_F_HOST_TSO4		11
#define VIRTIO_NET_F_HOST_TSO6		12
#define VIRTIO_NET_F_HOST_ECN		13
#define VIRTIO_NET_F_MRG_RXBUF		15
#define VIRTIO_NET_F_STATUS		16
#define VIRTIO_NET_F_CTRL_VQ		17
#define VIRTIO_NET_F_MQ			22
#define VIRTIO_NET_S_LINK_UP		1
#define VIRTIO_NET_CTRL_MQ		4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VIRTIO_NET_OK			0
#define VIRTIO_NET_ERR			1
#define NET_CONFIG_SIZE			12 /* mac, status, max_virtqueue_pairs, mtu */
#define TX_BUDGET			256
#define RX_BUDGET			64

enum { EV_STOP = 1, EV_CFG, EV_RX_KICK, EV_TX_KICK, EV_TAP, EV_CTRL_KICK };

struct net_pair {
	struct virtio_net *n;
	unsigned index;
	int fd; /* tap queue */
	int stop_fd, cfg_fd;
	pthread_t thread;
	bool running;
	bool active; /* atomic: within the driver's queue pairs (tap queue attached) */
	struct virtio_net_stats stats;
	struct net_path *path;
};

struct virtio_net {
	struct virtio_pci t;
	char name[64];
	unsigned pairs;	       /* tap queues = queue pairs offered */
	unsigned usable_pairs; /* pairs the driver may use: 1 without MQ */
	bool mq_tap;	       /* IFF_MULTI_QUEUE: queues can be detached */
	unsigned mtu;
	uint8_t config[NET_CONFIG_SIZE];
	struct virtio_queue *ctrlq; /* NULL without CTRL_VQ */
	struct virtq_req *ctrl_req;
	struct net_pair pair[VIRTIO_NET_MAX_PAIRS];
};

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void drain_fd(int fd)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to drain. */
	}
}

static void poke_fd(int fd)
{
	uint64_t one = 1;
	if (write(fd, &one, sizeof(one)) < 0) {
		/* Saturated counter: the reader wakes anyway. */
	}
}

/* Attach the first `k` tap queues, detach the rest (tap delivers only to attached ones). */
static void set_active_pairs(struct virtio_net *n, unsigned k)
{
	for (unsigned i = 0; i < n->pairs; i++) {
		struct net_pair *np = &n->pair[i];
		bool on = i < k;
		if (n->mq_tap) {
			struct ifreq ifr = { 0 };
			ifr.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
			if (ioctl(np->fd, TUNSETQUEUE, &ifr) < 0 && errno != EINVAL)
				kv_warn("net %s: queue %u: TUNSETQUEUE %s: %m", n->name, i,
					on ? "attach" : "detach");
		}
		__atomic_store_n(&np->active, on, __ATOMIC_RELEASE);
		poke_fd(np->cfg_fd); /* drained at stop when no thread runs */
	}
}

/* ---------------------------------------------------------------- control queue */

static uint8_t ctrl_command(struct virtio_net *n, const struct virtq_req *req)
{
	uint8_t buf[4];
	size_t got = 0;
	for (unsigned s = 0; s < req->nread && got < sizeof(buf); s++) {
		size_t c =
		    req->seg[s].len < sizeof(buf) - got ? req->seg[s].len : sizeof(buf) - got;
		memcpy(buf + got, req->seg[s].ptr, c);
		got += c;
	}
	if (got < 2)
		return VIRTIO_NET_ERR;
	if (buf[0] == VIRTIO_NET_CTRL_MQ && buf[1] == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) {
		if (req->read_len != 4)
			return VIRTIO_NET_ERR;
		unsigned k = (unsigned)buf[2] | (unsigned)buf[3] << 8;
		if (k < 1 || k > n->usable_pairs)
			return VIRTIO_NET_ERR;
		kv_debug("net %s: driver uses %u queue pair(s)", n->name, k);
		set_active_pairs(n, k);
		return VIRTIO_NET_OK;
	}
	return VIRTIO_NET_ERR;
}

/* Serve the control queue; false when its ring is broken. */
static bool ctrl_process(struct virtio_net *n)
{
	struct virtq *vq = &n->ctrlq->vq;
	struct virtio_net_stats *st = &n->pair[0].stats;
	unsigned done = 0;
	bool ok = true;
	for (;;) {
		virtq_disable_notify(vq);
		int r;
		while ((r = virtq_pop(vq, n->ctrl_req)) > 0) {
			const struct virtq_req *req = n->ctrl_req;
			uint8_t ack = VIRTIO_NET_ERR;
			uint32_t written = 0;
			/* class+command readable, then at least the ack byte writable. */
			if (req->read_len >= 2 && req->write_len >= 1)
				ack = ctrl_command(n, req);
			if (req->write_len >= 1) {
				*req->seg[req->nread].ptr = ack;
				written = 1;
			}
			__atomic_store_n(&st->ctrl_commands, st->ctrl_commands + 1,
					 __ATOMIC_RELAXED);
			if (ack != VIRTIO_NET_OK)
				__atomic_store_n(&st->ctrl_errors, st->ctrl_errors + 1,
						 __ATOMIC_RELAXED);
			virtq_push(vq, req->head, written);
			done++;
		}
		if (r < 0) {
			__atomic_store_n(&st->ring_errors, st->ring_errors + 1, __ATOMIC_RELAXED);
			ok = false;
			break;
		}
		if (!virtq_enable_notify(vq))
			break;
	}
	if (done)
		virtio_queue_interrupt(n->ctrlq);
	return ok;
}

/* ---------------------------------------------------------------- queue pair thread */

struct pair_loop {
	struct net_pair *np;
	struct virtio_queue *rxq, *txq;
	int ep;
	uint32_t tap_events; /* what the tap fd is registered for (0: not in the set) */
	bool rx_wait;	     /* RX ring had no room: wait for the driver's RX kick */
	bool tx_blocked;     /* tap refused a write: wait for EPOLLOUT */
	bool tap_error;	     /* EPOLLERR/HUP: ignore the tap until the next config change */
	bool broken;
};

static void tap_update(struct pair_loop *l)
{
	uint32_t ev = 0;
	if (!l->tap_error) {
		if (__atomic_load_n(&l->np->active, __ATOMIC_ACQUIRE) && !l->rx_wait)
			ev |= EPOLLIN;
		if (l->tx_blocked)
			ev |= EPOLLOUT;
	}
	if (ev == l->tap_events)
		return;
	struct epoll_event e = { .events = ev, .data.u32 = EV_TAP };
	int op = ev == 0 ? EPOLL_CTL_DEL : l->tap_events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(l->ep, op, l->np->fd, &e) < 0)
		kv_warn("net %s: queue pair %u: epoll_ctl: %m", l->np->n->name, l->np->index);
	l->tap_events = ev;
}

static void mark_broken(struct pair_loop *l)
{
	if (l->broken)
		return;
	l->broken = true;
	kv_warn("net %s: queue pair %u: malformed descriptor ring; device needs reset",
		l->np->n->name, l->np->index);
	virtio_pci_needs_reset(&l->np->n->t);
}

static void tx_run(struct pair_loop *l)
{
	if (l->tx_blocked || l->broken || !l->txq)
		return;
	struct virtq *vq = &l->txq->vq;
	for (;;) {
		virtq_disable_notify(vq);
		unsigned done = 0;
		enum net_io r = net_path_tx(l->np->path, TX_BUDGET, &done);
		if (done)
			virtio_queue_interrupt(l->txq);
		switch (r) {
		case NET_IO_BROKEN: mark_broken(l); return;
		case NET_IO_BLOCKED:
			l->tx_blocked = true;
			tap_update(l);
			return;
		case NET_IO_AGAIN:
			/* Let RX and the other events in; our own kick brings us back. */
			poke_fd(l->txq->kick_fd);
			return;
		case NET_IO_IDLE: break;
		}
		if (!virtq_enable_notify(vq))
			return;
	}
}

static void rx_run(struct pair_loop *l)
{
	if (l->rx_wait || l->broken || !l->rxq ||
	    !__atomic_load_n(&l->np->active, __ATOMIC_ACQUIRE))
		return;
	struct virtq *vq = &l->rxq->vq;
	unsigned done = 0;
	enum net_io r = net_path_rx(l->np->path, RX_BUDGET, &done);
	if (done)
		virtio_queue_interrupt(l->rxq);
	switch (r) {
	case NET_IO_BROKEN: mark_broken(l); return;
	case NET_IO_BLOCKED:
		/*
		 * Kick wanted for buffers beyond those already seen (not enough);
		 * ones that raced in: the tap is still readable, epoll calls again.
		 */
		if (virtq_enable_notify_after(vq, l->np->path->rx_avail_seen))
			return;
		l->rx_wait = true;
		tap_update(l);
		return;
	case NET_IO_IDLE:
	case NET_IO_AGAIN:
		/* The tap fd is level-triggered: more frames bring us back. */
		virtq_disable_notify(vq);
		return;
	}
}

static int add_fd(int ep, int fd, uint32_t tag)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u32 = tag };
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

/*
 * Kick eventfds are edge-triggered and never read: every signal (KVM's
 * ioeventfd or our own re-kick) is one epoll event, and a kick costs no
 * read() here.  Reset drains them (virtio_pci.c).
 */
static int add_kick_fd(int ep, int fd, uint32_t tag)
{
	struct epoll_event e = { .events = EPOLLIN | EPOLLET, .data.u32 = tag };
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static void *pair_thread(void *arg)
{
	kv_thread_enter(KV_THREAD_IO);
	struct net_pair *np = arg;
	struct virtio_net *n = np->n;
	char name[16];
	snprintf(name, sizeof(name), "net-q%u", np->index);
	kv_thread_io_setup(name);
	struct pair_loop l = { .np = np, .ep = -1 };
	struct virtio_queue *rxq = &n->t.queues[2 * np->index];
	struct virtio_queue *txq = &n->t.queues[2 * np->index + 1];
	l.rxq = rxq->enabled ? rxq : NULL;
	l.txq = txq->enabled ? txq : NULL;
	bool ctrl = np->index == 0 && n->ctrlq && n->ctrlq->enabled;
	bool ctrl_broken = false;
	l.ep = epoll_create1(EPOLL_CLOEXEC);
	if (l.ep < 0 || add_fd(l.ep, np->stop_fd, EV_STOP) < 0 ||
	    add_fd(l.ep, np->cfg_fd, EV_CFG) < 0 ||
	    (l.rxq && add_kick_fd(l.ep, rxq->kick_fd, EV_RX_KICK) < 0) ||
	    (l.txq && add_kick_fd(l.ep, txq->kick_fd, EV_TX_KICK) < 0) ||
	    (ctrl && add_kick_fd(l.ep, n->ctrlq->kick_fd, EV_CTRL_KICK) < 0)) {
		kv_error("net %s: queue pair %u: epoll: %m", n->name, np->index);
		kv_close_safe(l.ep);
		virtio_pci_needs_reset(&n->t);
		return NULL;
	}
	/* Work queued before DRIVER_OK (or before this thread ran) is picked up now. */
	if (ctrl && !ctrl_process(n)) {
		ctrl_broken = true;
		kv_warn("net %s: malformed control queue; device needs reset", n->name);
		virtio_pci_needs_reset(&n->t);
	}
	tap_update(&l);
	tx_run(&l);
	rx_run(&l);
	for (;;) {
		struct epoll_event ev[8];
		int k = epoll_wait(l.ep, ev, 8, -1);
		if (k < 0)
			continue; /* EINTR */
		for (int i = 0; i < k; i++) {
			switch (ev[i].data.u32) {
			case EV_STOP: goto out;
			case EV_CFG:
				drain_fd(np->cfg_fd);
				l.tap_error = false;
				tap_update(&l);
				rx_run(&l);
				break;
			case EV_RX_KICK:
				if (l.rx_wait) {
					l.rx_wait = false;
					tap_update(&l);
					rx_run(&l);
				}
				break;
			case EV_TX_KICK: tx_run(&l); break;
			case EV_CTRL_KICK:
				if (!ctrl_broken) {
					ctrl_broken = !ctrl_process(n);
					if (ctrl_broken) {
						kv_warn("net %s: malformed control queue; device "
							"needs reset",
							n->name);
						virtio_pci_needs_reset(&n->t);
					}
				}
				break;
			case EV_TAP:
				if (ev[i].events & EPOLLOUT) {
					l.tx_blocked = false;
					tap_update(&l);
					tx_run(&l);
				}
				if (ev[i].events & EPOLLIN)
					rx_run(&l);
				if ((ev[i].events & (EPOLLERR | EPOLLHUP)) &&
				    !(ev[i].events & (EPOLLIN | EPOLLOUT))) {
					kv_warn("net %s: queue pair %u: tap error/hangup", n->name,
						np->index);
					l.tap_error = true;
					tap_update(&l);
				}
				break;
			}
		}
	}
out:
	kv_close_safe(l.ep);
	return NULL;
}

/* ---------------------------------------------------------------- device ops */

static void net_config_read(void *dev, uint64_t off, void *data, unsigned len)
{
	struct virtio_net *n = dev;
	memset(data, 0, len);
	if (off < NET_CONFIG_SIZE && len <= NET_CONFIG_SIZE - off)
		memcpy(data, n->config + off, len);
}

static void net_stop(void *dev)
{
	struct virtio_net *n = dev;
	for (unsigned i = 0; i < n->pairs; i++) {
		struct net_pair *np = &n->pair[i];
		if (!np->running)
			continue;
		poke_fd(np->stop_fd);
		pthread_join(np->thread, NULL);
		drain_fd(np->stop_fd);
		drain_fd(np->cfg_fd);
		np->running = false;
	}
}

static int net_start(void *dev, struct kv_err **err)
{
	struct virtio_net *n = dev;
	struct virtio_pci *t = &n->t;
	bool mq = virtio_has_feature(t, VIRTIO_NET_F_MQ);
	n->usable_pairs = mq ? n->pairs : 1;
	n->ctrlq = NULL;
	if (virtio_has_feature(t, VIRTIO_NET_F_CTRL_VQ))
		n->ctrlq = &t->queues[mq ? 2 * n->pairs : 2];

	/* What the tap may hand us is what the driver accepted to receive. */
	unsigned offload = 0;
	if (virtio_has_feature(t, VIRTIO_NET_F_GUEST_CSUM)) {
		offload |= TUN_F_CSUM;
		if (virtio_has_feature(t, VIRTIO_NET_F_GUEST_TSO4))
			offload |= TUN_F_TSO4;
		if (virtio_has_feature(t, VIRTIO_NET_F_GUEST_TSO6))
			offload |= TUN_F_TSO6;
		if ((offload & (TUN_F_TSO4 | TUN_F_TSO6)) &&
		    virtio_has_feature(t, VIRTIO_NET_F_GUEST_ECN))
			offload |= TUN_F_TSO_ECN;
	}
	if (ioctl(n->pair[0].fd, TUNSETOFFLOAD, (unsigned long)offload) < 0)
		return kv_err_errno(err, "net %s: TUNSETOFFLOAD 0x%x", n->name, offload);
	bool gso_rx = offload & (TUN_F_TSO4 | TUN_F_TSO6);
	uint32_t rx_max =
	    VIRTIO_NET_HDR_LEN + (gso_rx ? VIRTIO_NET_MAX_GSO_FRAME : (uint32_t)n->mtu + 18);
	bool mrg = virtio_has_feature(t, VIRTIO_NET_F_MRG_RXBUF);
	kv_debug("net %s: features 0x%llx, tap offloads 0x%x, %u usable pair(s)", n->name,
		 (unsigned long long)t->driver_features, offload, n->usable_pairs);

	/* The device uses only the first pair until the driver asks for more (5.1.6.5.5). */
	set_active_pairs(n, 1);
	for (unsigned i = 0; i < n->usable_pairs; i++) {
		struct net_pair *np = &n->pair[i];
		struct virtio_queue *rxq = &t->queues[2 * i], *txq = &t->queues[2 * i + 1];
		if (!rxq->enabled && !txq->enabled && !(i == 0 && n->ctrlq && n->ctrlq->enabled))
			continue;
		struct net_path *p = np->path;
		p->rx = &rxq->vq;
		p->tx = &txq->vq;
		p->fd = np->fd;
		p->mrg_rxbuf = mrg;
		p->rx_max = rx_max;
		p->stats = &np->stats;
		p->tx_pending = false;
		p->rx_nchains = p->rx_niov = 0; /* chains kept before a reset are gone */
		p->rx_room = 0;
		if (pthread_create(&np->thread, NULL, pair_thread, np) != 0)
			return kv_err_set(err, EAGAIN, "net %s: cannot start queue pair thread",
					  n->name);
		np->running = true;
	}
	return 0;
}

static const struct virtio_device_ops net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.pci_class = 0x0200,
	.config_read = net_config_read,
	.start = net_start,
	.stop = net_stop,
};

/* The fd must be a tap with IFF_VNET_HDR; its header becomes virtio 1.x's 12 bytes. */
static int tap_check(struct virtio_net *n, int fd, unsigned i, struct kv_err **err)
{
	struct ifreq ifr = { 0 };
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return kv_err_errno(err, "net %s: queue %u: fd %d is not a tap (TUNGETIFF)",
				    n->name, i, fd);
	if ((ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)) !=
	    (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
		return kv_err_set(err, EINVAL,
				  "net %s: queue %u: the tap needs IFF_TAP|IFF_NO_PI|IFF_VNET_HDR "
				  "(flags 0x%x)",
				  n->name, i, (unsigned)ifr.ifr_flags);
	if (i == 0)
		n->mq_tap = ifr.ifr_flags & IFF_MULTI_QUEUE;
	int hdr = VIRTIO_NET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
		return kv_err_errno(err, "net %s: TUNSETVNETHDRSZ", n->name);
	/* Nothing may block the I/O thread. */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return kv_err_errno(err, "net %s: O_NONBLOCK", n->name);
	return 0;
}

int virtio_net_create(const struct virtio_net_config *cfg, const struct dev_host *host,
		      const struct guest_mem *mem, struct virtio_net **out, struct kv_err **err)
{
	int r;
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n) {
		for (unsigned i = 0; i < cfg->pairs && i < VIRTIO_NET_MAX_PAIRS; i++)
			kv_close_safe(cfg->fds[i]);
		return kv_err_set(err, ENOMEM, "virtio-net: out of memory");
	}
	snprintf(n->name, sizeof(n->name), "%s", cfg->name ? cfg->name : "tap");
	for (unsigned i = 0; i < VIRTIO_NET_MAX_PAIRS; i++)
		n->pair[i].fd = n->pair[i].stop_fd = n->pair[i].cfg_fd = -1;
	/* The device owns the fds from here on, whatever happens. */
	unsigned pairs = cfg->pairs < VIRTIO_NET_MAX_PAIRS ? cfg->pairs : VIRTIO_NET_MAX_PAIRS;
	for (unsigned i = 0; i < pairs; i++)
		n->pair[i].fd = cfg->fds[i];
	n->pairs = pairs;
	if (cfg->pairs < 1 || cfg->pairs > VIRTIO_NET_MAX_PAIRS) {
		r = kv_err_set(err, EINVAL, "net %s: %u queue pairs (1..%d)", n->name, cfg->pairs,
			       VIRTIO_NET_MAX_PAIRS);
		goto fail;
	}
	n->mtu = cfg->mtu ? cfg->mtu : 1500;
	n->usable_pairs = 1;
	for (unsigned i = 0; i < pairs; i++) {
		struct net_pair *np = &n->pair[i];
		np->n = n;
		np->index = i;
		if ((r = tap_check(n, np->fd, i, err)) < 0)
			goto fail;
		np->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		np->cfg_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (np->stop_fd < 0 || np->cfg_fd < 0) {
			r = kv_err_errno(err, "virtio-net: eventfd");
			goto fail;
		}
		np->path = calloc(1, sizeof(*np->path));
		if (!np->path) {
			r = kv_err_set(err, ENOMEM, "virtio-net: out of memory");
			goto fail;
		}
	}
	n->ctrl_req = calloc(1, sizeof(*n->ctrl_req));
	if (!n->ctrl_req) {
		r = kv_err_set(err, ENOMEM, "virtio-net: out of memory");
		goto fail;
	}
	if (pairs > 1 && !n->mq_tap) {
		r = kv_err_set(err, EINVAL, "net %s: %u queues need a tap with IFF_MULTI_QUEUE",
			       n->name, pairs);
		goto fail;
	}
	memcpy(n->config, cfg->mac, 6);
	put_le16(n->config + 6, VIRTIO_NET_S_LINK_UP);
	put_le16(n->config + 8, (uint16_t)pairs);
	put_le16(n->config + 10, (uint16_t)n->mtu);

	uint64_t features = 1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM |
			    1ull << VIRTIO_NET_F_MTU | 1ull << VIRTIO_NET_F_MAC |
			    1ull << VIRTIO_NET_F_GUEST_TSO4 | 1ull << VIRTIO_NET_F_GUEST_TSO6 |
			    1ull << VIRTIO_NET_F_GUEST_ECN | 1ull << VIRTIO_NET_F_HOST_TSO4 |
			    1ull << VIRTIO_NET_F_HOST_TSO6 | 1ull << VIRTIO_NET_F_HOST_ECN |
			    1ull << VIRTIO_NET_F_MRG_RXBUF | 1ull << VIRTIO_NET_F_STATUS |
			    1ull << VIRTIO_NET_F_CTRL_VQ;
	if (pairs > 1)
		features |= 1ull << VIRTIO_NET_F_MQ;
	unsigned qsize = cfg->queue_size ? cfg->queue_size : 256;
	r = virtio_pci_init(&n->t, &net_ops, n, features, 2 * pairs + 1, (uint16_t)qsize, host, mem,
			    err);
	if (r < 0)
		goto fail;
	kv_info("net %s: %u queue pair(s) of %u, mtu %u, mac %02x:%02x:%02x:%02x:%02x:%02x",
		n->name, pairs, qsize, n->mtu, cfg->mac[0], cfg->mac[1], cfg->mac[2], cfg->mac[3],
		cfg->mac[4], cfg->mac[5]);
	*out = n;
	return 0;
fail:
	virtio_net_destroy(n);
	return r;
}

void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < n->pairs; i++) {
		const struct virtio_net_stats *s = &n->pair[i].stats;
#define SUM(f) out->f += __atomic_load_n(&s->f, __ATOMIC_RELAXED)
		SUM(rx_packets);
		SUM(rx_bytes);
		SUM(tx_packets);
		SUM(tx_bytes);
		SUM(rx_dropped);
		SUM(rx_malformed);
		SUM(rx_no_buffers);
		SUM(tx_dropped);
		SUM(tx_malformed);
		SUM(tx_blocked);
		SUM(ring_errors);
		SUM(ctrl_commands);
		SUM(ctrl_errors);
#undef SUM
	}
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	virtio_pci_destroy(&n->t); /* stops the queue pair threads */
	if (n->pair[0].path) {
		struct virtio_net_stats s;
		virtio_net_get_stats(n, &s);
		kv_info("net %s: rx %llu packets %llu bytes, tx %llu packets %llu bytes; "
			"dropped rx %llu tx %llu; malformed rx %llu tx %llu; rx waits %llu, "
			"tx waits %llu, broken rings %llu, control %llu (%llu refused)",
			n->name, (unsigned long long)s.rx_packets, (unsigned long long)s.rx_bytes,
			(unsigned long long)s.tx_packets, (unsigned long long)s.tx_bytes,
			(unsigned long long)s.rx_dropped, (unsigned long long)s.tx_dropped,
			(unsigned long long)s.rx_malformed, (unsigned long long)s.tx_malformed,
			(unsigned long long)s.rx_no_buffers, (unsigned long long)s.tx_blocked,
			(unsigned long long)s.ring_errors, (unsigned long long)s.ctrl_commands,
			(unsigned long long)s.ctrl_errors);
	}
	for (unsigned i = 0; i < VIRTIO_NET_MAX_PAIRS; i++) {
		struct net_pair *np = &n->pair[i];
		kv_close_safe(np->fd);
		kv_close_safe(np->stop_fd);
		kv_close_safe(np->cfg_fd);
		free(np->path);
	}
	free(n->ctrl_req);
	free(n);
}

struct pci_device *virtio_net_pci(struct virtio_net *n)
{
	return &n->t.pci;
}
