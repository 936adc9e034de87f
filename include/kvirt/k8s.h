/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvirt's Kubernetes client (k8s/): one single-threaded event loop (libcurl
 * multi + timers + fds + signalfd) that carries REST calls, watches,
 * informers, work queues, leader election and events.  Nothing blocks: every
 * call takes a completion callback that runs on the loop.  docs/controller.md
 * describes how the pieces fit.
 */
#ifndef KVIRT_K8S_H
#define KVIRT_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvirt/err.h"
#include "kvirt/json.h"

/* ---- event loop ------------------------------------------------------------ */

struct k8s_loop;
struct k8s_http;

struct k8s_timer {
	uint64_t due_ns; /* CLOCK_MONOTONIC */
	size_t heap_idx; /* 0 = not armed; else index + 1 */
	void (*fn)(struct k8s_timer *t);
	void *data;
};

typedef void (*k8s_fd_fn)(struct k8s_loop *loop, int fd, short revents, void *data);
typedef void (*k8s_hook_fn)(struct k8s_loop *loop, void *data);

int k8s_loop_new(struct k8s_loop **out, struct kv_err **err);
void k8s_loop_free(struct k8s_loop *loop);
struct k8s_http *k8s_loop_http(struct k8s_loop *loop);
/* Arm (or re-arm) a timer `delay_ms` from now. */
void k8s_timer_start(struct k8s_loop *loop, struct k8s_timer *t, uint64_t delay_ms);
void k8s_timer_stop(struct k8s_loop *loop, struct k8s_timer *t);
static inline bool k8s_timer_armed(const struct k8s_timer *t)
{
	return t->heap_idx != 0;
}
/* Watch an fd for POLLIN/POLLOUT; events 0 removes it. */
int k8s_loop_watch_fd(struct k8s_loop *loop, int fd, short events, k8s_fd_fn fn, void *data);
/* Run `fn` after every loop iteration (work queues dispatch here). */
int k8s_loop_add_hook(struct k8s_loop *loop, k8s_hook_fn fn, void *data);
/* SIGINT/SIGTERM end k8s_loop_run through a signalfd; `fn` is called first. */
int k8s_loop_on_signal(struct k8s_loop *loop, k8s_hook_fn fn, void *data, struct kv_err **err);
/* Run until k8s_loop_quit(); returns its code. */
int k8s_loop_run(struct k8s_loop *loop);
void k8s_loop_quit(struct k8s_loop *loop, int code);
bool k8s_loop_quitting(const struct k8s_loop *loop);
/* Random number in [0, n) (jitter, name suffixes). */
uint64_t k8s_rand(uint64_t n);

/* ---- configuration ---------------------------------------------------------- */

struct k8s_config {
	char *server; /* https://host:port, no trailing slash */
	char *ca_pem; /* NULL: system CAs */
	size_t ca_len;
	char *cert_pem, *key_pem; /* client certificate (may be NULL) */
	size_t cert_len, key_len;
	char *token;	  /* bearer token (may be NULL) */
	char *token_file; /* re-read periodically (service-account tokens rotate) */
	bool insecure;	  /* insecure-skip-tls-verify */
	char *namespace;  /* context / pod namespace, may be NULL */
};

void k8s_config_free(struct k8s_config *c);
static inline void k8s_config_freep(struct k8s_config **c)
{
	k8s_config_free(*c);
	*c = NULL;
}
/* A kubeconfig file: current-context, its cluster and user. */
int k8s_config_from_kubeconfig(const char *path, struct k8s_config **out, struct kv_err **err);
/* In-cluster: service-account token + CA, KUBERNETES_SERVICE_HOST/PORT. */
int k8s_config_in_cluster(struct k8s_config **out, struct kv_err **err);
/* Kubeconfig from `path`, else $KUBECONFIG, else in-cluster, else ~/.kube/config. */
int k8s_config_load(const char *path, struct k8s_config **out, struct kv_err **err);
/* Base64 (standard alphabet, padding optional, whitespace ignored). */
int k8s_base64_decode(const char *in, char **out, size_t *out_len);

