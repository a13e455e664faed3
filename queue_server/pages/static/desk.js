// The guide desk (导办台): staff issue any class, with or without a phone or ID number. Its
// token lives in this browser only: set it once with /desk/<hall>#token=<token>&paper=80 (the
// fragment never reaches the server and is removed from the address bar).
"use strict";
(function () {
  const root = document.getElementById("desk");
  const hall = root.dataset.hall;
  const lang = root.dataset.lang;
  const errors = JSON.parse(root.dataset.errors);
  const classNames = JSON.parse(root.dataset.classes);
  const storeKey = "hallcall.desk." + hall;
  const settings = JSON.parse(localStorage.getItem(storeKey) || "{}");
  if (location.hash.length > 1) {
    const given = new URLSearchParams(location.hash.slice(1));
    for (const name of ["token", "paper"]) {
      if (given.has(name)) settings[name] = given.get(name);
    }
    localStorage.setItem(storeKey, JSON.stringify(settings));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const buttons = Array.from(root.querySelectorAll("button.service"));
  const message = document.getElementById("message");
  const busy = document.getElementById("busy");
  const issued = document.getElementById("issued");
  const phone = document.getElementById("phone");
  const idNumber = document.getElementById("id_number");
  if (!settings.token) {
    document.getElementById("unset").hidden = false;
    buttons.forEach((b) => { b.disabled = true; });
    return;
  }

  function newKey() {  // random without crypto.randomUUID (not available over plain http)
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  let key = newKey();  // one per press: a double click or a retry sends the same one
  let pending = false;

  function show(text) {
    busy.hidden = true;
    message.textContent = text;
    message.hidden = false;
  }

  function chosenClass() {
    const checked = root.querySelector("input[name=class]:checked");
    return checked ? checked.value : "normal";
  }

  async function send(body) {
    return fetch("/api/v1/halls/" + encodeURIComponent(hall) + "/tickets", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Authorization": "Bearer " + settings.token,
        "Idempotency-Key": key,
      },
      body: JSON.stringify(body),
    });
  }

  async function take(button) {
    if (pending) return;
    pending = true;
    message.hidden = true;
    issued.hidden = true;
    busy.hidden = false;
    const body = { service: button.dataset.service, class: chosenClass() };
    if (phone.value.trim()) body.phone = phone.value.trim();
    if (idNumber.value.trim()) body.id_number = idNumber.value.trim();
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
    pending = false;
    key = newKey();
    if (resp.status !== 201) {
      show(errors[answer.error] || errors.other);
      return;
    }
    busy.hidden = true;
    // the next citizen must not see this one's numbers
    phone.value = "";
    idNumber.value = "";
    document.getElementById("number").textContent = answer.number;
    document.getElementById("service").textContent = answer.service_name;
    document.getElementById("cls").textContent = classNames[answer.class] || answer.class;
    document.getElementById("ahead").textContent = String(answer.ahead);
    const query = new URLSearchParams({ secret: answer.secret, lang: lang,
      paper: settings.paper === "58" ? "58" : "80" });
    document.getElementById("print").href = "/kiosk/" + encodeURIComponent(hall) + "/t/" +
      encodeURIComponent(answer.id) + "?" + query.toString();
    issued.hidden = false;
  }

  buttons.forEach((b) => b.addEventListener("click", () => take(b)));
})();
