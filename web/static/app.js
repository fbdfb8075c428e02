// Peer chat page. Server data is inserted only as text (see dom.js).
import { PeerClient, api } from "./protocol.js";
import { h, clear, $, announce, formatTime, storage, session, uniqueId } from "./dom.js";
import { supportCard, telHref } from "./support.js";

const TOKEN_KEY = "peerchat.token";          // sessionStorage: account token or guest token
const KIND_KEY = "peerchat.kind";            // "account" | "guest" | "cookie"
const INTRO_KEY = "peerchat.introDismissed"; // localStorage
const ACCOUNT_KEY = "peerchat.hasAccount";     // localStorage: a session cookie may exist
const TYPING_SEND_EVERY = 3000;
const TYPING_SHOW_FOR = 4000;
const HISTORY_PAGE = 50;

const AUDIENCE_LABEL = { all: "Everyone", youth: "Ages 13 to 17", adults: "Adults 18+" };
const ROLE_BADGE = { supporter: "Supporter", moderator: "Moderator", admin: "Moderator" };

const state = {
  client: null,
  user: null,
  allowed: new Set(),
  roomsInfo: [],           // from GET /api/rooms
  rooms: new Map(),        // slug -> RoomState (open rooms)
  active: null,            // slug shown
  blocked: new Set(),
  everReady: false,
};

// ---------------------------------------------------------------- utilities

function randomNonce() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function show(el, visible) { el.hidden = !visible; }

function errorText(err) {
  switch (err?.code) {
    case "rate_limited": {
      const s = Math.max(1, Math.ceil(Number(err.retryAfter) || 1));
      return `Slow down a little: you can send again in ${s} second${s === 1 ? "" : "s"}.`;
    }
    case "muted": return "A moderator has paused your messages for a while.";
    case "locked": return "This room is locked by moderators for now.";
    case "too_long": return "That message is too long. Try splitting it up.";
    case "not_joined": return "You are not in this room any more. Join it again.";
    case "forbidden": return "This room isn't open to you.";
    case "not_found": return "That room doesn't exist.";
    case "unavailable": return "The chat is having trouble right now. Your message was not sent.";
    case "bad_request": return "That message couldn't be sent.";
    case "disconnected":
    case "timeout": return "Connection lost. Will try again when we're back.";
    default: return err?.message || "Something went wrong.";
  }
}

// ---------------------------------------------------------------- intro note

function setupIntro() {
  const note = $("#intro-note");
  if (storage.get(INTRO_KEY) !== "1") show(note, true);
  $("#intro-dismiss").addEventListener("click", () => {
    storage.set(INTRO_KEY, "1");
    show(note, false);
    ($("#guest-btn").offsetParent ? $("#guest-btn") : $("#main")).focus();
  });
}

// ---------------------------------------------------------------- help panel

async function showHelp() {
  const slot = $("#global-support");
  clear(slot);
  const room = state.active ? `?room=${encodeURIComponent(state.active)}` : "";
  const res = await api("GET", `/api/resources${room}`);
  const resources = res.ok && Array.isArray(res.body?.resources) ? res.body.resources : [];
  const card = supportCard({
    severity: "info",
    text: resources.length
      ? "If you are in danger right now, call your local emergency number. These services are free and confidential."
      : "If you are in danger right now, call your local emergency number. We couldn't load the list of services just now.",
    resources,
  }, { title: "Get help now", onDismiss: dismissCard });
  slot.append(card);
  card.focus();
}

function dismissCard(card) {
  card.remove();
  const input = state.active && state.rooms.get(state.active)?.input;
  (input || $("#help-btn")).focus();
}

// ---------------------------------------------------------------- auth

function showView(name) {
  show($("#auth-view"), name === "auth");
  show($("#chat-view"), name === "chat");
  show($("#banned-view"), name === "banned");
  show($("#logout-btn"), name === "chat");
  show($("#whoami"), name === "chat");
  // The first-visit note belongs to the welcome screen; in the chat it would push the room down.
  show($("#intro-note"), name === "auth" && storage.get(INTRO_KEY) !== "1");
}

