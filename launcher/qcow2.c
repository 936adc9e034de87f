/* SPDX-License-Identifier: Apache-2.0 */
/*
 * qcow2 reader.  Format facts used (all fields big-endian):
 *   header: magic "QFI\xfb", version (2|3), backing file offset/size,
 *   cluster_bits, virtual size, crypt method, L1 size and offset, refcount
 *   table, snapshots; v3 adds incompatible/compatible/autoclear feature
 *   bits, refcount order, header length and (if longer than 104 bytes) the
 *   compression type.
 *   L1 entry: bits 9-55 L2 table offset.  L2 entry: bit 62 compressed;
 *   standard clusters: bit 0 "reads as zero" (v3), bits 9-55 host offset;
 *   compressed clusters: with x = 62 - (cluster_bits - 8), bits 0..x-1 host
 *   byte offset, bits x..61 the number of additional 512-byte sectors.
 *   Compressed data is a raw deflate stream.
 */
#include "kvirt/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "kvirt/cleanup.h"

#define QCOW2_MAGIC	 0x514649fbu
#define MIN_CLUSTER_BITS 9
#define MAX_CLUSTER_BITS 21
#define MAX_L1_ENTRIES	 ((32u << 20) / 8) /* a 32 MiB L1 table covers far more than any disk */
#define MAX_VIRTUAL_SIZE (1ull << 52)	   /* 4 PiB */
#define OFFSET_MASK	 0x00fffffffffffe00ull
#define L2_COMPRESSED	 (1ull << 62)
#define L2_ZERO		 1ull

/* v3 incompatible feature bits */
#define INCOMPAT_DIRTY	     (1ull << 0)
#define INCOMPAT_CORRUPT     (1ull << 1)
#define INCOMPAT_DATA_FILE   (1ull << 2)
#define INCOMPAT_COMPRESSION (1ull << 3)
#define INCOMPAT_EXTL2	     (1ull << 4)

struct kv_qcow2 {
	kv_qcow2_read_fn read;
	void *ctx;
	uint64_t file_size;
	struct kv_qcow2_info info;
	uint64_t cluster_size;
	uint64_t l2_entries;
	uint64_t *l1; /* host byte order */
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

bool kv_qcow2_probe(const void *buf, size_t len)
{
	return len >= 4 && be32(buf) == QCOW2_MAGIC;
}

void kv_qcow2_free(struct kv_qcow2 *q)
{
	if (!q)
		return;
	free(q->l1);
	free(q);
}

const struct kv_qcow2_info *kv_qcow2_info(const struct kv_qcow2 *q)
{
	return &q->info;
}

/* [off, off+len) lies inside the file. */
static bool in_file(const struct kv_qcow2 *q, uint64_t off, uint64_t len)
{
	return off <= q->file_size && len <= q->file_size - off;
}

int kv_qcow2_open(kv_qcow2_read_fn read, void *ctx, uint64_t file_size, struct kv_qcow2 **out,
		  struct kv_err **err)
{
	uint8_t h[105];
	memset(h, 0, sizeof(h));
	if (file_size < 72)
		return kv_err_set(err, EINVAL, "qcow2: file too short for a header (%llu bytes)",
				  (unsigned long long)file_size);
	size_t want = file_size < sizeof(h) ? (size_t)file_size : sizeof(h);
	int r = read(ctx, h, want, 0);
	if (r < 0)
		return kv_err_set(err, r, "qcow2: cannot read the header");
	if (be32(h) != QCOW2_MAGIC)
		return kv_err_set(err, EINVAL, "qcow2: bad magic (not a qcow2 image)");

	_cleanup_(kv_qcow2_freep) struct kv_qcow2 *q = calloc(1, sizeof(*q));
	if (!q)
		return kv_err_set(err, ENOMEM, "out of memory");
	q->read = read;
	q->ctx = ctx;
	q->file_size = file_size;
	q->info.version = be32(h + 4);
	uint64_t backing_off = be64(h + 8);
	q->info.cluster_bits = be32(h + 20);
	q->info.virtual_size = be64(h + 24);
	uint32_t crypt = be32(h + 32);
	uint32_t l1_size = be32(h + 36);
	uint64_t l1_off = be64(h + 40);

