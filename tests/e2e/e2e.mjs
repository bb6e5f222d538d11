// Browser tests of `renkou serve` in Debian's headless Chromium (playwright-core).
// Needs RENKOU_URL (the running server) and RENKOU_PASSWORD (of the seeded users admin, spec2, gl1, pw1).
// Prints "N passed, N failed" as its last line; exits 1 on any failure.
import { chromium } from 'playwright-core';

const URL = process.env.RENKOU_URL;
const PASSWORD = process.env.RENKOU_PASSWORD;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  // playwright gives every launch a fresh temporary --user-data-dir of its own.
});
let passed = 0, failed = 0;
const expect = (cond, msg) => { if (!cond) throw new Error(msg); };

async function test(name, fn, viewport = { width: 1366, height: 768 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const t0 = Date.now();
  try {
    await fn(page);
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  } finally {
    await context.close();
  }
}

async function login(page, user, password = PASSWORD) {
  await page.goto(`${URL}/login`);
  await page.fill('#username', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(`${URL}/`), page.click('button[type=submit]')]);
}

// The person search is a POST form: the search text never goes into an address.
async function searchPersons(page, q) {
  await page.goto(`${URL}/persons`);
  await page.fill('form.search input[name=q]', q);
  await Promise.all([page.waitForLoadState('load'), page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === `${URL}/persons`), page.click('form.search button')]);
  await page.waitForSelector('#result-count');
}

const births = async (page, url) => {
  await page.goto(url);
  return Number((await page.textContent('td[data-key="births"][data-area="130131200"]')).trim());
};

await test('admin logs in and sees the township dashboard with charts', async (page) => {
  await login(page, 'admin');
  expect((await page.textContent('h1')).includes('西大吾乡'), 'dashboard title');
  await page.waitForSelector('#chart-pyramid canvas', { timeout: 10000 });
  await page.waitForSelector('#chart-monthly canvas');
  const rows = await page.locator('table.villages tbody tr').count();
  expect(rows === 2, `two villages, got ${rows}`);
});

await test('search by pinyin initials, open the person, record a birth, births go up by one', async (page) => {
  await login(page, 'admin');
  const dash = `${URL}/?area=130131200&from=2024-01-01&to=2024-12-31`;
  const before = await births(page, dash);
  await searchPersons(page, 'ln');
  await page.click('#results a:text("李娜")');
  expect((await page.textContent('table.kv')).includes('130131198505050'), 'full citizen ID on the detail page');
  await page.click('a:text("登记生育")');
  await page.fill('#name', '张小宝');
  await page.selectOption('#sex', '女');
  await page.fill('#birth_date', '2024-05-01');
  await Promise.all([page.waitForLoadState('load'), page.click('form.event button[type=submit]')]);
  // Saved: straight to the child's page, or first the logic-check warnings with a link to it.
  await page.waitForSelector('#saved, #person-id');
  if (await page.locator('#saved').count()) {
    await Promise.all([page.waitForURL(/\/persons\/\d+$/), page.click('a:text("继续 → 人员页")')]);
  }
  expect((await page.textContent('h1')).includes('张小宝'), 'child page');
  const after = await births(page, dash);
  expect(after === before + 1, `births ${before} -> ${after}`);
});

await test('invalid birth date is shown next to the field in Chinese', async (page) => {
  await login(page, 'admin');
  await page.goto(`${URL}/events/birth?mother_id=2`);
  await page.fill('#name', '测试');
  await page.selectOption('#sex', '男');
  await page.fill('#citizen_id', '130131202405010011');
  await page.click('form.event button[type=submit]');
  const err = await page.textContent('span.err[data-field="citizen_id"]');
  expect(err.includes('校验码错误') || err.includes('日期'), `message: ${err}`);
});

