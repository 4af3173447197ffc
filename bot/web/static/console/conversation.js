// Cuộc trò chuyện: the whole history as chat bubbles, the reply window, take over / hand back /
// close, the reply box with model answers from the FAQ, and FAQ drafts from staff replies.

import { api } from "./api.js";
import {
  AUTHORS,
  debounce,
  formatDateTime,
  formatShortDateTime,
  h,
  label,
  MODES,
  notify,
  placeLabel,
  timeLeft,
} from "./dom.js";
import { faqEntry, queueItem, refreshQueue, searchFaq, secondsLeftNow } from "./store.js";

const MAX_REPLY = 4000;
const DELIVERY_POLL_MS = 2000; // while a reply is being sent, its state is fetched again
const DELIVERY_POLLS = 30;
const TEMPLATE_RESULTS = 8;

const DELIVERY = { pending: "Đang gửi…", sent: "Đã gửi", failed: "Không gửi được" };
const KINDS = {
  image: "[Hình ảnh]",
  file: "[Tệp đính kèm]",
  sticker: "[Nhãn dán]",
  attachment: "[Tệp đính kèm]",
};

/** The model answer as it goes into the reply box: the answer, then its legal source. */
export function templateText(entry) {
  return entry.legal_source ? `${entry.answer}\n\nCăn cứ: ${entry.legal_source}` : entry.answer;
}

/**
 * Show conversation `id` in `pane`. Returns `{ refresh(), destroy() }`: the queue screen
 * refreshes it on live events and destroys it when another one opens.
 */
