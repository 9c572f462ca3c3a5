/* model_load.c - reads a ddosd model file (docs/model-format.md) into an immutable struct model.
 *
 * Owns the loader, the reference count, the accessors and model_describe(). Scoring lives in
 * model_score.c; both share the layout in model_internal.h. Runs at start-up and on hot swap,
 * never per packet; calls features/ only for feat_lookup() and feat_mode_parse().
 *
 * DESIGN: three steps, each bounded by the input's size.
 *  1. model_msgpack_scan() walks the raw bytes once, allocating nothing. It finds where the one
 *     msgpack document ends, so a truncated file and trailing bytes get precise messages, and it
 *     checks that no container declares more elements than there are bytes left (every element
 *     takes at least one byte). That check matters: msgpack-c allocates an array's element slots
 *     from the declared count before it reads them, so a 5-byte file could otherwise ask for
 *     100 GB. After the scan msgpack-c's zone is at most ~24 bytes per input byte.
 *  2. msgpack_unpack_next() builds the object tree. Strings and bins point into the input.
 *  3. model_parse() checks every field and fills struct model. Trees take two passes: the first
 *     checks n_nodes and every bin length and counts leaves, so each stage's node and value pools
 *     are allocated exactly once; the second walks each tree iteratively from the root with an
 *     explicit queue and a "claimed" bitmap, which catches out-of-range children, self-loops,
 *     cycles, nodes reached twice, one-child nodes and unreachable nodes without recursion, and
 *     writes the nodes breadth first (model_internal.h explains the 8-byte node).
 * Every rejection is one line naming the field ("stage 0 tree 12 node 7: right child 7 points to
 * itself"); bytes from the file are made printable before they are quoted. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "inference/model_internal.h"
#include <openssl/evp.h>

/* One pending subtree of the pass-2 walk. */
struct model_walk_item {
    uint32_t node;  /* index in the file's arrays */
    int32_t patch;  /* new index of the parent whose left child this is, or -1 */
    uint32_t depth; /* root = 0 */
};

/* A tree's arrays as found in the file, after pass 1 checked their lengths. */
struct model_tree_src {
    const uint8_t *feature, *threshold, *left, *right, *value, *missing_left;
    uint32_t n_nodes;
    uint32_t n_leaves;
};

/* The leaf vectors of one stage, each distinct vector stored once: a production forest's
 * 120,000 leaves hold about 5,000 distinct probability vectors (deep leaves are mostly pure),
 * so the table shrinks from MBs to a size that stays in L2, and the one load per tree at the
 * end of a walk stops missing the cache. Vectors are compared bit for bit, so sums are exact. */
struct model_interner {
    double *pool;    /* becomes model_stage.value_pool: count x stride doubles */
    uint32_t *slots; /* open addressing: index into pool, UINT32_MAX when empty */
    uint32_t mask;   /* slots - 1, a power of two >= 2 x leaves */
    uint32_t count;
    uint32_t stride;
};

struct model_loader {
    char *err;
    size_t err_len;
    bool failed;
    char where[48]; /* "stage 0 tree 12": prefixes every message */
    size_t total_nodes;
    /* Pass-2 scratch, sized for the largest tree and reused by every tree. */
    struct model_walk_item *queue;
    uint32_t *parent;
    uint8_t *claimed;
};

static void model_fail(struct model_loader *ld, const char *fmt, ...) DD_PRINTF(2, 3);

static void model_fail(struct model_loader *ld, const char *fmt, ...)
{
    if (ld->failed)
        return; /* keep the first, most specific reason */
    ld->failed = true;
    if (!ld->err || ld->err_len == 0)
        return;
    size_t n = 0;
    if (ld->where[0])
        n = (size_t)snprintf(ld->err, ld->err_len, "%s: ", ld->where);
    if (n < ld->err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err + n, ld->err_len - n, fmt, ap);
        va_end(ap);
    }
}

/* model_fail for a tree node: "stage 0 tree 12 node 7: <message>". */
static void model_fail_node(struct model_loader *ld, uint32_t node, const char *fmt, ...)
    DD_PRINTF(3, 4);

static void model_fail_node(struct model_loader *ld, uint32_t node, const char *fmt, ...)
{
    char msg[MODEL_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t n = strlen(ld->where);
    snprintf(ld->where + n, sizeof(ld->where) - n, " node %" PRIu32, node);
    model_fail(ld, "%s", msg);
}

static void model_where(struct model_loader *ld, const char *fmt, ...) DD_PRINTF(2, 3);

static void model_where(struct model_loader *ld, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->where, sizeof(ld->where), fmt, ap);
    va_end(ap);
}

/* Copies at most cap - 1 bytes of a file string into buf for quoting in a message: control
 * bytes become '?' so the message stays one line, and a long string ends in "...". */
static const char *model_printable(const char *p, size_t n, char *buf, size_t cap)
{
    size_t keep = n < cap - 1 ? n : cap - 4;
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)p[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (keep < n)
        memcpy(buf + keep, "...", 3), keep += 3;
    buf[keep] = '\0';
    return buf;
}

/* ---- step 1: bounded scan of the raw msgpack bytes ---- */

static uint64_t model_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Finds the end of the msgpack document at buf[0..len) into *end. Fails on truncation, the
 * reserved byte 0xc1, or a container declaring more elements than bytes remain. */