function setupAuth() {
  const loginForm = $("#login-form");
  const signupForm = $("#signup-form");
  const toggle = (signup) => {
    $("#show-login").setAttribute("aria-pressed", String(!signup));
    $("#show-signup").setAttribute("aria-pressed", String(signup));
    show(loginForm, !signup);
    show(signupForm, signup);
  };
  $("#show-login").addEventListener("click", () => { toggle(false); $("#login-handle").focus(); });
  $("#show-signup").addEventListener("click", () => { toggle(true); $("#signup-handle").focus(); });

  $("#guest-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const handle = $("#guest-handle").value.trim();
    session.remove(TOKEN_KEY);
    session.set(KIND_KEY, "guest");
    startChat({ guest: handle ? { handle } : {} });
  });

  loginForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = $("#login-error");
    show(err, false);
    const handle = $("#login-handle").value.trim();
    const password = $("#login-password").value;
    if (!handle || !password) {
      err.textContent = "Enter your username and password.";
      show(err, true);
      return;
    }
    const res = await api("POST", "/api/login", { handle, password });
    if (res.ok && res.body?.token) {
      $("#login-password").value = "";
      onAuthenticated(res.body.token);
    } else {
      err.textContent = res.status === 429
        ? "Too many attempts. Please wait a minute and try again."
        : res.status === 0 ? "Can't reach the server. Check your connection."
        : "That username and password don't match.";
      show(err, true);
    }
  });

  signupForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = $("#signup-error");
    show(err, false);
    const handle = $("#signup-handle").value.trim();
    const password = $("#signup-password").value;
    const age = signupForm.querySelector("input[name=age_band]:checked")?.value;
    let problem = null;
    if (!/^[A-Za-z0-9_-]{3,24}$/.test(handle)) problem = "Usernames are 3 to 24 letters, digits, _ or -.";
    else if (password.length < 8) problem = "Passwords need at least 8 characters.";
    else if (!age) problem = "Choose your age group. It decides which rooms you can join.";
    if (problem) { err.textContent = problem; show(err, true); return; }
    const res = await api("POST", "/api/register", { handle, password, age_band: age });
    if (res.ok && res.body?.token) {
      $("#signup-password").value = "";
      onAuthenticated(res.body.token);
    } else {
      err.textContent = res.status === 409 ? "That username is taken. Try another."
        : res.status === 0 ? "Can't reach the server. Check your connection."
        : res.body?.error?.message || "Couldn't create the account.";
      show(err, true);
    }
  });

  $("#logout-btn").addEventListener("click", logout);
}

function onAuthenticated(token) {
  storage.set(ACCOUNT_KEY, "1");
  session.set(TOKEN_KEY, token);
  session.set(KIND_KEY, "account");
  startChat({});
}

async function logout() {
  const token = session.get(TOKEN_KEY);
  if (session.get(KIND_KEY) !== "guest") await api("POST", "/api/logout", undefined, token);
  storage.remove(ACCOUNT_KEY);
  endChat();
  showView("auth");
  $("#guest-btn").focus();
}

function endChat() {
  state.client?.stop();
  state.client = null;
  session.remove(TOKEN_KEY);
  session.remove(KIND_KEY);
  state.rooms.clear();
  state.active = null;
  clear($("#room-panes"));
  clear($("#room-list"));
  clear($("#global-support"));
}

// ---------------------------------------------------------------- connection

function helloArgs(initial) {
  return () => {
    const token = session.get(TOKEN_KEY);
    if (token) return { token, locale: navigator.language };
    return { ...initial, locale: navigator.language };
  };
}

function setConnState(ev) {
  const bar = $("#conn-bar");
  const status = $("#conn-status");
  bar.dataset.state = ev.state;
  const retry = $("#retry-btn");
  show(retry, false);
  switch (ev.state) {
    case "connecting":
      status.textContent = "Connecting…";
      show(bar, true);
      break;
    case "reconnecting":
      status.textContent = "Connection lost. Reconnecting…";
      show(retry, true);
      show(bar, true);
      break;
    case "open":
      status.textContent = state.everReady ? "Back online." : "";
      show(bar, false);
      break;
    default:
      show(bar, false);
  }
}

