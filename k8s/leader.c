/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leader election on a coordination.k8s.io/v1 Lease, the way client-go does
 * it: try every retry period; the holder renews; anyone else takes over
 * only when the lease record has not changed for leaseDurationSeconds as
 * measured on *our* clock (no clock-skew trust in renewTime); writes carry
 * the resourceVersion, so two candidates cannot both win.  A leader that
 * cannot renew within the renew deadline stops leading.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvirt/cleanup.h"
#include "kvirt/k8s.h"
#include "kvirt/log.h"
#include "kvirt/util.h"

struct k8s_leader {
	struct k8s_client *c;
	struct k8s_leader_opts o;
	char *ns, *name, *identity;
	struct k8s_timer timer;
	bool leader, busy, released;
	uint64_t last_renew_ns;	 /* our last successful renew */
	char *observed_record;	 /* holder + renewTime we last saw */
	uint64_t observed_at_ns; /* when it last changed */
	k8s_hook_fn release_done;
	void *release_data;
};

static void attempt(struct k8s_leader *l);
static void release_now(struct k8s_leader *l);
static void release_finish(struct k8s_leader *l);

/*
 * A release requested while a call was in flight is carried out when that
 * call returns: the in-flight renew must not re-acquire after the release.
 */
static bool release_pending(struct k8s_leader *l, bool held)
{
	if (!l->released)
		return false;
	l->busy = false;
	l->leader = false;
	if (held)
		release_now(l);
	else
		release_finish(l);
	return true;
}

static void schedule(struct k8s_leader *l)
{
	if (!l->released)
		k8s_timer_start(l->c->loop, &l->timer, (uint64_t)l->o.retry_period_s * 1000);
}

static void lose(struct k8s_leader *l, const char *why)
{
	if (!l->leader)
		return;
	l->leader = false;
	kv_warn("leader election: lost the lease %s/%s: %s", l->ns, l->name, why);
	if (l->o.stopped)
		l->o.stopped(l->o.ud);
}

static void write_done(void *ud, const struct k8s_result *r)
{
	struct k8s_leader *l = ud;
	if (release_pending(l, !r->err || l->leader))
		return;
	l->busy = false;
	if (r->err) {
		if (l->leader && kv_now_ns() - l->last_renew_ns >
				     (uint64_t)l->o.renew_deadline_s * 1000000000ull)
			lose(l, r->message);
		kv_debug("leader election: write failed: %s", r->message);
		schedule(l);
		return;
	}
	l->last_renew_ns = kv_now_ns();
	if (!l->leader) {
		l->leader = true;
		kv_info("leader election: %s now holds the lease %s/%s", l->identity, l->ns,
			l->name);
		if (l->o.started)
			l->o.started(l->o.ud);
	}
	schedule(l);
}

static json_t *lease_spec(struct k8s_leader *l, const char *acquire, int transitions)
{
	char now[40];
	k8s_microtime_now(now);
	return json_pack("{s:s,s:i,s:s,s:s,s:i}", "holderIdentity", l->identity,
			 "leaseDurationSeconds", (int)l->o.lease_duration_s, "acquireTime",
			 acquire ? acquire : now, "renewTime", now, "leaseTransitions",
			 transitions);
}

static void get_done(void *ud, const struct k8s_result *r)
{
	struct k8s_leader *l = ud;
	if (release_pending(l, l->leader))
		return;
	if (r->err == -ENOENT) {
		_cleanup_json_t_ json_t *lease =
		    json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion", "coordination.k8s.io/v1",
			      "kind", "Lease", "metadata", "name", l->name, "namespace", l->ns,
			      "spec", lease_spec(l, NULL, 0));
		if (!lease || k8s_create(l->c, &k8s_res_leases, l->ns, lease, write_done, l) < 0) {
			l->busy = false;
			schedule(l);
		}
		return;
	}
	if (r->err) {
		l->busy = false;
		if (l->leader && kv_now_ns() - l->last_renew_ns >
				     (uint64_t)l->o.renew_deadline_s * 1000000000ull)
			lose(l, r->message);
		schedule(l);
		return;
	}
	json_t *lease = r->body;
	const char *holder = kv_jstr_or(lease, "spec.holderIdentity", "");
	const char *renew = kv_jstr_or(lease, "spec.renewTime", "");
	long long duration = kv_jint(lease, "spec.leaseDurationSeconds", l->o.lease_duration_s);
	_cleanup_free_ char *record = kv_strdup_printf("%s|%s", holder, renew);
	uint64_t now = kv_now_ns();
	if (record && !kv_jstr_eq(record, l->observed_record)) {
		free(l->observed_record);
		l->observed_record = TAKE_PTR(record);
		l->observed_at_ns = now;
	}
	bool mine = !strcmp(holder, l->identity);
	bool expired = !*holder || now - l->observed_at_ns > (uint64_t)duration * 1000000000ull;
	if (!mine && !expired) {
		l->busy = false;
		lose(l, "another holder renewed it");
		schedule(l);
		return;
	}
	int transitions = (int)kv_jint(lease, "spec.leaseTransitions", 0) + (mine ? 0 : 1);
	json_t *spec = lease_spec(l, mine ? kv_jstr(lease, "spec.acquireTime") : NULL, transitions);
	if (!spec || json_object_set_new(lease, "spec", spec) < 0 ||
	    k8s_update(l->c, &k8s_res_leases, l->ns, l->name, NULL, lease, write_done, l) < 0) {
		l->busy = false;
		schedule(l);
	}
}

