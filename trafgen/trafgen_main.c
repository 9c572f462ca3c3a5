/* trafgen_main.c - `ddos-trafgen`, the command line of the labelled traffic generator.
 *
 * Owns argument parsing and the one-line summary; everything else is trafgen_run() in the
 * ddosd_trafgen library (trafgen.h), so tests drive the same code without a process.
 *
 * Exit status: 0 success; 1 usage error or failure (one line on stderr). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trafgen/trafgen.h"

static void usage(FILE *to)
{
    fputs("usage: ddos-trafgen -o OUT.pcap [-m OUT.json] [--seed N] [--scenario LIST]\n"
          "                    [--duration S] [--benign-clients N] [--one-way] [--start EPOCH]\n"
          "                    [--max-attack-packets N] [--snaplen N] [--list] [--help]\n"
          "\n"
          "Writes one labelled capture (classic pcap, Ethernet, microsecond timestamps) of benign\n"
          "background traffic with attacks mixed in, and its ground-truth manifest. The same\n"
          "seed and arguments always give a byte-identical capture.\n"
          "\n"
          "  -o, --output FILE        capture to write\n"
          "  -m, --manifest FILE      manifest (default: FILE with .pcap replaced by .json)\n"
          "  -s, --seed N             PRNG seed (default 1)\n"
          "      --scenario LIST      mix (1-4 attacks drawn from the seed, the default),\n"
          "                           benign (background only), all-attacks, or names\n"
          "                           separated by commas,\n"
          "                           e.g. syn_flood,icmp_error_flood (see --list: each\n"
          "                           scenario and the label its flows carry)\n"
          "  -d, --duration S         seconds of packet time (default 30)\n"
          "      --benign-clients N   benign client population (default 200)\n"
          "      --one-way            keep only packets toward the protected network\n"
          "      --start EPOCH        first packet time (default 1767225600, 2026-01-01)\n"
          "      --max-attack-packets N  per attack instance; larger drawn rates are scaled\n"
          "                           down to fit (default 2000000, 0: no limit)\n"
          "      --snaplen N          bytes kept per frame, 128..65535 (default 65535): every\n"
          "                           header and the wire lengths stay, files get smaller\n"
          "      --list               list scenarios\n"
          "  -q, --quiet              no summary on stderr\n"
          "  -h, --help               this text\n",
          to);
}

static int parse_u64(const char *name, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v < lo || v > hi) {
        fprintf(stderr,
                "ddos-trafgen: %s takes an integer in [%" PRIu64 ", %" PRIu64 "], not '%s'\n", name,
                lo, hi, s);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

/* OUT.pcap -> OUT.json; anything else gets .json appended. Caller frees. */
static char *manifest_default(const char *pcap)
{
    size_t n = strlen(pcap);
    char *m = malloc(n + 6);
    if (m == NULL)
        return NULL;
    memcpy(m, pcap, n + 1);
    if (n > 5 && strcmp(pcap + n - 5, ".pcap") == 0)
        m[n - 5] = '\0';
    strcat(m, ".json");
    return m;
}

int main(int argc, char **argv)
{
    enum {
        OPT_ONE_WAY = 256,
        OPT_START,
        OPT_LIST,
        OPT_CLIENTS,
        OPT_SCENARIO,
        OPT_MAXPKT,
        OPT_SNAP
    };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"manifest", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 's'},
        {"scenario", required_argument, NULL, OPT_SCENARIO},
        {"duration", required_argument, NULL, 'd'},
        {"benign-clients", required_argument, NULL, OPT_CLIENTS},
        {"one-way", no_argument, NULL, OPT_ONE_WAY},
        {"start", required_argument, NULL, OPT_START},
        {"max-attack-packets", required_argument, NULL, OPT_MAXPKT},
        {"snaplen", required_argument, NULL, OPT_SNAP},
        {"list", no_argument, NULL, OPT_LIST},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct trafgen_config cfg;
    trafgen_config_defaults(&cfg);
    cfg.argc = argc;
    cfg.argv = argv;
    bool quiet = false;
    char err[160];
    uint64_t v;
    int c;
    while ((c = getopt_long(argc, argv, "o:m:s:d:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            cfg.pcap_path = optarg;
            break;
        case 'm':
            cfg.manifest_path = optarg;
            break;
        case 's':
            if (parse_u64("--seed", optarg, 0, UINT64_MAX, &cfg.seed))
                return 1;
            break;
        case OPT_SCENARIO:
            if (trafgen_scenarios_parse(optarg, &cfg, err, sizeof err) != 0) {
                fprintf(stderr, "ddos-trafgen: --scenario: %s\n", err);
                return 1;
            }
            break;
        case 'd': {
            char *end;
            double d = strtod(optarg, &end);
            if (*end != '\0' || !(d > 0) || d > 86400) {
                fprintf(stderr, "ddos-trafgen: --duration takes seconds in (0, 86400]\n");
                return 1;
            }
            cfg.duration_s = d;
            break;
        }
        case OPT_CLIENTS:
            if (parse_u64("--benign-clients", optarg, 0, TRAFGEN_MAX_CLIENTS, &v))
                return 1;
            cfg.benign_clients = (uint32_t)v;
            break;
        case OPT_ONE_WAY:
            cfg.one_way = true;
            break;
        case OPT_START:
            if (parse_u64("--start", optarg, 0, 4000000000ULL, &cfg.start_epoch_s))
                return 1;
            break;
        case OPT_MAXPKT:
            if (parse_u64("--max-attack-packets", optarg, 0, UINT64_MAX / 4,
                          &cfg.max_attack_packets))
                return 1;
            break;
        case OPT_SNAP:
            if (parse_u64("--snaplen", optarg, 128, 65535, &v))
                return 1;
            cfg.snaplen = (uint32_t)v;
            break;
        case OPT_LIST:
            for (int s = 0; s < TG_SC_COUNT; s++)
                printf("%-18s %s\n", trafgen_scenario_name((enum trafgen_scenario)s),
                       trafgen_scenario_describe((enum trafgen_scenario)s));
            printf("%-18s %s\n%-18s %s\n", "mix", "1-4 attacks drawn from the seed", "all-attacks",
                   "every attack scenario once");
            return 0;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "Try 'ddos-trafgen --help'.\n");
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ddos-trafgen: unexpected argument '%s'\n", argv[optind]);
        return 1;
    }
    if (cfg.pcap_path == NULL) {
        fprintf(stderr, "ddos-trafgen: -o OUT.pcap is required (see --help)\n");
        return 1;
    }
    char *mdefault = NULL;
    if (cfg.manifest_path == NULL) {
        mdefault = manifest_default(cfg.pcap_path);
        if (mdefault == NULL) {
            fprintf(stderr, "ddos-trafgen: out of memory\n");
            return 1;
        }
        cfg.manifest_path = mdefault;
    }
    struct trafgen_stats st;
    int rc = trafgen_run(&cfg, &st);
    if (rc == 0 && !quiet)
        fprintf(stderr,
                "ddos-trafgen: %" PRIu64 " packets (%" PRIu64 " bytes on the wire), %u attack "
                "instance(s), seed %" PRIu64 ", %.2f s (%.2f Mpps) -> %s, %s\n",
                st.packets, st.wire_bytes, st.n_instances, cfg.seed, st.elapsed_s,
                st.elapsed_s > 0 ? (double)st.packets / st.elapsed_s / 1e6 : 0.0, cfg.pcap_path,
                cfg.manifest_path);
    free(mdefault);
    return rc == 0 ? 0 : 1;
}
