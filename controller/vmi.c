/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VMI controller: defaults/presets/finalizer on a new VMI, validation, the
 * launcher pod, and the phase machine Pending → Scheduling → Scheduled →
 * (Running: the handler) → Succeeded/Failed from the pod.  Deletion deletes
 * the pod, then removes the finalizer once the pod is gone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "kvirt/vmi.h"

static bool has_finalizer(const json_t *obj, const char *f)
{
	size_t i;
	json_t *v;
	json_array_foreach (kv_jget(obj, "metadata.finalizers"), i, v)
		if (kv_jstr_eq(json_string_value(v), f))
			return true;
	return false;
}

/* Set a condition in `conds`, keeping lastTransitionTime when the status is unchanged. */
static void set_condition(json_t *conds, const char *type, const char *status, const char *reason,
			  const char *message)
{
	char now[32];
	k8s_time_now(now);
	size_t i;
	json_t *c;
	json_array_foreach (conds, i, c) {
		if (!kv_jstr_eq(kv_jstr(c, "type"), type))
			continue;
		const char *ltt = kv_jstr_eq(kv_jstr(c, "status"), status)
				      ? kv_jstr(c, "lastTransitionTime")
				      : NULL;
		json_t *n = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:n}", "type", type, "status", status,
				      "lastTransitionTime", ltt ? ltt : now, "reason", reason,
				      "message", message, "lastProbeTime");
		json_array_set_new(conds, i, n);
		return;
	}
	json_array_append_new(conds,
			      json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:n}", "type", type, "status",
					status, "lastTransitionTime", now, "reason", reason,
					"message", message, "lastProbeTime"));
}

static void drop_condition(json_t *conds, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (conds, i, c)
		if (kv_jstr_eq(kv_jstr(c, "type"), type)) {
			json_array_remove(conds, i);
			return;
		}
}

struct vmi_status {
	const char *phase;
	const char *node;
	const char *reason;
	json_t *conds;
};

/* Patch the status when it differs from what is stored; record the transition. */
static void write_status(struct kvc_sync *s, json_t *vmi, struct vmi_status *st)
{
	const char *cur_phase = kv_jstr_or(vmi, "status.phase", "");
	json_t *patch = json_object();
	json_t *status = kv_jobj(patch, "status");
	bool changed = false;
	if (st->phase && strcmp(st->phase, cur_phase)) {
		json_object_set_new(status, "phase", json_string(st->phase));
		char now[32];
		k8s_time_now(now);
		json_t *pts = json_deep_copy(kv_jget(vmi, "status.phaseTransitionTimestamps"));
		if (!json_is_array(pts)) {
			if (pts)
				json_decref(pts);
			pts = json_array();
		}
		json_array_append_new(pts, json_pack("{s:s,s:s}", "phase", st->phase,
						     "phaseTransitionTimestamp", now));
		json_object_set_new(status, "phaseTransitionTimestamps", pts);
		changed = true;
	}
	if (st->node && !kv_jstr_eq(st->node, kv_jstr(vmi, "status.nodeName"))) {
		json_object_set_new(status, "nodeName", json_string(st->node));
		changed = true;
	}
	if (st->reason && !kv_jstr_eq(st->reason, kv_jstr(vmi, "status.reason"))) {
		json_object_set_new(status, "reason", json_string(st->reason));
		changed = true;
	}
	json_t *cur = kv_jget(vmi, "status.conditions");
	if (st->conds && (cur ? !json_equal(st->conds, cur) : json_array_size(st->conds) > 0)) {
		json_object_set(status, "conditions", st->conds);
		changed = true;
	}
	if (changed) {
		_cleanup_free_ char *what =
		    kv_strdup_printf("update status of VMI %s (phase %s)", s->key,
				     st->phase ? st->phase : cur_phase);
		void *op = kvc_op(s, &(struct kvc_op_opts){ .what = what, .ignore_missing = true });
		if (op)
			kvc_op_start_failed(op, k8s_patch(s->c->client, &k8s_res_vmis,
							  kv_jstr(vmi, "metadata.namespace"),
							  kv_jstr(vmi, "metadata.name"), "status",
							  K8S_PATCH_MERGE, patch, kvc_op_done, op));
	}
	json_decref(patch);
}

