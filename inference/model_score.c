/* model_score.c - scoring with a loaded model: preprocessing, tree walks, forest averages,
 * boosting links and the two-stage verdict.
 *
 * Owns nothing: every function reads an immutable struct model (model_internal.h) and writes
 * only its caller's buffers, so any number of threads may score at once. No allocation, no lock,
 * no system call; stack use is a few KB (model_score_batch about 48 KB).
 *
 * DESIGN: each input is preprocessed once (non-finite replacement, scaler) and rounded to
 * float32 once per row, exactly as scikit-learn converts X before its trees compare. Walks are
 * branch-free and run a tree's full depth (leaves loop on themselves, see model_internal.h):
 *  - one row (model_score, model_predict_proba): with AVX2, 32 trees at a time in four vectors
 *    of gathers; otherwise four trees in lock step;
 *  - a batch (model_score_batch): tree by tree over blocks of 32 rows, eight rows in lock step,
 *    so a tree's nodes come from memory once per block. (An AVX2 walk over rows measured no
 *    faster than this on Zen 4, so there is none.)
 * Whatever the order of walks, each row adds its trees' leaves in tree order, the same order as
 * scikit-learn, so every path gives bit-identical results and differs from scikit-learn only in
 * the last bits of exp/log. Comparisons follow sklearn exactly: float32(x) <= threshold; NaN
 * goes left only where the node says so. Measured figures: docs/performance.md. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "inference/model_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum {
    MODEL_TREE_LANES = 4,  /* trees walked together for one row */
    MODEL_SIMD_VECS = 4,   /* AVX2 vectors of 8 walks advanced together */
    MODEL_SIMD_LANES = 32, /* walks per AVX2 call: MODEL_SIMD_VECS x 8 */
    MODEL_ROW_LANES = 8,   /* rows walked together through one tree */
    MODEL_BLOCK_ROWS = 32, /* rows per block in model_score_batch */
    MODEL_BLOCK_ACC = 4096 /* doubles of per-row accumulators per block */
};

static const char model_unknown[] = "unknown";
static const char model_benign[] = "benign";

/* One step of a walk: the index of the next node (a leaf's is itself). With nan_aware false the
 * input must hold no NaN except the leaf slot; callers pass a constant. The select is mask
 * arithmetic because compilers turn `left ? i + 1 : right` into a jump whatever the hints, and
 * that jump mispredicts on about half of all steps (measured: 3x slower on production forests);
 * a NaN compares false, so it goes right unless the node says otherwise. */
static inline __attribute__((always_inline)) uint32_t
model_step(const struct model_node *nodes, uint32_t i, const float *x, const bool nan_aware)
{
    const uint32_t w = nodes[i].word;
    const float v = x[(w >> MODEL_NODE_FEAT_SHIFT) & MODEL_NODE_FEAT_MASK];
    uint32_t left = v <= nodes[i].threshold;
    if (nan_aware)
        left |= (uint32_t)(v != v) & (w >> 31);
    const uint32_t right = w & MODEL_NODE_INDEX_MASK;
    return right + ((i + 1 - right) & (0u - left));
}

#if defined(__x86_64__)
/* The AVX2 walk: MODEL_SIMD_LANES independent walks, 8 per vector, advanced in lock step (four
 * vectors, so each one's gathers overlap the others'). Lane j starts at node index start[j] of
 * the array at pool, reads its inputs at x + xoff[j], and a right child is base[j] + the node's
 * local index. The comparison is model_step's float `<=` (ordered: NaN false), so the results
 * are bit-identical to the scalar walk. Writes each lane's final node, minus base[j]. Only
 * called when the CPU has AVX2 (model->simd, decided at load). */
