/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the qcow2 header, L1/L2 and compressed-cluster parsing.
 * containerDisk images come from container images, so they are untrusted.
 * The input is the whole image file, read from memory.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kvirt/err.h"
#include "kvirt/qcow2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_image {
	const uint8_t *p;
	size_t len;
};

static int image_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct fuzz_image *im = ctx;
	if (off > im->len || len > im->len - off)
		return -EIO;
	memcpy(buf, im->p + off, len);
	return 0;
}

/* Bound the work per input: many L1 entries may share one L2 table. */
#define MAX_CLUSTERS 256

static int visit(void *ctx, uint64_t guest_off, const void *buf, size_t len)
{
	unsigned *n = ctx;
	const volatile uint8_t *b = buf;
	if (len)
		(void)b[len - 1]; /* the whole cluster must be readable */
	return ++*n >= MAX_CLUSTERS ? -E2BIG : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_image im = { data, size };
	struct kv_err *err = NULL;
	struct kv_qcow2 *q = NULL;
	int r = kv_qcow2_open(image_read, &im, size, &q, &err);
	if (r == 0) {
		unsigned n = 0;
		r = kv_qcow2_for_each_cluster(q, visit, &n, &err);
	}
	/* A refusal from the parser itself must explain itself. */
	if (r < 0 && r != -E2BIG && (!err || !err->msg))
		__builtin_trap();
	kv_err_free(err);
	kv_qcow2_free(q);
	return 0;
}
