// gempool admin panel: English and Chinese. The English text is the key; ZH holds its translation.
// The language comes from the browser (navigator.languages) until the operator picks one with the
// switch, which is remembered in localStorage.
"use strict";

const LANGUAGE_KEY = "gempool-admin-language";
let language = "en";

const ZH = {
  // ZH_BEGIN
  // ZH_END
};

function chosenLanguage() {
  let stored = "";
  try {
    stored = localStorage.getItem(LANGUAGE_KEY) || "";
  } catch (err) {
    /* storage blocked: follow the browser */
  }
  if (stored === "en" || stored === "zh") return stored;
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  for (const tag of wanted) {
    const lower = String(tag).toLowerCase();
    if (lower.startsWith("zh")) return "zh";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

function rememberLanguage(value) {
  try {
    localStorage.setItem(LANGUAGE_KEY, value);
  } catch (err) {
    /* the switch still works for this page */
  }
}

const currentLanguage = () => language;
const locale = () => (language === "zh" ? "zh-CN" : "en-GB");

// The text in the current language, with {name} filled from params.
function t(text, params = {}) {
  const template = language === "zh" && ZH[text] !== undefined ? ZH[text] : text;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (params[name] !== undefined ? String(params[name]) : whole));
}

// Translate the page's fixed text: elements marked data-i18n (their text), data-i18n-placeholder.
function applyLanguage(value) {
  language = value === "zh" ? "zh" : "en";
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
  for (const node of document.querySelectorAll("[data-i18n]")) {
    if (node.dataset.en === undefined) node.dataset.en = node.textContent.trim();
    node.textContent = t(node.dataset.en);
  }
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const select of document.querySelectorAll(".lang-switch")) select.value = language;
}
