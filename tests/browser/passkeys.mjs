// Passkeys in a real browser (issue 12): headless Chromium with a virtual WebAuthn
// authenticator (the DevTools `WebAuthn` domain over CDP: CTAP2, internal transport, resident
// keys, user verification). A person adds a passkey on the account page, signs out, signs in
// with the passkey alone through a relying party's /authorize, once with password + recovery
// code, then with password + passkey as the second step (told about that recovery code first),
// and removes it. Every page met gets console_lib's checks (axe, screenshots
// light/dark at 1280 and 390 px, no sideways scrolling, no CSP violation), and so do the
// existing account and second-step pages of a TOTP user. With JavaScript off the passkey
// button does not appear and the password still signs in.
// Usage: node passkeys.mjs '{"base": "http://localhost:PORT", "shots": DIR, "email", "password",
//   "totpEmail", "authorize": PATH, "redirect": URL_PREFIX, "db"?: SQLITE_FILE, "fixture"?: FILE}'
// Prints `passkey-only: URL`, `second-factor: URL` (where the RP was reached) and `passkeys: ok`.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { launch, openPage, Checker, heading, fail } from './console_lib.mjs';

const cfg = JSON.parse(process.argv[2]);
const browser = await launch();
const checker = new Checker(cfg.shots);
const account = `${cfg.base}/t/acme/account`;

// page.goto, again when the failed navigation to the (non-existent) relying party's
// redirect URI lands on Chromium's error page meanwhile and interrupts it.
async function go(page, url) {
  for (let i = 0; ; i++) {
    // Let the error page's own navigation settle first, then try; on a slow machine it can
    // still cut in, so wait a little longer each time.
    await page.waitForLoadState('load').catch(() => {});
    try {
      return await page.goto(url);
    } catch (e) {
      if (i >= 10 || !/interrupted by another navigation/.test(String(e))) throw e;
      await page.waitForTimeout(200 * (i + 1));
    }
  }
}

