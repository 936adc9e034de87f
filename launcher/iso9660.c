/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ISO 9660 writer (ECMA-119) with Rock Ridge (SUSP SP/ER, RRIP PX/NM).
 *
 * Image layout, in 2048-byte sectors:
 *   0-15   system area (zeros)
 *   16     primary volume descriptor
 *   17     volume descriptor set terminator
 *   18..   type-L path table, then type-M path table
 *   ..     directory extents, breadth-first (the path-table order)
 *   ..     file extents, each starting on a sector
 */
#include "kvirt/iso9660.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvirt/cleanup.h"

#define SECTOR	     2048u
#define FIRST_PT_LBA 18u

struct iso_node {
	char *name;	   /* real name, carried by Rock Ridge NM */
	char iso_name[16]; /* primary d-character name: "META_DAT.;1", "OPENSTAC" */
	bool is_dir;
	const void *data; /* files */
	size_t len;
	struct iso_node *parent;
	struct iso_node **kids;
	size_t n_kids, cap_kids;
	uint32_t lba;
	uint32_t size;	     /* extent bytes: files their length, dirs whole sectors */
	uint16_t dir_number; /* 1-based path-table index (dirs) */
};

static void node_free(struct iso_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_kids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n);
}

static void node_freep(struct iso_node **n)
{
	node_free(*n);
	*n = NULL;
}

static struct iso_node *node_new(const char *name, size_t name_len, bool is_dir,
				 struct iso_node *parent)
{
	struct iso_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strndup(name, name_len);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->is_dir = is_dir;
	n->parent = parent;
	return n;
}

static int node_add_kid(struct iso_node *dir, struct iso_node *kid)
{
	if (dir->n_kids == dir->cap_kids) {
		size_t cap = dir->cap_kids ? dir->cap_kids * 2 : 8;
		struct iso_node **k = realloc(dir->kids, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		dir->kids = k;
		dir->cap_kids = cap;
	}
	dir->kids[dir->n_kids++] = kid;
	return 0;
}

static struct iso_node *node_find(const struct iso_node *dir, const char *name, size_t len)
{
	for (size_t i = 0; i < dir->n_kids; i++)
		if (strlen(dir->kids[i]->name) == len && !memcmp(dir->kids[i]->name, name, len))
			return dir->kids[i];
	return NULL;
}

/* Insert one file, creating directories on the way; validates the path. */
static int tree_insert(struct iso_node *root, const struct kv_iso_file *f, struct kv_err **err)
{
	const char *p = f->path;
	if (!p || !*p)
		return kv_err_set(err, EINVAL, "file with an empty name");
	if (f->len && !f->data)
		return kv_err_set(err, EINVAL, "file %s: no data", p);
	if (f->len >= KV_ISO_MAX_FILE_SIZE)
		return kv_err_set(err, EFBIG, "file %s: %zu bytes is too large (limit %llu)", p,
				  f->len, (unsigned long long)KV_ISO_MAX_FILE_SIZE - 1);
	struct iso_node *dir = root;
	unsigned depth = 0;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return kv_err_set(
			    err, EINVAL,
			    "file %s: empty, '.' or '..' path component is not allowed", f->path);
		if (len > KV_ISO_MAX_NAME)
			return kv_err_set(err, ENAMETOOLONG,
					  "file %s: a path component is longer than %d bytes",
					  f->path, KV_ISO_MAX_NAME);
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				/* Not echoing the name: it would put the control
				 * character into logs and events. */
				return kv_err_set(
				    err, EINVAL,
				    "file name with a control character (byte 0x%02x at "
				    "offset %zu): control characters are not allowed in "
				    "names",
				    (unsigned char)p[i], (size_t)(p - f->path) + i);
		struct iso_node *kid = node_find(dir, p, len);
		if (!slash) {
			if (kid)
				return kv_err_set(err, EEXIST,
						  "file %s: given twice (or also a directory)",
						  f->path);
			kid = node_new(p, len, false, dir);
			if (!kid || node_add_kid(dir, kid) < 0) {
				node_free(kid);
				return kv_err_set(err, ENOMEM, "out of memory");
			}
			kid->data = f->data;
			kid->len = f->len;
			return 0;
		}
		if (++depth > KV_ISO_MAX_DEPTH)
			return kv_err_set(err, EINVAL, "file %s: more than %d directory levels",
					  f->path, KV_ISO_MAX_DEPTH);
		if (kid && !kid->is_dir)
			return kv_err_set(err, EEXIST, "file %s: %.*s is a file, not a directory",
					  f->path, (int)len, p);
		if (!kid) {
			kid = node_new(p, len, true, dir);
			if (!kid || node_add_kid(dir, kid) < 0) {
				node_free(kid);
				return kv_err_set(err, ENOMEM, "out of memory");
			}
		}
		dir = kid;
		p = slash + 1;
	}
}

