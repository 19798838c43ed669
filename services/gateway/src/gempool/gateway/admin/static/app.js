// gempool admin panel: plain JavaScript, no build step, no third-party code.
// It talks only to /api/admin with the session cookie; every value is written with textContent.
"use strict";

const API = "/api/admin";
const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `request failed (${status})`);
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

async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: { accept: "application/json" } };
  if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, options);
  } catch (err) {
    throw new ApiError(0, "The gateway cannot be reached: " + err.message);
  }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (response.status === 401 && path !== "/login") {
    showLogin("Your session has ended. Log in again.");
  }
  if (!response.ok) throw new ApiError(response.status, data && data.detail !== undefined ? data.detail : null);
  return data;
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

function when(unix) {
  if (!unix) return "";
  return new Date(unix * 1000).toLocaleString();
}

function number(value, digits = 0) {
  if (value === undefined || value === null) return "";
  return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits });
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
  $("#whoami").textContent =
    session.via === "session" && session.expires_at ? `session until ${when(session.expires_at)}` : `via ${session.via}`;
  openTab(location.hash.slice(1) || "settings");
}

async function start() {
  if (window.top !== window.self) {
    showLogin("Open this page in its own browser tab: the admin session cookie is not sent inside an embedded frame.");
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
    return "That is not the admin token in effect. The token stored in the database wins over the AUTH_TOKEN environment variable.";
  }
  if (err.status === 429) {
    // Locked out after too many wrong tokens: the gateway says how long; no token is checked meanwhile.
    return typeof err.detail === "string"
      ? err.detail
      : "Too many wrong admin tokens from your address: admin sign-in is locked for a while.";
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
      "The token was accepted but your browser did not keep the session cookie. Allow cookies for this site, " +
        "open the page directly (not embedded), and serve it over HTTPS if the gateway is behind an HTTPS proxy " +
        "(X-Forwarded-Proto)."
    );
  }
});

$("#logout").addEventListener("click", async () => {
  if (settingsDirty() && !confirm("You have unsaved setting changes. Log out and lose them?")) return;
  try {
    await api("POST", "/logout");
  } catch (err) {
    /* the session is gone either way */
  }
  dirty.clear();
  loaded.clear();
  showLogin("Logged out.");
});

// ---------------------------------------------------------------- tabs

const loaders = {};
const loaded = new Set();

function openTab(name) {
  if (!$(`#tab-${name}`)) name = "settings";
  for (const tab of $$(".tab")) tab.hidden = tab.id !== `tab-${name}`;
  for (const link of $$("#tabs a")) link.classList.toggle("active", link.dataset.tab === name);
  if (!loaded.has(name) && loaders[name]) {
    loaded.add(name);
    loaders[name]().catch((err) => flash(describe(err), true));
  }
}

window.addEventListener("hashchange", () => {
  if (!$("#panel").hidden) openTab(location.hash.slice(1));
});

// ---------------------------------------------------------------- settings

let settings = [];
const dirty = new Map(); // name -> value to send
const settingsDirty = () => dirty.size > 0;

window.addEventListener("beforeunload", (event) => {
  if (settingsDirty()) {
    event.preventDefault();
    event.returnValue = "";
  }
});

