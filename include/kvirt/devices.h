/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Legacy platform devices: 8250 UART, i8042 (reset line only), ACPI PM
 * registers (fixed-hardware power button, sleep control, PM timer, reset
 * register), pvpanic and the debug/boot-timer port.
 *
 * Devices reach the VM only through `struct dev_host`: an interrupt line
 * setter and a platform-event callback.  That keeps the device models free of
 * KVM, so unit tests drive them with a fake host.
 */
#ifndef KVIRT_DEVICES_H
#define KVIRT_DEVICES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvirt/bus.h"
#include "kvirt/err.h"

enum dev_event {
	DEV_EVENT_POWEROFF,	   /* ACPI S5 */
	DEV_EVENT_RESET,	   /* ACPI reset register, i8042 reset line */
	DEV_EVENT_PANIC,	   /* pvpanic write */
	DEV_EVENT_PANIC_MESSAGE,   /* the console printed "Kernel panic - not syncing" */
	DEV_EVENT_BOOT_CHECKPOINT, /* first write to the debug port */
	DEV_EVENT_DEBUG_CODE,	   /* later writes to the debug port */
	DEV_EVENT_TEST_TRIGGER,	   /* -Dtest_hooks=true builds: console printed the trigger */
};

struct dev_host {
	/* Drive interrupt line `gsi` to `level` (0/1).  Edge devices pulse it. */
	void (*set_irq)(void *ctx, unsigned gsi, int level);
	void (*event)(void *ctx, enum dev_event ev, uint32_t value);
	/* Deliver one MSI (PCI devices); may be called from any thread. */
	void (*signal_msi)(void *ctx, uint64_t addr, uint32_t data);
	/*
	 * Optional: make a guest write of `len` bytes to MMIO `addr` signal
	 * eventfd `fd` inside KVM, without a VM exit to userspace (KVM_IOEVENTFD).
	 */
	int (*ioeventfd)(void *ctx, uint64_t addr, unsigned len, int fd, bool assign);
	/*
	 * Optional (all three or none): MSI through the VM's GSI routing table.
	 * irqfd_open() gives one MSI-X vector a GSI of its own and an eventfd
	 * that KVM turns into that GSI's interrupt (KVM_IRQFD); it returns the
	 * fd or -errno.  msi_route() points the GSI at message (addr, data), or
	 * removes its route when !enable.  irqfd_close() undoes irqfd_open().
	 * A write to the eventfd then interrupts the guest without any ioctl.
	 */
	int (*irqfd_open)(void *ctx, unsigned *gsi);
	void (*irqfd_close)(void *ctx, unsigned gsi, int fd);
	int (*msi_route)(void *ctx, unsigned gsi, bool enable, uint64_t addr, uint32_t data);
	void *ctx;
};

/* ---- fixed platform addresses (documented in docs/vmm.md) ---- */
#define COM1_PORT	 0x3f8
#define COM1_IRQ	 4
#define I8042_DATA_PORT	 0x60
#define I8042_CMD_PORT	 0x64
#define PVPANIC_PORT	 0x505
#define DEBUG_PORT	 0x440
#define ACPI_PM_BASE	 0x600
#define ACPI_PM1_EVT	 (ACPI_PM_BASE + 0x0) /* 4 bytes: status, enable */
#define ACPI_PM1_CNT	 (ACPI_PM_BASE + 0x4) /* 2 bytes */
#define ACPI_PM_TMR	 (ACPI_PM_BASE + 0x8) /* 4 bytes */
#define ACPI_RESET_PORT	 (ACPI_PM_BASE + 0xc) /* 1 byte */
#define ACPI_PM_LEN	 0x10
#define ACPI_RESET_VALUE 0x0e
#define ACPI_SCI_IRQ	 9
#define ACPI_S5_SLP_TYP	 5

/* ---- 8250 UART ---- */
#define UART_RX_CAP 4096

struct uart {
	pthread_mutex_t lock;
	const struct dev_host *host;
	unsigned irq;
	int out_fd; /* -1: output discarded */
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thr_ipending; /* "transmitter empty" interrupt latched until IIR is read */
	bool irq_level;
	uint8_t rx[UART_RX_CAP];
	size_t rx_head, rx_len;
	unsigned panic_match; /* chars of the panic banner matched so far */
	unsigned test_match;  /* chars of the test trigger matched so far (test builds) */
};

void uart_init(struct uart *u, const struct dev_host *host, unsigned irq, int out_fd);
void uart_destroy(struct uart *u);
int uart_attach(struct uart *u, struct bus *pio, uint64_t base, struct kv_err **err);
void uart_set_output(struct uart *u, int fd);
/* Platform reset: registers as firmware leaves them, interrupt line low; input kept. */
void uart_reset(struct uart *u);
/* Queue host input for the guest; returns bytes accepted (0 when full). */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);
size_t uart_rx_room(struct uart *u);
extern const struct bus_ops uart_ops;

/* ---- i8042 ---- */
struct i8042 {
	pthread_mutex_t lock;
	const struct dev_host *host;
	uint8_t ctr;	 /* controller configuration byte */
	uint8_t pending; /* command waiting for its data byte */
	uint8_t out;	 /* output buffer */
	bool out_full;
	bool last_was_cmd;
};
void i8042_init(struct i8042 *k, const struct dev_host *host);
int i8042_attach(struct i8042 *k, struct bus *pio, struct kv_err **err);

/* ---- ACPI PM ---- */
struct acpi_pm {
	pthread_mutex_t lock;
	const struct dev_host *host;
	uint16_t pm1_sts, pm1_en, pm1_cnt;
	uint64_t t0_ns; /* PM timer epoch */
	bool sci_level;
};
#define ACPI_PM1_PWRBTN (1u << 8)
void acpi_pm_init(struct acpi_pm *pm, const struct dev_host *host);
int acpi_pm_attach(struct acpi_pm *pm, struct bus *pio, struct kv_err **err);
/* Press the power button: PWRBTN_STS, and an SCI when the guest enabled it. */
void acpi_pm_power_button(struct acpi_pm *pm);
/* Platform reset: status and enables cleared, SCI_EN set, SCI line low. */
void acpi_pm_reset(struct acpi_pm *pm);

/* ---- pvpanic + debug port ---- */
struct misc_ports {
	const struct dev_host *host;
	bool debug_seen; /* atomic flag: only the first write is a boot checkpoint */
};
void misc_ports_init(struct misc_ports *m, const struct dev_host *host);
int misc_ports_attach(struct misc_ports *m, struct bus *pio, struct kv_err **err);

#endif
