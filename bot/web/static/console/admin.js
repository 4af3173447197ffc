// Admin screens: Nhật ký (the audit log) and Cán bộ (staff accounts and their pages).

import { api } from "./api.js";
import { channelLabel, formatDateTime, h, label, notify, ROLES } from "./dom.js";

const ACTIONS = {
  login: "Đăng nhập",
  login_failed: "Đăng nhập sai mật khẩu",
  logout: "Đăng xuất",
  take: "Nhận xử lý",
  reply: "Trả lời thành viên",
  handback: "Trả bot",
  close: "Đóng cuộc trò chuyện",
  create_user: "Tạo tài khoản",
  update_user: "Sửa tài khoản",
  deactivate_user: "Khóa tài khoản",
  faq_edit: "Sửa câu hỏi mẫu",
  faq_update: "Sửa câu hỏi mẫu",
  faq_draft: "Tạo bản nháp câu hỏi mẫu",
};
const AUDIT_COLUMNS = ["Thời gian", "Người thực hiện", "Hành động", "Đối tượng", "Chi tiết"];
const CHANNEL_NAMES = ["facebook", "zalo", "sandbox"];

// Words of the audit details ({"role": "admin"}, {"changed": ["active", "pages"]}).
const DETAIL_WORDS = {
  role: "vai trò",
  changed: "đã đổi",
  admin: "quản trị",
  staff: "cán bộ",
  display_name: "họ tên",
  active: "trạng thái",
  password: "mật khẩu",
  pages: "trang phụ trách",
};

function detailValue(value) {
  if (Array.isArray(value)) return value.map(detailValue).join(", ");
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return label(DETAIL_WORDS, String(value));
}

function detailText(detail) {
  if (detail === null || detail === undefined || detail === "") return "";
  if (typeof detail !== "object") return String(detail);
  return Object.entries(detail)
    .map(([key, value]) => `${label(DETAIL_WORDS, key)}: ${detailValue(value)}`)
    .join(" · ");
}

function pageHead(title, ...extra) {
  return h(
    "div",
    { class: "page-head" },
    h("h1", { tabindex: "-1", "data-focus-on-open": "" }, title),
    ...extra,
  );
}

/** Nhật ký: the newest 200 audit entries, with a text filter. */
export function mountAudit(root) {
  const filter = h("input", { id: "audit-filter", type: "search", autocomplete: "off" });
  const error = h("p", { class: "form-error", role: "alert" });
  const summary = h("p", { class: "muted", "aria-live": "polite" });
  const rows = h("tbody");
  let entries = [];

  function render() {
    const q = filter.value.trim().toLowerCase();
    const shown = entries.filter((entry) =>
      [
        entry.user,
        label(ACTIONS, entry.action),
        entry.action,
        entry.target,
        detailText(entry.detail),
      ]
        .join(" ")
        .toLowerCase()
        .includes(q),
    );
    summary.textContent = `${shown.length}/${entries.length} mục (mới nhất trước, tối đa 200).`;
    rows.replaceChildren(
      ...shown.map((entry) =>
        h(
          "tr",
          { class: entry.action === "login_failed" ? "is-warning" : null },
          h("td", { class: "nowrap" }, formatDateTime(entry.at)),
          h("td", {}, entry.user || "hệ thống"),
          h("td", {}, label(ACTIONS, entry.action)),
          h("td", {}, entry.target || ""),
          h("td", { class: "detail" }, detailText(entry.detail)),
        ),
      ),
    );
  }

  root.append(
    h(
      "div",
      { class: "page" },
      pageHead(
        "Nhật ký",
        h(
          "div",
          { class: "inline-field" },
          h("label", { for: "audit-filter" }, "Lọc nhật ký"),
          filter,
        ),
      ),
      error,
      summary,
      h(
        "div",
        {
          class: "card table-wrap",
          tabindex: "0",
          role: "region",
          "aria-label": "Nhật ký hoạt động",
        },
        h(
          "table",
          { class: "data-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...AUDIT_COLUMNS.map((t) => h("th", { scope: "col" }, t)),
            ),
          ),
          rows,
        ),
      ),
    ),
  );
  filter.addEventListener("input", render);
  root.querySelector("h1").focus({ preventScroll: true });
  api("GET", "/audit").then(
    (data) => {
      entries = data.entries;
      render();
    },
    (failure) => {
      error.textContent = failure.message;
    },
  );
  return {};
}

/** "facebook:123" lines → [["facebook", "123"]]; throws a Vietnamese message on a bad line. */
export function parsePages(text) {
  const pages = [];
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(":");
    const channel = line.slice(0, colon).trim().toLowerCase();
    const page = line.slice(colon + 1).trim();
    if (colon < 1 || !page || !CHANNEL_NAMES.includes(channel)) {
      throw new Error(
        `Dòng ${index + 1} (“${line}”) chưa đúng dạng kênh:mã trang, ví dụ facebook:123456789.`,
      );
    }
    pages.push([channel, page]);
  }
  return pages;
}

const STAFF_COLUMNS = [
  "Tên đăng nhập",
  "Họ và tên",
  "Vai trò",
  "Trang phụ trách",
  "Trạng thái",
  "Thao tác",
];

const pagesText = (pages) =>
  (pages || []).map(([channel, page]) => `${channelLabel(channel)} ${page}`).join(", ");

