/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON wrapper (house rule 3): the only file that converts jansson's
 * conventions.  Two layers:
 *
 * 1. Read-only, opaque (struct kv_json): typed accessors report errors that
 *    name the field, so config parsers (the VMM's) stay a flat list of "read
 *    field X as type T" calls.
 *
 * 2. Documents that are built, edited, merged, diffed and cached (the
 *    Kubernetes client, the controller, the VMI model): here the opaque
 *    design got in the way -- a controller deep-copies, patches and iterates
 *    whole objects all the time, and re-wrapping every jansson call would be a
 *    second JSON library.  Decision: this header exposes jansson's json_t for
 *    that layer.  What stays wrapped here is what jansson does differently
 *    from kvirt: parsing (kv_err with line/column, duplicate keys rejected,
 *    NUL-free strings), ownership (_cleanup_json_t_, TAKE_PTR), dotted-path
 *    lookups that never crash on unexpected types (kv_jget, kv_jstr, ...),
 *    serialization to malloc'd text, and path setters that build the
 *    intermediate objects.  No other file includes <jansson.h> directly.
 */
#ifndef KVIRT_JSON_H
#define KVIRT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

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
/* Borrowed child array; then its length and (borrowed) elements. */
int kv_json_get_array(const struct kv_json *obj, const char *field, const struct kv_json **out,
		      struct kv_err **err);
size_t kv_json_array_len(const struct kv_json *arr);
const struct kv_json *kv_json_array_at(const struct kv_json *arr, size_t i);

/* ---- layer 2: json_t documents ---------------------------------------- */

static inline void kv_json_decrefp(json_t **j)
{
	if (*j)
		json_decref(*j);
	*j = NULL;
}
#define _cleanup_json_t_ __attribute__((cleanup(kv_json_decrefp)))

/* Parse (duplicate keys rejected, errors with line/column); `what` names the source. */
int kv_json_loadb(const char *buf, size_t len, const char *what, json_t **out, struct kv_err **err);
/* Serialize compactly into malloc'd memory (NULL on ENOMEM). */
char *kv_json_dumps(const json_t *j);
/*
 * JSON lines on a socket: send `j` compactly plus '\n' in one non-blocking
 * send and drop the reference (NULL `j` is ENOMEM).  A short send is EAGAIN:
 * the control sockets treat a peer that does not read as gone.
 */
int kv_json_send_line(int fd, json_t *j);

/*
 * Dotted-path lookups ("metadata.labels", "spec.template.spec"); a path step
 * through a non-object yields NULL, so malformed input from the API server
 * reads as "absent", never as a crash.  Keys containing dots cannot be
 * addressed this way: use json_object_get() for label keys.
 */
json_t *kv_jget(const json_t *root, const char *path);
/* The string at path, or NULL if absent or not a string. */
const char *kv_jstr(const json_t *root, const char *path);
/* The string at path, or `def` (never NULL when def is not). */
const char *kv_jstr_or(const json_t *root, const char *path, const char *def);
/* The integer at path, or `def` if absent or not an integer. */
long long kv_jint(const json_t *root, const char *path, long long def);
/* The boolean at path, or `def`. */
bool kv_jbool(const json_t *root, const char *path, bool def);
/* Whether the two strings at `path` in both documents are equal (NULL == NULL). */
bool kv_jstr_eq(const char *a, const char *b);

/*
 * Set `path` to `value` (reference stolen, also on failure), creating
 * intermediate objects; an intermediate that exists but is not an object is
 * replaced.  -ENOMEM / -EINVAL.
 */
int kv_jset(json_t *root, const char *path, json_t *value);
/* Return the object at path, creating it (and the path) if needed; NULL on ENOMEM. */
json_t *kv_jobj(json_t *root, const char *path);

/* Number of bytes the compact serialization of `j` takes (0 on error). */
size_t kv_json_size(const json_t *j);

#endif
