/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/: the error type, cleanup helpers, logging, parsers. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvirt/cleanup.h"
#include "kvirt/err.h"
#include "kvirt/log.h"
#include "kvirt/util.h"
#include "../tap.h"

static int fails_with_enoent(const char *path, struct kv_err **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kv_err_errno(err, "cannot open %s", path);
	return 0;
}

static void test_err(void)
{
	struct kv_err *err = NULL;
	int r = fails_with_enoent("/nonexistent/kvirt", &err);
	is_int(r, -ENOENT, "kv_err_errno returns -errno");
	ok(err && err->code == ENOENT, "error carries the positive code");
	is_str(kv_err_msg(err), "cannot open /nonexistent/kvirt: No such file or directory",
	       "message has context and strerror");

	/* The first error wins: a later set must not overwrite it. */
	r = kv_err_set(&err, EINVAL, "a later, less specific error");
	is_int(r, -EINVAL, "second set still returns its own code");
	ok(err->code == ENOENT && strstr(err->msg, "/nonexistent"),
	   "first error is never overwritten");

	kv_err_prefix(&err, "loading disk %d", 2);
	is_str(kv_err_msg(err),
	       "loading disk 2: cannot open /nonexistent/kvirt: No such file or directory",
	       "prefix adds context on the way up");
	kv_err_free(err);

	/* NULL err: callers that only want the code. */
	is_int(kv_err_set(NULL, -EPERM, "ignored"), -EPERM,
	       "NULL err keeps the code, sign normalized");
	is_int(kv_err_set(NULL, 0, "zero"), -EIO, "code 0 becomes EIO, never success");
	kv_err_prefix(NULL, "nothing");
	struct kv_err *none = NULL;
	kv_err_prefix(&none, "nothing to prefix");
	ok(none == NULL, "prefix without an error sets nothing");
	kv_err_free(NULL);

	{
		_cleanup_err_ struct kv_err *scoped = NULL;
		kv_err_set(&scoped, ENOSPC, "disk %s full", "vda");
		is_str(kv_err_msg(scoped), "disk vda full", "formatted message");
	}
	ok(1, "_cleanup_err_ frees on scope exit (ASan would flag a leak)");
}

static int closed_fd_probe = -1;

