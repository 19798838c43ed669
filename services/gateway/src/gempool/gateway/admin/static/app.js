// gempool admin panel: plain JavaScript, no build step, no third-party code.
// It talks only to /api/admin with the session cookie; every value is written with textContent.
// This file holds the plumbing (requests, formatting, session, tabs); each page has its own file.
"use strict";

const API = "/api/admin";
const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const panelState = { timezone: "", keysRevision: 0 };

class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : t("request failed ({status})", { status }));
    this.status = status;
    this.detail = detail;
  }
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function requestOptions(method, body) {
  const options = { method, credentials: "same-origin", headers: { accept: "application/json" } };
  if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  return options;
}

async function send(method, path, body) {
  try {
    return await fetch(API + path, requestOptions(method, body));
  } catch (err) {
    throw new ApiError(0, t("The gateway cannot be reached: {why}", { why: err.message }));
  }
}

async function failure(response, path) {
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (response.status === 401 && path !== "/login") showLogin(t("Your session has ended. Log in again."));
  return new ApiError(response.status, data && data.detail !== undefined ? data.detail : null);
}

async function api(method, path, body) {
  const response = await send(method, path, body);
  if (!response.ok) throw await failure(response, path);
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? await response.json().catch(() => null) : null;
}

// An NDJSON answer, one object at a time as the lines arrive (verify streams each key's result).
async function apiStream(path, body, onItem) {
  const response = await send("POST", path, body);
  if (!response.ok) throw await failure(response, path);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split("\n");
    buffer = lines.pop();
    for (const line of lines) if (line.trim()) onItem(JSON.parse(line));
  }
}

function describe(err) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
  if (Array.isArray(err.detail)) {
    return err.detail
      .map((d) => (d.name ? `${d.name}: ${d.message}` : `${(d.loc || []).join(".")}: ${d.msg || d.message}`))
      .join("; ");
  }
  return err.message;
}

let flashTimer = 0;
function flash(message, isError = false) {
  const box = $("#flash");
  box.textContent = message;
  box.classList.toggle("error", isError);
  box.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => (box.hidden = true), isError ? 12000 : 5000);
}
const failed = (err) => flash(describe(err), true);

// Times are shown in the TIMEZONE setting (the browser's zone until it is known).
function timeFormat(options) {
  const zone = panelState.timezone || undefined;
  try {
    return new Intl.DateTimeFormat(locale(), { ...options, timeZone: zone });
  } catch (err) {
    return new Intl.DateTimeFormat(locale(), options);
  }
}

// Seconds east of UTC in the TIMEZONE setting at a moment.
function zoneOffset(unix) {
  const options = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" };
  let format;
  try {
    format = new Intl.DateTimeFormat("en-US", { ...options, hourCycle: "h23", timeZone: panelState.timezone || undefined });
  } catch (err) {
    format = new Intl.DateTimeFormat("en-US", { ...options, hourCycle: "h23" });
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(unix * 1000)).map((p) => [p.type, Number(p.value)]));
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) / 1000;
  return wall - Math.floor(unix);
}

// A datetime-local value ("2026-01-31T09:30") read as a wall time in TIMEZONE, as Unix seconds.
function zonedUnix(value) {
  const [date, time] = value.split("T");
  const [year, month, dayOfMonth] = date.split("-").map(Number);
  const [hour, minute] = time.split(":").map(Number);
  const wall = Date.UTC(year, month - 1, dayOfMonth, hour, minute) / 1000;
  return wall - zoneOffset(wall - zoneOffset(wall));
}

function when(unix) {
  if (!unix) return "";
  return timeFormat({ dateStyle: "medium", timeStyle: "medium" }).format(new Date(unix * 1000));
}

function clock(unix) {
  return timeFormat({ hour: "2-digit", minute: "2-digit" }).format(new Date(unix * 1000));
}

function day(unix) {
  return timeFormat({ month: "short", day: "numeric" }).format(new Date(unix * 1000));
}

