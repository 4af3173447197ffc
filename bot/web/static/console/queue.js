// Hàng chờ: the queue of conversations waiting for staff, by time left, and the open
// conversation beside it (on a phone: the list, then the conversation full width).

import { openConversation } from "./conversation.js";
import {
  focusHeading,
  formatShortDateTime,
  h,
  MODES,
  label,
  placeLabel,
  timeLeft,
} from "./dom.js";
import { loadFaq, refreshQueue, secondsLeftNow, subscribeQueue, topicLabel } from "./store.js";

const TICK_MS = 30_000; // the "còn … phút" texts count down between fetches

function holderText(item) {
  if (item.holder) return `${item.holder} đang xử lý`;
  return item.mode === "waiting_staff" ? "Chưa ai nhận" : label(MODES, item.mode);
}

/** The deadline sweep's warning that the platform's reply window is about to close. */
function windowWarning(item) {
  const closes = item.warnings && item.warnings.window;
  if (!closes) return null;
  const at = new Date(closes).toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit" });
  return h("p", { class: "qi-warning" }, `Khung nhắn tin của nền tảng đóng lúc ${at}`);
}

function itemContent(item) {
  const left = timeLeft(secondsLeftNow(item));
  const topic = topicLabel(item.topic);
  return [
    h(
      "div",
      { class: "qi-top" },
      h("span", { class: `time-left level-${left.level}`, "data-time-left": "" }, left.text),
      h("span", { class: "qi-place" }, placeLabel(item.channel, item.page_id)),
    ),
    h("p", { class: "qi-message" }, item.last_message || "(không có nội dung chữ)"),
    windowWarning(item),
    h(
      "div",
      { class: "qi-meta" },
      h("span", { class: "qi-topic" }, topic ? `Chủ đề: ${topic}` : "Chưa rõ chủ đề"),
      h("span", { class: item.holder ? "qi-holder is-held" : "qi-holder" }, holderText(item)),
    ),
  ];
}

/** Mount the queue (and the conversation `param`, if any) in `root`. */
export function mount(root, ctx, param) {
  const list = h("ol", { class: "queue-list", "aria-labelledby": "queue-title" });
  const summary = h("p", { class: "queue-summary muted", "aria-live": "polite" }, "Đang tải…");
  const error = h("p", { class: "form-error", role: "alert" });
  const refreshButton = h(
    "button",
    { type: "button", class: "btn btn-small", onclick: () => refreshQueue() },
    "Làm mới",
  );
  const queuePane = h(
    "section",
    { class: "queue-pane", "aria-labelledby": "queue-title" },
    h(
      "div",
      { class: "pane-head" },
      h("h1", { id: "queue-title", tabindex: "-1", "data-focus-on-open": "" }, "Hàng chờ"),
      refreshButton,
    ),
    summary,
    error,
    list,
  );
  const convoPane = h("section", { class: "convo-pane", "aria-label": "Cuộc trò chuyện" });
  const workspace = h("div", { class: "workspace" }, queuePane, convoPane);
  root.append(workspace);

  let items = [];
  let openId = null;
  let conversation = null;

  function renderList() {
    const rows = items.map((item) =>
      h(
        "li",
        { class: "queue-row" },
        h(
          "a",
          {
            href: `#/queue/${item.id}`,
            class: `queue-item level-${timeLeft(secondsLeftNow(item)).level}`,
            "data-conversation": item.id,
            "aria-current": item.id === openId ? "true" : null,
          },
          itemContent(item),
        ),
      ),
    );
    // Keep the keyboard focus on the same conversation when the list is redrawn.
    const focused = document.activeElement?.closest?.("[data-conversation]");
    list.replaceChildren(...rows);
    if (focused && list.contains(focused) === false) {
      const again = list.querySelector(`[data-conversation="${focused.dataset.conversation}"]`);
      if (again) again.focus({ preventScroll: true });
    }
    if (!items.length) {
      list.append(
        h(
          "li",
          { class: "queue-empty" },
          "Hàng chờ trống: không có cuộc trò chuyện nào cần cán bộ trả lời.",
        ),
      );
    }
  }

  function onQueue(queue) {
    error.textContent = queue.error ? queue.error.message : "";
    if (!queue.loaded) return;
    items = queue.conversations;
    const overdue = items.filter((i) => timeLeft(secondsLeftNow(i)).level === "overdue").length;
    summary.textContent =
      `${items.length} cuộc trò chuyện` +
      (overdue ? `, ${overdue} quá hạn` : "") +
      ` · cập nhật lúc ${formatShortDateTime(queue.at.toISOString())}`;
    renderList();
  }

  function tick() {
    for (const link of list.querySelectorAll("[data-conversation]")) {
      const item = items.find((i) => String(i.id) === link.dataset.conversation);
      if (!item) continue;
      const left = timeLeft(secondsLeftNow(item));
      const badge = link.querySelector("[data-time-left]");
      badge.textContent = left.text;
      badge.className = `time-left level-${left.level}`;
      link.className = `queue-item level-${left.level}`;
    }
  }

  function open(id) {
    openId = id;
    workspace.classList.toggle("has-open", id !== null);
    for (const link of list.querySelectorAll("[data-conversation]")) {
      if (link.dataset.conversation === String(id)) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
    if (conversation) conversation.destroy();
    conversation = null;
    convoPane.replaceChildren();
    if (id === null) {
      convoPane.append(
        h(
          "div",
          { class: "convo-placeholder" },
          h("p", {}, "Chọn một cuộc trò chuyện trong hàng chờ để xem và trả lời."),
        ),
      );
      return;
    }
    conversation = openConversation(convoPane, ctx, id);
  }

  const unsubscribe = subscribeQueue(onQueue);
  const onLive = () => conversation && conversation.refresh();
  ctx.bus.addEventListener("queue", onLive);
  const ticker = setInterval(tick, TICK_MS);
  // Topics read better as the FAQ question than as a slug; the queue works without it.
  loadFaq().then(renderList, () => {});

  const initial = param === null ? null : Number(param);
  open(initial);
  if (initial === null) focusHeading(root);

  return {
    update(next) {
      const previous = openId;
      open(next === null ? null : Number(next));
      if (next === null) {
        // Back from a conversation (on a phone): return to where the user was in the list.
        const back =
          list.querySelector(`[data-conversation="${previous}"]`) || list.querySelector("a");
        if (back) back.focus({ preventScroll: true });
      }
    },
    unmount() {
      unsubscribe();
      ctx.bus.removeEventListener("queue", onLive);
      clearInterval(ticker);
      if (conversation) conversation.destroy();
    },
  };
}
