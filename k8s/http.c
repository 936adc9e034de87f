/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcurl wrapper (house rule 3): the only file that includes curl.  One
 * multi handle carries every request; HTTP/2 multiplexes them over a few
 * TLS connections to the API server, so a thousand in-flight writes and a
 * dozen long-running watches share the same sockets and one poll().
 */
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "kvirt/cleanup.h"
#include "kvirt/k8s.h"
#include "kvirt/util.h"

/* Bodies larger than this are not Kubernetes objects we read. */
#define HTTP_MAX_BODY (64u << 20)

struct k8s_http_call {
	struct k8s_http *h;
	CURL *easy;
	struct curl_slist *headers;
	char *body_out;
	char *resp;
	size_t resp_len, resp_cap;
	int (*on_data)(void *ud, const char *buf, size_t len);
	void (*on_done)(void *ud, long status, const char *body, size_t len, const char *error);
	void *ud;
	bool streaming_ok; /* status known to be 2xx: stream to on_data */
	bool aborted;
	char errbuf[CURL_ERROR_SIZE];
	struct k8s_http_call *next, *prev;
};

struct k8s_http {
	struct k8s_loop *loop;
	CURLM *multi;
	char *server;
	struct curl_blob ca, cert, key;
	char *auth_header;
	bool insecure;
	struct k8s_http_call *calls;
	size_t active;
};

static bool curl_ready;

int k8s_http_new(struct k8s_loop *loop, struct k8s_http **out, struct kv_err **err)
{
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return kv_err_set(err, EIO, "libcurl initialization failed");
		curl_ready = true;
	}
	struct k8s_http *h = calloc(1, sizeof(*h));
	if (!h)
		return kv_err_set(err, ENOMEM, "out of memory");
	h->loop = loop;
	h->multi = curl_multi_init();
	if (!h->multi) {
		free(h);
		return kv_err_set(err, ENOMEM, "curl_multi_init failed");
	}
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	/* A few connections, many streams each: the API server's default is 100
	 * concurrent streams per HTTP/2 connection. */
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 4L);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 100L);
	*out = h;
	return 0;
}

static void call_free(struct k8s_http_call *c)
{
	if (!c)
		return;
	curl_slist_free_all(c->headers);
	free(c->body_out);
	free(c->resp);
	free(c);
}

static void call_unlink(struct k8s_http *h, struct k8s_http_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		h->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	curl_multi_remove_handle(h->multi, c->easy);
	curl_easy_cleanup(c->easy);
	h->active--;
}

void k8s_http_free(struct k8s_http *h)
{
	if (!h)
		return;
	while (h->calls) {
		struct k8s_http_call *c = h->calls;
		call_unlink(h, c);
		call_free(c);
	}
	curl_multi_cleanup(h->multi);
	free(h->server);
	free(h->ca.data);
	free(h->cert.data);
	free(h->key.data);
	free(h->auth_header);
	free(h);
}

static int blob_set(struct curl_blob *b, const char *data, size_t len)
{
	free(b->data);
	*b = (struct curl_blob){ 0 };
	if (!data)
		return 0;
	b->data = malloc(len);
	if (!b->data)
		return -ENOMEM;
	memcpy(b->data, data, len);
	b->len = len;
	b->flags = CURL_BLOB_NOCOPY;
	return 0;
}

int k8s_http_set_token(struct k8s_http *h, const char *token)
{
	char *hdr = NULL;
	if (token) {
		hdr = kv_strdup_printf("Authorization: Bearer %s", token);
		if (!hdr)
			return -ENOMEM;
	}
	free(h->auth_header);
	h->auth_header = hdr;
	return 0;
}

int k8s_http_configure(struct k8s_http *h, const struct k8s_config *cfg, struct kv_err **err)
{
	free(h->server);
	h->server = strdup(cfg->server);
	if (!h->server || blob_set(&h->ca, cfg->ca_pem, cfg->ca_len) < 0 ||
	    blob_set(&h->cert, cfg->cert_pem, cfg->cert_len) < 0 ||
	    blob_set(&h->key, cfg->key_pem, cfg->key_len) < 0 ||
	    k8s_http_set_token(h, cfg->token) < 0)
		return kv_err_set(err, ENOMEM, "out of memory");
	h->insecure = cfg->insecure;
	return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct k8s_http_call *c = ud;
	size_t n = size * nmemb;
	if (c->on_data && !c->streaming_ok) {
		long code = 0;
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
		c->streaming_ok = code >= 200 && code < 300;
	}
	if (c->streaming_ok) {
		if (c->on_data(c->ud, ptr, n) < 0) {
			c->aborted = true;
			return CURL_WRITEFUNC_ERROR;
		}
		return n;
	}
	if (c->resp_len + n + 1 > HTTP_MAX_BODY)
		return CURL_WRITEFUNC_ERROR;
	if (c->resp_len + n + 1 > c->resp_cap) {
		size_t cap = c->resp_cap ? c->resp_cap : 4096;
		while (cap < c->resp_len + n + 1)
			cap *= 2;
		char *r = realloc(c->resp, cap);
		if (!r)
			return CURL_WRITEFUNC_ERROR;
		c->resp = r;
		c->resp_cap = cap;
	}
	memcpy(c->resp + c->resp_len, ptr, n);
	c->resp_len += n;
	c->resp[c->resp_len] = '\0';
	return n;
}

