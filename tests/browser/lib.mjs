// What every browser scenario shares: Debian's Chromium started headless by
// playwright-core, a page that fails the scenario on any script error, and
// screenshots for docs/screenshots when KPLEDGER_SCREENSHOTS names a folder.
//
// A scenario is a script run by the e2e crate (tests/tests/browser.rs) as
// `node tests/browser/SCENARIO.mjs ARGS...`; it exits 0 when every check
// holds, and otherwise prints what did not and exits 1.
import { chromium } from "playwright-core";
import path from "node:path";
import fs from "node:fs";

export const CHROMIUM = process.env.KPLEDGER_CHROMIUM || "/usr/bin/chromium";

/**
 * Starts the browser (with `extraArgs` after the usual ones); `run(browser)`
 * is the scenario. Always closes it.
 */
export async function withBrowser(run, extraArgs = []) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...extraArgs,
    ],
  });
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
}

/**
 * A new page (phone-size with `phone`; `scale` device pixels per CSS pixel)
 * whose script errors fail the scenario.
 */
export async function newPage(browser, { phone = false, scale = undefined } = {}) {
  const options = phone
    ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
    : { viewport: { width: 1280, height: 900 } };
  if (scale) options.deviceScaleFactor = scale;
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") page.errors.push(`console error: ${m.text()}`);
  });
  return page;
}

/** Fails the scenario with `message` unless `condition`. */
export function check(condition, message) {
  if (!condition) {
    throw new Error(`check failed: ${message}`);
  }
}

/** Fails if the page logged a script error (`allowed` are substrings to ignore). */
export function noErrors(page, allowed = []) {
  const left = page.errors.filter((e) => !allowed.some((a) => e.includes(a)));
  check(left.length === 0, `script errors on ${page.url()}:\n${left.join("\n")}`);
}

/** Saves a screenshot as NAME.png in $KPLEDGER_SCREENSHOTS, when set. */
export async function screenshot(page, name, options = {}) {
  const dir = process.env.KPLEDGER_SCREENSHOTS;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot(Object.assign({ path: path.join(dir, `${name}.png`), fullPage: true }, options));
}

/** Runs `main` and turns a thrown error into exit status 1 with its message. */
export function scenario(main) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => {
      console.error(e && e.stack ? e.stack : String(e));
      process.exit(1);
    },
  );
}
