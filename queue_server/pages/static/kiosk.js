// The kiosk: its device token and print settings live in this browser, never in the page.
// Set them once with the start URL /kiosk/<hall>#token=<token>&print=1&paper=80 (common.js).
"use strict";
(function () {
  const hc = window.hallcall;
  const root = document.getElementById("kiosk");
  const hall = root.dataset.hall;
  const lang = root.dataset.lang;
  const errors = JSON.parse(root.dataset.errors);
  const settings = hc.settings("kiosk", hall, ["token", "print", "paper"]);
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

  let key = hc.newKey();  // one per press: a double tap or a retry sends the same one
  let pending = false;
  const show = (text) => hc.say(busy, message, text);
  const down = () => { pending = false; show(errors.network); };

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
    const got = await hc.request(hall, "/tickets", settings.token, key, body, true, down);
    if (got === null) return;
    const [status, answer] = got;
    if (status === 201) {
      // printed: on the kiosk's ESC/POS printer by the server, not again by the browser
      const query = hc.slipQuery(answer.secret, lang, settings.paper,
        answer.printed ? { printed: "1" } : {});
      location.assign("/kiosk/" + encodeURIComponent(hall) + "/t/" +
        encodeURIComponent(answer.id) + "?" + query.toString());
      return;
    }
    pending = false;
    key = hc.newKey();  // refused: nothing was issued, the next press is a new one
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
    const got = await hc.request(hall, "/bookings/checkin", settings.token, key, body, false,
      down);
    if (got === null) return;
    const [status, answer] = got;
    if (status === 200) {
      const query = hc.slipQuery(answer.ticket.secret, lang, settings.paper,
        { note: answer.late ? "late" : "appt" });
      location.assign("/kiosk/" + encodeURIComponent(hall) + "/t/" +
        encodeURIComponent(answer.ticket.id) + "?" + query.toString());
      return;
    }
    pending = false;
    key = hc.newKey();
    show(errors[answer.error] || errors.other);
  });
})();
