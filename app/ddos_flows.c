/* ddos_flows.c - `ddos-flows`, the CICFlowMeter-compatible flow extractor.
 *
 * Reads captures (files, directories) or a live interface, decodes every packet, keeps the flow
 * table and writes one CSV row per flow. It is the same capture -> decode -> flow table ->
 * feature path the daemon runs.
 *
 * DESIGN: two threads. The reader thread (app/reader.c, the one ddosd's replay uses) owns the
 * libpcap sources: it reads and decodes bursts of packets into preallocated burst buffers and
 * passes their indices over an SPSC ring to the main thread, which owns the flow table and the
 * CSV output (a second ring returns free buffers). Reading a capture (kernel copies) and decoding
 * is about a third of the work, so it overlaps with the flow table instead of adding to it.
 * Nothing is lost offline: when no buffer is free the reader waits (back-pressure) rather than
 * drop. Per packet there is no allocation, no system call and no lock; rows are formatted into a
 * stack buffer and written through a large stdio buffer. The reader hands over one burst per
 * dispatch (live, an empty one is the clock tick of a quiet link); markers in the burst stream
 * tell the main thread where each input ends (labels are per capture) and when everything has
 * been read.
 *
 * Exit status: 0 success; 1 usage or start-up error (one line on stderr); 2 finished, but some
 * input was damaged (a capture cut short): every flow read so far was still written. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/flows_summary.h"
#include "app/manifest.h"
#include "app/reader.h"
#include "capture/decode.h"
#include "capture/source.h"
#include "common/clock.h"
#include "common/log.h"
#include "features/flow_csv.h"
#include "features/flow_table.h"
#include "inference/model.h"

enum { NBURSTS = 32, EXPIRE_BUDGET = 4096, OUT_BUFFER = 1 << 20 };

struct options {
    const char **inputs;
    size_t ninputs;
    const char *iface;
    const char *out_path;
    const char *manifest_path;
    const char *summary_json;
    const char *summary_html;
    const char *model_path;
    struct capture_options capture;
    struct flow_table_config table;
    enum feat_mode mode;
    double idle_s, active_s; /* < 0: mode default */
    uint32_t max_flows;
    uint64_t seed;
    bool snapshots;
    uint32_t snapshot_packets;
    double snapshot_interval_s;
    int progress; /* -1: auto (a terminal) */
    bool quiet;
};

struct run {
    struct options *opt;
    char **files;
    size_t nfiles;
    struct capture_source *live_src; /* opened by main for -i, read by the reader */
    struct burst_ring ring;          /* reader -> main thread */
    struct reader reader;

    /* Main thread only. */
    struct flow_table *table;
    FILE *out;
    const struct manifest *manifest;
    const struct manifest_capture *labels; /* of the current input, NULL when unlabelled */
    struct model *model;                   /* --model, NULL without */
    struct flows_summary *summary;         /* --summary-html, NULL without */
    FILE *summary_out;                     /* opened before reading, written at the end */
    uint64_t predicted_attacks;
    uint64_t rows;
    uint64_t write_errors;
    uint64_t damaged_inputs;
    double start_mono, last_progress;
    uint64_t shown_packets;
    double shown_progress;
    size_t shown_input;
    /* the reader's totals, read once it is joined */
    uint64_t packets;
    uint64_t bytes;
    uint64_t decode[DECODE_STATUS_COUNT];
    bool have_kernel; /* -i: the kernel's counters below are valid */
    struct capture_kernel_stats kernel;
};

/* Set by SIGINT/SIGTERM; the reader stops before its next dispatch. Lock-free, so a signal
 * handler may store it. */
