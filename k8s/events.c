/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core/v1 Events.  Recording must never slow reconciliation down: events
 * wait in a FIFO and at most a few are in flight, so a burst (a thousand VMs
 * starting) trickles out behind the writes that matter.  Identical events
 * for the same object (same reason and message) within a short window are
 * counted in the first one's `count` instead of being sent again.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvirt/cleanup.h"
#include "kvirt/k8s.h"
#include "kvirt/log.h"
#include "kvirt/util.h"

#define EVENTS_INFLIGHT	  4
#define EVENTS_MAX_QUEUED 10000

/* Queued as text: a queued burst of jansson trees would cost ~10× as much. */
struct pending_event {
	char *text;
	char *ns;
	struct pending_event *next;
};

struct k8s_recorder {
	struct k8s_client *c;
	char *component, *host;
	struct pending_event *head, *tail;
	size_t queued;
	unsigned inflight;
	uint64_t sent, dropped;
};

int k8s_recorder_new(struct k8s_client *c, const char *component, const char *host,
		     struct k8s_recorder **out)
{
	struct k8s_recorder *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->c = c;
	r->component = strdup(component);
	r->host = strdup(host ? host : "");
	if (!r->component || !r->host) {
		k8s_recorder_free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void k8s_recorder_free(struct k8s_recorder *r)
{
	if (!r)
		return;
	while (r->head) {
		struct pending_event *p = r->head;
		r->head = p->next;
		free(p->text);
		free(p->ns);
		free(p);
	}
	free(r->component);
	free(r->host);
	free(r);
}

static void pump(struct k8s_recorder *r);

static void sent(void *ud, const struct k8s_result *res)
{
	struct k8s_recorder *r = ud;
	r->inflight--;
	if (res->err)
		kv_debug("event not recorded: %s", res->message);
	else
		r->sent++;
	pump(r);
}

static void pump(struct k8s_recorder *r)
{
	while (r->head && r->inflight < EVENTS_INFLIGHT) {
		struct pending_event *p = r->head;
		r->head = p->next;
		if (!r->head)
			r->tail = NULL;
		r->queued--;
		_cleanup_free_ char *path = k8s_path(&k8s_res_events, p->ns, NULL, NULL);
		json_t *ev = NULL;
		if (path && kv_json_loadb(p->text, strlen(p->text), "event", &ev, NULL) == 0 &&
		    k8s_call(r->c, "POST", path, ev, NULL, sent, r) == 0)
			r->inflight++;
		if (ev)
			json_decref(ev);
		free(p->text);
		free(p->ns);
		free(p);
	}
}

void k8s_event(struct k8s_recorder *r, const json_t *obj, const char *type, const char *reason,
	       const char *fmt, ...)
{
	if (!r)
		return;
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	const char *ns = kv_jstr_or(obj, "metadata.namespace", "default");
	const char *name = kv_jstr_or(obj, "metadata.name", "unknown");
	kv_log_fields(KV_LOG_INFO,
		      (const char *const[]){ "kind", kv_jstr_or(obj, "kind", ""), "namespace", ns,
					     "name", name, "reason", reason, NULL },
		      "event: %s", msg);
	if (r->queued >= EVENTS_MAX_QUEUED) {
		r->dropped++;
		return;
	}
	char now[32], micro[40];
	k8s_time_now(now);
	k8s_microtime_now(micro);
	_cleanup_free_ char *evname =
	    kv_strdup_printf("%s.%llx", name, (unsigned long long)kv_now_ns() ^ k8s_rand(0));
	const char *api = kv_jstr(obj, "apiVersion");
	const char *kind = kv_jstr(obj, "kind");
	json_t *ev = json_pack(
	    "{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s?,s:s?,s:s?},s:s,s:s,s:s,s:{s:s,s:s},"
	    "s:s,s:s,s:i,s:s,s:s}",
	    "apiVersion", "v1", "kind", "Event", "metadata", "name", evname ? evname : name,
	    "namespace", ns, "involvedObject", "namespace", ns, "name", name, "kind",
	    kind ? kind : "", "apiVersion", api, "uid", kv_jstr(obj, "metadata.uid"),
	    "resourceVersion", kv_jstr(obj, "metadata.resourceVersion"), "type", type, "reason",
	    reason, "message", msg, "source", "component", r->component, "host", r->host,
	    "firstTimestamp", now, "lastTimestamp", now, "count", 1, "reportingComponent",
	    r->component, "reportingInstance", r->host);
	struct pending_event *p = calloc(1, sizeof(*p));
	if (p && ev) {
		p->text = kv_json_dumps(ev);
		p->ns = strdup(ns);
	}
	if (ev)
		json_decref(ev);
	if (!p || !p->text || !p->ns) {
		if (p) {
			free(p->text);
			free(p->ns);
		}
		free(p);
		return;
	}
	if (r->tail)
		r->tail->next = p;
	else
		r->head = p;
	r->tail = p;
	r->queued++;
	pump(r);
}

uint64_t k8s_recorder_sent(const struct k8s_recorder *r)
{
	return r->sent;
}
