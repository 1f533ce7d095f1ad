import type { FleetQuery } from '../query/index.js';
import { deviceQuery } from '../query/index.js';
import type { AlertRule, RuleScope } from './ports.js';
import type { RuleCondition } from './rule-condition.js';
import { parseRuleCondition, parseRuleTarget } from './rule-condition.js';

/** A stored rule with its texts parsed once (rules are evaluated far more often than changed). */
export interface ParsedRule {
  rule: AlertRule;
  condition: RuleCondition;
  target: FleetQuery | null;
}

/** Throws FleetQuerySyntaxError if a stored text no longer parses. */
export function parseRule(rule: AlertRule): ParsedRule {
  return { rule, condition: parseRuleCondition(rule.condition), target: parseRuleTarget(rule.target) };
}

const NOT_DECOMMISSIONED: FleetQuery = {
  kind: 'not',
  operand: { kind: 'compare', field: { kind: 'status' }, op: '=', value: { kind: 'string', value: 'decommissioned' } },
};

/**
 * The devices a rule holds for right now, as one fleet query: its condition AND its
 * target AND not decommissioned (a decommissioned device raises nothing), optionally narrowed
 * to one device. Relative times (`lastSeen <= -10m`) count back from `now`.
 */
export function ruleScope(parsed: ParsedRule, options: { now: number; deviceId?: string | undefined }): RuleScope {
  const operands: FleetQuery[] = [NOT_DECOMMISSIONED, parsed.condition.when];
  if (parsed.target !== null) operands.push(parsed.target);
  if (options.deviceId !== undefined) {
    operands.push({ kind: 'compare', field: { kind: 'id' }, op: '=', value: { kind: 'string', value: options.deviceId } });
  }
  const tenantId = parsed.rule.tenantId;
  return { tenantId, ruleId: parsed.rule.id, devices: deviceQuery({ kind: 'and', operands }, options.now) };
}