static _Atomic bool stop_requested;
static struct reader *volatile signal_reader; /* the running reader, for on_signal */

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true);
    if (signal_reader)
        reader_break(signal_reader);
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: ddos-flows -r FILE|DIR [-r ...] | -i IFACE  [options]\n"
            "\n"
            "Turns packet captures into CICFlowMeter-compatible flow CSV: one row per\n"
            "bidirectional flow with its identifiers and %d features.\n"
            "\n"
            "input:\n"
            "  -r, --read FILE|DIR     a pcap/pcapng file, or a directory of them (sorted by\n"
            "                          name); repeatable. Files are read as one stream.\n"
            "  -i, --interface IFACE   capture live until Ctrl-C (needs root or CAP_NET_RAW)\n"
            "  -f, --filter BPF        only packets matching this filter, e.g. 'tcp or udp'\n"
            "      --snaplen N         live: bytes kept per packet (default 262144)\n"
            "      --no-promisc        live: do not put the interface in promiscuous mode\n"
            "output:\n"
            "  -o, --output FILE       CSV destination (default: standard output)\n"
            "      --manifest M.json   add a Label column from a ground-truth manifest; without\n"
            "                          -r, reads every capture the manifest lists\n"
            "      --summary-json F    also write the end-of-run summary as JSON to F\n"
            "      --summary-html F    also write a self-contained HTML page to F (no\n"
            "                          script, nothing fetched): totals, flows per predicted\n"
            "                          class and label, a timeline of all and flagged flows,\n"
            "                          the top flagged sources and destinations\n"
            "      --model FILE        score every row with a ddosd model file (see\n"
            "                          docs/model-format.md): adds Predicted Label and Attack\n"
            "                          Score (the model's attack probability) columns\n"
            "  -q, --quiet             no summary on stderr\n"
            "      --progress/--no-progress  force the progress line on or off (default: on\n"
            "                          when stderr is a terminal)\n"
            "flows:\n"
            "      --compat MODE       fixed (default): correct definitions, IPv6, 1-packet\n"
            "                          flows, ICMP type/code, TCP teardown kept in its flow;\n"
            "                          cic: reproduce legacy CICFlowMeter (CIC-IDS2017 and\n"
            "                          CIC-DDoS2019 CSVs) quirks and exact column names\n"
            "      --idle-timeout S    end a flow after S seconds without packets\n"
            "                          (fixed default 60; cic has none)\n"
            "      --active-timeout S  end a flow S seconds after its first packet (default 120)\n"
            "      --max-flows N       flow table capacity (default 1048576); when full, the\n"
            "                          least recently seen of a few sampled flows is ended\n"
            "      --seed N            hash seed (default random); output does not depend on it\n"
            "      --snapshots         also write rows for running flows, as the detector scores\n"
            "                          them: after their first packets and then at intervals;\n"
            "                          adds an Emit column (end or snapshot)\n"
            "      --snapshot-packets N   first snapshot after N packets (default 5)\n"
            "      --snapshot-interval S  then at most every S seconds of packet time (default 1)\n"
            "other:\n"
            "  -h, --help              this text\n"
            "      --version           print the version\n"
            "\n"
            "examples:\n"
            "  ddos-flows -r attack.pcap -o flows.csv\n"
            "  ddos-flows -r captures/ --compat cic -o cic.csv\n"
            "  ddos-flows --manifest ../shared/data/manifest.json -o labelled.csv\n"
            "  ddos-flows -i eth0 -f 'not port 22' -o live.csv\n"
            "  ddos-flows -r a.pcap --model m.msgpack -o a.csv --summary-html a.html\n"
            "\n"
            "exit status: 0 ok; 1 usage or input error, or an output (-o, --summary-json,\n"
            "--summary-html) cannot be written; 2 done, but a capture was damaged (flows\n"
            "read before the damage are still written).\n",
            FEAT_COUNT);
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v > 0) || v > 4000)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-')
        return -EINVAL;
    *out = v;
    return 0;
}

/* Long options without a short form. */
enum {
    OPT_COMPAT = 256,
    OPT_IDLE,
    OPT_ACTIVE,
    OPT_MANIFEST,
    OPT_SUMMARY,
    OPT_SUMMARY_HTML,
    OPT_MAXFLOWS,
    OPT_SEED,
    OPT_PROGRESS,
    OPT_NOPROGRESS,
    OPT_SNAPLEN,
    OPT_NOPROMISC,
    OPT_VERSION,
    OPT_SNAPSHOTS,
    OPT_MODEL,
    OPT_SNAP_PACKETS,
    OPT_SNAP_INTERVAL,
};

/* Applies one option of getopt_long (c, with its argument). 0 or -EINVAL after a message;
 * --help and --version print and exit. */
