/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MSI-X (PCI Local Bus 3.0, 6.8.2): the capability in config space, the
 * vector table and the pending-bit array, which live in a BAR the device
 * forwards here.  A vector fires unless the function or the entry is masked;
 * then its pending bit is set and the message goes out when the mask is
 * lifted.
 *
 * Delivery: when the host offers irqfds (dev_host.irqfd_open), every vector
 * gets a GSI and an eventfd at init, and while the vector is enabled and
 * unmasked its GSI is routed to the guest's message (dev_host.msi_route), so
 * firing is one eventfd write.  The route follows the guest: it is set when
 * the guest enables/unmasks the vector or rewrites its message, and removed
 * when it masks it.  Masking is also checked here before each write, so a
 * masked vector only ever sets its pending bit.  Without irqfds, or when a
 * route cannot be installed, the vector fires through dev_host.signal_msi().
 */
#ifndef KVIRT_MSIX_H
#define KVIRT_MSIX_H

#include <pthread.h>
#include <stdint.h>

#include "kvirt/devices.h"
#include "kvirt/pci.h"

#define MSIX_MAX_VECTORS 64
#define MSIX_NO_VECTOR	 0xffff

struct msix {
	pthread_mutex_t lock;
	struct pci_device *pci;
	const struct dev_host *host;
	uint8_t cap; /* config offset of the capability */
	uint16_t nvec;
	uint32_t table[MSIX_MAX_VECTORS][4]; /* addr lo, addr hi, data, vector control */
	uint64_t pba;
	/* Per vector: irqfd (-1: none, signal_msi instead), its GSI, the installed route. */
	int irqfd[MSIX_MAX_VECTORS];
	unsigned gsi[MSIX_MAX_VECTORS];
	bool routed[MSIX_MAX_VECTORS];
	uint32_t route[MSIX_MAX_VECTORS][3]; /* addr lo, addr hi, data of the route */
};

/* Add the capability to `d`: table at `table_off` and PBA at `pba_off` of BAR `bar`. */
int msix_init(struct msix *m, struct pci_device *d, const struct dev_host *host, uint16_t nvec,
	      unsigned bar, uint32_t table_off, uint32_t pba_off, struct kv_err **err);
/* Release irqfds and routes; accepts a half-initialised `m`. */
void msix_destroy(struct msix *m);
/* How many vectors fire through an irqfd (the others use signal_msi). */
unsigned msix_irqfd_vectors(const struct msix *m);
void msix_table_read(struct msix *m, uint64_t off, void *data, unsigned len);
void msix_table_write(struct msix *m, uint64_t off, const void *data, unsigned len);
void msix_pba_read(struct msix *m, uint64_t off, void *data, unsigned len);
/* The guest changed config space: a lifted function mask releases pending vectors. */
void msix_config_written(struct msix *m);
void msix_notify(struct msix *m, uint16_t vector);
/* Forget the table (device reset). */
void msix_reset(struct msix *m);

#endif
