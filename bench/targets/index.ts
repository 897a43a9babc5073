import { baselineTarget } from './baseline-target.ts';
import { gatehouseTarget } from './gatehouse-target.ts';
import type { TargetDefinition } from './target.ts';

/** Every target, in the order each scenario visits them. */
export const allTargets: readonly TargetDefinition[] = [
  gatehouseTarget('real'),
  gatehouseTarget('embedded'),
  baselineTarget('memory'),
  baselineTarget('redis'),
];
