/* model_score.c - scoring with a loaded model: preprocessing, tree walks, forest averages,
 * boosting links and the two-stage verdict.
 *
 * Owns nothing: every function reads an immutable struct model (model_internal.h) and writes
 * only its caller's buffers, so any number of threads may score at once. No allocation, no lock,
 * no system call; stack use is a few KB (model_score_batch about 56 KB).
 *
 * DESIGN: each input is preprocessed once (non-finite replacement, scaler) and rounded to
 * float32 once per row, exactly as scikit-learn converts X before its trees compare. A walk
 * step is `i = left(i) + (x[feature(i)] > threshold(i))` over breadth-first 8-byte nodes, and
 * walks run a tree's full depth (leaves loop on themselves, see model_internal.h), so no walk
 * ever branches on data and many walks can advance in lock step:
 *  - a batch (model_score_batch, what the daemon's workers call): tree by tree over blocks of
 *    64 rows. With AVX-512 a vector holds 16 rows; a step gathers the 16 nodes (one qword each,
 *    split by two permutes), gathers the 16 inputs, compares and adds; three trees x four
 *    vectors advance together, and the first five steps read nodes from a register table. A
 *    tree's nodes (17 KB for a depth-14 forest tree) and the block's inputs (21 KB) stay in L1,
 *    so the walk is bound by the latency of its gather chain (about 60 cycles a step), which
 *    twelve independent chains hide (model_stage_block has the measurements). With AVX2 eight
 *    rows per vector, 32 per call; otherwise eight rows in lock step.
 *  - one row (model_score, model_predict_proba): the same vector walk across trees instead of
 *    rows, 64 (AVX-512) or 32 (AVX2) trees at a time; otherwise four trees in lock step.
 * Whatever the order of walks, each row adds its trees' leaves in tree order, the same order as
 * scikit-learn, so every path gives bit-identical results and differs from scikit-learn only in
 * the last bits of exp/log. Comparisons follow sklearn exactly: float32(x) <= threshold goes
 * left; NaN goes left only where the node says so. Measured figures: docs/performance.md. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "inference/model_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum {
    MODEL_TREE_LANES = 4,                 /* scalar: trees walked together for one row */
    MODEL_ROW_LANES = 8,                  /* scalar: rows walked together through one tree */
    MODEL_WALK_LANES = 64,                /* vector: most walks per call (4 x 16 or 2 x 4 x 8) */
    MODEL_BLOCK_ROWS = 64,                /* rows per block in model_score_batch */
    MODEL_BLOCK_ACC = 4096,               /* doubles of per-row accumulators per block */
    MODEL_ROW_STRIDE_MAX = FEAT_COUNT + 1 /* floats per row in a block: inputs, then NaN */
};

static const char model_unknown[] = "unknown";
static const char model_benign[] = "benign";

/* One step of a scalar walk: the index of the next node (a leaf's is itself). With nan_aware
 * false the row must hold no NaN except the NaN slot; callers pass a constant. `v > t` is a
 * setcc, not a jump: a jump here mispredicts on about half of all steps (measured: 3x slower
 * on production forests). A NaN compares false, so without the flag it would go left; the
 * nan-aware step sends it right unless the node (or a leaf, which must stay put) says left. */
static inline __attribute__((always_inline)) uint32_t
model_step(const struct model_node *nodes, uint32_t i, const float *x, const bool nan_aware)
{
    const uint32_t w = nodes[i].word;
    const float v = x[(w >> MODEL_NODE_FEAT_SHIFT) & MODEL_NODE_FEAT_MASK];
    uint32_t right = v > nodes[i].threshold;
    if (nan_aware)
        right |= (uint32_t)(v != v) & ~(w >> 31);
    return (w & MODEL_NODE_INDEX_MASK) + right;
}

#if defined(__x86_64__)
/* The vector walks: n walks (n <= MODEL_WALK_LANES, base and xoff padded with valid entries to
 * a whole number of vectors) advanced in lock step for depth steps. Walk j starts at the root
 * pool[base[j]] and reads its row at x + xoff[j]; it is a walk over trees (one row, base
 * differs) or over rows (one tree, xoff differs). Each step gathers the node's word and
 * threshold (one 8-byte node: two 4-byte gathers at scale 8), then the input, compares with
 * the ordered `>` of model_step (NaN false: a leaf stays), and the next index is the left child
 * plus one where greater, so the results are bit-identical to the scalar walk. Several vectors
 * advance together so each one's gathers overlap the others' latency. Writes each walk's final
 * node, as an index into pool. Only called when the CPU has the instructions (model->simd). */