function startChat(initialHello) {
  state.client?.stop();
  const client = new PeerClient({ helloArgs: helloArgs(initialHello) });
  state.client = client;
  state.everReady = false;
  client.on("state", (ev) => {
    setConnState(ev);
    if (ev.state === "banned") {
      endChat();
      showView("banned");
      $("#banned-title").focus?.();
    } else if (ev.state === "unauthorized") {
      endChat();
      showView("auth");
      const msg = $("#auth-message");
      msg.textContent = "Your session has ended. Please log in again or continue as a guest.";
      show(msg, true);
    }
  });
  client.on("ready", onReady);
  client.on("message", (ev) => onMessageEvent(ev));
  client.on("retract", onRetract);
  client.on("presence", (ev) => { const r = state.rooms.get(ev.room); if (r) setPresence(r, ev.count); });
  client.on("typing", onTyping);
  client.on("support", onSupport);
  client.on("notice", onNotice);
  client.start();
}

async function onReady(result) {
  const reconnect = state.everReady;
  state.everReady = true;
  state.user = result.user;
  state.allowed = new Set(result.rooms || []);
  if (result.token && (session.get(KIND_KEY) === "guest" || !session.get(TOKEN_KEY))) {
    session.set(TOKEN_KEY, result.token);
  }
  if (!session.get(KIND_KEY)) session.set(KIND_KEY, "cookie");
  show($("#auth-message"), false);
  renderWhoami();
  showView("chat");
  if (!reconnect) {
    await loadRoomList();
    const first = $("#room-list button.join-btn:not([disabled])");
    if (first && !document.activeElement?.closest("#global-support")) first.focus();
  } else {
    renderRoomList();
    for (const room of state.rooms.values()) rejoin(room);
  }
}

function renderWhoami() {
  const u = state.user || {};
  const who = $("#whoami");
  clear(who);
  who.append("Signed in as ", h("strong", {}, u.handle || "guest"));
  if (u.role === "guest") who.append(" (guest)");
  const badge = ROLE_BADGE[u.role];
  if (badge) who.append(" ", h("span", { class: "badge" }, badge));
}

// ---------------------------------------------------------------- room list

async function loadRoomList() {
  const res = await api("GET", "/api/rooms");
  state.roomsInfo = res.ok && Array.isArray(res.body) ? res.body
    : Array.isArray(res.body?.rooms) ? res.body.rooms : [];
  renderRoomList();
}

function whyNot(info) {
  const u = state.user || {};
  if (info.audience === "youth") return "This room is for ages 13 to 17.";
  if (info.audience === "adults") return "This room is for adults 18 and over.";
  if (u.role === "guest") return "Create a free account to join this room.";
  return "This room isn't open to you.";
}

function renderRoomList() {
  const list = $("#room-list");
  clear(list);
  for (const info of state.roomsInfo) {
    const allowed = state.allowed.has(info.slug);
    const open = state.rooms.has(info.slug);
    const titleId = `room-card-${info.slug}`;
    const reasonId = `room-why-${info.slug}`;
    const room = state.rooms.get(info.slug);
    const li = h("li", { class: `room-card${allowed ? "" : " unavailable"}${open ? " open" : ""}${state.active === info.slug ? " active" : ""}`, dataset: { slug: info.slug } },
      h("h2", { id: titleId, class: "room-card-title" }, info.title || info.slug,
        room?.unread ? h("span", { class: "unread" }, ` ${room.unread} new`) : null),
      h("p", { class: "audience" }, AUDIENCE_LABEL[info.audience] || info.audience || ""),
      info.description ? h("p", { class: "room-desc" }, info.description) : null,
      info.guidelines ? h("details", { class: "guidelines" },
        h("summary", {}, "Room guidelines"),
        h("p", { class: "guidelines-text" }, info.guidelines)) : null,
      allowed
        ? h("button", { type: "button", class: `btn ${open ? "btn-quiet" : "btn-primary"} join-btn`, "aria-describedby": titleId, onclick: () => openRoom(info.slug) },
            open ? "Go to room" : "Join room")
        : h("p", { id: reasonId, class: "why-not" }, whyNot(info)),
    );
    list.append(li);
  }
  if (!state.roomsInfo.length) list.append(h("li", { class: "room-card" }, "No rooms could be loaded. Reload the page to try again."));
}

// ---------------------------------------------------------------- rooms

function roomInfo(slug) { return state.roomsInfo.find((r) => r.slug === slug) || { slug, title: slug }; }

