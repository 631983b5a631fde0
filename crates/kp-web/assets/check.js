// The certificate check page: a number (typed, or from a scanned QR code)
// checked in the browser by the WebAssembly verifier; the verdict, status,
// alerts, "as of" and chain of acts shown, and what the check trusts.
"use strict";

(() => {
  const el = (...a) => kp.el(...a);
  const VERDICTS = {
    "authentic": ["AUTHENTIC", "ok"],
    "not-authentic": ["NOT AUTHENTIC", "bad"],
    "not-found": ["NOT FOUND", "warn"],
    "cannot-decide": ["CANNOT DECIDE", "warn"],
  };

  function asOf(v) {
    return `as of height ${v.as_of_height}, time ${v.as_of_time}`;
  }

  function show(result, number) {
    const slot = document.getElementById("result");
    slot.replaceChildren();
    const v = result.verdict || {};
    let [word, tone] = VERDICTS[v.verdict] || ["CANNOT DECIDE", "warn"];
    if (v.verdict === "cannot-decide" && /max-age|stale/i.test(v.reason || "")) word = "CANNOT DECIDE / STALE";
    const box = el("div", {
      class: `verdict ${tone}`, id: "verdict", "data-verdict": v.verdict || "cannot-decide",
      "data-trusted-height": String(result.trusted_height === undefined ? "" : result.trusted_height),
    },
      el("p", { class: "word" }, word),
      el("p", {}, `Certificate ${number}`));
    slot.append(box);
    if (v.verdict === "authentic") {
      const c = v.certificate;
      box.append(
        el("p", { class: "status" }, "Status: ", el("strong", { id: "status" }, certview.statusWord(v.status))),
        el("p", { id: "as-of" }, asOf(v)));
      const alerts = v.alerts || [];
      slot.append(el("h2", {}, "Alerts"),
        alerts.length ? certview.alerts(alerts) : el("p", { id: "no-alerts" }, "No alert: no sanction, seizure, enhanced vigilance or compromised authority is proven for this certificate."));
      slot.append(el("h2", {}, "Certificate"), certview.table(certview.fields(c)), certview.lines(c));
      slot.append(el("h2", {}, "Chain of acts"), certview.acts(v.history));
      if (result.digest) slot.append(el("p", { class: "help" }, `Certificate fingerprint (as on its QR code): ${result.digest}`));
      slot.append(el("p", {}, el("a", { href: `/web/print.html?number=${encodeURIComponent(c.number)}` }, "Printable certificate")));
      const from = result.trusted_height ? `from block ${result.trusted_height}, which this browser verified from the genesis before,` : "from the genesis";
      slot.append(el("p", { class: "help" }, `Proven ${from} by block headers, validator signatures and Merkle proofs; the node's word was not needed.`));
    } else if (v.verdict === "not-found") {
      box.append(el("p", { id: "as-of" }, `The ledger proves that no certificate of this number exists, ${asOf(v)}.`));
      for (const s of v.seizures || []) {
        slot.append(el("p", { class: "alert" }, `SEIZURE: a shipment presented under this number was seized in ${s.report.territory} at ${s.report.location} on ${s.report.seized_on}.`));
      }
    } else {
      box.append(el("p", { id: "reason" }, v.reason || "no reason given"));
    }
    showGenesis(result.genesis);
  }

  function showGenesis(g) {
    if (!g) return;
    document.getElementById("genesis-hash").textContent = g.hash;
    const note = document.getElementById("genesis-pin");
    if (g.pinned !== g.hash) {
      note.textContent = `WARNING: this browser pinned ${g.pinned}; this node serves another genesis.`;
      note.className = "alert";
    } else {
      note.textContent = g.firstUse ? "(remembered now, on first use: compare it with the KP's published fingerprint)" : "(the fingerprint this browser pinned)";
      note.className = "";
    }
  }

  async function run(number, paper) {
    const slot = document.getElementById("result");
    slot.setAttribute("aria-busy", "true");
    slot.replaceChildren(el("p", {}, `Checking ${number}…`));
    const result = await verifier.check(number, paper);
    show(result, number);
    slot.setAttribute("aria-busy", "false");
  }

  /** Checks the number a scanned QR code names (scan.js calls it). */
  async function fromCode(text) {
    const code = await verifier.call({ op: "paper", text });
    if (code.error) throw new Error(code.error);
    document.getElementById("number").value = code.number;
    const url = new URL(location.href);
    url.search = `?code=${encodeURIComponent(text)}`;
    history.replaceState(null, "", url);
    await run(code.number, text);
  }
  window.kpCheckCode = fromCode;

  document.addEventListener("DOMContentLoaded", async () => {
    kp.onNumberForm("check-form", (number) => run(number, null));
    document.getElementById("pin-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const value = document.getElementById("pin").value.trim();
      if (/^[0-9a-fA-F]{64}$/.test(value)) verifier.pin(value);
      try { showGenesis(await verifier.genesis()); } catch (_) { /* shown on the next check */ }
    });
    try { showGenesis(await verifier.genesis()); } catch (e) {
      document.getElementById("genesis-hash").textContent = `unavailable: ${e.message}`;
    }
    const params = new URLSearchParams(location.search);
    if (params.get("code")) {
      fromCode(params.get("code")).catch((e) => {
        document.getElementById("result").replaceChildren(el("p", { class: "error" }, `The code cannot be read: ${e.message}`));
      });
    } else if (params.get("number")) {
      document.getElementById("number").value = params.get("number");
      run(params.get("number").trim().toUpperCase(), null);
    }
  });
})();