static int parse_option(int c, const char *arg, struct options *o)
{
    uint64_t u;
    switch (c) {
    case 'r':
        o->inputs[o->ninputs++] = arg;
        break;
    case 'i':
        o->iface = arg;
        break;
    case 'o':
        o->out_path = arg;
        break;
    case 'f':
        o->capture.filter = arg;
        break;
    case 'q':
        o->quiet = true;
        break;
    case 'h':
        usage(stdout);
        exit(0);
    case OPT_VERSION:
        printf("ddos-flows %s\n", DDOSD_VERSION);
        exit(0);
    case OPT_COMPAT:
        if (feat_mode_parse(arg, &o->mode) != 0) {
            fprintf(stderr, "ddos-flows: --compat must be 'fixed' or 'cic', not '%s'\n", arg);
            return -EINVAL;
        }
        break;
    case OPT_IDLE:
    case OPT_ACTIVE:
        if (parse_seconds(arg, c == OPT_IDLE ? &o->idle_s : &o->active_s) != 0) {
            fprintf(stderr, "ddos-flows: --%s takes seconds in (0, 4000], not '%s'\n",
                    c == OPT_IDLE ? "idle-timeout" : "active-timeout", arg);
            return -EINVAL;
        }
        break;
    case OPT_MANIFEST:
        o->manifest_path = arg;
        break;
    case OPT_SUMMARY:
        o->summary_json = arg;
        break;
    case OPT_SUMMARY_HTML:
        o->summary_html = arg;
        break;
    case OPT_MAXFLOWS:
        if (parse_u64(arg, &u) != 0 || u < 16 || u > (1u << 30)) {
            fprintf(stderr, "ddos-flows: --max-flows takes 16..1073741824, not '%s'\n", arg);
            return -EINVAL;
        }
        o->max_flows = (uint32_t)u;
        break;
    case OPT_SEED:
        if (parse_u64(arg, &o->seed) != 0) {
            fprintf(stderr, "ddos-flows: --seed takes a non-negative integer\n");
            return -EINVAL;
        }
        break;
    case OPT_PROGRESS:
        o->progress = 1;
        break;
    case OPT_NOPROGRESS:
        o->progress = 0;
        break;
    case OPT_SNAPLEN:
        if (parse_u64(arg, &u) != 0 || u < 64 || u > 262144) {
            fprintf(stderr, "ddos-flows: --snaplen takes 64..262144\n");
            return -EINVAL;
        }
        o->capture.snaplen = (int)u;
        break;
    case OPT_MODEL:
        o->model_path = arg;
        break;
    case OPT_SNAPSHOTS:
        o->snapshots = true;
        break;
    case OPT_SNAP_PACKETS:
        if (parse_u64(arg, &u) != 0 || u < 1 || u > 1000000) {
            fprintf(stderr, "ddos-flows: --snapshot-packets takes 1..1000000\n");
            return -EINVAL;
        }
        o->snapshot_packets = (uint32_t)u;
        break;
    case OPT_SNAP_INTERVAL:
        if (parse_seconds(arg, &o->snapshot_interval_s) != 0) {
            fprintf(stderr, "ddos-flows: --snapshot-interval takes seconds in (0, 4000]\n");
            return -EINVAL;
        }
        break;
    case OPT_NOPROMISC:
        o->capture.promiscuous = false;
        break;
    default:
        fprintf(stderr, "Try 'ddos-flows --help'.\n");
        return -EINVAL;
    }
    return 0;
}

/* What to read: exactly one of -r, -i, --manifest alone; --manifest never with -i. */
static int check_inputs(const struct options *o)
{
    if (o->iface && o->manifest_path) {
        fprintf(stderr, "ddos-flows: --manifest labels capture files; it cannot label a live "
                        "interface (-i)\n");
        return -EINVAL;
    }
    if (o->iface && o->ninputs) {
        fprintf(stderr, "ddos-flows: give either -r or -i, not both\n");
        return -EINVAL;
    }
    if (!o->iface && !o->ninputs && !o->manifest_path) {
        fprintf(stderr, "ddos-flows: nothing to read: give -r FILE|DIR, -i IFACE or "
                        "--manifest M.json (see --help)\n");
        return -EINVAL;
    }
    return 0;
}

/* The flow table's configuration: the mode's defaults, then the options over them. */
static int table_config_build(struct options *o)
{
    flow_table_config_defaults(&o->table, o->mode);
    if (o->idle_s > 0) {
        if (o->mode == FEAT_MODE_CIC)
            fprintf(stderr, "ddos-flows: note: --idle-timeout changes cic mode's legacy "
                            "behaviour (CICFlowMeter has no idle timeout)\n");
        o->table.idle_timeout_us = (uint64_t)llround(o->idle_s * 1e6);
    }
    if (o->active_s > 0) {
        o->table.active_timeout_us = (uint64_t)llround(o->active_s * 1e6);
        /* A short active timeout caps the defaults that would otherwise exceed it. */
        if (o->idle_s <= 0 && o->table.idle_timeout_us > o->table.active_timeout_us)
            o->table.idle_timeout_us = o->table.active_timeout_us;
        if (o->table.close_linger_us > o->table.active_timeout_us)
            o->table.close_linger_us = o->table.active_timeout_us;
    }
    if (o->max_flows)
        o->table.capacity = o->max_flows;
    o->table.seed = o->seed;
    if (o->snapshots) {
        o->table.report_first_packets = o->snapshot_packets ? o->snapshot_packets : 5;
        o->table.report_interval_us =
            (uint64_t)llround((o->snapshot_interval_s > 0 ? o->snapshot_interval_s : 1.0) * 1e6);
    }
    char why[200];
    if (flow_table_config_check(&o->table, why, sizeof(why)) != 0) {
        fprintf(stderr, "ddos-flows: %s\n", why);
        return -EINVAL;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"read", required_argument, NULL, 'r'},
        {"interface", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"filter", required_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"compat", required_argument, NULL, OPT_COMPAT},
        {"idle-timeout", required_argument, NULL, OPT_IDLE},
        {"active-timeout", required_argument, NULL, OPT_ACTIVE},
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"summary-json", required_argument, NULL, OPT_SUMMARY},
        {"summary-html", required_argument, NULL, OPT_SUMMARY_HTML},
        {"max-flows", required_argument, NULL, OPT_MAXFLOWS},
        {"seed", required_argument, NULL, OPT_SEED},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"no-progress", no_argument, NULL, OPT_NOPROGRESS},
        {"snaplen", required_argument, NULL, OPT_SNAPLEN},
        {"no-promisc", no_argument, NULL, OPT_NOPROMISC},
        {"version", no_argument, NULL, OPT_VERSION},
        {"snapshots", no_argument, NULL, OPT_SNAPSHOTS},
        {"model", required_argument, NULL, OPT_MODEL},
        {"snapshot-packets", required_argument, NULL, OPT_SNAP_PACKETS},
        {"snapshot-interval", required_argument, NULL, OPT_SNAP_INTERVAL},
        {NULL, 0, NULL, 0},
    };
    o->inputs = calloc((size_t)argc, sizeof(char *));
    if (!o->inputs) {
        fprintf(stderr, "ddos-flows: out of memory\n");
        return -ENOMEM;
    }
    o->idle_s = o->active_s = -1;
    o->progress = -1;
    o->capture.promiscuous = true;
    /* Live: TPACKET_V3 (not immediate), blocks handed over when full or after 10 ms, and ddosd's
     * 64 MiB buffer: with immediate mode (V2) libpcap's 2 MiB default held 8 frames of the
     * 256 KiB snaplen (capture/source.h). */
    o->capture.immediate = false;
    o->capture.timeout_ms = 10;
    o->capture.buffer_mb = 64;
    int c;
    while ((c = getopt_long(argc, argv, "r:i:o:f:qh", longopts, NULL)) != -1)
        if (parse_option(c, optarg, o) != 0)
            return -EINVAL;
    if (optind < argc) {
        fprintf(stderr, "ddos-flows: unexpected argument '%s' (inputs are given with -r)\n",
                argv[optind]);
        return -EINVAL;
    }
    if (check_inputs(o) != 0 || table_config_build(o) != 0)
        return -EINVAL;
    if (o->progress < 0)
        o->progress = isatty(STDERR_FILENO) && !o->quiet;
    return 0;
}

