// Auto-refresh: every data-refresh-ms, fetch this page again and swap in
// its content, banner and status line (no full reload, so the scroll
// position stays). Paused while the tab is hidden.
(function () {
  "use strict";
  var every = Number(document.body.dataset.refreshMs) || 5000;
  var count = 0;

  function swap(doc, id) {
    var fresh = doc.getElementById(id);
    var old = document.getElementById(id);
    if (fresh && old) {
      old.replaceWith(fresh);
    }
  }

  function unreachable(message) {
    var banner = document.getElementById("banner");
    if (!banner) return;
    banner.innerHTML = "";
    var div = document.createElement("div");
    div.className = "banner";
    div.setAttribute("role", "alert");
    div.textContent = "The monitor did not answer (" + message + "); showing the last data.";
    banner.appendChild(div);
  }

  function refresh() {
    if (document.hidden) return;
    fetch(window.location.href, { cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        ["content", "banner", "status"].forEach(function (id) { swap(doc, id); });
        count += 1;
        document.body.dataset.refreshes = String(count);
      })
      .catch(function (error) { unreachable(error.message); });
  }

  window.setInterval(refresh, every);
})();
