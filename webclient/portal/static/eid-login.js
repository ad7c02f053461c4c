// eID login and linking: challenge from the portal, the card signs it through the bridge,
// the portal checks the token. Texts come translated from the page (data-text-*); the
// bridge's errors carry their own translated messages.
import * as eid from "/js/eid-bridge.js";

const root = document.getElementById("eid-flow");
const button = document.getElementById("eid-start");
const message = document.getElementById("eid-message");
const links = document.getElementById("eid-links");
const lang = document.documentElement.lang;
const texts = root.dataset;

// Developers and tests run the bridge on another port: ?bridgePort=NNNNN (only ever 127.0.0.1).
const port = Number(new URLSearchParams(location.search).get("bridgePort")) || undefined;
eid.configure({ port, lang, helpUrl: texts.helpUrl });

function show(text, kind = "info") {
  message.textContent = text;
  message.className = `flash ${kind}`;
}

function offer(items) {
  links.replaceChildren();
  for (const [href, label] of items) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    links.append(a, " ");
  }
  links.hidden = items.length === 0;
}

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

class ServerError extends Error {
  constructor(status, body) {
    super(body?.error?.message || texts.textServer);
    this.status = status;
    this.code = body?.error?.code || `HTTP_${status}`;
    this.links = body?.error?.links || {};
  }
}

async function call(url, init) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", ...init });
  } catch {
    throw new ServerError(0, null);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw new ServerError(response.status, body);
  return body;
}

async function run() {
  button.disabled = true;
  offer([]);
  show(texts.textWorking);
  try {
    const { nonce } = await call(texts.challenge, { headers: { Accept: "application/json" } });
    const authToken = await eid.authenticate(nonce, { lang });
    const answer = await call(texts.submit, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": csrfToken(),
      },
      body: JSON.stringify({ authToken, nonce, next: texts.next }),
    });
    if (answer.message) show(answer.message, "success");
    window.location.assign(answer.redirect || "/");
    return { ok: true, ...answer };
  } catch (error) {
    const found = [];
    if (error instanceof eid.BridgeError) {
      if (error instanceof eid.BridgeUnavailableError) found.push([error.helpUrl, texts.textHelp]);
      else found.push([texts.helpUrl, texts.textHelp]);
    } else if (error instanceof ServerError) {
      const targets = error.links;
      for (const key of Object.keys(targets)) {
        if (typeof targets[key] === "string" && targets[key].startsWith("/")) {
          const label = texts[`text${key[0].toUpperCase()}${key.slice(1)}`] || key;
          found.push([targets[key], label]);
        }
      }
    }
    show(error.message || String(error), "error");
    offer(found);
    return { ok: false, code: error.code, message: error.message };
  } finally {
    button.disabled = false;
  }
}

button.addEventListener("click", run);
window.eidFlow = { run };
