/* flows_summary.c - counts the rows ddos-flows writes and draws them as one HTML page (see
 * flows_summary.h for what the page shows and the memory bounds).
 *
 * DESIGN: everything lives in one fixed struct allocated by flows_summary_create. Adding a row
 * touches three small structures: a class table per kind (a linear scan of at most 64 names; the
 * last matched name is checked first because consecutive rows mostly share their label), the
 * timeline (an array of FLOWS_SUMMARY_BUCKETS counters over absolute bucket numbers; a row
 * outside the window either slides the window, when the used range and the row fit in it, or
 * doubles the bucket width and merges pairs, so rows may arrive in any time order: ddos-flows
 * writes flows in end order, not start order) and, for a flagged row, two Space-Saving sketches
 * (Metwally et al. 2005), each with a hash index over its entries. Rendering happens once, at the
 * end, with stdio. Bars are CSS widths computed here; the timeline is an inline SVG with a <title>
 * per bar (the browser shows it on hover, no script). */
#include "app/flows_summary.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "features/flow_csv.h"

struct fs_class {
    char name[FLOWS_SUMMARY_NAME_MAX];
    uint64_t rows, flagged;
};

struct fs_classes {
    struct fs_class c[FLOWS_SUMMARY_CLASSES];
    size_t n;
    size_t last;                        /* index matched by the previous row */
    uint64_t other_rows, other_flagged; /* rows whose name did not fit */
    uint64_t rows;                      /* rows that had a name of this kind */
};

/* Space-Saving: count is an upper bound of the address's flagged flows, count - err a lower
 * bound. */
struct fs_addr {
    uint8_t addr[16];
    uint8_t ip_version;
    uint32_t hash;
    uint64_t count, err;
};

enum { TOP_SLOTS = 2 * FLOWS_SUMMARY_TRACKED }; /* a power of two: the index's mask */
_Static_assert((TOP_SLOTS & (TOP_SLOTS - 1)) == 0, "TOP_SLOTS must be a power of two");
_Static_assert(FLOWS_SUMMARY_TRACKED < 65535, "slot holds an entry index + 1 in 16 bits");

struct fs_top {
    uint16_t slot[TOP_SLOTS]; /* open addressing, linear probing: entry index + 1, 0 empty */
    struct fs_addr e[FLOWS_SUMMARY_TRACKED];
    size_t n;
    size_t cursor; /* where the search for a least counted entry resumes */
    uint64_t min;  /* no entry counts less (entries only grow, so this only rises) */
};

struct fs_timeline {
    bool any;
    uint64_t width;  /* seconds per bucket, a power of two */
    uint64_t origin; /* absolute bucket number (seconds / width) of b[0] */
    size_t lo, hi;   /* used buckets, inclusive */
    uint64_t rows[FLOWS_SUMMARY_BUCKETS], flagged[FLOWS_SUMMARY_BUCKETS];
    uint64_t first_us, last_us; /* earliest and latest flow start */
};

struct flows_summary {
    uint64_t rows, flagged;
    struct fs_classes predicted, truth;
    struct fs_timeline tl;
    struct fs_top src, dst;
};

struct flows_summary *flows_summary_create(void)
{
    return calloc(1, sizeof(struct flows_summary));
}

void flows_summary_destroy(struct flows_summary *s)
{
    free(s);
}

uint64_t flows_summary_rows(const struct flows_summary *s)
{
    return s->rows;
}

uint64_t flows_summary_flagged(const struct flows_summary *s)
{
    return s->flagged;
}

uint64_t flows_summary_bucket_seconds(const struct flows_summary *s)
{
    return s->tl.any ? s->tl.width : 1;
}

/* ---- counting ---------------------------------------------------------------------------- */

