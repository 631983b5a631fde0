// What every page shares: calling the node's API (with the bearer token
// the user saved, if any) and showing the node's height in the header.
"use strict";

const kp = (() => {
  const TOKEN_KEY = "kpledger.token";

  /** GET a JSON document from the node; throws an Error carrying the API's error code. */
  async function api(path, options = {}) {
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    const token = localStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(path, Object.assign({}, options, { headers }));
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
    if (!response.ok) {
      const err = new Error((body && body.error && body.error.message) || `HTTP ${response.status}`);
      err.status = response.status;
      err.code = body && body.error && body.error.code;
      throw err;
    }
    return body;
  }

  /** Text node helper: never build HTML from data the node sent. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  async function showNode() {
    const slot = document.getElementById("node-status");
    if (!slot) return;
    try {
      const s = await api("/v1/status");
      slot.textContent = `${s.node} · ${s.chain_id} · height ${s.height}`;
    } catch (e) {
      slot.textContent = `node unreachable: ${e.message}`;
    }
  }

  /**
   * A form with a certificate number field (`#number`): on submit, the
   * number (trimmed, upper case) goes into the address bar as `?number=`,
   * so that the page can be reloaded or shared, and to `go(number)`.
   */
  function onNumberForm(formId, go) {
    document.getElementById(formId).addEventListener("submit", (ev) => {
      ev.preventDefault();
      const number = document.getElementById("number").value.trim().toUpperCase();
      const url = new URL(location.href);
      url.search = `?number=${encodeURIComponent(number)}`;
      history.replaceState(null, "", url);
      go(number);
    });
  }

  document.addEventListener("DOMContentLoaded", showNode);
  return { api, el, onNumberForm, TOKEN_KEY };
})();
