/* ddosd.c - the detector daemon: command line, start-up, the main thread's loop, reload and
 * shutdown. The pipeline itself lives in shard.c, worker.c and stage.c (see app/daemon.h).
 *
 * DESIGN: the main thread does no packet work. It builds the configuration (defaults <
 * config.json < flags), opens logs, the model and the capture, drops privileges, starts the
 * stages and the API, tells systemd READY, and then wakes every 100 ms to act on signals
 * (SIGTERM/SIGINT stop, SIGHUP reload, SIGUSR1 reopen logs), feed the watchdog, log the counters
 * once a minute and notice the end of an offline replay.
 *
 * Reload: the configuration and the model are rebuilt from scratch on the side; only when both
 * are good does anything change (the model pointer under model_lock, the published config by an
 * atomic pointer the stages follow). A bad file keeps everything running as it was and says why.
 * Old configurations stay allocated until exit: a stage may still be reading one.
 *
 * Shutdown: capture stops, every shard flushes its flow table (every open flow is scored), the
 * workers and the verdict stage drain, the final verdicts go to Redis and --verdicts-out, then
 * the API stops.
 *
 * Exit status: 0 success; 1 usage or start-up error (one line saying what to do); 2 finished,
 * but a capture was damaged (everything read from it was still used). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/daemon.h"
#include "common/log.h"
#include "common/service.h"

static void usage(FILE *to)
{
    fputs(
        "usage: ddosd [options]\n"
        "\n"
        "Watches interfaces (or replays captures), scores every flow with the model and the\n"
        "per-IP rate rules, and keeps per-IP verdicts in Redis and behind the REST API.\n"
        "\n"
        "Input (one kind):\n"
        "  -i, --interface IFACE   capture live on IFACE (repeatable); needs root or CAP_NET_RAW\n"
        "  -r, --read FILE|DIR     replay pcap/pcapng captures (repeatable; a directory adds its\n"
        "                          .pcap/.pcapng/.cap files in name order)\n"
        "      --realtime[=SPEED]  replay at capture speed (SPEED 2 = twice as fast)\n"
        "      --serve             after a replay, keep the API (and verdicts) up until SIGTERM\n"
        "      --api-only          no capture, no model: serve the merged verdicts in Redis\n"
        "                          (docs/scale-out.md)\n"
        "\n"
        "Configuration (flags override config.json, which overrides the defaults):\n"
        "  -c, --config FILE       config.json (${VAR} from the environment or .env beside it)\n"
        "      --env-file FILE     read ${VAR} and SECRET_KEY from FILE (mode 600) instead\n"
        "      --redis URL|none    redis://[[user]:password@]host[:port][/db]; none: memory only\n"
        "      --api HOST:PORT|none  REST API address (default 127.0.0.1:8000)\n"
        "      --model FILE        model file (ddos-model check FILE validates one); \"\" = rules "
        "only\n"
        "      --threads N         capture shards (AF_PACKET fanout live, flow hash offline)\n"
        "      --workers N         inference threads (default: one per two shards, at least 1)\n"
        "      --log-dir DIR       write app.log and error.log (and the API's access.log) there\n"
        "      --user USER         drop root privileges to USER once the capture is open\n"
        "      --set KEY=VALUE     set any config key, e.g. --set cache.ttl=60 (repeatable)\n"
        "      --dump-config       print the effective configuration (secrets masked) and exit\n"
        "\n"
        "Output:\n"
        "      --verdicts-out FILE write the final per-IP verdicts as JSON lines (- for stdout)\n"
        "      --flows-out FILE    write every scored flow (and snapshot) as CSV\n"
        "\n"
        "  -h, --help              this text;  -V, --version  the version\n"
        "\n"
        "Signals: SIGTERM/SIGINT stop (open flows are scored and verdicts flushed), SIGHUP "
        "reloads\n"
        "the model and the rules (a bad file keeps the old ones), SIGUSR1 reopens the logs.\n"
        "\n"
        "Examples:\n"
        "  ddosd -r attack.pcap --redis none --verdicts-out -          # judge a capture\n"
        "  ddosd -c /home/ddos/config/config.json                      # the service\n"
        "  ddosd -i eth1 --redis redis://127.0.0.1:6379 --threads 2    # live, two shards\n"
        "Docs: docs/configuration.md, docs/redis.md, docs/api.md, docs/operations.md\n",
        to);
}

enum {
    OPT_REDIS = 256,
    OPT_API,
    OPT_MODEL,
    OPT_THREADS,
    OPT_WORKERS,
    OPT_LOG_DIR,
    OPT_VERDICTS_OUT,
    OPT_FLOWS_OUT,
    OPT_REALTIME,
    OPT_SERVE,
    OPT_DUMP_CONFIG,
    OPT_ENV_FILE,
    OPT_USER,
    OPT_SET,
    OPT_API_ONLY,
};

static int add_override(struct options *o, const char *origin, const char *key, const char *value,
                        bool list)
{
    struct override *n = realloc(o->overrides, (o->noverrides + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    o->overrides = n;
    const char **vals = malloc(sizeof(*vals));
    if (!vals)
        return -ENOMEM;
    vals[0] = value;
    n[o->noverrides++] =
        (struct override){.origin = origin, .key = key, .values = vals, .n = 1, .list = list};
    return 0;
}

static int push_str(const char ***arr, size_t *n, const char *s)
{
    const char **a = realloc(*arr, (*n + 1) * sizeof(*a));
    if (!a)
        return -ENOMEM;
    a[(*n)++] = s;
    *arr = a;
    return 0;
}

/* Returns 0 to run, 1 after --help/--version (exit 0), -1 on a usage error (message printed). */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"interface", required_argument, NULL, 'i'},
        {"read", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"api", required_argument, NULL, OPT_API},
        {"model", required_argument, NULL, OPT_MODEL},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"log-dir", required_argument, NULL, OPT_LOG_DIR},
        {"verdicts-out", required_argument, NULL, OPT_VERDICTS_OUT},
        {"flows-out", required_argument, NULL, OPT_FLOWS_OUT},
        {"realtime", optional_argument, NULL, OPT_REALTIME},
        {"serve", no_argument, NULL, OPT_SERVE},
        {"api-only", no_argument, NULL, OPT_API_ONLY},
        {"dump-config", no_argument, NULL, OPT_DUMP_CONFIG},
        {"env-file", required_argument, NULL, OPT_ENV_FILE},
        {"user", required_argument, NULL, OPT_USER},
        {"set", required_argument, NULL, OPT_SET},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c, rc = 0;
    while ((c = getopt_long(argc, argv, "i:r:c:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            rc = push_str(&o->ifaces, &o->nifaces, optarg);
            break;
        case 'r':
            rc = push_str(&o->files, &o->nfiles, optarg);
            break;
        case 'c':
            o->config_path = optarg;
            break;
        case OPT_REDIS:
            rc = add_override(o, "--redis", NULL, optarg, false);
            break;
        case OPT_API:
            rc = add_override(o, "--api", "api.listen", optarg, false);
            break;
        case OPT_MODEL:
            rc = add_override(o, "--model", "ml_model.path", optarg, false);
            break;
        case OPT_THREADS:
            rc = add_override(o, "--threads", "capture.threads", optarg, false);
            break;
        case OPT_WORKERS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > DD_MAX_WORKERS) {
                fprintf(stderr, "ddosd: --workers must be 1..%d, got \"%s\"\n", DD_MAX_WORKERS,
                        optarg);
                return -1;
            }
            o->workers = (int)v;
            break;
        }
        case OPT_LOG_DIR:
            rc = add_override(o, "--log-dir", "log.dir", optarg, false);
            break;
        case OPT_VERDICTS_OUT:
            o->verdicts_out = optarg;
            break;
        case OPT_FLOWS_OUT:
            o->flows_out = optarg;
            break;
        case OPT_REALTIME:
            o->realtime = true;
            if (optarg) {
                char *end;
                double v = strtod(optarg, &end);
                if (*end || !(v > 0 && v <= 1000)) {
                    fprintf(stderr,
                            "ddosd: --realtime=SPEED must be a number in (0, 1000], got "
                            "\"%s\"\n",
                            optarg);
                    return -1;
                }
                o->realtime_speed = v;
            }
            break;
        case OPT_SERVE:
            o->serve = true;
            break;
        case OPT_API_ONLY:
            o->api_only = true;
            break;
        case OPT_DUMP_CONFIG:
            o->dump_config = true;
            break;
        case OPT_ENV_FILE:
            o->env_file = optarg;
            break;
        case OPT_USER:
            rc = add_override(o, "--user", "user", optarg, false);
            break;
        case OPT_SET: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                fprintf(stderr,
                        "ddosd: --set needs KEY=VALUE (e.g. --set cache.ttl=60), got "
                        "\"%s\"\n",
                        optarg);
                return -1;
            }
            *eq = '\0';
            rc = add_override(o, "--set", optarg, eq + 1, false);
            break;
        }
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            printf("ddosd %s\n", DDOSD_VERSION);
            return 1;
        default:
            fputs("Try 'ddosd --help'.\n", stderr);
            return -1;
        }
        if (rc != 0) {
            fputs("ddosd: out of memory\n", stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ddosd: unexpected argument \"%s\" (captures are given with -r)\n",
                argv[optind]);
        return -1;
    }
    if (o->realtime && o->realtime_speed == 0)
        o->realtime_speed = 1;
    return 0;
}