static void classes_add(struct fs_classes *k, const char *name, bool flagged)
{
    k->rows++;
    struct fs_class *c = NULL;
    if (k->n && strncmp(k->c[k->last].name, name, FLOWS_SUMMARY_NAME_MAX - 1) == 0) {
        c = &k->c[k->last];
    } else {
        for (size_t i = 0; i < k->n; i++)
            if (strncmp(k->c[i].name, name, FLOWS_SUMMARY_NAME_MAX - 1) == 0) {
                c = &k->c[i];
                k->last = i;
                break;
            }
        if (!c && k->n < FLOWS_SUMMARY_CLASSES) {
            k->last = k->n++;
            c = &k->c[k->last];
            /* Names over the limit are cut; strncmp above compares the same prefix. */
            snprintf(c->name, sizeof(c->name), "%s", name);
        }
    }
    if (!c) {
        k->other_rows++;
        k->other_flagged += flagged;
        return;
    }
    c->rows++;
    c->flagged += flagged;
}

/* Moves the used buckets so that absolute bucket new_origin becomes b[0]. The caller made sure
 * the used range fits. */
static void timeline_slide(struct fs_timeline *t, uint64_t new_origin)
{
    size_t n = t->hi - t->lo + 1;
    size_t lo = (size_t)(t->origin + t->lo - new_origin);
    uint64_t rows[FLOWS_SUMMARY_BUCKETS], flagged[FLOWS_SUMMARY_BUCKETS];
    memcpy(rows, t->rows + t->lo, n * sizeof(rows[0]));
    memcpy(flagged, t->flagged + t->lo, n * sizeof(flagged[0]));
    memset(t->rows, 0, sizeof(t->rows));
    memset(t->flagged, 0, sizeof(t->flagged));
    memcpy(t->rows + lo, rows, n * sizeof(rows[0]));
    memcpy(t->flagged + lo, flagged, n * sizeof(flagged[0]));
    t->origin = new_origin;
    t->lo = lo;
    t->hi = lo + n - 1;
}

/* Doubles the bucket width: absolute bucket k becomes k / 2, so pairs merge. */
static void timeline_widen(struct fs_timeline *t)
{
    uint64_t rows[FLOWS_SUMMARY_BUCKETS] = {0}, flagged[FLOWS_SUMMARY_BUCKETS] = {0};
    uint64_t origin = t->origin / 2;
    for (size_t i = t->lo; i <= t->hi; i++) {
        size_t j = (size_t)((t->origin + i) / 2 - origin);
        rows[j] += t->rows[i];
        flagged[j] += t->flagged[i];
    }
    t->lo = (size_t)((t->origin + t->lo) / 2 - origin);
    t->hi = (size_t)((t->origin + t->hi) / 2 - origin);
    t->origin = origin;
    t->width *= 2;
    memcpy(t->rows, rows, sizeof(rows));
    memcpy(t->flagged, flagged, sizeof(flagged));
}

static void timeline_add(struct fs_timeline *t, uint64_t ts_us, bool flagged)
{
    uint64_t sec = ts_us / 1000000;
    if (!t->any) {
        t->any = true;
        t->width = 1;
        t->origin = sec;
        t->lo = t->hi = 0;
        t->first_us = t->last_us = ts_us;
    }
    if (ts_us < t->first_us)
        t->first_us = ts_us;
    if (ts_us > t->last_us)
        t->last_us = ts_us;
    for (;;) {
        uint64_t b = sec / t->width;
        if (b >= t->origin && b - t->origin < FLOWS_SUMMARY_BUCKETS) {
            size_t i = (size_t)(b - t->origin);
            if (i < t->lo)
                t->lo = i;
            if (i > t->hi)
                t->hi = i;
            t->rows[i]++;
            t->flagged[i] += flagged;
            return;
        }
        uint64_t lo = t->origin + t->lo, hi = t->origin + t->hi;
        if (b < lo)
            lo = b;
        if (b > hi)
            hi = b;
        if (hi - lo < FLOWS_SUMMARY_BUCKETS)
            timeline_slide(t, lo);
        else
            timeline_widen(t); /* halves the span: the loop ends */
    }
}

static uint32_t addr_hash(const uint8_t a[16], uint8_t ver)
{
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, a + 8, 8);
    x ^= y * 0x9e3779b97f4a7c15ULL ^ ver;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return (uint32_t)(x ^ (x >> 32));
}

