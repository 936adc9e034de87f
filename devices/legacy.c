/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small legacy platform devices: the i8042 (only as much as the reset line
 * and a polite probe need), ACPI fixed-hardware PM registers, pvpanic and
 * the debug/boot-timer port.  Their ports are listed in docs/vmm.md.
 */
#include <string.h>

#include "kvirt/devices.h"
#include "kvirt/util.h"

static void host_event(const struct dev_host *h, enum dev_event ev, uint32_t value)
{
	if (h && h->event)
		h->event(h->ctx, ev, value);
}

/* ---------------- i8042 ---------------- */

#define I8042_STS_OBF  0x01
#define I8042_STS_SYS  0x04
#define I8042_STS_CMD  0x08
#define I8042_CMD_WCTR 0x60
#define I8042_CMD_WOUT 0xd1

void i8042_init(struct i8042 *k, const struct dev_host *host)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->host = host;
	k->ctr = 0x45; /* kbd irq on, system flag, translation: what firmware leaves */
}

static void i8042_reply(struct i8042 *k, uint8_t v)
{
	k->out = v;
	k->out_full = true;
}

static void i8042_command(struct i8042 *k, uint8_t cmd, bool *reset)
{
	switch (cmd) {
	case 0x20: i8042_reply(k, k->ctr); break;
	case 0xaa: i8042_reply(k, 0x55); break; /* self test passed */
	case 0xab:				/* keyboard interface test */
	case 0xa9: i8042_reply(k, 0x00); break; /* aux interface test */
	case I8042_CMD_WCTR:
	case I8042_CMD_WOUT: k->pending = cmd; break;
	default:
		/* 0xf0-0xff pulse output lines; bit 0 low pulses the CPU reset line. */
		if (cmd >= 0xf0 && !(cmd & 1))
			*reset = true;
		break;
	}
}

static void i8042_data_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct i8042 *k = opaque;
	pthread_mutex_lock(&k->lock);
	uint8_t v = k->out;
	k->out_full = false;
	pthread_mutex_unlock(&k->lock);
	memset(data, v, len);
}

static void i8042_status_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct i8042 *k = opaque;
	pthread_mutex_lock(&k->lock);
	uint8_t v = I8042_STS_SYS | (k->out_full ? I8042_STS_OBF : 0) |
		    (k->last_was_cmd ? I8042_STS_CMD : 0);
	pthread_mutex_unlock(&k->lock);
	memset(data, v, len);
}

static void i8042_data_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct i8042 *k = opaque;
	uint8_t v = *(const uint8_t *)data;
	bool reset = false;
	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = false;
	switch (k->pending) {
	case I8042_CMD_WCTR: k->ctr = v; break;
	case I8042_CMD_WOUT:
		if (!(v & 1))
			reset = true;
		break;
	default:
		/* A byte for the keyboard itself: acknowledge, there is no keyboard behind it. */
		i8042_reply(k, 0xfa);
		break;
	}
	k->pending = 0;
	pthread_mutex_unlock(&k->lock);
	if (reset)
		host_event(k->host, DEV_EVENT_RESET, 0);
}

static void i8042_cmd_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct i8042 *k = opaque;
	bool reset = false;
	pthread_mutex_lock(&k->lock);
	k->last_was_cmd = true;
	k->pending = 0;
	i8042_command(k, *(const uint8_t *)data, &reset);
	pthread_mutex_unlock(&k->lock);
	if (reset)
		host_event(k->host, DEV_EVENT_RESET, 0);
}

static const struct bus_ops i8042_data_ops = {
	.name = "i8042-data",
	.read = i8042_data_read,
	.write = i8042_data_write,
};
static const struct bus_ops i8042_cmd_ops = {
	.name = "i8042-cmd",
	.read = i8042_status_read,
	.write = i8042_cmd_write,
};

int i8042_attach(struct i8042 *k, struct bus *pio, struct kv_err **err)
{
	int r = bus_register(pio, I8042_DATA_PORT, 1, &i8042_data_ops, k, err);
	if (r < 0)
		return r;
	return bus_register(pio, I8042_CMD_PORT, 1, &i8042_cmd_ops, k, err);
}

/* ---------------- ACPI PM registers ---------------- */

#define PM_TIMER_HZ	   3579545ull
#define PM1_CNT_SCI_EN	   0x0001
#define PM1_CNT_SLP_EN	   0x2000
#define PM1_CNT_SLP_TYP(v) (((v) >> 10) & 7)

void acpi_pm_init(struct acpi_pm *pm, const struct dev_host *host)
{
	memset(pm, 0, sizeof(*pm));
	pthread_mutex_init(&pm->lock, NULL);
	pm->host = host;
	/* SMI_CMD is 0 in the FADT: the platform is always in ACPI mode. */
	pm->pm1_cnt = PM1_CNT_SCI_EN;
	pm->t0_ns = kv_now_ns();
}

static void acpi_pm_update_sci(struct acpi_pm *pm)
{
	bool level = (pm->pm1_sts & pm->pm1_en & ACPI_PM1_PWRBTN) != 0;
	if (level != pm->sci_level) {
		pm->sci_level = level;
		if (pm->host && pm->host->set_irq)
			pm->host->set_irq(pm->host->ctx, ACPI_SCI_IRQ, level);
	}
}

