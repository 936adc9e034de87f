/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small ISO 9660 image writer with Rock Ridge names, for the disks the
 * launcher hands to guests: cloud-init NoCloud (volume id "cidata"),
 * ConfigDrive ("config-2", files under openstack/latest/) and
 * configMap/secret/serviceAccount volumes.
 *
 * Primary names are mangled to ISO 9660 d-characters (A-Z 0-9 _, 8.3,
 * ";1"); the real names (case, '-', '.', long names) travel in Rock Ridge NM
 * entries, which Linux, FreeBSD and cloud-init's readers use.  File contents
 * come from the user's YAML, so everything about them is validated and
 * rejected with a message naming the file.
 */
#ifndef KVIRT_ISO9660_H
#define KVIRT_ISO9660_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "kvirt/err.h"

struct kv_iso_file {
	const char *path; /* "user-data", "openstack/latest/meta_data.json"; '/'-separated */
	const void *data;
	size_t len;
};

/* Limits, checked before anything is written. */
#define KV_ISO_MAX_NAME	     160 /* bytes per path component (Rock Ridge NM must fit one record) */
#define KV_ISO_MAX_DEPTH     7	 /* directory levels below the root (ISO 9660 allows 8 in all) */
#define KV_ISO_MAX_FILES     4096
#define KV_ISO_MAX_FILE_SIZE (1ull << 31) /* one extent per file */
#define KV_ISO_MAX_VOLID     32

/*
 * Write an image holding `files` to `fd` (from offset 0; the file is
 * truncated to the image size).  `volume_id` is stored as given (≤ 32
 * printable ASCII characters).  `mtime` stamps every record; 0 means now.
 * Directories are created implicitly from the paths.  Returns the image size
 * in bytes (> 0) or a negative errno with `err` naming what to fix.
 */
int64_t kv_iso_write(int fd, const char *volume_id, const struct kv_iso_file *files, size_t n_files,
		     time_t mtime, struct kv_err **err);

#endif