await test('import page: a file with a bad row is rejected with the row, the column and a CSV report; nothing written', async (page) => {
  await login(page, 'admin');
  await page.goto(`${URL}/import`);
  const csv = '姓名,公民身份号码,性别,出生日期,民族,婚姻状况,户籍村/组,户号,与户主关系\n' +
    '周一,130131199001010011,男,1990-01-01,汉族,未婚,130131200201,V1-900,户主\n';
  await page.setInputFiles('#files', { name: '新增人员.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await Promise.all([page.waitForURL(/\/import\/jobs\/[0-9a-f]+$/, { timeout: 20000 }), page.click('#import-form button[type=submit]')]);
  await page.waitForSelector('#import-status[data-state="rejected"]');
  const row = await page.textContent('#problems tbody tr');
  expect(row.includes('新增人员.csv') && row.includes('2') && row.includes('B列(公民身份号码)'), `row: ${row}`);
  const href = await page.getAttribute('#errors-csv', 'href');
  const r = await page.request.get(`${URL}${href}`);
  const text = (await r.text()).replace(/^\uFEFF/, '');
  expect(r.status() === 200 && text.startsWith('文件,行,列,原因\n新增人员.csv,2,B列(公民身份号码),'), `csv: ${text}`);
  await searchPersons(page, '周一');
  expect((await page.textContent('#result-count')).trim() === '0', 'nothing imported');
});

await test('a village specialist cannot reach another village', async (page) => {
  await login(page, 'spec2');
  expect((await page.textContent('h1')).includes('东小齐村'), 'own village dashboard');
  const r = await page.goto(`${URL}/persons/1`); // 张伟, 西大吾村
  expect(r.status() === 404, `person in another village: ${r.status()}`);
  const v = await page.goto(`${URL}/?area=130131200201`);
  expect(v.status() === 404, `figures of another village: ${v.status()}`);
  await searchPersons(page, 'zw');
  expect((await page.textContent('#result-count')).trim() === '0', 'search stays in her village');
});

await test('an expired session keeps the form server-side: no typed value in any address', async (page) => {
  await login(page, 'admin');
  await page.goto(`${URL}/events/move_in`);
  await page.fill('#name', '吴过期');
  await page.fill('#citizen_id', '130131199202020022');
  await page.fill('#area', '130131200201');
  await page.fill('#date', '2024-06-01');
  // The session ends (cookie gone) while the form is open.
  await page.context().clearCookies({ name: 'renkou_session' });
  const seen = [];
  page.on('request', (r) => seen.push(r.url()));
  page.on('response', (r) => { const l = r.headers()['location']; if (l) seen.push(l); });
  await Promise.all([page.waitForURL(/\/login\?next=/), page.click('form.event button[type=submit]')]);
  await page.fill('#username', 'admin');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(/\/events\/move_in\?restore=[0-9a-f]+$/), page.click('button[type=submit]')]);
  expect(await page.inputValue('#name') === '吴过期', 'name restored');
  expect(await page.inputValue('#citizen_id') === '130131199202020022', 'citizen ID restored');
  const leaked = seen.filter((u) => u.includes('130131199202020022') || u.includes(encodeURIComponent('吴过期')));
  expect(leaked.length === 0, `form values in addresses: ${leaked.join(' ')}`);
  const again = await page.context().newPage();
  await again.goto(page.url());
  expect(await again.inputValue('#citizen_id') === '', 'the token works once');
});

await test('a search for a citizen ID is sent by POST: the ID is in no request URL or Location header', async (page) => {
  await login(page, 'admin');
  await searchPersons(page, 'ln');
  await page.click('#results a:text("李娜")');
  const id = (await page.textContent('table.kv')).match(/\d{17}[\dX]/)[0];
  const seen = [];
  page.on('request', (r) => seen.push(r.url()));
  page.on('response', (r) => { const l = r.headers()['location']; if (l) seen.push(l); });
  await searchPersons(page, id);
  expect((await page.textContent('#result-count')).trim() === '1', 'one person found by the ID');
  expect((await page.textContent('#results')).includes('李娜'), '李娜 found');
  expect(page.url() === `${URL}/persons`, `address after the search: ${page.url()}`);
  // The API takes the search in a POST JSON body.
  const token = (await (await page.request.get(`${URL}/api/v1/session`)).json()).csrf_token;
  const api = await page.request.post(`${URL}/api/v1/persons`, { data: { q: id }, headers: { 'X-CSRF-Token': token } });
  expect(api.status() === 200 && (await api.json()).persons.length === 1, `API search: ${api.status()}`);
  seen.push(api.url());
  const leaked = seen.filter((u) => u.includes(id) || u.includes(id.slice(0, 10)));
  expect(leaked.length === 0, `citizen ID in addresses: ${leaked.join(' ')}`);
  // A search typed into the address is not run; the page says searches go by the form.
  await page.goto(`${URL}/persons?q=${id}`);
  expect(await page.locator('#search-by-form').count() === 1, 'note about the form');
  expect(await page.locator('#result-count').count() === 0, 'no search run from the address');
  const get = await page.request.get(`${URL}/api/v1/persons?q=${id}`);
  expect(get.status() === 400, `API GET search: ${get.status()}`);
});

