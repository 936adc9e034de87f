/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VirtualMachineInstance model: schema check, defaults, presets and
 * validation of a VMI, shared by kvirt-controller (which renders the
 * launcher pod from it) and kvirt-launcher (which reads the same VMI from
 * the downward-API file or a YAML file on a laptop).  Pure functions over
 * json_t; no Kubernetes client, no libcurl.
 *
 * Field recognition and enum values come from the generated API field table
 * (api/kubevirt-v1.yaml, docs/api.md), the same definition the CRDs are made
 * of, so the model and the API server cannot disagree about what a field is.
 */
#ifndef KVIRT_VMI_H
#define KVIRT_VMI_H

#include <stdbool.h>
#include <stdint.h>

#include "kvirt/err.h"
#include "kvirt/json.h"

/* KubeVirt's DefaultGracePeriodSeconds. */
#define KV_VMI_DEFAULT_GRACE_SECONDS 30
/* The finalizer KubeVirt's VMI mutator sets; kvirt's VMI controller owns it. */
#define KV_VMI_FINALIZER "kubevirt.io/foregroundDeleteVirtualMachine"
/* Annotation recording that a preset was applied (value: its API version). */
#define KV_PRESET_ANNOTATION_PREFIX "virtualmachinepreset.kubevirt.io/"

/*
 * Kubernetes resource quantities ("64M", "1Gi", "500m", "2", "1.5Gi", 3):
 * the value times 1000, rounded up (so CPU "500m" is 500 and memory "64M"
 * is 64000000000).  `v` may be a JSON string or integer.  -EINVAL/-ERANGE.
 */
int kv_quantity_milli(const json_t *v, uint64_t *milli);
int kv_quantity_parse_milli(const char *s, uint64_t *milli);
/* Whole units, rounded up (bytes for memory). */
int kv_quantity_units(const json_t *v, uint64_t *units);

/*
 * Check `obj` against the schema of `kind` below `path` ("spec" of a VMI):
 * unknown fields, wrong JSON types and enum values are errors naming the
 * field.  Free-form fields (affinity, tolerations, …) are not descended into.
 */
int kv_api_check(const char *kind, const char *path, const json_t *obj, struct kv_err **err);

/* Warnings the defaults/presets raise (e.g. a sata disk served as virtio). */
typedef void (*kv_vmi_warn_fn)(void *userdata, const char *reason, const char *message);

/*
 * KubeVirt's admission defaults, in place on a VMI spec:
 * memory.guest from resources.requests.memory (else limits.memory); CPU
 * topology 1×1×1 (or sockets from the CPU request/limit) when none is
 * given; disks without disk/cdrom/lun get `disk: {}`; every bus becomes
 * virtio (a warning for sata/scsi/usb: kvirt's VMM has only virtio);
 * volumes without a disk get one; interface `default` with bridge binding
 * on the pod network when there are no interfaces and no networks (unless
 * autoattachPodInterface is false); interface model virtio;
 * terminationGracePeriodSeconds 30.  Idempotent.
 */
int kv_vmi_apply_defaults(json_t *spec, kv_vmi_warn_fn warn, void *userdata, struct kv_err **err);

/*
 * Semantic validation of a defaulted VMI spec (KubeVirt's webhook rules):
 * every disk names a volume and every volume is used by exactly one disk;
 * one of disk/cdrom/lun per disk; exactly one source per volume; memory
 * given and > 0 (and guest ≤ limit); CPU topology ≥ 1 and ≤ 512 vCPUs;
 * interfaces and networks match by name, one binding per interface, at most
 * one pod network.  The message says what to fix.
 */
int kv_vmi_validate(const json_t *spec, struct kv_err **err);

/* Schema check + defaults + validation of a whole VMI document (launcher). */
int kv_vmi_load(json_t *vmi, kv_vmi_warn_fn warn, void *userdata, struct kv_err **err);

/* The resources the launcher pod needs, from a defaulted spec. */
struct kv_vmi_resources {
	uint64_t guest_memory;		  /* bytes */
	uint64_t memory_limit;		  /* bytes, 0 = none */
	unsigned vcpus;			  /* sockets × cores × threads */
	unsigned sockets, cores, threads; /* spec.domain.cpu (defaulted: 1 when unset) */
	uint64_t cpu_request_mc;	  /* millicores from resources.requests.cpu, 0 = unset */
	uint64_t cpu_limit_mc;		  /* 0 = unset */
	long long grace_seconds;
};
int kv_vmi_resources(const json_t *spec, struct kv_vmi_resources *out, struct kv_err **err);

/*
 * Label selectors (matchLabels + matchExpressions with In, NotIn, Exists,
 * DoesNotExist).  Returns 1 on match, 0 on no match, -EINVAL (with err) for
 * a malformed selector.  An empty selector matches everything.
 */
int kv_label_selector_matches(const json_t *selector, const json_t *labels, struct kv_err **err);
/* "a=b,c in (d,e)" form of a selector (for status.labelSelector); malloc'd. */
char *kv_label_selector_string(const json_t *selector);

/*
 * Merge every preset (VirtualMachineInstancePreset objects) whose selector
 * matches the VMI's labels into vmi.spec.domain.  Values the VMI sets win;
 * a preset that would change one is reported through `warn` (reason
 * "PresetConflict") and that value is skipped.  Each applied preset is
 * recorded as annotation virtualmachinepreset.kubevirt.io/<name>.  Returns
 * the number applied.
 */
int kv_vmi_apply_presets(json_t *vmi, const json_t *presets, kv_vmi_warn_fn warn, void *userdata,
			 struct kv_err **err);

#endif
