/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvirt-apigen: the one place the kubevirt.io API types become artifacts.
 *
 * Input: api/kubevirt-v1.yaml, a compact description of the types (OpenAPI v3
 * schema fragments plus shorthands and "$ref" to named types) and of the
 * CRDs.  Output:
 *   --crds FILE     the CustomResourceDefinition manifests (multi-document YAML)
 *   --header FILE   a C header declaring the table of known field paths
 *   --source FILE   the C table itself: kind, path, type, enum values
 * The committed manifests are checked against --crds output by a unit test,
 * and the C table is generated at build time, so the C model and the schema
 * the API server enforces share a single definition (docs/api.md).
 *
 * This is a build tool: it is the single wrapper of libyaml and jansson for
 * itself and links nothing else from kvirt but the error type.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "kvirt/cleanup.h"
#include "kvirt/err.h"

/* Deep enough for the VM → template → VMI → domain → devices nesting. */
#define MAX_DEPTH 48

static void apigen_json_decrefp(json_t **j)
{
	json_decref(*j);
	*j = NULL;
}
#define _cleanup_json_ _cleanup_(apigen_json_decrefp)

/* ---- YAML → JSON ------------------------------------------------------ */

static bool is_integer_text(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool is_float_text(const char *s)
{
	char *end;
	if (!*s || strspn(s, "0123456789.-+eE") != strlen(s) || !strchr(s, '.'))
		return false;
	errno = 0;
	strtod(s, &end);
	return !*end && !errno;
}

/*
 * YAML 1.2 core schema resolution of a plain scalar.  The emitter uses the
 * same function to decide which strings need quotes, so a round trip never
 * changes a value's type.
 */
static json_t *resolve_plain_scalar(const char *s)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL"))
		return json_null();
	if (is_integer_text(s))
		return json_integer(strtoll(s, NULL, 10));
	if (is_float_text(s))
		return json_real(strtod(s, NULL));
	return json_string(s);
}

static json_t *yaml_node_to_json(yaml_document_t *doc, yaml_node_t *node, int depth,
				 struct kv_err **err)
{
	if (depth > MAX_DEPTH) {
		kv_err_set(err, EINVAL, "YAML nested deeper than %d levels", MAX_DEPTH);
		return NULL;
	}
	switch (node->type) {
	case YAML_SCALAR_NODE: {
		const char *v = (const char *)node->data.scalar.value;
		json_t *j = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
				? resolve_plain_scalar(v)
				: json_string(v);
		if (!j)
			kv_err_set(err, EINVAL, "line %zu: not valid UTF-8",
				   node->start_mark.line + 1);
		return j;
	}
	case YAML_SEQUENCE_NODE: {
		_cleanup_json_ json_t *a = json_array();
		for (yaml_node_item_t *i = node->data.sequence.items.start;
		     i < node->data.sequence.items.top; i++) {
			json_t *v =
			    yaml_node_to_json(doc, yaml_document_get_node(doc, *i), depth + 1, err);
			if (!v || json_array_append_new(a, v) < 0)
				return NULL;
		}
		return TAKE_PTR(a);
	}
	case YAML_MAPPING_NODE: {
		_cleanup_json_ json_t *o = json_object();
		for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
		     p < node->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			if (k->type != YAML_SCALAR_NODE) {
				kv_err_set(err, EINVAL, "line %zu: mapping key is not a scalar",
					   k->start_mark.line + 1);
				return NULL;
			}
			const char *key = (const char *)k->data.scalar.value;
			if (json_object_get(o, key)) {
				kv_err_set(err, EINVAL, "line %zu: duplicate key \"%s\"",
					   k->start_mark.line + 1, key);
				return NULL;
			}
			json_t *v = yaml_node_to_json(doc, yaml_document_get_node(doc, p->value),
						      depth + 1, err);
			if (!v || json_object_set_new(o, key, v) < 0)
				return NULL;
		}
		return TAKE_PTR(o);
	}
	default: kv_err_set(err, EINVAL, "empty YAML node"); return NULL;
	}
}

