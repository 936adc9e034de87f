/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VM controller: the run strategy (and start/stop requests in
 * status.stateChangeRequests) decides whether the VM's VMI should exist;
 * crash-loop backoff; status (printableStatus, ready, created, conditions,
 * startFailure).  The VMI has the VM's name and a controller owner
 * reference, so the garbage collector removes it with the VM.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller.h"
#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "kvirt/vmi.h"

/* How long an expectation (we asked for a create/delete) masks the cache. */
#define EXPECT_NS (10ull * 1000000000ull)

static bool owned_by(const json_t *obj, const char *uid)
{
	size_t i;
	json_t *o;
	json_array_foreach (kv_jget(obj, "metadata.ownerReferences"), i, o)
		if (kv_jbool(o, "controller", false) && kv_jstr_eq(kv_jstr(o, "uid"), uid))
			return true;
	return false;
}

static void expect(struct kvc *c, const char *key, const char *what, const char *uid)
{
	json_object_set_new(c->vm_expect, key,
			    json_pack("{s:s,s:I,s:s?}", "what", what, "until",
				      (json_int_t)(kv_now_ns() + EXPECT_NS), "uid", uid));
}

/* "create"/"delete" if such an expectation is still pending. */
static const char *expected(struct kvc *c, const char *key)
{
	json_t *e = json_object_get(c->vm_expect, key);
	if (!e)
		return NULL;
	if ((uint64_t)kv_jint(e, "until", 0) < kv_now_ns()) {
		json_object_del(c->vm_expect, key);
		return NULL;
	}
	return kv_jstr(e, "what");
}

static void after_vmi_create(struct kvc_sync *s, const struct k8s_result *r, void *data)
{
	json_t *warnings = data;
	if (!r->err) {
		s->c->vmis_created++;
		size_t i;
		json_t *w;
		json_array_foreach (warnings, i, w)
			k8s_event(s->c->rec, r->body, "Warning", kv_jstr_or(w, "reason", "Warning"),
				  "%s", kv_jstr_or(w, "message", ""));
	} else if (r->err != -EEXIST) {
		json_object_del(s->c->vm_expect, s->key);
	}
	json_decref(warnings);
}

static json_t *vmi_from_vm(const json_t *vm)
{
	const char *name = kv_jstr(vm, "metadata.name");
	json_t *tmpl = kv_jget(vm, "spec.template");
	json_t *vmi =
	    json_pack("{s:s,s:s,s:{s:s,s:s?,s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},s:O?}", "apiVersion",
		      "kubevirt.io/v1", "kind", "VirtualMachineInstance", "metadata", "name", name,
		      "namespace", kv_jstr(vm, "metadata.namespace"), "ownerReferences",
		      "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachine", "name", name, "uid",
		      kv_jstr(vm, "metadata.uid"), "controller", 1, "blockOwnerDeletion", 1, "spec",
		      kv_jget(tmpl, "spec"));
	if (!vmi)
		return NULL;
	json_t *labels = json_deep_copy(kv_jget(tmpl, "metadata.labels"));
	if (!json_is_object(labels)) {
		if (labels)
			json_decref(labels);
		labels = json_object();
	}
	json_object_set_new(labels, "vm.kubevirt.io/name", json_string(name));
	kv_jset(vmi, "metadata.labels", labels);
	json_t *anns = json_deep_copy(kv_jget(tmpl, "metadata.annotations"));
	if (!json_is_object(anns)) {
		if (anns)
			json_decref(anns);
		anns = json_object();
	}
	char gen[32];
	snprintf(gen, sizeof(gen), "%lld", kv_jint(vm, "metadata.generation", 1));
	json_object_set_new(anns, "kubevirt.io/vm-generation", json_string(gen));
	kv_jset(vmi, "metadata.annotations", anns);
	if (!json_object_get(vmi, "spec"))
		kv_jset(vmi, "spec", json_object());
	return vmi;
}