	if (q->info.version != 2 && q->info.version != 3)
		return kv_err_set(err, ENOTSUP, "qcow2: version %u is not supported (only 2 and 3)",
				  q->info.version);
	if (q->info.cluster_bits < MIN_CLUSTER_BITS || q->info.cluster_bits > MAX_CLUSTER_BITS)
		return kv_err_set(err, EINVAL, "qcow2: cluster_bits %u out of range (%d-%d)",
				  q->info.cluster_bits, MIN_CLUSTER_BITS, MAX_CLUSTER_BITS);
	if (backing_off)
		return kv_err_set(err, ENOTSUP,
				  "qcow2: images with a backing file are not supported; flatten it "
				  "first (qemu-img convert -O qcow2 in.qcow2 out.qcow2)");
	if (crypt)
		return kv_err_set(err, ENOTSUP, "qcow2: encrypted images are not supported");
	if (q->info.virtual_size > MAX_VIRTUAL_SIZE)
		return kv_err_set(err, EINVAL, "qcow2: virtual size %llu is implausibly large",
				  (unsigned long long)q->info.virtual_size);

	if (q->info.version == 3) {
		if (want < 104)
			return kv_err_set(err, EINVAL,
					  "qcow2: file too short for a version 3 header");
		uint64_t incompat = be64(h + 72);
		uint32_t hdr_len = be32(h + 100);
		if (hdr_len < 104 || hdr_len > (1u << q->info.cluster_bits))
			return kv_err_set(err, EINVAL, "qcow2: header length %u is invalid",
					  hdr_len);
		if (incompat & INCOMPAT_CORRUPT)
			return kv_err_set(err, EINVAL,
					  "qcow2: the image is marked corrupt; repair it with "
					  "qemu-img check -r all");
		if (incompat & INCOMPAT_DATA_FILE)
			return kv_err_set(
			    err, ENOTSUP,
			    "qcow2: images with an external data file are not supported");
		if (incompat & INCOMPAT_EXTL2)
			return kv_err_set(
			    err, ENOTSUP,
			    "qcow2: extended L2 entries (subclusters) are not supported");
		if (incompat & INCOMPAT_COMPRESSION) {
			uint8_t type = hdr_len > 104 && want > 104 ? h[104] : 0;
			if (type != 0)
				return kv_err_set(
				    err, ENOTSUP,
				    "qcow2: compression type %u is not supported (only "
				    "zlib); recompress with qemu-img convert -c",
				    type);
		}
		uint64_t known = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE |
				 INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;
		if (incompat & ~known)
			return kv_err_set(err, ENOTSUP,
					  "qcow2: unknown incompatible features 0x%llx",
					  (unsigned long long)(incompat & ~known));
		q->info.dirty = incompat & INCOMPAT_DIRTY;
	}

	q->cluster_size = 1ull << q->info.cluster_bits;
	q->l2_entries = q->cluster_size / 8;
	uint64_t per_l1 = q->cluster_size * q->l2_entries;
	uint64_t needed = (q->info.virtual_size + per_l1 - 1) / per_l1;
	if (l1_size < needed)
		return kv_err_set(err, EINVAL,
				  "qcow2: L1 table has %u entries but the virtual size needs %llu",
				  l1_size, (unsigned long long)needed);
	if (l1_size > MAX_L1_ENTRIES)
		return kv_err_set(err, EINVAL, "qcow2: L1 table of %u entries is too large",
				  l1_size);
	if (l1_off & (q->cluster_size - 1))
		return kv_err_set(err, EINVAL, "qcow2: L1 table offset is not cluster aligned");
	if (!in_file(q, l1_off, (uint64_t)needed * 8))
		return kv_err_set(err, EINVAL, "qcow2: L1 table lies beyond the end of the file");

