/* test_model.c - unit tests for inference/ (model loader and scorer).
 *
 * Model files are built in memory with msgpack-c's packer from a plain description
 * (struct t_model: features, scaler, classes, stages, trees as flat arrays like scikit-learn's),
 * so each test states the model it needs and each rejection test breaks exactly one field of a
 * valid model. Predictions of two tiny models are checked against values computed by hand; a
 * family of random trees is checked against a naive walk of the file's own arrays, and
 * model_score_batch against model_score, bit for bit. Every rejection must return NULL with a
 * message naming the field. The truncation test loads every prefix of a valid file from a heap
 * copy of exactly that size, so AddressSanitizer reports any read past the end. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>

#include "features/feature_set.h"
#include "inference/model.h"

enum { T_MAX_NODES = 256, T_MAX_TREES = 70, T_MAX_OUT = 4, T_MAX_FEAT = 4 };

struct t_tree {
    uint32_t n_nodes;  /* the n_nodes key */
    uint32_t n_arr;    /* elements actually packed in each bin (normally n_nodes) */
    uint32_t n_thr;    /* elements of the threshold bin (normally n_arr) */
    uint32_t n_values; /* doubles in the value bin (normally n_arr x outputs) */
    int32_t feature[T_MAX_NODES];
    double threshold[T_MAX_NODES];
    int32_t left[T_MAX_NODES], right[T_MAX_NODES];
    double value[T_MAX_NODES * T_MAX_OUT];
    bool has_missing;
    uint8_t missing[T_MAX_NODES];
};

struct t_stage {
    const char *name, *kind;
    uint32_t n_classes;
    int64_t classes[T_MAX_OUT];
    bool has_threshold, has_positive;
    double threshold;
    int64_t positive;
    uint32_t n_init; /* 0: no init key */
    double init[T_MAX_OUT];
    uint32_t n_trees;
    uint32_t extra_trees; /* nil entries packed after the trees (too-many-trees test) */
    struct t_tree trees[T_MAX_TREES];
};

struct t_model {
    const char *format;
    int64_t version;
    uint32_t n_features;
    const char *features[T_MAX_FEAT];
    const char *mode;
    double nonfinite[3];
    const char *scaler; /* NULL: no scaler (nil) */
    uint32_t scaler_len;
    double offset[T_MAX_FEAT], scale[T_MAX_FEAT];
    uint32_t n_classes;
    const char *classes[T_MAX_OUT];
    uint32_t n_stages;
    struct t_stage stages[2];
    const char *omit; /* a key left out wherever it appears */
};

/* ---- packing ---- */

static void pk_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pk_le(msgpack_packer *pk, const void *elems, size_t n, size_t size)
{
    uint8_t *b = malloc(n * size + 1);
    assert_non_null(b);
    const uint8_t *src = elems;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        memcpy(&v, src + i * size, size); /* the host is little-endian on every CI machine, but */
        for (size_t k = 0; k < size; k++) /* write bytes explicitly as the format says */
            b[i * size + k] = (uint8_t)(v >> (8 * k));
    }
    msgpack_pack_bin(pk, n * size);
    msgpack_pack_bin_body(pk, b, n * size);
    free(b);
}

static bool t_keep(const struct t_model *m, const char *key)
{
    return !m->omit || strcmp(m->omit, key) != 0;
}

/* Packs key unless omitted; returns whether the caller must pack a value. */
static bool pk_key(msgpack_packer *pk, const struct t_model *m, const char *key)
{
    if (!t_keep(m, key))
        return false;
    pk_str(pk, key);
    return true;
}

static uint32_t t_count(const struct t_model *m, const char *const *keys, size_t n)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += t_keep(m, keys[i]);
    return c;
}

static void pk_tree(msgpack_packer *pk, const struct t_model *m, const struct t_tree *t)
{
    static const char *const keys[] = {"n_nodes", "feature", "threshold", "left", "right", "value"};
    msgpack_pack_map(pk, t_count(m, keys, 6) + t->has_missing);
    if (pk_key(pk, m, "n_nodes"))
        msgpack_pack_uint32(pk, t->n_nodes);
    if (pk_key(pk, m, "feature"))
        pk_le(pk, t->feature, t->n_arr, 4);
    if (pk_key(pk, m, "threshold"))
        pk_le(pk, t->threshold, t->n_thr, 8);
    if (pk_key(pk, m, "left"))
        pk_le(pk, t->left, t->n_arr, 4);
    if (pk_key(pk, m, "right"))
        pk_le(pk, t->right, t->n_arr, 4);
    if (pk_key(pk, m, "value"))
        pk_le(pk, t->value, t->n_values, 8);
    if (t->has_missing) {
        pk_str(pk, "missing_left");
        pk_le(pk, t->missing, t->n_arr, 1);
    }
}

static void pk_stage(msgpack_packer *pk, const struct t_model *m, const struct t_stage *s)
{
    static const char *const keys[] = {"name", "kind", "classes", "trees"};
    msgpack_pack_map(pk,
                     t_count(m, keys, 4) + s->has_threshold + s->has_positive + (s->n_init > 0));
    if (pk_key(pk, m, "name"))
        pk_str(pk, s->name);
    if (pk_key(pk, m, "kind"))
        pk_str(pk, s->kind);
    if (pk_key(pk, m, "classes")) {
        msgpack_pack_array(pk, s->n_classes);
        for (uint32_t i = 0; i < s->n_classes; i++)
            msgpack_pack_int64(pk, s->classes[i]);
    }
    if (s->has_threshold) {
        pk_str(pk, "threshold");
        msgpack_pack_double(pk, s->threshold);
    }
    if (s->has_positive) {
        pk_str(pk, "positive");
        msgpack_pack_int64(pk, s->positive);
    }
    if (s->n_init) {
        pk_str(pk, "init");
        pk_le(pk, s->init, s->n_init, 8);
    }
    if (pk_key(pk, m, "trees")) {
        msgpack_pack_array(pk, s->n_trees + s->extra_trees);
        for (uint32_t t = 0; t < s->n_trees; t++)
            pk_tree(pk, m, &s->trees[t]);
        for (uint32_t t = 0; t < s->extra_trees; t++)
            msgpack_pack_nil(pk);
    }
}

