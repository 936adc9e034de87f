/* SPDX-License-Identifier: Apache-2.0 */
#include "kvirt/virtio.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/util.h"

#define VIRTIO_PCI_CAP_COMMON 1
#define VIRTIO_PCI_CAP_NOTIFY 2
#define VIRTIO_PCI_CAP_ISR    3
#define VIRTIO_PCI_CAP_DEVICE 4
#define VIRTIO_PCI_VENDOR     0x1af4

/* struct virtio_pci_common_cfg offsets (4.1.4.3). */
enum {
	CC_DFSELECT = 0,
	CC_DF = 4,
	CC_GFSELECT = 8,
	CC_GF = 12,
	CC_MSIX = 16,
	CC_NUMQ = 18,
	CC_STATUS = 20,
	CC_CFGGEN = 21,
	CC_Q_SELECT = 22,
	CC_Q_SIZE = 24,
	CC_Q_MSIX = 26,
	CC_Q_ENABLE = 28,
	CC_Q_NOFF = 30,
	CC_Q_DESCLO = 32,
	CC_Q_DESCHI = 36,
	CC_Q_AVAILLO = 40,
	CC_Q_AVAILHI = 44,
	CC_Q_USEDLO = 48,
	CC_Q_USEDHI = 52,
	CC_SIZE = 56,
};

static void add_virtio_cap(struct pci_device *d, uint8_t type, uint32_t off, uint32_t len,
			   bool notify)
{
	uint8_t c = pci_device_add_cap(d, PCI_CAP_ID_VNDR, notify ? 20 : 16);
	if (!c)
		return;
	d->cfg[c + 2] = notify ? 20 : 16;
	d->cfg[c + 3] = type;
	d->cfg[c + 4] = 0; /* BAR 0 */
	memcpy(d->cfg + c + 8, &off, 4);
	memcpy(d->cfg + c + 12, &len, 4);
	if (notify) {
		uint32_t mult = VIRTIO_NOTIFY_MULTIPLIER;
		memcpy(d->cfg + c + 16, &mult, 4);
	}
}

void virtio_queue_interrupt(struct virtio_queue *q)
{
	if (!virtq_should_notify(&q->vq))
		return;
	__atomic_or_fetch(&q->t->isr, 1, __ATOMIC_RELAXED);
	msix_notify(&q->t->msix, q->msix_vector);
}

void virtio_pci_needs_reset(struct virtio_pci *t)
{
	/*
	 * Lock-free: I/O threads call this, and a reset holds t->lock while it
	 * waits for those threads to stop.
	 */
	__atomic_or_fetch(&t->status, VIRTIO_STATUS_NEEDS_RESET, __ATOMIC_RELAXED);
	uint16_t vec = __atomic_load_n(&t->config_vector, __ATOMIC_RELAXED);
	__atomic_or_fetch(&t->isr, 2, __ATOMIC_RELAXED);
	msix_notify(&t->msix, vec);
}

static void queues_unplug(struct virtio_pci *t)
{
	for (unsigned i = 0; i < t->nqueues; i++) {
		struct virtio_queue *q = &t->queues[i];
		if (q->ioeventfd && t->host->ioeventfd)
			t->host->ioeventfd(t->host->ctx, q->ioeventfd_addr, 2, q->kick_fd, false);
		q->ioeventfd = false;
	}
}

/* 2.4: writing 0 to device_status resets the device. */
static void device_reset_locked(struct virtio_pci *t)
{
	if (t->started && t->ops->stop)
		t->ops->stop(t->dev);
	t->started = false;
	queues_unplug(t);
	t->driver_features = 0;
	t->dfselect = t->gfselect = 0;
	t->status = 0;
	t->isr = 0;
	t->config_vector = MSIX_NO_VECTOR;
	t->queue_select = 0;
	for (unsigned i = 0; i < t->nqueues; i++) {
		struct virtio_queue *q = &t->queues[i];
		virtq_reset(&q->vq);
		q->size = q->max_size;
		q->msix_vector = MSIX_NO_VECTOR;
		q->enabled = false;
		q->desc = q->driver = q->device = 0;
		uint64_t drain;
		if (read(q->kick_fd, &drain, sizeof(drain)) < 0) {
			/* EAGAIN: nothing pending. */
		}
	}
	msix_reset(&t->msix);
}

void virtio_pci_reset(struct virtio_pci *t)
{
	pthread_mutex_lock(&t->lock);
	device_reset_locked(t);
	pthread_mutex_unlock(&t->lock);
}

