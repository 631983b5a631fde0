// The certificate verifier: kp_verify.wasm (crates/kp-verify-wasm, the same
// Rust code as `kpledger cert verify`) behind a JSON call, and the check
// loop that feeds it what it asks for. Shared by the check and print pages.
"use strict";

const verifier = (() => {
  const PIN_KEY = "kpledger.genesis";
  const MAX_AGE_MS = 300000; // as the CLI's --max-age default
  const FETCHES_MAX = 64; // the light client's bound (kp_client::light::FETCHES_MAX)
  let exportsPromise = null;
  let pinnedThisVisit = false;

  function load() {
    if (!exportsPromise) {
      exportsPromise = fetch("/web/kp_verify.wasm")
        .then((r) => {
          if (!r.ok) throw new Error(`cannot load the verifier: HTTP ${r.status}`);
          return r.arrayBuffer();
        })
        .then((bytes) => WebAssembly.instantiate(bytes, {}))
        .then((m) => m.instance.exports);
    }
    return exportsPromise;
  }

  /** One request to the WebAssembly verifier: JSON in, JSON out. */
  async function call(request) {
    const e = await load();
    const input = new TextEncoder().encode(JSON.stringify(request));
    const p = e.kp_alloc(input.length);
    new Uint8Array(e.memory.buffer, p, input.length).set(input);
    const out = e.kp_call(p, input.length);
    const n = e.kp_out_len();
    // The memory may have grown during the call: view it afresh.
    const text = new TextDecoder().decode(new Uint8Array(e.memory.buffer, out, n).slice());
    e.kp_free(out, n);
    e.kp_free(p, input.length);
    return JSON.parse(text);
  }

  /** The genesis the node serves, its fingerprint, and what is pinned. */
  async function genesis() {
    const doc = await kp.api("/v1/genesis");
    const g = await call({ op: "genesis", genesis: doc });
    if (g.error) throw new Error(g.error);
    let pinned = localStorage.getItem(PIN_KEY);
    let firstUse = false;
    if (!pinned) {
      pinned = g.genesis_hash;
      localStorage.setItem(PIN_KEY, pinned);
      pinnedThisVisit = true;
    }
    firstUse = pinnedThisVisit;
    return { doc, hash: g.genesis_hash, chainId: g.chain_id, pinned, firstUse };
  }

  function pin(hash) {
    localStorage.setItem(PIN_KEY, hash.trim().toLowerCase());
  }

  function cannot(reason) {
    return { verdict: { verdict: "cannot-decide", reason } };
  }

  /**
   * Checks certificate `number` from the node's proof alone. Never throws:
   * every failure is a verdict. `paper` is a scanned QR text, if any.
   */
  async function check(number, paper) {
    let g;
    try {
      g = await genesis();
    } catch (e) {
      return cannot(`cannot get the node's genesis: ${e.message}`);
    }
    let proof;
    try {
      proof = await kp.api(`/v1/certificates/${encodeURIComponent(number)}/proof`);
    } catch (e) {
      return Object.assign(cannot(`the node gave no proof for ${number}: ${e.message}`), { genesis: g });
    }
    // The anchor this browser verified last (from the same pinned genesis)
    // is where the next check starts, as the CLI's light store: checks keep
    // working after the genesis validators' trust period. If it cannot
    // serve (too old, or the node is far behind it), start from genesis.
    const trustKey = `kpledger.trusted.${g.hash}`;
    const remembered = localStorage.getItem(trustKey);
    let result = await prove(g, number, proof, paper, remembered);
    if (remembered && result.verdict && result.verdict.verdict === "cannot-decide") {
      result = await prove(g, number, proof, paper, null);
    }
    const v = result.verdict || {};
    if (v.verdict === "authentic" && g.pinned === g.hash) {
      localStorage.setItem(trustKey, `${v.as_of_height + 1}:${v.anchor_hash}`);
    }
    return Object.assign(result, { genesis: g });
  }

  async function prove(g, number, proof, paper, trustHeader) {
    const blocks = [];
    for (let round = 0; round <= FETCHES_MAX; round++) {
      const answer = await call({
        op: "check", genesis: g.doc, pinned: g.pinned, number, proof, blocks,
        now_ms: Date.now(), max_age_ms: MAX_AGE_MS, paper: paper || null, trust_header: trustHeader,
      });
      if (answer.error) return cannot(answer.error);
      if (answer.need === undefined) return answer;
      try {
        blocks.push(await kp.api(`/v1/light/blocks/${answer.need}`));
      } catch (e) {
        return cannot(`the node cannot give block ${answer.need}: ${e.message}`);
      }
    }
    return cannot(`more than ${FETCHES_MAX} blocks needed`);
  }

  return { call, check, genesis, pin, PIN_KEY };
})();