static void write_flow(struct run *r, const struct flow *f, const char *emit)
{
    double v[FEAT_COUNT];
    char row[FLOW_CSV_ROW_MAX];
    flow_features_compute(f, v);
    size_t n = flow_csv_format_row(row, sizeof(row), f, v, r->opt->mode);
    const char *label = NULL;
    struct model_score sc = {.label = NULL};
    if (r->manifest) {
        label = r->labels ? manifest_label_flow(r->labels, f) : "unknown";
        row[n++] = ',';
        size_t l = strlen(label);
        memcpy(row + n, label, l);
        n += l;
    }
    if (r->model) {
        model_score(r->model, v, &sc);
        r->predicted_attacks += sc.is_attack;
        row[n++] = ',';
        size_t l = strlen(sc.label);
        memcpy(row + n, sc.label, l);
        n += l;
        row[n++] = ',';
        n = (size_t)(flow_csv_format_number(row + n, sc.p_attack) - row);
    }
    if (r->opt->snapshots) {
        row[n++] = ',';
        size_t l = strlen(emit);
        memcpy(row + n, emit, l);
        n += l;
    }
    row[n++] = '\n';
    if (fwrite(row, 1, n, r->out) != n)
        r->write_errors++;
    r->rows++;
    if (r->summary)
        flows_summary_add(r->summary, f, sc.label, sc.is_attack, label);
}

static void write_row(void *user, const struct flow *f, enum flow_end why)
{
    (void)why;
    write_flow(user, f, "end");
}

static void write_snapshot(void *user, const struct flow *f)
{
    write_flow(user, f, "snapshot");
}

/* Reader thread: an input could not be opened, or was cut short (its flows so far are kept). */
static void on_input_damaged(void *user, const char *msg, bool cut_short)
{
    const struct run *r = user;
    if (cut_short)
        fprintf(stderr, "%sddos-flows: warning: %s\n", r->opt->progress ? "\n" : "", msg);
    else
        fprintf(stderr, "ddos-flows: %s\n", msg);
}

static void show_progress(struct run *r, bool final)
{
    double now = dd_mono_s();
    if (!final && now - r->last_progress < 0.5)
        return;
    r->last_progress = now;
    double elapsed = now - r->start_mono;
    double pps = elapsed > 0 ? r->shown_packets / elapsed : 0;
    const struct flow_table_stats *ts = flow_table_stats(r->table);
    if (r->shown_progress >= 0 && !r->live_src)
        fprintf(stderr,
                "\r[%zu/%zu] %5.1f%%  %" PRIu64 " packets  %.2f Mpps  %" PRIu32
                " active flows  %" PRIu64 " rows\033[K",
                r->shown_input + 1, r->nfiles, 100.0 * r->shown_progress, r->shown_packets,
                pps / 1e6, ts->active, r->rows);
    else
        fprintf(stderr,
                "\r%" PRIu64 " packets  %.2f Mpps  %" PRIu32 " active flows  %" PRIu64
                " rows\033[K",
                r->shown_packets, pps / 1e6, ts->active, r->rows);
    if (final)
        fputc('\n', stderr);
}

