#!/usr/bin/env node
// Accessibility check of live Participe pages in Debian's headless Chromium.
//
//   node tests/browser/a11y.mjs pages.json
//
// pages.json: [{"name": "portal home", "url": "http://nord.localhost:18080/"},
//              {"name": "unknown portal", "url": "http://unknown.localhost:18080/", "status": 404},
//              {"name": "signed-in page", "url": "…", "cookies": [{"name": "…", "value": "…", "url": "…"}]}]
//
// Each page is opened at a phone viewport and at a desktop one; axe-core runs with the
// WCAG 2.0/2.1 A and AA rules, plus checks axe does not make: HTTP status, <html lang="fr">,
// exactly one <h1>, a working skip link, same-origin stylesheets/scripts/images that load,
// and a <main> that still renders with JavaScript disabled.
// Prints one line per page ("ok  name (phone, desktop)" or "FAIL name (...)" followed by
// one line per problem) and exits 1 if any page fails, 0 otherwise (2 on a usage or
// browser-launch error). scripts/install-test-deps installs what it needs.
//
// Environment: CHROMIUM (default /usr/bin/chromium), A11Y_TIMEOUT_MS (default 30000),
// A11Y_SHOW_INCOMPLETE=1 also prints axe's "needs review" results (they never fail a page),
// A11Y_SCREENSHOTS=<dir> writes a full-page screenshot of each page at each width
// (<dir>/<page name>-375.png, -1280.png), to be looked at.
//
// The HTML each page was served with also goes through the W3C Nu HTML Checker (npm
// vnu-jar, run with the machine's java): any error it reports fails the page. A11Y_NO_VNU=1
// skips that part.

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');
const VNU_JAR = process.env.A11Y_NO_VNU === '1' ? null : require.resolve('vnu-jar/build/dist/vnu.jar');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = Number(process.env.A11Y_TIMEOUT_MS || 30000);
const SHOW_INCOMPLETE = process.env.A11Y_SHOW_INCOMPLETE === '1';
const SCREENSHOTS = process.env.A11Y_SCREENSHOTS || '';

// Flags as listed in shared/TOOLING.md, plus loopback resolution of *.localhost.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP *.localhost 127.0.0.1',
];

const VIEWPORTS = [
  {
    label: 'phone',
    options: { viewport: { width: 375, height: 812 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true },
  },
  { label: 'desktop', options: { viewport: { width: 1280, height: 800 } } },
];

const AXE_OPTIONS = {
  runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  resultTypes: ['violations', 'incomplete'],
};

function usage(message) {
  if (message) console.error(`a11y: ${message}`);
  console.error('usage: node tests/browser/a11y.mjs <pages.json>');
  process.exit(2);
}

function loadPages(file) {
  let pages;
  try {
    pages = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    usage(`cannot read ${file}: ${e.message}`);
  }
  if (!Array.isArray(pages) || pages.length === 0) usage(`${file}: expected a non-empty JSON array`);
  for (const [i, p] of pages.entries()) {
    if (!p || typeof p.name !== 'string' || typeof p.url !== 'string') {
      usage(`${file}: entry ${i} needs string "name" and "url"`);
    }
    if (p.status !== undefined && !Number.isInteger(p.status)) usage(`${file}: entry ${i}: "status" must be an integer`);
  }
  return pages;
}

// A problem found on one page, merged across viewports by id.
class Findings {
  constructor() {
    this.byId = new Map();
  }
  add(viewport, { id, impact, help, targets = [] }) {
    let f = this.byId.get(id);
    if (!f) {
      f = { id, impact, help, targets: [], viewports: [] };
      this.byId.set(id, f);
    }
    if (!f.viewports.includes(viewport)) f.viewports.push(viewport);
    for (const t of targets) if (!f.targets.includes(t)) f.targets.push(t);
  }
  get size() {
    return this.byId.size;
  }
  lines(allViewports) {
    return [...this.byId.values()].map((f) => {
      const where =
        f.viewports.length === allViewports.length || f.id === 'error' ? '' : ` [${f.viewports.join(', ')} only]`;
      const shown = f.targets.slice(0, 3);
      const more = f.targets.length > 3 ? ` (+${f.targets.length - 3} more)` : '';
      const targets = shown.length ? `: ${shown.join(' | ')}${more}` : '';
      return `    ${f.id} (${f.impact}) ${f.help}${where}${targets}`;
    });
  }
}

function selector(target) {
  // axe targets are arrays (one selector per frame / shadow root level).
  return Array.isArray(target) ? target.join(' >>> ') : String(target);
}

function sameOrigin(a, b) {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

// Opens the entry's page; with "submit": {"field": "value", …}, fills the page's form and
// submits it, so that the page checked is the answer (a form shown again with its errors).
// A value `true` ticks a checkbox; "button": "v" clicks the submit button of value v.
async function open(page, entry) {
  let response = await page.goto(entry.url, { waitUntil: 'load', timeout: TIMEOUT });
  if (entry.submit) {
    // The form that holds the first field named: a page may have several forms.
    const first = Object.keys(entry.submit)[0];
    const visible = (name) => `[name="${name}"]:not([type="hidden"])`;
    const form = page.locator('main form', { has: page.locator(visible(first)) }).first();
    for (const [name, value] of Object.entries(entry.submit)) {
      const field = form.locator(visible(name)).first();
      if (value === true) {
        await field.check();
      } else {
        await field.fill(value);
      }
    }
    const button = entry.button ? `button[type="submit"][value="${entry.button}"]` : 'button[type="submit"]';
    const [answer] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load', timeout: TIMEOUT }),
      form.locator(button).first().click(),
    ]);
    response = answer;
  }
  return response;
}

