// The demo page: sends a photo to POST /landmarks and shows the overlay and the landmark table.
// Plain browser JavaScript, no build step and no third-party code; every URL is relative, so
// the page also works behind a proxy that serves the service under a path prefix.
"use strict";

(() => {
  // The header the service reads the key from (app/deps.py API_KEY_HEADER).
  const API_KEY_HEADER = "X-API-Key";
  const KEY_STORAGE = "garment-landmarks.api-key";

  const $ = (id) => document.getElementById(id);
  const els = {
    modelInfo: $("model-info"),
    dropzone: $("dropzone"),
    fileInput: $("file-input"),
    cameraInput: $("camera-input"),
    options: $("options"),
    topK: $("top-k"),
    topKMax: $("top-k-max"),
    keyForm: $("key-form"),
    keyReason: $("key-reason"),
    keyInput: $("api-key"),
    keyForget: $("key-forget"),
    status: $("status"),
    error: $("error"),
    results: $("results"),
    overlay: $("overlay"),
    caption: $("overlay-caption"),
    table: $("landmarks"),
    candidatesHeader: document.querySelector("#landmarks .candidates-col"),
  };

  /** @type {File | null} the photo the current answer is for; options changes re-send it. */
  let currentFile = null;
  /** @type {AbortController | null} the request in flight; a newer one cancels it. */
  let inFlight = null;
  /** @type {Map<string, number[]>} landmark name -> RGB colour, from GET /metadata. */
  const colours = new Map();

  // sessionStorage can throw (disabled storage, some private modes): the page then just asks
  // for the key again on every 401.
  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_STORAGE) || "";
    } catch {
      return "";
    }
  }

  function storeKey(key) {
    try {
      if (key) sessionStorage.setItem(KEY_STORAGE, key);
      else sessionStorage.removeItem(KEY_STORAGE);
    } catch {
      /* not kept: asked again next time */
    }
  }

  /** The state the tests and the styles can read: idle, busy, done, error or key. */
  function setState(state) {
    document.body.dataset.state = state;
  }

  function setStatus(text, busy = false) {
    els.status.textContent = text;
    els.status.classList.toggle("busy", busy);
  }

  function showError(text) {
    els.error.textContent = text;
    els.error.hidden = false;
    setStatus("");
    setState("error");
  }

  function hideError() {
    els.error.hidden = true;
    els.error.textContent = "";
  }

  /** The `detail` of an error answer, or the status line when the body has none. */
  async function errorDetail(response) {
    try {
      const body = await response.json();
      if (body && typeof body.detail === "string") return body.detail;
      if (body && body.detail !== undefined) return JSON.stringify(body.detail);
    } catch {
      /* not JSON: fall through */
    }
    return `${response.status} ${response.statusText}`.trim();
  }

  async function loadMetadata() {
    try {
      const response = await fetch("metadata", { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(await errorDetail(response));
      const model = await response.json();
      els.modelInfo.textContent =
        `Model ${model.name} version ${model.version} (${model.architecture}) on ` +
        `${model.device}; a landmark counts as detected from probability ` +
        `${model.detection_threshold}.`;
      els.topK.max = String(model.top_k);
      els.topKMax.textContent = String(model.top_k);
      for (const landmark of model.landmarks) colours.set(landmark.name, landmark.color);
    } catch (error) {
      els.modelInfo.textContent = `Model description unavailable: ${error.message}`;
    }
  }

  function requestedOptions() {
    const max = Number(els.topK.max) || 0;
    const topK = Math.min(Math.max(Math.trunc(Number(els.topK.value) || 0), 0), max);
    els.topK.value = String(topK);
    const format = els.options.querySelector("input[name=overlay_format]:checked").value;
    return { topK, format };
  }

  async function analyse(file) {
    currentFile = file;
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;

    hideError();
    setState("busy");
    setStatus(`Analysing ${file.name || "the pasted image"}…`, true);

    const { topK, format } = requestedOptions();
    const query = new URLSearchParams({ overlay: "true", overlay_format: format, top_k: topK });
    const body = new FormData();
    body.append("image", file, file.name || "image");
    const headers = { Accept: "application/json" };
    const key = storedKey();
    if (key) headers[API_KEY_HEADER] = key;

    const started = performance.now();
    let response;
    try {
      response = await fetch(`landmarks?${query}`, {
        method: "POST",
        body,
        headers,
        signal: controller.signal,
      });
    } catch (error) {
      if (error.name !== "AbortError") showError(`Could not reach the service: ${error.message}`);
      return;
    }
    if (controller !== inFlight) return; // a newer request took over
    inFlight = null;

    if (response.status === 401) {
      // A stored key that the service refuses is no use any more.
      if (key) storeKey("");
      askForKey(await errorDetail(response));
      return;
    }
    if (!response.ok) {
      showError(await errorDetail(response));
      return;
    }
    let result;
    try {
      result = await response.json();
    } catch (error) {
      showError(`The service sent an unreadable answer: ${error.message}`);
      return;
    }
    render(result, file, performance.now() - started);
  }

  function askForKey(detail) {
    els.keyReason.textContent = `This service needs an API key (${detail}).`;
    els.keyForm.hidden = false;
    els.keyInput.value = "";
    els.keyInput.focus();
    setStatus("");
    setState("key");
  }

  const fixed = (value, digits) => Number(value).toFixed(digits);

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function render(result, file, elapsedMs) {
    const landmarks = result.landmarks;
    const withCandidates = landmarks.some((landmark) => Array.isArray(landmark.candidates));
    els.candidatesHeader.hidden = !withCandidates;

    const tbody = els.table.tBodies[0];
    tbody.replaceChildren();
    for (const landmark of landmarks) {
      const row = tbody.insertRow();
      row.dataset.landmark = landmark.name;
      const nameCell = row.insertCell();
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.setAttribute("aria-hidden", "true");
      const colour = colours.get(landmark.name);
      if (colour) swatch.style.setProperty("--swatch", `rgb(${colour.join(" ")})`);
      nameCell.append(swatch, landmark.name);
      cell(row, fixed(landmark.x, 1), "num");
      cell(row, fixed(landmark.y, 1), "num");
      cell(row, fixed(landmark.probability, 3), "num");
      cell(row, landmark.detected ? "Yes" : "No", landmark.detected ? "detected-yes" : "detected-no");
      if (withCandidates) {
        const list = document.createElement("ul");
        list.className = "candidates";
        for (const candidate of landmark.candidates || []) {
          const item = document.createElement("li");
          item.textContent =
            `(${fixed(candidate.x, 1)}, ${fixed(candidate.y, 1)}) ` +
            `${fixed(candidate.probability, 3)}`;
          list.append(item);
        }
        row.insertCell().append(list);
      }
    }

    const detected = landmarks.filter((landmark) => landmark.detected).length;
    const { width, height } = result.image;
    if (result.overlay) {
      els.overlay.src = `data:${result.overlay_media_type};base64,${result.overlay}`;
      els.overlay.alt =
        `The photo with the ${landmarks.length} landmarks marked; ${detected} detected.`;
      const format = result.overlay_media_type === "image/jpeg" ? "JPEG" : "PNG";
      els.caption.textContent = `Overlay (${format}), ${width} × ${height} px`;
    }
    els.results.hidden = false;
    els.keyForm.hidden = true;
    setStatus(
      `${file.name || "Pasted image"}: ${detected} of ${landmarks.length} landmarks detected ` +
        `(${Math.round(elapsedMs)} ms).`,
    );
    setState("done");
  }

  function firstImage(files) {
    for (const file of files || []) {
      if (!file.type || file.type.startsWith("image/")) return file;
    }
    // Not an image by its type: send it anyway and let the service explain (415).
    return files && files.length ? files[0] : null;
  }

  function onPicked(event) {
    const file = firstImage(event.target.files);
    // Cleared so that choosing the same file again still fires `change`.
    event.target.value = "";
    if (file) analyse(file);
  }

  els.fileInput.addEventListener("change", onPicked);
  els.cameraInput.addEventListener("change", onPicked);

  // Dropping anywhere on the page works; without preventDefault the browser would open the file.
  let dragDepth = 0;
  document.addEventListener("dragenter", (event) => {
    event.preventDefault();
    dragDepth += 1;
    els.dropzone.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    dragDepth = Math.max(dragDepth - 1, 0);
    if (dragDepth === 0) els.dropzone.classList.remove("dragging");
  });
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    dragDepth = 0;
    els.dropzone.classList.remove("dragging");
    const file = firstImage(event.dataTransfer && event.dataTransfer.files);
    if (file) analyse(file);
  });

  document.addEventListener("paste", (event) => {
    const data = event.clipboardData;
    if (!data) return;
    const images = [...data.files].filter((file) => file.type.startsWith("image/"));
    if (images.length === 0) return; // text pasted into the key field etc.
    event.preventDefault();
    analyse(images[0]);
  });

  // A changed option re-sends the current photo (`change`, not `input`: not on every keystroke).
  els.options.addEventListener("change", () => {
    if (currentFile) analyse(currentFile);
  });
  els.options.addEventListener("submit", (event) => event.preventDefault());

  els.keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = els.keyInput.value.trim();
    if (!key) return;
    storeKey(key);
    els.keyForm.hidden = true;
    if (currentFile) analyse(currentFile);
  });
  els.keyForget.addEventListener("click", () => {
    storeKey("");
    els.keyInput.value = "";
  });

  setState("idle");
  loadMetadata();
})();
