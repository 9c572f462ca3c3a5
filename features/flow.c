/* flow.c - per-flow running statistics and the CICFlowMeter feature vector.
 *
 * Owns the update rules (flow_start, flow_add_packet) and the feature formulas
 * (flow_features_compute) for both modes. Everything is O(1) in time and memory per packet:
 * counts, sums, min/max and Welford moments updated the way Apache commons-math
 * SummaryStatistics does (the library behind CICFlowMeter), so means and sample variances match
 * the published CSVs. All-packet length statistics are not kept separately: they are combined
 * from the two directions with Chan's parallel formula when the vector is computed.
 *
 * DESIGN: the legacy (cic) quirks live in flow_features_compute and in three spots of the update
 * path, each marked "cic:". Everything else is shared, so the two modes cannot drift apart.
 * References to "§n" are sections of the CICFlowMeter reference (../shared/docs/
 * cicflowmeter-features.md); docs/features.md explains every column for users. */
#include "features/flow.h"
#include "features/port_class.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

enum {
    BULK_MIN_PKTS = 4,         /* CICFlowMeter: a bulk is >= 4 data packets ... */
    BULK_MAX_GAP_US = 1000000, /* ... with gaps of at most 1 s */
    SUBFLOW_GAP_US = 1000000,  /* a gap over 1 s starts a new subflow */
};

static inline void welford_add(double *mean, double *m2, uint32_t n_after, double x)
{
    double dev = x - *mean;
    double ndev = dev / (double)n_after;
    *mean += ndev;
    *m2 += (double)(n_after - 1) * dev * ndev;
}

static inline double sample_var(double m2, uint64_t n)
{
    return n > 1 ? m2 / (double)(n - 1) : 0.0;
}

static void dir_init(struct flow_dir *d)
{
    d->len_min = UINT32_MAX;
    d->iat_min = UINT32_MAX;
    d->hdr_min = INT32_MAX;
    d->win_first = -1;
    d->win_last = -1;
}

/* Bulk detection as CICFlowMeter codes it (§5.10), with the direction bug fixed: a data packet
 * extends this direction's candidate bulk unless the other direction sent data since the
 * candidate started or more than 1 s passed. Times are stored +1 so that 0 means "none". */
static void dir_bulk_update(struct flow_dir *me, const struct flow_dir *other, uint32_t off,
                            uint32_t len)
{
    uint32_t t = off + 1;
    if (other->bulk_last > me->bulk_start)
        me->bulk_start = 0;
    if (len == 0)
        return;
    if (me->bulk_start == 0 || off + 1 - me->bulk_last > BULK_MAX_GAP_US) {
        me->bulk_start = t;
        me->bulk_last = t;
        me->bulk_cand_pkts = 1;
        me->bulk_cand_bytes = len;
        return;
    }
    me->bulk_cand_pkts++;
    me->bulk_cand_bytes += len;
    if (me->bulk_cand_pkts == BULK_MIN_PKTS) {
        me->bulks++;
        me->bulk_pkts += BULK_MIN_PKTS;
        me->bulk_bytes += me->bulk_cand_bytes;
        me->bulk_dur += t - me->bulk_start;
    } else if (me->bulk_cand_pkts > BULK_MIN_PKTS) {
        me->bulk_pkts++;
        me->bulk_bytes += len;
        me->bulk_dur += t - me->bulk_last;
    }
    me->bulk_last = t;
}

static void dir_add(struct flow *f, int d, const struct flow_pkt *p, uint32_t off, bool first)
{
    struct flow_dir *dir = &f->dir[d];
    uint32_t n = ++dir->pkts;

    dir->bytes += p->payload;
    welford_add(&dir->len_mean, &dir->len_m2, n, p->payload);
    if (p->payload < dir->len_min)
        dir->len_min = p->payload;
    if (p->payload > dir->len_max)
        dir->len_max = p->payload;

    if (n == 1) {
        dir->first_off = off;
    } else {
        uint32_t gap = off - dir->last_off;
        welford_add(&dir->iat_mean, &dir->iat_m2, n - 1, gap);
        if (gap < dir->iat_min)
            dir->iat_min = gap;
        if (gap > dir->iat_max)
            dir->iat_max = gap;
    }
    dir->last_off = off;

    dir->hdr_sum += p->header;
    if (p->header < dir->hdr_min)
        dir->hdr_min = p->header;
    if (p->tcp_flags & TCP_PSH)
        dir->psh++;
    if (p->tcp_flags & TCP_URG)
        dir->urg++;
    /* cic: act_data_pkt_fwd never counts the flow's first packet (§5.8). */
    if (p->payload >= 1 && !(first && f->mode == FEAT_MODE_CIC))
        dir->act_data++;
    if (p->window >= 0) {
        if (dir->win_first < 0)
            dir->win_first = p->window;
        dir->win_last = p->window;
    }
    /* cic: bulk features are always 0 in the published CSVs (§5.10); skip the work. */
    if (f->mode == FEAT_MODE_FIXED)
        dir_bulk_update(dir, &f->dir[d ^ 1], off, p->payload);
}

