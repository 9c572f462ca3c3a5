/* test_source.c - unit tests for capture/source.c's file reading.
 *
 * Plain pcap files are read from a mapping of the file, not through libpcap's fread loop
 * (source.c, DESIGN), and must give exactly what libpcap gives: every packet with its time
 * stamp (libpcap's nanosecond precision and the microsecond rounding of source_trampoline), its
 * captured and wire lengths and its bytes, in order, in dispatches of any size, and the same end:
 * CAPTURE_END, or CAPTURE_FAILED with libpcap's own message for a damaged file. Each test writes
 * a capture into a temporary directory and reads it twice: through capture_source and through
 * libpcap directly (the reference), comparing a digest of every packet. Files bigger than the
 * mapping's window, nanosecond files, time stamps with the high bit set, a record longer than the
 * snapshot length (libpcap cuts it and reads on), files cut inside a record or a record header,
 * the other byte order and a BPF filter (libpcap reads those) are covered, and breaks, and a
 * file that grows while it is read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "capture/source.h"

enum { MAX_PKTS = 40000, SNAPLEN = 2000 };

/* One delivered packet: enough to tell any difference. */
struct seen {
    uint64_t ts_us;
    uint32_t caplen, wire_len;
    uint64_t digest; /* FNV-1a of the bytes */
};

struct run {
    struct seen *p;
    size_t n;
    int end; /* the last dispatch's return: CAPTURE_END or CAPTURE_FAILED */
    char error[PCAP_ERRBUF_SIZE + 600];
};

static uint64_t fnv(const uint8_t *b, uint32_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static void note(struct run *r, uint64_t ts_us, uint32_t caplen, uint32_t wire_len,
                 const uint8_t *data)
{
    assert_true(r->n < MAX_PKTS);
    r->p[r->n++] = (struct seen){ts_us, caplen, wire_len, fnv(data, caplen)};
}

static void on_packet(void *user, const struct capture_packet *pkt)
{
    note(user, pkt->ts_us, pkt->caplen, pkt->wire_len, pkt->data);
}

static void on_pcap(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    /* source_trampoline's arithmetic: files are opened at nanosecond precision. */
    note((struct run *)user, (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec / 1000u,
         h->caplen, h->len < h->caplen ? h->caplen : h->len, bytes);
}

static void run_init(struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->p = calloc(MAX_PKTS, sizeof(*r->p));
    assert_non_null(r->p);
}

/* The reference: libpcap itself, in dispatches of `chunk`. */
static void read_libpcap(const char *path, const char *filter, int chunk, struct run *r)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
    assert_non_null(p);
    if (filter) {
        struct bpf_program prog;
        assert_int_equal(pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN), 0);
        assert_int_equal(pcap_setfilter(p, &prog), 0);
        pcap_freecode(&prog);
    }
    for (;;) {
        int n = pcap_dispatch(p, chunk, on_pcap, (u_char *)r);
        if (n == 0) {
            r->end = CAPTURE_END;
            break;
        }
        if (n < 0) {
            r->end = CAPTURE_FAILED;
            snprintf(r->error, sizeof(r->error), "%s: %s", path, pcap_geterr(p));
            break;
        }
    }
    pcap_close(p);
}

/* capture_source, in dispatches of `chunk`; *mapped: whether it started on the mapping. */
static void read_source(const char *path, const char *filter, int chunk, struct run *r,
                        bool *mapped)
{
    char err[CAPTURE_ERRBUF_SIZE];
    struct capture_options o = {.filter = filter};
    struct capture_source *s = capture_source_open_file(path, &o, err);
    assert_non_null(s);
    *mapped = capture_source_mapped(s);
    for (;;) {
        int n = capture_source_dispatch(s, chunk, on_packet, r);
        if (n == CAPTURE_END || n == CAPTURE_FAILED) {
            r->end = n;
            if (n == CAPTURE_FAILED)
                snprintf(r->error, sizeof(r->error), "%s", capture_source_error(s));
            else
                assert_true(capture_source_progress(s) == 1.0);
            break;
        }
        assert_true(n > 0 && n <= chunk);
    }
    capture_source_close(s);
}