function buildRoomPane(slug) {
  const info = roomInfo(slug);
  const titleId = uniqueId("room-title");
  const inputId = uniqueId("composer");
  const hintId = uniqueId("composer-hint");
  const room = {
    slug, info,
    ids: new Map(),           // id -> element
    removed: new Set(),
    pending: new Map(),       // nonce -> {text, el}
    lastId: null, oldestId: null,
    typing: new Map(),
    typingTimer: null, lastTypingSent: 0,
    unread: 0, joined: false,
  };
  room.title = h("h1", { id: titleId, class: "room-title", tabindex: "-1" }, info.title || slug);
  room.presence = h("p", { class: "presence" }, "");
  room.supportSlot = h("div", { class: "support-slot" });
  room.older = h("button", { type: "button", class: "btn btn-quiet btn-small load-older", onclick: () => loadOlder(room) }, "Load older messages");
  room.list = h("ol", { class: "messages", "aria-label": `Messages in ${info.title || slug}` });
  room.scroller = h("div", { class: "messages-scroll", tabindex: "0", role: "region", "aria-label": `Conversation in ${info.title || slug}` }, room.older, room.list);
  room.typingEl = h("p", { class: "typing", "aria-hidden": "true" }, "");
  room.input = h("textarea", { id: inputId, class: "composer-input", rows: "2", maxlength: "2000", "aria-describedby": hintId, autocomplete: "off" });
  room.hint = h("p", { id: hintId, class: "composer-hint", "aria-live": "polite" }, "Enter to send, Shift+Enter for a new line.");
  const form = h("form", { class: "composer", novalidate: true },
    h("label", { for: inputId, class: "composer-label" }, `Message ${info.title || slug}`),
    h("div", { class: "composer-row" }, room.input, h("button", { type: "submit", class: "btn btn-primary send-btn" }, "Send")),
    room.hint,
  );
  form.addEventListener("submit", (e) => { e.preventDefault(); submitComposer(room); });
  room.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submitComposer(room); }
  });
  room.input.addEventListener("input", () => sendTyping(room));

  room.pane = h("section", { class: "room-pane", "aria-labelledby": titleId, dataset: { room: slug } },
    h("header", { class: "room-head" },
      h("div", { class: "room-head-row" },
        h("button", { type: "button", class: "btn btn-quiet btn-small back-btn", onclick: () => showRoomList() }, "← All rooms"),
        room.title,
        room.presence,
        h("button", { type: "button", class: "btn btn-quiet btn-small leave-btn", onclick: () => leaveRoom(slug) }, "Leave room"),
      ),
      info.guidelines ? h("details", { class: "guidelines" }, h("summary", {}, "Room guidelines"), h("p", { class: "guidelines-text" }, info.guidelines)) : null,
    ),
    room.supportSlot,
    room.scroller,
    room.typingEl,
    form,
  );
  return room;
}

async function openRoom(slug) {
  let room = state.rooms.get(slug);
  if (!room) {
    room = buildRoomPane(slug);
    state.rooms.set(slug, room);
    $("#room-panes").append(room.pane);
    try {
      const res = await state.client.request("join", { room: slug });
      room.joined = true;
      if (res.room) room.info = { ...room.info, ...res.room };
      mergeMessages(room, res.messages || [], "append");
      room.older.hidden = (res.messages || []).length === 0;
      setPresence(room, res.presence?.count);
    } catch (err) {
      state.rooms.delete(slug);
      room.pane.remove();
      globalNotice({ level: "warn", text: errorText(err) });
      return;
    }
  }
  activate(slug);
}

function activate(slug) {
  state.active = slug;
  for (const r of state.rooms.values()) r.pane.hidden = r.slug !== slug;
  const room = state.rooms.get(slug);
  room.unread = 0;
  $("#chat-view").classList.add("in-room");
  renderRoomList();
  scrollToBottom(room);
  room.input.focus();
}

function showRoomList() {
  $("#chat-view").classList.remove("in-room");
  state.active = null;
  for (const r of state.rooms.values()) r.pane.hidden = true;
  renderRoomList();
  $("#rooms-title").setAttribute("tabindex", "-1");
  $("#rooms-title").focus();
}

