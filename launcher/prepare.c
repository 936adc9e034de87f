/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VMI -> plan: the VMI document is read (YAML or JSON), checked, defaulted
 * and validated by the shared model (common/vmi.c), then translated into
 * what kvirt-vmm needs, and every volume is turned into a file the VMM can
 * serve: containerDisk (raw copied, qcow2 converted, both sparse), emptyDisk
 * (sparse file), hostDisk (used in place), cloud-init and config volumes
 * (ISO 9660 images).  Scratch files live in one run directory that
 * kvl_plan_cleanup() removes.  Every error names the field or file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fs.h>

#include "kvirt/cleanup.h"
#include "kvirt/iso9660.h"
#include "kvirt/log.h"
#include "kvirt/qcow2.h"
#include "kvirt/util.h"
#include "kvirt/vmi.h"
#include "kvirt/yaml.h"
#include "launcher.h"

#define KVL_INPUT_MAX	   (4u << 20)
#define KVL_CONFIG_MAX	   (16u << 20) /* all files of one configMap/secret volume */
#define KVL_DEFAULT_KERNEL "vmlinuz"
#define KVL_DEFAULT_INITRD "initramfs-root.cpio.gz"

static void warn_cb(void *ud, const char *reason, const char *message)
{
	kv_warn("%s: %s", reason, message);
}

static int read_all_fd(int fd, char **out, size_t *out_len, struct kv_err **err)
{
	size_t cap = 65536, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return kv_err_set(err, ENOMEM, "out of memory");
	for (;;) {
		if (len + 1 == cap) {
			if (cap >= KVL_INPUT_MAX)
				return kv_err_set(err, EFBIG, "input: larger than 4 MiB");
			char *n = realloc(buf, cap * 2);
			if (!n)
				return kv_err_set(err, ENOMEM, "out of memory");
			buf = n;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return kv_err_errno(err, "input: read");
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = 0;
	*out = TAKE_PTR(buf);
	*out_len = len;
	return 0;
}

int kvl_load(const char *path, json_t **vmi_out, struct kv_err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;
	if (!strcmp(path, "-"))
		r = read_all_fd(STDIN_FILENO, &text, &len, err);
	else
		r = kv_read_file_err(path, KVL_INPUT_MAX, &text, &len, err);
	if (r < 0)
		return r;
	return kvl_load_text(text, len, strcmp(path, "-") ? path : "stdin", vmi_out, err);
}

int kvl_load_text(const char *text, size_t len, const char *what, json_t **vmi_out,
		  struct kv_err **err)
{
	int r;
	size_t i = 0;
	while (i < len && text[i] && strchr(" \t\r\n", text[i]))
		i++;
	_cleanup_json_t_ json_t *doc = NULL;
	/* JSON (the downward-API file) is parsed as JSON: exact, duplicate keys refused. */
	if (i < len && text[i] == '{')
		r = kv_json_loadb(text, len, what, &doc, err);
	else
		r = kv_yaml_load(text, len, what, &doc, err);
	if (r < 0)
		return r;
	if (!json_is_object(doc))
		return kv_err_set(err, EINVAL, "%s: not a VirtualMachineInstance object", what);
	const char *kind = kv_jstr(doc, "kind");
	if (kind && !strcmp(kind, "VirtualMachine")) {
		/* A VM runs as the VMI its template describes, named after the VM. */
		json_t *tmpl = kv_jget(doc, "spec.template");
		if (!json_is_object(tmpl) || !json_is_object(json_object_get(tmpl, "spec")))
			return kv_err_set(err, EINVAL, "spec.template.spec: is required");
		json_t *vmi = json_object();
		json_t *meta = json_object_get(tmpl, "metadata");
		meta = json_is_object(meta) ? json_deep_copy(meta) : json_object();
		if (!vmi || !meta)
			return kv_err_set(err, ENOMEM, "out of memory");
		json_t *vmmeta = json_object_get(doc, "metadata");
		const char *keys[] = { "name", "namespace", "uid" };
		for (size_t k = 0; k < KV_ARRAY_SIZE(keys); k++) {
			json_t *v = json_object_get(vmmeta, keys[k]);
			if (v && !json_object_get(meta, keys[k]))
				json_object_set(meta, keys[k], v);
		}
		json_object_set_new(vmi, "apiVersion", json_string("kubevirt.io/v1"));
		json_object_set_new(vmi, "kind", json_string("VirtualMachineInstance"));
		json_object_set_new(vmi, "metadata", meta);
		json_object_set(vmi, "spec", json_object_get(tmpl, "spec"));
		json_decref(doc);
		doc = vmi;
	}
	r = kv_vmi_load(doc, warn_cb, NULL, err);
	if (r < 0)
		return r;
	*vmi_out = TAKE_PTR(doc);
	return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static char *resolve(const struct kvl_options *o, const char *p)
{
	if (p[0] == '/' || !o->base_dir)
		return strdup(p);
	return kv_strdup_printf("%s/%s", o->base_dir, p);
}

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Standard base64 (whitespace ignored, padding optional). */
int kvl_base64_decode(const char *in, char **out, size_t *out_len)
{
	size_t n = strlen(in);
	_cleanup_free_ char *buf = malloc(n / 4 * 3 + 4);
	if (!buf)
		return -ENOMEM;
	size_t len = 0;
	unsigned acc = 0, bits = 0;
	bool pad = false;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)in[i];
		if (strchr(" \t\r\n", c))
			continue;
		if (c == '=') {
			pad = true;
			continue;
		}
		int v = b64_value(c);
		if (v < 0 || pad)
			return -EINVAL;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[len++] = (char)((acc >> bits) & 0xff);
		}
	}
	buf[len] = 0;
	*out = TAKE_PTR(buf);
	*out_len = len;
	return 0;
}

