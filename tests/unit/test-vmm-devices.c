/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the device bus, the legacy devices (through a fake
 * dev_host that records interrupts and events) and config validation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "kvirt/bus.h"
#include "kvirt/cleanup.h"
#include "kvirt/devices.h"
#include "kvirt/pci.h"
#include "tap.h"

struct fake_host {
	int irq_level[16];
	int irq_changes[16];
	int events[8];
	uint32_t last_value;
};

static void fake_set_irq(void *ctx, unsigned gsi, int level)
{
	struct fake_host *h = ctx;
	if (gsi < 16) {
		h->irq_level[gsi] = level;
		h->irq_changes[gsi]++;
	}
}

static void fake_event(void *ctx, enum dev_event ev, uint32_t value)
{
	struct fake_host *h = ctx;
	if ((unsigned)ev < 8)
		h->events[ev]++;
	h->last_value = value;
}

static uint8_t last_write;
static void dummy_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	last_write = *(const uint8_t *)data + (uint8_t)off;
}
static const struct bus_ops dummy_a = { .name = "dev-a", .write = dummy_write };
static const struct bus_ops dummy_b = { .name = "dev-b", .write = dummy_write };

static void test_bus(void)
{
	struct bus b;
	bus_init(&b, "pio");
	_cleanup_err_ struct kv_err *err = NULL;
	ok(bus_register(&b, 0x100, 0x10, &dummy_a, NULL, &err) == 0, "register 0x100-0x10f");
	ok(bus_register(&b, 0x200, 0x10, &dummy_a, NULL, &err) == 0, "register 0x200-0x20f");
	ok(bus_register(&b, 0x110, 0xf0, &dummy_b, NULL, &err) == 0, "adjacent range fits the gap");
	is_int(bus_register(&b, 0x10f, 1, &dummy_b, NULL, &err), -EBUSY,
	       "overlap at the end rejected");
	ok(err && strstr(kv_err_msg(err), "dev-b") && strstr(kv_err_msg(err), "overlaps dev-a"),
	   "message names both devices: %s", kv_err_msg(err));
	kv_err_freep(&err);
	is_int(bus_register(&b, 0xf0, 0x20, &dummy_b, NULL, &err), -EBUSY,
	       "overlap at the start rejected");
	kv_err_freep(&err);
	is_int(bus_register(&b, 0x0, 0x1000, &dummy_b, NULL, &err), -EBUSY,
	       "covering range rejected");
	kv_err_freep(&err);
	is_int(bus_register(&b, 0x205, 1, &dummy_b, NULL, &err), -EBUSY,
	       "contained range rejected");
	kv_err_freep(&err);
	is_int(bus_register(&b, UINT64_MAX, 2, &dummy_b, NULL, &err), -EINVAL,
	       "wrapping range rejected");
	kv_err_freep(&err);
	is_int(bus_register(&b, 0x300, 0, &dummy_b, NULL, &err), -EINVAL, "empty range rejected");

	uint8_t v = 7;
	ok(bus_write(&b, 0x203, &v, 1) && last_write == 7 + 3, "dispatch passes the offset");
	ok(!bus_write(&b, 0x400, &v, 1), "unclaimed write reported");
	uint32_t r = 0;
	ok(!bus_read(&b, 0x400, &r, 4) && r == 0xffffffff, "unclaimed read floats high");
	ok(bus_find(&b, 0x10e, 4) == NULL, "access straddling a device end is not decoded");
	ok(bus_find(&b, 0x10c, 4) != NULL, "access at the end of a device is decoded");
	bus_clear(&b);
}

static uint8_t pio_in(struct bus *b, uint64_t port)
{
	uint8_t v = 0;
	bus_read(b, port, &v, 1);
	return v;
}

static void pio_out(struct bus *b, uint64_t port, uint8_t v)
{
	bus_write(b, port, &v, 1);
}

