import { Check, ValidationError } from './validation';

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export type Weekday = typeof WEEKDAYS[number];

/** The hours in which people work and GPU capacity is worth keeping warm. */
export interface WorkingHours {
  /** First hour of the working day, 0-23. */
  readonly startHour: number;
  /** Hour the working day ends (exclusive), 1-24, after `startHour`. */
  readonly endHour: number;
  /**
   * Days the schedule applies to; outside them capacity stays at zero.
   * @default - Monday to Friday
   */
  readonly days?: readonly Weekday[];
  /**
   * IANA time zone the hours are in.
   * @default 'UTC'
   */
  readonly timeZone?: string;
}

/** Alarm thresholds shared by every engine's monitoring. */
export interface AlarmThresholds {
  /** p99 model latency above which serving is unhealthy, in milliseconds. */
  readonly latencyP99Ms: number;
  /** Share of requests answered with a 5xx, in percent, above which serving is unhealthy. */
  readonly errorRatePercent: number;
  /** GPU utilization below which a running fleet is flagged as wasted spend, in percent. */
  readonly gpuUtilizationLowPercent: number;
  /** Data drift score (0-1, e.g. population stability index scaled) above which drift alarms. */
  readonly driftScore: number;
  /** Largest allowed fairness gap between groups (0-1, e.g. demographic parity difference). */
  readonly fairnessGap: number;
}

/** The budget an environment may spend each month, and when the platform acts. */
export interface BudgetPolicy {
  /** Monthly limit in US dollars. */
  readonly monthlyLimitUsd: number;
  /** Percentages of the limit at which people are notified, ascending. */
  readonly alertThresholdsPercent: readonly number[];
  /** Percentage of the limit at which new GPU capacity is denied. */
  readonly denyGpuAtPercent: number;
}

/** Capacity an environment never goes below while in working hours. */
export interface MinimumCapacity {
  /** Instances per inference fleet or endpoint variant. */
  readonly inferenceInstances: number;
  /** vCPUs kept running in a training cluster. */
  readonly trainingVcpus: number;
  /** Aurora Serverless v2 capacity units (0 lets the registry pause when idle). */
  readonly databaseAcu: number;
}

/** Every field of a profile. Presets fill all of them; overrides change some. */
export interface EnvironmentProfileProps {
  /** Environment name, used in names and the `environment` tag. Lower case, 1-20 characters. */
  readonly name: string;
  /** Whether stateful data (buckets, databases, keys, registries, logs) may be destroyed with the stack. */
  readonly allowDestroy: boolean;
  /** Whether stateful resources that support it are deletion-protected. */
  readonly deletionProtection: boolean;
  /** Whether services spread over more than one availability zone. */
  readonly multiAz: boolean;
  /**
   * Whether every load balancer the library creates must serve HTTPS (a `certificate` is then required, and port 80
   * only redirects to 443). Off in dev, where a load balancer serves HTTP unless given a certificate.
   */
  readonly requireTls: boolean;
  /** Minimum capacities during working hours. */
  readonly minCapacity: MinimumCapacity;
  /** Alarm thresholds. */
  readonly alarms: AlarmThresholds;
  /** Monthly budget. */
  readonly budget: BudgetPolicy;
  /** Working hours; when set, GPU capacity scales to zero outside them. Undefined means always on. */
  readonly workingHours?: WorkingHours;
  /** Log retention in days (one of CloudWatch's accepted values). */
  readonly logRetentionDays: number;
  /** Database backup retention in days, 1-35. */
  readonly backupRetentionDays: number;
  /** Days after which noncurrent object versions move to infrequent access (30 or more). */
  readonly noncurrentVersionTransitionDays: number;
  /** Days after which noncurrent object versions expire; after the transition. */
  readonly noncurrentVersionExpirationDays: number;
}

/** Per-field overrides of a preset; nested groups may be overridden partly. */
export interface EnvironmentProfileOverrides {
  readonly name?: string;
  readonly allowDestroy?: boolean;
  readonly deletionProtection?: boolean;
  readonly multiAz?: boolean;
  readonly requireTls?: boolean;
  readonly minCapacity?: Partial<MinimumCapacity>;
  readonly alarms?: Partial<AlarmThresholds>;
  readonly budget?: Partial<BudgetPolicy>;
  /** `null` switches working hours off (always on). */
  readonly workingHours?: WorkingHours | null;
  readonly logRetentionDays?: number;
  readonly backupRetentionDays?: number;
  readonly noncurrentVersionTransitionDays?: number;
  readonly noncurrentVersionExpirationDays?: number;
}

const WEEKDAYS_ONLY: readonly Weekday[] = ['MON', 'TUE', 'WED', 'THU', 'FRI'];

