/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event loop: libcurl's multi poll (through k8s/http.c) waits on the
 * transfers and on our own fds at once; timers live in a binary min-heap;
 * SIGINT/SIGTERM arrive through a signalfd.  One thread, no locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/k8s.h"
#include "kvirt/util.h"

/* The loop watches few fds of its own (signalfd, the metrics listener and its clients). */
#define LOOP_MAX_FDS 128

struct fd_watch {
	int fd;
	short events;
	k8s_fd_fn fn;
	void *data;
};

struct hook {
	k8s_hook_fn fn;
	void *data;
};

struct k8s_loop {
	struct k8s_http *http;
	struct k8s_timer **heap;
	size_t heap_len, heap_cap;
	struct fd_watch *fds;
	size_t n_fds, cap_fds;
	struct hook *hooks;
	size_t n_hooks;
	int sigfd;
	k8s_hook_fn on_signal;
	void *on_signal_data;
	bool quit;
	int code;
};

uint64_t k8s_rand(uint64_t n)
{
	static uint64_t state;
	if (!state) {
		if (getrandom(&state, sizeof(state), GRND_NONBLOCK) != sizeof(state))
			state = kv_now_ns() ^ (uint64_t)getpid();
		state |= 1;
	}
	/* xorshift64*: jitter and name suffixes, not cryptography. */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	uint64_t r = state * 2685821657736338717ull;
	return n ? r % n : r;
}

int k8s_loop_new(struct k8s_loop **out, struct kv_err **err)
{
	struct k8s_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return kv_err_set(err, ENOMEM, "out of memory");
	l->sigfd = -1;
	int r = k8s_http_new(l, &l->http, err);
	if (r < 0) {
		free(l);
		return r;
	}
	*out = l;
	return 0;
}

void k8s_loop_free(struct k8s_loop *l)
{
	if (!l)
		return;
	k8s_http_free(l->http);
	kv_close_safe(l->sigfd);
	free(l->heap);
	free(l->fds);
	free(l->hooks);
	free(l);
}

struct k8s_http *k8s_loop_http(struct k8s_loop *l)
{
	return l->http;
}

/* ---- timer heap ---- */

static void heap_swap(struct k8s_loop *l, size_t a, size_t b)
{
	struct k8s_timer *t = l->heap[a];
	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_idx = a + 1;
	l->heap[b]->heap_idx = b + 1;
}

static void heap_up(struct k8s_loop *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p]->due_ns <= l->heap[i]->due_ns)
			break;
		heap_swap(l, p, i);
		i = p;
	}
}

static void heap_down(struct k8s_loop *l, size_t i)
{
	for (;;) {
		size_t a = 2 * i + 1, b = a + 1, m = i;
		if (a < l->heap_len && l->heap[a]->due_ns < l->heap[m]->due_ns)
			m = a;
		if (b < l->heap_len && l->heap[b]->due_ns < l->heap[m]->due_ns)
			m = b;
		if (m == i)
			break;
		heap_swap(l, i, m);
		i = m;
	}
}

void k8s_timer_stop(struct k8s_loop *l, struct k8s_timer *t)
{
	if (!t->heap_idx)
		return;
	size_t i = t->heap_idx - 1;
	t->heap_idx = 0;
	l->heap_len--;
	if (i == l->heap_len)
		return;
	l->heap[i] = l->heap[l->heap_len];
	l->heap[i]->heap_idx = i + 1;
	heap_down(l, i);
	heap_up(l, i);
}

void k8s_timer_start(struct k8s_loop *l, struct k8s_timer *t, uint64_t delay_ms)
{
	k8s_timer_stop(l, t);
	if (l->heap_len == l->heap_cap) {
		size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
		struct k8s_timer **h = realloc(l->heap, cap * sizeof(*h));
		if (!h)
			return; /* out of memory: the timer does not fire; callers resync */
		l->heap = h;
		l->heap_cap = cap;
	}
	t->due_ns = kv_now_ns() + delay_ms * 1000000ull;
	l->heap[l->heap_len] = t;
	t->heap_idx = ++l->heap_len;
	heap_up(l, l->heap_len - 1);
}