/* ---- HTTP (libcurl wrapper) -------------------------------------------------- */

struct k8s_http_request {
	const char *method; /* GET, POST, PUT, PATCH, DELETE */
	const char *url;
	const char *body; /* copied */
	size_t body_len;
	const char *content_type;
	long timeout_s; /* 0: none */
	/* Streaming: bytes of a 2xx response as they arrive; return <0 to abort. */
	int (*on_data)(void *ud, const char *buf, size_t len);
	/* Always called once (not after k8s_http_cancel): the HTTP status (0 if
	 * no response), the body (non-streamed or error responses), and a
	 * transport error message or NULL. */
	void (*on_done)(void *ud, long status, const char *body, size_t len, const char *error);
	void *ud;
};
struct k8s_http_call;

int k8s_http_new(struct k8s_loop *loop, struct k8s_http **out, struct kv_err **err);
void k8s_http_free(struct k8s_http *h);
int k8s_http_configure(struct k8s_http *h, const struct k8s_config *cfg, struct kv_err **err);
/* Replace the bearer token (a rotated service-account token). */
int k8s_http_set_token(struct k8s_http *h, const char *token);
int k8s_http_start(struct k8s_http *h, const struct k8s_http_request *req,
		   struct k8s_http_call **out, struct kv_err **err);
void k8s_http_cancel(struct k8s_http *h, struct k8s_http_call *call);
size_t k8s_http_active(const struct k8s_http *h);
/* Used by the loop only. */
struct pollfd;
int k8s_http_poll(struct k8s_http *h, struct pollfd *fds, unsigned n, int timeout_ms);
void k8s_http_perform(struct k8s_http *h);

/* ---- REST ------------------------------------------------------------------ */

struct k8s_resource {
	const char *group; /* "" for core */
	const char *version;
	const char *plural;
	const char *kind;
	bool namespaced;
};
extern const struct k8s_resource k8s_res_pods, k8s_res_events, k8s_res_leases, k8s_res_vms,
    k8s_res_vmis, k8s_res_vmirs, k8s_res_vmipresets;

struct k8s_client {
	struct k8s_loop *loop;
	struct k8s_http *http;
	struct k8s_config *cfg;
	struct k8s_timer token_timer;
	uint64_t requests, errors, conflicts;
};

/*
 * The outcome of a call.  `status` is the HTTP code (0: no response);
 * `err` is 0 or a negative errno: -ENOENT (404), -EEXIST (409
 * AlreadyExists), -ESTALE (409 Conflict: a stale resourceVersion, retry
 * from a fresh read), -ENODATA (410 Gone), -EACCES (401/403),
 * -EINVAL (400/422), -EIO (other), -ECONNREFUSED (no response).
 * `message` is the API server's Status message (or the transport error).
 * `body` is the parsed response (borrowed, may be NULL).
 */
struct k8s_result {
	long status;
	int err;
	const char *reason;
	const char *message;
	json_t *body;
};
typedef void (*k8s_result_fn)(void *ud, const struct k8s_result *r);

int k8s_client_new(struct k8s_loop *loop, struct k8s_config *cfg, struct k8s_client **out,
		   struct kv_err **err);
void k8s_client_free(struct k8s_client *c);

/* "/apis/<g>/<v>/namespaces/<ns>/<plural>/<name>/<sub>"; any of ns/name/sub may be NULL. */
char *k8s_path(const struct k8s_resource *res, const char *ns, const char *name,
	       const char *subresource);
/* A raw call on `path` (with its query); body may be NULL. */
int k8s_call(struct k8s_client *c, const char *method, const char *path, const json_t *body,
	     const char *content_type, k8s_result_fn fn, void *ud);
int k8s_get(struct k8s_client *c, const struct k8s_resource *res, const char *ns, const char *name,
	    k8s_result_fn fn, void *ud);
int k8s_create(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
	       const json_t *obj, k8s_result_fn fn, void *ud);
