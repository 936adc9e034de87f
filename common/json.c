/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jansson wrapper: converts jansson's conventions (borrowed references,
 * json_error_t, signed integers) into kvirt's (kv_err, typed accessors).
 */
#include "kvirt/json.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "kvirt/cleanup.h"
#include "kvirt/util.h"

/* struct kv_json is never defined: it is a json_t in disguise. */
static json_t *J(const struct kv_json *j)
{
	return (json_t *)(uintptr_t)j;
}

int kv_json_parse(const char *buf, size_t len, const char *what, struct kv_json **out,
		  struct kv_err **err)
{
	json_error_t jerr;
	/* Duplicate keys are a classic way to smuggle a second value past a reviewer. */
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return kv_err_set(err, EINVAL, "%s: invalid JSON at line %d column %d: %s", what,
				  jerr.line, jerr.column, jerr.text);
	*out = (struct kv_json *)root;
	return 0;
}

int kv_json_load_file(const char *path, size_t limit, struct kv_json **out, struct kv_err **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = kv_read_file(path, limit, &buf, &len);
	if (r == -EFBIG)
		return kv_err_set(err, EFBIG, "%s: larger than %zu bytes", path, limit);
	if (r < 0) {
		errno = -r;
		return kv_err_errno(err, "cannot read %s", path);
	}
	return kv_json_parse(buf, len, path, out, err);
}

void kv_json_free(struct kv_json *j)
{
	if (j)
		json_decref(J(j));
}

enum kv_json_type kv_json_type_of(const struct kv_json *j)
{
	if (!j)
		return KV_JSON_ABSENT;
	switch (json_typeof(J(j))) {
	case JSON_OBJECT: return KV_JSON_OBJECT;
	case JSON_ARRAY: return KV_JSON_ARRAY;
	case JSON_STRING: return KV_JSON_STRING;
	case JSON_INTEGER: return KV_JSON_INTEGER;
	case JSON_REAL: return KV_JSON_REAL;
	case JSON_TRUE:
	case JSON_FALSE: return KV_JSON_BOOL;
	case JSON_NULL: return KV_JSON_NULL;
	}
	return KV_JSON_ABSENT;
}

const char *kv_json_type_name(enum kv_json_type t)
{
	static const char *const names[] = {
		[KV_JSON_ABSENT] = "absent", [KV_JSON_NULL] = "null",
		[KV_JSON_BOOL] = "boolean",  [KV_JSON_INTEGER] = "integer",
		[KV_JSON_REAL] = "number",   [KV_JSON_STRING] = "string",
		[KV_JSON_ARRAY] = "array",   [KV_JSON_OBJECT] = "object",
	};
	return (unsigned)t < KV_ARRAY_SIZE(names) ? names[t] : "unknown";
}

static json_t *member(const struct kv_json *obj, const char *field)
{
	if (!obj || !json_is_object(J(obj)))
		return NULL;
	return json_object_get(J(obj), field);
}

enum kv_json_type kv_json_field_type(const struct kv_json *obj, const char *field)
{
	return kv_json_type_of((const struct kv_json *)member(obj, field));
}

int kv_json_check_fields(const struct kv_json *obj, const char *what, const char *const *allowed,
			 struct kv_err **err)
{
	if (!json_is_object(J(obj)))
		return kv_err_set(err, EINVAL, "%s: must be a JSON object, not %s", what,
				  kv_json_type_name(kv_json_type_of(obj)));
	const char *key;
	json_t *val;
	json_object_foreach (J(obj), key, val) {
		bool known = false;
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(*a, key))
				known = true;
		if (!known)
			return kv_err_set(err, EINVAL, "%s: unknown field \"%s\"", what, key);
	}
	return 0;
}

static int wrong_type(const char *field, const char *want, json_t *v, struct kv_err **err)
{
	return kv_err_set(err, EINVAL, "%s: must be %s, not %s", field, want,
			  kv_json_type_name(kv_json_type_of((const struct kv_json *)v)));
}

int kv_json_get_string(const struct kv_json *obj, const char *field, const char **out,
		       struct kv_err **err)
{
	json_t *v = member(obj, field);
	if (!v)
		return 0;
	if (!json_is_string(v))
		return wrong_type(field, "a string", v, err);
	const char *s = json_string_value(v);
	/* Embedded NULs would make the C string disagree with the JSON one. */
	if (strlen(s) != json_string_length(v))
		return kv_err_set(err, EINVAL, "%s: must not contain NUL characters", field);
	*out = s;
	return 1;
}

int kv_json_get_u64(const struct kv_json *obj, const char *field, uint64_t *out,
		    struct kv_err **err)
{
	json_t *v = member(obj, field);
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return wrong_type(field, "an integer", v, err);
	json_int_t n = json_integer_value(v);
	if (n < 0)
		return kv_err_set(err, ERANGE, "%s: must not be negative", field);
	*out = (uint64_t)n;
	return 1;
}

int kv_json_get_bool(const struct kv_json *obj, const char *field, bool *out, struct kv_err **err)
{
	json_t *v = member(obj, field);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return wrong_type(field, "true or false", v, err);
	*out = json_is_true(v);
	return 1;
}

int kv_json_get_object(const struct kv_json *obj, const char *field, const struct kv_json **out,
		       struct kv_err **err)
{
	json_t *v = member(obj, field);
	if (!v)
		return 0;
	if (!json_is_object(v))
		return wrong_type(field, "an object", v, err);
	*out = (const struct kv_json *)v;
	return 1;
}
