// Data shared between screens: the queue (also counted in the top bar) and the FAQ entries
// (to name a conversation's topic and to insert model answers).

import { api } from "./api.js";

// ----- Queue ----------------------------------------------------------------------------------

const EMPTY = { conversations: [], loaded: false, error: null, fetchedAt: 0, at: null };
let queue = EMPTY;
let inFlight = null;
let again = false;
const listeners = new Set();

/**
 * Fetch the queue and tell every subscriber. Calls arriving while a fetch runs are folded
 * into one more fetch after it (events come in bursts).
 */
export function refreshQueue() {
  if (inFlight) {
    again = true;
    return inFlight;
  }
  inFlight = (async () => {
    do {
      again = false;
      try {
        const data = await api("GET", "/queue");
        queue = {
          conversations: data.conversations,
          loaded: true,
          error: null,
          fetchedAt: performance.now(),
          at: new Date(),
        };
      } catch (error) {
        if (error.status === 401) return;
        queue = { ...queue, error };
      }
      for (const listener of listeners) listener(queue);
    } while (again);
  })().finally(() => {
    inFlight = null;
  });
  return inFlight;
}

/** Call `listener(queue)` now and after every fetch; returns the unsubscribe function. */
export function subscribeQueue(listener) {
  listeners.add(listener);
  listener(queue);
  return () => listeners.delete(listener);
}

/** Seconds left for a queue item now (counted down since the fetch, whatever the clock). */
export function secondsLeftNow(item) {
  if (item.seconds_left === null || item.seconds_left === undefined) return null;
  return item.seconds_left - (performance.now() - queue.fetchedAt) / 1000;
}

/** The queue item of a conversation, if it is in the queue. */
export const queueItem = (id) => queue.conversations.find((c) => c.id === id) || null;

// ----- FAQ ------------------------------------------------------------------------------------

let allEntries = null; // a promise of every entry, fetched once
const bySlug = new Map();

/** Every FAQ entry (fetched once per sign-in). */
export function loadFaq() {
  if (!allEntries) {
    allEntries = api("GET", "/faq?q=")
      .then((data) => {
        for (const entry of data.entries) bySlug.set(entry.slug, entry);
        return data.entries;
      })
      .catch((error) => {
        allEntries = null;
        throw error;
      });
  }
  return allEntries;
}

/** Entries matching `q` (the API matches with or without diacritics). */
export async function searchFaq(q) {
  const data = await api("GET", `/faq?q=${encodeURIComponent(q)}`);
  for (const entry of data.entries) bySlug.set(entry.slug, entry);
  return data.entries;
}

/** The entry with this slug if known (after loadFaq or a search). */
export const faqEntry = (slug) => bySlug.get(slug) || null;

/** Remember an entry the API returned after an edit. */
export function storeFaqEntry(entry) {
  bySlug.set(entry.slug, entry);
}

/** The topic of a conversation as staff read it: the FAQ question, else the slug. */
export function topicLabel(slug) {
  if (!slug) return null;
  const entry = bySlug.get(slug);
  return entry ? entry.question : slug.replaceAll("_", " ");
}

/** Forget everything (at sign-out). */
export function resetStores() {
  queue = EMPTY;
  for (const listener of listeners) listener(queue);
  allEntries = null;
  bySlug.clear();
}
