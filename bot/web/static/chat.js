// Sandbox chat: posts the member's messages and polls for delivered replies.
(() => {
  "use strict";
  const log = document.getElementById("log");
  const quick = document.getElementById("quick");
  const typing = document.getElementById("typing");
  const form = document.getElementById("form");
  const input = document.getElementById("text");
  const status = document.getElementById("status");
  const KEY = "sandbox-session";
  const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(12)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  let session = localStorage.getItem(KEY) || newId();
  localStorage.setItem(KEY, session);
  let lastId = 0;
  let waiting = false;

  const WHO = { staff: "Cán bộ công đoàn" };

  function render(message) {
    const item = document.createElement("li");
    item.className = `msg msg--${message.author}`;
    item.dataset.kind = message.kind;
    if (WHO[message.author]) {
      const who = document.createElement("span");
      who.className = "msg__who";
      who.textContent = WHO[message.author];
      item.append(who);
    }
    item.append(document.createTextNode(message.text));
    log.append(item);
    item.scrollIntoView({ block: "end" });
  }

  function showQuickReplies(replies) {
    quick.replaceChildren(...replies.map((reply) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = reply.title;
      button.addEventListener("click", () => send(reply.title, reply.payload));
      return button;
    }));
  }

  async function send(text, payload) {
    showQuickReplies([]);
    waiting = true;
    typing.hidden = false;
    const body = { session, text, client_id: newId() };
    if (payload) body.payload = payload;
    try {
      const response = await fetch("/api/sandbox/messages", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error((await response.json()).error);
    } catch (error) {
      status.textContent = "Không gửi được tin nhắn, vui lòng thử lại.";
      typing.hidden = true;
    }
    poll();
  }

  async function poll() {
    try {
      const response = await fetch(`/api/sandbox/messages?session=${session}&after=${lastId}`);
      const data = await response.json();
      for (const message of data.messages) {
        render(message);
        lastId = message.id;
        if (message.author !== "member") {
          waiting = false;
          showQuickReplies(message.quick_replies || []);
        }
      }
      typing.hidden = !waiting;
      status.textContent = data.mode === "bot"
        ? "Thường trả lời ngay · cán bộ trả lời trong 24 giờ"
        : "Cán bộ công đoàn sẽ trả lời bạn trong vòng 24 giờ";
    } catch (error) {
      status.textContent = "Mất kết nối, đang thử lại…";
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
  document.getElementById("reset").addEventListener("click", () => {
    session = newId();
    localStorage.setItem(KEY, session);
    lastId = 0;
    log.replaceChildren();
    showQuickReplies([]);
  });

  poll();
  setInterval(poll, 1000);
})();
