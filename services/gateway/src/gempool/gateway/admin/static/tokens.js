// gempool admin panel: team Tokens (create, edit name / models / RPM / key tag, enable, delete) and
// the Export / import page.
"use strict";

const modelList = (text) =>
  text
    .split(/[,\n]/)
    .map((m) => m.trim())
    .filter(Boolean);

function tokenRow(token) {
  const button = (text, onclick, cls = "small secondary") => el("button", { type: "button", class: cls, text, onclick });
  const row = el(
    "tr",
    { "data-token": token.name },
    el("td", { text: String(token.id) }),
    el("td", { text: token.name }),
    el("td", { text: token.enabled ? t("yes") : t("no") }),
    el("td", { class: "wrap", text: token.allowed_models.length ? token.allowed_models.join(", ") : t("all") }),
    el("td", { text: token.rpm_limit ? String(token.rpm_limit) : t("no limit") }),
    el("td", { text: token.key_tag || t("any key") }),
    el("td", { class: "mono", text: token.hint }),
    el("td", { text: when(token.created_at) }),
    el("td", { text: when(token.last_used_at) || t("never") }),
    el(
      "td",
      { class: "actions" },
      button(t("edit"), () => row.replaceWith(tokenEditor(token))),
      button(token.enabled ? t("disable") : t("enable"), () => tokenChange(token, { enabled: !token.enabled })),
      button(t("delete"), () => tokenDelete(token), "small danger")
    )
  );
  return row;
}

// The row becomes a form; Save sends only what the API changes (PATCH), Escape or Cancel drops it.
function tokenEditor(token) {
  const field = (label, input) => el("label", {}, el("span", { text: label }), " ", input);
  const name = el("input", { value: token.name, maxlength: "128", required: true, "aria-label": t("Name") });
  const models = el("input", { value: token.allowed_models.join(", "), "aria-label": t("Allowed models") });
  const rpm = el("input", { type: "number", min: "0", value: String(token.rpm_limit), "aria-label": t("RPM limit") });
  const tag = el("input", { value: token.key_tag, maxlength: "128", "aria-label": t("Key tag") });
  const error = el("span", { class: "field-error" });
  const cancel = () => loadTokens().catch(failed);
  const form = el(
    "form",
    { class: "token-edit" },
    field(t("Name"), name),
    field(t("Allowed models"), models),
    field(t("RPM limit"), rpm),
    field(t("Key tag"), tag),
    el("button", { type: "submit", text: t("Save") }),
    el("button", { type: "button", class: "secondary", text: t("Cancel"), onclick: cancel }),
    error
  );
  form.addEventListener("keydown", (event) => event.key === "Escape" && cancel());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const patch = { name: name.value.trim(), allowed_models: modelList(models.value), rpm_limit: Number(rpm.value || 0), key_tag: tag.value.trim() };
    try {
      await api("PATCH", `/tokens/${token.id}`, patch);
      flash(t("Saved the token of {name}.", { name: patch.name }));
      await loadTokens();
    } catch (err) {
      error.textContent = describe(err);
    }
  });
  setTimeout(() => name.focus(), 0);
  return el("tr", { class: "editing" }, el("td", { text: String(token.id) }), el("td", { colspan: "9" }, form));
}

async function loadTokens() {
  const tokens = await api("GET", "/tokens");
  const body = $("#tokens-table tbody");
  body.replaceChildren(...tokens.map(tokenRow));
  if (!tokens.length) body.append(el("tr", {}, el("td", { colspan: "10", class: "muted", text: t("No team tokens.") })));
}
loaders.tokens = loadTokens;

async function tokenChange(token, patch) {
  try {
    await api("PATCH", `/tokens/${token.id}`, patch);
  } catch (err) {
    failed(err);
  }
  await loadTokens().catch(failed);
}

async function tokenDelete(token) {
  if (!confirm(t("Delete the token of {name}? Its team loses access at once.", { name: token.name }))) return;
  try {
    await api("DELETE", `/tokens/${token.id}`);
    flash(t("Deleted the token of {name}.", { name: token.name }));
  } catch (err) {
    failed(err);
  }
  await loadTokens().catch(failed);
}

$("#token-create").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#token-create-error").textContent = "";
  try {
    const created = await api("POST", "/tokens", {
      name: $("#token-name").value.trim(),
      allowed_models: modelList($("#token-models").value),
      rpm_limit: Number($("#token-rpm").value || 0),
      key_tag: $("#token-tag").value.trim(),
    });
    $("#token-secret-value").textContent = created.secret;
    $("#token-secret").hidden = false;
    for (const id of ["#token-name", "#token-models", "#token-tag"]) $(id).value = "";
    $("#token-rpm").value = "0";
    await loadTokens();
  } catch (err) {
    $("#token-create-error").textContent = describe(err);
  }
});
$("#token-secret-copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("#token-secret-value").textContent);
    flash(t("Copied."));
  } catch (err) {
    flash(t("Copy it by hand: select the token above."), true);
  }
});
$("#token-secret-close").addEventListener("click", () => {
  $("#token-secret-value").textContent = "";
  $("#token-secret").hidden = true;
});

// ---------------------------------------------------------------- export / import

function importSummary(result) {
  return t("Imported: {settings} setting(s) changed; keys {keys_added} added, {keys_updated} updated; tokens {tokens_added} added, {tokens_updated} updated.", {
    settings: result.settings_changed,
    ...result,
  });
}

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
    out.textContent = t("That file is not JSON: {why}", { why: err.message });
    return;
  }
  // The same words as the page: what the file holds replaces or is added; nothing else is deleted.
  if (!confirm(t("Import this file? Each setting in it replaces its current value; its keys and tokens are added or updated; nothing missing from the file is deleted."))) return;
  try {
    out.textContent = importSummary(await api("POST", "/import", document_));
    loaded.clear();
    loaded.add("data");
  } catch (err) {
    out.textContent = t("Nothing was imported: {why}", { why: describe(err) });
  }
  out.hidden = false;
  $("#import-file").value = "";
});
