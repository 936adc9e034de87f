/* SPDX-License-Identifier: Apache-2.0 */
/* The VMI model (common/vmi.c) and the YAML wrapper: pure functions, no cluster. */
#include <string.h>

#include "kvirt/cleanup.h"
#include "kvirt/json.h"
#include "kvirt/vmi.h"
#include "kvirt/yaml.h"
#include "tap.h"

static json_t *J(const char *s)
{
	json_t *j = NULL;
	if (kv_json_loadb(s, strlen(s), "test", &j, NULL) < 0) {
		printf("# bad test JSON: %s\n", s);
		exit(1);
	}
	return j;
}

static json_t *Y(const char *s)
{
	json_t *j = NULL;
	_cleanup_err_ struct kv_err *err = NULL;
	if (kv_yaml_load(s, strlen(s), "test", &j, &err) < 0) {
		printf("# bad test YAML: %s\n", kv_err_msg(err));
		exit(1);
	}
	return j;
}

static void warn_count(void *ud, const char *reason, const char *msg)
{
	json_array_append_new(ud, json_pack("{s:s,s:s}", "reason", reason, "message", msg));
}

static void test_quantities(void)
{
	uint64_t v = 0;
	ok(kv_quantity_parse_milli("64M", &v) == 0 && v == 64000000000ull, "64M");
	ok(kv_quantity_parse_milli("128Mi", &v) == 0 && v == 134217728000ull, "128Mi");
	ok(kv_quantity_parse_milli("500m", &v) == 0 && v == 500, "500m");
	ok(kv_quantity_parse_milli("2", &v) == 0 && v == 2000, "2");
	ok(kv_quantity_parse_milli("1.5Gi", &v) == 0 && v == 1610612736000ull, "1.5Gi");
	ok(kv_quantity_parse_milli("1e3", &v) == 0 && v == 1000000, "1e3");
	ok(kv_quantity_parse_milli("0.1", &v) == 0 && v == 100, "0.1");
	ok(kv_quantity_parse_milli("12X", &v) < 0, "12X rejected");
	ok(kv_quantity_parse_milli("", &v) < 0, "empty rejected");
	ok(kv_quantity_parse_milli("-1", &v) < 0, "negative rejected");
	ok(kv_quantity_parse_milli("99999999999999999999999Ei", &v) < 0, "overflow rejected");
	_cleanup_json_t_ json_t *n = json_integer(3);
	ok(kv_quantity_units(n, &v) == 0 && v == 3, "integer quantity");
}

static const char *seed_yaml = "apiVersion: kubevirt.io/v1alpha3\n"
			       "kind: VirtualMachineInstance\n"
			       "metadata: {name: testvm, labels: {kubevirt.io/size: small}}\n"
			       "spec:\n"
			       "  domain:\n"
			       "    devices:\n"
			       "      disks:\n"
			       "        - name: containerdisk\n"
			       "          disk: {bus: sata}\n"
			       "        - name: cloudinitdisk\n"
			       "    resources: {requests: {memory: 64M}}\n"
			       "  volumes:\n"
			       "    - name: containerdisk\n"
			       "      containerDisk: {image: kubevirt/cirros-registry-disk-demo}\n"
			       "    - name: cloudinitdisk\n"
			       "      cloudInitNoCloud: {userDataBase64: SGkuXG4=}\n"
			       "    - name: extra\n"
			       "      emptyDisk: {capacity: 1Gi}\n";