static void start_vmi(struct kvc_sync *s, const json_t *vm)
{
	_cleanup_json_t_ json_t *vmi = vmi_from_vm(vm);
	json_t *warnings = json_array();
	_cleanup_err_ struct kv_err *err = NULL;
	if (!vmi || !warnings || kvc_prepare_vmi(s->c, vmi, warnings, &err) < 0) {
		/* Defaults that cannot apply (e.g. no domain): the VMI controller
		 * reports what is wrong once the VMI exists. */
		kv_debug("%s: defaults not applied: %s", s->key, kv_err_msg(err));
	}
	expect(s->c, s->key, "create", NULL);
	_cleanup_free_ char *what = kv_strdup_printf(
	    "Started the virtual machine by creating the new virtual machine instance %s",
	    kv_jstr_or(vm, "metadata.name", ""));
	void *op = kvc_op(s, &(struct kvc_op_opts){ .event_obj = vm,
						    .ok_reason = "SuccessfulCreate",
						    .fail_reason = "FailedCreate",
						    .what = what,
						    .ignore_exists = true,
						    .after = after_vmi_create,
						    .data = warnings });
	if (!op) {
		if (warnings)
			json_decref(warnings);
		return;
	}
	kvc_op_start_failed(op,
			    k8s_create(s->c->client, &k8s_res_vmis,
				       kv_jstr(vm, "metadata.namespace"), vmi, kvc_op_done, op));
}

static void stop_vmi(struct kvc_sync *s, const json_t *vm, const json_t *vmi)
{
	expect(s->c, s->key, "delete", kv_jstr(vmi, "metadata.uid"));
	s->c->vmis_deleted++;
	_cleanup_free_ char *what = kv_strdup_printf(
	    "Stopped the virtual machine by deleting the virtual machine instance %s",
	    kv_jstr_or(vmi, "metadata.uid", ""));
	kvc_delete_with_event(s, vm, &k8s_res_vmis, vmi, what);
}

static void patch_spec_run_strategy(struct kvc_sync *s, const json_t *vm, const char *strategy)
{
	_cleanup_json_t_ json_t *patch = NULL;
	if (kv_jget(vm, "spec.running"))
		patch = json_pack("{s:{s:b}}", "spec", "running", !strcmp(strategy, "Always"));
	else
		patch = json_pack("{s:{s:s}}", "spec", "runStrategy", strategy);
	void *op = kvc_op(s, &(struct kvc_op_opts){ .what = "update the run strategy" });
	if (op)
		kvc_op_start_failed(op, k8s_patch(s->c->client, &k8s_res_vms,
						  kv_jstr(vm, "metadata.namespace"),
						  kv_jstr(vm, "metadata.name"), NULL,
						  K8S_PATCH_MERGE, patch, kvc_op_done, op));
}

static void set_cond(json_t *conds, const json_t *old, const char *type, const char *status,
		     const char *reason, const char *message)
{
	char now[32];
	k8s_time_now(now);
	json_t *prev = NULL;
	size_t i;
	json_t *c;
	json_array_foreach (old, i, c)
		if (kv_jstr_eq(kv_jstr(c, "type"), type))
			prev = c;
	const char *ltt = prev && kv_jstr_eq(kv_jstr(prev, "status"), status)
			      ? kv_jstr(prev, "lastTransitionTime")
			      : now;
	json_array_append_new(conds,
			      json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:n}", "type", type, "status",
					status, "lastTransitionTime", ltt, "reason", reason,
					"message", message, "lastProbeTime"));
}

