/* ddos_model.c - `ddos-model`, the command-line face of the inference engine.
 *
 * info and check load a model file and describe it or report the first problem; predict scores
 * rows from standard input (numbers in the model's feature order) or a ddos-flows CSV (columns
 * found by name), printing exact (%.17g) probabilities, so scripts can compare the engine with
 * scikit-learn (tests/integration/model_parity.py does). Single-threaded, reads everything as
 * text line by line; this is a tool, not the daemon's hot path.
 *
 * Exit status: 0 success; 1 usage error, a model that does not load, or malformed input (one
 * line on stderr naming the line and column). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "features/feature_set.h"
#include "inference/model.h"

enum { MAX_COLUMNS = 1024 };

static void usage(FILE *to)
{
    fprintf(to,
            "usage: ddos-model info FILE\n"
            "       ddos-model check FILE\n"
            "       ddos-model predict FILE [--stage N | --verdict] [--no-preprocess] [--header]"
            " < rows.csv\n"
            "       ddos-model predict FILE --features-csv flows.csv\n"
            "\n"
            "Inspects, validates and runs a ddosd model file (docs/model-format.md), as written\n"
            "by scripts/export_sklearn.py.\n"
            "\n"
            "commands:\n"
            "  info FILE        describe the model: provenance, features, scaler, classes,\n"
            "                   stages and tree sizes\n"
            "  check FILE       validate every field; prints 'ok' and a summary, or the first\n"
            "                   problem (e.g. 'stage 0 tree 12 node 7: right child 7 points to\n"
            "                   itself') and exits 1\n"
            "  predict FILE     score rows. Without --features-csv, each line of standard input\n"
            "                   is one row: comma-separated numbers in the model's feature order\n"
            "                   (see info; 'nan', 'inf', '-inf' allowed; blank lines and lines\n"
            "                   starting with '#' skipped). Each row prints one line.\n"
            "\n"
            "predict options:\n"
            "  --stage N        print stage N's predict_proba, one %%.17g value per output\n"
            "                   column, comma-separated (default: stage 0). Inputs go through\n"
            "                   the model's non-finite replacement and scaler first.\n"
            "  --verdict        print the daemon's verdict instead: label,p_attack,p_family\n"
            "  --no-preprocess  feed the numbers to the trees as they are (no replacement, no\n"
            "                   scaler); a NaN then follows each node's missing_left direction\n"
            "  --header         print a header line first (class names, or the verdict fields)\n"
            "  --features-csv F read a ddos-flows CSV with a header instead: columns are matched\n"
            "                   to the model's features by name (any spelling feat_lookup knows,\n"
            "                   extra columns ignored); prints label,p_attack per flow, plus the\n"
            "                   file's Label column as 'truth' when it has one\n"
            "\n"
            "examples:\n"
            "  ddos-model check models/ddosd.msgpack\n"
            "  ddos-flows -r capture.pcap -o flows.csv && \\\n"
            "    ddos-model predict models/ddosd.msgpack --features-csv flows.csv\n"
            "  printf '0,1,2\\n' | ddos-model predict m.msgpack --stage 1\n");
}

static struct model *load_or_die(const char *path)
{
    char err[MODEL_ERR_LEN + 512];
    struct model *m = model_load_file(path, err, sizeof(err));
    if (!m)
        fprintf(stderr, "ddos-model: %s\n", err);
    return m;
}

/* Splits line in place at commas into at most max fields; returns the count, or max + 1 when
 * there are more. Strips the line's trailing newline. */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = strcspn(line, "\r\n");
    line[n] = '\0';
    size_t count = 0;
    char *p = line;
    for (;;) {
        if (count == max)
            return max + 1;
        fields[count++] = p;
        char *c = strchr(p, ',');
        if (!c)
            return count;
        *c = '\0';
        p = c + 1;
    }
}

/* Parses a field as a double; an empty field is NaN. Returns 0 or -1. */
static int parse_number(const char *s, double *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0') {
        *out = NAN;
        return 0;
    }
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    return end == s || *end != '\0' ? -1 : 0;
}