static json_t *load_yaml(const char *path, struct kv_err **err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f) {
		kv_err_errno(err, "cannot open %s", path);
		return NULL;
	}
	yaml_parser_t parser;
	yaml_document_t doc;
	json_t *root = NULL;
	if (!yaml_parser_initialize(&parser)) {
		kv_err_set(err, ENOMEM, "cannot initialize the YAML parser");
		return NULL;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		kv_err_set(err, EINVAL, "%s:%zu: %s", path, parser.problem_mark.line + 1,
			   parser.problem ? parser.problem : "YAML syntax error");
		yaml_parser_delete(&parser);
		return NULL;
	}
	yaml_node_t *top = yaml_document_get_root_node(&doc);
	if (!top)
		kv_err_set(err, EINVAL, "%s: empty document", path);
	else
		root = yaml_node_to_json(&doc, top, 0, err);
	if (!root)
		kv_err_prefix(err, "%s", path);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return root;
}

/* ---- schema expansion ------------------------------------------------- */

static json_t *expand_schema(json_t *types, json_t *in, int depth, struct kv_err **err);

/* The named types being expanded, outermost first (to report recursion). */
static const char *expanding[MAX_DEPTH];
static size_t n_expanding;

static json_t *int_or_string(void)
{
	return json_pack("{s:[{s:s},{s:s}],s:b}", "anyOf", "type", "integer", "type", "string",
			 "x-kubernetes-int-or-string", 1);
}

/* Resource quantities ("64M", "1Gi", "500m", 2) as the API server accepts them. */
static json_t *quantity(void)
{
	json_t *q = int_or_string();
	json_object_set_new(q, "pattern",
			    json_string("^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|"
					"[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|"
					"(\\.[0-9]+))))?$"));
	return q;
}

/*
 * Shorthands keep the description readable: "string", "boolean", "int32",
 * "int64", "quantity", "intOrString", "time", "stringMap", "quantityMap",
 * "object" (free-form, kept as is), "empty" (no fields), "[X]" (array of X) and TypeName ($ref).
 */
static json_t *expand_shorthand(json_t *types, const char *s, int depth, struct kv_err **err)
{
	size_t n = strlen(s);
	if (n > 2 && s[0] == '[' && s[n - 1] == ']') {
		_cleanup_free_ char *inner = strndup(s + 1, n - 2);
		_cleanup_json_ json_t *item = json_string(inner);
		json_t *items = expand_schema(types, item, depth + 1, err);
		if (!items)
			return NULL;
		return json_pack("{s:s,s:o}", "type", "array", "items", items);
	}
	if (!strcmp(s, "string") || !strcmp(s, "boolean") || !strcmp(s, "number"))
		return json_pack("{s:s}", "type", s);
	if (!strcmp(s, "int32") || !strcmp(s, "integer"))
		return json_pack("{s:s,s:s}", "type", "integer", "format", "int32");
	if (!strcmp(s, "int64"))
		return json_pack("{s:s,s:s}", "type", "integer", "format", "int64");
	if (!strcmp(s, "quantity"))
		return quantity();
	if (!strcmp(s, "intOrString"))
		return int_or_string();
	if (!strcmp(s, "time"))
		return json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
	if (!strcmp(s, "stringMap"))
		return json_pack("{s:s,s:{s:s}}", "type", "object", "additionalProperties", "type",
				 "string");
	if (!strcmp(s, "quantityMap"))
		return json_pack("{s:s,s:o}", "type", "object", "additionalProperties", quantity());
	if (!strcmp(s, "object"))
		return json_pack("{s:s,s:b}", "type", "object",
				 "x-kubernetes-preserve-unknown-fields", 1);
	/* A marker object such as `bridge: {}`: any field inside it is an error. */
	if (!strcmp(s, "empty"))
		return json_pack("{s:s}", "type", "object");
	json_t *def = json_object_get(types, s);
	if (!def) {
		kv_err_set(err, ENOENT, "unknown type \"%s\"", s);
		return NULL;
	}
	/* CRD schemas are inlined, so a type must not contain itself. */
	for (size_t i = 0; i < n_expanding; i++)
		if (!strcmp(expanding[i], s)) {
			kv_err_set(err, ELOOP, "type %s contains itself", s);
			return NULL;
		}
	if (n_expanding == KV_ARRAY_SIZE(expanding)) {
		kv_err_set(err, ELOOP, "types nested deeper than %zu", KV_ARRAY_SIZE(expanding));
		return NULL;
	}
	expanding[n_expanding++] = s;
	json_t *out = expand_schema(types, def, depth + 1, err);
	n_expanding--;
	if (!out)
		kv_err_prefix(err, "in type %s", s);
	return out;
}