const DEV: EnvironmentProfileProps = {
  name: 'dev',
  allowDestroy: true,
  deletionProtection: false,
  multiAz: false,
  requireTls: false,
  minCapacity: { inferenceInstances: 0, trainingVcpus: 0, databaseAcu: 0 },
  alarms: { latencyP99Ms: 2000, errorRatePercent: 5, gpuUtilizationLowPercent: 10, driftScore: 0.3, fairnessGap: 0.2 },
  budget: { monthlyLimitUsd: 2000, alertThresholdsPercent: [50, 80, 100], denyGpuAtPercent: 100 },
  workingHours: { startHour: 8, endHour: 20, days: WEEKDAYS_ONLY, timeZone: 'UTC' },
  logRetentionDays: 14,
  backupRetentionDays: 1,
  noncurrentVersionTransitionDays: 30,
  noncurrentVersionExpirationDays: 90,
};

const STAGING: EnvironmentProfileProps = {
  name: 'staging',
  allowDestroy: false,
  deletionProtection: true,
  multiAz: true,
  requireTls: true,
  minCapacity: { inferenceInstances: 1, trainingVcpus: 0, databaseAcu: 0.5 },
  alarms: { latencyP99Ms: 1000, errorRatePercent: 2, gpuUtilizationLowPercent: 15, driftScore: 0.25, fairnessGap: 0.1 },
  budget: { monthlyLimitUsd: 10000, alertThresholdsPercent: [50, 80, 100], denyGpuAtPercent: 100 },
  workingHours: undefined,
  logRetentionDays: 90,
  backupRetentionDays: 7,
  noncurrentVersionTransitionDays: 30,
  noncurrentVersionExpirationDays: 180,
};

const PROD: EnvironmentProfileProps = {
  name: 'prod',
  allowDestroy: false,
  deletionProtection: true,
  multiAz: true,
  requireTls: true,
  minCapacity: { inferenceInstances: 2, trainingVcpus: 0, databaseAcu: 1 },
  alarms: { latencyP99Ms: 500, errorRatePercent: 1, gpuUtilizationLowPercent: 20, driftScore: 0.2, fairnessGap: 0.1 },
  budget: { monthlyLimitUsd: 50000, alertThresholdsPercent: [50, 80, 90, 100], denyGpuAtPercent: 110 },
  workingHours: undefined,
  logRetentionDays: 365,
  backupRetentionDays: 30,
  noncurrentVersionTransitionDays: 30,
  noncurrentVersionExpirationDays: 365,
};

/**
 * The decisions that differ between environments, made once and rendered by every engine:
 * whether data may be destroyed, how much capacity stays warm, when alarms fire, what may be spent.
 *
 * @example
 * const profile = EnvironmentProfile.dev({ budget: { monthlyLimitUsd: 500 } });
 */
export class EnvironmentProfile implements EnvironmentProfileProps {
  /** Development: destroyable data, single AZ, scale to zero outside working hours, small budget. */
  public static dev(overrides: EnvironmentProfileOverrides = {}): EnvironmentProfile {
    return new EnvironmentProfile(DEV).with(overrides);
  }

  /** Staging: retained and protected data, multi-AZ, always on, medium budget. */
  public static staging(overrides: EnvironmentProfileOverrides = {}): EnvironmentProfile {
    return new EnvironmentProfile(STAGING).with(overrides);
  }

  /** Production: retained and protected data, multi-AZ, warm capacity, long retention. */
  public static prod(overrides: EnvironmentProfileOverrides = {}): EnvironmentProfile {
    return new EnvironmentProfile(PROD).with(overrides);
  }

  /** Looks a preset up by name (`dev`, `staging`, `prod`). */
  public static named(name: string, overrides: EnvironmentProfileOverrides = {}): EnvironmentProfile {
    switch (name) {
      case 'dev': return EnvironmentProfile.dev(overrides);
      case 'staging': return EnvironmentProfile.staging(overrides);
      case 'prod': return EnvironmentProfile.prod(overrides);
      default:
        throw new ValidationError({
          scope: 'EnvironmentProfile',
          prop: 'name',
          value: name,
          problem: 'is not a preset',
          fix: "use 'dev', 'staging' or 'prod', or start from a preset and override 'name'.",
        });
    }
  }

  public readonly name: string;
  public readonly allowDestroy: boolean;
  public readonly deletionProtection: boolean;
  public readonly multiAz: boolean;
  public readonly requireTls: boolean;
  public readonly minCapacity: MinimumCapacity;
  public readonly alarms: AlarmThresholds;
  public readonly budget: BudgetPolicy;
  public readonly workingHours?: WorkingHours;
  public readonly logRetentionDays: number;
  public readonly backupRetentionDays: number;
  public readonly noncurrentVersionTransitionDays: number;
  public readonly noncurrentVersionExpirationDays: number;

