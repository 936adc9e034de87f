/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cpu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/json.h"
#include "kvirt/util.h"

#include "cpu.h"
void vmm_config_init(struct vmm_config *cfg)
{
	*cfg = (struct vmm_config){ .serial = VMM_SERIAL_STDIO };
}

void vmm_config_clear(struct vmm_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->serial_path);
	free(cfg->api_path);
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		free(cfg->disks[i].path);
		free(cfg->disks[i].serial);
	}
	for (unsigned i = 0; i < cfg->nnets; i++)
		free(cfg->nets[i].tap);
	vmm_config_init(cfg);
}

static int replace_str(char **slot, const char *value)
{
	char *s = strdup(value);
	if (!s)
		return -ENOMEM;
	free(*slot);
	*slot = s;
	return 0;
}

static int parse_serial(struct vmm_config *cfg, const char *v, struct kv_err **err)
{
	enum vmm_serial_kind kind;
	const char *path = NULL;
	if (!strcmp(v, "stdio"))
		kind = VMM_SERIAL_STDIO;
	else if (!strcmp(v, "none"))
		kind = VMM_SERIAL_NONE;
	else if (!strncmp(v, "file:", 5))
		kind = VMM_SERIAL_FILE, path = v + 5;
	else if (!strncmp(v, "unix:", 5))
		kind = VMM_SERIAL_UNIX, path = v + 5;
	else
		return kv_err_set(err, EINVAL,
				  "serial: \"%s\" is not a console backend; use stdio, none, "
				  "file:PATH or unix:PATH",
				  v);
	if (path && !*path)
		return kv_err_set(err, EINVAL, "serial: \"%s\" needs a path after the colon", v);
	/* sun_path is 108 bytes including the NUL. */
	if (kind == VMM_SERIAL_UNIX && path && strlen(path) >= 108)
		return kv_err_set(err, ENAMETOOLONG,
				  "serial: unix socket path is longer than 107 bytes");
	free(cfg->serial_path);
	cfg->serial_path = NULL;
	if (path && replace_str(&cfg->serial_path, path) < 0)
		return kv_err_set(err, ENOMEM, "serial: out of memory");
	cfg->serial = kind;
	return 0;
}

static int parse_memory(struct vmm_config *cfg, const char *v, struct kv_err **err)
{
	uint64_t bytes;
	int r = kv_parse_size(v, &bytes);
	if (r < 0)
		return kv_err_set(
		    err, EINVAL, "memory: \"%s\" is not a size; use e.g. 512M or 2G (or bytes)", v);
	cfg->memory = bytes;
	return 0;
}

static int parse_topo_count(const char *key, const char *v, unsigned *out, struct kv_err **err)
{
	uint64_t n;
	if (kv_parse_u64(v, &n) < 0 || n < 1 || n > VMM_MAX_CPUS)
		return kv_err_set(err, EINVAL, "cpus: %s: \"%s\" is not a count between 1 and %d",
				  key, v, VMM_MAX_CPUS);
	*out = (unsigned)n;
	return 0;
}

static int set_topology_key(struct vmm_config *cfg, const char *key, const char *v,
			    struct kv_err **err)
{
	if (!strcmp(key, "sockets"))
		return parse_topo_count(key, v, &cfg->sockets, err);
	if (!strcmp(key, "cores"))
		return parse_topo_count(key, v, &cfg->cores, err);
	if (!strcmp(key, "threads"))
		return parse_topo_count(key, v, &cfg->threads, err);
	return kv_err_set(err, EINVAL, "cpus: unknown key \"%s\" (sockets, cores, threads)", key);
}

