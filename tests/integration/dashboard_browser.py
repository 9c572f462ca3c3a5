#!/usr/bin/python3
"""dashboard_browser.py - /dashboard in a real browser: Debian's chromium, chromium-driver and
python3-selenium, headless, against a ddosd replaying (in real time, with a real redis-server)
a ddos-trafgen capture with a SYN flood from a real source and a spoofed flood.

Checks:
  - both victims appear on the page with a level of high or above and the manifest's attack
    type, within 2 s of the API's first verdict at high for them (polled every 50 ms);
  - the page's level for each then agrees with /api/threat-analysis;
  - each incident's chart has data points (Chart.js's own data, read in the page);
  - clicking the SYN flood's victim shows its reasons (those of its verdict) and its top
    attacker (the manifest's attacker); clicking the spoofed victim shows its spoofed sources;
  - the search box answers "low" for a benign address seen in the capture;
  - the browser console holds no error (CSP violations, failed requests, script errors);
  - with api.dashboard_auth (a second ddosd), the page asks for SECRET_KEY, refuses a wrong
    key and shows the incidents with the right one.
Screenshots go to --out (dashboard.png, dashboard-detail.png, dashboard-search.png).
Exit 77 (skip) when chromium, chromedriver or selenium is missing.

Usage: dashboard_browser.py --ddosd build/app/ddosd --trafgen build/trafgen/ddos-trafgen --out DIR
"""

import argparse
import collections
import ipaddress
import json
import os
import struct
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_common import Checker, Env, free_port, need_binary, which  # noqa: E402

LEVELS = ["low", "medium", "high", "critical"]
PREROLL_S = 8  # the replay's quiet start (preroll)


def skip(msg):
    print(f"SKIP: {msg}", flush=True)
    sys.exit(77)


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def pick_capture(env, trafgen):
    """A capture with a syn_flood from named attackers and a spoofed flood on another victim."""
    for seed in range(2, 40):
        pcap = env.path(f"dash-{seed}.pcap")
        subprocess.run([trafgen, "-o", pcap, "--seed", str(seed), "--scenario",
                        "syn_flood,udp_flood", "--duration", "20", "--benign-clients", "50",
                        "--max-attack-packets", "100000", "--snaplen", "128", "-q"], check=True)
        man = json.load(open(pcap[:-5] + ".json"))["captures"][0]
        syn = [a for a in man["attacks"] if a["label"] == "syn_flood" and a.get("attackers")
               and len(a["victims"]) == 1]
        spoof = [a for a in man["attacks"] if a.get("sources") == "spoofed"
                 and len(a["victims"]) == 1]
        if syn and spoof and syn[0]["victims"] != spoof[0]["victims"]:
            return pcap, man, syn[0], spoof[0]
        os.unlink(pcap)
    sys.exit("no seed gave a SYN flood with attackers and a spoofed flood")


def preroll(pcap, seconds):
    """Rewrites pcap with one copy of its first packet `seconds` before it, so a real-time
    replay idles that long before the traffic: the browser has the page up and refreshing
    before the first attack, and the test times the dashboard, not the browser's start."""
    with open(pcap, "rb") as f:
        data = f.read()
    ts_sec, ts_frac, incl, orig = struct.unpack("<IIII", data[24:40])
    first = data[24:40 + incl]
    early = struct.pack("<IIII", ts_sec - seconds, ts_frac, incl, orig) + first[16:]
    with open(pcap, "wb") as f:
        f.write(data[:24] + early + data[24:])


def benign_source(pcap, man):
    """The busiest IPv4 source of the capture's first 20,000 packets outside every attack."""
    nets = [ipaddress.ip_network(r["ip"]) for r in man["rules"]]
    skip_ips = set(man.get("victims", []))
    counts = collections.Counter()
    with open(pcap, "rb") as f:
        f.read(24)
        for _ in range(20000):
            h = f.read(16)
            if len(h) < 16:
                break
            incl = struct.unpack("<IIII", h)[2]
            frame = f.read(incl)
            if len(frame) >= 34 and frame[12:14] == b"\x08\x00":
                src = ipaddress.ip_address(frame[26:30])
                if not any(src in n for n in nets if n.version == 4) and str(src) not in skip_ips:
                    counts[str(src)] += 1
    return counts.most_common(1)[0][0]


class ApiWatcher(threading.Thread):
    """Polls /api/threat-analysis for the victims every 50 ms; remembers when each first
    reached high or above."""

    def __init__(self, port, ips):
        super().__init__(daemon=True)
        self.port, self.ips = port, ips
        self.first_high = {}
        self.level = {}
        self.stop = False

    def run(self):
        while not self.stop:
            for ip in self.ips:
                try:
                    v = get_json(f"http://127.0.0.1:{self.port}/api/threat-analysis?ip={ip}")
                except OSError:
                    continue
                self.level[ip] = v["threat_level"]
                if LEVELS.index(v["threat_level"]) >= 2 and ip not in self.first_high:
                    self.first_high[ip] = time.monotonic()
            time.sleep(0.05)


