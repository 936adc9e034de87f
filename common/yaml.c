/* SPDX-License-Identifier: Apache-2.0 */
/* libyaml wrapper: YAML document -> json_t (see include/kvirt/yaml.h). */
#include "kvirt/yaml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "kvirt/cleanup.h"
#include "kvirt/util.h"

/* Nesting deeper than this is not a Kubernetes object; refuse it early. */
#define YAML_MAX_DEPTH 64

struct yaml_reader {
	yaml_parser_t parser;
	const char *what;
};

static int yaml_fail(struct yaml_reader *r, struct kv_err **err)
{
	return kv_err_set(err, EINVAL, "%s: invalid YAML at line %zu column %zu: %s", r->what,
			  r->parser.problem_mark.line + 1, r->parser.problem_mark.column + 1,
			  r->parser.problem ? r->parser.problem : "parse error");
}

static bool all_digits(const char *s, size_t off)
{
	if (!s[off])
		return false;
	for (const char *p = s + off; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

static json_t *plain_scalar(const char *s)
{
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	if (all_digits(s, (s[0] == '-' || s[0] == '+') ? 1 : 0)) {
		errno = 0;
		char *end = NULL;
		long long v = strtoll(s, &end, 10);
		if (!errno && end && !*end)
			return json_integer(v);
	}
	/* Floats: only the unambiguous decimal form (1.5, -0.25, 1e3 is a string). */
	const char *p = s + ((s[0] == '-' || s[0] == '+') ? 1 : 0);
	const char *dot = strchr(p, '.');
	if (dot && dot != p && strspn(p, "0123456789.") == strlen(p) && !strchr(dot + 1, '.') &&
	    dot[1])
		return json_real(strtod(s, NULL));
	return json_string(s);
}

static int read_node(struct yaml_reader *r, yaml_event_t *ev, int depth, json_t **out,
		     struct kv_err **err);

static int next_event(struct yaml_reader *r, yaml_event_t *ev, struct kv_err **err)
{
	if (!yaml_parser_parse(&r->parser, ev))
		return yaml_fail(r, err);
	return 0;
}

/* Consumes `ev` (a node-start event) and everything up to the node's end. */
static int read_node(struct yaml_reader *r, yaml_event_t *ev, int depth, json_t **out,
		     struct kv_err **err)
{
	if (depth > YAML_MAX_DEPTH)
		return kv_err_set(err, EINVAL, "%s: nested deeper than %d levels", r->what,
				  YAML_MAX_DEPTH);
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return kv_err_set(err, EINVAL, "%s: line %zu: YAML aliases are not supported",
				  r->what, ev->start_mark.line + 1);
	case YAML_SCALAR_EVENT: {
		const char *v = (const char *)ev->data.scalar.value;
		if (strlen(v) != ev->data.scalar.length)
			return kv_err_set(err, EINVAL, "%s: line %zu: NUL character in a scalar",
					  r->what, ev->start_mark.line + 1);
		json_t *j = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(v)
									     : json_string(v);
		if (!j)
			return kv_err_set(err, EINVAL, "%s: line %zu: scalar is not valid UTF-8",
					  r->what, ev->start_mark.line + 1);
		*out = j;
		return 0;
	}
	case YAML_SEQUENCE_START_EVENT: {
		_cleanup_json_t_ json_t *arr = json_array();
		if (!arr)
			return -ENOMEM;
		for (;;) {
			yaml_event_t child;
			int rc = next_event(r, &child, err);
			if (rc < 0)
				return rc;
			if (child.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&child);
				break;
			}
			json_t *v = NULL;
			rc = read_node(r, &child, depth + 1, &v, err);
			yaml_event_delete(&child);
			if (rc < 0)
				return rc;
			if (json_array_append_new(arr, v) < 0)
				return -ENOMEM;
		}
		*out = TAKE_PTR(arr);
		return 0;
	}
	case YAML_MAPPING_START_EVENT: {
		_cleanup_json_t_ json_t *obj = json_object();
		if (!obj)
			return -ENOMEM;
		for (;;) {
			yaml_event_t key;
			int rc = next_event(r, &key, err);
			if (rc < 0)
				return rc;
			if (key.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&key);
				break;
			}
			if (key.type != YAML_SCALAR_EVENT) {
				size_t line = key.start_mark.line + 1;
				yaml_event_delete(&key);
				return kv_err_set(err, EINVAL,
						  "%s: line %zu: mapping keys must be scalars",
						  r->what, line);
			}
			_cleanup_free_ char *k = strdup((const char *)key.data.scalar.value);
			size_t line = key.start_mark.line + 1;
			yaml_event_delete(&key);
			if (!k)
				return -ENOMEM;
			if (json_object_get(obj, k))
				return kv_err_set(err, EINVAL, "%s: line %zu: duplicate key \"%s\"",
						  r->what, line, k);
			yaml_event_t val;
			rc = next_event(r, &val, err);
			if (rc < 0)
				return rc;
			json_t *v = NULL;
			rc = read_node(r, &val, depth + 1, &v, err);
			yaml_event_delete(&val);
			if (rc < 0)
				return rc;
			if (json_object_set_new(obj, k, v) < 0)
				return kv_err_set(err, EINVAL,
						  "%s: line %zu: key is not valid UTF-8", r->what,
						  line);
		}
		*out = TAKE_PTR(obj);
		return 0;
	}
	default:
		return kv_err_set(err, EINVAL, "%s: line %zu: unexpected YAML event", r->what,
				  ev->start_mark.line + 1);
	}
}

int kv_yaml_load(const char *buf, size_t len, const char *what, json_t **out, struct kv_err **err)
{
	struct yaml_reader r = { .what = what };
	if (!yaml_parser_initialize(&r.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)buf, len);
	json_t *doc = NULL;
	int rc = 0;
	bool in_doc = false, done = false;
	while (!done && rc == 0) {
		yaml_event_t ev;
		rc = next_event(&r, &ev, err);
		if (rc < 0)
			break;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT: break;
		case YAML_DOCUMENT_START_EVENT:
			if (doc)
				rc = kv_err_set(err, EINVAL, "%s: more than one YAML document",
						what);
			in_doc = true;
			break;
		case YAML_DOCUMENT_END_EVENT: in_doc = false; break;
		case YAML_STREAM_END_EVENT: done = true; break;
		default:
			if (!in_doc || doc)
				rc = kv_err_set(err, EINVAL, "%s: unexpected YAML structure", what);
			else
				rc = read_node(&r, &ev, 0, &doc, err);
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&r.parser);
	if (rc < 0) {
		if (doc)
			json_decref(doc);
		return rc;
	}
	*out = doc ? doc : json_null();
	return 0;
}

int kv_yaml_load_file(const char *path, size_t limit, json_t **out, struct kv_err **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = kv_read_file_err(path, limit, &buf, &len, err);
	if (r < 0)
		return r;
	return kv_yaml_load(buf, len, path, out, err);
}
