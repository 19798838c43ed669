// gempool admin panel: bar charts drawn as inline SVG by our own code (no library, nothing fetched).
// A chart is a fixed number of bars (60 minutes, 24 hours or 30 days), so it stays fast whatever the
// data: empty buckets are filled with zeros, each bar is at most two <rect>s (ok, failed).
"use strict";

const SVG_NS = () => document.getElementById("svg-template").namespaceURI;

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS(), tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Buckets starting from `since` to `until` in steps of `step` seconds, aligned like the server's
// series: 60 for an hour by minute, 24 for a day by hour, 30 for 30 days by day.
function fillBuckets(series, since, until, step) {
  const byStart = new Map(series.map((b) => [Math.round(b.start_unix), b.count]));
  const aligned = series.length ? Math.round(series[0].start_unix) : Math.floor(since / step) * step;
  let start = aligned + Math.ceil((since - aligned) / step) * step; // the first bucket starting in range
  const out = [];
  for (; start < until; start += step) {
    const count = byStart.get(start) || { calls: 0, success: 0 };
    out.push({ start, calls: count.calls || 0, failed: (count.calls || 0) - (count.success || 0) });
  }
  return out;
}

// One chart: successful calls and failed ones stacked per bucket, with a title, axis and tooltips.
function barChart({ title, buckets, label }) {
  const width = 600;
  const height = 160;
  const pad = { left: 36, right: 6, top: 8, bottom: 22 };
  const peak = Math.max(1, ...buckets.map((b) => b.calls));
  const inner = { w: width - pad.left - pad.right, h: height - pad.top - pad.bottom };
  const step = inner.w / Math.max(1, buckets.length);
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart", "aria-label": title });
  svg.append(svgEl("title", {}, title));
  const y = (value) => pad.top + inner.h - (value / peak) * inner.h;
  svg.append(svgEl("line", { x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), class: "axis" }));
  svg.append(svgEl("text", { x: pad.left - 4, y: y(peak) + 4, class: "tick", "text-anchor": "end" }, number(peak)));
  svg.append(svgEl("text", { x: pad.left - 4, y: y(0), class: "tick", "text-anchor": "end" }, "0"));
  buckets.forEach((bucket, n) => {
    const x = pad.left + n * step + step * 0.1;
    const w = Math.max(1, step * 0.8);
    const group = svgEl("g", { class: "bar" });
    const ok = bucket.calls - bucket.failed;
    if (ok > 0) group.append(svgEl("rect", { x, y: y(bucket.calls), width: w, height: y(0) - y(ok), class: "ok" }));
    if (bucket.failed > 0) {
      group.append(svgEl("rect", { x, y: y(bucket.failed), width: w, height: y(0) - y(bucket.failed), class: "failed" }));
    }
    group.append(svgEl("title", {}, `${label(bucket.start)}: ${t("{n} calls", { n: bucket.calls })}, ${t("{n} failed", { n: bucket.failed })}`));
    group.append(svgEl("rect", { x: pad.left + n * step, y: pad.top, width: step, height: inner.h, class: "hit" }));
    svg.append(group);
  });
  const marks = [0, Math.floor(buckets.length / 2), buckets.length - 1];
  for (const n of new Set(marks)) {
    if (!buckets[n]) continue;
    const x = pad.left + n * step + step / 2;
    const anchor = n === 0 ? "start" : n === buckets.length - 1 ? "end" : "middle";
    const at = n === 0 ? pad.left : n === buckets.length - 1 ? width - pad.right : x;
    svg.append(svgEl("text", { x: at, y: height - 6, class: "tick", "text-anchor": anchor }, label(buckets[n].start)));
  }
  return svg;
}
