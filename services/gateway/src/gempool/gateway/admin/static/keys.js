// gempool admin panel: Keys. Search, sort and page through thousands of keys; act on the keys
// picked or on every key the search matches (the server resolves the filter, not this page).
// Every write answers a keys_revision; the next list asks for it, so it shows the write's result.
"use strict";

const keyPages = { tokens: [""], index: 0, size: 50 };

function keyFilter() {
  const filter = {};
  if ($("#keys-q").value.trim()) filter.q = $("#keys-q").value.trim();
  if ($("#keys-tag").value.trim()) filter.tag = $("#keys-tag").value.trim();
  if ($("#keys-state").value) filter.state = $("#keys-state").value;
  if ($("#keys-pool").value) filter.pool = $("#keys-pool").value;
  return filter;
}

function keyQuery() {
  const params = new URLSearchParams({ page_size: String(keyPages.size), ...keyFilter() });
  const token = keyPages.tokens[keyPages.index];
  if (token) params.set("page_token", token);
  if ($("#keys-sort").value) params.set("sort", $("#keys-sort").value);
  if (panelState.keysRevision) params.set("min_revision", String(panelState.keysRevision));
  return params.toString();
}

function wrote(result) {
  if (result && result.keys_revision) panelState.keysRevision = Math.max(panelState.keysRevision, result.keys_revision);
  return result;
}

function cooldownLines(key, now) {
  return key.cooldowns
    .filter((c) => c.until > now)
    .map((c) =>
      el("div", {
        class: "cooldown",
        text: t("{model} until {time} ({reason})", { model: c.model || t("all models"), time: clock(c.until), reason: c.reason }),
      })
    );
}

function keyRow(key, now) {
  const toggle = key.state === "disabled" ? "enable" : "disable";
  const action = (name, label, cls = "small secondary") =>
    el("button", { type: "button", class: cls, text: label, onclick: () => keyAction(name, { key_ids: [key.key_id] }, 1) });
  return el(
    "tr",
    { "data-key-id": key.key_id },
    el("td", {}, el("input", { type: "checkbox", class: "key-pick", value: key.key_id, "aria-label": key.masked })),
    el("td", { class: "mono", text: key.masked, title: `id ${key.key_id}` }),
    el("td", { text: key.pool }),
    el("td", {}, el("span", { class: `state state-${key.state}`, text: t(key.state) })),
    el("td", { class: "wrap", text: key.reason }),
    el("td", { text: String(key.consecutive_failures) }),
    el("td", { class: "wrap", text: key.last_error }),
    el("td", { class: "cooldowns" }, cooldownLines(key, now)),
    el("td", { text: `${key.uses_last_minute} / ${key.uses_last_day}` }),
    el("td", {}, key.tags.map((tag) => el("span", { class: "tag", text: tag }))),
    el(
      "td",
      { class: "actions" },
      action("verify", t("verify")),
      action("reset", t("reset")),
      action(toggle, t(toggle)),
      el("button", { type: "button", class: "small secondary", text: t("history"), onclick: () => keyHistory(key) }),
      action("delete", t("delete"), "small danger")
    )
  );
}

async function loadKeys() {
  const data = await api("GET", `/keys?${keyQuery()}`);
  const body = $("#keys-table tbody");
  $("#keys-all").checked = false;
  const now = Date.now() / 1000;
  body.replaceChildren(...data.keys.map((key) => keyRow(key, now)));
  if (!data.keys.length) body.append(el("tr", {}, el("td", { colspan: "11", class: "muted", text: t("No keys.") })));
  keyPages.next = data.next_page_token;
  keyPages.total = data.total;
  const first = keyPages.index * keyPages.size;
  $("#keys-page").textContent = data.keys.length
    ? t("{first}–{last} of {total}", { first: first + 1, last: first + data.keys.length, total: data.total })
    : t("0 of {total}", { total: data.total });
  $("#keys-prev").disabled = keyPages.index === 0;
  $("#keys-next").disabled = !data.next_page_token;
}
loaders.keys = loadKeys;

function reloadKeys(fromStart = false) {
  if (fromStart) {
    keyPages.tokens = [""];
    keyPages.index = 0;
  }
  return loadKeys().catch(failed);
}

// Verify: each key's result is listed as it arrives; keys the answer condemns are retired.
async function verifyKeys(selection) {
  const progress = $("#keys-progress");
  const list = $("#keys-results");
  list.replaceChildren();
  list.hidden = false;
  progress.textContent = t("Verifying…");
  let ok = 0;
  let bad = 0;
  let retired = 0;
  await apiStream("/keys/verify", selection, (item) => {
    if (item.error && !item.key_id) throw new Error(item.error);
    item.ok ? ok++ : bad++;
    retired += item.retired ? 1 : 0;
    list.append(verifyLine(item));
    progress.textContent = t("Verifying: {done} of {total} ({ok} ok, {failed} failed)", {
      done: item.done || ok + bad,
      total: item.total,
      ok,
      failed: bad,
    });
  });
  progress.textContent = t("Verified {n} key(s): {ok} ok, {failed} failed, {retired} retired.", {
    n: ok + bad,
    ok,
    failed: bad,
    retired,
  });
}

