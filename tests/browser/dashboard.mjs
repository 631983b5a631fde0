// The dashboard against a running network: network health with each
// validator's last signed height, statistics of the certificates the test
// issued (chart, figures, mirror comparison), and a resolution whose
// signature bar moves, live through /v1/events, as the governments sign
// it one by one with the CLI, until it is adopted and its sanction shows.
//
// With a participant token saved in the page, the events come through the
// page's fetch reader (EventSource cannot send a token) and another
// resolution shows up live; BW's quarters are refused to the EU's token
// and the page shows the published half-years instead, saying why.
//
// Usage: node dashboard.mjs BASE_URL KPLEDGER_BIN NETWORK_DIR EU_TOKEN
// (NETWORK_DIR holds nodeI/node.key of validators 0-3: BW, EU, AE, IN;
// EU_TOKEN is a participant:EU bearer token of the node at BASE_URL).
import { execFileSync } from "node:child_process";
import path from "node:path";
import { withBrowser, newPage, check, noErrors, screenshot, scenario } from "./lib.mjs";

const WAIT = { timeout: 60000 };

function cli(bin, base, args) {
  return execFileSync(bin, ["--node", base, ...args], { encoding: "utf8", timeout: 90000 });
}

/** Waits until the resolution's article says `signed` of 4 signed (and `outcome`, if given). */
async function waitForBar(page, id, signed, outcome) {
  await page.waitForFunction(
    ([id, signed, outcome]) => {
      const a = document.querySelector(`article.resolution[data-id="${id}"]`);
      return a && a.dataset.signed === String(signed) && a.dataset.needed === "4" && (!outcome || a.dataset.outcome === outcome);
    },
    [id, signed, outcome],
    WAIT,
  );
  return page.evaluate((id) => {
    const a = document.querySelector(`article.resolution[data-id="${id}"]`);
    return {
      signed: [...a.querySelectorAll(".seat.signed")].map((s) => s.textContent.replace("✓", "").trim()),
      missing: [...a.querySelectorAll(".seat.missing")].map((s) => s.textContent.trim()),
      text: a.textContent,
    };
  }, id);
}