static void run_timers(struct k8s_loop *l)
{
	uint64_t now = kv_now_ns();
	while (l->heap_len && l->heap[0]->due_ns <= now && !l->quit) {
		struct k8s_timer *t = l->heap[0];
		k8s_timer_stop(l, t);
		t->fn(t);
	}
}

/* ---- fds and hooks ---- */

int k8s_loop_watch_fd(struct k8s_loop *l, int fd, short events, k8s_fd_fn fn, void *data)
{
	for (size_t i = 0; i < l->n_fds; i++) {
		if (l->fds[i].fd != fd)
			continue;
		if (!events) {
			l->fds[i] = l->fds[--l->n_fds];
			return 0;
		}
		l->fds[i] = (struct fd_watch){ fd, events, fn, data };
		return 0;
	}
	if (!events)
		return 0;
	if (l->n_fds == LOOP_MAX_FDS)
		return -EMFILE;
	if (l->n_fds == l->cap_fds) {
		size_t cap = l->cap_fds ? l->cap_fds * 2 : 8;
		struct fd_watch *n = realloc(l->fds, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		l->fds = n;
		l->cap_fds = cap;
	}
	l->fds[l->n_fds++] = (struct fd_watch){ fd, events, fn, data };
	return 0;
}

int k8s_loop_add_hook(struct k8s_loop *l, k8s_hook_fn fn, void *data)
{
	struct hook *h = realloc(l->hooks, (l->n_hooks + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	l->hooks = h;
	l->hooks[l->n_hooks++] = (struct hook){ fn, data };
	return 0;
}

static void on_sigfd(struct k8s_loop *l, int fd, short revents, void *data)
{
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (l->on_signal)
		l->on_signal(l, l->on_signal_data);
	else
		k8s_loop_quit(l, 0);
}

int k8s_loop_on_signal(struct k8s_loop *l, k8s_hook_fn fn, void *data, struct kv_err **err)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return kv_err_errno(err, "sigprocmask");
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return kv_err_errno(err, "signalfd");
	l->sigfd = fd;
	l->on_signal = fn;
	l->on_signal_data = data;
	/* A dead peer must be an error on the socket, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	return k8s_loop_watch_fd(l, fd, POLLIN, on_sigfd, NULL);
}

void k8s_loop_quit(struct k8s_loop *l, int code)
{
	l->quit = true;
	l->code = code;
}

bool k8s_loop_quitting(const struct k8s_loop *l)
{
	return l->quit;
}

int k8s_loop_run(struct k8s_loop *l)
{
	while (!l->quit) {
		int timeout = 1000;
		if (l->heap_len) {
			uint64_t now = kv_now_ns(), due = l->heap[0]->due_ns;
			uint64_t ms = due > now ? (due - now + 999999) / 1000000 : 0;
			if (ms < (uint64_t)timeout)
				timeout = (int)ms;
		}
		size_t n = l->n_fds;
		struct pollfd pfd[LOOP_MAX_FDS];
		for (size_t i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = l->fds[i].fd, .events = l->fds[i].events };
		k8s_http_poll(l->http, pfd, (unsigned)n, timeout);
		k8s_http_perform(l->http);
		/* Callbacks may add or remove watches: dispatch by fd, re-finding each. */
		for (size_t i = 0; i < n && !l->quit; i++) {
			if (!pfd[i].revents)
				continue;
			for (size_t j = 0; j < l->n_fds; j++)
				if (l->fds[j].fd == pfd[i].fd) {
					struct fd_watch w = l->fds[j];
					w.fn(l, w.fd, pfd[i].revents, w.data);
					break;
				}
		}
		run_timers(l);
		for (size_t i = 0; i < l->n_hooks && !l->quit; i++)
			l->hooks[i].fn(l, l->hooks[i].data);
	}
	return l->code;
}
