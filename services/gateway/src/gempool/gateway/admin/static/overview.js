// gempool admin panel: the Overview (the first page). Keys by state per pool, calls and failures
// over the last hour (by minute), day (by hour) and 30 days (by day), the top models and teams,
// and warnings where an operator must act.
"use strict";

const STATES = ["active", "cooling", "retired", "disabled"];
const RANGES = [
  ["hour", "Last hour, by minute", 3600, 60, clock],
  ["day", "Last day, by hour", 86400, 3600, clock],
  ["month", "Last 30 days, by day", 30 * 86400, 86400, day],
];

function warningText(warning) {
  const p = warning.params;
  if (warning.kind === "all_cooling") {
    return t("Every usable key of the {pool} pool is cooling for {model} (until {time} at the earliest).", {
      pool: p.pool,
      model: p.model === "*" ? t("all models") : p.model,
      time: clock(p.until),
    });
  }
  if (warning.kind === "retired_recently") return t("{count} keys were retired in the last hour.", p);
  if (warning.kind === "logs_behind") {
    return t("Logs have not reached the database for {seconds} s; {records} records are waiting.", p);
  }
  return warning.message;
}

function warningLink(warning) {
  if (warning.kind === "logs_behind") return null;
  const state = warning.kind === "retired_recently" ? "retired" : "cooling";
  return el("a", { href: "#keys", text: t("show keys"), onclick: () => ($("#keys-state").value = state) });
}

function keyTable(counts) {
  const pools = Object.keys(counts).sort();
  $("#overview-keys thead").replaceChildren(
    el("tr", {}, el("th", { text: t("Pool") }), STATES.map((s) => el("th", { text: t(s) })), el("th", { text: t("Total") }))
  );
  const rows = pools.map((pool) => {
    const row = counts[pool];
    const total = STATES.reduce((sum, s) => sum + (row[s] || 0), 0);
    return el("tr", {}, el("th", { text: pool }), STATES.map((s) => el("td", { class: `count-${s}`, text: number(row[s] || 0) })), el("td", { text: number(total) }));
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: "6", class: "muted", text: t("No keys yet: add them under Keys.") })));
  $("#overview-keys tbody").replaceChildren(...rows);
}

function topTable(title, rows) {
  const head = [t("Name"), t("Calls"), t("Tokens used")];
  return el(
    "div",
    { class: "group" },
    el("h3", { text: title }),
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))),
      el(
        "tbody",
        {},
        rows.length
          ? rows.map((r) => el("tr", {}, el("td", { class: "mono", text: r.name || t("(none)") }), el("td", { text: number(r.count.calls) }), el("td", { text: number(r.count.tokens_in + r.count.tokens_out) })))
          : el("tr", {}, el("td", { colspan: "3", class: "muted", text: t("No calls.") }))
      )
    )
  );
}

function byTokens(rows) {
  return [...rows].sort((a, b) => b.count.tokens_in + b.count.tokens_out - (a.count.tokens_in + a.count.tokens_out));
}

async function loadOverview() {
  const data = await api("GET", "/overview");
  panelState.timezone = data.timezone || panelState.timezone;
  $("#overview-at").textContent = t("as of {time}", { time: when(data.now) });
  $("#overview-warnings").replaceChildren(
    ...data.warnings.map((w) => el("p", { class: `banner warning warning-${w.kind}`, role: "alert" }, warningText(w), " ", warningLink(w)))
  );
  const lastDay = data.stats.day.total;
  $("#overview-cards").replaceChildren(
    card(t("Calls, last day"), number(lastDay.calls)),
    card(t("Success rate"), percent(lastDay.success, lastDay.calls)),
    card(t("Answered 429"), number(lastDay.rate_limited)),
    card(t("Retried"), number(lastDay.retried)),
    card(t("Errors logged"), number(data.stats.day.errors)),
    card(t("Calls, last hour"), number(data.stats.hour.total.calls))
  );
  keyTable(data.keys);
  $("#overview-charts").replaceChildren(
    ...RANGES.map(([name, title, span, step, label]) => {
      const buckets = fillBuckets(data.stats[name].series || [], data.now - span, data.now, step);
      return el("figure", { class: `chart-box chart-${name}` }, el("figcaption", { text: t(title) }), barChart({ title: t(title), buckets, label }));
    })
  );
  const month = data.stats.month;
  $("#overview-top").replaceChildren(
    topTable(t("Top models by calls (30 days)"), month.by_model || []),
    topTable(t("Top teams by calls (30 days)"), month.by_token || []),
    topTable(t("Top models by tokens (30 days)"), byTokens(month.by_model || [])),
    topTable(t("Top teams by tokens (30 days)"), byTokens(month.by_token || []))
  );
}
loaders.overview = loadOverview;
$("#overview-refresh").addEventListener("click", () => loadOverview().catch(failed));
