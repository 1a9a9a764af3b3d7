// Bundles the test page (app.jsx + React + the LangGraph SDK) into <outdir>/bundle.js.
//   node page/build.mjs <outdir>
import { copyFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = process.argv[2];
if (!outdir) {
  console.error("usage: node page/build.mjs <outdir>");
  process.exit(2);
}
await build({
  entryPoints: [path.join(here, "app.jsx")],
  outfile: path.join(outdir, "bundle.js"),
  bundle: true,
  format: "iife",
  jsx: "automatic",
  // React's production build: the development one logs warnings as console errors.
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
await copyFile(path.join(here, "index.html"), path.join(outdir, "index.html"));
