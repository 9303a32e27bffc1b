// Compiles a Motoko actor with the npm `motoko` compiler:
//   node compile-motoko.js <source.mo> <out.wasm>
const fs = require('fs');
const mo = require('motoko');

const [source, out] = process.argv.slice(2);
mo.write('/main.mo', fs.readFileSync(source, 'utf8'));
const result = mo.wasm('/main.mo', 'ic');
fs.writeFileSync(out, result.wasm);
