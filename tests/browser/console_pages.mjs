// Every console page in headless Chromium: axe-core (no serious or critical violation), light
// and dark screenshots at 1280 and 390 px (target/test-artifacts/console/), no sideways
// scrolling at 390 px outside table wrappers, no CSP violation. Pages with an error shown in
// them (a rejected form, a bad filter) are checked too: that is where aria-invalid and alerts live.
// Usage: node console_pages.mjs '{"base": URL, "shots": DIR, "root": [EMAIL, PW], "norole": [EMAIL, PW]}'
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
try {
  const page = await openPage(browser);
  // The sign-in's "Signed in" page (a refresh to the console, gone in an instant): kept as it
  // came, to be shown again below without its refresh.
  let signedIn = null;
  // (page.route sees no request reached through a redirect, as the callback is: the
  // DevTools protocol's Fetch domain does.)
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
  await step(page, 'platform-users', '/console/t/platform/users', 'Users');
  await step(page, 'tenants', '/console/t/platform/tenants', 'Tenants');
  await page.getByLabel('Slug').fill('Not a slug!');
  await page.getByRole('button', { name: 'Create tenant' }).click();
  await page.locator('#slug-error').waitFor();
  await step(page, 'tenants-error', null, 'Tenants');
  await step(page, 'platform-audit', '/console/t/platform/audit', 'Audit');
  await step(page, 'audit-error', '/console/t/platform/audit?tenant=NO%20SUCH', 'Audit');
  if (!(await page.getByRole('alert').count())) fail('the audit filter error is not shown');
  await step(page, 'whoami', '/console/t/platform/whoami', 'Who am I');
  await step(page, 'acme-dashboard', '/console/t/acme/', 'Dashboard');
  await step(page, 'acme-users', '/console/t/acme/users', 'Users');
  await step(page, 'users-error', '/console/t/acme/users?limit=0', 'Users');
  await step(page, 'acme-audit', '/console/t/acme/audit', 'Audit');
  await step(page, 'keys', '/console/t/acme/keys', 'Signing keys');
  await page.getByRole('link', { name: 'Rotate keys' }).click();
  await step(page, 'keys-rotate', null, 'Rotate signing keys');
  await page.getByRole('button', { name: 'Rotate keys' }).click();
  await page.locator('.key-state', { hasText: 'next' }).first().waitFor();
  await step(page, 'keys-rotated', null, 'Signing keys');
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
  await heading(page, 'Signed out').waitFor();
  await step(page, 'signed-out', null, 'Signed out');

  // A user of the tenant without a console role: the refusal page.
  const other = await openPage(browser);
  await other.goto(`${base}/console/t/acme/`);
  await other.getByLabel('Email address').fill(cfg.norole[0]);
  await other.getByLabel('Password').fill(cfg.norole[1]);
  await other.getByRole('button', { name: 'Sign in' }).click();
  await step(other, 'no-access', null, 'No access to the console');
} catch (e) {
  console.error(`console pages: ${e}`);
  await browser.close();
  process.exit(1);
}
await browser.close();
if (!checker.report()) process.exit(1);
console.log('console pages: ok');