	/* Only the entries that cover the virtual size matter. */
	q->info.l1_entries = needed;
	q->l1 = calloc(needed ? needed : 1, sizeof(uint64_t));
	if (!q->l1)
		return kv_err_set(err, ENOMEM, "out of memory");
	if (needed) {
		r = read(ctx, q->l1, needed * 8, l1_off);
		if (r < 0)
			return kv_err_set(err, r, "qcow2: cannot read the L1 table");
	}
	for (uint64_t i = 0; i < needed; i++) {
		q->l1[i] = be64((const uint8_t *)&q->l1[i]);
		uint64_t l2_off = q->l1[i] & OFFSET_MASK;
		if (!l2_off)
			continue;
		if ((l2_off & (q->cluster_size - 1)) || !in_file(q, l2_off, q->cluster_size))
			return kv_err_set(
			    err, EINVAL,
			    "qcow2: L1 entry %llu points outside the file or is misaligned",
			    (unsigned long long)i);
	}
	*out = TAKE_PTR(q);
	return 0;
}

static int inflate_cluster(struct kv_qcow2 *q, uint64_t entry, uint8_t *in, uint8_t *out,
			   uint64_t guest_off, struct kv_err **err)
{
	unsigned x = 62 - (q->info.cluster_bits - 8);
	uint64_t host = entry & ((1ull << x) - 1);
	uint64_t sectors = ((entry & ~L2_COMPRESSED) >> x) + 1;
	uint64_t csize = sectors * 512 - (host & 511);
	/* Compressed data never exceeds a cluster plus the sector it starts in. */
	if (csize > q->cluster_size + 512)
		return kv_err_set(err, EINVAL,
				  "qcow2: compressed cluster at guest offset %llu is too large",
				  (unsigned long long)guest_off);
	if (host >= q->file_size)
		return kv_err_set(
		    err, EINVAL,
		    "qcow2: compressed cluster at guest offset %llu lies beyond the file",
		    (unsigned long long)guest_off);
	/* The last compressed cluster may end before its last sector does. */
	if (csize > q->file_size - host)
		csize = q->file_size - host;
	int r = q->read(q->ctx, in, (size_t)csize, host);
	if (r < 0)
		return kv_err_set(err, r, "qcow2: cannot read a compressed cluster");
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, -15) != Z_OK)
		return kv_err_set(err, ENOMEM, "qcow2: cannot initialize zlib");
	zs.next_in = in;
	zs.avail_in = (uInt)csize;
	zs.next_out = out;
	zs.avail_out = (uInt)q->cluster_size;
	int zr = inflate(&zs, Z_FINISH);
	uint64_t produced = q->cluster_size - zs.avail_out;
	inflateEnd(&zs);
	/* Z_BUF_ERROR with a full output buffer: the stream had trailing bytes. */
	if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR) || produced != q->cluster_size)
		return kv_err_set(
		    err, EINVAL,
		    "qcow2: compressed cluster at guest offset %llu does not inflate to "
		    "a full cluster",
		    (unsigned long long)guest_off);
	return 0;
}