static const struct manifest_capture *labels_for(struct run *r, size_t input)
{
    if (!r->manifest || input >= r->nfiles)
        return NULL;
    return manifest_find(r->manifest, r->files[input]);
}

/* Main thread: consumes bursts until the reader says everything was read. */
static void run_pipeline(struct run *r)
{
    bool live = r->live_src != NULL;
    unsigned spins = 0;
    double idle_since = 0;
    r->labels = labels_for(r, 0);
    for (;;) {
        struct pkt_burst *b = burst_ring_next(&r->ring);
        if (!b) {
            ring_spsc_backoff(&spins);
            if (live && idle_since == 0)
                idle_since = dd_mono_s();
            continue;
        }
        spins = 0;
        enum burst_kind kind = (enum burst_kind)b->kind;
        if (kind == BURST_PACKETS) {
            flow_table_add_burst(r->table, b->pkts, b->ts, b->n, NULL);
            uint64_t now = flow_table_now(r->table);
            if (live && b->n == 0) /* a quiet link: let the wall clock expire flows */
                now = dd_realtime_us();
            (void)flow_table_expire(r->table, now, EXPIRE_BUDGET);
            r->shown_packets = b->packets_read;
            r->shown_progress = b->file_progress;
            r->shown_input = b->input;
            if (r->opt->progress)
                show_progress(r, false);
        } else if (kind == BURST_INPUT_END) {
            if (b->damaged)
                r->damaged_inputs++;
            /* Labels belong to one capture: its flows end with it. */
            if (r->manifest) {
                flow_table_flush(r->table);
                r->labels = labels_for(r, (size_t)b->input + 1);
            }
        }
        burst_ring_release(&r->ring, b);
        if (kind == BURST_ALL_END)
            break;
    }
}

static void print_summary(struct run *r, FILE *to, double elapsed)
{
    const struct flow_table_stats *ts = flow_table_stats(r->table);
    const struct flow_table_config *cfg = flow_table_config(r->table);
    double pps = elapsed > 0 ? (double)r->packets / elapsed : 0;
    fprintf(to,
            "ddos-flows: %" PRIu64 " packets, %" PRIu64 " flows written (%s mode) in %.3f s: "
            "%.0f packets/s\n",
            r->packets, r->rows, feat_mode_name(cfg->mode), elapsed, pps);
    uint64_t problems = 0;
    for (int i = DECODE_UNSUPPORTED_LINK; i < DECODE_STATUS_COUNT; i++)
        problems += r->decode[i];
    fprintf(to, "  decoded %" PRIu64 ", not IP %" PRIu64 ", decode problems %" PRIu64,
            r->decode[DECODE_OK], r->decode[DECODE_NOT_IP], problems);
    for (int i = DECODE_UNSUPPORTED_LINK; i < DECODE_STATUS_COUNT; i++)
        if (r->decode[i])
            fprintf(to, "%s %s %" PRIu64, i == DECODE_UNSUPPORTED_LINK ? ":" : ",",
                    decode_status_name((enum decode_status)i), r->decode[i]);
    fprintf(to, "\n");
    if (ts->packets_skipped || ts->ts_backwards)
        fprintf(to,
                "  packets outside %s flows %" PRIu64 ", timestamps going backwards %" PRIu64
                " (jumps to an earlier era %" PRIu64 ")\n",
                feat_mode_name(cfg->mode), ts->packets_skipped, ts->ts_backwards, ts->clock_jumps);
    fprintf(to, "  flows ended:");
    for (int i = 0; i < FLOW_END_COUNT; i++)
        fprintf(to, " %s %" PRIu64, flow_end_name((enum flow_end)i), ts->flows_ended[i]);
    if (ts->flows_suppressed)
        fprintf(to, "; not written (< %" PRIu32 " packets) %" PRIu64, cfg->emit_min_packets,
                ts->flows_suppressed);
    if (ts->reports)
        fprintf(to, "; snapshots of running flows %" PRIu64, ts->reports);
    if (r->model)
        fprintf(to, "\n  model: %" PRIu64 " of %" PRIu64 " rows scored as attacks",
                r->predicted_attacks, r->rows);
    fprintf(to,
            "\n  flow table: %" PRIu32 " slots, %zu bytes per flow, peak %" PRIu32
            " concurrent flows\n",
            cfg->capacity, flow_table_memory(r->table) / cfg->capacity, ts->peak_active);
    if (r->write_errors)
        fprintf(to, "  write errors: %" PRIu64 " rows could not be written\n", r->write_errors);
}