static void t_pack(const struct t_model *m, msgpack_sbuffer *sb)
{
    static const char *const keys[] = {"format", "version", "features", "feature_mode", "nonfinite",
                                       "scaler", "classes", "stages",   "provenance"};
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, t_count(m, keys, 9));
    if (pk_key(&pk, m, "format"))
        pk_str(&pk, m->format);
    if (pk_key(&pk, m, "version"))
        msgpack_pack_int64(&pk, m->version);
    if (pk_key(&pk, m, "features")) {
        msgpack_pack_array(&pk, m->n_features);
        for (uint32_t i = 0; i < m->n_features; i++)
            pk_str(&pk, m->features[i]);
    }
    if (pk_key(&pk, m, "feature_mode"))
        pk_str(&pk, m->mode);
    if (pk_key(&pk, m, "nonfinite")) {
        static const char *const nf[] = {"nan", "posinf", "neginf"};
        msgpack_pack_map(&pk, t_count(m, nf, 3));
        for (int i = 0; i < 3; i++)
            if (pk_key(&pk, m, nf[i]))
                msgpack_pack_double(&pk, m->nonfinite[i]);
    }
    if (pk_key(&pk, m, "scaler")) {
        if (!m->scaler) {
            msgpack_pack_nil(&pk);
        } else {
            msgpack_pack_map(&pk, 3);
            pk_str(&pk, "kind");
            pk_str(&pk, m->scaler);
            pk_str(&pk, strcmp(m->scaler, "minmax") == 0 ? "min" : "mean");
            pk_le(&pk, m->offset, m->scaler_len, 8);
            pk_str(&pk, "scale");
            pk_le(&pk, m->scale, m->scaler_len, 8);
        }
    }
    if (pk_key(&pk, m, "classes")) {
        msgpack_pack_array(&pk, m->n_classes);
        for (uint32_t i = 0; i < m->n_classes; i++)
            pk_str(&pk, m->classes[i]);
    }
    if (pk_key(&pk, m, "stages")) {
        msgpack_pack_array(&pk, m->n_stages);
        for (uint32_t s = 0; s < m->n_stages; s++)
            pk_stage(&pk, m, &m->stages[s]);
    }
    if (pk_key(&pk, m, "provenance")) {
        msgpack_pack_map(&pk, 3);
        pk_str(&pk, "created");
        pk_str(&pk, "2024-05-01T00:00:00Z");
        pk_str(&pk, "sklearn_version");
        pk_str(&pk, "1.2.1");
        pk_str(&pk, "seed");
        msgpack_pack_int64(&pk, 42);
    }
}

/* Loads from a heap copy of exactly len bytes (so ASan sees any over-read). */
static struct model *t_load_bytes(const void *data, size_t len, char *err, size_t err_len)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, data, len);
    struct model *m = model_load_buffer(copy, len, err, err_len);
    free(copy);
    return m;
}

static struct model *t_load(const struct t_model *tm, char *err, size_t err_len)
{
    msgpack_sbuffer sb;
    t_pack(tm, &sb);
    struct model *m = t_load_bytes(sb.data, sb.size, err, err_len);
    msgpack_sbuffer_destroy(&sb);
    return m;
}

static void t_expect_reject(const struct t_model *tm, const char *needle)
{
    char err[MODEL_ERR_LEN];
    struct model *m = t_load(tm, err, sizeof(err));
    if (m || !strstr(err, needle))
        fail_msg("expected a rejection mentioning '%s', got %s: '%s'", needle,
                 m ? "a model" : "NULL", err);
    assert_null(strchr(err, '\n'));
    printf("    rejected: %s\n", err);
}

/* ---- the models ---- */

static void t_leaf(struct t_tree *t, uint32_t i, uint32_t n_out, const double *v)
{
    t->feature[i] = -2;
    t->threshold[i] = -2;
    t->left[i] = t->right[i] = -1;
    for (uint32_t k = 0; k < n_out; k++)
        t->value[i * n_out + k] = v[k];
}

static void t_split(struct t_tree *t, uint32_t i, int32_t f, double thr, int32_t l, int32_t r,
                    uint32_t n_out)
{
    t->feature[i] = f;
    t->threshold[i] = thr;
    t->left[i] = l;
    t->right[i] = r;
    for (uint32_t k = 0; k < n_out; k++)
        t->value[i * n_out + k] = 0.5; /* internal values are unused but must be finite */
}

static void t_tree_size(struct t_tree *t, uint32_t n, uint32_t n_out)
{
    t->n_nodes = t->n_arr = t->n_thr = n;
    t->n_values = n * n_out;
}

static void t_base(struct t_model *m)
{
    memset(m, 0, sizeof(*m));
    m->format = "ddosd-model";
    m->version = 1;
    m->mode = "fixed";
    m->nonfinite[0] = 0;
    m->nonfinite[1] = 1e9;
    m->nonfinite[2] = -1;
}

/* Forest over (Flow Duration, SYN Flag Count), classes benign/syn, no `positive`:
 *   tree A: duration <= 100.5 ? [0.2 0.8] : [0.9 0.1]   (NaN goes left: missing_left)
 *   tree B: syn <= 0.5 ? [1 0] : (duration <= 1000 ? [0.25 0.75] : [0.5 0.5]),
 *           stored out of pre-order (root's left child is node 4) to exercise the re-layout. */
static void t_forest(struct t_model *m)
{
    t_base(m);
    m->n_features = 2;
    m->features[0] = "flow_duration"; /* an alias: mapped by feat_lookup */
    m->features[1] = "SYN Flag Count";
    m->n_classes = 2;
    m->classes[0] = "BENIGN";
    m->classes[1] = "syn";
    m->n_stages = 1;
    struct t_stage *s = &m->stages[0];
    s->name = "attack";
    s->kind = "forest";
    s->n_classes = 2;
    s->classes[0] = 0;
    s->classes[1] = 1;
    s->n_trees = 2;
    struct t_tree *a = &s->trees[0], *b = &s->trees[1];
    t_tree_size(a, 3, 2);
    t_split(a, 0, 0, 100.5, 1, 2, 2);
    t_leaf(a, 1, 2, (double[]){0.2, 0.8});
    t_leaf(a, 2, 2, (double[]){0.9, 0.1});
    a->has_missing = true;
    a->missing[0] = 1;
    t_tree_size(b, 5, 2);
    t_split(b, 0, 1, 0.5, 4, 1, 2);
    t_split(b, 1, 0, 1000, 2, 3, 2);
    t_leaf(b, 2, 2, (double[]){0.25, 0.75});
    t_leaf(b, 3, 2, (double[]){0.5, 0.5});
    t_leaf(b, 4, 2, (double[]){1, 0});
}

