// Câu hỏi mẫu: search the FAQ store, read an entry's flags, edit its answer, legal source and
// effective date, and read the history of changes. Drafts made from staff replies are listed.

import { api } from "./api.js";
import {
  CATEGORIES,
  debounce,
  FLAGS,
  focusHeading,
  formatDate,
  formatDateTime,
  h,
  label,
  notify,
} from "./dom.js";
import { faqEntry, loadFaq, searchFaq, storeFaqEntry } from "./store.js";

const FIELDS = {
  question: "Câu hỏi",
  answer: "Câu trả lời",
  legal_source: "Căn cứ pháp lý",
  effective_from: "Hiệu lực từ",
  effective_note: "Ghi chú hiệu lực",
  category: "Lĩnh vực",
  reviewed: "Rà soát",
  sensitive: "Nhạy cảm",
};

let lastQuery = ""; // kept while the user goes to an entry and back

function badges(entry) {
  const flags = [...(entry.flags || [])];
  if (entry.sensitive && !flags.includes("sensitive")) flags.push("sensitive");
  return flags.map((flag) => h("span", { class: `badge flag-${flag}` }, label(FLAGS, flag)));
}

const mutedLabel = (text) => h("span", { class: "muted" }, text);

function showValue(key, value) {
  if (value === null || value === undefined || value === "") return "(trống)";
  if (typeof value === "boolean") return value ? "có" : "không";
  if (key === "effective_from" || key === "reviewed") return formatDate(value);
  return String(value);
}

