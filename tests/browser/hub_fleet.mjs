// hub_fleet.mjs - the fleet page's new views in a real headless Chromium:
// the fleet paged by the hub ("1–100 of N"), sorting and search; the
// rollout view and its "behind" link; fleet-wide event search with its
// per-hour SVG chart; acknowledging an event (operator) and not (viewer);
// links that open in a new tab signed in; CSV export with formula cells
// defused; sign-out ending the session in every tab. No request leaves the
// hub and the token is never in a URL. Screenshots go to OUTDIR.
// usage: node hub_fleet.mjs URL OPERATOR_TOKEN VIEWER_TOKEN BULK OUTDIR
import { chromium } from 'playwright-core';

const [url, opTok, viewTok, bulkArg, outdir] = process.argv.slice(2);
const bulk = Number(bulkArg);
const TOTAL = bulk + 4;
let checks = 0;
function check(cond, what) {
  checks++;
  if (!cond) throw new Error('FAIL: ' + what);
}
async function until(fn, what) {
  for (let i = 0; i < 100; i++) {
    if (await fn()) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  check(await fn(), what);
}
const fmt = (n) => n.toLocaleString('en-US');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
  timeout: 60000,
});
try {
  const origin = new URL(url).origin;
  const foreign = [], tokenInUrl = [], errors = [];
  const watch = (p) => {
    p.setDefaultTimeout(15000);
    p.on('request', (r) => {
      if (!r.url().startsWith(origin)) foreign.push(r.url());
      if (r.url().includes(opTok) || r.url().includes(viewTok)) tokenInUrl.push(r.url());
    });
    p.on('pageerror', (e) => errors.push(String(e)));
    p.on('dialog', (d) => { errors.push('dialog: ' + d.message()); d.dismiss(); });
    return p;
  };
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = watch(await ctx.newPage());

  // 1. Sign in (the form), the fleet in pages of 100 with the total.
  await page.goto(url + '/');
  await page.locator('#login').waitFor();
  await page.fill('#token-input', opTok);
  await page.click('#login-form button');
  await page.locator('#hosts tbody tr').first().waitFor();
  await until(async () => (await page.locator('#fleet-count').innerText()).includes('1–100 of ' + fmt(TOTAL)),
    'the fleet says "hosts 1–100 of ' + fmt(TOTAL) + '": ' + await page.locator('#fleet-count').innerText());
  check(await page.locator('#hosts tbody tr').count() === 100, 'one page of 100 rows');
  check((await page.locator('#whoami').innerText()).includes('operator'), 'signed in as the operator');
  check((await page.locator('#hosts tbody tr').first().locator('.badge').innerText()) === 'silent', 'most urgent first: silent');
  // The 10 s refresh asks for the shown page with If-None-Match: an
  // unchanged fleet is a 304 and the table stays as it was.
  const hostAnswers = [];
  page.on('response', (r) => { if (r.url().includes('/v1/hosts?')) hostAnswers.push(r.status()); });
  await until(async () => { await page.waitForTimeout(150); return hostAnswers.includes(304); }, 'a refresh of the unchanged fleet is a 304: ' + hostAnswers);
  check(await page.locator('#hosts tbody tr').count() === 100, 'and the page still shows its 100 hosts');
  await page.click('#fleet-next');
  await until(async () => (await page.locator('#fleet-count').innerText()).includes('101–200 of ' + fmt(TOTAL)), 'the second page');
  const p2first = await page.locator('#hosts tbody tr').first().getAttribute('data-host');
  await page.screenshot({ path: outdir + '/hub-fleet-paged.png', fullPage: false });
  await page.click('#fleet-first');
  await until(async () => (await page.locator('#fleet-count').innerText()).includes('1–100 of'), 'back to the first page');
  check(await page.locator('#hosts tbody tr').first().getAttribute('data-host') !== p2first, 'the pages differ');
  await page.selectOption('#f-sort', 'host');
  await until(async () => (await page.locator('#hosts tbody tr').first().getAttribute('data-host')) === '=HYPERLINK("http://evil.example/")',
    'sorted by name, the hub orders the names');
  await page.fill('#f-host', 'web-');
  await until(async () => (await page.locator('#fleet-count').innerText()).includes('of 3'), 'a search shows its own total');
  check(await page.locator('#hosts tbody tr').count() === 3, 'three web- hosts');
  // The export of this view is a real download with formulas defused.
  await page.fill('#f-host', '=hyper');
  await until(async () => (await page.locator('#fleet-count').innerText()).includes('of 1'), 'the formula host alone');
  const csv = await page.evaluate(() => fetch(document.getElementById('fleet-csv').href).then((r) => r.text()));
  check(csv.startsWith('host,status') && csv.includes('"\'=HYPERLINK(""http://evil.example/"")"'), 'the CSV export defuses the formula: ' + csv.slice(0, 200));
  await page.fill('#f-host', '');

  // 2. Rollout: hosts per serial, who is behind, who refused.
  await page.click('#nav a[data-view=rollout]');
  await page.locator('#rollout-table tbody tr').first().waitFor();
  const rows = await page.locator('#rollout-table tbody tr').allInnerTexts();
  check(rows[0].startsWith('42') && rows[0].includes(fmt(bulk + 2)), 'serial 42 first with its hosts: ' + rows[0]);
  const r41 = rows.find((r) => r.startsWith('41'));
  check(r41 && /\t2\t1\t/.test(r41), 'serial 41: two hosts, one refused: ' + r41);
  check((await page.locator('#rollout-summary').innerText()).includes('2 host(s) behind'), 'two hosts behind');
  await page.screenshot({ path: outdir + '/hub-rollout.png' });
  await page.click('#rollout-summary a:has-text("list them")');
  await until(async () => (await page.locator('#hosts tbody tr').count()) === 2, 'the behind link lists two hosts');
  const behind = (await page.locator('#hosts tbody tr').evaluateAll((t) => t.map((r) => r.dataset.host))).sort();
  check(JSON.stringify(behind) === '["web-b","web-c"]', 'behind: web-b and web-c: ' + behind);
  check((await page.locator('#fleet-count').innerText()).includes('behind serial 42'), 'the view says why it is narrowed');

  // 3. Fleet-wide events: who touched /etc/sudoers, and the chart.
  await page.click('#nav a[data-view=events]');
  await page.locator('#events-view').waitFor();
  await page.fill('#e-resource', 'file:/etc/sudoers');
  await page.click('#e-search');
  await until(async () => (await page.locator('#events-count').innerText()) === '2 of 2 events', 'two sudoers events: ' + await page.locator('#events-count').innerText());
  const hosts = (await page.locator('#events tbody tr td:nth-child(2)').allInnerTexts()).sort();
  check(JSON.stringify(hosts) === '["web-a","web-b"]', 'on web-a and web-b: ' + hosts);
  await until(async () => (await page.locator('#chart svg rect.bar').count()) >= 1, 'the chart has bars');
  const bars = await page.locator('#chart svg rect.bar').evaluateAll((rs) => rs.map((r) => [r.dataset.action, Number(r.dataset.count), r.dataset.hour]));
  check(bars.reduce((a, b) => a + b[1], 0) === 2 && bars.every((b) => b[0] === 'reverted'), 'the bars count the two reverts: ' + JSON.stringify(bars));
  check(new Set(bars.map((b) => b[2])).size === 2, 'in two different hours');
  check(await page.locator('#chart svg title').count() === bars.length, 'each bar says what it counts');
  await page.selectOption('#e-action', 'detected');
  await until(async () => (await page.locator('#events-count').innerText()) === '0 of 0 events', 'no sudoers event was detected-only');
  await page.selectOption('#e-action', '');
  await page.fill('#e-resource', 'file:/etc/s*');
  await page.click('#e-search');
  await until(async () => (await page.locator('#events-count').innerText()) === '3 of 3 events', 'a prefix finds sshd_config too');
  await page.screenshot({ path: outdir + '/hub-events.png', fullPage: true });

  // 4. Acknowledge (operator), shown on the event and its row.
  const rowA = page.locator('#events tbody tr', { hasText: 'file:/etc/sudoers' }).filter({ hasText: 'web-a' });
  await rowA.locator('td').first().click();
  await page.locator('#ack-form').waitFor();
  await page.fill('#ack-note', 'CAB-4711 approved <b>edit</b>');
  await page.click('#ack-form button');
  await until(async () => (await page.locator('#ack-show').innerText()).includes('acknowledged by page-op'), 'the ack is shown');
  check((await page.locator('#ack-show').innerText()).includes('CAB-4711 approved <b>edit</b>'), 'the note is text, not markup');
  check(await page.locator('#ack-show b').count() === 0, 'no markup from a note');
  check((await rowA.innerText()).includes('✓ page-op'), 'the row shows the ack');
  await page.screenshot({ path: outdir + '/hub-ack.png', fullPage: true });

  // 5. New tabs, signed in by the cookie alone: the event link and a host.
  const evHref = await page.locator('#event-link').getAttribute('href');
  check(evHref.startsWith('#host=web-a&event='), 'an event link names the host and event: ' + evHref);
  check(await page.locator('#event-link').getAttribute('target') === '_blank', 'it opens a new tab');
  const [tab] = await Promise.all([ctx.waitForEvent('page'), page.click('#event-link')]);
  watch(tab);
  await tab.locator('#event').waitFor();
  check(await tab.locator('#login').isHidden(), 'the new tab does not ask for the token');
  check((await tab.locator('#event-title').innerText()).includes('file:/etc/sudoers'), 'the new tab opens that event');
  check((await tab.locator('#ack-show').innerText()).includes('CAB-4711'), 'with its ack');
  await tab.screenshot({ path: outdir + '/hub-newtab.png', fullPage: true });
  const hostTab = watch(await ctx.newPage());
  await hostTab.goto(url + '/#host=web-c');
  await hostTab.locator('#host-meta dd .badge').waitFor();
  check(await hostTab.locator('#host-meta dd .badge').first().innerText() === 'refused', 'a host link in a new tab works');

  // 6. A viewer (token in the fragment): reads, cannot ack.
  const vctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const vpage = watch(await vctx.newPage());
  await vpage.goto(url + '/#token=' + viewTok);
  await vpage.locator('#hosts tbody tr').first().waitFor();
  check(!vpage.url().includes(viewTok), 'the fragment token leaves the address bar');
  await vpage.goto(url + '/' + evHref);
  await vpage.locator('#event').waitFor();
  check(await vpage.locator('#ack-form').isHidden(), 'a viewer gets no ack form');
  const forged = await vpage.evaluate(async (href) => {
    const seq = new URLSearchParams(href.slice(1)).get('event');
    const s = await fetch('/v1/session').then((r) => r.json());
    const r = await fetch('/v1/events/' + seq + '/ack', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf }, body: '{"note":"viewer"}' });
    return r.status;
  }, evHref);
  check(forged === 403, 'a viewer\'s own session, CSRF token and all, may not ack: ' + forged);

  // 7. Sign out: the session ends in every tab of that browser.
  await page.click('#signout');
  await page.locator('#login').waitFor();
  await tab.reload();
  await tab.locator('#login').waitFor();
  check(await tab.locator('#app').isHidden(), 'the other tab asks again after sign-out');

  check(foreign.length === 0, 'no request left the hub: ' + foreign.join(', '));
  check(tokenInUrl.length === 0, 'no token in any URL a request carried: ' + tokenInUrl.join(', '));
  check(errors.length === 0, 'no script errors: ' + errors.join('; '));
  console.log('browser (fleet views): ' + checks + ' checks passed; screenshots in ' + outdir);
} finally {
  await browser.close();
}
