#!/bin/bash
# The committed CRDs (manifests/10-crds.yaml) are exactly what kvirt-apigen
# makes of api/kubevirt-v1.yaml, so the API server's schema and the C field
# table (generated from the same file at build time) cannot drift apart.
#   usage: api-crds-in-sync.sh KVIRT-APIGEN API.yaml CRDS.yaml
set -euo pipefail
gen=$1 api=$2 crds=$3
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
echo "1..2"
if "$gen" --crds "$tmp" "$api"; then
	echo "ok 1 - kvirt-apigen generates the CRDs"
else
	echo "not ok 1 - kvirt-apigen generates the CRDs"
	echo "1..1"
	exit 1
fi
if diff -u "$crds" "$tmp" >"$tmp.diff"; then
	echo "ok 2 - manifests/10-crds.yaml matches api/kubevirt-v1.yaml"
else
	echo "not ok 2 - manifests/10-crds.yaml is stale: run 'ninja -C build manifests' and commit it"
	head -n 40 "$tmp.diff" | sed 's/^/# /'
fi
rm -f "$tmp.diff"
