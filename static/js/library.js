// Loads the rest of the library in the background: calls the load endpoint batch after
// batch, shows progress, waits when Spotify (or the server) says to, and reloads the page
// when everything is in, so search, sort and export cover the whole library.
(function () {
  "use strict";
  const box = document.querySelector("[data-library-load]");
  if (!box) return;
  const bar = box.querySelector("progress");
  const text = box.querySelector("[data-progress-text]");
  const number = new Intl.NumberFormat("en-US");
  let failures = 0;

  function show(loaded, total) {
    bar.max = total;
    bar.value = loaded;
    text.textContent = number.format(loaded) + " of " + number.format(total);
  }

  function stop(message) {
    text.textContent = message;
    box.classList.add("stopped");
  }

  function later(seconds) {
    window.setTimeout(step, Math.max(0.2, seconds) * 1000);
  }

  async function step() {
    let response;
    try {
      response = await fetch(box.dataset.url, {
        method: "POST",
        headers: { "X-CSRFToken": box.dataset.csrf, Accept: "application/json" },
        credentials: "same-origin",
      });
    } catch (error) {
      failures += 1;
      return later(Math.min(30, 2 ** failures));
    }
    const retryAfter = Number(response.headers.get("Retry-After"));
    const isJson = (response.headers.get("Content-Type") || "").includes("application/json");
    if (response.redirected || !isJson) {
      // Signed out meanwhile (the login page answered): stop, and say how to go on.
      return stop("Loading stopped: your session ended. Reload the page to sign in again.");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (data && data.total) show(data.loaded, data.total);
    if (data && data.done) {
      text.textContent = number.format(data.total) + " songs loaded";
      box.classList.add("loaded");
      window.location.reload();
      return;
    }
    if (response.ok) {
      failures = 0;
      return later(0);
    }
    failures += 1;
    if (response.status === 401 || response.status === 403) {
      return stop((data && data.error) || "Loading stopped. Reload the page.");
    }
    later(retryAfter || Math.min(30, 2 ** failures));
  }

  step();
})();
