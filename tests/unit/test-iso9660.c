/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ISO 9660 writer: the images must read back with an independent reader
 * (xorriso/osirrox, blkid) with the exact names (Rock Ridge) and contents,
 * and bad input must be refused with a message naming the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/iso9660.h"
#include "kvirt/util.h"
#include "../tap.h"

static char tmpdir[] = "/tmp/kvirt-iso-XXXXXX";

static bool have(const char *tool)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static int64_t write_iso(const char *path, const char *volid, const struct kv_iso_file *f, size_t n,
			 struct kv_err **err)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	return kv_iso_write(fd, volid, f, n, 1700000000, err);
}

/* Extract with osirrox (Rock Ridge aware) and compare every file. */
static void check_extract(const char *iso, const struct kv_iso_file *f, size_t n, const char *what)
{
	char out[512], cmd[1200];
	snprintf(out, sizeof(out), "%s/x-%s", tmpdir, what);
	snprintf(cmd, sizeof(cmd), "osirrox -indev %s -extract / %s >/dev/null 2>&1", iso, out);
	if (!ok(system(cmd) == 0, "%s: osirrox extracts the image", what))
		return;
	for (size_t i = 0; i < n; i++) {
		char p[1024];
		snprintf(p, sizeof(p), "%s/%s", out, f[i].path);
		_cleanup_free_ char *buf = NULL;
		size_t len = 0;
		int r = kv_read_file(p, 1 << 24, &buf, &len);
		ok(r == 0 && len == f[i].len && (len == 0 || !memcmp(buf, f[i].data, len)),
		   "%s: %s reads back with its exact name and contents", what, f[i].path);
	}
}

static void test_nocloud(void)
{
	const char *ud = "#cloud-config\npassword: kvirt\nchpasswd: { expire: False }\n";
	const char *md = "instance-id: testvm.default\nlocal-hostname: testvm\n";
	const char *nc = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n";
	struct kv_iso_file f[] = {
		{ "user-data", ud, strlen(ud) },
		{ "meta-data", md, strlen(md) },
		{ "network-config", nc, strlen(nc) },
	};
	char iso[256];
	snprintf(iso, sizeof(iso), "%s/nocloud.iso", tmpdir);
	struct kv_err *err = NULL;
	int64_t size = write_iso(iso, "cidata", f, 3, &err);
	ok(size > 0 && size % 2048 == 0, "nocloud image written (%lld bytes)", (long long)size);
	if (err)
		tap_diag("%s", kv_err_msg(err));
	kv_err_free(err);
	struct stat st;
	ok(stat(iso, &st) == 0 && st.st_size == size, "file size equals the returned size");

	_cleanup_free_ char *img = NULL;
	size_t len = 0;
	ok(kv_read_file(iso, 1 << 24, &img, &len) == 0 && len > 0x8000 + 72, "read image");
	if (img && len > 0x8048) {
		ok(!memcmp(img + 0x8001, "CD001", 5) && img[0x8000] == 1,
		   "primary volume descriptor");
		ok(!memcmp(img + 0x8028, "cidata  ", 8), "volume id cidata in the descriptor");
		ok((unsigned char)img[0x8800] == 255 && !memcmp(img + 0x8801, "CD001", 5),
		   "descriptor set terminator");
	}
	if (have("blkid")) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "test \"$(blkid -o value -s LABEL %s)\" = cidata", iso);
		ok(system(cmd) == 0, "blkid reports LABEL=cidata (what cloud-init looks for)");
		snprintf(cmd, sizeof(cmd), "test \"$(blkid -o value -s TYPE %s)\" = iso9660", iso);
		ok(system(cmd) == 0, "blkid reports TYPE=iso9660");
	}
	if (have("osirrox"))
		check_extract(iso, f, 3, "nocloud");
	else
		tap_diag("osirrox missing (xorriso): read-back checks skipped");
}

