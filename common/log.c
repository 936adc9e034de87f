/* SPDX-License-Identifier: Apache-2.0 */
#include "kvirt/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static const char *log_component = "kvirt";
static enum kv_log_level log_level = KV_LOG_INFO;
static enum kv_log_format log_format = KV_LOG_TEXT;
static int log_fd = STDERR_FILENO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int kv_log_level_parse(const char *s, enum kv_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (s && !strcmp(s, level_names[i])) {
			*out = (enum kv_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void kv_log_init(const char *component)
{
	if (component)
		log_component = component;
	enum kv_log_level l;
	if (kv_log_level_parse(getenv("KVIRT_LOG_LEVEL"), &l) == 0)
		log_level = l;
	const char *f = getenv("KVIRT_LOG_FORMAT");
	if (f && !strcmp(f, "json"))
		log_format = KV_LOG_JSON;
	else if (f && !strcmp(f, "text"))
		log_format = KV_LOG_TEXT;
}

void kv_log_set_level(enum kv_log_level level)
{
	log_level = level;
}

void kv_log_set_format(enum kv_log_format format)
{
	log_format = format;
}

void kv_log_set_fd(int fd)
{
	log_fd = fd;
}

enum kv_log_level kv_log_get_level(void)
{
	return log_level;
}

bool kv_log_enabled(enum kv_log_level level)
{
	return level <= log_level;
}

/* Append `s` JSON-escaped to the stream. */
static void json_escape(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
}

void kv_log_fields(enum kv_log_level level, const char *const *fields, const char *fmt, ...)
{
	if (!kv_log_enabled(level))
		return;
	int saved = errno;
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		errno = saved;
		return;
	}
	/* Build the whole record in memory, then emit it with one write() so
	 * records from several threads never interleave. */
	char *line = NULL;
	size_t line_len = 0;
	FILE *out = open_memstream(&line, &line_len);
	if (!out) {
		free(msg);
		errno = saved;
		return;
	}
	if (log_format == KV_LOG_JSON) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		char tbuf[32];
		strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(out, "{\"ts\":\"%s.%06ldZ\",\"level\":\"%s\",\"component\":\"", tbuf,
			ts.tv_nsec / 1000, level_names[level]);
		json_escape(out, log_component);
		fputs("\",\"msg\":\"", out);
		json_escape(out, msg);
		fputc('"', out);
		for (const char *const *f = fields; f && f[0] && f[1]; f += 2) {
			fputs(",\"", out);
			json_escape(out, f[0]);
			fputs("\":\"", out);
			json_escape(out, f[1]);
			fputc('"', out);
		}
		fputs("}\n", out);
	} else {
		if (level == KV_LOG_INFO)
			fprintf(out, "%s: %s", log_component, msg);
		else
			fprintf(out, "%s: %s: %s", log_component, level_names[level], msg);
		for (const char *const *f = fields; f && f[0] && f[1]; f += 2)
			fprintf(out, " %s=%s", f[0], f[1]);
		fputc('\n', out);
	}
	fclose(out);
	if (line) {
		ssize_t w = write(log_fd, line, line_len);
		(void)w;
	}
	free(line);
	free(msg);
	errno = saved;
}