/* Copy up to `max` d-characters (A-Z 0-9 _) of s[0..len) into out. */
static size_t dchars(char *out, const char *s, size_t len, size_t max)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o < max; i++) {
		char c = s[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			c = '_';
		out[o++] = c;
	}
	if (o == 0)
		out[o++] = '_';
	return o;
}

static bool iso_name_taken(const struct iso_node *dir, size_t upto, const char *name)
{
	for (size_t i = 0; i < upto; i++)
		if (!strcmp(dir->kids[i]->iso_name, name))
			return true;
	return false;
}

/* Give every child an 8.3 d-character name, unique within its directory. */
static void assign_iso_names(struct iso_node *dir)
{
	for (size_t i = 0; i < dir->n_kids; i++) {
		struct iso_node *k = dir->kids[i];
		const char *dot = k->is_dir ? NULL : strrchr(k->name, '.');
		size_t base_len = dot ? (size_t)(dot - k->name) : strlen(k->name);
		char base[9], ext[4];
		size_t nb = dchars(base, k->name, base_len, 8);
		size_t ne = dot ? dchars(ext, dot + 1, strlen(dot + 1), 3) : 0;
		if (dot && !dot[1])
			ne = 0;
		for (unsigned seq = 0;; seq++) {
			char b[9];
			memcpy(b, base, nb);
			size_t bl = nb;
			if (seq) {
				char num[12];
				int nl = snprintf(num, sizeof(num), "%u", seq);
				if (bl + (size_t)nl > 8)
					bl = 8 - (size_t)nl;
				memcpy(b + bl, num, (size_t)nl);
				bl += (size_t)nl;
			}
			b[bl] = '\0';
			if (k->is_dir)
				snprintf(k->iso_name, sizeof(k->iso_name), "%s", b);
			else
				snprintf(k->iso_name, sizeof(k->iso_name), "%s.%.*s;1", b, (int)ne,
					 ext);
			if (!iso_name_taken(dir, i, k->iso_name))
				break;
		}
		if (k->is_dir)
			assign_iso_names(k);
	}
}

static int cmp_iso_name(const void *a, const void *b)
{
	const struct iso_node *x = *(struct iso_node *const *)a;
	const struct iso_node *y = *(struct iso_node *const *)b;
	return strcmp(x->iso_name, y->iso_name);
}

static void sort_tree(struct iso_node *dir)
{
	if (dir->n_kids == 0)
		return; /* kids may be NULL: qsort must not see it */
	qsort(dir->kids, dir->n_kids, sizeof(dir->kids[0]), cmp_iso_name);
	for (size_t i = 0; i < dir->n_kids; i++)
		if (dir->kids[i]->is_dir)
			sort_tree(dir->kids[i]);
}

/* ---- System Use entries (SUSP / Rock Ridge) ------------------------------ */

#define PX_LEN 36
#define SP_LEN 7
static const char er_id[] = "RRIP_1991A";
static const char er_des[] = "Rock Ridge names and POSIX file modes";
static const char er_src[] = "kvirt ISO 9660 writer";
#define ER_LEN (8 + sizeof(er_id) - 1 + sizeof(er_des) - 1 + sizeof(er_src) - 1)

enum rec_kind { REC_SELF, REC_PARENT, REC_CHILD };

static void put_both16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_both32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
		p[7 - i] = (uint8_t)(v >> (8 * i));
	}
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[3 - i] = (uint8_t)(v >> (8 * i));
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Bytes of system use a record carries. */
static size_t su_len(const struct iso_node *n, enum rec_kind kind, bool is_root)
{
	size_t l = PX_LEN;
	if (kind == REC_SELF && is_root)
		l += SP_LEN + ER_LEN;
	if (kind == REC_CHILD)
		l += 5 + strlen(n->name);
	return l;
}

static size_t ident_len(const struct iso_node *n, enum rec_kind kind)
{
	return kind == REC_CHILD ? strlen(n->iso_name) : 1;
}

