/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks each seed's verdict in the DHCP fuzz corpus (fuzz/corpus/dhcp/):
 * files named valid-* must parse, bad-* must be dropped.  (The plain replay
 * under sanitizers is fuzz/meson.build's `fuzz-dhcp` test.)
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "kvirt/cleanup.h"
#include "kvirt/dhcp.h"
#include "kvirt/util.h"
#include "../tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		tap_skip_all("usage: test-dhcp-corpus DIR");
	DIR *d = opendir(argv[1]);
	if (!d) {
		ok(0, "open corpus %s", argv[1]);
		return tap_done();
	}
	char *names[256];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < KV_ARRAY_SIZE(names))
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp);
	ok(n >= 12, "corpus has at least a dozen seeds (%zu)", n);

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = kv_strdup_printf("%s/%s", argv[1], names[i]);
		_cleanup_free_ char *buf = NULL;
		size_t len = 0;
		if (!path || kv_read_file(path, 1 << 20, &buf, &len) < 0) {
			ok(0, "read %s", names[i]);
			continue;
		}
		LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
		struct dhcp_msg m;
		enum dhcp_parse_error pe = dhcp_parse((const uint8_t *)buf, len, &m);
		if (!strncmp(names[i], "valid-", 6))
			ok(pe == DHCP_OK, "%s parses (%s)", names[i], dhcp_parse_error_str(pe));
		else if (!strncmp(names[i], "bad-", 4))
			ok(pe != DHCP_OK, "%s dropped (%s)", names[i], dhcp_parse_error_str(pe));
		else
			ok(1, "%s replayed", names[i]);
		free(names[i]);
	}
	return tap_done();
}
