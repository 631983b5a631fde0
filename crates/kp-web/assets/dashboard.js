// The observer and Participant dashboard: network health, resolutions with
// their signature bars, sanctions, statistics with charts, mirror figures
// and anomalies, kept current by the node's event stream (/v1/events).
//
// Everything comes from the node's /v1 API with the caller's scope: a
// section the scope does not cover says so and offers the token field.
// The page builds its DOM from text (kp.el), never from HTML strings.
"use strict";

(() => {
  const { api, el, TOKEN_KEY } = kp;
  const SVG = "http://www.w3.org/2000/svg";
  const FLOWS = ["exports", "imports", "production"];
  const LIVE_LOG_MAX = 30;
  const PERIODS_SHOWN = 4;

  const state = {
    participants: [],
    status: null,
    lastEventId: null,
    pending: 0,
    timers: {},
    // Statistics loads overlap (a form submit, a token change, a
    // certificate event): only the newest one may write the section.
    statsSeq: 0,
    // The Participant whose quarterly figures this token was refused, so
    // that a reload of the half-years keeps saying why.
    quarterRefused: null,
  };

  // ---- helpers -------------------------------------------------------

  function slot(id) {
    return document.getElementById(id);
  }

  function fill(id, ...children) {
    const node = slot(id);
    node.replaceChildren(...children);
    return node;
  }

  /** What to show when a call failed: a plain refusal with the token field, or the error. */
  function failure(e, what) {
    if (e.status === 401 || e.status === 403) {
      const focus = el("button", { type: "button", class: "secondary" }, "Paste a token");
      focus.addEventListener("click", () => slot("token").focus());
      return el(
        "p",
        { class: "denied", role: "note" },
        `${what} needs a wider scope than this browser has (${e.status} ${e.code || ""}): ${e.message}`,
        focus,
      );
    }
    return el("p", { class: "error-box" }, `${what} could not be read: ${e.message}`);
  }

  /** Runs `fn` once, `ms` after the first call of a burst (later calls of the burst join it). */
  function soon(name, ms, fn) {
    if (state.timers[name]) return;
    state.timers[name] = setTimeout(() => {
      state.timers[name] = null;
      fn();
    }, ms);
  }

  function amount(text) {
    const n = Number(text);
    return Number.isFinite(n) ? n : 0;
  }

  function fmt(n, digits = 2) {
    return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function time(ms) {
    if (!ms && ms !== 0) return "—";
    const t = typeof ms === "number" ? new Date(ms) : new Date(ms);
    return Number.isNaN(t.getTime()) ? String(ms) : t.toISOString().replace(".000Z", "Z");
  }

  function facts(pairs) {
    const dl = el("dl", { class: "facts" });
    for (const [k, v] of pairs) dl.append(el("dt", {}, k), el("dd", {}, v));
    return dl;
  }

  // ---- access --------------------------------------------------------

  function showAccess() {
    const token = localStorage.getItem(TOKEN_KEY);
    slot("access-state").textContent = token
      ? `Reading the node with the saved token (${token.slice(0, 8)}…). The node decides what it shows.`
      : "Reading the node as an anonymous caller: what the node gives callers without a token.";
  }

  function setupAccess() {
    showAccess();
    slot("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = slot("token").value.trim();
      if (!value) return;
      localStorage.setItem(TOKEN_KEY, value);
      slot("token").value = "";
      reloadAll();
    });
    slot("token-forget").addEventListener("click", () => {
      localStorage.removeItem(TOKEN_KEY);
      reloadAll();
    });
  }

  function reloadAll() {
    showAccess();
    state.quarterRefused = null;
    slot("stats-body").setAttribute("aria-busy", "true");
    loadHealth();
    loadParticipants().then(() => {
      loadResolutions();
      loadStatistics();
    });
    connectEvents();
  }

  // ---- network health -----------------------------------------------

  async function loadHealth() {
    try {
      const [s, ready] = await Promise.all([
        api("/v1/status"),
        api("/v1/health/ready").catch((e) => ({ ok: false, problems: [e.message] })),
      ]);
      state.status = s;
      // The header's node line (common.js writes it once) follows the chain.
      const line = slot("node-status");
      if (line) line.textContent = `${s.node} · ${s.chain_id} · height ${s.height}`;
      const age = s.block_time_ms ? Math.max(0, Date.now() - s.block_time_ms) : null;
      const body = [
        facts([
          ["Chain", s.chain_id],
          ["This node", `${s.node} (${s.role})`],
          ["Height", String(s.height)],
          ["Last block", `${time(s.block_time_ms || s.block_time)}${age === null ? "" : ` (${Math.round(age / 1000)} s ago)`}`],
          ["Round", String(s.round)],
          ["Peers", String(s.peers)],
          ["Validators", String(s.validators)],
          ["Mempool", `${s.mempool} pending`],
          ["Ready", ready.ok ? "yes" : `no: ${(ready.problems || []).join("; ")}`],
        ]),
      ];
      if (Array.isArray(s.validators_seen) && s.validators_seen.length) {
        const rows = s.validators_seen.map((v) => {
          const seen = typeof v.last_signed_height === "number";
          const behind = seen ? s.height - v.last_signed_height : null;
          return el(
            "tr",
            { class: behind !== null && behind <= 2 ? "" : "flagged" },
            el("th", { scope: "row" }, behind !== null && behind <= 2 ? v.participant : `${v.participant} (behind)`),
            el("td", {}, seen ? String(v.last_signed_height) : "not since this node started"),
            el("td", {}, behind === null ? "—" : String(behind)),
          );
        });
        body.push(
          el(
            "div",
            { class: "scroll", tabindex: "0", role: "region", "aria-label": "Validators' last signed heights" },
            el(
              "table",
              { class: "figures", id: "validators-seen" },
              el("caption", {}, "Validators: the last block each signed the commit of"),
              el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Validator"), el("th", { scope: "col" }, "Last signed height"), el("th", { scope: "col" }, "Blocks behind"))),
              el("tbody", {}, ...rows),
            ),
          ),
        );
      }
      fill("health-body", ...body);
    } catch (e) {
      fill("health-body", failure(e, "The node's status"));
    }
  }

  // ---- participants and sanctions ------------------------------------

  async function loadParticipants() {
    try {
      const list = await api("/v1/participants");
      state.participants = list.items || [];
      showSanctions();
      fillParticipantChoice();
    } catch (e) {
      fill("sanctions-body", failure(e, "The membership list"));
    }
  }

  function scopeText(scope) {
    if (typeof scope === "string") return scope;
    if (scope && scope["partial-exports"]) {
      const p = scope["partial-exports"];
      return `partial exports${p.monitor ? `, approved by ${p.monitor}` : ""}`;
    }
    return JSON.stringify(scope);
  }

  function showSanctions() {
    const sanctioned = state.participants.filter((m) => m.sanction);
    if (!sanctioned.length) {
      fill("sanctions-body", el("p", { class: "muted" }, "No sanction is in force."));
      return;
    }
    fill(
      "sanctions-body",
      ...sanctioned.map((m) => {
        const s = m.sanction;
        const zones = s.scope && s.scope["partial-exports"] ? s.scope["partial-exports"].green_zones || [] : [];
        return el(
          "div",
          { class: "sanction", "data-participant": m.participant.code },
          el("div", {}, el("strong", {}, `${m.participant.code} · ${m.participant.name || ""}`), " — ", el("span", { class: "scope" }, scopeText(s.scope))),
          facts([
            ["Zones", zones.length ? zones.join(", ") : "—"],
            ["Other origins", s.origin === "refuse" ? "refused" : "flagged for enhanced vigilance"],
            ["Since height", String(s.since_height)],
            ["Resolution", String(s.resolution).slice(0, 16)],
            ["Membership", String(m.status)],
          ]),
        );
      }),
    );
  }

  // ---- resolutions ----------------------------------------------------

  function outcomeOf(r) {
    const o = r.outcome;
    if (typeof o === "string") return { kind: o, text: o };
    const kind = Object.keys(o || {})[0] || "unknown";
    const d = o[kind] || {};
    let text = `${kind} at height ${d.height}`;
    if (kind === "rejected") text += ` by ${d.by}: ${d.reason}`;
    if (kind === "failed" && d.reason) text += `: ${d.reason.message || d.reason.code || ""}`;
    return { kind, text };
  }

  function actionText(action) {
    if (typeof action === "string") return action;
    const kind = Object.keys(action || {})[0] || "";
    const d = action[kind];
    if (d && typeof d === "object" && d.participant) return `${kind} ${d.participant}`;
    if (typeof d === "string") return `${kind} ${d}`;
    return kind;
  }

  function resolutionView(r) {
    const signed = r.signed_by || [];
    const missing = r.missing || [];
    const needed = signed.length + missing.length;
    const outcome = outcomeOf(r);
    const bar = el("div", {
      class: "sigbar",
      role: "img",
      "aria-label": `${signed.length} of ${needed} signatures; missing: ${missing.join(", ") || "none"}`,
    });
    for (const code of signed) bar.append(el("span", { class: "seat signed", title: `${code} signed` }, `✓ ${code}`));
    for (const code of missing) bar.append(el("span", { class: "seat missing", title: `${code} has not signed` }, code));
    return el(
      "article",
      { class: "resolution", "data-id": r.id, "data-outcome": outcome.kind, "data-signed": String(signed.length), "data-needed": String(needed) },
      el("div", { class: "title" }, r.proposal.title || "(untitled)"),
      el("div", { class: "meta" }, `${actionText(r.proposal.action)} · proposed by ${r.proposer} at height ${r.proposed_height} · id ${r.id.slice(0, 12)}`),
      bar,
      el(
        "div",
        { class: "signatures" },
        `${signed.length} of ${needed} signed`,
        missing.length && outcome.kind === "pending" ? ` · missing: ${missing.join(", ")}` : "",
      ),
      el("div", { class: "meta" }, "Deadline ", time(r.deadline), " · ", el("span", { class: `outcome ${outcome.kind}` }, outcome.text)),
    );
  }

  async function loadResolutions() {
    try {
      const items = [];
      let after = null;
      // At most 5 pages of 100: the newest are shown.
      for (let i = 0; i < 5; i++) {
        const page = await api(`/v1/resolutions?limit=100${after ? `&after=${after}` : ""}`);
        items.push(...(page.items || []));
        if (!page.next) break;
        after = page.next;
      }
      state.pending = items.filter((r) => outcomeOf(r).kind === "pending").length;
      if (!items.length) {
        fill("resolutions-body", el("p", { class: "muted" }, "No resolution has been proposed."));
        return;
      }
      // Pending first, then the newest.
      items.sort((a, b) => {
        const pa = outcomeOf(a).kind === "pending" ? 0 : 1;
        const pb = outcomeOf(b).kind === "pending" ? 0 : 1;
        return pa - pb || b.proposed_height - a.proposed_height;
      });
      fill("resolutions-body", ...items.slice(0, 20).map(resolutionView));
    } catch (e) {
      fill("resolutions-body", failure(e, "The list of resolutions"));
    }
  }

  // ---- statistics ---------------------------------------------------------

  function fillParticipantChoice() {
    const select = slot("stats-participant");
    const current = select.value;
    const trading = state.participants.filter((m) => m.participant.kind !== "observer");
    select.replaceChildren(...trading.map((m) => el("option", { value: m.participant.code }, `${m.participant.code} · ${m.participant.name || ""}`)));
    if (current && trading.some((m) => m.participant.code === current)) select.value = current;
  }

  /** The last `count` periods of `granularity` up to the one holding `ms`. */
  function periodsUpTo(ms, granularity, count) {
    const d = new Date(ms || Date.now());
    let year = d.getUTCFullYear();
    let n = granularity === "quarter" ? Math.floor(d.getUTCMonth() / 3) + 1 : Math.floor(d.getUTCMonth() / 6) + 1;
    const per = granularity === "quarter" ? 4 : 2;
    const letter = granularity === "quarter" ? "Q" : "H";
    const out = [];
    for (let i = 0; i < count; i++) {
      out.unshift(`${year}${letter}${n}`);
      n -= 1;
      if (n === 0) { n = per; year -= 1; }
    }
    return out;
  }

  async function statisticsOf(code, periods) {
    return Promise.all(periods.map((p) => api(`/v1/statistics/${encodeURIComponent(code)}?period=${p}`)));
  }

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** Grouped bars: one group per period, one bar per flow. */
  function chart(answers, measure) {
    // As wide as its box (at most 640 units), so that labels stay legible on a phone.
    const W = Math.round(Math.min(640, Math.max(320, slot("stats-body").clientWidth || 640)));
    const H = 240, left = 64, bottom = 28, top = 10;
    const values = answers.map((a) => FLOWS.map((f) => amount(a.statistics[f] && a.statistics[f][measure])));
    const max = Math.max(1, ...values.flat());
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-labelledby": "chart-title" });
    root.append(svg("title", { id: "chart-title" }, `${measure === "carats" ? "Carats" : "US dollars"} by period: exports, imports, production`));
    const plotH = H - bottom - top;
    for (let i = 0; i <= 4; i++) {
      const y = top + plotH - (plotH * i) / 4;
      root.append(svg("line", { x1: left, x2: W, y1: y, y2: y, class: "grid" }));
      root.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, fmt((max * i) / 4, 0)));
    }
    const groupW = (W - left) / Math.max(1, answers.length);
    const barW = Math.max(4, (groupW - 16) / FLOWS.length);
    answers.forEach((a, g) => {
      const x0 = left + g * groupW + 8;
      FLOWS.forEach((f, k) => {
        const v = values[g][k];
        const h = (plotH * v) / max;
        const rect = svg("rect", { x: x0 + k * barW, y: top + plotH - h, width: barW - 2, height: Math.max(0, h), class: f });
        rect.append(svg("title", {}, `${a.period} ${f}: ${fmt(v)}`));
        root.append(rect);
      });
      root.append(svg("text", { x: x0 + (barW * FLOWS.length) / 2, y: H - 8, "text-anchor": "middle" }, a.period));
    });
    root.append(svg("line", { x1: left, x2: W, y1: top + plotH, y2: top + plotH, class: "axis" }));
    return root;
  }

  function figuresTable(answers) {
    const head = el("tr", {}, el("th", { scope: "col" }, "Period"));
    for (const f of FLOWS) head.append(el("th", { scope: "col" }, `${f} (count)`), el("th", { scope: "col" }, `${f} carats`), el("th", { scope: "col" }, `${f} USD`));
    const rows = answers.map((a) => {
      const tr = el("tr", {}, el("th", { scope: "row" }, `${a.period}${a.view === "published" ? " (published)" : ""}`));
      for (const f of FLOWS) {
        const t = a.statistics[f] || {};
        tr.append(el("td", {}, String(t.count ?? "—")), el("td", {}, fmt(amount(t.carats))), el("td", {}, fmt(amount(t.value_usd))));
      }
      return tr;
    });
    return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Figures behind the chart" }, el("table", { class: "figures", id: "stats-table" }, el("caption", {}, "Figures behind the chart"), el("thead", {}, head), el("tbody", {}, ...rows)));
  }

  /** What `code` exported to each partner against what the partner confirmed importing from it. */
  async function mirror(code, period, own, flagged) {
    const byPartner = own.statistics.exports_by_partner;
    if (!byPartner) {
      return el("p", { class: "muted" }, `The mirror comparison needs per-partner figures (scope participant:${code} or operator); this scope sees the published totals.`);
    }
    const rows = [];
    for (const [partner, totals] of Object.entries(byPartner)) {
      let theirs = null;
      try {
        const a = await api(`/v1/statistics/${encodeURIComponent(partner)}?period=${period}`);
        const t = a.statistics.imports_by_partner && a.statistics.imports_by_partner[code];
        theirs = a.statistics.imports_by_partner ? (t ? amount(t.carats) : 0) : null;
      } catch (_) {
        theirs = null;
      }
      const ours = amount(totals.carats);
      const diff = theirs === null ? null : Math.abs(ours - theirs) / Math.max(ours, theirs, 0.01) * 100;
      const isFlagged = flagged.has(`${code}>${partner}`);
      rows.push(
        el(
          "tr",
          { class: isFlagged ? "flagged" : "" },
          el("th", { scope: "row" }, `${code} → ${partner}${isFlagged ? " (anomaly)" : ""}`),
          el("td", {}, fmt(ours)),
          el("td", {}, theirs === null ? "not visible to this scope" : fmt(theirs)),
          el("td", {}, diff === null ? "—" : `${fmt(diff, 1)} %`),
        ),
      );
    }
    if (!rows.length) return el("p", { class: "muted" }, `No exports by ${code} in ${period}.`);
    return el(
      "div",
      { class: "scroll", tabindex: "0", role: "region", "aria-label": "Mirror comparison" },
      el(
        "table",
        { class: "figures", id: "mirror-table" },
        el("caption", {}, `Mirror comparison, ${period}: carats certified as exported against carats the partner confirmed as imported`),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Pair"), el("th", { scope: "col" }, "Exported"), el("th", { scope: "col" }, "Confirmed imported"), el("th", { scope: "col" }, "Difference"))),
        el("tbody", {}, ...rows),
      ),
    );
  }

  function anomalyView(a) {
    const kind = Object.keys(a)[0];
    const d = a[kind] || {};
    const figures = Object.entries(d)
      .filter(([k]) => k !== "period")
      .map(([k, v]) => [k.replace(/_/g, " "), typeof v === "object" ? JSON.stringify(v) : String(v)]);
    return el("div", { class: "anomaly", "data-kind": kind }, el("div", { class: "kind" }, `${kind.replace(/-/g, " ")} · ${d.period || ""}`), facts(figures));
  }

  async function loadAnomalies(period) {
    try {
      const answer = await api(`/v1/anomalies?period=${period}`);
      const items = answer.items || [];
      fill("anomalies-body", items.length ? el("div", {}, ...items.map(anomalyView)) : el("p", { class: "muted" }, `No anomaly in ${period}.`));
      const flagged = new Set();
      for (const a of items) {
        const m = a["mirror-mismatch"];
        if (m) flagged.add(`${m.exporter}>${m.importer}`);
      }
      return flagged;
    } catch (e) {
      fill("anomalies-body", failure(e, "Anomalies"));
      return new Set();
    }
  }

  async function loadStatistics() {
    const seq = ++state.statsSeq;
    const body = slot("stats-body");
    body.setAttribute("aria-busy", "true");
    try {
      await statisticsView(() => seq === state.statsSeq);
    } finally {
      if (seq === state.statsSeq) body.setAttribute("aria-busy", "false");
    }
  }

  /** Builds the statistics section; writes it only while `current()` holds. */
  async function statisticsView(current) {
    const show = (...children) => {
      if (current()) fill("stats-body", ...children);
    };
    const code = slot("stats-participant").value;
    if (!code) {
      show(el("p", { class: "muted" }, "No trading Participant is listed."));
      return;
    }
    let granularity = slot("stats-granularity").value;
    const measure = slot("stats-measure").value;
    const at = state.status && state.status.block_time_ms;
    let note = null;
    let answers;
    try {
      answers = await statisticsOf(code, periodsUpTo(at, granularity, PERIODS_SHOWN));
    } catch (e) {
      if (e.status === 403 && granularity === "quarter") {
        // The node publishes coarser figures to this scope: show those.
        granularity = "half";
        slot("stats-granularity").value = "half";
        state.quarterRefused = { code, why: e.message };
        try {
          answers = await statisticsOf(code, periodsUpTo(at, granularity, PERIODS_SHOWN));
        } catch (e2) {
          show(failure(e2, "Statistics"));
          return;
        }
      } else {
        show(failure(e, "Statistics"));
        return;
      }
    }
    const refused = state.quarterRefused;
    if (granularity === "half" && refused && refused.code === code) {
      note = el("p", { class: "denied", role: "note" }, `Quarterly figures of ${code} need scope participant:${code} or operator (${refused.why}). Showing the published half-years.`);
    }
    const last = answers[answers.length - 1];
    const flagged = await loadAnomalies(last.period);
    const legend = el("ul", { class: "legend" }, ...FLOWS.map((f) => el("li", {}, el("span", { class: `swatch ${f}`, "aria-hidden": "true" }), f)));
    const parts = [];
    if (note) parts.push(note);
    parts.push(
      el("p", {}, `${code}, ${answers[0].period} to ${last.period}, ${answers[0].view === "published" ? "published totals" : "full figures"}.`),
      legend,
      chart(answers, measure),
      figuresTable(answers),
      await mirror(code, last.period, last, flagged),
    );
    show(...parts);
  }

  function setupStatistics() {
    slot("stats-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      loadStatistics();
    });
  }

  // ---- live updates ---------------------------------------------------------

  let source = null;
  let reader = null;

  function logEvent(kind, id, data) {
    const log = slot("live-log");
    let what = kind;
    if (kind === "block") what = `block ${data.height} (${data.txs ?? data.transactions ?? 0} transactions)`;
    else if (data && typeof data === "object") {
      const inner = Object.keys(data).find((k) => k !== "height");
      what = `${kind}: ${inner || ""}`;
    }
    log.prepend(el("li", {}, el("span", { class: "id" }, id ? `${id} ` : ""), what));
    while (log.children.length > LIVE_LOG_MAX) log.lastChild.remove();
  }

  function onEvent(kind, id, raw) {
    let data = null;
    try { data = JSON.parse(raw); } catch (_) { data = raw; }
    if (id) state.lastEventId = id;
    if (kind !== "block") logEvent(kind, id, data);
    switch (kind) {
      case "block":
        soon("health", 1000, loadHealth);
        // A signature that does not complete a resolution makes no event
        // of its own: a block with transactions while one is pending may
        // hold one, so the pending ones are read again.
        if (data && data.txs > 0 && state.pending > 0) soon("resolutions", 200, loadResolutions);
        break;
      case "resolution":
        soon("resolutions", 200, loadResolutions);
        soon("participants", 500, loadParticipants);
        break;
      case "ledger":
        soon("participants", 500, loadParticipants);
        break;
      case "certificate":
        soon("statistics", 3000, loadStatistics);
        break;
      case "lagged":
        // Events were lost: read everything again.
        soon("all", 500, reloadAll);
        break;
      default:
        break;
    }
  }

  function liveState(on, text) {
    fill("live-state", el("span", { class: on ? "live-dot on" : "live-dot", "aria-hidden": "true" }), text);
  }

  const KINDS = ["block", "certificate", "resolution", "seizure", "ledger", "lagged"];

  /** With no token: the browser's EventSource (it resumes with Last-Event-ID itself). */
  function connectEventSource() {
    source = new EventSource("/v1/events");
    source.onopen = () => liveState(true, "Connected to /v1/events.");
    source.onerror = () => {
      if (source && source.readyState === EventSource.CLOSED) {
        // Refused (401/403): the browser will not retry.
        liveState(false, "Live events need scope participant:CODE or operator: paste a token above.");
      } else {
        liveState(false, "Disconnected; the browser reconnects and resumes after the last event.");
      }
    };
    for (const kind of KINDS) source.addEventListener(kind, (ev) => onEvent(kind, ev.lastEventId, ev.data));
  }

  /**
   * With a token: EventSource cannot send an Authorization header, so the
   * stream is read with fetch, and a reconnection sends Last-Event-ID as
   * EventSource would.
   */
  async function connectWithToken(token, generation) {
    let delay = 1000;
    while (generation === connectGeneration) {
      try {
        const headers = { Accept: "text/event-stream", Authorization: `Bearer ${token}` };
        if (state.lastEventId) headers["Last-Event-ID"] = state.lastEventId;
        const response = await fetch("/v1/events", { headers });
        if (!response.ok) {
          let message = `HTTP ${response.status}`;
          try { message = (await response.json()).error.message; } catch (_) { /* keep the status */ }
          liveState(false, `Live events refused (${response.status}): ${message}`);
          if (response.status === 401 || response.status === 403) return;
          throw new Error(message);
        }
        liveState(true, "Connected to /v1/events with the saved token.");
        delay = 1000;
        reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        let ev = { kind: "message", id: "", data: [] };
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let nl;
          while ((nl = buffer.indexOf("\n")) >= 0) {
            const line = buffer.slice(0, nl).replace(/\r$/, "");
            buffer = buffer.slice(nl + 1);
            if (line === "") {
              if (ev.data.length) onEvent(ev.kind, ev.id, ev.data.join("\n"));
              ev = { kind: "message", id: "", data: [] };
            } else if (line.startsWith("event:")) ev.kind = line.slice(6).trim();
            else if (line.startsWith("id:")) ev.id = line.slice(3).trim();
            else if (line.startsWith("data:")) ev.data.push(line.slice(5).replace(/^ /, ""));
          }
          // A bound on what a stream without line ends can make us hold.
          if (buffer.length > 1 << 20) buffer = "";
        }
      } catch (_) {
        liveState(false, "Disconnected; reconnecting and resuming after the last event.");
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  let connectGeneration = 0;

  function connectEvents() {
    connectGeneration += 1;
    if (source) { source.close(); source = null; }
    if (reader) { reader.cancel().catch(() => {}); reader = null; }
    const token = localStorage.getItem(TOKEN_KEY);
    if (token) connectWithToken(token, connectGeneration);
    else connectEventSource();
  }

  // ---- start --------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    setupAccess();
    setupStatistics();
    reloadAll();
  });
})();
