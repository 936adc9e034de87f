/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmm/jail.c without a VM: a forked child enters a jail with a fake
 * "kernel", a read-only and a writable "disk", then reports what it sees
 * through its exit status (one bit per failed check), which the jail's
 * supervisor passes on.  Needs root (CAP_SYS_ADMIN); skips otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"
#include "jail.h"

enum {
	BAD_ENTER = 1 << 0,
	BAD_PID = 1 << 1,
	BAD_HOST_VISIBLE = 1 << 2,
	BAD_KERNEL = 1 << 3,
	BAD_RO = 1 << 4,
	BAD_RW = 1 << 5,
	BAD_NAME = 1 << 6,
	BAD_NOFILE = 1 << 7,
};

static const char *const bad_names[] = {
	"vmm_jail_enter failed",	  "not PID 1 of a new PID namespace",
	"the host's /etc is visible",	  "the kernel is not readable at its path",
	"the read-only disk is writable", "the writable disk is not writable",
	"hostname is not kvirt-vmm",	  "RLIMIT_NOFILE not applied",
};

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static int jailed_checks(const char *jail, const char *kernel, const char *ro, const char *rw)
{
	struct vmm_config cfg;
	vmm_config_init(&cfg);
	cfg.kernel = strdup(kernel);
	cfg.disks[0].path = strdup(ro);
	cfg.disks[0].readonly = true;
	cfg.disks[1].path = strdup(rw);
	cfg.ndisks = 2;
	struct vmm_jail j = { .dir = jail, .nofile = 77 };
	struct kv_err *err = NULL;
	if (vmm_jail_enter(&j, &cfg, &err) < 0) {
		fprintf(stderr, "# %s\n", kv_err_msg(err));
		return BAD_ENTER;
	}
	int bad = 0;
	if (getpid() != 1)
		bad |= BAD_PID;
	if (access("/etc", F_OK) == 0)
		bad |= BAD_HOST_VISIBLE;
	char buf[16] = { 0 };
	int fd = open(cfg.kernel, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0 || strcmp(buf, "bzImage?"))
		bad |= BAD_KERNEL;
	if (fd >= 0)
		close(fd);
	fd = open(cfg.disks[0].path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0 || errno != EROFS)
		bad |= BAD_RO;
	if (fd >= 0)
		close(fd);
	fd = open(cfg.disks[1].path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "x", 1) != 1)
		bad |= BAD_RW;
	if (fd >= 0)
		close(fd);
	struct utsname u;
	if (uname(&u) < 0 || strcmp(u.nodename, "kvirt-vmm"))
		bad |= BAD_NAME;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur != 77)
		bad |= BAD_NOFILE;
	vmm_config_clear(&cfg);
	return bad;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP the jail needs root\n");
		return 77;
	}
	char dir[] = "/tmp/kvirt-jail-test-XXXXXX";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	char jail[256], kernel[256], ro[256], rw[256];
	snprintf(jail, sizeof(jail), "%s/jail", dir);
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", dir);
	snprintf(ro, sizeof(ro), "%s/ro.img", dir);
	snprintf(rw, sizeof(rw), "%s/rw.img", dir);
	if (mkdir(jail, 0755) < 0 || write_file(kernel, "bzImage?") < 0 ||
	    write_file(ro, "ro") < 0 || write_file(rw, "rw") < 0) {
		ok(0, "test files");
		return tap_done();
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(jailed_checks(jail, kernel, ro, rw));
	int status = 0;
	waitpid(pid, &status, 0);
	int bad = WIFEXITED(status) ? WEXITSTATUS(status) : 0xff;
	for (unsigned i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		ok(!(bad & (1 << i)) && !(bad & BAD_ENTER && i), "jail: not \"%s\"", bad_names[i]);

	/* The host keeps no trace but empty mount points inside the jail directory. */
	char probe[512];
	snprintf(probe, sizeof(probe), "%s%s", jail, kernel);
	struct stat st;
	ok(stat(probe, &st) == 0 && st.st_size == 0, "outside: %s is an empty mount point", probe);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", dir);
	return tap_done();
}
