import { Check } from './validation';

/** How sensitive the data a resource holds is; drives retention and access rules. */
export enum DataClassification {
  PUBLIC = 'public',
  INTERNAL = 'internal',
  CONFIDENTIAL = 'confidential',
  RESTRICTED = 'restricted',
}

/** The cost-allocation and classification tags every resource carries. */
export interface MlopsTagsProps {
  /** Project (or platform) name. */
  readonly project: string;
  /** Environment name; normally the profile's name. */
  readonly environment: string;
  /**
   * Team that owns the resources.
   * @default - no team tag (shared platform resources)
   */
  readonly team?: string;
  /**
   * Cost center that pays for them.
   * @default - no cost-center tag
   */
  readonly costCenter?: string;
  /**
   * Classification of the data held.
   * @default DataClassification.INTERNAL
   */
  readonly dataClassification?: DataClassification;
}

/** Tag keys, shared by every engine (AWS tags, Kubernetes labels, Pulumi tags). */
export const TAG_KEYS = Object.freeze({
  project: 'mlops:project',
  environment: 'mlops:environment',
  team: 'mlops:team',
  costCenter: 'mlops:cost-center',
  dataClassification: 'mlops:data-classification',
});

/**
 * Template metadata key under which a delivery pipeline records its gate (source, synth and gate commands, and per
 * environment the review command, approval and disposable stacks); `mlops-review` blocks any change of it, which a
 * person then deploys (the pipeline must not change what gates it by deploying itself).
 */
export const DELIVERY_GATE_METADATA = 'mlops:delivery-gate';

/** Kubernetes label keys for the same tags (`:` is not allowed in label keys). */
export const LABEL_KEYS = Object.freeze({
  project: 'mlops-constructs.io/project',
  environment: 'mlops-constructs.io/environment',
  team: 'mlops-constructs.io/team',
  costCenter: 'mlops-constructs.io/cost-center',
  dataClassification: 'mlops-constructs.io/data-classification',
});

// Values must be valid AWS tag values and Kubernetes label values alike, so one set of tags works everywhere.
const TAG_VALUE = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const TAG_VALUE_TEXT = '1-63 letters, digits, ".", "_" or "-", starting and ending with a letter or digit (valid as an AWS tag and a Kubernetes label)';

/** Validated tags, rendered per engine. */
export class MlopsTags {
  public static of(props: MlopsTagsProps, scope = 'MlopsTags'): MlopsTags {
    return new MlopsTags(props, scope);
  }

  public readonly project: string;
  public readonly environment: string;
  public readonly team?: string;
  public readonly costCenter?: string;
  public readonly dataClassification: DataClassification;

  private constructor(props: MlopsTagsProps, scope: string) {
    const check = new Check(scope);
    check.matches('tags.project', props.project, TAG_VALUE, TAG_VALUE_TEXT);
    check.matches('tags.environment', props.environment, TAG_VALUE, TAG_VALUE_TEXT);
    check.matches('tags.team', props.team, TAG_VALUE, TAG_VALUE_TEXT);
    check.matches('tags.costCenter', props.costCenter, TAG_VALUE, TAG_VALUE_TEXT);
    check.oneOf('tags.dataClassification', props.dataClassification, Object.values(DataClassification));
    if (props.project === undefined) check.fail('tags.project', undefined, 'is required', 'name the project, e.g. "fraud-detection".');
    this.project = props.project;
    this.environment = props.environment;
    this.team = props.team;
    this.costCenter = props.costCenter;
    this.dataClassification = props.dataClassification ?? DataClassification.INTERNAL;
  }

  /** A copy with some tags changed, e.g. a team's own tags on a shared platform. */
  public with(props: Partial<MlopsTagsProps>, scope = 'MlopsTags'): MlopsTags {
    return new MlopsTags({ ...this.toProps(), ...props }, scope);
  }

  /** Tags as AWS tag key/value pairs. */
  public toAwsTags(): Record<string, string> {
    return this.render(TAG_KEYS);
  }

  /** Tags as Kubernetes labels. */
  public toKubernetesLabels(): Record<string, string> {
    return this.render(LABEL_KEYS);
  }

  private toProps(): MlopsTagsProps {
    return {
      project: this.project,
      environment: this.environment,
      team: this.team,
      costCenter: this.costCenter,
      dataClassification: this.dataClassification,
    };
  }

  private render(keys: typeof TAG_KEYS | typeof LABEL_KEYS): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [field, key] of Object.entries(keys) as [keyof MlopsTagsProps, string][]) {
      const value = this[field];
      if (value !== undefined) out[key] = value;
    }
    return out;
  }
}
