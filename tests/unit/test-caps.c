/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/caps.c: each case runs in a forked child and reports what
 * /proc/self/status shows afterwards.
 */
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvirt/caps.h"
#include "../tap.h"

/* Lines of interest from /proc/self/status, "CapEff=...;CapBnd=...;". */
static void status_summary(char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t n = 0;
	out[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char key[32], val[64];
		if (sscanf(line, "%31[^:]: %63s", key, val) != 2)
			continue;
		if (strcmp(key, "CapEff") && strcmp(key, "CapPrm") && strcmp(key, "CapBnd") &&
		    strcmp(key, "CapAmb") && strcmp(key, "NoNewPrivs"))
			continue;
		int w = snprintf(out + n, cap - n, "%s=%s;", key, val);
		if (w < 0 || (size_t)w >= cap - n)
			break;
		n += (size_t)w;
	}
	fclose(f);
}

enum step { DROP_ALL, KEEP_NET_ADMIN, KEEP_THEN_DROP };

static int run(enum step step, char *out, size_t cap)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		static const int keep[] = { CAP_NET_ADMIN };
		struct kv_err *err = NULL;
		int r = 0;
		if (step == KEEP_NET_ADMIN || step == KEEP_THEN_DROP)
			r = kv_caps_keep_only(keep, 1, &err);
		if (r >= 0 && (step == DROP_ALL || step == KEEP_THEN_DROP))
			r = kv_caps_drop_all((uid_t)-1, (gid_t)-1, &err);
		char buf[512];
		if (r < 0)
			snprintf(buf, sizeof(buf), "error: %s", kv_err_msg(err));
		else
			status_summary(buf, sizeof(buf));
		ssize_t w = write(p[1], buf, strlen(buf));
		_exit(w < 0);
	}
	close(p[1]);
	ssize_t n = read(p[0], out, cap - 1);
	out[n > 0 ? n : 0] = 0;
	close(p[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void)
{
	char out[512];
	bool root = geteuid() == 0;

	ok(run(DROP_ALL, out, sizeof(out)) == 0 && strstr(out, "CapEff=0000000000000000;") &&
	       strstr(out, "CapPrm=0000000000000000;") && strstr(out, "CapAmb=0000000000000000;") &&
	       strstr(out, "NoNewPrivs=1;"),
	   "drop all: %s", out);
	if (root)
		ok(strstr(out, "CapBnd=0000000000000000;") != NULL,
		   "drop all as root: bounding set empty");
	else
		ok(1, "# SKIP bounding set: not root");

	run(KEEP_NET_ADMIN, out, sizeof(out));
	if (root) {
		ok(strstr(out, "CapEff=0000000000001000;") &&
		       strstr(out, "CapPrm=0000000000001000;") &&
		       strstr(out, "CapBnd=0000000000001000;") && strstr(out, "NoNewPrivs=1;"),
		   "keep only CAP_NET_ADMIN: %s", out);
		run(KEEP_THEN_DROP, out, sizeof(out));
		/* The bounding set keeps it: clearing it needs CAP_SETPCAP (caps.h). */
		ok(strstr(out, "CapEff=0000000000000000;") &&
		       strstr(out, "CapPrm=0000000000000000;") && strstr(out, "NoNewPrivs=1;"),
		   "keep CAP_NET_ADMIN, later drop it too: %s", out);
	} else {
		ok(strstr(out, "error: caps: cap_net_admin is not permitted") != NULL ||
		       strstr(out, "is not permitted") != NULL,
		   "keep a capability we do not have fails closed: %s", out);
		ok(1, "# SKIP keep-then-drop: not root");
	}
	return tap_done();
}