static int model_msgpack_scan(struct model_loader *ld, const uint8_t *buf, size_t len, size_t *end)
{
    uint64_t pending = 1; /* objects still to read; each needs at least one byte */
    size_t i = 0;
    if (len == 0) {
        model_fail(ld, "truncated: empty input");
        return -1;
    }
    while (pending > 0) {
        if (pending > len - i) {
            model_fail(ld,
                       "truncated: %" PRIu64 " more msgpack objects announced at byte %zu "
                       "but only %zu bytes remain",
                       pending, i, len - i);
            return -1;
        }
        uint8_t b = buf[i++];
        pending--;
        unsigned lenbytes = 0; /* size of a length field that follows */
        uint64_t skip = 0;     /* payload bytes that follow the length field */
        uint64_t add = 0;      /* elements that follow */
        unsigned extra = 0;    /* fixed bytes before the payload (ext type) */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b <= 0x8f) {
            add = 2u * (b & 0x0f);
        } else if (b <= 0x9f) {
            add = b & 0x0f;
        } else if (b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4:
            case 0xd9:
                lenbytes = 1;
                break; /* bin8, str8 */
            case 0xc5:
            case 0xda:
                lenbytes = 2;
                break;
            case 0xc6:
            case 0xdb:
                lenbytes = 4;
                break;
            case 0xc7:
                lenbytes = 1, extra = 1;
                break; /* ext8: length, type, data */
            case 0xc8:
                lenbytes = 2, extra = 1;
                break;
            case 0xc9:
                lenbytes = 4, extra = 1;
                break;
            case 0xca:
                skip = 4;
                break; /* float32 */
            case 0xcb:
                skip = 8;
                break;
            case 0xcc:
            case 0xd0:
                skip = 1;
                break;
            case 0xcd:
            case 0xd1:
                skip = 2;
                break;
            case 0xce:
            case 0xd2:
                skip = 4;
                break;
            case 0xcf:
            case 0xd3:
                skip = 8;
                break;
            case 0xd4:
                skip = 2;
                break; /* fixext: type + 1, 2, 4, 8, 16 bytes */
            case 0xd5:
                skip = 3;
                break;
            case 0xd6:
                skip = 5;
                break;
            case 0xd7:
                skip = 9;
                break;
            case 0xd8:
                skip = 17;
                break;
            case 0xdc:
            case 0xdd:
            case 0xde:
            case 0xdf: {
                unsigned n = b == 0xdc || b == 0xde ? 2 : 4;
                if (len - i < n) {
                    model_fail(ld, "truncated: file ends inside a msgpack header at byte %zu", i);
                    return -1;
                }
                add = model_be(buf + i, n) * (b >= 0xde ? 2 : 1);
                i += n;
                break;
            }
            default: /* 0xc1 */
                model_fail(ld, "not msgpack: reserved byte 0xc1 at offset %zu", i - 1);
                return -1;
            }
        }
        if (lenbytes) {
            if (len - i < lenbytes) {
                model_fail(ld, "truncated: file ends inside a msgpack header at byte %zu", i);
                return -1;
            }
            skip = model_be(buf + i, lenbytes) + extra;
            i += lenbytes;
        }
        if (skip > len - i) {
            model_fail(ld,
                       "truncated: a msgpack value at byte %zu needs %" PRIu64
                       " bytes, only %zu remain",
                       i, skip, len - i);
            return -1;
        }
        i += (size_t)skip;
        pending += add;
    }
    *end = i;
    return 0;
}

/* ---- msgpack object helpers ---- */

static const char *model_type_name(msgpack_object_type t)
{
    switch (t) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "an integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "a float";
    case MSGPACK_OBJECT_STR:
        return "a string";
    case MSGPACK_OBJECT_ARRAY:
        return "an array";
    case MSGPACK_OBJECT_MAP:
        return "a map";
    case MSGPACK_OBJECT_BIN:
        return "a bin";
    case MSGPACK_OBJECT_EXT:
        return "an ext";
    }
    return "unknown";
}

static bool model_str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

/* Finds key in map. Returns 0 with *out NULL when absent; -1 after failing on a duplicate key
 * (two values for one key would let two readers of one file disagree). */
static int model_find(struct model_loader *ld, const msgpack_object *map, const char *key,
                      const msgpack_object **out)
{
    *out = NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (!model_str_is(&kv->key, key))
            continue;
        if (*out) {
            model_fail(ld, "duplicate key '%s'", key);
            return -1;
        }
        *out = &kv->val;
    }
    return 0;
}

/* Gets key of the given type. Returns 0 (found), 1 (absent and optional; *out NULL) or -1. */
static int model_get(struct model_loader *ld, const msgpack_object *map, const char *key,
                     msgpack_object_type type, bool required, const msgpack_object **out)
{
    if (model_find(ld, map, key, out) < 0)
        return -1;
    if (!*out) {
        if (!required)
            return 1;
        model_fail(ld, "missing key '%s'", key);
        return -1;
    }
    if ((*out)->type != type) {
        model_fail(ld, "'%s' is %s, expected %s", key, model_type_name((*out)->type),
                   model_type_name(type));
        return -1;
    }
    return 0;
}

