/* source.c - libpcap packet sources: capture files and live interfaces.
 *
 * Owns the pcap_t handle and the translation of libpcap's callback into ours (timestamps to
 * microseconds). Files are opened with nanosecond precision so pcapng and nanosecond pcap files
 * lose nothing before we round down to microseconds. Live sources use pcap_create/pcap_activate
 * so snaplen, promiscuous mode, immediate mode and the buffer size can all be set.
 *
 * DESIGN (files): libpcap opens every file (it knows the formats and says what is wrong with a
 * bad one), but the records of a plain pcap file (version 2.4, this machine's byte order, no
 * filter) are then read from a sliding read-only mapping of the file instead of libpcap's fread
 * loop, which copied every byte from the page cache twice (kernel to stdio, stdio to libpcap's
 * buffer): that copy was most of the offline reader's CPU. Packets are handed over exactly as
 * libpcap would (same caplen, wire length and time stamp arithmetic). The mapping is a window of
 * SOURCE_MAP_WINDOW bytes moved along the file, so resident memory does not grow with the file.
 * A record the mapping does not handle plainly (longer than the file's snapshot length, cut
 * short at the end of the file) hands the rest of the file back to libpcap at that record
 * (fseek of libpcap's FILE), so damaged files end with libpcap's own words and counts; so does
 * the end of the file as it was at open (what was written since is libpcap's to read) and a file
 * found shorter than that before a window is mapped (truncated under us: a mapping past its end
 * would fault). A file cut while its window is being read is the one case libpcap survives
 * and this reader does not (SIGBUS): replaying a capture while truncating it is not supported.
 *
 * Errors become one line an operator can act on; libpcap's own text is kept in it. */
#include "capture/source.h"

#include <dirent.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes of a file mapped at once (see DESIGN); a record never spans more than the snapshot
 * length (at most 256 KiB + 16), so a window always holds the next whole record. */
#define SOURCE_MAP_WINDOW (4u << 20)
#ifndef SOURCE_PREFETCH
#define SOURCE_PREFETCH 4096
#endif

/* The record header of a pcap file (pcap-savefile(5)), in this machine's byte order. */
struct source_rec_hdr {
    int32_t ts_sec; /* libpcap reads both as signed 32-bit values */
    int32_t ts_frac;
    uint32_t caplen;
    uint32_t len;
};

struct capture_source {
    pcap_t *pcap;
    FILE *file; /* the file libpcap reads (for progress), NULL when live */
    uint64_t file_size;
    int linktype;
    bool live;
    capture_packet_fn cb; /* valid during dispatch */
    void *user;
    char name[256];
    char error[CAPTURE_ERRBUF_SIZE];
    /* The mapped reader (see DESIGN); map_on false: libpcap reads. Atomic (sequentially
     * consistent with map_break): capture_source_break reads it from any thread. */
    _Atomic bool map_on;
    bool map_nsec;         /* the file's stamps are nanoseconds (else microseconds) */
    uint32_t map_snapshot; /* libpcap's snapshot length for the file */
    int map_fd;            /* fileno(file) */
    uint64_t map_off;      /* file offset of the next record */
    uint64_t map_ahead;    /* file bytes before this offset have been prefetched */
    uint8_t *map;          /* the window: file bytes [map_base, map_base + map_len) */
    uint64_t map_base;
    size_t map_len;
    _Atomic bool map_break; /* capture_source_break while mapped, as libpcap's break_loop */
};

static void source_trampoline(u_char *arg, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct capture_source *s = (struct capture_source *)arg;
    /* Opened at nanosecond precision: tv_usec holds nanoseconds. */
    struct capture_packet pkt = {
        .ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec / 1000u,
        .caplen = h->caplen,
        .wire_len = h->len < h->caplen ? h->caplen : h->len,
        .data = bytes,
    };
    s->cb(s->user, &pkt);
}

static int source_set_filter(struct capture_source *s, const char *filter, char *err)
{
    struct bpf_program prog;
    if (!filter || !*filter)
        return 0;
    if (pcap_compile(s->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, CAPTURE_ERRBUF_SIZE, "bad filter \"%s\": %s", filter, pcap_geterr(s->pcap));
        return -EINVAL;
    }
    int rc = pcap_setfilter(s->pcap, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        snprintf(err, CAPTURE_ERRBUF_SIZE, "cannot apply filter \"%s\": %s", filter,
                 pcap_geterr(s->pcap));
        return -EINVAL;
    }
    return 0;
}

