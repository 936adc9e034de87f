/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watch stream: the API server writes one JSON object per event
 * ({"type":…,"object":…}), normally newline-terminated.  The splitter below
 * does not rely on the newlines: it tracks string/escape state and brace
 * depth across chunk boundaries, so an event split anywhere -- inside a
 * string, between a backslash and its escape -- is reassembled exactly, and
 * each byte is scanned once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvirt/k8s.h"

void k8s_stream_init(struct k8s_stream *s, size_t max)
{
	*s = (struct k8s_stream){ .max = max };
}

void k8s_stream_reset(struct k8s_stream *s)
{
	free(s->buf);
	k8s_stream_init(s, s->max);
}

static int stream_append(struct k8s_stream *s, const char *data, size_t len)
{
	if (!len)
		return 0;
	if (s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap : 8192;
		while (cap < s->len + len)
			cap *= 2;
		char *b = realloc(s->buf, cap);
		if (!b)
			return -ENOMEM;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return 0;
}

int k8s_stream_feed(struct k8s_stream *s, const char *data, size_t len, k8s_stream_fn fn, void *ud,
		    struct kv_err **err)
{
	if (stream_append(s, data, len) < 0)
		return kv_err_set(err, ENOMEM, "watch stream: out of memory");
	size_t start = 0;
	for (size_t i = s->scan; i < s->len; i++) {
		char ch = s->buf[i];
		if (s->depth == 0) {
			if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') {
				start = i + 1;
				continue;
			}
			if (ch != '{')
				return kv_err_set(
				    err, EPROTO,
				    "watch stream: unexpected byte 0x%02x between events",
				    (unsigned char)ch);
			start = i;
			s->depth = 1;
			continue;
		}
		if (s->in_str) {
			if (s->esc)
				s->esc = false;
			else if (ch == '\\')
				s->esc = true;
			else if (ch == '"')
				s->in_str = false;
			continue;
		}
		if (ch == '"')
			s->in_str = true;
		else if (ch == '{' || ch == '[')
			s->depth++;
		else if (ch == '}' || ch == ']') {
			if (--s->depth == 0) {
				int r = fn(ud, s->buf + start, i + 1 - start);
				if (r < 0)
					return r;
				start = i + 1;
			} else if (s->depth < 0) {
				return kv_err_set(err, EPROTO, "watch stream: unbalanced brackets");
			}
		}
		if (s->depth > 512)
			return kv_err_set(err, EPROTO, "watch stream: nested too deeply");
		/* Checked per byte, so the verdict does not depend on chunking. */
		if (s->depth > 0 && i - start >= s->max)
			return kv_err_set(err, EMSGSIZE, "watch stream: an event exceeds %zu bytes",
					  s->max);
	}
	/* Keep only the unfinished event. */
	if (s->depth == 0)
		start = s->len;
	if (s->len - start > s->max)
		return kv_err_set(err, EMSGSIZE, "watch stream: an event exceeds %zu bytes",
				  s->max);
	if (s->len > start)
		memmove(s->buf, s->buf + start, s->len - start);
	s->len -= start;
	s->scan = s->len;
	return 0;
}

void k8s_watch_event_clear(struct k8s_watch_event *ev)
{
	if (ev->object)
		json_decref(ev->object);
	*ev = (struct k8s_watch_event){ 0 };
}

int k8s_watch_event_parse(const char *buf, size_t len, struct k8s_watch_event *ev,
			  struct kv_err **err)
{
	*ev = (struct k8s_watch_event){ 0 };
	_cleanup_json_t_ json_t *doc = NULL;
	int r = kv_json_loadb(buf, len, "watch event", &doc, err);
	if (r < 0)
		return r;
	const char *type = kv_jstr(doc, "type");
	json_t *obj = kv_jget(doc, "object");
	if (!type)
		return kv_err_set(err, EPROTO, "watch event: no \"type\"");
	if (!json_is_object(obj))
		return kv_err_set(err, EPROTO, "watch event %s: \"object\" is not an object", type);
	static const struct {
		const char *name;
		enum k8s_event_type t;
	} types[] = {
		{ "ADDED", K8S_EV_ADDED },     { "MODIFIED", K8S_EV_MODIFIED },
		{ "DELETED", K8S_EV_DELETED }, { "BOOKMARK", K8S_EV_BOOKMARK },
		{ "ERROR", K8S_EV_ERROR },
	};
	bool known = false;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(type, types[i].name)) {
			ev->type = types[i].t;
			known = true;
		}
	if (!known)
		return kv_err_set(err, EPROTO, "watch event: unknown type \"%.32s\"", type);
	if (ev->type == K8S_EV_ERROR) {
		ev->code = kv_jint(obj, "code", 0);
	} else {
		ev->rv = kv_jstr(obj, "metadata.resourceVersion");
		if (!ev->rv)
			return kv_err_set(err, EPROTO,
					  "watch event %s: no metadata.resourceVersion", type);
		if (ev->type != K8S_EV_BOOKMARK && !kv_jstr(obj, "metadata.name"))
			return kv_err_set(err, EPROTO, "watch event %s: no metadata.name", type);
	}
	ev->object = json_incref(obj);
	return 0;
}
