// Moderator console. Server data is inserted only as text (see dom.js).
import { PeerClient, api } from "./protocol.js";
import { h, clear, $, announce, relativeAge, storage, session, uniqueId } from "./dom.js";

const TOKEN_KEY = "peerchat.mod.token";
const SHIFT_KEY = "peerchat.mod.shiftStart";
const BREAK_KEY = "peerchat.mod.breakMinutes";
const SEVERITY_RANK = { imminent: 0, high: 1, medium: 2, low: 3 };
const OUTCOMES = [
  ["no_action", "No action needed"],
  ["support_sent", "Support sent"],
  ["hidden", "Message hidden"],
  ["muted", "User muted"],
  ["banned", "User banned"],
  ["escalated", "Escalated"],
];

const state = {
  client: null,
  user: null,
  flags: new Map(),      // id -> flag
  els: new Map(),        // id -> li
  collapse: false,
  nudgeAt: null,
};

function show(el, visible) { el.hidden = !visible; }

function toast(text, level = "info") {
  const box = $("#toasts");
  const item = h("div", { class: `notice ${level}` }, text);
  box.append(item);
  while (box.childNodes.length > 3) box.removeChild(box.firstChild);
  setTimeout(() => item.remove(), 8000);
}

function errorText(err) {
  if (err?.code === "conflict") return "Another moderator has claimed this flag.";
  if (err?.code === "forbidden") return "You don't have permission for that.";
  if (err?.code === "disconnected" || err?.code === "timeout") return "Not connected. Try again in a moment.";
  return err?.message || err?.code || "Something went wrong.";
}

async function act(op, args, done) {
  try {
    const res = await state.client.request(op, args);
    if (done) toast(done);
    return res;
  } catch (err) {
    toast(`${op.replace("mod.", "")} failed: ${errorText(err)}`, "warn");
    return null;
  }
}

// ---------------------------------------------------------------- views

function showView(name) {
  show($("#login-view"), name === "login");
  show($("#denied-view"), name === "denied");
  show($("#console-view"), name === "console");
  show($("#logout-btn"), name === "console" || name === "denied");
  show($("#whoami"), name === "console");
  show($("#shift"), name === "console");
}

function setConnState(ev) {
  const bar = $("#conn-bar");
  bar.dataset.state = ev.state;
  show($("#retry-btn"), ev.state === "reconnecting");
  if (ev.state === "connecting") { $("#conn-status").textContent = "Connecting…"; show(bar, true); }
  else if (ev.state === "reconnecting") { $("#conn-status").textContent = "Connection lost. Reconnecting…"; show(bar, true); }
  else show(bar, false);
}

// ---------------------------------------------------------------- session

function setupLogin() {
  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = $("#login-error");
    show(err, false);
    const handle = $("#login-handle").value.trim();
    const password = $("#login-password").value;
    if (!handle || !password) { err.textContent = "Enter your username and password."; show(err, true); return; }
    const res = await api("POST", "/api/login", { handle, password });
    if (!res.ok || !res.body?.token) {
      err.textContent = res.status === 429 ? "Too many attempts. Wait a minute." : "That username and password don't match.";
      show(err, true);
      return;
    }
    $("#login-password").value = "";
    const role = res.body.user?.role;
    if (role !== "moderator" && role !== "admin") {
      session.set(TOKEN_KEY, res.body.token);
      denied();
      return;
    }
    session.set(TOKEN_KEY, res.body.token);
    connect();
  });
  const logout = async () => {
    const token = session.get(TOKEN_KEY);
    state.client?.stop();
    state.client = null;
    await api("POST", "/api/logout", undefined, token);
    session.remove(TOKEN_KEY);
    showView("login");
    $("#login-handle").focus();
  };
  $("#logout-btn").addEventListener("click", logout);
  $("#denied-logout").addEventListener("click", logout);
  $("#retry-btn").addEventListener("click", () => state.client?.retryNow());
}

function denied() {
  state.client?.stop();
  state.client = null;
  showView("denied");
  $("#denied-title").focus();
}

