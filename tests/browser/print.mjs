// The printable certificate of a sealed certificate: every Annex I field,
// the sealed ones as sealed, and a QR code; a picture of that QR code
// uploaded to the check page opens the check of that certificate, which is
// AUTHENTIC, and a code with an altered digest is NOT AUTHENTIC. The
// exporting officer's document prints the sealed names only if it matches
// the proven commitment.
// Usage: node print.mjs BASE_URL NUMBER DOCUMENT ALTERED_DOCUMENT
import os from "node:os";
import path from "node:path";
import fs from "node:fs";
import { withBrowser, newPage, check, noErrors, screenshot, scenario } from "./lib.mjs";

scenario(async ([base, number, documentFile, alteredFile]) => {
  let cameraPath = null;
  check(base && number && documentFile && alteredFile, "usage: print.mjs BASE_URL NUMBER DOCUMENT ALTERED_DOCUMENT");
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
    check(/SEALED \(readable by BW-KPA and EU-KPA only\)/.test(sheet), `sealed fields shown as sealed: ${sheet}`);
    check(/Commitment of the sealed fields/.test(sheet), "the commitment is shown");
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
    // The same code as a camera would film it: a motion-JPEG file that
    // Chromium plays as its fake camera (below).
    const cameraFile = path.join(path.dirname(qrFile), "qr.mjpeg");
    await page.locator(".qr").screenshot({ path: cameraFile, type: "jpeg", quality: 95 });
    // A document whose names differ from the proven commitment is refused.
    await page.setInputFiles("#document", alteredFile);
    await page.waitForFunction(() => /DOCUMENT MISMATCH/.test(document.getElementById("document-status").textContent));
    check(!(await page.textContent("#sheet")).includes("Not "), "the altered names are not printed");
    // The exporting officer's document: the names appear.
    await page.setInputFiles("#document", documentFile);
    await page.waitForFunction(() => /matches the ledger/.test(document.getElementById("document-status").textContent));
    const opened = await page.textContent("#sheet");
    check(/BW Exporter Ltd/.test(opened) && /shown from the loaded document/.test(opened), `opened names: ${opened}`);
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
    check(/SEALED/.test(shown), "the check page shows the sealed fields as sealed");
    noErrors(checkPage);

    // The same code with another digest: an altered paper.
    const text = (await page.textContent(".qr p")).trim();
    const forged = text.replace(/[0-9a-f]{64}$/, "0".repeat(64));
    const forgedPage = await newPage(browser);
    await forgedPage.goto(`${base}/?code=${encodeURIComponent(forged)}`);
    await forgedPage.waitForSelector("#verdict", { timeout: 60000 });
    const forgedShown = await forgedPage.textContent("#result");
    check((await forgedPage.getAttribute("#verdict", "data-verdict")) === "not-authentic", `altered paper: ${forgedShown}`);
    check(/PAPER MISMATCH/.test(forgedShown), `the reason names the paper: ${forgedShown}`);
    noErrors(forgedPage);
    cameraPath = cameraFile;
  });

  // The camera: Chromium's fake capture device films the printed code.
  await withBrowser(async (browser) => {
    const page = await newPage(browser);
    await page.context().grantPermissions(["camera"], { origin: base });
    await page.goto(`${base}/`);
    await page.click("#scan summary");
    await page.click("#camera-start");
    await page.waitForSelector("#verdict", { timeout: 60000 });
    const shown = await page.textContent("#result");
    check((await page.getAttribute("#verdict", "data-verdict")) === "authentic", `camera check: ${shown}`);
    check(shown.includes(number), `the camera check is of ${number}`);
    check(await page.isHidden("#camera"), "the camera stops once the code is read");
    noErrors(page);
  }, ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", `--use-file-for-fake-video-capture=${cameraPath}`]);
  fs.rmSync(path.dirname(cameraPath), { recursive: true, force: true });
});
