// The kiosk: its device token and print settings live in this browser, never in the page.
// Set them once with the start URL /kiosk/<hall>#token=<token>&print=1&paper=80 ; the
// fragment never reaches the server or its logs, and is removed from the address bar.
"use strict";
(function () {
  const root = document.getElementById("kiosk");
  const hall = root.dataset.hall;
  const lang = root.dataset.lang;
  const errors = JSON.parse(root.dataset.errors);
  const storeKey = "hallcall.kiosk." + hall;
  const settings = JSON.parse(localStorage.getItem(storeKey) || "{}");
  if (location.hash.length > 1) {
    const given = new URLSearchParams(location.hash.slice(1));
    for (const name of ["token", "print", "paper"]) {
      if (given.has(name)) settings[name] = given.get(name);
    }
    localStorage.setItem(storeKey, JSON.stringify(settings));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const buttons = Array.from(root.querySelectorAll("button.service"));
  const message = document.getElementById("message");
  const busy = document.getElementById("busy");
  if (!settings.token) {
    document.getElementById("unset").hidden = false;
    buttons.forEach((b) => { b.disabled = true; });
    if (document.getElementById("checkin-open")) {
      document.getElementById("checkin-open").disabled = true;
    }
    return;
  }

  function newKey() {  // random without crypto.randomUUID (not available over plain http)
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  let key = newKey();  // one per press: a double tap or a retry sends the same one
  let pending = false;

  function show(text) {
    busy.hidden = true;
    message.textContent = text;
    message.hidden = false;
  }

  async function send(body, path = "/tickets") {
    return fetch("/api/v1/halls/" + encodeURIComponent(hall) + path, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Authorization": "Bearer " + settings.token,
        "Idempotency-Key": key,
      },
      body: JSON.stringify(body),
    });
  }

  async function take(service) {
    if (pending) return;  // the second tap of a double tap
    pending = true;
    message.hidden = true;
    busy.hidden = false;
    const body = { service: service };
    const phone = document.getElementById("phone").value.trim();
    if (phone) body.phone = phone;
    const idNumber = document.getElementById("id_number").value.trim();
    if (idNumber) body.id_number = idNumber;
    let resp;
    try {
      try {
        resp = await send(body);
      } catch (lost) {
        resp = await send(body);  // the answer was lost: the same key gets the same ticket
      }
    } catch (down) {
      pending = false;
      show(errors.network);
      return;
    }
    const answer = await resp.json().catch(() => ({}));
    if (resp.status === 201) {
      const query = new URLSearchParams({ secret: answer.secret, lang: lang,
        paper: settings.paper === "58" ? "58" : "80" });
      if (answer.printed) query.set("printed", "1");  // on the kiosk's ESC/POS printer
      location.assign("/kiosk/" + encodeURIComponent(hall) + "/t/" +
        encodeURIComponent(answer.id) + "?" + query.toString());
      return;
    }
    pending = false;
    key = newKey();  // refused: nothing was issued, the next press is a new one
    show(errors[answer.error] || errors.other);
  }

  buttons.forEach((b) => b.addEventListener("click", () => take(b.dataset.service)));

  // 预约签到: a booking's code or phone gives its ticket (pressed again: the same ticket)
  const checkin = document.getElementById("checkin");  // absent: the hall takes no bookings
  if (checkin) document.getElementById("checkin-open").addEventListener("click", () => {
    checkin.hidden = false;
    document.getElementById("checkin-code").focus();
  });
  if (checkin) document.getElementById("checkin-go").addEventListener("click", async () => {
    if (pending) return;
    const body = {};
    const code = document.getElementById("checkin-code").value.trim();
    const phone = document.getElementById("checkin-phone").value.trim();
    if (code) body.code = code;
    if (phone) body.phone = phone;
    pending = true;
    message.hidden = true;
    busy.hidden = false;
    let resp;
    try {
      resp = await send(body, "/bookings/checkin");
    } catch (down) {
      pending = false;
      show(errors.network);
      return;
    }
    const answer = await resp.json().catch(() => ({}));
    if (resp.status === 200) {
      const query = new URLSearchParams({ secret: answer.ticket.secret, lang: lang,
        paper: settings.paper === "58" ? "58" : "80", note: answer.late ? "late" : "appt" });
      location.assign("/kiosk/" + encodeURIComponent(hall) + "/t/" +
        encodeURIComponent(answer.ticket.id) + "?" + query.toString());
      return;
    }
    pending = false;
    key = newKey();
    show(errors[answer.error] || errors.other);
  });
})();
