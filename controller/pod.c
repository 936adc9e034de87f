/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launcher pod a VMI runs in (docs/controller.md has the why of each
 * field).  A pure function of the VMI and the options, so it is unit-tested
 * without a cluster.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "kvirt/cleanup.h"
#include "kvirt/util.h"
#include "kvirt/vmi.h"

/* Kubernetes' own suffix alphabet (no vowels, no look-alikes). */
static const char suffix_chars[] = "bcdfghjklmnpqrstvwxz2456789";

char *kvc_pod_name(const char *vmi_name, const char *vmi_uid)
{
	/* Derived from the UID, not random: a retried create after a lost reply
	 * or a stale cache hits 409 AlreadyExists instead of making a second pod. */
	uint64_t h = 1469598103934665603ull;
	for (const char *p = vmi_uid ? vmi_uid : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	char sfx[6];
	for (int i = 0; i < 5; i++) {
		sfx[i] = suffix_chars[h % (sizeof(suffix_chars) - 1)];
		h /= sizeof(suffix_chars) - 1;
	}
	sfx[5] = '\0';
	/* Pod names are DNS subdomains (≤ 253): "virt-launcher-" + name + "-xxxxx". */
	int max = 253 - 14 - 6;
	return kv_strdup_printf("virt-launcher-%.*s-%s", max, vmi_name, sfx);
}

uint64_t kvc_pod_memory(uint64_t guest, uint64_t overhead)
{
	/* Fixed part plus 1/256 of the guest for KVM's per-page structures
	 * (memslot rmaps, dirty bitmaps, EPT/NPT tables) that grow with it. */
	return guest + overhead + guest / 256;
}

static json_t *copy_or_null(const json_t *v)
{
	return v ? json_deep_copy(v) : NULL;
}

/* Label values are ≤ 63 characters and end alphanumeric. */
static json_t *label_value(const char *s)
{
	size_t n = strnlen(s, 63);
	while (n && !((s[n - 1] >= 'a' && s[n - 1] <= 'z') ||
		      (s[n - 1] >= 'A' && s[n - 1] <= 'Z') || (s[n - 1] >= '0' && s[n - 1] <= '9')))
		n--;
	return json_stringn(s, n);
}

static char *quantity_bytes(uint64_t v)
{
	return kv_strdup_printf("%llu", (unsigned long long)v);
}

int kvc_render_pod(const json_t *vmi, const struct kvc_pod_opts *o, json_t **out,
		   struct kv_err **err)
{
	const char *name = kv_jstr(vmi, "metadata.name");
	const char *ns = kv_jstr(vmi, "metadata.namespace");
	const char *uid = kv_jstr(vmi, "metadata.uid");
	const json_t *spec = kv_jget(vmi, "spec");
	if (!name || !uid || !json_is_object(spec))
		return kv_err_set(err, EINVAL, "VMI without name, uid or spec");
	struct kv_vmi_resources res;
	int r = kv_vmi_resources(spec, &res, err);
	if (r < 0)
		return r;

	_cleanup_free_ char *pod_name = kvc_pod_name(name, uid);
	_cleanup_json_t_ json_t *doc =
	    json_pack("{s:s,s:s,s:{s:s,s:s?,s:O?,s:s}}", "apiVersion", "kubevirt.io/v1", "kind",
		      "VirtualMachineInstance", "metadata", "name", name, "namespace", ns, "labels",
		      kv_jget(vmi, "metadata.labels"), "uid", uid);
	if (!pod_name || !doc || json_object_set(doc, "spec", (json_t *)(uintptr_t)spec) < 0)
		return kv_err_set(err, ENOMEM, "out of memory");
	_cleanup_free_ char *doc_text = kv_json_dumps(doc);

	_cleanup_json_t_ json_t *labels = json_object();
	const char *k;
	json_t *v;
	json_object_foreach (kv_jget(vmi, "metadata.labels"), k, v)
		json_object_set(labels, k, v);
	json_object_set_new(labels, "kubevirt.io", json_string("virt-launcher"));
	json_object_set_new(labels, "kubevirt.io/created-by", json_string(uid));
	json_object_set_new(labels, "vm.kubevirt.io/name", label_value(name));

	char mem_req[32], cpu_req[32];
	snprintf(mem_req, sizeof(mem_req), "%llu",
		 (unsigned long long)kvc_pod_memory(res.guest_memory, o->overhead));
	/* KubeVirt's default: 100m per vCPU (cpuAllocationRatio 10) unless the VMI asks. */
	uint64_t mc = res.cpu_request_mc ? res.cpu_request_mc : 100ull * res.vcpus;
	snprintf(cpu_req, sizeof(cpu_req), "%llum", (unsigned long long)mc);
	_cleanup_json_t_ json_t *limits =
	    json_pack("{s:s,s:s}", "devices.kubevirt.io/kvm", "1", "devices.kubevirt.io/tun", "1");
	if (res.memory_limit) {
		_cleanup_free_ char *ml =
		    quantity_bytes(kvc_pod_memory(res.memory_limit, o->overhead));
		json_object_set_new(limits, "memory", json_string(ml ? ml : "0"));
	}
	if (res.cpu_limit_mc) {
		char cl[32];
		snprintf(cl, sizeof(cl), "%llum", (unsigned long long)res.cpu_limit_mc);
		json_object_set_new(limits, "cpu", json_string(cl));
	}
	const char *hostname = kv_jstr(spec, "hostname");
	_cleanup_free_ char *fieldpath =
	    kv_strdup_printf("metadata.annotations['%s']", KVC_SPEC_ANNOTATION);
	_cleanup_free_ char *downward_file =
	    kv_strdup_printf("%s/%s", KVC_DOWNWARD_DIR, KVC_DOWNWARD_FILE);
	if (!doc_text || !labels || !limits || !fieldpath || !downward_file)
		return kv_err_set(err, ENOMEM, "out of memory");

	json_t *pod = json_pack(
	    "{s:s,s:s,"
	    " s:{s:s,s:s?,s:O,"
	    "    s:{s:s,s:s,s:s},"
	    "    s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},"
	    " s:{s:s,s:I,s:b,s:b,s:s,"
	    "    s:[{s:s,s:s,s:s,"
	    "        s:[s,s,s,s],"
	    "        s:[{s:s,s:{s:{s:s}}},{s:s,s:{s:{s:s}}}],"
	    "        s:{s:{s:s,s:s},s:O},"
	    "        s:{s:b,s:b,s:I,s:{s:[s],s:[s,s,s]}},"
	    "        s:[{s:s,s:s},{s:s,s:s,s:b},{s:s,s:s}]}],"
	    "    s:[{s:s,s:{}},{s:s,s:{s:[{s:s,s:{s:s}}]}},{s:s,s:{}}]}}",
	    "apiVersion", "v1", "kind", "Pod",
	    /* metadata */
	    "metadata", "name", pod_name, "namespace", ns, "labels", labels, "annotations",
	    "kubevirt.io/domain", name, "kubectl.kubernetes.io/default-container", "compute",
	    KVC_SPEC_ANNOTATION, doc_text, "ownerReferences", "apiVersion", "kubevirt.io/v1",
	    "kind", "VirtualMachineInstance", "name", name, "uid", uid, "controller", 1,
	    "blockOwnerDeletion", 1,
	    /* spec */
	    "spec", "restartPolicy", "Never", "terminationGracePeriodSeconds",
	    (json_int_t)(res.grace_seconds + KVC_GRACE_MARGIN), "automountServiceAccountToken", 0,
	    "enableServiceLinks", 0, "hostname", hostname ? hostname : name,
	    /* the compute container */
	    "containers", "name", "compute", "image", o->image, "imagePullPolicy", "IfNotPresent",
	    "command", "/usr/bin/kvirt-launcher", "run", "--downward", downward_file, "env", "name",
	    "POD_NAME", "valueFrom", "fieldRef", "fieldPath", "metadata.name", "name",
	    "POD_NAMESPACE", "valueFrom", "fieldRef", "fieldPath", "metadata.namespace",
	    "resources", "requests", "memory", mem_req, "cpu", cpu_req, "limits", limits,
	    "securityContext", "privileged", 0, "allowPrivilegeEscalation", 0, "runAsUser",
	    (json_int_t)0, "capabilities", "drop", "ALL", "add", "NET_ADMIN", "NET_RAW",
	    "NET_BIND_SERVICE", "volumeMounts", "name", "run", "mountPath", "/var/run/kvirt",
	    "name", "vmi-spec", "mountPath", KVC_DOWNWARD_DIR, "readOnly", 1, "name",
	    "ephemeral-disks", "mountPath", "/var/run/kvirt-ephemeral-disks",
	    /* volumes */
	    "volumes", "name", "run", "emptyDir", "name", "vmi-spec", "downwardAPI", "items",
	    "path", KVC_DOWNWARD_FILE, "fieldRef", "fieldPath", fieldpath, "name",
	    "ephemeral-disks", "emptyDir");
	if (!pod)
		return kv_err_set(err, ENOMEM, "cannot build the pod (out of memory)");
	/* The extended resources must be requested as well (requests == limits). */
	json_t *req = kv_jget(pod, "spec.containers");
	req = kv_jget(json_array_get(req, 0), "resources.requests");
	json_object_set_new(req, "devices.kubevirt.io/kvm", json_string("1"));
	json_object_set_new(req, "devices.kubevirt.io/tun", json_string("1"));
	json_t *pspec = json_object_get(pod, "spec");
	static const char *const copied[] = { "nodeSelector",	   "affinity",
					      "tolerations",	   "topologySpreadConstraints",
					      "priorityClassName", "schedulerName",
					      "dnsPolicy",	   "dnsConfig",
					      "subdomain" };
	for (size_t i = 0; i < KV_ARRAY_SIZE(copied); i++) {
		json_t *c = copy_or_null(json_object_get(spec, copied[i]));
		if (c)
			json_object_set_new(pspec, copied[i], c);
	}
	*out = pod;
	return 0;
}