async function checkWithJs(browser, entry, expected, vp, findings, incomplete) {
  const context = await browser.newContext({
    ...vp.options,
    // The pages send a strict CSP; the injected axe-core script must still run.
    bypassCSP: true,
    locale: 'fr-FR',
  });
  try {
    if (entry.cookies) await context.addCookies(entry.cookies);
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);

    const brokenResources = [];
    const badStatus = new Set();
    page.on('response', (r) => {
      const type = r.request().resourceType();
      if (['stylesheet', 'script', 'image', 'font'].includes(type) && r.status() >= 400 && sameOrigin(r.url(), entry.url)) {
        badStatus.add(r.url());
        brokenResources.push(`${type} ${new URL(r.url()).pathname} → ${r.status()}`);
      }
    });
    page.on('requestfailed', (r) => {
      const type = r.resourceType();
      // A 4xx/5xx stylesheet is also reported as aborted: count it once.
      if (['stylesheet', 'script', 'image', 'font'].includes(type) && sameOrigin(r.url(), entry.url) && !badStatus.has(r.url())) {
        brokenResources.push(`${type} ${new URL(r.url()).pathname} → ${r.failure()?.errorText ?? 'failed'}`);
      }
    });

    const response = await open(page, entry);
    const status = response ? response.status() : 0;
    if (status !== expected) {
      findings.add(vp.label, {
        id: 'participe-http-status',
        impact: 'critical',
        help: `HTTP status ${status}, expected ${expected}`,
      });
    }

    if (SCREENSHOTS) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      const file = entry.name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
      await page.screenshot({ path: join(SCREENSHOTS, `${file}-${vp.options.viewport.width}.png`), fullPage: true, scale: 'css' });
    }

    // WCAG 1.4.10 Reflow: no horizontal scrolling of the page itself (wide tables scroll
    // inside their own box).
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 1) {
      findings.add(vp.label, {
        id: 'participe-reflow',
        impact: 'serious',
        help: `The page is ${overflow}px wider than the ${vp.label} viewport: content must reflow without horizontal scrolling`,
      });
    }

    const basics = await page.evaluate(() => {
      const lang = document.documentElement.getAttribute('lang');
      const h1s = [...document.querySelectorAll('h1')].map((h) => h.textContent.trim().replace(/\s+/g, ' ').slice(0, 60));
      return { lang, h1s };
    });
    // French unless the entry says which language the page is in ("lang": "en").
    const expectedLang = entry.lang || 'fr';
    if (basics.lang === null || !new RegExp(`^${expectedLang}(-[A-Za-z]{2})?$`).test(basics.lang)) {
      findings.add(vp.label, {
        id: 'participe-html-lang',
        impact: 'serious',
        help: `<html lang> must be "${expectedLang}", found ${basics.lang === null ? 'none' : JSON.stringify(basics.lang)}`,
        targets: ['html'],
      });
    }
    if (basics.h1s.length !== 1) {
      findings.add(vp.label, {
        id: 'participe-single-h1',
        impact: 'moderate',
        help: `Page must have exactly one <h1>, found ${basics.h1s.length}`,
        targets: basics.h1s.map((t) => `h1 "${t}"`),
      });
    }

    await checkSkipLink(page, vp, findings);

    if (brokenResources.length) {
      findings.add(vp.label, {
        id: 'participe-subresource',
        impact: 'serious',
        help: 'Same-origin stylesheet, script, image or font failed to load',
        targets: brokenResources,
      });
    }

    await page.addScriptTag({ path: AXE_PATH });
    const results = await page.evaluate((options) => window.axe.run(document, options), AXE_OPTIONS);
    for (const v of results.violations) {
      findings.add(vp.label, {
        id: v.id,
        impact: v.impact ?? 'unknown',
        help: v.help,
        targets: v.nodes.map((n) => selector(n.target)),
      });
    }
    for (const v of results.incomplete) {
      incomplete.add(vp.label, {
        id: v.id,
        impact: v.impact ?? 'unknown',
        help: `needs review: ${v.help}`,
        targets: v.nodes.map((n) => selector(n.target)),
      });
    }
  } finally {
    await context.close();
  }
}

