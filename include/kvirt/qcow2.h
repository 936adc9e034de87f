/* SPDX-License-Identifier: Apache-2.0 */
/*
 * qcow2 reader (versions 2 and 3), written for containerDisk images.
 *
 * The launcher converts a qcow2 containerDisk to a sparse raw file in the
 * VM's run directory before the VM starts, so the VMM serves only raw images
 * (one fast path, O_DIRECT and io_uring friendly).  docs/launcher.md has the
 * measurements behind that choice.
 *
 * Images are untrusted (they come from container images): every offset and
 * size in the header, L1 and L2 tables is checked against the file and the
 * format's limits, and anything unsupported (backing files, encryption,
 * external data files, extended L2 entries, non-zlib compression) is
 * refused with a message that says what to do instead.
 */
#ifndef KVIRT_QCOW2_H
#define KVIRT_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kvirt/err.h"

/* Reads exactly `len` bytes at `off`, or returns a negative errno (-EIO at EOF). */
typedef int (*kv_qcow2_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);

struct kv_qcow2;

struct kv_qcow2_info {
	uint32_t version;
	uint32_t cluster_bits;
	uint64_t virtual_size;
	uint64_t l1_entries;
	bool dirty; /* refcounts may be stale; harmless for reading */
};

/* True when buf starts with the qcow2 magic. */
bool kv_qcow2_probe(const void *buf, size_t len);

/* Validate the header and load the L1 table of an image of `file_size` bytes. */
int kv_qcow2_open(kv_qcow2_read_fn read, void *ctx, uint64_t file_size, struct kv_qcow2 **out,
		  struct kv_err **err);
void kv_qcow2_free(struct kv_qcow2 *q);
static inline void kv_qcow2_freep(struct kv_qcow2 **q)
{
	kv_qcow2_free(*q);
	*q = NULL;
}
const struct kv_qcow2_info *kv_qcow2_info(const struct kv_qcow2 *q);

/*
 * Walk every guest cluster in order.  For each allocated cluster the
 * callback gets the guest offset and the cluster's data (cluster size bytes;
 * the last cluster may be shorter when the virtual size is not
 * cluster-aligned).  Unallocated and zero clusters are skipped.  A callback
 * returning < 0 stops the walk with that value.
 */
typedef int (*kv_qcow2_cluster_fn)(void *ctx, uint64_t guest_off, const void *data, size_t len);
int kv_qcow2_for_each_cluster(struct kv_qcow2 *q, kv_qcow2_cluster_fn fn, void *ctx,
			      struct kv_err **err);

/*
 * Convert the qcow2 image at `src` to a sparse raw file at `dst` (created
 * with O_EXCL; removed again on failure).  Zero-filled clusters stay holes.
 */
int kv_qcow2_convert_to_raw(const char *src, const char *dst, struct kv_err **err);

#endif