__attribute__((target("avx2"))) static void model_walk_avx2(const struct model_node *pool,
                                                            const uint32_t *base,
                                                            const uint32_t *xoff, const float *x,
                                                            uint32_t depth, uint32_t *leaf)
{
    const int *words = (const int *)(const void *)pool;
    const float *thresholds = (const float *)(const void *)pool;
    const __m256i one = _mm256_set1_epi32(1), index_mask = _mm256_set1_epi32(0xffffff),
                  feat_mask = _mm256_set1_epi32(MODEL_NODE_FEAT_MASK);
    __m256i b[MODEL_SIMD_VECS], o[MODEL_SIMD_VECS], i[MODEL_SIMD_VECS];
    for (int v = 0; v < MODEL_SIMD_VECS; v++) {
        b[v] = _mm256_loadu_si256((const __m256i *)(const void *)(base + 8 * v));
        o[v] = _mm256_loadu_si256((const __m256i *)(const void *)(xoff + 8 * v));
        i[v] = b[v];
    }
    for (uint32_t s = 0; s < depth; s++) {
        for (int v = 0; v < MODEL_SIMD_VECS; v++) {
            const __m256i a = _mm256_add_epi32(i[v], i[v]); /* 8-byte nodes: 2 ints each */
            const __m256i w = _mm256_i32gather_epi32(words + 1, a, 4);
            const __m256 t = _mm256_i32gather_ps(thresholds, a, 4);
            const __m256i f = _mm256_add_epi32(
                o[v], _mm256_and_si256(_mm256_srli_epi32(w, MODEL_NODE_FEAT_SHIFT), feat_mask));
            const __m256 le = _mm256_cmp_ps(_mm256_i32gather_ps(x, f, 4), t, _CMP_LE_OQ);
            const __m256i r = _mm256_add_epi32(b[v], _mm256_and_si256(w, index_mask));
            i[v] = _mm256_blendv_epi8(r, _mm256_add_epi32(i[v], one), _mm256_castps_si256(le));
        }
    }
    for (int v = 0; v < MODEL_SIMD_VECS; v++)
        _mm256_storeu_si256((__m256i *)(void *)(leaf + 8 * v), _mm256_sub_epi32(i[v], b[v]));
}
#endif

static inline uint32_t model_leaf_vector(const struct model_node *nodes, uint32_t i)
{
    uint32_t leaf;
    memcpy(&leaf, &nodes[i].threshold, sizeof(leaf));
    return leaf;
}

/* Adds tree t's leaf for this row into acc: a forest adds the leaf's probability vector, a
 * boosting stage adds the leaf value to raw output t % n_raw (passed as k). */
static inline void model_leaf_add(const struct model_stage *st, const struct model_tree *tr,
                                  uint32_t node, uint32_t k, double *acc)
{
    const uint32_t stride = st->value_stride;
    const double *v = st->value_pool + (size_t)model_leaf_vector(tr->nodes, node) * stride;
    if (st->kind == MODEL_STAGE_BOOSTING) {
        acc[k] += v[0];
        return;
    }
    for (uint32_t j = 0; j < stride; j++)
        acc[j] += v[j];
}

