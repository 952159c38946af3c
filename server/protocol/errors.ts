/**
 * Stable error codes for everything a connection can do wrong, and the
 * WebSocket close code each one ends the connection with.
 */

/** WebSocket close codes the server uses (RFC 6455 §7.4 and the 4xxx private range). */
export const CloseCode = {
  /** The server is shutting down or restarting; reconnect. */
  serviceRestart: 1012,
  /** A frame or message broke the protocol (unknown type, unexpected message). */
  protocolError: 1002,
  /** Binary data expected; a text frame arrived. */
  unsupportedData: 1003,
  /** The message decoded but its content is invalid (corrupt update, bad awareness). */
  invalidPayload: 1007,
  /** The connection broke a policy: a rate limit, a foreign awareness id, a slow reader. */
  policyViolation: 1008,
  /** A message exceeded `maxMessageBytes`. */
  messageTooBig: 1009,
  /** Something failed on the server (for instance storage); reconnect later. */
  internalError: 1011,
  /** The server is at a limit (rooms, connections); try again later. */
  tryAgainLater: 1013,
  /**
   * The document was deleted (through the document API): connections to it
   * are closed and refused until it is restored. Not retried.
   */
  documentDeleted: 4404,
  /** The document cannot be loaded: its stored data is damaged. The stock client does not retry 44xx codes. */
  documentUnavailable: 4410,
  /**
   * The edit would take the document past a size budget (stored bytes, items
   * in memory, work per update) or a presence state is too large. Not retried:
   * sending the same state again cannot succeed.
   */
  tooLarge: 4413,
  /** The edit holds content this server does not accept (content policy, nesting depth, missing dependencies). Not retried. */
  contentRefused: 4422,
  /** The access token expired; fetch a fresh one and reconnect. */
  tokenExpired: 4401
} as const

/** Why a client message was rejected. */
export type ProtocolErrorCode =
  /** Truncated input, impossible lengths, trailing bytes. */
  | 'malformed'
  /** An outer or sync type this server does not know. */
  | 'unknown-type'
  /** A message only the server may send. */
  | 'unexpected'
  /** A Yjs update or awareness update that fails to decode or apply. */
  | 'invalid-update'
  /** A limit or rule of the server was broken (rates, presence ids, pending updates). */
  | 'policy'
  /** The document would pass a size budget (`maxDocumentBytes`, `maxDocumentItems`, `maxUpdateItems`), or a presence state its byte limits. */
  | 'too-large'
  /** Content the content policy refuses, nested too deep, or waiting on missing dependencies beyond the room's budget. */
  | 'content-refused'

/** A client message that cannot be accepted. Carries a stable `code`. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
  constructor (readonly code: ProtocolErrorCode, message: string) {
    super(message)
  }

  /** The WebSocket close code for this error. */
  get closeCode (): number {
    switch (this.code) {
      case 'malformed':
      case 'invalid-update':
        return CloseCode.invalidPayload
      case 'policy':
        return CloseCode.policyViolation
      case 'too-large':
        return CloseCode.tooLarge
      case 'content-refused':
        return CloseCode.contentRefused
      default:
        return CloseCode.protocolError
    }
  }
}

/**
 * Why reading failed, safe to log: JSON.parse's messages quote the text they
 * choke on, which is a client's content, so a syntax error is named only.
 */
export function parseFailure (err: unknown): string {
  if (err instanceof SyntaxError) return 'content that is not valid JSON'
  return (err as Error).message
}
