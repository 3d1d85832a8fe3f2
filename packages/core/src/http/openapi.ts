/**
 * `GET /v1/openapi.json`: an OpenAPI 3.1 document generated from the same zod
 * schemas that validate requests and type the client.
 */
import { z } from 'zod';
import {
  accountResultSchema,
  approvalResultSchema,
  capabilitiesResultSchema,
  errorBodySchema,
  notifyOperatorBodySchema,
  notifyOperatorResultSchema,
  upgradeLinkBodySchema,
  upgradeLinkResultSchema,
} from '../schemas/wire.js';

type JsonSchema = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  return json;
}

function ok(description: string, result: z.ZodType): JsonSchema {
  return {
    description,
    content: {
      'application/json': {
        schema: { type: 'object', required: ['result', 'next_steps'], properties: { result: schemaOf(result, 'output'), next_steps: { type: 'array', items: { type: 'string' } } } },
      },
    },
  };
}

const errorRef = { $ref: '#/components/responses/Error' };

/** Builds the document for an API served at `serverUrl`. */
export function openApiDocument(serverUrl: string, version = '0.1.0'): JsonSchema {
  const auth = [{ bearer: [] }];
  return {
    openapi: '3.1.0',
    info: { title: 'tiergate agent API', version, description: 'What can I do, and why not? Capabilities, reason codes, operator links and human approval.' },
    servers: [{ url: serverUrl }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Account API key' } },
      responses: { Error: { description: 'Error envelope with a stable code', content: { 'application/json': { schema: schemaOf(errorBodySchema, 'output') } } } },
    },
    paths: {
      '/v1/capabilities': {
        get: { operationId: 'getCapabilities', summary: 'What this account can and cannot do, and why', security: auth, responses: { 200: ok('Capabilities', capabilitiesResultSchema), 401: errorRef, 503: errorRef } },
      },
      '/v1/account': {
        get: { operationId: 'getAccount', summary: 'Account, usage against limits and webhook health', security: auth, responses: { 200: ok('Account', accountResultSchema), 401: errorRef, 503: errorRef } },
      },
      '/v1/upgrade-link': {
        post: {
          operationId: 'createUpgradeLink',
          summary: 'A fresh signed upgrade link for the operator',
          security: auth,
          requestBody: { required: false, content: { 'application/json': { schema: schemaOf(upgradeLinkBodySchema, 'input') } } },
          responses: { 200: ok('Upgrade link', upgradeLinkResultSchema), 400: errorRef, 401: errorRef, 503: errorRef },
        },
      },
      '/v1/notify-operator': {
        post: {
          operationId: 'notifyOperator',
          summary: 'Ask the human operator for help or for approval (rate limited: 10/hour/account)',
          security: auth,
          requestBody: { required: true, content: { 'application/json': { schema: schemaOf(notifyOperatorBodySchema, 'input') } } },
          responses: { 201: ok('Notification created', notifyOperatorResultSchema), 400: errorRef, 401: errorRef, 429: errorRef, 503: errorRef },
        },
      },
      '/v1/approvals/{request_id}': {
        get: {
          operationId: 'getApproval',
          summary: 'Status of an approval request; ?wait=N long-polls up to 30 s',
          security: auth,
          parameters: [
            { name: 'request_id', in: 'path', required: true, schema: { type: 'string', pattern: '^apr_' } },
            { name: 'wait', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 30 } },
          ],
          responses: { 200: ok('Approval', approvalResultSchema), 400: errorRef, 401: errorRef, 404: errorRef, 503: errorRef },
        },
      },
    },
  };
}
