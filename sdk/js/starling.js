// Starling browser SDK: a dependency-free ES module.
//
//   import { Starling } from "/sdk/starling.js";
//   const starling = new Starling({ endpoint: "https://recs.example.com", key: "pk_…", user: "u42", item: "dune" });
//   starling.track("like", "dune");
//
// Events are queued in memory and in localStorage (so a reload or a crash of the tab loses nothing), sent in batches
// (by size and by time) as simple cross-origin requests (a text/plain JSON envelope, the key as a query parameter:
// no preflight), retried with exponential backoff and jitter (honouring Retry-After), and sent with
// navigator.sendBeacon when the page is hidden or left. Every event carries an id, so the server counts an event sent
// twice (a retry after a lost answer, a beacon followed by the next page's send) once.

const DEFAULTS = {
  batchSize: 20, // events per request (≤ 10,000)
  flushInterval: 2000, // ms between sends of a partial batch
  maxQueue: 1000, // events kept at most; the oldest are dropped beyond (counted in stats().dropped)
  initialBackoff: 500, // ms before the first retry; doubles up to maxBackoff, ±50 % jitter
  maxBackoff: 30000,
  sessionTimeout: 30 * 60 * 1000, // ms of inactivity that end a session
  storagePrefix: "starling.",
  autoView: true, // a view of options.item when the SDK starts
  autoDwell: true, // a dwell event (visible seconds) for options.item when the page is hidden
  autoScroll: true, // a scroll event (deepest fraction of the page seen) for options.item when the page is hidden
};

