/* SPDX-License-Identifier: Apache-2.0 */
/* kvirt-controller: flags, wiring, and the event loop (docs/controller.md). */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller.h"
#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/util.h"

static void usage(FILE *f)
{
	fputs("usage: kvirt-controller [--kubeconfig PATH] [--namespace NS|all]\n"
	      "         [--metrics-addr 127.0.0.1:PORT] [--leader-elect] [--lease-name NAME]\n"
	      "         [--lease-namespace NS] [--lease-duration SECONDS] [--identity ID]\n"
	      "         [--launcher-image IMAGE] [--memory-overhead SIZE] [--workers N]\n"
	      "         [--resync SECONDS]\n",
	      f);
}

static char *key_of(const json_t *obj)
{
	return k8s_object_key(obj);
}

/* The owner (controller reference) of `kind` as "ns/name". */
static char *owner_key(const json_t *obj, const char *kind)
{
	size_t i;
	json_t *o;
	json_array_foreach (kv_jget(obj, "metadata.ownerReferences"), i, o)
		if (kv_jbool(o, "controller", false) && kv_jstr_eq(kv_jstr(o, "kind"), kind))
			return kv_strdup_printf("%s/%s", kv_jstr_or(obj, "metadata.namespace", ""),
						kv_jstr_or(o, "name", ""));
	return NULL;
}

static void enqueue(struct k8s_queue *q, char *key)
{
	if (key)
		k8s_queue_add(q, key);
	free(key);
}

static struct kvc ctl;

static void vm_add(void *ud, json_t *o)
{
	enqueue(ctl.vmq, key_of(o));
}
static void vm_upd(void *ud, json_t *old, json_t *o)
{
	enqueue(ctl.vmq, key_of(o));
}

static void vmi_changed(json_t *o)
{
	enqueue(ctl.vmiq, key_of(o));
	enqueue(ctl.vmq, owner_key(o, "VirtualMachine"));
	enqueue(ctl.rsq, owner_key(o, "VirtualMachineInstanceReplicaSet"));
}
static void vmi_changed_del(void *ud, json_t *o)
{
	vmi_changed(o);
}
static void vmi_add(void *ud, json_t *o)
{
	_cleanup_free_ char *key = key_of(o);
	if (key && !kv_jget(o, "status.phase") && json_object_size(ctl.vmi_seen) < 100000)
		json_object_set_new(ctl.vmi_seen, key, json_integer((json_int_t)kv_now_ns()));
	vmi_changed(o);
}
static void vmi_upd(void *ud, json_t *old, json_t *o)
{
	vmi_changed(o);
}

static void pod_changed(json_t *o)
{
	enqueue(ctl.vmiq, owner_key(o, "VirtualMachineInstance"));
}
static void pod_del(void *ud, json_t *o)
{
	pod_changed(o);
}
static void pod_add(void *ud, json_t *o)
{
	pod_changed(o);
}
static void pod_upd(void *ud, json_t *old, json_t *o)
{
	pod_changed(o);
}

static void rs_add(void *ud, json_t *o)
{
	enqueue(ctl.rsq, key_of(o));
}
static void rs_upd(void *ud, json_t *old, json_t *o)
{
	enqueue(ctl.rsq, key_of(o));
}

/* Pods: keep only what the VMI controller reads (the spec annotation is large). */
static void pod_transform(json_t *pod)
{
	static const char *const md_keep[] = { "name",
					       "namespace",
					       "uid",
					       "labels",
					       "ownerReferences",
					       "deletionTimestamp",
					       "resourceVersion",
					       "creationTimestamp",
					       NULL };
	json_t *md = json_object_get(pod, "metadata");
	json_t *nmd = json_object();
	for (const char *const *k = md_keep; *k; k++) {
		json_t *v = json_object_get(md, *k);
		if (v)
			json_object_set(nmd, *k, v);
	}
	json_t *spec = json_pack("{s:O?}", "nodeName", kv_jget(pod, "spec.nodeName"));
	json_t *st =
	    json_pack("{s:O?,s:O?,s:O?,s:O?}", "phase", kv_jget(pod, "status.phase"), "conditions",
		      kv_jget(pod, "status.conditions"), "reason", kv_jget(pod, "status.reason"),
		      "message", kv_jget(pod, "status.message"));
	json_object_set_new(pod, "metadata", nmd);
	json_object_set_new(pod, "spec", spec ? spec : json_object());
	json_object_set_new(pod, "status", st ? st : json_object());
	json_object_del(pod, "apiVersion");
}

static void set_paused(bool paused)
{
	k8s_queue_pause(ctl.vmq, paused);
	k8s_queue_pause(ctl.vmiq, paused);
	k8s_queue_pause(ctl.rsq, paused);
}

static bool workers_running;

/*
 * Work starts only when every cache is synced (and we lead): a VMI
 * reconciled before the pod cache is filled would look podless and be
 * failed -- client-go's WaitForCacheSync, as a loop hook.
 */
