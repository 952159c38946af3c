import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { messageKind } from '../../server/protocol/message-kind.js'
import {
  encodeAwareness, encodePermissionDenied, encodePong, encodeQueryAwareness, encodeSaved, encodeSyncProgress, encodeSyncStep1,
  encodeSyncStep2, encodeUpdate, messagePing
} from '../../server/protocol/messages.js'

describe('messageKind', () => {
  const doc = new Y.Doc()
  doc.getText('text').insert(0, 'hello')
  const update = Y.encodeStateAsUpdate(doc)
  const vector = Y.encodeStateVector(doc)

  it('names every message the encoders write', () => {
    expect(messageKind(encodeSyncStep1(vector))).toBe('sync-step-1')
    expect(messageKind(encodeSyncStep2(update))).toBe('sync-step-2')
    expect(messageKind(encodeUpdate(update))).toBe('update')
    expect(messageKind(encodeAwareness(new Uint8Array([0])))).toBe('awareness')
    expect(messageKind(encodeQueryAwareness())).toBe('query-awareness')
    expect(messageKind(encodeSaved(vector, 3))).toBe('saved')
    expect(messageKind(encodeSyncProgress({ messages: 3, bytes: 900_000 }))).toBe('sync-progress')
    expect(messageKind(Uint8Array.of(messagePing))).toBe('ping')
    expect(messageKind(encodePong())).toBe('pong')
    expect(messageKind(encodePermissionDenied('read-only'))).toBe('other')
  })

  it('calls anything else other, empty and truncated messages included', () => {
    expect(messageKind(new Uint8Array([]))).toBe('other')
    expect(messageKind(new Uint8Array([0]))).toBe('other')
    expect(messageKind(new Uint8Array([0, 7]))).toBe('other')
    expect(messageKind(new Uint8Array([0x80, 0x01]))).toBe('other')
    expect(messageKind(new Uint8Array([42]))).toBe('other')
  })
})
