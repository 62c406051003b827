"use strict";
// The hvppi page: submit FASTA, follow the job, show ranked tables, each row's evidence, the alignment to its
// nearest training viral protein and the paper model's attention profiles.
// Talks only to this server's /api (see README "Web page"). It follows only the jobs it submitted (their IDs
// are in the address, #job=ID): the server lists no jobs.

const $ = (id) => document.getElementById(id);
const SHOWN_ROWS = 500;
// The columns shown unless "more columns" is ticked: the pair, its probability and its evidence in words (the
// numbers behind the evidence are in the other columns and in a row's explanation). A scorer without an
// evidence column shows all its columns.
const MAIN_COLUMNS = ["rank", "human_id", "human_name", "probability", "known", "evidence"];
const ALIGNMENT_WIDTH = 60;  // columns per line of an alignment
const state = { config: null, job: null, columns: [], numeric: new Set(), names: {}, rows: [], proteins: new Map(), byProtein: new Map(), sort: { column: "rank", desc: false }, selected: null, alignments: new Map() };

function showMessage(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = !text;
}

async function api(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("the server did not answer (" + err.message + ")");
  }
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  if (!response.ok) {
    const err = new Error((body && body.error) || ("HTTP " + response.status));
    err.status = response.status;
    throw err;
  }
  return body;
}

function megabytes(n) { return (n / 1e6).toFixed(1) + " MB"; }

async function loadConfig() {
  try {
    const c = await api("/api/config");
    state.config = c;
    $("server-info").textContent = "Screening model " + c.model + " against " + c.human_proteins.toLocaleString() + " human proteins (" + c.human_source + ").";
    $("limits").textContent = "at most " + c.limits.max_proteins + " proteins, " + c.limits.max_residues.toLocaleString() + " residues each, " + megabytes(c.limits.max_body_bytes) + " per submission";
    $("attention-model").textContent = c.attention_model;
    for (const [i, ex] of c.examples.entries()) {
      const opt = document.createElement("option");
      opt.value = String(i);
      opt.textContent = ex.name;
      $("example").appendChild(opt);
    }
  } catch (err) {
    $("server-info").textContent = "cannot reach the server: " + err.message;
  }
}

async function submit(event) {
  event.preventDefault();
  showMessage("");
  const form = new FormData();
  const file = $("file").files[0];
  if (file) {
    const limit = state.config ? state.config.limits.max_body_bytes : Infinity;
    if (file.size > limit) {
      showMessage(file.name + ": the file is " + megabytes(file.size) + "; this server takes at most " + megabytes(limit));
      return;
    }
    form.append("file", file, file.name);
  } else {
    form.append("fasta", $("fasta").value);
  }
  if ($("taxon").value.trim()) {
    form.append("taxon", $("taxon").value.trim());
  }
  $("submit").disabled = true;
  try {
    const status = await api("/api/jobs", { method: "POST", body: form });
    location.hash = "job=" + status.id;
    follow(status.id);
  } catch (err) {
    showMessage(err.message);
  } finally {
    $("submit").disabled = false;
  }
}

function showStatus(s) {
  $("job-section").hidden = false;
  $("job-section").dataset.state = s.state;
  $("job-id").textContent = s.id;
  $("progress").max = Math.max(s.total, 1);
  $("progress").value = s.state === "done" ? Math.max(s.total, 1) : s.done;
  let text = s.state;
  if (s.state === "queued") text = "queued" + (s.position ? " (position " + s.position + ")" : "");
  if (s.state === "running") text = "running: " + s.done + " of " + s.total + " viral proteins screened";
  if (s.state === "done") text = "done: " + s.total + " viral protein" + (s.total === 1 ? "" : "s") + " screened";
  if (s.state === "failed") text = "failed: " + s.error;
  $("job-state").textContent = text;
  const list = $("warnings");
  list.replaceChildren();
  for (const w of s.warnings || []) {
    const li = document.createElement("li");
    li.textContent = w;
    list.appendChild(li);
  }
}

