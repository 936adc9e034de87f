/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Work queue with client-go's guarantees: a key is queued at most once; a
 * key added while it is being processed is processed once more afterwards
 * (never concurrently); failures re-add it with a per-key exponential
 * backoff; up to `max_inflight` keys are processed at a time (processing is
 * asynchronous: the handler issues API calls and reports back later).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvirt/cleanup.h"
#include "kvirt/k8s.h"
#include "kvirt/util.h"

struct qitem {
	char *key;
	struct qitem *hnext; /* hash chain */
	struct qitem *fnext; /* FIFO */
	struct k8s_timer timer;
	struct k8s_queue *q;
	unsigned failures;
	bool queued, processing, dirty;
};

struct k8s_queue {
	struct k8s_loop *loop;
	char *name;
	k8s_queue_fn fn;
	void *ud;
	unsigned max_inflight;
	struct qitem **buckets;
	size_t nbuckets, nitems;
	struct qitem *head, *tail;
	bool paused;
	struct k8s_queue_stats st;
};

uint64_t k8s_backoff_ms(unsigned failures, uint64_t base_ms, uint64_t max_ms)
{
	if (failures == 0)
		return 0;
	if (failures > 40)
		return max_ms;
	uint64_t d = base_ms << (failures - 1);
	return d > max_ms ? max_ms : d;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct qitem *lookup(struct k8s_queue *q, const char *key)
{
	for (struct qitem *i = q->buckets[hash_str(key) & (q->nbuckets - 1)]; i; i = i->hnext)
		if (!strcmp(i->key, key))
			return i;
	return NULL;
}

static void rehash(struct k8s_queue *q)
{
	size_t n = q->nbuckets * 2;
	struct qitem **b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < q->nbuckets; i++)
		for (struct qitem *it = q->buckets[i], *next; it; it = next) {
			next = it->hnext;
			size_t h = hash_str(it->key) & (n - 1);
			it->hnext = b[h];
			b[h] = it;
		}
	free(q->buckets);
	q->buckets = b;
	q->nbuckets = n;
}

static void on_timer(struct k8s_timer *t);

static struct qitem *get_item(struct k8s_queue *q, const char *key)
{
	struct qitem *it = lookup(q, key);
	if (it)
		return it;
	it = calloc(1, sizeof(*it));
	if (!it)
		return NULL;
	it->key = strdup(key);
	if (!it->key) {
		free(it);
		return NULL;
	}
	it->q = q;
	it->timer = (struct k8s_timer){ .fn = on_timer, .data = it };
	size_t h = hash_str(key) & (q->nbuckets - 1);
	it->hnext = q->buckets[h];
	q->buckets[h] = it;
	if (++q->nitems > q->nbuckets * 2)
		rehash(q);
	return it;
}

/* Drop items that carry no state (not queued, not processing, no timer, no failures). */
static void maybe_drop(struct k8s_queue *q, struct qitem *it)
{
	if (it->queued || it->processing || it->failures || k8s_timer_armed(&it->timer))
		return;
	struct qitem **pp = &q->buckets[hash_str(it->key) & (q->nbuckets - 1)];
	while (*pp && *pp != it)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = it->hnext;
	q->nitems--;
	free(it->key);
	free(it);
}

static void push(struct k8s_queue *q, struct qitem *it)
{
	it->queued = true;
	it->fnext = NULL;
	if (q->tail)
		q->tail->fnext = it;
	else
		q->head = it;
	q->tail = it;
	q->st.depth++;
}

static void add_item(struct k8s_queue *q, struct qitem *it)
{
	q->st.adds++;
	if (it->processing) {
		it->dirty = true;
		return;
	}
	if (!it->queued)
		push(q, it);
}

void k8s_queue_add(struct k8s_queue *q, const char *key)
{
	struct qitem *it = get_item(q, key);
	if (it)
		add_item(q, it);
}

static void on_timer(struct k8s_timer *t)
{
	struct qitem *it = t->data;
	add_item(it->q, it);
}

void k8s_queue_add_after(struct k8s_queue *q, const char *key, uint64_t delay_ms)
{
	if (!delay_ms) {
		k8s_queue_add(q, key);
		return;
	}
	struct qitem *it = get_item(q, key);
	if (!it)
		return;
	uint64_t due = kv_now_ns() + delay_ms * 1000000ull;
	/* An earlier wake-up already pending covers this one. */
	if (k8s_timer_armed(&it->timer) && it->timer.due_ns <= due)
		return;
	k8s_timer_start(q->loop, &it->timer, delay_ms);
}

void k8s_queue_add_rate_limited(struct k8s_queue *q, const char *key)
{
	struct qitem *it = get_item(q, key);
	if (!it)
		return;
	it->failures++;
	q->st.retries++;
	k8s_queue_add_after(q, key, k8s_backoff_ms(it->failures, 5, 300000));
}

void k8s_queue_done(struct k8s_queue *q, const char *key, bool ok)
{
	struct qitem *it = lookup(q, key);
	if (!it || !it->processing)
		return;
	it->processing = false;
	q->st.inflight--;
	q->st.processed++;
	if (ok) {
		it->failures = 0;
	} else {
		q->st.failures++;
		k8s_queue_add_rate_limited(q, key);
	}
	if (it->dirty) {
		it->dirty = false;
		add_item(q, it);
	}
	maybe_drop(q, it);
}

static void dispatch(struct k8s_loop *loop, void *data)
{
	struct k8s_queue *q = data;
	while (!q->paused && q->head && q->st.inflight < q->max_inflight) {
		struct qitem *it = q->head;
		q->head = it->fnext;
		if (!q->head)
			q->tail = NULL;
		q->st.depth--;
		it->queued = false;
		it->processing = true;
		q->st.inflight++;
		/* The handler may call k8s_queue_done (and free `it`) before returning. */
		_cleanup_free_ char *key = strdup(it->key);
		if (!key) {
			it->processing = false;
			q->st.inflight--;
			push(q, it);
			return;
		}
		q->fn(q->ud, q, key);
	}
}

int k8s_queue_new(struct k8s_loop *loop, const char *name, unsigned max_inflight, k8s_queue_fn fn,
		  void *ud, struct k8s_queue **out)
{
	struct k8s_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->loop = loop;
	q->name = strdup(name);
	q->fn = fn;
	q->ud = ud;
	q->max_inflight = max_inflight ? max_inflight : 1;
	q->nbuckets = 256;
	q->buckets = calloc(q->nbuckets, sizeof(*q->buckets));
	if (!q->name || !q->buckets || k8s_loop_add_hook(loop, dispatch, q) < 0) {
		free(q->name);
		free(q->buckets);
		free(q);
		return -ENOMEM;
	}
	*out = q;
	return 0;
}

void k8s_queue_free(struct k8s_queue *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->nbuckets; i++)
		for (struct qitem *it = q->buckets[i], *next; it; it = next) {
			next = it->hnext;
			k8s_timer_stop(q->loop, &it->timer);
			free(it->key);
			free(it);
		}
	free(q->buckets);
	free(q->name);
	free(q);
}

void k8s_queue_pause(struct k8s_queue *q, bool paused)
{
	q->paused = paused;
}

void k8s_queue_stats(const struct k8s_queue *q, struct k8s_queue_stats *out)
{
	*out = q->st;
}

const char *k8s_queue_name(const struct k8s_queue *q)
{
	return q->name;
}