static int model_get_int(struct model_loader *ld, const msgpack_object *map, const char *key,
                         int64_t lo, int64_t hi, bool required, int64_t *out)
{
    const msgpack_object *o;
    if (model_find(ld, map, key, &o) < 0)
        return -1;
    if (!o) {
        if (!required)
            return 1;
        model_fail(ld, "missing key '%s'", key);
        return -1;
    }
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        v = o->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = o->via.i64;
    } else {
        model_fail(ld, "'%s' is %s, expected an integer", key, model_type_name(o->type));
        return -1;
    }
    if (v < lo || v > hi) {
        model_fail(ld, "'%s' = %" PRId64 " outside [%" PRId64 ", %" PRId64 "]", key, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* A number (float or integer) that must be finite. */
static int model_get_f64(struct model_loader *ld, const msgpack_object *map, const char *key,
                         bool required, double *out)
{
    const msgpack_object *o;
    if (model_find(ld, map, key, &o) < 0)
        return -1;
    if (!o) {
        if (!required)
            return 1;
        model_fail(ld, "missing key '%s'", key);
        return -1;
    }
    double v;
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        v = o->via.f64;
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        v = (double)o->via.u64;
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        v = (double)o->via.i64;
        break;
    default:
        model_fail(ld, "'%s' is %s, expected a number", key, model_type_name(o->type));
        return -1;
    }
    if (!isfinite(v)) {
        model_fail(ld, "'%s' is not finite", key);
        return -1;
    }
    *out = v;
    return 0;
}

/* Copies a name (feature or class) into buf as a C string: at most MODEL_MAX_NAME_LEN bytes,
 * no NUL inside (it would silently shorten the name feat_lookup sees). */
static int model_name(struct model_loader *ld, const msgpack_object *o, const char *what,
                      uint32_t idx, char buf[MODEL_MAX_NAME_LEN + 1])
{
    if (o->type != MSGPACK_OBJECT_STR) {
        model_fail(ld, "%s[%" PRIu32 "] is %s, expected a string", what, idx,
                   model_type_name(o->type));
        return -1;
    }
    if (o->via.str.size == 0 || o->via.str.size > MODEL_MAX_NAME_LEN ||
        memchr(o->via.str.ptr, '\0', o->via.str.size)) {
        model_fail(ld, "%s[%" PRIu32 "]: a name must be 1..%d bytes without NUL", what, idx,
                   MODEL_MAX_NAME_LEN);
        return -1;
    }
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    return 0;
}

static int32_t model_le_i32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

static double model_le_f64(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | p[i];
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

/* A bin of exactly count elements of size bytes each. */
static int model_get_bin(struct model_loader *ld, const msgpack_object *map, const char *key,
                         size_t count, size_t size, const char *count_what, bool required,
                         const uint8_t **out)
{
    const msgpack_object *o;
    int rc = model_get(ld, map, key, MSGPACK_OBJECT_BIN, required, &o);
    if (rc != 0) {
        *out = NULL;
        return rc;
    }
    if (o->via.bin.size != count * size) {
        model_fail(ld, "'%s' is %" PRIu32 " bytes, expected %zu (%s %zu x %zu)", key,
                   o->via.bin.size, count * size, count_what, count, size);
        return -1;
    }
    *out = (const uint8_t *)o->via.bin.ptr;
    return 0;
}

/* ---- step 3: the fields ---- */

static int model_parse_features(struct model_loader *ld, struct model *m,
                                const msgpack_object *root)
{
    const msgpack_object *arr;
    if (model_get(ld, root, "features", MSGPACK_OBJECT_ARRAY, true, &arr) < 0)
        return -1;
    if (arr->via.array.size == 0 || arr->via.array.size > FEAT_COUNT) {
        model_fail(ld, "'features' has %" PRIu32 " names, expected 1..%d", arr->via.array.size,
                   FEAT_COUNT);
        return -1;
    }
    int seen[FEAT_COUNT];
    for (int i = 0; i < FEAT_COUNT; i++)
        seen[i] = -1;
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        char name[MODEL_MAX_NAME_LEN + 1], shown[80];
        if (model_name(ld, &arr->via.array.ptr[i], "features", i, name) < 0)
            return -1;
        int id = feat_lookup(name);
        if (id < 0) {
            model_fail(ld, "features[%" PRIu32 "]: unknown feature name '%s'", i,
                       model_printable(name, strlen(name), shown, sizeof(shown)));
            return -1;
        }
        if (seen[id] >= 0) {
            model_fail(ld, "features[%" PRIu32 "]: duplicate of features[%d] (both are '%s')", i,
                       seen[id], feat_name((enum feat_id)id));
            return -1;
        }
        seen[id] = (int)i;
        m->feat_ids[i] = (uint8_t)id;
    }
    m->n_features = arr->via.array.size;
    return 0;
}

static int model_parse_nonfinite(struct model_loader *ld, struct model *m,
                                 const msgpack_object *root)
{
    const msgpack_object *map;
    if (model_get(ld, root, "nonfinite", MSGPACK_OBJECT_MAP, true, &map) < 0)
        return -1;
    model_where(ld, "nonfinite");
    if (model_get_f64(ld, map, "nan", true, &m->nan_value) < 0 ||
        model_get_f64(ld, map, "posinf", true, &m->posinf_value) < 0 ||
        model_get_f64(ld, map, "neginf", true, &m->neginf_value) < 0)
        return -1;
    ld->where[0] = '\0';
    return 0;
}

static int model_parse_scaler(struct model_loader *ld, struct model *m, const msgpack_object *root)
{
    const msgpack_object *map;
    if (model_find(ld, root, "scaler", &map) < 0)
        return -1;
    if (!map || map->type == MSGPACK_OBJECT_NIL) {
        m->scaler = MODEL_SCALER_NONE;
        return 0;
    }
    if (map->type != MSGPACK_OBJECT_MAP) {
        model_fail(ld, "'scaler' is %s, expected a map or nil", model_type_name(map->type));
        return -1;
    }
    model_where(ld, "scaler");
    const msgpack_object *kind;
    if (model_get(ld, map, "kind", MSGPACK_OBJECT_STR, true, &kind) < 0)
        return -1;
    const char *offset_key;
    if (model_str_is(kind, "standard")) {
        m->scaler = MODEL_SCALER_STANDARD;
        offset_key = "mean";
    } else if (model_str_is(kind, "minmax")) {
        m->scaler = MODEL_SCALER_MINMAX;
        offset_key = "min";
    } else {
        char shown[40];
        model_fail(ld, "'kind' is '%s', expected 'standard' or 'minmax'",
                   model_printable(kind->via.str.ptr, kind->via.str.size, shown, sizeof(shown)));
        return -1;
    }
    const uint8_t *offset, *scale;
    if (model_get_bin(ld, map, offset_key, m->n_features, 8, "features", true, &offset) < 0 ||
        model_get_bin(ld, map, "scale", m->n_features, 8, "features", true, &scale) < 0)
        return -1;
    for (uint32_t e = 0; e < FEAT_COUNT; e++) { /* identity for what the model does not use */
        m->scaler_offset[e] = 0;
        m->scaler_scale[e] = 1;
    }
    for (uint32_t i = 0; i < m->n_features; i++) {
        const double off = model_le_f64(offset + 8 * i), sc = model_le_f64(scale + 8 * i);
        if (!isfinite(off)) {
            model_fail(ld, "%s[%" PRIu32 "] is not finite", offset_key, i);
            return -1;
        }
        if (!isfinite(sc) || sc == 0) {
            model_fail(ld, "scale[%" PRIu32 "] is %s (a scale must be finite and non-zero)", i,
                       sc == 0 ? "zero" : "not finite");
            return -1;
        }
        m->scaler_offset[m->feat_ids[i]] = off; /* extractor order, see struct model */
        m->scaler_scale[m->feat_ids[i]] = sc;
    }
    ld->where[0] = '\0';
    return 0;
}

static int model_parse_classes(struct model_loader *ld, struct model *m, const msgpack_object *root)
{
    const msgpack_object *arr;
    if (model_get(ld, root, "classes", MSGPACK_OBJECT_ARRAY, true, &arr) < 0)
        return -1;
    uint32_t n = arr->via.array.size;
    if (n == 0 || n > MODEL_MAX_CLASSES) {
        model_fail(ld, "'classes' has %" PRIu32 " names, expected 1..%d", n, MODEL_MAX_CLASSES);
        return -1;
    }
    m->class_names = calloc(n, sizeof(char *));
    if (!m->class_names) {
        model_fail(ld, "out of memory for %" PRIu32 " class names", n);
        return -1;
    }
    m->n_classes = n;
    m->bytes += n * sizeof(char *);
    for (uint32_t i = 0; i < n; i++) {
        char name[MODEL_MAX_NAME_LEN + 1];
        if (model_name(ld, &arr->via.array.ptr[i], "classes", i, name) < 0)
            return -1;
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(m->class_names[j], name) == 0) {
                char shown[80];
                model_fail(ld, "classes[%" PRIu32 "]: duplicate of classes[%" PRIu32 "] ('%s')", i,
                           j, model_printable(name, strlen(name), shown, sizeof(shown)));
                return -1;
            }
        }
        m->class_names[i] = strdup(name);
        if (!m->class_names[i]) {
            model_fail(ld, "out of memory for class names");
            return -1;
        }
        m->bytes += strlen(name) + 1;
    }
    return 0;
}

/* Pass 1 over one tree: n_nodes, bin lengths, leaf count. */
static int model_tree_scan(struct model_loader *ld, const msgpack_object *t, uint32_t stride,
                           struct model_tree_src *src)
{
    if (t->type != MSGPACK_OBJECT_MAP) {
        model_fail(ld, "a tree is %s, expected a map", model_type_name(t->type));
        return -1;
    }
    int64_t n;
    if (model_get_int(ld, t, "n_nodes", 1, MODEL_MAX_TREE_NODES, true, &n) < 0)
        return -1;
    src->n_nodes = (uint32_t)n;
    if (model_get_bin(ld, t, "feature", src->n_nodes, 4, "n_nodes", true, &src->feature) < 0 ||
        model_get_bin(ld, t, "threshold", src->n_nodes, 8, "n_nodes", true, &src->threshold) < 0 ||
        model_get_bin(ld, t, "left", src->n_nodes, 4, "n_nodes", true, &src->left) < 0 ||
        model_get_bin(ld, t, "right", src->n_nodes, 4, "n_nodes", true, &src->right) < 0 ||
        model_get_bin(ld, t, "value", (size_t)src->n_nodes * stride, 8, "n_nodes x outputs", true,
                      &src->value) < 0 ||
        model_get_bin(ld, t, "missing_left", src->n_nodes, 1, "n_nodes", false,
                      &src->missing_left) < 0)
        return -1;
    ld->total_nodes += src->n_nodes;
    if (ld->total_nodes > MODEL_MAX_TOTAL_NODES) {
        model_fail(ld, "the model has more than %d nodes in total", MODEL_MAX_TOTAL_NODES);
        return -1;
    }
    src->n_leaves = 0;
    for (uint32_t i = 0; i < src->n_nodes; i++)
        src->n_leaves +=
            model_le_i32(src->left + 4 * i) == -1 && model_le_i32(src->right + 4 * i) == -1;
    return 0;
}

