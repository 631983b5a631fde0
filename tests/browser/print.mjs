// The printable certificate: every Annex I field and a QR code; a picture
// of that QR code uploaded to the check page opens the check of that
// certificate, which is AUTHENTIC.
// Usage: node print.mjs BASE_URL NUMBER
import os from "node:os";
import path from "node:path";
import fs from "node:fs";
import { withBrowser, newPage, check, noErrors, screenshot, scenario } from "./lib.mjs";

scenario(async ([base, number]) => {
  check(base && number, "usage: print.mjs BASE_URL NUMBER");
  await withBrowser(async (browser) => {
    const page = await newPage(browser, { scale: 2 });
    await page.goto(`${base}/web/print.html?number=${encodeURIComponent(number)}`);
    await page.waitForSelector("#verdict", { timeout: 60000 });
    const sheet = await page.textContent("#sheet");
    check((await page.getAttribute("#verdict", "data-verdict")) === "authentic", `print page: ${sheet}`);
    for (const field of ["Certificate number", "Exporting Participant", "Issuing authority", "Importing Participant",
      "Destination", "Exporter", "Importer", "Country of origin", "Date of issue", "Date of expiry", "HS code", "Carats",
      "Value (USD)", "Parcels"]) {
      check(sheet.includes(field), `the printed certificate lacks ${field}`);
    }
    await page.waitForFunction(() => {
      const img = document.getElementById("qr");
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 30000 });
    // The A4 print layout.
    await page.emulateMedia({ media: "print" });
    await screenshot(page, "print");
    const pdf = await page.pdf({ format: "A4" });
    check(pdf.length > 1000, "the page prints");
    await page.emulateMedia({ media: "screen" });
    const qrFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kp-qr-")), "qr.png");
    await page.locator("#qr").screenshot({ path: qrFile });
    noErrors(page);

    // The picture of the QR code, uploaded to the check page.
    const checkPage = await newPage(browser);
    await checkPage.goto(`${base}/`);
    await checkPage.click("#scan summary");
    await checkPage.setInputFiles("#qr-file", qrFile);
    await checkPage.waitForSelector("#verdict", { timeout: 60000 });
    const shown = await checkPage.textContent("#result");
    check((await checkPage.getAttribute("#verdict", "data-verdict")) === "authentic", `scanned check: ${shown}`);
    check(shown.includes(number), `the scanned check is of ${number}: ${shown}`);
    check(checkPage.url().includes("code="), `the check opened from the code: ${checkPage.url()}`);
    check((await checkPage.inputValue("#number")) === number, "the number field shows the scanned number");
    noErrors(checkPage);
    fs.rmSync(path.dirname(qrFile), { recursive: true, force: true });
  });
});
