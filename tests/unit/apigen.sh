#!/bin/bash
# kvirt-apigen on small inputs: shorthands expand to the right OpenAPI
# schemas, both outputs agree, and broken descriptions fail with a message
# that says where.   usage: apigen.sh KVIRT-APIGEN
set -uo pipefail
gen=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else
		failed=$((failed + 1))
		echo "not ok $n - $2"
	fi
}
expect_error() { # expect_error DESCRIPTION REGEX (input in $tmp/in.yaml)
	local out rc=0
	out=$("$gen" --crds "$tmp/out.yaml" "$tmp/in.yaml" 2>&1) || rc=$?
	[ "$rc" != 0 ] && printf '%s\n' "$out" | grep -Eq -- "$2"
	ok $? "$1"
	[ "$rc" != 0 ] || echo "# unexpectedly succeeded"
	printf '%s\n' "$out" | sed 's/^/# /'
}
crd='group: g.example
crds:
  - {kind: K, plural: ks, versions: [{name: v1, storage: true}], schema: {$ref: K}}
types:'

cat >"$tmp/in.yaml" <<EOF2
$crd
  K:
    properties:
      size: quantity
      names: "[string]"
      labels: stringMap
      mode: {type: string, enum: ["on", "off", "1"]}
      bridge: empty
      any: object
      inner: {\$ref: Inner, description: overridden}
  Inner:
    description: original
    properties:
      n: int64
    required: [n]
EOF2
"$gen" --crds "$tmp/out.yaml" --header "$tmp/f.h" --source "$tmp/f.c" "$tmp/in.yaml"
ok $? "a small description generates"
grep -q 'x-kubernetes-int-or-string: true' "$tmp/out.yaml"
ok $? "quantity becomes int-or-string"
grep -Eq '^ +- "on"$' "$tmp/out.yaml" && grep -Eq '^ +- "1"$' "$tmp/out.yaml"
ok $? "strings that look like bools or numbers stay quoted"
grep -q 'description: overridden' "$tmp/out.yaml" && ! grep -q 'description: original' "$tmp/out.yaml"
ok $? "\$ref siblings override the type's keys"
grep -q '{ "K", "spec", ' "$tmp/f.c"
[ $? = 1 ]
ok $? "no fields invented"
grep -q '{ "K", "inner.n", KV_API_INTEGER, true, NULL }' "$tmp/f.c" &&
	grep -q '{ "K", "names\[\]", KV_API_STRING, false, NULL }' "$tmp/f.c" &&
	grep -q '{ "K", "labels{}", KV_API_STRING, false, NULL }' "$tmp/f.c" &&
	grep -q '{ "K", "mode", KV_API_STRING, false, "on|off|1" }' "$tmp/f.c" &&
	grep -q '{ "K", "bridge", KV_API_OBJECT, false, NULL }' "$tmp/f.c" &&
	grep -q '{ "K", "any", KV_API_ANY, false, NULL }' "$tmp/f.c"
ok $? "the C table has each path with its type, required flag and enum"

printf '%s\n  K:\n    properties:\n      a: Nope\n' "$crd" >"$tmp/in.yaml"
expect_error "an unknown type is named" 'field a: unknown type "Nope"'
printf '%s\n  K:\n    properties:\n      b: B\n  B:\n    properties:\n      k: K\n' "$crd" >"$tmp/in.yaml"
expect_error "a recursive type is reported" 'type K contains itself'
printf '%s\n  K:\n    properties: [\n' "$crd" >"$tmp/in.yaml"
expect_error "a YAML error names file and line" 'in.yaml:[0-9]+:'
printf '%s\n  K:\n    properties:\n      a: string\n      a: int32\n' "$crd" >"$tmp/in.yaml"
expect_error "a duplicate key is an error" 'duplicate key "a"'
printf 'group: g\ncrds:\n  - {kind: K}\ntypes: {}\n' >"$tmp/in.yaml"
expect_error "an incomplete crd entry is an error" 'needs kind, plural, versions and schema'

printf 'group: g\ncrds:\n  - {kind: K, plural: ks, versions: [{storage: true}], schema: string}\ntypes: {}\n' >"$tmp/in.yaml"
expect_error "a version without a name is an error" 'version #0 has no name'

echo "1..$n"
[ "$failed" = 0 ]