function connect() {
  state.client?.stop();
  const client = new PeerClient({
    helloArgs: () => {
      const token = session.get(TOKEN_KEY);
      return token ? { token } : {};
    },
  });
  state.client = client;
  client.on("state", (ev) => {
    setConnState(ev);
    if (ev.state === "unauthorized" || ev.state === "banned") {
      session.remove(TOKEN_KEY);
      showView("login");
      const m = $("#login-message");
      m.textContent = ev.state === "banned" ? "This account is banned." : "Your session has ended. Please log in again.";
      show(m, true);
    }
  });
  client.on("ready", onReady);
  client.on("flag", (ev) => { if (ev.flag) upsertFlag(ev.flag, true); });
  client.on("flag_update", (ev) => { if (ev.flag) upsertFlag(ev.flag, false); });
  client.on("notice", (ev) => toast(ev.text || "", ev.level === "warn" ? "warn" : "info"));
  client.start();
}

async function onReady(result) {
  state.user = result.user;
  if (!["moderator", "admin"].includes(result.user?.role)) { denied(); return; }
  const who = $("#whoami");
  clear(who);
  who.append("Signed in as ", h("strong", {}, result.user.handle), ` (${result.user.role})`);
  state.collapse = storage.get(collapseKey()) === "1";
  $("#collapse-text").checked = state.collapse;
  const first = $("#console-view").hidden;
  showView("console");
  startShift();
  if (first) { loadRooms(); $("#queue-title").setAttribute("tabindex", "-1"); $("#queue-title").focus(); }
  try {
    const res = await state.client.request("mod.watch", {});
    reconcile(res.flags || []);
  } catch (err) {
    if (err.code === "forbidden") denied();
    else toast(`Couldn't load the queue: ${errorText(err)}`, "warn");
  }
}

function collapseKey() { return `peerchat.mod.collapse.${state.user?.handle || ""}`; }

// ---------------------------------------------------------------- queue

function compareFlags(a, b) {
  const ra = SEVERITY_RANK[a.severity] ?? 9, rb = SEVERITY_RANK[b.severity] ?? 9;
  if (ra !== rb) return ra - rb;
  return (Number(a.created_at) || 0) - (Number(b.created_at) || 0);
}

function reconcile(flags) {
  const keep = new Set(flags.map((f) => String(f.id)));
  for (const id of [...state.flags.keys()]) if (!keep.has(id)) removeFlag(id);
  for (const f of flags) upsertFlag(f, false);
}

function removeFlag(id) {
  state.flags.delete(id);
  state.els.get(id)?.remove();
  state.els.delete(id);
  updateCount();
}

function upsertFlag(flag, isNew) {
  const id = String(flag.id);
  if (flag.state === "resolved") { removeFlag(id); return; }
  const existed = state.flags.has(id);
  state.flags.set(id, flag);
  if (existed) {
    refreshFlag(state.els.get(id), flag);
  } else {
    const li = renderFlag(flag);
    state.els.set(id, li);
    // Insert at its sorted position without moving other cards (keeps focus and typed notes).
    const queue = $("#queue");
    const after = [...state.flags.values()].filter((f) => String(f.id) !== id && compareFlags(flag, f) < 0)
      .sort(compareFlags)[0];
    const ref = after ? state.els.get(String(after.id)) : null;
    if (ref && ref.parentNode === queue) queue.insertBefore(li, ref);
    else queue.append(li);
    if (isNew) announce(`New ${flag.severity} flag in ${flag.room}.`);
  }
  updateCount();
}

function updateCount() {
  const n = state.flags.size;
  $("#queue-count").textContent = `${n} open`;
  show($("#queue-empty"), n === 0);
}

