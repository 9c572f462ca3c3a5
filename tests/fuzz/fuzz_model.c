/* fuzz_model.c - libFuzzer harness for inference/: model_load_buffer and, when a file loads,
 * the scorer.
 *
 * Input: the bytes of a model file (seed corpus: tests/fuzz/corpus/model, written by
 * make_model_corpus.py). A rejected file must come with a non-empty one-line message. A file
 * that loads must satisfy the invariants the daemon relies on (features map to extractor ids,
 * class indices in range), and is then scored with a few vectors (zeros, ordinary values, NaN
 * and infinities, huge values, and values taken from the input itself) through every entry
 * point: model_score must equal model_score_batch bit for bit, and every stage's
 * predict_proba must run. A violated invariant traps, which libFuzzer reports as a crash. ASan
 * catches any read outside the input, which libFuzzer hands over in a buffer of exactly its
 * size; the loader's size checks keep allocations bounded (libFuzzer's -rss_limit_mb and
 * -malloc_limit_mb report any that is not). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "features/feature_set.h"
#include "inference/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

enum { FUZZ_ROWS = 6 };

static void fuzz_model_check_score(const struct model *m, const struct model_score *s)
{
    FUZZ_CHECK(s->label != NULL);
    FUZZ_CHECK(s->family >= -1 && s->family < (int)model_n_classes(m));
    if (s->family >= 0)
        FUZZ_CHECK(s->is_attack && strcmp(s->label, model_class_name(m, (size_t)s->family)) == 0);
}

static void fuzz_model_score_all(const struct model *m, const uint8_t *data, size_t size)
{
    static double feats[FUZZ_ROWS][FEAT_COUNT];
    for (int i = 0; i < FEAT_COUNT; i++) {
        feats[0][i] = 0;
        feats[1][i] = i * 10.5 - 100;
        feats[2][i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
        feats[3][i] = i % 2 ? 1e300 : -3.5e38;
        double v = 0;
        if (size >= 8) {
            size_t off = (size_t)i * 8 % (size - 7);
            memcpy(&v, data + off, sizeof(v)); /* any bit pattern, NaN payloads included */
        }
        feats[4][i] = v;
        feats[5][i] = (float)i / 7.0f;
    }
    struct model_score single[FUZZ_ROWS], batch[FUZZ_ROWS];
    for (int r = 0; r < FUZZ_ROWS; r++) {
        model_score(m, feats[r], &single[r]);
        fuzz_model_check_score(m, &single[r]);
    }
    model_score_batch(m, &feats[0][0], FUZZ_ROWS, batch);
    for (int r = 0; r < FUZZ_ROWS; r++) {
        FUZZ_CHECK(memcmp(&batch[r].p_attack, &single[r].p_attack, sizeof(double)) == 0);
        FUZZ_CHECK(memcmp(&batch[r].p_family, &single[r].p_family, sizeof(double)) == 0);
        FUZZ_CHECK(batch[r].family == single[r].family);
        FUZZ_CHECK(batch[r].is_attack == single[r].is_attack);
        FUZZ_CHECK(batch[r].label == single[r].label);
    }
    double x[FEAT_COUNT], proba[MODEL_MAX_CLASSES];
    for (size_t s = 0; s < model_n_stages(m); s++) {
        for (int r = 0; r < FUZZ_ROWS; r++) {
            for (size_t i = 0; i < model_n_features(m); i++)
                x[i] = feats[r][model_feature_id(m, i)];
            FUZZ_CHECK(model_predict_proba(m, s, x, proba) == 0);
            FUZZ_CHECK(model_stage_predict_proba(m, s, x, proba) == 0);
        }
    }
    FUZZ_CHECK(model_predict_proba(m, model_n_stages(m), x, proba) < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    char err[MODEL_ERR_LEN];
    struct model *m = model_load_buffer(data, size, err, sizeof(err));
    if (!m) {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(strchr(err, '\n') == NULL);
        return 0;
    }
    const size_t nf = model_n_features(m), nc = model_n_classes(m), ns = model_n_stages(m);
    FUZZ_CHECK(nf >= 1 && nf <= FEAT_COUNT);
    for (size_t i = 0; i < nf; i++)
        FUZZ_CHECK((unsigned)model_feature_id(m, i) < FEAT_COUNT);
    FUZZ_CHECK(nc >= 1 && nc <= MODEL_MAX_CLASSES);
    FUZZ_CHECK(ns >= 1 && ns <= MODEL_MAX_STAGES);
    for (size_t s = 0; s < ns; s++) {
        const size_t no = model_stage_n_outputs(m, s);
        FUZZ_CHECK(no >= 1 && no <= MODEL_MAX_CLASSES);
        for (size_t j = 0; j < no; j++)
            FUZZ_CHECK(model_stage_class(m, s, j) < nc);
        FUZZ_CHECK(model_stage_n_trees(m, s) >= 1);
        const double t = model_stage_threshold(m, s);
        FUZZ_CHECK(t >= 0 && t <= 1);
    }
    FUZZ_CHECK(strlen(model_sha256(m)) == 64);
    FUZZ_CHECK(strchr(model_provenance(m), '\n') == NULL);
    if (devnull)
        model_describe(m, devnull);
    fuzz_model_score_all(m, data, size);
    struct model *again = model_ref(m);
    model_unref(m);
    model_unref(again);
    return 0;
}
