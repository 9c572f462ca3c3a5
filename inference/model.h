/* model.h - tree-ensemble models: load and validate a ddosd model file, score feature vectors.
 *
 * A model file (docs/model-format.md) holds one or two stages of decision trees (random forest,
 * extra trees, a single tree, or gradient boosting), the input feature names, the preprocessing
 * (non-finite replacement, an optional scaler) and the class names. model_load_*() validates all
 * of it and lays every tree out in a compact array; after that the model is immutable, so any
 * number of threads may score with it at once without locks.
 *
 * Ownership and lifetime: a loaded model starts with one reference, owned by the caller. Hot swap
 * works by reference counting: the daemon publishes the current model through an atomic pointer,
 * a worker takes model_ref() before scoring a burst and model_unref() after, and the thread that
 * swaps in a new model drops the old pointer's reference; the last unref frees it. Loading the
 * shared pointer and taking the reference must be one step with respect to the swap (e.g. both
 * under the swapper's short lock, once per burst), or the swapper could free the model in
 * between. Every pointer
 * a model hands out (class names, labels in struct model_score, the provenance string) stays valid
 * while the caller holds a reference.
 *
 * Scoring allocates nothing and takes no lock; it uses a few KB of stack (model_score_batch about
 * 56 KB). Results equal scikit-learn's predict_proba to within 1e-9 (tests/integration/
 * model_parity.py): inputs are rounded to float32 before every threshold comparison, as
 * scikit-learn's trees do. */
#ifndef DD_INFERENCE_MODEL_H
#define DD_INFERENCE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/compiler.h"
#include "features/feature_set.h"

/* Limits the loader enforces, so that a hostile file cannot make it allocate without bound. */
enum {
    MODEL_FORMAT_VERSION = 1,
    MODEL_MAX_STAGES = 2,
    MODEL_MAX_CLASSES = 256,         /* top-level classes, and outputs of one stage */
    MODEL_MAX_TREES = 100000,        /* per stage */
    MODEL_MAX_TREE_NODES = 1 << 24,  /* per tree */
    MODEL_MAX_TOTAL_NODES = 1 << 26, /* all trees of all stages */
    MODEL_MAX_NAME_LEN = 255,        /* a feature or class name, in bytes */
    MODEL_MAX_FILE_BYTES = 1 << 30,  /* model_load_file() */
    MODEL_ERR_LEN = 256,             /* a comfortable size for the err buffers below */
    MODEL_PROVENANCE_LEN = 256,
};

enum model_stage_kind { MODEL_STAGE_FOREST = 0, MODEL_STAGE_BOOSTING = 1 };

/* Opaque and immutable after load; shared between threads by reference count. */
struct model;

/* The verdict for one flow (model_score). */
struct model_score {
    double p_attack; /* probability that the flow is an attack */
    double p_family; /* probability of the argmax family (0 when no family applies) */
    /* Index into the model's classes of the family; -1 when the flow is benign, when the
     * family's probability is under the family stage's threshold ("unknown"), or when the
     * model has no family information (a binary single-stage model). */
    int family;
    bool is_attack; /* p_attack >= the attack stage's threshold */
    /* Name to report: the benign class, the family, the attack class of a binary model, or
     * "unknown". Borrowed from the model (valid while a reference is held). */
    const char *label;
};

/* Loads and validates a model file. Returns a model holding one reference, or NULL after
 * writing a one-line reason naming the offending field into err (when err_len > 0), e.g.
 * "stage 0 tree 12 node 7: right child 7 points to itself". path must name a regular file: a
 * FIFO, device, socket or directory is refused without blocking ("not a regular file (a FIFO)");
 * the file is opened non-blocking and checked with fstat before anything is read. */
DD_NODISCARD struct model *model_load_file(const char *path, char *err, size_t err_len);

/* Same, from memory. The buffer is only read during the call (the model keeps no pointer into
 * it). Never reads outside [buf, buf + len). */
DD_NODISCARD struct model *model_load_buffer(const uint8_t *buf, size_t len, char *err,
                                             size_t err_len);

/* Takes one more reference (atomic, any thread). Returns m for convenience. */
struct model *model_ref(struct model *m);

/* Drops one reference (atomic, any thread); the last one frees the model. Accepts NULL. */
void model_unref(struct model *m);

/* Inputs, in the order the trees index them. */
size_t model_n_features(const struct model *m);
/* The extractor feature that input i (< model_n_features) is. */
enum feat_id model_feature_id(const struct model *m, size_t i);
/* The extractor mode the model was trained on; the daemon refuses a mismatch. */
enum feat_mode model_feature_mode(const struct model *m);

size_t model_n_classes(const struct model *m);
/* Name of class i (< model_n_classes). */
const char *model_class_name(const struct model *m, size_t i);

/* 1 or 2. Stage 0 decides attack or not; stage 1, when present, names the family. */
size_t model_n_stages(const struct model *m);
enum model_stage_kind model_stage_kind(const struct model *m, size_t stage);
/* Columns of the stage's predict_proba output (<= MODEL_MAX_CLASSES). */
size_t model_stage_n_outputs(const struct model *m, size_t stage);
/* Class index (into model_class_name) of output column j. */
size_t model_stage_class(const struct model *m, size_t stage, size_t j);
double model_stage_threshold(const struct model *m, size_t stage);
size_t model_stage_n_trees(const struct model *m, size_t stage);
/* Nodes of all trees of all stages. */
size_t model_n_nodes(const struct model *m);

/* One line: "created <date> | sklearn <version> | seed <n> | sha256 <16 hex>". */
const char *model_provenance(const struct model *m);
/* SHA-256 of the file's bytes, 64 lowercase hex digits. */
const char *model_sha256(const struct model *m);

/* Human-readable dump: provenance, features, preprocessing, classes, stages and tree sizes. */
void model_describe(const struct model *m, FILE *out);

/* Applies the model's preprocessing to x (model order, model_n_features values): non-finite
 * values replaced as the file says, then the scaler. x and out may be the same array. */
void model_prepare(const struct model *m, const double *x, double *out);

/* predict_proba of one stage, for a row in model order before preprocessing (model_prepare is
 * applied first). Writes model_stage_n_outputs values. Returns 0, or -EINVAL for a stage that
 * does not exist. This is the raw API the parity test checks against scikit-learn. */
DD_NODISCARD int model_predict_proba(const struct model *m, size_t stage, const double *x,
                                     double *proba_out);

/* The same without preprocessing: x is fed to the trees as is. A NaN follows each node's
 * missing_left direction (right when the file has none), as scikit-learn >= 1.3 does. */
DD_NODISCARD int model_stage_predict_proba(const struct model *m, size_t stage, const double *x,
                                           double *proba_out);

/* Scores one extractor vector: maps it to model order, preprocesses, runs stage 0 and, for an
 * attack, stage 1. Never allocates. */
void model_score(const struct model *m, const double feat[FEAT_COUNT], struct model_score *out);

/* Scores n vectors (feats is n x FEAT_COUNT, row-major). Results are bit-identical to n calls of
 * model_score; rows are evaluated a block at a time, tree by tree, so each tree's nodes stay in
 * cache for the whole block. */
void model_score_batch(const struct model *m, const double *feats, size_t n,
                       struct model_score *out);

#endif