/* ---- the mapped reader of plain pcap files (see DESIGN) ------------------------------------ */

/* Turns the mapped reader on when the file is a pcap file libpcap reads without any
 * transformation: version 2.4 (lengths in today's order), this machine's byte order, micro- or
 * nanosecond stamps (not the modified formats with longer record headers). libpcap has read
 * the 24-byte file header; records start there. */
static void source_map_setup(struct capture_source *s)
{
    uint8_t hdr[24];
    int fd = fileno(s->file);
    if (fd < 0 || s->file_size < sizeof(hdr) || pread(fd, hdr, sizeof(hdr), 0) != sizeof(hdr))
        return;
    uint32_t magic;
    uint16_t major, minor;
    memcpy(&magic, hdr, 4);
    memcpy(&major, hdr + 4, 2);
    memcpy(&minor, hdr + 6, 2);
    if ((magic != 0xa1b2c3d4u && magic != 0xa1b23c4du) || major != 2 || minor != 4 ||
        pcap_is_swapped(s->pcap) || pcap_snapshot(s->pcap) <= 0)
        return;
    atomic_store(&s->map_on, true);
    s->map_nsec = magic == 0xa1b23c4du;
    s->map_snapshot = (uint32_t)pcap_snapshot(s->pcap);
    s->map_fd = fd;
    s->map_off = sizeof(hdr);
}

static uint64_t source_page_floor(uint64_t off)
{
    static uint64_t page;
    if (page == 0)
        page = (uint64_t)sysconf(_SC_PAGESIZE);
    return off / page * page;
}

static void source_unmap(struct capture_source *s)
{
    if (s->map)
        munmap(s->map, s->map_len);
    s->map = NULL;
    s->map_len = 0;
}

/* Maps the window that starts at the page holding file offset off. false: no mapping (then
 * libpcap reads on). */
static bool source_map_at(struct capture_source *s, uint64_t off)
{
    source_unmap(s);
    /* A file cut shorter since it was opened: a mapping past its end would fault (SIGBUS),
     * where libpcap says the file is truncated. */
    struct stat st;
    if (fstat(s->map_fd, &st) != 0 || (uint64_t)st.st_size < s->file_size)
        return false;
    uint64_t base = source_page_floor(off);
    uint64_t len =
        s->file_size - base < SOURCE_MAP_WINDOW ? s->file_size - base : SOURCE_MAP_WINDOW;
    /* MAP_POPULATE: the window's pages are mapped in one call, not one fault per 64 KiB. */
    void *m =
        mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, s->map_fd, (off_t)base);
    if (m == MAP_FAILED)
        return false;
    s->map = m;
    s->map_base = base;
    s->map_len = (size_t)len;
    return true;
}

/* libpcap reads on from the record at map_off (its own checks and error text for it). */
static void source_map_handover(struct capture_source *s)
{
    source_unmap(s);
    atomic_store(&s->map_on, false);
    /* A break that came while the mapping was read is libpcap's to honour now. The store above
     * and the load below pair with capture_source_break's (all sequentially consistent): a
     * break is never lost between the two readers, at worst set twice. */
    if (atomic_exchange(&s->map_break, false))
        pcap_breakloop(s->pcap);
    if (fseeko(s->file, (off_t)s->map_off, SEEK_SET) != 0)
        clearerr(s->file); /* libpcap then reads where it stood and reports what it finds */
}