/* PUT; `subresource` NULL or "status"/"scale". */
int k8s_update(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
	       const char *name, const char *subresource, const json_t *obj, k8s_result_fn fn,
	       void *ud);
enum k8s_patch_type { K8S_PATCH_MERGE, K8S_PATCH_JSON };
int k8s_patch(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
	      const char *name, const char *subresource, enum k8s_patch_type type,
	      const json_t *patch, k8s_result_fn fn, void *ud);
/* DELETE with optional preconditions.uid and propagationPolicy (NULL: server default). */
int k8s_delete(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
	       const char *name, const char *uid, const char *propagation, k8s_result_fn fn,
	       void *ud);
/* Map an HTTP status + Status body to a k8s_result (exposed for tests). */
void k8s_result_from_response(struct k8s_result *r, long status, json_t *body,
			      const char *transport_error);

/* ---- watch stream ------------------------------------------------------------ */

/*
 * Incremental splitter for a watch response: JSON values arrive in chunks
 * of any size; each complete top-level object is handed to `fn`.  Objects
 * larger than `max` bytes, or bytes between objects that are not
 * whitespace, are errors (the watch is restarted).
 */
struct k8s_stream {
	char *buf;
	size_t len, cap, scan, max;
	int depth;
	bool in_str, esc;
};
typedef int (*k8s_stream_fn)(void *ud, const char *obj, size_t len);
void k8s_stream_init(struct k8s_stream *s, size_t max);
void k8s_stream_reset(struct k8s_stream *s);
int k8s_stream_feed(struct k8s_stream *s, const char *data, size_t len, k8s_stream_fn fn, void *ud,
		    struct kv_err **err);

enum k8s_event_type {
	K8S_EV_ADDED,
	K8S_EV_MODIFIED,
	K8S_EV_DELETED,
	K8S_EV_BOOKMARK,
	K8S_EV_ERROR,
};
struct k8s_watch_event {
	enum k8s_event_type type;
	json_t *object; /* owned; a Status for ERROR */
	const char *rv; /* object's metadata.resourceVersion (borrowed from object) */
	long code;	/* ERROR: Status.code (410 = resource version too old) */
};
/* Decode one watch event document.  Malformed ones are errors, never crashes. */
int k8s_watch_event_parse(const char *buf, size_t len, struct k8s_watch_event *ev,
			  struct kv_err **err);
void k8s_watch_event_clear(struct k8s_watch_event *ev);

/* ---- informer ----------------------------------------------------------------- */

struct k8s_informer;
struct k8s_informer_handlers {
	void (*add)(void *ud, json_t *obj);
	void (*update)(void *ud, json_t *old, json_t *obj);
	void (*del)(void *ud, json_t *obj);
	void *ud;
};
struct k8s_informer_opts {
	const struct k8s_resource *res;
	const char *ns;		    /* NULL: all namespaces */
	const char *label_selector; /* NULL: all */
	/* Trim objects before caching (drop what the controller never reads). */
	void (*transform)(json_t *obj);
	unsigned resync_s; /* 0: never */
	struct k8s_informer_handlers h;
};
struct k8s_informer_stats {
	uint64_t lists, watches, watch_restarts, relists_410, events, bookmarks, errors;
};

int k8s_informer_new(struct k8s_client *c, const struct k8s_informer_opts *o,
		     struct k8s_informer **out, struct kv_err **err);
void k8s_informer_free(struct k8s_informer *inf);
int k8s_informer_start(struct k8s_informer *inf);
bool k8s_informer_synced(const struct k8s_informer *inf);
/*
 * The cache holds each object as compact JSON text (jansson trees cost ~10×
 * the text), parsed on access: lookups return a NEW reference (json_decref
 * it) or NULL; key is "ns/name" (or "name" cluster-wide).
 */