async function follow(jobId) {
  state.job = jobId;
  $("results-section").hidden = true;
  $("explain-section").hidden = true;
  $("attention-section").hidden = true;
  while (state.job === jobId) {
    let s;
    try {
      s = await api("/api/jobs/" + jobId);
    } catch (err) {
      showMessage(err.message);
      return;
    }
    showStatus(s);
    if (s.state === "done") { await loadResults(jobId); return; }
    if (s.state === "failed") { showMessage(s.error); return; }
    await new Promise((r) => setTimeout(r, 400));
  }
}

async function loadResults(jobId) {
  // the server sends one viral protein's rows at a time (the first here; the others when chosen)
  const data = await api("/api/jobs/" + jobId + "/results");
  state.columns = data.columns;
  state.names = data.names || {};
  // column types come from the API ("string", "float64", "int8", "int64"): numbers sort as numbers
  state.numeric = new Set(data.columns.filter((c, i) => data.types[i] !== "string"));
  state.proteins = new Map(data.proteins.map((p) => [p.id, p.rows]));
  state.byProtein = new Map([[data.virus_id, data.rows]]);
  const select = $("protein");
  select.replaceChildren();
  for (const [pid, n] of state.proteins) {
    const opt = document.createElement("option");
    opt.value = pid;
    opt.textContent = withName(pid) + ": " + n.toLocaleString() + " human proteins";
    select.appendChild(opt);
  }
  select.value = data.virus_id;
  $("download-tsv").href = "/api/jobs/" + jobId + "/results.tsv";
  $("download-parquet").href = "/api/jobs/" + jobId + "/results.parquet";
  state.sort = { column: "rank", desc: false };
  state.selected = null;
  state.alignments = new Map();
  $("results-section").hidden = false;
  $("explain-section").hidden = true;
  renderTable();
}

async function chooseProtein() {
  const pid = $("protein").value;
  const jobId = state.job;
  if (!state.byProtein.has(pid)) {
    let data;
    try {
      data = await api("/api/jobs/" + jobId + "/results?virus_id=" + encodeURIComponent(pid));
    } catch (err) {
      showMessage(err.message);
      return;
    }
    if (state.job !== jobId) return;
    state.byProtein.set(pid, data.rows);
    Object.assign(state.names, data.names || {});
  }
  renderTable();
}

function withName(pid) {
  const name = state.names[pid];
  return name ? pid + " (" + name + ")" : pid;
}

function shownColumns() {
  const cols = state.columns;
  if ($("more-columns").checked || !cols.includes("evidence")) return cols.map((c, i) => i);
  return MAIN_COLUMNS.filter((c) => cols.includes(c)).map((c) => cols.indexOf(c));
}

function formatCell(column, value) {
  if (typeof value === "number" && !Number.isInteger(value)) {
    return column === "score" ? value.toFixed(3) : value.toFixed(4);
  }
  return String(value);
}