static void emit_warnings(struct kvc *c, const json_t *obj, const json_t *warnings)
{
	size_t i;
	json_t *w;
	json_array_foreach (warnings, i, w)
		k8s_event(c->rec, obj, "Warning", kv_jstr_or(w, "reason", "Warning"), "%s",
			  kv_jstr_or(w, "message", ""));
}

struct prepared {
	json_t *warnings;
};

static void after_prepare(struct kvc_sync *s, const struct k8s_result *r, void *data)
{
	json_t *warnings = data;
	if (!r->err && r->body)
		emit_warnings(s->c, r->body, warnings);
	json_decref(warnings);
}

/* A VMI nobody prepared (created bare by a user): presets, defaults, finalizer. */
static void prepare_bare_vmi(struct kvc_sync *s, const json_t *vmi)
{
	_cleanup_json_t_ json_t *copy = json_deep_copy(vmi);
	json_t *warnings = json_array();
	_cleanup_err_ struct kv_err *err = NULL;
	if (!copy || !warnings || kvc_prepare_vmi(s->c, copy, warnings, &err) < 0) {
		kv_warn("%s: cannot prepare VMI: %s", s->key, kv_err_msg(err));
		if (warnings)
			json_decref(warnings);
		s->failed = true;
		return;
	}
	json_object_del(copy, "status");
	void *op = kvc_op(s, &(struct kvc_op_opts){ .what = "apply defaults to VMI",
						    .ignore_missing = true,
						    .after = after_prepare,
						    .data = warnings });
	if (!op) {
		json_decref(warnings);
		return;
	}
	kvc_op_start_failed(
	    op, k8s_update(s->c->client, &k8s_res_vmis, kv_jstr(vmi, "metadata.namespace"),
			   kv_jstr(vmi, "metadata.name"), NULL, copy, kvc_op_done, op));
}

static void after_pod_create(struct kvc_sync *s, const struct k8s_result *r, void *data)
{
	if (r->err && r->err != -EEXIST) {
		json_t *vmi = k8s_informer_get_key(s->c->vmis, s->key);
		if (vmi && !kv_jstr(vmi, "status.phase")) {
			struct vmi_status st = { .phase = "Pending" };
			write_status(s, vmi, &st);
		}
		if (vmi)
			json_decref(vmi);
		return;
	}
	if (r->err)
		return;
	s->c->pods_created++;
	json_t *seen = json_object_get(s->c->vmi_seen, s->key);
	if (json_is_integer(seen)) {
		double dt = (double)(kv_now_ns() - (uint64_t)json_integer_value(seen)) / 1e9;
		kvc_latency_observe(&s->c->vmi_to_pod, dt);
		json_object_del(s->c->vmi_seen, s->key);
	}
}

static void remove_finalizer(struct kvc_sync *s, const json_t *vmi)
{
	/* JSON patch with a test: only remove it from the list we looked at. */
	json_t *fin = kv_jget(vmi, "metadata.finalizers");
	json_t *keep = json_array();
	size_t i;
	json_t *f;
	json_array_foreach (fin, i, f)
		if (!kv_jstr_eq(json_string_value(f), KV_VMI_FINALIZER))
			json_array_append(keep, f);
	_cleanup_json_t_ json_t *patch =
	    json_pack("[{s:s,s:s,s:O},{s:s,s:s,s:o}]", "op", "test", "path", "/metadata/finalizers",
		      "value", fin, "op", "replace", "path", "/metadata/finalizers", "value", keep);
	void *op = kvc_op(
	    s, &(struct kvc_op_opts){ .what = "remove the VMI finalizer", .ignore_missing = true });
	if (op)
		kvc_op_start_failed(op, k8s_patch(s->c->client, &k8s_res_vmis,
						  kv_jstr(vmi, "metadata.namespace"),
						  kv_jstr(vmi, "metadata.name"), NULL,
						  K8S_PATCH_JSON, patch, kvc_op_done, op));
}

