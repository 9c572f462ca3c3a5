/* feature_set.c - names of the feature vector's columns and the name lookup.
 *
 * Owns the tables that map enum feat_id to the legacy CSV header, the clean name and the alias
 * spellings used by other CICFlowMeter versions and dataset re-distributions (reference §2.1,
 * §2.7). Lookup is by case-folded, whitespace-trimmed comparison; it runs at model load time,
 * never per packet, so a linear scan is fine. */
#include "features/feature_set.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static const char *const legacy_names[FEAT_COUNT] = {
#define FEAT_LEGACY(id, legacy, clean) [id] = legacy,
    FEAT_LIST(FEAT_LEGACY)
#undef FEAT_LEGACY
};

static const char *const clean_names[FEAT_COUNT] = {
#define FEAT_CLEAN(id, legacy, clean) [id] = clean,
    FEAT_LIST(FEAT_CLEAN)
#undef FEAT_CLEAN
};

struct feat_alias {
    enum feat_id id;
    const char *name;
};

/* CICFlowMeter >= 2020 names, CSE-CIC-IDS2018 abbreviations, Python cicflowmeter keys and the
 * renamed columns of the cleaned parquet re-distributions. */
static const struct feat_alias aliases[] = {
    {FEAT_TOT_FWD_PKTS, "Total Fwd Packet"},
    {FEAT_TOT_FWD_PKTS, "Tot Fwd Pkts"},
    {FEAT_TOT_FWD_PKTS, "tot_fwd_pkts"},
    {FEAT_TOT_BWD_PKTS, "Total Bwd packets"},
    {FEAT_TOT_BWD_PKTS, "Tot Bwd Pkts"},
    {FEAT_TOT_BWD_PKTS, "tot_bwd_pkts"},
    {FEAT_TOTLEN_FWD, "Total Length of Fwd Packet"},
    {FEAT_TOTLEN_FWD, "TotLen Fwd Pkts"},
    {FEAT_TOTLEN_FWD, "totlen_fwd_pkts"},
    {FEAT_TOTLEN_FWD, "Fwd Packets Length Total"},
    {FEAT_TOTLEN_BWD, "Total Length of Bwd Packet"},
    {FEAT_TOTLEN_BWD, "TotLen Bwd Pkts"},
    {FEAT_TOTLEN_BWD, "totlen_bwd_pkts"},
    {FEAT_TOTLEN_BWD, "Bwd Packets Length Total"},
    {FEAT_FLOW_DURATION, "flow_duration"},
    {FEAT_FWD_LEN_MAX, "Fwd Pkt Len Max"},
    {FEAT_FWD_LEN_MAX, "fwd_pkt_len_max"},
    {FEAT_FWD_LEN_MIN, "Fwd Pkt Len Min"},
    {FEAT_FWD_LEN_MIN, "fwd_pkt_len_min"},
    {FEAT_FWD_LEN_MEAN, "Fwd Pkt Len Mean"},
    {FEAT_FWD_LEN_MEAN, "fwd_pkt_len_mean"},
    {FEAT_FWD_LEN_STD, "Fwd Pkt Len Std"},
    {FEAT_FWD_LEN_STD, "fwd_pkt_len_std"},
    {FEAT_BWD_LEN_MAX, "Bwd Pkt Len Max"},
    {FEAT_BWD_LEN_MAX, "bwd_pkt_len_max"},
    {FEAT_BWD_LEN_MIN, "Bwd Pkt Len Min"},
    {FEAT_BWD_LEN_MIN, "bwd_pkt_len_min"},
    {FEAT_BWD_LEN_MEAN, "Bwd Pkt Len Mean"},
    {FEAT_BWD_LEN_MEAN, "bwd_pkt_len_mean"},
    {FEAT_BWD_LEN_STD, "Bwd Pkt Len Std"},
    {FEAT_BWD_LEN_STD, "bwd_pkt_len_std"},
    {FEAT_FLOW_BYTES_S, "Flow Byts/s"},
    {FEAT_FLOW_BYTES_S, "flow_byts_s"},
    {FEAT_FLOW_PKTS_S, "Flow Pkts/s"},
    {FEAT_FLOW_PKTS_S, "flow_pkts_s"},
    {FEAT_FLOW_IAT_MEAN, "flow_iat_mean"},
    {FEAT_FLOW_IAT_STD, "flow_iat_std"},
    {FEAT_FLOW_IAT_MAX, "flow_iat_max"},
    {FEAT_FLOW_IAT_MIN, "flow_iat_min"},
    {FEAT_FWD_IAT_TOT, "Fwd IAT Tot"},
    {FEAT_FWD_IAT_TOT, "fwd_iat_tot"},
    {FEAT_FWD_IAT_MEAN, "fwd_iat_mean"},
    {FEAT_FWD_IAT_STD, "fwd_iat_std"},
    {FEAT_FWD_IAT_MAX, "fwd_iat_max"},
    {FEAT_FWD_IAT_MIN, "fwd_iat_min"},
    {FEAT_BWD_IAT_TOT, "Bwd IAT Tot"},
    {FEAT_BWD_IAT_TOT, "bwd_iat_tot"},
    {FEAT_BWD_IAT_MEAN, "bwd_iat_mean"},
    {FEAT_BWD_IAT_STD, "bwd_iat_std"},
    {FEAT_BWD_IAT_MAX, "bwd_iat_max"},
    {FEAT_BWD_IAT_MIN, "bwd_iat_min"},
    {FEAT_FWD_PSH_FLAGS, "fwd_psh_flags"},
    {FEAT_BWD_PSH_FLAGS, "bwd_psh_flags"},
    {FEAT_FWD_URG_FLAGS, "fwd_urg_flags"},
    {FEAT_BWD_URG_FLAGS, "bwd_urg_flags"},
    {FEAT_FWD_HEADER_LEN, "Fwd Header Len"},
    {FEAT_FWD_HEADER_LEN, "fwd_header_len"},
    {FEAT_BWD_HEADER_LEN, "Bwd Header Len"},
    {FEAT_BWD_HEADER_LEN, "bwd_header_len"},
    {FEAT_FWD_PKTS_S, "Fwd Pkts/s"},
    {FEAT_FWD_PKTS_S, "fwd_pkts_s"},
    {FEAT_BWD_PKTS_S, "Bwd Pkts/s"},
    {FEAT_BWD_PKTS_S, "bwd_pkts_s"},
    {FEAT_PKT_LEN_MIN, "Packet Length Min"},
    {FEAT_PKT_LEN_MIN, "Pkt Len Min"},
    {FEAT_PKT_LEN_MIN, "pkt_len_min"},
    {FEAT_PKT_LEN_MAX, "Packet Length Max"},
    {FEAT_PKT_LEN_MAX, "Pkt Len Max"},
    {FEAT_PKT_LEN_MAX, "pkt_len_max"},
    {FEAT_PKT_LEN_MEAN, "Pkt Len Mean"},
    {FEAT_PKT_LEN_MEAN, "pkt_len_mean"},
    {FEAT_PKT_LEN_STD, "Pkt Len Std"},
    {FEAT_PKT_LEN_STD, "pkt_len_std"},
    {FEAT_PKT_LEN_VAR, "Pkt Len Var"},
    {FEAT_PKT_LEN_VAR, "pkt_len_var"},
    {FEAT_FIN_CNT, "FIN Flag Cnt"},
    {FEAT_FIN_CNT, "fin_flag_cnt"},
    {FEAT_SYN_CNT, "SYN Flag Cnt"},
    {FEAT_SYN_CNT, "syn_flag_cnt"},
    {FEAT_RST_CNT, "RST Flag Cnt"},
    {FEAT_RST_CNT, "rst_flag_cnt"},
    {FEAT_PSH_CNT, "PSH Flag Cnt"},
    {FEAT_PSH_CNT, "psh_flag_cnt"},
    {FEAT_ACK_CNT, "ACK Flag Cnt"},
    {FEAT_ACK_CNT, "ack_flag_cnt"},
    {FEAT_URG_CNT, "URG Flag Cnt"},
    {FEAT_URG_CNT, "urg_flag_cnt"},
    {FEAT_CWR_CNT, "CWE Flag Count"},
    {FEAT_CWR_CNT, "CWE Flag Cnt"},
    {FEAT_CWR_CNT, "CWR Flag Cnt"},
    {FEAT_CWR_CNT, "cwr_flag_count"},
    {FEAT_ECE_CNT, "ECE Flag Cnt"},
    {FEAT_ECE_CNT, "ece_flag_cnt"},
    {FEAT_DOWN_UP_RATIO, "down_up_ratio"},
    {FEAT_AVG_PKT_SIZE, "Pkt Size Avg"},
    {FEAT_AVG_PKT_SIZE, "pkt_size_avg"},
    {FEAT_AVG_PKT_SIZE, "Avg Packet Size"},
    {FEAT_AVG_FWD_SEG, "Fwd Segment Size Avg"},
    {FEAT_AVG_FWD_SEG, "Fwd Seg Size Avg"},
    {FEAT_AVG_FWD_SEG, "fwd_seg_size_avg"},
    {FEAT_AVG_BWD_SEG, "Bwd Segment Size Avg"},
    {FEAT_AVG_BWD_SEG, "Bwd Seg Size Avg"},
    {FEAT_AVG_BWD_SEG, "bwd_seg_size_avg"},
    {FEAT_FWD_BYTES_BULK, "Fwd Bytes/Bulk Avg"},
    {FEAT_FWD_BYTES_BULK, "Fwd Byts/b Avg"},
    {FEAT_FWD_BYTES_BULK, "fwd_byts_b_avg"},
    {FEAT_FWD_PKTS_BULK, "Fwd Packet/Bulk Avg"},
    {FEAT_FWD_PKTS_BULK, "Fwd Pkts/b Avg"},
    {FEAT_FWD_PKTS_BULK, "fwd_pkts_b_avg"},
    {FEAT_FWD_BULK_RATE, "Fwd Bulk Rate Avg"},
    {FEAT_FWD_BULK_RATE, "Fwd Blk Rate Avg"},
    {FEAT_FWD_BULK_RATE, "fwd_blk_rate_avg"},
    {FEAT_BWD_BYTES_BULK, "Bwd Bytes/Bulk Avg"},
    {FEAT_BWD_BYTES_BULK, "Bwd Byts/b Avg"},
    {FEAT_BWD_BYTES_BULK, "bwd_byts_b_avg"},
    {FEAT_BWD_PKTS_BULK, "Bwd Packet/Bulk Avg"},
    {FEAT_BWD_PKTS_BULK, "Bwd Pkts/b Avg"},
    {FEAT_BWD_PKTS_BULK, "bwd_pkts_b_avg"},
    {FEAT_BWD_BULK_RATE, "Bwd Bulk Rate Avg"},
    {FEAT_BWD_BULK_RATE, "Bwd Blk Rate Avg"},
    {FEAT_BWD_BULK_RATE, "bwd_blk_rate_avg"},
    {FEAT_SUBFLOW_FWD_PKTS, "Subflow Fwd Pkts"},
    {FEAT_SUBFLOW_FWD_PKTS, "subflow_fwd_pkts"},
    {FEAT_SUBFLOW_FWD_BYTES, "Subflow Fwd Byts"},
    {FEAT_SUBFLOW_FWD_BYTES, "subflow_fwd_byts"},
    {FEAT_SUBFLOW_BWD_PKTS, "Subflow Bwd Pkts"},
    {FEAT_SUBFLOW_BWD_PKTS, "subflow_bwd_pkts"},
    {FEAT_SUBFLOW_BWD_BYTES, "Subflow Bwd Byts"},
    {FEAT_SUBFLOW_BWD_BYTES, "subflow_bwd_byts"},
    {FEAT_INIT_WIN_FWD, "FWD Init Win Bytes"},
    {FEAT_INIT_WIN_FWD, "Init Fwd Win Byts"},
    {FEAT_INIT_WIN_FWD, "init_fwd_win_byts"},
    {FEAT_INIT_WIN_FWD, "Init Fwd Win Bytes"},
    {FEAT_INIT_WIN_BWD, "Bwd Init Win Bytes"},
    {FEAT_INIT_WIN_BWD, "Init Bwd Win Byts"},
    {FEAT_INIT_WIN_BWD, "init_bwd_win_byts"},
    {FEAT_INIT_WIN_BWD, "Init Bwd Win Bytes"},
    {FEAT_ACT_DATA_PKT_FWD, "Fwd Act Data Pkts"},
    {FEAT_ACT_DATA_PKT_FWD, "fwd_act_data_pkts"},
    {FEAT_ACT_DATA_PKT_FWD, "Fwd Act Data Packets"},
    {FEAT_MIN_SEG_FWD, "Fwd Seg Size Min"},
    {FEAT_MIN_SEG_FWD, "fwd_seg_size_min"},
    {FEAT_ACTIVE_MEAN, "active_mean"},
    {FEAT_ACTIVE_STD, "active_std"},
    {FEAT_ACTIVE_MAX, "active_max"},
    {FEAT_ACTIVE_MIN, "active_min"},
    {FEAT_IDLE_MEAN, "idle_mean"},
    {FEAT_IDLE_STD, "idle_std"},
    {FEAT_IDLE_MAX, "idle_max"},
    {FEAT_IDLE_MIN, "idle_min"},
    {FEAT_PROTOCOL, "protocol"},
    {FEAT_ICMP_TYPE, "icmp_type"},
    {FEAT_ICMP_CODE, "icmp_code"},
    {FEAT_SVC_PORT_CLASS, "service_port_class"},
    {FEAT_SVC_PORT_SIDE, "service_port_side"},
};

