// The guide desk (导办台): staff issue any class, with or without a phone or ID number. Its
// token lives in this browser only: set it once with /desk/<hall>#token=<token>&paper=80
// (common.js).
"use strict";
(function () {
  const hc = window.hallcall;
  const root = document.getElementById("desk");
  const hall = root.dataset.hall;
  const lang = root.dataset.lang;
  const errors = JSON.parse(root.dataset.errors);
  const classNames = JSON.parse(root.dataset.classes);
  const settings = hc.settings("desk", hall, ["token", "paper"]);
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

  let key = hc.newKey();  // one per press: a double click or a retry sends the same one
  let pending = false;
  const show = (text) => hc.say(busy, message, text);
  const down = () => { pending = false; show(errors.network); };

  function chosenClass() {
    const checked = root.querySelector("input[name=class]:checked");
    return checked ? checked.value : "normal";
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
    const got = await hc.request(hall, "/tickets", settings.token, key, body, true, down);
    if (got === null) return;
    const [status, answer] = got;
    pending = false;
    key = hc.newKey();
    if (status !== 201) {
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
    const query = hc.slipQuery(answer.secret, lang, settings.paper);
    document.getElementById("print").href = "/kiosk/" + encodeURIComponent(hall) + "/t/" +
      encodeURIComponent(answer.id) + "?" + query.toString();
    issued.hidden = false;
  }

  buttons.forEach((b) => b.addEventListener("click", () => take(b)));
})();
