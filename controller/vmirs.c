/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VMIRS controller: keeps spec.replicas VMIs from the template, named
 * <rs-name><5 chars>, owned by the replica set.  Creations are remembered
 * (expectations) until the informer shows them, so a stale cache never
 * creates twice; surplus VMIs are deleted not-yet-running first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "kvirt/vmi.h"

#define RS_EXPECT_NS (30ull * 1000000000ull)
#define RS_BURST     100

static bool owned_by(const json_t *obj, const char *uid)
{
	size_t i;
	json_t *o;
	json_array_foreach (kv_jget(obj, "metadata.ownerReferences"), i, o)
		if (kv_jbool(o, "controller", false) && kv_jstr_eq(kv_jstr(o, "uid"), uid))
			return true;
	return false;
}

struct owned_pick {
	json_t *arr;
	const char *ns, *uid;
};

static int pick_owned(void *ud, const char *key, json_t *vmi)
{
	struct owned_pick *p = ud;
	if (kv_jstr_eq(kv_jstr(vmi, "metadata.namespace"), p->ns) && owned_by(vmi, p->uid))
		json_array_append(p->arr, vmi);
	return 0;
}

static int phase_rank(const char *phase)
{
	static const char *const order[] = { "", "Pending", "Scheduling", "Scheduled", "Running" };
	for (size_t i = 0; i < KV_ARRAY_SIZE(order); i++)
		if (!strcmp(phase, order[i]))
			return (int)i;
	return 0;
}

static int cmp_victims(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int rx = phase_rank(kv_jstr_or(x, "status.phase", ""));
	int ry = phase_rank(kv_jstr_or(y, "status.phase", ""));
	if (rx != ry)
		return rx - ry;
	/* Newer first: RFC 3339 strings sort by time. */
	return -strcmp(kv_jstr_or(x, "metadata.creationTimestamp", ""),
		       kv_jstr_or(y, "metadata.creationTimestamp", ""));
}

static json_t *vmi_from_rs(const json_t *rs, const char *name)
{
	json_t *tmpl = kv_jget(rs, "spec.template");
	json_t *vmi =
	    json_pack("{s:s,s:s,s:{s:s,s:s?,s:O?,s:O?,s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},s:O?}",
		      "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance", "metadata",
		      "name", name, "namespace", kv_jstr(rs, "metadata.namespace"), "labels",
		      kv_jget(tmpl, "metadata.labels"), "annotations",
		      kv_jget(tmpl, "metadata.annotations"), "ownerReferences", "apiVersion",
		      "kubevirt.io/v1", "kind", "VirtualMachineInstanceReplicaSet", "name",
		      kv_jstr(rs, "metadata.name"), "uid", kv_jstr(rs, "metadata.uid"),
		      "controller", 1, "blockOwnerDeletion", 1, "spec", kv_jget(tmpl, "spec"));
	if (!vmi)
		return NULL;
	/* json_pack's O shares the template objects: copy before defaults edit them. */
	json_t *copy = json_deep_copy(vmi);
	json_decref(vmi);
	return copy;
}

struct rs_create {
	char *rs_key, *name;
};

static void after_create(struct kvc_sync *s, const struct k8s_result *r, void *data)
{
	struct rs_create *rc = data;
	if (r->err && r->err != -EEXIST) {
		json_t *e = json_object_get(s->c->rs_expect, rc->rs_key);
		if (e)
			json_object_del(e, rc->name);
	} else if (!r->err) {
		s->c->vmis_created++;
	}
	free(rc->rs_key);
	free(rc->name);
	free(rc);
}