/* The slot of the index that holds entry idx (it is there). */
static size_t top_slot_of(const struct fs_top *t, size_t idx)
{
    size_t i = t->e[idx].hash & (TOP_SLOTS - 1);
    while (t->slot[i] != idx + 1)
        i = (i + 1) & (TOP_SLOTS - 1);
    return i;
}

/* Removes slot p from the index, moving later entries of its probe run back (no tombstones). */
static void top_slot_remove(struct fs_top *t, size_t p)
{
    for (size_t j = (p + 1) & (TOP_SLOTS - 1); t->slot[j]; j = (j + 1) & (TOP_SLOTS - 1)) {
        size_t home = t->e[t->slot[j] - 1].hash & (TOP_SLOTS - 1);
        /* j's entry may move to p when its home is not cyclically in (p, j]. */
        bool stays = p <= j ? (home > p && home <= j) : (home > p || home <= j);
        if (!stays) {
            t->slot[p] = t->slot[j];
            p = j;
        }
    }
    t->slot[p] = 0;
}

/* An entry with the least count: resumes where the last search stopped, so in a flood of
 * one-flow sources (most entries at the minimum) it is found in a step or two. */
static size_t top_least(struct fs_top *t)
{
    for (;;) {
        size_t i = t->cursor;
        for (size_t k = 0; k < t->n; k++, i++) {
            if (i >= t->n)
                i = 0;
            if (t->e[i].count == t->min) {
                t->cursor = i + 1;
                return i;
            }
        }
        uint64_t min = UINT64_MAX; /* none left at the old minimum: it rose */
        for (size_t j = 0; j < t->n; j++)
            if (t->e[j].count < min)
                min = t->e[j].count;
        t->min = min;
    }
}

static void top_add(struct fs_top *t, const uint8_t a[16], uint8_t ver)
{
    uint32_t h = addr_hash(a, ver);
    size_t i = h & (TOP_SLOTS - 1);
    for (; t->slot[i]; i = (i + 1) & (TOP_SLOTS - 1)) {
        struct fs_addr *e = &t->e[t->slot[i] - 1];
        if (e->hash == h && e->ip_version == ver && memcmp(e->addr, a, 16) == 0) {
            e->count++;
            return;
        }
    }
    size_t idx;
    uint64_t err = 0;
    if (t->n < FLOWS_SUMMARY_TRACKED) {
        idx = t->n++;
        t->min = 0; /* a new entry counts 1; min only matters once the table is full */
    } else {
        /* Space-Saving: the new address takes a least counted entry and inherits its count as
         * its possible error. */
        idx = top_least(t);
        err = t->e[idx].count;
        top_slot_remove(t, top_slot_of(t, idx));
        i = h & (TOP_SLOTS - 1); /* the removal may have moved the run: probe again */
        while (t->slot[i])
            i = (i + 1) & (TOP_SLOTS - 1);
    }
    struct fs_addr *e = &t->e[idx];
    memcpy(e->addr, a, 16);
    e->ip_version = ver;
    e->hash = h;
    e->count = err + 1;
    e->err = err;
    t->slot[i] = (uint16_t)(idx + 1);
}

void flows_summary_add(struct flows_summary *s, const struct flow *f, const char *predicted,
                       bool flagged, const char *truth)
{
    flagged = flagged && predicted;
    s->rows++;
    s->flagged += flagged;
    if (predicted)
        classes_add(&s->predicted, predicted, flagged);
    if (truth)
        classes_add(&s->truth, truth, flagged);
    timeline_add(&s->tl, f->first_ts, flagged);
    if (flagged) {
        top_add(&s->src, flow_src_addr(f), f->key.ip_version);
        top_add(&s->dst, flow_dst_addr(f), f->key.ip_version);
    }
}

/* ---- rendering --------------------------------------------------------------------------- */

