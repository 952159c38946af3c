/**
 * The rooms held in memory. Each room loads once however many connections
 * race for it, and leaves memory only after its last connection left, a
 * grace period passed, and its last write is durable.
 *
 * Room slots are a budget, not a queue: at `maxRooms`, or at the rooms one
 * address or token may have loaded, the room that has been empty longest is
 * unloaded to make room instead of refusing the newcomer. Only when every
 * loaded room (of that address or token) has people in it is a join refused.
 *
 * A room listens to its document on the cluster bus from before it loads
 * until it leaves memory: what other processes commit meanwhile is either
 * in what the load reads or arrives on the bus (the room tells the two apart
 * by sequence number). When the bus may have lost messages, every room
 * catches up from the store; when a process stops, its people leave every room.
 */
import { Room, RoomClosedError, type RoomConnection, type RoomOptions } from './room.js'
import type { DocStore } from '../storage/store.js'
import type { ClusterBus, ClusterMessage } from '../cluster/bus.js'
import { CloseCode } from '../protocol/errors.js'

/** Registry behaviour that comes from configuration; fields as in `Config`. */
export interface RegistryOptions extends RoomOptions {
  /** How long an empty room stays loaded, in case someone comes back. */
  readonly unloadGraceMs: number
  /** How long an empty room that no client changed stays loaded. */
  readonly unwrittenUnloadGraceMs: number
  /** Most rooms held in memory at once. */
  readonly maxRooms: number
  /** Most rooms loaded on behalf of one remote address. */
  readonly maxRoomsPerAddress: number
  /** Most rooms loaded on behalf of one access token. */
  readonly maxRoomsPerToken: number
  /** Called once a room's writes settled, before it unloads; must not reject. Defaults to nothing. */
  readonly beforeUnload?: (room: Room) => Promise<void>
}

/** On whose behalf a room is loaded: the first connection that asked for it. */
export interface RoomOpener {
  readonly address: string
  /** Identifies the access token; null when the server runs open. */
  readonly tokenId: string | null
}

/** Thrown by `join` when no room slot can be freed. */
export class RoomLimitError extends Error {
  override readonly name = 'RoomLimitError'
}

/** Thrown by `join` once the registry is closing. */
export class RegistryClosedError extends Error {
  override readonly name = 'RegistryClosedError'
}

/** How a room leaves memory: the close code its connections get, and whether its document is compacted first. */
interface Ending {
  readonly code: number
  readonly reason: string
  readonly compact: boolean
}

const shutdownEnding: Ending = { code: CloseCode.serviceRestart, reason: 'server shutting down', compact: true }
const deletedEnding: Ending = { code: CloseCode.documentDeleted, reason: 'document deleted', compact: false }

/** How often `replaceText` loads the document again when its room closed under it. */
const replaceTextAttempts = 3

/** Loads, shares and unloads rooms. One per relay; no state outside the instance. */
export class RoomRegistry {
  private readonly rooms = new Map<string, Room>()
  private readonly loading = new Map<string, Promise<Room>>()
  private readonly unloading = new Map<string, Promise<void>>()
  /** Empty rooms waiting to unload, longest empty first, with their timers. */
  private readonly idle = new Map<Room, NodeJS.Timeout>()
  /** Budget keys each loaded or loading room is counted against, by room name. */
  private readonly charges = new Map<string, readonly string[]>()
  /** Rooms loaded or loading per budget key. */
  private readonly loadedBy = new Map<string, number>()
  /** Bus messages for rooms still loading, delivered once they are loaded. */
  private readonly early = new Map<string, ClusterMessage[]>()
  private closed = false

  constructor (private readonly store: DocStore, private readonly bus: ClusterBus, private readonly options: RegistryOptions) {
    bus.onResync(() => { for (const room of this.rooms.values()) room.resync() })
    bus.onProcessGone((process) => { for (const room of this.rooms.values()) room.processGone(process) })
  }

  /** Rooms currently in memory. */
  get size (): number {
    return this.rooms.size
  }

  /** The loaded room of that name, if any. */
  get (name: string): Room | undefined {
    return this.rooms.get(name)
  }

