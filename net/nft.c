/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftables and sysctls.  libnftables is GPL, so it is not linked (house rule
 * 8): we execute `nft -f -` and feed it a generated ruleset.  The ruleset
 * goes in through a memfd rather than a pipe, so a failing nft can never
 * block us or raise SIGPIPE, and nft's stderr comes back the same way to
 * become the error message.
 */
#include "kvirt/net.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/util.h"

int net_nft_apply(const char *nft, const char *ruleset, struct kv_err **err)
{
	if (!nft)
		nft = "nft";
	_cleanup_close_ int in = memfd_create("kvirt-nft-in", MFD_CLOEXEC);
	_cleanup_close_ int out = memfd_create("kvirt-nft-err", MFD_CLOEXEC);
	if (in < 0 || out < 0)
		return kv_err_errno(err, "nft: cannot create a memfd");
	int r = kv_write_all(in, ruleset, strlen(ruleset));
	if (r < 0) {
		errno = -r;
		return kv_err_errno(err, "nft: cannot write the ruleset");
	}
	if (lseek(in, 0, SEEK_SET) < 0)
		return kv_err_errno(err, "nft: cannot rewind the ruleset");

	pid_t pid = fork();
	if (pid < 0)
		return kv_err_errno(err, "nft: cannot fork");
	if (pid == 0) {
		/* dup2 clears O_CLOEXEC on the targets, so nft inherits exactly these. */
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(126);
		execlp(nft, nft, "-f", "-", (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return kv_err_errno(err, "nft: cannot wait for %s", nft);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;

	char msg[512] = "";
	ssize_t n = pread(out, msg, sizeof(msg) - 1, 0);
	if (n > 0) {
		msg[n] = '\0';
		/* One line is enough for the error; the first names the problem. */
		char *nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return kv_err_set(err, ENOENT, "nft: cannot execute %s (is nftables installed?)",
				  nft);
	return kv_err_set(err, EIO, "nft -f failed (status %d): %s",
			  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
			  msg[0] ? msg : "no message");
}

int net_sysctl_set(const char *path, const char *value, char *old, size_t cap, struct kv_err **err)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return kv_err_errno(err, "cannot open %s", path);
	if (old && cap) {
		ssize_t n = read(fd, old, cap - 1);
		if (n < 0)
			return kv_err_errno(err, "cannot read %s", path);
		old[n] = '\0';
		old[strcspn(old, "\n")] = '\0';
		if (lseek(fd, 0, SEEK_SET) < 0)
			return kv_err_errno(err, "cannot rewind %s", path);
	}
	int r = kv_write_all(fd, value, strlen(value));
	if (r < 0) {
		errno = -r;
		return kv_err_errno(err, "cannot write \"%s\" to %s", value, path);
	}
	return 0;
}
