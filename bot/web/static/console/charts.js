// Charts drawn as inline SVG (no library). Each chart has a <title> for screen readers, and
// every value is also written as text next to its bar, so colour is never the only cue.
// Colours come from console.css through the classes (chart-bar, level-*, part-*).

import { h, s } from "./dom.js";

const WIDTH = 400; // viewBox units; the SVG scales to its box (font sizes scale with it)

/**
 * Vertical bars. `items`: [{ label, sublabel?, value (number or null), text, cls? }].
 * `max` is the top of the scale (100 for shares).
 */
export function barChart({ title, items, max, height = 220 }) {
  const top = 22;
  const bottom = items.some((i) => i.sublabel) ? 44 : 30;
  const plot = height - top - bottom;
  const slot = WIDTH / Math.max(items.length, 1);
  const barWidth = Math.min(48, slot * 0.62);
  const chart = s(
    "svg",
    { class: "chart", viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": title },
    s("title", {}, title),
    s("line", { class: "chart-axis", x1: 0, x2: WIDTH, y1: top + plot, y2: top + plot }),
  );
  items.forEach((item, index) => {
    const centre = slot * index + slot / 2;
    const value = item.value === null || item.value === undefined ? null : item.value;
    const barHeight = value && max > 0 ? Math.max((value / max) * plot, 2) : 0;
    const y = top + plot - barHeight;
    chart.append(
      s(
        "rect",
        {
          class: `chart-bar ${item.cls || ""}`,
          x: centre - barWidth / 2,
          y,
          width: barWidth,
          height: barHeight,
          rx: 3,
        },
        s("title", {}, `${item.label}${item.sublabel ? ` ${item.sublabel}` : ""}: ${item.text}`),
      ),
      s("text", { class: "chart-value", x: centre, y: y - 6, "text-anchor": "middle" }, item.text),
      s(
        "text",
        { class: "chart-label", x: centre, y: top + plot + 18, "text-anchor": "middle" },
        item.label,
      ),
    );
    if (item.sublabel) {
      chart.append(
        s(
          "text",
          { class: "chart-sublabel", x: centre, y: top + plot + 34, "text-anchor": "middle" },
          item.sublabel,
        ),
      );
    }
  });
  return chart;
}

/**
 * One horizontal bar split into parts, with a legend underneath.
 * `parts`: [{ label, value, text, cls }].
 */
export function stackedBar({ title, parts }) {
  const total = parts.reduce((sum, part) => sum + part.value, 0);
  const height = 56;
  const chart = s(
    "svg",
    {
      class: "chart chart-stacked",
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: "img",
      "aria-label": title,
    },
    s("title", {}, title),
  );
  let x = 0;
  for (const part of parts) {
    if (!part.value) continue;
    const width = (part.value / total) * WIDTH;
    chart.append(
      s(
        "rect",
        { class: `chart-part ${part.cls}`, x, y: 8, width, height: 40 },
        s("title", {}, `${part.label}: ${part.text}`),
      ),
    );
    if (width > 44) {
      chart.append(
        s(
          "text",
          { class: "chart-part-text", x: x + width / 2, y: 33, "text-anchor": "middle" },
          `${Math.round((part.value / total) * 100)} %`,
        ),
      );
    }
    x += width;
  }
  const legend = h(
    "ul",
    { class: "legend" },
    ...parts.map((part) =>
      h(
        "li",
        {},
        h("span", { class: `legend-swatch ${part.cls}`, "aria-hidden": "true" }),
        `${part.label}: ${part.text}`,
      ),
    ),
  );
  return h("div", { class: "stacked" }, chart, legend);
}
