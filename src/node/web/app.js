// The account owner's page (src/node/web.c). Plain DOM, no framework, no
// inline script (the page's Content-Security-Policy forbids it): text is
// always set with textContent, never parsed as HTML.
'use strict';

const API = '/owner/api/';
const EVENT_TYPES = ['share.eid_confirmed', 'share.authorised', 'share.denied', 'share.failed',
  'share.delivered', 'share.installed', 'share.cancel_pending', 'share.revoked', 'share.expired',
  'share.key_certified', 'share.certify_failed', 'share.certified'];
// The steps drawn for each share: patent step, label, the events that mark it.
const STEPS = [
  ['S4', 'requested', []],
  ['S12', 'EID confirmed', ['share.eid_confirmed']],
  ['S13', 'authorised', ['share.authorised', 'share.denied']],
  ['S14', 'delivered', ['share.delivered']],
  ['S15', 'installed', ['share.installed']],
  ['S16', 'cancelled', ['share.cancel_pending', 'share.expired']],
  ['S17', 'removed', ['share.revoked']],
];
const BAD = ['share.denied', 'share.failed', 'share.expired'];
const FINAL = ['denied', 'failed', 'expired', 'revoked', 'cancel_pending'];

let csrf = '';
let stream = null;
let reloadTimer = null;
let eventsSeen = 0;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svgEl(tag, attrs, text) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function when(t) {
  if (!t) return '—';
  return new Date(t * 1000).toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' });
}

function clock(t) {
  return new Date(t * 1000).toLocaleTimeString([], { hour12: false });
}

function showError(msg) {
  const e = $('error');
  e.textContent = msg || '';
  e.hidden = !msg;
}

async function call(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  if (method === 'POST') {
    opts.headers['Content-Type'] = 'application/json';
    opts.headers['X-CSRF-Token'] = csrf;
    opts.body = JSON.stringify(body || {});
  }
  const r = await fetch(API + path, opts);
  let j = null;
  try { j = await r.json(); } catch (e) { j = null; }
  return { status: r.status, body: j };
}

function errorText(r) {
  const e = r.body && r.body.error;
  return e ? e.message + ' (' + e.code + ')' : 'the node answered ' + r.status;
}

function setLive(on) {
  const l = $('live');
  l.className = 'live ' + (on ? 'on' : 'off');
  l.textContent = on ? 'live' : 'offline';
  document.body.dataset.live = on ? '1' : '0';
}

function stopStream() {
  if (stream) stream.close();
  stream = null;
  setLive(false);
}

function startStream(after) {
  if (stream) return;
  stream = new EventSource(API + 'events?after=' + encodeURIComponent(after));
  stream.onopen = () => setLive(true);
  stream.onerror = () => {
    setLive(false);
    // The browser retries by itself; a stream refused (session over) is closed.
    if (stream && stream.readyState === EventSource.CLOSED) {
      stream = null;
      setTimeout(refresh, 2000);
    }
  };
  const onEvent = () => {
    eventsSeen++;
    document.body.dataset.events = String(eventsSeen);
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(refresh, 150);
  };
  for (const t of EVENT_TYPES) stream.addEventListener(t, onEvent);
  stream.onmessage = onEvent;
}

function showLogin() {
  stopStream();
  $('who').hidden = true;
  $('main').hidden = true;
  $('login').hidden = false;
  document.body.dataset.view = 'login';
}

function stepTimes(share) {
  const times = STEPS.map(() => null);
  const bad = STEPS.map(() => false);
  times[0] = share.created_at;
  for (const h of share.history || []) {
    STEPS.forEach((s, i) => {
      if (s[2].includes(h.type) && times[i] === null) {
        times[i] = h.at || null;
        bad[i] = BAD.includes(h.type);
      }
    });
    if (h.type === 'share.failed') {
      const i = times.findIndex((t) => t === null);
      if (i >= 0) { times[i] = h.at || null; bad[i] = true; }
    }
  }
  return { times, bad };
}

function drawSteps(share) {
  const { times, bad } = stepTimes(share);
  const w = 700, x0 = 40, dx = (w - 2 * x0) / (STEPS.length - 1);
  const svg = svgEl('svg', { class: 'steps', viewBox: '0 0 ' + w + ' 74', role: 'img',
    'aria-label': 'steps of the share' });
  svg.appendChild(svgEl('line', { class: 'rail', x1: x0, y1: 30, x2: w - x0, y2: 30 }));
  STEPS.forEach((s, i) => {
    const x = x0 + i * dx;
    const done = times[i] !== null;
    const cls = !done ? 'todo' : bad[i] ? 'end-bad' : i >= 5 ? 'done-end' : 'done';
    const c = svgEl('circle', { cx: x, cy: 30, r: 8, class: cls });
    c.dataset.step = s[0];
    c.dataset.done = done ? '1' : '0';
    svg.appendChild(c);
    svg.appendChild(svgEl('text', { x, y: 14 }, s[0] + ' ' + s[1]));
    if (done) {
      const dt = times[i] - times[0];
      svg.appendChild(svgEl('text', { x, y: 54, class: 't' }, clock(times[i])));
      if (i > 0) svg.appendChild(svgEl('text', { x, y: 67, class: 't' }, dt > 0 ? '+' + dt + ' s' : '+<1 s'));
    }
  });
  return svg;
}