/* "4", "4,sockets=1,cores=2,threads=2" or "sockets=2,cores=2" (4 vCPUs). */
static int parse_cpus(struct vmm_config *cfg, const char *v, struct kv_err **err)
{
	_cleanup_free_ char *copy = strdup(v);
	if (!copy)
		return kv_err_set(err, ENOMEM, "cpus: out of memory");
	char *save = NULL;
	bool first = true;
	for (char *tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save), first = false) {
		char *eq = strchr(tok, '=');
		if (!eq && first) {
			uint64_t n;
			if (kv_parse_u64(tok, &n) < 0 || n > UINT32_MAX)
				return kv_err_set(err, EINVAL,
						  "cpus: \"%s\" is not a number of vCPUs", tok);
			if (!n) /* 0 would otherwise mean "not given" */
				return kv_err_set(err, EINVAL, "cpus: must be between 1 and %d",
						  VMM_MAX_CPUS);
			cfg->cpus = (unsigned)n;
			continue;
		}
		if (!eq)
			return kv_err_set(err, EINVAL, "cpus: \"%s\" is not key=value", tok);
		*eq = 0;
		int r = set_topology_key(cfg, tok, eq + 1, err);
		if (r < 0)
			return r;
	}
	if (first)
		return kv_err_set(err, EINVAL, "cpus: empty; give a number of vCPUs");
	return 0;
}

