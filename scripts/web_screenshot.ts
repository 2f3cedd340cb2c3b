/**
 * The screenshot in docs/web.md: the page of a gated run trained two steps on the tiny fixtures,
 * after segmenting a fixture image, in headless Chromium on wasm.
 *
 *   deno run -A scripts/web_screenshot.ts docs/web_page.png
 *
 * @module
 */
import { buildSite } from "../lib/web/build_site.ts";
import { serveSite } from "../lib/web/serve.ts";
import { hasChromium, launchChromium, NO_CHROMIUM } from "../tests/web/_browser.ts";
import { makeFixture, semanticImage } from "../tests/web/_fixture.ts";

const target = Deno.args[0];
if (!target) throw new Error("usage: scripts/web_screenshot.ts OUT.png");
if (!hasChromium()) throw new Error(NO_CHROMIUM);
const fixture = await makeFixture("mopeft_web_screenshot_");
try {
  const site = await buildSite({
    checkpoint: fixture.checkpoint,
    peft: fixture.semanticRun,
    out: `${fixture.work}/site`,
  });
  await Deno.copyFile(semanticImage("test_011_300x180.png"), `${site.out}/test_011_300x180.png`);
  const server = await serveSite(site.out, { port: 0 });
  const { browser, close } = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 560, height: 760 });
    await page.goto(`${server.url}?backend=wasm`);
    // deno-lint-ignore no-explicit-any
    await page.evaluate(() => (globalThis as any).mopeft.ready);
    // deno-lint-ignore no-explicit-any
    await page.evaluate(() => (globalThis as any).mopeft.segment("test_011_300x180.png"));
    await page.screenshot({ path: target, fullPage: true });
  } finally {
    await close();
    await server.shutdown();
  }
} finally {
  await Deno.remove(fixture.work, { recursive: true });
}
