import * as fs from 'fs';
import * as path from 'path';
import { Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { cfnLint, collectAcknowledgements, newApp, synthesizeWithPacks, tempDir } from '../support/gate';
import { applyCompliancePacks } from 'mlops-constructs';

// The gate must fail when it should: these tests feed it a broken template and a non-compliant stack.
describe('the gate fails when it should', () => {
  test('a template with a cfn-lint error is reported', () => {
    const dir = tempDir('lint');
    const file = path.join(dir, 'broken.template.json');
    fs.writeFileSync(file, JSON.stringify({
      Resources: { Models: { Type: 'AWS::S3::Bucket', Properties: { BucketNam: 'typo' } } },
    }));
    const findings = cfnLint([file]);
    expect(findings).toEqual([expect.objectContaining({ rule: 'E3002', level: 'Error', message: expect.stringMatching(/BucketNam/) })]);
  });

  test('a template with only a cfn-lint warning is reported too', () => {
    const dir = tempDir('lint');
    const file = path.join(dir, 'warning.template.json');
    fs.writeFileSync(file, JSON.stringify({
      Parameters: { Unused: { Type: 'String' } },
      Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
    }));
    expect(cfnLint([file])).toEqual([expect.objectContaining({ rule: 'W2001', level: 'Warning' })]);
  });

  test('an unacknowledged cdk-nag finding fails synthesis', () => {
    const app = newApp();
    const stack = new Stack(app, 'NonCompliant');
    new sqs.Queue(stack, 'Queue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    applyCompliancePacks(app);
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });

  test('the findings name the rule and the resource', () => {
    const app = newApp();
    const stack = new Stack(app, 'NonCompliant');
    new sqs.Queue(stack, 'Queue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    applyCompliancePacks(app);
    const { findings } = synthesizeWithPacks(app);
    expect(findings).toEqual(expect.arrayContaining([
      expect.objectContaining({ rule: 'AwsSolutions-SQS4', resource: 'NonCompliant/Queue/Resource' }),
    ]));
  });

  test('an acknowledged finding no longer fails, but only that finding', () => {
    const app = newApp();
    const stack = new Stack(app, 'Acknowledged');
    const queue = new sqs.Queue(stack, 'Queue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    applyCompliancePacks(app);
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS4', reason: 'test: SSL enforcement is acknowledged' });
    const rules = synthesizeWithPacks(app).findings.map((f) => f.rule);
    expect(rules).not.toContain('AwsSolutions-SQS4');
    expect(rules.length).toBeGreaterThan(0);
    // The compliance-doc check sees the acknowledgement with its path and reason.
    expect(collectAcknowledgements(app)).toEqual([
      { id: 'AwsSolutions-SQS4', reason: 'test: SSL enforcement is acknowledged', stack: 'Acknowledged', path: 'Queue' },
    ]);
  });
});