function isStringList(value) {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function editorFor(setting, onChange) {
  const value = setting.value;
  if (typeof value === "boolean") {
    const box = el("input", { type: "checkbox", checked: value });
    return { node: el("label", {}, box, " enabled"), read: () => box.checked, input: box };
  }
  if (typeof value === "number") {
    const input = el("input", { type: "number", step: "any", value: String(value) });
    return {
      node: input,
      input,
      read: () => {
        if (input.value.trim() === "" || !Number.isFinite(Number(input.value))) throw new Error("enter a number");
        return Number(input.value);
      },
    };
  }
  if (typeof value === "string") {
    const input = el("input", { type: "text", value, autocomplete: "off", spellcheck: false });
    return { node: input, input, read: () => input.value };
  }
  if (isStringList(value) && (value.length > 0 || isStringList(setting.default))) {
    const area = el("textarea", { rows: Math.min(12, Math.max(3, value.length + 1)), spellcheck: false });
    area.value = value.join("\n");
    return {
      node: el("div", {}, area, el("div", { class: "hint", text: "One entry per line." })),
      input: area,
      read: () =>
        area.value
          .split("\n")
          .map((line) => line.trim())
          .filter(Boolean),
    };
  }
  const area = el("textarea", { rows: 4, spellcheck: false });
  area.value = JSON.stringify(value, null, 2);
  return {
    node: el("div", {}, area, el("div", { class: "hint", text: "JSON." })),
    input: area,
    read: () => {
      try {
        return JSON.parse(area.value);
      } catch (err) {
        throw new Error("not valid JSON: " + err.message);
      }
    },
  };
}

function renderSettings(data) {
  settings = data.settings;
  dirty.clear();
  const list = $("#settings-list");
  list.replaceChildren();
  for (const advice of data.advice || []) {
    list.append(
      el(
        "div",
        { class: "banner advice" },
        el("strong", { text: `${advice.setting}: ` }),
        advice.message,
        " ",
        el("a", { href: `#setting-${advice.setting}`, text: "show", onclick: (event) => {
          event.preventDefault();
          $(`#setting-${advice.setting}`)?.scrollIntoView({ block: "center" });
        } })
      )
    );
  }
  const groups = new Map();
  for (const setting of settings) {
    const group = setting.group || "Other";
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(setting);
  }
  for (const [group, members] of groups) {
    list.append(el("h2", { text: group }));
    for (const setting of members) list.append(settingRow(setting));
  }
  updateSaveBar();
}

function settingRow(setting) {
  const error = el("div", { class: "field-error", role: "alert" });
  const row = el("div", { class: "setting", id: `setting-${setting.name}` });
  const editor = editorFor(setting, null);
  const original = JSON.stringify(setting.value);
  const changed = () => {
    error.textContent = "";
    editor.input.classList.remove("invalid");
    let value;
    try {
      value = editor.read();
    } catch (err) {
      error.textContent = err.message;
      editor.input.classList.add("invalid");
      dirty.delete(setting.name);
      row.classList.add("changed");
      updateSaveBar(true);
      return;
    }
    if (JSON.stringify(value) === original) dirty.delete(setting.name);
    else dirty.set(setting.name, value);
    row.classList.toggle("changed", dirty.has(setting.name));
    updateSaveBar();
  };
  editor.input.addEventListener("input", changed);
  editor.input.addEventListener("change", changed);
  row.errorNode = error;
  row.inputNode = editor.input;

  const meta = [`source: ${setting.source}`];
  if (setting.updated_by) meta.push(`by ${setting.updated_by}`);
  if (setting.updated_at) meta.push(`at ${when(setting.updated_at)}`);
  const history = el("div", { class: "history full", hidden: true });
  const left = el(
    "div",
    {},
    el("div", { class: "name", text: setting.name }),
    setting.secret ? el("div", { class: "meta", text: "secret: shown masked; masked entries are kept as stored" }) : null,
    el("div", { class: "meta", text: meta.join(" · ") }),
    el("div", { class: "meta", text: `default: ${JSON.stringify(setting.default)}` }),
    el("button", {
      type: "button",
      class: "small secondary",
      text: "History",
      onclick: () => toggleHistory(setting.name, history),
    })
  );
  const right = el("div", { class: "editor" }, el("div", { class: "hint", text: setting.description }), editor.node, error);
  row.append(left, right);
  if (setting.env_differs) {
    row.append(
      el(
        "div",
        { class: "banner full" },
        el("strong", { text: "The environment variable is ignored. " }),
        `${setting.name} is set to another value in the config service's environment, but after the first start ` +
          "the database wins: the value shown here is the one in effect. Change it here (and save), or make the " +
          "environment match to silence this notice."
      )
    );
  }
  row.append(history);
  return row;
}

async function toggleHistory(name, box) {
  if (!box.hidden) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.replaceChildren(el("span", { class: "muted", text: "Loading history…" }));
  try {
    const data = await api("GET", `/settings/history?name=${encodeURIComponent(name)}&page_size=20`);
    if (!data.changes.length) {
      box.replaceChildren(el("span", { class: "muted", text: "No changes recorded." }));
      return;
    }
    const rows = data.changes.map((change) =>
      el(
        "tr",
        {},
        el("td", { text: when(change.at) }),
        el("td", { text: change.actor }),
        el("td", { class: "mono wrap", text: change.old === null ? "" : JSON.stringify(change.old) }),
        el("td", { class: "mono wrap", text: JSON.stringify(change.new) }),
        el(
          "td",
          {},
          el("button", {
            type: "button",
            class: "small secondary",
            text: "Restore this value",
            onclick: () => rollback(change),
          })
        )
      )
    );
    box.replaceChildren(
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ["When", "Who", "Old", "New", ""].map((h) => el("th", { text: h })))),
        el("tbody", {}, rows)
      )
    );
  } catch (err) {
    box.replaceChildren(el("span", { class: "field-error", text: describe(err) }));
  }
}

