// hub_page.mjs - the plumb-hub page in a real headless Chromium: token from
// the URL fragment, fleet overview, a host's timeline, an event's
// expected-versus-actual diff, the token prompt, hostile names shown as
// text, and no request leaving the hub. Screenshots go to OUTDIR.
// usage: node hub_page.mjs URL VIEWER_TOKEN DRIFT_HOST OK_HOST EVIL_HOST OUTDIR
import { chromium } from 'playwright-core';

const [url, token, driftHost, okHost, evilHost, outdir] = process.argv.slice(2);
let checks = 0;
function check(cond, what) {
  checks++;
  if (!cond) throw new Error('FAIL: ' + what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
  timeout: 60000,
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  const origin = new URL(url).origin;
  const foreign = [], sentTokenInUrl = [], errors = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(origin)) foreign.push(r.url());
    if (r.url().includes(token)) sentTokenInUrl.push(r.url());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => { errors.push('dialog: ' + d.message()); d.dismiss(); });

  // 1. Token in the fragment: the fleet overview with the drifting host.
  await page.goto(url + '/#token=' + token);
  const row = page.locator('#hosts tbody tr', { hasText: driftHost });
  await row.waitFor();
  check(await row.locator('.badge').innerText() === 'drifting', 'the drifting host is marked drifting');
  const okRow = page.locator('#hosts tbody tr', { hasText: okHost });
  check(await okRow.locator('.badge').innerText() === 'compliant', 'the compliant host is marked compliant');
  check((await page.locator('#counters').innerText()).includes('1 drifting'), 'counters show one drifting host');
  check(!page.url().includes(token), 'the token is removed from the address bar');
  check(await page.evaluate(() => sessionStorage.getItem('plumb-hub-token')) === token, 'the token is kept in sessionStorage');
  // A host name full of markup is shown as text, never parsed.
  const evil = page.locator('#hosts tbody tr', { hasText: evilHost });
  await evil.waitFor();
  check(await page.locator('#hosts img, #hosts b, #hosts script').count() === 0, 'a hostile host name is not HTML');
  await page.screenshot({ path: outdir + '/hub-fleet.png', fullPage: true });

  // Filters narrow the table.
  await page.selectOption('#f-status', 'drifting');
  check(await page.locator('#hosts tbody tr').count() === 1, 'status filter keeps the drifting host only');
  await page.selectOption('#f-status', '');
  await page.fill('#f-host', okHost);
  check(await page.locator('#hosts tbody tr').count() === 1, 'host filter');
  await page.fill('#f-host', '');

  // 2. The host's drift timeline.
  await row.locator('a').click();
  await page.locator('#host-name', { hasText: driftHost }).waitFor();
  const events = page.locator('#events tbody tr');
  await events.first().waitFor();
  check(await events.count() >= 2, 'the timeline lists the events');
  check(await page.locator('#events tbody tr', { hasText: 'file:/etc/motd' }).count() >= 1, 'the motd event is listed');
  await page.selectOption('#f-action', 'reverted');
  await page.locator('#events tbody tr .badge', { hasText: 'detected' }).first().waitFor({ state: 'detached' });
  check(await page.locator('#events tbody tr .badge', { hasText: 'reverted' }).count() >= 1, 'action filter');

  // 3. An event's expected vs actual, and the diff.
  await page.locator('#events tbody tr', { hasText: 'file:/etc/motd' }).first().click();
  await page.locator('#event').waitFor();
  check((await page.locator('#event-title').innerText()).includes('file:/etc/motd'), 'event title');
  const shaRow = page.locator('#compare tbody tr', { hasText: 'sha256' });
  check(await shaRow.getAttribute('class') === 'differs', 'the differing digest is highlighted');
  const diff = await page.locator('#diff').innerText();
  check(diff.includes('-hello') && diff.includes('+intruder'), 'the diff shows baseline (-) and found (+): ' + diff);
  check(await page.locator('#diff .add').count() >= 1 && await page.locator('#diff .del').count() >= 1, 'diff lines are coloured');
  await page.screenshot({ path: outdir + '/hub-event.png', fullPage: true });

  // 4. No token: the page asks; a wrong token is refused with a message.
  const page2 = await ctx.newPage();
  await page2.goto(url + '/');
  await page2.evaluate(() => sessionStorage.clear());
  await page2.goto(url + '/?fresh');
  await page2.locator('#login').waitFor();
  check(await page2.locator('#app').isHidden(), 'no data shown without a token');
  await page2.fill('#token-input', 'phv_' + '0'.repeat(64));
  await page2.click('#login-form button');
  await page2.locator('#login-error', { hasText: 'refused' }).waitFor();
  await page2.fill('#token-input', token);
  await page2.click('#login-form button');
  await page2.locator('#hosts tbody tr', { hasText: driftHost }).waitFor();
  await page2.screenshot({ path: outdir + '/hub-login.png' });

  check(foreign.length === 0, 'no request left the hub: ' + foreign.join(', '));
  check(sentTokenInUrl.length === 0, 'the token never travels in a URL: ' + sentTokenInUrl.join(', '));
  check(errors.length === 0, 'no script errors: ' + errors.join('; '));
  console.log('browser: ' + checks + ' checks passed; screenshots in ' + outdir);
} finally {
  await browser.close();
}
