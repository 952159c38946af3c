import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import {
  decodeClientMessage, decodeSaved, encodeAwareness, encodePermissionDenied, encodeQueryAwareness, encodeSaved,
  encodeSyncStep1, encodeSyncStep2, encodeUpdate, messageAuth, messageAwareness, messageQueryAwareness, messageSync
} from '../../server/protocol/messages.js'
import { decodeAwarenessUpdate, encodeAwarenessUpdate } from '../../server/protocol/awareness.js'
import { CloseCode, ProtocolError } from '../../server/protocol/errors.js'

function docWithText (text: string): Y.Doc {
  const doc = new Y.Doc()
  doc.getText('text').insert(0, text)
  return doc
}

/** What the stock client sends, built with y-protocols itself. */
function clientFrame (write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

function expectProtocolError (bytes: Uint8Array, code: ProtocolError['code']): ProtocolError {
  try {
    decodeClientMessage(bytes)
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError)
    expect((err as ProtocolError).code).toBe(code)
    return err as ProtocolError
  }
  throw new Error('expected a ProtocolError')
}

describe('decodeClientMessage', () => {
  const doc = docWithText('hello')

  it('reads sync step 1 as y-protocols writes it', () => {
    const frame = clientFrame((e) => { encoding.writeVarUint(e, messageSync); syncProtocol.writeSyncStep1(e, doc) })
    const message = decodeClientMessage(frame)
    expect(message.type).toBe('sync-step-1')
    expect(message.type === 'sync-step-1' && message.stateVector).toEqual(Y.encodeStateVector(doc))
  })

  it('reads sync step 2 and updates', () => {
    const step2 = clientFrame((e) => { encoding.writeVarUint(e, messageSync); syncProtocol.writeSyncStep2(e, doc) })
    expect(decodeClientMessage(step2)).toEqual({ type: 'sync-step-2', update: Y.encodeStateAsUpdate(doc) })
    const update = Y.encodeStateAsUpdate(doc)
    const frame = clientFrame((e) => { encoding.writeVarUint(e, messageSync); syncProtocol.writeUpdate(e, update) })
    expect(decodeClientMessage(frame)).toEqual({ type: 'update', update })
  })

  it('reads awareness and query-awareness', () => {
    const awareness = new awarenessProtocol.Awareness(doc)
    awareness.setLocalState({ user: { name: 'Ada' } })
    const update = awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])
    const frame = clientFrame((e) => { encoding.writeVarUint(e, messageAwareness); encoding.writeVarUint8Array(e, update) })
    expect(decodeClientMessage(frame)).toEqual({ type: 'awareness', update })
    expect(decodeClientMessage(Uint8Array.of(messageQueryAwareness))).toEqual({ type: 'query-awareness' })
    awareness.destroy()
  })

  it('round-trips every message the server encodes that a client may also send', () => {
    const sv = Y.encodeStateVector(doc)
    const update = Y.encodeStateAsUpdate(doc)
    expect(decodeClientMessage(encodeSyncStep1(sv))).toEqual({ type: 'sync-step-1', stateVector: sv })
    expect(decodeClientMessage(encodeSyncStep2(update))).toEqual({ type: 'sync-step-2', update })
    expect(decodeClientMessage(encodeUpdate(update))).toEqual({ type: 'update', update })
    expect(decodeClientMessage(encodeAwareness(Uint8Array.of(0)))).toEqual({ type: 'awareness', update: Uint8Array.of(0) })
    expect(decodeClientMessage(encodeQueryAwareness())).toEqual({ type: 'query-awareness' })
  })

  it('returns views into the input instead of copies', () => {
    const frame = encodeUpdate(Y.encodeStateAsUpdate(doc))
    const message = decodeClientMessage(frame)
    expect(message.type === 'update' && message.update.buffer).toBe(frame.buffer)
  })

  it('rejects every truncation of a valid message', () => {
    const frame = encodeUpdate(Y.encodeStateAsUpdate(doc))
    for (let length = 0; length < frame.length; length++) {
      expectProtocolError(frame.subarray(0, length), 'malformed')
    }
  })

  it('rejects trailing bytes, oversized lengths and unterminated numbers', () => {
    const frame = encodeSyncStep1(Y.encodeStateVector(doc))
    expectProtocolError(Uint8Array.from([...frame, 0]), 'malformed')
    expectProtocolError(Uint8Array.of(messageSync, 2, 0xff, 0xff, 0xff, 0x7f, 1, 2), 'malformed')
    expectProtocolError(Uint8Array.of(0x80, 0x80, 0x80), 'malformed')
    expectProtocolError(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), 'malformed')
  })

  it('rejects unknown types and server-only messages with a protocol error close code', () => {
    expect(expectProtocolError(Uint8Array.of(9), 'unknown-type').closeCode).toBe(CloseCode.protocolError)
    expectProtocolError(Uint8Array.of(messageSync, 7, 0), 'unknown-type')
    expect(expectProtocolError(encodePermissionDenied('no'), 'unexpected').closeCode).toBe(CloseCode.protocolError)
    expect(encodePermissionDenied('no')[0]).toBe(messageAuth)
  })

  it('maps malformed content to 1007', () => {
    expect(expectProtocolError(Uint8Array.of(messageSync), 'malformed').closeCode).toBe(CloseCode.invalidPayload)
  })
})