static bool model_path_from_flag(const struct options *o)
{
    for (size_t i = 0; i < o->noverrides; i++)
        if (o->overrides[i].key && strcmp(o->overrides[i].key, "ml_model.path") == 0)
            return true;
    return false;
}

/* Set by build_config when the default model path was missing and the compiled-in places were
 * searched in vain (load_model then says where it looked). Main thread only. */
static bool model_default_searched;

/* Builds a configuration from the defaults, the file and the flags. Returns 0 or -errno with
 * one line in err. */
static int build_config(const struct options *o, struct ddosd_config *c, char *err, size_t len)
{
    int rc = config_defaults(c);
    if (rc != 0) {
        snprintf(err, len, "out of memory");
        return rc;
    }
    if (o->env_file && (rc = config_set_env_file(c, o->env_file)) != 0) {
        snprintf(err, len, "out of memory");
        return rc;
    }
    if (o->config_path && (rc = config_load_file(o->config_path, c, err, len)) != 0)
        return rc;
    for (size_t i = 0; i < o->noverrides; i++) {
        const struct override *ov = &o->overrides[i];
        if (!ov->key)
            rc = config_apply_redis_url(c, ov->values[0], err, len);
        else
            rc = config_set(c, ov->origin, ov->key, ov->values[0], err, len);
        if (rc != 0)
            return rc;
    }
    if (o->nifaces &&
        (rc = config_set_list(c, "-i", "capture.interfaces", o->ifaces, o->nifaces, err, len)) != 0)
        return rc;
    if (o->nfiles &&
        (rc = config_set_list(c, "-r", "capture.files", o->files, o->nfiles, err, len)) != 0)
        return rc;
    if ((rc = config_validate(c, err, len)) != 0)
        return rc;
    /* A relative model path in config.json is relative to config.json, so the service finds
     * its model whatever its working directory. */
    if (o->config_path && c->ml_model.path[0] && c->ml_model.path[0] != '/' &&
        !model_path_from_flag(o)) {
        char dir[4096], full[8192];
        snprintf(dir, sizeof(dir), "%s", o->config_path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            snprintf(full, sizeof(full), "%s/%s", dir, c->ml_model.path);
            if (access(full, F_OK) == 0 &&
                (rc = config_set(c, "config.json", "ml_model.path", full, err, len)) != 0)
                return rc;
        }
    }
    /* The default model path is relative to the working directory, which is only right in a
     * checkout. When it is not there (and nobody chose it), look where the build put one: the
     * install prefix's share/ddosd/models, then the source tree's models/ (both compiled in). */
    model_default_searched = false;
    if (strcmp(c->ml_model.path, CONFIG_MODEL_PATH_DEFAULT) == 0 && !model_path_from_flag(o) &&
        access(c->ml_model.path, F_OK) != 0) {
        model_default_searched = true;
        static const char *const fallbacks[] = {DDOSD_MODEL_INSTALLED, DDOSD_MODEL_SOURCE_TREE};
        for (size_t i = 0; i < DD_ARRAY_LEN(fallbacks); i++) {
            if (access(fallbacks[i], F_OK) == 0) {
                if ((rc = config_set(c, "default", "ml_model.path", fallbacks[i], err, len)) != 0)
                    return rc;
                break;
            }
        }
    }
    if (c->sensor.id[0] == '\0') { /* "${DDOSD_SENSOR_ID:-}" left empty: the host name */
        char host[CONFIG_SENSOR_ID_MAX + 1] = "";
        if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
            snprintf(host, sizeof(host), "ddosd");
        if ((rc = config_set(c, "sensor", "sensor.id", host, err, len)) != 0)
            return rc;
    }
    return 0;
}