static int write_summary_json(struct run *r, const char *path, double elapsed)
{
    const struct flow_table_stats *ts = flow_table_stats(r->table);
    const struct flow_table_config *cfg = flow_table_config(r->table);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "ddos-flows: cannot write %s: %s\n", path, strerror(errno));
        return -errno;
    }
    fprintf(f,
            "{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"flows\":%" PRIu64
            ",\"elapsed_s\":%.6f,\"pps\":%.1f,\"mode\":\"%s\",\"flow_capacity\":%" PRIu32
            ",\"flow_table_bytes\":%zu,\"bytes_per_flow\":%.1f,\"flow_struct_bytes\":%zu"
            ",\"peak_flows\":%" PRIu32 ",\"flows_created\":%" PRIu64
            ",\"flows_suppressed\":%" PRIu64 ",\"packets_skipped\":%" PRIu64
            ",\"ts_backwards\":%" PRIu64 ",\"clock_jumps\":%" PRIu64 ",\"damaged_inputs\":%" PRIu64
            ",\"snapshots\":%" PRIu64 ",\"decode\":{",
            r->packets, r->bytes, r->rows, elapsed, elapsed > 0 ? r->packets / elapsed : 0.0,
            feat_mode_name(cfg->mode), cfg->capacity, flow_table_memory(r->table),
            (double)flow_table_memory(r->table) / cfg->capacity, sizeof(struct flow),
            ts->peak_active, ts->flows_created, ts->flows_suppressed, ts->packets_skipped,
            ts->ts_backwards, ts->clock_jumps, r->damaged_inputs, ts->reports);
    for (int i = 0; i < DECODE_STATUS_COUNT; i++)
        fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", decode_status_name((enum decode_status)i),
                r->decode[i]);
    fprintf(f, "},\"flows_ended\":{");
    for (int i = 0; i < FLOW_END_COUNT; i++)
        fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", flow_end_name((enum flow_end)i),
                ts->flows_ended[i]);
    fprintf(f, "}}\n");
    return fclose(f) == 0 ? 0 : -EIO;
}

/* --summary-html: the page (app/flows_summary.h) with this run's totals, into the file
 * open_output opened. 0, or -EIO after a message. */
static int write_summary_html(struct run *r, double elapsed)
{
    const struct flow_table_stats *ts = flow_table_stats(r->table);
    const struct flow_table_config *cfg = flow_table_config(r->table);
    uint64_t problems = 0;
    for (int i = DECODE_UNSUPPORTED_LINK; i < DECODE_STATUS_COUNT; i++)
        problems += r->decode[i];
    struct flows_summary_fact facts[16];
    size_t n = 0;
#define FACT(k, l, v, p) facts[n++] = (struct flows_summary_fact){(k), (l), (v), (p)}
    FACT("packets", "packets read", r->packets, false);
    FACT("bytes", "bytes read", r->bytes, false);
    FACT("decoded", "packets decoded", r->decode[DECODE_OK], false);
    FACT("not-ip", "packets not IP", r->decode[DECODE_NOT_IP], false);
    FACT("decode-problems", "decode problems (truncated, malformed, unsupported)", problems, true);
    FACT("skipped", "packets outside the mode's flows", ts->packets_skipped, false);
    FACT("ts-backwards", "timestamps going backwards", ts->ts_backwards, true);
    FACT("flows-created", "flows created", ts->flows_created, false);
    FACT("flows-evicted", "flows ended early: table full", ts->flows_ended[FLOW_END_EVICTED], true);
    FACT("flows-suppressed", "flows not written (too few packets)", ts->flows_suppressed, false);
    FACT("damaged-inputs", "damaged inputs (cut short)", r->damaged_inputs, true);
    FACT("write-errors", "rows that could not be written", r->write_errors, true);
    if (r->have_kernel) {
        FACT("kernel-dropped", "dropped by the kernel", r->kernel.dropped, true);
        FACT("if-dropped", "dropped by the interface", r->kernel.if_dropped, true);
    }
#undef FACT
    char program[64];
    snprintf(program, sizeof(program), "ddos-flows %s", DDOSD_VERSION);
    const char *live[1] = {r->opt->iface};
    struct flows_summary_info info = {
        .program = program,
        .inputs = r->live_src ? live : (const char *const *)r->files,
        .ninputs = r->live_src ? 1 : r->nfiles,
        .csv = r->opt->out_path,
        .mode = feat_mode_name(cfg->mode),
        .model = r->model ? r->opt->model_path : NULL,
        .model_about = r->model ? model_provenance(r->model) : NULL,
        .elapsed_s = elapsed,
        .facts = facts,
        .nfacts = n,
    };
    const char *path = r->opt->summary_html;
    errno = 0;
    int rc = flows_summary_write_html(r->summary, &info, r->summary_out);
    int werr = errno; /* the failed write's reason (ENOSPC, say): fclose may not repeat it */
    FILE *f = r->summary_out;
    r->summary_out = NULL;
    if (fclose(f) != 0 || rc != 0) {
        fprintf(stderr, "ddos-flows: writing %s failed: %s\n", path,
                strerror(rc && werr ? werr
                         : errno    ? errno
                                    : EIO));
        return -EIO;
    }
    return 0;
}