static size_t record_len(const struct iso_node *n, enum rec_kind kind, bool is_root)
{
	size_t il = ident_len(n, kind);
	size_t l = 33 + il + (il % 2 == 0 ? 1 : 0) + su_len(n, kind, is_root);
	return l + (l & 1);
}

static void put_date7(uint8_t *p, const struct tm *tm)
{
	p[0] = (uint8_t)tm->tm_year;
	p[1] = (uint8_t)(tm->tm_mon + 1);
	p[2] = (uint8_t)tm->tm_mday;
	p[3] = (uint8_t)tm->tm_hour;
	p[4] = (uint8_t)tm->tm_min;
	p[5] = (uint8_t)tm->tm_sec;
	p[6] = 0; /* GMT */
}

/*
 * Write one directory record describing `target` (the directory itself, its
 * parent or a child) into p; returns its length.
 */
static size_t put_record(uint8_t *p, const struct iso_node *target, enum rec_kind kind,
			 bool in_root, const struct tm *tm)
{
	size_t len = record_len(target, kind, in_root && kind == REC_SELF);
	memset(p, 0, len);
	p[0] = (uint8_t)len;
	put_both32(p + 2, target->lba);
	put_both32(p + 10, target->size);
	put_date7(p + 18, tm);
	p[25] = target->is_dir ? 0x02 : 0x00;
	put_both16(p + 28, 1);
	size_t il = ident_len(target, kind);
	p[32] = (uint8_t)il;
	if (kind == REC_CHILD)
		memcpy(p + 33, target->iso_name, il);
	else
		p[33] = kind == REC_SELF ? 0x00 : 0x01;
	uint8_t *su = p + 33 + il + (il % 2 == 0 ? 1 : 0);
	if (kind == REC_SELF && in_root) {
		su[0] = 'S', su[1] = 'P', su[2] = SP_LEN, su[3] = 1, su[4] = 0xBE, su[5] = 0xEF;
		su[6] = 0;
		su += SP_LEN;
	}
	/* PX: mode, links, uid, gid.  Read-only for everyone: these are config disks. */
	su[0] = 'P', su[1] = 'X', su[2] = PX_LEN, su[3] = 1;
	put_both32(su + 4, target->is_dir ? 040555 : 0100444);
	put_both32(su + 12, target->is_dir ? 2 : 1);
	put_both32(su + 20, 0);
	put_both32(su + 28, 0);
	su += PX_LEN;
	if (kind == REC_SELF && in_root) {
		su[0] = 'E', su[1] = 'R', su[2] = (uint8_t)ER_LEN, su[3] = 1;
		su[4] = sizeof(er_id) - 1, su[5] = sizeof(er_des) - 1, su[6] = sizeof(er_src) - 1;
		su[7] = 1;
		memcpy(su + 8, er_id, sizeof(er_id) - 1);
		memcpy(su + 8 + sizeof(er_id) - 1, er_des, sizeof(er_des) - 1);
		memcpy(su + 8 + sizeof(er_id) - 1 + sizeof(er_des) - 1, er_src, sizeof(er_src) - 1);
		su += ER_LEN;
	}
	if (kind == REC_CHILD) {
		size_t nl = strlen(target->name);
		su[0] = 'N', su[1] = 'M', su[2] = (uint8_t)(5 + nl), su[3] = 1, su[4] = 0;
		memcpy(su + 5, target->name, nl);
	}
	return len;
}

/* Directory extent size: records never straddle a sector boundary. */
static uint32_t dir_extent_size(const struct iso_node *dir, bool is_root)
{
	size_t used = 0;
	size_t lens[2] = { record_len(dir, REC_SELF, is_root), record_len(dir, REC_PARENT, false) };
	for (size_t i = 0; i < 2 + dir->n_kids; i++) {
		size_t l = i < 2 ? lens[i] : record_len(dir->kids[i - 2], REC_CHILD, false);
		if (used % SECTOR + l > SECTOR)
			used += SECTOR - used % SECTOR;
		used += l;
	}
	return (uint32_t)((used + SECTOR - 1) / SECTOR * SECTOR);
}

static int write_at(int fd, const void *buf, size_t len, uint64_t off, struct kv_err **err)
{
	const uint8_t *b = buf;
	while (len) {
		ssize_t n = pwrite(fd, b, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kv_err_errno(err, "writing the ISO image");
		}
		b += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static void put_padded(uint8_t *p, const char *s, size_t width)
{
	size_t l = strlen(s);
	memset(p, ' ', width);
	memcpy(p, s, l < width ? l : width);
}

static void put_date17(uint8_t *p, const struct tm *tm)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02d00", tm->tm_year + 1900, tm->tm_mon + 1,
		 tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec);
	memcpy(p, buf, 16);
	p[16] = 0;
}

