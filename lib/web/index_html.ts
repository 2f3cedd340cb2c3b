/**
 * The web folder's `index.html`: the page's layout and styles (the program is `mopeft.js`).
 *
 * @module
 */

const escapeHtml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page for the run called `title`. */
export function indexHtml(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>mopeft: ${escapeHtml(title)}</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
  header p { margin: 0.2em 0; }
  #error { color: #b00020; font-weight: 600; }
  #drop { border: 2px dashed #888; padding: 0 1em; margin: 1em 0; border-radius: 6px; }
  .result { display: inline-block; vertical-align: top; margin: 0 1.5em 1.5em 0; }
  .stack { position: relative; display: inline-block; line-height: 0; }
  .stack canvas, .stack .boxes { display: block; }
  .stack .overlay, .stack .boxes { position: absolute; left: 0; top: 0; }
  .legend { list-style: none; padding: 0; margin: 0.4em 0; }
  .legend li { margin: 0.1em 0; }
  .swatch { display: inline-block; width: 1em; height: 1em; margin-right: 0.4em;
    vertical-align: -0.15em; border: 1px solid #444; }
  table.gates { border-collapse: collapse; margin-top: 0.4em; font-size: 13px; }
  table.gates td, table.gates th { border: 1px solid #ccc; padding: 0.1em 0.4em; }
  table.gates td.called { background: #d8f0d8; }
</style>
</head>
<body>
<header>
  <h1>mopeft: ${escapeHtml(title)}</h1>
  <p id="run"></p>
  <p>Backend: <span id="backend">starting…</span></p>
  <p id="status">loading…</p>
  <p id="error" hidden></p>
</header>
<div id="drop">
  <p><label>Images: <input id="files" type="file" accept="image/*" multiple disabled></label>
  or drop them here.</p>
  <p><label>Overlay opacity
  <input id="opacity" type="range" min="0" max="1" step="0.05" value="0.6"></label></p>
</div>
<main id="results"></main>
<script type="module" src="mopeft.js"></script>
</body>
</html>
`;
}