export function openConversation(pane, ctx, id) {
  let convo = null;
  let busy = false;
  let destroyed = false;
  let loadSeq = 0;
  let deliveryTimer = null;
  let deliveryPolls = 0;
  const drafts = new Map(); // staff message id -> draft id made from it in this view

  // ----- Skeleton (kept across refreshes so the reply being typed is never lost) ------------
  const heading = h(
    "h2",
    { class: "convo-title", tabindex: "-1", "data-focus-on-open": "" },
    `Cuộc trò chuyện #${id}`,
  );
  const sub = h("p", { class: "convo-sub" });
  const backButton = h(
    "button",
    {
      type: "button",
      class: "btn btn-back",
      "aria-label": "Quay lại hàng chờ",
      onclick: () => ctx.navigate("/queue"),
    },
    "‹ Hàng chờ",
  );
  const takeButton = h(
    "button",
    { type: "button", class: "btn btn-primary", onclick: () => act("take") },
    "Nhận xử lý",
  );
  const handBackButton = h(
    "button",
    { type: "button", class: "btn", onclick: () => act("handback") },
    "Trả bot",
  );
  const closeButton = h(
    "button",
    { type: "button", class: "btn", onclick: () => act("close") },
    "Đóng",
  );
  const errorBox = h("p", { class: "form-error convo-error", role: "alert" });
  const history = h("ol", { class: "history", "aria-label": "Lịch sử trò chuyện", tabindex: "0" });
  const note = h("p", { class: "window-note" });

  const textarea = h("textarea", {
    id: `reply-text-${id}`,
    class: "reply-text",
    rows: "3",
    maxlength: String(MAX_REPLY),
    placeholder: "Nhập câu trả lời cho thành viên…",
  });
  const counter = h("span", { class: "reply-counter muted" }, `0/${MAX_REPLY}`);
  const sendButton = h("button", { type: "submit", class: "btn btn-primary" }, "Gửi");
  const hint = h("p", { class: "reply-hint muted", id: `reply-hint-${id}` });
  textarea.setAttribute("aria-describedby", hint.id);

  const templateInput = h("input", {
    id: `template-q-${id}`,
    type: "search",
    placeholder: "Ví dụ: no luong, nghỉ phép năm",
    autocomplete: "off",
  });
  const templateResults = h("ul", { class: "template-results", "aria-live": "polite" });
  const templatePanel = h(
    "div",
    { class: "templates", id: `templates-${id}`, hidden: true },
    h("label", { for: templateInput.id }, "Tìm câu trả lời mẫu (gõ có dấu hoặc không dấu)"),
    templateInput,
    templateResults,
  );
  const templateButton = h(
    "button",
    {
      type: "button",
      class: "btn",
      "aria-expanded": "false",
      "aria-controls": templatePanel.id,
      onclick: () => toggleTemplates(),
    },
    "Chèn câu trả lời mẫu",
  );

  const form = h(
    "form",
    { class: "reply-form", "aria-label": "Khung trả lời" },
    templatePanel,
    h("label", { class: "reply-label", for: textarea.id }, "Trả lời thành viên"),
    textarea,
    h("div", { class: "reply-actions" }, templateButton, counter, sendButton),
    hint,
  );

  pane.append(
    h(
      "div",
      { class: "convo" },
      h(
        "header",
        { class: "convo-head" },
        backButton,
        heading,
        sub,
        h("div", { class: "convo-actions" }, takeButton, handBackButton, closeButton),
      ),
      errorBox,
      history,
      note,
      form,
    ),
  );

  // ----- Rendering ------------------------------------------------------------------------
  function holderText() {
    if (convo.held_by_me) return "Bạn đang xử lý";
    if (convo.holder) return `${convo.holder} đang xử lý`;
    return convo.mode === "waiting_staff" ? "Chưa ai nhận" : "";
  }

  function renderHead() {
    heading.textContent = placeLabel(convo.channel, convo.page_id);
    const item = queueItem(id);
    const left = item ? timeLeft(secondsLeftNow(item)) : null;
    const parts = [
      h("span", { class: `badge mode-${convo.mode}` }, label(MODES, convo.mode)),
      holderText() ? h("span", {}, holderText()) : null,
      left && left.level !== "none"
        ? h("span", { class: `time-left level-${left.level}` }, left.text)
        : null,
      h("span", { class: "muted" }, `#${convo.id}`),
    ];
    sub.replaceChildren(...parts.filter(Boolean)); // (replaceChildren would print "null")
  }

  function deliveryInfo(message) {
    if (!message.delivery) return null;
    return h(
      "span",
      { class: `delivery delivery-${message.delivery}` },
      label(DELIVERY, message.delivery),
    );
  }

  function draftControl(message) {
    if (drafts.has(message.id)) {
      return h("p", { class: "bubble-draft" }, `Đã tạo bản nháp FAQ #${drafts.get(message.id)}.`);
    }
    return h(
      "button",
      {
        type: "button",
        class: "btn btn-small btn-ghost",
        onclick: (event) => createDraft(message, event.currentTarget),
      },
      "Tạo bản nháp FAQ",
    );
  }

  function bubble(message) {
    const who =
      message.author === "staff" && message.staff
        ? `Cán bộ · ${message.staff}`
        : label(AUTHORS, message.author);
    const failed = message.delivery === "failed";
    return h(
      "li",
      {
        class: `bubble from-${message.author}${failed ? " is-failed" : ""}`,
        "data-message": message.id,
      },
      h("span", { class: "bubble-who" }, who),
      h("div", { class: "bubble-text" }, message.text || label(KINDS, message.kind) || ""),
      h(
        "div",
        { class: "bubble-meta" },
        h(
          "time",
          { datetime: message.at, title: formatDateTime(message.at) },
          formatShortDateTime(message.at),
        ),
        deliveryInfo(message),
      ),
      message.error ? h("p", { class: "bubble-error" }, `Lỗi gửi: ${message.error}`) : null,
      message.author === "staff" ? draftControl(message) : null,
    );
  }

  function renderHistory(first) {
    // Follow new messages only when the user is already at the bottom (not reading back).
    const atBottom = history.scrollHeight - history.scrollTop - history.clientHeight < 60;
    const bubbles = convo.messages.map(bubble);
    history.replaceChildren(...bubbles);
    if (!bubbles.length) history.append(h("li", { class: "muted" }, "Chưa có tin nhắn."));
    if (first || atBottom) history.scrollTop = history.scrollHeight;
  }

  function renderControls() {
    const { can_reply: canReply, note: windowNote } = convo.window;
    // The holder acts; admins may also act in a conversation someone else holds or that waits.
    const admin = ctx.me && ctx.me.role === "admin";
    const canAct = convo.held_by_me || (admin && convo.mode !== "bot");
    note.textContent = windowNote || "";
    note.classList.toggle("is-blocked", !canReply);
    takeButton.disabled = busy || convo.held_by_me;
    handBackButton.disabled = busy || !canAct;
    closeButton.disabled = busy || !canAct;
    textarea.disabled = !canReply;
    sendButton.disabled = busy || !canReply || !canAct;
    if (!canReply) hint.textContent = "Không thể trả lời lúc này (xem ghi chú ở trên).";
    else if (!canAct && convo.holder) {
      hint.textContent = `${convo.holder} đang xử lý cuộc trò chuyện này.`;
    } else if (!canAct) hint.textContent = "Bấm “Nhận xử lý” trước khi trả lời.";
    else hint.textContent = "Ctrl + Enter để gửi.";
  }

  function render(first) {
    renderHead();
    renderHistory(first);
    renderControls();
  }

  function showMissing(message) {
    pane.replaceChildren(
      h(
        "div",
        { class: "convo-placeholder" },
        h("p", { role: "alert" }, message),
        h(
          "button",
          { type: "button", class: "btn", onclick: () => ctx.navigate("/queue") },
          "Quay lại hàng chờ",
        ),
      ),
    );
  }

  // ----- Loading --------------------------------------------------------------------------
  function watchDelivery() {
    // A reply goes out through the outbox a moment later: follow it until sent or failed.
    clearTimeout(deliveryTimer);
    const pending = convo.messages.some((m) => m.delivery === "pending");
    if (pending && deliveryPolls < DELIVERY_POLLS && !destroyed) {
      deliveryPolls += 1;
      deliveryTimer = setTimeout(() => load(false), DELIVERY_POLL_MS);
    }
  }

  async function load(first) {
    const seq = ++loadSeq;
    try {
      const data = await api("GET", `/conversations/${id}`);
      if (destroyed || seq !== loadSeq) return;
      convo = data;
      render(first);
      watchDelivery();
    } catch (error) {
      if (destroyed || seq !== loadSeq || error.status === 401) return;
      if (!convo) showMissing(error.message);
      else errorBox.textContent = error.message;
    }
  }

  // ----- Actions --------------------------------------------------------------------------
  const DONE = {
    take: "Bạn đã nhận xử lý cuộc trò chuyện này.",
    handback: "Đã trả cuộc trò chuyện cho bot.",
    close: "Đã đóng cuộc trò chuyện.",
  };

  function setBusy(value) {
    busy = value;
    if (convo) renderControls();
  }

  async function act(action) {
    errorBox.textContent = "";
    setBusy(true);
    try {
      await api("POST", `/conversations/${id}/${action}`);
      notify(DONE[action]);
      refreshQueue();
    } catch (error) {
      errorBox.textContent = error.message;
    } finally {
      setBusy(false);
    }
    await load(false);
    if (action === "take" && convo && convo.held_by_me && !textarea.disabled) textarea.focus();
  }

  async function sendReply() {
    const text = textarea.value.trim();
    errorBox.textContent = "";
    if (!text) {
      errorBox.textContent = "Hãy nhập nội dung trả lời.";
      textarea.focus();
      return;
    }
    setBusy(true);
    try {
      await api("POST", `/conversations/${id}/reply`, { text });
      textarea.value = "";
      updateCounter();
      notify("Đã gửi câu trả lời.");
      deliveryPolls = 0;
      refreshQueue();
    } catch (error) {
      errorBox.textContent = error.message;
    } finally {
      setBusy(false);
    }
    await load(false);
    history.scrollTop = history.scrollHeight;
  }

  async function createDraft(message, button) {
    button.disabled = true;
    try {
      const draft = await api("POST", "/faq/drafts", {
        conversation_id: id,
        message_id: message.id,
      });
      drafts.set(message.id, draft.id);
      notify("Đã tạo bản nháp câu hỏi mẫu từ câu trả lời này.");
      renderHistory(false);
    } catch (error) {
      button.disabled = false;
      notify(error.message, "error");
    }
  }

  function updateCounter() {
    counter.textContent = `${textarea.value.length}/${MAX_REPLY}`;
  }

  // ----- Model answers ("Chèn câu trả lời mẫu") ---------------------------------------------
  let templateSeq = 0;

  async function searchTemplates() {
    const seq = ++templateSeq;
    templateResults.replaceChildren(h("li", { class: "muted" }, "Đang tìm…"));
    let entries;
    try {
      entries = await searchFaq(templateInput.value.trim());
    } catch (error) {
      if (seq === templateSeq) {
        templateResults.replaceChildren(h("li", { class: "form-error" }, error.message));
      }
      return;
    }
    if (seq !== templateSeq || destroyed) return;
    // The conversation's own topic first when nothing is typed.
    const topic = queueItem(id)?.topic;
    if (!templateInput.value.trim() && topic && faqEntry(topic)) {
      entries = [faqEntry(topic), ...entries.filter((e) => e.slug !== topic)];
    }
    const shown = entries.slice(0, TEMPLATE_RESULTS).map((entry) =>
      h(
        "li",
        { class: "template" },
        h(
          "div",
          { class: "template-text" },
          h("strong", {}, entry.question),
          entry.legal_source
            ? h("span", { class: "muted" }, `Căn cứ: ${entry.legal_source}`)
            : null,
        ),
        h(
          "button",
          {
            type: "button",
            class: "btn btn-small",
            "aria-label": `Chèn: ${entry.question}`,
            onclick: () => insertTemplate(entry),
          },
          "Chèn",
        ),
      ),
    );
    templateResults.replaceChildren(
      ...(shown.length ? shown : [h("li", { class: "muted" }, "Không có câu hỏi mẫu phù hợp.")]),
    );
  }

  function insertTemplate(entry) {
    const block = templateText(entry);
    const current = textarea.value.trimEnd();
    textarea.value = current ? `${current}\n\n${block}` : block;
    updateCounter();
    toggleTemplates(false);
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
    textarea.scrollTop = textarea.scrollHeight;
    notify("Đã chèn câu trả lời mẫu. Hãy đọc lại và sửa cho phù hợp trước khi gửi.");
  }

  function toggleTemplates(force) {
    const show = force === undefined ? templatePanel.hidden : force;
    templatePanel.hidden = !show;
    templateButton.setAttribute("aria-expanded", String(show));
    if (show) {
      templateInput.focus();
      searchTemplates();
    }
  }

  templateInput.addEventListener("input", debounce(searchTemplates, 250));
  templateInput.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      toggleTemplates(false);
      templateButton.focus();
    }
  });
  textarea.addEventListener("input", updateCounter);
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!sendButton.disabled) sendReply();
  });

  load(true).then(() => {
    if (!destroyed && pane.contains(heading)) heading.focus({ preventScroll: true });
  });

  return {
    refresh: () => load(false),
    destroy() {
      destroyed = true;
      clearTimeout(deliveryTimer);
    },
  };
}
