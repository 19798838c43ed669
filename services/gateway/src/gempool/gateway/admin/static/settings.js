// gempool admin panel: Settings (sources, history, rollback, search, every notice at the top).
"use strict";


let settings = [];
const dirty = new Map(); // name -> value to send
const settingsDirty = () => dirty.size > 0;

$("#settings-search").addEventListener("input", filterSettings);

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
    return { node: el("label", {}, box, " ", t("enabled")), read: () => box.checked, input: box };
  }
  if (typeof value === "number") {
    const input = el("input", { type: "number", step: "any", value: String(value) });
    return {
      node: input,
      input,
      read: () => {
        if (input.value.trim() === "" || !Number.isFinite(Number(input.value))) throw new Error(t("enter a number"));
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
      node: el("div", {}, area, el("div", { class: "hint", text: t("One entry per line.") })),
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
    node: el("div", {}, area, el("div", { class: "hint", text: "JSON" })),
    input: area,
    read: () => {
      try {
        return JSON.parse(area.value);
      } catch (err) {
        throw new Error(t("not valid JSON: {why}", { why: err.message }));
      }
    },
  };
}

// Every notice and advice at the top, each with a link to its setting.
function renderNotices(data) {
  const notices = [
    ...(data.advice || []).map((a) => ({ name: a.setting, text: a.message })),
    ...data.settings
      .filter((s) => s.env_differs)
      .map((s) => ({ name: s.name, text: t("The environment variable is ignored: the database value is in effect.") })),
  ];
  const box = $("#settings-notices");
  box.replaceChildren();
  if (!notices.length) return;
  box.append(
    el("h3", { text: t("Notices and advice ({n})", { n: notices.length }) }),
    el(
      "ul",
      { class: "notices" },
      notices.map((notice) =>
        el(
          "li",
          { class: "banner advice" },
          el("a", { href: `#setting-${notice.name}`, class: "mono", text: notice.name, onclick: (event) => {
            event.preventDefault();
            showSetting(notice.name);
          } }),
          ": ",
          notice.text
        )
      )
    )
  );
}

function showSetting(name) {
  $("#settings-search").value = "";
  filterSettings();
  const row = document.getElementById(`setting-${name}`);
  if (!row) return;
  row.scrollIntoView({ block: "center" });
  row.inputNode.focus({ preventScroll: true });
}

// The search box: a setting stays when its name, group or description holds every word typed.
function filterSettings() {
  const words = $("#settings-search").value.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const row of $$("#settings-list .setting")) {
    const text = row.dataset.search;
    row.hidden = !words.every((word) => text.includes(word));
    shown += row.hidden ? 0 : 1;
  }
  for (const heading of $$("#settings-list h2")) {
    const rows = $$(`.setting[data-group="${CSS.escape(heading.dataset.group)}"]`);
    heading.hidden = rows.every((row) => row.hidden);
  }
  $("#settings-list").classList.toggle("filtered", words.length > 0);
  return shown;
}

function renderSettings(data) {
  settings = data.settings;
  dirty.clear();
  renderNotices(data);
  const list = $("#settings-list");
  list.replaceChildren();
  const groups = new Map();
  for (const setting of settings) {
    const group = setting.group || "Other";
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(setting);
  }
  for (const [group, members] of groups) {
    list.append(el("h2", { text: group, "data-group": group }));
    for (const setting of members) list.append(settingRow(setting));
  }
  filterSettings();
  updateSaveBar();
}

function settingRow(setting) {
  const error = el("div", { class: "field-error", role: "alert" });
  const row = el("div", { class: "setting", id: `setting-${setting.name}`, "data-group": setting.group || "Other" });
  row.dataset.search = [setting.name, setting.group, setting.description].join(" ").toLowerCase();
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

  const meta = [t("source: {source}", { source: setting.source })];
  if (setting.updated_by) meta.push(t("by {who}", { who: setting.updated_by }));
  if (setting.updated_at) meta.push(t("at {time}", { time: when(setting.updated_at) }));
  const history = el("div", { class: "history full", hidden: true });
  const left = el(
    "div",
    {},
    el("div", { class: "name", text: setting.name }),
    setting.secret ? el("div", { class: "meta", text: t("secret: shown masked; masked entries are kept as stored") }) : null,
    el("div", { class: "meta", text: meta.join(" · ") }),
    el("div", { class: "meta", text: t("default: {value}", { value: JSON.stringify(setting.default) }) }),
    el("button", {
      type: "button",
      class: "small secondary",
      text: t("History"),
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
        el("strong", { text: t("The environment variable is ignored.") + " " }),
        t(
          "{name} is set to another value in the config service's environment, but after the first start the database wins: the value shown here is the one in effect. Change it here (and save), or make the environment match to silence this notice.",
          { name: setting.name }
        )
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
  box.replaceChildren(el("span", { class: "muted", text: t("Loading history…") }));
  try {
    const data = await api("GET", `/settings/history?name=${encodeURIComponent(name)}&page_size=20`);
    if (!data.changes.length) {
      box.replaceChildren(el("span", { class: "muted", text: t("No changes recorded.") }));
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
            text: t("Restore this value"),
            onclick: () => rollback(change),
          })
        )
      )
    );
    box.replaceChildren(
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, [t("When"), t("Who"), t("Old"), t("New"), ""].map((h) => el("th", { text: h })))),
        el("tbody", {}, rows)
      )
    );
  } catch (err) {
    box.replaceChildren(el("span", { class: "field-error", text: describe(err) }));
  }
}

async function rollback(change) {
  if (settingsDirty() && !confirm(t("Restoring reloads the settings and drops your unsaved changes. Continue?"))) return;
  if (!confirm(t("Store {name} = {value} again?", { name: change.name, value: JSON.stringify(change.new) }))) return;
  try {
    const result = await api("POST", "/settings/rollback", { change_id: change.id });
    flash(t("{name} restored (revision {revision}).", { name: change.name, revision: result.revision }));
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
        ? t("Fix the fields marked in red.")
        : t("No unsaved changes.")
      : t("{n} unsaved change(s): nothing takes effect until you press Save.", { n: count });
  $("#settings-save").disabled = count === 0 || anyInvalid;
  $("#settings-discard").disabled = count === 0 && !anyInvalid;
}

async function loadSettings(force = false) {
  if (!force && settingsDirty() && !confirm(t("Reloading drops your unsaved changes. Continue?"))) return;
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
    flash(t("Saved {n} setting(s) (revision {revision}). Gateways apply them within seconds.", { n: Object.keys(values).length, revision: result.revision }));
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
      $("#settings-error").textContent = t("Nothing was saved.") + " " + general.join("; ");
      const first = $("#settings-list .invalid");
      if (first) first.scrollIntoView({ block: "center" });
    } else {
      $("#settings-error").textContent = t("Nothing was saved.") + " " + describe(err);
    }
    updateSaveBar();
    button.disabled = dirty.size === 0;
  }
});

