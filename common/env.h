/* env.h - .env files: KEY=VALUE variables kept in a private table, and the permission check
 * that keeps secrets out of other users' reach.
 *
 * The library never calls setenv(): a loaded file is a table consulted through
 * env_file_lookup(), which asks the process environment first, so a variable exported by the
 * shell or the service manager always wins over the file.
 *
 * Syntax (one assignment per line; docs/configuration.md has examples):
 *   # comment                   blank lines and lines starting with # are skipped
 *   KEY=value                   unquoted: surrounding whitespace trimmed, " #..." ends the value
 *   export KEY=value            an optional `export ` prefix (so the file can be sourced)
 *   KEY = value                 whitespace around = is allowed
 *   KEY='literal $ \n'          single quotes: taken literally
 *   KEY="a\nb \"q\""            double quotes: \n \r \t \\ \" \$ escapes; other \x kept as is
 *   KEY=                        an empty value (defined, empty)
 * Names are [A-Za-z_][A-Za-z0-9_]*. A quoted value must close on its line and be followed only
 * by whitespace or a comment. Values are not expanded (${X} inside .env stays literal). When a
 * name repeats, the last assignment wins.
 *
 * Ownership: a table owns copies of every name and value; pointers returned by the getters stay
 * valid until env_file_free(). Not thread-safe; load and query at start-up. */
#ifndef DD_COMMON_ENV_H
#define DD_COMMON_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "common/compiler.h"

/* Limits that keep a hostile or mistaken file from costing much: bytes of the whole file and
 * number of variables. */
#define ENV_FILE_MAX_BYTES (1u << 20)
#define ENV_FILE_MAX_VARS  4096

/* env_file_load flags. */
enum {
    /* Refuse a file that group or others may read or write (mode & 077), checked on the opened
     * descriptor, so there is no window between the check and the read. */
    ENV_FILE_PRIVATE = 1u << 0,
};

struct env_file;

/* Reads and parses the file at path. Returns 0 and a table in *out, or a negative errno and one
 * actionable line in err: -ENOENT (no such file; callers for which the file is optional test
 * for it), -EPERM (ENV_FILE_PRIVATE and the mode lets others in: the message says
 * `chmod 600 PATH`), -EINVAL ("PATH:LINE: ..." syntax errors), -EIO, -EFBIG, -ENOMEM. */
DD_NODISCARD int env_file_load(const char *path, unsigned flags, struct env_file **out, char *err,
                               size_t err_len);

/* Parses len bytes of text (need not be NUL-terminated) as a .env file; name is used in
 * messages. Same results as env_file_load minus the file errors. */
DD_NODISCARD int env_file_parse(const char *text, size_t len, const char *name,
                                struct env_file **out, char *err, size_t err_len);

/* The value the file assigns to name, or NULL. Ignores the process environment. */
const char *env_file_get(const struct env_file *f, const char *name);

/* The value of name: the process environment first, then the file (f may be NULL).
 * NULL when neither defines it. */
const char *env_file_lookup(const struct env_file *f, const char *name);

/* Iteration in file order (a repeated name appears once, at its first position). */
size_t env_file_count(const struct env_file *f);
const char *env_file_name(const struct env_file *f, size_t i);
const char *env_file_value(const struct env_file *f, size_t i);

/* The path or name the table was read from (never NULL). */
const char *env_file_path(const struct env_file *f);

/* Frees the table. Accepts NULL. */
void env_file_free(struct env_file *f);

/* Returns 0 when the file at path is a regular file that neither group nor others may access
 * (mode & 077 == 0); -EPERM with "PATH ... run chmod 600 PATH" when they may; -ENOENT or another
 * negative errno with a message when it cannot be examined. */
DD_NODISCARD int env_file_check_permissions(const char *path, char *err, size_t err_len);

/* True when s is a valid variable name ([A-Za-z_][A-Za-z0-9_]*, 1..255 characters). */
bool env_name_valid(const char *s, size_t len);

#endif
