/**
 * The durability promise under `kill -9`: ten clients type at random places
 * into one document while the built server runs as a child process; at a
 * seeded moment it is killed with SIGKILL and started again on the same
 * data. Whatever any client received from the server before the kill —
 * updates, the state vector of its sync step 1, saved confirmations — must
 * be in the restarted document, checked per client id by clock and by
 * applying it all to a copy (which catches lost deletions too). Rounds use
 * consecutive seeds from `CRASH_SEED` (default below).
 */
import { expect, it } from 'vitest'
import * as Y from 'yjs'
import { fetchChildDocument, startChildRelay } from '../helpers/child-relay.js'
import { RawClient, highestClocks, missingFrom, type Clocks } from '../helpers/raw-client.js'
import { persistentBackends } from '../helpers/stores.js'
import { describeWithServices } from '../helpers/services.js'
import { seededRandom, type Random } from '../helpers/random.js'
import { onTeardown, waitFor } from '../helpers/relay.js'

const rounds = 10
const clientCount = 10
const baseSeed = Number(process.env.CRASH_SEED ?? 20261125)
/** Messages the clients receive in a round before the kill: drawn from [min, min + spread). */
const killAfterMessages = { min: 500, spread: 5_000 }
/** A round whose kill threshold is not reached in this time is killed anyway, and fails. */
const maxEditingMs = 15_000
/** Small, so kills land during compactions too. */
const compactAfterUpdates = 50
const room = 'crash-test'

/** Deletes 1–3 characters (three times in ten) or inserts a 1–4 letter word, at a random place. */
function edit (text: Y.Text, random: Random): void {
  if (text.length > 0 && random.next() < 0.3) {
    const at = random.int(text.length)
    text.delete(at, Math.min(1 + random.int(3), text.length - at))
  } else {
    text.insert(random.int(text.length + 1), random.word(1 + random.int(4)))
  }
}

/** Edits `client`'s text every 4–11 ms (about 125 edits a second, below the relay's rate limit) until stopped. */
function keepEditing (client: RawClient, random: Random): { stop: () => void, readonly edits: number } {
  let timer: NodeJS.Timeout
  let edits = 0
  const next = (): void => {
    timer = setTimeout(() => {
      edit(client.doc.getText('text'), random)
      edits++
      next()
    }, 4 + random.int(8))
  }
  next()
  return { stop: () => clearTimeout(timer), get edits () { return edits } }
}

/** The clock of `doc`'s own client id. */
function ownClock (doc: Y.Doc): number {
  return Y.decodeStateVector(Y.encodeStateVector(doc)).get(doc.clientID) ?? 0
}

interface RoundReport {
  readonly seed: number
  readonly killedAfterMessages: number
  readonly edits: number
  readonly savedConfirmations: number
  /** Characters clients typed that the restarted server lacks: in flight at the kill, so never confirmed to anyone. */
  readonly unconfirmedLost: number
  readonly textLength: number
}