int flows_summary_put_escaped(FILE *out, const char *s)
{
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && rc >= 0; p++) {
        switch (*p) {
        case '&':
            rc = fputs("&amp;", out);
            break;
        case '<':
            rc = fputs("&lt;", out);
            break;
        case '>':
            rc = fputs("&gt;", out);
            break;
        case '"':
            rc = fputs("&quot;", out);
            break;
        case '\'':
            rc = fputs("&#39;", out);
            break;
        default:
            /* Control bytes would be invalid or misleading in HTML text. */
            if (*p < 0x20 || *p == 0x7f)
                rc = fputs("&#xfffd;", out);
            else
                rc = fputc(*p, out) == EOF ? EOF : 0;
        }
    }
    return rc;
}

/* A count with thousands separators, for people (the data-* attributes carry the plain number). */
static void put_count(FILE *out, uint64_t v)
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, v);
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            fputc(',', out);
        fputc(digits[i], out);
    }
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void put_utc(FILE *out, uint64_t ts_us)
{
    time_t t = (time_t)(ts_us / 1000000);
    struct tm tm;
    char buf[40];
    if (gmtime_r(&t, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm))
        fprintf(out, "%s UTC", buf);
    else
        fprintf(out, "%" PRIu64 " s", ts_us / 1000000);
}

