// Every console page in headless Chromium: axe-core (no serious or critical violation), light
// and dark screenshots at 1280 and 390 px (target/test-artifacts/console/), no sideways
// scrolling at 390 px outside table wrappers, no CSP violation. Pages with an error shown in
// them (a rejected form, a bad filter) are checked too: that is where aria-invalid and alerts live.
// Two sets, each its own test (and daemon), so each stays well under a minute:
//   platform — the platform owner's pages (with a tenant's keys and API tokens), the sign-in
//              and sign-out pages, the refusals;
//   tenant   — a tenant owner's pages, every form of users and clients.
// Usage: node console_pages.mjs '{"set": "platform"|"tenant", "base": URL, "shots": DIR,
//   "root": [EMAIL, PW], "owner": [EMAIL, PW], "norole": [EMAIL, PW]}'
import { launch, openPage, signIn, heading, Checker, fail } from './console_lib.mjs';

const cfg = JSON.parse(process.argv[2]);
const { base } = cfg;
const browser = await launch();
const checker = new Checker(cfg.shots);
const step = async (page, name, path, h1) => {
  if (path !== null) await page.goto(`${base}${path}`);
  await heading(page, h1).waitFor();
  await checker.check(page, name);
};
const nav = (page, name) => page.getByRole('navigation').getByRole('link', { name, exact: true }).click();

