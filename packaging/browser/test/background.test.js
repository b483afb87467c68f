// The extension's background logic against a fake browser API: what it captures, in which
// order it pauses, hands over, cancels or resumes, and what it tells the user.
// Run: node --test packaging/browser/test/
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const SOURCE = path.join(__dirname, "..", "src");
const MIB = 1024 * 1024;

// Each store's cookies for every URL, as chrome.cookies.getAll would return them; "0" is the
// store getAll reads when it is given no storeId (the normal one, "0" in Chromium).
const STORES = [
  { id: "0", tabIds: [1, 2] },
  { id: "1", tabIds: [9] }, // Chromium's incognito store
];

function fakeBrowser({
  reply = { ok: true },
  error = null,
  settings = {},
  sizes = {},
  cookies = { 0: [{ name: "sid", value: "s1" }] },
  stores = STORES,
} = {}) {
  const calls = [];
  const reads = []; // what was asked of chrome.cookies.getAll
  const listeners = {};
  const event = (name) => ({ addListener: (fn) => (listeners[name] = fn) });
  const stored = { ...settings };
  const chrome = {
    runtime: {
      id: "fetchq-extension",
      onInstalled: event("installed"),
      onStartup: event("startup"),
      onMessage: event("message"),
      sendNativeMessage: async (host, message) => {
        calls.push(["native", host, message]);
        if (error) {
          throw new Error(error);
        }
        return reply;
      },
    },
    storage: {
      local: {
        get: async () => ({ ...stored }),
        set: async (changes) => Object.assign(stored, changes),
      },
    },
    contextMenus: {
      removeAll: (done) => done(),
      create: (item) => calls.push(["menu", item.title, item.contexts]),
      onClicked: event("menu"),
    },
    cookies: {
      getAll: async (details) => {
        reads.push(details);
        return (cookies[details.storeId ?? "0"] || []).map((c) => ({ ...c, url: details.url }));
      },
      getAllCookieStores: async () => stores,
    },
    action: {
      setBadgeText: async ({ text }) => calls.push(["badge", text]),
      setBadgeBackgroundColor: async () => {},
      setTitle: async ({ title }) => calls.push(["title", title]),
    },
    downloads: {
      onCreated: event("created"),
      pause: async (id) => calls.push(["pause", id]),
      resume: async (id) => calls.push(["resume", id]),
      cancel: async (id) => calls.push(["cancel", id]),
      erase: async ({ id }) => calls.push(["erase", id]),
      search: async ({ id }) => [{ id, state: "in_progress", totalBytes: sizes[id] ?? -1, fileSize: -1 }],
    },
  };
  const context = vm.createContext({
    chrome,
    console,
    setTimeout,
    URL,
    navigator: { userAgent: "TestBrowser/1.0" },
  });
  for (const file of ["settings.js", "background.js"]) {
    vm.runInContext(fs.readFileSync(path.join(SOURCE, file), "utf8"), context, { filename: file });
  }
  const names = () => calls.map((call) => call[0]);
  const sent = () => calls.filter((call) => call[0] === "native").map((call) => call[2]);
  return { calls, reads, listeners, names, sent, context };
}

function item(fields = {}) {
  return {
    id: 7,
    url: "https://example.org/big.iso",
    finalUrl: "https://example.org/big.iso",
    referrer: "https://example.org/downloads",
    filename: "/home/me/Downloads/big.iso",
    state: "in_progress",
    totalBytes: 5 * MIB,
    fileSize: 5 * MIB,
    ...fields,
  };
}

test("a big download is paused, handed over with its cookies, then cancelled and erased", async () => {
  const browser = fakeBrowser();
  await browser.listeners.created(item());
  assert.deepEqual(browser.names(), ["pause", "native", "badge", "title", "cancel", "erase"]);
  const [, host, message] = browser.calls[1];
  assert.equal(host, "io.github.fetchq.fetchq");
  assert.deepEqual(JSON.parse(JSON.stringify(message)), {
    type: "download",
    url: "https://example.org/big.iso",
    cookies: [{ name: "sid", value: "s1" }],
    userAgent: "TestBrowser/1.0",
    referrer: "https://example.org/downloads",
    filename: "big.iso",
    size: 5 * MIB,
    startedBy: "page",
  });
  assert.deepEqual(browser.calls.slice(2, 4), [["badge", ""], ["title", "fetchq"]]);
});

