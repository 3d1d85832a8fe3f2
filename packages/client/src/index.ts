/**
 * `@tiergate/client`: a typed `fetch` client for AI agents calling an API
 * that embeds tiergate — capabilities with reason codes, operator
 * notifications, upgrade links, the approval workflow — and `verifyWebhook`
 * for the signed approval callbacks. No run-time dependencies: the wire types
 * come from `@tiergate/core` as types only.
 *
 * @packageDocumentation
 */
export {
  TiergateClient,
  nextStepsOf,
  type AccountApi,
  type ApprovalRequestParams,
  type ApprovalRequestResult,
  type ApprovalsApi,
  type HostRequest,
  type NotifyOperatorParams,
  type TiergateClientOptions,
  type WaitOptions,
  type WithNextSteps,
} from './client.js';
export { TiergateError, isTiergateError, type ClientErrorCode, type SeedReasonCode, type TiergateErrorCode, type TiergateErrorOptions } from './errors.js';
export type { FetchLike, RequestOptions, RetryOptions } from './request.js';
export {
  WEBHOOK_TOLERANCE_SECONDS,
  verifyWebhook,
  type ApprovalDeniedEvent,
  type ApprovalEvent,
  type ApprovalEventType,
  type ApprovalExpiredEvent,
  type ApprovalGrantedEvent,
  type VerifyWebhookOptions,
  type WebhookFailure,
  type WebhookHeadersInput,
} from './webhook.js';

/** The wire result types, re-exported from `@tiergate/core` (types only: nothing of the core runs in the client). */
export type { AccountResult, ApprovalResult, CapabilitiesResult, NotifyOperatorResult, UpgradeContext, UpgradeLinkResult } from '@tiergate/core';
