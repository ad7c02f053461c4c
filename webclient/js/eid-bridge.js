// eid-bridge.js: the browser library of the Belgian eID bridge (no dependencies, ES2020).
// API close to web-eid.js: authenticate(challengeNonce, options) → Web eID token,
// getSigningCertificate(options), sign(certificate, hash, hashFunction, label, options).
// Every failure is a BridgeError subclass carrying the bridge's stable `code`.

export const VERSION = "0.1.0";
export const API_MAJOR = "1";
export const DEFAULT_PORTS = [24801, 24802, 24803];
export const HELP_URL = "https://github.com/eid-bridge/eid-bridge/releases";

const defaults = {
  ports: DEFAULT_PORTS,
  baseUrl: undefined,
  port: undefined,
  lang: undefined,
  timeout: 190000, // the bridge's own deadline (180 s) answers first
  discoveryTimeout: 20000, // Chrome holds the request while its permission prompt is open
  requestAccess: true,
  helpUrl: HELP_URL,
};

/** Change the defaults of every later call (port, baseUrl, lang, helpUrl, timeout...). */
export function configure(options) {
  Object.assign(defaults, options || {});
  forget();
}

// --- errors -------------------------------------------------------------------------------

const T = {
  BRIDGE_UNAVAILABLE: [
    "The eID bridge is not installed or not running on this computer. Install it, or start it, then try again.",
    "Le pont eID n'est pas installé ou ne fonctionne pas sur cet ordinateur. Installez-le ou démarrez-le, puis réessayez.",
    "De eID-brug is niet geïnstalleerd of draait niet op deze computer. Installeer of start hem en probeer opnieuw.",
  ],
  LOCAL_NETWORK_ACCESS_DENIED: [
    "Your browser blocks this site from reaching the eID bridge. Allow 'local network access' in the site settings (padlock icon), then try again.",
    "Votre navigateur empêche ce site de joindre le pont eID. Autorisez l'« accès au réseau local » dans les paramètres du site (icône du cadenas), puis réessayez.",
    "Uw browser verhindert dat deze site de eID-brug bereikt. Sta 'toegang tot lokaal netwerk' toe in de site-instellingen (hangslotje) en probeer opnieuw.",
  ],
  VERSION_MISMATCH: [
    "The eID bridge on this computer is not compatible with this site. Update the eID bridge.",
    "Le pont eID de cet ordinateur n'est pas compatible avec ce site. Mettez le pont eID à jour.",
    "De eID-brug op deze computer is niet compatibel met deze site. Werk de eID-brug bij.",
  ],
  ORIGIN_NOT_ALLOWED: [
    "This site may not use your eID card. Allow it in the eID bridge, then try again.",
    "Ce site ne peut pas utiliser votre carte eID. Autorisez-le dans le pont eID, puis réessayez.",
    "Deze site mag uw eID-kaart niet gebruiken. Sta ze toe in de eID-brug en probeer opnieuw.",
  ],
  CLIENT_TIMEOUT: [
    "The eID bridge did not answer in time. Try again.",
    "Le pont eID n'a pas répondu à temps. Réessayez.",
    "De eID-brug antwoordde niet op tijd. Probeer opnieuw.",
  ],
  REQUEST_CANCELLED: [
    "The request was cancelled.",
    "La demande a été annulée.",
    "Het verzoek werd geannuleerd.",
  ],
};

function localMessages(code) {
  const [en, fr, nl] = T[code] || [code, code, code];
  return { en, fr, nl };
}

function pickLang(lang) {
  const l = String(lang || (typeof navigator !== "undefined" && navigator.language) || "en")
    .slice(0, 2)
    .toLowerCase();
  return l === "fr" || l === "nl" ? l : "en";
}

