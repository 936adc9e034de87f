/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launcher's lifecycle: spawn kvirt-vmm with a JSON config, its console
 * on a socketpair and its control socket in the run directory; serve the
 * launcher's own control socket (JSON lines, proxied to the VMM's, plus
 * console attach with several readers and one writer); turn SIGTERM into
 * the ACPI power button and SIGKILL the VMM when the grace period ends;
 * map how the VMM ended to the launcher's exit status (launcher.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "kvirt/caps.h"
#include "kvirt/cleanup.h"
#include "kvirt/json.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "launcher.h"

#define KVL_MAX_CLIENTS	 16
#define KVL_MAX_LINE	 4096
#define KVL_API_WAIT_MS	 5000
#define KVL_CONSOLE_HIST 16384 /* recent console output replayed to a new reader */

struct client {
	int fd; /* -1: free */
	bool console, writer;
	size_t len;
	char buf[KVL_MAX_LINE];
};

struct launcher {
	struct kvl_plan *plan;
	pid_t vmm_pid;
	int console_fd; /* our end of the VMM's stdio */
	int api_fd;	/* the VMM's control socket; -1 until connected */
	int listen_fd;
	char *api_path, *control_path, *config_path;
	struct client clients[KVL_MAX_CLIENTS];
	bool terminating, grace_killed, cmd_killed, vmm_exited;
	int vmm_status;
	uint64_t grace_deadline_ns, start_ns, api_deadline_ns;
	uint64_t start_realtime_ms;
	char hist[KVL_CONSOLE_HIST];
	size_t hist_len;
};

