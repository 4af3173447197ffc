// The staff console's entry point: session, top bar, hash routing and live updates.
//
// Screens (the part of the URL after #):
//   /queue          Hàng chờ            /queue/<id>  the conversation beside the queue
//   /faq            Câu hỏi mẫu         /faq/<slug>  one entry, its edit form and history
//   /reports        Báo cáo             /audit, /staff  (admins only)
// Every screen module exports mount(root, ctx, param) → { update?(param), unmount?() }.

import * as admin from "./admin.js";
import { api, setCsrf, setUnauthorizedHandler } from "./api.js";
import { focusHeading, h, notify } from "./dom.js";
import * as faq from "./faq.js";
import { startLive } from "./live.js";
import * as login from "./login.js";
import * as queue from "./queue.js";
import * as reports from "./reports.js";
import { refreshQueue, resetStores, subscribeQueue } from "./store.js";

const ROUTES = [
  { name: "queue", title: "Hàng chờ", pattern: /^\/queue(?:\/(\d+))?$/, mount: queue.mount },
  { name: "faq", title: "Câu hỏi mẫu", pattern: /^\/faq(?:\/([^/]+))?$/, mount: faq.mount },
  { name: "reports", title: "Báo cáo", pattern: /^\/reports$/, mount: reports.mount },
  {
    name: "audit",
    title: "Nhật ký",
    pattern: /^\/audit$/,
    mount: admin.mountAudit,
    adminOnly: true,
  },
  {
    name: "staff",
    title: "Cán bộ",
    pattern: /^\/staff$/,
    mount: admin.mountStaff,
    adminOnly: true,
  },
];
const HOME = "/queue";
const APP_NAME = "Bàn làm việc cán bộ";

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
const queueCount = document.getElementById("queue-count");
const liveBadge = document.getElementById("live");

const bus = new EventTarget(); // "queue": something changed, screens refetch what they show
let me = null;
let stopLive = null;
let current = null; // { route, screen }
let waiting = 0; // conversations in the queue, for the tab title

const ctx = {
  bus,
  get me() {
    return me;
  },
  navigate(path) {
    location.hash = `#${path}`;
  },
};

function setTitle(title) {
  document.title = `${waiting ? `(${waiting}) ` : ""}${title} · ${APP_NAME}`;
}

function unmountCurrent() {
  if (current && current.screen.unmount) current.screen.unmount();
  current = null;
}

function route() {
  if (!me) return;
  const path = decodeURI(location.hash.replace(/^#/, "")) || HOME;
  let found = null;
  let param = null;
  for (const candidate of ROUTES) {
    const match = candidate.pattern.exec(path);
    if (match) {
      found = candidate;
      param = match[1] === undefined ? null : match[1];
      break;
    }
  }
  if (!found) {
    location.replace(`#${HOME}`);
    return;
  }
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === found.name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  setTitle(found.title);
  // Same screen, other item (another conversation or FAQ entry): let the screen update itself.
  if (current && current.route === found && current.screen.update) {
    current.screen.update(param);
    return;
  }
  unmountCurrent();
  main.replaceChildren();
  main.className = `view view-${found.name}`;
  if (found.adminOnly && me.role !== "admin") {
    main.append(
      h(
        "div",
        { class: "page" },
        h("h1", { tabindex: "-1", "data-focus-on-open": "" }, found.title),
        h("p", { role: "alert" }, "Chỉ quản trị viên mới xem được trang này."),
      ),
    );
    focusHeading(main);
    current = { route: found, screen: {} };
    return;
  }
  current = { route: found, screen: found.mount(main, ctx, param) || {} };
}

function showLogin(message) {
  unmountCurrent();
  topbar.hidden = true;
  main.className = "view view-login";
  main.replaceChildren();
  document.title = `Đăng nhập · ${APP_NAME}`;
  login.mount(main, { message, onSignedIn: signIn });
}

function setLiveMode(mode) {
  liveBadge.dataset.mode = mode;
  liveBadge.textContent = mode === "live" ? "Trực tiếp" : "Tự cập nhật mỗi 10 giây";
  liveBadge.title =
    mode === "live"
      ? "Hàng chờ cập nhật ngay khi có thay đổi."
      : "Không mở được kết nối trực tiếp: hàng chờ được tải lại mỗi 10 giây.";
}

/** Signed in (after the form, or with a session kept from before a reload). */
function start(who) {
  me = who;
  setCsrf(who.csrf_token);
  topbar.hidden = false;
  document.getElementById("user-name").textContent = who.display_name || who.username;
  for (const item of document.querySelectorAll("[data-admin]")) {
    item.hidden = who.role !== "admin";
  }
  stopLive = startLive(() => {
    refreshQueue();
    bus.dispatchEvent(new Event("queue"));
  }, setLiveMode);
  if (!location.hash || location.hash === "#/login") location.replace(`#${HOME}`);
  route();
}

async function signIn() {
  // The sign-in answer holds no page list; /me has everything (and proves the cookie works).
  let who;
  try {
    who = await api("GET", "/me");
  } catch {
    throw new Error("Trình duyệt chưa lưu được phiên đăng nhập. Hãy bật cookie rồi thử lại.");
  }
  start(who);
  focusHeading(main);
}

function stop(message) {
  me = null;
  setCsrf("");
  if (stopLive) stopLive();
  stopLive = null;
  resetStores();
  showLogin(message);
}

async function signOut() {
  try {
    await api("POST", "/logout");
  } catch (error) {
    if (error.status !== 401) {
      notify(error.message, "error");
      return;
    }
  }
  stop("Bạn đã đăng xuất.");
}

async function boot() {
  try {
    start(await api("GET", "/me"));
  } catch (error) {
    if (error.status === 401) {
      showLogin();
      return;
    }
    main.replaceChildren(
      h(
        "div",
        { class: "page" },
        h("p", { role: "alert" }, error.message),
        h("button", { type: "button", class: "btn", onclick: () => location.reload() }, "Thử lại"),
      ),
    );
  }
}

setUnauthorizedHandler(() => {
  if (me) stop("Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại.");
});
subscribeQueue((snapshot) => {
  waiting = snapshot.conversations.length;
  queueCount.hidden = !waiting;
  queueCount.textContent = waiting ? String(waiting) : "";
  if (current) setTitle(current.route.title);
});
window.addEventListener("hashchange", route);
document.getElementById("logout").addEventListener("click", signOut);
document.getElementById("skip").addEventListener("click", () => {
  const heading = main.querySelector("h1, h2");
  (heading || main).setAttribute("tabindex", "-1");
  (heading || main).focus();
});
boot();