static void flags_count(struct flow *f, uint8_t flags)
{
    for (int bit = 0; flags; bit++, flags >>= 1)
        f->flag_cnt[bit] += flags & 1u;
}

void flow_start(struct flow *f, const struct flow_key *key, enum feat_mode mode,
                const struct flow_pkt *p)
{
    /* Keep the table's bookkeeping; zero the state and every statistic. */
    f->tcp_state = 0;
    f->close_off = 0;
    memset(&f->dir, 0, sizeof(*f) - offsetof(struct flow, dir));
    f->key = *key;
    f->mode = (uint8_t)mode;
    f->first_ts = f->last_ts = p->ts;
    f->fwd_ep = p->from_ep;
    dir_init(&f->dir[0]);
    dir_init(&f->dir[1]);
    f->iat_min = UINT32_MAX;
    f->active_min = UINT32_MAX;
    f->idle_min = UINT32_MAX;
    f->first_flags = p->tcp_flags;
    f->first_payload = p->payload;
    f->icmp_type = p->icmp_type;
    f->icmp_code = p->icmp_code;
    flags_count(f, p->tcp_flags);
    dir_add(f, 0, p, 0, true);
}

static void stat_add(double *mean, double *m2, uint32_t *n, uint32_t *min, uint32_t *max,
                     uint32_t x)
{
    welford_add(mean, m2, ++*n, x);
    if (x < *min)
        *min = x;
    if (x > *max)
        *max = x;
}

/* CICFlowMeter's updateActiveIdleTime (§5.9): a gap longer than the activity threshold closes
 * the current active period and records the gap as idle time. */
static void flow_activity_update(struct flow *f, uint32_t off, uint64_t activity_us)
{
    if ((uint64_t)(off - f->active_end) > activity_us) {
        uint32_t active = f->active_end - f->active_start;
        if (active > 0)
            stat_add(&f->active_mean, &f->active_m2, &f->active_n, &f->active_min, &f->active_max,
                     active);
        stat_add(&f->idle_mean, &f->idle_m2, &f->idle_n, &f->idle_min, &f->idle_max,
                 off - f->active_end);
        f->active_start = f->active_end = off;
    } else {
        f->active_end = off;
    }
}

bool flow_add_packet(struct flow *f, const struct flow_pkt *p, uint64_t activity_us)
{
    uint64_t ts = p->ts > f->last_ts ? p->ts : f->last_ts;
    uint32_t off = (uint32_t)(ts - f->first_ts);
    uint32_t gap = (uint32_t)(ts - f->last_ts);
    bool fwd;

    if (f->mode == FEAT_MODE_CIC) {
        /* cic: direction compares source IP only, not ports (§4.1), and the activity update
         * is skipped for FIN packets (§5.9). */
        fwd = memcmp(f->key.addr[p->from_ep], f->key.addr[f->fwd_ep], 16) == 0;
        if (!(p->tcp_flags & TCP_FIN))
            flow_activity_update(f, off, activity_us);
    } else {
        fwd = p->from_ep == f->fwd_ep;
        flow_activity_update(f, off, activity_us);
    }

    uint32_t n_gaps = flow_packets(f); /* gaps after this packet */
    welford_add(&f->iat_mean, &f->iat_m2, n_gaps, gap);
    if (gap < f->iat_min)
        f->iat_min = gap;
    if (gap > f->iat_max)
        f->iat_max = gap;
    if (gap > SUBFLOW_GAP_US)
        f->subflow_gaps++;

    flags_count(f, p->tcp_flags);
    dir_add(f, fwd ? 0 : 1, p, off, false);
    f->last_ts = ts;
    return fwd;
}