async function platform() {
  const page = await openPage(browser);
  // The sign-in's "Signed in" page (a refresh to the console, gone in an instant): kept as it
  // came, to be shown again below without its refresh. (page.route sees no request reached
  // through a redirect, as the callback is: the DevTools protocol's Fetch domain does.)
  let signedIn = null;
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Fetch.requestPaused', async (e) => {
    if (e.responseStatusCode === 200) {
      const { body, base64Encoded } = await cdp.send('Fetch.getResponseBody', { requestId: e.requestId });
      const headers = Object.fromEntries(e.responseHeaders.map((h) => [h.name.toLowerCase(), h.value]));
      signedIn = { body: base64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body, headers };
    }
    await cdp.send('Fetch.continueRequest', { requestId: e.requestId });
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*/console/t/*/callback?*', requestStage: 'Response' }] });
  await page.goto(`${base}/console/`);
  await signIn(page, ...cfg.root);
  await cdp.send('Fetch.disable');
  await cdp.detach();
  if (!signedIn || !signedIn.body.includes('id="continue"')) fail('the sign-in did not pass the "Signed in" page');

  await step(page, 'platform-dashboard', null, 'Dashboard');
  // Keyboard: the first Tab reaches the skip link, shown with a focus ring; it leads to main.
  await page.keyboard.press('Tab');
  const skip = await page.evaluate(() => {
    const a = document.activeElement;
    const r = a.getBoundingClientRect();
    return { text: a.textContent, outline: getComputedStyle(a).outlineStyle, shown: r.left >= 0 && r.width > 0 };
  });
  if (skip.text !== 'Skip to content' || skip.outline === 'none' || !skip.shown) fail(`first Tab: ${JSON.stringify(skip)}`);
  await page.keyboard.press('Enter');
  if (await page.evaluate(() => document.activeElement.id) !== 'main') fail('the skip link does not move focus to main');
  await step(page, 'platform-users', '/console/t/platform/users', 'Users');
  await step(page, 'tenants', '/console/t/platform/tenants', 'Tenants');
  await page.getByLabel('Slug').fill('Not a slug!');
  await page.getByRole('button', { name: 'Create tenant' }).click();
  await page.locator('#slug-error').waitFor();
  await step(page, 'tenants-error', null, 'Tenants');
  await step(page, 'platform-audit', '/console/t/platform/audit', 'Audit');
  await step(page, 'audit-error', '/console/t/platform/audit?tenant=NO%20SUCH', 'Audit');
  if (!(await page.getByRole('alert').count())) fail('the audit filter error is not shown');
  await step(page, 'platform-whoami', '/console/t/platform/whoami', 'Who am I');
  // A tenant's keys and API tokens, as the platform owner sees them (the tenant set is the
  // longer one). Keys: the list, the rotation form, the list with a next key.
  await step(page, 'keys', '/console/t/acme/keys', 'Signing keys');
  await page.getByRole('link', { name: 'Rotate keys' }).click();
  await step(page, 'keys-rotate', null, 'Rotate signing keys');
  await page.getByRole('button', { name: 'Rotate keys' }).click();
  await page.locator('.key-state', { hasText: 'next' }).first().waitFor();
  await step(page, 'keys-rotated', null, 'Signing keys');

  // API tokens: none, the form (with an error), the token shown once, the list.
  await step(page, 'api-tokens-empty', '/console/t/acme/api-tokens', 'API tokens');
  await page.getByRole('link', { name: 'Create token' }).click();
  await heading(page, 'Create API token').waitFor();
  await page.getByLabel('Name').fill('deploy bot');
  await page.getByLabel('Expires in').fill('forever');
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.locator('#expires-error').waitFor();
  await step(page, 'api-token-new-error', null, 'Create API token');
  await page.getByLabel('Expires in').fill('30d');
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.locator('#secret').waitFor();
  await step(page, 'api-token-created', null, 'API token created');
  await step(page, 'api-tokens', '/console/t/acme/api-tokens', 'API tokens');
  await step(page, 'not-found', '/console/t/nope/', 'Not found');

  await page.route(`${base}/console/signed-in-preview`, (route) => route.fulfill({
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8',
               'content-security-policy': signedIn.headers['content-security-policy'] },
    body: signedIn.body.replace(/<meta http-equiv="refresh"[^>]*>/, ''),
  }));
  await step(page, 'signed-in', '/console/signed-in-preview', 'Signed in');

  await page.goto(`${base}/console/t/platform/`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await step(page, 'signed-out', null, 'Signed out');

  // A user of the tenant without a console role: the refusal page.
  const other = await openPage(browser);
  await other.goto(`${base}/console/t/acme/`);
  await other.getByLabel('Email address').fill(cfg.norole[0]);
  await other.getByLabel('Password').fill(cfg.norole[1]);
  await other.getByRole('button', { name: 'Sign in' }).click();
  await step(other, 'no-access', null, 'No access to the console');
}

async function tenant() {
  const page = await openPage(browser);
  await page.goto(`${base}/console/t/acme/`);
  await signIn(page, ...cfg.owner);
  await step(page, 'dashboard', null, 'Dashboard');
  await step(page, 'whoami', '/console/t/acme/whoami', 'Who am I');
  await step(page, 'audit', '/console/t/acme/audit', 'Audit');

  // Users: the list, its error, the create form (with its errors), a user's page, deleting one.
  await step(page, 'users', '/console/t/acme/users', 'Users');
  await step(page, 'users-error', '/console/t/acme/users?limit=0', 'Users');
  await page.goto(`${base}/console/t/acme/users`);
  await page.getByRole('link', { name: 'Create user' }).click();
  await step(page, 'user-new', null, 'Create user');
  // (Values the browser's own checks let through, for the server to refuse.)
  await page.getByLabel('Email').fill('carol@example.com');
  await page.getByLabel('Password').fill('x');
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.locator('.field-error').first().waitFor();
  await step(page, 'user-new-error', null, 'Create user');
  await page.getByLabel('Email').fill('carol@example.com');
  await page.getByLabel('Password').fill('carol-password-1234');
  await page.getByLabel('Name', { exact: true }).fill('Carol Example');
  await page.getByLabel('Role').selectOption('viewer');
  await page.getByRole('button', { name: 'Create user' }).click();
  await step(page, 'user', null, 'carol@example.com');
  await page.getByRole('button', { name: 'Disable user' }).click();
  await page.getByRole('button', { name: 'Enable user' }).waitFor();
  await step(page, 'user-disabled', null, 'carol@example.com');
  await page.getByRole('link', { name: 'Delete user' }).click();
  await step(page, 'user-delete', null, 'Delete user');
  await page.getByRole('button', { name: 'Delete user' }).click();
  await heading(page, 'Users').waitFor();
  // The owner's own page: a live session (hers) in the sessions table.
  await page.locator('a.user-email', { hasText: cfg.owner[0] }).click();
  await page.getByRole('button', { name: /^End session/ }).first().waitFor();
  await step(page, 'user-with-session', null, cfg.owner[0]);

  // Clients: empty list, the registration form (with an error), the secret shown once, the
  // client's page, a new secret, deleting it.
  await nav(page, 'Clients');
  await step(page, 'clients-empty', null, 'Clients');
  await page.getByRole('link', { name: 'Register client' }).click();
  await step(page, 'client-new', null, 'Register client');
  await page.getByLabel('Client name').fill('Acme Portal');
  await page.getByLabel('Redirect URIs', { exact: true }).fill('not a uri');
  await page.getByRole('button', { name: 'Register client' }).click();
  await page.locator('.field-error').first().waitFor();
  await step(page, 'client-new-error', null, 'Register client');
  await page.getByLabel('Client name').fill('Acme Portal');
  await page.getByLabel('Client type').selectOption('confidential');
  await page.getByLabel('Redirect URIs', { exact: true }).fill('https://portal.example/cb\nhttps://portal.example/cb2');
  await page.getByRole('button', { name: 'Register client' }).click();
  await page.locator('#secret').waitFor();
  await step(page, 'client-registered', null, 'Client registered');
  await page.getByRole('link', { name: 'Go to client' }).click();
  await step(page, 'client', null, 'Acme Portal');
  await page.getByRole('button', { name: 'Disable client' }).click();
  await page.getByRole('button', { name: 'Enable client' }).waitFor();
  await step(page, 'client-disabled', null, 'Acme Portal');
  await page.getByRole('button', { name: 'Rotate secret' }).click();
  await page.locator('#secret').waitFor();
  await step(page, 'client-secret', null, 'New client secret');
  await nav(page, 'Clients');
  await step(page, 'clients', null, 'Clients');
  await page.locator('a.client-name', { hasText: 'Acme Portal' }).click();
  await page.getByRole('link', { name: 'Delete client' }).click();
  await step(page, 'client-delete', null, 'Delete client');
  await page.getByRole('button', { name: 'Delete client' }).click();
  await heading(page, 'Clients').waitFor();

}

try {
  if (cfg.set === 'platform') await platform();
  else if (cfg.set === 'tenant') await tenant();
  else fail(`unknown set ${cfg.set}`);
} catch (e) {
  console.error(`console pages (${cfg.set}): ${e.stack || e}`);
  checker.report();
  await browser.close();
  process.exit(1);
}
await browser.close();
if (!checker.report()) process.exit(1);
console.log(`console pages (${cfg.set}): ok`);
