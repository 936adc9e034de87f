/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvirt-vmm: parse flags and/or a JSON config, validate everything, then
 * build and run the VM.  Exit status: docs/vmm.md ("Exit status").
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "console.h"
#include "jail.h"
#include "kvirt/caps.h"
#include "kvirt/cleanup.h"
#include "kvirt/err.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "vmm_seccomp.h"
#include "vm.h"

static void usage(FILE *f)
{
	fputs("usage: kvirt-vmm [--config vm.json] [--kernel BZIMAGE] [--initrd FILE]\n"
	      "                 [--cmdline ARGS] [--memory SIZE]\n"
	      "                 [--cpus N[,sockets=S][,cores=C][,threads=T]]\n"
	      "                 [--serial stdio|none|file:PATH|unix:PATH] [--hugepages none|thp]\n"
	      "                 [--pit on|off] [--seccomp on|off] [--api unix:PATH]\n"
	      "                 [--on-reboot exit|restart]\n"
	      "                 [--jail DIR [--jail-nofile N] [--jail-fsize SIZE]] [--uid N] "
	      "[--gid N]\n"
	      "                 [--disk path=IMG[,readonly=on][,cache=none|writeback][,queues=N]\n"
	      "                         [,queue_size=N][,serial=S][,backend=io_uring|threads]\n"
	      "                         [,coalesce=on|off]]...\n"
	      "                 [--net tap=NAME|fd=N[:N...][,mac=MAC][,queues=N][,mtu=N]\n"
	      "                        [,queue_size=N]]...\n"
	      "Flags override the config file.  Exit status: 0 guest powered off, 1 VMM error,\n"
	      "2 guest reboot (unless --on-reboot restart), 3 guest panic/crash, 128+N killed\n"
	      "by signal N.\n",
	      f);
}

