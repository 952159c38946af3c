/**
 * Structural fuzzing of the document lifecycle (fast-check, fixed seeds):
 * sequences of Yjs updates built with real Yjs and by hand (see
 * `test/helpers/yjs-structures.ts`) go through a real relay from several
 * connections into one room. Whatever the relay accepts, the room must
 * afterwards encode the whole document for a newcomer, compact, unload,
 * load again from SQLite to the same state, and close, with no fault
 * anywhere in the process; whatever it refuses closes only that connection
 * with 1007, 4413 or 4422; the document never holds more than its budgets;
 * and a writer's edits keep reaching a witness in another room.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as Y from 'yjs'
import type WebSocket from 'ws'
import { captureLog, connectClient, startTestRelay, synced, waitFor, type TestClient } from '../helpers/relay.js'
import { fetchDocument, openWebSocket, sendThenProbe } from '../helpers/raw-socket.js'
import { storeBackends } from '../helpers/stores.js'
import {
  defaultBounds, itemCount, measureContent, pendingItemCount, scenarioArbitrary, scenarioOf, type ContentClass, type Scenario
} from '../helpers/yjs-structures.js'
import { encodeUpdate } from '../../server/protocol/messages.js'
import { CloseCode } from '../../server/protocol/errors.js'
import { applyStoredDocument, textName } from '../../server/protocol/document.js'
import type { ContentPolicy } from '../../server/config.js'
import type { Relay, RelayOptions } from '../../server/relay.js'
import type { DocStore } from '../../server/storage/store.js'

/** Small budgets, so that generated scenarios land on both sides of each. */
const budgets = {
  maxDocumentItems: 3_000,
  maxUpdateItems: 1_500,
  maxPendingItemsPerRoom: 200,
  maxContentDepth: 8,
  maxSubdocumentsPerDocument: 4,
  maxDocumentBytes: 1024 * 1024,
  compactAfterUpdates: 4,
  unloadGraceMs: 20,
  unwrittenUnloadGraceMs: 20
} satisfies RelayOptions

/** Close codes a refused update may end its connection with. */
const refusalCodes = [CloseCode.invalidPayload, CloseCode.tooLarge, CloseCode.contentRefused]

/** Faults that reached the process instead of a connection: each one fails the property. */
const faults: unknown[] = []
const recordFault = (err: unknown): void => { faults.push(err) }
beforeAll(() => {
  process.on('unhandledRejection', recordFault)
  process.on('uncaughtException', recordFault)
})
afterAll(() => {
  process.off('unhandledRejection', recordFault)
  process.off('uncaughtException', recordFault)
})

/** Log events that mean a room or the relay broke on content it had accepted. */
const brokenEvents = /\b(room\.failed|room\.corrupt|room\.load-failed|connection\.internal-error)\b/

/** The writer appends a character; resolves once the witness in the other room has it. */
async function echoed (writer: TestClient, witness: TestClient, timeoutMs = 10_000): Promise<void> {
  writer.text.insert(writer.text.length, '.')
  const wanted = writer.text.toString()
  if (witness.text.toString() === wanted) return
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (witness.text.toString() !== wanted) return
      clearTimeout(timer)
      witness.doc.off('update', check)
      resolve()
    }
    const timer = setTimeout(() => {
      witness.doc.off('update', check)
      reject(new Error(`the witness did not receive the writer's edit within ${timeoutMs} ms`))
    }, timeoutMs)
    witness.doc.on('update', check)
  })
}

/** A document built from an update (a sync answer, or what a store holds). */
function docOf (update: Uint8Array): Y.Doc {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return doc
}

/** Same state vector, same deletions, same text. */
function expectSameState (actual: Y.Doc, expected: Y.Doc, what: string): void {
  expect(Y.equalSnapshots(Y.snapshot(actual), Y.snapshot(expected)), `${what}: state vector and deletions`).toBe(true)
  expect(actual.getText(textName).toString(), `${what}: text`).toBe(expected.getText(textName).toString())
}

/** The outcomes a step may have under `policy`. */
function allowedOutcomes (policy: ContentPolicy, content: ContentClass): Array<'answered' | number> {
  if (policy === 'text' && content === 'rich') return [CloseCode.tooLarge, CloseCode.contentRefused]
  if (policy === 'text') return ['answered', CloseCode.tooLarge, CloseCode.contentRefused]
  return ['answered', ...refusalCodes]
}

