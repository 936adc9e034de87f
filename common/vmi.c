/* SPDX-License-Identifier: Apache-2.0 */
/* The VMI model: see include/kvirt/vmi.h. */
#include "kvirt/vmi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-fields.h"
#include "kvirt/cleanup.h"
#include "kvirt/util.h"

#define VMI_MAX_VCPUS 512

/* ---- quantities ---------------------------------------------------------- */

struct suffix {
	const char *s;
	/* value = mantissa * num / den (times 1000 for milli units) */
	unsigned __int128 mul;
};

int kv_quantity_parse_milli(const char *s, uint64_t *milli)
{
	static const struct suffix suffixes[] = {
		{ "Ki", 1024ull * 1000 },
		{ "Mi", 1048576ull * 1000 },
		{ "Gi", 1073741824ull * 1000 },
		{ "Ti", 1099511627776ull * 1000 },
		{ "Pi", (unsigned __int128)1125899906842624ull * 1000 },
		{ "Ei", (unsigned __int128)1152921504606846976ull * 1000 },
		{ "m", 1 },
		{ "k", 1000ull * 1000 },
		{ "M", 1000000ull * 1000 },
		{ "G", 1000000000ull * 1000 },
		{ "T", 1000000000000ull * 1000 },
		{ "P", (unsigned __int128)1000000000000000ull * 1000 },
		{ "E", (unsigned __int128)1000000000000000000ull * 1000 },
		{ "", 1000 },
	};
	if (!s || !*s)
		return -EINVAL;
	const char *p = s;
	if (*p == '+')
		p++;
	unsigned __int128 ip = 0, frac = 0, fden = 1;
	int digits = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		ip = ip * 10 + (unsigned)(*p - '0');
		if (ip > ((unsigned __int128)1 << 100))
			return -ERANGE;
	}
	if (*p == '.') {
		p++;
		for (; *p >= '0' && *p <= '9'; p++, digits++) {
			/* Beyond nano precision nothing changes a rounded-up milli value much. */
			if (fden < 1000000000000ull) {
				frac = frac * 10 + (unsigned)(*p - '0');
				fden *= 10;
			} else if (*p != '0') {
				frac += (frac % 10 == 9) ? 0 : 1; /* keep "round up" honest */
			}
		}
	}
	if (!digits)
		return -EINVAL;
	unsigned __int128 mul = 0;
	if (*p == 'e' || *p == 'E') {
		/* Exponent form: 1e3, 5E6 (a bare E is the exa suffix). */
		const char *q = p + 1;
		if (*q == '+')
			q++;
		if (*q >= '0' && *q <= '9') {
			int e = 0;
			for (; *q >= '0' && *q <= '9'; q++) {
				e = e * 10 + (*q - '0');
				if (e > 18)
					return -ERANGE;
			}
			if (*q)
				return -EINVAL;
			mul = 1000;
			while (e--)
				mul *= 10;
			p = q;
		}
	}
	if (!mul) {
		for (size_t i = 0; i < KV_ARRAY_SIZE(suffixes); i++)
			if (!strcmp(p, suffixes[i].s)) {
				mul = suffixes[i].mul;
				break;
			}
		if (!mul)
			return -EINVAL;
	}
	unsigned __int128 v = ip * mul;
	unsigned __int128 f = frac * mul;
	v += f / fden + (f % fden ? 1 : 0);
	if (v > UINT64_MAX)
		return -ERANGE;
	*milli = (uint64_t)v;
	return 0;
}

int kv_quantity_milli(const json_t *v, uint64_t *milli)
{
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);
		if (n < 0 || (uint64_t)n > UINT64_MAX / 1000)
			return -ERANGE;
		*milli = (uint64_t)n * 1000;
		return 0;
	}
	if (json_is_string(v))
		return kv_quantity_parse_milli(json_string_value(v), milli);
	return -EINVAL;
}

int kv_quantity_units(const json_t *v, uint64_t *units)
{
	uint64_t m;
	int r = kv_quantity_milli(v, &m);
	if (r < 0)
		return r;
	*units = m / 1000 + (m % 1000 ? 1 : 0);
	return 0;
}

/* ---- schema check --------------------------------------------------------- */

