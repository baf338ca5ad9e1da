// The web console (docs/operations.md#web-console): plain browser JavaScript, no build step.
// Rule: every value from an API reaches the page through textContent or an attribute set by the
// DOM API, never through innerHTML, so an id such as <script>…</script> is shown as text.
"use strict";

(() => {
  const TOKEN_KEY = "orders-console-token";
  const TAIL_ROWS = 200;
  const TAIL_BACKLOG = 20;          // the tail starts this many events before the log's head
  const TAIL_WAIT_MS = 10000;       // the feed's long-poll bound (GET /events?wait_ms)
  const PROJECTIONS_EVERY_MS = 2000;
  const RETRY_MS = 3000;
  const PAGE_SIZE = 10;

  const $ = (id) => document.getElementById(id);
  let config = { service: "", write_url: "", read_url: "" };

  // ---- building the page from data (text only) ----
  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = document.createElement("td");
      if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? "" : String(c);
      tr.appendChild(td);
    }
    return tr;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function say(id, text, isError) {
    const node = $(id);
    node.textContent = text || "";
    node.classList.toggle("error", Boolean(isError));
  }
  function orderLink(id) {
    const a = el("a", id);
    a.href = "/ui?order=" + encodeURIComponent(id);
    a.addEventListener("click", (e) => { e.preventDefault(); openOrder(id); });
    return a;
  }

  // ---- the two services ----
  // The service serving the page is this origin (""); the other one is the configured origin, or
  // null when none is configured (its panels then say so).
  function base(service) {
    if (config.service === service) return "";
    const url = service === "write-side" ? config.write_url : config.read_url;
    return url ? url : null;
  }
  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

  class ApiError extends Error {}
  async function api(service, path, signal) {
    const root = base(service);
    if (root === null) throw new ApiError("no " + service + " configured for this console");
    const headers = {};
    if (token()) headers.Authorization = "Bearer " + token();
    let res;
    try {
      res = await fetch(root + path, { headers, signal, cache: "no-store" });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new ApiError(service + " is not reachable (" + e.message + ")");
    }
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const detail = body && body.detail ? body.detail : "";
      const hint = res.status === 401 || res.status === 403 ? " (set the query token above)" : "";
      throw new ApiError(service + " answered " + res.status + (detail ? ": " + detail : "") + hint);
    }
    return body;
  }

  // ---- (a) order timeline ----
  const timeline = { id: null, events: [], seq: 0 };

  async function openOrder(id) {
    id = String(id).trim();
    if (!id) return;
    $("order-id").value = id;
    history.replaceState(null, "", "/ui?order=" + encodeURIComponent(id));
    const seq = ++timeline.seq;
    timeline.id = id;
    clear($("timeline").tBodies[0]);
    $("version-controls").hidden = true;
    showState(null);
    say("timeline-message", "loading " + id + " …");
    let body;
    try {
      body = await api("write-side", "/orders/" + encodeURIComponent(id) + "/events");
    } catch (e) {
      if (seq === timeline.seq) say("timeline-message", "order " + id + ": " + e.message, true);
      return;
    }
    if (seq !== timeline.seq) return;
    timeline.events = body.events;
    const tbody = $("timeline").tBodies[0];
    for (const ev of body.events) {
      const meta = ev.metadata || {};
      tbody.appendChild(row([ev.version, ev.type, ev.recorded_at, ev.position, meta.request_id,
        meta.trace_id, JSON.stringify(ev.data)]));
    }
    const n = body.events.length;
    const last = n ? body.events[n - 1].type : "";
    say("timeline-message", "order " + id + ": " + n + " event" + (n === 1 ? "" : "s") +
      (last ? ", the last " + last : ""));
    $("timeline").dataset.events = String(n);
    if (n === 0) return;
    const slider = $("version-slider");
    slider.max = String(body.events[n - 1].version);
    slider.value = slider.max;
    $("version-controls").hidden = false;
    await showVersion(Number(slider.value), Number(slider.value) - 1);
  }

  function fillCompare(version, compareTo) {
    const select = $("compare-version");
    clear(select);
    for (let v = 0; v < version; v++) {
      const option = el("option", v === 0 ? "0 (before the order)" : String(v));
      option.value = String(v);
      select.appendChild(option);
    }
    select.value = String(Math.max(0, Math.min(compareTo, version - 1)));
  }

  async function stateAt(version) {
    if (version === 0) return null;
    return api("write-side", "/orders/" + encodeURIComponent(timeline.id) + "/state?version=" + version);
  }

  async function showVersion(version, compareTo) {
    const seq = ++timeline.seq;
    $("version-label").textContent = String(version);
    fillCompare(version, compareTo);
    let after, before;
    try {
      [after, before] = await Promise.all([stateAt(version), stateAt(Number($("compare-version").value))]);
    } catch (e) {
      if (seq === timeline.seq) say("timeline-message", e.message, true);
      return;
    }
    if (seq !== timeline.seq) return;
    showState(after);
    showDiff(before, after);
    $("state-summary").dataset.version = String(version);
  }

  function showState(state) {
    $("state-status").textContent = state ? state.status : "";
    $("state-total").textContent = state ? state.total_amount : "";
    $("state-customer").textContent = state ? state.customer_id : "";
    const tbody = $("state-items").tBodies[0];
    clear(tbody);
    clear($("state-diff"));
    delete $("state-summary").dataset.version;
    if (!state) return;
    for (const item of state.items) tbody.appendChild(row([item.product_id, item.quantity, item.price]));
  }

  // The changes from one state to another, one line each (items by product id).
  function changes(before, after) {
    const out = [];
    const b = before || { status: "(none)", total_amount: "0.00", customer_id: "", items: [] };
    for (const key of ["status", "customer_id", "total_amount"]) {
      if (b[key] !== after[key]) out.push(key + ": " + (b[key] || "(none)") + " → " + after[key]);
    }
    const old = new Map(b.items.map((i) => [i.product_id, i]));
    for (const item of after.items) {
      const was = old.get(item.product_id);
      if (!was) {
        out.push("+ " + item.product_id + " × " + item.quantity + " at " + item.price);
      } else if (was.quantity !== item.quantity || was.price !== item.price) {
        out.push(item.product_id + ": " + was.quantity + " at " + was.price + " → " + item.quantity + " at " + item.price);
      }
      old.delete(item.product_id);
    }
    for (const gone of old.values()) out.push("− " + gone.product_id);
    return out;
  }

  function showDiff(before, after) {
    const list = $("state-diff");
    clear(list);
    const lines = changes(before, after);
    if (lines.length === 0) lines.push("nothing");
    for (const line of lines) list.appendChild(el("li", line));
  }

  // ---- (b) projections ----
  // One refresh loop: a refresh started again (a new token) supersedes the one in flight.
  let projectionsTimer = null;
  let projectionsRun = 0;
  async function refreshProjections() {
    clearTimeout(projectionsTimer);
    const run = ++projectionsRun;
    try {
      const list = await api("read-side", "/projections");
      if (run !== projectionsRun) return;
      const tbody = $("projections").tBodies[0];
      clear(tbody);
      for (const p of list) {
        const tr = row([p.name, p.state, p.last_position, p.lag_events, Number(p.lag_seconds).toFixed(3), p.parked]);
        tr.dataset.projection = String(p.name);
        tr.dataset.state = String(p.state);
        tr.cells[1].className = p.state === "live" ? "live" : "rebuilding";
        tbody.appendChild(tr);
      }
      say("projections-message", "updated " + new Date().toLocaleTimeString() + "; refreshes every " +
        PROJECTIONS_EVERY_MS / 1000 + " s");
    } catch (e) {
      if (run !== projectionsRun) return;
      say("projections-message", e.message, true);
    }
    projectionsTimer = setTimeout(refreshProjections, PROJECTIONS_EVERY_MS);
  }

  // ---- (c) live tail of the global log (long polling GET /events) ----
  const tail = { controller: null, after: null, paused: false };

  async function runTail() {
    const controller = new AbortController();
    tail.controller = controller;
    while (!controller.signal.aborted) {
      try {
        if (tail.after === null) {
          const head = await api("write-side", "/events?after_position=0&limit=1", controller.signal);
          tail.after = Math.max(0, head.last_position - TAIL_BACKLOG);
        }
        const page = await api("write-side", "/events?after_position=" + tail.after + "&limit=100&wait_ms=" +
          TAIL_WAIT_MS, controller.signal);
        addTailRows(page.events);
        tail.after = page.next_after_position;
        say("tail-message", "following from position " + tail.after);
      } catch (e) {
        if (controller.signal.aborted) return;
        say("tail-message", e.message + "; retrying", true);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  function addTailRows(events) {
    const tbody = $("tail").tBodies[0];
    for (const ev of events) {
      tbody.insertBefore(row([ev.global_position, orderLink(ev.order_id), ev.version, ev.type, ev.recorded_at]),
        tbody.firstChild);
    }
    while (tbody.rows.length > TAIL_ROWS) tbody.deleteRow(-1);
  }

  function restartTail() {
    if (tail.controller) tail.controller.abort();
    if (!tail.paused) runTail();
  }

  // ---- (d) a customer's orders, keyset paging (GET /orders?customer_id&after) ----
  const customer = { id: null, cursors: [null], page: 0 };

  async function showCustomerPage() {
    const cursor = customer.cursors[customer.page];
    let path = "/orders?customer_id=" + encodeURIComponent(customer.id) + "&limit=" + PAGE_SIZE;
    if (cursor) path += "&after=" + encodeURIComponent(cursor);
    const tbody = $("customer-orders").tBodies[0];
    let body;
    try {
      body = await api("read-side", path);
    } catch (e) {
      say("customer-message", "customer " + customer.id + ": " + e.message, true);
      return;
    }
    clear(tbody);
    for (const o of body.orders) {
      const items = o.items.map((i) => i.product_id + " × " + i.quantity).join(", ");
      tbody.appendChild(row([orderLink(o.order_id), o.status, o.total_amount, items, o.created_at]));
    }
    customer.cursors.length = customer.page + 1;
    if (body.next) customer.cursors.push(body.next);
    $("customer-prev").disabled = customer.page === 0;
    $("customer-next").disabled = !body.next;
    say("customer-message", "customer " + customer.id + ": page " + (customer.page + 1) + ", " +
      body.orders.length + " order" + (body.orders.length === 1 ? "" : "s") + ", newest first");
  }

  // ---- wiring ----
  function onToken(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
    $("token").value = "";
    $("token-state").textContent = value ? "a token is set for this tab" : "no token";
    refreshProjections();
    restartTail();
    if (timeline.id) openOrder(timeline.id);
  }

  function wire() {
    $("token-form").addEventListener("submit", (e) => { e.preventDefault(); onToken($("token").value.trim()); });
    $("token-forget").addEventListener("click", () => onToken(""));
    $("order-form").addEventListener("submit", (e) => { e.preventDefault(); openOrder($("order-id").value); });
    $("version-slider").addEventListener("input", (e) => {
      const v = Number(e.target.value);
      showVersion(v, v - 1);
    });
    $("compare-version").addEventListener("change", () => {
      showVersion(Number($("version-slider").value), Number($("compare-version").value));
    });
    $("tail-toggle").addEventListener("click", () => {
      tail.paused = !tail.paused;
      $("tail-toggle").textContent = tail.paused ? "Resume" : "Pause";
      if (tail.paused) { tail.controller.abort(); say("tail-message", "paused"); } else runTail();
    });
    $("customer-form").addEventListener("submit", (e) => {
      e.preventDefault();
      customer.id = $("customer-id").value.trim();
      customer.cursors = [null];
      customer.page = 0;
      showCustomerPage();
    });
    $("customer-next").addEventListener("click", () => { customer.page++; showCustomerPage(); });
    $("customer-prev").addEventListener("click", () => { customer.page--; showCustomerPage(); });
  }

  async function start() {
    wire();
    try {
      const res = await fetch("/ui/config.json", { cache: "no-store" });
      config = await res.json();
    } catch (e) {
      say("timeline-message", "cannot read /ui/config.json: " + e.message, true);
    }
    $("served-by").textContent = "served by the " + config.service;
    $("token-state").textContent = token() ? "a token is set for this tab" : "no token";
    refreshProjections();
    runTail();
    const order = new URLSearchParams(location.search).get("order");
    if (order) openOrder(order);
  }

  start();
})();