/* --manifest and --model, when given. 0 or -1 after a message. */
static int load_manifest_and_model(struct run *r, struct manifest **manifest)
{
    const struct options *opt = r->opt;
    if (opt->manifest_path) {
        char merr[512];
        *manifest = manifest_load(opt->manifest_path, merr, sizeof(merr));
        if (!*manifest) {
            fprintf(stderr, "ddos-flows: %s\n", merr);
            return -1;
        }
        r->manifest = *manifest;
    }
    if (opt->model_path) {
        char merr[MODEL_ERR_LEN];
        r->model = model_load_file(opt->model_path, merr, sizeof(merr));
        if (!r->model) {
            fprintf(stderr, "ddos-flows: %s\n", merr);
            return -1;
        }
        if (model_feature_mode(r->model) != opt->mode) {
            fprintf(stderr, "ddos-flows: %s was trained on %s features; add --compat %s\n",
                    opt->model_path, feat_mode_name(model_feature_mode(r->model)),
                    feat_mode_name(model_feature_mode(r->model)));
            return -1;
        }
    }
    return 0;
}

/* Resolves -r (or the manifest's captures) into r->files and open-checks every one before
 * anything is written: a typo fails fast. 0 or -1 after a message. */
static int resolve_inputs(struct run *r, const struct manifest *manifest)
{
    const struct options *opt = r->opt;
    char err[CAPTURE_ERRBUF_SIZE];
    if (opt->ninputs) {
        if (capture_inputs_expand(opt->inputs, opt->ninputs, &r->files, &r->nfiles, err) != 0) {
            fprintf(stderr, "ddos-flows: %s\n", err);
            return -1;
        }
    } else if (manifest) {
        r->files = calloc(manifest->ncaptures + 1, sizeof(char *));
        if (!r->files)
            return -1;
        for (size_t i = 0; i < manifest->ncaptures; i++) {
            r->files[i] = strdup(manifest->captures[i].path);
            if (!r->files[i])
                return -1;
            r->nfiles = i + 1;
        }
    }
    for (size_t i = 0; i < r->nfiles; i++) {
        struct capture_source *probe = capture_source_open_file(r->files[i], &opt->capture, err);
        if (!probe) {
            fprintf(stderr, "ddos-flows: %s\n", err);
            return -1;
        }
        int lt = capture_source_linktype(probe);
        capture_source_close(probe);
        if (!decode_linktype_supported(lt)) {
            fprintf(stderr,
                    "ddos-flows: %s: link type %d is not supported (Ethernet with VLAN/MPLS, "
                    "Linux SLL/SLL2, raw IP, BSD loopback, PPP, PPPoE, Cisco HDLC and PPI "
                    "are)\n",
                    r->files[i], lt);
            return -1;
        }
        if (manifest && !manifest_find(manifest, r->files[i]))
            fprintf(stderr,
                    "ddos-flows: warning: %s is not in the manifest; its flows are "
                    "labelled 'unknown'\n",
                    r->files[i]);
    }
    return 0;
}

/* The flow table and the CSV output with its header line. 0 or -1 after a message. */
static int open_output(struct run *r)
{
    /* static: stdout keeps using its buffer until exit */
    static char outbuf[OUT_BUFFER];
    const struct options *opt = r->opt;
    r->table = flow_table_create(&opt->table, write_row, r);
    if (!r->table)
        return -1;
    if (opt->snapshots)
        flow_table_set_report(r->table, write_snapshot, r);
    /* Opened now, written at the end: an unwritable path fails before a long run, not after
     * it, and before the CSV is created. */
    if (opt->summary_html) {
        r->summary = flows_summary_create();
        if (!r->summary) {
            fprintf(stderr, "ddos-flows: out of memory\n");
            return -1;
        }
        r->summary_out = fopen(opt->summary_html, "w");
        if (!r->summary_out) {
            fprintf(stderr, "ddos-flows: cannot write %s: %s\n", opt->summary_html,
                    strerror(errno));
            return -1;
        }
    }
    if (opt->out_path) {
        r->out = fopen(opt->out_path, "w");
        if (!r->out) {
            fprintf(stderr, "ddos-flows: cannot write %s: %s\n", opt->out_path, strerror(errno));
            return -1;
        }
    } else {
        r->out = stdout;
    }
    setvbuf(r->out, outbuf, _IOFBF, OUT_BUFFER);

    char header[FLOW_CSV_ROW_MAX];
    size_t hn = flow_csv_format_header(header, sizeof(header), opt->mode);
    fwrite(header, 1, hn, r->out);
    if (r->manifest)
        fputs(opt->mode == FEAT_MODE_CIC ? ", Label" : ",Label", r->out);
    if (r->model)
        fputs(",Predicted Label,Attack Score", r->out);
    if (opt->snapshots)
        fputs(",Emit", r->out);
    fputc('\n', r->out);
    return 0;
}