/* Binary boosting over (Flow Packets/s, Protocol) with a minmax scaler (scale 0.5 and 1, min 0)
 * and positive = 1: init 0, tree 1: x0' <= 0.1 ? 0.4 : -0.3; tree 2: x1' <= 10.5 ? 0.25 : -0.125.
 */
static void t_boost(struct t_model *m)
{
    t_base(m);
    m->n_features = 2;
    m->features[0] = "Flow Packets/s";
    m->features[1] = "Protocol";
    m->scaler = "minmax";
    m->scaler_len = 2;
    m->scale[0] = 0.5;
    m->scale[1] = 1.0;
    m->n_classes = 2;
    m->classes[0] = "benign";
    m->classes[1] = "attack";
    m->n_stages = 1;
    struct t_stage *s = &m->stages[0];
    s->name = "attack";
    s->kind = "boosting";
    s->n_classes = 2;
    s->classes[0] = 0;
    s->classes[1] = 1;
    s->has_positive = true;
    s->positive = 1;
    s->n_init = 1;
    s->init[0] = 0;
    s->n_trees = 2;
    t_tree_size(&s->trees[0], 3, 1);
    t_split(&s->trees[0], 0, 0, 0.1, 1, 2, 1);
    t_leaf(&s->trees[0], 1, 1, (double[]){0.4});
    t_leaf(&s->trees[0], 2, 1, (double[]){-0.3});
    t_tree_size(&s->trees[1], 3, 1);
    t_split(&s->trees[1], 0, 1, 10.5, 1, 2, 1);
    t_leaf(&s->trees[1], 1, 1, (double[]){0.25});
    t_leaf(&s->trees[1], 2, 1, (double[]){-0.125});
}

static void t_feat_clear(double feat[FEAT_COUNT])
{
    for (int i = 0; i < FEAT_COUNT; i++)
        feat[i] = 12345; /* features the model does not use must not matter */
}

/* ---- predictions ---- */

static void test_model_forest_hand_computed(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    char err[MODEL_ERR_LEN];
    struct model *m = t_load(&tm, err, sizeof(err));
    if (!m)
        fail_msg("load: %s", err);
    assert_int_equal(model_n_features(m), 2);
    assert_int_equal(model_feature_id(m, 0), FEAT_FLOW_DURATION);
    assert_int_equal(model_feature_id(m, 1), FEAT_SYN_CNT);
    assert_int_equal(model_n_nodes(m), 8);

    double p[2];
    assert_int_equal(model_predict_proba(m, 0, (double[]){50, 1}, p), 0);
    assert_true(p[0] == (0.2 + 0.25) / 2 && p[1] == (0.8 + 0.75) / 2);
    assert_int_equal(model_predict_proba(m, 0, (double[]){2000, 0}, p), 0);
    assert_true(p[0] == (0.9 + 1.0) / 2 && p[1] == (0.1 + 0.0) / 2);
    /* exactly on the thresholds: left */
    assert_int_equal(model_predict_proba(m, 0, (double[]){100.5, 1}, p), 0);
    assert_true(p[1] == (0.8 + 0.75) / 2);
    assert_int_equal(model_predict_proba(m, 0, (double[]){1000, 1}, p), 0);
    assert_true(p[1] == (0.1 + 0.75) / 2);
    /* one float32 step above 100.5 goes right */
    assert_int_equal(model_predict_proba(m, 0, (double[]){nextafterf(100.5f, 200.f), 1}, p), 0);
    assert_true(p[1] == (0.1 + 0.75) / 2);
    /* preprocessed: NaN -> 0 (left), +inf -> 1e9 (right); raw: NaN follows missing_left */
    assert_int_equal(model_predict_proba(m, 0, (double[]){NAN, 0}, p), 0);
    assert_true(p[1] == 0.8 / 2);
    assert_int_equal(model_predict_proba(m, 0, (double[]){INFINITY, 0}, p), 0);
    assert_true(p[1] == 0.1 / 2);
    assert_int_equal(model_stage_predict_proba(m, 0, (double[]){NAN, 0}, p), 0);
    assert_true(p[1] == 0.8 / 2);
    /* tree B's root has no missing_left: NaN goes right, then duration 5000 > 1000 */
    assert_int_equal(model_stage_predict_proba(m, 0, (double[]){5000, NAN}, p), 0);
    assert_true(p[1] == (0.1 + 0.5) / 2);
    assert_int_equal(model_predict_proba(m, 1, (double[]){0, 0}, p), -EINVAL);

    /* verdict: no `positive`, so p_attack = 1 - P(benign) and the family is the top other class */
    double feat[FEAT_COUNT];
    struct model_score s;
    t_feat_clear(feat);
    feat[FEAT_FLOW_DURATION] = 50;
    feat[FEAT_SYN_CNT] = 1;
    model_score(m, feat, &s);
    assert_true(s.is_attack);
    assert_true(s.p_attack == 1.0 - (0.2 + 0.25) / 2);
    assert_int_equal(s.family, 1);
    assert_true(s.p_family == (0.8 + 0.75) / 2);
    assert_string_equal(s.label, "syn");
    feat[FEAT_FLOW_DURATION] = 2000;
    feat[FEAT_SYN_CNT] = 0;
    model_score(m, feat, &s);
    assert_false(s.is_attack);
    assert_true(fabs(s.p_attack - 0.05) < 1e-15);
    assert_int_equal(s.family, -1);
    assert_string_equal(s.label, "BENIGN");
    model_unref(m);
}

static void test_model_boosting_hand_computed(void **state)
{
    (void)state;
    struct t_model tm;
    t_boost(&tm);
    char err[MODEL_ERR_LEN];
    struct model *m = t_load(&tm, err, sizeof(err));
    if (!m)
        fail_msg("load: %s", err);
    double p[2];
    /* 0.2 * 0.5 = 0.1 exactly, but float32(0.1) > 0.1: right (-0.3), as scikit-learn does. */
    assert_int_equal(model_predict_proba(m, 0, (double[]){0.2, 6}, p), 0);
    double want = 1.0 / (1.0 + exp(-(0.0 - 0.3 + 0.25)));
    assert_true(p[1] == want && p[0] == 1.0 - want);
    assert_int_equal(model_predict_proba(m, 0, (double[]){0.1, 17}, p), 0);
    want = 1.0 / (1.0 + exp(-(0.4 - 0.125)));
    assert_true(p[1] == want);

    double feat[FEAT_COUNT];
    struct model_score s;
    t_feat_clear(feat);
    feat[FEAT_FLOW_PKTS_S] = 0.1;
    feat[FEAT_PROTOCOL] = 17;
    model_score(m, feat, &s);
    assert_true(s.is_attack && s.p_attack == want);
    assert_int_equal(s.family, -1); /* a binary detector names no family */
    assert_string_equal(s.label, "attack");
    feat[FEAT_FLOW_PKTS_S] = 0.2;
    feat[FEAT_PROTOCOL] = 6;
    model_score(m, feat, &s);
    assert_false(s.is_attack);
    assert_string_equal(s.label, "benign");
    model_unref(m);
}

