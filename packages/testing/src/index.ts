/**
 * `@tiergate/testing`: conformance suites for stores and HTTP adapters, vitest
 * matchers for policy tests, a fake clock and an approval simulator.
 *
 * @packageDocumentation
 */
export { createFakeClock, parseDuration, type FakeClock } from './fake-clock.js';
export { runStoreConformance, type StoreConformanceOptions, type StoreUnderTest } from './store-conformance.js';
export { DAY, FAR, HOUR, KEEP, MINUTE, T0, approvalRecord, auditFor, createdEntry, decision, notificationRecord, outboxMessage, outcomeOf, range, uid } from './records.js';
export { runAdapterConformance, type AdapterConformanceOptions, type ConformanceServer, type MakeConformanceServer } from './adapter-conformance.js';
export {
  formatCapabilities,
  setupTiergateMatchers,
  tiergateMatchers,
  type ActionIn,
  type CapabilitiesLike,
  type ReasonIn,
  type TiergateMatchers,
} from './matchers.js';
export {
  createTestTiergate,
  type CapturedCallback,
  type TestAccount,
  type TestAccountInput,
  type TestApprovalRequest,
  type TestTiergate,
  type TestTiergateOptions,
} from './test-tiergate.js';
export { serviceUrl } from './services.js';
export { closedPort, listenLocal, type LocalServer } from './local-server.js';
export { approveOverHttp, decisionForm, decodeEntities, parseForms, type ApproveOverHttpOptions, type DecisionForm, type HttpApproval, type OperatorForm } from './operator-page.js';
