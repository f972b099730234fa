// app.js - the plumb hub page: the fleet (paged, filtered and sorted by the
// hub), a host's drift timeline, fleet-wide event search with a per-hour
// chart, the rollout of baselines, an event's expected-versus-actual view
// and its acknowledgement. A token (typed in, or in the URL fragment, which
// is never sent) is posted once to /v1/session; from then on the page holds
// only an HttpOnly session cookie, so links open in new tabs without the
// token, and the token is kept nowhere. Every value from the API is
// inserted as text, never HTML. No library, no CDN.
'use strict';

const $ = (id) => document.getElementById(id);
const PAGE = 100;
const state = {
  view: 'fleet', host: null, timer: null, selected: null, csrf: null, role: null, subject: null,
  fleet: { hosts: [], cursors: [null], etag: null, total: 0, next: null },
  events: [], next: null, total: null, exact: true, evQuery: '', evEtag: null, evNewest: null,
  hostInfo: null,
};
// Most urgent first, as the hub orders them.
const STATUSES = ['silent', 'drifting', 'refused', 'unprotected', 'stale', 'compliant'];

// Characters that change how text reads without showing themselves: bidi
// controls (U+202E makes "file:/etc/\u202edwssap" read as passwd), C0 and C1
// controls, zero-width and other invisible format characters, fillers,
// separators and tags. Every one is shown as ⟨U+XXXX⟩ in every view.
// (Newlines and tabs are kept only where a view asks for them: diffs.)
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb]|\udb40[\udc00-\udfff]/g;
const INVISIBLE_NL = /[\t\n]/g;

