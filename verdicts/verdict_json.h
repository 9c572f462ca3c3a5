/* verdict_json.h - the one JSON wire format of a verdict, and the small JSON writer behind it.
 *
 * Every output that shows a verdict as JSON writes it here: the API's /api/threat-analysis and
 * /api/verdicts (verdict_json_api), --verdicts-out (verdict_json_line) and the notify hook's event
 * (verdict_json_event). The three documents share one writer per field, so a field reads the
 * same everywhere; they differ only where their readers need it (listed below, and in
 * docs/api.md: "Conventions", the endpoints, "Verdicts file" and "Notify event").
 *
 * The rules every document follows:
 *   - strings are escaped per RFC 8259 exactly as jansson's json_dumps escapes them (\" \\ \b \f
 *     \n \r \t, other control characters as \u00XX, '/' and non-ASCII UTF-8 as they are);
 *   - a fixed-size string field (attack_type, sensor, model_version) is read up to its first NUL
 *     and never past its size - 1 bytes (what snprintf("%s") into an array of the same size
 *     copies), so an unterminated field cannot run into the next one;
 *   - a string that is not valid UTF-8 (a peer's bytes; overlong forms, surrogates and code points
 *     above U+10FFFF included) is null, never half-written, and the document stays valid;
 *   - reals are printed as jansson prints them at the document's precision ("%.10g" or "%.17g",
 *     ".0" added to integral values, exponents without '+' or leading zeros); a NaN or infinity
 *     is null;
 *   - reasons are the names of the set bits in bit order (verdict_reason_name), unknown bits
 *     skipped; spoofed_examples lists the used slots in slot order.
 *
 * Writing never allocates: documents go into a caller's buffer (struct jbuf), bounded by its
 * capacity. Pure functions; any thread. */
#ifndef DD_VERDICTS_VERDICT_JSON_H
#define DD_VERDICTS_VERDICT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verdicts/verdict.h"

/* Fits any single verdict document below (every string escaped at 6 bytes per byte, four IPv6
 * examples, every reason, 17-digit reals) with up to 64 bytes of API sensor id; the notify
 * event adds VERDICT_JSON_PEER_MAX per peer. */
#define VERDICT_JSON_MAX      2304u
#define VERDICT_JSON_PEER_MAX 192u
/* What "sensor_views" adds at most: per view its id escaped at 6 bytes per byte (63 * 6), the
 * member names, a level name, two 17-digit reals and a time (192); eight views and the brackets. */
#define VERDICT_JSON_VIEW_MAX  576u
#define VERDICT_JSON_VIEWS_MAX (VERDICT_VIEWS_MAX * VERDICT_JSON_VIEW_MAX + 32u)

/* ---- the JSON writer ---------------------------------------------------------------------- */

/* A JSON text being written into caller memory: p holds len of cap bytes (no NUL is kept).
 * A write that does not fit sets overflow and is dropped, as is everything after it, so a
 * writer checks once at the end. */
struct jbuf {
    char *p;
    size_t len, cap;
    bool overflow;
};

/* Appends n bytes as they are. */
void jbuf_raw(struct jbuf *b, const char *s, size_t n);
/* Appends s (n bytes) as a JSON string (the escaping above). Returns false, having written
 * nothing, when s is not valid UTF-8. */
bool jbuf_str(struct jbuf *b, const char *s, size_t n);
/* jbuf_str, or null when s is NULL or not valid UTF-8. */
void jbuf_str_or_null(struct jbuf *b, const char *s, size_t n);
/* Appends an integer as jansson prints a json_int_t. */
void jbuf_int(struct jbuf *b, long long v);
/* Appends a real as jansson prints it at JSON_REAL_PRECISION(digits) (0 means jansson's
 * default, 17); null for NaN and infinities. */
void jbuf_real(struct jbuf *b, double v, unsigned digits);
/* Appends "name": preceded by a comma unless the text so far ends with '{' (the first member).
 * name is written as it is: pass a plain ASCII literal. */
