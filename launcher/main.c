/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvirt-launcher: run a VirtualMachineInstance (or a VirtualMachine's
 * template) as a VM with kvirt-vmm; attach to its console.  Exit status:
 * launcher/launcher.h, docs/launcher.md.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <linux/capability.h>

#include "kvirt/caps.h"
#include "kvirt/cleanup.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "launcher.h"

#define KVL_DEFAULT_KERNEL_DIR "/usr/share/kvirt/boot"

static void usage(FILE *f)
{
	fputs(
	    "usage: kvirt-launcher run [options] VMI.yaml|VMI.json|-\n"
	    "       kvirt-launcher run [options] --downward FILE\n"
	    "       kvirt-launcher validate VMI.yaml|-\n"
	    "       kvirt-launcher console SOCKET\n"
	    "run options:\n"
	    "  --run-dir DIR        scratch files and sockets (default "
	    "$XDG_RUNTIME_DIR/kvirt/<vmi>\n"
	    "                       or /run/kvirt/<vmi>); removed on exit\n"
	    "  --vmm PATH           kvirt-vmm to run (default: next to kvirt-launcher)\n"
	    "  --kernel-dir DIR     default kernel without kernelBoot: DIR/vmlinuz and\n"
	    "                       DIR/initramfs-root.cpio.gz "
	    "($KVIRT_KERNEL_DIR, " KVL_DEFAULT_KERNEL_DIR ")\n"
	    "  --volume-root DIR    configMap/secret/serviceAccount files: DIR/configmap/<name>/,\n"
	    "                       DIR/secret/<secretName>/, DIR/serviceaccount/<name>/\n"
	    "  --cmdline-append ARGS  extra kernel arguments\n"
	    "  --stdin              forward stdin to the serial console\n"
	    "  --network pod|none   pod: the VMI's interface (bridge/masquerade) set up in\n"
	    "                       this network namespace; none: no NIC, namespace untouched\n"
	    "                       (default: pod with --downward, else none)\n"
	    "  --jail-uid N, --jail-gid N  unprivileged uid/gid of the jailed kvirt-vmm\n"
	    "                       (default 107, KubeVirt's qemu user)\n"
	    "  --no-jail            run kvirt-vmm without its jail (debugging only; the jail\n"
	    "                       is on by default as root, off when not root)\n"
	    "Exit status: 0 powered off, 1 bad input (nothing started), 2 rebooted, 3 crashed,\n"
	    "4 VMM error, 5 killed when the grace period ended, 6 killed on request.\n",
	    f);
}

static char *self_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return strdup(".");
	buf[n] = 0;
	char *slash = strrchr(buf, '/');
	if (slash)
		*slash = 0;
	return strdup(buf);
}