static int api_type_matches(enum kv_api_type t, const json_t *v)
{
	switch (t) {
	case KV_API_ANY: return true;
	case KV_API_OBJECT: return json_is_object(v);
	case KV_API_ARRAY: return json_is_array(v);
	case KV_API_STRING: return json_is_string(v);
	case KV_API_BOOLEAN: return json_is_boolean(v);
	case KV_API_INTEGER: return json_is_integer(v);
	case KV_API_NUMBER: return json_is_number(v);
	case KV_API_INT_OR_STRING: return json_is_integer(v) || json_is_string(v);
	}
	return false;
}

static const char *api_type_name(enum kv_api_type t)
{
	switch (t) {
	case KV_API_ANY: return "anything";
	case KV_API_OBJECT: return "an object";
	case KV_API_ARRAY: return "a list";
	case KV_API_STRING: return "a string";
	case KV_API_BOOLEAN: return "true or false";
	case KV_API_INTEGER: return "an integer";
	case KV_API_NUMBER: return "a number";
	case KV_API_INT_OR_STRING: return "an integer or a string";
	}
	return "?";
}

/*
 * `schema` is the table path ("spec.domain.devices.disks[]"), `shown` what
 * the user reads ("spec.domain.devices.disks[1]").
 */
static int check_node(const char *kind, const char *schema, const char *shown, const json_t *v,
		      int depth, struct kv_err **err)
{
	if (depth > 32)
		return kv_err_set(err, EINVAL, "%s: nested too deeply", shown);
	const struct kv_api_field *f = kv_api_field_lookup(kind, schema);
	if (!f)
		return kv_err_set(err, EINVAL, "unknown field \"%s\"", shown);
	if (json_is_null(v))
		return 0; /* null means "not set" in Kubernetes objects */
	if (!api_type_matches(f->type, v))
		return kv_err_set(err, EINVAL, "%s: must be %s", shown, api_type_name(f->type));
	if (json_is_string(v) && f->enum_values &&
	    !kv_api_field_enum_allows(f, json_string_value(v)))
		return kv_err_set(err, EINVAL, "%s: \"%s\" is not one of %s", shown,
				  json_string_value(v), f->enum_values);
	if (f->type == KV_API_ANY)
		return 0;
	if (json_is_object(v)) {
		/* A map ("{}") or a structure (named members). */
		_cleanup_free_ char *map_path = kv_strdup_printf("%s{}", schema);
		if (!map_path)
			return -ENOMEM;
		bool is_map = kv_api_field_lookup(kind, map_path) != NULL;
		const char *key;
		json_t *child;
		json_object_foreach ((json_t *)(uintptr_t)v, key, child) {
			_cleanup_free_ char *cs =
			    is_map ? strdup(map_path) : kv_strdup_printf("%s.%s", schema, key);
			_cleanup_free_ char *cshown = kv_strdup_printf("%s.%s", shown, key);
			if (!cs || !cshown)
				return -ENOMEM;
			int r = check_node(kind, cs, cshown, child, depth + 1, err);
			if (r < 0)
				return r;
		}
	} else if (json_is_array(v)) {
		_cleanup_free_ char *cs = kv_strdup_printf("%s[]", schema);
		if (!cs)
			return -ENOMEM;
		size_t i;
		json_t *child;
		json_array_foreach (v, i, child) {
			_cleanup_free_ char *cshown = kv_strdup_printf("%s[%zu]", shown, i);
			if (!cshown)
				return -ENOMEM;
			int r = check_node(kind, cs, cshown, child, depth + 1, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int kv_api_check(const char *kind, const char *path, const json_t *obj, struct kv_err **err)
{
	return check_node(kind, path, path, obj, 0, err);
}

/* ---- defaults --------------------------------------------------------------- */

static const char *const disk_kinds[] = { "disk", "cdrom", "lun" };

static json_t *find_named(const json_t *arr, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach (arr, i, e)
		if (kv_jstr_eq(kv_jstr(e, "name"), name))
			return e;
	return NULL;
}

static json_t *ensure_array(json_t *obj, const char *path)
{
	json_t *a = kv_jget(obj, path);
	if (json_is_array(a))
		return a;
	a = json_array();
	if (kv_jset(obj, path, a) < 0)
		return NULL;
	return a;
}

static int default_memory(json_t *domain)
{
	json_t *guest = kv_jget(domain, "memory.guest");
	if (guest && !json_is_null(guest))
		return 0;
	json_t *src = kv_jget(domain, "resources.requests.memory");
	if (!src)
		src = kv_jget(domain, "resources.limits.memory");
	if (!src)
		return 0; /* validation reports the missing memory */
	return kv_jset(domain, "memory.guest", json_deep_copy(src));
}

static int default_cpu(json_t *domain)
{
	if (kv_jget(domain, "cpu.cores") || kv_jget(domain, "cpu.sockets") ||
	    kv_jget(domain, "cpu.threads"))
		return 0;
	/* KubeVirt: sockets = the CPU limit (or request) rounded up, cores = threads = 1. */
	uint64_t sockets = 1;
	json_t *q = kv_jget(domain, "resources.limits.cpu");
	if (!q)
		q = kv_jget(domain, "resources.requests.cpu");
	uint64_t n;
	if (q && kv_quantity_units(q, &n) == 0 && n >= 1 && n <= VMI_MAX_VCPUS)
		sockets = n;
	int r = kv_jset(domain, "cpu.sockets", json_integer((json_int_t)sockets));
	if (r >= 0)
		r = kv_jset(domain, "cpu.cores", json_integer(1));
	if (r >= 0)
		r = kv_jset(domain, "cpu.threads", json_integer(1));
	return r;
}

static int default_disks(json_t *spec, kv_vmi_warn_fn warn, void *ud)
{
	json_t *disks = ensure_array(spec, "domain.devices.disks");
	if (!disks)
		return -ENOMEM;
	size_t i;
	json_t *d;
	json_array_foreach (disks, i, d) {
		if (!json_is_object(d))
			continue;
		json_t *dev = NULL;
		for (size_t k = 0; k < KV_ARRAY_SIZE(disk_kinds) && !dev; k++)
			if (json_is_object(json_object_get(d, disk_kinds[k])))
				dev = json_object_get(d, disk_kinds[k]);
		if (!dev) {
			dev = json_object();
			if (json_object_set_new(d, "disk", dev) < 0)
				return -ENOMEM;
		}
		const char *bus = kv_jstr(dev, "bus");
		if (bus && strcmp(bus, "virtio") && warn) {
			_cleanup_free_ char *msg = kv_strdup_printf(
			    "disk %s: the kvirt VMM has only virtio; bus %s served as virtio",
			    kv_jstr_or(d, "name", "?"), bus);
			if (msg)
				warn(ud, "UnsupportedDiskBus", msg);
		}
		if (json_object_set_new(dev, "bus", json_string("virtio")) < 0)
			return -ENOMEM;
	}
	/* Volumes without a disk get one (KubeVirt's SetDefaultVolumeDisk). */
	json_t *vols = kv_jget(spec, "volumes");
	json_t *v;
	json_array_foreach (vols, i, v) {
		const char *name = kv_jstr(v, "name");
		if (!name || find_named(disks, name))
			continue;
		json_t *disk = json_pack("{s:s,s:{s:s}}", "name", name, "disk", "bus", "virtio");
		if (!disk || json_array_append_new(disks, disk) < 0)
			return -ENOMEM;
	}
	return 0;
}

static const char *const bindings[] = { "bridge",  "masquerade", "sriov",   "passtBinding",
					"binding", "slirp",	 "macvtap", "passt" };

static int default_interfaces(json_t *spec)
{
	json_t *ifaces = kv_jget(spec, "domain.devices.interfaces");
	json_t *nets = kv_jget(spec, "networks");
	bool none = json_array_size(ifaces) == 0 && json_array_size(nets) == 0;
	if (none && kv_jbool(spec, "domain.devices.autoattachPodInterface", true)) {
		/* KubeVirt's default network interface binding is bridge. */
		if (kv_jset(spec, "domain.devices.interfaces",
			    json_pack("[{s:s,s:{}}]", "name", "default", "bridge")) < 0 ||
		    kv_jset(spec, "networks", json_pack("[{s:s,s:{}}]", "name", "default", "pod")) <
			0)
			return -ENOMEM;
		ifaces = kv_jget(spec, "domain.devices.interfaces");
	}
	size_t i;
	json_t *ifc;
	json_array_foreach (ifaces, i, ifc) {
		if (!json_is_object(ifc))
			continue;
		bool has = false;
		for (size_t k = 0; k < KV_ARRAY_SIZE(bindings); k++)
			has |= json_object_get(ifc, bindings[k]) != NULL;
		if (!has && json_object_set_new(ifc, "bridge", json_object()) < 0)
			return -ENOMEM;
		if (!json_object_get(ifc, "model") &&
		    json_object_set_new(ifc, "model", json_string("virtio")) < 0)
			return -ENOMEM;
	}
	return 0;
}

int kv_vmi_apply_defaults(json_t *spec, kv_vmi_warn_fn warn, void *ud, struct kv_err **err)
{
	if (!json_is_object(spec))
		return kv_err_set(err, EINVAL, "spec: must be an object");
	json_t *domain = kv_jget(spec, "domain");
	if (!json_is_object(domain))
		return kv_err_set(err, EINVAL, "spec.domain: is required");
	int r = default_memory(domain);
	if (r >= 0)
		r = default_cpu(domain);
	if (r >= 0)
		r = default_disks(spec, warn, ud);
	if (r >= 0)
		r = default_interfaces(spec);
	if (r >= 0 && !json_is_integer(json_object_get(spec, "terminationGracePeriodSeconds")))
		r = kv_jset(spec, "terminationGracePeriodSeconds",
			    json_integer(KV_VMI_DEFAULT_GRACE_SECONDS));
	if (r < 0)
		return kv_err_set(err, -r, "cannot apply defaults: out of memory");
	return 0;
}

/* ---- validation ----------------------------------------------------------- */

static int validate_memory(const json_t *domain, struct kv_err **err)
{
	json_t *guest = kv_jget(domain, "memory.guest");
	json_t *hp = kv_jget(domain, "memory.hugepages");
	if (!guest && !hp && !kv_jget(domain, "resources.requests.memory") &&
	    !kv_jget(domain, "resources.limits.memory"))
		return kv_err_set(err, EINVAL,
				  "spec.domain: no memory given; set spec.domain.memory.guest or "
				  "spec.domain.resources.requests.memory (e.g. 128Mi)");
	uint64_t g = 0;
	if (guest) {
		if (kv_quantity_units(guest, &g) < 0)
			return kv_err_set(
			    err, EINVAL,
			    "spec.domain.memory.guest: not a quantity; use e.g. 128Mi or 1Gi");
		if (g == 0)
			return kv_err_set(err, EINVAL,
					  "spec.domain.memory.guest: must be greater than 0");
	}
	json_t *req = kv_jget(domain, "resources.requests.memory");
	uint64_t q;
	if (req && (kv_quantity_units(req, &q) < 0))
		return kv_err_set(
		    err, EINVAL,
		    "spec.domain.resources.requests.memory: not a quantity; use e.g. 128Mi");
	if (req && q == 0 && !guest)
		return kv_err_set(err, EINVAL,
				  "spec.domain.resources.requests.memory: must be greater than 0");
	json_t *lim = kv_jget(domain, "resources.limits.memory");
	if (lim) {
		if (kv_quantity_units(lim, &q) < 0)
			return kv_err_set(
			    err, EINVAL,
			    "spec.domain.resources.limits.memory: not a quantity; use e.g. 128Mi");
		if (g && g > q)
			return kv_err_set(err, EINVAL,
					  "spec.domain.memory.guest (%llu bytes) exceeds "
					  "spec.domain.resources.limits.memory (%llu bytes); lower "
					  "the guest memory or raise the limit",
					  (unsigned long long)g, (unsigned long long)q);
	}
	return 0;
}

static int validate_cpu(const json_t *domain, struct kv_err **err)
{
	static const char *const dims[] = { "cores", "sockets", "threads" };
	unsigned long long total = 1;
	for (size_t i = 0; i < KV_ARRAY_SIZE(dims); i++) {
		json_t *v = kv_jget(kv_jget(domain, "cpu"), dims[i]);
		if (!v)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > VMI_MAX_VCPUS)
			return kv_err_set(err, EINVAL,
					  "spec.domain.cpu.%s: must be an integer from 1 to %d",
					  dims[i], VMI_MAX_VCPUS);
		total *= (unsigned long long)json_integer_value(v);
	}
	if (total > VMI_MAX_VCPUS)
		return kv_err_set(err, EINVAL,
				  "spec.domain.cpu: sockets × cores × threads = %llu vCPUs; at "
				  "most %d are supported",
				  total, VMI_MAX_VCPUS);
	static const char *const cpuq[] = { "resources.requests.cpu", "resources.limits.cpu" };
	for (size_t i = 0; i < KV_ARRAY_SIZE(cpuq); i++) {
		json_t *v = kv_jget(domain, cpuq[i]);
		uint64_t m;
		if (v && kv_quantity_milli(v, &m) < 0)
			return kv_err_set(err, EINVAL,
					  "spec.domain.%s: not a CPU quantity; use e.g. 500m or 2",
					  cpuq[i]);
	}
	return 0;
}

static const char *const volume_sources[] = {
	"containerDisk",
	"cloudInitNoCloud",
	"cloudInitConfigDrive",
	"persistentVolumeClaim",
	"dataVolume",
	"ephemeral",
	"emptyDisk",
	"hostDisk",
	"configMap",
	"secret",
	"downwardAPI",
	"serviceAccount",
	"downwardMetrics",
	"sysprep",
	"memoryDump",
	"containerPath",
};

static int validate_disks(const json_t *spec, struct kv_err **err)
{
	json_t *disks = kv_jget(spec, "domain.devices.disks");
	json_t *vols = kv_jget(spec, "volumes");
	size_t i;
	json_t *d;
	json_array_foreach (disks, i, d) {
		const char *name = kv_jstr(d, "name");
		if (!name || !*name)
			return kv_err_set(err, EINVAL,
					  "spec.domain.devices.disks[%zu]: needs a name", i);
		int kinds = 0;
		for (size_t k = 0; k < KV_ARRAY_SIZE(disk_kinds); k++)
			kinds += json_object_get(d, disk_kinds[k]) != NULL;
		if (kinds > 1)
			return kv_err_set(err, EINVAL,
					  "spec.domain.devices.disks[%zu] \"%s\": set only one of "
					  "disk, cdrom and lun",
					  i, name);
		if (!find_named(vols, name))
			return kv_err_set(
			    err, EINVAL,
			    "spec.domain.devices.disks[%zu] \"%s\": no volume named \"%s\"; add a "
			    "volume with that name to spec.volumes or remove the disk",
			    i, name, name);
		for (size_t j = 0; j < i; j++)
			if (kv_jstr_eq(kv_jstr(json_array_get(disks, j), "name"), name))
				return kv_err_set(
				    err, EINVAL,
				    "spec.domain.devices.disks[%zu]: the name \"%s\" is used twice",
				    i, name);
	}
	json_t *v;
	json_array_foreach (vols, i, v) {
		const char *name = kv_jstr(v, "name");
		if (!name || !*name)
			return kv_err_set(err, EINVAL, "spec.volumes[%zu]: needs a name", i);
		int n = 0;
		const char *first = NULL;
		for (size_t k = 0; k < KV_ARRAY_SIZE(volume_sources); k++) {
			json_t *s = json_object_get(v, volume_sources[k]);
			if (s && !json_is_null(s)) {
				n++;
				if (!first)
					first = volume_sources[k];
			}
		}
		if (n == 0)
			return kv_err_set(
			    err, EINVAL,
			    "spec.volumes[%zu] \"%s\": no source; set one of containerDisk, "
			    "cloudInitNoCloud, persistentVolumeClaim, emptyDisk, …",
			    i, name);
		if (n > 1)
			return kv_err_set(err, EINVAL,
					  "spec.volumes[%zu] \"%s\": more than one source (%s and "
					  "another); a volume has exactly one",
					  i, name, first);
		if (!find_named(disks, name))
			return kv_err_set(err, EINVAL,
					  "spec.volumes[%zu] \"%s\": no disk uses this volume; add "
					  "a disk named \"%s\"",
					  i, name, name);
		if (json_object_get(v, "containerDisk") &&
		    !kv_jstr(json_object_get(v, "containerDisk"), "image"))
			return kv_err_set(err, EINVAL,
					  "spec.volumes[%zu] \"%s\": containerDisk needs an image",
					  i, name);
	}
	return 0;
}

static int validate_networks(const json_t *spec, struct kv_err **err)
{
	json_t *ifaces = kv_jget(spec, "domain.devices.interfaces");
	json_t *nets = kv_jget(spec, "networks");
	size_t i;
	json_t *ifc;
	json_array_foreach (ifaces, i, ifc) {
		const char *name = kv_jstr(ifc, "name");
		if (!name || !*name)
			return kv_err_set(err, EINVAL,
					  "spec.domain.devices.interfaces[%zu]: needs a name", i);
		int n = 0;
		for (size_t k = 0; k < KV_ARRAY_SIZE(bindings); k++)
			n += json_object_get(ifc, bindings[k]) != NULL;
		if (n > 1)
			return kv_err_set(err, EINVAL,
					  "spec.domain.devices.interfaces[%zu] \"%s\": set only "
					  "one binding (bridge, masquerade, …)",
					  i, name);
		if (!find_named(nets, name))
			return kv_err_set(
			    err, EINVAL,
			    "spec.domain.devices.interfaces[%zu] \"%s\": no network named \"%s\"; "
			    "add it to spec.networks (e.g. {name: %s, pod: {}})",
			    i, name, name, name);
	}
	int pods = 0;
	json_t *net;
	json_array_foreach (nets, i, net) {
		const char *name = kv_jstr(net, "name");
		if (!name || !*name)
			return kv_err_set(err, EINVAL, "spec.networks[%zu]: needs a name", i);
		bool pod = json_object_get(net, "pod") != NULL;
		bool multus = json_object_get(net, "multus") != NULL;
		if (pod + multus + (json_object_get(net, "resourceClaim") != NULL) != 1)
			return kv_err_set(
			    err, EINVAL,
			    "spec.networks[%zu] \"%s\": set exactly one of pod and multus", i,
			    name);
		pods += pod;
		if (!find_named(ifaces, name))
			return kv_err_set(err, EINVAL,
					  "spec.networks[%zu] \"%s\": no interface uses this "
					  "network; add an interface named \"%s\"",
					  i, name, name);
	}
	if (pods > 1)
		return kv_err_set(err, EINVAL, "spec.networks: more than one pod network");
	return 0;
}

int kv_vmi_validate(const json_t *spec, struct kv_err **err)
{
	const json_t *domain = kv_jget(spec, "domain");
	if (!json_is_object(domain))
		return kv_err_set(err, EINVAL, "spec.domain: is required");
	int r = validate_memory(domain, err);
	if (r >= 0)
		r = validate_cpu(domain, err);
	if (r >= 0)
		r = validate_disks(spec, err);
	if (r >= 0)
		r = validate_networks(spec, err);
	json_t *g = json_object_get(spec, "terminationGracePeriodSeconds");
	if (r >= 0 && g && (!json_is_integer(g) || json_integer_value(g) < 0))
		r = kv_err_set(err, EINVAL, "spec.terminationGracePeriodSeconds: must be ≥ 0");
	return r;
}

int kv_vmi_load(json_t *vmi, kv_vmi_warn_fn warn, void *ud, struct kv_err **err)
{
	if (!json_is_object(vmi))
		return kv_err_set(err, EINVAL, "a VirtualMachineInstance must be an object");
	const char *kind = kv_jstr(vmi, "kind");
	if (kind && strcmp(kind, "VirtualMachineInstance"))
		return kv_err_set(err, EINVAL, "kind is %s, expected VirtualMachineInstance", kind);
	json_t *spec = json_object_get(vmi, "spec");
	if (!spec)
		return kv_err_set(err, EINVAL, "spec: is required");
	int r = kv_api_check("VirtualMachineInstance", "spec", spec, err);
	if (r >= 0)
		r = kv_vmi_apply_defaults(spec, warn, ud, err);
	if (r >= 0)
		r = kv_vmi_validate(spec, err);
	return r;
}

int kv_vmi_resources(const json_t *spec, struct kv_vmi_resources *out, struct kv_err **err)
{
	*out = (struct kv_vmi_resources){ .vcpus = 1 };
	const json_t *domain = kv_jget(spec, "domain");
	json_t *g = kv_jget(domain, "memory.guest");
	if (!g)
		g = kv_jget(domain, "resources.requests.memory");
	if (!g || kv_quantity_units(g, &out->guest_memory) < 0 || !out->guest_memory)
		return kv_err_set(err, EINVAL, "spec.domain.memory.guest: missing or invalid");
	json_t *l = kv_jget(domain, "resources.limits.memory");
	if (l && kv_quantity_units(l, &out->memory_limit) < 0)
		return kv_err_set(err, EINVAL, "spec.domain.resources.limits.memory: invalid");
	long long dims[3] = { kv_jint(domain, "cpu.sockets", 1), kv_jint(domain, "cpu.cores", 1),
			      kv_jint(domain, "cpu.threads", 1) };
	unsigned long long n = 1;
	for (unsigned i = 0; i < 3; i++) {
		if (dims[i] < 1 || dims[i] > VMI_MAX_VCPUS)
			return kv_err_set(err, EINVAL, "spec.domain.cpu: bad topology");
		n *= (unsigned long long)dims[i];
	}
	if (n > VMI_MAX_VCPUS)
		return kv_err_set(err, EINVAL, "spec.domain.cpu: bad topology");
	out->vcpus = (unsigned)n;
	out->sockets = (unsigned)dims[0];
	out->cores = (unsigned)dims[1];
	out->threads = (unsigned)dims[2];
	json_t *c = kv_jget(domain, "resources.requests.cpu");
	if (c && kv_quantity_milli(c, &out->cpu_request_mc) < 0)
		return kv_err_set(err, EINVAL, "spec.domain.resources.requests.cpu: invalid");
	c = kv_jget(domain, "resources.limits.cpu");
	if (c && kv_quantity_milli(c, &out->cpu_limit_mc) < 0)
		return kv_err_set(err, EINVAL, "spec.domain.resources.limits.cpu: invalid");
	out->grace_seconds =
	    kv_jint(spec, "terminationGracePeriodSeconds", KV_VMI_DEFAULT_GRACE_SECONDS);
	return 0;
}

/* ---- label selectors ------------------------------------------------------ */

static bool str_in(const json_t *values, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach (values, i, v)
		if (json_is_string(v) && s && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

int kv_label_selector_matches(const json_t *selector, const json_t *labels, struct kv_err **err)
{
	if (!selector || json_is_null(selector))
		return 1;
	if (!json_is_object(selector))
		return kv_err_set(err, EINVAL, "selector: must be an object");
	json_t *ml = json_object_get(selector, "matchLabels");
	const char *k;
	json_t *v;
	if (ml && !json_is_object(ml))
		return kv_err_set(err, EINVAL, "selector.matchLabels: must be an object");
	json_object_foreach (ml, k, v) {
		const char *have =
		    json_is_object(labels) ? json_string_value(json_object_get(labels, k)) : NULL;
		if (!json_is_string(v))
			return kv_err_set(err, EINVAL, "selector.matchLabels.%s: must be a string",
					  k);
		if (!have || strcmp(have, json_string_value(v)))
			return 0;
	}
	json_t *me = json_object_get(selector, "matchExpressions");
	size_t i;
	json_t *e;
	json_array_foreach (me, i, e) {
		const char *key = kv_jstr(e, "key"), *op = kv_jstr(e, "operator");
		if (!key || !op)
			return kv_err_set(err, EINVAL,
					  "selector.matchExpressions[%zu]: needs key and operator",
					  i);
		const char *have =
		    json_is_object(labels) ? json_string_value(json_object_get(labels, key)) : NULL;
		json_t *vals = json_object_get(e, "values");
		bool m;
		if (!strcmp(op, "In"))
			m = have && str_in(vals, have);
		else if (!strcmp(op, "NotIn"))
			m = !have || !str_in(vals, have);
		else if (!strcmp(op, "Exists"))
			m = have != NULL;
		else if (!strcmp(op, "DoesNotExist"))
			m = have == NULL;
		else
			return kv_err_set(err, EINVAL,
					  "selector.matchExpressions[%zu]: unknown operator %s", i,
					  op);
		if (!m)
			return 0;
	}
	return 1;
}

char *kv_label_selector_string(const json_t *selector)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	bool first = true;
	const char *k;
	json_t *v;
	json_object_foreach (json_object_get(selector, "matchLabels"), k, v) {
		fprintf(f, "%s%s=%s", first ? "" : ",", k,
			json_is_string(v) ? json_string_value(v) : "");
		first = false;
	}
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(selector, "matchExpressions"), i, e) {
		const char *key = kv_jstr_or(e, "key", ""), *op = kv_jstr_or(e, "operator", "");
		fputs(first ? "" : ",", f);
		first = false;
		if (!strcmp(op, "Exists"))
			fprintf(f, "%s", key);
		else if (!strcmp(op, "DoesNotExist"))
			fprintf(f, "!%s", key);
		else {
			fprintf(f, "%s %s (", key, !strcmp(op, "In") ? "in" : "notin");
			size_t j;
			json_t *val;
			json_array_foreach (json_object_get(e, "values"), j, val)
				fprintf(f, "%s%s", j ? "," : "",
					json_is_string(val) ? json_string_value(val) : "");
			fputc(')', f);
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- presets --------------------------------------------------------------- */

struct merge_ctx {
	const char *preset;
	kv_vmi_warn_fn warn;
	void *ud;
	int conflicts;
};

/* Merge `src` into `dst`; values already in dst win (KubeVirt's preset rule). */
static int merge_into(json_t *dst, const json_t *src, const char *path, struct merge_ctx *m)
{
	const char *k;
	json_t *sv;
	json_object_foreach ((json_t *)(uintptr_t)src, k, sv) {
		json_t *dv = json_object_get(dst, k);
		_cleanup_free_ char *p = kv_strdup_printf("%s.%s", path, k);
		if (!p)
			return -ENOMEM;
		if (!dv) {
			if (json_object_set_new(dst, k, json_deep_copy(sv)) < 0)
				return -ENOMEM;
		} else if (json_is_object(dv) && json_is_object(sv)) {
			int r = merge_into(dv, sv, p, m);
			if (r < 0)
				return r;
		} else if (!json_equal(dv, sv)) {
			m->conflicts++;
			if (m->warn) {
				_cleanup_free_ char *msg =
				    kv_strdup_printf("preset %s sets %s, which the VMI sets "
						     "differently; the VMI's value is kept",
						     m->preset, p);
				if (msg)
					m->warn(m->ud, "PresetConflict", msg);
			}
		}
	}
	return 0;
}

int kv_vmi_apply_presets(json_t *vmi, const json_t *presets, kv_vmi_warn_fn warn, void *ud,
			 struct kv_err **err)
{
	json_t *labels = kv_jget(vmi, "metadata.labels");
	json_t *domain = kv_jget(vmi, "spec.domain");
	if (!json_is_object(domain))
		return kv_err_set(err, EINVAL, "spec.domain: is required");
	int applied = 0;
	size_t i;
	json_t *p;
	json_array_foreach (presets, i, p) {
		const char *name = kv_jstr(p, "metadata.name");
		json_t *sel = kv_jget(p, "spec.selector");
		json_t *pdom = kv_jget(p, "spec.domain");
		if (!name || !json_is_object(pdom))
			continue;
		/* A preset with a malformed selector matches nothing (reported by the caller's events). */
		if (kv_label_selector_matches(sel, labels, NULL) != 1)
			continue;
		struct merge_ctx m = { .preset = name, .warn = warn, .ud = ud };
		if (merge_into(domain, pdom, "spec.domain", &m) < 0)
			return kv_err_set(err, ENOMEM, "out of memory merging presets");
		_cleanup_free_ char *ann = kv_strdup_printf(KV_PRESET_ANNOTATION_PREFIX "%s", name);
		json_t *anns = kv_jobj(vmi, "metadata.annotations");
		if (!ann || !anns ||
		    json_object_set_new(anns, ann, json_string("kubevirt.io/v1")) < 0)
			return kv_err_set(err, ENOMEM, "out of memory merging presets");
		applied++;
	}
	return applied;
}