static void test_uart(void)
{
	struct fake_host fh = { 0 };
	struct dev_host host = { .set_irq = fake_set_irq, .event = fake_event, .ctx = &fh };
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		ok(0, "pipe");
		return;
	}
	struct uart u;
	struct bus b;
	bus_init(&b, "pio");
	uart_init(&u, &host, COM1_IRQ, p[1]);
	ok(uart_attach(&u, &b, COM1_PORT, NULL) == 0, "uart on COM1");

	pio_out(&b, COM1_PORT, 'h');
	pio_out(&b, COM1_PORT, 'i');
	char out[8] = { 0 };
	ok(read(p[0], out, sizeof(out)) == 2 && !strcmp(out, "hi"), "THR writes reach the host fd");
	ok(pio_in(&b, COM1_PORT + 5) & 0x60, "LSR: transmitter empty");

	/* Linux's loopback probe: MCR = LOOP|RTS|OUT2 must read back CTS|DCD in MSR. */
	pio_out(&b, COM1_PORT + 4, 0x10 | 0x0a);
	is_int(pio_in(&b, COM1_PORT + 6) & 0xf0, 0x90, "loopback MSR");
	pio_out(&b, COM1_PORT, 'x');
	is_int(pio_in(&b, COM1_PORT), 'x', "loopback echoes TX into RX");
	pio_out(&b, COM1_PORT + 4, 0x0b);

	/* RX interrupt. */
	pio_out(&b, COM1_PORT + 1, 0x01); /* IER: RDI */
	is_int(fh.irq_level[COM1_IRQ], 0, "no interrupt without data");
	is_int(uart_receive(&u, (const uint8_t *)"ab", 2), 2, "host input accepted");
	is_int(fh.irq_level[COM1_IRQ], 1, "RX data raises IRQ 4");
	is_int(pio_in(&b, COM1_PORT + 2) & 0x0f, 0x04, "IIR: RX data available");
	ok(pio_in(&b, COM1_PORT + 5) & 1, "LSR: data ready");
	is_int(pio_in(&b, COM1_PORT), 'a', "RBR first byte");
	is_int(pio_in(&b, COM1_PORT), 'b', "RBR second byte");
	is_int(fh.irq_level[COM1_IRQ], 0, "IRQ drops when the FIFO is empty");

	/* THRE interrupt: raised on enable, acknowledged by reading IIR. */
	pio_out(&b, COM1_PORT + 1, 0x02);
	is_int(fh.irq_level[COM1_IRQ], 1, "enabling THRI raises the IRQ");
	is_int(pio_in(&b, COM1_PORT + 2) & 0x0f, 0x02, "IIR: THR empty");
	is_int(fh.irq_level[COM1_IRQ], 0, "reading IIR acknowledges THRI");

	/* Divisor latch does not disturb data. */
	pio_out(&b, COM1_PORT + 3, 0x83);
	pio_out(&b, COM1_PORT, 0x01);
	pio_out(&b, COM1_PORT + 3, 0x03);
	ok(read(p[0], out, sizeof(out)) < 0, "DLL write is not transmitted");

	/* Panic banner detection on the transmit path. */
	const char *msg = "[ 1.0] Kernel panic - not syncing: test\n";
	for (const char *c = msg; *c; c++)
		pio_out(&b, COM1_PORT, (uint8_t)*c);
	is_int(fh.events[DEV_EVENT_PANIC_MESSAGE], 1, "panic banner reported once");

	/* Overflow: the FIFO accepts up to its capacity. */
	uint8_t big[UART_RX_CAP + 10];
	memset(big, 'z', sizeof(big));
	is_int(uart_receive(&u, big, sizeof(big)), UART_RX_CAP, "RX FIFO bounded");
	is_int(uart_rx_room(&u), 0, "no room when full");
	bus_clear(&b);
	close(p[0]);
	close(p[1]);
}