/* Multiclass boosting with one-leaf trees: proba = softmax(init + leaves). */
static void test_model_boosting_softmax(void **state)
{
    (void)state;
    struct t_model tm;
    t_boost(&tm);
    tm.n_classes = 3;
    tm.classes[0] = "benign";
    tm.classes[1] = "syn";
    tm.classes[2] = "udp";
    struct t_stage *s = &tm.stages[0];
    s->has_positive = false;
    s->n_classes = 3;
    s->classes[2] = 2;
    s->n_init = 3;
    s->init[0] = 0.1;
    s->init[1] = -0.2;
    s->init[2] = 0.3;
    s->n_trees = 3;
    for (int k = 0; k < 3; k++) {
        t_tree_size(&s->trees[k], 1, 1);
        t_leaf(&s->trees[k], 0, 1, (double[]){0.5 * k});
    }
    char err[MODEL_ERR_LEN];
    struct model *m = t_load(&tm, err, sizeof(err));
    if (!m)
        fail_msg("load: %s", err);
    double p[3], raw[3] = {0.1, -0.2 + 0.5, 0.3 + 1.0}, sum = 0;
    assert_int_equal(model_predict_proba(m, 0, (double[]){1, 2}, p), 0);
    for (int k = 0; k < 3; k++)
        sum += exp(raw[k]);
    for (int k = 0; k < 3; k++)
        assert_true(fabs(p[k] - exp(raw[k]) / sum) < 1e-15);
    model_unref(m);
}

/* Two stages: forest attack detector, forest family classifier with threshold 0.6. */
static void test_model_two_stage_verdicts(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.n_classes = 4;
    tm.classes[0] = "benign";
    tm.classes[1] = "attack";
    tm.classes[2] = "syn_flood";
    tm.classes[3] = "udp_flood";
    tm.n_stages = 2;
    tm.stages[0].has_positive = true;
    tm.stages[0].positive = 1;
    struct t_stage *f = &tm.stages[1];
    f->name = "family";
    f->kind = "forest";
    f->n_classes = 2;
    f->classes[0] = 3; /* column order need not follow class order */
    f->classes[1] = 2;
    f->has_threshold = true;
    f->threshold = 0.6;
    f->n_trees = 1;
    t_tree_size(&f->trees[0], 3, 2);
    t_split(&f->trees[0], 0, 1, 1.5, 1, 2, 2); /* syn <= 1.5: udp 0.55 (unknown), else syn 0.9 */
    t_leaf(&f->trees[0], 1, 2, (double[]){0.55, 0.45});
    t_leaf(&f->trees[0], 2, 2, (double[]){0.1, 0.9});
    char err[MODEL_ERR_LEN];
    struct model *m = t_load(&tm, err, sizeof(err));
    if (!m)
        fail_msg("load: %s", err);

    double feat[FEAT_COUNT];
    struct model_score s[3], b[3];
    t_feat_clear(feat);
    feat[FEAT_FLOW_DURATION] = 50;
    feat[FEAT_SYN_CNT] = 1; /* attack 0.775, family udp 0.55 < 0.6 -> unknown */
    model_score(m, feat, &s[0]);
    assert_true(s[0].is_attack);
    assert_int_equal(s[0].family, -1);
    assert_true(s[0].p_family == 0.55);
    assert_string_equal(s[0].label, "unknown");
    double feats[3 * FEAT_COUNT];
    memcpy(feats, feat, sizeof(feat));
    feat[FEAT_SYN_CNT] = 2; /* attack, family syn 0.9 */
    model_score(m, feat, &s[1]);
    assert_int_equal(s[1].family, 2);
    assert_true(s[1].p_family == 0.9);
    assert_string_equal(s[1].label, "syn_flood");
    memcpy(feats + FEAT_COUNT, feat, sizeof(feat));
    feat[FEAT_FLOW_DURATION] = 2000;
    feat[FEAT_SYN_CNT] = 0; /* benign */
    model_score(m, feat, &s[2]);
    assert_false(s[2].is_attack);
    assert_string_equal(s[2].label, "benign");
    memcpy(feats + 2 * FEAT_COUNT, feat, sizeof(feat));
    model_score_batch(m, feats, 3, b);
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(&b[i].p_attack, &s[i].p_attack, sizeof(double));
        assert_int_equal(b[i].family, s[i].family);
        assert_string_equal(b[i].label, s[i].label);
    }
    model_unref(m);
}

static uint64_t t_rng = 0x9e3779b97f4a7c15u;

static uint32_t t_rand(void)
{
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;
    return (uint32_t)(t_rng >> 16);
}