describe('permission denied', () => {
  it('is read by y-protocols/auth as the stock client does', async () => {
    const auth = await import('y-protocols/auth')
    const decoding = await import('lib0/decoding')
    const decoder = decoding.createDecoder(encodePermissionDenied('read-only'))
    expect(decoding.readVarUint(decoder)).toBe(messageAuth)
    let reason = ''
    auth.readAuthMessage(decoder, new Y.Doc(), (_doc, r) => { reason = r })
    expect(reason).toBe('read-only')
  })
})

describe('saved confirmation', () => {
  it('round-trips a state vector', () => {
    const sv = Y.encodeStateVector(docWithText('abc'))
    expect(decodeSaved(encodeSaved(sv, 7))).toEqual({ stateVector: sv, handled: 7 })
    expect(() => decodeSaved(encodeUpdate(sv))).toThrow(ProtocolError)
    expect(() => decodeSaved(encodeSaved(sv, 7).subarray(0, 2))).toThrow(ProtocolError)
  })
})

describe('awareness updates', () => {
  it('decodes what y-protocols encodes and encodes what it applies', () => {
    const doc = new Y.Doc()
    const awareness = new awarenessProtocol.Awareness(doc)
    awareness.setLocalState({ user: { name: 'Grace', color: '#30bced' }, cursor: null })
    const entries = decodeAwarenessUpdate(awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]))
    expect(entries).toHaveLength(1)
    expect(entries[0].clientId).toBe(doc.clientID)
    expect(JSON.parse(entries[0].state!)).toEqual({ user: { name: 'Grace', color: '#30bced' }, cursor: null })

    const other = new awarenessProtocol.Awareness(new Y.Doc())
    awarenessProtocol.applyAwarenessUpdate(other, encodeAwarenessUpdate(entries), 'test')
    expect(other.getStates().get(doc.clientID)).toEqual(awareness.getLocalState())
    awarenessProtocol.applyAwarenessUpdate(other, encodeAwarenessUpdate([{ clientId: doc.clientID, clock: entries[0].clock + 1, state: null }]), 'test')
    expect(other.getStates().has(doc.clientID)).toBe(false)
    awareness.destroy()
    other.destroy()
  })

  it('reads a "null" state as removal', () => {
    const entries = decodeAwarenessUpdate(encodeAwarenessUpdate([{ clientId: 7, clock: 3, state: null }]))
    expect(entries).toEqual([{ clientId: 7, clock: 3, state: null, value: null }])
  })

  it('rejects truncated input, non-JSON states and trailing bytes', () => {
    const valid = encodeAwarenessUpdate([{ clientId: 1, clock: 1, state: '{"a":1}' }])
    for (let length = 0; length < valid.length; length++) {
      expect(() => decodeAwarenessUpdate(valid.subarray(0, length))).toThrow(ProtocolError)
    }
    expect(() => decodeAwarenessUpdate(encodeAwarenessUpdate([{ clientId: 1, clock: 1, state: '{nope' }]))).toThrow(ProtocolError)
    expect(() => decodeAwarenessUpdate(Uint8Array.from([...valid, 1]))).toThrow(ProtocolError)
    expect(() => decodeAwarenessUpdate(Uint8Array.of(0xff, 0xff, 0x03))).toThrow(ProtocolError)
  })
})
