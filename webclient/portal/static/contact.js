// The contact page's "Run the eID diagnostics" button: asks the bridge for its report through
// the browser library, shows what failed (with the remedy in the page's language) and puts the
// report and its support code in the form. When the bridge cannot be reached, what the page
// itself found out (unreachable, Local Network Access blocked, which browser) is sent instead,
// so the helpdesk still learns something. Texts come from the page (translated server-side).

import * as eid from "/js/eid-bridge.js";

const ORDER = { failed: 0, warning: 1, ok: 2, skipped: 3 };

function fill(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
}

/** "Chrome 126.0.6478.126 (Linux)", from User-Agent Client Hints when the browser has them. */
async function browserName() {
  const hints = navigator.userAgentData;
  if (hints && Array.isArray(hints.brands)) {
    let brands = hints.brands;
    try {
      const high = await hints.getHighEntropyValues(["fullVersionList", "platformVersion"]);
      if (Array.isArray(high.fullVersionList)) brands = high.fullVersionList;
    } catch (_) {
      // Low-entropy brands are enough.
    }
    const real = brands.filter((b) => !/not.?a.?brand/i.test(b.brand));
    const named = real.find((b) => b.brand !== "Chromium") || real[0];
    if (named) return `${named.brand} ${named.version}${hints.platform ? ` (${hints.platform})` : ""}`;
  }
  const ua = navigator.userAgent || "";
  const patterns = [
    [/Edg\/([\d.]+)/, "Edge"],
    [/OPR\/([\d.]+)/, "Opera"],
    [/Firefox\/([\d.]+)/, "Firefox"],
    [/Chrome\/([\d.]+)/, "Chrome"],
    [/Version\/([\d.]+).*Safari\//, "Safari"],
  ];
  for (const [pattern, name] of patterns) {
    const found = ua.match(pattern);
    if (found) return `${name} ${found[1]}`;
  }
  return ua.slice(0, 120);
}

function bridgeOptions(lang) {
  const options = { lang };
  // Lets the helpdesk (and the tests) point the page at a bridge on another port.
  const port = new URLSearchParams(location.search).get("bridgePort");
  if (port && /^\d{2,5}$/.test(port)) options.port = Number(port);
  return options;
}

function paragraph(text, className) {
  const p = document.createElement("p");
  p.textContent = text;
  if (className) p.className = className;
  return p;
}

function show(box, summary, report, pageFindings) {
  const messages = box.dataset;
  const lang = messages.lang || "fr";
  summary.replaceChildren();
  const page = report.page;
  if (!page.bridgeReached) {
    summary.append(paragraph(page.localNetworkAccessDenied ? messages.msgLna : messages.msgUnreachable,
                             "flash error"));
    if (page.error && page.error.message) summary.append(paragraph(page.error.message, "muted"));
  }
  const checks = [...pageFindings, ...(report.checks || [])];
  const failed = checks.filter((c) => c.status === "failed").length;
  const warnings = checks.filter((c) => c.status === "warning").length;
  if (page.bridgeReached) {
    summary.append(paragraph(failed || warnings ? fill(messages.msgCounts, { failed, warnings })
                                                : messages.msgAllOk,
                             failed ? "flash error" : warnings ? "flash" : "flash success"));
  }
  const shown = (report.checks || [])
    .filter((c) => c.status === "failed" || c.status === "warning")
    .sort((a, b) => ORDER[a.status] - ORDER[b.status]);
  if (shown.length) {
    const list = document.createElement("ul");
    list.className = "checks";
    for (const check of shown) {
      const item = document.createElement("li");
      item.className = check.status;
      item.dataset.check = check.id;
      const title = document.createElement("strong");
      title.textContent = check.id;
      item.append(title);
      const remedy = check.remedy && (check.remedy[lang] || check.remedy.en);
      item.append(document.createElement("br"), remedy || check.summary || "");
      list.append(item);
    }
    summary.append(list);
  }
  if (report.supportCode) {
    summary.append(paragraph(fill(messages.msgCode, { code: report.supportCode })));
  }
  summary.append(paragraph(messages.msgAttached, "muted"));
}

async function run(button, box) {
  const summary = document.getElementById("diagnostics-summary");
  button.disabled = true;
  summary.replaceChildren(paragraph(box.dataset.msgRunning, "muted"));
  const lang = box.dataset.lang || "fr";
  try {
    const [found, browser] = await Promise.all([eid.diagnostics(bridgeOptions(lang)), browserName()]);
    const page = {
      library: found.library,
      userAgent: found.userAgent,
      browser,
      origin: found.origin,
      secureContext: found.secureContext,
      localNetworkAccessDenied: found.localNetworkAccessDenied,
      bridgeReached: Boolean(found.bridge),
    };
    if (found.baseUrl) page.baseUrl = found.baseUrl;
    if (found.error) page.error = found.error;
    const report = { ...(found.bridge || {}), page };
    // The page-side findings the server will also derive, shown here right away.
    const findings = [];
    if (!page.bridgeReached) {
      findings.push({ id: "browser.bridge", status: "failed" });
    }
    show(box, summary, report, findings);
    document.getElementById("f-report").value = JSON.stringify(report);
    document.getElementById("f-browser").value = browser;
    const code = document.getElementById("f-support_code");
    if (code && report.supportCode) code.value = report.supportCode;
    box.dataset.done = "1";
  } catch (e) {
    // diagnostics() never throws; this is a bug in the page, not a finding.
    summary.replaceChildren(paragraph(box.dataset.msgUnreachable, "flash error"));
    throw e;
  } finally {
    button.disabled = false;
  }
}

const button = document.getElementById("run-diagnostics");
const box = document.getElementById("diagnostics");
if (button && box) {
  button.addEventListener("click", () => run(button, box));
}