static uint32_t model_intern(struct model_interner *in, const double *v)
{
    const size_t bytes = (size_t)in->stride * sizeof(double);
    uint64_t h = 1469598103934665603u; /* FNV-1a over the vector's bytes */
    for (size_t k = 0; k < bytes; k++)
        h = (h ^ ((const uint8_t *)v)[k]) * 1099511628211u;
    for (uint32_t s = (uint32_t)(h ^ (h >> 32)) & in->mask;; s = (s + 1) & in->mask) {
        const uint32_t e = in->slots[s];
        if (e == UINT32_MAX) {
            memcpy(in->pool + (size_t)in->count * in->stride, v, bytes);
            in->slots[s] = in->count;
            return in->count++;
        }
        if (memcmp(in->pool + (size_t)e * in->stride, v, bytes) == 0)
            return e;
    }
}

/* The largest float32 not above t: for any float32 x, x <= t exactly when x <= this. */
static float model_threshold_f32(double t)
{
    float f = (float)t;
    if ((double)f > t)
        f = nextafterf(f, -INFINITY);
    return f;
}

static bool model_is_ancestor(const uint32_t *parent, uint32_t candidate, uint32_t node)
{
    for (uint32_t a = node; a != UINT32_MAX; a = parent[a])
        if (a == candidate)
            return true;
    return false;
}

/* Claims child c of node i for the walk; fails on every way a child can break the tree. */
static int model_tree_claim(struct model_loader *ld, const struct model_tree_src *src, uint32_t i,
                            int32_t c, const char *side)
{
    if (c < 1 || (uint32_t)c >= src->n_nodes) {
        model_fail_node(ld, i, "%s child %" PRId32 " outside [1, %" PRIu32 ")", side, c,
                        src->n_nodes);
        return -1;
    }
    uint32_t u = (uint32_t)c;
    if (u == i) {
        model_fail_node(ld, i, "%s child %" PRIu32 " points to itself", side, u);
        return -1;
    }
    if (ld->claimed[u / 8] & (1u << (u % 8))) {
        if (model_is_ancestor(ld->parent, u, i))
            model_fail_node(ld, i, "%s child %" PRIu32 " is its ancestor (a cycle)", side, u);
        else
            model_fail_node(ld, i,
                            "%s child %" PRIu32 " reached twice (already a child"
                            " of node %" PRIu32 ")",
                            side, u, ld->parent[u]);
        return -1;
    }
    ld->claimed[u / 8] |= (uint8_t)(1u << (u % 8));
    ld->parent[u] = i;
    return 0;
}

/* Pass 2 over one tree: checks values and structure, writes the nodes breadth first (n_nodes
 * entries) and interns the leaf vectors; *depth gets the deepest leaf. */
static int model_tree_build(struct model_loader *ld, const struct model_tree_src *src,
                            uint32_t n_features, const uint8_t *feat_ids, struct model_interner *in,
                            struct model_node *nodes, uint32_t *depth)
{
    const uint32_t n = src->n_nodes, stride = in->stride;
    *depth = 0;
    for (uint32_t i = 0; i < n; i++) {
        double t = model_le_f64(src->threshold + 8 * i);
        if (!isfinite(t)) {
            model_fail_node(ld, i, "threshold is %s", isnan(t) ? "NaN" : "infinite");
            return -1;
        }
        for (uint32_t k = 0; k < stride; k++) {
            if (!isfinite(model_le_f64(src->value + 8 * ((size_t)i * stride + k)))) {
                model_fail_node(ld, i, "value[%" PRIu32 "] is not finite", k);
                return -1;
            }
        }
    }

    memset(ld->claimed, 0, (n + 7) / 8);
    ld->claimed[0] = 1;
    ld->parent[0] = UINT32_MAX;
    /* A FIFO queue (in ld->queue: every node is queued once, so n slots suffice): nodes are
     * numbered in the order they leave it, breadth first, and a node queues its left then its
     * right child, so the two get consecutive numbers (model_internal.h). */
    uint32_t head = 0, tail = 0, next = 0, leaf = 0;
    ld->queue[tail++] = (struct model_walk_item){.node = 0, .patch = -1, .depth = 0};
    while (head < tail) {
        struct model_walk_item it = ld->queue[head++];
        const uint32_t i = it.node, me = next++;
        if (it.patch >= 0)
            nodes[it.patch].word |= me;
        int32_t l = model_le_i32(src->left + 4 * i), r = model_le_i32(src->right + 4 * i);
        if (l == -1 && r == -1) {
            if (leaf >= src->n_leaves) { /* cannot happen: pass 1 counted these leaves */
                model_fail_node(ld, i, "more leaves than counted");
                return -1;
            }
            /* Self-loop (model_internal.h): feature slot NaN, child itself, NaN goes "left". */
            double v[MODEL_MAX_CLASSES];
            for (uint32_t k = 0; k < in->stride; k++)
                v[k] = model_le_f64(src->value + 8 * ((size_t)i * in->stride + k));
            const uint32_t vec = model_intern(in, v);
            nodes[me].word =
                MODEL_NODE_NAN_LEFT | (uint32_t)MODEL_X_NAN << MODEL_NODE_FEAT_SHIFT | me;
            memcpy(&nodes[me].threshold, &vec, sizeof(vec));
            leaf++;
            if (it.depth > *depth)
                *depth = it.depth;
            continue;
        }
        if (l == -1 || r == -1) {
            model_fail_node(ld, i,
                            "one child (left %" PRId32 ", right %" PRId32
                            "); a node has two children or none",
                            l, r);
            return -1;
        }
        if (model_tree_claim(ld, src, i, l, "left") < 0 ||
            model_tree_claim(ld, src, i, r, "right") < 0)
            return -1;
        int32_t f = model_le_i32(src->feature + 4 * i);
        if (f < 0 || (uint32_t)f >= n_features) {
            model_fail_node(ld, i, "feature index %" PRId32 " outside [0, %" PRIu32 ")", f,
                            n_features);
            return -1;
        }
        /* The walks read rows in extractor order (model_internal.h): store the input's id. */
        uint32_t word = (uint32_t)feat_ids[f] << MODEL_NODE_FEAT_SHIFT;
        if (src->missing_left && src->missing_left[i])
            word |= MODEL_NODE_NAN_LEFT;
        nodes[me] = (struct model_node){
            .threshold = model_threshold_f32(model_le_f64(src->threshold + 8 * i)), .word = word};
        /* Each node is claimed once, so the queue never holds more than n items. */
        ld->queue[tail++] = (struct model_walk_item){
            .node = (uint32_t)l, .patch = (int32_t)me, .depth = it.depth + 1};
        ld->queue[tail++] =
            (struct model_walk_item){.node = (uint32_t)r, .patch = -1, .depth = it.depth + 1};
    }
    if (next != n) {
        uint32_t u = 0;
        while (u < n && (ld->claimed[u / 8] & (1u << (u % 8))))
            u++;
        model_fail_node(ld, u, "unreachable from the root");
        return -1;
    }
    return 0;
}

