/* SPDX-License-Identifier: Apache-2.0 */
#include "aml.h"

#include <stdlib.h>
#include <string.h>

#define AML_ZERO	  0x00
#define AML_ONE		  0x01
#define AML_ONES	  0xff
#define AML_NAME_OP	  0x08
#define AML_BYTE_PREFIX	  0x0a
#define AML_WORD_PREFIX	  0x0b
#define AML_DWORD_PREFIX  0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX  0x0e
#define AML_SCOPE_OP	  0x10
#define AML_BUFFER_OP	  0x11
#define AML_PACKAGE_OP	  0x12
#define AML_EXT_PREFIX	  0x5b
#define AML_DEVICE_OP	  0x82
#define AML_ROOT_CHAR	  0x5c
#define AML_DUAL_NAME	  0x2e
#define AML_MULTI_NAME	  0x2f
#define AML_PKG_RESERVE	  4

void aml_init(struct aml *a)
{
	*a = (struct aml){ 0 };
}

void aml_free(struct aml *a)
{
	free(a->buf);
	aml_init(a);
}

static bool aml_reserve(struct aml *a, size_t n)
{
	if (a->oom)
		return false;
	if (a->len + n <= a->cap)
		return true;
	size_t cap = a->cap ? a->cap : 256;
	while (cap < a->len + n)
		cap *= 2;
	uint8_t *nb = realloc(a->buf, cap);
	if (!nb) {
		a->oom = true;
		return false;
	}
	a->buf = nb;
	a->cap = cap;
	return true;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (!aml_reserve(a, n))
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_nameseg(struct aml *a, const char *seg, size_t n)
{
	char s[4] = { '_', '_', '_', '_' };
	if (n == 0 || n > 4) {
		a->error = true;
		n = n > 4 ? 4 : n;
	}
	memcpy(s, seg, n);
	aml_bytes(a, s, 4);
}

void aml_namestring(struct aml *a, const char *path)
{
	if (*path == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		path++;
	}
	size_t nseg = 1;
	for (const char *p = path; *p; p++)
		nseg += *p == '.';
	if (nseg == 2)
		aml_byte(a, AML_DUAL_NAME);
	else if (nseg > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t)nseg);
	}
	while (*path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		aml_nameseg(a, path, n);
		path += n + (dot ? 1 : 0);
	}
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		uint8_t b[3] = { AML_WORD_PREFIX, (uint8_t)v, (uint8_t)(v >> 8) };
		aml_bytes(a, b, 3);
	} else if (v <= 0xffffffffull) {
		uint8_t b[5] = { AML_DWORD_PREFIX, (uint8_t)v, (uint8_t)(v >> 8),
				 (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
		aml_bytes(a, b, 5);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		for (int i = 0; i < 8; i++)
			aml_byte(a, (uint8_t)(v >> (8 * i)));
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static uint8_t hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (uint8_t)(c - '0');
	if (c >= 'A' && c <= 'F')
		return (uint8_t)(c - 'A' + 10);
	if (c >= 'a' && c <= 'f')
		return (uint8_t)(c - 'a' + 10);
	return 0;
}

void aml_eisaid(struct aml *a, const char *id)
{
	if (strlen(id) != 7) {
		a->error = true;
		return;
	}
	/* Three 5-bit letters ('A' = 1) then four hex digits, stored big-endian. */
	uint16_t vendor = (uint16_t)(((id[0] - 0x40) & 0x1f) << 10 | ((id[1] - 0x40) & 0x1f) << 5 |
				     ((id[2] - 0x40) & 0x1f));
	uint8_t b[5] = {
		AML_DWORD_PREFIX,
		(uint8_t)(vendor >> 8),
		(uint8_t)vendor,
		(uint8_t)(hexval(id[3]) << 4 | hexval(id[4])),
		(uint8_t)(hexval(id[5]) << 4 | hexval(id[6])),
	};
	aml_bytes(a, b, 5);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, name);
}

static size_t aml_pkg_open(struct aml *a)
{
	size_t start = a->len;
	static const uint8_t zero[AML_PKG_RESERVE];
	aml_bytes(a, zero, AML_PKG_RESERVE);
	return start;
}

size_t aml_pkglength_encode(size_t content, uint8_t out[4])
{
	/* The encoded length counts the PkgLength bytes themselves. */
	for (size_t n = 1; n <= 4; n++) {
		size_t total = content + n;
		if (n == 1 && total <= 0x3f) {
			out[0] = (uint8_t)total;
			return 1;
		}
		if (n > 1 && total < (1ull << (4 + 8 * (n - 1)))) {
			out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
			for (size_t i = 1; i < n; i++)
				out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
			return n;
		}
	}
	return 0;
}

void aml_end(struct aml *a, size_t start)
{
	if (a->oom)
		return;
	size_t content = a->len - start - AML_PKG_RESERVE;
	uint8_t enc[4];
	size_t n = aml_pkglength_encode(content, enc);
	if (!n) {
		a->error = true;
		return;
	}
	memmove(a->buf + start + n, a->buf + start + AML_PKG_RESERVE, content);
	memcpy(a->buf + start, enc, n);
	a->len = start + n + content;
}

size_t aml_scope_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_SCOPE_OP);
	size_t start = aml_pkg_open(a);
	aml_namestring(a, name);
	return start;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	size_t start = aml_pkg_open(a);
	aml_namestring(a, name);
	return start;
}