static void assert_same_runs(const struct run *a, const struct run *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->p[i].ts_us, b->p[i].ts_us);
        assert_int_equal(a->p[i].caplen, b->p[i].caplen);
        assert_int_equal(a->p[i].wire_len, b->p[i].wire_len);
        assert_int_equal(a->p[i].digest, b->p[i].digest);
    }
    assert_int_equal(a->end, b->end);
    assert_string_equal(a->error, b->error);
}

/* Reads path both ways in dispatches of several sizes and compares; returns whether
 * capture_source started on its mapping. */
static bool compare_both_ways(const char *path, const char *filter)
{
    static const int chunks[] = {1, 7, 256, 100000};
    bool mapped = false;
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        struct run want, got;
        run_init(&want);
        run_init(&got);
        read_libpcap(path, filter, chunks[c], &want);
        read_source(path, filter, chunks[c], &got, &mapped);
        assert_true(want.n > 0);
        assert_same_runs(&want, &got);
        free(want.p);
        free(got.p);
    }
    return mapped;
}

/* ---- writing captures ---------------------------------------------------------------------- */

struct capfile {
    char path[256];
    FILE *f;
    bool swap;
};

static uint32_t sw32(uint32_t v, bool swap)
{
    return swap ? __builtin_bswap32(v) : v;
}

static void put32(struct capfile *c, uint32_t v)
{
    v = sw32(v, c->swap);
    assert_int_equal(fwrite(&v, 4, 1, c->f), 1);
}

static void cap_open(struct capfile *c, const char *name, uint32_t magic, uint32_t snaplen,
                     bool swap)
{
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(c->path, sizeof(c->path), "%s/test_source_%d_%s.pcap", dir, (int)getpid(), name);
    c->f = fopen(c->path, "wb");
    assert_non_null(c->f);
    c->swap = swap;
    put32(c, magic);
    uint16_t ver[2] = {2, 4};
    if (swap) {
        ver[0] = __builtin_bswap16(ver[0]);
        ver[1] = __builtin_bswap16(ver[1]);
    }
    assert_int_equal(fwrite(ver, 2, 2, c->f), 2);
    put32(c, 0);
    put32(c, 0);
    put32(c, snaplen);
    put32(c, 1); /* Ethernet */
}

/* An Ethernet/IPv4/UDP frame of caplen bytes (at least 42), its bytes depending on seq. */
static void cap_packet(struct capfile *c, uint32_t sec, uint32_t frac, uint32_t caplen,
                       uint32_t wire_len, uint32_t seq)
{
    put32(c, sec);
    put32(c, frac);
    put32(c, caplen);
    put32(c, wire_len);
    uint8_t b[70000];
    assert_true(caplen <= sizeof(b));
    for (uint32_t i = 0; i < caplen; i++)
        b[i] = (uint8_t)(seq * 31 + i * 7);
    if (caplen >= 42) {
        static const uint8_t hdr[] = {
            0,    1,    2, 3,  4, 5, 6, 7, 8,  9,  10, 11, 0x08, 0x00, /* Ethernet */
            0x45, 0,    0, 28, 0, 0, 0, 0, 64, 17, 0,  0,  10,   0,    0, 1, 10, 0, 0, 2, /* IPv4 */
            0x30, 0x39, 0, 53, 0, 8, 0, 0};                                               /* UDP */
        memcpy(b, hdr, sizeof(hdr));
        b[29] = (uint8_t)seq;
    }
    assert_int_equal(fwrite(b, 1, caplen, c->f), caplen);
}

static void cap_close(struct capfile *c)
{
    assert_int_equal(fclose(c->f), 0);
}

