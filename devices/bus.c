/* SPDX-License-Identifier: Apache-2.0 */
#include "kvirt/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *b, const char *name)
{
	*b = (struct bus){ .name = name };
}

void bus_clear(struct bus *b)
{
	free(b->ranges);
	b->ranges = NULL;
	b->n = b->cap = 0;
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, struct kv_err **err)
{
	uint64_t last;
	if (!len || __builtin_add_overflow(base, len - 1, &last))
		return kv_err_set(err, EINVAL, "%s bus: %s: invalid range 0x%llx+0x%llx", b->name,
				  ops->name, (unsigned long long)base, (unsigned long long)len);
	size_t pos = 0;
	while (pos < b->n && b->ranges[pos].base < base)
		pos++;
	/* Only the neighbours can overlap because the array is sorted and disjoint. */
	const struct bus_range *clash = NULL;
	if (pos > 0) {
		const struct bus_range *p = &b->ranges[pos - 1];
		if (p->base + (p->len - 1) >= base)
			clash = p;
	}
	if (!clash && pos < b->n && b->ranges[pos].base <= last)
		clash = &b->ranges[pos];
	if (clash)
		return kv_err_set(
		    err, EBUSY, "%s bus: %s at 0x%llx-0x%llx overlaps %s at 0x%llx-0x%llx", b->name,
		    ops->name, (unsigned long long)base, (unsigned long long)last, clash->ops->name,
		    (unsigned long long)clash->base,
		    (unsigned long long)(clash->base + clash->len - 1));
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct bus_range *nr = realloc(b->ranges, cap * sizeof(*nr));
		if (!nr)
			return kv_err_set(err, ENOMEM, "%s bus: out of memory", b->name);
		b->ranges = nr;
		b->cap = cap;
	}
	memmove(&b->ranges[pos + 1], &b->ranges[pos], (b->n - pos) * sizeof(*b->ranges));
	b->ranges[pos] = (struct bus_range){ base, len, ops, opaque };
	b->n++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *b, uint64_t addr, unsigned len)
{
	size_t lo = 0, hi = b->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->ranges[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			/* An access straddling the end of a device is not that device's. */
			return (len && addr - r->base + len <= r->len) ? r : NULL;
	}
	return NULL;
}

bool bus_read(const struct bus *b, uint64_t addr, void *data, unsigned len)
{
	const struct bus_range *r = bus_find(b, addr, len);
	if (!r || !r->ops->read) {
		memset(data, 0xff, len);
		return r != NULL;
	}
	r->ops->read(r->opaque, addr - r->base, data, len);
	return true;
}

bool bus_write(const struct bus *b, uint64_t addr, const void *data, unsigned len)
{
	const struct bus_range *r = bus_find(b, addr, len);
	if (!r)
		return false;
	if (r->ops->write)
		r->ops->write(r->opaque, addr - r->base, data, len);
	return true;
}
