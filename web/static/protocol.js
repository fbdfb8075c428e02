// peerchat.v1 client shared by the chat page and the moderator console.
// Plain ES module, no dependencies. See docs / PROTOCOL.md for the wire contract.

export const SUBPROTOCOL = "peerchat.v1";

/** Error raised for an `ok: false` reply, a dropped connection or a timeout. */
export class ProtocolError extends Error {
  constructor(code, message, retryAfter) {
    super(message || code);
    this.name = "ProtocolError";
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Default WebSocket URL: same origin as the page, path /ws. */
export function defaultWsUrl(loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/ws`;
}

/** JSON over fetch for /api/*. Resolves {status, ok, body}; never throws on HTTP errors. */
export async function api(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    return { status: 0, ok: false, body: { error: { code: "network", message: "Network unavailable" } } };
  }
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch { data = null; }
  }
  return { status: res.status, ok: res.ok, body: data };
}

/** Exponential backoff with full jitter: 0.5 s, 1 s, 2 s ... capped at 30 s, randomised 50-100 %. */
export function backoffDelay(attempt, base = 500, cap = 30000, rand = Math.random) {
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + rand() * (ceiling / 2));
}

// Close codes after which the client resumes on its own (anything not listed
// below as final also reconnects: 1006 abnormal, 1011 internal error ...).
const FINAL_CLOSES = new Set([1000, 1008, 4001, 4029, 1009]);

/**
 * PeerClient: one WebSocket, `hello` first, request/reply by `ref`, events,
 * automatic reconnect.
 *
 * Events (subscribe with on(name, fn)):
 *   "state"   {state, attempt?, delay?, code?}  state: connecting | open | reconnecting | banned | unauthorized | closed
 *   "ready"   hello result (after every successful hello, including reconnects)
 *   "<type>"  every server event by its `type` (message, retract, presence, typing, support, notice, flag, flag_update)
 *   "*"       every server event
 */
export class PeerClient {
  constructor({ url = defaultWsUrl(), helloArgs = () => ({}), requestTimeout = 15000 } = {}) {
    this.url = url;
    this.helloArgs = helloArgs;
    this.requestTimeout = requestTimeout;
    this.ws = null;
    this.state = "idle";
    this.attempt = 0;
    this.user = null;
    this.helloResult = null;
    this._refSeq = 0;
    this._pending = new Map();
    this._handlers = new Map();
    this._timer = null;
    this._heartbeat = null;
    this._stopped = false;
    this._onOnline = () => {
      if (this.state === "reconnecting") this._connectNow();
    };
  }

  on(type, fn) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(fn);
    return () => this._handlers.get(type).delete(fn);
  }

  _emit(type, payload) {
    for (const fn of this._handlers.get(type) || []) {
      try { fn(payload); } catch (err) { console.error(err); }
    }
  }

  _setState(state, extra = {}) {
    this.state = state;
    this._emit("state", { state, ...extra });
  }

  start() {
    this._stopped = false;
    window.addEventListener("online", this._onOnline);
    this._open();
  }

  /** Close for good (log out, leave page). */
  stop() {
    this._stopped = true;
    window.removeEventListener("online", this._onOnline);
    clearTimeout(this._timer);
    this._stopHeartbeat();
    if (this.ws) {
      try { this.ws.close(1000, "bye"); } catch { /* ignore */ }
    }
    this.ws = null;
    this._failPending("closed", "Connection closed");
    this._setState("closed");
  }

  _open() {
    clearTimeout(this._timer);
    this._setState(this.attempt === 0 ? "connecting" : "reconnecting", { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url, [SUBPROTOCOL]);
    } catch {
      this._scheduleReconnect(1006);
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => this._onOpen(ws));
    ws.addEventListener("message", (ev) => this._onFrame(ws, ev));
    ws.addEventListener("close", (ev) => this._onClose(ws, ev));
  }

  async _onOpen(ws) {
    if (ws !== this.ws) return;
    try {
      const result = await this.request("hello", this.helloArgs() || {});
      if (ws !== this.ws) return;
      this.user = result.user;
      this.helloResult = result;
      this.attempt = 0;
      this._startHeartbeat(result.heartbeat);
      this._setState("open");
      this._emit("ready", result);
    } catch (err) {
      if (ws !== this.ws) return;
      if (err.code === "banned") this._final("banned", 1008);
      else if (err.code === "unauthorized") this._final("unauthorized", 4001);
      // anything else: the close handler decides.
    }
  }

  _onFrame(ws, ev) {
    if (ws !== this.ws || typeof ev.data !== "string") return;
    let frame;
    try { frame = JSON.parse(ev.data); } catch { return; }
    if (!frame || typeof frame !== "object") return;
    this._lastSeen = Date.now();
    if (frame.type === "reply") {
      const p = this._pending.get(frame.ref);
      if (!p) return;
      this._pending.delete(frame.ref);
      clearTimeout(p.timer);
      if (frame.ok) p.resolve(frame);
      else {
        const e = frame.error || {};
        p.reject(new ProtocolError(e.code || "error", e.message, e.retry_after));
      }
      return;
    }
    if (typeof frame.type === "string") {
      this._emit(frame.type, frame);
      this._emit("*", frame);
    }
  }

  _onClose(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    this._stopHeartbeat();
    this._failPending("disconnected", "Connection lost");
    if (this._stopped) return;
    const code = ev.code;
    if (code === 1008) return this._final("banned", code);
    if (code === 4001) return this._final("unauthorized", code);
    if (FINAL_CLOSES.has(code) && code !== 1000) return this._final("closed", code);
    // 1000 from the server without our stop() is treated as a drop too.
    this._scheduleReconnect(code);
  }

  _final(state, code) {
    this._stopped = true;
    clearTimeout(this._timer);
    this._stopHeartbeat();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      try { ws.close(); } catch { /* ignore */ }
    }
    this._failPending("closed", "Connection closed");
    this._setState(state, { code });
  }

  _scheduleReconnect(code) {
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this._setState("reconnecting", { attempt: this.attempt, delay, code });
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._open(), delay);
  }

  _connectNow() {
    clearTimeout(this._timer);
    this._open();
  }

  /** Try again immediately (e.g. a "Retry now" button). */
  retryNow() {
    if (this.state === "reconnecting" && !this.ws) this._connectNow();
  }

  _failPending(code, message) {
    for (const [, p] of this._pending) {
      clearTimeout(p.timer);
      p.reject(new ProtocolError(code, message));
    }
    this._pending.clear();
  }

  /** Send an op and resolve with the reply (ok: true) or reject with ProtocolError. */
  request(op, args = {}, { timeout = this.requestTimeout } = {}) {
    return new Promise((resolve, reject) => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        reject(new ProtocolError("disconnected", "Not connected"));
        return;
      }
      this._refSeq += 1;
      const ref = `r${this._refSeq}`;
      const timer = setTimeout(() => {
        if (this._pending.delete(ref)) reject(new ProtocolError("timeout", "No reply from the server"));
      }, timeout);
      this._pending.set(ref, { resolve, reject, timer });
      try {
        ws.send(JSON.stringify({ ...args, op, ref }));
      } catch {
        clearTimeout(timer);
        this._pending.delete(ref);
        reject(new ProtocolError("disconnected", "Not connected"));
      }
    });
  }

  /** Fire-and-forget op without a ref (typing). Returns false when not connected. */
  notify(op, args = {}) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.state !== "open") return false;
    try { ws.send(JSON.stringify({ ...args, op })); return true; } catch { return false; }
  }

  // Application-level liveness check: phones often lose the network without
  // a close frame. If a `ping` gets no reply in time, drop and reconnect.
  _startHeartbeat(seconds) {
    this._stopHeartbeat();
    const every = Math.max(10, Math.min(Number(seconds) || 30, 120)) * 1000;
    this._heartbeat = setInterval(() => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      this.request("ping", {}, { timeout: every }).catch((err) => {
        if (err.code === "timeout" && ws === this.ws) {
          try { ws.close(4000, "heartbeat timeout"); } catch { /* ignore */ }
          // Some browsers delay the close event on a dead link: resume now.
          this._onClose(ws, { code: 1006 });
        }
      });
    }, every);
  }

  _stopHeartbeat() {
    clearInterval(this._heartbeat);
    this._heartbeat = null;
  }
}