/** Text with evidence spans wrapped in <mark>, built from text nodes. Offsets are code points. */
export function highlight(text, evidence) {
  const chars = Array.from(String(text ?? ""));
  const spans = (Array.isArray(evidence) ? evidence : [])
    .map((e) => ({ start: Math.max(0, Number(e.start) | 0), end: Math.min(chars.length, Number(e.end) | 0), category: e.category }))
    .filter((e) => e.end > e.start)
    .sort((a, b) => a.start - b.start);
  const merged = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s.start <= last.end) { last.end = Math.max(last.end, s.end); if (s.category && !last.cats.includes(s.category)) last.cats.push(s.category); }
    else merged.push({ ...s, cats: s.category ? [s.category] : [] });
  }
  const frag = document.createDocumentFragment();
  let pos = 0;
  for (const s of merged) {
    if (s.start > pos) frag.append(document.createTextNode(chars.slice(pos, s.start).join("")));
    const mark = document.createElement("mark");
    mark.textContent = chars.slice(s.start, s.end).join("");
    if (s.cats.length) mark.title = s.cats.join(", ");
    frag.append(mark);
    pos = s.end;
  }
  if (pos < chars.length) frag.append(document.createTextNode(chars.slice(pos).join("")));
  return frag;
}

function labelled(labelText, control) {
  const id = control.id || uniqueId("ctl");
  control.id = id;
  return [h("label", { for: id }, labelText), control];
}

function renderFlag(flag) {
  const id = String(flag.id);
  const msg = flag.message || {};
  const from = msg.from || {};
  const textId = uniqueId("flag-text");
  const li = h("li", { class: "flag", dataset: { flagId: id } });
  li.refs = {};
  const r = li.refs;
  r.sev = h("span", { class: "sev" });
  r.cats = h("span", { class: "chips" });
  r.meta = h("p", { class: "flag-meta" });
  r.text = h("p", { class: "flag-text", id: textId });
  r.text.append(highlight(msg.text, flag.evidence));
  r.toggle = h("button", { type: "button", class: "btn btn-quiet btn-small", "aria-expanded": "false", "aria-controls": textId }, "Show message");
  r.toggle.addEventListener("click", () => {
    const open = r.toggle.getAttribute("aria-expanded") !== "true";
    r.toggle.setAttribute("aria-expanded", String(open));
    r.text.hidden = !open;
    r.toggle.textContent = open ? "Hide message" : "Show message";
  });
  r.claim = h("button", { type: "button", class: "btn btn-primary btn-small" }, "Claim");
  r.claim.addEventListener("click", () => {
    const f = state.flags.get(id);
    if (f?.state === "claimed" && f.claimed_by === state.user?.handle) act("mod.release", { flag: flag.id }, "Released.");
    else act("mod.claim", { flag: flag.id }, "Claimed. It's yours.");
  });
  const who = from.handle || "unknown";
  const hasMsg = msg.id !== undefined && msg.id !== null;

  // Resolve
  const outcome = h("select", {}, OUTCOMES.map(([v, t]) => h("option", { value: v }, t)));
  const note = h("input", { type: "text", maxlength: "500", autocomplete: "off" });
  const resolveBtn = h("button", { type: "button", class: "btn btn-primary btn-small" }, "Resolve");
  resolveBtn.addEventListener("click", () => {
    const args = { flag: flag.id, outcome: outcome.value };
    if (note.value.trim()) args.note = note.value.trim();
    act("mod.resolve", args, "Resolved.");
  });
  // Mute
  const minutes = h("input", { type: "number", min: "1", max: "10080", value: "60", inputmode: "numeric" });
  const muteReason = h("input", { type: "text", maxlength: "300", autocomplete: "off" });
  const muteBtn = h("button", { type: "button", class: "btn btn-quiet btn-small" }, `Mute ${who}`);
  muteBtn.addEventListener("click", () => {
    const args = { handle: who, minutes: Math.max(1, Number(minutes.value) || 60) };
    if (muteReason.value.trim()) args.reason = muteReason.value.trim();
    act("mod.mute", args, `${who} muted for ${args.minutes} min.`);
  });
  // Ban
  const banReason = h("input", { type: "text", maxlength: "300", autocomplete: "off", required: true });
  const banBtn = h("button", { type: "button", class: "btn btn-danger btn-small" }, `Ban ${who}`);
  banBtn.addEventListener("click", () => {
    const reason = banReason.value.trim();
    if (!reason) { toast("A ban needs a reason (it goes in the audit log).", "warn"); banReason.focus(); return; }
    act("mod.ban", { handle: who, reason }, `${who} banned.`);
  });
  // Check-in
  const checkText = h("textarea", { rows: "2", maxlength: "1000" });
  checkText.value = "Hi, this is the moderation team. We noticed your message and wanted to check you're OK. If you want to talk, we're here.";
  const checkBtn = h("button", { type: "button", class: "btn btn-quiet btn-small" }, "Send check-in");
  checkBtn.addEventListener("click", () => {
    const text = checkText.value.trim();
    if (!text) { checkText.focus(); return; }
    act("mod.checkin", { handle: who, text }, `Check-in sent to ${who}.`);
  });
  // Escalate
  const escNote = h("input", { type: "text", maxlength: "500", autocomplete: "off" });
  const escBtn = h("button", { type: "button", class: "btn btn-danger btn-small" }, "Escalate to on-call");
  escBtn.addEventListener("click", () => {
    const args = { flag: flag.id };
    if (escNote.value.trim()) args.note = escNote.value.trim();
    act("mod.escalate", args, "Escalated to on-call.");
  });

  const approveBtn = h("button", { type: "button", class: "btn btn-quiet btn-small" }, "Approve message");
  approveBtn.addEventListener("click", () => act("mod.approve", { room: flag.room, id: msg.id }, "Approved: delivered to the room."));
  const hideBtn = h("button", { type: "button", class: "btn btn-quiet btn-small" }, "Hide message");
  hideBtn.addEventListener("click", () => act("mod.hide", { room: flag.room, id: msg.id }, "Message hidden."));

  li.append(
    h("div", { class: "flag-head" }, r.sev, r.cats, h("span", { class: "chip" }, `#${flag.room}`)),
    r.meta,
    h("p", { class: "flag-meta" }, "From ", h("strong", {}, who), from.role ? ` (${from.role})` : "", msg.cw ? ` · content note: ${msg.cw}` : ""),
    r.toggle,
    r.text,
    h("div", { class: "flag-actions" }, r.claim, hasMsg && flag.held ? approveBtn : null, hasMsg ? hideBtn : null),
    h("details", {},
      h("summary", {}, "Resolve and more actions"),
      h("div", { class: "action-grid" },
        h("div", { class: "action" }, labelled("Outcome", outcome), labelled("Resolution note (optional)", note), resolveBtn),
        h("div", { class: "action" }, labelled("Check-in message", checkText), checkBtn),
        h("div", { class: "action" }, labelled("Mute for (minutes)", minutes), labelled("Reason (optional)", muteReason), muteBtn),
        h("div", { class: "action" }, labelled("Ban reason (required)", banReason), banBtn),
        h("div", { class: "action" }, labelled("Escalation note (optional)", escNote), escBtn),
      ),
    ),
  );
  refreshFlag(li, flag);
  return li;
}

