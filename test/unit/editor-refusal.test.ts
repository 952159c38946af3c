/**
 * The editor's rules for refusals it cannot get past: which close codes
 * stop it, and after which it connects again.
 */
import { describe, expect, it } from 'vitest'
import { reconnectsAfter, refusalOf } from '../../editor/collab/refusal.js'
import { CloseCode } from '../../server/protocol/errors.js'

describe('refusals', () => {
  it('names the close codes after which connecting again cannot help', () => {
    expect(refusalOf(CloseCode.tooLarge)).toBe('too-large')
    expect(refusalOf(CloseCode.messageTooBig)).toBe('too-large')
    expect(refusalOf(CloseCode.contentRefused)).toBe('content-refused')
    expect(refusalOf(CloseCode.documentUnavailable)).toBe('unavailable')
    for (const code of [CloseCode.tokenExpired, CloseCode.serviceRestart, CloseCode.policyViolation, 1006]) expect(refusalOf(code)).toBeNull()
  })

  it('reconnects after transient closes only: not after 4400–4499, nor after 1009', () => {
    for (const code of [1000, 1006, CloseCode.serviceRestart, CloseCode.internalError, CloseCode.tryAgainLater, CloseCode.policyViolation, 4500]) {
      expect(reconnectsAfter({ code }), `close code ${code}`).toBe(true)
    }
    for (const code of [CloseCode.messageTooBig, CloseCode.tokenExpired, CloseCode.documentUnavailable, CloseCode.tooLarge, CloseCode.contentRefused, 4400, 4499]) {
      expect(reconnectsAfter({ code }), `close code ${code}`).toBe(false)
    }
  })
})

