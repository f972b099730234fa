// app.js - the plumb hub page: fleet overview, a host's drift timeline and an
// event's expected-versus-actual view. Reads the viewer token from the URL
// fragment (never sent to the server in a URL) or asks for it; keeps it in
// sessionStorage. Every value from the API is inserted as text, never HTML.
'use strict';

const KEY = 'plumb-hub-token';
const $ = (id) => document.getElementById(id);
const state = { hosts: [], events: [], next: null, host: null, timer: null, selected: null };
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

function takeToken() {
  const f = fragment();
  const t = f.get('token');
  if (t) {
    sessionStorage.setItem(KEY, t.trim());
    f.delete('token');
    const rest = f.toString();
    history.replaceState(null, '', location.pathname + (rest ? '#' + rest : ''));
  }
  return sessionStorage.getItem(KEY);
}

function ago(iso) {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + 's ago';
  if (s < 3600) return Math.floor(s / 60) + 'm ago';
  if (s < 86400) return Math.floor(s / 3600) + 'h ago';
  return Math.floor(s / 86400) + 'd ago';
}

class AuthError extends Error {}

async function api(path) {
  const token = sessionStorage.getItem(KEY);
  const r = await fetch(path, { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
  if (r.status === 401 || r.status === 403) throw new AuthError((await r.json().catch(() => ({}))).error || 'token refused');
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function showLogin(message) {
  sessionStorage.removeItem(KEY);
  clearInterval(state.timer);
  $('app').hidden = true;
  $('signout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = visible(message || '');
  $('token-input').focus();
}

function fail(e) {
  if (e instanceof AuthError) showLogin('The hub refused this token: ' + e.message);
  else $('error').textContent = visible(String(e.message || e));
}

// ---- fleet ----

function renderCounters(summary) {
  const c = $('counters');
  c.replaceChildren();
  for (const k of STATUSES) {
    const b = el('button', (summary[k] || 0) + ' ' + k, 'counter st-' + k);
    b.type = 'button';
    b.dataset.status = k;
    b.addEventListener('click', () => { $('f-status').value = k; location.hash = ''; renderFleet(); });
    c.append(b);
  }
  c.append(el('span', summary.total + ' hosts', 'muted'));
}

function renderFleet() {
  const q = $('f-host').value.trim().toLowerCase();
  const st = $('f-status').value;
  const body = $('hosts').tBodies[0];
  body.replaceChildren();
  const order = Object.fromEntries(STATUSES.map((k, i) => [k, i]));
  const rows = state.hosts
    .filter((h) => (!q || h.host.toLowerCase().includes(q)) && (!st || h.status === st))
    .sort((a, b) => (order[a.status] ?? 99) - (order[b.status] ?? 99) || a.host.localeCompare(b.host));
  for (const h of rows.slice(0, 2000)) {
    const tr = el('tr');
    tr.className = 'clickable';
    tr.dataset.host = h.host;
    const a = clipped('a', h.host, 80);
    a.href = '#host=' + encodeURIComponent(h.host);
    tr.append(el('td'), el('td'), el('td', ago(h.last_seen)), el('td'), el('td'),
      el('td', h.unresolved), el('td', h.counts.reverted), el('td', h.counts.failed), el('td', ago(h.last_drift_at)));
    tr.cells[0].append(a);
    tr.cells[1].append(el('span', h.status, 'badge st-' + h.status));
    if (h.reason) tr.cells[1].append(clipped('div', h.reason, 80, 'reason muted'));
    tr.cells[4].append(clipped('span', h.baseline.signer || '—', 60));
    tr.cells[2].title = h.last_seen || '';
    const b = h.baseline;
    setText(tr.cells[3], b.commit ? b.commit.slice(0, 10) + (b.serial !== null ? ' #' + b.serial : '') : (b.serial !== null ? '#' + b.serial : 'unsigned dir'));
    if (b.stale) tr.cells[3].append(el('span', ' expired', 'badge st-stale'));
    tr.addEventListener('click', (ev) => { if (ev.target.tagName !== 'A') location.hash = 'host=' + encodeURIComponent(h.host); });
    body.append(tr);
  }
  $('fleet-empty').hidden = rows.length > 0;
}

async function loadFleet() {
  const d = await api('/v1/hosts');
  state.hosts = d.hosts;
  renderCounters(d.summary);
  $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  $('error').textContent = '';
  if (!state.host) renderFleet();
  else renderHostMeta();
}

// ---- one host ----

function renderHostMeta() {
  const h = state.hosts.find((x) => x.host === state.host);
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

function eventsQuery(before) {
  const p = new URLSearchParams({ host: state.host, limit: '100' });
  const a = $('f-action').value;
  const r = $('f-resource').value.trim();
  if (a) p.set('action', a);
  if (r) p.set('resource', r);
  if (before) p.set('before', before);
  return '/v1/events?' + p;
}

function renderEvents() {
  const body = $('events').tBodies[0];
  body.replaceChildren();
  for (const e of state.events) {
    const tr = el('tr');
    tr.className = 'clickable' + (state.selected === e.seq ? ' selected' : '');
    tr.dataset.seq = e.seq;
    tr.append(el('td', e.at), el('td'), el('td'), el('td', (e.drift || []).join(', ')));
    tr.cells[1].append(clipped('span', e.resource, 200, 'mono'));
    tr.cells[2].append(el('span', e.action, 'badge act-' + e.action));
    tr.addEventListener('click', () => showEvent(e.seq));
    body.append(tr);
  }
  $('events-empty').hidden = state.events.length > 0;
  $('more').hidden = state.next === null;
}

async function loadEvents(more) {
  const d = await api(eventsQuery(more ? state.next : null));
  state.events = more ? state.events.concat(d.events) : d.events;
  state.next = d.next;
  renderEvents();
}

const FIELDS = ['state', 'type', 'mode', 'owner', 'group', 'size', 'sha256', 'target', 'sensitive'];

function fmt(v) {
  if (v === undefined) return '';
  if (v === null) return 'null';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function showEvent(seq) {
  const e = state.events.find((x) => x.seq === seq);
  if (!e) return;
  state.selected = seq;
  renderEvents();
  $('event').hidden = false;
  $('event-title').replaceChildren(clipped('span', e.resource + ' — ' + e.action, 2000));
  $('event-meta').textContent = 'at ' + e.at + ', drift: ' + ((e.drift || []).join(', ') || 'none') +
    (e.count ? ', ' + e.count + ' reverts' : '') + (e.quarantine ? ', quarantined as ' + e.quarantine.slice(0, 12) : '') +
    ', report ' + e.report;
  $('event-meta').textContent = visible($('event-meta').textContent);
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
}

// ---- routing ----

async function route() {
  const host = fragment().get('host');
  state.host = host;
  $('fleet').hidden = !!host;
  $('host').hidden = !host;
  if (!host) {
    renderFleet();
    return;
  }
  $('host-name').replaceChildren(clipped('span', host, 2000));
  $('event').hidden = true;
  state.selected = null;
  renderHostMeta();
  await loadEvents(false).catch(fail);
}

function start() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  clearInterval(state.timer);
  loadFleet().then(route).catch(fail);
  state.timer = setInterval(() => loadFleet().catch(fail), 10000);
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $('token-input').value.trim());
    $('token-input').value = '';
    start();
  });
  $('signout').addEventListener('click', () => showLogin('Token forgotten.'));
  $('f-host').addEventListener('input', renderFleet);
  $('f-status').addEventListener('change', renderFleet);
  $('f-action').addEventListener('change', () => loadEvents(false).catch(fail));
  $('f-resource').addEventListener('change', () => loadEvents(false).catch(fail));
  $('more').addEventListener('click', () => loadEvents(true).catch(fail));
  window.addEventListener('hashchange', () => {
    const fresh = fragment().get('token');
    takeToken();
    if (fresh) start();
    else route();
  });
  if (takeToken()) start();
  else showLogin('');
});
