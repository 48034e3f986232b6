// Auto-refresh: every data-refresh-ms, fetch this page again and swap in
// its content, banner and status line (no full reload, so the scroll
// position stays). Paused while the tab is hidden.
(function () {
  "use strict";
  var every = Number(document.body.dataset.refreshMs) || 5000;
  var count = 0;
  var inFlight = false;

  function swap(doc, id) {
    var fresh = doc.getElementById(id);
    var old = document.getElementById(id);
    if (fresh && old) {
      old.replaceWith(fresh);
    }
  }

  function showProblem(message) {
    var banner = document.getElementById("banner");
    if (!banner) return;
    banner.innerHTML = "";
    var div = document.createElement("div");
    div.className = "banner";
    div.setAttribute("role", "alert");
    div.textContent = message;
    banner.appendChild(div);
  }

  function refresh() {
    // One request at a time: a slow answer is not piled up on.
    if (document.hidden || inFlight) return;
    inFlight = true;
    fetch(window.location.href, { cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 404) {
          throw new Error("This no longer exists (it was deleted); the rows below are the last seen.");
        }
        if (!response.ok) {
          throw new Error("The monitor answered HTTP " + response.status + "; showing the last data.");
        }
        return response.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        ["content", "banner", "status"].forEach(function (id) { swap(doc, id); });
        count += 1;
        document.body.dataset.refreshes = String(count);
      })
      .catch(function (error) {
        var text = error instanceof TypeError
          ? "The monitor did not answer (" + error.message + "); showing the last data."
          : error.message;
        showProblem(text);
      })
      .then(function () { inFlight = false; });
  }

  window.setInterval(refresh, every);
})();