function number(value, digits = 0) {
  if (value === undefined || value === null) return "";
  return Number(value).toLocaleString(locale(), { maximumFractionDigits: digits });
}

function percent(part, whole) {
  return whole ? `${number((part / whole) * 100, 1)}%` : "–";
}

// ---------------------------------------------------------------- session

function showLogin(message) {
  $("#panel").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
  $("#login-token").focus();
}

async function showPanel(session) {
  $("#login").hidden = true;
  $("#panel").hidden = false;
  panelState.timezone = session.timezone || "";
  panelState.session = session;
  showWho();
  openTab(location.hash.slice(1) || "overview");
}

function showWho() {
  const session = panelState.session;
  if (!session) return;
  $("#whoami").textContent =
    session.via === "session" && session.expires_at
      ? t("session until {time}", { time: when(session.expires_at) })
      : t("via {how}", { how: session.via });
}

async function start() {
  applyLanguage(chosenLanguage());
  if (window.top !== window.self) {
    showLogin(t("Open this page in its own browser tab: the admin session cookie is not sent inside an embedded frame."));
    return;
  }
  try {
    await showPanel(await api("GET", "/session"));
  } catch (err) {
    if (err.status !== 401) showLogin(describe(err));
  }
}

function loginRefusal(err) {
  if (err.status === 401) {
    return t("That is not the admin token in effect. The token stored in the database wins over the AUTH_TOKEN environment variable.");
  }
  if (err.status === 429) {
    // Locked out after too many wrong tokens: the gateway says how long; no token is checked meanwhile.
    return typeof err.detail === "string" ? err.detail : t("Too many wrong admin tokens from your address: admin sign-in is locked for a while.");
  }
  return describe(err);
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#login-token");
  $("#login-error").textContent = "";
  try {
    await api("POST", "/login", { token: input.value });
  } catch (err) {
    $("#login-error").textContent = loginRefusal(err);
    return;
  }
  input.value = "";
  try {
    await showPanel(await api("GET", "/session"));
  } catch (err) {
    // Logged in, but the browser did not send the cookie back: say so instead of looping.
    showLogin(
      t(
        "The token was accepted but your browser did not keep the session cookie. Allow cookies for this site, open the page directly (not embedded), and serve it over HTTPS if the gateway is behind an HTTPS proxy (X-Forwarded-Proto)."
      )
    );
  }
});

$("#logout").addEventListener("click", async () => {
  if (settingsDirty() && !confirm(t("You have unsaved setting changes. Log out and lose them?"))) return;
  try {
    await api("POST", "/logout");
  } catch (err) {
    /* the session is gone either way */
  }
  dirty.clear();
  loaded.clear();
  stopAutoRefresh();
  showLogin(t("Logged out."));
});

// ---------------------------------------------------------------- tabs

const loaders = {};
const loaded = new Set();

function openTab(name) {
  if (!$(`#tab-${name}`)) name = "overview";
  for (const tab of $$(".tab")) tab.hidden = tab.id !== `tab-${name}`;
  for (const link of $$("#tabs a")) {
    link.classList.toggle("active", link.dataset.tab === name);
    if (link.dataset.tab === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!loaded.has(name) && loaders[name]) {
    loaded.add(name);
    loaders[name]().catch(failed);
  }
}

window.addEventListener("hashchange", () => {
  if (!$("#panel").hidden) openTab(location.hash.slice(1));
});

// A language change redraws the open page in it.
function relabel() {
  showWho();
  loaded.clear();
  if (!$("#panel").hidden) openTab(location.hash.slice(1) || "overview");
}

for (const select of $$(".lang-switch")) {
  select.addEventListener("change", () => {
    if (settingsDirty() && !confirm(t("Switching the language reloads the settings and drops your unsaved changes. Continue?"))) {
      select.value = currentLanguage();
      return;
    }
    rememberLanguage(select.value);
    applyLanguage(select.value);
    relabel();
  });
}

document.addEventListener("DOMContentLoaded", start);
