// Báo cáo: how well the 24-hour reply promise is kept, for a month of the user's pages
// (GET /reports?month=YYYY-MM; figures as in bot/reports/ledger_report.py).

import { api } from "./api.js";
import { barChart, stackedBar } from "./charts.js";
import {
  CATEGORIES,
  channelLabel,
  currentMonth,
  formatDate,
  formatDateTime,
  formatHours,
  formatInt,
  formatShare,
  h,
  label,
  MISSING,
} from "./dom.js";

let shownMonth = null; // kept while the user visits other screens
const MONTHS_BACK = 36;

const TABLES = [
  ["page", "Theo trang", "Trang", (l) => l],
  ["channel", "Theo kênh", "Kênh", channelLabel],
  ["category", "Theo lĩnh vực", "Lĩnh vực", (l) => label(CATEGORIES, l)],
  ["staff", "Theo cán bộ", "Cán bộ", (l) => l],
];
const COLUMNS = [
  ["total", "Tổng số", formatInt],
  ["answered", "Đã trả lời", formatInt],
  ["answered_in_time", "Đúng hạn", formatInt],
  ["breaches", "Trễ hạn", formatInt],
  ["pending", "Chưa đến hạn", formatInt],
  ["share_in_time", "Tỉ lệ đúng hạn", formatShare],
  ["median_hours", "Trung vị", formatHours],
  ["p90_hours", "P90", formatHours],
];
const BUCKET_LEVELS = ["overdue", "urgent", "soon", "ok", "ok"];
const NOTE =
  "Đã chốt = đã trả lời hoặc đã quá hạn; câu chưa trả lời mà còn hạn không tính vào tỉ lệ. " +
  "Trung vị và P90 theo thứ hạng gần nhất trên thời gian trả lời (giờ).";

