/**
 * What kind of message a frame holds, read from its first bytes without
 * decoding it: cheap enough to call for every message in and out.
 */
import { messageAwareness, messagePing, messagePong, messageQueryAwareness, messageSaved, messageSync, messageSyncProgress, syncStep1, syncStep2, syncUpdate } from './messages.js'

/** The kinds of message counted apart. `other` is anything else (auth, unknown or malformed). */
export const messageKinds = ['sync-step-1', 'sync-step-2', 'update', 'awareness', 'query-awareness', 'saved', 'sync-progress', 'ping', 'pong', 'other'] as const

/** One of `messageKinds`. */
export type MessageKind = typeof messageKinds[number]

/**
 * The kind of `bytes`, from its outer type and sync sub-type. Every type the
 * protocol uses is below 128, so each is one byte of its varUint; a message
 * is not checked further (a malformed update still counts as `update`).
 */
export function messageKind (bytes: Uint8Array): MessageKind {
  switch (bytes[0]) {
    case messageSync:
      switch (bytes[1]) {
        case syncStep1: return 'sync-step-1'
        case syncStep2: return 'sync-step-2'
        case syncUpdate: return 'update'
        default: return 'other'
      }
    case messageAwareness: return 'awareness'
    case messageQueryAwareness: return 'query-awareness'
    case messageSaved: return 'saved'
    case messageSyncProgress: return 'sync-progress'
    case messagePing: return 'ping'
    case messagePong: return 'pong'
    default: return 'other'
  }
}
