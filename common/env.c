/* env.c - .env parsing into a private variable table, and the owner-only permission check.
 *
 * Owns struct env_file: two parallel arrays of malloc'd names and values in file order. Lookups
 * are linear: a .env file holds a handful of variables and is read once at start-up.
 *
 * DESIGN: the parser walks the buffer line by line with one cursor and never looks past the end
 * of the current line, so a file without a final newline, a CRLF file and a file cut anywhere all
 * parse (or fail) without reading out of bounds. Nothing here calls setenv(): the daemon's
 * environment stays what the service manager gave it, and env_file_lookup() decides precedence.
 *
 * Calls only libc. Not thread-safe (start-up only). */
#include "common/env.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV_NAME_MAX 255

struct env_file {
    char *path;
    char **names;
    char **values;
    size_t n, cap;
};

DD_PRINTF(3, 4) static int env_fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err != NULL && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

bool env_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > ENV_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
        if (!alpha && !(i > 0 && ch >= '0' && ch <= '9'))
            return false;
    }
    return true;
}

static ssize_t env_file_find(const struct env_file *f, const char *name, size_t len)
{
    for (size_t i = 0; i < f->n; i++)
        if (strlen(f->names[i]) == len && memcmp(f->names[i], name, len) == 0)
            return (ssize_t)i;
    return -1;
}

/* Takes ownership of value (malloc'd). */
static int env_file_set(struct env_file *f, const char *name, size_t name_len, char *value)
{
    ssize_t at = env_file_find(f, name, name_len);
    if (at >= 0) {
        free(f->values[at]);
        f->values[at] = value;
        return 0;
    }
    if (f->n == ENV_FILE_MAX_VARS) {
        free(value);
        return -E2BIG;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        char **names = realloc(f->names, cap * sizeof(*names));
        if (names == NULL)
            goto fail;
        f->names = names;
        char **values = realloc(f->values, cap * sizeof(*values));
        if (values == NULL)
            goto fail;
        f->values = values;
        f->cap = cap;
    }
    char *copy = strndup(name, name_len);
    if (copy == NULL)
        goto fail;
    f->names[f->n] = copy;
    f->values[f->n] = value;
    f->n++;
    return 0;
fail:
    free(value);
    return -ENOMEM;
}

static bool env_is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Decodes the value starting at p (line ends at end). On success returns a malloc'd string and
 * sets *why to NULL; on a syntax error returns NULL with *why set; NULL with *why NULL means
 * out of memory. */
static char *env_value_parse(const char *p, const char *end, const char **why)
{
    *why = NULL;
    char *out = malloc((size_t)(end - p) + 1); /* decoding never lengthens the text */
    if (out == NULL)
        return NULL;
    size_t n = 0;
    if (p < end && (*p == '\'' || *p == '"')) {
        char quote = *p++;
        bool closed = false;
        while (p < end) {
            char ch = *p++;
            if (ch == quote) {
                closed = true;
                break;
            }
            if (quote == '"' && ch == '\\' && p < end) {
                char esc = *p++;
                switch (esc) {
                case 'n':
                    ch = '\n';
                    break;
                case 'r':
                    ch = '\r';
                    break;
                case 't':
                    ch = '\t';
                    break;
                case '\\':
                case '"':
                case '$':
                    ch = esc;
                    break;
                default: /* unknown escapes stay as written, like most dotenv readers */
                    out[n++] = '\\';
                    ch = esc;
                    break;
                }
            }
            out[n++] = ch;
        }
        if (!closed) {
            *why = quote == '"' ? "unterminated double quote (a quoted value must close on its "
                                  "line; write \\n for a newline)"
                                : "unterminated single quote (a quoted value must close on its "
                                  "line)";
            goto fail;
        }
        while (p < end && env_is_blank(*p))
            p++;
        if (p < end && *p != '#') {
            *why = "unexpected text after the closing quote (quote the whole value)";
            goto fail;
        }
    } else {
        /* Unquoted: a # starts a comment only after whitespace, so KEY=a#b keeps its #. */
        const char *stop = p;
        while (stop < end && !(*stop == '#' && env_is_blank(stop[-1]))) /* p[-1] is = or blank */
            stop++;
        while (stop > p && env_is_blank(stop[-1]))
            stop--;
        memcpy(out, p, (size_t)(stop - p));
        n = (size_t)(stop - p);
    }
    out[n] = '\0';
    return out;
fail:
    free(out);
    return NULL;
}

