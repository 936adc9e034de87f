/* SPDX-License-Identifier: Apache-2.0 */
#include "kvirt/pci.h"

#include <errno.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void pci_device_init(struct pci_device *d, const struct pci_device_ops *ops, void *opaque,
		     uint16_t vendor, uint16_t device, uint16_t class_code, uint16_t subsys_vendor,
		     uint16_t subsys_id)
{
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->opaque = opaque;
	put16(d->cfg + PCI_VENDOR_ID, vendor);
	put16(d->cfg + PCI_DEVICE_ID, device);
	put16(d->cfg + PCI_CLASS_DEVICE, class_code);
	put16(d->cfg + PCI_SUBSYSTEM_VENDOR, subsys_vendor);
	put16(d->cfg + PCI_SUBSYSTEM_ID, subsys_id);
	d->cfg[PCI_REVISION_ID] = 1;
	/*
	 * Interrupt pin 0: no INTx.  Devices here interrupt through MSI-X only,
	 * and Linux then skips the (absent) _PRT lookup.
	 */
	d->cfg[PCI_INTERRUPT_PIN] = 0;
	/* Memory decode, bus mastering, INTx disable are the guest's to set. */
	put16(d->wmask + PCI_COMMAND,
	      PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_OFF);
	d->wmask[0x3c] = 0xff; /* interrupt line: scratch for the OS */
	d->next_cap = 0x40;
}

int pci_device_add_bar(struct pci_device *d, unsigned bar, uint64_t size, struct kv_err **err)
{
	if (bar >= PCI_NUM_BARS || d->bar_size[bar])
		return kv_err_set(err, EINVAL, "pci: BAR %u is invalid or taken", bar);
	if (size < 4096 || size > (1ull << 30) || (size & (size - 1)))
		return kv_err_set(err, EINVAL, "pci: BAR size %llu is not a power of two in 4K..1G",
				  (unsigned long long)size);
	d->bar_size[bar] = size;
	/* Sizing (write all-ones, read back) falls out of the write mask. */
	put32(d->wmask + PCI_BAR0 + 4 * bar, (uint32_t) ~(size - 1));
	return 0;
}

uint8_t pci_device_add_cap(struct pci_device *d, uint8_t id, uint8_t len)
{
	uint8_t off = (uint8_t)((d->next_cap + 3) & ~3u);
	if (off < 0x40 || (unsigned)off + len > PCI_CFG_SIZE)
		return 0;
	d->cfg[off] = id;
	d->cfg[off + 1] = 0;
	if (d->last_cap)
		d->cfg[d->last_cap + 1] = off;
	else
		d->cfg[PCI_CAPABILITY_LIST] = off;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	d->last_cap = off;
	d->next_cap = (uint8_t)(off + len < PCI_CFG_SIZE ? off + len : 0xff);
	return off;
}

uint64_t pci_device_bar_addr(const struct pci_device *d, unsigned bar)
{
	return get32(d->cfg + PCI_BAR0 + 4 * bar) & ~0xfull;
}

void pci_host_init(struct pci_host *h)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	pci_device_init(&h->bridge, NULL, NULL, PCI_VENDOR_ID_REDHAT, PCI_DEVICE_ID_REDHAT_HOST,
			PCI_CLASS_BRIDGE_HOST, PCI_VENDOR_ID_REDHAT, 0x1100);
	/* A host bridge decodes nothing itself; its command register stays 0. */
	memset(h->bridge.wmask, 0, sizeof(h->bridge.wmask));
	h->slots[0] = &h->bridge;
	h->next_bar = PCI_MMIO_WINDOW_START;
	memcpy(h->bridge.cfg_reset, h->bridge.cfg, PCI_CFG_SIZE);
}

void pci_host_reset(struct pci_host *h)
{
	pthread_mutex_lock(&h->lock);
	h->config_addr = 0;
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++)
		if (h->slots[s])
			memcpy(h->slots[s]->cfg, h->slots[s]->cfg_reset, PCI_CFG_SIZE);
	pthread_mutex_unlock(&h->lock);
}

