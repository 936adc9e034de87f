/* SPDX-License-Identifier: Apache-2.0 */
/* kvirt-controller internals shared by the reconcilers (docs/controller.md). */
#ifndef KVIRT_CONTROLLER_H
#define KVIRT_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "kvirt/err.h"
#include "kvirt/json.h"
#include "kvirt/k8s.h"

#define KVC_LAUNCHER_IMAGE  "kvirt/launcher:dev"
#define KVC_SPEC_ANNOTATION "kubevirt.io/vmi-spec"
#define KVC_DOWNWARD_DIR    "/var/run/kvirt/spec"
#define KVC_DOWNWARD_FILE   "vmi.json"
/* Fixed launcher-pod overhead: VMM ≤ 2 MiB + launcher ≤ 10 MiB, plus headroom (docs). */
#define KVC_DEFAULT_OVERHEAD (32ull << 20)
#define KVC_GRACE_MARGIN     15

/* ---- pure functions (unit-tested) ---- */

struct kvc_pod_opts {
	const char *image;
	uint64_t overhead; /* bytes added to guest memory */
};
/* Launcher pod name for a VMI: virt-launcher-<vmi>-<5 chars derived from its UID>. */
char *kvc_pod_name(const char *vmi_name, const char *vmi_uid);
/* Memory request of the launcher pod for a guest of `guest` bytes. */
uint64_t kvc_pod_memory(uint64_t guest, uint64_t overhead);
/* Render the launcher pod of a (defaulted, valid) VMI. */
int kvc_render_pod(const json_t *vmi, const struct kvc_pod_opts *o, json_t **out,
		   struct kv_err **err);

struct kvc_vm_view {
	bool vm_deleting;
	bool vmi_exists, vmi_deleting;
	const char *vmi_phase;	  /* "" when unknown */
	bool vmi_paused;	  /* Paused=True */
	bool vmi_unschedulable;	  /* PodScheduled=False, reason Unschedulable */
	const char *sync_reason;  /* Synchronized=False reason, or NULL */
	bool create_expected;	  /* we just asked for a VMI */
	bool delete_expected;	  /* we just asked to delete it */
	long long fail_count;	  /* status.startFailure.consecutiveFailCount */
	const char *run_strategy; /* effective */
};
/* KubeVirt's printableStatus precedence (facts file §1.3). */
const char *kvc_printable_status(const struct kvc_vm_view *v);
/* Effective run strategy: spec.runStrategy, else running true → Always, else Halted. */
const char *kvc_run_strategy(const json_t *vm);
/* KubeVirt's crash-loop backoff in seconds for the n-th consecutive failure (no jitter). */
unsigned kvc_crashloop_backoff_s(long long fail_count);
/* Condition of `type` in an object's status.conditions, or NULL. */
json_t *kvc_condition(const json_t *obj, const char *type);
bool kvc_phase_final(const char *phase);

/* ---- the running controller ---- */

struct kvc_latency {
	uint64_t buckets[16]; /* counts per upper bound in kvc_latency_bounds */
	uint64_t count;
	double sum;
};
extern const double kvc_latency_bounds[16];
void kvc_latency_observe(struct kvc_latency *h, double seconds);

struct kvc {
	struct k8s_loop *loop;
	struct k8s_client *client;
	struct k8s_recorder *rec;
	struct k8s_informer *vms, *vmis, *pods, *rss, *presets;
	struct k8s_queue *vmq, *vmiq, *rsq;
	struct k8s_leader *leader;
	const char *ns; /* NULL: all */
	struct kvc_pod_opts pod;
	bool leading, electing;
	json_t *vmi_seen;	   /* "ns/name" -> first-seen CLOCK_MONOTONIC ns (latency) */
	json_t *rs_expect;	   /* rs key -> {vmi name: deadline ns} */
	json_t *vm_expect;	   /* vm key -> "create"/"delete" expectation with deadline */
	uint64_t reconciles[3][2]; /* [vm, vmi, rs][ok, error] */
	uint64_t pods_created, vmis_created, vmis_deleted;
	struct kvc_latency vmi_to_pod;
};

enum kvc_kind { KVC_VM = 0, KVC_VMI = 1, KVC_RS = 2 };

/*
 * One reconcile of one key: API calls hang off it, the key is done when
 * the last one finished.  Errors make the queue retry with backoff.
 */
struct kvc_sync {
	struct kvc *c;
	struct k8s_queue *q;
	enum kvc_kind kind;
	char *key;
	int pending;
	bool failed;
	uint64_t requeue_ms;
};
/* NULL when out of memory; the key has then been marked done (failed) already. */
struct kvc_sync *kvc_sync_begin(struct kvc *c, struct k8s_queue *q, enum kvc_kind kind,
				const char *key);
/* Drop the reconcile's own reference (after issuing calls). */
void kvc_sync_end(struct kvc_sync *s);
void kvc_sync_requeue(struct kvc_sync *s, uint64_t ms);

/* An API call of a sync: ok/fail events, errors that are fine. */
struct kvc_op_opts {
	const json_t *event_obj; /* object the events are about (copied) */
	const char *ok_reason;	 /* Normal event on success */
	const char *fail_reason; /* Warning event on failure */
	const char *what;	 /* "create pod virt-launcher-…" for logs and events */
	bool ignore_exists;	 /* 409 AlreadyExists is success */
	bool ignore_missing;	 /* 404 is success */
	void (*after)(struct kvc_sync *s, const struct k8s_result *r, void *data);
	void *data;
};
/* Returns the callback pair for k8s_* calls; never fails (ENOMEM marks the sync failed). */
void *kvc_op(struct kvc_sync *s, const struct kvc_op_opts *o);
void kvc_op_done(void *ud, const struct k8s_result *r);
/* Mark the sync failed when a k8s_* call could not even be started. */
void kvc_op_start_failed(void *op, int rc);

/*
 * Delete `obj` (of resource `res`, matched by its UID so a replacement with
 * the same name survives), with a SuccessfulDelete/FailedDelete event on
 * `event_obj`; a missing object counts as deleted.
 */
void kvc_delete_with_event(struct kvc_sync *s, const json_t *event_obj,
			   const struct k8s_resource *res, const json_t *obj, const char *what);

/* Presets + defaults + finalizer on a new VMI (VM/VMIRS create path and bare VMIs). */
int kvc_prepare_vmi(struct kvc *c, json_t *vmi, json_t *warnings, struct kv_err **err);

void kvc_vm_sync(void *ud, struct k8s_queue *q, const char *key);
void kvc_vmi_sync(void *ud, struct k8s_queue *q, const char *key);
void kvc_rs_sync(void *ud, struct k8s_queue *q, const char *key);

/* Metrics/health HTTP server on the loop. */
int kvc_httpd_start(struct kvc *c, const char *addr, struct kv_err **err);

#endif