/* Sums every tree's leaf for one row into acc, in tree order. */
static inline __attribute__((always_inline)) void model_stage_sum(const struct model_stage *st,
                                                                  const float *x, double *acc,
                                                                  const bool nan_aware,
                                                                  const bool simd)
{
    const struct model_tree *trees = st->trees;
    const uint32_t n = st->n_trees, n_raw = st->n_raw;
    uint32_t t = 0, k = 0;
#if defined(__x86_64__)
    if (simd && !nan_aware) { /* 32 trees of this row at a time */
        uint32_t base[MODEL_SIMD_LANES], xoff[MODEL_SIMD_LANES] = {0}, leaf[MODEL_SIMD_LANES];
        for (; t + MODEL_SIMD_LANES <= n; t += MODEL_SIMD_LANES) {
            uint32_t depth = 0;
            for (uint32_t j = 0; j < MODEL_SIMD_LANES; j++) {
                base[j] = (uint32_t)(trees[t + j].nodes - st->node_pool);
                depth = trees[t + j].depth > depth ? trees[t + j].depth : depth;
            }
            model_walk_avx2(st->node_pool, base, xoff, x, depth, leaf);
            for (uint32_t j = 0; j < MODEL_SIMD_LANES; j++) {
                model_leaf_add(st, &trees[t + j], leaf[j], k, acc);
                k = k + 1 == n_raw ? 0 : k + 1;
            }
        }
    }
#else
    (void)simd;
#endif
    for (; t + MODEL_TREE_LANES <= n; t += MODEL_TREE_LANES) {
        const struct model_tree *tr = trees + t;
        uint32_t i0 = 0, i1 = 0, i2 = 0, i3 = 0;
        uint32_t d = tr[0].depth;
        for (int j = 1; j < MODEL_TREE_LANES; j++)
            d = tr[j].depth > d ? tr[j].depth : d;
        for (uint32_t s = 0; s < d; s++) {
            i0 = model_step(tr[0].nodes, i0, x, nan_aware);
            i1 = model_step(tr[1].nodes, i1, x, nan_aware);
            i2 = model_step(tr[2].nodes, i2, x, nan_aware);
            i3 = model_step(tr[3].nodes, i3, x, nan_aware);
        }
        const uint32_t leaf[MODEL_TREE_LANES] = {i0, i1, i2, i3};
        for (int j = 0; j < MODEL_TREE_LANES; j++) {
            model_leaf_add(st, &tr[j], leaf[j], k, acc);
            k = k + 1 == n_raw ? 0 : k + 1;
        }
    }
    for (; t < n; t++) {
        const struct model_tree *tr = trees + t;
        uint32_t i = 0;
        for (uint32_t s = 0; s < tr->depth; s++)
            i = model_step(tr->nodes, i, x, nan_aware);
        model_leaf_add(st, tr, i, k, acc);
        k = k + 1 == n_raw ? 0 : k + 1;
    }
}

/* Sets acc to the value before any tree: zeros, or the boosting init. */
static void model_acc_start(const struct model_stage *st, double *acc)
{
    if (st->kind == MODEL_STAGE_BOOSTING)
        memcpy(acc, st->init, st->n_raw * sizeof(double));
    else
        memset(acc, 0, st->n_outputs * sizeof(double));
}

/* Turns acc (forest sums, or boosting raw scores) into predict_proba, in place. acc must have
 * room for n_outputs values. The formulas are scikit-learn's, operation for operation. */
static void model_acc_finish(const struct model_stage *st, double *acc)
{
    if (st->kind == MODEL_STAGE_FOREST) {
        const double n = (double)st->n_trees;
        for (uint32_t j = 0; j < st->n_outputs; j++)
            acc[j] /= n;
        return;
    }
    if (st->n_raw == 1) { /* binomial deviance: expit, then [1 - p, p] */
        const double p = 1.0 / (1.0 + exp(-acc[0]));
        acc[1] = p;
        acc[0] = 1.0 - p;
        return;
    }
    /* multinomial: exp(raw - logsumexp(raw)), with scipy's logsumexp and numpy's nan_to_num */
    double max = acc[0];
    for (uint32_t j = 1; j < st->n_raw; j++)
        max = acc[j] > max ? acc[j] : max;
    if (!isfinite(max))
        max = 0;
    double sum = 0;
    for (uint32_t j = 0; j < st->n_raw; j++)
        sum += exp(acc[j] - max);
    const double lse = log(sum) + max;
    for (uint32_t j = 0; j < st->n_raw; j++) {
        const double p = exp(acc[j] - lse);
        acc[j] = isnan(p) ? 0 : p;
    }
}

/* Preprocesses input i's raw value: non-finite replacement, then the scaler, in scikit-learn's
 * operation order ((x - mean) / scale; x * scale + min). The library is built with
 * -ffp-contract=off so x * scale + min is never fused into one rounding. */
static inline double model_prepare_value(const struct model *m, uint32_t i, double v)
{
    if (DD_UNLIKELY(!isfinite(v)))
        v = isnan(v) ? m->nan_value : v > 0 ? m->posinf_value : m->neginf_value;
    switch (m->scaler) {
    case MODEL_SCALER_STANDARD:
        return (v - m->scaler_offset[i]) / m->scaler_scale[i];
    case MODEL_SCALER_MINMAX:
        return v * m->scaler_scale[i] + m->scaler_offset[i];
    case MODEL_SCALER_NONE:
        break;
    }
    return v;
}

