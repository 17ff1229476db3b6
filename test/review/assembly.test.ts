import * as fs from 'fs';
import * as path from 'path';
import { CfnWaitConditionHandle, Stack } from 'aws-cdk-lib';
import { newApp, tempDir } from '../support/gate';
import { loadAssembly, ReviewInputError } from 'mlops-constructs/review';

// Reading assemblies: stack identity and metadata, Kubernetes YAML, bad input.
function assembly(): string {
  const app = newApp();
  const stack = new Stack(app, 'Api', { stackName: 'team-api', tags: { team: 'a' } });
  stack.templateOptions.metadata = { 'mlops:disposable': 'true' };
  new CfnWaitConditionHandle(stack, 'Anchor');
  app.synth();
  return app.outdir;
}

describe('loadAssembly', () => {
  test('reads stack id, name, tags, construct paths and the disposable marker from template metadata', () => {
    const loaded = loadAssembly(assembly());
    expect(loaded.stacks).toHaveLength(1);
    expect(loaded.stacks[0]).toMatchObject({ id: 'Api', stackName: 'team-api', tags: { team: 'a' }, disposable: true, paths: { Anchor: 'Api/Anchor' } });
    expect(loaded.manifests).toEqual([]);
  });

  test('reads Kubernetes objects from YAML anywhere below the assembly, skipping other YAML and asset directories', () => {
    const dir = assembly();
    fs.mkdirSync(path.join(dir, 'k8s'));
    fs.writeFileSync(path.join(dir, 'k8s', 'app.k8s.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ml\n---\nfoo: bar\n');
    fs.writeFileSync(path.join(dir, 'settings.yml'), 'not: kubernetes\n');
    fs.mkdirSync(path.join(dir, 'asset.abc'));
    fs.writeFileSync(path.join(dir, 'asset.abc', 'bundled.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ignored\n');
    const loaded = loadAssembly(dir);
    expect(loaded.manifests.map((m) => `${m.file}: ${m.objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`)).toEqual(['k8s/app.k8s.yaml: Namespace/ml']);
  });

  test('invalid YAML is a ReviewInputError naming the file', () => {
    const dir = assembly();
    fs.writeFileSync(path.join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: [unclosed\n');
    expect(() => loadAssembly(dir)).toThrow(ReviewInputError);
    expect(() => loadAssembly(dir)).toThrow(/broken\.yaml: invalid YAML/);
  });

  test('a missing template is a ReviewInputError', () => {
    const dir = assembly();
    fs.rmSync(path.join(dir, 'Api.template.json'));
    expect(() => loadAssembly(dir)).toThrow(/Api\.template\.json: template of stack Api is missing from the assembly\./);
  });

  test('a file instead of a directory is a ReviewInputError', () => {
    const file = path.join(tempDir('file'), 'x.json');
    fs.writeFileSync(file, '{}');
    expect(() => loadAssembly(file)).toThrow(/x\.json: not a directory/);
  });
});
