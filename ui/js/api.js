// The hub's API as the signed-in person: every call carries their token.
const KEY = 'causeway.session';

export const session = {
  get() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    } catch {
      return null;
    }
  },
  set(s) {
    sessionStorage.setItem(KEY, JSON.stringify(s));
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? 'http_error';
  }
}

function headers(token, extra = {}) {
  return token ? { authorization: `Bearer ${token}`, ...extra } : extra;
}

/** Signs out when the hub no longer accepts the token (revoked, expired). */
let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

export async function api(path, { method = 'GET', body, token = session.get()?.token, raw = false } = {}) {
  const res = await fetch(path, {
    method,
    headers: headers(token, body !== undefined ? { 'content-type': 'application/json' } : {}),
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (raw && res.ok) return res;
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    if (res.status === 401 && path !== '/v1/me') onUnauthorized();
    throw new ApiError(res.status, json);
  }
  return json;
}

/** A query string from the set values of an object. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Downloads a file the API makes (CSV) with the token, as a browser download. */
export async function download(path, filename) {
  const res = await api(path, { raw: true });
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Reads a server-sent event stream with fetch(), which, unlike EventSource,
 * can send the Authorization header. Calls onEvent(name, data) for each
 * event; returns a function that stops it.
 */
export function stream(path, onEvent, onState = () => {}) {
  const controller = new AbortController();
  (async () => {
    let delay = 1000;
    while (!controller.signal.aborted) {
      try {
        const res = await fetch(path, { headers: headers(session.get()?.token, { accept: 'text/event-stream' }), signal: controller.signal });
        if (!res.ok || !res.body) throw new ApiError(res.status, null);
        onState('live');
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let name = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) name = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
            }
            if (data.length) onEvent(name, JSON.parse(data.join('\n')));
          }
        }
      } catch (e) {
        if (controller.signal.aborted) return;
        if (e instanceof ApiError && e.status === 401) return onUnauthorized();
      }
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  })();
  return () => controller.abort();
}