void pci_host_destroy(struct pci_host *h)
{
	pthread_mutex_destroy(&h->lock);
}

int pci_host_add(struct pci_host *h, struct pci_device *d, struct kv_err **err)
{
	unsigned slot = 1;
	while (slot < PCI_MAX_SLOTS && h->slots[slot])
		slot++;
	if (slot == PCI_MAX_SLOTS)
		return kv_err_set(err, ENOSPC, "pci: no free slot for %s",
				  d->ops ? d->ops->name : "device");
	for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
		uint64_t size = d->bar_size[b];
		if (!size)
			continue;
		uint64_t addr = (h->next_bar + size - 1) & ~(size - 1); /* naturally aligned */
		if (addr + size > PCI_MMIO_WINDOW_END)
			return kv_err_set(err, ENOSPC, "pci: the MMIO window is full (%s BAR %u)",
					  d->ops ? d->ops->name : "device", b);
		put32(d->cfg + PCI_BAR0 + 4 * b, (uint32_t)addr);
		h->next_bar = addr + size;
	}
	d->slot = slot;
	memcpy(d->cfg_reset, d->cfg, PCI_CFG_SIZE);
	h->slots[slot] = d;
	return 0;
}

/* Only bus 0, function 0 exists; everything else reads as absent (all-ones). */
static struct pci_device *pci_lookup(struct pci_host *h, unsigned slot)
{
	return slot < PCI_MAX_SLOTS ? h->slots[slot] : NULL;
}

static uint32_t config_read_locked(struct pci_host *h, unsigned slot, unsigned offset, unsigned len)
{
	struct pci_device *d = pci_lookup(h, slot);
	if (!d || offset >= PCI_CFG_SIZE || len > 4 || offset + len > PCI_CFG_SIZE)
		return 0xffffffffu;
	uint32_t v = 0;
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)d->cfg[offset + i] << (8 * i);
	return v;
}

static void config_write_locked(struct pci_host *h, unsigned slot, unsigned offset, uint32_t val,
				unsigned len)
{
	struct pci_device *d = pci_lookup(h, slot);
	if (!d || offset >= PCI_CFG_SIZE || len > 4 || offset + len > PCI_CFG_SIZE)
		return;
	for (unsigned i = 0; i < len; i++) {
		uint8_t m = d->wmask[offset + i], b = (uint8_t)(val >> (8 * i));
		d->cfg[offset + i] = (uint8_t)((d->cfg[offset + i] & ~m) | (b & m));
	}
	if (d->ops && d->ops->config_written)
		d->ops->config_written(d, offset, len);
}

uint32_t pci_host_config_read(struct pci_host *h, unsigned slot, unsigned offset, unsigned len)
{
	pthread_mutex_lock(&h->lock);
	uint32_t v = config_read_locked(h, slot, offset, len);
	pthread_mutex_unlock(&h->lock);
	return v;
}

void pci_host_config_write(struct pci_host *h, unsigned slot, unsigned offset, uint32_t val,
			   unsigned len)
{
	pthread_mutex_lock(&h->lock);
	config_write_locked(h, slot, offset, val, len);
	pthread_mutex_unlock(&h->lock);
}

/*
 * Type 1 address: enable (31), bus (23:16), device (15:11), function (10:8),
 * dword register (7:2).  Decoded to a slot, or PCI_MAX_SLOTS when it names
 * nothing that exists.
 */
static unsigned type1_slot(uint32_t addr)
{
	if (!(addr & 0x80000000u) || ((addr >> 16) & 0xff) != 0 || ((addr >> 8) & 7) != 0)
		return PCI_MAX_SLOTS;
	return (addr >> 11) & 0x1f;
}