async function rollback(change) {
  if (settingsDirty() && !confirm("Restoring reloads the settings and drops your unsaved changes. Continue?")) return;
  if (!confirm(`Store ${change.name} = ${JSON.stringify(change.new)} again?`)) return;
  try {
    const result = await api("POST", "/settings/rollback", { change_id: change.id });
    flash(`${change.name} restored (revision ${result.revision}).`);
    await loadSettings(true);
  } catch (err) {
    flash(describe(err), true);
  }
}

function updateSaveBar(invalid = false) {
  const count = dirty.size;
  const bar = $("#savebar");
  const anyInvalid = invalid || $$("#settings-list .invalid").length > 0;
  bar.classList.toggle("dirty", count > 0 || anyInvalid);
  $("#dirty-count").textContent =
    count === 0
      ? anyInvalid
        ? "Fix the fields marked in red."
        : "No unsaved changes."
      : `${count} unsaved change${count === 1 ? "" : "s"}: nothing takes effect until you press Save.`;
  $("#settings-save").disabled = count === 0 || anyInvalid;
  $("#settings-discard").disabled = count === 0 && !anyInvalid;
}

async function loadSettings(force = false) {
  if (!force && settingsDirty() && !confirm("Reloading drops your unsaved changes. Continue?")) return;
  $("#settings-error").textContent = "";
  renderSettings(await api("GET", "/settings"));
}
loaders.settings = () => loadSettings(true);

$("#settings-reload").addEventListener("click", () => loadSettings().catch((err) => flash(describe(err), true)));
$("#settings-discard").addEventListener("click", () => loadSettings(true).catch((err) => flash(describe(err), true)));
$("#settings-save").addEventListener("click", async () => {
  const values = Object.fromEntries(dirty);
  $("#settings-error").textContent = "";
  for (const row of $$("#settings-list .setting")) row.errorNode.textContent = "";
  const button = $("#settings-save");
  button.disabled = true;
  try {
    const result = await api("PATCH", "/settings", { values });
    flash(`Saved ${Object.keys(values).length} setting(s) (revision ${result.revision}). Gateways apply them within seconds.`);
    await loadSettings(true);
  } catch (err) {
    if (err.status === 422 && Array.isArray(err.detail)) {
      const general = [];
      for (const problem of err.detail) {
        const row = problem.name && document.getElementById(`setting-${problem.name}`);
        if (row) {
          row.errorNode.textContent = problem.message;
          row.inputNode.classList.add("invalid");
        } else general.push(problem.name ? `${problem.name}: ${problem.message}` : describe(new ApiError(422, [problem])));
      }
      $("#settings-error").textContent = "Nothing was saved. " + general.join("; ");
      const first = $("#settings-list .invalid");
      if (first) first.scrollIntoView({ block: "center" });
    } else {
      $("#settings-error").textContent = "Nothing was saved: " + describe(err);
    }
    updateSaveBar();
    button.disabled = dirty.size === 0;
  }
});