static bool is_schema_map_key(const char *key)
{
	return !strcmp(key, "properties");
}

static bool is_schema_key(const char *key)
{
	return !strcmp(key, "items") || !strcmp(key, "additionalProperties");
}

static bool is_schema_list_key(const char *key)
{
	return !strcmp(key, "anyOf") || !strcmp(key, "oneOf") || !strcmp(key, "allOf");
}

static json_t *expand_schema(json_t *types, json_t *in, int depth, struct kv_err **err)
{
	if (depth > MAX_DEPTH) {
		kv_err_set(err, ELOOP, "type nesting deeper than %d (recursive type?)", MAX_DEPTH);
		return NULL;
	}
	if (json_is_string(in))
		return expand_shorthand(types, json_string_value(in), depth, err);
	if (!json_is_object(in)) {
		kv_err_set(err, EINVAL, "a schema must be a mapping or a type name");
		return NULL;
	}

	_cleanup_json_ json_t *body = json_object();
	json_t *ref = json_object_get(in, "$ref");
	if (ref) {
		if (!json_is_string(ref)) {
			kv_err_set(err, EINVAL, "$ref must be a type name");
			return NULL;
		}
		json_t *base = expand_shorthand(types, json_string_value(ref), depth, err);
		if (!base)
			return NULL;
		json_object_update(body, base);
		json_decref(base);
	}

	const char *key;
	json_t *val;
	json_object_foreach (in, key, val) {
		json_t *out = NULL;
		if (!strcmp(key, "$ref"))
			continue;
		if (is_schema_map_key(key) && json_is_object(val)) {
			out = json_object();
			const char *pk;
			json_t *pv;
			json_object_foreach (val, pk, pv) {
				json_t *ps = expand_schema(types, pv, depth + 1, err);
				if (!ps) {
					kv_err_prefix(err, "field %s", pk);
					json_decref(out);
					return NULL;
				}
				json_object_set_new(out, pk, ps);
			}
		} else if (is_schema_key(key) && !json_is_boolean(val)) {
			out = expand_schema(types, val, depth + 1, err);
		} else if (is_schema_list_key(key) && json_is_array(val)) {
			out = json_array();
			size_t i;
			json_t *iv;
			json_array_foreach (val, i, iv) {
				json_t *s = expand_schema(types, iv, depth + 1, err);
				if (!s) {
					json_decref(out);
					return NULL;
				}
				json_array_append_new(out, s);
			}
		} else {
			out = json_deep_copy(val);
		}
		if (!out)
			return NULL;
		json_object_set_new(body, key, out);
	}

	/* A fixed key order (description, type, then the rest) keeps diffs small. */
	json_t *res = json_object();
	json_t *v;
	if ((v = json_object_get(body, "description")))
		json_object_set(res, "description", v);
	if ((v = json_object_get(body, "type")))
		json_object_set(res, "type", v);
	else if (json_object_get(body, "properties") ||
		 json_object_get(body, "additionalProperties"))
		json_object_set_new(res, "type", json_string("object"));
	json_object_foreach (body, key, val) {
		if (!json_object_get(res, key))
			json_object_set(res, key, val);
	}
	return res;
}

/* ---- CRDs ------------------------------------------------------------- */