int env_file_parse(const char *text, size_t len, const char *name, struct env_file **out, char *err,
                   size_t err_len)
{
    *out = NULL;
    if (name == NULL)
        name = ".env";
    if (len > ENV_FILE_MAX_BYTES) {
        env_fail(err, err_len, "%s is larger than %u bytes; is it really a .env file?", name,
                 ENV_FILE_MAX_BYTES);
        return -EFBIG;
    }
    if (len > 0 && memchr(text, '\0', len) != NULL)
        return env_fail(err, err_len, "%s contains a NUL byte; a .env file is text", name);
    struct env_file *f = calloc(1, sizeof(*f));
    if (f == NULL || (f->path = strdup(name)) == NULL)
        goto oom;
    const char *p = text, *end = text + len;
    for (unsigned line = 1; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (eol == NULL)
            eol = end;
        if (eol > p && eol[-1] == '\r')
            eol--;
        while (p < eol && env_is_blank(*p))
            p++;
        if (p == eol || *p == '#') {
            p = next;
            continue;
        }
        if (eol - p > 7 && memcmp(p, "export", 6) == 0 && env_is_blank(p[6])) {
            p += 7;
            while (p < eol && env_is_blank(*p))
                p++;
        }
        const char *key = p;
        while (p < eol && *p != '=' && !env_is_blank(*p))
            p++;
        size_t key_len = (size_t)(p - key);
        while (p < eol && env_is_blank(*p))
            p++;
        if (p == eol || *p != '=') {
            env_fail(err, err_len, "%s:%u: expected KEY=VALUE", name, line);
            goto fail;
        }
        if (!env_name_valid(key, key_len)) {
            env_fail(err, err_len,
                     "%s:%u: invalid variable name (use letters, digits and _, not starting "
                     "with a digit)",
                     name, line);
            goto fail;
        }
        p++;
        while (p < eol && env_is_blank(*p))
            p++;
        const char *why;
        char *value = env_value_parse(p, eol, &why);
        if (value == NULL) {
            if (why == NULL)
                goto oom;
            env_fail(err, err_len, "%s:%u: %s", name, line, why);
            goto fail;
        }
        int rc = env_file_set(f, key, key_len, value);
        if (rc == -ENOMEM)
            goto oom;
        if (rc != 0) {
            env_fail(err, err_len, "%s:%u: more than %u variables", name, line, ENV_FILE_MAX_VARS);
            goto fail;
        }
        p = next;
    }
    *out = f;
    return 0;
oom:
    env_file_free(f);
    env_fail(err, err_len, "%s: out of memory", name);
    return -ENOMEM;
fail:
    env_file_free(f);
    return -EINVAL;
}

static int env_mode_check(const char *path, const struct stat *st, char *err, size_t err_len)
{
    if (!S_ISREG(st->st_mode)) {
        env_fail(err, err_len, "%s is not a regular file", path);
        return -EINVAL;
    }
    if ((st->st_mode & 077) != 0) {
        env_fail(err, err_len,
                 "%s holds secrets but group or others may access it (mode %04o); run: chmod "
                 "600 %s",
                 path, (unsigned)(st->st_mode & 07777), path);
        return -EPERM;
    }
    return 0;
}

int env_file_check_permissions(const char *path, char *err, size_t err_len)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        env_fail(err, err_len, "cannot examine %s: %s", path, strerror(e));
        return -e;
    }
    return env_mode_check(path, &st, err, err_len);
}

int env_file_load(const char *path, unsigned flags, struct env_file **out, char *err,
                  size_t err_len)
{
    *out = NULL;
    char *buf = NULL;
    int rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        env_fail(err, err_len, "cannot open %s: %s", path, strerror(-rc));
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        env_fail(err, err_len, "cannot examine %s: %s", path, strerror(-rc));
        goto done;
    }
    if (!S_ISREG(st.st_mode) || (flags & ENV_FILE_PRIVATE)) {
        rc = env_mode_check(path, &st, err, err_len);
        if (rc != 0)
            goto done;
    }
    if (st.st_size > (off_t)ENV_FILE_MAX_BYTES) {
        env_fail(err, err_len, "%s is larger than %u bytes; is it really a .env file?", path,
                 ENV_FILE_MAX_BYTES);
        rc = -EFBIG;
        goto done;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    buf = malloc(cap);
    if (buf == NULL) {
        rc = -ENOMEM;
        env_fail(err, err_len, "%s: out of memory", path);
        goto done;
    }
    for (;;) { /* the size may change under us; read until EOF within cap */
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            env_fail(err, err_len, "cannot read %s: %s", path, strerror(-rc));
            goto done;
        }
        if (got == 0)
            break;
        len += (size_t)got;
        if (len == cap) {
            rc = -EIO;
            env_fail(err, err_len, "%s changed while it was being read", path);
            goto done;
        }
    }
    rc = env_file_parse(buf, len, path, out, err, err_len);
done:
    free(buf);
    close(fd);
    return rc;
}

const char *env_file_get(const struct env_file *f, const char *name)
{
    if (f == NULL)
        return NULL;
    ssize_t at = env_file_find(f, name, strlen(name));
    return at >= 0 ? f->values[at] : NULL;
}

const char *env_file_lookup(const struct env_file *f, const char *name)
{
    const char *v = getenv(name);
    return v != NULL ? v : env_file_get(f, name);
}

size_t env_file_count(const struct env_file *f)
{
    return f ? f->n : 0;
}

const char *env_file_name(const struct env_file *f, size_t i)
{
    return i < env_file_count(f) ? f->names[i] : NULL;
}

const char *env_file_value(const struct env_file *f, size_t i)
{
    return i < env_file_count(f) ? f->values[i] : NULL;
}

const char *env_file_path(const struct env_file *f)
{
    return f && f->path ? f->path : ".env";
}

void env_file_free(struct env_file *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->names[i]);
        free(f->values[i]);
    }
    free(f->names);
    free(f->values);
    free(f->path);
    free(f);
}
