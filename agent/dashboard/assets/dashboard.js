// SPDX-License-Identifier: Apache-2.0
// iofence dashboard: fetches /api/state every refresh_ms, swaps in the server-drawn SVG
// (Graphviz), binds clicks on its nodes and tunnels, and fills the tables and the details.
'use strict';

let state = null;
let selected = (location.hash.match(/select=([\w-]+)/) || [])[1] || null;

const $ = (sel) => document.querySelector(sel);

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;',
    '"': '&quot;', "'": '&#39;'}[c]));
}

function rate(bps) {
  const units = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
  let u = 0;
  while (bps >= 1000 && u < 3) { bps /= 1000; u++; }
  return (u && bps < 10 ? bps.toFixed(2) : u && bps < 100 ? bps.toFixed(1) : bps.toFixed(0)) +
    ' ' + units[u];
}

function bytes(n) {
  return rate(n).replace('/s', '');
}

function drops(n) {
  return n.drops.reduce((s, d) => s + d.packets_per_sec, 0);
}

function duration(s) {
  if (s >= 86400) return Math.floor(s / 86400) + 'd' + Math.floor(s % 86400 / 3600) + 'h';
  if (s >= 3600) return Math.floor(s / 3600) + 'h' + Math.floor(s % 3600 / 60) + 'm';
  if (s >= 60) return Math.floor(s / 60) + 'm' + (s % 60) + 's';
  return s + 's';
}

function badge(h) {
  return `<span class="badge ${esc(h)}">${esc(h)}</span>`;
}

function select(id) {
  selected = id;
  history.replaceState(null, '', id ? '#select=' + id : '#');
  render();
}

// A node whose figures are stale: its agent does not answer, or its status key is gone.
function silent(n) {
  return n.health === 'unreachable' || n.health === 'absent';
}

function renderSummary() {
  const s = state;
  const bad = s.nodes.filter((n) => n.health === 'unreachable').length;
  const gone = s.nodes.filter((n) => n.health === 'absent').length;
  const conv = s.nodes.filter((n) => n.health === 'converged').length;
  const t = new Date(s.time_unix_nano / 1e6).toISOString().substr(11, 8);
  $('#summary').innerHTML =
    `<span class="pill">revision <b>${s.revision}</b></span>` +
    `<span class="pill">nodes <b>${conv}/${s.nodes.length}</b> converged</span>` +
    (bad ? `<span class="pill bad"><b>${bad}</b> unreachable</span>` : '') +
    (gone ? `<span class="pill bad"><b>${gone}</b> absent</span>` : '') +
    `<span class="pill${s.datastore_ok ? '' : ' bad'}" title="${esc(s.datastore_error)}">` +
    `datastore <b>${esc(s.datastore)}</b>${s.datastore_ok ? '' : ' unreachable'}</span>` +
    `<span class="pill">updated <b>${t}</b> UTC</span>`;
}

function renderGraph() {
  const g = $('#graph');
  g.innerHTML = state.svg;
  const svg = g.querySelector('svg');
  if (svg) {
    // Fit the panel, but never blow the text up past 1.5 times its drawn size.
    const vb = svg.viewBox.baseVal;
    const k = Math.min(g.clientWidth / vb.width, g.clientHeight / vb.height, 1.5);
    svg.setAttribute('width', Math.floor(vb.width * k));
    svg.setAttribute('height', Math.floor(vb.height * k));
  }
  g.querySelectorAll('g.node, g.edge').forEach((el) => {
    el.querySelector('title')?.remove();
    el.classList.toggle('selected', el.id === selected);
    el.addEventListener('click', (ev) => { ev.stopPropagation(); select(el.id); });
  });
}

function renderTables() {
  $('#nodes tbody').innerHTML = state.nodes.map((n) =>
    `<tr class="node-row${n.id === selected ? ' selected' : ''}" data-id="${n.id}"
      data-name="${esc(n.name)}" data-health="${esc(n.health)}"
      data-bps="${(n.tunnel_bytes_per_sec + n.allowed_bytes_per_sec).toFixed(1)}">
      <td><b>${esc(n.name)}</b></td><td>${badge(n.health)}</td>
      <td class="num">${n.revision || '–'}</td>
      <td class="num">${rate(n.tunnel_bytes_per_sec)}</td>
      <td class="num">${rate(n.allowed_bytes_per_sec)}</td>
      <td class="num">${drops(n).toFixed(1)}</td></tr>`).join('');
  $('#tunnels tbody').innerHTML = state.tunnels.map((t) =>
    `<tr class="tunnel-row${t.id === selected ? ' selected' : ''}" data-id="${t.id}"
      data-a="${esc(t.a)}" data-b="${esc(t.b)}" data-health="${esc(t.health)}"
      data-bps="${t.bytes_per_sec.toFixed(1)}">
      <td><b>${esc(t.a)} ⇄ ${esc(t.b)}</b></td><td>${badge(t.health)}</td>
      <td class="num">${rate(t.ab_bytes_per_sec)}</td>
      <td class="num">${rate(t.ba_bytes_per_sec)}</td>
      <td class="num">${t.recent_denies}</td></tr>`).join('') ||
    '<tr><td colspan="5" class="none">no VXLAN traffic seen (vxlan-trace module off?)</td></tr>';
  document.querySelectorAll('#tables tbody tr[data-id]').forEach((tr) =>
    tr.addEventListener('click', () => select(tr.dataset.id)));
}

