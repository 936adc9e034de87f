/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM control socket: JSON lines over a unix stream socket.
 *
 *   {"cmd": "status"}        -> {"ok": true, "state": "running", "vcpus": 2, ...}
 *   {"cmd": "pause"}         -> {"ok": true, "state": "paused"}
 *   {"cmd": "resume"}        -> {"ok": true, "state": "running"}
 *   {"cmd": "power-button"}  -> {"ok": true}
 *   {"cmd": "kill"}          -> {"ok": true}   (then the VMM exits 137)
 *
 * An optional "id" member is echoed back.  A malformed request gets
 * {"ok": false, "error": "..."} and the connection stays open; a line longer
 * than VMM_API_MAX_LINE closes it.  Clients are untrusted only in the sense
 * of being buggy: the socket's file mode is the access control.
 */
#include "api.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/json.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "vm.h"

#define VMM_PAUSE_WAIT_MS 2000

void vmm_api_init(struct vmm_api *api)
{
	api->listen_fd = -1;
	api->path = NULL;
	api->paused = false;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	api->start_realtime_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (unsigned i = 0; i < VMM_API_MAX_CLIENTS; i++) {
		api->clients[i].fd = -1;
		api->clients[i].len = 0;
	}
}

int vmm_api_open(struct vmm_api *api, const char *path, struct kv_err **err)
{
	int fd = kv_unix_listen(path, VMM_API_MAX_CLIENTS, true, "api", err);
	if (fd < 0)
		return fd;
	api->listen_fd = fd;
	api->path = path;
	return 0;
}

static void api_drop(struct vmm_api_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

void vmm_api_close(struct vmm_api *api)
{
	for (unsigned i = 0; i < VMM_API_MAX_CLIENTS; i++)
		api_drop(&api->clients[i]);
	if (api->listen_fd >= 0) {
		close(api->listen_fd);
		if (api->path)
			unlink(api->path);
	}
	api->listen_fd = -1;
}

unsigned vmm_api_poll_fds(struct vmm_api *api, struct pollfd *p)
{
	if (!api || api->listen_fd < 0)
		return 0;
	unsigned n = 0;
	p[n++] = (struct pollfd){ .fd = api->listen_fd, .events = POLLIN };
	for (unsigned i = 0; i < VMM_API_MAX_CLIENTS; i++)
		p[n++] = (struct pollfd){ .fd = api->clients[i].fd, .events = POLLIN };
	return n; /* fd -1 entries are ignored by poll() */
}

/* Wait until `v` reached a state other than `from` (or the timeout). */
static bool vcpu_wait_state(struct vcpu *v, enum vcpu_state want, uint64_t deadline_ns)
{
	pthread_mutex_lock(&v->lock);
	bool ok;
	for (;;) {
		ok = v->state == want || v->state == VCPU_STOPPED || !v->thread_started;
		if (ok || kv_now_ns() >= deadline_ns)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&v->cond, &v->lock, &ts);
	}
	pthread_mutex_unlock(&v->lock);
	return ok;
}

int vmm_pause(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_send(&vm->vcpus[i], VCPU_MSG_PAUSE);
	uint64_t deadline = kv_now_ns() + (uint64_t)VMM_PAUSE_WAIT_MS * 1000000;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (!vcpu_wait_state(&vm->vcpus[i], VCPU_PAUSED, deadline))
			return -ETIMEDOUT;
	return 0;
}

void vmm_resume(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_send(&vm->vcpus[i], VCPU_MSG_RUN);
}

static json_t *api_status(struct vmm_api *api, struct vm *vm)
{
	const struct vmm_config *cfg = vm->cfg;
	json_t *disks = json_array();
	for (unsigned i = 0; disks && i < cfg->ndisks; i++)
		json_array_append_new(disks, json_pack("{s:s, s:b}", "path", cfg->disks[i].path,
						       "readonly", cfg->disks[i].readonly));
	return json_pack("{s:b, s:s, s:I, s:I, s:o, s:I, s:I}", "ok", 1, "state",
			 api->paused ? "paused" : "running", "vcpus", (json_int_t)cfg->cpus,
			 "memory", (json_int_t)cfg->memory, "disks", disks ? disks : json_array(),
			 "started_at_ms", (json_int_t)api->start_realtime_ms, "uptime_ms",
			 (json_int_t)((kv_now_ns() - vm->start_ns) / 1000000));
}

