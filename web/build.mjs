// Bundles src/index.js into OUTDIR/cellbox-embed.js (one minified IIFE, no runtime requests)
// and the licences of what it bundles into cellbox-embed.js.LEGAL.txt beside it.
//   node build.mjs OUTDIR [VERSION]
import * as esbuild from 'esbuild';

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
