// Reading a printed certificate's QR code: from the camera (the browser's
// BarcodeDetector where it has one, else video frames decoded by jsQR), or
// from an uploaded picture (jsQR). The code's text goes to the check page
// (window.kpCheckCode), which checks it in WebAssembly.
"use strict";

(() => {
  let stream = null;
  let timer = null;

  function status(text) {
    document.getElementById("scan-status").textContent = text;
  }

  /** The QR text in an image source (canvas-drawable), or null. */
  function decode(source, width, height) {
    const canvas = document.createElement("canvas");
    // Large photos are scaled down: jsQR's time grows with the pixels.
    const scale = Math.min(1, 1600 / Math.max(width, height));
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
    const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const found = jsQR(pixels.data, pixels.width, pixels.height, { inversionAttempts: "attemptBoth" });
    return found ? found.data : null;
  }

  async function found(text) {
    stop();
    status("QR code read: checking…");
    try {
      await window.kpCheckCode(text);
      status("QR code read.");
    } catch (e) {
      status(`This QR code is not a kpledger certificate code: ${e.message}`);
    }
  }

  async function fromFile(file) {
    status("Reading the picture…");
    const url = URL.createObjectURL(file);
    try {
      const img = new Image();
      img.src = url;
      await img.decode();
      const text = decode(img, img.naturalWidth, img.naturalHeight);
      if (text) await found(text);
      else status("No QR code found in this picture. Try a sharper, closer picture.");
    } catch (e) {
      status(`This file cannot be read as a picture: ${e.message}`);
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  function stop() {
    if (timer) clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    const video = document.getElementById("camera");
    video.hidden = true;
    document.getElementById("camera-start").hidden = false;
    document.getElementById("camera-stop").hidden = true;
  }

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status("This browser gives no camera to this page (a camera needs HTTPS or localhost); upload a picture instead.");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      status(`No camera: ${e.message}. Upload a picture instead.`);
      return;
    }
    const video = document.getElementById("camera");
    video.srcObject = stream;
    video.hidden = false;
    document.getElementById("camera-start").hidden = true;
    document.getElementById("camera-stop").hidden = false;
    await video.play();
    status("Hold the certificate's QR code in front of the camera.");
    const detector = "BarcodeDetector" in window ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    const tick = async () => {
      if (!stream) return;
      let text = null;
      try {
        if (detector) {
          const codes = await detector.detect(video);
          text = codes.length ? codes[0].rawValue : null;
        } else if (video.videoWidth) {
          text = decode(video, video.videoWidth, video.videoHeight);
        }
      } catch (_) { text = null; }
      if (text) await found(text);
      else timer = setTimeout(tick, 250);
    };
    tick();
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("camera-start").addEventListener("click", start);
    document.getElementById("camera-stop").addEventListener("click", stop);
    document.getElementById("qr-file").addEventListener("change", (ev) => {
      const file = ev.target.files && ev.target.files[0];
      if (file) fromFile(file);
    });
  });
})();
