// Loads the rest of the library in the background: calls the load endpoint batch after
// batch and shows progress. It waits as long as the server says (the app shares one
// Spotify budget with every other user; during Spotify's pause it says until when), backs
// off when nothing moves or something fails, always with jitter so that many pages do
// not ask again in the same instant, and says what is happening. Being signed out (a
// redirect to the sign-in page, or a 401) is told apart from server trouble; a grant
// that only needs reconnecting goes through Spotify and back with no click. When
// everything is in, it says so with a "library:loaded" event, which library-view.js
// answers by updating the page in place (nothing typed, focused or scrolled is lost),
// or, on an export's "preparing" page, it fetches the export and goes back to the library.
(function () {
  "use strict";
  const box = document.querySelector("[data-library-load]");
  if (!box) return;
  const bar = box.querySelector("progress");
  const text = box.querySelector("[data-progress-text]");
  const number = new Intl.NumberFormat("en-US");
  const MAX_PAUSE = 60;
  let failures = 0; // failed requests in a row
  let stalls = 0; // answers in a row that brought no new songs
  let lastLoaded = -1;

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

  // Up to 20 % either way: many pages told the same wait spread out.
  function jittered(seconds) {
    return Math.max(0.2, seconds * (0.8 + Math.random() * 0.4));
  }

  function later(seconds) {
    window.setTimeout(step, jittered(seconds) * 1000);
  }

  // Exponential backoff after `count` failures or stalls in a row: 1, 2, 4 ... s.
  function backoff(count) {
    return Math.min(MAX_PAUSE, 2 ** Math.max(0, count - 1));
  }

  function retrying(message, seconds) {
    const shown = Math.round(seconds);
    stop(message + ", retrying in " + shown + " s.");
    later(seconds);
  }

  function finished(total) {
    text.textContent = number.format(total) + (total === 1 ? " song" : " songs") + " loaded";
    box.classList.add("loaded");
    if (box.dataset.then) {
      download();
    } else {
      endInPlace(total);
      const event = new CustomEvent("library:loaded", { detail: { total: total }, cancelable: true });
      // Nobody updated the page in place (library-view.js missing): reload it instead.
      if (document.dispatchEvent(event)) window.location.reload();
    }
  }

  // The library page: the end of the load is said in the same box, at the same height,
  // and the box is taken out of the regions library-view.js swaps for the loaded page
  // (whose box would be gone): nothing below it moves.
  function endInPlace(total) {
    const height = box.getBoundingClientRect().height;
    const label = box.querySelector("label");
    const full = document.createElement("span");
    full.className = "loading-full";
    full.setAttribute("aria-hidden", "true");
    bar.replaceWith(full);
    if (label) {
      const said = document.createElement("span");
      said.textContent = "Your whole library is in for search, sort and export:";
      label.replaceWith(said);
    }
    text.textContent = "All " + number.format(total) + (total === 1 ? " song" : " songs") + " loaded";
    const note = box.querySelector(".loading-note");
    if (note) note.textContent = "Search and sort see every song.";
    box.style.minHeight = height + "px";
    const region = box.closest("[data-swap]");
    if (region) region.removeAttribute("data-swap");
  }

  // The "preparing" page's export, now that the library is in: the browser downloads it
  // while this page waits for the answer's cookie holding this page's ticket, then goes
  // back to the library view, where a line says the file was downloaded. Replaced, not
  // pushed: Back from there does not come here to download it again.
  function download() {
    text.textContent += "; your download starts now.";
    const ticket = Math.random().toString(36).slice(2, 12).padEnd(8, "0");
    const url = new URL(box.dataset.then, window.location.href);
    url.searchParams.set("prepared", ticket);
    window.location.assign(url.href);
    const since = Date.now();
    (function wait() {
      if (document.cookie.split("; ").includes("prepared_export=" + ticket)) {
        window.location.replace(box.dataset.back);
      } else if (Date.now() - since < 120000) {
        window.setTimeout(wait, 250);
      }
    })();
  }

  function signedOut(response) {
    return (
      response.status === 401 ||
      (response.redirected && new URL(response.url).pathname.startsWith("/accounts/login/"))
    );
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
      return retrying("Connection trouble", backoff(failures));
    }
    const retryAfter = Number(response.headers.get("Retry-After")) || 0;
    const isJson = (response.headers.get("Content-Type") || "").includes("application/json");
    let data = null;
    if (isJson) {
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
    }
    if (signedOut(response)) {
      if (data && data.reconnect) {
        stop("Reconnecting to Spotify…");
        return window.location.assign(data.reconnect);
      }
      return stop("You are signed out. Reload the page to sign in again.");
    }
    box.classList.remove("stopped");
    if (data && data.done) return finished(data.total);
    if (response.ok && data) {
      failures = 0;
      stalls = data.loaded === lastLoaded ? stalls + 1 : 0;
      lastLoaded = data.loaded;
      show(data.loaded, data.total, data.message);
      // The server's wait when it gives one; and no polling in a tight loop while
      // nothing moves (another tab loading, Spotify slow).
      return later(Math.max(data.wait || 0, stalls ? backoff(stalls) / 2 : 0));
    }
    if (response.status === 403) {
      return stop((data && data.error) || "Loading stopped. Reload the page.");
    }
    failures += 1;
    const pause = Math.max(retryAfter, backoff(failures));
    if (data && data.paused_until) {
      // Spotify's pause: the message says until when; loading resumes by itself.
      if (data.total) show(data.loaded, data.total, data.message);
      else stop(data.message || data.error);
      return later(retryAfter || pause);
    }
    if (data && data.maintenance) return retrying("The site is briefly down for maintenance", pause);
    if (data && data.error) return retrying(data.error.split(". ")[0].replace(/\.$/, ""), pause);
    retrying("Server trouble", pause);
  }

  step();
})();