/** A relay on SQLite with the fuzzing budgets, a witness room, and the checks every scenario must pass. */
async function fuzzBench (policy: ContentPolicy): Promise<{
  readonly relay: Relay
  readonly run: (scenario: Scenario) => Promise<void>
  readonly outcomes: Map<string, number>
}> {
  const storage = await storeBackends.find((backend) => backend.name === 'sqlite')!.create()
  const store = await storage.open()
  const reader: DocStore = await storage.open()
  const { logger, lines } = captureLog()
  const relay = await startTestRelay({ ...budgets, content: policy, store, logger })
  const writer = connectClient(relay, 'witness')
  const witness = connectClient(relay, 'witness')
  await Promise.all([synced(writer), synced(witness)])
  const outcomes = new Map<string, number>()
  let runs = 0

  const run = async (scenario: Scenario): Promise<void> => {
    const room = `fuzz-${policy}-${++runs}`
    const logStart = lines.length
    const sockets: Array<WebSocket | undefined> = []
    let refused = 0
    let closed = 0
    for (const [index, step] of scenario.steps.entries()) {
      let socket = sockets[step.actor]
      if (!socket || socket.readyState !== socket.OPEN) {
        socket = sockets[step.actor] = await openWebSocket(relay, room)
        socket.once('close', () => { closed++ })
      }
      const outcome = await sendThenProbe(socket, encodeUpdate(step.update))
      if (outcome !== 'answered') refused++
      const key = `${step.label} ${outcome}`
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
      expect(allowedOutcomes(policy, step.content), `step ${index} (${step.label}, ${step.update.length} bytes, ${step.content})`).toContain(outcome)
      await echoed(writer, witness)
    }

    // Hold the room while looking at it: a newcomer gets the whole document, equal to the room's.
    const holder = await openWebSocket(relay, room)
    const newcomer = docOf(await fetchDocument(relay, room))
    const loaded = relay.registry.get(room)
    expect(loaded, 'the room is loaded while a connection is in it').toBeDefined()
    const roomDoc = loaded!.doc
    expectSameState(newcomer, roomDoc, 'newcomer after the scenario')

    // Whatever was accepted stays within the budgets.
    expect(itemCount(roomDoc), 'items in memory').toBeLessThanOrEqual(budgets.maxDocumentItems)
    expect(pendingItemCount(roomDoc), 'structs and delete ranges waiting').toBeLessThanOrEqual(budgets.maxPendingItemsPerRoom)
    const content = measureContent(roomDoc)
    if (policy === 'text') {
      expect(content.plainText, 'the text policy keeps only plain text in the root text').toBe(true)
    } else {
      // One level of slack for how a level is counted; generated values are far deeper or shallower.
      expect(content.valueDepth, 'deepest value').toBeLessThanOrEqual(budgets.maxContentDepth + 1)
      expect(content.typeDepth, 'deepest nested type').toBeLessThanOrEqual(budgets.maxContentDepth + 1)
      if (policy === 'any') expect(content.subdocuments, 'subdocuments').toBeLessThanOrEqual(budgets.maxSubdocumentsPerDocument)
    }

    // A refusal closed its own connection and no other.
    expect(closed, 'connections closed by the relay').toBe(refused)
    expect(holder.readyState, 'a connection that sent nothing').toBe(holder.OPEN)

    // Everyone leaves: the room compacts and unloads, then loads again from SQLite to the same state.
    holder.terminate()
    for (const socket of sockets) socket?.terminate()
    await waitFor(() => relay.registry.get(room) === undefined, 10_000, `room ${room} to unload`)
    const reloaded = docOf(await fetchDocument(relay, room))
    expectSameState(reloaded, newcomer, 'newcomer after the room unloaded and loaded again')
    const stored = new Y.Doc()
    applyStoredDocument(stored, await reader.load(room), room)
    expectSameState(stored, newcomer, 'the document read from the store, as export does')
    expect(Y.encodeStateAsUpdate(stored).length, 'the stored document encodes again').toBeGreaterThan(0)
    expect((await storage.rawBytes!(room)).length, 'stored rows once the unload compacted the log').toBeLessThanOrEqual(1)
    for (const doc of [newcomer, reloaded, stored]) doc.destroy()

    await echoed(writer, witness)
    expect(faults, 'faults outside any connection').toEqual([])
    expect(lines.slice(logStart).filter((line) => brokenEvents.test(line)), 'log lines of broken rooms').toEqual([])
  }

  return { relay, run, outcomes }
}