static void test_configdrive_tree(void)
{
	char big[70000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 23);
	const char *md = "{\"uuid\":\"1\",\"hostname\":\"vm\"}";
	struct kv_iso_file f[] = {
		{ "openstack/latest/meta_data.json", md, strlen(md) },
		{ "openstack/latest/user_data", big, sizeof(big) },
		{ "openstack/latest/network_data.json", "{}", 2 },
		{ "openstack/content/0000", "x", 1 },
		{ "empty-file", "", 0 },
		/* Names whose 8.3 forms collide must stay distinct. */
		{ "configuration-a.yaml", "A", 1 },
		{ "configuration-b.yaml", "B", 1 },
		{ "Mixed Case Name.TXT", "m", 1 },
	};
	size_t n = KV_ARRAY_SIZE(f);
	char iso[256];
	snprintf(iso, sizeof(iso), "%s/config2.iso", tmpdir);
	struct kv_err *err = NULL;
	int64_t size = write_iso(iso, "config-2", f, n, &err);
	ok(size > (int64_t)sizeof(big), "config-2 image with nested directories written");
	kv_err_free(err);
	if (have("osirrox"))
		check_extract(iso, f, n, "config2");
	if (have("blkid")) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "test \"$(blkid -o value -s LABEL %s)\" = config-2",
			 iso);
		ok(system(cmd) == 0, "blkid reports LABEL=config-2");
	}
	/* Many files: directories spanning several sectors, path table too. */
	enum { MANY = 300 };
	struct kv_iso_file *m = calloc(MANY, sizeof(*m));
	char(*names)[64] = calloc(MANY, 64);
	if (!m || !names) {
		ok(0, "calloc");
		free(m);
		free(names);
		return;
	}
	for (int i = 0; i < MANY; i++) {
		snprintf(names[i], 64, "dir%d/file-with-a-long-name-%03d.data", i % 7, i);
		m[i].path = names[i];
		m[i].data = names[i];
		m[i].len = strlen(names[i]);
	}
	snprintf(iso, sizeof(iso), "%s/many.iso", tmpdir);
	size = write_iso(iso, "many", m, MANY, &err);
	ok(size > 0, "300 files in 7 directories written");
	kv_err_free(err);
	err = NULL;
	if (have("osirrox"))
		check_extract(iso, m, MANY, "many");
	free(m);
	free(names);

	/* More directories than files (found by the fuzzer: the directory list
	 * was sized by the file count). */
	struct kv_iso_file deep[] = { { "a/b/c/d/e/f/g/file", "deep", 4 } };
	snprintf(iso, sizeof(iso), "%s/deep.iso", tmpdir);
	size = write_iso(iso, "deep", deep, 1, &err);
	ok(size > 0, "one file seven directories deep");
	kv_err_free(err);
	err = NULL;
	if (have("osirrox"))
		check_extract(iso, deep, 1, "deep");
}

static void expect_error(const char *volid, const struct kv_iso_file *f, size_t n, int code,
			 const char *needle, const char *what)
{
	char iso[256];
	snprintf(iso, sizeof(iso), "%s/bad.iso", tmpdir);
	struct kv_err *err = NULL;
	int64_t r = write_iso(iso, volid, f, n, &err);
	ok(r == -code && err && strstr(err->msg, needle), "%s: refused with \"%s\"", what,
	   err ? err->msg : "(no message)");
	kv_err_free(err);
}

static void test_bad_input(void)
{
	struct kv_iso_file dup[] = { { "user-data", "a", 1 }, { "user-data", "b", 1 } };
	expect_error("cidata", dup, 2, EEXIST, "user-data: given twice", "duplicate file");
	struct kv_iso_file dots[] = { { "../etc/passwd", "a", 1 } };
	expect_error("cidata", dots, 1, EINVAL, "../etc/passwd", "'..' component");
	struct kv_iso_file empty[] = { { "a//b", "a", 1 } };
	expect_error("cidata", empty, 1, EINVAL, "a//b", "empty component");
	struct kv_iso_file noname[] = { { "", "a", 1 } };
	expect_error("cidata", noname, 1, EINVAL, "empty name", "empty name");
	struct kv_iso_file clash[] = { { "a/b", "x", 1 }, { "a", "y", 1 } };
	expect_error("cidata", clash, 2, EEXIST, "a: given twice", "file where a directory is");
	struct kv_iso_file clash2[] = { { "a", "y", 1 }, { "a/b", "x", 1 } };
	expect_error("cidata", clash2, 2, EEXIST, "is a file, not a directory",
		     "directory below a file");
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	struct kv_iso_file lng[] = { { longname, "x", 1 } };
	expect_error("cidata", lng, 1, ENAMETOOLONG, "longer than 160", "overlong name");
	struct kv_iso_file deep[] = { { "1/2/3/4/5/6/7/8/f", "x", 1 } };
	expect_error("cidata", deep, 1, EINVAL, "directory levels", "too deep");
	struct kv_iso_file ctl[] = { { "a\nb", "x", 1 } };
	expect_error("cidata", ctl, 1, EINVAL, "control characters", "control character in name");
	struct kv_iso_file ok1[] = { { "a", "x", 1 } };
	expect_error("this-volume-id-is-longer-than-32-chars", ok1, 1, EINVAL, "volume id",
		     "overlong volume id");
	expect_error("", ok1, 1, EINVAL, "volume id", "empty volume id");
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		tap_skip_all("cannot create a temporary directory");
	test_nocloud();
	test_configdrive_tree();
	test_bad_input();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmpdir);
	return tap_done();
}
