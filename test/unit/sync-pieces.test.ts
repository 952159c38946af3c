/**
 * `splitUpdate`: applying the pieces in order gives exactly the document the
 * whole update gives (text, state vector, delete set), every piece
 * integrates at once (nothing left pending), and every piece keeps to the
 * bound.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { splitUpdate } from '../../server/protocol/sync-pieces.js'
import { AnswerQueue, syncAnswer } from '../../server/rooms/sync-answer.js'
import { decodeClientMessage, decodeSyncProgress } from '../../server/protocol/messages.js'
import { replayTrace } from '../../bench/trace.js'
import { seededRandom, type Random } from '../helpers/random.js'

const tracePath = new URL('../../bench/data/automerge-paper.json.gz', import.meta.url).pathname

/** Text with some characters outside the BMP, so cuts meet surrogate pairs. */
function someText (random: Random, length: number): string {
  let text = ''
  while (text.length < length) text += random.int(6) === 0 ? '😀' : random.word(1 + random.int(4))
  return text
}

/**
 * A document edited by `peers` clients that sync now and then: text
 * insertions (some large) and deletions, formatting, embeds, a map and an
 * array with JSON values and nested types.
 */
function randomDoc (random: Random, peers: number, edits: number): Y.Doc {
  const docs = Array.from({ length: peers }, () => new Y.Doc({ gc: random.int(2) === 0 }))
  for (let i = 0; i < edits; i++) {
    const doc = docs[random.int(peers)]
    const text = doc.getText('text')
    const choice = random.int(10)
    if (choice < 5 || text.length === 0) {
      text.insert(random.int(text.length + 1), someText(random, random.int(20) === 0 ? 3000 : 1 + random.int(12)))
    } else if (choice < 7) {
      const at = random.int(text.length)
      text.delete(at, Math.min(text.length - at, 1 + random.int(30)))
    } else if (choice === 7) {
      const at = random.int(text.length)
      text.format(at, Math.min(text.length - at, 5), { bold: true })
    } else if (choice === 8) {
      text.insertEmbed(random.int(text.length + 1), { image: random.word(5) })
    } else {
      const array = doc.getArray<unknown>('list')
      if (random.int(3) === 0 && array.length > 0) array.delete(random.int(array.length))
      else array.insert(random.int(array.length + 1), Array.from({ length: 1 + random.int(40) }, () => ({ n: random.int(1000), s: random.word(8) })))
      doc.getMap('map').set(random.word(2), random.int(2) === 0 ? random.word(20) : new Y.Text(random.word(10)))
    }
    if (random.int(8) === 0) {
      const from = docs[random.int(peers)]
      const to = docs[random.int(peers)]
      Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)))
    }
  }
  const whole = new Y.Doc()
  for (const doc of docs) Y.applyUpdate(whole, Y.encodeStateAsUpdate(doc))
  return whole
}

/** Everything that tells two documents apart. */
function fingerprint (doc: Y.Doc): unknown {
  return {
    text: doc.getText('text').toDelta(),
    list: doc.getArray('list').toJSON(),
    map: doc.getMap('map').toJSON(),
    stateVector: Array.from(Y.decodeStateVector(Y.encodeStateVector(doc))).sort((a, b) => a[0] - b[0]),
    deleteSet: Array.from(Y.createDeleteSetFromStructStore(doc.store).clients).sort((a, b) => a[0] - b[0])
  }
}

/** Applies `pieces` in order to `doc`, checking after each that nothing waits for a missing struct. */
function applyAll (doc: Y.Doc, pieces: Uint8Array[]): void {
  for (const piece of pieces) {
    Y.applyUpdate(doc, piece)
    expect(doc.store.pendingStructs).toBeNull()
    expect(doc.store.pendingDs).toBeNull()
  }
}