def page_rows(drv):
    """{ip: (level, type, points)} of the incident table's victim rows, read in the page."""
    return drv.execute_script("""
        const out = {};
        for (const tr of document.querySelectorAll('#incidents tbody tr.incident')) {
          if (tr.dataset.role !== 'victim') continue;
          const c = tr.querySelector('canvas');
          const ch = (typeof Chart !== 'undefined' && c) ? Chart.getChart(c) : null;
          out[tr.dataset.ip] = [tr.children[2].textContent.trim(), tr.children[3].textContent.trim(),
                                ch ? ch.data.datasets[0].data.length : -1];
        }
        return out;""")


def texts(drv, selector):
    """The text of every element matching selector, read in the page in one go."""
    return drv.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent.trim());",
        selector)


def auth_mode(env, ck, drv, ddosd, pcap, victim):
    """api.dashboard_auth: the page asks for SECRET_KEY, refuses a wrong one, shows the data with
    the right one."""
    from selenium.webdriver.common.by import By
    key = "dash-browser-key-0123456789abcdef"
    port = free_port()
    p = env.start_ddosd(ddosd, ["-r", pcap, "--serve", "--api", f"127.0.0.1:{port}", "--redis",
                                "none", "--set", "api.dashboard_auth=true"],
                        env_extra={"SECRET_KEY": key})
    drv.get(f"http://127.0.0.1:{port}/dashboard")

    def visible(elem_id):
        return drv.execute_script(f"return !document.getElementById('{elem_id}').hidden;")

    t_end = time.monotonic() + 5
    while time.monotonic() < t_end and not visible("auth"):
        time.sleep(0.1)
    ck.check("with api.dashboard_auth the page asks for the API key", visible("auth"))
    box = drv.find_element(By.ID, "auth-key")
    box.send_keys("wrong-key-0123456789abcdef")
    drv.find_element(By.CSS_SELECTOR, "#auth-form button").click()
    time.sleep(1.5)
    ck.check("a wrong key is refused (the form stays, says so)",
             visible("auth") and "refused" in texts(drv, "#auth-error")[0])
    box = drv.find_element(By.ID, "auth-key")
    box.clear()
    box.send_keys(key)
    drv.find_element(By.CSS_SELECTOR, "#auth-form button").click()
    rows = {}
    t_end = time.monotonic() + 10
    while time.monotonic() < t_end:
        rows = page_rows(drv)
        if victim in rows and not visible("auth"):
            break
        time.sleep(0.2)
    ck.check("with the key the data shows (form gone, incidents listed)",
             victim in rows and not visible("auth"), rows)
    env.stop(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ddosd", required=True)
    ap.add_argument("--trafgen", required=True)
    ap.add_argument("--out", required=True, help="directory for the screenshots")
    args = ap.parse_args()
    ddosd = need_binary(args.ddosd, "ddosd")
    trafgen = need_binary(args.trafgen, "ddos-trafgen")
    chromium = which("chromium")
    driver_bin = which("chromedriver")
    if not chromium or not driver_bin:
        skip("chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
    except ImportError:
        skip("python3-selenium is needed (apt-get install python3-selenium)")
    os.makedirs(args.out, exist_ok=True)

    env = Env("dashboard-browser")
    ck = Checker()
    pcap, man, syn, spoof = pick_capture(env, trafgen)
    syn_victim, spoof_victim = syn["victims"][0], spoof["victims"][0]
    benign = benign_source(pcap, man)
    preroll(pcap, PREROLL_S)
    print(f"capture {os.path.basename(pcap)}: SYN flood {syn['attackers']} -> {syn_victim}, "
          f"spoofed {spoof['label']} -> {spoof_victim}; benign {benign}", flush=True)

    rport = env.start_redis()
    port = free_port()
    os.makedirs(env.path("log"))
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1500,1300", "--no-first-run", "--disable-extensions",
              f"--user-data-dir={env.path('chrome-profile')}"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver_bin, log_output=env.path("chromedriver.log")),
                           options=opts)
    try:
        p = env.start_ddosd(ddosd, ["-r", pcap, "--realtime", "--serve", "--api",
                                    f"127.0.0.1:{port}", "--redis", f"redis://127.0.0.1:{rport}",
                                    "--log-dir", env.path("log")])
        base = f"http://127.0.0.1:{port}"
        watcher = ApiWatcher(port, [syn_victim, spoof_victim])
        watcher.start()
        drv.get(base + "/dashboard")
        t_end = time.monotonic() + PREROLL_S
        while time.monotonic() < t_end and texts(drv, "#status") != ["live"]:
            time.sleep(0.1)
        ck.check("the page is live before the first attack", texts(drv, "#status") == ["live"]
                 and not watcher.first_high, f"{texts(drv, '#status')}, {watcher.first_high}")

        expected = {syn_victim: syn["label"], spoof_victim: spoof["label"]}
        shown = {}
        deadline = time.monotonic() + 45
        rows = {}
        while time.monotonic() < deadline and len(shown) < 2:
            rows = page_rows(drv)
            now = time.monotonic()
            for ip, want in expected.items():
                r = rows.get(ip)
                if ip not in shown and r and r[0] in ("high", "critical") and r[1] == want:
                    shown[ip] = now
            time.sleep(0.05)
        for ip in expected:
            api_t = watcher.first_high.get(ip)
            page_t = shown.get(ip)
            ck.check(f"{ip} ({expected[ip]}) on the page within 2 s of its verdict",
                     api_t and page_t and page_t - api_t <= 2.0,
                     f"api high at {api_t}, page at {page_t}, page row {rows.get(ip)}")
            if api_t and page_t:
                print(f"  {ip}: page {page_t - api_t:+.2f} s after the API", flush=True)

        # The page's level agrees with the API's (levels move during an attack: allow a refresh).
        def levels_agree():
            r = page_rows(drv)
            return all(r.get(ip, [None])[0] == watcher.level.get(ip) for ip in expected)
        t_end = time.monotonic() + 3
        agree = levels_agree()
        while not agree and time.monotonic() < t_end:
            time.sleep(0.2)
            agree = levels_agree()
        ck.check("the page's levels equal /api/threat-analysis's", agree,
                 f"page {page_rows(drv)}, api {watcher.level}")

        time.sleep(2.5)  # a few more points for the charts
        rows = page_rows(drv)
        ck.check("each victim's chart has data points",
                 all(rows.get(ip, [0, 0, 0])[2] > 0 for ip in expected), rows)
        drv.save_screenshot(os.path.join(args.out, "dashboard.png"))

        # Click the SYN flood's victim: its reasons and its top attacker.
        drv.find_element(By.CSS_SELECTOR, f'#incidents tr.incident[data-ip="{syn_victim}"]'
                                          '[data-role="victim"]').click()
        attackers = set(syn["attackers"])
        peers, reasons, api_v = [], [], {"reasons": None}
        t_end = time.monotonic() + 8
        while time.monotonic() < t_end:
            # Read in the page (the panel is redrawn every second: element handles go stale).
            # Reasons move while the attack goes on: compare with the API's at the same moment.
            api_v = get_json(f"{base}/api/threat-analysis?ip={syn_victim}")
            reasons = texts(drv, "#detail-reasons li")
            peers = texts(drv, "#detail-peers tbody tr.peer td:first-child")
            if set(reasons) == set(api_v["reasons"]) and attackers & set(peers):
                break
            time.sleep(0.2)
        ck.check("the detail shows the victim's reasons (its verdict's)",
                 reasons and set(reasons) == set(api_v["reasons"]),
                 f"page {reasons}, api {api_v['reasons']}")
        ck.check("the detail lists a top attacker of the manifest", attackers & set(peers),
                 f"page {peers}, manifest {sorted(attackers)}")
        detail_chart = drv.execute_script(
            "const c = Chart.getChart(document.getElementById('detail-chart'));"
            "return c ? c.data.datasets[0].data.length : -1;")
        ck.check("the detail's chart has data points", detail_chart > 0, detail_chart)
        drv.save_screenshot(os.path.join(args.out, "dashboard-detail.png"))

        drv.find_element(By.CSS_SELECTOR, f'#incidents tr.incident[data-ip="{spoof_victim}"]'
                                          '[data-role="victim"]').click()
        time.sleep(1.2)
        kv = drv.execute_script("return document.getElementById('detail-kv').innerText;")
        line = [l for l in kv.splitlines() if l.startswith("spoofed sources")]
        n = int(line[0].split()[2]) if line and line[0].split()[2].isdigit() else 0
        ck.check("the spoofed victim's detail shows its spoofed sources", n > 10, kv)

        # The search box, for a benign address.
        box = drv.find_element(By.ID, "search-ip")
        box.clear()
        box.send_keys(benign)
        drv.find_element(By.CSS_SELECTOR, "#search button").click()
        level = ""
        t_end = time.monotonic() + 5
        while time.monotonic() < t_end and not level:
            level = (texts(drv, "#search-level") or [""])[0].strip().lower()
            time.sleep(0.1)
        ck.check(f"the search box answers low for benign {benign}", level == "low", level)
        drv.save_screenshot(os.path.join(args.out, "dashboard-search.png"))

        # Events: the trail names both victims; the filter narrows it to one.
        evs = drv.execute_script(
            "return [...document.querySelectorAll('#events tbody tr')].map(t => t.dataset.ip);")
        ck.check("the event trail names both victims",
                 syn_victim in evs and spoof_victim in evs, evs[:20])
        f = drv.find_element(By.ID, "event-filter")
        f.send_keys(spoof_victim)
        time.sleep(0.3)
        evs = drv.execute_script(
            "return [...document.querySelectorAll('#events tbody tr')].map(t => t.dataset.ip);")
        ck.check("the event filter keeps only that IP's events",
                 evs and all(ip == spoof_victim for ip in evs), evs[:20])

        logs = drv.get_log("browser")
        errors = [l for l in logs if l.get("level") == "SEVERE"]
        ck.check("no console errors", not errors, errors[:5])
        watcher.stop = True
        env.stop(p)
        auth_mode(env, ck, drv, ddosd, pcap, syn_victim)
    finally:
        drv.quit()
    ck.finish()


if __name__ == "__main__":
    main()
