/* SPDX-License-Identifier: Apache-2.0 */
/* Pure status helpers: printableStatus precedence, run strategy, backoff. */
#include <string.h>

#include "controller.h"

bool kvc_phase_final(const char *phase)
{
	return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

json_t *kvc_condition(const json_t *obj, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach (kv_jget(obj, "status.conditions"), i, c)
		if (kv_jstr_eq(kv_jstr(c, "type"), type))
			return c;
	return NULL;
}

const char *kvc_run_strategy(const json_t *vm)
{
	const char *rs = kv_jstr(vm, "spec.runStrategy");
	if (rs)
		return rs;
	return kv_jbool(vm, "spec.running", false) ? "Always" : "Halted";
}

unsigned kvc_crashloop_backoff_s(long long n)
{
	/* KubeVirt: max(10, 300/30) * n² (+ jitter), capped at 300 s. */
	if (n <= 0)
		return 0;
	if (n > 100)
		return 300;
	unsigned long long d = 10ull * (unsigned long long)(n * n);
	return d > 300 ? 300 : (unsigned)d;
}

const char *kvc_printable_status(const struct kvc_vm_view *v)
{
	const char *phase = v->vmi_phase ? v->vmi_phase : "";
	bool final = kvc_phase_final(phase);
	if (v->vm_deleting)
		return "Terminating";
	if (v->vmi_exists && !final && (v->vmi_deleting || v->delete_expected))
		return "Stopping";
	if (v->vmi_exists && !strcmp(phase, "Running"))
		return v->vmi_paused ? "Paused" : "Running";
	if (v->vmi_exists && !final && v->vmi_unschedulable)
		return "ErrorUnschedulable";
	if (v->vmi_exists && !final && v->sync_reason &&
	    (!strcmp(v->sync_reason, "ErrImagePull") ||
	     !strcmp(v->sync_reason, "ImagePullBackOff")))
		return v->sync_reason;
	bool starting =
	    (v->vmi_exists && (!*phase || !strcmp(phase, "Pending") ||
			       !strcmp(phase, "Scheduling") || !strcmp(phase, "Scheduled"))) ||
	    (!v->vmi_exists && v->create_expected);
	if (starting)
		return "Starting";
	const char *rs = v->run_strategy ? v->run_strategy : "";
	bool restarts =
	    !strcmp(rs, "Always") || !strcmp(rs, "RerunOnFailure") || !strcmp(rs, "Once");
	if ((!v->vmi_exists || final) && v->fail_count > 0 && restarts)
		return "CrashLoopBackOff";
	if (!v->vmi_exists || final)
		return "Stopped";
	return "Unknown";
}