/* Send one request line and read one response line (blocking, bounded). */
static json_t *api_call(struct launcher *l, const char *cmd)
{
	if (l->api_fd < 0)
		return json_pack("{s:b, s:s}", "ok", 0, "error", "the VMM is not ready yet");
	char req[128];
	int n = snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}\n", cmd);
	if (send(l->api_fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		goto broken;
	char buf[KVL_MAX_LINE];
	size_t len = 0;
	for (;;) {
		struct pollfd p = { .fd = l->api_fd, .events = POLLIN };
		if (poll(&p, 1, KVL_API_WAIT_MS) <= 0)
			goto broken;
		ssize_t r = read(l->api_fd, buf + len, sizeof(buf) - len - 1);
		if (r <= 0)
			goto broken;
		len += (size_t)r;
		char *nl = memchr(buf, '\n', len);
		if (nl) {
			_cleanup_err_ struct kv_err *err = NULL;
			json_t *resp = NULL;
			if (kv_json_loadb(buf, (size_t)(nl - buf), "VMM response", &resp, &err) < 0)
				goto broken;
			return resp;
		}
		if (len == sizeof(buf) - 1)
			goto broken;
	}
broken:
	close(l->api_fd);
	l->api_fd = -1;
	return json_pack("{s:b, s:s}", "ok", 0, "error", "the VMM's control socket failed");
}

/*
 * RLIMIT_NOFILE of the jailed VMM.  What it holds: stdio, /dev/kvm, the VM,
 * one fd per vCPU, the event loop's epoll/signalfd/timerfd, the control
 * socket and its clients, and per device its backing file, io_uring or
 * worker eventfds and one ioeventfd per queue plus irqfds (MSI-X: a vector
 * per queue).  64 per device covers 16 queues with room to spare; 8 per vCPU
 * covers per-vCPU queues.
 * podnet: add 64 per interface (each tap queue fd counts once more).
 */
static uint64_t jail_nofile(const struct kvl_plan *plan)
{
	/* The pod interface (when bound) counts like a disk: tap queues, eventfds, irqfds. */
	return 256 + 64 * ((uint64_t)plan->ndisks + (plan->net.b ? 1 : 0)) +
	       8 * (uint64_t)plan->vcpus;
}

/*
 * kvirt-vmm --config CFG, plus the jail when plan->jail (vmm/jail.c): new
 * mount/PID/IPC/UTS/network namespaces, root = plan->jail_dir holding only
 * the kernel, initrd, disks and /dev/kvm, RLIMIT_NOFILE, then the uid/gid
 * drop with no capabilities left.  The control socket (vmm.sock) and the
 * console (a socketpair on stdio) are opened before the VMM enters the jail,
 * so they stay reachable from here; the disks are opened while the VMM is
 * still root, before the uid drop, so their owner and mode need no change.
 * RLIMIT_FSIZE is left unlimited: the VMM's stderr is ours, which may be a
 * regular file larger than any disk (docs/launcher.md "Jail").
 * podnet: tap queues passed as --net fd=N work in the jail's new network
 * namespace (vmm_jail.keep_netns stays false); tap=NAME would not (the VMM
 * opens /dev/net/tun after entering the jail).  The launcher must still hold
 * CAP_SYS_ADMIN, CAP_SETUID and CAP_SETGID here (main.c checks them): drop
 * its own capabilities only after spawn_vmm().
 */
static char **vmm_argv(const struct launcher *l)
{
	const struct kvl_plan *p = l->plan;
	char **argv = calloc(16, sizeof(*argv));
	if (!argv)
		return NULL;
	unsigned n = 0;
	argv[n++] = strdup("kvirt-vmm");
	argv[n++] = strdup("--config");
	argv[n++] = strdup(l->config_path);
	if (p->jail) {
		argv[n++] = strdup("--jail");
		argv[n++] = strdup(p->jail_dir);
		argv[n++] = strdup("--jail-nofile");
		argv[n++] = kv_strdup_printf("%llu", (unsigned long long)jail_nofile(p));
		argv[n++] = strdup("--uid");
		argv[n++] = kv_strdup_printf("%u", p->jail_uid);
		argv[n++] = strdup("--gid");
		argv[n++] = kv_strdup_printf("%u", p->jail_gid);
	}
	for (unsigned i = 0; i < n; i++) {
		if (!argv[i]) {
			for (unsigned j = 0; j < n; j++)
				free(argv[j]);
			free(argv);
			return NULL;
		}
	}
	return argv;
}

static void argv_free(char **argv)
{
	for (unsigned i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* <run_dir>/jail: root-owned, 0755, empty (vmm/jail.c binds what it needs in). */
static int make_jail_dir(struct kvl_plan *plan, struct kv_err **err)
{
	if (!plan->jail)
		return 0;
	plan->jail_dir = kv_strdup_printf("%s/jail", plan->run_dir);
	if (!plan->jail_dir)
		return kv_err_set(err, ENOMEM, "out of memory");
	if (mkdir(plan->jail_dir, 0755) < 0) {
		int e = errno;
		free(plan->jail_dir);
		plan->jail_dir = NULL; /* not ours: cleanup must not remove it */
		errno = e;
		return kv_err_errno(err, "cannot create the jail directory %s/jail", plan->run_dir);
	}
	/* mkdir obeys the umask; the jailed uid must be able to traverse its root. */
	if (chmod(plan->jail_dir, 0755) < 0)
		return kv_err_errno(err, "chmod %s", plan->jail_dir);
	return 0;
}

static int spawn_vmm(struct launcher *l, const char *vmm, struct kv_err **err)
{
	char **argv = vmm_argv(l);
	if (!argv)
		return kv_err_set(err, ENOMEM, "out of memory");
	if (l->plan->jail)
		kv_info("kvirt-vmm runs jailed: root %s, uid %u gid %u, no capabilities, "
			"open files <= %llu",
			l->plan->jail_dir, l->plan->jail_uid, l->plan->jail_gid,
			(unsigned long long)jail_nofile(l->plan));
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		int e = errno;
		argv_free(argv);
		errno = e;
		return kv_err_errno(err, "socketpair");
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(sp[0]);
		close(sp[1]);
		argv_free(argv);
		return kv_err_errno(err, "fork");
	}
	if (pid == 0) {
		/* Own process group: a terminal's ^C goes to the launcher, which decides. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(sp[1], STDIN_FILENO) < 0 || dup2(sp[1], STDOUT_FILENO) < 0)
			_exit(127);
		kvl_net_child_fds(&l->plan->net);
		execv(vmm, argv);
		dprintf(STDERR_FILENO, "kvirt-launcher: cannot execute %s: %s\n", vmm,
			strerror(errno));
		_exit(127);
	}
	argv_free(argv);
	close(sp[1]);
	l->console_fd = sp[0];
	fcntl(l->console_fd, F_SETFL, O_NONBLOCK);
	l->vmm_pid = pid;
	return 0;
}

/*
 * Once the VMM runs, the launcher needs no privilege but what undoing the
 * network needs at exit: CAP_NET_ADMIN (netlink, and the `nft delete table`
 * it execs).  Without a network binding nothing at all is kept.  An
 * unprivileged launcher (no CAP_NET_ADMIN, no network) has nothing to drop.
 * docs/security.md, "kvirt-launcher".
 */
static int drop_caps(struct kvl_plan *plan)
{
	_cleanup_err_ struct kv_err *err = NULL;
	int r = 0;
	if (plan->net.b) {
		static const int keep[] = { CAP_NET_ADMIN };
		r = kv_caps_keep_only(keep, KV_ARRAY_SIZE(keep), &err);
	} else if (kv_caps_have(CAP_SYS_ADMIN) || kv_caps_have(CAP_NET_ADMIN)) {
		r = kv_caps_drop_all((uid_t)-1, (gid_t)-1, &err);
	}
	if (r < 0)
		kv_error("dropping capabilities: %s", kv_err_msg(err));
	else if (plan->net.b)
		kv_info("capabilities dropped; kept CAP_NET_ADMIN to restore the network at exit");
	return r;
}

/*
 * SIGKILL the VMM's process group: kvirt-vmm, or the jail's supervisor and
 * the jailed VMM (it keeps the group across the PID namespace; its own
 * PR_SET_PDEATHSIG is a second line).  Also the pid itself, in case the
 * child has not reached setpgid() yet.
 */
static void kill_vmm(struct launcher *l)
{
	kill(-l->vmm_pid, SIGKILL);
	kill(l->vmm_pid, SIGKILL);
}

static void client_drop(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->console = c->writer = false;
}

static void client_send(struct client *c, const void *buf, size_t len)
{
	/* A reader that cannot keep up loses its console rather than stalling the VM. */
	if (send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
		client_drop(c);
}

static void reply(struct client *c, json_t *resp)
{
	if (kv_json_send_line(c->fd, resp) < 0)
		client_drop(c);
}

static json_t *status(struct launcher *l)
{
	_cleanup_json_t_ json_t *vs = api_call(l, "status");
	const char *state = kv_jstr(vs, "state");
	json_t *disks = json_array();
	for (unsigned i = 0; disks && i < l->plan->ndisks; i++) {
		const struct kvl_disk *d = &l->plan->disks[i];
		json_array_append_new(disks, json_pack("{s:s, s:s, s:s, s:b}", "name", d->name,
						       "path", d->path, "source", d->source,
						       "readonly", d->readonly));
	}
	json_t *ifaces = kvl_net_status(&l->plan->net);
	json_t *r = json_pack(
	    "{s:b, s:s, s:s, s:s, s:b, s:I, s:I, s:o, s:o, s:I, s:I, s:I, s:s, s:s?}", "ok", 1,
	    "name", l->plan->name, "namespace", l->plan->namespace, "phase",
	    l->terminating ? "Terminating" : "Running", "paused", state && !strcmp(state, "paused"),
	    "vcpus", (json_int_t)l->plan->vcpus, "memory", (json_int_t)l->plan->memory, "disks",
	    disks ? disks : json_array(), "interfaces", ifaces ? ifaces : json_array(),
	    "boot_time_ms", (json_int_t)l->start_realtime_ms, "uptime_ms",
	    (json_int_t)((kv_now_ns() - l->start_ns) / 1000000), "vmm_pid", (json_int_t)l->vmm_pid,
	    "vmm_state", state ? state : "unknown", "jail", l->plan->jail_dir);
	return r;
}

static void power_button(struct launcher *l)
{
	_cleanup_json_t_ json_t *r = api_call(l, "power-button");
	if (!kv_jbool(r, "ok", false))
		kv_warn("power button: %s", kv_jstr_or(r, "error", "failed"));
}

static void handle_request(struct launcher *l, struct client *c, const char *line, size_t len)
{
	_cleanup_err_ struct kv_err *err = NULL;
	_cleanup_json_t_ json_t *req = NULL;
	if (kv_json_loadb(line, len, "request", &req, &err) < 0) {
		reply(c, json_pack("{s:b, s:s}", "ok", 0, "error", kv_err_msg(err)));
		return;
	}
	const char *cmd = kv_jstr(req, "cmd");
	if (!cmd) {
		reply(c, json_pack("{s:b, s:s}", "ok", 0, "error", "request: needs a \"cmd\""));
		return;
	}
	if (!strcmp(cmd, "status")) {
		reply(c, status(l));
	} else if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume") ||
		   !strcmp(cmd, "power-button")) {
		reply(c, api_call(l, cmd));
	} else if (!strcmp(cmd, "kill")) {
		l->cmd_killed = true;
		kill_vmm(l);
		kv_info("kill requested on the control socket: VMM killed");
		reply(c, json_pack("{s:b}", "ok", 1));
	} else if (!strcmp(cmd, "console")) {
		bool writer = true;
		for (unsigned i = 0; i < KVL_MAX_CLIENTS; i++)
			if (l->clients[i].fd >= 0 && l->clients[i].writer)
				writer = false;
		c->console = true;
		c->writer = writer;
		c->len = 0;
		reply(c, json_pack("{s:b, s:b}", "ok", 1, "writer", writer));
		if (c->fd >= 0 && l->hist_len)
			client_send(c, l->hist, l->hist_len);
	} else {
		reply(c,
		      json_pack("{s:b, s:s}", "ok", 0, "error",
				"cmd: use status, pause, resume, power-button, kill or console"));
	}
}

static void client_input(struct launcher *l, struct client *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		client_drop(c);
		return;
	}
	if (c->console) {
		if (c->writer)
			(void)kv_write_all(l->console_fd, c->buf, (size_t)n);
		return;
	}
	c->len += (size_t)n;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (!nl)
			break;
		size_t line = (size_t)(nl - c->buf);
		size_t rest = c->len - line - 1;
		if (line)
			handle_request(l, c, c->buf, line);
		if (c->fd < 0)
			return;
		if (c->console) {
			/* Bytes after the console request are keystrokes. */
			if (c->writer && rest)
				(void)kv_write_all(l->console_fd, nl + 1, rest);
			c->len = 0;
			return;
		}
		memmove(c->buf, nl + 1, rest);
		c->len = rest;
	}
	if (c->len == sizeof(c->buf))
		client_drop(c);
}

static void console_output(struct launcher *l)
{
	char buf[4096];
	ssize_t n = read(l->console_fd, buf, sizeof(buf));
	if (n <= 0)
		return;
	(void)kv_write_all(STDOUT_FILENO, buf, (size_t)n);
	for (unsigned i = 0; i < KVL_MAX_CLIENTS; i++)
		if (l->clients[i].fd >= 0 && l->clients[i].console)
			client_send(&l->clients[i], buf, (size_t)n);
	size_t k = (size_t)n; /* < sizeof(hist): buf is smaller */
	_Static_assert(sizeof(buf) < KVL_CONSOLE_HIST, "history holds at least one read");
	if (l->hist_len + k > sizeof(l->hist)) {
		size_t drop = l->hist_len + k - sizeof(l->hist);
		memmove(l->hist, l->hist + drop, l->hist_len - drop);
		l->hist_len -= drop;
	}
	memcpy(l->hist + l->hist_len, buf, k);
	l->hist_len += k;
}

static int exit_status(struct launcher *l)
{
	int st = l->vmm_status;
	if (l->grace_killed) {
		kv_warn("the guest did not power off within %llds: VMM killed (exit %d)",
			l->plan->grace_seconds, KVL_EXIT_GRACE);
		return KVL_EXIT_GRACE;
	}
	if (l->cmd_killed)
		return KVL_EXIT_KILLED;
	if (WIFEXITED(st)) {
		switch (WEXITSTATUS(st)) {
		case 0: kv_info("the guest powered off"); return KVL_EXIT_POWEROFF;
		case 2: kv_info("the guest rebooted"); return KVL_EXIT_REBOOT;
		case 3: kv_error("the guest crashed"); return KVL_EXIT_CRASH;
		case 137: return KVL_EXIT_KILLED; /* "kill" sent to the VMM's own socket */
		default:
			kv_error("kvirt-vmm exited with status %d", WEXITSTATUS(st));
			return KVL_EXIT_VMM_ERROR;
		}
	}
	if (WIFSIGNALED(st))
		kv_error("kvirt-vmm was killed by signal %d", WTERMSIG(st));
	return KVL_EXIT_VMM_ERROR;
}

/* Wait (up to 10 s) for re-parented children: a jailed VMM dying after its supervisor. */
static void reap_orphans(void)
{
	for (int i = 0; i < 1000; i++) {
		pid_t r = waitpid(-1, NULL, WNOHANG);
		if (r < 0 && errno == ECHILD)
			return;
		if (r == 0)
			usleep(10000);
	}
	kv_warn("a child of the VMM's supervisor is still running");
}

int kvl_run(struct kvl_plan *plan, const char *vmm_path, bool forward_stdin)
{
	struct launcher l = { .plan = plan, .console_fd = -1, .api_fd = -1, .listen_fd = -1 };
	for (unsigned i = 0; i < KVL_MAX_CLIENTS; i++)
		l.clients[i].fd = -1;
	l.start_ns = kv_now_ns();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	l.start_realtime_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	_cleanup_err_ struct kv_err *err = NULL;
	_cleanup_close_ int sfd = -1;
	int code = KVL_EXIT_VMM_ERROR;

	l.api_path = kv_strdup_printf("%s/vmm.sock", plan->run_dir);
	l.control_path = kv_strdup_printf("%s/control.sock", plan->run_dir);
	l.config_path = kv_strdup_printf("%s/vmm.json", plan->run_dir);
	_cleanup_free_ char *cfg = l.api_path ? kvl_vmm_config(plan, l.api_path) : NULL;
	if (!l.api_path || !l.control_path || !l.config_path || !cfg) {
		kv_error("out of memory");
		goto out;
	}
	{
		_cleanup_close_ int fd =
		    open(l.config_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || kv_write_all(fd, cfg, strlen(cfg)) < 0) {
			kv_error("cannot write %s: %s", l.config_path, strerror(errno));
			goto out;
		}
	}
	if (make_jail_dir(plan, &err) < 0) {
		kv_error("%s", kv_err_msg(err));
		goto out;
	}
	l.listen_fd = kv_unix_listen(l.control_path, 8, false, "control socket", &err);
	if (l.listen_fd < 0) {
		kv_error("%s", kv_err_msg(err));
		goto out;
	}

	signal(SIGPIPE, SIG_IGN);
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		kv_error("signalfd: %s", strerror(errno));
		goto out;
	}
	/*
	 * The jailed VMM is the supervisor's child; when the supervisor is
	 * SIGKILLed (grace end, "kill") the VMM follows through
	 * PR_SET_PDEATHSIG and is re-parented here, so it can be reaped
	 * before its jail directory is removed.
	 */
	if (plan->jail)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (spawn_vmm(&l, vmm_path, &err) < 0) {
		kv_error("%s", kv_err_msg(err));
		goto out;
	}
	kv_info("kvirt-vmm pid %d spawned %llu us after start: %u vCPUs, %llu MiB, %u disks; "
		"control socket %s",
		l.vmm_pid,
		(unsigned long long)(plan->start_ns ? (kv_now_ns() - plan->start_ns) / 1000 : 0),
		plan->vcpus, (unsigned long long)(plan->memory >> 20), plan->ndisks,
		l.control_path);
	l.api_deadline_ns = kv_now_ns() + 60ull * 1000000000; /* a loaded nested host is slow */
	if (drop_caps(plan) < 0)
		goto out;

	bool stdin_open = forward_stdin;
	while (!l.vmm_exited) {
		struct pollfd p[5 + KVL_MAX_CLIENTS];
		int np = 0, i_in = -1;
		p[np++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		p[np++] = (struct pollfd){ .fd = l.console_fd, .events = POLLIN };
		p[np++] = (struct pollfd){ .fd = l.listen_fd, .events = POLLIN };
		if (stdin_open) {
			i_in = np;
			p[np++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		}
		int i_dhcp = -1;
		if (plan->net.srv) {
			i_dhcp = np;
			p[np++] = (struct pollfd){ .fd = dhcp_server_fd(plan->net.srv),
						   .events = POLLIN };
		}
		int i_cl = np;
		for (unsigned i = 0; i < KVL_MAX_CLIENTS; i++)
			p[np++] = (struct pollfd){ .fd = l.clients[i].fd, .events = POLLIN };
		int timeout = -1;
		uint64_t now = kv_now_ns();
		if (l.api_fd < 0 && now < l.api_deadline_ns)
			timeout = 20;
		if (l.terminating && !l.grace_killed) {
			int ms = now >= l.grace_deadline_ns
				     ? 0
				     : (int)((l.grace_deadline_ns - now) / 1000000 + 1);
			if (timeout < 0 || ms < timeout)
				timeout = ms;
		}
		int r = poll(p, (nfds_t)np, timeout);
		if (r < 0 && errno != EINTR) {
			kv_error("poll: %s", strerror(errno));
			break;
		}
		now = kv_now_ns();
		if (l.api_fd < 0 && now < l.api_deadline_ns) {
			int fd = kv_unix_connect(l.api_path);
			if (fd >= 0) {
				l.api_fd = fd;
				kv_debug("connected to the VMM's control socket");
			}
		}
		if (l.terminating && !l.grace_killed && now >= l.grace_deadline_ns) {
			l.grace_killed = true;
			kill_vmm(&l);
		}
		if (r <= 0)
			continue;
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD) {
					int st;
					if (waitpid(l.vmm_pid, &st, WNOHANG) == l.vmm_pid) {
						l.vmm_status = st;
						l.vmm_exited = true;
					}
				} else if (!l.terminating) {
					l.terminating = true;
					l.grace_deadline_ns =
					    now + (uint64_t)plan->grace_seconds * 1000000000ull;
					kv_info(
					    "%s: pressing the power button; the guest has %llds "
					    "to power off",
					    strsignal((int)si.ssi_signo), plan->grace_seconds);
					power_button(&l);
				} else if (si.ssi_signo == SIGINT) {
					kv_info("second interrupt: killing the VM now");
					l.grace_killed = true;
					kill_vmm(&l);
				}
			}
		}
		if (p[1].revents)
			console_output(&l);
		if (p[2].revents & POLLIN) {
			int fd = accept4(l.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			for (unsigned i = 0; fd >= 0 && i < KVL_MAX_CLIENTS; i++) {
				if (l.clients[i].fd < 0) {
					l.clients[i].fd = fd;
					fd = -1;
				}
			}
			if (fd >= 0)
				close(fd);
		}
		if (i_dhcp >= 0 && p[i_dhcp].revents) {
			int e = dhcp_server_handle_readable(plan->net.srv);
			if (e < 0)
				kv_warn("dhcp socket: %s", strerror(-e));
		}
		if (i_in >= 0 && p[i_in].revents) {
			char buf[1024];
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n > 0)
				(void)kv_write_all(l.console_fd, buf, (size_t)n);
			else if (n == 0 || errno != EINTR)
				stdin_open = false;
		}
		for (unsigned i = 0; i < KVL_MAX_CLIENTS; i++)
			if (p[i_cl + (int)i].fd >= 0 && p[i_cl + (int)i].revents &&
			    l.clients[i].fd == p[i_cl + (int)i].fd)
				client_input(&l, &l.clients[i]);
	}
	/* Drain what the guest printed last. */
	while (l.console_fd >= 0) {
		struct pollfd p = { .fd = l.console_fd, .events = POLLIN };
		if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
			break;
		char buf[4096];
		ssize_t n = read(l.console_fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		(void)kv_write_all(STDOUT_FILENO, buf, (size_t)n);
	}
	if (l.vmm_exited)
		code = exit_status(&l);
out:
	if (l.vmm_pid > 0 && !l.vmm_exited) {
		kill_vmm(&l);
		waitpid(l.vmm_pid, NULL, 0);
	}
	if (plan->jail)
		reap_orphans();
	for (unsigned i = 0; i < KVL_MAX_CLIENTS; i++)
		client_drop(&l.clients[i]);
	if (l.api_fd >= 0)
		close(l.api_fd);
	if (l.console_fd >= 0)
		close(l.console_fd);
	if (l.listen_fd >= 0)
		close(l.listen_fd);
	free(l.api_path);
	free(l.control_path);
	free(l.config_path);
	return code;
}
