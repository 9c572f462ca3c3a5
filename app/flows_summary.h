/* flows_summary.h - the picture of a ddos-flows run: one self-contained HTML page beside the CSV
 * (`ddos-flows --summary-html FILE`).
 *
 * The page shows the run's totals, flows per predicted class and per ground-truth label (bars
 * whose red part is the share the model flagged as attacks), a timeline of all and of flagged
 * flows over the capture's time, and the addresses that sent and received the most flagged
 * flows. It is plain HTML with inline CSS and inline SVG: no JavaScript, nothing fetched, and a
 * Content-Security-Policy that forbids both, so it can be opened from a mail or a ticket. Every
 * string that comes from the capture, the manifest or the model (file names, labels, class
 * names, provenance) is HTML-escaped.
 *
 * Memory is fixed at creation (about 130 KB) and nothing is allocated per flow:
 *   - classes: the first FLOWS_SUMMARY_CLASSES distinct names of each kind are counted by name;
 *     rows with later names are counted together as "other";
 *   - timeline: FLOWS_SUMMARY_BUCKETS buckets of 1 s; when the capture spans more, neighbouring
 *     buckets merge (2 s, 4 s, ...), so any span fits;
 *   - top addresses: a Space-Saving sketch of FLOWS_SUMMARY_TRACKED addresses per direction.
 *     While no more distinct addresses than that were flagged, counts are exact; beyond, the
 *     page shows an address's count as the range the sketch guarantees (data-flows is the upper
 *     bound, data-err its width), lists the most certain first, and every address with more
 *     than flagged/FLOWS_SUMMARY_TRACKED flows is guaranteed to be tracked. A lookup is a probe
 *     of a hash index; a miss with a full sketch replaces a least counted entry, found from a
 *     cursor (amortised O(1) when many entries share the minimum, as in a spoofed flood).
 *
 * Every number on the page is also in a data-* attribute or an id'd element, so a script (and
 * tests/integration/flows_summary_html.py) can read it back.
 *
 * One thread owns a summary; it is not shared. */
#ifndef DD_APP_FLOWS_SUMMARY_H
#define DD_APP_FLOWS_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/compiler.h"
#include "features/flow.h"

enum {
    FLOWS_SUMMARY_CLASSES = 64,   /* distinct names counted per kind (predicted, truth) */
    FLOWS_SUMMARY_NAME_MAX = 256, /* bytes kept of a name, NUL included (longer: truncated) */
    FLOWS_SUMMARY_BUCKETS = 120,  /* timeline bars */
    FLOWS_SUMMARY_TRACKED = 1024, /* addresses the top-N sketch tracks per direction */
    FLOWS_SUMMARY_TOP_SHOWN = 10  /* addresses listed per direction */
};

struct flows_summary;

/* One line of the totals table, given by the caller at write time. key is a short identifier
 * (letters, digits, '-', '_': it becomes the cell's id "fact-<key>"), label the text shown;
 * problem marks a counter that should be 0 (decode errors, drops): shown in red when it is not. */
struct flows_summary_fact {
    const char *key;
    const char *label;
    uint64_t value;
    bool problem;
};

/* What the page says about the run besides the flows. Strings are borrowed for the call; any may
 * be NULL (not shown). */
struct flows_summary_info {
    const char *program;       /* "ddos-flows 1.2.0" */
    const char *const *inputs; /* captures read, or the interface */
    size_t ninputs;            /* the page lists the first 20 and counts the rest */
    const char *csv;           /* the CSV's path; NULL: standard output */
    const char *mode;          /* feature mode, "fixed" or "cic" */
    const char *model;         /* --model's path; NULL: no model, nothing is flagged */
    const char *model_about;   /* its provenance line */
    double elapsed_s;          /* wall-clock time of the run */
    const struct flows_summary_fact *facts;
    size_t nfacts;
};

/* A summary with every counter at zero, or NULL when out of memory. Free with
 * flows_summary_destroy (accepts NULL). */
struct flows_summary *flows_summary_create(void);
void flows_summary_destroy(struct flows_summary *s);

/* Counts one CSV row for flow f (the flow as written: its start, the CSV's Timestamp, places it
 * on the timeline; its forward source and destination are the CSV's Source/Destination IP).
 * predicted: the model's label (NULL without a model); flagged: the model scored it an attack;
 * truth: the manifest's label (NULL without a manifest). Names are compared by content, so they
 * need only live for the call. O(1) in the number of flows; no allocation. */
void flows_summary_add(struct flows_summary *s, const struct flow *f, const char *predicted,
                       bool flagged, const char *truth);

/* Rows counted so far, and of them flagged. */
uint64_t flows_summary_rows(const struct flows_summary *s);
uint64_t flows_summary_flagged(const struct flows_summary *s);

/* Seconds one timeline bar spans now (1, 2, 4, ...; 1 before any row). */
uint64_t flows_summary_bucket_seconds(const struct flows_summary *s);

/* Writes the page to out. Returns 0, or -EIO when out reported a write error (out is not
 * closed; the caller also checks fclose). */
DD_NODISCARD int flows_summary_write_html(const struct flows_summary *s,
                                          const struct flows_summary_info *info, FILE *out);

/* Writes s HTML-escaped (& < > " ' as entities, control bytes as U+FFFD), for text and for
 * attribute values. Returns what fputs-like writes return: >= 0, or EOF on error. */
int flows_summary_put_escaped(FILE *out, const char *s);

#endif
