// Tells the extension when a link is clicked with a modifier key held, so that the browser
// downloads that one link itself. Reads nothing of the page but the link clicked.
"use strict";

document.addEventListener(
  "click",
  (event) => {
    if (!event.isTrusted || !(event.altKey || event.shiftKey || event.ctrlKey || event.metaKey)) {
      return;
    }
    const link = event.target instanceof Element ? event.target.closest("a[href]") : null;
    if (!link) {
      return;
    }
    chrome.runtime
      .sendMessage({
        type: "modified-click",
        url: link.href,
        alt: event.altKey,
        shift: event.shiftKey,
        ctrl: event.ctrlKey,
        meta: event.metaKey,
      })
      .catch(() => {}); // the extension was reloaded: nothing to tell
  },
  true,
);
