/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Informer: LIST (paged) + WATCH into a local cache keyed by "ns/name",
 * calling add/update/delete handlers.  A watch that ends normally resumes
 * from the last resourceVersion (bookmarks keep it fresh); "410 Gone" --
 * as an HTTP status or as an ERROR event -- means the version is too old,
 * so the informer re-lists and turns the difference into events; transport
 * errors back off exponentially with jitter and resume.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvirt/cleanup.h"
#include "kvirt/k8s.h"
#include "kvirt/log.h"
#include "kvirt/util.h"

#define INFORMER_PAGE	   500
#define INFORMER_MAX_EVENT (32u << 20)

struct k8s_informer {
	struct k8s_client *c;
	struct k8s_informer_opts o;
	char *ns, *selector, *name;
	json_t *cache;
	json_t *listing; /* the relist in progress */
	char *rv;
	struct k8s_http_call *watch;
	struct k8s_stream stream;
	struct k8s_timer retry, resync;
	unsigned failures;
	bool synced, relist_needed, got_event;
	struct k8s_informer_stats st;
};

static void do_list(struct k8s_informer *inf, const char *cont);
static void do_watch(struct k8s_informer *inf);
static json_t *cached(const struct k8s_informer *inf, const char *key);

void k8s_trim_managed_fields(json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	if (json_is_object(md))
		json_object_del(md, "managedFields");
}

char *k8s_object_key(const json_t *obj)
{
	const char *ns = kv_jstr(obj, "metadata.namespace");
	const char *name = kv_jstr_or(obj, "metadata.name", "");
	return ns ? kv_strdup_printf("%s/%s", ns, name) : strdup(name);
}

static char *urlencode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

static void retry_later(struct k8s_informer *inf)
{
	uint64_t ms = k8s_backoff_ms(++inf->failures, 500, 30000);
	ms += k8s_rand(ms / 2 + 1); /* jitter: restarts of many clients must not align */
	k8s_timer_start(inf->c->loop, &inf->retry, ms);
}

static void on_retry(struct k8s_timer *t)
{
	struct k8s_informer *inf = t->data;
	if (!inf->synced || inf->relist_needed)
		do_list(inf, NULL);
	else
		do_watch(inf);
}

static void on_resync(struct k8s_timer *t)
{
	struct k8s_informer *inf = t->data;
	if (inf->synced && inf->o.h.update) {
		const char *k;
		json_t *v;
		json_object_foreach (inf->cache, k, v) {
			json_t *obj = cached(inf, k);
			if (obj) {
				inf->o.h.update(inf->o.h.ud, obj, obj);
				json_decref(obj);
			}
		}
	}
	k8s_timer_start(inf->c->loop, t, (uint64_t)inf->o.resync_s * 1000);
}

/* The cached text of `key` parsed, or NULL. */
static json_t *cached(const struct k8s_informer *inf, const char *key)
{
	json_t *v = json_object_get(inf->cache, key);
	if (!json_is_string(v))
		return NULL;
	json_t *obj = NULL;
	if (kv_json_loadb(json_string_value(v), json_string_length(v), "cache", &obj, NULL) < 0)
		return NULL;
	return obj;
}

static int store(struct k8s_informer *inf, json_t *obj)
{
	if (inf->o.transform)
		inf->o.transform(obj);
	_cleanup_free_ char *key = k8s_object_key(obj);
	_cleanup_free_ char *text = kv_json_dumps(obj);
	if (!key || !text)
		return -ENOMEM;
	json_t *old = cached(inf, key);
	json_object_set_new(inf->cache, key, json_string(text));
	if (old) {
		if (inf->o.h.update && !kv_jstr_eq(kv_jstr(old, "metadata.resourceVersion"),
						   kv_jstr(obj, "metadata.resourceVersion")))
			inf->o.h.update(inf->o.h.ud, old, obj);
		json_decref(old);
	} else if (inf->o.h.add) {
		inf->o.h.add(inf->o.h.ud, obj);
	}
	return 0;
}

