/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvirt-controller and k8s/ pure functions: launcher pod rendering,
 * printableStatus precedence, run strategy, backoffs, the watch-stream
 * splitter and event decoder, API-server error mapping, kubeconfig parsing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "controller.h"
#include "kvirt/cleanup.h"
#include "kvirt/json.h"
#include "kvirt/k8s.h"
#include "kvirt/vmi.h"
#include "tap.h"

static json_t *J(const char *s)
{
	json_t *j = NULL;
	if (kv_json_loadb(s, strlen(s), "test", &j, NULL) < 0)
		exit(1);
	return j;
}

static void test_pod(void)
{
	_cleanup_json_t_ json_t *vmi = J(
	    "{\"metadata\":{\"name\":\"testvm\",\"namespace\":\"ns1\",\"uid\":\"u-1\",\"labels\":{"
	    "\"app\":\"x\"}},\"spec\":{\"terminationGracePeriodSeconds\":10,\"nodeSelector\":{"
	    "\"disk\":\"ssd\"},\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\"}],"
	    "\"domain\":{\"cpu\":{\"cores\":2,\"sockets\":1,\"threads\":1},\"memory\":{\"guest\":"
	    "\"1Gi\"}}}}");
	struct kvc_pod_opts o = { .image = "img:1", .overhead = 32ull << 20 };
	_cleanup_json_t_ json_t *pod = NULL;
	_cleanup_err_ struct kv_err *err = NULL;
	ok(kvc_render_pod(vmi, &o, &pod, &err) == 0, "render: %s", err ? err->msg : "ok");
	const char *name = kv_jstr(pod, "metadata.name");
	ok(name && !strncmp(name, "virt-launcher-testvm-", 21) && strlen(name) == 26,
	   "name virt-launcher-testvm-XXXXX (%s)", name ? name : "");
	_cleanup_free_ char *again = kvc_pod_name("testvm", "u-1");
	_cleanup_free_ char *other = kvc_pod_name("testvm", "u-2");
	is_str(again, name, "the suffix is stable for a UID");
	ok(strcmp(other, name) != 0, "and differs for another UID");
	json_t *labels = kv_jget(pod, "metadata.labels");
	is_str(json_string_value(json_object_get(labels, "kubevirt.io")), "virt-launcher", "label");
	is_str(json_string_value(json_object_get(labels, "kubevirt.io/created-by")), "u-1",
	       "created-by");
	is_str(json_string_value(json_object_get(labels, "app")), "x", "VMI labels carried");
	json_t *owner = json_array_get(kv_jget(pod, "metadata.ownerReferences"), 0);
	ok(kv_jbool(owner, "controller", false) && kv_jstr_eq(kv_jstr(owner, "uid"), "u-1"),
	   "controller owner reference");
	const char *ann = json_string_value(
	    json_object_get(kv_jget(pod, "metadata.annotations"), KVC_SPEC_ANNOTATION));
	_cleanup_json_t_ json_t *doc = ann ? J(ann) : NULL;
	ok(doc && json_equal(json_object_get(doc, "spec"), json_object_get(vmi, "spec")),
	   "annotation carries the spec");
	json_t *c = json_array_get(kv_jget(pod, "spec.containers"), 0);
	char want[32];
	snprintf(want, sizeof(want), "%llu",
		 (unsigned long long)((1ull << 30) + (32ull << 20) + (1ull << 30) / 256));
	is_str(kv_jstr(c, "resources.requests.memory"), want, "memory = guest + overhead");
	is_str(kv_jstr(c, "resources.requests.cpu"), "200m", "100m per vCPU");
	is_int(kv_jint(pod, "spec.terminationGracePeriodSeconds", 0), 25, "grace + 15");
	ok(!kv_jbool(pod, "spec.automountServiceAccountToken", true), "no SA token");
	is_str(kv_jstr(pod, "spec.restartPolicy"), "Never", "restartPolicy");
	is_str(kv_jstr(pod, "spec.nodeSelector.disk"), "ssd", "nodeSelector copied");
	ok(json_array_size(kv_jget(pod, "spec.tolerations")) == 1, "tolerations copied");
	is_str(kv_jstr(c, "image"), "img:1", "image from the options");
	ok(!kv_jbool(c, "securityContext.privileged", true), "not privileged");

	_cleanup_json_t_ json_t *bad = J("{\"metadata\":{\"name\":\"x\",\"uid\":\"u\"},\"spec\":{"
					 "\"domain\":{}}}");
	_cleanup_json_t_ json_t *p2 = NULL;
	kv_err_freep(&err);
	ok(kvc_render_pod(bad, &o, &p2, &err) < 0 && err, "no memory: error, not a pod");
	_cleanup_free_ char *long_name = kvc_pod_name(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "u");
	ok(strlen(long_name) <= 253, "pod names stay ≤ 253 characters");
}

