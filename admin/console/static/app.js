// The console of the tenant gateway (API.md §10). It has no API of its own: it calls the
// management API of the listener that served it, with the credentials typed in, kept in this
// closure only (no cookie, no storage). Every failure shows the API's error message.
(function () {
  "use strict";

  const listener = document.body.dataset.listener; // "public" or "operator"
  const $ = (id) => document.getElementById(id);
  // on wires a handler to the element with id, if this listener's page has it (the page of
  // the other listener's console is removed at start).
  const on = (id, type, fn) => { const e = $(id); if (e) e.addEventListener(type, fn); };
  const state = { auth: "", me: null, subsPage: 0, trPage: 0, numPage: 0, callPage: 0, mainsPage: 0, selected: null, chart: null };
  const PAGE = 10;

  // ---------------------------------------------------------------- helpers
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }

  class APIError extends Error {
    constructor(status, body) {
      const err = body && body.error;
      super(err ? err.message : "the gateway answered HTTP " + status);
      this.status = status;
      this.code = err ? err.code : "";
      this.details = err && err.details ? err.details : {};
    }
  }

  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json", Authorization: state.auth }, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, { error: { code: "", message: "the gateway cannot be reached (" + e.message + ")" } });
    }
    let data = null;
    if (r.status !== 204) {
      const text = await r.text();
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (!r.ok) throw new APIError(r.status, data);
    return data;
  }

  function showError(e, what) {
    const box = $("error");
    box.replaceChildren();
    const head = (what ? what + ": " : "") + e.message;
    box.append(el("strong", { text: e.code ? e.code : "Error" }), " " + head);
    const extra = Object.entries(e.details || {}).map(([k, v]) => k + ": " + v).join(", ");
    if (extra) box.append(el("span", { class: "details", text: " (" + extra + ")" }));
    box.append(el("button", { type: "button", class: "quiet dismiss", text: "Dismiss", onclick: () => { box.hidden = true; } }));
    box.hidden = false;
    $("notice").hidden = true;
  }

  function notice(text) {
    $("error").hidden = true;
    $("notice").textContent = text;
    $("notice").hidden = false;
  }

  // run calls fn, showing the API's message if it fails; it reports success.
  async function run(what, fn) {
    try {
      await fn();
      return true;
    } catch (e) {
      showError(e, what);
      return false;
    }
  }

  const money = (v, cur) => (v === null || v === undefined ? "shared with the parent" : v + (cur ? " " + cur : ""));
  const when = (t) => (t ? t.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "never");
  const short = (t) => (t ? t.slice(0, 16).replace("T", " ") : "");
  const badge = (s) => el("span", { class: "badge " + s, text: s });

  const perms = (a) => Object.entries(a.permissions).filter(([, on]) => on).map(([k]) => k).join(", ") || "none";
  const kyc = (a) => a.kyc_mode.replace("_", " ") + ", " + a.kyc_status.replace("_", " ") + (a.kyc_calls_blocked ? " (calls blocked)" : "");
  const calls = (a) => (a.active_calls ?? 0) + " open now; " + (a.calls_per_second || a.max_concurrent_calls
    ? [a.calls_per_second ? "at most " + a.calls_per_second + " per second" : "", a.max_concurrent_calls ? "at most " + a.max_concurrent_calls + " at once" : ""].filter(Boolean).join(", ")
    : "no call limits of its own");

  function facts(dl, rows) {
    dl.replaceChildren();
    for (const [k, v] of rows) {
      dl.append(el("dt", { text: k }), el("dd", {}, v instanceof Node ? v : String(v)));
    }
  }

  function pager(box, page, meta, go) {
    box.replaceChildren();
    if (!meta || meta.total_count === 0) return;
    const from = meta.offset + 1, to = Math.min(meta.offset + meta.limit, meta.total_count);
    box.append(
      el("button", { type: "button", class: "quiet", disabled: page === 0, text: "Previous", onclick: () => go(page - 1) }),
      el("span", { text: from + "–" + to + " of " + meta.total_count }),
      el("button", { type: "button", class: "quiet", disabled: !meta.next, text: "Next", onclick: () => go(page + 1) }));
  }

  function reveal(prefix, label, token) {
    $(prefix + "token-label").textContent = label;
    $(prefix + "token-value").textContent = token;
    $(prefix + "token-box").hidden = false;
    $(prefix + "token-copy").focus();
  }

  function wireTokenBox(prefix) {
    if (!$(prefix + "token-box")) return;
    $(prefix + "token-copy").addEventListener("click", async () => {
      const v = $(prefix + "token-value").textContent;
      try {
        await navigator.clipboard.writeText(v);
        notice("The token is on the clipboard.");
      } catch (e) {
        const r = document.createRange();
        r.selectNodeContents($(prefix + "token-value"));
        getSelection().removeAllRanges();
        getSelection().addRange(r);
        notice("Copying was refused by the browser: the token is selected, copy it with Ctrl+C.");
      }
    });
    $(prefix + "token-hide").addEventListener("click", () => {
      $(prefix + "token-value").textContent = "";
      $(prefix + "token-box").hidden = true;
    });
  }

  // ---------------------------------------------------------------- sign in and out
  for (const n of document.querySelectorAll("[data-for]")) {
    if (n.dataset.for !== listener) n.remove();
  }

  on("signin-form", "submit", async (ev) => {
    ev.preventDefault();
    if (listener === "operator") {
      state.auth = "Bearer " + $("in-op").value.trim();
      const ok = await run("Sign in", () => api("GET", "/admin/v1/Account/?limit=1"));
      if (!ok) { state.auth = ""; return; }
      $("in-op").value = "";
      signedIn("Signed in as the operator");
      $("ops").hidden = false;
      loadMains(0);
      return;
    }
    const id = $("in-id").value.trim(), tok = $("in-token").value.trim();
    state.auth = "Basic " + btoa(id + ":" + tok);
    let me;
    const ok = await run("Sign in", async () => { me = await api("GET", "/v1/Account/" + encodeURIComponent(id) + "/"); });
    if (!ok) { state.auth = ""; return; }
    $("in-token").value = "";
    state.me = me;
    signedIn("Signed in as " + me.name + " (" + me.auth_id + ")");
    $("app").hidden = false;
    refreshAll();
  });

  function signedIn(who) {
    $("signin").hidden = true;
    $("who").textContent = who;
    $("who").hidden = false;
    $("signout").hidden = false;
    $("error").hidden = true;
  }

  on("signout", "click", () => {
    state.auth = "";
    location.reload();
  });

  // ---------------------------------------------------------------- the account holder
  const base = () => "/v1/Account/" + state.me.auth_id + "/";

  function refreshAll() {
    loadAccount();
    loadBalance();
    loadUsage();
    loadSubs(state.subsPage);
    loadTransfers(state.trPage);
    loadNumbers(state.numPage);
    loadCalls(state.callPage);
  }

  async function loadAccount() {
    await run("Account", async () => {
      const a = state.me = await api("GET", base());
      facts($("account"), [
        ["Name", a.name], ["Auth ID", el("code", { text: a.auth_id })], ["Status", badge(a.status)],
        ["Parent", a.parent_auth_id || "none (main account)"], ["Depth", a.depth],
        ["Rate limit", a.rate_limit + " requests/s"], ["Calls", calls(a)],
        ["Permissions", perms(a)], ["KYC", kyc(a)],
        ["Subaccounts", a.subaccount_count + " of at most " + a.max_subaccounts], ["Last used", when(a.last_used)],
      ]);
    });
  }

  async function loadBalance() {
    await run("Balance", async () => {
      const b = await api("GET", base() + "Balance/");
      facts($("balance"), [
        ["Balance", money(b.balance, b.currency)], ["Held by open calls", money(b.held ?? "0.00", b.currency)],
        ["Available", money(b.available, b.currency)], ["Credit limit", money(b.credit_limit, b.currency)],
        ["Paid by", b.billing_auth_id === b.auth_id ? "this account" : b.billing_auth_id],
      ]);
      $("balance").querySelectorAll("dd")[2].classList.add("big");
    });
  }

  // ---- usage chart
  const palette = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
  const day = (d) => d.toISOString().slice(0, 10);

  async function loadUsage() {
    await run("Usage", async () => {
      const end = new Date(), start = new Date(end.getTime() - 29 * 86400000);
      const u = await api("GET", base() + "Usage/?include_subaccounts=true&start=" + day(start) + "&end=" + day(end));
      drawUsage(u, start);
    });
  }

  function drawUsage(u, start) {
    const metric = $("usage-metric").value;
    const days = [], index = {};
    for (let i = 0; i < 30; i++) {
      const d = new Date(start.getTime() + i * 86400000);
      index[day(d)] = i;
      days.push(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) / 1000);
    }
    const routes = {}, totals = {};
    for (const r of u.objects) {
      if (!(r.date in index)) continue; // a compacted month
      routes[r.route] = routes[r.route] || new Array(30).fill(0);
      routes[r.route][index[r.date]] += metric === "count" ? r.count : parseFloat(r.charged);
      totals[r.route] = totals[r.route] || { count: 0, charged: 0 };
      totals[r.route].count += r.count;
      totals[r.route].charged += parseFloat(r.charged);
    }
    const names = Object.keys(routes).sort();
    const box = $("chart");
    if (state.chart) { state.chart.destroy(); state.chart = null; }
    box.replaceChildren();
    $("usage-table").hidden = names.length === 0;
    box.classList.toggle("none", names.length === 0);
    $("usage-totals").replaceChildren(...names.map((n) => el("tr", {},
      el("td", {}, el("code", { text: n })), el("td", { class: "num", text: String(totals[n].count) }),
      el("td", { class: "num", text: totals[n].charged.toFixed(4) + " " + u.currency }))));
    if (names.length === 0) {
      box.append(el("p", { class: "empty", text: "No usage in the last 30 days." }));
      box.setAttribute("aria-label", "usage chart: no usage in the last 30 days");
      return;
    }
    box.setAttribute("aria-label", "usage chart of " + names.length + " routes over 30 days; the table below has the totals");
    const opts = {
      width: Math.max(280, box.clientWidth || 520), height: 240,
      scales: { x: { time: true } },
      axes: [{}, { label: metric === "count" ? "requests" : u.currency, size: 60 }],
      series: [{ label: "day" }].concat(names.map((n, i) => ({
        label: n, stroke: palette[i % palette.length], width: 2, fill: palette[i % palette.length] + "22",
        points: { show: true, size: 5 },
      }))),
    };
    state.chart = new uPlot(opts, [days].concat(names.map((n) => routes[n])), box);
    box.dataset.points = String(names.reduce((s, n) => s + routes[n].filter((v) => v > 0).length, 0));
  }

  on("usage-metric", "change", loadUsage);
  on("usage-reload", "click", loadUsage);

  // ---- subaccounts
  function subsQuery(page) {
    let q = "?limit=" + PAGE + "&offset=" + page * PAGE;
    if ($("f-status").value) q += "&status=" + encodeURIComponent($("f-status").value);
    if ($("f-name").value.trim()) q += "&name=" + encodeURIComponent($("f-name").value.trim());
    return q;
  }

  async function loadSubs(page) {
    await run("Subaccounts", async () => {
      const l = await api("GET", base() + "Subaccount/" + subsQuery(page));
      state.subsPage = page;
      $("tree").replaceChildren(...l.objects.map(node));
      if (l.objects.length === 0) $("tree").append(el("li", { class: "empty", text: "No subaccounts here yet." }));
      pager($("subs-pager"), page, l.meta, loadSubs);
    });
  }

  function node(a) {
    const kids = el("ul", { class: "tree", hidden: true });
    const toggle = a.subaccount_count > 0
      ? el("button", { type: "button", class: "twisty", "aria-expanded": "false", "aria-label": "show the subaccounts of " + a.name, text: "▸" })
      : el("span", { class: "twisty none", "aria-hidden": "true" });
    if (a.subaccount_count > 0) {
      toggle.addEventListener("click", async () => {
        const open = toggle.getAttribute("aria-expanded") === "true";
        if (open) { kids.hidden = true; toggle.setAttribute("aria-expanded", "false"); toggle.textContent = "▸"; return; }
        await run("Subaccounts of " + a.name, async () => {
          const l = await api("GET", "/v1/Account/" + a.auth_id + "/Subaccount/?limit=100");
          kids.replaceChildren(...l.objects.map(node));
          kids.hidden = false;
          toggle.setAttribute("aria-expanded", "true");
          toggle.textContent = "▾";
        });
      });
    }
    const own = a.use_parent_balance ? "spends the parent's balance" : "balance " + money(a.balance, a.currency);
    return el("li", { "data-id": a.auth_id },
      el("div", { class: "node" }, toggle,
        el("div", { class: "who" },
          el("div", {}, el("span", { class: "name", text: a.name }), " ", badge(a.status), " ", el("code", { class: "id", text: a.auth_id })),
          el("div", { class: "muted", text: own + (a.subaccount_count ? " · " + a.subaccount_count + " below" : "") })),
        el("button", { type: "button", class: "quiet manage", "aria-label": "manage " + a.name, text: "Manage", onclick: () => select(a) })),
      kids);
  }

  on("subs-filter", "submit", (ev) => { ev.preventDefault(); loadSubs(0); });

  on("create-form", "submit", async (ev) => {
    ev.preventDefault();
    const body = { name: $("c-name").value.trim(), use_parent_balance: !$("c-own").checked, permissions: { subaccounts: $("c-subs").checked } };
    if ($("c-rate").value) body.rate_limit = Number($("c-rate").value);
    await run("Create subaccount", async () => {
      const a = await api("POST", base() + "Subaccount/", body);
      $("create-form").reset();
      $("create-box").open = false;
      reveal("", "New subaccount " + a.name + " (" + a.auth_id + "). Its auth token is shown this once:", a.auth_token);
      notice("Subaccount " + a.name + " created.");
      loadSubs(0);
      loadAccount();
    });
  });
  wireTokenBox("");

  // ---- the selected subaccount
  const subPath = (a) => "/v1/Account/" + a.parent_auth_id + "/Subaccount/" + a.auth_id + "/";

  function select(a) {
    state.selected = a;
    const d = $("detail");
    d.hidden = false;
    $("detail-h").textContent = "Subaccount " + a.name;
    facts($("detail-facts"), [
      ["Auth ID", el("code", { text: a.auth_id })], ["Status", badge(a.status)],
      ["Balance", a.use_parent_balance ? "spends the parent's" : money(a.balance, a.currency)],
      ["Credit limit", money(a.credit_limit, a.currency)], ["Rate limit", a.rate_limit + " requests/s"],
      ["Calls", calls(a)], ["Permissions", perms(a)], ["KYC", kyc(a)],
      ["Created", when(a.created_at)], ["Last used", when(a.last_used)],
    ]);
    $("d-suspend").hidden = a.status !== "active";
    $("d-reactivate").hidden = a.status !== "suspended";
    // A closed account is final: only deleting it is left.
    for (const id of ["move-form", "limits-form", "rotate-form", "x-close"]) $(id).hidden = a.status === "closed";
    $("x-h").textContent = a.status === "closed" ? "Delete" : "Close or delete";
    $("l-rate").value = a.rate_limit;
    $("l-cps").value = a.calls_per_second ?? 0;
    $("l-conc").value = a.max_concurrent_calls ?? 0;
    for (const p of ["calls", "sms", "cdr", "subaccounts"]) $("p-" + p).checked = a.permissions[p];
    $("l-kyc").value = a.kyc_mode;
    $("l-email").value = a.email || "";
    $("detail-h").tabIndex = -1;
    $("detail-h").focus();
  }

  async function reselect() {
    const a = await api("GET", subPath(state.selected));
    select(a);
    loadSubs(state.subsPage);
    loadBalance();
    loadAccount();
  }

  async function setStatus(status) {
    const a = state.selected;
    await run((status === "active" ? "Reactivate " : "Suspend ") + a.name, async () => {
      await api("PATCH", subPath(a), { status });
      notice(a.name + " is now " + status + ".");
      await reselect();
    });
  }
  on("d-suspend", "click", () => setStatus("suspended"));
  on("d-reactivate", "click", () => setStatus("active"));

  on("move-form", "submit", async (ev) => {
    ev.preventDefault();
    const a = state.selected, kind = $("m-kind").value;
    const body = { to: a.auth_id, amount: $("m-amount").value.trim() };
    if ($("m-ref").value.trim()) body.reference = $("m-ref").value.trim();
    await run("Move to " + a.name, async () => {
      const t = await api("POST", "/v1/Account/" + a.parent_auth_id + "/" + kind + "/", body);
      $("move-form").reset();
      notice("Moved " + t.amount + " " + t.currency + (kind === "CreditTransfer" ? " of credit" : "") + " to " + a.name + ": it now has " + t.to_balance_after + (kind === "CreditTransfer" ? " of credit." : " " + t.currency + "."));
      await reselect();
      loadTransfers(0);
    });
  });

  on("limits-form", "submit", async (ev) => {
    ev.preventDefault();
    const a = state.selected;
    const body = {
      rate_limit: Number($("l-rate").value), calls_per_second: Number($("l-cps").value), max_concurrent_calls: Number($("l-conc").value),
      kyc_mode: $("l-kyc").value, email: $("l-email").value.trim() || null,
      permissions: { calls: $("p-calls").checked, sms: $("p-sms").checked, cdr: $("p-cdr").checked, subaccounts: $("p-subaccounts").checked },
    };
    await run("Save " + a.name, async () => {
      await api("PATCH", subPath(a), body);
      notice("Saved the changes to " + a.name + ".");
      await reselect();
    });
  });

  on("rotate-form", "submit", async (ev) => {
    ev.preventDefault();
    const a = state.selected, body = {};
    if ($("r-grace").value !== "") body.grace_seconds = Number($("r-grace").value);
    await run("Rotate the token of " + a.name, async () => {
      const r = await api("POST", subPath(a) + "Token/", body);
      $("rotate-form").reset();
      notice("Rotated the token of " + a.name + ": the new one is shown once, under Subaccounts.");
      reveal("", "New auth token of " + a.name + " (" + r.auth_id + "), shown this once; the old one " +
        (r.previous_token_expires_at ? "works until " + when(r.previous_token_expires_at) : "no longer works") + ":", r.auth_token);
    });
  });

  on("danger-form", "submit", async (ev) => {
    ev.preventDefault();
    const a = state.selected, action = ev.submitter ? ev.submitter.value : "close";
    await run((action === "delete" ? "Delete " : "Close ") + a.name, async () => {
      if (action === "delete") {
        await api("DELETE", subPath(a) + ($("x-cascade").checked ? "?cascade=true" : ""));
        notice(a.name + " was deleted.");
        $("detail").hidden = true;
        state.selected = null;
      } else {
        await api("PATCH", subPath(a), { status: "closed" });
        notice(a.name + " was closed.");
        await reselect();
      }
      $("danger-form").reset();
      loadSubs(state.subsPage);
      loadBalance();
      loadTransfers(0);
    });
  });

  // ---- transfers
  async function loadTransfers(page) {
    await run("Transfers", async () => {
      const l = await api("GET", base() + "Transfer/?limit=" + PAGE + "&offset=" + page * PAGE);
      state.trPage = page;
      $("transfers").replaceChildren(...l.objects.map((t) => el("tr", {},
        el("td", { class: "when", title: when(t.created_at), text: short(t.created_at) }), el("td", { text: t.kind.replace("_", " ") }),
        el("td", {}, t.from ? el("code", { text: t.from }) : "operator"), el("td", {}, el("code", { text: t.to })),
        el("td", { class: "num", text: t.amount + " " + t.currency }), el("td", { text: t.reference || "" }))));
      if (l.objects.length === 0) $("transfers").append(el("tr", {}, el("td", { colspan: "6", class: "empty", text: "No transfers yet." })));
      pager($("transfers-pager"), page, l.meta, loadTransfers);
    });
  }

  // ---- numbers and open calls
  async function loadNumbers(page) {
    await run("Numbers", async () => {
      const l = await api("GET", base() + "Number/?include_subaccounts=true&limit=" + PAGE + "&offset=" + page * PAGE);
      state.numPage = page;
      $("numbers").replaceChildren(...l.objects.map((n) => el("tr", {},
        el("td", {}, el("code", { text: n.number })), el("td", {}, el("code", { text: n.auth_id })), el("td", { class: "when", text: short(n.updated_at) }))));
      if (l.objects.length === 0) $("numbers").append(el("tr", {}, el("td", { colspan: "3", class: "empty", text: "No numbers yet." })));
      pager($("numbers-pager"), page, l.meta, loadNumbers);
    });
  }

  on("number-form", "submit", async (ev) => {
    ev.preventDefault();
    const n = $("n-number").value.trim(), to = $("n-to").value.trim();
    await run("Move " + n, async () => {
      await api("POST", base() + "Number/" + encodeURIComponent(n) + "/", { auth_id: to });
      $("number-form").reset();
      notice(n + " now belongs to " + to + ".");
      loadNumbers(state.numPage);
    });
  });

  async function loadCalls(page) {
    await run("Open calls", async () => {
      const l = await api("GET", base() + "Hold/?status=open&limit=" + PAGE + "&offset=" + page * PAGE);
      state.callPage = page;
      const cur = state.me.currency;
      $("calls").replaceChildren(...l.objects.map((h) => el("tr", { "data-id": h.hold_id },
        el("td", {}, el("code", { text: h.hold_id }), el("br"), el("code", { class: "muted", text: h.auth_id })),
        el("td", { class: "when", title: when(h.created_at), text: short(h.created_at) }), el("td", { class: "num", text: String(h.granted_seconds) }),
        el("td", { class: "num", text: money(h.held, cur) }))));
      if (l.objects.length === 0) $("calls").append(el("tr", {}, el("td", { colspan: "4", class: "empty", text: "No open calls." })));
      pager($("calls-pager"), page, l.meta, loadCalls);
    });
  }
  on("calls-reload", "click", () => { loadCalls(state.callPage); loadBalance(); loadAccount(); });

  // ---------------------------------------------------------------- the operator
  async function loadMains(page) {
    await run("Main accounts", async () => {
      let q = "?limit=" + PAGE + "&offset=" + page * PAGE;
      if ($("mf-status").value) q += "&status=" + encodeURIComponent($("mf-status").value);
      if ($("mf-name").value.trim()) q += "&name=" + encodeURIComponent($("mf-name").value.trim());
      const l = await api("GET", "/admin/v1/Account/" + q);
      state.mainsPage = page;
      $("mains").replaceChildren(...l.objects.map((a) => el("tr", { "data-id": a.auth_id },
        el("td", { text: a.name }), el("td", {}, el("code", { text: a.auth_id })), el("td", {}, badge(a.status)),
        el("td", { class: "num", text: money(a.balance, a.currency) }), el("td", { class: "num", text: String(a.subaccount_count) }),
        el("td", {},
          el("button", { type: "button", class: "quiet", "aria-label": "credit " + a.name, text: "Credit…", onclick: () => { $("cr-id").value = a.auth_id; $("cr-amount").focus(); } }),
          a.status === "closed" ? null : el("button", {
            type: "button", class: "quiet", text: a.status === "active" ? "Suspend" : "Reactivate",
            "aria-label": (a.status === "active" ? "suspend " : "reactivate ") + a.name,
            onclick: () => run("Status of " + a.name, async () => {
              const s = a.status === "active" ? "suspended" : "active";
              await api("PATCH", "/admin/v1/Account/" + a.auth_id + "/", { status: s });
              notice(a.name + " is now " + s + ".");
              loadMains(state.mainsPage);
            }),
          })))));
      if (l.objects.length === 0) $("mains").append(el("tr", {}, el("td", { colspan: "6", class: "empty", text: "No main accounts yet." })));
      pager($("mains-pager"), page, l.meta, loadMains);
    });
  }

  if (listener === "operator") {
    on("mains-filter", "submit", (ev) => { ev.preventDefault(); loadMains(0); });
    on("main-form", "submit", async (ev) => {
      ev.preventDefault();
      const body = { name: $("cm-name").value.trim() };
      if ($("cm-currency").value.trim()) body.currency = $("cm-currency").value.trim().toUpperCase();
      if ($("cm-email").value.trim()) body.email = $("cm-email").value.trim();
      await run("Create main account", async () => {
        const a = await api("POST", "/admin/v1/Account/", body);
        $("main-form").reset();
        reveal("op-", "New main account " + a.name + " (" + a.auth_id + "). Its auth token is shown this once:", a.auth_token);
        $("cr-id").value = a.auth_id;
        loadMains(0);
      });
    });
    wireTokenBox("op-");
    on("credit-form", "submit", async (ev) => {
      ev.preventDefault();
      const id = $("cr-id").value.trim(), body = { amount: $("cr-amount").value.trim() };
      if ($("cr-ref").value.trim()) body.reference = $("cr-ref").value.trim();
      await run("Credit " + id, async () => {
        const t = await api("POST", "/admin/v1/Account/" + encodeURIComponent(id) + "/Credit/", body);
        $("credit-form").reset();
        notice("Credited " + t.amount + " " + t.currency + " to " + t.to + ": its balance is now " + t.to_balance_after + " " + t.currency + ".");
        loadMains(state.mainsPage);
      });
    });
  }

  (listener === "operator" ? $("in-op") : $("in-id")).focus();
})();
