/* flow_test_util.h - scaffolding shared by the flow unit tests (test_flow, test_flow_table,
 * test_flow_csv, test_manifest): decoded packets built by hand, flows built the way the flow
 * table builds them, table configuration and feature-vector comparison.
 *
 * Compiled into each test that uses it (tests/unit/tests.cmake: target_sources). The helpers
 * check their own preconditions with cmocka assertions (inet_pton accepting an address,
 * flow_key_from_packet accepting a packet, ...), so they may only be called from inside a
 * running cmocka test. Everything is returned by value or written to caller-owned storage:
 * nothing here allocates, and nothing needs to be freed.
 *
 * Each test keeps its own specific helpers (its sink for ended flows, its packet defaults,
 * its assertions) in its own file. */
#ifndef DDOSD_TESTS_FLOW_TEST_UTIL_H
#define DDOSD_TESTS_FLOW_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "features/feature_set.h"
#include "features/flow.h"
#include "features/flow_table.h"

/* One second in the microseconds flow tables count in. */
#define SEC 1000000ull
/* 2017-07-07 14:00:00 UTC, the CIC-IDS2017 Friday: the base time of the tests' packets. */
#define T0 1499436000000000ull

/* ---- packets ---------------------------------------------------------------------------- */

/* Returns the skeleton of a decoded IPv4 (ipv 4) or IPv6 (ipv 6) packet with an L4 header:
 * addresses from their text (src/dst must parse for that family), ports, protocol, PKT_F_L4 and
 * the IP header length (20 or 40). Every other field is 0. */
struct pkt_info pkt_base(int ipv, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                         uint8_t proto);

/* Sets p's L4 payload: payload_len from the IP lengths, captured the legacy CICFlowMeter length
 * (Ethernet padding included); derives ip_total_len and wire_len == caplen from p's header
 * lengths (set l4_header_len first) on a 14-byte Ethernet header. */
void pkt_set_payload(struct pkt_info *p, uint32_t payload_len, uint32_t captured);

/* Returns a TCP packet: flags (TCP_* bits), raw window, L4 header length hdr, payload as in
 * pkt_set_payload. */
struct pkt_info pkt_tcp(int ipv, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                        uint8_t flags, uint16_t window, uint16_t hdr, uint32_t payload_len,
                        uint32_t captured);

/* Returns a UDP packet (8-byte header), payload as in pkt_set_payload. */
struct pkt_info pkt_udp(int ipv, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                        uint32_t payload_len, uint32_t captured);

/* Returns an ICMP (ipv 4) or ICMPv6 (ipv 6) packet without ports: type, code, echo identifier
 * id, an 8-byte header and payload_len bytes (captured the same). */
struct pkt_info pkt_icmp(int ipv, const char *src, const char *dst, uint8_t type, uint8_t code,
                         uint16_t id, uint32_t payload_len);

/* ---- flows and tables ------------------------------------------------------------------- */

/* Builds *f (caller-owned, overwritten) from pkts[0..n) at times ts[0..n) exactly as the flow
 * table would for one flow without timeouts: the first packet starts it, every later one must
 * have the same canonical key and is added with CICFlowMeter's 5 s activity threshold. n >= 1. */
void flow_build(struct flow *f, enum feat_mode mode, const struct pkt_info *pkts,
                const uint64_t *ts, size_t n);

/* Fills *c (caller-owned) with flow_table_config_defaults(mode), then capacity, seed and a
 * sweep period of one second of packet time (the sweep covers the table once per second). */
void config_for(struct flow_table_config *c, enum feat_mode mode, uint32_t capacity, uint64_t seed);

/* flow_table_add of a packet passed by value; returns what flow_table_add returns (the table's
 * flow, owned by t and valid until t's next call, or NULL). */
struct flow *add(struct flow_table *t, struct pkt_info p, uint64_t ts);

/* ---- feature vectors -------------------------------------------------------------------- */

/* Returns the index of the first of the FEAT_COUNT features where a and b differ, or
 * FEAT_COUNT when they are identical: equal values, or NaN in both (no tolerance). */
int feat_first_difference(const double *a, const double *b);

#endif