static void test_pm_and_reset(void)
{
	struct fake_host fh = { 0 };
	struct dev_host host = { .set_irq = fake_set_irq, .event = fake_event, .ctx = &fh };
	struct bus b;
	bus_init(&b, "pio");
	struct acpi_pm pm;
	struct i8042 kbd;
	struct misc_ports misc;
	acpi_pm_init(&pm, &host);
	i8042_init(&kbd, &host);
	misc_ports_init(&misc, &host);
	ok(acpi_pm_attach(&pm, &b, NULL) == 0 && i8042_attach(&kbd, &b, NULL) == 0 &&
	       misc_ports_attach(&misc, &b, NULL) == 0,
	   "attach PM, i8042, pvpanic, debug port");

	uint16_t cnt = 0;
	bus_read(&b, ACPI_PM1_CNT, &cnt, 2);
	ok(cnt & 1, "SCI_EN reads as set (always in ACPI mode)");

	/* Sleep type other than S5 is ignored; S5 powers off. */
	cnt = (uint16_t)((3 << 10) | (1 << 13));
	bus_write(&b, ACPI_PM1_CNT, &cnt, 2);
	is_int(fh.events[DEV_EVENT_POWEROFF], 0, "SLP_TYP 3 does not power off");
	cnt = (uint16_t)((ACPI_S5_SLP_TYP << 10) | (1 << 13));
	bus_write(&b, ACPI_PM1_CNT, &cnt, 2);
	is_int(fh.events[DEV_EVENT_POWEROFF], 1, "SLP_TYP 5 + SLP_EN powers off");

	pio_out(&b, ACPI_RESET_PORT, 0x01);
	is_int(fh.events[DEV_EVENT_RESET], 0, "wrong reset value ignored");
	pio_out(&b, ACPI_RESET_PORT, ACPI_RESET_VALUE);
	is_int(fh.events[DEV_EVENT_RESET], 1, "reset register resets");
	pio_out(&b, I8042_CMD_PORT, 0xfe);
	is_int(fh.events[DEV_EVENT_RESET], 2, "i8042 0xfe pulses reset");
	pio_out(&b, I8042_CMD_PORT, 0xaa);
	is_int(pio_in(&b, I8042_DATA_PORT), 0x55, "i8042 self test");

	/* Power button: status always, SCI only when enabled, W1C clears it. */
	acpi_pm_power_button(&pm);
	is_int(fh.irq_level[ACPI_SCI_IRQ], 0, "no SCI while PWRBTN_EN is clear");
	uint16_t en = ACPI_PM1_PWRBTN, sts = 0;
	bus_write(&b, ACPI_PM1_EVT + 2, &en, 2);
	is_int(fh.irq_level[ACPI_SCI_IRQ], 1, "enabling PWRBTN raises the pending SCI");
	bus_read(&b, ACPI_PM1_EVT, &sts, 2);
	ok(sts & ACPI_PM1_PWRBTN, "PWRBTN_STS set");
	bus_write(&b, ACPI_PM1_EVT, &sts, 2);
	is_int(fh.irq_level[ACPI_SCI_IRQ], 0, "write-1-to-clear drops the SCI");

	uint32_t t1 = 0, t2 = 0;
	bus_read(&b, ACPI_PM_TMR, &t1, 4);
	usleep(2000);
	bus_read(&b, ACPI_PM_TMR, &t2, 4);
	ok(t2 - t1 >= 3579545 / 1000, "PM timer runs at 3.58 MHz");

	pio_out(&b, PVPANIC_PORT, 1);
	is_int(fh.events[DEV_EVENT_PANIC], 1, "pvpanic write reports a panic");
	uint32_t code = 0x41;
	bus_write(&b, DEBUG_PORT, &code, 1);
	bus_write(&b, DEBUG_PORT, &code, 1);
	is_int(fh.events[DEV_EVENT_BOOT_CHECKPOINT], 1, "first debug-port write is the checkpoint");
	is_int(fh.events[DEV_EVENT_DEBUG_CODE], 1, "later writes are debug codes");
	bus_clear(&b);
}

static int config_json(const char *json, struct vmm_config *cfg, struct kv_err **err)
{
	vmm_config_init(cfg);
	int r = vmm_config_from_json(cfg, json, strlen(json), "vm.json", err);
	if (r >= 0)
		r = vmm_config_finish(cfg, err);
	return r;
}

static void expect_json_error(const char *json, const char *want)
{
	struct vmm_config cfg;
	_cleanup_err_ struct kv_err *err = NULL;
	int r = config_json(json, &cfg, &err);
	ok(r < 0 && err && strstr(err->msg, want), "%s -> %s", json, err ? err->msg : "(accepted)");
	vmm_config_clear(&cfg);
}

