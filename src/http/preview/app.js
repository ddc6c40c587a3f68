// The preview page: lists the scenarios, asks /preview/api/run for cards and draws them
// as an EHR would. It talks only to this service (the page's CSP allows nothing else).
// Card text is data (it quotes the chart): every string is HTML-escaped before the small
// markdown renderer below adds any markup.
"use strict";

const $ = (sel) => document.querySelector(sel);
let profile = null;
let current = null; // { scenario, inputs }

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Inline markdown on escaped text: `code`, **bold**, *italic*, [label](https://...).
function inline(escaped) {
  return escaped
    .split("`")
    .map((part, i) => {
      if (i % 2 === 1) return `<code>${part}</code>`;
      return part
        .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
        .replace(/\*([^*]+)\*/g, "<em>$1</em>")
        .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)"]+)\)/g, '<a href="$2" rel="noopener noreferrer" target="_blank">$1</a>');
    })
    .join("");
}

// Block markdown: paragraphs split by blank lines; runs of "- " lines become one list.
function markdown(text) {
  const out = [];
  let list = [];
  const flush = () => {
    if (list.length) out.push(`<ul>${list.map((l) => `<li>${l}</li>`).join("")}</ul>`);
    list = [];
  };
  for (const block of escapeHtml(text).split(/\n{2,}/)) {
    const lines = block.split("\n").filter((l) => l.trim() !== "");
    if (lines.length && lines.every((l) => /^\s*[-*] /.test(l))) {
      list.push(...lines.map((l) => inline(l.replace(/^\s*[-*] /, ""))));
      continue;
    }
    flush();
    if (lines.length) out.push(`<p>${lines.map(inline).join("<br>")}</p>`);
  }
  flush();
  return out.join("");
}

const ICON = { info: "ℹ", warning: "⚠", critical: "⛔" };

function cardHtml(card) {
  const parts = [];
  parts.push(`<div class="indicator">${ICON[card.indicator] || ""} ${escapeHtml(card.indicator)}</div>`);
  parts.push(`<div class="summary" data-testid="summary">${escapeHtml(card.summary)}</div>`);
  if (card.detail) parts.push(`<div class="detail" data-testid="detail">${markdown(card.detail)}</div>`);
  if (card.suggestions && card.suggestions.length) {
    const buttons = card.suggestions
      .map((s, i) => `<button type="button" data-suggestion="${i}" class="${s.isRecommended ? "recommended" : ""}">${escapeHtml(s.label)}${s.isRecommended ? " (recommended)" : ""}</button>`)
      .join("");
    parts.push(`<div class="suggestions" data-testid="suggestions" data-selection="${escapeHtml(card.selectionBehavior || "")}">${buttons}</div><div class="action-note" data-testid="action-note"></div>`);
  }
  if (card.links && card.links.length) {
    parts.push(`<ul class="links">${card.links.map((l) => `<li><a href="${escapeHtml(l.url)}" rel="noopener noreferrer" target="_blank">${escapeHtml(l.label)}</a></li>`).join("")}</ul>`);
  }
  if (card.overrideReasons && card.overrideReasons.length) {
    const options = card.overrideReasons.map((r) => `<option value="${escapeHtml(r.code)}">${escapeHtml(r.display)}</option>`).join("");
    parts.push(`<div class="overrides" data-testid="overrides"><label>Override reason <select><option value="">(choose)</option>${options}</select></label></div>`);
  }
  const topic = card.source.topic ? ` · topic: ${escapeHtml(card.source.topic.display)} (<code>${escapeHtml(card.source.topic.code)}</code>)` : "";
  parts.push(`<div class="source">Source: ${escapeHtml(card.source.label)}${topic}</div>`);
  return `<article class="card ${escapeHtml(card.indicator)}" data-testid="card" data-indicator="${escapeHtml(card.indicator)}">${parts.join("")}</article>`;
}

// A bound the sources do not give is left open, not invented.
function range(min, max, unit) {
  const has = (v) => v !== null && v !== undefined;
  if (has(min) && has(max)) return `${min} to ${max} ${unit}`;
  if (has(max)) return `up to ${max} ${unit} (no lower bound given)`;
  if (has(min)) return `from ${min} ${unit} (no upper bound given)`;
  return "no bounds given";
}

function num(v) {
  return v === null || v === undefined ? "not given" : String(v);
}

