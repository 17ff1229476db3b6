// The README's Kubernetes section quotes examples/k8s/readme.ts verbatim (compiled by tsc with the rest of the
// examples), and the quoted code synthesizes valid manifests.
import * as fs from 'fs';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { ofKind, schemaErrors } from './support/k8s';
import { adapterValues, progressiveChart, teamChart } from '../../examples/k8s/readme';

const ROOT = path.join(__dirname, '..', '..');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const source = fs.readFileSync(path.join(ROOT, 'examples', 'k8s', 'readme.ts'), 'utf8');

/** The code between `// README:<name>` and `// README:end`, dedented by its first line's indent. */
function region(name: string): string {
  const match = new RegExp(`\\n( *)// README:${name}\\n([\\s\\S]*?)\\n *// README:end`).exec(source);
  if (!match) throw new Error(`no README:${name} region in examples/k8s/readme.ts`);
  return match[2].split('\n').map((l) => l.slice(match[1].length)).join('\n');
}

const kubernetesSection = readme.slice(readme.indexOf('## Kubernetes (`mlops-constructs/k8s`)'), readme.indexOf('## Pulumi'));

describe('README Kubernetes section', () => {
  test.each(['team', 'progressive', 'adapter'])('quotes the %s example as it is in examples/k8s/readme.ts', (name) => {
    expect(kubernetesSection).toContain(`\`\`\`ts\n${region(name)}\n\`\`\``);
  });

  test('the quoted code synthesizes manifests that validate', () => {
    const app = Testing.app();
    const manifests = [...Testing.synth(teamChart(app)), ...Testing.synth(progressiveChart(app))];
    expect(ofKind(manifests, 'LocalQueue')).toHaveLength(1);
    expect(ofKind(manifests, 'Rollout')).toHaveLength(1);
    expect(ofKind(manifests, 'ScaledObject')).toHaveLength(1);
    expect(schemaErrors(manifests)).toEqual([]);
    expect(adapterValues()).toEqual({ rules: { custom: [expect.objectContaining({ name: { matches: '^http_requests_total$', as: 'http_requests_per_second' } })] } });
  });

  test('names the add-on of every feature that needs one', () => {
    for (const addOn of ['NVIDIA device plugin', 'GPU Feature Discovery', 'dcgm-exporter', 'prometheus-adapter', 'Gateway API implementation', 'Kueue', 'Argo Rollouts', 'KEDA', 'Karpenter', 'EFA device plugin']) {
      expect(kubernetesSection).toContain(addOn);
    }
  });
});