static void test_cleanup(void)
{
	int p[2];
	ok(pipe2(p, O_CLOEXEC) == 0, "pipe");
	{
		_cleanup_close_ int a = p[0];
		closed_fd_probe = a;
		(void)a;
	}
	ok(fcntl(closed_fd_probe, F_GETFD) < 0 && errno == EBADF, "_cleanup_close_ closes the fd");

	int kept;
	{
		_cleanup_close_ int b = p[1];
		kept = TAKE_FD(b);
		is_int(b, -1, "TAKE_FD leaves -1 behind");
	}
	ok(fcntl(kept, F_GETFD) >= 0, "TAKE_FD'd fd survives the scope");
	close(kept);

	char *moved;
	{
		_cleanup_free_ char *s = strdup("x");
		moved = TAKE_PTR(s);
		ok(s == NULL, "TAKE_PTR leaves NULL behind");
	}
	is_str(moved, "x", "TAKE_PTR'd pointer survives the scope");
	free(moved);

	{
		_cleanup_close_ int none = -1;
		_cleanup_free_ char *nothing = NULL;
		_cleanup_fclose_ FILE *nf = NULL;
		_cleanup_munmap_ struct kv_mapping m = KV_MAPPING_EMPTY;
		(void)none;
		(void)nothing;
		(void)nf;
		(void)m;
	}
	ok(1, "destructors accept empty values");

	/* errno survives cleanup so error paths can still report it. */
	{
		_cleanup_close_ int c = open("/dev/null", O_RDONLY | O_CLOEXEC);
		(void)c;
		errno = EXDEV;
	}
	is_int(errno, EXDEV, "errno preserved across _cleanup_close_");

	{
		_cleanup_munmap_ struct kv_mapping m = KV_MAPPING_EMPTY;
		m.len = 4096;
		m.addr =
		    mmap(NULL, m.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ok(m.addr != MAP_FAILED, "mmap");
	}

	pid_t child_seen;
	{
		_cleanup_kill_pid_ pid_t child = fork();
		if (child == 0) {
			pause();
			_exit(0);
		}
		child_seen = child;
	}
	ok(kill(child_seen, 0) < 0 && errno == ESRCH,
	   "_cleanup_kill_pid_ kills and reaps the child");

	char **v = calloc(3, sizeof(char *));
	v[0] = strdup("a");
	v[1] = strdup("b");
	{
		_cleanup_strv_free_ char **sv = v;
		(void)sv;
	}
	ok(1, "strv freed");
	int arr[7];
	is_int(KV_ARRAY_SIZE(arr), 7, "KV_ARRAY_SIZE");
}

static void test_parse(void)
{
	uint64_t v = 0;
	ok(kv_parse_size("128M", &v) == 0 && v == 128ull << 20, "128M");
	ok(kv_parse_size("5G", &v) == 0 && v == 5ull << 30, "5G");
	ok(kv_parse_size("2Gi", &v) == 0 && v == 2ull << 30, "2Gi");
	ok(kv_parse_size("512MiB", &v) == 0 && v == 512ull << 20, "512MiB");
	ok(kv_parse_size("4096", &v) == 0 && v == 4096, "plain bytes");
	is_int(kv_parse_size("12X", &v), -EINVAL, "unknown suffix rejected");
	is_int(kv_parse_size("", &v), -EINVAL, "empty rejected");
	is_int(kv_parse_size("-1G", &v), -EINVAL, "negative rejected");
	is_int(kv_parse_size("99999999999999T", &v), -ERANGE, "overflow rejected");
	ok(kv_parse_u64("0x10", &v) == 0 && v == 16, "hex u64");
	is_int(kv_parse_u64("12a", &v), -EINVAL, "trailing junk rejected");
	is_int(kv_parse_u64(" 1", &v), -EINVAL, "leading space rejected");
	is_int(kv_parse_u64("99999999999999999999999", &v), -ERANGE, "u64 overflow");
}

static void test_log(void)
{
	char path[] = "/tmp/kvirt-log-XXXXXX";
	int fd = mkstemp(path);
	ok(fd >= 0, "temp log file");
	kv_log_init("unit");
	kv_log_set_fd(fd);
	kv_log_set_level(KV_LOG_INFO);
	kv_log_set_format(KV_LOG_TEXT);
	kv_warn("disk %s is slow", "vda");
	kv_debug("not shown at info level");
	kv_log_set_format(KV_LOG_JSON);
	const char *fields[] = { "vmi", "default/t\"1", NULL };
	kv_log_fields(KV_LOG_ERROR, fields, "line\nbreak");
	kv_log_set_fd(STDERR_FILENO);
	_cleanup_free_ char *buf = NULL;
	ok(kv_read_file(path, 1 << 20, &buf, NULL) == 0, "read log back");
	ok(buf && strstr(buf, "unit: warning: disk vda is slow\n"), "text record");
	ok(buf && !strstr(buf, "not shown"), "debug filtered at info level");
	ok(buf && strstr(buf, "\"level\":\"error\",\"component\":\"unit\",\"msg\":\"line\\nbreak\","
			      "\"vmi\":\"default/t\\\"1\"}"),
	   "json record escapes and carries fields");
	close(fd);
	unlink(path);
	enum kv_log_level l;
	ok(kv_log_level_parse("debug", &l) == 0 && l == KV_LOG_DEBUG, "level parse");
	is_int(kv_log_level_parse("loud", &l), -EINVAL, "bad level rejected");
}

int main(void)
{
	test_err();
	test_cleanup();
	test_parse();
	test_log();
	return tap_done();
}