/* Fills a walk buffer from an extractor vector. */
static inline void model_prepare_feat(const struct model *m, const double *feat, float *x)
{
    for (uint32_t i = 0; i < m->n_features; i++)
        x[i] = (float)model_prepare_value(m, i, feat[m->feat_ids[i]]);
    x[MODEL_X_NAN_SLOT] = NAN;
}

void model_prepare(const struct model *m, const double *x, double *out)
{
    for (uint32_t i = 0; i < m->n_features; i++)
        out[i] = model_prepare_value(m, i, x[i]);
}

static void model_stage_eval(const struct model *m, const struct model_stage *st, const float *x,
                             bool nan_aware, double *proba)
{
    model_acc_start(st, proba);
    if (nan_aware)
        model_stage_sum(st, x, proba, true, false);
    else if (m->simd)
        model_stage_sum(st, x, proba, false, true);
    else
        model_stage_sum(st, x, proba, false, false);
    model_acc_finish(st, proba);
}

int model_predict_proba(const struct model *m, size_t stage, const double *x, double *proba_out)
{
    if (stage >= m->n_stages)
        return -EINVAL;
    float xf[MODEL_X_SLOTS];
    for (uint32_t i = 0; i < m->n_features; i++)
        xf[i] = (float)model_prepare_value(m, i, x[i]);
    xf[MODEL_X_NAN_SLOT] = NAN;
    model_stage_eval(m, &m->stages[stage], xf, false, proba_out);
    return 0;
}

int model_stage_predict_proba(const struct model *m, size_t stage, const double *x,
                              double *proba_out)
{
    if (stage >= m->n_stages)
        return -EINVAL;
    float xf[MODEL_X_SLOTS];
    bool any_nan = false;
    for (uint32_t i = 0; i < m->n_features; i++) {
        xf[i] = (float)x[i];
        any_nan |= isnan(xf[i]);
    }
    xf[MODEL_X_NAN_SLOT] = NAN;
    model_stage_eval(m, &m->stages[stage], xf, any_nan, proba_out);
    return 0;
}

/* First index of the largest p[j] over j in [0, n) other than skip (numpy's argmax rule);
 * -1 when there is none. */
static int model_argmax(const double *p, uint32_t n, int skip)
{
    int best = -1;
    for (uint32_t j = 0; j < n; j++)
        if ((int)j != skip && (best < 0 || p[j] > p[best]))
            best = (int)j;
    return best;
}

/* The verdict from stage 0's probabilities p. Returns true when the family stage must run
 * (then model_verdict_family completes out). docs/model-format.md "Scoring" is the contract. */
static bool model_verdict_attack(const struct model *m, const double *p, struct model_score *out)
{
    const struct model_stage *st = &m->stages[0];
    const int pos = st->positive;
    const double pa = pos >= 0 ? p[pos] : 1.0 - p[m->benign_col];
    out->p_attack = pa;
    out->is_attack = pa >= st->threshold;
    out->family = -1;
    out->p_family = 0;
    if (!out->is_attack) {
        int j = pos >= 0 ? model_argmax(p, st->n_outputs, pos) : m->benign_col;
        out->label = j >= 0 ? m->class_names[st->classes[j]] : model_benign;
        return false;
    }
    if (m->n_stages == 2)
        return true;
    if (pos >= 0) { /* a binary detector: no family */
        out->label = m->class_names[st->classes[pos]];
        return false;
    }
    int j = model_argmax(p, st->n_outputs, m->benign_col);
    if (j < 0) {
        out->label = model_unknown;
        return false;
    }
    out->family = (int)st->classes[j];
    out->p_family = p[j];
    out->label = m->class_names[out->family];
    return false;
}

static void model_verdict_family(const struct model *m, const double *q, struct model_score *out)
{
    const struct model_stage *st = &m->stages[1];
    const int j = model_argmax(q, st->n_outputs, -1);
    out->p_family = q[j];
    if (q[j] >= st->threshold) {
        out->family = (int)st->classes[j];
        out->label = m->class_names[out->family];
    } else {
        out->family = -1;
        out->label = model_unknown;
    }
}