/** Mount the FAQ screen in `root`; `param` is the slug of the entry to open, if any. */
export function mount(root, ctx, param) {
  const search = h("input", {
    id: "faq-search",
    type: "search",
    placeholder: "Ví dụ: nghi phep nam, lương tối thiểu",
    autocomplete: "off",
    value: lastQuery,
  });
  const summary = h("p", { class: "muted", "aria-live": "polite" });
  const list = h("ul", { class: "faq-list", "aria-label": "Kết quả tìm kiếm" });
  const drafts = h("section", { class: "faq-drafts", hidden: true });
  const listPane = h(
    "section",
    { class: "faq-list-pane", "aria-labelledby": "faq-title" },
    h("div", { class: "pane-head" }, h("h1", { id: "faq-title", tabindex: "-1" }, "Câu hỏi mẫu")),
    h(
      "form",
      { class: "search-form", role: "search", onsubmit: (e) => e.preventDefault() },
      h("label", { for: "faq-search" }, "Tìm câu hỏi mẫu (có dấu hoặc không dấu)"),
      search,
    ),
    summary,
    list,
    drafts,
  );
  const detailPane = h("section", {
    class: "faq-detail-pane",
    "aria-label": "Chi tiết câu hỏi mẫu",
  });
  const layout = h("div", { class: "faq-layout" }, listPane, detailPane);
  root.append(layout);

  let entries = [];
  let openSlug = null;
  let seq = 0;

  function renderList() {
    list.replaceChildren(
      ...entries.map((entry) =>
        h(
          "li",
          {},
          h(
            "a",
            {
              class: "faq-item",
              href: `#/faq/${encodeURIComponent(entry.slug)}`,
              "data-slug": entry.slug,
              "aria-current": entry.slug === openSlug ? "true" : null,
            },
            h("span", { class: "faq-item-question" }, entry.question),
            h(
              "span",
              { class: "faq-item-meta" },
              h("span", { class: "muted" }, label(CATEGORIES, entry.category)),
              ...badges(entry),
            ),
          ),
        ),
      ),
    );
  }

  async function runSearch() {
    const q = search.value.trim();
    lastQuery = q;
    const mine = ++seq;
    summary.textContent = "Đang tìm…";
    try {
      const found = await searchFaq(q);
      if (mine !== seq) return;
      entries = found;
      summary.textContent = found.length
        ? `${found.length} câu hỏi mẫu${q ? ` khớp với “${q}”` : ""}`
        : `Không tìm thấy câu hỏi mẫu nào khớp với “${q}”.`;
      renderList();
    } catch (error) {
      if (mine === seq) summary.textContent = error.message;
    }
  }

  async function loadDrafts() {
    try {
      const data = await api("GET", "/faq/drafts");
      if (!data.drafts.length) return;
      drafts.hidden = false;
      drafts.replaceChildren(
        h("h2", {}, "Bản nháp từ câu trả lời của cán bộ"),
        h(
          "ul",
          { class: "draft-list" },
          ...data.drafts.map((draft) =>
            h(
              "li",
              {},
              h("strong", {}, draft.question || "(chưa có câu hỏi)"),
              h("p", { class: "muted clamp" }, draft.answer || ""),
            ),
          ),
        ),
      );
    } catch {
      // Drafts are extra information: the screen works without them.
    }
  }

  // ----- One entry --------------------------------------------------------------------------
  function historyItem(revision) {
    const before = revision.before || {};
    const after = revision.after || {};
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
      (key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]),
    );
    return h(
      "li",
      { class: "revision" },
      h(
        "p",
        { class: "revision-head" },
        h("time", { datetime: revision.at }, formatDateTime(revision.at)),
        " · ",
        h("strong", {}, revision.by || "không rõ"),
      ),
      keys.length
        ? h(
            "dl",
            { class: "revision-changes" },
            ...keys.flatMap((key) => [
              h("dt", {}, label(FIELDS, key)),
              h(
                "dd",
                {},
                h("div", { class: "before" }, mutedLabel("Trước: "), showValue(key, before[key])),
                h("div", { class: "after" }, mutedLabel("Sau: "), showValue(key, after[key])),
              ),
            ]),
          )
        : h("p", { class: "muted" }, "Không có thay đổi nội dung."),
    );
  }

  async function loadHistory(slug, target) {
    target.replaceChildren(h("li", { class: "muted" }, "Đang tải…"));
    try {
      const data = await api("GET", `/faq/${encodeURIComponent(slug)}/history`);
      if (slug !== openSlug) return;
      target.replaceChildren(
        ...(data.revisions.length
          ? data.revisions.map(historyItem)
          : [h("li", { class: "muted" }, "Chưa có thay đổi nào từ bàn làm việc.")]),
      );
    } catch (error) {
      target.replaceChildren(h("li", { class: "muted" }, error.message));
    }
  }

  function renderEntry(entry) {
    const answer = h("textarea", {
      id: "faq-answer",
      rows: "12",
      required: true,
      value: entry.answer,
    });
    const source = h("input", { id: "faq-source", value: entry.legal_source || "" });
    const effective = h("input", {
      id: "faq-effective",
      type: "date",
      value: entry.effective_from ? String(entry.effective_from).slice(0, 10) : "",
    });
    const error = h("p", { class: "form-error", role: "alert" });
    const save = h("button", { type: "submit", class: "btn btn-primary" }, "Lưu thay đổi");
    const revisions = h("ol", { class: "revisions" });
    const form = h(
      "form",
      { class: "faq-form", "aria-label": "Sửa câu hỏi mẫu" },
      h("div", { class: "field" }, h("label", { for: "faq-answer" }, "Câu trả lời"), answer),
      h(
        "div",
        { class: "field-row" },
        h(
          "div",
          { class: "field grow" },
          h("label", { for: "faq-source" }, "Căn cứ pháp lý"),
          source,
        ),
        h(
          "div",
          { class: "field" },
          h("label", { for: "faq-effective" }, "Hiệu lực từ ngày"),
          effective,
        ),
      ),
      error,
      h("div", { class: "form-actions" }, save),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      if (!answer.value.trim()) {
        error.textContent = "Câu trả lời không được để trống.";
        answer.focus();
        return;
      }
      save.disabled = true;
      try {
        const saved = await api("PUT", `/faq/${encodeURIComponent(entry.slug)}`, {
          answer: answer.value.trim(),
          legal_source: source.value.trim(),
          effective_from: effective.value || null,
        });
        storeFaqEntry(saved);
        entries = entries.map((e) => (e.slug === saved.slug ? saved : e));
        renderList();
        notify("Đã lưu thay đổi câu hỏi mẫu.");
        renderEntry(saved);
      } catch (failure) {
        error.textContent = failure.message;
      } finally {
        save.disabled = false;
      }
    });

    const meta = [
      h("span", {}, label(CATEGORIES, entry.category)),
      entry.effective_from
        ? h("span", {}, `Hiệu lực từ ${formatDate(entry.effective_from)}`)
        : null,
      entry.reviewed ? h("span", {}, `Rà soát lần cuối ${formatDate(entry.reviewed)}`) : null,
      h("span", { class: "muted" }, `Mã: ${entry.slug}`),
    ];
    detailPane.replaceChildren(
      h(
        "article",
        { class: "faq-detail" },
        h(
          "button",
          {
            type: "button",
            class: "btn btn-back",
            "aria-label": "Quay lại danh sách câu hỏi mẫu",
            onclick: () => ctx.navigate("/faq"),
          },
          "‹ Danh sách",
        ),
        h("h2", { tabindex: "-1", "data-focus-on-open": "" }, entry.question),
        h("p", { class: "faq-meta" }, ...meta),
        h("p", { class: "faq-badges" }, ...badges(entry)),
        entry.effective_note ? h("p", { class: "note" }, entry.effective_note) : null,
        form,
        h("h3", {}, "Lịch sử thay đổi"),
        revisions,
      ),
    );
    loadHistory(entry.slug, revisions);
  }

  async function open(slug) {
    openSlug = slug;
    layout.classList.toggle("has-open", slug !== null);
    for (const link of list.querySelectorAll("[data-slug]")) {
      if (link.dataset.slug === slug) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
    if (slug === null) {
      detailPane.replaceChildren(
        h(
          "div",
          { class: "convo-placeholder" },
          h("p", {}, "Chọn một câu hỏi mẫu để xem và sửa."),
        ),
      );
      return;
    }
    let entry = faqEntry(slug);
    if (!entry) {
      try {
        await loadFaq();
      } catch (error) {
        detailPane.replaceChildren(h("p", { class: "form-error", role: "alert" }, error.message));
        return;
      }
      entry = faqEntry(slug);
    }
    if (slug !== openSlug) return;
    if (!entry) {
      detailPane.replaceChildren(h("p", { role: "alert" }, "Không tìm thấy câu hỏi mẫu này."));
      return;
    }
    renderEntry(entry);
    focusHeading(detailPane);
  }

  search.addEventListener("input", debounce(runSearch, 250));
  runSearch();
  loadDrafts();
  open(param);
  if (param === null) root.querySelector("#faq-title").focus({ preventScroll: true });

  return {
    update(next) {
      const previous = openSlug;
      open(next);
      if (next === null) {
        const back = list.querySelector(`[data-slug="${CSS.escape(previous || "")}"]`);
        (back || search).focus({ preventScroll: true });
      }
    },
  };
}
