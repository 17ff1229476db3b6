import { EnvironmentProfile, HOURS_PER_MONTH_ALWAYS_ON, ValidationError } from 'mlops-constructs';

describe('EnvironmentProfile presets', () => {
  test('dev: destroyable, single AZ, scales to zero outside 08-20 Mon-Fri UTC', () => {
    const dev = EnvironmentProfile.dev();
    expect(dev).toMatchObject({
      name: 'dev',
      allowDestroy: true,
      deletionProtection: false,
      multiAz: false,
      requireTls: false,
      minCapacity: { inferenceInstances: 0, trainingVcpus: 0, databaseAcu: 0 },
      alarms: { latencyP99Ms: 2000, errorRatePercent: 5, gpuUtilizationLowPercent: 10, driftScore: 0.3, fairnessGap: 0.2 },
      budget: { monthlyLimitUsd: 2000, alertThresholdsPercent: [50, 80, 100], denyGpuAtPercent: 100 },
      workingHours: { startHour: 8, endHour: 20, days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], timeZone: 'UTC' },
      logRetentionDays: 14,
      backupRetentionDays: 1,
      noncurrentVersionTransitionDays: 30,
      noncurrentVersionExpirationDays: 90,
    });
    expect(dev.scalesToZeroOffHours).toBe(true);
    expect(dev.retainsData).toBe(false);
  });

  test('staging: retained and protected, multi-AZ, always on', () => {
    const staging = EnvironmentProfile.staging();
    expect(staging).toMatchObject({
      name: 'staging',
      allowDestroy: false,
      deletionProtection: true,
      multiAz: true,
      requireTls: true,
      minCapacity: { inferenceInstances: 1, trainingVcpus: 0, databaseAcu: 0.5 },
      alarms: { latencyP99Ms: 1000, errorRatePercent: 2, gpuUtilizationLowPercent: 15, driftScore: 0.25, fairnessGap: 0.1 },
      budget: { monthlyLimitUsd: 10000, alertThresholdsPercent: [50, 80, 100], denyGpuAtPercent: 100 },
      logRetentionDays: 90,
      backupRetentionDays: 7,
      noncurrentVersionTransitionDays: 30,
      noncurrentVersionExpirationDays: 180,
    });
    expect(staging.workingHours).toBeUndefined();
    expect(staging.scalesToZeroOffHours).toBe(false);
    expect(staging.retainsData).toBe(true);
  });

  test('prod: retained and protected, warm capacity, long retention', () => {
    const prod = EnvironmentProfile.prod();
    expect(prod).toMatchObject({
      name: 'prod',
      allowDestroy: false,
      deletionProtection: true,
      multiAz: true,
      requireTls: true,
      minCapacity: { inferenceInstances: 2, trainingVcpus: 0, databaseAcu: 1 },
      alarms: { latencyP99Ms: 500, errorRatePercent: 1, gpuUtilizationLowPercent: 20, driftScore: 0.2, fairnessGap: 0.1 },
      budget: { monthlyLimitUsd: 50000, alertThresholdsPercent: [50, 80, 90, 100], denyGpuAtPercent: 110 },
      logRetentionDays: 365,
      backupRetentionDays: 30,
      noncurrentVersionTransitionDays: 30,
      noncurrentVersionExpirationDays: 365,
    });
    expect(prod.workingHours).toBeUndefined();
  });

  test('named() finds presets and rejects unknown names', () => {
    expect(EnvironmentProfile.named('staging').name).toBe('staging');
    expect(() => EnvironmentProfile.named('qa')).toThrow(/'name' is not a preset \(received "qa"\)\. Fix: use 'dev', 'staging' or 'prod'/);
  });
});

describe('EnvironmentProfile overrides', () => {
  test('override a single field and part of a group, keeping the rest', () => {
    const p = EnvironmentProfile.dev({ budget: { monthlyLimitUsd: 500 }, alarms: { latencyP99Ms: 900 } });
    expect(p.budget).toEqual({ monthlyLimitUsd: 500, alertThresholdsPercent: [50, 80, 100], denyGpuAtPercent: 100 });
    expect(p.alarms.latencyP99Ms).toBe(900);
    expect(p.alarms.errorRatePercent).toBe(5);
  });

  test('with() returns a new validated profile and leaves the original alone', () => {
    const prod = EnvironmentProfile.prod();
    const eu = prod.with({ name: 'prod-eu', workingHours: { startHour: 7, endHour: 19, timeZone: 'Europe/Berlin' } });
    expect(eu.name).toBe('prod-eu');
    expect(eu.workingHours).toEqual({ startHour: 7, endHour: 19, days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], timeZone: 'Europe/Berlin' });
    expect(prod.workingHours).toBeUndefined();
  });

  test('workingHours: null switches scale-to-zero off', () => {
    expect(EnvironmentProfile.dev({ workingHours: null }).scalesToZeroOffHours).toBe(false);
  });

  test('profiles are immutable', () => {
    const dev = EnvironmentProfile.dev();
    expect(() => { (dev as any).allowDestroy = false; }).toThrow(TypeError);
    expect(() => { (dev.budget.alertThresholdsPercent as number[]).push(120); }).toThrow(TypeError);
  });

  test('a data-destroying profile cannot be deletion-protected', () => {
    expect(() => EnvironmentProfile.dev({ deletionProtection: true })).toThrow(ValidationError);
  });
});

describe('schedules derived from working hours', () => {
  test('dev scales up at 8 and down at 20 on weekdays', () => {
    expect(EnvironmentProfile.dev().offHoursSchedule()).toEqual({
      scaleUp: { minute: '0', hour: '8', weekDay: 'MON,TUE,WED,THU,FRI' },
      scaleDown: { minute: '0', hour: '20', weekDay: 'MON,TUE,WED,THU,FRI' },
      timeZone: 'UTC',
    });
  });

  test('an end hour of 24 scales down at 23:59', () => {
    const p = EnvironmentProfile.dev({ workingHours: { startHour: 6, endHour: 24, days: ['SAT'] } });
    expect(p.offHoursSchedule()!.scaleDown).toEqual({ minute: '59', hour: '23', weekDay: 'SAT' });
  });

  test('always-on profiles have no schedule and run 730 hours a month', () => {
    expect(EnvironmentProfile.prod().offHoursSchedule()).toBeUndefined();
    expect(EnvironmentProfile.prod().scheduledHoursPerMonth).toBe(HOURS_PER_MONTH_ALWAYS_ON);
  });

  test('dev runs 12 h x 5 days x 52/12 weeks = 260 hours a month', () => {
    expect(EnvironmentProfile.dev().scheduledHoursPerMonth).toBeCloseTo(260, 6);
  });
});
