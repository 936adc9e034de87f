/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The jail of kvirt-vmm (--jail DIR): new mount, PID, IPC, UTS and network
 * namespaces, the files the VM needs bind-mounted into DIR at their own
 * absolute paths, pivot_root(DIR), rlimits.  docs/security.md ("Jail").
 */
#ifndef KVIRT_VMM_JAIL_H
#define KVIRT_VMM_JAIL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "kvirt/err.h"

struct vmm_jail {
	const char *dir; /* NULL: no jail */
	uint64_t nofile; /* RLIMIT_NOFILE; 0: leave as is */
	uint64_t fsize;	 /* RLIMIT_FSIZE in bytes; 0: leave as is */
	bool keep_netns; /* a tap device lives in the caller's network namespace */
};

/*
 * Enter the jail.  Forks: the calling process stays outside as a supervisor
 * that forwards SIGINT/SIGTERM/SIGHUP to the VMM and exits with its status
 * (it never returns); the child is PID 1 of the new PID namespace, runs in
 * DIR as its root, and returns 0.  The config's paths are rewritten to
 * absolute ones (they stay valid inside: each is bound at the same path).
 * Needs CAP_SYS_ADMIN (root).
 */
int vmm_jail_enter(const struct vmm_jail *j, struct vmm_config *cfg, struct kv_err **err);

#endif
