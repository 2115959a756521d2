// edgefhir web console (issue 17) — a single-page app on the server's own FHIR API.
// Rules: the token lives in memory and sessionStorage only (never a URL query or a cookie);
// a link may hand it over in the URL fragment (#token=...), which is read once and removed
// from the address bar.  Every value from the server or the token is rendered as text
// (textContent / text nodes), never as HTML.  No inline script or style (CSP).
'use strict';

const TOKEN_KEY = 'edgefhir.console.token';
const state = { token: null, meta: null, whoami: null };
const main = () => document.getElementById('main');

// ---------- DOM helpers (text only) ----------
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  return e;
}
function show(...nodes) {
  const m = main();
  m.replaceChildren(...nodes.flat().filter(Boolean));
}
function kv(pairs) {
  const dl = el('dl', { class: 'kv' });
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === '') continue;
    dl.append(el('dt', { text: k }), el('dd', {}, v));
  }
  return dl;
}
function table(headers, rows) {
  return el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', { text: h })))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => (c instanceof Node && c.tagName === 'TD') ? c : el('td', {}, c))))));
}
function badge(text, cls) { return el('span', { class: cls, text }); }
function statusWord(s) { return el('span', { class: s === 'pass' || s === true ? 'pass' : s === 'warn' ? 'warn' : 'fail', text: String(s) }); }

