/* flow_csv.h - CICFlowMeter-compatible CSV rows for flows.
 *
 * cic mode writes the exact legacy CIC-IDS2017/CIC-DDoS2019 layout: 84 columns with their
 * original spellings (leading spaces, "CWE Flag Count", the duplicate "Fwd Header Length"), so
 * tools written for the published CSVs read ours unchanged. fixed mode writes the same
 * identifier and feature columns with clean names, without the duplicate, plus the ddosd extras
 * after Protocol (ICMP Type, ICMP Code, Service Port Class, Service Port Side). Callers append
 * their own columns (Label, predictions) and the newline.
 *
 * Numbers: integral values below 1e15 print as integers; others between 1e-3 and 9e12 with up to
 * 6 decimals; anything else as the shortest of %.15g / %.17g that reads back exactly; infinities
 * and NaN as Java prints them ("Infinity", "NaN"), which pandas reads as floats. Formatting avoids
 * printf on the common paths: a one-packet-per-flow flood makes this the hot path of the extractor.
 */
#ifndef DD_FEATURES_FLOW_CSV_H
#define DD_FEATURES_FLOW_CSV_H

#include <stddef.h>

#include "features/feature_set.h"
#include "features/flow.h"

/* Longest row flow_csv_format_row() can produce, with room to spare for caller columns. */
enum { FLOW_CSV_ROW_MAX = 8192 };

/* Writes the header (without a trailing comma or newline) into buf; returns its length, or 0 if
 * cap is too small. */
size_t flow_csv_format_header(char *buf, size_t cap, enum feat_mode mode);

/* Writes the identifier and feature columns of f (values v from flow_features_compute) into
 * buf, without a newline. Returns the length, or 0 if cap < FLOW_CSV_ROW_MAX / 2. */
size_t flow_csv_format_row(char *buf, size_t cap, const struct flow *f, const double v[FEAT_COUNT],
                           enum feat_mode mode);

/* Formats one number as described above into p (at least 40 bytes); returns the end. */
char *flow_csv_format_number(char *p, double v);

/* CICFlowMeter's Flow ID "A-B-portA-portB-proto" (A: the smaller IP compared as signed Java
 * bytes, §4.1) into p (at least 128 bytes); returns the end. */
char *flow_csv_format_flow_id(char *p, const struct flow *f);

/* "yyyy-MM-dd HH:mm:ss.ffffff" in UTC into p (at least 32 bytes); returns the end. */
char *flow_csv_format_timestamp(char *p, uint64_t ts_us);

/* The address as text (dotted quad or RFC 5952 IPv6) into p (at least 48 bytes). */
char *flow_csv_format_addr(char *p, const uint8_t addr[16], int ip_version);

#endif