static void test_defaults(void)
{
	_cleanup_json_t_ json_t *vmi = Y(seed_yaml);
	_cleanup_json_t_ json_t *warnings = json_array();
	_cleanup_err_ struct kv_err *err = NULL;
	ok(kv_vmi_load(vmi, warn_count, warnings, &err) == 0, "seed VMI loads: %s",
	   err ? err->msg : "ok");
	json_t *spec = json_object_get(vmi, "spec");
	is_str(kv_jstr(spec, "domain.memory.guest"), "64M", "memory.guest from requests");
	is_int(kv_jint(spec, "domain.cpu.sockets", 0), 1, "sockets 1");
	is_int(kv_jint(spec, "domain.cpu.cores", 0), 1, "cores 1");
	json_t *disks = kv_jget(spec, "domain.devices.disks");
	is_int(json_array_size(disks), 3, "a disk for the volume without one");
	is_str(kv_jstr(json_array_get(disks, 1), "disk.bus"), "virtio",
	       "disk: {} defaulted, virtio");
	is_str(kv_jstr(json_array_get(disks, 0), "disk.bus"), "virtio", "sata served as virtio");
	is_str(kv_jstr(json_array_get(disks, 2), "name"), "extra",
	       "implicit disk named after the volume");
	is_int(json_array_size(warnings), 1, "one warning (the sata bus)");
	is_str(kv_jstr(json_array_get(warnings, 0), "message"),
	       "disk containerdisk: the kvirt VMM has only virtio; bus sata served as virtio",
	       "warning text");
	json_t *ifc = json_array_get(kv_jget(spec, "domain.devices.interfaces"), 0);
	is_str(kv_jstr(ifc, "name"), "default", "default interface");
	ok(json_is_object(json_object_get(ifc, "bridge")), "bridge binding");
	ok(json_is_object(kv_jget(json_array_get(kv_jget(spec, "networks"), 0), "pod")),
	   "pod network");
	is_int(kv_jint(spec, "terminationGracePeriodSeconds", 0), 30, "grace 30");
	/* Idempotent: a second pass changes nothing. */
	_cleanup_json_t_ json_t *again = json_deep_copy(spec);
	kv_vmi_apply_defaults(again, NULL, NULL, NULL);
	ok(json_equal(again, spec), "defaults are idempotent");
	struct kv_vmi_resources r;
	ok(kv_vmi_resources(spec, &r, NULL) == 0 && r.guest_memory == 64000000 && r.vcpus == 1,
	   "resources: 64M, 1 vCPU");

	_cleanup_json_t_ json_t *noauto = J("{\"domain\":{\"memory\":{\"guest\":\"1Gi\"},"
					    "\"devices\":{\"autoattachPodInterface\":false},"
					    "\"resources\":{\"limits\":{\"cpu\":\"3\"}}}}");
	kv_vmi_apply_defaults(noauto, NULL, NULL, NULL);
	ok(!kv_jget(noauto, "networks"), "autoattachPodInterface: false adds no network");
	is_int(kv_jint(noauto, "domain.cpu.sockets", 0), 3, "sockets from the CPU limit");
}

static void expect_invalid(const char *what, const char *spec_json, const char *msg_part)
{
	_cleanup_json_t_ json_t *spec = J(spec_json);
	_cleanup_err_ struct kv_err *err = NULL;
	kv_vmi_apply_defaults(spec, NULL, NULL, NULL);
	int r = kv_vmi_validate(spec, &err);
	ok(r < 0 && err && strstr(err->msg, msg_part), "%s", what);
	if (!(r < 0 && err && strstr(err->msg, msg_part)))
		printf("#   message: %s\n#   wanted: %s\n", err ? err->msg : "(none)", msg_part);
}

