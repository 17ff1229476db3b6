import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { DataClassification, EnvironmentProfile, MlopsTags, ValidationError } from '../core';
import { attachProfile } from './private/scope';

export interface MlopsChartProps extends ChartProps {
  /** The environment's profile; every construct in the chart takes its defaults from it. */
  readonly profile: EnvironmentProfile;
  /** Project name for the `mlops-constructs.io/project` label. */
  readonly project: string;
  /**
   * Owning team for the `mlops-constructs.io/team` label.
   * @default - no team label (a `TeamNamespace` adds its own)
   */
  readonly team?: string;
  /**
   * Cost center for the `mlops-constructs.io/cost-center` label.
   * @default - no cost-center label
   */
  readonly costCenter?: string;
  /**
   * Classification of the data the workloads handle.
   * @default DataClassification.INTERNAL
   */
  readonly dataClassification?: DataClassification;
}

/**
 * The Kubernetes counterpart of `MlopsStack`: a cdk8s Chart that carries an environment's profile for the
 * constructs inside it and labels every object with the cost-allocation tags.
 */
export class MlopsChart extends Chart {
  public readonly profile: EnvironmentProfile;
  public readonly mlopsTags: MlopsTags;

  constructor(scope: Construct, id: string, props: MlopsChartProps) {
    // Checked by shape, not instanceof, so a profile from another copy of the library is accepted.
    if (typeof props?.profile?.name !== 'string' || typeof props.profile.allowDestroy !== 'boolean') {
      throw new ValidationError({
        scope: [...scope.node.scopes.map((s) => s.node.id).filter((s) => s), id].join('/'),
        prop: 'profile',
        value: props?.profile,
        problem: 'must be an EnvironmentProfile',
        fix: 'pass EnvironmentProfile.dev(), .staging() or .prod() (with overrides if needed).',
      });
    }
    const tags = MlopsTags.of({
      project: props.project,
      environment: props.profile.name,
      team: props.team,
      costCenter: props.costCenter,
      dataClassification: props.dataClassification,
    }, id);
    super(scope, id, { ...props, labels: { ...tags.toKubernetesLabels(), ...props.labels } });
    this.profile = props.profile;
    this.mlopsTags = tags;
    attachProfile(this, this.profile, this.mlopsTags);
  }
}
