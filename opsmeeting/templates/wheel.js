// opsmeeting projected page: the Ops Wheel. Spin draws with crypto.getRandomValues (never Math.random),
// animates for under 4 s (no animation with prefers-reduced-motion) and lands on the drawn team; Accept
// records it by a same-origin POST when the page is served, or shows the command to run when it is a file.
// Key: S spins while the wheel section is the current one. No network otherwise, no dependencies.
(function () {
  "use strict";
  var section = document.getElementById("wheel");
  var island = document.getElementById("wheel-data");
  var canvas = document.getElementById("wheel-canvas");
  if (!section || !island || !canvas || !canvas.getContext) { return; }
  var data;
  try { data = JSON.parse(island.textContent); } catch (e) { return; }
  // `opsmeeting serve` injects where to record the pick, with its CSRF token.
  var served = document.getElementById("opsmeeting-serve");
  if (served) {
    try {
      var info = JSON.parse(served.textContent);
      data.record_url = info.record_url;
      data.csrf_token = info.csrf_token;
      if (info.wheel) {  // the store's state now: the page may predate the last pick
        var live = {};
        info.wheel.forEach(function (row) { live[row.name] = row; });
        data.participants = data.participants.filter(function (p) { return live[p.name]; }).map(function (p) {
          var row = live[p.name];
          return Object.assign({}, p, { probability: row.probability, weight: row.weight,
            selections: row.selections, last_selected: row.last_selected, excluded: row.excluded,
            excluded_reason: row.excluded_reason });
        });
        data.live = true;
      }
    } catch (e) { /* a file, not served: keep the command */ }
  }

  var DURATION = 3600;  // ms, the whole spin
  var TURNS = 5;        // full turns before landing
  var spinButton = document.getElementById("wheel-spin");
  var acceptButton = document.getElementById("wheel-accept");
  var status = document.getElementById("wheel-status");
  var result = document.getElementById("wheel-result");
  var winner = document.getElementById("wheel-winner");
  var resultText = document.getElementById("wheel-result-text");
  var commandBox = document.getElementById("wheel-command-box");
  var command = document.getElementById("wheel-command");
  var copyButton = document.getElementById("wheel-copy");
  var rows = Array.prototype.slice.call(section.querySelectorAll("tr[data-wheel-name]"));
  if (data.live) {  // show the store's chances and picks in the table too
    rows.forEach(function (tr) {
      var p = null;
      data.participants.forEach(function (q) { if (q.name === tr.getAttribute("data-wheel-name")) { p = q; } });
      var cells = tr.querySelectorAll("td");
      if (p && cells.length >= 3) {
        cells[0].textContent = (100 * p.probability).toFixed(1) + " %";
        cells[1].textContent = String(p.selections);
        cells[2].textContent = p.last_selected ? String(p.last_selected).slice(0, 10) : "—";
      }
    });
  }
  var reduceMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;

  // Slices: the teams that can be drawn, each [start, end) on the unit circle, in table order.
  var slices = [];
  var total = 0;
  (data.participants || []).forEach(function (p) {
    if (!p.excluded && p.probability > 0) { total += p.probability; }
  });
  var running = 0;
  (data.participants || []).forEach(function (p) {
    if (p.excluded || !(p.probability > 0)) { return; }
    var start = running / total;
    running += p.probability;
    slices.push({ p: p, start: start, end: running / total });
  });
  if (slices.length) { slices[slices.length - 1].end = 1; }

  var rotation = 0;     // radians: the wheel's current turn
  var drawn = null;     // the slice the last spin landed on
  var spinning = false;
  var recorded = false;

  function say(text) { status.textContent = text; }
  function pct(x) { return (100 * x).toFixed(1) + " %"; }
  function label(p) { return p.display_name || p.name; }
  function cssVar(name, fallback) {
    var v = window.getComputedStyle(section).getPropertyValue(name);
    return (v && v.trim()) || fallback;
  }

  // A uniform number in [0, 1) with 53 random bits from the platform's cryptographic generator.
  function random01() {
    var c = window.crypto || window.msCrypto;
    if (!c || !c.getRandomValues) { return null; }
    var buf = new Uint32Array(2);
    c.getRandomValues(buf);
    return ((buf[0] >>> 11) * 4294967296 + buf[1]) / 9007199254740992;
  }

  function draw() {
    var rect = canvas.getBoundingClientRect();
    var css = Math.max(120, Math.round(rect.width || 440));
    var dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(css * dpr)) {
      canvas.width = Math.round(css * dpr);
      canvas.height = Math.round(css * dpr);
    }
    var g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, css, css);
    var fg = cssVar("--fg", "#111418");
    var bg = cssVar("--bg", "#ffffff");
    var cx = css / 2;
    var cy = css / 2 + 8;
    var r = css / 2 - 18;
    var font = cssVar("--font", "sans-serif");
    if (!slices.length) {
      g.beginPath(); g.arc(cx, cy, r, 0, 2 * Math.PI);
      g.fillStyle = cssVar("--panel", "#eeeeee"); g.fill();
      g.lineWidth = 2; g.strokeStyle = cssVar("--line", "#cccccc"); g.stroke();
      g.fillStyle = fg; g.textAlign = "center"; g.textBaseline = "middle";
      g.font = "bold 16px " + font;
      g.fillText("No team can be drawn", cx, cy);
      return;
    }
    var top = -Math.PI / 2;
    slices.forEach(function (s) {
      var a0 = top + rotation + 2 * Math.PI * s.start;
      var a1 = top + rotation + 2 * Math.PI * s.end;
      g.beginPath();
      g.moveTo(cx, cy);
      g.arc(cx, cy, r, a0, a1);
      g.closePath();
      g.fillStyle = cssVar("--wheel-c" + s.p.colour, "#888888");
      g.fill();
      g.lineWidth = 2;
      g.strokeStyle = bg;
      if (slices.length > 1) { g.stroke(); }
      if (a1 - a0 < 0.12) { return; }  // too thin for a label: the table has it
      var mid = (a0 + a1) / 2;
      var turn = ((mid % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
      var flip = turn > Math.PI / 2 && turn < 3 * Math.PI / 2;  // keep labels on the left half upright
      g.save();
      g.translate(cx, cy);
      g.rotate(flip ? mid + Math.PI : mid);
      g.fillStyle = cssVar("--wheel-t" + s.p.colour, "#000000");
      g.textAlign = flip ? "left" : "right";
      g.textBaseline = "middle";
      var size = Math.max(11, Math.min(18, Math.round(css / 26)));
      g.font = "bold " + size + "px " + font;
      var text = label(s.p);
      var room = r * 0.68;
      if (g.measureText(text).width > room) {
        while (text.length > 1 && g.measureText(text + "…").width > room) { text = text.slice(0, -1); }
        text += "…";
      }
      g.fillText(text, flip ? -(r - 12) : r - 12, 0);
      g.restore();
    });
    if (drawn && !spinning) {  // outline the slice the wheel landed on
      g.beginPath();
      g.moveTo(cx, cy);
      g.arc(cx, cy, r - 2, top + rotation + 2 * Math.PI * drawn.start, top + rotation + 2 * Math.PI * drawn.end);
      g.closePath();
      g.lineWidth = 4;
      g.strokeStyle = fg;
      g.stroke();
    }
    g.beginPath(); g.arc(cx, cy, r, 0, 2 * Math.PI);
    g.lineWidth = 2; g.strokeStyle = fg; g.stroke();
    g.beginPath(); g.arc(cx, cy, Math.max(10, r * 0.09), 0, 2 * Math.PI);
    g.fillStyle = bg; g.fill(); g.stroke();
    g.beginPath();  // the pointer, fixed at the top
    g.moveTo(cx - 13, cy - r - 16);
    g.lineTo(cx + 13, cy - r - 16);
    g.lineTo(cx, cy - r + 10);
    g.closePath();
    g.fillStyle = fg; g.fill();
    g.lineWidth = 2; g.strokeStyle = bg; g.stroke();
  }

  function markRow(name) {
    rows.forEach(function (tr) { tr.classList.toggle("wheel-drawn", tr.getAttribute("data-wheel-name") === name); });
  }

  function land(slice) {
    spinning = false;
    drawn = slice;
    draw();
    markRow(slice.p.name);
    if (winner) { winner.textContent = label(slice.p); winner.hidden = false; }
    // presentation mode puts the team's focus after the wheel (present.js)
    document.dispatchEvent(new CustomEvent("opsmeeting:wheel-pick", { detail: { team: slice.p.name } }));
    spinButton.disabled = false;
    acceptButton.disabled = false;
    say("The wheel picked " + label(slice.p) + " (" + pct(slice.p.probability) +
        " chance). Accept to record it, or spin again.");
  }

  function doSpin() {
    if (spinning || !slices.length || spinButton.disabled) { return; }
    var u = random01();
    if (u === null) { say("This browser has no cryptographic random generator: the wheel cannot spin."); return; }
    var slice = slices[slices.length - 1];
    for (var i = 0; i < slices.length; i++) {
      if (u < slices[i].end) { slice = slices[i]; break; }
    }
    // Land where u falls, kept off the slice's edges so the pointer is clearly inside it.
    var within = (u - slice.start) / ((slice.end - slice.start) || 1);
    var at = slice.start + (0.15 + 0.7 * Math.min(1, Math.max(0, within))) * (slice.end - slice.start);
    var full = 2 * Math.PI;
    var target = (((-full * at) - rotation) % full + full) % full;  // turn so that `at` is under the pointer
    spinning = true;
    drawn = null;
    recorded = false;
    markRow(null);
    result.hidden = true;
    acceptButton.disabled = true;
    acceptButton.textContent = "Accept";
    spinButton.disabled = true;
    if (reduceMotion && reduceMotion.matches) {
      rotation = (rotation + target) % full;
      land(slice);
      return;
    }
    say("Spinning…");
    var from = rotation;
    var distance = TURNS * full + target;
    var t0 = null;
    function frame(now) {
      if (t0 === null) { t0 = now; }
      var t = Math.min(1, (now - t0) / DURATION);
      var eased = 1 - Math.pow(1 - t, 3);
      rotation = from + distance * eased;
      draw();
      if (t < 1) { window.requestAnimationFrame(frame); }
      else { rotation = rotation % full; land(slice); }
    }
    window.requestAnimationFrame(frame);
  }

  // POSIX shell quoting of a team name for the command.
  function shellQuote(text) {
    if (/^[A-Za-z0-9_.@%+=:,\/-]+$/.test(text)) { return text; }
    return "'" + text.replace(/'/g, "'\\''") + "'";
  }

  function selectCommand() {
    var range = document.createRange();
    range.selectNodeContents(command);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function showCommand(slice) {
    var text = String(data.command || "").split("{team}").join(shellQuote(slice.p.name));
    resultText.textContent = label(slice.p) + " presents today.";
    command.textContent = text;
    commandBox.hidden = false;
    result.hidden = false;
    command.focus();
    selectCommand();
    say("Picked " + label(slice.p) + ". Run the selected command to record it.");
  }

  function record(slice) {
    var token = data.csrf_token || "";
    acceptButton.disabled = true;
    spinButton.disabled = true;
    say("Recording " + label(slice.p) + "…");
    window.fetch(data.record_url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify({ team: slice.p.name, csrf_token: token })
    }).then(function (response) {
      return response.text().then(function (body) {
        var detail = body;
        try {
          var parsed = JSON.parse(body);
          detail = parsed.message || parsed.error || parsed.detail || "";
        } catch (e) { /* not JSON: show the text */ }
        return { ok: response.ok, status: response.status, detail: String(detail || "").slice(0, 300) };
      });
    }).then(function (answer) {
      commandBox.hidden = true;
      result.hidden = false;
      if (answer.ok) {
        recorded = true;
        resultText.className = "wheel-result-text wheel-ok";
        resultText.textContent = "Recorded: " + label(slice.p) + " presents today." +
          (answer.detail ? " " + answer.detail : "") + " Reload the page for the new chances.";
        acceptButton.textContent = "Recorded";
        say("Recorded: " + label(slice.p) + " presents today.");
      } else {
        resultText.className = "wheel-result-text wheel-bad";
        resultText.textContent = "The pick was not recorded (HTTP " + answer.status + ")" +
          (answer.detail ? ": " + answer.detail : ".");
        acceptButton.disabled = false;
        say("The pick was not recorded (HTTP " + answer.status + ").");
      }
      spinButton.disabled = recorded;
    }, function (error) {
      result.hidden = false;
      commandBox.hidden = true;
      resultText.className = "wheel-result-text wheel-bad";
      resultText.textContent = "The pick was not recorded: " + (error && error.message ? error.message : "network error") + ".";
      acceptButton.disabled = false;
      spinButton.disabled = false;
      say("The pick was not recorded.");
    });
  }

  function doAccept() {
    if (!drawn || spinning || recorded) { return; }
    resultText.className = "wheel-result-text";
    if (data.record_url && window.fetch) { record(drawn); } else { showCommand(drawn); }
  }

  function copyCommand() {
    var text = command.textContent;
    function done() { say("Copied the command."); }
    function fallback() {
      selectCommand();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      say(ok ? "Copied the command." : "Press Ctrl+C to copy the selected command.");
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else { fallback(); }
  }

  // S spins while the wheel is the current section: the one shown in presentation mode, the one with
  // the focus, or the one across the middle of the window. report.js does not use S; it ignores it.
  function wheelIsCurrent() {
    if (section.contains(document.activeElement)) { return true; }
    if (document.body.classList.contains("presenting")) { return !!document.querySelector(".slide.current.wheel-slide"); }
    var box = section.getBoundingClientRect();
    var h = window.innerHeight || document.documentElement.clientHeight;
    return box.top < h * 0.6 && box.bottom > h * 0.4;
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (ev.key !== "s" && ev.key !== "S") { return; }
    var target = ev.target || {};
    var tag = target.tagName || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) { return; }
    if (!wheelIsCurrent()) { return; }
    ev.preventDefault();
    doSpin();
  });
  spinButton.addEventListener("click", doSpin);
  acceptButton.addEventListener("click", doAccept);
  copyButton.addEventListener("click", copyCommand);
  command.addEventListener("focus", selectCommand);

  function redraw() { if (!spinning) { draw(); } }
  if (window.ResizeObserver) { new window.ResizeObserver(redraw).observe(canvas); }
  else { window.addEventListener("resize", redraw); }
  if (window.MutationObserver) {  // report.js switches the theme on <html data-theme>
    new window.MutationObserver(redraw).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  }
  var dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  if (dark && dark.addEventListener) { dark.addEventListener("change", redraw); }

  if (!slices.length) {
    say("Every team is excluded: no one can be drawn.");
  } else if (random01() === null) {
    say("This browser has no cryptographic random generator: the wheel cannot spin.");
  } else {
    spinButton.disabled = false;
  }
  draw();
})();
