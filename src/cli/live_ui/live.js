// braid get --serve-ui: draws a transfer from /events (its trace lines) and
// /summary (progress), asked every POLL_MS (src/cli/live_ui.h). Addresses
// and reasons come from peers: they reach the page only as text nodes
// (textContent), never as HTML.
'use strict';

// One colour per source id (id modulo 10). tests/integration/
// test_live_ui.py looks for the first two in a screenshot.
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const POLL_MS = 500;
const MAX_ROWS = 20000;   // interval rows kept for drawing (oldest go)
const MAX_CHANGES = 200;  // joined and failed entries listed
const MAX_PATTERNS = 2000;  // pattern changes kept for the time axis
const PATTERN_SHOWN = 120;  // characters of the pattern shown
// A trace whose time goes back this far is a retry's: drawn after the last.
const RESTART_S = 0.25;

let view;

function reset(name) {
  view = {
    name: name || '',
    rows: [],            // {t, rates: Map id -> interval rate, shares}
    patterns: [],        // {t, pattern}, the newest MAX_PATTERNS
    patternCount: 0,     // every pattern seen
    changes: [],         // {t, kind, address, reason}
    sources: new Map(),  // id -> {address, rate, share, alive}
    offset: 0,           // added to t: the attempts before this one
    lastT: 0,
    next: view ? view.next : 0,  // the /events index to ask from
    dropped: view ? view.dropped : false,
    summary: null,
  };
}

function colour(id) { return COLOURS[id % COLOURS.length]; }
function letter(id) { return id < 26 ? String.fromCharCode(65 + id) : String(id); }

function source(id) {
  if (!view.sources.has(id)) {
    view.sources.set(id, {address: '', rate: 0, share: 0, alive: true});
  }
  return view.sources.get(id);
}

function timeOf(e) {
  let t = e.t + view.offset;
  if (t < view.lastT - RESTART_S) {
    view.offset = view.lastT;
    t = e.t + view.offset;
  }
  view.lastT = Math.max(view.lastT, t);
  return t;
}

function takeInterval(t, e) {
  const row = {t, rates: new Map(), shares: new Map(), slots: new Map()};
  for (const s of e.sources) {
    row.rates.set(s.id, s.interval_rate);
    row.shares.set(s.id, s.share);
    row.slots.set(s.id, s.pattern_share);
    const src = source(s.id);
    if (s.address) src.address = s.address;
    Object.assign(src, {rate: s.rate, share: s.share, alive: s.alive});
  }
  view.rows.push(row);
  if (view.rows.length > MAX_ROWS) {
    view.rows.shift();
    view.dropped = true;
  }
}

function takeChange(t, e) {
  const src = source(e.id);
  if (e.address) src.address = e.address;
  src.alive = e.kind === 'joined';
  view.changes.push({t, kind: e.kind, address: e.address,
    reason: e.reason || ''});
  if (view.changes.length > MAX_CHANGES) view.changes.shift();
}

function takePattern(t, e) {
  view.patterns.push({t, pattern: e.pattern});
  view.patternCount++;
  if (view.patterns.length > MAX_PATTERNS) view.patterns.shift();
}

function take(e) {
  if (e.kind === 'begin') return reset(e.name);
  const t = timeOf(e);
  if (e.kind === 'interval') takeInterval(t, e);
  else if (e.kind === 'pattern') takePattern(t, e);
  else if (e.kind === 'joined' || e.kind === 'failed') takeChange(t, e);
}

// ---- drawing

const PAD = {left: 64, right: 12, top: 10, bottom: 22};

function frame(canvas) {
  const width = canvas.clientWidth || canvas.width;
  if (canvas.width !== width) canvas.width = width;
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.font = '11px sans-serif';
  const w = canvas.width - PAD.left - PAD.right;
  const h = canvas.height - PAD.top - PAD.bottom;
  // From the start, or from the oldest row kept.
  const t0 = view.dropped && view.rows.length ? view.rows[0].t : 0;
  const t1 = Math.max(view.lastT, t0 + 1);
  return {g, w, h, t0, t1,
    x: (t) => PAD.left + (t - t0) / (t1 - t0) * w,
    y: (v, top) => PAD.top + h - v / top * h};
}

function ids() { return [...view.sources.keys()].sort((a, b) => a - b); }