int kv_qcow2_for_each_cluster(struct kv_qcow2 *q, kv_qcow2_cluster_fn fn, void *ctx,
			      struct kv_err **err)
{
	_cleanup_free_ uint64_t *l2 = malloc(q->cluster_size);
	_cleanup_free_ uint8_t *data = malloc(q->cluster_size);
	_cleanup_free_ uint8_t *cbuf = malloc(q->cluster_size + 512);
	if (!l2 || !data || !cbuf)
		return kv_err_set(err, ENOMEM, "out of memory");
	uint64_t vsize = q->info.virtual_size;
	for (uint64_t i = 0; i < q->info.l1_entries; i++) {
		uint64_t l2_off = q->l1[i] & OFFSET_MASK;
		if (!l2_off)
			continue;
		int r = q->read(q->ctx, l2, q->cluster_size, l2_off);
		if (r < 0)
			return kv_err_set(err, r, "qcow2: cannot read an L2 table");
		for (uint64_t j = 0; j < q->l2_entries; j++) {
			uint64_t guest = (i * q->l2_entries + j) * q->cluster_size;
			if (guest >= vsize)
				break;
			uint64_t e = be64((const uint8_t *)&l2[j]);
			size_t len = (size_t)(vsize - guest < q->cluster_size ? vsize - guest
									      : q->cluster_size);
			if (e & L2_COMPRESSED) {
				r = inflate_cluster(q, e, cbuf, data, guest, err);
				if (r < 0)
					return r;
			} else {
				uint64_t host = e & OFFSET_MASK;
				if ((e & L2_ZERO) || !host)
					continue; /* reads as zeros: leave a hole */
				if ((host & (q->cluster_size - 1)) || host >= q->file_size)
					return kv_err_set(err, EINVAL,
							  "qcow2: data cluster for guest offset "
							  "%llu is misaligned "
							  "or beyond the file",
							  (unsigned long long)guest);
				/* A short final cluster in the file reads as zeros past EOF. */
				uint64_t avail = q->file_size - host;
				size_t rd = avail < len ? (size_t)avail : len;
				r = q->read(q->ctx, data, rd, host);
				if (r < 0)
					return kv_err_set(err, r,
							  "qcow2: cannot read a data cluster");
				memset(data + rd, 0, len - rd);
			}
			r = fn(ctx, guest, data, len);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ---- conversion to raw --------------------------------------------------- */

static int fd_read_exact(void *ctx, void *buf, size_t len, uint64_t off)
{
	int fd = *(int *)ctx;
	uint8_t *b = buf;
	while (len) {
		ssize_t n = pread(fd, b, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		b += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

struct raw_sink {
	int fd;
};

static bool all_zero(const uint8_t *p, size_t len)
{
	/* Compare the buffer with itself shifted by one byte after checking p[0]. */
	return len == 0 || (p[0] == 0 && !memcmp(p, p + 1, len - 1));
}

static int pwrite_all(int fd, const uint8_t *b, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, b, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Write a cluster's non-zero 4 KiB blocks, coalesced into runs: zeros stay
 * holes whatever the cluster size (2 MiB clusters are often mostly empty).
 */
#define SPARSE_BLOCK 4096u
static int write_cluster(void *ctx, uint64_t guest_off, const void *data, size_t len)
{
	struct raw_sink *s = ctx;
	const uint8_t *b = data;
	size_t run_start = 0, run_len = 0;
	for (size_t pos = 0; pos < len; pos += SPARSE_BLOCK) {
		size_t blk = len - pos < SPARSE_BLOCK ? len - pos : SPARSE_BLOCK;
		if (!all_zero(b + pos, blk)) {
			if (!run_len)
				run_start = pos;
			run_len += blk;
			continue;
		}
		if (run_len) {
			int r = pwrite_all(s->fd, b + run_start, run_len, guest_off + run_start);
			if (r < 0)
				return r;
			run_len = 0;
		}
	}
	if (run_len)
		return pwrite_all(s->fd, b + run_start, run_len, guest_off + run_start);
	return 0;
}

int kv_qcow2_convert_to_raw(const char *src, const char *dst, struct kv_err **err)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return kv_err_errno(err, "cannot open %s", src);
	struct stat st;
	if (fstat(in, &st) < 0)
		return kv_err_errno(err, "cannot stat %s", src);
	_cleanup_(kv_qcow2_freep) struct kv_qcow2 *q = NULL;
	int r = kv_qcow2_open(fd_read_exact, &in, (uint64_t)st.st_size, &q, err);
	if (r < 0) {
		kv_err_prefix(err, "%s", src);
		return r;
	}
	_cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0)
		return kv_err_errno(err, "cannot create %s", dst);
	struct raw_sink sink = { .fd = out };
	if (ftruncate(out, (off_t)q->info.virtual_size) < 0) {
		r = kv_err_errno(err, "cannot size %s", dst);
		goto fail;
	}
	r = kv_qcow2_for_each_cluster(q, write_cluster, &sink, err);
	if (r < 0) {
		if (!err || !*err)
			kv_err_set(err, r, "writing %s: %s", dst, strerror(-r));
		kv_err_prefix(err, "%s", src);
		goto fail;
	}
	if (fsync(out) < 0) {
		r = kv_err_errno(err, "cannot sync %s", dst);
		goto fail;
	}
	return 0;
fail:
	unlink(dst);
	return r;
}