/* JSON "topology": {"sockets": S, "cores": C, "threads": T} */
static int topology_from_json(struct vmm_config *cfg, const struct kv_json *root,
			      struct kv_err **err)
{
	const struct kv_json *t = NULL;
	int r = kv_json_get_object(root, "topology", &t, err);
	if (r <= 0)
		return r;
	static const char *const fields[] = { "sockets", "cores", "threads", NULL };
	r = kv_json_check_fields(t, "topology", fields, err);
	if (r < 0)
		return r;
	for (unsigned i = 0; fields[i]; i++) {
		uint64_t n;
		r = kv_json_get_u64(t, fields[i], &n, err);
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		char num[24];
		snprintf(num, sizeof(num), "%llu", (unsigned long long)n);
		r = set_topology_key(cfg, fields[i], num, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Fill in the topology (see vmm_config) and check it against cpus. */
static int validate_topology(struct vmm_config *cfg, struct kv_err **err)
{
	if (!cfg->sockets && !cfg->cores && !cfg->threads) {
		if (!cfg->cpus)
			cfg->cpus = 1;
		cfg->sockets = cfg->cpus;
		cfg->cores = cfg->threads = 1;
	}
	if (!cfg->sockets)
		cfg->sockets = 1;
	if (!cfg->cores)
		cfg->cores = 1;
	if (!cfg->threads)
		cfg->threads = 1;
	uint64_t n = (uint64_t)cfg->sockets * cfg->cores * cfg->threads;
	if (n > VMM_MAX_CPUS)
		return kv_err_set(err, ERANGE,
				  "cpus: sockets %u × cores %u × threads %u = %llu vCPUs; must be "
				  "between 1 and %d",
				  cfg->sockets, cfg->cores, cfg->threads, (unsigned long long)n,
				  VMM_MAX_CPUS);
	if (!cfg->cpus)
		cfg->cpus = (unsigned)n;
	if (n != cfg->cpus)
		return kv_err_set(err, EINVAL,
				  "cpus: %u vCPUs but sockets %u × cores %u × threads %u = %llu; "
				  "make them agree (or leave the count out)",
				  cfg->cpus, cfg->sockets, cfg->cores, cfg->threads,
				  (unsigned long long)n);
	/* APIC IDs are bit fields per level; the MADT's LAPIC entries hold 8 bits. */
	struct cpu_topo t = { cfg->sockets, cfg->cores, cfg->threads };
	unsigned max_id = cpu_apic_id(&t, cfg->cpus - 1);
	if (max_id > 254)
		return kv_err_set(err, EINVAL,
				  "cpus: sockets %u × cores %u × threads %u needs APIC ID %u; at "
				  "most 254 (round cores/threads to powers of two, or use fewer)",
				  cfg->sockets, cfg->cores, cfg->threads, max_id);
	return 0;
}

static int parse_hugepages(struct vmm_config *cfg, const char *v, struct kv_err **err)
{
	if (!strcmp(v, "none") || !strcmp(v, "off"))
		cfg->hugepages = VMM_HUGEPAGES_NONE;
	else if (!strcmp(v, "thp"))
		cfg->hugepages = VMM_HUGEPAGES_THP;
	else
		return kv_err_set(err, EINVAL, "hugepages: \"%s\" is not one of none, thp", v);
	return 0;
}

static int parse_onoff(const char *field, const char *v, bool *out, struct kv_err **err)
{
	if (!strcmp(v, "on") || !strcmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "false"))
		*out = false;
	else
		return kv_err_set(err, EINVAL, "%s: \"%s\" is not on or off", field, v);
	return 0;
}

static int parse_disk_key(struct vmm_disk *d, unsigned n, const char *key, const char *v,
			  struct kv_err **err)
{
	uint64_t u;
	if (!strcmp(key, "path") || !strcmp(key, "serial")) {
		if (!*v)
			return kv_err_set(err, EINVAL, "disk %u: %s: empty", n, key);
		/* GET_ID returns at most 20 bytes. */
		if (key[0] == 's' && strlen(v) > 20)
			return kv_err_set(err, EINVAL, "disk %u: serial: longer than 20 bytes", n);
		if (replace_str(key[0] == 'p' ? &d->path : &d->serial, v) < 0)
			return kv_err_set(err, ENOMEM, "disk %u: out of memory", n);
		return 0;
	}
	if (!strcmp(key, "readonly"))
		return parse_onoff("disk readonly", v, &d->readonly, err);
	if (!strcmp(key, "coalesce")) {
		bool on = true;
		int r = parse_onoff("disk coalesce", v, &on, err);
		d->no_coalesce = !on;
		return r;
	}
	if (!strcmp(key, "cache")) {
		if (!strcmp(v, "none"))
			d->cache = VMM_CACHE_NONE;
		else if (!strcmp(v, "writeback"))
			d->cache = VMM_CACHE_WRITEBACK;
		else
			return kv_err_set(err, EINVAL,
					  "disk %u: cache: \"%s\" is not one of none, writeback", n,
					  v);
		return 0;
	}
	if (!strcmp(key, "backend")) {
		if (!strcmp(v, "io_uring"))
			d->backend = VMM_BACKEND_IO_URING;
		else if (!strcmp(v, "threads"))
			d->backend = VMM_BACKEND_THREADS;
		else if (!strcmp(v, "auto"))
			d->backend = VMM_BACKEND_AUTO;
		else
			return kv_err_set(err, EINVAL,
					  "disk %u: backend: \"%s\" is not one of auto, io_uring, "
					  "threads",
					  n, v);
		return 0;
	}
	if (!strcmp(key, "queues")) {
		if (kv_parse_u64(v, &u) < 0 || u < 1 || u > VMM_MAX_DISK_QUEUES)
			return kv_err_set(err, EINVAL, "disk %u: queues: \"%s\" is not 1..%d", n, v,
					  VMM_MAX_DISK_QUEUES);
		d->queues = (unsigned)u;
		return 0;
	}
	if (!strcmp(key, "queue_size")) {
		if (kv_parse_u64(v, &u) < 0 || u < 2 || u > 1024 || (u & (u - 1)))
			return kv_err_set(err, EINVAL,
					  "disk %u: queue_size: \"%s\" is not a power of two in "
					  "2..1024",
					  n, v);
		d->queue_size = (unsigned)u;
		return 0;
	}
	return kv_err_set(err, EINVAL,
			  "disk %u: unknown key \"%s\" (path, readonly, cache, backend, queues, "
			  "queue_size, serial, coalesce)",
			  n, key);
}

/* "path=/img,readonly=on,cache=none,queues=2,queue_size=256,serial=abc,backend=threads" */
static int parse_disk(struct vmm_config *cfg, const char *v, struct kv_err **err)
{
	if (cfg->ndisks == VMM_MAX_DISKS)
		return kv_err_set(err, E2BIG, "disk: at most %d disks", VMM_MAX_DISKS);
	unsigned n = cfg->ndisks;
	struct vmm_disk *d = &cfg->disks[n];
	*d = (struct vmm_disk){ .queue_size = VMM_DEFAULT_QUEUE_SIZE };
	cfg->ndisks++; /* cleared by vmm_config_clear() even when parsing fails */
	_cleanup_free_ char *copy = strdup(v);
	if (!copy)
		return kv_err_set(err, ENOMEM, "disk: out of memory");
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			return kv_err_set(err, EINVAL, "disk %u: \"%s\" is not key=value", n, tok);
		*eq = 0;
		int r = parse_disk_key(d, n, tok, eq + 1, err);
		if (r < 0)
			return r;
	}
	if (!d->path)
		return kv_err_set(err, EINVAL, "disk %u: path: required", n);
	return 0;
}

static int parse_mac(const char *v, uint8_t mac[6])
{
	unsigned b[6];
	char end;
	if (strlen(v) != 17 || sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &end) != 6)
		return -EINVAL;
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	/* A multicast address cannot be a NIC's. */
	return (mac[0] & 1) ? -EINVAL : 0;
}

