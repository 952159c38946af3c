/**
 * The parts a room is made of, without sockets: the write-ahead outbox, the
 * stored log's sizes, presence, and client updates within their budgets.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Outbox, type Recipient } from '../../server/rooms/outbox.js'
import { StoredLog, snapshotBytesPerItem } from '../../server/rooms/stored-log.js'
import { Presence } from '../../server/rooms/presence.js'
import { ClientUpdates, countItems, type DocumentBudget } from '../../server/rooms/client-update.js'
import { ProtocolError } from '../../server/protocol/errors.js'

describe('Outbox', () => {
  it('sends at once while nothing waits, and otherwise in order once the writes before are durable', () => {
    const sent: Array<[string, Recipient<string>]> = []
    const outbox = new Outbox<string>((frame, to) => sent.push([new TextDecoder().decode(frame), to]))
    const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
    outbox.send(bytes('hello'), { only: 'a' })
    expect(sent).toEqual([['hello', { only: 'a' }]])
    const first = outbox.issued()
    outbox.send(bytes('update 1'), { allBut: 'a' })
    const second = outbox.issued()
    outbox.send(bytes('update 2'), { allBut: 'b' })
    outbox.send(bytes('answer'), { syncAnswerTo: 'c' })
    expect(sent).toHaveLength(1)
    outbox.durable(first)
    expect(sent.map(([text]) => text)).toEqual(['hello', 'update 1'])
    expect(outbox.idle).toBe(false)
    outbox.durable(second)
    expect(sent.map(([text]) => text)).toEqual(['hello', 'update 1', 'update 2', 'answer'])
    expect(outbox.idle).toBe(true)
  })

  it('drops what waits when cleared', () => {
    const sent: Uint8Array[] = []
    const outbox = new Outbox<string>((frame) => sent.push(frame))
    const seq = outbox.issued()
    outbox.send(Uint8Array.of(1), { allBut: null })
    outbox.clear()
    outbox.durable(seq)
    expect(sent).toEqual([])
  })
})

describe('StoredLog', () => {
  const limits = { compactAfterUpdates: 3, compactAfterBytes: 1000, maxDocumentBytes: 10_000 }

  it('counts what was loaded and appended, and asks for compaction at either threshold', () => {
    const log = new StoredLog(limits, { snapshot: new Uint8Array(100), updates: [new Uint8Array(10), new Uint8Array(20)], seq: 2 })
    expect(log.length).toBe(2)
    expect(log.bytes).toBe(130)
    expect(log.wantsCompaction).toBe(false)
    log.appended(5, 0)
    expect(log.wantsCompaction).toBe(true)
    log.compacted(90)
    expect(log.length).toBe(0)
    expect(log.bytes).toBe(90)
    log.appended(1000, 0)
    expect(log.wantsCompaction).toBe(true)
  })

  it('charges each item an update may create or split, so a snapshot cannot pass the limit', () => {
    const log = new StoredLog(limits, { snapshot: null, updates: [], seq: 0 })
    const items = 100
    expect(log.fits(10_000 - items * snapshotBytesPerItem, items)).toBe(true)
    expect(log.fits(10_000 - items * snapshotBytesPerItem + 1, items)).toBe(false)
    log.appended(1000, items)
    expect(log.bytes).toBe(1000 + items * snapshotBytesPerItem)
  })
})

describe('Presence', () => {
  const limits = { maxAwarenessClientsPerConnection: 2, maxAwarenessStateBytes: 100, maxAwarenessBytesPerRoom: 200 }
  const state = (name: string): { state: string, value: unknown } => {
    const value = { user: { name } }
    return { state: JSON.stringify(value), value }
  }

  it('gives each client id to the owner that introduced it, and ignores stale clocks and foreign removals', () => {
    const presence = new Presence<string>(limits, () => null)
    expect(presence.apply('a', [{ clientId: 1, clock: 1, ...state('Ada') }]).verbatim).toBe(true)
    const foreign = presence.apply('b', [{ clientId: 1, clock: 2, ...state('Bob') }])
    expect(foreign.accepted).toEqual([])
    expect(presence.apply('a', [{ clientId: 1, clock: 1, ...state('Old') }]).accepted).toEqual([])
    expect(presence.apply('b', [{ clientId: 9, clock: 3, state: null }]).accepted).toEqual([])
    expect(presence.present().map((entry) => entry.state)).toEqual([state('Ada').state])
  })

  it('remembers departed ids so that echoes of their last state cannot claim them', () => {
    const presence = new Presence<string>(limits, () => null)
    presence.apply('a', [{ clientId: 1, clock: 5, ...state('Ada') }])
    expect(presence.remove('a')).toEqual([{ clientId: 1, clock: 5, state: null }])
    expect(presence.apply('b', [{ clientId: 1, clock: 5, ...state('Ada') }]).accepted).toEqual([])
    expect(presence.apply('a2', [{ clientId: 1, clock: 6, ...state('Ada') }]).accepted).toHaveLength(1)
  })

  it('replaces the name a token fixes, and drops colours that are not plain hex', () => {
    const presence = new Presence<string>(limits, () => 'Fixed')
    const value = { user: { name: 'Claimed', color: 'red;background:url(x)', colorLight: '#abc' } }
    const { accepted, verbatim } = presence.apply('a', [{ clientId: 1, clock: 1, state: JSON.stringify(value), value }])
    expect(verbatim).toBe(false)
    expect(JSON.parse(accepted[0].state as string)).toEqual({ user: { name: 'Fixed', colorLight: '#abc' } })
  })

  it('refuses more ids per owner than allowed, states above the byte limit, and growth past the room total', () => {
    const presence = new Presence<string>(limits, () => null)
    presence.apply('a', [{ clientId: 1, clock: 1, ...state('a') }, { clientId: 2, clock: 1, ...state('b') }])
    expect(() => presence.apply('a', [{ clientId: 3, clock: 1, ...state('c') }])).toThrow(expect.objectContaining({ code: 'policy' }))
    expect(() => presence.apply('b', [{ clientId: 4, clock: 1, ...state('x'.repeat(200)) }])).toThrow(expect.objectContaining({ code: 'too-large' }))
    presence.apply('b', [{ clientId: 4, clock: 1, ...state('x'.repeat(70)) }])
    expect(() => presence.apply('c', [{ clientId: 5, clock: 1, ...state('y'.repeat(70)) }])).toThrow(expect.objectContaining({ code: 'too-large' }))
    // Shrinking is always allowed, and frees room for others.
    presence.apply('b', [{ clientId: 4, clock: 2, ...state('x') }])
    presence.apply('c', [{ clientId: 5, clock: 1, ...state('y'.repeat(70)) }])
    expect(presence.totalBytes).toBeLessThanOrEqual(200)
    presence.remove('c')
    presence.remove('b')
    presence.remove('a')
    expect(presence.totalBytes).toBe(0)
  })
})

describe('ClientUpdates', () => {
  const budget: DocumentBudget = {
    content: 'any',
    maxContentDepth: 32,
    maxDocumentItems: 1_000,
    maxUpdateItems: 200,
    maxSubdocumentsPerDocument: 2,
    maxPendingItemsPerRoom: 50,
    maxPendingBytesPerRoom: 64 * 1024
  }
  const always = (): boolean => true

  /** Updates of a client typing `count` characters, each at the start. */
  function typing (clientId: number, count: number): Uint8Array[] {
    const doc = new Y.Doc()
    doc.clientID = clientId
    const updates: Uint8Array[] = []
    doc.on('update', (update: Uint8Array) => updates.push(update))
    for (let i = 0; i < count; i++) doc.getText('text').insert(0, 'a')
    doc.destroy()
    return updates
  }

  it('says an update changed nothing when the document holds it already', () => {
    const doc = new Y.Doc()
    const updates = new ClientUpdates(doc, budget)
    const [update] = typing(1, 1)
    expect(updates.apply(update, null, always).changed).toBe(true)
    expect(updates.apply(update, null, always).changed).toBe(false)
  })

  it('sees the change of an update that replaces a subdocument, which Yjs finishes in a second transaction', () => {
    const doc = new Y.Doc()
    const updates = new ClientUpdates(doc, budget)
    const concurrent = [1, 2].map((clientId) => {
      const author = new Y.Doc()
      author.clientID = clientId
      author.getMap('map').set('k', new Y.Doc())
      const update = Y.encodeStateAsUpdate(author)
      author.destroy()
      return update
    })
    expect(updates.apply(concurrent[0], null, always).changed).toBe(true)
    // Client 2's value wins over client 1's: that one is deleted, and its subdocument destroyed.
    expect(updates.apply(concurrent[1], null, always).changed).toBe(true)
    expect(Y.decodeStateVector(Y.encodeStateVector(doc)).get(2)).toBe(1)
  })

  it('keeps its item count an upper bound of the items in the document', () => {
    const doc = new Y.Doc()
    const updates = new ClientUpdates(doc, budget)
    for (const update of typing(1, 100)) updates.apply(update, null, always)
    expect(countItems(doc)).toBe(100)
    expect(updates.itemCount).toBeGreaterThanOrEqual(100)
  })

  it('refuses what the store does not take, before applying it', () => {
    const doc = new Y.Doc()
    const updates = new ClientUpdates(doc, budget)
    const [update] = typing(1, 1)
    expect(() => updates.apply(update, null, () => false)).toThrow(ProtocolError)
    expect(doc.getText('text').length).toBe(0)
  })

  it('keeps what integrated and drops what would wait past the pending budget', () => {
    const doc = new Y.Doc()
    const updates = new ClientUpdates(doc, budget)
    const waiting = typing(2, 80).slice(1) // the first never comes
    let refused: ProtocolError | undefined
    for (const update of waiting) {
      try {
        updates.apply(update, null, always)
      } catch (err) {
        refused = err as ProtocolError
        break
      }
    }
    expect(refused?.code).toBe('content-refused')
    const pending = doc.store.pendingStructs ? Y.decodeUpdateV2(doc.store.pendingStructs.update).structs.length : 0
    expect(pending).toBeLessThanOrEqual(50)
    // A merged update that integrates one part and would leave more waiting: the integrated part is kept.
    const own = typing(3, 1)[0]
    const merged = Y.mergeUpdates([own, ...typing(4, 80).slice(1)])
    const applied = updates.apply(merged, null, always)
    expect(applied.changed && applied.refusal?.code).toBe('content-refused')
    expect(doc.getText('text').toString()).toContain('a')
    expect(Y.decodeStateVector(Y.encodeStateVector(doc)).get(3)).toBe(1)
  })
})
