// The bedside page: renders the daemon's status from the event stream, sends actions.
// No inline script anywhere (the CSP forbids it); the CSRF token comes from a meta tag.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
let last = null;
let lastState = null;

function show(el, on) { el.hidden = !on; }

function say(text) {
  const m = $("message");
  m.textContent = text || "";
  show(m, Boolean(text));
}

function minutes(s) {
  if (s >= 3600) return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
  if (s >= 60) return Math.round(s / 60) + " min";
  return Math.round(s) + " s";
}

function hhmm(iso) {
  const m = /T(\d\d:\d\d)/.exec(iso || "");
  return m ? m[1] : iso;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// The daemon's local time (its ISO string), not the phone's zone: "Tue 1 Dec 23:30".
function when(iso) {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d:\d\d)/.exec(iso || "");
  if (!m) return iso;
  const day = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return DAYS[day.getUTCDay()] + " " + +m[3] + " " + MONTHS[+m[2] - 1] + " " + m[4];
}

// ISO instants inside the daemon's sentences, shortened to what a person reads.
function readable(text) {
  return (text || "").replace(/\d{4}-\d\d-\d\dT(\d\d:\d\d):\d\d[+-]\d\d:\d\d/g, (iso) => when(iso));
}

function render(snap) {
  last = snap;
  const conn = $("conn");
  if (!snap.reachable) {
    $("state").textContent = "daemon unreachable";
    $("state").className = "state tripped";
    conn.textContent = snap.error;
    conn.className = "conn down";
    document.body.dataset.state = "unreachable";
    return;
  }
  conn.textContent = "live";
  conn.className = "conn";
  const s = snap.status;
  const state = s.state;
  document.body.dataset.state = state;
  $("state").textContent = state;
  $("state").className = "state " + state;
  show($("sim"), s.simulated);

  const tripped = state === "tripped";
  show($("trip"), tripped);
  $("trip-reason").textContent = s.trip || "";
  if (!tripped) show($("reset-confirm"), false);

  const session = s.session;
  $("control").textContent = s.control.by + ": " + readable(s.control.why);
  if (session) {
    $("profile").textContent = session.profile;
    $("remaining").textContent = minutes(session.remaining_s) + " left" + (session.paused ? " · paused" : "");
    const ceiling = session.ceiling ?? 1;
    // A blind experiment night comes without its output: the level would name the arm.
    const output = session.output ?? 0;
    $("output-bar").style.width = Math.min(100, output * 100) + "%";
    $("output-bar").dataset.output = output;
    $("ceiling-mark").style.left = "calc(" + Math.min(100, ceiling * 100) + "% - 3px)";
    show($("ceiling-mark"), true);
    $("output-text").textContent = session.output === null
      ? "output hidden (blind experiment night) · limit " + ceiling.toFixed(2)
      : "output " + output.toFixed(2) + " · limit " + ceiling.toFixed(2);
    $("level-value").textContent = Number(session.level).toFixed(1) + "×";
    $("level-value").dataset.level = session.level;
  } else {
    $("profile").textContent = "nothing playing";
    $("remaining").textContent = "";
    $("output-bar").style.width = "0%";
    $("output-bar").dataset.output = 0;
    show($("ceiling-mark"), false);
    $("output-text").textContent = "output 0";
  }
  const playing = Boolean(session);
  $("stop").disabled = !playing && !(s.pending && s.pending.length);
  show($("session-controls"), playing);
  show($("pause"), playing && !session.paused);
  show($("resume"), playing && session.paused);
  show($("start-card"), !playing && !tripped);

  show($("snoozed"), Boolean(s.snoozed_until));
  $("snoozed").textContent = s.snoozed_until ? "snoozed until " + hhmm(s.snoozed_until) : "";
  show($("snooze-off"), Boolean(s.snoozed_until));

  const next = $("next");
  next.replaceChildren();
  for (const p of s.pending || []) {
    const li = document.createElement("li");
    li.textContent = "in " + minutes(p.in_s) + " — " + p.profile;
    next.append(li);
  }
  for (const n of s.next || []) {
    const li = document.createElement("li");
    li.textContent = when(n.at) + " — " + n.profile + (n.note ? " (" + n.note + ")" : "");
    next.append(li);
  }
  if (!next.children.length) {
    const li = document.createElement("li");
    li.textContent = "nothing scheduled";
    next.append(li);
  }
  if (lastState !== null && lastState !== state && (state === "idle" || state === "tripped")) {
    loadReport();
  }
  lastState = state;
}

