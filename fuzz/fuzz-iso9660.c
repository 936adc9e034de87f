/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the ISO 9660 writer's input validation and layout.  File
 * names and contents come from users' VMI specs (cloud-init user data,
 * configMap keys).  Input format: chunks separated by 0xff bytes — the
 * volume id, then alternating path and contents.  The image goes to a memfd.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvirt/iso9660.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CHUNKS 65

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0)
		fd = memfd_create("fuzz-iso", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	char *chunks[MAX_CHUNKS];
	size_t lens[MAX_CHUNKS];
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= size && n < MAX_CHUNKS; i++) {
		if (i == size || data[i] == 0xff) {
			lens[n] = i - start;
			chunks[n] = malloc(lens[n] + 1);
			if (!chunks[n])
				break;
			memcpy(chunks[n], data + start, lens[n]);
			chunks[n][lens[n]] = '\0';
			n++;
			start = i + 1;
		}
	}
	struct kv_iso_file files[MAX_CHUNKS / 2];
	size_t nf = 0;
	for (size_t i = 1; i + 1 < n; i += 2) {
		files[nf].path = chunks[i];
		files[nf].data = chunks[i + 1];
		files[nf].len = lens[i + 1];
		nf++;
	}
	struct kv_err *err = NULL;
	int64_t r = kv_iso_write(fd, n ? chunks[0] : "", files, nf, 1, &err);
	if (r < 0 && (!err || !err->msg))
		__builtin_trap();
	if (r > 0 && (r % 2048 || lseek(fd, 0, SEEK_END) != r))
		__builtin_trap();
	kv_err_free(err);
	for (size_t i = 0; i < n; i++)
		free(chunks[i]);
	return 0;
}
