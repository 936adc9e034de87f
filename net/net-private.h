/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the files of net/. */
#ifndef KVIRT_NET_PRIVATE_H
#define KVIRT_NET_PRIVATE_H

#include "kvirt/net.h"

/* Forget the newest record: its step failed, so there is nothing to undo. */
void net_undo_drop_last(struct net_undo *u);

#endif