/* capture_source_dispatch for the mapped reader: what pcap_dispatch would return. */
static int source_map_dispatch(struct capture_source *s, int max, capture_packet_fn cb, void *user)
{
    int n = 0;
    for (;;) {
        if (atomic_load_explicit(&s->map_break, memory_order_relaxed)) {
            /* as libpcap: a break ends this call; with none delivered, -2 */
            if (n == 0) {
                atomic_store(&s->map_break, false);
                return CAPTURE_BROKEN;
            }
            return n;
        }
        if (s->map_off >= s->file_size) {
            /* The size at open: libpcap reads on from here, so a file still being written
             * ends where libpcap would end it, and this one where it ends now. */
            source_map_handover(s);
            break;
        }
        uint64_t end = s->map_base + s->map_len;
        struct source_rec_hdr h;
        bool have_hdr = s->map && s->map_off >= s->map_base && s->map_off + sizeof(h) <= end;
        if (have_hdr)
            memcpy(&h, s->map + (s->map_off - s->map_base), sizeof(h));
        if (!have_hdr || s->map_off + sizeof(h) + h.caplen > end || h.caplen > s->map_snapshot) {
            /* Not plainly in the window: move the window to the record, unless libpcap must
             * judge it (longer than the snapshot), or it did not fit a window that starts at
             * it (cut short by the end of the file). */
            bool fresh = s->map && s->map_base == source_page_floor(s->map_off);
            if ((have_hdr && h.caplen > s->map_snapshot) || fresh ||
                !source_map_at(s, s->map_off)) {
                source_map_handover(s);
                break;
            }
            continue;
        }
        /* The records are read in file order, but each is a cache miss the hardware does not
         * foresee (their lengths vary): fetch the lines SOURCE_PREFETCH bytes ahead. */
        uint64_t want = s->map_off + SOURCE_PREFETCH < end ? s->map_off + SOURCE_PREFETCH : end;
        if (s->map_ahead < s->map_off)
            s->map_ahead = s->map_off;
        for (; s->map_ahead < want; s->map_ahead += 64)
            __builtin_prefetch(s->map + (s->map_ahead - s->map_base));
        const uint8_t *data = s->map + (s->map_off - s->map_base) + sizeof(h);
        s->map_off += sizeof(h) + h.caplen;
        /* The arithmetic of libpcap (nanosecond precision) and source_trampoline together. */
        long frac_ns = s->map_nsec ? (long)h.ts_frac : (long)h.ts_frac * 1000;
        struct capture_packet pkt = {
            .ts_us = (uint64_t)(long)h.ts_sec * 1000000u + (uint64_t)frac_ns / 1000u,
            .caplen = h.caplen,
            .wire_len = h.len < h.caplen ? h.caplen : h.len,
            .data = data,
        };
        cb(user, &pkt);
        if (++n >= max && max > 0)
            return n;
    }
    /* libpcap reads the rest of this call (and of the file). */
    int rest = max > 0 ? max - n : -1;
    s->cb = cb;
    s->user = user;
    int m = pcap_dispatch(s->pcap, rest, source_trampoline, (u_char *)s);
    if (m == PCAP_ERROR_BREAK) {
        if (n > 0) /* as libpcap: this call returns its packets, the next one the break */
            pcap_breakloop(s->pcap);
        return n > 0 ? n : CAPTURE_BROKEN;
    }
    if (m < 0) {
        snprintf(s->error, sizeof(s->error), "%s: %s", s->name, pcap_geterr(s->pcap));
        return CAPTURE_FAILED;
    }
    n += m;
    return n > 0 ? n : CAPTURE_END;
}

struct capture_source *capture_source_open_file(const char *path,
                                                const struct capture_options *opts,
                                                char err[CAPTURE_ERRBUF_SIZE])
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, CAPTURE_ERRBUF_SIZE, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, CAPTURE_ERRBUF_SIZE, "%s is a directory, not a capture file", path);
        return NULL;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, CAPTURE_ERRBUF_SIZE, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct capture_source *s = calloc(1, sizeof(*s));
    if (!s) {
        fclose(fp);
        snprintf(err, CAPTURE_ERRBUF_SIZE, "out of memory opening %s", path);
        return NULL;
    }
    /* Hand libpcap our FILE so we can ask it how far we are. */
    s->pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, pcap_err);
    if (!s->pcap) {
        fclose(fp);
        free(s);
        if (strstr(pcap_err, "unknown file format") || strstr(pcap_err, "truncated dump") ||
            strstr(pcap_err, "bad dump file format"))
            snprintf(err, CAPTURE_ERRBUF_SIZE, "%s is not a pcap or pcapng capture (libpcap: %s)",
                     path, pcap_err);
        else
            snprintf(err, CAPTURE_ERRBUF_SIZE, "cannot read %s: %s", path, pcap_err);
        return NULL;
    }
    s->file = fp;
    s->file_size = (uint64_t)st.st_size;
    s->linktype = pcap_datalink(s->pcap);
    snprintf(s->name, sizeof(s->name), "%s", path);
    if (source_set_filter(s, opts ? opts->filter : NULL, err) != 0) {
        capture_source_close(s);
        return NULL;
    }
    if (!(opts && opts->filter && opts->filter[0]))
        source_map_setup(s);
    return s;
}