async function leaveRoom(slug) {
  const room = state.rooms.get(slug);
  if (!room) return;
  state.rooms.delete(slug);
  room.pane.remove();
  try { await state.client.request("leave", { room: slug }); } catch { /* gone anyway */ }
  showRoomList();
  announce(`You left ${room.info.title || slug}.`);
}

async function rejoin(room) {
  const args = { room: room.slug };
  if (room.lastId) args.since = room.lastId;
  try {
    const res = await state.client.request("join", args);
    room.joined = true;
    const before = room.ids.size;
    mergeMessages(room, res.messages || [], "append");
    if (room.lastId && args.since && res.recovered === false) {
      addNotice(room, { level: "info", text: "You were offline for a while; some earlier messages may be missing. Use “Load older messages” to see them." });
    }
    setPresence(room, res.presence?.count);
    const added = room.ids.size - before;
    if (added > 0 && state.active === room.slug) announce(`${added} new message${added === 1 ? "" : "s"} while you were away.`);
    // Messages that could not be sent while offline: retry with the same nonce.
    for (const [nonce, p] of room.pending) if (!p.inFlight) trySend(room, nonce);
  } catch (err) {
    addNotice(room, { level: "warn", text: `Couldn't rejoin this room: ${errorText(err)}` });
  }
}

function setPresence(room, count) {
  if (typeof count !== "number") return;
  room.presence.textContent = count === 1 ? "1 person here" : `${count} people here`;
}

// ---------------------------------------------------------------- messages

function isOwn(msg) { return state.user && msg.from?.handle === state.user.handle; }

function badgeFor(from) {
  const labels = [];
  if (ROLE_BADGE[from?.role]) labels.push(ROLE_BADGE[from.role]);
  for (const b of Array.isArray(from?.badges) ? from.badges : []) {
    const label = typeof b === "string" ? b : b?.label || b?.name;
    if (!label) continue;
    const pretty = label.charAt(0).toUpperCase() + label.slice(1);
    if (!labels.includes(pretty)) labels.push(pretty);
  }
  return labels.map((l) => h("span", { class: `badge badge-${l.toLowerCase().replace(/[^a-z]/g, "")}` }, l));
}

function renderMessage(room, msg, { own = isOwn(msg), status = null } = {}) {
  const textId = uniqueId("msg-text");
  const li = h("li", { class: `msg${own ? " own" : ""}`, dataset: { from: msg.from?.handle || "" } });
  if (msg.id !== undefined && msg.id !== null) li.dataset.id = String(msg.id);
  const meta = h("p", { class: "msg-meta" },
    h("span", { class: "msg-from" }, msg.from?.handle || "someone"),
    own ? h("span", { class: "you" }, " (you)") : null,
    ...badgeFor(msg.from),
    msg.ts ? h("time", { datetime: new Date(Number(msg.ts)).toISOString() }, formatTime(msg.ts)) : null,
  );
  const text = h("p", { class: "msg-text", id: textId }, msg.text ?? "");
  li.append(meta);
  if (msg.cw) {
    text.hidden = true;
    const btn = h("button", { type: "button", class: "cw-toggle", "aria-expanded": "false", "aria-controls": textId },
      h("span", { class: "cw-label" }, `Content note: ${msg.cw}`), h("span", { class: "cw-action" }, " · Show"));
    btn.addEventListener("click", () => {
      const open = btn.getAttribute("aria-expanded") !== "true";
      btn.setAttribute("aria-expanded", String(open));
      text.hidden = !open;
      btn.querySelector(".cw-action").textContent = open ? " · Hide" : " · Show";
    });
    li.append(btn);
  }
  li.append(text);
  li.append(h("p", { class: "msg-status" }, status || ""));
  if (!own && msg.id) {
    li.append(h("button", {
      type: "button", class: "msg-more",
      "aria-label": `Report or block: message from ${msg.from?.handle || "someone"}`,
      onclick: (e) => openMessageDialog(room, msg, e.currentTarget),
    }, "⋯"));
  }
  return li;
}

function setStatus(li, text, cls) {
  li.classList.remove("pending", "held", "failed");
  if (cls) li.classList.add(cls);
  const s = li.querySelector(".msg-status");
  if (s) s.textContent = text || "";
}

function nearBottom(room) {
  const s = room.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}