/* A random tree of n nodes (odd, <= T_MAX_NODES) with nodes numbered in a shuffled order. */
static void t_random_tree(struct t_tree *t, uint32_t n, uint32_t n_features, uint32_t n_out,
                          bool boosting)
{
    uint32_t perm[T_MAX_NODES];
    perm[0] = 0;
    for (uint32_t i = 1; i < n; i++)
        perm[i] = i;
    for (uint32_t i = n - 1; i > 1; i--) { /* shuffle all but the root */
        uint32_t j = 1 + t_rand() % i;
        uint32_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    t_tree_size(t, n, n_out);
    /* Grow by splitting a random leaf until n nodes exist. */
    uint32_t leaves[T_MAX_NODES], nl = 1, used = 1;
    leaves[0] = 0;
    for (uint32_t i = 0; i < n; i++)
        t_leaf(t, perm[i], n_out, (double[]){0, 0, 0, 0});
    while (used + 2 <= n) {
        uint32_t li = t_rand() % nl, node = leaves[li];
        uint32_t l = used, r = used + 1;
        used += 2;
        t_split(t, perm[node], (int32_t)(t_rand() % n_features),
                (double)(t_rand() % 2000) / 8.0 - 100.0 + 0.1, (int32_t)perm[l], (int32_t)perm[r],
                n_out);
        leaves[li] = l;
        leaves[nl++] = r;
    }
    for (uint32_t i = 0; i < nl; i++) {
        uint32_t node = perm[leaves[i]];
        double v[4], sum = 0;
        for (uint32_t k = 0; k < n_out; k++)
            sum += v[k] = 1 + t_rand() % 9;
        for (uint32_t k = 0; k < n_out; k++)
            v[k] = boosting ? (v[k] - 5) / 7.0 : v[k] / sum;
        t_leaf(t, node, n_out, v);
    }
}

/* The naive walk over the file's own arrays: float32 input, double threshold. */
static void t_naive(const struct t_stage *s, const double *x, double *p)
{
    uint32_t n_out = s->n_classes,
             n_raw = strcmp(s->kind, "boosting") == 0 && n_out == 2 ? 1 : n_out;
    bool boost = strcmp(s->kind, "boosting") == 0;
    for (uint32_t k = 0; k < n_out; k++)
        p[k] = boost && k < n_raw ? s->init[k] : 0;
    for (uint32_t t = 0; t < s->n_trees; t++) {
        const struct t_tree *tr = &s->trees[t];
        int32_t i = 0;
        while (tr->left[i] != -1)
            i = (double)(float)x[tr->feature[i]] <= tr->threshold[i] ? tr->left[i] : tr->right[i];
        if (boost)
            p[t % n_raw] += tr->value[i];
        else
            for (uint32_t k = 0; k < n_out; k++)
                p[k] += tr->value[i * n_out + k];
    }
    if (!boost) {
        for (uint32_t k = 0; k < n_out; k++)
            p[k] /= s->n_trees;
    } else if (n_raw == 1) {
        double q = 1.0 / (1.0 + exp(-p[0]));
        p[1] = q;
        p[0] = 1.0 - q;
    } else {
        double mx = p[0], sum = 0;
        for (uint32_t k = 1; k < n_raw; k++)
            mx = p[k] > mx ? p[k] : mx;
        for (uint32_t k = 0; k < n_raw; k++)
            sum += exp(p[k] - mx);
        double lse = log(sum) + mx;
        for (uint32_t k = 0; k < n_raw; k++)
            p[k] = exp(p[k] - lse);
    }
}

/* Random forests and boosting stages: the engine equals the naive walk bit for bit, and
 * model_score_batch equals model_score (rows and trees both past the lock-step widths, and past
 * the 32 and 64 trees of the vector walks; trees of up to 255 nodes, past the 31-node table of
 * the AVX-512 batch walk). Every round runs once per walk the CPU has: DDOSD_SIMD lowers the
 * level the loader picks (avx512, avx2, none). */
static void test_model_random_trees_match_naive_walk(void **state)
{
    (void)state;
    static const char *const levels[] = {"avx512", "avx2", "none"};
    const char *saved = getenv("DDOSD_SIMD");
    for (int round = 0; round < 72; round++) {
        setenv("DDOSD_SIMD", levels[(round / 3) % 3], 1);
        bool boost = round % 3 == 2;
        uint32_t n_out = boost ? 2 + round % 2 : 2 + round % 3;
        struct t_model tm;
        t_forest(&tm);
        tm.n_features = 3;
        tm.features[2] = "Protocol";
        tm.n_classes = 4;
        tm.classes[2] = "udp";
        tm.classes[3] = "http";
        struct t_stage *s = &tm.stages[0];
        s->kind = boost ? "boosting" : "forest";
        s->n_classes = n_out;
        for (uint32_t k = 0; k < n_out; k++)
            s->classes[k] = k;
        uint32_t n_raw = boost && n_out == 2 ? 1 : n_out;
        s->n_init = boost ? n_raw : 0;
        for (uint32_t k = 0; k < n_raw; k++)
            s->init[k] = 0.25 * k - 0.3;
        /* past 32 trees model_score takes the AVX2 walk where the CPU has it */
        s->n_trees = boost       ? (T_MAX_TREES / n_raw) * n_raw
                     : round % 2 ? (round % 4 == 1 ? 67 : 37)
                                 : 1 + (uint32_t)round % 9;
        for (uint32_t t = 0; t < s->n_trees; t++)
            t_random_tree(&s->trees[t], 1 + 2 * (t_rand() % (T_MAX_NODES / 2)), 3,
                          boost ? 1 : n_out, boost);
        char err[MODEL_ERR_LEN];
        struct model *m = t_load(&tm, err, sizeof(err));
        if (!m)
            fail_msg("round %d: load: %s", round, err);
        enum { ROWS = 70 }; /* a 64-row block and a short one */
        double feats[ROWS * FEAT_COUNT];
        struct model_score single[ROWS], batch[ROWS];
        for (int r = 0; r < ROWS; r++) {
            double *f = feats + r * FEAT_COUNT, x[3], p[T_MAX_OUT], want[T_MAX_OUT];
            t_feat_clear(f);
            for (int j = 0; j < 3; j++)
                x[j] = (double)(t_rand() % 2400) / 8.0 - 120.0 + (r % 4 == 0 ? 0.1 : 0);
            f[FEAT_FLOW_DURATION] = x[0];
            f[FEAT_SYN_CNT] = x[1];
            f[FEAT_PROTOCOL] = x[2];
            assert_int_equal(model_predict_proba(m, 0, x, p), 0);
            t_naive(s, x, want);
            for (uint32_t k = 0; k < n_out; k++)
                if (p[k] != want[k])
                    fail_msg("round %d row %d output %u: engine %.17g, naive %.17g", round, r, k,
                             p[k], want[k]);
            model_score(m, f, &single[r]);
        }
        /* Batches of every vector count of the AVX-512 walk (1 to 4 vectors of 16 rows) */
        static const int sizes[] = {ROWS, 37, 20, 5, 1};
        for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
            memset(batch, 0, sizeof(batch));
            model_score_batch(m, feats, (size_t)sizes[b], batch);
            for (int r = 0; r < sizes[b]; r++) {
                assert_memory_equal(&batch[r].p_attack, &single[r].p_attack, sizeof(double));
                assert_memory_equal(&batch[r].p_family, &single[r].p_family, sizeof(double));
                assert_int_equal(batch[r].family, single[r].family);
                assert_int_equal(batch[r].is_attack, single[r].is_attack);
                assert_ptr_equal(batch[r].label, single[r].label);
            }
        }
        model_unref(m);
    }
    if (saved)
        setenv("DDOSD_SIMD", saved, 1);
    else
        unsetenv("DDOSD_SIMD");
}

