import { describe, expect, it } from 'vitest'
import { Sender } from 'ws'
import { FrameCache, frameBinary } from '../../server/transport/frame.js'

describe('frameBinary', () => {
  it('frames exactly as ws does for every length class', () => {
    for (const length of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
      const payload = Buffer.alloc(length, 7)
      const expected = Buffer.concat(Sender.frame(payload, { fin: true, opcode: 2, mask: false, readOnly: true, rsv1: false }) as Buffer[])
      expect(frameBinary(payload).equals(expected), `length ${length}`).toBe(true)
    }
  })

  it('frames a payload once for consecutive sends of the same object', () => {
    const cache = new FrameCache()
    const payload = Uint8Array.of(1, 2, 3)
    const first = cache.frame(payload)
    expect(cache.frame(payload)).toBe(first)
    expect(cache.frame(Uint8Array.of(1, 2, 3))).not.toBe(first)
  })
})
