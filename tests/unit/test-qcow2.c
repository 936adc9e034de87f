/* SPDX-License-Identifier: Apache-2.0 */
/*
 * qcow2 reader: images made by qemu-img (v2, v3, compressed, zero clusters,
 * small and large clusters, a partial last cluster) must convert to exactly
 * the bytes qemu-img itself produces, staying sparse; crafted bad images
 * must be refused with a specific message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/qcow2.h"
#include "kvirt/util.h"
#include "../tap.h"

static char dir[] = "/tmp/kvirt-qcow2-XXXXXX";

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A raw disk with data, holes, a pattern at an odd offset and data in the
 * last, partial cluster (size is not a multiple of 64 KiB). */
static void make_source(const char *raw)
{
	sh("rm -f %s; truncate -s 20971520 %s", raw, raw);
	sh("head -c 1048576 /dev/urandom | dd of=%s conv=notrunc status=none", raw);
	sh("printf 'kvirt-pattern' | dd of=%s bs=1 seek=5242883 conv=notrunc status=none", raw);
	sh("head -c 300000 /dev/urandom | dd of=%s bs=4096 seek=3000 conv=notrunc status=none",
	   raw);
	sh("printf 'tail-data' | dd of=%s bs=1 seek=20971000 conv=notrunc status=none", raw);
	sh("truncate -s 20971520 %s", raw);
	/* 20 MiB + 512 bytes: the final cluster is partial. */
	sh("truncate -s 20972032 %s && printf 'last' | dd of=%s bs=1 seek=20972000 conv=notrunc "
	   "status=none",
	   raw, raw);
}

static void check_variant(const char *raw, const char *name, const char *opts)
{
	char q[256], ref[256], out[256];
	snprintf(q, sizeof(q), "%s/%s.qcow2", dir, name);
	snprintf(ref, sizeof(ref), "%s/%s.ref", dir, name);
	snprintf(out, sizeof(out), "%s/%s.raw", dir, name);
	if (!ok(sh("qemu-img convert -f raw -O qcow2 %s %s %s", opts, raw, q) == 0,
		"%s: qemu-img made the image", name))
		return;
	sh("qemu-img convert -f qcow2 -O raw %s %s", q, ref);
	struct kv_err *err = NULL;
	uint64_t t0 = kv_now_ns();
	int r = kv_qcow2_convert_to_raw(q, out, &err);
	uint64_t t1 = kv_now_ns();
	ok(r == 0, "%s: converted (%.1f ms)%s%s", name, (double)(t1 - t0) / 1e6, err ? ": " : "",
	   err ? err->msg : "");
	kv_err_free(err);
	ok(sh("cmp -s %s %s", out, ref) == 0, "%s: identical to qemu-img's raw conversion", name);
	ok(sh("cmp -s %s %s", out, raw) == 0, "%s: identical to the original disk", name);
	struct stat st = { 0 };
	int sr = stat(out, &st);
	ok(sr == 0 && (uint64_t)st.st_blocks * 512 < 4u << 20,
	   "%s: holes stay holes (%lld KiB allocated of %lld KiB)", name,
	   (long long)st.st_blocks / 2, (long long)st.st_size / 1024);
	/* The destination must not be overwritten: O_EXCL. */
	err = NULL;
	r = kv_qcow2_convert_to_raw(q, out, &err);
	ok(r == -EEXIST && err && strstr(err->msg, "cannot create"), "%s: refuses to overwrite",
	   name);
	kv_err_free(err);
}

static void test_zero_clusters(void)
{
	char q[256], ref[256], out[256];
	snprintf(q, sizeof(q), "%s/zero.qcow2", dir);
	snprintf(ref, sizeof(ref), "%s/zero.ref", dir);
	snprintf(out, sizeof(out), "%s/zero.raw", dir);
	int r = sh(
	    "qemu-img create -q -f qcow2 -o compat=1.1 %s 8M && "
	    "qemu-io -c 'write -P 0xab 0 1M' -c 'write -z 65536 131072' -c 'write -P 0x5 4M 64k' "
	    "%s >/dev/null",
	    q, q);
	if (!ok(r == 0, "zero clusters: image made with qemu-io"))
		return;
	sh("qemu-img convert -f qcow2 -O raw %s %s", q, ref);
	struct kv_err *err = NULL;
	r = kv_qcow2_convert_to_raw(q, out, &err);
	ok(r == 0 && sh("cmp -s %s %s", out, ref) == 0,
	   "zero clusters read as zeros, data around them intact");
	kv_err_free(err);
}