static int parse_net_key(struct vmm_net *d, unsigned n, const char *key, const char *v,
			 struct kv_err **err)
{
	uint64_t u;
	if (!strcmp(key, "tap")) {
		if (!*v || strlen(v) >= 16 || strchr(v, '/') || strchr(v, ' '))
			return kv_err_set(err, EINVAL,
					  "net %u: tap: \"%s\" is not an interface name", n, v);
		if (replace_str(&d->tap, v) < 0)
			return kv_err_set(err, ENOMEM, "net %u: out of memory", n);
		return 0;
	}
	if (!strcmp(key, "fd")) {
		/* "3" or "3:4:5": one tap queue fd per queue pair. */
		_cleanup_free_ char *copy = strdup(v);
		if (!copy)
			return kv_err_set(err, ENOMEM, "net %u: out of memory", n);
		d->nfds = 0;
		char *save = NULL;
		for (char *tok = strtok_r(copy, ":", &save); tok;
		     tok = strtok_r(NULL, ":", &save)) {
			if (kv_parse_u64(tok, &u) < 0 || u < 3 || u > INT32_MAX)
				return kv_err_set(err, EINVAL,
						  "net %u: fd: \"%s\" is not a file descriptor "
						  "number (3 or more)",
						  n, tok);
			if (d->nfds == VMM_MAX_NET_QUEUES)
				return kv_err_set(err, E2BIG, "net %u: fd: at most %d fds", n,
						  VMM_MAX_NET_QUEUES);
			d->fds[d->nfds++] = (int)u;
		}
		if (!d->nfds)
			return kv_err_set(err, EINVAL, "net %u: fd: empty", n);
		return 0;
	}
	if (!strcmp(key, "mac")) {
		if (parse_mac(v, d->mac) < 0)
			return kv_err_set(err, EINVAL,
					  "net %u: mac: \"%s\" is not a unicast MAC like "
					  "52:54:00:12:34:56",
					  n, v);
		d->has_mac = true;
		return 0;
	}
	if (!strcmp(key, "queues")) {
		if (kv_parse_u64(v, &u) < 0 || u < 1 || u > VMM_MAX_NET_QUEUES)
			return kv_err_set(err, EINVAL, "net %u: queues: \"%s\" is not 1..%d", n, v,
					  VMM_MAX_NET_QUEUES);
		d->queues = (unsigned)u;
		return 0;
	}
	if (!strcmp(key, "mtu")) {
		if (kv_parse_u64(v, &u) < 0 || u < 68 || u > 65535)
			return kv_err_set(err, EINVAL, "net %u: mtu: \"%s\" is not 68..65535", n,
					  v);
		d->mtu = (unsigned)u;
		return 0;
	}
	if (!strcmp(key, "queue_size")) {
		if (kv_parse_u64(v, &u) < 0 || u < 2 || u > 1024 || (u & (u - 1)))
			return kv_err_set(err, EINVAL,
					  "net %u: queue_size: \"%s\" is not a power of two in "
					  "2..1024",
					  n, v);
		d->queue_size = (unsigned)u;
		return 0;
	}
	return kv_err_set(err, EINVAL,
			  "net %u: unknown key \"%s\" (tap, fd, mac, queues, mtu, queue_size)", n,
			  key);
}

