/** Types and helpers of the operation tables that the OpenAPI document is built from. */
import type { RouteScope } from './context.js';

/** Success response of an operation: content is keyed by media type, and a string names a component schema. */
export interface ResponseSpec {
  description: string;
  content?: Record<string, string | Record<string, unknown>>;
  /** Names of response header components. */
  headers?: string[];
}

export interface OperationSpec {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI path template, such as /v1/repos/{repo_id}. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** Token scope the route requires, `any` for any valid token, or null for a public route. */
  scope: RouteScope | null;
  /** Query-string schema from schemas.ts; each property becomes a query parameter. */
  query?: { properties: Record<string, unknown> };
  /** Names of header parameter components. */
  headers?: string[];
  /** Component schema name of the JSON request body. */
  body?: string;
  responses: Record<string, ResponseSpec>;
  /** Error statuses this operation can return besides 401, 403 (not for `any`), 429 and 503, which every authenticated route can return. */
  errors: number[];
}

export const json = (schema: string): ResponseSpec['content'] => ({ 'application/json': schema });
export const noContent = (description: string): ResponseSpec => ({ description });
export const html = (description: string): ResponseSpec => ({ description, content: { 'text/html': { type: 'string' } } });
export const redirect = (description: string): ResponseSpec => ({ description, headers: ['Location'] });
