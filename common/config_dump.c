/* config_dump.c - --dump-config: the effective configuration as JSON in config.json's shape.
 *
 * Walks the key table (config_keys.c) like the loader, so every key is dumped as it is read;
 * secrets (the Redis password, bouncer keys) come out as "***", bouncer keys by name only, and
 * redis.url not at all (host, port and db say it). Calls jansson. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/config_internal.h"

static json_t *cfg_dump_obj(const char *spath, const void *base);

static json_t *cfg_dump_value(const struct cfg_key *k, const void *base)
{
    const void *field = (const char *)base + k->off;
    char buf[256];
    switch (k->kind) {
    case K_OBJ:
        return cfg_dump_obj(k->path, field);
    case K_STR: {
        const char *s = *(char *const *)field ? *(char *const *)field : "";
        return json_string((k->flags & F_SECRET) && s[0] ? "***" : s);
    }
    case K_BOOL:
        return json_boolean(*(const bool *)field);
    case K_INT:
        return json_integer(*(const int *)field);
    case K_NUM: {
        double d = *(const double *)field;
        if ((k->flags & F_NULLABLE) && (d == k->null_value || d < 0))
            return json_null();
        return json_real(d);
    }
    case K_CHOICE: {
        int i;
        memcpy(&i, field, sizeof(i));
        return json_string(k->choices[i]);
    }
    case K_STRLIST: {
        const struct config_strlist *l = field;
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
            if (json_array_append_new(a, json_string(l->items[i])) != 0) {
                json_decref(a);
                a = NULL;
            }
        return a;
    }
    case K_CIDRLIST: {
        const struct cidr_list *l = field;
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
            if (json_array_append_new(
                    a, json_string(cidr_format(&l->items[i], buf, sizeof(buf)))) != 0) {
                json_decref(a);
                a = NULL;
            }
        return a;
    }
    case K_LISTEN: {
        const struct config_listen *l = field;
        if (!l->enabled)
            return json_string("none");
        snprintf(buf, sizeof(buf), strchr(l->host, ':') ? "[%s]:%d" : "%s:%d", l->host, l->port);
        return json_string(buf);
    }
    case K_LEVELS: {
        unsigned bits = *(const unsigned *)field;
        json_t *a = json_array();
        for (unsigned i = 0; a && k->choices[i] != NULL; i++)
            if ((bits & (1u << i)) && json_array_append_new(a, json_string(k->choices[i]))) {
                json_decref(a);
                a = NULL;
            }
        return a;
    }
    case K_BOUNCERS: { /* names only: the keys themselves never leave the process */
        const struct config_bouncer_keys *l = field;
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
            if (json_array_append_new(a, json_string(l->items[i].name)) != 0) {
                json_decref(a);
                a = NULL;
            }
        return a;
    }
    case K_GROUPS: {
        const struct config_hostgroups *l = field;
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
            if (json_array_append_new(a, cfg_dump_obj(GROUP_ELEM, &l->items[i])) != 0) {
                json_decref(a);
                a = NULL;
            }
        return a;
    }
    case K_REDIS_URL:
        break;
    }
    return NULL;
}

static json_t *cfg_dump_obj(const char *spath, const void *base)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj != NULL && i < cfg_keys_n; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        if (!cfg_is_child(spath, k->path) || (k->flags & F_NODUMP))
            continue;
        json_t *v = cfg_dump_value(k, base);
        if (v == NULL || json_object_set_new(obj, cfg_leaf(k->path), v) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

int config_dump(const struct ddosd_config *c, FILE *out)
{
    json_t *root = cfg_dump_obj("", c);
    if (root == NULL)
        return -ENOMEM;
    int rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(root);
    if (rc != 0 || fputc('\n', out) == EOF || fflush(out) != 0)
        return -EIO;
    return 0;
}
