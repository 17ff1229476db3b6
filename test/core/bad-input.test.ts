import { CostModel, EnvironmentProfile, GpuInstance, MlopsTags, ValidationError } from 'mlops-constructs';

// Bad input to core gets a ValidationError that names the prop, the value and the fix.
const cases: Array<[string, () => unknown, RegExp]> = [
  ['profile name with upper case', () => EnvironmentProfile.dev({ name: 'Dev' }), /EnvironmentProfile\(Dev\): 'name' must be lower-case letters.*received "Dev"/],
  ['destroyable and protected', () => EnvironmentProfile.prod({ allowDestroy: true }), /'allowDestroy' cannot be true while 'deletionProtection' is true.*Fix: set 'allowDestroy: false'/],
  ['negative minimum inference instances', () => EnvironmentProfile.prod({ minCapacity: { inferenceInstances: -1 } }), /'minCapacity.inferenceInstances' must be a whole number of 0 or more \(received -1\)/],
  ['database ACU not a multiple of 0.5', () => EnvironmentProfile.prod({ minCapacity: { databaseAcu: 0.7 } }), /'minCapacity.databaseAcu' must be a multiple of 0.5 \(received 0.7\)/],
  ['error rate above 100%', () => EnvironmentProfile.prod({ alarms: { errorRatePercent: 150 } }), /'alarms.errorRatePercent' must be a number between 0.01 and 100 \(received 150\)/],
  ['zero latency threshold', () => EnvironmentProfile.prod({ alarms: { latencyP99Ms: 0 } }), /'alarms.latencyP99Ms' must be a number greater than 0/],
  ['drift score above 1', () => EnvironmentProfile.prod({ alarms: { driftScore: 2 } }), /'alarms.driftScore' must be a number between 0.001 and 1/],
  ['negative budget', () => EnvironmentProfile.dev({ budget: { monthlyLimitUsd: -5 } }), /'budget.monthlyLimitUsd' must be a number greater than 0 \(received -5\)/],
  ['no budget thresholds', () => EnvironmentProfile.dev({ budget: { alertThresholdsPercent: [] } }), /'budget.alertThresholdsPercent' must have at least one threshold/],
  ['budget thresholds not ascending', () => EnvironmentProfile.dev({ budget: { alertThresholdsPercent: [80, 50] } }), /'budget.alertThresholdsPercent' must be strictly ascending \(received \[80,50\]\)/],
  ['working day ending before it starts', () => EnvironmentProfile.dev({ workingHours: { startHour: 20, endHour: 8 } }), /'workingHours.endHour' must be after 'workingHours.startHour' \(20\).*cannot wrap midnight/],
  ['working hour 25', () => EnvironmentProfile.dev({ workingHours: { startHour: 25, endHour: 26 } }), /'workingHours.startHour' must be a whole number between 0 and 23 \(received 25\)/],
  ['unknown weekday', () => EnvironmentProfile.dev({ workingHours: { startHour: 8, endHour: 18, days: ['MON', 'FUN' as any] } }), /'workingHours.days\[1\]' must be one of "MON"/],
  ['repeated weekday', () => EnvironmentProfile.dev({ workingHours: { startHour: 8, endHour: 18, days: ['MON', 'MON'] } }), /'workingHours.days' must not repeat a day/],
  ['bad time zone', () => EnvironmentProfile.dev({ workingHours: { startHour: 8, endHour: 18, timeZone: 'CET+1 ' } }), /'workingHours.timeZone' must be an IANA time zone/],
  ['log retention CloudWatch does not accept', () => EnvironmentProfile.prod({ logRetentionDays: 100 }), /'logRetentionDays' must be one of .*received 100.*Fix: use a value CloudWatch Logs accepts/],
  ['backup retention of 40 days', () => EnvironmentProfile.prod({ backupRetentionDays: 40 }), /'backupRetentionDays' must be a whole number between 1 and 35 \(received 40\)/],
  ['backup retention of 0 days', () => EnvironmentProfile.prod({ backupRetentionDays: 0 }), /'backupRetentionDays'.*received 0/],
  ['noncurrent transition before 30 days', () => EnvironmentProfile.prod({ noncurrentVersionTransitionDays: 10 }), /'noncurrentVersionTransitionDays'.*received 10.*30 days at the earliest/],
  ['noncurrent expiry before transition', () => EnvironmentProfile.prod({ noncurrentVersionExpirationDays: 30 }), /'noncurrentVersionExpirationDays' must be later than 'noncurrentVersionTransitionDays' \(30\) \(received 30\)/],
  ['tag value with spaces', () => MlopsTags.of({ project: 'fraud detection', environment: 'dev' }), /'tags.project' must be 1-63 letters.*received "fraud detection"/],
  ['missing project tag', () => MlopsTags.of({ environment: 'dev' } as any), /'tags.project' is required/],
  ['unknown data classification', () => MlopsTags.of({ project: 'p', environment: 'dev', dataClassification: 'secret' as any }), /'tags.dataClassification' must be one of "public", "internal", "confidential", "restricted"/],
  ['unknown instance type', () => GpuInstance.of('g7.xlarge'), /'instanceType' is not in the instance catalog \(received "g7.xlarge"\)\. Fix: use a type of the families g4dn, g5/],
  ['negative price override', () => new CostModel({ instanceHourlyUsd: { 'g5.xlarge': -1 } }), /'instanceHourlyUsd.g5.xlarge' must be a number greater than 0/],
];

describe('bad input to core', () => {
  test(`covers at least 15 cases (has ${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  test.each(cases)('%s', (_name, build, message) => {
    expect(build).toThrow(ValidationError);
    expect(build).toThrow(message);
    try {
      build();
    } catch (e) {
      expect((e as Error).message).toMatch(/Fix: .+/);
    }
  });
});