static void delete_pod(struct kvc_sync *s, const json_t *vmi, const json_t *pod)
{
	_cleanup_free_ char *what = kv_strdup_printf("Deleted virtual machine pod %s",
						     kv_jstr_or(pod, "metadata.name", ""));
	kvc_delete_with_event(s, vmi, &k8s_res_pods, pod, what);
}

static void create_pod(struct kvc_sync *s, const json_t *vmi)
{
	_cleanup_json_t_ json_t *pod = NULL;
	_cleanup_err_ struct kv_err *err = NULL;
	if (kvc_render_pod(vmi, &s->c->pod, &pod, &err) < 0) {
		k8s_event(s->c->rec, vmi, "Warning", "FailedCreate", "cannot render the pod: %s",
			  kv_err_msg(err));
		s->failed = true;
		return;
	}
	_cleanup_free_ char *what = kv_strdup_printf("Created virtual machine pod %s",
						     kv_jstr_or(pod, "metadata.name", ""));
	void *op = kvc_op(s, &(struct kvc_op_opts){ .event_obj = vmi,
						    .ok_reason = "SuccessfulCreate",
						    .fail_reason = "FailedCreate",
						    .what = what,
						    .ignore_exists = true,
						    .after = after_pod_create });
	if (op)
		kvc_op_start_failed(op, k8s_create(s->c->client, &k8s_res_pods,
						   kv_jstr(vmi, "metadata.namespace"), pod,
						   kvc_op_done, op));
}