static void test_validation(void)
{
	expect_invalid(
	    "disk without volume",
	    "{\"domain\":{\"memory\":{\"guest\":\"64Mi\"},\"devices\":{\"disks\":[{\"name\":"
	    "\"root\"}]}}}",
	    "no volume named \"root\"; add a volume with that name");
	expect_invalid("no memory", "{\"domain\":{}}",
		       "no memory given; set spec.domain.memory.guest");
	expect_invalid("zero memory", "{\"domain\":{\"memory\":{\"guest\":0}}}",
		       "must be greater than 0");
	expect_invalid(
	    "guest above limit",
	    "{\"domain\":{\"memory\":{\"guest\":\"2Gi\"},\"resources\":{\"limits\":{\"memory\":"
	    "\"1Gi\"}}}}",
	    "exceeds spec.domain.resources.limits.memory");
	expect_invalid("two sources",
		       "{\"domain\":{\"memory\":{\"guest\":\"64Mi\"}},\"volumes\":[{\"name\":\"v\","
		       "\"emptyDisk\":{},\"containerDisk\":{\"image\":\"x\"}}]}",
		       "more than one source");
	expect_invalid(
	    "no source",
	    "{\"domain\":{\"memory\":{\"guest\":\"64Mi\"}},\"volumes\":[{\"name\":\"v\"}]}",
	    "no source");
	expect_invalid("zero cores",
		       "{\"domain\":{\"memory\":{\"guest\":\"64Mi\"},\"cpu\":{\"cores\":0}}}",
		       "spec.domain.cpu.cores: must be an integer from 1 to 512");
	expect_invalid(
	    "too many vCPUs",
	    "{\"domain\":{\"memory\":{\"guest\":\"64Mi\"},\"cpu\":{\"cores\":64,\"sockets\":"
	    "16}}}",
	    "1024 vCPUs");
	expect_invalid(
	    "interface without network",
	    "{\"domain\":{\"memory\":{\"guest\":\"64Mi\"},\"devices\":{\"interfaces\":[{"
	    "\"name\":\"x\",\"bridge\":{}}]}},\"networks\":[{\"name\":\"y\",\"pod\":{}}]}",
	    "no network named \"x\"");
	expect_invalid("two bindings",
		       "{\"domain\":{\"memory\":{\"guest\":\"64Mi\"},\"devices\":{\"interfaces\":[{"
		       "\"name\":\"x\",\"bridge\":{},\"masquerade\":{}}]}},\"networks\":[{\"name\":"
		       "\"x\",\"pod\":{}}]}",
		       "set only one binding");
	expect_invalid(
	    "disk and cdrom",
	    "{\"domain\":{\"memory\":{\"guest\":\"64Mi\"},\"devices\":{\"disks\":[{\"name\":"
	    "\"d\",\"disk\":{},\"cdrom\":{}}]}},\"volumes\":[{\"name\":\"d\",\"emptyDisk\":"
	    "{}}]}",
	    "set only one of disk, cdrom and lun");
	expect_invalid("bad quantity", "{\"domain\":{\"memory\":{\"guest\":\"12X\"}}}",
		       "not a quantity");

	/* Schema check from the generated API table. */
	_cleanup_json_t_ json_t *typo = J("{\"domain\":{\"memry\":{}}}");
	_cleanup_err_ struct kv_err *err = NULL;
	ok(kv_api_check("VirtualMachineInstance", "spec", typo, &err) < 0 && err &&
	       strstr(err->msg, "unknown field \"spec.domain.memry\""),
	   "unknown field named: %s", err ? err->msg : "");
	kv_err_freep(&err);
	_cleanup_json_t_ json_t *bus = J("{\"domain\":{\"devices\":{\"disks\":[{\"name\":\"a\","
					 "\"disk\":{\"bus\":\"nvme\"}}]}}}");
	ok(kv_api_check("VirtualMachineInstance", "spec", bus, &err) < 0 && err &&
	       strstr(err->msg, "spec.domain.devices.disks[0].disk.bus: \"nvme\" is not one of"),
	   "enum violation named: %s", err ? err->msg : "");
	kv_err_freep(&err);
	_cleanup_json_t_ json_t *type = J("{\"domain\":{\"cpu\":{\"cores\":\"two\"}}}");
	ok(kv_api_check("VirtualMachineInstance", "spec", type, &err) < 0 && err &&
	       strstr(err->msg, "spec.domain.cpu.cores: must be an integer"),
	   "wrong type named: %s", err ? err->msg : "");
	kv_err_freep(&err);
	_cleanup_json_t_ json_t *free_form = J("{\"domain\":{},\"affinity\":{\"anything\":[1]},"
					       "\"nodeSelector\":{\"a\":\"b\"}}");
	ok(kv_api_check("VirtualMachineInstance", "spec", free_form, &err) == 0,
	   "free-form and map fields accepted");
}

static void test_presets(void)
{
	_cleanup_json_t_ json_t *vmi =
	    J("{\"metadata\":{\"name\":\"v\",\"labels\":{\"kubevirt.io/size\":\"small\"}},"
	      "\"spec\":{\"domain\":{\"cpu\":{\"cores\":2},\"devices\":{}}}}");
	_cleanup_json_t_ json_t *presets =
	    J("[{\"metadata\":{\"name\":\"small\"},\"spec\":{\"selector\":{\"matchLabels\":{"
	      "\"kubevirt.io/size\":\"small\"}},\"domain\":{\"cpu\":{\"cores\":1},\"resources\":{"
	      "\"requests\":{\"memory\":\"64M\"}}}}},"
	      "{\"metadata\":{\"name\":\"big\"},\"spec\":{\"selector\":{\"matchLabels\":{"
	      "\"kubevirt.io/size\":\"big\"}},\"domain\":{\"memory\":{\"guest\":\"8Gi\"}}}},"
	      "{\"metadata\":{\"name\":\"expr\"},\"spec\":{\"selector\":{\"matchExpressions\":[{"
	      "\"key\":\"kubevirt.io/size\",\"operator\":\"In\",\"values\":[\"small\",\"x\"]}]},"
	      "\"domain\":{\"machine\":{\"type\":\"q35\"}}}}]");
	_cleanup_json_t_ json_t *warnings = json_array();
	int n = kv_vmi_apply_presets(vmi, presets, warn_count, warnings, NULL);
	is_int(n, 2, "two presets match");
	is_int(kv_jint(vmi, "spec.domain.cpu.cores", 0), 2, "the VMI's cores win");
	is_str(kv_jstr(vmi, "spec.domain.resources.requests.memory"), "64M", "preset fills memory");
	is_str(kv_jstr(vmi, "spec.domain.machine.type"), "q35", "matchExpressions preset applied");
	ok(!kv_jget(vmi, "spec.domain.memory"), "non-matching preset not applied");
	is_str(json_string_value(json_object_get(kv_jget(vmi, "metadata.annotations"),
						 "virtualmachinepreset.kubevirt.io/small")),
	       "kubevirt.io/v1", "preset annotation");
	is_int(json_array_size(warnings), 1, "conflict reported");
	ok(strstr(kv_jstr_or(json_array_get(warnings, 0), "message", ""),
		  "preset small sets spec.domain.cpu.cores") != NULL,
	   "conflict message names preset and field");
}