static char *find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	if (!path)
		return NULL;
	_cleanup_free_ char *copy = strdup(path);
	char *save = NULL;
	for (char *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir;
	     dir = strtok_r(NULL, ":", &save)) {
		char *p = kv_strdup_printf("%s/%s", dir, name);
		if (p && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static char *dir_of(const char *path)
{
	char *real = realpath(path, NULL);
	if (!real)
		return NULL;
	char *slash = strrchr(real, '/');
	if (slash && slash != real)
		*slash = 0;
	return real;
}

static int cmd_run(int argc, char **argv, bool validate_only)
{
	uint64_t start_ns = kv_now_ns();
	static const struct option opts[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ "vmm", required_argument, NULL, 'v' },
		{ "kernel-dir", required_argument, NULL, 'k' },
		{ "volume-root", required_argument, NULL, 'V' },
		{ "cmdline-append", required_argument, NULL, 'a' },
		{ "downward", required_argument, NULL, 'd' },
		{ "stdin", no_argument, NULL, 's' },
		{ "network", required_argument, NULL, 'N' },
		{ "no-jail", no_argument, NULL, 'J' },
		{ "jail-uid", required_argument, NULL, 'U' },
		{ "jail-gid", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kvl_options o = { 0 };
	const char *vmm = NULL, *input = NULL;
	bool downward = false, fwd_stdin = false, no_jail = false;
	const char *network = NULL;
	unsigned jail_id[2] = { KVL_JAIL_DEFAULT_ID, KVL_JAIL_DEFAULT_ID }; /* uid, gid */
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r': o.run_dir = optarg; break;
		case 'v': vmm = optarg; break;
		case 'k': o.kernel_dir = optarg; break;
		case 'V': o.volume_root = optarg; break;
		case 'a': o.extra_cmdline = optarg; break;
		case 'd':
			input = optarg;
			downward = true;
			break;
		case 's': fwd_stdin = true; break;
		case 'N':
			if (!strcmp(optarg, "pod") || !strcmp(optarg, "none")) {
				network = optarg;
				break;
			}
			kv_error("--network: \"%s\" is neither pod nor none", optarg);
			return KVL_EXIT_INVALID;
		case 'J': no_jail = true; break;
		case 'U':
		case 'G': {
			/* 0 would keep root; (uid_t)-1 means "unchanged" to setresuid. */
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || !v || v >= UINT32_MAX ||
			    optarg[0] == '-') {
				kv_error("--jail-%s: \"%s\" is not a non-zero uid/gid",
					 opt == 'U' ? "uid" : "gid", optarg);
				return KVL_EXIT_INVALID;
			}
			jail_id[opt == 'G'] = (unsigned)v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return KVL_EXIT_INVALID;
		}
	}
	if (!downward) {
		if (optind != argc - 1) {
			usage(stderr);
			return KVL_EXIT_INVALID;
		}
		input = argv[optind];
	} else if (optind != argc) {
		usage(stderr);
		return KVL_EXIT_INVALID;
	}
	/* In the launcher pod (--downward) the namespace is the pod's to take. */
	o.pod_network = network ? !strcmp(network, "pod") : downward;
	if (!o.kernel_dir)
		o.kernel_dir = getenv("KVIRT_KERNEL_DIR");
	if (!o.kernel_dir)
		o.kernel_dir = KVL_DEFAULT_KERNEL_DIR;
	/* Relative image paths in a manifest file are relative to that file. */
	_cleanup_free_ char *base = (!downward && strcmp(input, "-")) ? dir_of(input) : NULL;
	o.base_dir = base;

	/* A SIGTERM while disks are prepared must still clean up: handled below. */
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigaddset(&term, SIGHUP);
	sigprocmask(SIG_BLOCK, &term, NULL);

	_cleanup_err_ struct kv_err *err = NULL;
	_cleanup_json_t_ json_t *vmi = NULL;
	if (kvl_load(input, &vmi, &err) < 0) {
		kv_error("%s", kv_err_msg(err));
		return KVL_EXIT_INVALID;
	}
	if (validate_only) {
		printf("%s: valid\n", kv_jstr_or(vmi, "metadata.name", "vmi"));
		return 0;
	}
	_cleanup_free_ char *sd = NULL, *vmm_default = NULL;
	if (!vmm) {
		sd = self_dir();
		vmm_default = sd ? kv_strdup_printf("%s/kvirt-vmm", sd) : NULL;
		if (vmm_default && access(vmm_default, X_OK) < 0) {
			/* Not installed side by side (e.g. a build tree): look in $PATH. */
			free(vmm_default);
			vmm_default = find_in_path("kvirt-vmm");
		}
		vmm = vmm_default;
	}
	if (!vmm || access(vmm, X_OK) < 0) {
		kv_error("kvirt-vmm not found %s%s; use --vmm PATH",
			 vmm ? "at " : "next to kvirt-launcher or in $PATH", vmm ? vmm : "");
		return KVL_EXIT_INVALID;
	}
	struct kvl_plan plan;
	int r = kvl_prepare(vmi, &o, &plan, &err);
	if (r < 0) {
		kv_error("%s", kv_err_msg(err));
		kvl_plan_cleanup(&plan);
		return KVL_EXIT_INVALID;
	}
	/* Signals stay blocked: a SIGTERM never lands between two netlink steps. */
	if (kvl_net_setup(&plan.net, &err) < 0) {
		kv_error("network: %s", kv_err_msg(err));
		kvl_plan_cleanup(&plan);
		return KVL_EXIT_INVALID;
	}
	sigset_t pending;
	sigpending(&pending);
	if (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT) ||
	    sigismember(&pending, SIGHUP)) {
		kv_error("interrupted while preparing the disks and network; nothing started");
		kvl_plan_cleanup(&plan);
		return KVL_EXIT_INVALID;
	}
	plan.start_ns = start_ns;
	/*
	 * The jail needs root with CAP_SYS_ADMIN (namespaces, mounts,
	 * pivot_root) and CAP_SETUID/CAP_SETGID (the id switch).  A root
	 * launcher without them (a pod whose securityContext does not grant
	 * them) runs the VMM unjailed and says so loudly rather than failing.
	 */
	bool caps_ok =
	    kv_caps_have(CAP_SYS_ADMIN) && kv_caps_have(CAP_SETUID) && kv_caps_have(CAP_SETGID);
	if (no_jail)
		kv_warn("--no-jail: kvirt-vmm runs unjailed, with the launcher's uid and "
			"namespaces (debugging only)");
	else if (geteuid() != 0)
		kv_info("not running as root: kvirt-vmm runs without its jail (uid %u)",
			(unsigned)geteuid());
	else if (!caps_ok)
		kv_warn("no CAP_SYS_ADMIN/CAP_SETUID/CAP_SETGID: kvirt-vmm runs WITHOUT its jail");
	plan.jail = !no_jail && geteuid() == 0 && caps_ok;
	plan.jail_uid = jail_id[0];
	plan.jail_gid = jail_id[1];
	int code = kvl_run(&plan, vmm, fwd_stdin);
	kvl_plan_cleanup(&plan);
	return code;
}