static void test_config(void)
{
	struct vmm_config cfg;
	_cleanup_err_ struct kv_err *err = NULL;
	ok(config_json("{\"kernel\":\"/proc/self/exe\",\"cpus\":2,\"memory\":\"512M\","
		       "\"serial\":\"unix:/tmp/x.sock\",\"cmdline\":\"quiet\"}",
		       &cfg, &err) == 0,
	   "valid JSON config: %s", kv_err_msg(err));
	is_int(cfg.cpus, 2, "cpus");
	is_int(cfg.memory, 512ull << 20, "memory");
	is_int(cfg.serial, VMM_SERIAL_UNIX, "serial kind");
	is_str(cfg.serial_path, "/tmp/x.sock", "serial path");
	vmm_config_clear(&cfg);
	ok(config_json("{\"kernel\":\"/proc/self/exe\",\"memory\":1073741824}", &cfg, NULL) == 0 &&
	       cfg.memory == (1ull << 30) && cfg.cpus == 1,
	   "memory as bytes, default cpus");
	vmm_config_clear(&cfg);

	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"cpu\":2}", "unknown field \"cpu\"");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"cpus\":0}", "cpus: must be between");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"cpus\":65}", "cpus: must be between");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"cpus\":\"2\"}",
			  "cpus: must be an integer");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"memory\":\"12X\"}", "memory: \"12X\"");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"memory\":\"16M\"}",
			  "memory: must be between");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"memory\":100000001}",
			  "multiple of 1 MiB");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"memory\":true}", "memory: must be");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"serial\":\"tcp:1\"}",
			  "serial: \"tcp:1\"");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"serial\":\"file:\"}", "needs a path");
	expect_json_error("{\"kernel\":\"/nonexistent/vmlinuz\"}", "kernel: cannot open");
	expect_json_error("{\"kernel\":\"/tmp\"}", "not a regular file");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"initrd\":\"/nope\"}",
			  "initrd: cannot open");
	expect_json_error("{\"cpus\":1}", "kernel: required");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"hugepages\":\"1G\"}", "hugepages:");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"pit\":\"yes\"}",
			  "pit: must be true or false");
	ok(config_json("{\"kernel\":\"/proc/self/exe\",\"disks\":[{\"path\":\"/proc/self/exe\","
		       "\"readonly\":true,\"cache\":\"none\",\"queues\":3,\"queue_size\":128,"
		       "\"serial\":\"abc\",\"backend\":\"threads\"}]}",
		       &cfg, NULL) == 0 &&
	       cfg.ndisks == 1 && cfg.disks[0].readonly && cfg.disks[0].cache == VMM_CACHE_NONE &&
	       cfg.disks[0].queues == 3 && cfg.disks[0].queue_size == 128 &&
	       !strcmp(cfg.disks[0].serial, "abc") && cfg.disks[0].backend == VMM_BACKEND_THREADS,
	   "JSON: a disk with every field");
	vmm_config_clear(&cfg);
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"disks\":[{\"readonly\":true}]}",
			  "disks[0].path: required");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"disks\":[{\"path\":\"/nope\"}]}",
			  "disk 0: path: cannot stat /nope");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"disks\":[{\"path\":\"/tmp\"}]}",
			  "not a regular file or block device");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"disks\":[{\"path\":\"/proc/self/"
			  "exe\",\"queue_size\":100}]}",
			  "queue_size: \"100\" is not a power of two");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"disks\":[{\"path\":\"/proc/self/"
			  "exe\",\"cache\":\"unsafe\"}]}",
			  "cache: \"unsafe\"");
	expect_json_error(
	    "{\"kernel\":\"/proc/self/exe\",\"disks\":[{\"path\":\"/x\",\"size\":1}]}",
	    "unknown field \"size\"");
	expect_json_error("{\"kernel\":\"/proc/self/exe\",\"disks\":{}}",
			  "disks: must be an array");
	expect_json_error("[1,2]", "must be a JSON object");
	expect_json_error("{\"kernel\":", "invalid JSON at line 1");
	expect_json_error("{\"kernel\":\"a\",\"kernel\":\"b\"}", "invalid JSON");
	expect_json_error("{\"kernel\":\"a\\u0000b\"}", "NUL");

	vmm_config_init(&cfg);
	kv_err_freep(&err);
	ok(vmm_config_set(&cfg, "memory", "2G", &err) == 0 && cfg.memory == (2ull << 30),
	   "flag: memory 2G");
	ok(vmm_config_set(&cfg, "cpus", "x", &err) < 0 && strstr(err->msg, "cpus:"),
	   "flag: bad cpus named");
	ok(vmm_config_set(&cfg, "pit", "on", &err) == 0 && cfg.pit, "flag: pit on");
	ok(vmm_config_set(&cfg, "disk", "path=/a,readonly=on,cache=none,queues=2,serial=s1",
			  &err) == 0 &&
	       cfg.ndisks == 1 && cfg.disks[0].readonly && cfg.disks[0].queues == 2 &&
	       cfg.disks[0].queue_size == VMM_DEFAULT_QUEUE_SIZE,
	   "flag: --disk with options, default queue size");
	kv_err_freep(&err);
	ok(vmm_config_set(&cfg, "disk", "readonly=on", &err) < 0 &&
	       strstr(err->msg, "disk 1: path"),
	   "flag: --disk without path names the field");
	kv_err_freep(&err);
	ok(vmm_config_set(&cfg, "disk", "path=/a,queues=0", &err) < 0 &&
	       strstr(err->msg, "disk 2: queues"),
	   "flag: --disk queues=0 rejected");
	kv_err_freep(&err);
	ok(vmm_config_set(&cfg, "disk", "path=/a,serial=123456789012345678901", &err) < 0 &&
	       strstr(err->msg, "serial: longer than 20"),
	   "flag: serial longer than 20 bytes rejected");
	kv_err_freep(&err);
	ok(vmm_config_set(&cfg, "disk", "path=/a,bogus", &err) < 0 &&
	       strstr(err->msg, "not key=value"),
	   "flag: --disk token without '='");
	vmm_config_clear(&cfg);
	ok(config_json("{\"kernel\":\"/proc/self/exe\",\"pit\":true}", &cfg, NULL) == 0 && cfg.pit,
	   "JSON: pit true");
	vmm_config_clear(&cfg);
}