static void maybe_start_workers(struct k8s_loop *loop, void *data)
{
	if (workers_running || !ctl.leading)
		return;
	struct k8s_informer *infs[] = { ctl.vms, ctl.vmis, ctl.pods, ctl.rss, ctl.presets };
	for (size_t i = 0; i < KV_ARRAY_SIZE(infs); i++)
		if (!k8s_informer_synced(infs[i]))
			return;
	workers_running = true;
	kv_info("caches synced; reconciling");
	set_paused(false);
}

static void leader_started(void *ud)
{
	ctl.leading = true;
}

static void leader_stopped(void *ud)
{
	ctl.leading = false;
	workers_running = false;
	set_paused(true);
	/* As client-go does: a replica that lost the lease exits and restarts clean. */
	kv_error("lost leadership; exiting");
	k8s_loop_quit(ctl.loop, 1);
}

static void released(struct k8s_loop *loop, void *data)
{
	k8s_loop_quit(loop, 0);
}

/*
 * glibc keeps freed memory (a relist of thousands of objects, bursts of
 * replies) in its heap; giving it back every few seconds keeps RSS at what
 * the caches really use.
 */
static struct k8s_timer trim_timer;
static void trim(struct k8s_timer *t)
{
	malloc_trim(0);
	k8s_timer_start(ctl.loop, t, 5000);
}

static struct k8s_timer quit_timer;
static void quit_now(struct k8s_timer *t)
{
	k8s_loop_quit(ctl.loop, 0);
}

static void on_signal(struct k8s_loop *loop, void *data)
{
	kv_info("shutting down");
	set_paused(true);
	if (ctl.leader && ctl.leading) {
		/* Hand the lease over at once; do not wait more than 2 s for it. */
		quit_timer = (struct k8s_timer){ .fn = quit_now };
		k8s_timer_start(loop, &quit_timer, 2000);
		k8s_leader_release(ctl.leader, released, NULL);
		return;
	}
	k8s_loop_quit(loop, 0);
}

static int new_informer(const struct k8s_resource *res, const char *selector,
			void (*transform)(json_t *), unsigned resync,
			struct k8s_informer_handlers h, struct k8s_informer **out,
			struct kv_err **err)
{
	struct k8s_informer_opts o = {
		.res = res,
		.ns = ctl.ns,
		.label_selector = selector,
		.transform = transform ? transform : k8s_trim_managed_fields,
		.resync_s = resync,
		.h = h,
	};
	return k8s_informer_new(ctl.client, &o, out, err);
}

