// Logs in through OpenTrusty's real login page in headless Chromium, the way a person would:
// open the page, type email and password, press the button, land where return_to pointed.
// Usage: node login.mjs BASE_URL TENANT EMAIL PASSWORD SCREENSHOT_DIR
import { chromium } from 'playwright-core';

const [base, tenant, email, password, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const fail = async (msg) => { console.error(msg); await browser.close(); process.exit(1); };
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${base}/t/${tenant}/login`);
  await page.screenshot({ path: `${shots}/login.png`, fullPage: true });
  if (!(await page.getByRole('heading', { name: 'Sign in' }).isVisible())) await fail('no Sign in heading');
  // Labels are wired to inputs: find the fields by their accessible names.
  await page.getByLabel('Email address').fill('nobody@example.com');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  if (!(await alert.textContent()).includes('incorrect')) await fail('no visible error message');
  await page.screenshot({ path: `${shots}/login-error.png`, fullPage: true });
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('text=You are signed in as');
  await page.screenshot({ path: `${shots}/signed-in.png`, fullPage: true });
  // Stylesheet loaded under the CSP (no inline styles): the button is styled.
  const bg = await page.getByRole('button', { name: 'Sign in' }).evaluate((b) => getComputedStyle(b).backgroundColor);
  if (bg === 'rgba(0, 0, 0, 0)') await fail('stylesheet not applied');
  if (errors.some((e) => /Content Security Policy/.test(e))) await fail(`CSP violations: ${errors}`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForSelector('text=You are signed out');
  console.log('browser login: ok');
} catch (e) {
  await fail(`browser login failed: ${e}`);
}
await browser.close();