#define MODEL_NODE_WORDS(pool)      ((const int *)(const void *)((const char *)(pool) + 4))
#define MODEL_NODE_THRESHOLDS(pool) ((const float *)(const void *)(pool))

__attribute__((target("avx2"))) static inline __attribute__((always_inline)) void
model_walk_avx2_n(const struct model_node *pool, const uint32_t *base, const uint32_t *xoff,
                  const float *x, uint32_t depth, uint32_t *leaf, const int nv)
{
    const int *words = MODEL_NODE_WORDS(pool);
    const float *thresholds = MODEL_NODE_THRESHOLDS(pool);
    const __m256i index_mask = _mm256_set1_epi32(MODEL_NODE_INDEX_MASK),
                  feat_mask = _mm256_set1_epi32(MODEL_NODE_FEAT_MASK);
    __m256i b[4], o[4], i[4];
    for (int v = 0; v < nv; v++) {
        b[v] = _mm256_loadu_si256((const __m256i *)(const void *)(base + 8 * v));
        o[v] = _mm256_loadu_si256((const __m256i *)(const void *)(xoff + 8 * v));
        i[v] = b[v];
    }
    for (uint32_t s = 0; s < depth; s++) {
        for (int v = 0; v < nv; v++) {
            const __m256i w = _mm256_i32gather_epi32(words, i[v], 8);
            const __m256 t = _mm256_i32gather_ps(thresholds, i[v], 8);
            const __m256i f = _mm256_add_epi32(
                o[v], _mm256_and_si256(_mm256_srli_epi32(w, MODEL_NODE_FEAT_SHIFT), feat_mask));
            const __m256 gt = _mm256_cmp_ps(_mm256_i32gather_ps(x, f, 4), t, _CMP_GT_OQ);
            /* left child + 1 where greater: gt is all ones (-1) there */
            i[v] = _mm256_sub_epi32(_mm256_add_epi32(b[v], _mm256_and_si256(w, index_mask)),
                                    _mm256_castps_si256(gt));
        }
    }
    for (int v = 0; v < nv; v++)
        _mm256_storeu_si256((__m256i *)(void *)(leaf + 8 * v), i[v]);
}

/* Up to 32 walks (AVX2 has 16 vector registers: four vectors of state is what fits). */
__attribute__((target("avx2"))) static void
model_walk_avx2(const struct model_node *pool, const uint32_t *base, const uint32_t *xoff,
                const float *x, uint32_t depth, uint32_t n, uint32_t *leaf)
{
    for (uint32_t j = 0; j < n; j += 32) {
        const uint32_t nv = (n - j < 32 ? n - j : 32) / 8;
        switch (nv) {
        case 1:
            model_walk_avx2_n(pool, base + j, xoff + j, x, depth, leaf + j, 1);
            break;
        case 2:
            model_walk_avx2_n(pool, base + j, xoff + j, x, depth, leaf + j, 2);
            break;
        case 3:
            model_walk_avx2_n(pool, base + j, xoff + j, x, depth, leaf + j, 3);
            break;
        default:
            model_walk_avx2_n(pool, base + j, xoff + j, x, depth, leaf + j, 4);
            break;
        }
    }
}

