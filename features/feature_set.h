/* feature_set.h - the model's feature vector: identifiers, names and order.
 *
 * The vector is the CICFlowMeter feature set (columns #8..#84 of the CIC-IDS2017
 * "TrafficLabelling" CSV, without the duplicate "Fwd Header Length" #62), followed by five
 * ddosd extras (Protocol, ICMP Type, ICMP Code, Service Port Class, Service Port Side). The
 * order here is the order of every vector that crosses a ring; model files list the features
 * they use by name, so a model trained on an older, shorter vector still loads.
 *
 * Two modes compute the same columns (see docs/features.md):
 *   FEAT_MODE_CIC   reproduces the legacy CICFlowMeter behind the published CIC-IDS2017 and
 *                   CIC-DDoS2019 CSVs, quirks included;
 *   FEAT_MODE_FIXED uses the correct definitions (the default).
 *
 * Names: feat_name_cic() is the exact legacy CSV header (leading space included, "CWE Flag
 * Count" sic); feat_name() is the clean name (legacy name stripped, CWE spelled CWR). Model
 * files use the clean names; feat_lookup() also accepts legacy and common alias spellings. */
#ifndef DD_FEATURES_FEATURE_SET_H
#define DD_FEATURES_FEATURE_SET_H

#include <stddef.h>

enum feat_mode { FEAT_MODE_FIXED = 0, FEAT_MODE_CIC = 1 };

