/* SPDX-License-Identifier: Apache-2.0 */
/* Client configuration: kubeconfig files and in-cluster service accounts. */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/k8s.h"
#include "kvirt/util.h"
#include "kvirt/yaml.h"

#define SA_DIR		  "/var/run/secrets/kubernetes.io/serviceaccount"
#define CONFIG_FILE_LIMIT (4u << 20)

void k8s_config_free(struct k8s_config *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->ca_pem);
	free(c->cert_pem);
	if (c->key_pem)
		explicit_bzero(c->key_pem, c->key_len);
	free(c->key_pem);
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	free(c->token_file);
	free(c->namespace);
	free(c);
}

static int b64val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

int k8s_base64_decode(const char *in, char **out, size_t *out_len)
{
	size_t n = strlen(in);
	char *buf = malloc(n / 4 * 3 + 4);
	if (!buf)
		return -ENOMEM;
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	bool pad = false;
	for (const char *p = in; *p; p++) {
		if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
			continue;
		if (*p == '=') {
			pad = true;
			continue;
		}
		int v = b64val((unsigned char)*p);
		if (v < 0 || pad) {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	return 0;
}

/* Read a file named in a kubeconfig: relative paths are relative to the kubeconfig. */
static int read_rel(const char *base_dir, const char *path, char **out, size_t *len,
		    struct kv_err **err)
{
	_cleanup_free_ char *full =
	    path[0] == '/' ? strdup(path) : kv_strdup_printf("%s/%s", base_dir, path);
	if (!full)
		return kv_err_set(err, ENOMEM, "out of memory");
	int r = kv_read_file(full, CONFIG_FILE_LIMIT, out, len);
	if (r < 0) {
		errno = -r;
		return kv_err_errno(err, "cannot read %s", full);
	}
	return 0;
}

/* `data` (base64) or `file` into *out. */
static int data_or_file(const json_t *obj, const char *data_key, const char *file_key,
			const char *dir, char **out, size_t *len, struct kv_err **err)
{
	const char *d = kv_jstr(obj, data_key);
	if (d) {
		if (k8s_base64_decode(d, out, len) < 0)
			return kv_err_set(err, EINVAL, "%s: not valid base64", data_key);
		return 0;
	}
	const char *f = kv_jstr(obj, file_key);
	if (f)
		return read_rel(dir, f, out, len, err);
	return 0;
}

static const json_t *named(const json_t *list, const char *name, const char *member)
{
	size_t i;
	json_t *e;
	json_array_foreach (list, i, e)
		if (kv_jstr_eq(kv_jstr(e, "name"), name))
			return json_object_get(e, member);
	return NULL;
}

static void strip(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
}

int k8s_config_from_kubeconfig(const char *path, struct k8s_config **out, struct kv_err **err)
{
	_cleanup_json_t_ json_t *kc = NULL;
	int r = kv_yaml_load_file(path, CONFIG_FILE_LIMIT, &kc, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *pathcopy = strdup(path);
	if (!pathcopy)
		return kv_err_set(err, ENOMEM, "out of memory");
	const char *dir = dirname(pathcopy);
	const char *cur = kv_jstr(kc, "current-context");
	if (!cur)
		return kv_err_set(err, EINVAL, "%s: no current-context", path);
	const json_t *ctx = named(json_object_get(kc, "contexts"), cur, "context");
	if (!ctx)
		return kv_err_set(err, EINVAL, "%s: context \"%s\" not found", path, cur);
	const char *cname = kv_jstr(ctx, "cluster"), *uname = kv_jstr(ctx, "user");
	const json_t *cl = named(json_object_get(kc, "clusters"), cname, "cluster");
	if (!cl)
		return kv_err_set(err, EINVAL, "%s: cluster \"%s\" not found", path,
				  cname ? cname : "");
	const json_t *user = uname ? named(json_object_get(kc, "users"), uname, "user") : NULL;

	struct k8s_config *c = calloc(1, sizeof(*c));
	_cleanup_(k8s_config_freep) struct k8s_config *cfg = c;
	if (!c)
		return kv_err_set(err, ENOMEM, "out of memory");
	const char *server = kv_jstr(cl, "server");
	if (!server)
		return kv_err_set(err, EINVAL, "%s: cluster \"%s\" has no server", path, cname);
	c->server = strdup(server);
	if (!c->server)
		return kv_err_set(err, ENOMEM, "out of memory");
	size_t n = strlen(c->server);
	while (n && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	c->insecure = kv_jbool(cl, "insecure-skip-tls-verify", false);
	r = data_or_file(cl, "certificate-authority-data", "certificate-authority", dir, &c->ca_pem,
			 &c->ca_len, err);
	if (r >= 0 && user)
		r = data_or_file(user, "client-certificate-data", "client-certificate", dir,
				 &c->cert_pem, &c->cert_len, err);
	if (r >= 0 && user)
		r = data_or_file(user, "client-key-data", "client-key", dir, &c->key_pem,
				 &c->key_len, err);
	if (r < 0) {
		kv_err_prefix(err, "%s", path);
		return r;
	}
	if (user && kv_jstr(user, "token")) {
		c->token = strdup(kv_jstr(user, "token"));
		if (!c->token)
			return kv_err_set(err, ENOMEM, "out of memory");
	} else if (user && kv_jstr(user, "tokenFile")) {
		size_t len;
		r = read_rel(dir, kv_jstr(user, "tokenFile"), &c->token, &len, err);
		if (r < 0)
			return r;
		strip(c->token);
		c->token_file = strdup(kv_jstr(user, "tokenFile"));
	}
	if (kv_jstr(ctx, "namespace"))
		c->namespace = strdup(kv_jstr(ctx, "namespace"));
	*out = TAKE_PTR(cfg);
	return 0;
}

int k8s_config_in_cluster(struct k8s_config **out, struct kv_err **err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return kv_err_set(err, ENOENT,
				  "not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set");
	struct k8s_config *c = calloc(1, sizeof(*c));
	_cleanup_(k8s_config_freep) struct k8s_config *cfg = c;
	if (!c)
		return kv_err_set(err, ENOMEM, "out of memory");
	c->server = strchr(host, ':') ? kv_strdup_printf("https://[%s]:%s", host, port)
				      : kv_strdup_printf("https://%s:%s", host, port);
	c->token_file = strdup(SA_DIR "/token");
	if (!c->server || !c->token_file)
		return kv_err_set(err, ENOMEM, "out of memory");
	size_t len;
	int r = read_rel("/", SA_DIR "/token", &c->token, &len, err);
	if (r < 0)
		return r;
	strip(c->token);
	r = read_rel("/", SA_DIR "/ca.crt", &c->ca_pem, &c->ca_len, err);
	if (r < 0)
		return r;
	char *ns = NULL;
	if (kv_read_file(SA_DIR "/namespace", 4096, &ns, &len) == 0) {
		strip(ns);
		c->namespace = ns;
	}
	*out = TAKE_PTR(cfg);
	return 0;
}

int k8s_config_load(const char *path, struct k8s_config **out, struct kv_err **err)
{
	if (path)
		return k8s_config_from_kubeconfig(path, out, err);
	const char *env = getenv("KUBECONFIG");
	if (env && *env) {
		/* Only the first file of a KUBECONFIG list; merging is not supported. */
		_cleanup_free_ char *first = strndup(env, strcspn(env, ":"));
		if (!first)
			return kv_err_set(err, ENOMEM, "out of memory");
		return k8s_config_from_kubeconfig(first, out, err);
	}
	if (getenv("KUBERNETES_SERVICE_HOST"))
		return k8s_config_in_cluster(out, err);
	const char *home = getenv("HOME");
	_cleanup_free_ char *def = kv_strdup_printf("%s/.kube/config", home ? home : "");
	if (!def)
		return kv_err_set(err, ENOMEM, "out of memory");
	if (access(def, R_OK) == 0)
		return k8s_config_from_kubeconfig(def, out, err);
	return kv_err_set(
	    err, ENOENT,
	    "no configuration: pass --kubeconfig, set KUBECONFIG, or run in a cluster");
}