void jbuf_key(struct jbuf *b, const char *name);

/* ---- verdict fields --------------------------------------------------------------------- */

/* Appends the reasons array: ["model","rate_syn"] ([] for none). */
void verdict_json_reasons(struct jbuf *b, uint32_t reasons);
/* Appends the spoofed_examples array: the used example slots' addresses, in slot order. */
void verdict_json_examples(struct jbuf *b, const struct verdict *v);
/* Appends the time us (microseconds since the epoch) as an ISO 8601 UTC string with digits
 * fraction digits (common/timefmt.h), or "" when us is 0 and zero_empty is set. */
void verdict_json_time(struct jbuf *b, uint64_t us, unsigned digits, bool zero_empty);

/* ---- the documents ------------------------------------------------------------------------ */

/* The API's verdict object (/api/threat-analysis, each element of /api/verdicts), docs/api.md:
 *   {"ip","threat_level","known":true,"score","role","attack_type","reasons","first_seen",
 *    "last_seen","flows_total","flows_attack","pps","bps","spoofed_sources","spoofed_examples",
 *    "sensor","model_version","decision","expires"}
 * ip is the caller's text for the address (the query's canonical form). Reals at precision 10;
 * first_seen/last_seen with milliseconds; expires (expires_ms) in whole seconds (RFC 3339); an
 * empty attack_type, sensor or model_version is null. v NULL writes an address without a
 * verdict: the same members with "known":false, "threat_level":"low", zeros, [] and nulls, and
 * "sensor": unknown_sensor. Returns false when b overflowed. */
bool verdict_json_api(struct jbuf *b, const char *ip, const struct verdict *v, bool decision,
                      uint64_t expires_ms, const char *unknown_sensor);

/* verdict_json_api, and when views holds any (the verdict came from Redis: docs/api.md), a
 * "sensor_views" member after "sensor": [{"sensor","threat_level","score","pps","last_seen"}...],
 * one per view in views' order, last_seen with milliseconds (null when 0). views NULL or empty
 * writes exactly verdict_json_api's document. Needs VERDICT_JSON_VIEWS_MAX more room. */
bool verdict_json_api_views(struct jbuf *b, const char *ip, const struct verdict *v, bool decision,
                            uint64_t expires_ms, const char *unknown_sensor,
                            const struct verdict_views *views);

/* One --verdicts-out line, without its newline (docs/api.md "Verdicts file"):
 *   {"ip","role","threat_level","score","attack_type","reasons","flows_total","flows_attack",
 *    "pps","bps","spoofed_sources","spoofed_examples","first_seen","last_seen","first_seen_us",
 *    "last_seen_us","sensor","model_version","peak_level"[,"first_medium_us"][,"first_high_us"]
 *    [,"first_critical_us"]}
 * Reals at precision 17 (jansson's default); first_seen/last_seen with microseconds, "" when 0;
 * empty strings stay "". peak_level names peak_level; first_at[l] (l 1..3) is when the address
 * first reached level l (0: never, member left out); first_at may be NULL. Returns false when b
 * overflowed. */
bool verdict_json_line(struct jbuf *b, const struct verdict *v, unsigned peak_level,
                       const uint64_t first_at[4]);

/* The notify hook's event (verdicts/notify.h, docs/api.md "Notify event"):
 *   {"event","ip","role","threat_level","score","attack_type","reasons","pps","bps",
 *    "spoofed_sources","spoofed_examples","start","peak_pps","peak_bps",
 *    "top_peers":[{"ip","role","threat_level","score","pps","bps"}...],"sensor"}
 * Reals at precision 10; start is first_seen with microseconds; empty strings stay "";
 * peak_pps/peak_bps are v's pps/bps. Returns false when b overflowed. */
bool verdict_json_event(struct jbuf *b, const char *kind, const struct verdict *v,
                        const struct verdict *peers, size_t npeers);

#endif