static void driver_ok_locked(struct virtio_pci *t)
{
	uint64_t bar = pci_device_bar_addr(&t->pci, 0);
	for (unsigned i = 0; i < t->nqueues; i++) {
		struct virtio_queue *q = &t->queues[i];
		if (!q->enabled || !t->host->ioeventfd)
			continue;
		q->ioeventfd_addr = bar + VIRTIO_BAR_NOTIFY + VIRTIO_NOTIFY_MULTIPLIER * i;
		q->ioeventfd =
		    t->host->ioeventfd(t->host->ctx, q->ioeventfd_addr, 2, q->kick_fd, true) == 0;
	}
	struct kv_err *err = NULL;
	if (t->ops->start(t->dev, &err) < 0) {
		kv_error("%s: %s", t->ops->name, kv_err_msg(err));
		kv_err_free(err);
		t->status |= VIRTIO_STATUS_NEEDS_RESET;
		return;
	}
	t->started = true;
}

static void set_status_locked(struct virtio_pci *t, uint8_t v)
{
	if (v == 0) {
		device_reset_locked(t);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(t->status & VIRTIO_STATUS_FEATURES_OK)) {
		/* Accept only a subset of what we offered, with VERSION_1 (modern only). */
		if ((t->driver_features & ~t->device_features) ||
		    !(t->driver_features & (1ull << VIRTIO_F_VERSION_1)))
			v &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	uint8_t old = t->status;
	t->status = (uint8_t)(v | (old & VIRTIO_STATUS_NEEDS_RESET));
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    (v & VIRTIO_STATUS_FEATURES_OK))
		driver_ok_locked(t);
}

static struct virtio_queue *selected(struct virtio_pci *t)
{
	return t->queue_select < t->nqueues ? &t->queues[t->queue_select] : NULL;
}

static uint32_t common_read_locked(struct virtio_pci *t, uint64_t off)
{
	struct virtio_queue *q = selected(t);
	switch (off) {
	case CC_DFSELECT: return t->dfselect;
	case CC_DF:
		return t->dfselect < 2 ? (uint32_t)(t->device_features >> (32 * t->dfselect)) : 0;
	case CC_GFSELECT: return t->gfselect;
	case CC_GF:
		return t->gfselect < 2 ? (uint32_t)(t->driver_features >> (32 * t->gfselect)) : 0;
	case CC_MSIX: return t->config_vector;
	case CC_NUMQ: return t->nqueues;
	case CC_STATUS: return t->status;
	case CC_CFGGEN: return t->config_generation;
	case CC_Q_SELECT: return t->queue_select;
	case CC_Q_SIZE: return q ? q->size : 0;
	case CC_Q_MSIX: return q ? q->msix_vector : MSIX_NO_VECTOR;
	case CC_Q_ENABLE: return q ? q->enabled : 0;
	case CC_Q_NOFF: return q ? q->index : 0;
	case CC_Q_DESCLO: return q ? (uint32_t)q->desc : 0;
	case CC_Q_DESCHI: return q ? (uint32_t)(q->desc >> 32) : 0;
	case CC_Q_AVAILLO: return q ? (uint32_t)q->driver : 0;
	case CC_Q_AVAILHI: return q ? (uint32_t)(q->driver >> 32) : 0;
	case CC_Q_USEDLO: return q ? (uint32_t)q->device : 0;
	case CC_Q_USEDHI: return q ? (uint32_t)(q->device >> 32) : 0;
	}
	return 0;
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	*v = high ? ((*v & 0xffffffffull) | (uint64_t)val << 32) : ((*v & ~0xffffffffull) | val);
}

static void queue_enable_locked(struct virtio_pci *t, struct virtio_queue *q)
{
	int r = virtq_enable(&q->vq, t->mem, q->size, q->desc, q->driver, q->device,
			     virtio_has_feature(t, VIRTIO_F_RING_EVENT_IDX),
			     virtio_has_feature(t, VIRTIO_F_INDIRECT_DESC));
	if (r < 0) {
		kv_warn("%s: queue %u: rings rejected (%s); device needs reset", t->ops->name,
			q->index, strerror(-r));
		t->status |= VIRTIO_STATUS_NEEDS_RESET;
		return;
	}
	q->enabled = true;
}

