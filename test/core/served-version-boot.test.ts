import { runBootScript } from '../support/boot-script';
import { AcceleratorKind, fleetUserDataCommands, MODEL_ARTIFACT_LAYOUT, servedVersionBootCommands } from 'mlops-constructs';

/*
 * A fleet instance that reads its version from the served state at boot (the Pulumi InferenceFleet with servedState):
 * core's boot script run by real bash against served-state values, with the AWS CLI, IMDS and Docker faked.
 */

const PARAMETER = '/mlops/acme-prod/served/fraud';
const modelUri = `s3://acme-prod-models/${MODEL_ARTIFACT_LAYOUT.servedVersionPrefix('fraud', '${SERVED_VERSION}')}${MODEL_ARTIFACT_LAYOUT.archive}`;
/** The boot script of the variant at `index` of a fleet (e.g. 0 current, 1 candidate). */
const bootScript = (variant: string, index: number, acceleratorKind = AcceleratorKind.NVIDIA_GPU) => ['#!/bin/bash', ...fleetUserDataCommands({
  imageUri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/serving:1', modelUri, port: 8080, acceleratorKind, servedState: { parameterName: PARAMETER, variant, index },
})].join('\n');

describe('a fleet instance reading its version from the served state at boot', () => {
  test.each([
    ['current', 0, 'current=v7@90,candidate=v8@10', 'v7'],
    ['candidate', 1, 'current=v7@90,candidate=v8@10', 'v8'],
    ['candidate', 1, 'current=v8@0,candidate=v8@100', 'v8'],
    ['b', 1, 'a=v1@50,b=v2@30,c=v3@20', 'v2'],
    ['current', 0, 'current=2026-11-30.run_4@100', '2026-11-30.run_4'],
    // An all-at-once fleet's one variant is 'candidate'; promotion writes 'current=<version>@100': the position counts,
    // as CloudFormation reads it on the CDK side.
    ['candidate', 0, 'current=v9@100', 'v9'],
  ])('variant %s (entry %d) of %s serves %s: MODEL_URI is core\'s served archive of that version', (variant, index, state, version) => {
    const run = runBootScript(bootScript(variant, index), state);
    expect(run.stderr).not.toMatch(/not serving/);
    expect(run.status).toBe(0);
    expect(run.modelUri).toBe(`s3://acme-prod-models/${MODEL_ARTIFACT_LAYOUT.servedVersionPrefix('fraud', version)}${MODEL_ARTIFACT_LAYOUT.archive}`);
    // Read from the one parameter, in the instance's region.
    expect(run.awsCalls.filter((c) => c.startsWith('ssm '))).toEqual([`ssm get-parameter --region us-east-1 --name ${PARAMETER} --query Parameter.Value --output text`]);
  });

  test.each([
    ['a state without the variant\'s entry', 'current=v7@100', /served state \/mlops\/acme-prod\/served\/fraud \('current=v7@100'\) has no version in entry 2 \(variant candidate\): not serving/],
    ['an entry without a weight', 'current=v7@90,candidate=v8', /has no version in entry 2 \(variant candidate\)/],
    ['an entry without a variant', 'current=v7@90,v8@10', /has no version in entry 2/],
    ['a version that is not one', 'current=v7@90,candidate=v8;rm@10', /has no version in entry 2/],
    ['a version with a space', 'current=v7@90,candidate=v 8@10', /has no version in entry 2/],
    ['an empty value', '', /has no version in entry 2/],
    ['a missing parameter', undefined, /ParameterNotFound[\s\S]*cannot read the served state \/mlops\/acme-prod\/served\/fraud: not serving/],
  ])('%s fails the boot loudly and starts no model', (_what, state, message) => {
    const run = runBootScript(bootScript('candidate', 1, AcceleratorKind.NONE), state);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(run.modelUri).toBeUndefined();
  });

  test('the script names no version: it is the same whatever promotion serves', () => {
    expect(bootScript('current', 0)).not.toMatch(/v\d/);
    expect(servedVersionBootCommands({ parameterName: PARAMETER, variant: 'current', index: 0 }).join('\n')).toContain(`--name '${PARAMETER}'`);
  });

  test('a model URI naming ${SERVED_VERSION} without a served state (or the reverse) is a programming error', () => {
    const base = { imageUri: 'i', port: 8080, acceleratorKind: AcceleratorKind.NONE };
    expect(() => fleetUserDataCommands({ ...base, modelUri })).toThrow(/modelUri must name \$\{SERVED_VERSION\} exactly when/);
    expect(() => fleetUserDataCommands({ ...base, modelUri: 's3://b/served/fraud/v1/model.tar.gz', servedState: { parameterName: PARAMETER, variant: 'current', index: 0 } }))
      .toThrow(/modelUri must name \$\{SERVED_VERSION\} exactly when/);
  });
});
