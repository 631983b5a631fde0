// How a proven certificate is shown, on the check page and the printable
// certificate: every Annex I field, sealed fields as sealed (with their
// commitment), never names that a node merely claims.
"use strict";

const certview = (() => {
  const el = (...a) => kp.el(...a);

  /** The CLI's status words: `awaiting-approval` reads AWAITING APPROVAL, never ISSUED. */
  function statusWord(status) {
    return String(status || "").replace(/-/g, " ").toUpperCase();
  }

  function text(v) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  function origin(o) {
    if (o === "mixed" || (o && o.mixed !== undefined)) return "Mixed origin";
    if (o && Array.isArray(o.countries)) return o.countries.join(", ");
    return text(o);
  }

  function party(p) {
    return p ? `${p.name}, ${p.address}` : "—";
  }

  /**
   * The exporter, importer and details: in the clear, sealed (commitment
   * and recipients), or as a loaded document opened them (`opened`).
   */
  function parties(c, opened) {
    const p = c.parties || {};
    if (p.plain) {
      return [
        ["Exporter", party(p.plain.exporter)],
        ["Importer", party(p.plain.importer)],
        ["Commercial details", p.plain.details || "—"],
        ["Sealing", "NOT SEALED: readable by every node"],
      ];
    }
    const s = p.sealed || {};
    const to = (s.recipients || []).map((r) => r.authority).join(" and ");
    if (opened) {
      return [
        ["Exporter", party(opened.exporter)],
        ["Importer", party(opened.importer)],
        ["Commercial details", opened.details || "—"],
        ["Sealing", `sealed to ${to}; shown from the loaded document, which matches the proven commitment ${s.commitment}`],
      ];
    }
    const sealed = `SEALED (readable by ${to} only)`;
    return [
      ["Exporter", sealed],
      ["Importer", sealed],
      ["Commercial details", sealed],
      ["Commitment of the sealed fields", text(s.commitment)],
    ];
  }

  /** Rows of every Annex I field of certificate `c`. */
  function fields(c, opened) {
    return [
      ["Certificate number", c.number],
      ["Exporting Participant", c.exporting],
      ["Issuing authority", c.issuing_authority],
      ["Importing Participant", c.importing],
      ["Destination", c.destination],
      ...parties(c, opened),
      ["Country of origin", origin(c.origin)],
      ["Origin zones", (c.origin_zones || []).join(", ") || "—"],
      ["Date of issue", c.issued_on],
      ["Date of expiry", c.expires_on],
    ];
  }

  function table(rows, caption) {
    const t = el("table", { class: "fields" });
    if (caption) t.append(el("caption", {}, caption));
    for (const [k, v] of rows) t.append(el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, text(v))));
    return t;
  }

  function lines(c) {
    const t = el("table", { class: "lines" },
      el("caption", {}, "Contents"),
      el("tr", {}, ...["HS code", "Carats", "Value (USD)", "Parcels"].map((h) => el("th", { scope: "col" }, h))));
    for (const l of c.lines || []) {
      t.append(el("tr", {}, el("td", {}, text(l.hs_code)), el("td", { class: "num" }, text(l.carats)),
        el("td", { class: "num" }, text(l.value_usd)), el("td", { class: "num" }, text(l.parcels))));
    }
    return t;
  }

  function acts(history) {
    const ol = el("ol", { class: "acts" });
    for (const [event, height] of history || []) ol.append(el("li", {}, `${event} — block ${height}`));
    return ol;
  }

  function alerts(list) {
    const ul = el("ul", { class: "alerts" });
    for (const a of list || []) ul.append(el("li", { class: "alert" }, el("strong", {}, `${a.kind.toUpperCase()}: `), a.detail));
    return ul;
  }

  return { statusWord, fields, table, lines, acts, alerts, text };
})();
