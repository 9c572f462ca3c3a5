"""api_nginx_auth_request.py - ddosd as nginx's auth_request backend (GET /api/check).

Runs ddosd (-r a generated SYN flood capture, --serve) and a real nginx (a temporary prefix and
config on a free loopback port) whose protected location says `auth_request /_ddosd_check;`; the
internal location proxies to ddosd's /api/check with X-Real-IP taken from a request header the
test controls (X-Test-Client), so one loopback client can stand for any address. The protected
content is a static file ("upstream page"; `return` would run before the access phase and skip
auth_request). Checks: a clean address gets the page through nginx; an address flagged by an
authenticated report gets 403 from nginx; a victim reported at critical still gets the page
(decisions.roles defaults to ["attacker"]: a victim is reported, never blocked); /api/check answers 200/403 directly as well; ddosd
being down makes nginx fail closed (500), not serve the page. Request heads: 7 KiB of headers
sent directly are answered, and a client with 31 KiB of headers passes through nginx's
auth_request (the check location forwards only X-Real-IP, as docs/api.md says).

usage: api_nginx_auth_request.py --ddosd PATH --trafgen PATH
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_common import (SECRET_KEY, TEST_RULES, Checker, Env, common_args, curl, die,  # noqa: E402
                        free_port, need_binary, port_open, report_attack, wait_until,
                        which)

PAGE = "upstream page: protected content\n"


def main():
    a = common_args().parse_args()
    ddosd = need_binary(a.ddosd, "ddosd")
    trafgen = need_binary(a.trafgen, "ddos-trafgen")
    nginx = which("nginx")
    if not nginx:
        die("nginx is not installed (apt-get install nginx-light)")
    env = Env("api-nginx")
    t = Checker()

    pcap, _ = env.make_capture(trafgen, scenario="syn_flood", seed=11)
    api_port = free_port()
    cfg = env.write("config.json", json.dumps({"sensor": {"id": "itest-nginx"},
                                               "rules": TEST_RULES}))
    ddosd_p = env.start_ddosd(ddosd, ["-c", cfg, "-r", pcap, "--serve", "--redis", "none",
                                      "--api", f"127.0.0.1:{api_port}"],
                              env_extra={"SECRET_KEY": SECRET_KEY})
    base = f"http://127.0.0.1:{api_port}"

    flagged, clean, victim = "203.0.113.66", "100.64.7.7", "192.0.2.66"
    r = report_attack(base, flagged, "critical", "http_flood")
    if not t.check(f"report {flagged}: 2xx", 200 <= r.code < 300, repr(r)):
        t.finish()
    r = report_attack(base, victim, "critical", "syn_flood", role="victim")
    t.check(f"report victim {victim}: 2xx", 200 <= r.code < 300, repr(r))
    d = curl(f"{base}/api/threat-analysis?ip={victim}").json() or {}
    t.check("the reported victim is critical with role victim",
            d.get("threat_level") == "critical" and d.get("role") == "victim", repr(d))

    # ---- ddosd directly --------------------------------------------------------------------
    r = curl(f"{base}/api/check", "-H", f"X-Real-IP: {flagged}")
    t.check("/api/check X-Real-IP flagged: 403", r.code == 403, repr(r))
    r = curl(f"{base}/api/check", "-H", f"X-Real-IP: {clean}")
    t.check("/api/check X-Real-IP clean: 2xx (allow)", 200 <= r.code < 300, repr(r))
    r = curl(f"{base}/api/check", "-H", f"X-Real-IP: {victim}")
    t.check("/api/check X-Real-IP critical victim: 204 (decisions.roles default)", r.code == 204,
            repr(r))
    # The request heads ddosd holds (docs/api.md, Limits): 7 KiB of headers are answered.
    big = ["-H", "Cookie: c=" + "x" * 7168]
    r = curl(f"{base}/api/check", "-H", f"X-Real-IP: {flagged}", *big)
    t.check("/api/check with a 7 KiB Cookie header: 403", r.code == 403, repr(r.code))
    r = curl(f"{base}/api/threat-analysis?ip={flagged}", *big)
    t.check("/api/threat-analysis with a 7 KiB Cookie header: 200, critical",
            r.code == 200 and (r.json() or {}).get("threat_level") == "critical", repr(r.code))

    # ---- through nginx ---------------------------------------------------------------------
    www = env.path("www")
    os.mkdir(www)
    # nginx's workers run as an unprivileged user: let them reach the page (mkdtemp is 0700).
    os.chmod(env.tmp, 0o755)
    os.chmod(www, 0o755)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write(PAGE)
    os.chmod(os.path.join(www, "index.html"), 0o644)
    ngx = env.path("nginx")
    os.mkdir(ngx)
    nginx_port = free_port()
    conf = env.write("nginx/nginx.conf", f"""
