// The console's JSON API (docs/console-api.md): fetch with the session cookie and CSRF header.
//
// The session cookie is HttpOnly, so this code never sees it; the browser sends it. The CSRF
// token is kept in this module's memory only (never in localStorage or sessionStorage): after a
// reload the console asks GET /me for it again.

let csrfToken = "";
let onUnauthorized = null;

/** Remember the session's CSRF token (an empty string after sign-out). */
export function setCsrf(token) {
  csrfToken = token || "";
}

/** Called with the error when a request answers 401 (the session expired or ended). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

/** An API failure with a Vietnamese message for staff; `status` is 0 when offline. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

const FALLBACK_MESSAGES = {
  0: "Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.",
  400: "Dữ liệu gửi lên chưa hợp lệ.",
  401: "Bạn cần đăng nhập.",
  403: "Bạn không có quyền làm việc này.",
  404: "Không tìm thấy dữ liệu (hoặc máy chủ chưa có chức năng này).",
  409: "Dữ liệu vừa thay đổi, hãy tải lại rồi thử lại.",
  413: "Nội dung quá dài.",
  423: "Tài khoản đang tạm khóa.",
};

function messageFor(status, data) {
  const sent = data && typeof data.error === "string" ? data.error : "";
  // The API's own errors are Vietnamese; aiohttp's generic ones ("Not Found", "internal
  // error") are plain ASCII English, so those are replaced by a Vietnamese explanation.
  if (sent && /[^\x00-\x7f]/.test(sent)) return sent;
  if (FALLBACK_MESSAGES[status]) return FALLBACK_MESSAGES[status];
  if (status >= 500) return "Máy chủ đang gặp lỗi, vui lòng thử lại sau.";
  return sent || `Yêu cầu không thành công (mã ${status}).`;
}

async function send(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(`/console/api${path}`, init);
  } catch {
    throw new ApiError(0, FALLBACK_MESSAGES[0]);
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  return { response, data };
}

/**
 * Call the API: `api("POST", "/conversations/3/take")`. Resolves to the JSON answer; rejects
 * with an ApiError carrying the Vietnamese message to show.
 */
export async function api(method, path, body) {
  let { response, data } = await send(method, path, body);
  if (response.status === 403 && method !== "GET" && path !== "/login") {
    // The token may be stale (signed in again in another tab): fetch it again and retry once.
    const fresh = await send("GET", "/me");
    if (fresh.response.ok && fresh.data && fresh.data.csrf_token !== csrfToken) {
      setCsrf(fresh.data.csrf_token);
      ({ response, data } = await send(method, path, body));
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, messageFor(response.status, data));
    if (response.status === 401 && path !== "/login" && onUnauthorized) onUnauthorized(error);
    throw error;
  }
  return data;
}
