/* SPDX-License-Identifier: Apache-2.0 */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "vm.h"

int console_open(struct console *c, const struct vmm_config *cfg, struct kv_err **err)
{
	*c = (struct console){ .kind = cfg->serial,
			       .in_fd = -1,
			       .out_fd = -1,
			       .listen_fd = -1,
			       .path = cfg->serial_path };
	switch (cfg->serial) {
	case VMM_SERIAL_NONE: return 0;
	case VMM_SERIAL_STDIO:
		c->in_fd = STDIN_FILENO;
		c->out_fd = STDOUT_FILENO;
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &c->saved) == 0) {
			/* Keystrokes go to the guest as typed; ISIG keeps ^C for the host. */
			struct termios raw = c->saved;
			raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
			raw.c_iflag &= ~(tcflag_t)(ICRNL | IXON);
			raw.c_cc[VMIN] = 1;
			raw.c_cc[VTIME] = 0;
			if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
				c->tty_raw = true;
		}
		return 0;
	case VMM_SERIAL_FILE:
		c->out_fd = open(cfg->serial_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (c->out_fd < 0)
			return kv_err_errno(err, "serial: cannot open %s", cfg->serial_path);
		return 0;
	case VMM_SERIAL_UNIX:
		/* Replace a stale socket from an earlier run, but never a regular file. */
		c->listen_fd = kv_unix_listen(cfg->serial_path, 1, true, "serial", err);
		return c->listen_fd < 0 ? c->listen_fd : 0;
	}
	return 0;
}

void console_close(struct console *c)
{
	if (c->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
	c->tty_raw = false;
	if (c->kind == VMM_SERIAL_UNIX) {
		if (c->in_fd >= 0)
			close(c->in_fd);
		if (c->listen_fd >= 0) {
			close(c->listen_fd);
			if (c->path)
				unlink(c->path);
		}
	} else if (c->kind == VMM_SERIAL_FILE && c->out_fd >= 0) {
		close(c->out_fd);
	}
	c->in_fd = c->out_fd = c->listen_fd = -1;
}

static void console_drop_client(struct vm *vm, struct console *c)
{
	uart_set_output(&vm->uart, -1);
	close(c->in_fd);
	c->in_fd = c->out_fd = -1;
}

static void console_accept(struct vm *vm, struct console *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	/* The newest client takes over the console, like `virsh console --force`. */
	if (c->in_fd >= 0)
		console_drop_client(vm, c);
	c->in_fd = c->out_fd = fd;
	uart_set_output(&vm->uart, fd);
}

static void console_input(struct vm *vm, struct console *c)
{
	uint8_t buf[UART_RX_CAP];
	size_t room = uart_rx_room(&vm->uart);
	if (room > sizeof(buf))
		room = sizeof(buf);
	ssize_t n = read(c->in_fd, buf, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (c->kind == VMM_SERIAL_UNIX)
			console_drop_client(vm, c);
		else
			c->in_eof = true; /* stdin closed: the guest keeps running */
		return;
	}
	uart_receive(&vm->uart, buf, (size_t)n);
}

int vmm_event_loop(struct vm *vm, struct console *c, int signal_fd, struct vmm_api *api)
{
	for (;;) {
		struct pollfd p[4 + VMM_API_POLL_FDS];
		int np = 0, i_stop, i_sig, i_listen = -1, i_in = -1, timeout = -1;
		p[np] = (struct pollfd){ .fd = vm->stop_efd, .events = POLLIN };
		i_stop = np++;
		p[np] = (struct pollfd){ .fd = signal_fd, .events = POLLIN };
		i_sig = np++;
		if (c->listen_fd >= 0) {
			p[np] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
			i_listen = np++;
		}
		if (c->in_fd >= 0 && !c->in_eof) {
			/* Backpressure: leave input in the host buffer while the FIFO is full. */
			if (uart_rx_room(&vm->uart) > 0) {
				p[np] = (struct pollfd){ .fd = c->in_fd, .events = POLLIN };
				i_in = np++;
			} else {
				timeout = 10;
			}
		}
		int i_api = np;
		unsigned n_api = vmm_api_poll_fds(api, p + np);
		np += (int)n_api;
		int r = poll(p, (nfds_t)np, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			vm_request_exit(vm, VMM_EXIT_ERROR, "poll: %s", strerror(errno));
			break;
		}
		if (p[i_stop].revents) {
			if (!vm_wants_reset(vm))
				break;
			struct kv_err *err = NULL;
			if (vm_reset(vm, &err) < 0) {
				pthread_mutex_lock(&vm->exit_lock);
				vm->exit_code = VMM_EXIT_ERROR;
				snprintf(vm->exit_msg, sizeof(vm->exit_msg),
					 "guest reboot: reset in place failed: %s",
					 kv_err_msg(err));
				pthread_mutex_unlock(&vm->exit_lock);
				kv_err_free(err);
				break;
			}
			continue;
		}
		if (p[i_sig].revents) {
			struct signalfd_siginfo si;
			if (read(signal_fd, &si, sizeof(si)) == sizeof(si)) {
				vm_request_exit(vm, 128 + (int)si.ssi_signo, "stopped by signal %s",
						strsignal((int)si.ssi_signo));
				break;
			}
		}
		if (i_listen >= 0 && p[i_listen].revents)
			console_accept(vm, c);
		if (i_in >= 0 && p[i_in].revents)
			console_input(vm, c);
		vmm_api_dispatch(api, vm, p + i_api, n_api);
	}
	pthread_mutex_lock(&vm->exit_lock);
	int code = vm->exit_code;
	pthread_mutex_unlock(&vm->exit_lock);
	return code;
}