static void common_write_locked(struct virtio_pci *t, uint64_t off, uint32_t v)
{
	struct virtio_queue *q = selected(t);
	/* Queue registers are frozen once the queue is enabled (4.1.4.3.2). */
	bool q_writable = q && !q->enabled && !(t->status & VIRTIO_STATUS_DRIVER_OK);
	switch (off) {
	case CC_DFSELECT: t->dfselect = v; break;
	case CC_GFSELECT: t->gfselect = v; break;
	case CC_GF:
		if (t->gfselect < 2 && !(t->status & VIRTIO_STATUS_FEATURES_OK))
			set_half(&t->driver_features, t->gfselect == 1, v);
		break;
	case CC_MSIX: t->config_vector = v < t->msix.nvec ? (uint16_t)v : MSIX_NO_VECTOR; break;
	case CC_STATUS: set_status_locked(t, (uint8_t)v); break;
	case CC_Q_SELECT: t->queue_select = (uint16_t)v; break;
	case CC_Q_SIZE:
		/* Any power of two up to the maximum (split rings). */
		if (q_writable && v && v <= q->max_size && !(v & (v - 1)))
			q->size = (uint16_t)v;
		break;
	case CC_Q_MSIX:
		if (q)
			q->msix_vector = v < t->msix.nvec ? (uint16_t)v : MSIX_NO_VECTOR;
		break;
	case CC_Q_ENABLE:
		if (q_writable && v == 1)
			queue_enable_locked(t, q);
		break;
	case CC_Q_DESCLO:
	case CC_Q_DESCHI:
		if (q_writable)
			set_half(&q->desc, off == CC_Q_DESCHI, v);
		break;
	case CC_Q_AVAILLO:
	case CC_Q_AVAILHI:
		if (q_writable)
			set_half(&q->driver, off == CC_Q_AVAILHI, v);
		break;
	case CC_Q_USEDLO:
	case CC_Q_USEDHI:
		if (q_writable)
			set_half(&q->device, off == CC_Q_USEDHI, v);
		break;
	}
}

/*
 * Common config fields are 8, 16 or 32 bits wide; an access of the field's
 * width at its offset is what drivers do, anything else reads 0 / is ignored.
 */
static unsigned common_field_width(uint64_t off)
{
	switch (off) {
	case CC_MSIX:
	case CC_NUMQ:
	case CC_Q_SELECT:
	case CC_Q_SIZE:
	case CC_Q_MSIX:
	case CC_Q_ENABLE:
	case CC_Q_NOFF: return 2;
	case CC_STATUS:
	case CC_CFGGEN: return 1;
	default: return off < CC_SIZE && !(off & 3) ? 4 : 0;
	}
}

static void bar_read(struct pci_device *d, unsigned bar, uint64_t off, void *data, unsigned len)
{
	struct virtio_pci *t = d->opaque;
	memset(data, 0, len);
	if (bar != 0)
		return;
	if (off >= VIRTIO_BAR_MSIX && off < VIRTIO_BAR_PBA) {
		msix_table_read(&t->msix, off - VIRTIO_BAR_MSIX, data, len);
	} else if (off >= VIRTIO_BAR_PBA && off < VIRTIO_BAR_PBA + 8) {
		msix_pba_read(&t->msix, off - VIRTIO_BAR_PBA, data, len);
	} else if (off >= VIRTIO_BAR_DEVICE && off < VIRTIO_BAR_NOTIFY) {
		t->ops->config_read(t->dev, off - VIRTIO_BAR_DEVICE, data, len);
	} else if (off == VIRTIO_BAR_ISR && len == 1) {
		/* Reading the ISR acknowledges it (4.1.4.5). */
		uint8_t v = __atomic_exchange_n(&t->isr, 0, __ATOMIC_RELAXED);
		memcpy(data, &v, 1);
	} else if (off < CC_SIZE && common_field_width(off) == len) {
		pthread_mutex_lock(&t->lock);
		uint32_t v = common_read_locked(t, off);
		pthread_mutex_unlock(&t->lock);
		memcpy(data, &v, len);
	}
}

