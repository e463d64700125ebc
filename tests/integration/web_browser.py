#!/usr/bin/env python3
"""Drives Debian's chromium (headless) through the owner's page over the
DevTools protocol on a pipe (--remote-debugging-pipe: no port, no npm
packages, the standard library only).

  sign in (typed and clicked as a user would) -> the page is live (SSE)
  -> SHARE_CMD (the primary CLI) runs -> the share appears as installed
     without a reload, its steps S4..S15 drawn with times -> screenshot
  -> Cancel clicked, the confirmation accepted -> the share shows revoked
     without a reload -> screenshot

Bounded: every wait has a deadline, the whole run --timeout seconds; the
browser is stopped by PID and its profile (a temporary directory) removed.
Prints one line "share SHARE_ID" on success; exit status 1 and a reason on
failure."""
import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time


class Fail(Exception):
    pass


class Browser:
    def __init__(self, chromium, spki, out_dir, deadline):
        self.deadline = deadline
        self.profile = tempfile.mkdtemp(prefix="tapshare-chromium.")
        r_in, self.w = os.pipe()      # we write, the browser reads fd 3
        self.r, w_out = os.pipe()     # the browser writes fd 4, we read
        r_in_h, w_out_h = os.dup(r_in), os.dup(w_out)

        def child_fds():
            os.dup2(r_in_h, 3)
            os.dup2(w_out_h, 4)

        args = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--remote-debugging-pipe", "--user-data-dir=" + self.profile, "--no-first-run",
                "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--disable-quic", "--password-store=basic",
                "--use-mock-keychain", "--window-size=1100,1000",
                "--ignore-certificate-errors-spki-list=" + spki, "about:blank"]
        self.log = open(os.path.join(out_dir, "chromium.log"), "w")
        # its own process group (id = its PID): stopping it stops its helpers
        self.proc = subprocess.Popen(args, preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, start_new_session=True)
        for fd in (r_in, w_out, r_in_h, w_out_h):
            os.close(fd)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def close(self):
        try:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=10)
            try:  # helpers left behind by a browser that died
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        finally:
            for fd in (self.w, self.r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def _read_msg(self, until):
        while b"\0" not in self.buf:
            left = min(until, self.deadline) - time.monotonic()
            if left <= 0:
                raise Fail("timed out waiting for the browser")
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise Fail("the browser went away (see chromium.log)")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        mid = self.next_id
        m = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            m["sessionId"] = self.session
        os.write(self.w, json.dumps(m).encode() + b"\0")
        until = time.monotonic() + timeout
        while True:
            r = self._read_msg(until)
            if r.get("id") == mid:
                if "error" in r:
                    raise Fail("%s: %s" % (method, r["error"]))
                return r.get("result", {})
            self.on_event(r)

    def on_event(self, ev):
        if ev.get("method") == "Page.javascriptDialogOpening":
            # the page's confirm() before a cancel: accept, as the user would
            self.events.append(ev)
            m = {"id": 0, "method": "Page.handleJavaScriptDialog", "params": {"accept": True},
                 "sessionId": ev.get("sessionId")}
            self.next_id += 1
            m["id"] = self.next_id
            os.write(self.w, json.dumps(m).encode() + b"\0")

    def pump(self, seconds):
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            try:
                self.on_event(self._read_msg(until))
            except Fail:
                if time.monotonic() >= self.deadline:
                    raise
                return

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise Fail("page script failed: %s" % r["exceptionDetails"].get("text"))
        return r.get("result", {}).get("value")

    def wait_for(self, expr, what, timeout):
        until = min(time.monotonic() + timeout, self.deadline)
        while time.monotonic() < until:
            v = self.eval(expr)
            if v:
                return v
            self.pump(0.2)
        raise Fail("timed out (%d s) waiting for %s" % (timeout, what))

    def click(self, selector):
        rect = self.eval("(() => { const e = document.querySelector(%s); if (!e) return null;"
                         " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
                         " return [r.x + r.width / 2, r.y + r.height / 2]; })()" % json.dumps(selector))
        if not rect:
            raise Fail("nothing to click at %s" % selector)
        for t in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": t, "x": rect[0], "y": rect[1], "button": "left",
                                                  "clickCount": 1})

    def type_into(self, selector, text):
        self.click(selector)
        self.send("Input.insertText", {"text": text})

    def screenshot(self, path):
        r = self.send("Page.captureScreenshot", {"format": "png"})
        import base64
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--url", required=True)
    ap.add_argument("--spki", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--passphrase", required=True)
    ap.add_argument("--share-cmd", required=True, help="shell command that makes a share (the primary CLI)")
    ap.add_argument("--out", required=True, help="directory for screenshots and chromium.log")
    ap.add_argument("--timeout", type=float, default=240)
    a = ap.parse_args()
    # a SIGTERM (timeout(1), ctest) still stops the browser: finally blocks run
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    os.makedirs(a.out, exist_ok=True)
    deadline = time.monotonic() + a.timeout
    b = Browser(a.chromium, a.spki, a.out, deadline)
    share_proc = None
    try:
        targets = b.send("Target.getTargets", session=False, timeout=60)["targetInfos"]
        page = next((t for t in targets if t["type"] == "page"), None)
        if page is None:
            page = {"targetId": b.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]}
        b.session = b.send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True},
                           session=False)["sessionId"]
        for d in ("Page.enable", "Runtime.enable", "Network.enable"):
            b.send(d)
        b.send("Page.navigate", {"url": a.url})
        b.wait_for("document.body && document.body.dataset.view === 'login'", "the sign-in form", 60)

        # sign in as a user would: type, click
        b.type_into("#login-user", a.user)
        b.type_into("#login-pass", a.passphrase)
        b.click("#login-submit")
        b.wait_for("document.body.dataset.view === 'main'", "the signed-in page", 60)
        b.wait_for("document.body.dataset.live === '1'", "the live event stream", 30)
        if b.eval("document.getElementById('user').textContent") != a.user:
            raise Fail("the page does not name the signed-in user")
        # the session cookie as the browser stored it
        cookies = b.send("Network.getCookies", {"urls": [a.url]})["cookies"]
        sess = [c for c in cookies if c["name"] == "__Host-tapshare_session"]
        if len(sess) != 1 or not sess[0]["httpOnly"] or not sess[0]["secure"] or sess[0].get("sameSite") != "Strict":
            raise Fail("session cookie flags wrong: %s" % [{k: v for k, v in c.items() if k != "value"} for c in sess])
        if "tapshare_session" in (b.eval("document.cookie") or ""):
            raise Fail("the session cookie is visible to the page's script")
        b.eval("window.__tsNoReload = 1; true")

        # a share made by the CLI appears, live
        share_proc = subprocess.Popen(a.share_cmd, shell=True, stdout=open(os.path.join(a.out, "share-cmd.log"), "w"),
                                      stderr=subprocess.STDOUT)
        sid = b.wait_for("(() => { const s = document.querySelector('.share [data-state=\"installed\"]');"
                         " return s ? s.closest('.share').dataset.shareId : null; })()",
                         "the share to appear as installed", 120)
        if b.eval("window.__tsNoReload") != 1:
            raise Fail("the page was reloaded: not a live update")
        if not int(b.eval("document.body.dataset.events || '0'")) > 0:
            raise Fail("no event came over the stream")
        steps = b.eval("Array.from(document.querySelectorAll('.share[data-share-id=\"%s\"] circle'))"
                       ".map(c => c.dataset.step + '=' + c.dataset.done).join(',')" % sid)
        for s in ("S4", "S12", "S13", "S14", "S15"):
            if s + "=1" not in steps:
                raise Fail("step %s not drawn as done: %s" % (s, steps))
        if "S17=1" in steps:
            raise Fail("S17 drawn before any cancel: %s" % steps)
        b.pump(0.5)
        b.screenshot(os.path.join(a.out, "owner-page-installed.png"))
        try:
            share_proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise Fail("the CLI's share did not finish")
        if share_proc.returncode != 0:
            raise Fail("the CLI's share failed (share-cmd.log)")

        # cancel it from the page; it ends revoked, live
        b.click('.share[data-share-id="%s"] button.cancel' % sid)
        b.wait_for("(() => { const c = document.querySelector('.share[data-share-id=\"%s\"] [data-state]');"
                   " return c && c.dataset.state === 'revoked'; })()" % sid, "the share to show revoked", 120)
        if not any(e.get("method") == "Page.javascriptDialogOpening" for e in b.events):
            raise Fail("no confirmation was asked before the cancel")
        if b.eval("window.__tsNoReload") != 1:
            raise Fail("the page was reloaded: not a live update")
        steps = b.eval("Array.from(document.querySelectorAll('.share[data-share-id=\"%s\"] circle'))"
                       ".map(c => c.dataset.step + '=' + c.dataset.done).join(',')" % sid)
        if "S16=1" not in steps or "S17=1" not in steps:
            raise Fail("S16/S17 not drawn after the cancel: %s" % steps)
        b.pump(0.3)
        b.screenshot(os.path.join(a.out, "owner-page-revoked.png"))
        print("share " + sid)
        return 0
    except Fail as e:
        try:
            b.screenshot(os.path.join(a.out, "owner-page-failure.png"))
        except Exception:
            pass
        print("browser test failed: %s" % e, file=sys.stderr)
        return 1
    finally:
        if share_proc is not None and share_proc.poll() is None:
            share_proc.terminate()
            share_proc.wait(timeout=10)
        b.close()


if __name__ == "__main__":
    sys.exit(main())