static json_t *build_crd(json_t *api, json_t *crd, struct kv_err **err)
{
	json_t *types = json_object_get(api, "types");
	const char *group = json_string_value(json_object_get(api, "group"));
	const char *kind = json_string_value(json_object_get(crd, "kind"));
	const char *plural = json_string_value(json_object_get(crd, "plural"));
	json_t *versions = json_object_get(crd, "versions");
	if (!group || !kind || !plural || !json_is_array(versions) ||
	    !json_object_get(crd, "schema")) {
		kv_err_set(err, EINVAL,
			   "a crd needs kind, plural, versions and schema (and group)");
		return NULL;
	}
	for (size_t v = 0; v < json_array_size(versions); v++)
		if (!json_is_string(json_object_get(json_array_get(versions, v), "name"))) {
			kv_err_set(err, EINVAL, "crd %s: version #%zu has no name", kind, v);
			return NULL;
		}
	_cleanup_json_ json_t *schema =
	    expand_schema(types, json_object_get(crd, "schema"), 0, err);
	if (!schema) {
		kv_err_prefix(err, "crd %s", kind);
		return NULL;
	}

	_cleanup_free_ char *name = NULL;
	_cleanup_free_ char *list_kind = NULL;
	if (asprintf(&name, "%s.%s", plural, group) < 0 ||
	    asprintf(&list_kind, "%sList", kind) < 0) {
		kv_err_set(err, ENOMEM, "out of memory");
		return NULL;
	}

	json_t *names =
	    json_pack("{s:s,s:s,s:s}", "kind", kind, "listKind", list_kind, "plural", plural);
	const char *opt[] = { "singular", "shortNames", "categories" };
	for (size_t i = 0; i < KV_ARRAY_SIZE(opt); i++) {
		json_t *v = json_object_get(crd, opt[i]);
		if (v)
			json_object_set(names, opt[i], v);
	}

	json_t *vers = json_array();
	size_t i;
	json_t *ver;
	json_array_foreach (versions, i, ver) {
		json_t *o = json_object();
		json_object_set(o, "name", json_object_get(ver, "name"));
		json_object_set_new(o, "served", json_true());
		json_object_set_new(o, "storage",
				    json_boolean(json_is_true(json_object_get(ver, "storage"))));
		json_t *d = json_object_get(ver, "deprecationWarning");
		if (d) {
			json_object_set_new(o, "deprecated", json_true());
			json_object_set(o, "deprecationWarning", d);
		}
		json_object_set_new(o, "schema", json_pack("{s:O}", "openAPIV3Schema", schema));
		json_t *sub = json_object_get(crd, "subresources");
		if (sub)
			json_object_set(o, "subresources", sub);
		json_t *cols = json_object_get(crd, "printerColumns");
		if (cols)
			json_object_set(o, "additionalPrinterColumns", cols);
		json_array_append_new(vers, o);
	}

	json_t *labels = json_object_get(api, "labels");
	json_t *meta = json_pack("{s:s}", "name", name);
	if (labels)
		json_object_set(meta, "labels", labels);
	/* Both versions share one schema, so the API server converts by apiVersion alone. */
	return json_pack("{s:s,s:s,s:o,s:{s:s,s:o,s:s,s:o,s:{s:s}}}", "apiVersion",
			 "apiextensions.k8s.io/v1", "kind", "CustomResourceDefinition", "metadata",
			 meta, "spec", "group", group, "names", names, "scope", "Namespaced",
			 "versions", vers, "conversion", "strategy", "None");
}

/* ---- JSON → YAML ------------------------------------------------------ */

static int emit(yaml_emitter_t *e, yaml_event_t *ev, struct kv_err **err)
{
	if (!yaml_emitter_emit(e, ev))
		return kv_err_set(err, EIO, "YAML emitter: %s",
				  e->problem ? e->problem : "write failed");
	return 0;
}

/*
 * Whether a string must be quoted so that no reader takes it for something
 * else: YAML 1.2 numbers, bools and null, and also YAML 1.1's (kubectl's YAML
 * library) yes/no/on/off words and number forms (0x1f, 1_000, 1:20, .5).
 */
static bool needs_quotes(const char *s)
{
	static const char *const yaml11_bools[] = { "y",  "Y",	 "yes", "Yes", "YES", "n",
						    "N",  "no",	 "No",	"NO",  "on",  "On",
						    "ON", "off", "Off", "OFF" };
	json_t *r = resolve_plain_scalar(s);
	bool quote = !json_is_string(r);
	json_decref(r);
	for (size_t i = 0; i < KV_ARRAY_SIZE(yaml11_bools); i++)
		if (!strcmp(s, yaml11_bools[i]))
			quote = true;
	if ((s[0] >= '0' && s[0] <= '9') ||
	    ((s[0] == '+' || s[0] == '-' || s[0] == '.') && s[1] >= '0' && s[1] <= '9'))
		quote = true;
	return quote;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, bool is_string, struct kv_err **err)
{
	yaml_event_t ev;
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	if (is_string && needs_quotes(s))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)(uintptr_t)s, (int)strlen(s),
				     1, 1, style);
	return emit(e, &ev, err);
}

