// The options page: every setting of the extension.
"use strict";

const fields = {
  capture: document.getElementById("capture"),
  minSize: document.getElementById("minSize"),
  excluded: document.getElementById("excluded"),
  modifier: document.getElementById("modifier"),
};

loadSettings().then((settings) => {
  fields.capture.checked = settings.capture;
  fields.minSize.value = settings.minSizeMiB;
  fields.excluded.value = settings.excluded.join("\n");
  fields.modifier.value = settings.modifier;
});

document.getElementById("save").addEventListener("click", async () => {
  const sites = fields.excluded.value
    .split(/\s+/)
    .map((site) => site.trim().toLowerCase())
    .filter(Boolean);
  await saveSettings({
    capture: fields.capture.checked,
    minSizeMiB: Math.max(0, Math.round(Number(fields.minSize.value) || 0)),
    excluded: [...new Set(sites)],
    modifier: fields.modifier.value,
  });
  document.getElementById("saved").textContent = "Saved.";
});
