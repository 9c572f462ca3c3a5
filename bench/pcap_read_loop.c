/* pcap_read_loop.c - ddos-bench-pcaploop: the bare libpcap read loop, the ceiling for ddos-flows.
 *
 * Owns nothing beyond one pcap handle and a few counters. It opens a capture file the way
 * ddos-flows does (nanosecond timestamp precision), drains it with pcap_dispatch batches, and
 * does the least work a real consumer must: read each packet's header and touch its first and
 * last captured byte. Whatever ddos-flows spends beyond this loop is the cost of decoding and
 * flow tracking, which is what bench/bench_flows.sh reports as a ratio.
 *
 * Output: one JSON line on stdout,
 *   {"packets":N,"bytes":B,"elapsed_s":T,"pps":P,"checksum":X}
 * where bytes is the sum of caplen and elapsed_s covers open and loop (CLOCK_MONOTONIC). */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct loop_stats {
    uint64_t packets;
    uint64_t bytes;
    uint64_t checksum;
};

/* The checksum is printed, so the compiler must load both bytes of every packet. */
static void loop_packet_touch(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct loop_stats *s = (struct loop_stats *)user;
    s->packets++;
    s->bytes += h->caplen;
    if (h->caplen > 0) {
        uint64_t x = (uint64_t)bytes[0] | (uint64_t)bytes[h->caplen - 1] << 8;
        s->checksum = ((s->checksum << 5) | (s->checksum >> 59)) ^ x;
    }
}

static double loop_clock_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc == 2 ? stdout : stderr,
                "usage: ddos-bench-pcaploop FILE\n"
                "Reads FILE with libpcap (pcap_dispatch, nanosecond precision), touches every\n"
                "packet and prints {\"packets\",\"bytes\",\"elapsed_s\",\"pps\",\"checksum\"} as "
                "one JSON line.\n");
        return argc == 2 ? 0 : 2;
    }
    char errbuf[PCAP_ERRBUF_SIZE];
    struct loop_stats s = {0};
    double t0 = loop_clock_seconds();
    pcap_t *p =
        pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (p == NULL) {
        fprintf(stderr, "ddos-bench-pcaploop: %s\n", errbuf);
        return 1;
    }
    int n;
    while ((n = pcap_dispatch(p, -1, loop_packet_touch, (u_char *)&s)) > 0)
        ;
    if (n == PCAP_ERROR) {
        fprintf(stderr, "ddos-bench-pcaploop: reading %s: %s\n", argv[1], pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    double elapsed = loop_clock_seconds() - t0;
    pcap_close(p);
    printf("{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"elapsed_s\":%.6f,\"pps\":%.0f,"
           "\"checksum\":%" PRIu64 "}\n",
           s.packets, s.bytes, elapsed, elapsed > 0 ? (double)s.packets / elapsed : 0.0,
           s.checksum);
    return 0;
}
