/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jansson wrapper: converts jansson's conventions (borrowed references,
 * json_error_t, signed integers) into kvirt's (kv_err, typed accessors).
 */
#include "kvirt/json.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <sys/socket.h>

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
	json_t *root = NULL;
	int r = kv_json_loadb(buf, len, what, &root, err);
	if (r < 0)
		return r;
	*out = (struct kv_json *)root;
	return 0;
}

int kv_json_load_file(const char *path, size_t limit, struct kv_json **out, struct kv_err **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = kv_read_file_err(path, limit, &buf, &len, err);
	if (r < 0)
		return r;
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

int kv_json_get_array(const struct kv_json *obj, const char *field, const struct kv_json **out,
		      struct kv_err **err)
{
	json_t *v = member(obj, field);
	if (!v)
		return 0;
	if (!json_is_array(v))
		return wrong_type(field, "an array", v, err);
	*out = (const struct kv_json *)v;
	return 1;
}

size_t kv_json_array_len(const struct kv_json *arr)
{
	return json_array_size((const json_t *)arr);
}

const struct kv_json *kv_json_array_at(const struct kv_json *arr, size_t i)
{
	return (const struct kv_json *)json_array_get((const json_t *)arr, i);
}

/* ---- layer 2 ------------------------------------------------------------ */

int kv_json_loadb(const char *buf, size_t len, const char *what, json_t **out, struct kv_err **err)
{
	json_error_t jerr;
	/* Duplicate keys are a classic way to smuggle a second value past a
	 * reviewer.  JSON_ALLOW_NUL is not set: embedded NULs are rejected. */
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return kv_err_set(err, EINVAL, "%s: invalid JSON at line %d column %d: %s", what,
				  jerr.line, jerr.column, jerr.text);
	*out = root;
	return 0;
}

char *kv_json_dumps(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

int kv_json_send_line(int fd, json_t *j)
{
	_cleanup_free_ char *text = j ? kv_json_dumps(j) : NULL;
	if (j)
		json_decref(j);
	if (!text)
		return -ENOMEM;
	size_t n = strlen(text);
	text[n] = '\n'; /* replaces the NUL; the length is known */
	ssize_t w = send(fd, text, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0)
		return -errno;
	return (size_t)w == n + 1 ? 0 : -EAGAIN;
}

static int count_bytes(const char *buf, size_t size, void *data)
{
	(void)buf;
	*(size_t *)data += size;
	return 0;
}

size_t kv_json_size(const json_t *j)
{
	size_t n = 0;
	if (json_dump_callback(j, count_bytes, &n, JSON_COMPACT | JSON_ENCODE_ANY) < 0)
		return 0;
	return n;
}

json_t *kv_jget(const json_t *root, const char *path)
{
	json_t *cur = (json_t *)(uintptr_t)root;
	const char *p = path;
	while (cur && *p) {
		if (!json_is_object(cur))
			return NULL;
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		cur = json_object_getn(cur, p, n);
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

const char *kv_jstr(const json_t *root, const char *path)
{
	json_t *v = kv_jget(root, path);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *kv_jstr_or(const json_t *root, const char *path, const char *def)
{
	const char *s = kv_jstr(root, path);
	return s ? s : def;
}

long long kv_jint(const json_t *root, const char *path, long long def)
{
	json_t *v = kv_jget(root, path);
	return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

bool kv_jbool(const json_t *root, const char *path, bool def)
{
	json_t *v = kv_jget(root, path);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

bool kv_jstr_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

json_t *kv_jobj(json_t *root, const char *path)
{
	json_t *cur = root;
	const char *p = path;
	if (!json_is_object(root))
		return NULL;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		json_t *next = json_object_getn(cur, p, n);
		if (!json_is_object(next)) {
			next = json_object();
			if (!next || json_object_setn_new(cur, p, n, next) < 0)
				return NULL;
		}
		cur = next;
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

int kv_jset(json_t *root, const char *path, json_t *value)
{
	if (!value)
		return -ENOMEM;
	const char *last = strrchr(path, '.');
	json_t *parent = root;
	if (last) {
		_cleanup_free_ char *head = strndup(path, (size_t)(last - path));
		if (!head) {
			json_decref(value);
			return -ENOMEM;
		}
		parent = kv_jobj(root, head);
	}
	if (!json_is_object(parent)) {
		json_decref(value);
		return -EINVAL;
	}
	return json_object_set_new(parent, last ? last + 1 : path, value) < 0 ? -ENOMEM : 0;
}
