// Kiln's web UI script: progressive enhancement of the server-rendered pages.
// Each page names itself in <body data-page="...">; the matching part runs.
// A module (so strict), deferred like every module script.

import { thumbHashToDataURL } from "./thumbhash.js";

/** The session's CSRF token, for requests that change something. */
function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// Forms that ask before doing something that cannot be undone.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm) {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  }
});

// ---- settings ----
// The new API token: select it all on focus, and copy it with the Copy button
// (the clipboard API where the page may use it, else the selection).
document.addEventListener("focusin", (event) => {
  const field = event.target;
  if (field instanceof HTMLInputElement && field.hasAttribute("data-select-on-focus")) {
    field.select();
  }
});

document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-copy-target]") : null;
  if (!button) return;
  const field = document.getElementById(button.dataset.copyTarget);
  if (!(field instanceof HTMLInputElement)) return;
  const status = document.querySelector("[data-copy-status]");
  let copied = false;
  try {
    await navigator.clipboard.writeText(field.value);
    copied = true;
  } catch (_) {
    field.focus();
    field.select();
    copied = document.execCommand && document.execCommand("copy");
  }
  button.textContent = copied ? "Copied" : "Copy";
  if (status) {
    status.textContent = copied ? "Copied to the clipboard." : "Press Ctrl+C (⌘C on a Mac) to copy it.";
  }
  if (copied) {
    window.setTimeout(() => { button.textContent = "Copy"; }, 2000);
  }
});

// ---- files ----
// The file grid (/files), the upload page (/upload) and a file's page
// (/files/{id}). Uploads go to /api/uploads in tus chunks (tus-js-client, a
// classic script the upload pages load before this one), at most three at a
// time, and resume after a dropped connection or, once the same file is chosen
// again, after a reload; status changes arrive over the event streams
// (/api/events for all of the user's files, /api/files/{id}/events for one).
// New pieces of the page are copied from the page's own <template> elements,
// and every text from the server is set with textContent, never as HTML.

const UPLOADS_AT_ONCE = 3;
/** Bytes per PATCH: the most a dropped connection costs. */
const CHUNK_SIZE = 8 * 1024 * 1024;
/** Milliseconds to wait before each new try after a dropped connection or a busy server. */
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000];
/** Largest local file shown as its own preview while it uploads. */
const LOCAL_PREVIEW_LIMIT = 15 * 1024 * 1024;
const TYPE_LABELS = {
  "image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP",
  "image/bmp": "BMP", "image/tiff": "TIFF", "application/pdf": "PDF",
};
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Bytes as the pages show them: "512 B", "48 KB", "2.4 MB" (as the server writes them). */
function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const decimals = value < 10 && value % 1 >= 0.05 ? 1 : 0;
  return `${value.toFixed(decimals)} ${units[unit]}`;
}

