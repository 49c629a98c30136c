#!/usr/bin/python3
"""Integration test of lbd's status page and `lbctl top` (ctest: lb_status_page_test).

Starts three HTTP backends and lbd on loopback, then
  - checks the routes of the metrics listener (/, /status.json, /metrics, 405, 404);
  - opens / in headless Chromium (Debian's chromium + chromium-driver + python3-selenium,
    installed by scripts/setup): the page loads, shows every real server, and a weight
    changed with `lbctl weight` shows within 2 s without a reload of the page;
  - runs `lbctl top --iterations 2` and checks both frames list every server;
  - reloads with `global.status_auth`: / and /status.json answer 401 without or with wrong
    credentials, 200 with them (also in the browser), /metrics stays open.
Every wait is bounded; the whole run takes ~15-25 s. --screenshot PATH saves the page.
Exit 0 on success, 1 on failure, 77 (skipped) when LBD_SKIP_BROWSER_TESTS=1 and no browser.
"""

import argparse
import base64
import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


class Backend(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"hello from " + str(self.server.server_address[1]).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # not there yet
            pass
        time.sleep(0.05)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


def http(method, url, auth=None):
    """(status, headers, body) of one request; errors are answers too."""
    req = urllib.request.Request(url, method=method)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def check(cond, message):
    if not cond:
        raise AssertionError(message)


class Lbd:
    def __init__(self, lbd, lbctl, workdir, backends):
        self.lbctl_path = lbctl
        self.config = os.path.join(workdir, "lbd.yaml")
        self.socket = os.path.join(workdir, "lbd.sock")
        self.metrics = free_port()
        self.listen = free_port()
        self.backends = backends
        self.write_config()
        self.log = open(os.path.join(workdir, "lbd.log"), "w")
        self.proc = subprocess.Popen([lbd, "-c", self.config], stdout=self.log, stderr=self.log)
        wait_for("lbd's metrics listener", lambda: http("GET", self.url("/metrics"))[0] == 200, 10)

    def write_config(self, status_auth=None):
        servers = "".join("      - {address: 127.0.0.1:%d, weight: 1}\n" % p for p in self.backends)
        auth = "  status_auth: %s\n" % status_auth if status_auth else ""
        with open(self.config, "w") as f:
            f.write("global:\n  workers: 1\n  control_socket: %s\n  metrics_listen: 127.0.0.1:%d\n"
                    "  drain_timeout: 1s\n%svirtual_services:\n  - name: web\n"
                    "    listen: 127.0.0.1:%d\n    scheduler: rr\n    real_servers:\n%s"
                    % (self.socket, self.metrics, auth, self.listen, servers))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.metrics, path)

    def lbctl(self, *args, timeout=20):
        return subprocess.run([self.lbctl_path, "-s", self.socket, *args], capture_output=True,
                              text=True, timeout=timeout)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def check_routes(lbd):
    status, headers, body = http("GET", lbd.url("/"))
    check(status == 200 and headers["Content-Type"].startswith("text/html"), "GET / -> %d" % status)
    check(b"<title>lbd status</title>" in body, "the page's title")
    check(b"http://" not in body and b"https://" not in body, "the page links nothing outside")
    status, headers, body = http("HEAD", lbd.url("/"))
    check(status == 200 and body == b"", "HEAD / -> %d, %d bytes" % (status, len(body)))
    status, headers, body = http("GET", lbd.url("/status.json"))
    doc = json.loads(body)
    check(status == 200 and headers["Content-Type"] == "application/json", "GET /status.json")
    check(len(doc["services"][0]["servers"]) == len(lbd.backends) and "rates" in doc,
          "status.json has the servers and the rates")
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = http(method, lbd.url("/"))
        check(status == 405 and headers["Allow"] == "GET, HEAD", "%s / -> %d" % (method, status))
    check(http("POST", lbd.url("/status.json"))[0] == 405, "POST /status.json is 405")
    check(http("GET", lbd.url("/metrics"))[0] == 200, "GET /metrics")
    check(http("GET", lbd.url("/nope"))[0] == 404, "GET /nope is 404")


def new_browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,900", "--no-first-run", "--disable-extensions"):
        options.add_argument(a)
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(driver), options=options)


def server_cells(browser, cls):
    """{address: text of td.CLS} of every server row now on the page."""
    return browser.execute_script(
        "const out = {}; for (const r of document.querySelectorAll('tr.server'))"
        " out[r.dataset.server] = r.querySelector('td.' + arguments[0]).textContent; return out;",
        cls)


