// gempool admin panel: English and Chinese. The English text is the key; ZH holds its translation.
// The language comes from the browser (navigator.languages) until the operator picks one with the
// switch, which is remembered in localStorage.
"use strict";

const LANGUAGE_KEY = "gempool-admin-language";
let language = "en";

const ZH = {
  // ZH_BEGIN
  "Admin token (AUTH_TOKEN)": "管理令牌（AUTH_TOKEN）",
  "Log in": "登录",
  "The token in effect is the one stored in the database. Changing the AUTH_TOKEN environment variable after the first start has no effect; change it here, under Settings.": "生效的是数据库中保存的令牌。首次启动后再修改 AUTH_TOKEN 环境变量不会生效；请在本面板的“设置”中修改。",
  "Overview": "概览",
  "Keys": "密钥",
  "Tokens": "令牌",
  "Logs": "日志",
  "Statistics": "统计",
  "Settings": "设置",
  "Export / import": "导出 / 导入",
  "Log out": "退出登录",
  "Refresh": "刷新",
  "Keys by state": "各状态的密钥",
  "Add keys": "添加密钥",
  "Kind": "类型",
  "Tags": "标签",
  "Add": "添加",
  "Search": "搜索",
  "Tag": "标签",
  "State": "状态",
  "any": "全部",
  "active": "可用",
  "cooling": "冷却中",
  "retired": "已停用",
  "disabled": "已禁用",
  "Pool": "池",
  "Sort": "排序",
  "id": "ID",
  "key": "密钥",
  "state": "状态",
  "most failures": "失败最多",
  "most used today": "今日用量最多",
  "least used today": "今日用量最少",
  "latest retired": "最近停用",
  "Act on": "操作对象",
  "selected keys": "选中的密钥",
  "every key matching the search": "搜索匹配的全部密钥",
  "Verify": "验证",
  "Reset": "重置",
  "Enable": "启用",
  "Disable": "禁用",
  "Delete": "删除",
  "Add tag": "添加标签",
  "Remove tag": "移除标签",
  "Verify all retired keys": "验证全部已停用密钥",
  "Key": "密钥",
  "Reason": "原因",
  "Failures": "连续失败",
  "Last error": "最近错误",
  "Cooldowns": "冷却",
  "Uses (min / day)": "用量（分钟 / 天）",
  "Actions": "操作",
  "← Previous": "← 上一页",
  "Next →": "下一页 →",
  "Team name": "团队名称",
  "Allowed models": "允许的模型",
  "RPM limit": "每分钟请求上限",
  "Key tag": "密钥标签",
  "Create token": "创建令牌",
  "Copy this token now. It is shown only this once; gempool keeps only its digest.": "请立即复制此令牌。它只显示这一次；gempool 只保存其摘要。",
  "Copy": "复制",
  "I have copied it": "我已复制",
  "Tokens listed in the ALLOWED_TOKENS setting appear here as allowed-token-N: rename, limit or disable them like any other.": "ALLOWED_TOKENS 设置中的令牌在此显示为 allowed-token-N：可像其他令牌一样改名、限流或禁用。",
  "Id": "ID",
  "Name": "名称",
  "Enabled": "启用",
  "Models": "模型",
  "RPM": "RPM",
  "Token": "令牌",
  "Created": "创建时间",
  "Last used": "最近使用",
  "requests": "请求",
  "errors": "错误",
  "From": "从",
  "To": "到",
  "Model": "模型",
  "Status": "状态码",
  "failed only": "仅失败",
  "auto-refresh (5 s)": "自动刷新（5 秒）",
  "Older →": "更早 →",
  "Range": "范围",
  "last hour": "最近一小时",
  "last day": "最近一天",
  "last 7 days": "最近 7 天",
  "last 30 days": "最近 30 天",
  "No unsaved changes.": "没有未保存的更改。",
  "Save changes": "保存更改",
  "Discard": "放弃",
  "Reload": "重新加载",
  "Settings live in the database and take effect on every gateway a moment after you save. Environment variables only seed the database on the very first start.": "设置保存在数据库中，保存后片刻即在所有网关生效。环境变量只在首次启动时写入数据库。",
  "Export": "导出",
  "The export file holds every setting, whole upstream keys and the admin token. Treat it as a secret.": "导出文件包含全部设置、完整的上游密钥和管理令牌，请妥善保密。",
  "Download export": "下载导出文件",
  "Import": "导入",
  "Importing adds to what is here and replaces what the file also holds: each setting in the file replaces its current value, keys and tokens in the file are added or updated, and nothing missing from the file is deleted. All or nothing. An imported AUTH_TOKEN replaces the current one and ends every admin session.": "导入会在现有数据上添加，并替换文件中同样存在的内容：文件中的每项设置替换其当前值，文件中的密钥和令牌被添加或更新，文件中没有的内容不会被删除。要么全部成功，要么全部不变。导入的 AUTH_TOKEN 会替换当前管理令牌并结束所有管理会话。",
  "One key per line, or separated by commas": "每行一个密钥，或用逗号分隔",
  "comma separated": "逗号分隔",
  "visible part, tag, reason": "可见部分、标签、原因",
  "tag": "标签",
  "empty: all; e.g. gemini-2.5-*, gemini-2.0-flash": "留空：全部；例如 gemini-2.5-*, gemini-2.0-flash",
  "empty: any key; e.g. team-a": "留空：任意密钥；例如 team-a",
  "name or its beginning": "名称或其开头",
  "Search settings": "搜索设置",
  "yes": "是",
  "no": "否",
  "all": "全部",
  "no limit": "不限",
  "any key": "任意密钥",
  "never": "从未",
  "edit": "编辑",
  "disable": "禁用",
  "enable": "启用",
  "delete": "删除",
  "Save": "保存",
  "Cancel": "取消",
  "Saved the token of {name}.": "已保存 {name} 的令牌。",
  "No team tokens.": "没有团队令牌。",
  "Delete the token of {name}? Its team loses access at once.": "删除 {name} 的令牌？该团队将立即失去访问权限。",
  "Deleted the token of {name}.": "已删除 {name} 的令牌。",
  "Copied.": "已复制。",
  "Copy it by hand: select the token above.": "请手动复制：选中上面的令牌。",
  "Imported: {settings} setting(s) changed; keys {keys_added} added, {keys_updated} updated; tokens {tokens_added} added, {tokens_updated} updated.": "已导入：{settings} 项设置已更改；密钥新增 {keys_added} 个、更新 {keys_updated} 个；令牌新增 {tokens_added} 个、更新 {tokens_updated} 个。",
  "That file is not JSON: {why}": "该文件不是 JSON：{why}",
  "Import this file? Each setting in it replaces its current value; its keys and tokens are added or updated; nothing missing from the file is deleted.": "导入此文件？其中每项设置替换当前值；其中的密钥和令牌被添加或更新；文件中没有的内容不会被删除。",
  "Nothing was imported: {why}": "未导入任何内容：{why}",
  "{n} calls": "{n} 次调用",
  "{n} failed": "{n} 次失败",
  "request failed ({status})": "请求失败（{status}）",
  "The gateway cannot be reached: {why}": "无法连接网关：{why}",
  "Your session has ended. Log in again.": "会话已结束，请重新登录。",
  "session until {time}": "会话有效至 {time}",
  "via {how}": "认证方式：{how}",
  "Open this page in its own browser tab: the admin session cookie is not sent inside an embedded frame.": "请在单独的浏览器标签页中打开此页面：嵌入的框架中不会发送管理会话 Cookie。",
  "That is not the admin token in effect. The token stored in the database wins over the AUTH_TOKEN environment variable.": "这不是当前生效的管理令牌。数据库中保存的令牌优先于 AUTH_TOKEN 环境变量。",
  "Too many wrong admin tokens from your address: admin sign-in is locked for a while.": "你的地址输入错误管理令牌次数过多：管理登录已暂时锁定。",
  "The token was accepted but your browser did not keep the session cookie. Allow cookies for this site, open the page directly (not embedded), and serve it over HTTPS if the gateway is behind an HTTPS proxy (X-Forwarded-Proto).": "令牌正确，但浏览器没有保存会话 Cookie。请允许本站 Cookie，直接打开本页（不要嵌入），若网关在 HTTPS 代理之后请通过 HTTPS 访问（X-Forwarded-Proto）。",
  "You have unsaved setting changes. Log out and lose them?": "有未保存的设置更改。退出并放弃它们？",
  "Logged out.": "已退出登录。",
  "Switching the language reloads the settings and drops your unsaved changes. Continue?": "切换语言会重新加载设置并放弃未保存的更改。继续？",
  "enabled": "启用",
  "enter a number": "请输入数字",
  "One entry per line.": "每行一项。",
  "not valid JSON: {why}": "不是有效的 JSON：{why}",
  "The environment variable is ignored: the database value is in effect.": "环境变量被忽略：生效的是数据库中的值。",
  "Notices and advice ({n})": "提示与建议（{n}）",
  "source: {source}": "来源：{source}",
  "by {who}": "修改者 {who}",
  "at {time}": "于 {time}",
  "secret: shown masked; masked entries are kept as stored": "机密：以掩码显示；保持掩码的条目按原值保存",
  "default: {value}": "默认值：{value}",
  "History": "历史",
  "The environment variable is ignored.": "环境变量被忽略。",
  "{name} is set to another value in the config service's environment, but after the first start the database wins: the value shown here is the one in effect. Change it here (and save), or make the environment match to silence this notice.": "配置服务的环境变量中 {name} 是另一个值，但首次启动后以数据库为准：这里显示的才是生效值。请在此修改（并保存），或让环境变量一致以消除此提示。",
  "Loading history…": "正在加载历史…",
  "No changes recorded.": "没有更改记录。",
  "Restore this value": "恢复此值",
  "When": "时间",
  "Who": "操作者",
  "Old": "旧值",
  "New": "新值",
  "Restoring reloads the settings and drops your unsaved changes. Continue?": "恢复会重新加载设置并放弃未保存的更改。继续？",
  "Store {name} = {value} again?": "重新保存 {name} = {value}？",
  "{name} restored (revision {revision}).": "{name} 已恢复（版本 {revision}）。",
  "Fix the fields marked in red.": "请修正标红的字段。",
  "{n} unsaved change(s): nothing takes effect until you press Save.": "{n} 项未保存的更改：按“保存更改”后才会生效。",
  "Reloading drops your unsaved changes. Continue?": "重新加载会放弃未保存的更改。继续？",
  "Saved {n} setting(s) (revision {revision}). Gateways apply them within seconds.": "已保存 {n} 项设置（版本 {revision}）。网关将在数秒内应用。",
  "Nothing was saved.": "未保存任何内容。",
  "Every usable key of the {pool} pool is cooling for {model} (until {time} at the earliest).": "{pool} 池的所有可用密钥都在为 {model} 冷却（最早到 {time}）。",
  "all models": "所有模型",
  "{count} keys were retired in the last hour.": "最近一小时有 {count} 个密钥被停用。",
  "Logs have not reached the database for {seconds} s; {records} records are waiting.": "日志已有 {seconds} 秒未写入数据库；{records} 条记录在等待。",
  "show keys": "查看密钥",
  "Total": "合计",
  "No keys yet: add them under Keys.": "还没有密钥：请在“密钥”页添加。",
  "Calls": "调用",
  "(none)": "（无）",
  "No calls.": "没有调用。",
  "as of {time}": "截至 {time}",
  "Calls, last day": "最近一天调用",
  "Success rate": "成功率",
  "Answered 429": "返回 429",
  "Retried": "重试过",
  "Errors logged": "错误日志",
  "Calls, last hour": "最近一小时调用",
  "Top models by calls (30 days)": "调用最多的模型（30 天）",
  "Top teams by calls (30 days)": "调用最多的团队（30 天）",
  "Top models by tokens (30 days)": "Token 最多的模型（30 天）",
  "Top teams by tokens (30 days)": "Token 最多的团队（30 天）",
  "Last hour, by minute": "最近一小时（按分钟）",
  "Last day, by hour": "最近一天（按小时）",
  "Last 30 days, by day": "最近 30 天（按天）",
  "{model} until {time} ({reason})": "{model} 冷却至 {time}（{reason}）",
  "verify": "验证",
  "reset": "重置",
  "history": "用量",
  "untag": "移除标签",
  "No keys.": "没有密钥。",
  "{first}–{last} of {total}": "第 {first}–{last} 个，共 {total} 个",
  "0 of {total}": "0 个，共 {total} 个",
  "Verifying…": "正在验证…",
  "Verifying: {done} of {total} ({ok} ok, {failed} failed)": "正在验证：{done}/{total}（{ok} 个正常，{failed} 个失败）",
  "Verified {n} key(s): {ok} ok, {failed} failed, {retired} retired.": "已验证 {n} 个密钥：{ok} 个正常，{failed} 个失败，{retired} 个已停用。",
  "ok": "正常",
  "failed, retired: {why}": "失败，已停用：{why}",
  "failed: {why}": "失败：{why}",
  "Select keys first.": "请先选择密钥。",
  "Delete {n} key(s)? This cannot be undone.": "删除 {n} 个密钥？此操作无法撤销。",
  "{action} every key matching the search ({n})?": "对搜索匹配的全部密钥（{n} 个）执行“{action}”？",
  "Deleted {n} key(s).": "已删除 {n} 个密钥。",
  "Reset {n} key(s).": "已重置 {n} 个密钥。",
  "Type a tag first.": "请先输入标签。",
  "Tags changed on {n} key(s).": "已修改 {n} 个密钥的标签。",
  "; {n} not found": "；{n} 个未找到",
  "Enabled {n} key(s)": "已启用 {n} 个密钥",
  "Disabled {n} key(s)": "已禁用 {n} 个密钥",
  "Usage of {key}, last day": "{key} 最近一天的用量",
  "{calls} calls, {rate} success, {tokens} tokens": "{calls} 次调用，成功率 {rate}，{tokens} 个 token",
  "Calls per hour": "每小时调用",
  "Close": "关闭",
  "Verify every retired key?": "验证全部已停用的密钥？",
  "Received {received}: {added} added, {existing} already known.": "收到 {received} 个：新增 {added} 个，已存在 {existing} 个。",
  "details": "详情",
  "Nothing logged.": "没有日志。",
  "Request body": "请求体",
  "(no key: the call never got one)": "（无密钥：该调用未分配到密钥）",
  "Success": "成功",
  "Tokens in": "输入 token",
  "Tokens out": "输出 token",
  "Average latency": "平均延迟",
  "By model": "按模型",
  "By key": "按密钥",
  "By token": "按令牌",
  "Code": "错误码",
  "Message": "消息",
  "Dialect": "接口",
  "Attempts": "尝试次数",
  "Latency s": "延迟（秒）",
  "Key id": "密钥 ID",
  "First byte s": "首字节（秒）",
  "Request id": "请求 ID",
  "Tokens used": "Token 用量",
  "Error log {id}": "错误日志 {id}",
  "Request log {id}": "请求日志 {id}",
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