int kvl_console(const char *path)
{
	_cleanup_close_ int fd = kv_unix_connect(path); /* ENAMETOOLONG for a long path */
	if (fd < 0) {
		kv_error("cannot connect to %s: %s", path, strerror(-fd));
		return 1;
	}
	static const char req[] = "{\"cmd\":\"console\"}\n";
	if (kv_write_all(fd, req, sizeof(req) - 1) < 0) {
		kv_error("%s: %s", path, strerror(errno));
		return 1;
	}
	/* The response line, byte by byte: what follows it is console output. */
	char line[512];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, line + len, 1);
		if (n <= 0) {
			kv_error("%s: no response", path);
			return 1;
		}
		if (line[len] == '\n' || len + 2 == sizeof(line))
			break;
		len++;
	}
	line[len] = 0;
	if (!strstr(line, "\"ok\":true")) {
		kv_error("%s: %s", path, line);
		return 1;
	}
	bool writer = strstr(line, "\"writer\":true") != NULL;
	fprintf(stderr, "kvirt-launcher: console attached%s; escape with Ctrl-]\r\n",
		writer ? "" : " read-only (another client types)");
	struct termios saved;
	bool raw = false;
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;
		cfmakeraw(&t);
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	}
	bool in_open = true;
	int rc = 0;
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		char buf[4096];
		if (p[0].revents) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			(void)kv_write_all(STDOUT_FILENO, buf, (size_t)n);
		}
		if (p[1].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				in_open = false; /* keep showing output until the VM ends */
				continue;
			}
			char *esc = memchr(buf, 0x1d, (size_t)n);
			if (esc)
				n = esc - buf;
			if (n > 0 && kv_write_all(fd, buf, (size_t)n) < 0)
				break;
			if (esc)
				break;
		}
	}
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	fprintf(stderr, "\r\nkvirt-launcher: console detached\n");
	return rc;
}

/* One request on the control socket; prints the response line. */
static int cmd_ctl(const char *path, const char *cmd)
{
	if (strchr(cmd, '"') || strchr(cmd, '\\')) {
		kv_error("bad command \"%s\"", cmd);
		return 1;
	}
	_cleanup_close_ int fd = kv_unix_connect(path);
	if (fd < 0) {
		kv_error("cannot connect to %s: %s", path, strerror(-fd));
		return 1;
	}
	char req[256];
	int n = snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}\n", cmd);
	if (n <= 0 || (size_t)n >= sizeof(req) || kv_write_all(fd, req, (size_t)n) < 0) {
		kv_error("%s: cannot send the request", path);
		return 1;
	}
	char line[8192];
	size_t len = 0;
	while (len < sizeof(line) - 1) {
		ssize_t r = read(fd, line + len, sizeof(line) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = 0;
	if (!len) {
		kv_error("%s: no response", path);
		return 1;
	}
	fputs(line, stdout);
	return strstr(line, "\"ok\":true") ? 0 : 1;
}

int main(int argc, char **argv)
{
	kv_log_init("kvirt-launcher");
	if (argc < 2) {
		usage(stderr);
		return KVL_EXIT_INVALID;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "run") || !strcmp(cmd, "validate"))
		return cmd_run(argc - 1, argv + 1, cmd[0] == 'v');
	if (!strcmp(cmd, "console")) {
		if (argc != 3) {
			usage(stderr);
			return KVL_EXIT_INVALID;
		}
		return kvl_console(argv[2]);
	}
	if (!strcmp(cmd, "ctl")) {
		if (argc != 4) {
			usage(stderr);
			return KVL_EXIT_INVALID;
		}
		return cmd_ctl(argv[2], argv[3]);
	}
	kv_error("unknown command \"%s\"", cmd);
	usage(stderr);
	return KVL_EXIT_INVALID;
}
