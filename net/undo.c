/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The undo journal.  Setup code records the inverse of a step *before* it
 * performs the step and drops the record again if the step fails
 * (net_undo_drop_last), so at any moment the journal holds exactly the
 * inverses of what was done.  Replaying it newest first restores the
 * namespace even after a partial setup.
 */
#include "kvirt/net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "net-private.h"

enum undo_kind {
	UNDO_LINK_DEL,
	UNDO_LINK_UP,
	UNDO_LINK_MAC,
	UNDO_LINK_MTU,
	UNDO_LINK_MASTER,
	UNDO_ADDR_ADD,
	UNDO_ROUTE_ADD,
	UNDO_SYSCTL,
	UNDO_NFT_TABLE,
};

struct undo_entry {
	enum undo_kind kind;
	int ifindex;
	char name[IFNAMSIZ];
	union {
		bool up;
		uint8_t mac[6];
		uint32_t mtu;
		int master;
		struct net_addr addr;
		struct net_route route;
	};
	/* sysctl path + value, or nft binary + table */
	char *s1, *s2;
};

struct net_undo {
	struct undo_entry *v;
	size_t n, cap;
	size_t recorded; /* steps ever recorded, for the fail_at test hook */
	size_t fail_at;
};

int net_undo_new(struct net_undo **out)
{
	struct net_undo *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	*out = u;
	return 0;
}

static void entry_clear(struct undo_entry *e)
{
	free(e->s1);
	free(e->s2);
	e->s1 = e->s2 = NULL;
}

void net_undo_free(struct net_undo *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++)
		entry_clear(&u->v[i]);
	free(u->v);
	free(u);
}

size_t net_undo_len(const struct net_undo *u)
{
	return u ? u->n : 0;
}

void net_undo_fail_at(struct net_undo *u, size_t n)
{
	u->fail_at = n;
}

void net_undo_drop_last(struct net_undo *u)
{
	if (u->n) {
		u->n--;
		entry_clear(&u->v[u->n]);
	}
}

