/* fuzz_config.c - libFuzzer harness for common/config.c and common/env.c.
 *
 * Input: ".env text" NUL "config.json text"; an input without a NUL is fed whole to both
 * parsers (seed corpus: tests/fuzz/corpus/config). Checked on every input:
 *   - a rejected .env or config comes with a non-empty one-line message;
 *   - a parsed .env table answers for every name it lists, and every name is valid;
 *   - a loaded config passes config_validate() and dumps; when the dump holds neither a masked
 *     secret nor a '$' (which would be expanded again), loading the dump gives the same dump;
 *   - the first line of the .env part, as a CIDR, a Redis URL and an api.listen override, is
 *     either accepted (a CIDR then formats and re-parses to itself) or rejected with a message
 *     and no change to the configuration.
 * A violated invariant traps, which libFuzzer reports as a crash; ASan/LSan catch memory errors
 * and leaks on every path, including the failures. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static void fuzz_config_check_message(const char *err)
{
    FUZZ_CHECK(err[0] != '\0');
    FUZZ_CHECK(strchr(err, '\n') == NULL);
}

static struct env_file *fuzz_config_env(const char *text, size_t len)
{
    char err[512] = "";
    struct env_file *env = NULL;
    if (env_file_parse(text, len, "fuzz.env", &env, err, sizeof(err)) != 0) {
        FUZZ_CHECK(env == NULL);
        fuzz_config_check_message(err);
        return NULL;
    }
    for (size_t i = 0; i < env_file_count(env); i++) {
        const char *name = env_file_name(env, i);
        FUZZ_CHECK(env_name_valid(name, strlen(name)));
        FUZZ_CHECK(env_file_get(env, name) == env_file_value(env, i));
    }
    return env;
}

static char *fuzz_config_dump(const struct ddosd_config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(config_dump(c, f) == 0);
    fclose(f);
    return buf;
}

static void fuzz_config_round_trip(const struct ddosd_config *c, const char *env_text,
                                   size_t env_len)
{
    char err[512] = "";
    char *first = fuzz_config_dump(c);
    if (strstr(first, "***") == NULL && strchr(first, '$') == NULL) {
        struct ddosd_config again;
        FUZZ_CHECK(config_defaults(&again) == 0);
        config_set_env(&again, fuzz_config_env(env_text, env_len));
        FUZZ_CHECK(config_load_buffer(first, strlen(first), "dump", &again, err, sizeof(err)) == 0);
        char *second = fuzz_config_dump(&again);
        FUZZ_CHECK(strcmp(first, second) == 0);
        free(second);
        config_free(&again);
    }
    free(first);
}

/* Feeds one line of text to the small parsers that flags and list items go through. */
static void fuzz_config_line(struct ddosd_config *c, const char *line)
{
    char err[512] = "", buf[64];
    struct cidr cidr, back;
    if (cidr_parse(line, CIDR_STRICT, &cidr, err, sizeof(err)) == 0) {
        cidr_format(&cidr, buf, sizeof(buf));
        FUZZ_CHECK(cidr_parse(buf, CIDR_STRICT, &back, err, sizeof(err)) == 0);
        FUZZ_CHECK(memcmp(&cidr, &back, sizeof(cidr)) == 0);
        FUZZ_CHECK(cidr_contains(&cidr, cidr.version, cidr.addr));
    } else {
        fuzz_config_check_message(err);
    }

    bool enabled = c->redis.enabled;
    const char *host = c->redis.host;
    int port = c->redis.port;
    err[0] = '\0';
    if (config_apply_redis_url(c, line, err, sizeof(err)) != 0) {
        fuzz_config_check_message(err);
        FUZZ_CHECK(c->redis.enabled == enabled && c->redis.host == host && c->redis.port == port);
    } else {
        FUZZ_CHECK(c->redis.host != NULL && c->redis.password != NULL);
        FUZZ_CHECK(c->redis.port >= 1 && c->redis.port <= 65535 && c->redis.db >= 0);
    }

    err[0] = '\0';
    if (config_set(c, "--api", "api.listen", line, err, sizeof(err)) != 0) {
        fuzz_config_check_message(err);
    } else {
        FUZZ_CHECK(c->api.listen.host != NULL);
        FUZZ_CHECK(!c->api.listen.enabled ||
                   (c->api.listen.port >= 1 && c->api.listen.port <= 65535));
    }
    free(fuzz_config_dump(c)); /* a config that failed half-way must still dump */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t env_len = nul ? (size_t)(nul - text) : size;
    const char *json = nul ? nul + 1 : text;
    size_t json_len = nul ? size - env_len - 1 : size;

    struct ddosd_config c;
    FUZZ_CHECK(config_defaults(&c) == 0);
    config_set_env(&c, fuzz_config_env(text, env_len));

    char err[512] = "";
    if (config_load_buffer(json, json_len, "fuzz.json", &c, err, sizeof(err)) == 0) {
        /* A loaded config can still be refused by the checks that need the whole picture (a
         * weak SECRET_KEY with the API on: env.example's change-me is in the corpus); the
         * refusal must say why, as any other. */
        if (config_validate(&c, err, sizeof(err)) == 0)
            fuzz_config_round_trip(&c, text, env_len);
        else
            fuzz_config_check_message(err);
    } else {
        fuzz_config_check_message(err);
    }

    char line[512];
    const char *eol = memchr(text, '\n', env_len);
    size_t n = eol ? (size_t)(eol - text) : env_len;
    n = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
    memcpy(line, text, n);
    line[n] = '\0';
    fuzz_config_line(&c, line);

    config_free(&c);
    return 0;
}