function refreshFlag(li, flag) {
  const r = li.refs;
  li.className = `flag sev-${flag.severity || "low"}`;
  r.sev.textContent = flag.severity || "unknown";
  clear(r.cats);
  for (const c of flag.categories || []) r.cats.append(h("span", { class: "chip" }, String(c).replace(/_/g, " ")), " ");
  clear(r.meta);
  const claimedByMe = flag.state === "claimed" && flag.claimed_by === state.user?.handle;
  r.meta.append(
    flag.source === "report" ? "Reported by a member" : "Found by the detector",
    " · ", h("span", { class: "age", dataset: { ts: flag.created_at } }, relativeAge(flag.created_at)),
    " · ", flag.state === "claimed" ? (claimedByMe ? "Claimed by you" : `Claimed by ${flag.claimed_by || "another moderator"}`) : "Open",
  );
  r.claim.textContent = claimedByMe ? "Release" : flag.state === "claimed" ? "Claimed by someone else" : "Claim";
  r.claim.disabled = flag.state === "claimed" && !claimedByMe;
  r.claim.className = `btn btn-small ${claimedByMe ? "btn-quiet" : "btn-primary"}`;
  const collapsed = state.collapse && r.toggle.getAttribute("aria-expanded") !== "true";
  r.toggle.hidden = !state.collapse;
  r.text.hidden = collapsed;
}