function renderTable() {
  const cols = state.columns;
  const shown = shownColumns();
  const thead = $("results").tHead;
  thead.replaceChildren();
  const tr = document.createElement("tr");
  shown.forEach((i) => {
    const c = cols[i];
    const th = document.createElement("th");
    th.textContent = c;
    th.dataset.column = c;
    if (state.sort.column === c) th.className = state.sort.desc ? "sorted-desc" : "sorted-asc";
    th.addEventListener("click", () => {
      state.sort = { column: c, desc: state.sort.column === c ? !state.sort.desc : state.numeric.has(c) && c !== "rank" };
      renderTable();
    });
    tr.appendChild(th);
  });
  thead.appendChild(tr);

  const rows = state.byProtein.get($("protein").value) || [];
  const needle = $("filter").value.trim().toLowerCase();
  const minP = parseFloat($("min-probability").value) || 0;
  const pi = cols.indexOf("probability");
  let kept = rows.filter((r) => (!needle || r.some((v) => String(v).toLowerCase().includes(needle))) && (pi < 0 || r[pi] >= minP));
  const si = cols.indexOf(state.sort.column);
  const sign = state.sort.desc ? -1 : 1;
  kept = kept.slice().sort((a, b) => (a[si] < b[si] ? -1 : a[si] > b[si] ? 1 : 0) * sign);
  const tbody = $("results").tBodies[0];
  tbody.replaceChildren();
  const hi = cols.indexOf("human_id");
  const vi = cols.indexOf("virus_id");
  for (const r of kept.slice(0, SHOWN_ROWS)) {
    const row = document.createElement("tr");
    row.dataset.humanId = String(r[hi]);
    if (r === state.selected) row.classList.add("selected");
    for (const i of shown) {
      const td = document.createElement("td");
      td.textContent = formatCell(cols[i], r[i]);
      td.dataset.column = cols[i];
      if (state.numeric.has(cols[i])) td.className = "num";
      if (cols[i] === "evidence" || cols[i] === "known") td.className = "words";
      row.appendChild(td);
    }
    row.addEventListener("click", () => {
      for (const other of tbody.querySelectorAll("tr.selected")) other.classList.remove("selected");
      row.classList.add("selected");
      state.selected = r;
      showExplanation(r);
      showAlignment(r);
      showAttention(r[vi], r[hi]);
    });
    tbody.appendChild(row);
  }
  const hidden = cols.length - shown.length;
  $("table-info").textContent = "showing " + Math.min(kept.length, SHOWN_ROWS).toLocaleString() + " of " + kept.length.toLocaleString() + " rows" + (kept.length < rows.length ? " (filtered from " + rows.length.toLocaleString() + ")" : "") + (hidden ? " and " + shown.length + " of " + cols.length + " columns (tick “more columns” for the numbers behind the evidence)" : "") + "; click a column to sort, a row for why it ranks there";
}

// ---------------------------------------------------------------------------------------- a row's explanation

function rowValues(r) {
  const out = {};
  state.columns.forEach((c, i) => { out[c] = r[i]; });
  return out;
}

function fraction(v, digits) { return typeof v === "number" ? v.toFixed(digits) : String(v); }
function percent(v) { return typeof v === "number" ? Math.round(v * 100) + "%" : String(v); }

function explanationItems(v) {
  // [term, description] pairs, in words, from the row's columns (those the scorer has)
  const items = [];
  const human = withNameOf(v.human_id, v.human_name);
  const total = state.proteins.get(v.virus_id) || 0;
  let pair = withName(v.virus_id) + " × " + human;
  if (v.rank !== undefined) pair += ": rank " + v.rank + " of " + total.toLocaleString();
  if (v.probability !== undefined) pair += ", probability " + fraction(v.probability, 3);
  items.push(["pair", pair]);
  items.push(["evidence", v.evidence]);
  if (v.known !== undefined) {
    items.push(["known pair", v.known ? "yes: the query's sequence is a training viral protein's, and this pair is in the training data (" + v.known + ")" : "no: not a pair of the training data"]);
  }
  if (v.nearest_training_virus !== undefined) {
    let text = withName(v.nearest_training_virus) + ": similarity " + fraction(v.nearest_similarity, 2) + " (Smith–Waterman, 1 = the same sequence), identity " + percent(v.nearest_identity) + " (of their global alignment)";
    if (v.nearest_binds !== undefined) text += "; it " + (v.nearest_binds ? "binds " : "does not bind ") + v.human_id + " in the training data";
    items.push(["nearest training viral protein", text]);
  }
  if (v.best_partner_virus !== undefined) {
    items.push(["most similar viral partner of " + v.human_id, v.best_partner_virus ? withName(v.best_partner_virus) + ", similarity " + fraction(v.best_partner_similarity, 2) + " to the query" : "none: no training viral protein binds " + v.human_id]);
  }
  if (v.virus_taxon !== undefined) {
    const virus = [v.virus_taxon ? "virus " + v.virus_taxon : "", v.virus_family || ""].filter((x) => x).join(", ");
    let text = virus || "not given and not known to the training data (enter the NCBI taxid of the virus in the “virus” field)";
    const n = v.same_virus_partners;
    if (n !== undefined && virus) text += "; " + n + " training protein" + (n === 1 ? " of this virus binds " : "s of this virus bind ") + v.human_id;
    items.push(["virus", text]);
  }
  return items;
}

