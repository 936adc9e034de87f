/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The generated field table (api-fields.h, from api/kubevirt-v1.yaml) knows
 * the paths and types the CRDs enforce, so C code can check a VMI spec
 * against the same definition the API server uses.
 */
#include <string.h>

#include "api-fields.h"
#include "../tap.h"

static void expect_field(const char *kind, const char *path, enum kv_api_type type)
{
	const struct kv_api_field *f = kv_api_field_lookup(kind, path);
	ok(f != NULL, "%s has %s", kind, path);
	if (f && !ok(f->type == type, "%s %s has the schema's type", kind, path))
		tap_diag("got type %d, want %d", (int)f->type, (int)type);
}

int main(void)
{
	expect_field("VirtualMachine", "spec.running", KV_API_BOOLEAN);
	expect_field("VirtualMachine", "spec.runStrategy", KV_API_STRING);
	expect_field("VirtualMachine", "spec.template.spec.domain.devices.disks[].disk.bus",
		     KV_API_STRING);
	expect_field("VirtualMachine", "spec.template.spec.volumes[].containerDisk.image",
		     KV_API_STRING);
	expect_field("VirtualMachineInstance", "spec.domain.resources.requests{}",
		     KV_API_INT_OR_STRING);
	expect_field("VirtualMachineInstance", "spec.domain.cpu.cores", KV_API_INTEGER);
	expect_field("VirtualMachineInstance", "spec.domain.firmware.kernelBoot.container.image",
		     KV_API_STRING);
	expect_field("VirtualMachineInstance", "spec.volumes[].cloudInitNoCloud.userData",
		     KV_API_STRING);
	expect_field("VirtualMachineInstance", "spec.affinity", KV_API_ANY);
	expect_field("VirtualMachineInstance", "spec.domain.devices.interfaces[].bridge",
		     KV_API_OBJECT);
	expect_field("VirtualMachineInstance", "status.interfaces[].ipAddress", KV_API_STRING);
	expect_field("VirtualMachineInstanceReplicaSet", "spec.replicas", KV_API_INTEGER);
	expect_field("VirtualMachineInstancePreset", "spec.domain.resources.requests{}",
		     KV_API_INT_OR_STRING);
	expect_field("VirtualMachineInstanceMigration", "spec.vmiName", KV_API_STRING);

	ok(kv_api_field_lookup("VirtualMachine", "spec.runStrategyy") == NULL,
	   "a typo'd path is unknown");
	ok(kv_api_field_lookup("VirtualMachineInstance", "spec.running") == NULL,
	   "fields are per kind");

	const struct kv_api_field *rs = kv_api_field_lookup("VirtualMachine", "spec.runStrategy");
	ok(rs && kv_api_field_enum_allows(rs, "Always") && kv_api_field_enum_allows(rs, "Once"),
	   "runStrategy allows Always and Once");
	ok(rs && !kv_api_field_enum_allows(rs, "Sometimes") &&
	       !kv_api_field_enum_allows(rs, "Alway"),
	   "runStrategy rejects other words and prefixes");
	const struct kv_api_field *name =
	    kv_api_field_lookup("VirtualMachineInstance", "spec.domain.devices.disks[].name");
	ok(name && name->required, "disk name is required");
	ok(kv_api_fields_count > 500, "the table covers the whole API (%zu fields)",
	   kv_api_fields_count);
	return tap_done();
}