function verifyLine(item) {
  const name = el("span", { class: "mono", text: item.masked || item.key_id });
  if (item.ok) return el("li", { class: "result-ok" }, name, " ", t("ok"));
  const verdict = item.retired ? t("failed, retired: {why}", { why: item.error }) : t("failed: {why}", { why: item.error });
  return el("li", { class: item.retired ? "result-retired" : "result-failed" }, name, " ", verdict);
}

function selection() {
  if ($("#keys-scope").value === "all") return { match: keyFilter() };
  return { key_ids: $$(".key-pick:checked").map((box) => box.value) };
}

function howMany(chosen) {
  return chosen.match ? keyPages.total || 0 : chosen.key_ids.length;
}

async function keyAction(action, chosen, count) {
  if (!count && action !== "verify") return flash(t("Select keys first."), true);
  if (action === "delete" && !confirm(t("Delete {n} key(s)? This cannot be undone.", { n: count }))) return;
  if (chosen.match && action !== "delete" && !confirm(t("{action} every key matching the search ({n})?", { action: t(action), n: count }))) return;
  try {
    await runKeyAction(action, chosen);
  } catch (err) {
    failed(err);
  }
  await reloadKeys();
}

async function runKeyAction(action, chosen) {
  if (action === "verify") return verifyKeys(chosen);
  if (action === "delete") {
    const result = wrote(await api("POST", "/keys/delete", chosen));
    return flash(t("Deleted {n} key(s).", { n: result.removed }));
  }
  if (action === "reset") {
    const result = await api("POST", "/keys/reset", chosen);
    return flash(t("Reset {n} key(s).", { n: result.reset }));
  }
  if (action === "tag" || action === "untag") {
    const tag = $("#keys-tag-value").value.trim();
    if (!tag) return flash(t("Type a tag first."), true);
    const body = { ...chosen, [action === "tag" ? "add" : "remove"]: [tag] };
    const result = wrote(await api("POST", "/keys/tag", body));
    return flash(t("Tags changed on {n} key(s).", { n: result.changed }));
  }
  const result = wrote(await api("POST", `/keys/${action}`, chosen));
  const missing = result.missing.length ? t("; {n} not found", { n: result.missing.length }) : "";
  flash(t(action === "enable" ? "Enabled {n} key(s)" : "Disabled {n} key(s)", { n: result.changed }) + missing);
}

// One key's calls over the last day, by hour, and its totals.
async function keyHistory(key) {
  const box = $("#key-history");
  const now = Date.now() / 1000;
  const params = new URLSearchParams({ since: String(now - 86400), until: String(now), bucket: "hour", key_id: key.key_id, top: "5" });
  const stats = await api("GET", `/stats?${params}`).catch(failed);
  if (!stats) return;
  const total = stats.total || {};
  box.replaceChildren(
    el("h3", { text: t("Usage of {key}, last day", { key: key.masked }) }),
    el("p", { text: t("{calls} calls, {rate} success, {tokens} tokens", { calls: number(total.calls), rate: percent(total.success, total.calls), tokens: number((total.tokens_in || 0) + (total.tokens_out || 0)) }) }),
    barChart({ title: t("Calls per hour"), buckets: fillBuckets(stats.series || [], now - 86400, now, 3600), label: clock }),
    el("button", { type: "button", class: "secondary", text: t("Close"), onclick: () => (box.hidden = true) })
  );
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

for (const button of $$("[data-bulk]")) {
  button.addEventListener("click", () => {
    const chosen = selection();
    if (!howMany(chosen)) return flash(t("Select keys first."), true); // none picked is not "every retired key"
    keyAction(button.dataset.bulk, chosen, howMany(chosen));
  });
}
$("#keys-verify-retired").addEventListener("click", () => {
  if (confirm(t("Verify every retired key?"))) keyAction("verify", {}, 0);
});
$("#keys-all").addEventListener("change", (event) => {
  for (const box of $$(".key-pick")) box.checked = event.target.checked;
});
$("#keys-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  reloadKeys(true);
});
for (const id of ["#keys-state", "#keys-pool", "#keys-sort"]) $(id).addEventListener("change", () => reloadKeys(true));
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
  const tags = $("#keys-add-tags").value.split(",").map((tag) => tag.trim()).filter(Boolean);
  try {
    const added = wrote(await api("POST", "/keys", { text: text.value, kind: $("#keys-kind").value, tags }));
    text.value = ""; // keys never stay on the page
    result.textContent = t("Received {received}: {added} added, {existing} already known.", added);
    await reloadKeys(true);
  } catch (err) {
    result.className = "field-error";
    result.textContent = describe(err);
  }
});