static const char PAGE_HEAD[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    /* No script, no fetch: only the inline styles below and inline SVG. */
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>ddos-flows summary</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1040px;color:#222;"
    "padding:0 1em}\n"
    "h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.6em 0 .4em;"
    "border-bottom:1px solid #ddd}\n"
    "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;vertical-align:top}\n"
    "th{font-weight:600;color:#555}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    "\n.meta td:first-child{color:#555}.bad{color:#c0262d;font-weight:600}\n"
    ".bar{width:420px;height:14px;background:#eef0f3;display:flex;margin-top:3px}\n"
    ".bar div{height:100%}.fl{background:#d9363e}.ok{background:#5b9bd5}\n"
    ".key span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}\n"
    ".tops{display:flex;gap:3em;flex-wrap:wrap}.note{color:#666;font-size:.9em}\n"
    "code{font-size:.95em}\n"
    "</style>\n</head>\n<body>\n";

static void put_meta(FILE *out, const struct flows_summary_info *info)
{
    fputs("<h1>ddos-flows summary</h1>\n<table class=\"meta\">\n", out);
    if (info->ninputs) {
        fprintf(out, "<tr><td>%s</td><td id=\"inputs\">", info->ninputs > 1 ? "inputs" : "input");
        size_t shown = info->ninputs < 20 ? info->ninputs : 20;
        for (size_t i = 0; i < shown; i++) {
            fputs(i ? "<br><code>" : "<code>", out);
            flows_summary_put_escaped(out, info->inputs[i]);
            fputs("</code>", out);
        }
        if (shown < info->ninputs)
            fprintf(out, "<br>and %zu more", info->ninputs - shown);
        fputs("</td></tr>\n", out);
    }
    fputs("<tr><td>CSV</td><td><code>", out);
    flows_summary_put_escaped(out, info->csv ? info->csv : "(standard output)");
    fputs("</code></td></tr>\n", out);
    if (info->mode) {
        fputs("<tr><td>feature mode</td><td>", out);
        flows_summary_put_escaped(out, info->mode);
        fputs("</td></tr>\n", out);
    }
    fputs("<tr><td>model</td><td>", out);
    if (info->model) {
        fputs("<code>", out);
        flows_summary_put_escaped(out, info->model);
        fputs("</code>", out);
        if (info->model_about) {
            fputs("<br><span class=\"note\">", out);
            flows_summary_put_escaped(out, info->model_about);
            fputs("</span>", out);
        }
    } else {
        fputs("none (no <code>--model</code>: no flow was scored, none is flagged)", out);
    }
    fputs("</td></tr>\n", out);
    if (info->program) {
        fputs("<tr><td>written by</td><td>", out);
        flows_summary_put_escaped(out, info->program);
        fprintf(out, " in %.2f s</td></tr>\n", info->elapsed_s);
    }
    fputs("</table>\n", out);
}

static void put_totals(FILE *out, const struct flows_summary *s,
                       const struct flows_summary_info *info)
{
    fputs("<h2>Totals</h2>\n<table>\n", out);
    for (size_t i = 0; i < info->nfacts; i++) {
        const struct flows_summary_fact *f = &info->facts[i];
        fputs("<tr><td>", out);
        flows_summary_put_escaped(out, f->label);
        fputs("</td><td class=\"n", out);
        if (f->problem && f->value)
            fputs(" bad", out);
        fputs("\" id=\"fact-", out);
        flows_summary_put_escaped(out, f->key);
        fprintf(out, "\" data-value=\"%" PRIu64 "\">", f->value);
        put_count(out, f->value);
        fputs("</td></tr>\n", out);
    }
    fprintf(out,
            "<tr><td>rows written (CSV)</td><td class=\"n\" id=\"rows\" data-value=\"%" PRIu64
            "\">",
            s->rows);
    put_count(out, s->rows);
    fputs("</td></tr>\n", out);
    if (info->model) {
        fprintf(out,
                "<tr><td>rows flagged as attacks</td><td class=\"n\" id=\"flagged\" "
                "data-value=\"%" PRIu64 "\">",
                s->flagged);
        put_count(out, s->flagged);
        fprintf(out, " (%.1f %%)</td></tr>\n", pct(s->flagged, s->rows));
    }
    if (s->tl.any) {
        fputs("<tr><td>first flow started</td><td class=\"n\">", out);
        put_utc(out, s->tl.first_us);
        fputs("</td></tr>\n<tr><td>last flow started</td><td class=\"n\">", out);
        put_utc(out, s->tl.last_us);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void put_classes(FILE *out, const struct fs_classes *k, const char *title, const char *id,
                        const char *note, bool model)
{
    fprintf(out, "<h2>%s</h2>\n<p class=\"note\">%s", title, note);
    if (model)
        fputs(" <span class=\"key\"><span class=\"fl\"></span>flagged as attack by the model"
              "<span class=\"ok\"></span>not flagged</span>",
              out);
    fprintf(out,
            "</p>\n<table id=\"%s\">\n<tr><th>class</th><th>share of rows</th>"
            "<th class=\"n\">rows</th><th class=\"n\">%%</th>%s</tr>\n",
            id, model ? "<th class=\"n\">flagged</th>" : "");
    /* Largest first; ties by name, so the page is deterministic. */
    size_t order[FLOWS_SUMMARY_CLASSES];
    for (size_t i = 0; i < k->n; i++)
        order[i] = i;
    for (size_t i = 1; i < k->n; i++)
        for (size_t j = i; j > 0; j--) {
            const struct fs_class *a = &k->c[order[j - 1]], *b = &k->c[order[j]];
            if (a->rows > b->rows || (a->rows == b->rows && strcmp(a->name, b->name) <= 0))
                break;
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t x = 0; x <= k->n; x++) {
        const char *name;
        uint64_t rows, flagged;
        if (x < k->n) {
            name = k->c[order[x]].name;
            rows = k->c[order[x]].rows;
            flagged = k->c[order[x]].flagged;
        } else if (k->other_rows) {
            name = NULL;
            rows = k->other_rows;
            flagged = k->other_flagged;
        } else {
            break;
        }
        fputs("<tr class=\"cls\" data-name=\"", out);
        flows_summary_put_escaped(out, name ? name : "");
        fprintf(out, "\" data-rows=\"%" PRIu64 "\" data-flagged=\"%" PRIu64 "\"><td>", rows,
                flagged);
        if (name)
            flows_summary_put_escaped(out, name);
        else
            fprintf(out, "<i>other names (beyond the first %d)</i>", FLOWS_SUMMARY_CLASSES);
        /* The bar is the class's share of all rows: its red part the flagged rows. */
        fprintf(out,
                "</td><td><div class=\"bar\"><div class=\"fl\" style=\"width:%.2f%%\"></div>"
                "<div class=\"ok\" style=\"width:%.2f%%\"></div></div></td><td class=\"n\">",
                pct(flagged, k->rows), pct(rows - flagged, k->rows));
        put_count(out, rows);
        fprintf(out, "</td><td class=\"n\">%.1f</td>", pct(rows, k->rows));
        if (model) {
            fputs("<td class=\"n\">", out);
            put_count(out, flagged);
            fprintf(out, " (%.1f %%)</td>", pct(flagged, rows));
        }
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

enum { TL_W = 960, TL_H = 180, TL_TOP = 10, TL_BOTTOM = 22, TL_LEFT = 52 };

static void put_timeline(FILE *out, const struct flows_summary *s, bool model)
{
    const struct fs_timeline *t = &s->tl;
    fputs("<h2>Timeline</h2>\n", out);
    if (!t->any) {
        fputs("<p>No rows were written.</p>\n", out);
        return;
    }
    size_t nb = t->hi - t->lo + 1;
    uint64_t max = 1;
    for (size_t i = t->lo; i <= t->hi; i++)
        if (t->rows[i] > max)
            max = t->rows[i];
    fprintf(out,
            "<p class=\"note\">Rows by the second their flow started (the CSV's Timestamp); "
            "one bar per <span id=\"bucket-seconds\" data-value=\"%" PRIu64 "\">%" PRIu64
            "</span> s%s.",
            t->width, t->width,
            t->width > 1 ? " (the capture is longer than the bars at 1 s)" : "");
    if (model)
        fputs(" <span class=\"key\"><span class=\"fl\"></span>flagged as attack"
              "<span style=\"background:#c9d3de\"></span>all rows</span>",
              out);
    fputs("</p>\n", out);
    double plot_w = TL_W - TL_LEFT, plot_h = TL_H - TL_TOP - TL_BOTTOM;
    double bw = plot_w / (double)nb;
    fprintf(out,
            "<svg id=\"timeline\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "role=\"img\" aria-label=\"rows per bucket over time\" "
            "style=\"max-width:100%%;height:auto;font:11px sans-serif\">\n",
            TL_W, TL_H, TL_W, TL_H);
    /* y axis: 0 and the maximum */
    fprintf(out,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
            TL_LEFT, TL_TOP, TL_LEFT, TL_H - TL_BOTTOM, TL_LEFT - 4, TL_TOP + 9);
    put_count(out, max);
    fprintf(out, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n", TL_LEFT - 4,
            TL_H - TL_BOTTOM);
    for (size_t i = t->lo; i <= t->hi; i++) {
        uint64_t start = (t->origin + i) * t->width;
        double x = TL_LEFT + bw * (double)(i - t->lo);
        double h_all = plot_h * (double)t->rows[i] / (double)max;
        double h_fl = plot_h * (double)t->flagged[i] / (double)max;
        fprintf(out,
                "<g class=\"b\" data-start=\"%" PRIu64 "\" data-rows=\"%" PRIu64
                "\" data-flagged=\"%" PRIu64 "\"><title>+%" PRIu64 " s: %" PRIu64 " rows, %" PRIu64
                " flagged</title>",
                start, t->rows[i], t->flagged[i], start - (t->origin + t->lo) * t->width,
                t->rows[i], t->flagged[i]);
        double gap = bw > 3 ? 1 : 0;
        if (t->rows[i])
            fprintf(out,
                    "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                    "fill=\"#c9d3de\"/>",
                    x, TL_TOP + plot_h - h_all, bw - gap, h_all);
        if (t->flagged[i])
            fprintf(out,
                    "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                    "fill=\"#d9363e\"/>",
                    x, TL_TOP + plot_h - h_fl, bw - gap, h_fl);
        fputs("</g>\n", out);
    }
    /* x axis: the first bar's start and the span */
    fprintf(out,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n"
            "<text x=\"%d\" y=\"%d\">",
            TL_LEFT, TL_H - TL_BOTTOM, TL_W, TL_H - TL_BOTTOM, TL_LEFT, TL_H - 6);
    put_utc(out, (t->origin + t->lo) * t->width * 1000000);
    fprintf(out, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\">+%" PRIu64 " s</text>\n",
            TL_W, TL_H - 6, (uint64_t)nb * t->width);
    fputs("</svg>\n", out);
}

/* true when entry a goes before b: more certain flows first (the lower bound), then the upper
 * bound, then the address, so the page is deterministic. */
static bool top_before(const struct fs_addr *a, const struct fs_addr *b)
{
    if (a->count - a->err != b->count - b->err)
        return a->count - a->err > b->count - b->err;
    if (a->count != b->count)
        return a->count > b->count;
    return memcmp(a->addr, b->addr, 16) < 0;
}

static void put_top(FILE *out, const struct fs_top *t, const char *title, const char *id,
                    uint64_t flagged)
{
    bool taken[FLOWS_SUMMARY_TRACKED] = {false};
    bool approx = false;
    fprintf(out,
            "<div><h3>%s</h3>\n<table id=\"%s\">\n<tr><th>address</th>"
            "<th class=\"n\">flagged flows</th><th class=\"n\">%%</th></tr>\n",
            title, id);
    for (int k = 0; k < FLOWS_SUMMARY_TOP_SHOWN; k++) {
        size_t best = SIZE_MAX; /* selection: TOP_SHOWN passes over the sketch */
        for (size_t i = 0; i < t->n; i++)
            if (!taken[i] && (best == SIZE_MAX || top_before(&t->e[i], &t->e[best])))
                best = i;
        if (best == SIZE_MAX)
            break;
        taken[best] = true;
        const struct fs_addr *e = &t->e[best];
        char addr[64];
        *flow_csv_format_addr(addr, e->addr, e->ip_version) = '\0';
        fputs("<tr class=\"addr\" data-addr=\"", out);
        flows_summary_put_escaped(out, addr);
        fprintf(out, "\" data-flows=\"%" PRIu64 "\" data-err=\"%" PRIu64 "\"><td><code>", e->count,
                e->err);
        flows_summary_put_escaped(out, addr);
        fputs("</code></td><td class=\"n\">", out);
        if (e->err) {
            approx = true;
            put_count(out, e->count - e->err);
            fputs("&ndash;", out);
        }
        put_count(out, e->count);
        fprintf(out, "</td><td class=\"n\">%.1f</td></tr>\n", pct(e->count, flagged));
    }
    fputs("</table>\n", out);
    if (approx)
        fprintf(out,
                "<p class=\"note\">More than %d distinct addresses were flagged: a range is "
                "what is certain (Space-Saving sketch); an address with more than %.1f %% of "
                "the flagged flows is always listed.</p>\n",
                FLOWS_SUMMARY_TRACKED, 100.0 / FLOWS_SUMMARY_TRACKED);
    fputs("</div>\n", out);
}

int flows_summary_write_html(const struct flows_summary *s, const struct flows_summary_info *info,
                             FILE *out)
{
    bool model = info->model != NULL;
    fputs(PAGE_HEAD, out);
    put_meta(out, info);
    put_totals(out, s, info);
    if (model)
        put_classes(out, &s->predicted, "Predicted classes", "predicted",
                    "Rows per label the model gave (its family for attacks).", true);
    if (s->truth.rows)
        put_classes(out, &s->truth, "Ground-truth labels", "truth",
                    model ? "Rows per manifest label, and how many of each the model flagged."
                          : "Rows per manifest label.",
                    model);
    put_timeline(out, s, model);
    if (model) {
        fputs("<h2>Top flagged addresses</h2>\n", out);
        if (!s->flagged) {
            fputs("<p>No row was flagged.</p>\n", out);
        } else {
            fputs("<div class=\"tops\">\n", out);
            put_top(out, &s->src, "sources", "top-src", s->flagged);
            put_top(out, &s->dst, "destinations", "top-dst", s->flagged);
            fputs("</div>\n", out);
        }
    }
    fputs("</body>\n</html>\n", out);
    return ferror(out) ? -EIO : 0;
}
