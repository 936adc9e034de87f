/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI: one host bridge (bus 0 only) reached through the PC's "type 1"
 * configuration mechanism (ports 0xCF8/0xCFC), devices in slots 1..31, and
 * 32-bit memory BARs placed by the VMM in the MMIO window below the IOAPIC,
 * the way firmware would leave them.  The DSDT describes the bridge
 * (PNP0A03) and its windows, so Linux keeps those assignments.
 *
 * This file is transport plumbing only (house rule 4): a device model owns a
 * `struct pci_device`, fills its config header and BARs, and gets BAR
 * accesses through `struct pci_device_ops`.  BAR decoding is looked up on
 * every access from the live config space, so a guest that moves a BAR is
 * followed without re-registering anything on the bus.
 */
#ifndef KVIRT_PCI_H
#define KVIRT_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvirt/bus.h"
#include "kvirt/err.h"

#define PCI_CONFIG_ADDR_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc
/* 32-bit MMIO window for BARs: from the hole start up to the IOAPIC. */
#define PCI_MMIO_WINDOW_START 0xc0000000ull
#define PCI_MMIO_WINDOW_END   0xfec00000ull /* exclusive */
#define PCI_MAX_SLOTS	      32
#define PCI_NUM_BARS	      6
#define PCI_CFG_SIZE	      256

/* Config header offsets (PCI Local Bus 3.0, 6.1). */
#define PCI_VENDOR_ID		  0x00
#define PCI_DEVICE_ID		  0x02
#define PCI_COMMAND		  0x04
#define PCI_STATUS		  0x06
#define PCI_REVISION_ID		  0x08
#define PCI_CLASS_PROG		  0x09
#define PCI_CLASS_DEVICE	  0x0a
#define PCI_HEADER_TYPE		  0x0e
#define PCI_BAR0		  0x10
#define PCI_SUBSYSTEM_VENDOR	  0x2c
#define PCI_SUBSYSTEM_ID	  0x2e
#define PCI_CAPABILITY_LIST	  0x34
#define PCI_INTERRUPT_PIN	  0x3d
#define PCI_COMMAND_MEMORY	  0x2
#define PCI_COMMAND_MASTER	  0x4
#define PCI_COMMAND_INTX_OFF	  0x400
#define PCI_STATUS_CAP_LIST	  0x10
#define PCI_CAP_ID_VNDR		  0x09
#define PCI_CAP_ID_MSIX		  0x11
#define PCI_CLASS_BRIDGE_HOST	  0x0600
#define PCI_VENDOR_ID_REDHAT	  0x1b36
#define PCI_DEVICE_ID_REDHAT_HOST 0x0008

struct pci_device;

struct pci_device_ops {
	const char *name;
	/* Access to BAR `bar` at `offset` from its base; len 1, 2, 4 or 8. */
	void (*bar_read)(struct pci_device *d, unsigned bar, uint64_t offset, void *data,
			 unsigned len);
	void (*bar_write)(struct pci_device *d, unsigned bar, uint64_t offset, const void *data,
			  unsigned len);
	/*
	 * Optional: called (with the host's config lock held) after the guest
	 * wrote [offset, offset+len) of config space, writable bits applied.
	 */
	void (*config_written)(struct pci_device *d, unsigned offset, unsigned len);
};

struct pci_device {
	const struct pci_device_ops *ops;
	void *opaque;			 /* the device model */
	uint8_t cfg[PCI_CFG_SIZE];	 /* live config space */
	uint8_t cfg_reset[PCI_CFG_SIZE]; /* power-on config space (pci_host_reset) */
	uint8_t wmask[PCI_CFG_SIZE];	 /* bits the guest may write */
	uint64_t bar_size[PCI_NUM_BARS]; /* 0: BAR not implemented */
	uint8_t next_cap;		 /* where the next capability goes */
	uint8_t last_cap;		 /* offset of the last one (0: none yet) */
	unsigned slot;			 /* assigned by pci_host_add() */
};

struct pci_host {
	pthread_mutex_t lock; /* config address + config space of every device */
	uint32_t config_addr;
	struct pci_device bridge;
	struct pci_device *slots[PCI_MAX_SLOTS];
	uint64_t next_bar; /* allocation cursor in the MMIO window */
};

/* Header for an endpoint: ids, class (base << 8 | sub), no INTx pin. */
void pci_device_init(struct pci_device *d, const struct pci_device_ops *ops, void *opaque,
		     uint16_t vendor, uint16_t device, uint16_t class_code, uint16_t subsys_vendor,
		     uint16_t subsys_id);
/* A 32-bit non-prefetchable memory BAR of `size` bytes (a power of two, >= 4 KiB). */
int pci_device_add_bar(struct pci_device *d, unsigned bar, uint64_t size, struct kv_err **err);
/*
 * Append a capability of `len` bytes (id and next pointer included) to the
 * list; returns its config offset, or 0 when config space is full.
 */
uint8_t pci_device_add_cap(struct pci_device *d, uint8_t id, uint8_t len);

/*
 * Platform reset: every function's config space goes back to what it was
 * when it was added (BARs as assigned, command register and capability
 * state such as MSI-X enable cleared).  Device models reset themselves.
 */
void pci_host_reset(struct pci_host *h);

/* Base address the guest currently programmed into `bar`. */
uint64_t pci_device_bar_addr(const struct pci_device *d, unsigned bar);

void pci_host_init(struct pci_host *h);
void pci_host_destroy(struct pci_host *h);
/* Claim 0xCF8/0xCFC on `pio` and the BAR window on `mmio`. */
int pci_host_attach(struct pci_host *h, struct bus *pio, struct bus *mmio, struct kv_err **err);
/* Put `d` in the next free slot and place its BARs in the window. */
int pci_host_add(struct pci_host *h, struct pci_device *d, struct kv_err **err);

/* Config space access as the guest does it (tests use these directly). */
uint32_t pci_host_config_read(struct pci_host *h, unsigned slot, unsigned offset, unsigned len);
void pci_host_config_write(struct pci_host *h, unsigned slot, unsigned offset, uint32_t val,
			   unsigned len);

extern const struct bus_ops pci_config_addr_ops, pci_config_data_ops, pci_mmio_window_ops;

#endif