static int cmd_check(const char *path)
{
    struct model *m = load_or_die(path);
    if (!m)
        return 1;
    printf("ok: %zu features (%s), %zu classes, %zu stage(s), %zu nodes; %s\n", model_n_features(m),
           feat_mode_name(model_feature_mode(m)), model_n_classes(m), model_n_stages(m),
           model_n_nodes(m), model_provenance(m));
    model_unref(m);
    return 0;
}

static int cmd_info(const char *path)
{
    struct model *m = load_or_die(path);
    if (!m)
        return 1;
    model_describe(m, stdout);
    model_unref(m);
    return 0;
}

struct predict_opts {
    size_t stage;
    bool verdict;
    bool raw;
    bool header;
    const char *features_csv;
};

static void print_verdict(const struct model_score *s)
{
    printf("%s,%.17g,%.17g\n", s->label, s->p_attack, s->p_family);
}

static int predict_rows(const struct model *m, const struct predict_opts *o)
{
    const size_t nf = model_n_features(m);
    const size_t n_out = model_stage_n_outputs(m, o->stage);
    char *line = NULL, *fields[FEAT_COUNT + 1];
    size_t cap = 0;
    unsigned long lineno = 0;
    int rc = 0;
    if (o->header) {
        if (o->verdict) {
            puts("label,p_attack,p_family");
        } else {
            for (size_t j = 0; j < n_out; j++)
                printf("%s%s", j ? "," : "",
                       model_class_name(m, model_stage_class(m, o->stage, j)));
            putchar('\n');
        }
    }
    while (getline(&line, &cap, stdin) >= 0) {
        lineno++;
        const char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
            continue;
        size_t n = split_fields(line, fields, FEAT_COUNT);
        if (n != nf) {
            fprintf(stderr,
                    "ddos-model: line %lu: %s%zu values, expected %zu (the model's "
                    "features, see 'ddos-model info')\n",
                    lineno, n > FEAT_COUNT ? "more than " : "", n > FEAT_COUNT ? FEAT_COUNT : n,
                    nf);
            rc = 1;
            break;
        }
        double x[FEAT_COUNT], proba[MODEL_MAX_CLASSES];
        for (size_t i = 0; i < nf; i++) {
            if (parse_number(fields[i], &x[i]) < 0) {
                fprintf(stderr, "ddos-model: line %lu, column %zu: '%s' is not a number\n", lineno,
                        i + 1, fields[i]);
                rc = 1;
                goto out;
            }
        }
        if (o->verdict) {
            double feat[FEAT_COUNT];
            for (size_t i = 0; i < FEAT_COUNT; i++)
                feat[i] = NAN;
            for (size_t i = 0; i < nf; i++)
                feat[model_feature_id(m, i)] = x[i];
            struct model_score s;
            model_score(m, feat, &s);
            print_verdict(&s);
            continue;
        }
        int prc = o->raw ? model_stage_predict_proba(m, o->stage, x, proba)
                         : model_predict_proba(m, o->stage, x, proba);
        if (prc < 0) {
            rc = 1;
            goto out;
        }
        for (size_t j = 0; j < n_out; j++)
            printf("%s%.17g", j ? "," : "", proba[j]);
        putchar('\n');
    }
out:
    free(line);
    return rc;
}