function flowTable(flows) {
  if (!flows.length) return '<p class="none">none seen</p>';
  return '<table>' + flows.map((f) =>
    `<tr><td>${esc(f.src)} → ${esc(f.dst)}</td><td>${esc(f.protocol)}</td>
      <td class="num">${rate(f.bytes_per_sec)}</td><td class="num">${bytes(f.bytes)}</td></tr>`)
    .join('') + '</table>';
}

function denyTable(denies) {
  if (!denies.length) return '<p class="none">none recently</p>';
  return '<table>' + denies.map((d) => {
    const t = new Date(d.time_unix_nano / 1e6).toISOString().substr(11, 8);
    const port = (p) => (p ? ':' + p : '');
    return `<tr><td>${t}</td><td>${esc(d.src)}${port(d.sport)} → ${esc(d.dst)}${port(d.dport)}
      ${esc(d.protocol)}</td><td>${esc(d.endpoint)} ${esc(d.direction)}<br>
      ${esc(d.reason)}${d.rule ? ' ' + esc(d.rule) : ''}</td></tr>`;
  }).join('') + '</table>';
}

function renderDetails() {
  const n = state.nodes.find((x) => x.id === selected);
  const t = state.tunnels.find((x) => x.id === selected);
  const d = $('#details');
  if (n) {
    d.innerHTML = `<h2>${esc(n.name)} ${badge(n.health)}</h2>
      <div class="sub">${esc(n.detail)}</div>
      <div class="kv"><div>agent</div><div>${esc(n.agent)}</div>
        <div>revision</div><div>${n.revision || '–'}</div>
        <div>endpoints</div><div>${n.enforced} of ${n.endpoints} enforced</div>
        <div>uptime</div><div>${silent(n) ? '–' : duration(n.uptime_seconds)}</div>
        <div>tunnels</div><div>${silent(n) ? '–'
          : rate(n.tunnel_bytes_per_sec) + (n.tracing ? '' : ' (vxlan-trace off)')}</div>
        <div>allowed</div><div>${silent(n) ? '–'
          : rate(n.allowed_bytes_per_sec)}</div></div>
      <h3>drops by reason</h3>` +
      (n.drops.length ? '<table>' + n.drops.map((x) =>
        `<tr><td>${esc(x.reason)}</td><td class="num">${x.packets_per_sec.toFixed(1)}/s</td>
          <td class="num">${x.packets} total</td></tr>`).join('') + '</table>'
        : '<p class="none">none</p>') +
      `<h3>top inner flows</h3>${flowTable(n.top_inner)}
      <h3>recent denies</h3>${denyTable(n.denies)}`;
  } else if (t) {
    d.innerHTML = `<h2>${esc(t.a)} ⇄ ${esc(t.b)} ${badge(t.health)}</h2>
      <div class="sub">VXLAN VNI ${t.vni}</div>
      <div class="kv"><div>${esc(t.a)} → ${esc(t.b)}</div><div>${rate(t.ab_bytes_per_sec)}</div>
        <div>${esc(t.b)} → ${esc(t.a)}</div><div>${rate(t.ba_bytes_per_sec)}</div>
        <div>packets</div><div>${t.packets_per_sec.toFixed(0)}/s</div>
        <div>total</div><div>${bytes(t.bytes)}</div>
        <div>denies (10 s)</div><div>${t.recent_denies}</div></div>
      <h3>top inner flows</h3>${flowTable(t.top_inner)}
      <h3>recent denies between the two nodes</h3>${denyTable(t.denies)}`;
  } else {
    d.innerHTML = '<p class="hint">Click a node or a tunnel to list its top inner flows ' +
      'and recent denies.</p>';
  }
}

function render() {
  if (!state) return;
  renderSummary();
  renderGraph();
  renderTables();
  renderDetails();
}

async function refresh() {
  let next = 2000;
  try {
    const r = await fetch('/api/state', {cache: 'no-store'});
    if (!r.ok) throw new Error(r.status);
    state = await r.json();
    next = state.refresh_ms || next;
    $('#stale').hidden = true;
    render();
    document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
  } catch (e) {
    $('#stale').hidden = false;
  }
  setTimeout(refresh, next);
}

$('#graph').addEventListener('click', () => select(null));
refresh();