static void bar_write(struct pci_device *d, unsigned bar, uint64_t off, const void *data,
		      unsigned len)
{
	struct virtio_pci *t = d->opaque;
	if (bar != 0)
		return;
	if (off >= VIRTIO_BAR_MSIX && off < VIRTIO_BAR_PBA) {
		msix_table_write(&t->msix, off - VIRTIO_BAR_MSIX, data, len);
	} else if (off >= VIRTIO_BAR_NOTIFY &&
		   off < VIRTIO_BAR_NOTIFY + VIRTIO_NOTIFY_MULTIPLIER * t->nqueues) {
		/* Only when KVM_IOEVENTFD is unavailable: forward the kick. */
		struct virtio_queue *q =
		    &t->queues[(off - VIRTIO_BAR_NOTIFY) / VIRTIO_NOTIFY_MULTIPLIER];
		uint64_t one = 1;
		if (write(q->kick_fd, &one, sizeof(one)) < 0) {
			/* Counter saturated: a kick is pending anyway. */
		}
	} else if (off >= VIRTIO_BAR_DEVICE && off < VIRTIO_BAR_NOTIFY) {
		if (t->ops->config_write)
			t->ops->config_write(t->dev, off - VIRTIO_BAR_DEVICE, data, len);
	} else if (off < CC_SIZE && common_field_width(off) == len) {
		uint32_t v = 0;
		memcpy(&v, data, len);
		pthread_mutex_lock(&t->lock);
		common_write_locked(t, off, v);
		pthread_mutex_unlock(&t->lock);
	}
}

static void config_written(struct pci_device *d, unsigned off, unsigned len)
{
	struct virtio_pci *t = d->opaque;
	msix_config_written(&t->msix);
}

static const struct pci_device_ops virtio_pci_ops = {
	.name = "virtio-pci",
	.bar_read = bar_read,
	.bar_write = bar_write,
	.config_written = config_written,
};

int virtio_pci_init(struct virtio_pci *t, const struct virtio_device_ops *ops, void *dev,
		    uint64_t features, unsigned nqueues, uint16_t queue_size,
		    const struct dev_host *host, const struct guest_mem *mem, struct kv_err **err)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		t->queues[i].kick_fd = -1;
	if (nqueues == 0 || nqueues > VIRTIO_MAX_QUEUES)
		return kv_err_set(err, EINVAL, "%s: %u queues (1..%d)", ops->name, nqueues,
				  VIRTIO_MAX_QUEUES);
	pthread_mutex_init(&t->lock, NULL);
	t->ops = ops;
	t->dev = dev;
	t->host = host;
	t->mem = mem;
	t->nqueues = nqueues;
	t->device_features = features | 1ull << VIRTIO_F_VERSION_1 |
			     1ull << VIRTIO_F_RING_EVENT_IDX | 1ull << VIRTIO_F_INDIRECT_DESC;
	pci_device_init(&t->pci, &virtio_pci_ops, t, VIRTIO_PCI_VENDOR,
			(uint16_t)(0x1040 + ops->device_id), ops->pci_class, VIRTIO_PCI_VENDOR,
			0x1100);
	int r = pci_device_add_bar(&t->pci, 0, VIRTIO_BAR_SIZE, err);
	if (r < 0)
		return r;
	add_virtio_cap(&t->pci, VIRTIO_PCI_CAP_COMMON, VIRTIO_BAR_COMMON, CC_SIZE, false);
	add_virtio_cap(&t->pci, VIRTIO_PCI_CAP_ISR, VIRTIO_BAR_ISR, 1, false);
	add_virtio_cap(&t->pci, VIRTIO_PCI_CAP_DEVICE, VIRTIO_BAR_DEVICE, 0x1000, false);
	add_virtio_cap(&t->pci, VIRTIO_PCI_CAP_NOTIFY, VIRTIO_BAR_NOTIFY,
		       VIRTIO_NOTIFY_MULTIPLIER * nqueues, true);
	/* One vector per queue plus one for configuration changes. */
	r = msix_init(&t->msix, &t->pci, host, (uint16_t)(nqueues + 1), 0, VIRTIO_BAR_MSIX,
		      VIRTIO_BAR_PBA, err);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < nqueues; i++) {
		struct virtio_queue *q = &t->queues[i];
		q->t = t;
		q->index = i;
		q->max_size = q->size = queue_size;
		q->msix_vector = MSIX_NO_VECTOR;
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick_fd < 0)
			return kv_err_errno(err, "%s: eventfd", ops->name);
	}
	t->config_vector = MSIX_NO_VECTOR;
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *t)
{
	if (!t->ops)
		return;
	pthread_mutex_lock(&t->lock);
	if (t->started && t->ops->stop)
		t->ops->stop(t->dev);
	t->started = false;
	queues_unplug(t);
	pthread_mutex_unlock(&t->lock);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		t->queues[i].kick_fd = kv_close_safe(t->queues[i].kick_fd);
	msix_destroy(&t->msix);
	pthread_mutex_destroy(&t->lock);
	t->ops = NULL;
}