static void addr_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct pci_host *h = opaque;
	pthread_mutex_lock(&h->lock);
	uint32_t v = h->config_addr;
	pthread_mutex_unlock(&h->lock);
	if (offset == 0 && len == 4)
		memcpy(data, &v, 4);
	else
		memset(data, 0xff, len);
}

static void addr_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct pci_host *h = opaque;
	/* Byte writes to 0xCF9 are the PC reset-control register, not ours. */
	if (offset != 0 || len != 4)
		return;
	uint32_t v;
	memcpy(&v, data, 4);
	pthread_mutex_lock(&h->lock);
	h->config_addr = v & 0x80fffffcu;
	pthread_mutex_unlock(&h->lock);
}

static void data_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct pci_host *h = opaque;
	pthread_mutex_lock(&h->lock);
	uint32_t a = h->config_addr;
	uint32_t v = config_read_locked(h, type1_slot(a), (a & 0xfc) + (unsigned)offset, len);
	pthread_mutex_unlock(&h->lock);
	memcpy(data, &v, len > 4 ? 4 : len);
}

static void data_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct pci_host *h = opaque;
	uint32_t v = 0;
	memcpy(&v, data, len > 4 ? 4 : len);
	pthread_mutex_lock(&h->lock);
	uint32_t a = h->config_addr;
	config_write_locked(h, type1_slot(a), (a & 0xfc) + (unsigned)offset, v, len);
	pthread_mutex_unlock(&h->lock);
}

const struct bus_ops pci_config_addr_ops = { .name = "pci-config-address",
					     .read = addr_read,
					     .write = addr_write };
const struct bus_ops pci_config_data_ops = { .name = "pci-config-data",
					     .read = data_read,
					     .write = data_write };

/* The device and BAR that decode `addr` now, with the offset into the BAR. */
static struct pci_device *bar_lookup(struct pci_host *h, uint64_t addr, unsigned len, unsigned *bar,
				     uint64_t *offset)
{
	struct pci_device *found = NULL;
	pthread_mutex_lock(&h->lock);
	for (unsigned s = 1; s < PCI_MAX_SLOTS && !found; s++) {
		struct pci_device *d = h->slots[s];
		if (!d || !(d->cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY))
			continue;
		for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
			uint64_t base = pci_device_bar_addr(d, b), size = d->bar_size[b];
			if (size && addr >= base && addr - base < size &&
			    addr - base + len <= size) {
				found = d;
				*bar = b;
				*offset = addr - base;
				break;
			}
		}
	}
	pthread_mutex_unlock(&h->lock);
	return found;
}

static void window_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	unsigned bar;
	uint64_t off;
	struct pci_device *d = bar_lookup(opaque, PCI_MMIO_WINDOW_START + offset, len, &bar, &off);
	if (d && d->ops->bar_read)
		d->ops->bar_read(d, bar, off, data, len);
	else
		memset(data, 0xff, len);
}

static void window_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	unsigned bar;
	uint64_t off;
	struct pci_device *d = bar_lookup(opaque, PCI_MMIO_WINDOW_START + offset, len, &bar, &off);
	if (d && d->ops->bar_write)
		d->ops->bar_write(d, bar, off, data, len);
}

const struct bus_ops pci_mmio_window_ops = { .name = "pci-mmio-window",
					     .read = window_read,
					     .write = window_write };

int pci_host_attach(struct pci_host *h, struct bus *pio, struct bus *mmio, struct kv_err **err)
{
	int r = bus_register(pio, PCI_CONFIG_ADDR_PORT, 4, &pci_config_addr_ops, h, err);
	if (r < 0)
		return r;
	r = bus_register(pio, PCI_CONFIG_DATA_PORT, 4, &pci_config_data_ops, h, err);
	if (r < 0)
		return r;
	return bus_register(mmio, PCI_MMIO_WINDOW_START,
			    PCI_MMIO_WINDOW_END - PCI_MMIO_WINDOW_START, &pci_mmio_window_ops, h,
			    err);
}