static struct vmm_net *net_add(struct vmm_config *cfg)
{
	if (cfg->nnets == VMM_MAX_NETS)
		return NULL;
	unsigned n = cfg->nnets++; /* cleared by vmm_config_clear() even when parsing fails */
	struct vmm_net *d = &cfg->nets[n];
	*d = (struct vmm_net){ .queue_size = VMM_DEFAULT_QUEUE_SIZE,
			       .mac = { 0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + n) } };
	return d;
}

static int net_check(const struct vmm_net *d, unsigned n, struct kv_err **err)
{
	if (!d->tap == !d->nfds)
		return kv_err_set(err, EINVAL, "net %u: give exactly one of tap=NAME or fd=N", n);
	if (d->nfds && d->queues && d->queues != d->nfds)
		return kv_err_set(err, EINVAL, "net %u: queues=%u but %u fd(s)", n, d->queues,
				  d->nfds);
	return 0;
}

/* "tap=tap0,mac=52:54:00:12:34:56,queues=2,mtu=9000" or "fd=3:4,..." */
static int parse_net(struct vmm_config *cfg, const char *v, struct kv_err **err)
{
	unsigned n = cfg->nnets;
	struct vmm_net *d = net_add(cfg);
	if (!d)
		return kv_err_set(err, E2BIG, "net: at most %d interfaces", VMM_MAX_NETS);
	_cleanup_free_ char *copy = strdup(v);
	if (!copy)
		return kv_err_set(err, ENOMEM, "net: out of memory");
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			return kv_err_set(err, EINVAL, "net %u: \"%s\" is not key=value", n, tok);
		*eq = 0;
		int r = parse_net_key(d, n, tok, eq + 1, err);
		if (r < 0)
			return r;
	}
	return net_check(d, n, err);
}

int vmm_config_set(struct vmm_config *cfg, const char *field, const char *value,
		   struct kv_err **err)
{
	if (!value)
		return kv_err_set(err, EINVAL, "%s: needs a value", field);
	if (!strcmp(field, "kernel") || !strcmp(field, "initrd") || !strcmp(field, "cmdline")) {
		char **slot = field[0] == 'k'	? &cfg->kernel
			      : field[0] == 'i' ? &cfg->initrd
						: &cfg->cmdline;
		if (replace_str(slot, value) < 0)
			return kv_err_set(err, ENOMEM, "%s: out of memory", field);
		return 0;
	}
	if (!strcmp(field, "memory"))
		return parse_memory(cfg, value, err);
	if (!strcmp(field, "cpus"))
		return parse_cpus(cfg, value, err);
	if (!strcmp(field, "serial"))
		return parse_serial(cfg, value, err);
	if (!strcmp(field, "hugepages"))
		return parse_hugepages(cfg, value, err);
	if (!strcmp(field, "disk"))
		return parse_disk(cfg, value, err);
	if (!strcmp(field, "api")) {
		if (strncmp(value, "unix:", 5) || !value[5])
			return kv_err_set(err, EINVAL, "api: \"%s\" is not unix:PATH", value);
		if (strlen(value + 5) > 107)
			return kv_err_set(err, EINVAL,
					  "api: unix socket path is longer than 107 bytes");
		if (replace_str(&cfg->api_path, value + 5) < 0)
			return kv_err_set(err, ENOMEM, "api: out of memory");
		return 0;
	}
	if (!strcmp(field, "net"))
		return parse_net(cfg, value, err);
	if (!strcmp(field, "on_reboot")) {
		if (!strcmp(value, "exit"))
			cfg->reboot_restart = false;
		else if (!strcmp(value, "restart"))
			cfg->reboot_restart = true;
		else
			return kv_err_set(err, EINVAL,
					  "on_reboot: \"%s\" is not one of exit, restart", value);
		return 0;
	}
	if (!strcmp(field, "pit"))
		return parse_onoff("pit", value, &cfg->pit, err);
	return kv_err_set(err, EINVAL, "unknown setting \"%s\"", field);
}

