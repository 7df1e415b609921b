// The annotation page: draws the server's layers over the photo and sends strokes to it.
// The server owns the labels; this page only shows them and previews a stroke while drawn.
"use strict";

const UNLABELLED = 255;
const LAYERS = ["scribbles", "suggested", "accepted"]; // the order of GET /api/layers
const $ = (id) => document.getElementById(id);
const state = { info: null, palette: [], classIndex: null, stroke: null, queue: Promise.resolve() };

function tool() {
  return document.querySelector('input[name="tool"]:checked').value;
}

function radius() {
  return Number($("radius").value);
}

function showStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

// Requests run one after another, so layers always arrive in the order strokes were made;
// body[data-pending] counts those still running.
function enqueue(task) {
  const body = document.body;
  body.dataset.pending = Number(body.dataset.pending) + 1;
  state.queue = state.queue
    .then(task)
    .catch((error) => showStatus(error.message, true))
    .finally(() => { body.dataset.pending = Number(body.dataset.pending) - 1; });
}

async function request(path, payload) {
  const options = payload === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
  };
  const response = await fetch(path, options);
  if (!response.ok) throw new Error((await response.json()).error);
  return response;
}

async function showLayers(response) {
  const bytes = new Uint8Array(await response.arrayBuffer());
  const size = state.info.width * state.info.height;
  LAYERS.forEach((name, i) => drawClasses($(name), bytes.subarray(i * size, (i + 1) * size)));
}

function drawClasses(canvas, classes) {
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(canvas.width, canvas.height);
  const rgba = pixels.data;
  for (let i = 0; i < classes.length; i++) {
    const colour = state.palette[classes[i]];
    if (classes[i] === UNLABELLED || colour === undefined) continue;
    rgba[4 * i] = colour[0];
    rgba[4 * i + 1] = colour[1];
    rgba[4 * i + 2] = colour[2];
    rgba[4 * i + 3] = 255;
  }
  context.putImageData(pixels, 0, 0);
}

function imagePoint(event) {
  const box = $("stack").getBoundingClientRect();
  return [
    Math.floor(((event.clientX - box.left) * state.info.width) / box.width),
    Math.floor(((event.clientY - box.top) * state.info.height) / box.height),
  ];
}

// The stroke as drawn so far, previewed on the scribbles canvas until the server answers.
function previewStroke() {
  const context = $("scribbles").getContext("2d");
  const points = state.stroke;
  const colour = state.palette[state.classIndex];
  context.save();
  context.globalCompositeOperation = tool() === "erase" ? "destination-out" : "source-over";
  context.strokeStyle = `rgb(${colour.join(",")})`;
  context.lineWidth = 2 * radius() + 1;
  context.lineCap = context.lineJoin = "round";
  context.beginPath();
  context.moveTo(points[0][0] + 0.5, points[0][1] + 0.5);
  for (const [x, y] of points) context.lineTo(x + 0.5, y + 0.5);
  context.stroke();
  context.restore();
}

function startStroke(event) {
  if (event.button !== 0) return;
  const point = imagePoint(event);
  if (tool() === "accept") {
    enqueue(async () => showLayers(await request("/api/accept", { x: point[0], y: point[1] })));
    return;
  }
  $("stack").setPointerCapture(event.pointerId);
  state.stroke = [point];
  previewStroke();
}

function extendStroke(event) {
  if (state.stroke === null) return;
  const point = imagePoint(event);
  const last = state.stroke[state.stroke.length - 1];
  if (point[0] === last[0] && point[1] === last[1]) return;
  state.stroke.push(point);
  previewStroke();
}

function endStroke() {
  if (state.stroke === null) return;
  const points = state.stroke;
  state.stroke = null;
  const erase = tool() === "erase";
  const payload = erase ? { points, radius: radius() }
    : { points, radius: radius(), class: state.classIndex };
  enqueue(async () => showLayers(await request(erase ? "/api/erase" : "/api/paint", payload)));
}

function chooseClass(index) {
  state.classIndex = index;
  for (const button of $("classes").children) {
    button.classList.toggle("selected", Number(button.dataset.index) === index);
  }
}