function visible(v, keepLines) {
  let s = String(v);
  s = s.replace(INVISIBLE, (c) => '⟨U+' + c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0') + '⟩');
  if (!keepLines) s = s.replace(INVISIBLE_NL, (c) => (c === '\n' ? '⟨U+000A⟩' : '⟨U+0009⟩'));
  return s;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = visible(text);
  if (cls) e.className = cls;
  return e;
}

// Long values are cut to max characters with a button that shows them all,
// so no field (a 50,000-character signer) can push a table off screen.
function clipped(tag, text, max, cls) {
  const full = text === undefined || text === null ? '' : visible(text);
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (full.length <= max) {
    e.textContent = full;
    return e;
  }
  const head = el('span');
  head.textContent = full.slice(0, max) + '…';
  const more = el('button', 'show all ' + full.length + ' characters', 'more');
  more.type = 'button';
  more.addEventListener('click', (ev) => {
    ev.stopPropagation();
    ev.preventDefault();
    head.textContent = full;
    more.remove();
  });
  e.append(head, ' ', more);
  return e;
}

function setText(node, text) {
  node.textContent = visible(text);
}

function fragment() {
  return new URLSearchParams(location.hash.replace(/^#\/?/, ''));
}


function ago(iso) {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + 's ago';
  if (s < 3600) return Math.floor(s / 60) + 'm ago';
  if (s < 86400) return Math.floor(s / 3600) + 'h ago';
  return Math.floor(s / 86400) + 'd ago';
}

const num = (n) => Number(n).toLocaleString('en-US');

class AuthError extends Error {}

// Every call carries the session cookie (same origin); a change also
// carries the CSRF token the session gave us. etag: a 304 returns null.
async function api(path, opts = {}) {
  const headers = {};
  if (opts.etag) headers['If-None-Match'] = opts.etag;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.method && opts.method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
  if (opts.token) headers.Authorization = 'Bearer ' + opts.token;
  const r = await fetch(path, {
    method: opts.method || 'GET', headers, cache: 'no-store', credentials: 'same-origin',
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  if (r.status === 304) return null;
  const d = await r.json().catch(() => ({}));
  if (r.status === 401) throw new AuthError(d.error || 'not signed in');
  if (!r.ok) throw new Error(d.error || path + ': HTTP ' + r.status);
  if (opts.withEtag) d._etag = r.headers.get('ETag');
  return d;
}

function showLogin(message) {
  clearInterval(state.timer);
  state.csrf = null;
  $('app').hidden = true;
  $('nav').hidden = true;
  $('signout').hidden = true;
  $('whoami').textContent = '';
  $('counters').replaceChildren();
  $('login').hidden = false;
  $('login-error').textContent = visible(message || '');
  $('token-input').focus();
}

function fail(e) {
  if (e instanceof AuthError) showLogin('The hub refused: ' + e.message);
  else $('error').textContent = visible(String(e.message || e));
}

// The token goes to the hub once, in a header; what comes back is a cookie
// (which scripts cannot read) and the session's CSRF token.
async function signIn(token) {
  const d = await api('/v1/session', { method: 'POST', token: token.trim() });
  state.csrf = d.csrf;
  state.role = d.role;
  state.subject = d.subject;
}

async function resume() {
  const d = await api('/v1/session');
  state.csrf = d.csrf;
  state.role = d.role;
  state.subject = d.subject;
}

const canAck = () => state.role === 'operator' || state.role === 'admin';

// ---- fleet ----

function renderCounters(summary) {
  const c = $('counters');
  c.replaceChildren();
  for (const k of STATUSES) {
    const b = el('button', num(summary[k] || 0) + ' ' + k, 'counter st-' + k);
    b.type = 'button';
    b.dataset.status = k;
    b.addEventListener('click', () => { $('f-status').value = k; go('#'); fleetQueryChanged(); });
    c.append(b);
  }
  c.append(el('span', num(summary.total) + ' hosts', 'muted'));
}

function fleetParams(cursor, extra) {
  const p = new URLSearchParams({ limit: String(PAGE), sort: $('f-sort').value });
  if ($('f-sort').value === 'last_seen') p.set('order', 'asc');
  const q = $('f-host').value.trim();
  const st = $('f-status').value;
  if (q) p.set('q', q);
  if (st) p.set('status', st);
  if (cursor) p.set('cursor', cursor);
  for (const [k, v] of Object.entries(state.fleet.extra || {})) p.set(k, v);
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  return p;
}

function hostLink(name, max) {
  const a = clipped('a', name, max || 80);
  a.href = '#host=' + encodeURIComponent(name);
  return a;
}

function newTab(href) {
  const a = el('a', '↗', 'newtab');
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener';
  a.title = 'open in a new tab';
  return a;
}

function renderFleet() {
  const f = state.fleet;
  const body = $('hosts').tBodies[0];
  body.replaceChildren();
  for (const h of f.hosts) {
    const tr = el('tr');
    tr.className = 'clickable';
    tr.dataset.host = h.host;
    tr.append(el('td'), el('td'), el('td', ago(h.last_seen)), el('td'), el('td'),
      el('td', h.unresolved), el('td', h.counts.reverted), el('td', h.counts.failed), el('td', ago(h.last_drift_at)));
    tr.cells[0].append(hostLink(h.host), newTab('#host=' + encodeURIComponent(h.host)));
    tr.cells[1].append(el('span', h.status, 'badge st-' + h.status));
    if (h.reason) tr.cells[1].append(clipped('div', h.reason, 80, 'reason muted'));
    tr.cells[4].append(clipped('span', h.baseline.signer || '—', 60));
    tr.cells[2].title = h.last_seen || '';
    const b = h.baseline;
    setText(tr.cells[3], b.commit ? b.commit.slice(0, 10) + (b.serial !== null ? ' #' + b.serial : '') : (b.serial !== null ? '#' + b.serial : 'unsigned dir'));
    if (b.stale) tr.cells[3].append(el('span', ' expired', 'badge st-stale'));
    tr.addEventListener('click', (ev) => { if (ev.target.tagName !== 'A' && ev.target.tagName !== 'BUTTON') go('#host=' + encodeURIComponent(h.host)); });
    body.append(tr);
  }
  const page = f.cursors.length;
  const first = (page - 1) * PAGE + (f.hosts.length ? 1 : 0);
  const narrowed = Object.entries(f.extra || {}).map(([k, v]) => (k === 'serial' ? 'serial ' + v : 'behind serial ' + v)).join(', ');
  $('fleet-count').textContent = (narrowed ? narrowed + ': ' : '') + (f.hosts.length
    ? 'hosts ' + num(first) + '–' + num(first + f.hosts.length - 1) + ' of ' + num(f.total)
    : '0 of ' + num(f.total));
  $('fleet-empty').hidden = f.hosts.length > 0;
  $('fleet-next').hidden = !f.next;
  $('fleet-first').hidden = page <= 1;
  const exp = fleetParams(null, { limit: '10000' });
  exp.set('format', 'csv');
  $('fleet-csv').href = '/v1/hosts?' + exp;
  exp.set('format', 'json');
  $('fleet-json').href = '/v1/hosts?' + exp;
}

// The current page only, and nothing at all when it is unchanged (304).
async function loadFleet() {
  const f = state.fleet;
  const cursor = f.cursors[f.cursors.length - 1];
  const d = await api('/v1/hosts?' + fleetParams(cursor), { etag: f.etag, withEtag: true });
  $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  $('error').textContent = '';
  if (!d) return; // not modified
  f.etag = d._etag;
  f.hosts = d.hosts;
  f.total = d.total;
  f.next = d.next;
  renderCounters(d.summary);
  if (state.view === 'fleet') renderFleet();
}

function fleetQueryChanged() {
  state.fleet.cursors = [null];
  state.fleet.etag = null;
  loadFleet().catch(fail);
}

// ---- events (one host's timeline, or the fleet's search) ----

function eventFilters() {
  const p = new URLSearchParams();
  if (state.view === 'host') {
    p.set('host', state.host);
    const a = $('f-action').value;
    const r = $('f-resource').value.trim();
    if (a) p.set('action', a);
    if (r) p.set('resource', r);
  } else {
    const h = $('e-host').value.trim(), r = $('e-resource').value.trim(), a = $('e-action').value;
    const since = $('e-since').value, until = $('e-until').value.trim(), acked = $('e-acked').value;
    if (h) p.set('host', h);
    if (r) p.set('resource', r);
    if (a) p.set('action', a);
    if (since) p.set('since', since);
    if (until) p.set('until', until);
    if (acked) p.set('acked', acked);
  }
  return p;
}

function eventsQuery(before, extra) {
  const p = eventFilters();
  p.set('limit', '100');
  p.set('count', 'yes');
  if (before) p.set('before', before);
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  return '/v1/events?' + p;
}

function eventHref(e) {
  return '#host=' + encodeURIComponent(e.host) + '&event=' + e.seq;
}

function renderEvents() {
  const body = $('events').tBodies[0];
  body.replaceChildren();
  for (const e of state.events) {
    const tr = el('tr');
    tr.className = 'clickable' + (state.selected === e.seq ? ' selected' : '');
    tr.dataset.seq = e.seq;
    tr.append(el('td', e.at), el('td'), el('td'), el('td'), el('td', (e.drift || []).join(', ')), el('td'));
    tr.cells[1].append(hostLink(e.host, 40));
    tr.cells[2].append(clipped('span', e.resource, 200, 'mono'), newTab(eventHref(e)));
    tr.cells[3].append(el('span', e.action, 'badge act-' + e.action));
    if (e.ack) tr.cells[5].append(el('span', '✓ ' + e.ack.by, 'ack'));
    tr.addEventListener('click', (ev) => { if (ev.target.tagName !== 'A' && ev.target.tagName !== 'BUTTON') showEvent(e.seq); });
    body.append(tr);
  }
  $('events-empty').hidden = state.events.length > 0;
  $('more').hidden = state.next === null;
  if (state.total !== null) {
    $('events-count').textContent = num(state.events.length) + ' of ' + (state.exact ? '' : 'more than ') + num(state.total) + ' events';
  }
  const exp = eventFilters();
  exp.set('limit', '10000');
  exp.set('format', 'csv');
  $('events-csv').href = '/v1/events?' + exp;
  exp.set('format', 'json');
  $('events-json').href = '/v1/events?' + exp;
}

async function loadEvents(more, extra) {
  const d = await api(eventsQuery(more ? state.next : null, extra), { withEtag: true });
  state.events = more ? state.events.concat(d.events) : d.events;
  state.next = d.next;
  state.total = d.total;
  state.exact = d.total_exact;
  if (!more) { state.evEtag = d._etag; state.evNewest = d.newest; }
  renderEvents();
}

// Refresh: ask only for what is newer than the newest shown.
async function refreshEvents() {
  if (state.evNewest === null || state.evNewest === undefined) return loadEvents(false);
  const p = eventFilters();
  p.set('after', String(state.evNewest));
  p.set('limit', '100');
  const d = await api('/v1/events?' + p);
  if (!d.events.length) return;
  if (d.next !== null) return loadEvents(false); // too many new ones: start over
  state.events = d.events.concat(state.events);
  state.evNewest = d.newest;
  if (state.total !== null) state.total += d.events.length;
  renderEvents();
}

const FIELDS = ['state', 'type', 'mode', 'owner', 'group', 'size', 'sha256', 'target', 'sensitive'];

function fmt(v) {
  if (v === undefined) return '';
  if (v === null) return 'null';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function renderAck(e) {
  $('ack-error').textContent = '';
  $('ack-show').textContent = e.ack ? visible('acknowledged by ' + e.ack.by + ' at ' + e.ack.at + ': ' + (e.ack.note || '')) : '';
  $('ack-form').hidden = !canAck();
}

function showEvent(seq) {
  const e = state.events.find((x) => x.seq === seq);
  if (!e) return;
  state.selected = seq;
  renderEvents();
  $('event').hidden = false;
  $('event-title').replaceChildren(clipped('span', e.resource + ' — ' + e.action, 2000));
  $('event-meta').textContent = 'at ' + e.at + ' on ' + e.host + ', drift: ' + ((e.drift || []).join(', ') || 'none') +
    (e.count ? ', ' + e.count + ' reverts' : '') + (e.quarantine ? ', quarantined as ' + e.quarantine.slice(0, 12) : '') +
    ', report ' + e.report;
  $('event-meta').textContent = visible($('event-meta').textContent);
  $('event-link').href = eventHref(e);
  $('event-error').replaceChildren(clipped('span', e.error || '', 4000));
  const exp = e.expected || {}, act = e.actual || {};
  const body = $('compare').tBodies[0];
  body.replaceChildren();
  for (const k of FIELDS) {
    if (!(k in exp) && !(k in act)) continue;
    const tr = el('tr');
    // A field the baseline does not set is not managed: it cannot differ.
    const managed = k in exp;
    if (managed && fmt(exp[k]) !== fmt(act[k])) tr.className = 'differs';
    tr.append(el('th', k), el('td'), el('td'));
    tr.cells[1].append(clipped('span', managed ? fmt(exp[k]) : '(not managed)', 2000, managed ? 'mono' : 'muted'));
    tr.cells[2].append(clipped('span', fmt(act[k]), 2000, 'mono'));
    body.append(tr);
  }
  if (e.expected === null || e.actual === null) {
    const tr = el('tr', undefined, 'differs');
    tr.append(el('th', 'exists'), el('td', e.expected === null ? 'not managed' : 'yes'), el('td', e.actual === null ? 'no' : 'yes'));
    body.append(tr);
  }
  const diff = act.diff || exp.diff;
  const pre = $('diff');
  pre.replaceChildren();
  pre.hidden = !diff;
  if (diff) {
    for (const line of diff.split('\n')) {
      const cls = line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : line.startsWith('@') ? 'hunk' : '';
      const span = el('span', undefined, cls);
      span.textContent = visible(line, true).replace(/\t/g, '⟨U+0009⟩') + '\n';
      pre.append(span);
    }
  }
  renderAck(e);
}

async function ack(ev) {
  ev.preventDefault();
  const e = state.events.find((x) => x.seq === state.selected);
  const note = $('ack-note').value.trim();
  if (!e || !note) return;
  try {
    const d = await api('/v1/events/' + e.seq + '/ack', { method: 'POST', body: { note } });
    e.ack = d.ack;
    $('ack-note').value = '';
    renderEvents();
    renderAck(e);
  } catch (err) {
    if (err instanceof AuthError) return fail(err);
    $('ack-error').textContent = visible(String(err.message || err));
  }
}

// ---- the chart: events per hour by action, stacked, as inline SVG ----

const ACTIONS = ['detected', 'reverted', 'failed', 'contested', 'refused', 'rolled-back'];
const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = visible(text);
  return e;
}

function drawChart(d) {
  const box = $('chart');
  box.replaceChildren();
  const t0 = Math.floor(Date.parse(d.since) / 3600000) * 3600000;
  const t1 = Math.floor(Date.parse(d.until) / 3600000) * 3600000;
  const hours = Math.max(1, Math.round((t1 - t0) / 3600000) + 1);
  const byHour = new Map(d.buckets.map((b) => [Date.parse(b.hour), b.actions]));
  let max = 1;
  for (const b of d.buckets) max = Math.max(max, Object.values(b.actions).reduce((a, n) => a + n, 0));
  const W = 1000, Hh = 180, L = 40, B = 20, T = 8;
  const bw = (W - L) / hours;
  const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + Hh, preserveAspectRatio: 'none', role: 'img',
    'aria-label': 'events per hour by action' });
  s.append(svg('line', { x1: L, y1: Hh - B, x2: W, y2: Hh - B, class: 'axis' }),
    svg('line', { x1: L, y1: T, x2: L, y2: Hh - B, class: 'axis' }),
    svg('text', { x: L - 4, y: T + 8, 'text-anchor': 'end' }, String(max)),
    svg('text', { x: L - 4, y: Hh - B, 'text-anchor': 'end' }, '0'));
  for (let i = 0; i < hours; i++) {
    const t = t0 + i * 3600000;
    const acts = byHour.get(t);
    if (i % Math.ceil(hours / 8) === 0) {
      s.append(svg('text', { x: L + i * bw, y: Hh - 6 }, new Date(t).toISOString().slice(5, 13).replace('T', ' ') + 'h'));
    }
    if (!acts) continue;
    let y = Hh - B;
    for (const a of ACTIONS) {
      const n = acts[a] || 0;
      if (!n) continue;
      const h = (n / max) * (Hh - B - T);
      y -= h;
      const r = svg('rect', { x: L + i * bw + 1, y, width: Math.max(1, bw - 2), height: h, class: 'bar bar-' + a,
        'data-hour': new Date(t).toISOString().replace('.000', ''), 'data-action': a, 'data-count': n });
      r.append(svg('title', {}, new Date(t).toISOString().slice(0, 13) + 'h: ' + n + ' ' + a));
      s.append(r);
    }
  }
  box.append(s);
  const legend = el('div', undefined, 'legend');
  for (const a of ACTIONS) legend.append(el('span', '■ ' + a, 'act-' + a));
  box.append(legend);
}

async function loadChart() {
  const p = eventFilters();
  if (!p.get('since')) p.set('since', '720h');
  const d = await api('/v1/events/histogram?' + p);
  drawChart(d);
}

// ---- rollout ----

async function loadRollout() {
  const d = await api('/v1/rollout');
  const body = $('rollout-table').tBodies[0];
  body.replaceChildren();
  for (const g of d.groups) {
    const tr = el('tr');
    tr.append(el('td', g.serial === null ? 'none' : g.serial), el('td'), el('td', num(g.hosts)),
      el('td', num(g.refused)), el('td', num(g.silent)), el('td', ago(g.last_seen)), el('td'));
    tr.cells[1].append(clipped('span', g.commit ? g.commit.slice(0, 12) : 'unsigned directory', 40, 'mono'));
    if (g.refused) tr.cells[3].className = 'st-refused';
    if (g.serial !== null && d.newest_serial !== null && g.serial < d.newest_serial) tr.className = 'behind';
    if (g.serial !== null) {
      const a = el('a', 'hosts');
      a.href = '#serial=' + g.serial;
      tr.cells[6].append(a);
    }
    body.append(tr);
  }
  const s = $('rollout-summary');
  s.replaceChildren();
  if (d.newest_serial === null) s.append('No host runs a signed serial yet.');
  else {
    s.append('Newest serial ' + d.newest_serial + '; ' + num(d.behind) + ' host(s) behind ');
    const a = el('a', '(list them)');
    a.href = '#behind=' + d.newest_serial;
    s.append(a, '.');
    const r = el('a', 'Hosts that refused a tip');
    r.href = '#status=refused';
    s.append(' ', r, '.');
  }
  if (d.truncated) s.append(' (first 1,000 baselines shown)');
}

// ---- routing ----

function go(hash) {
  if (location.hash !== hash) location.hash = hash;
  else route();
}

function show(view) {
  state.view = view;
  $('fleet').hidden = view !== 'fleet';
  $('host').hidden = view !== 'host';
  $('events-view').hidden = view !== 'events';
  $('timeline').hidden = view !== 'host' && view !== 'events';
  $('host-filters').hidden = view !== 'host';
  $('rollout').hidden = view !== 'rollout';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === view);
}

async function loadHostMeta() {
  const d = await api('/v1/hosts?' + new URLSearchParams({ q: state.host, limit: '1000' }));
  const h = d.hosts.find((x) => x.host === state.host);
  const dl = $('host-meta');
  dl.replaceChildren();
  if (!h) return;
  const add = (k, v) => { const dd = el('dd'); dd.append(clipped('span', v, 2000)); dl.append(el('dt', k), dd); };
  const st = el('dd');
  st.append(el('span', h.status, 'badge st-' + h.status));
  if (h.reason) st.append(' ', clipped('span', h.reason, 2000));
  dl.append(el('dt', 'status'), st);
  add('last seen', (h.last_seen || '—') + ' (' + ago(h.last_seen) + ')');
  add('baseline', (h.baseline.commit || 'unsigned') + (h.baseline.serial !== null ? ' serial ' + h.baseline.serial : ''));
  add('signer', (h.baseline.signer || '—') + (h.baseline.fingerprint ? ' ' + h.baseline.fingerprint : ''));
  add('mode', (h.mode || '—') + ', agent ' + (h.agent_version || '?'));
  add('totals', h.counts.reports + ' reports, ' + h.counts.events + ' events, ' + h.counts.reverted + ' reverted, ' + h.counts.failed + ' failed');
}

async function route() {
  const f = fragment();
  $('event').hidden = true;
  state.selected = null;
  const host = f.get('host');
  if (host) {
    show('host');
    state.host = host;
    $('host-name').replaceChildren(clipped('span', host, 2000));
    const seq = Number(f.get('event'));
    loadHostMeta().catch(fail);
    // An event link: the page of this host's events that starts with it.
    await loadEvents(false, seq > 0 ? { before: String(seq + 1) } : undefined);
    if (seq > 0) showEvent(seq);
    return;
  }
  if (location.hash === '#events' || f.has('events')) {
    show('events');
    await Promise.all([loadEvents(false), loadChart()]);
    return;
  }
  if (location.hash === '#rollout') {
    show('rollout');
    await loadRollout();
    return;
  }
  show('fleet');
  // Links from the rollout view narrow the fleet; the filters say so.
  const extra = {};
  if (f.get('status')) $('f-status').value = f.get('status');
  if (f.get('serial')) extra.serial = f.get('serial');
  if (f.get('behind')) extra.serial_below = f.get('behind');
  state.fleet.extra = extra;
  state.fleet.cursors = [null];
  state.fleet.etag = null;
  await loadFleet();
}

function tick() {
  if (state.view === 'fleet') return loadFleet();
  if (state.view === 'events' || state.view === 'host') return refreshEvents().then(() => loadFleetCounters());
  return loadFleetCounters();
}

// Just the counters (a one-host page, with its ETag).
async function loadFleetCounters() {
  const d = await api('/v1/hosts?limit=1', { etag: state.countEtag, withEtag: true });
  if (!d) return;
  state.countEtag = d._etag;
  renderCounters(d.summary);
}

function started() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('nav').hidden = false;
  $('signout').hidden = false;
  $('whoami').textContent = visible(state.role + ' ' + state.subject);
  clearInterval(state.timer);
  route().then(() => (state.view === 'fleet' ? null : loadFleetCounters())).catch(fail);
  state.timer = setInterval(() => tick().catch(fail), 10000);
}

// A token in the fragment (#token=...) is taken out of the address bar at
// once and traded for a session.
function fragmentToken() {
  const f = fragment();
  const t = f.get('token');
  if (!t) return null;
  f.delete('token');
  const rest = f.toString();
  history.replaceState(null, '', location.pathname + (rest ? '#' + rest : ''));
  return t;
}

async function boot() {
  const t = fragmentToken();
  try {
    if (t) await signIn(t);
    else await resume();
    started();
  } catch (e) {
    showLogin(e instanceof AuthError && !t ? '' : 'The hub refused: ' + (e.message || e));
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = $('token-input').value;
    $('token-input').value = '';
    try {
      await signIn(t);
      started();
    } catch (e) {
      showLogin('The hub refused this token: ' + (e.message || e));
    }
  });
  $('signout').addEventListener('click', async () => {
    try { await api('/v1/logout', { method: 'POST' }); } catch (e) { /* signed out either way */ }
    showLogin('Signed out.');
  });
  let typing = null;
  $('f-host').addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(fleetQueryChanged, 250); });
  $('f-status').addEventListener('change', fleetQueryChanged);
  $('f-sort').addEventListener('change', fleetQueryChanged);
  $('fleet-next').addEventListener('click', () => {
    state.fleet.cursors.push(state.fleet.next);
    state.fleet.etag = null;
    loadFleet().catch(fail);
  });
  $('fleet-first').addEventListener('click', fleetQueryChanged);
  $('f-action').addEventListener('change', () => loadEvents(false).catch(fail));
  $('f-resource').addEventListener('change', () => loadEvents(false).catch(fail));
  $('e-search').addEventListener('click', () => Promise.all([loadEvents(false), loadChart()]).catch(fail));
  for (const id of ['e-action', 'e-since', 'e-acked']) {
    $(id).addEventListener('change', () => Promise.all([loadEvents(false), loadChart()]).catch(fail));
  }
  for (const id of ['e-host', 'e-resource', 'e-until']) {
    $(id).addEventListener('keydown', (ev) => { if (ev.key === 'Enter') $('e-search').click(); });
  }
  $('more').addEventListener('click', () => loadEvents(true).catch(fail));
  $('ack-form').addEventListener('submit', ack);
  window.addEventListener('hashchange', () => {
    const t = fragmentToken();
    if (t) signIn(t).then(started).catch((e) => showLogin('The hub refused: ' + (e.message || e)));
    else if (state.csrf !== null || !$('app').hidden) route().catch(fail);
  });
  boot();
});