/** Cán bộ: list accounts, create one, deactivate or reactivate. */
export function mountStaff(root, ctx) {
  const error = h("p", { class: "form-error", role: "alert" });
  const rows = h("tbody");

  async function load() {
    try {
      const data = await api("GET", "/staff");
      rows.replaceChildren(...data.staff.map(row));
    } catch (failure) {
      error.textContent = failure.message;
    }
  }

  async function setActive(account, active, button) {
    button.disabled = true;
    try {
      await api("PUT", `/staff/${account.id}`, { active });
      notify(`Đã ${active ? "mở lại" : "khóa"} tài khoản ${account.username}.`);
      await load();
    } catch (failure) {
      button.disabled = false;
      notify(failure.message, "error");
    }
  }

  function row(account) {
    const self = account.username === ctx.me.username;
    const action = account.active
      ? h(
          "button",
          {
            type: "button",
            class: "btn btn-small btn-danger",
            disabled: self,
            title: self ? "Không thể tự khóa tài khoản của mình." : null,
            "aria-label": `Khóa tài khoản ${account.username}`,
            onclick: (e) => setActive(account, false, e.currentTarget),
          },
          "Khóa",
        )
      : h(
          "button",
          {
            type: "button",
            class: "btn btn-small",
            "aria-label": `Mở lại tài khoản ${account.username}`,
            onclick: (e) => setActive(account, true, e.currentTarget),
          },
          "Mở lại",
        );
    return h(
      "tr",
      { class: account.active ? null : "is-inactive" },
      h("td", {}, account.username),
      h("td", {}, account.display_name),
      h("td", {}, label(ROLES, account.role)),
      h(
        "td",
        {},
        account.role === "admin" ? "Mọi trang" : pagesText(account.pages) || "(chưa có)",
      ),
      h("td", {}, account.active ? "Đang hoạt động" : "Đã khóa"),
      h("td", {}, action),
    );
  }

  // ----- Create form ----------------------------------------------------------------------
  const field = (id, text, input, help) =>
    h(
      "div",
      { class: "field" },
      h("label", { for: id }, text),
      input,
      help ? h("p", { class: "help muted", id: `${id}-help` }, help) : null,
    );
  const username = h("input", {
    id: "new-username",
    autocomplete: "off",
    autocapitalize: "none",
    required: true,
  });
  const displayName = h("input", { id: "new-name", autocomplete: "off", required: true });
  const password = h("input", {
    id: "new-password",
    type: "password",
    autocomplete: "new-password",
    required: true,
    "aria-describedby": "new-password-help",
  });
  const role = h(
    "select",
    { id: "new-role", value: "staff" },
    h("option", { value: "staff" }, "Cán bộ"),
    h("option", { value: "admin" }, "Quản trị (xem mọi trang)"),
  );
  const pages = h("textarea", {
    id: "new-pages",
    rows: "3",
    placeholder: "facebook:123456789\nzalo:987654321",
    "aria-describedby": "new-pages-help",
  });
  const formError = h("p", { class: "form-error", role: "alert" });
  const create = h("button", { type: "submit", class: "btn btn-primary" }, "Tạo tài khoản");
  const form = h(
    "form",
    { class: "card staff-form", "aria-labelledby": "new-staff-title" },
    h("h2", { id: "new-staff-title" }, "Thêm cán bộ"),
    h(
      "div",
      { class: "form-grid" },
      field("new-username", "Tên đăng nhập", username),
      field("new-name", "Họ và tên", displayName),
      field(
        "new-password",
        "Mật khẩu",
        password,
        "Mật khẩu đủ dài (máy chủ sẽ báo nếu chưa đạt).",
      ),
      field("new-role", "Vai trò", role),
    ),
    field(
      "new-pages",
      "Trang phụ trách",
      pages,
      "Mỗi dòng một trang, dạng kênh:mã trang (facebook, zalo hoặc sandbox), " +
        "ví dụ facebook:123456789.",
    ),
    formError,
    h("div", { class: "form-actions" }, create),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.textContent = "";
    let pageList;
    try {
      pageList = parsePages(pages.value);
    } catch (problem) {
      formError.textContent = problem.message;
      pages.focus();
      return;
    }
    if (!username.value.trim() || !displayName.value.trim() || !password.value) {
      formError.textContent = "Hãy nhập tên đăng nhập, họ tên và mật khẩu.";
      return;
    }
    create.disabled = true;
    try {
      await api("POST", "/staff", {
        username: username.value.trim(),
        display_name: displayName.value.trim(),
        password: password.value,
        role: role.value,
        pages: pageList,
      });
      notify(`Đã tạo tài khoản ${username.value.trim()}.`);
      form.reset();
      await load();
    } catch (failure) {
      formError.textContent = failure.message;
    } finally {
      create.disabled = false;
    }
  });

  root.append(
    h(
      "div",
      { class: "page" },
      pageHead("Cán bộ"),
      error,
      h(
        "section",
        { class: "card", "aria-labelledby": "staff-list-title" },
        h("h2", { id: "staff-list-title" }, "Danh sách tài khoản"),
        h(
          "div",
          {
            class: "table-wrap",
            tabindex: "0",
            role: "region",
            "aria-labelledby": "staff-list-title",
          },
          h(
            "table",
            { class: "data-table" },
            h(
              "thead",
              {},
              h("tr", {}, ...STAFF_COLUMNS.map((t) => h("th", { scope: "col" }, t))),
            ),
            rows,
          ),
        ),
      ),
      form,
    ),
  );
  root.querySelector("h1").focus({ preventScroll: true });
  load();
  return {};
}