struct capture_source *capture_source_open_live(const char *iface,
                                                const struct capture_options *opts,
                                                char err[CAPTURE_ERRBUF_SIZE])
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    struct capture_options defaults = {0};
    if (!opts)
        opts = &defaults;
    struct capture_source *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, CAPTURE_ERRBUF_SIZE, "out of memory opening %s", iface);
        return NULL;
    }
    s->live = true;
    snprintf(s->name, sizeof(s->name), "%s", iface);
    s->pcap = pcap_create(iface, pcap_err);
    if (!s->pcap) {
        snprintf(err, CAPTURE_ERRBUF_SIZE, "cannot open interface %s: %s", iface, pcap_err);
        free(s);
        return NULL;
    }
    pcap_set_snaplen(s->pcap, opts->snaplen > 0 ? opts->snaplen : 262144);
    pcap_set_promisc(s->pcap, opts->promiscuous);
    pcap_set_timeout(s->pcap, opts->timeout_ms > 0 ? opts->timeout_ms : 100);
    if (opts->immediate)
        pcap_set_immediate_mode(s->pcap, 1);
    if (opts->buffer_mb > 0)
        pcap_set_buffer_size(s->pcap, opts->buffer_mb * 1024 * 1024);
    /* Nanosecond stamps where the platform has them; the trampoline expects nanoseconds. */
    if (pcap_set_tstamp_precision(s->pcap, PCAP_TSTAMP_PRECISION_NANO) != 0) {
        snprintf(err, CAPTURE_ERRBUF_SIZE, "interface %s: no nanosecond timestamps", iface);
        capture_source_close(s);
        return NULL;
    }
    int rc = pcap_activate(s->pcap);
    if (rc < 0) {
        const char *hint = "";
        if (rc == PCAP_ERROR_PERM_DENIED)
            hint = " (run as root or grant CAP_NET_RAW: setcap cap_net_raw+ep BINARY)";
        else if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
            hint = " (list interfaces with: ip -br link)";
        snprintf(err, CAPTURE_ERRBUF_SIZE, "cannot capture on %s: %s%s", iface,
                 pcap_geterr(s->pcap), hint);
        capture_source_close(s);
        return NULL;
    }
    s->linktype = pcap_datalink(s->pcap);
    if (source_set_filter(s, opts->filter, err) != 0) {
        capture_source_close(s);
        return NULL;
    }
    if (opts->fanout_group > 0) {
        /* Every shard's socket joins one fanout group; the kernel spreads packets by a
         * symmetric flow hash, so both directions of a flow reach the same shard. */
        int arg = (opts->fanout_group & 0xffff) | (PACKET_FANOUT_HASH << 16);
        if (setsockopt(pcap_fileno(s->pcap), SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0) {
            snprintf(err, CAPTURE_ERRBUF_SIZE,
                     "cannot join fanout group %d on %s: %s (AF_PACKET fanout needs Linux >= "
                     "3.1; use one capture thread)",
                     opts->fanout_group, iface, strerror(errno));
            capture_source_close(s);
            return NULL;
        }
    }
    return s;
}

int capture_source_dispatch(struct capture_source *src, int max, capture_packet_fn cb, void *user)
{
    if (atomic_load_explicit(&src->map_on, memory_order_relaxed))
        return source_map_dispatch(src, max, cb, user);
    src->cb = cb;
    src->user = user;
    int n = pcap_dispatch(src->pcap, max > 0 ? max : -1, source_trampoline, (u_char *)src);
    if (n == PCAP_ERROR_BREAK)
        return CAPTURE_BROKEN;
    if (n < 0) {
        snprintf(src->error, sizeof(src->error), "%s: %s", src->name, pcap_geterr(src->pcap));
        return CAPTURE_FAILED;
    }
    if (n == 0 && !src->live)
        return CAPTURE_END;
    return n;
}