// The first Tab from the top of the page must reach a visible in-page link whose target
// exists; following it must move focus into that target.
async function checkSkipLink(page, vp, findings) {
  const fail = (help, targets = []) =>
    findings.add(vp.label, { id: 'participe-skip-link', impact: 'serious', help, targets });

  await page.evaluate(() => {
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    window.scrollTo(0, 0);
  });
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const href = el.tagName === 'A' ? el.getAttribute('href') : null;
    let targetExists = false;
    let targetId = null;
    if (href && href.startsWith('#') && href.length > 1) {
      targetId = decodeURIComponent(href.slice(1));
      targetExists = document.getElementById(targetId) !== null;
    }
    const r = el.getBoundingClientRect();
    const visible =
      r.width > 1 && r.height > 1 && r.bottom > 0 && r.right > 0 && r.top < window.innerHeight && r.left < window.innerWidth;
    return {
      tag: el.tagName.toLowerCase(),
      href,
      text: el.textContent.trim().slice(0, 40),
      targetId,
      targetExists,
      visible,
    };
  });
  if (!first) return fail('No focusable element: the first Tab does not reach a skip link');
  const desc = `${first.tag}${first.href ? `[href="${first.href}"]` : ''} "${first.text}"`;
  if (!first.href || !first.href.startsWith('#') || first.href.length < 2) {
    return fail('The first focusable element is not a skip link to the content', [desc]);
  }
  if (!first.targetExists) return fail(`Skip link target #${first.targetId} does not exist`, [desc]);
  if (!first.visible) return fail('Skip link is not visible when focused', [desc]);

  await page.keyboard.press('Enter');
  const focusInTarget = await page.evaluate((id) => {
    const t = document.getElementById(id);
    return !!t && (document.activeElement === t || t.contains(document.activeElement));
  }, first.targetId);
  if (!focusInTarget) {
    fail(`Following the skip link does not move focus into #${first.targetId} (give it tabindex="-1")`, [desc]);
  }
}

