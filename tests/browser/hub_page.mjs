// hub_page.mjs - the plumb-hub page in a real headless Chromium: token from
// the URL fragment, fleet overview, a host's timeline, an event's
// expected-versus-actual diff, the token prompt, hostile names shown as
// text, and no request leaving the hub. Screenshots go to OUTDIR.
// New statuses (refused, unprotected) with their reasons, bidi/C1/invisible
// characters shown as ⟨U+XXXX⟩ in every view, and a 50,000-character signer
// that must not push the fleet table off screen.
// usage: node hub_page.mjs URL VIEWER_TOKEN DRIFT_HOST OK_HOST EVIL_HOST OUTDIR BIDI_HOST
import { chromium } from 'playwright-core';

const [url, token, driftHost, okHost, evilHost, outdir, bidiHost] = process.argv.slice(2);
// Raw characters that must never reach the screen as themselves (innerText
// itself separates cells by tabs and lines by newlines).
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;
let checks = 0;
function check(cond, what) {
  checks++;
  if (!cond) throw new Error('FAIL: ' + what);
}
// The fleet is filtered by the hub now: wait (bounded) for the table to settle.
async function rowsBecome(page, n, what) {
  const loc = page.locator('#hosts tbody tr');
  for (let i = 0; i < 100; i++) {
    if (await loc.count() === n) break;
    await page.waitForTimeout(100);
  }
  check(await loc.count() === n, what + ' (' + (await loc.count()) + ' rows)');
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
  check(await page.evaluate((t) => !JSON.stringify({ ...sessionStorage }).includes(t) && !JSON.stringify({ ...localStorage }).includes(t), token),
    'the token is kept in no storage a script can read');
  const cookies = await ctx.cookies();
  const sess = cookies.find((c) => c.name === 'plumb_session');
  check(sess && sess.httpOnly && sess.sameSite === 'Strict' && sess.value !== token, 'an HttpOnly SameSite=Strict session cookie holds a random id');
  check(await page.evaluate(() => document.cookie) === '', 'scripts cannot read the session cookie');
  // A host name full of markup is shown as text, never parsed.
  const evil = page.locator('#hosts tbody tr', { hasText: evilHost });
  await evil.waitFor();
  check(await page.locator('#hosts img, #hosts b, #hosts script').count() === 0, 'a hostile host name is not HTML');
  await page.screenshot({ path: outdir + '/hub-fleet.png', fullPage: true });

  // Refused and unprotected hosts are no longer green, and say why.
  const refRow = page.locator('#hosts tbody tr', { hasText: 'web-refused' });
  check(await refRow.locator('.badge').innerText() === 'refused', 'a host that refused a tip is refused');
  check((await refRow.innerText()).includes('unknown key'), 'the refused host shows its reason');
  const unpRow = page.locator('#hosts tbody tr', { hasText: 'web-unsigned' });
  check(await unpRow.locator('.badge').innerText() === 'unprotected', 'a host without a signed baseline is unprotected');
  check((await unpRow.innerText()).includes('no signed baseline'), 'the unprotected host shows its reason');
  const counters = await page.locator('#counters').innerText();
  check(counters.includes('1 refused') && counters.includes('1 unprotected'), 'counters count the new statuses: ' + counters);
  const all = await page.locator('#hosts tbody tr').count();
  await page.selectOption('#f-status', 'refused');
  await rowsBecome(page, 1, 'status filter refused');
  await page.selectOption('#f-status', 'unprotected');
  await rowsBecome(page, 1, 'status filter unprotected');
  await page.selectOption('#f-status', '');
  await rowsBecome(page, all, 'every status again');

  // A bidi override in a host name is shown, not obeyed.
  const bidiRow = page.locator('#hosts tbody tr', { hasText: '⟨U+202E⟩' });
  check(await bidiRow.count() === 1, 'the bidi host name shows ⟨U+202E⟩');
  check(!RAW.test(await page.locator('body').innerText()), 'no raw control or bidi character on the fleet view');

  // A 50,000-character signer neither widens the page nor hides columns.
  const fits = () => page.evaluate(() => {
    const last = document.querySelector('#hosts thead th:last-child').getBoundingClientRect();
    return document.documentElement.scrollWidth <= window.innerWidth + 1 && last.right <= window.innerWidth + 1;
  });
  check(await fits(), 'the fleet table fits the window with a 50,000-character signer');
  const longRow = page.locator('#hosts tbody tr', { hasText: 'web-long' });
  const showAll = longRow.locator('button.more');
  check((await showAll.innerText()).includes('50000'), 'the long signer is cut, with a way to see all of it');
  await showAll.click();
  check((await longRow.innerText()).includes('L'.repeat(50000)), 'show all shows the whole signer');
  check(await fits(), 'the whole signer wraps inside the table');
  check(page.url().endsWith('/') || !page.url().includes('host='), 'show all does not open the host');
  const okCell = okRow.locator('td').last();
  const box = await okCell.boundingBox();
  check(box && box.x + box.width <= 1400 + 1, 'other hosts\' last column stays on screen');
  await page.screenshot({ path: outdir + '/hub-long.png' });

  // Filters narrow the table.
  await page.selectOption('#f-status', 'drifting');
  await rowsBecome(page, 1, 'status filter keeps the drifting host only');
  await page.selectOption('#f-status', '');
  await rowsBecome(page, all, 'every status again');
  await page.fill('#f-host', okHost);
  await rowsBecome(page, 1, 'host filter');
  await page.fill('#f-host', '');
  await rowsBecome(page, all, 'no host filter');

  // 2. The host's drift timeline.
  await row.locator('a').first().click();
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

  // The bidi host's own view: its name, the resource, the error and the diff
  // all show their invisible characters.
  await page.goto(url + '/#host=' + encodeURIComponent(bidiHost));
  await page.locator('#host-name', { hasText: '⟨U+202E⟩' }).waitFor();
  const bidiEvent = page.locator('#events tbody tr', { hasText: 'file:/etc/⟨U+202E⟩dwssap' });
  await bidiEvent.waitFor();
  await bidiEvent.click();
  await page.locator('#event').waitFor();
  check((await page.locator('#event-title').innerText()).includes('file:/etc/⟨U+202E⟩dwssap'), 'the event title shows the bidi override');
  const err = await page.locator('#event-error').innerText();
  check(err.includes('⟨U+0085⟩') && err.includes('⟨U+200B⟩'), 'C1 and zero-width characters in an error are shown: ' + err);
  const bidiDiff = await page.locator('#diff').innerText();
  check(bidiDiff.includes('+gnp⟨U+202E⟩.exe'), 'a bidi override in a diff line is shown: ' + bidiDiff);
  check(!RAW.test((await page.locator('body').innerText()).replace(/\n/g, '')), 'no raw control or bidi character in the host and event views');
  await page.screenshot({ path: outdir + '/hub-bidi.png', fullPage: true });

  // 4. No token: the page asks; a wrong token is refused with a message.
  // (a fresh browser context: no session cookie)
  const ctx2 = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page2 = await ctx2.newPage();
  page2.on('request', (r) => { if (r.url().includes(token)) sentTokenInUrl.push(r.url()); });
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
