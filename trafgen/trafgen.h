/* trafgen.h - the labelled traffic generator behind `ddos-trafgen`.
 *
 * trafgen_run() writes one classic pcap (Ethernet, microsecond timestamps) of benign background
 * traffic with attack scenarios mixed in, plus the ground-truth manifest (the format of
 * ../shared/data/manifest.json, parsed by app/manifest.c) that labels every attack flow by its
 * source CIDR. Output is a pure function of the configuration: the same seed and arguments give
 * a byte-identical capture.
 *
 * The library is single-threaded and keeps no global state; a run allocates its memory once at
 * start-up (sized from the configuration) and frees it before returning. */
#ifndef DD_TRAFGEN_TRAFGEN_H
#define DD_TRAFGEN_TRAFGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/compiler.h"

/* Scenario ids. TG_SC_BENIGN is the background that every run has; the others are attacks. */
enum trafgen_scenario {
    TG_SC_BENIGN,
    TG_SC_SYN_FLOOD,
    TG_SC_TCP_FLOOD,
    TG_SC_UDP_FLOOD,
    TG_SC_ICMP_FLOOD,
    TG_SC_UDP_AMPLIFICATION,
    TG_SC_TCP_REFLECTION,
    TG_SC_HTTP_FLOOD,
    TG_SC_SLOW_HTTP,
    TG_SC_PORTSCAN,
    TG_SC_ICMP_ERROR_FLOOD, /* labelled icmp_flood */
    TG_SC_FRAGMENT_FLOOD,   /* labelled udp_flood or icmp_flood, by the protocol carried */
    TG_SC_COUNT
};

enum {
    TRAFGEN_MAX_INSTANCES = 16, /* attack instances per run (address blocks are split 16 ways) */
    TRAFGEN_MAX_CLIENTS = 100000,
};

/* 2026-01-01T00:00:00Z: the default first packet time, fixed so runs are reproducible. */
#define TRAFGEN_DEFAULT_START 1767225600ULL

struct trafgen_config {
    const char *pcap_path;     /* required */
    const char *manifest_path; /* required (the CLI derives it from pcap_path) */
    uint64_t seed;
    double duration_s;       /* packet time covered, (0, 86400] */
    uint32_t benign_clients; /* 0 .. TRAFGEN_MAX_CLIENTS */
    bool one_way;            /* keep only packets travelling toward the protected network */
    uint64_t start_epoch_s;  /* timestamp of the capture's start */
    /* Attack instances in order; duplicates allowed (two syn_flood instances get two blocks). */
    uint32_t n_instances;
    uint8_t instances[TRAFGEN_MAX_INSTANCES]; /* enum trafgen_scenario, never TG_SC_BENIGN */
    bool mix;                                 /* ignore instances: draw 1-4 attacks from the seed */
    uint64_t max_attack_packets;              /* per instance; a drawn rate is scaled down to fit */
    uint32_t snaplen; /* bytes kept per frame, 128..65535 (every header fits); 0: 65535 */
    /* Recorded verbatim in the manifest's "generator" object for provenance; may be 0/NULL. */
    int argc;
    char *const *argv;
};

struct trafgen_stats {
    uint64_t packets;    /* written */
    uint64_t wire_bytes; /* sum of frame lengths */
    uint64_t file_bytes;
    uint64_t suppressed;  /* outbound packets dropped by one_way */
    uint32_t n_instances; /* attack instances actually run (mix resolved) */
    double elapsed_s;     /* wall clock spent generating */
};

/* Fills cfg with the defaults of the CLI (30 s, 200 clients, seed 1, fixed start, a seeded mix
 * of attacks, 2,000,000 packets per attack instance). */
void trafgen_config_defaults(struct trafgen_config *cfg);

/* Stable name ("syn_flood", ...) and one-line description of a scenario. Never NULL. A
 * scenario's manifest label is its name, except icmp_error_flood (icmp_flood) and
 * fragment_flood (udp_flood or icmp_flood, drawn per instance). */
const char *trafgen_scenario_name(enum trafgen_scenario sc);
const char *trafgen_scenario_describe(enum trafgen_scenario sc);

/* Parses a --scenario value: "benign", "mix", "all-attacks" or a comma-separated list of
 * scenario names into cfg->instances / cfg->mix. Returns 0, or -EINVAL with a one-line reason
 * in err. */
DD_NODISCARD int trafgen_scenarios_parse(const char *list, struct trafgen_config *cfg, char *err,
                                         uint32_t err_len);

/* Generates the capture and the manifest. Returns 0, or a negative errno after printing one
 * line on stderr (cannot open or write a file, out of memory). stats may be NULL. */
DD_NODISCARD int trafgen_run(const struct trafgen_config *cfg, struct trafgen_stats *stats);

#endif