function scrollToBottom(room) { room.scroller.scrollTop = room.scroller.scrollHeight; }

/** Merge messages by id (mode "append" for newer, "prepend" for older). Returns the count added. */
function mergeMessages(room, messages, mode) {
  let added = 0;
  const stick = nearBottom(room);
  const prevHeight = room.scroller.scrollHeight;
  const frag = document.createDocumentFragment();
  for (const msg of messages) {
    if (!msg || msg.id === undefined) continue;
    const id = String(msg.id);
    if (room.removed.has(id) || state.blocked.has(msg.from?.handle)) continue;
    if (room.ids.has(id)) { canonical(room, id, msg); continue; }
    const li = renderMessage(room, msg);
    li.dataset.canonical = "1";
    room.ids.set(id, li);
    frag.append(li);
    added += 1;
  }
  if (mode === "prepend") {
    room.list.prepend(frag);
    room.scroller.scrollTop += room.scroller.scrollHeight - prevHeight;
  } else {
    room.list.append(frag);
    if (stick || mode === "append") scrollToBottom(room);
  }
  if (messages.length) {
    const firstId = messages[0]?.id, lastId = messages[messages.length - 1]?.id;
    if (mode === "prepend" || room.oldestId === null) room.oldestId = firstId ?? room.oldestId;
    if (mode !== "prepend") room.lastId = lastId ?? room.lastId;
  }
  return added;
}

/** Replace our locally drawn copy with the server's version (cleaned text, cw, ts); clears "held". */
function canonical(room, id, msg) {
  const old = room.ids.get(id);
  if (!old || old.dataset.canonical) return;
  const li = renderMessage(room, msg);
  li.dataset.canonical = "1";
  const hadFocus = old.contains(document.activeElement);
  old.replaceWith(li);
  room.ids.set(id, li);
  if (hadFocus) room.input.focus();
}

function onMessageEvent(msg) {
  const room = state.rooms.get(msg.room);
  if (!room) return;
  const id = String(msg.id);
  room.lastId = msg.id;
  if (room.oldestId === null) room.oldestId = msg.id;
  if (room.ids.has(id)) { canonical(room, id, msg); return; }
  if (room.removed.has(id) || state.blocked.has(msg.from?.handle)) return;
  const stick = nearBottom(room);
  const li = renderMessage(room, msg);
  li.dataset.canonical = "1";
  room.ids.set(id, li);
  room.list.append(li);
  room.typing.delete(msg.from?.handle);
  renderTyping(room);
  if (stick || isOwn(msg)) scrollToBottom(room);
  if (!isOwn(msg)) {
    if (state.active === msg.room && !document.hidden) {
      const who = msg.from?.handle || "Someone";
      announce(msg.cw ? `${who} sent a message with a content note: ${msg.cw}` : `${who}: ${String(msg.text).slice(0, 200)}`);
    } else {
      room.unread += 1;
      if (!state.active || state.active !== msg.room) renderRoomList();
    }
  }
}

function onRetract(ev) {
  const room = state.rooms.get(ev.room);
  if (!room) return;
  const id = String(ev.id);
  room.removed.add(id);
  room.ids.get(id)?.remove();
  room.ids.delete(id);
}

async function loadOlder(room) {
  if (!room.oldestId) { room.older.hidden = true; return; }
  room.older.disabled = true;
  try {
    const res = await state.client.request("history", { room: room.slug, before: room.oldestId, limit: HISTORY_PAGE });
    const msgs = res.messages || [];
    mergeMessages(room, msgs, "prepend");
    if (msgs.length < HISTORY_PAGE) {
      room.older.hidden = true;
      room.list.prepend(h("li", { class: "notice info start" }, "This is the start of the conversation."));
    }
    announce(msgs.length ? `Loaded ${msgs.length} older messages.` : "No older messages.");
  } catch (err) {
    addNotice(room, { level: "warn", text: errorText(err) });
  } finally {
    room.older.disabled = false;
  }
}

// ---------------------------------------------------------------- sending

function submitComposer(room) {
  const text = room.input.value.trim();
  if (!text) return;
  room.input.value = "";
  const nonce = randomNonce();
  const li = renderMessage(room, { from: state.user, text, ts: Date.now() }, { own: true, status: "Sending…" });
  li.classList.add("pending");
  room.list.append(li);
  scrollToBottom(room);
  room.pending.set(nonce, { text, el: li, inFlight: false });
  trySend(room, nonce);
}