/* Checks stage s's map and reads its scalars into m->stages[s]: name, kind, classes, threshold,
 * positive (stage 0), init (boosting); hands back its 'trees' array, whose size is checked
 * against the raw outputs. Returns 0, or -1 with the reason in ld. */
static int model_stage_read(struct model_loader *ld, struct model *m, uint32_t s,
                            const msgpack_object *st, const msgpack_object **trees)
{
    struct model_stage *stage = &m->stages[s];
    stage->positive = -1;
    model_where(ld, "stage %" PRIu32, s);
    if (st->type != MSGPACK_OBJECT_MAP) {
        model_fail(ld, "a stage is %s, expected a map", model_type_name(st->type));
        return -1;
    }

    const msgpack_object *o;
    if (model_get(ld, st, "name", MSGPACK_OBJECT_STR, true, &o) < 0)
        return -1;
    const char *want = m->n_stages == 1 ? NULL : s == 0 ? "attack" : "family";
    if ((want && !model_str_is(o, want)) ||
        (!want && !model_str_is(o, "attack") && !model_str_is(o, "family"))) {
        char shown[40];
        model_fail(ld, "'name' is '%s', expected %s",
                   model_printable(o->via.str.ptr, o->via.str.size, shown, sizeof(shown)),
                   want ? (s == 0 ? "'attack' (two-stage models are attack, then family)"
                                  : "'family' (two-stage models are attack, then family)")
                        : "'attack' or 'family'");
        return -1;
    }
    memcpy(stage->name, o->via.str.ptr, o->via.str.size);

    if (model_get(ld, st, "kind", MSGPACK_OBJECT_STR, true, &o) < 0)
        return -1;
    if (model_str_is(o, "forest")) {
        stage->kind = MODEL_STAGE_FOREST;
    } else if (model_str_is(o, "boosting")) {
        stage->kind = MODEL_STAGE_BOOSTING;
    } else {
        char shown[40];
        model_fail(ld, "'kind' is '%s', expected 'forest' or 'boosting'",
                   model_printable(o->via.str.ptr, o->via.str.size, shown, sizeof(shown)));
        return -1;
    }

    if (model_get(ld, st, "classes", MSGPACK_OBJECT_ARRAY, true, &o) < 0)
        return -1;
    uint32_t n_out = o->via.array.size;
    uint32_t min_out = stage->kind == MODEL_STAGE_BOOSTING ? 2 : 1;
    if (n_out < min_out || n_out > MODEL_MAX_CLASSES) {
        model_fail(ld, "'classes' has %" PRIu32 " entries, expected %" PRIu32 "..%d", n_out,
                   min_out, MODEL_MAX_CLASSES);
        return -1;
    }
    for (uint32_t j = 0; j < n_out; j++) {
        const msgpack_object *c = &o->via.array.ptr[j];
        if (c->type != MSGPACK_OBJECT_POSITIVE_INTEGER || c->via.u64 >= m->n_classes) {
            if (c->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                model_fail(ld, "classes[%" PRIu32 "] = %" PRIu64 " outside [0, %" PRIu32 ")", j,
                           c->via.u64, m->n_classes);
            else if (c->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                model_fail(ld, "classes[%" PRIu32 "] = %" PRId64 " outside [0, %" PRIu32 ")", j,
                           c->via.i64, m->n_classes);
            else
                model_fail(ld, "classes[%" PRIu32 "] is %s, expected an integer", j,
                           model_type_name(c->type));
            return -1;
        }
        stage->classes[j] = (uint32_t)c->via.u64;
        for (uint32_t k = 0; k < j; k++) {
            if (stage->classes[k] == stage->classes[j]) {
                model_fail(ld, "classes[%" PRIu32 "] repeats class %" PRIu32, j, stage->classes[j]);
                return -1;
            }
        }
    }
    stage->n_outputs = n_out;
    stage->n_raw = stage->kind == MODEL_STAGE_BOOSTING && n_out > 2 ? n_out : 1;
    stage->value_stride = stage->kind == MODEL_STAGE_BOOSTING ? 1 : n_out;

    stage->threshold = s == 0 ? 0.5 : 0.0;
    if (model_get_f64(ld, st, "threshold", false, &stage->threshold) < 0)
        return -1;
    if (stage->threshold < 0 || stage->threshold > 1) {
        model_fail(ld, "'threshold' %g outside [0, 1]", stage->threshold);
        return -1;
    }

    if (s == 0) {
        int64_t pos;
        int prc = model_get_int(ld, st, "positive", 0, (int64_t)n_out - 1, m->n_stages == 2, &pos);
        if (prc < 0)
            return -1;
        if (prc == 0)
            stage->positive = (int)pos;
        m->benign_col = -1;
        if (prc == 1) {
            for (uint32_t j = 0; j < n_out && m->benign_col < 0; j++)
                if (strcasecmp(m->class_names[stage->classes[j]], "benign") == 0)
                    m->benign_col = (int)j;
            if (m->benign_col < 0) {
                model_fail(ld, "no 'positive' and no output class named 'benign': cannot tell "
                               "attacks from benign flows");
                return -1;
            }
        }
    }

    if (stage->kind == MODEL_STAGE_BOOSTING) {
        const uint8_t *init;
        if (model_get_bin(ld, st, "init", stage->n_raw, 8, "raw outputs", true, &init) < 0)
            return -1;
        for (uint32_t k = 0; k < stage->n_raw; k++) {
            stage->init[k] = model_le_f64(init + 8 * k);
            if (!isfinite(stage->init[k])) {
                model_fail(ld, "init[%" PRIu32 "] is not finite", k);
                return -1;
            }
        }
    }

    if (model_get(ld, st, "trees", MSGPACK_OBJECT_ARRAY, true, &o) < 0)
        return -1;
    uint32_t n_trees = o->via.array.size;
    if (n_trees == 0 || n_trees > MODEL_MAX_TREES) {
        model_fail(ld, "'trees' has %" PRIu32 " trees, expected 1..%d", n_trees, MODEL_MAX_TREES);
        return -1;
    }
    if (n_trees % stage->n_raw != 0) {
        model_fail(ld,
                   "'trees' has %" PRIu32 " trees, not a multiple of the %" PRIu32 " raw outputs",
                   n_trees, stage->n_raw);
        return -1;
    }
    *trees = o;
    return 0;
}

/* Builds stage s from its checked 'trees' array: scans every tree, then lays all nodes out in
 * one pool, tree after tree, with the leaf vectors interned. Returns 0, or -1 with the reason in ld
 * (what was allocated stays in the stage for model_free). */
static int model_stage_build(struct model_loader *ld, struct model *m, uint32_t s,
                             const msgpack_object *trees)
{
    struct model_stage *stage = &m->stages[s];
    struct model_tree_src *src = NULL;
    struct model_interner in = {0};
    int rc = -1;
    uint32_t n_trees = trees->via.array.size;

    src = calloc(n_trees, sizeof(*src));
    stage->trees = calloc(n_trees, sizeof(*stage->trees));
    if (!src || !stage->trees) {
        model_fail(ld, "out of memory for %" PRIu32 " trees", n_trees);
        goto out;
    }
    stage->n_trees = n_trees;
    m->bytes += n_trees * sizeof(*stage->trees);

    size_t nodes = 0, leaves = 0;
    uint32_t biggest = 0;
    for (uint32_t t = 0; t < n_trees; t++) {
        model_where(ld, "stage %" PRIu32 " tree %" PRIu32, s, t);
        if (model_tree_scan(ld, &trees->via.array.ptr[t], stage->value_stride, &src[t]) < 0)
            goto out;
        nodes += src[t].n_nodes;
        leaves += src[t].n_leaves;
        if (src[t].n_nodes > biggest)
            biggest = src[t].n_nodes;
    }
    model_where(ld, "stage %" PRIu32, s);

    /* Scratch for the walk, grown to the biggest tree seen so far in any stage. */
    free(ld->queue);
    free(ld->parent);
    free(ld->claimed);
    ld->queue = malloc(biggest * sizeof(*ld->queue));
    ld->parent = malloc(biggest * sizeof(*ld->parent));
    ld->claimed = malloc(biggest / 8 + 1);
    uint32_t slots = 2;
    while (slots < 2 * leaves)
        slots *= 2;
    in.stride = stage->value_stride;
    in.mask = slots - 1;
    in.slots = malloc(slots * sizeof(*in.slots));
    in.pool = malloc((leaves ? leaves : 1) * in.stride * sizeof(double));
    stage->node_pool = malloc(nodes * sizeof(*stage->node_pool));
    if (!ld->queue || !ld->parent || !ld->claimed || !stage->node_pool || !in.slots || !in.pool) {
        model_fail(ld, "out of memory for %zu nodes", nodes);
        goto out;
    }
    memset(in.slots, 0xff, slots * sizeof(*in.slots));
    stage->n_nodes = (uint32_t)nodes;

    size_t node_off = 0;
    for (uint32_t t = 0; t < n_trees; t++) {
        model_where(ld, "stage %" PRIu32 " tree %" PRIu32, s, t);
        struct model_node *tn = stage->node_pool + node_off;
        uint32_t depth;
        if (model_tree_build(ld, &src[t], m->n_features, m->feat_ids, &in, tn, &depth) < 0)
            goto out;
        stage->trees[t] = (struct model_tree){
            .nodes = tn, .base = (uint32_t)node_off, .n_nodes = src[t].n_nodes, .depth = depth};
        if (depth > stage->max_depth)
            stage->max_depth = depth;
        node_off += src[t].n_nodes;
    }
    /* Keep only the distinct vectors; if shrinking fails the larger block is just as good. */
    double *shrunk = realloc(in.pool, (in.count ? in.count : 1) * in.stride * sizeof(double));
    stage->value_pool = shrunk ? shrunk : in.pool;
    in.pool = NULL;
    stage->n_leaves = (uint32_t)leaves;
    stage->n_values = in.count;
    m->bytes += nodes * sizeof(*stage->node_pool) + in.count * in.stride * sizeof(double);
    ld->where[0] = '\0';
    rc = 0;
out:
    free(in.slots);
    free(in.pool);
    free(src);
    return rc;
}

/* Stage s of the model: its scalars checked first, then its trees built. */
static int model_parse_stage(struct model_loader *ld, struct model *m, uint32_t s,
                             const msgpack_object *st)
{
    const msgpack_object *trees;
    if (model_stage_read(ld, m, s, st, &trees) < 0)
        return -1;
    return model_stage_build(ld, m, s, trees);
}

static int model_parse_stages(struct model_loader *ld, struct model *m, const msgpack_object *root)
{
    const msgpack_object *arr;
    if (model_get(ld, root, "stages", MSGPACK_OBJECT_ARRAY, true, &arr) < 0)
        return -1;
    if (arr->via.array.size == 0 || arr->via.array.size > MODEL_MAX_STAGES) {
        model_fail(ld, "'stages' has %" PRIu32 " entries, expected 1 or 2", arr->via.array.size);
        return -1;
    }
    m->n_stages = arr->via.array.size;
    for (uint32_t s = 0; s < m->n_stages; s++)
        if (model_parse_stage(ld, m, s, &arr->via.array.ptr[s]) < 0)
            return -1;
    return 0;
}

/* Appends "<label> <value>" from a provenance string or integer to the summary. */
static void model_provenance_part(const msgpack_object *prov, const char *key, const char *label,
                                  char *buf, size_t cap)
{
    const msgpack_object *o = NULL;
    char val[72];
    /* Provenance never rejects a model: the first value of a repeated key wins. */
    for (uint32_t i = 0; prov && !o && i < prov->via.map.size; i++)
        if (model_str_is(&prov->via.map.ptr[i].key, key))
            o = &prov->via.map.ptr[i].val;
    if (o && o->type == MSGPACK_OBJECT_STR)
        model_printable(o->via.str.ptr, o->via.str.size, val, sizeof(val));
    else if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        snprintf(val, sizeof(val), "%" PRIu64, o->via.u64);
    else if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        snprintf(val, sizeof(val), "%" PRId64, o->via.i64);
    else
        snprintf(val, sizeof(val), "unknown");
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s%s %s", n ? " | " : "", label, val);
}

static int model_parse(struct model_loader *ld, struct model *m, const msgpack_object *root)
{
    if (root->type != MSGPACK_OBJECT_MAP) {
        model_fail(ld, "not a ddosd model: the top level is %s, expected a map",
                   model_type_name(root->type));
        return -1;
    }
    const msgpack_object *o;
    if (model_get(ld, root, "format", MSGPACK_OBJECT_STR, true, &o) < 0)
        return -1;
    if (!model_str_is(o, "ddosd-model")) {
        char shown[40];
        model_fail(ld, "not a ddosd model: 'format' is '%s', expected 'ddosd-model'",
                   model_printable(o->via.str.ptr, o->via.str.size, shown, sizeof(shown)));
        return -1;
    }
    int64_t version;
    if (model_get_int(ld, root, "version", INT64_MIN, INT64_MAX, true, &version) < 0)
        return -1;
    if (version != MODEL_FORMAT_VERSION) {
        model_fail(ld, "unsupported 'version' %" PRId64 " (this build reads version %d)", version,
                   MODEL_FORMAT_VERSION);
        return -1;
    }
    if (model_parse_features(ld, m, root) < 0)
        return -1;
    if (model_get(ld, root, "feature_mode", MSGPACK_OBJECT_STR, true, &o) < 0)
        return -1;
    char mode[16] = "";
    if (o->via.str.size < sizeof(mode) && !memchr(o->via.str.ptr, '\0', o->via.str.size))
        memcpy(mode, o->via.str.ptr, o->via.str.size);
    if (feat_mode_parse(mode, &m->mode) < 0) {
        char shown[40];
        model_fail(ld, "'feature_mode' is '%s', expected 'fixed' or 'cic'",
                   model_printable(o->via.str.ptr, o->via.str.size, shown, sizeof(shown)));
        return -1;
    }
    if (model_parse_nonfinite(ld, m, root) < 0 || model_parse_scaler(ld, m, root) < 0 ||
        model_parse_classes(ld, m, root) < 0 || model_parse_stages(ld, m, root) < 0)
        return -1;

    const msgpack_object *prov;
    if (model_find(ld, root, "provenance", &prov) < 0)
        return -1;
    if (prov && prov->type != MSGPACK_OBJECT_MAP)
        prov = NULL;
    m->provenance[0] = '\0';
    model_provenance_part(prov, "created", "created", m->provenance, sizeof(m->provenance));
    model_provenance_part(prov, "sklearn_version", "sklearn", m->provenance, sizeof(m->provenance));
    model_provenance_part(prov, "seed", "seed", m->provenance, sizeof(m->provenance));
    size_t n = strlen(m->provenance);
    snprintf(m->provenance + n, sizeof(m->provenance) - n, " | sha256 %.16s", m->sha256);
    return 0;
}

static void model_free(struct model *m)
{
    if (!m)
        return;
    for (uint32_t s = 0; s < MODEL_MAX_STAGES; s++) {
        free(m->stages[s].trees);
        free(m->stages[s].node_pool);
        free(m->stages[s].value_pool);
    }
    if (m->class_names)
        for (uint32_t i = 0; i < m->n_classes; i++)
            free(m->class_names[i]);
    free(m->class_names);
    free(m);
}

/* SHA-256 of the file's bytes as 64 lowercase hex digits (libcrypto's one-shot digest). */
static int model_sha256_hex(const uint8_t *buf, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(buf, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
        return -EIO;
    for (unsigned i = 0; i < md_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* Someone who points --model at the wrong file wants to hear that first, not which msgpack byte
 * disagreed: a rejected buffer that does not even look like a model gets "not a ddosd model
 * file: " before the precise reason. Every model file is a msgpack map holding "format":
 * "ddosd-model"; the writers put it first, but the map's order is not part of the format, hence a
 * search of the first few KiB rather than a fixed offset. */
static void model_fail_not_a_model(const uint8_t *buf, size_t len, char *err, size_t err_len)
{
    bool map = buf && len && ((buf[0] & 0xf0) == 0x80 || buf[0] == 0xde || buf[0] == 0xdf);
    if (map && memmem(buf, len < 4096 ? len : 4096, "ddosd-model", 11))
        return;
    if (!err || err_len == 0)
        return;
    static const char prefix[] = "not a ddosd model file: ";
    size_t n = strnlen(err, err_len - 1), p = sizeof(prefix) - 1;
    if (p >= err_len)
        return;
    if (n + p > err_len - 1)
        n = err_len - 1 - p;
    memmove(err + p, err, n);
    memcpy(err, prefix, p);
    err[p + n] = '\0';
}

/* The widest walk this CPU runs (model_score.c has an AVX2 and an AVX-512 one). DDOSD_SIMD=none,
 * avx2 or avx512 lowers it (never raises it), so the tests can check every walk against the
 * others on one machine and a benchmark can compare them; DDOSD_NO_SIMD=1 is DDOSD_SIMD=none. */
static enum model_simd model_simd_level(void)
{
    enum model_simd level = MODEL_SIMD_NONE;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2"))
        level = MODEL_SIMD_AVX2;
    if (__builtin_cpu_supports("avx512f"))
        level = MODEL_SIMD_AVX512;
#endif
    const char *cap = getenv("DDOSD_SIMD");
    enum model_simd want = level;
    if (getenv("DDOSD_NO_SIMD") || (cap && strcmp(cap, "none") == 0))
        want = MODEL_SIMD_NONE;
    else if (cap && strcmp(cap, "avx2") == 0)
        want = MODEL_SIMD_AVX2;
    return want < level ? want : level;
}

struct model *model_load_buffer(const uint8_t *buf, size_t len, char *err, size_t err_len)
{
    struct model_loader ld = {.err = err, .err_len = err_len};
    struct model *m = NULL;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (err && err_len)
        err[0] = '\0';

    size_t end;
    if (!buf && len) {
        model_fail(&ld, "no buffer");
        goto fail;
    }
    if (model_msgpack_scan(&ld, buf, len, &end) < 0)
        goto fail;
    if (end != len) {
        model_fail(&ld,
                   "trailing bytes: %zu bytes after the msgpack document (which ends at "
                   "byte %zu)",
                   len - end, end);
        goto fail;
    }
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&up, (const char *)buf, len, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        /* The scan accepted the bytes, so this is msgpack-c's nesting limit or memory. */
        model_fail(&ld, "msgpack-c could not unpack the file (%s)",
                   ur == MSGPACK_UNPACK_NOMEM_ERROR ? "out of memory" : "nested too deeply");
        goto fail;
    }

    m = calloc(1, sizeof(*m));
    if (!m) {
        model_fail(&ld, "out of memory");
        goto fail;
    }
    m->bytes = sizeof(*m);
    atomic_init(&m->refs, 1);
    m->simd = model_simd_level();
    if (model_sha256_hex(buf, len, m->sha256) != 0) {
        model_fail(&ld, "cannot compute the file's SHA-256 (libcrypto failed)");
        goto fail;
    }
    if (model_parse(&ld, m, &up.data) < 0)
        goto fail;

    free(ld.queue);
    free(ld.parent);
    free(ld.claimed);
    msgpack_unpacked_destroy(&up);
    return m;

fail:
    model_fail_not_a_model(buf, len, err, err_len);
    free(ld.queue);
    free(ld.parent);
    free(ld.claimed);
    model_free(m);
    msgpack_unpacked_destroy(&up);
    return NULL;
}

/* What kind of file st_mode is, for the "not a regular file" message. */
static const char *model_file_type(mode_t mode)
{
    if (S_ISDIR(mode))
        return "directory";
    if (S_ISFIFO(mode))
        return "FIFO";
    if (S_ISSOCK(mode))
        return "socket";
    if (S_ISCHR(mode))
        return "character device";
    if (S_ISBLK(mode))
        return "block device";
    return "special file";
}

/* snprintf into an optional error buffer. */
static void model_err(char *err, size_t err_len, const char *fmt, ...) DD_PRINTF(3, 4);

static void model_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

struct model *model_load_file(const char *path, char *err, size_t err_len)
{
    uint8_t *buf = NULL;
    struct model *m = NULL;
    /* O_NONBLOCK: opening a FIFO for reading otherwise blocks until a writer appears, and a
     * SIGHUP reload would hang the main thread (issue 15, defect 6). The open returns at once
     * for any file type; only a regular file is read, so the flag never reaches a read(). */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        model_err(err, err_len, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        model_err(err, err_len, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        model_err(err, err_len, "%s: not a regular file (a %s)", path, model_file_type(st.st_mode));
        goto out;
    }
    if (st.st_size > MODEL_MAX_FILE_BYTES) {
        model_err(err, err_len, "%s: %lld bytes, larger than the %d-byte limit", path,
                  (long long)st.st_size, MODEL_MAX_FILE_BYTES);
        goto out;
    }
    size_t len = (size_t)st.st_size;
    buf = malloc(len ? len : 1);
    if (!buf) {
        model_err(err, err_len, "%s: out of memory for %zu bytes", path, len);
        goto out;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            model_err(err, err_len, "%s: %s after %zu of %zu bytes", path,
                      r < 0 ? strerror(errno) : "file shrank while being read", got, len);
            goto out;
        }
        got += (size_t)r;
    }
    char inner[MODEL_ERR_LEN];
    m = model_load_buffer(buf, len, inner, sizeof(inner));
    if (!m)
        model_err(err, err_len, "%s: %s", path, inner);
out:
    free(buf);
    close(fd);
    return m;
}

struct model *model_ref(struct model *m)
{
    /* Relaxed: the caller already holds a reference, so the count cannot reach zero here. */
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void model_unref(struct model *m)
{
    if (!m)
        return;
    /* Release pairs with the acquire fence below: every thread's last reads of the model happen
     * before the thread that drops the count to zero frees it. */
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_release) == 1) {
        atomic_thread_fence(memory_order_acquire);
        model_free(m);
    }
}

size_t model_n_features(const struct model *m)
{
    return m->n_features;
}

enum feat_id model_feature_id(const struct model *m, size_t i)
{
    return (enum feat_id)m->feat_ids[i];
}

enum feat_mode model_feature_mode(const struct model *m)
{
    return m->mode;
}

size_t model_n_classes(const struct model *m)
{
    return m->n_classes;
}

const char *model_class_name(const struct model *m, size_t i)
{
    return m->class_names[i];
}

size_t model_n_stages(const struct model *m)
{
    return m->n_stages;
}

enum model_stage_kind model_stage_kind(const struct model *m, size_t stage)
{
    return m->stages[stage].kind;
}

size_t model_stage_n_outputs(const struct model *m, size_t stage)
{
    return m->stages[stage].n_outputs;
}

size_t model_stage_class(const struct model *m, size_t stage, size_t j)
{
    return m->stages[stage].classes[j];
}

double model_stage_threshold(const struct model *m, size_t stage)
{
    return m->stages[stage].threshold;
}

size_t model_stage_n_trees(const struct model *m, size_t stage)
{
    return m->stages[stage].n_trees;
}

size_t model_n_nodes(const struct model *m)
{
    size_t n = 0;
    for (uint32_t s = 0; s < m->n_stages; s++)
        n += m->stages[s].n_nodes;
    return n;
}

const char *model_provenance(const struct model *m)
{
    return m->provenance;
}

const char *model_sha256(const struct model *m)
{
    return m->sha256;
}

void model_describe(const struct model *m, FILE *out)
{
    static const char *const scalers[] = {"none", "standard", "minmax"};
    fprintf(out, "ddosd model (format %d)\n", MODEL_FORMAT_VERSION);
    fprintf(out, "  sha256        %s\n", m->sha256);
    fprintf(out, "  provenance    %s\n", m->provenance);
    fprintf(out, "  feature mode  %s\n", feat_mode_name(m->mode));
    fprintf(out, "  nonfinite     nan -> %.17g, +inf -> %.17g, -inf -> %.17g\n", m->nan_value,
            m->posinf_value, m->neginf_value);
    fprintf(out, "  scaler        %s\n", scalers[m->scaler]);
    fprintf(out, "  features      %" PRIu32 "\n", m->n_features);
    for (uint32_t i = 0; i < m->n_features; i++) {
        fprintf(out, "    %2" PRIu32 "  %-28s", i, feat_name((enum feat_id)m->feat_ids[i]));
        if (m->scaler != MODEL_SCALER_NONE)
            fprintf(out, "  %s %-12.6g scale %.6g",
                    m->scaler == MODEL_SCALER_STANDARD ? "mean" : "min ",
                    m->scaler_offset[m->feat_ids[i]], m->scaler_scale[m->feat_ids[i]]);
        fputc('\n', out);
    }
    fprintf(out, "  classes       %" PRIu32 ":", m->n_classes);
    for (uint32_t i = 0; i < m->n_classes; i++)
        fprintf(out, "%s %s", i ? "," : "", m->class_names[i]);
    fputc('\n', out);
    for (uint32_t s = 0; s < m->n_stages; s++) {
        const struct model_stage *st = &m->stages[s];
        fprintf(out,
                "  stage %" PRIu32 "       %s: %s, %" PRIu32 " trees, %" PRIu32
                " nodes, depth <= %" PRIu32 ", threshold %g\n",
                s, st->name, st->kind == MODEL_STAGE_FOREST ? "forest" : "boosting", st->n_trees,
                st->n_nodes, st->max_depth, st->threshold);
        fprintf(out,
                "                %" PRIu32 " leaves sharing %" PRIu32 " distinct value vectors\n",
                st->n_leaves, st->n_values);
        fprintf(out, "                outputs:");
        for (uint32_t j = 0; j < st->n_outputs; j++)
            fprintf(out, "%s %s%s", j ? "," : "", m->class_names[st->classes[j]],
                    (int)j == st->positive ? " (attack)" : "");
        fputc('\n', out);
        if (st->kind == MODEL_STAGE_BOOSTING) {
            fprintf(out, "                %" PRIu32 " rounds x %" PRIu32 " raw outputs, init",
                    st->n_trees / st->n_raw, st->n_raw);
            for (uint32_t k = 0; k < st->n_raw; k++)
                fprintf(out, " %.6g", st->init[k]);
            fputc('\n', out);
        }
    }
    if (m->n_stages == 1 && m->stages[0].positive < 0)
        fprintf(out, "  verdict       attack = 1 - P(%s) >= %g\n",
                m->class_names[m->stages[0].classes[m->benign_col]], m->stages[0].threshold);
    fprintf(out, "  memory        %zu bytes\n", m->bytes);
}
