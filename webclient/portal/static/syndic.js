// BCE ACP: the live deadline and representative rule on the form, large PDF uploads, and
// signing the request with the eID through the bridge on the review page. Texts come
// translated from the page (data-*); the bridge's errors carry their own translations.
import * as eid from "/js/eid-bridge.js";

const lang = document.documentElement.lang;

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

// -- the form -------------------------------------------------------------------------------

const form = document.getElementById("syndic-form");
if (form) {
  const decision = form.querySelector('[name="decision_date"]');
  const start = form.querySelector('[name="start_date"]');
  const box = document.getElementById("syndic-deadline");
  let asked = 0;
  async function showDeadline() {
    if (!decision?.value || !start?.value) return;
    const ticket = ++asked;
    const query = new URLSearchParams({ decision: decision.value, start: start.value });
    try {
      const response = await fetch(`${form.dataset.deadline}?${query}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const body = await response.json();
      if (ticket !== asked) return; // an older answer arriving late
      box.hidden = false;
      if (!response.ok) {
        box.textContent = body?.error?.message ?? "";
        box.className = "flash error";
        return;
      }
      box.textContent = body.text;
      box.className = body.late ? "flash error" : "flash info";
      box.dataset.due = body.due;
    } catch {
      // The deadline is shown again when the page is saved.
    }
  }
  decision?.addEventListener("change", showDeadline);
  start?.addEventListener("change", showDeadline);

  const ruleBox = document.getElementById("representative-rule");
  const rulesTexts = JSON.parse(document.getElementById("representative")?.dataset.rules || "{}");
  function syndicKind() {
    return form.querySelector('[name="syndic_kind"]:checked')?.value ?? "";
  }
  function refresh() {
    const kind = syndicKind();
    for (const part of form.querySelectorAll("[data-show-for]")) {
      part.hidden = kind !== "" && part.dataset.showFor !== kind;
    }
    if (!ruleBox) return;
    const named = form.querySelector('[name="representative_named"]')?.checked;
    const own = form.querySelector('[name="syndic_own_ipi"]')?.checked;
    const rule = kind !== "legal" ? "not_applicable"
      : named ? "named" : own ? "own_approval" : "must_give_authorised";
    ruleBox.textContent = rulesTexts[rule] ?? "";
  }
  form.addEventListener("change", refresh);
  refresh();

  // With a file chosen, send the form ourselves with the CSRF header: the server then
  // streams the upload (10 MB per PDF) instead of the 5 MB limit of a plain form post.
  form.addEventListener("submit", async (event) => {
    const files = [...form.querySelectorAll('input[type="file"]')].some((f) => f.files.length);
    if (!files) return;
    event.preventDefault();
    const data = new FormData(form, event.submitter);
    // form.action would be the "action" button (named fields shadow form properties).
    const response = await fetch(form.getAttribute("action"), {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken() },
    });
    if (response.redirected) {
      window.location.assign(response.url);
      return;
    }
    const html = await response.text();
    document.open();
    document.write(html);
    document.close();
  });
}

// -- signing ----------------------------------------------------------------------------------

const signing = document.getElementById("syndic-sign");
if (signing) {
  const texts = signing.dataset;
  const button = document.getElementById("sign-start");
  const message = document.getElementById("sign-message");
  const links = document.getElementById("sign-links");
  const port = Number(new URLSearchParams(location.search).get("bridgePort")) || undefined;
  eid.configure({ port, lang, helpUrl: texts.helpUrl });

  function show(text, kind = "info") {
    message.textContent = text;
    message.className = `flash ${kind}`;
  }

  function offer(href, label) {
    links.replaceChildren();
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = label;
      links.append(a);
    }
    links.hidden = !href;
  }

  async function post(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRF-Token": csrfToken(),
        },
        body: JSON.stringify(body),
      });
    } catch {
      throw Object.assign(new Error(texts.textServer), { server: true });
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch {
      answer = null;
    }
    if (!response.ok) {
      throw Object.assign(new Error(answer?.error?.message || texts.textServer), {
        server: true,
        topup: answer?.error?.topup,
      });
    }
    return answer;
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    offer(null);
    show(texts.textWorking);
    try {
      const { certificate, chain } = await eid.getSigningCertificate({ lang });
      const toSign = await post(texts.prepare, { certificate, chain });
      const { signature } = await eid.sign(certificate, toSign.hash, toSign.hashFunction, {
        label: toSign.label,
        lang,
      });
      const done = await post(texts.finish, { signature });
      show(done.message, "success");
      window.location.assign(done.redirect);
    } catch (error) {
      // Bridge errors explain themselves in the page's language; ours come translated.
      const text = error?.messages?.[lang] || error?.message || texts.textServer;
      show(text, "error");
      if (error?.topup) offer(error.topup, texts.textTopup);
      else if (error?.helpUrl) offer(error.helpUrl, error.helpUrl);
      button.disabled = false;
    }
  });
}
