/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: what kvirt-launcher parses itself on top of the VMI model
 * (fuzz-vmi-model covers the model): a VMI or a VirtualMachine whose
 * template becomes the VMI, as YAML or JSON, and the base64 decoder used for
 * userDataBase64/networkDataBase64.  A refusal must carry a message; an
 * accepted document must be a VMI with a spec.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvirt/json.h"
#include "launcher.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *vmi = NULL;
	struct kv_err *err = NULL;
	int r = kvl_load_text((const char *)data, size, "fuzz", &vmi, &err);
	if (r < 0 && (!err || !err->msg))
		__builtin_trap();
	if (r >= 0 && (!json_is_object(json_object_get(vmi, "spec")) || err))
		__builtin_trap();
	kv_err_free(err);
	if (vmi)
		json_decref(vmi);

	char *s = strndup((const char *)data, size);
	if (s) {
		char *out = NULL;
		size_t len = 0;
		if (kvl_base64_decode(s, &out, &len) == 0) {
			if (len > size || out[len] != 0)
				__builtin_trap();
			free(out);
		}
		free(s);
	}
	return 0;
}