// A dose table: a verified grid with the engine's cell highlighted, an unverified
// table as its bounds only (saying so), or fixed options.
function tableHtml(table, position, inputs) {
  const ages = table.belowAgeYears ? `${table.minAgeYears} to <${table.belowAgeYears} years` : `${table.minAgeYears} years and older`;
  if (table.kind === "grid") {
    const row = position ? position.row : null;
    const col = position ? position.column : null;
    const head = table.columns.map((c, j) => `<th scope="col" class="${j === col ? "patient-band" : ""}">${escapeHtml(c)}</th>`).join("");
    const body = table.rows
      .map((r, i) => {
        const cells = table.cells[i]
          .map((c, j) => {
            const here = i === row && j === col;
            const cls = [c.startsWith("insufficient") ? "none" : "", here ? "patient" : i === row || j === col ? "patient-band" : ""].join(" ").trim();
            return `<td class="${cls}"${here ? ' data-testid="patient-cell" aria-current="true"' : ""}>${escapeHtml(c)}</td>`;
          })
          .join("");
        return `<tr><th scope="row" class="${i === row ? "patient-band" : ""}">${escapeHtml(r)}</th>${cells}</tr>`;
      })
      .join("");
    return `<table class="dose-grid" data-testid="dose-grid" data-table="${escapeHtml(table.id)}"><caption>${escapeHtml(table.title)} (verified; ${escapeHtml(ages)})</caption>
      <thead><tr><th scope="col">IgE IU/mL \\ weight kg</th>${head}</tr></thead><tbody>${body}</tbody></table>`;
  }
  if (table.kind === "bounds") {
    const b = table.bounds;
    const patient = inputs ? `<p>This patient: IgE ${escapeHtml(num(inputs.ige))} IU/mL, weight ${escapeHtml(num(inputs.weightKg))} kg.</p>` : "";
    return `<div class="dose-bounds" data-testid="dose-bounds" data-table="${escapeHtml(table.id)}"><p><strong>${escapeHtml(table.title)}</strong> (${escapeHtml(ages)})</p>
      <p class="unverified">Not verified: the label prints this table as an image and no text copy could be verified. Only its bounds are drawn and checked; the cell is not.</p>
      <ul><li>pretreatment IgE ${escapeHtml(range(b.igeMin, b.igeMax, "IU/mL"))}</li><li>weight ${escapeHtml(range(b.weightMinKg, b.weightMaxKg, "kg"))}</li></ul>${patient}</div>`;
  }
  return `<div class="dose-bounds" data-testid="dose-fixed" data-table="${escapeHtml(table.id)}"><p><strong>${escapeHtml(table.title)}</strong> (${escapeHtml(ages)}): fixed doses, whatever the IgE and weight:</p>
    <ul>${table.options.map((o) => `<li>${escapeHtml(o)}</li>`).join("")}</ul></div>`;
}

const FINDING = {
  dose: "The engine read the highlighted cell.",
  "no-dose": "The engine read the highlighted cell: the label gives no dose there.",
  "inputs-missing": "The table needs pretreatment IgE and weight; the chart lacks one.",
  "out-of-range": "The patient falls outside this table.",
  unverified: "Within the table's bounds; the exact cell could not be checked.",
  "lab-bound": "The IgE was reported only as a bound, which does not tell the row.",
  options: "The label gives fixed doses for this indication.",
};

function resultHtml(card, result) {
  let table = `<p data-testid="no-table">No dose table applies (no indication, no age, or below every table's age).</p>`;
  if (result && result.table) {
    const t = profile.tables.find((x) => x.id === result.table.id);
    if (t) table = `<p class="note" data-testid="finding">${escapeHtml(FINDING[result.table.finding] || "")}</p>${tableHtml(t, result.table, result.inputs)}`;
  }
  const facts = result ? `<pre data-testid="facts-used">${escapeHtml(result.factsUsed)}</pre>` : "";
  const assessment = result ? `<pre data-testid="assessment">${escapeHtml(JSON.stringify({ kind: result.kind, ...result.assessment }, null, 2))}</pre>` : "";
  return `<section class="result" data-testid="result"><div><h3>The card, as an EHR draws it</h3>${cardHtml(card)}<h3>Dose table</h3>${table}</div>
    <div><h3>Chart facts used</h3>${facts}<h3>Assessment</h3>${assessment}</div></section>`;
}

function showError(message) {
  const e = $("#error");
  e.textContent = message;
  e.hidden = !message;
}

// Each answer drawn counts once, after it is wholly drawn (tests wait on it).
function drawn() {
  document.body.dataset.runs = String(Number(document.body.dataset.runs || 0) + 1);
}

