// opsmeeting projected page: keyboard navigation between agenda sections, presentation mode, theme.
// No network, no dependencies. Keys: ←/→ or j/k or PageUp/PageDown move between sections,
// 1–5 jump, Home/End first/last, P presentation mode, T light/dark.
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
    if (scroll !== false) {
      if (body.classList.contains("presenting")) { window.scrollTo(0, 0); }
      else { sections[current].scrollIntoView({ block: "start" }); }
    }
    if (scroll !== false && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "#" + sections[current].id);
    }
  }
  function togglePresent() {
    var on = body.classList.toggle("presenting");
    document.getElementById("present").setAttribute("aria-pressed", on ? "true" : "false");
    show(current);
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
  links.forEach(function (a, i) {
    a.addEventListener("click", function (ev) { ev.preventDefault(); show(i); });
  });
  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (ev.ctrlKey || ev.metaKey || ev.altKey || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") { return; }
    var k = ev.key;
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
  var start = sections.findIndex(function (s) { return "#" + s.id === window.location.hash; });
  show(start < 0 ? 0 : start, start >= 0);
})();
