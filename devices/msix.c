/* SPDX-License-Identifier: Apache-2.0 */
#include "kvirt/msix.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kvirt/log.h"

#define MSIX_CTRL_ENABLE  0x8000
#define MSIX_CTRL_MASK	  0x4000
#define MSIX_ENTRY_MASKED 1

int msix_init(struct msix *m, struct pci_device *d, const struct dev_host *host, uint16_t nvec,
	      unsigned bar, uint32_t table_off, uint32_t pba_off, struct kv_err **err)
{
	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < MSIX_MAX_VECTORS; i++)
		m->irqfd[i] = -1;
	if (nvec == 0 || nvec > MSIX_MAX_VECTORS)
		return kv_err_set(err, EINVAL, "msix: %u vectors (1..%d)", nvec, MSIX_MAX_VECTORS);
	pthread_mutex_init(&m->lock, NULL);
	m->pci = d;
	m->host = host;
	m->nvec = nvec;
	if (host->irqfd_open && host->irqfd_close && host->msi_route) {
		for (unsigned i = 0; i < nvec; i++) {
			int fd = host->irqfd_open(host->ctx, &m->gsi[i]);
			if (fd < 0) {
				/* Not fatal: the remaining vectors use signal_msi. */
				kv_warn(
				    "msix: no irqfd for vector %u (%s); it is injected by ioctl", i,
				    strerror(-fd));
				break;
			}
			m->irqfd[i] = fd;
		}
	}
	m->cap = pci_device_add_cap(d, PCI_CAP_ID_MSIX, 12);
	if (!m->cap)
		return kv_err_set(err, ENOSPC, "msix: no room in config space");
	uint16_t ctrl = (uint16_t)(nvec - 1);
	d->cfg[m->cap + 2] = (uint8_t)ctrl;
	d->cfg[m->cap + 3] = (uint8_t)(ctrl >> 8);
	uint32_t t = table_off | bar, p = pba_off | bar;
	memcpy(d->cfg + m->cap + 4, &t, 4);
	memcpy(d->cfg + m->cap + 8, &p, 4);
	d->wmask[m->cap + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASK) >> 8;
	msix_reset(m);
	return 0;
}

void msix_destroy(struct msix *m)
{
	if (!m->nvec)
		return;
	for (unsigned v = 0; v < m->nvec; v++) {
		if (m->irqfd[v] < 0)
			continue;
		if (m->routed[v])
			m->host->msi_route(m->host->ctx, m->gsi[v], false, 0, 0);
		m->routed[v] = false;
		m->host->irqfd_close(m->host->ctx, m->gsi[v], m->irqfd[v]);
		m->irqfd[v] = -1;
	}
	pthread_mutex_destroy(&m->lock);
	m->nvec = 0;
}

unsigned msix_irqfd_vectors(const struct msix *m)
{
	unsigned n = 0;
	for (unsigned v = 0; v < m->nvec; v++)
		n += m->irqfd[v] >= 0;
	return n;
}

static uint16_t msix_ctrl(struct msix *m)
{
	const uint8_t *c = m->pci->cfg + m->cap + 2;
	return (uint16_t)(__atomic_load_n(&c[0], __ATOMIC_RELAXED) |
			  __atomic_load_n(&c[1], __ATOMIC_RELAXED) << 8);
}

static bool vector_live(struct msix *m, uint16_t ctrl, uint16_t v)
{
	return (ctrl & MSIX_CTRL_ENABLE) && !(ctrl & MSIX_CTRL_MASK) &&
	       !(m->table[v][3] & MSIX_ENTRY_MASKED);
}

/*
 * With the lock held: make vector `v`'s GSI route match the guest's view:
 * routed to its message while live, no route otherwise.  Only changes reach
 * the host, so the guest's usual mask / write message / unmask sequence
 * costs two routing updates.
 */
