/* SPDX-License-Identifier: Apache-2.0 */
/* REST calls on the event loop, with API-server Status errors decoded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvirt/cleanup.h"
#include "kvirt/k8s.h"
#include "kvirt/log.h"
#include "kvirt/util.h"

const struct k8s_resource k8s_res_pods = { "", "v1", "pods", "Pod", true };
const struct k8s_resource k8s_res_events = { "", "v1", "events", "Event", true };
const struct k8s_resource k8s_res_leases = { "coordination.k8s.io", "v1", "leases", "Lease", true };
const struct k8s_resource k8s_res_vms = { "kubevirt.io", "v1", "virtualmachines", "VirtualMachine",
					  true };
const struct k8s_resource k8s_res_vmis = { "kubevirt.io", "v1", "virtualmachineinstances",
					   "VirtualMachineInstance", true };
const struct k8s_resource k8s_res_vmirs = { "kubevirt.io", "v1",
					    "virtualmachineinstancereplicasets",
					    "VirtualMachineInstanceReplicaSet", true };
const struct k8s_resource k8s_res_vmipresets = { "kubevirt.io", "v1",
						 "virtualmachineinstancepresets",
						 "VirtualMachineInstancePreset", true };

#define TOKEN_REREAD_MS 60000

static void token_reread(struct k8s_timer *t)
{
	struct k8s_client *c = t->data;
	char *tok = NULL;
	size_t len;
	if (c->cfg->token_file && kv_read_file(c->cfg->token_file, 65536, &tok, &len) == 0) {
		while (len && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
			tok[--len] = '\0';
		k8s_http_set_token(c->http, tok);
		explicit_bzero(tok, len);
		free(tok);
	}
	k8s_timer_start(c->loop, t, TOKEN_REREAD_MS);
}

int k8s_client_new(struct k8s_loop *loop, struct k8s_config *cfg, struct k8s_client **out,
		   struct kv_err **err)
{
	struct k8s_client *c = calloc(1, sizeof(*c));
	if (!c)
		return kv_err_set(err, ENOMEM, "out of memory");
	c->loop = loop;
	c->http = k8s_loop_http(loop);
	c->cfg = cfg;
	int r = k8s_http_configure(c->http, cfg, err);
	if (r < 0) {
		free(c);
		return r;
	}
	c->token_timer.fn = token_reread;
	c->token_timer.data = c;
	if (cfg->token_file)
		k8s_timer_start(loop, &c->token_timer, TOKEN_REREAD_MS);
	*out = c;
	return 0;
}

void k8s_client_free(struct k8s_client *c)
{
	if (!c)
		return;
	k8s_timer_stop(c->loop, &c->token_timer);
	free(c);
}

char *k8s_path(const struct k8s_resource *res, const char *ns, const char *name, const char *sub)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	if (res->group[0])
		fprintf(f, "/apis/%s/%s", res->group, res->version);
	else
		fprintf(f, "/api/%s", res->version);
	if (res->namespaced && ns)
		fprintf(f, "/namespaces/%s", ns);
	fprintf(f, "/%s", res->plural);
	if (name)
		fprintf(f, "/%s", name);
	if (name && sub)
		fprintf(f, "/%s", sub);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

void k8s_result_from_response(struct k8s_result *r, long status, json_t *body,
			      const char *transport_error)
{
	*r = (struct k8s_result){ .status = status, .body = body };
	if (transport_error || status == 0) {
		r->err = -ECONNREFUSED;
		r->message = transport_error ? transport_error : "no response";
		return;
	}
	if (status >= 200 && status < 300)
		return;
	if (json_is_object(body) && kv_jstr_eq(kv_jstr(body, "kind"), "Status")) {
		r->reason = kv_jstr(body, "reason");
		r->message = kv_jstr(body, "message");
	}
	if (!r->message)
		r->message = "the API server returned an error without a Status";
	switch (status) {
	case 404: r->err = -ENOENT; break;
	case 409: r->err = kv_jstr_eq(r->reason, "AlreadyExists") ? -EEXIST : -ESTALE; break;
	case 410: r->err = -ENODATA; break;
	case 401:
	case 403: r->err = -EACCES; break;
	case 400:
	case 422: r->err = -EINVAL; break;
	case 429: r->err = -EAGAIN; break;
	default: r->err = -EIO; break;
	}
}

struct call_ctx {
	struct k8s_client *c;
	k8s_result_fn fn;
	void *ud;
};

static void call_done(void *ud, long status, const char *body, size_t len, const char *error)
{
	struct call_ctx *ctx = ud;
	_cleanup_json_t_ json_t *obj = NULL;
	if (len && !error)
		kv_json_loadb(body, len, "response", &obj, NULL);
	struct k8s_result r;
	k8s_result_from_response(&r, status, obj, error);
	if (r.err) {
		ctx->c->errors++;
		if (r.err == -ESTALE)
			ctx->c->conflicts++;
	}
	if (ctx->fn)
		ctx->fn(ctx->ud, &r);
	free(ctx);
}

int k8s_call(struct k8s_client *c, const char *method, const char *path, const json_t *body,
	     const char *content_type, k8s_result_fn fn, void *ud)
{
	_cleanup_free_ char *url = kv_strdup_printf("%s%s", c->cfg->server, path);
	_cleanup_free_ char *text = body ? kv_json_dumps(body) : NULL;
	struct call_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!url || (body && !text) || !ctx) {
		free(ctx);
		return -ENOMEM;
	}
	*ctx = (struct call_ctx){ c, fn, ud };
	struct k8s_http_request req = {
		.method = method,
		.url = url,
		.body = text,
		.body_len = text ? strlen(text) : 0,
		.content_type = body ? (content_type ? content_type : "application/json") : NULL,
		.timeout_s = 60,
		.on_done = call_done,
		.ud = ctx,
	};
	c->requests++;
	int r = k8s_http_start(c->http, &req, NULL, NULL);
	if (r < 0)
		free(ctx);
	return r;
}

static int call_res(struct k8s_client *c, const char *method, const struct k8s_resource *res,
		    const char *ns, const char *name, const char *sub, const char *query,
		    const json_t *body, const char *ct, k8s_result_fn fn, void *ud)
{
	_cleanup_free_ char *p = k8s_path(res, ns, name, sub);
	if (!p)
		return -ENOMEM;
	_cleanup_free_ char *pq = query ? kv_strdup_printf("%s?%s", p, query) : NULL;
	if (query && !pq)
		return -ENOMEM;
	return k8s_call(c, method, pq ? pq : p, body, ct, fn, ud);
}

int k8s_get(struct k8s_client *c, const struct k8s_resource *res, const char *ns, const char *name,
	    k8s_result_fn fn, void *ud)
{
	return call_res(c, "GET", res, ns, name, NULL, NULL, NULL, NULL, fn, ud);
}

int k8s_create(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
	       const json_t *obj, k8s_result_fn fn, void *ud)
{
	return call_res(c, "POST", res, ns, NULL, NULL, NULL, obj, NULL, fn, ud);
}

int k8s_update(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
	       const char *name, const char *sub, const json_t *obj, k8s_result_fn fn, void *ud)
{
	return call_res(c, "PUT", res, ns, name, sub, NULL, obj, NULL, fn, ud);
}

int k8s_patch(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
	      const char *name, const char *sub, enum k8s_patch_type type, const json_t *patch,
	      k8s_result_fn fn, void *ud)
{
	const char *ct =
	    type == K8S_PATCH_JSON ? "application/json-patch+json" : "application/merge-patch+json";
	return call_res(c, "PATCH", res, ns, name, sub, NULL, patch, ct, fn, ud);
}

int k8s_delete(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
	       const char *name, const char *uid, const char *propagation, k8s_result_fn fn,
	       void *ud)
{
	_cleanup_json_t_ json_t *opts =
	    json_pack("{s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
	if (!opts)
		return -ENOMEM;
	if (uid)
		kv_jset(opts, "preconditions.uid", json_string(uid));
	if (propagation)
		kv_jset(opts, "propagationPolicy", json_string(propagation));
	return call_res(c, "DELETE", res, ns, name, NULL, NULL, opts, NULL, fn, ud);
}

void k8s_time_now(char buf[32])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void k8s_microtime_now(char buf[40])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	unsigned us = (unsigned)(ts.tv_nsec / 1000) % 1000000u;
	snprintf(buf + n, 40 - n, ".%06uZ", us);
}

int k8s_time_parse(const char *s, double *epoch)
{
	struct tm tm = { 0 };
	if (!s)
		return -EINVAL;
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -EINVAL;
	double frac = 0;
	if (*rest == '.') {
		double scale = 0.1;
		for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10)
			frac += (*rest - '0') * scale;
	}
	if (*rest != 'Z')
		return -EINVAL;
	*epoch = (double)timegm(&tm) + frac;
	return 0;
}
