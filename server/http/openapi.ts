/**
 * The document API's contract as an OpenAPI 3.1 document, served at
 * `/api/openapi.json`. Written next to the routes in `documents-api.ts`, `versions-api.ts`
 * and `document-exists.ts`;
 * the integration test checks that every route is listed here.
 */
import { apiErrorStatus, type ApiErrorCode } from './api-errors.js'

const errorCodes = Object.keys(apiErrorStatus) as ApiErrorCode[]

/** A response of error `codes` (all of one status), described by `description`. */
function errorResponse (description: string): Record<string, unknown> {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
}

const nameParameter = {
  name: 'name',
  in: 'path',
  required: true,
  description: 'The document name, URL-encoded as one path segment (`team%2Fnotes`): letters, digits, space and `- _ . ~ : @ + /`, at most `--max-room-name-length` characters.',
  schema: { type: 'string', minLength: 1 }
}

const versionParameter = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'A version id, as listed.',
  schema: { type: 'integer', minimum: 1 }
}

const authErrors = {
  401: errorResponse('`unauthorized`: no bearer token, or an invalid or expired one (access control on).'),
  403: errorResponse('`forbidden`: the token does not grant this request.')
}

const documentErrors = {
  400: errorResponse('`bad-request`: the name breaks the naming rule.'),
  ...authErrors,
  404: errorResponse('`not-found`: never written, or purged.'),
  410: errorResponse('`gone`: deleted, and restorable until its retention ends.')
}

