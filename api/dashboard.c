/* dashboard.c - GET /dashboard: the operator's live view in a browser, and its assets
 * (/dashboard/dashboard.js, /dashboard/dashboard.css, /dashboard/chart.min.js).
 *
 * Threads: any API thread; the assets are constant arrays.
 *
 * DESIGN: one page with no build step. index.html, dashboard.js and dashboard.css live in
 * api/dashboard/ and Chart.js comes from Debian's libjs-chart.js; api/dashboard/embed.cmake
 * compiles all four into the binary, so the page works on an API node with nothing installed
 * beside ddosd and never fetches anything from the internet. The page holds no data: it reads
 * /api/incidents, /api/events, /api/timeseries and /api/threat-analysis every second
 * (incidents.c), and those carry the access rule (api.dashboard_auth), so the assets are
 * served to anyone who reaches the API. The page's Content-Security-Policy admits scripts,
 * styles and requests from this origin only and no inline script or style at all; the
 * transport adds no-store to every response. */
#include "api/api_internal.h"

#include <string.h>

/* api/dashboard/embed.cmake's output (dashboard_assets.c in the build tree). */
extern const unsigned char dash_index_html[], dash_dashboard_js[], dash_dashboard_css[],
    dash_chart_js[];
extern const size_t dash_index_html_len, dash_dashboard_js_len, dash_dashboard_css_len,
    dash_chart_js_len;

#define DASH_CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "                \
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

struct dash_asset {
    const char *path;
    const char *type;
    const unsigned char *body;
    const size_t *len;
};

static const struct dash_asset assets[] = {
    {"/dashboard", "text/html; charset=utf-8", dash_index_html, &dash_index_html_len},
    {"/dashboard/dashboard.js", "text/javascript; charset=utf-8", dash_dashboard_js,
     &dash_dashboard_js_len},
    {"/dashboard/dashboard.css", "text/css; charset=utf-8", dash_dashboard_css,
     &dash_dashboard_css_len},
    {"/dashboard/chart.min.js", "text/javascript; charset=utf-8", dash_chart_js,
     &dash_chart_js_len},
};

void api_route_dashboard(struct api_core *c, const struct api_request *in,
                         const struct api_query *q, struct api_reply *out)
{
    (void)c;
    (void)q;
    const char *qm = strchr(in->uri, '?');
    size_t plen = qm ? (size_t)(qm - in->uri) : strlen(in->uri);
    for (size_t i = 0; i < DD_ARRAY_LEN(assets); i++) {
        const struct dash_asset *a = &assets[i];
        if (strlen(a->path) != plen || memcmp(a->path, in->uri, plen) != 0)
            continue;
        if (*a->len == 0) {
            api_reply_error(out, 404, "not_found",
                            "this ddosd was built without Chart.js: install libjs-chart.js "
                            "(apt-get install libjs-chart.js) and rebuild; the dashboard works "
                            "without its charts meanwhile");
            return;
        }
        out->status = 200;
        out->content_type = a->type;
        out->body = (char *)(uintptr_t)a->body; /* static: never freed (body_static) */
        out->body_len = *a->len;
        out->body_static = true;
        out->csp = DASH_CSP;
        return;
    }
    api_reply_error(out, 404, "not_found", "no such dashboard asset (see docs/api.md)");
}