/* Loads and checks the model of cfg (NULL with *m = NULL when no model is configured). */
static int load_model(const struct ddosd_config *cfg, struct model **out, char *err, size_t len)
{
    *out = NULL;
    const char *path = cfg->ml_model.path;
    if (path[0] == '\0')
        return 0;
    char why[MODEL_ERR_LEN];
    struct model *m = model_load_file(path, why, sizeof(why));
    if (!m) {
        if (model_default_searched && strcmp(path, CONFIG_MODEL_PATH_DEFAULT) == 0)
            snprintf(err, len,
                     "no model: %s is not in the current directory, nor at %s or %s: pass --model "
                     "FILE (or set ml_model.path; \"\" runs the rate rules only)",
                     path, DDOSD_MODEL_INSTALLED, DDOSD_MODEL_SOURCE_TREE);
        else
            snprintf(err, len,
                     "model %s: %s (check it with `ddos-model check %s`; set ml_model.path to "
                     "\"\" to run the rate rules only)",
                     path, why, path);
        return -EINVAL;
    }
    enum feat_mode want = cfg->flows.mode == CONFIG_FLOWS_CIC ? FEAT_MODE_CIC : FEAT_MODE_FIXED;
    if (model_feature_mode(m) != want) {
        snprintf(err, len, "model %s was trained on %s-mode features but flows.mode is %s", path,
                 feat_mode_name(model_feature_mode(m)), feat_mode_name(want));
        model_unref(m);
        return -EINVAL;
    }
    *out = m;
    return 0;
}

