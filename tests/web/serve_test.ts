/**
 * The web folder's server: only the folder's files, however the path is spelled, with the
 * cross-origin isolation headers; and `mopeft web --serve` stops cleanly on SIGTERM and SIGINT.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { connect } from "node:net";
import { resolveInside, serveSite } from "../../lib/web/serve.ts";
import { makeFixture } from "./_fixture.ts";

const work = await Deno.makeTempDir({ prefix: "mopeft_serve_" });
const site = `${work}/site`;
await Deno.mkdir(`${site}/weights`, { recursive: true });
await Deno.writeTextFile(`${site}/index.html`, "<!doctype html><p>page</p>\n");
await Deno.writeTextFile(`${site}/weights/peft.json`, "{}\n");
await Deno.writeTextFile(`${work}/secret.txt`, "outside\n");
await Deno.symlink(`${work}/secret.txt`, `${site}/link_out.txt`);
await Deno.symlink(`${site}/index.html`, `${site}/link_in.html`);
const root = await Deno.realPath(site);

/** Sends `path` exactly as written (no client-side normalisation) and returns status and body. */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    let text = "";
    socket.on("data", (chunk) => text += chunk.toString());
    socket.on("end", () => {
      const status = Number(text.split(" ")[1]);
      resolve({ status, body: text.slice(text.indexOf("\r\n\r\n") + 4) });
    });
    socket.on("error", reject);
  });
}

Deno.test("resolveInside: names inside the folder resolve, every way out is refused", async () => {
  assertEquals(await resolveInside(root, "/"), `${root}/index.html`);
  assertEquals(await resolveInside(root, "/weights/peft.json"), `${root}/weights/peft.json`);
  assertEquals(await resolveInside(root, "/weights%2Fpeft.json"), undefined);
  assertEquals(await resolveInside(root, "/link_in.html"), `${root}/index.html`);
  for (
    const path of [
      "/../secret.txt",
      "/weights/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/secret.txt",
      "/.%2e/secret.txt",
      "/..%2fsecret.txt",
      "/%2e%2e%2fsecret.txt",
      "/..%5csecret.txt",
      `/${work}/secret.txt`.replace("//", "/"),
      `/%2F${work.slice(1)}/secret.txt`,
      "/link_out.txt",
      "/index.html%00",
      "/%zz",
      "/missing.txt",
    ]
  ) {
    assertEquals(await resolveInside(root, path), undefined, path);
  }
});

Deno.test("serveSite: 127.0.0.1, COOP/COEP on every answer, 404 for paths out of the folder", async () => {
  const server = await serveSite(site, { port: 0 });
  try {
    ok(server.url.startsWith("http://127.0.0.1:"), server.url);
    const response = await fetch(server.url);
    assertEquals(response.status, 200);
    assertEquals(await response.text(), "<!doctype html><p>page</p>\n");
    assertEquals(response.headers.get("cross-origin-opener-policy"), "same-origin");
    assertEquals(response.headers.get("cross-origin-embedder-policy"), "require-corp");
    assertEquals(response.headers.get("content-type"), "text/html; charset=utf-8");
    const port = Number(new URL(server.url).port);
    for (
      const path of [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        `${work}/secret.txt`,
        "/link_out.txt",
      ]
    ) {
      const { status, body } = await rawGet(port, path);
      ok(status === 404 || status === 400, `${path}: ${status}`);
      ok(!body.includes("outside"), path);
    }
    assertEquals((await rawGet(port, "/weights/peft.json")).body, "{}\n");
    const post = await fetch(server.url, { method: "POST", body: "x" });
    assertEquals(post.status, 405);
    await post.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

const fixture = await makeFixture("mopeft_serve_run_");

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`mopeft web --serve prints the URL and stops cleanly on ${signal}`, async () => {
    const out = `${fixture.work}/served_${signal}`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "cli.ts",
        "web",
        "--checkpoint",
        fixture.checkpoint,
        "--peft",
        fixture.semanticRun,
        "--out",
        out,
        "--serve",
        "--port",
        "0",
      ],
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let stderr = "";
    while (!/serving .* at http/.test(stderr)) {
      const { value, done } = await lines.read();
      if (done) break;
      stderr += value;
    }
    const url = stderr.match(/at (http:\/\/127\.0\.0\.1:\d+\/)/)?.[1];
    ok(url, stderr);
    const page = await fetch(url);
    ok((await page.text()).includes("mopeft.js"));
    assertEquals(page.headers.get("cross-origin-embedder-policy"), "require-corp");
    child.kill(signal);
    const status = await child.status;
    for (;;) {
      const { value, done } = await lines.read();
      if (done) break;
      stderr += value;
    }
    const stdout = JSON.parse(
      new TextDecoder().decode(await new Response(child.stdout).arrayBuffer()),
    );
    assertEquals(stdout.url, url);
    assertEquals(status.code, 0, stderr);
    ok(stderr.trimEnd().endsWith("mopeft: web: stopped"), stderr);
  });
}