static int predict_flows_csv(const struct model *m, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ddos-model: %s: %s\n", path, strerror(errno));
        return 1;
    }
    char *line = NULL;
    char **fields = calloc(MAX_COLUMNS + 1, sizeof(char *));
    size_t cap = 0;
    int rc = 1;
    int col_of[FEAT_COUNT];
    int label_col = -1;
    for (int i = 0; i < FEAT_COUNT; i++)
        col_of[i] = -1;
    if (!fields || getline(&line, &cap, f) < 0) {
        fprintf(stderr, "ddos-model: %s: empty file (expected a header line)\n", path);
        goto out;
    }
    size_t ncols = split_fields(line, fields, MAX_COLUMNS);
    if (ncols > MAX_COLUMNS) {
        fprintf(stderr, "ddos-model: %s: more than %d columns\n", path, MAX_COLUMNS);
        goto out;
    }
    for (size_t c = 0; c < ncols; c++) {
        int id = feat_lookup(fields[c]);
        if (id >= 0 && col_of[id] < 0) /* cic's duplicate Fwd Header Length: the first wins */
            col_of[id] = (int)c;
        const char *name = fields[c] + strspn(fields[c], " ");
        if (strcasecmp(name, "Label") == 0)
            label_col = (int)c;
    }
    for (size_t i = 0; i < model_n_features(m); i++) {
        if (col_of[model_feature_id(m, i)] < 0) {
            fprintf(stderr, "ddos-model: %s: no column for the model's feature '%s'\n", path,
                    feat_name(model_feature_id(m, i)));
            goto out;
        }
    }
    printf("label,p_attack%s\n", label_col >= 0 ? ",truth" : "");
    unsigned long lineno = 1;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        size_t n = split_fields(line, fields, MAX_COLUMNS);
        if (n != ncols) {
            fprintf(stderr, "ddos-model: %s: line %lu: %zu columns, the header has %zu\n", path,
                    lineno, n > MAX_COLUMNS ? (size_t)MAX_COLUMNS : n, ncols);
            goto out;
        }
        double feat[FEAT_COUNT];
        for (int i = 0; i < FEAT_COUNT; i++) {
            feat[i] = NAN;
            if (col_of[i] >= 0 && parse_number(fields[col_of[i]], &feat[i]) < 0) {
                fprintf(stderr, "ddos-model: %s: line %lu, column %d: '%s' is not a number\n", path,
                        lineno, col_of[i] + 1, fields[col_of[i]]);
                goto out;
            }
        }
        struct model_score s;
        model_score(m, feat, &s);
        if (label_col >= 0)
            printf("%s,%.17g,%s\n", s.label, s.p_attack, fields[label_col]);
        else
            printf("%s,%.17g\n", s.label, s.p_attack);
    }
    rc = 0;
out:
    free(line);
    free(fields);
    fclose(f);
    return rc;
}

static int cmd_predict(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"stage", required_argument, NULL, 's'},
        {"verdict", no_argument, NULL, 'v'},
        {"no-preprocess", no_argument, NULL, 'r'},
        {"header", no_argument, NULL, 'H'},
        {"features-csv", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct predict_opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:vrHf:h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 0 || v >= MODEL_MAX_STAGES) {
                fprintf(stderr, "ddos-model: --stage takes 0 or 1, not '%s'\n", optarg);
                return 1;
            }
            o.stage = (size_t)v;
            break;
        }
        case 'v':
            o.verdict = true;
            break;
        case 'r':
            o.raw = true;
            break;
        case 'H':
            o.header = true;
            break;
        case 'f':
            o.features_csv = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "ddos-model: predict takes one model FILE (see --help)\n");
        return 1;
    }
    if (o.verdict && o.raw) {
        fprintf(stderr, "ddos-model: --verdict always preprocesses, as the daemon does; drop "
                        "--no-preprocess\n");
        return 1;
    }
    struct model *m = load_or_die(argv[optind]);
    if (!m)
        return 1;
    int rc;
    if (o.stage >= model_n_stages(m)) {
        fprintf(stderr, "ddos-model: --stage %zu: the model has %zu stage(s)\n", o.stage,
                model_n_stages(m));
        rc = 1;
    } else if (o.features_csv) {
        rc = predict_flows_csv(m, o.features_csv);
    } else {
        rc = predict_rows(m, &o);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "ddos-model: write error: %s\n", strerror(errno));
        rc = 1;
    }
    model_unref(m);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "predict") == 0)
        return cmd_predict(argc - 1, argv + 1);
    if (strcmp(cmd, "info") == 0 || strcmp(cmd, "check") == 0) {
        if (argc != 3) {
            fprintf(stderr, "ddos-model: %s takes one model FILE (see --help)\n", cmd);
            return 1;
        }
        return strcmp(cmd, "info") == 0 ? cmd_info(argv[2]) : cmd_check(argv[2]);
    }
    fprintf(stderr, "ddos-model: unknown command '%s' (info, check, predict; see --help)\n", cmd);
    return 1;
}
