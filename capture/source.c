/* source.c - libpcap packet sources: capture files and live interfaces.
 *
 * Owns the pcap_t handle and the translation of libpcap's callback into ours (timestamps to
 * microseconds). Files are opened with nanosecond precision so pcapng and nanosecond pcap files
 * lose nothing before we round down to microseconds. Live sources use pcap_create/pcap_activate
 * so snaplen, promiscuous mode, immediate mode and the buffer size can all be set.
 *
 * Errors become one line an operator can act on; libpcap's own text is kept in it. */
#include "capture/source.h"

#include <dirent.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    pcap_breakloop(src->pcap);
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
    long pos = ftell(src->file);
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
