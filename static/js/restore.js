// Follows a restore saved by a worker: asks how it stands every couple of seconds, shows
// the count, and reloads the page (which then says how it ended) when it is finished.
// Without this script the page's Refresh link does the same.
(function () {
  "use strict";
  const box = document.querySelector("[data-restore]");
  if (!box) return;
  const bar = box.querySelector("progress");
  const text = box.querySelector("[data-restore-text]");
  const number = new Intl.NumberFormat("en-US");
  let failures = 0;

  function ask() {
    fetch(box.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (state) {
        failures = 0;
        if (state.finished || state.state !== box.dataset.state) {
          window.location.reload();
          return;
        }
        bar.max = Math.max(state.total, 1);
        bar.value = state.done;
        text.textContent = number.format(state.done) + " of " + number.format(state.total);
        window.setTimeout(ask, 2000);
      })
      .catch(function () {
        failures += 1;
        text.textContent = "Could not ask how saving goes; trying again.";
        window.setTimeout(ask, Math.min(30000, 2000 * 2 ** failures));
      });
  }

  window.setTimeout(ask, 2000);
})();
