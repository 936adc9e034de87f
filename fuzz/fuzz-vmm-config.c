/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the kvirt-vmm JSON config parser and validator.  The config
 * comes from the launcher, which builds it from a user's VMI spec, so it is
 * untrusted input.  Files are not checked (no filesystem access while
 * fuzzing); everything else runs as in kvirt-vmm.
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "kvirt/err.h"
#include "kvirt/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_config cfg;
	struct kv_err *err = NULL;
	vmm_config_init(&cfg);
	int r = vmm_config_from_json(&cfg, (const char *)data, size, "fuzz.json", &err);
	if (r >= 0)
		r = vmm_config_validate(&cfg, false, &err);
	/* Every failure must come with a message. */
	if (r < 0 && (!err || !err->msg))
		__builtin_trap();
	kv_err_free(err);
	vmm_config_clear(&cfg);
	return 0;
}