static const char *const json_fields[] = {
	"kernel", "initrd", "cmdline", "cpus", "memory",   "serial",	"hugepages",
	"pit",	  "disks",  "nets",    "api",  "topology", "on_reboot", NULL,
};

/* A JSON scalar in the textual form the flags use (booleans as on/off). */
static int json_value_text(const struct kv_json *o, const char *field, const char *what,
			   char num[24], const char **v, struct kv_err **err)
{
	int r;
	*v = NULL;
	switch (kv_json_field_type(o, field)) {
	case KV_JSON_ABSENT: return 0;
	case KV_JSON_STRING:
		if ((r = kv_json_get_string(o, field, v, err)) < 0)
			return r;
		return *v ? 1 : 0;
	case KV_JSON_BOOL: {
		bool b = false;
		if ((r = kv_json_get_bool(o, field, &b, err)) < 0)
			return r;
		*v = b ? "on" : "off";
		return 1;
	}
	case KV_JSON_INTEGER: {
		uint64_t u = 0;
		if ((r = kv_json_get_u64(o, field, &u, err)) < 0)
			return r;
		snprintf(num, 24, "%llu", (unsigned long long)u);
		*v = num;
		return 1;
	}
	default: return kv_err_set(err, EINVAL, "%s.%s: wrong type", what, field);
	}
}

/* "disks": [{"path": "/img", "readonly": true, "cache": "none", "queues": 2, ...}] */
static int disks_from_json(struct vmm_config *cfg, const struct kv_json *root, struct kv_err **err)
{
	static const char *const fields[] = { "path",	    "serial",	"readonly",
					      "cache",	    "backend",	"queues",
					      "queue_size", "coalesce", NULL };
	const struct kv_json *arr = NULL;
	int r = kv_json_get_array(root, "disks", &arr, err);
	if (r <= 0)
		return r;
	for (size_t i = 0; i < kv_json_array_len(arr); i++) {
		const struct kv_json *o = kv_json_array_at(arr, i);
		if (kv_json_type_of(o) != KV_JSON_OBJECT)
			return kv_err_set(err, EINVAL, "disks[%zu]: must be an object", i);
		char what[32];
		snprintf(what, sizeof(what), "disks[%zu]", i);
		if ((r = kv_json_check_fields(o, what, fields, err)) < 0)
			return r;
		if (cfg->ndisks == VMM_MAX_DISKS)
			return kv_err_set(err, E2BIG, "disks: at most %d disks", VMM_MAX_DISKS);
		unsigned n = cfg->ndisks++;
		struct vmm_disk *d = &cfg->disks[n];
		*d = (struct vmm_disk){ .queue_size = VMM_DEFAULT_QUEUE_SIZE };
		for (size_t f = 0; fields[f]; f++) {
			char num[24];
			const char *v = NULL;
			if ((r = json_value_text(o, fields[f], what, num, &v, err)) < 0)
				return r;
			if (r > 0 && (r = parse_disk_key(d, n, fields[f], v, err)) < 0)
				return r;
		}
		if (!d->path)
			return kv_err_set(err, EINVAL, "disks[%zu].path: required", i);
	}
	return 0;
}

/* "nets": [{"tap": "tap0", "mac": "52:54:00:12:34:56", "queues": 2, "mtu": 9000}] */
static int nets_from_json(struct vmm_config *cfg, const struct kv_json *root, struct kv_err **err)
{
	static const char *const fields[] = { "tap", "fd",	   "mac", "queues",
					      "mtu", "queue_size", NULL };
	const struct kv_json *arr = NULL;
	int r = kv_json_get_array(root, "nets", &arr, err);
	if (r <= 0)
		return r;
	for (size_t i = 0; i < kv_json_array_len(arr); i++) {
		const struct kv_json *o = kv_json_array_at(arr, i);
		if (kv_json_type_of(o) != KV_JSON_OBJECT)
			return kv_err_set(err, EINVAL, "nets[%zu]: must be an object", i);
		char what[32];
		snprintf(what, sizeof(what), "nets[%zu]", i);
		if ((r = kv_json_check_fields(o, what, fields, err)) < 0)
			return r;
		unsigned n = cfg->nnets;
		struct vmm_net *d = net_add(cfg);
		if (!d)
			return kv_err_set(err, E2BIG, "nets: at most %d interfaces", VMM_MAX_NETS);
		for (size_t f = 0; fields[f]; f++) {
			char num[24];
			const char *v = NULL;
			if ((r = json_value_text(o, fields[f], what, num, &v, err)) < 0)
				return r;
			if (r > 0 && (r = parse_net_key(d, n, fields[f], v, err)) < 0)
				return r;
		}
		if ((r = net_check(d, n, err)) < 0)
			return r;
	}
	return 0;
}