static void test_model_accessors_and_describe(void **state)
{
    (void)state;
    struct t_model tm;
    t_boost(&tm);
    char err[MODEL_ERR_LEN];
    struct model *m = t_load(&tm, err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(model_feature_mode(m), FEAT_MODE_FIXED);
    assert_int_equal(model_n_classes(m), 2);
    assert_string_equal(model_class_name(m, 1), "attack");
    assert_int_equal(model_n_stages(m), 1);
    assert_int_equal(model_stage_kind(m, 0), MODEL_STAGE_BOOSTING);
    assert_int_equal(model_stage_n_outputs(m, 0), 2);
    assert_int_equal(model_stage_class(m, 0, 1), 1);
    assert_true(model_stage_threshold(m, 0) == 0.5);
    assert_int_equal(model_stage_n_trees(m, 0), 2);
    assert_int_equal(strlen(model_sha256(m)), 64);
    assert_non_null(strstr(model_provenance(m), "created 2024-05-01T00:00:00Z"));
    assert_non_null(strstr(model_provenance(m), "sklearn 1.2.1"));
    assert_non_null(strstr(model_provenance(m), "seed 42"));
    char sha[32];
    snprintf(sha, sizeof(sha), "sha256 %.16s", model_sha256(m));
    assert_non_null(strstr(model_provenance(m), sha));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    model_describe(m, f);
    fclose(f);
    assert_non_null(strstr(text, "Flow Packets/s"));
    assert_non_null(strstr(text, "minmax"));
    assert_non_null(strstr(text, "boosting, 2 trees"));
    free(text);
    model_unref(m);
}

static void test_model_load_file(void **state)
{
    (void)state;
    char err[MODEL_ERR_LEN + 512];
    assert_null(model_load_file("/nonexistent/model.msgpack", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/model.msgpack"));
    struct t_model tm;
    t_forest(&tm);
    msgpack_sbuffer sb;
    t_pack(&tm, &sb);
    char path[] = "/tmp/test_model_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_int_equal(fwrite(sb.data, 1, sb.size, f), sb.size);
    fclose(f);
    struct model *m = model_load_file(path, err, sizeof(err));
    if (!m)
        fail_msg("load: %s", err);
    model_unref(m);
    f = fopen(path, "ab");
    fputc(0xc0, f);
    fclose(f);
    assert_null(model_load_file(path, err, sizeof(err)));
    assert_non_null(strstr(err, "trailing"));
    assert_null(model_load_file("/tmp", err, sizeof(err)));
    assert_non_null(strstr(err, "not a regular file"));
    /* A FIFO must be refused at once, not block in open() waiting for a writer (issue 15,
     * defect 6: a SIGHUP reload hung the daemon's main thread). */
    char fifo[] = "/tmp/test_model_fifo_XXXXXX";
    assert_non_null(mkdtemp(fifo));
    char fifo_path[sizeof(fifo) + 16];
    snprintf(fifo_path, sizeof(fifo_path), "%s/model", fifo);
    assert_int_equal(mkfifo(fifo_path, 0600), 0);
    assert_null(model_load_file(fifo_path, err, sizeof(err)));
    assert_non_null(strstr(err, "FIFO"));
    remove(fifo_path);
    rmdir(fifo);
    assert_null(model_load_file(path, NULL, 0)); /* no error buffer: still safe */
    remove(path);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- reference counting ---- */

static void *t_ref_worker(void *arg)
{
    struct model *m = arg;
    double feat[FEAT_COUNT];
    struct model_score s;
    t_feat_clear(feat);
    for (int i = 0; i < 20000; i++) {
        struct model *mine = model_ref(m);
        model_score(mine, feat, &s);
        model_unref(mine);
    }
    return NULL;
}

static void test_model_refcount(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    char err[MODEL_ERR_LEN];
    struct model *m = t_load(&tm, err, sizeof(err));
    assert_non_null(m);
    assert_ptr_equal(model_ref(m), m);
    assert_ptr_equal(model_ref(m), m);
    model_unref(m);
    model_unref(m); /* still one reference: usable */
    double p[2];
    assert_int_equal(model_predict_proba(m, 0, (double[]){50, 1}, p), 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, t_ref_worker, m), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    model_unref(m); /* the last reference: freed here, once (ASan/LSan check both ways) */
    model_unref(NULL);
}

/* ---- rejections: one per kind of bad file ---- */

static void test_model_reject_wrong_magic(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.format = "ddosd-modem";
    t_expect_reject(&tm, "'format'");
}

static void test_model_reject_wrong_version(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.version = 2;
    t_expect_reject(&tm, "'version' 2");
}

static void test_model_reject_not_a_map(void **state)
{
    (void)state;
    static const uint8_t arr[] = {0x92, 0x01, 0x02}; /* [1, 2] */
    char err[MODEL_ERR_LEN];
    assert_null(t_load_bytes(arr, sizeof(arr), err, sizeof(err)));
    assert_non_null(strstr(err, "expected a map"));
    static const uint8_t reserved[] = {0xc1};
    assert_null(t_load_bytes(reserved, sizeof(reserved), err, sizeof(err)));
    assert_non_null(strstr(err, "0xc1"));
}

/* A file that is not a model at all says so before the msgpack detail; a damaged model does not. */
static void test_model_reject_says_not_a_model_first(void **state)
{
    (void)state;
    char err[MODEL_ERR_LEN];
    static const char text[] = "# ddosd\nA README, not a model.\n";
    assert_null(t_load_bytes((const uint8_t *)text, sizeof(text) - 1, err, sizeof(err)));
    assert_int_equal(strncmp(err, "not a ddosd model file: ", 24), 0);
    struct t_model tm;
    t_forest(&tm);
    msgpack_sbuffer sb;
    t_pack(&tm, &sb);
    assert_null(t_load_bytes((const uint8_t *)sb.data, sb.size - 1, err, sizeof(err)));
    assert_null(strstr(err, "not a ddosd model file"));
    assert_non_null(strstr(err, "truncated"));
    msgpack_sbuffer_destroy(&sb);
}

static void test_model_reject_truncated_everywhere(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    msgpack_sbuffer sb;
    t_pack(&tm, &sb);
    char err[MODEL_ERR_LEN];
    for (size_t len = 0; len < sb.size; len++) {
        struct model *m = t_load_bytes(sb.data, len, err, sizeof(err));
        if (m || !strstr(err, "truncated"))
            fail_msg("prefix of %zu/%zu bytes: %s", len, sb.size, m ? "loaded" : err);
    }
    struct model *m = t_load_bytes(sb.data, sb.size, err, sizeof(err));
    assert_non_null(m);
    model_unref(m);
    msgpack_sbuffer_destroy(&sb);
    /* A 5-byte array header claiming 4 billion elements: rejected before any allocation. */
    static const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    assert_null(t_load_bytes(huge, sizeof(huge), err, sizeof(err)));
    assert_non_null(strstr(err, "truncated"));
}

static void test_model_reject_trailing_garbage(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    msgpack_sbuffer sb;
    t_pack(&tm, &sb);
    msgpack_sbuffer_write(&sb, "\x00junk", 5);
    char err[MODEL_ERR_LEN];
    assert_null(t_load_bytes(sb.data, sb.size, err, sizeof(err)));
    assert_non_null(strstr(err, "trailing bytes: 5 bytes"));
    msgpack_sbuffer_destroy(&sb);
}

static void test_model_reject_missing_key(void **state)
{
    (void)state;
    static const char *const keys[] = {"features", "feature_mode", "nonfinite", "classes",
                                       "stages",   "kind",         "trees",     "n_nodes",
                                       "value",    "posinf"};
    for (size_t i = 0; i < DD_ARRAY_LEN(keys); i++) {
        struct t_model tm;
        t_forest(&tm);
        tm.omit = keys[i];
        char needle[64];
        snprintf(needle, sizeof(needle), "missing key '%s'", keys[i]);
        t_expect_reject(&tm, needle);
    }
}

static void test_model_reject_unknown_feature(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.features[1] = "Flow Colour";
    t_expect_reject(&tm, "features[1]: unknown feature name 'Flow Colour'");
}

static void test_model_reject_duplicate_feature(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.features[1] = " Flow Duration"; /* legacy spelling of features[0]'s alias */
    t_expect_reject(&tm, "features[1]: duplicate of features[0]");
}

static void test_model_reject_scaler_length(void **state)
{
    (void)state;
    struct t_model tm;
    t_boost(&tm);
    tm.scaler_len = 1;
    t_expect_reject(&tm, "scaler: 'min' is 8 bytes, expected 16");
}

static void test_model_reject_zero_scale(void **state)
{
    (void)state;
    struct t_model tm;
    t_boost(&tm);
    tm.scale[1] = 0;
    t_expect_reject(&tm, "scaler: scale[1] is zero");
    t_boost(&tm);
    tm.scale[0] = INFINITY;
    t_expect_reject(&tm, "scaler: scale[0] is not finite");
    t_boost(&tm);
    tm.scaler = "robust";
    t_expect_reject(&tm, "scaler: 'kind'");
}

static void test_model_reject_class_index(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.stages[0].classes[1] = 2;
    t_expect_reject(&tm, "stage 0: classes[1] = 2 outside [0, 2)");
    t_forest(&tm);
    tm.stages[0].classes[1] = -1;
    t_expect_reject(&tm, "stage 0: classes[1] = -1");
    t_forest(&tm);
    tm.stages[0].classes[1] = 0;
    t_expect_reject(&tm, "stage 0: classes[1] repeats");
}

static void test_model_reject_positive(void **state)
{
    (void)state;
    struct t_model tm;
    t_boost(&tm);
    tm.stages[0].positive = 2;
    t_expect_reject(&tm, "stage 0: 'positive' = 2 outside [0, 1]");
    t_boost(&tm);
    tm.stages[0].has_positive = false;
    tm.classes[0] = "normal";
    t_expect_reject(&tm, "no 'positive' and no output class named 'benign'");
}

static void test_model_reject_n_nodes(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.stages[0].trees[1].n_nodes = 0;
    t_expect_reject(&tm, "stage 0 tree 1: 'n_nodes' = 0 outside [1, 16777216]");
    t_forest(&tm);
    tm.stages[0].trees[1].n_nodes = (1u << 24) + 1;
    t_expect_reject(&tm, "'n_nodes' = 16777217");
}

static void test_model_reject_bin_length(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.stages[0].trees[1].n_thr = 4;
    t_expect_reject(&tm, "stage 0 tree 1: 'threshold' is 32 bytes, expected 40");
    t_forest(&tm);
    tm.stages[0].trees[0].n_values = 3; /* one output per node in a 2-class forest */
    t_expect_reject(&tm, "stage 0 tree 0: 'value' is 24 bytes, expected 48");
    t_boost(&tm);
    tm.stages[0].n_init = 2;
    t_expect_reject(&tm, "'init' is 16 bytes, expected 8");
}

static void test_model_reject_feature_index(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.stages[0].trees[1].feature[1] = 2;
    t_expect_reject(&tm, "stage 0 tree 1 node 1: feature index 2 outside [0, 2)");
    t_forest(&tm);
    tm.stages[0].trees[1].feature[0] = -2; /* the leaf marker on an internal node */
    t_expect_reject(&tm, "stage 0 tree 1 node 0: feature index -2");
}

static void test_model_reject_child_range(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.stages[0].trees[1].right[1] = 5;
    t_expect_reject(&tm, "stage 0 tree 1 node 1: right child 5 outside [1, 5)");
    t_forest(&tm);
    tm.stages[0].trees[1].left[1] = 0; /* the root as a child */
    t_expect_reject(&tm, "stage 0 tree 1 node 1: left child 0 outside [1, 5)");
}

static void test_model_reject_self_loop(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.stages[0].trees[1].right[1] = 1;
    t_expect_reject(&tm, "stage 0 tree 1 node 1: right child 1 points to itself");
}

static void test_model_reject_cycle(void **state)
{
    (void)state;
    /* 0 -> (1, 2); 1 -> (3, 4); 3 -> (1, 5): node 3 points back to its parent */
    struct t_model tm;
    t_forest(&tm);
    struct t_tree *t = &tm.stages[0].trees[1];
    t_tree_size(t, 6, 2);
    t_split(t, 0, 0, 1, 1, 2, 2);
    t_split(t, 1, 0, 1, 3, 4, 2);
    t_split(t, 3, 0, 1, 1, 5, 2);
    t_leaf(t, 2, 2, (double[]){1, 0});
    t_leaf(t, 4, 2, (double[]){1, 0});
    t_leaf(t, 5, 2, (double[]){1, 0});
    t_expect_reject(&tm, "stage 0 tree 1 node 3: left child 1 is its ancestor (a cycle)");
}

static void test_model_reject_reached_twice(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.stages[0].trees[1].right[1] = 4; /* node 4 is also the root's left child */
    t_expect_reject(&tm, "stage 0 tree 1 node 1: right child 4 reached twice (already a child "
                         "of node 0)");
    t_forest(&tm);
    tm.stages[0].trees[1].right[1] = 2; /* both children the same node */
    t_expect_reject(&tm, "node 1: right child 2 reached twice");
}

static void test_model_reject_unreachable(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    struct t_tree *t = &tm.stages[0].trees[0];
    t_tree_size(t, 5, 2);
    t_leaf(t, 3, 2, (double[]){1, 0});
    t_leaf(t, 4, 2, (double[]){1, 0});
    t_expect_reject(&tm, "stage 0 tree 0 node 3: unreachable from the root");
}

static void test_model_reject_one_child(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.stages[0].trees[1].right[1] = -1;
    t_expect_reject(&tm, "stage 0 tree 1 node 1: one child (left 2, right -1)");
}

static void test_model_reject_nan_threshold(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.stages[0].trees[1].threshold[1] = NAN;
    t_expect_reject(&tm, "stage 0 tree 1 node 1: threshold is NaN");
    t_forest(&tm);
    tm.stages[0].trees[1].threshold[0] = -INFINITY;
    t_expect_reject(&tm, "node 0: threshold is infinite");
}

static void test_model_reject_inf_value(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.stages[0].trees[1].value[3 * 2 + 1] = INFINITY;
    t_expect_reject(&tm, "stage 0 tree 1 node 3: value[1] is not finite");
    t_boost(&tm);
    tm.stages[0].init[0] = NAN;
    t_expect_reject(&tm, "stage 0: init[0] is not finite");
    t_forest(&tm);
    tm.nonfinite[1] = INFINITY;
    t_expect_reject(&tm, "nonfinite: 'posinf' is not finite");
}

static void test_model_reject_too_many_trees(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.stages[0].extra_trees = MODEL_MAX_TREES - 1; /* 2 real + 99,999 nil = 100,001 */
    t_expect_reject(&tm, "stage 0: 'trees' has 100001 trees, expected 1..100000");
    t_boost(&tm);
    tm.n_classes = 3;
    tm.classes[2] = "udp";
    tm.stages[0].has_positive = false;
    tm.stages[0].n_classes = 3;
    tm.stages[0].classes[2] = 2;
    tm.stages[0].n_init = 3;
    t_expect_reject(&tm, "'trees' has 2 trees, not a multiple of the 3 raw outputs");
}

static void test_model_reject_stage_layout(void **state)
{
    (void)state;
    struct t_model tm;
    t_forest(&tm);
    tm.stages[0].kind = "svm";
    t_expect_reject(&tm, "stage 0: 'kind' is 'svm'");
    t_forest(&tm);
    tm.mode = "legacy";
    t_expect_reject(&tm, "'feature_mode' is 'legacy'");
    t_forest(&tm);
    tm.n_stages = 2;
    tm.stages[1] = tm.stages[0]; /* named "attack" twice, and no positive */
    t_expect_reject(&tm, "stage 0: missing key 'positive'");
    tm.stages[0].has_positive = true;
    tm.stages[0].positive = 1;
    t_expect_reject(&tm, "stage 1: 'name' is 'attack', expected 'family'");
    t_forest(&tm);
    tm.stages[0].has_threshold = true;
    tm.stages[0].threshold = 1.5;
    t_expect_reject(&tm, "stage 0: 'threshold' 1.5 outside [0, 1]");
}

static void test_model_reject_duplicate_key(void **state)
{
    (void)state;
    /* {"format": "ddosd-model", "format": "ddosd-model"} */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    for (int i = 0; i < 2; i++) {
        pk_str(&pk, "format");
        pk_str(&pk, "ddosd-model");
    }
    char err[MODEL_ERR_LEN];
    assert_null(t_load_bytes(sb.data, sb.size, err, sizeof(err)));
    assert_non_null(strstr(err, "duplicate key 'format'"));
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_forest_hand_computed),
        cmocka_unit_test(test_model_boosting_hand_computed),
        cmocka_unit_test(test_model_boosting_softmax),
        cmocka_unit_test(test_model_two_stage_verdicts),
        cmocka_unit_test(test_model_random_trees_match_naive_walk),
        cmocka_unit_test(test_model_accessors_and_describe),
        cmocka_unit_test(test_model_load_file),
        cmocka_unit_test(test_model_refcount),
        cmocka_unit_test(test_model_reject_wrong_magic),
        cmocka_unit_test(test_model_reject_wrong_version),
        cmocka_unit_test(test_model_reject_not_a_map),
        cmocka_unit_test(test_model_reject_says_not_a_model_first),
        cmocka_unit_test(test_model_reject_truncated_everywhere),
        cmocka_unit_test(test_model_reject_trailing_garbage),
        cmocka_unit_test(test_model_reject_missing_key),
        cmocka_unit_test(test_model_reject_unknown_feature),
        cmocka_unit_test(test_model_reject_duplicate_feature),
        cmocka_unit_test(test_model_reject_scaler_length),
        cmocka_unit_test(test_model_reject_zero_scale),
        cmocka_unit_test(test_model_reject_class_index),
        cmocka_unit_test(test_model_reject_positive),
        cmocka_unit_test(test_model_reject_n_nodes),
        cmocka_unit_test(test_model_reject_bin_length),
        cmocka_unit_test(test_model_reject_feature_index),
        cmocka_unit_test(test_model_reject_child_range),
        cmocka_unit_test(test_model_reject_self_loop),
        cmocka_unit_test(test_model_reject_cycle),
        cmocka_unit_test(test_model_reject_reached_twice),
        cmocka_unit_test(test_model_reject_unreachable),
        cmocka_unit_test(test_model_reject_one_child),
        cmocka_unit_test(test_model_reject_nan_threshold),
        cmocka_unit_test(test_model_reject_inf_value),
        cmocka_unit_test(test_model_reject_too_many_trees),
        cmocka_unit_test(test_model_reject_stage_layout),
        cmocka_unit_test(test_model_reject_duplicate_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