  private constructor(props: EnvironmentProfileProps) {
    this.name = props.name;
    this.allowDestroy = props.allowDestroy;
    this.deletionProtection = props.deletionProtection;
    this.multiAz = props.multiAz;
    this.requireTls = props.requireTls;
    this.minCapacity = Object.freeze({ ...props.minCapacity });
    this.alarms = Object.freeze({ ...props.alarms });
    this.budget = Object.freeze({ ...props.budget, alertThresholdsPercent: Object.freeze([...props.budget.alertThresholdsPercent]) });
    this.workingHours = props.workingHours
      ? Object.freeze({ days: WEEKDAYS_ONLY, timeZone: 'UTC', ...props.workingHours })
      : undefined;
    this.logRetentionDays = props.logRetentionDays;
    this.backupRetentionDays = props.backupRetentionDays;
    this.noncurrentVersionTransitionDays = props.noncurrentVersionTransitionDays;
    this.noncurrentVersionExpirationDays = props.noncurrentVersionExpirationDays;
    validateProfile(this);
    Object.freeze(this);
  }

  /** A copy of this profile with some fields changed; validated like a preset. */
  public with(overrides: EnvironmentProfileOverrides): EnvironmentProfile {
    const workingHours = overrides.workingHours === null
      ? undefined
      : overrides.workingHours ?? this.workingHours;
    return new EnvironmentProfile({
      name: overrides.name ?? this.name,
      allowDestroy: overrides.allowDestroy ?? this.allowDestroy,
      deletionProtection: overrides.deletionProtection ?? this.deletionProtection,
      multiAz: overrides.multiAz ?? this.multiAz,
      requireTls: overrides.requireTls ?? this.requireTls,
      minCapacity: { ...this.minCapacity, ...overrides.minCapacity },
      alarms: { ...this.alarms, ...overrides.alarms },
      budget: { ...this.budget, ...overrides.budget },
      workingHours,
      logRetentionDays: overrides.logRetentionDays ?? this.logRetentionDays,
      backupRetentionDays: overrides.backupRetentionDays ?? this.backupRetentionDays,
      noncurrentVersionTransitionDays: overrides.noncurrentVersionTransitionDays ?? this.noncurrentVersionTransitionDays,
      noncurrentVersionExpirationDays: overrides.noncurrentVersionExpirationDays ?? this.noncurrentVersionExpirationDays,
    });
  }

  /** Whether GPU capacity scales to zero outside working hours. */
  public get scalesToZeroOffHours(): boolean {
    return this.workingHours !== undefined;
  }

  /** Whether stateful resources are kept when removed from the stack or the stack is deleted. */
  public get retainsData(): boolean {
    return !this.allowDestroy;
  }

  /**
   * Hours per month that scheduled capacity runs: working hours on working days, or every hour when
   * the profile is always on. Used by the cost model.
   */
  public get scheduledHoursPerMonth(): number {
    if (!this.workingHours) return HOURS_PER_MONTH_ALWAYS_ON;
    const days = (this.workingHours.days ?? WEEKDAYS_ONLY).length;
    return (this.workingHours.endHour - this.workingHours.startHour) * days * (52 / 12);
  }

  /**
   * Cron fields for scaling down at the end and up at the start of the working day, or undefined
   * when the profile is always on. Engines render them (EventBridge, Auto Scaling, KEDA cron).
   */
  public offHoursSchedule(): { readonly scaleUp: CronFields; readonly scaleDown: CronFields; readonly timeZone: string } | undefined {
    const wh = this.workingHours;
    if (!wh) return undefined;
    const days = (wh.days ?? WEEKDAYS_ONLY).join(',');
    return {
      scaleUp: { minute: '0', hour: String(wh.startHour), weekDay: days },
      // endHour 24 means midnight at the end of the day: scale down at 23:59 on the same days.
      scaleDown: wh.endHour === 24
        ? { minute: '59', hour: '23', weekDay: days }
        : { minute: '0', hour: String(wh.endHour), weekDay: days },
      timeZone: wh.timeZone ?? 'UTC',
    };
  }
}

/** Cron fields in the order EventBridge and Auto Scaling use them. */
export interface CronFields {
  readonly minute: string;
  readonly hour: string;
  readonly weekDay: string;
}

/** 365 days * 24 hours / 12 months, the convention AWS pricing pages use. */
export const HOURS_PER_MONTH_ALWAYS_ON = 730;