static int emit_json(yaml_emitter_t *e, json_t *j, struct kv_err **err)
{
	yaml_event_t ev;
	char buf[64];
	int r;
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *v;
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
						    json_object_size(j) ? YAML_BLOCK_MAPPING_STYLE
									: YAML_FLOW_MAPPING_STYLE);
		if ((r = emit(e, &ev, err)) < 0)
			return r;
		json_object_foreach (j, k, v) {
			if ((r = emit_scalar(e, k, true, err)) < 0 ||
			    (r = emit_json(e, v, err)) < 0)
				return r;
		}
		yaml_mapping_end_event_initialize(&ev);
		return emit(e, &ev, err);
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *v;
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
						     json_array_size(j) ? YAML_BLOCK_SEQUENCE_STYLE
									: YAML_FLOW_SEQUENCE_STYLE);
		if ((r = emit(e, &ev, err)) < 0)
			return r;
		json_array_foreach (j, i, v) {
			if ((r = emit_json(e, v, err)) < 0)
				return r;
		}
		yaml_sequence_end_event_initialize(&ev);
		return emit(e, &ev, err);
	}
	case JSON_STRING: return emit_scalar(e, json_string_value(j), true, err);
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return emit_scalar(e, buf, false, err);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(j));
		return emit_scalar(e, buf, false, err);
	case JSON_TRUE: return emit_scalar(e, "true", false, err);
	case JSON_FALSE: return emit_scalar(e, "false", false, err);
	case JSON_NULL: return emit_scalar(e, "null", false, err);
	}
	return kv_err_set(err, EINVAL, "unknown JSON type");
}

static int write_crds(const char *path, json_t *api, struct kv_err **err)
{
	json_t *crds = json_object_get(api, "crds");
	if (!json_is_array(crds))
		return kv_err_set(err, EINVAL, "the API description has no crds list");
	_cleanup_fclose_ FILE *f = fopen(path, "we");
	if (!f)
		return kv_err_errno(err, "cannot create %s", path);
	fprintf(f, "# Generated by tools/kvirt-apigen from api/kubevirt-v1.yaml; do not edit.\n"
		   "# Regenerate: ninja -C build manifests (see docs/api.md).\n");

	yaml_emitter_t e;
	yaml_event_t ev;
	int r = 0;
	if (!yaml_emitter_initialize(&e))
		return kv_err_set(err, ENOMEM, "cannot initialize the YAML emitter");
	yaml_emitter_set_output_file(&e, f);
	yaml_emitter_set_width(&e, -1);
	yaml_emitter_set_indent(&e, 2);
	yaml_emitter_set_unicode(&e, 1);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	r = emit(&e, &ev, err);
	size_t i;
	json_t *crd;
	json_array_foreach (crds, i, crd) {
		if (r < 0)
			break;
		_cleanup_json_ json_t *doc = build_crd(api, crd, err);
		if (!doc) {
			r = -EINVAL;
			break;
		}
		yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0);
		if ((r = emit(&e, &ev, err)) < 0 || (r = emit_json(&e, doc, err)) < 0)
			break;
		yaml_document_end_event_initialize(&ev, 1);
		r = emit(&e, &ev, err);
	}
	if (r >= 0) {
		yaml_stream_end_event_initialize(&ev);
		r = emit(&e, &ev, err);
	}
	yaml_emitter_delete(&e);
	if (r >= 0 && (fflush(f) != 0 || ferror(f)))
		r = kv_err_errno(err, "cannot write %s", path);
	return r;
}

/* ---- C field table ---------------------------------------------------- */

static const char *field_type(json_t *s)
{
	if (json_is_true(json_object_get(s, "x-kubernetes-int-or-string")))
		return "KV_API_INT_OR_STRING";
	const char *t = json_string_value(json_object_get(s, "type"));
	if (!t)
		return "KV_API_ANY";
	if (!strcmp(t, "object"))
		return json_is_true(json_object_get(s, "x-kubernetes-preserve-unknown-fields")) &&
			       !json_object_get(s, "properties")
			   ? "KV_API_ANY"
			   : "KV_API_OBJECT";
	if (!strcmp(t, "string"))
		return "KV_API_STRING";
	if (!strcmp(t, "boolean"))
		return "KV_API_BOOLEAN";
	if (!strcmp(t, "integer"))
		return "KV_API_INTEGER";
	if (!strcmp(t, "number"))
		return "KV_API_NUMBER";
	if (!strcmp(t, "array"))
		return "KV_API_ARRAY";
	return "KV_API_ANY";
}