static void attempt(struct k8s_leader *l)
{
	if (l->busy || l->released)
		return;
	l->busy = true;
	if (k8s_get(l->c, &k8s_res_leases, l->ns, l->name, get_done, l) < 0) {
		l->busy = false;
		schedule(l);
	}
}

static void on_timer(struct k8s_timer *t)
{
	attempt(t->data);
}

int k8s_leader_new(struct k8s_client *c, const struct k8s_leader_opts *o, struct k8s_leader **out,
		   struct kv_err **err)
{
	struct k8s_leader *l = calloc(1, sizeof(*l));
	if (!l)
		return kv_err_set(err, ENOMEM, "out of memory");
	l->c = c;
	l->o = *o;
	if (!l->o.lease_duration_s)
		l->o.lease_duration_s = 15;
	if (!l->o.renew_deadline_s)
		l->o.renew_deadline_s = l->o.lease_duration_s * 2 / 3;
	if (!l->o.retry_period_s)
		l->o.retry_period_s = l->o.lease_duration_s / 5 ? l->o.lease_duration_s / 5 : 1;
	l->ns = strdup(o->ns);
	l->name = strdup(o->name);
	l->identity = strdup(o->identity);
	if (!l->ns || !l->name || !l->identity) {
		k8s_leader_free(l);
		return kv_err_set(err, ENOMEM, "out of memory");
	}
	l->timer = (struct k8s_timer){ .fn = on_timer, .data = l };
	*out = l;
	return 0;
}

void k8s_leader_free(struct k8s_leader *l)
{
	if (!l)
		return;
	k8s_timer_stop(l->c->loop, &l->timer);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l->observed_record);
	free(l);
}

int k8s_leader_start(struct k8s_leader *l)
{
	attempt(l);
	return 0;
}

bool k8s_leader_is_leader(const struct k8s_leader *l)
{
	return l->leader;
}

static void release_finish(struct k8s_leader *l)
{
	k8s_hook_fn done = l->release_done;
	l->release_done = NULL;
	if (done)
		done(l->c->loop, l->release_data);
}

static void release_done(void *ud, const struct k8s_result *r)
{
	struct k8s_leader *l = ud;
	if (!r->err)
		kv_info("leader election: released the lease %s/%s", l->ns, l->name);
	release_finish(l);
}

static void release_get_done(void *ud, const struct k8s_result *r)
{
	struct k8s_leader *l = ud;
	json_t *lease = r->body;
	if (r->err || !kv_jstr_eq(kv_jstr(lease, "spec.holderIdentity"), l->identity)) {
		release_finish(l);
		return;
	}
	char now[40];
	k8s_microtime_now(now);
	/* client-go's release: empty holder, 1 s duration, so a standby takes over at once. */
	kv_jset(lease, "spec.holderIdentity", json_string(""));
	kv_jset(lease, "spec.leaseDurationSeconds", json_integer(1));
	kv_jset(lease, "spec.renewTime", json_string(now));
	if (k8s_update(l->c, &k8s_res_leases, l->ns, l->name, NULL, lease, release_done, l) < 0)
		release_finish(l);
}

static void release_now(struct k8s_leader *l)
{
	if (k8s_get(l->c, &k8s_res_leases, l->ns, l->name, release_get_done, l) < 0)
		release_finish(l);
}

void k8s_leader_release(struct k8s_leader *l, k8s_hook_fn done, void *data)
{
	l->released = true;
	k8s_timer_stop(l->c->loop, &l->timer);
	l->release_done = done;
	l->release_data = data;
	if (l->busy)
		return; /* finished by the call in flight (release_pending) */
	if (!l->leader) {
		release_finish(l);
		return;
	}
	l->leader = false;
	release_now(l);
}