for (const backend of persistentBackends) {
  await describeWithServices(backend.services, `kill -9 with ${backend.name}`, () => {
    it(`loses nothing any client received, over ${rounds} kills`, async () => {
      const storage = await backend.create()
      // SQLite alternates between the default and an fsync per commit: the slower
      // commit widens the window in which a relay that sent too early would be caught.
      const variants = backend.name === 'sqlite' ? [['--sqlite-sync', 'normal'], ['--sqlite-sync', 'full']] : [[]]
      const argsFor = (round: number): string[] =>
        [...storage.cliArgs, '--compact-after-updates', String(compactAfterUpdates), ...variants[round % variants.length]]
      const clients = Array.from({ length: clientCount }, () => new RawClient())
      onTeardown(() => { for (const client of clients) client.destroy() })
      let received: Uint8Array = new Uint8Array([0, 0]) // every update any client received, merged
      const claimed: Clocks = new Map() // the highest clocks the server said it held
      const reports: RoundReport[] = []
      let relay = await startChildRelay(argsFor(0))

      for (let round = 0; round < rounds; round++) {
        const seed = baseSeed + round
        const random = seededRandom(seed)
        // Half the clients ask for saved confirmations.
        await Promise.all(clients.map((client, i) => client.connect(relay.url, room, i % 2 === 0)))
        const killAfter = killAfterMessages.min + random.int(killAfterMessages.spread)
        let messages = 0
        let kill: Promise<void> | null = null
        const killed = new Promise<void>((resolve) => {
          const onMessage = (): void => {
            if (++messages >= killAfter && !kill) {
              kill = relay.kill() // SIGKILL now, in the middle of the traffic
              resolve()
            }
          }
          for (const client of clients) client.onMessage = onMessage
        })
        const editors = clients.map((client, i) => keepEditing(client, seededRandom(seed * 1000 + i)))
        let bound: NodeJS.Timeout | undefined
        await Promise.race([killed, new Promise((resolve) => { bound = setTimeout(resolve, maxEditingMs) })])
        clearTimeout(bound)
        // Relaying must not have stopped, nor the server died on its own.
        const stalled = kill === null ? `stalled at ${messages} messages; server ${relay.running ? 'running' : 'exited'}` : null
        const died = relay.running ? null : relay.log.slice(-20).join('\n')
        await (kill ?? relay.kill())
        for (const editor of editors) editor.stop()
        await waitFor(() => clients.every((client) => !client.connected), 5_000, 'clients to notice the kill')

        relay = await startChildRelay(argsFor(round + 1))
        const restarted = await fetchChildDocument(relay, room)
        const roundUpdates: Uint8Array[] = []
        let savedConfirmations = 0
        for (const client of clients) {
          const revealed = client.takeRevealed()
          roundUpdates.push(...revealed.updates)
          highestClocks(revealed.stateVectors, claimed)
          savedConfirmations += revealed.savedCount
        }
        received = Y.mergeUpdates([received, ...roundUpdates])
        const held = Y.decodeStateVector(Y.encodeStateVector(restarted))
        reports.push({
          seed,
          killedAfterMessages: messages,
          edits: editors.reduce((sum, editor) => sum + editor.edits, 0),
          savedConfirmations,
          unconfirmedLost: clients.reduce((sum, client) => sum + ownClock(client.doc) - (held.get(client.doc.clientID) ?? 0), 0),
          textLength: restarted.getText('text').length
        })
        const context = `round ${round} (seed ${seed}): ${JSON.stringify(reports.at(-1))}`
        expect(missingFrom(restarted, received, claimed), context).toEqual([])
        expect({ stalled, closeCodes: clients.map((client) => client.closeCodes.filter((code) => code !== 1006)) }, `${context}\n${died ?? ''}`)
          .toEqual({ stalled: null, closeCodes: clients.map(() => []) })
        restarted.destroy()
      }

      // Afterwards everyone reconnects, re-sends what the kills cost them, and converges;
      // a clean stop and start keeps exactly that document.
      await Promise.all(clients.map((client) => client.connect(relay.url, room)))
      const expected = (): string => clients[0].doc.getText('text').toString()
      await waitFor(() => clients.every((client) => client.doc.getText('text').toString() === expected() &&
        Buffer.from(Y.encodeStateVector(client.doc)).equals(Buffer.from(Y.encodeStateVector(clients[0].doc)))), 20_000, 'convergence')
      expect(await relay.stop()).toBe(0)
      relay = await startChildRelay(argsFor(0))
      const final = await fetchChildDocument(relay, room)
      expect(final.getText('text').toString()).toBe(expected())
      expect(Buffer.from(Y.encodeStateVector(final)).equals(Buffer.from(Y.encodeStateVector(clients[0].doc)))).toBe(true)
      expect(await relay.stop()).toBe(0)

      console.log(`kill -9 with ${backend.name}: ${rounds} rounds, nothing lost\n` + reports.map((r, i) =>
        `  round ${i} seed ${r.seed}: killed after ${r.killedAfterMessages} messages, ${r.edits} edits, ` +
        `${r.savedConfirmations} saved confirmations, ${r.unconfirmedLost} unconfirmed characters lost in flight, text ${r.textLength} chars`).join('\n'))
      expect(reports.reduce((sum, r) => sum + r.edits, 0)).toBeGreaterThan(rounds * 100)
    }, 120_000)
  })
}
