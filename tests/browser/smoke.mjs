// The pages load from a running node, with no script error, on a desktop
// and on a phone-size screen, and can be reached with the keyboard.
// Usage: node smoke.mjs BASE_URL
import { withBrowser, newPage, check, noErrors, scenario } from "./lib.mjs";

scenario(async ([base]) => {
  check(base, "usage: smoke.mjs BASE_URL");
  await withBrowser(async (browser) => {
    for (const phone of [false, true]) {
      const page = await newPage(browser, { phone });
      const response = await page.goto(`${base}/`);
      check(response && response.status() === 200, `GET / answered ${response && response.status()}`);
      await page.waitForFunction(() => /height \d+/.test(document.getElementById("node-status").textContent));
      const h1 = await page.textContent("h1");
      check(/check/i.test(h1), `heading: ${h1}`);
      // Keyboard: the certificate number field is reachable with Tab.
      let focused = "";
      for (let i = 0; i < 8 && focused !== "number"; i++) {
        await page.keyboard.press("Tab");
        focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
      }
      check(focused === "number", "the number field cannot be reached with Tab");
      // Nothing wider than the screen on a phone.
      if (phone) {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        check(overflow <= 0, `the page is ${overflow}px wider than a phone screen`);
      }
      noErrors(page);
    }
  });
});
