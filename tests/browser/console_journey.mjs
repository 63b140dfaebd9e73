// The console journey of issue 11 in headless Chromium, with JavaScript on or off: the
// platform owner signs in, creates tenant acme and an owner for it; that owner signs in at
// acme, creates a user and a confidential client (copying its secret off the page); a
// third-party relying party (authlib, tests/e2e/authlib_rp.py) signs the user in with that
// client; the owner finds the sign-in on the dashboard and in the audit page, disables the
// user, and the user's next sign-in through the relying party fails.
// Usage: node console_journey.mjs '{"base": URL, "shots": DIR, "js": BOOL, "root": [EMAIL, PW],
//   "rp": PATH_TO_authlib_rp.py}'
// Prints `client: ID`, `user: ID` and `journey: ok`.
import { execFileSync } from 'node:child_process';
import { launch, openPage, signIn, heading, fail } from './console_lib.mjs';

const cfg = JSON.parse(process.argv[2]);
const { base, js } = cfg;
const mode = js ? 'js' : 'nojs';
const OWNER = ['owner@acme.example', 'owner-password-1234'];
const USER = ['user@acme.example', 'user-password-1234'];
const CB = 'https://rp.example/cb';
let shot = 0;
// A screenshot per step (light, 1280 px): the journey as it looked, in order.
const snap = async (page, what) => {
  shot += 1;
  await page.screenshot({ path: `${cfg.shots}/journey-${mode}-${String(shot).padStart(2, '0')}-${what}.png`, fullPage: true });
};
const expect = async (cond, what) => { if (!(await cond)) throw new Error(what); };

// The relying party's sign-in (OT_MODE login or refused); its output, or the failure.
function relyingParty(mode, client) {
  try {
    return execFileSync('python3', [cfg.rp], {
      encoding: 'utf8',
      env: {
        ...process.env,
        OT_MODE: mode,
        OT_BASE: base,
        OT_ISSUER: `${base}/t/acme`,
        OT_REDIRECT_URI: CB,
        OT_CLIENT_ID: client.id,
        OT_CLIENT_SECRET: client.secret,
        OT_EMAIL: USER[0],
        OT_PASSWORD: USER[1],
        // authlib refuses plain-http token endpoints unless told this is a test.
        AUTHLIB_INSECURE_TRANSPORT: '1',
      },
    });
  } catch (e) {
    throw new Error(`relying party (${mode}) failed: ${e.stdout}\n${e.stderr}`);
  }
}

// The rows of the table on the page that mention all of `texts`.
const rows = (page, ...texts) => texts.reduce((l, t) => l.filter({ hasText: t }), page.locator('tbody tr'));