function withNameOf(pid, name) { return name ? pid + " (" + name + ")" : String(pid); }

function showExplanation(r) {
  const v = rowValues(r);
  const list = $("explain");
  list.replaceChildren();
  const items = v.evidence !== undefined ? explanationItems(v) : state.columns.map((c, i) => [c, formatCell(c, r[i])]);
  for (const [term, text] of items) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = text;
    dd.dataset.term = term;
    list.append(dt, dd);
  }
  $("explain-title").textContent = withName(v.virus_id) + " × " + withNameOf(v.human_id, v.human_name);
  $("explain-section").hidden = false;
}

// ------------------------------------------------------------- the alignment to the nearest training viral protein

function alignmentLines(a, width) {
  // the alignment as text: blocks of `width` columns, each the query, the match line and the target, with the
  // first and last residue numbers of each line (as BLAST prints them)
  const q = a.aligned.query, m = a.aligned.match, t = a.aligned.target;
  const labels = [a.query.id, a.target.id].map((s) => String(s).slice(0, 20));
  const pad = Math.max(...labels.map((s) => s.length));
  const digits = String(Math.max(a.query.end, a.target.end)).length;
  let qAt = a.query.start, tAt = a.target.start;
  const lines = [];
  for (let k = 0; k < q.length; k += width) {
    const qs = q.slice(k, k + width), ts = t.slice(k, k + width);
    const qn = qs.replace(/-/g, "").length, tn = ts.replace(/-/g, "").length;
    const row = (label, at, n, s) => label.padEnd(pad) + " " + String(at).padStart(digits) + " " + s + " " + String(at + n - 1);
    lines.push(row(labels[0], qAt, qn, qs));
    lines.push(" ".repeat(pad + digits + 2) + m.slice(k, k + width));
    lines.push(row(labels[1], tAt, tn, ts));
    lines.push("");
    qAt += qn;
    tAt += tn;
  }
  lines.pop();  // the blank line after the last block
  return lines.join("\n");
}

function showAlignmentOf(a) {
  const target = withNameOf(a.target.id, a.target.name);
  $("alignment-title").textContent = "Alignment to the nearest training viral protein: " + target + " — identity " + (a.identity * 100).toFixed(1) + "% over " + a.columns.toLocaleString() + " columns";
  $("alignment-info").textContent = "Local alignment (" + a.scoring + ") of " + a.query.id + " residues " + a.query.start + "–" + a.query.end + " (of " + a.query.length + ") with " + a.target.id + " residues " + a.target.start + "–" + a.target.end + " (of " + a.target.length + "): " + a.matches + " identical (|), " + a.positives + " similar (| or +), " + a.gaps + " gap columns; identity over the shorter protein " + percent(a.identity_shorter) + "; normalised similarity " + fraction(a.similarity, 2) + ", as in the row.";
  $("alignment-text").textContent = alignmentLines(a, ALIGNMENT_WIDTH);
  $("alignment-text").hidden = false;
}

async function showAlignment(r) {
  // below the explanation: the local alignment of the row's viral protein with the training viral protein the
  // screening model names as its nearest (only the screening model names one)
  const v = rowValues(r);
  const box = $("alignment");
  box.hidden = v.nearest_training_virus === undefined;
  if (box.hidden) return;
  $("alignment-text").hidden = true;
  $("alignment-info").textContent = "";
  $("alignment-title").textContent = "Alignment to the nearest training viral protein: aligning " + v.virus_id + " with " + v.nearest_training_virus + " …";
  const job = state.job;
  try {
    if (!state.alignments.has(v.virus_id)) {
      state.alignments.set(v.virus_id, await api("/api/jobs/" + job + "/alignment?virus_id=" + encodeURIComponent(v.virus_id)));
    }
    if (state.selected === r && state.job === job) showAlignmentOf(state.alignments.get(v.virus_id));
  } catch (err) {
    if (state.selected !== r || state.job !== job) return;  // another row was clicked meanwhile
    const notClose = err.status === 404 && err.message.startsWith("no training viral protein is close enough");
    $("alignment-title").textContent = "Alignment to the nearest training viral protein: " + (notClose ? "no training viral protein is close enough to align" : "not shown");
    $("alignment-info").textContent = err.message;
  }
}

