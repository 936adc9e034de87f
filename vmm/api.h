/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM control socket (`--api unix:PATH`): JSON lines, one request object
 * per line, one response object per line, several clients at once.  Served
 * from the main event loop (vmm/console.c), so a request never races the
 * VM's own teardown.  Protocol: docs/vmm.md ("Control socket").
 */
#ifndef KVIRT_VMM_API_H
#define KVIRT_VMM_API_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvirt/err.h"

struct vm;

#define VMM_API_MAX_CLIENTS 8
#define VMM_API_MAX_LINE    4096
#define VMM_API_POLL_FDS    (1 + VMM_API_MAX_CLIENTS)

struct vmm_api_client {
	int fd; /* -1: free slot */
	size_t len;
	char buf[VMM_API_MAX_LINE];
};

struct vmm_api {
	int listen_fd; /* -1: no control socket */
	const char *path;
	bool paused;
	uint64_t start_realtime_ms; /* wall clock when the VMM started */
	struct vmm_api_client clients[VMM_API_MAX_CLIENTS];
};

/* An inert API (no socket); vmm_api_close() on it is a no-op. */
void vmm_api_init(struct vmm_api *api);
/* Listen on `path` (a stale socket there is replaced, never a regular file). */
int vmm_api_open(struct vmm_api *api, const char *path, struct kv_err **err);
void vmm_api_close(struct vmm_api *api);

/* Append the fds to poll to `p`; returns how many (at most VMM_API_POLL_FDS). */
unsigned vmm_api_poll_fds(struct vmm_api *api, struct pollfd *p);
/* Serve what poll() reported on the `n` entries vmm_api_poll_fds() added. */
void vmm_api_dispatch(struct vmm_api *api, struct vm *vm, const struct pollfd *p, unsigned n);

/* Park every vCPU (out of KVM_RUN, waiting for RUN) / let them run again. */
int vmm_pause(struct vm *vm);
void vmm_resume(struct vm *vm);

#endif
