// tests/browser/driver.mjs — drives the system Chromium (Debian package `chromium`) headless
// through puppeteer-core for tests/e2e/test_browser.py.  Reads a JSON job from argv[2]:
//   {chromium, user_data_dir, shots_dir, base, allowed_page, disallowed_page,
//    tokens: {writer, reader, admin}, patient_family, issuer}
// and runs two scenarios, "cors" and "console", each in its own incognito-like context.  It
// only observes: every observation goes to stdout as one JSON object, and the Python test
// asserts on it.  A scenario that throws records {error} and leaves a screenshot in shots_dir.
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = {};
const STEP_MS = 15000;

async function shot(page, name) {
  try {
    fs.mkdirSync(job.shots_dir, { recursive: true });
    await page.screenshot({ path: path.join(job.shots_dir, name + '.png'), fullPage: true });
  } catch (e) { /* the page may be gone */ }
}

async function scenario(browser, name, fn) {
  const ctx = await browser.createBrowserContext();
  const page = await ctx.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  const rec = { console_errors: [], csp_violations: [] };
  page.on('console', (m) => { if (m.type() === 'error') rec.console_errors.push(m.text()); });
  page.on('pageerror', (e) => rec.console_errors.push('pageerror: ' + e.message));
  out[name] = rec;
  try {
    await fn(page, rec);
  } catch (e) {
    rec.error = String(e && e.stack ? e.stack : e);
    rec.url_at_error = page.url().replace(/#token=.*/, '#token=[removed]');
    await shot(page, name + '-failure');
  } finally {
    await ctx.close();
  }
}

// ---- a page on another origin calls the API with fetch + bearer token ----
async function corsScenario(page, rec) {
  await page.goto(job.allowed_page, { waitUntil: 'load' });
  rec.allowed = await page.evaluate(async (base, token) => {
    const o = {};
    const auth = { Authorization: 'Bearer ' + token, Accept: 'application/fhir+json' };
    const call = async (method, url, body) => {
      const h = Object.assign({}, auth);
      if (body) h['Content-Type'] = 'application/fhir+json';
      const r = await fetch(url, { method, headers: h, body: body ? JSON.stringify(body) : undefined });
      return { status: r.status, headers: r.headers, json: await r.json().catch(() => null) };
    };
    o.origin = location.origin;
    const meta = await fetch(base + '/metadata');
    o.metadata_status = meta.status;
    o.metadata_cors = ((await meta.json()).rest[0].security || {}).cors;
    const s1 = await call('GET', base + '/Patient?_count=10');
    o.search_status = s1.status;
    o.search_total = s1.json.total;
    o.page1_ids = (s1.json.entry || []).map((e) => e.resource.id);
    const next = (s1.json.link || []).find((l) => l.relation === 'next');
    o.next_link = next ? next.url : null;
    if (next) {
      const s2 = await call('GET', next.url);
      o.page2_status = s2.status;
      o.page2_ids = (s2.json.entry || []).map((e) => e.resource.id);
    }
    const c = await call('POST', base + '/Observation', { resourceType: 'Observation', status: 'final',
      code: { text: 'made by a page on ' + location.origin }, subject: { reference: 'Patient/' + o.page1_ids[0] } });
    o.create_status = c.status;
    o.create_location = c.headers.get('Location');
    o.create_etag = c.headers.get('ETag');
    o.created_id = c.json && c.json.id;
    const rd = await call('GET', base + '/Observation/' + o.created_id);
    o.read_status = rd.status;
    o.read_code = rd.json && rd.json.code && rd.json.code.text;
    const unauth = await fetch(base + '/Patient');
    o.no_token_status = unauth.status;
    o.no_token_www = unauth.headers.get('WWW-Authenticate');
    o.no_token_issue = ((await unauth.json()).issue || [])[0].code;
    return o;
  }, job.base, job.tokens.writer);
  // fhirclient's browser build (npm fhirclient, served by the page's own origin): the SMART
  // client most browser apps use, following every next link and creating a resource.
  rec.fhirclient = await page.evaluate(async (base, token) => {
    const client = FHIR.client({ serverUrl: base, tokenResponse: { access_token: token } });
    const all = await client.request('Patient?_count=10', { pageLimit: 0, flat: true });
    const created = await client.create({ resourceType: 'Observation', status: 'final', code: { text: 'made by fhirclient' } });
    const read = await client.request('Observation/' + created.id);
    let refused = null;
    try { await client.request('Patient/' + all[0].id + '/_history/999'); } catch (e) { refused = e.status || String(e); }
    return { patients: all.length, distinct: new Set(all.map((r) => r.id)).size, created_id: created.id,
      read_code: read.code.text, missing_version: refused };
  }, job.base, job.tokens.writer);
  rec.reader_forbidden = await page.evaluate(async (base, token) => {
    const r = await fetch(base + '/Patient', { method: 'POST', headers: { Authorization: 'Bearer ' + token,
      'Content-Type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Patient' }) });
    return { status: r.status, www: r.headers.get('WWW-Authenticate'), diagnostics: ((await r.json()).issue || [])[0].diagnostics };
  }, job.base, job.tokens.reader);

  await page.goto(job.disallowed_page, { waitUntil: 'load' });
  rec.disallowed = await page.evaluate(async (base, token) => {
    const o = { origin: location.origin };
    const attempt = async (url, init) => {
      try { const r = await fetch(url, init); return 'status ' + r.status; } catch (e) { return 'blocked: ' + e.name + ': ' + e.message; }
    };
    o.read_with_token = await attempt(base + '/Patient?_count=1', { headers: { Authorization: 'Bearer ' + token } });
    o.simple_get_metadata = await attempt(base + '/metadata', {});
    o.create = await attempt(base + '/Patient', { method: 'POST', headers: { Authorization: 'Bearer ' + token,
      'Content-Type': 'application/fhir+json' }, body: '{"resourceType":"Patient"}' });
    return o;
  }, job.base, job.tokens.writer);
}