export class BridgeError extends Error {
  constructor(code, message, init = {}) {
    super(message || code, init.cause ? { cause: init.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.messages = init.messages || localMessages(code);
    this.details = init.details || {};
    this.status = init.status || 0;
  }
  /** The Web eID (web-eid.js) error code closest to this error. */
  get webEidCode() {
    return "ERR_WEBEID_NATIVE_FATAL";
  }
}
export class BridgeUnavailableError extends BridgeError {
  constructor(code, message, init = {}) {
    super(code, message, init);
    this.helpUrl = init.helpUrl || defaults.helpUrl;
  }
  get webEidCode() {
    return "ERR_WEBEID_EXTENSION_UNAVAILABLE";
  }
}
export class LocalNetworkAccessDeniedError extends BridgeUnavailableError {}
export class VersionMismatchError extends BridgeError {
  get webEidCode() {
    return "ERR_WEBEID_VERSION_MISMATCH";
  }
}
export class OriginNotAllowedError extends BridgeError {
  get webEidCode() {
    return "ERR_WEBEID_CONTEXT_INSECURE";
  }
}
export class UserCancelledError extends BridgeError {
  get webEidCode() {
    return "ERR_WEBEID_USER_CANCELLED";
  }
}
export class BridgeTimeoutError extends BridgeError {
  get webEidCode() {
    return "ERR_WEBEID_USER_TIMEOUT";
  }
}
export class PinError extends BridgeError {}
export class PinIncorrectError extends PinError {
  get triesLeft() {
    return this.details.triesLeft;
  }
}
export class PinBlockedError extends PinError {}
export class CardError extends BridgeError {}
export class CertificateRejectedError extends BridgeError {}
export class BusyError extends BridgeError {
  get retryAfter() {
    return this.details.retryAfter;
  }
}

const CLASSES = {
  ORIGIN_NOT_ALLOWED: OriginNotAllowedError,
  ORIGIN_REQUIRED: OriginNotAllowedError,
  PIN_CANCELLED: UserCancelledError,
  USER_DENIED: UserCancelledError,
  REQUEST_CANCELLED: UserCancelledError,
  REQUEST_TIMEOUT: BridgeTimeoutError,
  PIN_TIMEOUT: BridgeTimeoutError,
  CLIENT_TIMEOUT: BridgeTimeoutError,
  PIN_INCORRECT: PinIncorrectError,
  PIN_BLOCKED: PinBlockedError,
  NO_READER: CardError,
  READER_GONE: CardError,
  NO_CARD: CardError,
  UNSUPPORTED_CARD: CardError,
  PCSC_UNAVAILABLE: CardError,
  NO_CERTIFICATE: CardError,
  CERTIFICATE_NOT_ON_CARD: CardError,
  CERTIFICATE_REJECTED: CertificateRejectedError,
  BUSY: BusyError,
  RATE_LIMITED: BusyError,
  BRIDGE_UNAVAILABLE: BridgeUnavailableError,
  LOCAL_NETWORK_ACCESS_DENIED: LocalNetworkAccessDeniedError,
  VERSION_MISMATCH: VersionMismatchError,
};

function classFor(code) {
  return (
    CLASSES[code] ||
    (code.startsWith("PIN_") ? PinError : code.startsWith("CARD_") ? CardError : BridgeError)
  );
}

/** Build the error of a code, either from the bridge's error JSON or from our own texts. */
export function errorFrom(code, init = {}) {
  const messages = init.messages || localMessages(code);
  const Cls = init.as || classFor(code);
  return new Cls(code, init.message || messages[pickLang(init.lang)] || messages.en, {
    ...init,
    messages,
  });
}

// --- transport ----------------------------------------------------------------------------

function opts(options) {
  const o = { ...defaults, ...(options || {}) };
  // web-eid.js calls it userInteractionTimeout
  if (o.userInteractionTimeout && !(options && options.timeout)) {
    o.timeout = o.userInteractionTimeout;
  }
  return o;
}

function abortable(o, ms) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort("timeout"), ms);
  const outer = o.signal;
  const relay = () => ctl.abort("cancelled");
  if (outer) {
    if (outer.aborted) relay();
    else outer.addEventListener("abort", relay, { once: true });
  }
  return {
    signal: ctl.signal,
    done() {
      clearTimeout(timer);
      if (outer) outer.removeEventListener("abort", relay);
    },
  };
}

class NetworkFailure extends Error {}

async function rawFetch(url, init, o, ms) {
  const a = abortable(o, ms);
  try {
    return await fetch(url, { ...init, signal: a.signal, credentials: "omit", cache: "no-store" });
  } catch (e) {
    if (a.signal.aborted) {
      const timedOut = a.signal.reason === "timeout";
      throw errorFrom(timedOut ? "CLIENT_TIMEOUT" : "REQUEST_CANCELLED", { lang: o.lang, cause: e });
    }
    throw new NetworkFailure(String(e), { cause: e });
  } finally {
    a.done();
  }
}

async function readError(response, o) {
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    /* not JSON */
  }
  const e = body && body.error;
  if (e && typeof e.code === "string") {
    return errorFrom(e.code, {
      message: e.message,
      messages: e.messages,
      details: e.details,
      status: response.status,
      lang: o.lang,
    });
  }
  return errorFrom("HTTP_" + response.status, { status: response.status, lang: o.lang });
}

function headers(o, json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  if (o.lang) h["Accept-Language"] = pickLang(o.lang);
  return h;
}

// --- discovery ----------------------------------------------------------------------------

let found = null; // {key, promise}

/** Forget the bridge found earlier (the next call looks for it again). */
export function forget() {
  found = null;
}