__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void
model_walk_avx512_n(const struct model_node *pool, const uint32_t *base, const uint32_t *xoff,
                    const float *x, uint32_t depth, uint32_t *leaf, const int nv)
{
    const __m512i one = _mm512_set1_epi32(1), index_mask = _mm512_set1_epi32(MODEL_NODE_INDEX_MASK),
                  feat_mask = _mm512_set1_epi32(MODEL_NODE_FEAT_MASK);
    __m512i b[4], o[4], i[4];
    for (int v = 0; v < nv; v++) {
        b[v] = _mm512_loadu_si512(base + 16 * v);
        o[v] = _mm512_loadu_si512(xoff + 16 * v);
        i[v] = b[v];
    }
    /* Lane j's node is one qword (threshold low, word high): two 8-lane qword gathers fetch
     * 16 nodes with half the element loads of separate word and threshold gathers, and two
     * permutes split them into a vector of thresholds and one of words. */
    const __m512i even =
                      _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0),
                  odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (uint32_t s = 0; s < depth; s++) {
        for (int v = 0; v < nv; v++) {
            const __m512i lo = _mm512_i32gather_epi64(_mm512_castsi512_si256(i[v]), pool, 8);
            const __m512i hi = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(i[v], 1), pool, 8);
            const __m512i w = _mm512_permutex2var_epi32(lo, odd, hi);
            const __m512 t = _mm512_castsi512_ps(_mm512_permutex2var_epi32(lo, even, hi));
            const __m512i f = _mm512_add_epi32(
                o[v], _mm512_and_si512(_mm512_srli_epi32(w, MODEL_NODE_FEAT_SHIFT), feat_mask));
            const __mmask16 gt = _mm512_cmp_ps_mask(_mm512_i32gather_ps(f, x, 4), t, _CMP_GT_OQ);
            const __m512i left = _mm512_add_epi32(b[v], _mm512_and_si512(w, index_mask));
            i[v] = _mm512_mask_add_epi32(left, gt, left, one);
        }
    }
    for (int v = 0; v < nv; v++)
        _mm512_storeu_si512(leaf + 16 * v, i[v]);
}

/* The batch walk: n rows (n a multiple of 16, <= 64) through ng (1 to 4; at most 3 for more
 * than 32 rows) trees at once, in vectors of 16 rows: up to twelve independent chains of
 * gathers in flight, which is what hides their latency (each step is gather -> permute ->
 * gather -> compare, some 60 cycles; model_stage_block has the measured effect). Row j reads its
 * inputs at x + xoff[j]; tree g's leaf for row j is written to leaf[g * MODEL_LEAF_STRIDE + j] as
 * an index into its nodes. The first five levels of a breadth-first tree are its first 31 nodes, so
 * for the first five steps every walk is inside them: those steps take the node from a 32-entry
 * table held in four registers per tree (a permute each for word and threshold) instead of
 * gathering it. The tables are loaded once per call (masked, for trees of fewer than 32 nodes). A
 * tree shallower than the other simply sits on its leaves (they loop) until the deeper one is done.
 */
enum { MODEL_LEAF_STRIDE = MODEL_BLOCK_ROWS + 16 };

__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void
model_walk_rows_avx512_n(const struct model_tree *tr, const uint32_t *xoff, const float *x,
                         uint32_t *leaf, const int ng, const int nv)
{
    const __m512i one = _mm512_set1_epi32(1), index_mask = _mm512_set1_epi32(MODEL_NODE_INDEX_MASK),
                  feat_mask = _mm512_set1_epi32(MODEL_NODE_FEAT_MASK);
    const __m512i even =
                      _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0),
                  odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    __m512i o[4], i[4][4];
    for (int v = 0; v < nv; v++) {
        o[v] = _mm512_loadu_si512(xoff + 16 * v);
        for (int g = 0; g < ng; g++)
            i[g][v] = _mm512_setzero_si512();
    }
    uint32_t depth = 0;
    for (int g = 0; g < ng; g++)
        depth = tr[g].depth > depth ? tr[g].depth : depth;
    uint32_t s = 0;
    {
        __m512i wlo[4], whi[4], tlo[4], thi[4];
        for (int g = 0; g < ng; g++) {
            __m512i q[4]; /* nodes 0-7, 8-15, 16-23, 24-31 as qwords */
            for (int c = 0; c < 4; c++) {
                const uint32_t have = tr[g].n_nodes > 8u * c ? tr[g].n_nodes - 8u * c : 0;
                const __mmask8 k = have >= 8 ? 0xff : (__mmask8)((1u << have) - 1);
                q[c] = _mm512_maskz_loadu_epi64(k, tr[g].nodes + 8 * c);
            }
            wlo[g] = _mm512_permutex2var_epi32(q[0], odd, q[1]);
            whi[g] = _mm512_permutex2var_epi32(q[2], odd, q[3]);
            tlo[g] = _mm512_permutex2var_epi32(q[0], even, q[1]);
            thi[g] = _mm512_permutex2var_epi32(q[2], even, q[3]);
        }
        const uint32_t top = depth < 5 ? depth : 5;
        for (; s < top; s++) {
            for (int g = 0; g < ng; g++) {
                for (int v = 0; v < nv; v++) {
                    const __m512i w = _mm512_permutex2var_epi32(wlo[g], i[g][v], whi[g]);
                    const __m512 t =
                        _mm512_castsi512_ps(_mm512_permutex2var_epi32(tlo[g], i[g][v], thi[g]));
                    const __m512i f = _mm512_add_epi32(
                        o[v],
                        _mm512_and_si512(_mm512_srli_epi32(w, MODEL_NODE_FEAT_SHIFT), feat_mask));
                    const __mmask16 gt =
                        _mm512_cmp_ps_mask(_mm512_i32gather_ps(f, x, 4), t, _CMP_GT_OQ);
                    const __m512i left = _mm512_and_si512(w, index_mask);
                    i[g][v] = _mm512_mask_add_epi32(left, gt, left, one);
                }
            }
        }
    }
    for (; s < depth; s++) {
        for (int g = 0; g < ng; g++) {
            const struct model_node *nodes = tr[g].nodes;
            for (int v = 0; v < nv; v++) {
                const __m512i lo =
                    _mm512_i32gather_epi64(_mm512_castsi512_si256(i[g][v]), nodes, 8);
                const __m512i hi =
                    _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(i[g][v], 1), nodes, 8);
                const __m512i w = _mm512_permutex2var_epi32(lo, odd, hi);
                const __m512 t = _mm512_castsi512_ps(_mm512_permutex2var_epi32(lo, even, hi));
                const __m512i f = _mm512_add_epi32(
                    o[v], _mm512_and_si512(_mm512_srli_epi32(w, MODEL_NODE_FEAT_SHIFT), feat_mask));
                const __mmask16 gt =
                    _mm512_cmp_ps_mask(_mm512_i32gather_ps(f, x, 4), t, _CMP_GT_OQ);
                const __m512i left = _mm512_and_si512(w, index_mask);
                i[g][v] = _mm512_mask_add_epi32(left, gt, left, one);
            }
        }
    }
    for (int g = 0; g < ng; g++)
        for (int v = 0; v < nv; v++)
            _mm512_storeu_si512(leaf + g * MODEL_LEAF_STRIDE + 16 * v, i[g][v]);
}