/* Mean and m2 of the union of two Welford accumulators (Chan et al.). */
static void moments_combine(uint64_t na, double ma, double m2a, uint64_t nb, double mb, double m2b,
                            double *mean, double *m2)
{
    uint64_t n = na + nb;
    if (na == 0) {
        *mean = mb;
        *m2 = m2b;
        return;
    }
    if (nb == 0) {
        *mean = ma;
        *m2 = m2a;
        return;
    }
    double delta = mb - ma;
    *mean = ma + delta * (double)nb / (double)n;
    *m2 = m2a + m2b + delta * delta * (double)na * (double)nb / (double)n;
}

static void dir_len_features(const struct flow_dir *d, double *max, double *min, double *mean,
                             double *std)
{
    if (d->pkts == 0) {
        *max = *min = *mean = *std = 0;
        return;
    }
    *max = d->len_max;
    *min = d->len_min;
    *mean = d->len_mean;
    *std = sqrt(sample_var(d->len_m2, d->pkts));
}

static void dir_iat_features(const struct flow_dir *d, double *tot, double *mean, double *std,
                             double *max, double *min)
{
    if (d->pkts <= 1) {
        *tot = *mean = *std = *max = *min = 0;
        return;
    }
    *tot = d->last_off - d->first_off;
    *mean = d->iat_mean;
    *std = sqrt(sample_var(d->iat_m2, d->pkts - 1));
    *max = d->iat_max;
    *min = d->iat_min;
}

static void period_features(uint32_t n, double mean, double m2, uint32_t max, uint32_t min,
                            double out[4])
{
    if (n == 0) {
        out[0] = out[1] = out[2] = out[3] = 0;
        return;
    }
    out[0] = mean;
    out[1] = sqrt(sample_var(m2, n));
    out[2] = max;
    out[3] = min;
}

static void bulk_features(const struct flow_dir *d, double out[3])
{
    if (d->bulks == 0) {
        out[0] = out[1] = out[2] = 0;
        return;
    }
    out[0] = (double)d->bulk_bytes / d->bulks;
    out[1] = (double)d->bulk_pkts / d->bulks;
    out[2] = d->bulk_dur > 0 ? (double)d->bulk_bytes / (d->bulk_dur / 1e6) : 0;
}

