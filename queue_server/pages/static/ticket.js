// The printed ticket: print on the kiosk's roll, then back; not when the server printed it
// already (a kiosk with an ESC/POS printer) or this kiosk is set to print=0.
"use strict";
(function () {
  const again = document.getElementById("again");
  const hall = again.getAttribute("href").split("/")[2].split("?")[0];
  const settings = JSON.parse(localStorage.getItem("hallcall.kiosk." + hall) || "{}");
  const printed = document.getElementById("slip").dataset.printed === "1";
  const back = () => location.assign(again.getAttribute("href"));
  if (settings.print !== "0" && !printed) {
    window.addEventListener("afterprint", () => setTimeout(back, 3000));
    window.print();
  } else {
    setTimeout(back, 60000);
  }
})();