// ---------------------------------------------------------------------------------------- the attention profiles

const SVG = "http://www.w3.org/2000/svg";
function svgElement(name, attrs) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function plotProfile(container, title, protein, colour) {
  container.replaceChildren();
  const h = document.createElement("h3");
  h.textContent = title + ": " + protein.id + " (" + protein.sequence.length.toLocaleString() + " residues)";
  container.appendChild(h);
  const w = protein.attention;
  const width = 1000, height = 180, left = 50, right = 10, top = 10, bottom = 30;
  const max = Math.max(...w, 1 / w.length) * 1.05;
  const x = (i) => left + ((width - left - right) * i) / Math.max(w.length - 1, 1);
  const y = (v) => top + (height - top - bottom) * (1 - v / max);
  const svg = svgElement("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": title + " attention" });
  svg.appendChild(svgElement("line", { x1: left, y1: y(0), x2: width - right, y2: y(0), stroke: "#999" }));
  svg.appendChild(svgElement("line", { x1: left, y1: top, x2: left, y2: y(0), stroke: "#999" }));
  svg.appendChild(svgElement("line", { x1: left, y1: y(1 / w.length), x2: width - right, y2: y(1 / w.length), stroke: "#888", "stroke-dasharray": "4 3" }));
  let d = "";
  w.forEach((v, i) => { d += (i ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1); });
  d += "L" + x(w.length - 1).toFixed(1) + " " + y(0).toFixed(1) + "L" + x(0).toFixed(1) + " " + y(0).toFixed(1) + "Z";
  svg.appendChild(svgElement("path", { d: d, fill: colour, "fill-opacity": 0.35, stroke: colour, "stroke-width": 1 }));
  const ticks = 5;
  for (let k = 0; k <= ticks; k++) {
    const pos = Math.round(((w.length - 1) * k) / ticks);
    const t = svgElement("text", { x: x(pos), y: height - 10, "text-anchor": "middle", "font-size": 11, fill: "#444" });
    t.textContent = String(pos + 1);
    svg.appendChild(t);
  }
  const label = svgElement("text", { x: 4, y: top + 10, "font-size": 11, fill: "#444" });
  label.textContent = max.toPrecision(2);
  svg.appendChild(label);
  const peak = w.indexOf(Math.max(...w));
  const cap = svgElement("title", {});
  cap.textContent = "highest attention at residue " + (peak + 1) + " (" + protein.sequence[peak] + ")";
  svg.appendChild(cap);
  container.appendChild(svg);
}

async function showAttention(virusId, humanId) {
  $("attention-section").hidden = false;
  $("attention-title").textContent = virusId + " × " + humanId + " (computing …)";
  try {
    const q = "?virus_id=" + encodeURIComponent(virusId) + "&human_id=" + encodeURIComponent(humanId);
    const a = await api("/api/jobs/" + state.job + "/attention" + q);
    plotProfile($("attention-virus"), "viral protein", a.virus, "#c62828");
    plotProfile($("attention-human"), "human protein", a.human, "#283593");
    $("attention-title").textContent = virusId + " × " + humanId;
  } catch (err) {
    $("attention-title").textContent = virusId + " × " + humanId;
    showMessage(err.message);
  }
}

function init() {
  loadConfig();
  $("job-form").addEventListener("submit", submit);
  $("example").addEventListener("change", () => {
    const i = $("example").value;
    if (i !== "" && state.config) {
      $("fasta").value = state.config.examples[Number(i)].fasta;
      $("file").value = "";
    }
  });
  $("file").addEventListener("change", () => { if ($("file").files.length) $("example").value = ""; });
  $("protein").addEventListener("change", chooseProtein);
  for (const id of ["min-probability", "more-columns"]) $(id).addEventListener("change", renderTable);
  $("filter").addEventListener("input", renderTable);
  const m = /job=([0-9a-f]{32})/.exec(location.hash);
  if (m) follow(m[1]);
}

document.addEventListener("DOMContentLoaded", init);
