// What the user chooses in the popup and the options page; shared by every part of the
// extension. Kept in storage.local: it never leaves the machine.
"use strict";

const FETCHQ_HOST = "io.github.fetchq.fetchq";
const MIB = 1024 * 1024;
const DEFAULTS = Object.freeze({
  capture: true, // hand browser downloads to fetchq...
  minSizeMiB: 1, // ...from this size up (0: every download of known or unknown size)
  excluded: [], // ...except from these sites (host names; a subdomain counts)
  modifier: "alt", // held while clicking a link: the browser downloads it itself
});

async function loadSettings() {
  const stored = await chrome.storage.local.get(Object.keys(DEFAULTS));
  return { ...DEFAULTS, ...stored };
}

function saveSettings(changes) {
  return chrome.storage.local.set(changes);
}

// "example.com" excludes example.com and www.example.com, not notexample.com.
function isExcluded(excluded, ...urls) {
  const hosts = urls
    .map((url) => {
      try {
        return new URL(url).hostname.toLowerCase();
      } catch {
        return "";
      }
    })
    .filter(Boolean);
  return excluded.some((site) => {
    const wanted = site.trim().toLowerCase().replace(/^\*\./, "");
    return wanted && hosts.some((host) => host === wanted || host.endsWith("." + wanted));
  });
}

// What the popup says for an answer (or a failure) of the native host.
function describeConnection(reply, error) {
  if (error) {
    const text = String(error.message || error);
    if (/not found/i.test(text)) {
      return {
        ok: false,
        text:
          "fetchq's browser helper is not installed for this browser. Run " +
          "“fetchq --install-browser-integration”, or in fetchq: Settings → Browsers → Install.",
      };
    }
    if (/forbidden/i.test(text)) {
      return {
        ok: false,
        text:
          "fetchq's browser helper does not accept this extension (id " +
          chrome.runtime.id +
          "). Install the browser integration again from a current fetchq.",
      };
    }
    return {
      ok: false,
      text:
        "fetchq's browser helper did not answer (" +
        text +
        "). Is fetchq still installed where the integration points? Install it again.",
    };
  }
  if (!reply || reply.ok !== true) {
    return { ok: false, text: "fetchq answered with an error: " + ((reply && reply.error) || "none given") };
  }
  return {
    ok: true,
    text: reply.running
      ? "fetchq " + reply.version + " is running and ready."
      : "fetchq " + reply.version + " is installed; it starts when you send it a download.",
  };
}