function candidates(o) {
  if (o.baseUrl) return [String(o.baseUrl).replace(/\/+$/, "")];
  const ports = o.port ? [o.port] : o.ports;
  return ports.map((p) => `http://127.0.0.1:${p}`);
}

async function lnaDenied() {
  try {
    for (const name of ["loopback-network", "local-network-access", "local-network"]) {
      try {
        const s = await navigator.permissions.query({ name });
        if (s.state === "denied") return true;
      } catch (_) {
        /* this browser does not know the name */
      }
    }
  } catch (_) {
    /* no permissions API */
  }
  return false;
}

async function hello(base, o) {
  const r = await rawFetch(base + "/v1/hello", { headers: headers(o) }, o, o.discoveryTimeout);
  if (!r.ok) throw await readError(r, o);
  const h = await r.json();
  if (!h || h.name !== "eid-bridge") throw new NetworkFailure("not the eID bridge");
  return h;
}

// Something answers on this address but the page may not read it: most likely the bridge
// refusing a site it does not know yet (its answer has no CORS headers).
async function answers(base, o) {
  try {
    await rawFetch(base + "/v1/hello", { mode: "no-cors" }, o, o.discoveryTimeout);
    return true;
  } catch (e) {
    if (e instanceof BridgeError) throw e;
    return false;
  }
}

/** Ask the user, in the bridge's own dialog, to allow this site. Resolves true when allowed. */
export async function requestAccess(options) {
  const o = opts(options);
  for (const base of candidates(o)) {
    let r;
    try {
      r = await rawFetch(
        base + "/v1/origins",
        { method: "POST", headers: headers(o, true), body: "{}" },
        o,
        o.timeout,
      );
    } catch (e) {
      if (e instanceof NetworkFailure) continue;
      throw e;
    }
    if (r.ok) return true;
    const err = await readError(r, o);
    if (err.code === "USER_DENIED") {
      throw errorFrom("USER_DENIED", { ...err, message: err.message, as: OriginNotAllowedError });
    }
    throw err;
  }
  throw await unavailable(o);
}

async function unavailable(o) {
  const code = (await lnaDenied()) ? "LOCAL_NETWORK_ACCESS_DENIED" : "BRIDGE_UNAVAILABLE";
  return errorFrom(code, { lang: o.lang, helpUrl: o.helpUrl });
}

async function probe(base, o) {
  try {
    return { base, hello: await hello(base, o) };
  } catch (e) {
    if (e instanceof BridgeError) throw e;
    return { base, hello: null, listening: await answers(base, o) };
  }
}

async function find(o) {
  const results = await Promise.all(candidates(o).map((b) => probe(b, o)));
  let hit = results.find((r) => r.hello);
  if (!hit) {
    const shy = results.find((r) => r.listening);
    if (!shy) throw await unavailable(o);
    if (!o.requestAccess) throw errorFrom("ORIGIN_NOT_ALLOWED", { lang: o.lang });
    await requestAccess({ ...o, baseUrl: shy.base });
    hit = await probe(shy.base, o);
    if (!hit.hello) throw errorFrom("ORIGIN_NOT_ALLOWED", { lang: o.lang });
  }
  const api = String(hit.hello.apiVersion || "");
  if (api.split(".")[0] !== API_MAJOR) {
    throw errorFrom("VERSION_MISMATCH", {
      lang: o.lang,
      details: { bridge: hit.hello.version, apiVersion: api, library: VERSION },
    });
  }
  return { baseUrl: hit.base, ...hit.hello };
}

/** Find the bridge (default port, then fallbacks); cached until forget() or a failure. */
export function discover(options) {
  const o = opts(options);
  const key = candidates(o).join(" ") + o.requestAccess;
  if (!found || found.key !== key) {
    const promise = find(o);
    found = { key, promise };
    promise.catch(() => {
      if (found && found.promise === promise) found = null;
    });
  }
  return found.promise;
}

async function call(method, path, body, options) {
  const o = opts(options);
  for (let attempt = 0; ; attempt++) {
    const bridge = await discover(o);
    let r;
    try {
      const init = { method, headers: headers(o, body !== undefined) };
      if (body !== undefined) init.body = JSON.stringify(body);
      r = await rawFetch(bridge.baseUrl + path, init, o, o.timeout);
    } catch (e) {
      if (!(e instanceof NetworkFailure)) throw e;
      forget(); // the bridge restarted elsewhere, or stopped allowing this site
      if (attempt) throw await unavailable(o);
      continue;
    }
    if (r.ok) return r.json();
    const err = await readError(r, o);
    if (err.code === "ORIGIN_NOT_ALLOWED" && o.requestAccess && !attempt) {
      forget();
      await requestAccess(o);
      continue;
    }
    throw err;
  }
}

// --- base64 helpers -----------------------------------------------------------------------