/**
 * Scenarios every run starts with: one per failure seen in the relay, so
 * each is checked whatever the seed draws.
 */
const knownFailures: Array<[Scenario]> = [
  // Two clients set one map key to a subdocument: the loser's subdocument is destroyed in a
  // second transaction, and the update must still be stored and relayed.
  [scenarioOf([{ kind: 'subdocuments', actor: 0, count: 1 }, { kind: 'subdocuments', actor: 1, count: 1 }])],
  // An embed 20 000 objects deep, which Yjs reads but cannot write again.
  [scenarioOf([{ kind: 'insert-text', actor: 0, at: 0, text: 'x' }, { kind: 'deep-embed', actor: 1, depth: defaultBounds.rawEmbedDepth }])],
  // One long item, then a delete set splitting it at every other character.
  [scenarioOf([{ kind: 'insert-text', actor: 0, at: 0, text: 'ab'.repeat(1_500) }, { kind: 'merge', actor: 1, from: 0 }, { kind: 'delete-every-other', actor: 1 }])],
  // Deletions for a client nobody has, and structs whose dependencies never arrive, past the pending budget.
  [scenarioOf([{ kind: 'unknown-client-deletes', actor: 0, ranges: defaultBounds.maxUnknownRanges }])],
  [scenarioOf([{ kind: 'orphans', actor: 0, updates: defaultBounds.maxOrphanUpdates, structsEach: 20 }])]
]

/** Prints how often each kind of step got each outcome, for the record. */
function report (seed: number, outcomes: Map<string, number>): void {
  const table = [...outcomes].sort(([a], [b]) => a.localeCompare(b)).map(([key, count]) => `${key}: ${count}`).join(', ')
  console.log(`structure fuzz seed ${seed}: ${table}`)
}

/** Steps that were taken ('answered') and refused, over all runs. */
function tally (outcomes: Map<string, number>, label?: RegExp): { answered: number, refused: number } {
  let answered = 0
  let refused = 0
  for (const [key, count] of outcomes) {
    if (label && !label.test(key)) continue
    if (key.endsWith(' answered')) answered += count
    else refused += count
  }
  return { answered, refused }
}

describe('the document lifecycle under generated Yjs structures', () => {
  it('policy any: accepted content encodes, compacts, unloads, reloads and closes; refused content closes only its sender', async () => {
    const seed = 20261201
    console.log(`structure fuzz (policy any) seed ${seed}`)
    const bench = await fuzzBench('any')
    await fc.assert(fc.asyncProperty(scenarioArbitrary(defaultBounds), bench.run), { seed, numRuns: 40, endOnFailure: true, examples: knownFailures })
    report(seed, bench.outcomes)
    const all = tally(bench.outcomes)
    expect(all.answered).toBeGreaterThan(0)
    expect(all.refused).toBeGreaterThan(0)
    expect(tally(bench.outcomes, /^insert-text /).answered).toBeGreaterThan(0)
    await bench.relay.close()
    expect(faults).toEqual([])
  }, 120_000)

  it('policy text: only plain text in the root text is accepted, and the lifecycle holds', async () => {
    const seed = 20261202
    console.log(`structure fuzz (policy text) seed ${seed}`)
    const bench = await fuzzBench('text')
    await fc.assert(fc.asyncProperty(scenarioArbitrary(defaultBounds), bench.run), { seed, numRuns: 30, endOnFailure: true, examples: knownFailures })
    report(seed, bench.outcomes)
    expect(tally(bench.outcomes, /^insert-text /).answered).toBeGreaterThan(0)
    expect(tally(bench.outcomes, /^(embed|format|map-set|array-insert|xml|nested-types|subdocuments|deep-embed|deep-any) /).answered).toBe(0)
    await bench.relay.close()
    expect(faults).toEqual([])
  }, 120_000)
})
