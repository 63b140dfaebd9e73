// An OIDC authorization request in headless Chromium, the way a person meets it: the RP sends
// the browser to /authorize, the login page appears, the person signs in, sees the consent
// page, presses Allow, and the browser lands on the RP's redirect URI with a code.
// Usage: node authorize.mjs AUTHORIZE_URL REDIRECT_PREFIX EMAIL PASSWORD SCREENSHOT_DIR
// Prints the final redirect URL on success.
import { chromium } from 'playwright-core';

const [start, redirectPrefix, email, password, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const fail = async (msg) => { console.error(msg); await browser.close(); process.exit(1); };
try {
  const page = await browser.newPage();
  let landed = null;
  // The RP does not exist: answer its redirect URI here and remember where we landed.
  await page.route(`${redirectPrefix}**`, (route) => {
    landed = route.request().url();
    return route.fulfill({ status: 200, contentType: 'text/plain', body: 'relying party' });
  });
  await page.goto(start);
  if (!(await page.getByRole('heading', { name: 'Sign in' }).isVisible())) await fail('no login page');
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Allow' }).waitFor();
  await page.screenshot({ path: `${shots}/consent.png`, fullPage: true });
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${redirectPrefix}**`);
  if (!landed) await fail('never reached the redirect URI');
  console.log(`landed: ${landed}`);
} catch (e) {
  await fail(`browser authorize failed: ${e}`);
}
await browser.close();