static void sync_route_locked(struct msix *m, uint16_t v)
{
	if (m->irqfd[v] < 0)
		return;
	const struct dev_host *h = m->host;
	if (!vector_live(m, msix_ctrl(m), v)) {
		if (m->routed[v])
			h->msi_route(h->ctx, m->gsi[v], false, 0, 0);
		m->routed[v] = false;
		return;
	}
	if (m->routed[v] && !memcmp(m->route[v], m->table[v], sizeof(m->route[v])))
		return;
	uint64_t addr = (uint64_t)m->table[v][1] << 32 | m->table[v][0];
	int r = h->msi_route(h->ctx, m->gsi[v], true, addr, m->table[v][2]);
	/* On failure the vector falls back to signal_msi until its next change. */
	m->routed[v] = r >= 0;
	memcpy(m->route[v], m->table[v], sizeof(m->route[v]));
}

static void sync_all_routes_locked(struct msix *m)
{
	for (uint16_t v = 0; v < m->nvec; v++)
		sync_route_locked(m, v);
}

void msix_reset(struct msix *m)
{
	pthread_mutex_lock(&m->lock);
	memset(m->table, 0, sizeof(m->table));
	for (unsigned i = 0; i < m->nvec; i++)
		m->table[i][3] = MSIX_ENTRY_MASKED;
	m->pba = 0;
	sync_all_routes_locked(m);
	pthread_mutex_unlock(&m->lock);
}

/* With the lock held: deliver or latch vector `v`. */
static void fire_locked(struct msix *m, uint16_t v)
{
	uint16_t ctrl = msix_ctrl(m);
	if (!(ctrl & MSIX_CTRL_ENABLE))
		return;
	if (!vector_live(m, ctrl, v)) {
		m->pba |= 1ull << v;
		return;
	}
	m->pba &= ~(1ull << v);
	if (m->routed[v]) {
		uint64_t one = 1;
		if (write(m->irqfd[v], &one, sizeof(one)) == sizeof(one))
			return;
		/* EAGAIN (counter full) cannot lose the interrupt: one is pending anyway. */
		if (errno == EAGAIN)
			return;
	}
	uint64_t addr = (uint64_t)m->table[v][1] << 32 | m->table[v][0];
	m->host->signal_msi(m->host->ctx, addr, m->table[v][2]);
}

void msix_notify(struct msix *m, uint16_t vector)
{
	if (vector >= m->nvec)
		return;
	pthread_mutex_lock(&m->lock);
	fire_locked(m, vector);
	pthread_mutex_unlock(&m->lock);
}

static void release_pending_locked(struct msix *m)
{
	for (uint16_t v = 0; v < m->nvec; v++)
		if (m->pba & (1ull << v))
			fire_locked(m, v);
}

void msix_config_written(struct msix *m)
{
	pthread_mutex_lock(&m->lock);
	sync_all_routes_locked(m);
	release_pending_locked(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_table_read(struct msix *m, uint64_t off, void *data, unsigned len)
{
	memset(data, 0, len);
	if ((len != 4 && len != 8) || (off & (len - 1)) || off + len > 16ull * m->nvec)
		return;
	pthread_mutex_lock(&m->lock);
	memcpy(data, (uint8_t *)m->table + off, len);
	pthread_mutex_unlock(&m->lock);
}

void msix_table_write(struct msix *m, uint64_t off, const void *data, unsigned len)
{
	if ((len != 4 && len != 8) || (off & (len - 1)) || off + len > 16ull * m->nvec)
		return;
	pthread_mutex_lock(&m->lock);
	memcpy((uint8_t *)m->table + off, data, len);
	m->table[off / 16][3] &= MSIX_ENTRY_MASKED; /* other control bits are reserved */
	sync_route_locked(m, (uint16_t)(off / 16));
	release_pending_locked(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_read(struct msix *m, uint64_t off, void *data, unsigned len)
{
	memset(data, 0, len);
	if ((len != 4 && len != 8) || (off & (len - 1)) || off + len > 8)
		return;
	pthread_mutex_lock(&m->lock);
	memcpy(data, (uint8_t *)&m->pba + off, len);
	pthread_mutex_unlock(&m->lock);
}
