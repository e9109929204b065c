// Bundles src/index.js into OUTDIR/cellbox-embed.js (one minified IIFE, no runtime requests)
// and the licences of what it bundles into cellbox-embed.js.LEGAL.txt beside it; plus
// cellbox-embed.js.gz, which the gateway sends to browsers that accept gzip.
//   node build.mjs OUTDIR [VERSION]
import * as esbuild from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const [outdir = 'dist', version = 'dev'] = process.argv.slice(2);
await esbuild.build({
  entryPoints: { 'cellbox-embed': 'src/index.js' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outdir,
  legalComments: 'linked',
  define: { __CELLBOX_VERSION__: JSON.stringify(version) },
  logLevel: 'warning',
});
const bundle = `${outdir}/cellbox-embed.js`;
writeFileSync(`${bundle}.gz`, gzipSync(readFileSync(bundle), { level: 9 }));