void capture_source_break(struct capture_source *src)
{
    /* Lock-free atomics: async-signal-safe. While the mapping is read the break is its own
     * (libpcap's flag would outlive it); see source_map_handover. */
    atomic_store(&src->map_break, true);
    if (!atomic_load(&src->map_on))
        pcap_breakloop(src->pcap);
}

bool capture_source_mapped(const struct capture_source *src)
{
    return atomic_load_explicit(&src->map_on, memory_order_relaxed);
}

int capture_source_linktype(const struct capture_source *src)
{
    return src->linktype;
}

double capture_source_progress(const struct capture_source *src)
{
    if (src->live)
        return -1.0;
    if (src->file_size == 0)
        return 1.0;
    long pos = atomic_load_explicit(&src->map_on, memory_order_relaxed) ? (long)src->map_off
                                                                        : ftell(src->file);
    if (pos < 0)
        return 0.0;
    double f = (double)pos / (double)src->file_size;
    return f > 1.0 ? 1.0 : f;
}

uint64_t capture_source_file_size(const struct capture_source *src)
{
    return src->file_size;
}

int capture_source_kernel_stats(struct capture_source *src, struct capture_kernel_stats *out)
{
    struct pcap_stat ps;
    memset(out, 0, sizeof(*out));
    if (!src->live)
        return 0;
    if (pcap_stats(src->pcap, &ps) != 0)
        return -EIO;
    out->received = ps.ps_recv;
    out->dropped = ps.ps_drop;
    out->if_dropped = ps.ps_ifdrop;
    return 0;
}

const char *capture_source_error(const struct capture_source *src)
{
    return src->error;
}

const char *capture_source_name(const struct capture_source *src)
{
    return src->name;
}

void capture_source_close(struct capture_source *src)
{
    if (!src)
        return;
    source_unmap(src);
    if (src->pcap)
        pcap_close(src->pcap); /* also closes src->file */
    free(src);
}

static bool has_capture_suffix(const char *name)
{
    static const char *const suffixes[] = {".pcap", ".pcapng", ".cap", ".dmp"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcasecmp(name + n - k, suffixes[i]) == 0)
            return true;
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_push(char ***list, size_t *n, size_t *cap, const char *path)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **nl = realloc(*list, ncap * sizeof(char *));
        if (!nl)
            return -ENOMEM;
        *list = nl;
        *cap = ncap;
    }
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    (*list)[(*n)++] = copy;
    return 0;
}

int capture_inputs_expand(const char *const *args, size_t nargs, char ***files, size_t *nfiles,
                          char err[CAPTURE_ERRBUF_SIZE])
{
    char **list = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < nargs && rc == 0; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0) {
            snprintf(err, CAPTURE_ERRBUF_SIZE, "cannot open %s: %s", args[i], strerror(errno));
            rc = -errno;
            break;
        }
        if (!S_ISDIR(st.st_mode)) {
            rc = list_push(&list, &n, &cap, args[i]);
            continue;
        }
        DIR *d = opendir(args[i]);
        if (!d) {
            snprintf(err, CAPTURE_ERRBUF_SIZE, "cannot read directory %s: %s", args[i],
                     strerror(errno));
            rc = -errno;
            break;
        }
        size_t first = n;
        struct dirent *de;
        while (rc == 0 && (de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.' || !has_capture_suffix(de->d_name))
                continue;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", args[i], de->d_name);
            struct stat fst;
            if (stat(path, &fst) == 0 && S_ISREG(fst.st_mode))
                rc = list_push(&list, &n, &cap, path);
        }
        closedir(d);
        if (rc == 0 && n == first) {
            snprintf(err, CAPTURE_ERRBUF_SIZE,
                     "no capture files (*.pcap, *.pcapng, *.cap, *.dmp) in directory %s", args[i]);
            rc = -ENOENT;
        }
        if (rc == 0)
            qsort(list + first, n - first, sizeof(char *), cmp_str);
    }
    if (rc == -ENOMEM)
        snprintf(err, CAPTURE_ERRBUF_SIZE, "out of memory listing inputs");
    if (rc != 0) {
        capture_inputs_free(list, n);
        return rc;
    }
    *files = list;
    *nfiles = n;
    return 0;
}

void capture_inputs_free(char **files, size_t nfiles)
{
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
}