function newId() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Starling {
  constructor(options) {
    if (!options || !options.endpoint) throw new Error("Starling: options.endpoint is required");
    this.options = { ...DEFAULTS, ...options };
    this.endpoint = this.options.endpoint.replace(/\/+$/, "");
    this.storage = safeStorage();
    this.queueKey = this.options.storagePrefix + "queue";
    this.queue = this.load();
    this.inFlight = new Set(); // ids of events in a request not yet answered
    this.counters = { requests: 0, acknowledged: 0, duplicates: 0, rejected: 0, dropped: 0, beacons: 0 };
    this.backoff = this.options.initialBackoff;
    this.retryAt = 0;
    this.persistScheduled = false;
    this.user = this.options.user || this.anonymousId();
    this.visibleSince = document.visibilityState === "visible" ? performance.now() : null;
    this.visibleMs = 0;
    this.maxScroll = 0;
    this.observed = new Map(); // element → { item, visibleSince, visibleMs }
    this.timer = setInterval(() => this.flush(), this.options.flushInterval);
    this.listen();
    if (this.options.item && this.options.autoView) this.track("view", this.options.item);
    if (this.queue.length > 0) this.flush();
  }

  /// Queues one event: `properties` may hold value, context, session, timestamp (ms or RFC 3339), id.
  track(type, item, properties = {}) {
    const event = {
      id: properties.id || newId(),
      type,
      user: properties.user || this.user,
      timestamp: properties.timestamp || Date.now(),
      session: properties.session || this.session(),
    };
    if (item !== undefined && item !== null) event.item = String(item);
    if (properties.value !== undefined) event.value = properties.value;
    if (properties.context !== undefined) event.context = properties.context;
    this.queue.push(event);
    if (this.queue.length > this.options.maxQueue) {
      const excess = this.queue.length - this.options.maxQueue;
      this.queue.splice(0, excess);
      this.counters.dropped += excess;
    }
    this.schedulePersist();
    if (this.queue.length - this.inFlight.size >= this.options.batchSize) this.flush();
    return event.id;
  }

  /// Sets the user of the events tracked from now on (after a sign-in, for example).
  identify(user) {
    this.user = String(user);
  }

  /// Events queued and not yet acknowledged.
  pending() {
    return this.queue.length;
  }

  stats() {
    return { ...this.counters, pending: this.queue.length, inFlight: this.inFlight.size };
  }

  /// Measures how long `element` is at least half visible while the page is visible, and sends it as a dwell
  /// event for `item` when the page is hidden.
  observe(element, item) {
    if (!("IntersectionObserver" in globalThis)) return;
    if (!this.intersections) {
      this.intersections = new IntersectionObserver(
        (entries) => {
          const now = performance.now();
          for (const entry of entries) {
            const state = this.observed.get(entry.target);
            if (!state) continue;
            if (entry.intersectionRatio >= 0.5 && state.visibleSince === null) state.visibleSince = now;
            if (entry.intersectionRatio < 0.5 && state.visibleSince !== null) {
              state.visibleMs += now - state.visibleSince;
              state.visibleSince = null;
            }
          }
        },
        { threshold: [0, 0.5, 1] }
      );
    }
    this.observed.set(element, { item: String(item), visibleSince: null, visibleMs: 0 });
    this.intersections.observe(element);
  }

  /// Sends what is queued (one request per batch; only one request at a time).
  flush() {
    if (this.sending || Date.now() < this.retryAt) return this.sending || Promise.resolve();
    const batch = this.queue.filter((event) => !this.inFlight.has(event.id)).slice(0, this.options.batchSize);
    if (batch.length === 0) return Promise.resolve();
    for (const event of batch) this.inFlight.add(event.id);
    this.counters.requests += 1;
    this.sending = fetch(this.eventsURL(), {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ events: batch }),
      keepalive: true,
    })
      .then(async (response) => {
        if (response.status === 200) {
          const result = await response.json();
          this.counters.acknowledged += batch.length - result.rejected.length;
          this.counters.rejected += result.rejected.length;
          this.counters.duplicates += result.duplicates;
          if (result.rejected.length > 0 && this.options.onRejected) {
            this.options.onRejected(result.rejected.map((r) => ({ event: batch[r.index], reason: r.error })));
          }
          this.forget(batch);
          this.backoff = this.options.initialBackoff;
          return true;
        }
        if (response.status === 400 || response.status === 413 || response.status === 415) {
          // The batch as a whole is unreadable to the server: sending it again cannot help.
          const body = await response.json().catch(() => ({}));
          if (this.options.onRejected) this.options.onRejected(batch.map((event) => ({ event, reason: body.error })));
          this.forget(batch);
          return true;
        }
        this.scheduleRetry(Number(response.headers.get("Retry-After")) * 1000 || 0);
        return false;
      })
      .catch(() => {
        // No answer (server down, network gone, or a CORS refusal): the events stay queued and go again.
        this.scheduleRetry(0);
        return false;
      })
      .finally(() => {
        for (const event of batch) this.inFlight.delete(event.id);
        this.sending = null;
        if (this.queue.length >= this.options.batchSize && Date.now() >= this.retryAt) this.flush();
      });
    return this.sending;
  }

  /// The user's recommendations. Needs a secret key on a server with keys: call it from trusted code (a server
  /// rendering the page, an internal tool), never with a key embedded in a public page.
  async recommendations(user = this.user, { count = 10, secretKey } = {}) {
    const url = `${this.endpoint}/v1/users/${encodeURIComponent(user)}/recommendations?count=${count}`;
    const headers = secretKey ? { Authorization: `Bearer ${secretKey}` } : {};
    const response = await fetch(url, { headers });
    const body = await response.json();
    if (!response.ok) throw new Error(`Starling: ${response.status}: ${body.error}`);
    return body.items;
  }

  // MARK: - Internals

  eventsURL() {
    return this.options.key
      ? `${this.endpoint}/v1/events?key=${encodeURIComponent(this.options.key)}`
      : `${this.endpoint}/v1/events`;
  }

  forget(batch) {
    const sent = new Set(batch.map((event) => event.id));
    this.queue = this.queue.filter((event) => !sent.has(event.id));
    this.persist();
  }

  scheduleRetry(retryAfterMs) {
    const jittered = this.backoff * (0.5 + Math.random());
    this.retryAt = Date.now() + Math.max(retryAfterMs, jittered);
    this.backoff = Math.min(this.backoff * 2, this.options.maxBackoff);
    setTimeout(() => this.flush(), this.retryAt - Date.now());
  }

  /// The session id: kept in memory, stored with the queue; a new one after sessionTimeout of inactivity.
  session() {
    const now = Date.now();
    if (!this.sessionState) {
      try {
        this.sessionState = JSON.parse(this.storage.getItem(this.options.storagePrefix + "session") || "null");
      } catch (_) {}
    }
    if (!this.sessionState || now - this.sessionState.last > this.options.sessionTimeout) {
      this.sessionState = { id: newId(), last: now };
    }
    this.sessionState.last = now;
    return this.sessionState.id;
  }

  anonymousId() {
    const key = this.options.storagePrefix + "anonymous_id";
    let id = this.storage.getItem(key);
    if (!id) {
      id = "anon-" + newId();
      this.storage.setItem(key, id);
    }
    return id;
  }

  load() {
    try {
      const queue = JSON.parse(this.storage.getItem(this.queueKey) || "[]");
      return Array.isArray(queue) ? queue : [];
    } catch (_) {
      return [];
    }
  }

  /// Writes the queue once per task, not once per event: track() stays cheap.
  schedulePersist() {
    if (this.persistScheduled) return;
    this.persistScheduled = true;
    setTimeout(() => this.persist(), 0);
  }

  persist() {
    this.persistScheduled = false;
    try {
      this.storage.setItem(this.queueKey, JSON.stringify(this.queue));
      if (this.sessionState) {
        this.storage.setItem(this.options.storagePrefix + "session", JSON.stringify(this.sessionState));
      }
    } catch (_) {
      // Storage full or disabled: the queue lives in memory only.
    }
  }

  listen() {
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.pageHidden();
      else this.pageShown();
    });
    addEventListener("pagehide", () => this.pageHidden());
    addEventListener(
      "scroll",
      () => {
        const scrollable = document.documentElement.scrollHeight - innerHeight;
        const depth = scrollable > 0 ? Math.min(1, scrollY / scrollable) : 1;
        if (depth > this.maxScroll) this.maxScroll = depth;
      },
      { passive: true }
    );
  }

  pageShown() {
    this.visibleSince = performance.now();
    for (const state of this.observed.values()) state.visibleMs = 0;
  }

  /// The page is hidden or left: dwell and scroll for the page's item, then everything queued goes by beacon.
  pageHidden() {
    if (this.hiddenHandled) return;
    this.hiddenHandled = true;
    setTimeout(() => (this.hiddenHandled = false), 0);
    const now = performance.now();
    const item = this.options.item;
    if (this.visibleSince !== null) {
      this.visibleMs += now - this.visibleSince;
      this.visibleSince = null;
    }
    if (item && this.options.autoDwell && this.visibleMs >= 1000) {
      this.track("dwell", item, { value: Math.round(this.visibleMs / 100) / 10 });
      this.visibleMs = 0;
    }
    if (item && this.options.autoScroll && this.maxScroll > 0) {
      this.track("scroll", item, { value: Math.round(this.maxScroll * 100) / 100 });
    }
    for (const state of this.observed.values()) {
      if (state.visibleSince !== null) {
        state.visibleMs += now - state.visibleSince;
        state.visibleSince = now;
      }
      if (state.visibleMs >= 1000) {
        this.track("dwell", state.item, { value: Math.round(state.visibleMs / 100) / 10 });
        state.visibleMs = 0;
      }
    }
    this.persist();
    this.beacon();
  }

  /// Sends the queue by navigator.sendBeacon. The events stay queued: the next page sends them again unless it
  /// learns they were acknowledged, and their ids keep the server from counting them twice.
  beacon() {
    if (!navigator.sendBeacon || this.queue.length === 0) return;
    for (let start = 0; start < this.queue.length; start += this.options.batchSize) {
      const batch = this.queue.slice(start, start + this.options.batchSize);
      if (navigator.sendBeacon(this.eventsURL(), JSON.stringify({ events: batch }))) this.counters.beacons += 1;
    }
  }
}

function safeStorage() {
  try {
    const storage = globalThis.localStorage;
    const probe = "starling.probe";
    storage.setItem(probe, "1");
    storage.removeItem(probe);
    return storage;
  } catch (_) {
    const memory = new Map();
    return {
      getItem: (key) => (memory.has(key) ? memory.get(key) : null),
      setItem: (key, value) => memory.set(key, String(value)),
      removeItem: (key) => memory.delete(key),
    };
  }
}