await test('a group leader reports her month, township admin reviews it and it is locked', async (page) => {
  await login(page, 'gl1');
  await Promise.all([page.waitForURL(/\/monthly\/130131200201001$/), page.click('nav a:text("月报")')]);
  const month = (await page.textContent('#group-months tbody tr td')).trim();
  await page.click('#group-months tbody tr a');
  await page.fill('#births', '1');
  await page.fill('#pregnancies', '2');
  await page.fill('#notes', '李娜怀孕');
  await Promise.all([page.waitForURL(/\?saved=1$/), page.click('#monthly-form button[type=submit]')]);
  expect((await page.textContent('#monthly-status')).includes('已报'), 'submitted');
  await page.click('form.logout button');
  await login(page, 'admin');
  await page.goto(`${URL}/monthly`);
  const cell = `td[data-group="130131200201001"][data-month="${month}"]`;
  expect((await page.getAttribute(cell, 'class')) === 'submitted', 'table shows 已报');
  await page.click(`${cell} a`);
  expect((await page.textContent('#monthly-report')).includes('李娜怀孕'), 'admin sees the note');
  await Promise.all([page.waitForLoadState('load'), page.click('#review')]);
  expect((await page.textContent('#monthly-status')).includes('已审核'), 'reviewed');
  await page.click('form.logout button');
  await login(page, 'gl1');
  await page.goto(`${URL}/monthly/130131200201001/${month}`);
  expect(await page.locator('#monthly-form').count() === 0, 'locked after review');
  const other = await page.goto(`${URL}/monthly/130131200202001/${month}`);
  expect(other.status() === 404, `another group: ${other.status()}`);
});

// The office's register work through the one engine: a move between villages in one form, a
// person added to a household, a household assigned to a villager group.
async function openPerson(page, name) {
  await searchPersons(page, name);
  await Promise.all([page.waitForURL(/\/persons\/\d+$/), page.click(`#results a:text("${name}")`)]);
}
async function submitEvent(page) {
  await Promise.all([page.waitForLoadState('load'), page.click('form.event button[type=submit]')]);
  await page.waitForSelector('#saved, #person-id, span.err');
  expect(await page.locator('span.err').count() === 0, `form refused: ${await page.locator('span.err').allTextContents()}`);
  if (await page.locator('#saved').count()) {
    await Promise.all([page.waitForURL(/\/persons\/\d+$/), page.click('a:text("继续 → 人员页")')]);
  }
}

await test('move a person between villages, add her to a household, assign a household to a group', async (page) => {
  await login(page, 'admin');
  // 陈静 (西大吾村, household V1-002) moves to 东小齐村.
  await openPerson(page, '陈静');
  await page.click('#move-link');
  await page.fill('#area', '130131200202');
  await page.fill('#date', '2024-03-01');
  await submitEvent(page);
  const kv = await page.textContent('table.kv');
  expect(kv.includes('130131200202'), `registered in 东小齐村 now: ${kv}`);
  // She joins 王强's household V2-001 as 其他亲属.
  await openPerson(page, '王强');
  await Promise.all([page.waitForURL(/\/households\/\d+$/), page.click('table.kv a:text("V2-001")')]);
  const household = (await page.textContent('#household-id')).trim();
  await openPerson(page, '陈静');
  await page.click('#join-link');
  await page.fill('#household_id', household);
  await page.selectOption('#relationship', '其他亲属');
  await submitEvent(page);
  await page.goto(`${URL}/households/${household}`);
  expect((await page.textContent('table.list')).includes('陈静'), 'member of V2-001');
  // 张伟's whole household goes to 西大吾村一组 (130131200201001).
  await openPerson(page, '张伟');
  await page.click('#group-link');
  await page.fill('#group', '130131200201001');
  await page.selectOption('#whole_household', '1');
  await submitEvent(page);
  expect((await page.textContent('table.kv')).includes('130131200201001'), 'registered in the group');
  await page.goto(`${URL}/groups`);
  expect((await page.textContent('#groups')).includes('130131200201001'), 'groups page lists 一组');
});

// Accounts: logout, Back after logout, the own password, phone width.
const CITIZEN_ID = /\d{17}[\dX]/;

