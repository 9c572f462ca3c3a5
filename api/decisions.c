/* decisions.c - the bouncer side of CrowdSec's Local API: GET /v1/decisions (live mode),
 * GET /v1/decisions/stream (stream mode) and POST /v1/usage-metrics (accepted, dropped), so
 * that stock bouncers (crowdsec-custom-bouncer, the nginx/firewall bouncers) enforce ddosd's
 * decisions with api_url pointing at ddosd.
 *
 * Threads: any API thread. The per-key stream cursors live in struct api_core under
 * cursor_lock, held for the whole stream call (bouncers poll every few seconds; contention is
 * nil).
 *
 * DESIGN: a decision is a store entry whose level is one of decisions.levels. It is rendered as
 * LAPI's models.Decision: id = the decision's version (the store's decision_seq), origin "ddosd",
 * type "ban", scope "Ip", value = the address, duration = Go duration until expiry, until = RFC
 * 3339, scenario = "ddosd/<attack_type>", simulated false. Deleted decisions (tombstones) carry the
 * same fields with duration "0s" (go-cs-bouncer parses every duration, so it must be valid), and
 * scenario "ddosd/deleted" (the store keeps no attack type for them). An empty list is the JSON
 * literal null, as the LAPI answers. The stream cursor is per key, so several bouncers (each with
 * its own key from bouncer_keys) each see every change once; startup=true restarts a key from a
 * full listing.
 *
 * Extensions and other changes to a decision a bouncer already holds are sent the way the LAPI
 * sends a decision that replaces another: the old one in "deleted" (id: the version it
 * replaces, duration "0s") and the new one in "new" (id: its own new version), in the same
 * response. A new version is an expiry moved by more than VERDICT_STORE_EXTEND_SLACK_MS or
 * another attack type (verdict_store.h); a verdict republished with a new score is not one. A
 * bouncer applies "deleted" before "new": cs-firewall-bouncer removes the set element, then adds it
 * again with the new timeout, whereas a bare re-send in "new" is skipped
 * ("already in set") and the firewall keeps the first timeout, dropping the ban while ddosd's
 * decision still stands. A decision is a replacement for a key when it was already a decision
 * at the key's cursor (entry.decision_since <= since); a first decision goes in "new" alone. */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/timefmt.h"

enum { DECISIONS_LIST_MAX = 1000000 };

struct dec_filter {
    bool none; /* the bouncer asked for scopes/origins/types ddosd never produces */
    const char *containing;
    const char *not_containing;
};

/* True when the comma-separated list holds word (case-insensitive, spaces trimmed). */
static bool csv_has(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t t = n;
        while (t && p[t - 1] == ' ')
            t--;
        if (t == wl && strncasecmp(p, word, wl) == 0)
            return true;
        p += n;
    }
    return false;
}

/* True when scenario contains any item of the comma-separated list. */
static bool csv_any_substring(const char *list, const char *scenario)
{
    char item[128];
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        if (n > 0 && n < sizeof(item)) {
            memcpy(item, p, n);
            item[n] = '\0';
            if (strstr(scenario, item))
                return true;
        }
        p += n;
    }
    return false;
}

static void filter_parse(const struct api_query *q, struct dec_filter *f)
{
    memset(f, 0, sizeof(*f));
    const char *scopes = api_query_get(q, "scopes");
    const char *scope = api_query_get(q, "scope");
    const char *origins = api_query_get(q, "origins");
    const char *type = api_query_get(q, "type");
    if (scopes && *scopes && !csv_has(scopes, "ip"))
        f->none = true;
    if (scope && *scope && strcasecmp(scope, "ip") != 0)
        f->none = true;
    if (origins && *origins && !csv_has(origins, "ddosd"))
        f->none = true;
    if (type && *type && strcasecmp(type, "ban") != 0)
        f->none = true;
    f->containing = api_query_get(q, "scenarios_containing");
    f->not_containing = api_query_get(q, "scenarios_not_containing");
}