size_t aml_package_begin(struct aml *a, uint8_t nelems)
{
	aml_byte(a, AML_PACKAGE_OP);
	size_t start = aml_pkg_open(a);
	aml_byte(a, nelems);
	return start;
}

void aml_buffer(struct aml *a, const void *bytes, size_t n)
{
	aml_byte(a, AML_BUFFER_OP);
	size_t start = aml_pkg_open(a);
	aml_integer(a, n);
	aml_bytes(a, bytes, n);
	aml_end(a, start);
}

static void res_put(struct aml_res *r, const uint8_t *b, size_t n)
{
	if (r->len + n > sizeof(r->b)) {
		r->overflow = true;
		return;
	}
	memcpy(r->b + r->len, b, n);
	r->len += n;
}

void aml_res_io(struct aml_res *r, uint16_t port, uint8_t len)
{
	/* Small "I/O Port" descriptor: 16-bit decode, fixed min == max. */
	uint8_t d[8] = { 0x47,		0x01,
			 (uint8_t)port, (uint8_t)(port >> 8),
			 (uint8_t)port, (uint8_t)(port >> 8),
			 0x01,		len };
	res_put(r, d, sizeof(d));
}

void aml_res_irq(struct aml_res *r, unsigned irq)
{
	/* IRQNoFlags: edge, active high, exclusive (ISA default). */
	uint16_t mask = (uint16_t)(1u << (irq & 15));
	uint8_t d[3] = { 0x22, (uint8_t)mask, (uint8_t)(mask >> 8) };
	res_put(r, d, sizeof(d));
}

/* Resource type 0 memory, 1 I/O, 2 bus number; flags MinFixed|MaxFixed, producer. */
static void res_word(struct aml_res *r, uint8_t type, uint8_t type_flags, uint16_t min,
		     uint16_t max)
{
	uint16_t len = (uint16_t)(max - min + 1);
	uint8_t d[16] = { 0x88,
			  13,
			  0,
			  type,
			  0x0c,
			  type_flags,
			  0,
			  0,
			  (uint8_t)min,
			  (uint8_t)(min >> 8),
			  (uint8_t)max,
			  (uint8_t)(max >> 8),
			  0,
			  0,
			  (uint8_t)len,
			  (uint8_t)(len >> 8) };
	res_put(r, d, sizeof(d));
}

void aml_res_word_bus(struct aml_res *r, uint16_t min, uint16_t max)
{
	res_word(r, 2, 0, min, max);
}

void aml_res_word_io(struct aml_res *r, uint16_t min, uint16_t max)
{
	res_word(r, 1, 0x03 /* ISA and non-ISA ranges */, min, max);
}

void aml_res_dword_mem(struct aml_res *r, uint32_t min, uint32_t max)
{
	uint32_t len = max - min + 1;
	uint8_t d[26] = { 0x87, 23, 0, 0 /* memory */, 0x0c, 0x01 /* read-write, non-cacheable */ };
	for (int i = 0; i < 4; i++) {
		d[10 + i] = (uint8_t)(min >> (8 * i));
		d[14 + i] = (uint8_t)(max >> (8 * i));
		d[22 + i] = (uint8_t)(len >> (8 * i));
	}
	res_put(r, d, sizeof(d));
}

void aml_res_end(struct aml_res *r)
{
	/* End tag; a zero checksum means "already correct" per the spec. */
	uint8_t d[2] = { 0x79, 0x00 };
	res_put(r, d, sizeof(d));
}