static void test_printable(void)
{
	struct kvc_vm_view v = { .run_strategy = "Always" };
	is_str(kvc_printable_status(&v), "Stopped", "no VMI → Stopped");
	v.create_expected = true;
	is_str(kvc_printable_status(&v), "Starting", "create expected → Starting");
	v = (struct kvc_vm_view){ .run_strategy = "Always",
				  .vmi_exists = true,
				  .vmi_phase = "Scheduling" };
	is_str(kvc_printable_status(&v), "Starting", "Scheduling → Starting");
	v.vmi_unschedulable = true;
	is_str(kvc_printable_status(&v), "ErrorUnschedulable", "unschedulable beats Starting");
	v.vmi_deleting = true;
	is_str(kvc_printable_status(&v), "Stopping", "Stopping beats ErrorUnschedulable");
	v.vm_deleting = true;
	is_str(kvc_printable_status(&v), "Terminating", "Terminating beats everything");
	v = (struct kvc_vm_view){ .vmi_exists = true, .vmi_phase = "Running", .vmi_paused = true };
	is_str(kvc_printable_status(&v), "Paused", "Running + Paused → Paused");
	v.vmi_paused = false;
	is_str(kvc_printable_status(&v), "Running", "Running");
	v = (struct kvc_vm_view){ .vmi_exists = true,
				  .vmi_phase = "Failed",
				  .fail_count = 2,
				  .run_strategy = "RerunOnFailure" };
	is_str(kvc_printable_status(&v), "CrashLoopBackOff",
	       "failed with failures → CrashLoopBackOff");
	v.run_strategy = "Manual";
	is_str(kvc_printable_status(&v), "Stopped", "Manual never crash-loops");
	v = (struct kvc_vm_view){ .vmi_exists = true,
				  .vmi_phase = "Pending",
				  .sync_reason = "ErrImagePull" };
	is_str(kvc_printable_status(&v), "ErrImagePull", "ErrImagePull beats Starting");

	_cleanup_json_t_ json_t *vm1 = J("{\"spec\":{\"running\":true}}");
	_cleanup_json_t_ json_t *vm2 = J("{\"spec\":{}}");
	_cleanup_json_t_ json_t *vm3 = J("{\"spec\":{\"runStrategy\":\"Manual\"}}");
	is_str(kvc_run_strategy(vm1), "Always", "running: true → Always");
	is_str(kvc_run_strategy(vm2), "Halted", "nothing → Halted");
	is_str(kvc_run_strategy(vm3), "Manual", "runStrategy wins");
	is_int(kvc_crashloop_backoff_s(1), 10, "backoff 1 → 10 s");
	is_int(kvc_crashloop_backoff_s(3), 90, "backoff 3 → 90 s");
	is_int(kvc_crashloop_backoff_s(9), 300, "backoff capped at 300 s");
	is_int(k8s_backoff_ms(1, 5, 1000), 5, "queue backoff starts at the base");
	is_int(k8s_backoff_ms(4, 5, 1000), 40, "and doubles");
	is_int(k8s_backoff_ms(30, 5, 1000), 1000, "up to the cap");
}

struct collected {
	int n;
	char last[256];
};

static int collect(void *ud, const char *obj, size_t len)
{
	struct collected *c = ud;
	c->n++;
	snprintf(c->last, sizeof(c->last), "%.*s", (int)len, obj);
	return 0;
}

static void test_stream(void)
{
	const char *in = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a}\\\"{\","
			 "\"resourceVersion\":\"5\"}}}\n"
			 "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":"
			 "\"9\"}}}\n";
	size_t len = strlen(in);
	bool all = true;
	for (size_t split = 1; split < len; split++) {
		struct k8s_stream s;
		struct collected c = { 0 };
		k8s_stream_init(&s, 1 << 20);
		int r = k8s_stream_feed(&s, in, split, collect, &c, NULL);
		r |= k8s_stream_feed(&s, in + split, len - split, collect, &c, NULL);
		if (r < 0 || c.n != 2)
			all = false;
		k8s_stream_reset(&s);
	}
	ok(all, "two events at every split point, braces inside strings ignored");
	/* one byte at a time */
	struct k8s_stream s;
	struct collected c = { 0 };
	k8s_stream_init(&s, 1 << 20);
	for (size_t i = 0; i < len; i++)
		k8s_stream_feed(&s, in + i, 1, collect, &c, NULL);
	is_int(c.n, 2, "byte by byte");
	k8s_stream_reset(&s);
	_cleanup_err_ struct kv_err *err = NULL;
	ok(k8s_stream_feed(&s, "x{}", 3, collect, &c, &err) < 0 && err, "garbage between events");
	k8s_stream_reset(&s);
	kv_err_freep(&err);
	k8s_stream_init(&s, 16);
	ok(k8s_stream_feed(&s, "{\"aaaaaaaaaaaaaaaaaaaaaaaa", 26, collect, &c, &err) < 0 && err,
	   "an event over the limit is refused");
	k8s_stream_reset(&s);

	struct k8s_watch_event ev;
	const char *e1 = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
			 "\"resourceVersion\":\"5\"}}}";
	ok(k8s_watch_event_parse(e1, strlen(e1), &ev, NULL) == 0 && ev.type == K8S_EV_ADDED &&
	       !strcmp(ev.rv, "5"),
	   "ADDED parsed");
	k8s_watch_event_clear(&ev);
	const char *e2 = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
			 "\"message\":\"too old resource version\"}}";
	ok(k8s_watch_event_parse(e2, strlen(e2), &ev, NULL) == 0 && ev.type == K8S_EV_ERROR &&
	       ev.code == 410,
	   "ERROR 410 parsed");
	k8s_watch_event_clear(&ev);
	kv_err_freep(&err);
	const char *e3 = "{\"type\":\"ADDED\",\"object\":[]}";
	ok(k8s_watch_event_parse(e3, strlen(e3), &ev, &err) < 0 && err, "object not an object");
	kv_err_freep(&err);
	const char *e4 = "{\"type\":\"WHAT\",\"object\":{}}";
	ok(k8s_watch_event_parse(e4, strlen(e4), &ev, &err) < 0 && err, "unknown type");
	kv_err_freep(&err);
	const char *e5 = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}";
	ok(k8s_watch_event_parse(e5, strlen(e5), &ev, &err) < 0 && err, "no resourceVersion");
}

