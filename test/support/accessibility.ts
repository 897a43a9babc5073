import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

/**
 * axe-core against WCAG 2.1 A and AA, in the light and the dark colour scheme, and reflow at 320 CSS pixels
 * (WCAG 1.4.10: no horizontal scrolling): what every page of Gatehouse must pass.
 */
const axeSource = readFileSync(
  fileURLToPath(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url)),
  'utf8',
);
const wcagTags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

interface Violation {
  id: string;
  help: string;
  nodes: { target: string[] }[];
}

/** The violations axe finds on the page as it is now, in both colour schemes, as readable lines. */
async function violationsOf(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern (a script tag
  // would be refused: Gatehouse's pages allow no inline script).
  await page.evaluate(axeSource);
  const found: string[] = [];
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const violations = await page.evaluate(async (tags) => {
      const axe = (
        window as unknown as { axe: { run(c: unknown, o: unknown): Promise<{ violations: unknown[] }> } }
      ).axe;
      return (await axe.run(document, { runOnly: { type: 'tag', values: tags } })).violations;
    }, wcagTags);
    for (const violation of violations as Violation[])
      found.push(
        `${colorScheme}: ${violation.id} (${violation.help}) at ${violation.nodes.map((n) => n.target.join(' ')).join(', ')}`,
      );
  }
  return found;
}

/** Whether the page scrolls sideways at 320 CSS pixels wide. */
async function scrollsSideways(page: Page): Promise<boolean> {
  const before = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  if (before) await page.setViewportSize(before);
  return overflow;
}

export async function expectAccessible(page: Page): Promise<void> {
  expect(await violationsOf(page)).toEqual([]);
  expect(await scrollsSideways(page)).toBe(false);
}