test("when fetchq refuses, the browser's download goes on and the button says why", async () => {
  const browser = fakeBrowser({ reply: { ok: false, error: "no room on the disk" } });
  await browser.listeners.created(item());
  assert.deepEqual(browser.names(), ["pause", "native", "badge", "title", "resume"]);
  assert.deepEqual(browser.calls[2], ["badge", "!"]);
  assert.deepEqual(browser.calls[3], ["title", "fetchq: no room on the disk"]);
});

test("when the helper is not installed, the download resumes and the fix is named", async () => {
  const browser = fakeBrowser({ error: "Specified native messaging host not found." });
  await browser.listeners.created(item());
  assert.deepEqual(browser.names(), ["pause", "native", "badge", "title", "resume"]);
  assert.match(browser.calls[3][1], /fetchq --install-browser-integration/);
});

test("small, excluded, blob: and finished downloads stay with the browser", async () => {
  const browser = fakeBrowser({ settings: { excluded: ["example.net"] } });
  await browser.listeners.created(item({ totalBytes: MIB - 1, fileSize: MIB - 1 }));
  await browser.listeners.created(item({ url: "https://cdn.example.net/x", finalUrl: "https://cdn.example.net/x" }));
  await browser.listeners.created(item({ url: "blob:https://example.org/1", finalUrl: "blob:https://example.org/1" }));
  await browser.listeners.created(item({ state: "complete" }));
  assert.deepEqual(browser.calls, []);
});

test("an excluded site excludes its subdomains and not look-alikes", () => {
  const { context } = fakeBrowser();
  const excluded = ["example.net", "*.corp.example"];
  assert.equal(context.isExcluded(excluded, "https://www.example.net/a"), true);
  assert.equal(context.isExcluded(excluded, "https://intranet.corp.example/a"), true);
  assert.equal(context.isExcluded(excluded, "https://notexample.net/a"), false);
  assert.equal(context.isExcluded(excluded, "not a url", "https://example.net/"), true);
});

test("capture can be turned off, or set to take everything", async () => {
  const off = fakeBrowser({ settings: { capture: false } });
  await off.listeners.created(item());
  assert.deepEqual(off.calls, []);
  const all = fakeBrowser({ settings: { minSizeMiB: 0 } });
  await all.listeners.created(item({ totalBytes: -1, fileSize: -1 }));
  assert.deepEqual(all.names().slice(0, 2), ["pause", "native"]);
});

test("a link clicked with the modifier held is left to the browser, once", async () => {
  const browser = fakeBrowser();
  const click = { type: "modified-click", url: "https://example.org/big.iso", alt: true };
  browser.listeners.message({ ...click }, { id: "another-extension" });
  browser.listeners.message({ ...click, alt: false, shift: true }, { id: "fetchq-extension" });
  await new Promise((resolve) => setTimeout(resolve, 10));
  await browser.listeners.created(item());
  assert.deepEqual(browser.names().slice(0, 2), ["pause", "native"], "other senders and keys do not count");
  browser.calls.length = 0;
  browser.listeners.message(click, { id: "fetchq-extension" });
  await new Promise((resolve) => setTimeout(resolve, 10));
  await browser.listeners.created(item());
  assert.deepEqual(browser.calls, [], "let through");
  await browser.listeners.created(item());
  assert.deepEqual(browser.names().slice(0, 2), ["pause", "native"], "only once");
});

test("a size the browser learns later (Firefox) is waited for, and sent", async () => {
  const browser = fakeBrowser({ sizes: { 7: 4 * MIB } });
  await browser.listeners.created(item({ totalBytes: -1, fileSize: -1 }));
  assert.deepEqual(browser.names().slice(0, 2), ["pause", "native"]);
  assert.equal(browser.calls[1][2].size, 4 * MIB);
});

