/**
 * Regenerates the typed CRD bindings in lib/k8s/imports/ from the CRD YAML committed in lib/k8s/crds/ with
 * `cdk8s import` (local files only; the build machines fetch nothing). Run with `npx projen import:crds`.
 * A CRD file `<project>-v<version>-<resources>.yaml` becomes the module `<project>-<resources>-<group>.ts`.
 * Pass an output folder to generate elsewhere (the drift test compares a fresh import with the committed one).
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
export const CRD_DIR = path.join(ROOT, 'lib', 'k8s', 'crds');
const CRD_FILE = /^(?<project>[a-z-]+?)-v\d+\.\d+\.\d+-(?<resources>[a-z]+)\.yaml$/;

export async function importCrds(outdir: string, parallel = 2): Promise<string[]> {
  fs.rmSync(outdir, { recursive: true, force: true });
  fs.mkdirSync(outdir, { recursive: true });
  const cli = path.join(ROOT, 'node_modules', 'cdk8s-cli', 'bin', 'cdk8s');
  const specs = fs.readdirSync(CRD_DIR).filter((f) => f.endsWith('.yaml')).sort().map((file) => {
    const match = CRD_FILE.exec(file);
    if (!match?.groups) throw new Error(`${file}: name it <project>-v<x.y.z>-<resources>.yaml`);
    return `${match.groups.project}-${match.groups.resources}:=${path.join(CRD_DIR, file)}`;
  });
  const run = (spec: string) => new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [cli, 'import', '--no-save', '--no-check-upgrade', '--language', 'typescript', '--output', outdir, spec],
      { cwd: outdir }, (error, _stdout, stderr) => (error ? reject(new Error(`cdk8s import ${spec}: ${stderr}`)) : resolve()));
  });
  const queue = [...specs];
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (let spec = queue.shift(); spec !== undefined; spec = queue.shift()) await run(spec);
  }));
  return fs.readdirSync(outdir).sort();
}

if (require.main === module) {
  const outdir = process.argv[2] ?? path.join(ROOT, 'lib', 'k8s', 'imports');
  // eslint-disable-next-line no-console
  importCrds(outdir).then((files) => console.log(files.join('\n')), (e) => {
    // eslint-disable-next-line no-console
    console.error(e);
    process.exitCode = 1;
  });
}