const char *feat_name(enum feat_id id)
{
    return (unsigned)id < FEAT_COUNT ? clean_names[id] : "?";
}

const char *feat_name_cic(enum feat_id id)
{
    return (unsigned)id < FEAT_COUNT ? legacy_names[id] : "?";
}

/* Case-insensitive comparison of a against b, ignoring leading/trailing whitespace of a. */
static int name_equal(const char *a, const char *b)
{
    while (isspace((unsigned char)*a))
        a++;
    size_t la = strlen(a);
    while (la > 0 && isspace((unsigned char)a[la - 1]))
        la--;
    while (isspace((unsigned char)*b))
        b++;
    return strlen(b) == la && strncasecmp(a, b, la) == 0;
}

int feat_lookup(const char *name)
{
    for (int i = 0; i < FEAT_COUNT; i++)
        if (name_equal(name, clean_names[i]) || name_equal(name, legacy_names[i]))
            return i;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (name_equal(name, aliases[i].name))
            return (int)aliases[i].id;
    return -1;
}

const char *feat_mode_name(enum feat_mode mode)
{
    return mode == FEAT_MODE_CIC ? "cic" : "fixed";
}

int feat_mode_parse(const char *s, enum feat_mode *out)
{
    if (strcmp(s, "fixed") == 0) {
        *out = FEAT_MODE_FIXED;
        return 0;
    }
    if (strcmp(s, "cic") == 0) {
        *out = FEAT_MODE_CIC;
        return 0;
    }
    return -EINVAL;
}
