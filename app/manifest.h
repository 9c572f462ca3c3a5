/* manifest.h - ground-truth manifests: which label each capture's flows carry.
 *
 * Format (the one of ../shared/data/manifest.json, documented in docs/features.md):
 *   {"captures": [{"path": "captures/x.pcap", "label": "syn_flood",
 *                  "rules": [{"ip": "10.0.0.0/8", "proto": "udp", "port": 53,
 *                             "label": "benign"}]}]}
 * Paths are relative to the manifest file. A capture's label applies to every flow in it; a
 * rule relabels the flows it matches: "ip" matches either endpoint (an address or a CIDR),
 * "proto" is tcp, udp, icmp, icmpv6 or a number, "port" either port; the fields given must all
 * match; the first matching rule wins.
 *
 * Loaded once at start-up; read-only afterwards. */
#ifndef DD_APP_MANIFEST_H
#define DD_APP_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cidr.h"
#include "common/compiler.h"
#include "features/flow.h"

enum { MANIFEST_LABEL_MAX = 64 };

struct manifest_rule {
    bool has_ip;
    struct cidr ip; /* host bits given in the manifest are cleared (CIDR_HOST_BITS_OK) */
    int proto;      /* -1: any */
    int port;       /* -1: any */
    char label[MANIFEST_LABEL_MAX];
};

struct manifest_capture {
    char *path;      /* resolved against the manifest's directory */
    char *real_path; /* realpath() of path, NULL if it does not exist */
    char label[MANIFEST_LABEL_MAX];
    struct manifest_rule *rules;
    size_t nrules;
};

struct manifest {
    struct manifest_capture *captures;
    size_t ncaptures;
};

/* Parses a manifest. Returns NULL with a one-line reason in err (file, JSON position, field). */
struct manifest *manifest_load(const char *path, char *err, size_t err_len);
void manifest_free(struct manifest *m);

/* The entry for a capture path (compared by realpath), or NULL. */
const struct manifest_capture *manifest_find(const struct manifest *m, const char *path);

/* The label of a flow of capture c: the first matching rule's, else the capture's. */
const char *manifest_label_flow(const struct manifest_capture *c, const struct flow *f);

#endif
