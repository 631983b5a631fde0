// Accessibility basics of every page, checked by axe-core (the engine of
// most accessibility tools) against WCAG 2 A and AA: form labels, colour
// contrast, names of buttons and links, landmarks, document language. The
// check page is checked with a verdict shown, the print page with a
// certificate, the dashboard once its sections have loaded. A violation of
// serious or critical impact fails the scenario, with what and where.
// Usage: node a11y.mjs BASE_URL NUMBER
import { withBrowser, check, scenario } from "./lib.mjs";
import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const WAIT = { timeout: 60000 };

async function audit(page, what) {
  // Evaluated through the debugging protocol: the pages' content security
  // policy (scripts from the node only) stays as it is.
  await page.evaluate(AXE);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const lines = bad.flatMap((v) =>
    v.nodes.slice(0, 5).map((n) => `${what}: ${v.id} (${v.impact}): ${v.help}: ${n.target.join(" ")}: ${n.failureSummary}`),
  );
  check(bad.length === 0, `accessibility violations:\n${lines.join("\n")}`);
  return result.passes.length;
}

scenario(async ([base, number]) => {
  check(base && number, "usage: a11y.mjs BASE_URL NUMBER");
  await withBrowser(async (browser) => {
    for (const phone of [false, true]) {
      const context = await browser.newContext(
        phone ? { viewport: { width: 390, height: 844 }, isMobile: true } : { viewport: { width: 1280, height: 900 } },
      );
      const page = await context.newPage();
      await page.goto(`${base}/?number=${encodeURIComponent(number)}`);
      await page.waitForSelector("#verdict", WAIT);
      const checked = await audit(page, `check page${phone ? " (phone)" : ""}`);

      await page.goto(`${base}/web/print.html?number=${encodeURIComponent(number)}`);
      await page.waitForSelector("#verdict", WAIT);
      await audit(page, `print page${phone ? " (phone)" : ""}`);

      await page.goto(`${base}/web/dashboard.html`);
      await page.waitForSelector("#validators-seen tbody tr", WAIT);
      await page.waitForSelector("#stats-table", WAIT);
      await audit(page, `dashboard${phone ? " (phone)" : ""}`);
      check(checked > 10, `axe ran ${checked} rules that passed on the check page`);
      await context.close();
    }
  });
});
