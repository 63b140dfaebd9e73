// Forgot password and invitation in headless Chromium, with the mail read from the SMTP sink
// (issue 13): signed in in one browser, the person asks for a link in another, opens it from
// the mail, chooses a new password; the first browser's session is gone; the person signs in
// with the new password. Then an invited person sets a password from the invitation mail and
// signs in. Every page: axe-core in light and dark, screenshots at 1280 and 390 px
// (console_lib's Checker). Usage: node reset.mjs '<json config>'
// config: { base, shots, mails (the sink's directory), alice: [email, password], newpw, bob }
import { readdirSync, readFileSync } from 'node:fs';
import { Checker, heading, launch, openPage } from './console_lib.mjs';

const cfg = JSON.parse(process.argv[2]);
const [alice, oldpw] = cfg.alice;
const browser = await launch();
const check = new Checker(cfg.shots, { prefix: 'reset-' });
const fail = async (msg) => { console.error(msg); await browser.close(); process.exit(1); };

// The newest link containing `needle` in a mail to `to`, as the sink wrote it (one JSON file
// per message, with the decoded text part): polled for up to 15 s.
async function mailLink(to, needle, skip = []) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    let names = [];
    try { names = readdirSync(cfg.mails).filter((n) => n.endsWith('.json')).sort(); } catch {}
    for (const n of names.reverse()) {
      const m = JSON.parse(readFileSync(`${cfg.mails}/${n}`, 'utf8'));
      if (!(m.rcpt_to || []).includes(to)) continue;
      const link = (m.text || '').split(/\s+/).find((w) => w.startsWith('http') && w.includes(needle));
      if (link && !skip.includes(link)) return link;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail to ${to} with ${needle} in ${cfg.mails}`);
}

async function signIn(page, email, password) {
  if (email !== null) await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('You are signed in as').waitFor();
}

try {
  // Browser 1: signed in with the old password.
  const old = await openPage(browser);
  await old.goto(`${cfg.base}/t/acme/login`);
  await signIn(old, alice, oldpw);

  // Browser 2: the login page's link, the form, the neutral answer.
  const page = await openPage(browser);
  await page.goto(`${cfg.base}/t/acme/login`);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await heading(page, 'Forgot your password?').waitFor();
  await check.check(page, 'forgot');
  await page.getByLabel('Email address').fill(alice);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await heading(page, 'Check your mail').waitFor();
  await check.check(page, 'sent');

  // The mail's link, the new password twice.
  const link = await mailLink(alice, '/password/reset/');
  await page.goto(link);
  await heading(page, 'Choose a new password').waitFor();
  await check.check(page, 'choose');
  await page.getByLabel('New password', { exact: true }).fill(cfg.newpw);
  await page.getByLabel('New password again').fill(cfg.newpw);
  await page.getByRole('button', { name: 'Change password' }).click();
  await heading(page, 'Your password was changed').waitFor();
  await check.check(page, 'changed');

  // The old session is gone.
  await old.goto(`${cfg.base}/t/acme/login`);
  await heading(old, 'Sign in').waitFor();
  if (await old.getByText('You are signed in as').count()) await fail('the old session survived the reset');

  // Sign in with the new password (the address is filled in from the link's page).
  await page.getByRole('link', { name: 'Sign in' }).click();
  await heading(page, 'Sign in').waitFor();
  if ((await page.getByLabel('Email address').inputValue()) !== alice) await fail('no login_hint');
  await signIn(page, null, cfg.newpw);

  // The used link says so.
  await old.goto(link);
  await heading(old, 'This link is no longer valid').waitFor();
  await check.check(old, 'used-link');
  console.log('reset: ok');

  // The invitation (sent by the operator before this script started).
  const invited = await openPage(browser);
  const invite = await mailLink(cfg.bob, '/invite/');
  await invited.goto(invite);
  await heading(invited, 'Welcome').waitFor();
  await check.check(invited, 'invite');
  await invited.getByLabel('New password', { exact: true }).fill(cfg.newpw);
  await invited.getByLabel('New password again').fill(cfg.newpw);
  await invited.getByRole('button', { name: 'Set password' }).click();
  await heading(invited, 'Your password is set').waitFor();
  await check.check(invited, 'invite-done');
  await invited.getByRole('link', { name: 'Sign in' }).click();
  await signIn(invited, null, cfg.newpw);
  console.log('invitation: ok');
} catch (e) {
  await fail(`reset journey failed: ${e}`);
}
const clean = check.report();
await browser.close();
if (!clean) process.exit(1);
console.log('reset journey: ok');
