import * as iam from 'aws-cdk-lib/aws-iam';
import type { NeutralStatement } from '../../core';

/** A core (engine-neutral) policy statement as a CDK `PolicyStatement`. */
export function renderNeutralStatement(s: NeutralStatement): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: s.sid, effect: s.effect === 'Deny' ? iam.Effect.DENY : iam.Effect.ALLOW, actions: s.actions, resources: s.resources, conditions: s.conditions,
  });
}