static void install_model(struct daemon *d, struct model *m, const struct ddosd_config *cfg)
{
    pthread_mutex_lock(&d->model_lock);
    struct model *old = d->model;
    d->model = m;
    d->threshold = cfg->ml_model.threshold;
    if (m) {
        snprintf(d->model_version, sizeof(d->model_version), "%.16s", model_sha256(m));
        snprintf(d->model_detail, sizeof(d->model_detail), "loaded %s", cfg->ml_model.path);
    } else {
        d->model_version[0] = '\0';
        snprintf(d->model_detail, sizeof(d->model_detail), "rate rules only (no model)");
    }
    pthread_mutex_unlock(&d->model_lock);
    atomic_fetch_add_explicit(&d->model_gen, 1, memory_order_release);
    model_unref(old);
}

static void reload(struct daemon *d)
{
    (void)service_notify_reloading();
    char err[512];
    struct ddosd_config *nc = calloc(1, sizeof(*nc));
    struct model *m = NULL;
    if (!nc) {
        DD_ERROR("reload: out of memory; keeping the running configuration and model");
        goto done;
    }
    if (build_config(d->opt, nc, err, sizeof(err)) != 0) {
        DD_ERROR("reload: %s; keeping the running configuration and model", err);
        config_free(nc);
        free(nc);
        goto done;
    }
    if (load_model(nc, &m, err, sizeof(err)) != 0) {
        DD_ERROR("reload: %s; keeping the running configuration and model", err);
        config_free(nc);
        free(nc);
        goto done;
    }
    install_model(d, m, nc);
    /* Publish the rules; the old published config stays allocated (a stage may read it). */
    struct ddosd_config **r = realloc(d->retired, (d->nretired + 1) * sizeof(*r));
    if (r) {
        d->retired = r;
        d->retired[d->nretired++] = nc;
        atomic_store_explicit(&d->cfg_published, nc, memory_order_release);
        atomic_fetch_add_explicit(&d->cfg_gen, 1, memory_order_release);
    }
    DD_INFO("reload: model %s (%s), threshold %s, rules victim pps %.0f attacker pps %.0f, "
            "%zu hostgroup(s), %zu+%zu whitelisted CIDR(s)",
            nc->ml_model.path[0] ? nc->ml_model.path : "none",
            m ? model_provenance(m) : "rate rules only",
            nc->ml_model.threshold < 0 ? "the model's own" : "from config", nc->rules.victim.pps,
            nc->rules.attacker.pps, nc->rules.hostgroups.n, nc->rules.whitelist.sources.n,
            nc->rules.whitelist.destinations.n);
done:
    (void)service_notify_ready("reloaded");
}

/* API hooks: thread-safe, answered from counters and copies. */
static void hook_health(void *user, struct api_health *out)
{
    counters_health(user, out);
}

