/* model_internal.h - the in-memory layout of a loaded model, shared by model_load.c (which builds
 * it) and model_score.c (which walks it). Not part of the public API.
 *
 * DESIGN: a node is 8 bytes, so a 64-byte cache line holds 8 of them. Trees are re-laid out in
 * pre-order at load: the left child of node i is always node i + 1 and only the right child's
 * index is stored, next to the feature and the NaN direction in one 32-bit word. The threshold is
 * stored as a float: the input is rounded to float32 before the comparison (as scikit-learn
 * does), and for a float32 x, `x <= t` holds exactly when `x <= t32` where t32 is the largest
 * float32 not above the float64 threshold t, so nothing is lost. Leaf values live in a separate
 * per-stage table in which each distinct vector is stored once (a production forest's leaves
 * share a few thousand vectors), so the nodes walked per tree stay dense and the table stays in
 * cache.
 *
 * A leaf is a self-loop: its feature field names slot MODEL_X_NAN_SLOT of the input buffer,
 * which always holds NaN, so `x <= threshold` is false and the walk "goes right" to the leaf's
 * own index; the index of its value vector is kept in the threshold field's bits. A walk can
 * therefore run a tree's full depth without testing for leaves: the loop has no data-dependent
 * branch (the compiler emits a conditional move), and several walks advance in lock step so their
 * cache misses overlap. Mispredicted branches, not arithmetic, dominate naive tree walks. */
#ifndef DD_INFERENCE_MODEL_INTERNAL_H
#define DD_INFERENCE_MODEL_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "inference/model.h"

#define MODEL_NODE_INDEX_MASK 0x00ffffffu /* right child (internal) or own index (leaf) */
#define MODEL_NODE_FEAT_SHIFT 24
#define MODEL_NODE_FEAT_MASK  0x7fu
#define MODEL_NODE_LEAF       0x7fu       /* feature field of a leaf */
#define MODEL_NODE_NAN_LEFT   0x80000000u /* a NaN input goes left */

/* Input buffers handed to the tree walks have MODEL_X_SLOTS floats; the last is NaN. */
enum { MODEL_X_SLOTS = 128, MODEL_X_NAN_SLOT = MODEL_NODE_LEAF };

_Static_assert(FEAT_COUNT < MODEL_NODE_LEAF, "feature ids must fit the node's 7-bit field");
_Static_assert(MODEL_X_NAN_SLOT < MODEL_X_SLOTS, "the leaf slot is inside the input buffer");
_Static_assert(MODEL_MAX_TREE_NODES - 1 <= MODEL_NODE_INDEX_MASK, "node index must fit 24 bits");

struct model_node {
    float threshold; /* go left when (float)x <= threshold; a leaf: its value index's bits */
    uint32_t word;   /* index | feature << 24 | NaN-left flag */
};
_Static_assert(sizeof(struct model_node) == 8, "nodes are packed 8 to a cache line");

struct model_tree {
    const struct model_node *nodes; /* into model_stage.node_pool, root first */
    uint32_t depth;                 /* deepest leaf (root = 0): steps a full walk takes */
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
    double scaler_offset[FEAT_COUNT]; /* standard: mean; minmax: min */
    double scaler_scale[FEAT_COUNT];
    /* Single-stage model without `positive`: the benign column (p_attack = 1 - p[benign]). */
    int benign_col;
    bool simd; /* the CPU has AVX2: model_score walks 16 trees per row at once (model_score.c) */
    struct model_stage stages[MODEL_MAX_STAGES];
    char **class_names; /* n_classes NUL-terminated strings */
    size_t bytes;       /* heap used, for describe */
    char provenance[MODEL_PROVENANCE_LEN];
    char sha256[65];
};

#endif