// ---------------------------------------------------------------- keys

const keyPages = { tokens: [""], index: 0, size: 50 };

function keyQuery() {
  const params = new URLSearchParams({ page_size: String(keyPages.size) });
  const token = keyPages.tokens[keyPages.index];
  if (token) params.set("page_token", token);
  if ($("#keys-state").value) params.set("state", $("#keys-state").value);
  if ($("#keys-pool").value) params.set("pool", $("#keys-pool").value);
  return params.toString();
}

async function loadKeys() {
  const data = await api("GET", `/keys?${keyQuery()}`);
  const body = $("#keys-table tbody");
  $("#keys-all").checked = false;
  const now = Date.now() / 1000;
  body.replaceChildren(
    ...data.keys.map((key) => {
      const cooldowns = key.cooldowns
        .filter((c) => c.until > now)
        .map((c) => `${c.model || "all models"} until ${new Date(c.until * 1000).toLocaleTimeString()} (${c.reason})`);
      const toggle = key.state === "disabled" ? "enable" : "disable";
      return el(
        "tr",
        {},
        el("td", {}, el("input", { type: "checkbox", class: "key-pick", value: key.key_id })),
        el("td", { class: "mono", text: key.masked, title: `id ${key.key_id}` }),
        el("td", { text: key.pool }),
        el("td", {}, el("span", { class: `state state-${key.state}`, text: key.state })),
        el("td", { class: "wrap", text: key.reason }),
        el("td", { text: String(key.consecutive_failures) }),
        el("td", { class: "wrap", text: key.last_error }),
        el("td", { class: "wrap", text: cooldowns.join("\n") }),
        el("td", { text: `${key.uses_last_minute} / ${key.uses_last_day}` }),
        el("td", { text: key.tags.join(", ") }),
        el(
          "td",
          {},
          el("button", { type: "button", class: "small secondary", text: "verify", onclick: () => keyAction("verify", [key.key_id]) }),
          el("button", { type: "button", class: "small secondary", text: "reset", onclick: () => keyAction("reset", [key.key_id]) }),
          el("button", { type: "button", class: "small secondary", text: toggle, onclick: () => keyAction(toggle, [key.key_id]) }),
          el("button", { type: "button", class: "small danger", text: "delete", onclick: () => keyAction("delete", [key.key_id]) })
        )
      );
    })
  );
  if (!data.keys.length) body.append(el("tr", {}, el("td", { colspan: "11", class: "muted", text: "No keys." })));
  keyPages.next = data.next_page_token;
  const first = keyPages.index * keyPages.size;
  $("#keys-page").textContent = data.keys.length
    ? `${first + 1}–${first + data.keys.length} of ${data.total}`
    : `0 of ${data.total}`;
  $("#keys-prev").disabled = keyPages.index === 0;
  $("#keys-next").disabled = !data.next_page_token;
}
loaders.keys = loadKeys;

function reloadKeys(fromStart = false) {
  if (fromStart) {
    keyPages.tokens = [""];
    keyPages.index = 0;
  }
  return loadKeys().catch((err) => flash(describe(err), true));
}

async function verifyKeys(keyIds) {
  const progress = $("#keys-progress");
  progress.textContent = "Verifying…";
  const response = await fetch(`${API}/keys/verify`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key_ids: keyIds }),
  });
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    if (response.status === 401) showLogin("Your session has ended. Log in again.");
    throw new ApiError(response.status, data && data.detail);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let ok = 0;
  let failed = 0;
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split("\n");
    buffer = lines.pop();
    for (const line of lines) {
      if (!line.trim()) continue;
      const item = JSON.parse(line);
      if (item.error && !item.key_id) throw new Error(item.error);
      if (item.key_id) (item.ok ? ok++ : failed++);
      total = item.total || total;
      progress.textContent = `Verifying: ${item.done || ok + failed} of ${total} (${ok} ok, ${failed} failed)`;
    }
  }
  progress.textContent = `Verified ${ok + failed} key(s): ${ok} ok, ${failed} failed.`;
}