static unsigned bar_hits;
static uint64_t bar_last_off;
static void test_bar_read(struct pci_device *d, unsigned bar, uint64_t off, void *data,
			  unsigned len)
{
	bar_hits++;
	bar_last_off = off;
	memset(data, 0x5a, len);
}
static const struct pci_device_ops test_pci_ops = { .name = "test-dev", .bar_read = test_bar_read };

static uint32_t type1_read(struct bus *pio, unsigned slot, unsigned reg)
{
	uint32_t a = 0x80000000u | slot << 11 | reg, v = 0;
	bus_write(pio, PCI_CONFIG_ADDR_PORT, &a, 4);
	bus_read(pio, PCI_CONFIG_DATA_PORT, &v, 4);
	return v;
}

static void type1_write(struct bus *pio, unsigned slot, unsigned reg, uint32_t v)
{
	uint32_t a = 0x80000000u | slot << 11 | reg;
	bus_write(pio, PCI_CONFIG_ADDR_PORT, &a, 4);
	bus_write(pio, PCI_CONFIG_DATA_PORT, &v, 4);
}

static void test_pci(void)
{
	struct bus pio, mmio;
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	struct pci_host h;
	pci_host_init(&h);
	_cleanup_err_ struct kv_err *err = NULL;
	ok(pci_host_attach(&h, &pio, &mmio, &err) == 0, "pci host attaches");
	struct pci_device d;
	pci_device_init(&d, &test_pci_ops, NULL, 0x1af4, 0x1042, 0x0180, 0x1af4, 2);
	is_int(pci_device_add_bar(&d, 0, 12345, &err), -EINVAL, "BAR size not a power of two");
	kv_err_free(err);
	err = NULL;
	ok(pci_device_add_bar(&d, 0, 0x4000, &err) == 0, "16K BAR 0");
	ok(pci_device_add_cap(&d, PCI_CAP_ID_VNDR, 16) == 0x40, "first capability at 0x40");
	ok(pci_device_add_cap(&d, PCI_CAP_ID_MSIX, 12) == 0x50, "second capability at 0x50");
	ok(pci_host_add(&h, &d, &err) == 0 && d.slot == 1, "device in slot 1");

	is_int(type1_read(&pio, 0, 0), 0x00081b36, "host bridge ids at 00:00.0");
	is_int(type1_read(&pio, 0, 8) >> 16, 0x0600, "host bridge class");
	is_int(type1_read(&pio, 1, 0), 0x10421af4, "device ids at 00:01.0");
	is_int(type1_read(&pio, 7, 0), 0xffffffff, "empty slot reads all-ones");
	uint32_t a = 0x80000000u | 1 << 11 | 1 << 8, v = 0; /* function 1 */
	bus_write(&pio, PCI_CONFIG_ADDR_PORT, &a, 4);
	bus_read(&pio, PCI_CONFIG_DATA_PORT, &v, 4);
	is_int(v, 0xffffffff, "function 1 absent");
	is_int(type1_read(&pio, 1, 0x34) & 0xff, 0x40, "capability list head");
	is_int((type1_read(&pio, 1, 0x40) >> 8) & 0xff, 0x50, "capability chain");
	is_int(type1_read(&pio, 1, 4) >> 16 & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST,
	       "status has the capability-list bit");

	uint32_t bar = type1_read(&pio, 1, PCI_BAR0);
	is_int(bar, (uint32_t)PCI_MMIO_WINDOW_START, "BAR 0 placed at the window start");
	type1_write(&pio, 1, PCI_BAR0, 0xffffffff);
	is_int(type1_read(&pio, 1, PCI_BAR0), 0xffffc000, "BAR sizing reads back ~(size-1)");
	type1_write(&pio, 1, PCI_BAR0, bar);
	is_int(type1_read(&pio, 1, 0x14), 0, "unimplemented BAR 1 stays 0");
	type1_write(&pio, 1, 0, 0);
	is_int(type1_read(&pio, 1, 0), 0x10421af4, "ids are read-only");

	uint8_t buf[4];
	bar_hits = 0;
	bus_read(&mmio, bar + 0x10, buf, 4);
	is_int(bar_hits, 0, "BAR does not decode while memory space is disabled");
	type1_write(&pio, 1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	bus_read(&mmio, bar + 0x10, buf, 4);
	ok(bar_hits == 1 && bar_last_off == 0x10 && buf[0] == 0x5a,
	   "BAR access reaches the device");
	/* The guest moves the BAR: decoding follows the config space. */
	type1_write(&pio, 1, PCI_BAR0, bar + 0x100000);
	bus_read(&mmio, bar + 0x10, buf, 4);
	is_int(bar_hits, 1, "old BAR address no longer decodes");
	bus_read(&mmio, bar + 0x100000 + 8, buf, 4);
	ok(bar_hits == 2 && bar_last_off == 8, "moved BAR decodes at its new address");
	bus_read(&mmio, bar + 0x100000 + 0x3ffe, buf, 4);
	is_int(bar_hits, 2, "access straddling the BAR end is not dispatched");

	/* Platform reset: the moved BAR and the command register go back. */
	pci_host_reset(&h);
	ok(type1_read(&pio, 1, PCI_BAR0) == bar && (type1_read(&pio, 1, PCI_COMMAND) & 0xffff) == 0,
	   "reset: BAR back where it was assigned, command register cleared");
	bus_read(&mmio, bar + 0x10, buf, 4);
	is_int(bar_hits, 2, "reset: the BAR no longer decodes (memory space off)");
	is_int(type1_read(&pio, 1, 0), 0x10421af4, "reset: ids intact");

	bus_clear(&pio);
	bus_clear(&mmio);
	pci_host_destroy(&h);
}

int main(void)
{
	test_bus();
	test_uart();
	test_pm_and_reset();
	test_config();
	test_pci();
	return tap_done();
}