int vmm_config_from_json(struct vmm_config *cfg, const char *buf, size_t len, const char *what,
			 struct kv_err **err)
{
	_cleanup_json_ struct kv_json *root = NULL;
	int r = kv_json_parse(buf, len, what, &root, err);
	if (r < 0)
		return r;
	r = kv_json_check_fields(root, what, json_fields, err);
	if (r < 0)
		return r;

	static const char *const string_fields[] = { "kernel",	  "initrd", "cmdline",	"serial",
						     "hugepages", "api",    "on_reboot" };
	for (size_t i = 0; i < KV_ARRAY_SIZE(string_fields); i++) {
		const char *s = NULL;
		r = kv_json_get_string(root, string_fields[i], &s, err);
		if (r < 0)
			return r;
		if (r > 0 && (r = vmm_config_set(cfg, string_fields[i], s, err)) < 0)
			return r;
	}

	r = kv_json_get_bool(root, "pit", &cfg->pit, err);
	if (r < 0)
		return r;
	r = disks_from_json(cfg, root, err);
	if (r < 0)
		return r;
	r = nets_from_json(cfg, root, err);
	if (r < 0)
		return r;

	uint64_t n;
	r = kv_json_get_u64(root, "cpus", &n, err);
	if (r < 0)
		return r;
	if (r > 0) {
		if (n == 0 || n > VMM_MAX_CPUS)
			return kv_err_set(err, ERANGE, "cpus: must be between 1 and %d, not %llu",
					  VMM_MAX_CPUS, (unsigned long long)n);
		cfg->cpus = (unsigned)n;
	}
	r = topology_from_json(cfg, root, err);
	if (r < 0)
		return r;

	/* memory: bytes as an integer, or a size string like "512M". */
	switch (kv_json_field_type(root, "memory")) {
	case KV_JSON_ABSENT: break;
	case KV_JSON_INTEGER:
		r = kv_json_get_u64(root, "memory", &cfg->memory, err);
		if (r < 0)
			return r;
		break;
	case KV_JSON_STRING: {
		const char *s = NULL;
		r = kv_json_get_string(root, "memory", &s, err);
		if (r < 0)
			return r;
		r = parse_memory(cfg, s, err);
		if (r < 0)
			return r;
		break;
	}
	default:
		return kv_err_set(err, EINVAL,
				  "memory: must be a size string like \"512M\" or bytes");
	}
	return 0;
}

int vmm_config_load_file(struct vmm_config *cfg, const char *path, struct kv_err **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = kv_read_file(path, VMM_CONFIG_MAX_BYTES, &buf, &len);
	if (r == -EFBIG)
		return kv_err_set(err, EFBIG, "config %s: larger than %u bytes", path,
				  VMM_CONFIG_MAX_BYTES);
	if (r < 0) {
		errno = -r;
		return kv_err_errno(err, "config: cannot read %s", path);
	}
	return vmm_config_from_json(cfg, buf, len, path, err);
}

