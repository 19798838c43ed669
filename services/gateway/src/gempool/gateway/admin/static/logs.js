// gempool admin panel: Logs (filters, auto-refresh, a readable detail) and Statistics.
"use strict";

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
let autoTimer = 0;

// The From / To fields are wall times in the TIMEZONE setting, like every time the panel shows.
const unixOf = (input) => (input.value ? String(zonedUnix(input.value)) : "");

function logParams() {
  const params = new URLSearchParams({ page_size: "50" });
  const text = { model: "#logs-model", token: "#logs-token", key: "#logs-key", status: "#logs-status" };
  for (const [name, id] of Object.entries(text)) if ($(id).value.trim()) params.set(name, $(id).value.trim());
  if (unixOf($("#logs-since"))) params.set("since", unixOf($("#logs-since")));
  if (unixOf($("#logs-until"))) params.set("until", unixOf($("#logs-until")));
  if ($("#logs-failed").checked) params.set("failed", "true");
  return params;
}

async function loadLogs(more = false) {
  const kind = $("#logs-kind").value;
  if (!more) logsBefore = 0;
  const params = logParams();
  if (logsBefore) params.set("before_id", String(logsBefore));
  const data = await api("GET", `/logs/${kind}?${params}`);
  const columns = COLUMNS[kind];
  $("#logs-table thead").replaceChildren(el("tr", {}, columns.map((c) => el("th", { text: t(c[1]) })), el("th")));
  const rows = data.entries.map((entry) =>
    el(
      "tr",
      {},
      columns.map(([field, , format]) =>
        el("td", { class: field === "message" ? "wrap" : "", text: format ? format(entry[field]) : String(entry[field] ?? "") })
      ),
      el("td", {}, el("button", { type: "button", class: "small secondary", text: t("details"), onclick: () => logDetail(kind, entry.id) }))
    )
  );
  const body = $("#logs-table tbody");
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
  if (!more && !rows.length) body.append(el("tr", {}, el("td", { colspan: "12", class: "muted", text: t("Nothing logged.") })));
  logsBefore = data.next_before_id || 0;
  $("#logs-older").disabled = !data.next_before_id;
}
loaders.logs = () => {
  $("#logs-zone").textContent = `(${panelState.timezone || "UTC"})`;
  return loadLogs();
};

// A body as the client sent it, indented when it is JSON.
function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (err) {
    return text;
  }
}

const DETAIL = [
  ["at", "When", (v) => `${when(v)} (${panelState.timezone || "UTC"})`],
  ["status", "Status"],
  ["error_code", "Code"],
  ["message", "Message"],
  ["model", "Model"],
  ["dialect", "Dialect"],
  ["token_name", "Token"],
  ["key_masked", "Key"],
  ["key_id", "Key id"],
  ["attempts", "Attempts"],
  ["latency_seconds", "Latency s", (v) => number(v, 3)],
  ["first_byte_seconds", "First byte s", (v) => number(v, 3)],
  ["tokens_in", "Tokens in"],
  ["tokens_out", "Tokens out"],
  ["request_id", "Request id"],
];

async function logDetail(kind, id) {
  const box = $("#log-detail");
  let entry;
  try {
    entry = await api("GET", `/logs/${kind}/${id}`);
  } catch (err) {
    return failed(err);
  }
  const rows = DETAIL.filter(([field]) => entry[field] !== undefined && entry[field] !== "").map(([field, label, format]) => [
    el("dt", { text: t(label) }),
    el("dd", { class: field === "message" ? "" : "mono", text: format ? format(entry[field]) : String(entry[field]) }),
  ]);
  const body = entry.request_body ? [el("h4", { text: t("Request body") }), el("pre", { class: "detail", text: pretty(entry.request_body) })] : [];
  box.replaceChildren(
    el("h3", { text: t(kind === "errors" ? "Error log {id}" : "Request log {id}", { id }) }),
    el("dl", { class: "fields" }, rows.flat()),
    ...body,
    el("button", { type: "button", class: "secondary", text: t("Close"), onclick: () => (box.hidden = true) })
  );
  box.hidden = false;
  box.focus();
  box.scrollIntoView({ block: "nearest" });
}

function stopAutoRefresh() {
  clearInterval(autoTimer);
  autoTimer = 0;
  $("#logs-auto").checked = false;
}

$("#logs-auto").addEventListener("change", (event) => {
  clearInterval(autoTimer);
  autoTimer = event.target.checked
    ? setInterval(() => !$("#tab-logs").hidden && loadLogs().catch(failed), 5000)
    : 0;
});
$("#logs-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  loadLogs().catch(failed);
});
for (const id of ["#logs-kind", "#logs-failed"]) $(id).addEventListener("change", () => loadLogs().catch(failed));
$("#logs-older").addEventListener("click", () => loadLogs(true).catch(failed));
$("#log-detail").addEventListener("keydown", (event) => {
  if (event.key === "Escape") event.currentTarget.hidden = true;
});

// ---------------------------------------------------------------- statistics

function card(label, value) {
  return el("div", { class: "card" }, el("div", { class: "muted", text: label }), el("div", { class: "value", text: value }));
}

function rate(count) {
  return count && count.calls ? `${number((count.success_rate || 0) * 100, 1)}%` : "–";
}

function groupName(kind, row) {
  if (kind !== "key") return row.name || t("(none)");
  return row.key_id || row.name ? row.name || row.key_id : t("(no key: the call never got one)");
}

function groupTable(title, kind, rows) {
  const head = [t("Name"), t("Calls"), t("Success"), t("Tokens in"), t("Tokens out")];
  const body = rows.length
    ? rows.map((row) =>
        el(
          "tr",
          {},
          el("td", { class: "mono", text: groupName(kind, row), title: row.key_id ? `id ${row.key_id}` : undefined }),
          el("td", { text: number(row.count.calls) }),
          el("td", { text: rate(row.count) }),
          el("td", { text: number(row.count.tokens_in) }),
          el("td", { text: number(row.count.tokens_out) })
        )
      )
    : el("tr", {}, el("td", { colspan: "5", class: "muted", text: t("No calls.") }));
  return el(
    "div",
    { class: `group group-${kind}` },
    el("h2", { text: title }),
    el("div", { class: "scroll" }, el("table", {}, el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))), el("tbody", {}, body)))
  );
}

async function loadStats() {
  const span = Number($("#stats-range").value);
  const now = Date.now() / 1000;
  const stats = await api("GET", `/stats?since=${now - span}&until=${now}&top=20`);
  const total = stats.total || {};
  $("#stats-cards").replaceChildren(
    card(t("Calls"), number(total.calls)),
    card(t("Success rate"), rate(total)),
    card(t("Answered 429"), number(total.rate_limited)),
    card(t("Retried"), number(total.retried)),
    card(t("Tokens in"), number(total.tokens_in)),
    card(t("Tokens out"), number(total.tokens_out)),
    card(t("Average latency"), `${number(total.avg_latency_seconds, 2)} s`),
    card(t("Errors logged"), number(stats.errors))
  );
  $("#stats-groups").replaceChildren(
    groupTable(t("By model"), "model", stats.by_model || []),
    groupTable(t("By key"), "key", stats.by_key || []),
    groupTable(t("By token"), "token", stats.by_token || [])
  );
}
loaders.stats = loadStats;
$("#stats-refresh").addEventListener("click", () => loadStats().catch(failed));
$("#stats-range").addEventListener("change", () => loadStats().catch(failed));
