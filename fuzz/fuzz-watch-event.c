/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the watch stream from the API server (k8s/watch.c).  The
 * first two bytes choose split points; the rest is fed through the
 * incremental splitter in up to three chunks, and every object it yields is
 * decoded as a watch event -- as the informer does with network input.
 * The result must not depend on where the chunks were split.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kvirt/k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
	unsigned objects, events;
	uint64_t hash;
};

static int on_object(void *ud, const char *buf, size_t len)
{
	struct tally *t = ud;
	t->objects++;
	for (size_t i = 0; i < len; i++)
		t->hash = (t->hash ^ (unsigned char)buf[i]) * 1099511628211ull;
	struct k8s_watch_event ev;
	struct kv_err *err = NULL;
	int r = k8s_watch_event_parse(buf, len, &ev, &err);
	if (r < 0 && (!err || !err->msg))
		__builtin_trap(); /* every refusal says why */
	if (r >= 0) {
		t->events++;
		if (!ev.object || (ev.type != K8S_EV_ERROR && !ev.rv))
			__builtin_trap();
		k8s_watch_event_clear(&ev);
	}
	kv_err_free(err);
	return 0;
}

static int run(const char *buf, size_t size, size_t a, size_t b, struct tally *t)
{
	struct k8s_stream s;
	k8s_stream_init(&s, 1u << 20);
	struct kv_err *err = NULL;
	int r = k8s_stream_feed(&s, buf, a, on_object, t, &err);
	if (r >= 0)
		r = k8s_stream_feed(&s, buf + a, b - a, on_object, t, &err);
	if (r >= 0)
		r = k8s_stream_feed(&s, buf + b, size - b, on_object, t, &err);
	if (r < 0 && (!err || !err->msg))
		__builtin_trap();
	kv_err_free(err);
	k8s_stream_reset(&s);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const char *buf = (const char *)data + 2;
	size_t n = size - 2;
	size_t a = n ? data[0] % (n + 1) : 0;
	size_t b = n ? data[1] % (n + 1) : 0;
	if (a > b) {
		size_t t = a;
		a = b;
		b = t;
	}
	struct tally split = { 0 }, whole = { 0 };
	int r1 = run(buf, n, a, b, &split);
	int r2 = run(buf, n, n, n, &whole);
	/* Same input, same outcome, wherever the network cut it. */
	if ((r1 < 0) != (r2 < 0) ||
	    (r1 >= 0 && (split.objects != whole.objects || split.events != whole.events ||
			 split.hash != whole.hash)))
		__builtin_trap();
	return 0;
}
