// The printed ticket: print on the kiosk's roll (unless this kiosk has print=0), then back.
"use strict";
(function () {
  const again = document.getElementById("again");
  const hall = again.getAttribute("href").split("/")[2].split("?")[0];
  const settings = JSON.parse(localStorage.getItem("hallcall.kiosk." + hall) || "{}");
  const back = () => location.assign(again.getAttribute("href"));
  if (settings.print !== "0") {
    window.addEventListener("afterprint", () => setTimeout(back, 3000));
    window.print();
  } else {
    setTimeout(back, 60000);
  }
})();