async function trySend(room, nonce) {
  const p = room.pending.get(nonce);
  if (!p) return;
  p.inFlight = true;
  try {
    const res = await state.client.request("send", { room: room.slug, text: p.text, nonce });
    room.pending.delete(nonce);
    const id = String(res.id);
    if (room.ids.has(id)) { p.el.remove(); return; }   // our own message event came first
    p.el.dataset.id = id;
    room.ids.set(id, p.el);
    if (res.status === "held") {
      setStatus(p.el, "Waiting for a moderator. Only you can see this until it's approved.", "held");
    } else {
      setStatus(p.el, "", null);
      room.lastId = res.id;
    }
  } catch (err) {
    p.inFlight = false;
    if (err.code === "disconnected" || err.code === "timeout" || err.code === "unavailable") {
      setStatus(p.el, "Not sent yet. It will be sent when the connection is back.", "pending");
      if (err.code === "unavailable") setTimeout(() => trySend(room, nonce), 3000);
      return;
    }
    if (err.code === "rate_limited") {
      // Keep it and send it by itself when allowed: nothing the person wrote is lost.
      const wait = Math.max(0.5, Number(err.retryAfter) || 1);
      setStatus(p.el, `Slow mode: sending in ${Math.ceil(wait)} s…`, "pending");
      setTimeout(() => { if (room.pending.has(nonce)) trySend(room, nonce); }, wait * 1000 + Math.random() * 300);
      return;
    }
    room.pending.delete(nonce);
    p.el.remove();
    if (!room.input.value) room.input.value = p.text;
    room.hint.textContent = errorText(err);
    room.hint.classList.add("error");
    setTimeout(() => {
      room.hint.classList.remove("error");
      room.hint.textContent = "Enter to send, Shift+Enter for a new line.";
    }, Math.max(5000, (Number(err.retryAfter) || 0) * 1000));
  }
}

function sendTyping(room) {
  const now = Date.now();
  if (now - room.lastTypingSent < TYPING_SEND_EVERY || !room.input.value.trim()) return;
  room.lastTypingSent = now;
  state.client?.notify("typing", { room: room.slug });
}

function onTyping(ev) {
  const room = state.rooms.get(ev.room);
  if (!room || !ev.handle || state.blocked.has(ev.handle) || ev.handle === state.user?.handle) return;
  room.typing.set(ev.handle, Date.now() + TYPING_SHOW_FOR);
  renderTyping(room);
}

function renderTyping(room) {
  const now = Date.now();
  for (const [who, until] of room.typing) if (until <= now) room.typing.delete(who);
  const names = [...room.typing.keys()];
  room.typingEl.textContent = names.length === 0 ? ""
    : names.length === 1 ? `${names[0]} is typing…`
    : names.length === 2 ? `${names[0]} and ${names[1]} are typing…`
    : "Several people are typing…";
  clearTimeout(room.typingTimer);
  if (names.length) {
    const next = Math.min(...room.typing.values()) - now;
    room.typingTimer = setTimeout(() => renderTyping(room), Math.max(50, next));
  }
}

// ---------------------------------------------------------------- report / block

let dialogTarget = null;

function openMessageDialog(room, msg, opener) {
  const dlg = $("#msg-dialog");
  dialogTarget = { room, msg, opener };
  const who = msg.from?.handle || "someone";
  $("#msg-dialog-title").textContent = `Message from ${who}`;
  $("#msg-dialog-quote").textContent = msg.cw ? `Content note: ${msg.cw}` : String(msg.text).slice(0, 280);
  $("#report-reason").value = "";
  $("#report-note").value = "";
  $("#block-btn").textContent = `Block ${who}`;
  dlg.showModal();
  $("#report-reason").focus();
}

function closeMessageDialog() {
  $("#msg-dialog").close();
}