describe('splitUpdate', () => {
  it('returns an update that fits as it is', () => {
    const doc = new Y.Doc()
    doc.getText('text').insert(0, 'hello')
    const update = Y.encodeStateAsUpdate(doc)
    expect(splitUpdate(update, 1024)).toEqual([update])
  })

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`pieces of a random document reassemble it exactly (seed ${seed})`, () => {
      const random = seededRandom(seed)
      const source = randomDoc(random, 1 + random.int(5), 300)
      const update = Y.encodeStateAsUpdate(source)
      const maxBytes = 256 + random.int(2048)
      const pieces = splitUpdate(update, maxBytes)
      expect(pieces.length).toBeGreaterThan(1)
      // Embeds and format marks cannot be cut; the random ones here are far below the bound.
      for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(maxBytes)
      const target = new Y.Doc()
      applyAll(target, pieces)
      expect(fingerprint(target)).toEqual(fingerprint(source))
    })
  }

  it('answers a client that has part of the document with pieces of the rest', () => {
    const random = seededRandom(42)
    const source = randomDoc(random, 3, 200)
    const partial = new Y.Doc()
    const update = Y.encodeStateAsUpdate(source)
    const pieces = splitUpdate(update, 512)
    // The client holds the first half of the pieces, then asks for what it lacks.
    applyAll(partial, pieces.slice(0, Math.floor(pieces.length / 2)))
    const answer = Y.encodeStateAsUpdate(source, Y.encodeStateVector(partial))
    applyAll(partial, splitUpdate(answer, 512))
    expect(fingerprint(partial)).toEqual(fingerprint(source))
  })

  it('keeps deletions: a document whose text was all deleted ends empty with its delete set', () => {
    const doc = new Y.Doc({ gc: false })
    const text = doc.getText('text')
    for (let i = 0; i < 2000; i++) text.insert(random4(i, text.length), 'ab')
    text.delete(0, text.length)
    const pieces = splitUpdate(Y.encodeStateAsUpdate(doc), 700)
    const target = new Y.Doc({ gc: false })
    applyAll(target, pieces)
    expect(target.getText('text').toString()).toBe('')
    expect(fingerprint(target)).toEqual(fingerprint(doc))
  })

  it('cuts one huge text insertion into bounded pieces without breaking surrogate pairs', () => {
    const doc = new Y.Doc()
    const huge = '😀a'.repeat(100_000)
    doc.getText('text').insert(0, huge)
    const pieces = splitUpdate(Y.encodeStateAsUpdate(doc), 4096)
    expect(pieces.length).toBeGreaterThan(50)
    for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(4096)
    const target = new Y.Doc()
    applyAll(target, pieces)
    expect(target.getText('text').toString()).toBe(huge)
  })

  it('reassembles the automerge-paper trace', () => {
    const trace = replayTrace(tracePath)
    const source = new Y.Doc()
    Y.applyUpdate(source, trace.update)
    const maxBytes = 8 * 1024
    const pieces = splitUpdate(trace.update, maxBytes)
    expect(pieces.length).toBeGreaterThan(trace.update.length / maxBytes)
    for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(maxBytes)
    const target = new Y.Doc()
    applyAll(target, pieces)
    expect(target.getText('text').toString()).toBe(trace.endContent)
    expect(fingerprint(target)).toEqual(fingerprint(source))
  })
})

describe('syncAnswer', () => {
  it('is one sync step 2 without a progress notice when the update fits', () => {
    const doc = new Y.Doc()
    doc.getText('text').insert(0, 'small')
    const answer = syncAnswer(Y.encodeStateAsUpdate(doc), 1024)
    expect(answer.frames).toHaveLength(1)
    expect(decodeClientMessage(answer.frames[0]).type).toBe('sync-step-2')
    expect(answer.progress).toBeNull()
  })

  it('is sync updates then one sync step 2, announced by a notice that counts them', () => {
    const doc = new Y.Doc()
    doc.getText('text').insert(0, 'large '.repeat(5000))
    const answer = syncAnswer(Y.encodeStateAsUpdate(doc), 1024)
    const types = answer.frames.map((frame) => decodeClientMessage(frame).type)
    expect(types.slice(0, -1).every((type) => type === 'update')).toBe(true)
    expect(types[types.length - 1]).toBe('sync-step-2')
    const bytes = answer.frames.reduce((sum, frame) => sum + frame.length, 0)
    expect(answer.bytes).toBe(bytes)
    expect(decodeSyncProgress(answer.progress!)).toEqual({ messages: answer.frames.length, bytes })
  })
})

describe('AnswerQueue', () => {
  it('hands over the next frame only once the one before has left, and counts what is promised', () => {
    const handed: Array<{ frame: Uint8Array, sent: () => void }> = []
    const queue = new AnswerQueue((frame, sent) => handed.push({ frame, sent }))
    const frames = [new Uint8Array(3), new Uint8Array(5), new Uint8Array(7)]
    queue.promise(15)
    for (const frame of frames) queue.push(frame)
    expect(handed.map((h) => h.frame)).toEqual([frames[0]])
    expect(queue.pendingBytes).toBe(12)
    handed[0].sent()
    expect(handed.map((h) => h.frame)).toEqual(frames.slice(0, 2))
    handed[1].sent()
    expect(handed.map((h) => h.frame)).toEqual(frames)
    expect(queue.pendingBytes).toBe(0)
  })
})

/** A position in [0, length] that moves around, for building interleaved items. */
function random4 (i: number, length: number): number {
  return (i * 7919) % (length + 1)
}
