#!/usr/bin/env python3
"""Drives the web console in headless Chromium (Selenium + Debian's chromedriver) and checks what
a person would see; writes a screenshot of each step to --artifacts.

  console_browser.py --write W_URL --read R_URL --token QUERY_TOKEN --command-token COMMAND_TOKEN
                     --hostile TEXT --artifacts DIR

Run by console_test.sh on a stack that holds the demo's order-1, orders paged-01..11 of
customer-paged and order-hostile (its third event's product id and request id are TEXT).
Every wait is a condition with a deadline (WebDriverWait); exit 1 on the first failed check.
"""
import argparse
import os
import sys
import tempfile
import time
import urllib.request
from urllib.parse import quote

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

DEADLINE_S = 20


class Console:
    def __init__(self, args):
        self.args = args
        self.profile = tempfile.TemporaryDirectory(prefix="console-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                     "--window-size=1400,2100", f"--user-data-dir={self.profile.name}"):
            opts.add_argument(flag)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        self.passed = 0
        self.started = time.monotonic()

    def close(self):
        self.driver.quit()
        self.profile.cleanup()

    # ---- helpers ----
    def wait(self, what, condition):
        try:
            return WebDriverWait(self.driver, DEADLINE_S, poll_frequency=0.1).until(
                lambda d: condition())
        except TimeoutException:
            self.fail(f"timed out after {DEADLINE_S}s waiting until {what}")

    def check(self, ok, what):
        if not ok:
            self.fail(what)
        self.passed += 1
        print(f"ok   {what} [{time.monotonic() - self.started:.1f} s]", flush=True)

    def fail(self, what):
        print(f"FAIL {what} [{time.monotonic() - self.started:.1f} s]", flush=True)
        self.shot("failure")
        for entry in self.driver.get_log("browser"):
            print("     browser:", entry.get("message"))
        raise SystemExit(1)

    def shot(self, name):
        os.makedirs(self.args.artifacts, exist_ok=True)
        path = os.path.join(self.args.artifacts, name + ".png")
        self.driver.save_screenshot(path)
        print(f"     screenshot {path}")

    # Read in one script: the panels re-render, so an element found first may be gone when its
    # text is asked for (a stale element reference).
    def texts(self, css):
        return self.js("return [...document.querySelectorAll(arguments[0])]"
                       ".map(e => e.textContent.trim());", css)

    def text(self, element_id):
        return self.js("const e = document.getElementById(arguments[0]);"
                       "return e ? e.textContent.trim() : null;", element_id)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def no_script_ran(self):
        # An alert would make every later command raise; the flag is what the payload sets.
        flag = self.js("return window.__xss === undefined ? null : String(window.__xss);")
        markup = self.js("return document.querySelectorAll('main img, main script').length;")
        return flag is None and markup == 0

    # ---- steps ----
    def set_token(self, base):
        self.driver.get(base + "/ui")
        field = self.driver.find_element(By.ID, "token")
        field.send_keys(self.args.token)
        field.send_keys(Keys.ENTER)
        self.wait("the token is stored",
                  lambda: self.js("return sessionStorage.getItem('orders-console-token');")
                  == self.args.token)
        self.check(self.args.token not in self.driver.current_url, "the token is not in the URL")

    def timeline_of_order_1(self, base, name):
        self.driver.get(base + "/ui?order=order-1")  # sessionStorage keeps the token in this tab
        self.wait("order-1's timeline has 5 events and the state Shipped",
                  lambda: len(self.texts("#timeline tbody tr")) == 5
                  and self.text("state-status") == "Shipped")
        types = self.texts("#timeline tbody tr td:nth-child(2)")
        self.check(types == ["OrderCreated", "OrderItemAdded", "OrderItemAdded", "OrderConfirmed",
                             "OrderShipped"], f"{name}: the 5 events in order, as stored: {types}")
        self.check(self.text("state-status") == "Shipped", f"{name}: the state says Shipped")
        request_ids = self.texts("#timeline tbody tr td:nth-child(5)")
        self.check(all(request_ids), f"{name}: each event shows its request id")
        self.shot(f"{name}-timeline")

    def slider_at_version_3(self):
        slider = self.driver.find_element(By.ID, "version-slider")
        slider.send_keys(Keys.LEFT, Keys.LEFT)  # 5 -> 3, as a person with the keyboard
        self.wait("the state at version 3 is shown",
                  lambda: self.js("return document.getElementById('state-summary')"
                                  ".dataset.version;") == "3")
        items = self.texts("#state-items tbody tr")
        self.check(len(items) == 2, f"slider at version 3: 2 items ({items})")
        self.check(self.text("state-status") == "Draft", "slider at version 3: Draft")
        diff = self.texts("#state-diff li")
        self.check(any("product-2" in d for d in diff), f"what changed since version 2: {diff}")
        self.shot("write-side-version-3")

    def projections_live(self):
        self.wait("both projections are listed live",
                  lambda: sorted(self.js(
                      "return [...document.querySelectorAll('#projections tbody tr')]"
                      ".filter(r => r.dataset.state === 'live').map(r => r.dataset.projection);"))
                  == ["customers", "orders"])
        self.check(True, "the projections panel shows orders and customers live")

    def live_tail(self):
        self.wait("the live tail shows order-1's OrderShipped",
                  lambda: any("order-1" in r and "OrderShipped" in r
                              for r in self.texts("#tail tbody tr")))
        self.check(True, "the live tail of the global log shows the demo's events")
        self.shot("write-side-overview")

    def live_tail_follows(self):
        # An order created now reaches the open page through the long-polling feed.
        req = urllib.request.Request(
            self.args.write + "/orders", method="POST",
            data=b'{"order_id":"tail-live","customer_id":"customer-tail"}',
            headers={"Authorization": "Bearer " + self.args.command_token,
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as res:
            self.check(res.status == 201, "an order created while the console is open (201)")
        self.wait("the live tail shows the new order",
                  lambda: any("tail-live" in r and "OrderCreated" in r
                              for r in self.texts("#tail tbody tr")))
        self.check(True, "the live tail shows an event appended while it waits")

    def customer_pages(self):
        field = self.driver.find_element(By.ID, "customer-id")
        field.clear()
        field.send_keys("customer-paged", Keys.ENTER)
        self.wait("page 1 of customer-paged has 10 orders",
                  lambda: len(self.texts("#customer-orders tbody tr")) == 10)
        first_page = self.texts("#customer-orders tbody tr td:first-child")
        self.driver.find_element(By.ID, "customer-next").click()
        self.wait("page 2 has the 11th order",
                  lambda: len(self.texts("#customer-orders tbody tr")) == 1)
        second_page = self.texts("#customer-orders tbody tr td:first-child")
        self.check(sorted(first_page + second_page) == [f"paged-{i:02d}" for i in range(1, 12)],
                   "two pages of customer-paged hold its 11 orders once each")
        self.driver.find_element(By.ID, "customer-prev").click()
        self.wait("back on page 1", lambda: len(self.texts("#customer-orders tbody tr")) == 10)
        self.check(True, "Previous page goes back to the first page")

    def hostile_text(self, base):
        hostile = self.args.hostile
        self.driver.get(base + "/ui?order=order-hostile")
        self.wait("order-hostile's 3 events and its state at version 3",
                  lambda: len(self.texts("#timeline tbody tr")) == 3
                  and self.js("return document.getElementById('state-summary')"
                              ".dataset.version;") == "3")
        self.check(hostile in self.texts("#state-items tbody td"),
                   "the hostile product id is shown as text in the state")
        self.check(hostile in self.texts("#timeline tbody td"),
                   "the hostile request id is shown as text in the timeline")
        field = self.driver.find_element(By.ID, "customer-id")
        field.clear()
        field.send_keys("customer-hostile", Keys.ENTER)
        self.wait("customer-hostile's order is listed",
                  lambda: any(hostile in t for t in self.texts("#customer-orders tbody td")))
        self.check(self.no_script_ran(), "no script of the hostile text ran, no element was made")
        self.shot("write-side-hostile")

        link = "<img src=x onerror=\"window.__xss=3;alert(3)\">"
        self.driver.get(base + "/ui?order=" + quote(link, safe=""))
        self.wait("the hostile deep link is answered",
                  lambda: "answered 400" in self.text("timeline-message"))
        self.check(link in self.text("timeline-message"), "a hostile order id in a link is text")
        self.check(self.no_script_ran(), "the hostile deep link ran no script, made no element")
        self.shot("write-side-hostile-link")

    def run(self):
        w, r = self.args.write, self.args.read
        self.set_token(w)
        self.timeline_of_order_1(w, "write-side")
        self.slider_at_version_3()
        self.projections_live()
        self.live_tail()
        self.live_tail_follows()
        self.customer_pages()
        self.hostile_text(w)
        # The read-side's console reads the write-side cross-origin (CORS, preflighted: a token).
        self.set_token(r)
        self.timeline_of_order_1(r, "read-side")
        self.projections_live()
        print(f"{self.passed} checks passed")


def main():
    p = argparse.ArgumentParser()
    for name in ("write", "read", "token", "command-token", "hostile", "artifacts"):
        p.add_argument("--" + name, required=True)
    console = Console(p.parse_args())
    try:
        console.run()
    finally:
        console.close()


if __name__ == "__main__":
    sys.exit(main())