static void forget(struct k8s_informer *inf, const char *key)
{
	json_t *old = cached(inf, key);
	if (!json_object_get(inf->cache, key))
		return;
	json_object_del(inf->cache, key);
	if (old && inf->o.h.del)
		inf->o.h.del(inf->o.h.ud, old);
	if (old)
		json_decref(old);
}

static void set_rv(struct k8s_informer *inf, const char *rv)
{
	if (!rv)
		return;
	char *n = strdup(rv);
	if (n) {
		free(inf->rv);
		inf->rv = n;
	}
}

/* ---- LIST ---- */

static void list_done(void *ud, const struct k8s_result *r)
{
	struct k8s_informer *inf = ud;
	if (r->err) {
		inf->st.errors++;
		kv_warn("%s: list failed (HTTP %ld): %s", inf->name, r->status, r->message);
		if (inf->listing) {
			json_decref(inf->listing);
			inf->listing = NULL;
		}
		retry_later(inf);
		return;
	}
	json_t *items = kv_jget(r->body, "items");
	if (!json_is_array(items)) {
		inf->st.errors++;
		kv_warn("%s: list response has no items", inf->name);
		json_decref(inf->listing);
		inf->listing = NULL;
		retry_later(inf);
		return;
	}
	size_t i;
	json_t *it;
	json_array_foreach (items, i, it) {
		if (!kv_jstr(it, "metadata.name"))
			continue;
		/* Lists omit kind/apiVersion on items; handlers and events want them. */
		if (!json_object_get(it, "kind"))
			json_object_set_new(it, "kind", json_string(inf->o.res->kind));
		/* Trimmed and kept as text until the last page: a relist of thousands
		 * of objects must not hold them all as trees at once. */
		if (inf->o.transform)
			inf->o.transform(it);
		_cleanup_free_ char *key = k8s_object_key(it);
		_cleanup_free_ char *text = kv_json_dumps(it);
		if (key && text)
			json_object_set_new(inf->listing, key, json_string(text));
	}
	const char *cont = kv_jstr(r->body, "metadata.continue");
	if (cont && *cont) {
		do_list(inf, cont);
		return;
	}
	/* Complete: turn the difference into events. */
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(inf->cache, tmp, k, v)
	{
		if (!json_object_get(inf->listing, k))
			forget(inf, k);
	}
	json_t *listing = inf->listing;
	inf->listing = NULL;
	json_object_foreach (listing, k, v) {
		json_t *obj = NULL;
		if (kv_json_loadb(json_string_value(v), json_string_length(v), "list", &obj, NULL) <
		    0)
			continue;
		store(inf, obj);
		json_decref(obj);
	}
	json_decref(listing);
	set_rv(inf, kv_jstr(r->body, "metadata.resourceVersion"));
	inf->synced = true;
	inf->relist_needed = false;
	inf->failures = 0;
	kv_debug("%s: listed %zu objects at resourceVersion %s", inf->name,
		 json_object_size(inf->cache), inf->rv ? inf->rv : "?");
	do_watch(inf);
}

static void do_list(struct k8s_informer *inf, const char *cont)
{
	if (!cont) {
		if (inf->listing)
			json_decref(inf->listing);
		inf->listing = json_object();
		inf->st.lists++;
	}
	_cleanup_free_ char *path = k8s_path(inf->o.res, inf->ns, NULL, NULL);
	_cleanup_free_ char *sel = inf->selector ? urlencode(inf->selector) : NULL;
	_cleanup_free_ char *c = cont ? urlencode(cont) : NULL;
	_cleanup_free_ char *url = kv_strdup_printf(
	    "%s?limit=%d%s%s%s%s", path ? path : "", INFORMER_PAGE, sel ? "&labelSelector=" : "",
	    sel ? sel : "", c ? "&continue=" : "", c ? c : "");
	if (!path || !url || !inf->listing ||
	    k8s_call(inf->c, "GET", url, NULL, NULL, list_done, inf) < 0)
		retry_later(inf);
}