async function keyAction(action, keyIds) {
  if (action !== "verify" && !keyIds.length) return flash("Select keys first.", true);
  if (action === "delete" && !confirm(`Delete ${keyIds.length} key(s)? This cannot be undone.`)) return;
  try {
    if (action === "verify") {
      if (!keyIds.length && !confirm("Verify every retired key?")) return;
      await verifyKeys(keyIds);
    } else if (action === "delete") {
      const result = await api("POST", "/keys/delete", { key_ids: keyIds });
      flash(`Deleted ${result.removed} key(s).`);
    } else if (action === "reset") {
      const result = await api("POST", "/keys/reset", { key_ids: keyIds });
      flash(`Reset ${result.reset} key(s).`);
    } else {
      const result = await api("POST", `/keys/${action}`, { key_ids: keyIds });
      flash(`${action}d ${result.changed} key(s)` + (result.missing.length ? `; ${result.missing.length} not found` : "."));
    }
  } catch (err) {
    flash(describe(err), true);
  }
  await reloadKeys();
}

const pickedKeys = () => $$(".key-pick:checked").map((box) => box.value);
for (const button of $$("[data-bulk]")) {
  button.addEventListener("click", () => {
    const picked = pickedKeys();
    if (!picked.length) return flash("Select keys first.", true);
    keyAction(button.dataset.bulk, picked);
  });
}
$("#keys-verify-retired").addEventListener("click", () => keyAction("verify", []));
$("#keys-all").addEventListener("change", (event) => {
  for (const box of $$(".key-pick")) box.checked = event.target.checked;
});
$("#keys-refresh").addEventListener("click", () => reloadKeys());
$("#keys-state").addEventListener("change", () => reloadKeys(true));
$("#keys-pool").addEventListener("change", () => reloadKeys(true));
$("#keys-prev").addEventListener("click", () => {
  if (keyPages.index > 0) keyPages.index--;
  reloadKeys();
});
$("#keys-next").addEventListener("click", () => {
  if (!keyPages.next) return;
  keyPages.tokens[keyPages.index + 1] = keyPages.next;
  keyPages.index++;
  reloadKeys();
});
$("#keys-add").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("#keys-text");
  const result = $("#keys-add-result");
  result.textContent = "";
  result.className = "";
  try {
    const added = await api("POST", "/keys", { text: text.value, kind: $("#keys-kind").value });
    text.value = ""; // keys never stay on the page
    result.textContent = `Received ${added.received}: ${added.added} added, ${added.existing} already known.`;
    await reloadKeys(true);
  } catch (err) {
    result.className = "field-error";
    result.textContent = describe(err);
  }
});

// ---------------------------------------------------------------- tokens

async function loadTokens() {
  const tokens = await api("GET", "/tokens");
  const body = $("#tokens-table tbody");
  body.replaceChildren(
    ...tokens.map((token) =>
      el(
        "tr",
        {},
        el("td", { text: String(token.id) }),
        el("td", { text: token.name }),
        el("td", { text: token.enabled ? "yes" : "no" }),
        el("td", { class: "wrap", text: token.allowed_models.length ? token.allowed_models.join(", ") : "all" }),
        el("td", { text: token.rpm_limit ? String(token.rpm_limit) : "no limit" }),
        el("td", { text: token.key_tag || "any key" }),
        el("td", { class: "mono", text: token.hint }),
        el("td", { text: when(token.created_at) }),
        el("td", { text: when(token.last_used_at) || "never" }),
        el(
          "td",
          {},
          el("button", {
            type: "button",
            class: "small secondary",
            text: token.enabled ? "disable" : "enable",
            onclick: () => tokenChange(token, { enabled: !token.enabled }),
          }),
          el("button", { type: "button", class: "small danger", text: "delete", onclick: () => tokenDelete(token) })
        )
      )
    )
  );
  if (!tokens.length) body.append(el("tr", {}, el("td", { colspan: "10", class: "muted", text: "No team tokens." })));
}
loaders.tokens = loadTokens;

