// opsmeeting projected page: keyboard navigation between agenda sections, theme; presentation mode is
// present.js (window.opsmeetingDeck), which takes the keys while it is on.
// No network, no dependencies. Keys: ←/→ or j/k or PageUp/PageDown move between sections,
// 1–9 jump, Home/End first/last, P presentation mode, T light/dark, ? every key.
(function () {
  "use strict";
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.agenda-item"));
  var links = Array.prototype.slice.call(document.querySelectorAll("nav.agenda a[href^='#']"));
  var root = document.documentElement;
  var body = document.body;
  var current = 0;
  var stored = null;
  try { stored = window.localStorage.getItem("opsmeeting-theme"); } catch (e) { stored = null; }
  root.setAttribute("data-theme", stored || "auto");

  function show(index, scroll) {
    if (!sections.length) { return; }
    current = Math.max(0, Math.min(sections.length - 1, index));
    sections.forEach(function (s, i) { s.classList.toggle("active", i === current); });
    links.forEach(function (a) {
      var on = a.getAttribute("href") === "#" + sections[current].id;
      a.classList.toggle("current", on);
      if (on) { a.setAttribute("aria-current", "true"); } else { a.removeAttribute("aria-current"); }
    });
    if (scroll !== false) { sections[current].scrollIntoView({ block: "start" }); }
    if (scroll !== false && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "#" + sections[current].id);
    }
  }
  function togglePresent() {
    if (window.opsmeetingDeck) { window.opsmeetingDeck.toggle(); }
  }
  function toggleTheme() {
    var dark = root.getAttribute("data-theme") === "dark" ||
      (root.getAttribute("data-theme") === "auto" && window.matchMedia("(prefers-color-scheme: dark)").matches);
    var next = dark ? "light" : "dark";
    root.setAttribute("data-theme", next);
    try { window.localStorage.setItem("opsmeeting-theme", next); } catch (e) { /* file:// may forbid it */ }
  }
  document.getElementById("present").addEventListener("click", togglePresent);
  document.getElementById("theme").addEventListener("click", toggleTheme);
  var keys = document.getElementById("keys");
  if (keys) { keys.addEventListener("click", function () { if (window.opsmeetingDeck) { window.opsmeetingDeck.keys(); } }); }
  links.forEach(function (a) {
    var i = sections.findIndex(function (s) { return "#" + s.id === a.getAttribute("href"); });
    if (i < 0) { return; }
    a.addEventListener("click", function (ev) { ev.preventDefault(); show(i); });
  });
  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (ev.ctrlKey || ev.metaKey || ev.altKey || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") { return; }
    var k = ev.key;
    if (body.classList.contains("presenting") && k !== "t" && k !== "T") { return; }
    if (k === "ArrowRight" || k === "j" || k === "PageDown") { show(current + 1); }
    else if (k === "ArrowLeft" || k === "k" || k === "PageUp") { show(current - 1); }
    else if (k === "Home") { show(0); }
    else if (k === "End") { show(sections.length - 1); }
    else if (k >= "1" && k <= "9" && Number(k) <= sections.length) { show(Number(k) - 1); }
    else if (k === "p" || k === "P") { togglePresent(); }
    else if (k === "t" || k === "T") { toggleTheme(); }
    else { return; }
    ev.preventDefault();
  });
  // Served by `opsmeeting serve`: attendees add parking-lot topics from the page.
  var served = document.getElementById("opsmeeting-serve");
  var form = document.getElementById("parking-lot-form");
  if (served && form && window.fetch) {
    var info = null;
    try { info = JSON.parse(served.textContent); } catch (e) { info = null; }
    if (info && info.items_url) {
      form.hidden = false;
      var hint = document.getElementById("parking-lot-hint");
      if (hint) { hint.hidden = true; }
      var status = document.getElementById("parking-lot-status");
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var payload = {
          team: form.elements.team.value,
          while_listening_to: form.elements.while_listening_to.value,
          text: form.elements.text.value,
          csrf_token: info.csrf_token
        };
        window.fetch(info.items_url, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": info.csrf_token },
          body: JSON.stringify(payload)
        }).then(function (r) { return r.json(); }).then(function (body) {
          status.textContent = body.ok ? "Added as #" + body.id + "." : "Not added: " + body.error;
          if (body.ok) { form.elements.text.value = ""; }
        }).catch(function () { status.textContent = "Not added: the server did not answer."; });
      });
    }
  }
  var start = sections.findIndex(function (s) { return "#" + s.id === window.location.hash; });
  show(start < 0 ? 0 : start, start >= 0);
})();