static struct undo_entry *push(struct net_undo *u, enum undo_kind kind, int *r)
{
	u->recorded++;
	if (u->fail_at && u->recorded == u->fail_at) {
		*r = -ECANCELED;
		return NULL;
	}
	if (u->n == u->cap) {
		size_t nc = u->cap ? u->cap * 2 : 16;
		struct undo_entry *nv = realloc(u->v, nc * sizeof(*nv));
		if (!nv) {
			*r = -ENOMEM;
			return NULL;
		}
		u->v = nv;
		u->cap = nc;
	}
	struct undo_entry *e = &u->v[u->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	*r = 0;
	return e;
}

int net_undo_link_del(struct net_undo *u, const char *name)
{
	int r;
	struct undo_entry *e = push(u, UNDO_LINK_DEL, &r);
	if (e)
		snprintf(e->name, sizeof(e->name), "%s", name);
	return r;
}

int net_undo_link_up(struct net_undo *u, int ifindex, bool up)
{
	int r;
	struct undo_entry *e = push(u, UNDO_LINK_UP, &r);
	if (e) {
		e->ifindex = ifindex;
		e->up = up;
	}
	return r;
}

int net_undo_link_mac(struct net_undo *u, int ifindex, const uint8_t mac[6])
{
	int r;
	struct undo_entry *e = push(u, UNDO_LINK_MAC, &r);
	if (e) {
		e->ifindex = ifindex;
		memcpy(e->mac, mac, 6);
	}
	return r;
}

int net_undo_link_mtu(struct net_undo *u, int ifindex, uint32_t mtu)
{
	int r;
	struct undo_entry *e = push(u, UNDO_LINK_MTU, &r);
	if (e) {
		e->ifindex = ifindex;
		e->mtu = mtu;
	}
	return r;
}

int net_undo_link_master(struct net_undo *u, int ifindex, int master)
{
	int r;
	struct undo_entry *e = push(u, UNDO_LINK_MASTER, &r);
	if (e) {
		e->ifindex = ifindex;
		e->master = master;
	}
	return r;
}

int net_undo_addr_add(struct net_undo *u, const struct net_addr *a)
{
	int r;
	struct undo_entry *e = push(u, UNDO_ADDR_ADD, &r);
	if (e)
		e->addr = *a;
	return r;
}

int net_undo_route_add(struct net_undo *u, const struct net_route *rt)
{
	int r;
	struct undo_entry *e = push(u, UNDO_ROUTE_ADD, &r);
	if (e)
		e->route = *rt;
	return r;
}

static int push_strings(struct net_undo *u, enum undo_kind kind, const char *a, const char *b)
{
	int r;
	struct undo_entry *e = push(u, kind, &r);
	if (!e)
		return r;
	e->s1 = strdup(a);
	e->s2 = strdup(b);
	if (!e->s1 || !e->s2) {
		net_undo_drop_last(u);
		return -ENOMEM;
	}
	return 0;
}

int net_undo_sysctl(struct net_undo *u, const char *path, const char *old_value)
{
	return push_strings(u, UNDO_SYSCTL, path, old_value);
}

int net_undo_nft_table(struct net_undo *u, const char *nft, const char *table)
{
	return push_strings(u, UNDO_NFT_TABLE, nft, table);
}

static int undo_one(struct net_nl *nl, const struct undo_entry *e, struct kv_err **err)
{
	struct net_link l;
	int r;
	switch (e->kind) {
	case UNDO_LINK_DEL:
		/* A tap goes away by itself with its last fd: already gone is fine. */
		r = net_link_get(nl, e->name, &l, NULL);
		if (r == -ENODEV)
			return 0;
		if (r < 0)
			return net_link_get(nl, e->name, &l, err);
		return net_link_del(nl, l.ifindex, err);
	case UNDO_LINK_UP:
	case UNDO_LINK_MAC:
	case UNDO_LINK_MTU:
	case UNDO_LINK_MASTER:
		/*
		 * A link that is gone has nothing left to restore: the tap
		 * vanishes as soon as its last fd is closed, before its
		 * "release from the bridge" inverse runs.
		 */
		if (net_link_get_by_index(nl, e->ifindex, &l, NULL) == -ENODEV)
			return 0;
		if (e->kind == UNDO_LINK_UP)
			return net_link_set_up(nl, e->ifindex, e->up, err);
		if (e->kind == UNDO_LINK_MAC)
			return net_link_set_mac(nl, e->ifindex, e->mac, err);
		if (e->kind == UNDO_LINK_MTU)
			return net_link_set_mtu(nl, e->ifindex, e->mtu, err);
		return net_link_set_master(nl, e->ifindex, e->master, err);
	case UNDO_ADDR_ADD:
		r = net_addr_add(nl, &e->addr, NULL);
		return r == -EEXIST ? 0 : r < 0 ? net_addr_add(nl, &e->addr, err) : 0;
	case UNDO_ROUTE_ADD:
		r = net_route_add(nl, &e->route, NULL);
		return r == -EEXIST ? 0 : r < 0 ? net_route_add(nl, &e->route, err) : 0;
	case UNDO_SYSCTL: return net_sysctl_set(e->s1, e->s2, NULL, 0, err);
	case UNDO_NFT_TABLE: {
		_cleanup_free_ char *rules = kv_strdup_printf("delete table ip %s\n", e->s2);
		if (!rules)
			return kv_err_set(err, ENOMEM, "out of memory");
		return net_nft_apply(e->s1, rules, err);
	}
	}
	return 0;
}

int net_undo_run(struct net_undo *u, struct net_nl *nl, struct kv_err **err)
{
	int first = 0;
	if (!u)
		return 0;
	/* Keep going past failures: every later inverse still gets its chance. */
	while (u->n) {
		struct kv_err *e = NULL;
		int r = undo_one(nl, &u->v[u->n - 1], &e);
		if (r < 0) {
			if (!first)
				first = r;
			if (err && !*err) {
				*err = e;
			} else {
				/* Only the first failure is returned; the rest still deserve a trace. */
				kv_warn("undo: %s", kv_err_msg(e));
				kv_err_free(e);
			}
		}
		net_undo_drop_last(u);
	}
	return first;
}
