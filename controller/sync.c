/* SPDX-License-Identifier: Apache-2.0 */
/* Reconcile bookkeeping shared by the VM, VMI and VMIRS controllers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "kvirt/vmi.h"

const double kvc_latency_bounds[16] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
					2.5,   5,    10,    20,	  30,  60,   120, 1e300 };

void kvc_latency_observe(struct kvc_latency *h, double s)
{
	for (size_t i = 0; i < 16; i++)
		if (s <= kvc_latency_bounds[i]) {
			h->buckets[i]++;
			break;
		}
	h->count++;
	h->sum += s;
}

struct kvc_sync *kvc_sync_begin(struct kvc *c, struct k8s_queue *q, enum kvc_kind kind,
				const char *key)
{
	struct kvc_sync *s = calloc(1, sizeof(*s));
	if (s)
		s->key = strdup(key);
	if (!s || !s->key) {
		/* Out of memory: hand the key back as failed, so it is retried with backoff. */
		free(s);
		k8s_queue_done(q, key, false);
		return NULL;
	}
	s->c = c;
	s->q = q;
	s->kind = kind;
	s->pending = 1;
	return s;
}

void kvc_sync_requeue(struct kvc_sync *s, uint64_t ms)
{
	if (!s->requeue_ms || ms < s->requeue_ms)
		s->requeue_ms = ms ? ms : 1;
}

void kvc_sync_end(struct kvc_sync *s)
{
	if (--s->pending > 0)
		return;
	s->c->reconciles[s->kind][s->failed ? 1 : 0]++;
	k8s_queue_done(s->q, s->key, !s->failed);
	if (s->requeue_ms && !s->failed)
		k8s_queue_add_after(s->q, s->key, s->requeue_ms);
	free(s->key);
	free(s);
}

struct kvc_op {
	struct kvc_sync *s;
	struct kvc_op_opts o;
	json_t *event_obj;
	char *what;
};

void *kvc_op(struct kvc_sync *s, const struct kvc_op_opts *o)
{
	struct kvc_op *op = calloc(1, sizeof(*op));
	if (!op) {
		s->failed = true;
		return NULL;
	}
	op->s = s;
	op->o = *o;
	op->event_obj = o->event_obj ? json_deep_copy(o->event_obj) : NULL;
	op->what = strdup(o->what ? o->what : "API call");
	s->pending++;
	return op;
}

static void op_free(struct kvc_op *op)
{
	if (op->event_obj)
		json_decref(op->event_obj);
	free(op->what);
	free(op);
}

void kvc_op_done(void *ud, const struct k8s_result *r)
{
	struct kvc_op *op = ud;
	if (!op)
		return;
	struct kvc_sync *s = op->s;
	bool ok = !r->err || (op->o.ignore_exists && r->err == -EEXIST) ||
		  (op->o.ignore_missing && r->err == -ENOENT);
	if (r->err == 0 && op->o.ok_reason && op->event_obj)
		k8s_event(s->c->rec, op->event_obj, "Normal", op->o.ok_reason, "%s", op->what);
	if (!ok) {
		s->failed = true;
		/* A conflict only means our cache was behind: retry quietly. */
		if (r->err == -ESTALE)
			kv_debug("%s: %s: conflict, retrying", s->key, op->what);
		else
			kv_log_fields(KV_LOG_WARNING, (const char *const[]){ "key", s->key, NULL },
				      "%s failed (HTTP %ld): %s", op->what, r->status,
				      r->message ? r->message : "?");
		if (op->o.fail_reason && op->event_obj && r->err != -ESTALE && r->status)
			k8s_event(s->c->rec, op->event_obj, "Warning", op->o.fail_reason,
				  "%s failed: %s", op->what, r->message ? r->message : "?");
	}
	if (op->o.after)
		op->o.after(s, r, op->o.data);
	op_free(op);
	kvc_sync_end(s);
}

void kvc_op_start_failed(void *ud, int rc)
{
	if (rc >= 0 || !ud)
		return;
	struct k8s_result r = { .err = rc, .message = "request could not be started" };
	kvc_op_done(ud, &r);
}

struct preset_pick {
	json_t *arr;
	const char *ns;
};

static int pick_preset(void *ud, const char *key, json_t *p)
{
	struct preset_pick *pp = ud;
	if (kv_jstr_eq(kv_jstr(p, "metadata.namespace"), pp->ns))
		json_array_append(pp->arr, p);
	return 0;
}

static void collect_warning(void *ud, const char *reason, const char *msg)
{
	if (ud)
		json_array_append_new(ud, json_pack("{s:s,s:s}", "reason", reason, "message", msg));
}

int kvc_prepare_vmi(struct kvc *c, json_t *vmi, json_t *warnings, struct kv_err **err)
{
	/* Presets first (their values only fill gaps), then KubeVirt's defaults. */
	json_t *presets = json_array();
	if (!presets)
		return kv_err_set(err, ENOMEM, "out of memory");
	struct preset_pick pick = { presets, kv_jstr(vmi, "metadata.namespace") };
	if (c && c->presets)
		k8s_informer_foreach(c->presets, pick_preset, &pick);
	int r = kv_vmi_apply_presets(vmi, presets, collect_warning, warnings, err);
	json_decref(presets);
	if (r < 0)
		return r;
	json_t *spec = json_object_get(vmi, "spec");
	r = kv_vmi_apply_defaults(spec, collect_warning, warnings, err);
	if (r < 0)
		return r;
	json_t *fin = kv_jget(vmi, "metadata.finalizers");
	if (!json_is_array(fin)) {
		fin = json_array();
		kv_jset(vmi, "metadata.finalizers", fin);
	}
	size_t i;
	json_t *f;
	bool have = false;
	json_array_foreach (fin, i, f)
		have |= kv_jstr_eq(json_string_value(f), KV_VMI_FINALIZER);
	if (!have)
		json_array_append_new(fin, json_string(KV_VMI_FINALIZER));
	return 0;
}

void kvc_delete_with_event(struct kvc_sync *s, const json_t *event_obj,
			   const struct k8s_resource *res, const json_t *obj, const char *what)
{
	void *op = kvc_op(s, &(struct kvc_op_opts){ .event_obj = event_obj,
						    .ok_reason = "SuccessfulDelete",
						    .fail_reason = "FailedDelete",
						    .what = what,
						    .ignore_missing = true });
	if (op)
		kvc_op_start_failed(
		    op, k8s_delete(s->c->client, res, kv_jstr(obj, "metadata.namespace"),
				   kv_jstr(obj, "metadata.name"), kv_jstr(obj, "metadata.uid"),
				   NULL, kvc_op_done, op));
}
