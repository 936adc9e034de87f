/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging.  One line per record on stderr (or a configured fd).  Two formats:
 * "text" for humans ("kvirt-vmm: warning: ...") and "json" for daemons
 * ({"ts":"...","level":"warning","component":"kvirt-vmm","msg":"...", ...}),
 * chosen with kv_log_init() or the KVIRT_LOG_FORMAT environment variable.
 * The level comes from KVIRT_LOG_LEVEL (error|warning|info|debug) or
 * kv_log_init().  Logging never fails the caller.
 */
#ifndef KVIRT_LOG_H
#define KVIRT_LOG_H

#include <stdbool.h>

enum kv_log_level {
	KV_LOG_ERROR = 0,
	KV_LOG_WARNING = 1,
	KV_LOG_INFO = 2,
	KV_LOG_DEBUG = 3,
};

enum kv_log_format {
	KV_LOG_TEXT = 0,
	KV_LOG_JSON = 1,
};

/* Component name used in every record; reads KVIRT_LOG_LEVEL / KVIRT_LOG_FORMAT. */
void kv_log_init(const char *component);
void kv_log_set_level(enum kv_log_level level);
void kv_log_set_format(enum kv_log_format format);
void kv_log_set_fd(int fd);
enum kv_log_level kv_log_get_level(void);
bool kv_log_enabled(enum kv_log_level level);
/* Parse "error", "warning", "info", "debug"; returns -EINVAL otherwise. */
int kv_log_level_parse(const char *s, enum kv_log_level *out);

/*
 * Log a record.  `fields` is optional extra structured context: a
 * NULL-terminated list of "key", "value" string pairs, rendered as JSON
 * members or as " key=value" in text mode.
 */
void kv_log_fields(enum kv_log_level level, const char *const *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define kv_log(level, ...) kv_log_fields((level), NULL, __VA_ARGS__)
#define kv_error(...)	   kv_log(KV_LOG_ERROR, __VA_ARGS__)
#define kv_warn(...)	   kv_log(KV_LOG_WARNING, __VA_ARGS__)
#define kv_info(...)	   kv_log(KV_LOG_INFO, __VA_ARGS__)
#define kv_debug(...)                                      \
	do {                                               \
		if (kv_log_enabled(KV_LOG_DEBUG))          \
			kv_log(KV_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