function shiftMonth(month, delta) {
  const [year, m] = month.split("-").map(Number);
  const date = new Date(Date.UTC(year, m - 1 + delta, 1));
  return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, "0")}`;
}

function monthLabel(month) {
  return `tháng ${Number(month.slice(5))}/${month.slice(0, 4)}`;
}

function periodText(period, month) {
  if (typeof period === "string") return period;
  if (period && typeof period === "object") {
    const start = period.start || period.from;
    const end = period.end || period.to;
    if (start && end) {
      // The end is exclusive (the next period's first midnight): show the last day included.
      const last = new Date(new Date(end).getTime() - 1).toISOString();
      return `Từ ${formatDate(start)} đến hết ${formatDate(last)} (giờ Việt Nam)`;
    }
    if (period.label) return period.label;
  }
  return `Báo cáo ${monthLabel(month)}`;
}

/** "2026-W47 (16/11)" → ["Tuần 47", "16/11"]. */
function weekLabel(text) {
  const match = /^\d{4}-W(\d+)\s*\(([^)]+)\)/.exec(text);
  return match ? [`Tuần ${Number(match[1])}`, match[2]] : [text, ""];
}

function kpi(title, value, detail, cls = "") {
  return h(
    "div",
    { class: `kpi ${cls}` },
    h("p", { class: "kpi-title" }, title),
    h("p", { class: "kpi-value" }, value),
    detail ? h("p", { class: "kpi-detail muted" }, detail) : null,
  );
}

function card(title, body) {
  return h("figure", { class: "card chart-card" }, h("figcaption", {}, title), body);
}

const empty = (text = "Chưa có dữ liệu trong kỳ này.") => h("p", { class: "muted empty" }, text);

function table(key, title, group, format, rows) {
  if (!rows || !rows.length) return h("section", { class: "card" }, h("h2", {}, title), empty());
  return h(
    "section",
    { class: "card", "aria-labelledby": `table-${key}` },
    h("h2", { id: `table-${key}` }, title),
    // Wide tables scroll inside their box on a phone (focusable, so keyboards can scroll).
    h(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": `table-${key}` },
      h(
        "table",
        { class: "data-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, group),
            ...COLUMNS.map(([, name]) => h("th", { scope: "col", class: "num" }, name)),
          ),
        ),
        h(
          "tbody",
          {},
          ...rows.map(([rowLabel, figures]) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, format(rowLabel)),
              ...COLUMNS.map(([field, , show]) =>
                h("td", { class: "num" }, show(figures[field])),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

function render(target, report, month) {
  const o = report.overall;
  const weeks = (report.breakdowns && report.breakdowns.week) || [];
  const buckets = Object.entries(report.open_by_time_left || {});
  const unanswered = Math.max(o.total - o.by_bot - o.by_staff, 0);

  const weekChart = weeks.length
    ? barChart({
        title: "Tỉ lệ trả lời đúng hạn theo tuần",
        max: 100,
        items: weeks.map(([text, figures]) => {
          const [name, monday] = weekLabel(text);
          const share = figures.share_in_time;
          return {
            label: name,
            sublabel: monday,
            value: share === null ? null : share * 100,
            text: share === null ? MISSING : formatShare(share),
          };
        }),
      })
    : empty();
  const answererChart = o.total
    ? stackedBar({
        title: "Câu hỏi được trả lời bởi bot và cán bộ",
        parts: [
          { label: "Bot", value: o.by_bot, text: formatInt(o.by_bot), cls: "part-bot" },
          { label: "Cán bộ", value: o.by_staff, text: formatInt(o.by_staff), cls: "part-staff" },
          {
            label: "Chưa trả lời",
            value: unanswered,
            text: formatInt(unanswered),
            cls: "part-open",
          },
        ],
      })
    : empty();
  const openTotal = buckets.reduce((sum, [, n]) => sum + n, 0);
  const openChart = openTotal
    ? barChart({
        title: "Câu hỏi còn mở theo thời gian còn lại",
        max: Math.max(...buckets.map(([, n]) => n)),
        items: buckets.map(([bucket, n], index) => ({
          label: bucket,
          value: n,
          text: formatInt(n),
          cls: `level-${BUCKET_LEVELS[index] || "ok"}`,
        })),
      })
    : empty("Không còn câu hỏi nào chưa trả lời.");

  target.replaceChildren(
    h(
      "p",
      { class: "muted period" },
      periodText(report.period, month),
      report.now ? ` · tính lúc ${formatDateTime(report.now)}` : "",
    ),
    h(
      "div",
      { class: "kpis" },
      kpi(
        "Tỉ lệ đúng hạn",
        formatShare(o.share_in_time),
        `${formatInt(o.answered_in_time)}/${formatInt(o.decided)} câu đã chốt`,
      ),
      kpi("Trung vị thời gian trả lời", formatHours(o.median_hours), "một nửa số câu nhanh hơn"),
      kpi("P90 thời gian trả lời", formatHours(o.p90_hours), "90 % số câu nhanh hơn"),
      kpi(
        "Số trễ hạn",
        formatInt(o.breaches),
        "trả lời muộn hoặc quá hạn chưa trả lời",
        o.breaches ? "is-bad" : "",
      ),
    ),
    h(
      "p",
      { class: "kpi-line" },
      `Tổng số câu hỏi: ${formatInt(o.total)} · Đã trả lời: ${formatInt(o.answered)} · ` +
        `Chưa đến hạn: ${formatInt(o.pending)}`,
    ),
    h(
      "div",
      { class: "charts" },
      card("Tỉ lệ đúng hạn theo tuần", weekChart),
      card("Ai trả lời", answererChart),
      card("Còn mở theo thời gian còn lại", openChart),
    ),
    h(
      "div",
      { class: "tables" },
      ...TABLES.map(([key, title, group, format]) =>
        table(key, title, group, format, report.breakdowns && report.breakdowns[key]),
      ),
    ),
    h("p", { class: "muted note" }, NOTE),
  );
}

/** The months staff can pick, newest first (a list rather than the browser's month input,
 * whose wording follows the browser's language, not the page's). */
function monthOptions() {
  const latest = currentMonth();
  return Array.from({ length: MONTHS_BACK }, (_, n) => {
    const value = shiftMonth(latest, -n);
    return h("option", { value }, `Tháng ${Number(value.slice(5))}/${value.slice(0, 4)}`);
  });
}

/** Mount the dashboard in `root`. */
export function mount(root) {
  const month = h(
    "select",
    { id: "report-month", value: shownMonth || currentMonth() },
    monthOptions(),
  );
  const previous = h(
    "button",
    { type: "button", class: "btn", "aria-label": "Tháng trước", onclick: () => step(-1) },
    "‹",
  );
  const next = h(
    "button",
    { type: "button", class: "btn", "aria-label": "Tháng sau", onclick: () => step(1) },
    "›",
  );
  const body = h("div", { class: "report-body", "aria-live": "polite", "aria-busy": "false" });
  const error = h("p", { class: "form-error", role: "alert" });
  let seq = 0;

  async function load() {
    shownMonth = month.value;
    previous.disabled = month.selectedIndex === month.options.length - 1;
    next.disabled = month.selectedIndex === 0;
    const mine = ++seq;
    error.textContent = "";
    body.setAttribute("aria-busy", "true");
    try {
      const report = await api("GET", `/reports?month=${encodeURIComponent(month.value)}`);
      if (mine !== seq) return;
      render(body, report, month.value);
    } catch (failure) {
      if (mine !== seq) return;
      error.textContent = failure.message;
      body.replaceChildren();
    } finally {
      if (mine === seq) body.setAttribute("aria-busy", "false");
    }
  }

  function step(delta) {
    // The list is newest first: an earlier month is further down.
    const index = month.selectedIndex - delta;
    if (index < 0 || index >= month.options.length) return;
    month.selectedIndex = index;
    load();
  }

  root.append(
    h(
      "div",
      { class: "page reports" },
      h(
        "div",
        { class: "page-head" },
        h("h1", { tabindex: "-1", "data-focus-on-open": "" }, "Báo cáo"),
        h(
          "form",
          { class: "month-picker", onsubmit: (e) => (e.preventDefault(), load()) },
          previous,
          h("label", { for: "report-month" }, "Tháng"),
          month,
          next,
        ),
      ),
      error,
      body,
    ),
  );
  month.addEventListener("change", load);
  root.querySelector("h1").focus({ preventScroll: true });
  load();
  return {};
}