void model_score(const struct model *m, const double feat[FEAT_COUNT], struct model_score *out)
{
    float x[MODEL_X_SLOTS];
    double p[MODEL_MAX_CLASSES];
    model_prepare_feat(m, feat, x);
    model_stage_eval(m, &m->stages[0], x, false, p);
    if (model_verdict_attack(m, p, out)) {
        model_stage_eval(m, &m->stages[1], x, false, p);
        model_verdict_family(m, p, out);
    }
}

/* Evaluates one stage for rows x[row[0..nr)] into acc (nr x width, width >= n_outputs): tree
 * by tree, MODEL_ROW_LANES rows in lock step. */
static void model_stage_block(const struct model_stage *st, float (*x)[MODEL_X_SLOTS],
                              const uint8_t *row, uint32_t nr, uint32_t width, double *acc)
{
    for (uint32_t r = 0; r < nr; r++)
        model_acc_start(st, acc + (size_t)r * width);
    uint32_t k = 0;
    for (uint32_t t = 0; t < st->n_trees; t++) {
        const struct model_tree *tr = &st->trees[t];
        const struct model_node *nodes = tr->nodes;
        const uint32_t depth = tr->depth;
        uint32_t r = 0;
        for (; r + MODEL_ROW_LANES <= nr; r += MODEL_ROW_LANES) {
            uint32_t i[MODEL_ROW_LANES] = {0};
            const float *xr[MODEL_ROW_LANES];
            for (int j = 0; j < MODEL_ROW_LANES; j++)
                xr[j] = x[row[r + j]];
            for (uint32_t s = 0; s < depth; s++)
                for (int j = 0; j < MODEL_ROW_LANES; j++)
                    i[j] = model_step(nodes, i[j], xr[j], false);
            for (int j = 0; j < MODEL_ROW_LANES; j++)
                model_leaf_add(st, tr, i[j], k, acc + (size_t)(r + j) * width);
        }
        for (; r < nr; r++) {
            uint32_t i = 0;
            for (uint32_t s = 0; s < depth; s++)
                i = model_step(nodes, i, x[row[r]], false);
            model_leaf_add(st, tr, i, k, acc + (size_t)r * width);
        }
        k = k + 1 == st->n_raw ? 0 : k + 1;
    }
    for (uint32_t r = 0; r < nr; r++)
        model_acc_finish(st, acc + (size_t)r * width);
}

void model_score_batch(const struct model *m, const double *feats, size_t n,
                       struct model_score *out)
{
    float x[MODEL_BLOCK_ROWS][MODEL_X_SLOTS];
    double acc[MODEL_BLOCK_ACC];
    uint8_t all[MODEL_BLOCK_ROWS], attack[MODEL_BLOCK_ROWS];

    uint32_t width = m->stages[0].n_outputs;
    if (m->n_stages == 2 && m->stages[1].n_outputs > width)
        width = m->stages[1].n_outputs;
    uint32_t block = MODEL_BLOCK_ACC / width;
    block = block > MODEL_BLOCK_ROWS ? MODEL_BLOCK_ROWS : block;
    for (uint32_t r = 0; r < block; r++)
        all[r] = (uint8_t)r;

    for (size_t base = 0; base < n; base += block) {
        const uint32_t nb = n - base < block ? (uint32_t)(n - base) : block;
        for (uint32_t r = 0; r < nb; r++)
            model_prepare_feat(m, feats + (base + r) * FEAT_COUNT, x[r]);
        model_stage_block(&m->stages[0], x, all, nb, width, acc);
        uint32_t na = 0;
        for (uint32_t r = 0; r < nb; r++)
            if (model_verdict_attack(m, acc + (size_t)r * width, &out[base + r]))
                attack[na++] = (uint8_t)r;
        if (na == 0)
            continue;
        model_stage_block(&m->stages[1], x, attack, na, width, acc);
        for (uint32_t a = 0; a < na; a++)
            model_verdict_family(m, acc + (size_t)a * width, &out[base + attack[a]]);
    }
}