def check_page(browser, lbd, screenshot):
    addresses = ["127.0.0.1:%d" % p for p in lbd.backends]
    browser.get(lbd.url("/"))
    wait_for("every server on the page",
             lambda: sorted(server_cells(browser, "weight")) == sorted(addresses), 5)
    check(browser.title == "lbd status", "title %r" % browser.title)
    check(set(server_cells(browser, "weight").values()) == {"1"}, "weights 1 on the page")
    # Traffic, so that the rates and charts have something to show.
    for _ in range(30):
        urllib.request.urlopen("http://127.0.0.1:%d/" % lbd.listen, timeout=5).read()
    browser.execute_script("window.__not_reloaded = 42;")
    r = lbd.lbctl("weight", "web", addresses[1], "7")
    check(r.returncode == 0, "lbctl weight: %s%s" % (r.stdout, r.stderr))
    start = time.monotonic()
    wait_for("the new weight on the page",
             lambda: server_cells(browser, "weight")[addresses[1]] == "7", 2.0)
    print("weight 7 shown %.2fs after lbctl weight" % (time.monotonic() - start))
    check(browser.execute_script("return window.__not_reloaded;") == 42, "the page was reloaded")
    wait_for("conn/s of the servers",
             lambda: any(float(v) > 0 for v in server_cells(browser, "cps").values()), 5)
    entries = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);")
    check(all(e.startswith(lbd.url("/")) for e in entries), "external resources: %r" % entries)
    if screenshot:
        time.sleep(3)  # a few more samples for the charts
        browser.save_screenshot(screenshot)
        print("screenshot:", screenshot)


def check_top(lbd):
    r = lbd.lbctl("top", "--iterations", "2", "--interval", "0.3")
    check(r.returncode == 0, "lbctl top exit %d: %s" % (r.returncode, r.stderr))
    frames = r.stdout.split("\n\n")
    check(len(frames) == 2, "two frames, got %d:\n%s" % (len(frames), r.stdout))
    for frame in frames:
        check("TCP  127.0.0.1:%d rr (web)" % lbd.listen in frame, "service line:\n" + frame)
        for p in lbd.backends:
            check("-> 127.0.0.1:%d" % p in frame, "server %d in:\n%s" % (p, frame))
    check("\x1b[" not in r.stdout, "no ANSI codes when stdout is not a terminal")
    # The second frame has rates (numbers, not '-') for every server.
    rows = [l for l in frames[1].splitlines() if l.startswith("  -> ")]
    check(all(l.split()[5] != "-" for l in rows), "rates in the second frame:\n" + frames[1])
    print(r.stdout)
    bad = lbd.lbctl("top", "--interval", "0")
    check(bad.returncode == 2 and "bad --interval" in bad.stderr, "lbctl top --interval 0")


def check_auth(browser, lbd):
    lbd.write_config(status_auth="ops:s3cret")
    r = lbd.lbctl("reload")
    check(r.returncode == 0, "lbctl reload: %s%s" % (r.stdout, r.stderr))
    for path in ("/", "/status.json"):
        status, headers, _ = http("GET", lbd.url(path))
        check(status == 401 and headers["WWW-Authenticate"].startswith("Basic realm="),
              "GET %s without credentials -> %d" % (path, status))
        check(http("GET", lbd.url(path), auth="ops:wrong")[0] == 401, "wrong password")
        check(http("GET", lbd.url(path), auth="ops:s3cret")[0] == 200, "right password")
    check(http("GET", lbd.url("/metrics"))[0] == 200, "/metrics stays open")
    if browser is None:
        return
    browser.get(lbd.url("/"))
    check("<title>lbd status</title>" not in browser.page_source, "the page without credentials")
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {
        "Authorization": "Basic " + base64.b64encode(b"ops:s3cret").decode()}})
    browser.get(lbd.url("/"))
    wait_for("the servers on the page with credentials",
             lambda: len(server_cells(browser, "weight")) == len(lbd.backends), 5)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lbd", required=True)
    parser.add_argument("--lbctl", required=True)
    parser.add_argument("--screenshot")
    args = parser.parse_args()
    try:
        import selenium  # noqa: F401
        have_browser = shutil.which("chromium") is not None
    except ImportError:
        have_browser = False
    if not have_browser:
        message = "status_page_test: needs chromium, chromium-driver, python3-selenium " \
                  "(scripts/setup installs them)"
        if os.environ.get("LBD_SKIP_BROWSER_TESTS") == "1":
            print(message + "; skipped")
            return 77
        print(message, file=sys.stderr)
        return 1

    backends = []
    for _ in range(3):
        srv = ThreadingServer(("127.0.0.1", 0), Backend)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        backends.append(srv)
    workdir = tempfile.mkdtemp(prefix="lbd-status-page-")
    lbd = None
    browser = None
    try:
        lbd = Lbd(args.lbd, args.lbctl, workdir, [b.server_address[1] for b in backends])
        check_routes(lbd)
        browser = new_browser()
        check_page(browser, lbd, args.screenshot)
        check_top(lbd)
        check_auth(browser, lbd)
        print("status_page_test: 1 passed, 0 failed")
        return 0
    except AssertionError as e:
        print("status_page_test: FAILED: %s" % e, file=sys.stderr)
        if lbd is not None:
            with open(os.path.join(workdir, "lbd.log")) as f:
                sys.stderr.write(f.read()[-3000:])
        return 1
    finally:
        if browser is not None:
            browser.quit()
        if lbd is not None:
            lbd.stop()
        for b in backends:
            b.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
