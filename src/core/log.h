/* log.h -- levelled logging that respects privacy.
 *
 * Every line carries an id (connection or session number, 0 for the
 * server itself). Never pass message bodies, passwords, tokens or SASL
 * data; log a stanza by its top tag only and quote hostile input with
 * log_quote(), which escapes and cuts it to LOG_QUOTE_MAX bytes. The
 * macros check the level before evaluating their arguments. */
#ifndef THEKE_LOG_H
#define THEKE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

#define LOG_QUOTE_MAX 64

extern enum log_level log_min_level;

void log_set_level(enum log_level level);
/* Parses "debug", "info", "warn" or "error"; returns 0 or -ERR_INVAL. */
int log_level_parse(const char *s, enum log_level *out);
void log_write(enum log_level level, unsigned long id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes into out (size outsz, always NUL-terminated) a double-quoted,
 * escaped copy of at most LOG_QUOTE_MAX bytes of s, with "..." appended
 * when cut. Returns out, so it can be used as a printf argument. */
const char *log_quote(char *out, size_t outsz, const char *s, size_t len);
#define LOG_QUOTE_BUFSZ (LOG_QUOTE_MAX * 4 + 8)

#define log_at(lvl, id, ...)                   \
    do {                                       \
        if ((lvl) >= log_min_level)            \
            log_write((lvl), (id), __VA_ARGS__); \
    } while (0)
#define log_debug(id, ...) log_at(LOG_DEBUG, (id), __VA_ARGS__)
#define log_info(id, ...) log_at(LOG_INFO, (id), __VA_ARGS__)
#define log_warn(id, ...) log_at(LOG_WARN, (id), __VA_ARGS__)
#define log_error(id, ...) log_at(LOG_ERROR, (id), __VA_ARGS__)

#endif