int k8s_http_start(struct k8s_http *h, const struct k8s_http_request *req,
		   struct k8s_http_call **out, struct kv_err **err)
{
	struct k8s_http_call *c = calloc(1, sizeof(*c));
	if (!c)
		return kv_err_set(err, ENOMEM, "out of memory");
	c->h = h;
	c->on_data = req->on_data;
	c->on_done = req->on_done;
	c->ud = req->ud;
	c->easy = curl_easy_init();
	if (!c->easy) {
		call_free(c);
		return kv_err_set(err, ENOMEM, "curl_easy_init failed");
	}
	CURL *e = c->easy;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "kvirt-controller/0.1");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
	if (req->timeout_s)
		curl_easy_setopt(e, CURLOPT_TIMEOUT, req->timeout_s);
	/* Replies are small and accumulate in our own buffer anyway: a small
	 * receive buffer per transfer keeps hundreds of in-flight calls cheap. */
	if (!req->on_data)
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);
	if (h->ca.data)
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &h->ca);
	if (h->cert.data)
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &h->cert);
	if (h->key.data)
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &h->key);
	if (h->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	struct curl_slist *hl = curl_slist_append(NULL, "Accept: application/json");
	if (hl && h->auth_header)
		hl = curl_slist_append(hl, h->auth_header);
	if (hl && req->content_type) {
		_cleanup_free_ char *ct = kv_strdup_printf("Content-Type: %s", req->content_type);
		hl = ct ? curl_slist_append(hl, ct) : NULL;
	}
	if (!hl) {
		curl_easy_cleanup(e);
		call_free(c);
		return kv_err_set(err, ENOMEM, "out of memory");
	}
	c->headers = hl;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	if (!strcmp(req->method, "GET"))
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	if (req->body) {
		c->body_out = malloc(req->body_len ? req->body_len : 1);
		if (!c->body_out) {
			curl_easy_cleanup(e);
			call_free(c);
			return kv_err_set(err, ENOMEM, "out of memory");
		}
		memcpy(c->body_out, req->body, req->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body_out);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		call_free(c);
		return kv_err_set(err, EIO, "curl_multi_add_handle failed");
	}
	c->next = h->calls;
	if (h->calls)
		h->calls->prev = c;
	h->calls = c;
	h->active++;
	if (out)
		*out = c;
	return 0;
}

void k8s_http_cancel(struct k8s_http *h, struct k8s_http_call *c)
{
	if (!c)
		return;
	call_unlink(h, c);
	call_free(c);
}

size_t k8s_http_active(const struct k8s_http *h)
{
	return h->active;
}

int k8s_http_poll(struct k8s_http *h, struct pollfd *fds, unsigned n, int timeout_ms)
{
	struct curl_waitfd wfd[128];
	if (n > 128)
		n = 128;
	for (unsigned i = 0; i < n; i++) {
		wfd[i] = (struct curl_waitfd){ .fd = fds[i].fd, .events = 0 };
		if (fds[i].events & POLLIN)
			wfd[i].events |= CURL_WAIT_POLLIN;
		if (fds[i].events & POLLOUT)
			wfd[i].events |= CURL_WAIT_POLLOUT;
	}
	long curl_timeout = -1;
	curl_multi_timeout(h->multi, &curl_timeout);
	if (curl_timeout >= 0 && curl_timeout < timeout_ms)
		timeout_ms = (int)curl_timeout;
	int numfds = 0;
	CURLMcode rc = curl_multi_poll(h->multi, wfd, n, timeout_ms, &numfds);
	for (unsigned i = 0; i < n; i++) {
		fds[i].revents = 0;
		if (wfd[i].revents & CURL_WAIT_POLLIN)
			fds[i].revents |= POLLIN;
		if (wfd[i].revents & CURL_WAIT_POLLOUT)
			fds[i].revents |= POLLOUT;
		if (wfd[i].revents & CURL_WAIT_POLLPRI)
			fds[i].revents |= POLLPRI;
	}
	return rc == CURLM_OK ? numfds : -EIO;
}

void k8s_http_perform(struct k8s_http *h)
{
	int running = 0;
	curl_multi_perform(h->multi, &running);
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct k8s_http_call *c = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		if (!c)
			continue;
		long status = 0;
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
		const char *error = NULL;
		if (m->data.result != CURLE_OK)
			error = c->errbuf[0] ? c->errbuf : curl_easy_strerror(m->data.result);
		if (c->aborted)
			error = "aborted by the stream parser";
		/* Unlink first: on_done may start new calls (and free nothing of ours). */
		call_unlink(h, c);
		if (c->on_done)
			c->on_done(c->ud, error ? 0 : status, c->resp ? c->resp : "", c->resp_len,
				   error);
		call_free(c);
	}
}
