// The page: a form built from the case record (embedded by the server), POST /v1/predict, and the
// answer laid out for a person. No build step, no dependencies; every value is set as text.
"use strict";

const schema = JSON.parse(document.getElementById("form-schema").textContent);
const KEY_STORE = "redflag-api-key";
const fields = schema.sections.flatMap((s) => s.fields);
const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function hint(field) {
  const parts = [];
  if (field.unit) parts.push(field.unit);
  if (field.min !== undefined && field.max !== undefined) parts.push(`${field.min} to ${field.max}`);
  if (field.help) parts.push(field.help);
  return parts.join("; ");
}

function choiceControl(field, box) {
  const group = el("fieldset", { id: `field-${field.name}` });
  group.appendChild(el("legend", {}, field.label));
  const choices = el("div", { class: "choices" });
  for (const [value, text] of [["true", "Yes"], ["false", "No"], ["", "Not recorded"]]) {
    const id = `${field.name}-${value || "unknown"}`;
    const input = el("input", { type: "radio", name: field.name, id, value });
    if (value === "") input.checked = true;
    const label = el("label", { for: id });
    label.append(input, ` ${text}`);
    choices.appendChild(label);
  }
  group.appendChild(choices);
  box.appendChild(group);
}

function valueControl(field, box) {
  box.appendChild(el("label", { for: field.name }, field.label + (field.required ? " (required)" : "")));
  let input;
  if (field.kind === "enum") {
    input = el("select", { id: field.name, name: field.name });
    input.appendChild(el("option", { value: "" }, "Not recorded"));
    for (const v of field.values) input.appendChild(el("option", { value: v }, v));
  } else {
    input = el("input", { id: field.name, name: field.name, type: "number", inputmode: "decimal" });
    input.step = field.kind === "int" ? "1" : "any";
    if (field.min !== undefined) input.min = field.min;
    if (field.max !== undefined) input.max = field.max;
    if (field.required) input.required = true;
  }
  const text = hint(field);
  if (text) {
    input.setAttribute("aria-describedby", `${field.name}-hint`);
    box.append(input, el("div", { id: `${field.name}-hint`, class: "hint" }, text));
  } else {
    box.appendChild(input);
  }
}

function buildForm() {
  $("notice").textContent = schema.notice;
  $("intended-use").textContent = `${schema.intended_use} ${schema.simulated}`;
  const root = $("sections");
  for (const section of schema.sections) {
    const set = el("fieldset", { class: "section" });
    set.appendChild(el("legend", {}, section.title));
    for (const field of section.fields) {
      const box = el("div", { class: "field", "data-field": field.name });
      if (field.kind === "bool") choiceControl(field, box);
      else valueControl(field, box);
      set.appendChild(box);
    }
    root.appendChild(set);
  }
  const key = $("api-key");
  key.value = sessionStorage.getItem(KEY_STORE) || "";
  key.addEventListener("change", () => sessionStorage.setItem(KEY_STORE, key.value.trim()));
}

function readCase() {
  const form = $("case-form");
  const record = {};
  for (const field of fields) {
    if (field.kind === "bool") {
      const chosen = form.querySelector(`input[name="${field.name}"]:checked`);
      if (chosen && chosen.value !== "") record[field.name] = chosen.value === "true";
      continue;
    }
    const raw = form.elements[field.name].value.trim();
    if (raw === "") continue;
    record[field.name] = field.kind === "enum" ? raw : Number(raw);
  }
  return record;
}

function setField(name, value) {
  const field = byName[name];
  if (!field) return false;
  if (field.kind === "bool") {
    const id = `${name}-${value === true ? "true" : value === false ? "false" : "unknown"}`;
    $(id).checked = true;
  } else {
    $(name).value = value === null ? "" : String(value);
  }
  return true;
}

function showErrors(messages) {
  const box = $("errors");
  box.replaceChildren();
  document.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  if (!messages.length) { box.hidden = true; return; }
  const list = el("ul");
  for (const m of messages) {
    list.appendChild(el("li", {}, m.field ? `${byName[m.field]?.label || m.field}: ${m.reason}` : m.reason));
    const control = m.field && ($(m.field) || $(`field-${m.field}`));
    if (control) control.setAttribute("aria-invalid", "true");
  }
  box.append(el("strong", {}, "The estimate could not be made:"), list);
  box.hidden = false;
}

async function estimate() {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const key = $("api-key").value.trim();
  if (key) { headers["X-API-Key"] = key; sessionStorage.setItem(KEY_STORE, key); }
  let response;
  try {
    response = await fetch("/v1/predict?next_questions=5", {
      method: "POST", headers, body: JSON.stringify(readCase()),
    });
  } catch (error) {
    showErrors([{ reason: `the service could not be reached (${error.message})` }]);
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) {
    showErrors([{ reason: "an API key is needed: enter it under \"API key\"" }]);
    $("case-form").querySelector(".api-key").open = true;
    return;
  }
  if (!response.ok) {
    const errors = (body.errors || []).length ? body.errors : [{ reason: body.detail || response.statusText }];
    showErrors(errors);
    return;
  }
  showErrors([]);
  render(body);
}

const percent = (p) => (p < 0.001 ? "<0.1%" : p >= 0.1 ? `${(p * 100).toFixed(0)}%` : `${(p * 100).toFixed(1)}%`);