void flow_features_compute(const struct flow *f, double out[FEAT_COUNT])
{
    const struct flow_dir *fw = &f->dir[0], *bw = &f->dir[1];
    const bool cic = f->mode == FEAT_MODE_CIC;
    const uint64_t nf = fw->pkts, nb = bw->pkts, n = nf + nb;
    const double dur = (double)(f->last_ts - f->first_ts);
    const double secs = dur / 1e6;
    const double bytes = (double)(fw->bytes + bw->bytes);

    out[FEAT_FLOW_DURATION] = dur;
    out[FEAT_TOT_FWD_PKTS] = (double)nf;
    out[FEAT_TOT_BWD_PKTS] = (double)nb;
    out[FEAT_TOTLEN_FWD] = (double)fw->bytes;
    out[FEAT_TOTLEN_BWD] = (double)bw->bytes;
    dir_len_features(fw, &out[FEAT_FWD_LEN_MAX], &out[FEAT_FWD_LEN_MIN], &out[FEAT_FWD_LEN_MEAN],
                     &out[FEAT_FWD_LEN_STD]);
    dir_len_features(bw, &out[FEAT_BWD_LEN_MAX], &out[FEAT_BWD_LEN_MIN], &out[FEAT_BWD_LEN_MEAN],
                     &out[FEAT_BWD_LEN_STD]);

    if (dur > 0) {
        out[FEAT_FLOW_BYTES_S] = bytes / secs;
        out[FEAT_FLOW_PKTS_S] = (double)n / secs;
        out[FEAT_FWD_PKTS_S] = (double)nf / secs;
        out[FEAT_BWD_PKTS_S] = (double)nb / secs;
    } else {
        /* cic: Java's double division by zero (§5.3); fixed: a rate over no time is 0. */
        out[FEAT_FLOW_BYTES_S] = cic ? (bytes > 0 ? INFINITY : NAN) : 0;
        out[FEAT_FLOW_PKTS_S] = cic ? INFINITY : 0;
        out[FEAT_FWD_PKTS_S] = 0;
        out[FEAT_BWD_PKTS_S] = 0;
    }

    if (n > 1) {
        out[FEAT_FLOW_IAT_MEAN] = f->iat_mean;
        out[FEAT_FLOW_IAT_STD] = sqrt(sample_var(f->iat_m2, n - 1));
        out[FEAT_FLOW_IAT_MAX] = f->iat_max;
        out[FEAT_FLOW_IAT_MIN] = f->iat_min;
    } else {
        out[FEAT_FLOW_IAT_MEAN] = out[FEAT_FLOW_IAT_STD] = 0;
        out[FEAT_FLOW_IAT_MAX] = out[FEAT_FLOW_IAT_MIN] = 0;
    }
    dir_iat_features(fw, &out[FEAT_FWD_IAT_TOT], &out[FEAT_FWD_IAT_MEAN], &out[FEAT_FWD_IAT_STD],
                     &out[FEAT_FWD_IAT_MAX], &out[FEAT_FWD_IAT_MIN]);
    dir_iat_features(bw, &out[FEAT_BWD_IAT_TOT], &out[FEAT_BWD_IAT_MEAN], &out[FEAT_BWD_IAT_STD],
                     &out[FEAT_BWD_IAT_MAX], &out[FEAT_BWD_IAT_MIN]);

    out[FEAT_FWD_HEADER_LEN] = (double)fw->hdr_sum;
    out[FEAT_BWD_HEADER_LEN] = (double)bw->hdr_sum;

    /* All-packet length statistics: the union of both directions; cic adds the first packet's
     * payload once more (§5.2: it was counted twice). */
    double mean, m2;
    uint64_t nl = n;
    moments_combine(nf, fw->len_mean, fw->len_m2, nb, bw->len_mean, bw->len_m2, &mean, &m2);
    double lmin = fw->len_min < bw->len_min ? fw->len_min : bw->len_min;
    double lmax = fw->len_max > bw->len_max ? fw->len_max : bw->len_max;
    if (cic) {
        nl = n + 1;
        welford_add(&mean, &m2, (uint32_t)nl, f->first_payload);
    }
    out[FEAT_PKT_LEN_MIN] = lmin;
    out[FEAT_PKT_LEN_MAX] = lmax;
    out[FEAT_PKT_LEN_MEAN] = mean;
    out[FEAT_PKT_LEN_VAR] = sample_var(m2, nl);
    out[FEAT_PKT_LEN_STD] = sqrt(out[FEAT_PKT_LEN_VAR]);

    if (cic) {
        /* cic: only the first packet's flags, written in Java HashMap order under the
         * FIN..ECE headers (§5.6). */
        uint8_t ff = f->first_flags;
        out[FEAT_FWD_PSH_FLAGS] = (ff & TCP_PSH) != 0;
        out[FEAT_BWD_PSH_FLAGS] = 0;
        out[FEAT_FWD_URG_FLAGS] = (ff & TCP_URG) != 0;
        out[FEAT_BWD_URG_FLAGS] = 0;
        out[FEAT_FIN_CNT] = (ff & TCP_RST) != 0;
        out[FEAT_SYN_CNT] = (ff & TCP_PSH) != 0;
        out[FEAT_RST_CNT] = (ff & TCP_ECE) != 0;
        out[FEAT_PSH_CNT] = (ff & TCP_SYN) != 0;
        out[FEAT_ACK_CNT] = (ff & TCP_ACK) != 0;
        out[FEAT_URG_CNT] = (ff & TCP_FIN) != 0;
        out[FEAT_CWR_CNT] = (ff & TCP_URG) != 0;
        out[FEAT_ECE_CNT] = (ff & TCP_CWR) != 0;
        out[FEAT_DOWN_UP_RATIO] = nf ? (double)(nb / nf) : 0;
        out[FEAT_AVG_PKT_SIZE] = (bytes + f->first_payload) / (double)n;
    } else {
        out[FEAT_FWD_PSH_FLAGS] = fw->psh;
        out[FEAT_BWD_PSH_FLAGS] = bw->psh;
        out[FEAT_FWD_URG_FLAGS] = fw->urg;
        out[FEAT_BWD_URG_FLAGS] = bw->urg;
        out[FEAT_FIN_CNT] = f->flag_cnt[0];
        out[FEAT_SYN_CNT] = f->flag_cnt[1];
        out[FEAT_RST_CNT] = f->flag_cnt[2];
        out[FEAT_PSH_CNT] = f->flag_cnt[3];
        out[FEAT_ACK_CNT] = f->flag_cnt[4];
        out[FEAT_URG_CNT] = f->flag_cnt[5];
        out[FEAT_ECE_CNT] = f->flag_cnt[6];
        out[FEAT_CWR_CNT] = f->flag_cnt[7];
        out[FEAT_DOWN_UP_RATIO] = nf ? (double)nb / (double)nf : 0;
        out[FEAT_AVG_PKT_SIZE] = bytes / (double)n;
    }
    out[FEAT_AVG_FWD_SEG] = nf ? (double)fw->bytes / (double)nf : 0;
    out[FEAT_AVG_BWD_SEG] = nb ? (double)bw->bytes / (double)nb : 0;

    if (cic) {
        for (int i = FEAT_FWD_BYTES_BULK; i <= FEAT_BWD_BULK_RATE; i++)
            out[i] = 0;
        /* cic: the subflow counter was always 1, so subflow values are the totals (§5.11). */
        out[FEAT_SUBFLOW_FWD_PKTS] = (double)nf;
        out[FEAT_SUBFLOW_FWD_BYTES] = (double)fw->bytes;
        out[FEAT_SUBFLOW_BWD_PKTS] = (double)nb;
        out[FEAT_SUBFLOW_BWD_BYTES] = (double)bw->bytes;
        /* cic: the backward "init" window is the last backward packet's (§5.8). */
        out[FEAT_INIT_WIN_BWD] = bw->win_last;
    } else {
        bulk_features(fw, &out[FEAT_FWD_BYTES_BULK]);
        bulk_features(bw, &out[FEAT_BWD_BYTES_BULK]);
        double subflows = (double)f->subflow_gaps + 1;
        out[FEAT_SUBFLOW_FWD_PKTS] = (double)nf / subflows;
        out[FEAT_SUBFLOW_FWD_BYTES] = (double)fw->bytes / subflows;
        out[FEAT_SUBFLOW_BWD_PKTS] = (double)nb / subflows;
        out[FEAT_SUBFLOW_BWD_BYTES] = (double)bw->bytes / subflows;
        out[FEAT_INIT_WIN_BWD] = bw->win_first;
    }
    out[FEAT_INIT_WIN_FWD] = fw->win_first;
    out[FEAT_ACT_DATA_PKT_FWD] = fw->act_data;
    out[FEAT_MIN_SEG_FWD] = nf ? fw->hdr_min : 0;

    /* Active/idle periods. fixed also counts the period still open (cic loses it, §5.9). */
    double act_mean = f->active_mean, act_m2 = f->active_m2;
    uint32_t act_n = f->active_n, act_min = f->active_min, act_max = f->active_max;
    if (!cic && f->active_end > f->active_start)
        stat_add(&act_mean, &act_m2, &act_n, &act_min, &act_max, f->active_end - f->active_start);
    period_features(act_n, act_mean, act_m2, act_max, act_min, &out[FEAT_ACTIVE_MEAN]);
    period_features(f->idle_n, f->idle_mean, f->idle_m2, f->idle_max, f->idle_min,
                    &out[FEAT_IDLE_MEAN]);

    out[FEAT_PROTOCOL] = f->key.proto;
    out[FEAT_ICMP_TYPE] = f->icmp_type;
    out[FEAT_ICMP_CODE] = f->icmp_code;

    /* The service port: its class and which side of the flow holds it (port_class.h). Only
     * TCP and UDP have ports (ICMP keys carry the echo identifier there; cic's "other" group
     * is protocol 0). A non-first fragment has no L4 header: its ports are 0, class zero. */
    enum port_class cls = PORT_CLASS_NONE;
    enum port_side side = PORT_SIDE_NONE;
    if (f->key.proto == IPPROTO_NUM_TCP || f->key.proto == IPPROTO_NUM_UDP)
        side = port_service(flow_src_port(f), flow_dst_port(f), &cls);
    out[FEAT_SVC_PORT_CLASS] = cls;
    out[FEAT_SVC_PORT_SIDE] = side;
}

const uint8_t *flow_src_addr(const struct flow *f)
{
    return f->key.addr[f->fwd_ep];
}

const uint8_t *flow_dst_addr(const struct flow *f)
{
    return f->key.addr[f->fwd_ep ^ 1];
}

uint16_t flow_src_port(const struct flow *f)
{
    return f->key.port[f->fwd_ep];
}

uint16_t flow_dst_port(const struct flow *f)
{
    return f->key.port[f->fwd_ep ^ 1];
}