  /**
   * Adds `connection` to the room `name`, loading the room first if needed
   * (counted against `opener`'s budgets). Rejects with
   * `CorruptDocumentError` when the stored document is damaged,
   * `RoomLimitError` when no room slot can be freed,
   * `RegistryClosedError` during shutdown, or the store's error.
   */
  async join (name: string, connection: RoomConnection, opener: RoomOpener): Promise<Room> {
    const room = await this.acquire(name, opener)
    const timer = this.idle.get(room)
    if (timer) {
      clearTimeout(timer)
      this.idle.delete(room)
    }
    room.join(connection)
    return room
  }

  /** Removes `connection` from `room`; an empty room unloads after its grace period. */
  leave (room: Room, connection: RoomConnection): void {
    room.leave(connection)
    this.unloadWhenIdle(room)
  }

  /**
   * Replaces the text of document `name` as `Room.replaceText` does,
   * loading it first as a connection would (counted against `opener`'s
   * budgets); a room loaded for this alone unloads after its grace period.
   * Resolves once the edit is durable, to whether the text changed. Rejects
   * as `join` does (`DeletedDocumentError` from the store for a deleted
   * document) and as `Room.replaceText`.
   */
  async replaceText (name: string, text: string, opener: RoomOpener): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const room = await this.acquire(name, opener)
      const timer = this.idle.get(room)
      if (timer) {
        clearTimeout(timer)
        this.idle.delete(room)
      }
      try {
        return await room.replaceText(text)
      } catch (err) {
        if (!(err instanceof RoomClosedError) || attempt >= replaceTextAttempts) throw err
      } finally {
        this.unloadWhenIdle(room)
      }
    }
  }

  /**
   * Closes every connection to document `name` with 4404 (document deleted)
   * and unloads it without compacting, after a load in progress; with
   * `tellOthers`, publishes the deletion so the other processes do the same.
   * Call once the store marked the document deleted, so a reconnect is
   * refused. Never rejects.
   */
  async closeDeleted (name: string, tellOthers: boolean): Promise<void> {
    if (tellOthers) this.bus.publish(name, { kind: 'deleted' })
    await this.loading.get(name)?.catch(() => {})
    const room = this.rooms.get(name)
    if (room) await this.unload(room, deletedEnding)
  }

  /** Starts the grace period of `room` if it is loaded, empty and not waiting already. */
  private unloadWhenIdle (room: Room): void {
    if (room.size > 0 || this.rooms.get(room.name) !== room || this.idle.has(room)) return
    const graceMs = room.written ? this.options.unloadGraceMs : this.options.unwrittenUnloadGraceMs
    const timer = setTimeout(() => {
      this.idle.delete(room)
      if (room.size === 0) void this.unload(room)
    }, graceMs)
    timer.unref()
    this.idle.set(room, timer)
  }

  /** Saves every room, closes every connection with 1012 (service restart) and empties the registry. Never rejects. */
  async close (): Promise<void> {
    this.closed = true
    for (const timer of this.idle.values()) clearTimeout(timer)
    this.idle.clear()
    await Promise.allSettled(this.loading.values())
    await Promise.all([...this.rooms.values()].map((room) => this.unload(room)))
    await Promise.all(this.unloading.values())
  }

  private async acquire (name: string, opener: RoomOpener): Promise<Room> {
    const keys = budgetKeys(opener)
    for (;;) {
      if (this.closed) throw new RegistryClosedError('the server is shutting down')
      const loaded = this.rooms.get(name)
      if (loaded) return loaded
      const loading = this.loading.get(name)
      if (loading) return await loading
      const unloading = this.unloading.get(name)
      if (unloading) {
        await unloading
        continue
      }
      // Free a slot, then look again: the room may have been loaded meanwhile.
      if (this.rooms.size + this.loading.size >= this.options.maxRooms) {
        if (!await this.evictIdle(() => true)) throw new RoomLimitError(`${this.options.maxRooms} documents are open; try again later`)
        continue
      }
      const full = keys.find((key) => (this.loadedBy.get(key) ?? 0) >= this.limitOf(key))
      if (full !== undefined) {
        if (!await this.evictIdle((room) => this.charges.get(room.name)?.includes(full) === true)) {
          throw new RoomLimitError(`${this.limitOf(full)} documents are open on behalf of your ${full.startsWith('t:') ? 'link' : 'address'}; close some and try again`)
        }
        continue
      }
      break
    }
    this.charge(name, keys)
    const load = this.load(name)
    this.loading.set(name, load)
    try {
      return await load
    } catch (err) {
      this.uncharge(name)
      throw err
    } finally {
      this.loading.delete(name)
    }
  }

  private async load (name: string): Promise<Room> {
    this.early.set(name, [])
    try {
      await this.bus.subscribe(name, (message) => this.fromCluster(name, message))
      const stored = await this.store.load(name)
      const room = new Room(name, this.store, stored, this.options, this.bus, (failed) => this.forget(failed))
      this.rooms.set(name, room)
      for (const message of this.early.get(name) ?? []) room.receiveFromCluster(message)
      return room
    } catch (err) {
      this.bus.unsubscribe(name)
      throw err
    } finally {
      this.early.delete(name)
    }
  }

  private fromCluster (name: string, message: ClusterMessage): void {
    if (message.kind === 'deleted') {
      void this.closeDeleted(name, false)
      return
    }
    const room = this.rooms.get(name)
    if (room) room.receiveFromCluster(message)
    else this.early.get(name)?.push(message)
  }

  /** Unloads the room empty longest among those `eligible` says; false when there is none. */
  private async evictIdle (eligible: (room: Room) => boolean): Promise<boolean> {
    for (const [room, timer] of this.idle) {
      if (!eligible(room)) continue
      clearTimeout(timer)
      this.idle.delete(room)
      this.options.logger.debug('room.evicted', { room: room.name })
      await this.unload(room)
      return true
    }
    return false
  }

  /** Takes the room out of the registry, stores what it holds, and frees it. Never rejects. */
  private async unload (room: Room, ending: Ending = shutdownEnding): Promise<void> {
    if (this.rooms.get(room.name) !== room) return
    this.rooms.delete(room.name)
    const done = (async () => {
      try {
        room.seal()
        if (ending.compact) await room.compact()
        await room.whenDurable()
        await this.options.beforeUnload?.(room)
        room.destroy(ending.code, ending.reason)
        // Before `unloading` forgets the room, so no new load of it can start in between.
        this.bus.unsubscribe(room.name)
        this.store.release(room.name)
      } catch (err) {
        this.options.logger.error('room.unload-failed', { room: room.name, error: err as Error })
      } finally {
        this.uncharge(room.name)
      }
    })()
    this.unloading.set(room.name, done)
    try {
      await done
    } finally {
      this.unloading.delete(room.name)
    }
  }

  /** Called by a room that failed: it has closed its connections and is no longer served. */
  private forget (room: Room): void {
    if (this.rooms.get(room.name) !== room) return
    this.rooms.delete(room.name)
    const timer = this.idle.get(room)
    if (timer) clearTimeout(timer)
    this.idle.delete(room)
    this.uncharge(room.name)
    this.bus.unsubscribe(room.name)
    // Forgetting more than needed is safe: a later compaction then removes less.
    void room.whenDurable().then(() => {
      if (!this.rooms.has(room.name) && !this.loading.has(room.name) && !this.unloading.has(room.name)) this.store.release(room.name)
    })
  }

  private limitOf (key: string): number {
    return key.startsWith('t:') ? this.options.maxRoomsPerToken : this.options.maxRoomsPerAddress
  }

  private charge (name: string, keys: readonly string[]): void {
    this.charges.set(name, keys)
    for (const key of keys) this.loadedBy.set(key, (this.loadedBy.get(key) ?? 0) + 1)
  }

  private uncharge (name: string): void {
    const keys = this.charges.get(name)
    if (!keys) return
    this.charges.delete(name)
    for (const key of keys) {
      const count = (this.loadedBy.get(key) ?? 1) - 1
      if (count <= 0) this.loadedBy.delete(key)
      else this.loadedBy.set(key, count)
    }
  }
}

/** The budgets a room loaded for `opener` counts against. */
function budgetKeys (opener: RoomOpener): string[] {
  return opener.tokenId === null ? [`a:${opener.address}`] : [`a:${opener.address}`, `t:${opener.tokenId}`]
}