// What the Nu checker says of the served HTML of every page: { index: [message, …] }.
function validate(files) {
  const run = spawnSync('java', ['-Xss8m', '-jar', VNU_JAR, '--errors-only', '--format', 'json', '--exit-zero-always', ...files], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error || run.status !== 0) {
    throw new Error(`vnu could not run (java -jar ${VNU_JAR}): ${run.error?.message ?? run.stderr.slice(0, 400)}`);
  }
  const byFile = new Map();
  for (const m of JSON.parse(run.stderr || '{"messages": []}').messages) {
    const file = decodeURIComponent(new URL(m.url).pathname);
    const index = files.indexOf(file);
    if (!byFile.has(index)) byFile.set(index, []);
    const extract = (m.extract || '').replace(/\s+/g, ' ').trim().slice(0, 120);
    byFile.get(index).push(`vnu (line ${m.lastLine ?? '?'}) ${m.message}${extract ? ` — ${extract}` : ''}`);
  }
  return byFile;
}

async function checkWithoutJs(browser, entry, expected, findings, served) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, javaScriptEnabled: false, locale: 'fr-FR' });
  try {
    if (entry.cookies) await context.addCookies(entry.cookies);
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    const response = await open(page, entry);
    const status = response ? response.status() : 0;
    if (served && response) writeFileSync(served, await response.body());
    const main = page.locator('main');
    const count = await main.count();
    let problem = null;
    if (status !== expected) problem = `HTTP status ${status} without JavaScript, expected ${expected}`;
    else if (count !== 1) problem = `Expected one <main> without JavaScript, found ${count}`;
    else {
      const box = await main.boundingBox();
      const text = (await main.innerText()).trim();
      if (!box || box.height < 1 || !(await main.isVisible())) problem = '<main> is not rendered without JavaScript';
      else if (!text) problem = '<main> is empty without JavaScript';
    }
    if (problem) findings.add('no-js', { id: 'participe-no-js', impact: 'serious', help: problem, targets: ['main'] });
  } finally {
    await context.close();
  }
}

async function main() {
  const file = process.argv[2];
  if (!file || process.argv.length > 3) usage();
  const pages = loadPages(file);

  let browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60000 });
  } catch (e) {
    console.error(`a11y: cannot launch ${CHROMIUM} (run scripts/install-test-deps): ${e.message}`);
    process.exit(2);
  }

  const labels = VIEWPORTS.map((v) => v.label);
  const dir = mkdtempSync(join(tmpdir(), 'a11y-html-'));
  const files = pages.map((_, i) => join(dir, `page-${i}.html`));
  const results = [];
  try {
    for (const [i, entry] of pages.entries()) {
      const expected = entry.status ?? 200;
      const findings = new Findings();
      const incomplete = new Findings();
      try {
        for (const vp of VIEWPORTS) await checkWithJs(browser, entry, expected, vp, findings, incomplete);
        await checkWithoutJs(browser, entry, expected, findings, VNU_JAR ? files[i] : null);
      } catch (e) {
        findings.add('error', { id: 'error', impact: 'critical', help: e.message.split('\n')[0] });
      }
      results.push({ entry, findings, incomplete });
    }
  } finally {
    await browser.close();
  }
  if (VNU_JAR) {
    try {
      for (const [i, messages] of validate(files)) {
        for (const [k, help] of messages.entries()) {
          results[i].findings.add('html', { id: `participe-nu-html-${k + 1}`, impact: 'serious', help });
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  let failed = 0;
  for (const { entry, findings, incomplete } of results) {
    if (findings.size === 0) {
      console.log(`ok  ${entry.name} (${labels.join(', ')}${VNU_JAR ? ', html' : ''})`);
    } else {
      failed++;
      console.log(`FAIL ${entry.name} (${labels.join(', ')}) ${entry.url}`);
      for (const line of findings.lines(labels)) console.log(line);
    }
    if (SHOW_INCOMPLETE) for (const line of incomplete.lines(labels)) console.log(line);
  }
  console.log(`a11y: ${pages.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

await main();
