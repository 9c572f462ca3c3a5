/* fuzz_http.c - libFuzzer harness for the API's request core (api/handler.c and every route it
 * dispatches to), without sockets: the input is one request written as text,
 *     METHOD "\n" TARGET "\n" (Header: value "\n")* "\n" BODY
 * (seed corpus: tests/fuzz/corpus/http). The core runs against a real verdict store, with
 * SECRET_KEY "fuzz-secret-key-0123456789" and one bouncer key "fuzz-bouncer-key-0123456789"
 * (seeds use them so authenticated routes are reached), Redis disabled and stub daemon hooks.
 * Checked on every input:
 *   - the reply has a status in 100..599 and a body pointer when it has a length;
 *   - a JSON reply parses, and an error status (>= 400) carries {"error": string, ...};
 *   - 405 comes with an Allow header, 204 with no body;
 *   - when api_precheck answers a request early, api_handle answers it the same way.
 * A violated invariant traps, which libFuzzer reports as a crash; ASan/UBSan/LSan catch memory
 * errors and leaks. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

enum { FUZZ_HEADERS_MAX = 32 };

struct fuzz_headers {
    size_t n;
    const char *name[FUZZ_HEADERS_MAX];
    const char *value[FUZZ_HEADERS_MAX];
};

static const char *fuzz_header(void *cls, const char *name)
{
    const struct fuzz_headers *h = cls;
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->name[i], name) == 0)
            return h->value[i];
    }
    return NULL;
}

static void fuzz_health(void *user, struct api_health *out)
{
    out->capture_ok = true;
    out->model_ok = true;
    snprintf(out->capture_detail, sizeof(out->capture_detail), "fuzz");
}

static size_t fuzz_counters(void *user, struct api_counter *out, size_t max)
{
    if (max < 2)
        return 0;
    out[0] = (struct api_counter){"packets_received_total", "Packets", NULL, NULL, 1, API_COUNTER};
    out[1] = (struct api_counter){"decode_errors_total", "Errors", "kind", "x\"y", 2, API_COUNTER};
    return 2;
}

static struct api_core *fuzz_core(void)
{
    static struct ddosd_config cfg;
    static struct api_core *core;
    if (core)
        return core;
    log_configure(NULL, LOG_LEVEL_ERROR);
    if (config_defaults(&cfg) != 0)
        abort();
    cfg.redis.enabled = false;
    cfg.api.body_limit = 4096;
    cfg.bouncer_keys.items = calloc(1, sizeof(*cfg.bouncer_keys.items));
    cfg.bouncer_keys.items[0].name = strdup("FUZZ_BOUNCER");
    cfg.bouncer_keys.items[0].key = strdup("fuzz-bouncer-key-0123456789");
    cfg.bouncer_keys.n = 1;
    struct verdict_store_decisions dec = {cfg.decisions.levels, cfg.decisions.roles};
    struct verdict_store *store = verdict_store_create(4096, 1024, &dec);
    struct api_options o = {
        .cfg = &cfg,
        .secret_key = "fuzz-secret-key-0123456789",
        .store = store,
        .hooks = {.health = fuzz_health, .counters = fuzz_counters},
    };
    core = store ? api_core_create(&o) : NULL;
    if (core == NULL)
        abort();
    return core; /* lives for the process: the fuzzer never tears down */
}

static void fuzz_check_reply(const struct api_reply *r)
{
    FUZZ_CHECK(r->status >= 100 && r->status <= 599);
    FUZZ_CHECK(r->body_len == 0 || r->body != NULL);
    if (r->status == 405)
        FUZZ_CHECK(r->allow != NULL);
    if (r->status == 204)
        FUZZ_CHECK(r->body_len == 0);
    if (r->content_type && strcmp(r->content_type, "application/json") == 0) {
        json_error_t e;
        json_t *j = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &e);
        FUZZ_CHECK(j != NULL);
        if (r->status >= 400)
            FUZZ_CHECK(json_is_string(json_object_get(j, "error")));
        json_decref(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_core *core = fuzz_core();
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';

    /* Lines: method, target, headers up to an empty line; the rest (NULs included) is the body. */
    char *p = buf, *end = buf + size;
    char *line[2] = {"", ""};
    struct fuzz_headers h = {0};
    const char *body = NULL;
    size_t body_len = 0;
    for (int i = 0; p < end; i++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end;
        *nl = '\0';
        if (i < 2) {
            line[i] = p;
        } else if (*p == '\0') {
            body = nl + 1 <= end ? nl + 1 : end;
            body_len = (size_t)(end - body);
            break;
        } else if (h.n < FUZZ_HEADERS_MAX) {
            char *colon = strchr(p, ':');
            if (colon) {
                *colon = '\0';
                char *v = colon + 1;
                while (*v == ' ')
                    v++;
                h.name[h.n] = p;
                h.value[h.n++] = v;
            }
        }
        p = nl + 1;
    }

    struct api_request req = {
        .method = line[0],
        .uri = line[1],
        .header = fuzz_header,
        .header_cls = &h,
        .body = body_len ? body : NULL,
        .body_len = body_len,
        .peer = "127.0.0.1",
        .peer_loopback = true,
        .now_ms = verdict_store_now_ms(),
    };
    struct api_reply early, full;
    bool answered = api_precheck(core, &req, &early);
    if (answered)
        fuzz_check_reply(&early);
    api_handle(core, &req, &full);
    fuzz_check_reply(&full);
    if (answered)
        FUZZ_CHECK(early.status == full.status);
    api_reply_free(&early);
    api_reply_free(&full);
    free(buf);
    return 0;
}