/* Dispatches model_walk_rows_avx512_n to a compile-time shape (the state must live in
 * registers). */
__attribute__((target("avx512f"))) static void model_walk_rows_avx512(const struct model_tree *tr,
                                                                      int ng, const uint32_t *xoff,
                                                                      const float *x, uint32_t n,
                                                                      uint32_t *leaf)
{
#define MODEL_WALK_ROWS_CASE(g, v)                                                                 \
    case (g)*8 + (v):                                                                              \
        model_walk_rows_avx512_n(tr, xoff, x, leaf, g, v);                                         \
        break
    switch (ng * 8 + (int)(n / 16)) {
        MODEL_WALK_ROWS_CASE(1, 1);
        MODEL_WALK_ROWS_CASE(1, 2);
        MODEL_WALK_ROWS_CASE(1, 3);
        MODEL_WALK_ROWS_CASE(1, 4);
        MODEL_WALK_ROWS_CASE(2, 1);
        MODEL_WALK_ROWS_CASE(2, 2);
        MODEL_WALK_ROWS_CASE(2, 3);
        MODEL_WALK_ROWS_CASE(3, 1);
        MODEL_WALK_ROWS_CASE(3, 2);
        MODEL_WALK_ROWS_CASE(3, 3);
        MODEL_WALK_ROWS_CASE(3, 4);
        MODEL_WALK_ROWS_CASE(2, 4);
        MODEL_WALK_ROWS_CASE(4, 1);
        MODEL_WALK_ROWS_CASE(4, 2);
    default: /* (1 or 2, 4): the last trees of a big block */
        model_walk_rows_avx512_n(tr, xoff, x, leaf, ng == 1 ? 1 : 2, 4);
        break;
    }
#undef MODEL_WALK_ROWS_CASE
}

/* Up to 64 walks: four vectors of 16 (32 vector registers leave room for all the state). */
__attribute__((target("avx512f"))) static void
model_walk_avx512(const struct model_node *pool, const uint32_t *base, const uint32_t *xoff,
                  const float *x, uint32_t depth, uint32_t n, uint32_t *leaf)
{
    switch (n / 16) {
    case 1:
        model_walk_avx512_n(pool, base, xoff, x, depth, leaf, 1);
        break;
    case 2:
        model_walk_avx512_n(pool, base, xoff, x, depth, leaf, 2);
        break;
    case 3:
        model_walk_avx512_n(pool, base, xoff, x, depth, leaf, 3);
        break;
    default:
        model_walk_avx512_n(pool, base, xoff, x, depth, leaf, 4);
        break;
    }
}
#endif