scenario(async ([base, bin, dir, euToken]) => {
  check(base && bin && dir && euToken, "usage: dashboard.mjs BASE_URL KPLEDGER_BIN NETWORK_DIR EU_TOKEN");
  await withBrowser(async (browser) => {
    const page = await newPage(browser);
    // The check page links to the dashboard.
    await page.goto(`${base}/`);
    await page.click('nav a[href="/web/dashboard.html"]');
    await page.waitForURL(`${base}/web/dashboard.html`, WAIT);
    check(/Dashboard/.test(await page.title()), `title: ${await page.title()}`);
    // Network health: height, and every validator's last signed height.
    await page.waitForSelector("#validators-seen tbody tr", WAIT);
    const seen = await page.$$eval("#validators-seen tbody th", (ths) => ths.map((t) => t.textContent.split(" ")[0]).sort());
    check(JSON.stringify(seen) === JSON.stringify(["AE", "BW", "EU", "IN"]), `validators shown: ${seen}`);
    await page.waitForFunction(() => /Connected/.test(document.getElementById("live-state").textContent), null, WAIT);

    // Statistics of the certificates issued before the scenario: BW's exports to the EU.
    await page.waitForSelector("#stats-table", WAIT);
    await page.selectOption("#stats-participant", "BW");
    await page.click("#stats-form button[type=submit]");
    await page.waitForFunction(() => {
      const t = document.getElementById("mirror-table");
      return t && /BW → EU/.test(t.textContent);
    }, null, WAIT);
    const figures = await page.textContent("#stats-table");
    check(/2,504\.00/.test(figures), `BW's exported carats (2,504.00) not in the figures: ${figures}`);
    const bars = await page.$$eval("svg.chart rect.exports", (r) => r.map((x) => Number(x.getAttribute("height"))));
    check(bars.some((h) => h > 0), "the chart draws no export bar");
    const mirror = await page.textContent("#mirror-table");
    check(/2,504\.00/.test(mirror) && /1,000\.00/.test(mirror), `mirror comparison: ${mirror}`);

    // A resolution: BW proposes, then EU, AE and IN sign one by one.
    const key = (i) => path.join(dir, `node${i}`, "node.key");
    const proposed = cli(bin, base, [
      "resolution", "propose", "--key", key(0), "--title", "Export ban on AE pending review",
      "impose-sanction", "AE", "--scope", "export-ban",
    ]);
    const id = (proposed.split("\n").find((l) => l.startsWith("resolution id ")) || "").slice("resolution id ".length).trim();
    check(/^[0-9a-f]{64}$/.test(id), `propose printed no id: ${proposed}`);
    let bar = await waitForBar(page, id, 1, "pending");
    check(bar.signed.join() === "BW" && bar.missing.sort().join() === "AE,EU,IN", `after the proposal: ${JSON.stringify(bar)}`);
    await screenshot(page, "dashboard-resolution-pending");
    const signers = [["node1", "EU"], ["node2", "AE"], ["node3", "IN"]];
    for (let k = 0; k < signers.length; k++) {
      const [node, code] = signers[k];
      cli(bin, base, ["resolution", "sign", id, "--key", path.join(dir, node, "node.key")]);
      const last = k === signers.length - 1;
      bar = await waitForBar(page, id, k + 2, last ? "adopted" : "pending");
      check(bar.signed.includes(code), `${code} signed but the bar shows ${JSON.stringify(bar)}`);
    }
    check(bar.missing.length === 0 && /adopted at height \d+/.test(bar.text), `at the end: ${JSON.stringify(bar)}`);
    // The adopted sanction is in force, with its scope.
    await page.waitForSelector('#sanctions-body .sanction[data-participant="AE"]', WAIT);
    const sanction = await page.textContent('#sanctions-body .sanction[data-participant="AE"]');
    check(/export-ban/.test(sanction), `AE's sanction: ${sanction}`);
    // The live log saw the resolution events.
    const log = await page.textContent("#live-log");
    check(/resolution: resolution-proposed/.test(log) && /resolution: resolution-adopted/.test(log), `live log: ${log}`);
    await screenshot(page, "dashboard");
    noErrors(page);

    // A token the node does not know: every section says so plainly, with the token field.
    await page.fill("#token", "kpt_" + "0".repeat(64));
    await page.click("#token-form button[type=submit]");
    await page.waitForSelector("#health-body .denied", WAIT);
    const denied = await page.textContent("#health-body .denied");
    check(/401/.test(denied) && /Paste a token/.test(denied), `refusal shown: ${denied}`);
    await page.waitForFunction(() => /refused \(401\)/.test(document.getElementById("live-state").textContent), null, WAIT);

    // The EU's participant token: live events through the page's own
    // reader, and BW's figures as published (half-years, totals).
    await page.fill("#token", euToken);
    await page.click("#token-form button[type=submit]");
    await page.waitForFunction(() => /with the saved token/.test(document.getElementById("live-state").textContent), null, WAIT);
    await page.waitForSelector("#validators-seen", WAIT);
    // The token change reloads the statistics: let that load finish, so
    // the view chosen next is the one the section ends on.
    await page.waitForSelector('#stats-body[aria-busy="false"]', WAIT);
    await page.selectOption("#stats-participant", "BW");
    await page.selectOption("#stats-granularity", "quarter");
    await page.click("#stats-form button[type=submit]");
    await page.waitForFunction(() => /published half-years/.test(document.getElementById("stats-body").textContent), null, WAIT);
    const published = await page.textContent("#stats-body");
    check(/participant:BW/.test(published) && /per-partner figures/.test(published), `published view: ${published}`);
    const lifted = cli(bin, base, ["resolution", "propose", "--key", key(1), "--title", "Lift the export ban on AE", "lift-sanction", "AE"]);
    const liftId = (lifted.split("\n").find((l) => l.startsWith("resolution id ")) || "").slice("resolution id ".length).trim();
    bar = await waitForBar(page, liftId, 1, "pending");
    check(bar.signed.join() === "EU", `the lifting resolution's bar: ${JSON.stringify(bar)}`);
    const liveLog = await page.textContent("#live-log");
    check(/resolution: resolution-proposed/.test(liveLog), `live log with the token: ${liveLog}`);

    await page.click("#token-forget");
    await page.waitForSelector("#validators-seen", WAIT);
    // 401s and 403s are what the checks provoked: the console logs them as failed loads.
    noErrors(page, ["401", "403", "Unauthorized", "Forbidden"]);

    // A phone: one column, nothing wider than the screen, the token field reachable by keyboard.
    const phone = await newPage(browser, { phone: true });
    await phone.goto(`${base}/web/dashboard.html`);
    await phone.waitForSelector(`article.resolution[data-id="${id}"]`, WAIT);
    await phone.waitForSelector("#stats-table", WAIT);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `the dashboard is ${overflow}px wider than a phone screen`);
    let focused = "";
    for (let i = 0; i < 12 && focused !== "token"; i++) {
      await phone.keyboard.press("Tab");
      focused = await phone.evaluate(() => document.activeElement && document.activeElement.id);
    }
    check(focused === "token", "the token field cannot be reached with Tab");
    // The phone's screen as it shows the network and the resolution (not
    // the whole page: the picture stays small).
    await phone.evaluate(() => document.getElementById("health").scrollIntoView());
    await screenshot(phone, "dashboard-phone", { fullPage: false });
    noErrors(phone);
  });
});