/* A boot file must be a readable regular file; checked now so errors name the field. */
static int check_file(const char *field, const char *path, struct kv_err **err)
{
	if (!*path)
		return kv_err_set(err, EINVAL, "%s: empty path", field);
	/* O_NONBLOCK: a FIFO given by mistake must not hang validation. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return kv_err_errno(err, "%s: cannot open %s", field, path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return kv_err_errno(err, "%s: cannot stat %s", field, path);
	if (!S_ISREG(st.st_mode))
		return kv_err_set(err, EINVAL, "%s: %s is not a regular file", field, path);
	if (st.st_size == 0)
		return kv_err_set(err, EINVAL, "%s: %s is empty", field, path);
	return 0;
}

int vmm_config_validate(struct vmm_config *cfg, bool check_files, struct kv_err **err)
{
	int r;
	if (cfg->cpus > VMM_MAX_CPUS)
		return kv_err_set(err, ERANGE, "cpus: must be between 1 and %d, not %u",
				  VMM_MAX_CPUS, cfg->cpus);
	r = validate_topology(cfg, err);
	if (r < 0)
		return r;
	if (!cfg->memory)
		cfg->memory = 256ull << 20;
	if (!cfg->cmdline && replace_str(&cfg->cmdline, "console=ttyS0") < 0)
		return kv_err_set(err, ENOMEM, "cmdline: out of memory");

	if (!cfg->kernel)
		return kv_err_set(err, EINVAL, "kernel: required (a bzImage path)");
	if (cfg->memory < VMM_MIN_MEMORY || cfg->memory > VMM_MAX_MEMORY)
		return kv_err_set(err, ERANGE, "memory: must be between %llu MiB and %llu GiB",
				  VMM_MIN_MEMORY >> 20, VMM_MAX_MEMORY >> 30);
	/* Slots and e820 entries are page-granular; MiB keeps the layout simple to reason about. */
	if (cfg->memory & ((1ull << 20) - 1))
		return kv_err_set(err, EINVAL, "memory: must be a multiple of 1 MiB");
	size_t cl = strlen(cfg->cmdline);
	if (cl >= VMM_MAX_CMDLINE)
		return kv_err_set(err, E2BIG, "cmdline: %zu bytes, the limit is %d", cl,
				  VMM_MAX_CMDLINE - 1);
	if (cfg->serial == VMM_SERIAL_FILE || cfg->serial == VMM_SERIAL_UNIX) {
		if (!cfg->serial_path)
			return kv_err_set(err, EINVAL, "serial: needs a path");
	}
	for (unsigned i = 0; i < cfg->nnets; i++) {
		struct vmm_net *d = &cfg->nets[i];
		if (!d->queues)
			d->queues = d->nfds			     ? d->nfds
				    : cfg->cpus < VMM_MAX_NET_QUEUES ? cfg->cpus
								     : VMM_MAX_NET_QUEUES;
		if (!d->mtu)
			d->mtu = VMM_DEFAULT_NET_MTU;
		for (unsigned j = 0; j < i; j++)
			if (d->tap && cfg->nets[j].tap && !strcmp(d->tap, cfg->nets[j].tap))
				return kv_err_set(err, EINVAL, "net %u: tap %s is used twice", i,
						  d->tap);
	}
	if (!check_files)
		return 0;
	for (unsigned i = 0; i < cfg->nnets; i++)
		for (unsigned j = 0; j < cfg->nets[i].nfds; j++)
			if (fcntl(cfg->nets[i].fds[j], F_GETFD) < 0)
				return kv_err_errno(err, "net %u: fd %d is not open", i,
						    cfg->nets[i].fds[j]);
	if ((r = check_file("kernel", cfg->kernel, err)) < 0)
		return r;
	if (cfg->initrd && (r = check_file("initrd", cfg->initrd, err)) < 0)
		return r;
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		struct stat st;
		if (stat(cfg->disks[i].path, &st) < 0)
			return kv_err_errno(err, "disk %u: path: cannot stat %s", i,
					    cfg->disks[i].path);
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return kv_err_set(err, EINVAL,
					  "disk %u: path: %s is not a regular file or block device",
					  i, cfg->disks[i].path);
	}
	return 0;
}

int vmm_config_finish(struct vmm_config *cfg, struct kv_err **err)
{
	return vmm_config_validate(cfg, true, err);
}
