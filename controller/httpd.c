/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny HTTP/1.0 server on the controller's event loop for /metrics
 * (Prometheus text format), /healthz and /readyz.  One request per
 * connection, bounded request size, no keep-alive: probes and scrapes only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "controller.h"
#include "kvirt/cleanup.h"
#include "kvirt/util.h"

#define HTTPD_MAX_CLIENTS 16
#define HTTPD_MAX_REQ	  4096

struct client {
	int fd;
	size_t len;
	char buf[HTTPD_MAX_REQ];
};

static struct client clients[HTTPD_MAX_CLIENTS];
static struct kvc *httpd_ctl;

static long rss_bytes(void)
{
	_cleanup_free_ char *s = NULL;
	size_t len;
	if (kv_read_file("/proc/self/statm", 4096, &s, &len) < 0)
		return 0;
	long pages = 0, rss = 0;
	if (sscanf(s, "%ld %ld", &pages, &rss) != 2)
		return 0;
	return rss * sysconf(_SC_PAGESIZE);
}

static void metrics(FILE *f, struct kvc *c)
{
	static const char *const names[] = { "vm", "vmi", "vmirs" };
	fputs("# HELP kvirt_controller_reconcile_total Reconciles by controller and result.\n"
	      "# TYPE kvirt_controller_reconcile_total counter\n",
	      f);
	for (int i = 0; i < 3; i++) {
		fprintf(f,
			"kvirt_controller_reconcile_total{controller=\"%s\",result=\"ok\"} %llu\n",
			names[i], (unsigned long long)c->reconciles[i][0]);
		fprintf(
		    f,
		    "kvirt_controller_reconcile_total{controller=\"%s\",result=\"error\"} %llu\n",
		    names[i], (unsigned long long)c->reconciles[i][1]);
	}
	struct k8s_queue *qs[] = { c->vmq, c->vmiq, c->rsq };
	fputs("# TYPE kvirt_controller_queue_depth gauge\n", f);
	for (int i = 0; i < 3; i++) {
		struct k8s_queue_stats st;
		k8s_queue_stats(qs[i], &st);
		fprintf(f, "kvirt_controller_queue_depth{queue=\"%s\"} %zu\n",
			k8s_queue_name(qs[i]), st.depth);
		fprintf(f, "kvirt_controller_queue_inflight{queue=\"%s\"} %zu\n",
			k8s_queue_name(qs[i]), st.inflight);
		fprintf(f, "kvirt_controller_queue_retries_total{queue=\"%s\"} %llu\n",
			k8s_queue_name(qs[i]), (unsigned long long)st.retries);
	}
	struct k8s_informer *infs[] = { c->vms, c->vmis, c->pods, c->rss, c->presets };
	fputs("# TYPE kvirt_controller_watch_restarts_total counter\n", f);
	for (size_t i = 0; i < KV_ARRAY_SIZE(infs); i++) {
		const struct k8s_informer_stats *st = k8s_informer_stats(infs[i]);
		const char *n = k8s_informer_name(infs[i]);
		fprintf(f, "kvirt_controller_watch_restarts_total{resource=\"%s\"} %llu\n", n,
			(unsigned long long)st->watch_restarts);
		fprintf(f, "kvirt_controller_relists_total{resource=\"%s\"} %llu\n", n,
			(unsigned long long)st->lists);
		fprintf(f, "kvirt_controller_watch_events_total{resource=\"%s\"} %llu\n", n,
			(unsigned long long)st->events);
		fprintf(f, "kvirt_controller_watch_errors_total{resource=\"%s\"} %llu\n", n,
			(unsigned long long)st->errors);
		fprintf(f, "kvirt_controller_cache_objects{resource=\"%s\"} %zu\n", n,
			k8s_informer_size(infs[i]));
	}
	fprintf(f,
		"# TYPE kvirt_controller_api_requests_total counter\n"
		"kvirt_controller_api_requests_total %llu\n"
		"kvirt_controller_api_errors_total %llu\n"
		"kvirt_controller_api_conflicts_total %llu\n"
		"kvirt_controller_events_sent_total %llu\n"
		"kvirt_controller_pods_created_total %llu\n"
		"kvirt_controller_vmis_created_total %llu\n"
		"kvirt_controller_is_leader %d\n"
		"kvirt_controller_rss_bytes %ld\n",
		(unsigned long long)c->client->requests, (unsigned long long)c->client->errors,
		(unsigned long long)c->client->conflicts,
		(unsigned long long)k8s_recorder_sent(c->rec), (unsigned long long)c->pods_created,
		(unsigned long long)c->vmis_created, c->leading ? 1 : 0, rss_bytes());
	fputs("# HELP kvirt_controller_vmi_to_pod_seconds From a VMI appearing in the cache to its "
	      "launcher pod being created.\n# TYPE kvirt_controller_vmi_to_pod_seconds histogram\n",
	      f);
	uint64_t cum = 0;
	for (int i = 0; i < 16; i++) {
		cum += c->vmi_to_pod.buckets[i];
		if (i == 15)
			fprintf(f, "kvirt_controller_vmi_to_pod_seconds_bucket{le=\"+Inf\"} %llu\n",
				(unsigned long long)cum);
		else
			fprintf(f, "kvirt_controller_vmi_to_pod_seconds_bucket{le=\"%g\"} %llu\n",
				kvc_latency_bounds[i], (unsigned long long)cum);
	}
	fprintf(f, "kvirt_controller_vmi_to_pod_seconds_sum %.6f\n", c->vmi_to_pod.sum);
	fprintf(f, "kvirt_controller_vmi_to_pod_seconds_count %llu\n",
		(unsigned long long)c->vmi_to_pod.count);
}