/* X(id, legacy CSV header, clean name) */
#define FEAT_LIST(X)                                                                               \
    X(FEAT_FLOW_DURATION, " Flow Duration", "Flow Duration")                                       \
    X(FEAT_TOT_FWD_PKTS, " Total Fwd Packets", "Total Fwd Packets")                                \
    X(FEAT_TOT_BWD_PKTS, " Total Backward Packets", "Total Backward Packets")                      \
    X(FEAT_TOTLEN_FWD, "Total Length of Fwd Packets", "Total Length of Fwd Packets")               \
    X(FEAT_TOTLEN_BWD, " Total Length of Bwd Packets", "Total Length of Bwd Packets")              \
    X(FEAT_FWD_LEN_MAX, " Fwd Packet Length Max", "Fwd Packet Length Max")                         \
    X(FEAT_FWD_LEN_MIN, " Fwd Packet Length Min", "Fwd Packet Length Min")                         \
    X(FEAT_FWD_LEN_MEAN, " Fwd Packet Length Mean", "Fwd Packet Length Mean")                      \
    X(FEAT_FWD_LEN_STD, " Fwd Packet Length Std", "Fwd Packet Length Std")                         \
    X(FEAT_BWD_LEN_MAX, "Bwd Packet Length Max", "Bwd Packet Length Max")                          \
    X(FEAT_BWD_LEN_MIN, " Bwd Packet Length Min", "Bwd Packet Length Min")                         \
    X(FEAT_BWD_LEN_MEAN, " Bwd Packet Length Mean", "Bwd Packet Length Mean")                      \
    X(FEAT_BWD_LEN_STD, " Bwd Packet Length Std", "Bwd Packet Length Std")                         \
    X(FEAT_FLOW_BYTES_S, "Flow Bytes/s", "Flow Bytes/s")                                           \
    X(FEAT_FLOW_PKTS_S, " Flow Packets/s", "Flow Packets/s")                                       \
    X(FEAT_FLOW_IAT_MEAN, " Flow IAT Mean", "Flow IAT Mean")                                       \
    X(FEAT_FLOW_IAT_STD, " Flow IAT Std", "Flow IAT Std")                                          \
    X(FEAT_FLOW_IAT_MAX, " Flow IAT Max", "Flow IAT Max")                                          \
    X(FEAT_FLOW_IAT_MIN, " Flow IAT Min", "Flow IAT Min")                                          \
    X(FEAT_FWD_IAT_TOT, "Fwd IAT Total", "Fwd IAT Total")                                          \
    X(FEAT_FWD_IAT_MEAN, " Fwd IAT Mean", "Fwd IAT Mean")                                          \
    X(FEAT_FWD_IAT_STD, " Fwd IAT Std", "Fwd IAT Std")                                             \
    X(FEAT_FWD_IAT_MAX, " Fwd IAT Max", "Fwd IAT Max")                                             \
    X(FEAT_FWD_IAT_MIN, " Fwd IAT Min", "Fwd IAT Min")                                             \
    X(FEAT_BWD_IAT_TOT, "Bwd IAT Total", "Bwd IAT Total")                                          \
    X(FEAT_BWD_IAT_MEAN, " Bwd IAT Mean", "Bwd IAT Mean")                                          \
    X(FEAT_BWD_IAT_STD, " Bwd IAT Std", "Bwd IAT Std")                                             \
    X(FEAT_BWD_IAT_MAX, " Bwd IAT Max", "Bwd IAT Max")                                             \
    X(FEAT_BWD_IAT_MIN, " Bwd IAT Min", "Bwd IAT Min")                                             \
    X(FEAT_FWD_PSH_FLAGS, "Fwd PSH Flags", "Fwd PSH Flags")                                        \
    X(FEAT_BWD_PSH_FLAGS, " Bwd PSH Flags", "Bwd PSH Flags")                                       \
    X(FEAT_FWD_URG_FLAGS, " Fwd URG Flags", "Fwd URG Flags")                                       \
    X(FEAT_BWD_URG_FLAGS, " Bwd URG Flags", "Bwd URG Flags")                                       \
    X(FEAT_FWD_HEADER_LEN, " Fwd Header Length", "Fwd Header Length")                              \
    X(FEAT_BWD_HEADER_LEN, " Bwd Header Length", "Bwd Header Length")                              \
    X(FEAT_FWD_PKTS_S, "Fwd Packets/s", "Fwd Packets/s")                                           \
    X(FEAT_BWD_PKTS_S, " Bwd Packets/s", "Bwd Packets/s")                                          \
    X(FEAT_PKT_LEN_MIN, " Min Packet Length", "Min Packet Length")                                 \
    X(FEAT_PKT_LEN_MAX, " Max Packet Length", "Max Packet Length")                                 \
    X(FEAT_PKT_LEN_MEAN, " Packet Length Mean", "Packet Length Mean")                              \
    X(FEAT_PKT_LEN_STD, " Packet Length Std", "Packet Length Std")                                 \
    X(FEAT_PKT_LEN_VAR, " Packet Length Variance", "Packet Length Variance")                       \
    X(FEAT_FIN_CNT, "FIN Flag Count", "FIN Flag Count")                                            \
    X(FEAT_SYN_CNT, " SYN Flag Count", "SYN Flag Count")                                           \
    X(FEAT_RST_CNT, " RST Flag Count", "RST Flag Count")                                           \
    X(FEAT_PSH_CNT, " PSH Flag Count", "PSH Flag Count")                                           \
    X(FEAT_ACK_CNT, " ACK Flag Count", "ACK Flag Count")                                           \
    X(FEAT_URG_CNT, " URG Flag Count", "URG Flag Count")                                           \
    X(FEAT_CWR_CNT, " CWE Flag Count", "CWR Flag Count")                                           \
    X(FEAT_ECE_CNT, " ECE Flag Count", "ECE Flag Count")                                           \
    X(FEAT_DOWN_UP_RATIO, " Down/Up Ratio", "Down/Up Ratio")                                       \
    X(FEAT_AVG_PKT_SIZE, " Average Packet Size", "Average Packet Size")                            \
    X(FEAT_AVG_FWD_SEG, " Avg Fwd Segment Size", "Avg Fwd Segment Size")                           \
    X(FEAT_AVG_BWD_SEG, " Avg Bwd Segment Size", "Avg Bwd Segment Size")                           \
    X(FEAT_FWD_BYTES_BULK, "Fwd Avg Bytes/Bulk", "Fwd Avg Bytes/Bulk")                             \
    X(FEAT_FWD_PKTS_BULK, " Fwd Avg Packets/Bulk", "Fwd Avg Packets/Bulk")                         \
    X(FEAT_FWD_BULK_RATE, " Fwd Avg Bulk Rate", "Fwd Avg Bulk Rate")                               \
    X(FEAT_BWD_BYTES_BULK, " Bwd Avg Bytes/Bulk", "Bwd Avg Bytes/Bulk")                            \
    X(FEAT_BWD_PKTS_BULK, " Bwd Avg Packets/Bulk", "Bwd Avg Packets/Bulk")                         \
    X(FEAT_BWD_BULK_RATE, "Bwd Avg Bulk Rate", "Bwd Avg Bulk Rate")                                \
    X(FEAT_SUBFLOW_FWD_PKTS, "Subflow Fwd Packets", "Subflow Fwd Packets")                         \
    X(FEAT_SUBFLOW_FWD_BYTES, " Subflow Fwd Bytes", "Subflow Fwd Bytes")                           \
    X(FEAT_SUBFLOW_BWD_PKTS, " Subflow Bwd Packets", "Subflow Bwd Packets")                        \
    X(FEAT_SUBFLOW_BWD_BYTES, " Subflow Bwd Bytes", "Subflow Bwd Bytes")                           \
    X(FEAT_INIT_WIN_FWD, "Init_Win_bytes_forward", "Init_Win_bytes_forward")                       \
    X(FEAT_INIT_WIN_BWD, " Init_Win_bytes_backward", "Init_Win_bytes_backward")                    \
    X(FEAT_ACT_DATA_PKT_FWD, " act_data_pkt_fwd", "act_data_pkt_fwd")                              \
    X(FEAT_MIN_SEG_FWD, " min_seg_size_forward", "min_seg_size_forward")                           \
    X(FEAT_ACTIVE_MEAN, "Active Mean", "Active Mean")                                              \
    X(FEAT_ACTIVE_STD, " Active Std", "Active Std")                                                \
    X(FEAT_ACTIVE_MAX, " Active Max", "Active Max")                                                \
    X(FEAT_ACTIVE_MIN, " Active Min", "Active Min")                                                \
    X(FEAT_IDLE_MEAN, "Idle Mean", "Idle Mean")                                                    \
    X(FEAT_IDLE_STD, " Idle Std", "Idle Std")                                                      \
    X(FEAT_IDLE_MAX, " Idle Max", "Idle Max")                                                      \
    X(FEAT_IDLE_MIN, " Idle Min", "Idle Min")                                                      \
    X(FEAT_PROTOCOL, " Protocol", "Protocol")                                                      \
    X(FEAT_ICMP_TYPE, "ICMP Type", "ICMP Type")                                                    \
    X(FEAT_ICMP_CODE, "ICMP Code", "ICMP Code")                                                    \
    X(FEAT_SVC_PORT_CLASS, "Service Port Class", "Service Port Class")                             \
    X(FEAT_SVC_PORT_SIDE, "Service Port Side", "Service Port Side")

enum feat_id {
#define FEAT_ENUM(id, legacy, clean) id,
    FEAT_LIST(FEAT_ENUM)
#undef FEAT_ENUM
        FEAT_COUNT
};

/* Features that come from CICFlowMeter's column set (the rest are ddosd extras). */
enum { FEAT_CIC_COUNT = FEAT_PROTOCOL };

/* Clean name of a feature ("Flow Duration"). id must be < FEAT_COUNT. */
const char *feat_name(enum feat_id id);

/* Exact legacy CSV header of a feature (" Flow Duration"). */
const char *feat_name_cic(enum feat_id id);

/* Maps a column name to its id, ignoring surrounding whitespace and case, and accepting the
 * legacy, clean, CICFlowMeter-2020 ("Fwd Packet Length Max"), abbreviated CSE-CIC-IDS2018
 * ("Fwd Pkt Len Max") and snake_case ("fwd_pkt_len_max") spellings. Returns -1 when unknown. */
int feat_lookup(const char *name);

/* "fixed" or "cic". */
const char *feat_mode_name(enum feat_mode mode);

/* Parses "fixed" or "cic". Returns 0 or -EINVAL. */
int feat_mode_parse(const char *s, enum feat_mode *out);

#endif
