/**
 * The address guard: everything that keeps webhook deliveries away from the
 * server's own network. The policy decides per IP address, the host check
 * gives early feedback when a webhook is saved, and the guarded connector
 * enforces the policy on every connection the delivery worker opens.
 */
export type { AddressClass, BlockReason, ParsedCidr } from './ip-ranges.js';
export {
  blockedMessage,
  checkAddress,
  classifyAddress,
  describeReason,
  isInAllowCidrs,
  parseCidrList,
  type AddressDecision,
  type AddressPolicy,
} from './address-policy.js';
export {
  checkTargetHost,
  DEFAULT_RESOLVE_TIMEOUT_MS,
  internalHostnameReason,
  ResolveTimeoutError,
  systemResolver,
  type Resolver,
} from './target-host.js';
export {
  BlockedAddressError,
  createGuardedAgent,
  createGuardedConnector,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  type GuardedAgentOptions,
  type GuardedConnectorOptions,
} from './guarded-connector.js';