/* The table only holds identifiers, enum words and JSON paths; refuse anything else. */
static int check_c_safe(const char *s, struct kv_err **err)
{
	for (const char *p = s; *p; p++)
		if (*p == '"' || *p == '\\' || *p < 0x20)
			return kv_err_set(err, EINVAL, "\"%s\" cannot go into a C string", s);
	return 0;
}

static int write_fields(FILE *f, const char *kind, const char *path, json_t *s, bool required,
			int depth, struct kv_err **err)
{
	int r;
	if (depth > MAX_DEPTH)
		return kv_err_set(err, ELOOP, "schema too deep at %s", path);
	if (*path) {
		if ((r = check_c_safe(path, err)) < 0)
			return r;
		fprintf(f, "\t{ \"%s\", \"%s\", %s, %s, ", kind, path, field_type(s),
			required ? "true" : "false");
		json_t *en = json_object_get(s, "enum");
		if (json_is_array(en)) {
			size_t i;
			json_t *v;
			fputc('"', f);
			json_array_foreach (en, i, v) {
				const char *w = json_string_value(v);
				if (!w)
					continue;
				if ((r = check_c_safe(w, err)) < 0)
					return r;
				fprintf(f, "%s%s", i ? "|" : "", w);
			}
			fputs("\" },\n", f);
		} else {
			fputs("NULL },\n", f);
		}
	}

	json_t *props = json_object_get(s, "properties");
	json_t *req = json_object_get(s, "required");
	const char *k;
	json_t *v;
	json_object_foreach (props, k, v) {
		bool is_req = false;
		size_t i;
		json_t *rv;
		json_array_foreach (req, i, rv) {
			if (json_is_string(rv) && !strcmp(json_string_value(rv), k))
				is_req = true;
		}
		_cleanup_free_ char *sub = NULL;
		if (asprintf(&sub, "%s%s%s", path, *path ? "." : "", k) < 0)
			return kv_err_set(err, ENOMEM, "out of memory");
		if ((r = write_fields(f, kind, sub, v, is_req, depth + 1, err)) < 0)
			return r;
	}
	json_t *items = json_object_get(s, "items");
	json_t *addl = json_object_get(s, "additionalProperties");
	json_t *child = json_is_object(items) ? items : json_is_object(addl) ? addl : NULL;
	if (child) {
		_cleanup_free_ char *sub = NULL;
		if (asprintf(&sub, "%s%s", path, child == items ? "[]" : "{}") < 0)
			return kv_err_set(err, ENOMEM, "out of memory");
		if ((r = write_fields(f, kind, sub, child, false, depth + 1, err)) < 0)
			return r;
	}
	return 0;
}

static const char header_text[] =
    "/* SPDX-License-Identifier: Apache-2.0 */\n"
    "/*\n"
    " * Generated by tools/kvirt-apigen from api/kubevirt-v1.yaml; do not edit.\n"
    " *\n"
    " * Every field path of the kubevirt.io kinds with its schema type, the same\n"
    " * definition the CRDs in manifests/ are generated from (docs/api.md).  Paths\n"
    " * are dotted; \"[]\" steps into array items, \"{}\" into map values, e.g.\n"
    " * \"spec.template.spec.domain.devices.disks[].disk.bus\".\n"
    " */\n"
    "#ifndef KVIRT_API_FIELDS_H\n"
    "#define KVIRT_API_FIELDS_H\n\n"
    "#include <stdbool.h>\n"
    "#include <stddef.h>\n\n"
    "enum kv_api_type {\n"
    "\tKV_API_ANY, /* free-form object (x-kubernetes-preserve-unknown-fields) */\n"
    "\tKV_API_OBJECT,\n"
    "\tKV_API_ARRAY,\n"
    "\tKV_API_STRING,\n"
    "\tKV_API_BOOLEAN,\n"
    "\tKV_API_INTEGER,\n"
    "\tKV_API_NUMBER,\n"
    "\tKV_API_INT_OR_STRING, /* e.g. resource quantities */\n"
    "};\n\n"
    "struct kv_api_field {\n"
    "\tconst char *kind; /* \"VirtualMachine\", ... */\n"
    "\tconst char *path;\n"
    "\tenum kv_api_type type;\n"
    "\tbool required;\n"
    "\tconst char *enum_values; /* \"A|B|C\" or NULL */\n"
    "};\n\n"
    "extern const struct kv_api_field kv_api_fields[];\n"
    "extern const size_t kv_api_fields_count;\n\n"
    "/* The field at `path` of `kind`, or NULL if the schema does not know it. */\n"
    "const struct kv_api_field *kv_api_field_lookup(const char *kind, const char *path);\n\n"
    "/* Whether `value` is one of the field's enum values (true if it has none). */\n"
    "bool kv_api_field_enum_allows(const struct kv_api_field *field, const char *value);\n\n"
    "#endif\n";