/* userData / userDataBase64 style pair; *out NULL when neither is set. */
static int text_or_b64(const json_t *src, const char *field, const char *shown, char **out,
		       size_t *len, struct kv_err **err)
{
	*out = NULL;
	*len = 0;
	const char *plain = kv_jstr(src, field);
	_cleanup_free_ char *b64name = kv_strdup_printf("%sBase64", field);
	if (!b64name)
		return kv_err_set(err, ENOMEM, "out of memory");
	const char *b64 = kv_jstr(src, b64name);
	if (plain && b64)
		return kv_err_set(err, EINVAL, "%s: set %s or %s, not both", shown, field, b64name);
	if (plain) {
		*out = strdup(plain);
		*len = strlen(plain);
		return *out ? 1 : kv_err_set(err, ENOMEM, "out of memory");
	}
	if (b64) {
		if (kvl_base64_decode(b64, out, len) < 0)
			return kv_err_set(err, EINVAL, "%s.%s: not valid base64", shown, b64name);
		return 1;
	}
	return 0;
}

static int create_file(const char *path, struct kv_err **err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return kv_err_errno(err, "cannot create %s", path);
	return fd;
}

static int sparse_file(const char *path, uint64_t size, struct kv_err **err)
{
	_cleanup_close_ int fd = create_file(path, err);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)size) < 0)
		return kv_err_errno(err, "cannot size %s", path);
	return 0;
}

/* Copy keeping holes: a reflink when the filesystem can, else data extents only. */
static int sparse_copy(const char *src, const char *dst, struct kv_err **err)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return kv_err_errno(err, "cannot open %s", src);
	struct stat st;
	if (fstat(in, &st) < 0)
		return kv_err_errno(err, "cannot stat %s", src);
	_cleanup_close_ int out = create_file(dst, err);
	if (out < 0)
		return out;
	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	if (ftruncate(out, st.st_size) < 0)
		return kv_err_errno(err, "cannot size %s", dst);
	off_t off = 0;
	while (off < st.st_size) {
		off_t data = lseek(in, off, SEEK_DATA);
		if (data < 0)
			break; /* ENXIO: only a hole is left */
		off_t hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			hole = st.st_size;
		loff_t a = data, b = data;
		while (a < hole) {
			ssize_t n = copy_file_range(in, &a, out, &b, (size_t)(hole - a), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return kv_err_errno(err, "cannot copy %s", src);
		}
		off = hole;
	}
	return 0;
}

/* ---- volumes -------------------------------------------------------------- */

struct prep {
	const struct kvl_options *o;
	struct kvl_plan *plan;
	const json_t *vmi;
};