function setupSettings() {
  $("#collapse-text").addEventListener("change", (e) => {
    state.collapse = e.target.checked;
    storage.set(collapseKey(), state.collapse ? "1" : "0");
    for (const [id, li] of state.els) {
      li.refs.toggle.setAttribute("aria-expanded", "false");
      li.refs.toggle.textContent = "Show message";
      refreshFlag(li, state.flags.get(id));
    }
  });
  const minutes = $("#break-minutes");
  minutes.value = storage.get(BREAK_KEY, "90");
  minutes.addEventListener("change", () => {
    const v = Math.min(600, Math.max(10, Number(minutes.value) || 90));
    minutes.value = String(v);
    storage.set(BREAK_KEY, String(v));
    state.nudgeAt = null;
    tickShift();
  });
  $("#break-taken").addEventListener("click", () => {
    session.set(SHIFT_KEY, String(Date.now()));
    state.nudgeAt = null;
    show($("#break-nudge"), false);
    tickShift();
    toast("Timer restarted. Take care of yourself.");
  });
  $("#break-snooze").addEventListener("click", () => {
    state.nudgeAt = Date.now() + 15 * 60000;
    show($("#break-nudge"), false);
  });
}

// ---------------------------------------------------------------- shift timer

let shiftTimer = null;
function startShift() {
  if (!session.get(SHIFT_KEY)) session.set(SHIFT_KEY, String(Date.now()));
  clearInterval(shiftTimer);
  tickShift();
  shiftTimer = setInterval(tickShift, 15000);
}

function tickShift() {
  const start = Number(session.get(SHIFT_KEY)) || Date.now();
  const mins = Math.floor((Date.now() - start) / 60000);
  $("#shift").textContent = `On shift ${Math.floor(mins / 60)} h ${String(mins % 60).padStart(2, "0")} min`;
  const limit = Number(storage.get(BREAK_KEY, "90")) || 90;
  const due = mins >= limit && (state.nudgeAt === null || Date.now() >= state.nudgeAt);
  if (due && $("#break-nudge").hidden) {
    $("#break-text").textContent = `You've been moderating for ${mins} minutes. This work is heavy: a short break, some water or a stretch helps you and the people you support.`;
    show($("#break-nudge"), true);
    state.nudgeAt = Infinity;
  }
  for (const el of document.querySelectorAll(".flag .age")) el.textContent = relativeAge(el.dataset.ts);
}

// ---------------------------------------------------------------- rooms

async function loadRooms() {
  const res = await api("GET", "/api/rooms");
  const rooms = res.ok && Array.isArray(res.body) ? res.body : [];
  const sel = $("#room-select");
  clear(sel);
  for (const r of rooms) sel.append(h("option", { value: r.slug }, r.title ? `${r.title} (${r.slug})` : r.slug));
}

function setupRoomControls() {
  $("#slow-apply").addEventListener("click", () => {
    const room = $("#room-select").value;
    const seconds = Math.max(0, Math.min(3600, Math.floor(Number($("#slow-seconds").value) || 0)));
    if (!room) return;
    act("mod.slowmode", { room, seconds }, seconds ? `Slow mode in ${room}: ${seconds} s.` : `Slow mode off in ${room}.`);
  });
  $("#lock-on").addEventListener("click", () => {
    const room = $("#room-select").value;
    if (room) act("mod.lock", { room, locked: true }, `${room} locked.`);
  });
  $("#lock-off").addEventListener("click", () => {
    const room = $("#room-select").value;
    if (room) act("mod.lock", { room, locked: false }, `${room} unlocked.`);
  });
}

// ---------------------------------------------------------------- boot

function boot() {
  setupLogin();
  setupSettings();
  setupRoomControls();
  if (session.get(TOKEN_KEY)) connect();
  else { showView("login"); }
}

boot();
