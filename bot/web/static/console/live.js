// Live updates: one EventSource on /console/api/events for the whole console. Each `queue`
// event means "the queue changed, fetch it again". When the stream cannot be opened (or
// drops), the console polls every 10 seconds until the stream is back.

const POLL_MS = 10_000;
const RECONNECT_MS = 30_000;

/**
 * Start listening. `onChange()` runs on every change (and while polling, every 10 s);
 * `onMode(mode)` gets "live" or "polling" for the indicator in the top bar.
 * Returns a function that stops everything (at sign-out).
 */
export function startLive(onChange, onMode) {
  let source = null;
  let pollTimer = null;
  let reconnectTimer = null;
  let opened = false;
  let stopped = false;

  function startPolling() {
    if (pollTimer || stopped) return;
    onMode("polling");
    onChange();
    pollTimer = setInterval(onChange, POLL_MS);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    if (stopped) return;
    if (!("EventSource" in window)) {
      startPolling();
      return;
    }
    source = new EventSource("/console/api/events");
    source.addEventListener("open", () => {
      stopPolling();
      onMode("live");
      // After a reconnection changes may have been missed: fetch once.
      if (opened) onChange();
      opened = true;
    });
    source.addEventListener("queue", () => onChange());
    source.addEventListener("error", () => {
      // CONNECTING: the browser retries by itself; CLOSED (an HTTP error, e.g. the endpoint
      // is missing): it gives up, so try again later ourselves. Poll in the meantime.
      startPolling();
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        clearTimeout(reconnectTimer);
        reconnectTimer = setTimeout(connect, RECONNECT_MS);
      }
    });
  }

  onChange();
  connect();
  return () => {
    stopped = true;
    if (source) source.close();
    stopPolling();
    clearTimeout(reconnectTimer);
  };
}
