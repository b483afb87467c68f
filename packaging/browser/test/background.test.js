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

function fakeBrowser({ reply = { ok: true }, error = null, settings = {}, sizes = {} } = {}) {
  const calls = [];
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
    cookies: { getAll: async ({ url }) => [{ name: "sid", value: "s1", url }] },
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
  return { calls, listeners, names, context };
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
