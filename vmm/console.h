/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of the serial console (stdio, file, unix socket) and the
 * VMM's main event loop, which moves console input into the UART and waits
 * for the VM to end or a signal to arrive.
 */
#ifndef KVIRT_VMM_CONSOLE_H
#define KVIRT_VMM_CONSOLE_H

#include <stdbool.h>
#include <termios.h>

#include "config.h"
#include "kvirt/err.h"

struct vm;
struct vmm_api;

struct console {
	enum vmm_serial_kind kind;
	int in_fd;     /* -1: no input (file, none, or no client yet) */
	int out_fd;    /* what the UART writes to; -1: discard */
	int listen_fd; /* unix: the listening socket */
	const char *path;
	bool in_eof;
	bool tty_raw;
	struct termios saved;
};

/* Opened before /dev/kvm so that a bad path is a config error. */
int console_open(struct console *c, const struct vmm_config *cfg, struct kv_err **err);
void console_close(struct console *c);

/*
 * Run until the VM ends or a termination signal; returns the exit status.
 * `api` (may be NULL) is the control socket served from the same loop.
 */
int vmm_event_loop(struct vm *vm, struct console *c, int signal_fd, struct vmm_api *api);

#endif