// ---- the web console ----
async function text(page, sel) {
  await page.waitForSelector(sel, { timeout: STEP_MS });
  return page.$eval(sel, (e) => e.textContent);
}
async function waitText(page, sel, needle) {
  // The text is read in the same evaluation that found it: a re-render between finding the
  // element and reading it (the console re-renders on hash changes) cannot lose it.
  const h = await page.waitForFunction((s, n) => {
    const e = document.querySelector(s);
    return e && e.textContent.includes(n) ? e.textContent : false;
  }, { timeout: STEP_MS }, sel, needle);
  return h.jsonValue();
}

// Waits for the search results of a NEW render (the previous page's #results, `before`, is
// still in the DOM right after a click) and returns its #total text.
async function waitNewResults(page, before) {
  const h = await page.waitForFunction((old) => {
    const r = document.querySelector('#results');
    const t = r && r !== old && r.querySelector('#total');
    return t && t.textContent.includes('on this page') ? t.textContent : false;
  }, { timeout: STEP_MS }, before);
  return h.jsonValue();
}

async function consoleScenario(page, rec) {
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI);
    });
  });
  const base = job.base;
  // 1. sign in by pasting a token
  await page.goto(base + '/console/', { waitUntil: 'load' });
  await page.waitForSelector('#token-input', { timeout: STEP_MS });
  rec.signin_shown = true;
  await page.type('#token-input', job.tokens.writer);
  await page.click('#signin');
  rec.verdict = await waitText(page, '#verdict-word', 'accepted');
  rec.may_table = await text(page, '#may');
  rec.who = await text(page, '#who');
  rec.session_token_stored = await page.evaluate(() => !!sessionStorage.getItem('edgefhir.console.token'));
  rec.cookies = (await page.cookies()).length;
  // 2. resource types with counts
  await page.goto(base + '/console/#/types', { waitUntil: 'load' });
  await waitText(page, '#types-note', 'counted');
  rec.patient_count = await page.$eval('#types a[data-type="Patient"]', (a) => a.dataset.count);
  rec.visible_types = await page.$$eval('#types a', (as) => as.filter((a) => !a.hidden).map((a) => a.dataset.type));
  // 3. a search driven by /metadata's search parameters
  await page.click('#types a[data-type="Patient"]');
  await page.waitForSelector('#search-form .param-name', { timeout: STEP_MS });
  rec.param_options = await page.$$eval('#search-form .param-name option', (os) => os.map((o) => o.value));
  await page.select('#search-form .param-name', 'family');
  await page.type('#search-form .param-value', job.patient_family);
  await page.$eval('#count', (e) => { e.value = '5'; });
  let before = await page.$('#results');
  await page.click('#search-run');
  rec.search_total = await waitNewResults(page, before);
  rec.search_hash = await page.evaluate(() => location.hash);
  rec.result_links = await page.$$eval('#results a.result-link', (as) => as.map((a) => a.textContent));
  rec.has_next = !!(await page.$('#page-next'));
  if (rec.has_next) {
    before = await page.$('#results');
    await page.click('#page-next');
    await page.waitForFunction(() => /_cursor=/.test(location.hash), { timeout: STEP_MS });
    await waitNewResults(page, before);
    rec.page2_links = await page.$$eval('#results a.result-link', (as) => as.map((a) => a.textContent));
  }
  // 4. open a resource (pretty JSON with clickable references)
  await page.goto(base + '/console/#/r/' + job.observation_ref, { waitUntil: 'load' });
  await page.waitForSelector('#resource-json', { timeout: STEP_MS });
  rec.ref_links = await page.$$eval('#resource-json a.ref', (as) => as.map((a) => a.getAttribute('href')));
  if (rec.ref_links.length) {
    await page.click('#resource-json a.ref');
    rec.followed_title = await waitText(page, '#resource-title', 'Patient/');
  }
  rec.resource_title = await text(page, '#resource-title');
  // 5. edit it (PUT) and look at the history diff
  await page.click('#edit-link');
  await page.waitForSelector('#editor', { timeout: STEP_MS });
  await page.$eval('#editor', (ta) => { const r = JSON.parse(ta.value); r.gender = 'other'; ta.value = JSON.stringify(r, null, 2); });
  await page.click('#save');
  await page.waitForFunction(() => /^#\/r\//.test(location.hash), { timeout: STEP_MS });
  rec.after_edit = await waitText(page, '#resource-json', '"other"');
  await page.click('#history-link');
  rec.diff = await waitText(page, '#diff', '→');
  rec.diff_added = await page.$$eval('#diff .add', (s) => s.map((x) => x.textContent));
  // 5b. create: an invalid resource shows the server's OperationOutcome inline, a valid one is
  // created and shown; then delete it (the confirm dialog accepted) and see the outcome
  await page.goto(base + '/console/#/new/Patient', { waitUntil: 'load' });
  await page.waitForSelector('#editor', { timeout: STEP_MS });
  await page.$eval('#editor', (ta) => { ta.value = JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'not a Patient' } }); });
  await page.click('#save');
  rec.create_invalid = await waitText(page, '#save-result', 'HTTP 4');
  await page.$eval('#editor', (ta) => { ta.value = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Consolecreated' }] }); });
  await page.click('#save');
  await page.waitForFunction(() => /^#\/r\/Patient\//.test(location.hash), { timeout: STEP_MS });
  rec.created_title = await text(page, '#resource-title');
  page.once('dialog', (d) => d.accept());
  await page.click('#delete');
  rec.delete_result = await waitText(page, '#actions-result', 'HTTP');
  // 6. an edit refused for a Reader token: the 403 and its reason are shown
  await page.evaluate((t) => sessionStorage.setItem('edgefhir.console.token', t), job.tokens.reader);
  await page.goto(base + '/console/#/edit/' + rec.resource_title.trim(), { waitUntil: 'load' });
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('#editor', { timeout: STEP_MS });
  await page.click('#save');
  rec.reader_save = await waitText(page, '#save-result', 'HTTP 403');
  await page.goto(base + '/console/#/status', { waitUntil: 'load' });
  rec.reader_status = await waitText(page, '#status-refused', 'HTTP 403');
  // 7. key and sync status with an admin token, handed over in the URL fragment
  await page.goto('about:blank');  // a new document, so the console starts and reads the fragment
  await page.goto(base + '/console/#token=' + encodeURIComponent(job.tokens.admin), { waitUntil: 'load' });
  rec.fragment_verdict = await waitText(page, '#verdict-word', 'accepted');
  rec.url_after_fragment = page.url();
  await page.goto(base + '/console/#/status', { waitUntil: 'load' });
  await page.reload({ waitUntil: 'load' });
  rec.keys = await waitText(page, '#keys', job.issuer);
  rec.sync = await text(page, '#sync');
  rec.health = await text(page, '#health');
  rec.audit = await text(page, '#audit');
  rec.metrics = await text(page, '#metrics');
  // 8. everything was rendered as text: a resource whose name is markup shows as text
  await page.goto(base + '/console/#/r/' + job.markup_ref, { waitUntil: 'load' });
  await page.waitForSelector('#resource-json', { timeout: STEP_MS });
  rec.markup_text_shown = await page.$eval('#resource-json', (e) => e.textContent.includes('<img src=x'));
  rec.markup_elements = await page.$$eval('#resource-json img, #resource-json script', (x) => x.length);
  await shot(page, 'console-last');
  rec.csp_violations = await page.evaluate(() => window.__csp || []);
}

const browser = await puppeteer.launch({
  executablePath: job.chromium,
  headless: true,
  userDataDir: job.user_data_dir,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  protocolTimeout: 60000,
});
try {
  if (!job.only || job.only === 'cors') await scenario(browser, 'cors', corsScenario);
  if (!job.only || job.only === 'console') await scenario(browser, 'console', consoleScenario);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
