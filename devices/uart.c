/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 8250/16550A UART.  Transmit is synchronous (each THR write goes straight
 * to the host fd), so the transmitter always looks empty; receive is a FIFO
 * fed by the host side with an interrupt when data is available, which is
 * what makes the console interactive.  The interrupt line is recomputed
 * after every register access, like the real chip's INTR pin.
 */
#include "kvirt/devices.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kvirt/util.h"

/* register offsets */
#define UART_RBR_THR 0
#define UART_IER     1
#define UART_IIR_FCR 2
#define UART_LCR     3
#define UART_MCR     4
#define UART_LSR     5
#define UART_MSR     6
#define UART_SCR     7

#define IER_RDI	 0x01
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI	 0x04
#define IIR_FIFO 0xc0
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR	 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS	 0x10
#define MSR_DSR	 0x20
#define MSR_RI	 0x40
#define MSR_DCD	 0x80

static const char panic_banner[] = "Kernel panic - not syncing";

void uart_init(struct uart *u, const struct dev_host *host, unsigned irq, int out_fd)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->host = host;
	u->irq = irq;
	u->out_fd = out_fd;
	/* 8N1 at 115200 baud, as firmware would leave it. */
	u->lcr = 0x03;
	u->dll = 1;
	/* OUT2 gates the interrupt on a PC; Linux sets it, leave it clear until then. */
	u->mcr = 0x08;
}

void uart_destroy(struct uart *u)
{
	pthread_mutex_destroy(&u->lock);
}

static uint8_t uart_iir(const struct uart *u)
{
	uint8_t fifo = (u->fcr & 1) ? IIR_FIFO : 0;
	if ((u->ier & IER_RDI) && u->rx_len)
		return IIR_RDI | fifo;
	if ((u->ier & IER_THRI) && u->thr_ipending)
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

/* Called with the lock held; the irq callback must not call back into the UART. */
static void uart_update_irq(struct uart *u)
{
	bool level = !(uart_iir(u) & IIR_NONE);
	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->host && u->host->set_irq)
			u->host->set_irq(u->host->ctx, u->irq, level);
	}
}