function render(result) {
  $("result").hidden = false;
  $("probability").textContent = percent(result.probability);
  const band = $("band");
  band.textContent = `${result.risk_band} band`;
  band.className = `band ${result.risk_band}`;
  $("urgent").hidden = !result.urgent.flag;
  $("urgent-reasons").textContent = result.urgent.reasons.join("; ");
  const interval = result.interval;
  $("interval").hidden = !interval;
  if (interval) {
    $("interval").textContent =
      `${Math.round(interval.level * 100)}% interval: ${percent(interval.low)} to ${percent(interval.high)}`;
  }
  const unrecorded = result.unrecorded;
  $("unrecorded").hidden = !(unrecorded && unrecorded.fields && unrecorded.fields.length);
  if (!$("unrecorded").hidden) {
    $("unrecorded").textContent = `With ${unrecorded.fields.length} findings not recorded, the estimate ` +
      `could lie anywhere from ${percent(unrecorded.low)} to ${percent(unrecorded.high)}.`;
  }
  renderReasons(result.reasons || []);
  renderQuestions(result.next_questions || []);
  drawWaterfall(result);
  const m = result.model;
  $("model").textContent = `Model ${m.name || "?"} version ${m.version || "?"}; calibrated to a prevalence of ${percent(result.prevalence)}.`;
  $("result").focus();
}

function renderReasons(reasons) {
  const list = $("reasons");
  list.replaceChildren();
  if (!reasons.length) list.appendChild(el("li", {}, "No recorded finding moves the estimate much."));
  for (const r of reasons) list.appendChild(el("li", { class: r.direction }, r.sentence));
}

function renderQuestions(questions) {
  const list = $("next-questions");
  list.replaceChildren();
  $("next").hidden = !questions.length;
  for (const q of questions) {
    const item = el("li", { "data-field": q.field });
    let text = q.label;
    if (q.if_present !== undefined && q.if_absent !== undefined) {
      text += `: ${percent(q.if_present)} if present, ${percent(q.if_absent)} if absent`;
    }
    item.appendChild(el("span", {}, text));
    const field = byName[q.field];
    if (field && field.kind === "bool") {
      for (const [value, word] of [[true, "Yes"], [false, "No"]]) {
        const button = el("button", { type: "button", "aria-label": `${q.label}: ${word}` }, word);
        button.addEventListener("click", () => { setField(q.field, value); estimate(); });
        item.appendChild(button);
      }
    } else if (field) {
      const button = el("button", { type: "button", "aria-label": `Enter ${q.label}` }, "Enter");
      button.addEventListener("click", () => $(q.field).focus());
      item.appendChild(button);
    }
    list.appendChild(item);
  }
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function waterfallSteps(result, shown = 10) {
  const all = result.explanation.contributions;
  const steps = all.slice(0, shown).map((c) => ({
    label: c.label, // the service names an unrecorded flag as such ("… not recorded")
    value: c.contribution,
  }));
  const rest = all.slice(shown).reduce((sum, c) => sum + c.contribution, 0);
  if (all.length > shown) steps.push({ label: `${all.length - shown} other features`, value: rest });
  return steps;
}

function drawWaterfall(result) {
  const steps = waterfallSteps(result);
  const base = result.explanation.base_value;
  let running = base;
  const points = [base];
  for (const s of steps) { running += s.value; points.push(running); }
  const lo = Math.min(...points) - 0.3, hi = Math.max(...points) + 0.3;
  const W = 640, left = 250, right = 20, rowH = 22, top = 30;
  const H = top + rowH * (steps.length + 2) + 10;
  const x = (v) => left + ((v - lo) / (hi - lo)) * (W - left - right);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}` });
  root.appendChild(svg("title", {}, "Waterfall of contributions in log-odds, from the base rate to the estimate"));
  for (const p of [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9]) {
    const v = Math.log(p / (1 - p));
    if (v < lo || v > hi) continue;
    root.appendChild(svg("line", { x1: x(v), x2: x(v), y1: top - 8, y2: H - 10, stroke: "#ddd" }));
    root.appendChild(svg("text", { x: x(v), y: top - 12, "text-anchor": "middle" }, percent(p)));
  }
  const row = (i, label, from, to, colour) => {
    const y = top + i * rowH;
    const short = label.length > 40 ? `${label.slice(0, 39)}…` : label;
    const text = svg("text", { x: left - 6, y: y + 14, "text-anchor": "end" }, short);
    text.appendChild(svg("title", {}, label));
    root.appendChild(text);
    root.appendChild(svg("rect", {
      x: Math.min(x(from), x(to)), y: y + 3, height: rowH - 6,
      width: Math.max(Math.abs(x(to) - x(from)), 1.5), fill: colour,
    }));
  };
  row(0, "Base rate", lo, base, "#9aa0a6");
  running = base;
  steps.forEach((s, i) => {
    row(i + 1, s.label, running, running + s.value, s.value >= 0 ? "#b3261e" : "#1f5fa8");
    running += s.value;
  });
  row(steps.length + 1, `Estimate ${percent(result.probability)}`, lo, running, "#1b1b1f");
  $("waterfall").replaceChildren(root);
  $("waterfall").setAttribute("aria-label",
    `Waterfall: base rate, then ${steps.map((s) => `${s.label} ${s.value >= 0 ? "+" : ""}${s.value.toFixed(2)}`).join(", ")}`);
}

buildForm();
$("case-form").addEventListener("submit", (event) => { event.preventDefault(); estimate(); });
$("clear").addEventListener("click", () => {
  for (const f of fields) setField(f.name, null);
  $("result").hidden = true;
  showErrors([]);
});
