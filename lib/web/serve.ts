/**
 * Serving a web folder: 127.0.0.1 by default, only the folder's own files (no path out of it,
 * however encoded, and no symbolic link that leads out), with the COOP/COEP headers that make
 * the page cross-origin isolated (tfjs's threaded wasm needs SharedArrayBuffer).
 *
 * @module
 */
import { extname, join, sep } from "node:path";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".safetensors": "application/octet-stream",
};

/** The headers every answer carries. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
  "x-content-type-options": "nosniff",
  "cache-control": "no-cache",
};

/**
 * The file under `root` (a real path, no trailing separator) that `pathname` names, or
 * `undefined` when it names nothing inside `root`: a segment `.` or `..` (also percent-encoded),
 * an encoded `/` or `\`, a NUL, a malformed escape, or a symbolic link whose target lies outside.
 *
 * @example
 * ```ts ignore
 * await resolveInside("/srv/site", "/weights/peft.json"); // "/srv/site/weights/peft.json"
 * await resolveInside("/srv/site", "/%2e%2e/etc/passwd"); // undefined
 * ```
 */
export async function resolveInside(root: string, pathname: string): Promise<string | undefined> {
  const segments: string[] = [];
  for (const raw of pathname.split("/")) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment === "") continue;
    if (segment === "." || segment === ".." || /[\/\\\0]/.test(segment)) return undefined;
    segments.push(segment);
  }
  let path = join(root, ...segments);
  try {
    if ((await Deno.stat(path)).isDirectory) path = join(path, "index.html");
    path = await Deno.realPath(path);
  } catch {
    return undefined;
  }
  if (!path.startsWith(root + sep)) return undefined;
  return (await Deno.stat(path)).isFile ? path : undefined;
}

/** A running server. */
export interface SiteServer {
  /** `http://127.0.0.1:PORT/`. */
  url: string;
  /** Stops listening and finishes the answers under way. */
  shutdown(): Promise<void>;
  /** Resolves once the server has stopped. */
  finished: Promise<void>;
}

/**
 * Serves the folder `dir` on `hostname:port` (port 0: any free port).
 *
 * @example
 * ```ts ignore
 * const server = await serveSite("site", { port: 8080 });
 * console.error(server.url);
 * await server.shutdown();
 * ```
 */
export async function serveSite(
  dir: string,
  options: { port: number; hostname?: string },
): Promise<SiteServer> {
  const root = await Deno.realPath(dir);
  const hostname = options.hostname ?? "127.0.0.1";
  const { promise: listening, resolve: onListen } = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname,
    port: options.port,
    onListen: ({ port }) => onListen(port),
    onError: () => answer(500, "server error"),
  }, async (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return answer(405, "only GET and HEAD", { allow: "GET, HEAD" });
    }
    // The raw path as sent: URL parsing would already have folded "/a/../b".
    const target = request.url.replace(/^[a-z]+:\/\/[^/]*/i, "").split(/[?#]/)[0]!;
    const path = await resolveInside(root, target);
    if (!path) return answer(404, "not found");
    const file = await Deno.open(path, { read: true });
    const { size } = await file.stat();
    const headers = {
      ...ISOLATION_HEADERS,
      "content-type": CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
      "content-length": String(size),
    };
    if (request.method === "HEAD") {
      file.close();
      return new Response(null, { headers });
    }
    return new Response(file.readable, { headers });
  });
  const port = await listening;
  return {
    url: `http://${hostname}:${port}/`,
    shutdown: () => server.shutdown(),
    finished: server.finished,
  };
}

function answer(status: number, text: string, extra: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { ...ISOLATION_HEADERS, "content-type": "text/plain; charset=utf-8", ...extra },
  });
}
