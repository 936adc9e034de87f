/* SPDX-License-Identifier: Apache-2.0 */
/* bench helper: convert a qcow2 image to sparse raw with kvirt's reader. */
#include <stdio.h>

#include "kvirt/qcow2.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s SRC.qcow2 DST.raw\n", argv[0]);
		return 2;
	}
	struct kv_err *err = NULL;
	if (kv_qcow2_convert_to_raw(argv[1], argv[2], &err) < 0) {
		fprintf(stderr, "qcow2-convert: %s\n", kv_err_msg(err));
		kv_err_free(err);
		return 1;
	}
	return 0;
}