int64_t kv_iso_write(int fd, const char *volume_id, const struct kv_iso_file *files, size_t n_files,
		     time_t mtime, struct kv_err **err)
{
	if (!volume_id || !*volume_id || strlen(volume_id) > KV_ISO_MAX_VOLID)
		return kv_err_set(err, EINVAL, "volume id must be 1 to %d characters",
				  KV_ISO_MAX_VOLID);
	for (const char *c = volume_id; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			return kv_err_set(err, EINVAL, "volume id must be printable ASCII");
	if (n_files > KV_ISO_MAX_FILES)
		return kv_err_set(err, E2BIG, "%zu files is more than the limit of %d", n_files,
				  KV_ISO_MAX_FILES);

	_cleanup_(node_freep) struct iso_node *root = node_new("", 0, true, NULL);
	if (!root)
		return kv_err_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n_files; i++) {
		int r = tree_insert(root, &files[i], err);
		if (r < 0)
			return r;
	}
	assign_iso_names(root);
	sort_tree(root);

	/* Breadth-first list of directories: the path table's order. */
	size_t n_dirs = 1;
	/* Each file brings at most KV_ISO_MAX_DEPTH directories with it. */
	_cleanup_free_ struct iso_node **dirs =
	    malloc(sizeof(*dirs) * (n_files * KV_ISO_MAX_DEPTH + 1));
	if (!dirs)
		return kv_err_set(err, ENOMEM, "out of memory");
	dirs[0] = root;
	for (size_t i = 0; i < n_dirs; i++) {
		dirs[i]->dir_number = (uint16_t)(i + 1);
		for (size_t k = 0; k < dirs[i]->n_kids; k++)
			if (dirs[i]->kids[k]->is_dir)
				dirs[n_dirs++] = dirs[i]->kids[k];
	}

	size_t pt_size = 0;
	for (size_t i = 0; i < n_dirs; i++) {
		size_t nl = i == 0 ? 1 : strlen(dirs[i]->iso_name);
		pt_size += 8 + nl + (nl & 1);
	}
	uint32_t pt_sectors = (uint32_t)((pt_size + SECTOR - 1) / SECTOR);
	uint32_t lba = FIRST_PT_LBA + 2 * pt_sectors;
	for (size_t i = 0; i < n_dirs; i++) {
		dirs[i]->size = dir_extent_size(dirs[i], i == 0);
		dirs[i]->lba = lba;
		lba += dirs[i]->size / SECTOR;
	}
	/* Files follow the directories, in directory order. */
	for (size_t i = 0; i < n_dirs; i++) {
		for (size_t k = 0; k < dirs[i]->n_kids; k++) {
			struct iso_node *f = dirs[i]->kids[k];
			if (f->is_dir)
				continue;
			f->size = (uint32_t)f->len;
			if (f->len == 0) {
				f->lba = 0;
				continue;
			}
			f->lba = lba;
			uint64_t sectors = (f->len + SECTOR - 1) / SECTOR;
			if ((uint64_t)lba + sectors > UINT32_MAX)
				return kv_err_set(err, EFBIG, "the files do not fit one ISO image");
			lba += (uint32_t)sectors;
		}
	}
	uint32_t total_sectors = lba;

	if (mtime == 0)
		mtime = time(NULL);
	struct tm tm;
	gmtime_r(&mtime, &tm);

	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)total_sectors * SECTOR) < 0)
		return kv_err_errno(err, "sizing the ISO image");

	/* Primary volume descriptor. */
	uint8_t sec[SECTOR];
	memset(sec, 0, sizeof(sec));
	sec[0] = 1;
	memcpy(sec + 1, "CD001", 5);
	sec[6] = 1;
	put_padded(sec + 8, "LINUX", 32);
	put_padded(sec + 40, volume_id, 32);
	put_both32(sec + 80, total_sectors);
	put_both16(sec + 120, 1);
	put_both16(sec + 124, 1);
	put_both16(sec + 128, SECTOR);
	put_both32(sec + 132, (uint32_t)pt_size);
	put_le32(sec + 140, FIRST_PT_LBA);
	put_be32(sec + 148, FIRST_PT_LBA + pt_sectors);
	/* The root record in the descriptor is exactly 34 bytes, without SUSP. */
	uint8_t *rr = sec + 156;
	rr[0] = 34;
	put_both32(rr + 2, root->lba);
	put_both32(rr + 10, root->size);
	put_date7(rr + 18, &tm);
	rr[25] = 0x02;
	put_both16(rr + 28, 1);
	rr[32] = 1;
	rr[33] = 0;
	put_padded(sec + 190, "", 128);
	put_padded(sec + 318, "", 128);
	put_padded(sec + 446, "", 128);
	put_padded(sec + 574, "KVIRT", 128);
	put_padded(sec + 702, "", 37);
	put_padded(sec + 739, "", 37);
	put_padded(sec + 776, "", 37);
	put_date17(sec + 813, &tm);
	put_date17(sec + 830, &tm);
	memcpy(sec + 847, "0000000000000000", 16); /* no expiration */
	memcpy(sec + 864, "0000000000000000", 16); /* effective now */
	sec[881] = 1;
	int r = write_at(fd, sec, SECTOR, 16ull * SECTOR, err);
	if (r < 0)
		return r;

	memset(sec, 0, sizeof(sec));
	sec[0] = 255;
	memcpy(sec + 1, "CD001", 5);
	sec[6] = 1;
	r = write_at(fd, sec, SECTOR, 17ull * SECTOR, err);
	if (r < 0)
		return r;

	/* Path tables: little-endian (L) and big-endian (M) copies. */
	_cleanup_free_ uint8_t *ptl = calloc(pt_sectors, SECTOR);
	_cleanup_free_ uint8_t *ptm = calloc(pt_sectors, SECTOR);
	if (!ptl || !ptm)
		return kv_err_set(err, ENOMEM, "out of memory");
	size_t off = 0;
	for (size_t i = 0; i < n_dirs; i++) {
		const struct iso_node *d = dirs[i];
		size_t nl = i == 0 ? 1 : strlen(d->iso_name);
		uint16_t parent = i == 0 ? 1 : d->parent->dir_number;
		ptl[off] = ptm[off] = (uint8_t)nl;
		put_le32(ptl + off + 2, d->lba);
		put_be32(ptm + off + 2, d->lba);
		put_le16(ptl + off + 6, parent);
		put_be16(ptm + off + 6, parent);
		if (i != 0) {
			memcpy(ptl + off + 8, d->iso_name, nl);
			memcpy(ptm + off + 8, d->iso_name, nl);
		}
		off += 8 + nl + (nl & 1);
	}
	r = write_at(fd, ptl, (size_t)pt_sectors * SECTOR, (uint64_t)FIRST_PT_LBA * SECTOR, err);
	if (r < 0)
		return r;
	r = write_at(fd, ptm, (size_t)pt_sectors * SECTOR,
		     (uint64_t)(FIRST_PT_LBA + pt_sectors) * SECTOR, err);
	if (r < 0)
		return r;

	/* Directory extents. */
	for (size_t i = 0; i < n_dirs; i++) {
		struct iso_node *d = dirs[i];
		_cleanup_free_ uint8_t *buf = calloc(1, d->size);
		if (!buf)
			return kv_err_set(err, ENOMEM, "out of memory");
		size_t used = 0;
		for (size_t k = 0; k < 2 + d->n_kids; k++) {
			const struct iso_node *t = k == 0   ? d
						   : k == 1 ? (d->parent ? d->parent : d)
							    : d->kids[k - 2];
			enum rec_kind kind = k == 0 ? REC_SELF : k == 1 ? REC_PARENT : REC_CHILD;
			size_t l = record_len(t, kind, i == 0 && kind == REC_SELF);
			if (used % SECTOR + l > SECTOR)
				used += SECTOR - used % SECTOR;
			used += put_record(buf + used, t, kind, i == 0, &tm);
		}
		r = write_at(fd, buf, d->size, (uint64_t)d->lba * SECTOR, err);
		if (r < 0)
			return r;
	}

	/* File contents. */
	for (size_t i = 0; i < n_dirs; i++) {
		for (size_t k = 0; k < dirs[i]->n_kids; k++) {
			const struct iso_node *f = dirs[i]->kids[k];
			if (f->is_dir || f->len == 0)
				continue;
			r = write_at(fd, f->data, f->len, (uint64_t)f->lba * SECTOR, err);
			if (r < 0)
				return r;
		}
	}
	return (int64_t)total_sectors * SECTOR;
}
