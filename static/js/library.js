// Loads the rest of the library in the background: calls the load endpoint batch after
// batch and shows progress. It waits as long as the server says (the app shares one
// Spotify budget with every other user; during Spotify's pause it says until when), with
// a little jitter so that many pages do not ask again in the same instant. When
// everything is in, it reloads the page (so search, sort and export cover the whole
// library), or, on an export's "preparing" page, fetches the export.
(function () {
  "use strict";
  const box = document.querySelector("[data-library-load]");
  if (!box) return;
  const bar = box.querySelector("progress");
  const text = box.querySelector("[data-progress-text]");
  const number = new Intl.NumberFormat("en-US");
  let failures = 0;

  function show(loaded, total, note) {
    bar.max = Math.max(total, 1);
    bar.value = loaded;
    const counts = total ? number.format(loaded) + " of " + number.format(total) : "";
    text.textContent = [counts, note].filter(Boolean).join(". ");
  }

  function stop(message) {
    text.textContent = message;
    box.classList.add("stopped");
  }

  function later(seconds) {
    const jitter = 1 + Math.random() * 0.2;
    window.setTimeout(step, Math.max(0.2, seconds * jitter) * 1000);
  }

  function finished(total) {
    text.textContent = number.format(total) + " songs loaded";
    box.classList.add("loaded");
    if (box.dataset.then) {
      text.textContent += "; your download starts now.";
      window.location.assign(box.dataset.then);
    } else {
      window.location.reload();
    }
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
      const pause = Math.min(30, 2 ** failures);
      stop("Connection trouble, retrying in " + pause + " s");
      return later(pause);
    }
    const retryAfter = Number(response.headers.get("Retry-After")) || 0;
    const isJson = (response.headers.get("Content-Type") || "").includes("application/json");
    if (response.redirected || response.status === 401) {
      return stop("Loading stopped: your session ended. Reload the page to sign in again.");
    }
    let data = null;
    if (isJson) {
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
    }
    box.classList.remove("stopped");
    if (data && data.done) return finished(data.total);
    if (response.ok && data) {
      failures = 0;
      show(data.loaded, data.total, data.message);
      return later(data.wait || 0);
    }
    if (response.status === 403) {
      return stop((data && data.error) || "Loading stopped. Reload the page.");
    }
    failures += 1;
    const pause = retryAfter || Math.min(30, 2 ** failures);
    if (data && data.total) show(data.loaded, data.total, data.message || data.error);
    else if (data && (data.message || data.error)) stop(data.message || data.error);
    else stop("Server trouble, retrying in " + pause + " s");
    later(pause);
  }

  step();
})();