/* Lanes a vector walk pads n walks to (a whole number of vectors), or 0 without one. */
static inline uint32_t model_walk_width(enum model_simd simd, uint32_t n)
{
    switch (simd) {
    case MODEL_SIMD_AVX512:
        return (n + 15) & ~15u;
    case MODEL_SIMD_AVX2:
        return (n + 7) & ~7u;
    case MODEL_SIMD_NONE:
        break;
    }
    return 0;
}

/* Runs the vector walk of the given level over n walks (already padded by model_walk_width). */
static inline void model_walk_vector(enum model_simd simd, const struct model_node *pool,
                                     const uint32_t *base, const uint32_t *xoff, const float *x,
                                     uint32_t depth, uint32_t n, uint32_t *leaf)
{
#if defined(__x86_64__)
    if (simd == MODEL_SIMD_AVX512)
        model_walk_avx512(pool, base, xoff, x, depth, n, leaf);
    else
        model_walk_avx2(pool, base, xoff, x, depth, n, leaf);
#else
    (void)simd, (void)pool, (void)base, (void)xoff, (void)x, (void)depth, (void)n, (void)leaf;
#endif
}

/* Adds the leaf at pool index node into acc: a forest adds the leaf's probability vector, a
 * boosting stage adds the leaf value to raw output k (tree t's is t % n_raw). */
static inline void model_leaf_add(const struct model_stage *st, uint32_t node, uint32_t k,
                                  double *acc)
{
    uint32_t vec;
    memcpy(&vec, &st->node_pool[node].threshold, sizeof(vec));
    const uint32_t stride = st->value_stride;
    const double *v = st->value_pool + (size_t)vec * stride;
    if (st->kind == MODEL_STAGE_BOOSTING) {
        acc[k] += v[0];
        return;
    }
    for (uint32_t j = 0; j < stride; j++)
        acc[j] += v[j];
}

/* Sums every tree's leaf for one row into acc, in tree order, scalar walks. */
static inline __attribute__((always_inline)) void
model_stage_sum_scalar(const struct model_stage *st, const float *x, double *acc,
                       const bool nan_aware)
{
    const struct model_tree *trees = st->trees;
    const uint32_t n = st->n_trees, n_raw = st->n_raw;
    uint32_t t = 0, k = 0;
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
            model_leaf_add(st, tr[j].base + leaf[j], k, acc);
            k = k + 1 == n_raw ? 0 : k + 1;
        }
    }
    for (; t < n; t++) {
        const struct model_tree *tr = trees + t;
        uint32_t i = 0;
        for (uint32_t s = 0; s < tr->depth; s++)
            i = model_step(tr->nodes, i, x, nan_aware);
        model_leaf_add(st, tr->base + i, k, acc);
        k = k + 1 == n_raw ? 0 : k + 1;
    }
}

