/* SPDX-License-Identifier: Apache-2.0 */
/* The libcap-ng wrapper (house rule 3); see include/kvirt/caps.h. */
#include "kvirt/caps.h"

#include <cap-ng.h>
#include <errno.h>
#include <sys/prctl.h>

static int set_no_new_privs(struct kv_err **err)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kv_err_errno(err, "caps: PR_SET_NO_NEW_PRIVS");
	return 0;
}

/*
 * Apply the state prepared in libcap-ng: with the bounding set when we hold
 * CAP_SETPCAP (root; note CAPNG_SELECT_BOTH already includes the bounding set), else only the process sets (an unprivileged caller has
 * nothing there to drop that could be regained without exec of a setuid
 * binary, which no_new_privs forbids).
 */
static int apply(bool bounds, struct kv_err **err)
{
	capng_select_t set =
	    bounds ? CAPNG_SELECT_ALL : (capng_select_t)(CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT);
	if (capng_apply(set) != 0)
		return kv_err_set(err, EPERM,
				  "caps: libcap-ng could not apply the capability sets");
	return 0;
}

int kv_caps_drop_all(uid_t uid, gid_t gid, struct kv_err **err)
{
	capng_get_caps_process();
	/* Asked before clearing: clearing the libcap-ng state forgets it. */
	bool bounds = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_ALL);
	if (uid != (uid_t)-1 || gid != (gid_t)-1) {
		/*
		 * Switches gid, drops supplementary groups, switches uid and
		 * applies the (empty) sets, clearing the bounding set first.
		 */
		int r = capng_change_id(uid != (uid_t)-1 ? (int)uid : -1,
					gid != (gid_t)-1 ? (int)gid : -1,
					CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
		if (r != 0)
			return kv_err_set(err, EPERM,
					  "caps: cannot switch to uid %d gid %d (libcap-ng %d)",
					  (int)uid, (int)gid, r);
	} else {
		int r = apply(bounds, err);
		if (r < 0)
			return r;
	}
	/* Fail closed: verify what the kernel now reports. */
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
		return kv_err_set(err, EPERM, "caps: capabilities remain after dropping them");
	return set_no_new_privs(err);
}

int kv_caps_keep_only(const int *caps, size_t ncaps, struct kv_err **err)
{
	capng_get_caps_process();
	for (size_t i = 0; i < ncaps; i++)
		if (!capng_have_capability(CAPNG_PERMITTED, (unsigned)caps[i]))
			return kv_err_set(err, EPERM, "caps: %s is not permitted to this process",
					  capng_capability_to_name((unsigned)caps[i]));
	bool bounds = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_ALL);
	for (size_t i = 0; i < ncaps; i++)
		if (capng_update(CAPNG_ADD,
				 CAPNG_EFFECTIVE | CAPNG_PERMITTED |
				     (bounds ? CAPNG_BOUNDING_SET : 0),
				 (unsigned)caps[i]) != 0)
			return kv_err_set(err, EINVAL, "caps: cannot keep capability %d", caps[i]);
	int r = apply(bounds, err);
	return r < 0 ? r : set_no_new_privs(err);
}

bool kv_caps_have(int cap)
{
	capng_get_caps_process();
	/* (reads the kernel's view; the libcap-ng state is per thread) */
	return capng_have_capability(CAPNG_EFFECTIVE, (unsigned)cap);
}
