// The library page without page loads: the search applies as you type and the menus once
// a choice is made, and when the background load finishes the page updates in place.
// Each update fetches the view the form describes (the URL a plain submit would open: the
// form works without this script) as a fragment, `?partial=1`: the page's content without
// the site's header, footer and scripts. It swaps in the fragment's [data-swap] regions,
// leaving the form alone, so what was typed, the focus and the scroll position stay.
(function () {
  "use strict";
  const form = document.querySelector("form[data-live]");
  const announce = document.querySelector("[data-announce]");
  const TYPING_PAUSE = 250; // ms after the last key before searching
  // The site's name after a page's title (base.html), which a fragment's <title> leaves out.
  const SITE = document.title.includes(" · ") ? document.title.slice(document.title.lastIndexOf(" · ")) : "";
  let controller = null;
  let typing = null;
  // What an update swaps: while the library loads, the results (the progress box is
  // library.js's); from the end of the load, every region, so that an update that
  // aborts the load's own (a search typed meanwhile) brings the counts up to date too.
  let regions = ["results"];
  // The menus' values in the view shown (see commit below).
  const committed = new WeakMap();
  let stepping = null; // the menu a key is moving through, until its "change" has fired
  const viewOf = (url) => {
    const parsed = new URL(url, window.location.href);
    return parsed.pathname + parsed.search;
  };
  let wantedView = viewOf(window.location.href); // the view shown, or asked for last

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

  // The view the form describes, on the page the address bar shows when it is the same
  // view (a load ending on page 3 stays on page 3); what the user typed always wins
  // over an address bar that still holds the view before it.
  function currentUrl() {
    if (!form) return window.location.href;
    const wanted = new URL(formUrl(), window.location.href);
    const shown = new URL(window.location.href);
    const view = (url) => {
      const params = new URLSearchParams(url.search);
      params.delete("page");
      params.sort();
      return params.toString();
    };
    return view(wanted) === view(shown) ? shown.href : wanted.href;
  }

  // Back and Forward: the form shows the view of the address bar again.
  function fillForm(url) {
    if (!form) return;
    const params = new URL(url, window.location.href).searchParams;
    for (const field of form.elements) {
      if (!field.name || field.type === "hidden" || field.type === "submit") continue;
      if (field.tagName === "SELECT") {
        const value = params.get(field.name) || field.options[0].value;
        field.value = [...field.options].some((option) => option.value === value) ? value : field.options[0].value;
      } else {
        field.value = params.get(field.name) || "";
      }
    }
  }

  // An element's identity across two renderings of the page, to give focus back.
  function identify(element) {
    if (element.id) return "#" + CSS.escape(element.id);
    if (element.getAttribute("href")) return '[href="' + CSS.escape(element.getAttribute("href")) + '"]';
    return null;
  }

  const CONTROLS = "a[href], summary, button, input, select";

  function swap(fresh, names) {
    const active = document.activeElement;
    const regions = names.map((name) => document.querySelector('[data-swap="' + name + '"]'));
    const focused = regions.find((region) => region && region.contains(active));
    const focusKey = focused ? identify(active) : null;
    // A menu open in a region stays open, and focus inside it stays (by the control's
    // place in its region when it has no id or link of its own: a menu's button).
    const open = regions.map((region) =>
      region ? [...region.querySelectorAll("details")].map((menu) => menu.open) : [],
    );
    const place = focused ? [regions.indexOf(focused), [...focused.querySelectorAll(CONTROLS)].indexOf(active)] : null;
    const x = window.scrollX;
    const y = window.scrollY;
    names.forEach((name, index) => {
      const replacement = fresh.querySelector('[data-swap="' + name + '"]');
      if (!regions[index] || !replacement) return;
      replacement.querySelectorAll("details").forEach((menu, at) => (menu.open = Boolean(open[index][at])));
      regions[index].replaceWith(document.adoptNode(replacement));
    });
    document.title = fresh.title + SITE;
    // The sort menu offers what the view can be sorted by (relevance first while a
    // search is shown): the form stays, its sort menu follows the view.
    const sort = form && form.querySelector("select[name=sort]");
    const freshSort = fresh.querySelector("form[data-live] select[name=sort]");
    if (sort && freshSort && document.activeElement !== sort) {
      sort.replaceChildren(...[...freshSort.options].map((option) => document.importNode(option, true)));
      sort.value = freshSort.value;
      committed.set(sort, sort.value);
    }
    window.scrollTo(x, y);
    if (focused) {
      let again = focusKey ? document.querySelector(focusKey) : null;
      if (!again && place[1] >= 0) {
        const region = document.querySelector('[data-swap="' + names[place[0]] + '"]');
        again = region ? region.querySelectorAll(CONTROLS)[place[1]] : null;
      }
      if (again) again.focus({ preventScroll: true });
    }
    const status = document.querySelector("[data-view-status]");
    if (announce && status) announce.textContent = status.textContent.replace(/\s+/g, " ").trim();
    remember();
  }

  const isMenu = (element) =>
    element.tagName === "SELECT" && element.form && (element.form === form || element.matches("[data-page-size]"));
  function remember() {
    document.querySelectorAll("select").forEach((menu) => isMenu(menu) && committed.set(menu, menu.value));
  }

  function fragmentOf(url) {
    const fragment = new URL(url, window.location.href);
    fragment.searchParams.set("partial", "1");
    return fragment.href;
  }

  // Fetches view `url` and swaps its regions; false when it could not (the caller falls
  // back). `how` is what the address bar does once it lands: "push" a new history entry
  // (a view the user chose), "replace" the entry (the same view, refreshed), or "none"
  // (Back or Forward: the browser already moved).
  async function update(url, how) {
    wantedView = viewOf(url);
    if (controller) controller.abort();
    controller = new AbortController();
    const results = document.querySelector('[data-swap="results"]');
    if (results) results.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(fragmentOf(url), {
        signal: controller.signal,
        headers: { Accept: "text/html" },
        credentials: "same-origin",
      });
      const landed = new URL(response.url);
      if (!response.ok || landed.pathname !== new URL(url, window.location.href).pathname) return false;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      if (how === "push") saveScroll(); // where the reader was in the view they leave
      swap(fresh, regions);
      if (how === "push" && url !== window.location.href) window.history.pushState({ scrollY: 0 }, "", url);
      else if (how !== "none") window.history.replaceState({ scrollY: window.scrollY }, "", url);
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
    if (!(await update(url, "push"))) window.location.assign(url);
  }

  // Each view's history entry keeps where the reader is, for Back and Forward (the
  // browser's own restoring would scroll before the view's songs are swapped in).
  window.history.scrollRestoration = "manual";
  let saving = null;
  const left = new Map(); // by view: where the reader was when they went Back or Forward
  function saveScroll() {
    window.clearTimeout(saving);
    saving = null;
    window.history.replaceState({ ...window.history.state, scrollY: window.scrollY }, "", window.location.href);
  }
  window.addEventListener(
    "scroll",
    () => {
      window.clearTimeout(saving);
      saving = window.setTimeout(saveScroll, 150);
    },
    { passive: true },
  );
  window.addEventListener("pagehide", saveScroll);
  if (window.history.state && window.history.state.scrollY) window.scrollTo(0, window.history.state.scrollY);

  window.addEventListener("popstate", async (event) => {
    const url = window.location.href;
    if (viewOf(url) === wantedView) return; // a fragment (the skip link), not another view
    left.set(wantedView, window.scrollY); // the view left, as the reader left it
    fillForm(url);
    window.clearTimeout(typing);
    typing = null;
    window.clearTimeout(saving); // a scroll of the view left is not this entry's
    if (!(await update(url, "none"))) {
      window.location.reload();
      return;
    }
    if (window.location.href !== url) return; // Back or Forward again meanwhile
    fillForm(url);
    remember();
    const back = left.has(viewOf(url)) ? left.get(viewOf(url)) : event.state && event.state.scrollY;
    window.scrollTo(0, back || 0);
  });

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
    // Typed before this script ran (a slow connection): apply it now.
    const search = form.querySelector("input[type=search]");
    const shown = new URLSearchParams(window.location.search).get(search.name) || "";
    if (search.value.trim() !== shown.trim()) apply();
  }

  // Menus (<details>: the export menu, a row's Spotify links) close with Escape, giving
  // focus back to their button, and when a click or the focus goes elsewhere.
  function closeMenus(except) {
    document.querySelectorAll("details[open]").forEach((menu) => {
      if (menu !== except && !menu.contains(except)) menu.open = false;
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const menu = event.target.closest && event.target.closest("details[open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
  document.addEventListener("click", (event) => closeMenus(event.target.closest("details")));
  document.addEventListener("focusin", (event) => closeMenus(event.target));

  // A menu (the search form's, a page-size menu) applies once its choice is committed:
  // picked with the mouse or by touch, Enter, or left (Tab, a click elsewhere) holding
  // another value. On a focused closed <select> Chromium changes the value, firing
  // "change", on every arrow key or typed letter: those steps wait, or each would fetch
  // a view and add a history entry.
  function commit(menu) {
    if (committed.get(menu) === menu.value) return;
    committed.set(menu, menu.value);
    // A new page size starts again from page 1.
    const jump = menu.matches("[data-page-size]") && menu.form.elements.page;
    if (jump) jump.value = "1";
    if (menu.form === form) apply();
    else menu.form.requestSubmit();
  }
  remember();
  document.addEventListener("keydown", (event) => {
    if (!isMenu(event.target)) return;
    if (event.key === "Enter") return commit(event.target);
    stepping = event.target;
    window.setTimeout(() => (stepping = null)); // after the key's own change, if any
  });
  document.addEventListener("change", (event) => {
    if (isMenu(event.target) && event.target !== stepping) commit(event.target);
  });
  document.addEventListener("focusout", (event) => isMenu(event.target) && commit(event.target));

  document.addEventListener("library:loaded", async (event) => {
    event.preventDefault();
    // The view the form shows: a search typed, or applied and still on its way, is a
    // new view (a history entry); the same view is refreshed in place.
    const url = currentUrl();
    window.clearTimeout(typing);
    typing = null;
    const how = url === window.location.href ? "replace" : "push";
    regions = ["count", "loading", "results"];
    if (await update(url, how)) return;
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