/** An RFC 3339 time as the pages show it: "7 Mar 2025, 14:05 UTC". */
function whenText(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${at.getUTCDate()} ${MONTHS[at.getUTCMonth()]} ${at.getUTCFullYear()}, ` +
    `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())} UTC`;
}

function typeLabel(contentType) {
  if (!contentType) return "FILE";
  return TYPE_LABELS[contentType] || (contentType.split("/").pop() || contentType).toUpperCase();
}

/** The variant the default jobs make to preview a file of this type. */
function thumbnailVariantFor(contentType) {
  if (contentType === "application/pdf") return "pdf_thumbnail";
  return TYPE_LABELS[contentType] ? "thumbnail" : "";
}

/** A fresh copy of the page's <template id="...">. */
function fromTemplate(id) {
  const template = document.getElementById(id);
  return template instanceof HTMLTemplateElement
    ? template.content.firstElementChild.cloneNode(true)
    : null;
}

/** The element of `root` that holds the named piece. */
function part(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

function setBadge(badge, status) {
  if (!badge) return;
  for (const name of [...badge.classList]) {
    if (name.startsWith("badge-")) badge.classList.remove(name);
  }
  badge.classList.add(`badge-${status}`);
  badge.textContent = status;
  badge.hidden = false;
}

/** The API's error body, `{"error": {"code", "message"}}`, if it is one. */
function apiError(text) {
  try {
    const body = JSON.parse(text);
    if (body && body.error) return body.error;
  } catch (_) { /* not JSON */ }
  return null;
}

/**
 * Listens to an event stream. `onOpen` runs on every (re)connection, so a
 * page can catch up on what it missed; `note`, if given, says how live the
 * page is.
 */
function watchEvents(url, { onJob, onFile, onOpen, note }) {
  if (!("EventSource" in window)) return;
  const source = new EventSource(url);
  const say = (text) => {
    if (!note) return;
    note.textContent = text;
    note.hidden = false;
  };
  const handle = (callback) => (event) => {
    let data = null;
    try { data = JSON.parse(event.data); } catch (_) { return; }
    if (callback) callback(data);
  };
  source.addEventListener("job", handle(onJob));
  source.addEventListener("file", handle(onFile));
  source.addEventListener("open", () => {
    say("Updates live");
    if (onOpen) onOpen();
  });
  source.addEventListener("error", () => {
    say(source.readyState === EventSource.CLOSED
      ? "Live updates stopped: reload the page"
      : "Reconnecting…");
  });
  // Leaving closes the stream; coming back from the back/forward cache shows
  // the page as it is now.
  window.addEventListener("pagehide", () => source.close());
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) window.location.reload();
  });
}

// A Copy button copies the field it names (a share link). The clipboard API
// needs a secure context; elsewhere the field's text is selected to copy by hand.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  const field = button && document.getElementById(button.dataset.copy);
  if (!field) return;
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Selected: press Ctrl+C";
  }
});

// ---- placeholders: a blurred likeness while an image loads ----

/**
 * Paints `thumbhash` (base64, the file's `thumbhash`) as the background of
 * `element`, the box an image is shown in, until that image has loaded. A box
 * whose image is already there keeps its plain background.
 */
function paintPlaceholder(element, thumbhash) {
  const image = element && element.querySelector("img");
  if (!element || !thumbhash || element.dataset.placeholder || (image && image.complete && image.naturalWidth)) return;
  try {
    const hash = Uint8Array.from(atob(thumbhash), (c) => c.charCodeAt(0));
    element.style.backgroundImage = `url("${thumbHashToDataURL(hash)}")`;
    element.dataset.placeholder = "painted";
  } catch {
    // Not a ThumbHash: the box stays plain.
  }
}

/**
 * Takes the placeholder away once the image over it has loaded, so a contained
 * image does not sit on a blur of itself.
 */
function clearPlaceholder(box) {
  if (!box || !box.dataset.placeholder) return;
  box.style.backgroundImage = "";
  delete box.dataset.placeholder;
}

document.addEventListener("load", (event) => {
  if (event.target.tagName === "IMG") clearPlaceholder(event.target.closest("[data-placeholder]"));
}, true);

async function fetchFile(fileId) {
  const response = await fetch(`/api/files/${encodeURIComponent(fileId)}`, {
    headers: { Accept: "application/json" },
  });
  return response.ok ? response.json() : null;
}

// ---- files: live cards (the grid and the upload page) ----

/**
 * Moves `delta` files into (or out of) the count of `status` ("all" for the
 * total) that the grid's tabs and heading show, when the page shows them.
 */
function countFiles(status, delta) {
  const count = document.querySelector(`[data-test=status-tab][data-status="${status}"] .tab-count`);
  if (count) count.textContent = String(Math.max(0, Number(count.textContent) + delta));
  const total = document.querySelector("[data-file-total]");
  if (total && status === "all") {
    const files = Math.max(0, Number(total.dataset.fileTotal) + delta);
    total.dataset.fileTotal = String(files);
    total.textContent = files === 1 ? "1 file" : `${files} files`;
  }
}

/**
 * Keeps every element of `root` with a data-file-id up to date: its status
 * badge, and its thumbnail once the variant that previews it exists. Events
 * may arrive before an upload's own response names its file, so what was
 * heard is kept and applied when an element gets its id (`track`).
 */
function liveFiles(root) {
  const heard = new Map(); // file id -> { status, variants: Set }
  const heardOf = (fileId) => {
    if (!heard.has(fileId)) heard.set(fileId, { status: null, variants: new Set() });
    return heard.get(fileId);
  };
  const elementsOf = (fileId) =>
    root.querySelectorAll(`[data-file-id="${CSS.escape(fileId)}"]`);

  function showThumbnail(element) {
    const variant = element.dataset.thumbnailVariant;
    const thumb = part(element, "thumb");
    if (!variant || !thumb || thumb.querySelector("img[data-test=thumbnail]") || element.dataset.loadingThumbnail) {
      return;
    }
    element.dataset.loadingThumbnail = "yes";
    const image = new Image();
    image.alt = "";
    image.dataset.test = "thumbnail";
    image.addEventListener("load", () => {
      delete element.dataset.loadingThumbnail;
      for (const old of thumb.querySelectorAll("img, .file-kind")) old.remove();
      clearPlaceholder(thumb);
      if (variant === "pdf_thumbnail") thumb.classList.add("file-thumb-contain");
      thumb.prepend(image);
    });
    image.addEventListener("error", () => { delete element.dataset.loadingThumbnail; });
    image.src = `/api/files/${encodeURIComponent(element.dataset.fileId)}/variants/${encodeURIComponent(variant)}`;
  }

  function apply(element) {
    const state = heard.get(element.dataset.fileId);
    if (!state) return;
    if (state.status) {
      if (element.dataset.test === "file-card" && element.dataset.status !== state.status) {
        countFiles(element.dataset.status, -1);
        countFiles(state.status, 1);
      }
      element.dataset.status = state.status;
      setBadge(part(element, "badge"), state.status);
    }
    if (state.variants.has(element.dataset.thumbnailVariant)) showThumbnail(element);
  }

  function learn(fileId, details) {
    for (const element of elementsOf(fileId)) paintPlaceholder(part(element, "thumb"), details.file.thumbhash);
    const state = heardOf(fileId);
    state.status = details.file.status;
    for (const variant of details.variants) state.variants.add(variant.name);
    elementsOf(fileId).forEach(apply);
  }

  watchEvents("/api/events", {
    onJob(event) {
      if (event.status !== "succeeded") return;
      heardOf(event.file_id).variants.add(event.variant);
      elementsOf(event.file_id).forEach(apply);
    },
    onFile(event) {
      const state = heardOf(event.file_id);
      state.status = event.status;
      elementsOf(event.file_id).forEach(apply);
      // Done, but its thumbnail not heard of: events from different workers
      // may come in any order (or one be lost), so ask once.
      const waiting = [...elementsOf(event.file_id)].some((element) =>
        element.dataset.thumbnailVariant && !state.variants.has(element.dataset.thumbnailVariant));
      if (event.status !== "processing" && waiting) {
        fetchFile(event.file_id).then((details) => details && learn(event.file_id, details)).catch(() => {});
      }
    },
    // The stream has no opening state: whatever is still processing is
    // read once, in case it changed before (or while) the stream was away.
    onOpen() {
      for (const element of root.querySelectorAll("[data-file-id][data-status=processing]")) {
        const fileId = element.dataset.fileId;
        fetchFile(fileId).then((details) => details && learn(fileId, details)).catch(() => {});
      }
    },
  });

  return { track: apply };
}

// ---- files: uploads ----

/** Why `file` cannot be uploaded, before sending a byte; "" if it may be. */
function uploadProblem(file, rules) {
  if (file.size === 0) return "Empty file: there is nothing in it to upload.";
  if (file.size > rules.maxSize) {
    return `Too large: ${humanSize(file.size)}, and files can be up to ${rules.maxSizeText}.`;
  }
  // The browser names the type from the file's extension; the server looks
  // at the bytes. An unknown type is left for the server to judge.
  if (file.type && !rules.types.has(file.type)) {
    return `Unsupported type (${typeLabel(file.type)}): Kiln accepts ${rules.typesText}.`;
  }
  return "";
}

/** What went wrong with an upload the server answered, for people. */
function uploadFailure(status, text, rules) {
  const error = apiError(text);
  const code = error ? error.code : "";
  if (code === "quota_exceeded") return `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`;
  if (code === "file_too_large" || status === 413) {
    return `Too large: files can be up to ${rules.maxSizeText}.`;
  }
  if (code === "unsupported_type" || status === 415) {
    return `Unsupported type: Kiln accepts ${rules.typesText}.`;
  }
  if (code === "empty_file") return "Empty file: there is nothing in it to upload.";
  if (status === 401) return "You are signed out. Sign in again, then upload it again.";
  if (status === 403) return "This page is out of date. Reload it and try again.";
  if (status === 429 || status === 503) {
    return `${error ? error.message : "Kiln is busy"}. Try again in a moment.`;
  }
  return error ? error.message : `The upload failed (HTTP ${status}). Try again.`;
}

/** One file being uploaded, shown as a card copied from the page's template. */
class UploadItem {
  constructor(file, list, becomesCard) {
    this.file = file;
    /** The tus upload once it is sent, and what tells the queue it has ended. */
    this.upload = null;
    this.finished = null;
    this.state = "queued";
    this.becomesCard = becomesCard;
    this.element = fromTemplate("upload-card-template");
    this.preview = "";
    part(this.element, "name").textContent = file.name;
    part(this.element, "name").title = file.name;
    part(this.element, "meta").textContent = humanSize(file.size);
    part(this.element, "kind").textContent = typeLabel(file.type);
    part(this.element, "progress").setAttribute("aria-label", `Uploading ${file.name}`);
    if (/^image\/(jpeg|png|gif|webp)$/.test(file.type) && file.size <= LOCAL_PREVIEW_LIMIT) {
      this.preview = URL.createObjectURL(file);
      const image = new Image();
      image.alt = "";
      image.className = "local-preview";
      image.src = this.preview;
      // Only a name says it is an image: if it does not decode, show its kind.
      image.addEventListener("error", () => {
        image.remove();
        part(this.element, "kind").hidden = false;
      });
      part(this.element, "thumb").prepend(image);
      part(this.element, "kind").hidden = true;
    }
    list.prepend(this.element);
  }

  setState(state, text) {
    this.state = state;
    this.element.dataset.state = state;
    const status = part(this.element, "status");
    if (status) status.textContent = text;
  }

  progress(fraction) {
    const percent = Math.round(fraction * 100);
    part(this.element, "progress").value = percent;
    this.setState("uploading", `Uploading… ${percent}%`);
  }

  resuming() {
    this.setState("uploading", "Resuming where it stopped…");
  }

  /** Between tries: the bar keeps what the server has. */
  reconnecting(why) {
    this.setState("reconnecting", `${why} Trying again…`);
  }

  sent() {
    part(this.element, "progress").removeAttribute("value"); // indeterminate
    // Every byte is there: the server is storing it, too late to take back.
    part(this.element, "cancel").hidden = true;
    this.setState("saving", "Saving…");
  }

  done(file) {
    const element = this.element;
    element.dataset.fileId = file.id;
    element.dataset.status = file.status;
    const variant = thumbnailVariantFor(file.content_type);
    if (variant) element.dataset.thumbnailVariant = variant;
    if (this.becomesCard) {
      element.dataset.test = "file-card";
      countFiles("all", 1);
      countFiles(file.status, 1);
    }
    element.classList.remove("is-uploading");
    const link = part(element, "link");
    link.href = `/files/${encodeURIComponent(file.id)}`;
    part(element, "name").textContent = file.filename;
    const meta = [humanSize(file.size_bytes)];
    if (file.width && file.height) meta.push(`${file.width} × ${file.height}`);
    part(element, "meta").textContent = meta.join(" · ");
    part(element, "kind").textContent = typeLabel(file.content_type);
    setBadge(part(element, "badge"), file.status);
    part(element, "progress").hidden = true;
    part(element, "status").hidden = true;
    part(element, "cancel").remove();
    this.setState("uploaded", "");
  }

  fail(message) {
    this.element.classList.remove("is-uploading");
    this.element.classList.add("is-failed");
    part(this.element, "progress").hidden = true;
    const status = part(this.element, "status");
    status.dataset.test = "upload-error";
    status.setAttribute("role", "alert");
    const cancel = part(this.element, "cancel");
    cancel.hidden = false;
    cancel.setAttribute("aria-label", `Dismiss ${this.file.name}`);
    cancel.title = "Dismiss";
    this.setState("error", message);
  }

  forgetPreview() {
    if (!this.preview) return;
    URL.revokeObjectURL(this.preview);
    this.preview = "";
  }
}

/**
 * The uploads this browser left unfinished, listed where the page has room
 * for them ([data-unfinished]). tus-js-client keeps each one's address in local
 * storage under "tus::<fingerprint>::<n>", and every fingerprint of this
 * account starts with `prefix`. Choosing the same file again resumes one (and
 * `taken` drops its row); Discard has the server drop it, with the quota it
 * reserved. Those older than the server keeps uploads are forgotten quietly.
 */
function unfinishedUploads(root, prefix, expiryMs) {
  const section = root.querySelector("[data-unfinished]");
  const list = root.querySelector("[data-unfinished-list]");
  const tus = window.tus;
  const storage = tus && tus.canStoreURLs ? tus.defaultOptions.urlStorage : null;
  const rows = new Map();

  function forget(key) {
    const row = rows.get(key);
    if (row) row.remove();
    rows.delete(key);
    if (section) section.hidden = rows.size === 0;
  }

  async function discard(entry) {
    forget(entry.urlStorageKey);
    await storage.removeUpload(entry.urlStorageKey);
    try {
      await fetch(entry.uploadUrl, {
        method: "DELETE",
        headers: { "Tus-Resumable": "1.0.0", "X-CSRF-Token": csrfToken() },
      });
    } catch (_) { /* unreachable now: the server lets it expire */ }
  }

  function show(entry, created) {
    const row = fromTemplate("unfinished-template");
    const name = (entry.metadata && entry.metadata.filename) || "A file";
    part(row, "name").textContent = name;
    part(row, "meta").textContent =
      `${humanSize(entry.size)} · started ${whenText(new Date(created).toISOString())}`;
    const button = part(row, "discard");
    button.setAttribute("aria-label", `Discard the unfinished upload of ${name}`);
    button.addEventListener("click", () => discard(entry));
    list.append(row);
    rows.set(entry.urlStorageKey, row);
  }

  if (storage) {
    storage.findAllUploads().then((entries) => {
      const now = Date.now();
      for (const entry of entries) {
        if (!entry.urlStorageKey.startsWith(`tus::${prefix}:`)) continue;
        const created = Date.parse(entry.creationTime);
        if (!(now - created < expiryMs)) {
          storage.removeUpload(entry.urlStorageKey);
        } else if (list && !rows.has(entry.urlStorageKey)) {
          show(entry, created);
        }
      }
      if (section) section.hidden = rows.size === 0;
    });
  }
  return { taken: forget };
}

/**
 * The upload machinery of a page with data-uploader: the file input, the
 * buttons that open it, dropping files, a queue that sends at most
 * UPLOADS_AT_ONCE at a time, and the cards that show how each one goes.
 */
function uploader(root, live) {
  const rules = {
    maxSize: Number(root.dataset.maxSize) || Infinity,
    maxSizeText: root.dataset.maxSizeText || "",
    types: new Set((root.dataset.types || "").split(" ").filter(Boolean)),
    typesText: root.dataset.typesText || "",
  };
  // Resumable uploads are kept per account, so another account signed in on
  // the same browser is never offered them.
  const resumeKeyPrefix = `kiln:${root.dataset.owner || ""}`;
  const unfinished = unfinishedUploads(root, resumeKeyPrefix,
    (Number(root.dataset.expirySeconds) || 0) * 1000);
  const input = root.querySelector("[data-upload-input]");
  const grid = root.querySelector("[data-file-grid]");
  const becomesCard = Boolean(grid && root.hasAttribute("data-live-insert"));
  const list = becomesCard ? grid : root.querySelector("[data-upload-list]");
  const section = root.querySelector("[data-uploads]");
  const summary = root.querySelector("[data-upload-summary]");
  const announcer = root.querySelector("[data-upload-announcer]");
  const items = [];
  const queue = [];
  let sending = 0;

  const announce = (text) => { if (announcer) announcer.textContent = text; };

  function refreshSummary() {
    if (!summary) return;
    const uploaded = items.filter((item) => item.state === "uploaded").length;
    const failed = items.filter((item) => item.state === "error").length;
    const pending = items.length - uploaded - failed;
    const parts = [`${uploaded} of ${items.length} uploaded`];
    if (failed) parts.push(`${failed} failed`);
    if (pending) parts.push(`${pending} in progress`);
    summary.textContent = parts.join(" · ");
  }

  function show() {
    list.hidden = false;
    if (section) section.hidden = false;
    const empty = root.querySelector("[data-empty]");
    if (empty && becomesCard) empty.remove();
  }

  function remove(item) {
    item.forgetPreview();
    item.element.remove();
    items.splice(items.indexOf(item), 1);
    if (!list.children.length && !becomesCard) {
      list.hidden = true;
      if (section) section.hidden = true;
    }
    refreshSummary();
  }

  /** The name this browser keeps an upload of `file` under, to resume it. */
  const fingerprint = (file) => Promise.resolve(
    [resumeKeyPrefix, file.name, file.type, file.size, file.lastModified].join(":"));

  /** Whether a failed request is worth another try (and says why on the card). */
  function retryable(item, error) {
    const status = error.originalResponse ? error.originalResponse.getStatus() : 0;
    // 409: the offset moved (a try that half landed); 423: the try before
    // still holds the upload. Both are asked again quietly.
    if (status === 409 || status === 423) return true;
    if (status === 0) {
      item.reconnecting("The connection dropped.");
      return true;
    }
    if (status === 429 || status >= 500) {
      item.reconnecting("Kiln is busy.");
      return true;
    }
    return false;
  }

  /** The file a finished upload became, as GET /api/uploads/{id} shows it. */
  async function fileOf(upload, size) {
    const tusHeaders = { "Tus-Resumable": "1.0.0", "X-CSRF-Token": csrfToken() };
    for (let attempt = 1; ; attempt += 1) {
      const response = await fetch(upload.url, {
        headers: { ...tusHeaders, Accept: "application/json" },
      });
      if (response.ok) return (await response.json()).file;
      if (response.status !== 409 || attempt === 3) throw new Error(`HTTP ${response.status}`);
      // 409: every byte is there, but the file was never made (the server
      // stopped while making it). An empty chunk has it made now.
      await fetch(upload.url, {
        method: "PATCH",
        headers: {
          ...tusHeaders,
          "Upload-Offset": String(size),
          "Content-Type": "application/offset+octet-stream",
        },
      });
    }
  }

  function send(item) {
    return new Promise((resolve) => {
      const upload = new window.tus.Upload(item.file, {
        endpoint: new URL("/api/uploads", window.location.href).href,
        chunkSize: CHUNK_SIZE,
        retryDelays: RETRY_DELAYS,
        headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
        metadata: { filename: item.file.name },
        fingerprint,
        removeFingerprintOnSuccess: true,
        onShouldRetry: (error) => retryable(item, error),
        onProgress: (sent, total) => {
          if (sent >= total) item.sent();
          else item.progress(sent / total);
        },
        onSuccess: async () => {
          try {
            item.done(await fileOf(upload, item.file.size));
            live.track(item.element);
            announce(`${item.file.name} is uploaded.`);
          } catch (_) {
            item.fail("Uploaded, but Kiln did not say what it became. Reload the page to see it.");
          }
          resolve();
        },
        onError: (error) => {
          const response = error.originalResponse;
          if (response) {
            item.fail(uploadFailure(response.getStatus(), response.getBody(), rules));
          } else {
            item.fail("The upload was interrupted. Choose the file again to go on from where it stopped.");
          }
          announce(`${item.file.name} was not uploaded.`);
          resolve();
        },
      });
      item.upload = upload;
      item.finished = resolve;
      item.setState("uploading", "Uploading… 0%");
      upload.findPreviousUploads().then((previous) => {
        // The newest try of the same file, if this browser left one unfinished.
        const latest = previous.sort((a, b) =>
          Date.parse(b.creationTime) - Date.parse(a.creationTime))[0];
        if (latest) {
          upload.resumeFromPreviousUpload(latest);
          item.resuming();
          unfinished.taken(latest.urlStorageKey);
        }
        upload.start();
      });
    });
  }

  function pump() {
    while (sending < UPLOADS_AT_ONCE && queue.length) {
      const item = queue.shift();
      sending += 1;
      send(item).finally(() => {
        sending -= 1;
        refreshSummary();
        pump();
      });
    }
    refreshSummary();
  }

  function add(files) {
    const chosen = [...files];
    if (!chosen.length) return;
    show();
    for (const file of chosen) {
      const item = new UploadItem(file, list, becomesCard);
      items.push(item);
      part(item.element, "cancel").addEventListener("click", () => {
        if (item.state === "uploading" || item.state === "reconnecting") {
          // Stops sending, and has the server drop what it has (and its quota).
          item.upload.abort(true).catch(() => {});
          remove(item);
          item.finished();
        } else {
          const queued = queue.indexOf(item);
          if (queued >= 0) queue.splice(queued, 1);
          remove(item);
        }
      });
      const problem = uploadProblem(file, rules);
      if (problem) item.fail(problem);
      else queue.push(item);
    }
    announce(chosen.length === 1 ? `Uploading ${chosen[0].name}.` : `Uploading ${chosen.length} files.`);
    pump();
  }

  if (input) {
    input.addEventListener("change", () => {
      add(input.files);
      input.value = "";
    });
    for (const trigger of root.querySelectorAll("[data-upload-trigger]")) {
      trigger.addEventListener("click", (event) => {
        event.preventDefault();
        input.click();
      });
    }
  }

  // Dropping files anywhere on the page uploads them; the drop zone (or the
  // overlay) shows where while files are dragged over.
  const zone = root.querySelector("[data-dropzone]");
  const overlay = root.querySelector("[data-drop-overlay]");
  let depth = 0;
  const carriesFiles = (event) =>
    event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  const highlight = (on) => {
    if (zone) zone.classList.toggle("is-dragover", on);
    if (overlay) overlay.hidden = !on;
  };
  document.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth += 1;
    highlight(true);
  });
  document.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("dragleave", (event) => {
    if (!carriesFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) highlight(false);
  });
  document.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth = 0;
    highlight(false);
    add(event.dataTransfer.files);
  });
}

// ---- files: one file's page ----

function filePage(root) {
  const fileId = root.dataset.fileId;
  const jobs = root.querySelector("[data-jobs]");
  const variantList = root.querySelector("[data-variants]");
  const previewOrder = (root.dataset.previewOrder || "").split(" ").filter(Boolean);
  let refreshing = null;

  function showFinished(row, status, at) {
    const cell = part(row, "finished");
    if (status === "succeeded" || status === "dead") {
      const time = document.createElement("time");
      time.dateTime = at;
      time.textContent = whenText(at);
      cell.replaceChildren(time);
    } else {
      const none = document.createElement("span");
      none.className = "muted";
      none.textContent = "—";
      cell.replaceChildren(none);
    }
  }

  function newJobRow(event) {
    const row = fromTemplate("job-template");
    row.dataset.jobId = event.job_id;
    row.dataset.processor = event.processor;
    row.dataset.variant = event.variant;
    part(row, "processor").textContent = event.processor;
    part(row, "variant").textContent = event.variant;
    part(row, "variant-note").hidden = event.variant === event.processor;
    part(row, "retry").action =
      `/files/${encodeURIComponent(fileId)}/jobs/${encodeURIComponent(event.job_id)}/retry`;
    const name = part(row, "retry").querySelector(".visually-hidden");
    if (name) name.textContent = ` ${event.processor}`;
    jobs.append(row);
    const empty = root.querySelector("[data-jobs-empty]");
    if (empty) empty.hidden = true;
    return row;
  }

  function onJob(event) {
    const row = jobs.querySelector(`[data-job-id="${CSS.escape(event.job_id)}"]`) || newJobRow(event);
    const before = row.dataset.status;
    row.dataset.status = event.status;
    setBadge(part(row, "badge"), event.status);
    part(row, "attempts").textContent = String(event.attempts);
    const error = part(row, "error");
    error.textContent = event.error || "";
    error.hidden = !event.error;
    part(row, "retry").hidden = event.status !== "dead";
    if (before !== event.status) showFinished(row, event.status, event.at);
    // A job the page already showed as succeeded may still lack its card: the
    // page's file, variants and jobs are read one after another, and the job
    // can finish in between.
    const hasCard = variantList && variantList.querySelector(`[data-variant="${CSS.escape(event.variant)}"]`);
    if (event.status === "succeeded" && (before !== "succeeded" || !hasCard)) refreshSoon();
  }

  function onFile(event) {
    root.dataset.status = event.status;
    setBadge(root.querySelector("[data-file-status]"), event.status);
  }

  function variantHref(name) {
    return `/api/files/${encodeURIComponent(fileId)}/variants/${encodeURIComponent(name)}`;
  }

  function variantVersion(variant) {
    return `${variant.size_bytes}-${variant.width}x${variant.height}-${Date.parse(variant.created_at)}`;
  }

  function variantCard(variant, version) {
    const card = fromTemplate("variant-template");
    const href = variantHref(variant.name);
    card.dataset.variant = variant.name;
    card.dataset.version = version;
    const preview = part(card, "preview");
    preview.href = href;
    if (variant.content_type.startsWith("image/")) {
      const image = new Image();
      image.alt = "";
      image.loading = "lazy";
      image.src = `${href}?v=${encodeURIComponent(version)}`;
      preview.replaceChildren(image);
    } else {
      const kind = document.createElement("span");
      kind.className = "file-kind";
      kind.textContent = typeLabel(variant.content_type);
      preview.replaceChildren(kind);
    }
    part(card, "name").textContent = variant.name;
    part(card, "kind").textContent = typeLabel(variant.content_type);
    part(card, "meta").textContent =
      `${variant.width} × ${variant.height} px · ${humanSize(variant.size_bytes)}`;
    part(card, "download").href = href;
    part(card, "download-name").textContent = ` ${variant.name}`;
    return card;
  }

  function showVariants(variants) {
    const existing = new Map([...variantList.children].map((card) => [card.dataset.variant, card]));
    const cards = variants.map((variant) => {
      const version = variantVersion(variant);
      const card = existing.get(variant.name);
      return card && card.dataset.version === version ? card : variantCard(variant, version);
    });
    variantList.replaceChildren(...cards);
    variantList.hidden = cards.length === 0;
    const empty = root.querySelector("[data-variants-empty]");
    if (empty) empty.hidden = cards.length > 0;
    const count = root.querySelector("[data-variant-count]");
    if (count) count.textContent = String(cards.length);
  }

  /** A preview for a page that had none, once a variant can be one. */
  function showPreview(variants) {
    const preview = root.querySelector("[data-preview]");
    if (!preview || preview.querySelector("img")) return;
    const names = new Set(variants.filter((v) => v.content_type.startsWith("image/")).map((v) => v.name));
    const best = previewOrder.find((name) => names.has(name));
    if (!best) return;
    const variant = variants.find((v) => v.name === best);
    const image = new Image();
    image.alt = `Preview of ${document.querySelector("h1").textContent}`;
    image.addEventListener("load", () => {
      preview.replaceChildren(image);
      clearPlaceholder(preview);
    });
    image.src = `${variantHref(best)}?v=${encodeURIComponent(variantVersion(variant))}`;
  }

  async function refresh() {
    const details = await fetchFile(fileId).catch(() => null);
    if (!details) return;
    paintPlaceholder(root.querySelector("[data-preview]"), details.file.thumbhash);
    showVariants(details.variants);
    showPreview(details.variants);
  }

  // Jobs often finish together: one refresh for a burst of them.
  function refreshSoon() {
    if (refreshing) return;
    refreshing = window.setTimeout(() => {
      refreshing = null;
      refresh();
    }, 150);
  }

  // No refresh at first: the stream opens with every job's state, and a job
  // that finished since the page was made shows up as a change.
  watchEvents(`/api/files/${encodeURIComponent(fileId)}/events`, {
    onJob,
    onFile,
    note: root.querySelector("[data-live-note]"),
  });

  // The processor form: only the chosen processor's options are shown (and
  // sent), and the name a variant gets by default follows the choice.
  const form = root.querySelector("[data-process-form]");
  if (form) {
    const select = form.querySelector("[data-processor-select]");
    const variantInput = form.querySelector("[data-variant-input]");
    const showOptions = () => {
      for (const fieldset of form.querySelectorAll("[data-options-for]")) {
        const chosen = fieldset.dataset.optionsFor === select.value;
        fieldset.hidden = !chosen;
        fieldset.disabled = !chosen;
      }
      const option = select.selectedOptions[0];
      if (variantInput && option) variantInput.placeholder = option.dataset.defaultVariant || "";
    };
    select.addEventListener("change", showOptions);
    showOptions();
    for (const range of form.querySelectorAll("[data-range]")) {
      const output = range.parentElement.querySelector("[data-range-output]");
      range.addEventListener("input", () => { output.value = range.value; });
    }
  }
}

// ---- files: start the part for this page ----

document.addEventListener("DOMContentLoaded", () => {
  for (const box of document.querySelectorAll("[data-thumbhash]")) paintPlaceholder(box, box.dataset.thumbhash);
  const page = document.body.dataset.page;
  if (page === "files" || page === "upload") {
    const root = document.querySelector("[data-uploader]");
    if (root) uploader(root, liveFiles(root));
  } else if (page === "file") {
    const root = document.querySelector("[data-file-id]");
    if (root) filePage(root);
  }
});