json_t *k8s_informer_get(const struct k8s_informer *inf, const char *ns, const char *name);
json_t *k8s_informer_get_key(const struct k8s_informer *inf, const char *key);
/* Call fn for every cached object (parsed, borrowed for the call); stops on fn < 0. */
int k8s_informer_foreach(const struct k8s_informer *inf,
			 int (*fn)(void *ud, const char *key, json_t *obj), void *ud);
size_t k8s_informer_size(const struct k8s_informer *inf);
const struct k8s_informer_stats *k8s_informer_stats(const struct k8s_informer *inf);
const char *k8s_informer_name(const struct k8s_informer *inf);
/* Drop managedFields (what most transforms want). */
void k8s_trim_managed_fields(json_t *obj);
/* "ns/name" of an object (malloc'd). */
char *k8s_object_key(const json_t *obj);

/* ---- work queue --------------------------------------------------------------- */

struct k8s_queue;
/* Process `key`; must call k8s_queue_done(q, key, ok) exactly once, now or later. */
typedef void (*k8s_queue_fn)(void *ud, struct k8s_queue *q, const char *key);
struct k8s_queue_stats {
	uint64_t adds, processed, retries, failures;
	size_t depth, inflight;
};
int k8s_queue_new(struct k8s_loop *loop, const char *name, unsigned max_inflight, k8s_queue_fn fn,
		  void *ud, struct k8s_queue **out);
void k8s_queue_free(struct k8s_queue *q);
void k8s_queue_add(struct k8s_queue *q, const char *key);
void k8s_queue_add_after(struct k8s_queue *q, const char *key, uint64_t delay_ms);
/* Re-add with the key's exponential backoff (5 ms doubling, capped at 5 min). */
void k8s_queue_add_rate_limited(struct k8s_queue *q, const char *key);
void k8s_queue_done(struct k8s_queue *q, const char *key, bool ok);
/* Stop handing out keys (leadership lost / shutdown); true when idle. */
void k8s_queue_pause(struct k8s_queue *q, bool paused);
void k8s_queue_stats(const struct k8s_queue *q, struct k8s_queue_stats *out);
const char *k8s_queue_name(const struct k8s_queue *q);
/* Pure backoff function (exposed for tests). */
uint64_t k8s_backoff_ms(unsigned failures, uint64_t base_ms, uint64_t max_ms);

/* ---- leader election ------------------------------------------------------------ */

struct k8s_leader;
struct k8s_leader_opts {
	const char *ns, *name, *identity;
	unsigned lease_duration_s; /* default 15 */
	unsigned renew_deadline_s; /* default 2/3 of the duration */
	unsigned retry_period_s;   /* default duration / 5, at least 1 */
	void (*started)(void *ud);
	void (*stopped)(void *ud);
	void *ud;
};
int k8s_leader_new(struct k8s_client *c, const struct k8s_leader_opts *o, struct k8s_leader **out,
		   struct kv_err **err);
void k8s_leader_free(struct k8s_leader *l);
int k8s_leader_start(struct k8s_leader *l);
bool k8s_leader_is_leader(const struct k8s_leader *l);
/* Give the lease up (holder cleared) so a standby takes over at once; `done` when sent. */
void k8s_leader_release(struct k8s_leader *l, k8s_hook_fn done, void *data);

/* ---- events --------------------------------------------------------------------- */

struct k8s_recorder;
int k8s_recorder_new(struct k8s_client *c, const char *component, const char *host,
		     struct k8s_recorder **out);
void k8s_recorder_free(struct k8s_recorder *r);
/* An Event about `obj` (type "Normal" or "Warning"); fire and forget, sent in the background. */
void k8s_event(struct k8s_recorder *r, const json_t *obj, const char *type, const char *reason,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
uint64_t k8s_recorder_sent(const struct k8s_recorder *r);

/* RFC 3339 times as Kubernetes writes them. */
void k8s_time_now(char buf[32]);      /* 2026-01-02T03:04:05Z */
void k8s_microtime_now(char buf[40]); /* 2026-01-02T03:04:05.000000Z */
int k8s_time_parse(const char *s, double *epoch);

#endif