// A round top for the axis: 1, 2 or 5 times a power of ten.
function niceTop(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function axes(f, top, label) {
  const {g} = f;
  g.strokeStyle = '#ddd';
  g.fillStyle = '#555';
  g.lineWidth = 1;
  for (let i = 0; i <= 4; ++i) {
    const y = f.y(top * i / 4, top);
    g.beginPath(); g.moveTo(PAD.left, y); g.lineTo(PAD.left + f.w, y); g.stroke();
    g.fillText(label(top * i / 4), 4, y + 4);
  }
  const step = niceTop((f.t1 - f.t0) / 8);
  for (let t = Math.ceil(f.t0 / step) * step; t <= f.t1; t += step) {
    g.fillText(t.toFixed(step < 1 ? 1 : 0) + ' s', f.x(t) - 8, PAD.top + f.h + 15);
  }
}

function vline(f, t, colour, dash) {
  const {g} = f;
  g.strokeStyle = colour;
  g.setLineDash(dash);
  g.beginPath(); g.moveTo(f.x(t), PAD.top); g.lineTo(f.x(t), PAD.top + f.h);
  g.stroke();
  g.setLineDash([]);
}

function marks(f) {
  // Each pattern after the first.
  for (const p of view.patterns.slice(1)) vline(f, p.t, '#888', [3, 3]);
  for (const c of view.changes) {
    vline(f, c.t, c.kind === 'failed' ? '#d00' : '#080', []);
  }
}

function stackTops() {
  const order = ids();
  return view.rows.map((row) => {
    let sum = 0;
    const tops = new Map();
    for (const id of order) {
      sum += row.rates.get(id) || 0;
      tops.set(id, sum);
    }
    return {t: row.t, tops, sum};
  });
}

function drawRates() {
  const f = frame(document.getElementById('rates'));
  const stacks = stackTops();
  const top = niceTop(Math.max(1e6, ...stacks.map((s) => s.sum)) * 1.05);
  axes(f, top, (v) => (v / 1e6).toFixed(v < 1e7 && v > 0 ? 1 : 0) + ' MB/s');
  let below = stacks.map(() => 0);
  for (const id of ids()) {
    if (stacks.length < 2) break;
    const g = f.g;
    g.fillStyle = colour(id);
    g.beginPath();
    stacks.forEach((s, i) => g.lineTo(f.x(s.t), f.y(s.tops.get(id), top)));
    for (let i = stacks.length - 1; i >= 0; --i) {
      g.lineTo(f.x(stacks[i].t), f.y(below[i], top));
    }
    g.closePath();
    g.fill();
    below = stacks.map((s) => s.tops.get(id));
  }
  marks(f);
}

function drawShareLine(f, id, key, dash) {
  const {g} = f;
  g.strokeStyle = colour(id);
  g.lineWidth = 2;
  g.setLineDash(dash);
  g.beginPath();
  for (const row of view.rows) {
    if (row[key].has(id)) g.lineTo(f.x(row.t), f.y(row[key].get(id), 1));
  }
  g.stroke();
  g.setLineDash([]);
}

function drawShares() {
  const f = frame(document.getElementById('shares'));
  axes(f, 1, (v) => Math.round(v * 100) + ' %');
  for (const id of ids()) {
    drawShareLine(f, id, 'shares', []);
    drawShareLine(f, id, 'slots', [5, 4]);
  }
  marks(f);
}

// ---- text (peers' strings as text nodes only)

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function mbps(rate) { return (rate / 1e6).toFixed(2) + ' MB/s'; }

function drawLegend() {
  const body = document.querySelector('#legend tbody');
  body.replaceChildren();
  for (const id of ids()) {
    const s = view.sources.get(id);
    const tr = document.createElement('tr');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = colour(id);
    cell(tr, '').appendChild(swatch);
    cell(tr, letter(id));
    cell(tr, s.address || 'source ' + id);
    cell(tr, s.alive ? mbps(s.rate) : '-', 'num');
    cell(tr, (s.share * 100).toFixed(1) + ' %', 'num');
    cell(tr, s.alive ? 'taking part' : 'failed');
    body.appendChild(tr);
  }
}

function drawPattern() {
  const last = view.patterns.length ? view.patterns[view.patterns.length - 1]
    : view.summary && view.summary.pattern;
  const text = last ? last.pattern : '';
  document.getElementById('pattern').textContent =
      text.length > PATTERN_SHOWN ? text.slice(0, PATTERN_SHOWN) + '…' : text;
  // Letters (A is source 0), or ids with dots past 26 sources.
  const slots = text.includes('.') ? text.split('.').length : text.length;
  const changes = Math.max(0, view.patternCount - 1);
  document.getElementById('pattern-note').textContent = !last ? 'none yet' :
    `${slots} slots; ${changes} change${changes === 1 ? '' : 's'} so far`;
}

function drawChanges() {
  const list = document.getElementById('changes');
  list.replaceChildren();
  if (!view.changes.length) {
    const li = document.createElement('li');
    li.textContent = 'none so far';
    list.appendChild(li);
  }
  for (const c of view.changes) {
    const li = document.createElement('li');
    li.className = c.kind;
    li.textContent = `${c.t.toFixed(1)} s ${c.kind} ${c.address}` +
        (c.reason ? ': ' + c.reason : '');
    list.appendChild(li);
  }
  document.getElementById('dropped').textContent = view.dropped ?
    'The oldest events were dropped (the view keeps the newest).' : '';
}

function bytes(n) {
  return n >= 1e9 ? (n / 1e9).toFixed(2) + ' GB' : (n / 1e6).toFixed(1) + ' MB';
}

function drawProgress() {
  const p = view.summary && view.summary.progress;
  document.getElementById('name').textContent = view.name;
  if (!p) return;
  const have = p.done_bytes + p.resumed_bytes;
  const share = p.total_bytes ? have / p.total_bytes : 0;
  document.getElementById('bar-fill').style.width = (share * 100) + '%';
  document.getElementById('progress-text').textContent =
      `${bytes(have)}` + (p.total_bytes ? ` of ${bytes(p.total_bytes)}` +
      ` (${(share * 100).toFixed(1)} %)` : ' (live)') +
      `, ${mbps(p.rate)} in all, ${p.seconds.toFixed(1)} s`;
}

function setState(text, cls) {
  const state = document.getElementById('state');
  state.textContent = text;
  state.className = cls;
}

function draw() {
  drawRates();
  drawShares();
  drawLegend();
  drawPattern();
  drawChanges();
  drawProgress();
}

// ---- polling

async function getJson(path) {
  const r = await fetch(path, {cache: 'no-store'});
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

async function poll() {
  try {
    for (;;) {
      const a = await getJson('events?from=' + view.next);
      if (a.first > view.next) view.dropped = true;
      a.events.forEach(take);
      view.next = a.next;
      if (!a.more) break;
    }
    view.summary = await getJson('summary');
    if (!view.name) view.name = view.summary.name;
    setState(view.summary.finished ? 'finished' : 'live', 'live');
  } catch (err) {
    setState('not connected (the download has ended?)', 'off');
  }
  draw();
  setTimeout(poll, POLL_MS);
}

reset('');
poll();
