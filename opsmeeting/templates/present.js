// opsmeeting presentation mode: the agenda as slides that fit the screen, for the room.
// One slide per agenda subsection (an <h3>, or an element with class "slide-unit"); a subsection that
// does not fit is split between rows of its table or items of its list ("2/3"), never scrolled. Copies of
// the page's content, made when presentation mode starts and again when the window is resized; the Ops
// Wheel itself is moved into its slide (it keeps its state) and back. No network, no dependencies.
// Keys: → ↓ PageDown Space j next · ← ↑ PageUp k previous · Home End · 1–9 agenda section ·
// W the wheel · F a team's focus · ? keys · P or Esc leave · T theme.
(function () {
  "use strict";
  var body = document.body;
  var main = document.querySelector("main");
  if (!main) { return; }
  var deck = null;
  var slides = [];
  var current = 0;
  var focusTeam = null;
  var wheelHome = null;
  var AGENDA = "section.agenda-item:not(#appendix):not(#wheel)";

  function text(el) { return el ? (el.textContent || "").replace(/\s+/g, " ").trim() : ""; }
  function all(root, selector) { return Array.prototype.slice.call(root.querySelectorAll(selector)); }
  function make(tag, cls, content) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    if (content !== undefined) { el.textContent = content; }
    return el;
  }

  // --- what the slides are made of -------------------------------------------------------------------

  // A copy of a node of the page for a slide: no ids outside SVG (the page keeps its own), the
  // projector's copy of each chart in place of the page's, nothing hidden by the template's own choice.
  function copy(node) {
    var c = node.cloneNode(true);
    if (c.nodeType !== 1) { return c; }
    [c].concat(all(c, "[id]")).forEach(function (el) {
      if (!(el.closest && el.closest("svg"))) { el.removeAttribute("id"); }
    });
    all(c, "figure.chart").concat(c.matches && c.matches("figure.chart") ? [c] : []).forEach(function (fig) {
      var tpl = fig.querySelector("template.present-chart");
      var svg = fig.querySelector("svg.chart-svg");
      if (tpl && svg && tpl.content && tpl.content.firstElementChild) {
        svg.parentNode.replaceChild(tpl.content.firstElementChild.cloneNode(true), svg);
      }
      if (tpl) { tpl.parentNode.removeChild(tpl); }
    });
    all(c, "template").forEach(function (t) { t.parentNode.removeChild(t); });
    all(c, "[rowspan]").forEach(function (cell) {  // rows are split between slides: each row gets its own copy
      var span = Number(cell.getAttribute("rowspan")) || 1;
      var at = cell.cellIndex;
      cell.removeAttribute("rowspan");
      var row = cell.parentNode;
      for (var i = 1; i < span && row; i += 1) {
        row = row.nextElementSibling;
        if (row) { row.insertBefore(cell.cloneNode(true), row.cells[at] || null); }
      }
    });
    if (c.hasAttribute && c.hasAttribute("hidden") && c.classList.contains("slide-unit")) { c.removeAttribute("hidden"); }
    keepUnits(c);
    return c;
  }

  // In a number cell, a number stays with its unit ("131 %", "4 min 44 s" breaks only between its parts),
  // so a table made narrow enough for the slide (tight) wraps between values, never inside one.
  function keepUnits(root) {
    all(root, "td.n, th.n").forEach(function (cell) {
      var walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (var t = walker.nextNode(); t; t = walker.nextNode()) {
        t.nodeValue = t.nodeValue.replace(/([0-9]) (%|ms|s|min|h|d|of)(?![A-Za-z])/g, "$1\u00a0$2").replace(/ of ([0-9])/g, "\u00a0of\u00a0$1");
      }
    });
  }

  function shown(node) { return node.nodeType === 1 && (node.offsetHeight > 0 || node.getClientRects().length > 0); }

  // The subsections of an agenda section: {section, title, nodes}. What comes before the first <h3>
  // is a subsection of its own, under the section's title.
  function units(section, visibleOnly) {
    var title = text(section.querySelector("h2"));
    var out = [];
    var cur = { section: title, title: "", nodes: [], id: section.id };
    Array.prototype.forEach.call(section.children, function (child) {
      if (child.tagName === "H2" || child.tagName === "SCRIPT" || child.tagName === "TEMPLATE") { return; }
      if (visibleOnly && !shown(child)) { return; }
      var unit = child.classList.contains("slide-unit");
      if (child.tagName === "H3" || unit) {
        if (cur.nodes.length) { out.push(cur); }
        var h = child.tagName === "H3" ? child : child.querySelector("h3");
        cur = { section: title, title: child.getAttribute("data-slide-title") || text(h), nodes: [], id: section.id };
        if (!unit) { return; }
      }
      cur.nodes.push(child);
    });
    if (cur.nodes.length) { out.push(cur); }
    return out;
  }

  // --- slides --------------------------------------------------------------------------------------

  function newSlide(unit) {
    var s = make("section", "slide");
    s.setAttribute("aria-roledescription", "slide");
    s.dataset.section = unit.id || "";
    var head = make("header", "slide-head");
    head.appendChild(make("p", "slide-section", unit.section));
    var h = make("h2", "slide-title", unit.title || unit.section);
    head.appendChild(h);
    s.appendChild(head);
    var b = make("div", "slide-body");
    s.appendChild(b);
    var foot = make("footer", "slide-foot");
    foot.appendChild(make("span", "slide-agenda", "\u00a0"));  // a line already: the footer's height is final
    foot.appendChild(make("span", "slide-number", "\u00a0"));
    s.appendChild(foot);
    s.unit = unit;
    s.classList.add("measuring");
    deck.appendChild(s);
    return s;
  }

  function bodyOf(slide) { return slide.querySelector(".slide-body"); }
  function tall(slide) { var b = bodyOf(slide); return b.scrollHeight > b.clientHeight + 1; }
  function wide(slide) { var b = bodyOf(slide); return b.scrollWidth > b.clientWidth + 1; }
  function overflows(slide) { return tall(slide) || wide(slide); }
  // A table wider than the slide may wrap its number cells too (between values: keepUnits).
  function tighten(block) {
    var tables = block.tagName === "TABLE" ? [block] : all(block, "table");
    tables.forEach(function (t) { t.classList.add("tight"); });
    return tables.length > 0;
  }

  // How a block that does not fit can be split: its rows (a table keeps its header), its items (a list),
  // or its children (a box of tiles, a group of paragraphs). Null: it cannot be split.
  function parts(block) {
    if (block.nodeType !== 1) { return null; }
    if (block.tagName === "TABLE" && block.tBodies.length === 1 && block.tBodies[0].rows.length > 1) {
      return { items: Array.prototype.slice.call(block.tBodies[0].rows), shell: function () {
        var t = block.cloneNode(false);
        Array.prototype.forEach.call(block.children, function (ch) {
          if (ch.tagName !== "TBODY") { t.appendChild(ch.cloneNode(true)); }
        });
        var tb = block.tBodies[0].cloneNode(false);
        t.appendChild(tb);
        return { root: t, box: tb };
      } };
    }
    if (block.tagName === "FIGURE" || block.tagName === "svg" || block.tagName === "P" || block.tagName === "TR") { return null; }
    var kids = Array.prototype.slice.call(block.children);
    if (kids.length > 1) {
      var ordered = block.tagName === "OL";
      var start = ordered ? Number(block.getAttribute("start") || 1) : 1;
      return { items: kids, shell: function (index) {
        var s = block.cloneNode(false);
        if (ordered) { s.setAttribute("start", String(start + index)); }
        return { root: s, box: s };
      } };
    }
    if (kids.length === 1) { return parts(kids[0]) ? wrapOne(block, kids[0]) : null; }
    return null;
  }
  function wrapOne(outer, inner) {
    var p = parts(inner);
    return { items: p.items, shell: function (index) {
      var o = outer.cloneNode(false);
      var s = p.shell(index);
      o.appendChild(s.root);
      return { root: o, box: s.box };
    } };
  }

  // Lays the blocks of a unit on as many slides as they need. A block that does not fit where it is goes
  // whole to the next slide, or, when it can be split, item by item: a split block is re-opened on the
  // next slide (a table with its header again, a list, the boxes around it), however deep it is.
  function paginate(unit, blocks) {
    var made = [newSlide(unit)];
    function slide() { return made[made.length - 1]; }
    function hasContent() { return bodyOf(slide()).textContent.trim() !== "" || bodyOf(slide()).querySelector("svg, img, canvas"); }
    function context(box, reopen) {
      var c = { box: box };
      c.reopen = function () { c.box = reopen(); return c.box; };
      return c;
    }
    function place(block, ctx) {
      ctx.box.appendChild(block);
      if (wide(slide()) && block.nodeType === 1) { tighten(block); }
      if (!tall(slide())) { return; }  // still too wide, if it is: fit() scales the slide at the end
      ctx.box.removeChild(block);
      var split = parts(block);
      if (!split) {
        if (hasContent()) { ctx.reopen(); }
        ctx.box.appendChild(block);  // alone on its slide: if it is still too large, fit() scales it
        return;
      }
      var used = 0;
      var first = split.shell(0);
      first.root.shell = first.box;
      ctx.box.appendChild(first.root);
      var inner = context(first.box, function () {
        var outer = ctx.reopen();
        var next = split.shell(used);
        next.root.shell = next.box;
        outer.appendChild(next.root);
        return next.box;
      });
      if (first.root.nodeType === 1 && block.classList && block.classList.contains("tight")) { first.root.classList.add("tight"); }
      split.items.forEach(function (item) { place(item, inner); used += 1; });
    }
    var top = context(bodyOf(made[0]), function () { made.push(newSlide(unit)); return bodyOf(slide()); });
    blocks.forEach(function (block) { place(block, top); });
    made.forEach(function (s) {  // a re-opened box left with nothing in it (a table header alone)
      all(s, "*").reverse().forEach(function (el) {
        if (el.shell && !el.shell.children.length && el.parentNode) { el.parentNode.removeChild(el); }
      });
    });
    made = made.filter(function (s) {
      if (s.textContent.trim() === "" || bodyOf(s).children.length) { return true; }
      s.parentNode.removeChild(s);
      return false;
    });
    made.forEach(function (s, i) {
      if (made.length > 1) {
        s.querySelector(".slide-title").appendChild(make("span", "slide-part", " " + (i + 1) + "/" + made.length));
      }
      if (overflows(s)) { fit(s); }
    });
    return made;
  }

  // The last resort for one block larger than a whole slide: shown whole, scaled down to fit.
  function fit(slide) {
    var b = bodyOf(slide);
    var inner = make("div", "slide-scaled");
    while (b.firstChild) { inner.appendChild(b.firstChild); }
    b.appendChild(inner);
    var k = Math.min(b.clientHeight / Math.max(inner.scrollHeight, 1), b.clientWidth / Math.max(inner.scrollWidth, 1), 1);
    inner.style.transform = "scale(" + k.toFixed(3) + ")";
    inner.style.width = (100 / k).toFixed(1) + "%";
    slide.classList.add("scaled");
  }

  function unitBlocks(unit) {
    var blocks = [];
    unit.nodes.forEach(function (n) {
      var c = copy(n);
      if (c.classList && c.classList.contains("slide-unit")) {
        var h = c.querySelector("h3");
        if (h && h.parentNode === c) { c.removeChild(h); }
        Array.prototype.slice.call(c.childNodes).forEach(function (k) { if (k.nodeType === 1) { blocks.push(k); } });
      } else {
        var h3 = c.querySelector && c.tagName !== "H3" ? c.querySelector(":scope > h3") : null;
        if (h3) { c.removeChild(h3); }
        blocks.push(c);
      }
    });
    return blocks;
  }

  // --- the deck ------------------------------------------------------------------------------------

  function summarySlide() {
    var cover = document.querySelector("header.cover");
    if (!cover) { return []; }
    var unit = { section: text(cover.querySelector("h1")), title: "What needs our attention", nodes: [], id: "top" };
    var blocks = [make("p", "slide-window", text(cover.querySelector(".window")))];
    var banner = cover.querySelector(".banner");
    if (banner) { blocks.push(copy(banner)); }  // what the data lack is said first, as on the page
    var attention = cover.querySelector(".attention");
    if (attention) {
      var a = copy(attention);
      var h = a.querySelector("h2, h3");
      if (h && text(h) === unit.title) { h.parentNode.removeChild(h); }
      blocks.push(a);
    }
    return paginate(unit, blocks);
  }

  function wheelSlides() {
    var section = document.getElementById("wheel");
    var stage = section && section.querySelector(".wheel-stage");
    if (!stage) { return []; }
    var unit = { section: "Ops Wheel", title: "Who presents today?", nodes: [], id: "wheel" };
    var s = newSlide(unit);
    s.classList.add("wheel-slide");
    wheelHome = document.createComment("wheel-stage");
    stage.parentNode.insertBefore(wheelHome, stage);
    bodyOf(s).appendChild(stage);
    return [s];
  }

  function focusSlides(team) {
    var source = null;
    all(document, ".team-focus").forEach(function (f) { if (f.getAttribute("data-team") === team) { source = f; } });
    if (!source) { return []; }
    var made = [];
    units(source, false).forEach(function (u) {
      u.section = "Team focus · " + (source.getAttribute("data-team-name") || team);
      u.id = "focus";
      made = made.concat(paginate(u, unitBlocks(u)));
    });
    made.forEach(function (s) { s.classList.add("focus-slide"); s.dataset.team = team; });
    return made;
  }

  function wheelPosition() {
    var w = document.getElementById("wheel");
    return (w && w.getAttribute("data-slide-position")) || "first";
  }

  function build(keep) {
    var at = slides[current] ? { section: slides[current].dataset.section, title: text(slides[current].querySelector(".slide-title")) } : null;
    if (deck) { teardown(); }
    deck = make("div", "deck");
    deck.setAttribute("role", "region");
    deck.setAttribute("aria-roledescription", "slide deck");
    deck.setAttribute("aria-label", "Presentation");
    deck.setAttribute("aria-live", "polite");
    var on = body.classList.contains("presenting");
    body.classList.remove("presenting");  // which parts the page shows (the deck copies only those)
    var sections = all(main, AGENDA).map(function (section) {
      return units(section, true);
    });
    if (on) { body.classList.add("presenting"); }
    body.appendChild(deck);
    var list = summarySlide();
    var wheel = [];
    var position = wheelPosition();
    function addWheel() {
      wheel = wheelSlides();
      list = list.concat(wheel);
      if (focusTeam) { list = list.concat(focusSlides(focusTeam)); }
    }
    if (position === "first") { addWheel(); }
    all(main, AGENDA).forEach(function (section, i) {
      sections[i].forEach(function (u) { list = list.concat(paginate(u, unitBlocks(u))); });
      if (position === "after-" + section.id) { addWheel(); }
    });
    if (!wheel.length) { addWheel(); }  // "last", or a section this report does not have
    slides = list;
    var agenda = all(main, AGENDA).map(function (s) { return s.id; });
    // a source that failed or answered in part: every slide says so, as the page's banner does
    var incomplete = document.querySelector("header.cover .banner .dq-error, header.cover .banner .dq-warning") !== null;
    slides.forEach(function (s, i) {
      s.classList.remove("measuring");
      s.setAttribute("aria-label", "Slide " + (i + 1) + " of " + slides.length);
      s.querySelector(".slide-number").textContent = (i + 1) + " / " + slides.length;
      if (incomplete) {
        var mark = make("span", "slide-incomplete", "data incomplete");
        s.querySelector(".slide-foot").insertBefore(mark, s.querySelector(".slide-number"));
      }
      var k = agenda.indexOf(s.dataset.section);
      s.querySelector(".slide-agenda").textContent = k >= 0
        ? "Agenda " + (k + 1) + " of " + agenda.length + " · " + s.unit.section
        : s.unit.section;
    });
    var index = 0;
    if (keep && at) {
      slides.forEach(function (s, i) {
        if (s.dataset.section === at.section && text(s.querySelector(".slide-title")) === at.title) { index = i; }
      });
    }
    go(index);
  }

  function teardown() {
    if (wheelHome && wheelHome.parentNode) {
      var stage = deck.querySelector(".wheel-stage");
      if (stage) { wheelHome.parentNode.insertBefore(stage, wheelHome); }
      wheelHome.parentNode.removeChild(wheelHome);
    }
    wheelHome = null;
    if (deck && deck.parentNode) { deck.parentNode.removeChild(deck); }
    deck = null;
    slides = [];
  }

  function go(index) {
    if (!slides.length) { return; }
    current = Math.max(0, Math.min(slides.length - 1, index));
    slides.forEach(function (s, i) { s.classList.toggle("current", i === current); });
    if (slides[current].classList.contains("wheel-slide")) { window.dispatchEvent(new Event("resize")); }
    document.dispatchEvent(new CustomEvent("opsmeeting:slide", { detail: { index: current, section: slides[current].dataset.section } }));
  }

  function first(predicate) {
    for (var i = 0; i < slides.length; i += 1) { if (predicate(slides[i])) { return i; } }
    return -1;
  }

  function showFocus(team) {
    focusTeam = team;
    build(false);
    var i = first(function (s) { return s.classList.contains("focus-slide"); });
    go(i >= 0 ? i : 0);
  }

  // --- overlays: the keys, the team picker ---------------------------------------------------------

  var KEYS = [
    ["→ ↓ PageDown Space j", "next slide (presentation) or section"],
    ["← ↑ PageUp k", "previous slide or section"],
    ["Home / End", "first / last"],
    ["1 – 9", "agenda section"],
    ["W", "the Ops Wheel"],
    ["S", "spin the wheel (on its slide)"],
    ["F", "a team's focus: its services, incidents, SLOs, notes and items"],
    ["P", "presentation mode on or off (Esc leaves it)"],
    ["T", "light or dark"],
    ["?", "this list"]
  ];
  var overlay = null;

  function closeOverlay() {
    if (overlay && overlay.parentNode) { overlay.parentNode.removeChild(overlay); }
    overlay = null;
  }

  function openOverlay(title, fill) {
    closeOverlay();
    overlay = make("div", "overlay");
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", title);
    var box = make("div", "overlay-box");
    box.appendChild(make("h2", "overlay-title", title));
    fill(box);
    var close = make("button", "overlay-close", "Close (Esc)");
    close.type = "button";
    close.addEventListener("click", closeOverlay);
    box.appendChild(close);
    overlay.appendChild(box);
    overlay.addEventListener("click", function (ev) { if (ev.target === overlay) { closeOverlay(); } });
    body.appendChild(overlay);
    return box;
  }

  function showKeys() {
    openOverlay("Keys", function (box) {
      var t = make("table", "keys");
      KEYS.forEach(function (k) {
        var tr = make("tr");
        var th = make("th", "", k[0]);
        th.setAttribute("scope", "row");
        tr.appendChild(th);
        tr.appendChild(make("td", "", k[1]));
        t.appendChild(tr);
      });
      box.appendChild(t);
    });
    overlay.querySelector(".overlay-close").focus();
  }

  function teams() {
    return all(document, ".team-focus").map(function (f) {
      return { key: f.getAttribute("data-team"), name: f.getAttribute("data-team-name") || f.getAttribute("data-team") };
    });
  }

  function pickTeam() {
    var list = teams();
    if (!list.length) { return; }
    var box = openOverlay("Team focus", function (b) {
      var input = make("input", "team-filter");
      input.type = "search";
      input.setAttribute("aria-label", "Team");
      input.placeholder = "Type a team's name, Enter to show it";
      b.appendChild(input);
      var ul = make("ul", "team-list");
      list.forEach(function (t) {
        var li = make("li");
        var button = make("button", "team-choice", t.name);
        button.type = "button";
        button.setAttribute("data-team", t.key);
        button.addEventListener("click", function () { closeOverlay(); enter(); showFocus(t.key); });
        li.appendChild(button);
        ul.appendChild(li);
      });
      b.appendChild(ul);
      input.addEventListener("input", function () {
        var q = input.value.toLowerCase();
        all(ul, "li").forEach(function (li) { li.hidden = q !== "" && text(li).toLowerCase().indexOf(q) < 0; });
      });
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") {
          ev.preventDefault();
          var hit = all(ul, "li").filter(function (li) { return !li.hidden; })[0];
          if (hit) { hit.querySelector("button").click(); }
        }
      });
    });
    box.querySelector(".team-filter").focus();
  }

  // --- modes and keys ------------------------------------------------------------------------------

  function presenting() { return body.classList.contains("presenting"); }
  function enter() {
    if (presenting()) { return; }
    body.classList.add("presenting");
    var b = document.getElementById("present");
    if (b) { b.setAttribute("aria-pressed", "true"); }
    build(false);
    // the page's fonts may still be loading: their metrics change what fits, so lay out again then
    if (document.fonts && document.fonts.status !== "loaded") {
      document.fonts.ready.then(function () { if (presenting()) { build(true); } });
    }
  }
  function leave() {
    if (!presenting()) { return; }
    teardown();
    body.classList.remove("presenting");
    var b = document.getElementById("present");
    if (b) { b.setAttribute("aria-pressed", "false"); }
  }

  var resizing = null;
  window.addEventListener("resize", function (ev) {
    if (!presenting() || !ev.isTrusted) { return; }
    window.clearTimeout(resizing);
    resizing = window.setTimeout(function () { build(true); }, 150);
  });
  document.addEventListener("opsmeeting:wheel-pick", function (ev) {
    focusTeam = ev.detail && ev.detail.team;
    if (presenting()) {
      var at = current;
      build(false);
      go(at);
    }
  });
  document.addEventListener("opsmeeting:live", function () { if (presenting()) { build(true); } });

  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (overlay) {
      if (ev.key === "Escape") { closeOverlay(); ev.preventDefault(); ev.stopImmediatePropagation(); }
      return;
    }
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") { return; }
    var k = ev.key;
    if (k === "?") { showKeys(); }
    else if (k === "f" || k === "F") { pickTeam(); }
    else if (!presenting()) {
      if (k === "w" || k === "W") {
        var w = document.getElementById("wheel");
        if (w) { w.scrollIntoView({ block: "start" }); } else { return; }
      } else { return; }
    }
    else if (k === "ArrowRight" || k === "ArrowDown" || k === "PageDown" || k === " " || k === "j") { go(current + 1); }
    else if (k === "ArrowLeft" || k === "ArrowUp" || k === "PageUp" || k === "k") { go(current - 1); }
    else if (k === "Home") { go(0); }
    else if (k === "End") { go(slides.length - 1); }
    else if (k >= "1" && k <= "9") {
      var id = (all(main, AGENDA)[Number(k) - 1] || {}).id;
      var i = first(function (s) { return s.dataset.section === id; });
      if (i < 0) { return; }
      go(i);
    }
    else if (k === "w" || k === "W") {
      var j = first(function (s) { return s.classList.contains("wheel-slide"); });
      if (j < 0) { return; }
      go(j);
    }
    else if (k === "Escape" || k === "p" || k === "P") { leave(); }
    else { return; }
    ev.preventDefault();
    ev.stopImmediatePropagation();
  }, true);

  window.opsmeetingDeck = {
    enter: enter, leave: leave, toggle: function () { if (presenting()) { leave(); } else { enter(); } },
    go: go, focus: showFocus, keys: showKeys, pick: pickTeam,
    state: function () {
      return {
        presenting: presenting(), current: current, count: slides.length,
        title: slides[current] ? text(slides[current].querySelector(".slide-title")) : null,
        section: slides[current] ? slides[current].dataset.section : null,
        team: slides[current] ? slides[current].dataset.team || null : null
      };
    }
  };
})();