static size_t hook_counters(void *user, struct api_counter *out, size_t max)
{
    return counters_fill(user, out, max);
}

static int hook_report(void *user, const struct verdict *v)
{
    struct daemon *d = user;
    int rc = stage_report(d, v);
    if (rc == 0 && d->trail) /* the dashboard's trail lists reports beside the attack events */
        (void)trail_event_add(d->trail, TRAIL_EVENT_REPORT, v, v->level, NULL, 0);
    return rc;
}

static void show_progress(struct daemon *d, bool final)
{
    uint64_t pkts = atomic_load_explicit(&d->reader.cap.packets, memory_order_relaxed);
    double el = dd_mono_s() - d->start_wall;
    fprintf(stderr, "\r[%u/%zu] %" PRIu64 " packets  %.2f Mpps\033[K",
            atomic_load_explicit(&d->reader.input, memory_order_relaxed) + 1, d->nfiles, pkts,
            el > 0 ? (double)pkts / el / 1e6 : 0.0);
    if (final)
        fputc('\n', stderr);
}

static void run_main_loop(struct daemon *d)
{
    uint64_t watchdog_us = service_watchdog_interval_us();
    double next_watchdog = 0, next_minute = dd_mono_s() + 60, next_progress = 0;
    bool progress = !d->live && isatty(STDERR_FILENO) && d->cfg->log.dir[0] != '\0';
    bool replay_logged = false;
    while (!service_stop_requested()) {
        double now = dd_mono_s();
        if (watchdog_us && now >= next_watchdog) {
            (void)service_notify_watchdog();
            next_watchdog = now + (double)watchdog_us / 1e6;
        }
        if (service_reload_take())
            reload(d);
        if (service_reopen_take()) {
            int rc = log_reopen();
            if (d->api && rc == 0)
                rc = api_reopen_log(d->api);
            if (rc != 0)
                DD_ERROR("cannot reopen the log files: %s", strerror(-rc));
            else
                DD_INFO("log files reopened");
        }
        if (now >= next_minute) {
            counters_log(d, false);
            next_minute = now + 60;
        }
        if (progress && !replay_logged && now >= next_progress) { /* frozen once the replay ended */
            show_progress(d, false);
            next_progress = now + 0.5;
        }
        if (!d->live && !replay_logged &&
            atomic_load_explicit(&d->reader.finished, memory_order_acquire)) {
            replay_logged = true;
            if (progress)
                show_progress(d, true);
            DD_INFO("replay finished: %zu capture(s) read", d->nfiles);
            if (d->opt->serve)
                (void)service_notify_status("replay finished; serving verdicts");
        }
        if (atomic_load_explicit(&d->stage_done, memory_order_acquire))
            break; /* offline, without --serve: everything was judged */
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static int start(struct daemon *d, char *err, size_t len)
{
    const struct ddosd_config *cfg = d->cfg;
    int rc;
    d->live = cfg->capture.interfaces.n > 0;
    if (d->live && cfg->capture.files.n > 0) {
        snprintf(err, len, "give either interfaces (-i) or capture files (-r), not both");
        return -EINVAL;
    }
    if (!d->live && cfg->capture.files.n == 0) {
        snprintf(err, len,
                 "nothing to watch: give -i IFACE (live) or -r FILE (replay), or set "
                 "capture.interfaces / capture.files in config.json");
        return -EINVAL;
    }
    if (!d->live) {
        char cerr[CAPTURE_ERRBUF_SIZE];
        rc = capture_inputs_expand((const char *const *)cfg->capture.files.items,
                                   cfg->capture.files.n, &d->files, &d->nfiles, cerr);
        if (rc != 0) {
            snprintf(err, len, "%s", cerr);
            return rc;
        }
        /* Open each capture once now, with the filter the reader will use, so a bad path or a
         * filter that does not compile (against this capture's link type) fails at start-up
         * with exit 1, not as a "capture cut short" mid-replay behind a healthy /health. */
        struct capture_options probe = {.filter =
                                            cfg->capture.filter[0] ? cfg->capture.filter : NULL};
        for (size_t i = 0; i < d->nfiles; i++) {
            struct capture_source *s = capture_source_open_file(d->files[i], &probe, cerr);
            if (!s) {
                snprintf(err, len, "%s", cerr);
                return -EINVAL;
            }
            int lt = capture_source_linktype(s);
            capture_source_close(s);
            /* Every packet of it would be a decode error: say so now, as ddos-flows does, rather
             * than judge nothing and exit 0. */
            if (!decode_linktype_supported(lt)) {
                snprintf(err, len,
                         "%s: link type %d is not supported (Ethernet with VLAN/MPLS, Linux "
                         "SLL/SLL2, raw IP, BSD loopback, PPP, PPPoE, Cisco HDLC and PPI are): "
                         "leave it out of -r",
                         d->files[i], lt);
                return -EINVAL;
            }
        }
    }
    if (d->live && d->opt->realtime) {
        snprintf(err, len, "--realtime paces a replay (-r); live capture is real time already");
        return -EINVAL;
    }
    d->realtime_speed = d->opt->realtime ? d->opt->realtime_speed : 0;
    d->nshards = (unsigned)cfg->capture.threads;
    if (d->nshards > DD_MAX_SHARDS)
        d->nshards = DD_MAX_SHARDS;
    d->nworkers = d->opt->workers ? (unsigned)d->opt->workers : (d->nshards + 1) / 2;

    struct model *m = NULL;
    if ((rc = load_model(cfg, &m, err, len)) != 0)
        return rc;
    install_model(d, m, cfg);
    if (m)
        DD_INFO("model %s: %s, %zu stage(s), %zu features", cfg->ml_model.path, model_provenance(m),
                model_n_stages(m), model_n_features(m));
    else
        DD_WARN("no model configured: verdicts come from the rate rules only");

    struct verdict_store_decisions dec = {.levels = cfg->decisions.levels,
                                          .roles = cfg->decisions.roles};
    d->store = verdict_store_create(1u << 20, 0, &dec);
    if (!d->store) {
        snprintf(err, len, "out of memory for the verdict store");
        return -ENOMEM;
    }
    d->trail = trail_create();
    if (!d->trail) {
        snprintf(err, len, "out of memory for the event trail");
        return -ENOMEM;
    }
    if ((rc = workers_create(d)) != 0) {
        snprintf(err, len, "out of memory for the inference rings");
        return rc;
    }
    if ((rc = shards_create(d, err, len)) != 0)
        return rc;
    /* The capture is open: root is no longer needed. */
    char perr[256];
    if ((rc = service_drop_privileges(cfg->user, perr, sizeof(perr))) != 0) {
        snprintf(err, len, "%s", perr);
        return rc;
    }
    if (cfg->redis.enabled && cfg->redis.required && (rc = daemon_redis_probe(cfg, err, len)) != 0)
        return rc;
    if (cfg->redis.enabled && cfg->cache.enabled && cfg->redis.follow && cfg->api.listen.enabled) {
        /* The API answers from every sensor's view: the others' verdicts, read from Redis (no
         * API, no reader: nothing else reads the store). */
        static char host[4096];
        struct redis_follow_config fc = {
            .store = d->store, .mode = REDIS_FOLLOW_RAISE, .sensor_id = cfg->sensor.id};
        if (daemon_redis_params(cfg, &fc.conn, host, sizeof(host)) != 0) {
            snprintf(err, len, "redis.sentinels: the list is too long");
            return -EINVAL;
        }
        if (!(d->follow = redis_follow_start(&fc))) {
            snprintf(err, len, "cannot start the Redis follower");
            return -ENOMEM;
        }
    }
    if ((rc = stage_start(d, err, len)) != 0)
        return rc;
    if ((rc = workers_start(d)) != 0 || (rc = shards_start(d)) != 0) {
        snprintf(err, len, "cannot start the pipeline threads");
        return rc;
    }
    if (cfg->api.listen.enabled) {
        char access_log[4096] = "";
        if (cfg->log.dir[0])
            snprintf(access_log, sizeof(access_log), "%s/access.log", cfg->log.dir);
        struct api_options ao = {
            .cfg = cfg,
            .secret_key = config_env_lookup(cfg, "SECRET_KEY"),
            .access_log_path = access_log[0] ? access_log : NULL,
            .store = d->store,
            .trail = d->trail,
            .hooks = {.user = d,
                      .health = hook_health,
                      .counters = hook_counters,
                      .report = hook_report},
        };
        d->api = api_start(&ao, err, len);
        if (!d->api)
            return -EADDRINUSE;
        DD_INFO("API listening on %s:%u", cfg->api.listen.host, api_port(d->api));
    }
    return 0;
}

static void stop(struct daemon *d)
{
    /* Stages that never started count as done, so the ones downstream can finish. */
    for (unsigned i = 0; d->shards && i < d->nshards; i++)
        if (!d->shards[i].started)
            atomic_store_explicit(&d->shards[i].done, true, memory_order_release);
    for (unsigned i = 0; d->workers && i < d->nworkers; i++)
        if (!d->workers[i].started)
            atomic_store_explicit(&d->workers[i].done, true, memory_order_release);
    shards_break(d);
    atomic_store_explicit(&d->stop_pipeline, true, memory_order_release);
    shards_join(d);
    workers_join(d);
    stage_join(d);
    api_stop(d->api);
    d->api = NULL;
    redis_follow_stop(d->follow);
    d->follow = NULL;
}

static void free_options(struct options *o)
{
    for (size_t i = 0; i < o->noverrides; i++)
        free(o->overrides[i].values);
    free(o->overrides);
    free(o->ifaces);
    free(o->files);
}

/* Exits before the daemon started: only the options and the configuration exist. */
static void free_early(struct options *o, struct ddosd_config *cfg)
{
    if (cfg) {
        config_free(cfg);
        free(cfg);
    }
    free_options(o);
}

int main(int argc, char **argv)
{
    static struct options opt;
    static struct daemon d;
    int prc = parse_args(argc, argv, &opt);
    if (prc != 0) {
        free_options(&opt);
        return prc > 0 ? 0 : 1;
    }
    char err[1024];
    struct ddosd_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg || build_config(&opt, cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "ddosd: %s\n", cfg ? err : "out of memory");
        free_early(&opt, cfg);
        return 1;
    }
    if (opt.dump_config) {
        int rc = config_dump(cfg, stdout);
        free_early(&opt, cfg);
        return rc == 0 ? 0 : 1;
    }
    log_configure(NULL, cfg->log.level);
    if (cfg->log.dir[0] &&
        log_open_dir(cfg->log.dir, isatty(STDERR_FILENO), err, sizeof(err)) != 0) {
        fprintf(stderr, "ddosd: %s\n", err);
        free_early(&opt, cfg);
        return 1;
    }
    d.opt = &opt;
    d.cfg = cfg;
    atomic_store(&d.cfg_published, cfg);
    d.start_wall = dd_mono_s();
    pthread_mutex_init(&d.model_lock, NULL);
    pthread_mutex_init(&d.report_lock, NULL);
    pthread_mutex_init(&d.stats_lock, NULL);
    if (service_signals_install() != 0) {
        fprintf(stderr, "ddosd: cannot install signal handlers\n");
        log_close();
        free_early(&opt, cfg);
        return 1;
    }
    DD_INFO("ddosd %s starting: sensor %s, config %s", DDOSD_VERSION, cfg->sensor.id,
            opt.config_path ? opt.config_path : "(defaults and flags)");
    int status = 0;
    if (opt.api_only || cfg->api_only) {
        status = api_only_main(cfg);
        goto out;
    }
    if (start(&d, err, sizeof(err)) != 0) {
        DD_ERROR("%s", err);
        if (cfg->log.dir[0])
            fprintf(stderr, "ddosd: %s\n", err);
        stop(&d);
        status = 1;
        goto out;
    }
    (void)service_notify_ready(d.live ? "capturing" : "replaying");
    DD_INFO("ready: %s, %u shard(s), %u inference worker(s), redis %s", d.live ? "live" : "replay",
            d.nshards, d.nworkers, cfg->redis.enabled ? "on" : "off (verdicts in memory)");
    run_main_loop(&d);
    (void)service_notify_stopping();
    double t0 = dd_mono_s();
    DD_INFO("stopping: scoring open flows and flushing verdicts");
    stop(&d);
    DD_INFO("stopped in %.2f s", dd_mono_s() - t0);
    counters_log(&d, true);
    if (atomic_load(&d.reader.damaged))
        status = 2;
out:
    shards_destroy(&d);
    workers_destroy(&d);
    verdict_store_destroy(d.store);
    trail_destroy(d.trail);
    model_unref(d.model);
    capture_inputs_free(d.files, d.nfiles);
    for (size_t i = 0; i < d.nretired; i++) {
        config_free(d.retired[i]);
        free(d.retired[i]);
    }
    free(d.retired);
    config_free(cfg);
    free(cfg);
    free_options(&opt);
    log_close();
    return status;
}
