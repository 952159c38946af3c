import { describe, expect, it } from 'vitest'
import { FrameCache, frameBinary } from '../../server/transport/frame.js'

describe('frameBinary', () => {
  it('writes the RFC 6455 header for every length class, then the payload', () => {
    const cases: Array<[number, number[]]> = [
      [0, [0x82, 0]],
      [125, [0x82, 125]],
      [126, [0x82, 126, 0, 126]],
      [65535, [0x82, 126, 0xff, 0xff]],
      [65536, [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]],
      [70000, [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]]
    ]
    for (const [length, header] of cases) {
      const payload = Buffer.alloc(length, 7)
      const frame = frameBinary(payload)
      expect([...frame.subarray(0, header.length)], `length ${length}`).toEqual(header)
      expect(frame.length).toBe(header.length + length)
      expect(frame.subarray(header.length).equals(payload)).toBe(true)
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
