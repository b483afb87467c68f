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

// Whether a request to `url` started by the pages `initiators` is same-site, as far as the
// extension can tell: it has no Public Suffix List, so only the same scheme and the link's host
// being the page's host or under it count (www.example.org to example.org, or to
// dl.example.org, counts as cross-site). A wrong "cross-site" only holds back SameSite=Strict
// cookies; a wrong "same-site" would send them where the browser does not, so it must not be
// guessed. No initiator known (a page with a no-referrer policy) is cross-site.
function isSameSite(url, initiators) {
  const parse = (text) => {
    try {
      return new URL(text);
    } catch {
      return null;
    }
  };
  const target = parse(url);
  const pages = initiators.filter(Boolean).map(parse);
  return (
    target !== null &&
    pages.length > 0 &&
    pages.every(
      (page) =>
        page !== null &&
        page.protocol === target.protocol &&
        (target.hostname === page.hostname || target.hostname.endsWith("." + page.hostname)),
    )
  );
}

// The cookie store a download was made in: the one Firefox names (a container's, or the private
// one), else in Chromium the incognito store for an incognito download (its id is always "1")
// or the normal one. DEFAULT_STORE: the normal store; null: no store the extension may read
// (it is not allowed in incognito), so no cookies, never the normal store's instead.
const DEFAULT_STORE = "";

async function storeOfDownload(item) {
  if (typeof item.cookieStoreId === "string" && item.cookieStoreId) {
    return item.cookieStoreId;
  }
  if (!item.incognito) {
    return DEFAULT_STORE;
  }
  const stores = await chrome.cookies.getAllCookieStores();
  const store = stores.find((s) => s.incognito === true || s.id === "1");
  return store ? store.id : null;
}

// The store of the tab the user picked a link in: Firefox names it; Chromium lists each store
// with the tabs that share it. A tab in no store we can see, or no tab, gets no cookies.
async function storeOfTab(tab) {
  if (!tab) {
    return null;
  }
  if (typeof tab.cookieStoreId === "string" && tab.cookieStoreId) {
    return tab.cookieStoreId;
  }
  const stores = await chrome.cookies.getAllCookieStores();
  const store = stores.find((s) => Array.isArray(s.tabIds) && s.tabIds.includes(tab.id));
  if (store) {
    return store.id;
  }
  return tab.incognito ? null : DEFAULT_STORE;
}

// What the browser itself would send with a top-level GET of `url`: the cookies of the
// download's own store, unpartitioned (no partitionKey: a top-level navigation uses none),
// HttpOnly ones included (HttpOnly hides a cookie from scripts, not from the request); for a
// cross-site request no SameSite=Strict cookie. Lax, None and unspecified ones go with a
// top-level navigation from any site (Chromium's default for unspecified is Lax).
async function cookiesFor(url, store, sameSite) {
  if (store === null) {
    return [];
  }
  const details = store === DEFAULT_STORE ? { url } : { url, storeId: store };
  try {
    return (await chrome.cookies.getAll(details))
      .filter((c) => sameSite || c.sameSite !== "strict")
      .map((c) => ({ name: c.name, value: c.value }));
  } catch (error) {
    console.warn("fetchq: could not read the cookies for this link:", error);
    return [];
  }
}

// The request fetchq takes: the link, where it was found, who started it, and what the browser
// would send with it (its cookies for that URL and its user agent), for that one download only.
// `how`: { store, sameSite, startedBy } (see above; "page" or "user").
async function requestFor(url, referrer, filename, size, how) {
  const cookies = await cookiesFor(url, how.store, how.sameSite);
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
  message.startedBy = how.startedBy; // fetchq refuses a page's link to this machine or network
  return message;
}

// fetchq's answer: ok, or why not (a link it refuses, or no helper), shown on the button.
async function sendToFetchq(url, referrer, filename, size, how) {
  try {
    const reply = await chrome.runtime.sendNativeMessage(
      FETCHQ_HOST,
      await requestFor(url, referrer, filename, size, how),
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

// A link the user picks is the user's own top-level choice: cookies as for a top-level
// navigation from that page (and its frame, when the link is in one), and fetchq lets it reach
// the local network; a port browsers block it refuses all the same.
chrome.contextMenus.onClicked.addListener(async (info, tab) => {
  if (info.menuItemId !== MENU_ID) {
    return;
  }
  const url = info.linkUrl || info.srcUrl || info.pageUrl;
  const referrer = info.pageUrl || (tab && tab.url);
  const how = {
    store: await storeOfTab(tab).catch(() => null),
    sameSite: isSameSite(url, [info.pageUrl || (tab && tab.url), info.frameUrl]),
    startedBy: "user",
  };
  await sendToFetchq(url, url === info.pageUrl ? undefined : referrer, undefined, 0, how);
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
  const url = item.finalUrl || item.url;
  const how = {
    store: await storeOfDownload(item).catch(() => null),
    // the page that started it, as far as known; a redirect to another site is cross-site
    sameSite: isSameSite(item.url, [item.referrer]) && isSameSite(url, [item.referrer]),
    startedBy: "page",
  };
  const result = await sendToFetchq(url, item.referrer, baseName(item.filename), size, how);
  if (result.ok) {
    await chrome.downloads.cancel(item.id).catch(() => {});
    await chrome.downloads.erase({ id: item.id }).catch(() => {});
  } else {
    await chrome.downloads.resume(item.id).catch(() => {});
  }
});
