// The library page without page loads: the search applies as you type and the menus on
// change, and when the background load finishes the page updates in place. Each update
// fetches the page the form describes (the same URL a plain submit would open: the form
// works without this script) and swaps in its [data-swap] regions, leaving the form
// alone, so what was typed, the focus and the scroll position stay as they were.
(function () {
  "use strict";
  const form = document.querySelector("form[data-live]");
  const announce = document.querySelector("[data-announce]");
  const TYPING_PAUSE = 250; // ms after the last key before searching
  let controller = null;
  let typing = null;
  let requested = null; // the URL of the view asked for last (its page may be on its way)

  // The form's URL without empty fields or menus left at their first (default) entry.
  function formUrl() {
    const params = new URLSearchParams();
    for (const field of form.elements) {
      if (!field.name || !field.value) continue;
      if (field.tagName === "SELECT" && field.selectedIndex === 0) continue;
      params.set(field.name, field.value.trim());
    }
    const query = params.toString();
    return form.action + (query ? "?" + query : "");
  }

  // An element's identity across two renderings of the page, to give focus back.
  function identify(element) {
    if (element.id) return "#" + CSS.escape(element.id);
    if (element.getAttribute("href")) return '[href="' + CSS.escape(element.getAttribute("href")) + '"]';
    return null;
  }

  function swap(fresh, names) {
    const active = document.activeElement;
    const regions = names.map((name) => document.querySelector('[data-swap="' + name + '"]'));
    const focused = regions.find((region) => region && region.contains(active));
    const focusKey = focused ? identify(active) : null;
    const x = window.scrollX;
    const y = window.scrollY;
    names.forEach((name, index) => {
      const replacement = fresh.querySelector('[data-swap="' + name + '"]');
      if (regions[index] && replacement) regions[index].replaceWith(document.adoptNode(replacement));
    });
    document.title = fresh.title;
    window.scrollTo(x, y);
    if (focusKey) {
      const again = document.querySelector(focusKey);
      if (again) again.focus({ preventScroll: true });
    }
    const status = document.querySelector("[data-view-status]");
    if (announce && status) announce.textContent = status.textContent.replace(/\s+/g, " ").trim();
  }

  // Fetches `url` and swaps `names`; false when it could not (the caller falls back).
  async function update(url, names) {
    requested = url;
    if (controller) controller.abort();
    controller = new AbortController();
    const results = document.querySelector('[data-swap="results"]');
    if (results) results.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, {
        signal: controller.signal,
        headers: { Accept: "text/html" },
        credentials: "same-origin",
      });
      const landed = new URL(response.url);
      if (!response.ok || landed.pathname !== new URL(url, window.location.href).pathname) return false;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      swap(fresh, names);
      window.history.replaceState(null, "", url);
      return true;
    } catch (error) {
      return error.name === "AbortError";
    } finally {
      const current = document.querySelector('[data-swap="results"]');
      if (current) current.removeAttribute("aria-busy");
    }
  }

  // Signed out, an error page, no connection: let the browser open the URL itself.
  async function apply() {
    typing = null;
    const url = formUrl();
    if (!(await update(url, ["results"]))) window.location.assign(url);
  }

  if (form) {
    form.querySelectorAll("[data-apply]").forEach((button) => (button.hidden = true));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      window.clearTimeout(typing);
      apply();
    });
    form.addEventListener("input", (event) => {
      if (event.target.type !== "search") return;
      window.clearTimeout(typing);
      typing = window.setTimeout(apply, TYPING_PAUSE);
    });
    form.addEventListener("change", (event) => {
      if (event.target.tagName === "SELECT") apply();
    });
    // Typed before this script ran (a slow connection): apply it now.
    const search = form.querySelector("input[type=search]");
    const shown = new URLSearchParams(window.location.search).get(search.name) || "";
    if (search.value.trim() !== shown.trim()) apply();
  }

  // The page size menu beside the pager: a new size starts again from page 1.
  document.addEventListener("change", (event) => {
    if (!event.target.matches("[data-page-size]")) return;
    const jump = event.target.form.elements.page;
    if (jump) jump.value = "1";
    event.target.form.requestSubmit();
  });

  document.addEventListener("library:loaded", async (event) => {
    event.preventDefault();
    // The address bar follows every applied search; a search still being typed wins, and
    // so does one whose page is still on its way (the address bar shows the one before).
    const url = form && typing !== null ? formUrl() : requested || window.location.href;
    window.clearTimeout(typing);
    typing = null;
    if (await update(url, ["count", "loading", "results"])) return;
    // Could not fetch the page: offer it rather than reloading under the user's hands.
    const status = document.querySelector("[data-progress-text]");
    if (status) {
      const link = document.createElement("a");
      link.href = url;
      link.textContent = "show them";
      status.textContent = "All " + new Intl.NumberFormat("en-US").format(event.detail.total) + " songs loaded: ";
      status.append(link);
    }
  });
})();
