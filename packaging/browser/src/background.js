// The extension's background: the "Download with fetchq" menu, the capture of browser
// downloads, and the one way to fetchq, the native messaging host. No page can reach fetchq
// through it: only this extension's own calls go to the host.
"use strict";

if (typeof importScripts === "function" && typeof DEFAULTS === "undefined") {
  importScripts("settings.js"); // Chromium's service worker; Firefox loads it first itself
}

const MENU_ID = "fetchq-download";
const LET_THROUGH_MS = 15000;
const letThrough = new Map(); // URL -> until when the browser may download it itself

function createMenu() {
  chrome.contextMenus.removeAll(() => {
    chrome.contextMenus.create({
      id: MENU_ID,
      title: "Download with fetchq",
      contexts: ["link", "image", "video", "audio", "page"],
    });
  });
}

chrome.runtime.onInstalled.addListener(createMenu);
chrome.runtime.onStartup.addListener(createMenu);

function baseName(path) {
  const name = (path || "").split(/[\\/]/).pop();
  return name || undefined;
}

// The request fetchq takes: the link, where it was found, and what the browser would send
// with it (its cookies for that URL and its user agent), for that one download only.
async function requestFor(url, referrer, filename, size) {
  let cookies = [];
  try {
    cookies = (await chrome.cookies.getAll({ url })).map((c) => ({ name: c.name, value: c.value }));
  } catch (error) {
    console.warn("fetchq: could not read the cookies for this link:", error);
  }
  const message = { type: "download", url, cookies, userAgent: navigator.userAgent };
  if (referrer && /^(https?|ftps?):/i.test(referrer)) {
    message.referrer = referrer;
  }
  if (filename) {
    message.filename = filename;
  }
  if (size > 0) {
    message.size = size; // lets fetchq match a download of the same file whose link expired
  }
  return message;
}

async function sendToFetchq(url, referrer, filename, size) {
  try {
    const reply = await chrome.runtime.sendNativeMessage(
      FETCHQ_HOST,
      await requestFor(url, referrer, filename, size),
    );
    if (reply && reply.ok === true) {
      await showProblem(null);
      return { ok: true };
    }
    const problem = (reply && reply.error) || "fetchq did not take the download";
    await showProblem(problem);
    return { ok: false, error: problem };
  } catch (error) {
    const problem = describeConnection(null, error).text;
    await showProblem(problem);
    return { ok: false, error: problem };
  }
}

// A failure shows on the toolbar button (a "!" and its tooltip) until the next success.
async function showProblem(problem) {
  await chrome.action.setBadgeText({ text: problem ? "!" : "" });
  if (problem) {
    await chrome.action.setBadgeBackgroundColor({ color: "#c62828" });
  }
  await chrome.action.setTitle({ title: problem ? "fetchq: " + problem : "fetchq" });
}

chrome.contextMenus.onClicked.addListener((info, tab) => {
  if (info.menuItemId !== MENU_ID) {
    return;
  }
  const url = info.linkUrl || info.srcUrl || info.pageUrl;
  const referrer = info.pageUrl || (tab && tab.url);
  sendToFetchq(url, url === info.pageUrl ? undefined : referrer, undefined, 0);
});

chrome.runtime.onMessage.addListener((message, sender) => {
  if (sender.id !== chrome.runtime.id || !message || message.type !== "modified-click") {
    return;
  }
  loadSettings().then((settings) => {
    if (message[settings.modifier] === true && typeof message.url === "string") {
      letThrough.set(message.url, Date.now() + LET_THROUGH_MS);
    }
  });
});

function takeLetThrough(...urls) {
  const now = Date.now();
  for (const [url, until] of letThrough) {
    if (until < now) {
      letThrough.delete(url);
    }
  }
  for (const url of urls) {
    if (url && letThrough.delete(url)) {
      return true;
    }
  }
  return false;
}

function sizeOf(item) {
  return item.totalBytes > 0 ? item.totalBytes : item.fileSize;
}

// Chromium knows the size when it announces a download; Firefox learns it a moment later.
async function knownSize(item) {
  let size = sizeOf(item);
  for (let tries = 0; size <= 0 && tries < 30; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const [now] = await chrome.downloads.search({ id: item.id });
    if (!now || now.state !== "in_progress") {
      return -1; // done or gone already: a small file, left to the browser
    }
    size = sizeOf(now);
  }
  return size;
}

// The size of a download to take from the browser (-1 when unknown), or null to leave it.
async function sizeToCapture(item, settings) {
  const url = item.finalUrl || item.url;
  if (!settings.capture || item.state !== "in_progress" || !/^(https?|ftps?):/i.test(url)) {
    return null; // blob:, data: and file: downloads stay with the browser
  }
  if (takeLetThrough(item.url, item.finalUrl)) {
    return null;
  }
  if (isExcluded(settings.excluded, url, item.referrer)) {
    return null;
  }
  if (settings.minSizeMiB <= 0) {
    return sizeOf(item);
  }
  const size = await knownSize(item);
  return size >= settings.minSizeMiB * MIB ? size : null;
}

// Capture: pause the browser's download, hand it to fetchq, then cancel and forget it; if
// fetchq cannot take it, the browser's download resumes, so nothing is lost either way.
chrome.downloads.onCreated.addListener(async (item) => {
  const size = await sizeToCapture(item, await loadSettings());
  if (size === null) {
    return;
  }
  try {
    await chrome.downloads.pause(item.id);
  } catch {
    return; // finished or gone already: leave it to the browser
  }
  const result = await sendToFetchq(
    item.finalUrl || item.url,
    item.referrer,
    baseName(item.filename),
    size,
  );
  if (result.ok) {
    await chrome.downloads.cancel(item.id).catch(() => {});
    await chrome.downloads.erase({ id: item.id }).catch(() => {});
  } else {
    await chrome.downloads.resume(item.id).catch(() => {});
  }
});
