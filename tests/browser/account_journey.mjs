// The account page's self-service sections (issue 13) in headless Chromium: alice signs in at
// acme in two browsers (the second with JavaScript off: the pages need none; the first with
// it on, for axe-core); in the first she edits her
// profile (a refused language first), ends the other browser's session from the Sessions
// section, signs the other browser in again and changes her password (a wrong current one
// first), which signs the other browser out while this one stays in. Every page gets the
// console checks (axe-core in light and dark, screenshots at 1280 and 390 px, no sideways
// scrolling) and each section of the overview a screenshot of its own.
// Usage: node account_journey.mjs '{"base": URL, "shots": DIR, "email": E, "password": P, "new_password": N}'
// Prints `account journey: ok`.
import { launch, openPage, heading, Checker, fail } from './console_lib.mjs';

const cfg = JSON.parse(process.argv[2]);
const { base } = cfg;
const account = `${base}/t/acme/account`;
const check = new Checker(cfg.shots, { prefix: 'account-' });
const expect = (cond, what) => { if (!cond) throw new Error(what); };

// From any account page without a session: the login page, then back where it started.
async function signIn(page, password) {
  await page.goto(account);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email address').fill(cfg.email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await heading(page, 'Your account').waitFor();
}

const notice = async (page, text) => {
  const n = page.getByRole('status');
  await n.waitFor();
  expect((await n.textContent()).includes(text), `notice "${text}", got "${await n.textContent()}"`);
};

const browser = await launch();
try {
  const other = await openPage(browser, { js: false });
  await signIn(other, cfg.password);
  const page = await openPage(browser);
  await signIn(page, cfg.password);
  const sessions = page.locator('#sessions li');
  expect((await sessions.count()) === 2, `two sessions listed, got ${await sessions.count()}`);
  expect((await page.locator('#sessions .badge').count()) === 1, 'this browser marked once');
  await check.check(page, 'overview');

  // The profile: a language that is no language tag is refused, naming the field.
  await page.getByRole('link', { name: 'Edit profile' }).click();
  await heading(page, 'Your profile').waitFor();
  await check.check(page, 'profile');
  await page.getByLabel('Display name').fill('Ada Lovelace');
  await page.getByLabel('Given name').fill('Ada');
  await page.getByLabel('Family name').fill('Lovelace');
  await page.getByLabel('Language').fill('english please');
  await page.getByLabel('Time zone').fill('Europe/London');
  await page.getByRole('button', { name: 'Save profile' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  expect((await alert.textContent()).startsWith('locale must be'), 'the error names the field');
  expect((await page.getByLabel('Language').getAttribute('aria-invalid')) === 'true', 'the field is marked');
  await check.check(page, 'profile-error');
  await page.getByLabel('Language').fill('en-GB');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await heading(page, 'Your account').waitFor();
  await notice(page, 'Your profile was saved.');
  expect((await page.locator('#profile').textContent()).includes('Ada Lovelace'), 'the name shows');

  // Sessions: End the other browser's; it is signed out.
  await page.locator('#sessions').getByRole('button', { name: /^End the session of / }).click();
  await notice(page, 'The session was ended.');
  expect((await sessions.count()) === 1, 'one session left');
  await other.goto(account);
  await other.getByRole('heading', { name: 'Sign in' }).waitFor();

  // The password: the other browser signs in again; a wrong current password is refused.
  await signIn(other, cfg.password);
  await page.goto(account);
  expect((await sessions.count()) === 2, 'two sessions again');
  for (const id of ['profile', 'password', 'sessions', 'apps']) {
    await page.locator(`#${id}`).screenshot({ path: `${cfg.shots}/account-section-${id}.png` });
  }
  await page.getByRole('link', { name: 'Change password' }).click();
  await heading(page, 'Change your password').waitFor();
  await check.check(page, 'password');
  const fill = async (current) => {
    await page.getByLabel('Current password').fill(current);
    await page.getByLabel('New password', { exact: true }).fill(cfg.new_password);
    await page.getByLabel('New password again').fill(cfg.new_password);
    await page.getByRole('button', { name: 'Change password' }).click();
  };
  await fill('not my password');
  await page.getByRole('alert').waitFor();
  expect((await page.getByRole('alert').textContent()).startsWith('Current password:'), 'wrong current refused');
  await check.check(page, 'password-error');
  await fill(cfg.password);
  await heading(page, 'Your account').waitFor();
  await notice(page, 'Your password was changed.');
  expect((await sessions.count()) === 1, 'only this browser is left');
  await check.check(page, 'after-password');
  // The other browser is out, and only the new password signs it in.
  await other.goto(account);
  await other.getByRole('heading', { name: 'Sign in' }).waitFor();
  await signIn(other, cfg.new_password);
} catch (e) {
  fail(`account journey failed: ${e.stack || e}`);
}
await browser.close();
if (!check.report()) fail('account journey: accessibility/layout problems');
console.log('account journey: ok');
