// Small DOM helpers and the Vietnamese wording and formats shared by the console's screens.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(node, attrs, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  // Attributes after the children, so that `value` can pick an <option> of a <select>.
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "text") {
      node.textContent = value;
    } else if (key === "value" && "value" in node) {
      node.value = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  return node;
}

/** An HTML element: `h("button", { type: "button", onclick }, "Gửi")`. Text is never HTML. */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element, like `h`. */
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Run `fn` once typing pauses for `ms` milliseconds. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

let toastTimer = null;

/** A short message in the corner (role="status", read out by screen readers). */
export function notify(message, kind = "ok") {
  const toast = document.getElementById("toast");
  toast.textContent = message;
  toast.dataset.kind = kind;
  toast.classList.add("is-shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toast.classList.remove("is-shown"), 5000);
}

/** Put a view's heading in focus after navigation (screen readers announce the new screen). */
export function focusHeading(root) {
  const heading = root.querySelector("[data-focus-on-open]");
  if (heading) heading.focus({ preventScroll: true });
}

// ----- Labels ---------------------------------------------------------------------------------

export const CHANNELS = { facebook: "Facebook", zalo: "Zalo", sandbox: "Chat thử" };
export const MODES = {
  waiting_staff: "Chờ cán bộ",
  staff: "Cán bộ đang xử lý",
  bot: "Bot đang trả lời",
  closed: "Đã đóng",
};
export const AUTHORS = { member: "Thành viên", bot: "Bot", staff: "Cán bộ", system: "Hệ thống" };
export const CATEGORIES = {
  policy: "Chính sách",
  welfare: "Phúc lợi, bảo hiểm",
  law: "Pháp luật lao động",
  union: "Công đoàn",
};
export const FLAGS = {
  stale: "Cần rà soát",
  newer_rule: "Có quy định mới",
  unreviewed: "Chưa rà soát",
  uncertain: "Chưa chắc chắn",
  sensitive: "Nhạy cảm",
  expired: "Hết hiệu lực",
  not_yet_effective: "Chưa có hiệu lực",
  draft: "Bản nháp",
  edited: "Đã sửa trên bàn làm việc",
};
export const ROLES = { admin: "Quản trị", staff: "Cán bộ" };

export const label = (table, key) => (key in table ? table[key] : key);
export const channelLabel = (channel) => label(CHANNELS, channel);

/** "Facebook · trang 1234": where a conversation happens. */
export function placeLabel(channel, pageId) {
  return `${channelLabel(channel)} · trang ${pageId}`;
}

// ----- Time -----------------------------------------------------------------------------------

// Staff work in Vietnam: times are shown there whatever the laptop's time zone.
const TZ = "Asia/Ho_Chi_Minh";
const PARTS = new Intl.DateTimeFormat("en-GB", {
  timeZone: TZ,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

function partsOf(date) {
  const parts = {};
  for (const part of PARTS.formatToParts(date)) parts[part.type] = part.value;
  return parts;
}

/** "22/11/2026 09:05" (Vietnam time). */
export function formatDateTime(iso) {
  if (!iso) return "";
  const p = partsOf(new Date(iso));
  return `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}`;
}

/** "09:05" today, "22/11 09:05" this year, else the full date and time. */
export function formatShortDateTime(iso) {
  if (!iso) return "";
  const p = partsOf(new Date(iso));
  const today = partsOf(new Date());
  if (p.year === today.year && p.month === today.month && p.day === today.day) {
    return `${p.hour}:${p.minute}`;
  }
  if (p.year === today.year) return `${p.day}/${p.month} ${p.hour}:${p.minute}`;
  return `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}`;
}

/**
 * "2025-07-01" → "01/07/2025". A full instant ("2026-10-31T17:00:00+00:00") gives its date
 * in Vietnam ("01/11/2026").
 */
export function formatDate(isoDate) {
  if (!isoDate) return "";
  const text = String(isoDate);
  if (text.length > 10) {
    const p = partsOf(new Date(text));
    return `${p.day}/${p.month}/${p.year}`;
  }
  const [year, month, day] = text.split("-");
  return day ? `${day}/${month}/${year}` : text;
}

/** The current month in Vietnam as "YYYY-MM". */
export function currentMonth() {
  const p = partsOf(new Date());
  return `${p.year}-${p.month}`;
}

function span(minutes) {
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  if (days) return hours ? `${days} ngày ${hours} giờ` : `${days} ngày`;
  if (hours) return mins ? `${hours} giờ ${mins} phút` : `${hours} giờ`;
  return `${mins} phút`;
}

/**
 * Time left before the reply deadline: `{ text: "còn 5 giờ 12 phút", level }` where level is
 * "overdue" (red), "urgent" (under 2 hours, orange), "soon" (under 6 hours, yellow), "ok" or
 * "none" (no deadline).
 */
export function timeLeft(seconds) {
  if (seconds === null || seconds === undefined) return { text: "chưa có hạn", level: "none" };
  const minutes = Math.floor(Math.abs(seconds) / 60);
  if (seconds <= 0) {
    return { text: minutes < 1 ? "vừa quá hạn" : `quá hạn ${span(minutes)}`, level: "overdue" };
  }
  const level = seconds < 2 * 3600 ? "urgent" : seconds < 6 * 3600 ? "soon" : "ok";
  return { text: minutes < 1 ? "còn dưới 1 phút" : `còn ${span(minutes)}`, level };
}

// ----- Numbers --------------------------------------------------------------------------------

const INTEGER = new Intl.NumberFormat("vi-VN");
const ONE_DECIMAL = new Intl.NumberFormat("vi-VN", {
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});
export const MISSING = "–";

/** 1234 → "1.234". */
export const formatInt = (n) => (n === null || n === undefined ? MISSING : INTEGER.format(n));
/** 0.6667 → "66,7 %" (the Vietnamese decimal comma, as in the exported reports). */
export const formatShare = (share) =>
  share === null || share === undefined ? MISSING : `${ONE_DECIMAL.format(share * 100)} %`;
/** 5.25 → "5,3 giờ". */
export const formatHours = (hours) =>
  hours === null || hours === undefined ? MISSING : `${ONE_DECIMAL.format(hours)} giờ`;