/* -i: opens the interface; it counts as the one input. 0 or -1 after a message. */
static int open_live(struct run *r)
{
    const struct options *opt = r->opt;
    char err[CAPTURE_ERRBUF_SIZE];
    r->live_src = capture_source_open_live(opt->iface, &opt->capture, err);
    if (!r->live_src) {
        fprintf(stderr, "ddos-flows: %s\n", err);
        return -1;
    }
    if (!decode_linktype_supported(capture_source_linktype(r->live_src))) {
        fprintf(stderr, "ddos-flows: %s: link type %d is not supported\n", opt->iface,
                capture_source_linktype(r->live_src));
        return -1;
    }
    r->nfiles = 1;
    if (!opt->quiet)
        fprintf(stderr, "ddos-flows: capturing on %s, Ctrl-C to stop\n", opt->iface);
    return 0;
}

/* Starts the reader, consumes everything it reads, joins it and takes its totals. 0 or -1. */
static int read_all(struct run *r)
{
    if (burst_ring_init(&r->ring, NBURSTS) != 0) {
        fprintf(stderr, "ddos-flows: out of memory\n");
        return -1;
    }
    struct reader_config rc = {
        .files = r->files,
        .nfiles = r->nfiles,
        .live = r->live_src,
        .capture = r->opt->capture,
        .outs = {&r->ring},
        .nouts = 1,
        .mode = r->opt->mode,
        .tick = true,
        .mark_inputs = true,
        .stop = &stop_requested,
        .on_damage = on_input_damaged,
        .user = r,
    };
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    r->start_mono = dd_mono_s();
    if (reader_start(&r->reader, &rc) != 0) {
        fprintf(stderr, "ddos-flows: cannot start the reader thread\n");
        return -1;
    }
    signal_reader = &r->reader;
    run_pipeline(r);
    signal_reader = NULL;
    reader_join(&r->reader);
    r->packets = atomic_load(&r->reader.cap.packets);
    r->bytes = atomic_load(&r->reader.cap.bytes);
    for (int i = 0; i < DECODE_STATUS_COUNT; i++)
        r->decode[i] = atomic_load(&r->reader.cap.decode[i]);
    return 0;
}

/* After the last packet: kernel counters (live), the last flows, the summaries. Returns the exit
 * status. */
static int finish(struct run *r)
{
    const struct options *opt = r->opt;
    int status = 0;
    if (r->live_src && capture_source_kernel_stats(r->live_src, &r->kernel) == 0) {
        r->have_kernel = true;
        if (!opt->quiet)
            fprintf(stderr,
                    "  kernel: received %" PRIu64 ", dropped %" PRIu64
                    ", interface dropped %" PRIu64 "\n",
                    r->kernel.received, r->kernel.dropped, r->kernel.if_dropped);
    }
    flow_table_flush(r->table);
    if (fflush(r->out) != 0 || ferror(r->out)) {
        fprintf(stderr, "ddos-flows: writing %s failed: %s\n",
                opt->out_path ? opt->out_path : "standard output", strerror(errno));
        status = 1;
    }
    double elapsed = dd_mono_s() - r->start_mono;
    if (opt->progress)
        show_progress(r, true);
    if (!opt->quiet)
        print_summary(r, stderr, elapsed);
    if (opt->summary_json && write_summary_json(r, opt->summary_json, elapsed) != 0)
        status = 1;
    if (r->summary && write_summary_html(r, elapsed) != 0)
        status = 1;
    if (status == 0 && (r->damaged_inputs || r->write_errors))
        status = 2;
    return status;
}

int main(int argc, char **argv)
{
    struct options opt = {0};
    struct run r = {.opt = &opt};
    struct manifest *manifest = NULL;
    int status = 1;

    log_configure(stderr, LOG_LEVEL_WARN);
    if (parse_args(argc, argv, &opt) != 0 || load_manifest_and_model(&r, &manifest) != 0 ||
        resolve_inputs(&r, manifest) != 0 || open_output(&r) != 0 ||
        (opt.iface && open_live(&r) != 0) || read_all(&r) != 0)
        goto out;
    status = finish(&r);

out:
    if (r.summary_out)
        fclose(r.summary_out);
    flows_summary_destroy(r.summary);
    if (r.out && r.out != stdout)
        fclose(r.out);
    else if (r.out)
        fflush(r.out);
    flow_table_destroy(r.table);
    capture_source_close(r.live_src);
    burst_ring_destroy(&r.ring);
    capture_inputs_free(r.files, r.files ? r.nfiles : 0); /* -i: no files */
    manifest_free(manifest);
    model_unref(r.model);
    free(opt.inputs);
    return status;
}