test("the menu sends a link with its page as referrer, and a page without one", async () => {
  const browser = fakeBrowser();
  browser.listeners.installed();
  assert.deepEqual(JSON.parse(JSON.stringify(browser.calls[0])), [
    "menu",
    "Download with fetchq",
    ["link", "image", "video", "audio", "page"],
  ]);
  browser.calls.length = 0;
  browser.listeners.menu(
    { menuItemId: "fetchq-download", linkUrl: "https://example.org/a.zip", pageUrl: "https://example.org/" },
    { url: "https://example.org/" },
  );
  browser.listeners.menu({ menuItemId: "fetchq-download", pageUrl: "https://example.org/page" }, {});
  await new Promise((resolve) => setTimeout(resolve, 10));
  const sent = browser.calls.filter((call) => call[0] === "native").map((call) => call[2]);
  assert.equal(sent[0].url, "https://example.org/a.zip");
  assert.equal(sent[0].referrer, "https://example.org/");
  assert.equal(sent[1].url, "https://example.org/page");
  assert.equal(sent[1].referrer, undefined);
});

test("the popup's words for each state of the connection", () => {
  const { context } = fakeBrowser();
  const say = (reply, error) => context.describeConnection(reply, error ? new Error(error) : null);
  assert.deepEqual({ ...say({ ok: true, version: "0.1.0", running: true }) }, {
    ok: true,
    text: "fetchq 0.1.0 is running and ready.",
  });
  assert.match(say({ ok: true, version: "0.1.0", running: false }).text, /starts when you send it/);
  assert.match(say(null, "Specified native messaging host not found.").text, /not installed/);
  assert.match(say(null, "Access to the specified native messaging host is forbidden.").text, /fetchq-extension/);
  assert.match(say(null, "Native host has exited.").text, /did not answer \(Native host has exited\.\)/);
  assert.equal(say({ ok: false, error: "bad" }).ok, false);
});

const JAR = [
  { name: "none", value: "n", sameSite: "no_restriction" },
  { name: "lax", value: "l", sameSite: "lax" },
  { name: "unset", value: "u", sameSite: "unspecified" },
  { name: "strict", value: "s", sameSite: "strict", httpOnly: true },
];
const names = (message) => message.cookies.map((c) => c.name).sort().join(" ");

test("a download a page on another site starts gets no SameSite=Strict cookie", async () => {
  const cases = [
    ["https://example.org/downloads", "lax none strict unset"], // same host
    ["https://example.org:8443/x", "lax none strict unset"], // a port is not a site
    ["https://www.example.org/", "lax none unset"], // no Public Suffix List: not guessed
    ["https://evil.example/page", "lax none unset"],
    ["http://example.org/downloads", "lax none unset"], // another scheme, another site
    ["", "lax none unset"], // a page with a no-referrer policy says nothing
  ];
  for (const [referrer, expected] of cases) {
    const browser = fakeBrowser({ cookies: { 0: JAR } });
    await browser.listeners.created(item({ referrer }));
    assert.equal(names(browser.sent()[0]), expected, "from " + (referrer || "no referrer"));
    assert.equal(browser.sent()[0].startedBy, "page");
  }
  const sub = fakeBrowser({ cookies: { 0: JAR } });
  await sub.listeners.created(item({ url: "https://dl.example.org/a", finalUrl: "https://dl.example.org/a" }));
  assert.equal(names(sub.sent()[0]), "lax none strict unset", "a host under the page's");
});

test("a same-site link that redirects to another site is cross-site", async () => {
  const browser = fakeBrowser({ cookies: { 0: JAR } });
  await browser.listeners.created(
    item({ url: "https://example.org/get?id=1", finalUrl: "https://cdn.example.net/big.iso" }),
  );
  assert.equal(names(browser.sent()[0]), "lax none unset");
  assert.equal(browser.sent()[0].url, "https://cdn.example.net/big.iso");
});

