import { runBootScript } from '../support/boot-script';
import { AcceleratorKind, fleetUserDataCommands, MODEL_ARTIFACT_LAYOUT, servedVersionBootCommands } from 'mlops-constructs';

/*
 * A fleet instance that reads its version from the served state at boot (the Pulumi InferenceFleet with servedState):
 * core's boot script run by real bash against served-state values, with the AWS CLI, IMDS and Docker faked.
 */

const PARAMETER = '/mlops/acme-prod/served/fraud';
const modelUri = `s3://acme-prod-models/${MODEL_ARTIFACT_LAYOUT.servedVersionPrefix('fraud', '${SERVED_VERSION}')}${MODEL_ARTIFACT_LAYOUT.archive}`;
const bootScript = (variant: string, acceleratorKind = AcceleratorKind.NVIDIA_GPU) => ['#!/bin/bash', ...fleetUserDataCommands({
  imageUri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/serving:1', modelUri, port: 8080, acceleratorKind, servedState: { parameterName: PARAMETER, variant },
})].join('\n');

describe('a fleet instance reading its version from the served state at boot', () => {
  test.each([
    ['current', 'current=v7@90,candidate=v8@10', 'v7'],
    ['candidate', 'current=v7@90,candidate=v8@10', 'v8'],
    ['candidate', 'current=v7@0,candidate=v8@100', 'v8'],
    ['current', 'current=2026-11-30.run_4@100', '2026-11-30.run_4'],
    ['b', 'a=v1@50,b=v2@30,c=v3@20', 'v2'],
    // A variant whose name ends another's is not taken for it.
    ['current', 'not-current=v1@50,current=v2@50', 'v2'],
  ])('variant %s of %s serves %s: MODEL_URI is core\'s served archive of that version', (variant, state, version) => {
    const run = runBootScript(bootScript(variant), state);
    expect(run.stderr).not.toMatch(/not serving/);
    expect(run.status).toBe(0);
    expect(run.modelUri).toBe(`s3://acme-prod-models/${MODEL_ARTIFACT_LAYOUT.servedVersionPrefix('fraud', version)}${MODEL_ARTIFACT_LAYOUT.archive}`);
    // Read from the one parameter, in the instance's region.
    expect(run.awsCalls.filter((c) => c.startsWith('ssm '))).toEqual([`ssm get-parameter --region us-east-1 --name ${PARAMETER} --query Parameter.Value --output text`]);
  });

  test.each([
    ['a state without the variant', 'current=v7@100', /served state \/mlops\/acme-prod\/served\/fraud \('current=v7@100'\) does not name one version of variant candidate: not serving/],
    ['the variant listed twice', 'current=v7@50,candidate=v8@25,candidate=v9@25', /does not name one version of variant candidate/],
    ['an entry without a weight', 'current=v7@90,candidate=v8', /does not name one version of variant candidate/],
    ['a version that is not one', 'current=v7@90,candidate=v8;rm@10', /does not name one version of variant candidate/],
    ['an empty value', '', /does not name one version of variant candidate/],
    ['a missing parameter', undefined, /ParameterNotFound[\s\S]*cannot read the served state \/mlops\/acme-prod\/served\/fraud: not serving/],
  ])('%s fails the boot loudly and starts no model', (_what, state, message) => {
    const run = runBootScript(bootScript('candidate', AcceleratorKind.NONE), state);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(run.modelUri).toBeUndefined();
  });

  test('the script names no version: it is the same whatever promotion serves', () => {
    expect(bootScript('current')).not.toMatch(/v\d/);
    expect(servedVersionBootCommands({ parameterName: PARAMETER, variant: 'current' }).join('\n')).toContain(`--name '${PARAMETER}'`);
  });

  test('a model URI naming ${SERVED_VERSION} without a served state (or the reverse) is a programming error', () => {
    const base = { imageUri: 'i', port: 8080, acceleratorKind: AcceleratorKind.NONE };
    expect(() => fleetUserDataCommands({ ...base, modelUri })).toThrow(/modelUri must name \$\{SERVED_VERSION\} exactly when/);
    expect(() => fleetUserDataCommands({ ...base, modelUri: 's3://b/served/fraud/v1/model.tar.gz', servedState: { parameterName: PARAMETER, variant: 'current' } }))
      .toThrow(/modelUri must name \$\{SERVED_VERSION\} exactly when/);
  });
});