/** The OpenAPI 3.1 description of `/api/documents…`. */
export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'coedit document API',
    version: '1',
    description: 'Read, replace, list, delete and restore coedit documents. Every error answers ' +
      '`{ "error": { "code", "message" } }`; `code` is one of a fixed table (see `Error`). With access control on ' +
      '(`AUTH_SECRET` or `AUTH_PUBLIC_KEY`), every route needs `Authorization: Bearer <token>`: reads a token whose `doc` ' +
      'covers the document, replacing the text a write token, and listing, deleting and restoring an operator token ' +
      '(`perm` write, `doc` `*`). Without access control the API is open, like the WebSocket.'
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: { type: 'string', enum: errorCodes, description: errorCodes.map((code) => `\`${code}\` → ${apiErrorStatus[code]}`).join(', ') },
              message: { type: 'string', description: 'For people; may change between versions.' }
            }
          }
        }
      },
      Document: {
        type: 'object',
        required: ['name', 'bytes', 'changedAt', 'deletedAt', 'connections'],
        properties: {
          name: { type: 'string' },
          bytes: { type: 'integer', description: 'Stored bytes: the snapshot and every update of the log.' },
          changedAt: { type: ['string', 'null'], format: 'date-time', description: 'When an update was last stored; null when the store does not know (written by an earlier version).' },
          deletedAt: { type: ['string', 'null'], format: 'date-time', description: 'When it was deleted (only listings show deleted documents); null otherwise.' },
          connections: { type: 'integer', description: 'People connected to this document through the process that answered.' }
        }
      },
      Version: {
        type: 'object',
        required: ['id', 'createdAt', 'name', 'seq', 'authors'],
        properties: {
          id: { type: 'integer', description: 'Increasing per document.' },
          createdAt: { type: 'string', format: 'date-time' },
          name: { type: ['string', 'null'], description: 'Given when the version was recorded on request; null for versions recorded after editing went quiet.' },
          seq: { type: 'integer', description: 'The document\'s update sequence number the version covers.' },
          authors: { type: 'array', items: { type: 'string' }, description: 'Display names of the people who edited since the version before (as far as this server knows them).' }
        }
      }
    }
  },
  security: [{ bearer: [] }, {}],
  paths: {
    '/api/documents': {
      get: {
        operationId: 'listDocuments',
        summary: 'List documents in name order (Unicode code points), deleted ones included. Operator token.',
        parameters: [
          { name: 'after', in: 'query', description: 'Start after this name: the `next` of the previous page.', schema: { type: 'string' } },
          { name: 'limit', in: 'query', description: 'Documents per page.', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }
        ],
        responses: {
          200: {
            description: 'One page.',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['documents', 'next'],
                  properties: {
                    documents: { type: 'array', items: { $ref: '#/components/schemas/Document' } },
                    next: { type: ['string', 'null'], description: 'Pass as `after` for the next page; null on the last one.' }
                  }
                }
              }
            }
          },
          400: errorResponse('`bad-request`: limit is not a whole number from 1 to 1000.'),
          ...authErrors
        }
      }
    },
    '/api/documents/{name}': {
      parameters: [nameParameter],
      get: {
        operationId: 'getDocument',
        summary: 'One document. Read token.',
        responses: { 200: { description: 'The document.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Document' } } } }, ...documentErrors }
      },
      delete: {
        operationId: 'deleteDocument',
        summary: 'Delete a document: its connections on every process close with 4404, new ones are refused with 4404, and reads answer `gone`, until it is restored; after `--deleted-retention-seconds` it is purged. Operator token.',
        responses: {
          200: {
            description: 'Deleted.',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['name', 'deletedAt', 'restorableUntil'],
                  properties: { name: { type: 'string' }, deletedAt: { type: 'string', format: 'date-time' }, restorableUntil: { type: 'string', format: 'date-time' } }
                }
              }
            }
          },
          ...documentErrors,
          409: errorResponse('`conflict`: it was deleted or restored at the same moment; try again.')
        }
      }
    },
    '/api/exists/{name}': {
      parameters: [nameParameter],
      get: {
        operationId: 'documentExists',
        summary: 'Whether a document exists (open now, or stored and not deleted), so a mistyped name is not taken for a new document. Any token that opens the name; none on an open server.',
        responses: {
          200: {
            description: 'The answer.',
            content: { 'application/json': { schema: { type: 'object', required: ['exists'], properties: { exists: { type: 'boolean' } } } } }
          },
          400: errorResponse('`bad-request`: the name breaks the naming rule.'),
          ...authErrors,
          503: errorResponse('`unavailable`: this store cannot tell which documents it holds.')
        }
      }
    },
    '/api/documents/{name}/restore': {
      parameters: [nameParameter],
      post: {
        operationId: 'restoreDocument',
        summary: 'Undo a delete within the retention time. Operator token.',
        responses: {
          200: { description: 'Restored.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Document' } } } },
          400: documentErrors[400],
          ...authErrors,
          404: documentErrors[404],
          409: errorResponse('`conflict`: the document is not deleted.')
        }
      }
    },
    '/api/documents/{name}/text': {
      parameters: [nameParameter],
      get: {
        operationId: 'getText',
        summary: 'The document\'s text (the root Y.Text `text`), as stored. Read token.',
        responses: { 200: { description: 'The text.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...documentErrors }
      },
      put: {
        operationId: 'putText',
        summary: 'Replace the text with the body as one minimal edit: the common start and end stay, so people editing keep their cursors there. ' +
          'Stored before anyone sees it, then sent to everyone connected; answered once durable. Creates a document never written. Write token.',
        requestBody: { required: true, content: { 'text/plain': { schema: { type: 'string', description: 'UTF-8, at most --max-message-bytes bytes.' } } } },
        responses: {
          200: {
            description: 'Stored.',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['name', 'changed'],
                  properties: { name: { type: 'string' }, changed: { type: 'boolean', description: 'False when the text was already the body.' } }
                }
              }
            }
          },
          400: errorResponse('`bad-request`: a bad name, a content type other than text/plain, or a body that is not UTF-8.'),
          ...authErrors,
          410: documentErrors[410],
          413: errorResponse('`too-large`: the body is over --max-message-bytes, or the document would pass its size budget.'),
          422: errorResponse('`content-refused`: the text holds embedded content that cannot be replaced as plain text.'),
          503: errorResponse('`unavailable`: the document is damaged, being reloaded, or the server is at its room limit or shutting down; try again.')
        }
      }
    },
    '/api/documents/{name}/versions': {
      parameters: [nameParameter],
      get: {
        operationId: 'listVersions',
        summary: 'The document\'s versions, oldest first: recorded once editing goes quiet (--version-quiet-ms), at least every --version-every-ms of editing, and on request. ' +
          'Unnamed versions older than --version-retention-days are pruned. Read token.',
        responses: {
          200: {
            description: 'The versions.',
            content: { 'application/json': { schema: { type: 'object', required: ['versions'], properties: { versions: { type: 'array', items: { $ref: '#/components/schemas/Version' } } } } } }
          },
          ...documentErrors
        }
      },
      post: {
        operationId: 'createVersion',
        summary: 'Record the document as it is now as a named version (names the newest version instead when nothing changed since it). Write token.',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } } } }
        },
        responses: {
          201: { description: 'Recorded.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Version' } } } },
          ...documentErrors,
          400: errorResponse('`bad-request`: a bad document name, or a body that is not `{ "name": "…" }` with 1 to 200 characters.'),
          409: errorResponse('`conflict`: another process recorded a newer version meanwhile; try again.')
        }
      }
    },
    '/api/documents/{name}/versions/{id}/text': {
      parameters: [nameParameter, versionParameter],
      get: {
        operationId: 'getVersionText',
        summary: 'The text of one version. Read token.',
        responses: { 200: { description: 'The text.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...documentErrors, 404: errorResponse('`not-found`: no such document or version.') }
      }
    },
    '/api/documents/{name}/versions/{id}/restore': {
      parameters: [nameParameter, versionParameter],
      post: {
        operationId: 'restoreVersion',
        summary: 'Make the text that of the version, as one forward edit (like PUT …/text): people editing see it at once, and the history keeps what was there. Write token.',
        responses: {
          200: {
            description: 'Stored.',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['name', 'version', 'changed'],
                  properties: { name: { type: 'string' }, version: { type: 'integer' }, changed: { type: 'boolean', description: 'False when the text was already the version\'s.' } }
                }
              }
            }
          },
          ...documentErrors,
          404: errorResponse('`not-found`: no such document or version.'),
          413: errorResponse('`too-large`: the edit would pass the document\'s size budget.'),
          503: errorResponse('`unavailable`: the document is being reloaded, or the server is at its room limit or shutting down; try again.')
        }
      }
    }
  }
} as const