async function tokenChange(token, patch) {
  try {
    await api("PATCH", `/tokens/${token.id}`, patch);
  } catch (err) {
    flash(describe(err), true);
  }
  await loadTokens().catch((err) => flash(describe(err), true));
}

async function tokenDelete(token) {
  if (!confirm(`Delete the token of ${token.name}? Its team loses access at once.`)) return;
  try {
    await api("DELETE", `/tokens/${token.id}`);
    flash(`Deleted the token of ${token.name}.`);
  } catch (err) {
    flash(describe(err), true);
  }
  await loadTokens().catch((err) => flash(describe(err), true));
}

$("#token-create").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#token-create-error").textContent = "";
  const models = $("#token-models")
    .value.split(/[,\n]/)
    .map((m) => m.trim())
    .filter(Boolean);
  try {
    const created = await api("POST", "/tokens", {
      name: $("#token-name").value.trim(),
      allowed_models: models,
      rpm_limit: Number($("#token-rpm").value || 0),
      key_tag: $("#token-tag").value.trim(),
    });
    $("#token-secret-value").textContent = created.secret;
    $("#token-secret").hidden = false;
    $("#token-name").value = "";
    $("#token-models").value = "";
    $("#token-rpm").value = "0";
    $("#token-tag").value = "";
    await loadTokens();
  } catch (err) {
    $("#token-create-error").textContent = describe(err);
  }
});
$("#token-secret-copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("#token-secret-value").textContent);
    flash("Copied.");
  } catch (err) {
    flash("Copy it by hand: select the token above.", true);
  }
});
$("#token-secret-close").addEventListener("click", () => {
  $("#token-secret-value").textContent = "";
  $("#token-secret").hidden = true;
});

// ---------------------------------------------------------------- logs

const COLUMNS = {
  errors: [
    ["at", "When", when],
    ["status", "Status"],
    ["error_code", "Code"],
    ["model", "Model"],
    ["key_masked", "Key"],
    ["token_name", "Token"],
    ["message", "Message"],
  ],
  requests: [
    ["at", "When", when],
    ["status", "Status"],
    ["model", "Model"],
    ["dialect", "Dialect"],
    ["key_masked", "Key"],
    ["token_name", "Token"],
    ["attempts", "Attempts"],
    ["latency_seconds", "Latency s", (v) => number(v, 2)],
    ["tokens_in", "Tokens in"],
    ["tokens_out", "Tokens out"],
  ],
};
let logsBefore = 0;

async function loadLogs(more = false) {
  const kind = $("#logs-kind").value;
  if (!more) logsBefore = 0;
  const params = new URLSearchParams({ page_size: "50" });
  if (logsBefore) params.set("before_id", String(logsBefore));
  if ($("#logs-model").value.trim()) params.set("model", $("#logs-model").value.trim());
  if ($("#logs-failed").checked) params.set("failed", "true");
  const data = await api("GET", `/logs/${kind}?${params}`);
  const columns = COLUMNS[kind];
  $("#logs-table thead").replaceChildren(el("tr", {}, columns.map((c) => el("th", { text: c[1] })), el("th")));
  const rows = data.entries.map((entry) =>
    el(
      "tr",
      {},
      columns.map(([field, , format]) =>
        el("td", { class: field === "message" ? "wrap" : "", text: format ? format(entry[field]) : String(entry[field] ?? "") })
      ),
      el(
        "td",
        {},
        el("button", { type: "button", class: "small secondary", text: "details", onclick: () => logDetail(kind, entry.id) })
      )
    )
  );
  const body = $("#logs-table tbody");
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
  if (!more && !rows.length) body.append(el("tr", {}, el("td", { colspan: "12", class: "muted", text: "Nothing logged." })));
  logsBefore = data.next_before_id || 0;
  $("#logs-older").disabled = !data.next_before_id;
}
loaders.logs = () => loadLogs();

