/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolv.conf parsing for the DHCP server's DNS options.  The file belongs to
 * the pod (kubelet writes it), so it is trusted more than a packet, but it
 * can still hold anything: the parser never fails, it keeps what it can use
 * and counts what it cannot.
 */
#include "kvirt/dhcp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "kvirt/cleanup.h"
#include "kvirt/util.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* A search domain we can put into option 119: letters, digits, '-', '_', '.'. */
static bool valid_domain(const char *s, size_t len)
{
	if (len == 0 || len > DHCP_MAX_NAME)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static void parse_search(const char *p, const char *end, struct dhcp_dns *out)
{
	/* The last search/domain line replaces earlier ones, as in the resolver. */
	out->n_search = 0;
	while (p < end) {
		while (p < end && is_blank(*p))
			p++;
		const char *w = p;
		while (p < end && !is_blank(*p))
			p++;
		size_t wl = (size_t)(p - w);
		if (!wl)
			break;
		/* A trailing dot is the absolute form of the same domain. */
		if (wl > 1 && w[wl - 1] == '.')
			wl--;
		if (!valid_domain(w, wl) || out->n_search >= DHCP_MAX_SEARCH) {
			out->n_ignored++;
			continue;
		}
		memcpy(out->search[out->n_search], w, wl);
		out->search[out->n_search][wl] = '\0';
		out->n_search++;
	}
}

static void parse_line(const char *p, const char *end, struct dhcp_dns *out)
{
	while (p < end && is_blank(*p))
		p++;
	if (p == end)
		return;
	/* A NUL byte means this is not text; the resolver would stop there too. */
	if (memchr(p, '\0', (size_t)(end - p))) {
		out->n_ignored++;
		return;
	}
	/* Comments: '#' or ';' anywhere start one. */
	for (const char *c = p; c < end; c++) {
		if (*c == '#' || *c == ';') {
			end = c;
			break;
		}
	}
	while (end > p && is_blank(end[-1]))
		end--;
	if (p == end)
		return;

	const char *kw = p;
	while (p < end && !is_blank(*p))
		p++;
	size_t kl = (size_t)(p - kw);
	while (p < end && is_blank(*p))
		p++;

	if (kl == 10 && !memcmp(kw, "nameserver", 10)) {
		char addr[INET6_ADDRSTRLEN + 1];
		size_t al = (size_t)(end - p);
		struct in_addr a;
		if (al == 0 || al >= sizeof(addr)) {
			out->n_ignored++;
			return;
		}
		memcpy(addr, p, al);
		addr[al] = '\0';
		/* IPv6 servers cannot go into option 6; the DHCPv6 side would carry them. */
		if (inet_pton(AF_INET, addr, &a) != 1 || out->n_servers >= DHCP_MAX_DNS) {
			out->n_ignored++;
			return;
		}
		out->servers[out->n_servers++] = a;
	} else if ((kl == 6 && !memcmp(kw, "search", 6)) || (kl == 6 && !memcmp(kw, "domain", 6))) {
		parse_search(p, end, out);
	} else if (!(kl == 7 && !memcmp(kw, "options", 7)) &&
		   !(kl == 8 && !memcmp(kw, "sortlist", 8))) {
		out->n_ignored++;
	}
}

void dhcp_resolv_parse(const char *text, size_t len, struct dhcp_dns *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		parse_line(p, le, out);
		p = nl ? nl + 1 : end;
	}
}

int dhcp_resolv_load(const char *path, struct dhcp_dns *out, struct kv_err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = kv_read_file(path, 64 * 1024, &text, &len);
	if (r < 0) {
		errno = -r;
		return kv_err_errno(err, "cannot read %s", path);
	}
	dhcp_resolv_parse(text, len, out);
	return 0;
}