function renderShare(s) {
  const card = el('div', { class: 'share', 'data-share-id': s.share_id });
  const head = el('div', { class: 'share-head' });
  const title = el('div');
  title.appendChild(el('span', { class: 'share-title' }, (s.operation === 'move' ? 'Move of ' : 'Share of ') + s.app_id));
  title.appendChild(el('span', { class: 'meta' }, ' \u2192 ' + (s.associated_app_id || '') + ' on EID ' + s.eid));
  head.appendChild(title);
  const right = el('div');
  right.appendChild(el('span', { class: 'state state-' + s.state, 'data-state': s.state }, s.state.replace('_', ' ')));
  if (!FINAL.includes(s.state)) {
    const b = el('button', { class: 'danger cancel', type: 'button' }, 'Cancel');
    b.addEventListener('click', () => cancelShare(s.share_id, b));
    right.appendChild(document.createTextNode(' '));
    right.appendChild(b);
  }
  head.appendChild(right);
  card.appendChild(head);
  const meta = el('div', { class: 'meta' });
  meta.textContent = 'share ' + s.share_id.slice(0, 12) + '\u2026 \u00b7 requested ' + when(s.created_at) +
    ' \u00b7 ' + (s.not_after ? 'expires ' + when(s.not_after) : 'no time limit') +
    (s.reason ? ' \u00b7 ' + s.reason : '');
  card.appendChild(meta);
  card.appendChild(drawSteps(s));
  const det = el('details');
  det.appendChild(el('summary', {}, 'History (' + (s.history || []).length + ' events)'));
  const ul = el('ul');
  for (const h of s.history || [])
    ul.appendChild(el('li', {}, when(h.at) + ' \u2014 ' + h.type + (h.message ? ': ' + h.message : '')));
  det.appendChild(ul);
  card.appendChild(det);
  return card;
}

function renderDevice(d, thisDevice) {
  const tr = el('tr', { 'data-device-id': d.device_id });
  tr.appendChild(el('td', {}, d.name + (d.device_id === thisDevice ? ' (this browser)' : '')));
  tr.appendChild(el('td', {}, d.device_id.slice(0, 16) + '\u2026'));
  tr.appendChild(el('td', {}, when(d.created_at)));
  tr.appendChild(el('td', { class: 'dstate' }, d.revoked_at ? 'revoked ' + when(d.revoked_at) : 'active'));
  const td = el('td');
  if (!d.revoked_at) {
    const b = el('button', { class: 'danger revoke', type: 'button' }, 'Revoke');
    b.addEventListener('click', () => revokeDevice(d.device_id, d.name, b));
    td.appendChild(b);
  }
  tr.appendChild(td);
  return tr;
}

function render(st) {
  $('user').textContent = st.user;
  $('who').hidden = false;
  $('login').hidden = true;
  $('main').hidden = false;
  const box = $('shares');
  box.replaceChildren(...st.shares.map(renderShare));
  $('no-shares').hidden = st.shares.length !== 0;
  $('devices').tBodies[0].replaceChildren(...st.devices.map((d) => renderDevice(d, st.device_id)));
  document.body.dataset.view = 'main';
  document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
}

async function refresh() {
  let r;
  try { r = await call('GET', 'state'); } catch (e) { showError('the node cannot be reached'); return; }
  if (r.status === 401) { await begin(); return; }
  if (r.status !== 200) { showError(errorText(r)); return; }
  showError('');
  render(r.body);
  startStream(r.body.last_event_id);
}

async function cancelShare(id, button) {
  if (!window.confirm('Cancel this share? The app is removed from the other device.')) return;
  button.disabled = true;
  const r = await call('POST', 'shares/' + encodeURIComponent(id) + '/cancel');
  if (r.status === 401) { await begin(); return; }
  if (r.status !== 202) showError(errorText(r));
  await refresh();
}

async function revokeDevice(id, name, button) {
  if (!window.confirm('Revoke ' + name + '? It can no longer act for your account.')) return;
  button.disabled = true;
  const r = await call('POST', 'devices/' + encodeURIComponent(id) + '/revoke');
  if (r.status === 401) { await begin(); return; }
  if (r.status !== 200) showError(errorText(r));
  await refresh();
}

async function begin() {
  let r;
  try { r = await call('GET', 'session'); } catch (e) { showError('the node cannot be reached'); return; }
  if (r.status !== 200 || !r.body) { showError(errorText(r)); return; }
  csrf = r.body.csrf;
  if (r.body.signed_in) await refresh();
  else showLogin();
}

async function login(ev) {
  ev.preventDefault();
  $('login-submit').disabled = true;
  try {
    const r = await call('POST', 'login', { user: $('login-user').value, passphrase: $('login-pass').value });
    $('login-pass').value = '';
    if (r.status !== 200) { showError(errorText(r)); if (r.status === 403) await begin(); return; }
    csrf = r.body.csrf;
    showError('');
    await refresh();
  } finally {
    $('login-submit').disabled = false;
  }
}

async function logout() {
  await call('POST', 'logout');
  csrf = '';
  await begin();
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  begin();
});
