/* infer_bench.c - `ddos-bench-infer`, the C side of bench/bench_inference.sh.
 *
 * Loads a model file and a CSV of rows (numbers in the model's feature order, as
 * `ddos-model predict` reads them), maps each row into an extractor vector, then times
 * model_score one flow at a time and model_score_batch over all rows, best of --repeat runs
 * (the minimum is the figure least disturbed by the rest of the machine). With --expect F (one
 * p_attack per line, e.g. from scikit-learn) it also reports the largest difference, so the
 * figures are known to come from correct scores. Prints "key value" lines for the script.
 * Single-threaded; everything is read and allocated before the clock starts. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inference/model.h"

/* The thread's CPU time: on a shared machine the wall clock also counts the time other
 * processes held the core, which is noise to a ratio; bench_inference.py times scikit-learn
 * with the same clock (time.thread_time). */
static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads rows of nf comma-separated numbers into a malloc'd n x FEAT_COUNT array. */
static double *bench_read_rows(const char *path, const struct model *m, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ddos-bench-infer: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1024, n = 0, nf = model_n_features(m);
    double *rows = malloc(cap * FEAT_COUNT * sizeof(double));
    char *line = NULL;
    size_t line_cap = 0;
    while (rows && getline(&line, &line_cap, f) > 0) {
        if (line[0] == '\n' || line[0] == '#')
            continue;
        if (n == cap) {
            cap *= 2;
            double *grown = realloc(rows, cap * FEAT_COUNT * sizeof(double));
            if (!grown) {
                free(rows);
                rows = NULL;
                break;
            }
            rows = grown;
        }
        double *r = rows + n * FEAT_COUNT;
        for (int i = 0; i < FEAT_COUNT; i++)
            r[i] = NAN;
        char *p = line;
        for (size_t i = 0; i < nf; i++) {
            char *end;
            r[model_feature_id(m, i)] = strtod(p, &end);
            if (end == p || (i + 1 < nf && *end != ',')) {
                fprintf(stderr, "ddos-bench-infer: %s: row %zu: expected %zu numbers\n", path,
                        n + 1, nf);
                free(rows);
                rows = NULL;
                break;
            }
            p = end + 1;
        }
        n++;
    }
    free(line);
    fclose(f);
    *n_out = n;
    return rows;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *rows_path = NULL, *expect_path = NULL;
    int repeat = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc)
            expect_path = argv[++i];
        else if (!model_path)
            model_path = argv[i];
        else if (!rows_path)
            rows_path = argv[i];
        else
            rows_path = NULL, model_path = NULL, i = argc;
    }
    if (!model_path || !rows_path || repeat < 1) {
        fprintf(stderr, "usage: ddos-bench-infer MODEL ROWS.csv [--repeat N] [--expect P.txt]\n"
                        "  times model_score (one flow at a time) and model_score_batch over\n"
                        "  the rows (model feature order, comma-separated); prints key value\n");
        return 1;
    }
    char err[MODEL_ERR_LEN + 512];
    struct model *m = model_load_file(model_path, err, sizeof(err));
    if (!m) {
        fprintf(stderr, "ddos-bench-infer: %s\n", err);
        return 1;
    }
    size_t n = 0;
    double *rows = bench_read_rows(rows_path, m, &n);
    struct model_score *out = calloc(n ? n : 1, sizeof(*out));
    if (!rows || !out || n == 0) {
        fprintf(stderr, "ddos-bench-infer: no rows\n");
        return 1;
    }

    double best_single = INFINITY, best_batch = INFINITY, sink = 0;
    for (int r = 0; r < repeat; r++) {
        double t0 = bench_now();
        for (size_t i = 0; i < n; i++)
            model_score(m, rows + i * FEAT_COUNT, &out[i]);
        double t1 = bench_now();
        for (size_t i = 0; i < n; i++)
            sink += out[i].p_attack;
        model_score_batch(m, rows, n, out);
        double t2 = bench_now();
        for (size_t i = 0; i < n; i++)
            sink += out[i].p_attack;
        best_single = fmin(best_single, t1 - t0);
        best_batch = fmin(best_batch, t2 - t1);
    }
    printf("rows %zu\n", n);
    printf("nodes %zu\n", model_n_nodes(m));
    printf("trees %zu\n", model_stage_n_trees(m, 0));
    printf("c_single_us_per_row %.4f\n", best_single / (double)n * 1e6);
    printf("c_batch_us_per_row %.4f\n", best_batch / (double)n * 1e6);
    printf("checksum %.6f\n", sink);

    if (expect_path) {
        FILE *f = fopen(expect_path, "r");
        double worst = 0, v;
        size_t i = 0;
        while (f && i < n && fscanf(f, "%lf", &v) == 1) {
            worst = fmax(worst, fabs(v - out[i].p_attack));
            i++;
        }
        if (f)
            fclose(f);
        printf("max_abs_diff %.3e over %zu rows\n", i == n ? worst : INFINITY, i);
    }
    free(rows);
    free(out);
    model_unref(m);
    return 0;
}