const browser = await launch();
try {
  // 1. The platform owner signs in at /console/ and creates tenant acme.
  const root = await openPage(browser, { js });
  await root.goto(`${base}/console/`);
  await signIn(root, ...cfg.root);
  await heading(root, 'Dashboard').waitFor();
  await root.getByRole('navigation').getByRole('link', { name: 'Tenants' }).click();
  await heading(root, 'Tenants').waitFor();
  await root.getByLabel('Slug').fill('acme');
  await root.getByLabel('Display name').fill('ACME Corp');
  await root.getByRole('button', { name: 'Create tenant' }).click();
  await rows(root, 'acme', 'ACME Corp', 'active').waitFor();
  await snap(root, 'tenant-created');

  // ... and gives a new user of acme the owner role (from acme's own users page).
  await root.goto(`${base}/console/t/acme/users`);
  await root.getByRole('link', { name: 'Create user' }).click();
  await heading(root, 'Create user').waitFor();
  await root.getByLabel('Email').fill(OWNER[0]);
  await root.getByLabel('Password').fill(OWNER[1]);
  await root.getByLabel('Name', { exact: true }).fill('Olivia Owner');
  await root.getByLabel('Role').selectOption('owner');
  await snap(root, 'owner-form');
  await root.getByRole('button', { name: 'Create user' }).click();
  await heading(root, OWNER[0]).waitFor();
  await snap(root, 'owner-created');

  // 2. That owner signs in at /console/t/acme/ (a browser of her own).
  const owner = await openPage(browser, { js, clipboard: js });
  await owner.goto(`${base}/console/t/acme/`);
  await signIn(owner, ...OWNER);
  await heading(owner, 'Dashboard').waitFor();
  await expect(owner.getByRole('banner').getByText('owner', { exact: true }).isVisible(), 'the header shows the owner role');

  // She creates a user ...
  await owner.getByRole('navigation').getByRole('link', { name: 'Users' }).click();
  await owner.getByRole('link', { name: 'Create user' }).click();
  await heading(owner, 'Create user').waitFor();
  await owner.getByLabel('Email').fill(USER[0]);
  await owner.getByLabel('Password').fill(USER[1]);
  await owner.getByLabel('Name', { exact: true }).fill('Uma User');
  await owner.getByLabel('Role').selectOption({ label: 'No role' });
  await owner.getByRole('button', { name: 'Create user' }).click();
  await heading(owner, USER[0]).waitFor();
  const userId = new URL(owner.url()).pathname.split('/').pop();
  console.log(`user: ${userId}`);
  await snap(owner, 'user-created');

  // ... and registers a confidential client.
  await owner.getByRole('navigation').getByRole('link', { name: 'Clients' }).click();
  await heading(owner, 'Clients').waitFor();
  await owner.getByRole('link', { name: 'Register client' }).click();
  await heading(owner, 'Register client').waitFor();
  await owner.getByLabel('Client name').fill('Acme Portal');
  await owner.getByLabel('Client type').selectOption('confidential');
  await owner.getByLabel('Redirect URIs', { exact: true }).fill(CB);
  await owner.getByLabel('authorization_code').check();
  await owner.getByLabel('Scope', { exact: true }).fill('openid profile email');
  await owner.getByLabel('Token endpoint authentication method').selectOption('client_secret_basic');
  await snap(owner, 'client-form');
  await owner.getByRole('button', { name: 'Register client' }).click();
  await heading(owner, 'Client registered').waitFor();
  await snap(owner, 'client-registered');
  const clientId = (await owner.locator('#client-id').textContent()).trim();
  const shown = (await owner.locator('#secret').textContent()).trim();
  let secret;
  // (The copy button next to the secret: the client id has one too.)
  const copy = owner.locator('#secret + button.copy');
  if (js) {
    // The copy button (console.js) puts the secret on the clipboard; paste it from there.
    await copy.click();
    secret = await owner.evaluate(() => navigator.clipboard.readText());
    if (secret !== shown) throw new Error(`the clipboard holds ${JSON.stringify(secret)}, the page shows ${JSON.stringify(shown)}`);
  } else {
    // Without JavaScript there is no copy button: the secret is read off the page.
    await expect(copy.isHidden(), 'the copy button is hidden without JavaScript');
    secret = shown;
  }
  if (!clientId || secret.length < 20) throw new Error(`client id ${clientId}, secret of ${secret.length} characters`);
  console.log(`client: ${clientId}`);

  // 3. A third-party relying party signs the user in with that client (the dashboard's
  // sign-in chart counts logins: one more afterwards).
  await owner.getByRole('navigation').getByRole('link', { name: 'Dashboard' }).click();
  const logins = async () => Number(await owner.locator('#total-logins').textContent());
  const before = await logins();
  const rp = relyingParty('login', { id: clientId, secret });
  if (!rp.includes('authlib relying party: signed in')) throw new Error(`relying party: ${rp}`);

  // 4. The owner sees the sign-in on the dashboard and in the audit page.
  await owner.getByRole('navigation').getByRole('link', { name: 'Dashboard' }).click();
  await heading(owner, 'Dashboard').waitFor();
  await rows(owner, 'login.succeeded', `user:${userId}`).first().waitFor();
  if ((await logins()) !== before + 1) throw new Error(`the chart's logins went from ${before} to ${await logins()}`);
  await snap(owner, 'dashboard-login');
  await owner.getByRole('navigation').getByRole('link', { name: 'Audit' }).click();
  await heading(owner, 'Audit').waitFor();
  await owner.getByLabel('Type').fill('login.succeeded');
  await owner.getByRole('button', { name: 'Filter' }).click();
  await rows(owner, 'login.succeeded', `user:${userId}`).first().waitFor();
  await snap(owner, 'audit-login');

  // 5. She disables the user ...
  await owner.getByRole('navigation').getByRole('link', { name: 'Users' }).click();
  await owner.locator('a.user-email', { hasText: USER[0] }).click();
  await heading(owner, USER[0]).waitFor();
  await owner.getByRole('button', { name: 'Disable user' }).click();
  await owner.getByRole('button', { name: 'Enable user' }).waitFor();
  await snap(owner, 'user-disabled');

  // ... and the user's next sign-in fails.
  const refused = relyingParty('refused', { id: clientId, secret });
  if (!refused.includes('authlib relying party: login refused')) throw new Error(`relying party: ${refused}`);
  await owner.getByRole('navigation').getByRole('link', { name: 'Audit' }).click();
  await owner.getByLabel('Type').fill('login.failed');
  await owner.getByRole('button', { name: 'Filter' }).click();
  await rows(owner, 'login.failed', `user:${userId}`).first().waitFor();
  await snap(owner, 'audit-refused');

  for (const p of [root, owner]) {
    if (p.cspErrors.length) throw new Error(`CSP violations: ${p.cspErrors.join('; ')}`);
  }
  console.log(`journey (${mode}): ok`);
} catch (e) {
  await browser.close();
  fail(`journey (${mode}) failed: ${e.stack || e}`);
}
await browser.close();
