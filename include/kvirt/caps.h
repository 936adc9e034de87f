/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Capabilities (the only user of libcap-ng: common/caps.c).  Failures fail
 * closed: the caller gets an error and must not go on running.
 */
#ifndef KVIRT_CAPS_H
#define KVIRT_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "kvirt/err.h"

/*
 * Drop every capability: effective, permitted, inheritable, ambient, and the
 * bounding set when this process may (CAP_SETPCAP), then set no_new_privs.
 * With uid/gid != -1 also switch to them (supplementary groups dropped)
 * first keeping nothing.  Afterwards CapEff/CapPrm are 0 in /proc/self/status.
 */
int kv_caps_drop_all(uid_t uid, gid_t gid, struct kv_err **err);

/*
 * Keep only `caps` (CAP_* numbers) in the effective and permitted sets and
 * drop all others, including from the bounding set where permitted; for a
 * launcher that needs e.g. CAP_NET_ADMIN during network setup only.  Later
 * kv_caps_drop_all() removes the kept ones from the effective, permitted and
 * ambient sets; they stay in the bounding set (clearing it needs
 * CAP_SETPCAP, which is not kept), which is harmless: no_new_privs stops
 * exec from gaining anything from it.
 */
int kv_caps_keep_only(const int *caps, size_t ncaps, struct kv_err **err);

/* Whether `cap` is in the effective set. */
bool kv_caps_have(int cap);

#endif
