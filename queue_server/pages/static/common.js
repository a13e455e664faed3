// What the kiosk and the guide desk share: the device's settings kept in this browser, one
// idempotency key per press, and posting to the hall's API with the device's token.
"use strict";
window.hallcall = (function () {
  // The device's token and print settings live in this browser, never in the page: given
  // once in the start URL's fragment (never sent to the server or its logs), kept in local
  // storage, and removed from the address bar.
  function settings(kind, hall, names) {
    const storeKey = "hallcall." + kind + "." + hall;
    const kept = JSON.parse(localStorage.getItem(storeKey) || "{}");
    if (location.hash.length > 1) {
      const given = new URLSearchParams(location.hash.slice(1));
      for (const name of names) {
        if (given.has(name)) kept[name] = given.get(name);
      }
      localStorage.setItem(storeKey, JSON.stringify(kept));
      history.replaceState(null, "", location.pathname + location.search);
    }
    return kept;
  }

  function newKey() {  // random without crypto.randomUUID (not available over plain http)
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // POST `body` to the hall's API as the device; the same `key` makes a retry the same request.
  function post(hall, path, token, key, body) {
    return fetch("/api/v1/halls/" + encodeURIComponent(hall) + path, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Authorization": "Bearer " + token,
        "Idempotency-Key": key,
      },
      body: JSON.stringify(body),
    });
  }

  // The same, sent once more when the answer was lost: the same key gets the same ticket.
  async function postAgainIfLost(hall, path, token, key, body) {
    try {
      return await post(hall, path, token, key, body);
    } catch (lost) {
      return post(hall, path, token, key, body);
    }
  }

  // Ask for a ticket on a press: [status, answer], or null (said on the page) when the
  // network is down.
  async function request(hall, path, token, key, body, again, sayDown) {
    let resp;
    try {
      resp = await (again ? postAgainIfLost : post)(hall, path, token, key, body);
    } catch (down) {
      sayDown();
      return null;
    }
    return [resp.status, await resp.json().catch(() => ({}))];
  }

  // A message in place of the busy sign.
  function say(busy, message, text) {
    busy.hidden = true;
    message.textContent = text;
    message.hidden = false;
  }

  // The query of the printed ticket's page for an issued ticket.
  function slipQuery(secret, lang, paper, extra) {
    return new URLSearchParams(Object.assign(
      { secret: secret, lang: lang, paper: paper === "58" ? "58" : "80" }, extra || {}));
  }

  return { settings, newKey, request, say, slipQuery };
})();