int main(int argc, char **argv)
{
	uint64_t start_ns = kv_now_ns();
	kv_log_init("kvirt-vmm");

	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'a' },
		{ "cpus", required_argument, NULL, 'p' },
		{ "memory", required_argument, NULL, 'm' },
		{ "serial", required_argument, NULL, 's' },
		{ "hugepages", required_argument, NULL, 'H' },
		{ "pit", required_argument, NULL, 'P' },
		{ "disk", required_argument, NULL, 'D' },
		{ "seccomp", required_argument, NULL, 'S' },
		{ "jail", required_argument, NULL, 'J' },
		{ "jail-nofile", required_argument, NULL, 'N' },
		{ "jail-fsize", required_argument, NULL, 'F' },
		{ "uid", required_argument, NULL, 'U' },
		{ "gid", required_argument, NULL, 'G' },
		{ "api", required_argument, NULL, 'A' },
		{ "net", required_argument, NULL, 'T' },
		{ "on-reboot", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL;
	bool seccomp_on = true;
	struct vmm_jail jail = { 0 };
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	uint64_t num;
	/* Flags are applied after the config file, whatever their order. */
	const char *flag_field[16] = { 0 };
	const char *flag_value[16] = { 0 };
	unsigned nflags = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *field = NULL;
		switch (opt) {
		case 'c': config_path = optarg; continue;
		case 'S':
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				kv_error("--seccomp: \"%s\" is not on or off", optarg);
				return VMM_EXIT_ERROR;
			}
			seccomp_on = !strcmp(optarg, "on");
			continue;
		case 'J': jail.dir = optarg; continue;
		case 'N':
		case 'F':
		case 'U':
		case 'G':
			if ((opt == 'F' ? kv_parse_size(optarg, &num)
					: kv_parse_u64(optarg, &num)) < 0 ||
			    num == 0 || ((opt == 'U' || opt == 'G') && num >= UINT32_MAX)) {
				kv_error("%s: \"%s\" is not a valid value",
					 opt == 'N'   ? "--jail-nofile"
					 : opt == 'F' ? "--jail-fsize"
					 : opt == 'U' ? "--uid"
						      : "--gid",
					 optarg);
				return VMM_EXIT_ERROR;
			}
			if (opt == 'N')
				jail.nofile = num;
			else if (opt == 'F')
				jail.fsize = num;
			else if (opt == 'U')
				uid = (uid_t)num;
			else
				gid = (gid_t)num;
			continue;
		case 'h': usage(stdout); return 0;
		case 'k': field = "kernel"; break;
		case 'i': field = "initrd"; break;
		case 'a': field = "cmdline"; break;
		case 'p': field = "cpus"; break;
		case 'm': field = "memory"; break;
		case 's': field = "serial"; break;
		case 'H': field = "hugepages"; break;
		case 'P': field = "pit"; break;
		case 'D': field = "disk"; break;
		case 'A': field = "api"; break;
		case 'T': field = "net"; break;
		case 'R': field = "on_reboot"; break;
		default: usage(stderr); return VMM_EXIT_ERROR;
		}
		if (nflags == KV_ARRAY_SIZE(flag_field)) {
			kv_error("too many flags");
			return VMM_EXIT_ERROR;
		}
		flag_field[nflags] = field;
		flag_value[nflags++] = optarg;
	}
	if (optind < argc) {
		kv_error("unexpected argument \"%s\"", argv[optind]);
		usage(stderr);
		return VMM_EXIT_ERROR;
	}

	_cleanup_err_ struct kv_err *err = NULL;
	struct vmm_config cfg;
	vmm_config_init(&cfg);
	int r = 0;
	if (config_path)
		r = vmm_config_load_file(&cfg, config_path, &err);
	for (unsigned i = 0; r >= 0 && i < nflags; i++)
		r = vmm_config_set(&cfg, flag_field[i], flag_value[i], &err);
	if (r >= 0)
		r = vmm_config_finish(&cfg, &err);
	static struct vm vm;
	if (r >= 0)
		r = vm_plan(&vm, &cfg, &err);
	struct console con = { .in_fd = -1, .out_fd = -1, .listen_fd = -1 };
	if (r >= 0)
		r = console_open(&con, &cfg, &err);
	struct vmm_api api;
	vmm_api_init(&api);
	if (r >= 0 && cfg.api_path)
		r = vmm_api_open(&api, cfg.api_path, &err);
	if (r >= 0) {
		vmm_seccomp_allow_reset(cfg.reboot_restart);
		r = vmm_seccomp_init(seccomp_on, &err);
	}
	/* Returns in the jailed child only; the supervisor exits with its status. */
	if (r >= 0)
		r = vmm_jail_enter(&jail, &cfg, &err);
	if (r < 0) {
		kv_error("%s", kv_err_msg(err));
		vmm_api_close(&api);
		console_close(&con);
		vmm_config_clear(&cfg);
		return VMM_EXIT_ERROR;
	}

	/* Termination signals are read from a signalfd by the main loop only. */
	signal(SIGPIPE, SIG_IGN);
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGINT);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGHUP);
	sigprocmask(SIG_BLOCK, &term, NULL);
	_cleanup_close_ int sfd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);

	vm.start_ns = start_ns;
	int code;
	if (sfd < 0)
		r = kv_err_errno(&err, "signalfd");
	else
		r = vm_create(&vm, con.out_fd, &err);
	/* Every file is open now: no capability is needed any more. */
	if (r >= 0)
		r = kv_caps_drop_all(uid, gid, &err);
	/* The id switch cleared PR_SET_PDEATHSIG (commit_creds): the jailed VMM re-arms it. */
	if (r >= 0 && jail.dir && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		r = kv_err_errno(&err, "jail: PR_SET_PDEATHSIG");
	if (r >= 0)
		r = vm_start(&vm, &err);
	if (r < 0) {
		kv_error("%s", kv_err_msg(err));
		code = VMM_EXIT_ERROR;
	} else {
		code = vmm_event_loop(&vm, &con, sfd, &api);
		vm_stop(&vm);
		if (code == VMM_EXIT_POWEROFF || code == VMM_EXIT_REBOOT)
			kv_info("%s (exit %d)", vm.exit_msg, code);
		else
			kv_error("%s (exit %d)", vm.exit_msg, code);
	}
	vm_destroy(&vm);
	vmm_api_close(&api);
	console_close(&con);
	vmm_config_clear(&cfg);
	return code;
}