static void test_results(void)
{
	_cleanup_json_t_ json_t *st = J("{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":"
					"\"the object has been modified\",\"code\":409}");
	struct k8s_result r;
	k8s_result_from_response(&r, 409, st, NULL);
	ok(r.err == -ESTALE && !strcmp(r.message, "the object has been modified"),
	   "409 Conflict is -ESTALE with the Status message");
	_cleanup_json_t_ json_t *ae = J("{\"kind\":\"Status\",\"reason\":\"AlreadyExists\"}");
	k8s_result_from_response(&r, 409, ae, NULL);
	is_int(r.err, -EEXIST, "409 AlreadyExists is -EEXIST");
	k8s_result_from_response(&r, 404, NULL, NULL);
	is_int(r.err, -ENOENT, "404");
	k8s_result_from_response(&r, 410, NULL, NULL);
	is_int(r.err, -ENODATA, "410 Gone");
	k8s_result_from_response(&r, 0, NULL, "connection refused");
	ok(r.err == -ECONNREFUSED && !strcmp(r.message, "connection refused"), "transport error");
	k8s_result_from_response(&r, 200, NULL, NULL);
	is_int(r.err, 0, "200");
	_cleanup_free_ char *p = k8s_path(&k8s_res_vmis, "ns", "x", "status");
	is_str(p, "/apis/kubevirt.io/v1/namespaces/ns/virtualmachineinstances/x/status", "path");
	_cleanup_free_ char *p2 = k8s_path(&k8s_res_pods, NULL, NULL, NULL);
	is_str(p2, "/api/v1/pods", "core path, all namespaces");
	double t;
	ok(k8s_time_parse("2026-01-02T03:04:05.5Z", &t) == 0 && t == 1767323045.5, "time parse");
}

static void test_kubeconfig(void)
{
	char dir[] = "/tmp/kvirt-kc-XXXXXX";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	char path[256], tok[256];
	snprintf(path, sizeof(path), "%s/config", dir);
	snprintf(tok, sizeof(tok), "%s/token", dir);
	FILE *f = fopen(tok, "w");
	if (!f) {
		ok(0, "create %s", tok);
		return;
	}
	fputs("s3cret\n", f);
	fclose(f);
	f = fopen(path, "w");
	if (!f) {
		ok(0, "create %s", path);
		return;
	}
	fputs("apiVersion: v1\nkind: Config\ncurrent-context: b\n"
	      "clusters:\n- name: c1\n  cluster: {server: 'https://10.0.0.1:6443/', "
	      "certificate-authority-data: aGVsbG8=}\n"
	      "- name: c2\n  cluster: {server: https://h:1, insecure-skip-tls-verify: true}\n"
	      "users:\n- name: u1\n  user: {token: abc}\n- name: u2\n  user: {tokenFile: token}\n"
	      "contexts:\n- name: a\n  context: {cluster: c1, user: u1}\n"
	      "- name: b\n  context: {cluster: c2, user: u2, namespace: ns9}\n",
	      f);
	fclose(f);
	struct k8s_config *cfg = NULL;
	_cleanup_err_ struct kv_err *err = NULL;
	ok(k8s_config_from_kubeconfig(path, &cfg, &err) == 0, "kubeconfig loads: %s",
	   err ? err->msg : "ok");
	if (cfg) {
		is_str(cfg->server, "https://h:1", "current-context's server");
		ok(cfg->insecure, "insecure-skip-tls-verify");
		is_str(cfg->token, "s3cret", "tokenFile relative to the kubeconfig");
		is_str(cfg->namespace, "ns9", "context namespace");
		k8s_config_free(cfg);
	}
	char *out;
	size_t n;
	ok(k8s_base64_decode("aGVsbG8=", &out, &n) == 0 && n == 5 && !memcmp(out, "hello", 5),
	   "base64");
	free(out);
	ok(k8s_base64_decode("a$b", &out, &n) < 0, "bad base64 refused");
	unlink(tok);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_pod();
	test_printable();
	test_stream();
	test_results();
	test_kubeconfig();
	return tap_done();
}