int main(int argc, char **argv)
{
	/* One malloc arena: libcurl's resolver threads would each get their own. */
	mallopt(M_ARENA_MAX, 1);
	kv_log_init("kvirt-controller");
	if (!getenv("KVIRT_LOG_FORMAT"))
		kv_log_set_format(KV_LOG_JSON);
	const char *kubeconfig = NULL, *ns = "all", *metrics_addr = NULL;
	const char *lease_name = "kvirt-controller", *lease_ns = getenv("POD_NAMESPACE");
	const char *identity = getenv("POD_NAME");
	bool elect = false;
	unsigned lease_duration = 15, workers = 32, resync = 0;
	struct kvc_pod_opts pod = { .image = KVC_LAUNCHER_IMAGE, .overhead = KVC_DEFAULT_OVERHEAD };
	static const struct option opts[] = {
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "metrics-addr", required_argument, NULL, 'm' },
		{ "leader-elect", no_argument, NULL, 'l' },
		{ "lease-name", required_argument, NULL, 'L' },
		{ "lease-namespace", required_argument, NULL, 'N' },
		{ "lease-duration", required_argument, NULL, 'd' },
		{ "identity", required_argument, NULL, 'i' },
		{ "launcher-image", required_argument, NULL, 'I' },
		{ "memory-overhead", required_argument, NULL, 'o' },
		{ "workers", required_argument, NULL, 'w' },
		{ "resync", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int ch;
	uint64_t u;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': kubeconfig = optarg; break;
		case 'n': ns = optarg; break;
		case 'm': metrics_addr = optarg; break;
		case 'l': elect = true; break;
		case 'L': lease_name = optarg; break;
		case 'N': lease_ns = optarg; break;
		case 'i': identity = optarg; break;
		case 'I': pod.image = optarg; break;
		case 'd':
		case 'w':
		case 'r':
			if (kv_parse_u64(optarg, &u) < 0 || u > 86400 || (ch != 'r' && !u)) {
				kv_error("--%s: \"%s\" is not a sensible number",
					 ch == 'd'   ? "lease-duration"
					 : ch == 'w' ? "workers"
						     : "resync",
					 optarg);
				return 2;
			}
			if (ch == 'd')
				lease_duration = (unsigned)u;
			else if (ch == 'w')
				workers = (unsigned)u;
			else
				resync = (unsigned)u;
			break;
		case 'o':
			if (kv_parse_size(optarg, &pod.overhead) < 0) {
				kv_error("--memory-overhead: \"%s\" is not a size (e.g. 32M)",
					 optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	_cleanup_err_ struct kv_err *err = NULL;
	_cleanup_(k8s_config_freep) struct k8s_config *cfg = NULL;
	if (k8s_config_load(kubeconfig, &cfg, &err) < 0) {
		kv_error("%s", kv_err_msg(err));
		return 1;
	}
	ctl.ns = strcmp(ns, "all") ? ns : NULL;
	ctl.pod = pod;
	ctl.vmi_seen = json_object();
	ctl.rs_expect = json_object();
	ctl.vm_expect = json_object();
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	_cleanup_free_ char *id =
	    identity ? strdup(identity)
		     : kv_strdup_printf("%s_%llx", host, (unsigned long long)k8s_rand(0));
	if (!lease_ns)
		lease_ns = "kvirt";
	int r = k8s_loop_new(&ctl.loop, &err);
	if (r >= 0)
		r = k8s_loop_on_signal(ctl.loop, on_signal, NULL, &err);
	if (r >= 0)
		r = k8s_client_new(ctl.loop, cfg, &ctl.client, &err);
	if (r >= 0 && k8s_recorder_new(ctl.client, "kvirt-controller", id, &ctl.rec) < 0)
		r = kv_err_set(&err, ENOMEM, "out of memory");
	if (r >= 0 && (k8s_queue_new(ctl.loop, "vm", workers, kvc_vm_sync, &ctl, &ctl.vmq) < 0 ||
		       k8s_queue_new(ctl.loop, "vmi", workers, kvc_vmi_sync, &ctl, &ctl.vmiq) < 0 ||
		       k8s_queue_new(ctl.loop, "vmirs", workers, kvc_rs_sync, &ctl, &ctl.rsq) < 0))
		r = kv_err_set(&err, ENOMEM, "out of memory");
	if (r >= 0)
		r = new_informer(&k8s_res_vms, NULL, NULL, resync,
				 (struct k8s_informer_handlers){ vm_add, vm_upd, NULL, NULL },
				 &ctl.vms, &err);
	if (r >= 0)
		r = new_informer(
		    &k8s_res_vmis, NULL, NULL, resync,
		    (struct k8s_informer_handlers){ vmi_add, vmi_upd, vmi_changed_del, NULL },
		    &ctl.vmis, &err);
	if (r >= 0)
		r = new_informer(&k8s_res_pods, "kubevirt.io=virt-launcher", pod_transform, 0,
				 (struct k8s_informer_handlers){ pod_add, pod_upd, pod_del, NULL },
				 &ctl.pods, &err);
	if (r >= 0)
		r = new_informer(&k8s_res_vmirs, NULL, NULL, resync,
				 (struct k8s_informer_handlers){ rs_add, rs_upd, NULL, NULL },
				 &ctl.rss, &err);
	if (r >= 0)
		r = new_informer(&k8s_res_vmipresets, NULL, NULL, 0,
				 (struct k8s_informer_handlers){ 0 }, &ctl.presets, &err);
	if (r >= 0 && metrics_addr)
		r = kvc_httpd_start(&ctl, metrics_addr, &err);
	if (r >= 0 && elect) {
		struct k8s_leader_opts lo = {
			.ns = lease_ns,
			.name = lease_name,
			.identity = id,
			.lease_duration_s = lease_duration,
			.started = leader_started,
			.stopped = leader_stopped,
		};
		r = k8s_leader_new(ctl.client, &lo, &ctl.leader, &err);
	}
	if (r < 0) {
		kv_error("%s", kv_err_msg(err));
		return 1;
	}
	trim_timer = (struct k8s_timer){ .fn = trim };
	k8s_timer_start(ctl.loop, &trim_timer, 5000);
	ctl.electing = elect;
	set_paused(true);
	k8s_loop_add_hook(ctl.loop, maybe_start_workers, NULL);
	k8s_informer_start(ctl.vms);
	k8s_informer_start(ctl.vmis);
	k8s_informer_start(ctl.pods);
	k8s_informer_start(ctl.rss);
	k8s_informer_start(ctl.presets);
	if (ctl.leader)
		k8s_leader_start(ctl.leader);
	else
		ctl.leading = true;
	kv_log_fields(KV_LOG_INFO,
		      (const char *const[]){ "server", cfg->server, "namespace", ns, "identity", id,
					     "leaderElect", elect ? "true" : "false", NULL },
		      "kvirt-controller started");
	r = k8s_loop_run(ctl.loop);
	k8s_informer_free(ctl.vms);
	k8s_informer_free(ctl.vmis);
	k8s_informer_free(ctl.pods);
	k8s_informer_free(ctl.rss);
	k8s_informer_free(ctl.presets);
	k8s_leader_free(ctl.leader);
	k8s_recorder_free(ctl.rec);
	k8s_queue_free(ctl.vmq);
	k8s_queue_free(ctl.vmiq);
	k8s_queue_free(ctl.rsq);
	k8s_client_free(ctl.client);
	k8s_loop_free(ctl.loop);
	json_decref(ctl.vmi_seen);
	json_decref(ctl.rs_expect);
	json_decref(ctl.vm_expect);
	return r;
}
