/**
 * The CASL view of the same policy: a host can call `ability.can('send_messages')`
 * in its own code and read the reason from CASL (`relevantRuleFor(action).reason`
 * or `ForbiddenError`). Abilities are built from {@link computeCapabilities}, so
 * the two never disagree, and are cached per account state, not built per call.
 */
import { Ability, AbilityBuilder } from '@casl/ability';
import { computeCapabilities, type AccountState, type Capabilities } from './capabilities.js';
import type { TierTable } from './tiers.js';

/** A claim-based CASL ability over the table's action names. */
export type TiergateAbility<A extends string = string> = Ability<A>;

const abilities = new WeakMap<Capabilities, Ability<string>>();

/** Builds (or returns the cached) CASL ability for a capabilities result. */
export function abilityFromCapabilities<A extends string>(capabilities: Capabilities<A>): TiergateAbility<A> {
  const cached = abilities.get(capabilities);
  if (cached !== undefined) return cached as TiergateAbility<A>;
  const builder = new AbilityBuilder<Ability<string>>(Ability);
  for (const entry of capabilities.can) builder.can(entry.action);
  for (const entry of capabilities.cannot) builder.cannot(entry.action).because(entry.reason);
  const ability = builder.build();
  abilities.set(capabilities, ability);
  return ability as TiergateAbility<A>;
}

/**
 * The CASL ability of an account at `now`. `can(action)` is `true` exactly for
 * the actions in `can[]`; for a denied one, `relevantRuleFor(action)?.reason`
 * is its reason code. Actions the table does not know are denied (CASL's default).
 */
export function abilityFor<A extends string, T extends string, R extends string>(
  table: TierTable<A, T, R>,
  account: AccountState,
  now: number,
): TiergateAbility<A> {
  return abilityFromCapabilities(computeCapabilities(table, account, now));
}