/* ---- WATCH ---- */

static int on_event(void *ud, const char *buf, size_t len)
{
	struct k8s_informer *inf = ud;
	_cleanup_err_ struct kv_err *err = NULL;
	struct k8s_watch_event ev;
	if (k8s_watch_event_parse(buf, len, &ev, &err) < 0) {
		/* One bad event must not poison the cache: restart from the last good version. */
		kv_warn("%s: %s; restarting the watch", inf->name, kv_err_msg(err));
		inf->st.errors++;
		return -EPROTO;
	}
	inf->st.events++;
	inf->got_event = true;
	switch (ev.type) {
	case K8S_EV_ADDED:
	case K8S_EV_MODIFIED:
		json_object_set_new(ev.object, "kind", json_string(inf->o.res->kind));
		set_rv(inf, ev.rv);
		store(inf, ev.object);
		break;
	case K8S_EV_DELETED: {
		set_rv(inf, ev.rv);
		_cleanup_free_ char *key = k8s_object_key(ev.object);
		if (key)
			forget(inf, key);
		break;
	}
	case K8S_EV_BOOKMARK:
		inf->st.bookmarks++;
		set_rv(inf, ev.rv);
		break;
	case K8S_EV_ERROR:
		kv_info("%s: watch error %ld: %s", inf->name, ev.code,
			kv_jstr_or(ev.object, "message", "?"));
		if (ev.code == 410) {
			inf->relist_needed = true;
			inf->st.relists_410++;
		}
		k8s_watch_event_clear(&ev);
		return -ENODATA; /* end this watch; on_done decides */
	}
	k8s_watch_event_clear(&ev);
	return 0;
}

static int watch_data(void *ud, const char *buf, size_t len)
{
	struct k8s_informer *inf = ud;
	_cleanup_err_ struct kv_err *err = NULL;
	int r = k8s_stream_feed(&inf->stream, buf, len, on_event, inf, &err);
	if (r < 0 && err)
		kv_warn("%s: %s; restarting the watch", inf->name, kv_err_msg(err));
	return r;
}

static void watch_done(void *ud, long status, const char *body, size_t len, const char *error)
{
	struct k8s_informer *inf = ud;
	inf->watch = NULL;
	k8s_stream_reset(&inf->stream);
	if (k8s_loop_quitting(inf->c->loop))
		return;
	if (status == 410 || inf->relist_needed) {
		if (status == 410)
			inf->st.relists_410++;
		inf->relist_needed = true;
		inf->st.watch_restarts++;
		do_list(inf, NULL);
		return;
	}
	if (status == 200 && !error) {
		/* The server closed a healthy watch (timeoutSeconds): resume at once. */
		inf->failures = 0;
		do_watch(inf);
		return;
	}
	inf->st.watch_restarts++;
	inf->st.errors++;
	if (inf->got_event)
		inf->failures = 0;
	kv_info("%s: watch ended (HTTP %ld%s%s); resuming from %s after a backoff", inf->name,
		status, error ? ", " : "", error ? error : "", inf->rv ? inf->rv : "scratch");
	retry_later(inf);
}

static void do_watch(struct k8s_informer *inf)
{
	_cleanup_free_ char *path = k8s_path(inf->o.res, inf->ns, NULL, NULL);
	_cleanup_free_ char *sel = inf->selector ? urlencode(inf->selector) : NULL;
	_cleanup_free_ char *rv = inf->rv ? urlencode(inf->rv) : NULL;
	/* Spread the server-side timeouts so watches of many informers do not end together. */
	unsigned timeout = 240 + (unsigned)k8s_rand(120);
	_cleanup_free_ char *url = kv_strdup_printf(
	    "%s%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%u%s%s%s%s", inf->c->cfg->server,
	    path ? path : "", timeout, rv ? "&resourceVersion=" : "", rv ? rv : "",
	    sel ? "&labelSelector=" : "", sel ? sel : "");
	if (!path || !url) {
		retry_later(inf);
		return;
	}
	struct k8s_http_request req = {
		.method = "GET",
		.url = url,
		.timeout_s = timeout + 60,
		.on_data = watch_data,
		.on_done = watch_done,
		.ud = inf,
	};
	inf->got_event = false;
	inf->st.watches++;
	if (k8s_http_start(inf->c->http, &req, &inf->watch, NULL) < 0)
		retry_later(inf);
}