/* containerDisk: image (file, or directory with `path` or a single file under disk/). */
static int container_disk_file(struct prep *p, const json_t *src, const char *shown, char **out,
			       struct kv_err **err)
{
	const char *image = kv_jstr(src, "image");
	if (!image || !*image)
		return kv_err_set(err, EINVAL, "%s.image: is required", shown);
	_cleanup_free_ char *ipath = resolve(p->o, image);
	if (!ipath)
		return kv_err_set(err, ENOMEM, "out of memory");
	struct stat st;
	if (stat(ipath, &st) < 0)
		return kv_err_errno(err, "%s.image: %s", shown, ipath);
	if (S_ISREG(st.st_mode)) {
		*out = TAKE_PTR(ipath);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return kv_err_set(err, EINVAL, "%s.image: %s is not a file or directory", shown,
				  ipath);
	const char *sub = kv_jstr(src, "path");
	if (sub) {
		*out = kv_strdup_printf("%s/%s", ipath, sub);
		if (!*out)
			return kv_err_set(err, ENOMEM, "out of memory");
		if (stat(*out, &st) < 0 || !S_ISREG(st.st_mode))
			return kv_err_set(err, ENOENT, "%s.path: %s is not a file", shown, *out);
		return 0;
	}
	/* KubeVirt's containerDisk layout: the one image file under /disk. */
	_cleanup_free_ char *dir = kv_strdup_printf("%s/disk", ipath);
	DIR *d = dir ? opendir(dir) : NULL;
	if (!d)
		return kv_err_set(err, ENOENT, "%s.image: %s has no disk/ directory (or set path)",
				  shown, ipath);
	struct dirent *e;
	char *found = NULL;
	int n = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		n++;
		free(found);
		found = kv_strdup_printf("%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (n != 1) {
		free(found);
		return kv_err_set(err, ENOENT, "%s.image: %s must hold exactly one image file",
				  shown, dir);
	}
	*out = found;
	return 0;
}

static int prep_container_disk(struct prep *p, const json_t *src, const char *shown,
			       struct kvl_disk *d, struct kv_err **err)
{
	_cleanup_free_ char *file = NULL;
	int r = container_disk_file(p, src, shown, &file, err);
	if (r < 0)
		return r;
	if (!file)
		return kv_err_set(err, ENOENT, "%s.image: no disk image found", shown);
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kv_err_errno(err, "%s.image: cannot open %s", shown, file);
	uint8_t head[512];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	if (n < 0)
		return kv_err_errno(err, "%s.image: cannot read %s", shown, file);
	d->path = kv_strdup_printf("%s/%s.raw", p->plan->run_dir, d->name);
	if (!d->path)
		return kv_err_set(err, ENOMEM, "out of memory");
	uint64_t t0 = kv_now_ns();
	bool qcow2 = kv_qcow2_probe(head, (size_t)n);
	if (qcow2)
		r = kv_qcow2_convert_to_raw(file, d->path, err);
	else
		r = sparse_copy(file, d->path, err);
	if (r < 0) {
		kv_err_prefix(err, "%s", shown);
		return r;
	}
	kv_info("disk %s: %s %s prepared as sparse raw in %llu ms", d->name,
		qcow2 ? "qcow2" : "raw", file, (unsigned long long)((kv_now_ns() - t0) / 1000000));
	return 0;
}

static int prep_host_disk(struct prep *p, const json_t *src, const char *shown, struct kvl_disk *d,
			  struct kv_err **err)
{
	const char *path = kv_jstr(src, "path");
	const char *type = kv_jstr_or(src, "type", "Disk");
	if (!path || !*path)
		return kv_err_set(err, EINVAL, "%s.path: is required", shown);
	d->path = resolve(p->o, path);
	if (!d->path)
		return kv_err_set(err, ENOMEM, "out of memory");
	struct stat st;
	if (stat(d->path, &st) == 0) {
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return kv_err_set(err, EINVAL, "%s.path: %s is not a file", shown, d->path);
		return 0;
	}
	if (errno != ENOENT || strcmp(type, "DiskOrCreate"))
		return kv_err_errno(err, "%s.path: %s", shown, d->path);
	uint64_t size = 0;
	json_t *cap = kv_jget(src, "capacity");
	if (!cap || kv_quantity_units(cap, &size) < 0 || !size)
		return kv_err_set(err, EINVAL, "%s.capacity: needed to create %s", shown, d->path);
	int r = sparse_file(d->path, size, err);
	if (r >= 0)
		kv_info("disk %s: created hostDisk %s", d->name, d->path);
	return r;
}

static int write_iso(struct prep *p, struct kvl_disk *d, const char *volid,
		     const struct kv_iso_file *files, size_t n, const char *shown,
		     struct kv_err **err)
{
	d->path = kv_strdup_printf("%s/%s.iso", p->plan->run_dir, d->name);
	if (!d->path)
		return kv_err_set(err, ENOMEM, "out of memory");
	_cleanup_close_ int fd = create_file(d->path, err);
	if (fd < 0)
		return fd;
	int64_t r = kv_iso_write(fd, volid, files, n, 0, err);
	if (r < 0) {
		kv_err_prefix(err, "%s", shown);
		return (int)r;
	}
	d->readonly = true;
	return 0;
}

static int prep_cloud_init(struct prep *p, const json_t *src, const char *shown, bool nocloud,
			   struct kvl_disk *d, struct kv_err **err)
{
	if (json_object_get(src, "secretRef") || json_object_get(src, "networkDataSecretRef"))
		return kv_err_set(err, EINVAL,
				  "%s.secretRef: secrets are not available to a standalone "
				  "launcher; use userData or userDataBase64",
				  shown);
	_cleanup_free_ char *user = NULL, *net = NULL, *meta = NULL;
	size_t ulen, nlen;
	int r = text_or_b64(src, "userData", shown, &user, &ulen, err);
	if (r >= 0)
		r = text_or_b64(src, "networkData", shown, &net, &nlen, err);
	if (r < 0)
		return r;
	const char *name = p->plan->name;
	const char *host = kv_jstr_or(p->vmi, "spec.hostname", name);
	/* It lands in meta-data (YAML) verbatim: only DNS characters. */
	if (!*host ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
		strlen(host) ||
	    strlen(host) > 253)
		return kv_err_set(err, EINVAL, "spec.hostname: \"%s\" is not a DNS name", host);
	if (nocloud)
		meta = kv_strdup_printf("instance-id: %s.%s\nlocal-hostname: %s\n", name,
					p->plan->namespace, host);
	else {
		/* JSON built by jansson: names from the YAML are escaped properly. */
		_cleanup_free_ char *iid = kv_strdup_printf("%s.%s", name, p->plan->namespace);
		_cleanup_json_t_ json_t *m =
		    iid ? json_pack("{s:s, s:s, s:s, s:s}", "uuid",
				    p->plan->uid ? p->plan->uid : name, "instance-id", iid,
				    "hostname", host, "name", name)
			: NULL;
		meta = m ? kv_json_dumps(m) : NULL;
	}
	if (!meta)
		return kv_err_set(err, ENOMEM, "out of memory");
	struct kv_iso_file files[3];
	size_t n = 0;
	files[n++] =
	    (struct kv_iso_file){ nocloud ? "meta-data" : "openstack/latest/meta_data.json", meta,
				  strlen(meta) };
	files[n++] = (struct kv_iso_file){ nocloud ? "user-data" : "openstack/latest/user_data",
					   user ? user : "", user ? ulen : 0 };
	if (net)
		files[n++] = (struct kv_iso_file){ nocloud ? "network-config"
							   : "openstack/latest/network_data.json",
						   net, nlen };
	return write_iso(p, d, nocloud ? "cidata" : "config-2", files, n, shown, err);
}

/* configMap / secret / serviceAccount: the regular files of VOLUME_ROOT/<kind>/<name>. */
static int prep_config_volume(struct prep *p, const char *kind, const char *ref, const char *label,
			      const char *shown, struct kvl_disk *d, struct kv_err **err)
{
	if (!ref || !*ref || strchr(ref, '/') || ref[0] == '.')
		return kv_err_set(err, EINVAL, "%s: needs a valid name", shown);
	if (!p->o->volume_root)
		return kv_err_set(err, EINVAL, "%s: needs --volume-root DIR holding %s/%s/", shown,
				  kind, ref);
	_cleanup_free_ char *dir = kv_strdup_printf("%s/%s/%s", p->o->volume_root, kind, ref);
	if (!dir)
		return kv_err_set(err, ENOMEM, "out of memory");
	DIR *dh = opendir(dir);
	if (!dh)
		return kv_err_errno(err, "%s: %s", shown, dir);
	struct kv_iso_file files[64];
	char *bufs[64], *names[64];
	size_t n = 0, total = 0;
	int r = 0;
	struct dirent *e;
	while ((e = readdir(dh))) {
		/* Kubernetes' atomic-writer layout has ..data and timestamped dot dirs. */
		if (e->d_name[0] == '.')
			continue;
		_cleanup_free_ char *fp = kv_strdup_printf("%s/%s", dir, e->d_name);
		struct stat st;
		if (!fp || stat(fp, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == KV_ARRAY_SIZE(files)) {
			r = kv_err_set(err, E2BIG, "%s: more than 64 files in %s", shown, dir);
			break;
		}
		size_t len;
		r = kv_read_file_err(fp, KVL_CONFIG_MAX, &bufs[n], &len, err);
		if (r < 0)
			break;
		total += len;
		char *name = strdup(e->d_name);
		if (!name) {
			free(bufs[n]);
			r = kv_err_set(err, ENOMEM, "out of memory");
			break;
		}
		names[n] = name;
		files[n] = (struct kv_iso_file){ name, bufs[n], len };
		n++;
		if (total > KVL_CONFIG_MAX) {
			r = kv_err_set(err, EFBIG, "%s: files in %s exceed 16 MiB", shown, dir);
			break;
		}
	}
	closedir(dh);
	if (r >= 0) {
		char volid[KV_ISO_MAX_VOLID + 1];
		snprintf(volid, sizeof(volid), "%s", label ? label : d->name);
		r = write_iso(p, d, volid, files, n, shown, err);
	}
	for (size_t i = 0; i < n; i++) {
		free(names[i]);
		free(bufs[i]);
	}
	return r;
}

static const json_t *find_volume(const json_t *spec, const char *name, size_t *idx)
{
	size_t i;
	json_t *v;
	json_array_foreach (kv_jget(spec, "volumes"), i, v) {
		const char *vn = kv_jstr(v, "name");
		if (vn && !strcmp(vn, name)) {
			*idx = i;
			return v;
		}
	}
	return NULL;
}

static int prep_disk(struct prep *p, const json_t *spec, const json_t *disk, size_t di,
		     struct kv_err **err)
{
	struct kvl_plan *plan = p->plan;
	if (plan->ndisks == KVL_MAX_DISKS)
		return kv_err_set(err, E2BIG, "spec.domain.devices.disks: at most %d disks",
				  KVL_MAX_DISKS);
	const char *name = kv_jstr(disk, "name");
	size_t vi = 0;
	const json_t *vol = name ? find_volume(spec, name, &vi) : NULL;
	if (!vol)
		return kv_err_set(err, EINVAL,
				  "spec.domain.devices.disks[%zu]: no volume named \"%s\"", di,
				  name ? name : "");
	struct kvl_disk *d = &plan->disks[plan->ndisks++];
	d->name = strdup(name);
	const char *serial = kv_jstr(disk, "serial");
	d->serial = serial ? strndup(serial, 20) : NULL;
	if (!d->name || (serial && !d->serial))
		return kv_err_set(err, ENOMEM, "out of memory");
	/* cdroms are read-only (KubeVirt's default), disks/luns when they say so. */
	d->readonly = json_object_get(disk, "cdrom") != NULL ||
		      kv_jbool(disk, "disk.readonly", false) ||
		      kv_jbool(disk, "lun.readonly", false);
	char shown[96];
	const json_t *src;
	if ((src = json_object_get(vol, "containerDisk"))) {
		snprintf(shown, sizeof(shown), "spec.volumes[%zu].containerDisk", vi);
		d->source = "containerDisk";
		return prep_container_disk(p, src, shown, d, err);
	}
	if ((src = json_object_get(vol, "emptyDisk"))) {
		snprintf(shown, sizeof(shown), "spec.volumes[%zu].emptyDisk", vi);
		d->source = "emptyDisk";
		uint64_t size = 0;
		json_t *cap = json_object_get(src, "capacity");
		if (!cap || kv_quantity_units(cap, &size) < 0 || !size)
			return kv_err_set(err, EINVAL,
					  "%s.capacity: a size such as 1Gi is required", shown);
		d->path = kv_strdup_printf("%s/%s.img", plan->run_dir, d->name);
		if (!d->path)
			return kv_err_set(err, ENOMEM, "out of memory");
		return sparse_file(d->path, size, err);
	}
	if ((src = json_object_get(vol, "hostDisk"))) {
		snprintf(shown, sizeof(shown), "spec.volumes[%zu].hostDisk", vi);
		d->source = "hostDisk";
		return prep_host_disk(p, src, shown, d, err);
	}
	if ((src = json_object_get(vol, "cloudInitNoCloud"))) {
		snprintf(shown, sizeof(shown), "spec.volumes[%zu].cloudInitNoCloud", vi);
		d->source = "cloudInitNoCloud";
		return prep_cloud_init(p, src, shown, true, d, err);
	}
	if ((src = json_object_get(vol, "cloudInitConfigDrive"))) {
		snprintf(shown, sizeof(shown), "spec.volumes[%zu].cloudInitConfigDrive", vi);
		d->source = "cloudInitConfigDrive";
		return prep_cloud_init(p, src, shown, false, d, err);
	}
	if ((src = json_object_get(vol, "configMap"))) {
		snprintf(shown, sizeof(shown), "spec.volumes[%zu].configMap", vi);
		d->source = "configMap";
		return prep_config_volume(p, "configmap", kv_jstr(src, "name"),
					  kv_jstr(src, "volumeLabel"), shown, d, err);
	}
	if ((src = json_object_get(vol, "secret"))) {
		snprintf(shown, sizeof(shown), "spec.volumes[%zu].secret", vi);
		d->source = "secret";
		return prep_config_volume(p, "secret", kv_jstr(src, "secretName"),
					  kv_jstr(src, "volumeLabel"), shown, d, err);
	}
	if ((src = json_object_get(vol, "serviceAccount"))) {
		snprintf(shown, sizeof(shown), "spec.volumes[%zu].serviceAccount", vi);
		d->source = "serviceAccount";
		return prep_config_volume(p, "serviceaccount", kv_jstr(src, "serviceAccountName"),
					  NULL, shown, d, err);
	}
	const char *kind = "?";
	void *it = json_object_iter((json_t *)(uintptr_t)vol);
	for (; it; it = json_object_iter_next((json_t *)(uintptr_t)vol, it))
		if (strcmp(json_object_iter_key(it), "name"))
			kind = json_object_iter_key(it);
	return kv_err_set(err, ENOTSUP,
			  "spec.volumes[%zu].%s: volume type not supported by kvirt-launcher "
			  "(containerDisk, emptyDisk, hostDisk, cloudInitNoCloud, "
			  "cloudInitConfigDrive, configMap, secret, serviceAccount)",
			  vi, kind);
}

/* ---- kernel --------------------------------------------------------------- */

static int regular_file(const char *path, const char *shown, struct kv_err **err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return kv_err_errno(err, "%s: %s", shown, path);
	if (!S_ISREG(st.st_mode))
		return kv_err_set(err, EINVAL, "%s: %s is not a file", shown, path);
	return 0;
}

static int prep_kernel(struct prep *p, const json_t *spec, struct kv_err **err)
{
	struct kvl_plan *plan = p->plan;
	const json_t *kb = kv_jget(spec, "domain.firmware.kernelBoot");
	const json_t *c = kv_jget(kb, "container");
	const char *args = kv_jstr(kb, "kernelArgs");
	if (c) {
		const char *image = kv_jstr(c, "image");
		const char *kp = kv_jstr(c, "kernelPath");
		const char *ip = kv_jstr(c, "initrdPath");
		const char *shown = "spec.domain.firmware.kernelBoot.container";
		if (!image)
			return kv_err_set(err, EINVAL, "%s.image: is required", shown);
		_cleanup_free_ char *dir = resolve(p->o, image);
		if (!dir)
			return kv_err_set(err, ENOMEM, "out of memory");
		struct stat st;
		if (stat(dir, &st) == 0 && S_ISREG(st.st_mode) && !kp) {
			plan->kernel = TAKE_PTR(dir); /* the image is the kernel itself */
		} else {
			if (!kp)
				return kv_err_set(err, EINVAL, "%s.kernelPath: is required", shown);
			plan->kernel = kv_strdup_printf("%s/%s", dir, kp);
			if (ip)
				plan->initrd = kv_strdup_printf("%s/%s", dir, ip);
		}
		if (!plan->kernel || (ip && !plan->initrd))
			return kv_err_set(err, ENOMEM, "out of memory");
		int r = regular_file(plan->kernel,
				     "spec.domain.firmware.kernelBoot.container."
				     "kernelPath",
				     err);
		if (r >= 0 && plan->initrd)
			r = regular_file(plan->initrd,
					 "spec.domain.firmware.kernelBoot.container.initrdPath",
					 err);
		if (r < 0)
			return r;
		plan->cmdline = strdup(args ? args : "console=ttyS0");
	} else {
		/* No firmware: the launcher's kernel and its switch-root initramfs. */
		const char *kdir = p->o->kernel_dir;
		plan->default_kernel = true;
		plan->kernel = kv_strdup_printf("%s/%s", kdir, KVL_DEFAULT_KERNEL);
		plan->initrd = kv_strdup_printf("%s/%s", kdir, KVL_DEFAULT_INITRD);
		if (!plan->kernel || !plan->initrd)
			return kv_err_set(err, ENOMEM, "out of memory");
		int r = regular_file(plan->kernel, "default kernel (--kernel-dir)", err);
		if (r >= 0)
			r = regular_file(plan->initrd, "default initramfs (--kernel-dir)", err);
		if (r < 0)
			return r;
		plan->cmdline = kv_strdup_printf("console=ttyS0 quiet panic=-1%s%s",
						 args ? " " : "", args ? args : "");
	}
	if (!plan->cmdline)
		return kv_err_set(err, ENOMEM, "out of memory");
	if (p->o->extra_cmdline) {
		char *c2 = kv_strdup_printf("%s %s", plan->cmdline, p->o->extra_cmdline);
		if (!c2)
			return kv_err_set(err, ENOMEM, "out of memory");
		free(plan->cmdline);
		plan->cmdline = c2;
	}
	return 0;
}

/* ---- plan ----------------------------------------------------------------- */

static int make_run_dir(struct kvl_plan *plan, const struct kvl_options *o, struct kv_err **err)
{
	if (o->run_dir) {
		plan->run_dir = strdup(o->run_dir);
	} else {
		const char *xdg = getenv("XDG_RUNTIME_DIR");
		_cleanup_free_ char *parent =
		    xdg && *xdg ? kv_strdup_printf("%s/kvirt", xdg) : strdup("/run/kvirt");
		if (!parent)
			return kv_err_set(err, ENOMEM, "out of memory");
		if (mkdir(parent, 0700) < 0 && errno != EEXIST)
			return kv_err_errno(err, "cannot create %s", parent);
		plan->run_dir = kv_strdup_printf("%s/%s", parent, plan->name);
	}
	if (!plan->run_dir)
		return kv_err_set(err, ENOMEM, "out of memory");
	if (mkdir(plan->run_dir, 0700) < 0) {
		if (errno == EEXIST)
			return kv_err_set(err, EEXIST,
					  "run directory %s exists: is this VMI already running? "
					  "(remove it if not)",
					  plan->run_dir);
		return kv_err_errno(err, "cannot create run directory %s", plan->run_dir);
	}
	plan->run_dir_created = true;
	return 0;
}

int kvl_prepare(json_t *vmi, const struct kvl_options *o, struct kvl_plan *plan,
		struct kv_err **err)
{
	*plan = (struct kvl_plan){ 0 };
	const json_t *spec = kv_jget(vmi, "spec");
	const char *name = kv_jstr_or(vmi, "metadata.name", "vmi");
	if (!*name || strchr(name, '/') || name[0] == '.' || strlen(name) > 63)
		return kv_err_set(err, EINVAL, "metadata.name: \"%s\" is not a valid name", name);
	plan->name = strdup(name);
	plan->namespace = strdup(kv_jstr_or(vmi, "metadata.namespace", "default"));
	const char *uid = kv_jstr(vmi, "metadata.uid");
	plan->uid = uid ? strdup(uid) : NULL;
	if (!plan->name || !plan->namespace || (uid && !plan->uid))
		return kv_err_set(err, ENOMEM, "out of memory");
	struct kv_vmi_resources res;
	int r = kv_vmi_resources(spec, &res, err);
	if (r < 0)
		return r;
	if (res.vcpus > 64)
		return kv_err_set(
		    err, EINVAL, "spec.domain.cpu: %u vCPUs; kvirt-vmm runs at most 64", res.vcpus);
	plan->vcpus = res.vcpus;
	plan->sockets = res.sockets;
	plan->cores = res.cores;
	plan->threads = res.threads;
	/* The VMM wants whole MiB. */
	plan->memory = (res.guest_memory + (1u << 20) - 1) & ~((uint64_t)(1u << 20) - 1);
	if (plan->memory < (32u << 20))
		return kv_err_set(err, EINVAL, "spec.domain.memory.guest: at least 32Mi");
	plan->grace_seconds = res.grace_seconds;
	struct prep p = { .o = o, .plan = plan, .vmi = vmi };
	r = prep_kernel(&p, spec, err);
	if (r < 0)
		return r;
	if (o->pod_network) {
		r = kvl_net_plan(vmi, plan->vcpus, &plan->net, err);
		if (r < 0)
			return r;
	} else if (json_array_size(kv_jget(spec, "domain.devices.interfaces"))) {
		kv_info("network none: spec.domain.devices.interfaces ignored (the VM has no NIC; "
			"--network pod sets it up in this network namespace)");
	}
	r = make_run_dir(plan, o, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *disk;
	json_array_foreach (kv_jget(spec, "domain.devices.disks"), i, disk) {
		r = prep_disk(&p, spec, disk, i, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * rm -r of `name` under `at`: never follows a symlink and never descends
 * into another filesystem (a mount left behind stays, and its directory
 * with it).  Returns -1 with errno set on the first failure.
 */
static int rm_tree(int at, const char *name, dev_t dev)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return unlinkat(at, name, 0);
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_dev != dev) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	DIR *dh = fdopendir(fd);
	if (!dh) {
		close(fd);
		return -1;
	}
	int r = 0;
	struct dirent *e;
	while ((e = readdir(dh)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    rm_tree(dirfd(dh), e->d_name, dev) < 0)
			r = -1;
	int saved = errno;
	closedir(dh);
	if (r < 0) {
		errno = saved;
		return -1;
	}
	return unlinkat(at, name, AT_REMOVEDIR);
}

void kvl_plan_cleanup(struct kvl_plan *plan)
{
	/* The VMM is gone by now (kvl_run waits for it): restore the pod's network. */
	kvl_net_teardown(&plan->net);
	for (unsigned i = 0; i < plan->ndisks; i++) {
		struct kvl_disk *d = &plan->disks[i];
		if (d->path && plan->run_dir &&
		    !strncmp(d->path, plan->run_dir, strlen(plan->run_dir)))
			unlink(d->path);
		free(d->name);
		free(d->path);
		free(d->serial);
	}
	if (plan->jail_dir) {
		/* The jail's mount points (its mounts died with the VMM's namespace). */
		struct stat st;
		if (lstat(plan->jail_dir, &st) == 0 && S_ISDIR(st.st_mode) &&
		    rm_tree(AT_FDCWD, plan->jail_dir, st.st_dev) < 0)
			kv_warn("cannot remove %s: %s", plan->jail_dir, strerror(errno));
	}
	if (plan->run_dir_created && plan->run_dir) {
		/* Sockets and anything else left behind, then the directory itself. */
		DIR *dh = opendir(plan->run_dir);
		struct dirent *e;
		while (dh && (e = readdir(dh)))
			if (e->d_name[0] != '.' || (e->d_name[1] && strcmp(e->d_name, "..")))
				unlinkat(dirfd(dh), e->d_name, 0);
		if (dh)
			closedir(dh);
		if (rmdir(plan->run_dir) < 0)
			kv_warn("cannot remove %s: %s", plan->run_dir, strerror(errno));
	}
	free(plan->jail_dir);
	free(plan->run_dir);
	free(plan->name);
	free(plan->namespace);
	free(plan->uid);
	free(plan->kernel);
	free(plan->initrd);
	free(plan->cmdline);
	*plan = (struct kvl_plan){ 0 };
}

char *kvl_vmm_config(const struct kvl_plan *plan, const char *api_path)
{
	_cleanup_json_t_ json_t *disks = json_array();
	for (unsigned i = 0; disks && i < plan->ndisks; i++) {
		const struct kvl_disk *d = &plan->disks[i];
		json_t *o = json_pack("{s:s, s:b}", "path", d->path, "readonly", d->readonly);
		if (o && d->serial)
			json_object_set_new(o, "serial", json_string(d->serial));
		json_array_append_new(disks, o);
	}
	char mem[32];
	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(plan->memory >> 20));
	_cleanup_free_ char *api = kv_strdup_printf("unix:%s", api_path);
	if (!disks || !api)
		return NULL;
	_cleanup_json_t_ json_t *cfg = json_pack(
	    "{s:s, s:s, s:I, s:{s:I, s:I, s:I}, s:s, s:s, s:O, s:s, s:s}", "kernel", plan->kernel,
	    "cmdline", plan->cmdline, "cpus", (json_int_t)plan->vcpus, "topology", "sockets",
	    (json_int_t)plan->sockets, "cores", (json_int_t)plan->cores, "threads",
	    (json_int_t)plan->threads, "memory", mem, "serial", "stdio", "disks", disks, "api", api,
	    /* KubeVirt: an in-guest reboot keeps the VMI (and its pod) running. */
	    "on_reboot", "restart");
	if (cfg && plan->initrd)
		json_object_set_new(cfg, "initrd", json_string(plan->initrd));
	if (cfg && plan->net.b)
		json_object_set_new(cfg, "nets", kvl_net_vmm_config(&plan->net));
	return cfg ? kv_json_dumps(cfg) : NULL;
}
