// The printable certificate: the certificate the WebAssembly verifier
// proved (never the node's unproven word), every Annex I field, and the QR
// code the node draws for it (/v1/certificates/N/qr.svg), which the check
// page reads back. Sealed names are printed only from a document whose
// fields match the proven commitment, checked in WebAssembly.
"use strict";

(() => {
  const el = (...a) => kp.el(...a);
  let proven = null; // { verdict, digest, genesis }
  let opened = null;

  function render() {
    const sheet = document.getElementById("sheet");
    sheet.replaceChildren();
    if (!proven) return;
    const v = proven.verdict;
    if (v.verdict !== "authentic") {
      const word = { "not-authentic": "NOT AUTHENTIC", "not-found": "NOT FOUND" }[v.verdict] || "CANNOT DECIDE";
      sheet.append(el("p", { class: "banner bad", id: "verdict", "data-verdict": v.verdict }, `${word}: nothing to print. ${v.reason || ""}`));
      return;
    }
    const c = v.certificate;
    const qrText = `kpledger-certificate:v1/${proven.chain_id}/${c.number}/${proven.digest}`;
    sheet.append(
      el("div", { class: "head" },
        el("div", {},
          el("h1", {}, "Kimberley Process Certificate"),
          el("p", { class: "sub" }, `No. ${c.number} · ${c.exporting} → ${c.importing}`),
          el("p", { class: "banner ok", id: "verdict", "data-verdict": "authentic" },
            `Verified AUTHENTIC on ledger ${proven.chain_id}, as of height ${v.as_of_height}, time ${v.as_of_time}. Status: ${certview.statusWord(v.status)}.`)),
        el("div", { class: "qr" },
          el("img", { id: "qr", src: `/v1/certificates/${encodeURIComponent(c.number)}/qr.svg`, alt: `QR code of certificate ${c.number}` }),
          el("p", {}, qrText))),
      certview.table(certview.fields(c, opened), "Annex I"),
      certview.lines(c),
      el("p", {}, `Total: ${c.lines.length} line(s).`),
      el("h2", {}, "Chain of acts"),
      certview.acts(v.history),
      el("p", { class: "help" }, `Certificate fingerprint: ${proven.digest}. Genesis: ${proven.genesis_hash}. Check this paper by scanning its QR code on a kpledger node's check page.`));
    if ((v.alerts || []).length) sheet.append(el("h2", {}, "Alerts"), certview.alerts(v.alerts));
    document.getElementById("print").disabled = false;
  }

  async function load(number) {
    opened = null;
    document.getElementById("document-status").textContent = "";
    document.getElementById("sheet").replaceChildren(el("p", {}, `Checking ${number}…`));
    proven = await verifier.check(number, null);
    render();
  }

  async function loadDocument(file) {
    const status = document.getElementById("document-status");
    if (!proven || proven.verdict.verdict !== "authentic") {
      status.textContent = "Show an authentic certificate first.";
      return;
    }
    const text = await file.text();
    const answer = await verifier.call({ op: "document", certificate: proven.verdict.certificate, document: text });
    if (answer.error) {
      status.textContent = answer.error;
      status.className = "alert";
    } else if (!answer.matches) {
      status.textContent = `DOCUMENT MISMATCH: ${answer.detail}. The sealed names are not printed.`;
      status.className = "alert";
      opened = null;
    } else {
      status.textContent = `The document matches the ledger: ${answer.detail}`;
      status.className = "";
      opened = answer.fields;
    }
    render();
  }

  document.addEventListener("DOMContentLoaded", () => {
    kp.onNumberForm("print-form", load);
    document.getElementById("print").addEventListener("click", () => window.print());
    document.getElementById("document").addEventListener("change", (ev) => {
      const file = ev.target.files && ev.target.files[0];
      if (file) loadDocument(file);
    });
    const number = new URLSearchParams(location.search).get("number");
    if (number) {
      document.getElementById("number").value = number;
      load(number.trim().toUpperCase());
    }
  });
})();
