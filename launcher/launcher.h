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
#include "kvirt/net.h"

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

#define KVL_MAX_PORTS 64
#define KVL_POD_IFACE "eth0"

/* The VMI's pod network (launcher/net.c); wanted false: no interface. */
struct kvl_net {
	bool wanted;
	char *name, *hostname;
	enum net_binding_kind kind;
	unsigned queues;
	bool has_mac;
	uint8_t mac[6];
	struct net_port ports[KVL_MAX_PORTS];
	size_t n_ports;
	char pod_ip[16]; /* eth0's primary IPv4 address before setup ("" if none) */
	struct net_binding *b;
	struct dhcp_server *srv;
};

struct kvl_plan {
	char *name, *namespace, *uid;
	char *run_dir;
	bool run_dir_created; /* removed on exit only when we made it */
	char *kernel, *initrd, *cmdline;
	bool default_kernel; /* no kernelBoot: the launcher's switch-root kernel */
	unsigned vcpus;
	unsigned sockets, cores, threads; /* the guest's CPU topology (KubeVirt's) */
	uint64_t memory;
	long long grace_seconds;
	uint64_t start_ns; /* launcher start (kv_now_ns), for the spawn timing log */
	struct kvl_disk disks[KVL_MAX_DISKS];
	unsigned ndisks;
	struct kvl_net net;
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
	/*
	 * --network pod: set the VMI's interface up in the current network
	 * namespace (default with --downward, i.e. in the launcher pod);
	 * false (--network none, the default for a file): no NIC, the
	 * namespace is left alone, so a run on a workstation never takes the
	 * host's eth0.
	 */
	bool pod_network;
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

/*
 * Network (launcher/net.c).  kvl_net_plan() translates and checks the
 * interface (errors name the field; nothing is touched); kvl_net_setup()
 * builds the binding and the DHCP server in the current network namespace
 * (undone by itself on failure); kvl_net_teardown() restores the namespace.
 */
int kvl_net_plan(const json_t *vmi, unsigned vcpus, struct kvl_net *n, struct kv_err **err);
int kvl_net_setup(struct kvl_net *n, struct kv_err **err);
int kvl_net_teardown(struct kvl_net *n);
json_t *kvl_net_vmm_config(const struct kvl_net *n); /* the "nets" array */
json_t *kvl_net_status(const struct kvl_net *n);     /* status "interfaces" */
void kvl_net_child_fds(const struct kvl_net *n);     /* in the VMM child: keep tap fds */

/* Spawn the VMM and supervise it; returns the launcher's exit status. */
int kvl_run(struct kvl_plan *plan, const char *vmm_path, bool forward_stdin);

/* `kvirt-launcher console SOCKET`: attach the terminal. */
int kvl_console(const char *socket_path);

#endif