void uart_reset(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	u->ier = u->scr = u->dlm = u->fcr = 0;
	u->lcr = 0x03;
	u->dll = 1;
	u->mcr = 0x08;
	u->thr_ipending = false;
	u->panic_match = u->test_match = 0;
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

/* Advance *match over `banner`; true when the whole banner was just seen. */
static bool uart_scan_banner(const char *banner, size_t len, unsigned *match, uint8_t c)
{
	/* The banners start with a letter they do not repeat, so restarting on mismatch is exact. */
	if (c == (uint8_t)banner[*match])
		(*match)++;
	else
		*match = c == (uint8_t)banner[0];
	if (*match < len)
		return false;
	*match = 0;
	return true;
}

static void uart_scan_panic(struct uart *u, uint8_t c)
{
	bool panic = uart_scan_banner(panic_banner, sizeof(panic_banner) - 1, &u->panic_match, c);
	if (panic && u->host && u->host->event)
		u->host->event(u->host->ctx, DEV_EVENT_PANIC_MESSAGE, 0);
#ifdef KVIRT_TEST_HOOKS
	/* Test builds only (-Dtest_hooks=true): the guest asks for a forbidden syscall. */
	static const char trigger[] = "KVIRT-TEST-SECCOMP-TRIGGER";
	if (uart_scan_banner(trigger, sizeof(trigger) - 1, &u->test_match, c) && u->host &&
	    u->host->event)
		u->host->event(u->host->ctx, DEV_EVENT_TEST_TRIGGER, 0);
#endif
}

static void uart_push_rx(struct uart *u, uint8_t c)
{
	if (u->rx_len == UART_RX_CAP)
		return; /* overrun: the byte is lost, as on the real chip */
	u->rx[(u->rx_head + u->rx_len) % UART_RX_CAP] = c;
	u->rx_len++;
}

static void uart_transmit(struct uart *u, uint8_t c)
{
	if (u->mcr & MCR_LOOP) {
		uart_push_rx(u, c);
		return;
	}
	uart_scan_panic(u, c);
	if (u->out_fd >= 0 && kv_write_all(u->out_fd, &c, 1) < 0 && errno != EINTR) {
		/* A vanished console reader must not stop the guest: drop output. */
		if (errno == EPIPE || errno == ECONNRESET)
			u->out_fd = -1;
	}
}

static uint8_t uart_read_reg(struct uart *u, unsigned reg)
{
	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (!u->rx_len)
			return 0;
		uint8_t c = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % UART_RX_CAP;
		u->rx_len--;
		return c;
	case UART_IER: return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR_FCR: {
		uint8_t iir = uart_iir(u);
		/* Reading IIR acknowledges a THRE interrupt (8250 datasheet). */
		if ((iir & 0x0f) == IIR_THRI)
			u->thr_ipending = false;
		return iir;
	}
	case UART_LCR: return u->lcr;
	case UART_MCR: return u->mcr;
	case UART_LSR: return LSR_THRE | LSR_TEMT | (u->rx_len ? LSR_DR : 0);
	case UART_MSR:
		if (u->mcr & MCR_LOOP) {
			/* Loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD; Linux tests it. */
			uint8_t m = 0;
			m |= (u->mcr & 0x01) ? MSR_DSR : 0;
			m |= (u->mcr & 0x02) ? MSR_CTS : 0;
			m |= (u->mcr & 0x04) ? MSR_RI : 0;
			m |= (u->mcr & 0x08) ? MSR_DCD : 0;
			return m;
		}
		return MSR_DCD | MSR_DSR | MSR_CTS;
	case UART_SCR: return u->scr;
	}
	return 0xff;
}

static void uart_write_reg(struct uart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
			return;
		}
		uart_transmit(u, v);
		/* The byte left instantly, so THR is empty again. */
		u->thr_ipending = true;
		return;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			return;
		}
		/* Enabling THRI while THR is empty raises it at once. */
		if (!(u->ier & IER_THRI) && (v & IER_THRI))
			u->thr_ipending = true;
		u->ier = v & 0x0f;
		return;
	case UART_IIR_FCR:
		if (v & 0x02) { /* clear RX FIFO */
			u->rx_head = 0;
			u->rx_len = 0;
		}
		u->fcr = v & 0xc9;
		return;
	case UART_LCR: u->lcr = v; return;
	case UART_MCR: u->mcr = v & 0x1f; return;
	case UART_SCR: u->scr = v; return;
	default: return; /* LSR/MSR are read-only */
	}
}

static void uart_bus_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct uart *u = opaque;
	uint8_t *d = data;
	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < len; i++)
		d[i] = off + i < 8 ? uart_read_reg(u, (unsigned)(off + i)) : 0xff;
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static void uart_bus_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct uart *u = opaque;
	const uint8_t *d = data;
	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < len; i++)
		if (off + i < 8)
			uart_write_reg(u, (unsigned)(off + i), d[i]);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

const struct bus_ops uart_ops = {
	.name = "uart-8250",
	.read = uart_bus_read,
	.write = uart_bus_write,
};

int uart_attach(struct uart *u, struct bus *pio, uint64_t base, struct kv_err **err)
{
	return bus_register(pio, base, 8, &uart_ops, u, err);
}

void uart_set_output(struct uart *u, int fd)
{
	pthread_mutex_lock(&u->lock);
	u->out_fd = fd;
	pthread_mutex_unlock(&u->lock);
}

size_t uart_rx_room(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	size_t room = UART_RX_CAP - u->rx_len;
	pthread_mutex_unlock(&u->lock);
	return room;
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&u->lock);
	size_t n = 0;
	while (n < len && u->rx_len < UART_RX_CAP)
		uart_push_rx(u, buf[n++]);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}
