/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the VMI model (common/vmi.c) as the launcher uses it on a
 * user's file: JSON or YAML (first byte picks), schema check against the API
 * table, defaults, validation, resources, presets.  Every refusal must carry
 * a message; an accepted VMI must give sane resources and survive a second
 * defaults pass unchanged.
 */
#include <stddef.h>
#include <stdint.h>

#include "kvirt/json.h"
#include "kvirt/vmi.h"
#include "kvirt/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	json_t *vmi = NULL;
	struct kv_err *err = NULL;
	const char *buf = (const char *)data + 1;
	int r = data[0] & 1 ? kv_yaml_load(buf, size - 1, "fuzz.yaml", &vmi, &err)
			    : kv_json_loadb(buf, size - 1, "fuzz.json", &vmi, &err);
	if (r >= 0) {
		/* Presets from the document itself, if it carries some. */
		json_t *presets = kv_jget(vmi, "presets");
		if (json_is_object(kv_jget(vmi, "spec.domain")) && json_is_array(presets))
			kv_vmi_apply_presets(vmi, presets, NULL, NULL, NULL);
		r = kv_vmi_load(vmi, NULL, NULL, &err);
		if (r >= 0) {
			json_t *spec = json_object_get(vmi, "spec");
			struct kv_vmi_resources res;
			if (kv_vmi_resources(spec, &res, &err) < 0 || res.vcpus < 1 ||
			    res.guest_memory == 0)
				__builtin_trap();
			json_t *again = json_deep_copy(spec);
			kv_vmi_apply_defaults(again, NULL, NULL, NULL);
			if (!json_equal(again, spec))
				__builtin_trap();
			json_decref(again);
		}
	}
	if (r < 0 && (!err || !err->msg))
		__builtin_trap();
	kv_err_free(err);
	if (vmi)
		json_decref(vmi);
	return 0;
}
