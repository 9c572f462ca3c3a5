/* source.h - packet sources over libpcap: a live interface or one capture file.
 *
 * A source hands packets to a callback in bursts (pcap_dispatch), with the timestamp already
 * converted to microseconds. Files may be pcap or pcapng, with micro- or nanosecond timestamps
 * (they are opened at nanosecond precision, so nothing is lost before the conversion).
 * capture_inputs_expand() turns the -r arguments (files and directories) into a sorted file list.
 *
 * Ownership: the packet bytes passed to the callback are borrowed from libpcap and are valid only
 * until the callback returns; copy anything you keep. One thread owns a source; only
 * capture_source_break() may be called from another thread (or a signal handler). */
#ifndef DD_CAPTURE_SOURCE_H
#define DD_CAPTURE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/compiler.h"

enum { CAPTURE_ERRBUF_SIZE = 512 };

struct capture_options {
    const char *filter; /* BPF expression, or NULL for every packet */
    int snaplen;        /* live only; 0 means 262144 */
    bool promiscuous;   /* live only */
    bool immediate;     /* live only: deliver packets as they arrive. On Linux libpcap then
                           uses TPACKET_V2, a ring of snaplen-sized frames (few of them with a
                           large snaplen); without it TPACKET_V3, blocks of packets packed at
                           their captured size, handed over when full or after timeout_ms:
                           fewer wake-ups and far more packets per MiB (ddosd uses V3) */
    int buffer_mb;      /* live only: kernel buffer; 0 means libpcap's default (2 MiB) */
    int timeout_ms;     /* live only: read timeout when not immediate (the longest a packet
                           waits in a V3 block on a quiet link); 0 means 100 */
    int fanout_group;   /* live only: > 0 joins this AF_PACKET fanout group (hash mode), so
                           several sources on one interface share its packets by flow */
};

/* One packet as delivered to the callback. */
struct capture_packet {
    uint64_t ts_us;      /* packet time, microseconds since the epoch */
    uint32_t caplen;     /* bytes in data */
    uint32_t wire_len;   /* bytes on the wire */
    const uint8_t *data; /* borrowed; valid during the callback only */
};

/* Kernel-side counters of a live source (pcap_stats); zero for files. */
struct capture_kernel_stats {
    uint64_t received;
    uint64_t dropped;    /* dropped by the kernel: the ring was full */
    uint64_t if_dropped; /* dropped by the interface/driver */
};

typedef void (*capture_packet_fn)(void *user, const struct capture_packet *pkt);

struct capture_source;

/* Opens a capture file (pcap or pcapng). On failure returns NULL and writes one actionable line
 * to err ("cannot open X: no such file", "X is not a pcap or pcapng capture", "bad filter ..."). */
struct capture_source *capture_source_open_file(const char *path,
                                                const struct capture_options *opts,
                                                char err[CAPTURE_ERRBUF_SIZE]);

/* Opens a live interface with pcap_create/pcap_activate. Same error convention. */
struct capture_source *capture_source_open_live(const char *iface,
                                                const struct capture_options *opts,
                                                char err[CAPTURE_ERRBUF_SIZE]);

/* Delivers up to max packets (max <= 0: one buffer's worth) to cb.
 * Returns the number delivered (0 on a live read timeout), CAPTURE_END at the end of a file,
 * or CAPTURE_FAILED with the reason in capture_source_error(). CAPTURE_BROKEN when
 * capture_source_break() interrupted it. */
enum { CAPTURE_END = -2, CAPTURE_FAILED = -1, CAPTURE_BROKEN = -3 };
DD_NODISCARD int capture_source_dispatch(struct capture_source *src, int max, capture_packet_fn cb,
                                         void *user);

/* Makes a running or the next dispatch return CAPTURE_BROKEN. Async-signal-safe. */
void capture_source_break(struct capture_source *src);

/* The DLT_* link type of the source; pass it to decode_packet(). */
int capture_source_linktype(const struct capture_source *src);

/* Fraction of a file consumed, in [0, 1]; negative for live sources. */
double capture_source_progress(const struct capture_source *src);

/* Size of the file in bytes (0 for live sources). */
uint64_t capture_source_file_size(const struct capture_source *src);

/* Fills kernel counters for a live source. Returns 0 or -EIO. */
DD_NODISCARD int capture_source_kernel_stats(struct capture_source *src,
                                             struct capture_kernel_stats *out);

/* The last error message of this source (never NULL). */
const char *capture_source_error(const struct capture_source *src);

/* The name given at open time (path or interface). */
const char *capture_source_name(const struct capture_source *src);

/* Closes the source. Accepts NULL. */
void capture_source_close(struct capture_source *src);

/* Expands input arguments into a list of capture files: a file is taken as is, a directory
 * contributes its regular files whose names end in .pcap, .pcapng, .cap or .dmp (sorted by name,
 * not recursive). Returns 0 and a malloc'd array of malloc'd
 * strings (free with capture_inputs_free), or -errno with a message in err. An empty directory
 * is an error ("no capture files in DIR"). */
DD_NODISCARD int capture_inputs_expand(const char *const *args, size_t nargs, char ***files,
                                       size_t *nfiles, char err[CAPTURE_ERRBUF_SIZE]);
void capture_inputs_free(char **files, size_t nfiles);

#endif