int k8s_informer_new(struct k8s_client *c, const struct k8s_informer_opts *o,
		     struct k8s_informer **out, struct kv_err **err)
{
	struct k8s_informer *inf = calloc(1, sizeof(*inf));
	if (!inf)
		return kv_err_set(err, ENOMEM, "out of memory");
	inf->c = c;
	inf->o = *o;
	inf->ns = o->ns ? strdup(o->ns) : NULL;
	inf->selector = o->label_selector ? strdup(o->label_selector) : NULL;
	inf->name = kv_strdup_printf("informer %s", o->res->plural);
	inf->cache = json_object();
	if ((o->ns && !inf->ns) || (o->label_selector && !inf->selector) || !inf->name ||
	    !inf->cache) {
		k8s_informer_free(inf);
		return kv_err_set(err, ENOMEM, "out of memory");
	}
	k8s_stream_init(&inf->stream, INFORMER_MAX_EVENT);
	inf->retry = (struct k8s_timer){ .fn = on_retry, .data = inf };
	inf->resync = (struct k8s_timer){ .fn = on_resync, .data = inf };
	*out = inf;
	return 0;
}

void k8s_informer_free(struct k8s_informer *inf)
{
	if (!inf)
		return;
	if (inf->watch)
		k8s_http_cancel(inf->c->http, inf->watch);
	k8s_timer_stop(inf->c->loop, &inf->retry);
	k8s_timer_stop(inf->c->loop, &inf->resync);
	k8s_stream_reset(&inf->stream);
	if (inf->cache)
		json_decref(inf->cache);
	if (inf->listing)
		json_decref(inf->listing);
	free(inf->rv);
	free(inf->ns);
	free(inf->selector);
	free(inf->name);
	free(inf);
}

int k8s_informer_start(struct k8s_informer *inf)
{
	do_list(inf, NULL);
	if (inf->o.resync_s)
		k8s_timer_start(inf->c->loop, &inf->resync, (uint64_t)inf->o.resync_s * 1000);
	return 0;
}

bool k8s_informer_synced(const struct k8s_informer *inf)
{
	return inf->synced;
}

json_t *k8s_informer_get(const struct k8s_informer *inf, const char *ns, const char *name)
{
	_cleanup_free_ char *key = ns ? kv_strdup_printf("%s/%s", ns, name) : strdup(name);
	return key ? cached(inf, key) : NULL;
}

json_t *k8s_informer_get_key(const struct k8s_informer *inf, const char *key)
{
	return cached(inf, key);
}

int k8s_informer_foreach(const struct k8s_informer *inf,
			 int (*fn)(void *ud, const char *key, json_t *obj), void *ud)
{
	const char *k;
	json_t *v;
	json_object_foreach (inf->cache, k, v) {
		json_t *obj = cached(inf, k);
		if (!obj)
			continue;
		int r = fn(ud, k, obj);
		json_decref(obj);
		if (r < 0)
			return r;
	}
	return 0;
}

size_t k8s_informer_size(const struct k8s_informer *inf)
{
	return json_object_size(inf->cache);
}

const struct k8s_informer_stats *k8s_informer_stats(const struct k8s_informer *inf)
{
	return &inf->st;
}

const char *k8s_informer_name(const struct k8s_informer *inf)
{
	return inf->o.res->plural;
}