static bool filter_pass(const struct dec_filter *f, const char *scenario)
{
    if (f->none)
        return false;
    if (f->containing && *f->containing && !csv_any_substring(f->containing, scenario))
        return false;
    if (f->not_containing && *f->not_containing && csv_any_substring(f->not_containing, scenario))
        return false;
    return true;
}

static void scenario_of(const struct verdict *v, char *buf, size_t len)
{
    char type[VERDICT_ATTACK_TYPE_MAX];
    snprintf(type, sizeof(type), "%s", v->attack_type);
    snprintf(buf, len, "ddosd/%s", type[0] ? type : "unknown");
}

static json_t *decision_json(uint64_t seq, const char *ip, const char *scenario,
                             uint64_t expires_ms, uint64_t now_ms, bool deleted)
{
    char duration[48], until[40];
    api_go_duration(deleted || expires_ms <= now_ms ? 0 : expires_ms - now_ms, duration,
                    sizeof(duration));
    dd_time_iso8601(until, sizeof(until), (deleted ? now_ms : expires_ms) / 1000u, 0, 0);
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", (json_int_t)seq,
                          "origin", "ddosd", "type", "ban", "scope", "Ip", "value", ip, "duration",
                          duration, "until", until, "scenario", scenario, "simulated", 0);
    if (o == NULL) /* scenario from a peer's attack type that is not UTF-8 */
        o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", (json_int_t)seq,
                      "origin", "ddosd", "type", "ban", "scope", "Ip", "value", ip, "duration",
                      duration, "until", until, "scenario", "ddosd/unknown", "simulated", 0);
    return o;
}

/* Appends the decisions of entries to arr that pass f. */
static void add_entries(json_t *arr, const struct verdict_store_entry *e, size_t n,
                        const struct dec_filter *f, uint64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        char ip[VERDICT_IP_TEXT_MAX], scenario[VERDICT_ATTACK_TYPE_MAX + 8];
        scenario_of(&e[i].v, scenario, sizeof(scenario));
        if (!filter_pass(f, scenario))
            continue;
        verdict_ip_format(&e[i].v, ip);
        json_array_append_new(
            arr, decision_json(e[i].decision_seq, ip, scenario, e[i].expires_ms, now_ms, false));
    }
}

/* The body for a list: the array, or the literal null when it is empty. */
static json_t *array_or_null(json_t *arr)
{
    if (arr && json_array_size(arr) > 0)
        return arr;
    json_decref(arr);
    return json_null();
}

void api_route_decisions(struct api_core *c, const struct api_request *in,
                         const struct api_query *q, struct api_reply *out)
{
    if (api_authenticate(c, in, true, out) < 0)
        return;
    struct dec_filter f;
    filter_parse(q, &f);
    const char *ip = api_query_get(q, "ip");
    if (ip == NULL || *ip == '\0')
        ip = api_query_get(q, "value");
    json_t *arr = json_array();
    if (ip && *ip) {
        struct verdict key;
        char text[VERDICT_IP_TEXT_MAX];
        if (api_ip_parse(ip, &key, text) != 0) {
            json_decref(arr);
            api_reply_error(out, 400, "bad_request", "ip is not an IPv4 or IPv6 address: '%.64s'",
                            ip);
            return;
        }
        struct verdict_store_entry e;
        if (verdict_store_get(c->store, key.ip, key.ip_version, in->now_ms, &e) &&
            verdict_store_verdict_is_decision(c->store, &e.v))
            add_entries(arr, &e, 1, &f, in->now_ms);
    } else if (!f.none) {
        /* No address: every decision, as the LAPI lists them all. */
        struct verdict_store_entry *list = NULL;
        long n = verdict_store_list(c->store, THREAT_LOW, DECISIONS_LIST_MAX, in->now_ms, &list);
        if (n < 0) {
            json_decref(arr);
            api_reply_error(out, 503, "unavailable", "out of memory listing decisions");
            return;
        }
        for (long i = 0; i < n; i++) {
            if (verdict_store_verdict_is_decision(c->store, &list[i].v))
                add_entries(arr, &list[i], 1, &f, in->now_ms);
        }
        free(list);
    }
    api_reply_json(out, 200, array_or_null(arr));
}