/* Packets of varied sizes, enough bytes to move the mapping's window several times. */
static void cap_many(struct capfile *c, uint32_t n, bool nsec)
{
    uint64_t seed = 88172645463325252ull;
    for (uint32_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        uint32_t caplen = 42 + (uint32_t)(seed % (SNAPLEN - 42 + 1));
        uint32_t wire = (seed >> 20) % 8 == 0 ? caplen - 2 : caplen + (uint32_t)(seed >> 40) % 100;
        uint32_t frac =
            nsec ? (uint32_t)(seed >> 12) % 1000000000u : (uint32_t)(seed >> 12) % 1000000u;
        cap_packet(c, 1700000000u + i / 1000, frac, caplen, wire, i);
    }
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_plain_micro_and_nano(void **state)
{
    (void)state;
    struct capfile c;
    cap_open(&c, "micro", 0xa1b2c3d4u, SNAPLEN, false);
    cap_many(&c, 12000, false); /* ~12 MB: three windows */
    cap_close(&c);
    assert_true(compare_both_ways(c.path, NULL));
    unlink(c.path);

    cap_open(&c, "nano", 0xa1b23c4du, SNAPLEN, false);
    cap_many(&c, 3000, true);
    cap_close(&c);
    assert_true(compare_both_ways(c.path, NULL));
    unlink(c.path);
}

/* Seconds with the high bit set and fractions out of range: libpcap's signed 32-bit reads. */
static void test_odd_time_stamps(void **state)
{
    (void)state;
    static const uint32_t secs[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
    static const uint32_t fracs[] = {0,           999999,      1000000,    999999999,
                                     0x7fffffffu, 0x80000001u, 0xffffffffu};
    for (int nsec = 0; nsec < 2; nsec++) {
        struct capfile c;
        cap_open(&c, nsec ? "ts_nano" : "ts_micro", nsec ? 0xa1b23c4du : 0xa1b2c3d4u, SNAPLEN,
                 false);
        uint32_t seq = 0;
        for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++)
            for (size_t k = 0; k < sizeof(fracs) / sizeof(fracs[0]); k++)
                cap_packet(&c, secs[i], fracs[k], 60, 60, seq++);
        cap_close(&c);
        assert_true(compare_both_ways(c.path, NULL));
        unlink(c.path);
    }
}

/* A record longer than the file's snapshot length: libpcap keeps its first snaplen bytes and
 * reads on; so does capture_source (it hands the rest of the file to libpcap). */
static void test_record_longer_than_snaplen(void **state)
{
    (void)state;
    struct capfile c;
    cap_open(&c, "long", 0xa1b2c3d4u, 200, false);
    for (uint32_t i = 0; i < 50; i++)
        cap_packet(&c, 1700000000u, i, 60 + i, 1500, i);
    cap_packet(&c, 1700000001u, 0, 900, 900, 1000); /* > snaplen 200 */
    for (uint32_t i = 0; i < 50; i++)
        cap_packet(&c, 1700000002u, i, 100, 100, 2000 + i);
    cap_close(&c);
    assert_true(compare_both_ways(c.path, NULL));
    unlink(c.path);
}

/* Files cut inside a record's bytes and inside a record header: libpcap's "truncated dump
 * file" with its counts, after every whole packet. */
static void test_cut_short(void **state)
{
    (void)state;
    for (int where = 0; where < 3; where++) {
        struct capfile c;
        cap_open(&c, "cut", 0xa1b2c3d4u, SNAPLEN, false);
        cap_many(&c, 6000, false); /* past the first window */
        if (where == 0) {          /* a header that promises more bytes than follow */
            put32(&c, 1700000100u);
            put32(&c, 0);
            put32(&c, 500);
            put32(&c, 500);
            assert_int_equal(fwrite("abcdefghij", 1, 10, c.f), 10);
        } else if (where == 1) { /* half a record header */
            put32(&c, 1700000100u);
            put32(&c, 0);
        } else { /* a header and nothing else */
            put32(&c, 1700000100u);
            put32(&c, 0);
            put32(&c, 60);
            put32(&c, 60);
        }
        cap_close(&c);
        assert_true(compare_both_ways(c.path, NULL));
        struct run r;
        run_init(&r);
        read_libpcap(c.path, NULL, 256, &r);
        assert_int_equal(r.end, CAPTURE_FAILED);
        assert_non_null(strstr(r.error, "truncated dump file"));
        free(r.p);
        unlink(c.path);
    }
}

/* What libpcap must read itself: the other byte order, and any file with a filter. */
static void test_libpcap_reads_the_rest(void **state)
{
    (void)state;
    struct capfile c;
    cap_open(&c, "swapped", 0xa1b2c3d4u, SNAPLEN, true);
    cap_many(&c, 500, false);
    cap_close(&c);
    assert_false(compare_both_ways(c.path, NULL));
    unlink(c.path);

    cap_open(&c, "filtered", 0xa1b2c3d4u, SNAPLEN, false);
    cap_many(&c, 500, false);
    cap_close(&c);
    assert_false(compare_both_ways(c.path, "udp"));
    unlink(c.path);
}

/* A break before a dispatch makes it return CAPTURE_BROKEN without a packet; the next one reads
 * on from where the file stood, as libpcap's pcap_breakloop does. */
static void test_break(void **state)
{
    (void)state;
    struct capfile c;
    cap_open(&c, "break", 0xa1b2c3d4u, SNAPLEN, false);
    cap_many(&c, 100, false);
    cap_close(&c);
    char err[CAPTURE_ERRBUF_SIZE];
    struct capture_source *s = capture_source_open_file(c.path, NULL, err);
    assert_non_null(s);
    assert_true(capture_source_mapped(s));
    struct run r;
    run_init(&r);
    assert_int_equal(capture_source_dispatch(s, 10, on_packet, &r), 10);
    capture_source_break(s);
    assert_int_equal(capture_source_dispatch(s, 10, on_packet, &r), CAPTURE_BROKEN);
    assert_int_equal(r.n, 10);
    int n;
    while ((n = capture_source_dispatch(s, 32, on_packet, &r)) > 0)
        ;
    assert_int_equal(n, CAPTURE_END);
    assert_int_equal(r.n, 100);
    capture_source_close(s);
    free(r.p);
    unlink(c.path);
}

/* A file still being written: what was appended after the open is read too, as libpcap reads
 * it (the mapping covers the size at open, libpcap the rest). */
static void test_growing_file(void **state)
{
    (void)state;
    struct capfile c;
    cap_open(&c, "growing", 0xa1b2c3d4u, SNAPLEN, false);
    cap_many(&c, 3000, false);
    cap_close(&c);
    char err[CAPTURE_ERRBUF_SIZE];
    struct capture_source *s = capture_source_open_file(c.path, NULL, err);
    assert_non_null(s);
    assert_true(capture_source_mapped(s));
    struct run r;
    run_init(&r);
    assert_int_equal(capture_source_dispatch(s, 100, on_packet, &r), 100);
    c.f = fopen(c.path, "ab");
    assert_non_null(c.f);
    for (uint32_t i = 0; i < 40; i++)
        cap_packet(&c, 1800000000u, i, 60 + i, 60 + i, 90000 + i);
    cap_close(&c);
    int n;
    while ((n = capture_source_dispatch(s, 256, on_packet, &r)) > 0)
        ;
    assert_int_equal(n, CAPTURE_END);
    assert_int_equal(r.n, 3040);
    assert_int_equal(r.p[3039].ts_us, 1800000000ull * 1000000u + 39);
    assert_false(capture_source_mapped(s)); /* libpcap read the end */
    capture_source_close(s);
    free(r.p);
    unlink(c.path);
}

/* A break one packet before the end of the file, where the mapped reader hands over to libpcap:
 * the break, the last packet and the end come as libpcap alone gives them. */
static void test_break_at_the_end(void **state)
{
    (void)state;
    struct capfile c;
    cap_open(&c, "break_end", 0xa1b2c3d4u, SNAPLEN, false);
    cap_many(&c, 20, false);
    cap_close(&c);
    for (int mapped = 0; mapped < 2; mapped++) {
        char err[CAPTURE_ERRBUF_SIZE];
        /* A filter makes libpcap read the file: the same sequence is expected of both. */
        struct capture_options o = {.filter = mapped ? NULL : "udp"};
        struct capture_source *s = capture_source_open_file(c.path, &o, err);
        assert_non_null(s);
        assert_int_equal(capture_source_mapped(s), mapped);
        struct run r;
        run_init(&r);
        assert_int_equal(capture_source_dispatch(s, 19, on_packet, &r), 19);
        capture_source_break(s);
        assert_int_equal(capture_source_dispatch(s, 5, on_packet, &r), CAPTURE_BROKEN);
        assert_int_equal(capture_source_dispatch(s, 5, on_packet, &r), 1);
        assert_int_equal(capture_source_dispatch(s, 5, on_packet, &r), CAPTURE_END);
        assert_int_equal(r.n, 20);
        capture_source_close(s);
        free(r.p);
    }
    unlink(c.path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_micro_and_nano),
        cmocka_unit_test(test_odd_time_stamps),
        cmocka_unit_test(test_record_longer_than_snaplen),
        cmocka_unit_test(test_cut_short),
        cmocka_unit_test(test_libpcap_reads_the_rest),
        cmocka_unit_test(test_break),
        cmocka_unit_test(test_growing_file),
        cmocka_unit_test(test_break_at_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