static void test_selectors(void)
{
	_cleanup_json_t_ json_t *labels = J("{\"a\":\"1\",\"b\":\"2\"}");
	_cleanup_json_t_ json_t *s1 = J("{\"matchLabels\":{\"a\":\"1\"}}");
	_cleanup_json_t_ json_t *s2 = J("{\"matchLabels\":{\"a\":\"2\"}}");
	_cleanup_json_t_ json_t *s3 = J("{\"matchExpressions\":[{\"key\":\"c\",\"operator\":"
					"\"DoesNotExist\"},{\"key\":\"b\",\"operator\":\"NotIn\","
					"\"values\":[\"3\"]}]}");
	_cleanup_json_t_ json_t *s4 =
	    J("{\"matchExpressions\":[{\"key\":\"c\",\"operator\":\"Foo\"}]}");
	is_int(kv_label_selector_matches(s1, labels, NULL), 1, "matchLabels match");
	is_int(kv_label_selector_matches(s2, labels, NULL), 0, "matchLabels mismatch");
	is_int(kv_label_selector_matches(s3, labels, NULL), 1, "DoesNotExist + NotIn");
	ok(kv_label_selector_matches(s4, labels, NULL) < 0, "unknown operator is an error");
	_cleanup_free_ char *str = kv_label_selector_string(s3);
	is_str(str, "!c,b notin (3)", "selector string");
	_cleanup_free_ char *str1 = kv_label_selector_string(s1);
	is_str(str1, "a=1", "matchLabels string");
}

static void test_yaml(void)
{
	_cleanup_json_t_ json_t *y = Y("a: 1\nb: true\nc: \"1\"\nd: ~\ne: [x, 2.5]\nf: 1e3\n");
	ok(json_is_integer(json_object_get(y, "a")), "plain 1 is an integer");
	ok(json_is_true(json_object_get(y, "b")), "true is boolean");
	ok(json_is_string(json_object_get(y, "c")), "quoted 1 stays a string");
	ok(json_is_null(json_object_get(y, "d")), "~ is null");
	ok(json_is_real(json_array_get(json_object_get(y, "e"), 1)), "2.5 is a number");
	ok(json_is_string(json_object_get(y, "f")), "1e3 stays a string");
	json_t *bad = NULL;
	_cleanup_err_ struct kv_err *err = NULL;
	ok(kv_yaml_load("a: &x 1\nb: *x\n", strlen("a: &x 1\nb: *x\n"), "t", &bad, &err) < 0 &&
	       strstr(err->msg, "aliases"),
	   "aliases refused");
	kv_err_freep(&err);
	ok(kv_yaml_load("a: 1\na: 2\n", strlen("a: 1\na: 2\n"), "t", &bad, &err) < 0 &&
	       strstr(err->msg, "duplicate"),
	   "duplicate keys refused");
	kv_err_freep(&err);
	ok(kv_yaml_load("a: [1\n", strlen("a: [1\n"), "t", &bad, &err) < 0 &&
	       strstr(err->msg, "line"),
	   "syntax error with a line number");
	kv_err_freep(&err);
	ok(kv_yaml_load("a: 1\n---\nb: 2\n", strlen("a: 1\n---\nb: 2\n"), "t", &bad, &err) < 0,
	   "two documents refused");
}

int main(void)
{
	test_quantities();
	test_defaults();
	test_validation();
	test_presets();
	test_selectors();
	test_yaml();
	return tap_done();
}
