/* SPDX-License-Identifier: Apache-2.0 */
#include "kvirt/guest_mem.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define GUEST_MEM_ALIGN (2ull << 20)

void guest_mem_layout(uint64_t size, struct guest_mem *m)
{
	*m = (struct guest_mem){ .base = MAP_FAILED };
	uint64_t low = size < GUEST_MMIO_HOLE_START ? size : GUEST_MMIO_HOLE_START;
	m->regions[0] = (struct guest_region){ .gpa = 0, .size = low };
	m->nregions = 1;
	if (size > low) {
		m->regions[1] =
		    (struct guest_region){ .gpa = GUEST_MMIO_HOLE_END, .size = size - low };
		m->nregions = 2;
	}
}

int guest_mem_create(struct guest_mem *m, uint64_t size, bool thp, struct kv_err **err)
{
	guest_mem_layout(size, m);
	/*
	 * Private anonymous memory: no memfd, so the pod's cgroup sees anon
	 * pages rather than page cache (CH #4536), and NORESERVE so a large
	 * guest does not need commit headroom it will never touch.
	 */
	/*
	 * 2 MiB-aligned: KVM maps guest memory with huge pages only where the
	 * host address and the guest address agree modulo 2 MiB, so an
	 * unaligned mapping gets 4 KiB mappings (more TLB misses, more faults)
	 * even when THP backs it.  Over-map by 2 MiB and trim both ends.
	 */
	uint8_t *raw = mmap(NULL, size + GUEST_MEM_ALIGN, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return kv_err_errno(err, "memory: cannot map %llu MiB of guest RAM",
				    (unsigned long long)(size >> 20));
	uint8_t *p =
	    (uint8_t *)(((uintptr_t)raw + GUEST_MEM_ALIGN - 1) & ~(uintptr_t)(GUEST_MEM_ALIGN - 1));
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	if (p + size < raw + size + GUEST_MEM_ALIGN)
		munmap(p + size, (size_t)(raw + size + GUEST_MEM_ALIGN - (p + size)));
	if (thp && madvise(p, size, MADV_HUGEPAGE) < 0) {
		int e = errno;
		munmap(p, size);
		errno = e;
		return kv_err_errno(err, "hugepages: madvise(MADV_HUGEPAGE) failed");
	}
	/* Guest RAM in a core dump would be huge and may hold guest secrets. */
	(void)madvise(p, size, MADV_DONTDUMP);
	m->base = p;
	m->map_len = size;
	uint64_t off = 0;
	for (unsigned i = 0; i < m->nregions; i++) {
		m->regions[i].host = m->base + off;
		off += m->regions[i].size;
	}
	return 0;
}

void guest_mem_destroy(struct guest_mem *m)
{
	if (m->base && m->base != MAP_FAILED)
		munmap(m->base, m->map_len);
	m->base = MAP_FAILED;
	m->map_len = 0;
	m->nregions = 0;
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	if (!len)
		return NULL;
	uint64_t last;
	if (__builtin_add_overflow(gpa, len - 1, &last))
		return NULL;
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->regions[i];
		/* Compare via offsets so a region ending at 2^64 cannot wrap. */
		if (gpa >= r->gpa && last - r->gpa < r->size && gpa - r->gpa < r->size) {
			if (!r->host)
				return NULL;
			return r->host + (gpa - r->gpa);
		}
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = guest_mem_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len)
{
	void *p = guest_mem_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *m)
{
	return m->nregions ? m->regions[0].size : 0;
}
