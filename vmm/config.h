/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM configuration: one plain struct, filled from a JSON file
 * (`--config vm.json`) and/or command-line flags, and validated as a whole
 * before /dev/kvm is opened (house rule 4).  Every error names the field.
 */
#ifndef KVIRT_VMM_CONFIG_H
#define KVIRT_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "kvirt/err.h"

#define VMM_MAX_CPUS	     64
#define VMM_MIN_MEMORY	     (32ull << 20)
#define VMM_MAX_MEMORY	     (1ull << 40)
#define VMM_MAX_CMDLINE	     4096
#define VMM_CONFIG_MAX_BYTES (1u << 20)

enum vmm_serial_kind {
	VMM_SERIAL_STDIO = 0, /* default: the console is this process's stdin/stdout */
	VMM_SERIAL_FILE,      /* output appended to a file; no input */
	VMM_SERIAL_UNIX,      /* a listening unix socket; one client at a time */
	VMM_SERIAL_NONE,
};

enum vmm_hugepages {
	VMM_HUGEPAGES_NONE = 0,
	VMM_HUGEPAGES_THP, /* madvise(MADV_HUGEPAGE) on guest RAM */
};

#define VMM_MAX_DISKS	       8
#define VMM_MAX_DISK_QUEUES    16
#define VMM_DEFAULT_QUEUE_SIZE 256

enum vmm_disk_cache {
	VMM_CACHE_WRITEBACK = 0, /* host page cache; FLUSH -> fdatasync */
	VMM_CACHE_NONE,		 /* O_DIRECT */
};

enum vmm_disk_backend {
	VMM_BACKEND_AUTO = 0, /* io_uring, else the thread pool */
	VMM_BACKEND_IO_URING,
	VMM_BACKEND_THREADS,
};

struct vmm_disk {
	char *path;
	char *serial; /* VIRTIO_BLK_T_GET_ID; NULL: none */
	bool readonly;
	enum vmm_disk_cache cache;
	enum vmm_disk_backend backend;
	unsigned queues;     /* 0: one per vCPU */
	unsigned queue_size; /* power of two, 2..1024 */
	bool no_coalesce;    /* coalesce=off: interrupt at every completion */
};

#define VMM_MAX_NETS	    4
#define VMM_MAX_NET_QUEUES  8 /* queue pairs per interface (VIRTIO_NET_MAX_PAIRS) */
#define VMM_DEFAULT_NET_MTU 1500

/* A virtio-net interface on a tap: tap=NAME (created/attached here) or fd=N[:N...]. */
struct vmm_net {
	char *tap;		     /* NULL when fds are given */
	int fds[VMM_MAX_NET_QUEUES]; /* already-open tap queue fds (from the launcher) */
	unsigned nfds;
	uint8_t mac[6]; /* default 52:54:00:12:34:56 + index */
	bool has_mac;
	unsigned queues;     /* queue pairs; 0: one per vCPU (tap=) or one per fd */
	unsigned mtu;	     /* 68..65535; 0: 1500 */
	unsigned queue_size; /* power of two, 2..1024 */
};

struct vmm_config {
	char *kernel;
	char *initrd;  /* NULL: none */
	char *cmdline; /* never NULL after vmm_config_finish() */
	unsigned cpus;
	/* Guest CPU topology; 0 = not given.  vmm_config_validate() fills
	 * them: cpus sockets of one core and one thread unless asked
	 * otherwise (KubeVirt's and QEMU's default), product = cpus. */
	unsigned sockets, cores, threads;
	uint64_t memory; /* bytes */
	enum vmm_serial_kind serial;
	char *serial_path; /* for file: and unix: */
	enum vmm_hugepages hugepages;
	bool pit;	     /* emulate the i8254 PIT (KVM_CREATE_PIT2); off by default */
	bool reboot_restart; /* on_reboot=restart: reset in place instead of exit 2 */
	char *api_path;	     /* control socket (--api unix:PATH); NULL: none */
	struct vmm_disk disks[VMM_MAX_DISKS];
	unsigned ndisks;
	struct vmm_net nets[VMM_MAX_NETS];
	unsigned nnets;
};

void vmm_config_init(struct vmm_config *cfg);
void vmm_config_clear(struct vmm_config *cfg);

/* Merge a JSON document (the same fields as the flags; see docs/vmm.md). */
int vmm_config_from_json(struct vmm_config *cfg, const char *buf, size_t len, const char *what,
			 struct kv_err **err);
int vmm_config_load_file(struct vmm_config *cfg, const char *path, struct kv_err **err);

/* Set one field from its textual form, as a flag gives it ("memory", "512M"). */
int vmm_config_set(struct vmm_config *cfg, const char *field, const char *value,
		   struct kv_err **err);

/* Defaults + whole-config validation, including that the files can be opened. */
int vmm_config_finish(struct vmm_config *cfg, struct kv_err **err);
/* The same without touching the filesystem when !check_files (fuzzing). */
int vmm_config_validate(struct vmm_config *cfg, bool check_files, struct kv_err **err);

#endif
