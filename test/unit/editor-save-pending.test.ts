/**
 * How many changes wait for the server, and what the save badge says about
 * them: the ledger's count, and the display chosen from the page's facts.
 */
import { describe, expect, it } from 'vitest'
import { SaveLedger } from '../../editor/collab/saved.js'
import { saveDisplay, type SaveFacts } from '../../editor/collab/save-display.js'

describe('SaveLedger.pending', () => {
  const first = {}
  const second = {}

  it('counts each change until the frame carrying it is confirmed, in order on its socket', () => {
    const ledger = new SaveLedger()
    for (let i = 0; i < 3; i++) {
      ledger.frameSent(first, 'update')
      ledger.changed()
    }
    expect(ledger.pending).toBe(3)
    ledger.confirmed(first, 2)
    expect(ledger.pending).toBe(1)
    ledger.confirmed(first, 3)
    expect(ledger.pending).toBe(0)
  })

  it('keeps changes made offline, and those a closed socket left, until a sync step 2 carrying them is confirmed', () => {
    const ledger = new SaveLedger()
    ledger.frameSent(first, 'update')
    ledger.changed()
    ledger.closed(first)
    ledger.changed()
    ledger.changed()
    expect(ledger.pending).toBe(3)
    // On the next socket, an update sent before the relay asked carries only its own change.
    ledger.frameSent(second, 'update')
    ledger.changed()
    ledger.confirmed(second, 1)
    expect(ledger.pending).toBe(3)
    ledger.frameSent(second, 'sync-step-2')
    ledger.confirmed(second, 2)
    expect(ledger.pending).toBe(0)
    expect(ledger.state).toBe('saved')
  })

  it('counts changes restored from an earlier visit until a sync step 2 is confirmed', () => {
    const ledger = new SaveLedger()
    ledger.restored(8)
    expect(ledger.state).toBe('saving')
    ledger.frameSent(first, 'sync-step-1')
    ledger.frameSent(first, 'sync-step-2')
    expect(ledger.pending).toBe(8)
    ledger.confirmed(first, 1)
    expect(ledger.pending).toBe(0)
  })
})

describe('saveDisplay', () => {
  const facts: SaveFacts = { pending: 0, loaded: true, stopped: false, connected: true, keptOnDevice: true }

  it('says saved, or loading before the first sync, when nothing waits', () => {
    expect(saveDisplay(facts)).toBe('saved')
    expect(saveDisplay({ ...facts, loaded: false })).toBe('loading')
    expect(saveDisplay({ ...facts, connected: false })).toBe('saved')
  })

  it('tells changes kept on this device from changes only this tab holds, while not connected', () => {
    expect(saveDisplay({ ...facts, pending: 3 })).toBe('saving')
    expect(saveDisplay({ ...facts, pending: 3, connected: false })).toBe('on-device')
    expect(saveDisplay({ ...facts, pending: 3, connected: false, keptOnDevice: false })).toBe('waiting')
    expect(saveDisplay({ ...facts, pending: 3, loaded: false, connected: false })).toBe('on-device')
    expect(saveDisplay({ ...facts, pending: 3, stopped: true, connected: false })).toBe('unsaved')
  })
})