worker_processes 1;
daemon off;
pid {ngx}/nginx.pid;
error_log {ngx}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {ngx}/access.log;
    client_body_temp_path {ngx}/body;
    proxy_temp_path {ngx}/proxy;
    fastcgi_temp_path {ngx}/fastcgi;
    uwsgi_temp_path {ngx}/uwsgi;
    scgi_temp_path {ngx}/scgi;
    server {{
        listen 127.0.0.1:{nginx_port};
        root {www};
        location / {{
            auth_request /_ddosd_check;
            index index.html;
        }}
        location = /_ddosd_check {{
            internal;
            proxy_pass http://127.0.0.1:{api_port}/api/check;
            proxy_pass_request_body off;
            proxy_pass_request_headers off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Real-IP $http_x_test_client;
            proxy_connect_timeout 1s;
            proxy_read_timeout 2s;
        }}
    }}
}}
""")
    p = env.spawn("nginx", [nginx, "-p", ngx, "-c", conf])
    if not wait_until(lambda: port_open(nginx_port), 10, 0.05):
        die(f"nginx did not start:\n{env.log_tail(p)}")
    front = f"http://127.0.0.1:{nginx_port}/"

    r = curl(front, "-H", f"X-Test-Client: {clean}")
    t.check("nginx, clean client: 200 with the upstream page", r.code == 200 and r.body == PAGE,
            repr(r))
    r = curl(front, "-H", f"X-Test-Client: {flagged}")
    t.check("nginx, flagged client: 403", r.code == 403 and PAGE not in r.body, repr(r))
    r = curl(front + "index.html", "-H", f"X-Test-Client: {flagged}")
    t.check("nginx, flagged client, another URI: 403", r.code == 403, repr(r))
    r = curl(front, "-H", f"X-Test-Client: {victim}")
    t.check("nginx, critical victim: 200 with the upstream page (reported, not blocked)",
            r.code == 200 and r.body == PAGE, repr(r))
    for _ in range(3):  # repeated, over nginx's upstream connections
        r = curl(front, "-H", f"X-Test-Client: {clean}")
        t.check("nginx, clean client again: 200", r.code == 200 and r.body == PAGE, repr(r))
        r = curl(front, "-H", f"X-Test-Client: {flagged}")
        t.check("nginx, flagged client again: 403", r.code == 403, repr(r))

    # A client with 31 KiB of headers (four 7,900-byte cookies: about what nginx's default
    # large_client_header_buffers 4 8k accept): docs/api.md's check location forwards only
    # X-Real-IP, so ddosd's request-head limit (about 7.5 KiB, api.c) is never reached. With
    # the client's headers forwarded this was a 500 even at libmicrohttpd's default 32 KiB pool.
    cookies = []
    for k in range(4):
        cookies += ["-H", f"Cookie: c{k}=" + "x" * 7900]
    r = curl(front, "-H", f"X-Test-Client: {clean}", *cookies)
    t.check("nginx, clean client with 31 KiB of headers: 200 with the page",
            r.code == 200 and r.body == PAGE, f"{r.code} {r.body[:200]!r}")
    r = curl(front, "-H", f"X-Test-Client: {flagged}", *cookies)
    t.check("nginx, flagged client with 31 KiB of headers: 403", r.code == 403,
            f"{r.code} {r.body[:200]!r}")

    # ddosd gone: auth_request cannot reach it and nginx must not serve the page.
    rc = env.stop(ddosd_p, wait=15)
    t.check(f"ddosd exits 0 on SIGTERM (got {rc})", rc == 0, env.log_tail(ddosd_p))
    r = curl(front, "-H", f"X-Test-Client: {clean}")
    t.check("nginx with ddosd down: fails closed (5xx, no page)",
            r.code >= 500 and PAGE not in r.body, repr(r))
    t.finish()


if __name__ == "__main__":
    main()