/* The same with the vector walk: up to MODEL_WALK_LANES trees of this row per call. */
static void model_stage_sum_vector(const struct model_stage *st, enum model_simd simd,
                                   const float *x, double *acc)
{
    uint32_t base[MODEL_WALK_LANES], xoff[MODEL_WALK_LANES] = {0}, leaf[MODEL_WALK_LANES];
    const uint32_t n = st->n_trees, n_raw = st->n_raw;
    uint32_t k = 0;
    for (uint32_t t = 0; t < n; t += MODEL_WALK_LANES) {
        const uint32_t cnt = n - t < MODEL_WALK_LANES ? n - t : MODEL_WALK_LANES;
        const uint32_t lanes = model_walk_width(simd, cnt);
        uint32_t depth = 0;
        for (uint32_t j = 0; j < lanes; j++) {
            /* lanes past the last tree walk it again; their results are not used */
            const struct model_tree *tr = &st->trees[t + (j < cnt ? j : cnt - 1)];
            base[j] = tr->base;
            depth = tr->depth > depth ? tr->depth : depth;
        }
        model_walk_vector(simd, st->node_pool, base, xoff, x, depth, lanes, leaf);
        for (uint32_t j = 0; j < cnt; j++) {
            model_leaf_add(st, leaf[j], k, acc);
            k = k + 1 == n_raw ? 0 : k + 1;
        }
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

/* Preprocesses extractor feature e's raw value: non-finite replacement, then the scaler, in
 * scikit-learn's operation order ((x - mean) / scale; x * scale + min). The library is built
 * with -ffp-contract=off so x * scale + min is never fused into one rounding. */
static inline double model_prepare_value(const struct model *m, uint32_t e, double v)
{
    if (DD_UNLIKELY(!isfinite(v)))
        v = isnan(v) ? m->nan_value : v > 0 ? m->posinf_value : m->neginf_value;
    switch (m->scaler) {
    case MODEL_SCALER_STANDARD:
        return (v - m->scaler_offset[e]) / m->scaler_scale[e];
    case MODEL_SCALER_MINMAX:
        return v * m->scaler_scale[e] + m->scaler_offset[e];
    case MODEL_SCALER_NONE:
        break;
    }
    return v;
}

#if defined(__x86_64__)
/* model_prepare_row eight features at a time: the same operations on the same doubles (IEEE
 * subtract, divide, multiply and add are exact-rounded in vectors too; vcvtpd2ps rounds to
 * nearest like the C cast), so the rows are bit-identical. */
__attribute__((target("avx512f"))) static void
model_prepare_row_avx512(const struct model *m, const double *feat, float *x)
{
    const __m512d inf = _mm512_set1_pd(INFINITY), nan_to = _mm512_set1_pd(m->nan_value),
                  pinf_to = _mm512_set1_pd(m->posinf_value),
                  ninf_to = _mm512_set1_pd(m->neginf_value);
    for (uint32_t e = 0; e < FEAT_COUNT; e += 8) {
        const __mmask8 live = e + 8 <= FEAT_COUNT ? 0xff : (__mmask8)((1u << (FEAT_COUNT - e)) - 1);
        __m512d v = _mm512_maskz_loadu_pd(live, feat + e);
        if (DD_UNLIKELY(_mm512_cmp_pd_mask(_mm512_abs_pd(v), inf, _CMP_NLT_UQ))) {
            v = _mm512_mask_mov_pd(v, _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q), nan_to);
            v = _mm512_mask_mov_pd(v, _mm512_cmp_pd_mask(v, inf, _CMP_EQ_OQ), pinf_to);
            v = _mm512_mask_mov_pd(
                v, _mm512_cmp_pd_mask(v, _mm512_sub_pd(_mm512_setzero_pd(), inf), _CMP_EQ_OQ),
                ninf_to);
        }
        if (m->scaler == MODEL_SCALER_STANDARD)
            v = _mm512_div_pd(_mm512_sub_pd(v, _mm512_maskz_loadu_pd(live, m->scaler_offset + e)),
                              _mm512_mask_loadu_pd(_mm512_set1_pd(1), live, m->scaler_scale + e));
        else if (m->scaler == MODEL_SCALER_MINMAX)
            v = _mm512_add_pd(_mm512_mul_pd(v, _mm512_maskz_loadu_pd(live, m->scaler_scale + e)),
                              _mm512_maskz_loadu_pd(live, m->scaler_offset + e));
        _mm512_mask_storeu_ps(x + e, live, _mm512_castps256_ps512(_mm512_cvtpd_ps(v)));
    }
    x[MODEL_X_NAN] = NAN;
}
#endif

/* Fills a walk row (extractor order, MODEL_X_STRIDE floats) from an extractor vector. */
static inline void model_prepare_row(const struct model *m, const double *feat, float *x)
{
#if defined(__x86_64__)
    if (m->simd == MODEL_SIMD_AVX512) {
        model_prepare_row_avx512(m, feat, x);
        return;
    }
#endif
    for (uint32_t e = 0; e < FEAT_COUNT; e++)
        x[e] = (float)model_prepare_value(m, e, feat[e]);
    x[MODEL_X_NAN] = NAN;
}

void model_prepare(const struct model *m, const double *x, double *out)
{
    for (uint32_t i = 0; i < m->n_features; i++)
        out[i] = model_prepare_value(m, m->feat_ids[i], x[i]);
}

static void model_stage_eval(const struct model *m, const struct model_stage *st, const float *x,
                             bool nan_aware, double *proba)
{
    model_acc_start(st, proba);
    if (nan_aware)
        model_stage_sum_scalar(st, x, proba, true);
    else if (m->simd != MODEL_SIMD_NONE)
        model_stage_sum_vector(st, m->simd, x, proba);
    else
        model_stage_sum_scalar(st, x, proba, false);
    model_acc_finish(st, proba);
}

int model_predict_proba(const struct model *m, size_t stage, const double *x, double *proba_out)
{
    if (stage >= m->n_stages)
        return -EINVAL;
    float xf[MODEL_X_STRIDE] = {0};
    for (uint32_t i = 0; i < m->n_features; i++)
        xf[m->feat_ids[i]] = (float)model_prepare_value(m, m->feat_ids[i], x[i]);
    xf[MODEL_X_NAN] = NAN;
    model_stage_eval(m, &m->stages[stage], xf, false, proba_out);
    return 0;
}

int model_stage_predict_proba(const struct model *m, size_t stage, const double *x,
                              double *proba_out)
{
    if (stage >= m->n_stages)
        return -EINVAL;
    float xf[MODEL_X_STRIDE] = {0};
    bool any_nan = false;
    for (uint32_t i = 0; i < m->n_features; i++) {
        xf[m->feat_ids[i]] = (float)x[i];
        any_nan |= isnan(x[i]);
    }
    xf[MODEL_X_NAN] = NAN;
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
    float x[MODEL_X_STRIDE];
    double p[MODEL_MAX_CLASSES];
    model_prepare_row(m, feat, x);
    model_stage_eval(m, &m->stages[0], x, false, p);
    if (model_verdict_attack(m, p, out)) {
        model_stage_eval(m, &m->stages[1], x, false, p);
        model_verdict_family(m, p, out);
    }
}

/* model_leaf_add for the nr rows of a block (row r's leaf is pool index leaf[r], its sums are at
 * acc + r * width), with the stage's shape hoisted out of the loop: a binary forest (two
 * outputs, the attack stage of every two-stage model) gets its own loop. */
static inline void model_leaves_add(const struct model_stage *st, const uint32_t *leaf, uint32_t nr,
                                    uint32_t k, uint32_t width, double *acc)
{
    const struct model_node *pool = st->node_pool;
    const double *values = st->value_pool;
    const uint32_t stride = st->value_stride;
    if (st->kind == MODEL_STAGE_BOOSTING) {
        for (uint32_t r = 0; r < nr; r++) {
            uint32_t vec;
            memcpy(&vec, &pool[leaf[r]].threshold, sizeof(vec));
            acc[(size_t)r * width + k] += values[vec];
        }
    } else if (stride == 2) {
        for (uint32_t r = 0; r < nr; r++) {
            uint32_t vec;
            memcpy(&vec, &pool[leaf[r]].threshold, sizeof(vec));
            double *a = acc + (size_t)r * width;
            a[0] += values[2 * (size_t)vec];
            a[1] += values[2 * (size_t)vec + 1];
        }
    } else {
        for (uint32_t r = 0; r < nr; r++)
            model_leaf_add(st, leaf[r], k, acc + (size_t)r * width);
    }
}

/* Evaluates one stage for nr rows of a block into acc (nr x width, width >= n_outputs): tree by
 * tree, every row of the block through the same tree. Row r's inputs are at x + xoff[r]
 * (xoff has room for the vector walk's padding). */
static void model_stage_block(const struct model_stage *st, enum model_simd simd, const float *x,
                              uint32_t *xoff, uint32_t nr, uint32_t width, double *acc)
{
    for (uint32_t r = 0; r < nr; r++)
        model_acc_start(st, acc + (size_t)r * width);
    const uint32_t lanes = model_walk_width(simd, nr);
    for (uint32_t r = nr; r < lanes; r++) /* padding walks repeat the last row */
        xoff[r] = xoff[nr - 1];
    uint32_t base[MODEL_BLOCK_ROWS + 16], leaf[4 * MODEL_LEAF_STRIDE];
    uint32_t k = 0;
#if defined(__x86_64__)
    if (simd == MODEL_SIMD_AVX512) {
        /* Eight to twelve chains of gathers per walk where the rows allow: 3 trees x 3-4
         * vectors of rows, 4 trees x 1-2 (e.g. the family stage's few attack rows). Measured
         * on the committed model: 1 x 4 -> 2 x 4 -> 3 x 4 chains scored a block in 1, 0.8 and
         * 0.65 of the time (4 x 4 spills registers and is slower again). Leaves are added in
         * tree order. */
        const uint32_t group = lanes <= 32 ? 4 : 3;
        for (uint32_t t = 0; t < st->n_trees; t += group) {
            const int ng = (int)(st->n_trees - t < group ? st->n_trees - t : group);
            model_walk_rows_avx512(&st->trees[t], ng, xoff, x, lanes, leaf);
            for (int g = 0; g < ng; g++) {
                uint32_t *lg = leaf + g * MODEL_LEAF_STRIDE;
                for (uint32_t r = 0; r < nr; r++)
                    lg[r] += st->trees[t + g].base;
                model_leaves_add(st, lg, nr, k, width, acc);
                k = k + 1 == st->n_raw ? 0 : k + 1;
            }
        }
        goto finish;
    }
#endif
    for (uint32_t t = 0; t < st->n_trees; t++) {
        const struct model_tree *tr = &st->trees[t];
        if (lanes) {
            for (uint32_t r = 0; r < lanes; r++)
                base[r] = tr->base;
            model_walk_vector(simd, st->node_pool, base, xoff, x, tr->depth, lanes, leaf);
        } else {
            const struct model_node *nodes = tr->nodes;
            uint32_t r = 0;
            for (; r + MODEL_ROW_LANES <= nr; r += MODEL_ROW_LANES) {
                uint32_t i[MODEL_ROW_LANES] = {0};
                for (uint32_t s = 0; s < tr->depth; s++)
                    for (int j = 0; j < MODEL_ROW_LANES; j++)
                        i[j] = model_step(nodes, i[j], x + xoff[r + j], false);
                for (int j = 0; j < MODEL_ROW_LANES; j++)
                    leaf[r + j] = tr->base + i[j];
            }
            for (; r < nr; r++) {
                uint32_t i = 0;
                for (uint32_t s = 0; s < tr->depth; s++)
                    i = model_step(nodes, i, x + xoff[r], false);
                leaf[r] = tr->base + i;
            }
        }
        model_leaves_add(st, leaf, nr, k, width, acc);
        k = k + 1 == st->n_raw ? 0 : k + 1;
    }
#if defined(__x86_64__)
finish:
#endif
    for (uint32_t r = 0; r < nr; r++)
        model_acc_finish(st, acc + (size_t)r * width);
}

void model_score_batch(const struct model *m, const double *feats, size_t n,
                       struct model_score *out)
{
    float x[MODEL_BLOCK_ROWS * MODEL_X_STRIDE];
    double acc[MODEL_BLOCK_ACC];
    uint32_t xoff[MODEL_BLOCK_ROWS + 16];
    uint8_t attack[MODEL_BLOCK_ROWS];

    const uint32_t stride = MODEL_X_STRIDE;
    uint32_t width = m->stages[0].n_outputs;
    if (m->n_stages == 2 && m->stages[1].n_outputs > width)
        width = m->stages[1].n_outputs;
    uint32_t block = MODEL_BLOCK_ACC / width; /* >= 16: width <= MODEL_MAX_CLASSES */
    block = block > MODEL_BLOCK_ROWS ? MODEL_BLOCK_ROWS : block;

    for (size_t first = 0; first < n; first += block) {
        const uint32_t nb = n - first < block ? (uint32_t)(n - first) : block;
        for (uint32_t r = 0; r < nb; r++) {
            if (first + r + 4 < n) {
                const char *ahead = (const char *)(feats + (first + r + 4) * FEAT_COUNT);
                for (size_t b = 0; b < FEAT_COUNT * sizeof(double); b += 64)
                    __builtin_prefetch(ahead + b);
            }
            model_prepare_row(m, feats + (first + r) * FEAT_COUNT, x + (size_t)r * stride);
            xoff[r] = r * stride;
        }
        model_stage_block(&m->stages[0], m->simd, x, xoff, nb, width, acc);
        uint32_t na = 0;
        for (uint32_t r = 0; r < nb; r++)
            if (model_verdict_attack(m, acc + (size_t)r * width, &out[first + r]))
                attack[na++] = (uint8_t)r;
        if (na == 0)
            continue;
        for (uint32_t a = 0; a < na; a++)
            xoff[a] = attack[a] * stride;
        model_stage_block(&m->stages[1], m->simd, x, xoff, na, width, acc);
        for (uint32_t a = 0; a < na; a++)
            model_verdict_family(m, acc + (size_t)a * width, &out[first + attack[a]]);
    }
}