/* ---- crafted images ---- */

struct membuf {
	uint8_t *p;
	size_t len;
};

static int mem_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct membuf *m = ctx;
	if (off > m->len || len > m->len - off)
		return -EIO;
	memcpy(buf, m->p + off, len);
	return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int count_cluster(void *ctx, uint64_t off, const void *data, size_t len)
{
	(*(int *)ctx)++;
	return 0;
}

/* Open (and walk) a mutated copy of `base`; expect an error containing needle. */
static void expect_bad(const struct membuf *base, void (*mutate)(struct membuf *),
		       const char *needle, const char *what)
{
	struct membuf m = { malloc(base->len), base->len };
	memcpy(m.p, base->p, base->len);
	mutate(&m);
	struct kv_err *err = NULL;
	struct kv_qcow2 *q = NULL;
	int r = kv_qcow2_open(mem_read, &m, m.len, &q, &err);
	if (r == 0) {
		int n = 0;
		r = kv_qcow2_for_each_cluster(q, count_cluster, &n, &err);
	}
	ok(r < 0 && err && strstr(err->msg, needle), "%s: refused (%s)", what,
	   err ? err->msg : "accepted!");
	kv_err_free(err);
	kv_qcow2_free(q);
	free(m.p);
}

static void m_magic(struct membuf *m)
{
	m->p[0] = 'X';
}
static void m_version(struct membuf *m)
{
	put_be32(m->p + 4, 4);
}
static void m_cbits_small(struct membuf *m)
{
	put_be32(m->p + 20, 8);
}
static void m_cbits_big(struct membuf *m)
{
	put_be32(m->p + 20, 30);
}
static void m_backing(struct membuf *m)
{
	put_be64(m->p + 8, 512);
	put_be32(m->p + 16, 8);
}
static void m_crypt(struct membuf *m)
{
	put_be32(m->p + 32, 1);
}
static void m_l1_small(struct membuf *m)
{
	put_be32(m->p + 36, 0);
}
static void m_l1_beyond(struct membuf *m)
{
	put_be64(m->p + 40, 1ull << 40);
}
static void m_l1_misaligned(struct membuf *m)
{
	put_be64(m->p + 40, get_be64(m->p + 40) + 8);
}
static void m_corrupt(struct membuf *m)
{
	m->p[79] |= 2;
}
static void m_unknown_incompat(struct membuf *m)
{
	m->p[79] |= 0x80;
}
static void m_zstd(struct membuf *m)
{
	m->p[79] |= 8;
	m->p[104] = 1;
}
static void m_huge_size(struct membuf *m)
{
	put_be64(m->p + 24, 1ull << 60);
}
static void m_truncated(struct membuf *m)
{
	m->len = 40;
}
static void m_l2_beyond(struct membuf *m)
{
	uint64_t l1 = get_be64(m->p + 40);
	put_be64(m->p + l1, (1ull << 40) | (1ull << 63));
}
static uint8_t *first_l2_entry(struct membuf *m)
{
	uint64_t l1 = get_be64(m->p + 40);
	uint64_t l2 = get_be64(m->p + l1) & 0x00fffffffffffe00ull;
	return m->p + l2;
}
static void m_data_beyond(struct membuf *m)
{
	put_be64(first_l2_entry(m), (1ull << 40) | (1ull << 63));
}
static void m_data_misaligned(struct membuf *m)
{
	uint8_t *e = first_l2_entry(m);
	put_be64(e, get_be64(e) + 512);
}
static void m_compressed_garbage(struct membuf *m)
{
	/* Mark the first cluster compressed, pointing at the header bytes. */
	put_be64(first_l2_entry(m), (1ull << 62) | 0x200);
}