test("an incognito download reads the incognito store, never the normal one", async () => {
  const jars = { 0: [{ name: "normal", value: "n" }], 1: [{ name: "private", value: "p" }] };
  const browser = fakeBrowser({ cookies: jars });
  await browser.listeners.created(item({ incognito: true }));
  assert.deepEqual(JSON.parse(JSON.stringify(browser.reads)), [
    { url: "https://example.org/big.iso", storeId: "1" },
  ]);
  assert.equal(names(browser.sent()[0]), "private");

  // not allowed in incognito: no incognito store is listed, so no cookies at all
  const shut = fakeBrowser({ cookies: jars, stores: [{ id: "0", tabIds: [1] }] });
  await shut.listeners.created(item({ incognito: true }));
  assert.deepEqual(shut.reads, []);
  assert.equal(shut.sent()[0].cookies.length, 0);
  assert.deepEqual(shut.names().slice(0, 2), ["pause", "native"], "the download is still taken");
});

test("Firefox's own store id for the download is used: a container's, or the private one", async () => {
  const jars = {
    "firefox-default": [{ name: "normal", value: "n" }],
    "firefox-container-2": [{ name: "work", value: "w" }],
    "firefox-private": [{ name: "private", value: "p" }],
  };
  for (const [storeId, expected] of [
    ["firefox-container-2", "work"],
    ["firefox-private", "private"],
    ["firefox-default", "normal"],
  ]) {
    const browser = fakeBrowser({ cookies: jars });
    await browser.listeners.created(item({ cookieStoreId: storeId, incognito: storeId === "firefox-private" }));
    assert.equal(browser.reads[0].storeId, storeId);
    assert.equal(names(browser.sent()[0]), expected);
  }
});

test("the menu sends the tab's store, Strict cookies only from the same site, as the user's pick", async () => {
  const jars = { 0: JAR, 1: [{ name: "private", value: "p", sameSite: "strict" }] };
  const browser = fakeBrowser({ cookies: jars });
  const pick = (info, tab) => browser.listeners.menu({ menuItemId: "fetchq-download", ...info }, tab);
  await pick({ linkUrl: "https://example.org/a.zip", pageUrl: "https://example.org/" }, { id: 1 });
  await pick({ linkUrl: "https://example.org/a.zip", pageUrl: "https://evil.example/" }, { id: 2 });
  await pick(
    { linkUrl: "https://example.org/a.zip", pageUrl: "https://example.org/", frameUrl: "https://ads.example/f" },
    { id: 1 },
  );
  await pick({ linkUrl: "https://example.org/a.zip", pageUrl: "https://example.org/" }, { id: 9, incognito: true });
  await pick({ linkUrl: "https://example.org/a.zip", pageUrl: "https://example.org/" }, { id: 5, incognito: true });
  await pick({ linkUrl: "https://example.org/a.zip", pageUrl: "https://example.org/" }, undefined);
  const sent = browser.sent();
  assert.deepEqual(sent.map(names), [
    "lax none strict unset", // same site
    "lax none unset", // from another site's page
    "lax none unset", // from another site's frame
    "private", // an incognito tab: its store, found by its tab
    "", // an incognito tab in no store we can read
    "", // no tab: nothing known about its store
  ]);
  assert.ok(sent.every((message) => message.startedBy === "user"));
  assert.deepEqual(
    browser.reads.map((details) => details.storeId),
    ["0", "0", "0", "1"],
  );
});

test("a link fetchq refuses for its address leaves the download to the browser, with the reason", async () => {
  const reason = "a page on evil.example may not send fetchq to 127.0.0.1, an address on this computer";
  const browser = fakeBrowser({ reply: { ok: false, error: reason } });
  await browser.listeners.created(
    item({ url: "http://127.0.0.1:8080/x", finalUrl: "http://127.0.0.1:8080/x", referrer: "https://evil.example/" }),
  );
  assert.deepEqual(browser.names(), ["pause", "native", "badge", "title", "resume"]);
  assert.deepEqual(browser.calls[2], ["badge", "!"]);
  assert.deepEqual(browser.calls[3], ["title", "fetchq: " + reason]);
});
