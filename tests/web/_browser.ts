/**
 * Headless Chromium for the web page's tests, driven by puppeteer-core: Debian's `chromium`
 * (`.ci/run` installs it); tests skip, saying so, where it is absent.
 *
 * @module
 */
import puppeteer, { type Browser } from "puppeteer-core";

/** Where Debian puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether the browser is installed here. */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** The line a test prints when it skips for want of the browser. */
export const NO_CHROMIUM =
  `skipped: no ${CHROMIUM} (apt-get install -y --no-install-recommends chromium)`;

/** Starts a headless browser (with WebGPU on its software adapter when `webgpu`). */
export async function launchChromium(
  options: { webgpu?: boolean } = {},
): Promise<{ browser: Browser; close(): Promise<void> }> {
  const profile = await Deno.makeTempDir({ prefix: "mopeft_chromium_" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      ...(options.webgpu ? ["--enable-unsafe-webgpu"] : []),
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}