await test('log out from a person page: Back shows no personal data, a new login lands on a page', async (page) => {
  await login(page, 'admin');
  await searchPersons(page, 'ln');
  await Promise.all([page.waitForURL(/\/persons\/\d+$/), page.click('#results a:text("李娜")')]);
  const id = (await page.textContent('table.kv')).match(CITIZEN_ID)[0];
  await Promise.all([page.waitForURL(/\/login$/), page.click('form.logout button')]);
  await page.goBack();
  await page.waitForLoadState('load');
  const text = await page.textContent('body');
  expect(!text.includes(id) && !CITIZEN_ID.test(text), `after Back (${page.url()}): ${text.slice(0, 200)}`);
  expect(!text.includes('李娜'), 'no name after Back');
  expect(page.url().startsWith(`${URL}/login`), `Back asks for a login: ${page.url()}`);
  // Logging in again from there shows the page asked for, never a 405.
  await page.fill('#username', 'admin');
  await page.fill('#password', PASSWORD);
  const [resp] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  expect(resp.status() === 200 && !page.url().includes('/logout'), `after login: ${resp.status()} ${page.url()}`);
});

await test('a logout after the session expired and the login that follows never end in 405', async (page) => {
  await login(page, 'admin');
  await page.goto(`${URL}/persons`);
  await page.context().clearCookies({ name: 'renkou_session' });
  await Promise.all([page.waitForURL(/\/login/), page.click('form.logout button')]);
  expect(!page.url().includes('logout'), `login page: ${page.url()}`);
  await page.fill('#username', 'admin');
  await page.fill('#password', PASSWORD);
  const [resp] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  expect(resp.status() === 200 && page.url() === `${URL}/`, `after login: ${resp.status()} ${page.url()}`);
  // A typed /logout shows the button; it logs out.
  const r = await page.goto(`${URL}/logout`);
  expect(r.status() === 200, `GET /logout: ${r.status()}`);
  await Promise.all([page.waitForURL(/\/login$/), page.click('#logout')]);
  const again = await page.goto(`${URL}/logout`);
  expect(again.status() === 200 && page.url().startsWith(`${URL}/login`), `GET /logout logged out: ${page.url()}`);
});

await test('change the own password on /account, then log in with the new one (390 px wide)', async (page) => {
  await login(page, 'pw1');
  await Promise.all([page.waitForURL(`${URL}/account`), page.click('header a.who')]);
  const fresh = `${PASSWORD}-neu`;
  await page.fill('#old_password', 'not-the-password');
  await page.fill('#new_password', fresh);
  await page.fill('#new_password2', fresh);
  await Promise.all([page.waitForLoadState('load'), page.click('#password-form button[type=submit]')]);
  expect((await page.textContent('span.err[data-field="old_password"]')).includes('原密码不正确'), 'wrong old password refused');
  await page.fill('#old_password', PASSWORD);
  await page.fill('#new_password', fresh);
  await page.fill('#new_password2', fresh);
  await Promise.all([page.waitForLoadState('load'), page.click('#password-form button[type=submit]')]);
  await page.waitForSelector('#saved');
  await Promise.all([page.waitForURL(/\/login$/), page.click('form.logout button')]);
  await page.goto(`${URL}/login`);
  await page.fill('#username', 'pw1');
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('#login-error');
  await login(page, 'pw1', fresh);
  expect((await page.textContent('h1')).includes('西大吾乡'), 'logged in with the new password');
}, { width: 390, height: 844 });

await test('every page fits 390 px: no sideways scrolling of the page', async (page) => {
  const wide = [];
  const check = async (path) => {
    const r = await page.goto(`${URL}${path}`);
    await page.waitForLoadState('load');
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    if (r.status() >= 400 || w > 390) wide.push(`${path}: ${r.status()} ${w}px`);
  };
  await check('/login');
  await login(page, 'admin');
  await searchPersons(page, 'ln');
  await Promise.all([page.waitForURL(/\/persons\/\d+$/), page.click('#results a:text("李娜")')]);
  const person = new globalThis.URL(page.url()).pathname;
  for (const path of ['/', '/persons', person, `${person}/correct`, '/events/birth', '/events/move_in', '/explain?key=births&area=130131200&from=2024-01-01&to=2024-12-31',
    '/check', '/check/rules', '/monthly', '/groups', '/import', '/audit', '/users', '/users/1', '/users/2', '/account', '/logout']) {
    await check(path);
  }
  expect(wide.length === 0, `too wide: ${wide.join('; ')}`);
}, { width: 390, height: 844 });

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