function draw(answer) {
  $("#request-json").textContent = JSON.stringify(answer.request, null, 2);
  const results = $("#results");
  if (answer.outcome) {
    const issue = answer.outcome.issue[0];
    showError(`The service answered ${answer.status} ${issue.details.coding[0].code}: ${issue.diagnostics}`);
    results.innerHTML = "";
    return;
  }
  showError("");
  const cards = answer.response.cards;
  if (!cards.length) {
    results.innerHTML = `<p data-testid="no-card">No card: the draft orders hold no order for this service's drug.</p>`;
    return;
  }
  results.innerHTML = cards.map((c) => resultHtml(c, answer.results.find((r) => r.card === c.uuid))).join("");
  results.querySelectorAll(".card").forEach((el, i) => {
    el.querySelectorAll("[data-suggestion]").forEach((b) =>
      b.addEventListener("click", () => {
        const s = cards[i].suggestions[Number(b.dataset.suggestion)];
        el.querySelector("[data-testid=action-note]").textContent =
          "Accepting would send: " + (s.actions || []).map((a) => `${a.type} ${a.resource ? a.resource.resourceType : a.resourceId}: ${a.description}`).join("; ");
      }),
    );
  });
}

async function api(body) {
  const resp = await fetch("/preview/api/run", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answer = await resp.json();
  if (!resp.ok) {
    const issue = answer.issue ? answer.issue[0] : { diagnostics: resp.statusText };
    showError(`The preview refused the request (${resp.status}): ${issue.diagnostics}`);
    return null;
  }
  return answer;
}

const FIELDS = ["ageYears", "weight", "ige", "indication", "doseMg", "everyWeeks"];

function fillForm(inputs) {
  const f = $("#changes");
  f.ageYears.value = inputs.ageYears ?? "";
  f.weight.value = inputs.weightKg ?? "";
  f.weightUnit.value = "kg";
  f.ige.value = inputs.ige ?? "";
  f.indication.value = "";
  f.doseMg.value = inputs.doseMg ?? "";
  f.everyWeeks.value = inputs.everyWeeks ?? "";
  for (const name of FIELDS) f[name].dataset.initial = f[name].value;
  f.weightUnit.dataset.initial = "kg";
  $("#changed").textContent = "";
}

// Only what the reviewer changed is sent: an untouched field leaves the chart as it is.
function changes() {
  const f = $("#changes");
  const out = {};
  const changed = [];
  for (const name of FIELDS) {
    const v = f[name].value;
    const unitChanged = name === "weight" && f.weightUnit.value !== f.weightUnit.dataset.initial;
    if (v === f[name].dataset.initial && !unitChanged) continue;
    if (v === "") continue;
    out[name] = name === "indication" ? v : Number(v);
    changed.push(f[name].closest("label").firstChild.textContent.trim());
  }
  if (out.weight !== undefined) out.weightUnit = f.weightUnit.value;
  return { out, changed };
}

async function runScenario(name, changeSet) {
  document.querySelectorAll("nav button").forEach((b) => b.setAttribute("aria-current", String(b.dataset.scenario === name)));
  $("#case-title").textContent = name;
  const answer = await api({ scenario: name, changes: changeSet || {} });
  if (!answer) return;
  draw(answer);
  $("#changes").hidden = false;
  if (!changeSet) {
    const first = answer.results && answer.results[0];
    fillForm(first ? first.inputs : {});
  }
  current = { scenario: name };
  history.replaceState(null, "", `#${encodeURIComponent(name)}`);
  drawn();
}

async function start() {
  const resp = await fetch("/preview/api/profile");
  profile = await resp.json();
  $("#rules-version").textContent = `Rules: ${profile.rulesVersion}.`;
  const list = $("#scenario-list");
  list.innerHTML = profile.scenarios.map((s) => `<li><button type="button" data-scenario="${escapeHtml(s)}">${escapeHtml(s)}</button></li>`).join("");
  list.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => runScenario(b.dataset.scenario)));
  const select = $("#changes").indication;
  for (const i of profile.indications) {
    const o = document.createElement("option");
    o.value = i.id;
    o.textContent = i.display;
    select.appendChild(o);
  }
  $("#all-tables-list").innerHTML = profile.tables.map((t) => tableHtml(t, null, null)).join("");
  $("#changes").addEventListener("submit", (e) => {
    e.preventDefault();
    if (!current) return;
    const { out, changed } = changes();
    $("#changed").textContent = changed.length ? `Changed: ${changed.join(", ")}.` : "Nothing changed.";
    runScenario(current.scenario, out);
  });
  $("#reset").addEventListener("click", () => current && runScenario(current.scenario));
  $("#paste-run").addEventListener("click", async () => {
    const answer = await api({ paste: $("#paste-text").value });
    if (!answer) return;
    current = null;
    $("#changes").hidden = true;
    $("#case-title").textContent = "Pasted request";
    document.querySelectorAll("nav button").forEach((b) => b.setAttribute("aria-current", "false"));
    draw(answer);
    drawn();
  });
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (wanted && profile.scenarios.includes(wanted)) runScenario(wanted);
  document.body.dataset.ready = "true";
}

start();