function buildClassButtons() {
  for (const { index, name, abbreviation, colour } of state.info.classes) {
    state.palette[index] = colour;
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.index = index;
    button.title = `class ${index}`;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = `rgb(${colour.join(",")})`;
    button.append(swatch, `${index} ${name}${abbreviation ? ` (${abbreviation})` : ""}`);
    button.addEventListener("click", () => chooseClass(index));
    $("classes").append(button);
  }
  chooseClass(state.info.classes[0].index);
}

function setZoom(zoom) {
  $("zoom").value = String(zoom);
  $("stack").style.width = `${state.info.width * zoom}px`;
  $("stack").style.height = `${state.info.height * zoom}px`;
}

function fittingZoom() {
  const view = $("view");
  const fit = Math.min(view.clientWidth / state.info.width, view.clientHeight / state.info.height);
  const zooms = [...$("zoom").options].map((option) => Number(option.value));
  return zooms.filter((zoom) => zoom <= fit).pop() ?? zooms[0];
}

function bindControls() {
  $("stack").addEventListener("pointerdown", startStroke);
  $("stack").addEventListener("pointermove", extendStroke);
  $("stack").addEventListener("pointerup", endStroke);
  $("stack").addEventListener("pointercancel", endStroke);
  $("radius").addEventListener("input", () => { $("radius-value").textContent = radius(); });
  $("zoom").addEventListener("change", () => setZoom(Number($("zoom").value)));
  for (const slider of document.querySelectorAll(".opacity")) {
    const apply = () => { $(slider.dataset.layer).style.opacity = slider.value / 100; };
    slider.addEventListener("input", apply);
    apply();
  }
  $("uncertainty-map").addEventListener("change", () => {
    $("overlay-uncertainty").src = `/api/overlay/${$("uncertainty-map").value}.png`;
  });
  $("fill").addEventListener("change", () => {
    const fill = $("fill").checked;
    enqueue(async () => showLayers(await request("/api/fill", { fill })));
  });
  $("accept-all").addEventListener("click", () => {
    enqueue(async () => showLayers(await request("/api/accept", {})));
  });
  $("accept-labels").addEventListener("click", () => {
    enqueue(async () => showLayers(await request("/api/accept", { source: "labels" })));
  });
  $("save").addEventListener("click", () => {
    enqueue(async () => {
      const saved = await (await request("/api/save", {})).json();
      const share = (100 * saved.labelled).toFixed(1);
      showStatus(`Saved ${saved.mask} (${share} % of the pixels labelled).`);
    });
  });
  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLSelectElement) return;
    const tools = { p: "paint", e: "erase", a: "accept" };
    const key = event.key.toLowerCase();
    if (key in tools) document.querySelector(`input[value="${tools[key]}"]`).checked = true;
    const nth = state.info.classes[Number(event.key) - 1];
    if (/^[1-9]$/.test(event.key) && nth !== undefined) chooseClass(nth.index);
  });
}

async function start() {
  state.info = await (await request("/api/info")).json();
  document.title = `${state.info.name} – orescope annotate`;
  $("title").textContent = state.info.name;
  for (const name of LAYERS) {
    $(name).width = state.info.width;
    $(name).height = state.info.height;
  }
  $("image").src = "/api/image.png";
  if (state.info.overlays.includes("labels")) {
    $("overlay-labels").src = "/api/overlay/labels.png";
    $("labels-control").hidden = false;
    $("accept-labels").hidden = false;
  }
  if (state.info.overlays.includes("entropy")) {
    $("overlay-uncertainty").src = "/api/overlay/entropy.png";
    $("uncertainty-control").hidden = false;
  }
  buildClassButtons();
  setZoom(fittingZoom());
  if (!state.info.ready) showStatus("Computing superpixels: strokes made now wait for them.");
  // The first layers go through the queue, so strokes painted meanwhile are answered after.
  enqueue(async () => {
    await showLayers(await request("/api/layers"));
    document.body.dataset.ready = "true";
    showStatus("Paint strokes, accept the suggestions, save.");
  });
  bindControls();
}

start().catch((error) => showStatus(error.message, true));
