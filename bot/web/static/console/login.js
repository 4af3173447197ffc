// Đăng nhập: the sign-in form. Shows the API's own message (wrong password, account locked).

import { api } from "./api.js";
import { h } from "./dom.js";

/** Render the form in `root`; `onSignedIn(answer)` runs after a successful sign-in. */
export function mount(root, { onSignedIn, message }) {
  const username = h("input", {
    id: "login-username",
    name: "username",
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
  });
  const password = h("input", {
    id: "login-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const error = h("p", { class: "form-error", id: "login-error", role: "alert" });
  const info = h("p", { class: "form-info" }, message || "");
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, "Đăng nhập");

  const form = h(
    "form",
    { class: "login-card", "aria-labelledby": "login-title", novalidate: true },
    h("div", { class: "login-logo", "aria-hidden": "true" }, "CĐ"),
    h("h1", { id: "login-title" }, "Đăng nhập"),
    h("p", { class: "muted" }, "Bàn làm việc của cán bộ công đoàn"),
    message ? info : null,
    h("div", { class: "field" }, h("label", { for: "login-username" }, "Tên đăng nhập"), username),
    h("div", { class: "field" }, h("label", { for: "login-password" }, "Mật khẩu"), password),
    error,
    submit,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    form.classList.remove("is-locked");
    if (!username.value.trim() || !password.value) {
      error.textContent = "Hãy nhập tên đăng nhập và mật khẩu.";
      (username.value.trim() ? password : username).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Đang đăng nhập…";
    try {
      const answer = await api("POST", "/login", {
        username: username.value.trim(),
        password: password.value,
      });
      await onSignedIn(answer);
    } catch (failure) {
      error.textContent = failure.message;
      if (failure.status === 423) form.classList.add("is-locked");
      password.select();
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = "Đăng nhập";
    }
  });

  root.append(h("div", { class: "login-page" }, form));
  username.focus();
  return {};
}
