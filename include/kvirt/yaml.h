/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The YAML wrapper (house rule 3): the only file that includes libyaml.
 * YAML documents (kubeconfig, a VMI manifest for `kvirt-launcher run`) are
 * converted to JSON values, so everything downstream speaks json_t.
 * Plain scalars become null/true/false/integers/numbers the way Kubernetes'
 * YAML reader sees them; quoted scalars stay strings.  Anchors and aliases
 * are refused (billion-laughs), as are multi-document inputs.
 */
#ifndef KVIRT_YAML_H
#define KVIRT_YAML_H

#include <stddef.h>

#include "kvirt/err.h"
#include "kvirt/json.h"

/* Parse one YAML document into a JSON value; `what` names the source. */
int kv_yaml_load(const char *buf, size_t len, const char *what, json_t **out, struct kv_err **err);
/* kv_yaml_load() of a file (at most `limit` bytes). */
int kv_yaml_load_file(const char *path, size_t limit, json_t **out, struct kv_err **err);

#endif