async function post(cmd, body) {
  say("");
  let reply;
  try {
    const r = await fetch("/api/" + cmd, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    if (r.status === 401) { unpaired(); return null; }
    reply = await r.json();
  } catch (e) {
    say("no answer from the page's server");
    return null;
  }
  if (!reply.ok) say(reply.error);
  return reply;
}

function unpaired() {
  say("This device is no longer paired.");
  document.body.dataset.state = "unpaired";
  if (source) source.close();
  for (const b of document.querySelectorAll("button")) b.disabled = true;
}

async function loadReport(picture = true) {
  try {
    const r = await fetch("/api/report", { credentials: "same-origin" });
    if (r.status === 401) return unpaired();
    const data = await r.json();
    $("report-text").textContent = data.ok ? data.text : data.error;
    if (data.ok && data.diary) diaryCard(data.diary);
  } catch (e) { /* the next state change tries again */ }
  if (picture) $("report-img").src = "/report.svg?" + Date.now();
}

// The diary card: first on the page in the morning, otherwise at hand below.
function diaryCard(d) {
  const card = $("diary-card");
  show(card, true);
  $("diary-night").textContent = d.night;
  show($("diary-done"), d.done);
  $("diary-done").textContent = d.done ? "Diary of the night of " + d.night + " saved." : "";
  const formOpen = !$("diary").hidden;
  show($("diary-open"), !formOpen);
  if (d.done) $("diary-open").textContent = "Change last night's diary";
  if (d.morning && !d.done) {
    document.querySelector("header").after(card);
    if (!formOpen) { show($("diary"), true); show($("diary-open"), false); }
  }
}

async function saveDiary(event) {
  event.preventDefault();
  const answers = {};
  for (const [k, v] of new FormData($("diary"))) answers[k] = String(v);
  const reply = await post("diary", answers);
  if (reply && reply.ok) {
    show($("diary"), false);
    say("");
    $("diary-done").textContent = "Diary of the night of " + reply.night + " saved: "
      + reply.asleep_min + " min asleep, efficiency " + reply.efficiency + " %.";
    show($("diary-done"), true);
    show($("diary-open"), false);
  }
}

function level(delta) {
  const now = Number($("level-value").dataset.level || 1);
  const value = Math.max(0, Math.min(2, Math.round((now + delta) * 10) / 10));
  post("level", { value });
}

let source = null;
function connect() {
  source = new EventSource("/api/events");
  source.onmessage = (e) => render(JSON.parse(e.data));
  source.addEventListener("revoked", unpaired);
  source.onerror = () => {
    if (document.body.dataset.state === "unpaired") return;
    $("conn").textContent = "reconnecting…";
    $("conn").className = "conn down";
  };
}

$("stop").addEventListener("click", () => post("stop"));
$("pause").addEventListener("click", () => post("pause"));
$("resume").addEventListener("click", () => post("resume"));
$("level-down").addEventListener("click", () => level(-0.1));
$("level-up").addEventListener("click", () => level(0.1));
$("start").addEventListener("click", () => post("start", { profile: $("start-profile").value }));
$("snooze").addEventListener("click", () => post("snooze", { duration: $("snooze-for").value }));
$("snooze-off").addEventListener("click", () => post("snooze", { duration: "off" }));
$("diary-open").addEventListener("click", () => { show($("diary"), true); show($("diary-open"), false); });
$("diary").addEventListener("submit", saveDiary);
$("reset").addEventListener("click", () => show($("reset-confirm"), true));
$("reset-no").addEventListener("click", () => show($("reset-confirm"), false));
$("reset-yes").addEventListener("click", async () => {
  show($("reset-confirm"), false);
  await post("reset", { confirm: true });
});

connect();
loadReport(false); // the <img> already asks for the picture