static const char source_tail[] =
    "};\n\n"
    "const size_t kv_api_fields_count = sizeof(kv_api_fields) / sizeof(kv_api_fields[0]);\n\n"
    "const struct kv_api_field *kv_api_field_lookup(const char *kind, const char *path)\n"
    "{\n"
    "\tfor (size_t i = 0; i < kv_api_fields_count; i++)\n"
    "\t\tif (!strcmp(kv_api_fields[i].kind, kind) && !strcmp(kv_api_fields[i].path, path))\n"
    "\t\t\treturn &kv_api_fields[i];\n"
    "\treturn NULL;\n"
    "}\n\n"
    "bool kv_api_field_enum_allows(const struct kv_api_field *field, const char *value)\n"
    "{\n"
    "\tconst char *p = field->enum_values;\n"
    "\tsize_t n = strlen(value);\n"
    "\tif (!p)\n"
    "\t\treturn true;\n"
    "\tfor (;;) {\n"
    "\t\tconst char *end = strchr(p, '|');\n"
    "\t\tsize_t len = end ? (size_t)(end - p) : strlen(p);\n"
    "\t\tif (len == n && !strncmp(p, value, n))\n"
    "\t\t\treturn true;\n"
    "\t\tif (!end)\n"
    "\t\t\treturn false;\n"
    "\t\tp = end + 1;\n"
    "\t}\n"
    "}\n";

static int write_c(const char *header, const char *source, json_t *api, struct kv_err **err)
{
	if (header) {
		_cleanup_fclose_ FILE *h = fopen(header, "we");
		if (!h)
			return kv_err_errno(err, "cannot create %s", header);
		fputs(header_text, h);
		if (fflush(h) != 0 || ferror(h))
			return kv_err_errno(err, "cannot write %s", header);
	}
	if (!source)
		return 0;
	_cleanup_fclose_ FILE *f = fopen(source, "we");
	if (!f)
		return kv_err_errno(err, "cannot create %s", source);
	fputs("/* Generated by tools/kvirt-apigen from api/kubevirt-v1.yaml; do not edit. */\n"
	      "#include <string.h>\n\n#include \"api-fields.h\"\n\n"
	      "const struct kv_api_field kv_api_fields[] = {\n",
	      f);
	size_t i;
	json_t *crd;
	json_array_foreach (json_object_get(api, "crds"), i, crd) {
		const char *kind = json_string_value(json_object_get(crd, "kind"));
		_cleanup_json_ json_t *schema = expand_schema(
		    json_object_get(api, "types"), json_object_get(crd, "schema"), 0, err);
		if (!kind || !schema)
			return kv_err_set(err, EINVAL, "crd #%zu has no kind or schema", i);
		int r = write_fields(f, kind, "", schema, false, 0, err);
		if (r < 0)
			return r;
	}
	fputs(source_tail, f);
	if (fflush(f) != 0 || ferror(f))
		return kv_err_errno(err, "cannot write %s", source);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: kvirt-apigen [--crds FILE] [--header FILE] [--source FILE] API.yaml\n"
		     "Generate the kubevirt.io CRDs and the C field table from one description.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "crds", required_argument, NULL, 'c' },
		{ "header", required_argument, NULL, 'H' },
		{ "source", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *crds = NULL, *header = NULL, *source = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': crds = optarg; break;
		case 'H': header = optarg; break;
		case 's': source = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}

	_cleanup_err_ struct kv_err *err = NULL;
	_cleanup_json_ json_t *api = load_yaml(argv[optind], &err);
	int r = api ? 0 : -EINVAL;
	if (r >= 0 && crds)
		r = write_crds(crds, api, &err);
	if (r >= 0 && (header || source))
		r = write_c(header, source, api, &err);
	if (r < 0) {
		fprintf(stderr, "kvirt-apigen: %s\n", kv_err_msg(err));
		return 1;
	}
	return 0;
}