async function logDetail(kind, id) {
  const box = $("#log-detail");
  try {
    const entry = await api("GET", `/logs/${kind}/${id}`);
    box.textContent = JSON.stringify(entry, null, 2);
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  } catch (err) {
    flash(describe(err), true);
  }
}

for (const id of ["#logs-kind", "#logs-failed"]) $(id).addEventListener("change", () => loadLogs().catch((e) => flash(describe(e), true)));
$("#logs-refresh").addEventListener("click", () => loadLogs().catch((e) => flash(describe(e), true)));
$("#logs-model").addEventListener("keydown", (event) => {
  if (event.key === "Enter") loadLogs().catch((e) => flash(describe(e), true));
});
$("#logs-older").addEventListener("click", () => loadLogs(true).catch((e) => flash(describe(e), true)));

// ---------------------------------------------------------------- stats

function card(label, value) {
  return el("div", { class: "card" }, el("div", { class: "muted", text: label }), el("div", { class: "value", text: value }));
}

function rate(count) {
  return count && count.calls ? `${number((count.success_rate || 0) * 100, 1)}%` : "–";
}

async function loadStats() {
  const span = Number($("#stats-range").value);
  const now = Date.now() / 1000;
  const stats = await api("GET", `/stats?since=${now - span}&until=${now}&top=20`);
  const total = stats.total || {};
  $("#stats-cards").replaceChildren(
    card("Calls", number(total.calls)),
    card("Success rate", rate(total)),
    card("Tokens in", number(total.tokens_in)),
    card("Tokens out", number(total.tokens_out)),
    card("Average latency", `${number(total.avg_latency_seconds, 2)} s`),
    card("Errors logged", number(stats.errors)),
    card("Calls, last minute", number((stats.last_minute || {}).calls)),
    card("Calls, last hour", number((stats.last_hour || {}).calls)),
    card("Calls, last day", number((stats.last_day || {}).calls))
  );
  const group = (title, rows) =>
    el(
      "div",
      {},
      el("h2", { text: title }),
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ["Name", "Calls", "Success", "Tokens in", "Tokens out"].map((h) => el("th", { text: h })))),
        el(
          "tbody",
          {},
          rows.length
            ? rows.map((row) =>
                el(
                  "tr",
                  {},
                  el("td", { class: "mono", text: row.name }),
                  el("td", { text: number(row.count.calls) }),
                  el("td", { text: rate(row.count) }),
                  el("td", { text: number(row.count.tokens_in) }),
                  el("td", { text: number(row.count.tokens_out) })
                )
              )
            : el("tr", {}, el("td", { colspan: "5", class: "muted", text: "No calls." }))
        )
      )
    );
  $("#stats-groups").replaceChildren(
    group("By model", stats.by_model || []),
    group("By key", stats.by_key || []),
    group("By token", stats.by_token || [])
  );
}
loaders.stats = loadStats;
$("#stats-refresh").addEventListener("click", () => loadStats().catch((e) => flash(describe(e), true)));
$("#stats-range").addEventListener("change", () => loadStats().catch((e) => flash(describe(e), true)));

// ---------------------------------------------------------------- export / import

$("#import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("#import-file").files[0];
  const out = $("#import-result");
  if (!file) return;
  let document_;
  try {
    document_ = JSON.parse(await file.text());
  } catch (err) {
    out.hidden = false;
    out.textContent = "That file is not JSON: " + err.message;
    return;
  }
  if (!confirm("Import this file? Settings, keys and tokens in it replace the current ones.")) return;
  try {
    const result = await api("POST", "/import", document_);
    out.textContent = "Imported: " + JSON.stringify(result, null, 2);
    loaded.clear();
    loaded.add("data");
  } catch (err) {
    out.textContent = "Nothing was imported: " + describe(err);
  }
  out.hidden = false;
  $("#import-file").value = "";
});

start();
