/**
 * The document API's errors: one table of stable codes, each with its HTTP
 * status. Every error answer has the body `{ "error": { "code", "message" } }`;
 * clients branch on `code`, people read `message`.
 */
import type { ServerResponse } from 'node:http'

/** Every error code the document API answers with, and its HTTP status. */
export const apiErrorStatus = {
  /** The request is malformed: a bad name, query parameter, body encoding or content type. */
  'bad-request': 400,
  /** No access token, or one that is invalid or expired (access control on). */
  unauthorized: 401,
  /** The token is valid but does not grant this request. */
  forbidden: 403,
  /** No such document (never written, or purged), or no such endpoint. */
  'not-found': 404,
  /** The endpoint exists, not with this method (the `Allow` header lists those it takes). */
  'method-not-allowed': 405,
  /** The document is not in the state the request needs (restoring one that is not deleted). */
  conflict: 409,
  /** The document was deleted and can still be restored; it is not served until then. */
  gone: 410,
  /** The body, or the document it would make, is over a size limit. */
  'too-large': 413,
  /** The document holds content the API cannot replace as plain text. */
  'content-refused': 422,
  /** Something failed on the server; the log says what. */
  internal: 500,
  /** Storage failed, the server is at a limit or shutting down, or the document is damaged; try again later. */
  unavailable: 503
} as const

/** A stable error code of the document API. */
export type ApiErrorCode = keyof typeof apiErrorStatus

/** A request the document API refuses, with its code. */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  constructor (readonly code: ApiErrorCode, message: string, readonly headers: Readonly<Record<string, string>> = {}) {
    super(message)
  }

  /** The HTTP status answered. */
  get status (): number {
    return apiErrorStatus[this.code]
  }
}

/** Answers `error` as JSON: `{ "error": { "code", "message" } }`. */
export function sendApiError (res: ServerResponse, error: ApiError): void {
  sendJson(res, error.status, { error: { code: error.code, message: error.message } }, error.headers)
}

/** Answers `body` as JSON with `status`, never cached. */
export function sendJson (res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers
  }).end(text)
}

/** Throws method-not-allowed unless `method` is one of `allowed`. */
export function allow (method: string, allowed: readonly string[]): void {
  if (!allowed.includes(method)) throw new ApiError('method-not-allowed', `use ${allowed.join(' or ')}`, { allow: allowed.join(', ') })
}