void kvc_vmi_sync(void *ud, struct k8s_queue *q, const char *key)
{
	struct kvc *c = ud;
	/* Declared before any goto: a cleanup variable must never be jumped over. */
	_cleanup_err_ struct kv_err *verr = NULL;
	struct kvc_sync *s = kvc_sync_begin(c, q, KVC_VMI, key);
	if (!s)
		return;
	json_t *vmi = k8s_informer_get_key(c->vmis, key);
	json_t *pod = NULL;
	if (!vmi) {
		json_object_del(c->vmi_seen, key);
		kvc_sync_end(s);
		return;
	}
	const char *name = kv_jstr_or(vmi, "metadata.name", "");
	const char *uid = kv_jstr_or(vmi, "metadata.uid", "");
	const char *ns = kv_jstr(vmi, "metadata.namespace");
	_cleanup_free_ char *pod_name = kvc_pod_name(name, uid);
	pod = pod_name ? k8s_informer_get(c->pods, ns, pod_name) : NULL;
	/* Label keys contain dots: read them directly, not by dotted path. */
	if (pod && !kv_jstr_eq(json_string_value(json_object_get(kv_jget(pod, "metadata.labels"),
								 "kubevirt.io/created-by")),
			       uid)) {
		json_decref(pod);
		pod = NULL;
	}
	const char *phase = kv_jstr_or(vmi, "status.phase", "");
	bool deleting = kv_jget(vmi, "metadata.deletionTimestamp") != NULL;

	if (deleting) {
		if (pod && !kv_jget(pod, "metadata.deletionTimestamp"))
			delete_pod(s, vmi, pod);
		else if (!pod && has_finalizer(vmi, KV_VMI_FINALIZER))
			remove_finalizer(s, vmi);
		goto out;
	}
	if (!has_finalizer(vmi, KV_VMI_FINALIZER) && !*phase) {
		prepare_bare_vmi(s, vmi);
		goto out;
	}

	struct vmi_status st = { 0 };
	st.conds = json_deep_copy(kv_jget(vmi, "status.conditions"));
	if (!json_is_array(st.conds)) {
		if (st.conds)
			json_decref(st.conds);
		st.conds = json_array();
	}
	if (kvc_phase_final(phase)) {
		json_decref(st.conds);
		goto out;
	}
	if (kv_vmi_validate(kv_jget(vmi, "spec"), &verr) < 0) {
		/* Invalid: Failed with a condition that says what to fix.  No pod. */
		set_condition(st.conds, "Synchronized", "False", "InvalidSpec", kv_err_msg(verr));
		st.phase = "Failed";
		st.reason = "InvalidSpec";
		if (strcmp(phase, "Failed"))
			k8s_event(c->rec, vmi, "Warning", "InvalidSpec", "the VMI cannot start: %s",
				  kv_err_msg(verr));
		write_status(s, vmi, &st);
		json_decref(st.conds);
		goto out;
	}
	drop_condition(st.conds, "Synchronized");
	const char *pod_phase = kv_jstr_or(pod, "status.phase", "");
	if (!pod) {
		if (!strcmp(phase, "Scheduling") || !strcmp(phase, "Scheduled") ||
		    !strcmp(phase, "Running")) {
			st.phase = "Failed";
			st.reason = "PodNotExists";
			k8s_event(c->rec, vmi, "Warning", "Stopped",
				  "the launcher pod disappeared; the VMI failed");
		} else {
			/* Pending is written only if the create fails: on success the pod's
			 * ADD event moves the VMI to Scheduling one write later. */
			create_pod(s, vmi);
		}
		set_condition(st.conds, "Ready", "False", "PodNotExists",
			      "the launcher pod does not exist (yet)");
	} else if (!strcmp(pod_phase, "Succeeded")) {
		st.phase = "Succeeded";
		set_condition(st.conds, "Ready", "False", "PodTerminating",
			      "the launcher pod ended");
		k8s_event(c->rec, vmi, "Normal", "Stopped", "the launcher pod %s succeeded",
			  pod_name);
	} else if (!strcmp(pod_phase, "Failed")) {
		st.phase = "Failed";
		st.reason = kv_jstr(pod, "status.reason");
		set_condition(st.conds, "Ready", "False", "PodTerminating",
			      "the launcher pod failed");
		k8s_event(c->rec, vmi, "Warning", "Stopped", "the launcher pod %s failed: %s",
			  pod_name, kv_jstr_or(pod, "status.message", "no message"));
	} else {
		const char *node = kv_jstr(pod, "spec.nodeName");
		json_t *ps = NULL;
		size_t i;
		json_t *pc;
		json_array_foreach (kv_jget(pod, "status.conditions"), i, pc)
			if (kv_jstr_eq(kv_jstr(pc, "type"), "PodScheduled"))
				ps = pc;
		if (ps && kv_jstr_eq(kv_jstr(ps, "status"), "False"))
			set_condition(st.conds, "PodScheduled", "False", kv_jstr(ps, "reason"),
				      kv_jstr(ps, "message"));
		else
			drop_condition(st.conds, "PodScheduled");
		if (!strcmp(phase, "Running")) {
			/* The handler owns Running; nothing to add. */
		} else if (node || !strcmp(pod_phase, "Running")) {
			st.phase = "Scheduled";
			st.node = node;
			if (strcmp(phase, "Scheduled"))
				k8s_event(c->rec, vmi, "Normal", "Scheduled",
					  "the launcher pod %s is scheduled on node %s", pod_name,
					  node ? node : "?");
		} else {
			st.phase = "Scheduling";
		}
		if (strcmp(phase, "Running"))
			set_condition(st.conds, "Ready", "False", "GuestNotRunning",
				      "the guest is not running yet");
	}
	write_status(s, vmi, &st);
	json_decref(st.conds);
out:
	if (pod)
		json_decref(pod);
	json_decref(vmi);
	kvc_sync_end(s);
}
