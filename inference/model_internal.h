/* model_internal.h - the in-memory layout of a loaded model, shared by model_load.c (which builds
 * it) and model_score.c (which walks it). Not part of the public API.
 *
 * DESIGN: a node is 8 bytes, so a 64-byte cache line holds 8 of them. Trees are re-laid out
 * breadth first at load, so the two children of a node are always neighbours: one 32-bit word
 * holds the left child's index, the feature and the NaN direction, and a walk step is
 *
 *     i = left(i) + (x[feature(i)] > threshold(i))
 *
 * a load, a compare and an add, with no select to compute (and the same two instructions in a
 * vector of gathers). Breadth first also packs a tree's top levels, which every walk visits,
 * into its first cache lines. The threshold is stored as a float: the input is rounded to
 * float32 before the comparison (as scikit-learn does), and for a float32 x, `x <= t` holds
 * exactly when `x <= t32` where t32 is the largest float32 not above the float64 threshold t,
 * so nothing is lost whether or not t round-trips through float32 (no float64 fallback is needed:
 * test_model's random trees use thresholds that do not round-trip, and model_parity.py puts rows on
 * and one float32 step around every threshold). Leaf values live in a separate per-stage table in
 * which each distinct vector is stored once (a production forest's leaves share a few thousand
 * vectors), so the nodes walked per tree stay dense and the table stays in cache.
 *
 * The rows the walks read are in the extractor's order (enum feat_id), not the file's: a node
 * names the extractor feature its input is, so preparing a row is a contiguous pass over the
 * extractor vector (vectorised, no per-input index lookup), and the scaler's arrays are kept in
 * the same order. A leaf is a self-loop: its feature field names slot MODEL_X_NAN, just past
 * the features, which always holds NaN, and its child field is its own index, so `NaN > threshold`
 * is false and the walk stays on the leaf; the index of its value vector is kept in the threshold
 * field's bits. A walk can therefore run a tree's full depth without testing for leaves: the
 * loop has no data-dependent branch, and several walks advance in lock step so their cache
 * misses and gather latencies overlap. Mispredicted branches, not arithmetic, dominate naive
 * tree walks. Inputs other than the leaf slot hold no NaN on the fast paths (preprocessing
 * replaces non-finite values); model_stage_predict_proba, whose input may hold NaN, walks with
 * the NaN-left flag (set on leaves too, so they still loop). */
#ifndef DD_INFERENCE_MODEL_INTERNAL_H
#define DD_INFERENCE_MODEL_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "inference/model.h"

#define MODEL_NODE_INDEX_MASK 0x00ffffffu /* left child (right = left + 1); a leaf: itself */
#define MODEL_NODE_FEAT_SHIFT 24
#define MODEL_NODE_FEAT_MASK  0x7fu       /* enum feat_id; a leaf's is MODEL_X_NAN */
#define MODEL_NODE_NAN_LEFT   0x80000000u /* a NaN input goes left (always set on a leaf) */

/* A row handed to a tree walk: FEAT_COUNT floats in extractor order (those the model does not
 * use are never read), then NaN at MODEL_X_NAN; MODEL_X_STRIDE floats in all. */
enum { MODEL_X_NAN = FEAT_COUNT, MODEL_X_STRIDE = FEAT_COUNT + 1 };

_Static_assert(FEAT_COUNT < MODEL_NODE_FEAT_MASK, "input slots must fit the node's 7-bit field");
_Static_assert(MODEL_MAX_TREE_NODES - 1 <= MODEL_NODE_INDEX_MASK, "node index must fit 24 bits");

struct model_node {
    float threshold; /* go right when (float)x > threshold; a leaf: its value index's bits */
    uint32_t word;   /* left child | feature << 24 | NaN-left flag */
};
_Static_assert(sizeof(struct model_node) == 8, "nodes are packed 8 to a cache line");

struct model_tree {
    const struct model_node *nodes; /* into model_stage.node_pool, root first, breadth first */
    uint32_t base;                  /* nodes - node_pool, for the vector walks' gathers */
    uint32_t n_nodes;
    uint32_t depth; /* deepest leaf (root = 0): steps a full walk takes */
};

struct model_stage {
    enum model_stage_kind kind;
    uint32_t n_outputs;    /* predict_proba columns */
    uint32_t n_raw;        /* boosting: raw scores, trees per round (1 if binary); forest: 1 */
    uint32_t value_stride; /* doubles per leaf: forest n_outputs, boosting 1 */
    uint32_t n_trees;
    uint32_t n_nodes;   /* all trees */
    uint32_t n_leaves;  /* all trees */
    uint32_t n_values;  /* distinct leaf vectors in value_pool */
    uint32_t max_depth; /* deepest leaf, root = depth 0 */
    int positive;       /* attack column, or -1 */
    double threshold;
    uint32_t classes[MODEL_MAX_CLASSES]; /* output column -> model class */
    double init[MODEL_MAX_CLASSES];      /* boosting: raw score before any tree */
    char name[16];
    struct model_tree *trees;
    struct model_node *node_pool;
    double *value_pool; /* n_values x value_stride doubles; a leaf names its vector */
};

enum model_simd { MODEL_SIMD_NONE = 0, MODEL_SIMD_AVX2, MODEL_SIMD_AVX512 };

enum model_scaler_kind { MODEL_SCALER_NONE = 0, MODEL_SCALER_STANDARD, MODEL_SCALER_MINMAX };

struct model {
    atomic_uint refs; /* model_ref / model_unref, any thread; see model_unref for ordering */
    uint32_t n_features;
    uint32_t n_classes;
    uint32_t n_stages;
    enum feat_mode mode;
    enum model_scaler_kind scaler;
    uint8_t feat_ids[FEAT_COUNT]; /* model input -> enum feat_id */
    double nan_value, posinf_value, neginf_value;
    /* Indexed by enum feat_id (extractor order), like the walks' rows; identity (0, 1) for
     * features the model does not use. */
    double scaler_offset[FEAT_COUNT]; /* standard: mean; minmax: min */
    double scaler_scale[FEAT_COUNT];
    /* Single-stage model without `positive`: the benign column (p_attack = 1 - p[benign]). */
    int benign_col;
    /* The widest vector walk model_score.c may use on this CPU, decided at load (model_load.c;
     * DDOSD_SIMD=none|avx2|avx512 lowers it, for tests and comparisons). */
    enum model_simd simd;
    struct model_stage stages[MODEL_MAX_STAGES];
    char **class_names; /* n_classes NUL-terminated strings */
    size_t bytes;       /* heap used, for describe */
    char provenance[MODEL_PROVENANCE_LEN];
    char sha256[65];
};

#endif
