import { describe, expect, it } from 'vitest'
import * as encoding from 'lib0/encoding'
import type { ClusterMessage } from '../../server/cluster/bus.js'
import { createLocalBus } from '../../server/cluster/local.js'
import {
  clusterFormatVersion, decodeClusterMessage, decodeHeartbeat, encodeClusterMessage, encodeHeartbeat,
  MalformedClusterMessageError, maxProcessIdLength
} from '../../server/cluster/messages.js'
import { seededRandom } from '../helpers/random.js'

const from = 'a1b2c3d4-0000-4000-8000-000000000000'

function bytesOf (length: number, seed: number): Uint8Array {
  const random = seededRandom(seed)
  return Uint8Array.from({ length }, () => random.int(256))
}

function expectMalformed (bytes: Uint8Array, decode: (bytes: Uint8Array) => unknown = decodeClusterMessage): void {
  expect(() => decode(bytes)).toThrow(MalformedClusterMessageError)
}

/** A message built by hand: the version byte, then whatever `write` adds. */
function raw (write: (encoder: encoding.Encoder) => void, version = clusterFormatVersion): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeUint8(encoder, version)
  write(encoder)
  return encoding.toUint8Array(encoder)
}

describe('cluster messages', () => {
  const messages: ClusterMessage[] = [
    { kind: 'update', from, seq: 0, update: new Uint8Array() },
    { kind: 'update', from, seq: Number.MAX_SAFE_INTEGER, update: Uint8Array.of(0, 0, 255, 0) },
    { kind: 'update', from, seq: 12345, update: bytesOf(1 << 20, 1) },
    { kind: 'awareness', from: 'p', update: bytesOf(300, 2) },
    { kind: 'awareness-query', from: 'ünïcødé ✓'.padEnd(maxProcessIdLength, 'x') }
  ]

  it.each(messages.map((message) => [message.kind, message] as const))('round-trips %s', (_kind, message) => {
    const bytes = encodeClusterMessage(message)
    expect(bytes[0]).toBe(clusterFormatVersion)
    const decoded = decodeClusterMessage(bytes)
    // Byte fields compared as buffers: a deep equal of 1 MiB element by element takes seconds.
    const { update: decodedUpdate, ...decodedRest } = decoded as ClusterMessage & { update?: Uint8Array }
    const { update, ...rest } = message as ClusterMessage & { update?: Uint8Array }
    expect(decodedRest).toEqual(rest)
    expect(decodedUpdate === undefined ? undefined : Buffer.from(decodedUpdate).equals(update as Uint8Array)).toBe(update === undefined ? undefined : true)
  })

  it('round-trips heartbeats', () => {
    for (const droppedPublishes of [0, 1, 2 ** 40]) {
      expect(decodeHeartbeat(encodeHeartbeat({ from, droppedPublishes }))).toEqual({ from, droppedPublishes })
    }
  })

  it('keeps heartbeats and document messages apart', () => {
    expectMalformed(encodeHeartbeat({ from, droppedPublishes: 0 }))
    expectMalformed(encodeClusterMessage({ kind: 'awareness-query', from }), decodeHeartbeat)
  })

  it('refuses to encode what a peer could not decode', () => {
    expect(() => encodeClusterMessage({ kind: 'update', from, seq: -1, update: new Uint8Array() })).toThrow(RangeError)
    expect(() => encodeClusterMessage({ kind: 'update', from, seq: 1.5, update: new Uint8Array() })).toThrow(RangeError)
    expect(() => encodeClusterMessage({ kind: 'awareness-query', from: '' })).toThrow(RangeError)
    expect(() => encodeClusterMessage({ kind: 'awareness-query', from: 'x'.repeat(maxProcessIdLength + 1) })).toThrow(RangeError)
    expect(() => encodeHeartbeat({ from, droppedPublishes: -1 })).toThrow(RangeError)
  })

  it('rejects every truncation and trailing bytes', () => {
    const whole = encodeClusterMessage({ kind: 'update', from, seq: 300, update: bytesOf(40, 3) })
    for (let length = 0; length < whole.length; length++) expectMalformed(whole.subarray(0, length))
    expectMalformed(Uint8Array.of(...whole, 0))
  })

  it('rejects other versions, unknown kinds and bad process ids', () => {
    expectMalformed(raw((e) => { encoding.writeVarUint(e, 2); encoding.writeVarString(e, from) }, clusterFormatVersion + 1))
    expectMalformed(raw((e) => { encoding.writeVarUint(e, 99); encoding.writeVarString(e, from) }))
    expectMalformed(raw((e) => { encoding.writeVarUint(e, 2); encoding.writeVarString(e, '') }))
    expectMalformed(raw((e) => { encoding.writeVarUint(e, 2); encoding.writeVarString(e, 'x'.repeat(maxProcessIdLength + 1)) }))
    // A length prefix far past the end, and a sequence number past 2^53.
    expectMalformed(raw((e) => { encoding.writeVarUint(e, 1); encoding.writeVarString(e, from); encoding.writeVarUint(e, 2 ** 31) }))
    expectMalformed(raw((e) => { encoding.writeVarUint(e, 0); encoding.writeVarString(e, from); encoding.writeUint8Array(e, new Uint8Array(9).fill(0xff)) }))
  })

  it('never throws anything but MalformedClusterMessageError on random bytes', () => {
    const random = seededRandom(20261201)
    for (let i = 0; i < 2000; i++) {
      const bytes = bytesOf(random.int(64), random.int(2 ** 31))
      if (random.int(2) === 0 && bytes.length > 0) bytes[0] = clusterFormatVersion
      try {
        decodeClusterMessage(bytes)
      } catch (err) {
        expect(err).toBeInstanceOf(MalformedClusterMessageError)
      }
    }
  })
})

describe('createLocalBus', () => {
  it('is healthy, delivers nothing and closes', async () => {
    const bus = createLocalBus()
    const received: ClusterMessage[] = []
    await bus.subscribe('doc', (message) => received.push(message))
    bus.publish('doc', { kind: 'update', seq: 1, update: Uint8Array.of(1) })
    bus.unsubscribe('doc')
    expect(bus.healthy).toBe(true)
    expect(received).toEqual([])
    expect(createLocalBus().processId).not.toBe(bus.processId)
    await bus.close()
  })
})
