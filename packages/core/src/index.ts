/**
 * `@tiergate/core`: the policy engine, signed links, approval state machine,
 * webhooks, wire schemas, store port and the framework-neutral HTTP kernel.
 * Adapters (`@tiergate/express`, `@tiergate/fastify`, `@tiergate/koa`) and
 * stores (`@tiergate/postgres`, `@tiergate/redis`) are written against this
 * public API only.
 *
 * @packageDocumentation
 */

// errors and time
export { ERROR_STATUS, TiergateError, isTiergateError, storeUnavailable, type ErrorCode, type TiergateErrorOptions } from './errors.js';
export { systemClock, type Clock } from './clock.js';

// policy
export {
  compileTierTable,
  defaultTiers,
  defineTiers,
  type ActionDefinition,
  type ActionOf,
  type ActionReasons,
  type DefaultTierTable,
  type Description,
  type DescriptionContext,
  type GrantDefinition,
  type QuotaLimits,
  type ReasonKind,
  type ReasonOf,
  type ResolvedAction,
  type ResolvedGrant,
  type ResolvedTier,
  type StatusRule,
  type TierDefinition,
  type TierOf,
  type TierTable,
  type TierTableDefinition,
} from './policy/tiers.js';
export { quotaWindows, type QuotaWindow, type QuotaWindows, type WindowName } from './policy/windows.js';
export {
  checkAction,
  computeCapabilities,
  type AccountState,
  type CanEntry,
  type CannotEntry,
  type Capabilities,
  type Decision,
  type Usage,
} from './policy/capabilities.js';
export { abilityFor, abilityFromCapabilities, type TiergateAbility } from './policy/ability.js';
export {
  englishDuration,
  englishMessages,
  mergeCatalog,
  reasonMessages,
  sentence,
  type MessageCatalog,
  type NotificationMessages,
  type PageMessages,
  type PartialCatalog,
  type ReasonMessages,
} from './policy/messages.js';
export { reasonsInContext, suggestionKinds, type SuggestionKind } from './policy/suggestions.js';

// tokens
export { createKeyring, type KeyPurpose, type Keyring, type KeyringOptions, type LinkKey, type SecretInput } from './tokens/keyring.js';
export { LINK_CLOCK_TOLERANCE_SECONDS, signLink, verifyLink, type LinkClaims, type LinkClaimsInput, type LinkOptions, type LinkPurpose, type SignedLink } from './tokens/links.js';
export { openContext, sealContext } from './tokens/context-crypto.js';

// approvals
export {
  applyPatch,
  eventTypeFor,
  planTransition,
  type ApprovalEventType,
  type ApprovalPatch,
  type ApprovalRecord,
  type ApprovalStatus,
  type ApprovalTransition,
  type TransitionPlan,
  type Urgency,
} from './approvals/state.js';

// webhooks
export {
  WEBHOOK_HEADERS,
  WEBHOOK_TOLERANCE_SECONDS,
  generateWebhookSecret,
  isWebhookSecret,
  signWebhook,
  verifyWebhookSignature,
  webhookHeaders,
  type WebhookVerifyFailure,
} from './webhooks/signature.js';
export { DEFAULT_RETRY_SCHEDULE_MS, nextAttemptAt, parseRetryAfter } from './webhooks/schedule.js';
export { ForbiddenAddressError, checkCallbackUrl, guardedLookup, isPublicAddress, type CallbackUrlProblem, type LookupAll } from './webhooks/address.js';
export { nodeHttpTransport, type NodeHttpTransportOptions, type WebhookRequest, type WebhookResponse, type WebhookTransport } from './webhooks/transport.js';

// operator notifications
export { renderOperatorMessage, type MessageButton, type OperatorMessage, type OperatorMessageInput, type OperatorMessageKind } from './notify/message.js';
export { PermanentNotifierError, type Notifier, type NotifierOptions } from './notify/notifier.js';
export { contextHighlights, escapeHtml, formatJson, humanizeKey } from './render/html.js';

// schemas
export * from './schemas/wire.js';

// ports
export type {
  AccountSnapshot,
  AccountStateRead,
  AuditEntry,
  ClaimedMessage,
  EndpointHealth,
  NotificationRecord,
  OutboxMessage,
  OutboxSettlement,
  OutboxTopic,
  QuotaResult,
  QuotaWindowInput,
  Store,
  TransitionResult,
  ApprovalTransitionInput,
} from './ports/store.js';
export { rateLimiterFrom, type RateLimitResult, type RateLimiter, type RateLimiterOptions } from './ports/rate-limit.js';
export { memoryStore, type MemoryStoreOptions } from './ports/memory-store.js';
export { checkTransitionBatch, transitionEach } from './ports/transition-batch.js';
export { createWaiterRegistry, type Waiter, type WaiterRegistry } from './ports/waiter-registry.js';

// service
export {
  MAX_API_KEY_LENGTH,
  apiKeyAuthenticator,
  bearerToken,
  hashApiKey,
  type Account,
  type Authenticate,
  type FindAccount,
} from './service/accounts.js';
export { defaultLogger, type BackgroundOptions, type HostLinks, type Logger, type TiergateOptions, type WebhookOptions } from './service/options.js';
export { approvalEvent, type ApprovalEvent, type ApprovalEventData } from './service/callback-event.js';
export type { DeliveryReport } from './service/dispatcher.js';
export {
  createTiergate,
  type AccountDetails,
  type CheckResult,
  type DecisionActor,
  type DecisionOutcome,
  type GuardContext,
  type OperatorView,
  type RateLimitInfo,
  type Suggestion,
  type Tiergate,
  type UpgradeView,
} from './service/create-tiergate.js';

// http kernel
export { createGuard, createHandler, errorResponse, type Guard, type GuardOptions, type GuardResult, type KernelHandler, type KernelRequest, type KernelResponse } from './http/kernel.js';
export { PAGE_CSP, PAGE_HEADERS } from './http/pages.js';
export { openApiDocument } from './http/openapi.js';
export { readBody } from './http/read-body.js';
export { disconnectSignal, type ClosableResponse } from './http/disconnect-signal.js';
