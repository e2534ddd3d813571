// opsmeeting live.js: live updates of section 4 (action items, parking lot, items closed since the last
// meeting) on a page served by `opsmeeting serve`. The server's injected #opsmeeting-serve JSON names
// the endpoint (meeting_url, GET /api/meeting); without it (a file page) this script does nothing.
// While the page is visible it polls every few seconds with the cursor of the state it shows, so an
// unchanged state answers {"changed": false}; rows are matched by data-item-id and changed in place,
// new ones briefly highlighted, without a reload: focus and the parking-lot form are left alone, and
// the focused element (else the first block of the section on screen) keeps its place on the screen.
// Every text goes in with textContent: the data are untrusted. After repeated failures it pauses with
// a visible note and resumes when the page is shown again (or on Retry). After each change it fires
// "opsmeeting:live" on the document, for scripts that copy the page (presentation mode's slides).
(function () {
  "use strict";
  var served = document.getElementById("opsmeeting-serve");
  if (!served || !window.fetch || !window.JSON) { return; }
  var info = null;
  try { info = JSON.parse(served.textContent || "null"); } catch (e) { info = null; }
  if (!info || typeof info.meeting_url !== "string" || info.meeting_url.charAt(0) !== "/") { return; }
  var lists = {
    action: { table: one('table[data-live-table="action"]'), rows: one('tbody[data-live-rows="action"]'),
              none: one('p[data-live-none="action"]') },
    parking_lot: { table: one('table[data-live-table="parking_lot"]'), rows: one('tbody[data-live-rows="parking_lot"]'),
                   none: one('p[data-live-none="parking_lot"]') }
  };
  var closedList = one("ul[data-live-closed]");
  var closedNone = one("p[data-live-closed-none]");
  var pastDue = one("p[data-live-past-due]");
  var note = one("p[data-live-status]");
  var section = document.getElementById("improvement");
  if (!lists.action.rows || !lists.parking_lot.rows || !closedList || !pastDue || !note || !section) { return; }

  var INTERVAL = bounded(info.meeting_poll_ms, 1000, 60000, 2000);
  var TIMEOUT = 8000;        // a poll that has not answered by then counts as a failure
  var MAX_FAILURES = 3;      // in a row, then paused
  var HIGHLIGHT = 4000;      // how long a new entry stays highlighted
  var cursor = null;         // the state shown, as the server named it
  var failures = 0;
  var paused = false;
  var busy = false;
  var timer = null;
  var signatures = Object.create(null);  // "kind:id" -> what a row shows: only changed rows are touched

  function one(selector) { return document.querySelector(selector); }
  function bounded(value, low, high, otherwise) {
    return typeof value === "number" && isFinite(value) ? Math.max(low, Math.min(high, value)) : otherwise;
  }
  function text(value) { return value === null || value === undefined ? "" : String(value); }
  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content !== undefined) { node.textContent = content; }
    return node;
  }
  function highlight(node) {
    node.classList.add("live-new");
    node.style.backgroundColor = "var(--info-bg)";
    window.setTimeout(function () {
      node.classList.remove("live-new");
      node.style.backgroundColor = "";
    }, HIGHLIGHT);
  }
  function safeLink(link) { return typeof link === "string" && /^https?:\/\//i.test(link); }

  // --- one row of a table, one entry of the closed list, as the template renders them ------------

  function fillRow(row, item) {
    while (row.firstChild) { row.removeChild(row.firstChild); }
    row.className = item.past_due ? "missed" : "";
    row.appendChild(element("td", "", text(item.id)));
    var title = element("td", "title");
    if (safeLink(item.link)) {
      var a = element("a", "", text(item.text));
      a.href = item.link;
      title.appendChild(a);
    } else {
      title.appendChild(document.createTextNode(text(item.text)));
    }
    if (item.while_listening_to) {
      title.appendChild(document.createElement("br"));
      title.appendChild(element("span", "muted small", "raised while " + text(item.while_listening_to) + " presented"));
    }
    row.appendChild(title);
    row.appendChild(element("td", "", text(item.team_name)));
    row.appendChild(element("td", "", item.owner ? text(item.owner) : "\u2014"));
    row.appendChild(element("td", "n", text(item.age_days) + " d"));
    row.appendChild(element("td", "", item.due ? text(item.due) : "\u2014"));
  }
  function closedText(item) {
    return "#" + text(item.id) + " " + text(item.text) + " (" + text(item.team_name) + ", closed " + text(item.closed) + ")";
  }
  function pastDueText(item) {
    return "#" + text(item.id) + " " + text(item.text) + " (" + text(item.team_name) +
      (item.owner ? ", " + text(item.owner) : "") + ", due " + text(item.due) + ")";
  }

  // --- keyed reconciliation: existing nodes are kept, changed, moved or removed; new ones added ---

  function reconcile(container, tag, items, kind, fill) {
    var existing = Object.create(null);
    Array.prototype.forEach.call(container.children, function (node) {
      var id = node.getAttribute("data-item-id");
      if (id !== null) { existing[id] = node; }
    });
    var seen = Object.create(null);
    var added = [];
    var previous = null;
    items.forEach(function (item) {
      var id = text(item.id);
      var key = kind + ":" + id;
      var signature = JSON.stringify(item);
      var node = existing[id];
      seen[id] = true;
      if (!node) {
        node = document.createElement(tag);
        node.setAttribute("data-item-id", id);
        added.push(node);
      }
      if (signatures[key] !== signature) {
        fill(node, item);
        signatures[key] = signature;
      }
      var next = previous ? previous.nextSibling : container.firstChild;
      while (next && next.nodeType !== 1) { next = next.nextSibling; }
      if (next !== node) { container.insertBefore(node, next); }
      previous = node;
    });
    Object.keys(existing).forEach(function (id) {
      if (!seen[id]) {
        container.removeChild(existing[id]);
        delete signatures[kind + ":" + id];
      }
    });
    return added;
  }

  // What the viewer looks at stays where it is: the focused element (the parking-lot form, say), else
  // the first of section 4's blocks still on screen, else (the section is above the screen) what
  // follows it; rows added or removed above it scroll the page by as much (the browser's own scroll
  // anchoring does not always pick the same element).
  function anchor() {
    var active = document.activeElement;
    if (active && active !== document.body && active !== document.documentElement && section.contains(active)) {
      return active;
    }
    var blocks = section.children;
    for (var i = 0; i < blocks.length; i += 1) {
      if (blocks[i].getClientRects().length && blocks[i].getBoundingClientRect().bottom > 0) { return blocks[i]; }
    }
    return section.nextElementSibling;
  }
  function keepInView(node, top) {
    if (!node || !node.isConnected || !node.getClientRects().length) { return; }
    var moved = node.getBoundingClientRect().top - top;
    if (Math.abs(moved) >= 1) { window.scrollBy(0, moved); }
  }

  function apply(state) {
    if (!Array.isArray(state.open) || !Array.isArray(state.closed) || typeof state.cursor !== "string") {
      throw new Error("unexpected answer");
    }
    var held = anchor();
    var heldTop = held ? held.getBoundingClientRect().top : 0;
    var fresh = [];
    Object.keys(lists).forEach(function (kind) {
      var list = lists[kind];
      var items = state.open.filter(function (i) { return i && i.kind === kind; });
      fresh = fresh.concat(reconcile(list.rows, "tr", items, kind, fillRow));
      if (list.table) { list.table.hidden = items.length === 0; }
      if (list.none) { list.none.hidden = items.length > 0; }
    });
    fresh = fresh.concat(reconcile(closedList, "li", state.closed.filter(Boolean), "closed", function (node, item) {
      node.textContent = closedText(item);
    }));
    closedList.hidden = state.closed.length === 0;
    if (closedNone) { closedNone.hidden = state.closed.length > 0; }
    var late = state.open.filter(function (i) { return i && i.past_due; });
    var span = pastDue.querySelector("span[data-live-past-due-list]");
    if (!span && late.length) {
      pastDue.appendChild(element("strong", "", "Past due:"));
      pastDue.appendChild(document.createTextNode(" "));
      span = element("span");
      span.setAttribute("data-live-past-due-list", "");
      pastDue.appendChild(span);
    }
    if (span) {
      var line = late.map(pastDueText).join("; ");
      if (span.textContent !== line) { span.textContent = line; }
    }
    pastDue.hidden = late.length === 0;
    keepInView(held, heldTop);
    fresh.forEach(highlight);
    cursor = state.cursor;
    say(state.truncated ? "Live updates show the first items only: reload the page to see them all." : "");
    // for copies of the page (presentation mode's slides): section 4 changed, copy it again
    document.dispatchEvent(new window.CustomEvent("opsmeeting:live", { detail: { added: fresh.length } }));
  }

  // --- polling -----------------------------------------------------------------------------------

  function say(message, retry) {
    while (note.firstChild) { note.removeChild(note.firstChild); }
    note.hidden = !message;
    if (!message) { return; }
    note.appendChild(document.createTextNode(message));
    if (retry) {
      var button = element("button", "", "Retry");
      button.type = "button";
      button.addEventListener("click", resume);
      note.appendChild(document.createTextNode(" "));
      note.appendChild(button);
    }
  }
  function visible() { return document.visibilityState !== "hidden"; }
  function schedule(delay) {
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
    if (paused || !visible()) { return; }
    timer = window.setTimeout(poll, delay);
  }
  function failed() {
    failures += 1;
    if (failures >= MAX_FAILURES) {
      paused = true;
      say("Live updates paused: the server did not answer. They resume when this page is shown again.", true);
    }
  }
  function poll() {
    timer = null;
    if (busy || paused || !visible()) { return; }
    busy = true;
    var url = info.meeting_url + (cursor ? (info.meeting_url.indexOf("?") < 0 ? "?" : "&") +
      "since=" + encodeURIComponent(cursor) : "");
    var controller = window.AbortController ? new window.AbortController() : null;
    var watchdog = controller ? window.setTimeout(function () { controller.abort(); }, TIMEOUT) : null;
    var options = { method: "GET", credentials: "same-origin", cache: "no-store",
                    headers: { "Accept": "application/json" } };
    if (controller) { options.signal = controller.signal; }
    window.fetch(url, options).then(function (response) {
      if (response.status !== 200) { throw new Error("status " + response.status); }
      return response.json();
    }).then(function (answer) {
      if (!answer || answer.ok !== true) { throw new Error("not ok"); }
      if (answer.changed !== false) { apply(answer); }
      failures = 0;
    }).catch(failed).then(function () {
      if (watchdog !== null) { window.clearTimeout(watchdog); }
      busy = false;
      schedule(INTERVAL);
    });
  }
  function resume() {
    failures = 0;
    if (paused) { paused = false; say(""); }
    schedule(0);
  }
  document.addEventListener("visibilitychange", function () {
    if (visible()) { resume(); } else { schedule(INTERVAL); }
  });
  var form = document.getElementById("parking-lot-form");
  if (form) {  // the page's own topic: shown at the next poll, a moment after it is posted
    form.addEventListener("submit", function () { if (!paused) { schedule(600); } });
  }
  schedule(0);
})();