static bool ready(struct kvc *c)
{
	struct k8s_informer *infs[] = { c->vms, c->vmis, c->pods, c->rss, c->presets };
	for (size_t i = 0; i < KV_ARRAY_SIZE(infs); i++)
		if (!k8s_informer_synced(infs[i]))
			return false;
	return true;
}

static void respond(struct client *cl)
{
	char *body = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&body, &blen);
	int code = 200;
	const char *ctype = "text/plain; charset=utf-8";
	if (!f)
		return;
	if (!strncmp(cl->buf, "GET /metrics ", 13)) {
		ctype = "text/plain; version=0.0.4";
		metrics(f, httpd_ctl);
	} else if (!strncmp(cl->buf, "GET /healthz ", 13)) {
		fputs("ok\n", f);
	} else if (!strncmp(cl->buf, "GET /readyz ", 12)) {
		if (ready(httpd_ctl)) {
			fputs("ok\n", f);
		} else {
			code = 503;
			fputs("informers not synced\n", f);
		}
	} else {
		code = 404;
		fputs("not found\n", f);
	}
	if (fclose(f) != 0) {
		free(body);
		return;
	}
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 code,
			 code == 200   ? "OK"
			 : code == 404 ? "Not Found"
				       : "Service Unavailable",
			 ctype, blen);
	/* Small responses on a fresh socket: blocking writes with a send timeout. */
	kv_write_all(cl->fd, hdr, (size_t)n);
	kv_write_all(cl->fd, body, blen);
	free(body);
}

static void client_close(struct k8s_loop *loop, struct client *cl)
{
	k8s_loop_watch_fd(loop, cl->fd, 0, NULL, NULL);
	close(cl->fd);
	cl->fd = -1;
}

static void on_client(struct k8s_loop *loop, int fd, short revents, void *data)
{
	struct client *cl = data;
	ssize_t n = read(fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		client_close(loop, cl);
		return;
	}
	cl->len += (size_t)n;
	cl->buf[cl->len] = '\0';
	if (strstr(cl->buf, "\r\n\r\n") || strstr(cl->buf, "\n\n") ||
	    cl->len == sizeof(cl->buf) - 1) {
		respond(cl);
		client_close(loop, cl);
	}
}

static void on_accept(struct k8s_loop *loop, int lfd, short revents, void *data)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	struct client *cl = NULL;
	for (size_t i = 0; i < HTTPD_MAX_CLIENTS; i++)
		if (clients[i].fd < 0) {
			cl = &clients[i];
			break;
		}
	if (!cl) {
		close(fd);
		return;
	}
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	cl->fd = fd;
	cl->len = 0;
	if (k8s_loop_watch_fd(loop, fd, POLLIN, on_client, cl) < 0) {
		close(fd);
		cl->fd = -1;
	}
}

int kvc_httpd_start(struct kvc *c, const char *addr, struct kv_err **err)
{
	for (size_t i = 0; i < HTTPD_MAX_CLIENTS; i++)
		clients[i].fd = -1;
	httpd_ctl = c;
	_cleanup_free_ char *host = strdup(addr);
	if (!host)
		return kv_err_set(err, ENOMEM, "out of memory");
	char *colon = strrchr(host, ':');
	if (!colon)
		return kv_err_set(err, EINVAL, "--metrics-addr %s: expected HOST:PORT", addr);
	*colon = '\0';
	uint64_t port;
	if (kv_parse_u64(colon + 1, &port) < 0 || port > 65535)
		return kv_err_set(err, EINVAL, "--metrics-addr %s: bad port", addr);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, *host ? host : "0.0.0.0", &sa.sin_addr) != 1)
		return kv_err_set(err, EINVAL, "--metrics-addr %s: not an IPv4 address", addr);
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kv_err_errno(err, "socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return kv_err_errno(err, "cannot listen on %s", addr);
	if (listen(fd, 16) < 0)
		return kv_err_errno(err, "listen");
	int r = k8s_loop_watch_fd(c->loop, fd, POLLIN, on_accept, NULL);
	if (r < 0)
		return kv_err_set(err, -r, "cannot watch the metrics socket");
	TAKE_FD(fd);
	return 0;
}