function b64(value, name) {
  if (typeof value === "string" && value) return value;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    const bytes =
      value instanceof ArrayBuffer
        ? new Uint8Array(value)
        : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  }
  throw new TypeError(`${name} must be a base64 string or bytes`);
}

// --- the API --------------------------------------------------------------------------------

/** Bridge and reader status: versions, readers, card presence (no card access). */
export async function status(options) {
  const bridge = await discover(options);
  const s = await call("GET", "/v1/status", undefined, options);
  return {
    library: VERSION,
    bridge: bridge.version,
    apiVersion: bridge.apiVersion,
    baseUrl: bridge.baseUrl,
    capabilities: bridge.capabilities,
    ...s,
  };
}

/** Web eID authentication token (`web-eid:1.0`) bound to this page's origin and the nonce. */
export async function authenticate(challengeNonce, options) {
  if (typeof challengeNonce !== "string" || !challengeNonce) {
    throw new TypeError("challengeNonce must be the server's base64 nonce");
  }
  const r = await call("POST", "/v1/authenticate", { nonce: challengeNonce }, options);
  return r.token;
}

/** The signature certificate (base64 DER), its chain and the supported algorithms. */
export function getSigningCertificate(options) {
  return call("POST", "/v1/certificate", {}, options);
}

/**
 * Sign a hash. `label` (what is signed, shown in the bridge's PIN dialog) may be given as
 * the fourth argument or as `options.label` (web-eid.js style).
 */
export async function sign(certificate, hash, hashFunction, label, options) {
  if (label && typeof label === "object") {
    options = label;
    label = options.label;
  }
  if (typeof label !== "string" || !label.trim()) {
    throw new TypeError("sign() needs a label saying what is signed");
  }
  const body = {
    certificate: b64(certificate, "certificate"),
    hash: b64(hash, "hash"),
    hashFunction,
    label,
  };
  return call("POST", "/v1/sign", body, options);
}

/** Identity, address and photo of the card holder, after the user's consent. */
export function readIdentity(options) {
  return call("POST", "/v1/identity", {}, options);
}

/** Facts for the helpdesk; never throws (a failure is reported in the result). */
export async function diagnostics(options) {
  const o = { ...opts(options), requestAccess: false };
  const out = {
    library: VERSION,
    userAgent: typeof navigator !== "undefined" ? navigator.userAgent : "",
    origin: typeof location !== "undefined" ? location.origin : "",
    secureContext: typeof isSecureContext !== "undefined" ? isSecureContext : null,
    localNetworkAccessDenied: await lnaDenied(),
    candidates: candidates(o),
  };
  try {
    out.bridge = await call("GET", "/v1/diagnostics", undefined, o);
    out.baseUrl = (await discover(o)).baseUrl;
  } catch (e) {
    out.error = { name: e.name, code: e.code || "UNKNOWN", message: e.message };
  }
  return out;
}

/**
 * Card and reader events from the bridge's WebSocket: `hello` (the current state), then
 * `reader-added`, `reader-removed`, `card-inserted`, `card-removed`, `service-down`,
 * `service-up`; `bridge-down` when the connection is lost (it reconnects with back-off).
 * Returns the function that unsubscribes.
 */
export function onCardEvent(callback, options) {
  const o = opts({ requestAccess: false, ...(options || {}) }); // no dialog just to listen
  let ws = null;
  let timer = null;
  let stopped = false;
  let delay = 500;
  let up = false;
  const emit = (ev) => {
    try {
      callback(ev);
    } catch (e) {
      setTimeout(() => {
        throw e;
      });
    }
  };
  const retry = () => {
    if (stopped) return;
    timer = setTimeout(connect, delay);
    delay = Math.min(delay * 2, o.maxReconnectDelay || 30000);
  };
  async function connect() {
    timer = null;
    let bridge;
    try {
      bridge = await discover(o);
    } catch (e) {
      if (o.onError) o.onError(e);
      return retry();
    }
    if (stopped) return;
    ws = new WebSocket(bridge.baseUrl.replace(/^http/, "ws") + "/v1/events");
    ws.onmessage = (m) => {
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch (_) {
        return;
      }
      if (ev.type === "hello") {
        up = true;
        delay = 500;
      }
      emit(ev);
    };
    ws.onclose = () => {
      ws = null;
      if (stopped) return;
      forget();
      if (up) emit({ type: "bridge-down" });
      up = false;
      retry();
    };
  }
  connect();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    if (ws) ws.close();
  };
}

export default {
  VERSION,
  configure,
  discover,
  forget,
  requestAccess,
  status,
  authenticate,
  getSigningCertificate,
  sign,
  readIdentity,
  diagnostics,
  onCardEvent,
};
