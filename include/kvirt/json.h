/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON wrapper (house rule 3): the only place that includes jansson.
 * Values are opaque; typed accessors report errors that name the field, so
 * config parsers stay a flat list of "read field X as type T" calls.
 */
#ifndef KVIRT_JSON_H
#define KVIRT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvirt/err.h"

struct kv_json;

enum kv_json_type {
	KV_JSON_ABSENT = 0,
	KV_JSON_NULL,
	KV_JSON_BOOL,
	KV_JSON_INTEGER,
	KV_JSON_REAL,
	KV_JSON_STRING,
	KV_JSON_ARRAY,
	KV_JSON_OBJECT,
};

/* Parse a document; errors carry line/column.  `what` names the source. */
int kv_json_parse(const char *buf, size_t len, const char *what, struct kv_json **out,
		  struct kv_err **err);
int kv_json_load_file(const char *path, size_t limit, struct kv_json **out, struct kv_err **err);
void kv_json_free(struct kv_json *j);
static inline void kv_json_freep(struct kv_json **j)
{
	kv_json_free(*j);
	*j = NULL;
}
#define _cleanup_json_ __attribute__((cleanup(kv_json_freep)))

enum kv_json_type kv_json_type_of(const struct kv_json *j);
/* Type of member `field` of object `obj` (KV_JSON_ABSENT when missing). */
enum kv_json_type kv_json_field_type(const struct kv_json *obj, const char *field);
const char *kv_json_type_name(enum kv_json_type t);

/* Reject members not in the NULL-terminated `allowed` list (typos must not be ignored). */
int kv_json_check_fields(const struct kv_json *obj, const char *what, const char *const *allowed,
			 struct kv_err **err);

/*
 * Typed member access.  Each returns 1 when the field was present and
 * stored in *out, 0 when it is absent (and *out is untouched), or a negative
 * errno with `err` naming the field when it has the wrong type or range.
 * Borrowed strings live as long as the document.
 */
int kv_json_get_string(const struct kv_json *obj, const char *field, const char **out,
		       struct kv_err **err);
int kv_json_get_u64(const struct kv_json *obj, const char *field, uint64_t *out,
		    struct kv_err **err);
int kv_json_get_bool(const struct kv_json *obj, const char *field, bool *out, struct kv_err **err);
/* Borrowed child object (must be a JSON object). */
int kv_json_get_object(const struct kv_json *obj, const char *field, const struct kv_json **out,
		       struct kv_err **err);

#endif