function validateProfile(p: EnvironmentProfile): void {
  const check = new Check(`EnvironmentProfile(${p.name})`);
  check.matches('name', p.name, /^[a-z][a-z0-9-]{0,19}$/, 'lower-case letters, digits and hyphens, starting with a letter, at most 20 characters');
  if (p.allowDestroy && p.deletionProtection) {
    check.fail('allowDestroy', p.allowDestroy, "cannot be true while 'deletionProtection' is true", "set 'allowDestroy: false' or 'deletionProtection: false'.");
  }
  check.nonNegativeInteger('minCapacity.inferenceInstances', p.minCapacity.inferenceInstances);
  check.nonNegativeInteger('minCapacity.trainingVcpus', p.minCapacity.trainingVcpus);
  check.numberInRange('minCapacity.databaseAcu', p.minCapacity.databaseAcu, 0, 256);
  if (p.minCapacity.databaseAcu % 0.5 !== 0) {
    check.fail('minCapacity.databaseAcu', p.minCapacity.databaseAcu, 'must be a multiple of 0.5', 'use 0, 0.5, 1, 1.5 ...');
  }
  check.positiveNumber('alarms.latencyP99Ms', p.alarms.latencyP99Ms);
  check.numberInRange('alarms.errorRatePercent', p.alarms.errorRatePercent, 0.01, 100);
  check.numberInRange('alarms.gpuUtilizationLowPercent', p.alarms.gpuUtilizationLowPercent, 0, 100);
  check.numberInRange('alarms.driftScore', p.alarms.driftScore, 0.001, 1);
  check.numberInRange('alarms.fairnessGap', p.alarms.fairnessGap, 0.001, 1);
  check.positiveNumber('budget.monthlyLimitUsd', p.budget.monthlyLimitUsd);
  const thresholds = p.budget.alertThresholdsPercent;
  if (thresholds.length === 0) {
    check.fail('budget.alertThresholdsPercent', thresholds, 'must have at least one threshold', 'give ascending percentages such as [50, 80, 100].');
  }
  thresholds.forEach((t, i) => check.numberInRange(`budget.alertThresholdsPercent[${i}]`, t, 1, 1000));
  for (let i = 1; i < thresholds.length; i++) {
    if (thresholds[i] <= thresholds[i - 1]) {
      check.fail('budget.alertThresholdsPercent', thresholds, 'must be strictly ascending', 'sort the percentages and remove duplicates, e.g. [50, 80, 100].');
    }
  }
  check.numberInRange('budget.denyGpuAtPercent', p.budget.denyGpuAtPercent, 1, 1000);
  if (p.workingHours) {
    const wh = p.workingHours;
    check.integerInRange('workingHours.startHour', wh.startHour, 0, 23);
    check.integerInRange('workingHours.endHour', wh.endHour, 1, 24);
    if (wh.endHour <= wh.startHour) {
      check.fail('workingHours.endHour', wh.endHour, `must be after 'workingHours.startHour' (${wh.startHour})`, 'working hours cannot wrap midnight; use an end hour later than the start hour.');
    }
    const days = wh.days ?? WEEKDAYS_ONLY;
    if (days.length === 0) {
      check.fail('workingHours.days', days, 'must name at least one day', "list days such as ['MON', 'TUE', 'WED', 'THU', 'FRI'], or set 'workingHours: null' to stay always on.");
    }
    days.forEach((d, i) => check.oneOf(`workingHours.days[${i}]`, d, WEEKDAYS));
    if (new Set(days).size !== days.length) {
      check.fail('workingHours.days', days, 'must not repeat a day', 'list each day once.');
    }
    check.matches('workingHours.timeZone', wh.timeZone ?? 'UTC', /^(UTC|[A-Za-z_]+(\/[A-Za-z0-9_+-]+)+)$/, "an IANA time zone such as 'UTC' or 'Europe/Berlin'");
  }
  check.oneOf('logRetentionDays', p.logRetentionDays, LOG_RETENTION_DAYS, `use a value CloudWatch Logs accepts: ${LOG_RETENTION_DAYS.join(', ')}.`);
  check.integerInRange('backupRetentionDays', p.backupRetentionDays, 1, 35, 'Aurora keeps automated backups for 1 to 35 days; use a snapshot plan for longer retention.');
  check.integerInRange('noncurrentVersionTransitionDays', p.noncurrentVersionTransitionDays, 30, 36500, 'S3 moves objects to infrequent access after 30 days at the earliest.');
  check.positiveInteger('noncurrentVersionExpirationDays', p.noncurrentVersionExpirationDays);
  if (p.noncurrentVersionExpirationDays <= p.noncurrentVersionTransitionDays) {
    check.fail('noncurrentVersionExpirationDays', p.noncurrentVersionExpirationDays,
      `must be later than 'noncurrentVersionTransitionDays' (${p.noncurrentVersionTransitionDays})`,
      'expire noncurrent versions after they have moved to cheaper storage, or raise the expiry.');
  }
}