static json_t *api_error(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *api_handle(struct vmm_api *api, struct vm *vm, const char *line, size_t len)
{
	_cleanup_err_ struct kv_err *err = NULL;
	_cleanup_json_t_ json_t *req = NULL;
	if (kv_json_loadb(line, len, "request", &req, &err) < 0)
		return api_error(kv_err_msg(err));
	const char *cmd = kv_jstr(req, "cmd");
	if (!json_is_object(req) || !cmd)
		return api_error("request: needs a \"cmd\" string");
	json_t *resp = NULL;
	if (!strcmp(cmd, "status")) {
		resp = api_status(api, vm);
	} else if (!strcmp(cmd, "pause")) {
		if (!api->paused && vmm_pause(vm) < 0) {
			vmm_resume(vm);
			return api_error("pause: a vCPU did not stop within 2 s");
		}
		api->paused = true;
		kv_info("paused through the control socket");
		resp = json_pack("{s:b, s:s}", "ok", 1, "state", "paused");
	} else if (!strcmp(cmd, "resume")) {
		if (api->paused)
			vmm_resume(vm);
		api->paused = false;
		kv_info("resumed through the control socket");
		resp = json_pack("{s:b, s:s}", "ok", 1, "state", "running");
	} else if (!strcmp(cmd, "power-button")) {
		acpi_pm_power_button(&vm->pm);
		kv_info("ACPI power button pressed through the control socket");
		resp = json_pack("{s:b}", "ok", 1);
	} else if (!strcmp(cmd, "kill")) {
		vm_request_exit(vm, 128 + SIGKILL, "killed through the control socket");
		resp = json_pack("{s:b}", "ok", 1);
	} else {
		return api_error("cmd: unknown command; use status, pause, resume, power-button "
				 "or kill");
	}
	json_t *id = json_object_get(req, "id");
	if (resp && id)
		json_object_set(resp, "id", id);
	return resp;
}

static void api_reply(struct vmm_api_client *c, json_t *resp)
{
	/* Responses are small; a client that does not read them is dropped. */
	if (kv_json_send_line(c->fd, resp) < 0)
		api_drop(c);
}

static void api_client_input(struct vmm_api *api, struct vm *vm, struct vmm_api_client *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		api_drop(c);
		return;
	}
	c->len += (size_t)n;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (!nl)
			break;
		size_t line = (size_t)(nl - c->buf);
		if (line > 0)
			api_reply(c, api_handle(api, vm, c->buf, line));
		if (c->fd < 0)
			return;
		memmove(c->buf, nl + 1, c->len - line - 1);
		c->len -= line + 1;
	}
	if (c->len == sizeof(c->buf)) {
		api_reply(c, api_error("request: line longer than 4096 bytes"));
		api_drop(c);
	}
}

void vmm_api_dispatch(struct vmm_api *api, struct vm *vm, const struct pollfd *p, unsigned n)
{
	if (n == 0)
		return;
	for (unsigned i = 0; i < VMM_API_MAX_CLIENTS && i + 1 < n; i++)
		if (p[i + 1].fd >= 0 && p[i + 1].revents)
			api_client_input(api, vm, &api->clients[i]);
	if (p[0].revents & POLLIN) {
		int fd = accept4(api->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		for (unsigned i = 0; i < VMM_API_MAX_CLIENTS; i++) {
			if (api->clients[i].fd < 0) {
				api->clients[i].fd = fd;
				api->clients[i].len = 0;
				return;
			}
		}
		static const char busy[] = "{\"ok\":false,\"error\":\"too many clients\"}\n";
		(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
	}
}
