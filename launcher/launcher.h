/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvirt-launcher internals: a VMI document becomes a plan (what the VMM
 * gets: kernel, memory, vCPUs, disk files) whose scratch files live in one
 * run directory; then the lifecycle (spawn kvirt-vmm, control socket,
 * console, signals).  docs/launcher.md describes the behaviour.
 */
#ifndef KVIRT_LAUNCHER_H
#define KVIRT_LAUNCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvirt/err.h"
#include "kvirt/json.h"

/* Exit status of `kvirt-launcher run` (docs/launcher.md). */
enum kvl_exit {
	KVL_EXIT_POWEROFF = 0,	/* the guest powered off */
	KVL_EXIT_INVALID = 1,	/* bad input or a volume could not be prepared; nothing ran */
	KVL_EXIT_REBOOT = 2,	/* the guest rebooted (the caller restarts it) */
	KVL_EXIT_CRASH = 3,	/* the guest crashed (panic, triple fault) */
	KVL_EXIT_VMM_ERROR = 4, /* kvirt-vmm failed or died unexpectedly */
	KVL_EXIT_GRACE =
	    5, /* SIGTERM: the guest ignored the power button; killed at the grace end */
	KVL_EXIT_KILLED = 6, /* "kill" on the control socket */
};

#define KVL_MAX_DISKS 8

struct kvl_disk {
	char *name;   /* the VMI disk name */
	char *path;   /* the file the VMM serves */
	char *serial; /* NULL: none */
	bool readonly;
	const char *source; /* containerDisk, emptyDisk, ... (for status) */
};

struct kvl_plan {
	char *name, *namespace, *uid;
	char *run_dir;
	bool run_dir_created; /* removed on exit only when we made it */
	char *kernel, *initrd, *cmdline;
	bool default_kernel; /* no kernelBoot: the launcher's switch-root kernel */
	unsigned vcpus;
	uint64_t memory;
	long long grace_seconds;
	uint64_t start_ns; /* launcher start (kv_now_ns), for the spawn timing log */
	struct kvl_disk disks[KVL_MAX_DISKS];
	unsigned ndisks;
	/*
	 * The VMM's jail (docs/launcher.md "Jail"): on by default when the
	 * launcher runs as root.  jail_dir is <run_dir>/jail, made by kvl_run.
	 */
	bool jail;
	unsigned jail_uid, jail_gid;
	char *jail_dir;
};

/* Default unprivileged uid/gid of the jailed VMM: KubeVirt's "qemu" user. */
#define KVL_JAIL_DEFAULT_ID 107

struct kvl_options {
	const char *base_dir;	 /* relative image paths resolve here (the manifest's dir) */
	const char *run_dir;	 /* NULL: $XDG_RUNTIME_DIR/kvirt/<vmi> or /run/kvirt/<vmi> */
	const char *volume_root; /* configMap/secret/serviceAccount files */
	const char *kernel_dir;	 /* the default kernel (vmlinuz + initramfs-root.cpio.gz) */
	const char *extra_cmdline;
};

/*
 * Read a VMI (or a VM, whose spec.template is used) as YAML or JSON from
 * `path` ("-" = stdin), then schema-check, default and validate it.
 */
int kvl_load(const char *path, json_t **vmi, struct kv_err **err);
/* The same from memory (`what` names the source in errors); fuzzed. */
int kvl_load_text(const char *text, size_t len, const char *what, json_t **vmi,
		  struct kv_err **err);
/* Standard or URL-safe base64, whitespace ignored; -EINVAL/-ENOMEM.  Fuzzed. */
int kvl_base64_decode(const char *in, char **out, size_t *out_len);
/* Everything before the VMM starts: the plan and the files in the run dir. */
int kvl_prepare(json_t *vmi, const struct kvl_options *o, struct kvl_plan *plan,
		struct kv_err **err);
/* Remove scratch files and the run directory; free the plan. */
void kvl_plan_cleanup(struct kvl_plan *plan);

/* The VMM config as JSON text (malloc'd). */
char *kvl_vmm_config(const struct kvl_plan *plan, const char *api_path);

/* Spawn the VMM and supervise it; returns the launcher's exit status. */
int kvl_run(struct kvl_plan *plan, const char *vmm_path, bool forward_stdin);

/* `kvirt-launcher console SOCKET`: attach the terminal. */
int kvl_console(const char *socket_path);

#endif