static void test_crafted(void)
{
	char q[256];
	snprintf(q, sizeof(q), "%s/small.qcow2", dir);
	if (!ok(sh("qemu-img create -q -f qcow2 -o compat=1.1 %s 1M && qemu-io -c 'write -P 7 0 "
		   "64k' "
		   "%s >/dev/null",
		   q, q) == 0,
		"crafted: base image made"))
		return;
	struct membuf base = { 0 };
	size_t len = 0;
	ok(kv_read_file(q, 16 << 20, (char **)&base.p, &len) == 0, "crafted: base read");
	base.len = len;
	struct kv_err *err = NULL;
	struct kv_qcow2 *qq = NULL;
	int n = 0;
	ok(kv_qcow2_open(mem_read, &base, base.len, &qq, &err) == 0 &&
	       kv_qcow2_for_each_cluster(qq, count_cluster, &n, &err) == 0 && n == 1,
	   "crafted: the unmodified base opens and has one data cluster (%d)", n);
	ok(qq && kv_qcow2_info(qq)->version == 3 && kv_qcow2_info(qq)->cluster_bits == 16 &&
	       kv_qcow2_info(qq)->virtual_size == 1 << 20,
	   "crafted: header fields read");
	kv_qcow2_free(qq);
	kv_err_free(err);

	expect_bad(&base, m_magic, "bad magic", "bad magic");
	expect_bad(&base, m_version, "version 4", "version 4");
	expect_bad(&base, m_cbits_small, "cluster_bits 8", "cluster_bits too small");
	expect_bad(&base, m_cbits_big, "cluster_bits 30", "cluster_bits too big");
	expect_bad(&base, m_backing, "backing file", "backing file");
	expect_bad(&base, m_crypt, "encrypted", "encryption");
	expect_bad(&base, m_l1_small, "L1 table has 0 entries", "L1 smaller than the disk");
	expect_bad(&base, m_l1_beyond, "beyond the end", "L1 beyond EOF");
	expect_bad(&base, m_l1_misaligned, "not cluster aligned", "L1 misaligned");
	expect_bad(&base, m_corrupt, "marked corrupt", "corrupt bit");
	expect_bad(&base, m_unknown_incompat, "unknown incompatible", "unknown feature");
	expect_bad(&base, m_zstd, "compression type 1", "zstd compression");
	expect_bad(&base, m_huge_size, "implausibly large", "huge virtual size");
	expect_bad(&base, m_truncated, "too short", "truncated header");
	expect_bad(&base, m_l2_beyond, "L1 entry 0", "L2 table beyond EOF");
	expect_bad(&base, m_data_beyond, "beyond the file", "data cluster beyond EOF");
	expect_bad(&base, m_data_misaligned, "misaligned", "data cluster misaligned");
	expect_bad(&base, m_compressed_garbage, "does not inflate", "garbage compressed cluster");
	free(base.p);

	err = NULL;
	char missing[300];
	snprintf(missing, sizeof(missing), "%s/nope.qcow2", dir);
	char out[300];
	snprintf(out, sizeof(out), "%s/nope.raw", dir);
	ok(kv_qcow2_convert_to_raw(missing, out, &err) == -ENOENT && err &&
	       strstr(err->msg, "nope.qcow2"),
	   "missing file named in the error");
	kv_err_free(err);
	err = NULL;
	ok(kv_qcow2_convert_to_raw("/etc/hostname", out, &err) < 0 && access(out, F_OK) != 0,
	   "a non-qcow2 file is refused and leaves no output behind");
	kv_err_free(err);
}

int main(void)
{
	if (system("command -v qemu-img >/dev/null && command -v qemu-io >/dev/null") != 0)
		tap_skip_all("qemu-img/qemu-io missing (scripts/deps.sh installs qemu-utils)");
	if (!mkdtemp(dir))
		tap_skip_all("cannot create a temporary directory");
	char raw[300];
	snprintf(raw, sizeof(raw), "%s/source.raw", dir);
	make_source(raw);
	check_variant(raw, "v3", "-o compat=1.1");
	check_variant(raw, "v2", "-o compat=0.10");
	check_variant(raw, "compressed", "-c -o compat=1.1");
	check_variant(raw, "c4k", "-o cluster_size=4096");
	check_variant(raw, "c2m", "-o cluster_size=2M");
	check_variant(raw, "c512-compressed", "-c -o cluster_size=512");
	test_zero_clusters();
	test_crafted();
	sh("rm -rf %s", dir);
	return tap_done();
}
