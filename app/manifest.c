/* manifest.c - loading ground-truth manifests and labelling flows (see manifest.h).
 *
 * Owns the parsed manifest. Parsing uses jansson, addresses common/cidr; every malformed field is
 * reported with the capture's index so a hand-edited manifest is easy to fix. */
#include "app/manifest.h"

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_proto(const json_t *v, int *out)
{
    static const struct {
        const char *name;
        int num;
    } names[] = {{"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"icmpv6", 58}, {"ipv6-icmp", 58}};
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < 0 || n > 255)
            return -EINVAL;
        *out = (int)n;
        return 0;
    }
    if (!json_is_string(v))
        return -EINVAL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(json_string_value(v), names[i].name) == 0) {
            *out = names[i].num;
            return 0;
        }
    }
    return -EINVAL;
}

static int copy_label(char dst[MANIFEST_LABEL_MAX], const json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) >= MANIFEST_LABEL_MAX)
        return -EINVAL;
    const char *s = json_string_value(v);
    for (const char *c = s; *c; c++)
        if (*c == ',' || *c == '"' || *c == '\n' || *c == '\r')
            return -EINVAL; /* labels go into CSV cells unquoted */
    snprintf(dst, MANIFEST_LABEL_MAX, "%s", s);
    return 0;
}

static int parse_rule(const json_t *jr, struct manifest_rule *r, char *what, size_t what_len)
{
    r->proto = -1;
    r->port = -1;
    if (!json_is_object(jr)) {
        snprintf(what, what_len, "a rule must be an object");
        return -EINVAL;
    }
    const json_t *v;
    if ((v = json_object_get(jr, "ip"))) {
        if (!json_is_string(v) ||
            cidr_parse(json_string_value(v), CIDR_HOST_BITS_OK, &r->ip, NULL, 0) != 0) {
            snprintf(what, what_len, "rule \"ip\" must be an address or CIDR");
            return -EINVAL;
        }
        r->has_ip = true;
    }
    if ((v = json_object_get(jr, "proto")) && parse_proto(v, &r->proto) != 0) {
        snprintf(what, what_len, "rule \"proto\" must be tcp, udp, icmp, icmpv6 or 0..255");
        return -EINVAL;
    }
    if ((v = json_object_get(jr, "port"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535) {
            snprintf(what, what_len, "rule \"port\" must be an integer 0..65535");
            return -EINVAL;
        }
        r->port = (int)json_integer_value(v);
    }
    if (copy_label(r->label, json_object_get(jr, "label")) != 0) {
        snprintf(what, what_len,
                 "rule \"label\" must be a short string without commas, quotes or line breaks");
        return -EINVAL;
    }
    return 0;
}

struct manifest *manifest_load(const char *path, char *err, size_t err_len)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, err_len, "cannot read manifest %s: %s (line %d, column %d)", path, jerr.text,
                 jerr.line, jerr.column);
        return NULL;
    }
    struct manifest *m = calloc(1, sizeof(*m));
    char dirbuf[PATH_MAX];
    snprintf(dirbuf, sizeof(dirbuf), "%s", path);
    const char *base = dirname(dirbuf);
    const json_t *caps = json_object_get(root, "captures");
    char what[160] = "";
    size_t i = 0;
    if (!m)
        goto oom;
    if (!json_is_array(caps)) {
        snprintf(err, err_len, "manifest %s: \"captures\" must be an array", path);
        goto fail;
    }
    m->captures = calloc(json_array_size(caps) + 1, sizeof(*m->captures));
    if (!m->captures)
        goto oom;
    for (i = 0; i < json_array_size(caps); i++) {
        const json_t *jc = json_array_get(caps, i);
        struct manifest_capture *c = &m->captures[i];
        m->ncaptures = i + 1;
        const json_t *jp = json_object_get(jc, "path");
        if (!json_is_string(jp)) {
            snprintf(what, sizeof(what), "\"path\" must be a string");
            goto bad_entry;
        }
        const char *p = json_string_value(jp);
        size_t need = strlen(base) + strlen(p) + 2;
        c->path = malloc(need);
        if (!c->path)
            goto oom;
        if (p[0] == '/')
            snprintf(c->path, need, "%s", p);
        else
            snprintf(c->path, need, "%s/%s", base, p);
        c->real_path = realpath(c->path, NULL);
        if (copy_label(c->label, json_object_get(jc, "label")) != 0) {
            snprintf(what, sizeof(what),
                     "\"label\" must be a short string without commas, quotes or line breaks");
            goto bad_entry;
        }
        const json_t *rules = json_object_get(jc, "rules");
        if (rules && !json_is_array(rules)) {
            snprintf(what, sizeof(what), "\"rules\" must be an array");
            goto bad_entry;
        }
        if (rules && json_array_size(rules) > 0) {
            c->rules = calloc(json_array_size(rules), sizeof(*c->rules));
            if (!c->rules)
                goto oom;
            for (size_t k = 0; k < json_array_size(rules); k++) {
                if (parse_rule(json_array_get(rules, k), &c->rules[k], what, sizeof(what)) != 0)
                    goto bad_entry;
                c->nrules = k + 1;
            }
        }
    }
    json_decref(root);
    return m;

bad_entry:
    snprintf(err, err_len, "manifest %s: capture #%zu: %s", path, i + 1, what);
    goto fail;
oom:
    snprintf(err, err_len, "manifest %s: out of memory", path);
fail:
    json_decref(root);
    manifest_free(m);
    return NULL;
}

void manifest_free(struct manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->ncaptures; i++) {
        free(m->captures[i].path);
        free(m->captures[i].real_path);
        free(m->captures[i].rules);
    }
    free(m->captures);
    free(m);
}

const struct manifest_capture *manifest_find(const struct manifest *m, const char *path)
{
    char *real = realpath(path, NULL);
    const struct manifest_capture *found = NULL;
    for (size_t i = 0; real && i < m->ncaptures && !found; i++)
        if (m->captures[i].real_path && strcmp(m->captures[i].real_path, real) == 0)
            found = &m->captures[i];
    free(real);
    return found;
}

static bool rule_matches(const struct manifest_rule *r, const struct flow *f)
{
    if (r->has_ip && !cidr_contains(&r->ip, f->key.ip_version, f->key.addr[0]) &&
        !cidr_contains(&r->ip, f->key.ip_version, f->key.addr[1]))
        return false;
    if (r->proto >= 0 && r->proto != f->key.proto)
        return false;
    if (r->port >= 0) {
        /* Only TCP and UDP flows have ports: an ICMP echo flow keeps its identifier in the
         * key's port fields (flow_key_from_packet), which a port rule must not match. */
        if (f->key.proto != IPPROTO_NUM_TCP && f->key.proto != IPPROTO_NUM_UDP)
            return false;
        if (r->port != f->key.port[0] && r->port != f->key.port[1])
            return false;
    }
    return true;
}

const char *manifest_label_flow(const struct manifest_capture *c, const struct flow *f)
{
    for (size_t i = 0; i < c->nrules; i++)
        if (rule_matches(&c->rules[i], f))
            return c->rules[i].label;
    return c->label;
}