void kvc_rs_sync(void *ud, struct k8s_queue *q, const char *key)
{
	struct kvc *c = ud;
	struct kvc_sync *s = kvc_sync_begin(c, q, KVC_RS, key);
	if (!s)
		return;
	json_t *rs = k8s_informer_get_key(c->rss, key);
	if (!rs || kv_jget(rs, "metadata.deletionTimestamp")) {
		if (rs)
			json_decref(rs);
		json_object_del(c->rs_expect, key);
		kvc_sync_end(s);
		return;
	}
	const char *ns = kv_jstr(rs, "metadata.namespace");
	const char *rs_name = kv_jstr_or(rs, "metadata.name", "");
	const char *uid = kv_jstr_or(rs, "metadata.uid", "");
	long long replicas = kv_jint(rs, "spec.replicas", 1);
	if (replicas < 0)
		replicas = 0;
	json_t *sel = kv_jget(rs, "spec.selector");
	_cleanup_err_ struct kv_err *serr = NULL;
	if (kv_label_selector_matches(sel, NULL, &serr) < 0) {
		k8s_event(c->rec, rs, "Warning", "InvalidSelector", "%s", kv_err_msg(serr));
		json_decref(rs);
		kvc_sync_end(s);
		return;
	}

	json_t *exp = json_object_get(c->rs_expect, key);
	if (!exp) {
		exp = json_object();
		json_object_set_new(c->rs_expect, key, exp);
	}
	/* Owned VMIs, final ones aside (they are replaced). */
	json_t *owned = json_array();
	struct owned_pick pick = { owned, ns, uid };
	k8s_informer_foreach(c->vmis, pick_owned, &pick);
	json_t *active = json_array();
	long long ready = 0;
	const char *k;
	size_t oi;
	json_t *vmi;
	json_array_foreach (owned, oi, vmi) {
		json_object_del(exp, kv_jstr_or(vmi, "metadata.name", ""));
		const char *phase = kv_jstr_or(vmi, "status.phase", "");
		if (kv_jget(vmi, "metadata.deletionTimestamp"))
			continue;
		if (kvc_phase_final(phase)) {
			void *op = kvc_op(s, &(struct kvc_op_opts){ .what = "delete a finished VMI",
								    .ignore_missing = true });
			if (op)
				kvc_op_start_failed(op, k8s_delete(c->client, &k8s_res_vmis, ns,
								   kv_jstr(vmi, "metadata.name"),
								   kv_jstr(vmi, "metadata.uid"),
								   NULL, kvc_op_done, op));
			continue;
		}
		json_array_append(active, vmi);
		if (kv_jstr_eq(kv_jstr(kvc_condition(vmi, "Ready"), "status"), "True"))
			ready++;
	}
	/* Expected creations not yet seen count as existing until they expire. */
	long long pending = 0;
	void *tmp;
	json_t *deadline;
	json_object_foreach_safe(exp, tmp, k, deadline)
	{
		if ((uint64_t)json_integer_value(deadline) < kv_now_ns())
			json_object_del(exp, k);
		else
			pending++;
	}
	long long have = (long long)json_array_size(active) + pending;
	bool paused = kv_jbool(rs, "spec.paused", false);
	if (!paused && have < replicas) {
		long long n = replicas - have;
		if (n > RS_BURST) {
			n = RS_BURST;
			kvc_sync_requeue(s, 1000);
		}
		for (long long i = 0; i < n; i++) {
			char sfx[6];
			static const char chars[] = "bcdfghjklmnpqrstvwxz2456789";
			for (int j = 0; j < 5; j++)
				sfx[j] = chars[k8s_rand(sizeof(chars) - 1)];
			sfx[5] = '\0';
			_cleanup_free_ char *name = kv_strdup_printf("%.*s%s", 240, rs_name, sfx);
			_cleanup_json_t_ json_t *nv = name ? vmi_from_rs(rs, name) : NULL;
			struct rs_create *rc = calloc(1, sizeof(*rc));
			if (!nv || !rc) {
				free(rc);
				s->failed = true;
				break;
			}
			kvc_prepare_vmi(c, nv, NULL, NULL);
			rc->rs_key = strdup(key);
			rc->name = strdup(name);
			json_object_set_new(exp, name,
					    json_integer((json_int_t)(kv_now_ns() + RS_EXPECT_NS)));
			_cleanup_free_ char *what =
			    kv_strdup_printf("Created virtual machine instance %s", name);
			void *op = kvc_op(s, &(struct kvc_op_opts){ .event_obj = rs,
								    .ok_reason = "SuccessfulCreate",
								    .fail_reason = "FailedCreate",
								    .what = what,
								    .after = after_create,
								    .data = rc });
			if (op)
				kvc_op_start_failed(op, k8s_create(c->client, &k8s_res_vmis, ns, nv,
								   kvc_op_done, op));
		}
	} else if (!paused && (long long)json_array_size(active) > replicas) {
		size_t n = json_array_size(active);
		json_t **v = calloc(n, sizeof(*v));
		if (v) {
			for (size_t i = 0; i < n; i++)
				v[i] = json_array_get(active, i);
			qsort(v, n, sizeof(*v), cmp_victims);
			for (size_t i = 0; i < n - (size_t)replicas; i++) {
				_cleanup_free_ char *what =
				    kv_strdup_printf("Deleted virtual machine instance %s",
						     kv_jstr_or(v[i], "metadata.name", ""));
				kvc_delete_with_event(s, rs, &k8s_res_vmis, v[i], what);
			}
			free(v);
		}
	}
	if (!json_object_size(exp))
		json_object_del(c->rs_expect, key);
	else
		kvc_sync_requeue(s, RS_EXPECT_NS / 1000000 + 100);

	/* Status: replicas, readyReplicas, labelSelector (the scale subresource reads them). */
	_cleanup_free_ char *selstr = kv_label_selector_string(sel);
	long long current = (long long)json_array_size(active);
	if (current != kv_jint(rs, "status.replicas", -1) ||
	    ready != kv_jint(rs, "status.readyReplicas", -1) ||
	    !kv_jstr_eq(selstr, kv_jstr(rs, "status.labelSelector"))) {
		_cleanup_json_t_ json_t *patch =
		    json_pack("{s:{s:I,s:I,s:s?}}", "status", "replicas", (json_int_t)current,
			      "readyReplicas", (json_int_t)ready, "labelSelector", selstr);
		void *op = kvc_op(s, &(struct kvc_op_opts){ .what = "update replica set status",
							    .ignore_missing = true });
		if (op)
			kvc_op_start_failed(op, k8s_patch(c->client, &k8s_res_vmirs, ns, rs_name,
							  "status", K8S_PATCH_MERGE, patch,
							  kvc_op_done, op));
	}
	json_decref(active);
	json_decref(owned);
	json_decref(rs);
	kvc_sync_end(s);
}