void acpi_pm_reset(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->pm1_sts = pm->pm1_en = 0;
	pm->pm1_cnt = PM1_CNT_SCI_EN;
	acpi_pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

static uint8_t acpi_pm_read_byte(struct acpi_pm *pm, unsigned off)
{
	switch (off) {
	case 0: return pm->pm1_sts & 0xff;
	case 1: return pm->pm1_sts >> 8;
	case 2: return pm->pm1_en & 0xff;
	case 3: return pm->pm1_en >> 8;
	case 4: return pm->pm1_cnt & 0xff;
	case 5: return (pm->pm1_cnt >> 8) & ~(PM1_CNT_SLP_EN >> 8); /* SLP_EN reads as 0 */
	case 8:
	case 9:
	case 10:
	case 11: {
		/* 32-bit PM timer (TMR_VAL_EXT) at 3.579545 MHz since the device was made. */
		uint64_t ns = kv_now_ns() - pm->t0_ns;
		uint32_t ticks = (uint32_t)((unsigned __int128)ns * PM_TIMER_HZ / 1000000000ull);
		return (uint8_t)(ticks >> ((off - 8) * 8));
	}
	default: return 0;
	}
}

static void acpi_pm_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct acpi_pm *pm = opaque;
	uint8_t *d = data;
	pthread_mutex_lock(&pm->lock);
	if (off == 8 && len == 4) {
		/* Read the timer once so the four bytes are one consistent sample. */
		uint64_t ns = kv_now_ns() - pm->t0_ns;
		uint32_t ticks = (uint32_t)((unsigned __int128)ns * PM_TIMER_HZ / 1000000000ull);
		memcpy(d, &ticks, 4);
	} else {
		for (unsigned i = 0; i < len; i++)
			d[i] = acpi_pm_read_byte(pm, (unsigned)(off + i));
	}
	pthread_mutex_unlock(&pm->lock);
}

static void acpi_pm_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct acpi_pm *pm = opaque;
	const uint8_t *d = data;
	enum dev_event ev = (enum dev_event) - 1;
	uint32_t ev_value = 0;
	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < len; i++) {
		unsigned o = (unsigned)(off + i);
		uint8_t v = d[i];
		switch (o) {
		case 0: pm->pm1_sts &= ~(uint16_t)v; break; /* write 1 to clear */
		case 1: pm->pm1_sts &= ~(uint16_t)(v << 8); break;
		case 2: pm->pm1_en = (pm->pm1_en & 0xff00) | v; break;
		case 3: pm->pm1_en = (pm->pm1_en & 0x00ff) | (uint16_t)(v << 8); break;
		case 4: pm->pm1_cnt = (pm->pm1_cnt & 0xff00) | v | PM1_CNT_SCI_EN; break;
		case 5: {
			uint16_t cnt = (pm->pm1_cnt & 0x00ff) | (uint16_t)(v << 8);
			if (cnt & PM1_CNT_SLP_EN) {
				unsigned typ = PM1_CNT_SLP_TYP(cnt);
				/* Only \_S5 is advertised; other sleep states are refused. */
				if (typ == ACPI_S5_SLP_TYP)
					ev = DEV_EVENT_POWEROFF;
				ev_value = typ;
			}
			pm->pm1_cnt = cnt & ~PM1_CNT_SLP_EN;
			break;
		}
		case 12:
			if (v == ACPI_RESET_VALUE)
				ev = DEV_EVENT_RESET;
			break;
		default: break;
		}
	}
	acpi_pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	if (ev != (enum dev_event) - 1)
		host_event(pm->host, ev, ev_value);
}

static const struct bus_ops acpi_pm_ops = {
	.name = "acpi-pm",
	.read = acpi_pm_read,
	.write = acpi_pm_write,
};

int acpi_pm_attach(struct acpi_pm *pm, struct bus *pio, struct kv_err **err)
{
	return bus_register(pio, ACPI_PM_BASE, ACPI_PM_LEN, &acpi_pm_ops, pm, err);
}

void acpi_pm_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->pm1_sts |= ACPI_PM1_PWRBTN;
	acpi_pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

/* ---------------- pvpanic + debug port ---------------- */

#define PVPANIC_PANICKED     1
#define PVPANIC_CRASH_LOADED 2

void misc_ports_init(struct misc_ports *m, const struct dev_host *host)
{
	memset(m, 0, sizeof(*m));
	m->host = host;
}

static void pvpanic_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	/* The capability byte: what the guest driver may report. */
	memset(data, 0, len);
	*(uint8_t *)data = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
}

static void pvpanic_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct misc_ports *m = opaque;
	uint8_t v = *(const uint8_t *)data;
	if (v & PVPANIC_PANICKED)
		host_event(m->host, DEV_EVENT_PANIC, v);
}

static const struct bus_ops pvpanic_ops = {
	.name = "pvpanic",
	.read = pvpanic_read,
	.write = pvpanic_write,
};

static void debug_port_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct misc_ports *m = opaque;
	uint32_t v = 0;
	memcpy(&v, data, len > 4 ? 4 : len);
	/* Only the first write is the boot checkpoint; later ones are debug codes. */
	bool first = !__atomic_exchange_n(&m->debug_seen, true, __ATOMIC_ACQ_REL);
	host_event(m->host, first ? DEV_EVENT_BOOT_CHECKPOINT : DEV_EVENT_DEBUG_CODE, v);
}

static const struct bus_ops debug_port_ops = {
	.name = "debug-port",
	.write = debug_port_write,
};

int misc_ports_attach(struct misc_ports *m, struct bus *pio, struct kv_err **err)
{
	int r = bus_register(pio, PVPANIC_PORT, 1, &pvpanic_ops, m, err);
	if (r < 0)
		return r;
	return bus_register(pio, DEBUG_PORT, 4, &debug_port_ops, m, err);
}
