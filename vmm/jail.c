/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The jail (like Firecracker's jailer, but built into kvirt-vmm so one exec
 * suffices):
 *   1. unshare mount, IPC, UTS, PID (and network unless a tap needs the
 *      caller's) namespaces, then fork: the child is PID 1 of the new PID
 *      namespace, the parent supervises (forwards termination signals, exits
 *      with the child's status) holding only CAP_KILL;
 *   2. the child makes every mount private (nothing propagates back), binds
 *      DIR onto itself, binds each needed file (kernel, initrd, disks,
 *      /dev/kvm) at DIR/<its absolute path> (read-only, nosuid, noexec; disks
 *      read-write unless readonly=on; /dev/kvm keeps device access), then
 *      pivot_root(DIR) and detaches the old root;
 *   3. hostname "kvirt-vmm", rlimits.
 * Dropping to --uid/--gid and all capabilities happens later in main(),
 * once the VM's files are open (kv_caps_drop_all).
 */
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "kvirt/caps.h"
#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/util.h"

static volatile pid_t jailed_pid;

static void forward_signal(int sig)
{
	if (jailed_pid > 0)
		kill(jailed_pid, sig);
}

/* The supervisor outside the jail: forward signals, mirror the exit status. */
static _Noreturn void supervise(pid_t child)
{
	jailed_pid = child;
	struct sigaction sa = { .sa_handler = forward_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* CAP_KILL only: the VMM will run under another uid. */
	static const int keep[] = { CAP_KILL };
	struct kv_err *err = NULL;
	if (kv_caps_keep_only(keep, 1, &err) < 0) {
		kv_warn("jail supervisor: %s", kv_err_msg(err));
		kv_err_free(err);
	}
	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	_exit(128 + WTERMSIG(status));
}

/* mkdir -p of the parent directories of `path` (absolute, inside the jail dir). */
static int make_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int r = mkdir(path, 0755);
		*p = '/';
		if (r < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

/* Bind `src` (absolute) at dir/src; readonly or not; dev=true keeps device nodes usable. */
static int bind_in(const char *dir, const char *src, bool readonly, bool dev, struct kv_err **err)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return kv_err_errno(err, "jail: %s", src);
	_cleanup_free_ char *target = kv_strdup_printf("%s%s", dir, src);
	if (!target)
		return kv_err_set(err, ENOMEM, "jail: out of memory");
	int r = make_parents(target);
	if (r < 0) {
		errno = -r;
		return kv_err_errno(err, "jail: cannot create the parents of %s", target);
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(target, 0755) < 0 && errno != EEXIST)
			return kv_err_errno(err, "jail: mkdir %s", target);
	} else {
		int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return kv_err_errno(err, "jail: cannot create the mount point %s", target);
		close(fd);
	}
	if (mount(src, target, NULL, MS_BIND, NULL) < 0)
		return kv_err_errno(err, "jail: bind %s", src);
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NOEXEC;
	if (readonly)
		flags |= MS_RDONLY;
	if (!dev)
		flags |= MS_NODEV;
	if (mount(NULL, target, NULL, flags, NULL) < 0)
		return kv_err_errno(err, "jail: remount %s", target);
	return 0;
}

/* Replace *path by its absolute, symlink-free form (the path bound in the jail). */
static int absolutize(char **path, struct kv_err **err)
{
	if (!*path)
		return 0;
	char *abs = realpath(*path, NULL);
	if (!abs)
		return kv_err_errno(err, "jail: %s", *path);
	free(*path);
	*path = abs;
	return 0;
}

static int set_rlimit(int res, uint64_t v, const char *what, struct kv_err **err)
{
	if (!v)
		return 0;
	struct rlimit rl = { .rlim_cur = v, .rlim_max = v };
	if (setrlimit(res, &rl) < 0)
		return kv_err_errno(err, "jail: setrlimit %s=%llu", what, (unsigned long long)v);
	return 0;
}

static int build_root(const struct vmm_jail *j, struct vmm_config *cfg, struct kv_err **err)
{
	/* Nothing mounted here may propagate to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return kv_err_errno(err, "jail: make / private");
	if (mount(j->dir, j->dir, NULL, MS_BIND, NULL) < 0)
		return kv_err_errno(err, "jail: bind %s onto itself", j->dir);
	int r = bind_in(j->dir, cfg->kernel, true, false, err);
	if (r >= 0 && cfg->initrd)
		r = bind_in(j->dir, cfg->initrd, true, false, err);
	for (unsigned i = 0; r >= 0 && i < cfg->ndisks; i++)
		r = bind_in(j->dir, cfg->disks[i].path, cfg->disks[i].readonly, true, err);
	if (r >= 0)
		r = bind_in(j->dir, "/dev/kvm", false, true, err);
	if (r < 0)
		return r;
	if (chdir(j->dir) < 0)
		return kv_err_errno(err, "jail: chdir %s", j->dir);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return kv_err_errno(err, "jail: pivot_root %s", j->dir);
	/* The old root is stacked under the new one at "/": detach it. */
	if (umount2(".", MNT_DETACH) < 0)
		return kv_err_errno(err, "jail: detach the old root");
	if (chdir("/") < 0)
		return kv_err_errno(err, "jail: chdir /");
	static const char host[] = "kvirt-vmm";
	if (sethostname(host, sizeof(host) - 1) < 0)
		return kv_err_errno(err, "jail: sethostname");
	if ((r = set_rlimit(RLIMIT_NOFILE, j->nofile, "nofile", err)) < 0)
		return r;
	return set_rlimit(RLIMIT_FSIZE, j->fsize, "fsize", err);
}

int vmm_jail_enter(const struct vmm_jail *j, struct vmm_config *cfg, struct kv_err **err)
{
	if (!j->dir)
		return 0;
	if (j->dir[0] != '/')
		return kv_err_set(err, EINVAL, "--jail: \"%s\" is not an absolute path", j->dir);
	struct stat st;
	if (stat(j->dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return kv_err_set(err, ENOTDIR, "--jail: %s is not a directory", j->dir);
	int r = absolutize(&cfg->kernel, err);
	if (r >= 0)
		r = absolutize(&cfg->initrd, err);
	for (unsigned i = 0; r >= 0 && i < cfg->ndisks; i++)
		r = absolutize(&cfg->disks[i].path, err);
	if (r < 0)
		return r;
	int flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID;
	if (!j->keep_netns)
		flags |= CLONE_NEWNET;
	if (unshare(flags) < 0)
		return kv_err_errno(err, "jail: unshare (needs CAP_SYS_ADMIN)");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return kv_err_errno(err, "jail: fork");
	if (pid > 0) {
		kv_info("jail: kvirt-vmm runs as pid %d, root %s", (int)pid, j->dir);
		supervise(pid);
	}
	/* The supervisor gone means nobody forwards signals: go too. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return kv_err_errno(err, "jail: PR_SET_PDEATHSIG");
	return build_root(j, cfg, err);
}
