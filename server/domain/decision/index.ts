export { decide, MIN_REGRESSION_MACHINES } from './decide';
export type { ArmSummary, Decision, DecisionInput, DecisionRule, NewInCandidate, Verdict } from './types';
export { halfWidth, tauFor, TAU_FLOOR } from './bound';
export { aggregateArm, armVariance, floorRate } from './stats';
export type { ArmAggregate } from './stats';
export { dataQualityAlarms, sampleRatio, srmTest, srmWindowAfter } from './alarms';
export type { SrmResult } from './alarms';
export { chiSquare1Survival, erfc } from './chisq';
export { newInCandidate } from './tests';
