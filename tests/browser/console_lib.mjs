// Shared by the console's browser tests (console_pages.mjs, console_journey.mjs): Chromium
// start, signing in on the tenant's real login page, and the per-page checks every console
// page gets — axe-core (no serious or critical violation) in light and dark, screenshots at
// 1280 and 390 px in both schemes, and no horizontal scrolling at 390 px outside `.scroll`.
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const WIDE = { width: 1280, height: 900 };
export const NARROW = { width: 390, height: 844 };

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A page in a fresh context (own cookies). `js: false` is a browser with JavaScript off.
export async function openPage(browser, { js = true, clipboard = false } = {}) {
  const context = await browser.newContext({ javaScriptEnabled: js, viewport: WIDE });
  if (clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  // A missing label or button fails in seconds rather than the default 30.
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.cspErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/.test(m.text())) page.cspErrors.push(m.text());
  });
  // A confirm dialog (form[data-confirm], with JavaScript on) is accepted like a person would.
  page.on('dialog', (d) => { page.lastDialog = d.message(); d.accept(); });
  return page;
}

// On the tenant's login page (where the console sends a browser without a session): sign in
// and wait for the console page the sign-in returns to.
export async function signIn(page, email, password) {
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Through the callback and its "Signed in" continue page to the console.
  await page.waitForURL((u) => u.pathname.startsWith('/console/t/') && !u.pathname.endsWith('/callback'));
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export function heading(page, name) {
  return page.getByRole('heading', { level: 1, name, exact: true });
}

// Collects every page's findings; `report()` prints them and says whether all passed.
export class Checker {
  constructor(dir, { axe = true, prefix = '' } = {}) {
    this.dir = dir;
    this.axe = axe;
    this.prefix = prefix;
    this.problems = [];
    this.pages = [];
    mkdirSync(dir, { recursive: true });
  }

  // Everything the issue asks of a console page, without reloading it (some pages — a secret
  // shown once — are the answer to a POST): for each colour scheme and width, a screenshot;
  // axe in both schemes (contrast differs) and at both widths; the 390 px scroll check.
  async check(page, name) {
    const label = this.prefix + name;
    const started = Date.now();
    // Finding -> the variants (scheme-width) it was seen in.
    const found = new Map();
    const note = (what, variant) => found.set(what, [...(found.get(what) || []), variant]);
    const h1 = await page.locator('h1').count();
    if (h1 !== 1) note(`${h1} <h1> elements (want exactly one)`, 'html');
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const size of [WIDE, NARROW]) {
        const variant = `${scheme}-${size.width}`;
        await page.setViewportSize(size);
        await page.screenshot({ path: `${this.dir}/${label}-${variant}.png`, fullPage: true });
        // axe where it can see something new: light at 1280 px, dark at 390 px (each scheme's
        // contrast, each width's layout — a table scrolling in its wrapper shows only at 390).
        if (this.axe && (variant === 'light-1280' || variant === 'dark-390')) {
          for (const v of await axe(page)) note(`axe ${v.impact} ${v.id} (${v.help}) at ${v.targets.join(' | ')}`, variant);
        }
        if (size === NARROW) {
          const wide = await overflow(page, NARROW.width);
          if (wide) note(`scrolls sideways at 390 px (${wide})`, variant);
        }
      }
    }
    await page.setViewportSize(WIDE);
    await page.emulateMedia({ colorScheme: 'light' });
    if (page.cspErrors.length) note(`CSP violations: ${page.cspErrors.splice(0).join('; ')}`, 'console');
    this.pages.push(label);
    const ms = Date.now() - started;
    console.log(`page ${label}: ${found.size ? `${found.size} problem(s)` : 'ok'} in ${ms} ms (${new URL(page.url()).pathname})`);
    for (const [what, where] of found) this.problems.push(`${label}: ${what} [${where.join(', ')}]`);
  }

  report() {
    console.log(`pages checked: ${this.pages.length} (${this.pages.join(', ')})`);
    if (this.problems.length) {
      console.error(`accessibility/layout problems:\n  ${this.problems.join('\n  ')}`);
      return false;
    }
    return true;
  }
}

// axe-core in the page (evaluated through the DevTools protocol, so the page's CSP, which
// allows no inline script, is left as it is). Only serious and critical violations count.
async function axe(page) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(AXE);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
  return res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

// Whether the document is wider than the viewport; names the widest culprits (elements
// reaching past the edge that are not inside a `.scroll` wrapper, which may scroll).
async function overflow(page, width) {
  return page.evaluate((w) => {
    if (document.scrollingElement.scrollWidth <= w) return null;
    const out = [];
    for (const el of document.body.querySelectorAll('*')) {
      // Inside a wrapper that scrolls, only what escapes it (positioned out of its flow) counts.
      const pos = getComputedStyle(el).position;
      if (el.parentElement.closest('.scroll') && pos !== 'absolute' && pos !== 'fixed') continue;
      const r = el.getBoundingClientRect();
      if (r.right > w + 0.5) {
        out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className ? '.' + String(el.className).replace(/ /g, '.') : ''} right=${Math.round(r.right)}`);
      }
    }
    return `scrollWidth ${document.scrollingElement.scrollWidth}: ${out.slice(0, 6).join(', ')}`;
  }, width);
}

export function fail(msg) {
  console.error(msg);
  process.exit(1);
}
