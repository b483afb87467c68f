// The toolbar popup: is fetchq reachable (and if not, which part is missing), and the two
// settings used most.
"use strict";

const status = document.getElementById("status");

async function testConnection() {
  status.className = "checking";
  status.textContent = "Looking for fetchq…";
  let said;
  try {
    said = describeConnection(await chrome.runtime.sendNativeMessage(FETCHQ_HOST, { type: "ping" }), null);
  } catch (error) {
    said = describeConnection(null, error);
  }
  status.className = said.ok ? "ok" : "bad";
  status.textContent = said.text;
}

async function showSettings() {
  const settings = await loadSettings();
  const capture = document.getElementById("capture");
  const minSize = document.getElementById("minSize");
  capture.checked = settings.capture;
  minSize.value = settings.minSizeMiB;
  minSize.disabled = !settings.capture;
  document.getElementById("modifierName").textContent =
    { alt: "Alt", shift: "Shift", ctrl: "Ctrl", meta: "⌘/Win" }[settings.modifier] || "Alt";
  capture.addEventListener("change", () => {
    minSize.disabled = !capture.checked;
    saveSettings({ capture: capture.checked });
  });
  minSize.addEventListener("change", () => {
    const value = Math.max(0, Math.round(Number(minSize.value) || 0));
    minSize.value = value;
    saveSettings({ minSizeMiB: value });
  });
}

document.getElementById("retry").addEventListener("click", testConnection);
document.getElementById("options").addEventListener("click", (event) => {
  event.preventDefault();
  chrome.runtime.openOptionsPage();
});
showSettings();
testConnection();
