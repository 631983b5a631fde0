// The certificate check page against a real network: a genuine certificate
// is AUTHENTIC (on a desktop and a phone), the same certificate through a
// node that tampers its proof is NOT AUTHENTIC, an unknown number is NOT
// FOUND; another pinned genesis and a stale answer CANNOT DECIDE; the form
// works from the keyboard.
// Usage: node check.mjs BASE_URL LYING_URL NUMBER UNKNOWN_NUMBER
import { withBrowser, newPage, check, noErrors, screenshot, scenario } from "./lib.mjs";

/** Opens the check of `number` on `base` and returns the verdict shown. */
async function verdictOf(page, base, number) {
  await page.goto(`${base}/?number=${encodeURIComponent(number)}`);
  await page.waitForSelector("#verdict", { timeout: 60000 });
  return page.getAttribute("#verdict", "data-verdict");
}

scenario(async ([base, lying, number, unknown]) => {
  check(base && lying && number && unknown, "usage: check.mjs BASE_URL LYING_URL NUMBER UNKNOWN_NUMBER");
  await withBrowser(async (browser) => {
    // Genuine: AUTHENTIC, with status, "as of" and the chain of acts.
    const page = await newPage(browser);
    const verdict = await verdictOf(page, base, number);
    const shown = await page.textContent("#result");
    check(verdict === "authentic", `a genuine certificate reads ${verdict}: ${shown}`);
    check(/AUTHENTIC/.test(await page.textContent("#verdict .word")), "the verdict word");
    check((await page.textContent("#status")) === "ISSUED", `status: ${await page.textContent("#status")}`);
    check(/as of height \d+, time \d{4}-\d\d-\d\dT/.test(await page.textContent("#as-of")), "as of height H, time T");
    check(/issue-certificate|issue/i.test(await page.textContent("ol.acts")), "the chain of acts names the issue");
    check(/[0-9a-f]{64}/.test(await page.textContent("#genesis-hash")), "the genesis fingerprint is shown");
    check(/What this check trusts/.test(await page.textContent("#trust")), "what the check trusts");
    await screenshot(page, "check-authentic");
    // Again, from the anchor this browser verified and remembered.
    const remembered = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("kpledger.trusted.")).length);
    check(remembered === 1, "the verified anchor is remembered");
    const again = await verdictOf(page, base, number);
    check(again === "authentic", `checked again from the remembered anchor: ${again}: ${await page.textContent("#result")}`);
    const from = await page.getAttribute("#verdict", "data-trusted-height");
    check(Number(from) > 0, `the second check started from the remembered header, not the genesis (${from})`);
    noErrors(page);

    // Keyboard: type the number and press Enter.
    const keys = await newPage(browser);
    await keys.goto(`${base}/`);
    await keys.focus("#number");
    await keys.keyboard.type(number);
    await keys.keyboard.press("Enter");
    await keys.waitForSelector("#verdict", { timeout: 60000 });
    check((await keys.getAttribute("#verdict", "data-verdict")) === "authentic", "checked from the keyboard");
    noErrors(keys);

    // A phone.
    const phone = await newPage(browser, { phone: true });
    const onPhone = await verdictOf(phone, base, number);
    check(onPhone === "authentic", `on a phone: ${onPhone}`);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `the result is ${overflow}px wider than a phone screen`);
    // The first screen only: a whole phone page makes a large picture.
    await screenshot(phone, "check-phone", { fullPage: false });
    noErrors(phone);

    // The same certificate through a node that alters its proof.
    const lied = await newPage(browser);
    const refused = await verdictOf(lied, lying, number);
    const reason = await lied.textContent("#result");
    check(refused === "not-authentic", `a tampered proof reads ${refused}: ${reason}`);
    check(/NOT AUTHENTIC/.test(await lied.textContent("#verdict .word")), "the verdict word");
    await screenshot(lied, "check-not-authentic");
    noErrors(lied);

    // A browser that pinned another genesis (as the KP publishes it) refuses
    // this node's: CANNOT DECIDE, with a warning.
    const pinned = await newPage(browser);
    await pinned.goto(`${base}/`);
    await pinned.fill("#pin", "ab".repeat(32));
    await pinned.click("#pin-form button");
    await pinned.waitForFunction(() => /WARNING/.test(document.getElementById("genesis-pin").textContent));
    const otherGenesis = await verdictOf(pinned, base, number);
    const why = await pinned.textContent("#result");
    check(otherGenesis === "cannot-decide" && /you pinned/.test(why), `another pinned genesis: ${otherGenesis}: ${why}`);
    noErrors(pinned);

    // A device clock ten minutes ahead of the network: the answer is stale.
    const late = await newPage(browser);
    await late.clock.setFixedTime(Date.now() + 10 * 60 * 1000);
    const stale = await verdictOf(late, base, number);
    check(stale === "cannot-decide", `a stale answer reads ${stale}`);
    check(/CANNOT DECIDE \/ STALE/.test(await late.textContent("#verdict .word")), "the verdict says STALE");
    noErrors(late);

    // An unknown number: proven absent.
    const none = await newPage(browser);
    const absent = await verdictOf(none, base, unknown);
    check(absent === "not-found", `an unknown number reads ${absent}: ${await none.textContent("#result")}`);
    check(/NOT FOUND/.test(await none.textContent("#verdict .word")), "the verdict word");
    check(/as of height \d+/.test(await none.textContent("#as-of")), "not found as of a height");
    noErrors(none);
  });
});