async function signInWithPassword(page, email) {
  await heading(page, 'Sign in').waitFor();
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(cfg.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

// One captured ceremony for the bench and the Rust tests (only when asked): the stored state,
// the browser's answer and the stored credential, read while the ceremony is pending.
function capture(route) {
  const sql = (q) => execFileSync('sqlite3', [cfg.db, q]).toString().trim();
  const state = sql("SELECT state FROM webauthn_ceremonies WHERE purpose = 'signin'");
  const credential = sql("SELECT credential FROM mfa_factors WHERE kind = 'webauthn'");
  writeFileSync(cfg.fixture, JSON.stringify({
    origin: cfg.base,
    state: JSON.parse(state),
    response: route.request().postDataJSON().credential,
    credential: JSON.parse(credential),
  }, null, 1) + '\n');
}

try {
  // JavaScript off: no passkey button, the password form works as before.
  const plain = await openPage(browser, { js: false });
  await plain.goto(`${cfg.base}/t/acme/login`);
  await heading(plain, 'Sign in').waitFor();
  if (await plain.getByRole('button', { name: 'Sign in with a passkey' }).isVisible()) {
    fail('the passkey button shows without JavaScript');
  }
  await signInWithPassword(plain, cfg.email);
  await plain.getByText('You are signed in as').waitFor();
  await plain.context().close();

  const page = await openPage(browser);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  // The relying party does not exist: its redirect URI is reached by a redirect, which
  // page.route does not see, so the request itself is what counts (its DNS lookup fails).
  const toRelyingParty = () => page.waitForRequest((r) => r.url().startsWith(cfg.redirect));

  // The login page offers a passkey; sign in with the password to add one.
  await page.goto(`${cfg.base}/t/acme/login`);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
  await checker.check(page, 'login-passkey');
  await signInWithPassword(page, cfg.email);
  await page.getByText('You are signed in as').waitFor();

  await page.goto(account);
  await heading(page, 'Your account').waitFor();
  await page.getByRole('button', { name: 'Add a passkey' }).waitFor();
  await checker.check(page, 'account-empty');
  await page.goto(`${account}/totp`);
  await heading(page, 'Add an authenticator app').waitFor();
  await checker.check(page, 'account-totp');

  await page.goto(account);
  await page.getByLabel('Name of the passkey').fill('Laptop');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.waitForURL(/notice=passkey-first/);
  if (!(await page.locator('#factors').textContent()).includes('Laptop')) fail('the passkey is not listed');
  await checker.check(page, 'account-passkey-added');
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  if (credentials.length !== 1 || !credentials[0].isResidentCredential) {
    fail(`want one discoverable credential, got ${JSON.stringify(credentials)}`);
  }

  // The recovery codes the page offers after a first factor.
  await page.getByRole('button', { name: 'Create new recovery codes' }).click();
  await heading(page, 'Recovery codes').waitFor();
  await checker.check(page, 'recovery-codes');
  const recoveryCode = (await page.locator('#recovery-codes code').first().textContent()).trim();
  await page.getByRole('link', { name: 'Continue' }).click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByText('You are signed out').waitFor();

  // The passkey alone, through the relying party's authorization request.
  if (cfg.fixture) {
    await page.route('**/t/acme/login/passkey', (route) => { capture(route); return route.continue(); });
  }
  await page.goto(cfg.base + cfg.authorize);
  let reached = toRelyingParty();
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  console.log(`passkey-only: ${(await reached).url()}`);
  if (cfg.fixture) await page.unroute('**/t/acme/login/passkey');

  // Signed out again: the password and a recovery code (the device is "lost"); the page says
  // the code is spent.
  const signOut = async () => {
    await go(page, `${cfg.base}/t/acme/login`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out').waitFor();
  };
  await signOut();
  await page.goto(`${cfg.base}/t/acme/login`);
  await signInWithPassword(page, cfg.email);
  await heading(page, 'Second step').waitFor();
  await page.getByRole('textbox', { name: 'Recovery code' }).fill(recoveryCode);
  await page.getByRole('button', { name: 'Use recovery code' }).click();
  await page.getByText('You signed in with a recovery code').waitFor();

  // Signed out again, then the password and the passkey as its second step: before going on,
  // the passkey sign-in is told about the recovery code used earlier (once).
  await signOut();
  await page.goto(cfg.base + cfg.authorize);
  await signInWithPassword(page, cfg.email);
  await heading(page, 'Second step').waitFor();
  await page.getByRole('button', { name: 'Use a passkey' }).waitFor();
  await checker.check(page, 'factor-passkey');
  await page.getByRole('button', { name: 'Use a passkey' }).click();
  await page.getByText('A recovery code was used to sign in to your account').waitFor();
  await checker.check(page, 'factor-notice');
  reached = toRelyingParty();
  await page.getByRole('link', { name: 'Continue' }).click();
  console.log(`second-factor: ${(await reached).url()}`);

  // Removed (the sign-in is fresh), like an authenticator app.
  await go(page, account);
  await page.getByRole('button', { name: 'Remove Laptop' }).click();
  await page.waitForURL(/notice=removed/);
  await heading(page, 'Your account').waitFor();
  if (await page.locator('#factors').count()) fail('the passkey is still listed');
  await checker.check(page, 'account-passkey-removed');
  await page.context().close();

  // The second step of a user with an authenticator app only (no passkey block), and its error.
  const totp = await openPage(browser);
  await totp.goto(account);
  await signInWithPassword(totp, cfg.totpEmail);
  await heading(totp, 'Second step').waitFor();
  if (await totp.locator('[data-passkey]').count()) fail('a passkey block for a user without passkeys');
  await checker.check(totp, 'factor-totp');
  await totp.getByLabel('Code from your authenticator app').fill('000000');
  await totp.getByRole('button', { name: 'Verify' }).click();
  await totp.getByRole('alert').waitFor();
  await checker.check(totp, 'factor-totp-error');
  await totp.context().close();

  if (!checker.report()) fail('passkey pages have problems');
  console.log('passkeys: ok');
} catch (e) {
  fail(`passkeys in a browser failed: ${e}\n${e.stack}`);
}
await browser.close();