void kvc_vm_sync(void *ud, struct k8s_queue *q, const char *key)
{
	struct kvc *c = ud;
	struct kvc_sync *s = kvc_sync_begin(c, q, KVC_VM, key);
	if (!s)
		return;
	json_t *vm = k8s_informer_get_key(c->vms, key);
	if (!vm) {
		json_object_del(c->vm_expect, key);
		kvc_sync_end(s);
		return;
	}
	const char *vm_uid = kv_jstr_or(vm, "metadata.uid", "");
	json_t *vmi = k8s_informer_get_key(c->vmis, key);
	bool foreign = vmi && !owned_by(vmi, vm_uid);
	if (foreign) {
		json_decref(vmi);
		vmi = NULL;
	}
	const char *exp = expected(c, key);
	if (exp && !strcmp(exp, "create") && vmi)
		json_object_del(c->vm_expect, key), exp = NULL;
	if (exp && !strcmp(exp, "delete") &&
	    (!vmi || !kv_jstr_eq(kv_jstr(vmi, "metadata.uid"),
				 kv_jstr(json_object_get(c->vm_expect, key), "uid"))))
		json_object_del(c->vm_expect, key), exp = NULL;

	const char *strategy = kvc_run_strategy(vm);
	const char *phase = kv_jstr_or(vmi, "status.phase", "");
	bool vmi_deleting = vmi && kv_jget(vmi, "metadata.deletionTimestamp");
	bool final = vmi && kvc_phase_final(phase);
	bool vm_deleting = kv_jget(vm, "metadata.deletionTimestamp") != NULL;

	/* startFailure bookkeeping (crash-loop backoff). */
	json_t *sf = json_deep_copy(kv_jget(vm, "status.startFailure"));
	long long fails = kv_jint(sf, "consecutiveFailCount", 0);
	bool restarts = !strcmp(strategy, "Always") || !strcmp(strategy, "RerunOnFailure");
	if (vmi && !strcmp(phase, "Failed") && restarts &&
	    !kv_jstr_eq(kv_jstr(sf, "lastFailedVMIUID"), kv_jstr(vmi, "metadata.uid"))) {
		fails++;
		unsigned delay = kvc_crashloop_backoff_s(fails);
		delay += (unsigned)k8s_rand(delay / 2 + 1);
		if (delay > 300)
			delay = 300;
		time_t t = time(NULL) + delay;
		struct tm tm;
		gmtime_r(&t, &tm);
		char ts[32];
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (sf)
			json_decref(sf);
		sf = json_pack("{s:I,s:s,s:s}", "consecutiveFailCount", (json_int_t)fails,
			       "lastFailedVMIUID", kv_jstr(vmi, "metadata.uid"),
			       "retryAfterTimestamp", ts);
	} else if (vmi && (!strcmp(phase, "Running") || !strcmp(phase, "Succeeded")) && sf) {
		json_decref(sf);
		sf = NULL;
		fails = 0;
	}
	double retry_after = 0;
	if (sf)
		k8s_time_parse(kv_jstr(sf, "retryAfterTimestamp"), &retry_after);

	/* State change requests (start/stop/restart from the CLI). */
	json_t *reqs = json_deep_copy(kv_jget(vm, "status.stateChangeRequests"));
	if (!json_is_array(reqs)) {
		if (reqs)
			json_decref(reqs);
		reqs = json_array();
	}
	json_t *head = json_array_get(reqs, 0);
	const char *action = kv_jstr(head, "action");
	const char *req_uid = kv_jstr(head, "uid");
	bool want_start = false, want_stop = false, consume = false;
	if (action && !strcmp(action, "Stop")) {
		if (vmi && !vmi_deleting &&
		    (!req_uid || kv_jstr_eq(req_uid, kv_jstr(vmi, "metadata.uid"))))
			want_stop = true;
		else if (!vmi || (req_uid && !kv_jstr_eq(req_uid, kv_jstr(vmi, "metadata.uid"))))
			consume = true;
	} else if (action && !strcmp(action, "Start")) {
		if (!vmi) {
			want_start = true;
			consume = true;
		} else if (!final && !vmi_deleting) {
			consume = true;
		}
	}

	if (vm_deleting) {
		if (vmi && !vmi_deleting)
			stop_vmi(s, vm, vmi);
	} else if (want_stop) {
		stop_vmi(s, vm, vmi);
	} else if (want_start && !exp) {
		if (!strcmp(strategy, "Halted"))
			patch_spec_run_strategy(s, vm, "Always");
		else
			start_vmi(s, vm);
	} else if (!strcmp(strategy, "Always") || !strcmp(strategy, "RerunOnFailure")) {
		bool stop = final && (!strcmp(strategy, "Always") || !strcmp(phase, "Failed"));
		if (vmi && stop && !vmi_deleting && !exp) {
			stop_vmi(s, vm, vmi);
		} else if (!vmi && !exp && !foreign) {
			double now = (double)time(NULL);
			if (retry_after > now) {
				kvc_sync_requeue(s, (uint64_t)((retry_after - now) * 1000) + 100);
			} else {
				start_vmi(s, vm);
			}
		}
	} else if (!strcmp(strategy, "Once")) {
		if (!vmi && !exp && !foreign && !kv_jbool(vm, "status.created", false) &&
		    !kv_jget(vm, "status.printableStatus"))
			start_vmi(s, vm);
		else if (final)
			patch_spec_run_strategy(s, vm, "Halted");
	} else if (!strcmp(strategy, "Halted")) {
		if (vmi && !vmi_deleting && !exp)
			stop_vmi(s, vm, vmi);
	}
	/* Manual: only the requests above act. */
	if (consume)
		json_array_remove(reqs, 0);

	/* Status. */
	exp = expected(c, key);
	json_t *vmi_sync = kvc_condition(vmi, "Synchronized");
	json_t *sched = kvc_condition(vmi, "PodScheduled");
	struct kvc_vm_view view = {
		.vm_deleting = vm_deleting,
		.vmi_exists = vmi != NULL,
		.vmi_deleting = vmi_deleting,
		.vmi_phase = phase,
		.vmi_paused = kv_jstr_eq(kv_jstr(kvc_condition(vmi, "Paused"), "status"), "True"),
		.vmi_unschedulable = sched && kv_jstr_eq(kv_jstr(sched, "status"), "False") &&
				     kv_jstr_eq(kv_jstr(sched, "reason"), "Unschedulable"),
		.sync_reason = vmi_sync && kv_jstr_eq(kv_jstr(vmi_sync, "status"), "False")
				   ? kv_jstr(vmi_sync, "reason")
				   : NULL,
		.create_expected = exp && !strcmp(exp, "create"),
		.delete_expected = exp && !strcmp(exp, "delete"),
		.fail_count = fails,
		.run_strategy = strategy,
	};
	const char *printable = kvc_printable_status(&view);
	json_t *ready_cond = kvc_condition(vmi, "Ready");
	bool ready = vmi && kv_jstr_eq(kv_jstr(ready_cond, "status"), "True");
	json_t *old_conds = kv_jget(vm, "status.conditions");
	json_t *conds = json_array();
	if (ready)
		set_cond(conds, old_conds, "Ready", "True", NULL, NULL);
	else
		set_cond(conds, old_conds, "Ready", "False",
			 vmi ? kv_jstr_or(ready_cond, "reason", "NotReady") : "VMINotExists",
			 vmi ? kv_jstr_or(ready_cond, "message", "the VMI is not ready")
			     : "the VMI does not exist");
	if (foreign)
		set_cond(
		    conds, old_conds, "Failure", "True", "VMIExists",
		    "a VirtualMachineInstance with this name exists and is not owned by this VM");
	else if (vmi && view.sync_reason)
		set_cond(conds, old_conds, "Failure", "True", view.sync_reason,
			 kv_jstr(vmi_sync, "message"));
	json_t *status =
	    json_pack("{s:b,s:b,s:s,s:o,s:s,s:I}", "created", vmi != NULL, "ready", ready,
		      "printableStatus", printable, "conditions", conds, "runStrategy", strategy,
		      "observedGeneration", (json_int_t)kv_jint(vm, "metadata.generation", 1));
	json_object_set_new(status, "startFailure", sf ? sf : json_null());
	json_object_set_new(status, "stateChangeRequests",
			    json_array_size(reqs) ? reqs : json_null());
	if (!json_array_size(reqs))
		json_decref(reqs);
	/* Compare only what we write (null = absent). */
	bool changed = false;
	const char *k;
	json_t *v;
	json_object_foreach (status, k, v) {
		json_t *cur = kv_jget(kv_jget(vm, "status"), k);
		if (json_is_null(v) ? cur != NULL : !cur || !json_equal(cur, v))
			changed = true;
	}
	/* While our VMI create is in flight, its ADD event brings us back within
	 * milliseconds: one status write then instead of two. */
	if (changed && view.create_expected && !vmi)
		changed = false;
	if (changed) {
		_cleanup_json_t_ json_t *patch = json_pack("{s:o}", "status", status);
		_cleanup_free_ char *what = kv_strdup_printf("update VM status (%s)", printable);
		void *op = kvc_op(s, &(struct kvc_op_opts){ .what = what, .ignore_missing = true });
		if (op)
			kvc_op_start_failed(op, k8s_patch(c->client, &k8s_res_vms,
							  kv_jstr(vm, "metadata.namespace"),
							  kv_jstr(vm, "metadata.name"), "status",
							  K8S_PATCH_MERGE, patch, kvc_op_done, op));
	} else {
		json_decref(status);
	}
	if (exp)
		kvc_sync_requeue(s, EXPECT_NS / 1000000 + 100);
	if (vmi)
		json_decref(vmi);
	json_decref(vm);
	kvc_sync_end(s);
}