function setupDialog() {
  const dlg = $("#msg-dialog");
  dlg.addEventListener("close", () => {
    const opener = dialogTarget?.opener;
    if (opener?.isConnected) opener.focus();
    else if (dialogTarget?.room) dialogTarget.room.input.focus();
  });
  $("#dialog-cancel").addEventListener("click", closeMessageDialog);
  $("#report-btn").addEventListener("click", async () => {
    const { room, msg } = dialogTarget || {};
    if (!room) return;
    const reason = [$("#report-reason").value, $("#report-note").value.trim()].filter(Boolean).join(": ");
    const args = { room: room.slug, id: msg.id };
    if (reason) args.reason = reason.slice(0, 500);
    closeMessageDialog();
    try {
      await state.client.request("report", args);
      addNotice(room, { level: "info", text: "Thanks. Moderators will look at that message." });
    } catch (err) {
      addNotice(room, { level: "warn", text: `Report not sent: ${errorText(err)}` });
    }
  });
  $("#block-btn").addEventListener("click", async () => {
    const { room, msg } = dialogTarget || {};
    if (!room) return;
    const handle = msg.from?.handle;
    closeMessageDialog();
    try {
      await state.client.request("block", { handle });
      state.blocked.add(handle);
      for (const r of state.rooms.values()) {
        for (const [id, li] of r.ids) if (li.dataset.from === handle && !li.classList.contains("own")) { li.remove(); r.ids.delete(id); r.removed.add(id); }
      }
      addNotice(room, { level: "info", text: `You blocked ${handle}. You won't see their messages.` });
    } catch (err) {
      addNotice(room, { level: "warn", text: `Couldn't block: ${errorText(err)}` });
    }
  });
}

// ---------------------------------------------------------------- support, notices

function onSupport(ev) {
  // Full width above the rooms, whatever room it came from: on a phone the
  // card must not be squeezed into the conversation pane.
  const slot = $("#global-support");
  clear(slot);
  const card = supportCard(ev, { onDismiss: dismissCard });
  slot.append(card);
  card.focus({ preventScroll: true });
  card.scrollIntoView({ block: "start" });
}

function noticeResources(ev) {
  // e.g. the "no moderator online" notice carries the local emergency number.
  return (ev.resources || []).filter((r) => r && r.phone).map((r) =>
    h("span", { class: "notice-resource" }, " ", `${r.name || "Emergency"}: `,
      h("a", { href: telHref(r.phone) }, r.phone)));
}

function addNotice(room, ev) {
  // The role goes on an inner element: a list item must stay a list item.
  const body = h("div", { role: ev.level === "warn" ? "alert" : null }, ev.text || "",
    ...noticeResources(ev));
  const li = h("li", { class: `notice ${ev.level === "warn" ? "warn" : "info"}` }, body);
  room.list.append(li);
  if (nearBottom(room) || true) scrollToBottom(room);
  if (ev.level !== "warn") announce(ev.text || "");
}

function globalNotice(ev) {
  const box = $("#global-notices");
  const p = h("div", { class: `notice ${ev.level === "warn" ? "warn" : "info"}`, role: ev.level === "warn" ? "alert" : "status" },
    h("p", {}, ev.code === "checkin" || ev.code === "mod.checkin" ? "A message from the moderators: " : "", ev.text || ""),
    h("button", { type: "button", class: "btn btn-quiet btn-small", onclick: (e) => e.currentTarget.parentElement.remove() }, "Dismiss"));
  box.append(p);
}

function onNotice(ev) {
  const room = ev.room ? state.rooms.get(ev.room) : null;
  if (room && state.active === ev.room) addNotice(room, ev);
  else if (room) { addNotice(room, ev); globalNotice({ ...ev, text: `${room.info.title || ev.room}: ${ev.text}` }); }
  else globalNotice(ev);
}

// ---------------------------------------------------------------- boot

async function boot() {
  setupIntro();
  setupAuth();
  setupDialog();
  $("#help-btn").addEventListener("click", showHelp);
  $("#retry-btn").addEventListener("click", () => state.client?.retryNow());
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.client?.state === "reconnecting") state.client.retryNow();
  });
  const token = session.get(TOKEN_KEY);
  if (token) { startChat({}); return; }
  // A session cookie from an earlier visit still works: use it without asking.
  const me = storage.get(ACCOUNT_KEY) === "1" ? await api("GET", "/api/me") : { ok: false };
  if (me.ok && me.body?.user) { session.set(KIND_KEY, "cookie"); startChat({}); return; }
  showView("auth");
}

boot();