void api_route_stream(struct api_core *c, const struct api_request *in, const struct api_query *q,
                      struct api_reply *out)
{
    api_key_id key = api_authenticate(c, in, true, out);
    if (key < 0)
        return;
    const char *startup = api_query_get(q, "startup");
    bool start = false;
    if (startup && *startup) {
        if (strcasecmp(startup, "true") == 0 || strcmp(startup, "1") == 0) {
            start = true;
        } else if (strcasecmp(startup, "false") != 0 && strcmp(startup, "0") != 0) {
            api_reply_error(out, 400, "bad_request", "startup must be true or false");
            return;
        }
    }
    struct dec_filter f;
    filter_parse(q, &f);

    struct verdict_store_entry *added = NULL;
    struct verdict_store_tombstone *deleted = NULL;
    size_t nadded = 0, ndeleted = 0;
    uint64_t next = 0;
    bool complete = true;
    pthread_mutex_lock(&c->cursor_lock);
    uint64_t since = start ? 0 : c->cursors[key];
    int rc = verdict_store_changes(c->store, since, in->now_ms, &added, &nadded, &deleted,
                                   &ndeleted, &next, &complete);
    if (rc == 0)
        c->cursors[key] = next;
    pthread_mutex_unlock(&c->cursor_lock);
    if (rc != 0) {
        api_reply_error(out, 503, "unavailable", "out of memory reading decisions");
        return;
    }
    if (!complete)
        DD_WARN("api: a bouncer polled too rarely and missed deletions (tombstone ring "
                "overrun); restart it with startup=true to resynchronise");

    json_t *anew = json_array(), *adel = json_array();
    if (anew)
        add_entries(anew, added, nadded, &f, in->now_ms);
    /* Replacements (see DESIGN): the version the bouncer holds is deleted in the same answer. */
    for (size_t i = 0; adel && !start && since != 0 && i < nadded; i++) {
        const struct verdict_store_entry *e = &added[i];
        char ip[VERDICT_IP_TEXT_MAX], scenario[VERDICT_ATTACK_TYPE_MAX + 8];
        if (e->decision_since == 0 || e->decision_since > since)
            continue;
        scenario_of(&e->v, scenario, sizeof(scenario));
        if (!filter_pass(&f, scenario))
            continue; /* the new version is not sent: the bouncer keeps what it has */
        verdict_ip_format(&e->v, ip);
        json_array_append_new(adel,
                              decision_json(e->decision_prev, ip, scenario, 0, in->now_ms, true));
    }
    /* A startup listing has nothing to delete: the bouncer starts from an empty set. Deletions
     * skip the scenario filters (the tombstone has no scenario; deleting a ban a bouncer never
     * added is harmless, keeping one it did add is not). */
    for (size_t i = 0; adel && !start && !f.none && i < ndeleted; i++) {
        struct verdict tmp;
        char ip[VERDICT_IP_TEXT_MAX];
        memset(&tmp, 0, sizeof(tmp));
        memcpy(tmp.ip, deleted[i].ip, sizeof(tmp.ip));
        tmp.ip_version = deleted[i].ip_version;
        verdict_ip_format(&tmp, ip);
        json_array_append_new(
            adel, decision_json(deleted[i].seq, ip, "ddosd/deleted", 0, in->now_ms, true));
    }
    free(added);
    free(deleted);
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "new", array_or_null(anew));
        json_object_set_new(o, "deleted", array_or_null(adel));
    } else {
        json_decref(anew);
        json_decref(adel);
    }
    api_reply_json(out, 200, o);
}

void api_route_usage_metrics(struct api_core *c, const struct api_request *in,
                             const struct api_query *q, struct api_reply *out)
{
    /* Authenticated in handler.c; the body is not kept. */
    api_reply_json(out, 201, json_object());
}