// ---------- time in words ----------
function inWords(seconds) {
  const a = Math.abs(seconds);
  const units = [[86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']];
  for (const [n, name] of units) {
    if (a >= n || n === 1) {
      const v = Math.round(a / n);
      const t = v + ' ' + name + (v === 1 ? '' : 's');
      return seconds >= 0 ? 'in ' + t : t + ' ago';
    }
  }
  return '';
}
function epochWords(s) {
  if (typeof s !== 'number') return '';
  return new Date(s * 1000).toISOString() + ' (' + inWords(s - Date.now() / 1000) + ')';
}

// ---------- token ----------
function takeTokenFromFragment() {
  const h = location.hash;
  if (h.startsWith('#token=')) {
    const t = decodeURIComponent(h.slice(7)).trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    history.replaceState(null, '', location.pathname + '#/token');
  }
}
function b64uDecode(s) {
  s = s.replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '=';
  const bin = atob(s);
  const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}
function decodeJwt(t) {
  const p = (t || '').split('.');
  if (p.length !== 3) return null;
  try { return { header: JSON.parse(b64uDecode(p[0])), payload: JSON.parse(b64uDecode(p[1])) }; } catch (e) { return null; }
}

// ---------- API ----------
async function api(method, path, body, headers) {
  const h = Object.assign({ Accept: 'application/fhir+json' }, headers || {});
  if (state.token) h.Authorization = 'Bearer ' + state.token;
  let payload;
  if (body !== undefined) {
    h['Content-Type'] = 'application/fhir+json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers: h, body: payload, credentials: 'omit', cache: 'no-store' });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  return { status: r.status, ok: r.ok, headers: r.headers, json, text };
}
// The server writes absolute links from its base_url; the console follows them on its own origin.
function localPath(url) {
  try { const u = new URL(url, location.origin); return u.pathname + u.search; } catch (e) { return null; }
}
function outcomeBox(r, what) {
  const box = el('div', { class: 'outcome' + (r.ok ? ' success' : ''), id: 'outcome' });
  box.append(el('div', { class: 'status', text: (what ? what + ': ' : '') + 'HTTP ' + r.status }));
  const issues = r.json && r.json.resourceType === 'OperationOutcome' ? (r.json.issue || []) : [];
  for (const i of issues) {
    box.append(el('div', { class: 'issue' }, el('b', { text: (i.severity || '') + ' ' + (i.code || '') + ': ' }),
      (i.diagnostics || (i.details && i.details.text) || '')));
  }
  if (!issues.length && !r.ok && r.json && r.json.reason) box.append(el('div', { class: 'issue', text: r.json.reason }));
  if (!issues.length && !r.ok && !r.json) box.append(el('div', { class: 'issue', text: r.text.slice(0, 500) }));
  const www = r.headers && r.headers.get('WWW-Authenticate');
  if (www && !r.ok) box.append(el('div', { class: 'muted', text: 'WWW-Authenticate: ' + www }));
  return box;
}

async function metadata() {
  if (!state.meta) {
    const r = await api('GET', '/metadata');
    if (!r.ok || !r.json) throw new Error('GET /metadata: HTTP ' + r.status);
    state.meta = r.json;
  }
  return state.meta;
}
function typeEntry(meta, type) {
  const rest = (meta.rest || [])[0] || {};
  return (rest.resource || []).find((x) => x.type === type);
}

// ---------- JSON with clickable references ----------
const REF = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/([A-Za-z0-9\-.]{1,64}))?$/;
function renderJson(value) {
  const pre = el('pre', { class: 'json', id: 'resource-json' });
  const out = (s) => pre.appendChild(document.createTextNode(s));
  const walk = (v, indent, key) => {
    const pad = '  '.repeat(indent);
    if (Array.isArray(v)) {
      if (!v.length) return out('[]');
      out('[\n');
      v.forEach((x, i) => { out(pad + '  '); walk(x, indent + 1); out(i < v.length - 1 ? ',\n' : '\n'); });
      out(pad + ']');
    } else if (v && typeof v === 'object') {
      const keys = Object.keys(v);
      if (!keys.length) return out('{}');
      out('{\n');
      keys.forEach((k, i) => { out(pad + '  ' + JSON.stringify(k) + ': '); walk(v[k], indent + 1, k); out(i < keys.length - 1 ? ',\n' : '\n'); });
      out(pad + '}');
    } else if (key === 'reference' && typeof v === 'string' && REF.test(v)) {
      const m = v.match(REF);
      pre.appendChild(el('a', { href: '#/r/' + m[1] + '/' + encodeURIComponent(m[2]), class: 'ref', text: JSON.stringify(v) }));
    } else {
      out(JSON.stringify(v));
    }
  };
  walk(value, 0);
  return pre;
}

// ---------- line diff (LCS) ----------
function diffLines(a, b) {
  const A = a.split('\n'), B = b.split('\n');
  if (A.length * B.length > 4e6) return null;
  const n = A.length, m = B.length;
  const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = A[i] === B[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (A[i] === B[j]) { out.push([' ', A[i]]); i++; j++; } else if (L[i + 1][j] >= L[i][j + 1]) { out.push(['-', A[i++]]); } else { out.push(['+', B[j++]]); }
  }
  while (i < n) out.push(['-', A[i++]]);
  while (j < m) out.push(['+', B[j++]]);
  return out;
}

// ---------- views ----------
function viewSignIn(message) {
  const ta = el('textarea', { class: 'token', id: 'token-input', placeholder: 'eyJhbGciOi...', spellcheck: 'false', autocomplete: 'off' });
  const go = () => {
    const t = ta.value.trim().replace(/^Bearer\s+/i, '');
    if (!t) return;
    state.token = t;
    sessionStorage.setItem(TOKEN_KEY, t);
    state.whoami = null;
    refreshHeader();
    location.hash = '#/token';
    route();
  };
  show(el('div', { class: 'card' },
    el('h2', { text: 'Sign in' }),
    el('p', {}, 'Paste an access token (a JWT your identity provider issued for this server). It is sent as ',
      el('code', { text: 'Authorization: Bearer' }), ' and kept only in this browser tab.'),
    message ? el('p', { class: 'bad', text: message }) : null,
    ta,
    el('div', { class: 'row' }, el('button', { class: 'primary', id: 'signin', type: 'button', onclick: go }, 'Sign in'),
      el('button', { type: 'button', id: 'no-token', onclick: () => { state.token = null; location.hash = '#/types'; route(); } }, 'Continue without a token'))));
}

async function viewToken() {
  const parts = [el('h2', { text: 'Token' })];
  const d = decodeJwt(state.token);
  if (!state.token) parts.push(el('p', { class: 'muted', text: 'No token: requests are sent without Authorization.' }));
  else if (!d) parts.push(el('p', { class: 'bad', text: 'This is not a compact JWT (three base64url parts).' }));
  const r = await api('GET', '/console/api/whoami');
  const w = r.json || {};
  state.whoami = r.ok ? w : null;
  refreshHeader();
  const verdict = el('div', { class: 'card', id: 'verdict' },
    el('h3', {}, 'Server verdict: ', el('span', { class: w.verdict === 'accepted' ? 'pass' : 'fail', id: 'verdict-word', text: w.verdict || ('HTTP ' + r.status) })),
    w.reason ? el('p', { id: 'verdict-reason', text: w.reason }) : null,
    (w.checks || []).length ? table(['check', 'result', 'detail'], (w.checks || []).map((c) => [c.name, statusWord(c.passed ? 'pass' : 'fail'), c.detail])) : null);
  parts.push(verdict);
  if (w.principal) {
    const p = w.principal;
    parts.push(el('div', { class: 'card' }, el('h3', { text: 'Who' }), kv([
      ['issuer', p.issuer], ['subject', p.subject], ['client', p.client_id], ['tenant', p.tenant],
      ['roles', (p.roles || []).length ? (p.roles || []).map((x) => el('span', { class: 'pill', text: x })) : 'none'],
      ['role permissions', w.role_permissions],
      ['scopes', (p.scopes || []).length ? (p.scopes || []).map((x) => el('span', { class: 'pill', text: x })) : 'none'],
      ['patient context', p.patient_context || 'none'], ['fhirUser', p.fhir_user], ['expires', p.expires_at]])));
  }
  if ((w.may || []).length) {
    parts.push(el('div', { class: 'card', id: 'may' }, el('h3', { text: 'What this token may do' }),
      table(['action', 'type', 'allowed', 'why'], w.may.map((m) => [m.action, m.type || 'all types', statusWord(m.allowed ? 'pass' : 'fail'),
        m.reason + (m.restricted_to ? ' (limited to ' + m.restricted_to + ')' : '')]))));
  }
  if (d) {
    const pl = d.payload;
    const times = [['issued (iat)', epochWords(pl.iat)], ['not before (nbf)', epochWords(pl.nbf)], ['expires (exp)', epochWords(pl.exp)]];
    parts.push(el('div', { class: 'grid2' },
      el('div', { class: 'card' }, el('h3', { text: 'Header' }), renderJson(d.header)),
      el('div', { class: 'card' }, el('h3', { text: 'Payload' }), kv(times), renderJson(pl))));
  }
  parts.push(el('div', { class: 'row' }, el('button', { type: 'button', onclick: () => viewSignIn() }, 'Use another token')));
  show(parts);
}

async function viewTypes() {
  const meta = await metadata();
  const rest = (meta.rest || [])[0] || {};
  const types = (rest.resource || []).map((r) => r.type).sort();
  const grid = el('div', { class: 'types', id: 'types' });
  const links = new Map();
  for (const t of types) {
    const a = el('a', { href: '#/search/' + t, 'data-type': t, class: 'empty' }, el('span', { text: t }), el('span', { class: 'count', text: '…' }));
    links.set(t, a);
    grid.append(a);
  }
  const filter = el('input', { type: 'search', placeholder: 'filter types', id: 'type-filter', oninput: () => {
    const q = filter.value.toLowerCase();
    for (const [t, a] of links) a.hidden = q && !t.toLowerCase().includes(q);
  } });
  const onlyData = el('input', { type: 'checkbox', id: 'only-data', checked: true, onchange: () => applyOnly() });
  const applyOnly = () => { for (const [, a] of links) a.hidden = onlyData.checked && a.dataset.count === '0'; };
  show(el('h2', { text: 'Resource types' }),
    el('div', { class: 'row' }, filter, el('label', {}, onlyData, ' only types with resources'),
      el('span', { class: 'muted', id: 'types-note', text: 'counting…' })),
    grid);
  // Counts: one _summary=count search per type, 6 at a time; each goes through the policy.
  let next = 0, refused = 0;
  const worker = async () => {
    while (next < types.length) {
      const t = types[next++];
      const a = links.get(t);
      let r;
      try { r = await api('GET', '/' + t + '?_summary=count'); } catch (e) { r = { ok: false, status: 0 }; }
      const c = a.querySelector('.count');
      if (r.ok && r.json && typeof r.json.total === 'number') {
        a.dataset.count = String(r.json.total);
        c.textContent = String(r.json.total);
        if (r.json.total > 0) a.classList.remove('empty');
      } else {
        a.dataset.count = 'x';
        c.textContent = r.status === 403 ? 'no access' : 'HTTP ' + r.status;
        refused++;
      }
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  applyOnly();
  const note = document.getElementById('types-note');
  if (note) note.textContent = refused ? refused + ' types could not be counted with this token' : 'counted';
}

async function viewSearch(type, query) {
  const meta = await metadata();
  const entry = typeEntry(meta, type);
  if (!entry) return show(el('p', { class: 'bad', text: type + ' is not a resource type of this server' }));
  const params = (entry.searchParam || []).map((p) => p.name).sort();
  const common = ['_id', '_lastUpdated'];
  const names = common.concat(params.filter((p) => !common.includes(p)));
  const current = new URLSearchParams(query || '');
  const rows = el('div', { id: 'search-rows' });
  const addRow = (name, value) => {
    const sel = el('select', { class: 'param-name' }, names.map((n) => el('option', { value: n, text: n })));
    if (name) sel.value = name;
    const inp = el('input', { class: 'param-value', type: 'text', value: value || '', placeholder: 'value' });
    const row = el('div', { class: 'row' }, sel, inp, el('button', { type: 'button', onclick: () => row.remove() }, '−'));
    rows.append(row);
  };
  for (const [k, v] of current) if (!k.startsWith('_') || common.includes(k)) addRow(k, v);
  if (!rows.children.length) addRow('', '');
  const count = el('input', { type: 'number', id: 'count', min: '1', max: '1000', value: current.get('_count') || '20' });
  const sort = el('input', { type: 'text', id: 'sort', placeholder: '-_lastUpdated', value: current.get('_sort') || '' });
  const run = () => {
    const q = new URLSearchParams();
    for (const r of rows.children) {
      const n = r.querySelector('.param-name').value, v = r.querySelector('.param-value').value;
      if (n && v !== '') q.append(n, v);
    }
    if (count.value) q.set('_count', count.value);
    if (sort.value) q.set('_sort', sort.value);
    location.hash = '#/search/' + type + '?' + q.toString();
  };
  const form = el('form', { class: 'card', id: 'search-form', onsubmit: (e) => { e.preventDefault(); run(); } },
    el('h2', {}, 'Search ' + type, ' ', el('a', { href: '#/new/' + type, id: 'new-link', text: '+ new' })),
    rows,
    el('div', { class: 'row' }, el('button', { type: 'button', onclick: () => addRow('', '') }, '+ parameter'),
      el('label', {}, '_count ', count), el('label', {}, '_sort ', sort),
      el('button', { class: 'primary', type: 'submit', id: 'search-run' }, 'Search')),
    el('div', { class: 'muted', text: params.length + ' search parameters from /metadata' }));
  const results = el('div', { id: 'results' }, el('p', { class: 'muted', text: 'searching…' }));
  show(form, results);
  const r = await api('GET', '/' + type + (query ? '?' + query : ''));
  if (!r.ok || !r.json || r.json.resourceType !== 'Bundle') return results.replaceChildren(outcomeBox(r, 'search'));
  const b = r.json;
  const links = {};
  for (const l of b.link || []) links[l.relation] = l.url;
  const pageLink = (rel, label) => {
    const p = links[rel] && localPath(links[rel]);
    if (!p) return null;
    const q = p.includes('?') ? p.slice(p.indexOf('?') + 1) : '';
    return el('a', { href: '#/search/' + type + '?' + q, id: 'page-' + rel, text: label });
  };
  const entries = (b.entry || []).filter((e) => e.resource);
  results.replaceChildren(
    el('div', { class: 'row' }, el('span', { id: 'total', text: (typeof b.total === 'number' ? b.total + ' total, ' : '') + entries.length + ' on this page' }),
      pageLink('previous', '← previous'), pageLink('next', 'next →')),
    table(['id', 'summary', 'last updated'], entries.map((e) => {
      const res = e.resource;
      const t = res.resourceType, id = res.id;
      return [el('a', { href: '#/r/' + t + '/' + encodeURIComponent(id), class: 'result-link', text: t + '/' + id }), summarize(res),
        (res.meta && res.meta.lastUpdated) || ''];
    })));
}
function summarize(r) {
  const name = r.name && r.name[0];
  if (name && typeof name === 'object') return [(name.given || []).join(' '), name.family || ''].join(' ').trim() || name.text || '';
  if (typeof r.name === 'string') return r.name;
  if (r.code && r.code.text) return r.code.text;
  if (r.code && r.code.coding && r.code.coding[0]) return r.code.coding[0].display || r.code.coding[0].code || '';
  return r.status || '';
}

async function viewResource(type, id) {
  const r = await api('GET', '/' + type + '/' + encodeURIComponent(id));
  if (!r.ok) return show(el('h2', { text: type + '/' + id }), outcomeBox(r, 'read'));
  const res = r.json;
  const del = async () => {
    if (!confirm('Delete ' + type + '/' + id + '?')) return;
    const d = await api('DELETE', '/' + type + '/' + encodeURIComponent(id));
    const box = document.getElementById('actions-result');
    box.replaceChildren(outcomeBox(d, 'delete'));
  };
  show(el('h2', { id: 'resource-title', text: type + '/' + id }),
    el('div', { class: 'row' },
      el('span', { class: 'muted', text: 'version ' + ((res.meta && res.meta.versionId) || '?') + ', updated ' + ((res.meta && res.meta.lastUpdated) || '?') }),
      el('a', { href: '#/edit/' + type + '/' + encodeURIComponent(id), id: 'edit-link', text: 'edit' }),
      el('a', { href: '#/history/' + type + '/' + encodeURIComponent(id), id: 'history-link', text: 'history' }),
      el('a', { href: '#/search/' + type, text: 'all ' + type }),
      el('button', { class: 'danger', type: 'button', id: 'delete', onclick: del }, 'Delete')),
    el('div', { id: 'actions-result' }),
    renderJson(res));
}

async function viewEdit(type, id) {
  let initial;
  if (id) {
    const r = await api('GET', '/' + type + '/' + encodeURIComponent(id));
    if (!r.ok) return show(el('h2', { text: 'Edit ' + type + '/' + id }), outcomeBox(r, 'read'));
    initial = JSON.stringify(r.json, null, 2);
  } else {
    initial = JSON.stringify({ resourceType: type }, null, 2);
  }
  const ta = el('textarea', { id: 'editor', spellcheck: 'false' });
  ta.value = initial;
  const result = el('div', { id: 'save-result' });
  const save = async () => {
    let body;
    try { body = JSON.parse(ta.value); } catch (e) { return result.replaceChildren(el('div', { class: 'outcome', text: 'not valid JSON: ' + e.message })); }
    const r = id ? await api('PUT', '/' + type + '/' + encodeURIComponent(id), body) : await api('POST', '/' + type, body);
    if (r.ok && r.json && r.json.id) {
      location.hash = '#/r/' + type + '/' + encodeURIComponent(r.json.id);
      return;
    }
    result.replaceChildren(outcomeBox(r, id ? 'update' : 'create'));
  };
  show(el('h2', { text: id ? 'Edit ' + type + '/' + id : 'New ' + type }), ta, result,
    el('div', { class: 'row' }, el('button', { class: 'primary', type: 'button', id: 'save', onclick: save }, id ? 'Save (PUT)' : 'Create (POST)'),
      el('a', { href: id ? '#/r/' + type + '/' + encodeURIComponent(id) : '#/search/' + type, text: 'cancel' })));
}

async function viewHistory(type, id) {
  const r = await api('GET', '/' + type + '/' + encodeURIComponent(id) + '/_history?_count=50');
  if (!r.ok || !r.json) return show(el('h2', { text: 'History of ' + type + '/' + id }), outcomeBox(r, 'history'));
  const versions = (r.json.entry || []).map((e) => ({
    vid: (e.resource && e.resource.meta && e.resource.meta.versionId) || (e.response && e.response.etag) || '?',
    resource: e.resource || null, method: (e.request && e.request.method) || '', when: (e.resource && e.resource.meta && e.resource.meta.lastUpdated) || (e.response && e.response.lastModified) || '',
  }));
  const diffBox = el('div', { id: 'diff' });
  const showDiff = (i) => {
    const cur = versions[i], prev = versions[i + 1];
    const a = prev && prev.resource ? JSON.stringify(prev.resource, null, 2) : '';
    const b = cur.resource ? JSON.stringify(cur.resource, null, 2) : '(deleted)';
    const d = diffLines(a, b);
    const pre = el('pre', { class: 'json diff' });
    if (!d) pre.textContent = 'too large to compare';
    else for (const [op, line] of d) pre.append(el('span', { class: op === '+' ? 'add' : op === '-' ? 'del' : 'same', text: op + ' ' + line + '\n' }));
    diffBox.replaceChildren(el('h3', { text: prev ? 'Version ' + prev.vid + ' → ' + cur.vid : 'Version ' + cur.vid + ' (first)' }), pre);
  };
  show(el('h2', {}, 'History of ', el('a', { href: '#/r/' + type + '/' + encodeURIComponent(id), text: type + '/' + id })),
    table(['version', 'change', 'when', ''], versions.map((v, i) => [v.vid, v.method || (v.resource ? '' : 'DELETE'), v.when,
      el('button', { type: 'button', class: 'diff-btn', 'data-vid': v.vid, onclick: () => showDiff(i) }, i + 1 < versions.length ? 'diff with previous' : 'show')])),
    diffBox);
  if (versions.length) showDiff(0);
}

async function viewStatus() {
  show(el('h2', { text: 'Status' }), el('p', { class: 'muted', text: 'loading…' }));
  const [h, s] = await Promise.all([api('GET', '/health'), api('GET', '/console/api/status')]);
  const parts = [el('h2', { text: 'Status' })];
  const health = h.json || {};
  parts.push(el('div', { class: 'card', id: 'health' }, el('h3', {}, 'Health: ', statusWord(health.status || ('HTTP ' + h.status))),
    table(['check', 'status', 'detail', 'time'], Object.entries(health.checks || {}).map(([name, arr]) => {
      const c = (arr || [])[0] || {};
      return [name, statusWord(c.status), (c.output || '') + (c.observedValue !== undefined ? ' ' + c.observedValue + ' ' + (c.observedUnit || '') : ''), c.time || ''];
    }))));
  if (!s.ok) {
    parts.push(el('div', { class: 'card', id: 'status-refused' }, el('h3', { text: 'Keys, sync, audit and metrics' }),
      el('p', { text: 'The details below /health need a token with the admin permission.' }), outcomeBox(s, 'GET /console/api/status')));
    return show(parts);
  }
  const st = s.json;
  parts.push(el('div', { class: 'card', id: 'keys' }, el('h3', { text: 'Signing keys per issuer' }),
    (st.keys || []).length ? table(['issuer', 'trusted', 'pinned', 'stale', 'last fetch', 'kids'], st.keys.map((k) => [
      k.issuer, String(k.trusted_keys), String(k.pinned_keys), k.stale ? badge('stale', 'warn') : badge('no', 'pass'),
      k.last_fetch ? k.last_fetch + ' (' + inWords(-k.age_seconds) + ')' + (k.last_error ? '; last error: ' + k.last_error : '') : (k.discovery ? 'never' : 'offline issuer (pinned keys)'),
      (k.keys || []).map((x) => el('span', { class: 'pill', text: (x.kid || '(no kid)') + ' · ' + x.type + ' · ' + x.source + (x.trusted ? '' : ' · not trusted') }))]))
      : el('p', { class: 'muted', text: 'authentication is off: no keys' })));
  const sy = st.sync || {};
  parts.push(el('div', { class: 'card', id: 'sync' }, el('h3', { text: 'Sync (store and forward)' }),
    sy.enabled ? kv([['upstream', sy.upstream], ['mode', sy.mode], ['queue', String(sy.queue_length)], ['health', sy.health],
      ['last push', sy.last_success_ms ? new Date(sy.last_success_ms).toISOString() + ' (' + inWords((sy.last_success_ms - Date.now()) / 1000) + ')' : 'never'],
      ['last error', sy.last_error], ['consecutive failures', String(sy.consecutive_failures)], ['pushed', String(sy.pushed_total)]])
      : el('p', { class: 'muted', id: 'sync-off', text: 'sync is not configured' })));
  parts.push(el('div', { class: 'card', id: 'audit' }, el('h3', { text: 'Recent audit events' }),
    table(['time', 'who', 'interaction', 'target', 'status', 'outcome'], (st.audit || []).map((e) => [e.time, e.subject || e.client_id || '-', e.interaction,
      [e.type, e.id].filter(Boolean).join('/') + (e.query ? '?' + e.query : ''), String(e.status), e.outcome]))));
  parts.push(el('div', { class: 'card', id: 'metrics' }, el('h3', { text: 'Metrics' }), el('pre', { class: 'json', text: (st.metrics || []).join('\n') })));
  show(parts);
}

// ---------- router ----------
function refreshHeader() {
  document.getElementById('nav').hidden = false;
  document.getElementById('signout').hidden = !state.token;
  const who = document.getElementById('who');
  const w = state.whoami && state.whoami.principal;
  who.textContent = !state.token ? 'no token' : w ? (w.subject || w.client_id || 'signed in') + ((w.roles || []).length ? ' · ' + w.roles.join(', ') : '') : 'token set';
  const h = location.hash;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', h.startsWith(a.getAttribute('href')) || (a.id === 'nav-browse' && /^#\/(search|r|edit|new|history)\//.test(h)));
}
async function route() {
  const h = location.hash || '';
  refreshHeader();
  try {
    if (!state.token && !state.skipSignIn && (h === '' || h === '#/' || h === '#/signin')) return viewSignIn();
    let m;
    if (h === '#/token') return await viewToken();
    if (h === '#/status') return await viewStatus();
    if ((m = h.match(/^#\/search\/([A-Za-z]+)(?:\?(.*))?$/))) return await viewSearch(m[1], m[2] || '');
    if ((m = h.match(/^#\/r\/([A-Za-z]+)\/([^/]+)$/))) return await viewResource(m[1], decodeURIComponent(m[2]));
    if ((m = h.match(/^#\/edit\/([A-Za-z]+)\/([^/]+)$/))) return await viewEdit(m[1], decodeURIComponent(m[2]));
    if ((m = h.match(/^#\/new\/([A-Za-z]+)$/))) return await viewEdit(m[1], null);
    if ((m = h.match(/^#\/history\/([A-Za-z]+)\/([^/]+)$/))) return await viewHistory(m[1], decodeURIComponent(m[2]));
    return await viewTypes();
  } catch (e) {
    show(el('div', { class: 'outcome', id: 'outcome', text: 'error: ' + (e && e.message ? e.message : String(e)) }));
  }
}

document.addEventListener('DOMContentLoaded', () => {
  takeTokenFromFragment();
  state.token = sessionStorage.getItem(TOKEN_KEY);
  document.getElementById('signout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.whoami = null;
    location.hash = '#/signin';
    route();
  });
  window.addEventListener('hashchange', route);
  route();
});
