// Self-registration in headless Chromium (issue 13), the way a person would: a tenant that
// takes no sign-ups offers none (no link on the login page, the page says it is closed); an
// open one links to the form from its login page; sign up, find that signing in does not work
// yet, open the link from the mail (the test driver reads it from the outbox and answers on
// stdin), confirm, sign in. Every page gets screenshots (light/dark, 1280/390 px) and axe.
// Usage: node register.mjs BASE_URL OPEN_TENANT CLOSED_TENANT EMAIL PASSWORD SCREENSHOT_DIR
import { createInterface } from 'node:readline';
import { Checker, fail, heading, launch, openPage } from './console_lib.mjs';

const [base, open, closed, email, password, shots] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin });
const input = lines[Symbol.asyncIterator]();
// Asks the driver (one line out, one line back); stdin is let go at once, so the script can
// end without the driver closing it.
async function ask(question) {
  console.log(question);
  const { value } = await input.next();
  lines.close();
  return (value || '').trim();
}

const browser = await launch();
const checker = new Checker(shots, { prefix: 'register-' });
try {
  const page = await openPage(browser);

  // Closed: no offer, and the page itself is a 404 that says so.
  await page.goto(`${base}/t/${closed}/login`);
  if (await page.getByRole('link', { name: 'Create an account' }).count()) fail('a closed tenant offers sign-up');
  const res = await page.goto(`${base}/t/${closed}/register`);
  if (res.status() !== 404) fail(`closed register page answered ${res.status()}`);
  await heading(page, 'Registration is closed').waitFor();
  await checker.check(page, 'closed');

  // Open: from the login page to the form.
  await page.goto(`${base}/t/${open}/login`);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await heading(page, 'Create an account').waitFor();
  await checker.check(page, 'form');
  // A mistake first: the two passwords differ; the form says which field.
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Password again').fill(`${password}-typo`);
  await page.getByRole('button', { name: 'Create account' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  if (!(await alert.textContent()).includes('do not match')) fail('no visible mismatch message');
  await checker.check(page, 'form-error');
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Password again').fill(password);
  await page.getByLabel('Your name (optional)').fill('Rita Register');
  await page.getByRole('button', { name: 'Create account' }).click();
  await heading(page, 'Check your inbox').waitFor();
  await checker.check(page, 'sent');

  // Not before the address is proven.
  await page.goto(`${base}/t/${open}/login`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  if (!(await page.getByRole('alert').textContent()).includes('incorrect')) fail('signed in before verification');

  // The mail's link: a Confirm button (the GET changes nothing), then the account works.
  const link = await ask(`need-link ${email}`);
  if (!link.startsWith('http')) fail(`no link from the driver: ${link}`);
  await page.goto(link);
  await heading(page, 'Confirm your email address').waitFor();
  await checker.check(page, 'confirm');
  await page.getByRole('button', { name: 'Confirm my address' }).click();
  await heading(page, 'Address confirmed').waitFor();
  await checker.check(page, 'confirmed');
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('text=You are signed in as');
  await page.screenshot({ path: `${shots}/register-signed-in.png`, fullPage: true });
  if (!checker.report()) fail('accessibility/layout problems');
  console.log('browser registration: ok');
} catch (e) {
  fail(`browser registration failed: ${e}`);
}
await browser.close();
